// prof.h - the training step's profile (`make bench-train PROFILE=1`): wall
// time (or the thread's CPU time, see cpu below), floating-point operations and bytes per kind of work, forward,
// backward and update apart, so a table can say where a step's time goes and
// how close each kind of work runs to the sgemm peak.
//
// Off unless asked for, and free when off: the model holds a Prof pointer
// that is NULL until ctrgcn_set_profile attaches one, and every hook is an
// inline test of that pointer (no clock read, no call). Hooks only read the
// clock and add to counters: no arithmetic of the model changes, so a step's
// results are the same bits with or without a profile. One thread writes a
// Prof at a time (the training forward and backward are sequential; BLAS's
// own threads are inside the timed calls).
//
//   Prof pr; prof_reset(&pr); ctrgcn_set_profile(m, &pr);
//   pr.phase = PROF_FWD; double t0 = prof_start(&pr); ...;
//   prof_stop(&pr, PROF_LOSS, t0, flops, bytes);
//   prof_print(&pr, stdout, "label", steps, step_seconds, peak_gflops);
//
// Flops are 2 per multiply-add of the GEMM-shaped work (0 for elementwise
// rows); bytes are a row's tensor traffic counted once per read or write
// (an estimate of what must cross the caches, not a measurement).
#pragma once
#include <stdio.h>

typedef enum ProfRow {
    PROF_DATA_BN,       // input layout, data_bn, the first unit's layout
    PROF_CTRGC_CONV3,   // CTRGC conv3: (cout, cin) @ (cin, T V) per sample
    PROF_CTRGC_TOPO,    // CTRGC topology: time-mean, conv1, conv2, tanh, conv4, alpha C4 + A
    PROF_CTRGC_EINSUM,  // CTRGC contraction out[c] (T, V) = x3[c] (T, V) @ M[c]^T (V, V)
    PROF_CONV_1X1,      // 1x1 convs: down, branch 1x1s, residual
    PROF_CONV_T,        // temporal (5, 1) convs, dilations 1 and 2
    PROF_BN,            // BatchNorm2d (backward: its recomputed outputs too)
    PROF_ACT,           // ReLU, residual adds, the CTRGC sum, ReLU masks
    PROF_MAXPOOL,       // the (3, 1) max-pool branch
    PROF_COPY,          // branch concatenation and split, zeroing of gradient buffers
    PROF_HEAD,          // global average pooling and fc
    PROF_LOSS,          // softmax cross-entropy
    PROF_ZERO_GRAD,     // zeroing the parameter gradients
    PROF_BN_SYNC,       // synchronised BN's all-reduces (ranks > 1; taken out of PROF_BN, data_bn's too)
    PROF_ALLREDUCE,     // waiting for the gradient all-reduce after backward
    PROF_OPTIM,         // SGD with nesterov momentum
    PROF_NROWS
} ProfRow;

typedef enum ProfPhase { PROF_FWD, PROF_BWD, PROF_UPD, PROF_NPHASES } ProfPhase;

// Plain data: a multi-rank driver can sum sec/flops/bytes across ranks.
typedef struct Prof {
    ProfPhase phase;   // where prof_stop adds (set by the driver and the model)
    // 1: time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not
    // wall time: on a machine shared with other work, what each part costs
    // rather than how long it also waited for a core. Meaningful with one
    // thread (BLAS's own threads are not counted); prof_reset clears it.
    int cpu;
    double sec[PROF_NROWS][PROF_NPHASES];
    double flops[PROF_NROWS][PROF_NPHASES];
    double bytes[PROF_NROWS][PROF_NPHASES];
} Prof;

double prof_clock(const Prof *p);   // seconds, monotonic (wall, or p's thread CPU time when p->cpu)
double prof_thread_cpu(void);       // the calling thread's CPU seconds (CLOCK_THREAD_CPUTIME_ID; a rank polling in MPI counts)
void prof_reset(Prof *p);
void prof_add(Prof *p, ProfRow row, double t0, double flops, double bytes);
// A part timed inside another row's call (the BN all-reduce inside a BN):
// the time since t0 goes to row and is taken out of outer.
void prof_add_nested(Prof *p, ProfRow row, ProfRow outer, double t0);
const char *prof_row_name(ProfRow row);

// 0 without a profile (no clock read).
static inline double prof_start(const Prof *p) { return p ? prof_clock(p) : 0.0; }
// Adds the time since t0 (and flops, bytes) to row in the current phase.
static inline void prof_stop(Prof *p, ProfRow row, double t0, double flops, double bytes) {
    if (p) prof_add(p, row, t0, flops, bytes);
}

// The table, per step (the counters hold `steps` steps): each row's ms,
// GFLOP/s and GB/s per phase, its share of the step, the GEMM-shaped and
// memory-bound subtotals, the time no row covers, and the whole step's
// GFLOP/s against the sgemm peak. step_seconds: measured wall time per step.
void prof_print(const Prof *p, FILE *f, const char *label, int steps, double step_seconds, double peak_gflops);
