// h5io.h - the project's HDF5 files (h5io.c is the only file that includes
// hdf5.h). Prepared-skeleton files, one per benchmark split:
//   /            attrs: format="cocodiff-skeletons", format_version, dataset,
//                benchmark, layout, num_joints, num_class, sources
//   /train, /test (Kinetics: val is /test), each with
//     x       float32 (N, 3, 300, V, 2)   the CTR-GCN feeder's (C, T, V, M)
//     label   int32 (N)                    0-based class
//     name    fixed-length string (N)      sample name, sorted ascending
//     frames  int32 (N)                    frames that are not all zero
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

#define H5IO_FORMAT "cocodiff-skeletons"
#define H5IO_FORMAT_VERSION 1

typedef struct H5PrepSpec {
    const char *dataset;     // "ntu60", "ntu120", "kinetics"
    const char *benchmark;   // "ntu60-xsub", ...
    const char *layout;      // skel_layout_name()
    int V;                   // joints
    int num_class;
    int name_len;            // bytes per name, NUL padding included
    int64_t n[2];            // samples in /train and /test
    const char *sources;     // one "sha256  size  path" line per input archive
} H5PrepSpec;

typedef struct H5PrepFile H5PrepFile;

// Collective: creates the file (truncating) with both groups and datasets.
int h5io_prep_create(H5PrepFile **f, const Dist *d, const char *path, const H5PrepSpec *spec);
// Collective: label/frames/names of a whole group, given on every rank
// (rank 0 writes them). names: n * name_len bytes.
int h5io_prep_write_meta(H5PrepFile *f, int group, const int32_t *label, const int32_t *frames,
                         const char *names);
// Independent: one sample, given as (frames, 2, V, 3) rows; the rest of its
// 300 frames are written as zeros.
int h5io_prep_write_sample(H5PrepFile *f, int group, int64_t index, const float *tmvc, int frames);
// Collective: closes; returns the first error any rank saw while writing.
int h5io_prep_close(H5PrepFile *f);

// Readers (serial, any rank), for tests, eval and training.
typedef struct H5PrepInfo {
    char dataset[32], benchmark[32], layout[32];
    int V, num_class, format_version;
    int64_t n[2];
    int name_len;
} H5PrepInfo;
int h5io_prep_info(const char *path, H5PrepInfo *info);
// Reads samples [first, first+count) of a group: x as (count, 3, 300, V, 2);
// any of x/label/frames/names may be NULL. names: count * info.name_len bytes.
int h5io_prep_read(const char *path, int group, int64_t first, int64_t count, float *x,
                   int32_t *label, int32_t *frames, char *names);

// ---------------------------------------------------------------------------
// Text embeddings (cocodiff-embed), one file per dataset:
//   /            attrs: format = "cocodiff-text-embeddings", format_version,
//                encoder, weights (file name), weights_sha256, dim, num_class,
//                descriptions (file name), descriptions_sha256, and for glove
//                sif_a and oov_tokens
//   /coarse      float32 (K, D)      "name. sentence", L2-normalised
//   /fine        float32 (K, 6, D)   head, hand, arm, hip, leg, foot
//   /class_id    int32 (K)           official ids (NTU label = id - 1,
//                                    Kinetics label = id)
//   /class_name  string (K)
//   /part_name   string (6)
//   /sif_pc      float32 (D)         glove only: the removed component
#define H5IO_EMB_FORMAT "cocodiff-text-embeddings"
#define H5IO_EMB_FORMAT_VERSION 1

typedef struct H5EmbedSpec {
    const char *encoder, *weights, *weights_sha256, *descriptions, *descriptions_sha256;
    int K, D, nparts;
    const float *coarse, *fine, *sif_pc;   // sif_pc may be NULL
    const int32_t *class_id;
    const char *const *class_name;
    const char *const *part_name;
    double sif_a;                           // written when sif_pc is given
    int64_t oov_tokens;
} H5EmbedSpec;

// Serial (call on one rank): writes path (truncating). CD_OK or CD_EHDF5.
int h5io_embed_write(const char *path, const H5EmbedSpec *s);

typedef struct H5Embed {
    int K, D, nparts;
    float *coarse, *fine;      // (K, D), (K, nparts, D)
    int32_t *class_id;
    char encoder[64];
} H5Embed;
int h5io_embed_read(const char *path, H5Embed *e);
void h5io_embed_free(H5Embed *e);

// ---------------------------------------------------------------------------
// Checkpoints (serial: one rank writes, any rank reads):
//   /model/<key>              one dataset per PyTorch state_dict key of the
//                             official CTR-GCN, same shape and dtype
//                             (float32; int64 for num_batches_tracked)
//   /optimizer/momentum/<key> SGD momentum buffers of the parameters
//   /rng/seed                 int64: the data order and augmentation are
//                             functions of (seed, epoch, sample index)
//   /                         attrs: format = "cocodiff-checkpoint",
//                             format_version, epoch, step, stream, graph,
//                             strides (int32 list), config (YAML text)
//   /optimizer                attrs: steps, momentum, weight_decay, nesterov
// A file with only /model (e.g. converted from PyTorch weights) is a valid
// checkpoint for evaluation and fine-tuning.
#define H5IO_CKPT_FORMAT "cocodiff-checkpoint"
#define H5IO_CKPT_FORMAT_VERSION 1

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
    int has_optimizer;
    int64_t opt_steps;
    double momentum, weight_decay;
    int nesterov;
} H5CkptMeta;

// Writes PATH.partial, then renames to PATH: never a half-written checkpoint.
int h5io_ckpt_write(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                    const H5Tensor *momentum, int nmomentum);
// Reads every tensor of /model (and /optimizer/momentum when present).
int h5io_ckpt_read(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel,
                   H5Tensor **momentum, int *nmomentum);
const H5Tensor *h5io_tensor_find(const H5Tensor *t, int n, const char *name);
void h5io_tensors_free(H5Tensor *t, int n);
void h5io_ckpt_meta_free(H5CkptMeta *m);
