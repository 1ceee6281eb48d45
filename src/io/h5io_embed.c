// h5io_embed.c - text-embedding files (layout in h5io_embed.h): written by
// one rank of cocodiff-embed, read by the trainer.
#include "h5io_embed.h"
#include "h5io_util.h"
#include "status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int h5io_embed_write(const char *path, const H5EmbedSpec *s) {
    hid_t f = h5io_create_serial(path);
    if (f < 0) {
        CD_ERR("%s: cannot create HDF5 file: %s", path, h5io_write_reason(path, errno));
        unlink(path);
        return CD_EHDF5;
    }
    hsize_t kd[2] = {(hsize_t)s->K, (hsize_t)s->D}, kpd[3] = {(hsize_t)s->K, (hsize_t)s->nparts, (hsize_t)s->D};
    hsize_t k1 = (hsize_t)s->K, d1 = (hsize_t)s->D;
    int rc = h5io_attr_put_str(f, "format", H5IO_EMB_FORMAT) ||
                     h5io_attr_put_i64(f, "format_version", H5IO_EMB_FORMAT_VERSION) ||
                     h5io_attr_put_str(f, "encoder", s->encoder) || h5io_attr_put_str(f, "weights", s->weights) ||
                     h5io_attr_put_str(f, "weights_sha256", s->weights_sha256) || h5io_attr_put_i64(f, "dim", s->D) ||
                     h5io_attr_put_i64(f, "num_class", s->K) || h5io_attr_put_str(f, "descriptions", s->descriptions) ||
                     h5io_attr_put_str(f, "descriptions_sha256", s->descriptions_sha256)
                 ? CD_EHDF5 : CD_OK;
    if (!rc) rc = h5io_dset_write(f, "coarse", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, kd, s->coarse);
    if (!rc) rc = h5io_dset_write(f, "fine", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, kpd, s->fine);
    if (!rc) rc = h5io_dset_write(f, "class_id", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &k1, s->class_id);
    if (!rc) rc = h5io_dset_write_strings(f, "class_name", s->class_name, s->K);
    if (!rc) rc = h5io_dset_write_strings(f, "part_name", s->part_name, s->nparts);
    if (!rc && s->sif_pc) {
        rc = h5io_dset_write(f, "sif_pc", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d1, s->sif_pc);
        if (h5io_attr_put_f64(f, "sif_a", s->sif_a)) rc = CD_EHDF5;
        if (!rc) rc = h5io_attr_put_i64(f, "oov_tokens", s->oov_tokens);
    }
    return h5io_end_write(f, path, rc, NULL);   // a failed file removed, with a message
}

int h5io_embed_read(const char *path, H5Embed *e) {
    memset(e, 0, sizeof *e);
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: make it with cocodiff-embed)", path);
        return CD_EIO;
    }
    int64_t ver = 0, K = 0, D = 0;
    int rc = h5io_check_format(f, path, H5IO_EMB_FORMAT, H5IO_EMB_FORMAT_VERSION, &ver, "rerun cocodiff-embed");
    if (!rc && (h5io_attr_need_i64(f, path, "num_class", &K) || h5io_attr_need_i64(f, path, "dim", &D) ||
                h5io_attr_need_str(f, path, "encoder", e->encoder, sizeof e->encoder)))
        rc = CD_EFORMAT;
    if (!rc && (K <= 0 || D <= 0 || K > (1 << 20) || D > (1 << 16))) {
        CD_ERR("%s: num_class %lld or dim %lld outside [1, %d] and [1, %d]", path, (long long)K, (long long)D, 1 << 20,
               1 << 16);
        rc = CD_EFORMAT;
    }
    // Shapes checked before reading: the attributes size the buffers.
    int64_t kd[2] = {K, D}, kpd[3] = {K, 6, D}, k1[1] = {K};
    if (!rc && (h5io_dset_check(f, path, "coarse", H5T_FLOAT, 2, kd) || h5io_dset_check(f, path, "fine", H5T_FLOAT, 3, kpd) ||
                h5io_dset_check(f, path, "class_id", H5T_INTEGER, 1, k1)))
        rc = CD_EFORMAT;
    e->K = (int)K;
    e->D = (int)D;
    e->nparts = 6;
    if (!rc) {
        e->coarse = cd_malloc((size_t)K * D * sizeof(float));
        e->fine = cd_malloc((size_t)K * 6 * D * sizeof(float));
        e->class_id = cd_malloc((size_t)K * sizeof(int32_t));
        if (!e->coarse || !e->fine || !e->class_id) rc = CD_ENOMEM;
    }
    const char *names[3] = {"coarse", "fine", "class_id"};
    void *bufs[3] = {e->coarse, e->fine, e->class_id};
    hid_t types[3] = {H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, H5T_NATIVE_INT32};
    int64_t want[3] = {K * D, K * 6 * D, K};
    for (int i = 0; i < 3 && !rc; i++)
        if (h5io_dset_read_n(f, names[i], types[i], want[i], bufs[i])) {
            CD_ERR("%s: dataset /%s cannot be read", path, names[i]);
            rc = CD_EFORMAT;
        }
    H5Fclose(f);
    if (rc) h5io_embed_free(e);
    return rc;
}

void h5io_embed_free(H5Embed *e) {
    if (!e) return;
    free(e->coarse);
    free(e->fine);
    free(e->class_id);
    memset(e, 0, sizeof *e);
}
