// safetensors.h - reader (and a small writer) for the safetensors format.
//
// Format: u64 little-endian header length N, then N bytes of JSON
//   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [..],
//    "data_offsets": [begin, end]}, ...}
// then the raw little-endian data; offsets are relative to byte 8 + N.
// The reader maps the file (mmap) and checks every entry up front: dtype
// known, shape non-negative, end - begin == numel * dtype size, the data
// inside the file. Errors name the file and what is wrong, in `why`.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 8

typedef struct SafeTensor {
    const char *name;
    char dtype[12];                        // "F32", "F16", "BF16", "I64", ...
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    const unsigned char *data;             // into the mapping, maybe unaligned
} SafeTensor;

typedef struct SafeTensors SafeTensors;

// Opens and validates `path`. Returns CD_OK, CD_EIO (cannot open/map) or
// CD_EFORMAT (bad header/entries); on error *st is NULL and why is filled.
int safetensors_open(SafeTensors **st, const char *path, char *why, size_t whylen);
void safetensors_close(SafeTensors *st);   // NULL is fine

const char *safetensors_path(const SafeTensors *st);
int safetensors_count(const SafeTensors *st);
const SafeTensor *safetensors_at(const SafeTensors *st, int i);       // file order
const SafeTensor *safetensors_find(const SafeTensors *st, const char *name);  // NULL if absent
// A string value of __metadata__, or NULL.
const char *safetensors_metadata(const SafeTensors *st, const char *key);

// Checks that tensor `name` exists, is F32/F16/BF16 and has `ndim` dims equal
// to shape[] (an entry -1 matches any size and is filled in). CD_OK, or
// CD_EFORMAT with why = "<file>: tensor '<name>' ...".
int safetensors_check_f32(const SafeTensors *st, const char *name, int ndim, int64_t *shape,
                          char *why, size_t whylen);
// safetensors_check_f32, then copies the tensor into out[numel] as float32
// (F16 and BF16 are converted exactly).
int safetensors_read_f32(const SafeTensors *st, const char *name, int ndim, int64_t *shape,
                         float *out, char *why, size_t whylen);

// Conversions (exact; NaN/Inf/subnormals kept).
float safetensors_f16_to_f32(uint16_t h);
float safetensors_bf16_to_f32(uint16_t b);

// Writer: one entry per tensor, data in the dtype's little-endian layout
// (this host's layout; the writer refuses big-endian hosts). `meta` is
// NULL or a NULL-terminated list of key, value strings for __metadata__.
typedef struct SafeTensorsEntry {
    const char *name, *dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} SafeTensorsEntry;
int safetensors_write(const char *path, int n, const SafeTensorsEntry *entries,
                      const char *const *meta);
