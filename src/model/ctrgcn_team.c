// ctrgcn_team.c - a rank's threads splitting its training batch (see
// ctrgcn_team.h): replicas of the model, one per lane, whose BN reductions
// meet at a barrier and are summed in lane order.
#include "ctrgcn_team.h"
#include "ctrgcn_impl.h"   // ctrgcn_ensure_batch, BNV_LAYERS: sizes known before any lane waits for another
#include "blas.h"
#include "pool.h"
#include "status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct TeamLane {
    struct CtrgcnTeam *team;
    int lane;
    Ctrgcn *rep;       // this lane's replica
    BnSync sync;       // -> team_reduce
    int r0, r1;        // its (sample, person) rows of the current batch: the units'
    int s0, s1;        // its samples: those whose first row it holds (data_bn, pooling, fc)
    TBlock tb;         // its frame block when the lanes split rows by their frames (time blocks)
    double *dslot[2];  // its published sums (team_dsum), alternating between two slots
    float *fslot[2];   // the same for team_fsum
    int parity;        // the slot of its next sum
    float *halo;       // tb's ext and dext buffers (halo_cap floats)
    size_t halo_cap;
    int rc;
    int site;          // its barriers passed in the current job (the wait profile's site)
    double mark;       // the wait profile: when it started its job or left its last barrier
} TeamLane;

// The barriers' waits, measured (ctrgcn_team_time_waits): per job kind,
// barrier site (its order in the job: every lane passes the same sites in
// the same order) and lane, the wall seconds a lane worked before the site
// and waited in it; per job and lane the wake-up lag (pool_run to the lane's
// start) and the wait at the job's end (for the slowest lane to finish).
enum { WAIT_FWD, WAIT_BWD, WAIT_SUM, WAIT_OTHER, WAIT_JOBS };
enum { WAIT_SITES = 160 };
typedef struct TeamWaits {
    int lanes;                 // room per site (the team's threads)
    double *work, *wait;       // (WAIT_JOBS, WAIT_SITES, lanes)
    char kind[WAIT_JOBS][WAIT_SITES];
    double *lag, *end;         // (WAIT_JOBS, lanes)
    double *stop;              // (lanes) each lane's end of the current job
    double t_run;              // when the current job was started
} TeamWaits;

static void waits_free(TeamWaits *w);

static double wait_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct CtrgcnTeam {
    Ctrgcn *m;
    const BnSync *sync;       // the rank-level reduction (NULL: none)
    int threads;
    int lanes;                // of the last forward (1: it was the model's own)
    Pool *pool;
    TeamLane *lane;           // (threads)
    // the lanes' meeting point: a barrier that a failed lane breaks (the
    // others then stop waiting instead of hanging)
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, broken;
    unsigned long gen;
    double **vec;             // (threads) each lane's sums at the current reduction
    double *sum;              // (sum_cap) their total, then the ranks'
    size_t sum_cap;
    // time blocks: the lanes split rows' frames (tblock: one row's, or
    // rows x time blocks); start: their blocks' first frames at each unit
    // (TBlock.start, the same for every row's group), rep: the replicas
    int tblock;
    int *start;
    Ctrgcn **rep;
    size_t fsum_cap;          // floats of a lane's fslot: the widest unit's cin x V
    // the whole batch's tensors between the stages, gathered from the lanes
    // when the cut runs through a sample (shared): the units' input u0
    // (N*M, C, T, V) and its gradient, the last unit's output (N*M, C_last,
    // T', V) and its gradient; last and the pooled features (N, C_last) also
    // for ctrgcn_team_keep_outputs
    int shared, keep;
    int grads_zero;           // every lane's own gradients are zero (sum_job zeroes them as it reads)
    int zero_model;           // ctrgcn_team_zero_grad: the model's gradients are to be zeroed before the
                              // next team backward (not done yet: the sum stores, or the lanes zero slices)
    float *u0, *du0, *last, *dlast, *feat;
    size_t u0_cap, du0_cap, last_cap, dlast_cap, feat_cap;   // floats
    size_t u0_n, last_n, feat_n;                             // floats a row (u0, last), a sample (feat)
    // the current job
    float *logits;
    const float *x, *dlogits, *dfeat_x, *dlast_x;
    int T;
    TeamWaits *waits;         // ctrgcn_team_time_waits: the barriers' waits measured (NULL: not)
    int job;                  // the current job's kind (WaitJob), for the wait profile
};

