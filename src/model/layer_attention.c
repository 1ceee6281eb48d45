// layer_attention.c - multi-head self-/cross-attention with separate q/k/v/out
// projections (see tlayers.h; torch.nn.MultiheadAttention with kdim = vdim =
// Dc, batch_first, no masks, no dropout).
//
// The four projections run as one blas_sgemm each over all B*L tokens (the
// only sizeable matmuls: (B*L, D) x (D, D)); their backward is two sgemms
// per projection (dW, dinput) plus a column sum (db). The per-head core
// (scores, softmax, P V: (Lq, dh) x (dh, Lk) with L = 7, dh = 32 in the
// denoiser) stays plain loops: at these sizes a BLAS call per (batch, head)
// costs more than the arithmetic. attention_*_naive are the double-precision
// references of both passes.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "status.h"
#include "tlayers.h"

int attention_init(Attention *a, int D, int Dc, int H) {
    if (D <= 0 || Dc <= 0 || H <= 0 || D % H != 0) {
        CD_ERR("attention: D %d, Dc %d, H %d: need positive dims and D divisible by H", D, Dc, H);
        return CD_EARG;
    }
    a->D = D;
    a->Dc = Dc;
    a->H = H;
    return CD_OK;
}

size_t attention_cache_size(const Attention *a, int B, int Lq, int Lk) {
    size_t D = (size_t)a->D;
    return (size_t)B * (2 * Lq * D + 2 * Lk * D + (size_t)a->H * Lq * Lk);
}

// dY, dQ: (B, Lq, D); dK, dV: (B, Lk, D); dP row: (Lk)
size_t attention_work_size(const Attention *a, int B, int Lq, int Lk) {
    size_t D = (size_t)a->D;
    return (size_t)B * (2 * Lq * D + 2 * Lk * D) + (size_t)Lk;
}

// Cache layout: Q | K | V | P | Y
typedef struct Cache {
    float *q, *k, *v, *p, *y;
} Cache;

static Cache cache_split(const Attention *a, float *cache, int B, int Lq, int Lk) {
    size_t D = (size_t)a->D, nq = (size_t)B * Lq * D, nk = (size_t)B * Lk * D;
    Cache c;
    c.q = cache;
    c.k = c.q + nq;
    c.v = c.k + nk;
    c.p = c.v + nk;
    c.y = c.p + (size_t)B * a->H * Lq * Lk;
    return c;
}

// ---------------------------------------------------------------------------
// Projections: Linear over rows of a token matrix

// out (rows, od) = in (rows, id) w^T (od, id) + b (od)
static void proj_forward(float *out, const float *in, const float *w, const float *b, int rows,
                         int id, int od) {
    for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * od, b, sizeof(float) * (size_t)od);
    blas_sgemm(0, 1, rows, od, id, 1.0f, in, id, w, id, 1.0f, out, od);
}

// din (rows, id) += dout W (or NULL); dw (od, id) += dout^T in; db (od) += colsum dout
static void proj_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int rows, int id, int od) {
    for (int o = 0; o < od; o++) {   // column sums in double: rows reaches B*L ~ 900
        double acc = 0;
        for (int r = 0; r < rows; r++) acc += dout[(size_t)r * od + o];
        db[o] += (float)acc;
    }
    blas_sgemm(1, 0, od, id, rows, 1.0f, dout, od, in, id, 1.0f, dw, id);
    if (din) blas_sgemm(0, 0, rows, id, od, 1.0f, dout, od, w, id, 1.0f, din, id);
}

// ---------------------------------------------------------------------------
// The per-head core's vector kernels over dh floats, written in blocks of 8
// independent lanes so that -O2 (no -ffast-math) can keep them in SIMD
// registers; a scalar tail handles dh % 8.

static float dot8(const float *a, const float *b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++) acc[u] += a[d + u] * b[d + u];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

// y (n) += alpha x (n); y and x do not overlap
static void axpy8(float *restrict y, float alpha, const float *restrict x, int n) {
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++) y[d + u] += alpha * x[d + u];
    for (; d < n; d++) y[d] += alpha * x[d];
}

// ---------------------------------------------------------------------------
// Forward

