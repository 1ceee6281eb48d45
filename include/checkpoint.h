// checkpoint.h - CTR-GCN models and training state to and from the HDF5
// checkpoint format of h5io_ckpt.h (one dataset per official state_dict key).
#pragma once
#include <stdint.h>

#include "cocodiff.h"
#include "ctrgcn.h"
#include "optim.h"

typedef struct CheckpointInfo {
    int64_t epoch;         // epochs completed
    int64_t step;          // optimizer steps taken
    int64_t seed;
    char stream[32];       // joint, bone, joint_motion, bone_motion
    const char *config_yaml;
    int inference;         // writing: an inference checkpoint (/model and the
                           // attributes; no /rng)
} CheckpointInfo;

// Writes model (and momentum when opt is given) to path atomically. Call on
// one rank.
int checkpoint_save(const char *path, Ctrgcn *m, const OptimSgd *opt, const CheckpointInfo *info);

// checkpoint_save plus the CoCoDiff module (training only): its parameters
// as /cocodiff/<name> (the names of its table, "cocodiff.enc.weight", ...)
// and, with cd_opt, its optimizer's state buffers as
// /optimizer/cocodiff_<buffer>/<name> (SGD: momentum; AdamW: adam_m, adam_v).
// cd NULL: checkpoint_save.
int checkpoint_save_module(const char *path, Ctrgcn *m, const OptimSgd *opt, const CheckpointInfo *info,
                           Cocodiff *cd, const OptimModule *cd_opt);

// Restores the module's parameters (and with cd_opt non-NULL its optimizer's
// buffers; the step count is left to the caller) from a checkpoint_save_module file.
// Every tensor of the module's table must be there with its size.
// CD_OK, or CD_EFORMAT / CD_EIO with the reason in why.
int checkpoint_load_module(const char *path, Cocodiff *cd, OptimModule *cd_opt, char *why, size_t whylen);

// Writes an inference checkpoint of a training checkpoint: /model only
// (backbone + head, the same datasets a plain CTR-GCN checkpoint has, bit for
// bit), with the attributes (epoch, step, stream, graph, strides, config);
// no optimizer, no module, no /rng. Call on one rank.
int checkpoint_export(const char *in, const char *out, char *why, size_t whylen);

// Builds the model a checkpoint describes, from the checkpoint alone: classes
// from fc.weight, joints from the PA matrices, persons and channels from
// data_bn, widths from each unit's BatchNorm; strides from the checkpoint's
// attribute, else the official ones. Loads every tensor. info (optional)
// receives epoch, step, seed and stream ("" when absent).
int checkpoint_load_model(const char *path, Ctrgcn **m, CheckpointInfo *info, char *why, size_t whylen);

// Loads a checkpoint into an existing model (names, shapes and dtypes must
// match), skipping keys that start with one of `ignore` (CTR-GCN's
// ignore_weights); with opt non-NULL also the momentum buffers and step
// count. info (optional) as above.
int checkpoint_load_into(const char *path, Ctrgcn *m, OptimSgd *opt, const char *const *ignore,
                         int nignore, CheckpointInfo *info, char *why, size_t whylen);
