// cdtrain.c - the CoCoDiff module's share of training (see cdtrain.h): its
// setup from the config's options and the class texts, the step between the
// backbone's forward and backward, its optimizer, its checkpoint groups and
// the generated-feature measurement at the end.
#include "cdtrain.h"
#include "cdoptim.h"
#include "checkpoint.h"
#include "class_text.h"
#include "conditioning.h"
#include "fsutil.h"
#include "diversity.h"
#include "h5io_features.h"
#include "status.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CdTrain {
    Cocodiff *cd;
    CdOptim opt;
    PartSets parts;
    CdTrainSpec spec;
    char text[1024], parts_path[1024];
    int K, C, V, M;             // classes; the last unit's width, joints, persons
    int Tl;                     // T' of the train window
    float *hparts, *dhparts;    // (n_max, 7, C)
    float *dfeat, *dlast;       // (n_max, C); (n_max*M, C, T', V) when part gradients
    H5Tensor *tensors;          // ((1 + buffers) * tensors) checkpoint views: params, the optimizer's buffers
    char groups[CDTRAIN_MAX_GROUPS][64];   // their group names
    float *gbase[CDTRAIN_MAX_GROUPS];      // and spans
    int ngroups;
};

// ---------------------------------------------------------------------------
// Setup

// The module with its texts, its optimizer and the checkpoint views.
static int build(CdTrain *t, const CdTrainSpec *s, char *why, size_t whylen) {
    float *coarse = NULL, *fine = NULL;
    int D = 0;
    int rc = class_text_load(s->text, t->K, &coarse, &fine, &D, why, whylen);
    if (rc) return rc;
    // the text controls: the same texts handed to the wrong classes, or random vectors
    if ((rc = class_text_control((ClassTextControl)s->options->text_control, t->K, D, s->seed, coarse, fine))) {
        free(coarse);
        free(fine);
        return rc;
    }
    rc = cocodiff_create(&t->cd, s->options, t->C, D, t->K);
    if (rc) {
        snprintf(why, whylen, "cannot build the CoCoDiff module (see above)");
        free(coarse); free(fine);
        return rc == CD_ENOMEM ? rc : CD_EARG;
    }
    // Seeded apart from the backbone's init (same run seed).
    cocodiff_init(t->cd, s->seed * 0x9e3779b97f4a7c15ull + 0xc0c0d1ffull);
    rc = cocodiff_set_text(t->cd, coarse, fine);
    free(coarse);
    free(fine);
    if (rc) { snprintf(why, whylen, "cocodiff.text %.900s: rejected by the module (see above)", s->text); return CD_EARG; }
    if ((rc = cdoptim_init(&t->opt, t->cd, s->base_lr, s->momentum, s->weight_decay, s->nesterov))) return rc;
    // checkpoint views: /cocodiff, then /optimizer/cocodiff_<buffer> per optimizer buffer
    int nt = cocodiff_num_tensors(t->cd), nb = cdoptim_buffers(&t->opt, -1, NULL, NULL);
    t->ngroups = 1 + nb;
    if (!(t->tensors = cd_calloc((size_t)nt * t->ngroups, sizeof *t->tensors))) return CD_ENOMEM;
    snprintf(t->groups[0], sizeof t->groups[0], "cocodiff");
    for (int g = 0; g < t->ngroups; g++) {
        float *base = cocodiff_params(t->cd);
        if (g > 0) {
            const char *bn;
            cdoptim_buffers(&t->opt, g - 1, &bn, &base);
            snprintf(t->groups[g], sizeof t->groups[g], "optimizer/cocodiff_%s", bn);
        }
        t->gbase[g] = base;
        for (int i = 0; i < nt; i++) {
            const CocodiffTensor *ct = cocodiff_tensor(t->cd, i);
            H5Tensor *h = &t->tensors[(size_t)g * nt + i];
            snprintf(h->name, sizeof h->name, "%s", ct->name);
            h->ndim = ct->ndim;
            for (int k = 0; k < ct->ndim; k++) h->shape[k] = ct->shape[k];
            h->numel = ct->numel;
            h->data = base + ct->offset;
        }
    }
    return CD_OK;
}

