// ctrgcn_team.h - a rank's threads splitting its training batch (hybrid
// parallelism: ranks x threads).
//
// A team holds `threads` replicas of a model (same architecture, their own
// activations, gradients and BN caches; they read the model's weights in
// place, its running statistics copied in at every forward). A training forward cuts the batch's N*M (sample, person)
// rows, the ten units' batch, into `lanes` runs of consecutive rows
// (lanes = min(threads, N*M); fewer rows than threads also split their
// frames: rows x time blocks, below), one per thread, each through its
// replica with BLAS on one thread (the threads are the parallelism; the BLAS
// thread count is restored after). So one NTU or Kinetics sample (M = 2) on
// 2 threads runs as two lanes, a person each. A lane's samples are those whose first row it
// holds: it runs their data_bn before the units and their pooling and fc
// after. With N a multiple of the lanes a lane's rows are its samples' rows
// and every stage stays in the replica; when the cut runs through a sample
// the lanes meet between the stages (the units' input rows and the last
// unit's output rows gathered in one batch buffer each, and their gradients
// in backward). BatchNorm stays over the rank's WHOLE batch: each BN
// reduction of a replica (the same packed sums the synchronised BN
// all-reduces, ctrgcn.h) waits for the other lanes, the calling thread adds
// the lanes' sums in lane order, then all-reduces them over the ranks
// through the model's own BnSync (on the calling thread only: MPI is never
// called from a helper thread), and every lane goes on with the same sums.
// Backward adds the lanes' gradients to the model's in lane order (each
// thread a slice of the parameters). The running statistics and counters,
// equal in every replica, are copied back into the model. So a run is
// bitwise deterministic for a given rank x thread layout, and agrees with
// one thread as N ranks agree with one (the same sums in another order).
//
// One row (one sample of one person: NW-UCLA's M = 1 at one sample per
// rank) is split by its FRAMES instead (time blocks): lane k of
// ctrgcn_team_frame_lanes(t, T) = min(threads, T / 4) holds the frames
// [T/4 k/lanes, T/4 (k+1)/lanes) x 4 of every unit's input (4: the two
// stride-2 units, so each block gives the whole row's frames after them)
// and runs every layer that is pointwise in time on them as on a row of its
// own (the graph convolutions, the 1x1 convs, BN with the lanes' sums, the
// activations). The temporal convolutions and the max-pool run unpadded on
// the block plus a halo of 1-4 frames read from the neighbours' replicas
// (zeros, or -inf for the max-pool, beyond the sequence ends); in backward
// each lane writes its block-plus-halo input gradient, and after a barrier
// every lane adds the parts that fall in its block in lane order. The
// CTR-GC's time-mean and its gradient, and the pooling, add the lanes'
// partial sums (in lane order); the first lane runs fc. So the same
// forward and backward as one thread up to the order of those sums, bitwise
// deterministic for a given T and thread count. data_bn runs on each lane's
// frames too; the kept last output is gathered from the blocks, and the
// module's gradient of it (ctrgcn_team_backward_ex) taken per block.
//
// Rows x time blocks: whenever the batch has fewer rows than threads (R =
// N*M < threads: one NTU sample, two persons, on 4 threads; two NW-UCLA
// samples on 4) each row gets a group of g = ctrgcn_team_row_lanes(t, R, T)
// = min(threads / R, T / 4) lanes that split its frames exactly as the time
// blocks above split one row (the same blocks for g lanes; one row is the
// case R = 1); R g lanes in all, row i's group lanes [i g, (i + 1) g), so a
// sample's M groups lie in a run (threads past R g idle). The halos and the
// CTR-GC time-means stay in the row's group; the pooling adds the lanes of
// the row's sample (NTU pools over persons and frames), whose first lane
// runs fc and takes its gradients; the BN sums, the barriers and the
// gradient sum are over all lanes, as above. data_bn's channels are per
// person: each lane converts its block of its sample's frames for every
// person, the sample's first person's lanes give the sums (the others add
// none: N 0 to the reduction) and every lane runs its own person's row
// through the units; in backward each lane gives data_bn's gradient sums of
// its person's channels (zeros in the others'). The module's gradient of
// the last unit output goes to each lane's block of its row. Rows at or
// above the thread count are cut as rows (above), unchanged.
//
// With one lane (threads 1, or one row under 8 frames) the team is a
// pass-through: the model's own forward and backward, whose GEMMs then use
// the BLAS threads (blas_set_threads) inside the sample.
//
// An auxiliary loss on the backbone's outputs (the CoCoDiff module, run
// between the passes, split over the same threads by ctrgcn_team_run) reads
// the whole batch's pooled features and last unit output: with
// ctrgcn_team_keep_outputs the lanes gather them in sample order
// (ctrgcn_team_features / _last_output: the model's own with one lane), and
// ctrgcn_team_backward_ex gives each lane its share of the loss's gradients
// (ctrgcn_backward_ex's dfeat_extra, dlast_extra).
//
//   CtrgcnTeam *team;
//   ctrgcn_team_create(&team, m, sync, threads);  // after ctrgcn_set_bn_sync(m, sync)
//   per batch: ctrgcn_team_forward(team, logits, x, N, T);
//              ... dlogits ...
//              ctrgcn_team_zero_grad(team);           // (the step's first batch)
//              ctrgcn_team_backward(team, dlogits);   // adds to ctrgcn_grads(m)
//   ctrgcn_team_free(team);
//
// The model's gradient-ready hook (ctrgcn_set_grad_hook) is called only on
// the one-lane path; with lanes the gradients are final when
// ctrgcn_team_backward returns (gradsync_finish starts what was not).
//
// defines: CtrgcnTeam, ctrgcn_team_create, ctrgcn_team_free, ctrgcn_team_lanes, ctrgcn_team_frame_lanes,
//          ctrgcn_team_row_lanes, ctrgcn_team_cut,
//          ctrgcn_team_forward, ctrgcn_team_backward, ctrgcn_team_keep_outputs,
//          ctrgcn_team_features, ctrgcn_team_last_output, ctrgcn_team_backward_ex,
//          ctrgcn_team_run, ctrgcn_team_zero_grad, ctrgcn_team_for,
//          ctrgcn_team_time_waits, ctrgcn_team_print_waits
#pragma once
#include "ctrgcn.h"
#include "layers.h"

