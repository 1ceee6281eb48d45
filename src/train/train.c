// train.c - data-parallel training of CTR-GCN (see train.h).
//
// Every rank holds the whole model; global batch b of epoch e is split
// into contiguous slices, one per rank (loader.h), so 1 and N ranks see the
// same samples. BatchNorm statistics are summed across ranks (sync_bn), the
// loss gradient is scaled by n_local / B and the parameter gradients are
// summed over the ranks: every rank then takes the same SGD step. The sums
// run in buckets (cocodiff.bucket_mb, gradsync.h), each started with
// MPI_Iallreduce as soon as backward has finished its layers, so they
// overlap the rest of backward (bucket_mb 0: one blocking MPI_Allreduce
// after backward; the same bits on 2 ranks, where a sum has one order). The
// data order and augmentation are functions of (seed, epoch, sample index),
// so a run resumed from a checkpoint continues exactly where it stopped.
//
// One optimizer step follows main.py Processor.train(): the learning rate is
// set once per epoch (adjust_learning_rate), loss = CrossEntropyLoss (mean
// over the global batch), zero_grad, backward, SGD step; top-1 is measured on
// the training batch's logits (before the step, as main.py does).
//
// With cocodiff.module on, the CoCoDiff module (cocodiff.h) trains alongside:
// after the backbone forward, the last unit's output is pooled into the 7
// part tokens (token 0 = the backbone's own pooled feature, bit for bit),
// cocodiff_step adds its losses' gradients to the FC head's grads, its own
// grads and dh (B, 7, C); dh's token 0 joins the backbone backward as an
// extra pooled-feature gradient (tokens 1..6 through the part pooling when
// the module has part gradients). Both grads are summed over the ranks, and
// the module takes its own SGD step (same lr, momentum, nesterov; weight
// decay only on its weight matrices). Its draws are functions of (seed,
// step, global sample index), so a resumed run continues bit for bit.
#include "train.h"
#include "blas.h"
#include "checkpoint.h"
#include "class_text.h"
#include "cocodiff.h"
#include "conditioning.h"
#include "ctrgcn.h"
#include "diversity.h"
#include "dump.h"
#include "eval.h"
#include "feeder.h"
#include "fold.h"
#include "fsutil.h"
#include "gradsync.h"
#include "h5io_ckpt.h"
#include "h5io_features.h"
#include "h5io_prep.h"
#include "loader.h"
#include "optim.h"
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Set by SIGTERM/SIGUSR1 (what Slurm sends before preemption); read at step
// boundaries, where the ranks agree on it. A signal handler can only talk
// through a global.
static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = sig; }

static void bn_allreduce(double *v, int n, void *ctx) {
    if (dist_allreduce_sum_f64((const Dist *)ctx, v, n) != CD_OK) dist_abort(ctx, 1, "BatchNorm statistics all-reduce failed");
}

typedef struct Trainer {
    const Dist *d;
    const Config *cfg;
    Ctrgcn *m;
    OptimSgd opt;
    Loader *train, *test;
    BnSync sync;
    GradSync *gs;               // the gradient all-reduce (buffers: the module's, if any, then the backbone's)
    int gs_model, gs_module;    // their gradsync indices
    CtrgcnGradHook grad_hook;   // backward -> gradsync_ready
    int K, C, W, V, M;
    int Wtest;                  // test window (test_feeder_args.window_size)
    int64_t nb;                 // batches per epoch
    float *x, *logits, *probs, *dlogits;
    int32_t *labels;
    int64_t *index;
    char last_ckpt[4200];       // rank 0: the last checkpoint written or resumed from
    char stream[32];
    char *config_yaml;
    FILE *metrics, *losses;     // rank 0
    // the CoCoDiff module (cocodiff.module on; NULL otherwise)
    Cocodiff *cd;
    OptimModule cd_opt;
    PartSets parts;
    int gen_start;              // first 0-based epoch with generation
    float *hparts, *dhparts;    // (n_local, 7, C)
    float *dfeat, *dlast;       // (n_local, C); (n_local*M, C, T', V) when part grads
    double cd_seconds, step_seconds;   // this run: time in the module's share of the steps, in the steps
    // what the loaders read (for cocodiff.dump_features): feeders, the
    // training subset and the evaluated one (NULL: the whole group)
    FeederConfig ftr, fte;
    int64_t *train_sub, *eval_sub, ntrain_sub, neval_sub;
    const char *eval_path;
    int eval_group;
} Trainer;

// Sums over one step's global batch (module losses times samples).
enum { MS_DIFF, MS_REC, MS_GEN, MS_COARSE, MS_FINE, MS_TOTAL, MS_GEN_ACC, MS_GEN_N, MS_N };

// The global statistics of one step (identical on every rank).
typedef struct StepStats {
    double loss_sum, correct, n;   // sum of per-sample losses, top-1 hits, samples
    double cd[MS_N];               // module: loss * samples (gen, gen_acc over MS_GEN_N samples)
} StepStats;

static int path_join(char *out, size_t n, const char *dir, const char *file) {
    return snprintf(out, n, "%s/%s", dir, file) < (int)n ? CD_OK : CD_EARG;
}

static char *config_text(const Config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    config_print(c, f);
    fclose(f);
    return buf;
}

static int all_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

// Collective. Rank 0 writes checkpoint-last.h5 (and epochNNN.h5 at the end
// of an epoch that main.py would save: (epoch % save_interval == 0 or the
// last epoch) and epoch > save_epoch, epoch counted from 1).
static int save(Trainer *t, int64_t step, int64_t epoch, int epoch_end) {
    int rc = CD_OK;
    const Config *c = t->cfg;
    if (t->d->rank == 0) {
        CheckpointInfo info = {.epoch = epoch, .step = step, .seed = c->seed, .config_yaml = t->config_yaml};
        snprintf(info.stream, sizeof info.stream, "%s", t->stream);
        path_join(t->last_ckpt, sizeof t->last_ckpt, c->work_dir, "checkpoint-last.h5");
        rc = checkpoint_save_module(t->last_ckpt, t->m, &t->opt, &info, t->cd, &t->cd_opt);
        if (rc == CD_OK && epoch_end && c->save_interval > 0 &&
            (epoch % c->save_interval == 0 || epoch == c->num_epoch) && epoch > c->save_epoch) {
            char name[64], path[4200];
            snprintf(name, sizeof name, "epoch%03lld.h5", (long long)epoch);
            path_join(path, sizeof path, c->work_dir, name);
            rc = checkpoint_save_module(path, t->m, &t->opt, &info, t->cd, &t->cd_opt);
        }
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) log_info(t->d, "train | checkpoint %s (epoch %lld, step %lld)", t->last_ckpt, (long long)epoch, (long long)step);
    return rc;
}

// Top-1 / top-5 on the test split, sharded over the ranks. Samples with a
// non-finite score count wrong (*nonfinite of them; the caller warns).
static int evaluate(Trainer *t, double *top1, double *top5, double *loss, int64_t *nonfinite) {
    double sums[5] = {0, 0, 0, 0, 0};   // correct1, correct5, loss * n, n, non-finite rows
    int nb = loader_num_batches(t->test), rc = CD_OK;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(t->test, 0, b, t->x, t->labels, t->index, &nl);
        if (rc || nl == 0) continue;
        rc = ctrgcn_forward(t->m, t->logits, t->x, nl, t->Wtest, 0);
        if (rc) break;
        sums[2] += (double)crossentropy_forward(t->probs, t->logits, t->labels, nl, t->K) * nl;
        for (int i = 0; i < nl; i++) {
            const float *l = t->logits + (size_t)i * t->K;
            if (!eval_row_finite(l, t->K)) {   // NaN compares false: it would rank first (eval.h)
                sums[4]++;
                continue;
            }
            float own = l[t->labels[i]];
            int above = 0;
            for (int k = 0; k < t->K; k++) above += l[k] > own;
            sums[0] += above == 0;
            sums[1] += above < 5;
        }
        sums[3] += nl;
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) rc = dist_allreduce_sum_f64(t->d, sums, 5);
    *nonfinite = (int64_t)sums[4];
    if (rc == CD_OK && sums[3] > 0) {
        *top1 = sums[0] / sums[3];
        *top5 = sums[1] / sums[3];
        *loss = sums[2] / sums[3];
    }
    return rc;
}

