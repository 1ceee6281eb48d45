// h5io_util.h - private helpers of the h5io module (src/io/h5io_*.c, the
// only files that include hdf5.h): opening and creating files, attributes,
// datasets and groups the way every format of ours writes them (no
// timestamps, so reruns give identical bytes), and the "format" /
// "format_version" check. Not a public header: it lives next to its .c files.
#pragma once
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

// Says which call failed (HDF5's own stack shows only with --verbose).
#define H5IO_CHECK(expr, what)                                           \
    do {                                                                 \
        if ((expr) < 0) { CD_ERR("HDF5: %s failed", what); goto fail; } \
    } while (0)

// --- files ------------------------------------------------------------------

// Opens read-only without HDF5's error stack on stderr (the caller says what
// went wrong; with --verbose HDF5 says why too). Negative when it cannot.
hid_t h5io_open_quiet(const char *path);
// Creates for one writer, in memory (the core driver): nothing is on disk
// until h5io_end_write writes the image to path. Negative on failure.
hid_t h5io_create_serial(const char *path);
// Collective: creates (truncating) for parallel writes over d's ranks
// (MPI-IO, collective metadata). Negative on failure.
hid_t h5io_create_mpio(const char *path, const Dist *d);
// Ends writing the file f created at partial, whose writes so far gave rc.
// Serial (h5io_create_serial, d NULL): the image is written to partial in
// one checked write (removed when it fails: a full disk says so, naming
// partial). Parallel (h5io_create_mpio over d, collective): the ranks agree
// on rc first, then flush. A close whose flush fails (a full disk) leaves
// HDF5 with a half-closed file it crashes on at exit, in MPI_Finalize; so a
// failed file is truncated to nothing first (its room frees the flush), then
// closed and removed: nothing is left under either name. One message naming
// partial and the reason (rank 0). Returns the agreed status (CD_EIO for a
// failed flush or close).
int h5io_end_write(hid_t f, const char *partial, int rc, const Dist *d);
// Why a write or create at path failed: strerror(err) for an I/O errno,
// "No space left on device" when path's file system has under 1 MiB left,
// else a hint to run with --verbose.
const char *h5io_write_reason(const char *path, int err);
// Runs HDF5 calls without its error stack: save the handler, call, restore.
typedef struct H5ioQuiet { H5E_auto2_t fn; void *data; } H5ioQuiet;
H5ioQuiet h5io_quiet_begin(void);
void h5io_quiet_end(H5ioQuiet q);

// --- checksums ----------------------------------------------------------------
// Every file we create carries the root attribute checksums = "crc32", and
// every dataset in it a "crc32" attribute: zlib's CRC-32 of its elements'
// bytes in the writer's memory type, row-major (prep's padded samples also
// a per-row list, GROUP/x_crc32). Readers check what they read; in a file
// that promises checksums a missing one is an error too. Files of others
// (converted checkpoints, older files) have none and are read as before.
uint32_t h5io_crc32(const void *buf, size_t n);
// The CRC of what crc covered followed by buf's n bytes.
uint32_t h5io_crc32_more(uint32_t crc, const void *buf, size_t n);
// The CRC of A then B from crc(A), crc(B) and B's length.
uint32_t h5io_crc32_combine(uint32_t a, uint32_t b, size_t blen);
// Writes ds's "crc32" attribute (collective for a parallel file: the same
// value on every rank). CD_OK or CD_EHDF5.
int h5io_crc_put(hid_t ds, uint32_t crc);
// After reading the whole of ds into buf (n bytes): CD_OK when it matches,
// or when neither ds nor its file has a checksum; else CD_EFORMAT with a
// message naming path and the dataset.
int h5io_crc_check(hid_t ds, const char *path, const void *buf, size_t n);
// ds's stored checksum into *crc: 1, 0 when it has none (an error, said,
// in a file that promises them: CD_EFORMAT).
int h5io_crc_get(hid_t ds, const char *path, uint32_t *crc);

// --- attributes ---------------------------------------------------------------

