// 2028-ctrgcn-team-zero.c - the step's serial work moved onto a rank's threads
// (ctrgcn_team.h): ctrgcn_team_zero_grad (the model's gradients zeroed by
// the team's backward: its sum stores instead of adding, or over one row's
// frames each lane zeroes a slice) and ctrgcn_team_for (the optimizer's
// update split by element ranges).
//   - zeroing through the team gives the same gradients, bit for bit, as
//     ctrgcn_zero_grad before the team's backward, from gradients full of
//     garbage: one NTU sample over 2 threads (a person a lane), 3 samples
//     over 2 (sample 1's persons apart), 2 samples over 3 (a sample a lane,
//     4 rows over 3), one NW-UCLA row over 2 and 3 threads (time blocks),
//     rows x time blocks (one NTU sample over 4 threads: 2 persons x 2
//     blocks; two NW-UCLA samples over 5: 2 rows x 2 blocks, a thread idle), a
//     row of 4 frames (one lane: the model's own pass), and a team of one
//     thread; and a second backward without zeroing (accumulation) adds to
//     them as before, bit for bit;
//   - optim_sgd_update over ctrgcn_team_for's ranges (1, 2 and 3 threads),
//     then optim_sgd_count, is optim_sgd_step bit for bit over three steps
//     (the first sets the momentum buffers), with nesterov and without; the
//     non-finite weights both count in the update's pass (the trainer's
//     divergence check) are those there are: 0, then 2 after a step with an
//     infinite and a NaN gradient.
// Tiny model: base 8, K 5, training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "optim.h"
#include "status.h"
#include "tap/tap.h"

enum { K = 5, NMAX = 3, TMAX = 16 };

static uint64_t rs = 2028;

static float *zt_alloc(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) bail("out of memory");
    return p;
}

// Two backwards of the same forward: the first after zeroing (through the
// team when via_team), the second adding to it. Gradients after each -> g1, g2.
static void two_backwards(Ctrgcn *m, CtrgcnTeam *team, const float *x, const float *dl, int N, int T, int via_team,
                          float *g1, float *g2) {
    const size_t np = ctrgcn_num_params(m);
    float lg[NMAX * K];
    float *g = ctrgcn_grads(m);
    for (size_t i = 0; i < np; i++) g[i] = 1e3f * tap_urand(&rs);   // garbage the zeroing must clear
    if (ctrgcn_team_forward(team, lg, x, N, T)) bail("forward failed");
    if (via_team) ctrgcn_team_zero_grad(team);
    else ctrgcn_zero_grad(m);
    if (ctrgcn_team_backward(team, dl)) bail("backward failed");
    memcpy(g1, g, np * sizeof *g1);
    if (ctrgcn_team_forward(team, lg, x, N, T) || ctrgcn_team_backward(team, dl)) bail("second pass failed");
    memcpy(g2, g, np * sizeof *g2);
}

static void check_zero(const char *layout, int N, int T, int threads, const char *what) {
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find(layout), 8);
    if (!strcmp(layout, "ucla20")) cfg.num_person = 1;   // NW-UCLA: one row a sample
    Ctrgcn *m;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, &cfg) || ctrgcn_team_create(&team, m, NULL, threads)) bail("cannot build the model");
    ctrgcn_init(m, 5);
    const size_t np = ctrgcn_num_params(m);
    const size_t nx = (size_t)N * cfg.in_channels * T * cfg.num_point * cfg.num_person;
    float *x = tap_urand_fill(&rs, nx), *dl = tap_urand_fill(&rs, (size_t)N * K);
    float *a1 = zt_alloc(np), *a2 = zt_alloc(np), *b1 = zt_alloc(np), *b2 = zt_alloc(np);
    // The running statistics move with every forward: each pair of passes
    // starts from the same ones.
    const size_t nb = ctrgcn_num_buffers(m);
    float *buf = zt_alloc(nb);
    memcpy(buf, ctrgcn_buffers(m), nb * sizeof *buf);
    two_backwards(m, team, x, dl, N, T, 0, a1, a2);
    memcpy(ctrgcn_buffers(m), buf, nb * sizeof *buf);
    two_backwards(m, team, x, dl, N, T, 1, b1, b2);
    double s = 0;
    for (size_t i = 0; i < np; i++) s += a1[i] != 0.0f;
    ok(s > 0 && memcmp(a1, b1, np * sizeof *a1) == 0,
       "%s: zeroed by the team's backward, the same gradients bit for bit", what);
    ok(memcmp(a2, b2, np * sizeof *a2) == 0, "%s: a second backward adds to them as before, bit for bit", what);
    ctrgcn_team_free(team);
    ctrgcn_free(m);
    free(x); free(dl); free(a1); free(a2); free(b1); free(b2); free(buf);
}

