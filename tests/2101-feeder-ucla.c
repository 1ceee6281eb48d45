// 2101-feeder-ucla.c - the NW-UCLA feeder transform (feeder_ucla.h) against
// the official feeders/feeder_ucla.py, without the dataset: the synthetic
// sequences tests/data/ucla/synth_T{002,009,057}.json through the official
// __getitem__ (scripts/ref/make_ucla_reference.py), bit for bit:
//   - test path, joint / bone / motion / bone motion;
//   - training path with the official draws injected (angles, scale, sorted
//     frame indices as random.randint/uniform/sample returned them), joint
//     and bone motion;
// and the rest by property: the bone partners are the official pairs; the
// test-path indices (linspace); our own training draws (ranges, sorted,
// at most 100 copies of a frame, determinism by key, both angle ends and
// every frame reached, W > 100 T refused); config check.
// The real sequences are tests/3302-ref-ucla.c's.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeder_ucla.h"
#include "status.h"
#include "tap/bundle.h"
#include "tap/tap.h"
#include "ucla.h"

#define DIR "tests/data/ucla"
#define W UCLA_WINDOW
#define OUT_N ((size_t)UCLA_C * W * UCLA_V)

static const char *const STREAM[4] = {"joint", "bone", "motion", "bone_motion"};

static const float *want_f32(const Bundle *b, const char *name) {
    const BundleTensor *t = bundle_find(b, name);
    if (!t || t->dtype != 0 || t->numel != OUT_N) bail("%s: no (3, 52, 20, 1) tensor %s", DIR, name);
    return t->data;
}

// The official draws of one training call: agx, agy, bits of s, idx[52].
static UclaDraws want_draws(const Bundle *b, const char *name, int *idx) {
    const BundleTensor *t = bundle_find(b, name);
    if (!t || t->dtype != 1 || t->numel != 3 + W) bail("%s: no draws tensor %s", DIR, name);
    const int64_t *v = t->data;
    UclaDraws d = {.agx = (int)v[0], .agy = (int)v[1], .idx = idx};
    memcpy(&d.s, &v[2], sizeof d.s);
    for (int i = 0; i < W; i++) idx[i] = (int)v[3 + i];
    return d;
}

static void test_synthetic(const Bundle *b) {
    static const int lengths[3] = {2, 9, 57};
    float out[OUT_N];
    int idx[W];
    for (int s = 0; s < 3; s++) {
        char name[32], path[96], key[128], why[256] = "";
        snprintf(name, sizeof name, "synth_T%03d", lengths[s]);
        snprintf(path, sizeof path, DIR "/%s.json", name);
        size_t len;
        char *json = tap_slurp(path, &len);
        if (!json) bail("cannot read %s (HINT: scripts/ref/make_ucla_reference.py)", path);
        double *seq;
        int T;
        int rc = ucla_parse(json, len, &seq, &T, why, sizeof why);
        if (!ok(rc == CD_OK && T == lengths[s], "%s parses: %d frames", name, lengths[s])) bail("%s", why);
        UclaDraws d;
        ucla_draws_test(&d, idx, T, W);
        for (int k = 0; k < 4; k++) {
            ucla_feeder_apply(out, seq, T, W, &d, k & 1, k >> 1);
            snprintf(key, sizeof key, "test/%s/%s", name, STREAM[k]);
            is_tensor_equal(out, want_f32(b, key), OUT_N, "%s test path, %s: equals the official", name,
                            STREAM[k]);
        }
        for (int k = 0; k < 4; k += 3) {
            snprintf(key, sizeof key, "train/%s/%s/draws", name, STREAM[k]);
            UclaDraws t = want_draws(b, key, idx);
            ucla_feeder_apply(out, seq, T, W, &t, k & 1, k >> 1);
            snprintf(key, sizeof key, "train/%s/%s/out", name, STREAM[k]);
            is_tensor_equal(out, want_f32(b, key), OUT_N,
                            "%s training path, %s, official draws (x %d, y %d, s %.4f): equals the official",
                            name, STREAM[k], t.agx, t.agy, t.s);
        }
        free(seq);
        free(json);
    }
}

static void test_bone_pairs(const Bundle *b) {
    const BundleTensor *t = bundle_find(b, "bone/pairs");
    if (!t || t->dtype != 1 || t->numel != 2 * UCLA_V) bail("no bone/pairs in the reference");
    const int64_t *p = t->data;
    const int *par = ucla_bone_parents();
    int same = 1;
    for (int k = 0; k < UCLA_V; k++) same &= par[p[2 * k] - 1] == p[2 * k + 1] - 1;
    ok(same, "bone partners are feeder_ucla.py's 20 pairs, (3, 3) included");
}

