// cdtrain.c - the CoCoDiff module's share of training (see cdtrain.h): its
// setup from the config's options and the class texts, the step between the
// backbone's forward and backward, its optimizer, its checkpoint groups and
// the generated-feature measurement at the end.
#include "cdtrain.h"
#include "cdoptim.h"
#include "cdprobe.h"
#include "cdreplay.h"
#include "checkpoint.h"
#include "class_text.h"
#include "cocodiff_lanes.h"
#include "conditioning.h"
#include "fsutil.h"
#include "diversity.h"
#include "h5io_features.h"
#include "status.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A module with its optimizer and checkpoint views: the one trained
// alongside the backbone, and cocodiff.refresh's fresh one.
#define UNIT_GROUPS 4   // params, up to 2 optimizer buffers, the EMA
typedef struct Unit {
    Cocodiff *cd;
    CdOptim opt;
    H5Tensor *tensors;          // (ngroups * tensors) checkpoint views
    char groups[UNIT_GROUPS][64];   // their group names
    float *gbase[UNIT_GROUPS];      // and spans
    int ngroups;
} Unit;

#define REFRESH_STATE "cocodiff_refresh_state"   // /steps: (done, asked, rows learnt from)
#define REFRESH_KEY (-4)   // the fresh module's draws: (seed, REFRESH_KEY, its step)

struct CdTrain {
    Unit u;                     // the co-trained module
    PartSets parts;
    CdTrainSpec spec;
    char text[1024], parts_path[1024];
    int K, C, V, M;             // classes; the last unit's width, joints, persons
    int Tl;                     // T' of the train window
    float *hparts, *dhparts;    // (n_max, 7, C)
    float *dfeat, *dlast;       // (n_max, C); (n_max*M, C, T', V) when part gradients
    // cocodiff.replay: the buffer, this rank's samples of the current step
    // (their positions within it) and the step's samples in order
    CdReplay replay;
    float *stage, *ordered;     // (accumulate * n_max, 7, C); (step_samples, 7, C)
    int32_t *stage_lab, *ord_lab;
    int64_t *stage_pos;
    int nstage;
    // cocodiff.refresh: the fresh module, the final backbone's training
    // tokens it learns from, its steps done and asked (checkpointed as
    // REFRESH_STATE once the phase has begun: fresh_on)
    Unit fresh;
    CdReplay rows;
    float fresh_state[3];
    H5Tensor state_view;
    int fresh_on;
    CocodiffLanes *split;       // the step split over a team's threads (made at its first use)
    CocodiffLanes *fresh_split; // the fresh module's steps split likewise
    long long fresh_restart;    // a checkpoint's phase of another length (restarted): its length
    float *head_grads;          // (K, C + 1): the frozen head's gradients, dropped
};

static int replay_batch(const CdTrain *t);
static int replay_runs(const CdTrain *t, int64_t filled);

// ---------------------------------------------------------------------------
// Setup

// A module (options o) with its texts, its optimizer and the checkpoint
// views: /NAME, /optimizer/NAME_<buffer> per optimizer buffer, /NAME_ema
// (cocodiff.ema). Its initial weights are the run's (the same for every unit).
static int build_unit(Unit *u, const CdTrain *t, const CocodiffConfig *o, const char *name, char *why, size_t whylen) {
    const CdTrainSpec *s = &t->spec;
    float *coarse = NULL, *fine = NULL;
    int D = 0;
    int rc = class_text_load(s->text, t->K, &coarse, &fine, &D, why, whylen);
    if (rc) return rc;
    // the text controls: the same texts handed to the wrong classes, or random vectors
    if ((rc = class_text_control((ClassTextControl)o->text_control, t->K, D, s->seed, coarse, fine))) {
        free(coarse);
        free(fine);
        return rc;
    }
    rc = cocodiff_create(&u->cd, o, t->C, D, t->K);
    if (rc) {
        snprintf(why, whylen, "cannot build the CoCoDiff module (see above)");
        free(coarse); free(fine);
        return rc == CD_ENOMEM ? rc : CD_EARG;
    }
    // Seeded apart from the backbone's init (same run seed).
    cocodiff_init(u->cd, s->seed * 0x9e3779b97f4a7c15ull + 0xc0c0d1ffull);
    rc = cocodiff_set_text(u->cd, coarse, fine);
    free(coarse);
    free(fine);
    if (rc) { snprintf(why, whylen, "cocodiff.text %.900s: rejected by the module (see above)", s->text); return CD_EARG; }
    if ((rc = cdoptim_init(&u->opt, u->cd, s->base_lr, s->momentum, s->weight_decay, s->nesterov))) return rc;
    int nt = cocodiff_num_tensors(u->cd), nb = cdoptim_buffers(&u->opt, -1, NULL, NULL);
    u->ngroups = 1 + nb + (cocodiff_ema_params(u->cd) != NULL);
    if (!(u->tensors = cd_calloc((size_t)nt * u->ngroups, sizeof *u->tensors))) return CD_ENOMEM;
    snprintf(u->groups[0], sizeof u->groups[0], "%s", name);
    for (int g = 0; g < u->ngroups; g++) {
        float *base = cocodiff_params(u->cd);
        if (g == 1 + nb) {
            base = cocodiff_ema_params(u->cd);
            snprintf(u->groups[g], sizeof u->groups[g], "%s_ema", name);
        } else if (g > 0) {
            const char *bn;
            cdoptim_buffers(&u->opt, g - 1, &bn, &base);
            snprintf(u->groups[g], sizeof u->groups[g], "optimizer/%s_%s", name, bn);
        }
        u->gbase[g] = base;
        for (int i = 0; i < nt; i++) {
            const CocodiffTensor *ct = cocodiff_tensor(u->cd, i);
            H5Tensor *h = &u->tensors[(size_t)g * nt + i];
            snprintf(h->name, sizeof h->name, "%s", ct->name);
            h->ndim = ct->ndim;
            for (int k = 0; k < ct->ndim; k++) h->shape[k] = ct->shape[k];
            h->numel = ct->numel;
            h->data = base + ct->offset;
        }
    }
    return CD_OK;
}

