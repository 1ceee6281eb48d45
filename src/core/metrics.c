// metrics.c - top-k, per-class accuracy and confusion with one set of rules
// (see metrics.h).
#include "metrics.h"
#include "status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int metrics_row_finite(const float *l, int K) {
    for (int k = 0; k < K; k++)
        if (!isfinite(l[k])) return 0;
    return 1;
}

int64_t metrics_first_nonfinite(const float *l, int64_t n, int K, int *col) {
    for (int64_t i = 0; i < n; i++) {
        const float *row = l + (size_t)i * (size_t)K;
        if (metrics_row_finite(row, K)) continue;
        if (col) {
            *col = 0;
            while (isfinite(row[*col])) ++*col;
        }
        return i;
    }
    return -1;
}

int metrics_check_finite(const float *l, int64_t n, int K, const char *names, size_t stride, int64_t row0, char *why,
                      size_t whylen) {
    int col = 0;
    int64_t i = metrics_first_nonfinite(l, n, K, &col);
    if (i < 0) return CD_OK;
    const char *name = names + (size_t)i * stride;
    return cd_why(why, whylen, CD_EFORMAT, "non-finite score %g for class %d of sample %.*s (row %lld) (HINT: NaN "
                  "or infinite weights or batch-norm statistics in the checkpoint that scored it, or values in "
                  "the sample)", l[(size_t)i * K + col], col, (int)strnlen(name, stride), name, (long long)(row0 + i));
}

int metrics_argmax(const float *l, int K) {
    if (!metrics_row_finite(l, K)) return -1;
    int best = 0;
    for (int k = 1; k < K; k++) if (l[k] > l[best]) best = k;
    return best;
}

int metrics_rank(const float *l, int K, int label) {
    if (!metrics_row_finite(l, K)) return METRICS_RANK_NONFINITE;
    const float own = l[label];
    int r = 0;
    for (int k = 0; k < K; k++) r += l[k] > own || (l[k] == own && k < label);
    return r;
}

int metrics_init(Metrics *m, int K) {
    memset(m, 0, sizeof *m);
    m->K = K;
    m->confusion = cd_calloc((size_t)K * K, sizeof *m->confusion);
    m->count = cd_calloc((size_t)K, sizeof *m->count);
    m->per_class = cd_calloc((size_t)K, sizeof *m->per_class);
    if (!m->confusion || !m->count || !m->per_class) {
        metrics_free(m);
        return CD_ENOMEM;
    }
    return CD_OK;
}

void metrics_add(Metrics *m, const float *logits, const int32_t *label, int64_t n) {
    const int K = m->K;
    for (int64_t i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int best = metrics_argmax(l, K);
        int r = metrics_rank(l, K, label[i]);
        if (best < 0) m->nonfinite++;
        else m->confusion[(size_t)label[i] * K + best]++;
        m->correct1 += r == 0;
        m->correct5 += r < 5;
        m->n++;
    }
}

void metrics_finish(Metrics *m) {
    const int K = m->K;
    for (int k = 0; k < K; k++) {
        int64_t c = 0;
        for (int j = 0; j < K; j++) c += m->confusion[(size_t)k * K + j];
        m->count[k] = c;
        m->per_class[k] = c ? (double)m->confusion[(size_t)k * K + k] / (double)c : NAN;
    }
}

void metrics_free(Metrics *m) {
    if (!m) return;
    free(m->confusion);
    free(m->count);
    free(m->per_class);
    memset(m, 0, sizeof *m);
}

