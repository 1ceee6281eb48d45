// 5032-prep-ucla-real.c - the whole real NW-UCLA archive (../shared/data/ucla/
// all_sqe.zip; skipped when absent) through bin/cocodiff-prep --dataset ucla
// on 1 and 2 ranks, the loader and bin/cocodiff-eval, against the official
// CTR-GCN feeders/feeder_ucla.py (tests/data/ucla, made by
// scripts/ref/make_ucla_reference.py):
//   - 1 and 2 ranks write the same bytes (ucla.h5 and ucla-rejects.tsv);
//   - /train 1,020 and /test 464 sequences, each name, label (0..9) and
//     length equal to the official data_dict (split.tsv), class names stored;
//   - every stored sequence (T, 20, 3) float64 equal bit for bit to the
//     archive's numbers (what the official feeder's np.array holds);
//   - the loader's test path (cocodiff-eval's input) over all 464 test
//     sequences, four streams, bit-equal to the official (SHA-256 digests);
//   - cocodiff-eval of the official model's state_dict (ctrgcn-ucla-b8.h5,
//     /model tensors only) on the file: the logits of the six reference
//     sequences within 1e-4 relative of the official model's.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_in.h"
#include "checksum.h"
#include "eval.h"
#include "feeder.h"
#include "feeder_ucla.h"
#include "h5io_prep.h"
#include "h5io_scores.h"
#include "loader.h"
#include "skeleton.h"
#include "status.h"
#include "stream.h"
#include "tap/bundle.h"
#include "tap/tap.h"
#include "tap/ucla_ref.h"
#include "ucla.h"

#define DIR "tests/data/ucla"
#define NSEQ UCLA_REF_N
#define W UCLA_WINDOW
#define OUT_N ((size_t)UCLA_C * W * UCLA_V)

static const char *const STREAM[4] = {"joint", "bone", "motion", "bone motion"};

typedef UclaRefEntry Entry;

static Entry E[UCLA_REF_N];
static int nE;

static Entry *find(const char *name) { return ucla_ref_find(E, nE, name); }

static int sh(const char *D, const char *fmt, const char *a, const char *b) {
    char cmd[8192], part[6000];
    snprintf(part, sizeof part, fmt, a, b);
    snprintf(cmd, sizeof cmd, "cd %s && %s >>log 2>&1", D, part);
    return system(cmd);
}

// prep on 1 and 2 ranks: D/p1, D/p2.
static void run_prep(const char *D, const char *zip, const char *repo) {
    int r1 = sh(D, "%s/bin/cocodiff-prep --dataset ucla --input %s --out p1", repo, zip);
    int r2 = sh(D, "mpirun -np 2 --oversubscribe %s/bin/cocodiff-prep --dataset ucla --input %s --out p2", repo, zip);
    ok(r1 == 0 && r2 == 0, "cocodiff-prep --dataset ucla on the archive, 1 and 2 ranks");
    char a[4200], b[4200], c[4200], d[4200];
    snprintf(a, sizeof a, "%s/p1/ucla.h5", D);
    snprintf(b, sizeof b, "%s/p2/ucla.h5", D);
    snprintf(c, sizeof c, "%s/p1/ucla-rejects.tsv", D);
    snprintf(d, sizeof d, "%s/p2/ucla-rejects.tsv", D);
    size_t len = 0;
    char *rej = tap_slurp(c, &len);
    ok(tap_same_file(a, b) && tap_same_file(c, d), "1 and 2 ranks: ucla.h5 and ucla-rejects.tsv byte-identical");
    ok(rej && !strcmp(rej, "# name\tmember\treason\n"), "no sequence of the archive rejected");
    free(rej);
}

