// pool.c - fixed thread team with sleeping helpers (see pool.h).
//
// One mutex guards the job: pool_run publishes fn/ctx, bumps the generation
// and broadcasts; each helper runs its lane once per generation and the last
// one to finish signals the caller. Generations (not a flag) make a helper
// that wakes late still run the job exactly once.
#include "pool.h"
#include "status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct PoolHelper {
    struct Pool *pool;
    int lane;
} PoolHelper;

struct Pool {
    int lanes, started;     // lanes; helper threads running
    pthread_t *tid;         // (lanes - 1)
    PoolHelper *helpers;    // (lanes - 1)
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    void (*fn)(void *ctx, int lane);
    void *ctx;
    unsigned long gen;      // job generation
    int pending;            // helpers still in the current job
    int quit;
};

static void *pool_main(void *arg) {
    PoolHelper *h = arg;
    Pool *p = h->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, h->lane);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pool_create(Pool **out, int lanes) {
    *out = NULL;
    if (lanes < 1) {
        CD_ERR("pool: %d lanes (expected at least 1)", lanes);
        return CD_EARG;
    }
    Pool *p = cd_calloc(1, sizeof *p);
    if (!p) return CD_ENOMEM;
    p->lanes = lanes;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (lanes > 1) {
        p->tid = cd_calloc((size_t)lanes - 1, sizeof *p->tid);
        p->helpers = cd_calloc((size_t)lanes - 1, sizeof *p->helpers);
        if (!p->tid || !p->helpers) {
            pool_free(p);
            return CD_ENOMEM;
        }
    }
    for (int i = 1; i < lanes; i++) {
        p->helpers[i - 1] = (PoolHelper){p, i};
        int e = pthread_create(&p->tid[i - 1], NULL, pool_main, &p->helpers[i - 1]);
        if (e) {
            CD_ERR("pool: cannot start helper thread %d of %d: %s", i, lanes - 1, strerror(e));
            pool_free(p);
            return CD_ENOMEM;   // EAGAIN: out of threads or memory for stacks
        }
        p->started++;
    }
    *out = p;
    return CD_OK;
}

void pool_free(Pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++) pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p->helpers);
    free(p);
}

int pool_lanes(const Pool *p) { return p ? p->lanes : 1; }

void pool_run(Pool *p, void (*fn)(void *ctx, int lane), void *ctx) {
    if (p->lanes == 1) {
        fn(ctx, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->lanes - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
