// 2100-feeder.c - the feeder transform (src/data/feeder.c) against CTR-GCN's
// official test-split Feeder (tests/data/feeder, made by
// scripts/ref/make_feeder_reference.py: valid_crop_resize with p_interval
// [0.95], window 64, then bone / vel, on samples of 40, 64, 150 and 300 valid
// frames; and tools._rot of 8 angle triples). Also: the valid-frame count,
// the crop arithmetic, the OpenPose bone pairs, and the random path:
// determinism per (seed, epoch, index), crop-length bounds and distribution,
// and that rotation keeps bone lengths.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeder.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

#define DIR "tests/data/feeder"
#define REF_MAGIC 20261125
#define REF_VERSION 1
// The brief's bound. Values are O(1); the resize follows torch's arithmetic
// (bit-equal), bone/vel are single float subtractions as numpy does them, so
// the outputs match exactly; the rotation matrix differs by <= 1 ulp where
// glibc's cosf/sinf and torch's disagree.
#define ATOL 1e-6
#define RTOL 1e-5

enum { C = SKEL_C, T = SKEL_T, V = NTU_V, M = SKEL_M, W = 64 };
#define NS ((size_t)C * W * V * M)

static float *read_ref(const char *name, int ndim, const int *want_dims) {
    char path[256];
    snprintf(path, sizeof path, DIR "/%s", name);
    size_t len;
    char *buf = tap_slurp(path, &len);
    if (!buf) bail("%s: missing (HINT: scripts/ref/make_feeder_reference.py)", path);
    int32_t h[3 + 8];
    size_t hl = (size_t)(3 + ndim) * 4, n = 1;
    if (len < hl) bail("%s: short file", path);
    memcpy(h, buf, hl);
    if (h[0] != REF_MAGIC || h[1] != REF_VERSION || h[2] != ndim) bail("%s: bad header", path);
    for (int i = 0; i < ndim; i++) {
        if (want_dims[i] >= 0 && h[3 + i] != want_dims[i]) bail("%s: dim %d is %d", path, i, h[3 + i]);
        n *= (size_t)h[3 + i];
    }
    if (len != hl + 4 * n) bail("%s: size %zu, want %zu", path, len, hl + 4 * n);
    float *d = malloc(4 * n);
    memcpy(d, buf + hl, 4 * n);
    free(buf);
    return d;
}

static double max_abs_diff(const float *a, const float *b, size_t n, size_t *nbits) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m) m = d;
        if (memcmp(&a[i], &b[i], 4) != 0) ++*nbits;
    }
    return m;
}

// (C, T, V, M) with frames [0, L) random in [-1, 1), the rest zero.
static void fill(float *x, int L, unsigned seed) {
    FeederRng r = feeder_rng(seed, 0, 0);
    memset(x, 0, sizeof(float) * C * T * V * M);
    for (int c = 0; c < C; c++)
        for (int t = 0; t < L; t++)
            for (int k = 0; k < V * M; k++)
                x[((size_t)c * T + t) * V * M + k] = 2 * feeder_rng_float(&r) - 1;
}

// ---------------------------------------------------------------------------

static void test_valid_frames(float *x) {
    fill(x, 10, 1);
    size_t VM = (size_t)V * M;
    for (int c = 0; c < C; c++) memset(x + ((size_t)c * T + 5) * VM, 0, VM * sizeof(float));
    for (int c = 0; c < C; c++) memset(x + ((size_t)c * T + 7) * VM, 0, VM * sizeof(float));
    x[7 * VM + 3] = 1.0f;                       // frame 7: +1 and -1 sum to 0
    x[((size_t)2 * T + 7) * VM + 9] = -1.0f;
    is_int(8, feeder_valid_frames(x, C, T, V, M),
           "valid frames count frames whose sum is non-zero (a zero-sum frame is not valid)");
    memset(x, 0, sizeof(float) * C * T * V * M);
    is_int(0, feeder_valid_frames(x, C, T, V, M), "an all-zero sample has no valid frame");
}

