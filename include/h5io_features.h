// h5io_features.h - real (and generated) features of one split: the
// trainer writes features.h5 when the CoCoDiff module generates
// (cocodiff-report maps it) and, with cocodiff.dump_features, the part
// tokens of the train and test splits (parts-train.h5, parts-test.h5: what
// cocodiff-frozen trains on with the backbone frozen).
// Part of the h5io module (src/io/h5io_*.c, the only files that include hdf5.h).
// Layout (format "cocodiff-features", version 2; version 1 files, which
// always have /generated and never /parts, read the same):
//   /real (n, C) float32       the head's input h_0 of each sample
//   /generated (n, C) float32  h_hat_0 generated from that sample's latent under its class text (optional)
//   /parts (n, tokens, C) float32  the module's part tokens (token 0 = /real) (optional)
//   /label (n) int32, /index (n) int64 (row in the data file's split)
//   attributes: format, format_version, data (path), split, checkpoint, views
//   (passes over the split with the training transform; 0: one pass with
//   the test transform)
#pragma once
#include <stdint.h>

#define H5IO_FEAT_FORMAT "cocodiff-features"
#define H5IO_FEAT_FORMAT_VERSION 2

typedef struct H5Features {
    int64_t n;
    int C;
    float *real, *generated;   // (n, C); generated NULL when absent
    int tokens;                // 0 when there are no part tokens
    float *parts;              // (n, tokens, C) or NULL
    int views;
    int32_t *label;            // (n)
    int64_t *index;            // (n)
    char data[1024], split[32], checkpoint[1024];
} H5Features;

// Serial (one rank); written to PATH.partial and renamed into place.
int h5io_features_write(const char *path, const H5Features *f);
// Checks the format, version and sizes; h5io_features_free releases it.
int h5io_features_read(const char *path, H5Features *f);
void h5io_features_free(H5Features *f);
