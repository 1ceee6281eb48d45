// 1010-batchnorm.c - batchnorm_forward/backward of layers.h against a
// double-precision naive BatchNorm (training and eval; caches and running
// statistics), finite-difference gradchecks (training mode, where the batch
// statistics depend on x, and eval mode), and synchronised BatchNorm: two
// "ranks" each holding part of a batch, run serially, must give the result of
// one rank holding it all.
//
// The serial sync simulation runs every call twice. Pass 1 runs each rank with
// a callback that records its local vector (and leaves it as is); pass 2 runs
// each rank again with a callback that adds the other rank's recorded vector,
// which is what MPI_Allreduce(SUM) over 2 ranks returns. The local vectors are
// deterministic, so pass 2 sees exactly the global sums.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "tap/tap.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}
static float *rnd(size_t n, float scale, float shift, uint64_t *s) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) bail("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = frand(s) * scale + shift;
    return p;
}
static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) bail("out of memory");
    return p;
}
static float *dup(const float *a, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) bail("out of memory");
    memcpy(p, a, sizeof(float) * n);
    return p;
}

// ---------------------------------------------------------------------------
// Naive reference in double: two-pass statistics.

static void bn_naive(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                     const float *beta, float *rm, float *rv, int N, int C, int L, int training) {
    for (int c = 0; c < C; c++) {
        double mu, var;
        if (training) {
            double s = 0, M = (double)N * L;
            for (int n = 0; n < N; n++)
                for (int l = 0; l < L; l++) s += x[((size_t)n * C + c) * L + l];
            mu = s / M;
            double q = 0;
            for (int n = 0; n < N; n++)
                for (int l = 0; l < L; l++) {
                    double d = x[((size_t)n * C + c) * L + l] - mu;
                    q += d * d;
                }
            var = q / M;
            rm[c] = (float)(0.9 * rm[c] + 0.1 * mu);
            rv[c] = (float)(0.9 * rv[c] + 0.1 * q / (M - 1));
        } else {
            mu = rm[c];
            var = rv[c];
        }
        double r = 1.0 / sqrt(var + 1e-5);
        mean[c] = (float)mu;
        rstd[c] = (float)r;
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) {
                size_t i = ((size_t)n * C + c) * L + l;
                out[i] = (float)((x[i] - mu) * r * gamma[c] + beta[c]);
            }
    }
}

static void check_forward(int N, int C, int L, uint64_t seed) {
    uint64_t st = seed;
    size_t n = (size_t)N * C * L;
    // a channel offset and scale, so the variance is not that of U(-1, 1)
    float *x = rnd(n, 1.0f, 0.0f, &st);
    for (size_t i = 0; i < n; i++) x[i] = x[i] * (1.0f + (float)((i / L) % C)) + 0.5f * (float)((i / L) % C);
    float *g = rnd((size_t)C, 0.5f, 1.0f, &st), *b = rnd((size_t)C, 0.5f, 0.0f, &st);
    float *rm = rnd((size_t)C, 0.5f, 0.0f, &st), *rv = rnd((size_t)C, 0.5f, 1.0f, &st);
    float *rm2 = dup(rm, (size_t)C), *rv2 = dup(rv, (size_t)C);
    float *o1 = rnd(n, 1, 0, &st), *o2 = zeros(n);
    float *m1 = zeros((size_t)C), *r1 = zeros((size_t)C), *m2 = zeros((size_t)C), *r2 = zeros((size_t)C);
    for (int training = 1; training >= 0; training--) {
        const char *mode = training ? "training" : "eval";
        batchnorm_forward(o1, m1, r1, x, g, b, rm, rv, N, C, L, training, NULL);
        bn_naive(o2, m2, r2, x, g, b, rm2, rv2, N, C, L, training);
        is_tensor_close(o1, o2, n, 1e-5, 1e-5, "%s out N=%d C=%d L=%d", mode, N, C, L);
        is_tensor_close(m1, m2, (size_t)C, 1e-6, 1e-5, "%s mean cache", mode);
        is_tensor_close(r1, r2, (size_t)C, 1e-6, 1e-5, "%s rstd cache", mode);
        is_tensor_close(rm, rm2, (size_t)C, 1e-6, 1e-5, "%s running_mean", mode);
        is_tensor_close(rv, rv2, (size_t)C, 1e-6, 1e-5, "%s running_var", mode);
    }
    free(x); free(g); free(b); free(rm); free(rv); free(rm2); free(rv2);
    free(o1); free(o2); free(m1); free(r1); free(m2); free(r2);
}