// Header, names, labels, lengths and class names against the official lists.
static void check_split(const char *path, H5PrepReader *r) {
    const H5PrepInfo *in = h5io_prep_reader_info(r);
    ok(in->n[0] == 1020 && in->n[1] == 464 && in->seq && in->M == 1 && in->V == 20 && in->num_class == 10 &&
           !strcmp(in->layout, "ucla20-kinect-v1") && !strcmp(in->dataset, "ucla"),
       "%s: /train %lld, /test %lld raw sequences, 20 joints, 1 person, 10 classes, layout %s", path,
       (long long)in->n[0], (long long)in->n[1], in->layout);
    int agree = 0, want = 0;
    for (int g = 0; g < 2; g++) {
        int64_t n = in->n[g];
        int32_t *label = malloc((size_t)n * sizeof *label), *frames = malloc((size_t)n * sizeof *frames);
        char *names = calloc((size_t)n, (size_t)in->name_len);
        if (h5io_prep_reader_read(r, g, 0, n, NULL, label, frames, names)) bail("%s: cannot read /%d", path, g);
        for (int64_t i = 0; i < n; i++) {
            char name[64] = "";
            memcpy(name, names + i * in->name_len, (size_t)in->name_len < 63 ? (size_t)in->name_len : 63);
            const Entry *e = find(name);
            agree += e && e->split == g && e->label == label[i] && e->frames == frames[i];
        }
        want += (int)n;
        free(label);
        free(frames);
        free(names);
    }
    ok(agree == NSEQ && want == NSEQ, "names, groups, labels (0..9) and lengths equal the official data_dict: %d of %d",
       agree, NSEQ);
    char **cn = NULL;
    int k = 0, same = 0;
    h5io_prep_class_names(path, &cn, &k);
    for (int i = 0; i < k && k == UCLA_NUM_CLASS; i++) same += !strcmp(cn[i], ucla_class_name(i));
    ok(k == UCLA_NUM_CLASS && same == k, "/class_name holds the %d NW-UCLA class names", k);
    h5io_strings_free(cn, k);
}

// Every stored sequence against the archive member's numbers.
static void check_sequences(const char *zip, H5PrepReader *r) {
    const H5PrepInfo *in = h5io_prep_reader_info(r);
    char *names[2];
    int64_t *off[2];
    int32_t *len[2];
    for (int g = 0; g < 2; g++) {
        names[g] = calloc((size_t)in->n[g], (size_t)in->name_len);
        off[g] = malloc((size_t)in->n[g] * sizeof **off);
        len[g] = malloc((size_t)in->n[g] * sizeof **len);
        if (h5io_prep_reader_read(r, g, 0, in->n[g], NULL, NULL, len[g], names[g]) ||
            h5io_prep_reader_read_offsets(r, g, 0, in->n[g], off[g]))
            bail("cannot read the names and offsets");
    }
    ArchiveIn *a;
    if (archive_in_open(&a, zip) != CD_OK) bail("cannot open %s", zip);
    char *buf = NULL, why[256], name[UCLA_NAME_LEN + 1];
    size_t cap = 0, n;
    const char *path;
    int64_t size;
    int is_file, rc, same = 0, seen = 0;
    while ((rc = archive_in_next(a, &path, &size, &is_file)) == CD_OK) {
        if (!is_file) continue;
        UclaName un;
        int label, split, T = 0, found = 0;
        if (ucla_member(path, name, &un, &label, &split, why, sizeof why)) bail("%s: %s", path, why);
        if (archive_in_read(a, &buf, &cap, &n, SIZE_MAX, why, sizeof why)) bail("%s: %s", name, why);
        double *seq = NULL;
        if (ucla_parse(buf, n, &seq, &T, why, sizeof why)) bail("%s: %s", name, why);
        seen++;
        for (int64_t i = 0; i < in->n[split] && !found; i++) {
            if (strncmp(names[split] + i * in->name_len, name, (size_t)in->name_len)) continue;
            found = 1;
            double *got = malloc((size_t)T * UCLA_V * UCLA_C * sizeof *got);
            if (len[split][i] == T && !h5io_prep_reader_read_seq(r, split, off[split][i], T, got))
                same += !memcmp(got, seq, (size_t)T * UCLA_V * UCLA_C * sizeof *got);
            free(got);
        }
        free(seq);
    }
    if (rc != 1) bail("%s: corrupt archive", zip);
    archive_in_close(a);
    free(buf);
    ok(seen == NSEQ && same == NSEQ, "every stored sequence (T, 20, 3) float64 is the archive's, bit for bit: %d of %d",
       same, seen);
    for (int g = 0; g < 2; g++) {
        free(names[g]);
        free(off[g]);
        free(len[g]);
    }
}

