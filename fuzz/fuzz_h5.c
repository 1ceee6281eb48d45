// fuzz_h5.c - our HDF5 readers (h5io.h, h5io_scores.h, h5io_features.h,
// checkpoint.h) on a file image. The first byte picks the reader, the rest
// is the file (seeds: tiny files of each kind, scripts/fuzz.sh):
//   0 prep file (info, class names, the first sample of each group,
//     padded or raw sequences)
//   1 scores (cocodiff-eval / -ensemble)   2 features (cocodiff-train)
//   3 text embeddings (cocodiff-embed)     4 checkpoint (tensors, config
//   attribute, the model built from it as cocodiff-eval does)
// Most inputs exercise libhdf5's own parser; a crash inside libhdf5 is
// reported as such (docs/reliability.md), not fixed here. After every input
// no HDF5 object may be left open: a reader that forgets an id on an error
// path (a file kept open, memory that grows run after run) stops the fuzzer
// (the one include of hdf5.h outside src/io/: this is a test harness).
#include "fuzz.h"

#include <hdf5.h>

#include "checkpoint.h"
#include "ctrgcn.h"
#include "h5io_ckpt.h"
#include "h5io_embed.h"
#include "h5io_features.h"
#include "h5io_prep.h"
#include "h5io_scores.h"
#include "skeleton.h"

// The first sample of each group, padded or as a raw sequence (NW-UCLA).
static void prep(const char *path) {
    char **names = NULL;
    int n = 0;
    if (!h5io_prep_class_names(path, &names, &n)) h5io_strings_free(names, n);
    H5PrepReader *r = NULL;
    if (h5io_prep_reader_open(&r, path)) return;
    const H5PrepInfo *info = h5io_prep_reader_info(r);
    if (info->V >= 1 && info->V <= 64 && info->M >= 1 && info->M <= 8 && info->name_len >= 1 &&
        info->name_len <= 4096) {
        float *x = malloc((size_t)SKEL_C * SKEL_T * (size_t)info->V * (size_t)info->M * sizeof *x);
        double *seq = malloc((size_t)16 * (size_t)info->V * 3 * sizeof *seq);
        char *name = malloc((size_t)info->name_len);
        int32_t label, frames;
        int64_t off;
        for (int g = 0; x && seq && name && g < 2; g++) {
            if (info->n[g] < 1) continue;
            if (!info->seq) {
                h5io_prep_reader_read(r, g, 0, 1, x, &label, &frames, name);
            } else if (!h5io_prep_reader_read(r, g, 0, 1, NULL, &label, &frames, name) &&
                       !h5io_prep_reader_read_offsets(r, g, 0, 1, &off) && frames >= 1) {
                h5io_prep_reader_read_seq(r, g, off, frames < 16 ? frames : 16, seq);
            }
        }
        free(x);
        free(seq);
        free(name);
    }
    h5io_prep_reader_close(r);
}

static void checkpoint(const char *path) {
    H5CkptMeta meta;
    H5Tensor *model = NULL, *mom = NULL, *grp = NULL;
    int nmodel = 0, nmom = 0, ngrp = 0;
    memset(&meta, 0, sizeof meta);
    if (!h5io_ckpt_read(path, &meta, &model, &nmodel, &mom, &nmom)) {
        h5io_tensor_find(model, nmodel, "fc.weight");
        h5io_tensors_free(model, nmodel);
        h5io_tensors_free(mom, nmom);
        h5io_ckpt_meta_free(&meta);
    }
    if (!h5io_ckpt_read_group(path, "cocodiff", &grp, &ngrp)) h5io_tensors_free(grp, ngrp);
    char *yaml = NULL;
    h5io_ckpt_read_config(path, &yaml);
    free(yaml);
    Ctrgcn *m = NULL;
    CheckpointInfo info;
    char why[1024];
    if (!checkpoint_load_model(path, &m, &info, why, sizeof why)) ctrgcn_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[256];
    if (fuzz_tmpfile(data + 1, size - 1, path, sizeof path)) return 0;
    switch (data[0] % 5) {
    case 0: prep(path); break;
    case 1: { H5Scores s; if (!h5io_scores_read(path, &s)) h5io_scores_free(&s); break; }
    case 2: { H5Features f; if (!h5io_features_read(path, &f)) h5io_features_free(&f); break; }
    case 3: { H5Embed e; if (!h5io_embed_read(path, &e)) h5io_embed_free(&e); break; }
    default: checkpoint(path); break;
    }
    unlink(path);
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_ids != 0) {
        fprintf(stderr, "fuzz_h5: reader %d left %zd HDF5 object(s) open\n", data[0] % 5, open_ids);
        abort();
    }
    return 0;
}
