// h5io.c - parallel HDF5 output of prepared skeletons and the matching
// readers (layout in h5io.h). The only file that includes hdf5.h.
#include "h5io.h"
#include "skeleton.h"
#include "status.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static const char *group_name[2] = {"train", "test"};

struct H5PrepFile {
    const Dist *d;
    hid_t file, x[2], label[2], frames[2], name[2], strtype, dxpl_ind;
    int V, name_len, err;
    int64_t n[2];
    float *buf;   // (3, 300, V, 2) staging buffer for one sample
};

// HDF5 prints its own error stack; we add the call that failed.
#define H5IO_CHECK(expr, what)                                   \
    do {                                                      \
        if ((expr) < 0) { CD_ERR("HDF5: %s failed", what); goto fail; } \
    } while (0)

static int set_attr_str(hid_t obj, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = -1;
    int rc = CD_EHDF5;
    if (t < 0 || s < 0 || H5Tset_size(t, strlen(value) + 1) < 0) goto done;
    a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, t, value) >= 0) rc = CD_OK;
done:
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (rc) CD_ERR("HDF5: writing attribute %s failed", name);
    return rc;
}

static int set_attr_int(hid_t obj, const char *name, int64_t v) {
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0) ? CD_OK : CD_EHDF5;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (rc) CD_ERR("HDF5: writing attribute %s failed", name);
    return rc;
}

