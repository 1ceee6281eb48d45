// layer_ctrgc.c - CTR-GCN's CTRGC (model/ctrgcn.py class CTRGC) forward and
// backward over flat float buffers, plus its plain-loop reference (layers.h).
//
//   x1 = mean_T conv1(x), x2 = mean_T conv2(x)         (N, rel, V)
//   R  = tanh(x1[..., u, None] - x2[..., None, v])    (N, rel, V, V)
//   C4 = conv4(R)                                      (N, cout, V, V)
//   M  = C4 * alpha + A                                (N, cout, V, V)
//   x3 = conv3(x)                                      (N, cout, T, V)
//   out[n, c, t, u] = sum_v M[n, c, u, v] x3[n, c, t, v]
//
// The 1x1 convolutions are matmuls per sample, (o, cin) @ (cin, T*V). conv1
// and conv2 are linear, so mean_T conv(x) = W mean_T(x) + b: they are applied
// to the time-mean xm (cin, V) instead of to all T frames (T times fewer
// flops, same value up to float rounding). The final contraction is one small
// GEMM per (n, c): out (T, U) = x3 (T, V) @ M (U, V)^T, as are its two
// backward GEMMs. OpenBLAS reaches ~20 GFLOP/s on these 64x25x25 products
// (its packing costs as much as the math), so when 24 < V <= 32 (NTU) and
// the CPU has AVX2+FMA they run on a register-blocked kernel here instead
// (rows of 25 are 3 full + 1 masked 8-lane vectors), and the topology's tanh
// runs 8 lanes at a time as well (see tanh_inplace). The kernels are chosen
// at run time; COCODIFF_NO_SIMD=1 in the environment forces the blas_sgemm
// path and tanhf (the tests run both).
//
// One call takes all nsub subsets of a unit (CTR-GCN's unit_gcn sums 3 on the
// same input): the time-mean is taken once, the subsets' conv1 and conv2 are
// one (S 2 rel, cin) @ (cin, V) GEMM and their conv3 one (S cout, cin) @
// (cin, T V) GEMM per sample (weights packed once per call), the contraction
// accumulates the subsets into out inside the kernel (no per-subset output
// and sum pass), and backward mirrors it: one K = S cout GEMM for the input
// gradient, one M = S cout GEMM for conv3's weight gradient, one broadcast of
// the time-mean's gradient.
//
// Cache layout (ctrgc_cache_size floats), for a batch of N:
//   xm  (N, cin, V)              time-mean of x
//   x12 (N, S, 2, rel, V)        mean_T conv1(x), mean_T conv2(x) of each subset
//   R   (N, S, rel, V, V)        tanh(x1m_u - x2m_v) of each subset
//   x3  (N, S cout, T, V)        conv3(x) of each subset, unless recompute_x3:
//                                then backward recomputes a sample's x3 into
//                                its work with the forward's call (cin
//                                multiply-adds per float not kept)
// C4 = conv4(R) (cout, V, V), before * alpha + A, is not kept: backward
// recomputes it per sample and subset from R (cout x rel x V^2 multiply-adds,
// ~1% of the layer) with the same call, so it is bit for bit the forward's;
// dalpha needs it, and (M - A) / alpha fails for alpha = 0, CTR-GCN's
// initial value. Work (ctrgc_work_size floats) is per sample, so it does not
// grow with N. Inference passes cache = NULL: each sample's cache then lives
// in the work (after MT and C4) and is overwritten by the next sample; the
// arithmetic is the same, so the output is the same bits.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "layers.h"
#include "prof.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CTRGC_HAVE_AVX2_KERNEL 1
#endif

// --- sizes -------------------------------------------------------------------

int ctrgc_rel_channels(int cin) {
    return (cin == 3 || cin == 9) ? 8 : cin / 8;
}

// Subsets summed by one call (0 counts as 1).
static int nsub_of(const Ctrgc *g) { return g->nsub > 1 ? g->nsub : 1; }

typedef struct CtrgcCache {
    float *xm, *x12, *R, *x3;
} CtrgcCache;

// Points the cache tensors into one buffer (x3 only when with_x3, else
// NULL); returns the floats used.
static size_t cache_carve(const Ctrgc *g, float *base, int N, int T, int V, int with_x3, CtrgcCache *c) {
    size_t n = (size_t)N, S = (size_t)nsub_of(g), VV = (size_t)V * V, off = 0;
    size_t sizes[4] = {n * g->cin * V, n * S * 2 * g->rel * V, n * S * g->rel * VV,
                       with_x3 ? n * S * g->cout * (size_t)T * V : 0};
    float **ptrs[4] = {&c->xm, &c->x12, &c->R, &c->x3};
    for (int k = 0; k < 4; k++) {
        *ptrs[k] = base && sizes[k] ? base + off : NULL;
        off += sizes[k];
    }
    return off;
}

size_t ctrgc_cache_size(const Ctrgc *g, int N, int T, int V) {
    CtrgcCache c;
    return cache_carve(g, NULL, N, T, V, !g->recompute_x3, &c);
}

// The subsets' conv1/conv2 and conv3 weights packed into one matrix each, so
// each is one GEMM per sample: w12 (S 2 rel, cin), rows w1 and w2 of subset 0,
// then of subset 1, ...; b12 (S 2 rel); w3 (S cout, cin); b3 (S cout).
typedef struct CtrgcPacked {
    float *w12, *b12, *w3, *b3;
} CtrgcPacked;

