// ref.c - reading .ref reference-tensor files (see ref.h).
#include "tap/ref.h"
#include "tap/tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ref_free(Ref *r) {
    for (int i = 0; i < r->count; i++) free(r->t[i]);
    r->count = 0;
}

int ref_load_file(Ref *r, const char *dir, const char *name, const char *script) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ref", dir, name);
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag("cannot open %s (HINT: /usr/bin/python3 %s, see %s/README.md)", path, script, dir);
        return -1;
    }
    int32_t h[3];
    while (fread(h, sizeof(int32_t), 3, f) == 3) {
        if (h[0] != REF_MAGIC || h[1] != REF_VERSION || h[2] < 0 || h[2] > 8 || r->count == REF_MAX_TENSORS) {
            diag("%s: tensor %d: bad header (magic %d version %d ndim %d)", path, r->count, h[0], h[1], h[2]);
            goto fail;
        }
        int32_t dims[8];
        size_t n = 1;
        if (fread(dims, sizeof(int32_t), (size_t)h[2], f) != (size_t)h[2]) goto trunc;
        for (int i = 0; i < h[2]; i++) n *= (size_t)dims[i];
        float *t = malloc(sizeof(float) * (n ? n : 1));
        if (!t) bail("out of memory");
        r->t[r->count] = t;
        r->n[r->count++] = n;
        if (fread(t, sizeof(float), n, f) != n) goto trunc;
    }
    fclose(f);
    return 0;
trunc:
    diag("%s: truncated at tensor %d", path, r->count);
fail:
    fclose(f);
    ref_free(r);
    return -1;
}

float *ref_read_single(const char *path, int ndim, int *dims) {
    size_t len;
    char *buf = tap_slurp(path, &len);
    if (!buf) return NULL;
    int32_t h[3 + 8];
    size_t hlen = (size_t)(3 + ndim) * sizeof(int32_t);
    float *data = NULL;
    if (ndim <= 8 && len >= hlen) {
        memcpy(h, buf, hlen);
        size_t n = 1;
        for (int i = 0; i < ndim; i++) n *= (size_t)(dims[i] = h[3 + i]);
        if (h[0] == REF_MAGIC && h[1] == REF_VERSION && h[2] == ndim &&
            len == hlen + n * sizeof(float) && (data = malloc(n * sizeof(float) + 1)))
            memcpy(data, buf + hlen, n * sizeof(float));
        else if (h[0] != REF_MAGIC)
            diag("%s: bad magic %d (HINT: regenerate with scripts/ref/make_prep_reference.py)", path, h[0]);
    }
    free(buf);
    return data;
}

float *ref_prep_sample(const char *dir, const char *dataset, const char *name, int *V, int *span) {
    enum { T = 300, M = 2, C = 3 };
    char path[4200];
    int kin = strcmp(dataset, "kinetics") == 0, dims[4] = {0};
    float *r = NULL;
    if (strcmp(dataset, "ntu120") == 0) {   // only where NTU120 differs from NTU60
        snprintf(path, sizeof path, "%s/ntu120_%s.ref", dir, name);
        FILE *f = fopen(path, "rb");
        if (f) fclose(f);
        else dataset = "ntu60";
    }
    snprintf(path, sizeof path, "%s/%s_%s.ref", dir, kin ? "kinetics" : dataset, name);
    r = ref_read_single(path, kin ? 4 : 2, dims);
    int v = kin ? 18 : 25, F = kin ? dims[1] : dims[0];
    if (!r || F < 0 || F > T || (kin ? dims[0] != C || dims[2] != v || dims[3] != M : dims[1] != M * v * C)) {
        diag("%s: missing or malformed (HINT: scripts/ref/make_prep_reference.py, see %s/README.md)", path, dir);
        free(r);
        return NULL;
    }
    float *x = calloc((size_t)C * T * v * M, sizeof(float));
    if (!x) bail("out of memory");
    for (int c = 0; c < C; c++)
        for (int t = 0; t < F; t++)
            for (int j = 0; j < v; j++)
                for (int m = 0; m < M; m++)
                    // Kinetics (C, F, V, M); NTU rows (F, m*75 + v*3 + c)
                    x[(((size_t)c * T + t) * v + j) * M + m] =
                        kin ? r[(((size_t)c * F + t) * v + j) * M + m]
                            : r[(size_t)t * M * v * C + (size_t)m * v * C + (size_t)j * C + c];
    free(r);
    *V = v;
    *span = F;
    return x;
}
