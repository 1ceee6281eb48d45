// synth_actions.h - action classes of cocodiff-synth as data
// (datasets/synth/actions.json, format in datasets/synth/README.md) and the
// per-sample motion they drive: keyframes over normalised time for each body
// part, warped by the performer's habits and the sample's own randomness.
#pragma once
#include <stdint.h>

#include "synth_body.h"

enum {
    SYNTH_PART_ROOT, SYNTH_PART_SPINE, SYNTH_PART_HEAD, SYNTH_PART_ARM_L, SYNTH_PART_ARM_R,
    SYNTH_PART_HAND_L, SYNTH_PART_HAND_R, SYNTH_PART_LEG_L, SYNTH_PART_LEG_R,
    SYNTH_PART_FOOT_L, SYNTH_PART_FOOT_R, SYNTH_NPARTS,
};

// Keyframes of one body part: nkeys rows of (t, v[0..nch-1]), t ascending in
// [0, 1]; with repeat > 1 the keys describe one cycle played repeat times.
typedef struct SynthKeys {
    int nkeys, repeat;
    double *tv;   // (nkeys, 1 + nch)
} SynthKeys;

typedef struct SynthAction {
    int id;               // NTU action number (1-based)
    char name[96];
    int persons;          // 1 or 2
    double duration;      // typical duration, seconds at 30 fps
    double distance;      // two-person: distance between the actors, metres
    SynthKeys keys[2][SYNTH_NPARTS];   // [person][part]; nkeys 0 = rest pose
} SynthAction;

typedef struct SynthActions {
    int n;
    SynthAction *a;
} SynthActions;

// Name, first channel and channel count of a part (NULL name if out of range).
const char *synth_part_name(int part, int *ch0, int *nch);
// The rest pose (SYNTH_NCH channels) that unspecified parts keep.
void synth_rest_pose(double ch[SYNTH_NCH]);

// Loads and validates the class file. CD_OK, CD_EIO or CD_EFORMAT (with a
// CD_ERR message naming the file and the class).
int synth_actions_load(const char *path, SynthActions *out);
void synth_actions_free(SynthActions *as);

// Key pose of `person` at normalised time t (absolute channel values).
void synth_action_eval(const SynthAction *a, int person, double t, double ch[SYNTH_NCH]);

// ---------------------------------------------------------------- motion
// One sample's performance: who, where, how fast and how wide.
typedef struct SynthMotion {
    const SynthAction *action;
    const SynthPerformer *perf[2];
    SynthPlacement place[2];
    int frames;
    double t0, t1;           // the action runs over [t0, t1] of the clip
    double gamma;            // time warp exponent
    double amp[2];           // amplitude factor per person
    double offs[2][SYNTH_NCH]; // per-sample posture noise (deg / m)
    double sway_phase[2], sway_freq;
    int mirror[2];           // swap left and right arm/hand (left-handed)
} SynthMotion;

// Draws a motion: the length from the class duration and performer speed,
// clamped to [min_frames, max_frames]; facing (degrees) turns the main actor.
// p1 may be NULL for one-person classes.
void synth_motion_init(SynthMotion *m, const SynthAction *a, const SynthPerformer *p0,
                       const SynthPerformer *p1, double facing, int min_frames, int max_frames,
                       SynthRng *r);
// Pose channels of `person` at clip frame f.
void synth_motion_pose(const SynthMotion *m, int person, int f, double ch[SYNTH_NCH]);
