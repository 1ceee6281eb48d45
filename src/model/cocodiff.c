// cocodiff.c - the CoCoDiff module (see cocodiff.h; docs/method.md "CoCoDiff
// module"): parameter table, initialisation, the training step (L_rec,
// L_diff, generation, L_gen, coarse and fine contrastive losses with their
// gradient paths) and generation alone.
//
// Randomness: every draw of sample b comes from a counter-based stream keyed
// by (seed, step, sample0 + b, purpose), so a step's draws do not depend on
// the number of ranks, and switching one loss off does not shift the draws
// of another.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cocodiff.h"
#include "metrics.h"
#include "cocodiff_denoiser.h"
#include "crng.h"
#include "layers.h"
#include "status.h"
#include "tlayers.h"

#define L COCODIFF_TOKENS

// Draw purposes (crng.h streams under the module's salt)
enum { RNG_T = 1, RNG_EPS = 2, RNG_DROP = 3, RNG_TGEN = 4, RNG_EPSGEN = 5, RNG_INIT = 6, RNG_NOISECTL = 7 };
static Crng rng_make(uint64_t seed, int64_t step, int64_t index, int purpose) {
    return crng_make(0x636f636f64696666ULL /* "cocodiff" */, seed, step, index, purpose);
}

// ---------------------------------------------------------------------------
// Module state

typedef struct CdW {   // every parameter (or grad) of the module
    float *enc_w, *enc_b, *encn_w, *encn_b;   // (d, C), (d), (d), (d)
    float *dec_w, *dec_b;                     // (C, d), (C)
    float *txt_w, *txt_b;                     // (d, Dt), (d)
    float *txt_type;                          // (7, d) or NULL (text_type_embed off)
    CdDenoiserW den;
    float *proj_w, *proj_b;                   // (Dt, C), (Dt)
    float *logit_scale;                       // (1)
} CdW;

enum { I_LIN = 0, I_XAVIER, I_ZERO, I_ONE, I_POS, I_LOGIT };

typedef struct Enc {   // encoder forward cache
    float *a, *mu, *rs, *z;   // (N, d), (N), (N), (N, d)
} Enc;

typedef struct StepBufs {
    Enc rec, det, dbb;
    float *hr, *dhr, *dz, *da;                        // (N, C), (N, C), (N, d), (N, d)
    float *eps, *zt, *traw, *ctx, *keep, *epshat, *deps, *dctx, *dzt, *tgt;
    float *cache, *work;
    float *zg, *x0b, *epsd, *epsu, *ctxu, *ctxg, *zh0, *hh0, *dhh0, *glog, *gprob, *gdlog;
    float *u, *un, *dun, *du, *nrm, *clog, *cprob, *cdlog;
    int32_t *t, *tgen, *tbuf, *drop;
} StepBufs;

struct Cocodiff {
    CocodiffConfig cfg;
    int C, Dt, K;
    CocodiffTensor *tab;
    unsigned char *init_kind;
    int *fan_in, *fan_out;
    int ntab, captab;
    size_t nparams;
    float *params, *grads;
    float *ema;                                 // cfg.ema > 0: the weights' moving average (nparams)
    CdW w, g, wdet, wema;
    CdDenoiser den;
    CocodiffSchedule sched;
    float *coarse, *fine, *coarse_n, *fine_n;   // (K, Dt), (K, 6, Dt), normalised copies
    int has_text;                               // cocodiff_set_text was called
    const float *det_params, *det_h;
    int alloc_B;
    float *arena;
    int32_t *iarena;
    StepBufs b;
};

// ---------------------------------------------------------------------------
// Parameter table: one walk over the tensors in a fixed order, run once to
// build the table and then once per base (params, grads, a detached copy).

typedef struct Walk {
    Cocodiff *m;
    int build;         // 1: append table entries; 0: hand out base + offset
    const float *base;
    int i;
    int err;
} Walk;

