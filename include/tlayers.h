// tlayers.h - transformer layers for the CoCoDiff denoiser (docs/method.md,
// "CoCoDiff module"): LayerNorm, GELU/SiLU, multi-head self-/cross-attention
// and the sinusoidal timestep embedding, as forward/backward pairs over flat
// float buffers. Token layout: (B, L, D) contiguous, i.e. PyTorch's
// batch_first (batch, tokens, features).
//
// Conventions: those of layers.h.
// - forward: outputs, then caches, then inputs, then parameters, then dims.
//   Outputs are overwritten (=).
// - backward: input grads, then parameter grads, then dout, then the saved
//   inputs/caches, then parameters, then dims. Every gradient ACCUMULATES
//   (+=) into its buffer (the caller zeroes once per step); a NULL input-grad
//   pointer means "not needed".
// - Weights are stored exactly as PyTorch stores them: Linear (out, in),
//   LayerNorm weight/bias (C).
// - Matmuls go through blas.h; every BLAS-backed kernel keeps a *_naive
//   reference (double accumulation) used by the tests.
// - `work` is caller-provided scratch of at least *_work_size() floats.
#pragma once
#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// LayerNorm over the last dim (torch.nn.LayerNorm(C, eps)): for each row,
//   out = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(biased var + eps).
// Statistics are accumulated in double. w and b may both be NULL
// (elementwise_affine=False: w = 1, b = 0).
#define LN_EPS 1e-5f
// out, x: (rows, C); mean, rstd: (rows) caches for backward; w, b: (C).
// out may alias x. layernorm_forward uses eps = LN_EPS (PyTorch's default).
void layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int rows, int C);
void layernorm_forward_eps(float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int rows, int C, float eps);
// dx: (rows, C) or NULL; dw, db: (C) or NULL (NULL when w, b are NULL);
// dout, x: (rows, C); mean, rstd: the forward's caches; w: (C) or NULL.
void layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *mean, const float *rstd, const float *w, int rows, int C);

// ---------------------------------------------------------------------------
// Elementwise; the backward passes read the saved INPUT x (so a forward with
// out == x is only for when no backward follows).
// GELU, exact erf form (torch.nn.functional.gelu, approximate='none'):
//   gelu(x) = x/2 (1 + erf(x / sqrt 2))
void gelu_forward(float *out, const float *x, size_t n);
void gelu_backward(float *dx, const float *dout, const float *x, size_t n);
// SiLU (torch.nn.functional.silu): silu(x) = x sigmoid(x)
void silu_forward(float *out, const float *x, size_t n);
void silu_backward(float *dx, const float *dout, const float *x, size_t n);

// ---------------------------------------------------------------------------
// Multi-head attention with separate q/k/v/out projections
// (torch.nn.MultiheadAttention(D, H, kdim=Dc, vdim=Dc, batch_first=True),
// no masks, no dropout):
//   Q = x Wq^T + bq                 (B, Lq, D)    x: (B, Lq, D)
//   K = c Wk^T + bk, V = c Wv^T + bv (B, Lk, D)   c: (B, Lk, Dc)
//   per head h (columns h*dh .. h*dh+dh-1, dh = D / H):
//   P = softmax(Q_h K_h^T / sqrt(dh)) (B, H, Lq, Lk);  Y_h = P V_h
//   out = Y Wo^T + bo               (B, Lq, D)
// Self-attention: c = NULL (the context is x itself, Lk = Lq, Dc = D); the
// k/v gradients then go to dx as well. Cross-attention: c is the context
// (B, Lk, Dc) and dc receives its gradient (NULL: not needed).
typedef struct Attention {
    int D;    // model dim: queries and output
    int Dc;   // context dim: the input of the k/v projections (= D for self-attention)
    int H;    // heads; D % H == 0
} Attention;
typedef struct AttentionParams {   // PyTorch Linear layout (out, in)
    const float *wq, *bq;   // (D, D), (D)
    const float *wk, *bk;   // (D, Dc), (D)
    const float *wv, *bv;   // (D, Dc), (D)
    const float *wo, *bo;   // (D, D), (D)
} AttentionParams;
typedef struct AttentionGrads {   // same shapes; all required
    float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
} AttentionGrads;
// Fills *a; CD_OK, or CD_EARG (with a message) unless D, Dc, H > 0 and D % H == 0.
int attention_init(Attention *a, int D, int Dc, int H);
// Floats the forward cache needs: Q (B, Lq, D), K, V (B, Lk, D),
// P (B, H, Lq, Lk), Y (B, Lq, D).
size_t attention_cache_size(const Attention *a, int B, int Lq, int Lk);
// Floats of scratch attention_backward needs (the forward needs none).
size_t attention_work_size(const Attention *a, int B, int Lq, int Lk);
// out: (B, Lq, D) overwritten (must not alias x or c); cache filled for backward.
// Self-attention: c = NULL and Lk = Lq.
void attention_forward(const Attention *a, float *out, float *cache, const float *x,
                       const float *c, const AttentionParams *p, int B, int Lq, int Lk);
// dx: (B, Lq, D) or NULL; dc: (B, Lk, Dc) or NULL (ignored for self-attention);
// dout: (B, Lq, D); cache, x, c: as given to (and filled by) the forward.
void attention_backward(const Attention *a, float *dx, float *dc, const AttentionGrads *dp,
                        const float *dout, const float *cache, const float *x, const float *c,
                        const AttentionParams *p, int B, int Lq, int Lk, float *work);
// References: the same contracts, plain loops in double, no cache.
void attention_forward_naive(const Attention *a, float *out, const float *x, const float *c,
                             const AttentionParams *p, int B, int Lq, int Lk);
void attention_backward_naive(const Attention *a, float *dx, float *dc, const AttentionGrads *dp,
                              const float *dout, const float *x, const float *c,
                              const AttentionParams *p, int B, int Lq, int Lk);

// ---------------------------------------------------------------------------
// Sinusoidal timestep embedding (DDPM; diffusers get_timestep_embedding with
// flip_sin_to_cos=False, downscale_freq_shift=1, scale=1, max_period=10000):
//   half = dim / 2, freq_i = exp(-ln(10000) i / (half - 1)), i < half
//   out[b] = [sin(t_b freq_0 ..), cos(t_b freq_0 ..)], a trailing 0 for odd dim
// computed in float32 step by step as PyTorch does. No backward (t is an
// integer). out: (B, dim); t: (B); dim >= 4 (half - 1 > 0).
#define TEMB_MAX_PERIOD 10000.0f
void temb_forward(float *out, const int32_t *t, int B, int dim);
