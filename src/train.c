// train.c - data-parallel training of CTR-GCN (see train.h).
//
// Every rank holds the whole model; global batch b of epoch e is split
// into contiguous slices, one per rank (loader.h), so 1 and N ranks see the
// same samples. BatchNorm statistics are summed across ranks (sync_bn), the
// loss gradient is scaled by n_local / B and the parameter gradients are
// summed with MPI_Allreduce: every rank then takes the same SGD step. The
// data order and augmentation are functions of (seed, epoch, sample index),
// so a run resumed from a checkpoint continues exactly where it stopped.
#include "train.h"
#include "blas.h"
#include "checkpoint.h"
#include "ctrgcn.h"
#include "feeder.h"
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
#include <sys/stat.h>
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
    int K, C, W, V, M;
    float *x, *logits, *probs, *dlogits;
    int32_t *labels;
    int64_t *index;
    char last_ckpt[4200];
    char stream[32];
    char *config_yaml;
    FILE *metrics;
} Trainer;

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

static int save(Trainer *t, int64_t step, int64_t epoch) {
    int rc = CD_OK;
    if (t->d->rank == 0) {
        CheckpointInfo info = {.epoch = epoch, .step = step, .seed = t->cfg->seed, .config_yaml = t->config_yaml};
        snprintf(info.stream, sizeof info.stream, "%s", t->stream);
        path_join(t->last_ckpt, sizeof t->last_ckpt, t->cfg->work_dir, "checkpoint-last.h5");
        rc = checkpoint_save(t->last_ckpt, t->m, &t->opt, &info);
        if (rc == CD_OK && t->cfg->save_interval > 0 && (step % ((int64_t)loader_num_batches(t->train))) == 0 &&
            epoch % t->cfg->save_interval == 0 && epoch >= t->cfg->save_epoch) {
            char name[64], path[4200];
            snprintf(name, sizeof name, "epoch%03lld.h5", (long long)epoch);
            path_join(path, sizeof path, t->cfg->work_dir, name);
            rc = checkpoint_save(path, t->m, &t->opt, &info);
        }
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) log_info(t->d, "train | checkpoint %s (epoch %lld, step %lld)", t->last_ckpt, (long long)epoch, (long long)step);
    return rc;
}

// Top-1 / top-5 on the test split, sharded over the ranks.
static int evaluate(Trainer *t, double *top1, double *top5, double *loss) {
    double sums[4] = {0, 0, 0, 0};   // correct1, correct5, loss * n, n
    int nb = loader_num_batches(t->test), rc = CD_OK;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(t->test, 0, b, t->x, t->labels, t->index, &nl);
        if (rc || nl == 0) continue;
        rc = ctrgcn_forward(t->m, t->logits, t->x, nl, t->W, 0);
        if (rc) break;
        sums[2] += (double)crossentropy_forward(t->probs, t->logits, t->labels, nl, t->K) * nl;
        for (int i = 0; i < nl; i++) {
            const float *l = t->logits + (size_t)i * t->K;
            float own = l[t->labels[i]];
            int above = 0;
            for (int k = 0; k < t->K; k++) above += l[k] > own;
            sums[0] += above == 0;
            sums[1] += above < 5;
        }
        sums[3] += nl;
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) rc = dist_allreduce_sum_f64(t->d, sums, 4);
    if (rc == CD_OK && sums[3] > 0) {
        *top1 = sums[0] / sums[3];
        *top5 = sums[1] / sums[3];
        *loss = sums[2] / sums[3];
    }
    return rc;
}

static void metrics_line(Trainer *t, json_t *obj) {
    if (t->metrics) {
        json_dumpf(obj, t->metrics, JSON_COMPACT | JSON_REAL_PRECISION(7));
        fputc('\n', t->metrics);
        fflush(t->metrics);
    }
    json_decref(obj);
}

