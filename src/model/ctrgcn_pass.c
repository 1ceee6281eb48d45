// ctrgcn_pass.c - the CTR-GCN model's forward and backward passes (see
// ctrgcn.h; the state in ctrgcn_impl.h): data_bn, the ten TCN-GCN units,
// pooling and the classifier, in training mode (saving what backward needs)
// or in inference lanes (ctrgcn.c has the memory plans).
#include "ctrgcn_impl.h"
#include "blas.h"
#include "prof.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Forward

// What a forward runs on: the whole batch (training plan) or one inference
// lane's share of it.
typedef struct Pass {
    Ctrgcn *m;
    int NM;                    // (sample, person) pairs
    float *work;               // conv / CTRGC workspace
    float *bn_mean, *bn_rstd;  // a lane's (largest C) BN statistics; NULL: each Bn's caches
    Prof *prof;                // the step profile (prof.h), or NULL: training passes only (lanes run at once)
} Pass;

// The layer wrappers time themselves into the profile when there is one
// (prof_start / prof_stop are a pointer test otherwise). Bytes: each tensor
// read or written once per pass over it (prof.h).
static ProfRow bn_row(const Ctrgcn *m, const Bn *bn) { return bn == &m->data_bn ? PROF_DATA_BN : PROF_BN; }
static void bn_fwd(const Pass *p, Bn *bn, float *out, const float *x, int N, int L) {
    Ctrgcn *m = p->m;
    double t0 = prof_start(p->prof);
    batchnorm_forward(out, p->bn_mean ? p->bn_mean : bn->mean, p->bn_rstd ? p->bn_rstd : bn->rstd, x, bn->w, bn->b,
                      bn->rm, bn->rv, N, bn->C, L, m->training, m->training ? m->sync : NULL);
    if (m->training) (*bn->nbt)++;
    prof_stop(p->prof, bn_row(m, bn), t0, 0, 4.0 * N * bn->C * L * (m->training ? 3 : 2));
}
static void bn_bwd(Ctrgcn *m, Bn *bn, float *dx, const float *dout, const float *x, int N, int L) {
    double t0 = prof_start(m->prof);
    batchnorm_backward(dx, bn->gw, bn->gb, dout, x, bn->mean, bn->rstd, bn->w, N, bn->C, L, m->training,
                       m->training ? m->sync : NULL);
    prof_stop(m->prof, bn_row(m, bn), t0, 0, 4.0 * N * bn->C * L * (dx ? 6 : 2));
}
// Synchronised BN in groups: the BN layers whose inputs are ready at the same
// time (forward: a unit's gcn, down and residual BNs; its four branch BNs;
// the two after the temporal convs with the max-pool's. Backward: those fed
// by the unit's output gradient; the three branch BNs under the ReLUs; the
// gcn and down BNs) pack their sums into m->bnv, each layer's vector as
// batchnorm_forward/backward reduces it, and share one all-reduce: 3 per
// unit and pass instead of 8 to 10, and the same sums, so the same bits.
typedef struct BnIn {
    Bn *bn;
    const float *x;      // the layer's input (NM, C, L)
    int L;
    const float *dout;   // backward: the gradient of its output, samples ds floats apart
    size_t ds;
    double *v;           // its (reduced) sums, set by the group
} BnIn;

static size_t bn_group_sums(Ctrgcn *m, BnIn *in, int n, double *v, int backward) {
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        Bn *bn = in[i].bn;
        const size_t xs = (size_t)bn->C * in[i].L;
        in[i].v = v + off;
        if (backward)
            batchnorm_grad_sums(in[i].v, bn->gw, bn->gb, in[i].dout, in[i].ds, in[i].x, xs, bn->mean, bn->rstd,
                                m->NM, bn->C, in[i].L);
        else if (m->training)
            batchnorm_sums(in[i].v, in[i].x, xs, m->NM, bn->C, in[i].L);
        off += 2 * (size_t)bn->C + 1;
    }
    if (m->training && m->sync && off) m->sync->allreduce_sum(v, (int)off, m->sync->ctx);
    return off;
}
static double bn_group_bytes(const Ctrgcn *m, const BnIn *in, int n, double passes) {
    double b = 0;
    for (int i = 0; i < n; i++) b += 4.0 * m->NM * in[i].bn->C * in[i].L * passes;
    return b;
}
// Forward: each layer's mean and rstd caches (and running statistics).
static void bn_stats_group(const Pass *p, BnIn *in, int n) {
    Ctrgcn *m = p->m;
    double t0 = prof_start(p->prof);
    bn_group_sums(m, in, n, m->bnv, 0);
    for (int i = 0; i < n; i++) {
        Bn *bn = in[i].bn;
        batchnorm_stats(bn->mean, bn->rstd, bn->rm, bn->rv, in[i].v, bn->C, m->training);
        if (m->training) (*bn->nbt)++;
    }
    prof_stop(p->prof, PROF_BN, t0, 0, bn_group_bytes(m, in, n, m->training ? 1 : 0));
}
// Backward: each layer's dgamma, dbeta and reduced sums at v; returns the floats of v used.
static size_t bn_grad_group(Ctrgcn *m, BnIn *in, int n, double *v) {
    double t0 = prof_start(m->prof);
    size_t used = bn_group_sums(m, in, n, v, 1);
    prof_stop(m->prof, PROF_BN, t0, 0, bn_group_bytes(m, in, n, 2));
    return used;
}
// dx (dense, as the layer's input) += the input gradient of a grouped layer.
static void bn_grad_dx(Ctrgcn *m, const BnIn *in, float *dx) {
    const Bn *bn = in->bn;
    double t0 = prof_start(m->prof);
    batchnorm_grad_input(dx, in->v, in->dout, in->ds, in->x, (size_t)bn->C * in->L, bn->mean, bn->rstd, bn->w,
                         m->NM, bn->C, in->L, m->training);
    prof_stop(m->prof, PROF_BN, t0, 0, 4.0 * m->NM * bn->C * in->L * 4);
}
// flops of one pass of a conv over N samples (forward; backward: dw and dx each)
static double conv_flops(const Conv *cv, int N, int T, int V) {
    return 2.0 * N * cv->c.cout * cv->c.cin * cv->c.kt * (double)conv2d_out_t(&cv->c, T) * V;
}
static double conv_bytes(const Conv *cv, int N, int T, int V) {
    return 4.0 * N * V * ((double)cv->c.cin * T + (double)cv->c.cout * conv2d_out_t(&cv->c, T));
}
static void conv_fwd(const Pass *p, Conv *cv, float *out, const float *x, int N, int T) {
    double t0 = prof_start(p->prof);
    conv2d_forward(&cv->c, out, x, cv->w, cv->b, N, T, p->m->cfg.num_point, p->work);
    prof_stop(p->prof, cv->c.kt > 1 ? PROF_CONV_T : PROF_CONV_1X1, t0, conv_flops(cv, N, T, p->m->cfg.num_point),
              conv_bytes(cv, N, T, p->m->cfg.num_point));
}
static void conv_bwd(Ctrgcn *m, Conv *cv, float *dx, const float *dout, const float *x, int N, int T) {
    double t0 = prof_start(m->prof);
    conv2d_backward(&cv->c, dx, cv->gw, cv->gb, dout, x, cv->w, N, T, m->cfg.num_point, m->work);
    prof_stop(m->prof, cv->c.kt > 1 ? PROF_CONV_T : PROF_CONV_1X1, t0,
              conv_flops(cv, N, T, m->cfg.num_point) * (dx ? 2 : 1), conv_bytes(cv, N, T, m->cfg.num_point) * (dx ? 2 : 1));
}
static int tb_at(const TBlock *tb, int j, int l) { return tb->start[(size_t)j * (CTRGCN_UNITS + 1) + l]; }

