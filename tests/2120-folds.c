// 2120-folds.c - cross-validation folds of a training split (src/data/fold.c,
// loader_open_subset, the cocodiff.folds / cocodiff.fold config keys), on the
// tiny synthetic file the train tests use: bin/cocodiff-synth (120 NTU
// samples, seed 3) then bin/cocodiff-prep --dataset ntu60 -> ntu60-xsub.h5
// (train 78 samples of 19 performers).
// Checks: subject keys (NTU performer, else a hash of the name); the
// round-robin assignment over the sorted subjects, independent of the sample
// order; folds of the file are deterministic, disjoint, together the whole
// train split, each the subjects of rank fold mod K; subset loaders on 1 and
// 2/3 simulated ranks give the same global batches (llm.c
// test_multiprocess_simple style), only from the subset, transformed as the
// whole-group loader would; bad values are refused with clear messages.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "feeder.h"
#include "fold.h"
#include "h5io_prep.h"
#include "loader.h"
#include "ntu.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

#define SEED 77
static char path[512], why[1024];

static void make_file(void) { tap_ntu_h5(120, path, sizeof path); }

// n names of 24 bytes (NUL padded) from a list.
static char *pack(const char *const *list, int n) {
    char *b = calloc((size_t)n, 24);
    for (int i = 0; i < n; i++) strncpy(b + (size_t)i * 24, list[i], 23);
    return b;
}

static void test_subjects(void) {
    char padded[24] = "S001C002P017R001A009";   // NUL padding after the name
    int good = fold_subject("S001C002P017R001A009", 20) == 17 && fold_subject(padded, sizeof padded) == 17 &&
               fold_subject("S017C003P040R002A060", 20) == 40;
    uint64_t h1 = fold_subject("abc_000001_000011", 17), h2 = fold_subject("abc_000001_000011", 24);
    uint64_t h3 = fold_subject("abd_000001_000011", 17);
    ok(good, "NTU names: the key is the performer (P017 -> 17, P040 -> 40), padding ignored");
    ok((h1 & FOLD_HASHED_KEY) && h1 == h2 && h3 != h1 && (fold_subject("S001C002P017R001A0091", 21) & FOLD_HASHED_KEY),
       "other names: a hash of the name with the top bit set, deterministic, padding ignored");
    char a[24], b[24];
    fold_subject_name(7, a, sizeof a);
    fold_subject_name(h1, b, sizeof b);
    ok(!strcmp(a, "P007") && b[0] == '#' && strlen(b) == 9, "subject names: %s, %s", a, b);
}

