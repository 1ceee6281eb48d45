// frozen.h - the CoCoDiff module on a frozen backbone (cocodiff-frozen):
// minutes instead of a whole training run, for measuring and tuning text
// conditioning, and for the frozen-backbone experiment.
//
// Input: the part tokens a trained backbone gave the training and the
// evaluated samples (cocodiff-train --set cocodiff.dump_features=V:
// WORK_DIR/parts-train.h5, parts-test.h5) and the checkpoint whose FC head
// stays frozen. Then:
//   1. the module (the config's cocodiff.* settings and text) trains alone on
//      the training tokens: `module_steps` steps of `module_batch` samples
//      drawn without replacement epoch by epoch, the config's SGD settings,
//      lr module_lr (x0.1 for the last fifth), generation (L_gen, coarse
//      CE_gen; the head's gradient is dropped) from `gen_start` of the
//      steps on;
//   2. the conditioning probe (conditioning.h) and the diversity figures
//      (diversity.h) on the evaluated tokens with the frozen head ->
//      OUT/conditioning.json;
//   3. with heads > 0, the frozen-backbone experiment: for seeds 1..heads a
//      fresh linear head (PyTorch's Linear init) trains on the real training
//      features h_0, plus per step as many extra features (each kind listed
//      in `extras`, with the same head seeds: none;
//      generated: h_hat_0 the module made from a training sample under its
//      class text, gen_copies per sample made once; noise: h_0 moved by the
//      same distance as that sample's generated feature ||h_hat_0 - h_0||
//      in a random direction), weighted extra_weight in the loss;
//      SGD as the config (lr base_lr, x0.1 at two thirds), head_epochs
//      epochs, batch the config's batch_size; top-1 on the evaluated
//      features -> OUT/heads.tsv (seed, extra, epochs, top1) and the log.
// Everything runs on rank 0 (the features are small); other ranks wait.
#pragma once
#include "config.h"
#include "dist.h"

typedef struct FrozenOptions {
    const char *parts_train, *parts_test;   // parts-*.h5 (h5io_features.h with /parts)
    const char *checkpoint;                 // backbone checkpoint: its fc.weight / fc.bias are the frozen head
    const char *out;                        // output folder
    int module_steps;                       // 0: no module (then extra must be none)
    int module_batch;                       // 64
    double gen_start;                       // fraction of the module steps before generation (0.5)
    int heads;                              // 0: no head experiment
    int extras;                             // bits: 1 none, 2 generated, 4 noise (each its own heads)
    double extra_weight;                    // 1
    int head_epochs;                        // 30
    int gen_copies;                         // 2
} FrozenOptions;

void frozen_options_default(FrozenOptions *o);
// Collective; 0 on success, 1 on an error (said on stderr), 2 on bad usage.
int frozen_run(const Dist *d, const Config *cfg, const FrozenOptions *o);
