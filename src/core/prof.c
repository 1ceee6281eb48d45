// prof.c - the training step's profile: counters and the table (prof.h).
#include "prof.h"

#include <string.h>
#include <time.h>

static const char *const prof_names[PROF_NROWS] = {
    [PROF_DATA_BN] = "data_bn + input layout",
    [PROF_CTRGC_CONV3] = "CTRGC conv3 (1x1, T V)",
    [PROF_CTRGC_TOPO] = "CTRGC topology (mean,1,2,tanh,4)",
    [PROF_CTRGC_EINSUM] = "CTRGC einsum x3 M^T",
    [PROF_CONV_1X1] = "1x1 convs (down, branch, res)",
    [PROF_CONV_T] = "temporal convs (5x1)",
    [PROF_BN] = "BatchNorm",
    [PROF_ACT] = "ReLU / adds / masks",
    [PROF_MAXPOOL] = "max-pool branch",
    [PROF_COPY] = "concat / split / zeroing",
    [PROF_HEAD] = "pooling + fc",
    [PROF_LOSS] = "cross-entropy",
    [PROF_ZERO_GRAD] = "zero_grad",
    [PROF_BN_SYNC] = "BN statistics all-reduce",
    [PROF_ALLREDUCE] = "gradient all-reduce wait",
    [PROF_OPTIM] = "SGD nesterov",
};

// Subtotals: 0 GEMM-shaped rows, 1 memory-bound ones, 2 communication.
static int prof_group(int r) {
    if (r == PROF_CTRGC_CONV3 || r == PROF_CTRGC_TOPO || r == PROF_CTRGC_EINSUM || r == PROF_CONV_1X1 ||
        r == PROF_CONV_T || r == PROF_HEAD)
        return 0;
    return r == PROF_BN_SYNC || r == PROF_ALLREDUCE ? 2 : 1;
}

double prof_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double prof_clock(const Prof *p) {
    if (p && p->cpu) return prof_thread_cpu();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void prof_reset(Prof *p) { memset(p, 0, sizeof *p); }

void prof_add(Prof *p, ProfRow row, double t0, double flops, double bytes) {
    p->sec[row][p->phase] += prof_clock(p) - t0;
    p->flops[row][p->phase] += flops;
    p->bytes[row][p->phase] += bytes;
}

void prof_add_nested(Prof *p, ProfRow row, ProfRow outer, double t0) {
    double dt = prof_clock(p) - t0;
    p->sec[row][p->phase] += dt;
    p->sec[outer][p->phase] -= dt;
}

const char *prof_row_name(ProfRow row) { return row >= 0 && row < PROF_NROWS ? prof_names[row] : "?"; }

// "   12.3  45.6" (ms, GFLOP/s) or blanks for a phase the row has no time in.
static void prof_cell(FILE *f, double sec, double flops, int steps) {
    if (sec <= 0) { fprintf(f, " %8s %6s", "-", ""); return; }
    fprintf(f, " %8.1f", 1e3 * sec / steps);
    if (flops > 0) fprintf(f, " %6.1f", flops / sec / 1e9);
    else fprintf(f, " %6s", "-");
}

static void prof_line(FILE *f, const char *name, const double sec[PROF_NPHASES],
                      const double flops[PROF_NPHASES], double bytes, int steps, double step_seconds) {
    double ts = 0, tf = 0;
    for (int ph = 0; ph < PROF_NPHASES; ph++) { ts += sec[ph]; tf += flops[ph]; }
    fprintf(f, "%-34s", name);
    for (int ph = 0; ph < PROF_NPHASES; ph++) prof_cell(f, sec[ph], flops[ph], steps);
    fprintf(f, " %9.1f %6.1f%%", 1e3 * ts / steps, step_seconds > 0 ? 100.0 * ts / steps / step_seconds : 0.0);
    if (tf > 0 && ts > 0) fprintf(f, " %7.1f", tf / ts / 1e9);
    else fprintf(f, " %7s", "-");
    if (bytes > 0 && ts > 0) fprintf(f, " %7.1f\n", bytes / ts / 1e9);
    else fprintf(f, " %7s\n", "-");
}

void prof_print(const Prof *p, FILE *f, const char *label, int steps, double step_seconds, double peak_gflops) {
    if (steps < 1) steps = 1;
    fprintf(f, "profile | %s | per step, %d steps | GF/s: GFLOP/s of the GEMM-shaped rows (2 per multiply-add), "
               "GB/s: estimated tensor traffic\n", label, steps);
    fprintf(f, "%-34s %8s %6s %8s %6s %8s %6s %9s %7s %7s %7s\n", "row", "fwd ms", "GF/s", "bwd ms", "GF/s",
            "upd ms", "GF/s", "total ms", "share", "GF/s", "GB/s");
    double sub[3][2][PROF_NPHASES], subb[3] = {0, 0, 0}, all = 0, allf = 0;
    memset(sub, 0, sizeof sub);
    for (int r = 0; r < PROF_NROWS; r++) {
        double b = 0, s = 0;
        for (int ph = 0; ph < PROF_NPHASES; ph++) {
            b += p->bytes[r][ph];
            s += p->sec[r][ph];
            const int g = prof_group(r);
            sub[g][0][ph] += p->sec[r][ph];
            sub[g][1][ph] += p->flops[r][ph];
            allf += p->flops[r][ph];
        }
        subb[prof_group(r)] += b;
        all += s;
        if (s > 0) prof_line(f, prof_names[r], p->sec[r], p->flops[r], b, steps, step_seconds);
    }
    prof_line(f, "= GEMM-shaped rows", sub[0][0], sub[0][1], subb[0], steps, step_seconds);
    prof_line(f, "= memory-bound rows", sub[1][0], sub[1][1], subb[1], steps, step_seconds);
    prof_line(f, "= communication rows", sub[2][0], sub[2][1], subb[2], steps, step_seconds);
    double other = step_seconds * steps - all;
    if (other < 0) other = 0;
    fprintf(f, "%-34s %8s %6s %8s %6s %8s %6s %9.1f %6.1f%%\n", "= untimed (layout, glue)", "", "", "", "", "", "",
            1e3 * other / steps, step_seconds > 0 ? 100.0 * other / steps / step_seconds : 0.0);
    double gs = 0, gfl = 0;
    for (int ph = 0; ph < PROF_NPHASES; ph++) { gs += sub[0][0][ph]; gfl += sub[0][1][ph]; }
    double gf = step_seconds > 0 ? allf / steps / step_seconds / 1e9 : 0, gg = gs > 0 ? gfl / gs / 1e9 : 0;
    fprintf(f, "%-34s %9.1f ms/step, %.1f GFLOP/s counted = %.0f%% of the sgemm peak %.1f GFLOP/s; the GEMM-shaped "
               "rows alone run at %.1f GFLOP/s = %.0f%% of it\n", "= step", 1e3 * step_seconds, gf,
            peak_gflops > 0 ? 100.0 * gf / peak_gflops : 0.0, peak_gflops, gg,
            peak_gflops > 0 ? 100.0 * gg / peak_gflops : 0.0);
}
