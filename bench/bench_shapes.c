// bench_shapes.c - `make bench-shapes`: what OpenBLAS's sgemm reaches at the
// GEMM shapes a CTR-GCN training step is made of, and the machine's stream
// bandwidth, next to the 1024^3 sgemm peak of the same run. It is the
// yardstick the profile (make bench-train PROFILE=1) is read against in
// docs/performance.md: a row at 30 GFLOP/s is near its bound if sgemm itself
// reaches 32 at that shape, far from it if sgemm reaches 60.
//
//   build/bench-shapes [--frames 64] [--base 64] [--rounds 3]
//
// Shapes (row-major, per sample as src/model/layer_conv.c and layer_ctrgc.c
// call them; C the unit's channels at each of the three widths, TV its T V):
//   conv3 fwd   (3C, C) @ (C, TV)          the three CTRGC subsets in one GEMM
//   conv3 dW    (3C, TV) @ (TV, C)^T
//   conv3 dx    (3C, C)^T @ (3C, TV)
//   1x1 fwd     (C/4, C) @ (C, TV)         one temporal branch's 1x1 conv
//   1x1 dx      (C/4, C)^T @ (C/4, TV)
//   tconv tap   (C/4, C/4) @ (C/4, TV)     one tap of a 5x1 temporal conv
//   conv4 fwd   (C, C/8) @ (C/8, V V)      the topology's 1x1 conv
//   einsum      (T, V) @ (V, V)^T          one channel's graph contraction
// and, for the memory-bound passes, copy (b = a) and triad (a = b + s c) over
// 64 MiB arrays, in GB/s (bytes read + written).
// Each figure is the best of --rounds rounds; the rounds interleave every
// shape, the peak and the stream passes, so a loaded machine weighs on all
// of them alike. One thread (OPENBLAS_NUM_THREADS=1 from the Makefile).
// Last line:
//   bench-shapes: peak=<GFLOP/s> <shape>_<C>=<GFLOP/s> ... copy_gbs=... triad_gbs=...
#include "blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Shape {
    const char *name;
    int ta, tb, M, N, K;
    int reps;
    double best;   // GFLOP/s
} Shape;

static float *frand_buf(size_t n) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench-shapes: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % 13) * 0.05f - 0.3f;
    return p;
}

// GFLOP/s of reps calls of one shape (after one warm-up call)
static double time_gemm(const Shape *s, const float *a, const float *b, float *c) {
    const int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    blas_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, a, lda, b, ldb, 0.0f, c, s->N);
    double t = wtime();
    for (int r = 0; r < s->reps; r++)
        blas_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, a, lda, b, ldb, 1.0f, c, s->N);
    t = wtime() - t;
    return 2.0 * s->M * (double)s->N * s->K * s->reps / t / 1e9;
}

// GB/s of copy (8 bytes per float moved) and triad (12)
static void time_stream(float *a, float *b, float *c, size_t n, double *copy, double *triad) {
    double t = wtime();
    for (int r = 0; r < 4; r++) memcpy(b, a, n * sizeof(float));
    t = wtime() - t;
    if (8.0 * n * 4 / t / 1e9 > *copy) *copy = 8.0 * n * 4 / t / 1e9;
    t = wtime();
    for (int r = 0; r < 4; r++)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
    t = wtime() - t;
    if (12.0 * n * 4 / t / 1e9 > *triad) *triad = 12.0 * n * 4 / t / 1e9;
}

int main(int argc, char **argv) {
    int T = 64, base = 64, rounds = 3, V = 25;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--frames")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--base")) base = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench-shapes [--frames 64] [--base 64] [--rounds 3]\n");
            return 2;
        }
    }
    if (T < 4 || base < 8 || rounds < 1) {
        fprintf(stderr, "bench-shapes: --frames >= 4, --base >= 8, --rounds >= 1\n");
        return 2;
    }
    enum { NW = 3, PER = 8 };
    Shape sh[1 + NW * PER];
    char names[NW * PER][32];
    int ns = 0;
    sh[ns++] = (Shape){"peak", 0, 0, 1024, 1024, 1024, 2, 0};
    for (int w = 0; w < NW; w++) {   // C 64, 128, 256 at T, T/2, T/4
        const int C = base << w, TV = (T >> w) * V, q = C / 4, rel = C / 8;
        const Shape s[PER] = {
            {"conv3_fwd", 0, 0, 3 * C, TV, C, 0, 0}, {"conv3_dw", 0, 1, 3 * C, C, TV, 0, 0},
            {"conv3_dx", 1, 0, C, TV, 3 * C, 0, 0},  {"b1x1_fwd", 0, 0, q, TV, C, 0, 0},
            {"b1x1_dx", 1, 0, C, TV, q, 0, 0},       {"tconv_tap", 0, 0, q, TV, q, 0, 0},
            {"conv4_fwd", 0, 0, C, V * V, rel, 0, 0}, {"einsum", 0, 1, T >> w, V, V, 0, 0},
        };
        for (int k = 0; k < PER; k++) {
            snprintf(names[w * PER + k], sizeof names[0], "%s_%d", s[k].name, C);
            sh[ns] = s[k];
            sh[ns].name = names[w * PER + k];
            const double flops = 2.0 * s[k].M * (double)s[k].N * s[k].K;
            sh[ns].reps = (int)(2e8 / flops) + 1;   // ~10 ms at 20 GFLOP/s
            ns++;
        }
    }
    size_t maxa = 0, maxb = 0, maxc = 0;
    for (int i = 0; i < ns; i++) {
        size_t a = (size_t)sh[i].M * sh[i].K, b = (size_t)sh[i].K * sh[i].N, c = (size_t)sh[i].M * sh[i].N;
        if (a > maxa) maxa = a;
        if (b > maxb) maxb = b;
        if (c > maxc) maxc = c;
    }
    float *a = frand_buf(maxa), *b = frand_buf(maxb), *c = frand_buf(maxc);
    const size_t ns_floats = (size_t)16 << 20;   // 64 MiB per stream array
    float *sa = frand_buf(ns_floats), *sb = frand_buf(ns_floats), *sc = frand_buf(ns_floats);
    double copy = 0, triad = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < ns; i++) {
            double g = time_gemm(&sh[i], a, b, c);
            if (g > sh[i].best) sh[i].best = g;
        }
        time_stream(sa, sb, sc, ns_floats, &copy, &triad);
    }
    const double peak = sh[0].best;
    printf("bench-shapes | T %d, V %d, base %d, 1 thread, best of %d interleaved rounds\n", T, V, base, rounds);
    printf("bench-shapes | %-18s %5s %5s %5s %8s %7s\n", "shape", "M", "N", "K", "GFLOP/s", "of peak");
    for (int i = 0; i < ns; i++)
        printf("bench-shapes | %-18s %5d %5d %5d %8.1f %6.0f%%\n", sh[i].name, sh[i].M, sh[i].N, sh[i].K, sh[i].best,
               100.0 * sh[i].best / peak);
    printf("bench-shapes | stream (64 MiB arrays): copy %.1f GB/s, triad %.1f GB/s\n", copy, triad);
    printf("bench-shapes: peak=%.2f", peak);
    for (int i = 1; i < ns; i++) printf(" %s=%.2f", sh[i].name, sh[i].best);
    printf(" copy_gbs=%.2f triad_gbs=%.2f\n", copy, triad);
    free(a), free(b), free(c), free(sa), free(sb), free(sc);
    return 0;
}
