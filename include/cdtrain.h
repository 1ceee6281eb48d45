// cdtrain.h - the CoCoDiff module's share of training (cocodiff.module on),
// behind one small interface: the trainer (train.c) reaches the module
// (cocodiff.h) only through these calls, and they take the backbone and the
// data, never the trainer's state.
//
// A step (after the backbone's forward, before its backward): the last
// unit's output is pooled into the 7 part tokens (token 0 = the backbone's
// own pooled feature, bit for bit), cocodiff_step adds its losses' gradients
// to the FC head's grads and its own, and returns dfeat, the gradient for
// the backbone's pooled feature, and (when the module has part gradients)
// dlast, the gradient for the last unit's output: the trainer passes both to
// ctrgcn_backward_ex. The module's gradients are final after the step (the
// trainer's first all-reduce bucket), it takes its own optimizer step
// (cdoptim.h: SGD with the backbone's settings or AdamW; weight decay only on
// its weight matrices), its draws are functions of (seed, step, global sample index),
// so a resumed run continues bit for bit.
//
//   CdTrain *cd;
//   cdtrain_setup(&cd, &spec, model, window, nmax, why, sizeof why);
//   per step: cdtrain_step(cd, model, labels, n, &ctl, stats) ...
//             ctrgcn_backward_ex(model, dlogits, cdtrain_dfeat(cd), cdtrain_dlast(cd));
//             (all-reduce the grads and stats) ... cdtrain_optim_step(cd, lr);
//             cdtrain_replay(cd, dist, team, lr, epoch, step);
//   checkpoints: cdtrain_tensor_groups / cdtrain_restore
//   at the end: cdtrain_refresh_* (cocodiff.refresh), cdtrain_replay_final,
//   cdtrain_finish (the generated-feature measurement)
//   cdtrain_free(cd);
//
// defines: CdTrain, CdTrainSpec, CdTrainCtl, cdtrain_*
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cocodiff.h"
#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "dist.h"
#include "h5io_ckpt.h"
#include "loader.h"

typedef struct CdTrain CdTrain;

typedef struct CdTrainSpec {
    const CocodiffConfig *options;   // the module's options (config: cocodiff.<option>)
    const char *text;                // cocodiff-embed file: the classes' texts
    const char *parts;               // body-part file of the layout
    int K;                           // classes
    int gen_start;                   // first 0-based epoch with generation
    uint64_t seed;                   // the run's
    double base_lr;                  // the backbone's (the module's lr scales from it, cdoptim.h)
    int warm_up;                     // the backbone's warm-up epochs (module_lr_decay off: only these)
    double momentum, weight_decay;   // the backbone's SGD settings
    int nesterov;
    int step_samples;                // samples of an optimizer step, all ranks and batches (cocodiff.replay)
    int accumulate;                  // batches a step (cocodiff.accumulate)
} CdTrainSpec;

// Builds the module for backbone m (its last unit's width, joints, persons;
// T' of a train window of W frames) with buffers for n_max samples a step,
// initialised from the run's seed. CD_OK; CD_EARG (text or part file that
// does not fit, bad options), CD_ENOMEM; the reason in why.
int cdtrain_setup(CdTrain **t, const CdTrainSpec *s, Ctrgcn *m, int W, int n_max, char *why, size_t whylen);
void cdtrain_free(CdTrain *t);   // NULL is fine
// "CoCoDiff module: N parameters (training only), d ..., ..." for the log.
void cdtrain_describe(const CdTrain *t, char *buf, size_t len);

// The gradient span (one all-reduce bucket of the trainer's).
float *cdtrain_grads(CdTrain *t);
size_t cdtrain_num_params(const CdTrain *t);

// One step's place in the run.
typedef struct CdTrainCtl {
    int64_t epoch, step;   // 0-based epoch; global optimisation step
    int64_t sample0;       // global index of this rank's first sample
    float grad_scale;      // the trainer's n_local / samples of the optimizer step (all ranks)
    int accumulate;        // 1: add to the module's gradients (a later batch of an accumulated step, cocodiff.accumulate); 0: zero them first
    // The backbone's outputs of this batch when they are not m's own (the
    // threads that split the batch keep them, ctrgcn_team.h): pooled
    // features (n, C) and last unit output (n*M, C, T', V), both or neither
    // (NULL: m's).
    const float *feat, *last;
    // The threads splitting the batch (NULL: none): with more than one lane
    // for these n samples the module's step is split over them too
    // (cocodiff_lanes.h), the same step up to the order of its sums.
    CtrgcnTeam *team;
} CdTrainCtl;

