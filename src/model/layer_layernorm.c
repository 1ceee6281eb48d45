// layer_layernorm.c - LayerNorm over the last dim (see tlayers.h), PyTorch
// semantics: biased variance, rstd = 1 / sqrt(var + eps), optional affine.
// Row statistics and the backward's row reductions accumulate in double; the
// caches mean and rstd are float (as PyTorch's).
#include <math.h>
#include <stddef.h>

#include "tlayers.h"

void layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int rows, int C) {
    layernorm_forward_eps(out, mean, rstd, x, w, b, rows, C, LN_EPS);
}

// out, x: (rows, C); mean, rstd: (rows); w, b: (C) or NULL
void layernorm_forward_eps(float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int rows, int C, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * C;
        double s = 0, ss = 0;
        for (int i = 0; i < C; i++) s += xr[i];
        double m = s / C;
        for (int i = 0; i < C; i++) ss += (xr[i] - m) * (xr[i] - m);
        double rsd = 1.0 / sqrt(ss / C + (double)eps);
        mean[r] = (float)m;
        rstd[r] = (float)rsd;
        // normalise with the double mean: x - float(mean) would carry the
        // mean's rounding (half an ulp of |x|) into every output of rows far
        // from zero, and make the output jump as x moves by less than an ulp
        float *o = out + (size_t)r * C;
        for (int i = 0; i < C; i++) {
            float xh = (float)((xr[i] - m) * rsd);
            o[i] = w ? xh * w[i] + (b ? b[i] : 0.0f) : xh + (b ? b[i] : 0.0f);
        }
    }
}

// With xh = (x - mean) rstd and g = dout * w (per row):
//   dx = rstd (g - mean(g) - xh mean(g xh)),  dw += sum_rows dout xh,  db += sum_rows dout
void layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *mean, const float *rstd, const float *w, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * C, *gr = dout + (size_t)r * C;
        float m = mean[r], rs = rstd[r];
        if (dw || db)
            for (int i = 0; i < C; i++) {
                float xh = (xr[i] - m) * rs;
                if (dw) dw[i] += gr[i] * xh;
                if (db) db[i] += gr[i];
            }
        if (!dx) continue;
        double sg = 0, sgx = 0;
        for (int i = 0; i < C; i++) {
            double g = w ? (double)gr[i] * w[i] : gr[i];
            sg += g;
            sgx += g * ((xr[i] - m) * rs);
        }
        float mg = (float)(sg / C), mgx = (float)(sgx / C);
        float *d = dx + (size_t)r * C;
        for (int i = 0; i < C; i++) {
            float g = w ? gr[i] * w[i] : gr[i];
            float xh = (xr[i] - m) * rs;
            d[i] += rs * (g - mg - xh * mgx);
        }
    }
}
