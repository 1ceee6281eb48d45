// train.h - data-parallel CTR-GCN training (cocodiff-train).
#pragma once
#include "config.h"
#include "dist.h"

enum {
    TRAIN_EXIT_OK = 0,
    TRAIN_EXIT_ERROR = 1,     // bad input, I/O, NaN loss
    TRAIN_EXIT_USAGE = 2,
    TRAIN_EXIT_PREEMPTED = 3, // SIGTERM/SIGUSR1: checkpointed and stopped; rerun with --resume
};

typedef struct TrainOptions {
    int resume;               // continue from WORK_DIR/checkpoint-last.h5
    int overwrite;            // start over in a work dir holding a run: its outputs deleted first (workdir.h)
    int max_steps;            // stop (with a checkpoint) after this many steps of this run (0: to the end)
    const char *log_losses;   // rank 0 writes "step loss top1 lr" per step here (%.9g; NULL: off)
} TrainOptions;

// Collective. Installs SIGTERM/SIGUSR1 handlers for the run.
int train_run(const Dist *d, const Config *cfg, const TrainOptions *opt);
