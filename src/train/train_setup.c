// train_setup.c - what the trainer does before its first step and after
// its last (see train.c for the run): the data and its checks against
// model_args, cross-validation folds, the model, the CoCoDiff module, the
// gradient all-reduce, --resume (one read of the checkpoint) or initial
// weights, and rank 0's outputs.
#include "trainer.h"
#include "blas.h"
#include "checkpoint.h"
#include "cli.h"
#include "fsutil.h"
#include "workdir.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void bn_allreduce(double *v, int n, void *ctx) {
    if (dist_allreduce_sum_f64((const Dist *)ctx, v, n) != CD_OK) dist_abort(ctx, 1, "BatchNorm statistics all-reduce failed");
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

// ---------------------------------------------------------------------------
// Setup

// Opens the loaders (train_data.h) and keeps what the loop reads.
static int open_data(Trainer *t, char *why, size_t whylen) {
    int rc = train_data_open(&t->data, t->cfg, t->d, why, whylen);
    if (rc) return rc;
    t->train = t->data.train;
    t->test = t->data.test;
    t->C = t->data.C;
    t->W = t->data.W;
    t->V = t->data.V;
    t->M = t->data.M;
    t->Wtest = t->data.Wtest;
    // cocodiff.accumulate batches a step; the batches left over at the end
    // of an epoch are dropped, as drop_last drops a partial batch.
    const int64_t nbatch = loader_num_batches(t->train), A = t->cfg->cocodiff.accumulate;
    t->nb = nbatch / A;
    if (t->nb < 1)
        return cd_why(why, whylen, CD_EARG, "%s: %lld batches of %d an epoch, fewer than cocodiff.accumulate %lld "
                      "(one optimizer step); lower batch_size or cocodiff.accumulate", t->cfg->train_feeder_args.data_path,
                      (long long)nbatch, t->cfg->batch_size, (long long)A);
    return CD_OK;
}

