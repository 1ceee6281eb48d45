// 1240-conditioning.c - the text-conditioning probe (src/train/conditioning.c)
// and the module pieces it rests on (cocodiff_generate_probe,
// cocodiff_probe_loss, the text controls of src/text/class_text.c), on a
// small fixed problem: K 4 classes whose features sit apart (class k along
// axis k), a head that reads those axes, random class texts. A module that
// predicts z_0 (cocodiff.prediction x0) with type embeddings and the
// own-text injection, trained 600 AdamW steps (cdoptim.h), must follow its text:
// from noise and steer well above chance, its own-text generations
// classified like the real features; the shuffled and random-text controls
// near or below chance. An untrained module must not. Own text's split by
// the head's verdict on the real features (kept, fixed) adds up to own; with
// 1 in 8 samples relabelled (the head reads them "wrong"), the text pulls
// their own-text generations to the new label (fixed). Own text at the
// trainer's t_gen (own_tgen) splits the same way, fixes no more misread
// sources than from t_probe (here the text wins from both), and with
// t_gen = t_probe is the probe's own figure bit for bit. The probe is deterministic and refuses bad input.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class_text.h"
#include "cocodiff.h"
#include "conditioning.h"
#include "crng.h"
#include "cdoptim.h"
#include "status.h"
#include "tap/tap.h"

enum { K = 4, C = 8, DT = 6, N = 256, NT = 96, L = COCODIFF_TOKENS };

static void features(float *h, int32_t *y, int n, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        Crng r = crng_make(1, seed, 0, i, 1);
        y[i] = i % K;
        float base[C];
        crng_normals(&r, base, C);
        for (int c = 0; c < C; c++) base[c] = 0.4f * base[c] + (c == y[i] ? 3.0f : 0.0f);
        for (int j = 0; j < L; j++) {
            float e[C];
            crng_normals(&r, e, C);
            for (int c = 0; c < C; c++) h[((size_t)i * L + j) * C + c] = j == 0 ? base[c] : base[c] + 0.2f * e[c];
        }
    }
}

static Cocodiff *module(const float *coarse, const float *fine, float t_gen_lo, float t_gen_hi) {
    CocodiffConfig cfg;
    cocodiff_config_default(&cfg);
    cfg.t_gen_lo = t_gen_lo;
    cfg.t_gen_hi = t_gen_hi;
    cfg.d = 16;
    cfg.heads = 2;
    cfg.blocks = 1;
    cfg.prediction = COCODIFF_PRED_X0;
    cfg.text_type_embed = 1;
    cfg.part_text_inject = 1;
    cfg.optimizer = 1;   // AdamW
    cfg.lr = 3e-3f;
    Cocodiff *m = NULL;
    if (cocodiff_create(&m, &cfg, C, DT, K) || cocodiff_set_text(m, coarse, fine)) bail("cannot build the module");
    cocodiff_init(m, 7);
    return m;
}

// own = (kept_hits + fixed_hits) / n, each share its hits over its group (stay's too): one own-text split.
static int own_holds(const ConditioningOwn *g, const ConditioningStats *s, int n) {
    int okk = g->kept_hits + g->fixed_hits == llround(g->own * n) && g->kept_hits <= s->real_right &&
              g->fixed_hits + g->stay_hits <= s->real_wrong;
    okk &= s->real_right ? g->kept == (double)g->kept_hits / s->real_right : isnan(g->kept);
    okk &= s->real_wrong ? g->fixed == (double)g->fixed_hits / s->real_wrong && g->stay == (double)g->stay_hits / s->real_wrong
                         : isnan(g->fixed) && isnan(g->stay);
    return okk;
}

// The split holds from t_probe and at the trainer's t_gen, in every text mode measured.
static int split_holds(const ConditioningStats *s, int n) {
    const ConditioningFigures *f3[3] = {&s->text, &s->shuffled, &s->random};
    int okk = s->real_right + s->real_wrong == n && s->real_right == llround(s->real_top1 * n);
    for (int i = 0; i < 3; i++) okk &= own_holds(&f3[i]->probe, s, n) && own_holds(&f3[i]->tgen, s, n);
    return okk;
}

