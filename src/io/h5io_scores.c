// h5io_scores.c - serial reader of score files (layout in h5io.h, API in
// h5io_scores.h). Part of the h5io module, so it may include hdf5.h.
#include "h5io_scores.h"
#include "h5io.h"
#include "status.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Small helpers

static hid_t open_quiet(const char *path) {
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    return f;
}

// A fixed- or variable-length string attribute into buf (truncated); "" when
// absent or not a string.
static void attr_str(hid_t obj, const char *name, char *buf, size_t len) {
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) snprintf(buf, len, "%s", v);
            if (v) H5free_memory(v);
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *v = calloc(sz + 1, 1);
            if (v && H5Aread(a, t, v) >= 0) snprintf(buf, len, "%s", v);
            free(v);
        }
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
}

// A numeric scalar attribute as double; returns 0 when read, -1 otherwise.
static int attr_f64(hid_t obj, const char *name, double *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = (a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    return rc;
}

// Dataset dims (rank <= 2) or -1 when missing.
static int dset_dims(hid_t f, const char *name, hsize_t dims[2]) {
    dims[0] = dims[1] = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t s = ds >= 0 ? H5Dget_space(ds) : -1;
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (r >= 1 && r <= 2) H5Sget_simple_extent_dims(s, dims, NULL);
    else r = -1;
    if (s >= 0) H5Sclose(s);
    if (ds >= 0) H5Dclose(ds);
    return r;
}

static int read_all(hid_t f, const char *name, hid_t memtype, void *buf) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    int rc = (ds >= 0 && H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) ? CD_OK : CD_EHDF5;
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

// Fixed-length strings (n) of a dataset into rows of `stride` bytes; *len =
// the file's string size.
static int read_strings(hid_t f, const char *name, int64_t n, char **out, int *len) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t t = ds >= 0 ? H5Dget_type(ds) : -1;
    int rc = CD_EFORMAT;
    *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
        size_t sz = H5Tget_size(t);
        char *raw = cd_calloc((size_t)n ? (size_t)n : 1, sz);
        char *rows = cd_calloc((size_t)n ? (size_t)n : 1, sz + 1);
        if (!raw || !rows) rc = CD_ENOMEM;
        else if (H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0) {
            for (int64_t i = 0; i < n; i++) memcpy(rows + (size_t)i * (sz + 1), raw + (size_t)i * sz, sz);
            *out = rows;
            rows = NULL;
            *len = (int)sz;
            rc = CD_OK;
        }
        free(raw);
        free(rows);
    }
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

// ---------------------------------------------------------------------------
// Reader

int h5io_scores_read(const char *path, H5Scores *s) {
    memset(s, 0, sizeof *s);
    hid_t f = open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: pass the scores.h5 that cocodiff-eval or cocodiff-ensemble wrote)",
               path);
        return CD_EIO;
    }
    int rc = CD_OK;
    char fmt[64];
    attr_str(f, "format", fmt, sizeof fmt);
    hsize_t sd[2], ld[2], nd[2];
    if (strcmp(fmt, H5IO_SCORES_FORMAT)) {
        CD_ERR("%s: format attribute is '%s', not '%s' (HINT: pass the scores.h5 that cocodiff-eval or "
               "cocodiff-ensemble wrote)", path, fmt, H5IO_SCORES_FORMAT);
        rc = CD_EFORMAT;
    } else if (dset_dims(f, "scores", sd) != 2 || dset_dims(f, "label", ld) != 1 || dset_dims(f, "name", nd) != 1 ||
               ld[0] != sd[0] || nd[0] != sd[0] || sd[1] < 1 || sd[1] > (1 << 20)) {
        CD_ERR("%s: needs /scores (N, K), /label (N) and /name (N) with one N (got scores (%llu, %llu), label "
               "%llu, name %llu)", path, (unsigned long long)sd[0], (unsigned long long)sd[1],
               (unsigned long long)ld[0], (unsigned long long)nd[0]);
        rc = CD_EFORMAT;
    }
    if (!rc) {
        s->n = (int64_t)sd[0];
        s->K = (int)sd[1];
        size_t n = (size_t)s->n ? (size_t)s->n : 1;
        s->scores = cd_malloc(n * (size_t)s->K * sizeof *s->scores);
        s->label = cd_malloc(n * sizeof *s->label);
        s->class_names = cd_calloc((size_t)s->K, sizeof *s->class_names);
        if (!s->scores || !s->label || !s->class_names) rc = CD_ENOMEM;
    }
    if (!rc && (read_all(f, "scores", H5T_NATIVE_FLOAT, s->scores) || read_all(f, "label", H5T_NATIVE_INT32, s->label))) {
        CD_ERR("%s: reading /scores or /label failed", path);
        rc = CD_EHDF5;
    }
    if (!rc && (rc = read_strings(f, "name", s->n, &s->names, &s->name_len)))
        CD_ERR("%s: /name is not a readable list of fixed-length strings", path);
    for (int64_t i = 0; !rc && i < s->n; i++)
        if (s->label[i] < 0 || s->label[i] >= s->K) {
            CD_ERR("%s: row %lld has label %d outside [0, %d)", path, (long long)i, s->label[i], s->K);
            rc = CD_EFORMAT;
        }
    if (!rc) {   // class names: the file's when it has K of them, else ids
        char *cn = NULL;
        int clen = 0;
        hsize_t cd[2];
        if (dset_dims(f, "class_name", cd) == 1 && cd[0] == (hsize_t)s->K &&
            read_strings(f, "class_name", s->K, &cn, &clen) == CD_OK) {
            for (int k = 0; k < s->K && !rc; k++)
                if (!(s->class_names[k] = strdup(cn + (size_t)k * (size_t)(clen + 1)))) rc = CD_ENOMEM;
        } else {
            for (int k = 0; k < s->K && !rc; k++) {
                char id[16];
                snprintf(id, sizeof id, "%d", k);
                if (!(s->class_names[k] = strdup(id))) rc = CD_ENOMEM;
            }
        }
        free(cn);
    }
    if (!rc) {
        double w = 0;
        attr_str(f, "checkpoint", s->checkpoint, sizeof s->checkpoint);
        attr_str(f, "data", s->data, sizeof s->data);
        attr_str(f, "group", s->group, sizeof s->group);
        attr_str(f, "stream", s->stream, sizeof s->stream);
        if (attr_f64(f, "window", &w) == 0) s->window = (int)w;
        if (H5Lexists(f, "metrics", H5P_DEFAULT) > 0) {
            hid_t g = H5Gopen2(f, "metrics", H5P_DEFAULT);
            if (g >= 0) {
                s->has_metrics = attr_f64(g, "top1", &s->top1) == 0 && attr_f64(g, "top5", &s->top5) == 0;
                H5Gclose(g);
            }
        }
    }
    H5Fclose(f);
    if (rc) h5io_scores_free(s);
    return rc;
}

void h5io_scores_free(H5Scores *s) {
    if (!s) return;
    free(s->scores);
    free(s->label);
    free(s->names);
    if (s->class_names)
        for (int k = 0; k < s->K; k++) free(s->class_names[k]);
    free(s->class_names);
    memset(s, 0, sizeof *s);
}
