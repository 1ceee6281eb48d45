// optim.h - CTR-GCN's optimizer: torch.optim.SGD over one flat parameter span,
// and CTR-GCN's learning-rate schedule (main.py adjust_learning_rate).
//
// main.py load_optimizer builds optim.SGD(self.model.parameters(), lr=base_lr,
// momentum=0.9, nesterov=nesterov, weight_decay=weight_decay): one parameter
// group, so weight decay applies to EVERY parameter (conv and fc weights, BN
// weights and biases, the CTR-GC alpha, ...). The model keeps all parameters
// (and their gradients) contiguous, so one span covers them all.
//
// One step, per element, as torch 1.13 _single_tensor_sgd does it in float32
// (fma: one rounding, as torch's vectorized AVX2 CPU kernels do):
//   g = fma(wd, p, grad)
//   buf = g                      (the first step: torch clones d_p)
//   buf = (momentum * buf) + g   (later steps; dampening 0; two roundings)
//   g = fma(momentum, buf, g)    (nesterov)   or   g = buf
//   p = fma(-lr, g, p)
// The result equals torch's bit for bit (tests/2210-optim.c).
#pragma once
#include <stddef.h>

#include "config.h"

typedef struct OptimSgd {
    size_t n;            // parameters in the span
    float *buf;          // (n) momentum buffers (torch's state['momentum_buffer'])
    long long steps;     // steps taken; 0 means the buffers are not set yet
    float momentum;      // 0.9 in CTR-GCN
    float weight_decay;
    int nesterov;
} OptimSgd;

// Allocates zeroed buffers for n parameters. Returns CD_OK or CD_ENOMEM.
int optim_sgd_init(OptimSgd *o, size_t n, double momentum, double weight_decay, int nesterov);

// optim_sgd_init with CTR-GCN's settings: cocodiff.momentum (0.9),
// weight_decay, nesterov. Returns CD_EARG when c->optimizer is not SGD.
int optim_sgd_init_config(OptimSgd *o, size_t n, const Config *c);

// One step: params (n) -= lr * update(grads (n)). grads are not changed.
void optim_sgd_step(OptimSgd *o, float *params, const float *grads, double lr);

// The CoCoDiff module's step: o's settings over the module's parameters,
// weight decay only on the tensors its table marks decay (one view of o per
// tensor); o->steps counts it.
struct Cocodiff;
void cocodiff_sgd_step(struct Cocodiff *m, OptimSgd *o, double lr);
// Frees the buffers; o is then all zero. NULL is fine.
void optim_sgd_free(OptimSgd *o);

// torch.optim.AdamW over one flat span (amsgrad off; decay decoupled).
typedef struct OptimAdam {
    size_t n;
    float *m, *v;         // (n) first and second moments
    long long steps;
    float beta1, beta2, eps, weight_decay;
} OptimAdam;
int optim_adam_init(OptimAdam *o, size_t n, double beta1, double beta2, double eps, double weight_decay);
void optim_adam_step(OptimAdam *o, float *params, const float *grads, double lr);
void optim_adam_free(OptimAdam *o);   // NULL is fine
void cocodiff_adam_step(struct Cocodiff *m, OptimAdam *o, double lr);

// The CoCoDiff module's optimizer (cocodiff.module_optimizer): SGD with the
// backbone's settings, or AdamW (decay cocodiff.module_weight_decay, betas
// 0.9, 0.999, eps 1e-8). Either decays only the module's weight matrices.
// Its learning rate follows the backbone's schedule (warm-up, steps) scaled
// to cocodiff.module_lr: lr = module_lr * optim_lr(epoch) / base_lr
// (module_lr 0: base_lr, the backbone's own).
#define OPTIM_MODULE_MAX_BUFFERS 2
typedef struct OptimModule {
    int adamw;
    double lr_scale;      // module_lr / base_lr
    OptimSgd sgd;
    OptimAdam adam;
} OptimModule;
int optim_module_init(OptimModule *o, struct Cocodiff *m, const Config *c);
// One step at the backbone's lr of this epoch (scaled as above).
void optim_module_step(OptimModule *o, struct Cocodiff *m, double backbone_lr);
// Its state buffers, each as long as the module's parameters (SGD:
// "momentum"; AdamW: "adam_m", "adam_v"): the count, and buffer i's name and
// data when i is in range.
int optim_module_buffers(const OptimModule *o, int i, const char **name, float **buf);
void optim_module_set_steps(OptimModule *o, long long steps);
void optim_module_free(OptimModule *o);

// The learning rate of epoch (0-based), as CTR-GCN's adjust_learning_rate:
//   epoch < warm_up_epoch:  base_lr * (epoch + 1) / warm_up_epoch
//   otherwise:              base_lr * lr_decay_rate ** (number of steps <= epoch)
// Set once at the start of each epoch (main.py train()).
double optim_lr(const Config *c, int epoch);
