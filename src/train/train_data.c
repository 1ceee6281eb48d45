// train_data.c - what a training run reads (see train_data.h).
#include "train_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "fold.h"
#include "h5io_prep.h"
#include "status.h"
#include "stream.h"

// cocodiff.train_fraction f < 1: the low-data subset (fold_fraction) of the
// training samples (td->train_sub, or the whole train split when NULL).
static int subsample(TrainData *td, const Config *c, const Dist *d, char *why, size_t whylen) {
    const double f = c->cocodiff.train_fraction;
    if (!(f > 0 && f < 1)) return CD_OK;
    const char *p = c->train_feeder_args.data_path;
    H5PrepInfo info;
    if (h5io_prep_info(p, &info) != CD_OK) return cd_why(why, whylen, CD_EIO, "%s: cannot read its header", p);
    int64_t N = info.n[td->train_group], n = td->train_sub ? td->ntrain_sub : N;
    int32_t *all = cd_malloc((size_t)(N > 0 ? N : 1) * sizeof(int32_t)), *lab = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    int64_t *idx = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t)), *sub = NULL, nsub = 0;
    int rc = all && lab && idx ? CD_OK : CD_ENOMEM;
    if (!rc && N > 0 && h5io_prep_read(p, td->train_group, 0, N, NULL, all, NULL, NULL) != CD_OK)
        rc = cd_why(why, whylen, CD_EIO, "%s: cannot read the /%s labels", p, td->train_group ? "test" : "train");
    for (int64_t i = 0; i < n && !rc; i++) {
        idx[i] = td->train_sub ? td->train_sub[i] : i;
        lab[i] = all[idx[i]];
    }
    if (!rc) rc = fold_fraction(idx, lab, n, f, &sub, &nsub);
    if (!rc) {
        log_info(d, "train | low data: cocodiff.train_fraction %g keeps %lld of the %lld training samples (per class)",
                 f, (long long)nsub, (long long)n);
        free(td->train_sub);
        td->train_sub = sub;
        td->ntrain_sub = nsub;
    }
    free(all); free(lab); free(idx);
    return rc;
}

// cocodiff.folds K: the TRAIN split of train_feeder_args.data_path less
// fold cocodiff.fold trains (train transform, shuffled, drop_last); the fold
// is evaluated with the test transform, where the test split would be.
static int open_folds(TrainData *td, const Config *c, const Dist *d, char *why, size_t whylen) {
    const char *p = c->train_feeder_args.data_path;
    const int K = c->cocodiff.folds, i = c->cocodiff.fold;
    FoldSplit s;
    char fw[900];
    int rc = fold_split_file(p, K, i, &s, fw, sizeof fw);
    if (rc) {
        snprintf(why, whylen, "cocodiff.folds %d, cocodiff.fold %d: %s", K, i, fw);
        return rc;
    }
    td->train_sub = s.train;
    td->ntrain_sub = s.ntrain;
    td->eval_sub = s.held;
    td->neval_sub = s.nheld;
    s.train = s.held = NULL;   // kept
    rc = subsample(td, c, d, why, whylen);
    if (!rc)
        rc = loader_open_subset(&td->train, p, 0, td->train_sub, td->ntrain_sub, &td->ftr, c->batch_size, d->rank,
                                d->size, (uint64_t)c->seed, 1, 1, why, whylen);
    if (!rc)
        rc = loader_open_subset(&td->test, p, 0, td->eval_sub, td->neval_sub, &td->fte, c->test_batch_size, d->rank,
                                d->size, (uint64_t)c->seed, 0, 0, why, whylen);
    if (!rc) {
        log_info(d, "train | cross-validation: fold %d of %d of %s /train (%d subjects%s): %lld samples of %d "
                    "subject(s) held out for evaluation (%s), %lld to train on", i, K, p, s.nsubjects,
                 s.hashed ? ", names without one count as one each" : "", (long long)s.nheld, s.nheld_subjects,
                 s.held_names, (long long)td->ntrain_sub);
        if (c->test_feeder_args.data_path)
            log_info(d, "train | cross-validation: test_feeder_args.data_path %s is not used", c->test_feeder_args.data_path);
    }
    fold_split_free(&s);
    return rc;
}

