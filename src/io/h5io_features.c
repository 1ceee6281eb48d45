// h5io_features.c - FEATURES.h5 writer and reader (layout in
// h5io_features.h); written by one rank to PATH.partial and renamed.
#include "h5io_features.h"
#include "fsutil.h"
#include "h5io_util.h"
#include "status.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int h5io_features_write(const char *path, const H5Features *x) {
    char tmp[4200];
    if (fs_partial(path, tmp, sizeof tmp)) {
        CD_ERR("%s: path too long", path);
        return CD_EARG;
    }
    hid_t f = h5io_create_serial(tmp);
    if (f < 0) {
        CD_ERR("%s: cannot create HDF5 file: %s", tmp, h5io_write_reason(tmp, errno));
        unlink(tmp);
        return CD_EHDF5;
    }
    hsize_t d2[2] = {(hsize_t)x->n, (hsize_t)x->C}, d1 = (hsize_t)x->n;
    hsize_t d3[3] = {(hsize_t)x->n, (hsize_t)x->tokens, (hsize_t)x->C};
    int bad = h5io_attr_put_str(f, "format", H5IO_FEAT_FORMAT) ||
              h5io_attr_put_i64(f, "format_version", H5IO_FEAT_FORMAT_VERSION) ||
              h5io_attr_put_str(f, "data", x->data) || h5io_attr_put_str(f, "split", x->split) ||
              h5io_attr_put_str(f, "checkpoint", x->checkpoint) || h5io_attr_put_i64(f, "views", x->views) ||
              h5io_dset_write(f, "real", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x->real) ||
              (x->generated && h5io_dset_write(f, "generated", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x->generated)) ||
              (x->parts && x->tokens > 0 &&
               h5io_dset_write(f, "parts", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3, x->parts)) ||
              h5io_dset_write(f, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &d1, x->label) ||
              h5io_dset_write(f, "index", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, x->index);
    if (h5io_end_write(f, tmp, bad ? CD_EHDF5 : CD_OK, NULL)) return CD_EHDF5;   // removed, said why
    if (fs_commit(tmp, path) != CD_OK) {
        CD_ERR("%s: cannot rename %s into place", path, tmp);
        remove(tmp);
        return CD_EIO;
    }
    return CD_OK;
}

void h5io_features_free(H5Features *x) {
    free(x->real);
    free(x->generated);
    free(x->parts);
    free(x->label);
    free(x->index);
    memset(x, 0, sizeof *x);
}

int h5io_features_read(const char *path, H5Features *x) {
    memset(x, 0, sizeof *x);
    H5ioQuiet q = h5io_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = CD_OK;
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5", path);
        rc = CD_EIO;
        goto out;
    }
    int64_t ver = 0, views = 0;
    if (h5io_check_format(f, path, H5IO_FEAT_FORMAT, H5IO_FEAT_FORMAT_VERSION, &ver, "rerun the training") ||
        h5io_attr_need_str(f, path, "data", x->data, sizeof x->data) ||
        h5io_attr_need_str(f, path, "split", x->split, sizeof x->split) ||
        h5io_attr_need_str(f, path, "checkpoint", x->checkpoint, sizeof x->checkpoint) ||
        h5io_attr_opt_i64(f, path, "views", &views) < 0) {
        rc = CD_EFORMAT;
        goto out;
    }
    x->views = (int)views;
    int64_t rd[2] = {-1, -1}, d1[1];
    if (h5io_dset_check(f, path, "real", H5T_FLOAT, 2, rd)) { rc = CD_EFORMAT; goto out; }
    d1[0] = rd[0];
    if (rd[0] < 1 || rd[1] < 1 || rd[1] > (1 << 20)) {
        CD_ERR("%s: /real is (%lld, %lld), not a non-empty (n, C) matrix", path, (long long)rd[0], (long long)rd[1]);
        rc = CD_EFORMAT;
        goto out;
    }
    int64_t gd[2] = {rd[0], rd[1]};
    hsize_t dims[2] = {(hsize_t)rd[0], (hsize_t)rd[1]};
    if ((H5Lexists(f, "generated", H5P_DEFAULT) > 0 && h5io_dset_check(f, path, "generated", H5T_FLOAT, 2, gd)) ||
        h5io_dset_check(f, path, "label", H5T_INTEGER, 1, d1) || h5io_dset_check(f, path, "index", H5T_INTEGER, 1, d1)) {
        rc = CD_EFORMAT;
        goto out;
    }
    x->n = (int64_t)dims[0];
    x->C = (int)dims[1];
    size_t nc = (size_t)x->n * (size_t)x->C;
    int has_gen = ver == 1 || H5Lexists(f, "generated", H5P_DEFAULT) > 0;
    if (H5Lexists(f, "parts", H5P_DEFAULT) > 0) {
        hid_t d = H5Dopen2(f, "parts", H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t d3[3] = {0, 0, 0};
        if (d < 0 || H5Sget_simple_extent_ndims(sp) != 3 || H5Sget_simple_extent_dims(sp, d3, NULL) < 0 ||
            d3[0] != dims[0] || d3[2] != dims[1] || d3[1] < 1) {
            CD_ERR("%s: /parts is not an (n, tokens, C) array with the n and C of /real", path);
            rc = CD_EFORMAT;
        }
        x->tokens = (int)d3[1];
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
        if (rc) goto out;
    }
    x->real = cd_malloc(nc * sizeof(float));
    x->generated = has_gen ? cd_malloc(nc * sizeof(float)) : NULL;
    x->parts = x->tokens ? cd_malloc(nc * x->tokens * sizeof(float)) : NULL;
    x->label = cd_malloc((size_t)x->n * sizeof(int32_t));
    x->index = cd_malloc((size_t)x->n * sizeof(int64_t));
    if (!x->real || (has_gen && !x->generated) || (x->tokens && !x->parts) || !x->label || !x->index) {
        rc = CD_ENOMEM;
        goto out;
    }
    const char *names[5] = {"real", "label", "index", "generated", "parts"};
    void *bufs[5] = {x->real, x->label, x->index, x->generated, x->parts};
    hid_t types[5] = {H5T_NATIVE_FLOAT, H5T_NATIVE_INT32, H5T_NATIVE_INT64, H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT};
    int64_t want[5] = {(int64_t)nc, x->n, x->n, (int64_t)nc, (int64_t)nc * x->tokens};
    for (int i = 0; i < 5 && !rc; i++)
        if (bufs[i] && h5io_dset_read_n(f, names[i], types[i], want[i], bufs[i])) {
            CD_ERR("%s: /%s missing or of the wrong size (want %lld values)", path, names[i], (long long)want[i]);
            rc = CD_EFORMAT;
        }
out:
    if (f >= 0) H5Fclose(f);
    h5io_quiet_end(q);
    if (rc) h5io_features_free(x);
    return rc;
}
