// h5io_util.c - the h5io module's private helpers (h5io_util.h): files,
// attributes, groups and datasets as every format of ours writes them.
#include "h5io_util.h"
#include "fault.h"
#include "fsutil.h"
#include "h5io_errors.h"
#include "status.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

// ---------------------------------------------------------------------------
// Files

void h5io_errors_show(int show) {
    if (!show) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   // HDF5's default prints the stack
}

H5ioQuiet h5io_quiet_begin(void) {
    H5ioQuiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

void h5io_quiet_end(H5ioQuiet q) { H5Eset_auto2(H5E_DEFAULT, q.fn, q.data); }

hid_t h5io_open_quiet(const char *path) {
    if (cd_verbose()) return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);   // --verbose: why HDF5 could not
    H5ioQuiet q = h5io_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    h5io_quiet_end(q);
    return f;
}

hid_t h5io_create_serial(const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    // Built in memory (core driver, no backing store); h5io_end_write puts
    // the image in path with one checked write. HDF5's own writes to a full
    // disk fail inside H5Dclose's sieve flush and leave a half-closed file
    // that crashes MPI_Finalize; ours fail with an errno and nothing open.
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f >= 0 && h5io_attr_put_str(f, "checksums", "crc32")) { H5Fclose(f); return -1; }   // a promise: h5io_crc_check
    return f;
}

hid_t h5io_create_mpio(const char *path, const Dist *d) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, *(MPI_Comm *)d->comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    fault_point("h5-create", d->rank);
    dist_guard_begin("H5Fcreate");   // collective, and the watchdog cannot poll it
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    dist_guard_end();
    H5Pclose(fapl);
    if (f >= 0 && h5io_attr_put_str(f, "checksums", "crc32")) { H5Fclose(f); return -1; }   // a promise: h5io_crc_check
    return f;
}

// ---------------------------------------------------------------------------
// Checksums

uint32_t h5io_crc32(const void *buf, size_t n) { return h5io_crc32_more(0, buf, n); }

