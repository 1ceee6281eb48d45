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
#include "layers.h"
#include "status.h"
#include "tlayers.h"

#define L COCODIFF_TOKENS

// ---------------------------------------------------------------------------
// Counter-based RNG (splitmix64 finaliser over a key and a counter)

enum { RNG_T = 1, RNG_EPS = 2, RNG_DROP = 3, RNG_TGEN = 4, RNG_EPSGEN = 5, RNG_INIT = 6 };

typedef struct Rng {
    uint64_t key, ctr;
} Rng;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
#define GOLDEN 0x9e3779b97f4a7c15ULL

static Rng rng_make(uint64_t seed, int64_t step, int64_t index, int purpose) {
    uint64_t k = mix64(seed ^ 0x636f636f64696666ULL);   // "cocodiff"
    k = mix64(k + GOLDEN * ((uint64_t)step + 1));
    k = mix64(k ^ (GOLDEN * 0x2545f4914f6cdd1dULL * ((uint64_t)index + 1)));
    k = mix64(k + (uint64_t)purpose * 0xd1b54a32d192ed03ULL);
    return (Rng){k, 0};
}
static uint64_t rng_u64(Rng *r) { return mix64(r->key + GOLDEN * ++r->ctr); }
static double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
static int64_t rng_below(Rng *r, int64_t n) {
    if (n <= 1) return 0;
    uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un, x;
    do x = rng_u64(r);
    while (x >= lim);
    return (int64_t)(x % un);
}
// n standard normals (Box-Muller, both outputs used)
static void rng_normals(Rng *r, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
        double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
        out[i] = (float)(rad * cos(th));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(th));
    }
}

// ---------------------------------------------------------------------------
// Module state

