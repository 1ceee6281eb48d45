// 2030-ctrgcn-infer.c - CTRGCN_INFER mode against a CTRGCN_TRAIN model's
// eval forward (training = 0), bit for bit:
//   - logits and pooled features at 1, 2, 3 and 8 threads (N 5: shares of 5;
//     3, 2; 2, 2, 1; and more threads than samples), with the BLAS thread
//     count the caller set (2) restored after each pass;
//   - a smaller batch in the same buffers, then another T (reallocation);
//   - the plain-C CTRGC contraction (COCODIFF_NO_SIMD=1) as well;
//   - what the mode refuses: a training forward, a backward; no gradients,
//     no last output; and back in CTRGCN_TRAIN, zeroed gradients and the
//     same eval logits;
//   - activation memory: inference at most a fifth of training (official
//     shape: base 64, N 16, T 64; printed).
// Tiny model: base 8, K 7, T 20 (10, 5 after the strides), NTU graph, with
// every parameter perturbed, random running statistics and alpha 0.3, so that
// every path (CTRGC topology, down / residual convs, all BNs) counts.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ctrgcn.h"
#include "status.h"
#include "tap/tap.h"

enum { K = 7, N = 5, T = 20, T2 = 16, N_SMALL = 3 };

static uint64_t rs = 2030;
static float urand(void) {   // [-1, 1)
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rs >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

// Perturbs every parameter, draws running statistics, sets alpha.
static void randomise(Ctrgcn *m) {
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        if (t->kind == CK_COUNTER) continue;
        float *d = ctrgcn_tensor_data(m, t);
        for (size_t k = 0; k < t->numel; k++) {
            if (strstr(t->name, "running_var")) d[k] = 0.5f + 0.4f * (urand() + 1.0f);
            else if (strstr(t->name, "running_mean")) d[k] = 0.2f * urand();
            else if (strstr(t->name, "alpha")) d[k] = 0.3f;
            else d[k] += 0.1f * urand();
        }
    }
}

static float *fwd(Ctrgcn *m, const float *x, int n, int t, const char *what) {
    float *l = malloc((size_t)n * K * sizeof *l);
    if (!l || ctrgcn_forward(m, l, x, n, t, 0)) bail("%s: forward failed", what);
    return l;
}

