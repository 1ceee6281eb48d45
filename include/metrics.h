// metrics.h - classification metrics with one set of rules for every stage
// (the trainer's batches and test evaluation, cocodiff-eval,
// cocodiff-ensemble, cocodiff-report): top-k by the rank of the true class,
// per-class accuracy and the confusion matrix.
//
// The rules: the prediction is the first maximum (np.argmax's and
// torch.max's); the true class's rank counts the classes scored above it and
// those tied with it at a lower index, so rank 0 is exactly "the prediction
// is right" and rank < k a top-k hit. Scores that are not finite (NaN,
// +-inf) never count as right: NaN compares false with everything, so a
// ranking by comparisons would put it first and a broken model would score
// 100%. Such a row counts in n and nonfinite, never as correct, and not in
// the confusion matrix (it has no prediction); cocodiff-eval, -ensemble and
// -report stop with an error naming the file and sample (metrics_check_finite).
//
//   Metrics m;
//   metrics_init(&m, K);
//   metrics_add(&m, logits, labels, n);   // as often as needed
//   (sum n, correct1, correct5, nonfinite and confusion over the ranks)
//   metrics_finish(&m);                    // per-class counts and accuracy
//   metrics_free(&m);
//
// defines: Metrics, metrics_init/_add/_finish/_free, metrics_row_finite,
//          metrics_first_nonfinite, metrics_check_finite, metrics_argmax, metrics_rank
#pragma once
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

// 1 when all K scores of a row are finite. logits: (K).
int metrics_row_finite(const float *logits, int K);

// The first row of (n, K) scores holding a non-finite value, -1 when none;
// its class into *col when col is not NULL.
int64_t metrics_first_nonfinite(const float *logits, int64_t n, int K, int *col);

// CD_OK when every score of (n, K) is finite, else CD_EFORMAT with why
// saying which sample (row i's name at names + i * name_stride, at most
// name_stride bytes), row (row0 + i: the file's), class and value, and a
// HINT on the likely causes.
int metrics_check_finite(const float *logits, int64_t n, int K, const char *names, size_t name_stride,
                         int64_t row0, char *why, size_t whylen);

// The predicted class: the first maximum; -1 for a row with a non-finite
// score (never equal to a label). logits: (K).
int metrics_argmax(const float *logits, int K);

#define METRICS_RANK_NONFINITE INT_MAX   // no top-k hit for any k

// Position of the true class in the descending order of the scores, ties
// broken by the lower class index first: 0 means the prediction (argmax) is
// right, < 5 a top-5 hit; METRICS_RANK_NONFINITE for a row with a
// non-finite score. logits: (K).
int metrics_rank(const float *logits, int K, int label);

// Accumulated metrics. confusion: (K, K), rows = true class, columns = argmax.
typedef struct Metrics {
    int K;
    int64_t n, correct1, correct5, nonfinite;
    int64_t *confusion;    // (K, K)
    int64_t *count;        // (K) samples per true class (filled by _finish)
    double *per_class;     // (K) accuracy, NaN for a class without samples (_finish)
} Metrics;

int metrics_init(Metrics *m, int K);   // CD_OK or CD_ENOMEM
// logits: (n, K); label: (n).
void metrics_add(Metrics *m, const float *logits, const int32_t *label, int64_t n);
// Per-class counts and accuracies from the confusion matrix.
void metrics_finish(Metrics *m);
void metrics_free(Metrics *m);   // NULL is fine
