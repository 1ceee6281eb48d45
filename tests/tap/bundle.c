// bundle.c - the named-tensor bundle reader (see bundle.h).
#include "tap/bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bundle_load(const char *path, Bundle *b) {
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "# cannot open %s\n", path); return -1; }
    char magic[4];
    uint32_t ver, n;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "CDTB", 4) || fread(&ver, 4, 1, f) != 1 || ver != 1 ||
        fread(&n, 4, 1, f) != 1 || n > 100000) {
        fprintf(stderr, "# %s: not a tensor bundle\n", path);
        fclose(f);
        return -1;
    }
    b->t = calloc(n, sizeof *b->t);
    for (uint32_t i = 0; b->t && i < n; i++) {
        BundleTensor *t = &b->t[i];
        uint32_t len, dt, nd;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof t->name || fread(t->name, 1, len, f) != len ||
            fread(&dt, 4, 1, f) != 1 || fread(&nd, 4, 1, f) != 1 || nd > 8) goto bad;
        t->dtype = (int)dt;
        t->ndim = (int)nd;
        t->numel = 1;
        for (uint32_t k = 0; k < nd; k++) {
            uint64_t d;
            if (fread(&d, 8, 1, f) != 1) goto bad;
            t->dims[k] = (int64_t)d;
            t->numel *= d;
        }
        size_t esz = dt == 1 ? 8 : 4;
        t->data = malloc(t->numel * esz + 1);
        if (!t->data || fread(t->data, esz, t->numel, f) != t->numel) goto bad;
        b->n++;
    }
    fclose(f);
    return 0;
bad:
    fprintf(stderr, "# %s: truncated or corrupt at tensor %d\n", path, b->n);
    fclose(f);
    bundle_free(b);
    return -1;
}

const BundleTensor *bundle_find(const Bundle *b, const char *name) {
    for (int i = 0; i < b->n; i++) if (!strcmp(b->t[i].name, name)) return &b->t[i];
    return NULL;
}

void bundle_free(Bundle *b) {
    for (int i = 0; i < b->n; i++) free(b->t[i].data);
    free(b->t);
    memset(b, 0, sizeof *b);
}
