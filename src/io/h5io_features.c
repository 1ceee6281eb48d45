// h5io_features.c - FEATURES.h5 writer and reader (layout in
// h5io_features.h). Part of the h5io module, so it may include hdf5.h.
#include "h5io_features.h"
#include "status.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int attr_str_set(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, t, v) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return bad;
}
static int attr_i64_set(hid_t obj, const char *name, int64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return bad;
}
static void attr_str_get(hid_t obj, const char *name, char *buf, size_t len) {
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t n = H5Tget_size(t);
        char *tmp = cd_malloc(n + 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n);
        if (tmp && H5Aread(a, mt, tmp) >= 0) {
            tmp[n] = '\0';
            snprintf(buf, len, "%s", tmp);
        }
        H5Tclose(mt);
        free(tmp);
    }
    H5Tclose(t);
    H5Aclose(a);
}
static int64_t attr_i64_get(hid_t obj, const char *name) {
    int64_t v = -1;
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) v = -1;
    H5Aclose(a);
    return v;
}
static int write_ds(hid_t f, const char *name, hid_t ft, hid_t mt, int rank, const hsize_t *dims, const void *v) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = ds < 0 || H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    return bad;
}

int h5io_features_write(const char *path, const H5Features *x) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp) {
        CD_ERR("%s: path too long", path);
        return CD_EARG;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        CD_ERR("%s: cannot create HDF5 file", tmp);
        return CD_EHDF5;
    }
    hsize_t d2[2] = {(hsize_t)x->n, (hsize_t)x->C}, d1 = (hsize_t)x->n;
    int bad = attr_str_set(f, "format", H5IO_FEAT_FORMAT) || attr_i64_set(f, "format_version", H5IO_FEAT_FORMAT_VERSION) ||
              attr_str_set(f, "data", x->data) || attr_str_set(f, "split", x->split) ||
              attr_str_set(f, "checkpoint", x->checkpoint) ||
              write_ds(f, "real", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x->real) ||
              write_ds(f, "generated", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x->generated) ||
              write_ds(f, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &d1, x->label) ||
              write_ds(f, "index", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, x->index);
    if (H5Fclose(f) < 0) bad = 1;
    if (bad) {
        CD_ERR("%s: cannot write the features", tmp);
        remove(tmp);
        return CD_EHDF5;
    }
    if (rename(tmp, path) != 0) {
        CD_ERR("%s: cannot rename %s into place", path, tmp);
        remove(tmp);
        return CD_EIO;
    }
    return CD_OK;
}

void h5io_features_free(H5Features *x) {
    free(x->real);
    free(x->generated);
    free(x->label);
    free(x->index);
    memset(x, 0, sizeof *x);
}

int h5io_features_read(const char *path, H5Features *x) {
    memset(x, 0, sizeof *x);
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = CD_OK;
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5", path);
        rc = CD_EIO;
        goto out;
    }
    char fmt[64];
    attr_str_get(f, "format", fmt, sizeof fmt);
    int64_t ver = attr_i64_get(f, "format_version");
    if (strcmp(fmt, H5IO_FEAT_FORMAT) || ver != H5IO_FEAT_FORMAT_VERSION) {
        CD_ERR("%s: format '%s' version %lld, expected '%s' version %d", path, fmt, (long long)ver,
               H5IO_FEAT_FORMAT, H5IO_FEAT_FORMAT_VERSION);
        rc = CD_EFORMAT;
        goto out;
    }
    attr_str_get(f, "data", x->data, sizeof x->data);
    attr_str_get(f, "split", x->split, sizeof x->split);
    attr_str_get(f, "checkpoint", x->checkpoint, sizeof x->checkpoint);
    hid_t ds = H5Dopen2(f, "real", H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hsize_t dims[2] = {0, 0};
    if (ds < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
        dims[0] < 1 || dims[1] < 1) {
        CD_ERR("%s: /real missing or not a non-empty (n, C) matrix", path);
        rc = CD_EFORMAT;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (rc) goto out;
    x->n = (int64_t)dims[0];
    x->C = (int)dims[1];
    size_t nc = (size_t)x->n * (size_t)x->C;
    x->real = cd_malloc(nc * sizeof(float));
    x->generated = cd_malloc(nc * sizeof(float));
    x->label = cd_malloc((size_t)x->n * sizeof(int32_t));
    x->index = cd_malloc((size_t)x->n * sizeof(int64_t));
    if (!x->real || !x->generated || !x->label || !x->index) { rc = CD_ENOMEM; goto out; }
    const char *names[4] = {"real", "generated", "label", "index"};
    void *bufs[4] = {x->real, x->generated, x->label, x->index};
    hid_t types[4] = {H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, H5T_NATIVE_INT32, H5T_NATIVE_INT64};
    hssize_t want[4] = {(hssize_t)nc, (hssize_t)nc, (hssize_t)x->n, (hssize_t)x->n};
    for (int i = 0; i < 4 && !rc; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT), s = d >= 0 ? H5Dget_space(d) : -1;
        if (d < 0 || H5Sget_simple_extent_npoints(s) != want[i] ||
            H5Dread(d, types[i], H5S_ALL, H5S_ALL, H5P_DEFAULT, bufs[i]) < 0) {
            CD_ERR("%s: /%s missing or of the wrong size (want %lld values)", path, names[i], (long long)want[i]);
            rc = CD_EFORMAT;
        }
        if (s >= 0) H5Sclose(s);
        if (d >= 0) H5Dclose(d);
    }
out:
    if (f >= 0) H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    if (rc) h5io_features_free(x);
    return rc;
}
