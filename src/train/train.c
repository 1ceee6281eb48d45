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
// With cocodiff.module on, the CoCoDiff module trains alongside, reached
// only through cdtrain.h: its step runs between the backbone's forward and
// backward and hands back the extra backbone gradients; its gradients are
// summed over the ranks in the first bucket; it takes its own optimizer
// step (cdoptim.h: SGD or AdamW); its statistics are logged by name.
#include "trainer.h"
#include "checkpoint.h"
#include "cli.h"
#include "fault.h"
#include "metrics.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Set by SIGTERM/SIGUSR1 (what Slurm sends before preemption); read at step
// boundaries, where the ranks agree on it. A signal handler can only talk
// through a global.
static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { stop_requested = sig; }


// Collective. Rank 0 writes checkpoint-last.h5 (and epochNNN.h5 at the end
// of an epoch that main.py would save: (epoch % save_interval == 0 or the
// last epoch) and epoch > save_epoch, epoch counted from 1).
// Rank 0: the training state as WORK_DIR/name.
static int save_to(Trainer *t, const char *name, int64_t step, int64_t epoch) {
    const Config *c = t->cfg;
    CheckpointInfo info = {.epoch = epoch, .step = step, .seed = c->seed, .config_yaml = t->config_yaml};
    snprintf(info.stream, sizeof info.stream, "%s", t->stream);
    snprintf(info.builds, sizeof info.builds, "%s", t->builds);
    char path[4200];
    trainer_path_join(path, sizeof path, c->work_dir, name);
    H5TensorGroup g[CDTRAIN_MAX_GROUPS];
    int ng = t->cd ? cdtrain_tensor_groups(t->cd, g) : 0;
    return checkpoint_save(path, t->m, &t->opt, &info, g, ng);
}

// The epoch file first, checkpoint-last.h5 last: a kill between the two
// resumes from the previous checkpoint and writes the epoch file again; the
// other way round the epoch file was lost.
static int save(Trainer *t, int64_t step, int64_t epoch, int epoch_end) {
    int rc = CD_OK;
    const Config *c = t->cfg;
    if (t->d->rank == 0) {
        if (epoch_end && c->save_interval > 0 && (epoch % c->save_interval == 0 || epoch == c->num_epoch) &&
            epoch > c->save_epoch) {
            char name[64];
            snprintf(name, sizeof name, "epoch%03lld.h5", (long long)epoch);
            rc = save_to(t, name, step, epoch);
            if (rc == CD_OK) fault_point("epoch-file", step);
        }
        trainer_path_join(t->last_ckpt, sizeof t->last_ckpt, c->work_dir, "checkpoint-last.h5");
        if (rc == CD_OK) rc = save_to(t, "checkpoint-last.h5", step, epoch);
        if (rc == CD_OK) fault_point("checkpoint", step);
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) log_info(t->d, "train | checkpoint %s (epoch %lld, step %lld)", t->last_ckpt, (long long)epoch, (long long)step);
    return rc;
}

