// frozen.c - the CoCoDiff module on a frozen backbone (see frozen.h).
#include "frozen.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cdoptim.h"
#include "cdprobe.h"
#include "checkpoint.h"
#include "class_text.h"
#include "cli.h"
#include "cocodiff.h"
#include "conditioning.h"
#include "crng.h"
#include "diversity.h"
#include "fsutil.h"
#include "h5io_features.h"
#include "layers.h"
#include "optim.h"
#include "status.h"

#define SALT 0x66726f7a656e2d31ULL   // "frozen-1"
enum { P_ORDER = 1, P_HEAD = 2, P_NOISE = 3, P_HORDER = 4 };

void frozen_options_default(FrozenOptions *o) {
    memset(o, 0, sizeof *o);
    o->module_steps = 2000;
    o->module_batch = 64;
    o->gen_start = 0.5;
    o->extras = 1;
    o->extra_weight = 1.0;
    o->head_epochs = 30;
    o->gen_copies = 2;
}

// The order of epoch e over n rows (Fisher-Yates keyed by (seed, e)).
static void epoch_order(int64_t *ord, int64_t n, uint64_t seed, int64_t e, int purpose) {
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    Crng r = crng_make(SALT, seed, e, 0, purpose);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = crng_below(&r, i + 1), t = ord[i];
        ord[i] = ord[j];
        ord[j] = t;
    }
}

typedef struct Ctx {
    const Config *cfg;
    const FrozenOptions *o;
    H5Features tr, te;
    int C, K;
    float *hw, *hb;          // the frozen head (K, C), (K)
    Cocodiff *cd;
    char backbone_builds[512];   // the builds that trained the run's checkpoint ("" when it has none)
} Ctx;

// 1. The module alone on the training tokens.
static int train_module(Ctx *x) {
    const Config *c = x->cfg;
    const FrozenOptions *o = x->o;
    float *coarse = NULL, *fine = NULL;
    int D = 0;
    char why[1024] = "";
    int rc = class_text_load(c->cocodiff.text, x->K, &coarse, &fine, &D, why, sizeof why);
    if (rc) { CD_ERR("%s", why); return rc; }
    if ((rc = class_text_control((ClassTextControl)c->cocodiff.options.text_control, x->K, D, (uint64_t)c->seed, coarse,
                                 fine))) { free(coarse); free(fine); return rc; }
    if ((rc = cocodiff_create(&x->cd, &c->cocodiff.options, x->C, D, x->K))) { free(coarse); free(fine); return rc; }
    cocodiff_init(x->cd, (uint64_t)c->seed * 0x9e3779b97f4a7c15ull + 0xc0c0d1ffull);
    rc = cocodiff_set_text(x->cd, coarse, fine);
    free(coarse);
    free(fine);
    if (rc) return rc;
    CdOptim opt;
    if ((rc = cdoptim_init(&opt, x->cd, c->base_lr, c->cocodiff.momentum, c->weight_decay, c->nesterov))) return rc;
    int B = o->module_batch, L = COCODIFF_TOKENS;
    int64_t n = x->tr.n, S = o->module_steps, gen0 = (int64_t)(o->gen_start * (double)S);
    size_t tok = (size_t)L * x->C;
    float *hb = cd_malloc((size_t)B * tok * sizeof(float));
    float *gw = cd_calloc((size_t)x->K * x->C, sizeof(float)), *gb = cd_calloc((size_t)x->K, sizeof(float));
    int32_t *lb = cd_malloc((size_t)B * sizeof(int32_t));
    int64_t *ord = cd_malloc((size_t)n * sizeof(int64_t));
    if (!hb || !gw || !gb || !lb || !ord) rc = CD_ENOMEM;
    double acc[5] = {0};
    int64_t pos = n, epoch = -1, nacc = 0, ngen = 0;
    for (int64_t s = 0; s < S && !rc; s++) {
        for (int i = 0; i < B; i++) {
            if (pos >= n) { epoch_order(ord, n, (uint64_t)c->seed, ++epoch, P_ORDER); pos = 0; }
            int64_t r = ord[pos++];
            memcpy(hb + (size_t)i * tok, x->tr.parts + (size_t)r * tok, tok * sizeof(float));
            lb[i] = x->tr.label[r];
        }
        CocodiffHead head = {x->hw, x->hb, gw, gb};   // the head's gradient is dropped: it stays frozen
        CocodiffStepCtl ctl = {.seed = (uint64_t)c->seed, .step = s, .sample0 = s * B, .generate = s >= gen0,
                               .grad_scale = 1.0f};
        CocodiffLosses lo;
        cocodiff_zero_grad(x->cd);
        if ((rc = cocodiff_step(x->cd, hb, lb, B, &head, NULL, &ctl, &lo))) break;
        if (!isfinite(lo.total)) {
            CD_ERR("cocodiff-frozen: the module's loss is not finite at step %lld", (long long)s + 1);
            rc = CD_EARG;
            break;
        }
        cdoptim_step(&opt, x->cd, cdoptim_phase_lr(c->base_lr, s, S));
        acc[0] += lo.diff; acc[1] += lo.rec; acc[2] += lo.coarse;
        if (lo.generated) { acc[3] += lo.gen; acc[4] += lo.gen_acc; ngen++; }
        nacc++;
        if ((s + 1) % 250 == 0 || s + 1 == S) {
            printf("frozen | module step %lld/%lld | diff %.4f rec %.4f coarse %.4f gen %.4f gen_top1 %.3f | lr %g\n",
                   (long long)s + 1, (long long)S, acc[0] / nacc, acc[1] / nacc, acc[2] / nacc,
                   ngen ? acc[3] / ngen : 0.0, ngen ? acc[4] / ngen : 0.0, cdoptim_phase_lr(c->base_lr, s, S) * opt.lr_scale);
            fflush(stdout);
            memset(acc, 0, sizeof acc);
            nacc = ngen = 0;
        }
    }
    free(hb); free(gw); free(gb); free(lb); free(ord);
    cdoptim_free(&opt);
    return rc;
}

