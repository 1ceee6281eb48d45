// glove.h - GloVe word vectors: the committed subset file the text stage
// reads, and the writer the `cocodiff-glove-subset` tool makes it with.
//
// Subset file (little-endian): "GLV1", u32 version (1), u32 dim, u32 count,
// u64 vocab (size of the full vocabulary the ranks refer to), then `count`
// records sorted by word bytes: u32 rank (0 = most frequent word of the full
// vocabulary), u16 length, the word's bytes, f32[dim] vector.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct Glove Glove;

int glove_load(Glove **g, const char *path);
int glove_dim(const Glove *g);
int glove_count(const Glove *g);
int64_t glove_vocab_size(const Glove *g);
// The word's vector (dim floats) and frequency rank, or NULL when the
// subset does not have it.
const float *glove_lookup(const Glove *g, const char *word, int64_t *rank);
void glove_free(Glove *g);

// Writes a subset file (records are sorted here). Returns CD_OK or CD_EIO.
int glove_write_subset(const char *path, int dim, int64_t vocab, int n, char **words,
                       const int64_t *ranks, const float *vecs);

// Builds an in-memory table from arrays (copied), e.g. the full vocabulary
// read by the subset tool.
int glove_create(Glove **g, int dim, int64_t vocab, int n, char **words, const int64_t *ranks,
                 const float *vecs);
