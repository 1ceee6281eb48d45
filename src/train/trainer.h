// trainer.h - the trainer's private state, shared by train.c (the loop,
// checkpoints, evaluation, logs) and train_setup.c (data, model, module,
// resume, outputs). Not a public header: callers use train.h.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "cdtrain.h"
#include "config.h"
#include "ctrgcn.h"
#include "ctrgcn_team.h"
#include "dist.h"
#include "gradsync.h"
#include "loader.h"
#include "optim.h"
#include "status.h"
#include "train.h"
#include "train_data.h"

typedef struct Trainer {
    const Dist *d;
    const Config *cfg;
    Ctrgcn *m;
    CtrgcnTeam *team;           // cocodiff.threads > 1 (without the module): the threads split each batch
    OptimSgd opt;
    TrainData data;             // what it reads (train_data.h); train, test: its loaders
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
    char builds[512];           // every build that trained this run, oldest first (checkpoint.h)
    char build_prev[128];       // resuming: the checkpoint's last build when it is not this one ("" otherwise)
    FILE *metrics, *losses;     // rank 0
    FILE *log;                  // rank 0: WORK_DIR/log.txt (dlog.log_file)
    Dist dlog;                  // the run's Dist: d's, with rank 0's lines also in log.txt
    char notes[4][1100];        // what setup says before log.txt is open (logged once it is)
    int nnotes;
    double best_top1;           // the best test top-1 so far (this run and, resuming, the earlier ones)
    int64_t best_epoch;         // its epoch (1-based; 0: none yet)
    CdTrain *cd;                // the CoCoDiff module (cocodiff.module on; NULL otherwise)
    double cd_seconds, step_seconds;   // this run: time in the module's share of the steps, in the steps
} Trainer;

// The global statistics of one step (identical on every rank).
typedef struct StepStats {
    double loss_sum, correct, n;     // sum of per-sample losses, top-1 hits, samples
    double cd[CDTRAIN_MAX_STATS];    // module: its statistics' sums (cdtrain.h)
} StepStats;

// dir/file into out (n bytes): CD_OK, or CD_EARG when it does not fit.
static inline int trainer_path_join(char *out, size_t n, const char *dir, const char *file) {
    return snprintf(out, n, "%s/%s", dir, file) < (int)n ? CD_OK : CD_EARG;
}

// train_setup.c, for train_run: everything before the first step (opens the
// data, builds the model and the module, resumes or loads weights, opens
// rank 0's outputs; *step0 the first step), the gradient all-reduce
// (collective, once every rank's setup succeeded), the best test top-1 so
// far when resuming (collective), and the end.
int trainer_setup(Trainer *t, const TrainOptions *o, int64_t *step0, char *why, size_t whylen);
int trainer_build_gradsync(Trainer *t);
int trainer_resume_best(Trainer *t);
void trainer_teardown(Trainer *t);