static float *reg(Walk *w, int init, int fan_in, int fan_out, int ndim, int64_t s0, int64_t s1,
                  const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static float *reg(Walk *w, int init, int fan_in, int fan_out, int ndim, int64_t s0, int64_t s1,
                  const char *fmt, ...) {
    Cocodiff *m = w->m;
    if (!w->build) return (float *)(w->base + m->tab[w->i++].offset);
    if (m->ntab == m->captab) {
        int cap = m->captab ? 2 * m->captab : 128;
        CocodiffTensor *t = cd_realloc(m->tab, (size_t)cap * sizeof *t);
        if (t) m->tab = t;
        unsigned char *ik = cd_realloc(m->init_kind, (size_t)cap);
        if (ik) m->init_kind = ik;
        int *fi = cd_realloc(m->fan_in, (size_t)cap * sizeof(int));
        if (fi) m->fan_in = fi;
        int *fo = cd_realloc(m->fan_out, (size_t)cap * sizeof(int));
        if (fo) m->fan_out = fo;
        if (!t || !ik || !fi || !fo) { w->err = 1; return NULL; }
        m->captab = cap;
    }
    CocodiffTensor *t = &m->tab[m->ntab];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->shape[0] = s0;
    t->shape[1] = s1;
    t->numel = ndim == 0 ? 1 : ndim == 1 ? (size_t)s0 : (size_t)s0 * (size_t)s1;
    t->offset = m->nparams;
    t->decay = init == I_LIN || init == I_XAVIER ? ndim == 2 : 0;
    m->init_kind[m->ntab] = (unsigned char)init;
    m->fan_in[m->ntab] = fan_in;
    m->fan_out[m->ntab] = fan_out;
    m->nparams += t->numel;
    m->ntab++;
    return NULL;
}

// Linear(in -> out) as "<name>.weight" (out, in) and "<name>.bias" (out)
static void reg_linear(Walk *w, float **pw, float **pb, int in, int out, const char *name) {
    *pw = reg(w, I_LIN, in, out, 2, out, in, "cocodiff.%s.weight", name);
    *pb = reg(w, I_LIN, in, out, 1, out, 0, "cocodiff.%s.bias", name);
}
static void reg_norm(Walk *w, float **pw, float **pb, int d, const char *name) {
    *pw = reg(w, I_ONE, 0, 0, 1, d, 0, "cocodiff.%s.weight", name);
    *pb = reg(w, I_ZERO, 0, 0, 1, d, 0, "cocodiff.%s.bias", name);
}
static void reg_attn(Walk *w, float **p, int d, int l, int which) {
    static const char *nm[8] = {"wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo"};
    for (int i = 0; i < 8; i++) {
        int bias = i % 2, init = bias ? I_ZERO : i == 6 ? I_LIN : I_XAVIER;
        p[i] = reg(w, init, d, d, bias ? 1 : 2, d, bias ? 0 : d, "cocodiff.blocks.%d.attn%d.%s", l,
                   which, nm[i]);
    }
}

static void walk(Cocodiff *m, Walk *w, CdW *W) {
    const CocodiffConfig *c = &m->cfg;
    int d = c->d, C = m->C, Dt = m->Dt, hid = c->mlp_ratio * c->d;
    char nm[64];
    memset(W, 0, sizeof *W);
    reg_linear(w, &W->enc_w, &W->enc_b, C, d, "enc");
    reg_norm(w, &W->encn_w, &W->encn_b, d, "enc_norm");
    reg_linear(w, &W->dec_w, &W->dec_b, d, C, "dec");
    reg_linear(w, &W->txt_w, &W->txt_b, Dt, d, "text_proj");
    if (c->text_type_embed) W->txt_type = reg(w, I_POS, 0, 0, 2, L, d, "cocodiff.text_type");
    CdDenoiserW *D = &W->den;
    reg_linear(w, &D->t1w, &D->t1b, d, d, "time_mlp.0");
    reg_linear(w, &D->t2w, &D->t2b, d, d, "time_mlp.2");
    if (c->pos_embed) D->pos = reg(w, I_POS, 0, 0, 2, L, d, "cocodiff.pos_embed");
    for (int l = 0; l < c->blocks; l++) {
        CdBlockW *k = &D->blk[l];
        snprintf(nm, sizeof nm, "blocks.%d.norm1", l);
        reg_norm(w, &k->n1w, &k->n1b, d, nm);
        float *a1[8], *a2[8];
        reg_attn(w, a1, d, l, 1);
        k->wq1 = a1[0]; k->bq1 = a1[1]; k->wk1 = a1[2]; k->bk1 = a1[3];
        k->wv1 = a1[4]; k->bv1 = a1[5]; k->wo1 = a1[6]; k->bo1 = a1[7];
        snprintf(nm, sizeof nm, "blocks.%d.norm2", l);
        reg_norm(w, &k->n2w, &k->n2b, d, nm);
        reg_attn(w, a2, d, l, 2);
        k->wq2 = a2[0]; k->bq2 = a2[1]; k->wk2 = a2[2]; k->bk2 = a2[3];
        k->wv2 = a2[4]; k->bv2 = a2[5]; k->wo2 = a2[6]; k->bo2 = a2[7];
        snprintf(nm, sizeof nm, "blocks.%d.norm3", l);
        reg_norm(w, &k->n3w, &k->n3b, d, nm);
        snprintf(nm, sizeof nm, "blocks.%d.mlp.0", l);
        reg_linear(w, &k->m1w, &k->m1b, d, hid, nm);
        snprintf(nm, sizeof nm, "blocks.%d.mlp.2", l);
        reg_linear(w, &k->m2w, &k->m2b, hid, d, nm);
    }
    reg_norm(w, &D->now, &D->nob, d, "norm_out");
    reg_linear(w, &D->outw, &D->outb, d, d, "out");
    reg_linear(w, &W->proj_w, &W->proj_b, C, Dt, "proj");
    W->logit_scale = reg(w, I_LOGIT, 0, 0, 0, 0, 0, "cocodiff.logit_scale");
}

static void point(Cocodiff *m, const float *base, CdW *W) {
    Walk w = {m, 0, base, 0, 0};
    walk(m, &w, W);
}

// ---------------------------------------------------------------------------
// Lifecycle

static int check_config(const CocodiffConfig *c, int C, int Dt, int K) {
    if (C < 1 || Dt < 1 || K < 1) {
        CD_ERR("cocodiff: C %d, Dt %d, K %d must be positive", C, Dt, K);
        return CD_EARG;
    }
    if (c->d < 4 || c->heads < 1 || c->d % c->heads || c->blocks < 0 ||
        c->blocks > COCODIFF_MAX_BLOCKS || c->mlp_ratio < 1) {
        CD_ERR("cocodiff: d %d (>= 4, divisible by heads %d), blocks %d (0..%d), mlp_ratio %d", c->d,
               c->heads, c->blocks, COCODIFF_MAX_BLOCKS, c->mlp_ratio);
        return CD_EARG;
    }
    if (c->prediction < COCODIFF_PRED_EPS || c->prediction > COCODIFF_PRED_V) {
        CD_ERR("cocodiff: prediction %d (0 eps, 1 x0, 2 v)", (int)c->prediction);
        return CD_EARG;
    }
    if (c->guidance < COCODIFF_GUIDE_NONE || c->guidance > COCODIFF_GUIDE_BOTH ||
        !(c->cond_drop >= 0 && c->cond_drop <= 1)) {
        CD_ERR("cocodiff: guidance %d (0 none, 1 coarse, 2 fine, 3 both), cond_drop %g in [0, 1]",
               (int)c->guidance, c->cond_drop);
        return CD_EARG;
    }
    if (c->diff_repeats < 1 || c->diff_repeats > 64) {
        CD_ERR("cocodiff: diff_repeats %d (1..64)", c->diff_repeats);
        return CD_EARG;
    }
    if (c->gen_steps < 1 || !(c->t_gen_lo >= 0 && c->t_gen_lo <= c->t_gen_hi && c->t_gen_hi <= 1)) {
        CD_ERR("cocodiff: gen_steps %d (>= 1), t_gen range [%g, %g] within [0, 1]", c->gen_steps,
               c->t_gen_lo, c->t_gen_hi);
        return CD_EARG;
    }
    if (!(c->logit_scale_max > 0) || !(c->l_diff >= 0 && c->l_rec >= 0 && c->l_gen >= 0 &&
                                      c->l_coarse >= 0 && c->l_fine >= 0)) {
        CD_ERR("cocodiff: loss weights must be >= 0 and logit_scale_max > 0");
        return CD_EARG;
    }
    return CD_OK;
}

int cocodiff_create(Cocodiff **out, const CocodiffConfig *cfg, int C, int Dt, int K) {
    *out = NULL;
    int rc = check_config(cfg, C, Dt, K);
    if (rc) return rc;
    Cocodiff *m = cd_calloc(1, sizeof *m);
    if (!m) return CD_ENOMEM;
    m->cfg = *cfg;
    m->C = C;
    m->Dt = Dt;
    m->K = K;
    Walk w = {m, 1, NULL, 0, 0};
    CdW dummy;
    walk(m, &w, &dummy);
    if (w.err) { cocodiff_free(m); return CD_ENOMEM; }
    m->params = cd_calloc(m->nparams, sizeof(float));
    m->grads = cd_calloc(m->nparams, sizeof(float));
    m->coarse = cd_malloc((size_t)K * Dt * sizeof(float));
    m->fine = cd_malloc((size_t)K * COCODIFF_PARTS * Dt * sizeof(float));
    m->coarse_n = cd_malloc((size_t)K * Dt * sizeof(float));
    m->fine_n = cd_malloc((size_t)K * COCODIFF_PARTS * Dt * sizeof(float));
    if (!m->params || !m->grads || !m->coarse || !m->fine || !m->coarse_n || !m->fine_n) {
        cocodiff_free(m);
        return CD_ENOMEM;
    }
    if (cfg->ema > 0 && !(m->ema = cd_calloc(m->nparams, sizeof(float)))) {
        cocodiff_free(m);
        return CD_ENOMEM;
    }
    point(m, m->params, &m->w);
    point(m, m->grads, &m->g);
    if (m->ema) point(m, m->ema, &m->wema);
    rc = cd_denoiser_init(&m->den, cfg->d, cfg->heads, cfg->blocks, cfg->mlp_ratio * cfg->d);
    m->den.inject = cfg->part_text_inject;
    if (!rc) rc = cocodiff_schedule_init(&m->sched, cfg->schedule, cfg->T_diff, cfg->beta_start, cfg->beta_end);
    if (rc) { cocodiff_free(m); return rc; }
    cocodiff_init(m, 0);
    *out = m;
    return CD_OK;
}

static void free_batch(Cocodiff *m) {
    free(m->arena);
    free(m->iarena);
    m->arena = NULL;
    m->iarena = NULL;
    m->alloc_B = 0;
}

void cocodiff_free(Cocodiff *m) {
    if (!m) return;
    free_batch(m);
    cocodiff_schedule_free(&m->sched);
    free(m->tab); free(m->init_kind); free(m->fan_in); free(m->fan_out);
    free(m->params); free(m->grads); free(m->ema);
    free(m->coarse); free(m->fine); free(m->coarse_n); free(m->fine_n);
    free(m);
}

const CocodiffConfig *cocodiff_config(const Cocodiff *m) { return &m->cfg; }
int cocodiff_num_tensors(const Cocodiff *m) { return m->ntab; }
const CocodiffTensor *cocodiff_tensor(const Cocodiff *m, int i) {
    return i >= 0 && i < m->ntab ? &m->tab[i] : NULL;
}
const CocodiffTensor *cocodiff_find(const Cocodiff *m, const char *name) {
    for (int i = 0; i < m->ntab; i++)
        if (!strcmp(m->tab[i].name, name)) return &m->tab[i];
    return NULL;
}
size_t cocodiff_num_params(const Cocodiff *m) { return m->nparams; }
float *cocodiff_params(Cocodiff *m) { return m->params; }
float *cocodiff_grads(Cocodiff *m) { return m->grads; }
void cocodiff_zero_grad(Cocodiff *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }
float *cocodiff_ema_params(Cocodiff *m) { return m->ema; }

// The average's decay after `steps` optimizer steps: cfg.ema, but at most
// (1 + steps) / (10 + steps), so the init's weights fade fast early on.
void cocodiff_ema_update(Cocodiff *m, long long steps) {
    if (!m->ema) return;
    double k = (1.0 + (double)steps) / (10.0 + (double)steps), dec = m->cfg.ema < k ? m->cfg.ema : k;
    const float a = (float)dec, b = (float)(1.0 - dec);
    for (size_t i = 0; i < m->nparams; i++) m->ema[i] = a * m->ema[i] + b * m->params[i];
}

// The weights generation reads: the test hook's, else the average (cfg.ema),
// else the live ones. Generation uses the denoiser and text projection of
// them; the encoder and decoder stay the live ones.
static const CdW *gen_weights(const Cocodiff *m) {
    return m->det_params ? &m->wdet : m->ema ? &m->wema : &m->w;
}

int cocodiff_part_grads(const Cocodiff *m) {
    return m->cfg.l_fine > 0 || m->cfg.rec_to_backbone || m->cfg.diff_to_backbone;
}

void cocodiff_init(Cocodiff *m, uint64_t seed) {
    for (int i = 0; i < m->ntab; i++) {
        const CocodiffTensor *t = &m->tab[i];
        float *p = m->params + t->offset;
        Crng r = rng_make(seed, -1, i, RNG_INIT);
        switch (m->init_kind[i]) {
        case I_LIN:
        case I_XAVIER: {
            double bound = m->init_kind[i] == I_LIN ? 1.0 / sqrt((double)m->fan_in[i])
                                                    : sqrt(6.0 / (m->fan_in[i] + m->fan_out[i]));
            for (size_t k = 0; k < t->numel; k++) p[k] = (float)((2.0 * crng_uniform(&r) - 1.0) * bound);
            break;
        }
        case I_ZERO: memset(p, 0, t->numel * sizeof(float)); break;
        case I_ONE: for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f; break;
        case I_POS:
            crng_normals(&r, p, t->numel);
            for (size_t k = 0; k < t->numel; k++) p[k] *= 0.02f;
            break;
        case I_LOGIT: p[0] = m->cfg.logit_scale_init; break;
        }
    }
    if (m->ema) memcpy(m->ema, m->params, m->nparams * sizeof(float));
}

static void l2_normalise_rows(float *out, const float *in, size_t rows, int D) {
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (int k = 0; k < D; k++) s += (double)in[r * D + k] * in[r * D + k];
        double inv = 1.0 / (sqrt(s) > 1e-12 ? sqrt(s) : 1e-12);
        for (int k = 0; k < D; k++) out[r * D + k] = (float)(in[r * D + k] * inv);
    }
}

