// dist.c - MPI context, collective error agreement, logging and progress.
// The only file that includes mpi.h.
#include "dist.h"
#include "status.h"

#include <mpi.h>
#include <errno.h>   // program_invocation_short_name (_GNU_SOURCE)
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMM(d) (*(MPI_Comm *)(d)->comm)

static MPI_Comm world_copy;   // the communicator the Dist points at (set once in dist_init)

// ---------------------------------------------------------------------------
// Watchdog (dist.h): under it every collective here is started in its non-blocking
// form and waited for polling (wd_wait), so a rank never blocks inside MPI
// on a rank that does not come. (A barrier before a blocking collective is
// not enough: it completes on one rank as soon as the other has sent its
// part, and that one can stop before its own call.) A wait longer than
// the limit fires: the rank asks every other rank, over a communicator of
// the watchdog's own, what it is doing; ranks waiting in a collective
// answer from their polling loop, a stopped, hung or dead one cannot.
// After a grace period the lowest rank that fired prints who answered and
// who stayed silent (rank, pid, host and, on its own host, the process
// state), and the job ends with MPI_Abort. Part of the MPI context, like
// world_copy.
enum { WD_QUERY = 1, WD_REPLY = 2 };
typedef struct WdNote {
    int rank, pid;
    int64_t seq;         // collectives this rank has entered
    double waited;       // seconds in the current wait
    char what[32];       // the dist_* call it waits in
    char stage[96];      // dist_stage's last words
} WdNote;
typedef struct WdHost { int pid; char host[64]; } WdHost;
static struct {
    double limit;        // seconds; 0: off
    MPI_Comm comm;
    int on, rank, size;  // rank and size in the world
    int64_t seq;
    WdHost *who;         // (size) every rank's pid and host
    char stage[96];
} wd;

void dist_stage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wd.stage, sizeof wd.stage, fmt, ap);
    va_end(ap);
}

static void wd_init(void) {
    const char *e = getenv("COCODIFF_WATCHDOG_S");
    char *end = NULL;
    double v = e && *e ? strtod(e, &end) : DIST_WATCHDOG_DEFAULT_S;
    if (e && *e && (*end || !(v >= 0) || v > 1e9)) {
        if (wd.rank == 0)
            fprintf(stderr, "warning: COCODIFF_WATCHDOG_S='%s' is not a number of seconds >= 0; using %d\n", e,
                    DIST_WATCHDOG_DEFAULT_S);
        v = DIST_WATCHDOG_DEFAULT_S;
    }
    wd.limit = v;
    if (wd.size < 2 || v <= 0) return;
    WdHost me = {(int)getpid(), ""};
    gethostname(me.host, sizeof me.host - 1);
    wd.who = calloc((size_t)wd.size, sizeof *wd.who);
    if (!wd.who || MPI_Comm_dup(world_copy, &wd.comm) != MPI_SUCCESS ||
        MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, wd.who, (int)sizeof me, MPI_BYTE, world_copy) != MPI_SUCCESS) {
        if (wd.rank == 0) fprintf(stderr, "warning: the collective watchdog could not start (MPI); running without\n");
        return;
    }
    wd.on = 1;
}

static void wd_note(WdNote *n, const char *what, double waited) {
    memset(n, 0, sizeof *n);
    n->rank = wd.rank;
    n->pid = (int)getpid();
    n->seq = wd.seq;
    n->waited = waited;
    snprintf(n->what, sizeof n->what, "%s", what);
    snprintf(n->stage, sizeof n->stage, "%s", wd.stage[0] ? wd.stage : "start");
}

// Answers the queries of ranks whose watchdog fired; *lower: one of them has
// a lower rank than ours (it will speak for the job).
static void wd_answer(const char *what, double waited, int *lower) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, WD_QUERY, wd.comm, &flag, &st) != MPI_SUCCESS || !flag) return;
        WdNote q, me;
        MPI_Recv(&q, (int)sizeof q, MPI_BYTE, st.MPI_SOURCE, WD_QUERY, wd.comm, MPI_STATUS_IGNORE);
        if (lower && st.MPI_SOURCE < wd.rank) *lower = 1;
        wd_note(&me, what, waited);
        MPI_Request r;
        if (MPI_Isend(&me, (int)sizeof me, MPI_BYTE, st.MPI_SOURCE, WD_REPLY, wd.comm, &r) == MPI_SUCCESS)
            MPI_Wait(&r, MPI_STATUS_IGNORE);   // small: sent eagerly to a rank that is polling
    }
}