static void metrics_line(Trainer *t, json_t *obj) {
    if (t->metrics && obj) {
        json_dumpf(obj, t->metrics, JSON_COMPACT | JSON_REAL_PRECISION(7));
        fputc('\n', t->metrics);
        fflush(t->metrics);
    }
    json_decref(obj);
}

// ---------------------------------------------------------------------------
// Setup

// cocodiff.train_fraction f < 1: the low-data subset (fold_fraction) of the
// training samples (t->train_sub, or the whole train split when NULL).
static int subsample(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const double f = c->cocodiff.train_fraction;
    if (!(f > 0 && f < 1)) return CD_OK;
    const char *p = c->train_feeder_args.data_path;
    H5PrepInfo info;
    if (h5io_prep_info(p, &info) != CD_OK) return cd_why(why, whylen, CD_EIO, "%s: cannot read its header", p);
    int64_t N = info.n[0], n = t->train_sub ? t->ntrain_sub : N;
    int32_t *all = cd_malloc((size_t)(N > 0 ? N : 1) * sizeof(int32_t)), *lab = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    int64_t *idx = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t)), *sub = NULL, nsub = 0;
    int rc = all && lab && idx ? CD_OK : CD_ENOMEM;
    if (!rc && N > 0 && h5io_prep_read(p, 0, 0, N, NULL, all, NULL, NULL) != CD_OK)
        rc = cd_why(why, whylen, CD_EIO, "%s: cannot read the /train labels", p);
    for (int64_t i = 0; i < n && !rc; i++) {
        idx[i] = t->train_sub ? t->train_sub[i] : i;
        lab[i] = all[idx[i]];
    }
    if (!rc) rc = fold_fraction(idx, lab, n, f, &sub, &nsub);
    if (!rc) {
        log_info(t->d, "train | low data: cocodiff.train_fraction %g keeps %lld of the %lld training samples (per class)",
                 f, (long long)nsub, (long long)n);
        free(t->train_sub);
        t->train_sub = sub;
        t->ntrain_sub = nsub;
    }
    free(all); free(lab); free(idx);
    return rc;
}

// cocodiff.folds K: the TRAIN split of train_feeder_args.data_path less
// fold cocodiff.fold trains (train transform, shuffled, drop_last); the fold
// is evaluated with the test transform, where the test split would be.
static int open_folds(Trainer *t, const FeederConfig *ftr, const FeederConfig *fte, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const Dist *d = t->d;
    const char *p = c->train_feeder_args.data_path;
    const int K = c->cocodiff.folds, i = c->cocodiff.fold;
    FoldSplit s;
    char fw[900];
    int rc = fold_split_file(p, K, i, &s, fw, sizeof fw);
    if (rc) {
        snprintf(why, whylen, "cocodiff.folds %d, cocodiff.fold %d: %s", K, i, fw);
        return rc;
    }
    t->train_sub = s.train;
    t->ntrain_sub = s.ntrain;
    t->eval_sub = s.held;
    t->neval_sub = s.nheld;
    s.train = s.held = NULL;   // kept by the trainer
    if ((rc = subsample(t, why, whylen))) { fold_split_free(&s); return rc; }
    rc = loader_open_subset(&t->train, p, 0, t->train_sub, t->ntrain_sub, ftr, c->batch_size, d->rank, d->size,
                            (uint64_t)c->seed, 1, 1, why, whylen);
    if (!rc)
        rc = loader_open_subset(&t->test, p, 0, t->eval_sub, t->neval_sub, fte, c->test_batch_size, d->rank, d->size,
                                (uint64_t)c->seed, 0, 0, why, whylen);
    if (!rc) {
        log_info(d, "train | cross-validation: fold %d of %d of %s /train (%d subjects%s): %lld samples of %d "
                    "subject(s) held out for evaluation (%s), %lld to train on", i, K, p, s.nsubjects,
                 s.hashed ? ", names without one count as one each" : "", (long long)s.nheld, s.nheld_subjects,
                 s.held_names, (long long)t->ntrain_sub);
        if (c->test_feeder_args.data_path)
            log_info(d, "train | cross-validation: test_feeder_args.data_path %s is not used", c->test_feeder_args.data_path);
    }
    fold_split_free(&s);
    return rc;
}

// Opens the loaders and checks the data against model_args.
static int open_data(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const Dist *d = t->d;
    GraphLayout g;
    if (graph_parse(c->model_args.graph, &g) != CD_OK) {
        snprintf(why, whylen, "unknown graph %s", c->model_args.graph);
        return CD_EARG;
    }
    if (g == GRAPH_UCLA20) {
        snprintf(why, whylen, "%s: this build has the NW-UCLA graph and feeder transform but its "
                 "loader cannot read NW-UCLA data files yet", c->model_args.graph);
        return CD_EARG;
    }
    SkelLayout layout = g == GRAPH_NTU25 ? SKEL_LAYOUT_NTU25 : SKEL_LAYOUT_OPENPOSE18;
    const ConfigFeederArgs *ta = &c->train_feeder_args, *te = &c->test_feeder_args;
    FeederConfig ftr = feeder_config_official(layout, 1, ta->bone, ta->vel);
    FeederConfig fte = feeder_config_official(layout, 0, te->bone, te->vel);
    ftr.window = ta->window_size > 0 ? ta->window_size : 64;
    fte.window = te->window_size > 0 ? te->window_size : ftr.window;
    ftr.n_interval = ta->n_p_interval;
    memcpy(ftr.p_interval, ta->p_interval, sizeof ftr.p_interval);
    ftr.random_rot = ta->random_rot;
    fte.n_interval = te->n_p_interval;
    memcpy(fte.p_interval, te->p_interval, sizeof fte.p_interval);
    fte.random_rot = 0;
    if (!ta->data_path) {
        snprintf(why, whylen, "train_feeder_args.data_path is not set");
        return CD_EARG;
    }
    if (c->batch_size < d->size) {
        snprintf(why, whylen, "batch_size %d is smaller than the %d ranks", c->batch_size, d->size);
        return CD_EARG;
    }
    int rc;
    t->ftr = ftr;
    t->fte = fte;
    t->eval_path = c->cocodiff.folds > 0 ? ta->data_path : te->data_path;
    t->eval_group = c->cocodiff.folds > 0 ? 0 : 1;
    if (c->cocodiff.folds > 0) {
        rc = open_folds(t, &ftr, &fte, why, whylen);
    } else {
        rc = subsample(t, why, whylen);
        if (!rc)
            rc = loader_open_subset(&t->train, ta->data_path, 0, t->train_sub, t->ntrain_sub, &ftr, c->batch_size, d->rank,
                                    d->size, (uint64_t)c->seed, 1, 1, why, whylen);
        if (!rc && te->data_path && c->eval_interval > 0)
            rc = loader_open(&t->test, te->data_path, 1, &fte, c->test_batch_size, d->rank, d->size, (uint64_t)c->seed, 0, 0, why, whylen);
    }
    if (rc) return rc;
    if (loader_num_class(t->train) != c->model_args.num_class) {
        snprintf(why, whylen, "%s has %d classes but model_args.num_class is %d", ta->data_path,
                 loader_num_class(t->train), c->model_args.num_class);
        return CD_EARG;
    }
    loader_sample_dims(t->train, &t->C, &t->W, &t->V, &t->M);
    if (t->V != c->model_args.num_point || t->M != c->model_args.num_person || t->C != c->model_args.in_channels) {
        snprintf(why, whylen, "%s has (C %d, V %d, M %d) but model_args say (in_channels %d, num_point %d, num_person %d)",
                 ta->data_path, t->C, t->V, t->M, c->model_args.in_channels, c->model_args.num_point, c->model_args.num_person);
        return CD_EARG;
    }
    t->Wtest = t->W;
    if (t->test) {
        int C2, V2, M2;
        loader_sample_dims(t->test, &C2, &t->Wtest, &V2, &M2);
        if (loader_num_class(t->test) != c->model_args.num_class || C2 != t->C || V2 != t->V || M2 != t->M) {
            snprintf(why, whylen, "%s (test) has %d classes and (C %d, V %d, M %d); model_args say num_class %d, "
                     "(in_channels %d, num_point %d, num_person %d)", c->cocodiff.folds > 0 ? ta->data_path : te->data_path, loader_num_class(t->test),
                     C2, V2, M2, c->model_args.num_class, t->C, t->V, t->M);
            return CD_EARG;
        }
    }
    t->nb = loader_num_batches(t->train);
    return CD_OK;
}

