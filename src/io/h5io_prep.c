// h5io_prep.c - prepared-skeleton files (layout in h5io_prep.h): the
// parallel writer of cocodiff-prep and the serial reader that keeps a file
// open for the loader, folds and eval.
#include "h5io_prep.h"
#include "h5io_util.h"
#include "skeleton.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *group_name[2] = {"train", "test"};

// ---------------------------------------------------------------------------
// Writer (parallel)

struct H5PrepFile {
    const Dist *d;
    hid_t file, x[2], label[2], frames[2], name[2], seq[2], offset[2], strtype, dxpl_ind;
    int V, name_len, err, is_seq;
    int64_t n[2];
    float *buf;   // (3, 300, V, 2) staging buffer for one padded sample
    char *path;   // the file being written (PATH.partial), for h5io_end_write's message
    int64_t *xcrc[2];   // padded files: each sample's CRC-32 (0 on the ranks that did not write it)
    float *zeros;       // (300, V, 2) zeros: the padding's share of a sample's CRC
    uint32_t zcrc[SKEL_T + 1];   // the CRC of a channel's padding after span frames, by span
    char zcrc_have[SKEL_T + 1];
};

static int put_root_attrs(hid_t f, const H5PrepSpec *spec) {
    return h5io_attr_put_str(f, "format", H5IO_FORMAT) || h5io_attr_put_i64(f, "format_version", H5IO_FORMAT_VERSION) ||
           h5io_attr_put_str(f, "dataset", spec->dataset) || h5io_attr_put_str(f, "benchmark", spec->benchmark) ||
           h5io_attr_put_str(f, "layout", spec->layout) || h5io_attr_put_i64(f, "num_joints", spec->V) ||
           h5io_attr_put_i64(f, "num_class", spec->num_class) ||
           h5io_attr_put_str(f, "sources", spec->sources ? spec->sources : "") ||
           h5io_attr_put_str(f, "samples", spec->seq ? "sequences" : "padded") ||
           h5io_attr_put_i64(f, "num_person", spec->M > 0 ? spec->M : SKEL_M);
}

// Collective: /class_name, K fixed-length UTF-8 strings (rank 0 writes).
static int put_class_names(const Dist *d, hid_t file, const char *const *names, int K) {
    size_t len = 1;
    for (int k = 0; k < K; k++) if (strlen(names[k]) + 1 > len) len = strlen(names[k]) + 1;
    char *buf = cd_calloc((size_t)K, len);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t n = (hsize_t)K;
    hid_t ds = buf ? h5io_dset_create(file, "class_name", t, 1, &n) : -1;
    for (int k = 0; buf && k < K; k++) memcpy(buf + (size_t)k * len, names[k], strlen(names[k]));
    int rc = ds >= 0 ? h5io_write_rank0(d, ds, t, buf) : CD_EHDF5;
    if (ds >= 0) H5Dclose(ds);
    H5Tclose(t);
    free(buf);
    if (rc) CD_ERR("HDF5: writing /class_name failed");
    return rc;
}

