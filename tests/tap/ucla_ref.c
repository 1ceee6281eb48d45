// ucla_ref.c - the NW-UCLA reference tables (ucla_ref.h).
#include "tap/ucla_ref.h"

#include <stdio.h>
#include <string.h>

#include "tap/tap.h"

UclaRefEntry *ucla_ref_find(UclaRefEntry *e, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strncmp(e[i].name, name, sizeof e[i].name)) return &e[i];
    return NULL;
}

int ucla_ref_tables(const char *dir, UclaRefEntry *E) {
    char path[4200], line[512], split[8], name[32];
    int n = 0, idx, frames;
    snprintf(path, sizeof path, "%s/split.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) bail("no %s (HINT: scripts/ref/make_ucla_reference.py)", path);
    while (fgets(line, sizeof line, f))
        if (line[0] != '#') {
            if (n == UCLA_REF_N) bail("%s: more than %d rows", path, UCLA_REF_N);
            UclaRefEntry *e = &E[n++];
            memset(e, 0, sizeof *e);
            if (sscanf(line, "%d %15s %7s %d %d", &idx, e->name, split, &e->label, &e->frames) != 5)
                bail("%s: bad row %s", path, line);
            e->split = !strcmp(split, "val");
        }
    fclose(f);
    snprintf(path, sizeof path, "%s/test-sha256.tsv", dir);
    if (!(f = fopen(path, "r"))) bail("no %s", path);
    while (fgets(line, sizeof line, f)) {
        char s[4][65];
        if (line[0] == '#') continue;
        if (sscanf(line, "%31s %d %64s %64s %64s %64s", name, &frames, s[0], s[1], s[2], s[3]) != 6)
            bail("%s: bad row %s", path, line);
        UclaRefEntry *e = ucla_ref_find(E, n, name);
        if (!e || !e->split || e->frames != frames) bail("%s: %s is not a val entry of split.tsv", path, name);
        memcpy(e->sha, s, sizeof s);
    }
    fclose(f);
    return n;
}