// The denoiser's loss on the evaluated tokens at a few steps, under the own
// text, another class's text and no text: does the text help it at all?
static int loss_by_t(Ctx *x) {
    int64_t n = x->te.n;
    size_t tok = (size_t)COCODIFF_TOKENS * x->C;
    int32_t *own = cd_malloc(64 * sizeof(int32_t)), *wrong = cd_malloc(64 * sizeof(int32_t));
    int rc = own && wrong ? CD_OK : CD_ENOMEM;
    static const int ts[] = {50, 200, 400, 600, 800, 950};
    printf("frozen | denoiser loss on the evaluated tokens, own text / wrong text / none:");
    for (size_t k = 0; k < sizeof ts / sizeof ts[0] && !rc; k++) {
        double sum[3] = {0, 0, 0};
        for (int64_t i0 = 0; i0 < n && !rc; i0 += 64) {
            int B = (int)(n - i0 < 64 ? n - i0 : 64);
            for (int i = 0; i < B; i++) {
                own[i] = x->te.label[i0 + i];
                wrong[i] = x->te.label[(i0 + i + n / 2) % n];   // another sample's class
            }
            CocodiffStepCtl ctl = {.seed = (uint64_t)x->cfg->seed, .step = -5, .sample0 = i0, .generate = 1, .grad_scale = 1};
            for (int j = 0; j < 3 && !rc; j++) {
                CocodiffProbe p = {.text = j == 1 ? wrong : own, .t_start = ts[k]};
                double l = 0;
                rc = cocodiff_probe_loss(x->cd, x->te.parts + (size_t)i0 * tok, B, &ctl, &p, j == 2, &l);
                sum[j] += l * B;
            }
        }
        printf(" t %d: %.4f %.4f %.4f;", ts[k], sum[0] / n, sum[1] / n, sum[2] / n);
    }
    printf("\n");
    free(own);
    free(wrong);
    return rc;
}