static void test_assign(void) {
    // performers 5 1 9 1 3 5 7: sorted distinct 1 3 5 7 9 -> folds 0 1 0 1 0 (K 2), 0 1 2 0 1 (K 3)
    const char *names[] = {"S001C001P005R001A001", "S001C001P001R001A002", "S002C001P009R001A001",
                           "S001C002P001R001A003", "S003C001P003R002A001", "S001C001P005R002A001",
                           "S001C003P007R001A004"};
    const int want2[] = {0, 0, 0, 0, 1, 0, 1}, want3[] = {2, 0, 1, 0, 1, 2, 0};
    char *b = pack(names, 7);
    int f[7], ns = 0, rc2 = fold_assign(b, 7, 24, 2, f, &ns, why, sizeof why);
    ok(rc2 == CD_OK && ns == 5 && !memcmp(f, want2, sizeof f), "K 2: sorted subjects 1 3 5 7 9 -> folds 0 1 0 1 0");
    int rc3 = fold_assign(b, 7, 24, 3, f, &ns, why, sizeof why);
    ok(rc3 == CD_OK && !memcmp(f, want3, sizeof f), "K 3: subject rank r -> fold r mod 3");
    // the same samples in another order: each sample keeps its fold
    const char *rev[7];
    for (int i = 0; i < 7; i++) rev[i] = names[6 - i];
    char *rb = pack(rev, 7);
    int g[7];
    fold_assign(rb, 7, 24, 3, g, NULL, why, sizeof why);
    int same = 1;
    for (int i = 0; i < 7; i++) same &= g[i] == want3[6 - i];
    ok(same, "the folds do not depend on the order of the samples");
    int rc = fold_assign(b, 7, 24, 6, f, NULL, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "5 distinct subjects (P001 P003 P005 P007 P009)") && strstr(why, "6 folds") &&
           strstr(why, "at most 5 folds"),
       "6 folds of 5 subjects: CD_EARG naming them (%s)", why);
    rc = fold_assign(b, 1, 24, 2, f, NULL, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "1 distinct subjects (P005)") && strstr(why, "needs at least 2 subjects"),
       "2 folds of 1 subject: CD_EARG (%s)", why);
    rc = fold_assign(b, 7, 24, 1, f, NULL, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "at least 2"), "1 fold: CD_EARG (%s)", why);
    free(b);
    free(rb);

    // names without a subject: each its own, spread over every fold
    const char *kin[] = {"a1_000001_000011", "b2_000003_000013", "c3_000010_000020", "d4_000000_000010",
                         "e5_000005_000015", "f6_000007_000017", "g7_000001_000011", "h8_000002_000012",
                         "i9_000004_000014"};
    char *kb = pack(kin, 9);
    int k1[9], k2[9], cnt[3] = {0, 0, 0};
    int rca = fold_assign(kb, 9, 24, 3, k1, &ns, why, sizeof why);
    fold_assign(kb, 9, 24, 3, k2, NULL, why, sizeof why);
    for (int i = 0; i < 9; i++) cnt[k1[i]]++;
    ok(rca == CD_OK && ns == 9 && !memcmp(k1, k2, sizeof k1) && cnt[0] == 3 && cnt[1] == 3 && cnt[2] == 3,
       "Kinetics-style names: one subject each, 3 per fold of 3, deterministic");
    rc = fold_assign(kb, 2, 24, 3, k1, NULL, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "2 distinct subjects") && strstr(why, "names with no subject count as one each"),
       "3 folds of 2 unnamed samples: CD_EARG saying why (%s)", why);
    free(kb);
}

// The performer of every /train sample of the file.
static int64_t train_performers(int **perf) {
    H5PrepInfo info;
    if (h5io_prep_info(path, &info)) bail("h5io_prep_info %s", path);
    int64_t n = info.n[0];
    char *names = malloc((size_t)n * info.name_len), one[64];
    *perf = malloc((size_t)n * sizeof **perf);
    if (h5io_prep_read(path, 0, 0, n, NULL, NULL, NULL, names)) bail("cannot read names");
    for (int64_t i = 0; i < n; i++) {
        NtuName nn;
        snprintf(one, sizeof one, "%.*s", info.name_len, names + (size_t)i * info.name_len);
        if (ntu_name_parse(one, &nn)) bail("not an NTU name: %s", one);
        (*perf)[i] = nn.performer;
    }
    free(names);
    return n;
}