int cdtrain_setup(CdTrain **out, const CdTrainSpec *s, Ctrgcn *m, int W, int n_max, char *why, size_t whylen) {
    *out = NULL;
    CdTrain *t = cd_calloc(1, sizeof *t);
    if (!t) return CD_ENOMEM;
    t->spec = *s;
    snprintf(t->text, sizeof t->text, "%s", s->text);
    snprintf(t->parts_path, sizeof t->parts_path, "%s", s->parts);
    t->spec.text = t->text;
    t->spec.parts = t->parts_path;
    t->K = s->K;
    ctrgcn_last_output(m, &t->C, NULL, &t->V, &t->M);
    t->Tl = W;
    for (int l = 0; l < CTRGCN_UNITS; l++) t->Tl = (t->Tl - 1) / ctrgcn_config(m)->stride[l] + 1;
    int rc = CD_OK;
    if (part_sets_load(s->parts, t->V, &t->parts) != CD_OK) {
        snprintf(why, whylen, "cocodiff.parts %.900s: cannot use it for %d joints (see above)", s->parts, t->V);
        rc = CD_EARG;
    }
    if (!rc) rc = build(t, s, why, whylen);
    size_t nmax = (size_t)n_max, C = (size_t)t->C;
    if (!rc) {
        t->hparts = cd_malloc(nmax * COCODIFF_TOKENS * C * sizeof(float));
        t->dhparts = cd_malloc(nmax * COCODIFF_TOKENS * C * sizeof(float));
        t->dfeat = cd_malloc(nmax * C * sizeof(float));
        if (!t->hparts || !t->dhparts || !t->dfeat) rc = CD_ENOMEM;
    }
    if (!rc && cocodiff_part_grads(t->cd) &&
        !(t->dlast = cd_malloc(nmax * t->M * C * (size_t)t->Tl * t->V * sizeof(float))))
        rc = CD_ENOMEM;
    if (rc) {
        cdtrain_free(t);
        return rc;
    }
    *out = t;
    return CD_OK;
}

void cdtrain_free(CdTrain *t) {
    if (!t) return;
    cocodiff_free(t->cd);
    cdoptim_free(&t->opt);
    free(t->hparts); free(t->dhparts); free(t->dfeat); free(t->dlast); free(t->tensors);
    free(t);
}

void cdtrain_describe(const CdTrain *t, char *buf, size_t len) {
    const CocodiffConfig *cc = cocodiff_config(t->cd);
    char g[32], p[32], tc[32], o[128];
    cocodiff_choice_name(cocodiff_option_find("cocodiff.guidance")->choices, (int)cc->guidance, g, sizeof g);
    cocodiff_choice_name(cocodiff_option_find("cocodiff.prediction")->choices, (int)cc->prediction, p, sizeof p);
    cocodiff_choice_name(cocodiff_option_find("cocodiff.text_control")->choices, cc->text_control, tc, sizeof tc);
    cdoptim_describe(&t->opt, t->spec.base_lr, o, sizeof o);
    if (!cc->lr_decay) snprintf(o + strlen(o), sizeof o - strlen(o), ", without the step decay");
    snprintf(buf, len, "CoCoDiff module: %zu parameters (training only), d %d, %d heads, %d blocks, guidance %s%s%s, "
             "text %s%s%s, predicts %s, %d L_diff pass(es) a step, optimizer %s, generation %s from epoch %d "
             "(%d DDIM steps, guidance scale %g)%s, parts %s",
             cocodiff_num_params(t->cd), cc->d, cc->heads, cc->blocks, g, cc->text_type_embed ? ", type embeddings" : "",
             cc->part_text_inject ? ", own text first" : "", t->text, cc->text_control ? ", control: " : "",
             cc->text_control ? tc : "", p, cc->diff_repeats, o, cc->generation ? "on" : "off", t->spec.gen_start + 1,
             cc->gen_steps, cc->guidance_scale, cc->gen_noise ? " (control: replaced by noise of its size)" : "",
             t->parts_path);
}

float *cdtrain_grads(CdTrain *t) { return cocodiff_grads(t->cd); }
size_t cdtrain_num_params(const CdTrain *t) { return cocodiff_num_params(t->cd); }
const float *cdtrain_dfeat(const CdTrain *t) { return t->dfeat; }
const float *cdtrain_dlast(const CdTrain *t) { return t->dlast; }

// ---------------------------------------------------------------------------
// The step

