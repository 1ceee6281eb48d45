// layers.h - the layers of CTR-GCN as forward/backward pairs over flat float
// buffers (llm.c style). Layout of activations: (N, C, T, V) contiguous, as
// PyTorch's NCHW with H = T (time) and W = V (joints).
//
// Conventions (all layers):
// - forward: outputs, then caches, then inputs, then parameters, then dims.
//   Outputs are overwritten (=).
// - backward: input grads, then parameter grads, then dout, then the saved
//   inputs/caches, then parameters, then dims. Every gradient ACCUMULATES
//   (+=) into its buffer (the caller zeroes once per step); a NULL input-grad
//   pointer means "not needed" (the first layer).
// - Weights are stored exactly as PyTorch stores them (so a state_dict maps
//   1:1): Conv2d (cout, cin, kt, 1) -> (cout, cin, kt); Linear (out, in).
// - Matmuls go through OpenBLAS (blas.h); every BLAS-backed kernel keeps a
//   *_naive reference used by the tests.
// - `work` is caller-provided scratch of at least *_work_size() floats.
#pragma once
#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// Conv2d with kernel (kt, 1), stride (stride, 1), dilation (dil, 1), padding
// (pad, 0): the temporal convolutions and all 1x1 convolutions of CTR-GCN.
typedef struct Conv2d {
    int cin, cout, kt, stride, dil, pad;
} Conv2d;
int conv2d_out_t(const Conv2d *c, int T);            // (T + 2 pad - dil (kt-1) - 1) / stride + 1
size_t conv2d_work_size(const Conv2d *c, int N, int T, int V);
// out: (N, cout, Tout, V); x: (N, cin, T, V); w: (cout, cin, kt); b: (cout) or NULL
void conv2d_forward(const Conv2d *c, float *out, const float *x, const float *w, const float *b,
                    int N, int T, int V, float *work);
void conv2d_backward(const Conv2d *c, float *dx, float *dw, float *db, const float *dout,
                     const float *x, const float *w, int N, int T, int V, float *work);
void conv2d_forward_naive(const Conv2d *c, float *out, const float *x, const float *w,
                          const float *b, int N, int T, int V);

// ---------------------------------------------------------------------------
// BatchNorm over the channel axis of (N, C, L): BatchNorm2d with L = T*V,
// BatchNorm1d (data_bn) with L = T. PyTorch semantics: training uses the
// batch's biased variance to normalise and updates running_mean/var with
// momentum 0.1 and the UNBIASED variance; eval uses the running statistics.
// eps = 1e-5.
//
// Synchronised BatchNorm: when sync is non-NULL its allreduce sums double
// vectors across the data-parallel ranks, so statistics (and, in backward,
// the gradient sums) are those of the global batch.
typedef struct BnSync {
    void (*allreduce_sum)(double *v, int n, void *ctx);
    void *ctx;
} BnSync;
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
// mean, rstd: (C) caches written in training mode (batch statistics) and in
// eval mode (running statistics) alike, for backward.
void batchnorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, int N, int C,
                       int L, int training, const BnSync *sync);
// Training-mode backward (batch statistics); in eval mode the statistics are
// constants (use training = 0).
void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                        const float *mean, const float *rstd, const float *gamma, int N, int C,
                        int L, int training, const BnSync *sync);
// The same layer in pieces, so a caller can sum the statistics of several
// layers in one reduction (bitwise the same results: each layer's vector is
// packed as batchnorm_forward/backward reduce it, and an all-reduce sums
// element by element). A tensor's samples lie xs (ds: dout's) floats apart,
// C L when dense; a larger stride takes a channel slice of a wider tensor.
// v (2C + 1): the local sums (sum, sumsq per channel, count) of a training
// forward; all-reduce them across ranks for synchronised BN.
void batchnorm_sums(double *v, const float *x, size_t xs, int N, int C, int L);
// mean, rstd (and the running statistics) from the reduced v (training), or
// from the running statistics (eval: v unused).
void batchnorm_stats(float *mean, float *rstd, float *running_mean, float *running_var, const double *v, int C,
                     int training);
// out = x * scale + shift (scale = gamma rstd, shift = beta - mean scale); out may be x.
void batchnorm_apply(float *out, const float *x, size_t xs, const float *mean, const float *rstd,
                     const float *gamma, const float *beta, int N, int C, int L);
// v (2C + 1): backward's local sums (sum dout, sum dout xhat, count);
// dgamma/dbeta += the local sums (when non-NULL).
void batchnorm_grad_sums(double *v, float *dgamma, float *dbeta, const float *dout, size_t ds, const float *x,
                         size_t xs, const float *mean, const float *rstd, int N, int C, int L);
// dx (stride xs) += the input gradient from the reduced v.
void batchnorm_grad_input(float *dx, const double *v, const float *dout, size_t ds, const float *x, size_t xs,
                          const float *mean, const float *rstd, const float *gamma, int N, int C, int L,
                          int training);

// ---------------------------------------------------------------------------
// Elementwise
// ReLU of one value as torch.relu: NaN stays NaN, so a corrupt input or
// weight reaches the scores, where eval refuses it (a plain v > 0 ? v : 0
// turned it into 0 and a finite, wrong score). Branch-free: vectorises.
static inline float relu1(float v) { return ((v > 0.0f) | (v != v)) ? v : 0.0f; }
void relu_forward(float *out, const float *x, size_t n);
void relu_backward(float *dx, const float *dout, const float *out, size_t n);   // uses the output
void tanh_forward(float *out, const float *x, size_t n);
void tanh_backward(float *dx, const float *dout, const float *out, size_t n);   // uses the output