static void unit_free(Unit *u) {
    cocodiff_free(u->cd);
    cdoptim_free(&u->opt);
    free(u->tensors);
    memset(u, 0, sizeof *u);
}

// cocodiff.refresh: the fresh module and the view of its progress. No EMA
// (it generates from its own weights) and one L_diff pass a step: steps on
// distinct batches, not passes over one, are what trained the denoiser
// (docs/results.md, "What was tried" I).
static int refresh_setup(CdTrain *t, char *why, size_t whylen) {
    CocodiffConfig o = *t->spec.options;
    o.ema = 0;
    o.diff_repeats = 1;
    int rc = build_unit(&t->fresh, t, &o, "cocodiff_refresh", why, whylen);
    if (rc) return rc;
    t->fresh_state[0] = 0;
    t->fresh_state[1] = (float)o.refresh;
    H5Tensor *v = &t->state_view;
    snprintf(v->name, sizeof v->name, "steps");
    v->ndim = 1;
    v->shape[0] = 3;
    v->numel = 3;
    v->data = t->fresh_state;
    return CD_OK;
}

// cocodiff.replay: the buffer and the step's staging areas.
static int replay_setup(CdTrain *t, size_t nmax, char *why, size_t whylen) {
    const CdTrainSpec *s = &t->spec;
    const size_t tok = (size_t)COCODIFF_TOKENS * t->C, ns = nmax * (size_t)(s->accumulate > 0 ? s->accumulate : 1);
    if (s->step_samples < 1)
        return cd_why(why, whylen, CD_EARG, "cocodiff.replay needs the samples of a step (internal: step_samples %d)",
                      s->step_samples);
    int rc = cdreplay_init(&t->replay, s->options->replay, t->C);
    if (rc) return rc;
    t->stage = cd_malloc(ns * tok * sizeof(float));
    t->stage_lab = cd_malloc(ns * sizeof(int32_t));
    t->stage_pos = cd_malloc(ns * sizeof(int64_t));
    t->ordered = cd_malloc((size_t)s->step_samples * tok * sizeof(float));
    t->ord_lab = cd_malloc((size_t)s->step_samples * sizeof(int32_t));
    return t->stage && t->stage_lab && t->stage_pos && t->ordered && t->ord_lab ? CD_OK : CD_ENOMEM;
}

int cdtrain_setup(CdTrain **out, const CdTrainSpec *s, Ctrgcn *m, int W, int n_max, char *why, size_t whylen) {
    *out = NULL;
    CdTrain *t = cd_calloc(1, sizeof *t);
    if (!t) return CD_ENOMEM;
    t->spec = *s;
    snprintf(t->text, sizeof t->text, "%s", s->text);
    snprintf(t->parts_path, sizeof t->parts_path, "%s", s->parts);
    t->spec.text = t->text;
    t->spec.parts = t->parts_path;
    t->K = s->K;
    ctrgcn_last_output(m, &t->C, NULL, &t->V, &t->M);
    t->Tl = W;
    for (int l = 0; l < CTRGCN_UNITS; l++) t->Tl = (t->Tl - 1) / ctrgcn_config(m)->stride[l] + 1;
    int rc = CD_OK;
    if (part_sets_load(s->parts, t->V, &t->parts) != CD_OK) {
        snprintf(why, whylen, "cocodiff.parts %.900s: cannot use it for %d joints (see above)", s->parts, t->V);
        rc = CD_EARG;
    }
    if (!rc) rc = build_unit(&t->u, t, s->options, "cocodiff", why, whylen);
    if (!rc && s->options->refresh > 0) rc = refresh_setup(t, why, whylen);
    size_t nmax = (size_t)n_max, C = (size_t)t->C;
    if (!rc) {
        t->hparts = cd_malloc(nmax * COCODIFF_TOKENS * C * sizeof(float));
        t->dhparts = cd_malloc(nmax * COCODIFF_TOKENS * C * sizeof(float));
        t->dfeat = cd_malloc(nmax * C * sizeof(float));
        if (!t->hparts || !t->dhparts || !t->dfeat) rc = CD_ENOMEM;
    }
    if (!rc && cocodiff_part_grads(t->u.cd) &&
        !(t->dlast = cd_malloc(nmax * t->M * C * (size_t)t->Tl * t->V * sizeof(float))))
        rc = CD_ENOMEM;
    if (!rc && s->options->replay > 0) rc = replay_setup(t, nmax, why, whylen);
    if (rc) {
        cdtrain_free(t);
        return rc;
    }
    *out = t;
    return CD_OK;
}

