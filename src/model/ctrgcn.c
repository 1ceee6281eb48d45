// ctrgcn.c - the CTR-GCN model: parameter table under the official
// state_dict names, creation, initialisation and the memory plans (see
// ctrgcn.h; layers in layers.h). The passes through data_bn, ten TCN-GCN
// units, pooling and the classifier are in ctrgcn_pass.c.
//
// Two memory plans. CTRGCN_TRAIN: one arena holds every activation backward
// needs, plus NSCRATCH scratch buffers (scratch_sizes). CTRGCN_INFER: the batch is
// cut into lanes of whole samples (one per thread); each lane runs the whole
// network through NSLOT buffers of its own (unit input and output ping-pong,
// two unit-sized temporaries and one for the temporal branches), doing every
// BN, ReLU and residual add in place. The same layer calls on the same
// per-sample data, so the same bits (tests/2030-ctrgcn-infer).
#include "ctrgcn_impl.h"
#include "blas.h"
#include "graph.h"
#include "pool.h"
#include "status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
float *ctrgcn_grad_of(Ctrgcn *m, const float *p) { return p && m->grads ? m->grads + (p - m->params) : NULL; }

static void reg_bn(Ctrgcn *m, Bn *bn, int C, const char *prefix) {
    int64_t s[1] = {C};
    bn->C = C;
    bn->w = reg(m, CK_PARAM, 1, s, "%s.weight", prefix);
    bn->b = reg(m, CK_PARAM, 1, s, "%s.bias", prefix);
    bn->rm = reg(m, CK_BUFFER, 1, s, "%s.running_mean", prefix);
    bn->rv = reg(m, CK_BUFFER, 1, s, "%s.running_var", prefix);
    bn->nbt = reg(m, CK_COUNTER, 0, s, "%s.num_batches_tracked", prefix);
    bn->gw = ctrgcn_grad_of(m, bn->w);
    bn->gb = ctrgcn_grad_of(m, bn->b);
}