static void team_break(CtrgcnTeam *t) {
    pthread_mutex_lock(&t->mu);
    t->broken = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

// The wait profile: lane k worked from its mark to w0 and waited until w1 at
// its next site, of kind: n a BN reduction, t a CTR-GC time-mean, h the
// halos' gradient, p the pooling, z the gradients' zeroing, s a stage of a
// cut through a sample.
static void wait_note(CtrgcnTeam *t, int k, char kind, double w0, double w1) {
    TeamWaits *w = t->waits;
    TeamLane *l = &t->lane[k];
    const int site = l->site++;
    if (site < WAIT_SITES) {
        const size_t i = ((size_t)t->job * WAIT_SITES + site) * w->lanes + k;
        w->work[i] += w0 - l->mark;
        w->wait[i] += w1 - w0;
        w->kind[t->job][site] = kind;
    }
    l->mark = w1;
}

// Waits for every lane of the job (lane k, at a site of that kind: the wait
// profile's); 1 when a lane failed (the barrier is broken).
static int team_wait(CtrgcnTeam *t, int k, char kind) {
    const double w0 = t->waits ? wait_clock() : 0;
    pthread_mutex_lock(&t->mu);
    const unsigned long g = t->gen;
    if (!t->broken && ++t->arrived == t->lanes) {
        t->arrived = 0;
        t->gen++;
        pthread_cond_broadcast(&t->cv);
    } else {
        while (!t->broken && t->gen == g) pthread_cond_wait(&t->cv, &t->mu);
    }
    const int b = t->broken;
    pthread_mutex_unlock(&t->mu);
    if (t->waits) wait_note(t, k, kind, w0, wait_clock());
    return b;
}

// TBlock.wait, fsum and dsum of a lane: a barrier; v (n) := the lanes' v
// added in lane order, each lane adding them itself (the same order, so the
// same bits in every lane) after one barrier: each publishes a copy in its
// slot first. The slots alternate between two sets, so a lane that goes on
// to its next sum never overwrites a copy another lane is still reading
// (reusing a set takes passing the next sum's barrier, which every lane
// reaches only after reading this one).
static void team_barrier(void *ctx) {
    TeamLane *l = ctx;
    team_wait(l->team, l->lane, 'h');
}
// The CTR-GC time-means add the lanes of the row's group only; every lane
// passes the barrier (all groups run the same sequence of them).
static void team_fsum(float *v, int n, void *ctx) {   // n <= fsum_cap: a unit's cin x V at most
    TeamLane *l = ctx;
    CtrgcnTeam *t = l->team;
    const int p = l->parity;
    l->parity ^= 1;
    memcpy(l->fslot[p], v, (size_t)n * sizeof(float));
    if (team_wait(t, l->lane, 't')) return;
    const int g0 = l->r0 * l->tb.lanes;   // its row's group: lanes [g0, g0 + tb.lanes)
    memcpy(v, t->lane[g0].fslot[p], (size_t)n * sizeof(float));
    for (int k = g0 + 1; k < g0 + l->tb.lanes; k++) {
        const float *w = t->lane[k].fslot[p];
        for (int i = 0; i < n; i++) v[i] += w[i];
    }
}
// v := lanes [k0, k1)'s v added in lane order (every lane passes the barrier).
static void lanes_dsum(double *v, int n, TeamLane *l, char kind, int k0, int k1) {   // n <= sum_cap: a BN group, the last unit's width
    CtrgcnTeam *t = l->team;
    const int p = l->parity;
    l->parity ^= 1;
    memcpy(l->dslot[p], v, (size_t)n * sizeof(double));
    if (team_wait(t, l->lane, kind)) return;
    memcpy(v, t->lane[k0].dslot[p], (size_t)n * sizeof(double));
    for (int k = k0 + 1; k < k1; k++) {
        const double *w = t->lane[k].dslot[p];
        for (int i = 0; i < n; i++) v[i] += w[i];
    }
}
static void team_dsum(double *v, int n, void *ctx) {   // TBlock.dsum: the pooling, over the sample's lanes
    TeamLane *l = ctx;
    const int pn = ctrgcn_config(l->team->m)->num_person * l->tb.lanes;   // its sample's groups, in a run
    lanes_dsum(v, n, l, 'p', l->s0 * pn, (l->s0 + 1) * pn);
}

// A replica's BnSync: v (n) becomes the sum over the lanes (in lane order)
// and then over the ranks (the model's own reduction, on the calling thread:
// lane 0 is the thread that called pool_run).
static void team_reduce(double *v, int n, void *ctx) {
    TeamLane *l = ctx;
    CtrgcnTeam *t = l->team;
    if (!t->sync) {   // one rank: the lanes' sum, one barrier
        lanes_dsum(v, n, l, 'n', 0, t->lanes);
        return;
    }
    t->vec[l->lane] = v;
    if (team_wait(t, l->lane, 'n')) return;
    if (l->lane == 0) {
        if ((size_t)n > t->sum_cap) {   // not reached: sum_cap is the largest BN group
            CD_ERR("ctrgcn_team: a BN reduction of %d values (room for %zu)", n, t->sum_cap);
            l->rc = CD_EARG;
            team_break(t);
            return;
        }
        memcpy(t->sum, v, (size_t)n * sizeof(double));
        for (int k = 1; k < t->lanes; k++) {
            const double *w = t->vec[k];
            for (int i = 0; i < n; i++) t->sum[i] += w[i];
        }
        if (t->sync) t->sync->allreduce_sum(t->sum, n, t->sync->ctx);
    }
    if (team_wait(t, l->lane, 'n')) return;
    memcpy(v, t->sum, (size_t)n * sizeof(double));
}

int ctrgcn_team_create(CtrgcnTeam **out, Ctrgcn *m, const BnSync *sync, int threads) {
    *out = NULL;
    if (threads < 1) {
        CD_ERR("ctrgcn_team_create: %d threads (expected at least 1)", threads);
        return CD_EARG;
    }
    CtrgcnTeam *t = cd_calloc(1, sizeof *t);
    if (!t) return CD_ENOMEM;
    t->m = m;
    t->sync = sync;
    t->threads = threads;
    t->lanes = 1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    const CtrgcnConfig *c = ctrgcn_config(m);
    int wide = 0;
    for (int u = 0; u < CTRGCN_UNITS; u++) wide = c->width[u] > wide ? c->width[u] : wide;
    const size_t data_bn = 2 * (size_t)c->num_person * c->num_point * c->in_channels + 1;
    t->sum_cap = (size_t)BNV_LAYERS * (2 * (size_t)wide + 1);
    if (data_bn > t->sum_cap) t->sum_cap = data_bn;
    t->sum = cd_malloc(t->sum_cap * sizeof(double));
    t->vec = cd_calloc((size_t)threads, sizeof *t->vec);
    t->lane = cd_calloc((size_t)threads, sizeof *t->lane);
    t->fsum_cap = (size_t)wide * c->num_point;
    t->rep = cd_calloc((size_t)threads, sizeof *t->rep);
    t->start = cd_calloc((size_t)(threads + 1) * (CTRGCN_UNITS + 1), sizeof *t->start);
    int rc = t->sum && t->vec && t->lane && t->rep && t->start ? CD_OK : CD_ENOMEM;
    if (!rc && threads > 1) rc = pool_create(&t->pool, threads);
    for (int k = 0; k < threads && !rc && threads > 1; k++) {
        TeamLane *l = &t->lane[k];
        l->team = t;
        l->lane = k;
        l->sync = (BnSync){team_reduce, l};
        rc = ctrgcn_create(&l->rep, c);
        if (!rc) rc = ctrgcn_share_params(l->rep, m);
        if (!rc) ctrgcn_set_bn_sync(l->rep, &l->sync);
        for (int p = 0; p < 2 && !rc; p++) {
            l->dslot[p] = cd_malloc(t->sum_cap * sizeof(double));
            l->fslot[p] = cd_malloc(t->fsum_cap * sizeof(float));
            if (!l->dslot[p] || !l->fslot[p]) rc = CD_ENOMEM;
        }
        t->rep[k] = l->rep;
        l->tb = (TBlock){.lane = k, .start = t->start, .rep = t->rep, .wait = team_barrier, .fsum = team_fsum,
                         .dsum = team_dsum, .ctx = l};
    }
    if (rc) {
        ctrgcn_team_free(t);
        return rc;
    }
    *out = t;
    return CD_OK;
}

void ctrgcn_team_free(CtrgcnTeam *t) {
    if (!t) return;
    pool_free(t->pool);
    waits_free(t->waits);
    for (int k = 0; t->lane && k < t->threads; k++) {
        ctrgcn_free(t->lane[k].rep);
        free(t->lane[k].halo);
        for (int p = 0; p < 2; p++) {
            free(t->lane[k].dslot[p]);
            free(t->lane[k].fslot[p]);
        }
    }
    free(t->rep);
    free(t->start);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->lane);
    free(t->u0);
    free(t->du0);
    free(t->last);
    free(t->dlast);
    free(t->feat);
    free(t->vec);
    free(t->sum);
    free(t);
}