// The unit's CTRGC geometry with the pass's profile (its parts time themselves),
// over a frame block its time-mean summed over the lanes.
static Ctrgc ctrgc_of(const Ctrgcn *m, const Unit *u, Prof *prof) {
    Ctrgc g = u->g;
    g.prof = prof;
    if (m->tb) {
        g.tfull = tb_at(m->tb, m->tb->lanes, (int)(u - m->u));
        g.tsum = m->tb->fsum;
        g.tctx = m->tb->ctx;
    }
    return g;
}

// p[3], g[3]: the three subsets' parameters and gradients (one ctrgc call sums them).
static void ctrgc_params(CtrgcParams *p, const Unit *u, int V) {
    for (int i = 0; i < 3; i++)
        p[i] = (CtrgcParams){u->gconv[i][0].w, u->gconv[i][0].b, u->gconv[i][1].w, u->gconv[i][1].b,
                         u->gconv[i][2].w, u->gconv[i][2].b, u->gconv[i][3].w, u->gconv[i][3].b,
                         u->PA + (size_t)i * V * V, u->alpha};
}
static void ctrgc_grads(CtrgcGrads *g, const Unit *u, int V) {
    for (int i = 0; i < 3; i++)
        g[i] = (CtrgcGrads){u->gconv[i][0].gw, u->gconv[i][0].gb, u->gconv[i][1].gw, u->gconv[i][1].gb,
                        u->gconv[i][2].gw, u->gconv[i][2].gb, u->gconv[i][3].gw, u->gconv[i][3].gb,
                        u->gPA + (size_t)i * V * V, u->galpha};
}

// Copies branch b's (NM, bc, T, V) into channels [b*bc, (b+1)*bc) of (NM, C, T, V), or back.
static void branch_copy(Prof *pr, float *cat, float *br, int NM, int C, int bc, int b, size_t TV, int to_cat) {
    double t0 = prof_start(pr);
    for (int n = 0; n < NM; n++) {
        float *cp = cat + ((size_t)n * C + (size_t)b * bc) * TV, *bp = br + (size_t)n * bc * TV;
        if (to_cat) memcpy(cp, bp, (size_t)bc * TV * sizeof(float));
        else memcpy(bp, cp, (size_t)bc * TV * sizeof(float));
    }
    prof_stop(pr, PROF_COPY, t0, 0, 8.0 * NM * bc * TV);
}
// a (n) = 0 (gradient buffers before they accumulate)
static void zero(Prof *pr, float *a, size_t n) {
    double t0 = prof_start(pr);
    memset(a, 0, n * sizeof(float));
    prof_stop(pr, PROF_COPY, t0, 0, 4.0 * (double)n);
}
static void relu_fwd(Prof *pr, float *out, const float *x, size_t n) {
    double t0 = prof_start(pr);
    relu_forward(out, x, n);
    prof_stop(pr, PROF_ACT, t0, 0, 8.0 * (double)n);
}

