// ctrgcn.c - the CTR-GCN model: parameter table under the official
// state_dict names, forward and backward through data_bn, ten TCN-GCN units,
// pooling and the classifier (see ctrgcn.h; layers in layers.h).
//
// Two memory plans. CTRGCN_TRAIN: one arena holds every activation backward
// needs, plus NSCRATCH unit-sized scratch buffers. CTRGCN_INFER: the batch is
// cut into lanes of whole samples (one per thread); each lane runs the whole
// network through NSLOT buffers of its own (unit input and output ping-pong,
// two unit-sized temporaries and one for the temporal branches), doing every
// BN, ReLU and residual add in place. The same layer calls on the same
// per-sample data, so the same bits (tests/2030-ctrgcn-infer).
#include "ctrgcn.h"
#include "blas.h"
#include "graph.h"
#include "pool.h"
#include "status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBRANCH 4   // dilations 1 and 2, max-pool, 1x1
// Unit-sized scratch buffers (the largest (N*M, C, T, V) of any unit each):
// 0-5 inside a unit's forward/backward, 6-7 the gradient chain of backward.
#define NSCRATCH 8
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
    float *gcache[3], *gsum, *dconv_out;
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

struct Ctrgcn {
    CtrgcnConfig cfg;
    CtrgcnTensor *tab;
    int ntab, captab;
    size_t nparams, nbuffers, ncounters;
    float *params, *grads, *buffers;
    int64_t *counters;
    Bn data_bn;
    Unit u[CTRGCN_UNITS];
    float *fcw, *fcb, *gfcw, *gfcb;
    size_t fc_first;       // offset of fc.weight, the head's first parameter
    const BnSync *sync;
    const CtrgcnGradHook *hook;
    // batch state
    int N, T, NM, training, alloc_N, alloc_T;
    float *act;            // one arena for every saved activation
    size_t act_floats;
    float *xin, *xbn, *u0; // data_bn input (N, MVC, T), output, unit-1 input (NM, C, T, V)
    float *feat, *probs;   // (N, C_last)
    float *scratch[NSCRATCH], *work;
    size_t scratch_floats, work_floats;
    int registering;       // pass 1: count, pass 2: assign pointers
    // inference (ctrgcn_set_mode / ctrgcn_set_threads)
    CtrgcnMode mode;
    int threads;           // lanes of an inference forward
    Pool *pool;            // threads - 1 helpers (NULL for 1 thread)
    Lane *lanes;           // (threads), allocated with the batch buffers
    size_t lane_floats;    // floats of each lane's allocation
};

// ---------------------------------------------------------------------------
// Parameter table

static void *reg(Ctrgcn *m, CtrgcnKind kind, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void *reg(Ctrgcn *m, CtrgcnKind kind, int ndim, const int64_t *shape, const char *fmt, ...) {
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)shape[i];
    size_t *count = kind == CK_PARAM ? &m->nparams : kind == CK_BUFFER ? &m->nbuffers : &m->ncounters;
    if (m->registering) {
        if (m->ntab == m->captab) {
            m->captab = m->captab ? m->captab * 2 : 256;
            CtrgcnTensor *t = realloc(m->tab, (size_t)m->captab * sizeof *t);
            if (!t) return NULL;
            m->tab = t;
        }
        CtrgcnTensor *t = &m->tab[m->ntab++];
        memset(t, 0, sizeof *t);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->name, sizeof t->name, fmt, ap);
        va_end(ap);
        t->kind = kind;
        t->ndim = ndim;
        for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
        t->numel = numel;
        t->offset = *count;
        *count += numel;
        return NULL;
    }
    // Pass 2: the same order, so the i-th call is table entry i.
    CtrgcnTensor *t = &m->tab[m->ntab++];
    if (kind == CK_PARAM) return m->params + t->offset;
    if (kind == CK_BUFFER) return m->buffers + t->offset;
    return m->counters + t->offset;
}

// No gradient buffer (inference mode): no gradient pointers.
static float *grad_of(Ctrgcn *m, const float *p) { return p && m->grads ? m->grads + (p - m->params) : NULL; }

static void reg_bn(Ctrgcn *m, Bn *bn, int C, const char *prefix) {
    int64_t s[1] = {C};
    bn->C = C;
    bn->w = reg(m, CK_PARAM, 1, s, "%s.weight", prefix);
    bn->b = reg(m, CK_PARAM, 1, s, "%s.bias", prefix);
    bn->rm = reg(m, CK_BUFFER, 1, s, "%s.running_mean", prefix);
    bn->rv = reg(m, CK_BUFFER, 1, s, "%s.running_var", prefix);
    bn->nbt = reg(m, CK_COUNTER, 0, s, "%s.num_batches_tracked", prefix);
    bn->gw = grad_of(m, bn->w);
    bn->gb = grad_of(m, bn->b);
}

static void reg_conv(Ctrgcn *m, Conv *cv, int cin, int cout, int kt, int stride, int dil, const char *prefix) {
    int64_t sw[4] = {cout, cin, kt, 1}, sb[1] = {cout};
    cv->c = (Conv2d){cin, cout, kt, stride, dil, (kt + (kt - 1) * (dil - 1) - 1) / 2};
    cv->w = reg(m, CK_PARAM, 4, sw, "%s.weight", prefix);
    cv->b = reg(m, CK_PARAM, 1, sb, "%s.bias", prefix);
    cv->gw = grad_of(m, cv->w);
    cv->gb = grad_of(m, cv->b);
}

