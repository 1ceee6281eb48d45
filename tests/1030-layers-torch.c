// 1030-layers-torch.c - the layers of layers.h against PyTorch 1.13
// (torch.nn.Conv2d, BatchNorm2d/1d, MaxPool2d, Linear, CrossEntropyLoss):
// outputs, running statistics and autograd gradients saved by
// scripts/ref/make_layers_reference.py in tests/data/layers/*.ref (see the
// README there). Each file is a sequence of tensors (magic, version, ndim,
// dims, float32 data); the first one, meta, holds the case's parameters.
//
// Tolerances: |got - want| <= ATOL + RTOL |want| per tensor. Both sides are
// float32 with different summation orders; the largest sums here (dw over
// N*Tout*V ~ 240 terms, BN statistics over 140 values) keep the differences
// near 1e-6, so ATOL = RTOL = 1e-5 holds with margin. The running variance
// (torch: unbiased var from a float32 reduction) gets the same bound.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "tap/ref.h"
#include "tap/tap.h"

#define DIR "tests/data/layers"
#define ATOL 1e-5
#define RTOL 1e-5

static int ref_load(Ref *r, const char *name) { return ref_load_file(r, DIR, name, "scripts/ref/make_layers_reference.py"); }

// The i-th tensor, checked to have n elements.
static float *ref_get(Ref *r, int i, size_t n, const char *what) {
    if (i >= r->count || r->n[i] != n)
        bail("reference tensor %d (%s): %zu elements, want %zu", i, what,
             i < r->count ? r->n[i] : 0, n);
    return r->t[i];
}

static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) bail("out of memory");
    return p;
}

// ---------------------------------------------------------------------------

#define CONV_CHECKS 4
static void check_conv(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "conv_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(CONV_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 9, "meta");
    int N = (int)m[0], cin = (int)m[1], cout = (int)m[2], T = (int)m[3], V = (int)m[4];
    Conv2d c = {cin, cout, (int)m[5], (int)m[6], (int)m[7], (int)m[8]};
    int Tout = conv2d_out_t(&c, T);
    size_t nx = (size_t)N * cin * T * V, nw = (size_t)cout * cin * c.kt,
           no = (size_t)N * cout * Tout * V;
    const float *x = ref_get(&r, 1, nx, "x"), *w = ref_get(&r, 2, nw, "w"),
                *b = ref_get(&r, 3, (size_t)cout, "b"), *out = ref_get(&r, 4, no, "out"),
                *G = ref_get(&r, 5, no, "G"), *dx = ref_get(&r, 6, nx, "dx"),
                *dw = ref_get(&r, 7, nw, "dw"), *db = ref_get(&r, 8, (size_t)cout, "db");
    float *o = zeros(no), *gx = zeros(nx), *gw = zeros(nw), *gb = zeros((size_t)cout);
    float *work = zeros(conv2d_work_size(&c, N, T, V));
    conv2d_forward(&c, o, x, w, b, N, T, V, work);
    conv2d_backward(&c, gx, gw, gb, G, x, w, N, T, V, work);
    is_tensor_close(o, out, no, ATOL, RTOL, "conv %s (kt %d s %d d %d p %d): out", name, c.kt,
                    c.stride, c.dil, c.pad);
    is_tensor_close(gx, dx, nx, ATOL, RTOL, "conv %s: dx", name);
    is_tensor_close(gw, dw, nw, ATOL, RTOL, "conv %s: dw", name);
    is_tensor_close(gb, db, (size_t)cout, ATOL, RTOL, "conv %s: db", name);
    free(o); free(gx); free(gw); free(gb); free(work);
    ref_free(&r);
}