static hid_t make_dset(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    // Early allocation: parallel HDF5 requires it, and holes never exist.
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_obj_track_times(dcpl, 0);   // no timestamps: reruns give identical bytes
    hid_t ds = H5Dcreate2(g, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(s);
    if (ds < 0) CD_ERR("HDF5: creating dataset %s failed", name);
    return ds;
}

int h5io_prep_create(H5PrepFile **out, const Dist *d, const char *path, const H5PrepSpec *spec) {
    H5PrepFile *f = cd_calloc(1, sizeof *f);
    if (!f) return CD_ENOMEM;
    f->d = d;
    f->V = spec->V;
    f->name_len = spec->name_len;
    f->n[0] = spec->n[0];
    f->n[1] = spec->n[1];
    f->file = f->strtype = f->dxpl_ind = -1;
    for (int g = 0; g < 2; g++) f->x[g] = f->label[g] = f->frames[g] = f->name[g] = -1;
    f->buf = cd_malloc((size_t)SKEL_C * SKEL_T * spec->V * SKEL_M * sizeof(float));
    if (!f->buf) { free(f); return CD_ENOMEM; }

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, *(MPI_Comm *)d->comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    f->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f->file < 0) { CD_ERR("%s: cannot create HDF5 file", path); goto fail; }
    f->dxpl_ind = H5Pcreate(H5P_DATASET_XFER);
    H5IO_CHECK(H5Pset_dxpl_mpio(f->dxpl_ind, H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio");
    f->strtype = H5Tcopy(H5T_C_S1);
    H5IO_CHECK(H5Tset_size(f->strtype, (size_t)spec->name_len), "H5Tset_size");
    H5IO_CHECK(H5Tset_strpad(f->strtype, H5T_STR_NULLPAD), "H5Tset_strpad");

    if (set_attr_str(f->file, "format", H5IO_FORMAT) || set_attr_int(f->file, "format_version", H5IO_FORMAT_VERSION) ||
        set_attr_str(f->file, "dataset", spec->dataset) || set_attr_str(f->file, "benchmark", spec->benchmark) ||
        set_attr_str(f->file, "layout", spec->layout) || set_attr_int(f->file, "num_joints", spec->V) ||
        set_attr_int(f->file, "num_class", spec->num_class) ||
        set_attr_str(f->file, "sources", spec->sources ? spec->sources : ""))
        goto fail;
    for (int g = 0; g < 2; g++) {
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl, 0);
        hid_t grp = H5Gcreate2(f->file, group_name[g], H5P_DEFAULT, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        H5IO_CHECK(grp, "H5Gcreate2");
        hsize_t n = (hsize_t)spec->n[g];
        hsize_t xd[5] = {n, SKEL_C, SKEL_T, (hsize_t)spec->V, SKEL_M};
        f->x[g] = make_dset(grp, "x", H5T_IEEE_F32LE, 5, xd);
        f->label[g] = make_dset(grp, "label", H5T_STD_I32LE, 1, &n);
        f->frames[g] = make_dset(grp, "frames", H5T_STD_I32LE, 1, &n);
        f->name[g] = make_dset(grp, "name", f->strtype, 1, &n);
        H5Gclose(grp);
        if (f->x[g] < 0 || f->label[g] < 0 || f->frames[g] < 0 || f->name[g] < 0) goto fail;
    }
    *out = f;
    return CD_OK;
fail:
    f->err = CD_EHDF5;
    h5io_prep_close(f);
    return CD_EHDF5;
}

// Writes rows [first, first+count) of a 1-D dataset from rank 0 only; the
// others take part with an empty selection (the write is collective).
static int write_rows_rank0(H5PrepFile *f, hid_t ds, hid_t memtype, const void *data, int64_t count) {
    if (count == 0) return CD_OK;   // an empty dataset has no storage to write (every rank knows)
    hid_t fs = H5Dget_space(ds), ms;
    hsize_t n = (hsize_t)count;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (f->d->rank == 0 && count > 0) {
        ms = H5Screate_simple(1, &n, NULL);
        H5Sselect_all(fs);
    } else {
        ms = H5Screate_simple(1, n ? &n : &(hsize_t){1}, NULL);
        H5Sselect_none(ms);
        H5Sselect_none(fs);
    }
    herr_t r = H5Dwrite(ds, memtype, ms, fs, dxpl, data);
    H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    return r < 0 ? CD_EHDF5 : CD_OK;
}

int h5io_prep_write_meta(H5PrepFile *f, int group, const int32_t *label, const int32_t *frames,
                         const char *names) {
    int64_t n = f->n[group];
    int rc = write_rows_rank0(f, f->label[group], H5T_NATIVE_INT32, label, n);
    if (!rc) rc = write_rows_rank0(f, f->frames[group], H5T_NATIVE_INT32, frames, n);
    if (!rc) rc = write_rows_rank0(f, f->name[group], f->strtype, names, n);
    if (rc) {
        CD_ERR("HDF5: writing /%s labels, frames or names failed", group_name[group]);
        f->err = rc;
    }
    return rc;
}

int h5io_prep_write_sample(H5PrepFile *f, int group, int64_t index, const float *tmvc, int frames) {
    const int V = f->V;
    // (T, M, V, C) rows -> (C, T, V, M), zero past the sample's frames.
    memset(f->buf, 0, (size_t)SKEL_C * SKEL_T * V * SKEL_M * sizeof(float));
    for (int t = 0; t < frames; t++)
        for (int m = 0; m < SKEL_M; m++)
            for (int v = 0; v < V; v++)
                for (int c = 0; c < SKEL_C; c++)
                    f->buf[(((size_t)c * SKEL_T + t) * V + v) * SKEL_M + m] =
                        tmvc[(((size_t)t * SKEL_M + m) * V + v) * SKEL_C + c];
    hsize_t start[5] = {(hsize_t)index, 0, 0, 0, 0}, cnt[5] = {1, SKEL_C, SKEL_T, (hsize_t)V, SKEL_M};
    hid_t fs = H5Dget_space(f->x[group]);
    hid_t ms = H5Screate_simple(5, cnt, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    if (r >= 0) r = H5Dwrite(f->x[group], H5T_NATIVE_FLOAT, ms, fs, f->dxpl_ind, f->buf);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0) {
        CD_ERR("HDF5: writing sample %lld of /%s failed", (long long)index, group_name[group]);
        f->err = CD_EHDF5;
        return CD_EHDF5;
    }
    return CD_OK;
}

int h5io_prep_close(H5PrepFile *f) {
    if (!f) return CD_OK;
    int rc = f->err;
    for (int g = 0; g < 2; g++) {
        if (f->x[g] >= 0) H5Dclose(f->x[g]);
        if (f->label[g] >= 0) H5Dclose(f->label[g]);
        if (f->frames[g] >= 0) H5Dclose(f->frames[g]);
        if (f->name[g] >= 0) H5Dclose(f->name[g]);
    }
    if (f->strtype >= 0) H5Tclose(f->strtype);
    if (f->dxpl_ind >= 0) H5Pclose(f->dxpl_ind);
    if (f->file >= 0 && H5Fclose(f->file) < 0) {
        CD_ERR("HDF5: closing the output file failed");
        rc = CD_EHDF5;
    }
    free(f->buf);
    const Dist *d = f->d;
    free(f);
    return dist_agree(d, rc);
}

// ---------------------------------------------------------------------------
// Readers

static int get_attr_str(hid_t obj, const char *name, char *out, size_t cap) {
    if (H5Aexists(obj, name) <= 0) return CD_EFORMAT;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return CD_EFORMAT;
    hid_t t = H5Aget_type(a);
    int rc = CD_EFORMAT;
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        // h5py writes Python str attributes as variable-length strings.
        char *v = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &v) >= 0 && v) {
            snprintf(out, cap, "%s", v);
            rc = CD_OK;
        }
        if (v) H5free_memory(v);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        char *tmp = cd_calloc(n + 1, 1);
        rc = (tmp && H5Aread(a, t, tmp) >= 0) ? CD_OK : CD_EFORMAT;
        if (!rc) snprintf(out, cap, "%s", tmp);
        free(tmp);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int get_attr_int(hid_t obj, const char *name, int64_t *v) {
    if (H5Aexists(obj, name) <= 0) return CD_EFORMAT;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return CD_EFORMAT;
    int rc = H5Aread(a, H5T_NATIVE_INT64, v) >= 0 ? CD_OK : CD_EFORMAT;
    H5Aclose(a);
    return rc;
}

static hid_t open_quiet(const char *path) {
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    return f;
}

// The "format" and "format_version" attributes every file of ours carries.
static int check_format(hid_t f, const char *path, const char *format, int version, int64_t *ver,
                        const char *hint) {
    char fmt[64] = "";
    *ver = 0;
    if (get_attr_str(f, "format", fmt, sizeof fmt) == CD_OK && strcmp(fmt, format) == 0 &&
        get_attr_int(f, "format_version", ver) == CD_OK && *ver == version)
        return CD_OK;
    CD_ERR("%s: not a %s file of version %d (found format '%s' version %lld; HINT: %s)", path, format, version,
           fmt, (long long)*ver, hint);
    return CD_EFORMAT;
}

int h5io_prep_info(const char *path, H5PrepInfo *info) {
    memset(info, 0, sizeof *info);
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: is this a cocodiff-prep output?)", path);
        return CD_EIO;
    }
    int64_t ver = 0, V = 0, K = 0;
    int rc = check_format(f, path, H5IO_FORMAT, H5IO_FORMAT_VERSION, &ver, "rerun cocodiff-prep");
    if (!rc && (get_attr_str(f, "dataset", info->dataset, sizeof info->dataset) ||
                get_attr_str(f, "benchmark", info->benchmark, sizeof info->benchmark) ||
                get_attr_str(f, "layout", info->layout, sizeof info->layout) ||
                get_attr_int(f, "num_joints", &V) || get_attr_int(f, "num_class", &K))) {
        CD_ERR("%s: missing attributes", path);
        rc = CD_EFORMAT;
    }
    for (int g = 0; g < 2 && !rc; g++) {
        char p[32];
        snprintf(p, sizeof p, "/%s/name", group_name[g]);
        hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
        if (ds < 0) { CD_ERR("%s: no dataset %s", path, p); rc = CD_EFORMAT; break; }
        hid_t s = H5Dget_space(ds), t = H5Dget_type(ds);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(s, &n, NULL);
        info->n[g] = (int64_t)n;
        info->name_len = (int)H5Tget_size(t);
        H5Tclose(t);
        H5Sclose(s);
        H5Dclose(ds);
    }
    info->V = (int)V;
    info->num_class = (int)K;
    info->format_version = (int)ver;
    H5Fclose(f);
    return rc;
}

