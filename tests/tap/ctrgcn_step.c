// ctrgcn_step.c - the model tests' CTR-GCN training step (see ctrgcn_step.h).
#include "tap/ctrgcn_step.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tap/tap.h"

void tap_ctrgcn_copy(Ctrgcn *dst, Ctrgcn *src) {
    memcpy(ctrgcn_params(dst), ctrgcn_params(src), ctrgcn_num_params(src) * sizeof(float));
    memcpy(ctrgcn_buffers(dst), ctrgcn_buffers(src), ctrgcn_num_buffers(src) * sizeof(float));
    memcpy(ctrgcn_counters(dst), ctrgcn_counters(src), ctrgcn_num_counters(src) * sizeof(int64_t));
}

void tap_ctrgcn_set_alpha(Ctrgcn *m, float a) {
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *tt = ctrgcn_tensor(m, i);
        if (tt->kind == CK_PARAM && strstr(tt->name, "alpha")) ctrgcn_params(m)[tt->offset] = a;
    }
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

int tap_ctrgcn_topology_off(Ctrgcn *m, const float *g, const float *ref, int *checked) {
    int bad = 0;
    *checked = 0;
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *tt = ctrgcn_tensor(m, i);
        if (tt->kind != CK_PARAM || !(strstr(tt->name, "conv4") || strstr(tt->name, "alpha") ||
                                      strstr(tt->name, "PA") || strstr(tt->name, "conv1.weight") ||
                                      strstr(tt->name, "conv2.weight")))
            continue;
        const float *a = g + tt->offset, *b = ref + tt->offset;
        double sc = 0, worst = 0;
        for (size_t k = 0; k < tt->numel; k++) sc = fmax(sc, fabs(b[k]));
        if (sc < 1e-6) continue;
        (*checked)++;
        for (size_t k = 0; k < tt->numel; k++) worst = fmax(worst, fabs(a[k] - b[k]) / sc);
        if (worst > 1e-4 && !bad++) diag("%s: off by %g of its largest gradient %g", tt->name, worst, sc);
    }
    return bad;
}
