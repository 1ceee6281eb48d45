// h5io_ckpt.h - checkpoint files (serial: one rank writes, any rank reads).
// Part of the h5io module (src/io/h5io_*.c, the only files that include
// hdf5.h); checkpoint.h maps them onto the model and optimizer.
//   /model/<key>              one dataset per PyTorch state_dict key of the
//                             official CTR-GCN, same shape and dtype
//                             (float32; int64 for num_batches_tracked)
//   /optimizer/momentum/<key> SGD momentum buffers of the parameters
//   /rng/seed                 int64: the data order and augmentation are
//                             functions of (seed, epoch, sample index)
//   /                         attrs: format = "cocodiff-checkpoint",
//                             format_version, epoch, step, stream, graph,
//                             strides (int32 list), config (YAML text);
//                             build, builds (optional: see H5CkptMeta)
//   /optimizer                attrs: steps, momentum, weight_decay, nesterov
// A file with only /model (e.g. converted from PyTorch weights) is a valid
// checkpoint for evaluation and fine-tuning.
//
// defines: H5Tensor, H5CkptMeta, H5TensorGroup, h5io_ckpt_write(_groups),
//          h5io_ckpt_read(_group), h5io_ckpt_read_config, h5io_tensor_find,
//          h5io_tensors_free, h5io_ckpt_meta_free
#pragma once
#include <stddef.h>
#include <stdint.h>

#define H5IO_CKPT_FORMAT "cocodiff-checkpoint"
#define H5IO_CKPT_FORMAT_VERSION 1
// The most elements a tensor may have (a bound checked before allocating).
#define H5IO_CKPT_MAX_NUMEL (1LL << 30)

typedef struct H5Tensor {
    char name[128];
    int dtype;          // 0 float32, 1 int64
    int ndim;
    int64_t shape[8];
    size_t numel;
    void *data;         // owned when read by h5io
} H5Tensor;

typedef struct H5CkptMeta {
    int has_meta;       // the attributes below were present
    int64_t epoch, step, seed;
    char stream[32], graph[32];
    int nstrides;
    int32_t strides[16];
    char *config_yaml;  // owned when read (may be NULL)
    // The builds (cli_version: "0.1.0+gabc1234[-dirty]") behind the state,
    // owned when read, NULL when absent (files from before they were kept,
    // or converted ones); written only when set. build: the program that
    // wrote the file; builds: every build that trained the state, oldest
    // first, separated by spaces (checkpoint.h checkpoint_builds_extend).
    char *build, *builds;
    int has_optimizer;
    int64_t opt_steps;
    double momentum, weight_decay;
    int nesterov;
    int no_rng;         // writing: leave /rng out (inference checkpoints)
} H5CkptMeta;

// Writes PATH.partial, then renames to PATH: never a half-written checkpoint.
int h5io_ckpt_write(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                    const H5Tensor *momentum, int nmomentum);

// Extra tensor groups of a checkpoint (the CoCoDiff module's parameters in
// /cocodiff and their momentum in /optimizer/cocodiff_momentum). group is a
// '/'-separated path below the root; missing groups on the way are created.
typedef struct H5TensorGroup {
    const char *group;
    const H5Tensor *t;
    int n;
} H5TensorGroup;
// h5io_ckpt_write plus the extra groups (written after /optimizer). With
// meta->no_rng the /rng group is left out (an inference checkpoint).
int h5io_ckpt_write_groups(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                           const H5Tensor *momentum, int nmomentum, const H5TensorGroup *groups, int ngroups);
// Every tensor of one group (e.g. "cocodiff", "optimizer/cocodiff_momentum").
// CD_OK; CD_EFORMAT when the group is missing (*t = NULL, *n = 0, no
// message); CD_EIO when the file cannot be opened.
int h5io_ckpt_read_group(const char *path, const char *group, H5Tensor **t, int *n);
// Reads every tensor of /model (and /optimizer/momentum when present).
int h5io_ckpt_read(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel,
                   H5Tensor **momentum, int *nmomentum);
// h5io_ckpt_read plus nextra groups in the same open: group extra[k] into
// xt[k], xn[k] (NULL, 0 when the file has no such group).
int h5io_ckpt_read_all(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel, H5Tensor **momentum,
                       int *nmomentum, const char *const *extra, int nextra, H5Tensor **xt, int *xn);
const H5Tensor *h5io_tensor_find(const H5Tensor *t, int n, const char *name);
void h5io_tensors_free(H5Tensor *t, int n);
void h5io_ckpt_meta_free(H5CkptMeta *m);

// Checkpoint metadata without the tensors (cheap): the config attribute (YAML
// text, malloc'ed into *yaml, NULL when absent). CD_OK (also when absent),
// CD_EIO when the file cannot be opened, CD_EFORMAT when the attribute is
// there but not one string (said: a damaged file never means "no config").
int h5io_ckpt_read_config(const char *path, char **yaml);
