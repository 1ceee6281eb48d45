// cocodiff_lanes.c - the CoCoDiff module's training step split over a
// rank's threads (see cocodiff_lanes.h): a replica of the module per lane,
// whose gradients and losses are added up in lane order.
#include "cocodiff_lanes.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

typedef struct Lane {
    Cocodiff *rep;          // this lane's replica (lane 0's too: the module's buffers stay the module's)
    float *gw, *gb;         // (K, C), (K): its head gradients
    CocodiffLosses lo;      // its losses (means over its samples)
    int n;                  // its samples in the last step
    int rc;                 // and its step's status
} Lane;

struct CocodiffLanes {
    Cocodiff *m;
    int cap;                // lanes it has room for
    int K, C;
    Lane *lane;             // (cap)
    const float **src;      // (cap) scratch: the lanes' spans being added
};

int cocodiff_lanes_create(CocodiffLanes **out, Cocodiff *m, int lanes) {
    *out = NULL;
    const float *coarse, *fine;
    cocodiff_text(m, &coarse, &fine);
    if (lanes < 1 || !coarse) {
        CD_ERR("cocodiff_lanes_create: %d lanes (expected at least 1), texts %s", lanes, coarse ? "set" : "not set");
        return CD_EARG;
    }
    CocodiffLanes *l = cd_calloc(1, sizeof *l);
    if (!l) return CD_ENOMEM;
    l->m = m;
    l->cap = lanes;
    int Dt;
    cocodiff_dims(m, &l->C, &Dt, &l->K);
    l->lane = cd_calloc((size_t)lanes, sizeof *l->lane);
    l->src = cd_calloc((size_t)lanes, sizeof *l->src);
    int rc = l->lane && l->src ? CD_OK : CD_ENOMEM;
    for (int k = 0; k < lanes && !rc; k++) {
        Lane *a = &l->lane[k];
        rc = cocodiff_create(&a->rep, cocodiff_config(m), l->C, Dt, l->K);
        if (!rc) rc = cocodiff_set_text(a->rep, coarse, fine);
        if (!rc && (!(a->gw = cd_malloc((size_t)l->K * l->C * sizeof(float))) ||
                    !(a->gb = cd_malloc((size_t)l->K * sizeof(float)))))
            rc = CD_ENOMEM;
    }
    if (rc) {
        cocodiff_lanes_free(l);
        return rc;
    }
    *out = l;
    return CD_OK;
}

void cocodiff_lanes_free(CocodiffLanes *l) {
    if (!l) return;
    for (int k = 0; l->lane && k < l->cap; k++) {
        cocodiff_free(l->lane[k].rep);
        free(l->lane[k].gw);
        free(l->lane[k].gb);
    }
    free(l->lane);
    free(l->src);
    free(l);
}

void cocodiff_tokens_in(const CocodiffTokens *io, int n0, int n1) {
    const size_t tok = (size_t)COCODIFF_TOKENS * io->C, sample = (size_t)io->M * io->C * io->T * io->V;
    cocodiff_pool_parts(io->h + n0 * tok, io->last + n0 * sample, n1 - n0, io->M, io->C, io->T, io->V, io->parts);
    for (int i = n0; i < n1; i++) memcpy(io->h + i * tok, io->feat + (size_t)i * io->C, (size_t)io->C * sizeof(float));
    if (io->dh) memset(io->dh + n0 * tok, 0, (size_t)(n1 - n0) * tok * sizeof(float));
}

void cocodiff_tokens_out(const CocodiffTokens *io, int n0, int n1) {
    const int C = io->C;
    const size_t tok = (size_t)COCODIFF_TOKENS * C, sample = (size_t)io->M * C * io->T * io->V;
    for (int i = n0; i < n1; i++) {
        float *dh = io->dh + i * tok;
        memcpy(io->dfeat + (size_t)i * C, dh, (size_t)C * sizeof(float));
        memset(dh, 0, (size_t)C * sizeof(float));   // token 0 goes through dfeat
    }
    if (io->dlast) {
        memset(io->dlast + n0 * sample, 0, (size_t)(n1 - n0) * sample * sizeof(float));
        cocodiff_pool_parts_backward(io->dlast + n0 * sample, io->dh + n0 * tok, n1 - n0, io->M, C, io->T, io->V,
                                     io->parts);
    }
}

// One step's job for the lanes (fn of ctrgcn_team_run).
typedef struct Job {
    CocodiffLanes *l;
    const CocodiffTokens *io;
    const int32_t *labels;
    int B, lanes;
    const CocodiffHead *head;
    const CocodiffStepCtl *ctl;
} Job;

