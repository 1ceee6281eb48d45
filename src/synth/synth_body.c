// synth_body.c - RNG, 25-joint kinematic body, performers and the NTU camera
// rig of cocodiff-synth (see synth_body.h for the coordinate frames).
//
// The skeleton is the NTU bone tree rooted at SpineBase (the undirected tree
// of docs/data-conventions.md, walked from the pelvis). Each joint but the root
// owns the rotation of the bone that ends at it: pos[j] = pos[p] +
// G[p] R[j] off[j] and G[j] = G[p] R[j], so bending the elbow (the bone
// ending at the wrist) moves the forearm and everything below it.
#include "synth_body.h"

#include <math.h>
#include <string.h>

#define DEG (M_PI / 180.0)

// ---------------------------------------------------------------- RNG

uint64_t synth_mix64(uint64_t a, uint64_t b) {
    uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void synth_rng_seed(SynthRng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        r->s[i] = z ^ (z >> 31);
    }
    r->has_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t synth_rng_u64(SynthRng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double synth_rng_uniform(SynthRng *r) { return (double)(synth_rng_u64(r) >> 11) * 0x1.0p-53; }

double synth_rng_range(SynthRng *r, double lo, double hi) {
    return lo + (hi - lo) * synth_rng_uniform(r);
}

double synth_rng_normal(SynthRng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = synth_rng_uniform(r), v = synth_rng_uniform(r);
    double m = sqrt(-2.0 * log(1.0 - u)), a = 2.0 * M_PI * v;
    r->spare = m * sin(a);
    r->has_spare = 1;
    return m * cos(a);
}

int synth_rng_int(SynthRng *r, int lo, int hi) {
    if (hi <= lo) return lo;
    return lo + (int)(synth_rng_u64(r) % (uint64_t)(hi - lo + 1));
}

// ---------------------------------------------------------------- skeleton

const int synth_parent[SYNTH_J] = {
    -1, 0, 20, 2,          // SpineBase, SpineMid, Neck, Head
    20, 4, 5, 6,           // left arm: Shoulder, Elbow, Wrist, Hand
    20, 8, 9, 10,          // right arm
    0, 12, 13, 14,         // left leg: Hip, Knee, Ankle, Foot
    0, 16, 17, 18,         // right leg
    1,                     // SpineShoulder
    22, 7, 24, 11,         // HandTipLeft, ThumbLeft, HandTipRight, ThumbRight
};

// Parents before children.
static const int fk_order[SYNTH_J] = {0, 1, 20, 2, 3, 4, 5, 6, 7, 22, 21, 8, 9,
                                      10, 11, 24, 23, 12, 13, 14, 15, 16, 17, 18, 19};

// Rest offset of each joint from its parent, body frame, metres (1.75 m body).
static const double rest_off[SYNTH_J][3] = {
    {0, 0, 0},          {0, 0.28, 0.01},     {0, 0.07, 0.0},      {0, 0.13, -0.01},
    {-0.17, -0.05, 0.02}, {0, -0.27, 0},     {0, -0.25, 0},       {0, -0.06, 0},
    {0.17, -0.05, 0.02}, {0, -0.27, 0},      {0, -0.25, 0},       {0, -0.06, 0},
    {-0.08, -0.06, 0.01}, {0, -0.41, 0},     {0, -0.40, 0.02},    {0, -0.05, -0.11},
    {0.08, -0.06, 0.01}, {0, -0.41, 0},      {0, -0.40, 0.02},    {0, -0.05, -0.11},
    {0, 0.25, -0.01},   {-0.03, -0.06, 0.03}, {0.03, -0.03, -0.03}, {0.03, -0.06, 0.03},
    {-0.03, -0.03, -0.03},
};
#define PELVIS_H 0.92   // rest height of SpineBase above the floor

static void mat_id(double m[3][3]) {
    memset(m, 0, 9 * sizeof(double));
    m[0][0] = m[1][1] = m[2][2] = 1.0;
}
static void mat_mul(const double a[3][3], const double b[3][3], double o[3][3]) {
    double t[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) t[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(o, t, sizeof t);
}
static void mat_vec(const double m[3][3], const double v[3], double o[3]) {
    double t[3];
    for (int i = 0; i < 3; i++) t[i] = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2];
    memcpy(o, t, sizeof t);
}
// Rotation by deg degrees about axis 0 (x), 1 (y) or 2 (z), right-handed.
static void mat_rot(int axis, double deg, double m[3][3]) {
    double c = cos(deg * DEG), s = sin(deg * DEG);
    mat_id(m);
    int a = (axis + 1) % 3, b = (axis + 2) % 3;
    m[a][a] = c;
    m[a][b] = -s;
    m[b][a] = s;
    m[b][b] = c;
}
// m = m * R_axis(deg)
static void mat_apply(double m[3][3], int axis, double deg) {
    if (deg == 0.0) return;
    double r[3][3];
    mat_rot(axis, deg, r);
    mat_mul(m, r, m);
}

// Local rotation of the bone ending at joint j for pose ch.
static void bone_rot(int j, const double *ch, double m[3][3]) {
    mat_id(m);
    const double *sp = ch + SYNTH_CH_SPINE, *hd = ch + SYNTH_CH_HEAD;
    switch (j) {
    case 1: case 20:   // lower and upper spine share the bend
        mat_apply(m, 1, 0.5 * sp[1]);
        mat_apply(m, 0, -0.5 * sp[0]);
        mat_apply(m, 2, -0.5 * sp[2]);
        break;
    case 2: case 3:    // neck and head share the head's rotation
        mat_apply(m, 1, 0.5 * hd[1]);
        mat_apply(m, 0, -0.5 * hd[0]);
        mat_apply(m, 2, -0.5 * hd[2]);
        break;
    case 5: case 9: {  // upper arms
        const double *a = ch + (j == 5 ? SYNTH_CH_ARM_L : SYNTH_CH_ARM_R);
        double side = j == 5 ? -1.0 : 1.0;
        mat_apply(m, 2, side * a[1]);
        mat_apply(m, 0, a[0]);
        mat_apply(m, 1, side * a[2]);
        break;
    }
    case 6: case 10:   // forearms: elbow flex
        mat_apply(m, 0, ch[(j == 6 ? SYNTH_CH_ARM_L : SYNTH_CH_ARM_R) + 3]);
        break;
    case 7: case 11: { // hands: wrist
        const double *h = ch + (j == 7 ? SYNTH_CH_HAND_L : SYNTH_CH_HAND_R);
        mat_apply(m, 0, h[0]);
        mat_apply(m, 2, (j == 7 ? -1.0 : 1.0) * h[1]);
        break;
    }
    case 22: case 24:  // thumbs and (below) hand tips: grip
        mat_apply(m, 0, 0.5 * ch[(j == 22 ? SYNTH_CH_HAND_L : SYNTH_CH_HAND_R) + 2]);
        break;
    case 21: case 23:
        mat_apply(m, 0, ch[(j == 21 ? SYNTH_CH_HAND_L : SYNTH_CH_HAND_R) + 2]);
        break;
    case 13: case 17: { // thighs
        const double *l = ch + (j == 13 ? SYNTH_CH_LEG_L : SYNTH_CH_LEG_R);
        mat_apply(m, 2, (j == 13 ? -1.0 : 1.0) * l[1]);
        mat_apply(m, 0, l[0]);
        break;
    }
    case 14: case 18:  // shins: knee flex bends backwards
        mat_apply(m, 0, -ch[(j == 14 ? SYNTH_CH_LEG_L : SYNTH_CH_LEG_R) + 2]);
        break;
    case 15: case 19:  // feet
        mat_apply(m, 0, ch[j == 15 ? SYNTH_CH_FOOT_L : SYNTH_CH_FOOT_R]);
        break;
    default: break;
    }
}

void synth_body_fk(const SynthPerformer *p, const SynthPlacement *pl, const double *ch,
                   double pos[SYNTH_J][3], double rot[SYNTH_J][3][3]) {
    double yaw[3][3];
    mat_rot(1, pl->yaw + ch[SYNTH_CH_ROOT + 3], yaw);
    double d[3] = {ch[0], ch[1], ch[2]}, dw[3];
    mat_vec(yaw, d, dw);
    pos[0][0] = pl->x + dw[0];
    pos[0][1] = PELVIS_H * p->scale + dw[1];
    pos[0][2] = pl->z + dw[2];
    memcpy(rot[0], yaw, sizeof yaw);
    for (int k = 1; k < SYNTH_J; k++) {
        int j = fk_order[k], par = synth_parent[j];
        double r[3][3], off[3], o[3];
        bone_rot(j, ch, r);
        mat_mul(rot[par], r, rot[j]);
        double len = p->scale * p->bone[j];
        for (int i = 0; i < 3; i++) off[i] = rest_off[j][i] * len;
        mat_vec(rot[j], off, o);
        for (int i = 0; i < 3; i++) pos[j][i] = pos[par][i] + o[i];
    }
}

void synth_body_face(const double pos[SYNTH_J][3], const double rot[SYNTH_J][3][3],
                     double scale, double face[5][3]) {
    static const double off[5][3] = {
        {0, -0.01, -0.10}, {0.033, 0.025, -0.085}, {-0.033, 0.025, -0.085},
        {0.075, 0.0, 0.0}, {-0.075, 0.0, 0.0},
    };
    for (int f = 0; f < 5; f++) {
        double o[3] = {off[f][0] * scale, off[f][1] * scale, off[f][2] * scale}, w[3];
        mat_vec(rot[3], o, w);
        for (int i = 0; i < 3; i++) face[f][i] = pos[3][i] + w[i];
    }
}

// ---------------------------------------------------------------- performer

void synth_performer_init(SynthPerformer *p, uint64_t seed, int id) {
    SynthRng r;
    synth_rng_seed(&r, synth_mix64(seed ^ 0x5EEDBEEFull, (uint64_t)id));
    memset(p, 0, sizeof *p);
    p->id = id;
    double h = 1.70 + 0.08 * synth_rng_normal(&r);
    if (h < 1.50) h = 1.50;
    if (h > 1.95) h = 1.95;
    p->scale = h / 1.75;
    for (int j = 0; j < SYNTH_J; j++) p->bone[j] = 1.0 + 0.03 * synth_rng_normal(&r);
    // Left and right bones of a person match closely.
    for (int j = 8; j < 12; j++) p->bone[j] = p->bone[j - 4];
    for (int j = 16; j < 20; j++) p->bone[j] = p->bone[j - 4];
    p->speed = exp(0.15 * synth_rng_normal(&r));
    p->amp = synth_rng_range(&r, 0.85, 1.15);
    p->posture[SYNTH_CH_SPINE + 0] = 3.0 * synth_rng_normal(&r);
    p->posture[SYNTH_CH_HEAD + 0] = 4.0 * synth_rng_normal(&r);
    p->posture[SYNTH_CH_HEAD + 2] = 2.0 * synth_rng_normal(&r);
    double abd = 3.0 * synth_rng_normal(&r), elb = 4.0 * synth_rng_normal(&r);
    p->posture[SYNTH_CH_ARM_L + 1] = abd;
    p->posture[SYNTH_CH_ARM_R + 1] = abd;
    p->posture[SYNTH_CH_ARM_L + 3] = elb;
    p->posture[SYNTH_CH_ARM_R + 3] = elb;
    p->posture[SYNTH_CH_LEG_L + 1] = p->posture[SYNTH_CH_LEG_R + 1] = 2.0 * synth_rng_normal(&r);
    p->sway = synth_rng_range(&r, 0.003, 0.012);
    p->left_handed = synth_rng_uniform(&r) < 0.12;
}

// ---------------------------------------------------------------- camera

void synth_camera_look(SynthCamera *cam, const double pos[3], const double target[3]) {
    double z[3] = {target[0] - pos[0], target[1] - pos[1], target[2] - pos[2]};
    double n = sqrt(z[0] * z[0] + z[1] * z[1] + z[2] * z[2]);
    for (int i = 0; i < 3; i++) z[i] /= n;
    // x = up x z, y = z x x (Kinect: x to the sensor's left, y up, z depth)
    double x[3] = {z[2], 0.0, -z[0]};
    n = sqrt(x[0] * x[0] + x[2] * x[2]);
    x[0] /= n;
    x[2] /= n;
    double y[3] = {z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]};
    memcpy(cam->c, pos, 3 * sizeof(double));
    memcpy(cam->R[0], x, sizeof x);
    memcpy(cam->R[1], y, sizeof y);
    memcpy(cam->R[2], z, sizeof z);
}

void synth_camera_ntu(SynthCamera *cam, uint64_t seed, int setup, int camera) {
    SynthRng r;
    synth_rng_seed(&r, synth_mix64(seed ^ 0xCA3E5E7Bull, (uint64_t)setup));
    double h = synth_rng_range(&r, 0.75, 1.45);     // camera height
    double d = synth_rng_range(&r, 2.5, 3.9);       // distance to the performer
    double aim = synth_rng_range(&r, 0.55, 0.95);   // height the rig looks at
    double az = (camera == 2 ? 45.0 : camera == 3 ? -45.0 : 0.0) + synth_rng_range(&r, -4, 4);
    double pos[3] = {d * sin(az * DEG), h, -d * cos(az * DEG)};
    double tgt[3] = {0.0, aim, 0.0};
    synth_camera_look(cam, pos, tgt);
}

void synth_camera_apply(const SynthCamera *cam, const double w[3], double out[3]) {
    double d[3] = {w[0] - cam->c[0], w[1] - cam->c[1], w[2] - cam->c[2]};
    mat_vec(cam->R, d, out);
}

void synth_camera_quat(const SynthCamera *cam, const double rot[3][3], double q[4]) {
    double m[3][3];
    mat_mul(cam->R, rot, m);
    double tr = m[0][0] + m[1][1] + m[2][2], w, x, y, z;
    if (tr > 0) {
        double s = sqrt(tr + 1.0) * 2;
        w = 0.25 * s;
        x = (m[2][1] - m[1][2]) / s;
        y = (m[0][2] - m[2][0]) / s;
        z = (m[1][0] - m[0][1]) / s;
    } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
        double s = sqrt(1.0 + m[0][0] - m[1][1] - m[2][2]) * 2;
        w = (m[2][1] - m[1][2]) / s;
        x = 0.25 * s;
        y = (m[0][1] + m[1][0]) / s;
        z = (m[0][2] + m[2][0]) / s;
    } else if (m[1][1] > m[2][2]) {
        double s = sqrt(1.0 + m[1][1] - m[0][0] - m[2][2]) * 2;
        w = (m[0][2] - m[2][0]) / s;
        x = (m[0][1] + m[1][0]) / s;
        y = 0.25 * s;
        z = (m[1][2] + m[2][1]) / s;
    } else {
        double s = sqrt(1.0 + m[2][2] - m[0][0] - m[1][1]) * 2;
        w = (m[1][0] - m[0][1]) / s;
        x = (m[0][2] + m[2][0]) / s;
        y = (m[1][2] + m[2][1]) / s;
        z = 0.25 * s;
    }
    double sg = w < 0 ? -1.0 : 1.0;
    q[0] = sg * w;
    q[1] = sg * x;
    q[2] = sg * y;
    q[3] = sg * z;
}

void synth_project_depth(const double p[3], double *u, double *v) {
    *u = 256.3 + 367.0 * p[0] / p[2];
    *v = 208.5 - 367.0 * p[1] / p[2];
}

void synth_project_color(const double p[3], double *u, double *v) {
    *u = 976.4 + 1050.0 * (p[0] + 0.002) / p[2];
    *v = 567.3 - 1056.0 * p[1] / p[2];
}
