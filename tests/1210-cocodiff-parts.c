// 1210-cocodiff-parts.c - body-part joint sets and part-token pooling of the
// CoCoDiff module (src/model/cocodiff_parts.c):
// - datasets/parts/ntu25.tsv, openpose18.tsv and ucla20.tsv load for their
//   layouts, name every part, and cover every joint exactly once;
// - bad part files are rejected with a reason that names the problem (id >=
//   V, negative or non-numeric id, empty part, unknown part, part listed
//   twice, part missing, joint twice in a part), and part_sets_load returns
//   CD_EFORMAT for such a file on disk and CD_EIO for a missing one;
// - pooling on a hand-built feature map against means computed here in
//   double (ATOL 1e-5: float outputs of O(100) values);
// - its backward: accumulation (+=) and finite differences of
//   loss = sum(out * G). The pooling is linear, so central differences are
//   exact up to float rounding of outputs of O(100) (step 1, FD_TOL 2e-3).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "status.h"
#include "tap/tap.h"

#define ATOL 1e-5
#define FD_STEP 1.0f   // the pooling is linear: a large step loses nothing but rounding
#define FD_TOL 2e-3

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

// Every joint in exactly one part?
static int covers_once(const PartSets *p, int V) {
    int cnt[64] = {0};
    for (int q = 0; q < COCODIFF_PARTS; q++)
        for (int k = 0; k < p->n[q]; k++) cnt[p->joint[q][k]]++;
    for (int v = 0; v < V; v++)
        if (cnt[v] != 1) {
            diag("joint %d is in %d parts", v, cnt[v]);
            return 0;
        }
    return 1;
}

static void test_files(void) {
    PartSets p;
    int rc = part_sets_load("datasets/parts/ntu25.tsv", 25, &p);
    is_int(CD_OK, rc, "ntu25.tsv loads for V = 25");
    ok(rc == CD_OK && p.n[0] == 2 && p.joint[0][0] == 2 && p.joint[0][1] == 3 && p.n[1] == 6 &&
           p.n[5] == 2 && p.joint[5][0] == 15 && p.joint[5][1] == 19,
       "ntu25: head = {Neck, Head}, six hand joints, foot = {FootLeft, FootRight}");
    ok(rc == CD_OK && covers_once(&p, 25), "ntu25: every joint in exactly one part");
    rc = part_sets_load("datasets/parts/openpose18.tsv", 18, &p);
    is_int(CD_OK, rc, "openpose18.tsv loads for V = 18");
    ok(rc == CD_OK && p.n[0] == 5 && p.n[1] == 2 && p.joint[1][0] == 4 && p.joint[1][1] == 7,
       "openpose18: head has 5 joints, hand = wrists {4, 7}");
    ok(rc == CD_OK && covers_once(&p, 18), "openpose18: every joint in exactly one part");
    rc = part_sets_load("datasets/parts/ucla20.tsv", 20, &p);
    is_int(CD_OK, rc, "ucla20.tsv loads for V = 20");
    ok(rc == CD_OK && p.n[0] == 1 && p.joint[0][0] == 3 && p.n[1] == 2 && p.joint[1][0] == 7 &&
           p.joint[1][1] == 11 && p.n[5] == 2 && p.joint[5][0] == 15 && p.joint[5][1] == 19,
       "ucla20: head = {Head}, hand = {HandLeft, HandRight}, foot = {FootLeft, FootRight}");
    ok(rc == CD_OK && covers_once(&p, 20), "ucla20: every joint in exactly one part");
    diag("the next line on stderr is an expected error");
    is_int(CD_EFORMAT, part_sets_load("datasets/parts/ntu25.tsv", 18, &p),
           "ntu25.tsv is rejected for an 18-joint layout");
}

static void expect_reject(const char *text, int V, const char *needle, const char *what) {
    PartSets p;
    char why[256] = "";
    int rc = part_sets_parse(&p, text, V, why, sizeof why);
    int good = rc == CD_EFORMAT && strstr(why, needle) != NULL;
    if (!good) diag("rc %d, why: \"%s\" (want \"%s\")", rc, why, needle);
    else diag("%s -> %s", what, why);
    ok(good, "rejected: %s", what);
}

#define GOOD5 "head 0\nhand 1\narm 1 2\nhip 3\nleg 4\n"

static void test_bad(void) {
    expect_reject(GOOD5 "foot 5\n", 5, "joint 5 is out of range [0, V = 5)", "id >= V");
    expect_reject(GOOD5 "foot -1\n", 5, "joint -1 is out of range", "negative id");
    expect_reject(GOOD5 "foot x3\n", 5, "'x3' is not a joint id", "non-numeric id");
    expect_reject(GOOD5 "foot\n", 5, "part 'foot' is empty", "empty part");
    expect_reject(GOOD5 "toe 4\n", 5, "line 6: unknown part 'toe'", "unknown part name");
    expect_reject(GOOD5 "foot 4\nhead 1\n", 5, "line 7: part 'head' listed twice", "part twice");
    expect_reject(GOOD5, 5, "part 'foot' is missing", "missing part");
    expect_reject(GOOD5 "foot 4 4\n", 5, "joint 4 listed twice", "joint twice in a part");
    PartSets p;
    char why[256];
    is_int(CD_OK, part_sets_parse(&p, "# c\n\n" GOOD5 "foot\t4 3\r\n", 5, why, sizeof why),
           "comments, blank lines, tabs and CRLF are accepted");
    // On disk
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.tsv", tap_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) bail("cannot write %s", path);
    fputs(GOOD5 "foot 9\n", f);
    fclose(f);
    diag("the next two lines on stderr are expected errors");
    is_int(CD_EFORMAT, part_sets_load(path, 5, &p), "part_sets_load: bad file -> CD_EFORMAT");
    snprintf(path, sizeof path, "%s/absent.tsv", tap_tmpdir());
    is_int(CD_EIO, part_sets_load(path, 5, &p), "part_sets_load: missing file -> CD_EIO");
}

