// bench_train.c - `make bench-train`: training throughput of the C CTR-GCN on
// random data of the official shape: batch B (global, split over the ranks),
// (C 3, T, V 25, M 2), 60 classes, base 64 (the official model), joint stream;
// --layout ucla20 --classes 10 --frames 52 gives NW-UCLA's (V 20, M 1: the
// layout's persons).
// One step is what cocodiff-train does (src/train/train.c): forward (training
// mode, BatchNorm statistics synchronised across ranks), cross-entropy,
// backward, the gradient all-reduce (when ranks > 1: buckets of --bucket-mb
// MiB started during backward, as cocodiff.bucket_mb does, or with
// --bucket-mb 0 one blocking MPI_Allreduce after it; gradsync.h), SGD with
// nesterov momentum. A few warm-up steps, then timed steps, the slowest rank
// counting (MPI_Barrier before, MAX after).
//
//   build/bench-train [--batch 16] [--frames 64] [--base 64] [--threads 1]
//                     [--warmup 2] [--steps 5] [--classes 60] [--bucket-mb 1]
//                     [--layout ntu25] [--weight-decay 4e-4] [--compare] [--profile] [--profile-cpu] [--list-bn]
//                     [--blas-threads] [--compare-threads] [--module TEXT.h5] [--waits]
//   mpirun -n 2 build/bench-train ...   (2 ranks: batch/2 samples each)
//
// --compare (ranks > 1, --bucket-mb > 0): the steps alternate between the
// overlapped buckets and the single blocking all-reduce, each step timed on
// its own (MPI_Barrier before, MAX after), so both see the same machine
// load however noisy it is; it prints both s/step and their ratio.
//
// --threads T (> 1): the rank's T threads split its (sample, person) rows
// (ctrgcn_team.h: replicas, BN over the rank's whole batch; at --batch 1 of
// the ntu25 layout, a person each), or with one row (--batch 1 of ucla20:
// one sample of one person) its frames (time blocks), or with fewer rows
// than threads each row's frames (--batch 1 of ntu25 on 4 threads: 2
// persons x 2 blocks), as cocodiff.threads does in training; --blas-threads instead gives the T threads to BLAS
// inside one pass (the trainer's behaviour with one row per rank before the
// time blocks).
// --compare-threads (with --threads T > 1): the steps alternate between the
// T threads splitting the batch and one thread (BLAS on one thread), each
// step timed on its own, so both see the same load; it prints both s/step
// and the speedup (the ">= 1.7x from 1 to 2 threads"), and the
// process's CPU seconds per step in each mode: their ratio (one thread's /
// the threads') is the work the threads add (1: none), which a loaded
// machine does not distort as it does the wall-clock ratio.
//
// --waits (with --threads T > 1): the team's barriers timed in the timed
// steps (ctrgcn_team_time_waits: per site, lane and kind, the work before
// it and the wait in it, each job's wake-up lag and end wait), printed per
// step after the usual lines ("team waits | ..."). Two clock reads a
// barrier and lane: the step's wall time with it is not the figure to quote.
//
// --module TEXT.h5 (a cocodiff-embed file of --classes classes): the step
// has the CoCoDiff module too, as cocodiff.module does in training (its
// default options, generation on: cdtrain_step between the forward and the
// backward on this thread, its gradients into the backbone's through
// ctrgcn_backward_ex, its own all-reduce bucket and SGD); with --threads T
// the team keeps the batch's outputs for it (ctrgcn_team_keep_outputs).
//
// --profile: the timed steps are profiled per kind of work (prof.h: each
// layer type's time, GFLOP/s and share of the step, forward, backward and
// update, next to this run's sgemm peak; the ranks' mean), printed as a table
// after the usual lines. The hooks only read the clock: the same arithmetic.
// --profile-cpu (1 rank x 1 thread): the same table in CPU time (the rows
// in the thread's CPU seconds, the step and the sgemm peak in the process's),
// for a machine shared with other work, where wall time mostly measures the
// waits for a core.
//
// Effective GFLOP/s counts ctrgcn_forward_macs x 2 flops per multiply-add x 3
// (forward + backward ~ 3x forward) per sample, the usual convention. It is
// printed next to the OpenBLAS sgemm peak (1024^3, same threads) of this run
// (with several ranks: the sum of the ranks' peaks, measured concurrently).
// Peak memory is getrusage ru_maxrss (the largest rank's). reduce_ms is the
// time a step waits in gradsync_finish after backward (the largest rank's):
// the all-reduce time backward did not hide, plus waiting for a slower rank.
// --list-bn: prints the size of every synchronised-BN all-reduce of a step
// (doubles; the sizes depend on the model, not on the batch), on 1 rank too
// (the sums then go through the 1-rank all-reduce; bench/bench-scale.sh
// times those sizes across nodes), and the step as a list of segments, each
// an all-reduce with the CPU ms this rank computed before it (1 thread; the
// last timed step), which bench-comm --step replays.
// Several ranks: one line per rank with its wall and CPU seconds per step and
// those spent in the BN all-reduces and after backward (the gradient's wait
// and the loss's sum): wall against CPU there says whether a waiting rank
// polls on a core (Open MPI without mpi_yield_when_idle) or gives it up.
// Output: one line per figure and a machine-readable last line
// bn_reductions: the synchronised BN's all-reduces per timed step (0 on 1 rank
// without --list-bn); step_s: wall seconds per timed step (slowest rank);
// cpu_s: CPU seconds per step (the busiest rank); bn_ms: ms per step inside
// the BN all-reduces (the ranks' mean: waiting for a slower rank included);
// bn_cpu_ms: the CPU ms per step in them (ranks' mean); sync_ms, sync_cpu_ms:
// wall and CPU ms after backward (gradient, loss; ranks' mean); outside_s: the
// slowest rank's wall s per step outside those collectives.
//   bench-train-c: ranks=R threads=t samples_s=... gflops=... peak=... rss_mb=...
//                  buckets=B reduce_ms=... bn_reductions=N step_s=... cpu_s=... bn_ms=...
//                  bn_cpu_ms=... sync_ms=... sync_cpu_ms=... outside_s=...
//                  [overlap_s=... blocking_s=... overlap_reduce_ms=... blocking_reduce_ms=...]
//                  [threads_s=... one_thread_s=... threads_speedup=... threads_cpu_ratio=...]
#include "blas.h"
#include "cdtrain.h"
#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "dist.h"
#include "gradsync.h"
#include "layers.h"
#include "optim.h"
#include "prof.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void);