int h5io_prep_create(H5PrepFile **out, const Dist *d, const char *path, const H5PrepSpec *spec) {
    H5PrepFile *f = cd_calloc(1, sizeof *f);
    if (!f) return CD_ENOMEM;
    f->d = d;
    f->V = spec->V;
    f->name_len = spec->name_len;
    f->n[0] = spec->n[0];
    f->n[1] = spec->n[1];
    f->is_seq = spec->seq;
    f->file = f->strtype = f->dxpl_ind = -1;
    for (int g = 0; g < 2; g++) f->x[g] = f->label[g] = f->frames[g] = f->name[g] = f->seq[g] = f->offset[g] = -1;
    if (!f->is_seq && (!(f->buf = cd_malloc((size_t)SKEL_C * SKEL_T * spec->V * SKEL_M * sizeof(float))) ||
                       !(f->zeros = cd_calloc((size_t)SKEL_T * spec->V * SKEL_M, sizeof(float))) ||
                       !(f->xcrc[0] = cd_calloc((size_t)spec->n[0] + 1, sizeof(int64_t))) ||
                       !(f->xcrc[1] = cd_calloc((size_t)spec->n[1] + 1, sizeof(int64_t))))) {
        free(f->buf);
        free(f->zeros);
        free(f->xcrc[0]);
        free(f);
        return CD_ENOMEM;
    }

    if (!(f->path = strdup(path))) goto fail;
    f->file = h5io_create_mpio(path, d);
    if (f->file < 0) { CD_ERR("%s: cannot create HDF5 file: %s", path, h5io_write_reason(path, errno)); goto fail; }
    f->dxpl_ind = H5Pcreate(H5P_DATASET_XFER);
    H5IO_CHECK(H5Pset_dxpl_mpio(f->dxpl_ind, H5FD_MPIO_INDEPENDENT), "H5Pset_dxpl_mpio");
    f->strtype = H5Tcopy(H5T_C_S1);
    H5IO_CHECK(H5Tset_size(f->strtype, (size_t)spec->name_len), "H5Tset_size");
    H5IO_CHECK(H5Tset_strpad(f->strtype, H5T_STR_NULLPAD), "H5Tset_strpad");
    if (put_root_attrs(f->file, spec)) goto fail;
    if (spec->class_names && put_class_names(f->d, f->file, spec->class_names, spec->num_class)) goto fail;
    for (int g = 0; g < 2; g++) {
        hid_t grp = h5io_group_create(f->file, group_name[g]);
        H5IO_CHECK(grp, "H5Gcreate2");
        hsize_t n = (hsize_t)spec->n[g];
        if (f->is_seq) {
            hsize_t sd[3] = {(hsize_t)spec->rows[g], (hsize_t)spec->V, SKEL_C};
            f->seq[g] = h5io_dset_create(grp, "seq", H5T_IEEE_F64LE, 3, sd);
            f->offset[g] = h5io_dset_create(grp, "offset", H5T_STD_I64LE, 1, &n);
        } else {
            hsize_t xd[5] = {n, SKEL_C, SKEL_T, (hsize_t)spec->V, SKEL_M};
            f->x[g] = h5io_dset_create(grp, "x", H5T_IEEE_F32LE, 5, xd);
        }
        f->label[g] = h5io_dset_create(grp, "label", H5T_STD_I32LE, 1, &n);
        f->frames[g] = h5io_dset_create(grp, "frames", H5T_STD_I32LE, 1, &n);
        f->name[g] = h5io_dset_create(grp, "name", f->strtype, 1, &n);
        H5Gclose(grp);
        if ((f->is_seq ? f->seq[g] < 0 || f->offset[g] < 0 : f->x[g] < 0) || f->label[g] < 0 ||
            f->frames[g] < 0 || f->name[g] < 0)
            goto fail;
    }
    *out = f;
    return CD_OK;
fail:
    f->err = CD_EHDF5;
    h5io_prep_close(f);
    return CD_EHDF5;
}

int h5io_prep_write_meta(H5PrepFile *f, int group, const int32_t *label, const int32_t *frames,
                         const char *names, const int64_t *offset) {
    int rc = h5io_write_rank0(f->d, f->label[group], H5T_NATIVE_INT32, label);
    if (!rc) rc = h5io_write_rank0(f->d, f->frames[group], H5T_NATIVE_INT32, frames);
    if (!rc) rc = h5io_write_rank0(f->d, f->name[group], f->strtype, names);
    if (!rc && f->is_seq) rc = offset ? h5io_write_rank0(f->d, f->offset[group], H5T_NATIVE_INT64, offset) : CD_EARG;
    if (rc) {
        CD_ERR("HDF5: writing /%s labels, frames, names or offsets failed", group_name[group]);
        f->err = rc;
    }
    return rc;
}

// Only the sample's first `span` frames of each channel are written: the
// padding after them is left unwritten, and since the datasets are never
// filled (h5io_dset_create: fill time never) and the file starts empty, it
// reads back as zeros (a hole of the file: POSIX reads holes as zeros), the
// same bytes as writing the zeros. Writing the zeros cost ~3-4x the bytes
// (NTU samples average well under 300 frames), and the bench-prep write
// phase was bound by the file system's rate for them.
// The CRC-32 of a padded sample as stored, (C, 300, V, M) with zeros past
// span, from f->buf's (C, span, V, M) frames (filled by the caller first).
// The padding's share is combined in (zlib's crc32_combine) from the CRC
// of its zeros, computed once per padding length: summing the zeros took
// two thirds of the checksum's time.
static uint32_t sample_crc(H5PrepFile *f, int span) {
    const size_t frame = (size_t)f->V * SKEL_M * sizeof(float), pad = (size_t)(SKEL_T - span) * frame;
    if (!f->zcrc_have[span]) {
        f->zcrc[span] = h5io_crc32(f->zeros, pad);
        f->zcrc_have[span] = 1;
    }
    uint32_t crc = 0;
    for (int c = 0; c < SKEL_C; c++) {
        crc = h5io_crc32_more(crc, (const char *)f->buf + (size_t)c * span * frame, (size_t)span * frame);
        crc = h5io_crc32_combine(crc, f->zcrc[span], pad);
    }
    return crc;
}

