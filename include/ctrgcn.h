// ctrgcn.h - the CTR-GCN backbone (Chen et al., ICCV 2021; the official
// model/ctrgcn.py Model) layer for layer, with forward and backward.
//
// Parameters live in one contiguous float span (grads and momentum buffers
// have the same layout), so the optimizer and the gradient all-reduce run
// over a single buffer. Every tensor is registered under its PyTorch
// state_dict key ("l1.gcn1.convs.0.conv1.weight", "data_bn.running_mean",
// "fc.bias", ...) with the official shape, so checkpoints map 1:1.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "skeleton.h"
#include "layers.h"

#define CTRGCN_UNITS 10

typedef struct CtrgcnConfig {
    int num_class;        // K
    int num_point;        // V (the layout's joints)
    int num_person;       // M
    int in_channels;      // 3
    int width[CTRGCN_UNITS];    // output channels per unit (official: 64 x4, 128 x3, 256 x3)
    int stride[CTRGCN_UNITS];   // temporal stride per unit (official: 2 at units 5 and 8)
    const SkelLayout *layout;   // the graph's edges (skeleton.h)
    float drop_out;       // only 0 is supported (the official configs use 0)
} CtrgcnConfig;

// The official architecture for K classes on a layout (widths scaled by
// base/64: base 64 is the official model; tests use small bases like 8).
void ctrgcn_config_default(CtrgcnConfig *c, int num_class, const SkelLayout *layout, int base);

typedef enum CtrgcnKind { CK_PARAM = 0, CK_BUFFER = 1, CK_COUNTER = 2 } CtrgcnKind;

typedef struct CtrgcnTensor {
    char name[96];
    CtrgcnKind kind;      // trainable float, running-statistic float, int64 counter
    int ndim;
    int64_t shape[4];
    size_t numel;
    size_t offset;        // into params / buffers / counters by kind
} CtrgcnTensor;

typedef struct Ctrgcn Ctrgcn;

int ctrgcn_create(Ctrgcn **m, const CtrgcnConfig *c);
void ctrgcn_free(Ctrgcn *m);
const CtrgcnConfig *ctrgcn_config(const Ctrgcn *m);

// The state_dict table, in the official state_dict order.
int ctrgcn_num_tensors(const Ctrgcn *m);
const CtrgcnTensor *ctrgcn_tensor(const Ctrgcn *m, int i);
const CtrgcnTensor *ctrgcn_find(const Ctrgcn *m, const char *name);
float *ctrgcn_params(Ctrgcn *m);       // (num_params) trainable
float *ctrgcn_grads(Ctrgcn *m);        // same layout
float *ctrgcn_buffers(Ctrgcn *m);      // running means and variances
int64_t *ctrgcn_counters(Ctrgcn *m);   // num_batches_tracked
size_t ctrgcn_num_params(const Ctrgcn *m);
size_t ctrgcn_num_buffers(const Ctrgcn *m);
size_t ctrgcn_num_counters(const Ctrgcn *m);
// Pointer to a tensor's data (float or int64 by kind).
void *ctrgcn_tensor_data(Ctrgcn *m, const CtrgcnTensor *t);

// Initialises like the official constructor (kaiming-normal fan-out convs,
// BN weights 1 or N(1, 0.02), gcn BN 1e-6, fc N(0, sqrt(2 / K)), PA = graph).
void ctrgcn_init(Ctrgcn *m, uint64_t seed);

// Synchronised BatchNorm hook (NULL: per-rank statistics).
void ctrgcn_set_bn_sync(Ctrgcn *m, const BnSync *sync);

// Gradient-ready hook: data-parallel training starts each bucket's
// all-reduce as soon as its gradients are final, overlapping it with the
// rest of the backward pass (gradsync.h). Backward calls ready(first, ctx)
// after the FC head, after each unit (l10 down to l1) and after data_bn:
// grads[first, num_params) are then final until the next ctrgcn_zero_grad.
// The parameter layout runs data_bn, l1..l10, fc (the state_dict order, the
// reverse of backward), so each stage's gradients are one contiguous span,
// `first` only decreases and the last call has first = 0.
typedef struct CtrgcnGradHook {
    void (*ready)(size_t first, void *ctx);
    void *ctx;
} CtrgcnGradHook;
// NULL: none. Not copied: the hook must outlive the model's backward calls.
void ctrgcn_set_grad_hook(Ctrgcn *m, const CtrgcnGradHook *hook);
#define CTRGCN_GRAD_STAGES (CTRGCN_UNITS + 2)
// The offsets `first` the hook receives, in call order (head, l10..l1,
// data_bn = 0): known before any backward, so buckets can be planned once.
void ctrgcn_grad_stages(const Ctrgcn *m, size_t first[CTRGCN_GRAD_STAGES]);

