// 3200-kinetics.c - kinetics_prepare and the label-file parser on small
// hand-made JSON: every rule of ST-GCN's feeder (first 5 people, centring,
// zeroing unscored joints, stable sort by summed score, top 2) and every
// rejection.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinetics.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

// ---------------------------------------------------------------------------
// A tiny string builder for the JSON cases

typedef struct Buf {
    char *s;
    size_t n, cap;
} Buf;

static void put(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) bail("vsnprintf failed");
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) bail("out of memory");
        if (b->n == 0) b->s[0] = 0;
    }
}

// One person: x[v], y[v], score[v] (the pose is interleaved x0 y0 x1 y1 ...).
static void put_person(Buf *b, const double *x, const double *y, const double *s) {
    put(b, "{\"pose\": [");
    for (int v = 0; v < KINETICS_V; v++) put(b, "%s%.17g, %.17g", v ? ", " : "", x[v], y[v]);
    put(b, "], \"score\": [");
    for (int v = 0; v < KINETICS_V; v++) put(b, "%s%.17g", v ? ", " : "", s[v]);
    put(b, "]}");
}

// A person with constant x, y, score over the joints.
static void put_const_person(Buf *b, double x, double y, double s) {
    double xs[KINETICS_V], ys[KINETICS_V], ss[KINETICS_V];
    for (int v = 0; v < KINETICS_V; v++) xs[v] = x, ys[v] = y, ss[v] = s;
    put_person(b, xs, ys, ss);
}

static float *out;
static char why[256];

static const float *at(int t, int m, int v) {
    return out + (((size_t)t * SKEL_M + m) * KINETICS_V + v) * SKEL_C;
}

static int prep(const Buf *b, int *label, int *frames) {
    why[0] = 0;
    memset(out, 0x7f, sizeof(float) * SKEL_T * SKEL_M * KINETICS_V * SKEL_C);   // poison
    return kinetics_prepare(b->s, b->n, out, label, frames, why, sizeof why);
}

static int all_zero_from(int t0) {
    for (size_t i = (size_t)t0 * SKEL_M * KINETICS_V * SKEL_C;
         i < (size_t)SKEL_T * SKEL_M * KINETICS_V * SKEL_C; i++)
        if (out[i] != 0.0f) return 0;
    return 1;
}

// ---------------------------------------------------------------------------
// Accepted clips

static void test_basic(void) {
    // frame 0: one person, joint 3 unscored; frame 1: empty; frame 2: one
    // person whose every score is 0 (all zero after the rule).
    double x[KINETICS_V], y[KINETICS_V], s[KINETICS_V];
    for (int v = 0; v < KINETICS_V; v++) {
        x[v] = 0.1 * v + 0.013;
        y[v] = 0.9 - 0.03 * v;
        s[v] = v == 3 ? 0.0 : 0.05 * (v + 1);
    }
    Buf b = {0};
    put(&b, "{\"data\": [{\"frame_index\": 0, \"skeleton\": [");
    put_person(&b, x, y, s);
    put(&b, "]}, {\"frame_index\": 1, \"skeleton\": []}, {\"frame_index\": 2, \"skeleton\": [");
    put_const_person(&b, 0.7, 0.2, 0.0);
    put(&b, "]}], \"label\": \"x\", \"label_index\": 17}");
    int label = -1, frames = -1;
    int rc = prep(&b, &label, &frames);
    is_int(CD_OK, rc, "basic clip accepted (%s)", why);
    is_int(17, label, "label_index read");
    is_int(1, frames, "frames counts only non-zero frames (empty and all-unscored frames skipped)");
    int good = 1;
    for (int v = 0; v < KINETICS_V; v++) {
        const float *p = at(0, 0, v);
        float wx = v == 3 ? 0.0f : (float)(x[v] - 0.5), wy = v == 3 ? 0.0f : (float)(y[v] - 0.5);
        if (p[0] != wx || p[1] != wy || p[2] != (float)s[v]) {
            diag("joint %d: got %.9g %.9g %.9g want %.9g %.9g %.9g", v, p[0], p[1], p[2], wx, wy,
                 (float)s[v]);
            good = 0;
        }
        for (int c = 0; c < SKEL_C; c++) good &= at(0, 1, v)[c] == 0.0f;
    }
    ok(good, "x,y -= 0.5 in double, zeroed where score == 0, person 2 zero");
    ok(all_zero_from(1), "empty frame, all-unscored frame and padding are zero");
    free(b.s);
}

