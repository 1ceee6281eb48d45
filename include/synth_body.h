// synth_body.h - the kinematic body of cocodiff-synth: a small seeded RNG,
// a 25-joint Kinect v2 body driven by joint rotations (forward kinematics
// over the NTU bone tree), per-performer proportions and habits, and the
// NTU-like camera rig (3 Kinect views per setup) with its pinhole projection.
//
// Frames: body-local coordinates are x = the body's right, y = up,
// z = the body's back (a body faces -z). World = floor at y = 0, the main
// performer stands near the origin; camera coordinates follow Kinect
// (x grows to the sensor's left, i.e. a facing person's right, y up, z depth).
#pragma once
#include <stdint.h>

// ---------------------------------------------------------------- RNG
// xoshiro256** seeded through splitmix64; Box-Muller normals. No globals.
typedef struct SynthRng {
    uint64_t s[4];
    int has_spare;
    double spare;
} SynthRng;

uint64_t synth_mix64(uint64_t a, uint64_t b);   // hash of two words (splitmix64 finaliser)
void synth_rng_seed(SynthRng *r, uint64_t seed);
uint64_t synth_rng_u64(SynthRng *r);
double synth_rng_uniform(SynthRng *r);            // [0, 1)
double synth_rng_range(SynthRng *r, double lo, double hi);
double synth_rng_normal(SynthRng *r);             // N(0, 1)
int synth_rng_int(SynthRng *r, int lo, int hi);   // uniform in [lo, hi]

// ---------------------------------------------------------------- pose channels
// A pose is SYNTH_NCH scalars: metres for the root translation, degrees for
// every rotation. Body parts group consecutive channels (see synth_actions.h).
enum {
    SYNTH_CH_ROOT = 0,        // dx, dy, dz (metres, body frame), yaw (deg)
    SYNTH_CH_SPINE = 4,       // flex (forward), twist (to the left), side (to the right)
    SYNTH_CH_HEAD = 7,        // flex (nod down), yaw (turn left), tilt (to the right)
    SYNTH_CH_ARM_L = 10,      // shoulder flex (raise forward), abduction (raise sideways),
    SYNTH_CH_ARM_R = 14,      //   internal rotation, elbow flex
    SYNTH_CH_HAND_L = 18,     // wrist flex, wrist deviation, grip
    SYNTH_CH_HAND_R = 21,
    SYNTH_CH_LEG_L = 24,      // hip flex (thigh forward), hip abduction, knee flex
    SYNTH_CH_LEG_R = 27,
    SYNTH_CH_FOOT_L = 30,     // ankle flex (toes up)
    SYNTH_CH_FOOT_R = 31,
    SYNTH_NCH = 32,
};

#define SYNTH_J 25   // Kinect joints, 0-based here (joint k of the files = index k-1)

// 0-based parent of each joint (-1 for SpineBase), the NTU tree.
extern const int synth_parent[SYNTH_J];

// ---------------------------------------------------------------- performer
typedef struct SynthPerformer {
    int id;
    double scale;            // overall size (1 = 1.75 m tall)
    double bone[SYNTH_J];    // per-bone length factor (about 1)
    double speed;            // tempo habit (> 1 = faster)
    double amp;              // amplitude habit (scales key poses)
    double posture[SYNTH_NCH]; // personal rest-pose offsets
    double sway;             // idle sway amplitude (metres)
    int left_handed;         // mirrors the arms of one-handed actions
} SynthPerformer;

// Deterministic from (seed, performer id).
void synth_performer_init(SynthPerformer *p, uint64_t seed, int id);

// A placed body: where its root stands on the floor and where it faces.
typedef struct SynthPlacement {
    double x, z;     // floor position, metres (world)
    double yaw;      // degrees; 0 faces -z (towards camera 1)
} SynthPlacement;

// Forward kinematics. ch: (SYNTH_NCH) pose. pos: (25, 3) world metres;
// rot: (25, 3, 3) world rotation of the bone ending at each joint
// (row-major), used for the Kinect orientations and the face points.
void synth_body_fk(const SynthPerformer *p, const SynthPlacement *pl, const double *ch,
                   double pos[SYNTH_J][3], double rot[SYNTH_J][3][3]);

// OpenPose face points from the head: nose, right eye, left eye, right ear,
// left ear. face: (5, 3) world metres.
void synth_body_face(const double pos[SYNTH_J][3], const double rot[SYNTH_J][3][3],
                     double scale, double face[5][3]);

// ---------------------------------------------------------------- camera
typedef struct SynthCamera {
    double c[3];       // position, world metres
    double R[3][3];    // rows: camera x, y, z axes in world coordinates
} SynthCamera;

// Looks from `pos` at `target`, y up.
void synth_camera_look(SynthCamera *cam, const double pos[3], const double target[3]);
// The NTU rig: setup (1..32) fixes height and distance, camera 1 is in front,
// 2 and 3 at +45 and -45 degrees (deterministic from seed and setup).
void synth_camera_ntu(SynthCamera *cam, uint64_t seed, int setup, int camera);
// World point -> camera coordinates (metres).
void synth_camera_apply(const SynthCamera *cam, const double w[3], double out[3]);
// World rotation -> camera-frame quaternion (w, x, y, z), w >= 0.
void synth_camera_quat(const SynthCamera *cam, const double rot[3][3], double q[4]);
// Kinect v2 pinhole models fitted on real files: depth image 512x424,
// colour image 1920x1080. p: camera coordinates, p[2] > 0.
void synth_project_depth(const double p[3], double *u, double *v);
void synth_project_color(const double p[3], double *u, double *v);
