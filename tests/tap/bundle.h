// bundle.h - reading the named-tensor bundles the reference scripts write
// (format in scripts/ref/make_ctrgcn_reference.py): "CDTB", u32 version,
// u32 count, then name, dtype (0 float32, 1 int64), ndim, u64 dims, data.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct BundleTensor {
    char name[128];
    int dtype, ndim;
    int64_t dims[8];
    size_t numel;
    void *data;
} BundleTensor;

typedef struct Bundle {
    int n;
    BundleTensor *t;
} Bundle;

int bundle_load(const char *path, Bundle *b);   // 0 ok, -1 error (message on stderr)
const BundleTensor *bundle_find(const Bundle *b, const char *name);
void bundle_free(Bundle *b);