// GFLOP/s of an n^3 sgemm, the best of 7 (after one warm-up); in CPU time
// (this process's) when cpu.
static double sgemm_peak(int n, int cpu) {
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.2f; c[i] = 0; }
    double best = 1e30;
    for (int r = 0; r < 8; r++) {
        double t = cpu ? cpu_seconds() : dist_wtime();
        blas_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = (cpu ? cpu_seconds() : dist_wtime()) - t;
        if (r && t < best) best = t;   // the first run warms up
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

static double cpu_seconds(void) {   // user + system time of this process (all its threads)
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

// calls, doubles reduced, seconds in them; sizes[0, nsizes): the sizes of
// the calls made while `record` is set (one step, for --list-bn), seg_ms[i]:
// the CPU ms this thread computed before call i since the previous
// collective (`mark`: the CPU clock when it ended; 1 thread: the step's
// segments between its synchronisations, for bench-comm --step).
#define BN_MAX_SIZES 1024
typedef struct BnCtx {
    const Dist *d; Prof *pr; long calls; double values, sec, cpu;   // cpu: this thread's CPU s in them
    double mark;
    int record, nsizes, sizes[BN_MAX_SIZES];
    double seg_ms[BN_MAX_SIZES];
} BnCtx;
static void bn_allreduce(double *v, int n, void *ctx) {
    BnCtx *b = ctx;
    b->calls++;
    b->values += n;
    double t0 = dist_wtime(), c0 = prof_thread_cpu(), tp = prof_start(b->pr);
    if (b->record && b->nsizes < BN_MAX_SIZES) b->seg_ms[b->nsizes] = 1e3 * (c0 - b->mark), b->sizes[b->nsizes++] = n;
    if (dist_allreduce_sum_f64(b->d, v, n) != CD_OK) dist_abort(b->d, 1, "BN all-reduce failed");
    if (b->pr) prof_add_nested(b->pr, PROF_BN_SYNC, PROF_BN, tp);
    b->sec += dist_wtime() - t0;
    b->mark = prof_thread_cpu();
    b->cpu += b->mark - c0;
}

typedef struct HookCtx { const Dist *d; GradSync *gs; } HookCtx;
static void grads_ready(size_t first, void *ctx) {
    const HookCtx *h = ctx;
    if (gradsync_ready(h->gs, 0, first) != CD_OK) dist_abort(h->d, 1, "gradient all-reduce failed");
}

static int arg_flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], name)) return 1;
    return 0;
}