int cocodiff_set_text(Cocodiff *m, const float *coarse, const float *fine) {
    if (!coarse || !fine) {
        CD_ERR("cocodiff_set_text: coarse and fine embeddings are both required");
        return CD_EARG;
    }
    size_t nc = (size_t)m->K * m->Dt, nf = nc * COCODIFF_PARTS;
    memcpy(m->coarse, coarse, nc * sizeof(float));
    memcpy(m->fine, fine, nf * sizeof(float));
    l2_normalise_rows(m->coarse_n, coarse, (size_t)m->K, m->Dt);
    l2_normalise_rows(m->fine_n, fine, (size_t)m->K * COCODIFF_PARTS, m->Dt);
    m->has_text = 1;
    return CD_OK;
}

void cocodiff_dims(const Cocodiff *m, int *C, int *Dt, int *K) {
    if (C) *C = m->C;
    if (Dt) *Dt = m->Dt;
    if (K) *K = m->K;
}

void cocodiff_text(const Cocodiff *m, const float **coarse, const float **fine) {
    *coarse = m->has_text ? m->coarse : NULL;
    *fine = m->has_text ? m->fine : NULL;
}

void cocodiff_debug_detach_from(Cocodiff *m, const float *params, const float *h_parts) {
    m->det_params = params;
    m->det_h = h_parts;
    if (params) point(m, params, &m->wdet);
}

// ---------------------------------------------------------------------------
// Batch buffers