int ctrgcn_team_lanes(const CtrgcnTeam *t, int n) { return n < t->threads ? (n > 0 ? n : 1) : t->threads; }

void ctrgcn_team_cut(size_t n, int lanes, int k, size_t *i0, size_t *i1) {
    *i0 = n * k / lanes;
    *i1 = n * (k + 1) / lanes;
}

// ---------------------------------------------------------------------------
// The jobs (fn of pool_run; lanes past t->lanes have nothing to do)

// dst's running statistics and counters := src's (a replica reads the
// model's weights in place: ctrgcn_share_params).
static void copy_state(Ctrgcn *dst, Ctrgcn *src) {
    memcpy(ctrgcn_buffers(dst), ctrgcn_buffers(src), ctrgcn_num_buffers(src) * sizeof(float));
    memcpy(ctrgcn_counters(dst), ctrgcn_counters(src), ctrgcn_num_counters(src) * sizeof(int64_t));
}

// Lane k's forward: its samples' data_bn, its rows through the units, its
// samples' pooling and fc. When the cut runs through a sample (t->shared)
// the stages meet in the team's batch buffers (u0, last), the lanes waiting
// where a stage reads rows another lane wrote; otherwise a lane's samples'
// rows are its rows, and each stage reads the replica's own buffers.
static void forward_job(void *ctx, int k) {
    CtrgcnTeam *t = ctx;
    if (k >= t->lanes) return;
    TeamLane *l = &t->lane[k];
    Ctrgcn *r = l->rep;
    const CtrgcnConfig *c = ctrgcn_config(t->m);
    const size_t M = (size_t)c->num_person, sample = (size_t)c->in_channels * t->T * c->num_point * M;
    const size_t s0 = (size_t)l->s0, r0 = (size_t)l->r0, rows = (size_t)(l->r1 - l->r0);
    copy_state(r, t->m);   // this step's running statistics (the weights are the model's own)
    ctrgcn_stem_forward(r, t->shared ? t->u0 + s0 * M * t->u0_n : r->u0, t->x + s0 * sample);
    if (t->shared && team_wait(t, k, 's')) return;
    ctrgcn_units_forward(r, t->shared ? t->u0 + r0 * t->u0_n : r->u0);
    const float *last = ctrgcn_last_output(r, NULL, NULL, NULL, NULL);
    if (t->shared || t->keep) memcpy(t->last + r0 * t->last_n, last, rows * t->last_n * sizeof(float));
    if (t->shared && team_wait(t, k, 's')) return;
    ctrgcn_head_forward(r, t->logits + s0 * c->num_class, t->shared ? t->last + s0 * M * t->last_n : last);
    if (t->keep)
        memcpy(t->feat + s0 * t->feat_n, ctrgcn_features(r), (size_t)(l->s1 - l->s0) * t->feat_n * sizeof(float));
}

