// embed.c - the text stage (see embed.h).
//
// Every rank reads the (small) descriptions file; class k is encoded by rank
// k % size; the raw vectors are gathered on every rank in class order, so the
// corpus-wide steps (SIF's principal component, normalisation) and the file
// rank 0 writes are the same whatever the number of ranks. Per-text encoders
// never mix texts, so each vector is bit-identical wherever it is computed.
#include "embed.h"
#include "blas.h"
#include "checksum.h"
#include "clip.h"
#include "descriptions.h"
#include "fsutil.h"
#include "glove.h"
#include "h5io_embed.h"
#include "sif.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXTS_PER_CLASS (1 + DESC_NPARTS)   // coarse, then the parts

typedef struct Encoder {
    EmbedEncoder kind;
    int D;
    Glove *glove;
    ClipTokenizer *tok;
    ClipText *clip;
    const char *weights;   // the file whose checksum is recorded
} Encoder;

static int encoder_open(Encoder *e, const EmbedConfig *cfg, char *why, size_t whylen) {
    memset(e, 0, sizeof *e);
    e->kind = cfg->encoder;
    int rc;
    if (cfg->encoder == EMBED_GLOVE) {
        e->weights = cfg->glove;
        if ((rc = glove_load(&e->glove, cfg->glove))) {
            snprintf(why, whylen, "%s: cannot load the GloVe subset", cfg->glove);
            return rc;
        }
        e->D = glove_dim(e->glove);
        return CD_OK;
    }
    e->weights = cfg->clip_model;
    if ((rc = clip_tokenizer_load(&e->tok, cfg->clip_vocab, cfg->clip_merges, why, whylen))) return rc;
    if ((rc = clip_text_load(&e->clip, cfg->clip_model, why, whylen))) return rc;
    e->D = clip_text_dim(e->clip);
    return CD_OK;
}

static void encoder_close(Encoder *e) {
    glove_free(e->glove);
    clip_tokenizer_free(e->tok);
    clip_text_free(e->clip);
}

// One text into out (D floats, not normalised). *oov counts unknown words.
static int encode(Encoder *e, const Dist *d, const EmbedConfig *cfg, int id, const char *what,
                  const char *text, float *out, int64_t *oov) {
    int strict = cfg->strict_oov;
    if (e->kind == EMBED_GLOVE) {
        char unknown[512];
        int n = sif_embed(e->glove, cfg->sif_a, text, out, unknown, sizeof unknown);
        if (unknown[0]) {
            int k = 1;
            for (const char *s = unknown; *s; s++) k += *s == ' ';
            *oov += k;
            log_rank(d, "warning: class %d %s: not in the GloVe vocabulary: %s", id, what, unknown);
            if (strict) {
                CD_ERR("class %d %s: unknown words (--strict-oov)", id, what);
                return CD_EFORMAT;
            }
        }
        if (n == 0) {
            CD_ERR("class %d %s: no word of \"%s\" is in the GloVe vocabulary", id, what, text);
            return CD_EFORMAT;
        }
        return CD_OK;
    }
    CD_ERR("class %d %s: encode() is for GloVe (\"%s\")", id, what, text);
    (void)out;
    return CD_EARG;
}

// The seven texts of a class through CLIP in one batch.
static int encode_clip_class(Encoder *e, int id, const char *const *texts, float *out) {
    int32_t ids[TEXTS_PER_CLASS * CLIP_CONTEXT];
    int rc = CD_OK;
    for (int i = 0; i < TEXTS_PER_CLASS && rc == CD_OK; i++) rc = clip_tokenize(e->tok, texts[i], ids + i * CLIP_CONTEXT, NULL);
    if (!rc) rc = clip_text_forward(e->clip, ids, TEXTS_PER_CLASS, out);
    if (rc) CD_ERR("class %d: CLIP failed (%s)", id, cd_status_str(rc));
    return rc;
}