// Elementwise helpers, in blocks of 8 (gcc -O2 vectorises those; a block
// is loaded before it is stored, so outputs may alias inputs).
// a += b
static void add_inplace(Prof *pr, float *a, const float *b, size_t n) {
    double t0 = prof_start(pr);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = a[i + j] + b[i + j];
        for (int j = 0; j < 8; j++) a[i + j] = t[j];
    }
    for (; i < n; i++) a[i] += b[i];
    prof_stop(pr, PROF_ACT, t0, 0, 12.0 * (double)n);
}
// out = relu(a + b)
static void add_relu(Prof *pr, float *out, const float *a, const float *b, size_t n) {
    double t0 = prof_start(pr);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = relu1(a[i + j] + b[i + j]);
        for (int j = 0; j < 8; j++) out[i + j] = t[j];
    }
    for (; i < n; i++) out[i] = relu1(a[i] + b[i]);
    prof_stop(pr, PROF_ACT, t0, 0, 12.0 * (double)n);
}
// g = out > 0 ? g : 0 (ReLU backward in place: the gradient is consumed)
static void relu_mask(Prof *pr, float *g, const float *out, size_t n) {
    double t0 = prof_start(pr);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float t[8], gv[8];   // unconditional loads, or gcc keeps the branch
        for (int j = 0; j < 8; j++) gv[j] = g[i + j];
        for (int j = 0; j < 8; j++) t[j] = out[i + j] > 0.0f ? gv[j] : 0.0f;
        for (int j = 0; j < 8; j++) g[i + j] = t[j];
    }
    for (; i < n; i++) g[i] = out[i] > 0.0f ? g[i] : 0.0f;
    prof_stop(pr, PROF_ACT, t0, 0, 12.0 * (double)n);
}
// A BN output fused with what consumes it: out = x * scale + shift per
// channel of x (N, C, L), then + add, or + add_bn(add) (another BN's output,
// the same formula) when add, then ReLU when relu: batchnorm_forward's output
// formula (scale = gamma rstd, shift = beta - mean scale, all float), and
// each fused step the float operation the separate pass made, so recomputing
// a BN output from its input and cached statistics, or fusing the residual
// add, the second BN and the ReLU into one pass, gives the same bits as the
// passes one after the other. x is dense; out and add have samples os and as
// floats apart (a channel slice of a wider tensor: a branch writes its
// channels of the concatenation straight into the unit's output).
typedef struct BnAdd {
    const float *add;   // NULL: nothing added
    size_t as;          // its sample stride
    const Bn *bn;       // non-NULL: add is this BN's input (its output is added)
    int c0;             // add's first channel in bn's (a branch's slice of the residual BN)
} BnAdd;
static void bn_apply_ex(Prof *pr, const Bn *bn, float *out, size_t os, const float *x, BnAdd ad, int relu, int N,
                        int L) {
    double t0 = prof_start(pr);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < bn->C; ch++) {
            const float scale = bn->w[ch] * bn->rstd[ch], shift = bn->b[ch] - bn->mean[ch] * scale;
            float ascale = 1.0f, ashift = 0.0f;
            if (ad.bn) {
                const int c = ad.c0 + ch;
                ascale = ad.bn->w[c] * ad.bn->rstd[c], ashift = ad.bn->b[c] - ad.bn->mean[c] * ascale;
            }
            const float *xr = x + ((size_t)n * bn->C + ch) * L;
            const float *ar = ad.add ? ad.add + (size_t)n * ad.as + (size_t)ch * L : NULL;
            float *o = out + (size_t)n * os + (size_t)ch * L;
            int l = 0;
            for (; l + 8 <= L; l += 8) {
                float t[8];
                for (int j = 0; j < 8; j++) t[j] = xr[l + j] * scale + shift;
                if (ar && ad.bn) for (int j = 0; j < 8; j++) t[j] = t[j] + (ar[l + j] * ascale + ashift);
                else if (ar) for (int j = 0; j < 8; j++) t[j] = t[j] + ar[l + j];
                if (relu) for (int j = 0; j < 8; j++) t[j] = relu1(t[j]);
                for (int j = 0; j < 8; j++) o[l + j] = t[j];
            }
            for (; l < L; l++) {
                float v = xr[l] * scale + shift;
                if (ar) v = v + (ad.bn ? ar[l] * ascale + ashift : ar[l]);
                if (relu) v = relu1(v);
                o[l] = v;
            }
        }
    prof_stop(pr, PROF_BN, t0, 0, 4.0 * N * bn->C * L * (ad.add ? 3 : 2));
}
// out = x * scale + shift over dense (N, C, L), then ReLU when relu.
static void bn_apply(Prof *pr, const Bn *bn, float *out, const float *x, int relu, int N, int L) {
    bn_apply_ex(pr, bn, out, (size_t)bn->C * L, x, (BnAdd){NULL, 0, NULL, 0}, relu, N, L);
}

// ---------------------------------------------------------------------------
// Time blocks (ctrgcn_impl.h's TBlock): the halos of the temporal ops

// The halo of branch b < 3's temporal op: the conv's padding, the max-pool's 1.
static int tb_pad(const Unit *u, int b) { return b < 2 ? u->tconv[b].c.pad : 1; }

// ext (bc, tin + 2 pad, V) := branch b's BN + ReLU output over frames
// [t0 - pad, t1 + pad) of unit l's row, taken from the lanes that hold them
// (their 1x1 outputs c1[b], complete once the branch BNs' statistics are
// reduced, and the same statistics in every lane); frames beyond the row's
// ends are `fill`, the op's padding (0 for a conv, -inf for the max-pool).
static void tb_ext(Prof *pr, const Ctrgcn *m, int l, int b, float *ext, float fill) {
    const TBlock *tb = m->tb;
    const Unit *u = &m->u[l];
    const int V = m->cfg.num_point, pad = tb_pad(u, b), e0 = tb_at(tb, tb->lane, l) - pad;
    const int Te = u->tin + 2 * pad, Tf = tb_at(tb, tb->lanes, l);
    for (int j = 0; j < tb->lanes; j++) {
        const int j0 = tb_at(tb, j, l), j1 = tb_at(tb, j + 1, l);
        const int a0 = j0 > e0 ? j0 : e0, a1 = j1 < e0 + Te ? j1 : e0 + Te;
        if (a1 <= a0) continue;
        const float *src = tb->rep[j]->u[l].c1[b];
        for (int ch = 0; ch < u->bc; ch++)
            memcpy(ext + ((size_t)ch * Te + (a0 - e0)) * V, src + ((size_t)ch * (j1 - j0) + (a0 - j0)) * V,
                   (size_t)(a1 - a0) * V * sizeof(float));
    }
    bn_apply(pr, &u->bbn[b], ext, ext, 1, 1, Te * V);
    for (int e = 0; e < Te; e++)
        if (e0 + e < 0 || e0 + e >= Tf)
            for (int ch = 0; ch < u->bc; ch++)
                for (int v = 0; v < V; v++) ext[((size_t)ch * Te + e) * V + v] = fill;
}

// drb (bc, tin, V) += the gradient of branch b's input over this lane's
// frames, from every lane's halo gradient dext[b] (its own included) in
// lane order: a run is bitwise the same for a given split.
static void tb_gather(const Ctrgcn *m, int l, int b, float *drb) {
    const TBlock *tb = m->tb;
    const Unit *u = &m->u[l];
    const int V = m->cfg.num_point, pad = tb_pad(u, b);
    const int t0 = tb_at(tb, tb->lane, l), t1 = tb_at(tb, tb->lane + 1, l);
    for (int j = 0; j < tb->lanes; j++) {
        const int e0 = tb_at(tb, j, l) - pad, Te = tb_at(tb, j + 1, l) - tb_at(tb, j, l) + 2 * pad;
        const int a0 = t0 > e0 ? t0 : e0, a1 = t1 < e0 + Te ? t1 : e0 + Te;
        if (a1 <= a0) continue;
        const float *src = tb->rep[j]->tb->dext[b];
        const size_t n = (size_t)(a1 - a0) * V;
        for (int ch = 0; ch < u->bc; ch++) {
            float *d = drb + ((size_t)ch * (t1 - t0) + (a0 - t0)) * V;
            const float *g = src + ((size_t)ch * Te + (a0 - e0)) * V;
            for (size_t i = 0; i < n; i++) d[i] += g[i];
        }
    }
}

