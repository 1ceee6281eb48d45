// 1020-act-pool-linear-loss.c - the small layers of layers.h: relu, tanh,
// maxpool_t (kernel 3 along T, padding 1 acting as -inf, stride 1 and 2,
// borders, ties to the first maximum), linear and softmax cross-entropy:
// forward against naive double references, and finite-difference gradchecks
// of every backward (loss = sum(out * G), central differences, step H, error
// |a - n| / max(|a|, |n|, FLOOR)), plus accumulation (+=) of the grads.
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
static void *zalloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) bail("out of memory");
    return p;
}
static float *zeros(size_t n) { return zalloc(n * sizeof(float)); }

// ---------------------------------------------------------------------------
// Generic gradcheck

#define H 1e-2f
#define FLOOR 1e-1
#define GC_TOL 1e-2
#define GC_MAXCHECK 64

typedef double (*LossFn)(void *ctx);
static double worst_seen = 0;

static void gradcheck(LossFn f, void *ctx, float *param, const float *grad, size_t n, float h,
                      const char *name, uint64_t *st) {
    double worst = 0;
    size_t worst_i = 0;
    int count = n < GC_MAXCHECK ? (int)n : GC_MAXCHECK;
    for (int j = 0; j < count; j++) {
        size_t i = n <= GC_MAXCHECK ? (size_t)j : (size_t)((frand(st) * 0.5f + 0.5f) * (float)(n - 1));
        float v0 = param[i];
        param[i] = v0 + h;
        double lp = f(ctx);
        param[i] = v0 - h;
        double lm = f(ctx);
        param[i] = v0;
        double num = (lp - lm) / (2.0 * h), a = grad[i];
        double e = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), FLOOR);
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    if (worst > worst_seen) worst_seen = worst;
    diag("  %s: %d elements, worst relative error %.2e at %zu", name, count, worst, worst_i);
    ok(worst < GC_TOL, "gradcheck %s", name);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// ---------------------------------------------------------------------------
// relu, tanh

typedef struct Act {
    int is_tanh;
    size_t n;
    float *x, *out, *G;
} Act;

static double act_loss(void *ctx) {
    Act *a = ctx;
    if (a->is_tanh) tanh_forward(a->out, a->x, a->n);
    else relu_forward(a->out, a->x, a->n);
    return dot(a->out, a->G, a->n);
}

static void check_act(int is_tanh, uint64_t seed) {
    const char *name = is_tanh ? "tanh" : "relu";
    uint64_t st = seed;
    Act a = {is_tanh, 300, NULL, NULL, NULL};
    a.x = rnd(a.n, &st);
    // keep relu's inputs away from the kink at 0 (FD across it is meaningless)
    if (!is_tanh)
        for (size_t i = 0; i < a.n; i++) a.x[i] = (a.x[i] < 0 ? -0.05f : 0.05f) + a.x[i];
    a.x[0] = 3.0f; a.x[1] = -3.0f;   // saturated tanh / clear relu cases
    a.out = zeros(a.n); a.G = rnd(a.n, &st);
    act_loss(&a);
    int fw = 1;
    for (size_t i = 0; i < a.n; i++) {
        double want = is_tanh ? tanh((double)a.x[i]) : (a.x[i] > 0 ? a.x[i] : 0.0);
        if (fabs(a.out[i] - want) > 1e-6 * (1 + fabs(want))) fw = 0;
    }
    ok(fw, "%s forward", name);
    float *dx = rnd(a.n, &st), *dx0 = malloc(sizeof(float) * a.n);
    if (!dx0) bail("out of memory");
    memcpy(dx0, dx, sizeof(float) * a.n);   // grads land on top of what dx held
    if (is_tanh) tanh_backward(dx, a.G, a.out, a.n);
    else relu_backward(dx, a.G, a.out, a.n);
    for (size_t i = 0; i < a.n; i++) dx[i] -= dx0[i];
    char label[64];
    snprintf(label, sizeof label, "%s dx (accumulated onto random contents)", name);
    gradcheck(act_loss, &a, a.x, dx, a.n, H, label, &st);
    free(a.x); free(a.out); free(a.G); free(dx); free(dx0);
}

