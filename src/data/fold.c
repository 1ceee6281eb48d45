// fold.c - subject-wise cross-validation folds of a training split (see
// fold.h): subject keys from the sample names (ntu_name_parse, else a hash),
// the round-robin assignment of the sorted distinct subjects, and the split
// of a cocodiff-prep file's /train group (names read through h5io).
#include "fold.h"
#include "h5io_prep.h"
#include "ntu.h"
#include "status.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


// ---------------------------------------------------------------------------
// Subjects

// FNV-1a over the bytes, then splitmix64's finaliser (so that nearby names
// spread over the whole key range).
static uint64_t name_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

uint64_t fold_subject(const char *name, size_t len) {
    size_t n = strnlen(name, len);
    char buf[32];
    NtuName nn;
    if (n < sizeof buf) {
        memcpy(buf, name, n);
        buf[n] = 0;
        if (ntu_name_parse(buf, &nn) == CD_OK) return (uint64_t)nn.performer;
    }
    return FOLD_HASHED_KEY | (name_hash(name, n) & ~FOLD_HASHED_KEY);
}

void fold_subject_name(uint64_t key, char *buf, size_t len) {
    if (key & FOLD_HASHED_KEY)
        snprintf(buf, len, "#%08llx", (unsigned long long)(key & 0xffffffffULL));
    else
        snprintf(buf, len, "P%03llu", (unsigned long long)key);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// The sorted distinct keys of n samples into *uniq (malloc'ed), their count
// into *nu; keys[i] gets sample i's key.
static int subjects(const char *names, int64_t n, int name_len, uint64_t *keys, uint64_t **uniq, int64_t *nu) {
    *uniq = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof **uniq);
    if (!*uniq) return CD_ENOMEM;
    for (int64_t i = 0; i < n; i++) keys[i] = fold_subject(names + (size_t)i * name_len, (size_t)name_len);
    memcpy(*uniq, keys, (size_t)n * sizeof *keys);
    qsort(*uniq, (size_t)n, sizeof **uniq, cmp_u64);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (u == 0 || (*uniq)[u - 1] != (*uniq)[i]) (*uniq)[u++] = (*uniq)[i];
    *nu = u;
    return CD_OK;
}

// "P001 P002 ..." of the keys (at most len bytes; " ..." when cut).
static void list_names(const uint64_t *keys, int64_t n, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        char one[24];
        fold_subject_name(keys[i], one, sizeof one);
        size_t l = strlen(one) + (at ? 1 : 0);
        if (at + l + 5 > len) {   // room for " ..." and the NUL
            snprintf(buf + at, len - at, "%s...", at ? " " : "");
            return;
        }
        at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? " " : "", one);
    }
}

static int64_t rank_of(const uint64_t *uniq, int64_t nu, uint64_t key) {
    const uint64_t *p = bsearch(&key, uniq, (size_t)nu, sizeof *uniq, cmp_u64);
    return p ? p - uniq : -1;
}

// fold_assign's work; also returns the sorted distinct keys (*uniq, *nu;
// the caller frees *uniq).
static int assign(const char *names, int64_t n, int name_len, int K, int *fold_of, uint64_t **uniq, int64_t *nu,
                  char *why, size_t whylen) {
    *uniq = NULL;
    *nu = 0;
    if (K < 2) return cd_why(why, whylen, CD_EARG, "%d fold(s): there must be at least 2", K);
    if (n < 0 || name_len < 1) return cd_why(why, whylen, CD_EARG, "%lld names of %d bytes", (long long)n, name_len);
    uint64_t *keys = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    int rc = keys ? subjects(names, n, name_len, keys, uniq, nu) : CD_ENOMEM;
    if (rc) {
        free(keys);
        return cd_why(why, whylen, rc, "out of memory for %lld names", (long long)n);
    }
    if (*nu < K) {
        char list[160];
        list_names(*uniq, *nu, list, sizeof list);
        int hashed = *nu > 0 && ((*uniq)[*nu - 1] & FOLD_HASHED_KEY);
        char hint[64] = "cross-validation needs at least 2 subjects";
        if (*nu >= 2) snprintf(hint, sizeof hint, "use at most %lld folds", (long long)*nu);
        rc = cd_why(why, whylen, CD_EARG, "%lld samples with %lld distinct subjects (%s)%s: too few for %d folds, "
                  "each fold needs at least one subject (HINT: %s)", (long long)n, (long long)*nu,
                  *nu ? list : "none", hashed ? "; names with no subject count as one each" : "", K, hint);
    } else {
        for (int64_t i = 0; i < n; i++) fold_of[i] = (int)(rank_of(*uniq, *nu, keys[i]) % K);
    }
    free(keys);
    return rc;
}

int fold_assign(const char *names, int64_t n, int name_len, int K, int *fold_of, int *nsubjects,
                char *why, size_t whylen) {
    uint64_t *uniq = NULL;
    int64_t nu = 0;
    int rc = assign(names, n, name_len, K, fold_of, &uniq, &nu, why, whylen);
    if (!rc && nsubjects) *nsubjects = nu > INT32_MAX ? INT32_MAX : (int)nu;
    free(uniq);
    return rc;
}