int main(void) {
    plan(19);
    blas_set_threads(1);
    CtrgcnConfig cfg;
    ctrgcn_config_default(&cfg, K, skel_layout_find("ntu25"), 8);
    Ctrgcn *tr, *inf;
    if (ctrgcn_create(&tr, &cfg) || ctrgcn_create(&inf, &cfg)) bail("cannot build the models");
    ctrgcn_init(tr, 11);
    randomise(tr);
    memcpy(ctrgcn_params(inf), ctrgcn_params(tr), ctrgcn_num_params(tr) * sizeof(float));
    memcpy(ctrgcn_buffers(inf), ctrgcn_buffers(tr), ctrgcn_num_buffers(tr) * sizeof(float));
    const int Cl = cfg.width[CTRGCN_UNITS - 1];
    const size_t nx = (size_t)N * cfg.in_channels * T * cfg.num_point * cfg.num_person;
    float *x = malloc(nx * sizeof *x);
    for (size_t i = 0; i < nx; i++) x[i] = urand();

    // The reference: the training-capable model's eval forward, one BLAS thread.
    float *ref = fwd(tr, x, N, T, "train-mode eval");
    float *ref_feat = malloc((size_t)N * Cl * sizeof *ref_feat);
    memcpy(ref_feat, ctrgcn_features(tr), (size_t)N * Cl * sizeof *ref_feat);
    float *ref_small = fwd(tr, x, N_SMALL, T, "train-mode eval, small batch");
    float *ref_t2 = fwd(tr, x, N, T2, "train-mode eval, T2");

    ok(ctrgcn_set_mode(inf, CTRGCN_INFER) == CD_OK && ctrgcn_mode(inf) == CTRGCN_INFER, "ctrgcn_set_mode(CTRGCN_INFER)");
    float *gw = &x[0];
    ctrgcn_head(inf, NULL, NULL, &gw, NULL);
    ok(ctrgcn_grads(inf) == NULL && gw == NULL, "inference mode: no gradient buffer");

    blas_set_threads(2);   // the pass runs its BLAS calls on one thread and restores this
    const int threads[4] = {1, 2, 3, 8};
    for (int k = 0; k < 4; k++) {
        if (ctrgcn_set_threads(inf, threads[k])) bail("ctrgcn_set_threads(%d) failed", threads[k]);
        float *l = fwd(inf, x, N, T, "inference");
        is_tensor_equal(l, ref, (size_t)N * K, "logits at %d thread(s): the train-mode eval forward's, bit for bit",
                        threads[k]);
        if (k == 1) {
            is_tensor_equal(ctrgcn_features(inf), ref_feat, (size_t)N * Cl, "pooled features at 2 threads, bit for bit");
            ok(blas_get_threads() == 2, "the caller's BLAS thread count (2) is restored after the pass");
        }
        free(l);
    }
    ok(ctrgcn_last_output(inf, NULL, NULL, NULL, NULL) == NULL, "inference mode: no last output");

    // Threads 8 now: a smaller batch in the same lanes, then another T.
    float *l = fwd(inf, x, N_SMALL, T, "inference, small batch");
    is_tensor_equal(l, ref_small, (size_t)N_SMALL * K, "a smaller batch (%d) in the same buffers, bit for bit", N_SMALL);
    free(l);
    ctrgcn_set_threads(inf, 2);
    l = fwd(inf, x, N, T2, "inference, T2");
    is_tensor_equal(l, ref_t2, (size_t)N * K, "T %d after T %d (new buffers), bit for bit", T2, T);
    free(l);

    // The plain-C contraction, chosen per call from the environment.
    setenv("COCODIFF_NO_SIMD", "1", 1);
    blas_set_threads(1);
    float *ref_ns = fwd(tr, x, N, T, "train-mode eval, no SIMD");
    l = fwd(inf, x, N, T, "inference, no SIMD");
    is_tensor_equal(l, ref_ns, (size_t)N * K, "COCODIFF_NO_SIMD=1: logits at 2 threads, bit for bit");
    free(l);
    free(ref_ns);
    unsetenv("COCODIFF_NO_SIMD");

    // What inference mode refuses.
    float *lt = malloc((size_t)N * K * sizeof *lt);
    ok(ctrgcn_forward(inf, lt, x, N, T, 1) == CD_EARG, "inference mode refuses a training forward");
    ok(ctrgcn_backward(inf, lt) == CD_EARG, "inference mode refuses a backward");

    // Back to training mode.
    ok(ctrgcn_set_mode(inf, CTRGCN_TRAIN) == CD_OK && ctrgcn_grads(inf) != NULL, "back to CTRGCN_TRAIN: a gradient buffer");
    int zero = 1;
    for (size_t i = 0; i < ctrgcn_num_params(inf); i++) zero &= ctrgcn_grads(inf)[i] == 0.0f;
    ok(zero, "the gradients start at zero");
    l = fwd(inf, x, N, T, "train-mode eval again");
    is_tensor_equal(l, ref, (size_t)N * K, "its eval forward gives the reference logits again");
    free(l);
    ok(ctrgcn_forward(inf, lt, x, N, T, 1) == CD_OK && ctrgcn_backward(inf, lt) == CD_OK,
       "a training forward and backward run again");

    // Activation memory at the official shape.
    CtrgcnConfig big;
    ctrgcn_config_default(&big, 60, skel_layout_find("ntu25"), 64);
    Ctrgcn *b;
    if (ctrgcn_create(&b, &big)) bail("cannot build the official-size model");
    size_t train_b = ctrgcn_activation_bytes(b, 16, 64);
    ctrgcn_set_mode(b, CTRGCN_INFER);
    size_t inf1 = ctrgcn_activation_bytes(b, 16, 64);
    ctrgcn_set_threads(b, 2);
    size_t inf2 = ctrgcn_activation_bytes(b, 16, 64);
    diag("activations, base 64, N 16, T 64: training %.1f MB, inference %.1f MB (1 thread), %.1f MB (2 threads)",
         (double)train_b / 1048576.0, (double)inf1 / 1048576.0, (double)inf2 / 1048576.0);
    ok(inf1 * 5 <= train_b && inf2 * 5 <= train_b, "inference activations are at most a fifth of training's");
    ctrgcn_free(b);

    ctrgcn_free(tr);
    ctrgcn_free(inf);
    free(x); free(ref); free(ref_feat); free(ref_small); free(ref_t2); free(lt);
    return tap_done();
}