static int build_model(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    GraphLayout g;
    graph_parse(c->model_args.graph, &g);
    CtrgcnConfig mc;
    ctrgcn_config_default(&mc, c->model_args.num_class, g, c->cocodiff.base_channel);
    mc.num_person = t->M;
    mc.in_channels = t->C;
    mc.drop_out = (float)c->model_args.drop_out;
    int rc = ctrgcn_create(&t->m, &mc);
    if (rc) {
        snprintf(why, whylen, "cannot build the model (see above)");
        return rc;
    }
    ctrgcn_init(t->m, (uint64_t)c->seed);
    if ((rc = optim_sgd_init_config(&t->opt, ctrgcn_num_params(t->m), c))) return rc;
    t->K = mc.num_class;
    if (c->cocodiff.sync_bn && t->d->size > 1) {
        t->sync = (BnSync){bn_allreduce, (void *)t->d};
        ctrgcn_set_bn_sync(t->m, &t->sync);
    }
    // One buffer serves both splits: the larger of (n_local x sample floats).
    size_t nmax = (size_t)loader_max_local(t->train), xfloats = nmax * loader_sample_floats(t->train);
    if (t->test) {
        size_t nt = (size_t)loader_max_local(t->test), xt = nt * loader_sample_floats(t->test);
        if (nt > nmax) nmax = nt;
        if (xt > xfloats) xfloats = xt;
    }
    t->x = cd_malloc(xfloats * sizeof(float));
    t->logits = cd_malloc(nmax * t->K * sizeof(float));
    t->probs = cd_malloc(nmax * t->K * sizeof(float));
    t->dlogits = cd_malloc(nmax * t->K * sizeof(float));
    t->labels = cd_malloc(nmax * sizeof(int32_t));
    t->index = cd_malloc(nmax * sizeof(int64_t));
    if (!t->x || !t->logits || !t->probs || !t->dlogits || !t->labels || !t->index) return CD_ENOMEM;
    t->config_yaml = config_text(c);
    return t->config_yaml ? CD_OK : CD_ENOMEM;
}

// cocodiff.module: the module, its optimizer, the part sets and buffers.
static int build_module(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const ConfigCocodiff *k = &c->cocodiff;
    if (!k->module) return CD_OK;
    int Cl = 0, V = 0, M = 0, Tl = t->W;
    ctrgcn_last_output(t->m, &Cl, NULL, &V, &M);
    for (int l = 0; l < CTRGCN_UNITS; l++) Tl = (Tl - 1) / ctrgcn_config(t->m)->stride[l] + 1;   // T' of the train window
    const char *pp = config_parts_path(c);
    if (part_sets_load(pp, V, &t->parts) != CD_OK) {
        snprintf(why, whylen, "cocodiff.parts %.900s: cannot use it for %d joints (see above)", pp, V);
        return CD_EARG;
    }
    float *coarse = NULL, *fine = NULL;
    int D = 0;
    int rc = class_text_load(k->text, t->K, &coarse, &fine, &D, why, whylen);
    if (rc) return rc;
    // the text controls: the same texts handed to the wrong classes, or random vectors
    ClassTextControl tc = !strcmp(k->text_control, "shuffled") ? CLASS_TEXT_SHUFFLED
                          : !strcmp(k->text_control, "random") ? CLASS_TEXT_RANDOM
                                                               : CLASS_TEXT_AS_IS;
    if ((rc = class_text_control(tc, t->K, D, (uint64_t)c->seed, coarse, fine))) { free(coarse); free(fine); return rc; }
    CocodiffConfig cc;
    config_module(c, &cc);
    rc = cocodiff_create(&t->cd, &cc, Cl, D, t->K);
    if (rc) {
        snprintf(why, whylen, "cannot build the CoCoDiff module (see above)");
        free(coarse); free(fine);
        return rc == CD_ENOMEM ? rc : CD_EARG;
    }
    // Seeded apart from the backbone's init (same run seed).
    cocodiff_init(t->cd, (uint64_t)c->seed * 0x9e3779b97f4a7c15ull + 0xc0c0d1ffull);
    rc = cocodiff_set_text(t->cd, coarse, fine);
    free(coarse);
    free(fine);
    if (rc) { snprintf(why, whylen, "cocodiff.text %.900s: rejected by the module (see above)", k->text); return CD_EARG; }
    if ((rc = optim_module_init(&t->cd_opt, t->cd, c))) return rc;
    t->gen_start = config_gen_start_epoch(c);
    size_t nmax = (size_t)loader_max_local(t->train);
    t->hparts = cd_malloc(nmax * COCODIFF_TOKENS * Cl * sizeof(float));
    t->dhparts = cd_malloc(nmax * COCODIFF_TOKENS * Cl * sizeof(float));
    t->dfeat = cd_malloc(nmax * Cl * sizeof(float));
    if (!t->hparts || !t->dhparts || !t->dfeat) return CD_ENOMEM;
    if (cocodiff_part_grads(t->cd)) {
        t->dlast = cd_malloc(nmax * M * Cl * (size_t)Tl * V * sizeof(float));
        if (!t->dlast) return CD_ENOMEM;
    }
    return CD_OK;
}

// Backward's gradient-ready hook: starts the buckets the backbone has just
// made final. A bucket that cannot start leaves this rank unable to match
// the others' all-reduces, so that is fatal for the job.
static void grads_ready(size_t first, void *ctx) {
    Trainer *t = ctx;
    if (gradsync_ready(t->gs, t->gs_model, first) != CD_OK) dist_abort(t->d, 1, "gradient all-reduce failed");
}