// The official state_dict order: a module's own parameters, then its
// children in registration order.
static void register_all(Ctrgcn *m) {
    const CtrgcnConfig *c = &m->cfg;
    int V = c->num_point;
    char p[96];
    reg_bn(m, &m->data_bn, c->num_person * c->in_channels * V, "data_bn");
    int cin = c->in_channels;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        Unit *u = &m->u[l];
        int cout = c->width[l];
        if (m->registering) u->pfirst = m->nparams;   // pass 1 counts, so this is the next offset
        u->cin = cin;
        u->cout = cout;
        u->stride = c->stride[l];
        u->bc = cout / NBRANCH;
        u->res = l == 0 ? 0 : (cin == cout && u->stride == 1) ? 1 : 2;
        u->down = cin != cout;
        u->g = (Ctrgc){cin, cout, ctrgc_rel_channels(cin)};
        int64_t spa[3] = {3, V, V}, sal[1] = {1};
        u->PA = reg(m, CK_PARAM, 3, spa, "l%d.gcn1.PA", l + 1);
        u->alpha = reg(m, CK_PARAM, 1, sal, "l%d.gcn1.alpha", l + 1);
        u->gPA = grad_of(m, u->PA);
        u->galpha = grad_of(m, u->alpha);
        for (int i = 0; i < 3; i++) {
            int rel = u->g.rel;
            snprintf(p, sizeof p, "l%d.gcn1.convs.%d.conv1", l + 1, i);
            reg_conv(m, &u->gconv[i][0], cin, rel, 1, 1, 1, p);
            snprintf(p, sizeof p, "l%d.gcn1.convs.%d.conv2", l + 1, i);
            reg_conv(m, &u->gconv[i][1], cin, rel, 1, 1, 1, p);
            snprintf(p, sizeof p, "l%d.gcn1.convs.%d.conv3", l + 1, i);
            reg_conv(m, &u->gconv[i][2], cin, cout, 1, 1, 1, p);
            snprintf(p, sizeof p, "l%d.gcn1.convs.%d.conv4", l + 1, i);
            reg_conv(m, &u->gconv[i][3], rel, cout, 1, 1, 1, p);
        }
        if (u->down) {
            snprintf(p, sizeof p, "l%d.gcn1.down.0", l + 1);
            reg_conv(m, &u->dconv, cin, cout, 1, 1, 1, p);
            snprintf(p, sizeof p, "l%d.gcn1.down.1", l + 1);
            reg_bn(m, &u->dbn, cout, p);
        }
        snprintf(p, sizeof p, "l%d.gcn1.bn", l + 1);
        reg_bn(m, &u->gbn, cout, p);
        for (int b = 0; b < NBRANCH; b++) {
            snprintf(p, sizeof p, "l%d.tcn1.branches.%d.0", l + 1, b);
            reg_conv(m, &u->bconv[b], cout, u->bc, 1, b == 3 ? u->stride : 1, 1, p);
            snprintf(p, sizeof p, "l%d.tcn1.branches.%d.1", l + 1, b);
            reg_bn(m, &u->bbn[b], u->bc, p);
            if (b < 2) {
                snprintf(p, sizeof p, "l%d.tcn1.branches.%d.3.conv", l + 1, b);
                reg_conv(m, &u->tconv[b], u->bc, u->bc, 5, u->stride, b + 1, p);
                snprintf(p, sizeof p, "l%d.tcn1.branches.%d.3.bn", l + 1, b);
                reg_bn(m, &u->tbn[b], u->bc, p);
            } else if (b == 2) {
                snprintf(p, sizeof p, "l%d.tcn1.branches.2.4", l + 1);
                reg_bn(m, &u->mbn, u->bc, p);
            }
        }
        if (u->res == 2) {
            snprintf(p, sizeof p, "l%d.residual.conv", l + 1);
            reg_conv(m, &u->rconv, cin, cout, 1, u->stride, 1, p);
            snprintf(p, sizeof p, "l%d.residual.bn", l + 1);
            reg_bn(m, &u->rbn, cout, p);
        }
        cin = cout;
    }
    int64_t sw[2] = {c->num_class, cin}, sb[1] = {c->num_class};
    if (m->registering) m->fc_first = m->nparams;
    m->fcw = reg(m, CK_PARAM, 2, sw, "fc.weight");
    m->fcb = reg(m, CK_PARAM, 1, sb, "fc.bias");
    m->gfcw = grad_of(m, m->fcw);
    m->gfcb = grad_of(m, m->fcb);
}

// Pass 2 of the registration: points every layer at params, grads (NULL
// when there are none), buffers and counters.
static void point_tensors(Ctrgcn *m) {
    int n = m->ntab;
    m->registering = 0;
    m->ntab = 0;
    register_all(m);
    m->ntab = n;
}

void ctrgcn_config_default(CtrgcnConfig *c, int num_class, const SkelLayout *layout, int base) {
    static const int mult[CTRGCN_UNITS] = {1, 1, 1, 1, 2, 2, 2, 4, 4, 4};
    memset(c, 0, sizeof *c);
    c->num_class = num_class;
    c->num_point = layout ? layout->V : 0;
    c->num_person = 2;
    c->in_channels = 3;
    c->layout = layout;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        c->width[l] = base * mult[l];
        c->stride[l] = (l == 4 || l == 7) ? 2 : 1;
    }
}

int ctrgcn_create(Ctrgcn **out, const CtrgcnConfig *c) {
    for (int l = 0; l < CTRGCN_UNITS; l++)
        if (c->width[l] <= 0 || c->width[l] % NBRANCH || c->stride[l] < 1) {
            CD_ERR("CTR-GCN unit %d: width %d must be a positive multiple of %d, stride >= 1", l + 1,
                   c->width[l], NBRANCH);
            return CD_EARG;
        }
    if (c->num_class < 1 || c->num_point < 1 || c->num_person < 1 || c->in_channels < 1) {
        CD_ERR("CTR-GCN: bad sizes (classes %d, joints %d, persons %d, channels %d)", c->num_class,
               c->num_point, c->num_person, c->in_channels);
        return CD_EARG;
    }
    if (!c->layout || c->layout->V != c->num_point) {
        CD_ERR("CTR-GCN: %d joints but the layout %s has %d", c->num_point, c->layout ? c->layout->graph : "(none)",
               c->layout ? c->layout->V : 0);
        return CD_EARG;
    }
    if (c->drop_out != 0.0f) {
        CD_ERR("CTR-GCN: drop_out %g is not supported (the official configs use 0)", c->drop_out);
        return CD_EARG;
    }
    Ctrgcn *m = cd_calloc(1, sizeof *m);
    if (!m) return CD_ENOMEM;
    m->cfg = *c;
    m->registering = 1;
    register_all(m);
    if (!m->tab) { ctrgcn_free(m); return CD_ENOMEM; }
    m->params = cd_calloc(m->nparams, sizeof(float));
    m->grads = cd_calloc(m->nparams, sizeof(float));
    m->buffers = cd_calloc(m->nbuffers ? m->nbuffers : 1, sizeof(float));
    m->counters = cd_calloc(m->ncounters ? m->ncounters : 1, sizeof(int64_t));
    if (!m->params || !m->grads || !m->buffers || !m->counters) { ctrgcn_free(m); return CD_ENOMEM; }
    m->threads = 1;
    point_tensors(m);
    // Running statistics start at mean 0, var 1, as PyTorch's.
    for (int i = 0; i < m->ntab; i++)
        if (m->tab[i].kind == CK_BUFFER && strstr(m->tab[i].name, "running_var"))
            for (size_t k = 0; k < m->tab[i].numel; k++) m->buffers[m->tab[i].offset + k] = 1.0f;
    *out = m;
    return CD_OK;
}

static void free_batch(Ctrgcn *m) {
    free(m->act);
    free(m->work);
    for (int i = 0; i < NSCRATCH; i++) free(m->scratch[i]);
    m->act = m->work = NULL;
    for (int i = 0; i < NSCRATCH; i++) m->scratch[i] = NULL;
    if (m->lanes)
        for (int i = 0; i < m->threads; i++) free(m->lanes[i].mem);
    free(m->lanes);
    m->lanes = NULL;
    m->feat = m->probs = NULL;
    m->alloc_N = m->alloc_T = 0;
}

void ctrgcn_free(Ctrgcn *m) {
    if (!m) return;
    free_batch(m);
    pool_free(m->pool);
    free(m->tab);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->counters);
    free(m);
}

