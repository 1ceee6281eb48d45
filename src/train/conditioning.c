// conditioning.c - the text-conditioning probe of the CoCoDiff module (see
// conditioning.h). Pure computation over the module, real part tokens and the
// head; sums in double, samples in index order.
#include "conditioning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "class_text.h"
#include "crng.h"
#include "diversity.h"
#include "status.h"

// Probe streams: their own salt, and steps no training step uses.
#define SALT 0x636f6e642d707262ULL   // "cond-prb"
enum { STEP_SOURCE = -3, STEP_NOISE = -4 };
enum { P_WRONG = 1 };

void conditioning_options_default(ConditioningOptions *o) {
    o->seed = 1;
    o->t_probe = 0.6;
    o->noise_per_class = 32;
    o->batch = 64;
    o->guidance = 0;
    o->controls = 1;
}

void conditioning_free(ConditioningStats *s) {
    free(s->from_noise_class);
    s->from_noise_class = NULL;
}

static double dist(const float *a, const float *b, int C) {
    double s = 0;
    for (int c = 0; c < C; c++) s += ((double)a[c] - b[c]) * ((double)a[c] - b[c]);
    return sqrt(s);
}

typedef struct Probe {
    Cocodiff *m;
    int C, K, T, L;           // L: floats of one sample's part tokens (7 C)
    const float *hw, *hb;
    const int32_t *real_pred; // (n) the head's class for sample i's real feature
    const ConditioningOptions *o;
    float *ga, *gb;           // (batch, 7, C) generations
    int32_t *ta, *tb;         // (batch) text classes
} Probe;

// Own-text generations of samples [i0, i0 + B) from the trainer's t_gen, drawn per sample (gen_pair's
// noise: the same ctl), into gb.
static int gen_tgen(Probe *p, const float *h, int64_t i0, int B, const float *coarse, const float *fine) {
    CocodiffStepCtl ctl = {.seed = p->o->seed, .step = STEP_SOURCE, .sample0 = i0, .generate = 1, .grad_scale = 1};
    CocodiffProbe a = {.text = p->ta, .t_start = -1, .coarse = coarse, .fine = fine, .guidance = p->o->guidance};
    return cocodiff_generate_probe(p->m, h + (size_t)i0 * p->L, B, &ctl, &a, p->gb);
}

// One own-text split from its counts: hits[r], group[r] with r 1 for the samples whose real feature the head
// reads right; stay among the others.
static void own_split(ConditioningOwn *f, const int64_t hits[2], const int64_t group[2], int64_t stay, int64_t n) {
    f->own = (double)(hits[0] + hits[1]) / (double)n;
    f->kept_hits = hits[1];
    f->fixed_hits = hits[0];
    f->kept = group[1] > 0 ? (double)hits[1] / (double)group[1] : NAN;
    f->fixed = group[0] > 0 ? (double)hits[0] / (double)group[0] : NAN;
    f->stay_hits = stay;
    f->stay = group[0] > 0 ? (double)stay / (double)group[0] : NAN;
}

// Generations of samples [i0, i0 + B) from t_probe under texts ta / tb (same draws).
static int gen_pair(Probe *p, const float *h, int64_t i0, int B, const float *coarse, const float *fine) {
    CocodiffStepCtl ctl = {.seed = p->o->seed, .step = STEP_SOURCE, .sample0 = i0, .generate = 1, .grad_scale = 1};
    int t = (int)lround(p->o->t_probe * p->T);
    if (t > p->T - 1) t = p->T - 1;
    CocodiffProbe a = {.text = p->ta, .t_start = t, .coarse = coarse, .fine = fine, .guidance = p->o->guidance}, b = a;
    b.text = p->tb;
    int rc = cocodiff_generate_probe(p->m, h + (size_t)i0 * p->L, B, &ctl, &a, p->ga);
    if (!rc) rc = cocodiff_generate_probe(p->m, h + (size_t)i0 * p->L, B, &ctl, &b, p->gb);
    return rc;
}