typedef struct CdW {   // every parameter (or grad) of the module
    float *enc_w, *enc_b, *encn_w, *encn_b;   // (d, C), (d), (d), (d)
    float *dec_w, *dec_b;                     // (C, d), (C)
    float *txt_w, *txt_b;                     // (d, Dt), (d)
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
    float *eps, *zt, *traw, *ctx, *keep, *epshat, *deps, *dctx, *dzt;
    float *cache, *work;
    float *zg, *x0b, *epsd, *epsu, *zero_ctx, *ctxg, *zh0, *hh0, *dhh0, *glog, *gprob, *gdlog;
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
    CdW w, g, wdet;
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
    if (c->guidance < COCODIFF_GUIDE_NONE || c->guidance > COCODIFF_GUIDE_BOTH ||
        !(c->cond_drop >= 0 && c->cond_drop <= 1)) {
        CD_ERR("cocodiff: guidance %d (0 none, 1 coarse, 2 fine, 3 both), cond_drop %g in [0, 1]",
               (int)c->guidance, c->cond_drop);
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
    point(m, m->params, &m->w);
    point(m, m->grads, &m->g);
    rc = cd_denoiser_init(&m->den, cfg->d, cfg->heads, cfg->blocks, cfg->mlp_ratio * cfg->d);
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
    free(m->params); free(m->grads);
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

int cocodiff_part_grads(const Cocodiff *m) {
    return m->cfg.l_fine > 0 || m->cfg.rec_to_backbone || m->cfg.diff_to_backbone;
}

void cocodiff_init(Cocodiff *m, uint64_t seed) {
    for (int i = 0; i < m->ntab; i++) {
        const CocodiffTensor *t = &m->tab[i];
        float *p = m->params + t->offset;
        Rng r = rng_make(seed, -1, i, RNG_INIT);
        switch (m->init_kind[i]) {
        case I_LIN:
        case I_XAVIER: {
            double bound = m->init_kind[i] == I_LIN ? 1.0 / sqrt((double)m->fan_in[i])
                                                    : sqrt(6.0 / (m->fan_in[i] + m->fan_out[i]));
            for (size_t k = 0; k < t->numel; k++) p[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
            break;
        }
        case I_ZERO: memset(p, 0, t->numel * sizeof(float)); break;
        case I_ONE: for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f; break;
        case I_POS:
            rng_normals(&r, p, t->numel);
            for (size_t k = 0; k < t->numel; k++) p[k] *= 0.02f;
            break;
        case I_LOGIT: p[0] = m->cfg.logit_scale_init; break;
        }
    }
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
    TAKE(b->keep, N); TAKE(b->epshat, N * d); TAKE(b->deps, N * d); TAKE(b->dctx, N * d);
    TAKE(b->dzt, N * d);
    TAKE(b->cache, cd_denoiser_cache_size(&m->den, B));
    TAKE(b->work, cd_denoiser_work_size(&m->den, B));
    TAKE(b->zg, N * d); TAKE(b->x0b, Bs); TAKE(b->epsd, N * d); TAKE(b->epsu, N * d); TAKE(b->zero_ctx, N * d);
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

// Text tokens of each sample's class: (B, 7, d) = [fine[y, 0..5], coarse[y]]
// through the shared projection, zero where the guidance mode leaves a token
// out or the sample's condition is dropped (keep: (B*7) 1/0).
static void build_ctx(Cocodiff *m, const CdW *W, float *ctx, float *keep, const int32_t *labels,
                      const int32_t *drop, int B) {
    int Dt = m->Dt, d = m->cfg.d, gfine = m->cfg.guidance & COCODIFF_GUIDE_FINE,
        gcoarse = m->cfg.guidance & COCODIFF_GUIDE_COARSE;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < L; j++) {
            const float *src = j < COCODIFF_PARTS
                                   ? m->fine + ((size_t)labels[b] * COCODIFF_PARTS + j) * Dt
                                   : m->coarse + (size_t)labels[b] * Dt;
            memcpy(m->b.traw + ((size_t)b * L + j) * Dt, src, (size_t)Dt * sizeof(float));
            int present = (j < COCODIFF_PARTS ? gfine : gcoarse) && !(drop && drop[b]);
            keep[b * L + j] = present ? 1.0f : 0.0f;
        }
    linear_forward(ctx, m->b.traw, W->txt_w, W->txt_b, B * L, Dt, d);
    for (int i = 0; i < B * L; i++)
        if (keep[i] == 0.0f) memset(ctx + (size_t)i * d, 0, (size_t)d * sizeof(float));
}

typedef struct GenCtx {
    Cocodiff *m;
    const CdW *W;
} GenCtx;

// eps = eps_u + w (eps_c - eps_u); w = 1 skips the unconditional pass.
static void gen_eps(void *vctx, float *eps, const float *z, const int32_t *t, int B) {
    GenCtx *g = vctx;
    Cocodiff *m = g->m;
    StepBufs *b = &m->b;
    cd_denoiser_forward(&m->den, eps, b->cache, z, t, b->ctxg, &g->W->den, B, b->work);
    float w = m->cfg.guidance_scale;
    if (w == 1.0f) return;
    size_t n = (size_t)B * L * m->cfg.d;
    memset(b->zero_ctx, 0, n * sizeof(float));
    cd_denoiser_forward(&m->den, b->epsu, b->cache, z, t, b->zero_ctx, &g->W->den, B, b->work);
    for (size_t i = 0; i < n; i++) eps[i] = b->epsu[i] + w * (eps[i] - b->epsu[i]);
}

// z_hat_0 (B, 7, d) into b->zg from the detached z0 (B, 7, d): noise to
// t_gen, S DDIM steps under the class condition (weights W, no dropout).
static void generate_latents(Cocodiff *m, const CdW *W, const float *z0, const int32_t *labels,
                             int B, const CocodiffStepCtl *ctl) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    int T = c->T_diff;
    size_t n = (size_t)L * c->d;
    int lo = (int)lround((double)c->t_gen_lo * T), hi = (int)lround((double)c->t_gen_hi * T);
    if (hi > T - 1) hi = T - 1;
    if (lo > hi) lo = hi;
    for (int i = 0; i < B; i++) {
        Rng r = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_TGEN);
        b->tgen[i] = lo + (int32_t)rng_below(&r, (int64_t)hi - lo + 1);
        Rng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_EPSGEN);
        rng_normals(&e, b->epsd + (size_t)i * n, n);
        float mx = 0.0f;
        for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n; k++) mx = fmaxf(mx, fabsf(z0[k]));
        b->x0b[i] = mx;
    }
    cocodiff_q_sample(&m->sched, b->zg, z0, b->epsd, b->tgen, B, n);
    build_ctx(m, W, b->ctxg, b->keep, labels, NULL, B);
    GenCtx g = {m, W};
    cocodiff_ddim(&m->sched, b->zg, b->tgen, B, n, c->gen_steps, gen_eps, &g, b->epsd, b->tbuf,
                  c->clip_x0 ? b->x0b : NULL);
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