#define CDTRAIN_MAX_STATS 32   // cdtrain_num_stats() is at most this

// Statistics of a step: stats[cdtrain_num_stats()] sums over this rank's n
// samples, to be summed over the ranks: the module's statistics
// (cocodiff_stat order) times their samples, then the generated samples.
int cdtrain_num_stats(void);
// The module's part of a step on n samples with these labels (after m's
// forward; zeroes (ctl->accumulate: adds to) and fills the module's grads). CD_OK or an error.
int cdtrain_step(CdTrain *t, Ctrgcn *m, const int32_t *labels, int n, const CdTrainCtl *ctl, double *stats);
// The backbone gradients of the last step: (n, C) for the pooled feature;
// (n*M, C, T', V) for the last unit's output, NULL unless part gradients.
const float *cdtrain_dfeat(const CdTrain *t);
const float *cdtrain_dlast(const CdTrain *t);
// Statistic i (cocodiff_stat) of summed stats over n samples: its mean, NAN
// for a generated one when nothing was generated.
double cdtrain_stat_mean(const double *stats, int i, double n);
// The statistics the progress line and --log-losses show, in their order
// (cocodiff_stat's `progress`): names and means over n samples (a generated
// one 0 when nothing was generated). Returns how many (<= max).
int cdtrain_progress(const double *stats, double n, const char **names, double *means, int max);
// The summed total loss of the module (its "total" statistic): the trainer
// stops when it is not finite.
double cdtrain_loss(const double *stats);

// The module's optimizer step (cdoptim.h: SGD or AdamW) at the backbone's
// lr of this epoch (with cocodiff.module_lr_decay off, at base_lr past the
// warm-up), after the gradients are summed over the ranks.
void cdtrain_optim_step(CdTrain *t, double lr, int64_t epoch);
// Collective, after cdtrain_optim_step (nothing unless cocodiff.replay): the
// step's samples, gathered from the ranks in their order within the step,
// go into the replay buffer (cdreplay.h), then cocodiff.replay_steps module
// steps on batches drawn from it, each split over the ranks, its gradients
// summed over them, and an optimizer step at the same lr: the same on any
// number of ranks. Nothing reaches the backbone or its head. CD_OK or an
// error (on every rank). team: the rank's threads (NULL: the calling
// thread), whose lanes split each step's samples as cdtrain_step's
// (cocodiff_lanes.h); the same for cdtrain_replay_final and
// cdtrain_refresh_step.
int cdtrain_replay(CdTrain *t, const Dist *d, CtrgcnTeam *team, double lr, int64_t epoch, int64_t step);
// Once the last step is done (cocodiff.replay_final > 0): the module
// trains alone on the training split's part tokens through the final
// backbone in eval mode (as cocodiff-frozen and the probe see them), so
// generation and the probe meet a denoiser trained on the final features.
// cdtrain_replay_final_passes: how many augmented passes of the n_train
// training samples the trainer should collect (enough to fill the buffer;
// 0: no final phase). cdtrain_replay_final (collective): the buffer is
// replaced by those n rows (tokens (n, 7, C), labels (n)), then
// cocodiff.replay_final module steps on it (as cdtrain_replay's) at the lr
// of the last epoch. Not checkpointed: a resumed run that starts after the
// last step repeats it from the same state, to the same result. CD_OK or an
// error (on every rank).
int cdtrain_replay_final_passes(const CdTrain *t, int64_t n_train);
int cdtrain_replay_final(CdTrain *t, const Dist *d, CtrgcnTeam *team, double lr, int64_t epoch,
                         const float *tokens, const int32_t *labels, int64_t n);