// Lane k's forward over its frame block of its row (time blocks): the
// replica's stages read their frames of its sample's x (data_bn over every
// person's channels, then its own person's row through the units) and meet
// the other lanes inside (its TBlock: the BN sums, the halos, the CTRGC
// time-means of its row's group, the pooling of its sample's lanes); the
// sample's first lane writes its logits. Kept outputs: the block's frames of
// its row of the last unit's output, the sample's first lane's features.
static void forward_tb_job(void *ctx, int k) {
    CtrgcnTeam *t = ctx;
    if (k >= t->lanes) return;
    const TeamLane *l = &t->lane[k];
    Ctrgcn *r = l->rep;
    const CtrgcnConfig *c = ctrgcn_config(t->m);
    const size_t sample = (size_t)c->in_channels * t->T * c->num_point * c->num_person;
    copy_state(r, t->m);
    ctrgcn_stem_forward(r, r->u0, t->x + (size_t)l->s0 * sample);
    ctrgcn_units_forward(r, r->u0 + (size_t)l->tb.person * c->in_channels * r->T * c->num_point);
    int C, Tl, V;
    const float *last = ctrgcn_last_output(r, &C, &Tl, &V, NULL);
    ctrgcn_head_forward(r, t->logits + (size_t)l->s0 * c->num_class, last);
    if (!t->keep) return;
    const int *at = t->start + (size_t)l->tb.lane * (CTRGCN_UNITS + 1) + CTRGCN_UNITS;
    const size_t Tf = (size_t)at[(size_t)(l->tb.lanes - l->tb.lane) * (CTRGCN_UNITS + 1)];
    float *row = t->last + (size_t)l->r0 * t->last_n;
    for (int ci = 0; ci < C; ci++)
        memcpy(row + ((size_t)ci * Tf + (size_t)at[0]) * V, last + (size_t)ci * Tl * V, (size_t)Tl * V * sizeof(float));
    if (l->tb.head) memcpy(t->feat + (size_t)l->s0 * C, ctrgcn_features(r), (size_t)C * sizeof(float));
}

// Lane k's backward, the forward's stages in reverse (through the team's
// dlast and du0 when the cut runs through a sample, the replica's own chain
// buffer otherwise); every gradient into its replica's.
static void backward_job(void *ctx, int k) {
    CtrgcnTeam *t = ctx;
    if (k >= t->lanes) {
        // An idle thread's replica zeroed too when the lanes' may not be
        // (after a failed backward, whose partial gradients a later layout
        // with this lane would otherwise add: the last sum zeroed only its
        // own lanes).
        if (!t->grads_zero) ctrgcn_zero_grad(t->lane[k].rep);
        return;
    }
    TeamLane *l = &t->lane[k];
    Ctrgcn *r = l->rep;
    const size_t M = (size_t)ctrgcn_config(t->m)->num_person, s0 = (size_t)l->s0, r0 = (size_t)l->r0;
    // Zeroed by the last sum already; over frame blocks (time blocks, rows x
    // time blocks) the first lane adds into the model's own gradients
    // (tblock_begin): with a zeroing
    // pending (ctrgcn_team_zero_grad) every lane zeroes its slice of them
    // first, and the first lane waits for all slices before it adds.
    if (!t->grads_zero && !(t->tblock && k == 0)) ctrgcn_zero_grad(r);
    if (t->tblock && t->zero_model) {
        size_t p0, p1;
        ctrgcn_team_cut(ctrgcn_num_params(t->m), t->lanes, k, &p0, &p1);
        memset(ctrgcn_grads(t->m) + p0, 0, (p1 - p0) * sizeof(float));
        if (team_wait(t, k, 'z')) return;
    }
    float *own = r->scratch[CHAIN_A];   // where ctrgcn_units_backward's chain starts (no copy)
    // the extra gradient of the last output from its first row (over time
    // blocks: its one row's, whose block ctrgcn_head_backward takes)
    const size_t row0 = t->tblock ? r0 : s0 * M;
    l->rc = ctrgcn_head_backward(r, t->shared ? t->dlast + s0 * M * t->last_n : own,
                                 t->dlogits + s0 * ctrgcn_config(t->m)->num_class,
                                 t->dfeat_x ? t->dfeat_x + s0 * t->feat_n : NULL,
                                 t->dlast_x ? t->dlast_x + row0 * t->last_n : NULL);
    if (l->rc) {
        team_break(t);
        return;
    }
    if (!t->shared) {
        ctrgcn_stem_backward(r, ctrgcn_units_backward(r, own));
        return;
    }
    if (team_wait(t, k, 's')) return;
    const float *du0 = ctrgcn_units_backward(r, t->dlast + r0 * t->last_n);
    memcpy(t->du0 + r0 * t->u0_n, du0, (size_t)(l->r1 - l->r0) * t->u0_n * sizeof(float));
    if (team_wait(t, k, 's')) return;
    ctrgcn_stem_backward(r, t->du0 + s0 * M * t->u0_n);
}

