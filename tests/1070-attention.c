// 1070-attention.c - multi-head attention of tlayers.h (layer_attention.c),
// self- and cross-attention, B > 1:
// - against PyTorch 1.13's torch.nn.MultiheadAttention (batch_first; kdim =
//   vdim = Dc for cross-attention): output and autograd gradients of every
//   input and projection, saved by scripts/ref/make_tlayers_reference.py in
//   tests/data/tlayers/attn_*.ref (see the README there);
// - the BLAS kernels against attention_{forward,backward}_naive (double) at
//   the denoiser's sizes (B up to 128, L = 7, D = 128, H = 4);
// - finite-difference gradchecks of every gradient (loss = sum(out * G)
//   accumulated in double, central differences in float with step GC_STEP divided
//   by the step as rounded, error |a - n| / max(|a|, |n|, FLOOR), at most
//   GC_MAXCHECK sampled elements per tensor);
// - accumulation (+=), NULL input grads, and self-attention given as
//   cross-attention on itself (c = x, dc = dx).
//
// Tolerances (|got - want| <= atol + rtol |want| per tensor): against
// PyTorch ATOL 1e-5, RTOL 1e-4 (float32 both sides, projections summed over
// at most B*L = 21 rows and 32 features; observed <= 1.5e-6). Against the
// double reference NAIVE_ATOL 1e-4, NAIVE_RTOL 1e-4: the weight grads are
// float sgemms summing B*L = 896 products of O(1) terms (observed <= 2e-5 at
// B = 128).
//
// dbk is 0 in exact arithmetic (a shift of every key by bk moves all of a
// query's scores by the same q.bk, which the softmax ignores): torch and the
// naive reference agree on ~1e-7, and its gradcheck compares that with
// finite differences below FLOOR.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "tap/ref.h"
#include "tap/tap.h"
#include "tlayers.h"

#define DIR "tests/data/tlayers"
#define ATOL 1e-5
#define RTOL 1e-4
#define NAIVE_ATOL 1e-4
#define NAIVE_RTOL 1e-4

#define GC_STEP 1e-2f
#define FLOOR 1e-1
#define GC_TOL 1e-2
#define GC_MAXCHECK 64

// ---------------------------------------------------------------------------
// Helpers

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}
static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) bail("out of memory");
    return p;
}
static float *rnd(size_t n, float scale, uint64_t *s) {
    float *p = zeros(n);
    for (size_t i = 0; i < n; i++) p[i] = frand(s) * scale;
    return p;
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static int ref_load(Ref *r, const char *name) { return ref_load_file(r, DIR, name, "scripts/ref/make_tlayers_reference.py"); }

// The i-th tensor, checked to have n elements.
static float *ref_get(Ref *r, int i, size_t n, const char *what) {
    if (i >= r->count || r->n[i] != n)
        bail("reference tensor %d (%s): %zu elements, want %zu", i, what,
             i < r->count ? r->n[i] : 0, n);
    return r->t[i];
}

// ---------------------------------------------------------------------------
// Parameters: the 8 tensors wq, bq, wk, bk, wv, bv, wo, bo in one buffer

#define NP 8
static const char *const PNAME[NP] = {"wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo"};

static void param_sizes(const Attention *a, size_t n[NP]) {
    size_t D = (size_t)a->D, Dc = (size_t)a->Dc;
    n[0] = D * D, n[1] = D, n[2] = D * Dc, n[3] = D, n[4] = D * Dc, n[5] = D, n[6] = D * D;
    n[7] = D;
}

// Carves buf into the 8 tensors; returns their pointers in t.
static void param_carve(const Attention *a, float *buf, float *t[NP]) {
    size_t n[NP];
    param_sizes(a, n);
    for (int i = 0; i < NP; i++) t[i] = buf, buf += n[i];
}

static size_t param_total(const Attention *a) {
    size_t n[NP], s = 0;
    param_sizes(a, n);
    for (int i = 0; i < NP; i++) s += n[i];
    return s;
}

static AttentionParams params_of(float *t[NP]) {
    AttentionParams p = {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]};
    return p;
}
static AttentionGrads grads_of(float *t[NP]) {
    AttentionGrads g = {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]};
    return g;
}