static void test_file(void) {
    int *perf;
    int64_t n = train_performers(&perf);
    // the subjects' ranks, computed here independently
    int present[1000] = {0}, rank[1000], nsub = 0;
    for (int64_t i = 0; i < n; i++) present[perf[i]] = 1;
    for (int p = 0; p < 1000; p++) if (present[p]) rank[p] = nsub++;
    diag("%lld train samples, %d subjects", (long long)n, nsub);
    const int K = 3;
    FoldSplit s[3], again;
    int *owner = malloc((size_t)n * sizeof *owner);
    for (int64_t i = 0; i < n; i++) owner[i] = -1;
    int good = 1, ascending = 1, complement = 1, round_robin = 1;
    int64_t held_total = 0;
    for (int f = 0; f < K; f++) {
        if (fold_split_file(path, K, f, &s[f], why, sizeof why)) bail("fold %d: %s", f, why);
        if (s[f].ntrain + s[f].nheld != n || s[f].nheld < 1 || s[f].nsubjects != nsub) good = 0;
        held_total += s[f].nheld;
        for (int64_t j = 0; j < s[f].nheld; j++) {
            int64_t i = s[f].held[j];
            if (owner[i] >= 0) good = 0;   // held out twice
            owner[i] = f;
            if (rank[perf[i]] % K != f) round_robin = 0;
            if (j && s[f].held[j - 1] >= i) ascending = 0;
        }
        // train = every index not held out, ascending
        int64_t a = 0, b = 0;
        for (int64_t i = 0; i < n; i++) {
            if (a < s[f].nheld && s[f].held[a] == i) a++;
            else if (b < s[f].ntrain && s[f].train[b] == i) b++;
            else complement = 0;
        }
        diag("fold %d: held out %lld samples of %d subjects (%s), train %lld", f, (long long)s[f].nheld,
             s[f].nheld_subjects, s[f].held_names, (long long)s[f].ntrain);
    }
    for (int64_t i = 0; i < n; i++) good &= owner[i] >= 0;
    ok(good && held_total == n, "3 folds: the held-out sets are disjoint and together the train split (%lld)",
       (long long)held_total);
    ok(complement && ascending, "each fold trains on exactly the rest of the train split (indices ascending)");
    ok(round_robin, "fold f holds out the subjects of rank f, f + 3, ... among the sorted performers");
    int subj_disjoint = 1;
    for (int64_t i = 0; i < n; i++)
        for (int f = 0; f < K; f++)
            if (owner[i] == f)
                for (int64_t j = 0; j < s[f].ntrain; j++) subj_disjoint &= perf[s[f].train[j]] != perf[i];
    ok(subj_disjoint, "no subject is both trained on and held out in a fold");
    if (fold_split_file(path, K, 1, &again, why, sizeof why)) bail("%s", why);
    ok(again.nheld == s[1].nheld && again.ntrain == s[1].ntrain &&
           !memcmp(again.held, s[1].held, (size_t)again.nheld * 8) &&
           !memcmp(again.train, s[1].train, (size_t)again.ntrain * 8) && !strcmp(again.held_names, s[1].held_names),
       "deterministic: fold 1 again gives the same sets (%s)", again.held_names);
    fold_split_free(&again);

    int rc = fold_split_file(path, nsub + 1, 0, &again, why, sizeof why);
    char want[64];
    snprintf(want, sizeof want, "%d distinct subjects", nsub);
    ok(rc == CD_EARG && strstr(why, path) && strstr(why, want) && !again.train,
       "%d folds of %d subjects: CD_EARG naming the file and the count (%s)", nsub + 1, nsub, why);
    rc = fold_split_file(path, 3, 3, &again, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "fold 3 of 3") && strstr(why, "[0, 2]"), "fold 3 of 3: CD_EARG (%s)", why);
    char zip[600];
    snprintf(zip, sizeof zip, "%s/x.zip", tap_tmpdir());
    rc = fold_split_file(zip, 3, 0, &again, why, sizeof why);
    ok(rc == CD_EFORMAT && strstr(why, zip), "not a prep file: CD_EFORMAT naming it (%s)", why);
    fold_split_free(NULL);

    // Subset loaders: 1 rank vs simulated ranks, content, errors.
    FeederConfig tr = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0)), te = feeder_config_official(skel_layout_find("ntu25"), 0, stream_of(0, 0));
    tr.window = te.window = 16;
    const FoldSplit *f1 = &s[1];
    Loader *one, *r[3];
    int agree = 1, inside = 1, transform = 1;
    char *in_train = calloc((size_t)n, 1);
    for (int64_t j = 0; j < f1->ntrain; j++) in_train[f1->train[j]] = 1;
    for (int nr = 2; nr <= 3; nr++) {
        if (loader_open_subset(&one, path, 0, f1->train, f1->ntrain, &tr, 8, 0, 1, SEED, 1, 1, why, sizeof why))
            bail("%s", why);
        for (int k = 0; k < nr; k++)
            if (loader_open_subset(&r[k], path, 0, f1->train, f1->ntrain, &tr, 8, k, nr, SEED, 1, 1, why, sizeof why))
                bail("%s", why);
        size_t sf = loader_sample_floats(one);
        float *xa = malloc(8 * sf * sizeof(float)), *xp = malloc(8 * sf * sizeof(float));
        float *xw = malloc(sf * sizeof(float)), *stored = malloc((size_t)SKEL_C * SKEL_T * NTU_V * SKEL_M * sizeof(float));
        int32_t la[8], lp[8], lab;
        int64_t ia[8], ip[8];
        if (loader_num_samples(one) != f1->ntrain || loader_num_batches(one) != f1->ntrain / 8) agree = 0;
        for (int e = 0; e < 2; e++)
            for (int b = 0; b < loader_num_batches(one); b++) {
                int na = 0, np = 0, off = 0;
                if (loader_batch(one, e, b, xa, la, ia, &na)) bail("batch failed");
                for (int i = 0; i < na; i++) inside &= in_train[ia[i]];
                for (int k = 0; k < nr; k++) {
                    if (loader_batch(r[k], e, b, xp, lp, ip, &np)) bail("batch failed");
                    if (off + np > na || memcmp(xp, xa + off * sf, np * sf * sizeof(float)) ||
                        memcmp(lp, la + off, np * 4) || memcmp(ip, ia + off, np * 8))
                        agree = 0;
                    off += np;
                }
                agree &= off == na;
                // the sample as the whole-group loader's transform gives it
                h5io_prep_read(path, 0, ia[0], 1, stored, &lab, NULL, NULL);
                feeder_transform(&tr, xw, stored, SKEL_C, SKEL_T, NTU_V, SKEL_M, SEED, e, ia[0]);
                transform &= !memcmp(xw, xa, sf * sizeof(float)) && lab == la[0];
            }
        free(xa); free(xp); free(xw); free(stored);
        loader_free(one);
        for (int k = 0; k < nr; k++) loader_free(r[k]);
        ok(agree, "fold 1's training subset: %d ranks' slices concatenate to the 1-rank batches (2 epochs)", nr);
    }
    ok(inside && transform, "its batches hold only its samples, transformed by (seed, epoch, dataset index) like the whole group's");
    free(in_train);

    // the held-out fold as the evaluation set: no shuffle, no drop_last, every sample once, in order
    Loader *h;
    if (loader_open_subset(&h, path, 0, f1->held, f1->nheld, &te, 8, 0, 1, SEED, 0, 0, why, sizeof why)) bail("%s", why);
    size_t sf = loader_sample_floats(h);
    float *x = malloc(8 * sf * sizeof(float));
    int32_t lab[8];
    int64_t idx[8], seen = 0;
    int inorder = 1;
    for (int b = 0; b < loader_num_batches(h); b++) {
        int nl = 0;
        loader_batch(h, 0, b, x, lab, idx, &nl);
        for (int i = 0; i < nl; i++) inorder &= seen < f1->nheld && idx[i] == f1->held[seen++];
    }
    ok(inorder && seen == f1->nheld, "the held-out loader visits every held-out sample once, in order (%lld)",
       (long long)seen);
    free(x);
    loader_free(h);

    int64_t bad_idx[3] = {0, n, 1}, dup[3] = {2, 5, 2};
    Loader *l = (Loader *)(uintptr_t)1;
    rc = loader_open_subset(&l, path, 0, bad_idx, 3, &te, 8, 0, 1, SEED, 0, 0, why, sizeof why);
    ok(rc == CD_EARG && !l && strstr(why, "outside"), "subset index past the group: CD_EARG (%s)", why);
    rc = loader_open_subset(&l, path, 0, dup, 3, &te, 8, 0, 1, SEED, 0, 0, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "twice"), "subset index given twice: CD_EARG (%s)", why);
    rc = loader_open_subset(&l, path, 0, dup, 2, &tr, 8, 0, 1, SEED, 1, 1, why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "/train subset has 2 samples"), "subset smaller than a batch with drop_last: "
       "CD_EARG (%s)", why);
    for (int f = 0; f < K; f++) fold_split_free(&s[f]);
    free(owner);
    free(perf);
}

