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
size_t optim_sgd_update(const OptimSgd *o, float *params, const float *grads, double lr, size_t i0, size_t i1) {
    const float wd = o->weight_decay, m = o->momentum, nlr = (float)-lr;
    float *buf = o->buf;
    const int first = o->steps == 0;
    size_t bad = 0;
    for (size_t i = i0; i < i1; i++) {
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
        const float p = fmaf(nlr, g, params[i]);
        params[i] = p;
        bad += !isfinite(p);
    }
    return bad;
}

size_t optim_sgd_step(OptimSgd *o, float *params, const float *grads, double lr) {
    size_t bad = optim_sgd_update(o, params, grads, lr, 0, o->n);
    optim_sgd_count(o);
    return bad;
}

void optim_sgd_count(OptimSgd *o) { o->steps++; }

void optim_sgd_range(void *share, size_t i0, size_t i1) {
    OptimSgdShare *a = share;
    size_t bad = optim_sgd_update(a->opt, a->params, a->grads, a->lr, i0, i1);
    if (bad) atomic_fetch_add(&a->nonfinite, bad);
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


int optim_adam_init(OptimAdam *o, size_t n, double beta1, double beta2, double eps, double weight_decay) {
    memset(o, 0, sizeof *o);
    o->m = cd_calloc(n ? n : 1, sizeof *o->m);
    o->v = cd_calloc(n ? n : 1, sizeof *o->v);
    if (!o->m || !o->v) { optim_adam_free(o); return CD_ENOMEM; }
    o->n = n;
    o->beta1 = (float)beta1;
    o->beta2 = (float)beta2;
    o->eps = (float)eps;
    o->weight_decay = (float)weight_decay;
    return CD_OK;
}

// torch.optim.AdamW (amsgrad off): decoupled decay p *= 1 - lr wd, then
// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps), t = steps + 1.
void optim_adam_step(OptimAdam *o, float *params, const float *grads, double lr) {
    const double t = (double)(o->steps + 1);
    const float b1 = o->beta1, b2 = o->beta2, c1 = 1.0f - b1, c2 = 1.0f - b2;
    const float step = (float)(lr / (1.0 - pow(o->beta1, t))), bc2 = (float)sqrt(1.0 - pow(o->beta2, t));
    const float decay = (float)(1.0 - lr * o->weight_decay), eps = o->eps;
    for (size_t i = 0; i < o->n; i++) {
        float g = grads[i];
        o->m[i] = b1 * o->m[i] + c1 * g;
        o->v[i] = b2 * o->v[i] + c2 * g * g;
        params[i] = params[i] * decay - step * o->m[i] / (sqrtf(o->v[i]) / bc2 + eps);
    }
    o->steps++;
}

void optim_adam_free(OptimAdam *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}