static void test_crop_arith(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 0, stream_of(0, 0));
    int b, len, okc = 1;
    // Python: int((1 - 0.95) * 40 / 2) = int(1.0000000000000009) = 1.
    const int valid[] = {40, 64, 150, 300, 1, 19, 20, 21}, want[] = {1, 1, 3, 7, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) {
        feeder_crop(&f, valid[i], NULL, &b, &len);
        if (b != want[i] || len != valid[i] - 2 * want[i]) {
            diag("valid %d: bias %d len %d, want bias %d", valid[i], b, len, want[i]);
            okc = 0;
        }
    }
    ok(okc, "test-mode centre crop: bias = int((1 - p) * valid / 2) as Python computes it");
}

static void test_reference(float *x, float *out) {
    const int Ls[4] = {40, 64, 150, 300};
    const char *streams[4] = {"joint", "bone", "vel", "bonevel"};
    double worst = 0;
    size_t nbits = 0, total = 0;
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "input_L%03d.bin", Ls[i]);
        float *in = read_ref(name, 4, (const int[]){C, Ls[i], V, M});
        memset(x, 0, sizeof(float) * C * T * V * M);
        for (int c = 0; c < C; c++)
            memcpy(x + (size_t)c * T * V * M, in + (size_t)c * Ls[i] * V * M,
                   sizeof(float) * Ls[i] * V * M);
        free(in);
        is_int(Ls[i], feeder_valid_frames(x, C, T, V, M), "L%03d: valid frames", Ls[i]);
        for (int s = 0; s < 4; s++) {
            FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 0, stream_of(s & 1, s >> 1));
            snprintf(name, sizeof name, "%s_L%03d.bin", streams[s], Ls[i]);
            float *want = read_ref(name, 4, (const int[]){C, W, V, M});
            int rc = feeder_transform(&f, out, x, C, T, V, M, 7, 0, i);
            size_t nb = 0;
            double d = max_abs_diff(out, want, NS, &nb);
            if (d > worst) worst = d;
            nbits += nb;
            total += NS;
            if (rc != CD_OK) diag("feeder_transform: %s", cd_status_str(rc));
            is_tensor_close(out, want, NS, ATOL, RTOL,
                            "L%03d %s: official Feeder (test split, window 64) max |diff| %.3g, "
                            "%zu of %zu not bit-equal", Ls[i], streams[s], d, nb, NS);
            free(want);
        }
    }
    diag("vs the official feeder: max |diff| %.3g over %zu values, %zu not bit-equal", worst,
         total, nbits);
}

static void test_rot_reference(void) {
    float *ang = read_ref("rot_angles.bin", 2, (const int[]){-1, 3});
    float *want = read_ref("rot_matrix.bin", 3, (const int[]){8, 3, 3});
    float got[8 * 9];
    for (int k = 0; k < 8; k++) feeder_rot_matrix(got + 9 * k, ang + 3 * k);
    size_t nb = 0;
    double d = max_abs_diff(got, want, 72, &nb);
    is_tensor_close(got, want, 72, ATOL, RTOL, "rotation matrix = official tools._rot (Rz Ry Rx), "
                    "max |diff| %.3g, %zu of 72 not bit-equal", d, nb);
    free(ang);
    free(want);
}

