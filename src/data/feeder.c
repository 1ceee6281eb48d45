// feeder.c - CTR-GCN's per-sample feeder transform (feeders/feeder_ntu.py
// Feeder.__getitem__ with tools.valid_crop_resize, tools.random_rot and the
// bone/vel streams), over flat float buffers in the stored (C, T, V, M) layout.
//
// Numerics follow the official code where it is deterministic:
// - valid frames: the float sums over C, then M, then V, tested != 0;
// - crop: computed in double as Python does (p_interval is double for that);
// - resize: torch 1.13 upsample_bilinear2d on CPU (UpSample.h
//   compute_source_index_and_lambda): scale = (float)in / out in float,
//   src = (double)scale * (dst + 0.5) - 0.5 in double, clamped at 0,
//   i0 = (int64)src, i1 = min(i0 + 1, in - 1), l1 = (float)(src - i0),
//   l0 = 1 - l1 (float), out = (float)((double)x[i0] * l0 + (double)x[i1] * l1)
//   (the sum in double, rounded once: bit-equal to torch, checked over 165k
//   values of 14 in/out sizes; float products and sum differ in ~1/3 of
//   them by 1 ulp); in == out copies;
// - rotation: R = Rz * Ry * Rx with tools._rot's rows, products and sums in
//   float (bit-equal to torch given its cos/sin; glibc cosf/sinf may differ
//   from torch's by 1 ulp).
// The random numbers (p, bias, angles) come from FeederRng, not torch/numpy.
#include "feeder.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------------------
// RNG: splitmix64's finaliser over (key, counter).

#define GOLDEN 0x9e3779b97f4a7c15ULL

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

FeederRng feeder_rng(uint64_t seed, int epoch, int64_t index) {
    uint64_t k = mix64(seed ^ 0x6665656465722d31ULL);          // "feeder-1"
    k = mix64(k + GOLDEN * ((uint64_t)(int64_t)epoch + 1));
    k = mix64(k ^ (GOLDEN * 0x2545f4914f6cdd1dULL * ((uint64_t)index + 1)));
    return (FeederRng){k, 0};
}

uint64_t feeder_rng_u64(FeederRng *r) { return mix64(r->key + GOLDEN * ++r->counter); }

