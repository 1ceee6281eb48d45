// 1060-layernorm-gelu.c - the small transformer layers of tlayers.h:
// LayerNorm (affine and not, eps 1e-5 and 1e-6), GELU (erf form), SiLU and
// the sinusoidal timestep embedding. Forward against naive double references
// and against PyTorch 1.13 (torch.nn.LayerNorm, F.gelu, F.silu, diffusers'
// get_timestep_embedding: tests/data/tlayers/*.ref, made by
// scripts/ref/make_tlayers_reference.py, see the README there); backward
// against autograd, finite-difference gradchecks of every gradient (loss =
// sum(out * G) accumulated in double, central differences in float with step
// GC_STEP (divided by the step as rounded in float), error |a - n| / max(|a|, |n|,
// FLOOR)) and accumulation (+=).
//
// Tolerances against PyTorch: ATOL = RTOL = 1e-5 (both sides float32, sums of
// at most 128 terms; observed differences are ~1e-7 for LayerNorm and GELU).
// The timestep embedding's argument t * freq reaches 999 rad, where one float
// ulp is 6e-5: a frequency rounded one ulp apart (glibc expf vs PyTorch's
// vectorised exp), or the float argument itself against the exact one, moves
// sin/cos by up to that much (observed 1.3e-5 against PyTorch, 2.6e-5 against
// the double formula), so TEMB_ATOL = 1e-4 for both.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap/ref.h"
#include "tap/tap.h"
#include "tlayers.h"

#define DIR "tests/data/tlayers"
#define ATOL 1e-5
#define RTOL 1e-5
#define TEMB_ATOL 1e-4
#define TEMB_EXACT_ATOL 1e-4

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
static float *rnd(size_t n, uint64_t *s) {
    float *p = zeros(n);
    for (size_t i = 0; i < n; i++) p[i] = frand(s);
    return p;
}
static float *copy(const float *a, size_t n) {
    float *p = zeros(n);
    memcpy(p, a, sizeof(float) * n);
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
// Generic gradcheck: a sample of at most GC_MAXCHECK elements of param.

typedef double (*LossFn)(void *ctx);
static double worst_seen = 0;
static char worst_name[96] = "";

static void gradcheck(LossFn f, void *ctx, float *param, const float *grad, size_t n,
                      const char *name, uint64_t *st) {
    double worst = 0, wa = 0, wn = 0;
    size_t worst_i = 0;
    int count = n < GC_MAXCHECK ? (int)n : GC_MAXCHECK;
    for (int j = 0; j < count; j++) {
        size_t i = n <= GC_MAXCHECK ? (size_t)j
                                    : (size_t)((frand(st) * 0.5f + 0.5f) * (float)(n - 1));
        float v0 = param[i], xp = v0 + GC_STEP, xm = v0 - GC_STEP;   // the steps as rounded in float
        param[i] = xp;
        double lp = f(ctx);
        param[i] = xm;
        double lm = f(ctx);
        param[i] = v0;
        double num = (lp - lm) / ((double)xp - (double)xm), a = grad[i];
        double e = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), FLOOR);
        if (e >= worst) worst = e, worst_i = i, wa = a, wn = num;
    }
    f(ctx);   // leave the forward's outputs and caches at the unperturbed point
    if (worst > worst_seen) {
        worst_seen = worst;
        snprintf(worst_name, sizeof worst_name, "%s", name);
    }
    diag("  %s: %d elements, worst relative error %.2e at %zu (analytic %.6g, numeric %.6g)",
         name, count, worst, worst_i, wa, wn);
    ok(worst < GC_TOL, "gradcheck %s", name);
}

// ---------------------------------------------------------------------------
// LayerNorm

// out = (x - mean) / sqrt(var + eps) * w + b in double
static void ln_naive(float *out, const float *x, const float *w, const float *b, int rows, int C,
                     double eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += xr[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (xr[i] - m) * (xr[i] - m);
        double rs = 1.0 / sqrt(v / C + eps);
        for (int i = 0; i < C; i++)
            out[(size_t)r * C + i] = (float)((xr[i] - m) * rs * (w ? w[i] : 1.0) + (b ? b[i] : 0.0));
    }
}

