// 3100-synth-ntu - cocodiff-synth's NTU writer: determinism, the member
// layout, the exact .skeleton layout (checked by a small independent reader),
// class coverage, the X-Sub/X-View splits, the defects it is meant to carry,
// and that the project's own NTU parser accepts every sample.
#include "archive_in.h"
#include "ntu.h"
#include "skeleton.h"
#include "status.h"
#include "synth.h"
#include "tap/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 60
static const char *classes = "datasets/synth/actions.json";

static int gen(const SynthActions *acts, const char *path, uint64_t seed, int64_t n) {
    SynthConfig cfg = {SYNTH_NTU, n, seed, path, 0.0};
    Dist d = {0, 1, NULL, NULL};
    return synth_ntu_write(&cfg, acts, &d);
}

// Independent reader: numFrame, per frame numBody, per body a 10-field line,
// "25" and 25 lines of 12 fields. Returns 0 or a line number that is wrong.
typedef struct Check {
    int frames, empty_frames, max_bodies, crlf;
} Check;

static int count_fields(const char *s, const char *e, int *numeric) {
    int n = 0;
    *numeric = 1;
    while (s < e) {
        while (s < e && *s == ' ') s++;
        if (s >= e) break;
        char *end;
        strtod(s, &end);
        if (end == s || (end < e && *end != ' ')) *numeric = 0;
        n++;
        while (s < e && *s != ' ') s++;
    }
    return n;
}

static int check_text(const char *t, size_t len, Check *c) {
    const char *p = t, *end = t + len;
    int line = 0, numeric;
    memset(c, 0, sizeof *c);
    c->crlf = memchr(t, '\r', len) != NULL;
#define NEXT(le)                                                                    \
    do {                                                                            \
        const char *nl = memchr(p, '\n', (size_t)(end - p));                        \
        if (!nl) return line + 1;                                                   \
        le = nl;                                                                    \
        if (c->crlf) {                                                              \
            if (le == p || le[-1] != '\r') return line + 1;                         \
            le--;                                                                   \
        }                                                                           \
        line++;                                                                     \
    } while (0)
    const char *le;
    NEXT(le);
    c->frames = atoi(p);
    if (c->frames < 40 || c->frames > 300 || count_fields(p, le, &numeric) != 1) return line;
    p = memchr(p, '\n', (size_t)(end - p)) + 1;
    for (int f = 0; f < c->frames; f++) {
        NEXT(le);
        int nb = atoi(p);
        if (count_fields(p, le, &numeric) != 1 || nb < 0 || nb > 6) return line;
        if (nb == 0) c->empty_frames++;
        if (nb > c->max_bodies) c->max_bodies = nb;
        p = memchr(p, '\n', (size_t)(end - p)) + 1;
        for (int b = 0; b < nb; b++) {
            NEXT(le);
            if (count_fields(p, le, &numeric) != 10 || !numeric) return line;
            p = memchr(p, '\n', (size_t)(end - p)) + 1;
            NEXT(le);
            if (le - p != 2 || memcmp(p, "25", 2) != 0) return line;
            p = memchr(p, '\n', (size_t)(end - p)) + 1;
            for (int j = 0; j < 25; j++) {
                NEXT(le);
                if (count_fields(p, le, &numeric) != 12 || !numeric) return line;
                char st = le[-1];
                if (le[-2] != ' ' || st < '0' || st > '2') return line;
                p = memchr(p, '\n', (size_t)(end - p)) + 1;
            }
        }
    }
    return p == end ? 0 : line + 1;
#undef NEXT
}

static int name_ok(const char *m, int *s, int *c, int *pf, int *r, int *a) {
    const char *pre = "nturgb+d_skeletons/";
    size_t n = strlen(pre);
    if (strncmp(m, pre, n) != 0 || strlen(m) != n + 29 || strcmp(m + n + 20, ".skeleton") != 0)
        return 0;
    char rest[8];
    return sscanf(m + n, "S%3dC%3dP%3dR%3dA%3d%1s", s, c, pf, r, a, rest) == 6 && *s >= 1 &&
           *s <= 32 && *c >= 1 && *c <= 3 && *pf >= 1 && *pf <= 40 && *r >= 1 && *r <= 2;
}