// ---------------------------------------------------------------------------
// maxpool_t

static void maxpool_naive(float *out, int32_t *arg, const float *x, int N, int C, int T, int V,
                          int s) {
    int Tout = (T - 1) / s + 1;
    for (int p = 0; p < N * C; p++)
        for (int to = 0; to < Tout; to++)
            for (int v = 0; v < V; v++) {
                double best = -INFINITY;
                int bi = -1;
                for (int dt = -1; dt <= 1; dt++) {
                    int t = to * s + dt;
                    if (t < 0 || t >= T) continue;
                    double val = x[((size_t)p * T + t) * V + v];
                    if (bi < 0 || val > best) best = val, bi = t;
                }
                out[((size_t)p * Tout + to) * V + v] = (float)best;
                arg[((size_t)p * Tout + to) * V + v] = bi;
            }
}

typedef struct Pool {
    int N, C, T, V, s;
    float *x, *out, *G;
    int32_t *arg;
} Pool;

static double pool_loss(void *ctx) {
    Pool *p = ctx;
    maxpool_t_forward(p->out, p->arg, p->x, p->N, p->C, p->T, p->V, p->s);
    return dot(p->out, p->G, (size_t)p->N * p->C * maxpool_t_out(p->T, p->s) * p->V);
}

static void check_pool(int N, int C, int T, int V, int s, int ties, uint64_t seed) {
    uint64_t st = seed;
    Pool p = {N, C, T, V, s, NULL, NULL, NULL, NULL};
    int Tout = maxpool_t_out(T, s);
    size_t nx = (size_t)N * C * T * V, no = (size_t)N * C * Tout * V;
    ok(Tout == (T + 2 - 3) / s + 1, "maxpool T=%d stride %d: Tout %d", T, s, Tout);
    p.x = zeros(nx);
    if (ties) {
        // few distinct values, all negative: ties everywhere, and the padding
        // (which would be 0 if it were zero-padding) must never win
        for (size_t i = 0; i < nx; i++) p.x[i] = -1.0f - (float)((int)((frand(&st) + 1) * 1.5f));
    } else {
        // distinct values 0.1 apart (shuffled), so a step of H never swaps a max
        for (size_t i = 0; i < nx; i++) p.x[i] = 0.1f * (float)i - 0.05f * (float)nx;
        for (size_t i = nx - 1; i > 0; i--) {
            size_t j = (size_t)((frand(&st) * 0.5f + 0.5f) * (float)i);
            float t = p.x[i]; p.x[i] = p.x[j]; p.x[j] = t;
        }
    }
    p.out = zeros(no); p.G = rnd(no, &st); p.arg = zalloc(no * sizeof(int32_t));
    float *want = zeros(no);
    int32_t *warg = zalloc(no * sizeof(int32_t));
    pool_loss(&p);
    maxpool_naive(want, warg, p.x, N, C, T, V, s);
    is_tensor_equal(p.out, want, no, "maxpool forward T=%d V=%d stride %d%s", T, V, s,
                    ties ? " (ties, all negative)" : "");
    int same = 1;
    for (size_t i = 0; i < no; i++) same &= p.arg[i] == warg[i];
    ok(same, "  argmax: first maximum in scan order, never the padding");
    float *dx = zeros(nx);
    maxpool_t_backward(dx, p.G, p.arg, N, C, T, V, s);
    if (!ties) {
        char label[64];
        snprintf(label, sizeof label, "maxpool dx T=%d stride %d", T, s);
        gradcheck(pool_loss, &p, p.x, dx, nx, H, label, &st);
    } else {
        // with ties the gradient goes to the argmax only: check that directly
        float *wdx = zeros(nx);
        for (int q = 0; q < N * C; q++)
            for (int to = 0; to < Tout; to++)
                for (int v = 0; v < V; v++) {
                    size_t o = ((size_t)q * Tout + to) * V + v;
                    wdx[((size_t)q * T + warg[o]) * V + v] += p.G[o];
                }
        is_tensor_close(dx, wdx, nx, 1e-6, 1e-6, "maxpool dx with ties routes to the first max");
        free(wdx);
    }
    free(p.x); free(p.out); free(p.G); free(p.arg); free(want); free(warg); free(dx);
}