#define BN_CHECKS 11
static void check_bn(const char *name) {
    Ref r;
    if (ref_load(&r, name) != 0) {
        skip(BN_CHECKS, "no reference %s", name);
        return;
    }
    const float *m = ref_get(&r, 0, 3, "meta");
    int N = (int)m[0], C = (int)m[1], L = (int)m[2];
    size_t n = (size_t)N * C * L, nc = (size_t)C;
    const float *x = ref_get(&r, 1, n, "x"), *gamma = ref_get(&r, 2, nc, "gamma"),
                *beta = ref_get(&r, 3, nc, "beta"), *rm0 = ref_get(&r, 4, nc, "rm0"),
                *rv0 = ref_get(&r, 5, nc, "rv0"), *out = ref_get(&r, 6, n, "out"),
                *rm1 = ref_get(&r, 7, nc, "rm1"), *rv1 = ref_get(&r, 8, nc, "rv1"),
                *G = ref_get(&r, 9, n, "G"), *dx = ref_get(&r, 10, n, "dx"),
                *dg = ref_get(&r, 11, nc, "dgamma"), *db = ref_get(&r, 12, nc, "dbeta"),
                *oute = ref_get(&r, 13, n, "out eval"), *dxe = ref_get(&r, 14, n, "dx eval"),
                *dge = ref_get(&r, 15, nc, "dgamma eval"), *dbe = ref_get(&r, 16, nc, "dbeta eval");
    float *o = zeros(n), *mean = zeros(nc), *rstd = zeros(nc), *rm = zeros(nc), *rv = zeros(nc);
    float *gx = zeros(n), *gg = zeros(nc), *gb = zeros(nc);
    memcpy(rm, rm0, sizeof(float) * nc);
    memcpy(rv, rv0, sizeof(float) * nc);
    batchnorm_forward(o, mean, rstd, x, gamma, beta, rm, rv, N, C, L, 1, NULL);
    batchnorm_backward(gx, gg, gb, G, x, mean, rstd, gamma, N, C, L, 1, NULL);
    is_tensor_close(o, out, n, ATOL, RTOL, "%s N=%d C=%d L=%d training: out", name, N, C, L);
    is_tensor_close(rm, rm1, nc, ATOL, RTOL, "%s training: running_mean", name);
    is_tensor_close(rv, rv1, nc, ATOL, RTOL, "%s training: running_var (unbiased)", name);
    is_tensor_close(gx, dx, n, ATOL, RTOL, "%s training: dx", name);
    is_tensor_close(gg, dg, nc, ATOL, RTOL, "%s training: dgamma", name);
    is_tensor_close(gb, db, nc, ATOL, RTOL, "%s training: dbeta", name);
    // eval, with the running statistics the training step left
    memset(gx, 0, sizeof(float) * n);
    memset(gg, 0, sizeof(float) * nc);
    memset(gb, 0, sizeof(float) * nc);
    float *rm_before = zeros(nc);
    memcpy(rm_before, rm, sizeof(float) * nc);
    batchnorm_forward(o, mean, rstd, x, gamma, beta, rm, rv, N, C, L, 0, NULL);
    batchnorm_backward(gx, gg, gb, G, x, mean, rstd, gamma, N, C, L, 0, NULL);
    is_tensor_close(o, oute, n, ATOL, RTOL, "%s eval: out", name);
    is_tensor_close(gx, dxe, n, ATOL, RTOL, "%s eval: dx", name);
    is_tensor_close(gg, dge, nc, ATOL, RTOL, "%s eval: dgamma", name);
    is_tensor_close(gb, dbe, nc, ATOL, RTOL, "%s eval: dbeta", name);
    is_tensor_equal(rm, rm_before, nc, "%s eval: running_mean untouched", name);
    free(rm_before);
    free(o); free(mean); free(rstd); free(rm); free(rv); free(gx); free(gg); free(gb);
    ref_free(&r);
}

#define POOL_CHECKS 2
static void check_pool(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "pool_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(POOL_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 5, "meta");
    int N = (int)m[0], C = (int)m[1], T = (int)m[2], V = (int)m[3], s = (int)m[4];
    int Tout = maxpool_t_out(T, s);
    size_t nx = (size_t)N * C * T * V, no = (size_t)N * C * Tout * V;
    const float *x = ref_get(&r, 1, nx, "x"), *out = ref_get(&r, 2, no, "out"),
                *G = ref_get(&r, 3, no, "G"), *dx = ref_get(&r, 4, nx, "dx");
    float *o = zeros(no), *gx = zeros(nx);
    int32_t *arg = calloc(no, sizeof(int32_t));
    if (!arg) bail("out of memory");
    maxpool_t_forward(o, arg, x, N, C, T, V, s);
    maxpool_t_backward(gx, G, arg, N, C, T, V, s);
    is_tensor_equal(o, out, no, "maxpool %s (T %d stride %d): out", name, T, s);
    is_tensor_close(gx, dx, nx, ATOL, RTOL, "maxpool %s: dx (routed like torch's indices)", name);
    free(o); free(gx); free(arg);
    ref_free(&r);
}