// gout (NM, cout, tin, V) = relu(gbn(gsum) + down(x)): forward computes it,
// backward recomputes it (same operations, same bits; in one pass when
// recompute, the BNs' statistics being known). dconv_out: the down conv's
// output (written unless recompute); tmp: its BN output unless recompute
// (big floats, may be dconv_out); gout may be gsum.
static void unit_gout(const Pass *p, Unit *u, float *gout, const float *gsum, float *dconv_out, const float *x,
                      float *tmp, int recompute) {
    int NM = p->NM, L = u->tin * p->m->cfg.num_point;
    size_t big = (size_t)NM * u->cout * L;
    if (recompute) {
        BnAdd ad = {u->down ? dconv_out : x, (size_t)u->cout * L, u->down ? &u->dbn : NULL, 0};
        bn_apply_ex(p->prof, &u->gbn, gout, (size_t)u->cout * L, gsum, ad, 1, NM, L);
        return;
    }
    bn_fwd(p, &u->gbn, gout, gsum, NM, L);
    if (u->down) {
        conv_fwd(p, &u->dconv, dconv_out, x, NM, u->tin);
        bn_fwd(p, &u->dbn, tmp, dconv_out, NM, L);
        add_relu(p->prof, gout, gout, tmp, big);
    } else {
        add_relu(p->prof, gout, gout, x, big);
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
    float *gcache;           // the CTRGCs' cache, or NULL (nothing kept)
    float *gsum;             // the sum of the three CTRGCs (NM, cout, tin, V)
    float *dconv_out;        // down conv output (NM, cout, tin, V)
    float *c1[NBRANCH];      // branch 1x1 conv outputs (NM, bc, tin, V); branch 3: (NM, bc, tout, V)
    float *c2[2];            // temporal conv outputs (NM, bc, tout, V)
    float *mp;               // max-pool output (NM, bc, tout, V)
    int32_t *argmax;         // and its argmax
    float *rconv_out;        // residual conv output (NM, cout, tout, V)
    int inplace;
    // separate outputs when !inplace
    float *gout;             // unit_gcn output (NM, cout, tin, V)
    float *r1;               // a branch's BN + ReLU (NM, bc, tin, V)
} UnitBufs;

static UnitBufs unit_bufs_train(Ctrgcn *m, Unit *u, const float *x) {
    size_t bo = (size_t)m->NM * u->bc * u->tout * m->cfg.num_point;
    UnitBufs b = {.x = x, .out = u->out, .gsum = u->gsum, .gcache = u->gcache, .dconv_out = u->dconv_out,
                  .mp = m->scratch[4], .argmax = (int32_t *)(m->scratch[4] + bo), .rconv_out = u->rconv_out,
                  .gout = m->scratch[2], .r1 = m->scratch[3]};
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
                  .gsum = ln->slot[SLOT_S0], .dconv_out = ln->slot[SLOT_S1],
                  .mp = s2 + bin, .argmax = (int32_t *)(s2 + bin + bo), .rconv_out = ln->slot[SLOT_S1],
                  .inplace = 1};
    for (int k = 0; k < NBRANCH; k++) b.c1[k] = s2;
    for (int k = 0; k < 2; k++) b.c2[k] = s2 + bin;
    return b;
}

// Branch k < 3 after its BN and ReLU (r1): the temporal conv's or the
// max-pool's output, the input of the branch's last BN.
static const float *branch_mid(const Pass *p, Unit *u, const UnitBufs *b, int k, const float *r1) {
    int NM = p->NM, V = p->m->cfg.num_point, ti = u->tin, to = u->tout;
    if (k < 2) {
        conv_fwd(p, &u->tconv[k], b->c2[k], r1, NM, ti);
        return b->c2[k];
    }
    double t0 = prof_start(p->prof);
    maxpool_t_forward(b->mp, b->argmax, r1, NM, u->bc, ti, V, u->stride);
    prof_stop(p->prof, PROF_MAXPOOL, t0, 0, 4.0 * NM * u->bc * V * (ti + 2.0 * to));
    return b->mp;
}
// branch_mid over a frame block: the op unpadded over the block and its
// halo (tb_ext, in the lane's ext[k]).
static const float *branch_mid_tb(const Pass *p, Unit *u, const UnitBufs *b, int k) {
    Ctrgcn *m = p->m;
    const int pad = tb_pad(u, k), Te = u->tin + 2 * pad;
    float *ext = m->tb->ext[k];
    tb_ext(p->prof, m, (int)(u - m->u), k, ext, k < 2 ? 0.0f : -INFINITY);
    if (k < 2) {
        Conv cv = u->tconv[k];
        cv.c.pad = 0;
        conv_fwd(p, &cv, b->c2[k], ext, p->NM, Te);
        return b->c2[k];
    }
    maxpool_t_forward_pad(b->mp, b->argmax, ext, p->NM, u->bc, Te, p->m->cfg.num_point, u->stride, 0);
    return b->mp;
}
static Bn *branch_last_bn(Unit *u, int k) { return k == 3 ? &u->bbn[3] : k < 2 ? &u->tbn[k] : &u->mbn; }

