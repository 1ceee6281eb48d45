// feeder_ucla.h - one NW-UCLA sample's transform, as CTR-GCN's
// feeders/feeder_ucla.py Feeder.__getitem__ does it, over a raw sequence
// seq (T, 20, 3) in float64 (ucla_parse):
//
//   centre : value - value[0, 1, :]                  (joint 2 of frame 0)
//   view   : X @ (Ry @ (Rx @ S)) per point (rand_view_transform), angles in
//            degrees (math.radians), S = diag(s)
//   scale  : per axis over all T*20 points: (x - min) / (max - min) * 2 - 1
//   frames : W indices into [0, T): idx[]
//   bone   : bone[v] = x[v] - x[partner(v)] (ucla_bone_parents; root zero)
//   motion : m[t] = x[t+1] - x[t], last frame 0
//   out    : (3, W, 20, 1) float32 (the model's .float() of the float64 result)
//
// Draws: the test path (train = 0) has angles 0, s = 1 and
// idx = np.linspace(0, T - 1, W).astype(int); the training path has integer
// angles in [-60, 60] (x, then y), s ~ U(0.5, 1.5) and idx =
// sorted(random.sample(list(range(T)) * 100, W)). Here they come from
// FeederRng keyed by (seed, epoch, index) (feeder.h), drawn in the official
// order (one discarded double first, as the official random.random(); then
// agx, agy, s, the sample), so any rank gets the same sample; tests inject
// the official draws through ucla_feeder_apply.
//
// Numerics (bit-equal to the official on every real test sequence, see
// tests/3302-ref-ucla.c): float64 throughout; each matrix product entry is
// the fused chain fma(a2, b2, fma(a1, b1, a0 * b0)) that numpy's np.dot
// gives through OpenBLAS (dgemm kernels accumulate with FMA over k); cos,
// sin from libm as math.cos/sin; the rest is elementwise IEEE arithmetic
// (the build's -std=c11 keeps the compiler from contracting it).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "feeder.h"

#define UCLA_WINDOW 52       // time_steps, hard-coded in the official feeder
#define UCLA_SAMPLE_REPEAT 100   // random.sample population: list(range(T)) * 100

typedef struct UclaDraws {
    int agx, agy;    // rotation about x and y, degrees
    double s;        // scale
    int *idx;        // (window) frame indices, ascending, in [0, T)
} UclaDraws;

typedef struct UclaFeederConfig {
    int window;      // W (official 52)
    int train;       // 1: training draws, 0: the test path
    int bone, motion;
} UclaFeederConfig;

// CD_OK, or CD_EARG with the reason in why (window < 1; a training window
// larger than 100 frames x T is the caller's check: ucla_draws_train).
int ucla_feeder_config_check(const UclaFeederConfig *f, char *why, size_t whylen);

// The test path's draws: angles 0, s 1, idx[W] = linspace(0, T - 1, W) truncated.
void ucla_draws_test(UclaDraws *d, int *idx, int T, int W);
// The training path's draws from r (idx: W ints). CD_OK, or CD_EARG when
// W > 100 * T (the official random.sample fails then too).
int ucla_draws_train(UclaDraws *d, int *idx, int T, int W, FeederRng *r);

// out (3, W, 20, 1) from seq (T, 20, 3) and the draws. CD_OK or CD_ENOMEM.
// A constant axis (max == min) gives NaN, as the official division does
// (no real NW-UCLA sequence has one).
int ucla_feeder_apply(float *out, const double *seq, int T, int W, const UclaDraws *d, int bone,
                      int motion);

// The whole sample: draws by f->train (keyed by seed, epoch, index), then
// ucla_feeder_apply. CD_OK, CD_EARG (config, window vs T) or CD_ENOMEM.
int ucla_feeder_transform(const UclaFeederConfig *f, float *out, const double *seq, int T,
                          uint64_t seed, int epoch, int64_t index);

// The layout's seq_transform (skeleton.h): ucla_feeder_transform with
// window f->window, the training path when f->train, bone f->bone, motion
// f->vel.
int ucla_feeder_seq_transform(const FeederConfig *f, float *out, const double *seq, int T, uint64_t seed,
                              int epoch, int64_t index);