const CtrgcnConfig *ctrgcn_config(const Ctrgcn *m) { return &m->cfg; }
int ctrgcn_num_tensors(const Ctrgcn *m) { return m->ntab; }
const CtrgcnTensor *ctrgcn_tensor(const Ctrgcn *m, int i) { return i >= 0 && i < m->ntab ? &m->tab[i] : NULL; }
const CtrgcnTensor *ctrgcn_find(const Ctrgcn *m, const char *name) {
    for (int i = 0; i < m->ntab; i++) if (!strcmp(m->tab[i].name, name)) return &m->tab[i];
    return NULL;
}
float *ctrgcn_params(Ctrgcn *m) { return m->params; }
float *ctrgcn_grads(Ctrgcn *m) { return m->grads; }
float *ctrgcn_buffers(Ctrgcn *m) { return m->buffers; }
int64_t *ctrgcn_counters(Ctrgcn *m) { return m->counters; }
size_t ctrgcn_num_params(const Ctrgcn *m) { return m->nparams; }
size_t ctrgcn_num_buffers(const Ctrgcn *m) { return m->nbuffers; }
size_t ctrgcn_num_counters(const Ctrgcn *m) { return m->ncounters; }
void *ctrgcn_tensor_data(Ctrgcn *m, const CtrgcnTensor *t) {
    if (t->kind == CK_PARAM) return m->params + t->offset;
    if (t->kind == CK_BUFFER) return m->buffers + t->offset;
    return m->counters + t->offset;
}
void ctrgcn_set_bn_sync(Ctrgcn *m, const BnSync *sync) { m->sync = sync; }
void ctrgcn_set_grad_hook(Ctrgcn *m, const CtrgcnGradHook *hook) { m->hook = hook; }
void ctrgcn_grad_stages(const Ctrgcn *m, size_t first[CTRGCN_GRAD_STAGES]) {
    first[0] = m->fc_first;
    for (int l = CTRGCN_UNITS - 1; l >= 0; l--) first[CTRGCN_UNITS - l] = m->u[l].pfirst;
    first[CTRGCN_GRAD_STAGES - 1] = 0;   // data_bn's span starts the buffer
}
static void grads_ready(const Ctrgcn *m, size_t first) {
    if (m->hook && m->hook->ready) m->hook->ready(first, m->hook->ctx);
}
void ctrgcn_zero_grad(Ctrgcn *m) { if (m->grads) memset(m->grads, 0, m->nparams * sizeof(float)); }

CtrgcnMode ctrgcn_mode(const Ctrgcn *m) { return m->mode; }

int ctrgcn_set_mode(Ctrgcn *m, CtrgcnMode mode) {
    if (mode != CTRGCN_TRAIN && mode != CTRGCN_INFER) {
        CD_ERR("ctrgcn_set_mode: unknown mode %d", (int)mode);
        return CD_EARG;
    }
    if (mode == m->mode) return CD_OK;
    free_batch(m);   // the other plan's buffers are of no use
    m->training = 0;
    if (mode == CTRGCN_INFER) {
        free(m->grads);
        m->grads = NULL;
    } else if (!(m->grads = cd_calloc(m->nparams, sizeof(float)))) {
        return CD_ENOMEM;
    }
    m->mode = mode;
    point_tensors(m);
    return CD_OK;
}

int ctrgcn_set_threads(Ctrgcn *m, int threads) {
    if (threads < 1) {
        CD_ERR("ctrgcn_set_threads: %d threads (expected at least 1)", threads);
        return CD_EARG;
    }
    if (threads == m->threads) return CD_OK;
    free_batch(m);   // lanes are per thread
    pool_free(m->pool);
    m->pool = NULL;
    m->threads = 1;
    int rc = threads > 1 ? pool_create(&m->pool, threads) : CD_OK;
    if (rc == CD_OK) m->threads = threads;
    return rc;
}
const float *ctrgcn_features(const Ctrgcn *m) { return m->feat; }
const float *ctrgcn_last_output(const Ctrgcn *m, int *C, int *T, int *V, int *M) {
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    if (C) *C = last->cout;
    if (T) *T = last->tout;
    if (V) *V = m->cfg.num_point;
    if (M) *M = m->cfg.num_person;
    // Inference lanes keep their shares of it in their own slots.
    return m->act && m->mode == CTRGCN_TRAIN ? last->out : NULL;
}
void ctrgcn_head(Ctrgcn *m, float **w, float **b, float **gw, float **gb) {
    if (w) *w = m->fcw;
    if (b) *b = m->fcb;
    if (gw) *gw = m->gfcw;
    if (gb) *gb = m->gfcb;
}

// ---------------------------------------------------------------------------
// Initialisation (the official constructor's distributions, our RNG)

typedef struct InitRng { uint64_t s; } InitRng;
static double rng_u01(InitRng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double rng_normal(InitRng *r) {
    return sqrt(-2.0 * log(rng_u01(r))) * cos(6.283185307179586 * rng_u01(r));
}
static void fill_normal(float *p, size_t n, double sd, InitRng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * rng_normal(r));
}
// kaiming_normal_(mode='fan_out'): sd = sqrt(2 / (cout * kt))
static void init_conv(Conv *cv, InitRng *r) {
    fill_normal(cv->w, (size_t)cv->c.cout * cv->c.cin * cv->c.kt, sqrt(2.0 / (cv->c.cout * cv->c.kt)), r);
    memset(cv->b, 0, (size_t)cv->c.cout * sizeof(float));
}
static void init_bn(Bn *bn, double scale, double noise, InitRng *r) {
    for (int i = 0; i < bn->C; i++) bn->w[i] = (float)(scale + (noise > 0 ? noise * rng_normal(r) : 0));
    memset(bn->b, 0, (size_t)bn->C * sizeof(float));
}

void ctrgcn_init(Ctrgcn *m, uint64_t seed) {
    InitRng r = {seed * 0x2545F4914F6CDD1Dull + 1};
    const CtrgcnConfig *c = &m->cfg;
    int V = c->num_point;
    float *A = cd_malloc((size_t)3 * V * V * sizeof(float));
    if (A) graph_spatial(c->layout, A);
    init_bn(&m->data_bn, 1, 0, &r);
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        Unit *u = &m->u[l];
        if (A) memcpy(u->PA, A, (size_t)3 * V * V * sizeof(float));
        u->alpha[0] = 0;
        for (int i = 0; i < 3; i++) for (int k = 0; k < 4; k++) init_conv(&u->gconv[i][k], &r);
        if (u->down) { init_conv(&u->dconv, &r); init_bn(&u->dbn, 1, 0, &r); }
        init_bn(&u->gbn, 1e-6, 0, &r);
        // MultiScale_TemporalConv: weights_init (BN weights N(1, 0.02)).
        for (int b = 0; b < NBRANCH; b++) { init_conv(&u->bconv[b], &r); init_bn(&u->bbn[b], 1, 0.02, &r); }
        for (int b = 0; b < 2; b++) { init_conv(&u->tconv[b], &r); init_bn(&u->tbn[b], 1, 0.02, &r); }
        init_bn(&u->mbn, 1, 0.02, &r);
        if (u->res == 2) { init_conv(&u->rconv, &r); init_bn(&u->rbn, 1, 0, &r); }
    }
    fill_normal(m->fcw, (size_t)c->num_class * c->width[CTRGCN_UNITS - 1], sqrt(2.0 / c->num_class), &r);
    memset(m->fcb, 0, (size_t)c->num_class * sizeof(float));
    for (size_t i = 0; i < m->nbuffers; i++) m->buffers[i] = 0;
    for (int i = 0; i < m->ntab; i++)
        if (m->tab[i].kind == CK_BUFFER && strstr(m->tab[i].name, "running_var"))
            for (size_t k = 0; k < m->tab[i].numel; k++) m->buffers[m->tab[i].offset + k] = 1.0f;
    memset(m->counters, 0, m->ncounters * sizeof(int64_t));
    free(A);
}

// ---------------------------------------------------------------------------
// Activation memory: one arena laid out for a batch (N, T)

typedef struct Arena { float *base; size_t used; int count_only; } Arena;
static float *take(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;   // 64-byte alignment of every buffer
    float *p = a->count_only ? NULL : a->base + a->used;
    a->used += n;
    return p;
}