int train_data_open(TrainData *td, const Config *c, const Dist *d, char *why, size_t whylen) {
    memset(td, 0, sizeof *td);
    const SkelLayout *layout = config_layout(c);
    if (!layout) {
        snprintf(why, whylen, "unknown graph %s", c->model_args.graph);
        return CD_EARG;
    }
    const ConfigFeederArgs *ta = &c->train_feeder_args, *te = &c->test_feeder_args;
    const Stream *st = stream_find(config_stream(c));   // both feeders' (config_check)
    FeederConfig ftr = feeder_config_official(layout, 1, st);
    FeederConfig fte = feeder_config_official(layout, 0, st);
    ftr.window = ta->window_size > 0 ? ta->window_size : ftr.window;   // unset: the layout's feeder's
    fte.window = te->window_size > 0 ? te->window_size : ftr.window;
    ftr.repeat = ta->repeat;   // the test split is visited once
    ftr.n_interval = ta->n_p_interval;
    memcpy(ftr.p_interval, ta->p_interval, sizeof ftr.p_interval);
    ftr.random_rot = ta->random_rot;
    fte.n_interval = te->n_p_interval;
    memcpy(fte.p_interval, te->p_interval, sizeof fte.p_interval);
    fte.random_rot = 0;
    td->ftr = ftr;
    td->fte = fte;
    if (!ta->data_path) {
        snprintf(why, whylen, "train_feeder_args.data_path is not set");
        return CD_EARG;
    }
    for (int i = 0; i < 2; i++) {   // CTR-GCN's own data files: say what to make instead
        const char *p = i ? te->data_path : ta->data_path, *dot = p ? strrchr(p, '.') : NULL;
        if (dot && !strcmp(dot, ".npz"))
            return cd_why(why, whylen, CD_EARG, "%s_feeder_args.data_path %s is CTR-GCN's .npz; cocodiff-train reads "
                          "cocodiff-prep's HDF5: cocodiff-prep --dataset ntu60 --input ARCHIVE --out data, then "
                          "--train_feeder_args data_path=data/ntu60-xsub.h5 (and the same for test)",
                          i ? "test" : "train", p);
    }
    if (c->batch_size < d->size) {
        snprintf(why, whylen, "batch_size %d is smaller than the %d ranks", c->batch_size, d->size);
        return CD_EARG;
    }
    // The feeders' split, as main.py's Feeder reads it (config.c checks it is
    // train or test); folds always split the train one.
    const int folds = c->cocodiff.folds > 0;
    td->train_group = folds ? 0 : !strcmp(ta->split, "test");
    td->eval_path = folds ? ta->data_path : te->data_path;
    td->eval_group = folds ? 0 : !!strcmp(te->split, "train");
    int rc;
    if (c->cocodiff.folds > 0) {
        rc = open_folds(td, c, d, why, whylen);
    } else {
        rc = subsample(td, c, d, why, whylen);
        if (!rc)
            rc = loader_open_subset(&td->train, ta->data_path, td->train_group, td->train_sub, td->ntrain_sub, &td->ftr, c->batch_size,
                                    d->rank, d->size, (uint64_t)c->seed, 1, 1, why, whylen);
        if (!rc && te->data_path && c->eval_interval > 0)
            rc = loader_open(&td->test, te->data_path, td->eval_group, &td->fte, c->test_batch_size, d->rank, d->size, (uint64_t)c->seed,
                             0, 0, why, whylen);
    }
    if (rc) return rc;
    if (loader_num_class(td->train) != c->model_args.num_class) {
        snprintf(why, whylen, "%s has %d classes but model_args.num_class is %d", ta->data_path,
                 loader_num_class(td->train), c->model_args.num_class);
        return CD_EARG;
    }
    loader_sample_dims(td->train, &td->C, &td->W, &td->V, &td->M);
    if (td->V != c->model_args.num_point || td->M != c->model_args.num_person || td->C != c->model_args.in_channels) {
        snprintf(why, whylen, "%s has (C %d, V %d, M %d) but model_args say (in_channels %d, num_point %d, num_person %d)",
                 ta->data_path, td->C, td->V, td->M, c->model_args.in_channels, c->model_args.num_point,
                 c->model_args.num_person);
        return CD_EARG;
    }
    td->Wtest = td->W;
    if (td->test) {
        int C2, V2, M2;
        loader_sample_dims(td->test, &C2, &td->Wtest, &V2, &M2);
        if (loader_num_class(td->test) != c->model_args.num_class || C2 != td->C || V2 != td->V || M2 != td->M) {
            snprintf(why, whylen, "%s (test) has %d classes and (C %d, V %d, M %d); model_args say num_class %d, "
                     "(in_channels %d, num_point %d, num_person %d)", td->eval_path, loader_num_class(td->test),
                     C2, V2, M2, c->model_args.num_class, td->C, td->V, td->M);
            return CD_EARG;
        }
    }
    return CD_OK;
}