// 2. The probe and the diversity figures on the evaluated tokens.
static int measure(Ctx *x) {
    const Config *c = x->cfg;
    int64_t n = x->te.n;
    size_t tok = (size_t)COCODIFF_TOKENS * x->C;
    float *gen = cd_malloc((size_t)n * tok * sizeof(float)), *g0 = cd_malloc((size_t)n * x->C * sizeof(float));
    int rc = gen && g0 ? CD_OK : CD_ENOMEM;
    CocodiffStepCtl ctl = {.seed = (uint64_t)c->seed, .step = -2, .sample0 = 0, .generate = 1, .grad_scale = 1};
    for (int64_t i0 = 0; i0 < n && !rc; i0 += 64) {
        int B = (int)(n - i0 < 64 ? n - i0 : 64);
        ctl.sample0 = i0;
        rc = cocodiff_generate(x->cd, x->te.parts + (size_t)i0 * tok, x->te.label + i0, B, &ctl, gen + (size_t)i0 * tok,
                               NULL, NULL);
    }
    for (int64_t i = 0; i < n && !rc; i++) memcpy(g0 + (size_t)i * x->C, gen + (size_t)i * tok, (size_t)x->C * sizeof(float));
    DiversityStats ds;
    ConditioningStats cs;
    memset(&cs, 0, sizeof cs);
    ConditioningOptions co;
    conditioning_options_default(&co);
    co.seed = (uint64_t)c->seed;
    if (!rc) rc = diversity_measure(x->te.real, g0, x->te.label, n, x->C, x->K, x->hw, x->hb, &ds);
    if (!rc) rc = conditioning_measure(x->cd, x->te.parts, x->te.label, n, x->C, x->K, x->hw, x->hb, &co, &cs);
    free(gen);
    free(g0);
    if (rc) return rc;
    const ConditioningFigures *f[3] = {&cs.text, &cs.shuffled, &cs.random};
    const char *nm[3] = {"text", "shuffled_text", "random_text"};
    json_t *j = json_pack("{s:I, s:i, s:f, s:i, s:f, s:f, s:f, s:f}", "samples", (json_int_t)n, "classes", cs.classes,
                          "chance", 1.0 / cs.classes, "t_probe", cs.t_probe, "real_head_top1", cs.real_top1,
                          "generated_head_top1", ds.gen_head_top1, "generated_to_source", ds.gen_to_source,
                          "generated_pairwise_distance", ds.gen_pdist);
    if (j) cdprobe_counts_json(j, &cs);
    if (j) {   // this program's build, and the backbone's ("build not recorded": a run from before they were kept)
        json_object_set_new(j, "build", json_string(cli_version()));
        json_object_set_new(j, "backbone_builds", x->backbone_builds[0] ? json_string(x->backbone_builds) : json_null());
    }
    for (int i = 0; i < 3; i++) {
        json_object_set_new(j, nm[i], cdprobe_figures_json(f[i]));
        printf("frozen | conditioning, %s: swap %.3f, steer %.1f%%, from noise %.1f%%, own-text head top-1 %.1f%% "
               "(real %.1f%%; chance %.1f%%); own text at t_gen %d-%d: %.1f%%\n", nm[i], f[i]->swap, 100 * f[i]->steer,
               100 * f[i]->from_noise, 100 * f[i]->probe.own, 100 * cs.real_top1, 100.0 / cs.classes, cs.t_gen_lo,
               cs.t_gen_hi, 100 * f[i]->tgen.own);
    }
    printf("frozen | generated at the training t_gen: head top-1 %.1f%% (real %.1f%%), to source %.3f, within-class "
           "pairwise %.3f (real %.3f)\n", 100 * ds.gen_head_top1, 100 * ds.real_head_top1, ds.gen_to_source,
           ds.gen_pdist, ds.real_pdist);
    conditioning_free(&cs);
    char path[4200];
    snprintf(path, sizeof path, "%s/conditioning.json", x->o->out);
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6))) {
        CD_ERR("%s: cannot write", path);
        rc = CD_EIO;
    }
    json_decref(j);
    return rc;
}