#define LINEAR_CHECKS 4
static void check_linear(void) {
    Ref r;
    if (ref_load(&r, "linear") != 0) {
        skip(LINEAR_CHECKS, "no reference linear");
        return;
    }
    const float *m = ref_get(&r, 0, 3, "meta");
    int N = (int)m[0], in = (int)m[1], outc = (int)m[2];
    size_t nx = (size_t)N * in, nw = (size_t)outc * in, no = (size_t)N * outc;
    const float *x = ref_get(&r, 1, nx, "x"), *w = ref_get(&r, 2, nw, "w"),
                *b = ref_get(&r, 3, (size_t)outc, "b"), *out = ref_get(&r, 4, no, "out"),
                *G = ref_get(&r, 5, no, "G"), *dx = ref_get(&r, 6, nx, "dx"),
                *dw = ref_get(&r, 7, nw, "dw"), *db = ref_get(&r, 8, (size_t)outc, "db");
    float *o = zeros(no), *gx = zeros(nx), *gw = zeros(nw), *gb = zeros((size_t)outc);
    linear_forward(o, x, w, b, N, in, outc);
    linear_backward(gx, gw, gb, G, x, w, N, in, outc);
    is_tensor_close(o, out, no, ATOL, RTOL, "linear N=%d in=%d out=%d: out", N, in, outc);
    is_tensor_close(gx, dx, nx, ATOL, RTOL, "linear: dx");
    is_tensor_close(gw, dw, nw, ATOL, RTOL, "linear: dw");
    is_tensor_close(gb, db, (size_t)outc, ATOL, RTOL, "linear: db");
    free(o); free(gx); free(gw); free(gb);
    ref_free(&r);
}

#define CE_CHECKS 2
static void check_ce(const char *name) {
    Ref r;
    char file[64];
    snprintf(file, sizeof file, "ce_%s", name);
    if (ref_load(&r, file) != 0) {
        skip(CE_CHECKS, "no reference %s", file);
        return;
    }
    const float *m = ref_get(&r, 0, 2, "meta");
    int N = (int)m[0], K = (int)m[1];
    size_t nz = (size_t)N * K;
    const float *z = ref_get(&r, 1, nz, "logits"), *yf = ref_get(&r, 2, (size_t)N, "labels"),
                *loss = ref_get(&r, 3, 1, "loss"), *dz = ref_get(&r, 4, nz, "dlogits");
    int32_t *y = calloc((size_t)N, sizeof(int32_t));
    float *p = zeros(nz), *g = zeros(nz);
    if (!y) bail("out of memory");
    for (int i = 0; i < N; i++) y[i] = (int32_t)yf[i];
    float l = crossentropy_forward(p, z, y, N, K);
    crossentropy_backward(g, p, y, N, K, 1.0f);
    is_tensor_close(&l, loss, 1, ATOL, RTOL, "crossentropy %s N=%d K=%d: loss (%.6f)", name, N, K,
                    (double)l);
    is_tensor_close(g, dz, nz, ATOL, RTOL, "crossentropy %s: dlogits", name);
    free(y); free(p); free(g);
    ref_free(&r);
}

int main(void) {
    static const char *convs[] = {"1x1_cin3", "k9", "k5_s2_d2", "k5_d2", "k1_s2"};
    static const char *pools[] = {"s1", "s2", "ties_s2", "ties_s1"};
    plan(5 * CONV_CHECKS + 2 * BN_CHECKS + 4 * POOL_CHECKS + LINEAR_CHECKS + 2 * CE_CHECKS);
    for (int i = 0; i < 5; i++) check_conv(convs[i]);
    check_bn("bn2d");
    check_bn("bn1d");
    for (int i = 0; i < 4; i++) check_pool(pools[i]);
    check_linear();
    check_ce("small");
    check_ce("wide");
    return tap_done();
}
