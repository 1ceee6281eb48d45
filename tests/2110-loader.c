// 2110-loader.c - the data-parallel loader (src/data/loader.c) on a small
// prepared file: bin/cocodiff-synth (60 NTU samples, seed 3) then
// bin/cocodiff-prep --dataset ntu60 -> ntu60-xsub.h5 (train 39, test 21).
// Checks, with simulated ranks in one process (llm.c test_dataloader style):
// the ranks' slices of every batch concatenate to the 1-rank batch (indices,
// labels and tensors); batches hold the right samples, transformed with the
// (seed, epoch, index) key; epoch orders differ between epochs and repeat
// for the same seed; drop_last; clear errors. Reports loader_batch samples/s
// (train mode, batch 16, window 64, one thread).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feeder.h"
#include "h5io_prep.h"
#include "loader.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

#define SEED 1234
static char path[512], why[512];

static void make_file(void) { tap_ntu_h5(60, path, sizeof path); }

typedef struct Batch {
    int n;
    float *x;
    int32_t *label;
    int64_t *index;
} Batch;

static Batch batch_new(int n, size_t sf) {
    return (Batch){0, malloc((size_t)n * sf * sizeof(float)), malloc((size_t)n * 4), malloc((size_t)n * 8)};
}
static void batch_free(Batch *b) {
    free(b->x);
    free(b->label);
    free(b->index);
}

// The ranks' slices of every batch of epochs 0..1 concatenate to the 1-rank
// batch. Returns 1 when all equal.
static int ranks_agree(int group, const FeederConfig *f, int B, int nranks, int drop_last) {
    Loader *one, *r[8];
    if (loader_open(&one, path, group, f, B, 0, 1, SEED, 1, drop_last, why, sizeof why)) bail("%s", why);
    for (int k = 0; k < nranks; k++)
        if (loader_open(&r[k], path, group, f, B, k, nranks, SEED, 1, drop_last, why, sizeof why))
            bail("%s", why);
    size_t sf = loader_sample_floats(one);
    Batch all = batch_new(B, sf), part = batch_new(B, sf);
    int good = 1;
    for (int e = 0; e < 2; e++)
        for (int b = 0; b < loader_num_batches(one); b++) {
            if (loader_batch(one, e, b, all.x, all.label, all.index, &all.n)) bail("batch failed");
            int off = 0;
            for (int k = 0; k < nranks; k++) {
                if (loader_num_batches(r[k]) != loader_num_batches(one)) good = 0;
                if (loader_batch(r[k], e, b, part.x, part.label, part.index, &part.n)) bail("batch failed");
                if (part.n > loader_max_local(r[k]) || off + part.n > all.n ||
                    memcmp(part.x, all.x + off * sf, part.n * sf * sizeof(float)) ||
                    memcmp(part.label, all.label + off, part.n * 4) ||
                    memcmp(part.index, all.index + off, part.n * 8)) {
                    diag("group %d, %d ranks: epoch %d batch %d rank %d differs", group, nranks, e, b, k);
                    good = 0;
                }
                off += part.n;
            }
            if (off != all.n) good = 0;
        }
    batch_free(&all);
    batch_free(&part);
    loader_free(one);
    for (int k = 0; k < nranks; k++) loader_free(r[k]);
    return good;
}

static void test_sharding(void) {
    FeederConfig tr = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    FeederConfig te = feeder_config_official(skel_layout_find("ntu25"), 0, stream_of(1, 1));
    ok(ranks_agree(0, &tr, 8, 4, 1), "train, batch 8: ranks 0..3's slices concatenate to the 1-rank batch");
    ok(ranks_agree(0, &tr, 8, 3, 0), "train, batch 8, no drop_last: 3 uneven ranks agree with 1 rank");
    ok(ranks_agree(1, &te, 8, 4, 0), "test (bone+vel), batch 8 with a partial last batch: 4 ranks agree");
}

// Every batch holds the epoch's order slice, with the file's labels and the
// feeder's output for (seed, epoch, index).
static void test_content(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(1, 0));
    Loader *l;
    if (loader_open(&l, path, 0, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why)) bail("%s", why);
    int64_t N = loader_num_samples(l);
    size_t sf = loader_sample_floats(l), raw = (size_t)SKEL_C * SKEL_T * NTU_V * SKEL_M;
    int64_t *order = malloc(N * 8);
    int32_t *labels = malloc(N * 4);
    float *stored = malloc(raw * sizeof(float)), *want = malloc(sf * sizeof(float));
    Batch bt = batch_new(8, sf);
    if (h5io_prep_read(path, 0, 0, N, NULL, labels, NULL, NULL)) bail("cannot read labels");
    int good = 1, seen = 0, epoch = 5;
    char *hit = calloc(N, 1);
    loader_order(l, epoch, order);
    for (int b = 0; b < loader_num_batches(l); b++) {
        loader_batch(l, epoch, b, bt.x, bt.label, bt.index, &bt.n);
        for (int i = 0; i < bt.n; i++) {
            int64_t idx = bt.index[i];
            if (idx != order[b * 8 + i] || bt.label[i] != labels[idx] || hit[idx]) good = 0;
            hit[idx] = 1;
            seen++;
            h5io_prep_read(path, 0, idx, 1, stored, NULL, NULL, NULL);
            feeder_transform(&f, want, stored, SKEL_C, SKEL_T, NTU_V, SKEL_M, SEED, epoch, idx);
            if (memcmp(want, bt.x + i * sf, sf * sizeof(float))) good = 0;
        }
    }
    ok(good && seen == 32 && N == 39,
       "batches = the epoch's order, the file's labels, feeder_transform(seed, epoch, index) "
       "(%d distinct of %lld)", seen, (long long)N);
    free(hit);
    free(order);
    free(labels);
    free(stored);
    free(want);
    batch_free(&bt);
    loader_free(l);
}