// 3. Fresh linear heads on real (+ extra) training features.
static int train_heads(Ctx *x, int extra, FILE *f) {
    const Config *c = x->cfg;
    const FrozenOptions *o = x->o;
    static const char *const names[3] = {"none", "generated", "noise"};
    int C = x->C, K = x->K;
    int64_t n = x->tr.n, G = extra ? (int64_t)o->gen_copies * n : 0;
    size_t tok = (size_t)COCODIFF_TOKENS * C;
    float *xg = cd_malloc((size_t)(G > 0 ? G : 1) * C * sizeof(float)), *tmp = cd_malloc(64 * tok * sizeof(float));
    int32_t *yg = cd_malloc((size_t)(G > 0 ? G : 1) * sizeof(int32_t));
    int rc = xg && tmp && yg ? CD_OK : CD_ENOMEM;
    // the extra features, made once: copy g of row i from step -10 - g
    for (int64_t g = 0; g < o->gen_copies && extra && !rc; g++)
        for (int64_t i0 = 0; i0 < n && !rc; i0 += 64) {
            int B = (int)(n - i0 < 64 ? n - i0 : 64);
            CocodiffStepCtl ctl = {.seed = (uint64_t)c->seed, .step = -10 - g, .sample0 = i0, .generate = 1, .grad_scale = 1};
            if ((rc = cocodiff_generate(x->cd, x->tr.parts + (size_t)i0 * tok, x->tr.label + i0, B, &ctl, tmp, NULL, NULL)))
                break;
            for (int i = 0; i < B; i++) {
                int64_t r = g * n + i0 + i;
                const float *h = x->tr.real + (size_t)(i0 + i) * C, *hh = tmp + (size_t)i * tok;
                float *dst = xg + (size_t)r * C;
                yg[r] = x->tr.label[i0 + i];
                if (extra == 1) { memcpy(dst, hh, (size_t)C * sizeof(float)); continue; }
                // h + ||h_hat - h|| u, u a random unit direction (as cocodiff.gen_noise)
                double d2 = 0, u2 = 0;
                Crng nr = crng_make(SALT, (uint64_t)c->seed, -10 - g, i0 + i, P_NOISE);
                crng_normals(&nr, dst, (size_t)C);
                for (int k = 0; k < C; k++) {
                    d2 += ((double)hh[k] - h[k]) * ((double)hh[k] - h[k]);
                    u2 += (double)dst[k] * dst[k];
                }
                double sd = u2 > 0 ? sqrt(d2 / u2) : 0;
                for (int k = 0; k < C; k++) dst[k] = (float)(h[k] + sd * dst[k]);
            }
        }
    free(tmp);
    int B = c->batch_size, Bx = extra ? B : 0;
    float *w = cd_malloc((size_t)K * C * sizeof(float)), *b = cd_malloc((size_t)K * sizeof(float));
    float *p = cd_malloc((size_t)(K * C + K) * sizeof(float)), *gr = cd_malloc((size_t)(K * C + K) * sizeof(float));
    float *xb = cd_malloc((size_t)(B + Bx) * C * sizeof(float)), *lg = cd_malloc((size_t)(B + Bx) * K * sizeof(float));
    float *pr = cd_malloc((size_t)(B + Bx) * K * sizeof(float)), *dl = cd_malloc((size_t)(B + Bx) * K * sizeof(float));
    int32_t *yb = cd_malloc((size_t)(B + Bx) * sizeof(int32_t));
    int64_t *ord = cd_malloc((size_t)n * sizeof(int64_t)), *ordg = cd_malloc((size_t)(G > 0 ? G : 1) * sizeof(int64_t));
    if (!w || !b || !p || !gr || !xb || !lg || !pr || !dl || !yb || !ord || !ordg) rc = CD_ENOMEM;
    (void)w; (void)b;
    double sum = 0, sum2 = 0;
    for (int seed = 1; seed <= o->heads && !rc; seed++) {
        float *hw = p, *hbias = p + (size_t)K * C;
        Crng r = crng_make(SALT, (uint64_t)seed, -1, 0, P_HEAD);
        double bound = 1.0 / sqrt((double)C);
        for (size_t i = 0; i < (size_t)K * C + K; i++) p[i] = (float)((2 * crng_uniform(&r) - 1) * bound);
        OptimSgd opt;
        if ((rc = config_sgd_init(&opt, (size_t)K * C + K, c))) break;
        int64_t nb = n / B, E = o->head_epochs, posg = G;
        int64_t eg = -1;
        for (int64_t e = 0; e < E && !rc; e++) {
            epoch_order(ord, n, (uint64_t)seed, e, P_HORDER);
            double lr = e >= (2 * E) / 3 ? c->base_lr * 0.1 : c->base_lr;
            for (int64_t bi = 0; bi < nb; bi++) {
                for (int i = 0; i < B; i++) {
                    int64_t rr = ord[bi * B + i];
                    memcpy(xb + (size_t)i * C, x->tr.real + (size_t)rr * C, (size_t)C * sizeof(float));
                    yb[i] = x->tr.label[rr];
                }
                for (int i = 0; i < Bx; i++) {
                    if (posg >= G) { epoch_order(ordg, G, (uint64_t)seed, 1000000 + ++eg, P_HORDER); posg = 0; }
                    int64_t rr = ordg[posg++];
                    memcpy(xb + (size_t)(B + i) * C, xg + (size_t)rr * C, (size_t)C * sizeof(float));
                    yb[B + i] = yg[rr];
                }
                linear_forward(lg, xb, hw, hbias, B + Bx, C, K);
                crossentropy_forward(pr, lg, yb, B, K);
                if (Bx) crossentropy_forward(pr + (size_t)B * K, lg + (size_t)B * K, yb + B, Bx, K);
                memset(dl, 0, (size_t)(B + Bx) * K * sizeof(float));
                crossentropy_backward(dl, pr, yb, B, K, 1.0f);
                if (Bx) crossentropy_backward(dl + (size_t)B * K, pr + (size_t)B * K, yb + B, Bx, K, (float)o->extra_weight);
                memset(gr, 0, (size_t)(K * C + K) * sizeof(float));
                linear_backward(NULL, gr, gr + (size_t)K * C, dl, xb, hw, B + Bx, C, K);
                optim_sgd_step(&opt, p, gr, lr);
            }
        }
        optim_sgd_free(&opt);
        int64_t right = 0;
        for (int64_t i = 0; i < x->te.n; i++)
            right += diversity_head_argmax(x->te.real + (size_t)i * C, hw, hbias, C, K) == x->te.label[i];
        double top1 = (double)right / (double)x->te.n;
        sum += top1;
        sum2 += top1 * top1;
        fprintf(f, "%d\t%s\t%d\t%.6f\t%s\n", seed, names[extra], o->head_epochs, top1, cli_version());
        printf("frozen | head seed %d (%s extra features): test top-1 %.2f%%\n", seed, names[extra], 100 * top1);
        fflush(stdout);
    }
    if (!rc && o->heads > 0) {
        double m = sum / o->heads, sd = o->heads > 1 ? sqrt(fmax(0, (sum2 - o->heads * m * m) / (o->heads - 1))) : 0;
        printf("frozen | heads: %d seeds, %s extra features: mean test top-1 %.2f%% (std %.2f)\n", o->heads, names[extra],
               100 * m, 100 * sd);
    }
    free(xg); free(yg); free(w); free(b); free(p); free(gr); free(xb); free(lg); free(pr); free(dl); free(yb);
    free(ord); free(ordg);
    return rc;
}

