// 1200-cocodiff-gradcheck.c - the whole CoCoDiff module's backward against
// finite differences of its total loss (src/cocodiff*.c), on a tiny module
// (C 8, d 8, heads 2, blocks 1, Dt 6, K 4, B 3), in seven configurations:
//   both-gen     guidance both, generation on, cond_drop 0.5, l_fine 0.3
//   both-nogen   guidance both, generation off
//   none-gen     guidance none, generation on with guidance scale w = 2
//   none-nogen   guidance none, generation off, no pos_embed
//   ablation     guidance fine, generation on, rec_to_backbone and
//                diff_to_backbone on (dh reaches every token through E),
//                2 blocks, cosine schedule
//   x0-type-inject  z_0-prediction, text type embeddings, own-text injection,
//                2 L_diff passes, guidance scale w = 2, cond_drop 0.5
//   v-ablation   v-prediction with diff_to_backbone (the target's z_0 term
//                reaches dh too), type embeddings, injection, 2 blocks
// Every parameter tensor (up to NSAMPLE sampled elements each), the head's
// fc weight and bias grads and dh_parts are compared; one check per tensor
// per configuration, with its worst element as a diag.
//
// The stop-gradients: generation and the detached z_0 / h depend on the
// parameters too, but carry no gradient by design. The test hook
// cocodiff_debug_detach_from() computes every detached quantity from a frozen
// copy of the parameters and of h_parts, so perturbing the live ones changes
// exactly the differentiated graph. The randomness is fixed (same seed, step,
// sample0 in every evaluation).
//
// Finite differences: central, in float, step H (5e-3) on each element; the
// loss is the step's total, accumulated in double. Error per element
// |a - n| / max(|a|, |n|, FLOOR): FLOOR = 2e-3 absorbs the float noise of
// the difference quotient (loss O(5), float rounding ~1e-6 relative, divided
// by 2H = 1e-2: ~5e-4) for gradients that are themselves ~0 (dbk, which is 0
// in exact arithmetic, or tokens without a gradient path). TOL 2e-2.
//
// Also: the parameter table (names, contiguous offsets), grad_scale scales
// every gradient, default gradient paths reach only token 0 of dh_parts, the
// generation does not depend on how samples are split into batches (ranks),
// and the step is deterministic.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "status.h"
#include "tap/tap.h"

#define H 5e-3f
#define FLOOR 2e-3
#define TOL 2e-2
#define NSAMPLE 8

enum { C = 8, D = 8, HEADS = 2, BLOCKS = 1, DT = 6, K = 4, B = 3, NCONF = 7 };
#define L COCODIFF_TOKENS

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}
static float *alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) bail("out of memory");
    return p;
}

typedef struct Fix {
    Cocodiff *m;
    float h[B * L * C], coarse[K * DT], fine[K * COCODIFF_PARTS * DT], fcw[K * C], fcb[K];
    int32_t labels[B];
    CocodiffStepCtl ctl;
    // scratch grads for the FD evaluations
    float sgw[K * C], sgb[K], sdh[B * L * C];
} Fix;

static double loss_at(Fix *f) {
    CocodiffHead head = {f->fcw, f->fcb, f->sgw, f->sgb};
    CocodiffLosses lo;
    if (cocodiff_step(f->m, f->h, f->labels, B, &head, f->sdh, &f->ctl, &lo)) bail("cocodiff_step failed");
    return lo.total;
}

// Worst error of analytic grad a against FD over sampled elements of x.
typedef struct Worst {
    double err, a, n;
    size_t i;
} Worst;

static Worst fd_check(Fix *f, float *x, const float *a, size_t n, uint64_t *seed) {
    Worst w = {0, 0, 0, 0};
    size_t idx[NSAMPLE];
    int cnt = n <= NSAMPLE ? (int)n : NSAMPLE;
    for (int s = 0; s < cnt; s++)
        idx[s] = n <= NSAMPLE ? (size_t)s : (size_t)((frand(seed) * 0.5f + 0.5f) * (float)n) % n;
    for (int s = 0; s < cnt; s++) {
        size_t i = idx[s];
        float x0 = x[i];
        x[i] = x0 + H;
        float hp = x[i] - x0;   // the step as rounded
        double lp = loss_at(f);
        x[i] = x0 - H;
        float hm = x0 - x[i];
        double lm = loss_at(f);
        x[i] = x0;
        double num = (lp - lm) / ((double)hp + hm);
        double err = fabs(num - a[i]) / fmax(fmax(fabs(num), fabs(a[i])), FLOOR);
        if (err >= w.err) w = (Worst){err, a[i], num, i};
    }
    return w;
}