static void bn_caches(Arena *a, Bn *bn) { bn->mean = take(a, (size_t)bn->C); bn->rstd = take(a, (size_t)bn->C); }

static size_t layout(Ctrgcn *m, Arena *a, int N, int T) {
    const CtrgcnConfig *c = &m->cfg;
    int V = c->num_point, NM = N * c->num_person, MVC = c->num_person * V * c->in_channels;
    m->xin = take(a, (size_t)N * MVC * T);
    m->xbn = take(a, (size_t)N * MVC * T);
    m->u0 = take(a, (size_t)N * MVC * T);
    bn_caches(a, &m->data_bn);
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        Unit *u = &m->u[l];
        u->tin = t;
        u->tout = (t - 1) / u->stride + 1;
        size_t big = (size_t)NM * u->cout * u->tin * V, bout = (size_t)NM * u->cout * u->tout * V;
        size_t bin = (size_t)NM * u->bc * u->tin * V, bo = (size_t)NM * u->bc * u->tout * V;
        for (int i = 0; i < 3; i++) u->gcache[i] = take(a, ctrgc_cache_size(&u->g, NM, u->tin, V));
        u->gsum = take(a, big);
        bn_caches(a, &u->gbn);
        if (u->down) { u->dconv_out = take(a, big); bn_caches(a, &u->dbn); }
        for (int b = 0; b < NBRANCH; b++) {
            u->c1[b] = take(a, b == 3 ? bo : bin);
            bn_caches(a, &u->bbn[b]);
        }
        for (int b = 0; b < 2; b++) { u->c2[b] = take(a, bo); bn_caches(a, &u->tbn[b]); }
        bn_caches(a, &u->mbn);
        if (u->res == 2) { u->rconv_out = take(a, bout); bn_caches(a, &u->rbn); }
        u->out = take(a, bout);
        t = u->tout;
    }
    m->feat = take(a, (size_t)N * c->width[CTRGCN_UNITS - 1]);
    m->probs = take(a, (size_t)N * c->num_class);
    return a->used;
}

// The largest conv / CTRGC workspace of any unit for NM (sample, person)
// pairs at T frames (per sample, so NM only matters through the API).
static size_t work_floats(const Ctrgcn *m, int NM, int T) {
    const int V = m->cfg.num_point;
    size_t w = 1;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        const Unit *u = &m->u[l];
        size_t ws[7] = {ctrgc_work_size(&u->g, NM, t, V), u->down ? conv2d_work_size(&u->dconv.c, NM, t, V) : 0,
                        conv2d_work_size(&u->bconv[0].c, NM, t, V), conv2d_work_size(&u->bconv[3].c, NM, t, V),
                        conv2d_work_size(&u->tconv[0].c, NM, t, V), conv2d_work_size(&u->tconv[1].c, NM, t, V),
                        u->res == 2 ? conv2d_work_size(&u->rconv.c, NM, t, V) : 0};
        for (int k = 0; k < 7; k++) if (ws[k] > w) w = ws[k];
        t = (t - 1) / u->stride + 1;
    }
    return w;
}

static int alloc_train(Ctrgcn *m, int N, int T) {
    const CtrgcnConfig *c = &m->cfg;
    int V = c->num_point, NM = N * c->num_person;
    Arena a = {NULL, 0, 1};
    m->act_floats = layout(m, &a, N, T);
    // Scratch: the largest (N*M, C, T, V) tensor of any unit, several times;
    // work: the largest conv/ctrgc workspace.
    size_t s = (size_t)N * c->num_person * V * c->in_channels * T;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        const Unit *u = &m->u[l];
        size_t big = (size_t)NM * u->cout * t * V;
        if (big > s) s = big;
        t = (t - 1) / u->stride + 1;
    }
    m->scratch_floats = s;
    m->work_floats = work_floats(m, NM, T);
    m->act = cd_malloc(m->act_floats * sizeof(float));
    m->work = cd_malloc(m->work_floats * sizeof(float));
    int okk = m->act && m->work;
    for (int i = 0; i < NSCRATCH && okk; i++) okk = (m->scratch[i] = cd_malloc(s * sizeof(float))) != NULL;
    if (!okk) return CD_ENOMEM;
    // Touch every page once now: first-touch page faults are slow on some
    // machines (VMs), and this way no step pays them again.
    memset(m->act, 0, m->act_floats * sizeof(float));
    memset(m->work, 0, m->work_floats * sizeof(float));
    for (int i = 0; i < NSCRATCH; i++) memset(m->scratch[i], 0, s * sizeof(float));
    Arena b = {m->act, 0, 0};
    layout(m, &b, N, T);
    return CD_OK;
}

// Carves one inference lane for `cap` samples at T frames from base (NULL:
// only counts); returns its floats. Slots are sized for the largest unit:
// P0/P1 its input or output, S0/S1 its (NM, cout, tin, V) unit_gcn tensors,
// S2 a branch's (NM, bc, tin, V) 1x1 output plus two (NM, bc, tout, V).
static size_t lane_layout(const Ctrgcn *m, Lane *ln, float *base, int cap, int T) {
    const CtrgcnConfig *c = &m->cfg;
    const int V = c->num_point, NM = cap * c->num_person, MVC = c->num_person * V * c->in_channels;
    size_t p = (size_t)NM * c->in_channels * T * V, big = 0, br = 0, cmax = (size_t)MVC;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        const Unit *u = &m->u[l];
        int to = (t - 1) / u->stride + 1;
        size_t pin = (size_t)NM * u->cin * t * V, pout = (size_t)NM * u->cout * to * V;
        size_t gb = (size_t)NM * u->cout * t * V;
        size_t b3 = (size_t)NM * u->bc * t * V + 2 * (size_t)NM * u->bc * to * V;
        if (pin > p) p = pin;
        if (pout > p) p = pout;
        if (gb > big) big = gb;
        if (b3 > br) br = b3;
        if ((size_t)u->cout > cmax) cmax = (size_t)u->cout;
        t = to;
    }
    Arena a = {base, 0, base == NULL};
    size_t sizes[NSLOT] = {p, p, big, big, br};
    for (int i = 0; i < NSLOT; i++) ln->slot[i] = take(&a, sizes[i]);
    ln->xin = take(&a, (size_t)cap * MVC * T);
    ln->bn_mean = take(&a, cmax);
    ln->bn_rstd = take(&a, cmax);
    ln->work = take(&a, work_floats(m, NM, T));
    return a.used;
}

// Lanes of ceil(N / threads) samples, one allocation each (no page shared
// between threads), touched once now as alloc_train does.
static int alloc_infer(Ctrgcn *m, int N, int T) {
    const CtrgcnConfig *c = &m->cfg;
    const int cap = (N + m->threads - 1) / m->threads;
    Lane probe;
    m->act_floats = (size_t)N * c->width[CTRGCN_UNITS - 1];   // feat
    m->lane_floats = lane_layout(m, &probe, NULL, cap, T);
    m->act = cd_malloc(m->act_floats * sizeof(float));
    m->lanes = cd_calloc((size_t)m->threads, sizeof *m->lanes);
    if (!m->act || !m->lanes) return CD_ENOMEM;
    for (int i = 0; i < m->threads; i++) {
        Lane *ln = &m->lanes[i];
        if (!(ln->mem = cd_malloc(m->lane_floats * sizeof(float)))) return CD_ENOMEM;
        memset(ln->mem, 0, m->lane_floats * sizeof(float));
        lane_layout(m, ln, ln->mem, cap, T);
    }
    memset(m->act, 0, m->act_floats * sizeof(float));
    m->feat = m->act;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        m->u[l].tin = t;
        m->u[l].tout = t = (t - 1) / m->u[l].stride + 1;
    }
    return CD_OK;
}