// hparts (n, 7, C): the last unit's output pooled by part, token 0 = the
// head's input exactly.
static void part_tokens(CdTrain *t, Ctrgcn *m, float *hparts, int n) {
    int C, Tl, V, M;
    const float *last = ctrgcn_last_output(m, &C, &Tl, &V, &M);
    cocodiff_pool_parts(hparts, last, n, M, C, Tl, V, &t->parts);
    const float *h0 = ctrgcn_features(m);
    for (int i = 0; i < n; i++)
        memcpy(hparts + (size_t)i * COCODIFF_TOKENS * C, h0 + (size_t)i * C, (size_t)C * sizeof(float));
}

int cdtrain_num_stats(void) { return cocodiff_num_stats() + 1; }

int cdtrain_step(CdTrain *t, Ctrgcn *m, const int32_t *labels, int n, const CdTrainCtl *ctl, double *stats) {
    const int C = t->C;
    part_tokens(t, m, t->hparts, n);
    memset(t->dhparts, 0, (size_t)n * COCODIFF_TOKENS * C * sizeof(float));
    if (!ctl->accumulate) cocodiff_zero_grad(t->cd);
    CocodiffHead head;
    float *hw, *hb;
    ctrgcn_head(m, &hw, &hb, &head.gw, &head.gb);
    head.w = hw;
    head.b = hb;
    CocodiffStepCtl c = {.seed = t->spec.seed, .step = ctl->step, .sample0 = ctl->sample0,
                         .generate = ctl->epoch >= t->spec.gen_start, .grad_scale = ctl->grad_scale};
    CocodiffLosses lo;
    int rc = cocodiff_step(t->cd, t->hparts, labels, n, &head, t->dhparts, &c, &lo);
    if (rc) return rc;
    for (int i = 0; i < n; i++) {
        float *dh = t->dhparts + (size_t)i * COCODIFF_TOKENS * C;
        memcpy(t->dfeat + (size_t)i * C, dh, (size_t)C * sizeof(float));
        memset(dh, 0, (size_t)C * sizeof(float));   // token 0 goes through dfeat
    }
    if (t->dlast) {
        int Tl, V, M;
        ctrgcn_last_output(m, NULL, &Tl, &V, &M);
        memset(t->dlast, 0, (size_t)n * M * C * Tl * V * sizeof(float));
        cocodiff_pool_parts_backward(t->dlast, t->dhparts, n, M, C, Tl, V, &t->parts);
    }
    const int ns = cocodiff_num_stats();
    for (int i = 0; i < ns; i++) {
        const CocodiffStat *st = cocodiff_stat(i);
        double v = *(const double *)((const char *)&lo + st->off);
        stats[i] = !st->generated || lo.generated ? v * n : 0.0;
    }
    stats[ns] = lo.generated ? n : 0;
    return CD_OK;
}

double cdtrain_stat_mean(const double *stats, int i, double n) {
    const double gen_n = stats[cocodiff_num_stats()];
    if (cocodiff_stat(i)->generated) return gen_n > 0 ? stats[i] / gen_n : NAN;
    return stats[i] / n;
}

int cdtrain_progress(const double *stats, double n, const char **names, double *means, int max) {
    int k = 0;
    for (int p = 1; p <= cocodiff_num_stats(); p++)
        for (int i = 0; i < cocodiff_num_stats() && k < max; i++)
            if (cocodiff_stat(i)->progress == p) {
                double v = cdtrain_stat_mean(stats, i, n);
                names[k] = cocodiff_stat(i)->name;
                means[k++] = isnan(v) ? 0.0 : v;
            }
    return k;
}

double cdtrain_loss(const double *stats) {
    for (int i = 0; i < cocodiff_num_stats(); i++)
        if (!strcmp(cocodiff_stat(i)->name, "total")) return stats[i];
    return 0.0;
}

void cdtrain_optim_step(CdTrain *t, double lr, int64_t epoch) {
    const CdTrainSpec *s = &t->spec;
    if (!cocodiff_config(t->cd)->lr_decay)
        lr = epoch < s->warm_up ? s->base_lr * (double)(epoch + 1) / s->warm_up : s->base_lr;
    cdoptim_step(&t->opt, t->cd, lr);
}

