// bench_eval.c - `make bench-eval`: evaluation throughput of the C CTR-GCN
// backbone on random data of the official shape: batch B, (C 3, T, V 25,
// M 2), 60 classes, base 64 (the official model), random weights
// (ctrgcn_init), inference forward (CTRGCN_INFER mode: running BatchNorm
// statistics, forward-only buffers, nothing saved for backward, no gradient
// buffer; --threads t runs t threads over each batch's samples, with BLAS on
// one thread inside), what cocodiff-eval runs per batch. A few warm-up
// batches, then timed batches.
//
//   build/bench-eval [--batch 16] [--frames 64] [--base 64] [--threads 1]
//                    [--warmup 2] [--batches 8] [--classes 60]
//                    [--roundtrip DIR] [CHECKPOINT.h5]
//
// Parameters are ctrgcn_num_params (trainable floats, what PyTorch's
// sum(p.numel() for p in model.parameters()) counts); running statistics and
// num_batches_tracked counters are reported separately. FLOPs per sample are
// 2 x ctrgcn_forward_macs(m, T) (one multiply-add = 2 flops).
//
// The CoCoDiff module is a training-time head: evaluation runs the backbone
// alone, so a model trained with it must give the same figures.
// --roundtrip DIR shows it: it writes a training checkpoint of this model
// plus a freshly initialised CoCoDiff module (checkpoint_save with the
// module's group, as the trainer writes it), exports the inference
// checkpoint (checkpoint_export), rebuilds the model from that file alone
// (checkpoint_load_model) and compares parameters, buffers, FLOPs
// and the logits of one batch with the in-memory model. A CHECKPOINT.h5
// argument (e.g. an inference checkpoint exported from a real module run) is
// loaded the same way and its figures printed (and the timing then runs on
// it instead of random weights).
// Output: one line per figure and a machine-readable last line
//   bench-eval-c: threads=t samples_s=... params=... buffers=... gflops_per_sample=... rss_mb=...
#include "blas.h"
#include "checkpoint.h"
#include "cocodiff.h"
#include "ctrgcn.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Rng { uint64_t s; } Rng;
static float rng_uniform(Rng *r) {   // [-1, 1)
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((r->s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static int arg_int(int argc, char **argv, const char *name, int def) {
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], name)) return atoi(argv[i + 1]);
    return def;
}
static const char *arg_str(int argc, char **argv, const char *name) {
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], name)) return argv[i + 1];
    return NULL;
}
// The first argument that is neither an option nor an option's value.
static const char *arg_positional(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) { i++; continue; }
        return argv[i];
    }
    return NULL;
}

static void die(const char *what) {
    fprintf(stderr, "bench-eval: %s\n", what);
    exit(1);
}

// Writes model + a CoCoDiff module as a training checkpoint, exports the
// inference checkpoint, reloads it and compares. Returns 0 when everything
// matches.
static int roundtrip(Ctrgcn *m, const char *dir, const float *x, int B, int T, const float *logits) {
    const CtrgcnConfig *cfg = ctrgcn_config(m);
    const int C_last = cfg->width[CTRGCN_UNITS - 1];
    char train_path[1024], infer_path[1024], why[256] = "";
    snprintf(train_path, sizeof train_path, "%s/bench-eval-train.h5", dir);
    snprintf(infer_path, sizeof infer_path, "%s/bench-eval-infer.h5", dir);

    CocodiffConfig cc;
    cocodiff_config_default(&cc);
    Cocodiff *cd = NULL;
    if (cocodiff_create(&cd, &cc, C_last, 512, cfg->num_class)) die("cannot build the CoCoDiff module");
    cocodiff_init(cd, 7);
    CheckpointInfo info = {0};
    info.epoch = 1;
    info.step = 1;
    info.seed = 1;
    snprintf(info.stream, sizeof info.stream, "joint");
    info.config_yaml = "# bench-eval round trip\n";
    // the module's tensors as the trainer writes them (cdtrain_tensor_groups)
    const int nt = cocodiff_num_tensors(cd);
    H5Tensor *ht = calloc((size_t)nt, sizeof *ht);
    if (!ht) die("out of memory");
    for (int i = 0; i < nt; i++) {
        const CocodiffTensor *ct = cocodiff_tensor(cd, i);
        snprintf(ht[i].name, sizeof ht[i].name, "%s", ct->name);
        ht[i].ndim = ct->ndim;
        for (int k = 0; k < ct->ndim; k++) ht[i].shape[k] = ct->shape[k];
        ht[i].numel = ct->numel;
        ht[i].data = cocodiff_params(cd) + ct->offset;
    }
    const H5TensorGroup grp = {"cocodiff", ht, nt};
    if (checkpoint_save(train_path, m, NULL, &info, &grp, 1)) die("checkpoint_save failed");
    free(ht);
    if (checkpoint_export(train_path, infer_path, why, sizeof why)) {
        fprintf(stderr, "bench-eval: checkpoint_export: %s\n", why);
        exit(1);
    }
    Ctrgcn *r = NULL;
    if (checkpoint_load_model(infer_path, &r, NULL, why, sizeof why)) {
        fprintf(stderr, "bench-eval: checkpoint_load_model: %s\n", why);
        exit(1);
    }
    float *lr = malloc((size_t)B * cfg->num_class * sizeof(float));
    if (!lr) die("out of memory");
    if (ctrgcn_forward(r, lr, x, B, T, 0)) die("forward of the reloaded model failed");
    double maxdiff = 0;
    for (size_t i = 0; i < (size_t)B * cfg->num_class; i++) {
        double dv = fabs((double)lr[i] - (double)logits[i]);
        if (dv > maxdiff || isnan(dv)) maxdiff = isnan(dv) ? INFINITY : dv;
    }
    const int same = ctrgcn_num_params(r) == ctrgcn_num_params(m) && ctrgcn_num_buffers(r) == ctrgcn_num_buffers(m) &&
                     ctrgcn_forward_macs(r, T) == ctrgcn_forward_macs(m, T) && maxdiff == 0;
    printf("bench-eval-c | module round trip: training checkpoint with the CoCoDiff module (%zu module params) "
           "-> checkpoint_export -> checkpoint_load_model: %zu params, %zu buffers, %.4f GFLOP/sample, "
           "logits max |diff| %.3g: %s\n",
           cocodiff_num_params(cd), ctrgcn_num_params(r), ctrgcn_num_buffers(r), 2.0 * ctrgcn_forward_macs(r, T) / 1e9,
           maxdiff, same ? "same figures as the backbone" : "DIFFERENT");
    free(lr);
    ctrgcn_free(r);
    cocodiff_free(cd);
    remove(train_path);
    remove(infer_path);
    return same ? 0 : 1;
}

