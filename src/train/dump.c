// dump.c - part tokens of a whole split through the frozen backbone (see
// dump.h).
#include "dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5io_features.h"
#include "loader.h"
#include "status.h"

typedef struct DumpRow {
    int32_t pass;
    int64_t index, row;
} DumpRow;

static int row_cmp(const void *a, const void *b) {
    const DumpRow *x = a, *y = b;
    if (x->pass != y->pass) return x->pass < y->pass ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int dump_collect(const Dist *d, Ctrgcn *m, const PartSets *p, const DumpSpec *s, H5Features *f, char *why,
                 size_t whylen) {
    memset(f, 0, sizeof *f);
    Loader *l = NULL;
    int rc = loader_open_subset(&l, s->data, s->group, s->subset, s->nsubset, s->feeder, s->batch, d->rank, d->size,
                                s->seed, 0, 0, why, whylen);
    rc = dist_agree(d, rc);
    if (rc) { loader_free(l); return rc; }
    int passes = s->views > 0 ? s->views : 1, nb = loader_num_batches(l), nmax = loader_max_local(l);
    int Cl = 0, Tl = 0, V = 0, M = 0;
    ctrgcn_last_output(m, &Cl, NULL, &V, &M);
    const int K = ctrgcn_config(m)->num_class;
    size_t tok = (size_t)COCODIFF_TOKENS * Cl, cap = (size_t)passes * nb * (nmax > 0 ? nmax : 1);
    float *x = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * loader_sample_floats(l) * sizeof(float));
    float *logits = cd_malloc((size_t)(nmax > 0 ? nmax : 1) * K * sizeof(float));
    float *parts = cd_malloc(cap * tok * sizeof(float));
    int32_t *lab = cd_malloc(cap * sizeof(int32_t));
    int64_t *idx = cd_malloc(cap * sizeof(int64_t)), n = 0;
    int32_t *pass = cd_malloc(cap * sizeof(int32_t));
    if (!x || !logits || !parts || !lab || !idx || !pass) rc = CD_ENOMEM;
    for (int v = 0; v < passes && !rc; v++)
        for (int b = 0; b < nb && !rc; b++) {
            int nl = 0;
            if ((rc = loader_batch(l, v, b, x, lab + n, idx + n, &nl)) || nl == 0) continue;
            if ((rc = ctrgcn_forward(m, logits, x, nl, s->window, 0))) break;
            const float *last = ctrgcn_last_output(m, &Cl, &Tl, &V, &M), *h0 = ctrgcn_features(m);
            float *pp = parts + (size_t)n * tok;
            cocodiff_pool_parts(pp, last, nl, M, Cl, Tl, V, p);
            for (int i = 0; i < nl; i++) {
                memcpy(pp + (size_t)i * tok, h0 + (size_t)i * Cl, (size_t)Cl * sizeof(float));
                pass[n + i] = v;
            }
            n += nl;
        }
    free(x);
    free(logits);
    loader_free(l);
    rc = dist_agree(d, rc);
    // Each rank holds its slice of every batch; the gathered rows go in
    // (pass, dataset index) order, which no rank count changes.
    void *ap = NULL, *al = NULL, *ai = NULL, *av = NULL;
    size_t np = 0, nlab = 0, ni = 0, nv = 0;
    if (!rc) rc = dist_allgather_bytes(d, parts, (size_t)n * tok * sizeof(float), &ap, &np, NULL);
    if (!rc) rc = dist_allgather_bytes(d, lab, (size_t)n * sizeof(int32_t), &al, &nlab, NULL);
    if (!rc) rc = dist_allgather_bytes(d, idx, (size_t)n * sizeof(int64_t), &ai, &ni, NULL);
    if (!rc) rc = dist_allgather_bytes(d, pass, (size_t)n * sizeof(int32_t), &av, &nv, NULL);
    free(parts); free(lab); free(idx); free(pass);
    int64_t N = (int64_t)(ni / sizeof(int64_t));
    if (!rc) {
        f->n = N;
        f->C = Cl;
        f->tokens = COCODIFF_TOKENS;
        f->views = s->views;
        DumpRow *ord = cd_malloc((size_t)(N > 0 ? N : 1) * sizeof *ord);
        f->parts = cd_malloc((size_t)(N > 0 ? N : 1) * tok * sizeof(float));
        f->real = cd_malloc((size_t)(N > 0 ? N : 1) * Cl * sizeof(float));
        f->label = cd_malloc((size_t)(N > 0 ? N : 1) * sizeof(int32_t));
        f->index = cd_malloc((size_t)(N > 0 ? N : 1) * sizeof(int64_t));
        if (!ord || !f->parts || !f->real || !f->label || !f->index) rc = CD_ENOMEM;
        for (int64_t i = 0; i < N && !rc; i++) ord[i] = (DumpRow){((int32_t *)av)[i], ((int64_t *)ai)[i], i};
        if (!rc) qsort(ord, (size_t)N, sizeof *ord, row_cmp);
        for (int64_t i = 0; i < N && !rc; i++) {
            int64_t j = ord[i].row;
            memcpy(f->parts + (size_t)i * tok, (const float *)ap + (size_t)j * tok, tok * sizeof(float));
            memcpy(f->real + (size_t)i * Cl, (const float *)ap + (size_t)j * tok, (size_t)Cl * sizeof(float));
            f->label[i] = ((int32_t *)al)[j];
            f->index[i] = ((int64_t *)ai)[j];
        }
        free(ord);
        snprintf(f->data, sizeof f->data, "%s", s->data);
        snprintf(f->split, sizeof f->split, "%s", s->split);
        snprintf(f->checkpoint, sizeof f->checkpoint, "%s", s->checkpoint ? s->checkpoint : "");
    }
    free(ap); free(al); free(ai); free(av);
    rc = dist_agree(d, rc);
    if (rc) h5io_features_free(f);
    return rc;
}

int dump_parts(const Dist *d, Ctrgcn *m, const PartSets *p, const DumpSpec *s, const char *out, char *why,
               size_t whylen) {
    H5Features f;
    int rc = dump_collect(d, m, p, s, &f, why, whylen);
    if (rc) return rc;
    if (d->rank == 0 && (rc = h5io_features_write(out, &f))) cd_why(why, whylen, rc, "%s: cannot write the part tokens", out);
    h5io_features_free(&f);
    return dist_agree(d, rc);
}
