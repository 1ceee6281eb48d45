// cocodiff_denoiser.c - the CoCoDiff eps-prediction transformer (see
// cocodiff_denoiser.h): pre-LN blocks of self-attention over the 7 latent
// tokens, cross-attention to the 7 text tokens and a GELU MLP, conditioned on
// the timestep through a sinusoidal embedding and a SiLU MLP added to every
// token. Built from the layers of tlayers.h / layers.h; this file only wires
// them and carves the cache.
#include <stddef.h>
#include <string.h>

#include "cocodiff_denoiser.h"
#include "layers.h"
#include "status.h"
#include "tlayers.h"

#define L COCODIFF_TOKENS   // latent tokens and text tokens alike

int cd_denoiser_init(CdDenoiser *n, int d, int H, int nblocks, int hid) {
    if (d < 4 || nblocks < 0 || nblocks > COCODIFF_MAX_BLOCKS || hid < 1) {
        CD_ERR("denoiser: d %d (>= 4), blocks %d (0..%d), hidden %d", d, nblocks, COCODIFF_MAX_BLOCKS, hid);
        return CD_EARG;
    }
    n->d = d;
    n->H = H;
    n->nblocks = nblocks;
    n->hid = hid;
    n->inject = 0;
    int rc = attention_init(&n->sa, d, d, H);
    if (rc == CD_OK) rc = attention_init(&n->ca, d, d, H);
    return rc;
}

// ---------------------------------------------------------------------------
// Cache layout

typedef struct BlockCache {
    float *xin, *ln1, *mu1, *rs1, *c1, *x1, *ln2, *mu2, *rs2, *c2, *x2, *ln3, *mu3, *rs3, *m1, *g;
} BlockCache;
typedef struct Cache {
    float *tsin, *th, *ts;               // (B, d) each
    BlockCache blk[COCODIFF_MAX_BLOCKS];
    float *xf, *lnf, *muf, *rsf;         // (N, d), (N, d), (N), (N)
} Cache;

// Walks the layout; with base NULL only counts (returns the float count).
static size_t carve(const CdDenoiser *n, float *base, int B, Cache *c) {
    size_t N = (size_t)B * L, d = (size_t)n->d, h = (size_t)n->hid, off = 0;
    size_t A = attention_cache_size(&n->sa, B, L, L);
#define TAKE(ptr, cnt) do { if (base) (ptr) = base + off; off += (cnt); } while (0)
    TAKE(c->tsin, (size_t)B * d);
    TAKE(c->th, (size_t)B * d);
    TAKE(c->ts, (size_t)B * d);
    for (int l = 0; l < n->nblocks; l++) {
        BlockCache *k = &c->blk[l];
        TAKE(k->xin, N * d); TAKE(k->ln1, N * d); TAKE(k->mu1, N); TAKE(k->rs1, N); TAKE(k->c1, A);
        TAKE(k->x1, N * d); TAKE(k->ln2, N * d); TAKE(k->mu2, N); TAKE(k->rs2, N); TAKE(k->c2, A);
        TAKE(k->x2, N * d); TAKE(k->ln3, N * d); TAKE(k->mu3, N); TAKE(k->rs3, N);
        TAKE(k->m1, N * h); TAKE(k->g, N * h);
    }
    TAKE(c->xf, N * d);
    TAKE(c->lnf, N * d);
    TAKE(c->muf, N);
    TAKE(c->rsf, N);
#undef TAKE
    return off;
}

size_t cd_denoiser_cache_size(const CdDenoiser *n, int B) {
    Cache c;
    return carve(n, NULL, B, &c);
}

// forward: tmp (N, d), te (B, d). backward: dx (N, d), dln (N, d), dh1 (N, hid),
// dh2 (N, hid), dte, dts, dth (B, d), attention work.
size_t cd_denoiser_work_size(const CdDenoiser *n, int B) {
    size_t N = (size_t)B * L, d = (size_t)n->d, h = (size_t)n->hid;
    return 2 * N * d + 2 * N * h + 3 * (size_t)B * d + attention_work_size(&n->sa, B, L, L);
}

