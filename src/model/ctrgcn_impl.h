// ctrgcn_impl.h - the CTR-GCN model's private state, shared by its two files:
// ctrgcn.c (the parameter table, creation, initialisation, memory plans) and
// ctrgcn_pass.c (forward and backward); ctrgcn_team.c sizes its replicas'
// buffers and BN sums with it and runs their passes in stages. Not a public
// header: callers use ctrgcn.h.
#pragma once
#include "ctrgcn.h"
#include "layers.h"
#include "pool.h"
#include "prof.h"

#define NBRANCH 4   // dilations 1 and 2, max-pool, 1x1
// Unit-sized scratch buffers (the largest (N*M, C, T, V) of any unit each):
// 0-5 inside a unit's forward/backward, 6-7 the gradient chain of backward
// (CHAIN_A, where it starts, and CHAIN_B).
#define NSCRATCH 8
enum { CHAIN_A = 6, CHAIN_B = 7 };
// BN layers whose sums backward keeps at once (ctrgcn_pass.c: 5 + 3 in unit_backward)
#define BNV_LAYERS 8
// Buffers of an inference lane: P0, P1 unit input/output (ping-pong), S0 the
// CTRGC sum (then, in place, the unit_gcn output), S1 a CTRGC's output, the
// down path and the residual path, S2 one temporal branch at a time.
enum { SLOT_P0, SLOT_P1, SLOT_S0, SLOT_S1, SLOT_S2, NSLOT };

typedef struct Bn {
    int C;
    float *w, *b, *gw, *gb, *rm, *rv;
    int64_t *nbt;
    float *mean, *rstd;   // (C) caches of the last forward
} Bn;

typedef struct Conv {
    Conv2d c;
    float *w, *b, *gw, *gb;
} Conv;

typedef struct Unit {
    int cin, cout, stride, bc, tin, tout;
    size_t pfirst;         // offset of the unit's first parameter (its span ends at the next unit's)
    int res;    // 0 none, 1 identity, 2 unit_tcn (conv + bn)
    int down;   // gcn residual: 1 conv + bn (cin != cout), 0 identity
    Ctrgc g;
    float *PA, *gPA, *alpha, *galpha;
    Conv gconv[3][4];      // conv1..conv4 of each subset's CTRGC
    Bn gbn;
    Conv dconv;
    Bn dbn;
    Conv bconv[NBRANCH];   // each branch's first 1x1 conv (branch 3: strided)
    Bn bbn[NBRANCH];
    Conv tconv[2];         // temporal convs of branches 0, 1 (dilation 1, 2)
    Bn tbn[2];
    Bn mbn;                // BN after branch 2's max-pool
    Conv rconv;
    Bn rbn;
    // activations of the last training forward (what backward cannot cheaply
    // recompute: gout, the branch ReLU outputs, the max-pool output and its
    // argmax are recomputed from these, bit for bit as forward made them)
    const float *x;        // input (N*M, cin, tin, V), owned by the previous stage
    float *gcache, *gsum, *dconv_out;   // gcache: the three CTRGCs' (one call)
    float *c1[NBRANCH], *c2[2];
    float *rconv_out, *out;
} Unit;

// One inference lane: its share [n0, n1) of the batch (set per forward) and
// the buffers it runs through, sized for `cap` samples.
typedef struct Lane {
    int n0, n1;
    float *mem;                // the one allocation below
    float *slot[NSLOT];
    float *xin;                // data_bn input, then (in place) output: (n, MVC, T)
    float *bn_mean, *bn_rstd;  // (largest C) eval statistics of the current BN
    float *work;               // conv / CTRGC workspace
} Lane;

// A replica's frame block of one row that a team's lanes split by time
// (time blocks, ctrgcn_team.h), set by the team for such a pass (Ctrgcn.tb;
// NULL otherwise). The row's group of `lanes` lanes: lane j of the group
// holds frames [at(j, l), at(j + 1, l)) of unit l's input (l =
// CTRGCN_UNITS: the last unit's output), at(j, l) = start[j *
// (CTRGCN_UNITS + 1) + l]; the starts are multiples of the strides still to
// come, so a stride-2 layer's block gives the whole row's frames. Every
// layer pointwise in time runs on the block as on a row of its own; the
// temporal convolutions and the max-pool read their halo from the
// neighbours' replicas in the group (rep) and hand the halo's gradient back
// to them. With several rows (rows x time blocks) every group has the same
// blocks; the replica holds its sample's frames of every person after
// data_bn and runs its own person's row through the units.
typedef struct TBlock {
    int lane, lanes;           // its place in its row's group, the group's lanes
    int person;                // its row's person: data_bn's sums of the sample are the first person's lanes'
    int head;                  // the first lane of its sample: runs fc (forward and gradients)
    const int *start;          // (lanes + 1) x (CTRGCN_UNITS + 1)
    struct Ctrgcn *const *rep; // (lanes) the group's replicas
    float *ext[3], *dext[3];   // branch b < 3's input with its halo (bc, tin + 2 pad, V) and its gradient
    void (*wait)(void *ctx);                       // every lane's barrier (all groups')
    void (*fsum)(float *v, int n, void *ctx);      // v := the group's lanes' v summed in lane order
    void (*dsum)(double *v, int n, void *ctx);     // the same for doubles over the sample's lanes (the pooling)
    void *ctx;
} TBlock;