// The last occurrence of an option wins (scripts append overrides).
static double arg_dbl(int argc, char **argv, const char *name, double def) {
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], name)) def = atof(argv[i + 1]);
    return def;
}

typedef struct Rng { uint64_t s; } Rng;
static float rng_uniform(Rng *r) {   // [-1, 1)
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((r->s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static int arg_int(int argc, char **argv, const char *name, int def) {
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], name)) def = atoi(argv[i + 1]);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], name)) def = argv[i + 1];
    return def;
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != CD_OK) return 1;
    const int B = arg_int(argc, argv, "--batch", 16), T = arg_int(argc, argv, "--frames", 64);
    const int base = arg_int(argc, argv, "--base", 64), threads = arg_int(argc, argv, "--threads", 1);
    const int warmup = arg_int(argc, argv, "--warmup", 2), steps = arg_int(argc, argv, "--steps", 5);
    const int K = arg_int(argc, argv, "--classes", 60);
    const double bucket_mb = arg_dbl(argc, argv, "--bucket-mb", 1);
    const double wd = arg_dbl(argc, argv, "--weight-decay", 4e-4);
    const char *lname = arg_str(argc, argv, "--layout", "ntu25");
    const SkelLayout *layout = skel_layout_find(lname);
    if (!layout) dist_abort(&d, 2, "--layout %s: not a skeleton layout (ntu25, openpose18, ucla20)", lname);
    const int compare = arg_flag(argc, argv, "--compare") && d.size > 1 && bucket_mb > 0;
    // --profile-cpu: the profile in CPU time (prof.h; 1 rank x 1 thread):
    // rows, step and sgemm peak in this process's CPU seconds.
    const int prof_cpu = arg_flag(argc, argv, "--profile-cpu") && d.size == 1 && threads == 1;
    const int profile = arg_flag(argc, argv, "--profile") || prof_cpu;
    const int list_bn = arg_flag(argc, argv, "--list-bn");
    const int blas_only = arg_flag(argc, argv, "--blas-threads");
    const int cmp_threads = arg_flag(argc, argv, "--compare-threads") && threads > 1 && !blas_only && !compare;
    const int alt = compare || cmp_threads;   // steps alternate between two modes
    const char *module_text = arg_str(argc, argv, "--module", NULL);
    const int waits = arg_flag(argc, argv, "--waits") && threads > 1 && !blas_only;
    if (B < d.size || B % d.size) dist_abort(&d, 2, "--batch %d must be a multiple of the %d ranks", B, d.size);
    blas_set_threads(threads);
    const int nl = B / d.size;

    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, layout, base);
    cfg.num_person = layout->M;
    Ctrgcn *m = NULL;
    if (ctrgcn_create(&m, &cfg)) dist_abort(&d, 1, "cannot build the model");
    ctrgcn_init(m, 1);
    Prof prof_data, *pr = profile ? &prof_data : NULL;   // NULL: no profile, no clock reads
    if (pr) prof_reset(pr), pr->cpu = prof_cpu;
    static BnCtx bctx;   // static: the size list is 4 KiB
    bctx = (BnCtx){.d = &d, .pr = pr};
    BnSync sync = {bn_allreduce, &bctx};
    if (d.size > 1 || list_bn) ctrgcn_set_bn_sync(m, &sync);
    CtrgcnTeam *team = NULL;   // the threads splitting the samples
    if (threads > 1 && !blas_only &&
        ctrgcn_team_create(&team, m, d.size > 1 || list_bn ? &sync : NULL, threads))
        dist_abort(&d, 1, "cannot start %d threads", threads);
    OptimSgd opt;
    if (optim_sgd_init(&opt, ctrgcn_num_params(m), 0.9, wd, 1)) dist_abort(&d, 1, "out of memory");
    CdTrain *cd = NULL;   // --module
    if (module_text) {
        CocodiffConfig mopt;
        cocodiff_config_default(&mopt);
        CdTrainSpec ms = {.options = &mopt, .text = module_text, .parts = layout->parts, .K = K, .gen_start = 0,
                          .seed = 1, .base_lr = 0.01, .warm_up = 0, .momentum = 0.9, .weight_decay = wd,
                          .nesterov = 1, .step_samples = B, .accumulate = 1};
        char why[1024] = "";
        if (cdtrain_setup(&cd, &ms, m, T, nl, why, sizeof why)) dist_abort(&d, 1, "--module %s: %s", module_text, why);
        if (team) ctrgcn_team_keep_outputs(team);
    }
    // gsv[0]: as --bucket-mb says; gsv[1] (--compare): the blocking call.
    GradSync *gsv[2] = {NULL, NULL};
    size_t stages[CTRGCN_GRAD_STAGES], cap = bucket_mb > 0 ? (size_t)(bucket_mb * 1048576.0) : 0, zero = 0;
    ctrgcn_grad_stages(m, stages);
    if (bucket_mb > 0 && cap == 0) cap = 1;
    int gs_module = -1;   // the module's bucket, first as in the trainer
    for (int k = 0; k < 1 + compare; k++)
        if (gradsync_create(&gsv[k], &d, k ? 0 : cap) ||
            (cd && (gs_module = gradsync_add(gsv[k], cdtrain_grads(cd), cdtrain_num_params(cd), &zero, 1)) < 0) ||
            gradsync_add(gsv[k], ctrgcn_grads(m), ctrgcn_num_params(m), stages, CTRGCN_GRAD_STAGES) < 0)
            dist_abort(&d, 1, "cannot set up the gradient all-reduce");
    HookCtx hctx = {&d, gsv[0]};
    CtrgcnGradHook hook = {grads_ready, &hctx};
    ctrgcn_set_grad_hook(m, &hook);   // gradsync_ready does nothing for the blocking one
    ctrgcn_set_profile(m, pr);

    const size_t sample = (size_t)cfg.in_channels * T * cfg.num_point * cfg.num_person;
    float *x = malloc((size_t)nl * sample * sizeof(float));
    float *logits = malloc((size_t)nl * K * sizeof(float)), *probs = malloc((size_t)nl * K * sizeof(float));
    float *dlogits = malloc((size_t)nl * K * sizeof(float));
    int32_t *labels = malloc((size_t)nl * sizeof(int32_t));
    if (!x || !logits || !probs || !dlogits || !labels) dist_abort(&d, 1, "out of memory");
    Rng r = {1234567u + (uint64_t)d.rank};
    for (size_t i = 0; i < (size_t)nl * sample; i++) x[i] = rng_uniform(&r);
    for (int i = 0; i < nl; i++) labels[i] = (int32_t)((d.rank * nl + i) % K);

    double peak = sgemm_peak(1024, 0), peak_cpu = prof_cpu ? sgemm_peak(1024, 1) : 0;
    double tstart = 0, cstart = 0, wstart[2] = {0, 0}, loss0 = 0, loss = 0;
    double sync_s = 0, sync_cpu = 0;   // wall and CPU s after backward: the gradient's wait and the loss's sum
    double grad_seg_ms = 0;   // the recorded step's CPU ms from the last BN sum to the gradient all-reduce
    bctx.mark = prof_thread_cpu();
    double mode_s[2] = {0, 0};   // --compare, --compare-threads: timed seconds and steps per mode
    int mode_n[2] = {0, 0};
    double mode_cpu[2] = {0, 0};   // --compare-threads: CPU seconds of the process per mode
    // --module with --compare-threads: per mode, wall and process CPU seconds
    // in the module's step (cdtrain_step) and in the backbone's backward after it
    double mod_s[2] = {0, 0}, mod_cpu[2] = {0, 0}, bwd_s[2] = {0, 0}, bwd_cpu[2] = {0, 0};
    for (int s = 0; s < warmup + steps; s++) {
        const int k = alt ? s % 2 : 0;
        GradSync *gs = gsv[compare ? k : 0];
        CtrgcnTeam *tm = k == 0 ? team : NULL;   // --compare-threads: odd steps on one thread
        if (cmp_threads) blas_set_threads(k ? 1 : threads);
        hctx.gs = gs;
        if (s == warmup) {
            dist_barrier(&d);
            tstart = dist_wtime();
            cstart = cpu_seconds();
            for (int j = 0; j < 1 + compare; j++) wstart[j] = gradsync_wait_seconds(gsv[j]);
            if (pr) prof_reset(pr), pr->cpu = prof_cpu;   // the warm-up steps are not profiled
            if (waits && ctrgcn_team_time_waits(team, 1)) dist_abort(&d, 1, "out of memory");
            bctx.calls = 0;
            bctx.values = 0;
            bctx.sec = 0;
            bctx.cpu = 0;
            sync_s = sync_cpu = 0;
        }
        bctx.record = s == warmup + steps - 1;   // a timed step (the last): its sizes and segments
        if (bctx.record) bctx.nsizes = 0;
        double ts = 0, cs = 0;
        if (alt && s >= warmup) { dist_barrier(&d); ts = dist_wtime(); cs = cpu_seconds(); }
        if (pr) pr->phase = PROF_FWD;
        if (tm ? ctrgcn_team_forward(tm, logits, x, nl, T) : ctrgcn_forward(m, logits, x, nl, T, 1))
            dist_abort(&d, 1, "forward failed");
        double t0 = prof_start(pr);
        double l = (double)crossentropy_forward(probs, logits, labels, nl, K) * nl / B;
        prof_stop(pr, PROF_LOSS, t0, 0, 0);
        if (pr) pr->phase = PROF_UPD;
        t0 = prof_start(pr);
        if (tm && !cd) ctrgcn_team_zero_grad(tm);   // done by its backward (src/train/train.c's micro_step)
        else ctrgcn_zero_grad(m);
        prof_stop(pr, PROF_ZERO_GRAD, t0, 0, 4.0 * (double)ctrgcn_num_params(m));
        if (pr) pr->phase = PROF_BWD;
        t0 = prof_start(pr);
        memset(dlogits, 0, (size_t)nl * K * sizeof(float));
        crossentropy_backward(dlogits, probs, labels, nl, K, (float)nl / (float)B);
        prof_stop(pr, PROF_LOSS, t0, 0, 0);
        gradsync_begin(gs);
        const float *dfeat = NULL, *dlast = NULL;
        const double mw0 = dist_wtime(), mc0 = cpu_seconds();
        if (cd) {   // the module's step, as src/train/train.c's micro_step (not profiled)
            CdTrainCtl ctl = {.epoch = 1, .step = s, .sample0 = (int64_t)d.rank * nl, .grad_scale = (float)nl / (float)B,
                              .feat = tm ? ctrgcn_team_features(tm) : NULL,
                              .last = tm ? ctrgcn_team_last_output(tm) : NULL, .team = tm};
            double mst[CDTRAIN_MAX_STATS];
            if (cdtrain_step(cd, m, labels, nl, &ctl, mst)) dist_abort(&d, 1, "the module's step failed");
            if (gradsync_ready(gs, gs_module, 0)) dist_abort(&d, 1, "gradient all-reduce failed");
            dfeat = cdtrain_dfeat(cd);
            dlast = cdtrain_dlast(cd);
        }
        const double mw1 = dist_wtime(), mc1 = cpu_seconds();
        if (tm ? ctrgcn_team_backward_ex(tm, dlogits, dfeat, dlast) : ctrgcn_backward_ex(m, dlogits, dfeat, dlast))
            dist_abort(&d, 1, "backward failed");
        if (alt && s >= warmup) {
            mod_s[k] += mw1 - mw0;
            mod_cpu[k] += mc1 - mc0;
            bwd_s[k] += dist_wtime() - mw1;
            bwd_cpu[k] += cpu_seconds() - mc1;
        }
        if (pr) pr->phase = PROF_UPD;
        t0 = prof_start(pr);
        double w0 = dist_wtime(), c0 = prof_thread_cpu();
        if (bctx.record) grad_seg_ms = 1e3 * (c0 - bctx.mark);   // backward after the last BN sum
        if (gradsync_finish(gs)) dist_abort(&d, 1, "gradient all-reduce failed");
        if (d.size > 1) dist_allreduce_sum_f64(&d, &l, 1);
        sync_s += dist_wtime() - w0;
        bctx.mark = prof_thread_cpu();
        sync_cpu += bctx.mark - c0;
        prof_stop(pr, PROF_ALLREDUCE, t0, 0, 0);
        t0 = prof_start(pr);
        if (tm) {   // split over the threads, as src/train/train.c's run_loop
            OptimSgdShare a = {&opt, ctrgcn_params(m), ctrgcn_grads(m), 0.01, 0};
            ctrgcn_team_for(tm, ctrgcn_num_params(m), optim_sgd_range, &a);
            optim_sgd_count(&opt);
        } else {
            optim_sgd_step(&opt, ctrgcn_params(m), ctrgcn_grads(m), 0.01);
        }
        if (cd) cdtrain_optim_step(cd, 0.01, 1);
        prof_stop(pr, PROF_OPTIM, t0, 0, 20.0 * (double)ctrgcn_num_params(m));
        if (s == 0) loss0 = l;
        loss = l;
        if (alt && s >= warmup) {
            double dt = dist_wtime() - ts;
            dist_allreduce_max_f64(&d, &dt, 1);
            mode_s[k] += dt;
            mode_cpu[k] += cpu_seconds() - cs;
            mode_n[k]++;
        }
    }
    double el = dist_wtime() - tstart, cpu = (cpu_seconds() - cstart) / steps;
    // Each rank's step, per step: wall, CPU, wall and CPU in the BN all-reduces,
    // wall and CPU after backward (gradient, loss); rank 0 prints them all.
    double mine[6] = {el / steps, cpu, bctx.sec / steps, bctx.cpu / steps, sync_s / steps, sync_cpu / steps};
    double *per_rank = NULL;
    size_t per_rank_n = 0;
    if (dist_allgather_bytes(&d, mine, sizeof mine, (void **)&per_rank, &per_rank_n, NULL) != CD_OK)
        dist_abort(&d, 1, "cannot gather the ranks' timings");
    double bn_cpu_ms = 0, sync_ms = 0, sync_cpu_ms = 0, outside_s = 0;   // ranks' mean; outside: the slowest
    for (int r = 0; r < d.size; r++) {
        const double *q = per_rank + 6 * r;
        bn_cpu_ms += 1e3 * q[3] / d.size;
        sync_ms += 1e3 * q[4] / d.size;
        sync_cpu_ms += 1e3 * q[5] / d.size;
        if (q[0] - q[2] - q[4] > outside_s) outside_s = q[0] - q[2] - q[4];
    }
    // ms per step waited in gradsync_finish: all steps, or per mode (--compare)
    double reduce_ms[2] = {0, 0};
    for (int k = 0; k < 1 + compare; k++) {
        int n = alt ? mode_n[k] : steps;
        reduce_ms[k] = n > 0 ? 1e3 * (gradsync_wait_seconds(gsv[k]) - wstart[k]) / n : 0;
    }
    dist_allreduce_max_f64(&d, &el, 1);
    dist_allreduce_max_f64(&d, reduce_ms, 2);
    dist_allreduce_max_f64(&d, &cpu, 1);
    double bn_ms = 1e3 * bctx.sec / steps;   // the ranks' mean
    dist_allreduce_sum_f64(&d, &bn_ms, 1);
    bn_ms /= d.size;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;   // KiB on Linux
    dist_allreduce_max_f64(&d, &rss_mb, 1);
    double rate = (double)B * steps / el;
    double macs = ctrgcn_forward_macs(m, T);
    double gflops = rate * macs * 2.0 * 3.0 / 1e9;
    dist_allreduce_sum_f64(&d, &peak, 1);   // ranks run it at once: the aggregate
    if (d.rank == 0) {
        printf("bench-train-c | %d rank(s) x %d thread(s) | batch %d, T %d, V %d, M %d, base %d, %zu params | "
               "%.2f G MACs/sample forward | activations %.0f MB/rank\n",
               d.size, threads, B, T, cfg.num_point, cfg.num_person, base, ctrgcn_num_params(m), macs / 1e9,
               (double)ctrgcn_activation_bytes(m, nl, T) / 1048576.0);
        if (cd) {
            char line[2600];
            cdtrain_describe(cd, line, sizeof line);
            printf("bench-train-c | module on (--module): %s\n", line);
        }
        printf("bench-train-c | %d warm-up + %d timed steps in %.2fs | loss %.4f -> %.4f | %.2f samples/s | "
               "%.1f GFLOP/s effective (fwd MACs x 2 x 3) | sgemm peak %.1f GFLOP/s (%.0f%%) | peak RSS %.0f MB | "
               "CPU %.2f s/step/rank\n",
               warmup, steps, el, loss0, loss, rate, gflops, peak, 100.0 * gflops / peak, rss_mb, cpu);
        const GradSync *gs = gsv[0];
        double ov = mode_n[0] ? mode_s[0] / mode_n[0] : 0, bl = mode_n[1] ? mode_s[1] / mode_n[1] : 0;
        if (compare)
            printf("bench-train-c | alternate steps: %.3f s/step with %d buckets of <= %.2f MB overlapped with backward "
                   "(%.1f ms/step waited for after it), %.3f s/step with one blocking all-reduce after backward "
                   "(%.1f ms/step) | %d steps each | overlapped/blocking %.3f\n", ov, gradsync_num_buckets(gs),
                   (double)gradsync_max_bucket_bytes(gs) / 1048576.0, reduce_ms[0], bl, reduce_ms[1], mode_n[0],
                   bl > 0 ? ov / bl : 0.0);
        else if (cmp_threads)
            printf("bench-train-c | alternate steps: %.3f s/step with %d threads splitting each rank's %d samples' "
                   "%d (sample, person) rows (CPU %.3f s/step), %.3f s/step on one thread (CPU %.3f s/step) | "
                   "%d steps each | speedup %.3f, CPU time one thread / %d threads %.3f\n",
                   ov, threads, nl, nl * ctrgcn_config(m)->num_person, mode_n[0] ? mode_cpu[0] / mode_n[0] : 0.0,
                   bl, mode_n[1] ? mode_cpu[1] / mode_n[1] : 0.0, mode_n[0], ov > 0 ? bl / ov : 0.0, threads,
                   mode_cpu[0] > 0 ? mode_cpu[1] / mode_cpu[0] : 0.0);
        if (cmp_threads && cd && mode_n[0] && mode_n[1])
            printf("bench-train-c | the module's step: %.1f ms/step (CPU %.1f ms) with %d threads, %.1f ms (CPU %.1f ms) "
                   "on one; the backbone's backward after it: %.1f ms (CPU %.1f ms), %.1f ms (CPU %.1f ms)\n",
                   1e3 * mod_s[0] / mode_n[0], 1e3 * mod_cpu[0] / mode_n[0], threads, 1e3 * mod_s[1] / mode_n[1],
                   1e3 * mod_cpu[1] / mode_n[1], 1e3 * bwd_s[0] / mode_n[0], 1e3 * bwd_cpu[0] / mode_n[0],
                   1e3 * bwd_s[1] / mode_n[1], 1e3 * bwd_cpu[1] / mode_n[1]);
        if (!compare && d.size > 1 && gradsync_overlapped(gs))
            printf("bench-train-c | gradient all-reduce: %d buckets of <= %.2f MB overlapped with backward, "
                   "%.1f ms/step waited for after it\n", gradsync_num_buckets(gs),
                   (double)gradsync_max_bucket_bytes(gs) / 1048576.0, reduce_ms[0]);
        else if (!compare && d.size > 1)
            printf("bench-train-c | gradient all-reduce: one blocking call after backward, %.1f ms/step\n", reduce_ms[0]);
        if (d.size > 1)
            printf("bench-train-c | synchronised BN: %.0f all-reduces per step, %.0f doubles each on average, "
                   "%.1f ms/step in them (ranks' mean)\n",
                   (double)bctx.calls / steps, bctx.calls ? bctx.values / (double)bctx.calls : 0.0, bn_ms);
        for (int r = 0; d.size > 1 && r < d.size; r++) {
            const double *q = per_rank + 6 * r;
            printf("bench-train-c | rank %d: %.3f s/step, CPU %.3f s | BN all-reduces %.1f ms (CPU %.1f ms) | after "
                   "backward (gradient, loss) %.1f ms (CPU %.1f ms) | outside them %.3f s\n", r, q[0], q[1],
                   1e3 * q[2], 1e3 * q[3], 1e3 * q[4], 1e3 * q[5], q[0] - q[2] - q[4]);
        }
        if (list_bn) {
            printf("bench-train-c | BN all-reduce sizes (doubles), one step:");
            for (int i = 0; i < bctx.nsizes; i++) printf("%c%d", i ? ',' : ' ', bctx.sizes[i]);
            putchar('\n');
            // one step as bench-comm --step replays it: KIND:COUNT:CPU ms computed before it
            printf("bench-train-c | step's segments (kind:count:CPU ms before it):");
            for (int i = 0; i < bctx.nsizes; i++) printf("%cf64:%d:%.2f", i ? ',' : ' ', bctx.sizes[i], bctx.seg_ms[i]);
            printf(",f32:%zu:%.2f,f64:1:0\n", ctrgcn_num_params(m), grad_seg_ms);
        }
        printf("bench-train-c: ranks=%d threads=%d samples_s=%.3f gflops=%.2f peak=%.2f rss_mb=%.0f buckets=%d "
               "reduce_ms=%.2f bn_reductions=%.0f step_s=%.4f cpu_s=%.4f bn_ms=%.2f bn_cpu_ms=%.2f sync_ms=%.2f sync_cpu_ms=%.2f outside_s=%.4f", d.size,
               threads, rate, gflops, peak, rss_mb, gradsync_num_buckets(gs), reduce_ms[0], (double)bctx.calls / steps,
               el / steps, cpu, bn_ms, bn_cpu_ms, sync_ms, sync_cpu_ms, outside_s);
        if (cmp_threads)
            printf(" threads_s=%.4f one_thread_s=%.4f threads_speedup=%.3f threads_cpu_ratio=%.3f", ov, bl,
                   ov > 0 ? bl / ov : 0.0, mode_cpu[0] > 0 ? mode_cpu[1] / mode_cpu[0] : 0.0);
        if (cmp_threads && cd && mode_n[0] && mode_n[1])
            printf(" module_ms=%.2f module_cpu_ms=%.2f module_one_ms=%.2f module_one_cpu_ms=%.2f", 1e3 * mod_s[0] / mode_n[0],
                   1e3 * mod_cpu[0] / mode_n[0], 1e3 * mod_s[1] / mode_n[1], 1e3 * mod_cpu[1] / mode_n[1]);
        if (compare)
            printf(" overlap_s=%.4f blocking_s=%.4f overlap_reduce_ms=%.2f blocking_reduce_ms=%.2f", ov, bl,
                   reduce_ms[0], reduce_ms[1]);
        putchar('\n');
    }
    if (pr) {   // the ranks' mean, printed by rank 0
        dist_allreduce_sum_f64(&d, &pr->sec[0][0], PROF_NROWS * PROF_NPHASES);
        dist_allreduce_sum_f64(&d, &pr->flops[0][0], PROF_NROWS * PROF_NPHASES);
        dist_allreduce_sum_f64(&d, &pr->bytes[0][0], PROF_NROWS * PROF_NPHASES);
        for (int r = 0; r < PROF_NROWS; r++)
            for (int ph = 0; ph < PROF_NPHASES; ph++) {
                pr->sec[r][ph] /= d.size;
                pr->flops[r][ph] /= d.size;
                pr->bytes[r][ph] /= d.size;
            }
        if (d.rank == 0) {
            char label[160];
            snprintf(label, sizeof label, "%d rank(s) x %d thread(s), batch %d per rank (%d in all), T %d, V %d, M %d",
                     d.size, threads, nl, B, T, cfg.num_point, cfg.num_person);
            if (prof_cpu)
                snprintf(label + strlen(label), sizeof label - strlen(label), ", CPU time");
            prof_print(pr, stdout, label, steps, prof_cpu ? cpu : el / steps, prof_cpu ? peak_cpu : peak / d.size);
        }
    }
    if (waits && d.rank == 0) ctrgcn_team_print_waits(team, stdout, cmp_threads ? mode_n[0] : steps);
    free(x); free(logits); free(probs); free(dlogits); free(labels); free(per_rank);
    optim_sgd_free(&opt);
    gradsync_free(gsv[0]);
    gradsync_free(gsv[1]);
    ctrgcn_team_free(team);
    cdtrain_free(cd);
    ctrgcn_free(m);
    dist_finalize(&d);
    return 0;
}