static void wd_sleep(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

// What a silent rank is doing, when it runs on this host (/proc/PID/stat's
// state); "" elsewhere.
static const char *wd_proc_state(const WdHost *h, const char *myhost) {
    if (strcmp(h->host, myhost) != 0) return "";
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", h->pid);
    FILE *f = fopen(path, "r");
    if (!f) return ": the process is gone (dead)";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');   // "pid (comm) S ...": comm may hold spaces
    switch (p && p[1] == ' ' ? p[2] : '?') {
    case 'T': return ": the process is STOPPED (SIGSTOP, Ctrl-Z or a debugger)";
    case 't': return ": the process is stopped by a tracer (a debugger)";
    case 'Z': case 'X': return ": the process is dead (a zombie)";
    case 'R': return ": the process is running (computing outside any collective, or in a loop)";
    case 'D': return ": the process waits in the kernel (disk or network I/O)";
    case 'S': return ": the process sleeps (blocked outside the watched collectives, e.g. in I/O or an "
                     "HDF5 collective)";
    default: return "";
    }
}

// The message of the rank that speaks for the job: the silent ranks first
// (the ones to look at), then where every other rank waits.
static void wd_report(const WdNote *me, const WdNote *heard, const char *got, double grace) {
    const char *prog = program_invocation_short_name;
    const WdHost *mine = &wd.who[wd.rank];
    int silent = 0;
    for (int r = 0; r < wd.size; r++) {
        if (r == wd.rank || got[r]) continue;
        silent++;
        fprintf(stderr, "error: [r%d] watchdog: %s: rank %d (pid %d on %s) is SILENT: it did not reach %s "
                "(collective #%lld) within %.0f s, nor answer within %.0f s%s\n", wd.rank, prog, r, wd.who[r].pid,
                wd.who[r].host, me->what, (long long)me->seq, wd.limit, grace, wd_proc_state(&wd.who[r], mine->host));
    }
    fprintf(stderr, "error: [r%d] watchdog: %s: rank %d waits in %s (collective #%lld) for %.0f s; stage: %s\n",
            wd.rank, prog, wd.rank, me->what, (long long)me->seq, me->waited, me->stage);
    for (int r = 0; r < wd.size; r++)
        if (r != wd.rank && got[r])
            fprintf(stderr, "error: [r%d] watchdog: %s: rank %d waits in %s (collective #%lld) for %.0f s; stage: %s\n",
                    wd.rank, prog, r, heard[r].what, (long long)heard[r].seq, heard[r].waited, heard[r].stage);
    fprintf(stderr, "error: [r%d] watchdog: ending the job%s (COCODIFF_WATCHDOG_S=%g sets the limit in seconds; 0 "
            "turns the watchdog off)\n", wd.rank, silent ? "" : ": every rank answers, but they wait in different "
            "collectives", wd.limit);
    fflush(stderr);
}

// The wait has lasted longer than the limit. Returns when the requests
// complete during the grace period after all; otherwise ends the job.
static void wd_fire(MPI_Request *req, int n, const char *what, double t0) {
    const double grace = wd.limit / 10 < 2 ? 2 : wd.limit / 10 > 30 ? 30 : wd.limit / 10;
    const int P = wd.size;
    WdNote me, *heard = calloc((size_t)P, sizeof *heard);
    char *got = calloc((size_t)P, 1);   // got[r]: rank r answered
    int lower = 0;
    wd_note(&me, what, MPI_Wtime() - t0);
    for (int r = 0; r < P; r++) {
        if (r == wd.rank) continue;
        MPI_Request q;   // never waited for: a stopped rank would keep it pending
        if (MPI_Isend(&me, (int)sizeof me, MPI_BYTE, r, WD_QUERY, wd.comm, &q) == MPI_SUCCESS) MPI_Request_free(&q);
    }
    for (double end = MPI_Wtime() + grace; MPI_Wtime() < end;) {
        int done = 0;
        if (MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE) == MPI_SUCCESS && done) {
            free(heard);
            free(got);
            return;
        }
        wd_answer(what, MPI_Wtime() - t0, &lower);
        int flag = 0;
        MPI_Status st;
        while (MPI_Iprobe(MPI_ANY_SOURCE, WD_REPLY, wd.comm, &flag, &st) == MPI_SUCCESS && flag) {
            WdNote r;
            MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, WD_REPLY, wd.comm, MPI_STATUS_IGNORE);
            if (heard && got && st.MPI_SOURCE >= 0 && st.MPI_SOURCE < P) {
                heard[st.MPI_SOURCE] = r;
                got[st.MPI_SOURCE] = 1;
            }
        }
        wd_sleep(1e-3);
    }
    me.waited = MPI_Wtime() - t0;
    if (!lower && heard && got) wd_report(&me, heard, got, grace);
    else wd_sleep(grace);   // a lower rank speaks and aborts; abort ourselves should it not
    free(heard);
    free(got);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

