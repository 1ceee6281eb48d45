// 2029-ctrgcn-team-rowsframes.c - a rank's threads splitting a batch of
// fewer (sample, person) rows than threads by rows AND frames
// (ctrgcn_team.h's rows x time blocks): each row gets a group of g =
// min(threads / rows, T / 4) lanes that split its frames as the time blocks
// split one row (tests/2027); the halos and the CTR-GC time-means stay in
// the row's group, the pooling adds the sample's lanes (NTU pools over
// persons and frames), data_bn's sums come from the sample's first person's
// lanes (its channels are per person), the BN sums and gradients from all.
// Cases: one NTU sample (M = 2, V 25) over 4 threads (2 rows x 2 lanes) and
// 6 threads (2 x 3), T 52 and 64, and T 13 over 6 (2 x 3: blocks of one
// frame after the second stride, halos across two lanes); one Kinetics-like
// sample (openpose18: M = 2, V 18) of T 50 over 5 threads (2 x 2, a thread
// idle, T not a multiple of 4); two NW-UCLA samples (M = 1, V 20) over 4
// threads (2 x 2), three over 7 (3 x 2, a thread idle), two of T 30 over 5
// (2 x 2, a thread idle). For each, one team
// step with the CoCoDiff module's three gradient paths (head, pooled
// feature, last unit output) against one model's:
//   - logits, the gathered features and last unit output, every parameter
//     gradient, the CTR-GC topology's at their own scale (alpha 0.5), the
//     BN running statistics close to one model's, the counters equal;
//   - the same team step twice gives the same bits, also with the barriers'
//     waits timed (every group passes the same sites).
// And the batch's size changing between steps on one team (the last partial
// batch: NW-UCLA on 4 threads 2, 1, 4, 3, 2 samples: 2 x 2 lanes, time
// blocks, rows, rows, 2 x 2; NTU 2, 1, 1 of 30 frames, 1: rows, 2 x 2, ...),
// keeping the outputs and not: every step as a fresh team's, bit for bit (no
// state of an earlier layout left: halos, blocks, gradient targets), and
// close to one model's.
// Tiny model: base 8, K 5, training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "status.h"
#include "tap/ctrgcn_step.h"
#include "tap/tap.h"

enum { K = 5, NMAX = 3 };

static uint64_t rs = 2029;
static float *fill(size_t n) { return tap_urand_fill(&rs, n); }

static void check(const CtrgcnConfig *cfg, Ctrgcn *start, const TapCtrgcnStep *s, int N, int T, int threads,
                  int g) {
    Ctrgcn *m, *one;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, cfg) || ctrgcn_create(&one, cfg) || ctrgcn_team_create(&team, m, NULL, threads))
        bail("cannot build the models");
    ctrgcn_team_keep_outputs(team);
    const int M = cfg->num_person, C = cfg->width[CTRGCN_UNITS - 1];
    const char *L = cfg->layout->graph;
    const size_t np = ctrgcn_num_params(m), nb = ctrgcn_num_buffers(m), nc = ctrgcn_num_counters(m);
    float *l1 = tap_floats((size_t)N * K), *l2 = tap_floats((size_t)N * K), *l3 = tap_floats((size_t)N * K);
    float *g1 = tap_floats(np), *g2 = tap_floats(np), *g3 = tap_floats(np);

    ok(ctrgcn_team_row_lanes(team, N * M, T) == g, "%s N %d, T %d, %d threads: %d rows of %d lanes", L, N, T,
       threads, N * M, g);
    tap_ctrgcn_step(one, NULL, start, s, N, T, l1, g1);
    int Tl, V;
    ctrgcn_last_output(one, NULL, &Tl, &V, NULL);
    const size_t nlast = (size_t)N * M * C * Tl * V;
    tap_ctrgcn_step(m, team, start, s, N, T, l2, g2);
    is_tensor_close_scaled(l2, l1, (size_t)N * K, "%s N %d, T %d, %d threads: logits close to one model's", L, N, T,
                           threads);
    const float *f = ctrgcn_team_features(team), *last = ctrgcn_team_last_output(team);
    if (!f || !last) bail("no kept outputs");
    ok(f != ctrgcn_features(m), "%s N %d, T %d, %d threads: the rows ran as lanes (outputs gathered)", L, N, T,
       threads);
    is_tensor_close_scaled(f, ctrgcn_features(one), (size_t)N * C, "%s N %d, T %d, %d threads: pooled features close",
                           L, N, T, threads);
    is_tensor_close_scaled(last, ctrgcn_last_output(one, NULL, NULL, NULL, NULL), nlast,
                           "%s N %d, T %d, %d threads: last unit output close", L, N, T, threads);
    is_tensor_close_scaled(g2, g1, np,
                           "%s N %d, T %d, %d threads: every gradient (head, feature, last-output paths) close", L,
                           N, T, threads);
    // The CTR-GC topology's gradients at their own scale (as tests/2027:
    // small next to the rest; under 1e-6 is rounding, skipped).
    int checked;
    const int bad = tap_ctrgcn_topology_off(m, g2, g1, &checked);
    ok(!bad && checked > 0,
       "%s N %d, T %d, %d threads: the topology's gradients close at their own scale (%d tensors, %d off)", L, N, T,
       threads, checked, bad);
    is_tensor_close_scaled(ctrgcn_buffers(m), ctrgcn_buffers(one), nb,
                           "%s N %d, T %d, %d threads: BN running statistics close", L, N, T, threads);
    ok(memcmp(ctrgcn_counters(m), ctrgcn_counters(one), nc * sizeof(int64_t)) == 0,
       "%s N %d, T %d, %d threads: the same counters", L, N, T, threads);
    tap_ctrgcn_step(m, team, start, s, N, T, l3, g3);
    ok(memcmp(l3, l2, (size_t)N * K * sizeof(float)) == 0 && memcmp(g3, g2, np * sizeof(float)) == 0 &&
           memcmp(ctrgcn_team_last_output(team), last, nlast * sizeof(float)) == 0,
       "%s N %d, T %d, %d threads: the same step twice gives the same bits", L, N, T, threads);
    // the barriers' waits measured: the same bits, every group at every site
    char *text = NULL;
    size_t text_n = 0;
    FILE *mf = open_memstream(&text, &text_n);
    if (!mf || ctrgcn_team_time_waits(team, 1)) bail("cannot time the waits");
    tap_ctrgcn_step(m, team, start, s, N, T, l3, g3);
    ctrgcn_team_print_waits(team, mf, 1);
    fclose(mf);
    ok(memcmp(l3, l2, (size_t)N * K * sizeof(float)) == 0 && memcmp(g3, g2, np * sizeof(float)) == 0 &&
           strstr(text, "BN reductions       61 sites") && strstr(text, "CTR-GC time-means   20 sites") &&
           strstr(text, "halo gradients      10 sites"),
       "%s N %d, T %d, %d threads: the waits timed, the same bits and every barrier site", L, N, T, threads);
    free(text);

    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(one);
    free(l1); free(l2); free(l3); free(g1); free(g2); free(g3);
}