// ---------------------------------------------------------------------------
// Against PyTorch

#define REF_CHECKS (3 + NP)
static void check_ref(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "attn_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(REF_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 7, "meta");
    int B = (int)m[0], Lq = (int)m[1], Lk = (int)m[2], self = (int)m[6];
    Attention a;
    if (attention_init(&a, (int)m[3], (int)m[4], (int)m[5]) != CD_OK) bail("bad meta in %s", file);
    size_t nx = (size_t)B * Lq * a.D, nc = self ? 0 : (size_t)B * Lk * a.Dc, psz[NP];
    param_sizes(&a, psz);
    const float *x = ref_get(&r, 1, nx, "x"), *c = self ? NULL : ref_get(&r, 2, nc, "c");
    float *pt[NP];
    for (int i = 0; i < NP; i++) pt[i] = ref_get(&r, 3 + i, psz[i], PNAME[i]);
    const float *out = ref_get(&r, 11, nx, "out"), *G = ref_get(&r, 12, nx, "G"),
                *dx = ref_get(&r, 13, nx, "dx"), *dc = ref_get(&r, 14, nc, "dc");
    AttentionParams p = params_of(pt);
    float *o = zeros(nx), *cache = zeros(attention_cache_size(&a, B, Lq, Lk)),
          *work = zeros(attention_work_size(&a, B, Lq, Lk)), *gx = zeros(nx), *gc = zeros(nc),
          *gbuf = zeros(param_total(&a)), *gt[NP];
    param_carve(&a, gbuf, gt);
    AttentionGrads g = grads_of(gt);
    attention_forward(&a, o, cache, x, c, &p, B, Lq, Lk);
    attention_backward(&a, gx, self ? NULL : gc, &g, G, cache, x, c, &p, B, Lq, Lk, work);
    is_tensor_close(o, out, nx, ATOL, RTOL, "attention %s (B %d Lq %d Lk %d D %d Dc %d H %d) vs "
                    "torch: out", name, B, Lq, Lk, a.D, a.Dc, a.H);
    is_tensor_close(gx, dx, nx, ATOL, RTOL, "attention %s vs torch: dx", name);
    if (self) skip(1, "attention %s: self-attention has no dc", name);
    else is_tensor_close(gc, dc, nc, ATOL, RTOL, "attention %s vs torch: dc", name);
    for (int i = 0; i < NP; i++)
        is_tensor_close(gt[i], ref_get(&r, 15 + i, psz[i], PNAME[i]), psz[i], ATOL, RTOL,
                        "attention %s vs torch: d%s", name, PNAME[i]);
    free(o); free(cache); free(work); free(gx); free(gc); free(gbuf);
    ref_free(&r);
}

// ---------------------------------------------------------------------------
// A random case

typedef struct Case {
    Attention a;
    int B, Lq, Lk, self;
    float *x, *c, *pbuf, *pt[NP], *out, *cache, *work, *G;
    AttentionParams p;
} Case;

static void case_init(Case *k, int B, int Lq, int Lk, int D, int Dc, int Hh, int self,
                      uint64_t *st) {
    memset(k, 0, sizeof *k);
    if (attention_init(&k->a, D, self ? D : Dc, Hh) != CD_OK) bail("attention_init");
    k->B = B, k->Lq = Lq, k->Lk = self ? Lq : Lk, k->self = self;
    k->x = rnd((size_t)B * Lq * D, 2.0f, st);
    k->c = self ? NULL : rnd((size_t)B * Lk * Dc, 2.0f, st);
    k->pbuf = zeros(param_total(&k->a));
    param_carve(&k->a, k->pbuf, k->pt);
    size_t n[NP];
    param_sizes(&k->a, n);
    // weights ~ U(-1.5, 1.5) / sqrt(fan_in): softmax rows far from uniform
    for (int i = 0; i < NP; i++) {
        int fan = i == 2 || i == 4 ? k->a.Dc : D;
        for (size_t j = 0; j < n[i]; j++) k->pt[i][j] = frand(st) * 1.5f / sqrtf((float)fan);
    }
    k->p = params_of(k->pt);
    k->out = zeros((size_t)B * Lq * D);
    k->cache = zeros(attention_cache_size(&k->a, B, Lq, k->Lk));
    k->work = zeros(attention_work_size(&k->a, B, Lq, k->Lk));
    k->G = rnd((size_t)B * Lq * D, 1.0f, st);
}

