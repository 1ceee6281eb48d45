// 1050-ctrgc.c - CTRGC: ctrgc_forward (BLAS) against ctrgc_forward_naive
// (plain loops, double) on several shapes, then a central finite-difference
// check of every gradient of ctrgc_backward (dx, w1..b4, A, alpha), plus the
// accumulate (+=) and dx == NULL contracts; part of it again with
// COCODIFF_NO_SIMD=1 (the blas_sgemm path of the graph contraction and
// tanhf), and the topology's vector tanh against double tanh.
//
// Gradcheck: loss = sum(out * G) for a fixed random G, accumulated in double
// over the naive forward's output. Each checked element e is moved by +-h in
// float and d loss / d e ~ (L+ - L-) / (e+ - e-), with e+- the float values
// actually used. Error per element: |ana - num| / (max(|ana|, |num|) + floor),
// floor = 1e-2 * max |ana| over the tensor (elements with a tiny gradient are
// judged on the tensor's scale); one `ok` per tensor with the worst error.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "layers.h"
#include "tap/tap.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

static float *falloc(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) bail("out of memory");
    return p;
}

static float *frandn(size_t n, float scale, uint64_t *s) {
    float *p = falloc(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand(s);
    return p;
}

static float *fzero(size_t n) {
    float *p = falloc(n);
    memset(p, 0, sizeof(float) * (n ? n : 1));
    return p;
}

static float *fnan(size_t n) {
    float *p = falloc(n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

// A layer instance with mutable parameters (index order: w1 b1 w2 b2 w3 b3 w4 b4 A alpha).
enum { NPARAM = 10 };
static const char *pname[NPARAM] = {"w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4", "A", "alpha"};
typedef struct Case {
    Ctrgc g;
    int N, T, V;
    float *x, *prm[NPARAM];
    size_t psize[NPARAM];
} Case;

static void case_init(Case *c, int N, int cin, int cout, int T, int V, float alpha, uint64_t seed) {
    c->g = (Ctrgc){.cin = cin, .cout = cout, .rel = ctrgc_rel_channels(cin)};
    c->N = N, c->T = T, c->V = V;
    int rel = c->g.rel;
    uint64_t s = seed;
    size_t sz[NPARAM] = {(size_t)rel * cin, rel, (size_t)rel * cin, rel, (size_t)cout * cin, cout,
                         (size_t)cout * rel, cout, (size_t)V * V, 1};
    float scale[NPARAM] = {1.0f / sqrtf((float)cin), 0.3f, 1.0f / sqrtf((float)cin), 0.3f,
                           1.0f / sqrtf((float)cin), 0.3f, 1.0f / sqrtf((float)rel), 0.3f, 0.5f,
                           0.0f};
    for (int k = 0; k < NPARAM; k++) {
        c->psize[k] = sz[k];
        c->prm[k] = frandn(sz[k], scale[k], &s);
    }
    // A: the layout's inward graph plus noise (a trained PA is dense)
    const SkelLayout *lay = skel_layout_find(V == 25 ? "ntu25" : "openpose18");
    if (lay->V == V) {
        float *A3 = falloc(3 * (size_t)V * V);
        graph_spatial(lay, A3);
        for (int k = 0; k < V * V; k++) c->prm[8][k] = A3[V * V + k] + 0.1f * c->prm[8][k];
        free(A3);
    }
    c->prm[9][0] = alpha;
    c->x = frandn((size_t)N * cin * T * V, 1.0f, &s);
}

static void case_free(Case *c) {
    free(c->x);
    for (int k = 0; k < NPARAM; k++) free(c->prm[k]);
}

static CtrgcParams case_params(const Case *c) {
    return (CtrgcParams){c->prm[0], c->prm[1], c->prm[2], c->prm[3], c->prm[4],
                         c->prm[5], c->prm[6], c->prm[7], c->prm[8], c->prm[9]};
}

static size_t out_size(const Case *c) {
    return (size_t)c->N * c->g.cout * c->T * c->V;
}

static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

// --- forward vs naive -----------------------------------------------------------

static void check_forward(int N, int cin, int cout, int T, int V, float alpha, uint64_t seed) {
    Case c;
    case_init(&c, N, cin, cout, T, V, alpha, seed);
    CtrgcParams p = case_params(&c);
    size_t no = out_size(&c);
    float *out = fnan(no), *want = fnan(no);
    float *cache = fnan(ctrgc_cache_size(&c.g, N, T, V)), *work = fnan(ctrgc_work_size(&c.g, N, T, V));
    ctrgc_forward(&c.g, out, cache, c.x, &p, N, T, V, work);
    ctrgc_forward_naive(&c.g, want, c.x, &p, N, T, V);
    // float32 GEMMs over cin (x3) then V (einsum) terms: ~1e-6 of the output's scale
    is_tensor_close(out, want, no, 2e-6 * maxabs(want, no), 1e-5,
                    "forward == naive: N=%d cin=%d (rel %d) cout=%d T=%d V=%d alpha=%g", N, cin,
                    c.g.rel, cout, T, V, alpha);
    free(out), free(want), free(cache), free(work);
    case_free(&c);
}

// --- gradients ------------------------------------------------------------------

static double loss_of(const Case *c, const float *G, float *out) {
    CtrgcParams p = case_params(c);
    ctrgc_forward_naive(&c->g, out, c->x, &p, c->N, c->T, c->V);
    double L = 0;
    for (size_t i = 0, n = out_size(c); i < n; i++) L += (double)out[i] * G[i];
    return L;
}

// Analytic gradients of sum(out * G): grads[0] = dx, grads[1 + k] = param k.
static void analytic(const Case *c, const float *G, float *grads[1 + NPARAM], int with_dx) {
    int N = c->N, T = c->T, V = c->V;
    CtrgcParams p = case_params(c);
    float *out = falloc(out_size(c)), *cache = fnan(ctrgc_cache_size(&c->g, N, T, V));
    float *work = fnan(ctrgc_work_size(&c->g, N, T, V));
    ctrgc_forward(&c->g, out, cache, c->x, &p, N, T, V, work);
    CtrgcGrads dp = {grads[1], grads[2], grads[3], grads[4], grads[5],
                     grads[6], grads[7], grads[8], grads[9], grads[10]};
    ctrgc_backward(&c->g, with_dx ? grads[0] : NULL, &dp, G, cache, c->x, &p, N, T, V, work);
    free(out), free(cache), free(work);
}

// Checks up to `nsample` elements of one tensor (all when it is smaller).
static void check_grad(Case *c, const float *G, float *t, const float *ana, size_t n,
                       int nsample, float h, const char *name, uint64_t *s) {
    float *out = falloc(out_size(c));
    double amax = maxabs(ana, n), floor = 1e-2 * amax, worst = 0, wa = 0, wn = 0;
    size_t widx = 0;
    int m = n <= (size_t)nsample ? (int)n : nsample;
    for (int k = 0; k < m; k++) {
        size_t i = n <= (size_t)nsample ? (size_t)k : (size_t)((frand(s) * 0.5f + 0.5f) * n) % n;
        float x0 = t[i], xp = x0 + h, xm = x0 - h;
        t[i] = xp;
        double Lp = loss_of(c, G, out);
        t[i] = xm;
        double Lm = loss_of(c, G, out);
        t[i] = x0;
        double num = (Lp - Lm) / ((double)xp - (double)xm);
        double den = fmax(fabs(ana[i]), fabs(num)) + floor;
        double err = den > 0 ? fabs(ana[i] - num) / den : fabs(ana[i] - num);
        if (err > worst || k == 0) worst = err, widx = i, wa = ana[i], wn = num;
    }
    ok(worst < 1e-2, "gradcheck %-5s (%d of %zu elements): worst rel err %.2e", name, m, n, worst);
    diag("  %-5s worst at [%zu]: analytic %.6g numeric %.6g (max |grad| %.3g)", name, widx, wa, wn,
         amax);
    free(out);
}

static void gradcheck(int N, int cin, int cout, int T, int V, float alpha, uint64_t seed) {
    Case c;
    case_init(&c, N, cin, cout, T, V, alpha, seed);
    diag("gradcheck N=%d cin=%d (rel %d) cout=%d T=%d V=%d alpha=%g", N, cin, c.g.rel, cout, T, V,
         alpha);
    uint64_t s = seed ^ 0x9E3779B97F4A7C15ULL;
    float *G = frandn(out_size(&c), 1.0f, &s);
    size_t nx = (size_t)N * cin * T * V;
    float *grads[1 + NPARAM];
    grads[0] = calloc(nx, sizeof(float));
    for (int k = 0; k < NPARAM; k++) grads[1 + k] = calloc(c.psize[k], sizeof(float));
    analytic(&c, G, grads, 1);

    check_grad(&c, G, c.x, grads[0], nx, 48, 1e-2f, "x", &s);
    for (int k = 0; k < NPARAM; k++)
        check_grad(&c, G, c.prm[k], grads[1 + k], c.psize[k], 48, 1e-2f, pname[k], &s);

    // Accumulation: a second backward onto the same buffers doubles them;
    // dx == NULL leaves the parameter gradients unchanged.
    float *again[1 + NPARAM];
    for (int k = 0; k <= NPARAM; k++) {
        size_t n = k ? c.psize[k - 1] : nx;
        again[k] = falloc(n);
        memcpy(again[k], grads[k], sizeof(float) * n);
    }
    analytic(&c, G, again, 1);
    int doubled = 1;
    for (int k = 0; k <= NPARAM; k++) {
        size_t n = k ? c.psize[k - 1] : nx;
        double tol = 1e-5 * maxabs(grads[k], n) + 1e-30;
        for (size_t i = 0; i < n; i++) doubled &= fabs(again[k][i] - 2.0 * grads[k][i]) <= 2 * tol;
    }
    ok(doubled, "backward accumulates: twice == 2x once (all 11 gradients)");
    for (int k = 0; k <= NPARAM; k++) memset(again[k], 0, sizeof(float) * (k ? c.psize[k - 1] : nx));
    analytic(&c, G, again, 0);
    int same = 1;
    for (int k = 1; k <= NPARAM; k++)
        same &= memcmp(again[k], grads[k], sizeof(float) * c.psize[k - 1]) == 0;
    ok(same, "dx == NULL: parameter gradients identical");

    for (int k = 0; k <= NPARAM; k++) free(grads[k]), free(again[k]);
    free(G);
    case_free(&c);
}

// The topology's tanh (ctrgc_tanh): with the AVX2 kernel within 0.5 ulp of
// double tanh (rounded: correctly rounded but near halfway points) over a
// sweep of [-11, 11], in odd-length calls (the padded tail); the special
// values as tanhf.
static void check_tanh(void) {
    float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-40f, 2e-4f, 9.0f, -9.1f, 20.0f, 0.5f};
    const size_t nsp = sizeof sp / sizeof sp[0];
    float got[sizeof sp / sizeof sp[0]];
    memcpy(got, sp, sizeof sp);
    ctrgc_tanh(got, nsp);
    int special = 1;
    for (size_t i = 0; i < nsp; i++) {
        float want = tanhf(sp[i]);
        int same = isnan(want) ? isnan(got[i]) : got[i] == want && signbit(got[i]) == signbit(want);
        if (!same) diag("tanh(%g) = %.9g, tanhf %.9g", sp[i], got[i], want);
        special &= same;
    }
    ok(special, "ctrgc_tanh: +-0, +-inf, NaN, tiny, saturated values as tanhf");
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        skip(1, "no AVX2/FMA: ctrgc_tanh is tanhf");
        return;
    }
    enum { CHUNK = 1023 };
    static float x[CHUNK], y[CHUNK];
    double worst = 0, worst_x = 0;
    size_t n = 0;
    for (uint32_t bits = 0x20000000u; bits < 0x41300000u;) {   // 1e-19 .. 11, both signs
        int k = 0;
        for (; k + 1 < CHUNK && bits < 0x41300000u; bits += 2053) {
            float f;
            memcpy(&f, &bits, sizeof f);
            x[k++] = f;
            x[k++] = -f;
        }
        memcpy(y, x, sizeof(float) * k);
        ctrgc_tanh(y, (size_t)k);
        for (int i = 0; i < k; i++) {
            double w = tanh((double)x[i]);
            float wf = (float)w;
            double ulp = fabs((double)nextafterf(wf, 0.0f) - wf);   // the spacing below |wf|
            double e = fabs((double)y[i] - w) / ulp;
            if (e > worst) worst = e, worst_x = x[i];
        }
        n += (size_t)k;
    }
    ok(worst <= 0.5 + 1e-3, "ctrgc_tanh: within 0.5 ulp of tanh over %zu values (worst %.4f ulp at %.9g)", n,
       worst, worst_x);
#else
    skip(1, "not x86-64: ctrgc_tanh is tanhf");
#endif
}

// --- three subsets in one call (CTR-GCN's unit_gcn) ------------------------------

// nsub = 3 against the naive sum and against three nsub = 1 calls: forward,
// and backward's dx and every subset's gradients (alpha shared, as in
// CTR-GCN: its gradient is the three calls' sum).
static void check_subsets(int N, int cin, int cout, int T, int V, uint64_t seed) {
    Case c[3];
    for (int s = 0; s < 3; s++) case_init(&c[s], N, cin, cout, T, V, 0.4f, seed + (uint64_t)s);
    CtrgcParams p[3];
    for (int s = 0; s < 3; s++) p[s] = case_params(&c[s]), p[s].alpha = c[0].prm[9];
    Ctrgc g3 = c[0].g, g1 = c[0].g;
    g3.nsub = 3;
    const size_t no = out_size(&c[0]), nx = (size_t)N * cin * T * V;
    size_t wmax = ctrgc_work_size(&g3, N, T, V);
    float *out = fnan(no), *want = fnan(no), *one = fnan(no), *sum = fzero(no);
    float *cache = fnan(ctrgc_cache_size(&g3, N, T, V)), *work = fnan(wmax);
    ctrgc_forward(&g3, out, cache, c[0].x, p, N, T, V, work);
    ctrgc_forward_naive(&g3, want, c[0].x, p, N, T, V);
    is_tensor_close(out, want, no, 2e-6 * maxabs(want, no), 1e-5, "nsub 3: forward == naive (N=%d cin=%d cout=%d)",
                    N, cin, cout);
    // backward of sum(out * G), all three subsets in one call
    uint64_t st = seed * 7 + 1;
    float *G = frandn(no, 1.0f, &st), *g[2][1 + 3 * NPARAM];
    for (int w = 0; w < 2; w++)
        for (int k = 0; k <= 3 * NPARAM; k++) g[w][k] = fzero(k ? c[(k - 1) / NPARAM].psize[(k - 1) % NPARAM] : nx);
    CtrgcGrads dp[2][3];
    for (int w = 0; w < 2; w++)
        for (int s = 0; s < 3; s++) {
            float **q = g[w] + 1 + s * NPARAM;
            dp[w][s] = (CtrgcGrads){q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], g[w][1 + 9]};
        }
    ctrgc_backward(&g3, g[0][0], dp[0], G, cache, c[0].x, p, N, T, V, work);
    // three single calls
    float *cache1 = fnan(ctrgc_cache_size(&g1, N, T, V));
    for (int s = 0; s < 3; s++) {
        ctrgc_forward(&g1, one, cache1, c[0].x, &p[s], N, T, V, work);
        for (size_t i = 0; i < no; i++) sum[i] += one[i];
        ctrgc_backward(&g1, g[1][0], &dp[1][s], G, cache1, c[0].x, &p[s], N, T, V, work);
    }
    is_tensor_close(out, sum, no, 2e-6 * maxabs(sum, no), 1e-5, "nsub 3: forward == the sum of three single calls");
    is_tensor_close(g[0][0], g[1][0], nx, 1e-5 * maxabs(g[1][0], nx), 1e-5,
                    "nsub 3: dx == the sum of three single calls' dx");
    double worst = 0;
    int wk = 1;
    for (int k = 1; k <= 3 * NPARAM; k++) {
        size_t n = c[(k - 1) / NPARAM].psize[(k - 1) % NPARAM];
        double scale = maxabs(g[1][k], n) + 1e-30, e = 0;
        for (size_t i = 0; i < n; i++) e = fmax(e, fabs(g[0][k][i] - g[1][k][i]) / scale);
        if (e > worst) worst = e, wk = k;
    }
    ok(worst < 1e-5, "nsub 3: every subset's parameter gradients == the single calls' (worst %.2e: subset %d %s)",
       worst, (wk - 1) / NPARAM, pname[(wk - 1) % NPARAM]);
    // recompute_x3: no x3 in the cache, backward recomputes it: the same bits
    Ctrgc gr = g3;
    gr.recompute_x3 = 1;
    const size_t ncr = ctrgc_cache_size(&gr, N, T, V), nc3 = ctrgc_cache_size(&g3, N, T, V);
    float *work_r = fnan(ctrgc_work_size(&gr, N, T, V)), *cache_r = fnan(ncr), *out_r = fnan(no);
    ctrgc_forward(&gr, out_r, cache_r, c[0].x, p, N, T, V, work_r);
    ok(memcmp(out_r, out, no * sizeof(float)) == 0 && ncr + (size_t)N * 3 * cout * T * V == nc3,
       "recompute_x3: forward the same bits, cache %zu floats smaller", nc3 - ncr);
    for (int k = 0; k <= 3 * NPARAM; k++) memset(g[1][k], 0, (k ? c[(k - 1) / NPARAM].psize[(k - 1) % NPARAM] : nx) * sizeof(float));
    ctrgc_backward(&gr, g[1][0], dp[1], G, cache_r, c[0].x, p, N, T, V, work_r);
    int same = 1;
    for (int k = 0; k <= 3 * NPARAM; k++)
        same &= memcmp(g[0][k], g[1][k], (k ? c[(k - 1) / NPARAM].psize[(k - 1) % NPARAM] : nx) * sizeof(float)) == 0;
    ok(same, "recompute_x3: dx and every gradient the same bits as with x3 cached");
    free(work_r), free(cache_r), free(out_r);
    for (int w = 0; w < 2; w++)
        for (int k = 0; k <= 3 * NPARAM; k++) free(g[w][k]);
    free(out), free(want), free(one), free(sum), free(cache), free(cache1), free(work), free(G);
    for (int s = 0; s < 3; s++) case_free(&c[s]);
}