static int ensure_batch(Ctrgcn *m, int N, int T) {
    if (N <= m->alloc_N && T == m->alloc_T && m->act) {
        if (m->mode == CTRGCN_TRAIN) {
            Arena a = {m->act, 0, 0};
            layout(m, &a, N, T);
        }
        return CD_OK;
    }
    free_batch(m);
    int rc = m->mode == CTRGCN_INFER ? alloc_infer(m, N, T) : alloc_train(m, N, T);
    if (rc) {
        free_batch(m);
        return rc;
    }
    m->alloc_N = N;
    m->alloc_T = T;
    return CD_OK;
}

size_t ctrgcn_activation_bytes(const Ctrgcn *m, int N, int T) {
    if (m->mode == CTRGCN_INFER) {
        Lane probe;
        const int cap = (N + m->threads - 1) / m->threads;
        size_t act = (size_t)N * m->cfg.width[CTRGCN_UNITS - 1];
        return (act + (size_t)m->threads * lane_layout(m, &probe, NULL, cap, T)) * sizeof(float);
    }
    Ctrgcn tmp = *m;
    Arena a = {NULL, 0, 1};
    return layout(&tmp, &a, N, T) * sizeof(float);
}

// ---------------------------------------------------------------------------
// Forward

// What a forward runs on: the whole batch (training plan) or one inference
// lane's share of it.
typedef struct Pass {
    Ctrgcn *m;
    int NM;                    // (sample, person) pairs
    float *work;               // conv / CTRGC workspace
    float *bn_mean, *bn_rstd;  // a lane's (largest C) BN statistics; NULL: each Bn's caches
} Pass;

static void bn_fwd(const Pass *p, Bn *bn, float *out, const float *x, int N, int L) {
    Ctrgcn *m = p->m;
    batchnorm_forward(out, p->bn_mean ? p->bn_mean : bn->mean, p->bn_rstd ? p->bn_rstd : bn->rstd, x, bn->w, bn->b,
                      bn->rm, bn->rv, N, bn->C, L, m->training, m->training ? m->sync : NULL);
    if (m->training) (*bn->nbt)++;
}
static void bn_bwd(Ctrgcn *m, Bn *bn, float *dx, const float *dout, const float *x, int N, int L) {
    batchnorm_backward(dx, bn->gw, bn->gb, dout, x, bn->mean, bn->rstd, bn->w, N, bn->C, L, m->training,
                       m->training ? m->sync : NULL);
}
static void conv_fwd(const Pass *p, Conv *cv, float *out, const float *x, int N, int T) {
    conv2d_forward(&cv->c, out, x, cv->w, cv->b, N, T, p->m->cfg.num_point, p->work);
}
static void conv_bwd(Ctrgcn *m, Conv *cv, float *dx, const float *dout, const float *x, int N, int T) {
    conv2d_backward(&cv->c, dx, cv->gw, cv->gb, dout, x, cv->w, N, T, m->cfg.num_point, m->work);
}

static CtrgcParams ctrgc_params(const Unit *u, int i, int V) {
    return (CtrgcParams){u->gconv[i][0].w, u->gconv[i][0].b, u->gconv[i][1].w, u->gconv[i][1].b,
                         u->gconv[i][2].w, u->gconv[i][2].b, u->gconv[i][3].w, u->gconv[i][3].b,
                         u->PA + (size_t)i * V * V, u->alpha};
}
static CtrgcGrads ctrgc_grads(const Unit *u, int i, int V) {
    return (CtrgcGrads){u->gconv[i][0].gw, u->gconv[i][0].gb, u->gconv[i][1].gw, u->gconv[i][1].gb,
                        u->gconv[i][2].gw, u->gconv[i][2].gb, u->gconv[i][3].gw, u->gconv[i][3].gb,
                        u->gPA + (size_t)i * V * V, u->galpha};
}

// Copies branch b's (NM, bc, T, V) into channels [b*bc, (b+1)*bc) of (NM, C, T, V), or back.
static void branch_copy(float *cat, float *br, int NM, int C, int bc, int b, size_t TV, int to_cat) {
    for (int n = 0; n < NM; n++) {
        float *cp = cat + ((size_t)n * C + (size_t)b * bc) * TV, *bp = br + (size_t)n * bc * TV;
        if (to_cat) memcpy(cp, bp, (size_t)bc * TV * sizeof(float));
        else memcpy(bp, cp, (size_t)bc * TV * sizeof(float));
    }
}

// Elementwise helpers, in blocks of 8 (gcc -O2 vectorises those; a block
// is loaded before it is stored, so outputs may alias inputs).
// a += b
static void add_inplace(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = a[i + j] + b[i + j];
        for (int j = 0; j < 8; j++) a[i + j] = t[j];
    }
    for (; i < n; i++) a[i] += b[i];
}
// out = relu(a + b)
static void add_relu(float *out, const float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = relu1(a[i + j] + b[i + j]);
        for (int j = 0; j < 8; j++) out[i + j] = t[j];
    }
    for (; i < n; i++) out[i] = relu1(a[i] + b[i]);
}
// g = out > 0 ? g : 0 (ReLU backward in place: the gradient is consumed)
static void relu_mask(float *g, const float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8], gv[8];   // unconditional loads, or gcc keeps the branch
        for (int j = 0; j < 8; j++) gv[j] = g[i + j];
        for (int j = 0; j < 8; j++) t[j] = out[i + j] > 0.0f ? gv[j] : 0.0f;
        for (int j = 0; j < 8; j++) g[i + j] = t[j];
    }
    for (; i < n; i++) g[i] = out[i] > 0.0f ? g[i] : 0.0f;
}
// out = x * scale + shift per channel of (N, C, L), then ReLU when relu, or
// + add (same shape) then ReLU when add: batchnorm_forward's output formula
// (scale = gamma rstd, shift = beta - mean scale, all float), so recomputing
// a BN output from its input and cached statistics gives the same bits.
static void bn_apply(const Bn *bn, float *out, const float *x, const float *add, int relu, int N, int L) {
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < bn->C; ch++) {
            const float scale = bn->w[ch] * bn->rstd[ch], shift = bn->b[ch] - bn->mean[ch] * scale;
            const size_t off = ((size_t)n * bn->C + ch) * L;
            const float *xr = x + off, *ar = add ? add + off : NULL;
            float *o = out + off;
            int l = 0;
            for (; l + 8 <= L; l += 8) {
                float t[8];
                for (int j = 0; j < 8; j++) t[j] = xr[l + j] * scale + shift;
                if (ar) for (int j = 0; j < 8; j++) t[j] = t[j] + ar[l + j];
                if (relu) for (int j = 0; j < 8; j++) t[j] = relu1(t[j]);
                for (int j = 0; j < 8; j++) o[l + j] = t[j];
            }
            for (; l < L; l++) {
                float v = xr[l] * scale + shift;
                if (ar) v = v + ar[l];
                if (relu) v = relu1(v);
                o[l] = v;
            }
        }
}

