// gradsync.c - bucketed gradient all-reduce overlapped with backward (see
// gradsync.h). MPI stays behind dist.h: dist_dup, dist_iallreduce_sum_f32,
// dist_test, dist_wait_all.
#include "gradsync.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

#define GRADSYNC_MAX_BUFFERS 8

typedef struct Bucket {
    int buf;
    size_t off, n;         // floats [off, off + n) of the buffer
} Bucket;

struct GradSync {
    const Dist *d;         // the main communicator (cap 0's blocking sums)
    Dist comm;             // the buckets' own communicator (overlap only)
    size_t cap;            // bytes; 0: one blocking all-reduce per buffer
    int on;                // buckets overlap backward (cap > 0, size > 1)
    float *v[GRADSYNC_MAX_BUFFERS];
    size_t n[GRADSYNC_MAX_BUFFERS];
    int nbuf;
    Bucket *b;             // in start order
    DistRequest **req;
    char *ready, *done;
    int nb, next;          // buckets; the first one not started this step
    double wait_s;
};

int gradsync_create(GradSync **out, const Dist *d, size_t cap_bytes) {
    GradSync *g = cd_calloc(1, sizeof *g);
    if (!g) return CD_ENOMEM;
    g->d = d;
    g->cap = cap_bytes;
    g->on = cap_bytes > 0 && d->size > 1;
    if (g->on) {
        int rc = dist_dup(d, &g->comm);
        if (rc) { free(g); return rc; }
    }
    *out = g;
    return CD_OK;
}

void gradsync_free(GradSync *g) {
    if (!g) return;
    if (g->req) dist_wait_all(g->req, g->nb);   // nothing is in flight after a finish; safe anyway
    dist_dup_free(&g->comm);
    free(g->b);
    free(g->req);
    free(g->ready);
    free(g->done);
    free(g);
}

static int push_bucket(GradSync *g, int buf, size_t off, size_t n) {
    Bucket *b = realloc(g->b, (size_t)(g->nb + 1) * sizeof *b);
    if (!b) return CD_ENOMEM;
    g->b = b;
    g->b[g->nb++] = (Bucket){buf, off, n};
    return CD_OK;
}

int gradsync_add(GradSync *g, float *v, size_t n, const size_t *first, int nstages) {
    if (g->nbuf == GRADSYNC_MAX_BUFFERS) {
        CD_ERR("gradsync: more than %d gradient buffers", GRADSYNC_MAX_BUFFERS);
        return CD_EARG;
    }
    if (nstages < 1 || first[nstages - 1] != 0) {
        CD_ERR("gradsync: the last stage must make the whole buffer final (first 0)");
        return CD_EARG;
    }
    const int buf = g->nbuf++;
    g->v[buf] = v;
    g->n[buf] = n;
    if (!g->on) return buf;
    // Back to front: extend the open bucket [first[s], end) stage by stage,
    // close it once it holds cap bytes or the buffer is done.
    const size_t capf = g->cap / sizeof(float) > 0 ? g->cap / sizeof(float) : 1;
    size_t end = n;
    for (int s = 0; s < nstages; s++) {
        if (first[s] > end) {
            CD_ERR("gradsync: stage %d starts at %zu, after the previous one (%zu): stages go back to front", s,
                   first[s], end);
            return CD_EARG;
        }
        if (end > first[s] && (end - first[s] >= capf || s == nstages - 1)) {
            int rc = push_bucket(g, buf, first[s], end - first[s]);
            if (rc) return rc;
            end = first[s];
        }
    }
    free(g->req); free(g->ready); free(g->done);
    g->req = cd_calloc((size_t)g->nb, sizeof *g->req);
    g->ready = cd_calloc((size_t)g->nb, 1);
    g->done = cd_calloc((size_t)g->nb, 1);
    if (!g->req || !g->ready || !g->done) return CD_ENOMEM;
    return buf;
}

void gradsync_begin(GradSync *g) {
    if (!g->on) return;
    memset(g->ready, 0, (size_t)g->nb);
    memset(g->done, 0, (size_t)g->nb);
    g->next = 0;
}

// Starts the ready buckets at the head of the sequence, in order.
static int start_ready(GradSync *g) {
    for (; g->next < g->nb && g->ready[g->next]; g->next++) {
        const Bucket *k = &g->b[g->next];
        int rc = dist_iallreduce_sum_f32(&g->comm, g->v[k->buf] + k->off, k->n, &g->req[g->next]);
        if (rc) return rc;
    }
    return CD_OK;
}

int gradsync_ready(GradSync *g, int buf, size_t first) {
    if (!g->on) return CD_OK;
    for (int i = 0; i < g->nb; i++)
        if (g->b[i].buf == buf && g->b[i].off >= first) g->ready[i] = 1;
    int rc = start_ready(g);
    // Open MPI moves a non-blocking collective along only inside MPI calls:
    // poke the ones in flight while backward is between layers.
    for (int i = 0; i < g->next && rc == CD_OK; i++) {
        if (g->done[i]) continue;
        int done = 0;
        rc = dist_test(g->req[i], &done);
        g->done[i] = (char)done;
    }
    return rc;
}

int gradsync_finish(GradSync *g) {
    if (g->d->size < 2) return CD_OK;
    double t0 = dist_wtime();
    int rc = CD_OK;
    if (!g->on) {
        for (int i = 0; i < g->nbuf && rc == CD_OK; i++) rc = dist_allreduce_sum_f32(g->d, g->v[i], g->n[i]);
    } else {
        memset(g->ready, 1, (size_t)g->nb);
        rc = start_ready(g);
        int rw = dist_wait_all(g->req, g->next);
        if (rc == CD_OK) rc = rw;
    }
    g->wait_s += dist_wtime() - t0;
    return rc;
}

int gradsync_num_buckets(const GradSync *g) { return g->on ? g->nb : 0; }
size_t gradsync_max_bucket_bytes(const GradSync *g) {
    size_t m = 0;
    for (int i = 0; g->on && i < g->nb; i++) if (g->b[i].n > m) m = g->b[i].n;
    return m * sizeof(float);
}
int gradsync_overlapped(const GradSync *g) { return g->on; }
double gradsync_wait_seconds(const GradSync *g) { return g->wait_s; }