int main(void) {
    plan(23);
    float coarse[K * DT], fine[K * COCODIFF_PARTS * DT];
    Crng tr = crng_make(2, 1, 0, 0, 1);
    crng_normals(&tr, coarse, K * DT);
    crng_normals(&tr, fine, K * COCODIFF_PARTS * DT);
    static float h[N * L * C], ht[NT * L * C];
    static int32_t y[N], yt[NT];
    features(h, y, N, 1);
    features(ht, yt, NT, 2);
    float hw[K * C] = {0}, hb[K] = {0};
    for (int k = 0; k < K; k++) hw[k * C + k] = 1.0f;   // the head reads axis k

    ConditioningOptions o;
    conditioning_options_default(&o);
    o.noise_per_class = 16;
    ConditioningStats s0, s1, s2;
    Cocodiff *m = module(coarse, fine, 0.05f, 0.2f);
    is_int(CD_OK, conditioning_measure(m, ht, yt, NT, C, K, hw, hb, &o, &s0), "probe on an untrained module");
    ok(s0.text.from_noise < 0.6 && s0.text.steer < 0.5, "untrained: from noise %.2f, steer %.2f (chance 0.25)",
       s0.text.from_noise, s0.text.steer);
    is_double(1.0, s0.real_top1, 1e-12, "the head classifies every real test feature");

    // train: x0 prediction, AdamW 3e-3, batches of 32 from the 256 samples
    CdOptim opt;   // the module's AdamW (cdoptim.h), lr 3e-3 at base_lr 0.1
    if (cdoptim_init(&opt, m, 0.1, 0.9, 4e-4, 1)) bail("optimizer");
    float gw[K * C], gb[K];
    CocodiffHead head = {hw, hb, gw, gb};
    double first = 0, last = 0;
    for (int s = 0; s < 600; s++) {
        CocodiffStepCtl ctl = {.seed = 3, .step = s, .sample0 = (s * 32) % N, .generate = 0, .grad_scale = 1};
        CocodiffLosses lo;
        cocodiff_zero_grad(m);
        if (cocodiff_step(m, h + (size_t)((s * 32) % N) * L * C, y + (s * 32) % N, 32, &head, NULL, &ctl, &lo))
            bail("step %d", s);
        cdoptim_step(&opt, m, 0.1);
        if (s < 20) first += lo.diff / 20;
        if (s >= 580) last += lo.diff / 20;
    }
    cdoptim_free(&opt);
    ok(last < 0.5 * first, "the denoiser learns: L_diff %.3f over the first 20 steps, %.3f over the last 20", first, last);

    // the text now changes what the denoiser predicts
    CocodiffStepCtl pc = {.seed = 5, .step = -5, .sample0 = 0, .generate = 1, .grad_scale = 1};
    int32_t wrong[NT];
    for (int i = 0; i < NT; i++) wrong[i] = (yt[i] + 1) % K;
    CocodiffProbe own = {.text = yt, .t_start = 600}, bad = {.text = wrong, .t_start = 600};
    double lown = 0, lbad = 0, lnone = 0;
    cocodiff_probe_loss(m, ht, NT, &pc, &own, 0, &lown);
    cocodiff_probe_loss(m, ht, NT, &pc, &bad, 0, &lbad);
    cocodiff_probe_loss(m, ht, NT, &pc, &own, 1, &lnone);
    ok(lown < lnone && lnone < lbad, "at t 600 the own text helps, no text less, a wrong one misleads (%.3f, %.3f, %.3f)",
       lown, lnone, lbad);

    is_int(CD_OK, conditioning_measure(m, ht, yt, NT, C, K, hw, hb, &o, &s1), "probe on the trained module");
    diag("text: swap %.3f steer %.3f from noise %.3f own %.3f | shuffled: %.3f %.3f %.3f %.3f | random: %.3f %.3f %.3f %.3f",
         s1.text.swap, s1.text.steer, s1.text.from_noise, s1.text.probe.own, s1.shuffled.swap, s1.shuffled.steer,
         s1.shuffled.from_noise, s1.shuffled.probe.own, s1.random.swap, s1.random.steer, s1.random.from_noise, s1.random.probe.own);
    ok(s1.text.from_noise >= 0.8, "from noise under the class texts: %.2f >= 0.8", s1.text.from_noise);
    ok(s1.text.steer >= 0.5, "steer from t 600: %.2f >= 0.5", s1.text.steer);
    ok(s1.text.probe.own >= s1.real_top1 - 0.05, "own-text generations classified within 5 points of the real ones (%.2f vs %.2f)",
       s1.text.probe.own, s1.real_top1);
    ok(s1.text.swap > 0.5, "a wrong text moves a generation (swap %.2f)", s1.text.swap);
    ok(s1.shuffled.from_noise < 0.25 && s1.shuffled.steer < 0.25,
       "shuffled texts control: from noise %.2f, steer %.2f, below chance (0.25)", s1.shuffled.from_noise, s1.shuffled.steer);
    ok(s1.random.from_noise < s1.text.from_noise - 0.3 && s1.random.steer < s1.text.steer - 0.2,
       "random texts control: from noise %.2f, steer %.2f, far below the class texts'", s1.random.from_noise, s1.random.steer);
    int per = 1;
    for (int k = 0; k < K; k++) per &= s1.from_noise_class[k] >= 0 && s1.from_noise_class[k] <= 1;
    ok(per, "per-class from-noise shares in [0, 1]");
    ok(split_holds(&s1, NT), "own split by the head's verdict on the real feature: %lld right, %lld wrong; class texts "
       "kept %lld, fixed %lld of own %.0f", (long long)s1.real_right, (long long)s1.real_wrong,
       (long long)s1.text.probe.kept_hits, (long long)s1.text.probe.fixed_hits, s1.text.probe.own * NT);
    // every 8th sample labelled as the next class: the head reads its real feature "wrong", and its own-text
    // generation is a steer case (source of one class, the text of another): fixed follows the text
    int32_t yr[NT];
    for (int i = 0; i < NT; i++) yr[i] = i % 8 ? yt[i] : (yt[i] + 1) % K;
    ConditioningOptions o4 = o;
    o4.controls = 0;
    ConditioningStats s4;
    int rc4 = conditioning_measure(m, ht, yr, NT, C, K, hw, hb, &o4, &s4);
    ok(!rc4 && split_holds(&s4, NT) && s4.real_wrong == NT / 8 && s4.text.probe.fixed >= 0.5 && s4.text.probe.kept >= 0.9,
       "relabelled 1 in 8: %lld wrong, own %.2f = kept %.2f on %lld + fixed %.2f on %lld (stay %.2f; steer %.2f)",
       (long long)s4.real_wrong, s4.text.probe.own, s4.text.probe.kept, (long long)s4.real_right, s4.text.probe.fixed,
       (long long)s4.real_wrong, s4.text.probe.stay, s4.text.steer);
    // own text at the trainer's t_gen: the range recorded (cocodiff.t_gen's default, 0.05-0.2 of 1000 steps), the
    // rightly read keep their class, and less noise fixes no more of the misread sources than t_probe's (nor
    // leaves fewer in the real feature's class)
    int lo, hi;
    cocodiff_t_gen_steps(m, &lo, &hi);
    ok(!rc4 && s4.t_gen_lo == lo && s4.t_gen_hi == hi && lo == 50 && hi == 200 && s4.text.tgen.kept >= 0.9 &&
       s4.text.tgen.fixed <= s4.text.probe.fixed && s4.text.tgen.stay >= s4.text.probe.stay,
       "at t_gen %d-%d: own %.2f = kept %.2f + fixed %.2f (stay %.2f), against fixed %.2f (stay %.2f) from t %d",
       s4.t_gen_lo, s4.t_gen_hi, s4.text.tgen.own, s4.text.tgen.kept, s4.text.tgen.fixed, s4.text.tgen.stay,
       s4.text.probe.fixed, s4.text.probe.stay, s4.t_probe);
    // the same module with t_gen [0.6, 0.6]: own text at t_gen is the probe's own, bit for bit (the same noise)
    Cocodiff *m6 = module(coarse, fine, 0.6f, 0.6f);
    memcpy(cocodiff_params(m6), cocodiff_params(m), cocodiff_num_params(m) * sizeof(float));
    if (cocodiff_ema_params(m)) memcpy(cocodiff_ema_params(m6), cocodiff_ema_params(m), cocodiff_num_params(m) * sizeof(float));
    ConditioningStats s6;
    int rc6 = conditioning_measure(m6, ht, yr, NT, C, K, hw, hb, &o4, &s6);
    ok(!rc4 && !rc6 && s6.t_gen_lo == s6.t_probe && s6.t_gen_hi == s6.t_probe && s6.text.tgen.own == s4.text.probe.own &&
       s6.text.tgen.kept_hits == s4.text.probe.kept_hits && s6.text.tgen.fixed_hits == s4.text.probe.fixed_hits &&
       s6.text.tgen.stay_hits == s4.text.probe.stay_hits && s6.text.probe.own == s4.text.probe.own && s6.text.steer == s4.text.steer,
       "t_gen [0.6, 0.6]: own text at t_gen = own from t_probe (%lld + %lld hits)", (long long)s6.text.tgen.kept_hits,
       (long long)s6.text.tgen.fixed_hits);
    if (!rc6) conditioning_free(&s6);
    cocodiff_free(m6);
    if (!rc4) conditioning_free(&s4);

    is_int(CD_OK, conditioning_measure(m, ht, yt, NT, C, K, hw, hb, &o, &s2), "probe again");
    ok(!memcmp(&s1.text, &s2.text, sizeof s1.text) && !memcmp(&s1.random, &s2.random, sizeof s1.random),
       "the same figures, bit for bit");
    int32_t one[NT];
    for (int i = 0; i < NT; i++) one[i] = 2;
    ConditioningStats s3;
    is_int(CD_EARG, conditioning_measure(m, ht, one, NT, C, K, hw, hb, &o, &s3), "one class present is refused");
    CocodiffProbe far = {.text = yt, .t_start = 5000};
    float out[L * C];
    is_int(CD_EARG, cocodiff_generate_probe(m, ht, 1, &pc, &far, out), "a start step past T_diff is refused");
    // the text controls the trainer applies (cocodiff.text_control)
    float c2[K * DT], f2[K * COCODIFF_PARTS * DT];
    memcpy(c2, coarse, sizeof c2);
    memcpy(f2, fine, sizeof f2);
    class_text_control(CLASS_TEXT_SHUFFLED, K, DT, 9, c2, f2);
    int der = 1, used[K] = {0};
    for (int k = 0; k < K; k++) {
        int src = -1;
        for (int j = 0; j < K; j++)
            if (!memcmp(c2 + k * DT, coarse + j * DT, sizeof(float) * DT) &&
                !memcmp(f2 + k * COCODIFF_PARTS * DT, fine + j * COCODIFF_PARTS * DT, sizeof(float) * COCODIFF_PARTS * DT))
                src = j;
        der &= src >= 0 && src != k && !used[src];
        if (src >= 0) used[src] = 1;
    }
    ok(der, "shuffled texts: every class holds another class's coarse and fine rows, each used once");
    memcpy(c2, coarse, sizeof c2);
    memcpy(f2, fine, sizeof f2);
    class_text_control(CLASS_TEXT_RANDOM, K, DT, 9, c2, f2);
    double worst = 0;
    for (int r = 0; r < K * (1 + COCODIFF_PARTS); r++) {
        const float *a = r < K ? coarse + r * DT : fine + (r - K) * DT, *b = r < K ? c2 + r * DT : f2 + (r - K) * DT;
        double na = 0, nb = 0, dot = 0;
        for (int k = 0; k < DT; k++) { na += a[k] * a[k]; nb += b[k] * b[k]; dot += a[k] * b[k]; }
        worst = fmax(worst, fabs(sqrt(na) - sqrt(nb)) / sqrt(na));
        if (fabs(dot) > 0.999 * sqrt(na * nb)) worst = 1;
    }
    ok(worst < 1e-5, "random texts: new directions, each row of its original norm (worst relative error %.1e)", worst);
    conditioning_free(&s0);
    conditioning_free(&s1);
    conditioning_free(&s2);
    cocodiff_free(m);
    return tap_done();
}
