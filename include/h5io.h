// h5io.h - the project's HDF5 files (h5io.c is the only file that includes
// hdf5.h). Prepared-skeleton files, one per benchmark split:
//   /            attrs: format="cocodiff-skeletons", format_version, dataset,
//                benchmark, layout, num_joints, num_class, sources
//   /train, /test (Kinetics: val is /test), each with
//     x       float32 (N, 3, 300, V, 2)   the CTR-GCN feeder's (C, T, V, M)
//     label   int32 (N)                    0-based class
//     name    fixed-length string (N)      sample name, sorted ascending
//     frames  int32 (N)                    frames that are not all zero (a count,
//                                          not a length: Kinetics clips have gaps)
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
// Independent: one sample, given as its first `span` (T, M, V, C) frames
// (skel_span: a length, never the count of non-empty frames); the rest of
// its 300 frames are written as zeros.
int h5io_prep_write_sample(H5PrepFile *f, int group, int64_t index, const float *tmvc, int span);
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
const H5Tensor *h5io_tensor_find(const H5Tensor *t, int n, const char *name);
void h5io_tensors_free(H5Tensor *t, int n);
void h5io_ckpt_meta_free(H5CkptMeta *m);

// ---------------------------------------------------------------------------
// Checkpoint metadata without the tensors (cheap): the config attribute (YAML
// text, malloc'ed into *yaml, NULL when absent). CD_OK (also when absent) or
// CD_EIO when the file cannot be opened.
int h5io_ckpt_read_config(const char *path, char **yaml);

// Class names a prep file may carry as /class_name (K fixed-length strings).
// *names = K malloc'ed strings (free with h5io_strings_free) and *n = K;
// *names = NULL and *n = 0 when the file has none. CD_OK or CD_EIO/CD_EFORMAT.
int h5io_prep_class_names(const char *path, char ***names, int *n);
void h5io_strings_free(char **v, int n);

// ---------------------------------------------------------------------------
// Evaluation scores (cocodiff-eval), written with parallel HDF5:
//   /            attrs: format = "cocodiff-scores", format_version, checkpoint,
//                data, group (test | train), stream, window, num_class
//   /scores      float32 (N, K)   raw logits, rows in the data file's order
//   /label       int32 (N)        the data file's labels
//   /name        string (N)       the data file's names (same fixed length)
//   /class_name  string (K)       class names (ids when none were given)
//   /metrics/confusion            int64 (K, K), rows = true class
//   /metrics/per_class_accuracy   float64 (K), NaN for a class without samples
//   /metrics     attrs: top1, top5 (float64), num_samples
// No timestamps: 1 and N ranks write byte-identical files.
#define H5IO_SCORES_FORMAT "cocodiff-scores"
#define H5IO_SCORES_FORMAT_VERSION 1

typedef struct H5ScoresSpec {
    int64_t n;               // rows (samples)
    int K;                   // classes
    int name_len;            // bytes per name (the data file's)
    int window;
    const char *checkpoint, *data, *group, *stream;
} H5ScoresSpec;

typedef struct H5ScoresFile H5ScoresFile;

// Collective: creates path (truncating) with every dataset allocated. On
// failure *f = NULL and nothing is left open; the caller agrees on the
// outcome (dist_agree) before going on.
int h5io_scores_create(H5ScoresFile **f, const Dist *d, const char *path, const H5ScoresSpec *s);
// Independent: rows [first, first + count): scores (count, K), labels, names
// (count * name_len bytes).
int h5io_scores_write_rows(H5ScoresFile *f, int64_t first, int64_t count, const float *scores,
                           const int32_t *label, const char *names);
// Collective, the same arguments on every rank: class names (K strings),
// confusion (K, K), per-class accuracy (K) and the summary attributes.
int h5io_scores_write_metrics(H5ScoresFile *f, const char *const *class_names, const int64_t *confusion,
                              const double *per_class, double top1, double top5);
// Collective: closes; returns the first error any rank saw.
int h5io_scores_close(H5ScoresFile *f);