static size_t packed_carve(const Ctrgc *g, float *base, CtrgcPacked *k) {
    size_t S = (size_t)nsub_of(g), r2 = 2 * (size_t)g->rel, off = 0;
    size_t sizes[4] = {S * r2 * g->cin, S * r2, S * g->cout * (size_t)g->cin, S * g->cout};
    float **ptrs[4] = {&k->w12, &k->b12, &k->w3, &k->b3};
    for (int i = 0; i < 4; i++) {
        *ptrs[i] = base ? base + off : NULL;
        off += sizes[i];
    }
    return off;
}

static void pack_weights(const Ctrgc *g, const CtrgcParams *p, const CtrgcPacked *k) {
    const size_t rc = (size_t)g->rel * g->cin, oc = (size_t)g->cout * g->cin, rel = (size_t)g->rel;
    for (int s = 0; s < nsub_of(g); s++) {
        memcpy(k->w12 + (2 * s) * rc, p[s].w1, rc * sizeof(float));
        memcpy(k->w12 + (2 * s + 1) * rc, p[s].w2, rc * sizeof(float));
        memcpy(k->b12 + (2 * s) * rel, p[s].b1, rel * sizeof(float));
        memcpy(k->b12 + (2 * s + 1) * rel, p[s].b2, rel * sizeof(float));
        memcpy(k->w3 + s * oc, p[s].w3, oc * sizeof(float));
        memcpy(k->b3 + s * (size_t)g->cout, p[s].b3, (size_t)g->cout * sizeof(float));
    }
}

// Forward: the packed weights, MT and C4 (cout V^2 each) and one sample's
// cache (used whole with no cache; its x3 part when recompute_x3). Backward:
// the packed weights and their gradients, M, dM (dC4 in place) and C4 (cout
// V^2 each), dx3 (S cout T V), dR (rel V^2), dx12 (S 2 rel V), dxm (cin V),
// and the recomputed x3 (S cout T V) when recompute_x3.
size_t ctrgc_work_size(const Ctrgc *g, int N, int T, int V) {
    (void)N;
    CtrgcCache c;
    const size_t VV = (size_t)V * V, S = (size_t)nsub_of(g), P = packed_carve(g, NULL, &(CtrgcPacked){0});
    const size_t x3 = S * g->cout * (size_t)T * V;
    const size_t fwd = P + 2 * (size_t)g->cout * VV + cache_carve(g, NULL, 1, T, V, 1, &c);
    const size_t bwd = 2 * P + 3 * (size_t)g->cout * VV + x3 + (size_t)g->rel * VV + S * 2 * g->rel * (size_t)V +
                       (size_t)g->cin * V + (g->recompute_x3 ? x3 : 0);
    return fwd > bwd ? fwd : bwd;
}

// --- shared pieces -------------------------------------------------------------

// y (o, L) = w (o, i) @ x (i, L) + b (o), through BLAS (bias pre-filled).
static void conv1x1(float *y, const float *w, const float *b, const float *x, int o, int i,
                    int L) {
    for (int r = 0; r < o; r++) {
        float *row = y + (size_t)r * L;
        const float br = b[r];
        int l = 0;
        for (; l + 8 <= L; l += 8)
            for (int j = 0; j < 8; j++) row[l + j] = br;
        for (; l < L; l++) row[l] = br;
    }
    blas_sgemm(0, 0, o, L, i, 1.0f, w, i, x, L, 1.0f, y, L);
}

// sum a[k] (b[k] when b, else 1) in double, four chains (latency, not adds, bounds a
// single chain: these run over up to T*V = 1600 elements per channel).
static double dot_d(const float *a, const float *b, size_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t k = 0;
    if (b) {
        for (; k + 4 <= n; k += 4) {
            s0 += (double)a[k] * b[k], s1 += (double)a[k + 1] * b[k + 1];
            s2 += (double)a[k + 2] * b[k + 2], s3 += (double)a[k + 3] * b[k + 3];
        }
        for (; k < n; k++) s0 += (double)a[k] * b[k];
    } else {
        for (; k + 4 <= n; k += 4) s0 += a[k], s1 += a[k + 1], s2 += a[k + 2], s3 += a[k + 3];
        for (; k < n; k++) s0 += a[k];
    }
    return (s0 + s1) + (s2 + s3);
}

// M (cout, V, V) = alpha * C4 + A for one sample.
static void make_m(float *M, const float *C4, const float *A, float alpha, int cout, int V) {
    size_t VV = (size_t)V * V;
    for (int c = 0; c < cout; c++) {
        const float *s = C4 + c * VV;
        float *d = M + c * VV;
        size_t k = 0;
        for (; k + 8 <= VV; k += 8) {   // blocks of 8: gcc -O2 vectorises them
            float t[8];
            for (int j = 0; j < 8; j++) t[j] = alpha * s[k + j] + A[k + j];
            for (int j = 0; j < 8; j++) d[k + j] = t[j];
        }
        for (; k < VV; k++) d[k] = alpha * s[k] + A[k];
    }
}

// a (n) += b (n); a *= s when scale (blocks of 8, vectorised at -O2).
static void add_to(float *a, const float *b, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = a[k + j] + b[k + j];
        for (int j = 0; j < 8; j++) a[k + j] = t[j];
    }
    for (; k < n; k++) a[k] += b[k];
}
static void scale_by(float *a, float s, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = a[k + j] * s;
        for (int j = 0; j < 8; j++) a[k + j] = t[j];
    }
    for (; k < n; k++) a[k] *= s;
}