// gout (NM, cout, tin, V) = relu(gbn(gsum) + down(x)): forward computes it,
// backward recomputes it (same operations, same bits). dconv_out: the down
// conv's output (written unless recompute); tmp: its BN output (big floats,
// may be dconv_out); gout may be gsum.
static void unit_gout(const Pass *p, Unit *u, float *gout, const float *gsum, float *dconv_out, const float *x,
                      float *tmp, int recompute) {
    int NM = p->NM, L = u->tin * p->m->cfg.num_point;
    size_t big = (size_t)NM * u->cout * L;
    if (!recompute) bn_fwd(p, &u->gbn, gout, gsum, NM, L);
    else bn_apply(&u->gbn, gout, gsum, NULL, 0, NM, L);
    if (u->down) {
        if (!recompute) {
            conv_fwd(p, &u->dconv, dconv_out, x, NM, u->tin);
            bn_fwd(p, &u->dbn, tmp, dconv_out, NM, L);
        } else {
            bn_apply(&u->dbn, tmp, dconv_out, NULL, 0, NM, L);
        }
        add_relu(gout, gout, tmp, big);
    } else {
        add_relu(gout, gout, x, big);
    }
}

// Where unit_forward reads and writes: pointers into the training arena and
// scratch (unit_bufs_train), or into a lane's slots (unit_bufs_lane). With
// inplace, every BN writes over its input, the branch ReLU over its BN, and
// the branches are concatenated straight into out: elementwise steps, the
// same bits as into a separate buffer.
typedef struct UnitBufs {
    const float *x;          // input (NM, cin, tin, V)
    float *out;              // output (NM, cout, tout, V)
    float *gcache[3];        // CTRGC caches, or NULL (nothing kept)
    float *gsum, *gtmp;      // CTRGC 1 output += CTRGC 2, 3 outputs (gtmp) (NM, cout, tin, V)
    float *dconv_out;        // down conv output (NM, cout, tin, V)
    float *c1[NBRANCH];      // branch 1x1 conv outputs (NM, bc, tin, V); branch 3: (NM, bc, tout, V)
    float *c2[2];            // temporal conv outputs (NM, bc, tout, V)
    float *mp;               // max-pool output (NM, bc, tout, V)
    int32_t *argmax;         // and its argmax
    float *rconv_out;        // residual conv output (NM, cout, tout, V)
    int inplace;
    // separate outputs when !inplace
    float *gout, *down;      // unit_gcn output, down BN output (NM, cout, tin, V)
    float *r1;               // a branch's BN + ReLU (NM, bc, tin, V)
    float *bout;             // a branch's last BN (NM, bc, tout, V)
    float *cat;              // the concatenated branches (NM, cout, tout, V)
    float *res;              // residual BN output (NM, cout, tout, V)
} UnitBufs;

static UnitBufs unit_bufs_train(Ctrgcn *m, Unit *u, const float *x) {
    size_t bo = (size_t)m->NM * u->bc * u->tout * m->cfg.num_point;
    UnitBufs b = {.x = x, .out = u->out, .gsum = u->gsum, .gtmp = m->scratch[0], .dconv_out = u->dconv_out,
                  .mp = m->scratch[4], .argmax = (int32_t *)(m->scratch[4] + bo), .rconv_out = u->rconv_out,
                  .gout = m->scratch[2], .down = m->scratch[1], .r1 = m->scratch[3], .bout = m->scratch[1],
                  .cat = m->scratch[0], .res = m->scratch[1]};
    for (int i = 0; i < 3; i++) b.gcache[i] = u->gcache[i];
    for (int k = 0; k < NBRANCH; k++) b.c1[k] = u->c1[k];
    for (int k = 0; k < 2; k++) b.c2[k] = u->c2[k];
    return b;
}

// Unit l of a lane: input in P(l % 2), output in the other; S2 holds one
// branch at a time: its 1x1 output, then the temporal conv or max-pool output
// and the argmax after it.
static UnitBufs unit_bufs_lane(const Pass *p, const Lane *ln, const Unit *u, int l) {
    size_t bin = (size_t)p->NM * u->bc * u->tin * p->m->cfg.num_point;
    size_t bo = (size_t)p->NM * u->bc * u->tout * p->m->cfg.num_point;
    float *s2 = ln->slot[SLOT_S2];
    UnitBufs b = {.x = ln->slot[l % 2 ? SLOT_P1 : SLOT_P0], .out = ln->slot[l % 2 ? SLOT_P0 : SLOT_P1],
                  .gsum = ln->slot[SLOT_S0], .gtmp = ln->slot[SLOT_S1], .dconv_out = ln->slot[SLOT_S1],
                  .mp = s2 + bin, .argmax = (int32_t *)(s2 + bin + bo), .rconv_out = ln->slot[SLOT_S1],
                  .inplace = 1};
    for (int k = 0; k < NBRANCH; k++) b.c1[k] = s2;
    for (int k = 0; k < 2; k++) b.c2[k] = s2 + bin;
    return b;
}

static void unit_forward(const Pass *p, Unit *u, const UnitBufs *b) {
    int NM = p->NM, V = p->m->cfg.num_point, ti = u->tin, to = u->tout;
    size_t big = (size_t)NM * u->cout * ti * V, bout = (size_t)NM * u->cout * to * V;
    const int ip = b->inplace;
    // unit_gcn: sum of the three CTRGCs, BN, + down(x), ReLU
    for (int i = 0; i < 3; i++) {
        CtrgcParams prm = ctrgc_params(u, i, V);
        ctrgc_forward(&u->g, i == 0 ? b->gsum : b->gtmp, b->gcache[i], b->x, &prm, NM, ti, V, p->work);
        if (i) add_inplace(b->gsum, b->gtmp, big);
    }
    float *gout = ip ? b->gsum : b->gout;
    unit_gout(p, u, gout, b->gsum, b->dconv_out, b->x, ip ? b->dconv_out : b->down, 0);
    // MultiScale_TemporalConv on gout -> concatenation
    float *cat = ip ? b->out : b->cat;
    size_t TVo = (size_t)to * V;
    for (int k = 0; k < NBRANCH; k++) {
        float *last;   // the branch's output, (NM, bc, tout, V)
        conv_fwd(p, &u->bconv[k], b->c1[k], gout, NM, ti);
        if (k == 3) {
            last = ip ? b->c1[3] : b->bout;
            bn_fwd(p, &u->bbn[3], last, b->c1[3], NM, to * V);
        } else {
            float *r1 = ip ? b->c1[k] : b->r1;
            bn_fwd(p, &u->bbn[k], r1, b->c1[k], NM, ti * V);
            relu_forward(r1, r1, (size_t)NM * u->bc * ti * V);
            if (k < 2) {
                conv_fwd(p, &u->tconv[k], b->c2[k], r1, NM, ti);
                last = ip ? b->c2[k] : b->bout;
                bn_fwd(p, &u->tbn[k], last, b->c2[k], NM, to * V);
            } else {
                maxpool_t_forward(b->mp, b->argmax, r1, NM, u->bc, ti, V, u->stride);
                last = ip ? b->mp : b->bout;
                bn_fwd(p, &u->mbn, last, b->mp, NM, to * V);
            }
        }
        branch_copy(cat, last, NM, u->cout, u->bc, k, TVo, 1);
    }
    // + residual, ReLU
    if (u->res == 1) {
        add_relu(b->out, cat, b->x, bout);
    } else if (u->res == 2) {
        float *res = ip ? b->rconv_out : b->res;
        conv_fwd(p, &u->rconv, b->rconv_out, b->x, NM, ti);
        bn_fwd(p, &u->rbn, res, b->rconv_out, NM, to * V);
        add_relu(b->out, cat, res, bout);
    } else {
        relu_forward(b->out, cat, bout);
    }
}

