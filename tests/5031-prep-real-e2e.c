// 5031-prep-real-e2e.c - every real sample of ../shared/data/real, packed as
// the official archives (nturgb+d_skeletons/*.skeleton in a zip; kinetics_train/,
// kinetics_val/ and the label file in a zip), through bin/cocodiff-prep on 1
// and 2 ranks, compared WHOLE with the official pipelines' outputs
// (tests/data/ref, made by scripts/ref/make_prep_reference.py):
// - NTU60 X-Sub/X-View and NTU120 X-Sub/X-Set: the samples, groups and labels
//   of CTR-GCN's seq_transformation.py npz files (splits.tsv) and every stored
//   (3, 300, 25, 2) tensor, bit for bit;
// - Kinetics: ST-GCN's Feeder_kinetics as kinetics_gendata.py stores it, every
//   (3, 300, 18, 2) tensor and label;
// - /frames: each reference's count of non-empty frames;
// - the loader's test path (what cocodiff-eval feeds the model) on the stored
//   Kinetics clips against CTR-GCN's Feeder (tests/data/feeder/kinetics_*.bin).
// Skips when the real data is absent.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feeder.h"
#include "h5io_prep.h"
#include "loader.h"
#include "skeleton.h"
#include "status.h"
#include "tap/ref.h"
#include "tap/tap.h"

#define REF "tests/data/ref"
#define MAX_ROWS 256
enum { C = SKEL_C, T = SKEL_T, M = SKEL_M, W = 64 };

typedef struct Row {
    char bench[32], group[8], name[64];
    int label;
} Row;

static const struct {
    const char *bench, *dataset, *file;
} BENCHES[] = {
    {"ntu60-xsub", "ntu60", "ntu60/ntu60-xsub.h5"},   {"ntu60-xview", "ntu60", "ntu60/ntu60-xview.h5"},
    {"ntu120-xsub", "ntu120", "ntu120/ntu120-xsub.h5"}, {"ntu120-xset", "ntu120", "ntu120/ntu120-xset.h5"},
    {"kinetics", "kinetics", "kinetics/kinetics.h5"},
};
#define NBENCH 5

static int read_splits(Row *rows) {
    FILE *f = fopen(REF "/splits.tsv", "r");
    if (!f) bail(REF "/splits.tsv: missing (HINT: scripts/ref/make_prep_reference.py)");
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_ROWS) {
        if (line[0] == '#') continue;
        Row *r = &rows[n];
        if (sscanf(line, "%31s %7s %63s %d", r->bench, r->group, r->name, &r->label) == 4) n++;
    }
    fclose(f);
    return n;
}

static int nonzero_frames(const float *x, int V) {   // x: (C, T, V, M)
    int n = 0;
    for (int t = 0; t < T; t++) {
        int nz = 0;
        for (int c = 0; c < C && !nz; c++)
            for (int k = 0; k < V * M && !nz; k++) nz = x[((size_t)c * T + t) * V * M + k] != 0.0f;
        n += nz;
    }
    return n;
}

// Packs the real samples as the official archives and runs cocodiff-prep on
// them on 1 and 2 ranks: D/{ntu60,ntu120,kinetics}{,-2}/.
static void run_prep(const char *D, const char *real, const char *repo) {
    char cmd[24000];
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; mkdir -p ntu/nturgb+d_skeletons kin/kinetics_train kin/kinetics_val; "
             "cp %s/ntu/*.skeleton ntu/nturgb+d_skeletons/; cp %s/kinetics/*.json kin/kinetics_val/; "
             "cp %s/lists/kinetics_val_label.json kin/; "
             "(cd ntu && bsdtar -a -cf ../nturgbd_skeletons_s001_to_s017.zip nturgb+d_skeletons); "
             "(cd kin && bsdtar -a -cf ../kinetics-skeleton.zip kinetics_train kinetics_val kinetics_val_label.json)"
             " >%s/log 2>&1",
             D, real, real, real, D);
    if (system(cmd) != 0) bail("cannot pack the real samples (bsdtar?); see %s/log", D);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    static const char *ds[3] = {"ntu60", "ntu120", "kinetics"};
    for (int i = 0; i < 3; i++) {
        const char *in = i < 2 ? "nturgbd_skeletons_s001_to_s017.zip" : "kinetics-skeleton.zip";
        snprintf(cmd, sizeof cmd, "cd %s && %s/bin/cocodiff-prep --dataset %s --input %s --out %s >>log 2>&1",
                 D, repo, ds[i], in, ds[i]);
        int r1 = system(cmd);
        snprintf(cmd, sizeof cmd, "cd %s && mpirun -np 2 --oversubscribe %s/bin/cocodiff-prep --dataset %s "
                 "--input %s --out %s-2 >>log 2>&1", D, repo, ds[i], in, ds[i]);
        int r2 = system(cmd);
        ok(r1 == 0 && r2 == 0, "%s: the official archive through cocodiff-prep on 1 and 2 ranks", ds[i]);
        if (r1 || r2) diag("see %s/log", D);
    }
}

