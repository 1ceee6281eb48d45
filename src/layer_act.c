// layer_act.c - elementwise activations (see layers.h): ReLU and tanh. Their
// backward passes use the saved output, and accumulate into dx.
#include <math.h>
#include <stddef.h>

#include "layers.h"

void relu_forward(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// out > 0 exactly where x > 0, so the saved output gives the mask.
void relu_backward(float *dx, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void tanh_forward(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(x[i]);
}

// d tanh(x) / dx = 1 - tanh(x)^2
void tanh_backward(float *dx, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dout[i] * (1.0f - out[i] * out[i]);
}