static void test_random_path(float *x, float *a, float *b) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    fill(x, 200, 2);
    feeder_transform(&f, a, x, C, T, V, M, 42, 3, 17);
    feeder_transform(&f, b, x, C, T, V, M, 42, 3, 17);
    is_tensor_equal(a, b, NS, "train path: same (seed, epoch, index) gives the same tensor");
    int differ = 1;
    const uint64_t seeds[3] = {42, 42, 43};
    const int epochs[3] = {3, 4, 3};
    const int64_t idx[3] = {18, 17, 17};
    for (int k = 0; k < 3; k++) {
        feeder_transform(&f, b, x, C, T, V, M, seeds[k], epochs[k], idx[k]);
        if (memcmp(a, b, NS * sizeof(float)) == 0) differ = 0;
    }
    ok(differ, "train path: another index, epoch or seed gives another tensor");

    // Crop bounds and distribution.
    const int valid[] = {1, 10, 40, 63, 64, 65, 100, 128, 129, 300};
    int bounds = 1;
    for (int i = 0; i < 10; i++)
        for (int e = 0; e < 2000; e++) {
            FeederRng r = feeder_rng(5, e, i);
            int bias, len, v = valid[i], lo = v < FEEDER_MIN_CROP ? v : FEEDER_MIN_CROP;
            feeder_crop(&f, v, &r, &bias, &len);
            int lo2 = (int)floor(v * 0.5) > lo ? (int)floor(v * 0.5) : lo;
            if (len < lo2 || len > v || bias < 0 || bias + len > v) {
                if (bounds) diag("valid %d: bias %d len %d", v, bias, len);
                bounds = 0;
            }
        }
    ok(bounds, "train crop: max(min(64, valid), floor(valid/2)) <= len <= valid, inside [0, valid)");
    double sum_len = 0, sum_bias = 0;
    int nb0 = 0, nbmax = 0, N = 20000, nrange = 0;
    for (int e = 0; e < N; e++) {
        FeederRng r = feeder_rng(9, e, 1);
        int bias, len;
        feeder_crop(&f, 300, &r, &bias, &len);
        sum_len += len;
        if (len < 300) sum_bias += (double)bias / (300 - len), nrange++;
        nb0 += bias == 0;
        nbmax += bias == 300 - len;
    }
    // floor(300 p), p ~ U[0.5, 1]: mean 224.5, sd ~43 -> the mean of 20000 is
    // within 1 of it with probability > 0.999. bias / (300 - len), uniform
    // over {0, 1/k, ..., 1}, has mean 0.5 (sd of the mean ~0.0025).
    diag("valid 300: mean crop %.2f (want 224.5), mean bias/(valid-len) %.4f (want 0.5)",
         sum_len / N, sum_bias / nrange);
    ok(fabs(sum_len / N - 224.5) < 1.0 && fabs(sum_bias / nrange - 0.5) < 0.01 && nb0 > 0 && nbmax > 0,
       "train crop: p ~ U[0.5, 1] and bias uniform over [0, valid - len]");

    FeederRng r = feeder_rng(1, 0, 0);
    double s = 0, lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        float u = feeder_rng_float(&r);
        s += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    ok(fabs(s / 100000 - 0.5) < 0.005 && lo >= 0 && lo < 0.001 && hi < 1 && hi > 0.999,
       "rng: uniform floats in [0, 1) (mean %.4f, min %.2g, max %.6f)", s / 100000, lo, hi);
}

static double bone_len(const float *y, int t, int v, int p, int m) {
    double s = 0;
    for (int c = 0; c < C; c++) {
        double d = y[(((size_t)c * W + t) * V + v) * M + m] - y[(((size_t)c * W + t) * V + p) * M + m];
        s += d * d;
    }
    return sqrt(s);
}

static void test_rotation(float *x, float *a, float *b) {
    // valid 64: every train crop is the whole sample, so only the rotation differs.
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0)), g = f;
    g.random_rot = 0;
    fill(x, 64, 3);
    const int *par = skel_layout_find("ntu25")->bone_parent;
    double worst = 0;
    int changed = 0;
    for (int idx = 0; idx < 20; idx++) {
        feeder_transform(&f, a, x, C, T, V, M, 11, 0, idx);
        feeder_transform(&g, b, x, C, T, V, M, 11, 0, idx);
        changed += memcmp(a, b, NS * sizeof(float)) != 0;
        for (int t = 0; t < W; t++)
            for (int v = 0; v < V; v++)
                for (int m = 0; m < M; m++) {
                    double la = bone_len(a, t, v, par[v], m), lb = bone_len(b, t, v, par[v], m);
                    double d = fabs(la - lb) / (lb > 1e-3 ? lb : 1e-3);
                    if (d > worst) worst = d;
                }
    }
    ok(changed == 20 && worst < 1e-5,
       "random rotation keeps every bone length (max rel change %.2g over 20 samples)", worst);
    float R[9], ang[3] = {0.3f, -0.3f, 0.2f};
    feeder_rot_matrix(R, ang);
    double e = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += (double)R[i * 3 + k] * R[j * 3 + k];
            e = fmax(e, fabs(s - (i == j)));
        }
    ok(e < 1e-6, "rotation matrix is orthonormal (|R R^T - I| %.2g)", e);
}