// MPI_Waitall, with the watchdog: polls (a short nap once the wait is
// longer than 10 ms), answers other ranks' queries, fires after the limit.
static int wd_wait(MPI_Request *req, int n, const char *what) {
    if (!wd.on) return MPI_Waitall(n, req, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? CD_OK : CD_EMPI;
    const double t0 = MPI_Wtime();
    for (unsigned spin = 1;; spin++) {
        int done = 0;
        if (MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) return CD_EMPI;
        if (done) return CD_OK;
        if (spin % 64) continue;
        double w = MPI_Wtime() - t0;
        wd_answer(what, w, NULL);
        if (w > wd.limit) wd_fire(req, n, what, t0);
        else if (w > 0.01) wd_sleep(1e-4);
    }
}

// COLL(what, blocking call, non-blocking call): every collective of dist.c.
// Without the watchdog, the blocking form (Open MPI's tuned algorithms:
// 5-10x faster for small messages than its non-blocking ones, bench-dist);
// under it, the non-blocking form (its request in `req`) waited for by
// wd_wait, so a rank never blocks inside MPI on a rank that does not come.
// Counts the collectives (the watchdog's #). Gives an MPI error code.
static int coll_wait(int started, MPI_Request *r, const char *what) {
    if (started != MPI_SUCCESS) return started;
    wd.seq++;
    return wd_wait(r, 1, what) == CD_OK ? MPI_SUCCESS : MPI_ERR_OTHER;
}
#define COLL(what, blocking, nonblocking) (wd.on ? coll_wait((nonblocking), &req, (what)) : (blocking))

// ---------------------------------------------------------------------------
// Guard (dist.h): a blocking collective of another library cannot be
// polled, so a thread of the guard's own times it. The thread never calls
// MPI (MPI is FUNNELED); past the deadline it prints where this rank waits
// and ends the process with _exit(1), which makes mpirun end the job (the
// stopped rank included). Part of the MPI context, like wd.
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, armed, quit, rank;
    double secs;               // limit + grace
    struct timespec deadline;  // CLOCK_MONOTONIC
    char what[48];
} guard = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *guard_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&guard.mu);
    while (!guard.quit) {
        if (!guard.armed) {
            pthread_cond_wait(&guard.cv, &guard.mu);
            continue;
        }
        if (pthread_cond_timedwait(&guard.cv, &guard.mu, &guard.deadline) == ETIMEDOUT && guard.armed) {
            fprintf(stderr, "error: [r%d] watchdog: %s: still inside %s after %.0f s, a collective it cannot poll "
                            "(parallel HDF5 or MPI_Finalize): another rank is stopped, hung or dead; stage: %s; "
                            "ending this rank (exit 1; mpirun ends the job; COCODIFF_WATCHDOG_S sets the limit)\n",
                    guard.rank, program_invocation_short_name, guard.what, guard.secs,
                    wd.stage[0] ? wd.stage : "(none said)");
            fflush(stderr);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&guard.mu);
    return NULL;
}

void dist_guard_begin(const char *what) {
    if (!wd.on) return;
    pthread_mutex_lock(&guard.mu);
    if (!guard.started) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&guard.cv, &ca);
        pthread_condattr_destroy(&ca);
        guard.started = pthread_create(&guard.th, NULL, guard_main, NULL) == 0;
    }
    const double grace = wd.limit / 10 < 2 ? 2 : wd.limit / 10 > 30 ? 30 : wd.limit / 10;
    guard.rank = wd.rank;
    guard.secs = wd.limit + grace;
    snprintf(guard.what, sizeof guard.what, "%s", what);
    clock_gettime(CLOCK_MONOTONIC, &guard.deadline);
    guard.deadline.tv_sec += (time_t)guard.secs;
    guard.armed = 1;
    pthread_cond_signal(&guard.cv);
    pthread_mutex_unlock(&guard.mu);
}