int main(void) {
    FILE *f = fopen(classes, "r");
    if (!f) skip_all("no %s (run from the repository root)", classes);
    fclose(f);
    plan(16);
    SynthActions acts;
    if (synth_actions_load(classes, &acts) != CD_OK) bail("cannot load %s", classes);
    ok(acts.n >= 20, "%d action classes (>= 20)", acts.n);
    int two = 0;
    for (int i = 0; i < acts.n; i++) two += acts.a[i].persons == 2 && acts.a[i].id >= 50;
    ok(two >= 3, "%d two-person interactions in the A050+ range", two);

    char a[512], b[512], c[512], tg[512], tg2[512];
    const char *dir = tap_tmpdir();
    snprintf(a, sizeof a, "%s/a.zip", dir);
    snprintf(b, sizeof b, "%s/b.zip", dir);
    snprintf(c, sizeof c, "%s/c.zip", dir);
    snprintf(tg, sizeof tg, "%s/a.tar.gz", dir);
    snprintf(tg2, sizeof tg2, "%s/b.tar.gz", dir);
    is_int(CD_OK, gen(&acts, a, 7, N), "generate %d samples (zip)", N);
    gen(&acts, b, 7, N);
    gen(&acts, c, 8, N);
    ok(tap_same_file(a, b), "same seed, same bytes (zip)");
    ok(!tap_same_file(a, c), "another seed, other bytes");
    gen(&acts, tg, 7, 12);
    gen(&acts, tg2, 7, 12);
    ok(tap_same_file(tg, tg2), "same seed, same bytes (tar.gz, no gzip time stamp)");
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", a);
    FILE *pf = fopen(partial, "r");
    ok(!pf, "no .partial file left behind");
    if (pf) fclose(pf);

    ArchiveIn *in;
    if (archive_in_open(&in, a) != CD_OK) bail("cannot reopen %s", a);
    int files = 0, bad_names = 0, bad_text = 0, crlf = 0, lf = 0, with_empty = 0, extra = 0;
    int rejects = 0, train = 0, test = 0, cams[4] = {0}, seen[1000] = {0};
    char prev[64] = "", why[256];
    int sorted = 1;
    char *buf = NULL;
    size_t cap = 0, len;
    float *out = malloc(sizeof(float) * SKEL_T * 2 * 25 * 3);
    const char *name;
    int64_t size;
    int is_file;
    while (archive_in_next(in, &name, &size, &is_file) == CD_OK) {
        if (!is_file) continue;
        files++;
        int s, cm, p, r, ac;
        if (!name_ok(name, &s, &cm, &p, &r, &ac)) {
            if (bad_names++ < 3) diag("bad member name %s", name);
            continue;
        }
        if (strcmp(prev, name) >= 0) sorted = 0;
        snprintf(prev, sizeof prev, "%s", name);
        seen[ac]++;
        cams[cm]++;
        static const int tr[] = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38};
        int is_train = 0;
        for (int i = 0; i < 20; i++) is_train |= tr[i] == p;
        is_train ? train++ : test++;
        if (archive_in_read(in, &buf, &cap, &len, SIZE_MAX, why, sizeof why) != CD_OK) bail("read %s", name);
        Check ck;
        int bad = check_text(buf, len, &ck);
        if (bad && bad_text++ < 3) diag("%s: layout broken at line %d", name, bad);
        ck.crlf ? crlf++ : lf++;
        with_empty += ck.empty_frames > 0;
        int persons = 1;
        for (int i = 0; i < acts.n; i++)
            if (acts.a[i].id == ac) persons = acts.a[i].persons;
        extra += ck.max_bodies > persons;
        int frames;
        if (ntu_prepare(buf, len, 0, out, &frames, why, sizeof why) != CD_OK && rejects++ < 3)
            diag("%s rejected by ntu_prepare: %s", name, why);
    }
    archive_in_close(in);
    free(buf);
    free(out);
    is_int(N, files, "%d members", N);
    ok(bad_names == 0 && sorted, "members are nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton, "
       "sorted, unique");
    is_int(0, bad_text, "every file has the exact .skeleton layout");
    int missing = 0;
    for (int i = 0; i < acts.n; i++) missing += seen[acts.a[i].id] == 0;
    is_int(0, missing, "every class appears");
    ok(train > 0 && test > 0, "X-Sub: %d train and %d test samples", train, test);
    ok(cams[1] > 0 && cams[2] + cams[3] > 0, "X-View: cameras 1/2/3 = %d/%d/%d", cams[1], cams[2],
       cams[3]);
    ok(crlf > 0 && lf > 0, "both line endings occur (%d CRLF, %d LF)", crlf, lf);
    ok(with_empty > 0 && extra > 0, "defects: %d files with empty frames, %d with extra bodies",
       with_empty, extra);
    is_int(0, rejects, "ntu_prepare accepts every sample");
    synth_actions_free(&acts);
    return tap_done();
}
