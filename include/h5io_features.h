// h5io_features.h - real and generated features of one split (the trainer
// writes it when the CoCoDiff module generates; cocodiff-report maps it).
// Part of the h5io module (src/io/h5io_*.c, the only files that include hdf5.h).
// Layout of FEATURES.h5 (format "cocodiff-features", version 1):
//   /real (n, C) float32       the head's input h_0 of each sample (test-mode feeder)
//   /generated (n, C) float32  h_hat_0 generated from that sample's latent under its class text
//   /label (n) int32, /index (n) int64 (row in the data file's split)
//   attributes: format, format_version, data (path), split, checkpoint
#pragma once
#include <stdint.h>

#define H5IO_FEAT_FORMAT "cocodiff-features"
#define H5IO_FEAT_FORMAT_VERSION 1

typedef struct H5Features {
    int64_t n;
    int C;
    float *real, *generated;   // (n, C)
    int32_t *label;            // (n)
    int64_t *index;            // (n)
    char data[1024], split[32], checkpoint[1024];
} H5Features;

// Serial (one rank); written to PATH.partial and renamed into place.
int h5io_features_write(const char *path, const H5Features *f);
// Checks the format, version and sizes; h5io_features_free releases it.
int h5io_features_read(const char *path, H5Features *f);
void h5io_features_free(H5Features *f);