// The gradient all-reduce: the module's gradients (final after
// cocodiff_step, before the backbone's backward) as the first bucket, then
// the backbone's, back to front in the stages its backward reports.
// Collective (a communicator of its own): called once every rank's setup
// has succeeded, never on a path only some ranks take.
static int build_gradsync(Trainer *t) {
    const double mb = t->cfg->cocodiff.bucket_mb;
    size_t cap = mb > 0 ? (size_t)(mb * 1048576.0) : 0;
    if (mb > 0 && cap == 0) cap = 1;   // a tiny cap is per-stage buckets, never the blocking path
    int rc = gradsync_create(&t->gs, t->d, cap);
    if (rc) return rc;
    const size_t zero = 0;
    t->gs_module = -1;
    if (t->cd && (t->gs_module = gradsync_add(t->gs, cocodiff_grads(t->cd), cocodiff_num_params(t->cd), &zero, 1)) < 0)
        return t->gs_module;
    size_t stages[CTRGCN_GRAD_STAGES];
    ctrgcn_grad_stages(t->m, stages);
    t->gs_model = gradsync_add(t->gs, ctrgcn_grads(t->m), ctrgcn_num_params(t->m), stages, CTRGCN_GRAD_STAGES);
    if (t->gs_model < 0) return t->gs_model;
    t->grad_hook = (CtrgcnGradHook){grads_ready, t};
    if (gradsync_overlapped(t->gs)) ctrgcn_set_grad_hook(t->m, &t->grad_hook);
    const Dist *d = t->d;
    const int nb = gradsync_num_buckets(t->gs);
    const double mbytes = (double)gradsync_max_bucket_bytes(t->gs) / 1048576.0;
    if (d->size > 1 && nb > 1)
        log_info(d, "train | gradient all-reduce: %d buckets of <= %.3g MB, overlapped with backward (cocodiff.bucket_mb %g)",
                 nb, mbytes, mb);
    else if (d->size > 1 && nb == 1)
        log_info(d, "train | gradient all-reduce: 1 bucket of %.3g MB, after backward (all the gradients fit in "
                    "cocodiff.bucket_mb %g)", mbytes, mb);
    else if (d->size > 1)
        log_info(d, "train | gradient all-reduce: one blocking call after backward (cocodiff.bucket_mb 0)");
    return CD_OK;
}

// Rank 0: warns with the first line where the config stored in a checkpoint
// differs from this run's (a changed lr is a choice; a changed batch size or
// data breaks the step <-> sample mapping a resume relies on).
static void warn_config_change(const Trainer *t, const char *path) {
    if (t->d->rank != 0 || !t->config_yaml) return;
    H5CkptMeta meta;
    H5Tensor *tt = NULL;
    int n = 0;
    if (h5io_ckpt_read(path, &meta, &tt, &n, NULL, NULL) != CD_OK) return;
    const char *a = meta.config_yaml ? meta.config_yaml : "", *b = t->config_yaml;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la)) {
            log_warn(t->d, "%s was written with another config: '%.*s' there, '%.*s' now", path, (int)(la > 200 ? 200 : la),
                     a, (int)(lb > 200 ? 200 : lb), b);
            break;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    h5io_tensors_free(tt, n);
    h5io_ckpt_meta_free(&meta);
}

// --resume (checkpoint-last.h5, when present) or the initial weights.
static int load_state(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    char last[4200];
    path_join(last, sizeof last, c->work_dir, "checkpoint-last.h5");
    *step0 = (int64_t)c->start_epoch * t->nb;
    if (o->resume && access(last, R_OK) == 0) {
        CheckpointInfo info;
        int rc = checkpoint_load_into(last, t->m, &t->opt, NULL, 0, &info, why, whylen);
        if (rc) return rc;
        if (t->cd) {
            if ((rc = checkpoint_load_module(last, t->cd, &t->cd_opt, why, whylen))) return rc;
            optim_module_set_steps(&t->cd_opt, t->opt.steps);   // the two optimizers always step together
        }
        if (info.stream[0] && strcmp(info.stream, t->stream)) {
            snprintf(why, whylen, "%.600s was trained on the %s stream, the config asks for %s", last, info.stream, t->stream);
            return CD_EARG;
        }
        warn_config_change(t, last);
        // epoch = completed epochs = step / batches per epoch when it was written.
        if (info.step < 0 || info.epoch != info.step / t->nb) {
            snprintf(why, whylen, "%.600s: step %lld at epoch %lld does not fit %lld batches an epoch (HINT: "
                     "batch_size or the data changed since it was written; resume with the same config)", last,
                     (long long)info.step, (long long)info.epoch, (long long)t->nb);
            return CD_EARG;
        }
        if ((long long)info.step != t->opt.steps)
            log_warn(t->d, "%s: step %lld but %lld optimizer steps", last, (long long)info.step, t->opt.steps);
        *step0 = info.step;
        snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", last);
        log_info(t->d, "train | resumed from %s at epoch %lld, step %lld", last, (long long)info.epoch, (long long)info.step);
    } else {
        if (o->resume) log_info(t->d, "train | --resume: no %s yet, starting from scratch", last);
        if (c->weights) {
            int rc = checkpoint_load_into(c->weights, t->m, NULL, (const char *const *)c->ignore_weights.v,
                                          c->ignore_weights.n, NULL, why, whylen);
            if (rc) return rc;
            log_info(t->d, "train | initial weights from %s", c->weights);
        }
    }
    return CD_OK;
}

// Rank 0: config.yaml, the metrics file and --log-losses (appended to when
// resuming, started afresh otherwise).
static int open_outputs(Trainer *t, const TrainOptions *o, char *why, size_t whylen) {
    const Config *c = t->cfg;
    if (t->d->rank != 0) return CD_OK;
    const char *mode = o->resume && t->last_ckpt[0] ? "a" : "w";
    char p[4200];
    path_join(p, sizeof p, c->work_dir, "config.yaml");
    FILE *f = fopen(p, "w");
    if (f) { config_print(c, f); fclose(f); }
    path_join(p, sizeof p, c->work_dir, c->cocodiff.metrics_file ? c->cocodiff.metrics_file : "metrics.jsonl");
    if (!(t->metrics = fopen(p, mode))) {
        snprintf(why, whylen, "%.900s: cannot open the metrics file: %s", p, strerror(errno));
        return CD_EIO;
    }
    if (o->log_losses && !(t->losses = fopen(o->log_losses, mode))) {
        snprintf(why, whylen, "%.900s: cannot open for --log-losses: %s", o->log_losses, strerror(errno));
        return CD_EIO;
    }
    return CD_OK;
}

static int setup(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const Dist *d = t->d;
    blas_set_threads(c->cocodiff.threads);
    if (d->rank == 0 && fs_mkdir_p(c->work_dir) != 0) {
        snprintf(why, whylen, "%s: cannot create the work dir: %s", c->work_dir, strerror(errno));
        return CD_EIO;
    }
    snprintf(t->stream, sizeof t->stream, "%s", config_stream(c));
    int rc = open_data(t, why, whylen);
    if (!rc) rc = build_model(t, why, whylen);
    if (!rc) rc = build_module(t, why, whylen);
    if (!rc) rc = load_state(t, o, step0, why, whylen);
    if (!rc) rc = open_outputs(t, o, why, whylen);
    if (rc) return rc;
    log_info(d, "train | %s: %lld samples, %lld batches of %d | model %zu parameters, base %d | stream %s | "
                "%d rank(s) x %d thread(s) | sync_bn %s",
             c->train_feeder_args.data_path, (long long)loader_num_samples(t->train), (long long)t->nb, c->batch_size,
             ctrgcn_num_params(t->m), c->cocodiff.base_channel, t->stream, d->size, c->cocodiff.threads,
             c->cocodiff.sync_bn ? "on" : "off");
    if (t->cd) {
        const CocodiffConfig *cc = cocodiff_config(t->cd);
        log_info(d, "train | CoCoDiff module: %zu parameters (training only), d %d, %d heads, %d blocks, guidance %s, "
                    "generation %s from epoch %d (%d DDIM steps), text %s, parts %s",
                 cocodiff_num_params(t->cd), cc->d, cc->heads, cc->blocks, c->cocodiff.guidance,
                 cc->generation ? "on" : "off", t->gen_start + 1, cc->gen_steps, c->cocodiff.text, config_parts_path(c));
    }
    return CD_OK;
}