int h5io_prep_write_sample(H5PrepFile *f, int group, int64_t index, const float *tmvc, int span, uint32_t *crc,
                           int crc_known) {
    const int V = f->V;
    if (f->is_seq || group < 0 || group > 1 || index < 0 || index >= f->n[group]) return CD_EARG;
    if (span < 0 || span > SKEL_T) {
        CD_ERR("HDF5: sample %lld of /%s: %d frames (expected 0..%d)", (long long)index, group_name[group], span,
               SKEL_T);
        f->err = CD_EARG;
        return CD_EARG;
    }
    // (T, M, V, C) rows -> (C, span, V, M)
    for (int t = 0; t < span; t++)
        for (int m = 0; m < SKEL_M; m++)
            for (int v = 0; v < V; v++)
                for (int c = 0; c < SKEL_C; c++)
                    f->buf[(((size_t)c * span + t) * V + v) * SKEL_M + m] =
                        tmvc[(((size_t)t * SKEL_M + m) * V + v) * SKEL_C + c];
    if (!crc_known) *crc = sample_crc(f, span);
    f->xcrc[group][index] = *crc;   // of the padded sample the reader will see
    if (span == 0) return CD_OK;   // all padding: nothing to write
    hsize_t start[5] = {(hsize_t)index, 0, 0, 0, 0}, cnt[5] = {1, SKEL_C, (hsize_t)span, (hsize_t)V, SKEL_M};
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

int h5io_prep_write_seq(H5PrepFile *f, int group, int64_t row, const double *tvc, int T) {
    if (!f->is_seq || T < 1) return CD_EARG;
    hsize_t start[3] = {(hsize_t)row, 0, 0}, cnt[3] = {(hsize_t)T, (hsize_t)f->V, SKEL_C};
    hid_t fs = H5Dget_space(f->seq[group]);
    hid_t ms = H5Screate_simple(3, cnt, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    if (r >= 0) r = H5Dwrite(f->seq[group], H5T_NATIVE_DOUBLE, ms, fs, f->dxpl_ind, tvc);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0) {
        CD_ERR("HDF5: writing rows %lld..%lld of /%s/seq failed", (long long)row, (long long)(row + T),
               group_name[group]);
        f->err = CD_EHDF5;
        return CD_EHDF5;
    }
    return CD_OK;
}

// Collective: the samples' CRCs gathered (each written by one rank), stored
// as GROUP/x_crc32 (the reader checks each sample it reads) and, combined,
// as x's own crc32.
static int put_sample_crcs(H5PrepFile *f) {
    const size_t row = (size_t)SKEL_C * SKEL_T * f->V * SKEL_M * sizeof(float);
    int rc = CD_OK;
    for (int g = 0; g < 2 && !rc; g++) {
        int64_t n = f->n[g];
        uint32_t *v = cd_calloc((size_t)n + 1, sizeof *v), whole = 0;
        rc = v ? CD_OK : CD_ENOMEM;
        for (int64_t at = 0; !rc && at < n; at += 1 << 20)   // int counts
            rc = dist_allreduce_sum_i64(f->d, f->xcrc[g] + at, (int)(n - at < (1 << 20) ? n - at : 1 << 20));
        for (int64_t i = 0; !rc && i < n; i++) {
            v[i] = (uint32_t)f->xcrc[g][i];
            whole = i ? h5io_crc32_combine(whole, v[i], row) : v[i];
        }
        rc = dist_agree(f->d, rc);
        char name[32];
        snprintf(name, sizeof name, "/%s/x_crc32", group_name[g]);
        hsize_t nn = (hsize_t)n;
        hid_t ds = rc ? -1 : h5io_dset_create(f->file, name, H5T_STD_U32LE, 1, &nn);
        if (!rc) rc = ds < 0 ? CD_EHDF5 : h5io_write_rank0(f->d, ds, H5T_NATIVE_UINT32, v);
        if (ds >= 0) H5Dclose(ds);
        if (!rc) rc = dist_agree(f->d, h5io_crc_put(f->x[g], whole));
        free(v);
    }
    return rc;
}

int h5io_prep_close(H5PrepFile *f) {
    if (!f) return CD_OK;
    int rc = f->err;
    if (f->file >= 0) rc = dist_agree(f->d, rc);
    if (f->file >= 0 && !rc && !f->is_seq) rc = put_sample_crcs(f);
    for (int g = 0; g < 2; g++) {
        if (f->seq[g] >= 0) H5Dclose(f->seq[g]);
        if (f->offset[g] >= 0) H5Dclose(f->offset[g]);
        if (f->x[g] >= 0) H5Dclose(f->x[g]);
        if (f->label[g] >= 0) H5Dclose(f->label[g]);
        if (f->frames[g] >= 0) H5Dclose(f->frames[g]);
        if (f->name[g] >= 0) H5Dclose(f->name[g]);
    }
    if (f->strtype >= 0) H5Tclose(f->strtype);
    if (f->dxpl_ind >= 0) H5Pclose(f->dxpl_ind);
    const Dist *d = f->d;
    // Collective: flushed, or on any rank's failure truncated, closed and removed.
    if (f->file >= 0) rc = h5io_end_write(f->file, f->path, rc, d);
    free(f->xcrc[0]);
    free(f->xcrc[1]);
    free(f->zeros);
    free(f->buf);
    free(f->path);
    free(f);
    return dist_agree(d, rc);
}

// ---------------------------------------------------------------------------
// Reader (serial): the file and its datasets stay open.

enum { DS_X, DS_LABEL, DS_FRAMES, DS_NAME, DS_SEQ, DS_OFFSET, DS_N };
static const char *ds_name[DS_N] = {"x", "label", "frames", "name", "seq", "offset"};
static const int ds_rank[DS_N] = {5, 1, 1, 1, 3, 1};

struct H5PrepReader {
    char *path;
    hid_t file, ds[2][DS_N], name_type[2];
    H5PrepInfo info;
    uint32_t *xcrc[2];   // each padded sample's CRC-32 (NULL: the file has none)
};

// The largest sizes a prep file of ours can have: a layout's joints, a
// dataset's classes, a sample name.
#define PREP_MAX_V 1000
#define PREP_MAX_K (1 << 20)
#define PREP_MAX_NAME 4096

// Every attribute is checked before it is read and every dataset's class
// and shape against the header before the loader trusts them: a crafted
// file must never size a read past its buffer (issue 12).
static int reader_attrs(H5PrepReader *r, int64_t *V, int64_t *K, int64_t *M, int64_t *ver) {
    const char *path = r->path;
    H5PrepInfo *info = &r->info;
    char samples[16] = "padded";
    int rc = h5io_check_format(r->file, path, H5IO_FORMAT, H5IO_FORMAT_VERSION, ver, "rerun cocodiff-prep");
    if (!rc && (h5io_attr_need_str(r->file, path, "dataset", info->dataset, sizeof info->dataset) ||
                h5io_attr_need_str(r->file, path, "benchmark", info->benchmark, sizeof info->benchmark) ||
                h5io_attr_need_str(r->file, path, "layout", info->layout, sizeof info->layout) ||
                h5io_attr_need_i64(r->file, path, "num_joints", V) || h5io_attr_need_i64(r->file, path, "num_class", K)))
        rc = CD_EFORMAT;
    // Files of older builds have neither: padded, two persons.
    if (!rc && h5io_attr_opt_str(r->file, path, "samples", samples, sizeof samples) == CD_EFORMAT) rc = CD_EFORMAT;
    if (!rc && !samples[0]) snprintf(samples, sizeof samples, "padded");
    if (!rc && h5io_attr_opt_i64(r->file, path, "num_person", M) == CD_EFORMAT) rc = CD_EFORMAT;
    info->seq = !strcmp(samples, "sequences");
    if (!rc && ((!info->seq && (strcmp(samples, "padded") || *M != SKEL_M)) || *M < 1 || *M > SKEL_M)) {
        CD_ERR("%s: samples '%s', num_person %lld: not a prep file this build reads", path, samples, (long long)*M);
        rc = CD_EFORMAT;
    }
    if (!rc && (*V < 1 || *V > PREP_MAX_V || *K < 1 || *K > PREP_MAX_K)) {
        CD_ERR("%s: num_joints %lld, num_class %lld: outside [1, %d] and [1, %d] (HINT: the file is damaged)", path,
               (long long)*V, (long long)*K, PREP_MAX_V, PREP_MAX_K);
        rc = CD_EFORMAT;
    }
    return rc;
}

// One group's datasets: the names give N, every other dataset must agree.
// A file that promises checksums (h5io_util.h): its labels, frames and
// names checked whole now (small), each padded sample's CRC kept for
// h5io_prep_reader_read.
static int reader_checksums(H5PrepReader *r, int g) {
    if (H5Aexists(r->file, "checksums") <= 0) return CD_OK;
    int64_t n = r->info.n[g];
    int32_t *tmp = cd_malloc((size_t)n * sizeof *tmp + 1);
    char p[32], *names = NULL;
    int len = 0, rc = tmp ? CD_OK : CD_ENOMEM;
    for (int k = DS_LABEL; k <= DS_FRAMES && !rc; k++) {
        snprintf(p, sizeof p, "/%s/%s", group_name[g], ds_name[k]);
        if (h5io_dset_read_n(r->file, p, H5T_NATIVE_INT32, n, tmp)) rc = CD_EFORMAT;
    }
    snprintf(p, sizeof p, "/%s/name", group_name[g]);
    if (!rc && h5io_dset_read_strings(r->file, p, n, &names, &len)) rc = CD_EFORMAT;
    free(names);
    free(tmp);
    snprintf(p, sizeof p, "/%s/x_crc32", group_name[g]);
    uint32_t whole;
    if (!rc && !r->info.seq && h5io_crc_get(r->ds[g][DS_X], r->path, &whole) != 1) rc = CD_EFORMAT;
    if (!rc && !r->info.seq) {
        int64_t one[1] = {n};
        rc = h5io_dset_check(r->file, r->path, p, H5T_INTEGER, 1, one);
        if (!rc && !(r->xcrc[g] = cd_malloc((size_t)n * sizeof(uint32_t) + 1))) rc = CD_ENOMEM;
        if (!rc && h5io_dset_read_n(r->file, p, H5T_NATIVE_UINT32, n, r->xcrc[g])) rc = CD_EFORMAT;
    }
    if (rc == CD_EFORMAT) CD_ERR("%s: /%s fails its checks (HINT: the file is damaged; prepare it again)", r->path, group_name[g]);
    return rc;
}

static int reader_group(H5PrepReader *r, int g, int64_t V) {
    const char *path = r->path;
    H5PrepInfo *info = &r->info;
    hid_t grp = H5Lexists(r->file, group_name[g], H5P_DEFAULT) > 0 ? H5Gopen2(r->file, group_name[g], H5P_DEFAULT) : -1;
    if (grp < 0) {
        CD_ERR("%s: no group /%s", path, group_name[g]);
        return CD_EFORMAT;
    }
    int64_t n[1] = {-1}, nn[1], x[5] = {-1, SKEL_C, SKEL_T, V, SKEL_M}, seq[3] = {-1, V, SKEL_C};
    int rc = h5io_dset_check(grp, path, "name", H5T_STRING, 1, n);
    nn[0] = n[0];
    x[0] = n[0];
    if (!rc && (h5io_dset_check(grp, path, "label", H5T_INTEGER, 1, nn) ||
                h5io_dset_check(grp, path, "frames", H5T_INTEGER, 1, nn)))
        rc = CD_EFORMAT;
    if (!rc && !info->seq && h5io_dset_check(grp, path, "x", H5T_FLOAT, 5, x)) rc = CD_EFORMAT;
    if (!rc && info->seq && (h5io_dset_check(grp, path, "offset", H5T_INTEGER, 1, nn) ||
                             h5io_dset_check(grp, path, "seq", H5T_FLOAT, 3, seq)))
        rc = CD_EFORMAT;
    H5Gclose(grp);
    for (int k = 0; k < DS_N && !rc; k++) {
        if (info->seq ? k == DS_X : k == DS_SEQ || k == DS_OFFSET) continue;
        char p[32];
        snprintf(p, sizeof p, "/%s/%s", group_name[g], ds_name[k]);
        if ((r->ds[g][k] = H5Dopen2(r->file, p, H5P_DEFAULT)) < 0) {
            CD_ERR("%s: cannot open dataset %s", path, p);
            rc = CD_EFORMAT;
        }
    }
    if (rc) return rc;
    r->name_type[g] = H5Dget_type(r->ds[g][DS_NAME]);
    info->n[g] = n[0];
    info->name_len = (int)H5Tget_size(r->name_type[g]);
    if (info->name_len < 1 || info->name_len > PREP_MAX_NAME) {
        CD_ERR("%s: /%s/name holds strings of %d bytes; 1 to %d expected", path, group_name[g], info->name_len,
               PREP_MAX_NAME);
        return CD_EFORMAT;
    }
    if (info->seq) info->rows[g] = seq[0];
    return reader_checksums(r, g);
}

static int reader_header(H5PrepReader *r) {
    H5PrepInfo *info = &r->info;
    int64_t ver = 0, V = 0, K = 0, M = SKEL_M;
    int rc = reader_attrs(r, &V, &K, &M, &ver);
    for (int g = 0; g < 2 && !rc; g++) rc = reader_group(r, g, V);
    if (!rc && info->n[0] + info->n[1] > 0 && r->info.name_len) {
        // Both groups' names are read into rows of one length.
        size_t l0 = H5Tget_size(r->name_type[0]), l1 = H5Tget_size(r->name_type[1]);
        if (l0 != l1) {
            CD_ERR("%s: /train/name and /test/name hold strings of %zu and %zu bytes; one length expected", r->path,
                   l0, l1);
            rc = CD_EFORMAT;
        }
    }
    info->M = (int)M;
    info->V = (int)V;
    info->num_class = (int)K;
    info->format_version = (int)ver;
    return rc;
}

int h5io_prep_reader_open(H5PrepReader **out, const char *path) {
    *out = NULL;
    H5PrepReader *r = cd_calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return CD_ENOMEM;
    }
    r->name_type[0] = r->name_type[1] = -1;
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < DS_N; k++) r->ds[g][k] = -1;
    r->file = h5io_open_quiet(path);
    if (r->file < 0) {
        CD_ERR("%s: cannot open as HDF5 (HINT: is this a cocodiff-prep output?)", path);
        h5io_prep_reader_close(r);
        return CD_EIO;
    }
    int rc = reader_header(r);
    if (rc) {
        h5io_prep_reader_close(r);
        return rc;
    }
    *out = r;
    return CD_OK;
}