static int read_rows(hid_t f, const char *grp, const char *name, hid_t memtype, int rank,
                     int64_t first, int64_t count, void *out) {
    char p[64];
    snprintf(p, sizeof p, "/%s/%s", grp, name);
    hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
    if (ds < 0) return CD_EFORMAT;
    hid_t fs = H5Dget_space(ds);
    hsize_t dims[5], start[5] = {0}, cnt[5];
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    int rc = CD_OK;
    if (nd != rank || first < 0 || (hsize_t)(first + count) > dims[0]) rc = CD_EARG;
    if (!rc) {
        for (int i = 0; i < nd; i++) cnt[i] = dims[i];
        start[0] = (hsize_t)first;
        cnt[0] = (hsize_t)count;
        hid_t ms = H5Screate_simple(nd, cnt, NULL);
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
            H5Dread(ds, memtype, ms, fs, H5P_DEFAULT, out) < 0)
            rc = CD_EHDF5;
        H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(ds);
    return rc;
}

int h5io_prep_read(const char *path, int group, int64_t first, int64_t count, float *x,
                   int32_t *label, int32_t *frames, char *names) {
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5", path);
        return CD_EIO;
    }
    const char *g = group_name[group];
    int rc = CD_OK;
    if (x) rc = read_rows(f, g, "x", H5T_NATIVE_FLOAT, 5, first, count, x);
    if (!rc && label) rc = read_rows(f, g, "label", H5T_NATIVE_INT32, 1, first, count, label);
    if (!rc && frames) rc = read_rows(f, g, "frames", H5T_NATIVE_INT32, 1, first, count, frames);
    if (!rc && names) {
        char p[32];
        snprintf(p, sizeof p, "/%s/name", g);
        hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
        hid_t t = ds >= 0 ? H5Dget_type(ds) : -1;
        if (t >= 0) rc = read_rows(f, g, "name", t, 1, first, count, names);
        else rc = CD_EFORMAT;
        if (t >= 0) H5Tclose(t);
        if (ds >= 0) H5Dclose(ds);
    }
    if (rc) CD_ERR("%s: reading /%s rows %lld..%lld failed", path, g, (long long)first, (long long)(first + count));
    H5Fclose(f);
    return rc;
}

// ---------------------------------------------------------------------------
// Text embeddings

static int write_full(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                      const hsize_t *dims, const void *data) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = (ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? CD_OK : CD_EHDF5;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(s);
    if (rc) CD_ERR("HDF5: writing %s failed", name);
    return rc;
}

