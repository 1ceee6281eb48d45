// 3010-ntu-parse: .skeleton parsing, rejection of bad input, denoising and
// normalisation on hand-built files whose right answer is known.
#include "ntu.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW 150
typedef struct Text { char *p; size_t n, cap; } Text;

static void put(Text *t, const char *s) {
    size_t l = strlen(s);
    if (t->n + l + 1 > t->cap) {
        t->cap = (t->n + l + 1) * 2;
        t->p = realloc(t->p, t->cap);
    }
    memcpy(t->p + t->n, s, l + 1);
    t->n += l;
}

// A body "kind": 0 tall person at x offset `off`, 1 wide noise blob.
typedef struct Track { const char *id; int first, last, kind; float off, amp; } Track;

static void joint_xyz(int kind, float off, float amp, int f, int j, float *x, float *y, float *z) {
    float w = amp * sinf(0.3f * (float)f + (float)j);
    if (kind == 0) { *x = off + 0.02f * (float)(j % 5) + w; *y = -0.8f + 0.07f * (float)j; *z = 3.0f + 0.01f * (float)j; }
    else { *x = off + 0.1f * (float)j + w; *y = 0.01f * (float)(j % 3); *z = 2.5f; }
}

// Frames [0, nframes); a track is present in frames first..last.
static char *make_file(int nframes, const Track *tr, int ntr, const char *eol, int empty_every) {
    Text t = {0};
    char line[512];
    snprintf(line, sizeof line, "%d%s", nframes, eol);
    put(&t, line);
    for (int f = 0; f < nframes; f++) {
        int nb = 0;
        if (!(empty_every && f % empty_every == empty_every - 1))
            for (int k = 0; k < ntr; k++) nb += f >= tr[k].first && f <= tr[k].last;
        snprintf(line, sizeof line, "%d%s", nb, eol);
        put(&t, line);
        if (!nb) continue;
        for (int k = 0; k < ntr; k++) {
            if (f < tr[k].first || f > tr[k].last) continue;
            snprintf(line, sizeof line, "%s 0 1 1 1 1 0 0.02764709 0.05745083 2%s25%s", tr[k].id, eol, eol);
            put(&t, line);
            for (int j = 0; j < 25; j++) {
                float x, y, z;
                joint_xyz(tr[k].kind, tr[k].off, tr[k].amp, f, j, &x, &y, &z);
                snprintf(line, sizeof line, "%.7g %.7g %.7g 277.419 191.8218 1036.233 519.1677 -0.2059419 0.05349901 0.9692109 -0.1239193 2%s",
                         x, y, z, eol);
                put(&t, line);
            }
        }
    }
    return t.p;
}

static float out[SKEL_T * ROW], out2[SKEL_T * ROW];

static int prep(const char *text, int copy, float *o, int *frames, char *why) {
    return ntu_prepare(text, strlen(text), copy, o, frames, why, 256);
}

static int rejects_with(const char *text, const char *needle, const char *label) {
    char why[256] = "";
    int frames, rc = prep(text, 0, out, &frames, why);
    int good = rc == CD_EREJECT && strstr(why, needle) != NULL;
    ok(good, "rejects %s", label);
    if (!good) diag("rc %d, reason '%s', wanted '%s'", rc, why, needle);
    return good;
}

static char *replace_once(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    if (!at) return strdup(s);
    size_t a = (size_t)(at - s), n = strlen(s) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    memcpy(r, s, a);
    strcpy(r + a, to);
    strcat(r, at + strlen(from));
    return r;
}

