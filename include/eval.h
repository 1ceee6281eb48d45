// eval.h - sharded evaluation of a CTR-GCN checkpoint on a cocodiff-prep file
// (cocodiff-eval).
//
// The model is built from the checkpoint alone (checkpoint_load_model). The
// group (/test by default) is cut into batches of `batch` consecutive samples
// (deterministic test-mode feeder: p_interval [0.95], the checkpoint config's
// window or 64, no rotation); batch b is evaluated by rank b mod N, so every
// forward pass sees the same samples on any rank count; the model runs in
// inference mode (CTRGCN_INFER: forward-only buffers, BLAS on one thread,
// `threads` threads per rank over the batch's samples), so the scores are
// bit-identical for any number of ranks and threads. Each rank
// writes its rows of DIR/scores.h5 (parallel HDF5, layout in h5io_scores.h) through
// DIR/scores.h5.partial + rename; rank 0 writes DIR/metrics.json and prints a
// summary.
//
// Scores that are not finite (NaN, +-inf) never count as right: NaN compares
// false with everything, so a ranking by comparisons would put it first and
// a broken model would score 100%. cocodiff-eval, -ensemble and -report stop
// with an error naming the file and sample; the trainer's test evaluation
// counts such rows wrong and warns.
//
// defines: EvalOptions, eval_run, eval_parse_stream, eval_row_finite,
//          eval_first_nonfinite, eval_check_finite, eval_argmax, eval_rank_of_label,
//          EvalMetrics, eval_metrics_init/_add/_finish/_free
#pragma once
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

enum {
    EVAL_EXIT_OK = 0,
    EVAL_EXIT_ERROR = 1,   // unreadable files, checkpoint/data mismatch, I/O
    EVAL_EXIT_USAGE = 2,
};

#define EVAL_DEFAULT_BATCH 64
#define EVAL_DEFAULT_WINDOW 64

typedef struct EvalOptions {
    const char *checkpoint;    // HDF5 checkpoint (cocodiff-train's or converted weights)
    const char *data;          // cocodiff-prep HDF5 file
    const char *out_dir;       // created when missing
    const char *stream;        // NULL: the checkpoint's (joint when it records none)
    const char *group;         // "test" (default) or "train"
    const char *class_names;   // NULL: the data file's /class_name, else class ids
    int batch;                 // samples per forward pass (0: EVAL_DEFAULT_BATCH)
    int threads;               // threads per rank (0: 1)
} EvalOptions;

// Collective. Returns an EVAL_EXIT_* code (the same on every rank).
int eval_run(const Dist *d, const EvalOptions *o);

// "joint", "bone", "joint_motion", "bone_motion" (or the official
// feeder_ucla data_path words "motion", "bone motion") -> the feeder's
// flags. CD_OK or CD_EARG.
int eval_parse_stream(const char *stream, int *bone, int *vel);

// 1 when all K scores of a row are finite. logits: (K).
int eval_row_finite(const float *logits, int K);

// The first row of (n, K) scores holding a non-finite value, -1 when none;
// its class into *col when col is not NULL.
int64_t eval_first_nonfinite(const float *logits, int64_t n, int K, int *col);

// CD_OK when every score of (n, K) is finite, else CD_EFORMAT with why
// saying which sample (row i's name at names + i * name_stride, at most
// name_stride bytes), row (row0 + i: the file's), class and value, and a
// HINT on the likely causes.
int eval_check_finite(const float *logits, int64_t n, int K, const char *names, size_t name_stride, int64_t row0,
                      char *why, size_t whylen);

// The predicted class: the first maximum (np.argmax's and torch.max's rule);
// -1 for a row with a non-finite score (never equal to a label). logits: (K).
int eval_argmax(const float *logits, int K);

#define EVAL_RANK_NONFINITE INT_MAX   // no top-k hit for any k

// Position of the true class in the descending order of the scores, ties
// broken by the lower class index first (np.argmax's rule): 0 means the
// prediction (argmax) is right, < 5 a top-5 hit; EVAL_RANK_NONFINITE for a
// row with a non-finite score. logits: (K).
int eval_rank_of_label(const float *logits, int K, int label);

// Accumulated metrics. confusion: (K, K), rows = true class, columns = argmax.
// A row with a non-finite score counts in n and nonfinite, never as correct,
// and not in the confusion matrix (it has no prediction).
typedef struct EvalMetrics {
    int K;
    int64_t n, correct1, correct5, nonfinite;
    int64_t *confusion;    // (K, K)
    int64_t *count;        // (K) samples per true class (filled by _finish)
    double *per_class;     // (K) accuracy, NaN for a class without samples (_finish)
} EvalMetrics;

int eval_metrics_init(EvalMetrics *m, int K);   // CD_OK or CD_ENOMEM
// logits: (n, K); label: (n).
void eval_metrics_add(EvalMetrics *m, const float *logits, const int32_t *label, int n);
// Per-class counts and accuracies from the confusion matrix.
void eval_metrics_finish(EvalMetrics *m);
void eval_metrics_free(EvalMetrics *m);   // NULL is fine
