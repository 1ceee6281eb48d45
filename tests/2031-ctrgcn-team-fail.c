// 2031-ctrgcn-team-fail.c - a lane's error inside a rank's threads' backward
// (ctrgcn_team.h): an allocation failure injected in one lane (the head's
// gradient buffer, ctrgcn_pass.c's only allocation inside a pass; this test
// links with -Wl,--wrap=cd_calloc_at) breaks the team's barrier, so the
// other lanes stop waiting: the backward returns CD_ENOMEM (an alarm ends a
// hang), over rows x time blocks (2 NW-UCLA samples on 4 threads: 2 rows x
// 2 blocks; one NTU sample: 2 persons x 2 blocks) and over rows (4 samples
// on 4 threads). The team goes on: each later step (forward, backward with
// the gradients zeroed) gives the same bits as a fresh team's, also in a
// layout with more lanes than the step after the failure had (the failed
// pass's partial gradients in a lane left idle by that step do not leak).
// Tiny model: base 8, K 5, training-mode BN.
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "status.h"
#include "tap/ctrgcn_step.h"
#include "tap/tap.h"

enum { K = 5, THREADS = 4 };

// The injection: the fail_at-th allocation from ctrgcn_pass.c fails (-1: none).
static atomic_int fail_at = -1, calls;
void *__real_cd_calloc_at(size_t n, size_t size, const char *file, int line);
void *__wrap_cd_calloc_at(size_t n, size_t size, const char *file, int line) {
    if (strstr(file, "ctrgcn_pass.c") && atomic_load(&fail_at) >= 0 &&
        atomic_fetch_add(&calls, 1) == atomic_load(&fail_at)) {
        cd_err_at(file, line, "(injected) out of memory allocating %zu x %zu bytes", n, size);
        return NULL;
    }
    return __real_cd_calloc_at(n, size, file, line);
}

static uint64_t rs = 2031;

// Steps on one team of THREADS: fail[i] >= 0 injects the failure in the
// backward's fail[i]-th allocation; the others are whole steps compared to
// a fresh team's.
static void steps(const char *graph, int M, const int *Ns, const int *Ts, const int *fail, int n) {
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find(graph), 8);
    cfg.num_person = M;
    Ctrgcn *start, *m, *m2;
    CtrgcnTeam *team;
    if (ctrgcn_create(&start, &cfg) || ctrgcn_create(&m, &cfg) || ctrgcn_create(&m2, &cfg) ||
        ctrgcn_team_create(&team, m, NULL, THREADS))
        bail("cannot build the models");
    ctrgcn_init(start, 3);
    const int V = cfg.num_point, C = cfg.width[CTRGCN_UNITS - 1];
    const size_t np = ctrgcn_num_params(m);
    for (int i = 0; i < n; i++) {
        const int N = Ns[i], T = Ts[i], R = N * M, g = ctrgcn_team_row_lanes(team, R, T);
        const int lanes = g > 1 ? R * g : R < THREADS ? R : THREADS;
        float *x = tap_urand_fill(&rs, (size_t)N * 3 * T * V * M), *dl = tap_urand_fill(&rs, (size_t)N * K);
        float *hg = tap_urand_fill(&rs, (size_t)K * C);
        float *l1 = tap_floats((size_t)N * K), *l2 = tap_floats((size_t)N * K), *g1 = tap_floats(np),
              *g2 = tap_floats(np);
        if (fail[i] >= 0) {
            tap_ctrgcn_copy(m, start);
            if (ctrgcn_team_forward(team, l1, x, N, T)) bail("forward failed");
            ctrgcn_zero_grad(m);
            atomic_store(&calls, 0);
            atomic_store(&fail_at, fail[i]);
            const int rc = ctrgcn_team_backward(team, dl);
            atomic_store(&fail_at, -1);
            ok(rc == CD_ENOMEM, "%s N %d, T %d (%d lanes): one lane's allocation failure ends the backward (rc %d)",
               graph, N, T, lanes, rc);
        } else {
            TapCtrgcnStep s = {x, dl, hg, NULL, NULL};
            tap_ctrgcn_step(m, team, start, &s, N, T, l1, g1);
            CtrgcnTeam *fresh;
            if (ctrgcn_team_create(&fresh, m2, NULL, THREADS)) bail("cannot build the team");
            tap_ctrgcn_step(m2, fresh, start, &s, N, T, l2, g2);
            size_t bad = 0;
            for (size_t p = 0; p < np; p++) bad += memcmp(&g1[p], &g2[p], sizeof *g1) != 0;
            ok(!memcmp(l1, l2, (size_t)N * K * sizeof *l1) && !bad,
               "%s N %d, T %d (%d lanes): then a step as a fresh team's, bit for bit (%zu gradients differ)", graph,
               N, T, lanes, bad);
            ctrgcn_team_free(fresh);
        }
        free(x); free(dl); free(hg); free(l1); free(l2); free(g1); free(g2);
    }
    ctrgcn_team_free(team);
    ctrgcn_free(m);
    ctrgcn_free(m2);
    ctrgcn_free(start);
}

int main(void) {
    alarm(120);   // a lane left at a barrier hangs: SIGALRM ends the test, failed
    plan(5 + 3);
    // NW-UCLA: the failure over 2 rows x 2 blocks (4 lanes); a step of one
    // row of 8 frames (2 blocks: lanes 2 and 3 idle); 2 x 2 again, lanes 2
    // and 3 back; the failure over 4 rows (4 lanes), then 2 x 2.
    static const int uN[] = {2, 1, 2, 4, 2}, uT[] = {52, 8, 52, 52, 52}, uf[] = {1, -1, -1, 2, -1};
    steps("ucla20", 1, uN, uT, uf, 5);
    // NTU, one sample: the failure over 2 persons x 2 blocks, a step of 2
    // persons of 4 frames (a lane each), then 2 x 2 again.
    static const int nN[] = {1, 1, 1}, nT[] = {52, 4, 52}, nf[] = {3, -1, -1};
    steps("ntu25", 2, nN, nT, nf, 3);
    return tap_done();
}
