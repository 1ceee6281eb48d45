// 5033-ucla-crafted.c - NW-UCLA through the pipeline on a crafted archive
// (no real data needed): all_sqe/ with the three synthetic sequences of
// tests/data/ucla (synth_T002/T009/T057.json, the dataset's JSON format)
// under 18 valid names, and bad members:
//   - prep on 1 and 2 ranks: byte-identical files; each bad sequence (wrong
//     joint count, empty, NaN, unknown name, an action outside the ten)
//     rejected with its reason in ucla-rejects.tsv, every good one kept;
//   - the loader's training path: repeat 3 makes the epoch 3 x /train, each
//     sequence visited 3 times with fresh draws, each output equal to
//     ucla_feeder_transform(training path) on that sequence keyed by
//     (seed, epoch, index + repetition x N); the same batches on 1 and 2
//     ranks; the test path equal to ucla_feeder_transform's;
//   - cocodiff-train (jobs/ucla-joint.yaml, tiny) on 1 and 2 ranks: the
//     same losses, test top-1 each epoch; cocodiff-eval of its checkpoint.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeder.h"
#include "feeder_ucla.h"
#include "fsutil.h"
#include "h5io_prep.h"
#include "loader.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"
#include "ucla.h"

#define SRC "tests/data/ucla"
#define NGOOD 18
#define SEED 7
#define REPEAT 3

static const char *const SYNTH[3] = {"synth_T057", "synth_T009", "synth_T002"};
static const int ACTIONS[10] = {1, 2, 3, 4, 5, 6, 8, 9, 11, 12};

static void put(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/all_sqe/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) bail("cannot write %s", p);
}

// One frame of n joints, joint 0 optionally NaN.
static void frame(char *buf, size_t len, int n, int nan) {
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int j = 0; j < n && k < len; j++)
        k += (size_t)snprintf(buf + k, len - k, "%s[%s, 0.%d, 1.%d]", j ? ", " : "", nan && !j ? "NaN" : "0.5", j, j);
    if (k < len) snprintf(buf + k, len - k, "]");
}

// Good member i: view 1, 2 (train) or 3 (test), action by i, one of the
// synthetic sequences.
static void good_name(int i, char *name, size_t len) {
    snprintf(name, len, "a%02d_s%02d_e00_v%02d", ACTIONS[i % 10], i / 3 + 1, i % 3 + 1);
}

static void craft(const char *D) {
    char p[4200], name[64], fr[2048], text[4096];
    snprintf(p, sizeof p, "%s/all_sqe", D);
    if (fs_mkdir_p(p)) bail("mkdir %s", p);
    for (int i = 0; i < NGOOD; i++) {
        snprintf(p, sizeof p, SRC "/%s.json", SYNTH[i % 3]);
        char *json = tap_slurp(p, NULL);
        if (!json) bail("no %s", p);
        good_name(i, name, sizeof name);
        strcat(name, ".json");
        put(D, name, json);
        free(json);
    }
    frame(fr, sizeof fr, 19, 0);
    snprintf(text, sizeof text, "{\"file_name\": \"a01_s20_e00_v01\", \"skeletons\": [%s]}", fr);
    put(D, "a01_s20_e00_v01.json", text);   // 19 joints
    put(D, "a02_s20_e00_v01.json", "{\"file_name\": \"a02_s20_e00_v01\", \"skeletons\": []}");   // empty
    frame(fr, sizeof fr, 20, 1);
    snprintf(text, sizeof text, "{\"file_name\": \"a03_s20_e00_v03\", \"skeletons\": [%s]}", fr);
    put(D, "a03_s20_e00_v03.json", text);   // NaN
    frame(fr, sizeof fr, 20, 0);
    snprintf(text, sizeof text, "{\"file_name\": \"a07_s20_e00_v01\", \"skeletons\": [%s]}", fr);
    put(D, "a07_s20_e00_v01.json", text);   // action 7: not one of the ten
    put(D, "notes.json", text);             // unknown name
    snprintf(p, sizeof p, "cd %s && bsdtar -a -cf crafted.zip all_sqe >log 2>&1", D);
    if (system(p)) bail("bsdtar failed (see %s/log)", D);
}

static int run(const char *D, const char *cmd) {
    char c[20480];
    snprintf(c, sizeof c, "cd %s && %s >>log 2>&1", D, cmd);
    return system(c);
}