static void test_orders(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    Loader *a, *b, *c, *d;
    if (loader_open(&a, path, 0, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why) ||
        loader_open(&b, path, 0, &f, 8, 1, 2, SEED, 1, 1, why, sizeof why) ||
        loader_open(&c, path, 0, &f, 8, 0, 1, SEED + 1, 1, 1, why, sizeof why) ||
        loader_open(&d, path, 0, &f, 8, 0, 1, SEED, 0, 1, why, sizeof why))
        bail("%s", why);
    int64_t N = loader_num_samples(a), o[4][64];
    loader_order(a, 0, o[0]);
    loader_order(a, 1, o[1]);
    loader_order(b, 0, o[2]);
    loader_order(c, 0, o[3]);
    int perm = 1;
    for (int k = 0; k < 4; k++) {
        char seen[64] = {0};
        for (int64_t i = 0; i < N; i++) {
            if (o[k][i] < 0 || o[k][i] >= N || seen[o[k][i]]) perm = 0;
            else seen[o[k][i]] = 1;
        }
    }
    ok(perm && memcmp(o[0], o[1], N * 8) != 0 && memcmp(o[0], o[3], N * 8) != 0,
       "epoch orders are permutations; epochs 0 and 1 differ, another seed differs");
    ok(memcmp(o[0], o[2], N * 8) == 0, "the same seed and epoch give the same order (another loader, another rank)");
    loader_order(d, 3, o[0]);
    int ident = 1;
    for (int64_t i = 0; i < N; i++) ident &= o[0][i] == i;
    ok(ident, "shuffle 0: the identity order");
    loader_free(a);
    loader_free(b);
    loader_free(c);
    loader_free(d);
}

static void test_drop_last(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    Loader *a, *b;
    if (loader_open(&a, path, 0, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why) ||
        loader_open(&b, path, 0, &f, 8, 0, 1, SEED, 1, 0, why, sizeof why))
        bail("%s", why);
    size_t sf = loader_sample_floats(a);
    Batch bt = batch_new(8, sf);
    int n4 = -1, rc_past = loader_batch(a, 0, 4, bt.x, bt.label, bt.index, &bt.n);
    loader_batch(b, 0, 4, bt.x, bt.label, bt.index, &n4);
    ok(loader_num_batches(a) == 4 && rc_past == CD_EARG && loader_num_batches(b) == 5 && n4 == 7,
       "39 samples, batch 8: drop_last gives 4 batches (batch 4 refused), otherwise 5 (last of %d)", n4);
    batch_free(&bt);
    loader_free(a);
    loader_free(b);
}

static void test_errors(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    Loader *l = (Loader *)(uintptr_t)1;   // loader_open must reset it
    char missing[600], zip[600];
    snprintf(missing, sizeof missing, "%s/nope.h5", tap_tmpdir());
    snprintf(zip, sizeof zip, "%s/x.zip", tap_tmpdir());
    int rc = loader_open(&l, missing, 0, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EIO && !l && strstr(why, missing), "missing file: CD_EIO naming it (%s)", why);
    rc = loader_open(&l, path, 2, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "group 2") && strstr(why, path), "group 2: CD_EARG (%s)", why);
    rc = loader_open(&l, zip, 0, &f, 8, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EFORMAT && strstr(why, zip), "not a prep file: CD_EFORMAT (%s)", why);
    FeederConfig k = feeder_config_official(skel_layout_find("openpose18"), 1, stream_of(0, 0));
    rc = loader_open(&l, path, 0, &k, 8, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "openpose18"), "feeder layout != file layout: CD_EARG (%s)", why);
    rc = loader_open(&l, path, 0, &f, 8, 2, 2, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "rank 2 of 2"), "rank out of range: CD_EARG (%s)", why);
    rc = loader_open(&l, path, 0, &f, 64, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "drop_last"), "batch larger than the group with drop_last: CD_EARG (%s)", why);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_speed(void) {
    FeederConfig f = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    Loader *l;
    if (loader_open(&l, path, 0, &f, 16, 0, 1, SEED, 1, 1, why, sizeof why)) bail("%s", why);
    Batch bt = batch_new(16, loader_sample_floats(l));
    loader_batch(l, 0, 0, bt.x, bt.label, bt.index, &bt.n);   // warm-up
    int samples = 0, rc = 0;
    double t0 = now();
    for (int e = 1; e <= 20; e++)
        for (int b = 0; b < loader_num_batches(l); b++) {
            rc |= loader_batch(l, e, b, bt.x, bt.label, bt.index, &bt.n);
            samples += bt.n;
        }
    double dt = now() - t0;
    ok(rc == CD_OK && samples == 640, "train loader, batch 16, window 64, 1 thread: %d samples in %.3f s "
       "= %.0f samples/s", samples, dt, samples / dt);
    batch_free(&bt);
    loader_free(l);
}

int main(void) {
    plan(15);
    make_file();
    test_sharding();    // 3
    test_content();     // 1
    test_orders();      // 3
    test_drop_last();   // 1
    test_errors();      // 6
    test_speed();       // 1 -> 15
    return tap_done();
}
