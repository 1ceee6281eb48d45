// cdoptim.c - the CoCoDiff module's optimizer (see cdoptim.h).
#include "cdoptim.h"

#include <stdio.h>
#include <string.h>

#include "status.h"

int cdoptim_init(CdOptim *o, const Cocodiff *m, double base_lr, double momentum, double weight_decay, int nesterov) {
    memset(o, 0, sizeof *o);
    const CocodiffConfig *c = cocodiff_config(m);
    o->adamw = c->optimizer == 1;
    o->lr_scale = c->lr > 0 && base_lr > 0 ? c->lr / base_lr : 1.0;
    size_t n = cocodiff_num_params(m);
    if (o->adamw) return optim_adam_init(&o->adam, n, 0.9, 0.999, 1e-8, c->weight_decay);
    return optim_sgd_init(&o->sgd, n, momentum, weight_decay, nesterov);
}

// One view of the optimizer per tensor: decay only where the table says.
void cdoptim_step(CdOptim *o, Cocodiff *m, double backbone_lr) {
    const double lr = backbone_lr * o->lr_scale;
    float *p = cocodiff_params(m), *g = cocodiff_grads(m);
    for (int i = 0; i < cocodiff_num_tensors(m); i++) {
        const CocodiffTensor *ct = cocodiff_tensor(m, i);
        if (o->adamw) {
            OptimAdam v = o->adam;
            v.n = ct->numel;
            v.m = o->adam.m + ct->offset;
            v.v = o->adam.v + ct->offset;
            if (!ct->decay) v.weight_decay = 0.0f;
            optim_adam_step(&v, p + ct->offset, g + ct->offset, lr);
        } else {
            OptimSgd v = o->sgd;
            v.n = ct->numel;
            v.buf = o->sgd.buf + ct->offset;
            if (!ct->decay) v.weight_decay = 0.0f;
            optim_sgd_step(&v, p + ct->offset, g + ct->offset, lr);
        }
    }
    o->sgd.steps++;
    o->adam.steps++;
    cocodiff_ema_update(m, o->adam.steps);
}

int cdoptim_buffers(const CdOptim *o, int i, const char **name, float **buf) {
    static const char *const names[3] = {"momentum", "adam_m", "adam_v"};
    int n = o->adamw ? 2 : 1;
    if (i >= 0 && i < n) {
        *name = names[o->adamw ? 1 + i : 0];
        *buf = o->adamw ? (i ? o->adam.v : o->adam.m) : o->sgd.buf;
    }
    return n;
}

void cdoptim_set_steps(CdOptim *o, long long steps) {
    o->sgd.steps = steps;
    o->adam.steps = steps;
}

double cdoptim_phase_lr(double base_lr, long long s, long long total) {
    return s >= total - total / 5 ? base_lr * 0.1 : base_lr;
}

void cdoptim_describe(const CdOptim *o, double base_lr, char *buf, size_t len) {
    if (o->adamw)
        snprintf(buf, len, "AdamW (lr %g at base_lr %g, weight decay %g)", base_lr * o->lr_scale, base_lr,
                 o->adam.weight_decay);
    else if (o->lr_scale != 1.0)
        snprintf(buf, len, "SGD (lr %g at base_lr %g)", base_lr * o->lr_scale, base_lr);
    else
        snprintf(buf, len, "SGD (the backbone's)");
}

void cdoptim_free(CdOptim *o) {
    if (!o) return;
    optim_sgd_free(&o->sgd);
    optim_adam_free(&o->adam);
    memset(o, 0, sizeof *o);
}