// The reason column of name's line in the rejects report ("" when none).
static const char *reason(const char *rej, const char *name) {
    static char line[512];
    const char *s = strstr(rej, name);
    line[0] = '\0';
    if (!s) return line;
    snprintf(line, sizeof line, "%.*s", (int)strcspn(s, "\n"), s);
    char *t = strrchr(line, '\t');
    return t ? t + 1 : line;
}

static void check_prep(const char *D, const char *repo) {
    char c[8192];
    snprintf(c, sizeof c, "%s/bin/cocodiff-prep --dataset ucla --input crafted.zip --out p1", repo);
    int r1 = run(D, c);
    snprintf(c, sizeof c, "mpirun -np 2 --oversubscribe %s/bin/cocodiff-prep --dataset ucla --input crafted.zip --out p2",
             repo);
    int r2 = run(D, c);
    ok(r1 == 0 && r2 == 0, "a crafted archive with bad sequences: prep succeeds on 1 and 2 ranks");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/p1/ucla.h5", D);
    snprintf(b, sizeof b, "%s/p2/ucla.h5", D);
    int same = tap_same_file(a, b);
    snprintf(a, sizeof a, "%s/p1/ucla-rejects.tsv", D);
    snprintf(b, sizeof b, "%s/p2/ucla-rejects.tsv", D);
    ok(same && tap_same_file(a, b), "1 and 2 ranks: byte-identical ucla.h5 and ucla-rejects.tsv");
    char *rej = tap_slurp(a, NULL);
    if (!rej) bail("no %s", a);
    static const char *const bad[5][3] = {
        {"a01_s20_e00_v01", "19 joints, want 20", "wrong joint count"}, {"a02_s20_e00_v01", "empty sequence", "empty"},
        {"a03_s20_e00_v03", "non-finite", "NaN"}, {"a07_s20_e00_v01", "not one of the ten", "action a07"},
        {"notes.json", "unknown name", "unknown name"},
    };
    for (int i = 0; i < 5; i++) {
        const char *r = reason(rej, bad[i][0]);
        ok(strstr(r, bad[i][1]) != NULL, "%s: rejected: %s", bad[i][2], r);
    }
    int lines = 0;
    for (const char *s = rej; *s; s++) lines += *s == '\n';
    is_int(6, lines, "five rejects and the header");
    free(rej);
    H5PrepInfo in;
    snprintf(a, sizeof a, "%s/p1/ucla.h5", D);
    int rc = h5io_prep_info(a, &in);
    ok(rc == CD_OK && in.n[0] == 12 && in.n[1] == 6 && in.seq && in.M == 1,
       "the 18 good sequences are all kept: /train %lld (views 1, 2), /test %lld (view 3)", (long long)in.n[0],
       (long long)in.n[1]);
}

// The stored sequence i of group g (malloc'ed) and its length.
static double *stored(H5PrepReader *r, int g, int64_t i, int *T) {
    int64_t off;
    int32_t len;
    if (h5io_prep_reader_read(r, g, i, 1, NULL, NULL, &len, NULL) || h5io_prep_reader_read_offsets(r, g, i, 1, &off))
        bail("cannot read sequence %lld", (long long)i);
    double *s = malloc((size_t)len * UCLA_V * UCLA_C * sizeof *s);
    if (!s || h5io_prep_reader_read_seq(r, g, off, len, s)) bail("cannot read sequence %lld", (long long)i);
    *T = len;
    return s;
}