static size_t carve(Cocodiff *m, float *base, int32_t *ibase, int B, StepBufs *b) {
    size_t N = (size_t)B * L, d = (size_t)m->cfg.d, C = (size_t)m->C, Dt = (size_t)m->Dt;
    size_t K = (size_t)m->K, Bs = (size_t)B, off = 0;
#define TAKE(ptr, cnt) do { if (base) (ptr) = base + off; off += (cnt); } while (0)
    Enc *e[3] = {&b->rec, &b->det, &b->dbb};
    for (int i = 0; i < 3; i++) {
        TAKE(e[i]->a, N * d); TAKE(e[i]->mu, N); TAKE(e[i]->rs, N); TAKE(e[i]->z, N * d);
    }
    TAKE(b->hr, N * C); TAKE(b->dhr, N * C); TAKE(b->dz, N * d); TAKE(b->da, N * d);
    TAKE(b->eps, N * d); TAKE(b->zt, N * d); TAKE(b->traw, N * Dt); TAKE(b->ctx, N * d);
    TAKE(b->keep, 2 * N); TAKE(b->epshat, N * d); TAKE(b->deps, N * d); TAKE(b->dctx, N * d);
    TAKE(b->dzt, N * d); TAKE(b->tgt, N * d);
    TAKE(b->cache, cd_denoiser_cache_size(&m->den, B));
    TAKE(b->work, cd_denoiser_work_size(&m->den, B));
    TAKE(b->zg, N * d); TAKE(b->x0b, Bs); TAKE(b->epsd, N * d); TAKE(b->epsu, N * d); TAKE(b->ctxu, N * d);
    TAKE(b->ctxg, N * d); TAKE(b->zh0, Bs * d); TAKE(b->hh0, Bs * C); TAKE(b->dhh0, Bs * C);
    TAKE(b->glog, Bs * K); TAKE(b->gprob, Bs * K); TAKE(b->gdlog, Bs * K);
    TAKE(b->u, Bs * Dt); TAKE(b->un, Bs * Dt); TAKE(b->dun, Bs * Dt); TAKE(b->du, Bs * Dt);
    TAKE(b->nrm, Bs); TAKE(b->clog, Bs * K); TAKE(b->cprob, Bs * K); TAKE(b->cdlog, Bs * K);
#undef TAKE
    if (ibase) {
        b->t = ibase;
        b->tgen = ibase + Bs;
        b->tbuf = ibase + 2 * Bs;
        b->drop = ibase + 3 * Bs;
    }
    return off;
}

static int ensure_batch(Cocodiff *m, int B) {
    if (B <= m->alloc_B) return CD_OK;
    free_batch(m);
    StepBufs tmp;
    size_t n = carve(m, NULL, NULL, B, &tmp);
    m->arena = cd_calloc(n, sizeof(float));
    m->iarena = cd_calloc((size_t)4 * B, sizeof(int32_t));
    if (!m->arena || !m->iarena) { free_batch(m); return CD_ENOMEM; }
    carve(m, m->arena, m->iarena, B, &m->b);
    m->alloc_B = B;
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Pieces of the step

// E: z = LN(h We^T + be) per token. h: (N, C).
static void enc_forward(const Cocodiff *m, const CdW *W, Enc *e, const float *h, int N) {
    linear_forward(e->a, h, W->enc_w, W->enc_b, N, m->C, m->cfg.d);
    layernorm_forward(e->z, e->mu, e->rs, e->a, W->encn_w, W->encn_b, N, m->cfg.d);
}
// E's parameter grads (+=) and dh (+=, or NULL) from dz: (N, d).
static void enc_backward(Cocodiff *m, float *dh, const float *dz, const Enc *e, const float *h, int N) {
    int d = m->cfg.d;
    memset(m->b.da, 0, (size_t)N * d * sizeof(float));
    layernorm_backward(m->b.da, m->g.encn_w, m->g.encn_b, dz, e->a, e->mu, e->rs, m->w.encn_w, N, d);
    linear_backward(dh, m->g.enc_w, m->g.enc_b, m->b.da, h, m->w.enc_w, N, m->C, d);
}

// The denoiser's regression target (cfg.prediction) for z_t = a z_0 + s eps,
// a = sqrt(abar_t), s = sqrt(1 - abar_t): eps; z_0; or v = a eps - s z_0.
// tgt, eps, z0: (B, n).
static void diff_target(const Cocodiff *m, float *tgt, const float *eps, const float *z0, const int32_t *t, int B,
                        size_t n) {
    for (int i = 0; i < B; i++) {
        double ab = m->sched.alphas_cumprod[t[i]];
        float a = (float)sqrt(ab), s = (float)sqrt(1.0 - ab);
        for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n; k++)
            tgt[k] = m->cfg.prediction == COCODIFF_PRED_X0  ? z0[k]
                     : m->cfg.prediction == COCODIFF_PRED_V ? a * eps[k] - s * z0[k]
                                                            : eps[k];
    }
}

// The denoiser's output (cfg.prediction) turned into the noise estimate DDIM
// reads, in place: from z_0: eps = (z - a out) / s; from v: eps = s z + a out.
static void output_to_eps(const Cocodiff *m, float *out, const float *z, const int32_t *t, int B, size_t n) {
    if (m->cfg.prediction == COCODIFF_PRED_EPS) return;
    for (int i = 0; i < B; i++) {
        double ab = m->sched.alphas_cumprod[t[i]];
        double a = sqrt(ab), s = sqrt(1.0 - ab);
        for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n; k++)
            out[k] = m->cfg.prediction == COCODIFF_PRED_X0 ? (float)((z[k] - a * out[k]) / s)
                                                           : (float)(s * z[k] + a * out[k]);
    }
}

// Text tokens of each sample's class: (B, 7, d) = [fine[y, 0..5], coarse[y]]
// through the shared projection, zero where the guidance mode leaves a token
// out or the sample's condition is dropped (keep: (B*7) 1/0), plus the
// token's type embedding (text_type_embed) in every case. coarse, fine:
// the text tables to read (the module's, or a probe's replacement).
static void build_ctx(Cocodiff *m, const CdW *W, float *ctx, float *keep, const int32_t *labels,
                      const int32_t *drop, int B, const float *coarse, const float *fine) {
    int Dt = m->Dt, d = m->cfg.d, gfine = m->cfg.guidance & COCODIFF_GUIDE_FINE,
        gcoarse = m->cfg.guidance & COCODIFF_GUIDE_COARSE;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < L; j++) {
            const float *src = j < COCODIFF_PARTS
                                   ? fine + ((size_t)labels[b] * COCODIFF_PARTS + j) * Dt
                                   : coarse + (size_t)labels[b] * Dt;
            memcpy(m->b.traw + ((size_t)b * L + j) * Dt, src, (size_t)Dt * sizeof(float));
            int present = (j < COCODIFF_PARTS ? gfine : gcoarse) && !(drop && drop[b]);
            keep[b * L + j] = present ? 1.0f : 0.0f;
        }
    linear_forward(ctx, m->b.traw, W->txt_w, W->txt_b, B * L, Dt, d);
    for (int i = 0; i < B * L; i++)
        if (keep[i] == 0.0f) memset(ctx + (size_t)i * d, 0, (size_t)d * sizeof(float));
    if (W->txt_type)   // which sentence a token is, present or dropped
        for (int i = 0; i < B * L; i++)
            for (int k = 0; k < d; k++) ctx[(size_t)i * d + k] += W->txt_type[(size_t)(i % L) * d + k];
}

