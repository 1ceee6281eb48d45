// cocodiff_lanes.h - the CoCoDiff module's training step split over a
// rank's threads (the lanes of ctrgcn_team.h), so that the threads which
// split the backbone's samples do not wait for the module on one thread.
//
// Every part of cocodiff_step works per sample (the denoiser attends within
// a sample's 7 tokens, every draw is keyed by the sample's global index,
// the losses are means over samples), so lane k of `lanes` runs
// cocodiff_step on its run of consecutive samples [n0, n1) through a
// replica of the module (its own buffers and gradients; the weights, and
// the EMA that generation reads, copied from the module at every step),
// with grad_scale x (n1 - n0) / B so that each lane's gradients are its
// share of the batch mean's. Then the calling thread adds the lanes'
// gradients to the module's (and their head gradients to the head's) in
// lane order and combines their losses into the batch's means. So a split
// step is bitwise reproducible for a given number of lanes, and agrees with
// cocodiff_step on the whole batch as N ranks agree with one (the same sums
// in another order).
//
// The lanes also pool their samples' part tokens from the backbone's
// outputs and hand their samples' gradients back (CocodiffTokens), or take
// tokens given as they are (feat NULL: the replay buffer's and the fresh
// module's steps, cdtrain.h, away from the backbone).
//
//   CocodiffLanes *l;
//   cocodiff_lanes_create(&l, m, threads);          // after cocodiff_set_text(m, ...)
//   per step: rc = cocodiff_lanes_step(l, team, &tokens, labels, B, head, ctl, &losses);
//   cocodiff_lanes_free(l);
//
// defines: CocodiffLanes, CocodiffTokens, cocodiff_tokens_in, cocodiff_tokens_out,
//          cocodiff_lanes_create, cocodiff_lanes_free, cocodiff_lanes_step
#pragma once
#include "cocodiff.h"
#include "ctrgcn_team.h"

// The module's tokens of a batch of B samples and their way back into the
// backbone: C is the module's (cocodiff_dims), M, T, V the last unit's.
typedef struct CocodiffTokens {
    const float *feat;      // (B, C): the pooled features, token 0 exactly; NULL: h is given (nothing pooled,
                            // no gradient back; dh may be NULL: no token gradients)
    const float *last;      // (B*M, C, T, V): the last unit's output, pooled into tokens 1..6
    int C, M, T, V;
    const PartSets *parts;
    float *h;               // (B, 7, C): the tokens
    float *dh;              // (B, 7, C): their gradients (scratch), or NULL (no step)
    float *dfeat;           // (B, C): the gradient into feat
    float *dlast;           // (B*M, C, T, V): the gradient into last, or NULL (no part gradients)
} CocodiffTokens;

// Samples [n0, n1): their tokens h from feat and last; their dh zeroed.
void cocodiff_tokens_in(const CocodiffTokens *io, int n0, int n1);
// Samples [n0, n1): dfeat = their dh's token 0, and with dlast the part
// tokens' gradient through the pooling (dh's token 0 is left zero).
void cocodiff_tokens_out(const CocodiffTokens *io, int n0, int n1);

typedef struct CocodiffLanes CocodiffLanes;

// Room for up to `lanes` (>= 1) lanes of module m (which it must not
// outlive; its texts must be set). CD_OK, CD_EARG or CD_ENOMEM.
int cocodiff_lanes_create(CocodiffLanes **l, Cocodiff *m, int lanes);
void cocodiff_lanes_free(CocodiffLanes *l);   // NULL is fine
// cocodiff_tokens_in, cocodiff_step(m, io->h, labels, B, head, io->dh, ctl,
// out) and cocodiff_tokens_out (the two without io->feat) over the team's ctrgcn_team_lanes(team, B)
// lanes (at most the room made), each on its run of consecutive samples
// (ctrgcn_team's cut): m's grads += the lanes' in lane order, head->gw, gb
// += the lanes' head gradients, out = the batch's losses (sample-weighted
// means of the lanes'). CD_OK, or the first failed lane's error (nothing
// added then).
int cocodiff_lanes_step(CocodiffLanes *l, CtrgcnTeam *team, const CocodiffTokens *io, const int32_t *labels, int B,
                        const CocodiffHead *head, const CocodiffStepCtl *ctl, CocodiffLosses *out);
