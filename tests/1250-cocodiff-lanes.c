// 1250-cocodiff-lanes.c - the CoCoDiff module's step split over a team's
// threads (cocodiff_lanes.h) against the whole step on one thread
// (cocodiff_tokens_in, cocodiff_step, cocodiff_tokens_out), with generation,
// the fine loss (part-token gradients through the pooling) and the weights'
// average (which generation reads):
//   - 5 samples over 3 lanes (1, 2, 2): the module's gradients, the head's,
//     the gradients into the pooled features and the last unit output, and
//     every loss close to the whole step's (the same sums in another order);
//   - the same split step twice gives the same bits;
//   - with the tokens given (no pooling, no token gradients: the replay
//     and refresh steps of cdtrain.h) the same: gradients and losses close
//     to the whole step's, the same bits twice;
//   - a team with more lanes than the room made is refused.
// Tiny sizes: module d 32, 4 heads, 1 block; C 16, Dt 12, K 5; the NTU
// parts over M 2, T' 4, V 25; the team's model base 8.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "cocodiff_lanes.h"
#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

enum { B = 5, C = 16, DT = 12, K = 5, M = 2, TL = 4, V = 25, THREADS = 3 };
#define TOK (COCODIFF_TOKENS * C)
#define LAST ((size_t)B * M * C * TL * V)

static uint64_t rs = 1250;
static float urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rs >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

static float *fill(size_t n, float scale) {
    float *p = malloc(n * sizeof *p);
    if (!p) bail("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = scale * urand();
    return p;
}

static float *zeros(size_t n) {
    float *p = calloc(n, sizeof *p);
    if (!p) bail("out of memory");
    return p;
}

// What a step leaves: the module's grads, the head's, dfeat, dlast, losses.
typedef struct Out {
    float *g, *gw, *gb, *dfeat, *dlast;
    CocodiffLosses lo;
} Out;

static void out_free(Out *o) {
    free(o->g); free(o->gw); free(o->gb); free(o->dfeat); free(o->dlast);
}

static void out_alloc(Out *o, size_t np) {
    o->g = zeros(np);
    o->gw = zeros((size_t)K * C);
    o->gb = zeros(K);
    o->dfeat = zeros((size_t)B * C);
    o->dlast = zeros(LAST);
}

// One step from zeroed gradients; team NULL: the whole step on this thread.
static int step(Cocodiff *m, CocodiffLanes *l, CtrgcnTeam *team, CocodiffTokens io, const int32_t *labels,
                const float *fcw, const float *fcb, Out *o) {
    cocodiff_zero_grad(m);
    memset(o->gw, 0, (size_t)K * C * sizeof(float));
    memset(o->gb, 0, K * sizeof(float));
    io.dfeat = o->dfeat;
    io.dlast = o->dlast;
    CocodiffHead head = {fcw, fcb, o->gw, o->gb};
    CocodiffStepCtl ctl = {.seed = 3, .step = 11, .sample0 = 40, .generate = 1, .grad_scale = 0.5f};
    int rc;
    if (team) {
        rc = cocodiff_lanes_step(l, team, &io, labels, B, &head, &ctl, &o->lo);
    } else {
        cocodiff_tokens_in(&io, 0, B);
        rc = cocodiff_step(m, io.h, labels, B, &head, io.dh, &ctl, &o->lo);
        if (!rc) cocodiff_tokens_out(&io, 0, B);
    }
    memcpy(o->g, cocodiff_grads(m), cocodiff_num_params(m) * sizeof(float));
    return rc;
}

// The same with the tokens given (io.feat NULL, no token gradients: the
// replay buffer's and the fresh module's steps).
static int step_given(Cocodiff *m, CocodiffLanes *l, CtrgcnTeam *team, float *h, const int32_t *labels,
                      const float *fcw, const float *fcb, Out *o) {
    cocodiff_zero_grad(m);
    memset(o->gw, 0, (size_t)K * C * sizeof(float));
    memset(o->gb, 0, K * sizeof(float));
    CocodiffHead head = {fcw, fcb, o->gw, o->gb};
    CocodiffStepCtl ctl = {.seed = 3, .step = 12, .sample0 = (int64_t)1 << 40, .generate = 1, .grad_scale = 1};
    const CocodiffTokens io = {.h = h, .C = C};
    int rc = team ? cocodiff_lanes_step(l, team, &io, labels, B, &head, &ctl, &o->lo)
                  : cocodiff_step(m, h, labels, B, &head, NULL, &ctl, &o->lo);
    memcpy(o->g, cocodiff_grads(m), cocodiff_num_params(m) * sizeof(float));
    return rc;
}

static int same_losses(const CocodiffLosses *a, const CocodiffLosses *b, double tol) {
    const double x[] = {a->diff, a->rec, a->gen, a->coarse, a->coarse_real, a->coarse_gen, a->fine, a->total, a->gen_acc},
                 y[] = {b->diff, b->rec, b->gen, b->coarse, b->coarse_real, b->coarse_gen, b->fine, b->total, b->gen_acc};
    int good = a->generated == b->generated && a->logit_scale == b->logit_scale;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) {
        if (fabs(x[i] - y[i]) > tol * fmax(1.0, fabs(y[i]))) good = 0;
        if (!good) diag("loss %zu: %.9g vs %.9g", i, x[i], y[i]);
    }
    return good;
}