static AttentionParams ap(const float *wq, const float *bq, const float *wk, const float *bk,
                          const float *wv, const float *bv, const float *wo, const float *bo) {
    return (AttentionParams){wq, bq, wk, bk, wv, bv, wo, bo};
}
static AttentionParams ap_self(const CdBlockW *w) {
    return ap(w->wq1, w->bq1, w->wk1, w->bk1, w->wv1, w->bv1, w->wo1, w->bo1);
}
static AttentionParams ap_cross(const CdBlockW *w) {
    return ap(w->wq2, w->bq2, w->wk2, w->bk2, w->wv2, w->bv2, w->wo2, w->bo2);
}
static AttentionGrads ag_self(const CdBlockW *g) {
    return (AttentionGrads){g->wq1, g->bq1, g->wk1, g->bk1, g->wv1, g->bv1, g->wo1, g->bo1};
}
static AttentionGrads ag_cross(const CdBlockW *g) {
    return (AttentionGrads){g->wq2, g->bq2, g->wk2, g->bk2, g->wv2, g->bv2, g->wo2, g->bo2};
}

static void add3(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// The text token latent token i reads first (inject): h_0 the coarse text
// (token 6), part j (token j) its sentence (token j - 1).
static int own_text(int i) { return i == 0 ? L - 1 : i - 1; }

// ---------------------------------------------------------------------------
// Forward

void cd_denoiser_forward(const CdDenoiser *n, float *eps, float *cache, const float *zt,
                         const int32_t *t, const float *ctx, const CdDenoiserW *w, int B,
                         float *work) {
    int d = n->d, h = n->hid, N = B * L;
    size_t Nd = (size_t)N * d;
    Cache c;
    carve(n, cache, B, &c);
    float *tmp = work, *te = work + Nd;
    temb_forward(c.tsin, t, B, d);
    linear_forward(c.th, c.tsin, w->t1w, w->t1b, B, d, d);
    silu_forward(c.ts, c.th, (size_t)B * d);
    linear_forward(te, c.ts, w->t2w, w->t2b, B, d, d);
    float *x = n->nblocks ? c.blk[0].xin : c.xf;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L; i++) {
            float *o = x + ((size_t)b * L + i) * d;
            const float *z = zt + ((size_t)b * L + i) * d, *e = te + (size_t)b * d;
            for (int k = 0; k < d; k++) o[k] = z[k] + e[k] + (w->pos ? w->pos[(size_t)i * d + k] : 0.0f);
            if (n->inject) {
                const float *c = ctx + ((size_t)b * L + own_text(i)) * d;
                for (int k = 0; k < d; k++) o[k] += c[k];
            }
        }
    for (int l = 0; l < n->nblocks; l++) {
        BlockCache *k = &c.blk[l];
        const CdBlockW *bw = &w->blk[l];
        AttentionParams ps = ap_self(bw), pc = ap_cross(bw);
        layernorm_forward(k->ln1, k->mu1, k->rs1, k->xin, bw->n1w, bw->n1b, N, d);
        attention_forward(&n->sa, tmp, k->c1, k->ln1, NULL, &ps, B, L, L);
        add3(k->x1, k->xin, tmp, Nd);
        layernorm_forward(k->ln2, k->mu2, k->rs2, k->x1, bw->n2w, bw->n2b, N, d);
        attention_forward(&n->ca, tmp, k->c2, k->ln2, ctx, &pc, B, L, L);
        add3(k->x2, k->x1, tmp, Nd);
        layernorm_forward(k->ln3, k->mu3, k->rs3, k->x2, bw->n3w, bw->n3b, N, d);
        linear_forward(k->m1, k->ln3, bw->m1w, bw->m1b, N, d, h);
        gelu_forward(k->g, k->m1, (size_t)N * h);
        linear_forward(tmp, k->g, bw->m2w, bw->m2b, N, h, d);
        add3(l + 1 < n->nblocks ? c.blk[l + 1].xin : c.xf, k->x2, tmp, Nd);
    }
    layernorm_forward(c.lnf, c.muf, c.rsf, c.xf, w->now, w->nob, N, d);
    linear_forward(eps, c.lnf, w->outw, w->outb, N, d, d);
}

// ---------------------------------------------------------------------------
// Backward: dx is the gradient of the residual stream, walked block by block
// from the output; every branch's LayerNorm backward accumulates into it.