static void test_more_than_five(void) {
    // 7 people; sums 0.1 0.5 0.3 0.9 0.2 (x18) among the first 5, people 6
    // and 7 score higher but are never read (person 7 is even malformed).
    const double sc[7] = {0.1, 0.5, 0.3, 0.9, 0.2, 1.0, 1.0};
    Buf b = {0};
    put(&b, "{\"data\": [{\"frame_index\": 5, \"skeleton\": [");
    for (int m = 0; m < 6; m++) {
        put_const_person(&b, 0.5 + 0.0625 * m, 0.25, sc[m]);
        put(&b, ", ");
    }
    put(&b, "{\"pose\": [1, 2, 3], \"score\": [\"bad\"]}]}], \"label_index\": 3}");
    int label, frames;
    int rc = prep(&b, &label, &frames);
    is_int(CD_OK, rc, "7 people accepted; only the first 5 are read (%s)", why);
    is_int(1, frames, "one non-zero frame");
    ok(at(5, 0, 0)[2] == 0.9f && at(5, 0, 7)[0] == (float)(0.0625 * 3),
       "top person is slot 3 (sum 0.9*18)");
    ok(at(5, 1, 0)[2] == 0.5f && at(5, 1, 17)[0] == (float)(0.0625 * 1),
       "second person is slot 1 (sum 0.5*18); people 6 and 7 ignored");
    free(b.s);
}

static void test_ties(void) {
    // frame 0: sums 1, 2, 2 -> slots 1 then 2 (stable: ties keep slot order)
    // frame 1: equal sums for all three -> slots 0, 1
    // frame 2: the only person scores all 0 (ties with empty slots): slot 0
    //          first, then the empty slot 1 (all zero)
    Buf b = {0};
    put(&b, "{\"data\": [{\"frame_index\": 0, \"skeleton\": [");
    put_const_person(&b, 0.5625, 0.5, 1.0 / 18);
    put(&b, ", ");
    put_const_person(&b, 0.625, 0.5, 2.0 / 18);
    put(&b, ", ");
    put_const_person(&b, 0.6875, 0.5, 2.0 / 18);
    put(&b, "]}, {\"frame_index\": 1, \"skeleton\": [");
    for (int m = 0; m < 3; m++) {
        put_const_person(&b, 0.5 + 0.125 * (m + 1), 0.5, 0.25);
        put(&b, m < 2 ? ", " : "");
    }
    put(&b, "]}, {\"frame_index\": 2, \"skeleton\": [");
    put_const_person(&b, 0.75, 0.75, 0.0);
    put(&b, "]}], \"label_index\": 0}");
    int label, frames;
    int rc = prep(&b, &label, &frames);
    is_int(CD_OK, rc, "tie clip accepted (%s)", why);
    ok(at(0, 0, 4)[0] == 0.125f && at(0, 1, 4)[0] == 0.1875f, "sums 1,2,2: slots 1 then 2");
    ok(at(1, 0, 4)[0] == 0.125f && at(1, 1, 4)[0] == 0.25f, "equal sums: slots 0 then 1");
    is_int(2, frames, "a frame whose only person has zero scores is all zero");

    // Sequential summation in joint order (what numpy does for this layout):
    // 1e16 + 1 + ... + 1 - 1e16 sums to 0 sequentially (16 pairwise), so the
    // person with sum 9 wins.
    free(b.s);
    b = (Buf){0};
    double x[KINETICS_V], y[KINETICS_V], s[KINETICS_V];
    for (int v = 0; v < KINETICS_V; v++) x[v] = 0.75, y[v] = 0.5, s[v] = 1.0;
    s[0] = 1e16;
    s[17] = -1e16;
    put(&b, "{\"data\": [{\"frame_index\": 0, \"skeleton\": [");
    put_person(&b, x, y, s);
    put(&b, ", ");
    put_const_person(&b, 0.625, 0.5, 0.5);
    put(&b, "]}], \"label_index\": 0}");
    rc = prep(&b, &label, &frames);
    ok(rc == CD_OK && at(0, 0, 1)[0] == 0.125f && at(0, 1, 1)[0] == 0.25f,
       "scores summed sequentially in double (1e16 + 16 - 1e16 == 0 < 9)");
    free(b.s);
}

