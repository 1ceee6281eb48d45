// feeder_ucla.c - CTR-GCN's NW-UCLA feeder transform (feeders/feeder_ucla.py
// Feeder.__getitem__ with rand_view_transform, the bone pairs and motion),
// from a raw float64 sequence (T, 20, 3) to the model's (3, W, 20, 1); see
// feeder_ucla.h for the steps and the numerics.
#include "feeder_ucla.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "ucla.h"

#define P3 (UCLA_V * UCLA_C)   // doubles a frame

int ucla_feeder_config_check(const UclaFeederConfig *f, char *why, size_t whylen) {
    if (f->window >= 1) return CD_OK;
    return cd_why(why, whylen, CD_EARG, "feeder_ucla config: window must be >= 1 (official 52)");
}

// ---------------------------------------------------------------------------
// Draws

void ucla_draws_test(UclaDraws *d, int *idx, int T, int W) {
    // np.linspace(0, T - 1, W): i * step + 0 with step = (T - 1) / (W - 1),
    // the last set to T - 1 exactly; astype(int) truncates. (step == 0 takes
    // numpy's other branch, i / div * 0, which is 0 as well.)
    double step = W > 1 ? (double)(T - 1) / (double)(W - 1) : 0.0;
    for (int i = 0; i < W; i++) idx[i] = (int)((double)i * step + 0.0);
    if (W > 1) idx[W - 1] = T - 1;
    *d = (UclaDraws){.agx = 0, .agy = 0, .s = 1.0, .idx = idx};
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int ucla_draws_train(UclaDraws *d, int *idx, int T, int W, FeederRng *r) {
    int64_t n = (int64_t)T * UCLA_SAMPLE_REPEAT;
    if (T < 1 || W < 1 || W > n) {
        CD_ERR("feeder_ucla: window %d from %d frames: random.sample needs window <= 100 x frames",
               W, T);
        return CD_EARG;
    }
    int64_t *pos = cd_malloc((size_t)W * sizeof *pos);
    if (!pos) return CD_ENOMEM;
    (void)feeder_rng_double(r);   // the official random.random() (its value is unused)
    d->agx = (int)feeder_rng_below(r, 121) - 60;
    d->agy = (int)feeder_rng_below(r, 121) - 60;
    d->s = 0.5 + 1.0 * feeder_rng_double(r);   // random.uniform(a, b) = a + (b - a) * random()
    // W distinct positions of list(range(T)) * 100, uniformly (Floyd's
    // algorithm); position p holds frame p mod T.
    int k = 0;
    for (int64_t j = n - W; j < n; j++) {
        int64_t t = feeder_rng_below(r, j + 1);
        for (int i = 0; i < k; i++)
            if (pos[i] == t) {
                t = j;
                break;
            }
        pos[k++] = t;
    }
    for (int i = 0; i < W; i++) idx[i] = (int)(pos[i] % T);
    free(pos);
    qsort(idx, (size_t)W, sizeof *idx, cmp_int);
    d->idx = idx;
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Transform

// c = a @ b for 3x3 row-major, each entry fma(a2, b2, fma(a1, b1, a0 * b0)).
static void mat3_mul_fma(double c[9], const double a[9], const double b[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            c[i * 3 + j] = fma(a[i * 3 + 2], b[6 + j], fma(a[i * 3 + 1], b[3 + j], a[i * 3] * b[j]));
}

// M = Ry @ (Rx @ S) of rand_view_transform (angles in degrees).
static void view_matrix(double M[9], int agx, int agy, double s) {
    const double deg = M_PI / 180.0;   // math.radians: x * (pi / 180)
    double ax = (double)agx * deg, ay = (double)agy * deg;
    double cx = cos(ax), sx = sin(ax), cy = cos(ay), sy = sin(ay);
    const double rx[9] = {1, 0, 0, 0, cx, sx, 0, -sx, cx};
    const double ry[9] = {cy, 0, -sy, 0, 1, 0, sy, 0, cy};
    const double ss[9] = {s, 0, 0, 0, s, 0, 0, 0, s};
    double rxs[9];
    mat3_mul_fma(rxs, rx, ss);
    mat3_mul_fma(M, ry, rxs);
}

// v (T * 20, 3) in place: centre on joint 2 of frame 0, X @ M, min-max per
// axis to [-1, 1].
static void normalise(double *v, size_t P, const double M[9]) {
    double c0 = v[3], c1 = v[4], c2 = v[5];   // value[0, 1, :]
    double mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t p = 0; p < P; p++) {
        double *x = v + 3 * p;
        double a = x[0] - c0, b = x[1] - c1, c = x[2] - c2;
        for (int j = 0; j < 3; j++) {
            x[j] = fma(c, M[6 + j], fma(b, M[3 + j], a * M[j]));
            if (x[j] < mn[j]) mn[j] = x[j];
            if (x[j] > mx[j]) mx[j] = x[j];
        }
    }
    double den[3] = {mx[0] - mn[0], mx[1] - mn[1], mx[2] - mn[2]};
    for (size_t p = 0; p < P; p++)
        for (int j = 0; j < 3; j++) v[3 * p + j] = (v[3 * p + j] - mn[j]) / den[j] * 2.0 - 1.0;
}

int ucla_feeder_apply(float *out, const double *seq, int T, int W, const UclaDraws *d, int bone,
                      int motion) {
    size_t P = (size_t)T * UCLA_V;
    double *v = cd_malloc((P * 3 + (size_t)W * P3) * sizeof *v);
    if (!v) return CD_ENOMEM;
    double *x = v + P * 3;   // (W, 20, 3)
    memcpy(v, seq, P * 3 * sizeof *v);
    double M[9];
    view_matrix(M, d->agx, d->agy, d->s);
    normalise(v, P, M);
    for (int w = 0; w < W; w++) memcpy(x + (size_t)w * P3, v + (size_t)d->idx[w] * P3, P3 * sizeof *x);
    if (bone) {
        const int *par = ucla_bone_parents();
        for (int w = 0; w < W; w++) {
            double *f = x + (size_t)w * P3, g[P3];
            memcpy(g, f, sizeof g);
            for (int j = 0; j < UCLA_V; j++)
                for (int c = 0; c < UCLA_C; c++) f[j * 3 + c] = g[j * 3 + c] - g[par[j] * 3 + c];
        }
    }
    if (motion) {
        for (int w = 0; w + 1 < W; w++)
            for (int k = 0; k < P3; k++) x[(size_t)w * P3 + k] = x[(size_t)(w + 1) * P3 + k] - x[(size_t)w * P3 + k];
        memset(x + (size_t)(W - 1) * P3, 0, P3 * sizeof *x);
    }
    for (int c = 0; c < UCLA_C; c++)   // (W, 20, 3) -> (3, W, 20, 1)
        for (int w = 0; w < W; w++)
            for (int j = 0; j < UCLA_V; j++)
                out[((size_t)c * W + w) * UCLA_V + j] = (float)x[(size_t)w * P3 + j * 3 + c];
    free(v);
    return CD_OK;
}

int ucla_feeder_transform(const UclaFeederConfig *f, float *out, const double *seq, int T,
                          uint64_t seed, int epoch, int64_t index) {
    char why[160];
    if (ucla_feeder_config_check(f, why, sizeof why) != CD_OK) {
        CD_ERR("%s", why);
        return CD_EARG;
    }
    int *idx = cd_malloc((size_t)f->window * sizeof *idx);
    if (!idx) return CD_ENOMEM;
    UclaDraws d;
    int rc = CD_OK;
    if (f->train) {
        FeederRng r = feeder_rng(seed, epoch, index);
        rc = ucla_draws_train(&d, idx, T, f->window, &r);
    } else {
        ucla_draws_test(&d, idx, T, f->window);
    }
    if (rc == CD_OK) rc = ucla_feeder_apply(out, seq, T, f->window, &d, f->bone, f->motion);
    free(idx);
    return rc;
}

int ucla_feeder_seq_transform(const FeederConfig *f, float *out, const double *seq, int T, uint64_t seed,
                              int epoch, int64_t index) {
    UclaFeederConfig u = {.window = f->window, .train = f->train, .bone = f->stream && f->stream->bone,
                          .motion = f->stream && f->stream->vel};
    return ucla_feeder_transform(&u, out, seq, T, seed, epoch, index);
}