typedef struct Conf {
    const char *name;
    CocodiffGuidance guidance;
    int gen;
    float w, drop, l_fine;
    int ablation;
    int pos_embed, blocks, cosine;
    CocodiffPrediction pred;
    int type_embed, inject, repeats;
} Conf;

static const Conf CONFS[NCONF] = {
    {"both-gen", COCODIFF_GUIDE_BOTH, 1, 1.0f, 0.5f, 0.3f, 0, 1, BLOCKS, 0, COCODIFF_PRED_EPS, 0, 0, 1},
    {"both-nogen", COCODIFF_GUIDE_BOTH, 0, 1.0f, 0.5f, 0.0f, 0, 1, BLOCKS, 0, COCODIFF_PRED_EPS, 0, 0, 1},
    {"none-gen", COCODIFF_GUIDE_NONE, 1, 2.0f, 0.1f, 0.0f, 0, 1, BLOCKS, 0, COCODIFF_PRED_EPS, 0, 0, 1},
    {"none-nogen", COCODIFF_GUIDE_NONE, 0, 1.0f, 0.1f, 0.0f, 0, 0, BLOCKS, 0, COCODIFF_PRED_EPS, 0, 0, 1},
    {"ablation", COCODIFF_GUIDE_FINE, 1, 1.0f, 0.1f, 0.0f, 1, 1, 2, 1, COCODIFF_PRED_EPS, 0, 0, 1},
    {"x0-type-inject", COCODIFF_GUIDE_BOTH, 1, 2.0f, 0.5f, 0.0f, 0, 1, BLOCKS, 0, COCODIFF_PRED_X0, 1, 1, 2},
    {"v-ablation", COCODIFF_GUIDE_FINE, 1, 1.0f, 0.3f, 0.0f, 1, 1, 2, 0, COCODIFF_PRED_V, 1, 1, 1},
};

static void make_cfg(CocodiffConfig *c, const Conf *k) {
    cocodiff_config_default(c);
    c->d = D;
    c->heads = HEADS;
    c->blocks = k->blocks;
    c->pos_embed = k->pos_embed;
    c->schedule = k->cosine ? COCODIFF_BETA_COSINE : COCODIFF_BETA_LINEAR;
    c->guidance = k->guidance;
    c->guidance_scale = k->w;
    c->cond_drop = k->drop;
    c->l_fine = k->l_fine;
    c->rec_to_backbone = c->diff_to_backbone = k->ablation;
    c->prediction = k->pred;
    c->text_type_embed = k->type_embed;
    c->part_text_inject = k->inject;
    c->diff_repeats = k->repeats > 0 ? k->repeats : 1;
}

static void fill(Fix *f, uint64_t seed) {
    for (int i = 0; i < B * L * C; i++) f->h[i] = frand(&seed);
    for (int i = 0; i < K * DT; i++) f->coarse[i] = frand(&seed);
    for (int i = 0; i < K * COCODIFF_PARTS * DT; i++) f->fine[i] = frand(&seed);
    for (int i = 0; i < K * C; i++) f->fcw[i] = 0.5f * frand(&seed);
    for (int i = 0; i < K; i++) f->fcb[i] = 0.1f * frand(&seed);
    f->labels[0] = 0;
    f->labels[1] = 3;
    f->labels[2] = 1;
    // every parameter off its init, so zero-initialised biases and unit norms
    // do not hide terms; logit_scale stays at log(1/0.07), clear of the clamp
    float *p = cocodiff_params(f->m);
    for (int t = 0; t < cocodiff_num_tensors(f->m); t++) {
        const CocodiffTensor *T = cocodiff_tensor(f->m, t);
        if (T->ndim == 0) continue;
        for (size_t k = 0; k < T->numel; k++) p[T->offset + k] += 0.2f * frand(&seed);
    }
}