void train_data_close(TrainData *td) {
    loader_free(td->train);
    loader_free(td->test);
    free(td->train_sub);
    free(td->eval_sub);
    memset(td, 0, sizeof *td);
}

// The training samples' dump: `views` passes with the training feeder.
static DumpSpec train_spec(const TrainData *td, const Config *c, int views, const char *checkpoint, char *split,
                           size_t splitlen) {
    DumpSpec s = {.data = c->train_feeder_args.data_path, .group = td->train_group, .subset = td->train_sub,
                  .nsubset = td->ntrain_sub, .feeder = &td->ftr, .views = views,
                  .batch = c->test_batch_size, .seed = (uint64_t)c->seed, .window = td->W, .split = split,
                  .checkpoint = checkpoint};
    if (c->cocodiff.folds > 0) snprintf(split, splitlen, "train less fold %d of %d", c->cocodiff.fold, c->cocodiff.folds);
    else snprintf(split, splitlen, "train");
    return s;
}

int train_data_tokens(const TrainData *td, const Config *c, const Dist *d, Ctrgcn *m, int views, H5Features *f) {
    PartSets ps;
    memset(f, 0, sizeof *f);
    if (part_sets_load(config_parts_path(c), td->V, &ps) != CD_OK) return dist_agree(d, CD_EARG);
    char why[1024] = "", split[64];
    DumpSpec s = train_spec(td, c, views, NULL, split, sizeof split);
    int rc = dump_collect(d, m, &ps, &s, f, why, sizeof why);
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    return rc;
}

int train_data_dump(const TrainData *td, const Config *c, const Dist *d, Ctrgcn *m, const char *checkpoint) {
    PartSets ps;
    const char *pp = config_parts_path(c);
    if (part_sets_load(pp, td->V, &ps) != CD_OK) return dist_agree(d, CD_EARG);
    char why[1024] = "", out[4200], split[64];
    DumpSpec s = train_spec(td, c, c->cocodiff.dump_features, checkpoint, split, sizeof split);
    snprintf(out, sizeof out, "%s/parts-train.h5", c->work_dir);
    int rc = dump_parts(d, m, &ps, &s, out, why, sizeof why);
    if (!rc && td->eval_path) {
        DumpSpec e = {.data = td->eval_path, .group = td->eval_group, .subset = td->eval_sub, .nsubset = td->neval_sub,
                      .feeder = &td->fte, .views = 0, .batch = c->test_batch_size, .seed = (uint64_t)c->seed,
                      .window = td->Wtest, .split = split, .checkpoint = checkpoint};
        if (c->cocodiff.folds > 0) snprintf(split, sizeof split, "fold %d of %d", c->cocodiff.fold, c->cocodiff.folds);
        else snprintf(split, sizeof split, "test");
        snprintf(out, sizeof out, "%s/parts-test.h5", c->work_dir);
        rc = dump_parts(d, m, &ps, &e, out, why, sizeof why);
    }
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    if (!rc)
        log_info(d, "train | part tokens of the training samples (%d passes) and the evaluated ones in %s/parts-{train,test}.h5",
                 c->cocodiff.dump_features, c->work_dir);
    return rc;
}