// cocodiff.refresh > 0: after the last step (and before replay_final), a
// FRESH module (the run's initial module weights, a new optimizer, no EMA,
// one L_diff pass a step, the same texts) trains cocodiff.refresh steps alone on the final
// backbone's part tokens of the training split (CDTRAIN_REFRESH_VIEWS
// augmented passes through the eval-mode backbone, as cocodiff-frozen's),
// steps of cdtrain_refresh_batch samples drawn with replacement, keyed
// (seed, -4, step), each split over the ranks, at module_lr (as a fraction
// of base_lr, cdoptim_phase_lr: x0.1 for the last fifth), with L_gen
// through the final head (frozen) from a sixth of the phase on. The co-trained
// module, the backbone, the head and training's draws are untouched; the
// measurement at the end probes both modules (diversity.json:
// "conditioning" and "conditioning_refreshed"). The phase is checkpointed
// (its module, optimizer and progress as /cocodiff_refresh*, written with
// cdtrain_tensor_groups once begun), so a run stopped in it resumes bit for
// bit and a finished run resumed with it on runs only the phase.
//   cdtrain_refresh_left: steps still to run (0: off, done, or generation off).
//   cdtrain_refresh_begin: the rows to learn from (tokens (n, 7, C), labels (n)).
//   cdtrain_refresh_step (collective): one step (m: the final backbone,
//   its head); *diff its L_diff.
//   cdtrain_refresh_restarted: the length of a phase a checkpoint held that
//   was not this one's (started afresh), else 0.
#define CDTRAIN_REFRESH_VIEWS 2
int64_t cdtrain_refresh_left(const CdTrain *t);
int64_t cdtrain_refresh_done(const CdTrain *t);
int cdtrain_refresh_batch(const CdTrain *t);
long long cdtrain_refresh_restarted(const CdTrain *t);
int cdtrain_refresh_begin(CdTrain *t, const float *tokens, const int32_t *labels, int64_t n);
int cdtrain_refresh_step(CdTrain *t, const Dist *d, CtrgcnTeam *team, Ctrgcn *m, double *diff);
int cdtrain_params_finite(const CdTrain *t);

// Checkpoints: the module's parameters as /cocodiff/<name>, its
// optimizer's buffers as /optimizer/cocodiff_<buffer>/<name> (SGD: momentum;
// AdamW: adam_m, adam_v), with cocodiff.ema the weights' average as
// /cocodiff_ema/<name> and with cocodiff.replay the replay buffer
// (/cocodiff_replay; the groups stay valid until cdtrain_free), and those
// of cocodiff.refresh's phase once it has begun. Returns the number of
// groups. cdtrain_read_groups: every group a checkpoint of this run may
// hold (the phase's too), for checkpoint_read.
#define CDTRAIN_MAX_GROUPS 10
int cdtrain_tensor_groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS]);
int cdtrain_read_groups(CdTrain *t, H5TensorGroup g[CDTRAIN_MAX_GROUPS]);
// Restores every group from a checkpoint read with them (checkpoint_read,
// their names as its extra groups) written after `steps` backbone steps; the
// optimizer continues at its own count of steps (replay steps included).
// CD_OK, or CD_EFORMAT with the reason in why.
struct CheckpointFile;
int cdtrain_restore(CdTrain *t, const struct CheckpointFile *f, long long steps, char *why, size_t whylen);

// Collective, once training ends (nothing when generation is off): every sample of `test`
// (test-mode feeder, eval-mode backbone, window W) gives its real h_0 and
// one h_hat_0 generated from its latent under its class text, with draws
// keyed (seed, step -2, sample index), so any rank count gives the same
// features. Rank 0 writes WORK_DIR/features.h5 (data, split and checkpoint
// recorded) and WORK_DIR/diversity.json (the diversity figures and the
// text-conditioning probe of the real part tokens, conditioning.h, at the
// generation scale and at f->probe_scales', cdprobe.h) and logs the
// figures. A finished run resumed (--resume) runs this measurement again and
// nothing else (cocodiff.refresh's phase is in its checkpoint; only
// cocodiff.replay_final, not checkpointed, is repeated): the way to probe a
// finished run at other scales (cocodiff.probe_scales) without retraining.
typedef struct CdTrainFinish {
    const char *work_dir, *data, *split, *checkpoint;
    const double *probe_scales;   // cocodiff.probe_scales: guidance scales of the probe's "by_scale"
    int n_probe_scales;           // 0: the generation scale only
} CdTrainFinish;
int cdtrain_finish(CdTrain *t, const Dist *d, Ctrgcn *m, Loader *test, int W, float *x, float *logits,
                   const CdTrainFinish *f);
