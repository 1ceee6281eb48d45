// 3301-ref-kinetics.c - kinetics_prepare on the real Kinetics-Skeleton clips
// against ST-GCN's Feeder_kinetics + kinetics_gendata.py float32 store
// (tests/data/ref/kinetics_*.ref, made by scripts/ref/make_prep_reference.py):
// bit for bit, from the file as is and from a CRLF copy; label_index agrees
// with the official label file.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kinetics.h"
#include "skeleton.h"
#include "status.h"
#include "tap/ref.h"
#include "tap/tap.h"

#define REF_DIR "tests/data/ref"
#define MAX_CLIPS 64
#define CLIP_N ((size_t)SKEL_T * SKEL_M * KINETICS_V * SKEL_C)

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}


static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(void) {
    const char *real = tap_real_data();
    if (!real) skip_all("no real data (set COCODIFF_REAL_DATA)");
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/kinetics", real);
    DIR *d = opendir(dir);
    if (!d) skip_all("no %s", dir);
    char *ids[MAX_CLIPS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CLIPS) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) ids[n++] = strndup(e->d_name, l - 5);
    }
    closedir(d);
    if (n == 0) skip_all("no clips in %s", dir);
    qsort(ids, (size_t)n, sizeof *ids, cmp_str);

    plan(1 + n * 6);
    snprintf(path, sizeof path, "%s/lists/kinetics_val_label.json", real);
    size_t llen;
    char *ltext = tap_slurp(path, &llen);
    KineticsLabels *labels = NULL;
    char why[256] = "";
    int rc = ltext ? kinetics_labels_parse(ltext, llen, &labels, why, sizeof why) : CD_EIO;
    ok(rc == CD_OK && kinetics_labels_count(labels) == 19906,
       "official val label file: 19,906 entries");
    if (rc != CD_OK) diag("rc %d: %s", rc, why);
    free(ltext);

    float *want = malloc(CLIP_N * sizeof(float)), *got = malloc(CLIP_N * sizeof(float)),
          *got2 = malloc(CLIP_N * sizeof(float));
    if (!want || !got || !got2) bail("out of memory");
    for (int k = 0; k < n; k++) {
        int dims[4] = {0};
        snprintf(path, sizeof path, REF_DIR "/kinetics_%s.ref", ids[k]);
        float *ref = ref_read_single(path, 4, dims);
        if (!ref || dims[0] != SKEL_C || dims[1] > SKEL_T || dims[2] != KINETICS_V ||
            dims[3] != SKEL_M) {
            diag("missing or malformed reference %s (HINT: run "
                 "scripts/ref/make_prep_reference.py, see tests/data/ref/README.md)", path);
            skip(6, "no reference for %s", ids[k]);
            free(ref);
            free(ids[k]);
            continue;
        }
        // (C, F, V, M) -> (T, M, V, C), zero after F; count non-zero frames.
        memset(want, 0, CLIP_N * sizeof(float));
        int F = dims[1], want_frames = 0;
        for (int t = 0; t < F; t++) {
            int nz = 0;
            for (int m = 0; m < SKEL_M; m++)
                for (int v = 0; v < KINETICS_V; v++)
                    for (int c = 0; c < SKEL_C; c++) {
                        float x = ref[(((size_t)c * F + t) * KINETICS_V + v) * SKEL_M + m];
                        want[(((size_t)t * SKEL_M + m) * KINETICS_V + v) * SKEL_C + c] = x;
                        nz |= x != 0.0f;
                    }
            want_frames += nz;
        }
        free(ref);

        if (snprintf(path, sizeof path, "%s/%s.json", dir, ids[k]) >= (int)sizeof path)
            bail("path too long");
        size_t len, clen = 0;
        char *text = tap_slurp(path, &len);
        if (!text) bail("cannot read %s", path);
        int label = -1, frames = -1, file_label = -2, has_skel = 0;
        memset(got, 0x7f, CLIP_N * sizeof(float));
        double t0 = now_ms();
        rc = kinetics_prepare(text, len, got, &label, &frames, why, sizeof why);
        double ms = now_ms() - t0;
        ok(rc == CD_OK, "%s: accepted (%zu bytes, %.1f ms)", ids[k], len, ms);
        if (rc != CD_OK) diag("rc %d: %s", rc, why);
        is_int(want_frames, frames, "%s: %d non-zero frames", ids[k], want_frames);
        if (labels) kinetics_labels_find(labels, ids[k], &file_label, &has_skel);
        ok(label == file_label && has_skel, "%s: label_index %d agrees with the label file",
           ids[k], label);
        is_tensor_equal(got, want, CLIP_N, "%s: (300, 2, 18, 3) equals the reference", ids[k]);

        char fname[256];
        snprintf(fname, sizeof fname, "%s.json", ids[k]);
        char *crlf = tap_crlf_copy(text, len, fname, &clen);
        if (!crlf) bail("cannot read back the CRLF copy of %s", ids[k]);
        int label2 = -1, frames2 = -1;
        memset(got2, 0x7f, CLIP_N * sizeof(float));
        rc = kinetics_prepare(crlf, clen, got2, &label2, &frames2, why, sizeof why);
        ok(rc == CD_OK && label2 == label && frames2 == frames, "%s CRLF: accepted, same label "
           "and frames", ids[k]);
        is_tensor_equal(got2, want, CLIP_N, "%s CRLF: equals the reference", ids[k]);
        free(text);
        free(crlf);
        free(ids[k]);
    }
    kinetics_labels_free(labels);
    free(want);
    free(got);
    free(got2);
    return tap_done();
}
