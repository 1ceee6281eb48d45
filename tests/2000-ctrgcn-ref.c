// 2000-ctrgcn-ref: the C CTR-GCN against the official PyTorch model on the
// same weights and input (tests/data/ctrgcn, made by
// scripts/ref/make_ctrgcn_reference.py in double precision): training-mode
// logits and loss, every parameter's gradient, the running statistics after
// the step, and eval-mode logits. Tolerance: 1e-4 relative to each tensor's
// largest magnitude (float32 against a float64 reference); for gradients
// whose true value is ~0 (conv biases right before a BatchNorm) the scale is
// at least 1% of the model's largest gradient.
#include "ctrgcn.h"
#include "status.h"
#include "tap/bundle.h"
#include "tap/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static double rel_err_floor(const float *got, const float *want, size_t n, double floor) {
    double md = 0, mw = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(want[i]) > mw) mw = fabs(want[i]);
    }
    return mw > 0 ? md / mw : md;
}
static double rel_err(const float *got, const float *want, size_t n) { return rel_err_floor(got, want, n, 0); }

int main(void) {
    Bundle b;
    if (bundle_load("tests/data/ctrgcn/ctrgcn-b8.bundle", &b)) bail("no reference bundle");
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, 10, skel_layout_find("ntu25"), 8);
    Ctrgcn *m;
    if (ctrgcn_create(&m, &cfg)) bail("cannot build the model");
    plan(8);

    // Load the state_dict; every key must exist on both sides with the same shape.
    int missing = 0, shape_bad = 0, nstate = 0;
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        const BundleTensor *r = bundle_find(&b, t->name);
        if (!r) { if (missing++ < 5) diag("missing in the reference: %s", t->name); continue; }
        int same = r->numel == t->numel && r->ndim == t->ndim && (r->dtype == 1) == (t->kind == CK_COUNTER);
        for (int k = 0; same && k < t->ndim; k++) same = r->dims[k] == t->shape[k];
        if (!same) { if (shape_bad++ < 5) diag("shape/dtype differs: %s", t->name); continue; }
        memcpy(ctrgcn_tensor_data(m, t), r->data, t->numel * (t->kind == CK_COUNTER ? 8 : 4));
    }
    for (int i = 0; i < b.n; i++)
        if (!strchr(b.t[i].name, '/')) nstate++;
    ok(!missing && !shape_bad && nstate == ctrgcn_num_tensors(m),
       "state_dict keys, shapes and dtypes match the official model (%d tensors)", nstate);

    const BundleTensor *x = bundle_find(&b, "input/x"), *lab = bundle_find(&b, "input/labels");
    int N = (int)x->dims[0], T = (int)x->dims[2], K = cfg.num_class;
    int32_t labels[16];
    for (int i = 0; i < N; i++) labels[i] = (int32_t)((int64_t *)lab->data)[i];
    float *logits = calloc((size_t)N * K, sizeof(float)), *probs = calloc((size_t)N * K, sizeof(float));
    float *dlogits = calloc((size_t)N * K, sizeof(float));
    ok(ctrgcn_forward(m, logits, x->data, N, T, 1) == CD_OK, "training forward runs");
    double e = rel_err(logits, bundle_find(&b, "output/logits_train")->data, (size_t)N * K);
    ok(e < TOL, "training logits match (rel err %.2e)", e);
    float loss = crossentropy_forward(probs, logits, labels, N, K);
    double want_loss = ((float *)bundle_find(&b, "output/loss")->data)[0];
    ok(fabs(loss - want_loss) / fabs(want_loss) < TOL, "loss matches (%.7f vs %.7f)", loss, want_loss);

    ctrgcn_zero_grad(m);
    crossentropy_backward(dlogits, probs, labels, N, K, 1.0f);
    ctrgcn_backward(m, dlogits);
    double worst = 0, gmax = 0;
    const char *worst_name = "";
    int bad = 0;
    char name[160];
    for (int i = 0; i < b.n; i++)
        if (!strncmp(b.t[i].name, "grad/", 5))
            for (size_t k = 0; k < b.t[i].numel; k++) gmax = fmax(gmax, fabs(((float *)b.t[i].data)[k]));
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        if (t->kind != CK_PARAM) continue;
        snprintf(name, sizeof name, "grad/%s", t->name);
        const BundleTensor *r = bundle_find(&b, name);
        if (!r) { bad++; continue; }
        double ge = rel_err_floor(ctrgcn_grads(m) + t->offset, r->data, t->numel, 1e-2 * gmax);
        if (ge > worst) { worst = ge; worst_name = t->name; }
        if (ge >= TOL && bad++ < 8) diag("grad %s: rel err %.2e", t->name, ge);
    }
    ok(bad == 0, "every parameter gradient matches (worst %.2e: %s)", worst, worst_name);

    double worst_rs = 0;
    bad = 0;
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        if (t->kind == CK_PARAM) continue;
        snprintf(name, sizeof name, "after/%s", t->name);
        const BundleTensor *r = bundle_find(&b, name);
        if (!r) { bad++; continue; }
        if (t->kind == CK_COUNTER) {
            bad += *(int64_t *)ctrgcn_tensor_data(m, t) != *(int64_t *)r->data;
            continue;
        }
        double re = rel_err(ctrgcn_tensor_data(m, t), r->data, t->numel);
        if (re > worst_rs) worst_rs = re;
        bad += re >= TOL;
    }
    ok(bad == 0, "running statistics and num_batches_tracked after the step match (worst %.2e)", worst_rs);

    ok(ctrgcn_forward(m, logits, x->data, N, T, 0) == CD_OK, "eval forward runs");
    e = rel_err(logits, bundle_find(&b, "output/logits_eval")->data, (size_t)N * K);
    ok(e < TOL, "eval logits (running statistics) match (rel err %.2e)", e);
    free(logits); free(probs); free(dlogits);
    ctrgcn_free(m);
    bundle_free(&b);
    return tap_done();
}