const H5PrepInfo *h5io_prep_reader_info(const H5PrepReader *r) { return &r->info; }

void h5io_prep_reader_close(H5PrepReader *r) {
    if (!r) return;
    for (int g = 0; g < 2; g++) {
        for (int k = 0; k < DS_N; k++)
            if (r->ds[g][k] >= 0) H5Dclose(r->ds[g][k]);
        if (r->name_type[g] >= 0) H5Tclose(r->name_type[g]);
        free(r->xcrc[g]);
    }
    if (r->file >= 0) H5Fclose(r->file);
    free(r->path);
    free(r);
}

// Rows [first, first+count) of one dataset (its first dimension) into out.
static int read_rows(hid_t ds, hid_t memtype, int rank, int64_t first, int64_t count, void *out) {
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
    return rc;
}

int h5io_prep_reader_read(H5PrepReader *r, int group, int64_t first, int64_t count, float *x,
                          int32_t *label, int32_t *frames, char *names) {
    void *out[DS_NAME + 1] = {x, label, frames, names};
    hid_t memtype[DS_NAME + 1] = {H5T_NATIVE_FLOAT, H5T_NATIVE_INT32, H5T_NATIVE_INT32, r->name_type[group]};
    int rc = CD_OK;
    if (x && r->info.seq) {
        CD_ERR("%s: holds raw sequences (/%s/seq), not padded samples", r->path, group_name[group]);
        return CD_EARG;
    }
    for (int k = 0; k <= DS_NAME && !rc; k++)
        if (out[k]) rc = read_rows(r->ds[group][k], memtype[k], ds_rank[k], first, count, out[k]);
    if (rc)
        CD_ERR("%s: reading /%s rows %lld..%lld failed", r->path, group_name[group], (long long)first,
               (long long)(first + count));
    const size_t row = (size_t)SKEL_C * SKEL_T * r->info.V * SKEL_M;
    for (int64_t i = 0; !rc && x && r->xcrc[group] && i < count; i++) {
        uint32_t got = h5io_crc32(x + (size_t)i * row, row * sizeof(float)), want = r->xcrc[group][first + i];
        if (got != want) {
            CD_ERR("%s: /%s/x sample %lld fails its checksum (crc32 %08x stored, %08x read): the file is damaged; "
                   "refusing it (HINT: prepare it again)", r->path, group_name[group], (long long)(first + i), want, got);
            rc = CD_EFORMAT;
        }
    }
    return rc;
}