// One epoch of the training loader on nranks ranks: outputs in global order.
static void epoch_out(const char *path, int nranks, int epoch, float *out, int64_t *index, int64_t *n) {
    const SkelLayout *L = skel_layout_find("graph.ucla.Graph");
    FeederConfig f = feeder_config_official(L, 1, stream_of(0, 0));
    f.repeat = REPEAT;
    *n = 0;
    for (int rk = 0; rk < nranks; rk++) {
        Loader *l;
        char why[512];
        if (loader_open(&l, path, 0, &f, 8, rk, nranks, SEED, 1, 1, why, sizeof why)) bail("%s", why);
        size_t sf = loader_sample_floats(l);
        float *x = malloc((size_t)loader_max_local(l) * sf * sizeof *x);
        int64_t *ix = malloc((size_t)loader_max_local(l) * sizeof *ix);
        int64_t pos = 0;
        for (int b = 0; b < loader_num_batches(l); b++) {
            int nl;
            if (loader_batch(l, epoch, b, x, NULL, ix, &nl)) bail("loader_batch");
            // rank rk's slice of global batch b starts at rk * 8 / nranks
            int64_t at = (int64_t)b * 8 + rk * 8 / nranks;
            memcpy(out + (size_t)at * sf, x, (size_t)nl * sf * sizeof *x);
            memcpy(index + at, ix, (size_t)nl * sizeof *ix);
            pos += nl;
        }
        *n += pos;
        free(x);
        free(ix);
        loader_free(l);
    }
}

static void check_loader(const char *D) {
    char path[4200];
    snprintf(path, sizeof path, "%s/p1/ucla.h5", D);
    H5PrepReader *r;
    if (h5io_prep_reader_open(&r, path)) bail("%s", path);
    const int64_t N = h5io_prep_reader_info(r)->n[0];
    const size_t sf = (size_t)UCLA_C * UCLA_WINDOW * UCLA_V;
    float *o1 = malloc(N * REPEAT * sf * sizeof *o1), *o2 = malloc(N * REPEAT * sf * sizeof *o2);
    int64_t i1[64], i2[64], n1, n2;
    epoch_out(path, 1, 2, o1, i1, &n1);
    epoch_out(path, 2, 2, o2, i2, &n2);
    ok(n1 == N * REPEAT / 8 * 8 && n2 == n1 && !memcmp(o1, o2, (size_t)n1 * sf * sizeof *o1) &&
           !memcmp(i1, i2, (size_t)n1 * sizeof *i1),
       "repeat %d: an epoch of %lld = %d x %lld samples in batches of 8; the same batches on 1 and 2 ranks", REPEAT,
       (long long)n1, REPEAT, (long long)N);
    // Each output: the training path of its sequence, keyed by one of its
    // REPEAT keys, each key used at most once; the repetitions differ.
    int match = 0, dup = 0, differ = 0, visits[64] = {0};
    unsigned char used[64 * REPEAT] = {0};
    float *want = malloc(sf * sizeof *want), *first = malloc(N * sf * sizeof *first);
    UclaFeederConfig u = {.window = UCLA_WINDOW, .train = 1};
    for (int64_t q = 0; q < n1; q++) {
        int T, hit = -1;
        double *s = stored(r, 0, i1[q], &T);
        for (int k = 0; k < REPEAT && hit < 0; k++) {
            if (ucla_feeder_transform(&u, want, s, T, SEED, 2, i1[q] + k * N)) bail("transform");
            if (!memcmp(want, o1 + q * sf, sf * sizeof *want)) hit = k;
        }
        free(s);
        if (hit < 0) continue;
        match++;
        dup += used[i1[q] * REPEAT + hit]++ > 0;
        if (visits[i1[q]]++ == 0) memcpy(first + i1[q] * sf, o1 + q * sf, sf * sizeof *first);
        else differ += memcmp(first + i1[q] * sf, o1 + q * sf, sf * sizeof *first) != 0;
    }
    ok(match == n1 && dup == 0, "each output is ucla_feeder_transform's training path of its sequence, keyed (seed, "
       "epoch, index + repetition x %lld), each key once: %d of %lld", (long long)N, match, (long long)n1);
    int distinct = 0;
    for (int64_t i = 0; i < N; i++) distinct += visits[i] > 0;
    ok(match - distinct > 0 && differ == match - distinct,
       "a sequence visited again draws anew: %d of %d repeat visits differ from its first", differ, match - distinct);
    // The test path through the loader.
    FeederConfig f = feeder_config_official(skel_layout_find("ucla20"), 0, stream_of(1, 0));
    Loader *l;
    char why[512];
    int tgood = 0, nl = 0;
    int64_t tix[8];
    float *x = malloc(8 * sf * sizeof *x);
    UclaFeederConfig ut = {.window = UCLA_WINDOW, .train = 0, .bone = 1};
    if (loader_open(&l, path, 1, &f, 8, 0, 1, SEED, 0, 0, why, sizeof why) || loader_batch(l, 0, 0, x, NULL, tix, &nl))
        bail("test loader: %s", why);
    for (int i = 0; i < nl; i++) {
        int T;
        double *s = stored(r, 1, tix[i], &T);
        ucla_feeder_transform(&ut, want, s, T, 0, 0, 0);
        tgood += !memcmp(want, x + i * sf, sf * sizeof *want);
        free(s);
    }
    ok(nl == 6 && tgood == 6, "test path (bone) through the loader: %d of %d equal to ucla_feeder_transform's", tgood, nl);
    loader_free(l);
    free(x);
    free(want);
    free(first);
    free(o1);
    free(o2);
    h5io_prep_reader_close(r);
}