// x (N, C, T, V, M), samples [n0, n1) -> xin (n1 - n0, M*V*C, T), data_bn's layout.
static void input_to_bn(const CtrgcnConfig *c, float *xin, const float *x, int n0, int n1, int T) {
    int V = c->num_point, M = c->num_person, C = c->in_channels, MVC = M * V * C;
    for (int n = n0; n < n1; n++)
        for (int ci = 0; ci < C; ci++)
            for (int t = 0; t < T; t++)
                for (int v = 0; v < V; v++)
                    for (int mm = 0; mm < M; mm++)
                        xin[((size_t)(n - n0) * MVC + (size_t)(mm * V + v) * C + ci) * T + t] =
                            x[((((size_t)n * C + ci) * T + t) * V + v) * M + mm];
}

// xbn (n, M*V*C, T) -> u0 (n*M, C, T, V), the first unit's input.
static void bn_to_units(const CtrgcnConfig *c, float *u0, const float *xbn, int n, int T) {
    int V = c->num_point, M = c->num_person, C = c->in_channels, MVC = M * V * C;
    for (int s = 0; s < n; s++)
        for (int mm = 0; mm < M; mm++)
            for (int v = 0; v < V; v++)
                for (int ci = 0; ci < C; ci++)
                    for (int t = 0; t < T; t++)
                        u0[((((size_t)s * M + mm) * C + ci) * T + t) * V + v] =
                            xbn[((size_t)s * MVC + (size_t)(mm * V + v) * C + ci) * T + t];
}

// feat (n, Cl): mean of h (n*M, Cl, TV) over T, V, then over the persons.
static void pool_features(float *feat, const float *h, int n, int M, int Cl, size_t TV) {
    for (int s = 0; s < n; s++)
        for (int ci = 0; ci < Cl; ci++) {
            double sum = 0;
            for (int mm = 0; mm < M; mm++) {
                const float *p = h + (((size_t)s * M + mm) * Cl + ci) * TV;
                double sm = 0;
                for (size_t k = 0; k < TV; k++) sm += p[k];
                sum += sm / (double)TV;
            }
            feat[(size_t)s * Cl + ci] = (float)(sum / M);
        }
}

// One lane of an inference forward: samples [ln->n0, ln->n1) through data_bn,
// the units and the pooling into their rows of feat.
static void lane_forward(Ctrgcn *m, Lane *ln, const float *x, int T) {
    const CtrgcnConfig *c = &m->cfg;
    const int n = ln->n1 - ln->n0, M = c->num_person;
    if (n <= 0) return;
    Pass p = {m, n * M, ln->work, ln->bn_mean, ln->bn_rstd};
    input_to_bn(c, ln->xin, x, ln->n0, ln->n1, T);
    bn_fwd(&p, &m->data_bn, ln->xin, ln->xin, n, T);
    bn_to_units(c, ln->slot[SLOT_P0], ln->xin, n, T);
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        UnitBufs b = unit_bufs_lane(&p, ln, &m->u[l], l);
        unit_forward(&p, &m->u[l], &b);
    }
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    const float *h = ln->slot[CTRGCN_UNITS % 2 ? SLOT_P1 : SLOT_P0];
    pool_features(m->feat + (size_t)ln->n0 * last->cout, h, n, M, last->cout, (size_t)last->tout * c->num_point);
}

typedef struct LaneJob {
    Ctrgcn *m;
    const float *x;
    int T;
} LaneJob;

static void lane_job(void *ctx, int lane) {
    LaneJob *j = ctx;
    lane_forward(j->m, &j->m->lanes[lane], j->x, j->T);
}

// Inference forward: lanes of ceil(N / threads) consecutive samples, BLAS on
// one thread throughout (the lanes are the parallelism, and the logits then
// do not depend on the thread count), the classifier on the caller.
static int forward_infer(Ctrgcn *m, float *logits, const float *x, int N, int T) {
    const CtrgcnConfig *c = &m->cfg;
    int rc = ensure_batch(m, N, T);
    if (rc) return rc;
    m->N = N;
    m->T = T;
    m->NM = N * c->num_person;
    m->training = 0;
    const int share = (N + m->threads - 1) / m->threads;
    for (int i = 0; i < m->threads; i++) {
        Lane *ln = &m->lanes[i];
        ln->n0 = i * share < N ? i * share : N;
        ln->n1 = ln->n0 + share < N ? ln->n0 + share : N;
    }
    const int blas_threads = blas_get_threads();
    if (blas_threads != 1) blas_set_threads(1);
    LaneJob job = {m, x, T};
    if (m->pool) pool_run(m->pool, lane_job, &job);
    else lane_job(&job, 0);
    linear_forward(logits, m->feat, m->fcw, m->fcb, N, c->width[CTRGCN_UNITS - 1], c->num_class);
    if (blas_threads != 1) blas_set_threads(blas_threads);
    return CD_OK;
}

int ctrgcn_forward(Ctrgcn *m, float *logits, const float *x, int N, int T, int training) {
    const CtrgcnConfig *c = &m->cfg;
    if (N < 1 || T < 1) return CD_EARG;
    if (m->mode == CTRGCN_INFER) {
        if (training) {
            CD_ERR("ctrgcn_forward: a training forward needs CTRGCN_TRAIN mode (the model is in CTRGCN_INFER)");
            return CD_EARG;
        }
        return forward_infer(m, logits, x, N, T);
    }
    int rc = ensure_batch(m, N, T);
    if (rc) return rc;
    m->N = N;
    m->T = T;
    m->NM = N * c->num_person;
    m->training = training;
    Pass p = {m, m->NM, m->work, NULL, NULL};
    input_to_bn(c, m->xin, x, 0, N, T);
    bn_fwd(&p, &m->data_bn, m->xbn, m->xin, N, T);
    bn_to_units(c, m->u0, m->xbn, N, T);
    const float *h = m->u0;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        Unit *u = &m->u[l];
        u->x = h;
        UnitBufs b = unit_bufs_train(m, u, h);
        unit_forward(&p, u, &b);
        h = u->out;
    }
    // Mean over T, V then over persons; dropout 0; fc.
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    pool_features(m->feat, h, N, c->num_person, last->cout, (size_t)last->tout * c->num_point);
    linear_forward(logits, m->feat, m->fcw, m->fcb, N, last->cout, c->num_class);
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Backward