// The model's grads += the lanes' (added in lane order), a slice per lane,
// each lane's gradient zeroed as it is read (for the next backward: no
// separate pass over them). Over frame blocks (time blocks, rows x time
// blocks) the first lane's gradients are already in the model's, and the
// others' are added to them.
// With the model's zeroing pending (ctrgcn_team_zero_grad, not the time
// blocks: they zeroed in backward_job) the sum is stored as 0 + sum: the
// bits "+=" gives on zeroed gradients, without the pass that zeroes them.
static void sum_job(void *ctx, int k) {
    CtrgcnTeam *t = ctx;
    if (k >= t->lanes) return;
    size_t p0, p1;
    ctrgcn_team_cut(ctrgcn_num_params(t->m), t->lanes, k, &p0, &p1);
    float *g = ctrgcn_grads(t->m);
    const int j0 = t->tblock ? 1 : 0;
    const int store = t->zero_model && !t->tblock;   // the model's zeroing pending (above)
    float *gj0 = ctrgcn_grads(t->lane[j0].rep);
    for (size_t p = p0; p < p1; p++) {
        float acc = gj0[p];
        gj0[p] = 0.0f;
        for (int j = j0 + 1; j < t->lanes; j++) {
            float *gj = ctrgcn_grads(t->lane[j].rep);
            acc += gj[p];
            gj[p] = 0.0f;
        }
        g[p] = (store ? 0.0f : g[p]) + acc;   // 0 + acc, not acc: -0 becomes +0, as "+=" on a zeroed gradient does
    }
}

// A job under the wait profile: lane k's start lag, its sites from 0, its end.
typedef struct TimedJob {
    CtrgcnTeam *t;
    void (*fn)(void *ctx, int k);
    void *ctx;
} TimedJob;

static void timed_job(void *ctx, int k) {
    const TimedJob *j = ctx;
    CtrgcnTeam *t = j->t;
    TeamWaits *w = t->waits;
    TeamLane *l = &t->lane[k];
    l->site = 0;
    l->mark = wait_clock();
    w->lag[(size_t)t->job * w->lanes + k] += l->mark - w->t_run;
    j->fn(j->ctx, k);
    w->stop[k] = wait_clock();
}

// fn on the team's threads as job kind `job` (the wait profile's).
static void team_run_job(CtrgcnTeam *t, void (*fn)(void *ctx, int k), void *ctx, int job) {
    if (!t->pool) {   // one thread: the caller's, BLAS as it is
        fn(ctx, 0);
        return;
    }
    const int blas_threads = blas_get_threads();
    if (blas_threads != 1) blas_set_threads(1);
    TeamWaits *w = t->waits;
    if (w) {
        TimedJob j = {t, fn, ctx};
        t->job = job;
        w->t_run = wait_clock();
        pool_run(t->pool, timed_job, &j);
        double last = 0;
        for (int k = 0; k < t->threads; k++) last = w->stop[k] > last ? w->stop[k] : last;
        for (int k = 0; k < t->threads; k++) w->end[(size_t)job * w->lanes + k] += last - w->stop[k];
    } else {
        pool_run(t->pool, fn, ctx);
    }
    if (blas_threads != 1) blas_set_threads(blas_threads);
}

void ctrgcn_team_run(CtrgcnTeam *t, void (*fn)(void *ctx, int k), void *ctx) { team_run_job(t, fn, ctx, WAIT_OTHER); }

// Runs fn on the lanes with BLAS on one thread; the first lane's error, if any.
static int run_lanes(CtrgcnTeam *t, void (*fn)(void *, int), int job) {
    t->arrived = 0;
    t->broken = 0;
    for (int k = 0; k < t->lanes; k++) t->lane[k].rc = CD_OK, t->lane[k].parity = 0;
    team_run_job(t, fn, t, job);
    for (int k = 0; k < t->lanes; k++)
        if (t->lane[k].rc) return t->lane[k].rc;
    return t->broken ? CD_EARG : CD_OK;
}

// ---------------------------------------------------------------------------
// The passes

void ctrgcn_team_keep_outputs(CtrgcnTeam *t) { t->keep = 1; }

// *p has room for n floats (*cap of them): grown, contents dropped, when not.
static int reserve_floats(float **p, size_t *cap, size_t n) {
    if (n <= *cap && *p) return CD_OK;
    free(*p);
    *cap = n;
    if (!(*p = cd_malloc(n * sizeof(float)))) *cap = 0;
    return *p ? CD_OK : CD_ENOMEM;
}