// Lane k: its samples' tokens, its share of the step through its replica
// (the module's weights; its own gradients and head gradients), their
// gradients back.
static void lane_job(void *ctx, int k) {
    const Job *j = ctx;
    if (k >= j->lanes) return;
    CocodiffLanes *l = j->l;
    Lane *a = &l->lane[k];
    size_t i0, i1;
    ctrgcn_team_cut((size_t)j->B, j->lanes, k, &i0, &i1);
    const int n0 = (int)i0, n1 = (int)i1;
    a->n = n1 - n0;
    memset(&a->lo, 0, sizeof a->lo);
    a->rc = CD_OK;
    if (a->n == 0) return;
    const size_t np = cocodiff_num_params(l->m);
    memcpy(cocodiff_params(a->rep), cocodiff_params(l->m), np * sizeof(float));
    if (cocodiff_ema_params(l->m)) memcpy(cocodiff_ema_params(a->rep), cocodiff_ema_params(l->m), np * sizeof(float));
    cocodiff_zero_grad(a->rep);
    CocodiffHead hk, *hp = NULL;
    if (j->head) {
        memset(a->gw, 0, (size_t)l->K * l->C * sizeof(float));
        memset(a->gb, 0, (size_t)l->K * sizeof(float));
        hk = (CocodiffHead){.w = j->head->w, .b = j->head->b, .gw = a->gw, .gb = a->gb};
        hp = &hk;
    }
    // its samples' draws (keyed by their global index) and its share of the
    // batch mean's gradients
    CocodiffStepCtl c = *j->ctl;
    c.sample0 += n0;
    c.grad_scale = j->ctl->grad_scale * (float)a->n / (float)j->B;
    const size_t tok = (size_t)COCODIFF_TOKENS * l->C;
    const int pooled = j->io->feat != NULL;   // else the tokens are given
    if (pooled) cocodiff_tokens_in(j->io, n0, n1);
    a->rc = cocodiff_step(a->rep, j->io->h + n0 * tok, j->labels + n0, a->n, hp, j->io->dh ? j->io->dh + n0 * tok : NULL,
                          &c, &a->lo);
    if (!a->rc && pooled) cocodiff_tokens_out(j->io, n0, n1);
}

// dst[i] += src_0[i] + src_1[i] + ... (the lanes' in lane order), i < n.
static void add_lanes(float *dst, const float *const *src, int lanes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float acc = src[0][i];
        for (int j = 1; j < lanes; j++) acc += src[j][i];
        dst[i] += acc;
    }
}

// The lanes' gradients and losses into the module's, the head's and out.
static int finish(CocodiffLanes *l, int lanes, int B, const CocodiffHead *head, CocodiffLosses *out) {
    for (int k = 0; k < lanes; k++)
        if (l->lane[k].rc) return l->lane[k].rc;
    const float **src = l->src;
    for (int k = 0; k < lanes; k++) src[k] = cocodiff_grads(l->lane[k].rep);
    add_lanes(cocodiff_grads(l->m), src, lanes, cocodiff_num_params(l->m));
    if (head) {
        for (int k = 0; k < lanes; k++) src[k] = l->lane[k].gw;
        add_lanes(head->gw, src, lanes, (size_t)l->K * l->C);
        for (int k = 0; k < lanes; k++) src[k] = l->lane[k].gb;
        add_lanes(head->gb, src, lanes, (size_t)l->K);
    }
    // the batch's means: the lanes' weighted by their samples
    CocodiffLosses lo;
    memset(&lo, 0, sizeof lo);
    for (int k = 0; k < lanes; k++) {
        const CocodiffLosses *a = &l->lane[k].lo;
        const double w = (double)l->lane[k].n / B;
        if (l->lane[k].n == 0) continue;
        lo.diff += w * a->diff;
        lo.rec += w * a->rec;
        lo.gen += w * a->gen;
        lo.coarse += w * a->coarse;
        lo.coarse_real += w * a->coarse_real;
        lo.coarse_gen += w * a->coarse_gen;
        lo.fine += w * a->fine;
        lo.total += w * a->total;
        lo.gen_acc += w * a->gen_acc;
        lo.logit_scale = a->logit_scale;   // the same in every lane
        lo.generated = a->generated;
    }
    if (out) *out = lo;
    return CD_OK;
}

int cocodiff_lanes_step(CocodiffLanes *l, CtrgcnTeam *team, const CocodiffTokens *io, const int32_t *labels, int B,
                        const CocodiffHead *head, const CocodiffStepCtl *ctl, CocodiffLosses *out) {
    const int lanes = ctrgcn_team_lanes(team, B);
    if (lanes > l->cap || (io->feat && !io->dh) || !ctl) {
        CD_ERR("cocodiff_lanes_step: %d lanes (room for %d)%s", lanes, l->cap, io->dh ? "" : ", no token gradients");
        return CD_EARG;
    }
    Job j = {l, io, labels, B, lanes, head, ctl};
    ctrgcn_team_run(team, lane_job, &j);
    return finish(l, lanes, B, head, out);
}