static void test_linspace(void) {
    int idx[W];
    UclaDraws d;
    ucla_draws_test(&d, idx, 52, W);
    int id = 1;
    for (int i = 0; i < W; i++) id &= idx[i] == i;
    ucla_draws_test(&d, idx, 1, W);
    int zero = 1;
    for (int i = 0; i < W; i++) zero &= idx[i] == 0;
    ucla_draws_test(&d, idx, 201, W);
    // np.linspace(0, 200, 52).astype(int)[[1, 2, 50, 51]] = 3, 7, 196, 200
    ok(id && zero && idx[1] == 3 && idx[2] == 7 && idx[50] == 196 && idx[51] == 200 && d.agx == 0 &&
           d.agy == 0 && d.s == 1.0,
       "test draws: linspace indices (T 52: identity, T 1: zeros, T 201: 0 3 7 .. 196 200), no rotation");
}

static void test_own_draws(void) {
    int idx[W], idx2[W];
    UclaDraws d, d2;
    int in_range = 1, sorted = 1, lo = 0, hi = 0, rc_ok = 1;
    int seen[9] = {0};
    for (int i = 0; i < 3000; i++) {
        int T = 1 + i % 9;
        FeederRng r = feeder_rng(7, 2, i);
        rc_ok &= ucla_draws_train(&d, idx, T, W, &r) == CD_OK;
        in_range &= d.agx >= -60 && d.agx <= 60 && d.agy >= -60 && d.agy <= 60 && d.s >= 0.5 && d.s < 1.5;
        lo |= d.agx == -60 || d.agy == -60;
        hi |= d.agx == 60 || d.agy == 60;
        int count = 1;
        for (int k = 0; k < W; k++) {
            in_range &= idx[k] >= 0 && idx[k] < T;
            if (k) {
                sorted &= idx[k] >= idx[k - 1];
                count = idx[k] == idx[k - 1] ? count + 1 : 1;
                in_range &= count <= UCLA_SAMPLE_REPEAT;
            }
            if (T == 9) seen[idx[k]] = 1;
        }
    }
    int all = 1;
    for (int v = 0; v < 9; v++) all &= seen[v];
    ok(rc_ok && in_range && sorted, "own draws: angles in [-60, 60], s in [0.5, 1.5), indices sorted in [0, T)");
    ok(lo && hi && all, "own draws: both angle ends drawn, every frame of T = 9 reached");
    FeederRng a = feeder_rng(7, 3, 11), b = feeder_rng(7, 3, 11), c = feeder_rng(7, 3, 12);
    ucla_draws_train(&d, idx, 40, W, &a);
    ucla_draws_train(&d2, idx2, 40, W, &b);
    int same = d.agx == d2.agx && d.agy == d2.agy && d.s == d2.s && !memcmp(idx, idx2, sizeof idx);
    ucla_draws_train(&d2, idx2, 40, W, &c);
    int differ = d.agx != d2.agx || d.agy != d2.agy || d.s != d2.s || memcmp(idx, idx2, sizeof idx);
    ok(same && differ, "own draws: the same key gives the same draws, another index others");
    FeederRng r = feeder_rng(1, 0, 0);
    int big[101];
    diag("the next line on stderr is an expected error");
    ok(ucla_draws_train(&d, big, 1, 101, &r) == CD_EARG && ucla_draws_train(&d, big, 1, 100, &r) == CD_OK,
       "window 101 from 1 frame refused (random.sample fails too), 100 accepted");
}

static void test_transform(void) {
    double seq[3 * UCLA_V * UCLA_C];
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) seq[i] = (double)((i * 37) % 101) / 50.0 - 1.0;
    float a[OUT_N], b[OUT_N];
    UclaFeederConfig tr = {.window = W, .train = 1, .bone = 1, .motion = 0};
    UclaFeederConfig te = {.window = W, .train = 0};
    int rc = ucla_feeder_transform(&tr, a, seq, 3, 5, 1, 4) | ucla_feeder_transform(&tr, b, seq, 3, 5, 1, 4);
    ok(rc == CD_OK && !memcmp(a, b, sizeof a), "training transform: deterministic for (seed, epoch, index)");
    int idx[W];
    UclaDraws d;
    ucla_draws_test(&d, idx, 3, W);
    ucla_feeder_apply(b, seq, 3, W, &d, 0, 0);
    rc = ucla_feeder_transform(&te, a, seq, 3, 5, 1, 4);
    int in = 1;
    for (size_t i = 0; i < OUT_N; i++) in &= a[i] >= -1.0f && a[i] <= 1.0f;
    ok(rc == CD_OK && !memcmp(a, b, sizeof a) && in, "test transform: the test draws, values in [-1, 1]");
    UclaFeederConfig bad = {.window = 0};
    char why[128] = "";
    ok(ucla_feeder_config_check(&bad, why, sizeof why) == CD_EARG && strstr(why, "window"),
       "window 0 refused (%s)", why);
}

int main(void) {
    plan(3 * 7 + 1 + 1 + 4 + 3);
    Bundle b;
    if (bundle_load(DIR "/reference.bundle", &b))
        bail("no %s/reference.bundle (HINT: scripts/ref/make_ucla_reference.py)", DIR);
    test_synthetic(&b);
    test_bone_pairs(&b);
    test_linspace();
    test_own_draws();
    test_transform();
    bundle_free(&b);
    return tap_done();
}
