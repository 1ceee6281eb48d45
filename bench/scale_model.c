// scale_model.c - `make bench-scale`'s projections: the step time of data-
// parallel CTR-GCN training on N cluster nodes, from the parts
// bench/bench-scale.sh measured on this machine and stated network figures,
// and what it makes of a whole NTU60 X-Sub and NW-UCLA run (docs/scaling.md).
//
//   build/scale-model [--links "GBIT:LATENCY_US ..."] [--cores 64] [--parallel-fraction P] < figures
// figures (one a line; bench-scale.sh writes them, other lines are ignored):
//   compute SHAPE BATCH THREADS WALL_S CPU_S   a 1-rank step (SHAPE ntu|ucla)
//   bn N1,N2,...                               the step's BN all-reduces (doubles)
//   grad SHAPE NPARAM                          the gradient (floats)
//
// The model, per step, on N nodes of C cores, r ranks a node of t = C / r
// threads, per-rank batch b = G / (N r) (G the global batch):
//   compute(b, t) = CPU_S(b, 1 thread) x ((1 - p) + p / t): one core's work
//     (CPU seconds: what a dedicated core gives; this machine's wall time is
//     inflated by the other users' load), Amdahl's law in t with the
//     parallel fraction p from the measured 1 vs 2 thread speedup s2
//     (p = 2 (1 - 1/s2); the largest batch's when b's is not measured;
//     --parallel-fraction states p instead, e.g. for threads that split a
//     rank's samples, which this build's BLAS-only threads do not);
//   + every BN all-reduce of S bytes: ceil(log2 N) x (latency + S / bandwidth)
//     (recursive doubling across nodes) + ceil(log2 r) x SHM_LAT_US inside one;
//   + the gradient (S bytes, one blocking all-reduce, no credit for the
//     trainer's overlap with backward: an upper bound): 2 (N-1) latency +
//     2 (N-1)/N S / bandwidth (ring) + 2 (r-1)/r S / SHM_GBS inside a node;
//   + no wait for a slower rank (dedicated nodes; on this shared machine the
//     check measured it inside compute, the slowest of the ranks).
// The layout (r, t) is the fastest over the measured per-rank batches.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SM_MAX_B 8        // measured batches per shape
#define SM_MAX_BN 256     // BN all-reduces per step
#define SM_MAX_LINKS 4
#define SHM_LAT_US 1.0    // stated: one shared-memory all-reduce step inside a node
#define SHM_GBS 10.0      // stated: GB/s of a shared-memory reduction inside a node

typedef struct SmShape {
    int nb, batch[SM_MAX_B];
    double cpu1[SM_MAX_B], wall1[SM_MAX_B], wall2[SM_MAX_B];   // wall2 0: not measured
    double nparam;
} SmShape;
typedef struct SmModel {
    SmShape ntu, ucla;
    int nbn;
    double bn[SM_MAX_BN];   // doubles each
    int nlinks;
    double gbit[SM_MAX_LINKS], lat_us[SM_MAX_LINKS];
    int cores;
    double p_override;   // --parallel-fraction: a stated p instead of the measured one (< 0: measured)
} SmModel;
// A dataset's official recipe.
typedef struct SmRun {
    const char *name;
    SmShape *shape;
    int global_batch, steps_per_epoch, epochs, streams;
} SmRun;

static SmShape *sm_shape(SmModel *m, const char *name) {
    return !strcmp(name, "ntu") ? &m->ntu : !strcmp(name, "ucla") ? &m->ucla : NULL;
}

static int sm_batch_index(SmShape *s, int b, int add) {
    for (int i = 0; i < s->nb; i++) if (s->batch[i] == b) return i;
    if (!add || s->nb == SM_MAX_B) return -1;
    s->batch[s->nb] = b;
    s->cpu1[s->nb] = s->wall1[s->nb] = s->wall2[s->nb] = 0;
    return s->nb++;
}