static int write_strings(hid_t loc, const char *name, const char *const *v, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) if (strlen(v[i]) + 1 > len) len = strlen(v[i]) + 1;
    char *buf = cd_calloc((size_t)(n ? n : 1), len);
    if (!buf) return CD_ENOMEM;
    for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * len, v[i], strlen(v[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dims = (hsize_t)n;
    int rc = write_full(loc, name, t, t, 1, &dims, buf);
    H5Tclose(t);
    free(buf);
    return rc;
}

int h5io_embed_write(const char *path, const H5EmbedSpec *s) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);   // one rank writes: no MPI-IO needed
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        CD_ERR("%s: cannot create HDF5 file", path);
        return CD_EHDF5;
    }
    hsize_t kd[2] = {(hsize_t)s->K, (hsize_t)s->D}, kpd[3] = {(hsize_t)s->K, (hsize_t)s->nparts, (hsize_t)s->D};
    hsize_t k1 = (hsize_t)s->K, d1 = (hsize_t)s->D;
    int rc = set_attr_str(f, "format", H5IO_EMB_FORMAT) || set_attr_int(f, "format_version", H5IO_EMB_FORMAT_VERSION) ||
             set_attr_str(f, "encoder", s->encoder) || set_attr_str(f, "weights", s->weights) ||
             set_attr_str(f, "weights_sha256", s->weights_sha256) || set_attr_int(f, "dim", s->D) ||
             set_attr_int(f, "num_class", s->K) || set_attr_str(f, "descriptions", s->descriptions) ||
             set_attr_str(f, "descriptions_sha256", s->descriptions_sha256)
                 ? CD_EHDF5 : CD_OK;
    if (!rc) rc = write_full(f, "coarse", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, kd, s->coarse);
    if (!rc) rc = write_full(f, "fine", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, kpd, s->fine);
    if (!rc) rc = write_full(f, "class_id", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &k1, s->class_id);
    if (!rc) rc = write_strings(f, "class_name", s->class_name, s->K);
    if (!rc) rc = write_strings(f, "part_name", s->part_name, s->nparts);
    if (!rc && s->sif_pc) {
        rc = write_full(f, "sif_pc", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d1, s->sif_pc);
        hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, "sif_a", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &s->sif_a) < 0) rc = CD_EHDF5;
        if (a >= 0) H5Aclose(a);
        H5Sclose(sp);
        if (!rc) rc = set_attr_int(f, "oov_tokens", s->oov_tokens);
    }
    if (H5Fclose(f) < 0) rc = CD_EHDF5;
    return rc;
}