static void test_duplicate_frames(void) {
    // frame_index 4 twice: 2 people, then 1 person. Like numpy's assignment
    // the second entry overwrites slot 0 only; slot 1 keeps the first entry.
    // Also a missing frame (3) and integer-valued numbers.
    Buf b = {0};
    put(&b, "{\"data\": [{\"frame_index\": 4, \"skeleton\": [");
    put_const_person(&b, 0.25, 0.25, 0.25);
    put(&b, ", ");
    put_const_person(&b, 0.75, 0.75, 0.125);
    put(&b, "]}, {\"frame_index\": 4, \"skeleton\": [{\"pose\": [");
    for (int i = 0; i < 36; i++) put(&b, "%s1", i ? ", " : "");
    put(&b, "], \"score\": [");
    for (int i = 0; i < 18; i++) put(&b, "%s1", i ? ", " : "");
    put(&b, "]}]}, {\"frame_index\": 299, \"skeleton\": [");
    put_const_person(&b, 0.0, 1.0, 0.5);
    put(&b, "]}], \"label_index\": 399}");
    int label, frames;
    int rc = prep(&b, &label, &frames);
    is_int(CD_OK, rc, "duplicate frame_index accepted (%s)", why);
    ok(at(4, 0, 9)[0] == 0.5f && at(4, 0, 9)[2] == 1.0f, "later entry overwrites slot 0 (ints ok)");
    ok(at(4, 1, 9)[0] == 0.25f && at(4, 1, 9)[2] == 0.125f, "slot 1 kept from the earlier entry");
    ok(at(299, 0, 0)[0] == -0.5f && at(299, 0, 0)[1] == 0.5f, "frame_index 299 is the last row");
    is_int(2, frames, "frames = 2");
    is_int(399, label, "label_index 399");
    free(b.s);
}

static void test_empty_data(void) {
    Buf b = {0};
    put(&b, "  {\"data\": [], \"label_index\": 5}\r\n");
    int label, frames;
    int rc = prep(&b, &label, &frames);
    ok(rc == CD_OK && frames == 0 && all_zero_from(0), "empty data: all zero, frames 0");
    free(b.s);
}

// ---------------------------------------------------------------------------
// Rejections

static void reject(const char *json, const char *needle, const char *what) {
    why[0] = 0;
    int label, frames;
    int rc = kinetics_prepare(json, strlen(json), out, &label, &frames, why, sizeof why);
    int good = rc == CD_EREJECT && strstr(why, needle) != NULL;
    ok(good, "rejects %s", what);
    if (!good) diag("rc %d, why '%s' (expected to mention '%s')", rc, why, needle);
}

// A valid person with one field replaced.
static char *person_with(const char *pose, const char *score) {
    Buf b = {0};
    put(&b, "{\"data\": [{\"frame_index\": 1, \"skeleton\": [{\"pose\": [%s], \"score\": [%s]}]}], "
        "\"label_index\": 1}", pose, score);
    return b.s;
}

static char *nums(int n, const char *special, int where) {
    Buf b = {0};
    for (int i = 0; i < n; i++) put(&b, "%s%s", i ? ", " : "", i == where ? special : "0.5");
    return b.s;
}

