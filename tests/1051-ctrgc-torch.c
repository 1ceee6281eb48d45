// 1051-ctrgc-torch.c - CTRGC forward and every gradient against the official
// PyTorch CTR-GCN module (model/ctrgcn.py CTRGC, run in float64), for
// CTRGC(64, 64) and CTRGC(3, 64), N=2, T=8, V=25, A = NTU A[1], alpha = 0.3.
// Data: tests/data/ctrgc/<case>_*.bin from scripts/ref/make_ctrgc_reference.py
// (see tests/data/ctrgc/README.md). x and the upstream gradient G are not
// stored: both sides generate them with the same exact integer hash.
//
// Tolerance: |got - want| <= 1e-5 * max|want| + 1e-5 * |want| per tensor. The
// reference is float64 rounded once, so this bounds our float32 error; the
// largest sums (dw3 over N*T*V = 400 products, dA and dalpha over N*cout*T
// and N*cout*V*V) stay near 1e-6 of the tensor's scale.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "tap/tap.h"

#define DIR "tests/data/ctrgc"
#define REF_MAGIC 20261125
#define N 2
#define T 8
#define V 25

// Reads a reference tensor (magic, version 1, ndim, dims, float32) and checks
// its element count; NULL if the file is absent.
static float *read_bin(const char *cs, const char *name, size_t want_n) {
    char path[256];
    snprintf(path, sizeof path, DIR "/%s_%s.bin", cs, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t h[3], d[8];
    if (fread(h, sizeof(int32_t), 3, f) != 3 || h[0] != REF_MAGIC || h[1] != 1 || h[2] < 0 ||
        h[2] > 8)
        bail("%s: not a version-1 reference tensor (magic %d); HINT: rerun "
             "scripts/ref/make_ctrgc_reference.py", path, (int)h[0]);
    if (fread(d, sizeof(int32_t), (size_t)h[2], f) != (size_t)h[2]) bail("%s: short header", path);
    size_t n = 1;
    for (int k = 0; k < h[2]; k++) n *= (size_t)d[k];
    if (n != want_n) bail("%s: %zu elements, expected %zu", path, n, want_n);
    float *a = malloc(sizeof(float) * (n ? n : 1));
    if (!a || fread(a, sizeof(float), n, f) != n) bail("%s: short data", path);
    fclose(f);
    return a;
}

// The reference script's input: h = k * 2654435761 + seed (mod 2^32), (h >> 8) / 2^23 - 1.
static float *hash_tensor(size_t n, uint32_t seed) {
    float *a = malloc(sizeof(float) * n);
    if (!a) bail("out of memory");
    for (size_t k = 0; k < n; k++) {
        uint32_t h = (uint32_t)k * 2654435761u + seed;
        a[k] = (float)(h >> 8) / 8388608.0f - 1.0f;
    }
    return a;
}

static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

enum { NPARAM = 10 };
static const char *pname[NPARAM] = {"w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4", "A", "alpha"};

// Returns 0 when the case's data is missing (after skipping its checks).
static int run_case(const char *cs, int cin, int cout) {
    const Ctrgc g = {.cin = cin, .cout = cout, .rel = ctrgc_rel_channels(cin)};
    const int rel = g.rel;
    size_t nx = (size_t)N * cin * T * V, no = (size_t)N * cout * T * V;
    size_t sz[NPARAM] = {(size_t)rel * cin, rel, (size_t)rel * cin, rel, (size_t)cout * cin, cout,
                         (size_t)cout * rel, cout, (size_t)V * V, 1};
    float *prm[NPARAM], *want_d[NPARAM], *grad[NPARAM];
    char dname[16];
    int missing = 0;
    for (int k = 0; k < NPARAM; k++) {
        snprintf(dname, sizeof dname, "d%s", pname[k]);
        prm[k] = read_bin(cs, pname[k], sz[k]);
        want_d[k] = read_bin(cs, dname, sz[k]);
        grad[k] = calloc(sz[k], sizeof(float));
        missing |= !prm[k] || !want_d[k];
    }
    float *want_out = read_bin(cs, "out", no), *want_dx = read_bin(cs, "dx", nx);
    if (missing || !want_out || !want_dx) {
        skip(2 + NPARAM, "%s: no reference data: run scripts/ref/make_ctrgc_reference.py", cs);
        return 0;
    }

    float *x = hash_tensor(nx, 1), *G = hash_tensor(no, 2);
    float *out = malloc(sizeof(float) * no), *dx = calloc(nx, sizeof(float));
    float *cache = malloc(sizeof(float) * ctrgc_cache_size(&g, N, T, V));
    float *work = malloc(sizeof(float) * ctrgc_work_size(&g, N, T, V));
    CtrgcParams p = {prm[0], prm[1], prm[2], prm[3], prm[4], prm[5], prm[6], prm[7], prm[8], prm[9]};
    CtrgcGrads dp = {grad[0], grad[1], grad[2], grad[3], grad[4],
                     grad[5], grad[6], grad[7], grad[8], grad[9]};
    ctrgc_forward(&g, out, cache, x, &p, N, T, V, work);
    ctrgc_backward(&g, dx, &dp, G, cache, x, &p, N, T, V, work);

    const double rtol = 1e-5;
    is_tensor_close(out, want_out, no, rtol * maxabs(want_out, no), rtol,
                    "%s: CTRGC(%d, %d) output == torch", cs, cin, cout);
    is_tensor_close(dx, want_dx, nx, rtol * maxabs(want_dx, nx), rtol, "%s: dx == torch", cs);
    for (int k = 0; k < NPARAM; k++)
        is_tensor_close(grad[k], want_d[k], sz[k], rtol * maxabs(want_d[k], sz[k]), rtol,
                        "%s: d%s == torch", cs, pname[k]);

    for (int k = 0; k < NPARAM; k++) free(prm[k]), free(want_d[k]), free(grad[k]);
    free(want_out), free(want_dx), free(x), free(G), free(out), free(dx), free(cache), free(work);
    return 1;
}

int main(void) {
    plan(2 * (2 + NPARAM));
    run_case("c64", 64, 64);
    run_case("c3", 3, 64);
    return tap_done();
}