int main(int argc, char **argv) {
    const int B = arg_int(argc, argv, "--batch", 16), T = arg_int(argc, argv, "--frames", 64);
    const int base = arg_int(argc, argv, "--base", 64), threads = arg_int(argc, argv, "--threads", 1);
    const int warmup = arg_int(argc, argv, "--warmup", 2), batches = arg_int(argc, argv, "--batches", 8);
    const int K0 = arg_int(argc, argv, "--classes", 60);
    const char *rt_dir = arg_str(argc, argv, "--roundtrip"), *ckpt = arg_positional(argc, argv);
    if (B < 1 || T < 1 || base < 1 || threads < 1 || warmup < 0 || batches < 1) die("bad arguments");
    blas_set_threads(threads);

    Ctrgcn *m = NULL;
    char why[256] = "";
    if (ckpt) {
        CheckpointInfo info = {0};
        if (checkpoint_load_model(ckpt, &m, &info, why, sizeof why)) {
            fprintf(stderr, "bench-eval: %s: %s\n", ckpt, why);
            return 1;
        }
        printf("bench-eval-c | checkpoint %s (epoch %lld, step %lld, stream '%s'): %zu params, %zu buffers, "
               "%zu counters, %.4f GFLOP/sample at T %d\n",
               ckpt, (long long)info.epoch, (long long)info.step, info.stream, ctrgcn_num_params(m),
               ctrgcn_num_buffers(m), ctrgcn_num_counters(m), 2.0 * ctrgcn_forward_macs(m, T) / 1e9, T);
    } else {
        CtrgcnConfig cfg;
        ctrgcn_config_default(&cfg, K0, skel_layout_find("ntu25"), base);
        if (ctrgcn_create(&m, &cfg)) die("cannot build the model");
        ctrgcn_init(m, 1);
    }
    if (ctrgcn_set_mode(m, CTRGCN_INFER) || ctrgcn_set_threads(m, threads)) die("cannot set up inference mode");
    const CtrgcnConfig *cfg = ctrgcn_config(m);
    const int K = cfg->num_class;
    const size_t sample = (size_t)cfg->in_channels * T * cfg->num_point * cfg->num_person;
    float *x = malloc((size_t)B * sample * sizeof(float));
    float *logits = malloc((size_t)B * K * sizeof(float));
    if (!x || !logits) die("out of memory");
    Rng r = {1234567u};
    for (size_t i = 0; i < (size_t)B * sample; i++) x[i] = rng_uniform(&r);

    double t0 = 0, best = 1e30, tb = 0;
    for (int s = 0; s < warmup + batches; s++) {
        if (s == warmup) t0 = now();
        tb = now();
        if (ctrgcn_forward(m, logits, x, B, T, 0)) die("forward failed");
        tb = now() - tb;
        if (s >= warmup && tb < best) best = tb;
    }
    const double el = now() - t0;
    double sum = 0;
    for (size_t i = 0; i < (size_t)B * K; i++) sum += logits[i];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mb = (double)ru.ru_maxrss / 1024.0;
    const double rate = (double)B * batches / el;
    const double macs = ctrgcn_forward_macs(m, T), gflop = 2.0 * macs / 1e9;

    printf("bench-eval-c | %d thread(s) | batch %d, T %d, V %d, M %d, %d classes, widths %d..%d | %zu params "
           "(+ %zu buffer floats, %zu counters) | %.4f GFLOP/sample (2 x %.4f G MACs)\n",
           threads, B, T, cfg->num_point, cfg->num_person, K, cfg->width[0], cfg->width[CTRGCN_UNITS - 1],
           ctrgcn_num_params(m), ctrgcn_num_buffers(m), ctrgcn_num_counters(m), gflop, macs / 1e9);
    printf("bench-eval-c | %d warm-up + %d timed batches in %.2fs | %.2f samples/s (best batch %.3fs: %.2f samples/s) "
           "| %.1f GFLOP/s | logits sum %.6g | peak RSS %.0f MB\n",
           warmup, batches, el, rate, best, B / best, rate * gflop, sum, rss_mb);
    int rc = 0;
    if (rt_dir) rc = roundtrip(m, rt_dir, x, B, T, logits);
    printf("bench-eval-c: threads=%d samples_s=%.3f params=%zu buffers=%zu gflops_per_sample=%.4f rss_mb=%.0f\n",
           threads, rate, ctrgcn_num_params(m), ctrgcn_num_buffers(m), gflop, rss_mb);
    free(x);
    free(logits);
    ctrgcn_free(m);
    return rc;
}