static int build_model(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    CtrgcnConfig mc;
    ctrgcn_config_default(&mc, c->model_args.num_class, config_layout(c), c->cocodiff.base_channel);
    mc.num_person = t->M;
    mc.in_channels = t->C;
    mc.drop_out = (float)c->model_args.drop_out;
    int rc = ctrgcn_create(&t->m, &mc);
    if (rc) {
        snprintf(why, whylen, "cannot build the model (see above)");
        return rc;
    }
    ctrgcn_init(t->m, (uint64_t)c->seed);
    if ((rc = config_sgd_init(&t->opt, ctrgcn_num_params(t->m), c))) return rc;
    t->K = mc.num_class;
    if (c->cocodiff.sync_bn && t->d->size > 1) {
        t->sync = (BnSync){bn_allreduce, (void *)t->d};
        ctrgcn_set_bn_sync(t->m, &t->sync);
    }
    // Hybrid parallelism: the rank's threads split its (sample, person) rows
    // (ctrgcn_team.h). The module's step, between the passes (split over the
    // threads too when there are samples for them), reads the whole batch's
    // outputs the lanes keep.
    if (c->cocodiff.threads > 1 &&
        (rc = ctrgcn_team_create(&t->team, t->m, t->d->size > 1 && c->cocodiff.sync_bn ? &t->sync : NULL,
                                 c->cocodiff.threads))) {
        snprintf(why, whylen, "cannot start %d training threads", c->cocodiff.threads);
        return rc;
    }
    if (t->team && c->cocodiff.module) ctrgcn_team_keep_outputs(t->team);
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

// cocodiff.module: the module (cdtrain.h) for this backbone and window.
static int build_module(Trainer *t, char *why, size_t whylen) {
    const Config *c = t->cfg;
    if (!c->cocodiff.module) return CD_OK;
    CdTrainSpec s = {.options = &c->cocodiff.options, .text = c->cocodiff.text, .parts = config_parts_path(c),
                     .K = t->K, .gen_start = config_gen_start_epoch(c), .seed = (uint64_t)c->seed,
                     .base_lr = config_base_lr(c), .warm_up = c->warm_up_epoch, .momentum = c->cocodiff.momentum,
                     .weight_decay = c->weight_decay, .nesterov = c->nesterov,
                     .step_samples = c->batch_size * c->cocodiff.accumulate, .accumulate = c->cocodiff.accumulate};
    return cdtrain_setup(&t->cd, &s, t->m, t->W, loader_max_local(t->train), why, whylen);
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
int trainer_build_gradsync(Trainer *t) {
    const double mb = t->cfg->cocodiff.bucket_mb;
    size_t cap = mb > 0 ? (size_t)(mb * 1048576.0) : 0;
    if (mb > 0 && cap == 0) cap = 1;   // a tiny cap is per-stage buckets, never the blocking path
    int rc = gradsync_create(&t->gs, t->d, cap);
    if (rc) return rc;
    const size_t zero = 0;
    t->gs_module = -1;
    if (t->cd && (t->gs_module = gradsync_add(t->gs, cdtrain_grads(t->cd), cdtrain_num_params(t->cd), &zero, 1)) < 0)
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
static void warn_config_change(const Trainer *t, const char *path, const char *stored) {
    if (t->d->rank != 0 || !t->config_yaml) return;
    const char *a = stored ? stored : "", *b = t->config_yaml;
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
}
// A line for the log that setup cannot write yet (log.txt opens after the
// inputs are read): logged by setup once the outputs are open.
static void note(Trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(Trainer *t, const char *fmt, ...) {
    if (t->nnotes == (int)(sizeof t->notes / sizeof t->notes[0])) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notes[t->nnotes++], sizeof t->notes[0], fmt, ap);
    va_end(ap);
}

// --resume (checkpoint-last.h5, when present) or the initial weights.
static int load_state(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    char last[4200];
    trainer_path_join(last, sizeof last, c->work_dir, "checkpoint-last.h5");
    *step0 = (int64_t)c->start_epoch * t->nb;
    snprintf(t->builds, sizeof t->builds, "%s", cli_version());   // a fresh run (weights only initialise it)
    if (o->resume && access(last, R_OK) == 0) {
        // read once: the model, its momentum and the module's groups
        CheckpointInfo info;
        CheckpointFile f;
        H5TensorGroup g[CDTRAIN_MAX_GROUPS];
        const int ng = t->cd ? cdtrain_read_groups(t->cd, g) : 0;
        const char *extra[CDTRAIN_MAX_GROUPS] = {NULL};
        for (int i = 0; i < ng; i++) extra[i] = g[i].group;
        int rc = checkpoint_read(&f, last, 1, extra, ng, why, whylen);
        if (!rc) rc = checkpoint_restore(&f, t->m, &t->opt, NULL, 0, &info, why, whylen);
        if (!rc && t->cd) rc = cdtrain_restore(t->cd, &f, t->opt.steps, why, whylen);
        if (!rc)   // the builds that trained it, this one added when it is another
            checkpoint_builds_extend(&f.meta, cli_version(), t->builds, sizeof t->builds, t->build_prev,
                                     sizeof t->build_prev);
        if (!rc && info.stream[0] && strcmp(info.stream, t->stream))
            rc = cd_why(why, whylen, CD_EARG, "%.600s was trained on the %s stream, the config asks for %s", last,
                        info.stream, t->stream);
        if (!rc) warn_config_change(t, last, f.meta.config_yaml);
        checkpoint_file_free(&f);
        if (rc) return rc;
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
        note(t, "train | resumed from %s at epoch %lld, step %lld", last, (long long)info.epoch, (long long)info.step);
    } else {
        if (o->resume) note(t, "train | --resume: no %s yet, starting from scratch", last);
        if (c->weights) {
            CheckpointInfo info;
            int rc = checkpoint_load_into(c->weights, t->m, NULL, (const char *const *)c->ignore_weights.v,
                                          c->ignore_weights.n, &info, why, whylen);
            if (rc) return rc;
            // What main.py's load_model says, in numbers: what was taken, what ignore_weights left out.
            note(t, "train | weights: %s: %d tensors loaded, %d skipped (ignore_weights), %d of the file unused",
                 c->weights, info.loaded, info.skipped, info.unused);
        }
    }
    return CD_OK;
}

// Resuming: drops the lines a killed run wrote after the checkpoint it
// resumes from, since they are written again (none lost, none doubled):
// metrics lines of later epochs (metrics != 0: JSON with "epoch"), or
// --log-losses lines of later steps (the first field), and a torn last
// line. A missing file is fine. Rank 0.
static int trim_after(const char *path, int metrics, int64_t limit, int *dropped, char *why, size_t whylen) {
    char *text = NULL;
    size_t len = 0;
    *dropped = 0;
    if (access(path, F_OK) != 0) return CD_OK;
    int rc = fs_read_all(path, (size_t)1 << 30, &text, &len);
    if (rc) {
        char b[128];
        return cd_why(why, whylen, rc, "%.900s: cannot read it to resume: %s", path, fs_read_why(errno, (size_t)1 << 30, b, sizeof b));
    }
    size_t keep = 0;   // lines are kept in place, in order
    for (size_t i = 0; i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
        int64_t v = -1;
        if (nl && metrics) {
            json_t *j = json_loadb(text + i, n, 0, NULL);
            json_t *e = json_object_get(j, "epoch");
            v = json_is_integer(e) ? (int64_t)json_integer_value(e) : -1;
            json_decref(j);
        } else if (nl) {
            char *end;
            v = strtoll(text + i, &end, 10);
            if (end == text + i) v = -1;
        }
        if (v >= 0 && v <= limit) {
            memmove(text + keep, text + i, n);
            keep += n;
        } else {
            ++*dropped;
        }
        i += n;
    }
    if (*dropped) rc = fs_write_atomic_why(path, text, keep, why, whylen);
    free(text);
    return rc;
}

// Rank 0: config.yaml, the metrics file and --log-losses (appended to when
// resuming from step0, after trim_after; started afresh otherwise).
static int open_outputs(Trainer *t, const TrainOptions *o, int64_t step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    if (t->d->rank != 0) return CD_OK;
    const char *mode = o->resume && t->last_ckpt[0] ? "a" : "w";
    char p[4200];
    if (mode[0] == 'a') {
        int n1 = 0, n2 = 0, rc;
        trainer_path_join(p, sizeof p, c->work_dir, c->cocodiff.metrics_file ? c->cocodiff.metrics_file : "metrics.jsonl");
        if ((rc = trim_after(p, 1, step0 / t->nb, &n1, why, whylen))) return rc;
        if (o->log_losses && (rc = trim_after(o->log_losses, 0, step0, &n2, why, whylen))) return rc;
        if (n1 || n2)
            note(t, "train | resuming at step %lld: dropped %d metrics line(s) and %d --log-losses line(s) written after "
                    "that checkpoint (they are written again)", (long long)step0, n1, n2);
    }
    trainer_path_join(p, sizeof p, c->work_dir, "config.yaml");   // whole or not at all (a full disk says so)
    int rc = fs_write_atomic_why(p, t->config_yaml, strlen(t->config_yaml), why, whylen);
    if (rc) return rc;
    trainer_path_join(p, sizeof p, c->work_dir, c->cocodiff.metrics_file ? c->cocodiff.metrics_file : "metrics.jsonl");
    if (!(t->metrics = fopen(p, mode))) {
        snprintf(why, whylen, "%.900s: cannot open the metrics file: %s", p, strerror(errno));
        return CD_EIO;
    }
    if (o->log_losses && (fs_mkdir_parent(o->log_losses) != 0 || !(t->losses = fopen(o->log_losses, mode)))) {
        snprintf(why, whylen, "%.900s: cannot open for --log-losses: %s", o->log_losses, strerror(errno));
        return CD_EIO;
    }
    trainer_path_join(p, sizeof p, c->work_dir, "log.txt");
    if (!(t->log = fopen(p, mode))) {
        snprintf(why, whylen, "%.900s: cannot open the log: %s", p, strerror(errno));
        return CD_EIO;
    }
    return CD_OK;
}

// Resuming: the best test top-1 of the epochs already done, from the
// metrics file (rank 0; then every rank gets it).
int trainer_resume_best(Trainer *t) {
    const Config *c = t->cfg;
    double v[2] = {0, 0};   // top-1, epoch
    if (t->d->rank == 0 && t->last_ckpt[0]) {
        char p[4200], line[65536];
        trainer_path_join(p, sizeof p, c->work_dir, c->cocodiff.metrics_file ? c->cocodiff.metrics_file : "metrics.jsonl");
        FILE *f = fopen(p, "r");
        while (f && fgets(line, sizeof line, f)) {
            json_t *j = json_loads(line, 0, NULL);
            json_t *top1 = json_object_get(j, "test_top1"), *ep = json_object_get(j, "epoch");
            if (json_is_number(top1) && json_is_integer(ep) && (json_number_value(top1) > v[0] || v[1] == 0))
                v[0] = json_number_value(top1), v[1] = (double)json_integer_value(ep);   // as end_epoch decides
            json_decref(j);
        }
        if (f) fclose(f);
    }
    int rc = dist_bcast_bytes(t->d, v, sizeof v, 0);
    t->best_top1 = v[0];
    t->best_epoch = (int64_t)v[1];
    return rc;
}

// What the rank's threads split (ctrgcn_team.h), for the setup line: the
// batch's samples, one sample's persons (one sample per rank, M = 2), one
// sample's frames (one sample of one person per rank: time blocks of the
// training window), the rows and their frames (fewer rows than threads:
// rows x time blocks), or nothing the team can cut (the BLAS threads).
static const char *threads_note(const Trainer *t) {
    const int n = loader_max_local(t->train), M = ctrgcn_config(t->m)->num_person;
    const int T = t->cfg->train_feeder_args.window_size;
    if (t->team && n * M > 1 && ctrgcn_team_row_lanes(t->team, n * M, T) > 1)
        return n == 1 ? " splitting each sample's persons and their frames"
                      : " splitting each batch's (sample, person) rows and their frames";
    if (t->team && ctrgcn_team_lanes(t->team, n) > 1)
        return t->cd ? " splitting each batch, the module's step too" : " splitting each batch";
    if (t->team && ctrgcn_team_lanes(t->team, n * M) > 1) return " splitting each sample's persons";
    if (t->team && n * M == 1 && ctrgcn_team_frame_lanes(t->team, T) > 1)
        return " splitting each sample's frames (one sample of one person per rank)";
    return t->team ? " (BLAS's, inside the sample: one sample of one person per rank)" : "";
}

int trainer_setup(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen) {
    const Config *c = t->cfg;
    const Dist *d = t->d;
    blas_set_threads(c->cocodiff.threads);
    snprintf(t->stream, sizeof t->stream, "%s", config_stream(c));
    // A finished run is never overwritten by accident (workdir.h).
    int rc = workdir_check(c->work_dir, o->resume, o->overwrite, why, whylen);
    if (rc) return rc;
    // Every input (data, text, initial weights, the checkpoint to resume)
    // is read before the work dir gets its first file.
    rc = open_data(t, why, whylen);
    if (!rc) rc = build_model(t, why, whylen);
    if (!rc) rc = build_module(t, why, whylen);
    if (!rc) rc = load_state(t, o, step0, why, whylen);
    if (!rc && d->rank == 0 && o->overwrite) {
        int removed = 0;
        rc = workdir_clear(c->work_dir, c->cocodiff.metrics_file, &removed, why, whylen);
        if (!rc && removed) log_info(d, "train | --overwrite: deleted %d file(s) of the earlier run in %s", removed, c->work_dir);
    }
    if (!rc && d->rank == 0 && fs_mkdir_p(c->work_dir) != 0)
        rc = cd_why(why, whylen, CD_EIO, "%s: cannot create the work dir: %s", c->work_dir, strerror(errno));
    if (!rc) rc = open_outputs(t, o, *step0, why, whylen);
    if (rc) return rc;
    // From here on rank 0's lines also go to WORK_DIR/log.txt, timestamped.
    t->dlog = *t->d;
    t->dlog.log_file = t->log;
    t->d = d = &t->dlog;
    // The first line: the build, as metrics.jsonl ("build") and the checkpoints (attributes build, builds) keep it.
    log_info(d, "train | build %s (cocodiff-train --version)", cli_version());
    if (t->build_prev[0])
        log_warn(d, "train | %s was written by build %s, this run is build %s: its epochs from here on are this "
                    "build's (metrics.jsonl's \"build\"); a paired comparison needs runs of one build. Builds of "
                    "this run: %s", t->last_ckpt, t->build_prev, cli_version(), t->builds);
    for (int i = 0; i < t->nnotes; i++) log_info(d, "%s", t->notes[i]);
    char accum[96] = "";
    if (c->cocodiff.accumulate > 1)
        snprintf(accum, sizeof accum, " (steps of %d batches: %d samples, cocodiff.accumulate)", c->cocodiff.accumulate,
                 c->batch_size * c->cocodiff.accumulate);
    log_info(d, "train | %s: %lld samples, %lld batches of %d%s | model %zu parameters, base %d | stream %s | "
                "%d rank(s) x %d thread(s)%s | sync_bn %s",
             c->train_feeder_args.data_path, (long long)loader_num_samples(t->train),
             (long long)loader_num_batches(t->train), c->batch_size, accum,
             ctrgcn_num_params(t->m), c->cocodiff.base_channel, t->stream, d->size, c->cocodiff.threads,
             threads_note(t), c->cocodiff.sync_bn ? "on" : "off");
    if (t->cd) {
        char line[2600];
        cdtrain_describe(t->cd, line, sizeof line);
        log_info(d, "train | %s", line);
    }
    return CD_OK;
}

void trainer_teardown(Trainer *t) {
    train_data_close(&t->data);
    gradsync_free(t->gs);
    ctrgcn_team_free(t->team);
    ctrgcn_free(t->m);
    optim_sgd_free(&t->opt);
    cdtrain_free(t->cd);
    free(t->x); free(t->logits); free(t->probs); free(t->dlogits); free(t->labels); free(t->index);
    free(t->config_yaml);
    if (t->metrics) fclose(t->metrics);
    if (t->losses) fclose(t->losses);
    if (t->log) fclose(t->log);
}