// The training plan's unit forward (every branch keeps its tensors): the same
// operations as unit_forward_lane, in an order that lets the BN layers whose
// inputs are ready together share one reduction (bn_stats_group).
static void unit_forward_grouped(const Pass *p, Unit *u, const UnitBufs *b) {
    int NM = p->NM, V = p->m->cfg.num_point, ti = u->tin, to = u->tout;
    size_t TVo = (size_t)to * V;
    // gcn BN with the down and residual BNs (all three inputs exist now)
    BnIn g[4] = {{&u->gbn, b->gsum, ti * V, NULL, 0, NULL}};
    int n = 1;
    if (u->down) {
        conv_fwd(p, &u->dconv, b->dconv_out, b->x, NM, ti);
        g[n++] = (BnIn){&u->dbn, b->dconv_out, ti * V, NULL, 0, NULL};
    }
    if (u->res == 2) {
        conv_fwd(p, &u->rconv, b->rconv_out, b->x, NM, ti);
        g[n++] = (BnIn){&u->rbn, b->rconv_out, to * V, NULL, 0, NULL};
    }
    bn_stats_group(p, g, n);
    unit_gout(p, u, b->gout, b->gsum, b->dconv_out, b->x, NULL, 1);
    // the four branches' first BNs, then the three BNs after them
    for (int k = 0; k < NBRANCH; k++) {
        conv_fwd(p, &u->bconv[k], b->c1[k], b->gout, NM, ti);
        g[k] = (BnIn){&u->bbn[k], b->c1[k], (k == 3 ? to : ti) * V, NULL, 0, NULL};
    }
    bn_stats_group(p, g, NBRANCH);
    for (int k = 0; k < 3; k++) {
        const float *mid;
        if (p->m->tb) {
            mid = branch_mid_tb(p, u, b, k);
        } else {
            bn_apply(p->prof, &u->bbn[k], b->r1, b->c1[k], 1, NM, ti * V);
            mid = branch_mid(p, u, b, k, b->r1);
        }
        g[k] = (BnIn){branch_last_bn(u, k), mid, to * V, NULL, 0, NULL};
    }
    bn_stats_group(p, g, 3);
    // Each branch's last BN + the residual (identity, or the residual BN's
    // output) + ReLU in one pass, straight into its channels of the output.
    BnAdd res = {NULL, (size_t)u->cout * TVo, NULL, 0};
    if (u->res == 1) res.add = b->x;
    else if (u->res == 2) res.add = b->rconv_out, res.bn = &u->rbn;
    for (int k = 0; k < NBRANCH; k++) {
        BnAdd ad = res;
        if (ad.add) ad.add += (size_t)k * u->bc * TVo, ad.c0 = k * u->bc;
        bn_apply_ex(p->prof, branch_last_bn(u, k), b->out + (size_t)k * u->bc * TVo, (size_t)u->cout * TVo,
                    k == 3 ? b->c1[3] : g[k].x, ad, 1, NM, to * V);
    }
}

static void unit_forward(const Pass *p, Unit *u, const UnitBufs *b) {
    int NM = p->NM, V = p->m->cfg.num_point, ti = u->tin, to = u->tout;
    size_t bout = (size_t)NM * u->cout * to * V;
    const int ip = b->inplace;
    const Ctrgc g = ctrgc_of(p->m, u, p->prof);
    // unit_gcn: sum of the three CTRGCs (one call), BN, + down(x), ReLU
    CtrgcParams prm[3];
    ctrgc_params(prm, u, V);
    ctrgc_forward(&g, b->gsum, b->gcache, b->x, prm, NM, ti, V, p->work);
    if (!ip) { unit_forward_grouped(p, u, b); return; }
    // A lane: one branch at a time through one buffer, each BN on its own
    // (inference: the running statistics, nothing to reduce).
    float *gout = b->gsum;
    unit_gout(p, u, gout, b->gsum, b->dconv_out, b->x, b->dconv_out, 0);
    // MultiScale_TemporalConv on gout -> concatenation
    float *cat = b->out;
    size_t TVo = (size_t)to * V;
    for (int k = 0; k < NBRANCH; k++) {
        float *last = b->c1[k];   // the branch's output, (NM, bc, tout, V), in place
        conv_fwd(p, &u->bconv[k], b->c1[k], gout, NM, ti);
        bn_fwd(p, &u->bbn[k], last, b->c1[k], NM, (k == 3 ? to : ti) * V);
        if (k < 3) {
            relu_fwd(p->prof, last, last, (size_t)NM * u->bc * ti * V);
            last = (float *)branch_mid(p, u, b, k, last);
            bn_fwd(p, branch_last_bn(u, k), last, last, NM, to * V);
        }
        branch_copy(p->prof, cat, last, NM, u->cout, u->bc, k, TVo, 1);
    }
    // + residual, ReLU
    if (u->res == 1) {
        add_relu(p->prof, b->out, cat, b->x, bout);
    } else if (u->res == 2) {
        conv_fwd(p, &u->rconv, b->rconv_out, b->x, NM, ti);
        bn_fwd(p, &u->rbn, b->rconv_out, b->rconv_out, NM, to * V);
        add_relu(p->prof, b->out, cat, b->rconv_out, bout);
    } else {
        relu_fwd(p->prof, b->out, cat, bout);
    }
}