// config_check's verdict on --set overrides; want NULL: accepted.
static void check_config(const char *a, const char *b, const char *want) {
    Config c;
    config_init(&c);
    if (config_set(&c, a, why, sizeof why) || (b && config_set(&c, b, why, sizeof why))) bail("config_set: %s", why);
    // what config_check needs besides the folds
    const char *base[] = {"feeder=feeders.feeder_ntu.Feeder", "model=model.ctrgcn.Model",
                          "model_args.graph=graph.ntu_rgb_d.Graph"};
    for (int i = 0; i < 3; i++)
        if (config_set(&c, base[i], why, sizeof why)) bail("config_set: %s", why);
    why[0] = 0;
    int rc = config_check(&c, why, sizeof why);
    if (!want) ok(rc == CD_OK, "%s %s: accepted", a, b ? b : "");
    else ok(rc == CD_EARG && strstr(why, want), "%s %s: refused (%s)", a, b ? b : "", why);
    config_free(&c);
}

static void test_config(void) {
    Config c;
    config_init(&c);
    ok(c.cocodiff.folds == 0 && c.cocodiff.fold == 0, "defaults: cocodiff.folds 0 (off), cocodiff.fold 0");
    config_free(&c);
    check_config("cocodiff.folds=5", "cocodiff.fold=4", NULL);
    check_config("cocodiff.folds=1", NULL, "cocodiff.folds is 1; it must be 0 (off) or the number of cross-validation folds, >= 2");
    check_config("cocodiff.folds=-3", NULL, "cocodiff.folds is -3");
    check_config("cocodiff.fold=2", NULL, "cocodiff.fold is 2 but cocodiff.folds is 0 (off)");
    check_config("cocodiff.folds=3", "cocodiff.fold=3", "cocodiff.fold is 3; with cocodiff.folds 3 it must be in [0, 2]");
    check_config("cocodiff.folds=3", "cocodiff.fold=-1", "cocodiff.fold is -1");
    config_init(&c);
    int rc = config_set(&c, "cocodiff.folds=two", why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "cocodiff.folds"), "cocodiff.folds=two: a type error (%s)", why);
    rc = config_set(&c, "cocodiff.fodls=2", why, sizeof why);
    ok(rc == CD_EARG && strstr(why, "did you mean 'cocodiff.folds'"), "a typo suggests cocodiff.folds (%s)", why);
    config_free(&c);
}