// Room for the gathered tensors of N samples (the sizes of a replica's units at T).
static int ensure_gathered(CtrgcnTeam *t, int N, int T) {
    const CtrgcnConfig *c = ctrgcn_config(t->m);
    const size_t NM = (size_t)N * c->num_person;
    int C, Tl, V;
    ctrgcn_last_output(t->lane[0].rep, &C, &Tl, &V, NULL);
    t->u0_n = (size_t)c->in_channels * T * V;
    t->last_n = (size_t)C * Tl * V;
    t->feat_n = (size_t)C;
    int rc = CD_OK;
    if (t->shared) {
        rc = reserve_floats(&t->u0, &t->u0_cap, NM * t->u0_n);
        if (!rc) rc = reserve_floats(&t->du0, &t->du0_cap, NM * t->u0_n);
        if (!rc) rc = reserve_floats(&t->dlast, &t->dlast_cap, NM * t->last_n);
    }
    if (!rc && (t->shared || t->keep)) rc = reserve_floats(&t->last, &t->last_cap, NM * t->last_n);
    if (!rc && t->keep) rc = reserve_floats(&t->feat, &t->feat_cap, (size_t)N * t->feat_n);
    return rc;
}

// Lanes that split one row of T frames by time: up to T / P, P the product
// of the units' strides (each block starts at a multiple of P, so every
// stride-2 layer's block holds the whole row's frames), 1: none.
static int tblock_lanes(const CtrgcnTeam *t, int T) {
    int P = 1;
    for (int l = 0; l < CTRGCN_UNITS; l++) P *= t->m->u[l].stride;
    return T / P < t->threads ? (T / P > 1 ? T / P : 1) : t->threads;
}

int ctrgcn_team_row_lanes(const CtrgcnTeam *t, int rows, int T) {
    if (rows < 1 || T < 1 || rows >= t->threads) return 1;
    const int g = t->threads / rows, f = tblock_lanes(t, T);
    return g < f ? g : f;
}

int ctrgcn_team_frame_lanes(const CtrgcnTeam *t, int T) { return ctrgcn_team_row_lanes(t, 1, T); }

// The frame blocks of g lanes over a row of T frames (t->start), the
// same for each of the R rows (t->lanes = R g: row i's group is lanes
// [i g, (i + 1) g), a sample's M rows' groups in a run), each replica staged
// for its block (one sample's frames of data_bn, a row of the units) with its
// halo buffers: branch b's input and gradient (bc, tin + 2 pad, V) at the
// widest unit.
static int tblock_begin(CtrgcnTeam *t, int T, int R, int g) {
    const int L = CTRGCN_UNITS + 1, n = g, V = ctrgcn_config(t->m)->num_point;
    const int M = ctrgcn_config(t->m)->num_person;
    t->lanes = R * g;
    int P = 1;
    for (int l = 0; l < CTRGCN_UNITS; l++) P *= t->m->u[l].stride;
    for (int j = 0; j <= n; j++) {
        int f = j == n ? T : P * (int)((long)(T / P) * j / n);
        for (int l = 0; l < L; l++) {
            t->start[(size_t)j * L + l] = f;
            if (l < CTRGCN_UNITS) f = j == n ? (f - 1) / t->m->u[l].stride + 1 : f / t->m->u[l].stride;
        }
    }
    for (int k = 0; k < t->lanes; k++) {
        TeamLane *l = &t->lane[k];
        const int row = k / g, j = k % g;
        l->r0 = row;
        l->r1 = row + 1;
        l->s0 = row / M;
        l->s1 = l->s0 + 1;
        int rc = ctrgcn_stage_begin(l->rep, 1, 1, t->start[(size_t)(j + 1) * L] - t->start[(size_t)j * L]);
        if (rc) return rc;
        size_t ext = 0;
        for (int u = 0; u < CTRGCN_UNITS; u++) {
            const Unit *un = &l->rep->u[u];
            int pad = un->tconv[0].c.pad > un->tconv[1].c.pad ? un->tconv[0].c.pad : un->tconv[1].c.pad;
            if (pad < 1) pad = 1;
            const size_t e = (size_t)un->bc * (un->tin + 2 * pad) * V;
            if (e > ext) ext = e;
        }
        if (6 * ext > l->halo_cap) {
            rc = reserve_floats(&l->halo, &l->halo_cap, 6 * ext);
            if (rc) return rc;
            memset(l->halo, 0, l->halo_cap * sizeof(float));
        }
        l->tb.lane = j;
        l->tb.lanes = g;
        l->tb.person = row % M;
        l->tb.head = k == l->s0 * M * g;
        l->tb.rep = t->rep + row * g;
        for (int b = 0; b < 3; b++) {
            l->tb.ext[b] = l->halo + (size_t)b * ext;
            l->tb.dext[b] = l->halo + (size_t)(3 + b) * ext;
        }
        l->rep->tb = &l->tb;
    }
    ctrgcn_grads_into(t->lane[0].rep, ctrgcn_grads(t->m));
    if (!t->keep) return CD_OK;
    int C, Tl;
    ctrgcn_last_output(t->lane[0].rep, &C, &Tl, NULL, NULL);
    t->last_n = (size_t)C * t->start[(size_t)n * L + CTRGCN_UNITS] * V;
    t->feat_n = (size_t)C;
    int rc = reserve_floats(&t->last, &t->last_cap, (size_t)R * t->last_n);
    return rc ? rc : reserve_floats(&t->feat, &t->feat_cap, (size_t)(R / M) * t->feat_n);
}