static void teardown(Trainer *t) {
    loader_free(t->train);
    loader_free(t->test);
    gradsync_free(t->gs);
    ctrgcn_free(t->m);
    optim_sgd_free(&t->opt);
    cocodiff_free(t->cd);
    optim_module_free(&t->cd_opt);
    free(t->hparts); free(t->dhparts); free(t->dfeat); free(t->dlast);
    free(t->train_sub); free(t->eval_sub);
    free(t->x); free(t->logits); free(t->probs); free(t->dlogits); free(t->labels); free(t->index);
    free(t->config_yaml);
    if (t->metrics) fclose(t->metrics);
    if (t->losses) fclose(t->losses);
}

// ---------------------------------------------------------------------------
// The loop

// Collective. Forward and backward of this rank's slice of global batch b of
// epoch e; on return the grads and st are summed over the ranks.
// The module's part of a step (after the forward, before the backward):
// part tokens, cocodiff_step, the extra backbone gradients in t->dfeat (and
// t->dlast). s: MS_N sums for this rank.
static int module_step(Trainer *t, int64_t e, int64_t step, int64_t b, int nl, double *s) {
    int Cl, Tl, V, M;
    const float *last = ctrgcn_last_output(t->m, &Cl, &Tl, &V, &M);
    cocodiff_pool_parts(t->hparts, last, nl, M, Cl, Tl, V, &t->parts);
    const float *h0 = ctrgcn_features(t->m);   // token 0 = the head's input, exactly
    for (int n = 0; n < nl; n++)
        memcpy(t->hparts + (size_t)n * COCODIFF_TOKENS * Cl, h0 + (size_t)n * Cl, (size_t)Cl * sizeof(float));
    memset(t->dhparts, 0, (size_t)nl * COCODIFF_TOKENS * Cl * sizeof(float));
    cocodiff_zero_grad(t->cd);
    CocodiffHead head;
    float *hw, *hb;
    ctrgcn_head(t->m, &hw, &hb, &head.gw, &head.gb);
    head.w = hw;
    head.b = hb;
    const Dist *d = t->d;
    const int B = t->cfg->batch_size;
    // loader.h: rank r's slice of a batch of n samples starts at r * n / size.
    int64_t nb_global = B;   // train batches are full (drop_last)
    CocodiffStepCtl ctl = {
        .seed = (uint64_t)t->cfg->seed,
        .step = step,
        .sample0 = b * (int64_t)B + (int64_t)d->rank * nb_global / d->size,
        .generate = e >= t->gen_start,
        .grad_scale = (float)nl / (float)B,
    };
    CocodiffLosses lo;
    int rc = cocodiff_step(t->cd, t->hparts, t->labels, nl, &head, t->dhparts, &ctl, &lo);
    if (rc) return rc;
    for (int n = 0; n < nl; n++) {
        float *dh = t->dhparts + (size_t)n * COCODIFF_TOKENS * Cl;
        memcpy(t->dfeat + (size_t)n * Cl, dh, (size_t)Cl * sizeof(float));
        memset(dh, 0, (size_t)Cl * sizeof(float));   // token 0 goes through dfeat
    }
    if (t->dlast) {
        memset(t->dlast, 0, (size_t)nl * M * Cl * Tl * V * sizeof(float));
        cocodiff_pool_parts_backward(t->dlast, t->dhparts, nl, M, Cl, Tl, V, &t->parts);
    }
    s[MS_DIFF] = lo.diff * nl;
    s[MS_REC] = lo.rec * nl;
    s[MS_COARSE] = lo.coarse * nl;
    s[MS_FINE] = lo.fine * nl;
    s[MS_TOTAL] = lo.total * nl;
    if (lo.generated) {
        s[MS_GEN] = lo.gen * nl;
        s[MS_GEN_ACC] = lo.gen_acc * nl;
        s[MS_GEN_N] = nl;
    }
    return CD_OK;
}

static int train_step(Trainer *t, int64_t e, int64_t step, int64_t b, StepStats *st) {
    const Dist *d = t->d;
    int nl = 0;
    gradsync_begin(t->gs);
    int rc = loader_batch(t->train, (int)e, (int)b, t->x, t->labels, t->index, &nl);
    if (!rc) rc = ctrgcn_forward(t->m, t->logits, t->x, nl, t->W, 1);
    double s[3 + MS_N] = {0, 0, (double)nl};   // loss * n, correct, n, module sums
    if (!rc) {
        float loss = crossentropy_forward(t->probs, t->logits, t->labels, nl, t->K);
        s[0] = (double)loss * nl;
        for (int i = 0; i < nl; i++) {
            const float *l = t->logits + (size_t)i * t->K;
            s[1] += eval_argmax(l, t->K) == t->labels[i];   // torch.max's first maximum; never a NaN row
        }
        ctrgcn_zero_grad(t->m);
        memset(t->dlogits, 0, (size_t)nl * t->K * sizeof(float));
        // d(global mean loss)/d(logits) = (probs - onehot) / B on every rank.
        crossentropy_backward(t->dlogits, t->probs, t->labels, nl, t->K, (float)nl / (float)t->cfg->batch_size);
        if (t->cd) {
            double t0 = dist_wtime();
            rc = module_step(t, e, step, b, nl, s + 3);
            t->cd_seconds += dist_wtime() - t0;
            // The module's gradients are final: its bucket goes first.
            if (!rc && gradsync_ready(t->gs, t->gs_module, 0) != CD_OK) dist_abort(d, 1, "gradient all-reduce failed");
            if (!rc) rc = ctrgcn_backward_ex(t->m, t->dlogits, t->dfeat, t->dlast);
        } else {
            rc = ctrgcn_backward(t->m, t->dlogits);
        }
    }
    // Every rank finishes the gradient sums, also one whose step failed: it
    // starts the buckets it has not, so the others' all-reduces complete
    // (that step's gradients are thrown away with it).
    int rs = gradsync_finish(t->gs);
    rc = dist_agree(d, rc ? rc : rs);
    if (!rc) rc = dist_allreduce_sum_f64(d, s, t->cd ? 3 + MS_N : 3);
    st->loss_sum = s[0];
    st->correct = s[1];
    st->n = s[2];
    memcpy(st->cd, s + 3, sizeof st->cd);
    return rc;
}

typedef struct LogClock {
    double t0, tlog;
    int64_t samples;      // since the last log line
} LogClock;

