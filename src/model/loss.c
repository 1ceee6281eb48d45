// loss.c - softmax cross-entropy, mean over the batch (PyTorch's
// CrossEntropyLoss with integer targets; see layers.h). Numerically stable:
// each row is shifted by its maximum, and the loss of a row is computed as
// logsumexp(z) - z[label] in double rather than -log(prob).
// Labels must lie in [0, K); a row with any other label makes the loss NaN
// (and gets no one-hot term in backward) instead of reading out of bounds.
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "layers.h"

float crossentropy_forward(float *probs, const float *logits, const int32_t *labels, int N, int K) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        float *p = probs + (size_t)n * K;
        float zmax = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > zmax) zmax = z[k];
        double sum = 0;
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - zmax);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - zmax) / sum);
        int y = labels[n];
        if (y < 0 || y >= K) {
            total = NAN;
            continue;
        }
        total += log(sum) - ((double)z[y] - zmax);
    }
    return N > 0 ? (float)(total / N) : 0.0f;
}

void crossentropy_backward(float *dlogits, const float *probs, const int32_t *labels, int N, int K,
                           float dloss) {
    if (N <= 0) return;
    const float s = dloss / (float)N;
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * K;
        float *d = dlogits + (size_t)n * K;
        for (int k = 0; k < K; k++) d[k] += s * p[k];
        int y = labels[n];
        if (y >= 0 && y < K) d[y] -= s;
    }
}