// Top-1 / top-5 on the test split, sharded over the ranks. Samples with a
// non-finite score count wrong (*nonfinite of them; the caller warns).
static int evaluate(Trainer *t, double *top1, double *top5, double *loss, int64_t *nonfinite, double *topk) {
    const ConfigIntList *sk = &t->cfg->show_topk;
    double sums[5 + CONFIG_LIST_MAX] = {0};   // correct1, correct5, loss * n, n, non-finite rows, show_topk hits
    int nb = loader_num_batches(t->test), rc = CD_OK;
    dist_stage("train: test evaluation");
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        int nl = 0;
        rc = loader_batch(t->test, 0, b, t->x, t->labels, t->index, &nl);
        if (rc || nl == 0) continue;
        rc = ctrgcn_forward(t->m, t->logits, t->x, nl, t->Wtest, 0);
        if (rc) break;
        sums[2] += (double)crossentropy_forward(t->probs, t->logits, t->labels, nl, t->K) * nl;
        for (int i = 0; i < nl; i++) {   // metrics.h's rules: the same top-k as cocodiff-eval
            int r = metrics_rank(t->logits + (size_t)i * t->K, t->K, t->labels[i]);
            sums[0] += r == 0;
            sums[1] += r < 5;
            sums[4] += r == METRICS_RANK_NONFINITE;
            for (int j = 0; j < sk->n; j++) sums[5 + j] += r >= 0 && r < sk->v[j];
        }
        sums[3] += nl;
    }
    rc = dist_agree(t->d, rc);
    if (rc == CD_OK) rc = dist_allreduce_sum_f64(t->d, sums, 5 + sk->n);
    *nonfinite = (int64_t)sums[4];
    if (rc == CD_OK && sums[3] > 0) {
        *top1 = sums[0] / sums[3];
        *top5 = sums[1] / sums[3];
        *loss = sums[2] / sums[3];
        for (int j = 0; j < sk->n; j++) topk[j] = sums[5 + j] / sums[3];
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
// The loop

// Forward and backward of this rank's slice of batch mb (the loader's
// index) of epoch e, the j-th of the step's cocodiff.accumulate batches:
// its gradients are added to those of the step's earlier batches (zeroed at
// j = 0), scaled by n_local / (batch_size x accumulate), so the step's
// gradient is that of the mean loss over all of them; s[] gets this rank's
// sums. The last batch (and only it) feeds the gradient all-reduce.
static int micro_step(Trainer *t, int64_t e, int64_t step, int64_t mb, int j, double *s) {
    const Dist *d = t->d;
    const int A = t->cfg->cocodiff.accumulate, last = j == A - 1;
    const int64_t B = t->cfg->batch_size;
    const float scale_n = (float)(B * A);   // samples in the optimizer step, all ranks
    int nl = 0;
    // Only the last batch's backward may start the buckets: the earlier ones
    // leave partial sums in the gradients.
    ctrgcn_set_grad_hook(t->m, last && gradsync_overlapped(t->gs) ? &t->grad_hook : NULL);
    int rc = loader_batch(t->train, (int)e, (int)mb, t->x, t->labels, t->index, &nl);
    if (!rc) rc = t->team ? ctrgcn_team_forward(t->team, t->logits, t->x, nl, t->W) : ctrgcn_forward(t->m, t->logits, t->x, nl, t->W, 1);
    if (rc) return rc;
    float loss = crossentropy_forward(t->probs, t->logits, t->labels, nl, t->K);
    s[0] += (double)loss * nl;
    for (int i = 0; i < nl; i++) {
        const float *l = t->logits + (size_t)i * t->K;
        s[1] += metrics_argmax(l, t->K) == t->labels[i];   // torch.max's first maximum; never a NaN row
    }
    s[2] += nl;
    // With a team and no module its backward zeroes them (its sum stored,
    // or slices on its threads); the module's step adds to the head's
    // gradients before the backward (cdtrain.c), so with it they are zeroed here.
    if (j == 0) {
        if (t->team && !t->cd) ctrgcn_team_zero_grad(t->team);
        else ctrgcn_zero_grad(t->m);
    }
    memset(t->dlogits, 0, (size_t)nl * t->K * sizeof(float));
    // d(global mean loss)/d(logits) = (probs - onehot) / (B x A) on every rank.
    crossentropy_backward(t->dlogits, t->probs, t->labels, nl, t->K, (float)nl / scale_n);
    if (!t->cd) return t->team ? ctrgcn_team_backward(t->team, t->dlogits) : ctrgcn_backward(t->m, t->dlogits);
    double t0 = dist_wtime();
    // loader.h: rank r's slice of a batch of B samples (train batches are
    // full: drop_last) starts at r * B / size.
    CdTrainCtl ctl = {.epoch = e, .step = step, .sample0 = mb * B + (int64_t)d->rank * B / d->size,
                      .grad_scale = (float)nl / scale_n, .accumulate = j > 0,
                      .feat = t->team ? ctrgcn_team_features(t->team) : NULL,
                      .last = t->team ? ctrgcn_team_last_output(t->team) : NULL, .team = t->team};
    double sm[CDTRAIN_MAX_STATS] = {0};
    rc = cdtrain_step(t->cd, t->m, t->labels, nl, &ctl, sm);
    for (int k = 0; !rc && k < cdtrain_num_stats(); k++) s[3 + k] += sm[k];
    t->cd_seconds += dist_wtime() - t0;
    // The module's gradients are final: its bucket goes first.
    if (!rc && last && gradsync_ready(t->gs, t->gs_module, 0) != CD_OK) dist_abort(d, 1, "gradient all-reduce failed");
    if (!rc) rc = t->team ? ctrgcn_team_backward_ex(t->team, t->dlogits, cdtrain_dfeat(t->cd), cdtrain_dlast(t->cd))
                          : ctrgcn_backward_ex(t->m, t->dlogits, cdtrain_dfeat(t->cd), cdtrain_dlast(t->cd));
    return rc;
}

// Collective. Optimizer step `step` (batch b of epoch e in steps): its
// cocodiff.accumulate batches of batch_size, loader batches b x A .. b x A +
// A - 1; on return the grads and st are summed over them and over the ranks.
// A checkpoint never falls inside a step: a resumed run starts at a step's
// first batch.
static int train_step(Trainer *t, int64_t e, int64_t step, int64_t b, StepStats *st) {
    const Dist *d = t->d;
    const int A = t->cfg->cocodiff.accumulate;
    dist_stage("train epoch %lld step %lld", (long long)e + 1, (long long)step + 1);
    gradsync_begin(t->gs);
    double s[3 + CDTRAIN_MAX_STATS] = {0};   // loss * n, correct, n, module sums
    int rc = CD_OK;
    for (int j = 0; j < A && !rc; j++) {
        rc = micro_step(t, e, step, b * A + j, j, s);
        // The ranks agree before the next batch's forward (its synchronised
        // BN sums are collectives a failed rank would not join).
        if (j + 1 < A) rc = dist_agree(d, rc);
    }
    // Every rank finishes the gradient sums, also one whose step failed: it
    // starts the buckets it has not, so the others' all-reduces complete
    // (that step's gradients are thrown away with it).
    int rs = gradsync_finish(t->gs);
    rc = dist_agree(d, rc ? rc : rs);
    if (!rc) rc = dist_allreduce_sum_f64(d, s, t->cd ? 3 + cdtrain_num_stats() : 3);
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
    double left = rate > 0 ? (double)(stop_at - step) * c->batch_size * c->cocodiff.accumulate / rate : 0;
    long long secs = (long long)(left + 0.5);
    char mod[512] = "";   // the module's progress statistics: "diff 0.1234 rec ... | "
    const char *names[CDTRAIN_MAX_STATS];
    double means[CDTRAIN_MAX_STATS];
    int np = t->cd ? cdtrain_progress(st->cd, st->n, names, means, CDTRAIN_MAX_STATS) : 0;
    for (int i = 0; i < np; i++)
        snprintf(mod + strlen(mod), sizeof mod - strlen(mod), "%s %.4f%s", names[i], means[i], i + 1 < np ? " " : " | ");
    log_info(t->d, "train | epoch %lld/%d | step %lld/%lld | loss %.4f | top1 %.3f | %slr %.4g | %.1f samples/s | "
                   "ETA %lldh%02lldm%02llds",
             (long long)e + 1, c->num_epoch, (long long)step, (long long)end, loss, top1, mod, lr, rate,
             secs / 3600, secs / 60 % 60, secs % 60);
    lc->tlog = now;
    lc->samples = 0;
}

// Collective: per-epoch metrics line (and evaluation when it is due): the
// log says what main.py's does (mean training loss and accuracy of the
// epoch, then the test accuracy), and best.h5 keeps the best test epoch.
static int end_epoch(Trainer *t, int64_t e, int64_t step, double lr, const StepStats *ep, double t0) {
    const Config *c = t->cfg;
    int64_t end = (int64_t)c->num_epoch * t->nb;
    log_info(t->d, "train | epoch %lld/%d | mean train loss %.4f | train top-1 %.2f%% | lr %.4g | %.1fs",
             (long long)e + 1, c->num_epoch, ep->n > 0 ? ep->loss_sum / ep->n : 0.0,
             ep->n > 0 ? 100 * ep->correct / ep->n : 0.0, lr, dist_wtime() - t0);
    // build: the program that trained this epoch (a resumed run's epochs may have several)
    json_t *mline = json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:s}", "epoch", (json_int_t)(e + 1), "step",
                              (json_int_t)step, "samples", (json_int_t)ep->n, "lr", lr, "train_loss",
                              ep->n > 0 ? ep->loss_sum / ep->n : 0.0, "train_top1", ep->n > 0 ? ep->correct / ep->n : 0.0,
                              "time_s", dist_wtime() - t0, "build", cli_version());
    for (int i = 0; t->cd && mline && ep->n > 0 && i < cocodiff_num_stats(); i++) {
        // the module's statistics, cocodiff_<name>; generated ones null before generation starts
        char key[96];
        double v = cdtrain_stat_mean(ep->cd, i, ep->n);
        snprintf(key, sizeof key, "cocodiff_%s", cocodiff_stat(i)->name);
        json_object_set_new(mline, key, isnan(v) && cocodiff_stat(i)->generated ? json_null() : json_real(v));
    }
    if (mline && c->cocodiff.folds > 0) {   // cross-validation: test_* are the held-out fold's
        json_object_set_new(mline, "folds", json_integer(c->cocodiff.folds));
        json_object_set_new(mline, "fold", json_integer(c->cocodiff.fold));
    }
    if (t->test && ((e + 1) % c->eval_interval == 0 || step == end)) {
        double top1 = 0, top5 = 0, tl = 0, topk[CONFIG_LIST_MAX] = {0};
        int64_t bad = 0;
        int rc = evaluate(t, &top1, &top5, &tl, &bad, topk);
        if (rc) { json_decref(mline); return rc; }
        char more[256] = "";   // show_topk's other k, as main.py prints every one of them
        for (int j = 0; j < c->show_topk.n; j++)
            if (c->show_topk.v[j] != 1 && c->show_topk.v[j] != 5)
                snprintf(more + strlen(more), sizeof more - strlen(more), " | top-%d %.2f%%", c->show_topk.v[j],
                         100 * topk[j]);
        log_info(t->d, "train | epoch %lld | test top-1 %.2f%% | top-5 %.2f%%%s | loss %.4f", (long long)e + 1,
                 100 * top1, 100 * top5, more, tl);
        if (top1 > t->best_top1 || !t->best_epoch) {   // main.py's best_acc: the first epoch counts, ties keep the earlier
            t->best_top1 = top1;
            t->best_epoch = e + 1;
            int rc2 = t->d->rank == 0 ? save_to(t, "best.h5", step, e + 1) : CD_OK;
            if ((rc2 = dist_agree(t->d, rc2))) { json_decref(mline); return rc2; }
        }
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
    if (t->d->rank == 0) fault_point("metrics", step);
    return CD_OK;
}