int h5io_embed_read(const char *path, H5Embed *e) {
    memset(e, 0, sizeof *e);
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: make it with cocodiff-embed)", path);
        return CD_EIO;
    }
    int64_t ver = 0, K = 0, D = 0;
    int rc = check_format(f, path, H5IO_EMB_FORMAT, H5IO_EMB_FORMAT_VERSION, &ver, "rerun cocodiff-embed");
    if (!rc && (get_attr_int(f, "num_class", &K) || get_attr_int(f, "dim", &D) || K <= 0 || D <= 0)) {
        CD_ERR("%s: num_class or dim missing or not positive", path);
        rc = CD_EFORMAT;
    }
    if (!rc) get_attr_str(f, "encoder", e->encoder, sizeof e->encoder);
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
    hssize_t want[3] = {K * D, K * 6 * D, K};
    for (int i = 0; i < 3 && !rc; i++) {
        hid_t ds = H5Dopen2(f, names[i], H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        if (ds < 0 || H5Sget_simple_extent_npoints(sp) != want[i] ||
            H5Dread(ds, types[i], H5S_ALL, H5S_ALL, H5P_DEFAULT, bufs[i]) < 0) {
            CD_ERR("%s: dataset /%s missing or of the wrong size", path, names[i]);
            rc = CD_EFORMAT;
        }
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
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

// ---------------------------------------------------------------------------
// Checkpoints

static int write_tensor(hid_t g, const H5Tensor *t) {
    hsize_t dims[8];
    for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
    hid_t s = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ft = t->dtype ? H5T_STD_I64LE : H5T_IEEE_F32LE, mt = t->dtype ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
    hid_t ds = H5Dcreate2(g, t->name, ft, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = ds >= 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) >= 0 ? CD_OK : CD_EHDF5;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(s);
    if (rc) CD_ERR("HDF5: writing tensor %s failed", t->name);
    return rc;
}

static hid_t make_group(hid_t loc, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    // Datasets named like state_dict keys contain dots, never slashes.
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

static int set_attr_f64(hid_t obj, const char *name, double v) {
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0) ? CD_OK : CD_EHDF5;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

// Opens (or creates, without timestamps) each '/'-separated component of
// group below loc. Returns the innermost group or -1.
static hid_t open_or_make_groups(hid_t loc, const char *group) {
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", group);
    hid_t cur = H5Gopen2(loc, "/", H5P_DEFAULT);
    for (char *tok = strtok_r(buf, "/", &save); tok && cur >= 0; tok = strtok_r(NULL, "/", &save)) {
        hid_t next = H5Lexists(cur, tok, H5P_DEFAULT) > 0 ? H5Gopen2(cur, tok, H5P_DEFAULT) : make_group(cur, tok);
        H5Gclose(cur);
        cur = next;
    }
    return cur;
}

int h5io_ckpt_write(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                    const H5Tensor *momentum, int nmomentum) {
    return h5io_ckpt_write_groups(path, meta, model, nmodel, momentum, nmomentum, NULL, 0);
}

int h5io_ckpt_write_groups(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                           const H5Tensor *momentum, int nmomentum, const H5TensorGroup *groups, int ngroups) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4096s.partial", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        CD_ERR("%s: cannot create the checkpoint", tmp);
        return CD_EIO;
    }
    int rc = set_attr_str(f, "format", H5IO_CKPT_FORMAT) || set_attr_int(f, "format_version", H5IO_CKPT_FORMAT_VERSION)
                 ? CD_EHDF5 : CD_OK;
    if (!rc && meta) {
        rc = set_attr_int(f, "epoch", meta->epoch) || set_attr_int(f, "step", meta->step) ||
                     set_attr_str(f, "stream", meta->stream) || set_attr_str(f, "graph", meta->graph) ||
                     set_attr_str(f, "config", meta->config_yaml ? meta->config_yaml : "")
                 ? CD_EHDF5 : CD_OK;
        if (!rc && meta->nstrides > 0) {
            hsize_t n = (hsize_t)meta->nstrides;
            hid_t s = H5Screate_simple(1, &n, NULL), a = H5Acreate2(f, "strides", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
            if (a < 0 || H5Awrite(a, H5T_NATIVE_INT32, meta->strides) < 0) rc = CD_EHDF5;
            if (a >= 0) H5Aclose(a);
            H5Sclose(s);
        }
    }
    hid_t g = rc ? -1 : make_group(f, "model");
    if (!rc && g < 0) rc = CD_EHDF5;
    for (int i = 0; i < nmodel && !rc; i++) rc = write_tensor(g, &model[i]);
    if (g >= 0) H5Gclose(g);
    if (!rc && meta && meta->has_optimizer) {
        hid_t o = make_group(f, "optimizer"), mg = o >= 0 ? make_group(o, "momentum") : -1;
        if (o < 0 || mg < 0) rc = CD_EHDF5;
        if (!rc)
            rc = set_attr_int(o, "steps", meta->opt_steps) || set_attr_f64(o, "momentum", meta->momentum) ||
                         set_attr_f64(o, "weight_decay", meta->weight_decay) || set_attr_int(o, "nesterov", meta->nesterov)
                     ? CD_EHDF5 : CD_OK;
        for (int i = 0; i < nmomentum && !rc; i++) rc = write_tensor(mg, &momentum[i]);
        if (mg >= 0) H5Gclose(mg);
        if (o >= 0) H5Gclose(o);
    }
    for (int k = 0; k < ngroups && !rc; k++) {
        hid_t g2 = open_or_make_groups(f, groups[k].group);
        if (g2 < 0) rc = CD_EHDF5;
        for (int i = 0; i < groups[k].n && !rc; i++) rc = write_tensor(g2, &groups[k].t[i]);
        if (g2 >= 0) H5Gclose(g2);
    }
    if (!rc && meta && !meta->no_rng) {
        hid_t r = make_group(f, "rng");
        H5Tensor seed = {.name = "seed", .dtype = 1, .ndim = 0, .numel = 1, .data = (void *)&meta->seed};
        rc = r >= 0 ? write_tensor(r, &seed) : CD_EHDF5;
        if (r >= 0) H5Gclose(r);
    }
    if (H5Fclose(f) < 0) rc = CD_EHDF5;
    if (!rc && rename(tmp, path) != 0) {
        CD_ERR("%s: cannot rename the checkpoint into place", path);
        rc = CD_EIO;
    }
    if (rc) remove(tmp);
    return rc;
}

typedef struct ReadCtx {
    H5Tensor *t;
    int n, cap, rc;
    const char *path;
} ReadCtx;

static herr_t read_one(hid_t g, const char *name, const H5L_info_t *info, void *vctx) {
    (void)info;
    ReadCtx *c = vctx;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return 0;   // a subgroup: not a tensor
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        H5Tensor *nt = realloc(c->t, (size_t)c->cap * sizeof *nt);
        if (!nt) { H5Dclose(ds); c->rc = CD_ENOMEM; return -1; }
        c->t = nt;
    }
    H5Tensor *t = &c->t[c->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    hid_t s = H5Dget_space(ds), ty = H5Dget_type(ds);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd < 0 || nd > 8) { c->rc = CD_EFORMAT; goto out; }
    H5Sget_simple_extent_dims(s, dims, NULL);
    t->ndim = nd;
    t->numel = 1;
    for (int i = 0; i < nd; i++) { t->shape[i] = (int64_t)dims[i]; t->numel *= dims[i]; }
    H5T_class_t cls = H5Tget_class(ty);
    if (cls == H5T_INTEGER) t->dtype = 1;
    else if (cls == H5T_FLOAT) t->dtype = 0;
    else { CD_ERR("%s: tensor %s is neither float nor integer", c->path, name); c->rc = CD_EFORMAT; goto out; }
    t->data = malloc(t->numel * (t->dtype ? 8 : 4) + 1);
    if (!t->data || H5Dread(ds, t->dtype ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        CD_ERR("%s: cannot read tensor %s", c->path, name);
        free(t->data);
        c->rc = CD_EFORMAT;
        goto out;
    }
    c->n++;
out:
    H5Tclose(ty);
    H5Sclose(s);
    H5Dclose(ds);
    return c->rc ? -1 : 0;
}

static int read_group(hid_t f, const char *path, const char *group, H5Tensor **out, int *n) {
    ReadCtx c = {NULL, 0, 0, CD_OK, path};
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) { *out = NULL; *n = 0; return CD_EFORMAT; }
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_one, &c);
    H5Gclose(g);
    if (c.rc) { h5io_tensors_free(c.t, c.n); return c.rc; }
    *out = c.t;
    *n = c.n;
    return CD_OK;
}