uint32_t h5io_crc32_more(uint32_t crc, const void *buf, size_t n) {
    uLong c = crc;
    const Bytef *p = buf;
    while (n) {   // zlib takes uInt lengths
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

uint32_t h5io_crc32_combine(uint32_t a, uint32_t b, size_t blen) {
    return (uint32_t)crc32_combine64(a, b, (z_off64_t)blen);
}

int h5io_crc_put(hid_t ds, uint32_t crc) {
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(ds, "crc32", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_UINT32, &crc) >= 0 ? CD_OK : CD_EHDF5;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (rc) CD_ERR("HDF5: writing a checksum attribute failed");
    return rc;
}

static void dset_name(hid_t ds, char *out, size_t cap) {
    if (H5Iget_name(ds, out, cap) <= 0) snprintf(out, cap, "(a dataset)");
}

int h5io_crc_get(hid_t ds, const char *path, uint32_t *crc) {
    char name[320];
    if (H5Aexists(ds, "crc32") > 0) {
        int64_t v = -1;
        if (h5io_attr_get_i64(ds, "crc32", &v) == CD_OK && v >= 0 && v <= (int64_t)UINT32_MAX) {
            *crc = (uint32_t)v;
            return 1;
        }
        dset_name(ds, name, sizeof name);
        CD_ERR("%s: dataset %s: its crc32 attribute is unreadable (HINT: the file is damaged)", path, name);
        return CD_EFORMAT;
    }
    hid_t f = H5Iget_file_id(ds);
    int promised = f >= 0 && H5Aexists(f, "checksums") > 0;
    if (f >= 0) H5Fclose(f);
    if (!promised) return 0;
    dset_name(ds, name, sizeof name);
    CD_ERR("%s: dataset %s has no checksum, though the file promises one (HINT: the file is damaged)", path, name);
    return CD_EFORMAT;
}

int h5io_crc_check(hid_t ds, const char *path, const void *buf, size_t n) {
    uint32_t want = 0;
    int r = h5io_crc_get(ds, path, &want);
    if (r <= 0) return r;
    uint32_t got = h5io_crc32(buf, n);
    if (got == want) return CD_OK;
    char name[320];
    dset_name(ds, name, sizeof name);
    CD_ERR("%s: dataset %s fails its checksum (crc32 %08x stored, %08x read): the file is damaged; refusing it",
           path, name, want, got);
    return CD_EFORMAT;
}

// Why a write to path failed: errno when it names an I/O reason (HDF5's
// drivers leave it set), else a full file system when under 1 MiB is left.
const char *h5io_write_reason(const char *path, int err) {
    if (err == ENOSPC || err == EDQUOT || err == EFBIG || err == EIO || err == EROFS) return strerror(err);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0 && (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0) return strerror(ENOSPC);
    return "HDF5 could not write it (--verbose shows HDF5's reasons)";
}

// h5io_end_write of a serial (in-memory) file: its image into partial.
static int end_serial(hid_t f, const char *partial, int rc) {
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = CD_EHDF5;
    ssize_t n = rc ? -1 : H5Fget_file_image(f, NULL, 0);
    void *img = n > 0 ? cd_malloc((size_t)n) : NULL;
    if (!rc && (!img || H5Fget_file_image(f, img, (size_t)n) != n)) rc = img ? CD_EHDF5 : CD_ENOMEM;
    if (H5Fclose(f) < 0 && !rc) rc = CD_EHDF5;   // in memory: never an I/O failure
    char why[2048];
    if (rc == CD_EHDF5) CD_ERR("%s: HDF5 could not build the file (--verbose shows why)", partial);
    if (!rc && (rc = fs_write_file_why(partial, img, (size_t)n, why, sizeof why))) CD_ERR("%s", why);
    free(img);
    return rc;
}

int h5io_end_write(hid_t f, const char *partial, int rc, const Dist *d) {
    if (!d) return end_serial(f, partial, rc);
    int err = errno, writer = d->rank == 0;
    rc = dist_agree(d, rc);
    dist_guard_begin("H5Fflush");
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        err = errno;
        rc = CD_EIO;
    }
    dist_guard_end();
    rc = dist_agree(d, rc);
    if (rc) {
        // Said before the truncation frees the room that tells why (other
        // failures said theirs where they happened).
        if (writer && (rc == CD_EIO || rc == CD_EHDF5))
            CD_ERR("%s: cannot write: %s; nothing was renamed into place", partial, h5io_write_reason(partial, err));
        if (writer && truncate(partial, 0) != 0) { /* the close may still succeed */ }
        dist_barrier(d);   // every rank closes after the truncation
    }
    fault_point("h5-close", d->rank);
    H5ioQuiet q = h5io_quiet_begin();
    dist_guard_begin("H5Fclose");
    herr_t closed = H5Fclose(f);
    dist_guard_end();
    h5io_quiet_end(q);
    if (closed < 0 && !rc) {
        if (writer) CD_ERR("%s: cannot write: %s (closing it failed)", partial, h5io_write_reason(partial, errno));
        rc = CD_EIO;
    }
    rc = dist_agree(d, rc);
    if (rc && writer) unlink(partial);
    return rc;
}

// ---------------------------------------------------------------------------
// Attributes

int h5io_attr_put_str(hid_t obj, const char *name, const char *value) {
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

static int put_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, mtype, v) >= 0) ? CD_OK : CD_EHDF5;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return rc;
}

int h5io_attr_put_i64(hid_t obj, const char *name, int64_t v) {
    int rc = put_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
    if (rc) CD_ERR("HDF5: writing attribute %s failed", name);
    return rc;
}