// Rank 0's progress line: epoch, step, loss and top-1 of this step's global
// batch, lr, samples/s since the last line, ETA to the end of this run.
static void log_step(Trainer *t, LogClock *lc, int64_t e, int64_t step, int64_t stop_at, double loss,
                     double top1, double lr, const StepStats *st) {
    const Config *c = t->cfg;
    int64_t end = (int64_t)c->num_epoch * t->nb;
    if (step % c->log_interval != 0 && step != stop_at) return;
    double now = dist_wtime(), dt = now - lc->tlog, rate = dt > 0 ? (double)lc->samples / dt : 0;
    double left = rate > 0 ? (double)(stop_at - step) * c->batch_size / rate : 0;
    long long secs = (long long)(left + 0.5);
    if (t->cd) {
        const double *m = st->cd;
        log_info(t->d, "train | epoch %lld/%d | step %lld/%lld | loss %.4f | top1 %.3f | diff %.4f rec %.4f gen %.4f "
                       "coarse %.4f | lr %.4g | %.1f samples/s | ETA %lldh%02lldm%02llds",
                 (long long)e + 1, c->num_epoch, (long long)step, (long long)end, loss, top1, m[MS_DIFF] / st->n,
                 m[MS_REC] / st->n, m[MS_GEN_N] > 0 ? m[MS_GEN] / m[MS_GEN_N] : 0.0, m[MS_COARSE] / st->n, lr, rate,
                 secs / 3600, secs / 60 % 60, secs % 60);
    } else
    log_info(t->d, "train | epoch %lld/%d | step %lld/%lld | loss %.4f | top1 %.3f | lr %.4g | %.1f samples/s | "
                   "ETA %lldh%02lldm%02llds",
             (long long)e + 1, c->num_epoch, (long long)step, (long long)end, loss, top1, lr, rate,
             secs / 3600, secs / 60 % 60, secs % 60);
    lc->tlog = now;
    lc->samples = 0;
}

// Collective: per-epoch metrics line (and evaluation when it is due).
static int end_epoch(Trainer *t, int64_t e, int64_t step, double lr, const StepStats *ep, double t0) {
    const Config *c = t->cfg;
    int64_t end = (int64_t)c->num_epoch * t->nb;
    json_t *mline = json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f}", "epoch", (json_int_t)(e + 1), "step",
                              (json_int_t)step, "samples", (json_int_t)ep->n, "lr", lr, "train_loss",
                              ep->n > 0 ? ep->loss_sum / ep->n : 0.0, "train_top1", ep->n > 0 ? ep->correct / ep->n : 0.0,
                              "time_s", dist_wtime() - t0);
    if (t->cd && mline && ep->n > 0) {
        const double *m = ep->cd;
        json_object_set_new(mline, "cocodiff_diff", json_real(m[MS_DIFF] / ep->n));
        json_object_set_new(mline, "cocodiff_rec", json_real(m[MS_REC] / ep->n));
        json_object_set_new(mline, "cocodiff_coarse", json_real(m[MS_COARSE] / ep->n));
        json_object_set_new(mline, "cocodiff_fine", json_real(m[MS_FINE] / ep->n));
        json_object_set_new(mline, "cocodiff_total", json_real(m[MS_TOTAL] / ep->n));
        // generation: over the samples it ran on (null before gen_start_epoch)
        json_object_set_new(mline, "cocodiff_gen", m[MS_GEN_N] > 0 ? json_real(m[MS_GEN] / m[MS_GEN_N]) : json_null());
        json_object_set_new(mline, "cocodiff_gen_top1",
                            m[MS_GEN_N] > 0 ? json_real(m[MS_GEN_ACC] / m[MS_GEN_N]) : json_null());
    }
    if (mline && c->cocodiff.folds > 0) {   // cross-validation: test_* are the held-out fold's
        json_object_set_new(mline, "folds", json_integer(c->cocodiff.folds));
        json_object_set_new(mline, "fold", json_integer(c->cocodiff.fold));
    }
    if (t->test && ((e + 1) % c->eval_interval == 0 || step == end)) {
        double top1 = 0, top5 = 0, tl = 0;
        int64_t bad = 0;
        int rc = evaluate(t, &top1, &top5, &tl, &bad);
        if (rc) { json_decref(mline); return rc; }
        log_info(t->d, "train | epoch %lld | test top1 %.4f | top5 %.4f | loss %.4f", (long long)e + 1, top1, top5, tl);
        if (bad)
            log_warn(t->d, "train | epoch %lld | %lld test sample(s) got non-finite scores and count as wrong "
                           "(HINT: cocodiff-eval names them; non-finite values in the test data, or a model that "
                           "overflows on them)", (long long)e + 1, (long long)bad);
        if (mline) {
            json_object_set_new(mline, "test_top1", json_real(top1));
            json_object_set_new(mline, "test_top5", json_real(top5));
            json_object_set_new(mline, "test_loss", json_real(tl));
            json_object_set_new(mline, "test_nonfinite", json_integer(bad));   // last: readers grep the others' order
        }
    }
    metrics_line(t, mline);
    return CD_OK;
}

static int measure_generation(Trainer *t);
static int dump_features(Trainer *t);

