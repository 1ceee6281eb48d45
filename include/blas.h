// blas.h - the project's one door to BLAS (src/core/blas.c is the only file that
// includes cblas.h), with a naive reference of every routine for the tests.
//
// Matrices are row-major. blas_sgemm computes
//   C = alpha * op(A) @ op(B) + beta * C
// with op(A) (M, K), op(B) (K, N), C (M, N); op(X) = X, or X^T when trans_x
// is non-zero (then A is stored (K, M) and B (N, K)). lda/ldb/ldc are the
// row strides in elements of the matrices as stored. Dims are int (BLAS's
// own type); beta == 0 ignores what C held (NaN included), as BLAS does.
#pragma once

void blas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc);
// Same contract, triple loop, accumulating in double (the reference).
void blas_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc);

// Threads OpenBLAS may use. Results depend on it (kernels split the work
// differently), so programs that promise the same output on any number of
// ranks pin it (default 1 thread per rank).
void blas_set_threads(int n);
int blas_get_threads(void);
