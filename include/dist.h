// dist.h - the MPI context and the collective helpers built on it.
//
// dist.c is the only file that calls MPI. A Dist is made once in main and
// passed down as const Dist *; it is the only global-ish state of a program.
// Errors: a failure every rank can see goes through dist_agree (all ranks
// learn the worst status and stop together); a failure one rank sees alone
// goes through dist_abort, which brings the whole job down, never a hang.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct Dist {
    int rank, size;
    void *comm;   // MPI_Comm *, kept opaque so callers need not include mpi.h
    void *log_file;   // FILE *: rank 0's log lines also go there, timestamped (NULL: no)
} Dist;

// Initialises MPI (or not, when the program was not started by mpirun the
// MPI library still gives size 1). Returns CD_OK or CD_EMPI.
int dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(Dist *d);

// Collective watchdog (on with 2 or more ranks): every collective below,
// dist_wait_all and dist_finalize wait for the other ranks without blocking
// inside MPI. A rank that has waited longer than the limit asks the others
// what they are doing and, after a grace period (limit / 10, 2 to 30 s),
// the job ends (MPI_Abort, exit 1) with a message naming the ranks that
// stayed silent (pid, host and, on the speaker's host, whether the process
// is stopped, running or gone), the collective and the stage (dist_stage)
// where the others wait. The limit is COCODIFF_WATCHDOG_S seconds (default
// DIST_WATCHDOG_DEFAULT_S; 0 turns the watchdog off): longer than any
// stretch one rank may compute alone while the others wait (a checkpoint
// write, the last batch of an evaluation). Parallel HDF5's own collectives
// and MPI_Finalize are blocking calls it cannot poll: those of them wrapped
// in dist_guard_begin/_end (h5io's parallel file create, flush and close;
// MPI_Finalize) are timed by a thread instead, which ends this rank (exit 1,
// and mpirun ends the job) after the limit plus the grace, saying where it
// waited; it cannot ask the others which one is silent (MPI is FUNNELED).
#define DIST_WATCHDOG_DEFAULT_S 600
// Around a blocking collective the watchdog cannot poll (what: e.g.
// "H5Fclose"); not nested; no-op when the watchdog is off.
void dist_guard_begin(const char *what);
void dist_guard_end(void);
// Names what this rank is doing ("train epoch 3 step 120"; progress_init
// sets its stage): the watchdog's message quotes it. Cheap: once a step.
void dist_stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Prints "error: [rN] msg" and aborts every rank with exit code `code`.
void dist_abort(const Dist *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

// Every rank passes its status; every rank gets the most severe one back
// (the most negative). Use it wherever ranks must decide to stop together.
int dist_agree(const Dist *d, int status);
void dist_barrier(const Dist *d);
double dist_wtime(void);

int dist_bcast_bytes(const Dist *d, void *buf, size_t n, int root);
int dist_allreduce_sum_i64(const Dist *d, int64_t *v, int n);
int dist_allreduce_max_i64(const Dist *d, int64_t *v, int n);
int dist_allreduce_max_f64(const Dist *d, double *v, int n);
int dist_allreduce_sum_f64(const Dist *d, double *v, int n);
// Concatenates every rank's byte buffer in rank order on every rank.
// *out is malloc'ed (caller frees); counts[rank] (optional, size d->size)
// receives each rank's byte count.
int dist_allgather_bytes(const Dist *d, const void *buf, size_t n, void **out,
                         size_t *out_n, size_t *counts);

// Logging: log_info prints on rank 0 only, one whole line at a time (Slurm
// logs stay readable); log_rank prints on any rank with an [rN] prefix.
// With d->log_file set (a copy of the Dist that a stage makes for its run,
// e.g. cocodiff-train's WORK_DIR/log.txt), log_info and log_warn lines also
// go there as "[ Fri Dec  4 21:11:45 2026 ] line", as CTR-GCN's main.py
// writes its log.txt.
void log_info(const Dist *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warn(const Dist *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_rank(const Dist *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Progress of a long loop, printed by rank 0 as one line every `every_s`
// seconds: "stage | done/total (pct) | rate unit/s | ETA".
typedef struct Progress {
    const char *stage, *unit;
    int64_t total;
    double t0, last, every_s;
} Progress;
void progress_init(Progress *p, const char *stage, const char *unit, int64_t total, double every_s);
// `done` is the job-wide count as rank 0 estimates it (its own count x size);
// a line never reads 100% or more before progress_end.
void progress_update(Progress *p, const Dist *d, int64_t done);
// The last line, once the work is complete: total/total (100%) and the time.
void progress_end(Progress *p, const Dist *d, int64_t done);

// Sums float vectors across ranks in place (chunked below INT_MAX).
int dist_allreduce_sum_f32(const Dist *d, float *v, size_t n);

// ---------------------------------------------------------------------------
// Non-blocking collectives (train.c's gradient buckets, overlapped with the
// backward pass; see gradsync.h)

// A Dist over the same ranks with its own communicator (MPI_Comm_dup):
// operations on it never match ones on d, so a non-blocking all-reduce can
// be in flight on one while the other runs blocking collectives (backward's
// synchronised BatchNorm sums) in their own order. Collective. Free it with
// dist_dup_free (not dist_finalize), which ignores a Dist whose comm is NULL.
int dist_dup(const Dist *d, Dist *out);
void dist_dup_free(Dist *d);

// One non-blocking operation in flight (MPI_Request(s) inside; opaque).
typedef struct DistRequest DistRequest;
// Starts summing v (n floats) across ranks in place (MPI_Iallreduce, chunked
// below INT_MAX) and returns its handle in *req. v must not be read or
// written until the request completes. Every rank must start the same
// operations in the same order on a communicator.
int dist_iallreduce_sum_f32(const Dist *d, float *v, size_t n, DistRequest **req);
// MPI_Test: lets MPI move a started operation along (Open MPI progresses
// non-blocking collectives only inside MPI calls) and sets *done to 1 once
// it has completed. Cheap; call it between stretches of computation.
int dist_test(DistRequest *req, int *done);
// Waits for reqs[0, n) (NULL entries are skipped), frees them and sets them
// to NULL.
int dist_wait_all(DistRequest **reqs, int n);