// Rows [first, first+count) of a raw-sequence file's dataset k (offset, seq).
static int read_seq_rows(H5PrepReader *r, int group, int k, hid_t memtype, int64_t first, int64_t count, void *out) {
    if (!r->info.seq) {
        CD_ERR("%s: holds padded samples, not raw sequences", r->path);
        return CD_EARG;
    }
    int rc = read_rows(r->ds[group][k], memtype, ds_rank[k], first, count, out);
    if (rc)
        CD_ERR("%s: reading /%s/%s rows %lld..%lld failed", r->path, group_name[group], ds_name[k], (long long)first,
               (long long)(first + count));
    return rc;
}

int h5io_prep_reader_read_offsets(H5PrepReader *r, int group, int64_t first, int64_t count, int64_t *offset) {
    return read_seq_rows(r, group, DS_OFFSET, H5T_NATIVE_INT64, first, count, offset);
}

int h5io_prep_reader_read_seq(H5PrepReader *r, int group, int64_t row, int64_t nrows, double *out) {
    return read_seq_rows(r, group, DS_SEQ, H5T_NATIVE_DOUBLE, row, nrows, out);
}

int h5io_prep_info(const char *path, H5PrepInfo *info) {
    memset(info, 0, sizeof *info);
    H5PrepReader *r;
    int rc = h5io_prep_reader_open(&r, path);
    if (!rc) *info = r->info;
    h5io_prep_reader_close(r);
    return rc;
}