void cdtrain_free(CdTrain *t) {
    if (!t) return;
    cdreplay_free(&t->replay);
    free(t->stage); free(t->ordered); free(t->stage_lab); free(t->ord_lab); free(t->stage_pos);
    cdreplay_free(&t->rows);
    free(t->head_grads);
    unit_free(&t->u);
    unit_free(&t->fresh);
    free(t->hparts); free(t->dhparts); free(t->dfeat); free(t->dlast);
    cocodiff_lanes_free(t->split);
    cocodiff_lanes_free(t->fresh_split);
    free(t);
}

void cdtrain_describe(const CdTrain *t, char *buf, size_t len) {
    const CocodiffConfig *cc = cocodiff_config(t->u.cd);
    char g[32], p[32], tc[32], o[256];
    cocodiff_choice_name(cocodiff_option_find("cocodiff.guidance")->choices, (int)cc->guidance, g, sizeof g);
    cocodiff_choice_name(cocodiff_option_find("cocodiff.prediction")->choices, (int)cc->prediction, p, sizeof p);
    cocodiff_choice_name(cocodiff_option_find("cocodiff.text_control")->choices, cc->text_control, tc, sizeof tc);
    cdoptim_describe(&t->u.opt, t->spec.base_lr, o, sizeof o);
    if (!cc->lr_decay) snprintf(o + strlen(o), sizeof o - strlen(o), ", without the step decay");
    if (t->stage)
        snprintf(o + strlen(o), sizeof o - strlen(o), "; + %d replay steps of %d from the last %d samples",
                 cc->replay_steps, replay_batch(t), cc->replay);
    if (t->stage && cc->replay_final > 0)
        snprintf(o + strlen(o), sizeof o - strlen(o), "; then %d steps alone on the final backbone's training tokens", cc->replay_final);
    if (cc->ema > 0) snprintf(o + strlen(o), sizeof o - strlen(o), "; generation from the weights' average (decay %g)", cc->ema);
    if (t->fresh.cd)
        snprintf(o + strlen(o), sizeof o - strlen(o), "; after training a fresh module, %d steps of %d, probed beside it",
                 cc->refresh, replay_batch(t));
    snprintf(buf, len, "CoCoDiff module: %zu parameters (training only), d %d, %d heads, %d blocks, guidance %s%s%s, "
             "text %s%s%s, predicts %s, %d L_diff pass(es) a step, optimizer %s, generation %s from epoch %d "
             "(%d DDIM steps, guidance scale %g)%s, parts %s",
             cocodiff_num_params(t->u.cd), cc->d, cc->heads, cc->blocks, g, cc->text_type_embed ? ", type embeddings" : "",
             cc->part_text_inject ? ", own text first" : "", t->text, cc->text_control ? ", control: " : "",
             cc->text_control ? tc : "", p, cc->diff_repeats, o, cc->generation ? "on" : "off", t->spec.gen_start + 1,
             cc->gen_steps, cc->guidance_scale, cc->gen_noise ? " (control: replaced by noise of its size)" : "",
             t->parts_path);
}

float *cdtrain_grads(CdTrain *t) { return cocodiff_grads(t->u.cd); }
size_t cdtrain_num_params(const CdTrain *t) { return cocodiff_num_params(t->u.cd); }
const float *cdtrain_dfeat(const CdTrain *t) { return t->dfeat; }
const float *cdtrain_dlast(const CdTrain *t) { return t->dlast; }

// ---------------------------------------------------------------------------
// The step

// The step's tokens (n, 7, C) in hparts and their way back into the
// backbone (dhparts, dfeat, dlast): the last unit's output pooled by part,
// token 0 = the head's input exactly. ctl (NULL: none) may give the
// outputs of a training batch instead of m's.
static CocodiffTokens tokens_of(CdTrain *t, Ctrgcn *m, const CdTrainCtl *ctl, float *hparts) {
    CocodiffTokens io = {.feat = ctrgcn_features(m), .C = t->C, .M = t->M, .V = t->V, .parts = &t->parts,
                         .h = hparts, .dh = t->dhparts, .dfeat = t->dfeat, .dlast = t->dlast};
    io.last = ctrgcn_last_output(m, NULL, &io.T, NULL, NULL);   // of m's last forward (generate_all: the test window)
    if (ctl && ctl->last) {
        io.last = ctl->last;
        io.feat = ctl->feat;
        io.T = t->Tl;
    }
    return io;
}

static void part_tokens(CdTrain *t, Ctrgcn *m, const CdTrainCtl *ctl, float *hparts, int n) {
    CocodiffTokens io = tokens_of(t, m, ctl, hparts);
    io.dh = NULL;
    cocodiff_tokens_in(&io, 0, n);
}

int cdtrain_num_stats(void) { return cocodiff_num_stats() + 1; }

// The module's step on the whole batch in one piece (fn of ctrgcn_team_run:
// thread 0's job).
typedef struct WholeStep {
    CdTrain *t;
    const CocodiffTokens *io;
    const int32_t *labels;
    int n;
    const CocodiffHead *head;
    const CocodiffStepCtl *c;
    CocodiffLosses *lo;
    int rc;
} WholeStep;

static void whole_step(void *ctx, int k) {
    WholeStep *w = ctx;
    if (k) return;
    cocodiff_tokens_in(w->io, 0, w->n);
    w->rc = cocodiff_step(w->t->u.cd, w->t->hparts, w->labels, w->n, w->head, w->t->dhparts, w->c, w->lo);
    if (!w->rc) cocodiff_tokens_out(w->io, 0, w->n);
}