double feeder_rng_double(FeederRng *r) {
    return (double)(feeder_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

float feeder_rng_float(FeederRng *r) { return (float)(feeder_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

int64_t feeder_rng_below(FeederRng *r, int64_t n) {
    if (n <= 1) return 0;
    // Rejection keeps it exactly uniform (at most one retry in practice).
    uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un;
    uint64_t x;
    do x = feeder_rng_u64(r);
    while (x >= lim);
    return (int64_t)(x % un);
}

// ---------------------------------------------------------------------------
// Config.

FeederConfig feeder_config_official(const SkelLayout *layout, int train, const Stream *stream) {
    FeederConfig f = {.window = layout && layout->window > 0 ? layout->window : 64, .rot_theta = 0.3f,
                      .stream = stream, .layout = layout, .train = train, .repeat = 1};
    if (train) {
        f.p_interval[0] = 0.5;
        f.p_interval[1] = 1.0;
        f.n_interval = 2;
        f.random_rot = 1;
    } else {
        f.p_interval[0] = f.p_interval[1] = 0.95;
        f.n_interval = 1;
    }
    return f;
}

int feeder_config_check(const FeederConfig *f, int C, int V, char *why, size_t whylen) {
    const char *bad = NULL;
    char buf[160];
    if (f->window < 1) bad = "window must be >= 1";
    else if (f->repeat < 0) bad = "repeat must be >= 1";
    else if (f->n_interval != 1 && f->n_interval != 2) bad = "p_interval must hold 1 or 2 values";
    else if (!(f->p_interval[0] > 0 && f->p_interval[0] <= 1) ||
             (f->n_interval == 2 && !(f->p_interval[1] >= f->p_interval[0] && f->p_interval[1] <= 1)))
        bad = "p_interval values must lie in (0, 1], ascending";
    else if (f->random_rot && (C != 3 || !(f->rot_theta >= 0)))
        bad = "random_rot needs C == 3 and rot_theta >= 0";
    else if (f->stream && f->stream->bone && (!f->layout || f->layout->V > SKEL_MAX_V))
        bad = "bone needs a known layout";
    else if (f->stream && f->stream->bone && f->layout->V != V) {
        snprintf(buf, sizeof buf, "bone: layout %s has %d joints, the data %d", f->layout->name, f->layout->V, V);
        bad = buf;
    }
    if (!bad) return CD_OK;
    if (why && whylen) snprintf(why, whylen, "feeder config: %s", bad);
    return CD_EARG;
}

// ---------------------------------------------------------------------------
// Valid frames, crop, resize.

int feeder_valid_frames(const float *x, int C, int T, int V, int M) {
    size_t VM = (size_t)V * M, CT = (size_t)T * VM;
    int valid = 0;
    for (int t = 0; t < T; t++) {
        float sv = 0;
        for (int v = 0; v < V; v++) {
            float sm = 0;
            for (int m = 0; m < M; m++) {
                size_t o = (size_t)t * VM + (size_t)v * M + m;
                float sc = x[o];
                for (int c = 1; c < C; c++) sc += x[(size_t)c * CT + o];
                sm += sc;
            }
            sv += sm;
        }
        valid += sv != 0;
    }
    return valid;
}

void feeder_crop(const FeederConfig *f, int valid, FeederRng *r, int *bias, int *len) {
    if (f->n_interval == 1) {
        // bias = int((1 - p) * valid_size / 2), evaluated left to right.
        int b = (int)((1.0 - f->p_interval[0]) * (double)valid / 2.0);
        *bias = b;
        *len = valid - 2 * b;
        return;
    }
    double p = feeder_rng_double(r) * (f->p_interval[1] - f->p_interval[0]) + f->p_interval[0];
    int n = (int)floor((double)valid * p);
    if (n < FEEDER_MIN_CROP) n = FEEDER_MIN_CROP;
    if (n > valid) n = valid;
    *len = n;
    *bias = (int)feeder_rng_below(r, (int64_t)(valid - n) + 1);
}

void feeder_resize(float *out, const float *x, int C, int T, int V, int M, int t0, int len,
                   int window) {
    size_t VM = (size_t)V * M;
    if (len == window) {
        for (int c = 0; c < C; c++)
            memcpy(out + (size_t)c * window * VM, x + ((size_t)c * T + t0) * VM,
                   (size_t)len * VM * sizeof(float));
        return;
    }
    float scale = (float)len / (float)window;
    for (int w = 0; w < window; w++) {
        double src = (double)scale * ((double)w + 0.5) - 0.5;
        if (src < 0) src = 0;
        int i0 = (int)src;
        int i1 = i0 + (i0 < len - 1 ? 1 : 0);
        float l1 = (float)(src - i0), l0 = 1.0f - l1;
        for (int c = 0; c < C; c++) {
            const float *a = x + ((size_t)c * T + t0 + i0) * VM;
            const float *b = x + ((size_t)c * T + t0 + i1) * VM;
            float *o = out + ((size_t)c * window + w) * VM;
            for (size_t k = 0; k < VM; k++) o[k] = (float)((double)a[k] * l0 + (double)b[k] * l1);
        }
    }
}

// ---------------------------------------------------------------------------
// Rotation, bone, vel.

static void mat3_mul(float out[9], const float a[9], const float b[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[i * 3 + j] = a[i * 3 + 0] * b[0 * 3 + j] + a[i * 3 + 1] * b[1 * 3 + j] +
                             a[i * 3 + 2] * b[2 * 3 + j];
}

void feeder_rot_matrix(float R[9], const float angles[3]) {
    float cx = cosf(angles[0]), sx = sinf(angles[0]);
    float cy = cosf(angles[1]), sy = sinf(angles[1]);
    float cz = cosf(angles[2]), sz = sinf(angles[2]);
    const float rx[9] = {1, 0, 0, 0, cx, sx, 0, -sx, cx};
    const float ry[9] = {cy, 0, -sy, 0, 1, 0, sy, 0, cy};
    const float rz[9] = {cz, sz, 0, -sz, cz, 0, 0, 0, 1};
    float rzy[9];
    mat3_mul(rzy, rz, ry);
    mat3_mul(R, rzy, rx);
}

// x: (3, T, V, M) in place: x[:, t, v, m] = R x[:, t, v, m].
static void rotate(float *x, int T, size_t VM, const float R[9]) {
    size_t n = (size_t)T * VM;
    float *x0 = x, *x1 = x + n, *x2 = x + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float a = x0[i], b = x1[i], c = x2[i];
        x0[i] = R[0] * a + R[1] * b + R[2] * c;
        x1[i] = R[3] * a + R[4] * b + R[5] * c;
        x2[i] = R[6] * a + R[7] * b + R[8] * c;
    }
}

// x: (C, T, V, M) in place; V <= SKEL_MAX_V (checked by feeder_config_check).
static void bone(float *x, int C, int T, int V, int M, const int *parent) {
    float row[SKEL_MAX_V * 8];
    size_t VM = (size_t)V * M;
    for (size_t ct = 0; ct < (size_t)C * T; ct++) {
        float *r = x + ct * VM;
        for (int m0 = 0; m0 < M; m0 += 8) {
            int mn = M - m0 < 8 ? M - m0 : 8;
            for (int v = 0; v < V; v++)
                for (int m = 0; m < mn; m++) row[v * 8 + m] = r[(size_t)v * M + m0 + m];
            for (int v = 0; v < V; v++)
                for (int m = 0; m < mn; m++)
                    r[(size_t)v * M + m0 + m] = row[v * 8 + m] - row[parent[v] * 8 + m];
        }
    }
}

// x: (C, T, V, M) in place: x[t] = x[t+1] - x[t], x[T-1] = 0.
static void vel(float *x, int C, int T, size_t VM) {
    for (int c = 0; c < C; c++) {
        float *xc = x + (size_t)c * T * VM;
        for (int t = 0; t + 1 < T; t++) {
            float *a = xc + (size_t)t * VM, *b = a + VM;
            for (size_t k = 0; k < VM; k++) a[k] = b[k] - a[k];
        }
        memset(xc + (size_t)(T - 1) * VM, 0, VM * sizeof(float));
    }
}

// ---------------------------------------------------------------------------
// The transform.

// Counter slot of the rotation angles: the crop uses the first draws, so
// the angles do not depend on the crop mode.
#define ROT_COUNTER 16

int feeder_transform(const FeederConfig *f, float *out, const float *x, int C, int T, int V,
                     int M, uint64_t seed, int epoch, int64_t index) {
    char why[200];
    if (feeder_config_check(f, C, V, why, sizeof why) != CD_OK) {
        CD_ERR("%s", why);
        return CD_EARG;
    }
    size_t VM = (size_t)V * M;
    int W = f->window;
    int valid = feeder_valid_frames(x, C, T, V, M);
    if (valid == 0) {
        memset(out, 0, (size_t)C * W * VM * sizeof(float));
        return CD_OK;
    }
    FeederRng r = feeder_rng(seed, epoch, index);
    int bias, len;
    feeder_crop(f, valid, &r, &bias, &len);
    feeder_resize(out, x, C, T, V, M, bias, len, W);
    if (f->random_rot) {
        r.counter = ROT_COUNTER;
        float ang[3], R[9];
        for (int k = 0; k < 3; k++)
            ang[k] = -f->rot_theta + feeder_rng_float(&r) * (2.0f * f->rot_theta);
        feeder_rot_matrix(R, ang);
        rotate(out, W, VM, R);
    }
    // the stream's steps (stream.h), in this order
    const Stream *s = f->stream;
    if (s && s->bone) bone(out, C, W, V, M, f->layout->bone_parent);
    if (s && s->vel) vel(out, C, W, VM);
    return CD_OK;
}