// Every kind of extra features --extra lists, into OUT/heads.tsv.
static int heads_all(Ctx *x) {
    const FrozenOptions *o = x->o;
    char path[4200];
    snprintf(path, sizeof path, "%s/heads.tsv", o->out);
    FILE *f = fopen(path, "w");
    if (!f) { CD_ERR("%s: cannot write: %s", path, strerror(errno)); return CD_EIO; }
    fprintf(f, "seed\textra\tepochs\ttop1\tbuild\n");   // build: the program that trained the head
    int rc = CD_OK;
    static const char *const names[3] = {"none", "generated", "noise"};
    for (int k = 0; k < 3 && !rc; k++) {
        if (!(o->extras & (1 << k))) continue;
        if (k && !x->cd) {
            CD_ERR("cocodiff-frozen: --extra %s needs the module (--module-steps > 0)", names[k]);
            rc = CD_EARG;
        } else {
            rc = train_heads(x, k, f);
        }
    }
    if (fclose(f) && !rc) rc = CD_EIO;
    return rc;
}

static int load_inputs(Ctx *x) {
    const FrozenOptions *o = x->o;
    int rc = h5io_features_read(o->parts_train, &x->tr);
    if (!rc) rc = h5io_features_read(o->parts_test, &x->te);
    if (rc) return rc;
    if (x->tr.tokens != COCODIFF_TOKENS || x->te.tokens != COCODIFF_TOKENS || x->tr.C != x->te.C) {
        CD_ERR("%s, %s: need /parts of %d tokens and the same width (%d, %d tokens; C %d, %d)", o->parts_train,
               o->parts_test, COCODIFF_TOKENS, x->tr.tokens, x->te.tokens, x->tr.C, x->te.C);
        return CD_EFORMAT;
    }
    Ctrgcn *m = NULL;
    char why[1024] = "";
    CheckpointInfo info;
    if ((rc = checkpoint_load_model(o->checkpoint, &m, &info, why, sizeof why))) {
        CD_ERR("%s", why);
        return rc;
    }
    snprintf(x->backbone_builds, sizeof x->backbone_builds, "%s", info.builds);
    printf("frozen | build %s (cocodiff-frozen --version); the backbone %s: trained by %s\n", cli_version(), o->checkpoint,
           info.builds[0] ? info.builds : "a build not recorded");
    float *w, *b, *gw, *gb;
    ctrgcn_head(m, &w, &b, &gw, &gb);
    x->K = ctrgcn_config(m)->num_class;
    x->C = x->tr.C;
    int hc = (int)(ctrgcn_find(m, "fc.weight")->numel / (size_t)x->K);
    x->hw = cd_malloc((size_t)x->K * x->C * sizeof(float));
    x->hb = cd_malloc((size_t)x->K * sizeof(float));
    if (hc == x->C && x->hw && x->hb) {
        memcpy(x->hw, w, (size_t)x->K * x->C * sizeof(float));
        memcpy(x->hb, b, (size_t)x->K * sizeof(float));
    } else if (hc != x->C) {
        CD_ERR("%s: the head reads %d features, the part tokens have %d", o->checkpoint, hc, x->C);
        rc = CD_EFORMAT;
    } else {
        rc = CD_ENOMEM;
    }
    ctrgcn_free(m);
    for (int s = 0; s < 2 && !rc; s++) {
        const H5Features *f = s ? &x->te : &x->tr;
        for (int64_t i = 0; i < f->n; i++)
            if (f->label[i] < 0 || f->label[i] >= x->K) {
                CD_ERR("%s: label %d of row %lld is outside the head's %d classes", s ? o->parts_test : o->parts_train,
                       (int)f->label[i], (long long)i, x->K);
                return CD_EFORMAT;
            }
    }
    return rc;
}