// L_diff = mean (eps - eps_hat(z_t, t, c))^2 on the detached z_0 (unless
// diff_to_backbone), with its gradients; returns the detached z_0 (for
// generation).
static const float *step_diff(Cocodiff *m, const CdW *wd, const float *h, const float *hin, const float *hd,
                              const int32_t *labels, int B, const CocodiffStepCtl *ctl, float *dh_parts, float sc,
                              CocodiffLosses *lo) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    const int d = c->d, N = B * L, Dt = m->Dt;
    const size_t Nd = (size_t)N * d, n = (size_t)L * d;
    // The detached z_0 (for L_diff and generation)
    const float *zdet = b->rec.z;
    if (wd != &m->w || hd != hin) {
        enc_forward(m, wd, &b->det, hd, N);
        zdet = b->det.z;
    }
    // L_diff = mean (eps - eps_hat(z_t, t, c))^2
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
    for (int i = 0; i < B; i++) {
        Rng r = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_T);
        b->t[i] = (int32_t)rng_below(&r, c->T_diff);
        Rng e = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_EPS);
        rng_normals(&e, b->eps + (size_t)i * n, n);
        Rng q = rng_make(ctl->seed, ctl->step, ctl->sample0 + i, RNG_DROP);
        b->drop[i] = rng_uniform(&q) < (double)c->cond_drop;
    }
    cocodiff_q_sample(&m->sched, b->zt, z0, b->eps, b->t, B, n);
    build_ctx(m, &m->w, b->ctx, b->keep, labels, b->drop, B);
    cd_denoiser_forward(&m->den, b->epshat, b->cache, b->zt, b->t, b->ctx, &m->w.den, B, b->work);
    double acc = 0;
    float kd = 2.0f * c->l_diff * sc / (float)Nd;
    for (size_t i = 0; i < Nd; i++) {
        float e = b->epshat[i] - b->eps[i];
        acc += (double)e * e;
        b->deps[i] = kd * e;
    }
    lo->diff = acc / (double)Nd;
    if (c->l_diff > 0) {
        memset(b->dctx, 0, Nd * sizeof(float));
        float *dzt = c->diff_to_backbone ? b->dzt : NULL;
        if (dzt) memset(dzt, 0, Nd * sizeof(float));
        cd_denoiser_backward(&m->den, dzt, b->dctx, &m->g.den, b->deps, b->cache, b->ctx, &m->w.den,
                             B, b->work);
        for (int i = 0; i < N; i++)
            if (b->keep[i] == 0.0f) memset(b->dctx + (size_t)i * d, 0, (size_t)d * sizeof(float));
        linear_backward(NULL, m->g.txt_w, m->g.txt_b, b->dctx, b->traw, m->w.txt_w, N, Dt, d);
        if (dzt) {   // z_t = sqrt(abar) z_0 + ...: into E and h
            for (int i = 0; i < B; i++) {
                float ca = (float)sqrt(m->sched.alphas_cumprod[b->t[i]]);
                for (size_t k = (size_t)i * n; k < (size_t)(i + 1) * n; k++) dzt[k] *= ca;
            }
            enc_backward(m, dh_parts, dzt, e0, h, N);
        }
    }

    return zdet;
}

// Generation (no gradient) from the detached z_0, then L_gen and the coarse
// loss on h_hat_0, with their gradients.
static void step_gen(Cocodiff *m, const CdW *wd, const float *zdet, const float *hd, const int32_t *labels, int B,
                     const CocodiffStepCtl *ctl, const CocodiffHead *head, float sc, CocodiffLosses *lo) {
    const CocodiffConfig *c = &m->cfg;
    StepBufs *b = &m->b;
    const int C = m->C, d = c->d, K = m->K, Dt = m->Dt;
    const size_t n = (size_t)L * d;
    {
        generate_latents(m, wd, zdet, labels, B, ctl);
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
    const float *zdet = step_diff(m, wd, h, hin, hd, labels, B, ctl, dh_parts, sc, &lo);
    if (gen) step_gen(m, wd, zdet, hd, labels, B, ctl, head, sc, &lo);

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

int cocodiff_generate(Cocodiff *m, const float *h, const int32_t *labels, int B,
                      const CocodiffStepCtl *ctl, float *h_hat, float *z_hat0, int32_t *t_gen) {
    int rc = check_batch(m, h, labels, B, ctl);
    if (rc) return rc;
    if ((rc = ensure_batch(m, B))) return rc;
    const float *hd = m->det_h ? m->det_h : h;
    const CdW *wd = m->det_params ? &m->wdet : &m->w;
    int N = B * L, d = m->cfg.d;
    enc_forward(m, wd, &m->b.det, hd, N);
    generate_latents(m, wd, m->b.det.z, labels, B, ctl);
    if (h_hat && m->cfg.gen_residual) {   // h + D(z_hat_0) - D(z_0)
        float *dz = m->b.dz;   // (N, d) scratch
        for (size_t i = 0; i < (size_t)N * d; i++) dz[i] = m->b.zg[i] - m->b.det.z[i];
        linear_forward(h_hat, dz, m->w.dec_w, NULL, N, d, m->C);
        for (size_t i = 0; i < (size_t)N * m->C; i++) h_hat[i] += hd[i];
    } else if (h_hat) {
        linear_forward(h_hat, m->b.zg, m->w.dec_w, m->w.dec_b, N, d, m->C);
    }
    if (z_hat0) memcpy(z_hat0, m->b.zg, (size_t)N * d * sizeof(float));
    if (t_gen) memcpy(t_gen, m->b.tgen, (size_t)B * sizeof(int32_t));
    return CD_OK;
}