int cdtrain_params_finite(const CdTrain *t) {
    const float *p = cocodiff_params(t->cd);
    for (size_t i = 0, n = cocodiff_num_params(t->cd); i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

// ---------------------------------------------------------------------------
// Checkpoints

int cdtrain_tensor_groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS]) {
    int nt = cocodiff_num_tensors(t->cd);
    for (int i = 0; i < t->ngroups; i++) g[i] = (H5TensorGroup){t->groups[i], t->tensors + (size_t)i * nt, nt};
    return t->ngroups;
}

static int restore_group(CdTrain *t, const CheckpointFile *f, const char *group, float *dst, char *why,
                         size_t whylen) {
    int n = 0;
    const H5Tensor *h5 = checkpoint_file_group(f, group, &n);
    if (!h5)
        return cd_why(why, whylen, CD_EFORMAT, "%s: no /%s group (HINT: written without the CoCoDiff module? resume "
                      "it with cocodiff.module off, or start the module run from it with weights: %s)", f->path,
                      group, f->path);
    for (int i = 0; i < cocodiff_num_tensors(t->cd); i++) {
        const CocodiffTensor *ct = cocodiff_tensor(t->cd, i);
        const H5Tensor *h = h5io_tensor_find(h5, n, ct->name);
        if (!h || h->dtype || h->numel != ct->numel)
            return cd_why(why, whylen, CD_EFORMAT, "%s: /%s/%s is missing or of another size (HINT: the module's "
                          "latent_dim, heads or blocks changed since it was written?)", f->path, group, ct->name);
        memcpy(dst + ct->offset, h->data, ct->numel * sizeof(float));
    }
    return CD_OK;
}

int cdtrain_restore(CdTrain *t, const CheckpointFile *f, long long steps, char *why, size_t whylen) {
    int rc = CD_OK;
    for (int g = 0; g < t->ngroups && !rc; g++) rc = restore_group(t, f, t->groups[g], t->gbase[g], why, whylen);
    if (!rc) cdoptim_set_steps(&t->opt, steps);   // the two optimizers always step together
    return rc;
}

// ---------------------------------------------------------------------------
// The generated-feature measurement

#define MEASURE_STEP (-2)

// This rank's real and generated h_0 of every test batch it holds.
typedef struct Feats {
    float *real, *gen;    // (cap, C)
    float *parts;         // (cap, 7, C): the real part tokens (token 0 = real)
    int32_t *label;
    int64_t *index;
    int64_t n, cap;
} Feats;

static int feats_alloc(Feats *f, int64_t cap, int C) {
    size_t c = (size_t)(cap > 0 ? cap : 1);
    f->real = cd_malloc(c * C * sizeof(float));
    f->gen = cd_malloc(c * C * sizeof(float));
    f->parts = cd_malloc(c * COCODIFF_TOKENS * C * sizeof(float));
    f->label = cd_malloc(c * sizeof(int32_t));
    f->index = cd_malloc(c * sizeof(int64_t));
    f->cap = cap;
    return f->real && f->gen && f->parts && f->label && f->index ? CD_OK : CD_ENOMEM;
}

static void feats_free(Feats *f) {
    free(f->real); free(f->gen); free(f->parts); free(f->label); free(f->index);
    memset(f, 0, sizeof *f);
}