// max |a-b| / |a| over two --log-losses files' losses, or INFINITY.
static double losses_maxrel(const char *a, const char *b) {
    FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
    double worst = fa && fb ? 0 : INFINITY;
    char la[256], lb[256];
    int n = 0;
    while (fa && fb && fgets(la, sizeof la, fa)) {
        double x, y;
        long s1, s2;
        if (!fgets(lb, sizeof lb, fb) || sscanf(la, "%ld %lf", &s1, &x) != 2 || sscanf(lb, "%ld %lf", &s2, &y) != 2 ||
            s1 != s2) {
            worst = INFINITY;
            break;
        }
        worst = fmax(worst, fabs(x - y) / fabs(x));
        n++;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return n ? worst : INFINITY;
}

static void check_train(const char *D, const char *repo) {
    char c[16384];
    const char *S = "--set train_feeder_args.data_path=p1/ucla.h5 --set test_feeder_args.data_path=p1/ucla.h5 "
                    "--set cocodiff.base_channel=8 --set batch_size=8 --set test_batch_size=4 --set num_epoch=2 "
                    "--set warm_up_epoch=1 --set step=[1] --set base_lr=0.00001 --set eval_interval=1 --set seed=1";
    int rc[2];
    for (int k = 0; k < 2; k++) {
        snprintf(c, sizeof c, "mpirun -np %d --oversubscribe %s/bin/cocodiff-train --config %s/jobs/ucla-joint.yaml "
                 "%s --set work_dir=w%d --log-losses l%d.txt", k + 1, repo, repo, S, k + 1, k + 1);
        rc[k] = run(D, c);
    }
    ok(rc[0] == 0 && rc[1] == 0, "cocodiff-train, jobs/ucla-joint.yaml (base 8, 2 epochs, repeat 5) on 1 and 2 ranks");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/l1.txt", D);
    snprintf(b, sizeof b, "%s/l2.txt", D);
    double rel = losses_maxrel(a, b);
    // 12 sequences x repeat 5 / batch 8 = 7 steps an epoch (drop_last); at
    // lr 1e-5 the ranks' different float sums stay at rounding (a tiny net
    // on small batches is chaotic at larger rates: 5200-train-ranks.sh)
    FILE *f = fopen(a, "r");
    int steps = 0;
    for (int ch; f && (ch = fgetc(f)) != EOF;) steps += ch == '\n';
    if (f) fclose(f);
    ok(steps == 14 && rel <= 1e-5, "repeat 5: 7 steps an epoch; 1 vs 2 ranks: losses within 1e-5 (%g)", rel);
    snprintf(a, sizeof a, "%s/w1/metrics.jsonl", D);
    char *m = tap_slurp(a, NULL);
    int epochs = 0;
    for (const char *s = m; s && (s = strstr(s, "\"test_top1\"")); s++) epochs++;
    ok(epochs == 2, "test top-1 reported each epoch (%d)", epochs);
    free(m);
    snprintf(c, sizeof c, "mpirun -np 2 --oversubscribe %s/bin/cocodiff-eval --checkpoint w1/checkpoint-last.h5 "
             "--data p1/ucla.h5 --out e", repo);
    ok(run(D, c) == 0, "cocodiff-eval of the trained checkpoint on ucla.h5");
}

int main(void) {
    char repo[4096];
    if (!realpath(".", repo)) bail("realpath");
    if (system("command -v bsdtar >/dev/null 2>&1")) skip_all("no bsdtar");
    plan(17);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    const char *D = tap_tmpdir();
    craft(D);
    check_prep(D, repo);
    check_loader(D);
    check_train(D, repo);
    return tap_done();
}