// ---------------------------------------------------------------------------
// Gradcheck: loss = sum(out * G) through batchnorm_forward (running stats are
// scratch copies), central differences with step H; error measure
// |a - n| / max(|a|, |n|, FLOOR).

#define H 1e-2f
#define FLOOR 1e-1
#define GC_TOL 1e-2
#define GC_MAXCHECK 60

typedef struct Bn {
    int N, C, L, training;
    float *x, *g, *b, *rm, *rv, *G, *out, *mean, *rstd, *rms, *rvs;
} Bn;

static double loss_of(Bn *k) {
    memcpy(k->rms, k->rm, sizeof(float) * k->C);
    memcpy(k->rvs, k->rv, sizeof(float) * k->C);
    batchnorm_forward(k->out, k->mean, k->rstd, k->x, k->g, k->b, k->rms, k->rvs, k->N, k->C,
                      k->L, k->training, NULL);
    double L = 0;
    for (size_t i = 0; i < (size_t)k->N * k->C * k->L; i++) L += (double)k->out[i] * k->G[i];
    return L;
}

static double worst_seen = 0;

static void gradcheck(Bn *k, float *param, const float *grad, size_t n, const char *name,
                      uint64_t *st) {
    double worst = 0;
    size_t worst_i = 0;
    int count = n < GC_MAXCHECK ? (int)n : GC_MAXCHECK;
    for (int j = 0; j < count; j++) {
        size_t i = n <= GC_MAXCHECK ? (size_t)j : (size_t)((frand(st) * 0.5f + 0.5f) * (float)(n - 1));
        float v0 = param[i];
        param[i] = v0 + H;
        double lp = loss_of(k);
        param[i] = v0 - H;
        double lm = loss_of(k);
        param[i] = v0;
        double num = (lp - lm) / (2.0 * H), a = grad[i];
        double e = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), FLOOR);
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    if (worst > worst_seen) worst_seen = worst;
    diag("  %s: %d elements, worst relative error %.2e at %zu", name, count, worst, worst_i);
    ok(worst < GC_TOL, "gradcheck %s %s N=%d C=%d L=%d", k->training ? "training" : "eval", name,
       k->N, k->C, k->L);
}