static void run_conf(const Conf *k, int *ntests) {
    CocodiffConfig cfg;
    make_cfg(&cfg, k);
    Fix *f = calloc(1, sizeof *f);
    if (!f) bail("out of memory");
    if (cocodiff_create(&f->m, &cfg, C, DT, K)) bail("cocodiff_create (%s)", k->name);
    cocodiff_init(f->m, 42);
    fill(f, 1234);
    if (cocodiff_set_text(f->m, f->coarse, f->fine)) bail("set_text");
    f->ctl = (CocodiffStepCtl){.seed = 99, .step = 7, .sample0 = 5, .generate = k->gen, .grad_scale = 1.0f};
    size_t np = cocodiff_num_params(f->m);
    float *P0 = alloc(np), *H0 = alloc(B * L * C);
    memcpy(P0, cocodiff_params(f->m), np * sizeof(float));
    memcpy(H0, f->h, sizeof f->h);
    cocodiff_debug_detach_from(f->m, P0, H0);

    // analytic
    float *G = alloc(np), gw[K * C] = {0}, gb[K] = {0}, dh[B * L * C] = {0};
    cocodiff_zero_grad(f->m);
    CocodiffHead head = {f->fcw, f->fcb, gw, gb};
    CocodiffLosses lo;
    if (cocodiff_step(f->m, f->h, f->labels, B, &head, dh, &f->ctl, &lo)) bail("step");
    memcpy(G, cocodiff_grads(f->m), np * sizeof(float));
    diag("[%s] losses: diff %.4f rec %.4f gen %.4f coarse %.4f (real %.4f gen %.4f) fine %.4f "
         "total %.4f",
         k->name, lo.diff, lo.rec, lo.gen, lo.coarse, lo.coarse_real, lo.coarse_gen, lo.fine, lo.total);

    uint64_t seed = 555;
    int nt = cocodiff_num_tensors(f->m);
    for (int t = 0; t < nt; t++) {
        const CocodiffTensor *T = cocodiff_tensor(f->m, t);
        Worst w = fd_check(f, cocodiff_params(f->m) + T->offset, G + T->offset, T->numel, &seed);
        ok(w.err < TOL, "[%s] %s: worst err %.2e at %zu (analytic %.5g, numeric %.5g)", k->name,
           T->name, w.err, w.i, w.a, w.n);
        (*ntests)++;
    }
    Worst w = fd_check(f, f->fcw, gw, K * C, &seed);
    ok(w.err < TOL, "[%s] fc.weight: worst err %.2e at %zu (analytic %.5g, numeric %.5g)", k->name, w.err,
       w.i, w.a, w.n);
    w = fd_check(f, f->fcb, gb, K, &seed);
    ok(w.err < TOL, "[%s] fc.bias: worst err %.2e at %zu (analytic %.5g, numeric %.5g)", k->name, w.err,
       w.i, w.a, w.n);
    // dh_parts: token 0 fully, and sampled elements of every other token
    Worst wd = {0, 0, 0, 0};
    for (int tok = 0; tok < L; tok++)
        for (int b = 0; b < B; b++) {
            Worst x = fd_check(f, f->h + ((size_t)b * L + tok) * C, dh + ((size_t)b * L + tok) * C,
                               tok == 0 ? C : 3, &seed);
            if (x.err >= wd.err) wd = x, wd.i += ((size_t)b * L + tok) * C;
        }
    ok(wd.err < TOL, "[%s] dh_parts: worst err %.2e at %zu (token %zu; analytic %.5g, numeric %.5g)",
       k->name, wd.err, wd.i, wd.i / C % L, wd.a, wd.n);
    *ntests += 3;
    cocodiff_free(f->m);
    free(f);
    free(P0);
    free(H0);
    free(G);
}

// ---------------------------------------------------------------------------