#define LN_REF_CHECKS 4
static void check_ln_ref(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "ln_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(LN_REF_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 4, "meta");
    int rows = (int)m[0], C = (int)m[1], affine = (int)m[2];
    float eps = m[3];
    size_t n = (size_t)rows * C, nc = affine ? (size_t)C : 0;
    const float *x = ref_get(&r, 1, n, "x"), *w = ref_get(&r, 2, nc, "w"),
                *b = ref_get(&r, 3, nc, "b"), *out = ref_get(&r, 4, n, "out"),
                *G = ref_get(&r, 5, n, "G"), *dx = ref_get(&r, 6, n, "dx"),
                *dw = ref_get(&r, 7, nc, "dw"), *db = ref_get(&r, 8, nc, "db");
    if (!affine) w = b = NULL;
    float *o = zeros(n), *mean = zeros((size_t)rows), *rstd = zeros((size_t)rows), *gx = zeros(n),
          *gw = zeros(nc), *gb = zeros(nc);
    layernorm_forward_eps(o, mean, rstd, x, w, b, rows, C, eps);
    layernorm_backward(gx, affine ? gw : NULL, affine ? gb : NULL, G, x, mean, rstd, w, rows, C);
    is_tensor_close(o, out, n, ATOL, RTOL, "layernorm %s (rows %d C %d eps %g%s) vs torch: out",
                    name, rows, C, (double)eps, affine ? "" : ", no affine");
    is_tensor_close(gx, dx, n, ATOL, RTOL, "layernorm %s vs torch: dx", name);
    if (affine) {
        is_tensor_close(gw, dw, nc, ATOL, RTOL, "layernorm %s vs torch: dw", name);
        is_tensor_close(gb, db, nc, ATOL, RTOL, "layernorm %s vs torch: db", name);
    } else {
        skip(2, "layernorm %s: no affine parameters", name);
    }
    free(o); free(mean); free(rstd); free(gx); free(gw); free(gb);
    ref_free(&r);
}

typedef struct Ln {
    int rows, C;
    float eps;
    float *x, *w, *b, *out, *mean, *rstd, *G;
} Ln;

static double ln_loss(void *ctx) {
    Ln *l = ctx;
    layernorm_forward_eps(l->out, l->mean, l->rstd, l->x, l->w, l->b, l->rows, l->C, l->eps);
    return dot(l->out, l->G, (size_t)l->rows * l->C);
}

