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
// The pieces (batchnorm_sums ... batchnorm_grad_input) let a model pack the
// sums of several layers into one all-reduce (ctrgcn_pass.c does).
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
// The pieces (layers.h): local sums, statistics, output; gradient sums, dx.
// Row (n, j) of a tensor given with sample stride s is at p + n s + j L.

void batchnorm_sums(double *v, const float *x, size_t xs, int N, int C, int L) {
    double *s = v, *ss = v + C;
    for (int j = 0; j < C; j++) {
        s[j] = ss[j] = 0;
        for (int n = 0; n < N; n++) row_sum_sumsq(x + (size_t)n * xs + (size_t)j * L, L, &s[j], &ss[j]);
    }
    v[2 * C] = (double)N * L;
}

void batchnorm_stats(float *mean, float *rstd, float *running_mean, float *running_var, const double *v, int C,
                     int training) {
    if (!training) {
        for (int ch = 0; ch < C; ch++) {
            mean[ch] = running_mean[ch];
            rstd[ch] = (float)(1.0 / sqrt((double)running_var[ch] + (double)BN_EPS));
        }
        return;
    }
    const double *s = v, *ss = v + C, M = v[2 * C];
    for (int ch = 0; ch < C; ch++) {
        double mu = M > 0 ? s[ch] / M : 0.0;
        double var = M > 0 ? ss[ch] / M - mu * mu : 0.0;
        if (var < 0) var = 0;   // rounding, for constant channels
        mean[ch] = (float)mu;
        rstd[ch] = (float)(1.0 / sqrt(var + (double)BN_EPS));
        if (running_mean)
            running_mean[ch] = (float)((1.0 - BN_MOMENTUM) * running_mean[ch] + (double)BN_MOMENTUM * mu);
        if (running_var) {
            double unbiased = M > 1 ? var * M / (M - 1) : var;
            running_var[ch] = (float)((1.0 - BN_MOMENTUM) * running_var[ch] + (double)BN_MOMENTUM * unbiased);
        }
    }
}

void batchnorm_apply(float *out, const float *x, size_t xs, const float *mean, const float *rstd,
                     const float *gamma, const float *beta, int N, int C, int L) {
    for (int ch = 0; ch < C; ch++) {
        const float g = gamma ? gamma[ch] : 1.0f, bt = beta ? beta[ch] : 0.0f;
        const float scale = g * rstd[ch], shift = bt - mean[ch] * scale;
        for (int n = 0; n < N; n++) {
            const size_t off = (size_t)n * xs + (size_t)ch * L;
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

void batchnorm_grad_sums(double *v, float *dgamma, float *dbeta, const float *dout, size_t ds, const float *x,
                         size_t xs, const float *mean, const float *rstd, int N, int C, int L) {
    double *sd = v, *sdx = v + C;
    for (int ch = 0; ch < C; ch++) {
        double sg = 0, sgx = 0;
        for (int n = 0; n < N; n++)
            row_sum_dot(dout + (size_t)n * ds + (size_t)ch * L, x + (size_t)n * xs + (size_t)ch * L,
                        (double)mean[ch], L, &sg, &sgx);
        sd[ch] = sg;
        sdx[ch] = sgx * (double)rstd[ch];   // sum dout * xhat
        if (dbeta) dbeta[ch] += (float)sd[ch];
        if (dgamma) dgamma[ch] += (float)sdx[ch];
    }
    v[2 * C] = (double)N * L;
}

void batchnorm_grad_input(float *dx, const double *v, const float *dout, size_t ds, const float *x, size_t xs,
                          const float *mean, const float *rstd, const float *gamma, int N, int C, int L,
                          int training) {
    const double *sd = v, *sdx = v + C, M = v[2 * C];
    for (int ch = 0; ch < C; ch++) {
        const double g = gamma ? (double)gamma[ch] : 1.0, r = rstd[ch];
        const float k = (float)(g * r);   // dx = k (dout - a - xhat b)
        float a = 0.0f, bx = 0.0f, mu = mean[ch];
        if (training && M > 0) {
            a = (float)(sd[ch] / M);
            bx = (float)(sdx[ch] / M * r);   // multiplies (x - mean)
        }
        for (int n = 0; n < N; n++) {
            const float *gr = dout + (size_t)n * ds + (size_t)ch * L, *xr = x + (size_t)n * xs + (size_t)ch * L;
            float *d = dx + (size_t)n * xs + (size_t)ch * L;
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

// ---------------------------------------------------------------------------
// The whole layer, in chunks of BN_CHUNK channels (one reduction per chunk).

void batchnorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, int N, int C,
                       int L, int training, const BnSync *sync) {
    double v[2 * BN_CHUNK + 1];
    const size_t xs = (size_t)C * L;
    for (int c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const int nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        if (training) {
            batchnorm_sums(v, x + (size_t)c0 * L, xs, N, nc, L);
            if (sync) sync->allreduce_sum(v, 2 * nc + 1, sync->ctx);
        }
        batchnorm_stats(mean + c0, rstd + c0, running_mean ? running_mean + c0 : NULL,
                        running_var ? running_var + c0 : NULL, v, nc, training);
    }
    batchnorm_apply(out, x, xs, mean, rstd, gamma, beta, N, C, L);
}

void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                        const float *mean, const float *rstd, const float *gamma, int N, int C,
                        int L, int training, const BnSync *sync) {
    double v[2 * BN_CHUNK + 1];
    const size_t xs = (size_t)C * L;
    for (int c0 = 0; c0 < C; c0 += BN_CHUNK) {
        const int nc = C - c0 < BN_CHUNK ? C - c0 : BN_CHUNK;
        const size_t o = (size_t)c0 * L;
        batchnorm_grad_sums(v, dgamma ? dgamma + c0 : NULL, dbeta ? dbeta + c0 : NULL, dout + o, xs, x + o, xs,
                            mean + c0, rstd + c0, N, nc, L);
        if (!dx) continue;
        if (training && sync) sync->allreduce_sum(v, 2 * nc + 1, sync->ctx);
        batchnorm_grad_input(dx + o, v, dout + o, xs, x + o, xs, mean + c0, rstd + c0, gamma ? gamma + c0 : NULL,
                             N, nc, L, training);
    }
}
