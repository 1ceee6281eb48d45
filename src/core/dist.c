// dist.c - MPI context, collective error agreement, logging and progress.
// The only file that includes mpi.h.
#include "dist.h"
#include "status.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMM(d) (*(MPI_Comm *)(d)->comm)

static MPI_Comm world_copy;   // the communicator the Dist points at (set once in dist_init)

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
    return CD_OK;
}

void dist_finalize(Dist *d) {
    if (!d || !d->comm) return;
    MPI_Comm_free((MPI_Comm *)d->comm);
    d->comm = NULL;
    MPI_Finalize();
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
    if (MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MIN, COMM(d)) != MPI_SUCCESS)
        dist_abort(d, 1, "MPI_Allreduce failed while agreeing on a status");
    return worst;
}

void dist_barrier(const Dist *d) {
    if (MPI_Barrier(COMM(d)) != MPI_SUCCESS) dist_abort(d, 1, "MPI_Barrier failed");
}

double dist_wtime(void) { return MPI_Wtime(); }

// MPI counts are int: move big buffers in chunks below INT_MAX.
#define CHUNK ((size_t)1 << 30)

int dist_bcast_bytes(const Dist *d, void *buf, size_t n, int root) {
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        if (MPI_Bcast((char *)buf + off, (int)m, MPI_BYTE, root, COMM(d)) != MPI_SUCCESS) {
            CD_ERR("MPI_Bcast of %zu bytes failed", m);
            return CD_EMPI;
        }
    }
    return CD_OK;
}

static int allreduce(const Dist *d, void *v, int n, MPI_Datatype t, MPI_Op op) {
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, t, op, COMM(d)) != MPI_SUCCESS) {
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
    if (MPI_Allgather(&mine, 1, MPI_INT64_T, all, 1, MPI_INT64_T, COMM(d)) != MPI_SUCCESS) {
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
        if (MPI_Allreduce(MPI_IN_PLACE, v + off, (int)m, MPI_FLOAT, MPI_SUM, COMM(d)) != MPI_SUCCESS) {
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
    if (MPI_Comm_dup(COMM(d), c) != MPI_SUCCESS) {
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
        if (reqs[i]->n > 0 && MPI_Waitall(reqs[i]->n, reqs[i]->r, MPI_STATUSES_IGNORE) != MPI_SUCCESS) {
            CD_ERR("MPI_Waitall on a non-blocking all-reduce failed");
            rc = CD_EMPI;
        }
        free(reqs[i]);
        reqs[i] = NULL;
    }
    return rc;
}