int cdtrain_step(CdTrain *t, Ctrgcn *m, const int32_t *labels, int n, const CdTrainCtl *ctl, double *stats) {
    const int C = t->C;
    if (!ctl->accumulate) cocodiff_zero_grad(t->u.cd);
    CocodiffHead head;
    float *hw, *hb;
    ctrgcn_head(m, &hw, &hb, &head.gw, &head.gb);
    head.w = hw;
    head.b = hb;
    CocodiffStepCtl c = {.seed = t->spec.seed, .step = ctl->step, .sample0 = ctl->sample0,
                         .generate = ctl->epoch >= t->spec.gen_start, .grad_scale = ctl->grad_scale};
    CocodiffLosses lo;
    const CocodiffTokens io = tokens_of(t, m, ctl, t->hparts);
    int rc;
    if (ctl->team && ctrgcn_team_lanes(ctl->team, n) > 1) {   // split over the threads too
        rc = t->split ? CD_OK : cocodiff_lanes_create(&t->split, t->u.cd, ctrgcn_team_lanes(ctl->team, INT_MAX));
        if (!rc) rc = cocodiff_lanes_step(t->split, ctl->team, &io, labels, n, &head, &c, &lo);
    } else {
        WholeStep w = {t, &io, labels, n, &head, &c, &lo, CD_OK};
        // With a team (one sample: its persons in two lanes) on its first
        // thread with BLAS on one: BLAS threads would spin on, after the
        // step, on the cores of the backward's lanes.
        if (ctl->team) ctrgcn_team_run(ctl->team, whole_step, &w);
        else whole_step(&w, 0);
        rc = w.rc;
    }
    if (rc) return rc;
    if (t->stage) {   // cocodiff.replay: keep the step's samples for cdtrain_replay
        const size_t tok = (size_t)COCODIFF_TOKENS * C;
        if (!ctl->accumulate) t->nstage = 0;
        memcpy(t->stage + (size_t)t->nstage * tok, t->hparts, (size_t)n * tok * sizeof(float));
        for (int i = 0; i < n; i++, t->nstage++) {
            t->stage_lab[t->nstage] = labels[i];
            t->stage_pos[t->nstage] = (ctl->sample0 + i) % t->spec.step_samples;
        }
    }
    const int ns = cocodiff_num_stats();
    for (int i = 0; i < ns; i++) {
        const CocodiffStat *st = cocodiff_stat(i);
        double v = *(const double *)((const char *)&lo + st->off);
        stats[i] = !st->generated || lo.generated ? v * n : 0.0;
    }
    stats[ns] = lo.generated ? n : 0;
    return CD_OK;
}

double cdtrain_stat_mean(const double *stats, int i, double n) {
    const double gen_n = stats[cocodiff_num_stats()];
    if (cocodiff_stat(i)->generated) return gen_n > 0 ? stats[i] / gen_n : NAN;
    return stats[i] / n;
}

int cdtrain_progress(const double *stats, double n, const char **names, double *means, int max) {
    int k = 0;
    for (int p = 1; p <= cocodiff_num_stats(); p++)
        for (int i = 0; i < cocodiff_num_stats() && k < max; i++)
            if (cocodiff_stat(i)->progress == p) {
                double v = cdtrain_stat_mean(stats, i, n);
                names[k] = cocodiff_stat(i)->name;
                means[k++] = isnan(v) ? 0.0 : v;
            }
    return k;
}

double cdtrain_loss(const double *stats) {
    for (int i = 0; i < cocodiff_num_stats(); i++)
        if (!strcmp(cocodiff_stat(i)->name, "total")) return stats[i];
    return 0.0;
}

void cdtrain_optim_step(CdTrain *t, double lr, int64_t epoch) {
    const CdTrainSpec *s = &t->spec;
    if (!cocodiff_config(t->u.cd)->lr_decay)
        lr = epoch < s->warm_up ? s->base_lr * (double)(epoch + 1) / s->warm_up : s->base_lr;
    cdoptim_step(&t->u.opt, t->u.cd, lr);
}

// The step's samples from every rank, in their order within the step, into
// the buffer (the positions make the order independent of the rank count).
static int replay_add_step(CdTrain *t, const Dist *d) {
    const size_t tok = (size_t)COCODIFF_TOKENS * t->C, n = (size_t)t->nstage;
    void *at = NULL, *al = NULL, *ap = NULL;
    size_t nt = 0, nl = 0, np = 0;
    int rc = dist_allgather_bytes(d, t->stage, n * tok * sizeof(float), &at, &nt, NULL);
    if (!rc) rc = dist_allgather_bytes(d, t->stage_lab, n * sizeof(int32_t), &al, &nl, NULL);
    if (!rc) rc = dist_allgather_bytes(d, t->stage_pos, n * sizeof(int64_t), &ap, &np, NULL);
    const int64_t total = (int64_t)(np / sizeof(int64_t)), S = t->spec.step_samples;
    if (!rc && total != S) {
        CD_ERR("cocodiff.replay: the step had %lld samples over the ranks, expected %lld", (long long)total, (long long)S);
        rc = CD_EARG;
    }
    const float *tk = at;
    const int32_t *lb = al;
    const int64_t *ps = ap;
    for (int64_t i = 0; !rc && i < total; i++) {
        memcpy(t->ordered + (size_t)ps[i] * tok, tk + (size_t)i * tok, tok * sizeof(float));
        t->ord_lab[ps[i]] = lb[i];
    }
    if (!rc) cdreplay_add(&t->replay, t->ordered, t->ord_lab, (int)S);
    free(at); free(al); free(ap);
    return rc;
}

