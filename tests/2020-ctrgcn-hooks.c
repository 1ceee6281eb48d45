// 2020-ctrgcn-hooks.c - the backbone hooks the CoCoDiff trainer uses:
//   - ctrgcn_backward_ex(m, dlogits, NULL, NULL) is ctrgcn_backward, bit for bit;
//   - an extra pooled-feature gradient r (N, C) gives the gradient of
//     L = sum r . ctrgcn_features() (central finite differences in float on
//     a few conv / BN weights and alpha, allclose; fc.weight gets none);
//   - an extra last-output gradient G (N*M, C, T', V) likewise for
//     L = sum G . ctrgcn_last_output(); and G = broadcast(r) / (M T' V) gives
//     the same grads as r, bit for bit;
//   - ctrgcn_head points at fc.weight / fc.bias in params and grads;
//   - ctrgcn_grad_stages: head, l10..l1, data_bn, each one contiguous span
//     of exactly that layer's tensors; the gradient-ready hook is called
//     with those offsets in that order, and what it is told is final is
//     final (a copy taken at each call equals the end result, bit for bit);
//   - the step profile (ctrgcn_set_profile, prof.h) changes no bit of the
//     logits, the running statistics or the gradients, fills the forward
//     and backward rows of the layer types, and adds nothing once detached.
// Tiny model: base 8, K 5, N 2, T 16, NTU graph, training-mode BN.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrgcn.h"
#include "prof.h"
#include "status.h"
#include "tap/tap.h"

enum { K = 5, N = 2, T = 16 };

static uint64_t rs = 12345;
static float urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rs >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

static float *x, *logits, *r, *G;
static size_t nlast;

// L = sum r . feat + sum G . last (either weight may be NULL), in double.
static double loss(Ctrgcn *m, int use_r, int use_g) {
    if (ctrgcn_forward(m, logits, x, N, T, 1)) bail("forward failed");
    int C;
    const float *last = ctrgcn_last_output(m, &C, NULL, NULL, NULL);
    const float *f = ctrgcn_features(m);
    double s = 0;
    if (use_r)
        for (size_t i = 0; i < (size_t)N * C; i++) s += (double)r[i] * f[i];
    if (use_g)
        for (size_t i = 0; i < nlast; i++) s += (double)G[i] * last[i];
    return s;
}

// The gradient-ready hook's record: the offsets it was called with and a
// copy of each newly final span, taken at the call.
typedef struct HookLog {
    Ctrgcn *m;
    size_t first[2 * CTRGCN_GRAD_STAGES], end;
    int n;
    float *snap;
} HookLog;
static void on_ready(size_t first, void *ctx) {
    HookLog *h = ctx;
    if (h->n < 2 * CTRGCN_GRAD_STAGES) h->first[h->n] = first;
    h->n++;
    if (first < h->end) memcpy(h->snap + first, ctrgcn_grads(h->m) + first, (h->end - first) * sizeof(float));
    if (first < h->end) h->end = first;
}

// Stage s's span [first[s], first[s - 1]) holds exactly the tensors of its
// layer: fc.*, l10.* ... l1.*, data_bn.* (num_params closes stage 0).
static int stages_ok(const Ctrgcn *m, const size_t *first) {
    int good = first[CTRGCN_GRAD_STAGES - 1] == 0;
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        if (t->kind != CK_PARAM) continue;
        int s = 0;
        while (s < CTRGCN_GRAD_STAGES && t->offset < first[s]) s++;
        size_t end = s == 0 ? ctrgcn_num_params(m) : first[s - 1];
        char want[16];
        if (s == 0) snprintf(want, sizeof want, "fc.");
        else if (s == CTRGCN_GRAD_STAGES - 1) snprintf(want, sizeof want, "data_bn.");
        else snprintf(want, sizeof want, "l%d.", CTRGCN_UNITS + 1 - s);
        if (s == CTRGCN_GRAD_STAGES || t->offset + t->numel > end || strncmp(t->name, want, strlen(want))) {
            diag("%s (offset %zu) is not in the span of stage %d (%s)", t->name, t->offset, s, want);
            good = 0;
        }
    }
    return good;
}