void dist_guard_end(void) {
    pthread_mutex_lock(&guard.mu);
    guard.armed = 0;
    if (guard.started) pthread_cond_signal(&guard.cv);
    pthread_mutex_unlock(&guard.mu);
}

// Stops the thread (after MPI_Finalize).
static void guard_stop(void) {
    pthread_mutex_lock(&guard.mu);
    int started = guard.started;
    guard.quit = 1;
    guard.armed = 0;
    if (started) pthread_cond_signal(&guard.cv);
    pthread_mutex_unlock(&guard.mu);
    if (started) {
        pthread_join(guard.th, NULL);
        pthread_cond_destroy(&guard.cv);
    }
    guard.started = guard.quit = 0;
}

int dist_init(Dist *d, int *argc, char ***argv) {
    int inited = 0;
    MPI_Initialized(&inited);
    // FUNNELED: helper threads (e.g. prep's checksum thread) never call MPI.
    int provided;
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        return CD_EMPI;
    }
    if (MPI_Comm_dup(MPI_COMM_WORLD, &world_copy) != MPI_SUCCESS) return CD_EMPI;
    // Errors in our own calls are checked, so let MPI return them to us.
    MPI_Comm_set_errhandler(world_copy, MPI_ERRORS_RETURN);
    d->comm = &world_copy;
    d->log_file = NULL;
    MPI_Comm_rank(world_copy, &d->rank);
    MPI_Comm_size(world_copy, &d->size);
    wd.rank = d->rank;
    wd.size = d->size;
    wd_init();
    return CD_OK;
}

void dist_finalize(Dist *d) {
    if (!d || !d->comm) return;
    // the ranks meet under the watchdog first: MPI_Finalize synchronises too
    MPI_Request req;
    COLL("dist_finalize", MPI_SUCCESS, MPI_Ibarrier(COMM(d), &req));
    if (wd.on) MPI_Comm_free(&wd.comm);
    MPI_Comm_free((MPI_Comm *)d->comm);
    d->comm = NULL;
    dist_guard_begin("MPI_Finalize");   // it synchronises too, unpolled
    free(wd.who);
    memset(&wd, 0, sizeof wd);
    MPI_Finalize();
    guard_stop();
}

void dist_abort(const Dist *d, int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "error: [r%d] %s\n", d ? d->rank : 0, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code ? code : 1);   // not reached
}

int dist_agree(const Dist *d, int status) {
    int worst = status;
    MPI_Request req;
    if (COLL("dist_agree", MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MIN, COMM(d)),
             MPI_Iallreduce(&status, &worst, 1, MPI_INT, MPI_MIN, COMM(d), &req)) != MPI_SUCCESS)
        dist_abort(d, 1, "MPI_Allreduce failed while agreeing on a status");
    return worst;
}

void dist_barrier(const Dist *d) {
    MPI_Request req;
    if (COLL("dist_barrier", MPI_Barrier(COMM(d)), MPI_Ibarrier(COMM(d), &req)) != MPI_SUCCESS)
        dist_abort(d, 1, "MPI_Barrier failed");
}

double dist_wtime(void) { return MPI_Wtime(); }

// MPI counts are int: move big buffers in chunks below INT_MAX.
#define CHUNK ((size_t)1 << 30)

int dist_bcast_bytes(const Dist *d, void *buf, size_t n, int root) {
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_Request req;
        if (COLL("dist_bcast_bytes", MPI_Bcast((char *)buf + off, (int)m, MPI_BYTE, root, COMM(d)),
                 MPI_Ibcast((char *)buf + off, (int)m, MPI_BYTE, root, COMM(d), &req)) != MPI_SUCCESS) {
            CD_ERR("MPI_Bcast of %zu bytes failed", m);
            return CD_EMPI;
        }
    }
    return CD_OK;
}

static int allreduce(const Dist *d, void *v, int n, MPI_Datatype t, MPI_Op op) {
    MPI_Request req;
    if (COLL("dist_allreduce", MPI_Allreduce(MPI_IN_PLACE, v, n, t, op, COMM(d)),
             MPI_Iallreduce(MPI_IN_PLACE, v, n, t, op, COMM(d), &req)) != MPI_SUCCESS) {
        CD_ERR("MPI_Allreduce of %d values failed", n);
        return CD_EMPI;
    }
    return CD_OK;
}
int dist_allreduce_sum_i64(const Dist *d, int64_t *v, int n) { return allreduce(d, v, n, MPI_INT64_T, MPI_SUM); }
int dist_allreduce_max_i64(const Dist *d, int64_t *v, int n) { return allreduce(d, v, n, MPI_INT64_T, MPI_MAX); }
int dist_allreduce_max_f64(const Dist *d, double *v, int n) { return allreduce(d, v, n, MPI_DOUBLE, MPI_MAX); }
int dist_allreduce_sum_f64(const Dist *d, double *v, int n) { return allreduce(d, v, n, MPI_DOUBLE, MPI_SUM); }

