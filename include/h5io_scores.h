// h5io_scores.h - reading score files (cocodiff-eval's and cocodiff-ensemble's
// DIR/scores.h5, layout in h5io.h "Evaluation scores"). Part of the h5io
// module: h5io_scores.c and h5io.c are the only files that include hdf5.h.
// Files are written with h5io_scores_create/_write_rows/_write_metrics/_close
// (h5io.h); this is the serial reader for any process.
//
// defines: H5Scores, h5io_scores_read, h5io_scores_free, h5io_scores_name
#pragma once
#include <stddef.h>
#include <stdint.h>

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