// A hand-made border case: T = 4, stride 2, windows {0,1} and {1,2,3}.
static void check_pool_border(void) {
    const float x[4] = {-5.0f, -7.0f, -2.0f, -2.0f};
    float out[2];
    int32_t arg[2];
    maxpool_t_forward(out, arg, x, 1, 1, 4, 1, 2);
    ok(out[0] == -5.0f && arg[0] == 0 && out[1] == -2.0f && arg[1] == 2,
       "maxpool border T=4 s=2: out (%g, %g) argmax (%d, %d), want (-5, -2) (0, 2)", out[0],
       out[1], arg[0], arg[1]);
}

// ---------------------------------------------------------------------------
// linear

typedef struct Lin {
    int N, in, out;
    float *x, *w, *b, *y, *G;
} Lin;

static double lin_loss(void *ctx) {
    Lin *l = ctx;
    linear_forward(l->y, l->x, l->w, l->b, l->N, l->in, l->out);
    return dot(l->y, l->G, (size_t)l->N * l->out);
}

static void check_linear(int N, int in, int outc, uint64_t seed) {
    uint64_t st = seed;
    Lin l = {N, in, outc, NULL, NULL, NULL, NULL, NULL};
    l.x = rnd((size_t)N * in, &st); l.w = rnd((size_t)outc * in, &st); l.b = rnd((size_t)outc, &st);
    l.y = rnd((size_t)N * outc, &st); l.G = rnd((size_t)N * outc, &st);
    lin_loss(&l);
    float *want = zeros((size_t)N * outc);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < outc; o++) {
            double s = l.b[o];
            for (int i = 0; i < in; i++) s += (double)l.x[(size_t)n * in + i] * l.w[(size_t)o * in + i];
            want[(size_t)n * outc + o] = (float)s;
        }
    is_tensor_close(l.y, want, (size_t)N * outc, 1e-6 * in, 1e-5, "linear forward N=%d in=%d out=%d",
                    N, in, outc);
    float *dx = zeros((size_t)N * in), *dw = zeros((size_t)outc * in), *db = zeros((size_t)outc);
    linear_backward(dx, dw, db, l.G, l.x, l.w, N, in, outc);
    gradcheck(lin_loss, &l, l.x, dx, (size_t)N * in, H, "linear dx", &st);
    gradcheck(lin_loss, &l, l.w, dw, (size_t)outc * in, H, "linear dw", &st);
    gradcheck(lin_loss, &l, l.b, db, (size_t)outc, H, "linear db", &st);
    // accumulation
    float *dw2 = malloc(sizeof(float) * outc * in);
    if (!dw2) bail("out of memory");
    memcpy(dw2, dw, sizeof(float) * outc * in);
    linear_backward(NULL, dw2, NULL, l.G, l.x, l.w, N, in, outc);
    for (size_t i = 0; i < (size_t)outc * in; i++) dw[i] *= 2;
    is_tensor_close(dw2, dw, (size_t)outc * in, 1e-6, 1e-6, "linear dw accumulates (dx, db NULL)");
    free(l.x); free(l.w); free(l.b); free(l.y); free(l.G); free(want); free(dx); free(dw);
    free(db); free(dw2);
}

// ---------------------------------------------------------------------------
// cross-entropy

typedef struct Ce {
    int N, K;
    float *z, *p;
    int32_t *y;
} Ce;

static double ce_loss(void *ctx) {
    Ce *c = ctx;
    return crossentropy_forward(c->p, c->z, c->y, c->N, c->K);
}

static double ce_naive(const float *z, const int32_t *y, int N, int K) {
    double tot = 0;
    for (int n = 0; n < N; n++) {
        double m = z[(size_t)n * K];
        for (int k = 1; k < K; k++) m = fmax(m, z[(size_t)n * K + k]);
        double s = 0;
        for (int k = 0; k < K; k++) s += exp(z[(size_t)n * K + k] - m);
        tot += m + log(s) - z[(size_t)n * K + y[n]];
    }
    return tot / N;
}