static void reg_conv(Ctrgcn *m, Conv *cv, int cin, int cout, int kt, int stride, int dil, const char *prefix) {
    int64_t sw[4] = {cout, cin, kt, 1}, sb[1] = {cout};
    cv->c = (Conv2d){cin, cout, kt, stride, dil, (kt + (kt - 1) * (dil - 1) - 1) / 2};
    cv->w = reg(m, CK_PARAM, 4, sw, "%s.weight", prefix);
    cv->b = reg(m, CK_PARAM, 1, sb, "%s.bias", prefix);
    cv->gw = ctrgcn_grad_of(m, cv->w);
    cv->gb = ctrgcn_grad_of(m, cv->b);
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
        // conv3's output (3 cout floats per input position, the largest cache)
        // is recomputed in backward below the widest units: cin multiply-adds
        // per float not kept, the cheapest memory to give back (official model:
        // units 1-7, 314 of the 472 MB at batch 16, for 43% of conv3's
        // forward multiply-adds again; docs/performance.md, the memory plan)
        u->g = (Ctrgc){.cin = cin, .cout = cout, .rel = ctrgc_rel_channels(cin), .nsub = 3,
                       .recompute_x3 = cout < c->width[CTRGCN_UNITS - 1]};
        int64_t spa[3] = {3, V, V}, sal[1] = {1};
        u->PA = reg(m, CK_PARAM, 3, spa, "l%d.gcn1.PA", l + 1);
        u->alpha = reg(m, CK_PARAM, 1, sal, "l%d.gcn1.alpha", l + 1);
        u->gPA = ctrgcn_grad_of(m, u->PA);
        u->galpha = ctrgcn_grad_of(m, u->alpha);
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
    m->gfcw = ctrgcn_grad_of(m, m->fcw);
    m->gfcb = ctrgcn_grad_of(m, m->fcb);
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
    free(m->bnv);
    m->bnv = NULL;
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
    if (!m->params_shared) free(m->params);
    free(m->own_grads ? m->own_grads : m->grads);
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
int ctrgcn_share_params(Ctrgcn *rep, Ctrgcn *m) {
    if (rep->nparams != m->nparams || rep->params_shared) return CD_EARG;
    free(rep->params);
    rep->params = m->params;
    rep->params_shared = 1;
    point_tensors(rep);
    return CD_OK;
}

void ctrgcn_grads_into(Ctrgcn *rep, float *g) {
    if (g && !rep->grads) return;   // inference: no gradients
    if (g ? rep->grads == g : !rep->own_grads) return;
    if (g) {
        if (!rep->own_grads) rep->own_grads = rep->grads;
        rep->grads = g;
    } else {
        rep->grads = rep->own_grads;
        rep->own_grads = NULL;
        ctrgcn_zero_grad(rep);   // its own again, as after a step
    }
    point_tensors(rep);
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
void ctrgcn_set_profile(Ctrgcn *m, Prof *prof) { m->prof = prof; }
void ctrgcn_grad_stages(const Ctrgcn *m, size_t first[CTRGCN_GRAD_STAGES]) {
    first[0] = m->fc_first;
    for (int l = CTRGCN_UNITS - 1; l >= 0; l--) first[CTRGCN_UNITS - l] = m->u[l].pfirst;
    first[CTRGCN_GRAD_STAGES - 1] = 0;   // data_bn's span starts the buffer
}
void ctrgcn_grads_ready(const Ctrgcn *m, size_t first) {
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
    ctrgcn_grads_into(m, NULL);
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
        u->gcache = take(a, ctrgc_cache_size(&u->g, NM, u->tin, V));
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

// The training passes' scratch slots (ctrgcn_pass.c), each sized for the
// largest unit's use of it. Per unit, with big = (NM, cout, tin, V) and
// bin, bo = (NM, cout / 4, tin or tout, V):
//   0 backward: the gradient of the gcn output (big)
//   1 backward: a BN's input gradient (big: the down BN's)
//   2 the gcn output: forward, and recomputed in backward (big)
//   3 forward: a branch's BN + ReLU (bin); backward: the max-pool output
//     and its argmax (bin + bo)
//   4 forward: the max-pool output and argmax (2 bo); backward: the three
//     branches' ReLU gradients (3 bin)
//   5 backward: the three branches' ReLU outputs (3 bin)
//   6, 7 backward: the gradients of a unit's output and input, and of
//     data_bn's output (the largest unit input or output)
static void scratch_sizes(const Ctrgcn *m, int N, int T, size_t n[NSCRATCH]) {
    const CtrgcnConfig *c = &m->cfg;
    const int V = c->num_point, NM = N * c->num_person;
    for (int i = 0; i < NSCRATCH; i++) n[i] = 1;
    n[6] = n[7] = (size_t)N * c->num_person * V * c->in_channels * T;
    int t = T;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        const Unit *u = &m->u[l];
        const int to = (t - 1) / u->stride + 1;
        const size_t big = (size_t)NM * u->cout * t * V, bin = (size_t)NM * u->bc * t * V;
        const size_t bo = (size_t)NM * u->bc * to * V, in = (size_t)NM * u->cin * t * V;
        const size_t out = (size_t)NM * u->cout * to * V;
        const size_t need[NSCRATCH] = {big, big, big, bin + bo, 2 * bo > 3 * bin ? 2 * bo : 3 * bin, 3 * bin,
                                       in > out ? in : out, in > out ? in : out};
        for (int i = 0; i < NSCRATCH; i++) if (need[i] > n[i]) n[i] = need[i];
        t = to;
    }
}

static int alloc_train(Ctrgcn *m, int N, int T) {
    const CtrgcnConfig *c = &m->cfg;
    int NM = N * c->num_person;
    Arena a = {NULL, 0, 1};
    m->act_floats = layout(m, &a, N, T);
    // Scratch: per slot, the largest use of it; work: the largest conv/ctrgc
    // workspace.
    size_t cmax = 1;
    for (int l = 0; l < CTRGCN_UNITS; l++)
        if ((size_t)m->u[l].cout > cmax) cmax = (size_t)m->u[l].cout;
    scratch_sizes(m, N, T, m->scratch_floats);
    m->work_floats = work_floats(m, NM, T);
    m->act = cd_malloc(m->act_floats * sizeof(float));
    m->work = cd_malloc(m->work_floats * sizeof(float));
    m->bnv = cd_malloc(BNV_LAYERS * (2 * cmax + 1) * sizeof(double));
    int okk = m->act && m->work && m->bnv;
    for (int i = 0; i < NSCRATCH && okk; i++)
        okk = (m->scratch[i] = cd_malloc(m->scratch_floats[i] * sizeof(float))) != NULL;
    if (!okk) return CD_ENOMEM;
    // Touch every page once now: first-touch page faults are slow on some
    // machines (VMs), and this way no step pays them again.
    memset(m->act, 0, m->act_floats * sizeof(float));
    memset(m->work, 0, m->work_floats * sizeof(float));
    for (int i = 0; i < NSCRATCH; i++) memset(m->scratch[i], 0, m->scratch_floats[i] * sizeof(float));
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

int ctrgcn_ensure_batch(Ctrgcn *m, int N, int T) {
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

