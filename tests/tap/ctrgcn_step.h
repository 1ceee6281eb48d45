// ctrgcn_step.h - the model tests' CTR-GCN training step as the trainer runs
// it with the CoCoDiff module (tests 2025-2029: a rank's threads,
// ctrgcn_team.h, against one model): the model from a fixed start, forward,
// the module's gradient on the head, backward with its extra gradients.
#pragma once
#include "ctrgcn.h"
#include "ctrgcn_team.h"

// dst takes src's weights, running statistics and counters.
void tap_ctrgcn_copy(Ctrgcn *dst, Ctrgcn *src);

// Every CTR-GC's alpha set to a (at CTR-GCN's initial 0 the topology's
// gradients are zero, so a test of them needs another value).
void tap_ctrgcn_set_alpha(Ctrgcn *m, float a);

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

// The CTR-GC topology's gradients of g against ref (both num_params, m's
// layout): conv4, alpha, PA, conv1 and conv2 (the last two through the
// time-mean), each tensor against its own largest reference gradient, since
// they are small next to the rest (1e-4 to 1e-3 against up to 1e3
// elsewhere). Tensors whose gradients stay under 1e-6 are rounding (unit
// 1's, at 1e-11 to 1e-10) and skipped. Returns the tensors off by more than
// 1e-4 of their scale (the first named by a diag line); *checked the
// tensors compared.
int tap_ctrgcn_topology_off(Ctrgcn *m, const float *g, const float *ref, int *checked);