typedef struct GenCtx {
    Cocodiff *m;
    const CdW *W;
    float w;   // the guidance scale of this generation
} GenCtx;

// eps = eps_u + w (eps_c - eps_u); w = 1 skips the unconditional pass.
static void gen_eps(void *vctx, float *eps, const float *z, const int32_t *t, int B) {
    GenCtx *g = vctx;
    Cocodiff *m = g->m;
    StepBufs *b = &m->b;
    size_t n = (size_t)L * m->cfg.d, Bn = (size_t)B * n;
    cd_denoiser_forward(&m->den, eps, b->cache, z, t, b->ctxg, &g->W->den, B, b->work);
    output_to_eps(m, eps, z, t, B, n);
    float w = g->w;
    if (w == 1.0f) return;
    cd_denoiser_forward(&m->den, b->epsu, b->cache, z, t, b->ctxu, &g->W->den, B, b->work);
    output_to_eps(m, b->epsu, z, t, B, n);
    for (size_t i = 0; i < Bn; i++) eps[i] = b->epsu[i] + w * (eps[i] - b->epsu[i]);
}

// z_hat_0 (B, 7, d) into b->zg from the detached z0 (B, 7, d): noise to
// t_gen, S DDIM steps under the condition of class text[b] (weights W, no
// dropout). p NULL: training's generation (t_gen drawn from the range, the
// module's texts); otherwise a probe's choices (cocodiff_generate_probe).
static void generate_latents(Cocodiff *m, const CdW *W, const float *z0, const int32_t *text, int B,
                             const CocodiffStepCtl *ctl, const CocodiffProbe *p) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    size_t n = (size_t)L * c->d;
    int lo, hi;
    cocodiff_t_gen_steps(m, &lo, &hi);
    int noise = p && p->from_noise;
    for (int i = 0; i < B; i++) {
        Crng r = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_TGEN);
        b->tgen[i] = p && p->t_start >= 0 ? p->t_start : lo + (int32_t)crng_below(&r, (int64_t)hi - lo + 1);
        Crng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_EPSGEN);
        crng_normals(&e, b->epsd + (size_t)i * n, n);
        float mx = 0.0f;
        for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n && !noise; k++) mx = fmaxf(mx, fabsf(z0[k]));
        b->x0b[i] = mx;
    }
    if (noise) memset(b->zg, 0, (size_t)B * n * sizeof(float));   // z_t = sqrt(1 - abar) eps
    cocodiff_q_sample(&m->sched, b->zg, noise ? b->zg : z0, b->epsd, b->tgen, B, n);
    const float *tc = p && p->coarse ? p->coarse : m->coarse, *tf = p && p->fine ? p->fine : m->fine;
    build_ctx(m, W, b->ctxg, b->keep, text, NULL, B, tc, tf);
    const float w = p && p->guidance > 0 ? p->guidance : c->guidance_scale;
    if (w != 1.0f) {   // classifier-free guidance: the dropped condition too
        for (int i = 0; i < B; i++) b->drop[i] = 1;
        build_ctx(m, W, b->ctxu, b->keep + (size_t)B * L, text, b->drop, B, tc, tf);
    }
    GenCtx g = {m, W, w};
    // from noise there is no real latent whose range could bound z0_hat
    cocodiff_ddim(&m->sched, b->zg, b->tgen, B, n, c->gen_steps, gen_eps, &g, b->epsd, b->tbuf,
                  c->clip_x0 && !noise ? b->x0b : NULL);
}

void cocodiff_t_gen_steps(const Cocodiff *m, int *lo, int *hi) {
    const CocodiffConfig *c = &m->cfg;
    int T = c->T_diff;
    *lo = (int)lround((double)c->t_gen_lo * T);
    *hi = (int)lround((double)c->t_gen_hi * T);
    if (*hi > T - 1) *hi = T - 1;
    if (*lo > *hi) *lo = *hi;
}

// Contrastive CE over classes: logits[i, k] = s cos(P x_i, e_k), s =
// exp(min(logit_scale, log max)); rows x_i at x + i xs (C floats); e_k at
// E + k es (Dt floats, L2-normalised). Accumulates dscale * dCE into P,
// logit_scale and dx (rows at dx + i xs, or NULL). Returns the mean CE.
static double contrast(Cocodiff *m, const float *x, size_t xs, const float *E, size_t es,
                       const int32_t *labels, int n, float dscale, float *dx, double *scale_out) {
    StepBufs *b = &m->b;
    int C = m->C, Dt = m->Dt, K = m->K;
    double lmax = log((double)m->cfg.logit_scale_max), ls = m->w.logit_scale[0];
    int clamped = ls >= lmax;
    float s = (float)exp(clamped ? lmax : ls);
    if (scale_out) *scale_out = s;
    blas_sgemm(0, 1, n, Dt, C, 1.0f, x, (int)xs, m->w.proj_w, C, 0.0f, b->u, Dt);
    for (int i = 0; i < n; i++) {
        float *u = b->u + (size_t)i * Dt, *un = b->un + (size_t)i * Dt;
        double q = 0;
        for (int k = 0; k < Dt; k++) {
            u[k] += m->w.proj_b[k];
            q += (double)u[k] * u[k];
        }
        double nr = sqrt(q) > 1e-12 ? sqrt(q) : 1e-12;
        b->nrm[i] = (float)nr;
        for (int k = 0; k < Dt; k++) un[k] = (float)(u[k] / nr);
    }
    // clog = cos (n, K) first, then the logits in cprob's place
    blas_sgemm(0, 1, n, K, Dt, 1.0f, b->un, Dt, E, (int)es, 0.0f, b->clog, K);
    for (size_t i = 0; i < (size_t)n * K; i++) b->cprob[i] = s * b->clog[i];
    float *logits = b->cdlog;   // reuse: logits, then dlogits
    memcpy(logits, b->cprob, (size_t)n * K * sizeof(float));
    double loss = crossentropy_forward(b->cprob, logits, labels, n, K);
    if (dscale == 0.0f) return loss;
    memset(b->cdlog, 0, (size_t)n * K * sizeof(float));
    crossentropy_backward(b->cdlog, b->cprob, labels, n, K, dscale);
    if (!clamped) {
        double ds = 0;
        for (size_t i = 0; i < (size_t)n * K; i++) ds += (double)b->cdlog[i] * b->clog[i];
        m->g.logit_scale[0] += (float)(ds * s);
    }
    // dun = s dlogits E  (n, Dt)
    blas_sgemm(0, 0, n, Dt, K, s, b->cdlog, K, E, (int)es, 0.0f, b->dun, Dt);
    for (int i = 0; i < n; i++) {
        const float *un = b->un + (size_t)i * Dt, *dun = b->dun + (size_t)i * Dt;
        float *du = b->du + (size_t)i * Dt;
        double dot = 0;
        for (int k = 0; k < Dt; k++) dot += (double)un[k] * dun[k];
        for (int k = 0; k < Dt; k++) du[k] = (float)((dun[k] - un[k] * dot) / b->nrm[i]);
    }
    blas_sgemm(1, 0, Dt, C, n, 1.0f, b->du, Dt, x, (int)xs, 1.0f, m->g.proj_w, C);
    for (int k = 0; k < Dt; k++) {
        double acc = 0;
        for (int i = 0; i < n; i++) acc += b->du[(size_t)i * Dt + k];
        m->g.proj_b[k] += (float)acc;
    }
    if (dx) blas_sgemm(0, 0, n, C, Dt, 1.0f, b->du, Dt, m->w.proj_w, C, 1.0f, dx, (int)xs);
    return loss;
}

