// 0100-blas.c - blas_sgemm (OpenBLAS) against its naive double-accumulating
// reference, over all four transpose cases, odd shapes, strided (ld > cols)
// operands, alpha/beta, and beta = 0 over a NaN-filled output.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas.h"
#include "tap/tap.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

// One case: random A, B, C with row strides pad elements wider than needed.
static void check(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad,
                  int nan_c, uint64_t seed) {
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * (size_t)ar * lda), *B = malloc(sizeof(float) * (size_t)br * ldb);
    float *C1 = malloc(sizeof(float) * (size_t)M * ldc), *C2 = malloc(sizeof(float) * (size_t)M * ldc);
    uint64_t s = seed;
    for (int i = 0; i < ar * lda; i++) A[i] = frand(&s);
    for (int i = 0; i < br * ldb; i++) B[i] = frand(&s);
    for (int i = 0; i < M * ldc; i++) C1[i] = C2[i] = nan_c ? NAN : frand(&s);
    blas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
    blas_sgemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    // float32 sums of K products of |x| <= 1: error ~ K * 2^-24 * sqrt(K)
    double atol = 1e-6 * K + 1e-6;
    float *g = malloc(sizeof(float) * (size_t)M * N), *w = malloc(sizeof(float) * (size_t)M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            g[i * N + j] = C1[(size_t)i * ldc + j];
            w[i * N + j] = C2[(size_t)i * ldc + j];
        }
    is_tensor_close(g, w, (size_t)M * N, atol, 1e-5,
                    "sgemm %c%c M=%d N=%d K=%d alpha=%g beta=%g pad=%d%s", ta ? 'T' : 'N',
                    tb ? 'T' : 'N', M, N, K, alpha, beta, pad, nan_c ? " (C was NaN)" : "");
    int pad_ok = 1;   // the padding columns of C are untouched
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++)
            if (!(isnan(C1[(size_t)i * ldc + j]) && isnan(C2[(size_t)i * ldc + j])) &&
                C1[(size_t)i * ldc + j] != C2[(size_t)i * ldc + j])
                pad_ok = 0;
    if (pad) ok(pad_ok, "  padding of C untouched");
    free(A); free(B); free(C1); free(C2); free(g); free(w);
}

int main(void) {
    plan(4 + 4 * 2 + 1 + 1 + 1);
    for (int t = 0; t < 4; t++) check(t >> 1, t & 1, 37, 29, 53, 1.0f, 0.0f, 0, 0, 1 + t);
    for (int t = 0; t < 4; t++) check(t >> 1, t & 1, 65, 130, 96, 0.5f, 1.0f, 3, 0, 10 + t);  // +pad
    check(0, 1, 7, 1536, 512, 1.0f, 1.0f, 0, 0, 20);    // a 7-token text through qkv (bias prefill)
    check(0, 0, 1, 1, 1, 2.0f, 0.0f, 0, 1, 21);         // tiny, beta 0 over NaN
    blas_sgemm(0, 0, 0, 5, 5, 1.0f, NULL, 5, NULL, 5, 0.0f, NULL, 5);
    ok(1, "M = 0 returns without touching its (NULL) operands");
    return tap_done();
}