// One mode's four figures. text_of[k]: the class whose text stands for k.
static int measure_mode(Probe *p, const float *h, const int32_t *y, const int32_t *wrong, int64_t n,
                        const int32_t *text_of, const int *present, int npresent, const float *coarse,
                        const float *fine, ConditioningFigures *f, double *per_class) {
    double dsw = 0, dsrc = 0;
    int64_t steer = 0, hits[2] = {0, 0}, group[2] = {0, 0};   // [0] wrong, [1] right on the real feature
    int64_t stay = 0;   // misread samples whose own-text generation stays in the head's class of the real feature
    int64_t ghits[2] = {0, 0}, gstay = 0;   // the same at the trainer's t_gen
    int rc = CD_OK;
    for (int64_t i0 = 0; i0 < n && !rc; i0 += p->o->batch) {
        int B = (int)(n - i0 < p->o->batch ? n - i0 : p->o->batch);
        for (int i = 0; i < B; i++) {
            p->ta[i] = text_of[y[i0 + i]];
            p->tb[i] = text_of[wrong[i0 + i]];
        }
        if ((rc = gen_pair(p, h, i0, B, coarse, fine))) break;
        for (int i = 0; i < B; i++) {
            const float *ga = p->ga + (size_t)i * p->L, *gb = p->gb + (size_t)i * p->L;
            dsw += dist(ga, gb, p->C);
            dsrc += dist(ga, h + (size_t)(i0 + i) * p->L, p->C);
            int32_t rp = p->real_pred[i0 + i], gp = diversity_head_argmax(ga, p->hw, p->hb, p->C, p->K);
            int r = rp == y[i0 + i];
            group[r]++;
            hits[r] += gp == y[i0 + i];
            stay += !r && gp == rp;
            steer += diversity_head_argmax(gb, p->hw, p->hb, p->C, p->K) == wrong[i0 + i];
        }
        if ((rc = gen_tgen(p, h, i0, B, coarse, fine))) break;
        for (int i = 0; i < B; i++) {
            int32_t rp = p->real_pred[i0 + i];
            int gp = diversity_head_argmax(p->gb + (size_t)i * p->L, p->hw, p->hb, p->C, p->K);
            int r = rp == y[i0 + i];
            ghits[r] += gp == y[i0 + i];
            gstay += !r && gp == rp;
        }
    }
    f->swap = dsrc > 0 ? dsw / dsrc : 0;
    f->steer = (double)steer / (double)n;
    own_split(&f->probe, hits, group, stay, n);
    own_split(&f->tgen, ghits, group, gstay, n);
    // from pure noise: noise_per_class generations per class present
    int T = p->T, per = p->o->noise_per_class;
    int64_t total = (int64_t)npresent * per;
    double acc = 0;
    for (int64_t j0 = 0; j0 < total && !rc; j0 += p->o->batch) {
        int B = (int)(total - j0 < p->o->batch ? total - j0 : p->o->batch);
        for (int i = 0; i < B; i++) p->ta[i] = text_of[present[(j0 + i) / per]];
        CocodiffStepCtl ctl = {.seed = p->o->seed, .step = STEP_NOISE, .sample0 = j0, .generate = 1, .grad_scale = 1};
        CocodiffProbe q = {.text = p->ta, .t_start = T - 1, .from_noise = 1, .coarse = coarse, .fine = fine,
                           .guidance = p->o->guidance};
        if ((rc = cocodiff_generate_probe(p->m, NULL, B, &ctl, &q, p->ga))) break;
        for (int i = 0; i < B; i++) {
            int k = present[(j0 + i) / per];
            int hit = diversity_head_argmax(p->ga + (size_t)i * p->L, p->hw, p->hb, p->C, p->K) == k;
            if (per_class) per_class[k] += (double)hit / per;
            acc += hit;
        }
    }
    f->from_noise = total > 0 ? acc / (double)total : 0;
    return rc;
}