int h5io_attr_put_f64(hid_t obj, const char *name, double v) {
    return put_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

int h5io_attr_string(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return H5IO_ABSENT;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t s = a >= 0 ? H5Aget_space(a) : -1;
    int rc = CD_EFORMAT;
    // One string: a scalar, or h5py's one-element array.
    int one = s >= 0 && H5Sget_simple_extent_npoints(s) == 1;
    if (one && t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        // h5py writes a Python str as a variable-length UTF-8 string; HDF5
        // converts between string types only within one character set, so
        // the memory type takes the file's.
        char *v = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, &v) >= 0 && v && (*out = strdup(v))) rc = CD_OK;
        if (v) H5free_memory(v);
        H5Tclose(mt);
    } else if (one && t >= 0 && H5Tget_class(t) == H5T_STRING) {
        size_t n = H5Tget_size(t);
        char *tmp = cd_calloc(n + 1, 1);
        if (tmp && H5Aread(a, t, tmp) >= 0) *out = tmp, rc = CD_OK;
        else free(tmp);
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

int h5io_attr_get_str(hid_t obj, const char *name, char *out, size_t cap) {
    char *v = NULL;
    int rc = h5io_attr_string(obj, name, &v);
    if (cap) snprintf(out, cap, "%s", rc == CD_OK ? v : "");
    free(v);
    return rc == CD_OK ? CD_OK : CD_EFORMAT;
}

// One value: a scalar dataspace, or a simple one of exactly one element.
static int one_element(hid_t space) {
    H5S_class_t c = H5Sget_simple_extent_type(space);
    return c == H5S_SCALAR || (c == H5S_SIMPLE && H5Sget_simple_extent_npoints(space) == 1);
}

// A numeric attribute into *v (mtype), checked first: one element of an
// integer or float class. An attribute stored as an array would otherwise
// be read whole into the 8 bytes of *v.
static int get_scalar(hid_t obj, const char *name, hid_t mtype, void *v) {
    if (H5Aexists(obj, name) <= 0) return H5IO_ABSENT;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return CD_EFORMAT;
    hid_t s = H5Aget_space(a), t = H5Aget_type(a);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int rc = s >= 0 && one_element(s) && (cls == H5T_INTEGER || cls == H5T_FLOAT) ? CD_OK : CD_EFORMAT;
    if (!rc) {
        H5ioQuiet q = h5io_quiet_begin();   // a value out of the memory type's range fails here
        rc = H5Aread(a, mtype, v) >= 0 ? CD_OK : CD_EFORMAT;
        h5io_quiet_end(q);
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return rc;
}

int h5io_attr_get_i64(hid_t obj, const char *name, int64_t *v) {
    return get_scalar(obj, name, H5T_NATIVE_INT64, v) == CD_OK ? CD_OK : CD_EFORMAT;
}
int h5io_attr_get_f64(hid_t obj, const char *name, double *v) {
    return get_scalar(obj, name, H5T_NATIVE_DOUBLE, v) == CD_OK ? CD_OK : CD_EFORMAT;
}

// "/optimizer/steps" or "/format": where an attribute lives, for messages.
static void attr_where(hid_t obj, const char *name, char *out, size_t cap) {
    char o[256] = "";
    if (H5Iget_name(obj, o, sizeof o) < 0) o[0] = 0;
    snprintf(out, cap, "%s%s%s", o, strcmp(o, "/") && o[0] ? "/" : "", name);
}

// The checked readers below: rc of a getter turned into the message.
static int attr_said(hid_t obj, const char *path, const char *name, int rc, int required, const char *what) {
    if (rc == CD_OK || (rc == H5IO_ABSENT && !required)) return rc;
    char w[320];
    attr_where(obj, name, w, sizeof w);
    if (rc == H5IO_ABSENT)
        CD_ERR("%s: attribute %s is missing (HINT: a file of ours always has it; was it written by another "
               "program or damaged?)", path, w);
    else
        CD_ERR("%s: attribute %s is not %s (HINT: the file is damaged or was not written by this program)", path,
               w, what);
    return CD_EFORMAT;
}

static int attr_str(hid_t obj, const char *path, const char *name, char *out, size_t cap, int required) {
    char *v = NULL;
    if (cap) out[0] = 0;
    int rc = h5io_attr_string(obj, name, &v);
    if (rc == CD_OK && strlen(v) >= cap) {
        char w[320];
        attr_where(obj, name, w, sizeof w);
        CD_ERR("%s: attribute %s is %zu bytes long; at most %zu are read (HINT: the file is damaged or was "
               "not written by this program)", path, w, strlen(v), cap - 1);
        free(v);
        return CD_EFORMAT;
    }
    if (rc == CD_OK) snprintf(out, cap, "%s", v);
    free(v);
    return attr_said(obj, path, name, rc, required, "one string");
}

int h5io_attr_need_str(hid_t obj, const char *path, const char *name, char *out, size_t cap) {
    return attr_str(obj, path, name, out, cap, 1);
}
int h5io_attr_opt_str(hid_t obj, const char *path, const char *name, char *out, size_t cap) {
    return attr_str(obj, path, name, out, cap, 0);
}
int h5io_attr_need_i64(hid_t obj, const char *path, const char *name, int64_t *v) {
    return attr_said(obj, path, name, get_scalar(obj, name, H5T_NATIVE_INT64, v), 1, "one integer");
}
int h5io_attr_opt_i64(hid_t obj, const char *path, const char *name, int64_t *v) {
    return attr_said(obj, path, name, get_scalar(obj, name, H5T_NATIVE_INT64, v), 0, "one integer");
}
int h5io_attr_need_f64(hid_t obj, const char *path, const char *name, double *v) {
    return attr_said(obj, path, name, get_scalar(obj, name, H5T_NATIVE_DOUBLE, v), 1, "one number");
}

int h5io_check_format(hid_t f, const char *path, const char *format, int version, int64_t *ver,
                      const char *hint) {
    char fmt[64] = "";
    *ver = 0;
    if (h5io_attr_need_str(f, path, "format", fmt, sizeof fmt) || h5io_attr_need_i64(f, path, "format_version", ver)) {
        CD_ERR("%s: not a %s file of version %d (HINT: %s)", path, format, version, hint);
        return CD_EFORMAT;
    }
    if (strcmp(fmt, format) == 0 && *ver == version) return CD_OK;
    CD_ERR("%s: not a %s file of version %d (found format '%s' version %lld; HINT: %s)", path, format, version,
           fmt, (long long)*ver, hint);
    return CD_EFORMAT;
}

// ---------------------------------------------------------------------------
// Groups and datasets

hid_t h5io_group_create(hid_t loc, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

hid_t h5io_dset_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    // Early allocation: parallel HDF5 requires it. Never filled: what no
    // rank writes stays a hole of the file, which reads back as zeros
    // (h5io_prep_write_sample relies on it for a sample's padding).
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_obj_track_times(dcpl, 0);   // no timestamps: reruns give identical bytes
    hid_t ds = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(s);
    if (ds < 0) CD_ERR("HDF5: creating dataset %s failed", name);
    return ds;
}

int h5io_dset_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                    const void *data) {
    hid_t s = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = (ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? CD_OK : CD_EHDF5;
    if (!rc) {
        size_t bytes = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(mtype);
        rc = h5io_crc_put(ds, h5io_crc32(data, bytes));
    }
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(s);
    if (rc) CD_ERR("HDF5: writing %s failed", name);
    return rc;
}

int h5io_dset_write_strings(hid_t loc, const char *name, const char *const *v, int n) {
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
    int rc = h5io_dset_write(loc, name, t, t, 1, &dims, buf);
    H5Tclose(t);
    free(buf);
    return rc;
}

static const char *class_name(H5T_class_t c, int var_str) {
    return c == H5T_INTEGER ? "integer" : c == H5T_FLOAT ? "float" : c == H5T_STRING ? (var_str ? "variable-length string" : "string") : "other";
}

static void dims_text(char *out, size_t cap, int nd, const int64_t *d) {
    size_t l = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < nd && l < cap; i++)
        l += (size_t)snprintf(out + l, cap - l, i ? ", %lld" : "%lld", (long long)d[i]);
    if (l < cap) snprintf(out + l, cap - l, ")");
}

int h5io_dset_check(hid_t loc, const char *path, const char *name, H5T_class_t cls, int nd, int64_t *dims) {
    H5ioQuiet q = h5io_quiet_begin();
    hid_t ds = H5Lexists(loc, name, H5P_DEFAULT) > 0 ? H5Dopen2(loc, name, H5P_DEFAULT) : -1;
    h5io_quiet_end(q);
    char full[320] = "";
    if (ds < 0 || H5Iget_name(ds, full, sizeof full) < 0) snprintf(full, sizeof full, "%s", name);
    if (ds < 0) {
        CD_ERR("%s: no dataset %s (HINT: the file is damaged or was not written by this program)", path, full);
        return CD_EFORMAT;
    }
    hid_t s = H5Dget_space(ds), t = H5Dget_type(ds);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int var = c == H5T_STRING && H5Tis_variable_str(t) > 0;
    int fnd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hsize_t fd[H5S_MAX_RANK];
    int64_t got[H5S_MAX_RANK];
    H5S_class_t sc = s >= 0 ? H5Sget_simple_extent_type(s) : H5S_NO_CLASS;
    int ok = c == cls && !var && fnd == nd && sc == (nd ? H5S_SIMPLE : H5S_SCALAR);
    if (fnd > 0 && fnd <= H5S_MAX_RANK && H5Sget_simple_extent_dims(s, fd, NULL) == fnd)
        for (int i = 0; i < fnd; i++) got[i] = (int64_t)fd[i];
    else if (fnd != 0) ok = 0;
    for (int i = 0; ok && i < nd; i++)
        if (dims[i] >= 0 && dims[i] != got[i]) ok = 0;
    if (ok)
        for (int i = 0; i < nd; i++) dims[i] = got[i];
    else {
        char a[160] = "()", b[160];
        if (fnd > 0 && fnd <= H5S_MAX_RANK) dims_text(a, sizeof a, fnd, got);
        dims_text(b, sizeof b, nd, dims);
        for (char *p = b; (p = strstr(p, "-1")); ) { memmove(p + 1, p + 2, strlen(p + 2) + 1); *p = '*'; }
        CD_ERR("%s: dataset %s is %s %s, not %s %s (HINT: the file is damaged or was not written by this "
               "program)", path, full, class_name(c, var), a, class_name(cls, 0), b);
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(ds);
    return ok ? CD_OK : CD_EFORMAT;
}

// The bytes the whole of ds takes in memtype.
static size_t dset_bytes(hid_t ds, hid_t memtype) {
    hid_t s = H5Dget_space(ds);
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : 0;
    if (s >= 0) H5Sclose(s);
    return n > 0 ? (size_t)n * H5Tget_size(memtype) : 0;
}

// Callers name the file in their own message: the checksum's names it here.
// The file's elements must be of memtype's class and no wider than memtype's
// (numbers: at most 16 bytes, what a wider float or integer may take): a
// damaged datatype can claim elements of gigabytes, and H5Dread sizes its
// conversion buffer from that before it fails (2 GB for one fuzzed prep
// file), so such a dataset is refused before the read.
static int read_checked(hid_t ds, hid_t memtype, void *buf) {
    char path[4200] = "";
    hid_t ft = H5Dget_type(ds);
    size_t fsz = ft >= 0 ? H5Tget_size(ft) : 0, msz = H5Tget_size(memtype);
    int same = ft >= 0 && H5Tget_class(ft) == H5Tget_class(memtype);
    if (ft >= 0) H5Tclose(ft);
    if (!same || fsz == 0 || fsz > (msz > 16 ? msz : 16)) return CD_EFORMAT;
    if (H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) return CD_EHDF5;
    if (H5Fget_name(ds, path, sizeof path) < 0) snprintf(path, sizeof path, "(an HDF5 file)");
    return h5io_crc_check(ds, path, buf, dset_bytes(ds, memtype));
}

int h5io_dset_read(hid_t loc, const char *name, hid_t memtype, void *buf) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    int rc = ds >= 0 ? read_checked(ds, memtype, buf) : CD_EHDF5;
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

int h5io_dset_read_n(hid_t loc, const char *name, hid_t memtype, int64_t want, void *buf) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rc = ds < 0 || H5Sget_simple_extent_npoints(sp) != (hssize_t)want || read_checked(ds, memtype, buf)
                 ? CD_EFORMAT : CD_OK;
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

int h5io_dset_dims(hid_t loc, const char *name, hsize_t dims[2]) {
    dims[0] = dims[1] = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t s = ds >= 0 ? H5Dget_space(ds) : -1;
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (r >= 1 && r <= 2) H5Sget_simple_extent_dims(s, dims, NULL);
    else r = -1;
    if (s >= 0) H5Sclose(s);
    if (ds >= 0) H5Dclose(ds);
    return r;
}

int h5io_dset_read_strings(hid_t loc, const char *name, int64_t n, char **out, int *len) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t t = ds >= 0 ? H5Dget_type(ds) : -1;
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rc = CD_EFORMAT;
    *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && sp >= 0 &&
        H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_npoints(sp) == (hssize_t)n) {
        size_t sz = H5Tget_size(t);
        char *raw = cd_calloc((size_t)n ? (size_t)n : 1, sz);
        char *rows = cd_calloc((size_t)n ? (size_t)n : 1, sz + 1);
        if (!raw || !rows) rc = CD_ENOMEM;
        else if (read_checked(ds, t, raw) == CD_OK) {
            for (int64_t i = 0; i < n; i++) memcpy(rows + (size_t)i * (sz + 1), raw + (size_t)i * sz, sz);
            *out = rows;
            rows = NULL;
            *len = (int)sz;
            rc = CD_OK;
        }
        free(raw);
        free(rows);
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

// Collective: rank 0's CRC of the whole of ds (bytes in memtype) on every rank.
static int put_crc_rank0(const Dist *d, hid_t ds, hid_t memtype, const void *data) {
    uint32_t crc = d->rank == 0 ? h5io_crc32(data, dset_bytes(ds, memtype)) : 0;
    int rc = dist_bcast_bytes(d, &crc, sizeof crc, 0);
    return rc ? rc : h5io_crc_put(ds, crc);
}

int h5io_write_rank0(const Dist *d, hid_t ds, hid_t memtype, const void *data) {
    hid_t fs = H5Dget_space(ds);
    if (H5Sget_simple_extent_npoints(fs) == 0) {   // no storage to write
        H5Sclose(fs);
        return dist_agree(d, put_crc_rank0(d, ds, memtype, data));
    }
    hid_t ms = H5Scopy(fs);
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
    // Rank 0's write can fail alone (a full disk): every rank must take the
    // same path after it, or the next collective call hangs.
    int rc = dist_agree(d, r < 0 ? CD_EHDF5 : CD_OK);
    return rc ? rc : dist_agree(d, put_crc_rank0(d, ds, memtype, data));
}
