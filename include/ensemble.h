// ensemble.h - stream ensemble of score files (cocodiff-ensemble).
//
// CTR-GCN's ensemble.py: the fused score of a sample is the weighted sum of
// the streams' raw scores (logits), sum_s w_s * scores_s; the prediction is
// its argmax. The inputs must list the same samples in the same order (names
// and labels row by row) with the same class count. Writes DIR/scores.h5 (the
// cocodiff-eval layout, h5io_scores.h) and DIR/metrics.json (eval's keys plus
// "streams": each input's path, stream, weight, top-1 and top-5), both
// through .partial + rename, and prints a table.
//
// defines: EnsembleOptions, ensemble_run, ensemble_default_weights,
//          ensemble_parse_weights, ensemble_fuse, ensemble_check_rows
#pragma once
#include <stddef.h>

#include "dist.h"
#include "h5io_scores.h"

enum {
    ENSEMBLE_EXIT_OK = 0,
    ENSEMBLE_EXIT_ERROR = 1,   // unreadable or disagreeing inputs, I/O
    ENSEMBLE_EXIT_USAGE = 2,
};

#define ENSEMBLE_MAX_STREAMS 16

typedef struct EnsembleOptions {
    const char *scores[ENSEMBLE_MAX_STREAMS];   // input score files
    int nstreams;
    const double *weights;   // (nstreams), NULL: ensemble_default_weights
    const char *out_dir;     // created when missing
} EnsembleOptions;

// Weights when none are given, from the streams the inputs record (their
// score files' stream attribute): when they are all the streams that have a
// weight (stream.h), each once, every stream's weight (CTR-GCN's ensemble.py: joint 0.6, bone
// 0.6, joint motion 0.4, bone motion 0.4); else 1 each. w: (n).
void ensemble_default_weights(const char *const *streams, int n, double *w);

// "0.6,0.6,0.4,0.4" -> w (at most max values, each finite). CD_OK or CD_EARG
// (why says what is wrong).
int ensemble_parse_weights(const char *s, double *w, int max, int *n, char *why, size_t whylen);

// out = sum_s w[s] * in[s], accumulated in double. in: nstreams x (nk), out: (nk).
void ensemble_fuse(float *out, const float *const *in, const double *w, int nstreams, size_t nk);

// b agrees with a (same K and rows, names and labels equal row by row).
// CD_OK or CD_EFORMAT with why naming both files and the first differing row.
int ensemble_check_rows(const H5Scores *a, const char *apath, const H5Scores *b, const char *bpath, char *why,
                        size_t whylen);

// Returns an ENSEMBLE_EXIT_* code (the same on every rank).
int ensemble_run(const Dist *d, const EnsembleOptions *o);