static int check_batch(const Cocodiff *m, const float *h, const int32_t *labels, int B,
                       const CocodiffStepCtl *ctl) {
    if (!h || !labels || !ctl || B < 1) {
        CD_ERR("cocodiff: h_parts, labels and ctl are required and B (%d) >= 1", B);
        return CD_EARG;
    }
    for (int i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= m->K) {
            CD_ERR("cocodiff: label %d of sample %d is outside [0, %d)", (int)labels[i], i, m->K);
            return CD_EARG;
        }
    if (!m->has_text) {
        CD_ERR("cocodiff: no class texts (call cocodiff_set_text first)");
        return CD_EARG;
    }
    return CD_OK;
}

// One pass of L_diff over the batch (repeat r of cfg.diff_repeats: its own
// t, noise and dropout draws; repeat 0's are those of a single pass):
// forward, and with l_diff > 0 the backward into the denoiser, the text
// projection and (diff_to_backbone) E and dh_parts, scaled 1 / diff_repeats.
// Returns the pass's mean loss. z0: the latent it noises; e0: its live
// encoder forward (diff_to_backbone) or NULL.
static double diff_pass(Cocodiff *m, int r, const float *z0, const Enc *e0, const float *h, const int32_t *labels,
                        int B, float *dh_parts, const CocodiffStepCtl *ctl) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    int d = c->d, N = B * L, Dt = m->Dt, pr = 16 * r;
    size_t n = (size_t)L * d, Nd = (size_t)N * d;
    float sc = ctl->grad_scale / (float)c->diff_repeats;
    for (int i = 0; i < B; i++) {
        Crng rt = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_T + pr);
        if (c->t_power == 1.0f) b->t[i] = (int32_t)crng_below(&rt, c->T_diff);
        else {   // P(t >= x T) = (1 - x)^(1 / t_power): more of the large t that generation starts from
            int32_t tt = (int32_t)(c->T_diff * (1.0 - pow(1.0 - crng_uniform(&rt), (double)c->t_power)));
            b->t[i] = tt < c->T_diff ? tt : c->T_diff - 1;
        }
        Crng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_EPS + pr);
        crng_normals(&e, b->eps + (size_t)i * n, n);
        Crng q = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_DROP + pr);
        b->drop[i] = crng_uniform(&q) < (double)c->cond_drop;
    }
    cocodiff_q_sample(&m->sched, b->zt, z0, b->eps, b->t, B, n);
    build_ctx(m, &m->w, b->ctx, b->keep, labels, b->drop, B, m->coarse, m->fine);
    cd_denoiser_forward(&m->den, b->epshat, b->cache, b->zt, b->t, b->ctx, &m->w.den, B, b->work);
    diff_target(m, b->tgt, b->eps, z0, b->t, B, n);
    double acc = 0;
    float kd = 2.0f * c->l_diff * sc / (float)Nd;
    for (size_t i = 0; i < Nd; i++) {
        float e = b->epshat[i] - b->tgt[i];
        acc += (double)e * e;
        b->deps[i] = kd * e;
    }
    if (c->l_diff > 0) {
        memset(b->dctx, 0, Nd * sizeof(float));
        float *dzt = c->diff_to_backbone ? b->dzt : NULL;
        if (dzt) memset(dzt, 0, Nd * sizeof(float));
        cd_denoiser_backward(&m->den, dzt, b->dctx, &m->g.den, b->deps, b->cache, b->ctx, &m->w.den,
                             B, b->work);
        if (m->g.txt_type)
            for (int i = 0; i < N; i++)
                for (int k = 0; k < d; k++) m->g.txt_type[(size_t)(i % L) * d + k] += b->dctx[(size_t)i * d + k];
        for (int i = 0; i < N; i++)
            if (b->keep[i] == 0.0f) memset(b->dctx + (size_t)i * d, 0, (size_t)d * sizeof(float));
        linear_backward(NULL, m->g.txt_w, m->g.txt_b, b->dctx, b->traw, m->w.txt_w, N, Dt, d);
        if (dzt) {   // z_t = a z_0 + s eps, and the target's z_0 (x0: z_0; v: -s z_0): into E and h
            for (int i = 0; i < B; i++) {
                double ab = m->sched.alphas_cumprod[b->t[i]];
                float ca = (float)sqrt(ab), cs = (float)sqrt(1.0 - ab);
                float ct = c->prediction == COCODIFF_PRED_X0 ? -1.0f : c->prediction == COCODIFF_PRED_V ? cs : 0.0f;
                for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n; k++) dzt[k] = dzt[k] * ca + ct * b->deps[k];
            }
            enc_backward(m, dh_parts, dzt, e0, h, N);
        }
    }
    return acc / (double)Nd;
}

// The noise control (gen_noise): b->hh0 (B, C) = h_0 + ||h_hat_0 - h_0|| u,
// u a random unit direction per sample; h: (B, 7, C).
static void noise_control(Cocodiff *m, const float *h, int B, const CocodiffStepCtl *ctl) {
    int C = m->C;
    float *u = m->b.dhh0;   // scratch: dhh0 is zeroed after this
    for (int i = 0; i < B; i++) {
        float *g = m->b.hh0 + (size_t)i * C;
        const float *h0 = h + (size_t)i * L * C;
        double r = 0, q = 0;
        Crng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_NOISECTL);
        crng_normals(&e, u, (size_t)C);
        for (int k = 0; k < C; k++) {
            r += ((double)g[k] - h0[k]) * ((double)g[k] - h0[k]);
            q += (double)u[k] * u[k];
        }
        double s = q > 0 ? sqrt(r / q) : 0;
        for (int k = 0; k < C; k++) g[k] = (float)(h0[k] + s * u[k]);
    }
}

