// 3210-ucla.c - NW-UCLA names, labels and sequence JSON (ucla.h) on
// hand-made inputs: name parsing, member paths (folder, .json), the label
// rule and class names, a good sequence read exactly (integers, reals, the
// (T, 20, 3) order), and every rejection with its reason: malformed JSON,
// not an object, no "skeletons", empty, wrong joint count, wrong
// coordinate count, non-numbers, NaN / Infinity / -Infinity / overflow,
// unknown names (format, action, view).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "tap/tap.h"
#include "ucla.h"

// A sequence of T frames; frame `bad_frame` gets `joints` joints and its
// first joint the text `first` instead of [x, y, z].
static char *make_json(int T, int bad_frame, int joints, const char *first) {
    size_t cap = 64 + (size_t)T * UCLA_V * 64, n = 0;
    char *s = malloc(cap);
    if (!s) bail("out of memory");
    n += (size_t)snprintf(s + n, cap - n, "{\"file_name\": \"a01_s01_e00_v01\", \"skeletons\": [");
    for (int t = 0; t < T; t++) {
        int V = t == bad_frame ? joints : UCLA_V;
        n += (size_t)snprintf(s + n, cap - n, "%s[", t ? ", " : "");
        for (int v = 0; v < V; v++) {
            if (t == bad_frame && v == 0 && first)
                n += (size_t)snprintf(s + n, cap - n, "%s", first);
            else
                n += (size_t)snprintf(s + n, cap - n, "%s[%d.%d, -%d, %de-3]", v ? ", " : "", t, v, v, t + 1);
        }
        n += (size_t)snprintf(s + n, cap - n, "]");
    }
    snprintf(s + n, cap - n, "]}");
    return s;
}

static void rejects(const char *json, const char *want, const char *what) {
    double *x = (double *)1;
    int T = -1;
    char why[256] = "";
    int rc = ucla_parse(json, strlen(json), &x, &T, why, sizeof why);
    int good = rc == CD_EREJECT && x == NULL && T == 0 && strstr(why, want);
    if (!ok(good, "rejected: %s", what)) diag("rc %d, why \"%s\" (want \"%s\")", rc, why, want);
    else diag("%s -> %s", what, why);
}

static void test_names(void) {
    UclaName n;
    ok(ucla_name_parse("a12_s10_e05_v03", &n) == CD_OK && n.action == 12 && n.subject == 10 &&
           n.episode == 5 && n.view == 3,
       "name a12_s10_e05_v03: action 12, subject 10, episode 5, view 3");
    const char *bad[] = {"a12_s10_e05_v3", "a12_s10_e05_v033", "b12_s10_e05_v03", "a12-s10_e05_v03",
                         "a1x_s10_e05_v03", ""};
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) all &= ucla_name_parse(bad[i], &n) == CD_EFORMAT;
    ok(all, "malformed names refused (length, tags, separators, digits)");
    char name[UCLA_NAME_LEN + 1], why[256] = "";
    int label = -1, split = -1;
    int rc = ucla_member("all_sqe/a08_s02_e01_v03.json", name, &n, &label, &split, why, sizeof why);
    ok(rc == CD_OK && !strcmp(name, "a08_s02_e01_v03") && label == 6 && split == 1,
       "member all_sqe/a08_s02_e01_v03.json: label 6 (donning), test (view 3)");
    rc = ucla_member("a01_s01_e00_v02.json", name, &n, &label, &split, why, sizeof why);
    ok(rc == CD_OK && label == 0 && split == 0, "member without folder, view 2: label 0, train");
    static const struct { const char *path, *want; } unknown[] = {
        {"all_sqe/a07_s01_e00_v01.json", "action a07"}, {"all_sqe/a13_s01_e00_v01.json", "action a13"},
        {"all_sqe/a01_s01_e00_v04.json", "view v04"},   {"all_sqe/a01_s01_e00_v01.txt", "unknown name"},
        {"all_sqe/readme.json", "unknown name"},        {"all_sqe/a01_s01_e0x_v01.json", "unknown name"},
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        why[0] = 0;
        rc = ucla_member(unknown[i].path, name, &n, &label, &split, why, sizeof why);
        if (!ok(rc == CD_EREJECT && strstr(why, unknown[i].want), "member %s rejected (%s)", unknown[i].path, why))
            diag("rc %d, want \"%s\"", rc, unknown[i].want);
    }
}