int h5io_ckpt_read(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel,
                   H5Tensor **momentum, int *nmomentum) {
    memset(meta, 0, sizeof *meta);
    *model = NULL;
    *nmodel = 0;
    if (momentum) { *momentum = NULL; *nmomentum = 0; }
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    int rc = read_group(f, path, "model", model, nmodel);
    if (rc == CD_EFORMAT && !*model) CD_ERR("%s: no /model group (HINT: is this a checkpoint?)", path);
    char fmt[64] = "";
    if (!rc && get_attr_str(f, "format", fmt, sizeof fmt) == CD_OK) {
        int64_t ver = 0;
        if (strcmp(fmt, H5IO_CKPT_FORMAT) || get_attr_int(f, "format_version", &ver) || ver > H5IO_CKPT_FORMAT_VERSION) {
            CD_ERR("%s: format '%s' version %lld, this build reads %s version <= %d", path, fmt, (long long)ver,
                   H5IO_CKPT_FORMAT, H5IO_CKPT_FORMAT_VERSION);
            rc = CD_EFORMAT;
        }
    }
    if (!rc) {
        // Every attribute is optional: a file converted from PyTorch weights
        // may carry /model alone.
        meta->has_meta = get_attr_int(f, "epoch", &meta->epoch) == CD_OK;
        get_attr_int(f, "step", &meta->step);
        get_attr_str(f, "stream", meta->stream, sizeof meta->stream);
        get_attr_str(f, "graph", meta->graph, sizeof meta->graph);
        hid_t a = H5Aexists(f, "config") > 0 ? H5Aopen(f, "config", H5P_DEFAULT) : -1;
        if (a >= 0) {
            hid_t t = H5Aget_type(a);
            size_t len = H5Tget_size(t);
            meta->config_yaml = calloc(len + 1, 1);
            if (meta->config_yaml) H5Aread(a, t, meta->config_yaml);
            H5Tclose(t);
            H5Aclose(a);
        }
        a = H5Aexists(f, "strides") > 0 ? H5Aopen(f, "strides", H5P_DEFAULT) : -1;
        if (a >= 0) {
            hid_t s = H5Aget_space(a);
            hssize_t n = H5Sget_simple_extent_npoints(s);
            if (n > 0 && n <= 16 && H5Aread(a, H5T_NATIVE_INT32, meta->strides) >= 0) meta->nstrides = (int)n;
            H5Sclose(s);
            H5Aclose(a);
        }
        hid_t r = H5Lexists(f, "rng", H5P_DEFAULT) > 0 && H5Lexists(f, "rng/seed", H5P_DEFAULT) > 0
                      ? H5Dopen2(f, "/rng/seed", H5P_DEFAULT) : -1;
        if (r >= 0) { H5Dread(r, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &meta->seed); H5Dclose(r); }
    }
    if (!rc && momentum) {
        H5E_auto2_t fn;
        void *data;
        H5Eget_auto2(H5E_DEFAULT, &fn, &data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t o = H5Gopen2(f, "optimizer", H5P_DEFAULT);
        H5Eset_auto2(H5E_DEFAULT, fn, data);
        if (o >= 0) {
            meta->has_optimizer = 1;
            get_attr_int(o, "steps", &meta->opt_steps);
            int64_t nest = 0;
            get_attr_int(o, "nesterov", &nest);
            meta->nesterov = (int)nest;
            hid_t a = H5Aexists(o, "momentum") > 0 ? H5Aopen(o, "momentum", H5P_DEFAULT) : -1;
            if (a >= 0) { H5Aread(a, H5T_NATIVE_DOUBLE, &meta->momentum); H5Aclose(a); }
            a = H5Aexists(o, "weight_decay") > 0 ? H5Aopen(o, "weight_decay", H5P_DEFAULT) : -1;
            if (a >= 0) { H5Aread(a, H5T_NATIVE_DOUBLE, &meta->weight_decay); H5Aclose(a); }
            H5Gclose(o);
            rc = read_group(f, path, "optimizer/momentum", momentum, nmomentum);
        }
    }
    H5Fclose(f);
    if (rc) {
        h5io_tensors_free(*model, *nmodel);
        *model = NULL;
        *nmodel = 0;
        if (momentum) { h5io_tensors_free(*momentum, *nmomentum); *momentum = NULL; *nmomentum = 0; }
        h5io_ckpt_meta_free(meta);
    }
    return rc;
}

int h5io_ckpt_read_group(const char *path, const char *group, H5Tensor **t, int *n) {
    *t = NULL;
    *n = 0;
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    // H5Lexists on each component: a missing parent would be an error.
    char buf[256], sofar[256] = "", *save = NULL;
    int have = 1;
    snprintf(buf, sizeof buf, "%s", group);
    for (char *tok = strtok_r(buf, "/", &save); tok && have; tok = strtok_r(NULL, "/", &save)) {
        size_t l = strlen(sofar);
        snprintf(sofar + l, sizeof sofar - l, "%s%s", l ? "/" : "", tok);
        have = H5Lexists(f, sofar, H5P_DEFAULT) > 0;
    }
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    int rc = have ? read_group(f, path, group, t, n) : CD_EFORMAT;
    H5Fclose(f);
    return rc;
}

const H5Tensor *h5io_tensor_find(const H5Tensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++) if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

void h5io_tensors_free(H5Tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].data);
    free(t);
}

