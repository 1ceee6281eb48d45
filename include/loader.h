// loader.h - batches of transformed samples from a cocodiff-prep HDF5 file
// (h5io_prep.h) for data-parallel training and evaluation.
//
// Epoch e visits N = N0 x repeat positions (N0: the group's samples, or a
// subset's: loader_open_subset; repeat: FeederConfig.repeat, 1 unless set),
// position q reading sample q mod N0 (the official feeder_ucla's repeat), in
// order[] = a permutation of the positions seeded by (seed, e) (the identity
// when shuffle is 0). Global batch b is order[b*B .. min((b+1)*B, N)),
// B = global_batch; rank r of nranks takes its contiguous slice
// [r*n/nranks, (r+1)*n/nranks) (n = that batch's size), so the concatenation
// over ranks is the 1-rank batch. Each sample goes through the feeder keyed
// by (seed, e, key), key = dataset index + (q / N0) x group size (the dataset
// index when repeat is 1): the same tensor on any rank count. drop_last
// drops a final partial batch (train); otherwise it is kept (test).
//
// The feeder: padded samples (C, 300, V, 2) go through feeder_transform;
// raw sequences (h5io_prep.h; NW-UCLA) through the file's layout's
// seq_transform (skeleton.h), output (C, window, V, M) with the file's M.
//
// Memory: the group's labels and one epoch's order (8 + 4 bytes a sample;
// a subset adds 8 bytes a subset sample). Padded samples: a staging buffer
// of at most LOADER_STAGE stored samples; reads are serial HDF5 through one
// H5PrepReader (h5io_prep.h) the loader keeps open from loader_open to
// loader_free, one call per run of consecutive indices. Raw sequences: the
// whole group's frames, read once at open (NW-UCLA /train: 20 MB).
// A Loader is not thread-safe (it caches the epoch order and a staging
// buffer): use one per thread.
//
//   Loader *l;
//   if (loader_open(&l, path, 0, &cfg, 64, d->rank, d->size, seed, 1, 1, why, sizeof why)) ...
//   float *x = malloc(loader_max_local(l) * loader_sample_floats(l) * sizeof(float));
//   for (int b = 0; b < loader_num_batches(l); b++)
//       loader_batch(l, epoch, b, x, label, index, &n);   // x: (n, C, window, V, M)
//   loader_free(l);
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "feeder.h"

#define LOADER_STAGE 32   // stored samples read per HDF5 call at most

typedef struct Loader Loader;

// group: 0 train, 1 test. Validates the file (format/version via
// h5io_prep_reader_open, layout and joints, labels within num_class) and the
// arguments; on failure returns CD_EIO/CD_EFORMAT/CD_EARG/CD_ENOMEM with a
// message naming the file in why (and *l = NULL).
int loader_open(Loader **l, const char *h5_path, int group, const FeederConfig *f,
                int global_batch, int rank, int nranks, uint64_t seed, int shuffle, int drop_last,
                char *why, size_t whylen);
// The same over a subset of the group (cross-validation folds, fold.h): the
// loader's N samples are the dataset indices subset[0..nsub) (copied; each
// within the group, none twice: else CD_EARG), in that order before the
// shuffle; batches, shards and transforms follow the rules above, keyed by
// the dataset index. subset NULL: the whole group (= loader_open).
int loader_open_subset(Loader **l, const char *h5_path, int group, const int64_t *subset, int64_t nsub,
                       const FeederConfig *f, int global_batch, int rank, int nranks, uint64_t seed,
                       int shuffle, int drop_last, char *why, size_t whylen);
void loader_free(Loader *l);   // NULL is fine

int loader_num_batches(const Loader *l);
int64_t loader_num_samples(const Loader *l);   // N: the group's (or the subset's) x repeat
int loader_num_class(const Loader *l);
int loader_max_local(const Loader *l);         // largest n_local of any batch
// Floats of one output sample: C * window * V * M; and its dims.
size_t loader_sample_floats(const Loader *l);
void loader_sample_dims(const Loader *l, int *C, int *window, int *V, int *M);

// Epoch's order (N dataset indices, a sample repeat times) into order[];
// CD_OK or CD_ENOMEM.
int loader_order(Loader *l, int epoch, int64_t *order);

// This rank's part of global batch b of epoch e:
//   x: (n_local, C, window, V, M), label: (n_local), index: (n_local) dataset
//   indices; label and index may be NULL.
// CD_OK, CD_EARG (b out of range), or an I/O error from h5io.
int loader_batch(Loader *l, int epoch, int b, float *x, int32_t *label, int64_t *index,
                 int *n_local);
