// layer_temb.c - sinusoidal timestep embedding (see tlayers.h), as DDPM and
// diffusers' get_timestep_embedding (flip_sin_to_cos=False,
// downscale_freq_shift=1, scale=1, max_period=10000) compute it in float32:
//   exponent_i = -ln(max_period) * i / (half - 1);  freq_i = exp(exponent_i)
//   arg = float(t) * freq_i;  out = [sin(arg_0..), cos(arg_0..)] (+ a 0 if dim is odd)
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "tlayers.h"

// out: (B, dim); t: (B)
void temb_forward(float *out, const int32_t *t, int B, int dim) {
    int half = dim / 2;
    // math.log(max_period) in double, then float32 like the tensor it scales
    float lnp = (float)log((double)TEMB_MAX_PERIOD), div = (float)(half - 1);
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * dim;
        float tb = (float)t[b];
        for (int i = 0; i < half; i++) {
            float e = (-lnp * (float)i) / div;   // torch: (-ln p * arange) / (half - shift)
            float arg = tb * expf(e);
            o[i] = sinf(arg);
            o[half + i] = cosf(arg);
        }
        if (dim % 2) o[dim - 1] = 0.0f;
    }
}