// du: gradient w.r.t. the unit's output (NM, cout, tout, V), consumed;
// dx: gradient w.r.t. its input, accumulated (may be NULL).
static void unit_backward(Ctrgcn *m, Unit *u, float *du, float *dx) {
    int NM = m->NM, V = m->cfg.num_point, ti = u->tin, to = u->tout;
    size_t big = (size_t)NM * u->cout * ti * V, bout = (size_t)NM * u->cout * to * V;
    size_t bin = (size_t)NM * u->bc * ti * V, bo = (size_t)NM * u->bc * to * V, TVo = (size_t)to * V;
    float *dg = m->scratch[0], *d1 = m->scratch[1], *gout = m->scratch[2], *dbr = m->scratch[3];
    float *mp = dbr + bin, *dr = m->scratch[4], *r1 = m->scratch[5];
    int32_t *argmax = (int32_t *)(mp + bin);
    relu_mask(du, u->out, bout);   // du is now the grad of the pre-ReLU sum
    // residual
    if (u->res == 1 && dx) {
        add_inplace(dx, du, bout);
    } else if (u->res == 2) {
        memset(d1, 0, bout * sizeof(float));
        bn_bwd(m, &u->rbn, d1, du, u->rconv_out, NM, to * V);
        conv_bwd(m, &u->rconv, dx, d1, u->x, NM, ti);
    }
    // temporal branches -> dg (grad of gout, recomputed into scratch 2)
    Pass pass = {m, NM, m->work, NULL, NULL};
    unit_gout(&pass, u, gout, u->gsum, u->dconv_out, u->x, d1, 1);
    memset(dg, 0, big * sizeof(float));
    for (int b = 0; b < NBRANCH; b++) {
        branch_copy(du, dbr, NM, u->cout, u->bc, b, TVo, 0);
        if (b == 3) {
            memset(d1, 0, bo * sizeof(float));
            bn_bwd(m, &u->bbn[3], d1, dbr, u->c1[3], NM, to * V);
            conv_bwd(m, &u->bconv[3], dg, d1, gout, NM, ti);
            continue;
        }
        bn_apply(&u->bbn[b], r1, u->c1[b], NULL, 1, NM, ti * V);   // the branch's ReLU output
        memset(dr, 0, bin * sizeof(float));
        memset(d1, 0, bo * sizeof(float));
        if (b < 2) {
            bn_bwd(m, &u->tbn[b], d1, dbr, u->c2[b], NM, to * V);
            conv_bwd(m, &u->tconv[b], dr, d1, r1, NM, ti);
        } else {
            maxpool_t_forward(mp, argmax, r1, NM, u->bc, ti, V, u->stride);
            bn_bwd(m, &u->mbn, d1, dbr, mp, NM, to * V);
            maxpool_t_backward(dr, d1, argmax, NM, u->bc, ti, V, u->stride);
        }
        // ReLU then BN of the branch
        relu_mask(dr, r1, bin);
        memset(d1, 0, bin * sizeof(float));
        bn_bwd(m, &u->bbn[b], d1, dr, u->c1[b], NM, ti * V);
        conv_bwd(m, &u->bconv[b], dg, d1, gout, NM, ti);
    }
    // unit_gcn: ReLU, then BN of the sum (+ down path) -> CTRGCs
    relu_mask(dg, gout, big);
    if (u->down) {
        memset(d1, 0, big * sizeof(float));
        bn_bwd(m, &u->dbn, d1, dg, u->dconv_out, NM, ti * V);
        conv_bwd(m, &u->dconv, dx, d1, u->x, NM, ti);
    } else if (dx) {
        add_inplace(dx, dg, big);
    }
    float *dsum = gout;   // gout is no longer needed
    memset(dsum, 0, big * sizeof(float));
    bn_bwd(m, &u->gbn, dsum, dg, u->gsum, NM, ti * V);
    for (int i = 0; i < 3; i++) {
        CtrgcParams p = ctrgc_params(u, i, V);
        CtrgcGrads g = ctrgc_grads(u, i, V);
        ctrgc_backward(&u->g, dx, &g, dsum, u->gcache[i], u->x, &p, NM, ti, V, m->work);
    }
}

int ctrgcn_backward(Ctrgcn *m, const float *dlogits) { return ctrgcn_backward_ex(m, dlogits, NULL, NULL); }

int ctrgcn_backward_ex(Ctrgcn *m, const float *dlogits, const float *dfeat_extra, const float *dlast_extra) {
    if (m->mode != CTRGCN_TRAIN || !m->training || !m->act) {
        CD_ERR("ctrgcn_backward needs a training forward first (in CTRGCN_TRAIN mode)");
        return CD_EARG;
    }
    const CtrgcnConfig *c = &m->cfg;
    int N = m->N, V = c->num_point, M = c->num_person, C = c->in_channels, MVC = M * V * C;
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    int Cl = last->cout;
    size_t TV = (size_t)last->tout * V;
    // The gradient chain ping-pongs between scratch slots 6 and 7 (0-5 are
    // unit_backward's own): grad of the current unit output in `da`, of its
    // input in `db`.
    float *da = m->scratch[6], *db = m->scratch[7];
    float *dfeat = cd_calloc((size_t)N * Cl, sizeof(float));
    if (!dfeat) return CD_ENOMEM;
    linear_backward(dfeat, m->gfcw, m->gfcb, dlogits, m->feat, m->fcw, N, Cl, c->num_class);
    grads_ready(m, m->fc_first);
    if (dfeat_extra)
        for (size_t i = 0; i < (size_t)N * Cl; i++) dfeat[i] += dfeat_extra[i];
    for (int n = 0; n < N; n++)
        for (int mm = 0; mm < M; mm++)
            for (int ci = 0; ci < Cl; ci++) {
                float g = (float)((double)dfeat[(size_t)n * Cl + ci] / ((double)M * (double)TV));
                float *p = da + (((size_t)n * M + mm) * Cl + ci) * TV;
                for (size_t k = 0; k < TV; k++) p[k] = g;
            }
    if (dlast_extra)
        for (size_t i = 0; i < (size_t)m->NM * Cl * TV; i++) da[i] += dlast_extra[i];
    for (int l = CTRGCN_UNITS - 1; l >= 0; l--) {
        Unit *u = &m->u[l];
        size_t nin = (size_t)m->NM * u->cin * u->tin * V;
        memset(db, 0, nin * sizeof(float));
        unit_backward(m, u, da, db);
        grads_ready(m, u->pfirst);
        float *t = da; da = db; db = t;
    }
    // da: grad of u0 (N*M, C, T, V) -> (N, MVC, T) -> data_bn backward (input grad unused)
    int T = m->T;
    float *dxbn = db;
    for (int n = 0; n < N; n++)
        for (int mm = 0; mm < M; mm++)
            for (int v = 0; v < V; v++)
                for (int ci = 0; ci < C; ci++)
                    for (int t = 0; t < T; t++)
                        dxbn[((size_t)n * MVC + (size_t)(mm * V + v) * C + ci) * T + t] =
                            da[((((size_t)n * M + mm) * C + ci) * T + t) * V + v];
    bn_bwd(m, &m->data_bn, NULL, dxbn, m->xin, N, T);
    grads_ready(m, 0);
    free(dfeat);
    return CD_OK;
}

double ctrgcn_forward_macs(const Ctrgcn *m, int T) {
    const CtrgcnConfig *c = &m->cfg;
    double V = c->num_point, M = c->num_person, macs = 0;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        const Unit *u = &m->u[l];
        int to = (t - 1) / u->stride + 1;
        double ci = u->cin, co = u->cout, rel = u->g.rel, bc = u->bc;
        // CTRGC x3: conv1, conv2, conv3 (T V), conv4 (V V), contraction (T V V)
        macs += 3 * (2 * rel * ci * t * V + co * ci * t * V + co * rel * V * V + co * t * V * V);
        if (u->down) macs += co * ci * t * V;
        macs += 3 * bc * co * t * V + bc * co * to * V;   // branch 1x1 convs
        macs += 2 * bc * bc * 5 * to * V;                 // temporal convs
        if (u->res == 2) macs += co * ci * to * V;
        t = to;
    }
    macs += (double)c->width[CTRGCN_UNITS - 1] * c->num_class / M;
    return macs * M;
}