static void case_free(Case *k) {
    free(k->x); free(k->c); free(k->pbuf); free(k->out); free(k->cache); free(k->work);
    free(k->G);
}

static size_t nx_of(const Case *k) { return (size_t)k->B * k->Lq * k->a.D; }
static size_t nc_of(const Case *k) { return k->self ? 0 : (size_t)k->B * k->Lk * k->a.Dc; }

static double case_loss(void *ctx) {
    Case *k = ctx;
    attention_forward(&k->a, k->out, k->cache, k->x, k->c, &k->p, k->B, k->Lq, k->Lk);
    return dot(k->out, k->G, nx_of(k));
}

// Backward at the current point into fresh (zeroed) grads.
typedef struct Grads {
    float *dx, *dc, *buf, *t[NP];
    AttentionGrads g;
} Grads;

static void grads_init(Grads *g, const Case *k) {
    g->dx = zeros(nx_of(k));
    g->dc = zeros(nc_of(k));
    g->buf = zeros(param_total(&k->a));
    param_carve(&k->a, g->buf, g->t);
    g->g = grads_of(g->t);
}
static void grads_free(Grads *g) { free(g->dx); free(g->dc); free(g->buf); }

// ---------------------------------------------------------------------------
// Against the naive reference

#define NAIVE_CHECKS (3 + NP)
static void check_naive(int B, int Lq, int Lk, int D, int Dc, int Hh, int self, uint64_t seed) {
    uint64_t st = seed;
    Case k;
    case_init(&k, B, Lq, Lk, D, Dc, Hh, self, &st);
    const char *kind = self ? "self" : "cross";
    size_t nx = nx_of(&k), nc = nc_of(&k), psz[NP];
    param_sizes(&k.a, psz);
    float *want = zeros(nx);
    case_loss(&k);
    attention_forward_naive(&k.a, want, k.x, k.c, &k.p, B, Lq, k.Lk);
    is_tensor_close(k.out, want, nx, NAIVE_ATOL, NAIVE_RTOL,
                    "%s-attention B %d Lq %d Lk %d D %d Dc %d H %d: forward vs naive", kind, B, Lq,
                    k.Lk, D, k.a.Dc, Hh);
    Grads f, n;
    grads_init(&f, &k);
    grads_init(&n, &k);
    attention_backward(&k.a, f.dx, self ? NULL : f.dc, &f.g, k.G, k.cache, k.x, k.c, &k.p, B, Lq,
                       k.Lk, k.work);
    attention_backward_naive(&k.a, n.dx, self ? NULL : n.dc, &n.g, k.G, k.x, k.c, &k.p, B, Lq,
                             k.Lk);
    is_tensor_close(f.dx, n.dx, nx, NAIVE_ATOL, NAIVE_RTOL, "  %s dx vs naive", kind);
    if (self) skip(1, "self-attention has no dc");
    else is_tensor_close(f.dc, n.dc, nc, NAIVE_ATOL, NAIVE_RTOL, "  %s dc vs naive", kind);
    for (int i = 0; i < NP; i++)
        is_tensor_close(f.t[i], n.t[i], psz[i], NAIVE_ATOL, NAIVE_RTOL, "  %s d%s vs naive", kind,
                        PNAME[i]);
    grads_free(&f);
    grads_free(&n);
    free(want);
    case_free(&k);
}