// --- small GEMMs of the graph contraction --------------------------------------

typedef struct SmallGemm {
    int simd;   // use the AVX2 kernels (the contraction when the shape allows it, the tanh)
} SmallGemm;

static SmallGemm small_gemm_init(void) {
    SmallGemm sg = {0};
#ifdef CTRGC_HAVE_AVX2_KERNEL
    const char *off = getenv("COCODIFF_NO_SIMD");
    sg.simd = !(off && *off && strcmp(off, "0") != 0) && __builtin_cpu_supports("avx2") &&
              __builtin_cpu_supports("fma");
#endif
    return sg;
}

#ifdef CTRGC_HAVE_AVX2_KERNEL
// C (m, nc) = A @ B (+ C when acc) with A(i, k) = A[i sa + k sk], B (K, nc) rows ldb, and
// 24 < nc <= 32 (three full 8-lane vectors and a masked one; lanes beyond nc
// are neither read nor written). Rows go three at a time: 12 accumulators.
#define SG_LOAD_B(b)                                                              \
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps((b) + 8);                \
    __m256 b2 = _mm256_loadu_ps((b) + 16), b3 = _mm256_maskload_ps((b) + 24, mask)
#define SG_FMA4(a, c0, c1, c2, c3)                                                \
    do {                                                                          \
        __m256 a_ = _mm256_broadcast_ss(a);                                       \
        c0 = _mm256_fmadd_ps(a_, b0, c0), c1 = _mm256_fmadd_ps(a_, b1, c1);        \
        c2 = _mm256_fmadd_ps(a_, b2, c2), c3 = _mm256_fmadd_ps(a_, b3, c3);        \
    } while (0)
#define SG_INIT4(o, c0, c1, c2, c3)                                               \
    do {                                                                          \
        if (acc) {                                                                \
            c0 = _mm256_loadu_ps(o), c1 = _mm256_loadu_ps((o) + 8);                \
            c2 = _mm256_loadu_ps((o) + 16), c3 = _mm256_maskload_ps((o) + 24, mask); \
        } else {                                                                  \
            c0 = c1 = c2 = c3 = _mm256_setzero_ps();                              \
        }                                                                         \
    } while (0)
#define SG_STORE4(o, c0, c1, c2, c3)                                              \
    do {                                                                          \
        _mm256_storeu_ps(o, c0), _mm256_storeu_ps((o) + 8, c1);                   \
        _mm256_storeu_ps((o) + 16, c2), _mm256_maskstore_ps((o) + 24, mask, c3);  \
    } while (0)

__attribute__((target("avx2,fma"))) static void small_gemm_avx2(int m, int nc, int K,
                                                                  const float *A, int sa, int sk,
                                                                  const float *B, int ldb,
                                                                  float *C, int ldc, int acc) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 24),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int i = 0;
    for (; i + 3 <= m; i += 3) {
        __m256 c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
        float *o = C + (size_t)i * ldc;
        SG_INIT4(o, c00, c01, c02, c03);
        SG_INIT4(o + ldc, c10, c11, c12, c13);
        SG_INIT4(o + 2 * (size_t)ldc, c20, c21, c22, c23);
        const float *a0 = A + (size_t)i * sa, *a1 = a0 + sa, *a2 = a1 + sa;
        for (int k = 0; k < K; k++) {
            const float *b = B + (size_t)k * ldb;
            SG_LOAD_B(b);
            SG_FMA4(a0 + (size_t)k * sk, c00, c01, c02, c03);
            SG_FMA4(a1 + (size_t)k * sk, c10, c11, c12, c13);
            SG_FMA4(a2 + (size_t)k * sk, c20, c21, c22, c23);
        }
        SG_STORE4(o, c00, c01, c02, c03);
        SG_STORE4(o + ldc, c10, c11, c12, c13);
        SG_STORE4(o + 2 * (size_t)ldc, c20, c21, c22, c23);
    }
    for (; i < m; i++) {
        __m256 c0, c1, c2, c3;
        SG_INIT4(C + (size_t)i * ldc, c0, c1, c2, c3);
        const float *a0 = A + (size_t)i * sa;
        for (int k = 0; k < K; k++) {
            const float *b = B + (size_t)k * ldb;
            SG_LOAD_B(b);
            SG_FMA4(a0 + (size_t)k * sk, c0, c1, c2, c3);
        }
        SG_STORE4(C + (size_t)i * ldc, c0, c1, c2, c3);
    }
}

// The same for 16 < nc <= 24 (NW-UCLA's V = 20): two full vectors and a
// masked one, rows four at a time (12 accumulators). Each C element is the
// same chain of fmas over k as above, so a block of rows gives the bits of
// the whole (the time blocks' lanes, ctrgcn_team.h).
#define SG_LOAD_B3(b)                                                             \
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps((b) + 8);                \
    __m256 b2 = _mm256_maskload_ps((b) + 16, mask)
#define SG_FMA3(a, c0, c1, c2)                                                    \
    do {                                                                          \
        __m256 a_ = _mm256_broadcast_ss(a);                                       \
        c0 = _mm256_fmadd_ps(a_, b0, c0), c1 = _mm256_fmadd_ps(a_, b1, c1);        \
        c2 = _mm256_fmadd_ps(a_, b2, c2);                                         \
    } while (0)