int main(void) {
    plan(29);
    char why[256];
    int frames;
    NtuName nn;

    ok(ntu_name_parse("S017C003P020R002A054", &nn) == CD_OK && nn.setup == 17 && nn.camera == 3 &&
           nn.performer == 20 && nn.replication == 2 && nn.action == 54, "parses SsssCcccPpppRrrrAaaa");
    ok(ntu_name_parse("S017C003P020R002A05", &nn) != CD_OK && ntu_name_parse("S017X003P020R002A054", &nn) != CD_OK &&
           ntu_name_parse("S000C003P020R002A054", &nn) != CD_OK, "rejects malformed names");

    // One body, 20 frames: centred on SpineMid (joint 2) of frame 0.
    Track one[] = {{"72057594037931101", 0, 19, 0, 0.1f, 0.05f}};
    char *lf = make_file(20, one, 1, "\n", 0), *crlf = make_file(20, one, 1, "\r\n", 0);
    is_int(CD_OK, prep(lf, 0, out, &frames, why), "single body file prepares");
    is_int(20, frames, "all 20 frames kept");
    float x0, y0, z0, x, y, z;
    joint_xyz(0, 0.1f, 0.05f, 0, 1, &x0, &y0, &z0);
    joint_xyz(0, 0.1f, 0.05f, 7, 4, &x, &y, &z);
    // Values went through text with 7 significant digits: compare loosely.
    ok(fabsf(out[0 * ROW + 3]) == 0 && fabsf(out[7 * ROW + 4 * 3 + 1] - (y - y0)) < 1e-5f,
       "origin is frame 0's SpineMid; others are offsets from it");
    int zero2 = 1;
    for (int t = 0; t < 20; t++) for (int k = 75; k < ROW; k++) zero2 &= out[t * ROW + k] == 0;
    ok(zero2, "NTU60: body 2 stays zero for a single actor");
    is_int(CD_OK, prep(crlf, 1, out2, &frames, why), "CRLF file prepares");
    int same = 1;
    for (int r = 0; r < 20; r++)
        same &= memcmp(out + r * ROW, out2 + r * ROW, 75 * sizeof(float)) == 0 &&
                memcmp(out2 + r * ROW, out2 + r * ROW + 75, 75 * sizeof(float)) == 0;
    ok(same, "CRLF gives the same values; NTU120 copies body 1 into body 2");
    int pad0 = 1;
    for (int k = 20 * ROW; k < SKEL_T * ROW; k++) pad0 &= out[k] == 0;
    ok(pad0, "zero padding to 300 frames");

    // Frames without bodies are dropped.
    Track one30[] = {{"72057594037931101", 0, 29, 0, 0.1f, 0.05f}};
    char *gaps = make_file(30, one30, 1, "\n", 5);
    prep(gaps, 0, out, &frames, why);
    is_int(24, frames, "frames with no body are dropped (30 - 6)");

    // Bad input.
    rejects_with("12\n1\n", "truncated", "a truncated file");
    rejects_with("", "truncated", "an empty file");
    char *bad = replace_once(lf, "\n25\n", "\n24\n");
    rejects_with(bad, "joint count 24", "a wrong joint count");
    free(bad);
    bad = replace_once(lf, "277.419", "27x.419");
    rejects_with(bad, "not a number", "a non-number");
    free(bad);
    bad = replace_once(lf, "\n0.1", "\nnan");
    char *bad2 = strstr(bad, "\nnan") ? bad : NULL;
    if (bad2) rejects_with(bad, "not finite", "NaN coordinates");
    else ok(0, "could not plant a NaN");
    free(bad);
    // The reference (numpy's float32 of the text) rejects hexadecimal floats,
    // which strtof reads; values beyond float32 become inf there and here.
    bad = replace_once(lf, "\n0.1 ", "\n0x1p3 ");
    rejects_with(strstr(bad, "0x1p3") ? bad : "", "hexadecimal", "a hexadecimal float (0x1p3)");
    free(bad);
    bad = replace_once(lf, "\n0.1 ", "\n1e300 ");
    rejects_with(strstr(bad, "1e300") ? bad : "", "not finite", "1e300 (inf in float32)");
    free(bad);
    bad = replace_once(lf, "20\n1\n", "20\n7\n");
    rejects_with(bad, "at most 6", "more bodies than Kinect tracks");
    free(bad);
    Text t = {0};
    put(&t, lf);
    put(&t, "1\n");
    rejects_with(t.p, "data after", "data beyond the announced frames");
    free(t.p);
    rejects_with("3\n0\n0\n0\n", "missing skeleton", "a file without any body");
    bad = replace_once(lf, "20\n", "x20\n");
    rejects_with(bad, "frame count", "a non-integer frame count");
    free(bad);
    Track longone[] = {{"1", 0, 300, 0, 0.1f, 0.05f}};
    char *big = make_file(301, longone, 1, "\n", 0);
    rejects_with(big, "more than the 300", "more than 300 frames");
    free(big);

    // Denoising: a short track (<= 11 frames) is dropped.
    Track shortn[] = {{"1", 0, 39, 0, 0.0f, 0.05f}, {"2", 3, 13, 0, 1.0f, 0.3f}};
    char *s1 = make_file(40, shortn, 2, "\n", 0);
    is_int(CD_OK, prep(s1, 0, out, &frames, why), "two bodies, one short: prepares");
    zero2 = 1;
    for (int k = 0; k < 40 * ROW; k++) if (k % ROW >= 75) zero2 &= out[k] == 0;
    ok(zero2 && frames == 40, "the 11-frame track is dropped as noise");

    // A wide (x spread > 0.8 y spread) body is dropped by the spread rule.
    Track wide[] = {{"1", 0, 39, 0, 0.0f, 0.01f}, {"2", 0, 39, 1, 1.0f, 0.3f}};
    char *s2 = make_file(40, wide, 2, "\n", 0);
    prep(s2, 0, out, &frames, why);
    zero2 = 1;
    for (int k = 0; k < 40 * ROW; k++) if (k % ROW >= 75) zero2 &= out[k] == 0;
    ok(zero2, "a body wider than tall in most frames is dropped");

    // Two real actors: actor 1 is the one with more motion.
    Track two[] = {{"1", 0, 39, 0, 0.0f, 0.01f}, {"2", 0, 39, 0, 1.0f, 0.2f}};
    char *s3 = make_file(40, two, 2, "\n", 0);
    prep(s3, 0, out, &frames, why);
    float ax, ay, az;
    joint_xyz(0, 1.0f, 0.2f, 0, 1, &ax, &ay, &az);
    ok(fabsf(out[3]) == 0 && fabsf(out[4]) == 0 && out[75 + 3] != 0, "actor 1 = the body with the larger motion (origin on it)");

    // Non-overlapping tracks share actor 1's slot; actor 2 stays empty.
    Track seq[] = {{"1", 0, 19, 0, 0.0f, 0.2f}, {"2", 20, 39, 0, 0.3f, 0.1f}};
    char *s4 = make_file(40, seq, 2, "\n", 0);
    prep(s4, 0, out, &frames, why);
    zero2 = 1;
    for (int k = 0; k < 40 * ROW; k++) if (k % ROW >= 75) zero2 &= out[k] == 0;
    ok(zero2 && frames == 40 && out[25 * ROW] != 0, "a body that follows actor 1 in time joins actor 1");

    // Missing frames of both actors are dropped (two bodies, a gap between).
    Track gap[] = {{"1", 0, 14, 0, 0.0f, 0.2f}, {"2", 0, 14, 0, 1.0f, 0.1f}};
    char *s5 = make_file(15, gap, 2, "\n", 0);
    is_int(CD_OK, prep(s5, 0, out, &frames, why), "two overlapping actors prepare");
    is_int(15, frames, "no frame lost when both actors are present");
    free(lf); free(crlf); free(gaps); free(s1); free(s2); free(s3); free(s4); free(s5);
    return tap_done();
}
