// bench_embed.c - `make bench-embed`: sentences/s of both text encoders on
// the Kinetics-400 descriptions (2,800 texts), CLIP's effective GFLOP/s with
// a ViT-B/32-sized random model, and the OpenBLAS sgemm peak of this run.
// One BLAS thread throughout (what cocodiff-embed uses). Prints figures and
// ends with one line: bench-embed: glove=... clip=... clip_gflops=...
// sgemm_peak=... fraction=...
#include "blas.h"
#include "clip.h"
#include "descriptions.h"
#include "glove.h"
#include "sif.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double sgemm_peak(int n) {
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.2f; c[i] = 0; }
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t = now();
        blas_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        if (r && t < best) best = t;   // the first run warms up
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

static int words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int w = *s != ' ';
        n += w && !in;
        in = w;
    }
    return n;
}

int main(int argc, char **argv) {
    const char *desc_path = argc > 1 ? argv[1] : "datasets/kinetics400/descriptions.tsv";
    const char *glove_path = argc > 2 ? argv[2] : "datasets/glove/glove-6b-100d-subset.bin";
    blas_set_threads(1);
    char why[512];
    Descriptions *d = NULL;
    Glove *g = NULL;
    if (descriptions_load(desc_path, &d, why, sizeof why) || glove_load(&g, glove_path)) {
        fprintf(stderr, "bench-embed: %s\n", why);
        return 1;
    }
    int n = d->n * 7;
    char **texts = calloc((size_t)n, sizeof *texts), coarse[4096];
    for (int k = 0; k < d->n; k++) {
        texts[k * 7] = strdup(descriptions_coarse(&d->cls[k], coarse, sizeof coarse));
        for (int p = 0; p < 6; p++) texts[k * 7 + 1 + p] = d->cls[k].part[p];
    }
    int D = glove_dim(g);
    float *v = malloc((size_t)n * D * sizeof(float));
    double t = now();
    int reps = 0;
    do {
        for (int i = 0; i < n; i++) sif_embed(g, SIF_A, texts[i], v + (size_t)i * D, NULL, 0);
        reps++;
    } while (now() - t < 1.0);
    double glove_rate = (double)n * reps / (now() - t);
    t = now();
    float u[4096];
    sif_remove_pc(v, n, D, u);
    double pc_ms = 1e3 * (now() - t);
    printf("bench-embed: glove+SIF: %d texts of %s: %.0f sentences/s (principal component over all: %.1f ms)\n", n,
           desc_path, glove_rate, pc_ms);

    // CLIP ViT-B/32 text tower with random weights: vocab 49408, 77 tokens,
    // width 512, 12 layers, 8 heads, projection 512. No vocabulary ships here,
    // so token ids are random with each text's length estimated from its words
    // (1.25 BPE tokens per word, + start and end tokens), as CLIP's BPE gives
    // on plain English.
    ClipText *m = NULL;
    if (clip_text_init_random(&m, 49408, CLIP_CONTEXT, 512, 12, 8, 512, 7) != CD_OK) return 1;
    int ntest = 7 * 40;   // 40 classes, batched per class as cocodiff-embed does
    int32_t *ids = calloc((size_t)ntest * CLIP_CONTEXT, sizeof(int32_t));
    uint64_t s = 12345;
    double tokens = 0;
    for (int i = 0; i < ntest; i++) {
        int len = (int)ceil(1.25 * words(texts[i])) + 2;
        if (len > CLIP_CONTEXT) len = CLIP_CONTEXT;
        tokens += len;
        int32_t *r = ids + (size_t)i * CLIP_CONTEXT;
        r[0] = 49406;
        for (int k = 1; k < len - 1; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            r[k] = (int32_t)((s >> 33) % 49000);
        }
        r[len - 1] = 49407;
    }
    float *out = malloc((size_t)ntest * 512 * sizeof(float));
    clip_text_forward(m, ids, 7, out);   // warm-up
    double flops = clip_text_flops(m, ids, ntest);
    t = now();
    for (int i = 0; i < ntest; i += 7) clip_text_forward(m, ids + (size_t)i * CLIP_CONTEXT, 7, out + (size_t)i * 512);
    double tc = now() - t;
    double clip_rate = ntest / tc, gflops = flops / tc / 1e9;
    t = now();
    clip_text_forward(m, ids, ntest, out);
    double tb = now() - t;
    double peak = sgemm_peak(1024);
    printf("bench-embed: clip (ViT-B/32-sized, random weights): %d texts, %.1f tokens on average\n", ntest, tokens / ntest);
    printf("bench-embed:   batch 7 (one class, as cocodiff-embed): %.1f sentences/s, %.1f GFLOP/s effective\n", clip_rate, gflops);
    printf("bench-embed:   batch %d: %.1f sentences/s, %.1f GFLOP/s effective\n", ntest, ntest / tb, flops / tb / 1e9);
    printf("bench-embed: OpenBLAS sgemm 1024^3 on 1 thread, same run: %.1f GFLOP/s\n", peak);
    printf("bench-embed: target: CLIP >= 50%% of the sgemm peak: %.0f%% -> %s\n", 100 * gflops / peak,
           gflops >= 0.5 * peak ? "met" : "not met");
    printf("bench-embed: glove=%.0f clip=%.1f clip_gflops=%.1f sgemm_peak=%.1f fraction=%.2f\n", glove_rate, clip_rate,
           gflops, peak, gflops / peak);
    clip_text_free(m);
    free(ids); free(out); free(v);
    for (int k = 0; k < d->n; k++) free(texts[k * 7]);
    free(texts);
    glove_free(g);
    descriptions_free(d);
    return 0;
}