// cocodiff.refresh: the fresh module's phase after the last step (cdtrain.h),
// on the final backbone's training tokens. Checkpointed every
// cocodiff.checkpoint_steps of its steps, at a signal and at its end, with
// the training state as it was (step = the last step), so a run stopped in
// it resumes bit for bit and a finished run resumed with it on runs only it.
static int refresh_phase(Trainer *t, int64_t step) {
    const Dist *d = t->d;
    const Config *cfg = t->cfg;
    if (!t->cd || !t->test) return TRAIN_EXIT_OK;
    if (cdtrain_refresh_restarted(t->cd))
        log_info(d, "train | refresh: the checkpoint's phase had %lld steps, this one %lld: starting it afresh",
                 cdtrain_refresh_restarted(t->cd), (long long)cdtrain_refresh_left(t->cd));
    const int64_t left = cdtrain_refresh_left(t->cd), total = left + cdtrain_refresh_done(t->cd);
    if (left <= 0) {
        if (total > 0) log_info(d, "train | refresh: the fresh module's %lld steps were done before (the checkpoint's)", (long long)total);
        return TRAIN_EXIT_OK;
    }
    double t0 = dist_wtime(), tl = t0, acc = 0;
    H5Features f;
    int rc = train_data_tokens(&t->data, cfg, d, t->m, CDTRAIN_REFRESH_VIEWS, &f);
    if (!rc) rc = dist_agree(d, cdtrain_refresh_begin(t->cd, f.parts, f.label, f.n));
    if (!rc)
        log_info(d, "train | refresh: a fresh module, %lld steps of %d on the final backbone's %lld training tokens "
                    "(from step %lld)", (long long)total, cdtrain_refresh_batch(t->cd), (long long)f.n,
                 (long long)cdtrain_refresh_done(t->cd));
    h5io_features_free(&f);
    int64_t nacc = 0;
    while (!rc && cdtrain_refresh_left(t->cd) > 0) {
        double diff = 0;
        if ((rc = cdtrain_refresh_step(t->cd, d, t->team, t->m, &diff))) break;
        const int64_t s = cdtrain_refresh_done(t->cd), rest = total - s;
        acc += diff;
        nacc++;
        if (s % 250 == 0 || rest == 0) {
            double now = dist_wtime(), rate = (now - tl) / nacc;
            long long eta = (long long)(rate * rest + 0.5);
            log_info(d, "train | refresh | step %lld/%lld | diff %.6f | %.1f ms a step | ETA %lldm%02llds", (long long)s,
                     (long long)total, acc / nacc, 1e3 * rate, eta / 60, eta % 60);
            tl = now;
            acc = 0;
            nacc = 0;
        }
        int64_t flag = stop_requested;
        if ((rc = dist_allreduce_max_i64(d, &flag, 1))) break;
        if (flag || rest == 0 || (cfg->cocodiff.checkpoint_steps > 0 && s % cfg->cocodiff.checkpoint_steps == 0)) {
            if ((rc = save(t, step, step / t->nb, 0))) break;
            if (d->rank == 0) fault_point("refresh", s);
        }
        if (flag) {
            log_info(d, "train | signal %d: checkpointed in the refresh phase at its step %lld, stopping (rerun with "
                        "--resume)", (int)flag, (long long)s);
            return TRAIN_EXIT_PREEMPTED;
        }
    }
    if (rc) {
        log_info(d, "train | the refresh phase failed (see above); the trained model is saved");
        return TRAIN_EXIT_ERROR;
    }
    log_info(d, "train | refresh: %lld steps in %.1fs", (long long)left, dist_wtime() - t0);
    return TRAIN_EXIT_OK;
}

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
    const OptimSchedule sched = config_lr_schedule(cfg);
    while (step < end) {
        const int64_t e = step / nb, b = step % nb;
        const double lr = optim_lr(&sched, (int)e);   // main.py: once per epoch, at its start
        StepStats st;
        double ts = dist_wtime();
        if (train_step(t, e, step, b, &st)) {
            if (d->rank == 0) CD_ERR("step %lld (epoch %lld, batch %lld) failed (see above)", (long long)step + 1, (long long)e + 1, (long long)b + 1);
            return TRAIN_EXIT_ERROR;
        }
        const double loss = st.loss_sum / st.n;
        const double cd_loss = t->cd ? cdtrain_loss(st.cd) : 0.0;
        if (!isfinite(loss) || !isfinite(cd_loss)) {
            if (d->rank == 0)
                CD_ERR("training diverged: the %sloss is %s at step %lld (epoch %lld, batch %lld of %lld, lr %g); "
                       "stopping; the last good checkpoint is %s", isfinite(loss) ? "CoCoDiff module's " : "",
                       isnan(isfinite(loss) ? cd_loss : loss) ? "nan" : "infinite", (long long)step + 1, (long long)e + 1, (long long)b + 1,
                       (long long)nb, lr, t->last_ckpt[0] ? t->last_ckpt : "(none written yet)");
            return TRAIN_EXIT_ERROR;
        }
        // The weights' finiteness is counted in the update's own pass (on
        // the team's threads when there is one), not in one more on this thread.
        size_t nonfinite;
        if (t->team) {
            OptimSgdShare a = {&t->opt, params, ctrgcn_grads(t->m), lr, 0};
            ctrgcn_team_for(t->team, np, optim_sgd_range, &a);
            optim_sgd_count(&t->opt);
            nonfinite = atomic_load(&a.nonfinite);
        } else {
            nonfinite = optim_sgd_step(&t->opt, params, ctrgcn_grads(t->m), lr);
        }
        if (t->cd) {
            double t1 = dist_wtime();
            cdtrain_optim_step(t->cd, lr, e);
            if (cdtrain_replay(t->cd, d, t->team, lr, e, step)) {
                if (d->rank == 0) CD_ERR("step %lld: the CoCoDiff module's replay steps failed (see above)", (long long)step + 1);
                return TRAIN_EXIT_ERROR;
            }
            t->cd_seconds += dist_wtime() - t1;
        }
        t->step_seconds += dist_wtime() - ts;
        // A finite loss can still give an overflowing step (lr too large):
        // never checkpoint non-finite weights.
        int finite = nonfinite == 0 && (!t->cd || cdtrain_params_finite(t->cd));
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
        for (int k = 0; t->cd && k < cdtrain_num_stats(); k++) ep.cd[k] += st.cd[k];
        lc.samples += (int64_t)st.n;
        if (t->losses) {
            fprintf(t->losses, "%lld %.9g %.9g %.9g", (long long)step, loss, st.correct / st.n, lr);
            // the module's progress statistics (diff rec gen coarse; gen 0 before generation starts)
            const char *names[CDTRAIN_MAX_STATS];
            double means[CDTRAIN_MAX_STATS];
            int nprog = t->cd ? cdtrain_progress(st.cd, st.n, names, means, CDTRAIN_MAX_STATS) : 0;
            for (int i = 0; i < nprog; i++) fprintf(t->losses, " %.9g", means[i]);
            fputc('\n', t->losses);
            fflush(t->losses);
        }
        log_step(t, &lc, e, step, stop_at, loss, st.correct / st.n, lr, &st);
        const int epoch_end = step % nb == 0;
        int64_t flag = stop_requested;
        if (dist_allreduce_max_i64(d, &flag, 1)) return TRAIN_EXIT_ERROR;
        const int stop_now = flag != 0 || step >= stop_at;
        // The epoch's metrics line (and evaluation) before its checkpoint: a
        // kill between them resumes from the previous checkpoint, whose
        // resume drops the line and writes it again (train_setup.c
        // trim_after); the other way round the line was lost.
        if (epoch_end) {
            if (end_epoch(t, e, step, lr, &ep, t0)) return TRAIN_EXIT_ERROR;
            memset(&ep, 0, sizeof ep);
        }
        if (epoch_end || stop_now || (cfg->cocodiff.checkpoint_steps > 0 && step % cfg->cocodiff.checkpoint_steps == 0))
            if (save(t, step, step / nb, epoch_end)) return TRAIN_EXIT_ERROR;
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
    // the fresh module first: its checkpoints hold the co-trained module as training left it
    const int rf = refresh_phase(t, step);
    if (rf != TRAIN_EXIT_OK) return rf;
    const int passes = t->cd ? cdtrain_replay_final_passes(t->cd, loader_num_samples(t->train)) : 0;
    if (passes > 0) {   // the module alone on the final backbone's tokens
        H5Features f;
        int rc = train_data_tokens(&t->data, cfg, d, t->m, passes, &f);
        if (!rc) rc = cdtrain_replay_final(t->cd, d, t->team, optim_lr(&sched, cfg->num_epoch - 1), cfg->num_epoch - 1, f.parts,
                                           f.label, f.n);
        h5io_features_free(&f);
        if (rc) {
            log_info(d, "train | the CoCoDiff module's steps after training failed (see above); the model is saved");
            return TRAIN_EXIT_ERROR;
        }
    }
    CdTrainFinish fin = {cfg->work_dir, cfg->test_feeder_args.data_path, cfg->test_feeder_args.split, t->last_ckpt,
                         cfg->cocodiff.probe_scales, cfg->cocodiff.n_probe_scales};
    if (t->cd && t->test && cdtrain_finish(t->cd, d, t->m, t->test, t->Wtest, t->x, t->logits, &fin) != CD_OK) {
        log_info(d, "train | the generated-feature measurement failed (see above); the model is saved");
        return TRAIN_EXIT_ERROR;
    }
    if (cfg->cocodiff.dump_features > 0 && train_data_dump(&t->data, cfg, d, t->m, t->last_ckpt) != CD_OK) {
        log_info(d, "train | the part-token dump failed (see above); the model is saved");
        return TRAIN_EXIT_ERROR;
    }
    log_info(d, "train | done: %lld steps in %.1fs", (long long)(step - step_first), dist_wtime() - t0);
    if (t->best_epoch > 0)
        log_info(d, "train | best test top-1 %.2f%% at epoch %lld (%s/best.h5)", 100 * t->best_top1,
                 (long long)t->best_epoch, cfg->work_dir);
    return TRAIN_EXIT_OK;
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
    int rc = trainer_setup(&t, o, &step, why, sizeof why);
    // Every rank usually fails the same way: rank 0 speaks for all, another
    // rank only when it alone failed.
    int64_t rc0 = rc;
    if (dist_bcast_bytes(d, &rc0, sizeof rc0, 0) != CD_OK) rc0 = rc;
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    if (rc && d->rank != 0 && rc0 == CD_OK) CD_ERR("[r%d] %s", d->rank, why[0] ? why : cd_status_str(rc));
    rc = dist_agree(d, rc);
    if (!rc) rc = dist_agree(d, trainer_build_gradsync(&t));
    if (!rc) rc = dist_agree(d, trainer_resume_best(&t));
    int code = rc ? (rc == CD_EARG ? TRAIN_EXIT_USAGE : TRAIN_EXIT_ERROR) : run_loop(&t, o, step);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    trainer_teardown(&t);
    return code;
}