void attention_forward(const Attention *a, float *out, float *cache, const float *x,
                       const float *c, const AttentionParams *p, int B, int Lq, int Lk) {
    int D = a->D, H = a->H, dh = D / H, Dc = c ? a->Dc : D;
    const float *ctx = c ? c : x;
    Cache s = cache_split(a, cache, B, Lq, Lk);
    float scale = 1.0f / sqrtf((float)dh);
    proj_forward(s.q, x, p->wq, p->bq, B * Lq, D, D);
    proj_forward(s.k, ctx, p->wk, p->bk, B * Lk, Dc, D);
    proj_forward(s.v, ctx, p->wv, p->bv, B * Lk, Dc, D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *Kb = s.k + (size_t)b * Lk * D + (size_t)h * dh;
            const float *Vb = s.v + (size_t)b * Lk * D + (size_t)h * dh;
            for (int i = 0; i < Lq; i++) {
                const float *q = s.q + ((size_t)b * Lq + i) * D + (size_t)h * dh;
                float *P = s.p + (((size_t)b * H + h) * Lq + i) * Lk;
                float mx = -INFINITY;
                for (int j = 0; j < Lk; j++) {
                    P[j] = dot8(q, Kb + (size_t)j * D, dh) * scale;
                    if (P[j] > mx) mx = P[j];
                }
                float sum = 0;
                for (int j = 0; j < Lk; j++) sum += (P[j] = expf(P[j] - mx));
                float inv = 1.0f / sum;
                float *y = s.y + ((size_t)b * Lq + i) * D + (size_t)h * dh;
                for (int d = 0; d < dh; d++) y[d] = 0.0f;
                for (int j = 0; j < Lk; j++) {
                    P[j] *= inv;
                    axpy8(y, P[j], Vb + (size_t)j * D, dh);
                }
            }
        }
    proj_forward(out, s.y, p->wo, p->bo, B * Lq, D, D);
}

// ---------------------------------------------------------------------------
// Backward
//
// Per (b, h, query row i), with dY_i the row's slice of dL/dY:
//   dP_j = dY_i . V_j;  dV_j += P_ij dY_i
//   dS_j = P_ij (dP_j - sum_l P_il dP_l)           (softmax backward)
//   dQ_i = scale sum_j dS_j K_j;  dK_j += scale dS_j Q_i

void attention_backward(const Attention *a, float *dx, float *dc, const AttentionGrads *dp,
                        const float *dout, const float *cache, const float *x, const float *c,
                        const AttentionParams *p, int B, int Lq, int Lk, float *work) {
    int D = a->D, H = a->H, dh = D / H, Dc = c ? a->Dc : D;
    const float *ctx = c ? c : x;
    float *dctx = c ? dc : dx;
    Cache s = cache_split(a, (float *)cache, B, Lq, Lk);
    float scale = 1.0f / sqrtf((float)dh);
    size_t nq = (size_t)B * Lq * D, nk = (size_t)B * Lk * D;
    float *dY = work, *dQ = dY + nq, *dK = dQ + nq, *dV = dK + nk, *dP = dV + nk;

    // out = Y Wo^T + bo: dY = dout Wo (overwritten: beta 0 via a zeroed buffer)
    memset(dY, 0, sizeof(float) * nq);
    proj_backward(dY, dp->wo, dp->bo, dout, s.y, p->wo, B * Lq, D, D);

    memset(dK, 0, sizeof(float) * 2 * nk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t kv0 = (size_t)b * Lk * D + (size_t)h * dh;
            for (int i = 0; i < Lq; i++) {
                size_t qi = ((size_t)b * Lq + i) * D + (size_t)h * dh;
                const float *P = s.p + (((size_t)b * H + h) * Lq + i) * Lk;
                const float *dy = dY + qi, *q = s.q + qi;
                float tsum = 0;
                for (int j = 0; j < Lk; j++) {
                    dP[j] = dot8(dy, s.v + kv0 + (size_t)j * D, dh);
                    axpy8(dV + kv0 + (size_t)j * D, P[j], dy, dh);
                    tsum += P[j] * dP[j];
                }
                float *dq = dQ + qi;
                for (int d = 0; d < dh; d++) dq[d] = 0.0f;
                for (int j = 0; j < Lk; j++) {
                    float ds = scale * P[j] * (dP[j] - tsum);
                    axpy8(dq, ds, s.k + kv0 + (size_t)j * D, dh);
                    axpy8(dK + kv0 + (size_t)j * D, ds, q, dh);
                }
            }
        }

    proj_backward(dx, dp->wq, dp->bq, dQ, x, p->wq, B * Lq, D, D);
    proj_backward(dctx, dp->wk, dp->bk, dK, ctx, p->wk, B * Lk, Dc, D);
    proj_backward(dctx, dp->wv, dp->bv, dV, ctx, p->wv, B * Lk, Dc, D);
}