static int sm_read(SmModel *m, FILE *f) {
    char line[16384], kind[32], name[32];
    while (fgets(line, sizeof line, f)) {
        int b, t;
        double wall, cpu, n;
        SmShape *s;
        if (sscanf(line, "compute %31s %d %d %lf %lf", name, &b, &t, &wall, &cpu) == 5 && (s = sm_shape(m, name))) {
            int i = sm_batch_index(s, b, 1);
            if (i < 0) continue;
            if (t == 1) { s->cpu1[i] = cpu; s->wall1[i] = wall; }
            else if (t == 2) s->wall2[i] = wall;
        } else if (sscanf(line, "grad %31s %lf", name, &n) == 2 && (s = sm_shape(m, name))) {
            s->nparam = n;
        } else if (sscanf(line, "%31s", kind) == 1 && !strcmp(kind, "bn")) {
            char *p = line + 2;
            while (*p && m->nbn < SM_MAX_BN) {
                char *end;
                double v = strtod(p, &end);
                if (end == p) break;
                m->bn[m->nbn++] = v;
                p = *end == ',' ? end + 1 : end;
            }
        }
    }
    return m->ntu.nb > 0 && m->nbn > 0 && m->ntu.nparam > 0 ? 0 : -1;
}

// Amdahl's parallel fraction from the 2-thread speedup at batch b (the
// largest measured batch's when b has none; NTU's when the shape has no
// 2-thread figure at all: NW-UCLA's runs are at 1 thread).
static double sm_parallel_fraction(const SmModel *m, const SmShape *s, int b) {
    if (m->p_override >= 0) return m->p_override;
    int any = 0;
    for (int j = 0; j < s->nb; j++) any |= s->wall2[j] > 0;
    if (!any) s = &m->ntu;
    int i = -1;
    for (int j = 0; j < s->nb; j++) if (s->batch[j] == b) i = j;
    if (i < 0 || !(s->wall2[i] > 0)) {
        int best = -1;
        for (int j = 0; j < s->nb; j++) if (s->wall2[j] > 0 && (best < 0 || s->batch[j] > s->batch[best])) best = j;
        if (best < 0) return 0;
        i = best;
    }
    double s2 = s->wall1[i] / s->wall2[i], p = 2.0 * (1.0 - 1.0 / s2);
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

static int ceil_log2(int n) { int k = 0; while ((1 << k) < n) k++; return k; }

// Seconds per step on `nodes` nodes of link l, the fastest layout; its
// ranks a node in *ranks (0: the batch cannot be split over these nodes).
static double sm_step(const SmModel *m, const SmShape *s, int global, int nodes, int l, int *ranks,
                      double *comm_s) {
    double best = 0;
    *ranks = 0;
    if (global % nodes) return 0;
    const int node_batch = global / nodes;
    const double bw = m->gbit[l] * 1e9 / 8, lat = m->lat_us[l] * 1e-6;
    for (int i = 0; i < s->nb; i++) {
        int b = s->batch[i];
        if (node_batch % b || !(s->cpu1[i] > 0)) continue;
        int r = node_batch / b;
        if (r > m->cores || m->cores % r) continue;
        int t = m->cores / r;
        double p = sm_parallel_fraction(m, s, b);
        double comp = s->cpu1[i] * ((1 - p) + p / t);
        double comm = 0, gbytes = 4.0 * s->nparam;
        for (int k = 0; k < m->nbn; k++)
            comm += ceil_log2(nodes) * (lat + 8.0 * m->bn[k] / bw) + ceil_log2(r) * SHM_LAT_US * 1e-6;
        if (nodes > 1) comm += 2.0 * (nodes - 1) * lat + 2.0 * (nodes - 1) / nodes * gbytes / bw;
        comm += 2.0 * (r - 1) / r * gbytes / (SHM_GBS * 1e9);
        if (!*ranks || comp + comm < best) { best = comp + comm; *ranks = r; *comm_s = comm; }
    }
    return best;
}

static void sm_project(const SmModel *m, const SmRun *run, int per_node_batch) {
    const char *what = per_node_batch ? "global batch grows with the nodes" : "official global batch";
    if (per_node_batch)
        printf("scale-model | %s, %s (%d a node; the recipe's epochs of %d x %d samples): %d epochs, %d streams one "
               "after another\n", run->name, what, per_node_batch, run->steps_per_epoch, run->global_batch, run->epochs,
               run->streams);
    else
        printf("scale-model | %s, %s: %d steps/epoch at batch %d, %d epochs, %d streams one after another\n",
               run->name, what, run->steps_per_epoch, run->global_batch, run->epochs, run->streams);
    printf("%6s", "nodes");
    for (int l = 0; l < m->nlinks; l++) printf(" | %3.0f Gb/s %2.0f us: ranks x thr, s/step, comm%%, samples/s, run h", m->gbit[l], m->lat_us[l]);
    putchar('\n');
    double base[SM_MAX_LINKS] = {0};
    for (int nodes = 1; nodes <= 256; nodes *= 2) {
        int global = per_node_batch ? per_node_batch * nodes : run->global_batch;
        printf("%6d", nodes);
        for (int l = 0; l < m->nlinks; l++) {
            int r;
            double comm = 0, st = sm_step(m, run->shape, global, nodes, l, &r, &comm);
            if (!r) { printf(" | %-59s", "cannot split the batch (< 1 sample a rank)"); continue; }
            double sps = global / st;
            // samples per epoch stay those of the recipe (steps x its batch)
            double epoch_steps = (double)run->steps_per_epoch * run->global_batch / global;
            double hours = floor(epoch_steps) * run->epochs * run->streams * st / 3600.0;
            if (nodes == 1) base[l] = sps;
            printf(" | %3d x %2d, %7.3f, %3.0f%%, %8.0f (%3.0f%%), %7.2f", r, m->cores / r, st, 100 * comm / st, sps,
                   base[l] > 0 ? 100 * sps / (base[l] * nodes) : 0, hours);
        }
        putchar('\n');
    }
}

int main(int argc, char **argv) {
    static SmModel m;
    const char *links = "100:2 25:10";
    m.cores = 64;
    m.p_override = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--links")) links = argv[i + 1];
        else if (!strcmp(argv[i], "--cores")) m.cores = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--parallel-fraction")) m.p_override = atof(argv[i + 1]);
    }
    for (const char *p = links; *p && m.nlinks < SM_MAX_LINKS;) {
        double g, u;
        int used;
        if (sscanf(p, " %lf:%lf%n", &g, &u, &used) != 2) break;
        m.gbit[m.nlinks] = g;
        m.lat_us[m.nlinks++] = u;
        p += used;
    }
    if (m.nlinks == 0 || m.cores < 1) { fprintf(stderr, "scale-model: --links \"GBIT:LATENCY_US ...\", --cores N\n"); return 2; }
    if (sm_read(&m, stdin)) { fprintf(stderr, "scale-model: no compute, bn or grad figures on stdin\n"); return 1; }
    char pf[64];
    if (m.p_override >= 0) snprintf(pf, sizeof pf, "a stated parallel fraction %.2f", m.p_override);
    else snprintf(pf, sizeof pf, "the measured 2-thread speedup");
    printf("scale-model | nodes of %d cores; per-core compute = this machine's CPU s/step at 1 thread; threads by Amdahl "
           "from %s; %d BN all-reduces a step; gradient %.0f floats, blocking (no overlap "
           "credit); inside a node %.0f us a reduction step and %.0f GB/s; no slowest-rank wait\n",
           m.cores, pf, m.nbn, m.ntu.nparam, SHM_LAT_US, SHM_GBS);
    printf("scale-model | columns: the fastest layout (ranks x threads a node), s/step, communication's share, "
           "samples/s (efficiency against 1 node x N), hours of the whole run\n");
    // NTU60 X-Sub: 40,091 training samples, batch 64, the last partial batch
    // dropped (CTR-GCN's loader): 626 steps. NW-UCLA: 1,020 sequences x
    // repeat 5 = 5,100 a epoch, batch 16: 318 steps.
    SmRun ntu = {"NTU60 X-Sub (40,091 samples, T 64)", &m.ntu, 64, 40091 / 64, 65, 4};
    SmRun ucla = {"NW-UCLA (1,020 x repeat 5 samples, T 52)", &m.ucla, 16, 5100 / 16, 65, 4};
    sm_project(&m, &ntu, 0);
    sm_project(&m, &ntu, 64);
    if (m.ucla.nb > 0 && m.ucla.nparam > 0) sm_project(&m, &ucla, 0);
    return 0;
}