#define SG_INIT3(o, c0, c1, c2)                                                   \
    do {                                                                          \
        if (acc) {                                                                \
            c0 = _mm256_loadu_ps(o), c1 = _mm256_loadu_ps((o) + 8);                \
            c2 = _mm256_maskload_ps((o) + 16, mask);                              \
        } else {                                                                  \
            c0 = c1 = c2 = _mm256_setzero_ps();                                   \
        }                                                                         \
    } while (0)
#define SG_STORE3(o, c0, c1, c2)                                                  \
    do {                                                                          \
        _mm256_storeu_ps(o, c0), _mm256_storeu_ps((o) + 8, c1);                   \
        _mm256_maskstore_ps((o) + 16, mask, c2);                                  \
    } while (0)

__attribute__((target("avx2,fma"))) static void small_gemm_avx2_24(int m, int nc, int K,
                                                                     const float *A, int sa, int sk,
                                                                     const float *B, int ldb,
                                                                     float *C, int ldc, int acc) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 16),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int i = 0;
    for (; i + 4 <= m; i += 4) {
        __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        float *o = C + (size_t)i * ldc;
        SG_INIT3(o, c00, c01, c02);
        SG_INIT3(o + ldc, c10, c11, c12);
        SG_INIT3(o + 2 * (size_t)ldc, c20, c21, c22);
        SG_INIT3(o + 3 * (size_t)ldc, c30, c31, c32);
        const float *a0 = A + (size_t)i * sa, *a1 = a0 + sa, *a2 = a1 + sa, *a3 = a2 + sa;
        for (int k = 0; k < K; k++) {
            const float *b = B + (size_t)k * ldb;
            SG_LOAD_B3(b);
            SG_FMA3(a0 + (size_t)k * sk, c00, c01, c02);
            SG_FMA3(a1 + (size_t)k * sk, c10, c11, c12);
            SG_FMA3(a2 + (size_t)k * sk, c20, c21, c22);
            SG_FMA3(a3 + (size_t)k * sk, c30, c31, c32);
        }
        SG_STORE3(o, c00, c01, c02);
        SG_STORE3(o + ldc, c10, c11, c12);
        SG_STORE3(o + 2 * (size_t)ldc, c20, c21, c22);
        SG_STORE3(o + 3 * (size_t)ldc, c30, c31, c32);
    }
    for (; i < m; i++) {
        __m256 c0, c1, c2;
        SG_INIT3(C + (size_t)i * ldc, c0, c1, c2);
        const float *a0 = A + (size_t)i * sa;
        for (int k = 0; k < K; k++) {
            const float *b = B + (size_t)k * ldb;
            SG_LOAD_B3(b);
            SG_FMA3(a0 + (size_t)k * sk, c0, c1, c2);
        }
        SG_STORE3(C + (size_t)i * ldc, c0, c1, c2);
    }
}
#undef SG_LOAD_B
#undef SG_FMA4
#undef SG_STORE4
#undef SG_INIT4
#undef SG_LOAD_B3
#undef SG_FMA3
#undef SG_STORE3
#undef SG_INIT3
#endif

// C (m, nc) = op(A) @ B (+ C when acc): op(A) (m, K) is A (m, K) rows lda, or A^T
// with A (K, m) rows lda when trans_a; B (K, nc) rows ldb; C rows ldc.
static void small_gemm(const SmallGemm *sg, int trans_a, int m, int nc, int K, const float *A,
                       int lda, const float *B, int ldb, float *C, int ldc, int acc) {
#ifdef CTRGC_HAVE_AVX2_KERNEL
    if (sg->simd && nc > 24 && nc <= 32) {
        small_gemm_avx2(m, nc, K, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, ldb, C, ldc, acc);
        return;
    }
    if (sg->simd && nc > 16 && nc <= 24) {
        small_gemm_avx2_24(m, nc, K, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, ldb, C, ldc, acc);
        return;
    }
#endif
    (void)sg;
    blas_sgemm(trans_a, 0, m, nc, K, 1.0f, A, lda, B, ldb, acc ? 1.0f : 0.0f, C, ldc);
}

// --- tanh of the topology ------------------------------------------------------

// R = tanh(x1m_u - x2m_v) takes rel V V tanh calls per sample (330 k per
// sample over the network); with glibc's tanhf they were half of the
// topology's forward time (bench-train PROFILE=1 and a per-part timing: 106,
// 270 and 544 us per sample for rel 8, 16, 32, against 11-400 us for conv4).
// With the AVX2 kernel they run 8 lanes at a time, each float widened to
// double: tanh |x| = (e - 1) / (e + 1) with e = exp(2 |x|), |x| clamped to
// 10 (where the float result is 1), exp by k = round(2|x| / ln 2), r = 2|x| -
// k ln 2 (ln 2 in two parts), a degree-10 Taylor polynomial on |r| <= 0.35
// (relative error < 1e-11) times 2^k; the sign put back, x itself below
// |x| 2^-12 (where tanh x rounds to x), NaN kept. Rounded to float, that is
// the correctly rounded tanh but for values within ~1e-11 of a halfway point:
// over every 13th float of [-11, 11] (84 M values) at most 0.50 ulp, 4 values
// not correctly rounded, against glibc tanhf's 2.2 ulp and 4.6 M (tests/1050
// checks a sweep). An earlier rational approximation in float (4.6 ulp) put
// one gradient of tests/2000 over its bound on OpenBLAS's Haswell kernels,
// so it stayed opt-in; this one is more accurate than the tanhf it replaces,
// and measured 7.7x faster than it on this machine.
// The backward reads R from the cache, so it sees the same values.
#ifdef CTRGC_HAVE_AVX2_KERNEL
#define TANH_TINY 0.000244140625f   // 2^-12
#define TANH_CLAMP 10.0f
static const double tanh_exp_c[11] = {1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120,
                                      1.0 / 24,      1.0 / 6,      0.5,          1.0,         1.0};

