// 2025-ctrgcn-team-aux.c - a rank's threads splitting the batch
// (ctrgcn_team.h) under an auxiliary loss on the backbone's outputs, as the
// CoCoDiff module uses them:
//   - with kept outputs, the team's features and last unit output are the
//     whole batch's, in sample order, close to one model's forward (the BN
//     sums are added in another order), and so are the logits;
//   - ctrgcn_team_backward_ex hands each lane its share of the extra
//     gradients: the team's gradients (the module's head gradient already in
//     the model's, as the trainer leaves it) are close to one model's
//     ctrgcn_backward_ex, and what the extras add to them reaches every unit
//     and is close to what they add to one model's;
//   - the same team step twice gives the same bits;
//   - extras without kept outputs are refused.
// (Cuts through a sample's persons, and one lane: tests/2026.)
// Tiny model: base 8, K 5, N 4, T 16, NTU graph, 2 threads, training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "status.h"
#include "tap/ctrgcn_step.h"
#include "tap/tap.h"

enum { K = 5, N = 4, T = 16, THREADS = 2 };

static uint64_t rs = 2025;
static float *fill(size_t n) { return tap_urand_fill(&rs, n); }

int main(void) {
    plan(9);
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *m, *one, *start;
    if (ctrgcn_create(&m, &cfg) || ctrgcn_create(&one, &cfg) || ctrgcn_create(&start, &cfg))
        bail("cannot build the models");
    ctrgcn_init(start, 7);
    CtrgcnTeam *team;
    if (ctrgcn_team_create(&team, m, NULL, THREADS)) bail("cannot start the team");
    ctrgcn_team_keep_outputs(team);
    const int M = cfg.num_person, V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1], Tl = T / 4;
    const size_t np = ctrgcn_num_params(m), nlast = (size_t)N * M * C * Tl * V;
    float *x = fill((size_t)N * 3 * T * V * M), *dl = fill((size_t)N * K), *r = fill((size_t)N * C);
    float *G = fill(nlast), *hg = fill((size_t)K * C);
    float *l1 = tap_floats((size_t)N * K), *l2 = tap_floats((size_t)N * K);
    float *g_one = tap_floats(np), *g_one0 = tap_floats(np), *g_team = tap_floats(np), *g_team0 = tap_floats(np);
    float *g_again = tap_floats(np);

    // Outputs: the team's (two lanes of 2 samples) against one model's.
    tap_ctrgcn_copy(one, start);
    tap_ctrgcn_copy(m, start);
    if (ctrgcn_forward(one, l1, x, N, T, 1) || ctrgcn_team_forward(team, l2, x, N, T)) bail("forward failed");
    is_tensor_close_scaled(l2, l1, (size_t)N * K, "2 lanes: logits close to one model's");
    const float *f = ctrgcn_team_features(team), *last = ctrgcn_team_last_output(team);
    ok(f && last && f != ctrgcn_features(m), "2 lanes: the batch's features and last output are kept");
    if (!f || !last) bail("no kept outputs");
    is_tensor_close_scaled(f, ctrgcn_features(one), (size_t)N * C,
                           "2 lanes: pooled features (N, C) close to one model's");
    is_tensor_close_scaled(last, ctrgcn_last_output(one, NULL, NULL, NULL, NULL), nlast,
                           "2 lanes: last unit output (N*M, C, T', V) close to one model's");

    // Gradients with the module's three paths: head, pooled feature, parts.
    const TapCtrgcnStep all = {x, dl, hg, r, G}, head = {x, dl, hg, NULL, NULL};
    tap_ctrgcn_step(one, NULL, start, &all, N, T, l1, g_one);
    tap_ctrgcn_step(m, team, start, &all, N, T, l2, g_team);
    is_tensor_close_scaled(g_team, g_one, np, "with head, feature and last-output gradients: close to one model's");
    tap_ctrgcn_step(one, NULL, start, &head, N, T, l1, g_one0);
    tap_ctrgcn_step(m, team, start, &head, N, T, l2, g_team0);
    for (size_t i = 0; i < np; i++) {   // what the extras add
        g_one[i] -= g_one0[i];
        g_team[i] -= g_team0[i];
    }
    is_tensor_close_scaled(g_team, g_one, np, "what the extra gradients add: close to what they add to one model");
    const CtrgcnTensor *t1 = ctrgcn_find(m, "l1.gcn1.convs.0.conv3.weight");
    double moved = 0;
    for (size_t i = 0; t1 && i < t1->numel; i++) moved = fmax(moved, fabs(g_team[t1->offset + i]));
    ok(t1 && moved > 1e-6, "the extra gradients reach the first unit (l1.gcn1.convs.0.conv3.weight moved by %.3g)", moved);

    tap_ctrgcn_step(m, team, start, &all, N, T, l2, g_team);
    tap_ctrgcn_step(m, team, start, &all, N, T, l2, g_again);
    is_tensor_equal(g_again, g_team, np, "the same team step twice: the same gradients, bit for bit");

    CtrgcnTeam *bare;
    if (ctrgcn_team_create(&bare, m, NULL, THREADS)) bail("cannot start the team");
    tap_ctrgcn_copy(m, start);
    if (ctrgcn_team_forward(bare, l2, x, N, T)) bail("forward failed");
    ok(ctrgcn_team_features(bare) == NULL && ctrgcn_team_backward_ex(bare, dl, r, NULL) == CD_EARG,
       "outputs not kept: no features, and extra gradients are refused");
    ctrgcn_team_free(bare);

    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(one);
    ctrgcn_free(start);
    free(x); free(dl); free(r); free(G); free(hg); free(l1); free(l2);
    free(g_one); free(g_one0); free(g_team); free(g_team0); free(g_again);
    return tap_done();
}
