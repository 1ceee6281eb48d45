// diversity.h - how much the CoCoDiff module's generated features add:
// within-class spread of generated vs real features and how far the
// generated ones stay from their class (issue "CoCoDiff module", proof that
// it works). Pure computation over feature matrices; the trainer feeds it.
#pragma once
#include <stdint.h>

typedef struct DiversityStats {
    int64_t n;                // samples (one generated feature per real one)
    int classes;              // classes with >= 2 samples (the spread averages)
    // mean over classes of the within-class mean pairwise Euclidean distance
    double real_pdist, gen_pdist;
    // mean over classes of the within-class covariance trace (sum of the
    // per-dimension variances, 1/(n_k - 1))
    double real_trace, gen_trace;
    // the backbone's frozen FC head on the features (top-1 vs the true class)
    double real_head_top1, gen_head_top1;
    // fraction of generated features whose nearest real class centroid is
    // their own class's
    double gen_nearest_own;
    // mean distance to the own class's real centroid
    double real_to_centroid, gen_to_centroid;
    // mean distance of a generated feature to the real feature it started from
    double gen_to_source;
} DiversityStats;

// real, gen: (n, C); labels: (n) in [0, K); head_w (K, C), head_b (K).
// Returns CD_OK, CD_EARG (bad sizes or labels) or CD_ENOMEM.
int diversity_measure(const float *real, const float *gen, const int32_t *labels, int64_t n, int C, int K,
                      const float *head_w, const float *head_b, DiversityStats *out);

// The class a linear head (w (K, C), b (K)) gives feature x (C): the first
// maximum of w x + b, summed in double. The frozen head's verdict on a real
// or generated feature (here, conditioning.h, cocodiff-frozen).
int diversity_head_argmax(const float *x, const float *w, const float *b, int C, int K);