// Replay steps run at a step once the buffer holds a replay batch (or is full).
static int replay_batch(const CdTrain *t) {
    const CocodiffConfig *c = cocodiff_config(t->u.cd);
    return c->replay_batch > 0 ? c->replay_batch : t->spec.step_samples;
}
static int replay_runs(const CdTrain *t, int64_t filled) {
    int64_t need = replay_batch(t);
    return filled >= (need < t->replay.cap ? need : t->replay.cap);
}

// n module steps of unit u on batches drawn from buf, keyed (seed, key, k)
// for k = k0.. k0 + n - 1: each split over the ranks, its gradients summed
// over them, then an optimizer step: the co-trained module's at the
// backbone's lr of `epoch` (cdtrain_optim_step), the fresh one's at lr as
// given (epoch < 0). With a head (frozen: its gradients are scratch) the
// steps generate and take L_gen through it; without, they do not. With a
// team, a rank's samples of a step are split over its lanes as the
// co-trained step's are (cocodiff_lanes.h: the same draws, the lanes'
// gradients added in lane order). *diff: their mean L_diff (all ranks).
static int buffer_steps(CdTrain *t, const Dist *d, CtrgcnTeam *team, Unit *u, const CdReplay *buf,
                        const CocodiffHead *head, double lr, int64_t epoch, int64_t key, int64_t k0, int nsteps,
                        double *diff) {
    const int B = replay_batch(t), lo = (int)((int64_t)B * d->rank / d->size);
    const int n = (int)((int64_t)B * (d->rank + 1) / d->size) - lo;
    const size_t tok = (size_t)COCODIFF_TOKENS * t->C;
    int *slots = cd_malloc((size_t)B * sizeof(int));
    float *hb = cd_malloc((size_t)(n > 0 ? n : 1) * tok * sizeof(float));
    int32_t *lb = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    int rc = dist_agree(d, slots && hb && lb ? CD_OK : CD_ENOMEM);
    double sum[2] = {0, 0};   // L_diff x samples, samples
    for (int64_t k = k0; k < k0 + nsteps && !rc; k++) {
        cdreplay_draw(buf, t->spec.seed, key, (int)k, B, slots);
        for (int i = 0; i < n; i++) {
            memcpy(hb + (size_t)i * tok, cdreplay_tokens(buf, slots[lo + i]), tok * sizeof(float));
            lb[i] = cdreplay_label(buf, slots[lo + i]);
        }
        // draws keyed apart from the backbone's samples (index >= 2^40)
        CocodiffStepCtl ctl = {.seed = t->spec.seed, .step = key, .sample0 = ((k + 1) << 40) + lo,
                               .generate = head != NULL, .grad_scale = (float)n / (float)B};
        CocodiffLosses l = {0};
        cocodiff_zero_grad(u->cd);
        if (n > 0 && team && ctrgcn_team_lanes(team, n) > 1) {
            CocodiffLanes **split = u == &t->fresh ? &t->fresh_split : &t->split;
            if (!*split) rc = cocodiff_lanes_create(split, u->cd, ctrgcn_team_lanes(team, INT_MAX));
            const CocodiffTokens io = {.h = hb, .C = t->C};
            if (!rc) rc = cocodiff_lanes_step(*split, team, &io, lb, n, head, &ctl, &l);
        } else if (n > 0) {
            rc = cocodiff_step(u->cd, hb, lb, n, head, NULL, &ctl, &l);
        }
        sum[0] += l.diff * n;
        sum[1] += n;
        rc = dist_agree(d, rc);
        if (!rc) rc = dist_agree(d, dist_allreduce_sum_f32(d, cocodiff_grads(u->cd), cocodiff_num_params(u->cd)));
        if (rc) break;
        if (epoch >= 0) cdtrain_optim_step(t, lr, epoch);
        else cdoptim_step(&u->opt, u->cd, lr);
    }
    free(slots); free(hb); free(lb);
    if (!rc) rc = dist_allreduce_sum_f64(d, sum, 2);
    if (diff) *diff = sum[1] > 0 ? sum[0] / sum[1] : 0.0;
    return rc;
}

int cdtrain_replay(CdTrain *t, const Dist *d, CtrgcnTeam *team, double lr, int64_t epoch, int64_t step) {
    const CocodiffConfig *c = cocodiff_config(t->u.cd);
    if (!t->stage) return CD_OK;
    int rc = dist_agree(d, replay_add_step(t, d));
    if (rc || c->replay_steps <= 0 || !replay_runs(t, cdreplay_filled(&t->replay))) return rc;
    return buffer_steps(t, d, team, &t->u, &t->replay, NULL, lr, epoch, step, 0, c->replay_steps, NULL);
}

int cdtrain_replay_final_passes(const CdTrain *t, int64_t n_train) {
    const CocodiffConfig *c = cocodiff_config(t->u.cd);
    if (!t->stage || c->replay_final <= 0 || n_train <= 0) return 0;
    int64_t p = (c->replay + n_train - 1) / n_train;
    return p > 1 ? (int)p : 1;
}

