// ref.h - the reference-tensor files (.ref) the scripts in scripts/ref write
// for the layer tests: a sequence of tensors, each an int32 header (magic
// 20261125, version 1, ndim), int32 dims, then float32 data.
#pragma once
#include <stddef.h>

#define REF_MAGIC 20261125
#define REF_VERSION 1
#define REF_MAX_TENSORS 32

typedef struct Ref {
    int count;
    float *t[REF_MAX_TENSORS];
    size_t n[REF_MAX_TENSORS];
} Ref;

// Reads every tensor of DIR/NAME.ref; 0 on success, -1 (with a diag naming
// the file and, when absent, the script that makes it) otherwise.
int ref_load_file(Ref *r, const char *dir, const char *name, const char *script);
void ref_free(Ref *r);

// A file holding one tensor of ndim dimensions (the prep reference files):
// returns its data (malloc'ed) and fills dims; NULL if absent or malformed.
float *ref_read_single(const char *path, int ndim, int *dims);

// One sample of scripts/ref/make_prep_reference.py's output in DIR
// (tests/data/ref) as cocodiff-prep's HDF5 file holds it: (3, 300, V, 2) =
// (C, T, V, M), zero after the reference's frames. dataset: "ntu60",
// "ntu120" (its own file where NTU120 differs, else NTU60's) or "kinetics";
// name: sample name or clip id. *V = 25 or 18; *span = the frames the file
// holds (NTU rows, Kinetics F). NULL, with a diag, if absent or malformed.
float *ref_prep_sample(const char *dir, const char *dataset, const char *name, int *V, int *span);
