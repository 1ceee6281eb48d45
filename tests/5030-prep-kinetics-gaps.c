// 5030-prep-kinetics-gaps.c - cocodiff-prep stores every Kinetics clip whole,
// empty frames between non-empty ones included, on 1 and 2 ranks. Synthetic
// clips (bin/cocodiff-synth: cut-aways and ~3% empty frames) so it runs
// without the real data: each stored (3, 300, 18, 2) tensor must equal
// kinetics_prepare on the same archive member (the function the real-clip
// tests compare with ST-GCN), /frames must be its count of non-empty frames.
// Regression: prep once kept only as many LEADING frames as a clip has
// non-empty ones, cutting everything after the first gap.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_in.h"
#include "h5io_prep.h"
#include "kinetics.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

#define CLIPS 60
enum { C = SKEL_C, T = SKEL_T, V = KINETICS_V, M = SKEL_M };
#define NX ((size_t)C * T * V * M)

typedef struct Group {
    int64_t n;
    int name_len;
    char *names;
    int32_t *frames;
    float *x;
    int *seen;
} Group;

static void read_group(const char *path, const H5PrepInfo *info, int g, Group *gr) {
    gr->n = info->n[g];
    gr->name_len = info->name_len;
    size_t n = (size_t)(gr->n ? gr->n : 1);
    gr->names = calloc(n, (size_t)info->name_len + 1);
    gr->frames = calloc(n, sizeof *gr->frames);
    gr->x = malloc(n * NX * sizeof(float));
    gr->seen = calloc(n, sizeof *gr->seen);
    if (!gr->names || !gr->frames || !gr->x || !gr->seen) bail("out of memory");
    if (gr->n && h5io_prep_read(path, g, 0, gr->n, gr->x, NULL, gr->frames, gr->names))
        bail("%s: cannot read group %d", path, g);
}

static int64_t find(const Group *gr, const char *id) {
    for (int64_t i = 0; i < gr->n; i++)
        if (strncmp(gr->names + i * gr->name_len, id, (size_t)gr->name_len) == 0) return i;
    return -1;
}

int main(void) {
    if (access("bin/cocodiff-synth", X_OK) || access("bin/cocodiff-prep", X_OK))
        skip_all("bin/cocodiff-synth or bin/cocodiff-prep not built (run make)");
    plan(7);
    const char *D = tap_tmpdir();
    char cmd[20000], zip[4200], h1[4200], h2[4200];
    snprintf(zip, sizeof zip, "%s/kin.zip", D);
    snprintf(h1, sizeof h1, "%s/o1/kinetics.h5", D);
    snprintf(h2, sizeof h2, "%s/o2/kinetics.h5", D);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    snprintf(cmd, sizeof cmd, "bin/cocodiff-synth --format kinetics --samples %d --seed 5 --quiet --out %s "
             ">%s/log 2>&1 && bin/cocodiff-prep --dataset kinetics --input %s --out %s/o1 >>%s/log 2>&1",
             CLIPS, zip, D, zip, D, D);
    ok(system(cmd) == 0, "synth clips through cocodiff-prep on 1 rank");
    snprintf(cmd, sizeof cmd, "mpirun -np 2 --oversubscribe bin/cocodiff-prep --dataset kinetics --input %s "
             "--out %s/o2 >>%s/log 2>&1", zip, D, D);
    ok(system(cmd) == 0, "... and on 2 ranks");
    ok(tap_same_file(h1, h2), "1 and 2 ranks write byte-identical files");

    H5PrepInfo info;
    if (h5io_prep_info(h1, &info) != CD_OK) bail("%s: not readable (see %s/log)", h1, D);
    Group gr[2];
    for (int g = 0; g < 2; g++) read_group(h1, &info, g, &gr[g]);

    ArchiveIn *a = NULL;
    if (archive_in_open(&a, zip) != CD_OK) bail("cannot open %s", zip);
    float *tmvc = malloc(NX * sizeof(float)), *want = malloc(NX * sizeof(float));
    char *buf = NULL, why[512];
    size_t cap = 0, len;
    int clips = 0, stored = 0, differ = 0, bad_frames = 0, gapped = 0;
    const char *member;
    int64_t size;
    int is_file;
    while (archive_in_next(a, &member, &size, &is_file) == CD_OK) {
        int g = strncmp(member, "kinetics_train/", 15) == 0 ? 0 : strncmp(member, "kinetics_val/", 13) == 0 ? 1 : -1;
        if (!is_file || g < 0) continue;
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(strchr(member, '/') + 1) - 5), strchr(member, '/') + 1);
        if (archive_in_read(a, &buf, &cap, &len, SIZE_MAX, why, sizeof why) != CD_OK) bail("%s: %s", member, why);
        int label, frames;
        if (kinetics_prepare(buf, len, tmvc, &label, &frames, why, sizeof why) != CD_OK) bail("%s: %s", member, why);
        int64_t i = find(&gr[g], id);
        if (frames == 0 && i < 0) continue;   // has_skeleton false: excluded, as the reference does
        clips++;
        if (i < 0) continue;
        stored++;
        gr[g].seen[i]++;
        // (T, M, V, C) -> (C, T, V, M), the stored layout.
        for (int t = 0; t < T; t++)
            for (int m = 0; m < M; m++)
                for (int v = 0; v < V; v++)
                    for (int c = 0; c < C; c++)
                        want[(((size_t)c * T + t) * V + v) * M + m] = tmvc[(((size_t)t * M + m) * V + v) * C + c];
        const float *got = gr[g].x + (size_t)i * NX;
        if (memcmp(got, want, NX * sizeof(float)) != 0) {
            if (!differ) diag("%s: stored tensor differs from kinetics_prepare", id);
            differ++;
        }
        bad_frames += gr[g].frames[i] != frames;
        // An empty frame before the last non-empty one: the old store (the
        // first `frames` frames) lost this clip's data past its count.
        gapped += frames < skel_span(tmvc, V);
    }
    archive_in_close(a);
    int64_t total = gr[0].n + gr[1].n, once = 0;
    for (int g = 0; g < 2; g++)
        for (int64_t i = 0; i < gr[g].n; i++) once += gr[g].seen[i] == 1;
    ok(stored == clips && once == total, "every clip with a skeleton is stored once (%d clips, %lld stored)",
       clips, (long long)total);
    ok(differ == 0 && stored > 0, "every stored (3, 300, 18, 2) tensor equals kinetics_prepare whole (%d of %d differ)",
       differ, stored);
    ok(bad_frames == 0, "/frames is each clip's count of non-empty frames (%d differ)", bad_frames);
    ok(gapped > 0, "%d of %d clips have empty frames before their last non-empty one", gapped, stored);
    for (int g = 0; g < 2; g++) {
        free(gr[g].names);
        free(gr[g].frames);
        free(gr[g].x);
        free(gr[g].seen);
    }
    free(buf);
    free(tmvc);
    free(want);
    return tap_done();
}