// ---------------------------------------------------------------------------
// Gradchecks

static double worst_seen = 0;
static char worst_name[96] = "";

static void gradcheck(Case *k, float *param, const float *grad, size_t n, const char *name,
                      uint64_t *st) {
    double worst = 0, wa = 0, wn = 0;
    size_t worst_i = 0;
    int count = n < GC_MAXCHECK ? (int)n : GC_MAXCHECK;
    for (int j = 0; j < count; j++) {
        size_t i = n <= GC_MAXCHECK ? (size_t)j
                                    : (size_t)((frand(st) * 0.5f + 0.5f) * (float)(n - 1));
        float v0 = param[i], xp = v0 + GC_STEP, xm = v0 - GC_STEP;   // the steps as rounded in float
        param[i] = xp;
        double lp = case_loss(k);
        param[i] = xm;
        double lm = case_loss(k);
        param[i] = v0;
        double num = (lp - lm) / ((double)xp - (double)xm), a = grad[i];
        double e = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), FLOOR);
        if (e >= worst) worst = e, worst_i = i, wa = a, wn = num;
    }
    case_loss(k);
    if (worst > worst_seen) {
        worst_seen = worst;
        snprintf(worst_name, sizeof worst_name, "%s", name);
    }
    diag("  %s: %d elements, worst relative error %.2e at %zu (analytic %.6g, numeric %.6g)",
         name, count, worst, worst_i, wa, wn);
    ok(worst < GC_TOL, "gradcheck %s", name);
}

#define GC_CHECKS(self) ((self) ? 1 + NP : 2 + NP)
static void check_grad(int B, int Lq, int Lk, int D, int Dc, int Hh, int self, uint64_t seed) {
    uint64_t st = seed;
    Case k;
    case_init(&k, B, Lq, Lk, D, Dc, Hh, self, &st);
    size_t psz[NP];
    param_sizes(&k.a, psz);
    char tag[64], label[96];
    snprintf(tag, sizeof tag, "%s B%d Lq%d Lk%d D%d Dc%d H%d", self ? "self" : "cross", B, Lq, k.Lk,
             D, k.a.Dc, Hh);
    Grads g;
    grads_init(&g, &k);
    case_loss(&k);
    attention_backward(&k.a, g.dx, self ? NULL : g.dc, &g.g, k.G, k.cache, k.x, k.c, &k.p, B, Lq,
                       k.Lk, k.work);
    snprintf(label, sizeof label, "%s: dx", tag);
    gradcheck(&k, k.x, g.dx, nx_of(&k), label, &st);
    if (!self) {
        snprintf(label, sizeof label, "%s: dc", tag);
        gradcheck(&k, k.c, g.dc, nc_of(&k), label, &st);
    }
    for (int i = 0; i < NP; i++) {
        snprintf(label, sizeof label, "%s: d%s", tag, PNAME[i]);
        gradcheck(&k, k.pt[i], g.t[i], psz[i], label, &st);
    }
    grads_free(&g);
    case_free(&k);
}

// ---------------------------------------------------------------------------
// Accumulation, NULL input grads, self-attention as cross-attention on itself

