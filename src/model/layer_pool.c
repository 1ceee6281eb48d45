// layer_pool.c - MaxPool2d with kernel (3, 1), stride (stride, 1), padding
// (1, 0) over (N, C, T, V) (see layers.h), or (pad, 0) for a frame block
// whose halo frames are in x (ctrgcn_team.h's time blocks: pad 0, the
// sequence ends' padding given as -inf frames), PyTorch semantics: the padding
// never wins (it acts as -inf), the window is scanned in increasing t and the
// first maximum is kept (ties go to the smallest t), and a NaN wins over
// numbers. argmax keeps the t index of each output for backward.
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "layers.h"

int maxpool_t_out(int T, int stride) { return (T + 2 - 3) / stride + 1; }
static int out_pad(int T, int stride, int pad) { return (T + 2 * pad - 3) / stride + 1; }

void maxpool_t_forward(float *out, int32_t *argmax, const float *x, int N, int C, int T, int V,
                       int stride) {
    maxpool_t_forward_pad(out, argmax, x, N, C, T, V, stride, 1);
}

void maxpool_t_forward_pad(float *out, int32_t *argmax, const float *x, int N, int C, int T, int V, int stride,
                           int pad) {
    const int Tout = out_pad(T, stride, pad);
    const size_t planes = (size_t)N * C;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * T * V;
        float *op = out + p * Tout * V;
        int32_t *ap = argmax + p * Tout * V;
        for (int to = 0; to < Tout; to++) {
            int t0 = to * stride - pad, t1 = t0 + 3;
            if (t0 < 0) t0 = 0;
            if (t1 > T) t1 = T;
            float *o = op + (size_t)to * V;
            int32_t *a = ap + (size_t)to * V;
            for (int v = 0; v < V; v++) {
                o[v] = -INFINITY;
                a[v] = t0;
            }
            for (int t = t0; t < t1; t++) {
                const float *xr = xp + (size_t)t * V;
                int v = 0;
                for (; v + 8 <= V; v += 8) {   // branch-free blocks of 8 (vectorised at -O2)
                    float xv[8], ov[8];
                    int32_t av[8];
                    for (int j = 0; j < 8; j++) { xv[j] = xr[v + j]; ov[j] = o[v + j]; av[j] = a[v + j]; }
                    for (int j = 0; j < 8; j++) {
                        int take = xv[j] > ov[j] || xv[j] != xv[j];   // NaN wins
                        ov[j] = take ? xv[j] : ov[j];
                        av[j] = take ? t : av[j];
                    }
                    for (int j = 0; j < 8; j++) { o[v + j] = ov[j]; a[v + j] = av[j]; }
                }
                for (; v < V; v++)
                    if (xr[v] > o[v] || isnan(xr[v])) {
                        o[v] = xr[v];
                        a[v] = t;
                    }
            }
        }
    }
}

void maxpool_t_backward(float *dx, const float *dout, const int32_t *argmax, int N, int C, int T,
                        int V, int stride) {
    maxpool_t_backward_pad(dx, dout, argmax, N, C, T, V, stride, 1);
}

void maxpool_t_backward_pad(float *dx, const float *dout, const int32_t *argmax, int N, int C, int T, int V,
                            int stride, int pad) {
    const int Tout = out_pad(T, stride, pad);
    const size_t planes = (size_t)N * C;
    for (size_t p = 0; p < planes; p++) {
        float *dp = dx + p * T * V;
        const float *gp = dout + p * Tout * V;
        const int32_t *ap = argmax + p * Tout * V;
        for (int to = 0; to < Tout; to++)
            for (int v = 0; v < V; v++) {
                size_t i = (size_t)to * V + v;
                dp[(size_t)ap[i] * V + v] += gp[i];
            }
    }
}