// Every case of one layout (M persons) from one start model.
static void layout(const char *graph, int M, const int (*cases)[4], int n) {
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find(graph), 8);
    cfg.num_person = M;
    Ctrgcn *start;
    if (ctrgcn_create(&start, &cfg)) bail("cannot build the model");
    ctrgcn_init(start, 7);
    tap_ctrgcn_set_alpha(start, 0.5f);   // the topology's gradients not zero
    const int V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1];
    for (int i = 0; i < n; i++) {
        const int N = cases[i][0], T = cases[i][1];
        float *x = fill((size_t)N * 3 * T * V * M), *dl = fill((size_t)N * K), *hg = fill((size_t)K * C);
        float *r = fill((size_t)N * C), *G = fill((size_t)N * M * C * ((T - 1) / 4 + 1) * V);
        TapCtrgcnStep s = {x, dl, hg, r, G};
        check(&cfg, start, &s, N, T, cases[i][2], cases[i][3]);
        free(x); free(dl); free(hg); free(r); free(G);
    }
    ctrgcn_free(start);
}

// Steps of Ns[i] samples of Ts[i] frames on one team of `threads`, each
// against a fresh team's and one model's (keep: the outputs kept and the
// module's gradients given).
static void sizes(const char *graph, int M, int threads, const int *Ns, const int *Ts, int n, int keep) {
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find(graph), 8);
    cfg.num_person = M;
    Ctrgcn *start, *m, *m2, *one;
    CtrgcnTeam *team;
    if (ctrgcn_create(&start, &cfg) || ctrgcn_create(&m, &cfg) || ctrgcn_create(&m2, &cfg) ||
        ctrgcn_create(&one, &cfg) || ctrgcn_team_create(&team, m, NULL, threads))
        bail("cannot build the models");
    ctrgcn_init(start, 11);
    if (keep) ctrgcn_team_keep_outputs(team);
    const int V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1];
    const size_t np = ctrgcn_num_params(m);
    int same = 1, close = 1;
    char layouts[160] = "";
    for (int i = 0; i < n; i++) {
        const int N = Ns[i], T = Ts[i];
        const size_t nl = (size_t)N * K;
        float *x = fill((size_t)N * 3 * T * V * M), *dl = fill(nl), *hg = fill((size_t)K * C), *r = fill((size_t)N * C);
        float *G = fill((size_t)N * M * C * ((T - 1) / 4 + 1) * V);
        TapCtrgcnStep s = {x, dl, hg, keep ? r : NULL, keep ? G : NULL};
        float *l1 = tap_floats(nl), *l2 = tap_floats(nl), *l3 = tap_floats(nl);
        float *g1 = tap_floats(np), *g2 = tap_floats(np), *g3 = tap_floats(np);
        const int g = ctrgcn_team_row_lanes(team, N * M, T);
        snprintf(layouts + strlen(layouts), sizeof layouts - strlen(layouts), "%s%d", i ? ", " : "", g);
        tap_ctrgcn_step(m, team, start, &s, N, T, l1, g1);
        CtrgcnTeam *fresh;
        if (ctrgcn_team_create(&fresh, m2, NULL, threads)) bail("cannot build the team");
        if (keep) ctrgcn_team_keep_outputs(fresh);
        tap_ctrgcn_step(m2, fresh, start, &s, N, T, l2, g2);
        if (memcmp(l1, l2, nl * sizeof *l1) || memcmp(g1, g2, np * sizeof *g1) ||
            memcmp(ctrgcn_buffers(m), ctrgcn_buffers(m2), ctrgcn_num_buffers(m) * sizeof(float))) {
            diag("step %d (N %d, T %d, %d lanes a row): not a fresh team's bits", i, N, T, g);
            same = 0;
        }
        ctrgcn_team_free(fresh);
        tap_ctrgcn_step(one, NULL, start, &s, N, T, l3, g3);
        double sl = 0, sg = 0, el = 0, eg = 0;
        for (size_t k = 0; k < nl; k++) sl = fmax(sl, fabs(l3[k])), el = fmax(el, fabs(l1[k] - l3[k]));
        for (size_t k = 0; k < np; k++) sg = fmax(sg, fabs(g3[k])), eg = fmax(eg, fabs(g1[k] - g3[k]));
        if (el > 1e-4 * sl + 1e-6 || eg > 1e-3 * sg) {   // tests/2027's 1e-3 of the largest for the gradients
            diag("step %d (N %d, T %d): logits off by %g (of %g), gradients by %g (of %g)", i, N, T, el, sl, eg, sg);
            close = 0;
        }
        free(x); free(dl); free(hg); free(r); free(G);
        free(l1); free(l2); free(l3); free(g1); free(g2); free(g3);
    }
    ok(same, "%s on %d threads, outputs %s, batch sizes changing (lanes a row: %s): every step a fresh team's bits",
       graph, threads, keep ? "kept" : "not kept", layouts);
    ok(close, "%s on %d threads, outputs %s: every step close to one model's", graph, threads,
       keep ? "kept" : "not kept");
    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(m2);
    ctrgcn_free(one);
    ctrgcn_free(start);
}