#define MISC_CHECKS 4
static void check_misc(uint64_t seed) {
    uint64_t st = seed;
    Case k;
    case_init(&k, 3, 7, 5, 32, 20, 4, 0, &st);
    size_t nx = nx_of(&k), nc = nc_of(&k), np = param_total(&k.a);
    case_loss(&k);
    Grads once, twice, nul;
    grads_init(&once, &k);
    grads_init(&twice, &k);
    grads_init(&nul, &k);
    attention_backward(&k.a, once.dx, once.dc, &once.g, k.G, k.cache, k.x, k.c, &k.p, k.B, k.Lq,
                       k.Lk, k.work);
    for (int r = 0; r < 2; r++)
        attention_backward(&k.a, twice.dx, twice.dc, &twice.g, k.G, k.cache, k.x, k.c, &k.p, k.B,
                           k.Lq, k.Lk, k.work);
    for (size_t i = 0; i < nx; i++) once.dx[i] *= 2;
    for (size_t i = 0; i < nc; i++) once.dc[i] *= 2;
    for (size_t i = 0; i < np; i++) once.buf[i] *= 2;
    int acc = is_tensor_close(twice.dx, once.dx, nx, 1e-6, 1e-6, "cross-attention: two backward "
                              "calls accumulate: dx") &
              is_tensor_close(twice.dc, once.dc, nc, 1e-6, 1e-6, "  dc") &
              is_tensor_close(twice.buf, once.buf, np, 1e-6, 1e-6, "  projection grads");
    ok(acc, "cross-attention: grads accumulate (+=) over two backward calls");
    attention_backward(&k.a, NULL, NULL, &nul.g, k.G, k.cache, k.x, k.c, &k.p, k.B, k.Lq, k.Lk,
                       k.work);
    for (size_t i = 0; i < np; i++) nul.buf[i] *= 2;
    is_tensor_equal(nul.buf, once.buf, np, "cross-attention with dx = dc = NULL: same projection "
                    "grads");
    grads_free(&once);
    grads_free(&twice);
    grads_free(&nul);
    case_free(&k);

    // self-attention: c = NULL, against c = x (Dc = D) with dc = dx
    st = seed + 1;
    case_init(&k, 4, 7, 7, 32, 32, 4, 1, &st);
    nx = nx_of(&k);
    np = param_total(&k.a);
    float *out0 = zeros(nx);
    Grads a, b;
    grads_init(&a, &k);
    grads_init(&b, &k);
    case_loss(&k);
    memcpy(out0, k.out, sizeof(float) * nx);
    attention_backward(&k.a, a.dx, NULL, &a.g, k.G, k.cache, k.x, NULL, &k.p, k.B, k.Lq, k.Lk,
                       k.work);
    attention_forward(&k.a, k.out, k.cache, k.x, k.x, &k.p, k.B, k.Lq, k.Lq);
    attention_backward(&k.a, b.dx, b.dx, &b.g, k.G, k.cache, k.x, k.x, &k.p, k.B, k.Lq, k.Lq,
                       k.work);
    int same = is_tensor_equal(k.out, out0, nx, "self-attention (c = NULL) = cross-attention on "
                               "itself (c = x): out") &
               is_tensor_equal(b.dx, a.dx, nx, "  dx (dc = dx)") &
               is_tensor_equal(b.buf, a.buf, np, "  projection grads");
    ok(same, "self-attention: c = NULL is cross-attention with c = x, dc = dx");
    is_int(CD_EARG, attention_init(&k.a, 30, 30, 4), "attention_init rejects D %% H != 0");
    grads_free(&a);
    grads_free(&b);
    free(out0);
    case_free(&k);
}

int main(void) {
    plan(3 * REF_CHECKS + 4 * NAIVE_CHECKS + GC_CHECKS(1) + 2 * GC_CHECKS(0) + MISC_CHECKS + 6);
    check_ref("self");
    check_ref("cross");
    check_ref("cross_d32");
    // the denoiser's sizes: self-attention over 7 latent tokens, cross-attention
    // to 7 text tokens (Dc != D here to catch transposed context weights)
    check_naive(32, 7, 7, 128, 128, 4, 1, 100);
    check_naive(128, 7, 7, 128, 96, 4, 0, 101);
    check_naive(3, 5, 3, 36, 10, 3, 0, 102);      // odd sizes, dh = 12 (8 + a tail of 4)
    check_naive(2, 1, 1, 8, 8, 1, 0, 103);        // one token, one head: P = 1
    check_grad(3, 7, 7, 16, 16, 4, 1, 200);
    check_grad(3, 7, 5, 16, 12, 4, 0, 201);
    check_grad(2, 7, 7, 128, 128, 4, 0, 202);     // full width, sampled elements
    check_misc(300);
    diag("worst gradcheck relative error: %.2e (%s)", worst_seen, worst_name);
    return tap_done();
}