int frozen_run(const Dist *d, const Config *cfg, const FrozenOptions *o) {
    int64_t code = 0;
    blas_set_threads(cfg->cocodiff.threads);
    if (d->rank == 0) {
        Ctx x;
        memset(&x, 0, sizeof x);
        x.cfg = cfg;
        x.o = o;
        int rc = fs_mkdir_p(o->out) ? CD_EIO : CD_OK;
        if (rc) CD_ERR("%s: cannot create: %s", o->out, strerror(errno));
        if (!rc) rc = load_inputs(&x);
        printf("frozen | %lld training rows (%d passes), %lld evaluated, C %d, %d classes\n", (long long)x.tr.n, x.tr.views,
               (long long)x.te.n, x.C, x.K);
        if (!rc && o->module_steps > 0) rc = train_module(&x);
        if (!rc && x.cd) rc = loss_by_t(&x);
        if (!rc && x.cd) rc = measure(&x);
        if (!rc && o->heads > 0) rc = heads_all(&x);
        code = rc == CD_OK ? 0 : rc == CD_EARG ? 2 : 1;
        cocodiff_free(x.cd);
        h5io_features_free(&x.tr);
        h5io_features_free(&x.te);
        free(x.hw);
        free(x.hb);
    }
    dist_bcast_bytes(d, &code, sizeof code, 0);
    return (int)code;
}
