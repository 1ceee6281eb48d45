// glove.c - reading and writing the GloVe subset file (format in glove.h).
#include "glove.h"
#include "fsutil.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GLOVE_VERSION 1

typedef struct GloveWord {
    const char *word;
    int64_t rank;
    const float *vec;
} GloveWord;

struct Glove {
    int dim, n;
    int64_t vocab;
    GloveWord *words;   // sorted by strcmp
    char *strings;
    float *vecs;
};

static int cmp_word(const void *a, const void *b) {
    return strcmp(((const GloveWord *)a)->word, ((const GloveWord *)b)->word);
}

int glove_load(Glove **out, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        CD_ERR("%s: cannot open the GloVe subset (HINT: `make glove-subset` makes it)", path);
        return CD_EIO;
    }
    char magic[4];
    uint32_t ver, dim, n;
    uint64_t vocab;
    int rc = CD_EFORMAT;
    Glove *g = NULL;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "GLV1", 4) != 0 || fread(&ver, 4, 1, f) != 1 ||
        fread(&dim, 4, 1, f) != 1 || fread(&n, 4, 1, f) != 1 || fread(&vocab, 8, 1, f) != 1) {
        CD_ERR("%s: not a GloVe subset file (bad header)", path);
        goto done;
    }
    if (ver != GLOVE_VERSION || dim == 0 || dim > 4096 || n > 50000000u) {
        CD_ERR("%s: unsupported GloVe subset (version %u, dim %u, count %u)", path, ver, dim, n);
        goto done;
    }
    g = cd_calloc(1, sizeof *g);
    long pos = ftell(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, pos, SEEK_SET);
    if (!g) { rc = CD_ENOMEM; goto done; }
    g->dim = (int)dim;
    g->n = (int)n;
    g->vocab = (int64_t)vocab;
    g->words = cd_calloc(n ? n : 1, sizeof *g->words);
    g->vecs = cd_malloc((size_t)n * dim * sizeof(float));
    g->strings = cd_malloc((size_t)(size - pos) + n);   // upper bound
    if (!g->words || !g->vecs || !g->strings) { rc = CD_ENOMEM; goto done; }
    char *s = g->strings;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t rank;
        uint16_t len;
        if (fread(&rank, 4, 1, f) != 1 || fread(&len, 2, 1, f) != 1 || len == 0 ||
            fread(s, 1, len, f) != len || fread(g->vecs + (size_t)i * dim, sizeof(float), dim, f) != dim) {
            CD_ERR("%s: truncated at record %u of %u", path, i, n);
            goto done;
        }
        s[len] = 0;
        g->words[i] = (GloveWord){s, rank, g->vecs + (size_t)i * dim};
        if (i && strcmp(g->words[i - 1].word, s) >= 0) {
            CD_ERR("%s: records not sorted at '%s'", path, s);
            goto done;
        }
        s += len + 1;
    }
    if (fgetc(f) != EOF) {
        CD_ERR("%s: data after the last record", path);
        goto done;
    }
    rc = CD_OK;
done:
    fclose(f);
    if (rc) glove_free(g);
    else *out = g;
    return rc;
}

int glove_dim(const Glove *g) { return g->dim; }
int glove_count(const Glove *g) { return g->n; }
int64_t glove_vocab_size(const Glove *g) { return g->vocab; }

const float *glove_lookup(const Glove *g, const char *word, int64_t *rank) {
    GloveWord key = {word, 0, NULL};
    const GloveWord *w = bsearch(&key, g->words, (size_t)g->n, sizeof key, cmp_word);
    if (!w) return NULL;
    if (rank) *rank = w->rank;
    return w->vec;
}

void glove_free(Glove *g) {
    if (!g) return;
    free(g->words);
    free(g->strings);
    free(g->vecs);
    free(g);
}

int glove_write_subset(const char *path, int dim, int64_t vocab, int n, char **words,
                       const int64_t *ranks, const float *vecs) {
    GloveWord *w = cd_malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w) return CD_ENOMEM;
    for (int i = 0; i < n; i++) w[i] = (GloveWord){words[i], ranks[i], vecs + (size_t)i * dim};
    qsort(w, (size_t)n, sizeof *w, cmp_word);
    char tmp[4200];
    fs_partial(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    uint32_t ver = GLOVE_VERSION, d = (uint32_t)dim, cnt = (uint32_t)n;
    uint64_t voc = (uint64_t)vocab;
    ok = ok && fwrite("GLV1", 1, 4, f) == 4 && fwrite(&ver, 4, 1, f) == 1 && fwrite(&d, 4, 1, f) == 1 &&
         fwrite(&cnt, 4, 1, f) == 1 && fwrite(&voc, 8, 1, f) == 1;
    for (int i = 0; ok && i < n; i++) {
        uint32_t rank = (uint32_t)w[i].rank;
        size_t l = strlen(w[i].word);
        uint16_t len = (uint16_t)l;
        ok = l > 0 && l < 65536 && fwrite(&rank, 4, 1, f) == 1 && fwrite(&len, 2, 1, f) == 1 &&
             fwrite(w[i].word, 1, len, f) == len && fwrite(w[i].vec, sizeof(float), (size_t)dim, f) == (size_t)dim;
    }
    if (f && fclose(f) != 0) ok = 0;
    free(w);
    if (!ok || fs_commit(tmp, path) != CD_OK) {
        CD_ERR("%s: cannot write the GloVe subset", path);
        unlink(tmp);
        return CD_EIO;
    }
    return CD_OK;
}

int glove_create(Glove **out, int dim, int64_t vocab, int n, char **words, const int64_t *ranks,
                 const float *vecs) {
    Glove *g = cd_calloc(1, sizeof *g);
    if (!g) return CD_ENOMEM;
    size_t chars = 0;
    for (int i = 0; i < n; i++) chars += strlen(words[i]) + 1;
    g->dim = dim;
    g->n = n;
    g->vocab = vocab;
    g->words = cd_calloc(n ? (size_t)n : 1, sizeof *g->words);
    g->vecs = cd_malloc((size_t)n * dim * sizeof(float));
    g->strings = cd_malloc(chars ? chars : 1);
    if (!g->words || !g->vecs || !g->strings) { glove_free(g); return CD_ENOMEM; }
    memcpy(g->vecs, vecs, (size_t)n * dim * sizeof(float));
    char *s = g->strings;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(words[i]);
        memcpy(s, words[i], l + 1);
        g->words[i] = (GloveWord){s, ranks[i], g->vecs + (size_t)i * dim};
        s += l + 1;
    }
    qsort(g->words, (size_t)n, sizeof *g->words, cmp_word);
    *out = g;
    return CD_OK;
}
