// layer_gelu.c - the denoiser's elementwise activations (see tlayers.h): GELU
// in PyTorch's exact erf form and SiLU. Both backward passes use the saved
// input and accumulate into dx.
#include <math.h>
#include <stddef.h>

#include "tlayers.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

void gelu_forward(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT2));
}

// d gelu / dx = Phi(x) + x phi(x), Phi the normal CDF, phi its density
void gelu_backward(float *dx, const float *dout, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * v * v);
        dx[i] += dout[i] * (cdf + v * pdf);
    }
}

// sigmoid(x) = 1 / (1 + exp(-x)): exp overflows to inf for x < -88, giving 0
static float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

void silu_forward(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] * sigmoidf(x[i]);
}

// d silu / dx = s (1 + x (1 - s)), s = sigmoid(x)
void silu_backward(float *dx, const float *dout, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = sigmoidf(x[i]);
        dx[i] += dout[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