// Every batch of `test` through the backbone (eval mode) and the module's
// generation, into f.
static int generate_all(CdTrain *t, Ctrgcn *m, Loader *test, int W, float *x, float *logits, Feats *f) {
    const int C = t->C, nmax = loader_max_local(test), nb = loader_num_batches(test);
    size_t tok = (size_t)COCODIFF_TOKENS * C, n1 = (size_t)(nmax > 0 ? nmax : 1);
    float *hp = cd_malloc(n1 * tok * sizeof(float)), *hh = cd_malloc(n1 * tok * sizeof(float));
    int32_t *lab = cd_malloc(n1 * sizeof(int32_t));
    int64_t *idx = cd_malloc(n1 * sizeof(int64_t));
    int rc = hp && hh && lab && idx ? CD_OK : CD_ENOMEM;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(test, 0, b, x, lab, idx, &nl);
        if (rc || nl == 0) continue;
        if ((rc = ctrgcn_forward(m, logits, x, nl, W, 0))) break;
        part_tokens(t, m, hp, nl);
        // one call per run of consecutive sample indices (the draws are keyed by sample0 + i)
        for (int i = 0; i < nl && rc == CD_OK;) {
            int j = i + 1;
            while (j < nl && idx[j] == idx[i] + (j - i)) j++;
            CocodiffStepCtl ctl = {.seed = t->spec.seed, .step = MEASURE_STEP, .sample0 = idx[i], .generate = 1,
                                   .grad_scale = 1.0f};
            rc = cocodiff_generate(t->cd, hp + (size_t)i * tok, lab + i, j - i, &ctl, hh + (size_t)i * tok, NULL, NULL);
            i = j;
        }
        for (int i = 0; i < nl; i++, f->n++) {
            memcpy(f->real + (size_t)f->n * C, hp + (size_t)i * tok, (size_t)C * sizeof(float));
            memcpy(f->parts + (size_t)f->n * tok, hp + (size_t)i * tok, tok * sizeof(float));
            memcpy(f->gen + (size_t)f->n * C, hh + (size_t)i * tok, (size_t)C * sizeof(float));
            f->label[f->n] = lab[i];
            f->index[f->n] = idx[i];
        }
    }
    free(hp); free(hh); free(lab); free(idx);
    return rc;
}

// The conditioning probe's figures as JSON (conditioning.h).
static json_t *conditioning_json(const ConditioningStats *c, int K) {
    json_t *o = json_object(), *pc = json_array();
    const ConditioningFigures *f[3] = {&c->text, &c->shuffled, &c->random};
    const char *name[3] = {"text", "shuffled_text", "random_text"};
    json_object_set_new(o, "samples", json_integer(c->n));
    json_object_set_new(o, "classes", json_integer(c->classes));
    json_object_set_new(o, "chance", json_real(1.0 / c->classes));
    json_object_set_new(o, "t_probe", json_integer(c->t_probe));
    json_object_set_new(o, "noise_per_class", json_integer(c->noise_per_class));
    json_object_set_new(o, "real_head_top1", json_real(c->real_top1));
    for (int i = 0; i < 3; i++)
        json_object_set_new(o, name[i], json_pack("{s:f, s:f, s:f, s:f}", "swap", f[i]->swap, "steer", f[i]->steer,
                                                  "own_head_top1", f[i]->own, "from_noise", f[i]->from_noise));
    for (int k = 0; k < K; k++)
        json_array_append_new(pc, isnan(c->from_noise_class[k]) ? json_null() : json_real(c->from_noise_class[k]));
    json_object_set_new(o, "from_noise_per_class", pc);
    return o;
}

static int write_diversity(const DiversityStats *st, const ConditioningStats *cs, int K, const char *path) {
    json_t *o = json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:o}",
        "samples", (json_int_t)st->n, "classes", st->classes, "real_pairwise_distance", st->real_pdist,
        "generated_pairwise_distance", st->gen_pdist, "real_covariance_trace", st->real_trace,
        "generated_covariance_trace", st->gen_trace, "real_head_top1", st->real_head_top1,
        "generated_head_top1", st->gen_head_top1, "generated_nearest_centroid_own", st->gen_nearest_own,
        "real_to_centroid", st->real_to_centroid, "generated_to_centroid", st->gen_to_centroid,
        "generated_to_source", st->gen_to_source, "features", "features.h5", "conditioning",
        conditioning_json(cs, K));
    char tmp[4300];
    fs_partial(path, tmp, sizeof tmp);
    int rc = CD_OK;
    if (!o || json_dump_file(o, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) || fs_commit(tmp, path)) {
        CD_ERR("%s: cannot write the diversity figures", path);
        rc = CD_EIO;
    }
    json_decref(o);
    return rc;
}