// ---------------------------------------------------------------------------
// The training step

// L_rec = mean (D(E(h)) - h)^2 on detached h (unless rec_to_backbone), with
// its gradients; returns the h it used.
static const float *step_rec(Cocodiff *m, const float *h, const float *hd, float *dh_parts, float sc, int N,
                             CocodiffLosses *lo) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    const int C = m->C, d = c->d;
    const size_t Nd = (size_t)N * d, NC = (size_t)N * C;
    const float *hin = c->rec_to_backbone ? h : hd;
    enc_forward(m, &m->w, &b->rec, hin, N);
    linear_forward(b->hr, b->rec.z, m->w.dec_w, m->w.dec_b, N, d, C);
    double acc = 0;
    float kr = 2.0f * c->l_rec * sc / (float)NC;
    for (size_t i = 0; i < NC; i++) {
        float e = b->hr[i] - hin[i];
        acc += (double)e * e;
        b->dhr[i] = kr * e;
    }
    lo->rec = acc / (double)NC;
    if (c->l_rec > 0) {
        memset(b->dz, 0, Nd * sizeof(float));
        linear_backward(b->dz, m->g.dec_w, m->g.dec_b, b->dhr, b->rec.z, m->w.dec_w, N, d, C);
        float *dh = c->rec_to_backbone ? dh_parts : NULL;
        if (dh)
            for (size_t i = 0; i < NC; i++) dh[i] -= b->dhr[i];
        enc_backward(m, dh, b->dz, &b->rec, hin, N);
    }

    return hin;
}

// L_diff = mean (target - out(z_t, t, c))^2 (cfg.prediction: eps, z_0 or v)
// on the detached z_0 (unless diff_to_backbone), cfg.diff_repeats passes
// (diff_pass), with its gradients; returns the detached z_0 (for generation).
static const float *step_diff(Cocodiff *m, const CdW *wd, const float *h, const float *hin, const float *hd,
                              const int32_t *labels, int B, const CocodiffStepCtl *ctl, float *dh_parts,
                              CocodiffLosses *lo) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    const int N = B * L;
    // The detached z_0 (for L_diff and generation)
    const float *zdet = b->rec.z;
    if (wd != &m->w || hd != hin) {
        enc_forward(m, wd, &b->det, hd, N);
        zdet = b->det.z;
    }
    // L_diff = mean (target - out(z_t, t, c))^2, target eps, z_0 or v (cfg.prediction)
    const Enc *e0 = NULL;   // the live encoder forward of z_0 (diff_to_backbone)
    const float *z0 = zdet;
    if (c->diff_to_backbone) {
        if (hin == h) e0 = &b->rec;
        else {
            enc_forward(m, &m->w, &b->dbb, h, N);
            e0 = &b->dbb;
        }
        z0 = e0->z;
    }
    lo->diff = 0;
    for (int r = 0; r < c->diff_repeats; r++)
        lo->diff += diff_pass(m, r, z0, e0, h, labels, B, dh_parts, ctl) / c->diff_repeats;
    return zdet;
}

// Generation (no gradient) from the detached z_0, then L_gen and the coarse
// loss on h_hat_0 (or, gen_noise, on the noise control), with their gradients.
static void step_gen(Cocodiff *m, const float *zdet, const float *hd, const int32_t *labels, int B,
                     const CocodiffStepCtl *ctl, const CocodiffHead *head, float sc, CocodiffLosses *lo) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    const int C = m->C, d = c->d, K = m->K, Dt = m->Dt;
    const size_t n = (size_t)L * d;
    {
        generate_latents(m, gen_weights(m), zdet, labels, B, ctl, NULL);
        for (int i = 0; i < B; i++)
            memcpy(b->zh0 + (size_t)i * d, b->zg + (size_t)i * n, (size_t)d * sizeof(float));
        if (c->gen_residual) {   // h_hat_0 = h_0 + D(z_hat_0) - D(z_0): the bias cancels
            for (int i = 0; i < B; i++)
                for (int k = 0; k < d; k++) b->zh0[(size_t)i * d + k] -= zdet[(size_t)i * n + k];
            linear_forward(b->hh0, b->zh0, m->w.dec_w, NULL, B, d, C);
            for (int i = 0; i < B; i++)
                for (int k = 0; k < C; k++) b->hh0[(size_t)i * C + k] += hd[(size_t)i * L * C + k];
        } else {
            linear_forward(b->hh0, b->zh0, m->w.dec_w, m->w.dec_b, B, d, C);
        }
        if (c->gen_noise) noise_control(m, hd, B, ctl);
        linear_forward(b->glog, b->hh0, head->w, head->b, B, C, K);
        lo->gen = crossentropy_forward(b->gprob, b->glog, labels, B, K);
        int right = 0;   // metrics.h's top-1 rule
        for (int i = 0; i < B; i++) right += metrics_argmax(b->glog + (size_t)i * K, K) == labels[i];
        lo->gen_acc = (double)right / B;
        memset(b->dhh0, 0, (size_t)B * C * sizeof(float));
        if (c->l_gen > 0) {
            memset(b->gdlog, 0, (size_t)B * K * sizeof(float));
            crossentropy_backward(b->gdlog, b->gprob, labels, B, K, c->l_gen * sc);
            linear_backward(b->dhh0, head->gw, head->gb, b->gdlog, b->hh0, head->w, B, C, K);
        }
        lo->coarse_gen = contrast(m, b->hh0, (size_t)C, m->coarse_n, (size_t)Dt, labels, B,
                                 c->l_coarse * sc, b->dhh0, NULL);
        if (!c->gen_noise)   // the noise control's features do not come from D
            linear_backward(NULL, m->g.dec_w, c->gen_residual ? NULL : m->g.dec_b, b->dhh0, b->zh0, m->w.dec_w, B, d, C);
        lo->generated = 1;
    }

}

