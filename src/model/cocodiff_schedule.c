// cocodiff_schedule.c - DDPM noise schedules, the forward process q(z_t|z_0)
// and the deterministic DDIM sampler of the CoCoDiff module (see cocodiff.h;
// docs/method.md "CoCoDiff module", steps 3 and 5).
//
// Schedules are computed in double: linear betas (DDPM, Ho et al. 2020:
// linspace(1e-4, 0.02, 1000)) give abar_0 = 0.9999, abar_999 = 4.0358e-5;
// cosine (Nichol & Dhariwal 2021, diffusers' betas_for_alpha_bar):
// beta_t = min(1 - abar(t + 1) / abar(t), 0.999), abar(u) = cos^2((u/T + s) / (1 + s) pi/2).
#include <math.h>
#include <stdlib.h>

#include "cocodiff.h"
#include "status.h"

static double cosine_abar(double u) {   // u = t / T in [0, 1]
    double x = (u + 0.008) / 1.008 * (M_PI / 2);
    return cos(x) * cos(x);
}

int cocodiff_schedule_init(CocodiffSchedule *s, CocodiffBetaSchedule kind, int T,
                           double beta_start, double beta_end) {
    s->T = 0;
    s->alphas_cumprod = NULL;
    if (T < 2 || (kind != COCODIFF_BETA_LINEAR && kind != COCODIFF_BETA_COSINE)) {
        CD_ERR("diffusion schedule: T %d (need >= 2), kind %d (0 linear, 1 cosine)", T, (int)kind);
        return CD_EARG;
    }
    if (kind == COCODIFF_BETA_LINEAR &&
        !(beta_start > 0 && beta_end >= beta_start && beta_end < 1)) {
        CD_ERR("linear schedule: need 0 < beta_start <= beta_end < 1, got %g .. %g", beta_start, beta_end);
        return CD_EARG;
    }
    s->alphas_cumprod = cd_malloc((size_t)T * sizeof(double));
    if (!s->alphas_cumprod) return CD_ENOMEM;
    s->T = T;
    double a = 1.0;
    for (int t = 0; t < T; t++) {
        double beta;
        if (kind == COCODIFF_BETA_LINEAR)
            beta = beta_start + (beta_end - beta_start) * t / (T - 1);
        else {
            beta = 1.0 - cosine_abar((double)(t + 1) / T) / cosine_abar((double)t / T);
            if (beta > 0.999) beta = 0.999;
        }
        a *= 1.0 - beta;
        s->alphas_cumprod[t] = a;
    }
    return CD_OK;
}

void cocodiff_schedule_free(CocodiffSchedule *s) {
    if (!s) return;
    free(s->alphas_cumprod);
    s->alphas_cumprod = NULL;
    s->T = 0;
}

void cocodiff_q_sample(const CocodiffSchedule *s, float *zt, const float *z0, const float *eps,
                       const int32_t *t, int B, size_t n) {
    for (int b = 0; b < B; b++) {
        double ab = s->alphas_cumprod[t[b]], ca = sqrt(ab), cs = sqrt(1.0 - ab);
        for (size_t i = (size_t)b * n; i < (size_t)(b + 1) * n; i++)
            zt[i] = (float)(ca * z0[i] + cs * eps[i]);
    }
}

void cocodiff_ddim(const CocodiffSchedule *s, float *z, const int32_t *t_start, int B, size_t n,
                   int S, CocodiffEpsFn fn, void *ctx, float *eps, int32_t *tbuf,
                   const float *x0_bound) {
    for (int k = S; k >= 1; k--) {
        for (int b = 0; b < B; b++) tbuf[b] = (int32_t)(((int64_t)t_start[b] * k) / S);
        fn(ctx, eps, z, tbuf, B);
        for (int b = 0; b < B; b++) {
            double ab = s->alphas_cumprod[tbuf[b]];
            double ap = k > 1 ? s->alphas_cumprod[((int64_t)t_start[b] * (k - 1)) / S] : 1.0;
            double sa = sqrt(ab), sb = sqrt(1.0 - ab), pa = sqrt(ap), pb = sqrt(1.0 - ap);
            double lim = x0_bound ? (double)x0_bound[b] : INFINITY;
            for (size_t i = (size_t)b * n; i < (size_t)(b + 1) * n; i++) {
                double z0 = ((double)z[i] - sb * eps[i]) / sa, e = eps[i];
                if (z0 > lim || z0 < -lim) {
                    z0 = z0 > lim ? lim : -lim;
                    if (sb > 0) e = ((double)z[i] - sa * z0) / sb;
                }
                z[i] = (float)(pa * z0 + pb * e);
            }
        }
    }
}
