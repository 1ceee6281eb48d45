// h5io_scores.c - score files (layout in h5io_scores.h): the parallel writer
// of cocodiff-eval and cocodiff-ensemble, and the serial reader.
#include "h5io_scores.h"
#include "h5io_util.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Writer (parallel)

struct H5ScoresFile {
    const Dist *d;
    hid_t file, scores, label, name, strtype, dxpl_ind;
    int K, name_len, err;
    int64_t n;
    char *path;   // the file being written (PATH.partial), for h5io_end_write's message
    int64_t *crc;   // (3, n): each row's CRC-32 of scores, label, name (0 on the ranks that did not write it)
};

int h5io_scores_create(H5ScoresFile **out, const Dist *d, const char *path, const H5ScoresSpec *s) {
    *out = NULL;
    H5ScoresFile *f = cd_calloc(1, sizeof *f);
    if (!f) return CD_ENOMEM;
    f->d = d;
    f->K = s->K;
    f->n = s->n;
    f->name_len = s->name_len;
    f->file = f->scores = f->label = f->name = f->strtype = f->dxpl_ind = -1;
    if (!(f->path = strdup(path)) || !(f->crc = cd_calloc(3 * (size_t)s->n + 1, sizeof *f->crc))) goto fail;
    f->file = h5io_create_mpio(path, d);
    if (f->file < 0) { CD_ERR("%s: cannot create HDF5 file: %s", path, h5io_write_reason(path, errno)); goto fail; }
    f->dxpl_ind = H5Pcreate(H5P_DATASET_XFER);
    H5IO_CHECK(H5Pset_dxpl_mpio(f->dxpl_ind, H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio");
    f->strtype = H5Tcopy(H5T_C_S1);
    H5IO_CHECK(H5Tset_size(f->strtype, (size_t)s->name_len), "H5Tset_size");
    H5IO_CHECK(H5Tset_strpad(f->strtype, H5T_STR_NULLPAD), "H5Tset_strpad");
    if (h5io_attr_put_str(f->file, "format", H5IO_SCORES_FORMAT) ||
        h5io_attr_put_i64(f->file, "format_version", H5IO_SCORES_FORMAT_VERSION) ||
        h5io_attr_put_str(f->file, "checkpoint", s->checkpoint) || h5io_attr_put_str(f->file, "data", s->data) ||
        h5io_attr_put_str(f->file, "group", s->group) || h5io_attr_put_str(f->file, "stream", s->stream) ||
        h5io_attr_put_i64(f->file, "window", s->window) || h5io_attr_put_i64(f->file, "num_class", s->K))
        goto fail;
    hsize_t sd[2] = {(hsize_t)s->n, (hsize_t)s->K}, n = (hsize_t)s->n;
    f->scores = h5io_dset_create(f->file, "scores", H5T_IEEE_F32LE, 2, sd);
    f->label = h5io_dset_create(f->file, "label", H5T_STD_I32LE, 1, &n);
    f->name = h5io_dset_create(f->file, "name", f->strtype, 1, &n);
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
    free(f->crc);
    free(f->path);
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
    for (int64_t i = 0; i < count; i++) {
        f->crc[first + i] = h5io_crc32(scores + (size_t)i * f->K, (size_t)f->K * sizeof(float));
        f->crc[f->n + first + i] = h5io_crc32(label + i, sizeof *label);
        f->crc[2 * f->n + first + i] = h5io_crc32(names + (size_t)i * f->name_len, (size_t)f->name_len);
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
        ds = h5io_dset_create(f->file, "class_name", t, 1, &k1);
        rc = ds < 0 ? CD_EHDF5 : h5io_write_rank0(f->d, ds, t, buf);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        g = h5io_group_create(f->file, "metrics");
        if (g < 0) rc = CD_EHDF5;
    }
    if (!rc) {
        hsize_t kk[2] = {(hsize_t)K, (hsize_t)K};
        ds = h5io_dset_create(g, "confusion", H5T_STD_I64LE, 2, kk);
        rc = ds < 0 ? CD_EHDF5 : h5io_write_rank0(f->d, ds, H5T_NATIVE_INT64, confusion);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        hsize_t k1 = (hsize_t)K;
        ds = h5io_dset_create(g, "per_class_accuracy", H5T_IEEE_F64LE, 1, &k1);
        rc = ds < 0 ? CD_EHDF5 : h5io_write_rank0(f->d, ds, H5T_NATIVE_DOUBLE, per_class);
        if (ds >= 0) H5Dclose(ds);
    }
    if (!rc) {
        int64_t n = 0;
        for (size_t i = 0; i < (size_t)K * K; i++) n += confusion[i];
        rc = h5io_attr_put_f64(g, "top1", top1) || h5io_attr_put_f64(g, "top5", top5) || h5io_attr_put_i64(g, "num_samples", n)
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

// Collective: the rows' CRCs (each row written by one rank) gathered and
// combined into each row dataset's crc32.
static int put_row_crcs(H5ScoresFile *f) {
    const int64_t n = f->n;
    int rc = CD_OK;
    for (int64_t at = 0; !rc && at < 3 * n; at += 1 << 20)   // int counts
        rc = dist_allreduce_sum_i64(f->d, f->crc + at, (int)(3 * n - at < (1 << 20) ? 3 * n - at : 1 << 20));
    const hid_t ds[3] = {f->scores, f->label, f->name};
    const size_t row[3] = {(size_t)f->K * sizeof(float), sizeof(int32_t), (size_t)f->name_len};
    for (int k = 0; k < 3 && !rc; k++) {
        uint32_t whole = 0;
        for (int64_t i = 0; i < n; i++) {
            uint32_t c = (uint32_t)f->crc[k * n + i];
            whole = i ? h5io_crc32_combine(whole, c, row[k]) : c;
        }
        rc = dist_agree(f->d, h5io_crc_put(ds[k], whole));
    }
    return rc;
}

int h5io_scores_close(H5ScoresFile *f) {
    if (!f) return CD_OK;
    int rc = f->err;
    if (f->file >= 0) rc = dist_agree(f->d, rc);
    if (f->file >= 0 && !rc) rc = put_row_crcs(f);
    if (f->scores >= 0) H5Dclose(f->scores);
    if (f->label >= 0) H5Dclose(f->label);
    if (f->name >= 0) H5Dclose(f->name);
    if (f->strtype >= 0) H5Tclose(f->strtype);
    if (f->dxpl_ind >= 0) H5Pclose(f->dxpl_ind);
    const Dist *d = f->d;
    // Collective: flushed, or on any rank's failure truncated, closed and removed.
    if (f->file >= 0) rc = h5io_end_write(f->file, f->path, rc, d);
    free(f->crc);
    free(f->path);
    free(f);
    return dist_agree(d, rc);
}

// ---------------------------------------------------------------------------
// Reader (serial)

// The largest class count a score file may have (a bound before allocating).
#define SCORES_MAX_K (1 << 20)

// The root attributes and the dataset shapes, checked before anything is
// read (issue 12: a crafted attribute or shape must never size a read).
static int read_header(hid_t f, const char *path, H5Scores *s) {
    int64_t ver = 0, K = 0, w = 0;
    int rc = h5io_check_format(f, path, H5IO_SCORES_FORMAT, H5IO_SCORES_FORMAT_VERSION, &ver,
                               "pass the scores.h5 that cocodiff-eval or cocodiff-ensemble wrote");
    if (!rc && (h5io_attr_need_str(f, path, "checkpoint", s->checkpoint, sizeof s->checkpoint) ||
                h5io_attr_need_str(f, path, "data", s->data, sizeof s->data) ||
                h5io_attr_need_str(f, path, "group", s->group, sizeof s->group) ||
                h5io_attr_need_str(f, path, "stream", s->stream, sizeof s->stream) ||
                h5io_attr_need_i64(f, path, "window", &w) || h5io_attr_need_i64(f, path, "num_class", &K)))
        rc = CD_EFORMAT;
    if (!rc && (K < 1 || K > SCORES_MAX_K || w < 1 || w > 1000000)) {
        CD_ERR("%s: num_class %lld or window %lld out of range", path, (long long)K, (long long)w);
        rc = CD_EFORMAT;
    }
    int64_t sd[2] = {-1, K}, n[1];
    if (!rc && h5io_dset_check(f, path, "scores", H5T_FLOAT, 2, sd)) rc = CD_EFORMAT;
    n[0] = sd[0];
    if (!rc && (h5io_dset_check(f, path, "label", H5T_INTEGER, 1, n) || h5io_dset_check(f, path, "name", H5T_STRING, 1, n)))
        rc = CD_EFORMAT;
    int64_t k1[1] = {K};
    if (!rc && H5Lexists(f, "class_name", H5P_DEFAULT) > 0 && h5io_dset_check(f, path, "class_name", H5T_STRING, 1, k1))
        rc = CD_EFORMAT;
    s->n = sd[0];
    s->K = (int)K;
    s->window = (int)w;
    if (!rc && H5Lexists(f, "metrics", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "metrics", H5P_DEFAULT);
        if (g < 0 || h5io_attr_need_f64(g, path, "top1", &s->top1) || h5io_attr_need_f64(g, path, "top5", &s->top5))
            rc = CD_EFORMAT;
        if (g >= 0) H5Gclose(g);
        s->has_metrics = !rc;
    }
    return rc;
}

int h5io_scores_read(const char *path, H5Scores *s) {
    memset(s, 0, sizeof *s);
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: pass the scores.h5 that cocodiff-eval or cocodiff-ensemble wrote)",
               path);
        return CD_EIO;
    }
    int rc = read_header(f, path, s);
    if (!rc) {
        size_t n = (size_t)s->n ? (size_t)s->n : 1;
        s->scores = cd_malloc(n * (size_t)s->K * sizeof *s->scores);
        s->label = cd_malloc(n * sizeof *s->label);
        s->class_names = cd_calloc((size_t)s->K, sizeof *s->class_names);
        if (!s->scores || !s->label || !s->class_names) rc = CD_ENOMEM;
    }
    if (!rc && (h5io_dset_read(f, "scores", H5T_NATIVE_FLOAT, s->scores) || h5io_dset_read(f, "label", H5T_NATIVE_INT32, s->label))) {
        CD_ERR("%s: reading /scores or /label failed", path);
        rc = CD_EHDF5;
    }
    if (!rc && (rc = h5io_dset_read_strings(f, "name", s->n, &s->names, &s->name_len)))
        CD_ERR("%s: /name is not a readable list of fixed-length strings", path);
    for (int64_t i = 0; !rc && i < s->n; i++)
        if (s->label[i] < 0 || s->label[i] >= s->K) {
            CD_ERR("%s: row %lld has label %d outside [0, %d)", path, (long long)i, s->label[i], s->K);
            rc = CD_EFORMAT;
        }
    if (!rc) {   // class names: the file's (checked above), else ids (files of older builds)
        char *cn = NULL;
        int clen = 0;
        if (H5Lexists(f, "class_name", H5P_DEFAULT) > 0) {
            if ((rc = h5io_dset_read_strings(f, "class_name", s->K, &cn, &clen)))
                CD_ERR("%s: /class_name is not a readable list of fixed-length strings", path);
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
