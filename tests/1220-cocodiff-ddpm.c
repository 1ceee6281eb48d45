// 1220-cocodiff-ddpm.c - the CoCoDiff noise schedules and DDIM sampler
// (src/model/cocodiff_schedule.c):
// - linear schedule (DDPM: 1e-4 .. 0.02 over 1000 steps): abar_0 = 0.9999,
//   abar_999 = 4.0358297653756754e-05 (computed in double with Python's
//   floats; RTOL 1e-9), strictly decreasing;
// - cosine schedule: strictly decreasing in (0, 1), abar_0 close to 1;
// - q_sample: zt = sqrt(abar) z0 + sqrt(1 - abar) eps, per sample t;
// - DDIM (eta 0) with the denoiser replaced by the exact noise (the test hook
//   is the eps callback) returns z_0 for any start t and any S, per sample
//   starts included (t < S and t = 0 too), within float rounding (ATOL 2e-5
//   on O(1) values; the chain divides by sqrt(abar_t), up to 1/0.08 at
//   t = 999, so a few ulp of z grow to ~1e-5);
// - the model sees the DDIM timesteps floor(t_start k / S), k = S .. 1.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "status.h"
#include "tap/tap.h"

#define DDIM_ATOL 2e-5

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

typedef struct Oracle {
    const float *eps;    // (B, n): the noise that made z_t
    int calls;
    int32_t seen[8][8];  // [call][sample] timesteps the model saw
} Oracle;

static void oracle_eps(void *ctx, float *eps, const float *z, const int32_t *t, int B) {
    Oracle *o = ctx;
    (void)z;
    memcpy(eps, o->eps, (size_t)B * 6 * sizeof(float));
    if (o->calls < 8)
        for (int b = 0; b < B && b < 8; b++) o->seen[o->calls][b] = t[b];
    o->calls++;
}

static int decreasing(const double *a, int T) {
    for (int t = 1; t < T; t++)
        if (!(a[t] < a[t - 1])) return 0;
    return 1;
}

int main(void) {
    plan(12);
    CocodiffSchedule s;
    int rc = cocodiff_schedule_init(&s, COCODIFF_BETA_LINEAR, 1000, 1e-4, 0.02);
    if (rc) bail("schedule init: %d", rc);
    is_double(0.9999, s.alphas_cumprod[0], 1e-12, "linear: abar_0 = 1 - 1e-4");
    ok(fabs(s.alphas_cumprod[999] / 4.0358297653756754e-05 - 1) < 1e-9,
       "linear: abar_999 = 4.0358e-05 (got %.10e)", s.alphas_cumprod[999]);
    ok(decreasing(s.alphas_cumprod, 1000), "linear: strictly decreasing");

    CocodiffSchedule cs;
    if (cocodiff_schedule_init(&cs, COCODIFF_BETA_COSINE, 1000, 0, 0)) bail("cosine init");
    ok(decreasing(cs.alphas_cumprod, 1000) && cs.alphas_cumprod[999] > 0 &&
           cs.alphas_cumprod[0] > 0.9999 && cs.alphas_cumprod[0] < 1,
       "cosine: strictly decreasing in (0, 1), abar_0 = %.6f, abar_999 = %.3e",
       cs.alphas_cumprod[0], cs.alphas_cumprod[999]);
    diag("the next line on stderr is an expected error");
    CocodiffSchedule bad;
    is_int(CD_EARG, cocodiff_schedule_init(&bad, COCODIFF_BETA_LINEAR, 1000, 0.02, 1e-4),
           "linear: beta_start > beta_end rejected");

    // q_sample and DDIM with the exact noise, 4 samples of 6 floats
    enum { B = 4, n = 6 };
    float z0[B * n], eps[B * n], z[B * n], want[B * n], work[B * n];
    int32_t t0[B] = {999, 517, 3, 0}, tbuf[B];
    uint64_t seed = 11;
    for (int i = 0; i < B * n; i++) z0[i] = frand(&seed), eps[i] = frand(&seed);
    cocodiff_q_sample(&s, z, z0, eps, t0, B, n);
    for (int b = 0; b < B; b++) {
        double ab = s.alphas_cumprod[t0[b]];
        for (int k = 0; k < n; k++)
            want[b * n + k] = (float)(sqrt(ab) * z0[b * n + k] + sqrt(1 - ab) * eps[b * n + k]);
    }
    is_tensor_close(z, want, B * n, 1e-7, 1e-6, "q_sample: sqrt(abar) z0 + sqrt(1 - abar) eps");

    int Ss[3] = {1, 5, 50};
    for (int i = 0; i < 3; i++) {
        Oracle o = {eps, 0, {{0}}};
        cocodiff_q_sample(&s, z, z0, eps, t0, B, n);
        cocodiff_ddim(&s, z, t0, B, n, Ss[i], oracle_eps, &o, work, tbuf, NULL);
        is_tensor_close(z, z0, B * n, DDIM_ATOL, 0, "DDIM, S = %d, exact noise: z_0 back (t = 999, 517, 3, 0)",
                        Ss[i]);
        if (Ss[i] == 5) {
            int good = o.calls == 5;
            for (int k = 5; k >= 1 && good; k--)
                good = o.seen[5 - k][0] == 999 * k / 5 && o.seen[5 - k][1] == 517 * k / 5 &&
                       o.seen[5 - k][2] == 3 * k / 5 && o.seen[5 - k][3] == 0;
            ok(good, "DDIM, S = 5: 5 model calls at t = floor(t_start k / 5), k = 5..1 (%d calls; "
                     "first sample %d %d %d %d %d)",
               o.calls, o.seen[0][0], o.seen[1][0], o.seen[2][0], o.seen[3][0], o.seen[4][0]);
        }
    }
    {   // the same from the cosine schedule; not from t = 999, where its
        // abar is 2.4e-9 and z_t holds no float-representable trace of z_0
        int32_t tc[B] = {900, 517, 3, 0};
        Oracle o = {eps, 0, {{0}}};
        cocodiff_q_sample(&cs, z, z0, eps, tc, B, n);
        cocodiff_ddim(&cs, z, tc, B, n, 5, oracle_eps, &o, work, tbuf, NULL);
        is_tensor_close(z, z0, B * n, DDIM_ATOL, 0,
                        "DDIM on the cosine schedule, S = 5: z_0 back (t = 900, 517, 3, 0)");
    }
    {   // a wrong noise does not give z_0 back (the check above is not vacuous)
        float zero[B * n];
        memset(zero, 0, sizeof zero);
        Oracle o = {zero, 0, {{0}}};
        cocodiff_q_sample(&s, z, z0, eps, t0, B, n);
        cocodiff_ddim(&s, z, t0, B, n, 5, oracle_eps, &o, work, tbuf, NULL);
        double d = 0;
        for (int i = 0; i < n; i++) d = fmax(d, fabs(z[i] - z0[i]));
        ok(d > 1e-2, "DDIM with a zero noise prediction does not return z_0 (max diff %.3g)", d);
    }
    cocodiff_schedule_free(&s);
    cocodiff_schedule_free(&cs);
    cocodiff_schedule_free(NULL);
    return tap_done();
}
