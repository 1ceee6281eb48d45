// pool.h - a fixed team of threads that runs one function over lane indices
// [0, lanes): lane 0 on the calling thread, lanes 1..lanes-1 on helper
// threads created once by pool_create and joined by pool_free.
//
// Helpers sleep on a condition variable between jobs instead of spinning, so
// an idle pool takes no core from OpenBLAS's threads or from other ranks on
// the same machine. A job costs one wake-up (tens of microseconds): meant for
// coarse work such as a forward pass over a share of a batch.
//
// defines: Pool, pool_create, pool_free, pool_lanes, pool_run
#pragma once

typedef struct Pool Pool;

// lanes >= 1 (1: no helper threads, pool_run calls fn on the caller).
// CD_OK, CD_EARG (lanes < 1) or CD_ENOMEM (also when a thread cannot start).
int pool_create(Pool **p, int lanes);
void pool_free(Pool *p);   // joins the helpers; NULL is fine
int pool_lanes(const Pool *p);
// Calls fn(ctx, lane) once for every lane, concurrently, and returns when all
// have returned. Not reentrant: one job at a time per pool, started from one
// thread.
void pool_run(Pool *p, void (*fn)(void *ctx, int lane), void *ctx);
