// gradsync.h - the gradient all-reduce of data-parallel training, in buckets
// overlapped with the backward pass (PyTorch DDP's scheme).
//
// Backward makes gradients final back to front, a layer at a time. Instead
// of one MPI_Allreduce over every gradient after backward, the gradients are
// cut into buckets of contiguous memory, and each bucket's sum over the
// ranks starts (MPI_Iallreduce, in place) as soon as backward is done with
// it, so the communication runs while the earlier layers' backward computes;
// gradsync_finish waits for the rest before the optimizer step.
//
// A buffer is registered with the stages in which its gradients become
// final: stage s makes v[first[s], n) final, first decreasing to 0 (for the
// backbone, ctrgcn_grad_stages). Consecutive stages are grouped into
// buckets: a bucket is closed once it holds at least cap bytes (as DDP
// does), so a bucket may exceed cap by its last stage, and the last bucket
// of a buffer may be smaller. Every bucket of every buffer is in one
// sequence fixed at setup (buffers in the order they were added, each back
// to front), and buckets start strictly in that order: a bucket starts once
// it and every bucket before it are ready. So every rank starts the same
// all-reduces in the same order whatever its timing, as MPI requires, and
// the same run gives the same bits. The buckets use a communicator of their
// own (dist_dup), so they never match the blocking collectives other code
// runs meanwhile on the main one (backward's synchronised BatchNorm sums).
//
// cap 0: no buckets, no overlap: gradsync_finish sums each buffer with one
// blocking MPI_Allreduce on the main communicator after backward. On one
// rank every call is a no-op.
//
// A step: gradsync_begin; gradsync_ready as stages complete (from the
// backward hook); gradsync_finish before the optimizer step, on every rank,
// even after a failed backward on this one: it starts whatever has not
// started (so the other ranks' all-reduces complete; the step is then
// abandoned through dist_agree) and waits for everything.
#pragma once
#include <stddef.h>

#include "dist.h"

typedef struct GradSync GradSync;

// Collective (duplicates d's communicator when there is overlap to do).
// cap_bytes: the bucket size; 0 selects the single blocking all-reduce.
int gradsync_create(GradSync **g, const Dist *d, size_t cap_bytes);
void gradsync_free(GradSync *g);   // NULL is fine; no step may be in flight
// Registers the gradient buffer v (n floats), final in nstages stages as
// above (first[nstages - 1] must be 0). Returns its index (>= 0), for
// gradsync_ready, or a negative status. Every rank adds the same buffers
// (same n and stages) in the same order.
int gradsync_add(GradSync *g, float *v, size_t n, const size_t *first, int nstages);

void gradsync_begin(GradSync *g);
// Buffer `buf` is final from `first` on: starts the buckets that allows
// (in sequence order) and lets MPI progress the ones in flight (a cheap
// MPI_Test each). A failure leaves this rank unable to match the others'
// collectives: treat it as fatal (dist_abort).
int gradsync_ready(GradSync *g, int buf, size_t first);
// Starts every bucket not started yet, waits for all of them (cap 0: sums
// every buffer with one blocking all-reduce each). Collective.
int gradsync_finish(GradSync *g);

// Buckets per step (0 with cap 0 or on one rank) and the largest one, bytes.
int gradsync_num_buckets(const GradSync *g);
size_t gradsync_max_bucket_bytes(const GradSync *g);
// 1 when buckets overlap backward (cap > 0, more than one rank).
int gradsync_overlapped(const GradSync *g);
// Seconds spent in gradsync_finish since creation: the all-reduce time
// backward did not hide (with cap 0: all of it).
double gradsync_wait_seconds(const GradSync *g);
