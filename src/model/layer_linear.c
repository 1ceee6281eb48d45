// layer_linear.c - fully connected layer (see layers.h), PyTorch's nn.Linear
// layout: out (N, outc) = x (N, in) @ w^T + b, w: (outc, in), b: (outc) or NULL.
#include <stddef.h>

#include "blas.h"
#include "layers.h"

void linear_forward(float *out, const float *x, const float *w, const float *b, int N, int in,
                    int outc) {
    blas_sgemm(0, 1, N, outc, in, 1.0f, x, in, w, in, 0.0f, out, outc);
    if (b)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * outc;
            for (int j = 0; j < outc; j++) o[j] += b[j];
        }
}

// dx (N, in) += dout @ w; dw (outc, in) += dout^T @ x; db (outc) += sum_n dout.
// Any of dx, dw, db may be NULL.
void linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                     const float *w, int N, int in, int outc) {
    if (dx) blas_sgemm(0, 0, N, in, outc, 1.0f, dout, outc, w, in, 1.0f, dx, in);
    if (dw) blas_sgemm(1, 0, outc, in, N, 1.0f, dout, outc, x, in, 1.0f, dw, in);
    if (db)
        for (int j = 0; j < outc; j++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * outc + j];
            db[j] += (float)s;
        }
}
