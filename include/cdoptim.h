// cdoptim.h - the CoCoDiff module's optimizer (cocodiff.module_optimizer):
// SGD with the backbone's settings (momentum, nesterov, weight decay), or
// AdamW (betas 0.9, 0.999, eps 1e-8, decoupled decay
// cocodiff.module_weight_decay). Either decays only the module's weight
// matrices (the tensors its table marks decay). The learning rate follows
// the backbone's schedule, scaled so that base_lr becomes cocodiff.module_lr
// (0: the backbone's own): lr = module_lr / base_lr * backbone lr. Used by
// the trainer (cdtrain.h) and cocodiff-frozen.
#pragma once
#include <stddef.h>

#include "cocodiff.h"
#include "optim.h"

#define CDOPTIM_MAX_BUFFERS 2

typedef struct CdOptim {
    int adamw;
    double lr_scale;
    OptimSgd sgd;
    OptimAdam adam;
} CdOptim;

// For module m with its options (cocodiff_config(m)): optimizer, module_lr,
// weight_decay; base_lr and the SGD settings are the backbone's. CD_OK or
// CD_ENOMEM.
int cdoptim_init(CdOptim *o, const Cocodiff *m, double base_lr, double momentum, double weight_decay, int nesterov);
// One step at the backbone's lr of this epoch.
void cdoptim_step(CdOptim *o, Cocodiff *m, double backbone_lr);
// Its state buffers, each as long as the module's parameters (SGD:
// "momentum"; AdamW: "adam_m", "adam_v"): returns the count; with i in
// range, buffer i's name and data.
int cdoptim_buffers(const CdOptim *o, int i, const char **name, float **buf);
// The steps taken (AdamW's bias corrections count them): a resumed run sets
// the backbone's.
void cdoptim_set_steps(CdOptim *o, long long steps);
// The backbone-scale lr of step s of a phase of `total` module steps alone
// (cocodiff-frozen, the trainer's refresh): base_lr, x0.1 for the last fifth.
double cdoptim_phase_lr(double base_lr, long long s, long long total);
// "SGD" or "AdamW, lr 0.003 at base_lr 0.1" for the log.
void cdoptim_describe(const CdOptim *o, double base_lr, char *buf, size_t len);
void cdoptim_free(CdOptim *o);   // NULL is fine