static int fd_check(Ctrgcn *m, int use_r, int use_g, const char *what) {
    float *p = ctrgcn_params(m), *g = ctrgcn_grads(m);
    // Weights smooth enough for float differences (the unit-level BN weights
    // near 1e-6 and data_bn move ReLU kinks; test 2000 covers those).
    const char *names[] = {"l1.gcn1.convs.0.conv1.weight", "l5.tcn1.branches.0.1.weight", "l10.gcn1.convs.2.conv3.weight",
                           "l10.tcn1.branches.1.3.conv.weight", "l7.gcn1.alpha", "fc.weight"};
    int good = 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const CtrgcnTensor *t = ctrgcn_find(m, names[k]);
        if (!t) { diag("no tensor %s", names[k]); good = 0; continue; }
        for (int j = 0; j < 2; j++) {
            size_t i = t->offset + (j * 7919u) % t->numel;
            float keep = p[i], eps = 1e-2f * (fabsf(keep) > 1 ? fabsf(keep) : 1);
            p[i] = keep + eps;
            double lp = loss(m, use_r, use_g);
            p[i] = keep - eps;
            double lm = loss(m, use_r, use_g);
            p[i] = keep;
            double fd = (lp - lm) / (2.0 * eps), an = g[i];
            if (fabs(fd - an) > 2e-3 + 5e-2 * fabs(an)) {
                diag("%s: %s[%zu]: analytic %.6g, finite difference %.6g", what, names[k], i - t->offset, an, fd);
                good = 0;
            }
        }
    }
    return good;
}