// x (N, C, Tx, V, M), samples [n0, n1), frames [tx0, tx0 + T) -> xin (n1 - n0,
// M*V*C, T), data_bn's layout.
static void input_to_bn(const CtrgcnConfig *c, float *xin, const float *x, int n0, int n1, int T, int Tx, int tx0) {
    int V = c->num_point, M = c->num_person, C = c->in_channels, MVC = M * V * C;
    for (int n = n0; n < n1; n++)
        for (int ci = 0; ci < C; ci++)
            for (int t = 0; t < T; t++)
                for (int v = 0; v < V; v++)
                    for (int mm = 0; mm < M; mm++)
                        xin[((size_t)(n - n0) * MVC + (size_t)(mm * V + v) * C + ci) * T + t] =
                            x[((((size_t)n * C + ci) * Tx + tx0 + t) * V + v) * M + mm];
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

// The sum of a channel's TV floats, in double (pooling).
static double pool_sum(const float *p, size_t TV) {
    double sm = 0;
    for (size_t k = 0; k < TV; k++) sm += p[k];
    return sm;
}

// feat (n, Cl): mean of h (n*M, Cl, TV) over T, V, then over the persons.
static void pool_features(float *feat, const float *h, int n, int M, int Cl, size_t TV) {
    for (int s = 0; s < n; s++)
        for (int ci = 0; ci < Cl; ci++) {
            double sum = 0;
            for (int mm = 0; mm < M; mm++) sum += pool_sum(h + (((size_t)s * M + mm) * Cl + ci) * TV, TV) / (double)TV;
            feat[(size_t)s * Cl + ci] = (float)(sum / M);
        }
}

// pool_features of a frame block of one row (M = 1): the lanes' sums over
// their frames added (the same double sums in another order), over the
// row's frames x joints TVf.
static void pool_features_tb(Ctrgcn *m, const float *h, int Cl, size_t TV, size_t TVf) {
    double *s = m->bnv;   // (Cl) doubles: no BN group is pending here
    for (int ci = 0; ci < Cl; ci++) s[ci] = pool_sum(h + (size_t)ci * TV, TV);
    m->tb->dsum(s, Cl, m->tb->ctx);
    for (int ci = 0; ci < Cl; ci++) m->feat[ci] = (float)(s[ci] / (double)TVf / m->cfg.num_person);
}

// One lane of an inference forward: samples [ln->n0, ln->n1) through data_bn,
// the units and the pooling into their rows of feat.
static void lane_forward(Ctrgcn *m, Lane *ln, const float *x, int T) {
    const CtrgcnConfig *c = &m->cfg;
    const int n = ln->n1 - ln->n0, M = c->num_person;
    if (n <= 0) return;
    Pass p = {m, n * M, ln->work, ln->bn_mean, ln->bn_rstd, NULL};
    input_to_bn(c, ln->xin, x, ln->n0, ln->n1, T, T, 0);
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
    int rc = ctrgcn_ensure_batch(m, N, T);
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

static int stage_begin(Ctrgcn *m, int n, int rows, int T, int training);

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
    int rc = stage_begin(m, N, N * c->num_person, T, training);
    if (rc) return rc;
    if (m->prof) m->prof->phase = PROF_FWD;
    ctrgcn_stem_forward(m, m->u0, x);
    ctrgcn_units_forward(m, m->u0);
    ctrgcn_head_forward(m, logits, m->u[CTRGCN_UNITS - 1].out);
    return CD_OK;
}

// ---------------------------------------------------------------------------
// The training forward's stages (ctrgcn_impl.h): the samples' data_bn, the
// units over their (sample, person) rows, the samples' pooling and fc.

static int stage_begin(Ctrgcn *m, int n, int rows, int T, int training) {
    const int M = m->cfg.num_person;
    int cap = (rows + M - 1) / M;
    if (n > cap) cap = n;
    int rc = ctrgcn_ensure_batch(m, cap, T);
    if (rc) return rc;
    m->N = n;
    m->T = T;
    m->NM = rows;
    m->training = training;
    return CD_OK;
}

int ctrgcn_stage_begin(Ctrgcn *m, int n, int rows, int T) {
    if (n < 0 || rows < 1 || T < 1 || m->mode != CTRGCN_TRAIN) return CD_EARG;
    return stage_begin(m, n, rows, T, 1);
}

void ctrgcn_stem_forward(Ctrgcn *m, float *u0, const float *x) {
    const CtrgcnConfig *c = &m->cfg;
    const int N = m->N, T = m->T;
    Pass p = {m, m->NM, m->work, NULL, NULL, m->prof};
    const double bytes_in = 4.0 * N * c->num_person * c->num_point * c->in_channels * T;
    double t0 = prof_start(m->prof);
    if (m->tb) input_to_bn(c, m->xin, x, 0, N, T, tb_at(m->tb, m->tb->lanes, 0), tb_at(m->tb, m->tb->lane, 0));
    else input_to_bn(c, m->xin, x, 0, N, T, T, 0);
    prof_stop(m->prof, PROF_DATA_BN, t0, 0, 2 * bytes_in);
    if (m->tb && m->tb->person > 0) {
        // Rows x time blocks: the first person's lanes of the sample hold the
        // same frames of every person and give data_bn's sums (its channels
        // are per person); this lane adds none (0 samples) to the reduction
        // and applies the statistics to its frames.
        const Bn *bn = &m->data_bn;
        bn_fwd(&p, &m->data_bn, m->xbn, m->xin, 0, T);
        batchnorm_apply(m->xbn, m->xin, (size_t)bn->C * T, bn->mean, bn->rstd, bn->w, bn->b, N, bn->C, T);
    } else {
        bn_fwd(&p, &m->data_bn, m->xbn, m->xin, N, T);
    }
    t0 = prof_start(m->prof);
    bn_to_units(c, u0, m->xbn, N, T);
    prof_stop(m->prof, PROF_DATA_BN, t0, 0, 2 * bytes_in);
}

void ctrgcn_units_forward(Ctrgcn *m, const float *u0) {
    Pass p = {m, m->NM, m->work, NULL, NULL, m->prof};
    const float *h = u0;
    for (int l = 0; l < CTRGCN_UNITS; l++) {
        Unit *u = &m->u[l];
        u->x = h;
        UnitBufs b = unit_bufs_train(m, u, h);
        unit_forward(&p, u, &b);
        h = u->out;
    }
}

// Mean over T, V then over persons; dropout 0; fc.
void ctrgcn_head_forward(Ctrgcn *m, float *logits, const float *last) {
    const CtrgcnConfig *c = &m->cfg;
    const Unit *u = &m->u[CTRGCN_UNITS - 1];
    if (m->N < 1) return;
    double t0 = prof_start(m->prof);
    if (m->tb) {   // every lane of the sample takes the features; its first the logits
        pool_features_tb(m, last, u->cout, (size_t)u->tout * c->num_point,
                         (size_t)tb_at(m->tb, m->tb->lanes, CTRGCN_UNITS) * c->num_point);
        if (m->tb->head) linear_forward(logits, m->feat, m->fcw, m->fcb, m->N, u->cout, c->num_class);
    } else {
        pool_features(m->feat, last, m->N, c->num_person, u->cout, (size_t)u->tout * c->num_point);
        linear_forward(logits, m->feat, m->fcw, m->fcb, m->N, u->cout, c->num_class);
    }
    prof_stop(m->prof, PROF_HEAD, t0, 2.0 * m->N * u->cout * c->num_class,
              4.0 * m->N * c->num_person * u->cout * u->tout * c->num_point);
}

// ---------------------------------------------------------------------------
// Backward

// du: gradient w.r.t. the unit's output (NM, cout, tout, V), consumed;
// dx: gradient w.r.t. its input, accumulated (may be NULL). The BN layers go
// in three groups of one reduction each (bn_grad_group): those fed by du (the
// residual BN and each branch's last), the three branch BNs under the ReLUs,
// then the gcn and down BNs; every sum into dx, dg and the parameter
// gradients is taken in the order of the layer-by-layer pass.
static void unit_backward(Ctrgcn *m, Unit *u, float *du, float *dx) {
    int NM = m->NM, V = m->cfg.num_point, ti = u->tin, to = u->tout;
    size_t big = (size_t)NM * u->cout * ti * V, bout = (size_t)NM * u->cout * to * V;
    size_t bin = (size_t)NM * u->bc * ti * V, bo = (size_t)NM * u->bc * to * V, TVo = (size_t)to * V;
    // scratch 3: the max-pool output and argmax; 4, 5: each branch's dr and
    // ReLU output (3 x bin <= big each)
    float *dg = m->scratch[0], *d1 = m->scratch[1], *gout = m->scratch[2], *mp = m->scratch[3];
    float *dr = m->scratch[4], *r1 = m->scratch[5];
    int32_t *argmax = (int32_t *)(mp + bin);
    Prof *pr = m->prof;
    relu_mask(pr, du, u->out, bout);   // du is now the grad of the pre-ReLU sum
    // branch 2's max-pool output, recomputed (bit for bit): its BN's input
    bn_apply(pr, &u->bbn[2], r1 + 2 * bin, u->c1[2], 1, NM, ti * V);
    const TBlock *tb = m->tb;
    const int l = (int)(u - m->u);
    if (tb) tb_ext(pr, m, l, 2, tb->ext[2], -INFINITY);   // over the block and its halo, as forward
    double t0 = prof_start(pr);
    if (tb) maxpool_t_forward_pad(mp, argmax, tb->ext[2], NM, u->bc, ti + 2, V, u->stride, 0);
    else maxpool_t_forward(mp, argmax, r1 + 2 * bin, NM, u->bc, ti, V, u->stride);
    prof_stop(pr, PROF_MAXPOOL, t0, 0, 4.0 * NM * u->bc * V * (ti + 2.0 * to));
    // group 1: the BNs fed by du
    BnIn g1[NBRANCH + 1], g2[3], g3[2];
    const float *lastx[NBRANCH] = {u->c2[0], u->c2[1], mp, u->c1[3]};
    for (int b = 0; b < NBRANCH; b++)
        g1[b] = (BnIn){branch_last_bn(u, b), lastx[b], to * V, du + (size_t)b * u->bc * TVo, u->cout * TVo, NULL};
    int n1 = NBRANCH;
    if (u->res == 2) g1[n1++] = (BnIn){&u->rbn, u->rconv_out, to * V, du, u->cout * TVo, NULL};
    size_t used = bn_grad_group(m, g1, n1, m->bnv);
    // residual
    if (u->res == 1 && dx) {
        add_inplace(pr, dx, du, bout);
    } else if (u->res == 2) {
        zero(pr, d1, bout);
        bn_grad_dx(m, &g1[NBRANCH], d1);
        conv_bwd(m, &u->rconv, dx, d1, u->x, NM, ti);
    }
    // temporal branches -> dg (grad of gout, recomputed into scratch 2)
    Pass pass = {m, NM, m->work, NULL, NULL, pr};
    unit_gout(&pass, u, gout, u->gsum, u->dconv_out, u->x, d1, 1);
    zero(pr, dg, big);
    for (int b = 0; b < 3; b++) {
        float *drb = dr + b * bin, *r1b = r1 + b * bin;
        if (b < 2) bn_apply(pr, &u->bbn[b], r1b, u->c1[b], 1, NM, ti * V);   // the branch's ReLU output
        zero(pr, drb, bin);
        zero(pr, d1, bo);
        bn_grad_dx(m, &g1[b], d1);
        if (tb) {   // into the lane's halo gradient, gathered below
            const int Te = ti + 2 * tb_pad(u, b);
            zero(pr, tb->dext[b], (size_t)NM * u->bc * Te * V);
            if (b < 2) {
                tb_ext(pr, m, l, b, tb->ext[b], 0.0f);
                Conv cv = u->tconv[b];
                cv.c.pad = 0;
                conv_bwd(m, &cv, tb->dext[b], d1, tb->ext[b], NM, Te);
            } else {
                maxpool_t_backward_pad(tb->dext[b], d1, argmax, NM, u->bc, Te, V, u->stride, 0);
            }
        } else if (b < 2) {
            conv_bwd(m, &u->tconv[b], drb, d1, r1b, NM, ti);
        } else {
            t0 = prof_start(pr);
            maxpool_t_backward(drb, d1, argmax, NM, u->bc, ti, V, u->stride);
            prof_stop(pr, PROF_MAXPOOL, t0, 0, 4.0 * NM * u->bc * V * (2.0 * ti + 2.0 * to));
        }
    }
    if (tb) {   // every lane's halo gradients written: each takes its frames'
        tb->wait(tb->ctx);
        for (int b = 0; b < 3; b++) tb_gather(m, l, b, dr + b * bin);
    }
    for (int b = 0; b < 3; b++) {
        float *drb = dr + b * bin;
        relu_mask(pr, drb, r1 + b * bin, bin);
        g2[b] = (BnIn){&u->bbn[b], u->c1[b], ti * V, drb, (size_t)u->bc * ti * V, NULL};
    }
    // group 2: the branch BNs under the ReLUs; then the 1x1 convs into dg in branch order
    bn_grad_group(m, g2, 3, m->bnv + used);
    for (int b = 0; b < NBRANCH; b++) {
        const BnIn *in = b < 3 ? &g2[b] : &g1[3];
        zero(pr, d1, b < 3 ? bin : bo);
        bn_grad_dx(m, in, d1);
        conv_bwd(m, &u->bconv[b], dg, d1, gout, NM, ti);
    }
    // unit_gcn: ReLU, then group 3: the BN of the sum and the down path's -> CTRGCs
    relu_mask(pr, dg, gout, big);
    int n3 = 0;
    g3[n3++] = (BnIn){&u->gbn, u->gsum, ti * V, dg, (size_t)u->cout * ti * V, NULL};
    if (u->down) g3[n3++] = (BnIn){&u->dbn, u->dconv_out, ti * V, dg, (size_t)u->cout * ti * V, NULL};
    bn_grad_group(m, g3, n3, m->bnv);
    if (u->down) {
        zero(pr, d1, big);
        bn_grad_dx(m, &g3[1], d1);
        conv_bwd(m, &u->dconv, dx, d1, u->x, NM, ti);
    } else if (dx) {
        add_inplace(pr, dx, dg, big);
    }
    float *dsum = gout;   // gout is no longer needed
    zero(pr, dsum, big);
    bn_grad_dx(m, &g3[0], dsum);
    const Ctrgc cg = ctrgc_of(m, u, pr);
    CtrgcParams p[3];
    CtrgcGrads g[3];
    ctrgc_params(p, u, V);
    ctrgc_grads(g, u, V);
    ctrgc_backward(&cg, dx, g, dsum, u->gcache, u->x, p, NM, ti, V, m->work);
}

int ctrgcn_backward(Ctrgcn *m, const float *dlogits) { return ctrgcn_backward_ex(m, dlogits, NULL, NULL); }

int ctrgcn_backward_ex(Ctrgcn *m, const float *dlogits, const float *dfeat_extra, const float *dlast_extra) {
    if (m->mode != CTRGCN_TRAIN || !m->training || !m->act) {
        CD_ERR("ctrgcn_backward needs a training forward first (in CTRGCN_TRAIN mode)");
        return CD_EARG;
    }
    if (m->prof) m->prof->phase = PROF_BWD;
    // The gradient chain ping-pongs between scratch slots CHAIN_A and CHAIN_B
    // (0-5 are unit_backward's own), starting from the last unit output's in CHAIN_A.
    int rc = ctrgcn_head_backward(m, m->scratch[CHAIN_A], dlogits, dfeat_extra, dlast_extra);
    if (!rc) ctrgcn_stem_backward(m, ctrgcn_units_backward(m, m->scratch[CHAIN_A]));
    return rc;
}

int ctrgcn_head_backward(Ctrgcn *m, float *dlast, const float *dlogits, const float *dfeat_extra,
                         const float *dlast_extra) {
    const CtrgcnConfig *c = &m->cfg;
    const int N = m->N, M = c->num_person;
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    const int Cl = last->cout;
    // rows of dlast: the batch's, or a frame block's one row (m->NM)
    const size_t TV = (size_t)last->tout * c->num_point, NM = m->tb ? (size_t)m->NM : (size_t)N * M;
    if (N < 1) return CD_OK;
    float *dfeat = cd_calloc((size_t)N * Cl, sizeof(float));
    if (!dfeat) return CD_ENOMEM;
    double t0 = prof_start(m->prof);
    // A frame block (one row): every lane takes dfeat, the sample's first
    // lane fc's gradients; the mean's gradient spreads over the row's T'V.
    const int fc_grads = !m->tb || m->tb->head;
    const size_t TVf = m->tb ? (size_t)tb_at(m->tb, m->tb->lanes, CTRGCN_UNITS) * c->num_point : TV;
    const size_t x0 = m->tb ? (size_t)tb_at(m->tb, m->tb->lane, CTRGCN_UNITS) * c->num_point : 0;
    linear_backward(dfeat, fc_grads ? m->gfcw : NULL, fc_grads ? m->gfcb : NULL, dlogits, m->feat, m->fcw, N, Cl,
                    c->num_class);
    ctrgcn_grads_ready(m, m->fc_first);
    if (dfeat_extra)
        for (size_t i = 0; i < (size_t)N * Cl; i++) dfeat[i] += dfeat_extra[i];
    for (size_t r = 0; r < NM; r++) {   // row r of sample r / M (a frame block: of its one sample)
        const size_t n = m->tb ? 0 : r / (size_t)M;
        for (int ci = 0; ci < Cl; ci++) {
            float g = (float)((double)dfeat[n * Cl + ci] / ((double)M * (double)TVf));
            float *p = dlast + (r * Cl + ci) * TV;
            for (size_t k = 0; k < TV; k++) p[k] = g;
        }
    }
    if (dlast_extra)   // (N*M, Cl, T'f, V): this block's frames of each row
        for (size_t r = 0; r < NM * Cl; r++)
            for (size_t k = 0; k < TV; k++) dlast[r * TV + k] += dlast_extra[r * TVf + x0 + k];
    prof_stop(m->prof, PROF_HEAD, t0, 2.0 * 2.0 * N * Cl * c->num_class, 4.0 * NM * Cl * TV);
    free(dfeat);
    return CD_OK;
}

const float *ctrgcn_units_backward(Ctrgcn *m, const float *dlast) {
    const int V = m->cfg.num_point;
    const Unit *last = &m->u[CTRGCN_UNITS - 1];
    float *da = m->scratch[CHAIN_A], *db = m->scratch[CHAIN_B];
    if (dlast != da) memcpy(da, dlast, (size_t)m->NM * last->cout * last->tout * V * sizeof(float));
    for (int l = CTRGCN_UNITS - 1; l >= 0; l--) {
        Unit *u = &m->u[l];
        size_t nin = (size_t)m->NM * u->cin * u->tin * V;
        zero(m->prof, db, nin);
        unit_backward(m, u, da, db);
        ctrgcn_grads_ready(m, u->pfirst);
        float *t = da; da = db; db = t;
    }
    return da;
}

// du0: grad of u0 (N*M, C, T, V) -> (N, MVC, T) -> data_bn backward (input
// grad unused). A frame block has its one row's (1, C, T, V): its person's
// channels, zeros in the others' (their lanes add theirs).
void ctrgcn_stem_backward(Ctrgcn *m, const float *du0) {
    const CtrgcnConfig *c = &m->cfg;
    const int N = m->N, T = m->T, V = c->num_point, M = c->num_person, C = c->in_channels, MVC = M * V * C;
    const int p0 = m->tb ? m->tb->person : 0, np = m->tb ? 1 : M;   // the persons du0 holds
    float *dxbn = du0 == m->scratch[CHAIN_B] ? m->scratch[CHAIN_A] : m->scratch[CHAIN_B];
    double t0 = prof_start(m->prof);
    if (np < M) memset(dxbn, 0, (size_t)N * MVC * T * sizeof(float));
    for (int n = 0; n < N; n++)
        for (int mm = p0; mm < p0 + np; mm++)
            for (int v = 0; v < V; v++)
                for (int ci = 0; ci < C; ci++)
                    for (int t = 0; t < T; t++)
                        dxbn[((size_t)n * MVC + (size_t)(mm * V + v) * C + ci) * T + t] =
                            du0[((((size_t)n * np + mm - p0) * C + ci) * T + t) * V + v];
    prof_stop(m->prof, PROF_DATA_BN, t0, 0, 8.0 * N * MVC * T);
    if (N > 0) bn_bwd(m, &m->data_bn, NULL, dxbn, m->xin, N, T);
    ctrgcn_grads_ready(m, 0);
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
