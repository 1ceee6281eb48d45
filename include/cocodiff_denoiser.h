// cocodiff_denoiser.h - the eps-prediction transformer of the CoCoDiff module
// (docs/method.md "CoCoDiff module", step 3; src/model/cocodiff_denoiser.c). Used by
// cocodiff.c; public for tests.
//
// Over L = 7 latent tokens z_t (B, 7, d) with Lc = 7 text tokens c (B, 7, d):
//   te = Linear2(SiLU(Linear1(sinusoidal(t, d))))            (B, d), both d -> d
//   x  = z_t + pos (7, d, optional) + te[b] on every token
//        (+ c[own(j)] on token j with inject: the token's own text first)
//   blocks x [ x += SelfAttn(LN1(x)); x += CrossAttn(LN2(x), c);
//              x += Linear(4d->d)(GELU(Linear(d->4d)(LN3(x)))) ]
//   eps_hat = Linear_out(LN_out(x))                           (B, 7, d)
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cocodiff.h"
#include "tlayers.h"

typedef struct CdBlockW {   // PyTorch layouts (out, in)
    float *n1w, *n1b;                                   // (d), (d)
    float *wq1, *bq1, *wk1, *bk1, *wv1, *bv1, *wo1, *bo1;   // self-attention (d, d), (d)
    float *n2w, *n2b;
    float *wq2, *bq2, *wk2, *bk2, *wv2, *bv2, *wo2, *bo2;   // cross-attention (d, d), (d)
    float *n3w, *n3b;
    float *m1w, *m1b;                                   // (hid, d), (hid)
    float *m2w, *m2b;                                   // (d, hid), (d)
} CdBlockW;

typedef struct CdDenoiserW {   // parameters, or their grads (same shapes)
    float *pos;                       // (7, d) or NULL when pos_embed is off
    float *t1w, *t1b, *t2w, *t2b;     // (d, d), (d), (d, d), (d)
    CdBlockW blk[COCODIFF_MAX_BLOCKS];
    float *now, *nob;                 // final LayerNorm (d)
    float *outw, *outb;               // (d, d), (d)
} CdDenoiserW;

typedef struct CdDenoiser {
    int d, H, nblocks, hid;
    int inject;             // x_j += ctx[own(j)] before the blocks: own(0) = 6 (the
                            // coarse text for h_0), own(j) = j - 1 (part j's sentence)
    Attention sa, ca;
} CdDenoiser;

int cd_denoiser_init(CdDenoiser *n, int d, int H, int nblocks, int hid);
// Floats of the forward cache (what backward reads) and of scratch.
size_t cd_denoiser_cache_size(const CdDenoiser *n, int B);
size_t cd_denoiser_work_size(const CdDenoiser *n, int B);
// eps: (B, 7, d) overwritten; cache filled; zt: (B, 7, d); t: (B); ctx: (B, 7, d).
void cd_denoiser_forward(const CdDenoiser *n, float *eps, float *cache, const float *zt,
                         const int32_t *t, const float *ctx, const CdDenoiserW *w, int B,
                         float *work);
// Accumulates into g (all its tensors), dzt (B, 7, d) and dctx (B, 7, d)
// (either may be NULL) from deps (B, 7, d), for the forward that filled cache.
void cd_denoiser_backward(const CdDenoiser *n, float *dzt, float *dctx, const CdDenoiserW *g,
                          const float *deps, const float *cache, const float *ctx,
                          const CdDenoiserW *w, int B, float *work);