void h5io_ckpt_meta_free(H5CkptMeta *m) {
    if (!m) return;
    free(m->config_yaml);
    m->config_yaml = NULL;
}

// ---------------------------------------------------------------------------
// Checkpoint config and prep class names (small readers)

int h5io_ckpt_read_config(const char *path, char **yaml) {
    *yaml = NULL;
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    if (H5Aexists(f, "config") > 0) {
        hid_t a = H5Aopen(f, "config", H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
        size_t len = t >= 0 ? H5Tget_size(t) : 0;
        char *s = (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) ? calloc(len + 1, 1) : NULL;
        if (s && H5Aread(a, t, s) >= 0 && s[0]) *yaml = s;
        else free(s);
        if (t >= 0) H5Tclose(t);
        if (a >= 0) H5Aclose(a);
    }
    H5Fclose(f);
    return CD_OK;
}

void h5io_strings_free(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int h5io_prep_class_names(const char *path, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5", path);
        return CD_EIO;
    }
    int rc = CD_OK;
    if (H5Lexists(f, "class_name", H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(f, "class_name", H5P_DEFAULT);
        hid_t t = ds >= 0 ? H5Dget_type(ds) : -1, s = ds >= 0 ? H5Dget_space(ds) : -1;
        hssize_t k = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
        size_t len = t >= 0 ? H5Tget_size(t) : 0;
        int fixed = t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t);
        char *buf = fixed && k > 0 ? cd_calloc((size_t)k, len + 1) : NULL;
        char **v = buf ? cd_calloc((size_t)k, sizeof *v) : NULL;
        if (!v || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            CD_ERR("%s: /class_name is not a readable list of fixed-length strings", path);
            rc = CD_EFORMAT;
        }
        // buf holds k * len bytes; each name is copied out NUL-terminated.
        for (hssize_t i = 0; !rc && i < k; i++) {
            v[i] = cd_calloc(len + 1, 1);
            if (!v[i]) { rc = CD_ENOMEM; break; }
            memcpy(v[i], buf + (size_t)i * len, len);
        }
        if (!rc) { *names = v; *n = (int)k; }
        else h5io_strings_free(v, (int)(v ? k : 0));
        free(buf);
        if (s >= 0) H5Sclose(s);
        if (t >= 0) H5Tclose(t);
        if (ds >= 0) H5Dclose(ds);
    }
    H5Fclose(f);
    return rc;
}

// ---------------------------------------------------------------------------
// Evaluation scores (parallel)

struct H5ScoresFile {
    const Dist *d;
    hid_t file, scores, label, name, strtype, dxpl_ind;
    int K, name_len, err;
    int64_t n;
};

// Collective write of a whole dataset from rank 0 (the others select nothing).
static int write_all_rank0(const Dist *d, hid_t ds, hid_t memtype, const void *data) {
    hid_t fs = H5Dget_space(ds), ms = H5Scopy(fs);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (d->rank == 0) {
        H5Sselect_all(fs);
        H5Sselect_all(ms);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    herr_t r = H5Dwrite(ds, memtype, ms, fs, dxpl, data);
    H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    return r < 0 ? CD_EHDF5 : CD_OK;
}

int h5io_scores_create(H5ScoresFile **out, const Dist *d, const char *path, const H5ScoresSpec *s) {
    *out = NULL;
    H5ScoresFile *f = cd_calloc(1, sizeof *f);
    if (!f) return CD_ENOMEM;
    f->d = d;
    f->K = s->K;
    f->n = s->n;
    f->name_len = s->name_len;
    f->file = f->scores = f->label = f->name = f->strtype = f->dxpl_ind = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, *(MPI_Comm *)d->comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    f->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f->file < 0) { CD_ERR("%s: cannot create HDF5 file", path); goto fail; }
    f->dxpl_ind = H5Pcreate(H5P_DATASET_XFER);
    H5IO_CHECK(H5Pset_dxpl_mpio(f->dxpl_ind, H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio");
    f->strtype = H5Tcopy(H5T_C_S1);
    H5IO_CHECK(H5Tset_size(f->strtype, (size_t)s->name_len), "H5Tset_size");
    H5IO_CHECK(H5Tset_strpad(f->strtype, H5T_STR_NULLPAD), "H5Tset_strpad");
    if (set_attr_str(f->file, "format", H5IO_SCORES_FORMAT) ||
        set_attr_int(f->file, "format_version", H5IO_SCORES_FORMAT_VERSION) ||
        set_attr_str(f->file, "checkpoint", s->checkpoint) || set_attr_str(f->file, "data", s->data) ||
        set_attr_str(f->file, "group", s->group) || set_attr_str(f->file, "stream", s->stream) ||
        set_attr_int(f->file, "window", s->window) || set_attr_int(f->file, "num_class", s->K))
        goto fail;
    hsize_t sd[2] = {(hsize_t)s->n, (hsize_t)s->K}, n = (hsize_t)s->n;
    f->scores = make_dset(f->file, "scores", H5T_IEEE_F32LE, 2, sd);
    f->label = make_dset(f->file, "label", H5T_STD_I32LE, 1, &n);
    f->name = make_dset(f->file, "name", f->strtype, 1, &n);
    if (f->scores < 0 || f->label < 0 || f->name < 0) goto fail;
    *out = f;
    return CD_OK;
fail:
    // Local cleanup only: the caller agrees on the outcome (see h5io.h).
    if (f->scores >= 0) H5Dclose(f->scores);
    if (f->label >= 0) H5Dclose(f->label);
    if (f->name >= 0) H5Dclose(f->name);
    if (f->strtype >= 0) H5Tclose(f->strtype);
    if (f->dxpl_ind >= 0) H5Pclose(f->dxpl_ind);
    if (f->file >= 0) H5Fclose(f->file);
    free(f);
    return CD_EHDF5;
}

static herr_t write_slab(hid_t ds, hid_t memtype, hid_t dxpl, int rank, int64_t first, int64_t count,
                         hsize_t cols, const void *data) {
    hsize_t start[2] = {(hsize_t)first, 0}, cnt[2] = {(hsize_t)count, cols};
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, cnt, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    if (r >= 0) r = H5Dwrite(ds, memtype, ms, fs, dxpl, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return r;
}

int h5io_scores_write_rows(H5ScoresFile *f, int64_t first, int64_t count, const float *scores,
                           const int32_t *label, const char *names) {
    if (count <= 0) return CD_OK;
    if (first < 0 || first + count > f->n) {
        CD_ERR("scores: rows %lld..%lld outside [0, %lld)", (long long)first, (long long)(first + count),
               (long long)f->n);
        f->err = CD_EARG;
        return CD_EARG;
    }
    if (write_slab(f->scores, H5T_NATIVE_FLOAT, f->dxpl_ind, 2, first, count, (hsize_t)f->K, scores) < 0 ||
        write_slab(f->label, H5T_NATIVE_INT32, f->dxpl_ind, 1, first, count, 1, label) < 0 ||
        write_slab(f->name, f->strtype, f->dxpl_ind, 1, first, count, 1, names) < 0) {
        CD_ERR("HDF5: writing score rows %lld..%lld failed", (long long)first, (long long)(first + count));
        f->err = CD_EHDF5;
        return CD_EHDF5;
    }
    return CD_OK;
}

int h5io_scores_write_metrics(H5ScoresFile *f, const char *const *class_names, const int64_t *confusion,
                              const double *per_class, double top1, double top5) {
    const int K = f->K;
    int rc = CD_OK;
    size_t len = 1;
    for (int k = 0; k < K; k++) if (strlen(class_names[k]) + 1 > len) len = strlen(class_names[k]) + 1;
    char *buf = cd_calloc((size_t)K, len);
    hid_t t = H5Tcopy(H5T_C_S1), g = -1, ds = -1;
    if (!buf) rc = CD_ENOMEM;
    if (!rc) {
        for (int k = 0; k < K; k++) memcpy(buf + (size_t)k * len, class_names[k], strlen(class_names[k]));
        H5Tset_size(t, len);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        H5Tset_cset(t, H5T_CSET_UTF8);
        hsize_t k1 = (hsize_t)K;
        ds = make_dset(f->file, "class_name", t, 1, &k1);
        rc = ds < 0 ? CD_EHDF5 : write_all_rank0(f->d, ds, t, buf);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl, 0);
        g = H5Gcreate2(f->file, "metrics", H5P_DEFAULT, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        if (g < 0) rc = CD_EHDF5;
    }
    if (!rc) {
        hsize_t kk[2] = {(hsize_t)K, (hsize_t)K};
        ds = make_dset(g, "confusion", H5T_STD_I64LE, 2, kk);
        rc = ds < 0 ? CD_EHDF5 : write_all_rank0(f->d, ds, H5T_NATIVE_INT64, confusion);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        hsize_t k1 = (hsize_t)K;
        ds = make_dset(g, "per_class_accuracy", H5T_IEEE_F64LE, 1, &k1);
        rc = ds < 0 ? CD_EHDF5 : write_all_rank0(f->d, ds, H5T_NATIVE_DOUBLE, per_class);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        int64_t n = 0;
        for (size_t i = 0; i < (size_t)K * K; i++) n += confusion[i];
        rc = set_attr_f64(g, "top1", top1) || set_attr_f64(g, "top5", top5) || set_attr_int(g, "num_samples", n)
                 ? CD_EHDF5 : CD_OK;
    }
    if (g >= 0) H5Gclose(g);
    H5Tclose(t);
    free(buf);
    if (rc) {
        CD_ERR("HDF5: writing the class names and metrics failed");
        f->err = rc;
    }
    return rc;
}

int h5io_scores_close(H5ScoresFile *f) {
    if (!f) return CD_OK;
    int rc = f->err;
    if (f->scores >= 0) H5Dclose(f->scores);
    if (f->label >= 0) H5Dclose(f->label);
    if (f->name >= 0) H5Dclose(f->name);
    if (f->strtype >= 0) H5Tclose(f->strtype);
    if (f->dxpl_ind >= 0) H5Pclose(f->dxpl_ind);
    if (f->file >= 0 && H5Fclose(f->file) < 0) {
        CD_ERR("HDF5: closing the scores file failed");
        rc = CD_EHDF5;
    }
    const Dist *d = f->d;
    free(f);
    return dist_agree(d, rc);
}
