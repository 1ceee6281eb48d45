// ctrgcn_step.c - the model tests' CTR-GCN training step (see ctrgcn_step.h).
#include "tap/ctrgcn_step.h"

#include <stdint.h>
#include <string.h>

#include "tap/tap.h"

void tap_ctrgcn_copy(Ctrgcn *dst, Ctrgcn *src) {
    memcpy(ctrgcn_params(dst), ctrgcn_params(src), ctrgcn_num_params(src) * sizeof(float));
    memcpy(ctrgcn_buffers(dst), ctrgcn_buffers(src), ctrgcn_num_buffers(src) * sizeof(float));
    memcpy(ctrgcn_counters(dst), ctrgcn_counters(src), ctrgcn_num_counters(src) * sizeof(int64_t));
}

void tap_ctrgcn_step(Ctrgcn *m, CtrgcnTeam *team, Ctrgcn *start, const TapCtrgcnStep *s, int N, int T, float *lg,
                     float *g) {
    tap_ctrgcn_copy(m, start);
    int rc = team ? ctrgcn_team_forward(team, lg, s->x, N, T) : ctrgcn_forward(m, lg, s->x, N, T, 1);
    if (rc) bail("forward failed");
    ctrgcn_zero_grad(m);
    float *gw;
    ctrgcn_head(m, NULL, NULL, &gw, NULL);
    const size_t nh = (size_t)ctrgcn_config(m)->num_class * ctrgcn_config(m)->width[CTRGCN_UNITS - 1];
    for (size_t i = 0; i < nh; i++) gw[i] += s->hg[i];
    rc = team ? ctrgcn_team_backward_ex(team, s->dl, s->r, s->G) : ctrgcn_backward_ex(m, s->dl, s->r, s->G);
    if (rc) bail("backward failed");
    memcpy(g, ctrgcn_grads(m), ctrgcn_num_params(m) * sizeof *g);
}
