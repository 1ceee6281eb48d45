// diversity.c - spread and class fidelity of generated features (see
// diversity.h). Sums in double, classes and samples in a fixed order, so the
// figures do not depend on how the features were computed across ranks.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diversity.h"
#include "status.h"

static double dist2(const float *a, const float *b, int C) {
    double s = 0;
    for (int c = 0; c < C; c++) {
        double e = (double)a[c] - b[c];
        s += e * e;
    }
    return s;
}

int diversity_head_argmax(const float *x, const float *w, const float *b, int C, int K) {
    int best = 0;
    double bv = -INFINITY;
    for (int k = 0; k < K; k++) {
        double s = b[k];
        for (int c = 0; c < C; c++) s += (double)w[(size_t)k * C + c] * x[c];
        if (s > bv) { bv = s; best = k; }
    }
    return best;
}

// Mean pairwise distance and covariance trace of the rows idx[0..m) of x.
static void spread(const float *x, const int64_t *idx, int64_t m, int C, double *mean, double *pdist,
                   double *trace) {
    memset(mean, 0, (size_t)C * sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int c = 0; c < C; c++) mean[c] += x[(size_t)idx[i] * C + c];
    for (int c = 0; c < C; c++) mean[c] /= (double)m;
    double tr = 0, pd = 0;
    for (int64_t i = 0; i < m; i++)
        for (int c = 0; c < C; c++) {
            double e = x[(size_t)idx[i] * C + c] - mean[c];
            tr += e * e;
        }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) pd += sqrt(dist2(x + (size_t)idx[i] * C, x + (size_t)idx[j] * C, C));
    *trace = tr / (double)(m - 1);
    *pdist = pd / ((double)m * (double)(m - 1) / 2.0);
}

int diversity_measure(const float *real, const float *gen, const int32_t *labels, int64_t n, int C, int K,
                      const float *head_w, const float *head_b, DiversityStats *out) {
    memset(out, 0, sizeof *out);
    if (!real || !gen || !labels || !head_w || !head_b || n < 1 || C < 1 || K < 1) {
        CD_ERR("diversity: need real and generated features, labels and the head (n %lld, C %d, K %d)",
               (long long)n, C, K);
        return CD_EARG;
    }
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= K) {
            CD_ERR("diversity: label %d of sample %lld is outside [0, %d)", (int)labels[i], (long long)i, K);
            return CD_EARG;
        }
    int64_t *idx = cd_malloc((size_t)n * sizeof *idx), *start = cd_calloc((size_t)K + 1, sizeof *start);
    double *cent = cd_calloc((size_t)K * C, sizeof *cent), *mean = cd_malloc((size_t)C * sizeof *mean);
    if (!idx || !start || !cent || !mean) {
        free(idx); free(start); free(cent); free(mean);
        return CD_ENOMEM;
    }
    // samples grouped by class, in index order (counting sort)
    for (int64_t i = 0; i < n; i++) start[labels[i] + 1]++;
    for (int k = 0; k < K; k++) start[k + 1] += start[k];
    int64_t *fill = cd_malloc((size_t)K * sizeof *fill);
    if (!fill) { free(idx); free(start); free(cent); free(mean); return CD_ENOMEM; }
    memcpy(fill, start, (size_t)K * sizeof *fill);
    for (int64_t i = 0; i < n; i++) idx[fill[labels[i]]++] = i;
    free(fill);

    out->n = n;
    for (int k = 0; k < K; k++) {
        int64_t m = start[k + 1] - start[k];
        if (m == 0) continue;
        double pd, tr;
        if (m >= 2) {
            spread(gen, idx + start[k], m, C, mean, &pd, &tr);
            out->gen_pdist += pd;
            out->gen_trace += tr;
        }
        spread(real, idx + start[k], m, C, mean, &pd, &tr);   // mean: the real centroid
        memcpy(cent + (size_t)k * C, mean, (size_t)C * sizeof *mean);
        if (m >= 2) {
            out->real_pdist += pd;
            out->real_trace += tr;
            out->classes++;
        }
    }
    if (out->classes) {
        out->real_pdist /= out->classes;
        out->gen_pdist /= out->classes;
        out->real_trace /= out->classes;
        out->gen_trace /= out->classes;
    }
    int64_t rh = 0, gh = 0, own = 0;
    double rc = 0, gc = 0, gs = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *r = real + (size_t)i * C, *g = gen + (size_t)i * C;
        const double *ck = cent + (size_t)labels[i] * C;
        rh += diversity_head_argmax(r, head_w, head_b, C, K) == labels[i];
        gh += diversity_head_argmax(g, head_w, head_b, C, K) == labels[i];
        double dr = 0, dg = 0;
        for (int c = 0; c < C; c++) {
            dr += (r[c] - ck[c]) * (r[c] - ck[c]);
            dg += (g[c] - ck[c]) * (g[c] - ck[c]);
        }
        rc += sqrt(dr);
        gc += sqrt(dg);
        gs += sqrt(dist2(r, g, C));
        int best = -1;
        double bd = INFINITY;
        for (int k = 0; k < K; k++) {
            if (start[k + 1] == start[k]) continue;   // no real sample: no centroid
            double s = 0;
            for (int c = 0; c < C; c++) {
                double e = g[c] - cent[(size_t)k * C + c];
                s += e * e;
            }
            if (s < bd) { bd = s; best = k; }
        }
        own += best == labels[i];
    }
    out->real_head_top1 = (double)rh / (double)n;
    out->gen_head_top1 = (double)gh / (double)n;
    out->gen_nearest_own = (double)own / (double)n;
    out->real_to_centroid = rc / (double)n;
    out->gen_to_centroid = gc / (double)n;
    out->gen_to_source = gs / (double)n;
    free(idx); free(start); free(cent); free(mean);
    return CD_OK;
}