struct Ctrgcn {
    CtrgcnConfig cfg;
    CtrgcnTensor *tab;
    int ntab, captab;
    size_t nparams, nbuffers, ncounters;
    float *params, *grads, *buffers;
    int params_shared;     // params are another model's (ctrgcn_share_params): not freed here
    float *own_grads;      // its gradients while grads are another model's (ctrgcn_grads_into), else NULL
    int64_t *counters;
    Bn data_bn;
    Unit u[CTRGCN_UNITS];
    float *fcw, *fcb, *gfcw, *gfcb;
    size_t fc_first;       // offset of fc.weight, the head's first parameter
    const BnSync *sync;
    const CtrgcnGradHook *hook;
    Prof *prof;            // the step profile of training passes, or NULL (ctrgcn_set_profile)
    const TBlock *tb;      // a team lane's frame block of one row, or NULL (the whole rows)
    // batch state
    int N, T, NM, training, alloc_N, alloc_T;
    float *act;            // one arena for every saved activation
    size_t act_floats;
    float *xin, *xbn, *u0; // data_bn input (N, MVC, T), output, unit-1 input (NM, C, T, V)
    float *feat, *probs;   // (N, C_last)
    float *scratch[NSCRATCH], *work;
    size_t scratch_floats[NSCRATCH], work_floats;   // each slot's size: scratch_sizes() in ctrgcn.c
    double *bnv;           // synchronised BN: the packed sums of a group of BN layers (BNV_LAYERS of the widest)
    int registering;       // pass 1: count, pass 2: assign pointers
    // inference (ctrgcn_set_mode / ctrgcn_set_threads)
    CtrgcnMode mode;
    int threads;           // lanes of an inference forward
    Pool *pool;            // threads - 1 helpers (NULL for 1 thread)
    Lane *lanes;           // (threads), allocated with the batch buffers
    size_t lane_floats;    // floats of each lane's allocation
};

// ctrgcn.c, for the passes:
// The batch buffers for N samples of T frames (per mode). CD_OK or CD_ENOMEM.
int ctrgcn_ensure_batch(Ctrgcn *m, int N, int T);
// rep's layers read m's parameters (same config) instead of rep's own: a
// team's replica, which then needs no copy of the weights each step. m must
// outlive rep. CD_OK or CD_EARG.
int ctrgcn_share_params(Ctrgcn *rep, Ctrgcn *m);
// rep's backward adds into g (another model's gradients, same config)
// instead of its own; g NULL: its own again (zeroed). A team's first lane
// over frame blocks (time blocks, rows x time blocks), whose gradients then
// need no zeroing and no sum.
void ctrgcn_grads_into(Ctrgcn *rep, float *g);
// The gradient of parameter p (NULL without gradients).
float *ctrgcn_grad_of(Ctrgcn *m, const float *p);
// Backward's hook: the parameters from `first` on have final gradients.
void ctrgcn_grads_ready(const Ctrgcn *m, size_t first);

// ctrgcn_pass.c: a training pass in stages, for a team's lane
// (ctrgcn_team.c) that holds n samples' ends (data_bn; pooling and fc) and
// `rows` (sample, person) rows of the units, not necessarily the same ones:
// the lanes cut the batch's N*M rows, so a sample's persons may run in two
// lanes (the team gathers the unit input and output rows between the
// stages). ctrgcn_forward and ctrgcn_backward_ex are these stages over the
// whole batch (n = N, rows = N*M), bit for bit.
// The batch buffers for n samples and `rows` rows of T frames, training
// mode. CD_OK, CD_EARG or CD_ENOMEM.
int ctrgcn_stage_begin(Ctrgcn *m, int n, int rows, int T);
// x (n, C, T, V, M) -> data_bn (batch statistics, m's BnSync) -> u0 (n*M, C, T, V).
void ctrgcn_stem_forward(Ctrgcn *m, float *u0, const float *x);
// u0 (rows, C, T, V), kept until backward -> the ten units -> ctrgcn_last_output (rows, C_last, T', V).
void ctrgcn_units_forward(Ctrgcn *m, const float *u0);
// last (n*M, C_last, T', V) -> ctrgcn_features (n, C_last) -> logits (n, K).
void ctrgcn_head_forward(Ctrgcn *m, float *logits, const float *last);
// dlast (n*M, C_last, T', V) := the gradient of the last unit's output from
// dlogits (n, K) and the extras (ctrgcn_backward_ex's; NULL: none); fc's
// gradients added. CD_OK or CD_ENOMEM.
int ctrgcn_head_backward(Ctrgcn *m, float *dlast, const float *dlogits, const float *dfeat_extra,
                         const float *dlast_extra);
// dlast (rows, C_last, T', V) -> the units' gradients added; returns the
// gradient of u0 (rows, C, T, V), in m's scratch until the next pass. A
// dlast in m->scratch[CHAIN_A] (where ctrgcn_head_backward may write it) is
// used in place; any other is copied there first.
const float *ctrgcn_units_backward(Ctrgcn *m, const float *dlast);
// du0 (n*M, C, T, V) -> data_bn's gradients added.
void ctrgcn_stem_backward(Ctrgcn *m, const float *du0);