// The loader's test path (what cocodiff-eval feeds the model), four streams.
static void check_loader(const char *path, H5PrepReader *r) {
    const H5PrepInfo *in = h5io_prep_reader_info(r);
    for (int k = 0; k < 4; k++) {
        FeederConfig f;
        char why[512], name[64];
        Loader *l = NULL;
        int good = 0, n = 0;
        const Stream *st = stream_find(STREAM[k]);   // the official data_path words
        f = feeder_config_official(skel_layout_find("graph.ucla.Graph"), 0, st);
        if (loader_open(&l, path, 1, &f, 64, 0, 1, 1, 0, 0, why, sizeof why)) {
            ok(0, "test loader, %s: %s", STREAM[k], why);
            continue;
        }
        size_t sf = loader_sample_floats(l);
        float *x = malloc(64 * sf * sizeof *x);
        int64_t index[64];
        for (int b = 0; b < loader_num_batches(l); b++) {
            if (loader_batch(l, 0, b, x, NULL, index, &n)) bail("loader_batch");
            for (int i = 0; i < n; i++) {
                char hex[65];
                memset(name, 0, sizeof name);
                h5io_prep_reader_read(r, 1, index[i], 1, NULL, NULL, NULL, name);
                checksum_sha256_buf(x + (size_t)i * sf, sf * sizeof *x, hex);
                const Entry *e = find(name);
                good += e && !strcmp(hex, e->sha[k]);
            }
        }
        ok(sf == OUT_N && good == 464 && in->n[1] == 464,
           "loader test path, %s: %d of 464 outputs (3, 52, 20, 1) bit-equal to the official (SHA-256)", STREAM[k], good);
        free(x);
        loader_free(l);
    }
}

// cocodiff-eval of the official state_dict against the official logits.
static void check_eval(const char *D, const char *repo) {
    int rc = sh(D, "mpirun -np 2 --oversubscribe %s/bin/cocodiff-eval --checkpoint %s/" DIR "/ctrgcn-ucla-b8.h5 "
                "--data p1/ucla.h5 --out e", repo, repo);
    char p[4200];
    snprintf(p, sizeof p, "%s/e/scores.h5", D);
    H5Scores s = {0};
    Bundle b;
    if (rc || h5io_scores_read(p, &s) || bundle_load(DIR "/reference.bundle", &b)) {
        ok(0, "cocodiff-eval of ctrgcn-ucla-b8.h5 (/model only) on ucla.h5 (see %s/log)", D);
        h5io_scores_free(&s);
        return;
    }
    float got[16 * 10], want[16 * 10];
    int N = 0;
    for (int i = 0; i < b.n && N < 16; i++) {
        if (strncmp(b.t[i].name, "model/logits/", 13)) continue;
        for (int64_t j = 0; j < s.n; j++)
            if (!strcmp(h5io_scores_name(&s, j), b.t[i].name + 13) && s.K == 10 && b.t[i].numel == 10) {
                memcpy(got + N * 10, s.scores + j * 10, 10 * sizeof *got);
                memcpy(want + N * 10, b.t[i].data, 10 * sizeof *want);
                N++;
            }
    }
    double mx = 0;
    for (int i = 0; i < N * 10; i++) mx = fmax(mx, fabs(want[i]));
    ok(s.n == 464 && s.window == 52 && N == 6, "cocodiff-eval: 464 rows, window 52 from the layout, %d reference rows",
       N);
    is_tensor_close(got, want, (size_t)N * 10, 1e-4 * mx, 1e-4,
                    "cocodiff-eval logits equal the official model's within 1e-4 relative (%d sequences)", N);
    bundle_free(&b);
    h5io_scores_free(&s);
}

int main(void) {
    const char *zip = tap_ucla_zip();
    if (!zip) skip_all("no NW-UCLA archive (../shared/data/ucla/all_sqe.zip or COCODIFF_UCLA_ZIP)");
    char repo[4096];
    if (!realpath(".", repo)) bail("realpath");
    char zipabs[4096];
    if (!realpath(zip, zipabs)) bail("realpath %s", zip);
    nE = ucla_ref_tables(DIR, E);
    plan(13);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    const char *D = tap_tmpdir();
    run_prep(D, zipabs, repo);
    char path[4200];
    snprintf(path, sizeof path, "%s/p1/ucla.h5", D);
    H5PrepReader *r;
    if (h5io_prep_reader_open(&r, path)) bail("%s: cannot open", path);
    check_split(path, r);
    check_sequences(zipabs, r);
    check_loader(path, r);
    h5io_prep_reader_close(r);
    check_eval(D, repo);
    return tap_done();
}
