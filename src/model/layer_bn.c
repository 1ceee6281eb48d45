// layer_bn.c - BatchNorm over the channel axis of (N, C, L), PyTorch semantics
// (see layers.h): BatchNorm2d with L = T*V, BatchNorm1d with L = T.
//
// Training: per channel c, over the M = N*L values of the (global) batch,
//   mean = sum x / M, var = sumsq / M - mean^2 (biased, to normalise),
//   rstd = 1 / sqrt(var + eps),
//   running_mean = (1 - m) running_mean + m mean,
//   running_var  = (1 - m) running_var  + m var M / (M - 1)   (unbiased).
// Eval: mean and rstd come from the running statistics.
// Both write the mean/rstd caches and out = x * scale + shift with
// scale = gamma rstd, shift = beta - mean scale (PyTorch's CPU form).
//
// Backward (training): xhat = (x - mean) rstd, and with the global sums
// sd = sum dout, sdx = sum dout xhat over M values,
//   dx += gamma rstd (dout - sd / M - xhat sdx / M)
// dgamma += sdx and dbeta += sd are the LOCAL sums: with data parallelism,
// parameter gradients are reduced later with all the others, so the sum over
// ranks of dgamma/dbeta is the full batch's. In eval the statistics are
// constants: dx += gamma rstd dout.
//
// Sync: with a BnSync the per-channel sums (sum, sumsq, count forward; sd,
// sdx, count backward) go through sync->allreduce_sum before use, so ranks
// holding parts of a batch get the statistics of the whole batch. Sums are
// accumulated in double. Channels are processed in chunks of BN_CHUNK so the
// vectors live on the stack (CTR-GCN has C <= 256: one allreduce per call).
#include <math.h>
#include <stddef.h>

#include "layers.h"

#define BN_CHUNK 512

// ---------------------------------------------------------------------------
// Row sums in double.

static void row_sum_sumsq(const float *r, int L, double *s_out, double *ss_out) {
    // 8 independent double lanes: gcc -O2 vectorises the block (no
    // reassociation needed), then the lanes are added pairwise.
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int l = 0;
    for (; l + 8 <= L; l += 8)
        for (int j = 0; j < 8; j++) {
            double a = r[l + j];
            s[j] += a;
            q[j] += a * a;
        }
    for (; l < L; l++) {
        double a = r[l];
        s[0] += a;
        q[0] += a * a;
    }
    *s_out += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    *ss_out += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
}

// sum g and sum g (x - mu) over one row (8 double lanes, as above)
static void row_sum_dot(const float *g, const float *x, double mu, int L, double *sg_out,
                        double *sgx_out) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int l = 0;
    for (; l + 8 <= L; l += 8)
        for (int j = 0; j < 8; j++) {
            double gv = g[l + j];
            s[j] += gv;
            d[j] += gv * ((double)x[l + j] - mu);
        }
    for (; l < L; l++) {
        s[0] += g[l];
        d[0] += (double)g[l] * ((double)x[l] - mu);
    }
    *sg_out += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    *sgx_out += ((d[0] + d[1]) + (d[2] + d[3])) + ((d[4] + d[5]) + (d[6] + d[7]));
}

// ---------------------------------------------------------------------------
// Forward

void batchnorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, int N, int C,
                       int L, int training, const BnSync *sync) {
    double v[2 * BN_CHUNK + 1];
    for (int c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const int nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        if (training) {
            double *s = v, *ss = v + nc;
            for (int j = 0; j < nc; j++) {
                s[j] = ss[j] = 0;
                for (int n = 0; n < N; n++)
                    row_sum_sumsq(x + ((size_t)n * C + c0 + j) * L, L, &s[j], &ss[j]);
            }
            v[2 * nc] = (double)N * L;
            if (sync) sync->allreduce_sum(v, 2 * nc + 1, sync->ctx);
            const double M = v[2 * nc];
            for (int j = 0; j < nc; j++) {
                const int ch = c0 + j;
                double mu = M > 0 ? s[j] / M : 0.0;
                double var = M > 0 ? ss[j] / M - mu * mu : 0.0;
                if (var < 0) var = 0;   // rounding, for constant channels
                mean[ch] = (float)mu;
                rstd[ch] = (float)(1.0 / sqrt(var + (double)BN_EPS));
                if (running_mean)
                    running_mean[ch] = (float)((1.0 - BN_MOMENTUM) * running_mean[ch] +
                                               (double)BN_MOMENTUM * mu);
                if (running_var) {
                    double unbiased = M > 1 ? var * M / (M - 1) : var;
                    running_var[ch] = (float)((1.0 - BN_MOMENTUM) * running_var[ch] +
                                              (double)BN_MOMENTUM * unbiased);
                }
            }
        } else {
            for (int j = 0; j < nc; j++) {
                const int ch = c0 + j;
                mean[ch] = running_mean[ch];
                rstd[ch] = (float)(1.0 / sqrt((double)running_var[ch] + (double)BN_EPS));
            }
        }
    }
    for (int ch = 0; ch < C; ch++) {
        const float g = gamma ? gamma[ch] : 1.0f, bt = beta ? beta[ch] : 0.0f;
        const float scale = g * rstd[ch], shift = bt - mean[ch] * scale;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + ch) * L;
            const float *xr = x + off;
            float *o = out + off;
            int l = 0;
            for (; l + 8 <= L; l += 8) {   // blocks of 8: vectorised at -O2 (out may be x)
                float t[8];
                for (int j = 0; j < 8; j++) t[j] = xr[l + j] * scale + shift;
                for (int j = 0; j < 8; j++) o[l + j] = t[j];
            }
            for (; l < L; l++) o[l] = xr[l] * scale + shift;
        }
    }
}

// ---------------------------------------------------------------------------
// Backward

void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                        const float *mean, const float *rstd, const float *gamma, int N, int C,
                        int L, int training, const BnSync *sync) {
    double v[2 * BN_CHUNK + 1];
    for (int c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const int nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        double *sd = v, *sdx = v + nc;
        for (int j = 0; j < nc; j++) {
            const int ch = c0 + j;
            double sg = 0, sgx = 0;
            for (int n = 0; n < N; n++) {
                const size_t off = ((size_t)n * C + ch) * L;
                row_sum_dot(dout + off, x + off, (double)mean[ch], L, &sg, &sgx);
            }
            sd[j] = sg;
            sdx[j] = sgx * (double)rstd[ch];   // sum dout * xhat
            if (dbeta) dbeta[ch] += (float)sd[j];
            if (dgamma) dgamma[ch] += (float)sdx[j];
        }
        if (!dx) continue;
        v[2 * nc] = (double)N * L;
        if (training && sync) sync->allreduce_sum(v, 2 * nc + 1, sync->ctx);
        const double M = v[2 * nc];
        for (int j = 0; j < nc; j++) {
            const int ch = c0 + j;
            const double g = gamma ? (double)gamma[ch] : 1.0, r = rstd[ch];
            const float k = (float)(g * r);   // dx = k (dout - a - xhat b)
            float a = 0.0f, bx = 0.0f, mu = mean[ch];
            if (training && M > 0) {
                a = (float)(sd[j] / M);
                bx = (float)(sdx[j] / M * r);   // multiplies (x - mean)
            }
            for (int n = 0; n < N; n++) {
                const size_t off = ((size_t)n * C + ch) * L;
                const float *gr = dout + off, *xr = x + off;
                float *d = dx + off;
                int l = 0;
                for (; l + 8 <= L; l += 8) {
                    float t[8];
                    for (int j = 0; j < 8; j++) t[j] = d[l + j] + k * (gr[l + j] - a - (xr[l + j] - mu) * bx);
                    for (int j = 0; j < 8; j++) d[l + j] = t[j];
                }
                for (; l < L; l++) d[l] += k * (gr[l] - a - (xr[l] - mu) * bx);
            }
        }
    }
}
