// 2101-feeder-kinetics-gaps.c - the test-split feeder transform on the real
// Kinetics clips, which have empty frames between non-empty ones, against
// CTR-GCN's Feeder.__getitem__ on the same stored tensors
// (tests/data/feeder/kinetics_<id>.bin, made by
// scripts/ref/make_feeder_reference.py from ST-GCN's Feeder_kinetics output
// in tests/data/ref). The official feeder takes the COUNT of non-zero frames
// as the crop's end (valid_crop_resize: begin 0, end valid_frame_num), so on
// a gapped clip it never sees the frames past that many; ours must do the
// same, not use the span. Needs no real data: the inputs are committed.
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeder.h"
#include "skeleton.h"
#include "tap/ref.h"
#include "tap/tap.h"

#define PREP_REF "tests/data/ref"
#define FEEDER_REF "tests/data/feeder"
#define MAX_CLIPS 16
enum { C = SKEL_C, T = SKEL_T, V = KINETICS_V, M = SKEL_M, W = 64 };

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    DIR *d = opendir(PREP_REF);
    if (!d) bail("no %s", PREP_REF);
    char *ids[MAX_CLIPS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CLIPS) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "kinetics_", 9) == 0 && l > 13 && strcmp(e->d_name + l - 4, ".ref") == 0)
            ids[n++] = strndup(e->d_name + 9, l - 13);
    }
    closedir(d);
    if (n == 0) bail("no kinetics_*.ref in %s", PREP_REF);
    qsort(ids, (size_t)n, sizeof *ids, cmp_str);
    plan(n + 1);

    FeederConfig f = feeder_config_official(skel_layout_find("openpose18"), 0, stream_of(0, 0));
    float *out = malloc(sizeof(float) * C * W * V * M);
    int gapped = 0;
    for (int k = 0; k < n; k++) {
        int v = 0, span = 0, dims[4];
        float *x = ref_prep_sample(PREP_REF, "kinetics", ids[k], &v, &span);
        char path[256];
        snprintf(path, sizeof path, FEEDER_REF "/kinetics_%s.bin", ids[k]);
        float *want = ref_read_single(path, 4, dims);
        if (!x || !want || dims[0] != C || dims[1] != W || dims[2] != V || dims[3] != M) {
            diag("%s: missing or malformed (HINT: scripts/ref/make_feeder_reference.py)", path);
            skip(1, "no reference for %s", ids[k]);
            free(x);
            free(want);
            continue;
        }
        int valid = feeder_valid_frames(x, C, T, V, M), bias, len;
        feeder_crop(&f, valid, NULL, &bias, &len);
        gapped += valid < span;
        feeder_transform(&f, out, x, C, T, V, M, 1, 0, k);
        double worst = 0;
        for (size_t i = 0; i < (size_t)C * W * V * M; i++) worst = fmax(worst, fabs((double)out[i] - want[i]));
        is_tensor_equal(out, want, (size_t)C * W * V * M,
                        "%s: %d non-zero frames spanning %d, crop [%d, %d) -> (3, 64, 18, 2) equals "
                        "the official feeder's (max |diff| %g)", ids[k], valid, span, bias, bias + len, worst);
        free(x);
        free(want);
        free(ids[k]);
    }
    ok(gapped > 0, "%d of %d clips have gaps (fewer non-zero frames than their span)", gapped, n);
    free(out);
    return tap_done();
}