void cd_denoiser_backward(const CdDenoiser *n, float *dzt, float *dctx, const CdDenoiserW *g,
                          const float *deps, const float *cache, const float *ctx,
                          const CdDenoiserW *w, int B, float *work) {
    int d = n->d, h = n->hid, N = B * L;
    size_t Nd = (size_t)N * d, Nh = (size_t)N * h, Bd = (size_t)B * d;
    Cache c;
    carve(n, (float *)cache, B, &c);
    float *dx = work, *dln = dx + Nd, *dh1 = dln + Nd, *dh2 = dh1 + Nh;
    float *dte = dh2 + Nh, *dts = dte + Bd, *dth = dts + Bd, *awork = dth + Bd;
    memset(dx, 0, Nd * sizeof(float));
    memset(dln, 0, Nd * sizeof(float));
    linear_backward(dln, g->outw, g->outb, deps, c.lnf, w->outw, N, d, d);
    layernorm_backward(dx, g->now, g->nob, dln, c.xf, c.muf, c.rsf, w->now, N, d);
    for (int l = n->nblocks - 1; l >= 0; l--) {
        const BlockCache *k = &c.blk[l];
        const CdBlockW *bw = &w->blk[l], *bg = &g->blk[l];
        AttentionParams ps = ap_self(bw), pc = ap_cross(bw);
        AttentionGrads gs = ag_self(bg), gc = ag_cross(bg);
        // x3 = x2 + m2(gelu(m1(ln3(x2))))
        memset(dh1, 0, Nh * sizeof(float));
        linear_backward(dh1, bg->m2w, bg->m2b, dx, k->g, bw->m2w, N, h, d);
        memset(dh2, 0, Nh * sizeof(float));
        gelu_backward(dh2, dh1, k->m1, Nh);
        memset(dln, 0, Nd * sizeof(float));
        linear_backward(dln, bg->m1w, bg->m1b, dh2, k->ln3, bw->m1w, N, d, h);
        layernorm_backward(dx, bg->n3w, bg->n3b, dln, k->x2, k->mu3, k->rs3, bw->n3w, N, d);
        // x2 = x1 + cross(ln2(x1), ctx)
        memset(dln, 0, Nd * sizeof(float));
        attention_backward(&n->ca, dln, dctx, &gc, dx, k->c2, k->ln2, ctx, &pc, B, L, L, awork);
        layernorm_backward(dx, bg->n2w, bg->n2b, dln, k->x1, k->mu2, k->rs2, bw->n2w, N, d);
        // x1 = xin + self(ln1(xin))
        memset(dln, 0, Nd * sizeof(float));
        attention_backward(&n->sa, dln, NULL, &gs, dx, k->c1, k->ln1, NULL, &ps, B, L, L, awork);
        layernorm_backward(dx, bg->n1w, bg->n1b, dln, k->xin, k->mu1, k->rs1, bw->n1w, N, d);
    }
    // x0 = zt + pos + te[b] (+ ctx[own] with inject)
    if (dzt)
        for (size_t i = 0; i < Nd; i++) dzt[i] += dx[i];
    if (n->inject && dctx)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < L; i++) {
                float *dc = dctx + ((size_t)b * L + own_text(i)) * d;
                const float *g0 = dx + ((size_t)b * L + i) * d;
                for (int kk = 0; kk < d; kk++) dc[kk] += g0[kk];
            }
    for (int b = 0; b < B; b++)
        for (int kk = 0; kk < d; kk++) {
            double s = 0;
            for (int i = 0; i < L; i++) s += dx[((size_t)b * L + i) * d + kk];
            dte[(size_t)b * d + kk] = (float)s;
        }
    if (g->pos)
        for (int i = 0; i < L; i++)
            for (int kk = 0; kk < d; kk++) {
                double s = 0;
                for (int b = 0; b < B; b++) s += dx[((size_t)b * L + i) * d + kk];
                g->pos[(size_t)i * d + kk] += (float)s;
            }
    memset(dts, 0, Bd * sizeof(float));
    linear_backward(dts, g->t2w, g->t2b, dte, c.ts, w->t2w, B, d, d);
    memset(dth, 0, Bd * sizeof(float));
    silu_backward(dth, dts, c.th, Bd);
    linear_backward(NULL, g->t1w, g->t1b, dth, c.tsin, w->t1w, B, d, d);
}