int conditioning_measure(Cocodiff *m, const float *h, const int32_t *y, int64_t n, int C, int K,
                         const float *hw, const float *hb, const ConditioningOptions *o,
                         ConditioningStats *out) {
    memset(out, 0, sizeof *out);
    int mC, Dt, mK;
    cocodiff_dims(m, &mC, &Dt, &mK);
    const float *coarse, *fine;
    cocodiff_text(m, &coarse, &fine);
    if (!h || !y || !hw || !hb || !o || n < 1 || C != mC || K != mK || !coarse || o->batch < 1 ||
        o->noise_per_class < 1 || !(o->t_probe >= 0 && o->t_probe <= 1) || !(o->guidance >= 0)) {
        CD_ERR("conditioning: need features, labels, the head and a module with texts of the same sizes "
               "(n %lld, C %d vs %d, K %d vs %d), batch and noise_per_class >= 1, t_probe in [0, 1], guidance >= 0",
               (long long)n, C, mC, K, mK);
        return CD_EARG;
    }
    int *present = cd_malloc((size_t)K * sizeof(int)), np = 0;
    char *seen = cd_calloc((size_t)K, 1);
    if (!present || !seen) { free(present); free(seen); return CD_ENOMEM; }
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K) {
            CD_ERR("conditioning: label %d of sample %lld is outside [0, %d)", (int)y[i], (long long)i, K);
            free(present); free(seen);
            return CD_EARG;
        }
        seen[y[i]] = 1;
    }
    for (int k = 0; k < K; k++)
        if (seen[k]) present[np++] = k;
    free(seen);
    if (np < 2) {
        CD_ERR("conditioning: %d class(es) present; the probe needs two or more", np);
        free(present);
        return CD_EARG;
    }
    const ConditioningOptions oo = *o;
    int T = cocodiff_config(m)->T_diff, B = o->batch;
    size_t L = (size_t)COCODIFF_TOKENS * C;
    int32_t *wrong = cd_malloc((size_t)n * sizeof(int32_t)), *ident = cd_malloc((size_t)K * sizeof(int32_t)),
            *perm = cd_malloc((size_t)K * sizeof(int32_t)), *pos = cd_malloc((size_t)K * sizeof(int32_t));
    float *rc_ = cd_malloc((size_t)K * Dt * sizeof(float)), *rf = cd_malloc((size_t)K * COCODIFF_PARTS * Dt * sizeof(float));
    int32_t *real_pred = cd_malloc((size_t)n * sizeof(int32_t));
    Probe p = {m, C, K, T, (int)L, hw, hb, real_pred, &oo, cd_malloc((size_t)B * L * sizeof(float)),
               cd_malloc((size_t)B * L * sizeof(float)), cd_malloc((size_t)B * sizeof(int32_t)),
               cd_malloc((size_t)B * sizeof(int32_t))};
    out->from_noise_class = cd_malloc((size_t)K * sizeof(double));
    int rc = real_pred && wrong && ident && perm && pos && rc_ && rf && p.ga && p.gb && p.ta && p.tb && out->from_noise_class
                 ? CD_OK : CD_ENOMEM;
    if (!rc) {
        for (int k = 0; k < K; k++) {
            ident[k] = perm[k] = k;
            pos[k] = -1;
            out->from_noise_class[k] = NAN;
        }
        for (int j = 0; j < np; j++) {
            pos[present[j]] = j;
            out->from_noise_class[present[j]] = 0;
        }
        // wrong class of sample i: another class present, uniformly
        for (int64_t i = 0; i < n; i++) {
            Crng r = crng_make(SALT, o->seed, STEP_SOURCE, i, P_WRONG);
            wrong[i] = present[(pos[y[i]] + 1 + crng_below(&r, np - 1)) % np];
        }
        if (class_text_derangement(present, np, o->seed, perm)) rc = CD_ENOMEM;
        class_text_random(coarse, fine, K, Dt, o->seed, rc_, rf);
    }
    int64_t real = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        real_pred[i] = diversity_head_argmax(h + (size_t)i * L, hw, hb, C, K);
        real += real_pred[i] == y[i];
    }
    if (!rc) rc = measure_mode(&p, h, y, wrong, n, ident, present, np, NULL, NULL, &out->text, out->from_noise_class);
    if (!rc && o->controls) rc = measure_mode(&p, h, y, wrong, n, perm, present, np, NULL, NULL, &out->shuffled, NULL);
    if (!rc && o->controls) rc = measure_mode(&p, h, y, wrong, n, ident, present, np, rc_, rf, &out->random, NULL);
    out->n = n;
    out->classes = np;
    out->t_probe = (int)lround(o->t_probe * T) > T - 1 ? T - 1 : (int)lround(o->t_probe * T);
    out->noise_per_class = o->noise_per_class;
    cocodiff_t_gen_steps(m, &out->t_gen_lo, &out->t_gen_hi);
    out->real_top1 = (double)real / (double)n;
    out->real_right = real;
    out->real_wrong = n - real;
    out->guidance = o->guidance > 0 ? o->guidance : cocodiff_config(m)->guidance_scale;
    free(real_pred); free(wrong); free(ident); free(perm); free(pos); free(rc_); free(rf); free(present);
    free(p.ga); free(p.gb); free(p.ta); free(p.tb);
    if (rc) conditioning_free(out);
    return rc;
}