// The low-data subset (fold_fraction, cocodiff.train_fraction): per class
// max(1, round(f n_k)) samples, ascending, a subset of the input, the same
// for any order of the input and any call; f outside (0, 1] is refused.
static void test_fraction(void) {
    enum { N = 40 };
    int64_t idx[N], rev[N];
    int32_t lab[N], rlab[N];
    for (int i = 0; i < N; i++) {
        idx[i] = 3 * i + 1;
        lab[i] = i < 30 ? i % 3 : 3;   // classes 0..2 with 10 each, class 3 with 10
        rev[N - 1 - i] = idx[i];
        rlab[N - 1 - i] = lab[i];
    }
    int64_t *a = NULL, *b = NULL, na = 0, nb = 0;
    is_int(CD_OK, fold_fraction(idx, lab, N, 0.2, &a, &na), "fold_fraction 0.2");
    fold_fraction(rev, rlab, N, 0.2, &b, &nb);
    int per[4] = {0}, asc = 1, member = 1;
    for (int64_t i = 0; i < na; i++) {
        int64_t j = (a[i] - 1) / 3;
        member &= (a[i] - 1) % 3 == 0 && j >= 0 && j < N;
        if (member) per[lab[j]]++;
        if (i) asc &= a[i] > a[i - 1];
    }
    ok(na == 8 && per[0] == 2 && per[1] == 2 && per[2] == 2 && per[3] == 2 && asc && member,
       "2 of each class's 10, ascending, from the input (%lld kept)", (long long)na);
    ok(nb == na && !memcmp(a, b, (size_t)na * sizeof *a), "the same subset whatever the input order");
    free(a);
    free(b);
    fold_fraction(idx, lab, N, 0.01, &a, &na);
    is_int(4, na, "at least one per class");
    free(a);
    is_int(CD_EARG, fold_fraction(idx, lab, N, 0.0, &a, &na), "fraction 0 refused");
    check_config("cocodiff.train_fraction=1.5", NULL, "cocodiff.train_fraction is 1.5");
}

int main(void) {
    plan(41);
    test_subjects();
    test_assign();
    test_config();
    test_fraction();
    make_file();
    test_file();
    return tap_done();
}