// tanh a for 0 <= a <= 10, in double
__attribute__((target("avx2,fma"))) static __m256d tanh_pd(__m256d a) {
    const __m256d y = _mm256_add_pd(a, a);
    const __m256d k = _mm256_round_pd(_mm256_mul_pd(y, _mm256_set1_pd(1.4426950408889634)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), y);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), r);
    __m256d p = _mm256_set1_pd(tanh_exp_c[0]);
    for (int i = 1; i < 11; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(tanh_exp_c[i]));
    // 2^k: k (0..29) into the exponent field
    const __m256i ki = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k));
    const __m256d two_k = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52));
    const __m256d e = _mm256_mul_pd(p, two_k), one = _mm256_set1_pd(1.0);
    return _mm256_div_pd(_mm256_sub_pd(e, one), _mm256_add_pd(e, one));
}

__attribute__((target("avx2,fma"))) static __m256 tanh_ps8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 a = _mm256_min_ps(_mm256_set1_ps(TANH_CLAMP), ax);   // NaN: blended away below
    const __m256d lo = tanh_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)));
    const __m256d hi = tanh_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
    const __m256 t = _mm256_or_ps(_mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)), _mm256_and_ps(sign, x));
    const __m256 keep = _mm256_cmp_ps(ax, _mm256_set1_ps(TANH_TINY), _CMP_NGE_UQ);   // tiny or NaN
    return _mm256_blendv_ps(t, x, keep);
}

// a (n) = tanh(a), 8 at a time; the tail through a padded vector (the same arithmetic)
__attribute__((target("avx2,fma"))) static void tanh_avx2(float *a, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, tanh_ps8(_mm256_loadu_ps(a + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, a + i, (n - i) * sizeof(float));
        _mm256_storeu_ps(t, tanh_ps8(_mm256_loadu_ps(t)));
        memcpy(a + i, t, (n - i) * sizeof(float));
    }
}
#endif

// a (n) = tanh(a): the vector form with the AVX2 kernel, else tanhf.
static void tanh_inplace(const SmallGemm *sg, float *a, size_t n) {
#ifdef CTRGC_HAVE_AVX2_KERNEL
    if (sg->simd) {
        tanh_avx2(a, n);
        return;
    }
#endif
    (void)sg;
    for (size_t i = 0; i < n; i++) a[i] = tanhf(a[i]);
}

void ctrgc_tanh(float *a, size_t n) {
    const SmallGemm sg = small_gemm_init();
    tanh_inplace(&sg, a, n);
}

// MT (cout, V, V) = (alpha * C4 + A) transposed per channel, for one sample.
static void make_mt(float *MT, const float *C4, const float *A, float alpha, int cout, int V) {
    size_t VV = (size_t)V * V;
    for (int c = 0; c < cout; c++) {
        const float *s = C4 + c * VV;
        float *d = MT + c * VV;
        for (int u = 0; u < V; u++)
            for (int v = 0; v < V; v++) d[v * V + u] = alpha * s[u * V + v] + A[u * V + v];
    }
}

// --- forward -------------------------------------------------------------------

// The time-mean of one sample: xm (cin, V) = mean over T of x (cin, T, V);
// of a frame block (g->tsum): the lanes' sums over their frames, added, over
// the row's tfull frames.
static void time_mean(const Ctrgc *g, float *xm, const float *xn, int cin, int T, int V) {
    const size_t TV = (size_t)T * V;
    const float invT = 1.0f / (float)(g->tsum ? g->tfull : T);
    for (int i = 0; i < cin; i++) {
        const float *xi = xn + (size_t)i * TV;
        float *m = xm + (size_t)i * V;
        for (int v = 0; v < V; v++) m[v] = 0.0f;
        for (int t = 0; t < T; t++) add_to(m, xi + (size_t)t * V, (size_t)V);
    }
    if (g->tsum) g->tsum(xm, cin * V, g->tctx);
    scale_by(xm, invT, (size_t)cin * V);
}

// R (rel, V, V) = tanh(x1m_u - x2m_v) of one subset of one sample.
static void topology_r(const SmallGemm *sg, float *R, const float *x1m, const float *x2m, int rel, int V) {
    const size_t VV = (size_t)V * V;
    for (int r = 0; r < rel; r++)
        for (int u = 0; u < V; u++)
            for (int v = 0; v < V; v++) R[r * VV + u * V + v] = x1m[r * V + u] - x2m[r * V + v];
    tanh_inplace(sg, R, (size_t)rel * VV);
}