int ctrgcn_team_forward(CtrgcnTeam *t, float *logits, const float *x, int N, int T) {
    const int M = ctrgcn_config(t->m)->num_person;
    t->lanes = ctrgcn_team_lanes(t, N * M);
    t->shared = 0;
    t->tblock = 0;
    for (int k = 0; k < t->threads && t->lane[k].rep; k++) t->lane[k].rep->tb = NULL;
    if (t->lane[0].rep) ctrgcn_grads_into(t->lane[0].rep, NULL);
    const int g = ctrgcn_team_row_lanes(t, N * M, T);
    if (g > 1) {   // fewer rows than threads: each row's frames split over g lanes
        t->tblock = 1;
        int rc = tblock_begin(t, T, N * M, g);
        if (rc) return rc;
        t->logits = logits;
        t->x = x;
        t->T = T;
        rc = run_lanes(t, forward_tb_job, WAIT_FWD);
        if (!rc) copy_state(t->m, t->lane[0].rep);
        return rc;
    }
    if (t->lanes == 1 || T < 1) return ctrgcn_forward(t->m, logits, x, N, T, 1);
    // Every lane's buffers first, here: a lane that failed to allocate
    // inside the pass would leave the others at the barrier.
    for (int k = 0; k < t->lanes; k++) {
        TeamLane *l = &t->lane[k];
        size_t i0, i1;
        ctrgcn_team_cut((size_t)N * M, t->lanes, k, &i0, &i1);
        l->r0 = (int)i0;
        l->r1 = (int)i1;
        l->s0 = (l->r0 + M - 1) / M;
        l->s1 = (l->r1 + M - 1) / M;
        int rc = ctrgcn_stage_begin(l->rep, l->s1 - l->s0, l->r1 - l->r0, T);
        if (rc) return rc;
        if (l->r0 != l->s0 * M || l->r1 != l->s1 * M) t->shared = 1;
    }
    int rc = ensure_gathered(t, N, T);
    if (rc) return rc;
    t->logits = logits;
    t->x = x;
    t->T = T;
    rc = run_lanes(t, forward_job, WAIT_FWD);
    // Every replica took the same statistics: the first one's are the model's.
    if (!rc) copy_state(t->m, t->lane[0].rep);
    return rc;
}

const float *ctrgcn_team_features(const CtrgcnTeam *t) {
    if (t->lanes == 1) return ctrgcn_features(t->m);
    return t->keep ? t->feat : NULL;
}

const float *ctrgcn_team_last_output(const CtrgcnTeam *t) {
    if (t->lanes == 1) return ctrgcn_last_output(t->m, NULL, NULL, NULL, NULL);
    return t->keep ? t->last : NULL;
}

int ctrgcn_team_backward(CtrgcnTeam *t, const float *dlogits) { return ctrgcn_team_backward_ex(t, dlogits, NULL, NULL); }

void ctrgcn_team_zero_grad(CtrgcnTeam *t) {
    if (t->pool) t->zero_model = 1;
    else ctrgcn_zero_grad(t->m);
}

int ctrgcn_team_backward_ex(CtrgcnTeam *t, const float *dlogits, const float *dfeat_extra, const float *dlast_extra) {
    if (t->zero_model && t->lanes == 1) {   // the model's own backward adds: zero here
        ctrgcn_zero_grad(t->m);
        t->zero_model = 0;
    }
    if (t->lanes == 1) return ctrgcn_backward_ex(t->m, dlogits, dfeat_extra, dlast_extra);
    if ((dfeat_extra || dlast_extra) && !t->keep) {   // their sizes are known only with the outputs kept
        CD_ERR("ctrgcn_team_backward_ex: extra gradients without ctrgcn_team_keep_outputs");
        return CD_EARG;
    }
    t->dlogits = dlogits;
    t->dfeat_x = dfeat_extra;
    t->dlast_x = dlast_extra;
    int rc = run_lanes(t, backward_job, WAIT_BWD);
    t->grads_zero = 0;
    if (!rc) rc = run_lanes(t, sum_job, WAIT_SUM);
    t->grads_zero = rc == CD_OK;
    t->zero_model = 0;
    return rc;
}

typedef struct {
    CtrgcnTeam *t;
    size_t n;
    void (*fn)(void *ctx, size_t i0, size_t i1);
    void *ctx;
} ForJob;

static void for_job(void *ctx, int k) {
    const ForJob *j = ctx;
    size_t i0, i1;
    ctrgcn_team_cut(j->n, j->t->threads, k, &i0, &i1);
    if (i1 > i0) j->fn(j->ctx, i0, i1);
}

void ctrgcn_team_for(CtrgcnTeam *t, size_t n, void (*fn)(void *ctx, size_t i0, size_t i1), void *ctx) {
    ForJob j = {t, n, fn, ctx};
    ctrgcn_team_run(t, for_job, &j);
}

// ---------------------------------------------------------------------------
// The wait profile

