// train_data.h - what a training run reads (cocodiff-train): the loaders of
// the training samples and of the evaluated ones, from the config's feeders:
//   - the train split of train_feeder_args.data_path (its split), or with cocodiff.folds
//     K that split less fold cocodiff.fold (fold.h), which is then the
//     evaluated set (test transform) in place of the test split;
//   - with cocodiff.train_fraction f < 1, per class that share of those
//     training samples (fold_fraction: the same subset for every seed);
//   - the test split of test_feeder_args.data_path (its split; when
//     eval_interval > 0).
// Both are checked against model_args. And, once trained, the backbone's
// part tokens of both (cocodiff.dump_features, dump.h).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cocodiff.h"
#include "config.h"
#include "ctrgcn.h"
#include "dist.h"
#include "feeder.h"
#include "h5io_features.h"
#include "loader.h"

typedef struct TrainData {
    Loader *train, *test;          // test: the test split or the held-out fold; NULL when not evaluated
    FeederConfig ftr, fte;         // their feeders
    int64_t *train_sub, ntrain_sub;   // the training subset (dataset indices), NULL: the whole split
    int64_t *eval_sub, neval_sub;     // the evaluated subset, NULL: the whole test split
    int train_group;               // the training samples' group (0 train, 1 test: train_feeder_args.split)
    const char *eval_path;         // the evaluated file and group (0 train: a fold or
    int eval_group;                // test_feeder_args.split train; 1 test)
    int C, W, V, M;                // sample channels, train window, joints, persons
    int Wtest;                     // test window
} TrainData;

// Collective (every rank opens its loaders). CD_OK, or an error with the
// reason in why (*td always freeable with train_data_close).
int train_data_open(TrainData *td, const Config *c, const Dist *d, char *why, size_t whylen);
void train_data_close(TrainData *td);

// Collective. cocodiff.dump_features V: model's part tokens of the training
// samples (V passes with the training transform) and of the evaluated ones
// (test transform) into WORK_DIR/parts-train.h5 and parts-test.h5, with the
// config's part file; checkpoint is recorded in them.
int train_data_dump(const TrainData *td, const Config *c, const Dist *d, Ctrgcn *m, const char *checkpoint);
// Collective: the training samples' part tokens through m in eval mode,
// `views` passes with the training feeder's augmentation, on every rank in f
// (dump.h's dump_collect; free with h5io_features_free). CD_OK or an error.
int train_data_tokens(const TrainData *td, const Config *c, const Dist *d, Ctrgcn *m, int views, H5Features *f);