int h5io_prep_read(const char *path, int group, int64_t first, int64_t count, float *x,
                   int32_t *label, int32_t *frames, char *names) {
    H5PrepReader *r;
    int rc = h5io_prep_reader_open(&r, path);
    if (!rc) rc = h5io_prep_reader_read(r, group, first, count, x, label, frames, names);
    h5io_prep_reader_close(r);
    return rc;
}

// ---------------------------------------------------------------------------
// Class names

void h5io_strings_free(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int h5io_prep_class_names(const char *path, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open as HDF5", path);
        return CD_EIO;
    }
    int rc = CD_OK;
    int64_t K = 0;
    if (H5Lexists(f, "class_name", H5P_DEFAULT) > 0 && h5io_attr_need_i64(f, path, "num_class", &K)) rc = CD_EFORMAT;
    if (!rc && H5Lexists(f, "class_name", H5P_DEFAULT) > 0) {
        char *rows = NULL;
        int len = 0;
        int64_t k = K;   // one name per class
        char **v = NULL;
        if (k < 1 || k > PREP_MAX_K) {
            CD_ERR("%s: num_class %lld outside [1, %d]", path, (long long)k, PREP_MAX_K);
            rc = CD_EFORMAT;
        } else if (h5io_dset_check(f, path, "class_name", H5T_STRING, 1, &k)) rc = CD_EFORMAT;
        else if (!(v = cd_calloc((size_t)k, sizeof *v))) rc = CD_ENOMEM;
        else if (h5io_dset_read_strings(f, "class_name", k, &rows, &len) != CD_OK) {
            CD_ERR("%s: /class_name is not a readable list of fixed-length strings", path);
            rc = CD_EFORMAT;
        }
        for (int64_t i = 0; !rc && i < k; i++)
            if (!(v[i] = strdup(rows + (size_t)i * (size_t)(len + 1)))) rc = CD_ENOMEM;
        if (!rc) { *names = v; *n = (int)k; }
        else h5io_strings_free(v, (int)(v ? k : 0));
        free(rows);
    }
    H5Fclose(f);
    return rc;
}
