// 2040-ctrgcn-ucla.c - CTR-GCN on the NW-UCLA layout against the official
// model/ctrgcn.py with graph.ucla.Graph, num_point 20, num_person 1, 10
// classes (base width 8), on the same weights: the checkpoint
// tests/data/ucla/ctrgcn-ucla-b8.h5 holds only /model/<state_dict key>
// tensors (as converted from PyTorch), so checkpoint_load_model has to build
// the model from the tensors alone. Input: the official test-path joint
// outputs of six real validation sequences (reference.bundle test/NAME/joint);
// eval-mode logits compared with the official float64 ones within 1e-4
// relative to the largest logit (float32 against float64; the official
// model's own float32 run is 6e-7 from its float64 one).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "ctrgcn.h"
#include "status.h"
#include "tap/bundle.h"
#include "tap/tap.h"

#define DIR "tests/data/ucla"
#define MAXN 16
#define SAMPLE (3 * 52 * 20)

int main(void) {
    Bundle b;
    if (bundle_load(DIR "/reference.bundle", &b))
        bail("no %s/reference.bundle (HINT: scripts/ref/make_ucla_reference.py)", DIR);
    plan(4);
    Ctrgcn *m = NULL;
    char why[512] = "";
    int rc = checkpoint_load_model(DIR "/ctrgcn-ucla-b8.h5", &m, NULL, why, sizeof why);
    if (!ok(rc == CD_OK, "the /model-only checkpoint loads (%s)", rc ? why : "no attributes needed"))
        bail("%s", why);
    const CtrgcnConfig *c = ctrgcn_config(m);
    ok(c->num_point == 20 && c->num_person == 1 && c->num_class == 10 && c->layout == skel_layout_find("ucla20") &&
           c->in_channels == 3 && c->width[0] == 8,
       "model from the tensors: 20 joints (ucla20 graph), 1 person, 10 classes, base width 8");

    const char *names[MAXN];
    int N = 0;
    for (int i = 0; i < b.n && N < MAXN; i++)
        if (!strncmp(b.t[i].name, "model/logits/", 13)) names[N++] = b.t[i].name + 13;
    float *x = malloc((size_t)N * SAMPLE * sizeof *x), *want = malloc((size_t)N * 10 * sizeof *want);
    float *got = malloc((size_t)N * 10 * sizeof *got);
    if (!x || !want || !got || N == 0) bail("no model/logits in the reference, or out of memory");
    for (int n = 0; n < N; n++) {
        char key[160];
        snprintf(key, sizeof key, "test/%s/joint", names[n]);
        const BundleTensor *t = bundle_find(&b, key);
        snprintf(key, sizeof key, "model/logits/%s", names[n]);
        const BundleTensor *l = bundle_find(&b, key);
        if (!t || t->numel != SAMPLE || !l || l->numel != 10) bail("reference: bad %s", key);
        memcpy(x + (size_t)n * SAMPLE, t->data, SAMPLE * sizeof *x);
        memcpy(want + (size_t)n * 10, l->data, 10 * sizeof *want);
    }
    ok(ctrgcn_forward(m, got, x, N, 52, 0) == CD_OK, "eval forward of %d samples (3, 52, 20, 1)", N);
    double mx = 0;
    for (int i = 0; i < N * 10; i++) mx = fmax(mx, fabs(want[i]));
    is_tensor_close(got, want, (size_t)N * 10, 1e-4 * mx, 1e-4,
                    "logits equal the official model's within 1e-4 relative (%d samples, max |logit| %.3g)",
                    N, mx);
    free(x);
    free(want);
    free(got);
    ctrgcn_free(m);
    bundle_free(&b);
    return tap_done();
}