#include <stddef.h>
#include <stdio.h>

typedef struct CtrgcnTeam CtrgcnTeam;

// A team of `threads` (>= 1) for model m, which it must not outlive; sync:
// the rank-level BN reduction (m's, NULL: none). CD_OK, CD_EARG, CD_ENOMEM.
int ctrgcn_team_create(CtrgcnTeam **t, Ctrgcn *m, const BnSync *sync, int threads);
void ctrgcn_team_free(CtrgcnTeam *t);   // NULL is fine
// The lanes n items are cut into: min(threads, n) (the backbone's: n = N*M
// rows; the module's step: n = N samples).
int ctrgcn_team_lanes(const CtrgcnTeam *t, int n);
// The lanes one row (one sample of one person) of T frames is split into
// by its frames (time blocks): min(threads, T / 4) (1: not split, the
// model's own pass).
int ctrgcn_team_frame_lanes(const CtrgcnTeam *t, int T);
// The lanes each of `rows` rows of T frames is split into by its frames
// when the rows are fewer than the threads (rows x time blocks): min(threads
// / rows, T / 4); 1: not split (the rows split, or the model's own pass).
int ctrgcn_team_row_lanes(const CtrgcnTeam *t, int rows, int T);
// Lane k's run [*i0, *i1) of n items cut into `lanes` runs of consecutive
// items (a forward's rows, the module's samples, a gradient sum's parameters).
void ctrgcn_team_cut(size_t n, int lanes, int k, size_t *i0, size_t *i1);
// ctrgcn_forward(m, logits, x, N, T, 1) over the lanes. CD_OK or an error.
int ctrgcn_team_forward(CtrgcnTeam *t, float *logits, const float *x, int N, int T);
// ctrgcn_backward(m, dlogits) of the last team forward: adds to m's grads.
int ctrgcn_team_backward(CtrgcnTeam *t, const float *dlogits);
// From now on forwards keep the whole batch's outputs for the two below.
void ctrgcn_team_keep_outputs(CtrgcnTeam *t);
// ctrgcn_features / ctrgcn_last_output (data only) of the last team forward:
// (N, C_last) and (N*M, C_last, T', V); NULL if outputs are not kept (or
// before a forward). Valid until the next forward.
const float *ctrgcn_team_features(const CtrgcnTeam *t);
const float *ctrgcn_team_last_output(const CtrgcnTeam *t);
// Runs fn(ctx, k) for every k in [0, threads) on the team's threads (k 0 on
// the calling thread; none but it with one thread) with BLAS on one thread,
// and returns when all have returned: other per-sample work of the batch
// split like the backbone's (the CoCoDiff module's step, cocodiff_lanes.h;
// k past ctrgcn_team_lanes(t, N) has nothing to do). Not from inside a job.
void ctrgcn_team_run(CtrgcnTeam *t, void (*fn)(void *ctx, int k), void *ctx);
// ctrgcn_backward_ex(m, dlogits, dfeat_extra, dlast_extra) of the last team
// forward (extra gradients need kept outputs: CD_EARG otherwise).
int ctrgcn_team_backward_ex(CtrgcnTeam *t, const float *dlogits, const float *dfeat_extra, const float *dlast_extra);
// ctrgcn_zero_grad(m) for the next team backward, done by it: with lanes
// their gradient sum stores instead of adding (no pass over the model's
// gradients; the same bits), over frame blocks (time blocks, rows x time
// blocks) each lane zeroes a slice first, on the model's own pass it zeroes
// them first. Until that
// backward ctrgcn_grads(m) is NOT zero: call it just before the team's
// backward, with nothing but it adding to them in between (not with the
// CoCoDiff module's step, which adds to the head's gradients before the
// backward: zero with ctrgcn_zero_grad there). With one thread it is
// ctrgcn_zero_grad(m).
void ctrgcn_team_zero_grad(CtrgcnTeam *t);
// fn(ctx, i0, i1) over [0, n) cut into `threads` runs of consecutive items
// (ctrgcn_team_cut), each run on its thread (empty runs skipped) with BLAS
// on one thread: elementwise work of a step split by element ranges (the
// optimizer's update: each element by one thread, so the same bits as one
// call over [0, n)). Not from inside a job.
void ctrgcn_team_for(CtrgcnTeam *t, size_t n, void (*fn)(void *ctx, size_t i0, size_t i1), void *ctx);
// A measurement: with on, every job and barrier of the team is timed (wall
// clock, two clock reads a barrier and lane; off: one pointer test) per
// barrier site (its place in the job's sequence, the same in every lane),
// lane and kind (BN reduction, CTR-GC time-mean, halo, pooling, ...): the
// work a lane did before a site and how long it waited there, and per job
// the lanes' wake-up lag and wait at its end. Turning it on again clears
// the figures. The arithmetic is unchanged. CD_OK or CD_ENOMEM.
int ctrgcn_team_time_waits(CtrgcnTeam *t, int on);
// The figures per step (the counters hold `steps` steps) to f, then cleared.
void ctrgcn_team_print_waits(CtrgcnTeam *t, FILE *f, int steps);
