// 1000-conv.c - Conv2d (kt, 1) of layers.h: conv2d_forward (all three paths:
// 1x1 pointwise, stride-1 tap-by-tap GEMMs, stride > 1 im2col) against
// conv2d_forward_naive over the shapes CTR-GCN
// uses (kt 1/5/9, stride 1/2, dilation 1/2, pad = (kt + (kt-1)(d-1) - 1)/2,
// cin = 3), edge cases (windows entirely in the padding, no padding); then a
// finite-difference gradcheck of conv2d_backward (dx, dw, db) and its
// accumulation semantics (grads add onto what the buffers held).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "tap/tap.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}
static float *rnd(size_t n, uint64_t *s) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) bail("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = frand(s);
    return p;
}
static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) bail("out of memory");
    return p;
}
static int pad_of(int kt, int d) { return (kt + (kt - 1) * (d - 1) - 1) / 2; }

// ---------------------------------------------------------------------------
// Forward vs naive

static void check_forward(int N, int cin, int cout, int T, int V, int kt, int s, int d, int p,
                          int bias, uint64_t seed) {
    Conv2d c = {cin, cout, kt, s, d, p};
    int Tout = conv2d_out_t(&c, T);
    size_t nx = (size_t)N * cin * T * V, nw = (size_t)cout * cin * kt,
           no = (size_t)N * cout * Tout * V;
    uint64_t st = seed;
    float *x = rnd(nx, &st), *w = rnd(nw, &st), *b = bias ? rnd((size_t)cout, &st) : NULL;
    float *o1 = rnd(no, &st), *o2 = zeros(no);   // o1 starts as garbage: forward overwrites
    float *work = rnd(conv2d_work_size(&c, N, T, V), &st);
    conv2d_forward(&c, o1, x, w, b, N, T, V, work);
    conv2d_forward_naive(&c, o2, x, w, b, N, T, V);
    double atol = 1e-6 * (cin * kt + 1) + 1e-6;   // float sums of cin*kt products <= 1
    is_tensor_close(o1, o2, no, atol, 1e-5,
                    "forward N=%d cin=%d cout=%d T=%d V=%d kt=%d s=%d d=%d p=%d%s (Tout=%d)", N,
                    cin, cout, T, V, kt, s, d, p, bias ? "" : " no bias", Tout);
    free(x); free(w); free(b); free(o1); free(o2); free(work);
}

// ---------------------------------------------------------------------------
// Gradcheck: loss = sum(out * G), central differences with step H on a subset
// of the elements of x, w and b. The loss is linear in each of them, so the
// difference quotient is exact but for float rounding of the forward; the
// error measure is |a - n| / max(|a|, |n|, FLOOR): FLOOR keeps gradients that
// are ~0 from dividing rounding noise by ~0.

#define H 1e-2f
#define FLOOR 1e-1
#define GC_TOL 1e-2
#define GC_MAXCHECK 48

typedef struct Case {
    Conv2d c;
    int N, T, V;
    float *x, *w, *b, *G, *out, *work;
} Case;

static double loss_of(Case *k) {
    conv2d_forward(&k->c, k->out, k->x, k->w, k->b, k->N, k->T, k->V, k->work);
    size_t no = (size_t)k->N * k->c.cout * conv2d_out_t(&k->c, k->T) * k->V;
    double L = 0;
    for (size_t i = 0; i < no; i++) L += (double)k->out[i] * k->G[i];
    return L;
}

static double worst_seen = 0;

