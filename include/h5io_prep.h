// h5io_prep.h - prepared-skeleton files (cocodiff-prep's output), one per
// benchmark split. Part of the h5io module (src/io/h5io_*.c, the only files
// that include hdf5.h).
//   /            attrs: format="cocodiff-skeletons", format_version, dataset,
//                benchmark, layout, num_joints, num_class, sources,
//                samples ("padded" or "sequences"; absent: padded),
//                num_person (the feeder's M; absent: 2)
//   /train, /test (Kinetics: val is /test), each with
//     label   int32 (N)                    0-based class
//     name    fixed-length string (N)      sample name, sorted ascending
//   padded samples (NTU, Kinetics):
//     x       float32 (N, 3, 300, V, 2)   the CTR-GCN feeder's (C, T, V, M)
//     frames  int32 (N)                    frames that are not all zero (a count,
//                                          not a length: Kinetics clips have gaps)
//   raw sequences (NW-UCLA: the official feeder transforms each whole):
//     seq     float64 (F, V, 3)            every sample's frames as recorded,
//                                          one sample after the other
//     offset  int64 (N)                    the sample's first row of seq
//     frames  int32 (N)                    its length T >= 1 (rows of seq)
//   /class_name (optional) K fixed-length strings: the class names (prep
//                writes the dataset's shipped list, dataset.h)
//
// Written collectively with parallel HDF5 (h5io_prep_create ... _close);
// read serially, on any rank, through a reader that keeps the file open:
//
//   H5PrepReader *r;
//   if (h5io_prep_reader_open(&r, path)) ...            // checks the format
//   const H5PrepInfo *info = h5io_prep_reader_info(r);
//   h5io_prep_reader_read(r, 0, first, count, x, label, NULL, NULL);
//   h5io_prep_reader_close(r);
//
// defines: H5PrepSpec, H5PrepFile, h5io_prep_create/_write_meta/_write_sample/_write_seq/_close,
//          H5PrepInfo, H5PrepReader, h5io_prep_reader_*, h5io_prep_info, h5io_prep_read,
//          h5io_prep_class_names, h5io_strings_free
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

#define H5IO_FORMAT "cocodiff-skeletons"
#define H5IO_FORMAT_VERSION 1

typedef struct H5PrepSpec {
    const char *dataset;     // "ntu60", "ntu120", "kinetics"
    const char *benchmark;   // "ntu60-xsub", ...
    const char *layout;      // the SkelLayout's name (skeleton.h)
    int V;                   // joints
    int num_class;
    int name_len;            // bytes per name, NUL padding included
    int64_t n[2];            // samples in /train and /test
    const char *sources;     // one "sha256  size  path" line per input archive
    const char *const *class_names;   // num_class names for /class_name, or NULL (none written)
    int M;                   // num_person (0: SKEL_M)
    int64_t rows[2];         // raw sequences: frames of /train and /test in all; 0 and 0: padded
    int seq;                 // 1: raw sequences
} H5PrepSpec;

typedef struct H5PrepFile H5PrepFile;

// Collective: creates the file (truncating) with both groups and datasets.
int h5io_prep_create(H5PrepFile **f, const Dist *d, const char *path, const H5PrepSpec *spec);
// Collective: label/frames/names (and offset, raw sequences only; else
// NULL) of a whole group, given on every rank (rank 0 writes them).
// names: n * name_len bytes.
int h5io_prep_write_meta(H5PrepFile *f, int group, const int32_t *label, const int32_t *frames,
                         const char *names, const int64_t *offset);
// Independent: one sample, given as its first `span` (T, M, V, C) frames
// (skel_span: a length, never the count of non-empty frames, 0..300); the
// rest of its 300 frames read back as zeros (they are left unwritten: the
// file starts empty and is never filled, so they are holes). *crc is the
// padded sample's CRC-32 as stored: computed into *crc, or given there
// (crc_known) by a write of the same sample into another benchmark file.
int h5io_prep_write_sample(H5PrepFile *f, int group, int64_t index, const float *tmvc, int span, uint32_t *crc,
                           int crc_known);
// Independent, raw sequences: one sample's T frames (T, V, 3) at rows
// [row, row + T) of the group's seq (row: its offset).
int h5io_prep_write_seq(H5PrepFile *f, int group, int64_t row, const double *tvc, int T);
// Collective: closes; returns the first error any rank saw while writing.
int h5io_prep_close(H5PrepFile *f);

// ---------------------------------------------------------------------------
// Reading (serial, any rank): for tests, eval and training.
typedef struct H5PrepInfo {
    char dataset[32], benchmark[32], layout[32];
    int V, num_class, format_version;
    int64_t n[2];
    int name_len;
    int M;                   // num_person
    int seq;                 // 1: raw sequences (seq, offset), 0: padded (x)
    int64_t rows[2];         // raw sequences: rows of /train/seq and /test/seq
} H5PrepInfo;

typedef struct H5PrepReader H5PrepReader;

// Opens path and reads its header (format, version, attributes, the group
// sizes). CD_OK; CD_EIO (cannot open as HDF5), CD_EFORMAT (not a prep file
// of this version, missing attributes or datasets), CD_ENOMEM; each with a
// message naming the file. *r = NULL on failure.
int h5io_prep_reader_open(H5PrepReader **r, const char *path);
const H5PrepInfo *h5io_prep_reader_info(const H5PrepReader *r);
// Reads samples [first, first+count) of a group (0 train, 1 test): x as
// (count, 3, 300, V, 2) (padded files only: CD_EARG for raw sequences);
// any of x/label/frames/names may be NULL. names: count * info.name_len
// bytes. A Reader is not thread-safe.
int h5io_prep_reader_read(H5PrepReader *r, int group, int64_t first, int64_t count, float *x,
                          int32_t *label, int32_t *frames, char *names);
// Raw-sequence files: offsets of samples [first, first+count), and rows
// [row, row + nrows) of seq as (nrows, V, 3) float64. CD_EARG on a padded file.
int h5io_prep_reader_read_offsets(H5PrepReader *r, int group, int64_t first, int64_t count, int64_t *offset);
int h5io_prep_reader_read_seq(H5PrepReader *r, int group, int64_t row, int64_t nrows, double *out);
void h5io_prep_reader_close(H5PrepReader *r);   // NULL is fine

// One-shot forms of the above (open, read, close).
int h5io_prep_info(const char *path, H5PrepInfo *info);
int h5io_prep_read(const char *path, int group, int64_t first, int64_t count, float *x,
                   int32_t *label, int32_t *frames, char *names);

// Class names a prep file may carry as /class_name (K fixed-length strings).
// *names = K malloc'ed strings (free with h5io_strings_free) and *n = K;
// *names = NULL and *n = 0 when the file has none. CD_OK or CD_EIO/CD_EFORMAT.
int h5io_prep_class_names(const char *path, char ***names, int *n);
void h5io_strings_free(char **v, int n);