// ---------------------------------------------------------------------------
// References in double: the same formulas, plain loops, own buffers

// out (rows, od) = in (rows, id) w^T + b, in double
static void proj_naive(double *out, const float *in, const float *w, const float *b, int rows,
                       int id, int od) {
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < od; o++) {
            double acc = b[o];
            for (int i = 0; i < id; i++)
                acc += (double)in[(size_t)r * id + i] * w[(size_t)o * id + i];
            out[(size_t)r * od + o] = acc;
        }
}

// Q, K, V, P, Y of the forward in double; a single allocation the caller frees.
typedef struct NaiveFwd {
    double *q, *k, *v, *p, *y, *buf;
} NaiveFwd;

static int naive_fwd(NaiveFwd *f, const Attention *a, const float *x, const float *c,
                     const AttentionParams *p, int B, int Lq, int Lk) {
    int D = a->D, H = a->H, dh = D / H, Dc = c ? a->Dc : D;
    const float *ctx = c ? c : x;
    size_t nq = (size_t)B * Lq * D, nk = (size_t)B * Lk * D, np = (size_t)B * H * Lq * Lk;
    f->buf = cd_malloc(sizeof(double) * (2 * nq + 2 * nk + np));
    if (!f->buf) return CD_ENOMEM;
    f->q = f->buf;
    f->k = f->q + nq;
    f->v = f->k + nk;
    f->p = f->v + nk;
    f->y = f->p + np;
    proj_naive(f->q, x, p->wq, p->bq, B * Lq, D, D);
    proj_naive(f->k, ctx, p->wk, p->bk, B * Lk, Dc, D);
    proj_naive(f->v, ctx, p->wv, p->bv, B * Lk, Dc, D);
    double scale = 1.0 / sqrt((double)dh);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Lq; i++) {
                double *P = f->p + (((size_t)b * H + h) * Lq + i) * Lk, mx = -INFINITY, sum = 0;
                for (int j = 0; j < Lk; j++) {
                    double dot = 0;
                    for (int d = 0; d < dh; d++)
                        dot += f->q[((size_t)b * Lq + i) * D + h * dh + d] *
                               f->k[((size_t)b * Lk + j) * D + h * dh + d];
                    P[j] = dot * scale;
                    mx = fmax(mx, P[j]);
                }
                for (int j = 0; j < Lk; j++) sum += (P[j] = exp(P[j] - mx));
                for (int j = 0; j < Lk; j++) P[j] /= sum;
                for (int d = 0; d < dh; d++) {
                    double acc = 0;
                    for (int j = 0; j < Lk; j++)
                        acc += P[j] * f->v[((size_t)b * Lk + j) * D + h * dh + d];
                    f->y[((size_t)b * Lq + i) * D + h * dh + d] = acc;
                }
            }
    return CD_OK;
}

void attention_forward_naive(const Attention *a, float *out, const float *x, const float *c,
                             const AttentionParams *p, int B, int Lq, int Lk) {
    NaiveFwd f;
    if (naive_fwd(&f, a, x, c, p, B, Lq, Lk) != CD_OK) return;
    int D = a->D;
    for (int r = 0; r < B * Lq; r++)
        for (int o = 0; o < D; o++) {
            double acc = p->bo[o];
            for (int i = 0; i < D; i++) acc += f.y[(size_t)r * D + i] * p->wo[(size_t)o * D + i];
            out[(size_t)r * D + o] = (float)acc;
        }
    free(f.buf);
}