static void test_openpose_bone(void) {
    // OpenPose 18 edges (child, parent) of docs/data-conventions.md; centre 1.
    static const int edges[17][2] = {{4, 3},  {3, 2},  {7, 6},   {6, 5},   {13, 12}, {12, 11},
                                     {10, 9}, {9, 8},  {11, 5},  {8, 2},   {5, 1},   {2, 1},
                                     {0, 1},  {15, 0}, {14, 0},  {17, 15}, {16, 14}};
    enum { KV = KINETICS_V, KT = 300, KW = 20 };
    float *x = calloc((size_t)C * KT * KV * M, sizeof(float));
    float *out = malloc(sizeof(float) * C * KW * KV * M), *want = calloc((size_t)C * KW * KV * M, sizeof(float));
    FeederRng r = feeder_rng(4, 0, 0);
    for (int c = 0; c < C; c++)
        for (int t = 0; t < KW; t++)
            for (int k = 0; k < KV * M; k++) x[((size_t)c * KT + t) * KV * M + k] = feeder_rng_float(&r) + 0.1f;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < KW; t++)
            for (int e = 0; e < 17; e++)
                for (int m = 0; m < M; m++) {
                    size_t o = (size_t)c * KT + t, w = (size_t)c * KW + t;
                    want[(w * KV + edges[e][0]) * M + m] =
                        x[(o * KV + edges[e][0]) * M + m] - x[(o * KV + edges[e][1]) * M + m];
                }
    // p = 1, window = valid frames: the crop is the whole sample, a copy.
    FeederConfig f = {.window = KW, .p_interval = {1.0, 1.0}, .n_interval = 1, .stream = stream_find("bone"),
                      .layout = skel_layout_find("openpose18")};
    int rc = feeder_transform(&f, out, x, C, KT, KV, M, 0, 0, 0);
    if (rc != CD_OK) diag("feeder_transform: %s", cd_status_str(rc));
    is_tensor_equal(out, want, (size_t)C * KW * KV * M,
                    "OpenPose 18 bone: joint - parent over the 17 edges, centre joint 1 zero");
    char why[200] = "";
    f.layout = skel_layout_find("ntu25");
    rc = feeder_config_check(&f, C, KV, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "25 joints"), "bone with a layout that does not fit V is refused (%s)", why);
    free(x);
    free(out);
    free(want);
}

static void test_empty(float *x, float *out) {
    memset(x, 0, sizeof(float) * C * T * V * M);
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(1, 1));
    for (size_t i = 0; i < NS; i++) out[i] = 1;
    int rc = feeder_transform(&f, out, x, C, T, V, M, 0, 0, 0);
    int zero = 1;
    for (size_t i = 0; i < NS; i++) zero &= out[i] == 0;
    ok(rc == CD_OK && zero, "a sample without valid frames gives zeros");
}

int main(void) {
    plan(34);
    float *x = malloc(sizeof(float) * C * T * V * M), *a = malloc(NS * sizeof(float)),
          *b = malloc(NS * sizeof(float));
    test_valid_frames(x);              // 2
    test_crop_arith();                 // 1
    test_reference(x, a);              // 4 + 16
    test_rot_reference();              // 1
    test_random_path(x, a, b);         // 5
    test_rotation(x, a, b);            // 2
    test_openpose_bone();              // 2
    test_empty(x, a);                  // 1  -> 34
    free(x);
    free(a);
    free(b);
    return tap_done();
}