static void test_rejections(void) {
    reject("{\"data\": [", "malformed JSON", "truncated JSON");
    reject("", "malformed JSON", "empty input");
    reject("{\"data\": [], \"label_index\": 1} x", "malformed JSON", "trailing garbage");
    reject("[1, 2]", "not an object", "a top-level array");
    reject("{\"label_index\": 1}", "\"data\"", "missing data");
    reject("{\"data\": {}, \"label_index\": 1}", "\"data\"", "data not an array");
    reject("{\"data\": []}", "label_index", "missing label_index");
    reject("{\"data\": [], \"label_index\": \"3\"}", "label_index", "string label_index");
    reject("{\"data\": [], \"label_index\": -1}", "label_index", "negative label_index");
    reject("{\"data\": [5], \"label_index\": 1}", "not an object", "frame not an object");
    reject("{\"data\": [{\"skeleton\": []}], \"label_index\": 1}", "frame_index",
           "missing frame_index");
    reject("{\"data\": [{\"frame_index\": 1.0, \"skeleton\": []}], \"label_index\": 1}",
           "frame_index", "non-integer frame_index");
    reject("{\"data\": [{\"frame_index\": -1, \"skeleton\": []}], \"label_index\": 1}",
           "outside [0, 300)", "frame_index -1");
    reject("{\"data\": [{\"frame_index\": 300, \"skeleton\": []}], \"label_index\": 1}",
           "outside [0, 300)", "frame_index 300");
    reject("{\"data\": [{\"frame_index\": 3}], \"label_index\": 1}", "skeleton",
           "missing skeleton");
    reject("{\"data\": [{\"frame_index\": 3, \"skeleton\": [7]}], \"label_index\": 1}",
           "not an object", "person not an object");

    char *p36 = nums(36, "", -1), *s18 = nums(18, "", -1);
    char *p34 = nums(34, "", -1), *p38 = nums(38, "", -1), *s17 = nums(17, "", -1);
    char *j;
    j = person_with(p34, s18), reject(j, "\"pose\" must be an array of 36", "pose of 34"), free(j);
    j = person_with(p38, s18), reject(j, "\"pose\" must be an array of 36", "pose of 38"), free(j);
    j = person_with(p36, s17), reject(j, "\"score\" must be an array of 18", "score of 17"), free(j);
    j = person_with(p36, ""), reject(j, "\"score\"", "empty score"), free(j);
    struct { const char *tok, *what; int in_pose; } bad[] = {
        {"\"0.5\"", "a string in the pose", 1}, {"true", "a boolean in the pose", 1},
        {"null", "null in the score", 0}, {"[0.5]", "an array in the score", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *pp = bad[i].in_pose ? nums(36, bad[i].tok, 7) : nums(36, "", -1);
        char *ss = bad[i].in_pose ? nums(18, "", -1) : nums(18, bad[i].tok, 11);
        j = person_with(pp, ss);
        reject(j, bad[i].in_pose ? "pose[7] (joint 3's y) is not a finite number" : "score[11] (joint 11) is not a finite",
               bad[i].what);
        free(j), free(pp), free(ss);
    }
    // Non-finite values cannot be written in strict JSON: NaN/Infinity
    // tokens and overflowing reals are refused by the parser.
    char *pn = nums(36, "NaN", 0);
    j = person_with(pn, s18), reject(j, "malformed JSON", "a NaN token"), free(j), free(pn);
    pn = nums(36, "Infinity", 3);
    j = person_with(pn, s18), reject(j, "malformed JSON", "an Infinity token"), free(j), free(pn);
    pn = nums(36, "1e400", 3);
    j = person_with(pn, s18), reject(j, "malformed JSON", "an overflowing real"), free(j), free(pn);
    // Finite doubles beyond float32's range would be inf once stored.
    pn = nums(36, "1e300", 4);
    j = person_with(pn, s18), reject(j, "pose[4] (joint 2's x) = 1e+300 is not a finite number in float32", "1e300 in the pose"), free(j), free(pn);
    char *sn = nums(18, "-3.5e38", 5);
    j = person_with(p36, sn), reject(j, "score[5] (joint 5) = -3.5e+38 is not a finite number in float32", "-3.5e38 in the score"), free(j), free(sn);
    free(p36), free(s18), free(p34), free(p38), free(s17);

    // The why buffer may be absent or tiny.
    int label, frames;
    int rc = kinetics_prepare("{", 1, out, &label, &frames, NULL, 0);
    is_int(CD_EREJECT, rc, "rejects with why == NULL");
    char small[8];
    rc = kinetics_prepare("{", 1, out, &label, &frames, small, sizeof small);
    ok(rc == CD_EREJECT && strlen(small) == 7, "why is truncated to its buffer");
}

// ---------------------------------------------------------------------------
// Label files

static void test_labels(void) {
    const char *txt = "{\"a-b_c\": {\"has_skeleton\": true, \"label\": \"x\", \"label_index\": 3},\n"
                      " \"zz\": {\"has_skeleton\": false, \"label\": \"y\", \"label_index\": 399}}";
    KineticsLabels *l = NULL;
    int rc = kinetics_labels_parse(txt, strlen(txt), &l, why, sizeof why);
    is_int(CD_OK, rc, "label file parsed (%s)", why);
    is_int(2, kinetics_labels_count(l), "two entries");
    int li = -1, hs = -1;
    rc = kinetics_labels_find(l, "a-b_c", &li, &hs);
    ok(rc == CD_OK && li == 3 && hs == 1, "find a-b_c: 3, has skeleton");
    rc = kinetics_labels_find(l, "zz", &li, &hs);
    ok(rc == CD_OK && li == 399 && hs == 0, "find zz: 399, no skeleton");
    is_int(CD_EFORMAT, kinetics_labels_find(l, "nope", &li, &hs), "unknown id -> CD_EFORMAT");
    kinetics_labels_free(l);
    kinetics_labels_free(NULL);

    const char *bad[] = {
        "{\"a\": {\"has_skeleton\": true, \"label_index\": 3}",   // truncated
        "[]",
        "{\"a\": 3}",
        "{\"a\": {\"has_skeleton\": true, \"label\": \"x\"}}",
        "{\"a\": {\"has_skeleton\": 1, \"label_index\": 3}}",
        "{\"a\": {\"has_skeleton\": true, \"label_index\": 3.5}}",
    };
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l = (KineticsLabels *)1;
        why[0] = 0;
        rc = kinetics_labels_parse(bad[i], strlen(bad[i]), &l, why, sizeof why);
        if (rc != CD_EFORMAT || l != NULL || !why[0]) {
            diag("bad label file %zu: rc %d why '%s'", i, rc, why);
            all = 0;
        }
    }
    ok(all, "malformed label files -> CD_EFORMAT with a reason");
}

int main(void) {
    plan(58);
    out = malloc(sizeof(float) * SKEL_T * SKEL_M * KINETICS_V * SKEL_C);
    if (!out) bail("out of memory");
    test_basic();
    test_more_than_five();
    test_ties();
    test_duplicate_frames();
    test_empty_data();
    test_rejections();
    test_labels();
    free(out);
    return tap_done();
}
