// bench_dist.c - `make bench-dist`: what the collective watchdog (dist.h)
// costs. Times N small blocking collectives as the training step makes them
// (synchronised BatchNorm sums: dist_allreduce_sum_f64 of 2 x 16 values;
// the step's dist_agree) on every rank, the slowest rank counting, and
// prints microseconds per collective. The watchdog is set at start-up from
// COCODIFF_WATCHDOG_S, so bench/bench-dist.sh runs this program with the
// watchdog off (0) and on (the default), alternating.
//
//   mpirun -n 2 build/bench-dist [--iters 20000]
// Last line: bench-dist-c: ranks=R iters=N us_per_collective=X
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv)) return 1;
    long iters = 20000;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--iters")) iters = atol(argv[i + 1]);
    double v[32] = {0};
    for (long i = 0; i < 200; i++) dist_allreduce_sum_f64(&d, v, 32);   // warm-up
    dist_barrier(&d);
    double t0 = dist_wtime();
    for (long i = 0; i < iters; i++) {
        v[0] = (double)i;
        if (i % 8 == 7) dist_agree(&d, 0);
        else dist_allreduce_sum_f64(&d, v, 32);
    }
    double dt = dist_wtime() - t0;
    dist_allreduce_max_f64(&d, &dt, 1);
    if (d.rank == 0)
        printf("bench-dist-c: ranks=%d iters=%ld us_per_collective=%.2f\n", d.size, iters, dt / (double)iters * 1e6);
    dist_finalize(&d);
    return 0;
}