int main(void) {
    // N, T, threads, lanes a row
    static const int ntu[][4] = {{1, 52, 4, 2}, {1, 64, 4, 2}, {1, 52, 6, 3}, {1, 64, 6, 3}, {1, 13, 6, 3}};
    static const int kin[][4] = {{1, 50, 5, 2}};
    static const int ucla[][4] = {{2, 52, 4, 2}, {2, 64, 4, 2}, {3, 52, 7, 2}, {2, 30, 5, 2}};
    plan(11 * 10 + 3 + 2 * 4);
    layout("ntu25", 2, ntu, 5);
    layout("openpose18", 2, kin, 1);
    layout("ucla20", 1, ucla, 4);

    static const int uN[] = {2, 1, 4, 3, 2}, uT[] = {52, 52, 52, 52, 52};
    static const int nN[] = {2, 1, 1, 1}, nT[] = {52, 52, 30, 52};
    for (int keep = 1; keep >= 0; keep--) {
        sizes("ucla20", 1, 4, uN, uT, 5, keep);
        sizes("ntu25", 2, 4, nN, nT, 4, keep);
    }

    // Not split by frames: as many rows as threads (the rows split), 3 rows
    // over 4 threads (one lane a row), one row (the time blocks alone).
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *m;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, &cfg) || ctrgcn_team_create(&team, m, NULL, 4)) bail("cannot build the model");
    ok(ctrgcn_team_row_lanes(team, 4, 64) == 1 && ctrgcn_team_row_lanes(team, 3, 64) == 1,
       "4 threads: 4 rows or 3 rows, one lane a row");
    ok(ctrgcn_team_row_lanes(team, 1, 64) == 4 && ctrgcn_team_frame_lanes(team, 64) == 4 &&
           ctrgcn_team_row_lanes(team, 1, 12) == 3,
       "4 threads: one row of 64 frames in 4 blocks, of 12 frames in 3");
    ok(ctrgcn_team_row_lanes(team, 2, 4) == 1, "4 threads: 2 rows of 4 frames, one block each (not split)");
    ctrgcn_team_free(team);
    ctrgcn_free(m);
    return tap_done();
}
