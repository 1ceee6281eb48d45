// h5io_embed.h - text-embedding files (cocodiff-embed), one per dataset.
// Part of the h5io module (src/io/h5io_*.c, the only files that include hdf5.h).
//   /            attrs: format = "cocodiff-text-embeddings", format_version,
//                encoder, weights (file name), weights_sha256, dim, num_class,
//                descriptions (file name), descriptions_sha256, and for glove
//                sif_a and oov_tokens
//   /coarse      float32 (K, D)      "name. sentence", L2-normalised
//   /fine        float32 (K, 6, D)   head, hand, arm, hip, leg, foot
//   /class_id    int32 (K)           official ids (NTU label = id - 1,
//                                    Kinetics label = id)
//   /class_name  string (K)
//   /part_name   string (6)
//   /sif_pc      float32 (D)         glove only: the removed component
//
// defines: H5EmbedSpec, h5io_embed_write, H5Embed, h5io_embed_read, h5io_embed_free
#pragma once
#include <stdint.h>

#define H5IO_EMB_FORMAT "cocodiff-text-embeddings"
#define H5IO_EMB_FORMAT_VERSION 1

typedef struct H5EmbedSpec {
    const char *encoder, *weights, *weights_sha256, *descriptions, *descriptions_sha256;
    int K, D, nparts;
    const float *coarse, *fine, *sif_pc;   // sif_pc may be NULL
    const int32_t *class_id;
    const char *const *class_name;
    const char *const *part_name;
    double sif_a;                           // written when sif_pc is given
    int64_t oov_tokens;
} H5EmbedSpec;

// Serial (call on one rank): writes path (truncating). CD_OK or CD_EHDF5.
int h5io_embed_write(const char *path, const H5EmbedSpec *s);

typedef struct H5Embed {
    int K, D, nparts;
    float *coarse, *fine;      // (K, D), (K, nparts, D)
    int32_t *class_id;
    char encoder[64];
} H5Embed;
int h5io_embed_read(const char *path, H5Embed *e);
void h5io_embed_free(H5Embed *e);
