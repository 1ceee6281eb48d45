// feeder.h - one training/evaluation sample's transform, as CTR-GCN's
// Feeder.__getitem__ (feeders/feeder_ntu.py + feeders/tools.py) does it:
//
//   valid = frames whose sum over C, V, M is non-zero
//   crop  : n_interval 1 (test):  bias = int((1 - p) * valid / 2),
//                                 frames [bias, valid - bias)
//           n_interval 2 (train): p ~ U[p0, p1],
//                                 len = min(max(floor(valid * p), 64), valid),
//                                 bias ~ U{0 .. valid - len}
//   resize: to `window` frames as F.interpolate(mode='bilinear',
//           align_corners=False) on the (C*V*M, len) image
//   rot   : (random_rot) angles U[-theta, theta] about x, y, z;
//           R = Rz * Ry * Rx as tools._rot builds it; x' = R x per joint
//   bone  : bone[v] = joint[v] - joint[parent(v)] (NTU: bone_pairs.ntu_pairs;
//           OpenPose 18: the data-conventions edges, centre joint 1 -> 0)
//   vel   : x[t] = x[t+1] - x[t], last frame 0
//
// Randomness comes from a counter-based generator keyed by (seed, epoch,
// sample index) and nothing else (not the rank), so any rank transforming
// sample i in epoch e gets the same numbers. Bit-equality with torch's RNG is
// not a goal; the deterministic parts (crop, resize, bone, vel) match the
// official code to within 1 ulp.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "skeleton.h"
#include "stream.h"

// ---------------------------------------------------------------------------
// Counter-based RNG (splitmix64 over a key and a counter).

typedef struct FeederRng {
    uint64_t key;       // hash of (seed, epoch, index)
    uint64_t counter;   // draws so far
} FeederRng;

FeederRng feeder_rng(uint64_t seed, int epoch, int64_t index);
uint64_t feeder_rng_u64(FeederRng *r);
double feeder_rng_double(FeederRng *r);   // uniform in [0, 1), 53 bits
float feeder_rng_float(FeederRng *r);     // uniform in [0, 1), 24 bits
// Uniform integer in [0, n) (n >= 1).
int64_t feeder_rng_below(FeederRng *r, int64_t n);

// ---------------------------------------------------------------------------
// Transform.

#define FEEDER_MIN_CROP 64   // the official lower bound on a train crop

typedef struct FeederConfig {
    int window;            // output frames (official: 64)
    double p_interval[2];  // double, as Python computes the crop with it
    int n_interval;        // 1: centre crop (test), 2: random crop (train)
    int random_rot;        // rotate (official: train only)
    float rot_theta;       // radians (official: 0.3)
    const Stream *stream;  // the input stream (stream.h): its steps (bone, vel) after the
                           // crop, resize and rotation; NULL: joint
    const SkelLayout *layout;   // chooses the bone pairs (skeleton.h)
    // Raw-sequence layouts (SkelLayout.seq_transform; NW-UCLA): 1 the
    // official training path's draws, 0 its test path. Padded samples go by
    // n_interval and random_rot instead.
    int train;
    int repeat;            // the loader's epoch visits each sample repeat times (0 or 1: once)
} FeederConfig;

// The official CTR-GCN configs: train p [0.5, 1], random_rot, theta 0.3;
// test p [0.95], no rotation; window: the layout's (64; NW-UCLA 52); repeat 1;
// stream NULL: joint.
FeederConfig feeder_config_official(const SkelLayout *layout, int train, const Stream *stream);
// CD_OK, or CD_EARG with the reason in why.
int feeder_config_check(const FeederConfig *f, int C, int V, char *why, size_t whylen);

// Frames of x (C, T, V, M) whose sum over C, V, M is non-zero (as the
// official np.sum(x.sum(0).sum(-1).sum(-1) != 0): counted, not the extent).
// The crop ends at this count as valid_crop_resize's does, so on a Kinetics
// clip with empty frames in between it leaves out the clip's last frames,
// like the official code (README "Frame counts are not lengths").
int feeder_valid_frames(const float *x, int C, int T, int V, int M);

// The crop of a sample with `valid` frames: [*bias, *bias + *len). Draws p and
// bias from r when n_interval is 2 (two draws, always in this order).
void feeder_crop(const FeederConfig *f, int valid, FeederRng *r, int *bias, int *len);

// Resizes frames [t0, t0 + len) of x (C, T, V, M) to out (C, window, V, M)
// along time, as torch's upsample_bilinear2d (align_corners=False, CPU, float).
void feeder_resize(float *out, const float *x, int C, int T, int V, int M, int t0, int len,
                   int window);

// out: (C, window, V, M); x: (C, T, V, M) (the stored sample, T = SKEL_T).
// A sample without valid frames gives zeros (the official code would fail).
// Returns CD_OK, or CD_EARG for a config that does not fit (C, V).
int feeder_transform(const FeederConfig *f, float *out, const float *x, int C, int T, int V,
                     int M, uint64_t seed, int epoch, int64_t index);

// The rotation tools._rot builds from angles (x, y, z): R = Rz * Ry * Rx,
// row-major (3, 3), float as torch computes it.
void feeder_rot_matrix(float R[9], const float angles[3]);