#define LN_CHECKS(affine) (3 + ((affine) ? 3 : 1))
static void check_ln(int rows, int C, int affine, float offset, uint64_t seed) {
    uint64_t st = seed;
    size_t n = (size_t)rows * C;
    Ln l = {rows, C, LN_EPS, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    l.x = rnd(n, &st);
    for (int r = 0; r < rows; r++)   // per-row spread and offset
        for (int i = 0; i < C; i++)
            l.x[(size_t)r * C + i] =
                l.x[(size_t)r * C + i] * (1.0f + 0.25f * (float)(r % 4)) + offset * (float)(r % 3);
    if (affine) {
        l.w = rnd((size_t)C, &st);
        l.b = rnd((size_t)C, &st);
        for (int i = 0; i < C; i++) l.w[i] += 1.0f;
    }
    l.out = zeros(n); l.mean = zeros((size_t)rows); l.rstd = zeros((size_t)rows);
    l.G = rnd(n, &st);
    ln_loss(&l);
    float *want = zeros(n);
    ln_naive(want, l.x, l.w, l.b, rows, C, LN_EPS);
    is_tensor_close(l.out, want, n, 1e-5, 1e-5,
                    "layernorm forward rows %d C %d%s, row offsets %g", rows, C,
                    affine ? "" : " (no affine)", (double)offset);
    // in place (out = x) gives the same values
    float *xin = copy(l.x, n), *m2 = zeros((size_t)rows), *r2 = zeros((size_t)rows);
    layernorm_forward(xin, m2, r2, xin, l.w, l.b, rows, C);
    is_tensor_equal(xin, l.out, n, "  in place (out aliases x) gives the same output");
    // grads accumulate onto what the buffers held
    float *dx = rnd(n, &st), *dx0 = copy(dx, n);
    float *dw = affine ? rnd((size_t)C, &st) : NULL, *dw0 = affine ? copy(dw, (size_t)C) : NULL;
    float *db = affine ? rnd((size_t)C, &st) : NULL, *db0 = affine ? copy(db, (size_t)C) : NULL;
    layernorm_backward(dx, dw, db, l.G, l.x, l.mean, l.rstd, l.w, rows, C);
    // dx with dw, db NULL must equal the dx part of the full call
    float *dxo = zeros(n);
    layernorm_backward(dxo, NULL, NULL, l.G, l.x, l.mean, l.rstd, l.w, rows, C);
    for (size_t i = 0; i < n; i++) dx[i] -= dx0[i];
    for (int i = 0; affine && i < C; i++) dw[i] -= dw0[i], db[i] -= db0[i];
    is_tensor_close(dxo, dx, n, 1e-6, 1e-5, "  dx alone (dw, db NULL) equals the accumulated dx");
    char label[96];
    snprintf(label, sizeof label, "layernorm dx (C %d%s, accumulated)", C, affine ? "" : ", no affine");
    gradcheck(ln_loss, &l, l.x, dx, n, label, &st);
    if (affine) {
        snprintf(label, sizeof label, "layernorm dw (C %d)", C);
        gradcheck(ln_loss, &l, l.w, dw, (size_t)C, label, &st);
        snprintf(label, sizeof label, "layernorm db (C %d)", C);
        gradcheck(ln_loss, &l, l.b, db, (size_t)C, label, &st);
    }
    free(l.x); free(l.w); free(l.b); free(l.out); free(l.mean); free(l.rstd); free(l.G);
    free(want); free(xin); free(m2); free(r2); free(dx); free(dx0); free(dw); free(dw0); free(db);
    free(db0); free(dxo);
}

// ---------------------------------------------------------------------------
// GELU, SiLU

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double silu_d(double x) { return x / (1.0 + exp(-x)); }

#define ACT_REF_CHECKS 6
static void check_act_ref(void) {
    Ref r;
    if (ref_load(&r, "act") != 0) {
        skip(ACT_REF_CHECKS, "no reference act");
        return;
    }
    size_t n = (size_t)ref_get(&r, 0, 1, "meta")[0];
    const float *x = ref_get(&r, 1, n, "x"), *G = ref_get(&r, 2, n, "G");
    float *o = zeros(n), *dx = zeros(n), *want = zeros(n);
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "silu" : "gelu";
        const float *tout = ref_get(&r, 3 + 2 * k, n, "out"), *tdx = ref_get(&r, 4 + 2 * k, n, "dx");
        memset(dx, 0, sizeof(float) * n);
        if (k) {
            silu_forward(o, x, n);
            silu_backward(dx, G, x, n);
        } else {
            gelu_forward(o, x, n);
            gelu_backward(dx, G, x, n);
        }
        for (size_t i = 0; i < n; i++) want[i] = (float)(k ? silu_d(x[i]) : gelu_d(x[i]));
        is_tensor_close(o, want, n, 1e-6, 1e-6, "%s forward vs double reference (x up to +-100)",
                        name);
        is_tensor_close(o, tout, n, ATOL, RTOL, "%s vs torch: out", name);
        is_tensor_close(dx, tdx, n, ATOL, RTOL, "%s vs torch: dx", name);
    }
    free(o); free(dx); free(want);
    ref_free(&r);
}

typedef struct Act {
    int silu;
    size_t n;
    float *x, *out, *G;
} Act;

static double act_loss(void *ctx) {
    Act *a = ctx;
    if (a->silu) silu_forward(a->out, a->x, a->n);
    else gelu_forward(a->out, a->x, a->n);
    return dot(a->out, a->G, a->n);
}