static void check_ce(int N, int K, float scale, uint64_t seed) {
    uint64_t st = seed;
    Ce c = {N, K, rnd((size_t)N * K, &st), zeros((size_t)N * K), zalloc(sizeof(int32_t) * N)};
    for (int i = 0; i < N * K; i++) c.z[i] *= scale;
    for (int n = 0; n < N; n++) c.y[n] = (int32_t)((frand(&st) * 0.5f + 0.5f) * (float)(K - 1) + 0.5f);
    double L = ce_loss(&c), want = ce_naive(c.z, c.y, N, K);
    ok(isfinite(L) && fabs(L - want) <= 1e-5 * (1 + fabs(want)),
       "crossentropy N=%d K=%d logits x%g: loss %.6f, want %.6f", N, K, scale, L, want);
    double worst = 0;
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += c.p[(size_t)n * K + k];
        worst = fmax(worst, fabs(s - 1));
    }
    ok(worst < 1e-5, "  probabilities sum to 1 (worst |sum - 1| %.2g)", worst);
    if (scale <= 10) {
        float *dz = zeros((size_t)N * K);
        crossentropy_backward(dz, c.p, c.y, N, K, 1.0f);
        gradcheck(ce_loss, &c, c.z, dz, (size_t)N * K, 1e-2f, "crossentropy dlogits", &st);
        // dloss scales, and accumulates (probs again at the unperturbed logits)
        ce_loss(&c);
        float *dz2 = zeros((size_t)N * K);
        crossentropy_backward(dz2, c.p, c.y, N, K, 0.5f);
        crossentropy_backward(dz2, c.p, c.y, N, K, 2.0f);
        for (int i = 0; i < N * K; i++) dz[i] *= 2.5f;
        is_tensor_close(dz2, dz, (size_t)N * K, 1e-6, 1e-5, "  dloss scales and accumulates");
        free(dz); free(dz2);
    }
    free(c.z); free(c.p); free(c.y);
}

int main(void) {
    plan(2 * 2 + 6 * 4 + 1 + 2 * 5 + 2 * 4 + 2 + 1 + 1);
    check_act(0, 1);
    check_act(1, 2);
    check_pool(2, 3, 9, 4, 1, 0, 10);
    check_pool(2, 3, 9, 4, 2, 0, 11);    // odd T, stride 2: last window half padding
    check_pool(1, 2, 8, 5, 2, 0, 12);    // even T, stride 2
    check_pool(1, 1, 1, 3, 1, 0, 13);    // T = 1: both neighbours are padding
    check_pool(2, 3, 10, 5, 1, 1, 14);   // ties, all negative
    check_pool(2, 3, 11, 5, 2, 1, 15);
    check_pool_border();
    check_linear(5, 12, 7, 20);
    check_linear(16, 256, 60, 21);       // CTR-GCN's classifier: 256 -> 60
    check_ce(6, 10, 3.0f, 30);
    check_ce(8, 60, 1.0f, 31);
    check_ce(4, 5, 1000.0f, 32);         // exp would overflow without the shift
    int32_t bad = 7;
    float z[3] = {0, 1, 2}, pr[3];
    ok(isnan(crossentropy_forward(pr, z, &bad, 1, 3)), "crossentropy with a label out of range is NaN");
    // torch.relu keeps NaN (a corrupt value must reach the scores); 9 values: the blocked loop and the tail.
    float rx[9] = {NAN, -1, 2, -0.0f, 0, -INFINITY, INFINITY, 3, NAN}, ry[9];
    relu_forward(ry, rx, 9);
    ok(isnan(ry[0]) && ry[1] == 0 && ry[2] == 2 && ry[3] == 0 && !signbit(ry[3]) && ry[5] == 0 && isinf(ry[6]) &&
       ry[7] == 3 && isnan(ry[8]), "relu: NaN stays NaN (as torch.relu), -0 and -inf become +0, +inf stays");
    diag("worst gradcheck relative error: %.2e", worst_seen);
    return tap_done();
}