int main(void) {
    plan(8 + 3 + 4 * 13 + 2 + 13 + 2 + 2 * 6);
    is_int(8, ctrgc_rel_channels(3), "rel channels: cin 3 -> 8");
    is_int(8, ctrgc_rel_channels(64), "rel channels: cin 64 -> 8 (and 128 -> 16: %d)",
           ctrgc_rel_channels(128));

    check_forward(2, 3, 64, 16, 25, 0.3f, 1);
    check_forward(2, 64, 64, 16, 25, 0.3f, 2);
    check_forward(2, 64, 128, 16, 25, -0.7f, 3);
    check_forward(3, 128, 64, 7, 25, 0.0f, 4);   // rel 16, odd T, alpha = 0 (CTR-GCN's init)
    check_forward(2, 9, 32, 10, 18, 1.5f, 5);    // rel 8, OpenPose V
    check_forward(1, 16, 16, 1, 25, 0.5f, 6);    // T = 1
    // The AVX2 kernel's second form, 16 < V <= 24 (rows four at a time):
    // NW-UCLA's V 20 at an odd T, and its two ends.
    check_forward(2, 64, 64, 7, 20, 0.3f, 7);
    check_forward(1, 16, 24, 9, 24, -0.5f, 8);
    check_forward(1, 16, 16, 5, 17, 0.5f, 9);

    gradcheck(2, 3, 16, 6, 25, 0.7f, 11);   // first layer: cin 3, rel 8
    gradcheck(2, 16, 8, 5, 18, -0.4f, 12);  // rel 2, OpenPose V
    gradcheck(2, 24, 12, 4, 25, 0.0f, 13);  // alpha = 0: graph branch only through dalpha
    gradcheck(2, 16, 8, 5, 20, 0.6f, 14);   // NW-UCLA's V: the kernel's 16 < V <= 24 form

    // The same on the blas_sgemm path of the graph contraction (the AVX2
    // kernel is otherwise used for 16 < V <= 32 on CPUs that have it).
    setenv("COCODIFF_NO_SIMD", "1", 1);
    diag("again with COCODIFF_NO_SIMD=1");
    check_forward(2, 64, 64, 16, 25, 0.3f, 2);
    check_forward(3, 128, 64, 7, 25, 0.0f, 4);
    gradcheck(2, 3, 16, 6, 25, 0.7f, 11);

    check_subsets(2, 64, 64, 12, 25, 21);
    unsetenv("COCODIFF_NO_SIMD");
    check_subsets(3, 3, 64, 9, 25, 31);   // the first unit's shape: cin 3, rel 8
    check_tanh();
    return tap_done();
}
