// 3300-ref-ntu.c - ntu_prepare on the real NTU .skeleton samples against the
// official CTR-GCN/SGN preprocessing (tests/data/ref/ntu*.ref, made by
// scripts/ref/make_prep_reference.py): bit for bit, for the NTU60 (body 2
// zero) and NTU120 (body 1 copied) conventions, from the file as is (LF) and
// from a CRLF copy.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntu.h"
#include "skeleton.h"
#include "status.h"
#include "tap/ref.h"
#include "tap/tap.h"

#define REF_DIR "tests/data/ref"
#define MAX_SAMPLES 64
#define SAMPLE_N ((size_t)SKEL_T * SKEL_M * NTU_V * SKEL_C)

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}


static void check(const char *name, const char *ending, int copy_single, const char *text,
                  size_t len, const float *want, int want_frames, float *got) {
    char why[256] = "";
    int frames = -1;
    memset(got, 0x7f, SAMPLE_N * sizeof(float));
    int rc = ntu_prepare(text, len, copy_single, got, &frames, why, sizeof why);
    const char *conv = copy_single ? "NTU120" : "NTU60";
    ok(rc == CD_OK && frames == want_frames, "%s %s %s: accepted, %d frames", name, ending, conv,
       want_frames);
    if (rc != CD_OK) diag("rc %d (%s): %s", rc, cd_status_str(rc), why);
    else if (frames != want_frames) diag("frames: got %d want %d", frames, want_frames);
    if (rc != CD_OK) {
        skip(1, "not prepared");
        return;
    }
    if (!is_tensor_equal(got, want, SAMPLE_N, "%s %s %s: (300, 2, 25, 3) equals the reference",
                         name, ending, conv)) {
        int shown = 0;
        for (size_t i = 0; i < SAMPLE_N && shown < 5; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                size_t t = i / 150, r = i % 150;
                diag("  t %zu m %zu v %zu c %zu: got %.9g want %.9g", t, r / 75, (r % 75) / 3,
                     r % 3, got[i], want[i]);
                shown++;
            }
    }
}

int main(void) {
    const char *real = tap_real_data();
    if (!real) skip_all("no real data (set COCODIFF_REAL_DATA)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ntu", real);
    DIR *d = opendir(dir);
    if (!d) skip_all("no %s", dir);
    char *names[MAX_SAMPLES];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SAMPLES) {
        size_t l = strlen(e->d_name);
        if (l > 9 && strcmp(e->d_name + l - 9, ".skeleton") == 0) names[n++] = strndup(e->d_name, l - 9);
    }
    closedir(d);
    if (n == 0) skip_all("no .skeleton files in %s", dir);
    qsort(names, (size_t)n, sizeof *names, cmp_str);

    plan(n * 8);
    float *want = malloc(SAMPLE_N * sizeof(float)), *got = malloc(SAMPLE_N * sizeof(float));
    if (!want || !got) bail("out of memory");
    for (int s = 0; s < n; s++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s.skeleton", dir, names[s]) >= (int)sizeof path)
            bail("path too long");
        size_t len, clen = 0;
        char *text = tap_slurp(path, &len);
        if (!text) bail("cannot read %s", path);
        char *crlf = tap_crlf_copy(text, len, names[s], &clen);
        if (!crlf) bail("cannot read back the CRLF copy of %s", names[s]);
        for (int copy_single = 0; copy_single <= 1; copy_single++) {
            // NTU120 has its own file only where it differs from NTU60.
            int dims[2] = {0, 0};
            float *ref = NULL;
            if (copy_single) {
                snprintf(path, sizeof path, REF_DIR "/ntu120_%s.ref", names[s]);
                ref = ref_read_single(path, 2, dims);
            }
            if (!ref) {
                snprintf(path, sizeof path, REF_DIR "/ntu60_%s.ref", names[s]);
                ref = ref_read_single(path, 2, dims);
            }
            if (!ref || dims[1] != 150 || dims[0] > SKEL_T) {
                diag("missing or malformed reference %s (HINT: run "
                     "scripts/ref/make_prep_reference.py, see tests/data/ref/README.md)", path);
                skip(4, "no reference for %s", names[s]);
                free(ref);
                continue;
            }
            memset(want, 0, SAMPLE_N * sizeof(float));
            memcpy(want, ref, (size_t)dims[0] * 150 * sizeof(float));
            check(names[s], "LF", copy_single, text, len, want, dims[0], got);
            check(names[s], "CRLF", copy_single, crlf, clen, want, dims[0], got);
            free(ref);
        }
        free(text);
        free(crlf);
        free(names[s]);
    }
    free(want);
    free(got);
    return tap_done();
}