static int setup(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const Dist *d = t->d;
    blas_set_threads(c->cocodiff.threads);
    if (d->rank == 0 && mkdir(c->work_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "%s: cannot create the work dir: %s", c->work_dir, strerror(errno));
        return CD_EIO;
    }
    GraphLayout g;
    if (graph_parse(c->model_args.graph, &g) != CD_OK) {
        snprintf(why, whylen, "unknown graph %s", c->model_args.graph);
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
    snprintf(t->stream, sizeof t->stream, "%s", config_stream(c));
    if (!ta->data_path) {
        snprintf(why, whylen, "train_feeder_args.data_path is not set");
        return CD_EARG;
    }
    if (c->batch_size < d->size) {
        snprintf(why, whylen, "batch_size %d is smaller than the %d ranks", c->batch_size, d->size);
        return CD_EARG;
    }
    int rc = loader_open(&t->train, ta->data_path, 0, &ftr, c->batch_size, d->rank, d->size, (uint64_t)c->seed, 1, 1, why, whylen);
    if (!rc && te->data_path && c->eval_interval > 0)
        rc = loader_open(&t->test, te->data_path, 1, &fte, c->test_batch_size, d->rank, d->size, (uint64_t)c->seed, 0, 0, why, whylen);
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
    CtrgcnConfig mc;
    ctrgcn_config_default(&mc, c->model_args.num_class, g, c->cocodiff.base_channel);
    mc.num_person = t->M;
    mc.in_channels = t->C;
    mc.drop_out = (float)c->model_args.drop_out;
    if ((rc = ctrgcn_create(&t->m, &mc))) {
        snprintf(why, whylen, "cannot build the model (see above)");
        return rc;
    }
    ctrgcn_init(t->m, (uint64_t)c->seed);
    if ((rc = optim_sgd_init_config(&t->opt, ctrgcn_num_params(t->m), c))) return rc;
    t->K = mc.num_class;
    if (c->cocodiff.sync_bn && d->size > 1) {
        t->sync = (BnSync){bn_allreduce, (void *)d};
        ctrgcn_set_bn_sync(t->m, &t->sync);
    }
    int nmax = loader_max_local(t->train);
    if (t->test && loader_max_local(t->test) > nmax) nmax = loader_max_local(t->test);
    t->x = cd_malloc((size_t)nmax * loader_sample_floats(t->train) * sizeof(float));
    t->logits = cd_malloc((size_t)nmax * t->K * sizeof(float));
    t->probs = cd_malloc((size_t)nmax * t->K * sizeof(float));
    t->dlogits = cd_malloc((size_t)nmax * t->K * sizeof(float));
    t->labels = cd_malloc((size_t)nmax * sizeof(int32_t));
    t->index = cd_malloc((size_t)nmax * sizeof(int64_t));
    if (!t->x || !t->logits || !t->probs || !t->dlogits || !t->labels || !t->index) return CD_ENOMEM;
    t->config_yaml = config_text(c);

    int64_t nb = loader_num_batches(t->train);
    *step0 = (int64_t)c->start_epoch * nb;
    char last[4200];
    path_join(last, sizeof last, c->work_dir, "checkpoint-last.h5");
    if (o->resume && access(last, R_OK) == 0) {
        CheckpointInfo info;
        rc = checkpoint_load_into(last, t->m, &t->opt, NULL, 0, &info, why, whylen);
        if (rc) return rc;
        if (info.stream[0] && strcmp(info.stream, t->stream)) {
            snprintf(why, whylen, "%.600s was trained on the %s stream, the config asks for %s", last, info.stream, t->stream);
            return CD_EARG;
        }
        *step0 = info.step;
        log_info(d, "train | resumed from %s at epoch %lld, step %lld", last, (long long)info.epoch, (long long)info.step);
    } else if (c->weights) {
        rc = checkpoint_load_into(c->weights, t->m, NULL, (const char *const *)c->ignore_weights.v,
                                  c->ignore_weights.n, NULL, why, whylen);
        if (rc) return rc;
        log_info(d, "train | initial weights from %s", c->weights);
    }
    if (d->rank == 0) {
        char p[4200];
        path_join(p, sizeof p, c->work_dir, "config.yaml");
        FILE *f = fopen(p, "w");
        if (f) { config_print(c, f); fclose(f); }
        path_join(p, sizeof p, c->work_dir, c->cocodiff.metrics_file ? c->cocodiff.metrics_file : "metrics.jsonl");
        t->metrics = fopen(p, "a");
    }
    log_info(d, "train | %s: %lld samples, %lld batches of %d | model %zu parameters, base %d | stream %s | "
                "%d rank(s) x %d thread(s) | sync_bn %s",
             ta->data_path, (long long)loader_num_samples(t->train), (long long)nb, c->batch_size,
             ctrgcn_num_params(t->m), c->cocodiff.base_channel, t->stream, d->size, c->cocodiff.threads,
             c->cocodiff.sync_bn ? "on" : "off");
    return CD_OK;
}

static void teardown(Trainer *t) {
    loader_free(t->train);
    loader_free(t->test);
    ctrgcn_free(t->m);
    optim_sgd_free(&t->opt);
    free(t->x); free(t->logits); free(t->probs); free(t->dlogits); free(t->labels); free(t->index);
    free(t->config_yaml);
    if (t->metrics) fclose(t->metrics);
}

int train_run(const Dist *d, const Config *cfg, const TrainOptions *o) {
    Trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.cfg = cfg;
    char why[1024] = "";
    int64_t step = 0;
    int rc = setup(&t, o, &step, why, sizeof why);
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    if (rc && d->rank != 0 && why[0]) CD_ERR("[r%d] %s", d->rank, why);
    rc = dist_agree(d, rc);
    if (rc) { teardown(&t); return rc == CD_EARG ? TRAIN_EXIT_USAGE : TRAIN_EXIT_ERROR; }

    stop_requested = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    const int64_t nb = loader_num_batches(t.train), end = (int64_t)cfg->num_epoch * nb;
    const int B = cfg->batch_size;
    int64_t steps_done = 0, saved_at = -1;
    double t0 = dist_wtime(), tlog = t0, ep_loss = 0, ep_correct = 0, ep_n = 0;
    int64_t log_samples = 0;
    int code = TRAIN_EXIT_OK;
    float *grads = ctrgcn_grads(t.m);
    while (step < end) {
        int64_t e = step / nb, b = step % nb;
        double lr = optim_lr(cfg, (int)e);
        int nl = 0;
        rc = loader_batch(t.train, (int)e, (int)b, t.x, t.labels, t.index, &nl);
        if (!rc) rc = ctrgcn_forward(t.m, t.logits, t.x, nl, t.W, 1);
        double stats[3] = {0, 0, (double)nl};   // loss * n, correct, n
        if (!rc) {
            float loss = crossentropy_forward(t.probs, t.logits, t.labels, nl, t.K);
            stats[0] = (double)loss * nl;
            for (int i = 0; i < nl; i++) {
                const float *l = t.logits + (size_t)i * t.K;
                int best = 0;
                for (int k = 1; k < t.K; k++) if (l[k] > l[best]) best = k;
                stats[1] += best == t.labels[i];
            }
            ctrgcn_zero_grad(t.m);
            memset(t.dlogits, 0, (size_t)nl * t.K * sizeof(float));
            // d(global mean loss)/d(logits) = (probs - onehot) / B on every rank.
            crossentropy_backward(t.dlogits, t.probs, t.labels, nl, t.K, (float)nl / (float)B);
            rc = ctrgcn_backward(t.m, t.dlogits);
        }
        rc = dist_agree(d, rc);
        if (rc) { code = TRAIN_EXIT_ERROR; break; }
        if (d->size > 1 && (rc = dist_allreduce_sum_f32(d, grads, ctrgcn_num_params(t.m)))) { code = TRAIN_EXIT_ERROR; break; }
        dist_allreduce_sum_f64(d, stats, 3);
        double loss = stats[0] / stats[2];
        if (!isfinite(loss)) {
            if (d->rank == 0)
                CD_ERR("loss is %g at epoch %lld, step %lld (lr %g): stopping; the last good checkpoint is %s",
                       loss, (long long)e, (long long)step, lr, t.last_ckpt[0] ? t.last_ckpt : "(none yet)");
            code = TRAIN_EXIT_ERROR;
            break;
        }
        optim_sgd_step(&t.opt, ctrgcn_params(t.m), grads, lr);
        step++;
        steps_done++;
        ep_loss += stats[0];
        ep_correct += stats[1];
        ep_n += stats[2];
        log_samples += (int64_t)stats[2];
        if (step % cfg->log_interval == 0 || step == end) {
            double now = dist_wtime(), rate = (double)log_samples / (now - tlog);
            double left = (double)(end - step) * B / (rate > 0 ? rate : 1);
            log_info(d, "train | epoch %lld | step %lld/%lld | loss %.4f | top1 %.3f | lr %.5f | %.1f samples/s | ETA %dm%02ds",
                     (long long)e + 1, (long long)step, (long long)end, loss, stats[1] / stats[2], lr, rate,
                     (int)(left / 60), (int)left % 60);
            tlog = now;
            log_samples = 0;
        }
        int epoch_end = step % nb == 0;
        int64_t flag = stop_requested;
        dist_allreduce_max_i64(d, &flag, 1);
        int stop_now = flag != 0 || (o->max_steps > 0 && steps_done >= o->max_steps);
        if (epoch_end || (cfg->cocodiff.checkpoint_steps > 0 && step % cfg->cocodiff.checkpoint_steps == 0) || stop_now) {
            if ((rc = save(&t, step, step / nb))) { code = TRAIN_EXIT_ERROR; break; }
            saved_at = step;
        }
        if (epoch_end) {
            json_t *mline = json_pack("{s:I, s:I, s:f, s:f, s:f, s:f}", "epoch", (json_int_t)(e + 1), "step",
                                      (json_int_t)step, "lr", lr, "train_loss", ep_loss / ep_n, "train_top1",
                                      ep_correct / ep_n, "time_s", dist_wtime() - t0);
            if (t.test && ((e + 1) % cfg->eval_interval == 0 || step == end)) {
                double top1 = 0, top5 = 0, tl = 0;
                if ((rc = evaluate(&t, &top1, &top5, &tl))) { json_decref(mline); code = TRAIN_EXIT_ERROR; break; }
                log_info(d, "train | epoch %lld | test top1 %.4f | top5 %.4f | loss %.4f", (long long)e + 1, top1, top5, tl);
                json_object_set_new(mline, "test_top1", json_real(top1));
                json_object_set_new(mline, "test_top5", json_real(top5));
                json_object_set_new(mline, "test_loss", json_real(tl));
            }
            metrics_line(&t, mline);
            ep_loss = ep_correct = ep_n = 0;
        }
        if (stop_now) {
            if (flag) {
                log_info(d, "train | signal %d: checkpointed at step %lld, stopping (rerun with --resume)", (int)flag,
                         (long long)step);
                code = TRAIN_EXIT_PREEMPTED;
            }
            break;
        }
    }
    (void)saved_at;
    if (code == TRAIN_EXIT_OK)
        log_info(d, "train | done: %lld steps in %.1fs", (long long)steps_done, dist_wtime() - t0);
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    teardown(&t);
    return code;
}