// Rank 0: the figures, features.h5 and diversity.json of the gathered rows
// (ranks hold contiguous slices in rank order, so the rows are in the
// split's order already).
static int report(CdTrain *t, const Dist *d, Ctrgcn *m, const Feats *all, const CdTrainFinish *fin) {
    float *hw, *hb, *gw, *gb;
    ctrgcn_head(m, &hw, &hb, &gw, &gb);
    DiversityStats st;
    ConditioningStats cs;
    memset(&cs, 0, sizeof cs);
    ConditioningOptions co;
    conditioning_options_default(&co);
    co.seed = t->spec.seed;
    int rc = diversity_measure(all->real, all->gen, all->label, all->n, t->C, t->K, hw, hb, &st);
    if (!rc) rc = conditioning_measure(t->cd, all->parts, all->label, all->n, t->C, t->K, hw, hb, &co, &cs);
    char path[4200];
    H5Features f = {.n = all->n, .C = t->C, .real = all->real, .generated = all->gen, .label = all->label,
                    .index = all->index};
    snprintf(f.data, sizeof f.data, "%s", fin->data ? fin->data : "");
    snprintf(f.split, sizeof f.split, "%s", fin->split ? fin->split : "test");
    snprintf(f.checkpoint, sizeof f.checkpoint, "%.1000s", fin->checkpoint);
    if (!rc && snprintf(path, sizeof path, "%s/features.h5", fin->work_dir) >= (int)sizeof path) rc = CD_EARG;
    if (!rc) rc = h5io_features_write(path, &f);
    if (!rc && snprintf(path, sizeof path, "%s/diversity.json", fin->work_dir) < (int)sizeof path)
        rc = write_diversity(&st, &cs, t->K, path);
    if (rc) { conditioning_free(&cs); return rc; }
    log_info(d, "train | generated features (test split, %lld samples, %d classes): within-class pairwise "
             "distance %.4g (real %.4g), covariance trace %.4g (real %.4g)", (long long)st.n, st.classes,
             st.gen_pdist, st.real_pdist, st.gen_trace, st.real_trace);
    log_info(d, "train | generated features: frozen head top-1 %.2f%% (real %.2f%%), nearest real centroid "
             "is their class for %.2f%%, distance to the class centroid %.4g (real %.4g), to their source %.4g",
             100 * st.gen_head_top1, 100 * st.real_head_top1, 100 * st.gen_nearest_own,
             st.gen_to_centroid, st.real_to_centroid, st.gen_to_source);
    const ConditioningFigures *f3[3] = {&cs.text, &cs.shuffled, &cs.random};
    const char *nm[3] = {"class texts", "shuffled texts (control)", "random texts (control)"};
    for (int i = 0; i < 3; i++)
        log_info(d, "train | conditioning, %s: swap %.3f, steer %.1f%%, from noise %.1f%%, own-text head top-1 %.1f%% "
                 "(real %.1f%%; t %d, chance %.1f%%)", nm[i], f3[i]->swap, 100 * f3[i]->steer, 100 * f3[i]->from_noise,
                 100 * f3[i]->own, 100 * cs.real_top1, cs.t_probe, 100.0 / cs.classes);
    conditioning_free(&cs);
    return CD_OK;
}

int cdtrain_finish(CdTrain *t, const Dist *d, Ctrgcn *m, Loader *test, int W, float *x, float *logits,
                   const CdTrainFinish *fin) {
    if (!cocodiff_config(t->cd)->generation) return CD_OK;
    Feats mine = {0}, all = {0};
    int rc = feats_alloc(&mine, (int64_t)loader_num_batches(test) * loader_max_local(test), t->C);
    if (!rc) rc = generate_all(t, m, test, W, x, logits, &mine);
    rc = dist_agree(d, rc);
    const size_t C = (size_t)t->C, n = (size_t)mine.n;
    void *ar = NULL, *ag = NULL, *ap = NULL, *al = NULL, *ai = NULL;
    size_t nr = 0, ng = 0, np = 0, nlab = 0, ni = 0;
    if (!rc) rc = dist_allgather_bytes(d, mine.real, n * C * sizeof(float), &ar, &nr, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.parts, n * COCODIFF_TOKENS * C * sizeof(float), &ap, &np, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.gen, n * C * sizeof(float), &ag, &ng, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.label, n * sizeof(int32_t), &al, &nlab, NULL);
    if (!rc) rc = dist_allgather_bytes(d, mine.index, n * sizeof(int64_t), &ai, &ni, NULL);
    feats_free(&mine);
    all = (Feats){ar, ag, ap, al, ai, (int64_t)(ni / sizeof(int64_t)), 0};
    if (!rc && d->rank == 0 && all.n > 0) rc = report(t, d, m, &all, fin);
    feats_free(&all);
    return dist_agree(d, rc);
}
