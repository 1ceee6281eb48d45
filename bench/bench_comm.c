// bench_comm.c - `make bench-scale`'s communication part: the time of one
// all-reduce of each size a training step makes, on however many ranks and
// links mpirun gives it (bench/bench-scale.sh runs it across network
// namespaces over TCP, links shaped by tc tbf).
//
// Two kinds, each the call the trainer makes:
//   --f64 N1,N2,...  synchronised BN sums: dist_allreduce_sum_f64 of N doubles
//                    (the sizes come from build/bench-train --list-bn)
//   --f32 N1,...     the gradient: dist_allreduce_sum_f32 of N floats (the
//                    whole gradient in one call, cocodiff.bucket_mb 0, or a
//                    bucket of it)
// --work-ms W: each call comes after W ms of this thread's CPU time spent
// computing (a step's compute between two of its all-reduces), so the time
// per call is W's wall time + the all-reduce + the wait for the slowest
// rank: on a machine whose cores are shared, a rank that arrives first waits
// until the others have had their share of the CPU. The same on 1 rank (no
// partner: the all-reduce is a no-op) gives the work's wall time alone.
// --step K:N:MS,...: one training step replayed: for each entry, MS ms of
// CPU work, then the all-reduce of N values of kind K (f64: dist_allreduce_
// sum_f64, f32: _f32), in order (build/bench-train --list-bn prints a real
// step's list). Timed per step (--iters steps a repetition, after one
// warm-up step), as below; on P unsynchronised 1-rank copies at the same
// time it gives the step's compute alone, and the difference is what the
// synchronisations cost a step, waits included (bench/bench-scale.sh).
// Each size: 3 warm-up calls, then --reps repetitions of --iters calls, each
// repetition timed on its own (MPI_Barrier before, the slowest rank's time
// after, MAX), and the median repetition's time per call reported: the
// machine is shared, so the median keeps one disturbed repetition out.
//
//   mpirun -n P build/bench-comm [--f64 ...] [--f32 ...] [--iters 20] [--reps 5] [--work-ms 0] [--step LIST]
// Output, one line per size:
//   bench-comm-c: ranks=P kind=f64|f32 n=N bytes=B work_ms=W us=<median us per call> min_us=<fastest rep>
// and for --step:
//   bench-comm-c: ranks=P kind=step calls=K work_ms=<CPU ms a step> us=<median us per step> min_us=...
#include "dist.h"
#include "prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMM_MAX_REPS 64