static void test_table(void) {
    CocodiffConfig cfg;
    cocodiff_config_default(&cfg);
    Cocodiff *m;
    if (cocodiff_create(&m, &cfg, 256, 100, 60)) bail("create default");
    int nt = cocodiff_num_tensors(m), good = 1;
    size_t off = 0;
    for (int i = 0; i < nt && good; i++) {
        const CocodiffTensor *t = cocodiff_tensor(m, i);
        good = t->offset == off && strncmp(t->name, "cocodiff.", 9) == 0 && cocodiff_find(m, t->name) == t;
        off += t->numel;
    }
    ok(good && off == cocodiff_num_params(m), "default module: %d tensors, %zu parameters, contiguous, "
                                              "names unique and prefixed", nt, off);
    const CocodiffTensor *a = cocodiff_find(m, "cocodiff.blocks.1.attn2.wk"),
                         *e = cocodiff_find(m, "cocodiff.enc.weight"),
                         *s = cocodiff_find(m, "cocodiff.logit_scale");
    ok(a && a->shape[0] == 128 && a->shape[1] == 128 && e && e->shape[0] == 128 && e->shape[1] == 256 &&
           e->decay && s && s->ndim == 0 && !s->decay &&
           fabsf(cocodiff_params(m)[s->offset] - (float)log(1 / 0.07)) < 1e-6f,
       "names and shapes: blocks.1.attn2.wk (128, 128), enc.weight (128, 256), logit_scale scalar = log(1/0.07)");
    cocodiff_free(m);
    cocodiff_free(NULL);
}