int cocodiff_step(Cocodiff *m, const float *h, const int32_t *labels, int B,
                  const CocodiffHead *head, float *dh_parts, const CocodiffStepCtl *ctl,
                  CocodiffLosses *out) {
    const CocodiffConfig *c = &m->cfg;
    int rc = check_batch(m, h, labels, B, ctl);
    if (rc) return rc;
    int gen = ctl->generate && c->generation;
    if (gen && (!head || !head->w || !head->b || !head->gw || !head->gb)) {
        CD_ERR("cocodiff_step: generation needs the FC head's weights and grad buffers");
        return CD_EARG;
    }
    if ((rc = ensure_batch(m, B))) return rc;
    const int C = m->C, N = B * L, Dt = m->Dt;
    const float sc = ctl->grad_scale;
    const float *hd = m->det_h ? m->det_h : h;
    const CdW *wd = m->det_params ? &m->wdet : &m->w;
    CocodiffLosses lo;
    memset(&lo, 0, sizeof lo);

    const float *hin = step_rec(m, h, hd, dh_parts, sc, N, &lo);
    const float *zdet = step_diff(m, wd, h, hin, hd, labels, B, ctl, dh_parts, &lo);
    if (gen) step_gen(m, zdet, hd, labels, B, ctl, head, sc, &lo);

    // Coarse contrastive on the real h_0: the one default path to the backbone
    lo.coarse_real = contrast(m, h, (size_t)L * C, m->coarse_n, (size_t)Dt, labels, B,
                              c->l_coarse * sc, dh_parts, &lo.logit_scale);
    lo.coarse = lo.coarse_real + lo.coarse_gen;

    // Optional fine contrastive: real part token p against the part-p texts
    if (c->l_fine > 0) {
        for (int p = 0; p < COCODIFF_PARTS; p++)
            lo.fine += contrast(m, h + (size_t)(p + 1) * C, (size_t)L * C, m->fine_n + (size_t)p * Dt,
                                (size_t)COCODIFF_PARTS * Dt, labels, B,
                                c->l_fine * sc / COCODIFF_PARTS,
                                dh_parts ? dh_parts + (size_t)(p + 1) * C : NULL, NULL) /
                       COCODIFF_PARTS;
    }
    lo.total = c->l_diff * lo.diff + c->l_rec * lo.rec + c->l_gen * lo.gen + c->l_coarse * lo.coarse +
               c->l_fine * lo.fine;
    if (out) *out = lo;
    return CD_OK;
}

// h_hat (B, 7, C) from b->zg: h + D(z_hat_0) - D(z_0) with gen_residual
// (z_0 in b->det.z), else D(z_hat_0); absolute forces D(z_hat_0) (no source).
static void decode_generated(Cocodiff *m, const float *h, int B, int absolute, float *h_hat) {
    int N = B * L, d = m->cfg.d;
    if (!h_hat) return;
    if (m->cfg.gen_residual && !absolute) {
        float *dz = m->b.dz;   // (N, d) scratch
        for (size_t i = 0; i < (size_t)N * d; i++) dz[i] = m->b.zg[i] - m->b.det.z[i];
        linear_forward(h_hat, dz, m->w.dec_w, NULL, N, d, m->C);
        for (size_t i = 0; i < (size_t)N * m->C; i++) h_hat[i] += h[i];
    } else {
        linear_forward(h_hat, m->b.zg, m->w.dec_w, m->w.dec_b, N, d, m->C);
    }
}

int cocodiff_generate(Cocodiff *m, const float *h, const int32_t *labels, int B,
                      const CocodiffStepCtl *ctl, float *h_hat, float *z_hat0, int32_t *t_gen) {
    int rc = check_batch(m, h, labels, B, ctl);
    if (rc) return rc;
    if ((rc = ensure_batch(m, B))) return rc;
    const float *hd = m->det_h ? m->det_h : h;
    const CdW *wd = m->det_params ? &m->wdet : &m->w;
    enc_forward(m, wd, &m->b.det, hd, B * L);
    generate_latents(m, gen_weights(m), m->b.det.z, labels, B, ctl, NULL);
    decode_generated(m, hd, B, 0, h_hat);
    if (z_hat0) memcpy(z_hat0, m->b.zg, (size_t)B * L * m->cfg.d * sizeof(float));
    if (t_gen) memcpy(t_gen, m->b.tgen, (size_t)B * sizeof(int32_t));
    return CD_OK;
}

int cocodiff_generate_probe(Cocodiff *m, const float *h, int B, const CocodiffStepCtl *ctl,
                            const CocodiffProbe *p, float *h_hat) {
    if (!p || !p->text || !h_hat || (!h && !p->from_noise)) {
        CD_ERR("cocodiff_generate_probe: the probe, its text classes, h_hat and (unless from noise) h_parts are required");
        return CD_EARG;
    }
    if (p->t_start >= m->cfg.T_diff || (p->from_noise && p->t_start < 0)) {
        CD_ERR("cocodiff_generate_probe: start step %d outside [0, %d)%s", p->t_start, m->cfg.T_diff,
               p->from_noise ? " (from noise it must be given)" : "");
        return CD_EARG;
    }
    // check_batch's label test, on the text classes (h is not read from noise)
    int rc = check_batch(m, h ? h : h_hat, p->text, B, ctl);
    if (rc) return rc;
    if ((rc = ensure_batch(m, B))) return rc;
    const CdW *wd = m->det_params ? &m->wdet : &m->w;
    if (!p->from_noise) enc_forward(m, wd, &m->b.det, h, B * L);
    generate_latents(m, gen_weights(m), m->b.det.z, p->text, B, ctl, p);
    decode_generated(m, h, B, p->from_noise, h_hat);
    return CD_OK;
}

int cocodiff_probe_loss(Cocodiff *m, const float *h, int B, const CocodiffStepCtl *ctl, const CocodiffProbe *p,
                        int uncond, double *loss) {
    if (!p || !p->text || !h || p->t_start < 0 || p->t_start >= m->cfg.T_diff) {
        CD_ERR("cocodiff_probe_loss: features, text classes and a start step in [0, %d) are required", m->cfg.T_diff);
        return CD_EARG;
    }
    int rc = check_batch(m, h, p->text, B, ctl);
    if (rc) return rc;
    if ((rc = ensure_batch(m, B))) return rc;
    StepBufs *b = &m->b;
    size_t n = (size_t)L * m->cfg.d, Nd = (size_t)B * n;
    enc_forward(m, &m->w, &b->det, h, B * L);
    for (int i = 0; i < B; i++) {
        b->t[i] = p->t_start;
        b->drop[i] = uncond;
        Crng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_EPS);
        crng_normals(&e, b->eps + (size_t)i * n, n);
    }
    cocodiff_q_sample(&m->sched, b->zt, b->det.z, b->eps, b->t, B, n);
    build_ctx(m, &m->w, b->ctx, b->keep, p->text, b->drop, B, p->coarse ? p->coarse : m->coarse,
              p->fine ? p->fine : m->fine);
    cd_denoiser_forward(&m->den, b->epshat, b->cache, b->zt, b->t, b->ctx, &m->w.den, B, b->work);
    diff_target(m, b->tgt, b->eps, b->det.z, b->t, B, n);
    double acc = 0;
    for (size_t i = 0; i < Nd; i++) acc += ((double)b->epshat[i] - b->tgt[i]) * ((double)b->epshat[i] - b->tgt[i]);
    *loss = acc / (double)Nd;
    return CD_OK;
}