int dist_allgather_bytes(const Dist *d, const void *buf, size_t n, void **out,
                         size_t *out_n, size_t *counts) {
    int64_t mine = (int64_t)n;
    int64_t *all = cd_calloc((size_t)d->size, sizeof *all);
    if (!all) return CD_ENOMEM;
    MPI_Request req;
    if (COLL("dist_allgather_bytes", MPI_Allgather(&mine, 1, MPI_INT64_T, all, 1, MPI_INT64_T, COMM(d)),
             MPI_Iallgather(&mine, 1, MPI_INT64_T, all, 1, MPI_INT64_T, COMM(d), &req)) != MPI_SUCCESS) {
        free(all);
        CD_ERR("MPI_Allgather of byte counts failed");
        return CD_EMPI;
    }
    size_t total = 0;
    for (int r = 0; r < d->size; r++) total += (size_t)all[r];
    char *dst = cd_malloc(total);
    if (!dst) { free(all); return CD_ENOMEM; }
    // Each rank broadcasts its part in turn: simple, and free of int overflow
    // in Allgatherv displacements for multi-GB gathers.
    size_t off = 0;
    int rc = CD_OK;
    for (int r = 0; r < d->size && rc == CD_OK; r++) {
        if (r == d->rank && n) memcpy(dst + off, buf, n);
        rc = dist_bcast_bytes(d, dst + off, (size_t)all[r], r);
        if (counts) counts[r] = (size_t)all[r];
        off += (size_t)all[r];
    }
    free(all);
    if (rc != CD_OK) { free(dst); return rc; }
    *out = dst;
    *out_n = total;
    return CD_OK;
}

static void vlog(const Dist *d, FILE *f, const char *prefix, int all_ranks,
                 const char *fmt, va_list ap) {
    if (!all_ranks && d && d->rank != 0) return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (all_ranks) fprintf(f, "%s[r%d] %s\n", prefix, d ? d->rank : 0, msg);
    else fprintf(f, "%s%s\n", prefix, msg);
    fflush(f);
    if (!all_ranks && d && d->log_file) {
        time_t now = time(NULL);
        char when[64];
        struct tm tm;
        strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", localtime_r(&now, &tm));   // time.asctime()
        fprintf(d->log_file, "[ %s ] %s%s\n", when, prefix, msg);
        fflush(d->log_file);
    }
}
void log_info(const Dist *d, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vlog(d, stdout, "", 0, fmt, ap); va_end(ap);
}
void log_warn(const Dist *d, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vlog(d, stderr, "warning: ", 0, fmt, ap); va_end(ap);
}
void log_rank(const Dist *d, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vlog(d, stderr, "", 1, fmt, ap); va_end(ap);
}

void progress_init(Progress *p, const char *stage, const char *unit, int64_t total, double every_s) {
    p->stage = stage;
    dist_stage("%s", stage);
    p->unit = unit;
    p->total = total;
    p->t0 = p->last = MPI_Wtime();
    p->every_s = every_s;
}

static void progress_print(Progress *p, const Dist *d, int64_t done, const char *tail) {
    double el = MPI_Wtime() - p->t0;
    double rate = el > 0 ? (double)done / el : 0.0;
    if (p->total > 0)
        log_info(d, "%s | %lld/%lld %s (%.1f%%) | %.1f %s/s | %s", p->stage, (long long)done,
                 (long long)p->total, p->unit, 100.0 * (double)done / (double)p->total, rate,
                 p->unit, tail);
    else
        log_info(d, "%s | %lld %s | %.1f %s/s | %s", p->stage, (long long)done, p->unit, rate,
                 p->unit, tail);
}

