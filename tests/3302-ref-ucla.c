// 3302-ref-ucla.c - the whole real NW-UCLA archive (../shared/data/ucla/
// all_sqe.zip, read through archive_in; skipped when absent) against the
// official CTR-GCN feeders/feeder_ucla.py (tests/data/ucla, made by
// scripts/ref/make_ucla_reference.py):
//   - every member is named, labelled and split by ucla_member as the
//     official data_dict lists it (split.tsv: 1,020 train, 464 test, labels
//     0..9) and parses with the official frame count;
//   - the test path of all 464 validation sequences, for joint, bone, motion
//     and bone motion, bit for bit: SHA-256 of each float32 (3, 52, 20, 1)
//     output against test-sha256.tsv, and six of them (three for the other
//     streams) element by element against reference.bundle;
//   - the training path of four training sequences (shortest, longest, two
//     more; joint and bone motion) with the official draws injected.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_in.h"
#include "checksum.h"
#include "feeder_ucla.h"
#include "status.h"
#include "tap/bundle.h"
#include "tap/tap.h"
#include "tap/ucla_ref.h"
#include "ucla.h"

#define DIR "tests/data/ucla"
#define NSEQ UCLA_REF_N
#define W UCLA_WINDOW
#define OUT_N ((size_t)UCLA_C * W * UCLA_V)

static const char *const STREAM[4] = {"joint", "bone", "motion", "bone_motion"};

typedef UclaRefEntry Entry;

static Entry E[UCLA_REF_N];
static int nE;

static Entry *find(const char *name) { return ucla_ref_find(E, nE, name); }

typedef struct Tally {
    int members, rejected, named, train, test, agree, parsed;
    int sha_ok[4], sha_bad;
    int full, full_ok, tr, tr_ok;
} Tally;

static void check_test(const Bundle *b, const Entry *e, const double *seq, int T, Tally *t) {
    float out[OUT_N];
    int idx[W];
    UclaDraws d;
    ucla_draws_test(&d, idx, T, W);
    for (int k = 0; k < 4; k++) {
        char hex[65], key[96];
        ucla_feeder_apply(out, seq, T, W, &d, k & 1, k >> 1);
        checksum_sha256_buf(out, sizeof out, hex);
        if (!strcmp(hex, e->sha[k])) t->sha_ok[k]++;
        else if (t->sha_bad++ < 10) diag("%s %s: SHA-256 differs from the official's", e->name, STREAM[k]);
        snprintf(key, sizeof key, "test/%s/%s", e->name, STREAM[k]);
        const BundleTensor *r = bundle_find(b, key);
        if (!r) continue;
        t->full++;
        if (r->numel == OUT_N && !memcmp(out, r->data, sizeof out)) t->full_ok++;
        else diag("%s: differs element-wise from the official", key);
    }
}

static void check_train(const Bundle *b, const Entry *e, const double *seq, int T, Tally *t) {
    for (int k = 0; k < 4; k++) {
        char key[128];
        snprintf(key, sizeof key, "train/%s/%s/draws", e->name, STREAM[k]);
        const BundleTensor *dr = bundle_find(b, key);
        snprintf(key, sizeof key, "train/%s/%s/out", e->name, STREAM[k]);
        const BundleTensor *want = bundle_find(b, key);
        if (!dr || !want || dr->numel != 3 + W || want->numel != OUT_N) continue;
        const int64_t *v = dr->data;
        int idx[W];
        UclaDraws d = {.agx = (int)v[0], .agy = (int)v[1], .idx = idx};
        memcpy(&d.s, &v[2], sizeof d.s);
        for (int i = 0; i < W; i++) idx[i] = (int)v[3 + i];
        float out[OUT_N];
        ucla_feeder_apply(out, seq, T, W, &d, k & 1, k >> 1);
        t->tr++;
        if (!memcmp(out, want->data, sizeof out)) t->tr_ok++;
        else diag("%s: differs from the official (x %d, y %d, s %.17g)", key, d.agx, d.agy, d.s);
    }
}

// One member: name, official entry, parse, then the paths.
static void member(const Bundle *b, const char *path, const char *json, size_t len, Tally *t) {
    char name[UCLA_NAME_LEN + 1], why[256] = "";
    UclaName n;
    int label, split;
    t->members++;
    if (ucla_member(path, name, &n, &label, &split, why, sizeof why) != CD_OK) {
        if (t->rejected++ < 5) diag("%s: %s", path, why);
        return;
    }
    t->named++;
    t->train += split == 0;
    t->test += split == 1;
    Entry *e = find(name);
    double *seq = NULL;
    int T = 0;
    int rc = ucla_parse(json, len, &seq, &T, why, sizeof why);
    if (rc != CD_OK) {
        if (t->rejected++ < 5) diag("%s: %s", path, why);
        return;
    }
    t->parsed++;
    if (e && !e->seen && e->split == split && e->label == label && e->frames == T) t->agree++;
    else diag("%s: label %d split %d frames %d; official %s", name, label, split, T, e ? "differs" : "has no entry");
    if (e) {
        e->seen = 1;
        if (split == 1) check_test(b, e, seq, T, t);
        else check_train(b, e, seq, T, t);
    }
    free(seq);
}

int main(void) {
    const char *zip = tap_ucla_zip();
    if (!zip) skip_all("no NW-UCLA archive (../shared/data/ucla/all_sqe.zip or COCODIFF_UCLA_ZIP)");
    Bundle b;
    if (bundle_load(DIR "/reference.bundle", &b)) bail("no %s/reference.bundle", DIR);
    nE = ucla_ref_tables(DIR, E);
    plan(9);
    ArchiveIn *a;
    if (archive_in_open(&a, zip) != CD_OK) bail("cannot open %s", zip);
    Tally t = {0};
    char *buf = NULL, why[256];
    size_t cap = 0, len;
    const char *path;
    int64_t size;
    int is_file, rc;
    while ((rc = archive_in_next(a, &path, &size, &is_file)) == CD_OK) {
        if (!is_file) continue;
        char *p = strdup(path);
        if (!p || archive_in_read(a, &buf, &cap, &len, SIZE_MAX, why, sizeof why) != CD_OK) bail("%s: %s", path, why);
        member(&b, p, buf, len, &t);
        free(p);
    }
    if (rc != 1) bail("%s: corrupt archive", zip);
    archive_in_close(a);
    free(buf);

    ok(t.members == NSEQ && t.named == NSEQ && t.parsed == NSEQ && t.rejected == 0,
       "%d members, all named aAA_sSS_eEE_vVV.json and parsed (%d rejected)", t.members, t.rejected);
    ok(t.train == 1020 && t.test == 464, "split by view: %d train (views 1, 2), %d test (view 3)", t.train, t.test);
    ok(t.agree == nE && nE == NSEQ, "split, label and frame count equal the official data_dict for %d of %d",
       t.agree, nE);
    for (int k = 0; k < 4; k++)
        ok(t.sha_ok[k] == 464, "test path, %s: %d of 464 validation outputs bit-equal to the official (SHA-256)",
           STREAM[k], t.sha_ok[k]);
    ok(t.full == 15 && t.full_ok == t.full, "test path: %d of %d subset tensors equal element by element",
       t.full_ok, t.full);
    ok(t.tr == 8 && t.tr_ok == t.tr, "training path, official draws injected: %d of %d outputs bit-equal",
       t.tr_ok, t.tr);
    bundle_free(&b);
    return tap_done();
}