int cdtrain_replay_final(CdTrain *t, const Dist *d, CtrgcnTeam *team, double lr, int64_t epoch, const float *tokens,
                         const int32_t *labels, int64_t n) {
    const CocodiffConfig *c = cocodiff_config(t->u.cd);
    if (!t->stage || c->replay_final <= 0 || n <= 0) return CD_OK;
    double t0 = dist_wtime(), diff = 0;
    // the buffer now holds exactly these rows (it is not checkpointed again)
    cdreplay_free(&t->replay);
    int rc = dist_agree(d, n > INT32_MAX ? CD_EARG : cdreplay_init(&t->replay, (int)n, t->C));
    if (rc) return rc;
    cdreplay_add(&t->replay, tokens, labels, (int)n);
    rc = buffer_steps(t, d, team, &t->u, &t->replay, NULL, lr, epoch, -3, 0, c->replay_final, &diff);
    if (!rc)
        log_info(d, "train | CoCoDiff module alone after training: %d steps of %d on the %lld training tokens of the "
                 "final backbone, mean diff %.4f, %.1fs", c->replay_final, replay_batch(t), (long long)n, diff,
                 dist_wtime() - t0);
    return rc;
}

int64_t cdtrain_refresh_left(const CdTrain *t) {
    if (!t->fresh.cd || !cocodiff_config(t->u.cd)->generation) return 0;
    return (int64_t)t->fresh_state[1] - (int64_t)t->fresh_state[0];
}
int64_t cdtrain_refresh_done(const CdTrain *t) { return t->fresh.cd ? (int64_t)t->fresh_state[0] : 0; }
long long cdtrain_refresh_restarted(const CdTrain *t) { return t->fresh_restart; }

int cdtrain_refresh_begin(CdTrain *t, const float *tokens, const int32_t *labels, int64_t n) {
    if (!t->fresh.cd) return CD_OK;
    cdreplay_free(&t->rows);
    int rc = n < 1 || n > INT32_MAX ? CD_EARG : cdreplay_init(&t->rows, (int)n, t->C);
    if (rc) return rc;
    cdreplay_add(&t->rows, tokens, labels, (int)n);
    free(t->head_grads);
    if (!(t->head_grads = cd_malloc((size_t)t->K * (t->C + 1) * sizeof(float)))) return CD_ENOMEM;
    t->fresh_state[2] = (float)n;
    t->fresh_on = 1;
    return CD_OK;
}

int cdtrain_refresh_step(CdTrain *t, const Dist *d, CtrgcnTeam *team, Ctrgcn *m, double *diff) {
    const int64_t s = (int64_t)t->fresh_state[0], total = (int64_t)t->fresh_state[1];
    const double lr = cdoptim_phase_lr(t->spec.base_lr, s, total);
    // L_gen through the final (frozen) head from a sixth of the phase on, as
    // cocodiff-frozen's measured runs (--gen-start 0.17, results I)
    float *hw, *hb, *gw, *gb;
    ctrgcn_head(m, &hw, &hb, &gw, &gb);
    memset(t->head_grads, 0, (size_t)t->K * (t->C + 1) * sizeof(float));
    CocodiffHead head = {hw, hb, t->head_grads, t->head_grads + (size_t)t->K * t->C};
    int rc = buffer_steps(t, d, team, &t->fresh, &t->rows, s >= total / 6 ? &head : NULL, lr, -1, REFRESH_KEY, s, 1,
                          diff);
    if (!rc) t->fresh_state[0] = (float)(s + 1);
    if (!rc && !cdtrain_params_finite(t)) rc = CD_EFORMAT;
    return rc;
}

int cdtrain_refresh_batch(const CdTrain *t) { return replay_batch(t); }

static int unit_finite(const Unit *u) {
    const float *p = u->cd ? cocodiff_params(u->cd) : NULL;
    for (size_t i = 0, n = p ? cocodiff_num_params(u->cd) : 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}
int cdtrain_params_finite(const CdTrain *t) { return unit_finite(&t->u) && unit_finite(&t->fresh); }

// ---------------------------------------------------------------------------
// Checkpoints

static int unit_groups(Unit *u, H5TensorGroup *g) {
    int nt = cocodiff_num_tensors(u->cd);
    for (int i = 0; i < u->ngroups; i++) g[i] = (H5TensorGroup){u->groups[i], u->tensors + (size_t)i * nt, nt};
    return u->ngroups;
}

// The groups a checkpoint holds: the co-trained module's, the replay
// buffer's, and the fresh module's with its progress once its phase has
// begun (all: those a checkpoint may hold, for reading it).
static int groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS], int all) {
    int n = unit_groups(&t->u, g);
    if (t->stage) g[n++] = cdreplay_group(&t->replay);
    if (t->fresh.cd && (all || t->fresh_on)) {
        n += unit_groups(&t->fresh, g + n);
        g[n++] = (H5TensorGroup){REFRESH_STATE, &t->state_view, 1};
    }
    return n;
}
int cdtrain_tensor_groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS]) { return groups(t, g, 0); }
int cdtrain_read_groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS]) { return groups(t, g, 1); }