void progress_update(Progress *p, const Dist *d, int64_t done) {
    double now = MPI_Wtime();
    if (now - p->last < p->every_s) return;
    // done is often rank 0's count x ranks: an estimate that may overshoot;
    // a line past 100% is never right, and 100% belongs to progress_end.
    if (p->total > 0 && done >= p->total) done = p->total - 1;
    p->last = now;
    double el = now - p->t0, rate = el > 0 ? (double)done / el : 0.0;
    char tail[48] = "ETA -";
    if (p->total > 0 && rate > 0 && done < p->total) {
        double s = (double)(p->total - done) / rate;
        snprintf(tail, sizeof tail, "ETA %dm%02ds", (int)(s / 60), (int)s % 60);
    }
    progress_print(p, d, done, tail);
}

void progress_end(Progress *p, const Dist *d, int64_t done) {
    char tail[48];
    snprintf(tail, sizeof tail, "done in %.1fs", MPI_Wtime() - p->t0);
    // The work is complete: the line reads total/total (100%) even when the
    // total was an estimate (compressed bytes, a count from one rank).
    progress_print(p, d, p->total > 0 ? p->total : done, tail);
}

int dist_allreduce_sum_f32(const Dist *d, float *v, size_t n) {
    for (size_t off = 0; off < n; off += CHUNK / 4) {
        size_t m = n - off < CHUNK / 4 ? n - off : CHUNK / 4;
        MPI_Request req;
        if (COLL("dist_allreduce_sum_f32", MPI_Allreduce(MPI_IN_PLACE, v + off, (int)m, MPI_FLOAT, MPI_SUM, COMM(d)),
                 MPI_Iallreduce(MPI_IN_PLACE, v + off, (int)m, MPI_FLOAT, MPI_SUM, COMM(d), &req)) != MPI_SUCCESS) {
            CD_ERR("MPI_Allreduce of %zu floats failed", m);
            return CD_EMPI;
        }
    }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Non-blocking collectives

int dist_dup(const Dist *d, Dist *out) {
    MPI_Comm *c = cd_malloc(sizeof *c);
    if (!c) return CD_ENOMEM;
    MPI_Request req;
    if (COLL("dist_dup", MPI_Comm_dup(COMM(d), c), MPI_Comm_idup(COMM(d), c, &req)) != MPI_SUCCESS) {
        free(c);
        CD_ERR("MPI_Comm_dup failed");
        return CD_EMPI;
    }
    MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN);
    out->rank = d->rank;
    out->size = d->size;
    out->comm = c;
    out->log_file = d->log_file;
    return CD_OK;
}

void dist_dup_free(Dist *d) {
    if (!d || !d->comm) return;
    MPI_Comm_free((MPI_Comm *)d->comm);
    free(d->comm);
    d->comm = NULL;
}

struct DistRequest {
    int n;                 // chunks (one MPI_Iallreduce each)
    MPI_Request r[];
};

int dist_iallreduce_sum_f32(const Dist *d, float *v, size_t n, DistRequest **req) {
    const size_t chunk = CHUNK / 4;
    const int nc = (int)((n + chunk - 1) / chunk);
    DistRequest *q = cd_malloc(sizeof *q + (size_t)nc * sizeof(MPI_Request));
    if (!q) return CD_ENOMEM;
    q->n = 0;
    for (size_t off = 0; off < n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        if (MPI_Iallreduce(MPI_IN_PLACE, v + off, (int)m, MPI_FLOAT, MPI_SUM, COMM(d), &q->r[q->n]) != MPI_SUCCESS) {
            CD_ERR("MPI_Iallreduce of %zu floats failed", m);
            // The chunks already started cannot be cancelled: a failed start
            // is fatal for the job (the caller aborts), so they are left be.
            free(q);
            return CD_EMPI;
        }
        q->n++;
    }
    *req = q;
    return CD_OK;
}

int dist_test(DistRequest *req, int *done) {
    int flag = 1;
    if (req && req->n > 0 && MPI_Testall(req->n, req->r, &flag, MPI_STATUSES_IGNORE) != MPI_SUCCESS) {
        CD_ERR("MPI_Testall on a non-blocking all-reduce failed");
        return CD_EMPI;
    }
    *done = flag;
    return CD_OK;
}

int dist_wait_all(DistRequest **reqs, int n) {
    int rc = CD_OK;
    for (int i = 0; i < n; i++) {
        if (!reqs[i]) continue;
        if (reqs[i]->n > 0 && wd_wait(reqs[i]->r, reqs[i]->n, "dist_wait_all") != CD_OK) {
            CD_ERR("MPI_Waitall on a non-blocking all-reduce failed");
            rc = CD_EMPI;
        }
        free(reqs[i]);
        reqs[i] = NULL;
    }
    return rc;
}