static int run_loop(Trainer *t, const TrainOptions *o, int64_t step) {
    const Dist *d = t->d;
    const Config *cfg = t->cfg;
    const int64_t nb = t->nb, end = (int64_t)cfg->num_epoch * nb;
    const int64_t stop_at = o->max_steps > 0 && step + o->max_steps < end ? step + o->max_steps : end;
    const int64_t step_first = step;
    double t0 = dist_wtime();
    LogClock lc = {t0, t0, 0};
    StepStats ep;
    memset(&ep, 0, sizeof ep);
    float *params = ctrgcn_params(t->m);
    const size_t np = ctrgcn_num_params(t->m);
    while (step < end) {
        const int64_t e = step / nb, b = step % nb;
        const double lr = optim_lr(cfg, (int)e);   // main.py: once per epoch, at its start
        StepStats st;
        double ts = dist_wtime();
        if (train_step(t, e, step, b, &st)) {
            if (d->rank == 0) CD_ERR("step %lld (epoch %lld, batch %lld) failed (see above)", (long long)step + 1, (long long)e + 1, (long long)b + 1);
            return TRAIN_EXIT_ERROR;
        }
        const double loss = st.loss_sum / st.n;
        if (!isfinite(loss) || !isfinite(st.cd[MS_TOTAL])) {
            if (d->rank == 0)
                CD_ERR("training diverged: the %sloss is %s at step %lld (epoch %lld, batch %lld of %lld, lr %g); "
                       "stopping; the last good checkpoint is %s", isfinite(loss) ? "CoCoDiff module's " : "",
                       isnan(isfinite(loss) ? st.cd[MS_TOTAL] : loss) ? "nan" : "infinite", (long long)step + 1, (long long)e + 1, (long long)b + 1,
                       (long long)nb, lr, t->last_ckpt[0] ? t->last_ckpt : "(none written yet)");
            return TRAIN_EXIT_ERROR;
        }
        optim_sgd_step(&t->opt, params, ctrgcn_grads(t->m), lr);
        if (t->cd) {
            double t1 = dist_wtime();
            optim_module_step(&t->cd_opt, t->cd, lr);
            t->cd_seconds += dist_wtime() - t1;
        }
        t->step_seconds += dist_wtime() - ts;
        // A finite loss can still give an overflowing step (lr too large):
        // never checkpoint non-finite weights.
        int finite = all_finite(params, np) && (!t->cd || all_finite(cocodiff_params(t->cd), cocodiff_num_params(t->cd)));
        if (dist_agree(d, finite ? CD_OK : CD_EFORMAT)) {
            if (d->rank == 0)
                CD_ERR("training diverged: the weights are not finite after step %lld (epoch %lld, loss %g, lr %g); "
                       "stopping; the last good checkpoint is %s", (long long)step + 1, (long long)e + 1, loss, lr,
                       t->last_ckpt[0] ? t->last_ckpt : "(none written yet)");
            return TRAIN_EXIT_ERROR;
        }
        step++;
        ep.loss_sum += st.loss_sum;
        ep.correct += st.correct;
        ep.n += st.n;
        for (int k = 0; k < MS_N; k++) ep.cd[k] += st.cd[k];
        lc.samples += (int64_t)st.n;
        if (t->losses) {
            fprintf(t->losses, "%lld %.9g %.9g %.9g", (long long)step, loss, st.correct / st.n, lr);
            if (t->cd)   // module: diff rec gen coarse (gen 0 before generation starts)
                fprintf(t->losses, " %.9g %.9g %.9g %.9g", st.cd[MS_DIFF] / st.n, st.cd[MS_REC] / st.n,
                        st.cd[MS_GEN_N] > 0 ? st.cd[MS_GEN] / st.cd[MS_GEN_N] : 0.0, st.cd[MS_COARSE] / st.n);
            fputc('\n', t->losses);
            fflush(t->losses);
        }
        log_step(t, &lc, e, step, stop_at, loss, st.correct / st.n, lr, &st);
        const int epoch_end = step % nb == 0;
        int64_t flag = stop_requested;
        if (dist_allreduce_max_i64(d, &flag, 1)) return TRAIN_EXIT_ERROR;
        const int stop_now = flag != 0 || step >= stop_at;
        if (epoch_end || stop_now || (cfg->cocodiff.checkpoint_steps > 0 && step % cfg->cocodiff.checkpoint_steps == 0))
            if (save(t, step, step / nb, epoch_end)) return TRAIN_EXIT_ERROR;
        if (epoch_end) {
            if (end_epoch(t, e, step, lr, &ep, t0)) return TRAIN_EXIT_ERROR;
            memset(&ep, 0, sizeof ep);
        }
        if (flag) {
            log_info(d, "train | signal %d: checkpointed at step %lld, stopping (rerun with --resume)", (int)flag,
                     (long long)step);
            return TRAIN_EXIT_PREEMPTED;
        }
        if (stop_now && t->cd && step > step_first)
            log_info(d, "train | CoCoDiff module: %.1f ms of %.1f ms a step (%.1f%%; rank 0, %lld steps of this run)",
                     1e3 * t->cd_seconds / (double)(step - step_first), 1e3 * t->step_seconds / (double)(step - step_first),
                     t->step_seconds > 0 ? 100.0 * t->cd_seconds / t->step_seconds : 0.0, (long long)(step - step_first));
        if (stop_now && d->size > 1 && step > step_first)
            log_info(d, "train | gradient all-reduce: %.1f ms a step waited for after backward (%s; rank 0, %lld steps)",
                     1e3 * gradsync_wait_seconds(t->gs) / (double)(step - step_first),
                     gradsync_overlapped(t->gs) ? "the rest overlapped backward" : "blocking", (long long)(step - step_first));
        if (stop_now && step < end) {
            log_info(d, "train | --max-steps %d: stopped at step %lld (continue with --resume)", o->max_steps, (long long)step);
            return TRAIN_EXIT_OK;
        }
    }
    if (t->cd && cocodiff_config(t->cd)->generation && measure_generation(t) != CD_OK) {
        log_info(d, "train | the generated-feature measurement failed (see above); the model is saved");
        return TRAIN_EXIT_ERROR;
    }
    if (cfg->cocodiff.dump_features > 0 && dump_features(t) != CD_OK) {
        log_info(d, "train | the part-token dump failed (see above); the model is saved");
        return TRAIN_EXIT_ERROR;
    }
    log_info(d, "train | done: %lld steps in %.1fs", (long long)(step - step_first), dist_wtime() - t0);
    return TRAIN_EXIT_OK;
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

// Collective. What the module's generation adds, measured once training
// ends: every test sample's real part tokens (test-mode feeder, eval-mode
// backbone) and one set generated from its latent under its class text,
// with the draws keyed (seed, step -2, sample index) so any rank count gives
// the same features. Rank 0 writes FEATURES.h5 (h_0 and h_hat_0, for
// cocodiff-report's map) and diversity.json (the diversity figures and the
// conditioning probe's), and logs the figures.
#define MEASURE_STEP (-2)
static int measure_generation(Trainer *t) {
    const Dist *d = t->d;
    int Cl = 0, V = 0, M = 0;
    ctrgcn_last_output(t->m, &Cl, NULL, &V, &M);
    int nmax = loader_max_local(t->test), nb = loader_num_batches(t->test), rc = CD_OK;
    size_t tok = (size_t)COCODIFF_TOKENS * Cl;
    float *hp = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * tok * sizeof(float));
    float *hh = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * tok * sizeof(float));
    int64_t cap = 0, n = 0;
    for (int b = 0; b < nb; b++) cap += nmax;
    float *real = cd_malloc((size_t)(cap > 0 ? cap : 1) * tok * sizeof(float));
    float *gen = cd_malloc((size_t)(cap > 0 ? cap : 1) * Cl * sizeof(float));
    int32_t *lab = cd_malloc((size_t)(cap > 0 ? cap : 1) * sizeof(int32_t));
    int64_t *idx = cd_malloc((size_t)(cap > 0 ? cap : 1) * sizeof(int64_t));
    int32_t *tlab = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * sizeof(int32_t));
    int64_t *tidx = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * sizeof(int64_t));
    if (!hp || !hh || !real || !gen || !lab || !idx || !tlab || !tidx) rc = CD_ENOMEM;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(t->test, 0, b, t->x, tlab, tidx, &nl);
        if (rc || nl == 0) continue;
        if ((rc = ctrgcn_forward(t->m, t->logits, t->x, nl, t->Wtest, 0))) break;
        int Tl = 0;
        const float *last = ctrgcn_last_output(t->m, &Cl, &Tl, &V, &M);
        cocodiff_pool_parts(hp, last, nl, M, Cl, Tl, V, &t->parts);
        const float *h0 = ctrgcn_features(t->m);
        for (int i = 0; i < nl; i++) memcpy(hp + (size_t)i * tok, h0 + (size_t)i * Cl, (size_t)Cl * sizeof(float));
        // one call per run of consecutive sample indices (the draws are keyed by sample0 + i)
        for (int i = 0; i < nl && rc == CD_OK;) {
            int j = i + 1;
            while (j < nl && tidx[j] == tidx[i] + (j - i)) j++;
            CocodiffStepCtl ctl = {.seed = (uint64_t)t->cfg->seed, .step = MEASURE_STEP, .sample0 = tidx[i],
                                   .generate = 1, .grad_scale = 1.0f};
            rc = cocodiff_generate(t->cd, hp + (size_t)i * tok, tlab + i, j - i, &ctl, hh + (size_t)i * tok, NULL, NULL);
            i = j;
        }
        for (int i = 0; i < nl; i++, n++) {
            memcpy(real + (size_t)n * tok, hp + (size_t)i * tok, tok * sizeof(float));
            memcpy(gen + (size_t)n * Cl, hh + (size_t)i * tok, (size_t)Cl * sizeof(float));
            lab[n] = tlab[i];
            idx[n] = tidx[i];
        }
    }
    free(hp); free(hh); free(tlab); free(tidx);
    rc = dist_agree(d, rc);
    void *ar = NULL, *ag = NULL, *al = NULL, *ai = NULL;
    size_t nr = 0, ng = 0, nlab = 0, ni = 0;
    if (!rc) rc = dist_allgather_bytes(d, real, (size_t)n * tok * sizeof(float), &ar, &nr, NULL);
    if (!rc) rc = dist_allgather_bytes(d, gen, (size_t)n * Cl * sizeof(float), &ag, &ng, NULL);
    if (!rc) rc = dist_allgather_bytes(d, lab, (size_t)n * sizeof(int32_t), &al, &nlab, NULL);
    if (!rc) rc = dist_allgather_bytes(d, idx, (size_t)n * sizeof(int64_t), &ai, &ni, NULL);
    free(real); free(gen); free(lab); free(idx);
    int64_t N = (int64_t)(ni / sizeof(int64_t));
    float *h0s = NULL;
    if (!rc && d->rank == 0 && N > 0 && !(h0s = cd_malloc((size_t)N * Cl * sizeof(float)))) rc = CD_ENOMEM;
    if (!rc && d->rank == 0 && N > 0) {
        // ranks hold contiguous slices in rank order, so the gathered rows
        // are in the split's order already
        for (int64_t i = 0; i < N; i++)
            memcpy(h0s + (size_t)i * Cl, (const float *)ar + (size_t)i * tok, (size_t)Cl * sizeof(float));
        float *hw, *hb, *gw, *gb;
        ctrgcn_head(t->m, &hw, &hb, &gw, &gb);
        DiversityStats st;
        ConditioningStats cs;
        memset(&cs, 0, sizeof cs);
        ConditioningOptions co;
        conditioning_options_default(&co);
        co.seed = (uint64_t)t->cfg->seed;
        rc = diversity_measure(h0s, ag, al, N, Cl, t->K, hw, hb, &st);
        if (!rc) rc = conditioning_measure(t->cd, ar, al, N, Cl, t->K, hw, hb, &co, &cs);
        char path[4200];
        H5Features f = {.n = N, .C = Cl, .real = h0s, .generated = ag, .label = al, .index = ai};
        snprintf(f.data, sizeof f.data, "%s", t->cfg->test_feeder_args.data_path ? t->cfg->test_feeder_args.data_path : "");
        snprintf(f.split, sizeof f.split, "%s", t->cfg->test_feeder_args.split ? t->cfg->test_feeder_args.split : "test");
        snprintf(f.checkpoint, sizeof f.checkpoint, "%.1000s", t->last_ckpt);
        if (!rc && !(rc = path_join(path, sizeof path, t->cfg->work_dir, "features.h5")))
            rc = h5io_features_write(path, &f);
        json_t *o = rc ? NULL : json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:o}",
            "samples", (json_int_t)st.n, "classes", st.classes, "real_pairwise_distance", st.real_pdist,
            "generated_pairwise_distance", st.gen_pdist, "real_covariance_trace", st.real_trace,
            "generated_covariance_trace", st.gen_trace, "real_head_top1", st.real_head_top1,
            "generated_head_top1", st.gen_head_top1, "generated_nearest_centroid_own", st.gen_nearest_own,
            "real_to_centroid", st.real_to_centroid, "generated_to_centroid", st.gen_to_centroid,
            "generated_to_source", st.gen_to_source, "features", "features.h5",
            "conditioning", conditioning_json(&cs, t->K));
        if (o && !path_join(path, sizeof path, t->cfg->work_dir, "diversity.json")) {
            char tmp[4300];
            snprintf(tmp, sizeof tmp, "%s.partial", path);
            if (json_dump_file(o, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) || rename(tmp, path)) {
                CD_ERR("%s: cannot write the diversity figures", path);
                rc = CD_EIO;
            }
        }
        json_decref(o);
        if (!rc) {
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
                log_info(d, "train | conditioning, %s: swap %.3f, steer %.1f%%, from noise %.1f%%, own-text head "
                         "top-1 %.1f%% (real %.1f%%; t %d, chance %.1f%%)", nm[i], f3[i]->swap, 100 * f3[i]->steer,
                         100 * f3[i]->from_noise, 100 * f3[i]->own, 100 * cs.real_top1, cs.t_probe, 100.0 / cs.classes);
        }
        conditioning_free(&cs);
    }
    free(h0s); free(ar); free(ag); free(al); free(ai);
    return dist_agree(d, rc);
}

