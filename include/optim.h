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
#include <stdatomic.h>
#include <stddef.h>

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

// One step: params (n) -= lr * update(grads (n)). grads are not changed.
// optim_sgd_update over [0, n), then optim_sgd_count. Returns how many of
// the updated params are not finite (the trainer stops on any: an
// overflowing step), counted in the same pass, not a second one.
size_t optim_sgd_step(OptimSgd *o, float *params, const float *grads, double lr);
// The step's update of elements [i0, i1) only, the step not counted: a
// thread's share when threads split one step by element ranges (each
// element by one thread, so the same bits as optim_sgd_step); after every
// share, one optim_sgd_count. Returns the non-finite params in [i0, i1).
size_t optim_sgd_update(const OptimSgd *o, float *params, const float *grads, double lr, size_t i0, size_t i1);
void optim_sgd_count(OptimSgd *o);
// optim_sgd_update as the range function of a parallel-for that splits a
// step by element ranges (ctrgcn_team_for): share is an OptimSgdShare;
// nonfinite (zero it before) gets every range's count.
typedef struct OptimSgdShare {
    const OptimSgd *opt;
    float *params;
    const float *grads;
    double lr;
    atomic_size_t nonfinite;
} OptimSgdShare;
void optim_sgd_range(void *share, size_t i0, size_t i1);

// Frees the buffers; o is then all zero. NULL is fine.
void optim_sgd_free(OptimSgd *o);

// torch.optim.AdamW over one flat span (amsgrad off; decay decoupled).
typedef struct OptimAdam {
    size_t n;
    float *m, *v;         // (n) first and second moments
    long long steps;      // steps taken (the bias corrections use steps + 1)
    float beta1, beta2, eps, weight_decay;
} OptimAdam;
int optim_adam_init(OptimAdam *o, size_t n, double beta1, double beta2, double eps, double weight_decay);
void optim_adam_step(OptimAdam *o, float *params, const float *grads, double lr);
void optim_adam_free(OptimAdam *o);   // NULL is fine

#define OPTIM_MAX_STEPS 16

// CTR-GCN's learning-rate schedule (config: base_lr, lr_decay_rate,
// warm_up_epoch, step; config_lr_schedule).
typedef struct OptimSchedule {
    double base_lr, decay_rate;
    int warm_up;                   // epochs of linear warm-up
    int nsteps;
    int steps[OPTIM_MAX_STEPS];    // epochs at which the rate is multiplied by decay_rate
} OptimSchedule;

// The learning rate of epoch (0-based), as CTR-GCN's adjust_learning_rate:
//   epoch < warm_up:  base_lr * (epoch + 1) / warm_up
//   otherwise:        base_lr * decay_rate ** (number of steps <= epoch)
// Set once at the start of each epoch (main.py train()).
double optim_lr(const OptimSchedule *s, int epoch);
