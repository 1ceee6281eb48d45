// sif.h - sentence embeddings from word vectors by SIF weighting (Arora,
// Liang, Ma: "A Simple but Tough-to-Beat Baseline for Sentence Embeddings",
// ICLR 2017): v(s) = mean over words w of a/(a + p(w)) * vec(w), then the
// projection on the first principal component of all sentences is removed.
//
// p(w) comes from the word's frequency rank r (0-based) in the full GloVe
// vocabulary of N words by Zipf's law: p = 1 / ((r + 1) * H_N), H_N the N-th
// harmonic number (GloVe's vocabulary is ordered by corpus frequency).
#pragma once
#include <stddef.h>

#include "glove.h"

#define SIF_A 1e-3

// Splits text into lowercase GloVe tokens (PTB-like: "person's" -> person 's,
// "don't" -> do n't; punctuation dropped; hyphenated words kept whole when
// the vocabulary has them, else split). Calls fn for each token.
typedef void (*SifTokenFn)(const char *tok, void *ctx);
void sif_tokenize(const Glove *g, const char *text, SifTokenFn fn, void *ctx);

// 1 for the few very frequent tokens (a, i, 's, n't, ...) the vector package
// leaves out: they are skipped by design, not reported as unknown.
int sif_is_skipped(const char *tok);

// Weighted average of one text into out (dim). Out-of-vocabulary words are
// skipped and appended to oov (space separated, may be NULL). Returns the
// number of in-vocabulary words (0: the caller must treat it as an error).
int sif_embed(const Glove *g, double a, const char *text, float *out, char *oov, size_t oovcap);

// Removes from every row of X (n, D) its projection on the first right
// singular vector of X (uncentred, as SIF's TruncatedSVD); u (D) receives it.
int sif_remove_pc(float *X, int n, int D, float *u);

// Scales each row of X (n, D) to unit L2 norm (zero rows stay zero).
void sif_l2_normalize(float *X, int n, int D);