static void check_backward(int N, int C, int L, int training, uint64_t seed) {
    uint64_t st = seed;
    size_t n = (size_t)N * C * L;
    Bn k = {N, C, L, training, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    k.x = rnd(n, 1, 0, &st); k.g = rnd((size_t)C, 0.5f, 1.0f, &st); k.b = rnd((size_t)C, 0.5f, 0, &st);
    k.rm = rnd((size_t)C, 0.3f, 0, &st); k.rv = rnd((size_t)C, 0.3f, 1.0f, &st);
    k.G = rnd(n, 1, 0, &st); k.out = zeros(n); k.mean = zeros((size_t)C); k.rstd = zeros((size_t)C);
    k.rms = zeros((size_t)C); k.rvs = zeros((size_t)C);
    loss_of(&k);   // fills the mean/rstd caches
    float *dx = zeros(n), *dg = zeros((size_t)C), *db = zeros((size_t)C);
    batchnorm_backward(dx, dg, db, k.G, k.x, k.mean, k.rstd, k.g, N, C, L, training, NULL);
    float *mean = dup(k.mean, (size_t)C), *rstd = dup(k.rstd, (size_t)C);
    gradcheck(&k, k.x, dx, n, "dx", &st);
    gradcheck(&k, k.g, dg, (size_t)C, "dgamma", &st);
    gradcheck(&k, k.b, db, (size_t)C, "dbeta", &st);
    // accumulation: a second backward doubles every gradient
    float *dx2 = dup(dx, n), *dg2 = dup(dg, (size_t)C), *db2 = dup(db, (size_t)C);
    batchnorm_backward(dx2, dg2, db2, k.G, k.x, mean, rstd, k.g, N, C, L, training, NULL);
    for (size_t i = 0; i < n; i++) dx[i] *= 2;
    for (int i = 0; i < C; i++) dg[i] *= 2, db[i] *= 2;
    int acc = 1;
    acc &= is_tensor_close(dx2, dx, n, 1e-6, 1e-6, "dx accumulates") ? 1 : 0;
    acc &= is_tensor_close(dg2, dg, (size_t)C, 1e-6, 1e-6, "dgamma accumulates") ? 1 : 0;
    acc &= is_tensor_close(db2, db, (size_t)C, 1e-6, 1e-6, "dbeta accumulates") ? 1 : 0;
    (void)acc;
    free(k.x); free(k.g); free(k.b); free(k.rm); free(k.rv); free(k.G); free(k.out);
    free(k.mean); free(k.rstd); free(k.rms); free(k.rvs);
    free(dx); free(dg); free(db); free(dx2); free(dg2); free(db2); free(mean); free(rstd);
}

// ---------------------------------------------------------------------------
// Sync: two ranks (batch split N0 + N1) vs one rank holding all N.

typedef struct SimRank {
    double *mine;    // this rank's local vector, recorded in pass 1
    const double *other;   // the other rank's, added in pass 2 (NULL in pass 1)
    int calls, n;
} SimRank;

static void sim_allreduce(double *v, int n, void *ctx) {
    SimRank *r = ctx;
    r->calls++;
    r->n = n;
    if (!r->other) {
        memcpy(r->mine, v, sizeof(double) * n);
    } else {
        for (int i = 0; i < n; i++) v[i] += r->other[i];
    }
}

static void check_sync(int N0, int N1, int C, int L, uint64_t seed) {
    uint64_t st = seed;
    const int N = N0 + N1;
    const size_t per = (size_t)C * L, n = N * per, n0 = N0 * per, n1 = N1 * per;
    float *x = rnd(n, 2.0f, 0.3f, &st), *G = rnd(n, 1, 0, &st);
    float *g = rnd((size_t)C, 0.5f, 1, &st), *b = rnd((size_t)C, 0.5f, 0, &st);
    float *rm0 = rnd((size_t)C, 0.3f, 0, &st), *rv0 = rnd((size_t)C, 0.3f, 1, &st);
    // one rank, the whole batch
    float *rm = dup(rm0, (size_t)C), *rv = dup(rv0, (size_t)C), *out = zeros(n), *dx = zeros(n);
    float *mean = zeros((size_t)C), *rstd = zeros((size_t)C), *dg = zeros((size_t)C), *db = zeros((size_t)C);
    batchnorm_forward(out, mean, rstd, x, g, b, rm, rv, N, C, L, 1, NULL);
    batchnorm_backward(dx, dg, db, G, x, mean, rstd, g, N, C, L, 1, NULL);

    // two ranks: rank r holds samples [off_r, off_r + N_r)
    double *rec[2];
    for (int r = 0; r < 2; r++)
        if (!(rec[r] = calloc(2 * (size_t)C + 1, sizeof(double)))) bail("out of memory");
    SimRank sr[2] = {{rec[0], NULL, 0, 0}, {rec[1], NULL, 0, 0}};
    BnSync sync[2] = {{sim_allreduce, &sr[0]}, {sim_allreduce, &sr[1]}};
    const int Nr[2] = {N0, N1};
    const size_t off[2] = {0, n0};
    float *o2 = zeros(n), *dx2 = zeros(n), *rm2[2], *rv2[2], *m2[2], *s2[2], *dg2[2], *db2[2];
    for (int r = 0; r < 2; r++) {
        rm2[r] = zeros((size_t)C); rv2[r] = zeros((size_t)C); m2[r] = zeros((size_t)C);
        s2[r] = zeros((size_t)C); dg2[r] = zeros((size_t)C); db2[r] = zeros((size_t)C);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < 2; r++) {
            sr[r].other = pass ? rec[1 - r] : NULL;
            memcpy(rm2[r], rm0, sizeof(float) * C);
            memcpy(rv2[r], rv0, sizeof(float) * C);
            batchnorm_forward(o2 + off[r], m2[r], s2[r], x + off[r], g, b, rm2[r], rv2[r], Nr[r], C,
                              L, 1, &sync[r]);
        }
    int calls_ok = sr[0].calls == 2 && sr[1].calls == 2 && sr[0].n == 2 * C + 1;
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < 2; r++) {
            sr[r].other = pass ? rec[1 - r] : NULL;
            memset(dx2 + off[r], 0, sizeof(float) * (r ? n1 : n0));
            memset(dg2[r], 0, sizeof(float) * C);
            memset(db2[r], 0, sizeof(float) * C);
            batchnorm_backward(dx2 + off[r], dg2[r], db2[r], G + off[r], x + off[r], m2[r], s2[r], g,
                               Nr[r], C, L, 1, &sync[r]);
        }
    calls_ok = calls_ok && sr[0].calls == 4 && sr[1].calls == 4 && sr[1].n == 2 * C + 1;
    ok(calls_ok, "sync %d+%d: one allreduce of 2C+1 values per call and rank", N0, N1);
    is_tensor_close(o2, out, n, 1e-5, 1e-5, "sync %d+%d: out", N0, N1);
    int same = 1;
    for (int r = 0; r < 2; r++) {
        same &= is_tensor_close(m2[r], mean, (size_t)C, 1e-6, 1e-5, "  rank %d mean", r);
        same &= is_tensor_close(rm2[r], rm, (size_t)C, 1e-6, 1e-5, "  rank %d running_mean", r);
        same &= is_tensor_close(rv2[r], rv, (size_t)C, 1e-6, 1e-5, "  rank %d running_var", r);
    }
    is_tensor_close(dx2, dx, n, 1e-5, 1e-4, "sync %d+%d: dx", N0, N1);
    // parameter grads are local: their sum over the ranks is the full batch's
    for (int c = 0; c < C; c++) dg2[0][c] += dg2[1][c], db2[0][c] += db2[1][c];
    is_tensor_close(dg2[0], dg, (size_t)C, 1e-5, 1e-5, "sync %d+%d: dgamma summed over ranks", N0, N1);
    is_tensor_close(db2[0], db, (size_t)C, 1e-5, 1e-5, "sync %d+%d: dbeta summed over ranks", N0, N1);
    // and without sync the halves would differ (the test can tell)
    float *o3 = zeros(n1), *m3 = zeros((size_t)C), *s3 = zeros((size_t)C);
    batchnorm_forward(o3, m3, s3, x + n0, g, b, NULL, NULL, N1, C, L, 1, NULL);
    double maxd = 0;
    for (size_t i = 0; i < n1; i++) maxd = fmax(maxd, fabs(o3[i] - out[n0 + i]));
    ok(maxd > 1e-3, "sync %d+%d: an unsynchronised half differs (max %.3g)", N0, N1, maxd);
    (void)same;
    free(x); free(G); free(g); free(b); free(rm0); free(rv0); free(rm); free(rv); free(out);
    free(dx); free(mean); free(rstd); free(dg); free(db); free(o2); free(dx2);
    free(o3); free(m3); free(s3);
    for (int r = 0; r < 2; r++) {
        free(rec[r]); free(rm2[r]); free(rv2[r]); free(m2[r]); free(s2[r]); free(dg2[r]); free(db2[r]);
    }
}

int main(void) {
    plan(3 * 10 + 3 * 6 + 2 * 12);
    check_forward(4, 6, 35, 1);     // BatchNorm2d-like, L = T*V = 7*5
    check_forward(3, 150, 9, 2);    // data_bn: BatchNorm1d over C = M*V*3 = 150, L = T
    check_forward(2, 600, 3, 3);    // C > one chunk of channels
    check_backward(3, 4, 10, 1, 10);
    check_backward(2, 3, 7, 0, 11);
    check_backward(2, 520, 6, 1, 12);   // C > one chunk
    check_sync(2, 2, 5, 12, 20);
    check_sync(1, 3, 7, 6, 21);     // uneven split: the counts must be summed too
    diag("worst gradcheck relative error: %.2e", worst_seen);
    return tap_done();
}