static void gradcheck(Case *k, float *param, const float *grad, size_t n, const char *name,
                      uint64_t *st) {
    double worst = 0;
    size_t worst_i = 0;
    int count = n < GC_MAXCHECK ? (int)n : GC_MAXCHECK;
    for (int j = 0; j < count; j++) {
        size_t i = n <= GC_MAXCHECK ? (size_t)j : (size_t)((frand(st) * 0.5f + 0.5f) * (float)(n - 1));
        float v0 = param[i];
        param[i] = v0 + H;
        double lp = loss_of(k);
        param[i] = v0 - H;
        double lm = loss_of(k);
        param[i] = v0;
        double num = (lp - lm) / (2.0 * H), a = grad[i];
        double den = fmax(fmax(fabs(a), fabs(num)), FLOOR);
        double e = fabs(a - num) / den;
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    if (worst > worst_seen) worst_seen = worst;
    diag("  %s: %d elements, worst relative error %.2e at %zu", name, count, worst, worst_i);
    ok(worst < GC_TOL, "gradcheck %s kt=%d s=%d d=%d p=%d cin=%d cout=%d", name, k->c.kt,
       k->c.stride, k->c.dil, k->c.pad, k->c.cin, k->c.cout);
}

static void check_backward(int N, int cin, int cout, int T, int V, int kt, int s, int d, int p,
                           uint64_t seed) {
    Case k = {{cin, cout, kt, s, d, p}, N, T, V, NULL, NULL, NULL, NULL, NULL, NULL};
    int Tout = conv2d_out_t(&k.c, T);
    size_t nx = (size_t)N * cin * T * V, nw = (size_t)cout * cin * kt,
           no = (size_t)N * cout * Tout * V;
    uint64_t st = seed;
    k.x = rnd(nx, &st); k.w = rnd(nw, &st); k.b = rnd((size_t)cout, &st);
    k.G = rnd(no, &st); k.out = zeros(no);
    k.work = zeros(conv2d_work_size(&k.c, N, T, V));
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)cout);
    conv2d_backward(&k.c, dx, dw, db, k.G, k.x, k.w, N, T, V, k.work);
    gradcheck(&k, k.x, dx, nx, "dx", &st);
    gradcheck(&k, k.w, dw, nw, "dw", &st);
    gradcheck(&k, k.b, db, (size_t)cout, "db", &st);

    // Accumulation: grads add onto what the buffers hold (here a first pass).
    float *dx2 = malloc(sizeof(float) * nx), *dw2 = malloc(sizeof(float) * nw),
          *db2 = malloc(sizeof(float) * cout);
    if (!dx2 || !dw2 || !db2) bail("out of memory");
    memcpy(dx2, dx, sizeof(float) * nx);
    memcpy(dw2, dw, sizeof(float) * nw);
    memcpy(db2, db, sizeof(float) * cout);
    conv2d_backward(&k.c, dx2, dw2, db2, k.G, k.x, k.w, N, T, V, k.work);
    for (size_t i = 0; i < nx; i++) dx[i] *= 2.0f;
    for (size_t i = 0; i < nw; i++) dw[i] *= 2.0f;
    for (int i = 0; i < cout; i++) db[i] *= 2.0f;
    int acc = 1;
    acc &= is_tensor_close(dx2, dx, nx, 1e-6, 1e-6, "  backward twice: dx doubles");
    acc &= is_tensor_close(dw2, dw, nw, 1e-6, 1e-6, "  backward twice: dw doubles");
    acc &= is_tensor_close(db2, db, (size_t)cout, 1e-6, 1e-6, "  backward twice: db doubles");
    (void)acc;

    // NULL grads are skipped: dx NULL must leave dw as with dx.
    float *dw3 = zeros(nw);
    conv2d_backward(&k.c, NULL, dw3, NULL, k.G, k.x, k.w, N, T, V, k.work);
    for (size_t i = 0; i < nw; i++) dw3[i] *= 2.0f;
    is_tensor_close(dw3, dw, nw, 1e-6, 1e-6, "  dx = db = NULL: dw unchanged");
    free(k.x); free(k.w); free(k.b); free(k.G); free(k.out); free(k.work);
    free(dx); free(dw); free(db); free(dx2); free(dw2); free(db2); free(dw3);
}

int main(void) {
    static const int fwd[][9] = {
        // N cin cout  T  V kt s d bias
        {2, 3, 8, 20, 5, 1, 1, 1, 1},    // first 1x1 convs of CTR-GCN (cin = 3), fast path
        {3, 16, 12, 9, 7, 1, 1, 1, 0},   // 1x1 without bias
        {2, 8, 16, 9, 3, 1, 2, 1, 1},    // 1x1 stride 2 (residual down-sampling)
        {2, 3, 6, 16, 5, 5, 1, 1, 1},    // cin = 3 temporal
        {2, 6, 5, 16, 5, 5, 1, 1, 1},    // MS-TCN branch kt 5, d 1
        {2, 6, 5, 16, 5, 5, 1, 2, 1},    //   d 2
        {2, 6, 5, 17, 5, 5, 2, 1, 1},    //   stride 2, odd T
        {2, 6, 5, 17, 5, 5, 2, 2, 0},    //   stride 2, d 2
        {2, 5, 7, 20, 4, 9, 1, 1, 1},    // unit_tcn kt 9
        {2, 5, 7, 20, 4, 9, 2, 1, 1},    //   stride 2
        {1, 4, 3, 3, 2, 9, 1, 1, 1},     // T < kt: taps that never see data
        {1, 4, 3, 2, 3, 5, 2, 2, 1},     // T = 2, d 2, stride 2
        {2, 32, 24, 12, 25, 5, 1, 1, 1}, // wider, V = 25
    };
    const int nf = (int)(sizeof fwd / sizeof fwd[0]);
    static const int bwd[][8] = {
        // N cin cout T V kt s d
        {2, 5, 4, 6, 3, 1, 1, 1},   // 1x1 fast path
        {2, 4, 3, 11, 3, 5, 2, 2},  // im2col, stride 2, dilation 2
        {2, 3, 4, 10, 2, 9, 1, 1},  // kt 9, cin 3
        {2, 4, 6, 7, 3, 1, 2, 1},   // 1x1 stride 2
    };
    const int nb = (int)(sizeof bwd / sizeof bwd[0]);
    plan(nf + 1 + nb * 7);

    for (int i = 0; i < nf; i++) {
        const int *f = fwd[i];
        check_forward(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], pad_of(f[5], f[7]), f[8],
                      100 + (uint64_t)i);
    }
    // no padding at all (a valid convolution)
    check_forward(2, 4, 3, 12, 3, 3, 1, 2, 0, 1, 200);

    for (int i = 0; i < nb; i++) {
        const int *b = bwd[i];
        check_backward(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], pad_of(b[5], b[7]),
                       300 + (uint64_t)i);
    }
    diag("worst gradcheck relative error over all cases: %.2e", worst_seen);
    return tap_done();
}