static int comm_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Computes for `ms` ms of this thread's CPU time.
static double comm_work(double ms) {
    volatile double x = 1.0;
    const double end = prof_thread_cpu() + ms * 1e-3;
    while (prof_thread_cpu() < end)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

// One size: us per call (median and fastest repetition), slowest rank.
static void comm_time(const Dist *d, int f64, size_t n, int iters, int reps, double work_ms) {
    size_t bytes = n * (f64 ? sizeof(double) : sizeof(float));
    void *v = calloc(n ? n : 1, f64 ? sizeof(double) : sizeof(float));
    if (!v) dist_abort(d, 1, "out of memory (%zu bytes)", bytes);
    double t[COMM_MAX_REPS];
    for (int r = -1; r < reps; r++) {   // r = -1: warm-up (connections, buffers)
        int calls = r < 0 ? 3 : iters;
        dist_barrier(d);
        double t0 = dist_wtime();
        for (int i = 0; i < calls; i++) {
            if (work_ms > 0) comm_work(work_ms);
            int st = f64 ? dist_allreduce_sum_f64(d, v, (int)n) : dist_allreduce_sum_f32(d, v, n);
            if (st) dist_abort(d, 1, "all-reduce of %zu %s failed", n, f64 ? "doubles" : "floats");
        }
        double dt = (dist_wtime() - t0) / calls;
        dist_allreduce_max_f64(d, &dt, 1);
        if (r >= 0) t[r] = dt;
    }
    qsort(t, (size_t)reps, sizeof t[0], comm_cmp);
    if (d->rank == 0)
        printf("bench-comm-c: ranks=%d kind=%s n=%zu bytes=%zu work_ms=%g us=%.2f min_us=%.2f\n", d->size,
               f64 ? "f64" : "f32", n, bytes, work_ms, 1e6 * t[reps / 2], 1e6 * t[0]);
    free(v);
}

// --step: the entries of a replayed step
#define COMM_MAX_STEP 1024
typedef struct CommCall { int f64; size_t n; double ms; } CommCall;

// Parses "K:N:MS,..." into c[0, return); aborts on a malformed list.
static int comm_step_parse(const Dist *d, const char *list, CommCall *c) {
    int k = 0;
    for (const char *p = list; *p; k++) {
        char kind[4] = "";
        unsigned long long n;
        double ms;
        int used = 0;
        if (k == COMM_MAX_STEP || sscanf(p, "%3[f0-9]:%llu:%lf%n", kind, &n, &ms, &used) != 3 ||
            (strcmp(kind, "f64") && strcmp(kind, "f32")) || ms < 0 || (p[used] && p[used] != ','))
            dist_abort(d, 2, "--step: entry %d of '%s' is not KIND:COUNT:MS (f64 or f32; at most %d)", k + 1, list,
                       COMM_MAX_STEP);
        c[k] = (CommCall){!strcmp(kind, "f64"), (size_t)n, ms};
        p += used + (p[used] == ',');
    }
    return k;
}

// The replayed step: us per step (median and fastest repetition), slowest rank.
static void comm_step(const Dist *d, const char *list, int iters, int reps) {
    static CommCall c[COMM_MAX_STEP];
    const int k = comm_step_parse(d, list, c);
    size_t most = 1;
    double work = 0;
    for (int i = 0; i < k; i++) most = c[i].n > most ? c[i].n : most, work += c[i].ms;
    double *v = calloc(most, sizeof(double)), t[COMM_MAX_REPS];
    if (!v) dist_abort(d, 1, "out of memory (%zu doubles)", most);
    for (int r = -1; r < reps; r++) {   // r = -1: one warm-up step
        int steps = r < 0 ? 1 : iters;
        dist_barrier(d);
        double t0 = dist_wtime();
        for (int s = 0; s < steps; s++)
            for (int i = 0; i < k; i++) {
                if (c[i].ms > 0) comm_work(c[i].ms);
                int st = c[i].f64 ? dist_allreduce_sum_f64(d, v, (int)c[i].n)
                                  : dist_allreduce_sum_f32(d, (float *)v, c[i].n);
                if (st) dist_abort(d, 1, "all-reduce %d of the step failed", i + 1);
            }
        double dt = (dist_wtime() - t0) / steps;
        dist_allreduce_max_f64(d, &dt, 1);
        if (r >= 0) t[r] = dt;
    }
    qsort(t, (size_t)reps, sizeof t[0], comm_cmp);
    if (d->rank == 0)
        printf("bench-comm-c: ranks=%d kind=step calls=%d work_ms=%.2f us=%.2f min_us=%.2f\n", d->size, k, work,
               1e6 * t[reps / 2], 1e6 * t[0]);
    free(v);
}

// Times every size of a comma-separated list.
static void comm_list(const Dist *d, int f64, const char *list, int iters, int reps, double work_ms) {
    const char *p = list;
    while (*p) {
        char *end;
        unsigned long long n = strtoull(p, &end, 10);
        if (end == p) dist_abort(d, 2, "--%s %s: a comma-separated list of counts", f64 ? "f64" : "f32", list);
        comm_time(d, f64, (size_t)n, iters, reps, work_ms);
        p = *end == ',' ? end + 1 : end;
    }
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv)) return 1;
    const char *f64 = "", *f32 = "", *step = "";
    int iters = 20, reps = 5;
    double work_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--f64")) f64 = argv[i + 1];
        else if (!strcmp(argv[i], "--f32")) f32 = argv[i + 1];
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--work-ms")) work_ms = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--step")) step = argv[i + 1];
        else dist_abort(&d, 2, "unknown option %s (--f64, --f32, --iters, --reps, --work-ms, --step)", argv[i]);
    }
    if (iters < 1 || reps < 1 || reps > COMM_MAX_REPS)
        dist_abort(&d, 2, "--iters >= 1 and --reps 1..%d", COMM_MAX_REPS);
    comm_list(&d, 1, f64, iters, reps, work_ms);
    comm_list(&d, 0, f32, iters, reps, work_ms);
    if (*step) comm_step(&d, step, iters, reps);
    fflush(stdout);
    dist_finalize(&d);
    return 0;
}