static int restore_group(const Unit *u, const CheckpointFile *f, const char *group, float *dst, char *why,
                         size_t whylen) {
    int n = 0;
    const H5Tensor *h5 = checkpoint_file_group(f, group, &n);
    if (!h5)
        return cd_why(why, whylen, CD_EFORMAT, "%s: no /%s group (HINT: written without the CoCoDiff module? resume "
                      "it with cocodiff.module off, or start the module run from it with weights: %s)", f->path,
                      group, f->path);
    for (int i = 0; i < cocodiff_num_tensors(u->cd); i++) {
        const CocodiffTensor *ct = cocodiff_tensor(u->cd, i);
        const H5Tensor *h = h5io_tensor_find(h5, n, ct->name);
        if (!h || h->dtype || h->numel != ct->numel)
            return cd_why(why, whylen, CD_EFORMAT, "%s: /%s/%s is missing or of another size (HINT: the module's "
                          "latent_dim, heads or blocks changed since it was written?)", f->path, group, ct->name);
        memcpy(dst + ct->offset, h->data, ct->numel * sizeof(float));
    }
    return CD_OK;
}

// cocodiff.refresh: the fresh module where a checkpoint written in its
// phase left it; none there (training not finished, or finished without
// the phase), or a phase of another length: it starts afresh.
static int refresh_restore(CdTrain *t, const CheckpointFile *f, char *why, size_t whylen) {
    int n = 0;
    const H5Tensor *h = t->fresh.cd ? checkpoint_file_group(f, REFRESH_STATE, &n) : NULL;
    h = h ? h5io_tensor_find(h, n, "steps") : NULL;
    if (!h) return CD_OK;
    const float *v = h->data;
    if (h->dtype || h->numel != 3 || v[0] < 0 || v[0] > v[1])
        return cd_why(why, whylen, CD_EFORMAT, "%s: /%s/steps is not (done, asked steps, rows)", f->path, REFRESH_STATE);
    if (v[1] != t->fresh_state[1]) {
        t->fresh_restart = (long long)v[1];
        return CD_OK;
    }
    int rc = CD_OK;
    for (int g = 0; g < t->fresh.ngroups && !rc; g++)
        rc = restore_group(&t->fresh, f, t->fresh.groups[g], t->fresh.gbase[g], why, whylen);
    if (rc) return rc;
    t->fresh_state[0] = v[0];
    t->fresh_state[2] = v[2];
    cdoptim_set_steps(&t->fresh.opt, (long long)v[0]);
    t->fresh_on = 1;
    return CD_OK;
}

int cdtrain_restore(CdTrain *t, const CheckpointFile *f, long long steps, char *why, size_t whylen) {
    int rc = CD_OK;
    for (int g = 0; g < t->u.ngroups && !rc; g++) rc = restore_group(&t->u, f, t->u.groups[g], t->u.gbase[g], why, whylen);
    // the module's optimizer steps with the backbone's, plus its replay steps
    long long msteps = steps;
    if (!rc && t->stage) {
        int n = 0;
        const H5Tensor *h = checkpoint_file_group(f, CDREPLAY_GROUP, &n);
        rc = cdreplay_restore(&t->replay, h, n, (int64_t)steps * t->spec.step_samples, f->path, why, whylen);
        for (long long s = 0; s < steps; s++) {
            int64_t filled = (s + 1) * (int64_t)t->spec.step_samples;
            if (replay_runs(t, filled < t->replay.cap ? filled : t->replay.cap))
                msteps += cocodiff_config(t->u.cd)->replay_steps;
        }
    }
    if (!rc) cdoptim_set_steps(&t->u.opt, msteps);
    if (!rc) rc = refresh_restore(t, f, why, whylen);
    return rc;
}

// ---------------------------------------------------------------------------
// The generated-feature measurement

#define MEASURE_STEP (-2)

// This rank's real and generated h_0 of every test batch it holds.
typedef struct Feats {
    float *real, *gen;    // (cap, C)
    float *parts;         // (cap, 7, C): the real part tokens (token 0 = real)
    int32_t *label;
    int64_t *index;
    int64_t n, cap;
} Feats;

static int feats_alloc(Feats *f, int64_t cap, int C) {
    size_t c = (size_t)(cap > 0 ? cap : 1);
    f->real = cd_malloc(c * C * sizeof(float));
    f->gen = cd_malloc(c * C * sizeof(float));
    f->parts = cd_malloc(c * COCODIFF_TOKENS * C * sizeof(float));
    f->label = cd_malloc(c * sizeof(int32_t));
    f->index = cd_malloc(c * sizeof(int64_t));
    f->cap = cap;
    return f->real && f->gen && f->parts && f->label && f->index ? CD_OK : CD_ENOMEM;
}

static void feats_free(Feats *f) {
    free(f->real); free(f->gen); free(f->parts); free(f->label); free(f->index);
    memset(f, 0, sizeof *f);
}

