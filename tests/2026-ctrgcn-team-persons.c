// 2026-ctrgcn-team-persons.c - a rank's threads cutting the batch's
// (sample, person) rows (ctrgcn_team.h), where the cut runs through samples:
// one sample of two persons over 2 and 3 threads (two lanes, a person
// each), 3 samples over 2 threads (the middle sample's persons in two
// lanes) and 4 samples over 3 threads (rows 2 | 3 | 3). For each, one team
// step with the CoCoDiff module's three gradient paths (head, pooled
// feature, last unit output) against one model's:
//   - logits, the gathered features and last unit output, the gradients and
//     the running statistics close to one model's (the BN sums are added in
//     another order), the counters equal;
//   - the same team step twice gives the same bits.
// With one person (NW-UCLA's M = 1) one sample is one row: its frames split
// over the lanes (time blocks, tests/2027), outputs gathered; at T 4 (under
// two blocks of 4 frames) one lane, the model's own pass; two samples are
// two lanes.
// Tiny model: base 8, K 5, T 16, NTU graph, training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "status.h"
#include "tap/ctrgcn_step.h"
#include "tap/tap.h"

enum { K = 5, T = 16, NMAX = 4 };

static uint64_t rs = 2026;
static float *fill(size_t n) { return tap_urand_fill(&rs, n); }

// One case: N samples over `threads` threads against one model.
static void check(const CtrgcnConfig *cfg, Ctrgcn *start, const TapCtrgcnStep *s, int N, int threads) {
    Ctrgcn *m, *one;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, cfg) || ctrgcn_create(&one, cfg) || ctrgcn_team_create(&team, m, NULL, threads))
        bail("cannot build the models");
    ctrgcn_team_keep_outputs(team);
    const int M = cfg->num_person, C = cfg->width[CTRGCN_UNITS - 1];
    const size_t np = ctrgcn_num_params(m), nb = ctrgcn_num_buffers(m), nc = ctrgcn_num_counters(m);
    const size_t nlast = (size_t)N * M * C * (T / 4) * cfg->num_point;
    float *l1 = tap_floats((size_t)N * K), *l2 = tap_floats((size_t)N * K), *l3 = tap_floats((size_t)N * K);
    float *g1 = tap_floats(np), *g2 = tap_floats(np), *g3 = tap_floats(np);

    tap_ctrgcn_step(one, NULL, start, s, N, T, l1, g1);
    tap_ctrgcn_step(m, team, start, s, N, T, l2, g2);
    is_tensor_close_scaled(l2, l1, (size_t)N * K, "N %d, %d threads: logits close to one model's", N, threads);
    const float *f = ctrgcn_team_features(team), *last = ctrgcn_team_last_output(team);
    if (!f || !last) bail("no kept outputs");
    is_tensor_close_scaled(f, ctrgcn_features(one), (size_t)N * C,
                           "N %d, %d threads: pooled features close", N, threads);
    is_tensor_close_scaled(last, ctrgcn_last_output(one, NULL, NULL, NULL, NULL), nlast,
                           "N %d, %d threads: last unit output close", N, threads);
    is_tensor_close_scaled(g2, g1, np,
                           "N %d, %d threads: gradients (head, feature, last-output paths) close", N, threads);
    is_tensor_close_scaled(ctrgcn_buffers(m), ctrgcn_buffers(one), nb,
                           "N %d, %d threads: running statistics close", N, threads);
    ok(memcmp(ctrgcn_counters(m), ctrgcn_counters(one), nc * sizeof(int64_t)) == 0,
       "N %d, %d threads: the same counters", N, threads);
    tap_ctrgcn_step(m, team, start, s, N, T, l3, g3);
    ok(memcmp(l3, l2, (size_t)N * K * sizeof(float)) == 0 && memcmp(g3, g2, np * sizeof(float)) == 0,
       "N %d, %d threads: the same step twice gives the same logits and gradients, bit for bit", N, threads);

    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(one);
    free(l1); free(l2); free(l3); free(g1); free(g2); free(g3);
}

int main(void) {
    plan(4 * 7 + 3);
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *start;
    if (ctrgcn_create(&start, &cfg)) bail("cannot build the model");
    ctrgcn_init(start, 11);
    const int M = cfg.num_person, V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1];
    float *x = fill((size_t)NMAX * 3 * T * V * M), *dl = fill((size_t)NMAX * K), *hg = fill((size_t)K * C);
    float *r = fill((size_t)NMAX * C), *G = fill((size_t)NMAX * M * C * (T / 4) * V);
    TapCtrgcnStep s = {x, dl, hg, r, G};   // sized for NMAX samples
    check(&cfg, start, &s, 1, 2);   // a person a lane
    check(&cfg, start, &s, 1, 3);   // still two lanes: two rows
    check(&cfg, start, &s, 3, 2);   // rows 3 | 3: sample 1's persons apart
    check(&cfg, start, &s, 4, 3);   // rows 2 | 3 | 3: samples 1 and 2 each split
    ctrgcn_free(start);

    // One person: a sample is one row.
    CtrgcnConfig one_person = cfg;
    one_person.num_person = 1;
    Ctrgcn *m;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, &one_person) || ctrgcn_team_create(&team, m, NULL, 2)) bail("cannot build the model");
    ctrgcn_team_keep_outputs(team);
    ctrgcn_init(m, 11);
    float l[2 * K];
    if (ctrgcn_team_forward(team, l, x, 1, T)) bail("forward failed");
    ok(ctrgcn_team_features(team) != ctrgcn_features(m), "M 1, 1 sample: its frames over two lanes, outputs kept");
    if (ctrgcn_team_forward(team, l, x, 1, 4)) bail("forward failed");
    ok(ctrgcn_team_features(team) == ctrgcn_features(m) &&
           ctrgcn_team_last_output(team) == ctrgcn_last_output(m, NULL, NULL, NULL, NULL),
       "M 1, 1 sample of 4 frames: one lane, whose outputs are the model's own");
    if (ctrgcn_team_forward(team, l, x, 2, T)) bail("forward failed");
    ok(ctrgcn_team_features(team) != ctrgcn_features(m), "M 1, 2 samples: two lanes, outputs kept");
    ctrgcn_team_free(team);
    ctrgcn_free(m);
    free(x); free(dl); free(hg); free(r); free(G);
    return tap_done();
}
