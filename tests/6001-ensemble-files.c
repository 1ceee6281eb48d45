// 6001-ensemble-files.c - the ensemble's pure parts and the score-file reader:
//   - default weights (CTR-GCN's weight of each stream when the inputs are the four streams, else 1),
//     --weights parsing, the weighted sum;
//   - hand-made score files written with the h5io_scores_* writer read back
//     by h5io_scores_read (shapes, names, labels, class names, attributes);
//   - ensemble_check_rows names both files and the first differing row.
// With `--write DIR` it only writes the hand-made files (no TAP), for
// tests/6000-ensemble.sh:
//   a.h5   joint   K 3, 4 samples S001..S004, labels 0 1 2 1, top-1 1/4
//   b.h5   bone    same samples,                               top-1 2/4
//   (a + b: top-1 3/4; a + 0.2 b: top-1 1/4)
//   names.h5   as b with row 2 named S999;  labels.h5  as b with label 0 in row 3
//   k4.h5      4 classes
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "ensemble.h"
#include "h5io_scores.h"
#include "status.h"
#include "tap/tap.h"

#define N 4
static const float A[N * 3] = {2, 1, 0, 3, 1, 0, 0, 2, 1, 0, 1, 2};
static const float B[N * 3] = {0, 0, 1, 0, 3, 0, 0, 0, 3, 1, 0, 0};
static const int32_t LABEL[N] = {0, 1, 2, 1};

// Writes one score file with the project's writer. names: N rows of 8 bytes.
static int write_file(const Dist *d, const char *path, int K, const float *scores, const int32_t *label,
                      const char *names, const char *stream) {
    H5ScoresSpec spec = {.n = N, .K = K, .name_len = 8, .window = 64, .checkpoint = "hand-made",
                         .data = "hand-made.h5", .group = "test", .stream = stream};
    H5ScoresFile *f = NULL;
    if (h5io_scores_create(&f, d, path, &spec)) return -1;
    h5io_scores_write_rows(f, 0, N, scores, label, names);
    const char *cn4[4] = {"drink water", "eat <meal> & \"snack\"", "brushing teeth", "extra"};
    int64_t conf[16] = {0};
    double pc[4] = {0};
    h5io_scores_write_metrics(f, cn4, conf, pc, 0, 0);
    return h5io_scores_close(f);
}

