// ctrgcn_step.h - the model tests' CTR-GCN training step as the trainer runs
// it with the CoCoDiff module (tests 2025, 2026, 2027: a rank's threads,
// ctrgcn_team.h, against one model): the model from a fixed start, forward,
// the module's gradient on the head, backward with its extra gradients.
#pragma once
#include "ctrgcn.h"
#include "ctrgcn_team.h"

// dst takes src's weights, running statistics and counters.
void tap_ctrgcn_copy(Ctrgcn *dst, Ctrgcn *src);

// A step's fixed inputs: x (N, 3, T, V, M); dl (N, K), the loss gradient on
// the logits; hg (K, C), the module's on the head's weight (L_gen); r (N, C)
// on the pooled feature and G (N*M, C, T/4, V) on the last unit's output
// (NULL: none).
typedef struct TapCtrgcnStep {
    const float *x, *dl, *hg, *r, *G;
} TapCtrgcnStep;

// One training step of m from start, through team (whose model is m) when
// not NULL: forward on N samples of T frames, the gradients zeroed but hg
// added to the head's, backward with r and G; logits -> lg (N, K),
// gradients -> g (num_params). Bails when a pass fails.
void tap_ctrgcn_step(Ctrgcn *m, CtrgcnTeam *team, Ctrgcn *start, const TapCtrgcnStep *s, int N, int T, float *lg,
                     float *g);