static void check_act_grad(int silu, uint64_t seed) {
    uint64_t st = seed;
    Act a = {silu, 300, NULL, NULL, NULL};
    a.x = rnd(a.n, &st);
    for (size_t i = 0; i < a.n; i++) a.x[i] *= 5.0f;
    a.out = zeros(a.n);
    a.G = rnd(a.n, &st);
    float *dx = rnd(a.n, &st), *dx0 = copy(dx, a.n);
    if (silu) silu_backward(dx, a.G, a.x, a.n);
    else gelu_backward(dx, a.G, a.x, a.n);
    for (size_t i = 0; i < a.n; i++) dx[i] -= dx0[i];
    gradcheck(act_loss, &a, a.x, dx, a.n, silu ? "silu dx (accumulated)" : "gelu dx (accumulated)",
              &st);
    free(a.x); free(a.out); free(a.G); free(dx); free(dx0);
}

// ---------------------------------------------------------------------------
// Timestep embedding

#define TEMB_REF_CHECKS 2
static void check_temb_ref(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "temb_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(TEMB_REF_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 2, "meta");
    int B = (int)m[0], dim = (int)m[1], half = dim / 2;
    const float *tf = ref_get(&r, 1, (size_t)B, "t");
    const float *emb = ref_get(&r, 2, (size_t)B * dim, "emb");
    int32_t *t = calloc((size_t)B, sizeof(int32_t));
    if (!t) bail("out of memory");
    for (int b = 0; b < B; b++) t[b] = (int32_t)tf[b];
    float *o = zeros((size_t)B * dim), *want = zeros((size_t)B * dim);
    temb_forward(o, t, B, dim);
    is_tensor_close(o, emb, (size_t)B * dim, TEMB_ATOL, 0, "temb dim %d (t up to %d) vs torch",
                    dim, t[B - 1]);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < half; i++) {
            double arg = t[b] * exp(-log(10000.0) * i / (half - 1));
            want[(size_t)b * dim + i] = (float)sin(arg);
            want[(size_t)b * dim + half + i] = (float)cos(arg);
        }
    is_tensor_close(o, want, (size_t)B * dim, TEMB_EXACT_ATOL, 0,
                    "temb dim %d vs the exact formula in double%s", dim,
                    dim % 2 ? " (odd: last column 0)" : "");
    free(t); free(o); free(want);
    ref_free(&r);
}

static void check_temb_t0(void) {
    int32_t t[2] = {0, 5};
    float o[2 * 16];
    temb_forward(o, t, 2, 16);
    int good = 1;
    for (int i = 0; i < 8; i++) good &= o[i] == 0.0f && o[8 + i] == 1.0f;
    // highest frequency is exp(0) = 1: sin(5), cos(5); lowest is 1/10000
    good &= fabsf(o[16] - sinf(5.0f)) < 1e-6f && fabsf(o[24] - cosf(5.0f)) < 1e-6f;
    good &= fabsf(o[23] - sinf(5e-4f)) < 1e-7f;
    ok(good, "temb t = 0 gives [0.., 1..]; t = 5: sin(5), cos(5) first, sin(5e-4) at the end");
}

int main(void) {
    plan(2 * LN_REF_CHECKS + LN_REF_CHECKS + LN_CHECKS(1) * 3 + LN_CHECKS(0) + ACT_REF_CHECKS +
         2 + 2 * TEMB_REF_CHECKS + 1);
    check_ln_ref("d16");
    check_ln_ref("d128_eps6");
    check_ln_ref("noaffine");
    check_ln(6, 16, 1, 0.0f, 1);
    check_ln(21, 128, 1, 3.0f, 2);       // the denoiser's size: B*L = 3*7 tokens, d = 128
    check_ln(4, 64, 1, 1000.0f, 3);      // large offsets: the double statistics keep it exact
    check_ln(5, 8, 0, 0.5f, 4);
    check_act_ref();
    check_act_grad(0, 10);
    check_act_grad(1, 11);
    check_temb_ref("d128");
    check_temb_ref("d15");
    check_temb_t0();
    diag("worst gradcheck relative error: %.2e (%s)", worst_seen, worst_name);
    return tap_done();
}