static const char *file_base(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// Rank 0: the embeddings file (cfg->out, through .partial), with the weights'
// and descriptions' checksums. CD_OK or an error (with a message).
static int write_embeddings(const EmbedConfig *cfg, const Encoder *enc, const Descriptions *desc, int K, int D,
                            const float *coarse_v, const float *fine_v, const float *pc, int64_t oov) {
    char wsha[65] = "", dsha[65] = "", tmp[4200];
    int32_t *ids = cd_malloc((size_t)K * sizeof *ids);
    const char **names = cd_malloc((size_t)K * sizeof *names);
    int rc = ids && names ? CD_OK : CD_ENOMEM;
    if (!rc) rc = checksum_sha256_file(enc->weights, wsha);
    if (!rc) rc = checksum_sha256_file(cfg->descriptions, dsha);
    for (int k = 0; k < K && ids && names; k++) {
        ids[k] = desc->cls[k].id;
        names[k] = desc->cls[k].name;
    }
    H5EmbedSpec spec = {
        .encoder = cfg->encoder == EMBED_GLOVE ? "glove-6b-100d-sif" : "clip-text",
        .weights = file_base(enc->weights), .weights_sha256 = wsha,
        .descriptions = file_base(cfg->descriptions), .descriptions_sha256 = dsha,
        .K = K, .D = D, .nparts = DESC_NPARTS,
        .coarse = coarse_v, .fine = fine_v, .sif_pc = cfg->encoder == EMBED_GLOVE ? pc : NULL,
        .class_id = ids, .class_name = names, .part_name = desc_part_names,
        .sif_a = cfg->sif_a, .oov_tokens = oov,
    };
    fs_partial(cfg->out, tmp, sizeof tmp);
    if (!rc && fs_mkdir_parent(cfg->out) != 0) {
        CD_ERR("%s: cannot create its folder: %s", cfg->out, strerror(errno));
        rc = CD_EIO;
    }
    if (!rc) rc = h5io_embed_write(tmp, &spec);
    if (!rc && fs_commit(tmp, cfg->out) != CD_OK) {
        CD_ERR("%s: cannot rename into place: %s", cfg->out, strerror(errno));
        rc = CD_EIO;
    }
    if (rc) unlink(tmp);
    free(ids);
    free(names);
    return rc;
}

int embed_run(const Dist *d, const EmbedConfig *cfg) {
    char why[1024] = "";
    double t0 = dist_wtime();
    // One BLAS thread: OpenBLAS results depend on the thread count, and the
    // file must be the same for any number of ranks.
    blas_set_threads(1);
    Descriptions *desc = NULL;
    Encoder enc;
    memset(&enc, 0, sizeof enc);
    int rc = descriptions_load(cfg->descriptions, &desc, why, sizeof why);
    if (rc == CD_OK && cfg->class_list)
        rc = descriptions_check_list(desc, cfg->class_list, cfg->id_base, why, sizeof why);
    if (rc == CD_OK) rc = encoder_open(&enc, cfg, why, sizeof why);
    if (rc && d->rank == 0) CD_ERR("%s", why[0] ? why : cd_status_str(rc));
    rc = dist_agree(d, rc);
    if (rc) {
        encoder_close(&enc);
        descriptions_free(desc);
        return EMBED_EXIT_ERROR;
    }
    const int K = desc->n, D = enc.D;
    log_info(d, "embed | %d classes from %s | encoder %s (D = %d) | %d rank(s)", K, cfg->descriptions,
             cfg->encoder == EMBED_GLOVE ? "glove-sif" : "clip", D, d->size);

    // This rank's classes, then everyone's, in class order.
    size_t per_class = (size_t)TEXTS_PER_CLASS * D;
    int mine = 0;
    for (int k = d->rank; k < K; k += d->size) mine++;
    float *local = cd_calloc((size_t)(mine ? mine : 1) * per_class, sizeof(float));
    int64_t oov = 0;
    rc = local ? CD_OK : CD_ENOMEM;
    Progress prog;
    progress_init(&prog, "embed", "classes", K, 10);
    for (int k = d->rank, j = 0; k < K && rc == CD_OK; k += d->size, j++) {
        const DescClass *c = &desc->cls[k];
        float *v = local + (size_t)j * per_class;
        char *coarse = descriptions_coarse(c);
        if (!coarse) {
            rc = CD_ENOMEM;
            break;
        }
        const char *texts[TEXTS_PER_CLASS] = {coarse};
        for (int p = 0; p < DESC_NPARTS; p++) texts[1 + p] = c->part[p];
        if (enc.kind == EMBED_CLIP) {
            // One batch per class: the same batches whatever the rank count,
            // so the vectors stay bit-identical (OpenBLAS picks kernels by size).
            rc = encode_clip_class(&enc, c->id, texts, v);
        } else {
            for (int p = 0; p < TEXTS_PER_CLASS && rc == CD_OK; p++)
                rc = encode(&enc, d, cfg, c->id, p ? desc_part_names[p - 1] : "coarse text", texts[p],
                            v + (size_t)p * D, &oov);
        }
        free(coarse);
        progress_update(&prog, d, (int64_t)(j + 1) * d->size);
    }
    rc = dist_agree(d, rc);
    void *gathered = NULL;
    size_t nbytes = 0;
    if (rc == CD_OK) rc = dist_allgather_bytes(d, local, (size_t)mine * per_class * sizeof(float), &gathered, &nbytes, NULL);
    if (rc == CD_OK) rc = dist_allreduce_sum_i64(d, &oov, 1);
    free(local);
    if (rc == CD_OK) progress_end(&prog, d, K);

    // Rank r's j-th block is class r + j*size: put the blocks in class order.
    float *coarse_v = NULL, *fine_v = NULL, *all = NULL, pc[4096];
    if (rc == CD_OK) {
        all = cd_malloc((size_t)K * per_class * sizeof(float));
        coarse_v = cd_malloc((size_t)K * D * sizeof(float));
        fine_v = cd_malloc((size_t)K * DESC_NPARTS * D * sizeof(float));
        if (!all || !coarse_v || !fine_v) rc = CD_ENOMEM;
    }
    if (rc == CD_OK) {
        const float *src = gathered;
        for (int r = 0; r < d->size; r++)
            for (int k = r; k < K; k += d->size, src += per_class)
                memcpy(all + (size_t)k * per_class, src, per_class * sizeof(float));
        // SIF: remove the first principal component of all the dataset's texts.
        if (cfg->encoder == EMBED_GLOVE) rc = sif_remove_pc(all, K * TEXTS_PER_CLASS, D, pc);
        sif_l2_normalize(all, K * TEXTS_PER_CLASS, D);
        for (int k = 0; k < K; k++) {
            memcpy(coarse_v + (size_t)k * D, all + (size_t)k * per_class, (size_t)D * sizeof(float));
            memcpy(fine_v + (size_t)k * DESC_NPARTS * D, all + (size_t)k * per_class + D,
                   (size_t)DESC_NPARTS * D * sizeof(float));
        }
    }
    free(gathered);
    free(all);

    if (rc == CD_OK && d->rank == 0) rc = write_embeddings(cfg, &enc, desc, K, D, coarse_v, fine_v, pc, oov);
    rc = dist_agree(d, rc);
    if (rc == CD_OK)
        log_info(d, "embed | wrote %s: coarse (%d, %d), fine (%d, %d, %d) | %lld unknown word(s) | %.2fs", cfg->out, K,
                 D, K, DESC_NPARTS, D, (long long)oov, dist_wtime() - t0);
    free(coarse_v);
    free(fine_v);
    encoder_close(&enc);
    descriptions_free(desc);
    return rc == CD_OK ? EMBED_EXIT_OK : EMBED_EXIT_ERROR;
}
