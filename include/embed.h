// embed.h - the text stage: class descriptions to L2-normalised coarse and
// fine text embeddings in HDF5 (layout in h5io_embed.h), with the GloVe+SIF
// encoder (default, offline) or the CLIP ViT-B/32 text tower.
#pragma once
#include "dist.h"

typedef enum EmbedEncoder { EMBED_GLOVE = 0, EMBED_CLIP } EmbedEncoder;

typedef struct EmbedConfig {
    const char *descriptions;   // datasets/*/descriptions.tsv
    const char *class_list;     // optional official list to check against
    int id_base;                // ids of class_list: line index + id_base
    EmbedEncoder encoder;
    const char *glove;          // GloVe subset file
    double sif_a;
    const char *clip_model, *clip_vocab, *clip_merges;
    const char *out;
    int strict_oov;             // an out-of-vocabulary word is an error
} EmbedConfig;

enum { EMBED_EXIT_OK = 0, EMBED_EXIT_ERROR = 1, EMBED_EXIT_USAGE = 2 };

// Collective; returns an EMBED_EXIT_* code every rank agrees on.
int embed_run(const Dist *d, const EmbedConfig *cfg);