static void waits_free(TeamWaits *w) {
    if (!w) return;
    free(w->work);
    free(w->wait);
    free(w->lag);
    free(w->end);
    free(w->stop);
    free(w);
}

static void waits_clear(TeamWaits *w) {
    const size_t n = (size_t)WAIT_JOBS * WAIT_SITES * w->lanes, nj = (size_t)WAIT_JOBS * w->lanes;
    memset(w->work, 0, n * sizeof(double));
    memset(w->wait, 0, n * sizeof(double));
    memset(w->kind, 0, sizeof w->kind);
    memset(w->lag, 0, nj * sizeof(double));
    memset(w->end, 0, nj * sizeof(double));
}

int ctrgcn_team_time_waits(CtrgcnTeam *t, int on) {
    if (!on || !t->pool) {
        waits_free(t->waits);
        t->waits = NULL;
        return CD_OK;
    }
    if (t->waits) {
        waits_clear(t->waits);
        return CD_OK;
    }
    TeamWaits *w = cd_calloc(1, sizeof *w);
    const size_t n = (size_t)WAIT_JOBS * WAIT_SITES * t->threads, nj = (size_t)WAIT_JOBS * t->threads;
    if (w) {
        w->lanes = t->threads;
        w->work = cd_calloc(n, sizeof(double));
        w->wait = cd_calloc(n, sizeof(double));
        w->lag = cd_calloc(nj, sizeof(double));
        w->end = cd_calloc(nj, sizeof(double));
        w->stop = cd_calloc((size_t)t->threads, sizeof(double));
    }
    if (!w || !w->work || !w->wait || !w->lag || !w->end || !w->stop) {
        waits_free(w);
        return CD_ENOMEM;
    }
    t->waits = w;
    return CD_OK;
}

void ctrgcn_team_print_waits(CtrgcnTeam *t, FILE *f, int steps) {
    TeamWaits *w = t->waits;
    if (!w || steps < 1) return;
    static const char *job_name[WAIT_JOBS] = {"forward", "backward", "grad sum", "other"};
    static const char kinds[] = "nthpzs";
    static const char *kind_name[] = {"BN reductions", "CTR-GC time-means", "halo gradients", "pooling",
                                      "gradient zeroing", "stages"};
    const int L = w->lanes;
    const double ms = 1e3 / steps;
    fprintf(f, "team waits | %d steps, %d lanes | ms a step (wall) per lane: work before a site, then the wait in it\n",
            steps, L);
    // per kind: sites a step, each lane's wait
    for (int c = 0; kinds[c]; c++) {
        int sites = 0;
        double wt[64] = {0}, wk[64] = {0};
        for (int j = 0; j < WAIT_JOBS; j++)
            for (int s = 0; s < WAIT_SITES; s++) {
                if (w->kind[j][s] != kinds[c]) continue;
                sites++;
                for (int k = 0; k < L && k < 64; k++) {
                    wt[k] += w->wait[((size_t)j * WAIT_SITES + s) * L + k];
                    wk[k] += w->work[((size_t)j * WAIT_SITES + s) * L + k];
                }
            }
        if (!sites) continue;
        fprintf(f, "team waits | %-18s %3d sites |", kind_name[c], sites);
        for (int k = 0; k < L && k < 64; k++) fprintf(f, " lane %d work %.2f wait %.2f |", k, wk[k] * ms, wt[k] * ms);
        fprintf(f, "\n");
    }
    for (int j = 0; j < WAIT_JOBS; j++) {
        fprintf(f, "team waits | %-8s wake-up lag / end wait |", job_name[j]);
        for (int k = 0; k < L && k < 64; k++)
            fprintf(f, " lane %d %.2f / %.2f |", k, w->lag[(size_t)j * L + k] * ms, w->end[(size_t)j * L + k] * ms);
        fprintf(f, "\n");
    }
    // all of it: per lane the work between sites and the waits (sites, lags, ends)
    fprintf(f, "team waits | total |");
    for (int k = 0; k < L; k++) {
        double wk = 0, wt = 0;
        for (int j = 0; j < WAIT_JOBS; j++) {
            wt += w->lag[(size_t)j * L + k] + w->end[(size_t)j * L + k];
            for (int s = 0; s < WAIT_SITES; s++) {
                wk += w->work[((size_t)j * WAIT_SITES + s) * L + k];
                wt += w->wait[((size_t)j * WAIT_SITES + s) * L + k];
            }
        }
        fprintf(f, " lane %d work %.2f wait %.2f |", k, wk * ms, wt * ms);
    }
    fprintf(f, "\n");
    // every site of the forward and backward, in order
    for (int j = 0; j < WAIT_SUM; j++)
        for (int s = 0; s < WAIT_SITES && w->kind[j][s]; s++) {
            fprintf(f, "team waits | site %s %3d %c |", job_name[j], s, w->kind[j][s]);
            for (int k = 0; k < L; k++) {
                const size_t i = ((size_t)j * WAIT_SITES + s) * L + k;
                fprintf(f, " %.3f %.3f", w->work[i] * ms, w->wait[i] * ms);
            }
            fprintf(f, "\n");
        }
    waits_clear(w);
}