void ctrgc_forward(const Ctrgc *g, float *out, float *cache, const float *x, const CtrgcParams *p,
                   int N, int T, int V, float *work) {
    const int cin = g->cin, cout = g->cout, rel = g->rel, TV = T * V, S = nsub_of(g);
    const size_t VV = (size_t)V * V;
    CtrgcPacked k;
    float *MT = work + packed_carve(g, work, &k);   // (cout, V, V): M transposed, MT[c][v][u] = M[c][u][v]
    float *C4 = MT + (size_t)cout * VV;             // (cout, V, V) of the current subset and sample
    pack_weights(g, p, &k);
    // No cache (inference): one sample's, after C4, reused by every sample;
    // with recompute_x3, x3 only goes there.
    const int keep = cache != NULL;
    CtrgcCache c, one;
    cache_carve(g, C4 + (size_t)cout * VV, 1, T, V, 1, &one);
    if (keep) cache_carve(g, cache, N, T, V, !g->recompute_x3, &c);
    else c = one;
    const SmallGemm sg = small_gemm_init();

    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * cin * TV;
        const size_t j = keep ? (size_t)n : 0;   // the sample's slot in the cache
        float *xm = c.xm + j * cin * V, *x12 = c.x12 + j * S * 2 * rel * V;
        float *Rn = c.R + j * S * rel * VV, *x3 = c.x3 ? c.x3 + j * S * cout * TV : one.x3;
        float *on = out + (size_t)n * cout * TV;

        // xm (cin, V), then every subset's x1m, x2m in one GEMM: x12 (S 2 rel, V)
        double t0 = prof_start(g->prof);
        time_mean(g, xm, xn, cin, T, V);
        conv1x1(x12, k.w12, k.b12, xm, S * 2 * rel, cin, V);
        prof_stop(g->prof, PROF_CTRGC_TOPO, t0, 2.0 * S * 2.0 * rel * cin * V, 4.0 * (double)cin * TV);
        // every subset's conv3 in one GEMM: x3 (S cout, T V)
        t0 = prof_start(g->prof);
        conv1x1(x3, k.w3, k.b3, xn, S * cout, cin, TV);
        prof_stop(g->prof, PROF_CTRGC_CONV3, t0, 2.0 * S * cout * cin * TV, 4.0 * ((double)cin + S * cout) * TV);
        for (int s = 0; s < S; s++) {
            float *R = Rn + (size_t)s * rel * VV;
            const float *x3s = x3 + (size_t)s * cout * TV;
            t0 = prof_start(g->prof);
            topology_r(&sg, R, x12 + (size_t)2 * s * rel * V, x12 + (size_t)(2 * s + 1) * rel * V, rel, V);
            conv1x1(C4, p[s].w4, p[s].b4, R, cout, rel, (int)VV);
            make_mt(MT, C4, p[s].A, p[s].alpha[0], cout, V);
            prof_stop(g->prof, PROF_CTRGC_TOPO, t0, 2.0 * cout * rel * VV, 4.0 * 2.0 * cout * VV);
            // out[c] (T, U) (+)= x3[c] (T, V) @ M[c]^T (V, U): the subsets summed in the kernel
            t0 = prof_start(g->prof);
            for (int ch = 0; ch < cout; ch++)
                small_gemm(&sg, 0, T, V, V, x3s + (size_t)ch * TV, V, MT + ch * VV, V, on + (size_t)ch * TV, V,
                           s > 0);
            prof_stop(g->prof, PROF_CTRGC_EINSUM, t0, 2.0 * cout * TV * V,
                      4.0 * (2.0 * cout * TV + (double)cout * VV));
        }
    }
}

// --- backward ------------------------------------------------------------------

// The graph branch of one subset of one sample: from dM (cout, V, V) to dx1m,
// dx2m (rel, V) each, with the conv4 / A / alpha gradients. dM becomes dC4 in
// place.
static void backward_graph(const Ctrgc *g, const CtrgcGrads *dp, float *dx1m, float *dx2m, float *dM,
                           const float *R, const float *C4, const CtrgcParams *p, int V, float *dR) {
    const int cout = g->cout, rel = g->rel;
    const size_t VV = (size_t)V * V;
    const float alpha = p->alpha[0];

    // M = alpha * C4 + A: dA += sum_c dM; dalpha += <dM, C4>; dC4 = alpha dM
    double da = 0;
    for (int c = 0; c < cout; c++) {
        float *d = dM + c * VV;
        const float *s = C4 + c * VV;
        if (dp->A) add_to(dp->A, d, VV);
        da += dot_d(d, s, VV);
        scale_by(d, alpha, VV);
    }
    if (dp->alpha) dp->alpha[0] += (float)da;

    // C4 (cout, VV) = w4 (cout, rel) @ R (rel, VV) + b4
    for (int c = 0; c < cout; c++) dp->b4[c] += (float)dot_d(dM + c * VV, NULL, VV);
    blas_sgemm(0, 1, cout, rel, (int)VV, 1.0f, dM, (int)VV, R, (int)VV, 1.0f, dp->w4, rel);
    blas_sgemm(1, 0, rel, (int)VV, cout, 1.0f, p->w4, rel, dM, (int)VV, 0.0f, dR, (int)VV);

    // R = tanh(x1m_u - x2m_v): dx1m_u = sum_v dpre, dx2m_v = -sum_u dpre
    memset(dx2m, 0, sizeof(float) * (size_t)rel * V);
    for (int r = 0; r < rel; r++)
        for (int u = 0; u < V; u++) {
            const float *Rr = R + r * VV + (size_t)u * V;
            const float *dRr = dR + r * VV + (size_t)u * V;
            float *d2 = dx2m + (size_t)r * V, s = 0.0f;
            for (int v = 0; v < V; v++) {
                float dpre = dRr[v] * (1.0f - Rr[v] * Rr[v]);
                s += dpre;
                d2[v] -= dpre;
            }
            dx1m[r * V + u] = s;
        }
}