static void check_sgd(int threads, int nesterov) {
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *m;
    CtrgcnTeam *team;
    if (ctrgcn_create(&m, &cfg) || ctrgcn_team_create(&team, m, NULL, threads)) bail("cannot build the model");
    const size_t n = 100003;   // not a multiple of the threads
    float *p1 = tap_urand_fill(&rs, n), *p2 = zt_alloc(n);
    memcpy(p2, p1, n * sizeof *p2);
    OptimSgd o1, o2;
    if (optim_sgd_init(&o1, n, 0.9, 4e-4, nesterov) || optim_sgd_init(&o2, n, 0.9, 4e-4, nesterov))
        bail("out of memory");
    int counts_ok = 1;
    for (int step = 0; step < 3; step++) {
        float *g = tap_urand_fill(&rs, n);
        if (step == 1) g[7] = INFINITY, g[n - 1] = NAN;   // one in the first range, one in the last
        size_t c1 = optim_sgd_step(&o1, p1, g, 0.1);
        OptimSgdShare a = {&o2, p2, g, 0.1, 0};
        ctrgcn_team_for(team, n, optim_sgd_range, &a);
        optim_sgd_count(&o2);
        size_t c2 = atomic_load(&a.nonfinite), want = 0;
        for (size_t i = 0; i < n; i++) want += !isfinite(p1[i]);
        if (c1 != want || c2 != want || want != (step ? 2u : 0u)) {
            diag("step %d: counted %zu and %zu non-finite, there are %zu", step, c1, c2, want);
            counts_ok = 0;
        }
        free(g);
    }
    ok(o1.steps == o2.steps && memcmp(p1, p2, n * sizeof *p1) == 0 && memcmp(o1.buf, o2.buf, n * sizeof *p1) == 0,
       "%d threads%s: the SGD update split over ctrgcn_team_for is optim_sgd_step bit for bit (3 steps)", threads,
       nesterov ? ", nesterov" : "");
    ok(counts_ok, "%d threads%s: both count the non-finite weights the step leaves (0, 2, 2)", threads,
       nesterov ? ", nesterov" : "");
    optim_sgd_free(&o1);
    optim_sgd_free(&o2);
    free(p1); free(p2);
    ctrgcn_team_free(team);
    ctrgcn_free(m);
}

int main(void) {
    plan(2 * 9 + 12);
    check_zero("ntu25", 1, TMAX, 2, "one NTU sample, 2 threads (a person a lane)");
    check_zero("ntu25", 3, TMAX, 2, "3 NTU samples, 2 threads (sample 1's persons apart)");
    check_zero("ntu25", 2, TMAX, 3, "2 NTU samples, 3 threads (4 rows over 3 lanes)");
    check_zero("ucla20", 1, TMAX, 2, "one NW-UCLA row, 2 threads (time blocks)");
    check_zero("ucla20", 1, TMAX, 3, "one NW-UCLA row, 3 threads (time blocks)");
    check_zero("ntu25", 1, TMAX, 4, "one NTU sample, 4 threads (rows x time blocks: 2 persons x 2 blocks)");
    check_zero("ucla20", 2, TMAX, 5, "2 NW-UCLA samples, 5 threads (rows x time blocks: 2 x 2, a thread idle)");
    check_zero("ucla20", 1, 4, 2, "one NW-UCLA row of 4 frames (one lane: the model's own pass)");
    check_zero("ntu25", 2, TMAX, 1, "a team of one thread");
    for (int th = 1; th <= 3; th++)
        for (int nes = 0; nes < 2; nes++) check_sgd(th, nes);
    return tap_done();
}