// One benchmark file against the reference rows: split and labels, every
// tensor, /frames.
static void check_bench(const char *D, int b, const Row *rows, int nrows) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", D, BENCHES[b].file);
    const char *bench = BENCHES[b].bench;
    int want = 0;
    for (int i = 0; i < nrows; i++) want += strcmp(rows[i].bench, bench) == 0;
    H5PrepInfo info;
    if (h5io_prep_info(path, &info) != CD_OK) {
        skip(2 + want, "%s: no readable output", path);
        return;
    }
    int V = info.V, split_ok = info.n[0] + info.n[1] == want, frames_bad = 0;
    size_t NX = (size_t)C * T * V * M;
    float *x = malloc(NX * sizeof(float));
    char *name = calloc(1, (size_t)info.name_len + 1);
    for (int i = 0; i < nrows; i++) {
        const Row *r = &rows[i];
        if (strcmp(r->bench, bench) != 0) continue;
        // Find the official sample in our group of the same name.
        int g = strcmp(r->group, "train") == 0 ? 0 : 1;
        int64_t k = -1;
        for (int64_t j = 0; j < info.n[g] && k < 0; j++) {
            if (h5io_prep_read(path, g, j, 1, NULL, NULL, NULL, name)) bail("%s: cannot read names", path);
            if (strncmp(name, r->name, (size_t)info.name_len) == 0) k = j;
        }
        int32_t label = -1, frames = -1;
        if (k < 0 || h5io_prep_read(path, g, k, 1, x, &label, &frames, NULL)) {
            split_ok = 0;
            ok(0, "%s /%s %s: stored", bench, r->group, r->name);
            continue;
        }
        split_ok &= label == r->label;
        int v = 0, span = 0;
        float *want_x = ref_prep_sample(REF, BENCHES[b].dataset, r->name, &v, &span);
        if (!want_x || v != V) {
            skip(1, "no reference tensor for %s", r->name);
            free(want_x);
            continue;
        }
        double worst = 0;
        int lost = 0;
        for (size_t q = 0; q < NX; q++) worst = fmax(worst, fabs((double)x[q] - want_x[q]));
        for (int t = 0; t < T; t++) {   // frames the reference has and we do not
            int in_ref = 0, in_ours = 0;
            for (int c = 0; c < C; c++)
                for (int q = 0; q < V * M; q++) {
                    size_t o = ((size_t)c * T + t) * V * M + q;
                    in_ref |= want_x[o] != 0.0f;
                    in_ours |= x[o] != 0.0f;
                }
            lost += in_ref && !in_ours;
        }
        is_tensor_equal(x, want_x, NX, "%s /%s %s: (3, 300, %d, 2) equals the official output whole "
                        "(max |diff| %g, %d of its frames lost)", bench, r->group, r->name, V, worst, lost);
        frames_bad += frames != nonzero_frames(want_x, V);
        free(want_x);
    }
    ok(split_ok, "%s: train %lld / test %lld, the official samples and labels", bench, (long long)info.n[0],
       (long long)info.n[1]);
    ok(frames_bad == 0, "%s: /frames is each reference's count of non-empty frames (%d differ)", bench, frames_bad);
    free(x);
    free(name);
}