// The weight gradients of conv1/conv2 and conv3 in the packed layout, copied
// in before the batch and back after it: the GEMMs accumulate every sample
// into the gradient as it stands (beta 1), so each element sums the same
// terms in the same order as one GEMM per subset did, and a batch split in
// two calls (gradient accumulation) gives the bits of one call.
static void grads_packed(const Ctrgc *g, const CtrgcGrads *dp, const CtrgcPacked *dk, int back) {
    const size_t rc = (size_t)g->rel * g->cin, oc = (size_t)g->cout * g->cin;
    for (int s = 0; s < nsub_of(g); s++) {
        float *pk[3] = {dk->w12 + (2 * s) * rc, dk->w12 + (2 * s + 1) * rc, dk->w3 + s * oc};
        float *gw[3] = {dp[s].w1, dp[s].w2, dp[s].w3};
        const size_t n[3] = {rc, rc, oc};
        for (int i = 0; i < 3; i++) memcpy(back ? gw[i] : pk[i], back ? pk[i] : gw[i], n[i] * sizeof(float));
    }
}

void ctrgc_backward(const Ctrgc *g, float *dx, const CtrgcGrads *dp, const float *dout,
                    const float *cache, const float *x, const CtrgcParams *p, int N, int T, int V,
                    float *work) {
    const int cin = g->cin, cout = g->cout, rel = g->rel, TV = T * V, S = nsub_of(g), R12 = S * 2 * rel;
    const size_t VV = (size_t)V * V;
    const float invT = 1.0f / (float)(g->tsum ? g->tfull : T);
    CtrgcCache c;
    cache_carve(g, (float *)cache, N, T, V, !g->recompute_x3, &c);
    CtrgcPacked k, dk;   // the packed weights and their gradients (see grads_packed)
    float *w = work + packed_carve(g, work, &k);
    w += packed_carve(g, w, &dk);
    float *M = w, *dM = M + cout * VV, *C4 = dM + cout * VV, *dx3 = C4 + cout * VV;
    float *dR = dx3 + (size_t)S * cout * TV, *dx12 = dR + rel * VV, *dxm = dx12 + (size_t)R12 * V;
    float *x3w = dxm + (size_t)cin * V;   // (S cout, T V) the recomputed x3 when recompute_x3
    pack_weights(g, p, &k);
    grads_packed(g, dp, &dk, 0);
    const SmallGemm sg = small_gemm_init();

    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * cin * TV, *don = dout + (size_t)n * cout * TV;
        const float *x3 = c.x3 ? c.x3 + (size_t)n * S * cout * TV : x3w, *Rn = c.R + (size_t)n * S * rel * VV;
        const float *xm = c.xm + (size_t)n * cin * V;
        if (!c.x3) {   // the forward's call on the same operands: the same bits
            double t0 = prof_start(g->prof);
            conv1x1(x3w, k.w3, k.b3, xn, S * cout, cin, TV);
            prof_stop(g->prof, PROF_CTRGC_CONV3, t0, 2.0 * S * cout * cin * TV, 4.0 * ((double)cin + S * cout) * TV);
        }
        for (int s = 0; s < S; s++) {
            const float *R = Rn + (size_t)s * rel * VV, *x3s = x3 + (size_t)s * cout * TV;
            float *dx3s = dx3 + (size_t)s * cout * TV;
            double t0 = prof_start(g->prof);
            conv1x1(C4, p[s].w4, p[s].b4, R, cout, rel, (int)VV);   // as the forward did
            make_m(M, C4, p[s].A, p[s].alpha[0], cout, V);
            prof_stop(g->prof, PROF_CTRGC_TOPO, t0, 2.0 * cout * rel * VV, 4.0 * 2.0 * cout * VV);
            // out[c] (T, U) = x3[c] (T, V) @ M[c]^T: dM[c] = dout[c]^T @ x3[c], dx3[c] = dout[c] @ M[c]
            t0 = prof_start(g->prof);
            for (int ch = 0; ch < cout; ch++) {
                const float *d = don + (size_t)ch * TV, *x3c = x3s + (size_t)ch * TV;
                small_gemm(&sg, 1, V, V, T, d, V, x3c, V, dM + ch * VV, V, 0);
                small_gemm(&sg, 0, T, V, V, d, V, M + ch * VV, V, dx3s + (size_t)ch * TV, V, 0);
            }
            prof_stop(g->prof, PROF_CTRGC_EINSUM, t0, 2.0 * 2.0 * cout * TV * V,
                      4.0 * (3.0 * cout * TV + 2.0 * cout * VV));
            t0 = prof_start(g->prof);
            backward_graph(g, &dp[s], dx12 + (size_t)2 * s * rel * V, dx12 + (size_t)(2 * s + 1) * rel * V, dM,
                           R, C4, &p[s], V, dR);
            prof_stop(g->prof, PROF_CTRGC_TOPO, t0, 2.0 * 2.0 * cout * rel * VV, 4.0 * 3.0 * cout * VV);
        }
        // x12 (S 2 rel, V) = w12 @ xm (cin, V) + b12: one GEMM each way for every subset
        double t0 = prof_start(g->prof);
        for (int s = 0; s < S; s++)
            for (int r = 0; r < rel; r++) {
                const float *d1 = dx12 + ((size_t)2 * s * rel + r) * V, *d2 = d1 + (size_t)rel * V;
                float s1 = 0.0f, s2 = 0.0f;
                for (int v = 0; v < V; v++) s1 += d1[v], s2 += d2[v];
                dp[s].b1[r] += s1;
                dp[s].b2[r] += s2;
            }
        blas_sgemm(0, 1, R12, cin, V, 1.0f, dx12, V, xm, V, 1.0f, dk.w12, cin);
        blas_sgemm(1, 0, cin, V, R12, 1.0f, k.w12, cin, dx12, V, 0.0f, dxm, V);
        // a frame block's dxm is its frames' share (dM sums over T): the
        // row's is the lanes' sum, spread over every frame of the row
        if (g->tsum) g->tsum(dxm, cin * V, g->tctx);
        prof_stop(g->prof, PROF_CTRGC_TOPO, t0, 2.0 * 2.0 * R12 * cin * V, 4.0 * 2.0 * R12 * V);
        // x3 (S cout, TV) = w3 (S cout, cin) @ x (cin, TV) + b3: one GEMM each way
        t0 = prof_start(g->prof);
        for (int s = 0; s < S; s++)
            for (int ch = 0; ch < cout; ch++)
                dp[s].b3[ch] += (float)dot_d(dx3 + ((size_t)s * cout + ch) * TV, NULL, TV);
        blas_sgemm(0, 1, S * cout, cin, TV, 1.0f, dx3, TV, xn, TV, 1.0f, dk.w3, cin);
        if (dx) {
            float *dxn = dx + (size_t)n * cin * TV;
            blas_sgemm(1, 0, cin, TV, S * cout, 1.0f, k.w3, cin, dx3, TV, 1.0f, dxn, TV);
            // xm = mean_T x
            scale_by(dxm, invT, (size_t)cin * V);
            for (int i = 0; i < cin; i++) {
                const float *dm = dxm + (size_t)i * V;
                float *d = dxn + (size_t)i * TV;
                for (int t = 0; t < T; t++) add_to(d + (size_t)t * V, dm, (size_t)V);
            }
        }
        prof_stop(g->prof, PROF_CTRGC_CONV3, t0, 2.0 * S * cout * cin * TV * (dx ? 2.0 : 1.0),
                  4.0 * ((double)S * cout * TV + (dx ? 2.0 : 1.0) * cin * TV));
    }
    grads_packed(g, dp, &dk, 1);
}

