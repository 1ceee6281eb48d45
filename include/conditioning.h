// conditioning.h - does the CoCoDiff module's generation follow its text?
// (docs/method.md, "The CoCoDiff module"; issue "CoCoDiff must follow its text"). Measured on
// real features (the test split's part tokens) with the frozen FC head:
//
//   swap   regenerate each sample i (class y) from the same noised latent
//          and noise at t = t_probe under its own text and under a wrong
//          class's text w (drawn among the other classes present):
//          mean ||g_own - g_wrong|| / mean ||g_own - h_0|| (token 0): how far
//          the text moves a generation, against how far generation moves
//          it from its source;
//   steer  the share of those wrong-text generations that the head assigns
//          to w (the text wins over the source still visible at t_probe);
//   own    the head's top-1 on the own-text generations (against real_top1,
//          the head on the real features), split by the head's verdict on
//          each sample's REAL feature: kept, the own-text top-1 among the
//          real_right samples it classifies right; fixed, among the
//          real_wrong ones it gets wrong (counts kept_hits, fixed_hits), so
//          own = (kept_hits + fixed_hits) / n
//              = (real_right * kept + real_wrong * fixed) / n.
//          kept under real_top1 is class identity lost by generation;
//          fixed above 0 is the text overriding a source the head reads
//          wrong (the steer figure's pull, on the own class): what lifts own
//          above real without any loss of realism. stay: among those
//          misread samples, the share whose own-text generation the head
//          puts in the class it gave the real feature (the source won; the
//          rest, 1 - fixed - stay, went to a third class);
//   own_tgen  own, kept, fixed and stay again (the same identity) for
//          generations under the own text from each sample's latent noised
//          to a t drawn per sample from the trainer's own generation range
//          (cocodiff.t_gen, [t_gen_lo, t_gen_hi] in steps; the same noise
//          as swap's, keyed by the sample's position): the features the
//          trainer generates and feeds the head, where own above is the
//          steer noise t_probe. Own text "within 5 points of real" asked of
//          the features used in training;
//   from_noise  per class k present: n_noise generations from pure noise
//          (t = T_diff - 1) under k's text; the share the head assigns to k,
//          averaged over the classes (per class in from_noise_class).
//
// Controls, the same four figures with the texts replaced at generation:
//   shuffled  class k's text is that of pi(k), pi a fixed derangement of
//             the classes present (steer/own/from-noise still count class k,
//             so a module that follows the text scores about chance);
//   random    every class text (coarse and fine rows) is a random Gaussian
//             vector of the real row's norm.
// Chance is 1 / (classes present).
//
// Every draw is keyed by (seed, a fixed probe step, the sample's position),
// so the figures depend only on the features, the module, the seed and the
// guidance scale: generated at the module's cocodiff.cfg_scale unless
// `guidance` names another (the same module measured at several scales).
#pragma once
#include <stdint.h>

#include "cocodiff.h"

typedef struct ConditioningOptions {
    uint64_t seed;
    double t_probe;      // fraction of T_diff (0.6: docs/method.md's upper t_gen)
    int noise_per_class; // generations from pure noise per class (32)
    int batch;           // samples per generation call (64)
    float guidance;      // classifier-free guidance scale of the generations (0: the module's)
    int controls;        // 1: also the shuffled and random texts (default); 0: class texts only
} ConditioningOptions;

void conditioning_options_default(ConditioningOptions *o);

// Own text's split (own above): the head's top-1 on the own-text
// generations, kept / fixed among the samples whose real feature it reads
// right / wrong, stay among the latter (NaN where a group is empty).
typedef struct ConditioningOwn {
    double own, kept, fixed, stay;
    int64_t kept_hits, fixed_hits, stay_hits;
} ConditioningOwn;

typedef struct ConditioningFigures {
    double swap, steer, from_noise;
    ConditioningOwn probe;         // own (above): from t_probe
    ConditioningOwn tgen;          // own_tgen (above): at the trainer's t_gen, not t_probe
} ConditioningFigures;

typedef struct ConditioningStats {
    int64_t n;              // samples measured
    int classes;            // classes present (chance = 1 / classes)
    int t_probe;            // the start step, in [0, T_diff)
    int noise_per_class;
    int t_gen_lo, t_gen_hi; // own_tgen's range of start steps (the module's cocodiff.t_gen)
    double real_top1;       // the head on the real features
    int64_t real_right, real_wrong;   // samples whose real feature the head classifies right / wrong
    double guidance;        // the guidance scale the generations used
    ConditioningFigures text, shuffled, random;   // shuffled, random: 0 without controls
    double *from_noise_class;   // (K): per class, NaN where absent (malloc'ed; conditioning_free)
} ConditioningStats;

// h_parts: (n, 7, C) real part tokens (token 0 = the head's input h_0);
// labels (n) in [0, K); head_w (K, C), head_b (K): the frozen head. K and C
// must be the module's. CD_OK, CD_EARG (sizes, labels, fewer than 2 classes
// present), CD_ENOMEM; the module's errors.
int conditioning_measure(Cocodiff *m, const float *h_parts, const int32_t *labels, int64_t n, int C, int K,
                         const float *head_w, const float *head_b, const ConditioningOptions *o,
                         ConditioningStats *out);
void conditioning_free(ConditioningStats *s);