// din (rows, id) += g W; dw (od, id) += g^T in; db += colsum g  (g: (rows, od) in double)
static void proj_backward_naive(float *din, float *dw, float *db, const double *g,
                                const float *in, const float *w, int rows, int id, int od) {
    for (int o = 0; o < od; o++) {
        double acc = 0;
        for (int r = 0; r < rows; r++) acc += g[(size_t)r * od + o];
        db[o] += (float)acc;
        for (int i = 0; i < id; i++) {
            acc = 0;
            for (int r = 0; r < rows; r++) acc += g[(size_t)r * od + o] * in[(size_t)r * id + i];
            dw[(size_t)o * id + i] += (float)acc;
        }
    }
    if (din)
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < id; i++) {
                double acc = 0;
                for (int o = 0; o < od; o++) acc += g[(size_t)r * od + o] * w[(size_t)o * id + i];
                din[(size_t)r * id + i] += (float)acc;
            }
}

void attention_backward_naive(const Attention *a, float *dx, float *dc, const AttentionGrads *dp,
                              const float *dout, const float *x, const float *c,
                              const AttentionParams *p, int B, int Lq, int Lk) {
    int D = a->D, H = a->H, dh = D / H, Dc = c ? a->Dc : D;
    const float *ctx = c ? c : x;
    float *dctx = c ? dc : dx;
    size_t nq = (size_t)B * Lq * D, nk = (size_t)B * Lk * D;
    NaiveFwd f;
    if (naive_fwd(&f, a, x, c, p, B, Lq, Lk) != CD_OK) return;
    double *g = cd_calloc(3 * nq + 2 * nk, sizeof(double));
    if (!g) {
        free(f.buf);
        return;
    }
    double *dO = g, *dY = dO + nq, *dQ = dY + nq, *dK = dQ + nq, *dV = dK + nk;
    for (size_t i = 0; i < nq; i++) dO[i] = dout[i];
    // out = Y Wo^T + bo; Y is a double here, so the Wo grads are done inline
    for (int o = 0; o < D; o++) {
        double acc = 0;
        for (int r = 0; r < B * Lq; r++) acc += dO[(size_t)r * D + o];
        dp->bo[o] += (float)acc;
        for (int i = 0; i < D; i++) {
            acc = 0;
            for (int r = 0; r < B * Lq; r++) acc += dO[(size_t)r * D + o] * f.y[(size_t)r * D + i];
            dp->wo[(size_t)o * D + i] += (float)acc;
        }
    }
    for (int r = 0; r < B * Lq; r++)
        for (int i = 0; i < D; i++) {
            double acc = 0;
            for (int o = 0; o < D; o++) acc += dO[(size_t)r * D + o] * p->wo[(size_t)o * D + i];
            dY[(size_t)r * D + i] = acc;
        }
    double scale = 1.0 / sqrt((double)dh);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Lq; i++) {
                const double *P = f.p + (((size_t)b * H + h) * Lq + i) * Lk;
                size_t qi = ((size_t)b * Lq + i) * D + (size_t)h * dh;
                double tsum = 0;
                for (int j = 0; j < Lk; j++) {
                    double dpj = 0;
                    for (int d = 0; d < dh; d++)
                        dpj += dY[qi + d] * f.v[((size_t)b * Lk + j) * D + h * dh + d];
                    tsum += P[j] * dpj;
                }
                for (int j = 0; j < Lk; j++) {
                    size_t kj = ((size_t)b * Lk + j) * D + (size_t)h * dh;
                    double dpj = 0;
                    for (int d = 0; d < dh; d++) dpj += dY[qi + d] * f.v[kj + d];
                    double ds = scale * P[j] * (dpj - tsum);
                    for (int d = 0; d < dh; d++) {
                        dV[kj + d] += P[j] * dY[qi + d];
                        dQ[qi + d] += ds * f.k[kj + d];
                        dK[kj + d] += ds * f.q[qi + d];
                    }
                }
            }
    proj_backward_naive(dx, dp->wq, dp->bq, dQ, x, p->wq, B * Lq, D, D);
    proj_backward_naive(dctx, dp->wk, dp->bk, dK, ctx, p->wk, B * Lk, Dc, D);
    proj_backward_naive(dctx, dp->wv, dp->bv, dV, ctx, p->wv, B * Lk, Dc, D);
    free(g);
    free(f.buf);
}