// Collective. cocodiff.dump_features V: the trained backbone's part tokens
// of the training samples (V passes with the training transform) and of the
// evaluated ones (test transform) in WORK_DIR/parts-train.h5 and
// parts-test.h5, for cocodiff-frozen.
static int dump_features(Trainer *t) {
    const Config *c = t->cfg;
    PartSets ps;
    const PartSets *p = &t->parts;
    if (!t->cd) {
        if (part_sets_load(config_parts_path(c), t->V, &ps) != CD_OK) return dist_agree(t->d, CD_EARG);
        p = &ps;
    }
    char why[1024] = "", out[4200], split[64];
    DumpSpec s = {.data = c->train_feeder_args.data_path, .group = 0, .subset = t->train_sub,
                  .nsubset = t->ntrain_sub, .feeder = &t->ftr, .views = c->cocodiff.dump_features,
                  .batch = c->test_batch_size, .seed = (uint64_t)c->seed, .window = t->W, .split = split,
                  .checkpoint = t->last_ckpt};
    if (c->cocodiff.folds > 0) snprintf(split, sizeof split, "train less fold %d of %d", c->cocodiff.fold, c->cocodiff.folds);
    else snprintf(split, sizeof split, "train");
    path_join(out, sizeof out, c->work_dir, "parts-train.h5");
    int rc = dump_parts(t->d, t->m, p, &s, out, why, sizeof why);
    if (!rc && t->eval_path) {
        DumpSpec e = {.data = t->eval_path, .group = t->eval_group, .subset = t->eval_sub, .nsubset = t->neval_sub,
                      .feeder = &t->fte, .views = 0, .batch = c->test_batch_size, .seed = (uint64_t)c->seed,
                      .window = t->Wtest, .split = split, .checkpoint = t->last_ckpt};
        if (c->cocodiff.folds > 0) snprintf(split, sizeof split, "fold %d of %d", c->cocodiff.fold, c->cocodiff.folds);
        else snprintf(split, sizeof split, "test");
        path_join(out, sizeof out, c->work_dir, "parts-test.h5");
        rc = dump_parts(t->d, t->m, p, &e, out, why, sizeof why);
    }
    if (rc && t->d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    if (!rc) log_info(t->d, "train | part tokens of the training samples (%d passes) and the evaluated ones in %s/parts-{train,test}.h5",
                      c->cocodiff.dump_features, c->work_dir);
    return rc;
}

int train_run(const Dist *d, const Config *cfg, const TrainOptions *o) {
    // Handlers first: a SIGTERM during setup stops the run at its first step
    // boundary (with a checkpoint) instead of killing it.
    stop_requested = 0;
    struct sigaction sa, old_term, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);

    Trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.cfg = cfg;
    char why[1024] = "";
    int64_t step = 0;
    int rc = setup(&t, o, &step, why, sizeof why);
    // Every rank usually fails the same way: rank 0 speaks for all, another
    // rank only when it alone failed.
    int64_t rc0 = rc;
    if (dist_bcast_bytes(d, &rc0, sizeof rc0, 0) != CD_OK) rc0 = rc;
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    if (rc && d->rank != 0 && rc0 == CD_OK) CD_ERR("[r%d] %s", d->rank, why[0] ? why : cd_status_str(rc));
    rc = dist_agree(d, rc);
    if (!rc) rc = dist_agree(d, build_gradsync(&t));
    int code = rc ? (rc == CD_EARG ? TRAIN_EXIT_USAGE : TRAIN_EXIT_ERROR) : run_loop(&t, o, step);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    teardown(&t);
    return code;
}