int main(void) {
    plan(14);
    PartSets parts;
    if (part_sets_load("datasets/parts/ntu25.tsv", V, &parts)) bail("cannot read the NTU part file");
    CocodiffConfig cfg;
    cocodiff_config_default(&cfg);
    cfg.d = 32;
    cfg.heads = 4;
    cfg.blocks = 1;
    cfg.l_fine = 0.1f;
    cfg.ema = 0.9f;
    Cocodiff *m;
    if (cocodiff_create(&m, &cfg, C, DT, K)) bail("cocodiff_create");
    cocodiff_init(m, 5);
    float *coarse = fill((size_t)K * DT, 1), *fine = fill((size_t)K * COCODIFF_PARTS * DT, 1);
    if (cocodiff_set_text(m, coarse, fine)) bail("set_text");
    const size_t np = cocodiff_num_params(m);
    float *p = cocodiff_params(m);
    for (size_t i = 0; i < np; i++) p[i] += 0.05f * urand();   // the average lags the weights
    cocodiff_ema_update(m, 0);
    for (size_t i = 0; i < np; i++) p[i] += 0.05f * urand();
    float *p0 = malloc(np * sizeof *p0);
    if (!p0) bail("out of memory");
    memcpy(p0, p, np * sizeof *p0);

    CtrgcnConfig bc;   // a team needs a model; only its threads are used here
    ctrgcn_config_default(&bc, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *bb;
    CtrgcnTeam *team;
    if (ctrgcn_create(&bb, &bc) || ctrgcn_team_create(&team, bb, NULL, THREADS)) bail("cannot start the team");
    CocodiffLanes *lanes, *small;
    if (cocodiff_lanes_create(&lanes, m, THREADS) || cocodiff_lanes_create(&small, m, THREADS - 1))
        bail("cocodiff_lanes_create");

    float *feat = fill((size_t)B * C, 1), *last = fill(LAST, 1), *fcw = fill((size_t)K * C, 0.5f), *fcb = fill(K, 0.1f);
    const int32_t labels[B] = {0, 3, 1, 4, 3};
    CocodiffTokens io = {.feat = feat, .last = last, .C = C, .M = M, .T = TL, .V = V, .parts = &parts,
                         .h = zeros((size_t)B * TOK), .dh = zeros((size_t)B * TOK)};
    Out one, split, again;
    out_alloc(&one, np);
    out_alloc(&split, np);
    out_alloc(&again, np);

    if (step(m, NULL, NULL, io, labels, fcw, fcb, &one)) bail("the whole step failed");
    int rc = step(m, lanes, team, io, labels, fcw, fcb, &split);
    ok(rc == CD_OK && ctrgcn_team_lanes(team, B) == 3, "5 samples over 3 lanes: the split step runs");
    is_tensor_close_scaled(split.g, one.g, np, "3 lanes: the module's gradients close to the whole step's");
    is_tensor_close_scaled(split.gw, one.gw, (size_t)K * C, "3 lanes: the head's weight gradient (L_gen) close");
    is_tensor_close_scaled(split.dfeat, one.dfeat, (size_t)B * C, "3 lanes: the pooled features' gradient close");
    double part = 0;
    for (size_t i = 0; i < LAST; i++) part = fmax(part, fabs(one.dlast[i]));
    ok(part > 0, "the fine loss sends gradient through the pooling into the last output (max %.3g)", part);
    is_tensor_close_scaled(split.dlast, one.dlast, LAST, "3 lanes: the last output's gradient close");
    ok(one.lo.generated && same_losses(&split.lo, &one.lo, 1e-5),
       "3 lanes: every loss the batch's (L_gen %.4f, fine %.4f, total %.4f)", split.lo.gen, split.lo.fine,
       split.lo.total);

    rc = step(m, lanes, team, io, labels, fcw, fcb, &again);
    ok(rc == CD_OK && !memcmp(again.g, split.g, np * sizeof(float)) && !memcmp(again.gw, split.gw, (size_t)K * C * 4) &&
           !memcmp(again.dfeat, split.dfeat, (size_t)B * C * 4) && !memcmp(again.dlast, split.dlast, LAST * 4) &&
           same_losses(&again.lo, &split.lo, 0),
       "the same split step twice: the same bits");
    is_tensor_equal(cocodiff_params(m), p0, np, "the module's weights are read, not written");

    // given tokens (those the whole step pooled): module and head gradients only
    if (step_given(m, NULL, NULL, io.h, labels, fcw, fcb, &one)) bail("the whole step on given tokens failed");
    rc = step_given(m, lanes, team, io.h, labels, fcw, fcb, &split);
    ok(rc == CD_OK && one.lo.generated && same_losses(&split.lo, &one.lo, 1e-5),
       "given tokens over 3 lanes: the split step runs, every loss the batch's (diff %.4f, L_gen %.4f)", split.lo.diff,
       split.lo.gen);
    is_tensor_close_scaled(split.g, one.g, np,
                           "given tokens, 3 lanes: the module's gradients close to the whole step's");
    is_tensor_close_scaled(split.gw, one.gw, (size_t)K * C, "given tokens, 3 lanes: the head's weight gradient close");
    rc = step_given(m, lanes, team, io.h, labels, fcw, fcb, &again);
    ok(rc == CD_OK && !memcmp(again.g, split.g, np * sizeof(float)) && !memcmp(again.gw, split.gw, (size_t)K * C * 4),
       "given tokens: the same split step twice, the same bits");

    rc = step(m, small, team, io, labels, fcw, fcb, &again);   // its message on stderr
    ok(rc == CD_EARG, "3 lanes with room for 2: refused (CD_EARG)");

    out_free(&one); out_free(&split); out_free(&again);
    free(io.h); free(io.dh); free(feat); free(last); free(fcw); free(fcb); free(coarse); free(fine); free(p0);
    cocodiff_lanes_free(lanes);
    cocodiff_lanes_free(small);
    ctrgcn_team_free(team);
    ctrgcn_free(bb);
    cocodiff_free(m);
    return tap_done();
}