// MaxPool2d kernel (3, 1), stride (stride, 1), padding (1, 0) over (N, C, T, V).
// argmax: (N, C, Tout, V) int32, the t index of each maximum (for backward).
int maxpool_t_out(int T, int stride);
void maxpool_t_forward(float *out, int32_t *argmax, const float *x, int N, int C, int T, int V,
                       int stride);
void maxpool_t_backward(float *dx, const float *dout, const int32_t *argmax, int N, int C, int T,
                        int V, int stride);
// The same with padding (pad, 0): pad 0 runs over a frame block whose halo
// frames (-inf beyond the sequence ends) are in x.
void maxpool_t_forward_pad(float *out, int32_t *argmax, const float *x, int N, int C, int T, int V, int stride,
                           int pad);
void maxpool_t_backward_pad(float *dx, const float *dout, const int32_t *argmax, int N, int C, int T, int V,
                            int stride, int pad);

// ---------------------------------------------------------------------------
// Linear: out (N, out) = x (N, in) w^T (out, in) + b (out)
void linear_forward(float *out, const float *x, const float *w, const float *b, int N, int in,
                    int outc);
void linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                     const float *w, int N, int in, int outc);

// Softmax cross-entropy, mean over the batch (PyTorch CrossEntropyLoss).
// probs: (N, K) cache. Returns the mean loss.
float crossentropy_forward(float *probs, const float *logits, const int32_t *labels, int N, int K);
// dlogits += dloss * (probs - onehot) / N
void crossentropy_backward(float *dlogits, const float *probs, const int32_t *labels, int N, int K,
                           float dloss);

// ---------------------------------------------------------------------------
// CTRGC: channel-wise topology refinement graph convolutions (CTR-GCN's
// CTRGC with its A slice and alpha), nsub of them on the same input summed
// (CTR-GCN's unit_gcn: 3 subsets; each subset s as below with its own
// parameters, out = the sum over s):
//   x1 = mean_T conv1(x), x2 = mean_T conv2(x)        (N, rel, V)
//   R  = tanh(x1[..., u, None] - x2[..., None, v])   (N, rel, V, V)
//   M  = conv4(R) * alpha + A                         (N, cout, V, V)
//   x3 = conv3(x)                                     (N, cout, T, V)
//   out[n, c, t, u] = sum_v M[n, c, u, v] x3[n, c, t, v]
// rel = 8 when cin is 3 or 9, else cin / 8 (CTR-GCN's rel_reduction).
struct Prof;
typedef struct Ctrgc {
    int cin, cout, rel;
    int nsub;            // subsets summed (0 counts as 1); params and grads are arrays of nsub
    int recompute_x3;    // 1: conv3's output is not cached; backward recomputes it per sample
                         // (cin multiply-adds per float not kept; the same call, so the same bits)
    struct Prof *prof;   // NULL, or the step profile its parts are timed into (prof.h)
    // A frame block of a longer row (ctrgcn_team.h's time blocks): with tsum
    // set, x holds T of the row's tfull frames, split over lanes that each
    // call with their block; tsum(v, n, tctx) makes v the sum of the lanes'
    // v, so the time-mean (forward) and its gradient (backward) are the whole
    // row's. NULL: x is the whole row.
    int tfull;
    void (*tsum)(float *v, int n, void *tctx);
    void *tctx;
} Ctrgc;
typedef struct CtrgcParams {   // PyTorch layout; conv weights (o, i, 1, 1) -> (o, i)
    const float *w1, *b1, *w2, *b2;   // (rel, cin), (rel)
    const float *w3, *b3;             // (cout, cin), (cout)
    const float *w4, *b4;             // (cout, rel), (cout)
    const float *A;                   // (V, V): this subset's slice of PA
    const float *alpha;               // (1), shared by the unit's subsets
} CtrgcParams;
typedef struct CtrgcGrads {
    float *w1, *b1, *w2, *b2, *w3, *b3, *w4, *b4, *A, *alpha;
} CtrgcGrads;
int ctrgc_rel_channels(int cin);
// Floats the forward cache needs (xm, x1m and x2m, R, and unless recompute_x3
// x3 of every subset) for a batch.
size_t ctrgc_cache_size(const Ctrgc *g, int N, int T, int V);
size_t ctrgc_work_size(const Ctrgc *g, int N, int T, int V);
// out (N, cout, T, V) is overwritten; cache is filled for backward, or is
// NULL (inference: nothing kept, the same output bits). p: nsub parameter
// sets; backward: dp nsub gradient sets (subsets may share alpha's).
void ctrgc_forward(const Ctrgc *g, float *out, float *cache, const float *x, const CtrgcParams *p,
                   int N, int T, int V, float *work);
void ctrgc_backward(const Ctrgc *g, float *dx, const CtrgcGrads *dp, const float *dout,
                    const float *cache, const float *x, const CtrgcParams *p, int N, int T, int V,
                    float *work);
// a (n) = tanh(a) as the topology computes it: within 0.5 ulp of tanh on
// CPUs with AVX2 and FMA (unless COCODIFF_NO_SIMD=1), else tanhf.
void ctrgc_tanh(float *a, size_t n);
void ctrgc_forward_naive(const Ctrgc *g, float *out, const float *x, const CtrgcParams *p, int N,
                         int T, int V);