static int write_all(const Dist *d, const char *dir) {
    char names[N * 8] = "S001\0\0\0\0S002\0\0\0\0S003\0\0\0\0S004";
    char bad[N * 8];
    memcpy(bad, names, sizeof bad);
    memcpy(bad + 2 * 8, "S999", 4);
    int32_t lab2[N];
    memcpy(lab2, LABEL, sizeof lab2);
    lab2[3] = 0;
    float k4[N * 4] = {0};
    char p[7][4096];
    const char *fn[7] = {"a.h5", "b.h5", "names.h5", "labels.h5", "k4.h5", "jm.h5", "bm.h5"};
    for (int i = 0; i < 7; i++) snprintf(p[i], sizeof p[i], "%.4000s/%s", dir, fn[i]);
    return write_file(d, p[0], 3, A, LABEL, names, "joint") || write_file(d, p[1], 3, B, LABEL, names, "bone") ||
           write_file(d, p[2], 3, B, LABEL, bad, "bone") || write_file(d, p[3], 3, B, lab2, names, "bone") ||
           write_file(d, p[4], 4, k4, LABEL, names, "joint") ||
           write_file(d, p[5], 3, A, LABEL, names, "joint_motion") || write_file(d, p[6], 3, B, LABEL, names, "bone_motion");
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv)) return 1;
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        int rc = write_all(&d, argv[2]);
        dist_finalize(&d);
        return rc ? 1 : 0;
    }
    plan(17);

    double w[8];
    const char *four[4] = {"bone_motion", "joint", "joint_motion", "bone"}, *two[2] = {"joint", "bone"};
    const char *twice[4] = {"joint", "bone", "joint", "bone"};
    ensemble_default_weights(four, 4, w);
    ok(w[0] == 0.4 && w[1] == 0.6 && w[2] == 0.4 && w[3] == 0.6, "the four streams: CTR-GCN's weight of each");
    ensemble_default_weights(two, 2, w);
    int ones = w[0] == 1 && w[1] == 1;
    ensemble_default_weights(twice, 4, w);
    ok(ones && w[0] == 1 && w[1] == 1 && w[2] == 1 && w[3] == 1, "two streams, or four inputs of two streams: 1 each");
    int n = 0;
    char why[8192];
    ok(ensemble_parse_weights("0.5,2,1e-1", w, 8, &n, why, sizeof why) == CD_OK && n == 3 && w[0] == 0.5 &&
           w[1] == 2 && fabs(w[2] - 0.1) < 1e-15, "--weights 0.5,2,1e-1");
    ok(ensemble_parse_weights("0.5,,1", w, 8, &n, why, sizeof why) == CD_EARG &&
           ensemble_parse_weights("1,x", w, 8, &n, why, sizeof why) == CD_EARG &&
           ensemble_parse_weights("1;2", w, 8, &n, why, sizeof why) == CD_EARG &&
           ensemble_parse_weights("1,2,3", w, 2, &n, why, sizeof why) == CD_EARG, "bad --weights are CD_EARG");

    const float *in[2] = {A, B};
    double w2[2] = {1, 0.5};
    float out[N * 3], want[N * 3];
    for (int i = 0; i < N * 3; i++) want[i] = A[i] + 0.5f * B[i];
    ensemble_fuse(out, in, w2, 2, N * 3);
    is_tensor_close(out, want, N * 3, 0, 0, "fused = a + 0.5 b");

    const char *T = tap_tmpdir();
    ok(write_all(&d, T) == 0, "hand-made score files written in %s", T);
    char pa[4200], pb[4200], pn[4200], pl[4200], pk[4200];
    snprintf(pa, sizeof pa, "%.4000s/a.h5", T);
    snprintf(pb, sizeof pb, "%.4000s/b.h5", T);
    snprintf(pn, sizeof pn, "%.4000s/names.h5", T);
    snprintf(pl, sizeof pl, "%.4000s/labels.h5", T);
    snprintf(pk, sizeof pk, "%.4000s/k4.h5", T);
    H5Scores a, b, s;
    ok(h5io_scores_read(pa, &a) == CD_OK && a.n == N && a.K == 3 && a.name_len == 8, "read a.h5: (4, 3), names of 8");
    is_tensor_equal(a.scores, A, N * 3, "a.h5 scores read back");
    ok(a.label[0] == 0 && a.label[1] == 1 && a.label[2] == 2 && a.label[3] == 1, "a.h5 labels read back");
    is_str("S004", h5io_scores_name(&a, 3), "row 3 is named S004");
    is_str("eat <meal> & \"snack\"", a.class_names[1], "class names read back");
    ok(!strcmp(a.stream, "joint") && !strcmp(a.group, "test") && a.window == 64 && a.has_metrics,
       "attributes: stream joint, group test, window 64, /metrics");
    ok(h5io_scores_read(pb, &b) == CD_OK && ensemble_check_rows(&a, pa, &b, pb, why, sizeof why) == CD_OK,
       "a.h5 and b.h5 agree");
    h5io_scores_free(&b);
    ok(h5io_scores_read(pn, &s) == CD_OK && ensemble_check_rows(&a, pa, &s, pn, why, sizeof why) == CD_EFORMAT &&
           strstr(why, pa) && strstr(why, pn) && strstr(why, "row 2") && strstr(why, "S999"),
       "names differ: the message names both files, row 2 and S999");
    diag("%s", why);
    h5io_scores_free(&s);
    ok(h5io_scores_read(pl, &s) == CD_OK && ensemble_check_rows(&a, pa, &s, pl, why, sizeof why) == CD_EFORMAT &&
           strstr(why, "row 3") && strstr(why, pl), "labels differ: row 3 named");
    h5io_scores_free(&s);
    ok(h5io_scores_read(pk, &s) == CD_OK && ensemble_check_rows(&a, pa, &s, pk, why, sizeof why) == CD_EFORMAT &&
           strstr(why, "3 classes") && strstr(why, "has 4"), "class counts differ: both counts named");
    h5io_scores_free(&s);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none.h5", T);
    ok(h5io_scores_read(missing, &s) == CD_EIO && s.scores == NULL, "a missing file is CD_EIO, nothing left");
    h5io_scores_free(&a);
    int rc = tap_done();
    dist_finalize(&d);
    return rc;
}
