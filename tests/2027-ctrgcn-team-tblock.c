// 2027-ctrgcn-team-tblock.c - a rank's threads splitting ONE row (one
// sample of one person: NW-UCLA's M = 1 at one sample per rank) by its
// frames (ctrgcn_team.h's time blocks): the lanes' blocks start at
// multiples of 4 (the two stride-2 units), the temporal convolutions and the
// max-pool read their halo from the neighbouring blocks, the CTRGC
// time-means and the pooling add the lanes' partial sums. For T 52 and 64
// over 2, 3 and 4 threads (blocks 24 | 28, 16 | 16 | 20, 32 | 32, 20 | 20 | 24,
// 16 x 4) and T 16 over 3 (4 | 4 | 8: one frame a block after the second
// stride, halos across two lanes), one team step with the CoCoDiff module's
// three gradient paths (head, pooled feature, last unit output) against
// one model's:
//   - logits, the gathered features and last unit output, every parameter
//     gradient, the CTR-GC topology's (each lane's from its frames' share of
//     dM, added by the team's sum and the time-mean's) each at its own scale
//     too (alpha set to 0.5: at CTR-GCN's initial 0 they are zero), and the
//     BN running statistics close to one model's (the same sums in another
//     order), the counters equal;
//   - the same team step twice gives the same bits, also with the barriers'
//     waits timed (ctrgcn_team_time_waits), which count every site.
// Tiny model: base 8, K 5, NW-UCLA graph (V 20), training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "status.h"
#include "tap/ctrgcn_step.h"
#include "tap/tap.h"

enum { K = 5, TMAX = 64 };

static uint64_t rs = 2027;
static float *fill(size_t n) { return tap_urand_fill(&rs, n); }

static void check(const CtrgcnConfig *cfg, Ctrgcn *start, const TapCtrgcnStep *s, int T, int threads) {
    Ctrgcn *m, *one;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, cfg) || ctrgcn_create(&one, cfg) || ctrgcn_team_create(&team, m, NULL, threads))
        bail("cannot build the models");
    ctrgcn_team_keep_outputs(team);
    const int C = cfg->width[CTRGCN_UNITS - 1];
    const size_t np = ctrgcn_num_params(m), nb = ctrgcn_num_buffers(m), nc = ctrgcn_num_counters(m);
    float l1[K], l2[K], l3[K];
    float *g1 = tap_floats(np), *g2 = tap_floats(np), *g3 = tap_floats(np);

    tap_ctrgcn_step(one, NULL, start, s, 1, T, l1, g1);
    int Tl, V;
    ctrgcn_last_output(one, NULL, &Tl, &V, NULL);
    const size_t nlast = (size_t)C * Tl * V;
    tap_ctrgcn_step(m, team, start, s, 1, T, l2, g2);
    is_tensor_close_scaled(l2, l1, K, "T %d, %d threads: logits close to one model's", T, threads);
    const float *f = ctrgcn_team_features(team), *last = ctrgcn_team_last_output(team);
    if (!f || !last) bail("no kept outputs");
    ok(f != ctrgcn_features(m), "T %d, %d threads: the row ran as lanes (outputs gathered)", T, threads);
    is_tensor_close_scaled(f, ctrgcn_features(one), (size_t)C, "T %d, %d threads: pooled features close", T, threads);
    is_tensor_close_scaled(last, ctrgcn_last_output(one, NULL, NULL, NULL, NULL), nlast,
                           "T %d, %d threads: last unit output close", T, threads);
    is_tensor_close_scaled(g2, g1, np,
                           "T %d, %d threads: every gradient (head, feature, last-output paths) close", T, threads);
    // The CTR-GC topology's gradients, each lane's from its frames' share of
    // dM, each tensor at its own scale (tap_ctrgcn_topology_off).
    int checked;
    const int bad = tap_ctrgcn_topology_off(m, g2, g1, &checked);
    ok(!bad && checked > 0, "T %d, %d threads: the topology's gradients close at their own scale (%d tensors, %d off)",
       T, threads, checked, bad);
    is_tensor_close_scaled(ctrgcn_buffers(m), ctrgcn_buffers(one), nb,
                           "T %d, %d threads: BN running statistics close", T, threads);
    ok(memcmp(ctrgcn_counters(m), ctrgcn_counters(one), nc * sizeof(int64_t)) == 0,
       "T %d, %d threads: the same counters", T, threads);
    tap_ctrgcn_step(m, team, start, s, 1, T, l3, g3);
    ok(memcmp(l3, l2, sizeof l2) == 0 && memcmp(g3, g2, np * sizeof(float)) == 0 &&
           memcmp(ctrgcn_team_last_output(team), last, nlast * sizeof(float)) == 0,
       "T %d, %d threads: the same step twice gives the same bits", T, threads);
    // the barriers' waits measured: the same bits, every site counted
    // (BN: data_bn and 3 groups a unit forward, 3 a unit backward; the
    // CTR-GC time-mean and its gradient; a halo barrier a unit backward)
    char *text = NULL;
    size_t text_n = 0;
    FILE *mf = open_memstream(&text, &text_n);
    if (!mf || ctrgcn_team_time_waits(team, 1)) bail("cannot time the waits");
    tap_ctrgcn_step(m, team, start, s, 1, T, l3, g3);
    ctrgcn_team_print_waits(team, mf, 1);
    fclose(mf);
    ok(memcmp(l3, l2, sizeof l2) == 0 && memcmp(g3, g2, np * sizeof(float)) == 0 &&
           strstr(text, "BN reductions       61 sites") && strstr(text, "CTR-GC time-means   20 sites") &&
           strstr(text, "halo gradients      10 sites") && strstr(text, "team waits | total | lane 0 work"),
       "T %d, %d threads: the waits timed, the same bits and every barrier site", T, threads);
    free(text);

    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(one);
    free(g1); free(g2); free(g3);
}

int main(void) {
    static const int cases[][2] = {{52, 2}, {52, 3}, {64, 2}, {64, 3}, {64, 4}, {16, 3}};
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    plan(ncases * 10);
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ucla20"), 8);
    cfg.num_person = 1;
    Ctrgcn *start;
    if (ctrgcn_create(&start, &cfg)) bail("cannot build the model");
    ctrgcn_init(start, 7);
    tap_ctrgcn_set_alpha(start, 0.5f);   // the topology's gradients not zero
    const int V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1];
    for (int i = 0; i < ncases; i++) {
        const int T = cases[i][0];
        // inputs of this T (the last unit's output has (T - 1) / 4 + 1 frames)
        float *x = fill((size_t)3 * T * V), *dl = fill(K), *hg = fill((size_t)K * C), *r = fill((size_t)C);
        float *G = fill((size_t)C * ((T - 1) / 4 + 1) * V);
        TapCtrgcnStep s = {x, dl, hg, r, G};
        check(&cfg, start, &s, T, cases[i][1]);
        free(x); free(dl); free(hg); free(r); free(G);
    }
    ctrgcn_free(start);
    return tap_done();
}