int main(void) {
    plan(10);
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *m;
    if (ctrgcn_create(&m, &cfg)) bail("cannot build the model");
    ctrgcn_init(m, 7);
    int M = cfg.num_person, V = cfg.num_point, C, Tl;
    size_t nx = (size_t)N * 3 * T * V * M, np = ctrgcn_num_params(m);
    x = malloc(nx * sizeof *x);
    logits = malloc((size_t)N * K * sizeof *logits);
    float *dl = malloc((size_t)N * K * sizeof *dl), *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    for (size_t i = 0; i < nx; i++) x[i] = urand();
    for (int i = 0; i < N * K; i++) dl[i] = urand();
    if (ctrgcn_forward(m, logits, x, N, T, 1)) bail("forward failed");
    ctrgcn_last_output(m, &C, &Tl, NULL, NULL);
    nlast = (size_t)N * M * C * Tl * V;
    r = malloc((size_t)N * C * sizeof *r);
    G = malloc(nlast * sizeof *G);
    for (int i = 0; i < N * C; i++) r[i] = urand();
    for (size_t i = 0; i < nlast; i++) G[i] = urand();

    ctrgcn_zero_grad(m);
    ctrgcn_backward(m, dl);
    memcpy(g1, ctrgcn_grads(m), np * sizeof *g1);
    ctrgcn_zero_grad(m);
    ctrgcn_backward_ex(m, dl, NULL, NULL);
    ok(!memcmp(g1, ctrgcn_grads(m), np * sizeof *g1), "ctrgcn_backward_ex without extras is ctrgcn_backward, bit for bit");

    float *w, *b, *gw, *gb;
    ctrgcn_head(m, &w, &b, &gw, &gb);
    const CtrgcnTensor *fw = ctrgcn_find(m, "fc.weight"), *fb = ctrgcn_find(m, "fc.bias");
    ok(w == ctrgcn_params(m) + fw->offset && b == ctrgcn_params(m) + fb->offset && gw == ctrgcn_grads(m) + fw->offset &&
       gb == ctrgcn_grads(m) + fb->offset, "ctrgcn_head: fc.weight and fc.bias in params and grads");

    float *zero = calloc((size_t)N * K, sizeof *zero);
    loss(m, 1, 0);
    ctrgcn_zero_grad(m);
    ctrgcn_backward_ex(m, zero, r, NULL);
    memcpy(g1, ctrgcn_grads(m), np * sizeof *g1);
    ok(fd_check(m, 1, 0, "dfeat_extra"), "dfeat_extra: the gradient of sum r . features (finite differences)");

    loss(m, 0, 1);
    ctrgcn_zero_grad(m);
    ctrgcn_backward_ex(m, zero, NULL, G);
    ok(fd_check(m, 0, 1, "dlast_extra"), "dlast_extra: the gradient of sum G . last output (finite differences)");

    // G = broadcast(r) / (M T' V), as the backward spreads a pooled gradient
    for (int n = 0; n < N; n++)
        for (int mm = 0; mm < M; mm++)
            for (int c = 0; c < C; c++) {
                float v = (float)((double)r[(size_t)n * C + c] / ((double)M * (double)((size_t)Tl * V)));
                for (size_t k = 0; k < (size_t)Tl * V; k++) G[(((size_t)n * M + mm) * C + c) * Tl * V + k] = v;
            }
    loss(m, 0, 0);
    ctrgcn_zero_grad(m);
    ctrgcn_backward_ex(m, zero, r, NULL);
    memcpy(g1, ctrgcn_grads(m), np * sizeof *g1);
    loss(m, 0, 0);
    ctrgcn_zero_grad(m);
    ctrgcn_backward_ex(m, zero, NULL, G);
    memcpy(g2, ctrgcn_grads(m), np * sizeof *g2);
    ok(!memcmp(g1, g2, np * sizeof *g1), "a pooled-feature gradient and its spread over the last output agree bit for bit");
    ok(ctrgcn_last_output(m, NULL, NULL, NULL, NULL) != NULL && C == cfg.width[CTRGCN_UNITS - 1] && Tl == T / 4,
       "ctrgcn_last_output: (N*M, %d, %d, %d)", C, Tl, V);

    size_t first[CTRGCN_GRAD_STAGES];
    ctrgcn_grad_stages(m, first);
    ok(first[0] == fw->offset && stages_ok(m, first),
       "ctrgcn_grad_stages: fc, l10 .. l1, data_bn, each one contiguous span of its own tensors");
    // With every extra gradient in play (head, pooled feature, last output).
    HookLog h = {.m = m, .end = np, .snap = calloc(np, sizeof(float))};
    CtrgcnGradHook hook = {on_ready, &h};
    loss(m, 0, 0);
    ctrgcn_zero_grad(m);
    ctrgcn_set_grad_hook(m, &hook);
    ctrgcn_backward_ex(m, dl, r, G);
    ctrgcn_set_grad_hook(m, NULL);
    int order = h.n == CTRGCN_GRAD_STAGES;
    for (int s = 0; order && s < CTRGCN_GRAD_STAGES; s++) order = h.first[s] == first[s];
    ok(order && !memcmp(h.snap, ctrgcn_grads(m), np * sizeof(float)),
       "the gradient-ready hook: %d calls at the stage offsets, each span final when announced", h.n);
    free(h.snap);

    // The profile: the same step with and without it, bit for bit.
    size_t nb = ctrgcn_num_buffers(m);
    float *l1 = malloc((size_t)N * K * sizeof *l1), *b1 = malloc(nb * sizeof *b1);
    float *keep = malloc(nb * sizeof *keep);
    memcpy(keep, ctrgcn_buffers(m), nb * sizeof *keep);
    if (ctrgcn_forward(m, logits, x, N, T, 1)) bail("forward failed");
    ctrgcn_zero_grad(m);
    ctrgcn_backward(m, dl);
    memcpy(l1, logits, (size_t)N * K * sizeof *l1);
    memcpy(b1, ctrgcn_buffers(m), nb * sizeof *b1);
    memcpy(g1, ctrgcn_grads(m), np * sizeof *g1);
    memcpy(ctrgcn_buffers(m), keep, nb * sizeof *keep);   // the same running statistics before the step
    Prof pr;
    prof_reset(&pr);
    ctrgcn_set_profile(m, &pr);
    if (ctrgcn_forward(m, logits, x, N, T, 1)) bail("forward failed");
    ctrgcn_zero_grad(m);
    ctrgcn_backward(m, dl);
    ctrgcn_set_profile(m, NULL);
    ok(!memcmp(l1, logits, (size_t)N * K * sizeof *l1) && !memcmp(b1, ctrgcn_buffers(m), nb * sizeof *b1) &&
       !memcmp(g1, ctrgcn_grads(m), np * sizeof *g1),
       "a profiled step: the same logits, running statistics and gradients, bit for bit");
    int rows = 1;
    const ProfRow want[] = {PROF_DATA_BN, PROF_CTRGC_CONV3, PROF_CTRGC_TOPO, PROF_CTRGC_EINSUM, PROF_CONV_1X1,
                            PROF_CONV_T, PROF_BN, PROF_ACT, PROF_MAXPOOL, PROF_COPY, PROF_HEAD};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        for (int ph = PROF_FWD; ph <= PROF_BWD; ph++)
            if ((want[i] == PROF_COPY || want[i] == PROF_ACT) && ph == PROF_FWD) {
                continue;   // the forward fuses them into the BN passes (each branch straight into its
                            // channels of the output, with the residual add and the ReLU)
            } else if (!(pr.sec[want[i]][ph] > 0) || (i >= 1 && i <= 5 && !(pr.flops[want[i]][ph] > 0))) {
                diag("%s: no %s time or flops", prof_row_name(want[i]), ph == PROF_FWD ? "forward" : "backward");
                rows = 0;
            }
    Prof before = pr;
    if (ctrgcn_forward(m, logits, x, N, T, 1)) bail("forward failed");
    ctrgcn_backward(m, dl);
    ok(rows && !memcmp(&before, &pr, sizeof pr),
       "the profile has forward and backward time in every layer type's row, and nothing once detached");
    free(l1); free(b1); free(keep);
    ctrgcn_free(m);
    free(x); free(logits); free(dl); free(g1); free(g2); free(r); free(G); free(zero);
    return tap_done();
}