// ---------------------------------------------------------------------------
// Pooling

enum { B = 2, M = 2, C = 3, T = 4, V = 5 };

static float feat_value(int b, int m, int c, int t, int v) {
    return 100.0f * (float)b + 30.0f * (float)m + 7.0f * (float)c + 0.5f * (float)t + 1.25f * (float)(v * v);
}

static void test_pool(void) {
    PartSets p;
    char why[256];
    // overlapping parts on purpose: joint 1 is in hand and arm, joint 4 in leg and foot
    if (part_sets_parse(&p, GOOD5 "foot 4 0\n", V, why, sizeof why)) bail("parse: %s", why);
    const size_t nf = (size_t)B * M * C * T * V, no = (size_t)B * COCODIFF_TOKENS * C;
    float *feat = calloc(nf, sizeof(float)), *out = calloc(no, sizeof(float));
    float *want = calloc(no, sizeof(float)), *G = calloc(no, sizeof(float));
    float *dfeat = calloc(nf, sizeof(float));
    if (!feat || !out || !want || !G || !dfeat) bail("out of memory");
    for (int b = 0; b < B; b++)
        for (int m = 0; m < M; m++)
            for (int c = 0; c < C; c++)
                for (int t = 0; t < T; t++)
                    for (int v = 0; v < V; v++)
                        feat[((((size_t)b * M + m) * C + c) * T + t) * V + v] = feat_value(b, m, c, t, v);
    // Expected: plain means in double over the listed joints
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int tok = 0; tok < COCODIFF_TOKENS; tok++) {
                double s = 0;
                int nj = tok == 0 ? V : p.n[tok - 1];
                for (int m = 0; m < M; m++)
                    for (int t = 0; t < T; t++)
                        for (int k = 0; k < nj; k++)
                            s += feat_value(b, m, c, t, tok == 0 ? k : p.joint[tok - 1][k]);
                want[((size_t)b * COCODIFF_TOKENS + tok) * C + c] = (float)(s / ((double)M * T * nj));
            }
    cocodiff_pool_parts(out, feat, B, M, C, T, V, &p);
    is_tensor_close(out, want, no, ATOL, 1e-6, "pool_parts: the 7 tokens equal the means over their joints");
    // token 0 is the backbone's pooled feature: mean over T, V, then over M
    double g0 = 0;
    for (int m = 0; m < M; m++) {
        double s = 0;
        for (int t = 0; t < T; t++)
            for (int v = 0; v < V; v++) s += feat_value(1, m, 2, t, v);
        g0 += s / (T * V) / M;
    }
    is_double(g0, out[((size_t)1 * COCODIFF_TOKENS + 0) * C + 2], 1e-4,
              "token 0 = CTR-GCN's global average pool then mean over persons");

    // Backward: loss = sum(out * G)
    uint64_t seed = 7;
    for (size_t i = 0; i < no; i++) G[i] = frand(&seed);
    for (size_t i = 0; i < nf; i++) dfeat[i] = 0.5f;
    cocodiff_pool_parts_backward(dfeat, G, B, M, C, T, V, &p);
    for (size_t i = 0; i < nf; i++) dfeat[i] -= 0.5f;   // accumulated on top of 0.5
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < nf; i++) {
        float x0 = feat[i];
        double lp, lm;
        feat[i] = x0 + FD_STEP;
        cocodiff_pool_parts(out, feat, B, M, C, T, V, &p);
        lp = 0;
        for (size_t k = 0; k < no; k++) lp += (double)out[k] * G[k];
        feat[i] = x0 - FD_STEP;
        cocodiff_pool_parts(out, feat, B, M, C, T, V, &p);
        lm = 0;
        for (size_t k = 0; k < no; k++) lm += (double)out[k] * G[k];
        feat[i] = x0;
        double num = (lp - lm) / (2.0 * FD_STEP), err = fabs(num - dfeat[i]) / fmax(fabs(num), 1e-2);
        if (err > worst) worst = err, worst_i = i;
    }
    diag("pool backward: worst relative error %.2e at %zu (analytic %g)", worst, worst_i, dfeat[worst_i]);
    ok(worst < FD_TOL, "pool_parts_backward accumulates and matches finite differences (all %zu elements)", nf);
    free(feat);
    free(out);
    free(want);
    free(G);
    free(dfeat);
}

int main(void) {
    plan(24);
    test_files();
    test_bad();
    test_pool();
    return tap_done();
}
