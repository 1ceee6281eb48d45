// checkpoint.h - CTR-GCN models and training state to and from the HDF5
// checkpoint format of h5io_ckpt.h (one dataset per official state_dict key).
#pragma once
#include <stdint.h>

#include "ctrgcn.h"
#include "h5io_ckpt.h"
#include "optim.h"

typedef struct CheckpointInfo {
    int64_t epoch;         // epochs completed
    int64_t step;          // optimizer steps taken
    int64_t seed;
    char stream[32];       // joint, bone, joint_motion, bone_motion
    const char *config_yaml;
    char builds[512];      // every build that trained the state, oldest first
                           // (the attribute builds; "" when the file has none);
                           // writing: "" leaves it out
    int inference;         // writing: an inference checkpoint (/model and the
                           // attributes; no /rng)
    int loaded, skipped;   // checkpoint_load_into: model tensors taken from the
                           // file, and left out by `ignore`
    int unused;            // tensors of the file's /model the model has no place for
} CheckpointInfo;

// Every checkpoint written also names the build that wrote it (attribute
// build = cli_version()).
// Writes model (and momentum when opt is given) to path atomically, with
// the extra tensor groups after /optimizer (the CoCoDiff module's,
// cdtrain_tensor_groups; none: NULL, 0). Call on one rank.
int checkpoint_save(const char *path, Ctrgcn *m, const OptimSgd *opt, const CheckpointInfo *info,
                    const H5TensorGroup *extra, int nextra);

// Writes an inference checkpoint of a training checkpoint: /model only
// (backbone + head, the same datasets a plain CTR-GCN checkpoint has, bit for
// bit), with the attributes (epoch, step, stream, graph, strides, config);
// no optimizer, no module, no /rng. Call on one rank.
int checkpoint_export(const char *in, const char *out, char *why, size_t whylen);

// The builds that trained a state once `now` trains it further: the
// checkpoint's builds (meta, as read; a file without them: its build, else
// "unrecorded", never a guess), with `now` appended when it is not already
// the last; the oldest are dropped (and "..." put first) when out (n bytes)
// cannot hold them all. Returns 1 when `now` was appended, with the last
// build before it in prev (prevn bytes): a run resumed by another build
// than the one that wrote its checkpoint. 0 otherwise.
int checkpoint_builds_extend(const H5CkptMeta *meta, const char *now, char *out, size_t n, char *prev, size_t prevn);

// Builds the model a checkpoint describes, from the checkpoint alone: classes
// from fc.weight, joints from the PA matrices, persons and channels from
// data_bn, widths from each unit's BatchNorm; strides from the checkpoint's
// attribute, else the official ones. Loads every tensor. info (optional)
// receives epoch, step, seed and stream ("" when absent).
int checkpoint_load_model(const char *path, Ctrgcn **m, CheckpointInfo *info, char *why, size_t whylen);

// A checkpoint read once (the trainer's --resume): its metadata, /model, the
// momentum (with_optimizer) and the extra groups asked for (the module's).
#define CHECKPOINT_MAX_EXTRA 10
typedef struct CheckpointFile {
    char path[4200];
    H5CkptMeta meta;
    H5Tensor *model, *momentum;
    int nmodel, nmomentum, with_optimizer;
    int nextra;
    const char *extra_name[CHECKPOINT_MAX_EXTRA];
    H5Tensor *extra[CHECKPOINT_MAX_EXTRA];
    int nx[CHECKPOINT_MAX_EXTRA];
} CheckpointFile;
// CD_OK, or the h5io error with the reason in why (f is then empty).
int checkpoint_read(CheckpointFile *f, const char *path, int with_optimizer, const char *const *extra, int nextra,
                    char *why, size_t whylen);
// The tensors of one extra group (*n of them), NULL when the file has none.
const H5Tensor *checkpoint_file_group(const CheckpointFile *f, const char *group, int *n);
void checkpoint_file_free(CheckpointFile *f);   // NULL is fine
// checkpoint_load_into's restore from a file already read (the momentum
// when opt is given: f read with_optimizer).
int checkpoint_restore(const CheckpointFile *f, Ctrgcn *m, OptimSgd *opt, const char *const *ignore, int nignore,
                       CheckpointInfo *info, char *why, size_t whylen);

// Loads a checkpoint into an existing model (names, shapes and dtypes must
// match), skipping keys that start with one of `ignore` (CTR-GCN's
// ignore_weights); with opt non-NULL also the momentum buffers and step
// count. info (optional) as above.
int checkpoint_load_into(const char *path, Ctrgcn *m, OptimSgd *opt, const char *const *ignore,
                         int nignore, CheckpointInfo *info, char *why, size_t whylen);
