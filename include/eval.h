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
// The metrics follow metrics.h (the rules every stage shares): a sample with
// a non-finite score stops cocodiff-eval with an error naming it.
//
// defines: EvalOptions, eval_run
#pragma once
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

#define EVAL_MAX_TOPK 16   // show_topk entries

typedef struct EvalOptions {
    const char *checkpoint;    // HDF5 checkpoint (cocodiff-train's or converted weights)
    const char *data;          // cocodiff-prep HDF5 file
    const char *out_dir;       // created when missing
    const char *stream;        // NULL: the checkpoint's (joint when it records none)
    const char *group;         // "test" (default) or "train"
    const char *class_names;   // NULL: the data file's /class_name, else class ids
    int batch;                 // samples per forward pass (0: EVAL_DEFAULT_BATCH)
    int threads;               // threads per rank (0: 1)
    int window;                // frames (0: the checkpoint config's test window, else the layout's)
    const int *topk;           // show_topk: the k to print besides top-1 and top-5 (ntopk of them)
    int ntopk;
} EvalOptions;

// Collective. Returns an EVAL_EXIT_* code (the same on every rank).
int eval_run(const Dist *d, const EvalOptions *o);