// Scalar attributes: a NUL-terminated string of its own length, int64 or
// float64. CD_OK or CD_EHDF5 (string and int say which one failed).
int h5io_attr_put_str(hid_t obj, const char *name, const char *value);
int h5io_attr_put_i64(hid_t obj, const char *name, int64_t v);
int h5io_attr_put_f64(hid_t obj, const char *name, double v);
// A string attribute of either kind HDF5 has: fixed-length (what we write,
// h5py's np.bytes_) or variable-length (h5py's default for a Python str),
// ASCII or UTF-8, scalar or a one-element array; malloc'ed into *out. CD_OK;
// H5IO_ABSENT (*out NULL, no message) when there is no such attribute;
// CD_EFORMAT (*out NULL, no message) when it is there but not one string.
#define H5IO_ABSENT 1
int h5io_attr_string(hid_t obj, const char *name, char **out);
// h5io_attr_string into out (truncated): CD_OK, or CD_EFORMAT when absent or
// not a string (out is then "").
int h5io_attr_get_str(hid_t obj, const char *name, char *out, size_t cap);
// Numeric scalar attributes converted to int64 / double: one element (a
// scalar or a one-element array) of an integer or float class, checked
// before it is read. CD_OK or CD_EFORMAT (no message).
int h5io_attr_get_i64(hid_t obj, const char *name, int64_t *v);
int h5io_attr_get_f64(hid_t obj, const char *name, double *v);
// The readers' forms: path names the file in the message. _need: CD_OK, or
// CD_EFORMAT with a message when the attribute is missing, not one value of
// its kind or (strings) longer than cap - 1 bytes. _opt: the same, except
// that a missing attribute is H5IO_ABSENT without a message (out untouched
// but strings, which are then "").
int h5io_attr_need_str(hid_t obj, const char *path, const char *name, char *out, size_t cap);
int h5io_attr_opt_str(hid_t obj, const char *path, const char *name, char *out, size_t cap);
int h5io_attr_need_i64(hid_t obj, const char *path, const char *name, int64_t *v);
int h5io_attr_opt_i64(hid_t obj, const char *path, const char *name, int64_t *v);
int h5io_attr_need_f64(hid_t obj, const char *path, const char *name, double *v);
// The "format" and "format_version" attributes every file of ours carries:
// CD_OK, or CD_EFORMAT with a message naming path, what was found and hint.
// *ver gets the version found (0 when absent).
int h5io_check_format(hid_t f, const char *path, const char *format, int version, int64_t *ver,
                      const char *hint);

// --- groups and datasets ------------------------------------------------------

// A group without timestamps. Negative on failure.
hid_t h5io_group_create(hid_t loc, const char *name);
// A dataset for parallel writes: storage allocated at creation, never
// filled, no timestamps. Negative (with a message) on failure.
hid_t h5io_dset_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims);
// Creates and writes a whole dataset (no timestamps): CD_OK or CD_EHDF5.
int h5io_dset_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                    const void *data);
// n strings as a dataset of fixed-length UTF-8 strings (NUL padded, as long
// as the longest plus one). CD_OK, CD_ENOMEM or CD_EHDF5.
int h5io_dset_write_strings(hid_t loc, const char *name, const char *const *v, int n);
// Checks a dataset before it is read: present, of class cls (H5T_INTEGER,
// H5T_FLOAT, or H5T_STRING: fixed-length), of rank nd and, for each
// dims[i] >= 0, of that size (a -1 is filled in with the file's). CD_OK, or
// CD_EFORMAT with a message naming path, the dataset, what it is and what
// was wanted.
int h5io_dset_check(hid_t loc, const char *path, const char *name, H5T_class_t cls, int nd, int64_t *dims);
// Reads a whole dataset: CD_OK or CD_EHDF5.
int h5io_dset_read(hid_t loc, const char *name, hid_t memtype, void *buf);
// Reads a whole dataset of exactly `want` values: CD_OK, or CD_EFORMAT when
// it is missing, of another size or unreadable (no message).
int h5io_dset_read_n(hid_t loc, const char *name, hid_t memtype, int64_t want, void *buf);
// The dims of a dataset of rank 1 or 2 (the rank is returned), -1 when it is
// missing or of another rank.
int h5io_dset_dims(hid_t loc, const char *name, hsize_t dims[2]);
// A dataset of n fixed-length strings (rank 1, n of them: else CD_EFORMAT) into rows of (file length + 1) bytes,
// each NUL-terminated: *out malloc'ed, *len = the file's length. CD_OK,
// CD_EFORMAT (not fixed-length strings, unreadable) or CD_ENOMEM.
int h5io_dset_read_strings(hid_t loc, const char *name, int64_t n, char **out, int *len);
// Collective write of the whole of ds from rank 0's data (the other ranks
// select nothing). An empty dataset is CD_OK without a write (every rank
// knows its size). CD_OK or CD_EHDF5.
int h5io_write_rank0(const Dist *d, hid_t ds, hid_t memtype, const void *data);