// ---------------------------------------------------------------------------
// A prep file's split

void fold_split_free(FoldSplit *s) {
    if (!s) return;
    free(s->train);
    free(s->held);
    memset(s, 0, sizeof *s);
}

int fold_split_file(const char *path, int K, int fold, FoldSplit *s, char *why, size_t whylen) {
    memset(s, 0, sizeof *s);
    s->K = K;
    s->fold = fold;
    if (K < 2) return cd_why(why, whylen, CD_EARG, "%s: %d fold(s): there must be at least 2", path, K);
    if (fold < 0 || fold >= K)
        return cd_why(why, whylen, CD_EARG, "%s: fold %d of %d: it must be in [0, %d]", path, fold, K, K - 1);
    H5PrepReader *r;
    if (h5io_prep_reader_open(&r, path) != CD_OK)
        return cd_why(why, whylen, CD_EFORMAT, "%s: not a %s file of version %d (HINT: is this a cocodiff-prep output?)",
                    path, H5IO_FORMAT, H5IO_FORMAT_VERSION);
    const H5PrepInfo info = *h5io_prep_reader_info(r);
    int64_t n = info.n[0];
    if (info.name_len < 1) {
        h5io_prep_reader_close(r);
        return cd_why(why, whylen, CD_EFORMAT, "%s: /train/name has %d-byte names", path, info.name_len);
    }
    size_t n1 = (size_t)(n > 0 ? n : 1);
    char *names = cd_malloc(n1 * (size_t)info.name_len);
    int *fold_of = cd_malloc(n1 * sizeof *fold_of);
    s->train = cd_malloc(n1 * sizeof *s->train);
    s->held = cd_malloc(n1 * sizeof *s->held);
    uint64_t *uniq = NULL;
    int64_t nu = 0;
    int rc = names && fold_of && s->train && s->held ? CD_OK : CD_ENOMEM;
    if (rc) cd_why(why, whylen, rc, "%s: out of memory for %lld names", path, (long long)n);
    if (!rc && n > 0 && (rc = h5io_prep_reader_read(r, 0, 0, n, NULL, NULL, NULL, names)))
        cd_why(why, whylen, rc, "%s: cannot read /train/name", path);
    h5io_prep_reader_close(r);
    char sub[768];
    if (!rc && (rc = assign(names, n, info.name_len, K, fold_of, &uniq, &nu, sub, sizeof sub)))
        cd_why(why, whylen, rc, "%s: /train: %s", path, sub);
    if (!rc) {
        for (int64_t i = 0; i < n; i++) {
            if (fold_of[i] == fold) s->held[s->nheld++] = i;
            else s->train[s->ntrain++] = i;
        }
        s->nsubjects = nu > INT32_MAX ? INT32_MAX : (int)nu;
        s->hashed = (uniq[nu - 1] & FOLD_HASHED_KEY) != 0;   // hashed keys sort last
        // The held-out subjects are ranks fold, fold + K, ... of the sorted keys.
        int64_t m = 0;
        for (int64_t r = fold; r < nu; r += K) uniq[m++] = uniq[r];
        s->nheld_subjects = (int)m;
        list_names(uniq, m, s->held_names, sizeof s->held_names);
    }
    free(names);
    free(fold_of);
    free(uniq);
    if (rc) {
        free(s->train);
        free(s->held);
        s->train = s->held = NULL;
        s->ntrain = s->nheld = 0;
    }
    return rc;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct Keyed {
    uint64_t key;
    int64_t idx;
    int32_t label;
} Keyed;

static int cmp_keyed(const void *a, const void *b) {
    const Keyed *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

int fold_fraction(const int64_t *idx, const int32_t *label, int64_t n, double fraction, int64_t **out,
                  int64_t *nout) {
    *out = NULL;
    *nout = 0;
    if (!(fraction > 0 && fraction <= 1) || n < 0) {
        CD_ERR("fold_fraction: fraction %g must be in (0, 1]", fraction);
        return CD_EARG;
    }
    Keyed *k = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    int64_t *o = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof *o), m = 0;
    if (!k || !o) { free(k); free(o); return CD_ENOMEM; }
    // a class's order: its samples sorted by a hash of their dataset index
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = (uint64_t)idx[i] * 0x9e3779b97f4a7c15ULL + 0x6c6f772d64617461ULL;   // "low-data"
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        k[i] = (Keyed){z ^ (z >> 31), idx[i], label[i]};
    }
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && k[j].label == k[i].label) j++;
        int64_t take = (int64_t)llround(fraction * (double)(j - i));
        if (take < 1) take = 1;
        for (int64_t q = i; q < i + take; q++) o[m++] = k[q].idx;
        i = j;
    }
    free(k);
    qsort(o, (size_t)m, sizeof *o, cmp_i64);
    *out = o;
    *nout = m;
    return CD_OK;
}
