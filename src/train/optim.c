// optim.c - torch.optim.SGD (momentum, nesterov, weight decay) over one flat
// parameter span, and CTR-GCN's learning-rate schedule. See include/optim.h.
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int optim_sgd_init(OptimSgd *o, size_t n, double momentum, double weight_decay, int nesterov) {
    memset(o, 0, sizeof *o);
    o->buf = cd_calloc(n, sizeof *o->buf);
    if (!o->buf) return CD_ENOMEM;
    o->n = n;
    o->momentum = (float)momentum;
    o->weight_decay = (float)weight_decay;
    o->nesterov = nesterov != 0;
    return CD_OK;
}

// torch computes each tensor op in float32 with the scalar (alpha, momentum,
// -lr) cast to float, and its vectorized CPU kernels (AVX2) fuse "a +
// alpha * b" into one fused multiply-add: fmaf here gives the same single
// rounding, so the result is torch's bit for bit (tests/2210-optim.c). fmaf is
// exactly rounded everywhere; the "fma" clone only makes it an instruction.
// clang before 15 names the dispatcher of a C function "NAME.ifunc" and
// leaves NAME undefined (the SANITIZE=1 build uses clang): no clones there.
#if !defined(__clang__) || __clang_major__ >= 15
__attribute__((target_clones("fma", "default")))
#endif
void optim_sgd_step(OptimSgd *o, float *params, const float *grads, double lr) {
    const float wd = o->weight_decay, m = o->momentum, nlr = (float)-lr;
    float *buf = o->buf;
    const size_t n = o->n;
    const int first = o->steps == 0;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        if (wd != 0.0f) g = fmaf(wd, params[i], g);
        float b;
        if (m != 0.0f) {
            if (first) {
                b = g;
            } else {
                b = buf[i] * m;
                b = b + g;
            }
            buf[i] = b;
            g = o->nesterov ? fmaf(m, b, g) : b;
        }
        params[i] = fmaf(nlr, g, params[i]);
    }
    o->steps++;
}

void optim_sgd_free(OptimSgd *o) {
    if (!o) return;
    free(o->buf);
    memset(o, 0, sizeof *o);
}

double optim_lr(const OptimSchedule *s, int epoch) {
    if (epoch < s->warm_up) return s->base_lr * (epoch + 1) / s->warm_up;
    int k = 0;
    for (int i = 0; i < s->nsteps; i++) k += epoch >= s->steps[i];
    return s->base_lr * pow(s->decay_rate, k);
}