// Modes. CTRGCN_TRAIN (a new model's): forward in training or eval mode,
// saving what backward needs in one activation arena. CTRGCN_INFER: forward
// in eval mode only, through a few unit-sized buffers reused from unit to
// unit (no saved activations, no gradient buffer: ctrgcn_grads and the
// gradient pointers of ctrgcn_head are NULL, ctrgcn_last_output is NULL),
// about a tenth of the memory; its logits are those of a CTRGCN_TRAIN
// model's eval forward with one BLAS thread, bit for bit. Switching frees the
// batch buffers; switching back to CTRGCN_TRAIN gives zeroed gradients.
// CD_OK, CD_EARG or CD_ENOMEM.
typedef enum CtrgcnMode { CTRGCN_TRAIN = 0, CTRGCN_INFER = 1 } CtrgcnMode;
int ctrgcn_set_mode(Ctrgcn *m, CtrgcnMode mode);
CtrgcnMode ctrgcn_mode(const Ctrgcn *m);
// Step profile (prof.h; NULL: none, the default): training-mode forwards and
// backwards add each layer type's time, flops and bytes to it (forward and
// backward phases); inference forwards are not profiled. Not copied: it must
// outlive the passes. The hooks only read the clock: results are the same
// bits with and without a profile.
struct Prof;
void ctrgcn_set_profile(Ctrgcn *m, struct Prof *prof);

// Threads of a CTRGCN_INFER forward (default 1): the batch is cut into
// `threads` runs of whole samples, each run through the whole network by one
// thread with its own buffers (eval-mode samples do not interact), and every
// BLAS call inside runs single-threaded (the BLAS thread count is set to 1
// for the pass and restored after), so threads never oversubscribe the
// cores and the logits do not depend on the thread count. CTRGCN_TRAIN
// forwards ignore it (their GEMMs use the BLAS threads). CD_OK, CD_EARG or
// CD_ENOMEM.
int ctrgcn_set_threads(Ctrgcn *m, int threads);

// x: (N, C, T, V, M) as the feeder gives it; logits: (N, K).
// training = 1 uses batch statistics (and updates running ones), saves what
// backward needs; training = 0 is inference (running statistics). In
// CTRGCN_INFER mode training must be 0 (CD_EARG otherwise).
int ctrgcn_forward(Ctrgcn *m, float *logits, const float *x, int N, int T, int training);
// Accumulates into the grads from dlogits (N, K) of the last training forward.
int ctrgcn_backward(Ctrgcn *m, const float *dlogits);
// ctrgcn_backward with extra gradients from an auxiliary loss (the CoCoDiff
// module): dfeat_extra (N, C_last) is added to the gradient of the pooled
// feature h_0 = ctrgcn_features(), dlast_extra (N*M, C_last, T', V) to the
// gradient of the last unit's output (ctrgcn_last_output()); either may be
// NULL. With both NULL it is ctrgcn_backward, bit for bit. Neither is changed.
int ctrgcn_backward_ex(Ctrgcn *m, const float *dlogits, const float *dfeat_extra, const float *dlast_extra);
void ctrgcn_zero_grad(Ctrgcn *m);
// Global-average-pooled features of the last forward: (N, C_last).
const float *ctrgcn_features(const Ctrgcn *m);
// The last unit's output of the last forward: (N*M, C_last, T', V), sample-
// major with persons inner (what ctrgcn_features pools); C, T', V, M are
// written to the non-NULL pointers. Valid until the next forward; NULL before
// the first one.
const float *ctrgcn_last_output(const Ctrgcn *m, int *C, int *T, int *V, int *M);
// The FC head: weights (K, C_last), bias (K) and their gradients (pointers
// into ctrgcn_params / ctrgcn_grads; the offsets are those of ctrgcn_find
// "fc.weight" / "fc.bias"). Any pointer may be NULL.
void ctrgcn_head(Ctrgcn *m, float **w, float **b, float **gw, float **gb);
// Bytes of activations held for a batch (N, T) in the model's mode (and, in
// CTRGCN_INFER, at its thread count), for memory planning.
size_t ctrgcn_activation_bytes(const Ctrgcn *m, int N, int T);
// Multiply-adds of one sample's forward pass at T frames.
double ctrgcn_forward_macs(const Ctrgcn *m, int T);