static void test_labels(void) {
    static const int actions[10] = {1, 2, 3, 4, 5, 6, 8, 9, 11, 12};
    int good = 1;
    for (int l = 0; l < 10; l++) good &= ucla_label(actions[l]) == l && ucla_action(l) == actions[l];
    good &= ucla_label(7) < 0 && ucla_label(10) < 0 && ucla_label(0) < 0 && ucla_action(10) < 0;
    ok(good, "labels 0..9 are the action ids 1-6, 8, 9, 11, 12 in order; 7 and 10 have none");
    ok(!strcmp(ucla_class_name(0), "pick up with one hand") && !strcmp(ucla_class_name(6), "donning") &&
           !strcmp(ucla_class_name(9), "carry") && !ucla_class_name(10),
       "class names: label 0 pick up with one hand, 6 donning, 9 carry");
}

static void test_parse(void) {
    char *json = make_json(3, -1, UCLA_V, NULL);
    double *x = NULL;
    int T = 0;
    char why[256] = "";
    int rc = ucla_parse(json, strlen(json), &x, &T, why, sizeof why);
    ok(rc == CD_OK && T == 3, "a 3-frame sequence parses (%s)", why);
    // frame 2 joint 7: [2.7, -7, 3e-3]
    ok(rc == CD_OK && x[(2 * UCLA_V + 7) * 3 + 0] == 2.7 && x[(2 * UCLA_V + 7) * 3 + 1] == -7.0 &&
           x[(2 * UCLA_V + 7) * 3 + 2] == 3e-3,
       "values exact, integers included, in (T, 20, 3) order");
    free(x);
    free(json);

    rejects("{\"skeletons\": [[[1, 2, 3]]", "malformed JSON", "truncated JSON");
    rejects("[1, 2]", "not an object", "a JSON array");
    rejects("{\"file_name\": \"x\"}", "missing \"skeletons\"", "no skeletons");
    rejects("{\"skeletons\": []}", "empty sequence", "no frames");
    json = make_json(4, 2, 19, NULL);
    rejects(json, "frame 2 has 19 joints, want 20", "a frame with 19 joints");
    free(json);
    json = make_json(2, 1, 25, NULL);
    rejects(json, "frame 1 has 25 joints, want 20", "a frame with 25 joints (NTU layout)");
    free(json);
    json = make_json(2, 0, UCLA_V, "[1, 2]");
    rejects(json, "frame 0 joint 0: want [x, y, z]", "a joint with 2 coordinates");
    free(json);
    json = make_json(2, 1, UCLA_V, "[1, \"2\", 3]");
    rejects(json, "frame 1 joint 0: coordinate 1 is not a number", "a string coordinate");
    free(json);
    json = make_json(2, 1, UCLA_V, "[1, null, 3]");
    rejects(json, "coordinate 1 is not a number", "a null coordinate");
    free(json);
    static const char *const nonfinite[] = {"[NaN, 0, 0]", "[0, Infinity, 0]", "[0, 0, -Infinity]", "[1e999, 0, 0]"};
    for (int i = 0; i < 4; i++) {
        json = make_json(3, 1, UCLA_V, nonfinite[i]);
        rejects(json, "non-finite number", nonfinite[i]);
        free(json);
    }
}

int main(void) {
    plan(4 + 6 + 2 + 2 + 13);
    test_names();
    test_labels();
    test_parse();
    return tap_done();
}