// Every batch of `test` through the backbone (eval mode) and the module's
// generation, into f.
static int generate_all(CdTrain *t, Ctrgcn *m, Loader *test, int W, float *x, float *logits, Feats *f) {
    const int C = t->C, nmax = loader_max_local(test), nb = loader_num_batches(test);
    size_t tok = (size_t)COCODIFF_TOKENS * C, n1 = (size_t)(nmax > 0 ? nmax : 1);
    float *hp = cd_malloc(n1 * tok * sizeof(float)), *hh = cd_malloc(n1 * tok * sizeof(float));
    int32_t *lab = cd_malloc(n1 * sizeof(int32_t));
    int64_t *idx = cd_malloc(n1 * sizeof(int64_t));
    int rc = hp && hh && lab && idx ? CD_OK : CD_ENOMEM;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(test, 0, b, x, lab, idx, &nl);
        if (rc || nl == 0) continue;
        if ((rc = ctrgcn_forward(m, logits, x, nl, W, 0))) break;
        part_tokens(t, m, NULL, hp, nl);
        // one call per run of consecutive sample indices (the draws are keyed by sample0 + i)
        for (int i = 0; i < nl && rc == CD_OK;) {
            int j = i + 1;
            while (j < nl && idx[j] == idx[i] + (j - i)) j++;
            CocodiffStepCtl ctl = {.seed = t->spec.seed, .step = MEASURE_STEP, .sample0 = idx[i], .generate = 1,
                                   .grad_scale = 1.0f};
            rc = cocodiff_generate(t->u.cd, hp + (size_t)i * tok, lab + i, j - i, &ctl, hh + (size_t)i * tok, NULL, NULL);
            i = j;
        }
        for (int i = 0; i < nl; i++, f->n++) {
            memcpy(f->real + (size_t)f->n * C, hp + (size_t)i * tok, (size_t)C * sizeof(float));
            memcpy(f->parts + (size_t)f->n * tok, hp + (size_t)i * tok, tok * sizeof(float));
            memcpy(f->gen + (size_t)f->n * C, hh + (size_t)i * tok, (size_t)C * sizeof(float));
            f->label[f->n] = lab[i];
            f->index[f->n] = idx[i];
        }
    }
    free(hp); free(hh); free(lab); free(idx);
    return rc;
}

// Rank 0: the figures, features.h5 and diversity.json of the gathered rows
// (ranks hold contiguous slices in rank order, so the rows are in the
// split's order already).
static int report(CdTrain *t, const Dist *d, Ctrgcn *m, const Feats *all, const CdTrainFinish *fin) {
    float *hw, *hb, *gw, *gb;
    ctrgcn_head(m, &hw, &hb, &gw, &gb);
    DiversityStats st;
    ConditioningOptions co;
    conditioning_options_default(&co);
    co.seed = t->spec.seed;
    CdProbe pc = {.module = "co-trained"}, pf = {.module = "refreshed"};
    const int with_fresh = t->fresh_on && cdtrain_refresh_left(t) == 0;
    int rc = diversity_measure(all->real, all->gen, all->label, all->n, t->C, t->K, hw, hb, &st);
    if (!rc)
        rc = cdprobe_measure(&pc, t->u.cd, all->parts, all->label, all->n, t->C, t->K, hw, hb, &co, fin->probe_scales,
                             fin->n_probe_scales);
    if (!rc && with_fresh) {
        pf.steps = cdtrain_refresh_done(t);
        pf.rows = (int64_t)t->fresh_state[2];
        pf.batch = replay_batch(t);
        rc = cdprobe_measure(&pf, t->fresh.cd, all->parts, all->label, all->n, t->C, t->K, hw, hb, &co,
                             fin->probe_scales, fin->n_probe_scales);
    }
    char path[4200];
    H5Features f = {.n = all->n, .C = t->C, .real = all->real, .generated = all->gen, .label = all->label,
                    .index = all->index};
    snprintf(f.data, sizeof f.data, "%s", fin->data ? fin->data : "");
    snprintf(f.split, sizeof f.split, "%s", fin->split ? fin->split : "test");
    snprintf(f.checkpoint, sizeof f.checkpoint, "%.1000s", fin->checkpoint);
    if (!rc && snprintf(path, sizeof path, "%s/features.h5", fin->work_dir) >= (int)sizeof path) rc = CD_EARG;
    if (!rc) rc = h5io_features_write(path, &f);
    if (!rc && snprintf(path, sizeof path, "%s/diversity.json", fin->work_dir) < (int)sizeof path)
        rc = cdprobe_write(&st, &pc, with_fresh ? &pf : NULL, t->K, path);
    if (!rc) cdprobe_log(d, &st, &pc, with_fresh ? &pf : NULL, fin->n_probe_scales > 0);
    cdprobe_free(&pc);
    cdprobe_free(&pf);
    return rc;
}

int cdtrain_finish(CdTrain *t, const Dist *d, Ctrgcn *m, Loader *test, int W, float *x, float *logits,
                   const CdTrainFinish *fin) {
    if (!cocodiff_config(t->u.cd)->generation) return CD_OK;
    Feats mine = {0}, all = {0};
    int rc = feats_alloc(&mine, (int64_t)loader_num_batches(test) * loader_max_local(test), t->C);
    if (!rc) rc = generate_all(t, m, test, W, x, logits, &mine);
    rc = dist_agree(d, rc);
    const size_t C = (size_t)t->C, n = (size_t)mine.n;
    void *ar = NULL, *ag = NULL, *ap = NULL, *al = NULL, *ai = NULL;
    size_t nr = 0, ng = 0, np = 0, nlab = 0, ni = 0;
    if (!rc) rc = dist_allgather_bytes(d, mine.real, n * C * sizeof(float), &ar, &nr, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.parts, n * COCODIFF_TOKENS * C * sizeof(float), &ap, &np, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.gen, n * C * sizeof(float), &ag, &ng, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.label, n * sizeof(int32_t), &al, &nlab, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.index, n * sizeof(int64_t), &ai, &ni, NULL);
    feats_free(&mine);
    all = (Feats){ar, ag, ap, al, ai, (int64_t)(ni / sizeof(int64_t)), 0};
    if (!rc && d->rank == 0 && all.n > 0) rc = report(t, d, m, &all, fin);
    feats_free(&all);
    return dist_agree(d, rc);
}