// The loader's test path over the stored Kinetics clips (cocodiff-eval's
// input) against CTR-GCN's Feeder on ST-GCN's tensors.
static void check_loader(const char *D) {
    char path[4200], why[512];
    snprintf(path, sizeof path, "%s/kinetics/kinetics.h5", D);
    FeederConfig f = feeder_config_official(skel_layout_find("openpose18"), 0, stream_of(0, 0));
    Loader *l = NULL;
    if (loader_open(&l, path, 1, &f, 64, 0, 1, 1, 0, 0, why, sizeof why)) {
        ok(0, "loader on %s: %s", path, why);
        return;
    }
    H5PrepInfo info;
    h5io_prep_info(path, &info);
    size_t NS = loader_sample_floats(l);
    int n = 0, bad = 0, missing = 0;
    float *x = malloc((size_t)loader_max_local(l) * NS * sizeof(float));
    int64_t *index = malloc((size_t)loader_max_local(l) * sizeof *index);
    char *name = calloc(1, (size_t)info.name_len + 1);
    double worst = 0;
    if (loader_batch(l, 0, 0, x, NULL, index, &n)) bail("loader_batch failed");
    for (int i = 0; i < n; i++) {
        h5io_prep_read(path, 1, index[i], 1, NULL, NULL, NULL, name);
        char ref[4400];
        int dims[4];
        snprintf(ref, sizeof ref, "tests/data/feeder/kinetics_%s.bin", name);
        float *want = ref_read_single(ref, 4, dims);
        if (!want || (size_t)dims[0] * dims[1] * dims[2] * dims[3] != NS) {
            missing++;
            free(want);
            continue;
        }
        for (size_t q = 0; q < NS; q++) worst = fmax(worst, fabs((double)x[(size_t)i * NS + q] - want[q]));
        bad += memcmp(x + (size_t)i * NS, want, NS * sizeof(float)) != 0;
        free(want);
    }
    ok(n > 0 && bad == 0 && missing == 0, "loader test path (window 64, p 0.95) on the %d stored Kinetics clips "
       "equals CTR-GCN's Feeder on ST-GCN's tensors (%d differ, %d without reference, max |diff| %g)",
       n, bad, missing, worst);
    free(x);
    free(index);
    free(name);
    loader_free(l);
}

int main(void) {
    const char *real = tap_real_data();
    if (!real) skip_all("no real data (../shared/data/real)");
    if (access("bin/cocodiff-prep", X_OK)) skip_all("bin/cocodiff-prep not built (run make)");
    if (system("command -v bsdtar >/dev/null 2>&1") != 0) skip_all("no bsdtar to pack the archives");
    static Row rows[MAX_ROWS];
    int nrows = read_splits(rows);
    plan(3 + 3 + NBENCH * 2 + nrows + 1);
    const char *D = tap_tmpdir();
    char abs_real[4096], repo[4096];
    if (!realpath(real, abs_real) || !getcwd(repo, sizeof repo)) bail("%s: cannot resolve", real);
    run_prep(D, abs_real, repo);

    static const char *pairs[3][2] = {{"ntu60/ntu60-xsub.h5", "ntu60/ntu60-xview.h5"},
                                      {"ntu120/ntu120-xsub.h5", "ntu120/ntu120-xset.h5"},
                                      {"kinetics/kinetics.h5", NULL}};
    for (int i = 0; i < 3; i++) {
        int same = 1;
        for (int j = 0; j < 2 && pairs[i][j]; j++) {
            char a[4200], b[4200];
            snprintf(a, sizeof a, "%s/%s", D, pairs[i][j]);
            const char *slash = strchr(pairs[i][j], '/');
            snprintf(b, sizeof b, "%s/%.*s-2%s", D, (int)(slash - pairs[i][j]), pairs[i][j], slash);
            same &= tap_same_file(a, b);
        }
        ok(same, "%.*s: 1 and 2 ranks write byte-identical files", (int)strcspn(pairs[i][0], "/"), pairs[i][0]);
    }
    for (int b = 0; b < NBENCH; b++) check_bench(D, b, rows, nrows);
    check_loader(D);
    return tap_done();
}