// --- reference -----------------------------------------------------------------

// Plain loops, every sum in double, conv1/conv2 applied to all T frames and
// then averaged, as the PyTorch module does; the subsets summed in double.
void ctrgc_forward_naive(const Ctrgc *g, float *out, const float *x, const CtrgcParams *p, int N,
                         int T, int V) {
    const int cin = g->cin, cout = g->cout, rel = g->rel, S = nsub_of(g);
    const size_t TV = (size_t)T * V;
    double *x1 = malloc(sizeof(double) * 2 * (size_t)rel * V), *x2 = x1 + (size_t)rel * V;
    double *m = malloc(sizeof(double) * (size_t)V * V), *x3 = malloc(sizeof(double) * (size_t)V);
    double *acc = malloc(sizeof(double) * (size_t)cout * TV);
    if (!x1 || !m || !x3 || !acc) abort();   // test-only reference: a few MB at most
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * cin * TV;
        memset(acc, 0, sizeof(double) * (size_t)cout * TV);
        for (int sub = 0; sub < S; sub++) {
            const CtrgcParams *ps = &p[sub];
            const double alpha = ps->alpha[0];
            for (int r = 0; r < rel; r++)
                for (int v = 0; v < V; v++) {
                    double s1 = 0, s2 = 0;
                    for (int t = 0; t < T; t++) {
                        double a1 = ps->b1[r], a2 = ps->b2[r];
                        for (int i = 0; i < cin; i++) {
                            double xv = xn[i * TV + (size_t)t * V + v];
                            a1 += (double)ps->w1[r * cin + i] * xv;
                            a2 += (double)ps->w2[r * cin + i] * xv;
                        }
                        s1 += a1;
                        s2 += a2;
                    }
                    x1[r * V + v] = s1 / T;
                    x2[r * V + v] = s2 / T;
                }
            for (int c = 0; c < cout; c++) {
                for (int u = 0; u < V; u++)
                    for (int v = 0; v < V; v++) {
                        double s = ps->b4[c];
                        for (int r = 0; r < rel; r++)
                            s += (double)ps->w4[c * rel + r] * tanh(x1[r * V + u] - x2[r * V + v]);
                        m[u * V + v] = s * alpha + ps->A[u * V + v];
                    }
                for (int t = 0; t < T; t++) {
                    for (int v = 0; v < V; v++) {
                        double s = ps->b3[c];
                        for (int i = 0; i < cin; i++)
                            s += (double)ps->w3[c * cin + i] * xn[i * TV + (size_t)t * V + v];
                        x3[v] = s;
                    }
                    for (int u = 0; u < V; u++) {
                        double s = 0;
                        for (int v = 0; v < V; v++) s += m[u * V + v] * x3[v];
                        acc[(size_t)c * TV + (size_t)t * V + u] += s;
                    }
                }
            }
        }
        for (size_t i = 0; i < (size_t)cout * TV; i++) out[(size_t)n * cout * TV + i] = (float)acc[i];
    }
    free(x1);
    free(m);
    free(x3);
    free(acc);
}