// grad_scale, default paths, determinism, batch-split independence
static void test_misc(void) {
    CocodiffConfig cfg;
    make_cfg(&cfg, &CONFS[0]);
    cfg.l_fine = 0;
    Fix *f = calloc(1, sizeof *f);
    if (!f || cocodiff_create(&f->m, &cfg, C, DT, K)) bail("create");
    cocodiff_init(f->m, 3);
    fill(f, 77);
    cocodiff_set_text(f->m, f->coarse, f->fine);
    size_t np = cocodiff_num_params(f->m);
    float *G1 = alloc(np), gw1[K * C] = {0}, gb1[K] = {0}, dh1[B * L * C] = {0};
    float gw2[K * C] = {0}, gb2[K] = {0}, dh2[B * L * C] = {0};
    CocodiffStepCtl ctl = {.seed = 1, .step = 2, .sample0 = 0, .generate = 1, .grad_scale = 1.0f};
    CocodiffLosses l1, l2;
    cocodiff_zero_grad(f->m);
    CocodiffHead h1 = {f->fcw, f->fcb, gw1, gb1}, h2 = {f->fcw, f->fcb, gw2, gb2};
    cocodiff_step(f->m, f->h, f->labels, B, &h1, dh1, &ctl, &l1);
    memcpy(G1, cocodiff_grads(f->m), np * sizeof(float));
    cocodiff_zero_grad(f->m);
    ctl.grad_scale = 0.25f;
    cocodiff_step(f->m, f->h, f->labels, B, &h2, dh2, &ctl, &l2);
    float *G2 = cocodiff_grads(f->m);
    for (size_t i = 0; i < np; i++) G2[i] *= 4.0f;
    for (size_t i = 0; i < K * C; i++) gw2[i] *= 4.0f;
    for (size_t i = 0; i < B * L * C; i++) dh2[i] *= 4.0f;
    ok(l1.total == l2.total, "deterministic: the same total twice (%.9g)", l1.total);
    is_tensor_close(G2, G1, np, 1e-6, 1e-5, "grad_scale 0.25 scales the module's grads");
    is_tensor_close(gw2, gw1, K * C, 1e-6, 1e-5, "grad_scale 0.25 scales the head's grads");
    is_tensor_close(dh2, dh1, B * L * C, 1e-6, 1e-5, "grad_scale 0.25 scales dh_parts");
    {   // the test hook at the unperturbed point changes nothing
        float *P0 = alloc(np), H0[B * L * C], gw3[K * C] = {0}, gb3[K] = {0}, dh3[B * L * C] = {0};
        memcpy(P0, cocodiff_params(f->m), np * sizeof(float));
        memcpy(H0, f->h, sizeof H0);
        cocodiff_debug_detach_from(f->m, P0, H0);
        cocodiff_zero_grad(f->m);
        ctl.grad_scale = 1.0f;
        CocodiffHead h3 = {f->fcw, f->fcb, gw3, gb3};
        CocodiffLosses l3;
        cocodiff_step(f->m, f->h, f->labels, B, &h3, dh3, &ctl, &l3);
        ok(l3.total == l1.total && !memcmp(cocodiff_grads(f->m), G1, np * sizeof(float)) &&
               !memcmp(dh3, dh1, sizeof dh3) && !memcmp(gw3, gw1, sizeof gw3),
           "detach hook at the live point: the same loss and gradients, bit for bit");
        cocodiff_debug_detach_from(f->m, NULL, NULL);
        free(P0);
    }
    int zero = 1;
    double g0 = 0;
    for (int b = 0; b < B; b++)
        for (int tok = 0; tok < L; tok++)
            for (int c = 0; c < C; c++) {
                float v = dh1[((size_t)b * L + tok) * C + c];
                if (tok) zero &= v == 0.0f;
                else g0 += fabs(v);
            }
    ok(zero && g0 > 0 && !cocodiff_part_grads(f->m),
       "default paths: dh_parts only on token 0 (|dh_0| sum %.3g), cocodiff_part_grads = 0", g0);
    ok(l1.generated && l1.gen > 0 && l1.gen_acc >= 0 && l1.logit_scale > 14.28 && l1.logit_scale < 14.29,
       "generation ran: L_gen %.4f, accuracy %.2f, scale %.4f", l1.gen, l1.gen_acc, l1.logit_scale);

    // generation of a batch equals that of its halves (draws keyed by sample index)
    float hh[B * L * C], hs[B * L * C];
    int32_t t_all[B], t_split[B];
    ctl.sample0 = 10;
    cocodiff_generate(f->m, f->h, f->labels, B, &ctl, hh, NULL, t_all);
    cocodiff_generate(f->m, f->h, f->labels, 1, &ctl, hs, NULL, t_split);
    ctl.sample0 = 11;
    cocodiff_generate(f->m, f->h + L * C, f->labels + 1, B - 1, &ctl, hs + L * C, NULL, t_split + 1);
    ok(t_all[0] == t_split[0] && t_all[1] == t_split[1] && t_all[2] == t_split[2] && t_all[0] >= 50 &&
           t_all[0] <= 200,
       "t_gen per sample index, in the default [50, 200]: %d %d %d", t_all[0], t_all[1], t_all[2]);
    is_tensor_close(hs, hh, B * L * C, 1e-5, 1e-4, "generate: one batch of 3 = batches of 1 + 2 (rank split)");
    ctl.step = 3;
    cocodiff_generate(f->m, f->h, f->labels, B, &ctl, hs, NULL, t_split);
    double dd = 0;
    for (int i = 0; i < B * L * C; i++) dd = fmax(dd, fabs(hs[i] - hh[i]));
    ok(dd > 1e-3, "generate: another step draws other noise (max diff %.3g)", dd);
    // bad input
    int32_t badl[B] = {0, K, 1};
    diag("the next line on stderr is an expected error");
    is_int(CD_EARG, cocodiff_step(f->m, f->h, badl, B, &h1, NULL, &ctl, NULL), "label >= K rejected");
    cocodiff_free(f->m);
    free(f);
    free(G1);
}

int main(void) {
    // plan: tensors per configuration + 3 (fc w, fc b, dh) each, + table 2 + misc 11
    int per[NCONF];
    for (int i = 0; i < NCONF; i++) {
        CocodiffConfig cfg;
        make_cfg(&cfg, &CONFS[i]);
        Cocodiff *m;
        if (cocodiff_create(&m, &cfg, C, DT, K)) bail("create");
        per[i] = cocodiff_num_tensors(m) + 3;
        cocodiff_free(m);
    }
    int total = 2 + 11;
    for (int i = 0; i < NCONF; i++) total += per[i];
    plan(total);
    test_table();
    test_misc();
    int n = 0;
    for (int i = 0; i < NCONF; i++) run_conf(&CONFS[i], &n);
    return tap_done();
}
