// dump.h - the backbone's part tokens of a whole split, for work on frozen
// features (cocodiff-frozen): every sample of a data file's group (or a
// subset of it) through the eval-mode backbone, `views` passes with the
// feeder's transform (epochs 0..views-1: the training augmentation draws of
// those epochs) or one pass (views 0, a test-mode feeder), pooled into the
// CoCoDiff module's 7 tokens (token 0 = the head's input, exactly).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cocodiff.h"
#include "ctrgcn.h"
#include "dist.h"
#include "feeder.h"
#include "h5io_features.h"

typedef struct DumpSpec {
    const char *data;             // cocodiff-prep file
    int group;                    // 0 train, 1 test
    const int64_t *subset;        // dataset indices, or NULL: the whole group
    int64_t nsubset;
    const FeederConfig *feeder;
    int views;                    // 0: one pass (a test-mode feeder); else passes 0..views-1
    int batch;                    // global batch of the passes
    uint64_t seed;                // the feeder's draws
    int window;                   // frames the model reads (the feeder's window)
    const char *split;            // attribute: "train", "test", "fold 2 of 5", ...
    const char *checkpoint;       // attribute: the weights
} DumpSpec;

// Collective. Every rank gets the rows in f (h5io_features.h; free with
// h5io_features_free), in pass order, then the group's order (the same on any
// number of ranks). CD_OK or an error with the reason in why.
int dump_collect(const Dist *d, Ctrgcn *m, const PartSets *p, const DumpSpec *s, H5Features *f, char *why,
                 size_t whylen);
// Collective: dump_collect, then rank 0 writes OUT (h5io_features.h: /real, /parts, /label,
// /index, views). The rows are in pass order, then the group's order (the
// same on any number of ranks). CD_OK or an error with the reason in why.
int dump_parts(const Dist *d, Ctrgcn *m, const PartSets *p, const DumpSpec *s, const char *out, char *why,
               size_t whylen);
