// h5io_scores.h - evaluation score files (cocodiff-eval's and
// cocodiff-ensemble's DIR/scores.h5). Part of the h5io module
// (src/io/h5io_*.c, the only files that include hdf5.h).
//   /            attrs: format = "cocodiff-scores", format_version, checkpoint,
//                data, group (test | train), stream, window, num_class
//   /scores      float32 (N, K)   raw logits, rows in the data file's order
//   /label       int32 (N)        the data file's labels
//   /name        string (N)       the data file's names (same fixed length)
//   /class_name  string (K)       class names (ids when none were given)
//   /metrics/confusion            int64 (K, K), rows = true class
//   /metrics/per_class_accuracy   float64 (K), NaN for a class without samples
//   /metrics     attrs: top1, top5 (float64), num_samples
// No timestamps: 1 and N ranks write byte-identical files. Written with
// parallel HDF5 (h5io_scores_create/_write_rows/_write_metrics/_close); read
// serially by any process (h5io_scores_read).
//
// defines: H5ScoresSpec, H5ScoresFile, h5io_scores_create/_write_rows/_write_metrics/_close,
//          H5Scores, h5io_scores_read, h5io_scores_free, h5io_scores_name
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

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

// ---------------------------------------------------------------------------
// Reading (serial, any process)

typedef struct H5Scores {
    int64_t n;              // rows (samples)
    int K;                  // classes
    int name_len;           // bytes per name in the file (NUL padding included)
    float *scores;          // (n, K) raw logits
    int32_t *label;         // (n)
    char *names;            // (n, name_len + 1): row i is NUL-terminated
    char **class_names;     // (K) strings; ids ("0", "1", ...) when the file has none
    // Root attributes ("" / 0 when absent).
    char checkpoint[1024], data[1024], group[16], stream[64];
    int window;
    // /metrics attributes, has_metrics = 0 when the group is absent.
    int has_metrics;
    double top1, top5;
} H5Scores;

// Reads the whole file. CD_OK; CD_EIO (cannot open), CD_EFORMAT (not a
// score file, or shapes that disagree; the message names the file and has a
// HINT), CD_ENOMEM. On failure *s is left empty (h5io_scores_free is safe).
int h5io_scores_read(const char *path, H5Scores *s);
void h5io_scores_free(H5Scores *s);   // NULL is fine

// Row i's sample name (NUL-terminated).
static inline const char *h5io_scores_name(const H5Scores *s, int64_t i) {
    return s->names + (size_t)i * (size_t)(s->name_len + 1);
}
