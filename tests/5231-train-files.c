// 5231-train-files.c - cocodiff-train's input and output files, checked with
// the libraries themselves:
//   - a prepared file of an older format version (a cocodiff-prep file whose
//     format_version attribute is rewritten to 0 here with the HDF5 API) is
//     rejected by h5io_prep_info and loader_open with a message naming the
//     file and the version wanted, and cocodiff-train stops with exit code 1;
//   - metrics.jsonl holds one JSON object per epoch (parsed with jansson)
//     with epoch, step, samples, lr, train_loss, train_top1, time_s, build
//     (the program's version string, cli_version), and the test_* keys after
//     an evaluation;
//   - checkpoint_builds_extend, the builds that trained a checkpoint once
//     another run trains it further: the same build is not repeated,
//     another is appended (and named as the one before it), a file without
//     them is "unrecorded", the oldest are dropped when they do not fit.
// Data: bin/cocodiff-synth (60 NTU samples, seed 3) + bin/cocodiff-prep ->
// ntu60-xsub.h5 (train 39, test 21); model base_channel 8, window 16.
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "feeder.h"
#include "h5io_prep.h"
#include "loader.h"
#include "status.h"
#include "tap/tap.h"

static char good[512], old[512], cfg[512], work[512];

static void make_files(const char *T) {
    if (access("bin/cocodiff-synth", X_OK) || access("bin/cocodiff-prep", X_OK) || access("bin/cocodiff-train", X_OK))
        skip_all("bin/cocodiff-synth, -prep or -train not built (run make)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "bin/cocodiff-synth --format ntu --samples 60 --seed 3 --out %s/x.zip --quiet >%s/log 2>&1 && "
             "bin/cocodiff-prep --dataset ntu60 --input %s/x.zip --out %s/ >>%s/log 2>&1 && "
             "cp %s/ntu60-xsub.h5 %s/old.h5", T, T, T, T, T, T, T);
    if (system(cmd) != 0) bail("synth/prep failed; see %s/log", T);
    snprintf(good, sizeof good, "%s/ntu60-xsub.h5", T);
    snprintf(old, sizeof old, "%s/old.h5", T);
    snprintf(cfg, sizeof cfg, "%s/c.yaml", T);
    snprintf(work, sizeof work, "%s/w", T);
    FILE *f = fopen(cfg, "w");
    if (!f) bail("cannot write %s", cfg);
    fprintf(f, "work_dir: %s\nfeeder: feeders.feeder_ntu.Feeder\n"
               "train_feeder_args: {data_path: %s, window_size: 16, p_interval: [0.5, 1], random_rot: true}\n"
               "test_feeder_args: {data_path: %s, window_size: 16, p_interval: [0.95]}\n"
               "model: model.ctrgcn.Model\n"
               "model_args: {num_class: 60, num_point: 25, num_person: 2, graph: graph.ntu_rgb_d.Graph}\n"
               "base_lr: 0.1\nstep: [1]\nwarm_up_epoch: 0\nbatch_size: 16\ntest_batch_size: 16\nnum_epoch: 2\n"
               "eval_interval: 2\nlog_interval: 10\ncocodiff: {base_channel: 8}\n", work, good, good);
    fclose(f);
}

// Rewrites the root attribute format_version of path.
static int set_version(const char *path, int64_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Fclose(f);
    return rc;
}

// Runs a shell command; its exit code (-1 when it did not exit).
static int run(const char *cmd) {
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void old_version(const char *T) {
    H5PrepInfo info;
    ok(h5io_prep_info(good, &info) == CD_OK && info.format_version == H5IO_FORMAT_VERSION,
       "the prepared file is format version %d", H5IO_FORMAT_VERSION);
    ok(set_version(old, H5IO_FORMAT_VERSION - 1) == 0, "format_version rewritten to %d", H5IO_FORMAT_VERSION - 1);
    ok(h5io_prep_info(old, &info) == CD_EFORMAT, "h5io_prep_info rejects the older version");
    FeederConfig fc = feeder_config_official(skel_layout_find("ntu25"), 1, stream_of(0, 0));
    fc.window = 16;
    Loader *l = NULL;
    char why[1024] = "", want[64];
    int rc = loader_open(&l, old, 0, &fc, 16, 0, 1, 1, 1, 1, why, sizeof why);
    snprintf(want, sizeof want, "version %d", H5IO_FORMAT_VERSION);
    ok(rc == CD_EFORMAT && l == NULL && strstr(why, old) && strstr(why, want),
       "loader_open: CD_EFORMAT naming the file and the version (%s)", why);
    loader_free(l);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bin/cocodiff-train --config %s --set train_feeder_args.data_path=%s "
             "--set test_feeder_args.data_path=%s >%s/old.log 2>&1", cfg, old, old, T);
    is_int(1, run(cmd), "cocodiff-train on it: exit code 1");
    char p[600];
    snprintf(p, sizeof p, "%s/old.log", T);
    char *log = tap_slurp(p, NULL);
    ok(log && strstr(log, old) && strstr(log, "rerun cocodiff-prep"), "its message names the file and says to rerun cocodiff-prep");
    free(log);
}

static int num(json_t *o, const char *k, double *v) {
    json_t *x = json_object_get(o, k);
    if (!json_is_number(x)) return 0;
    *v = json_number_value(x);
    return isfinite(*v);
}

static void metrics(const char *T) {
    char cmd[2048], p[600];
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 bin/cocodiff-train --config %s >%s/train.log 2>&1", cfg, T);
    is_int(0, run(cmd), "a 2-epoch run (8 steps)");
    snprintf(p, sizeof p, "%s/metrics.jsonl", work);
    FILE *f = fopen(p, "r");
    char line[4096];
    int n = 0, good_lines = 0, evals = 0;
    while (f && fgets(line, sizeof line, f)) {
        n++;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o) { diag("line %d: %s", n, err.text); continue; }
        double ep, st, sa, lr, loss, top1, ts, t1, t5, tl;
        int fine = json_is_object(o) && json_is_integer(json_object_get(o, "epoch")) &&
                   json_is_integer(json_object_get(o, "step")) && num(o, "epoch", &ep) && num(o, "step", &st) &&
                   num(o, "samples", &sa) && num(o, "lr", &lr) && num(o, "train_loss", &loss) &&
                   num(o, "train_top1", &top1) && num(o, "time_s", &ts) && ep == n && st == 2 * n && sa == 32 &&
                   fabs(lr - (n == 1 ? 0.1 : 0.01)) < 1e-12 && loss > 0 && top1 >= 0 && top1 <= 1 && ts >= 0 &&
                   json_is_string(json_object_get(o, "build")) &&
                   !strcmp(json_string_value(json_object_get(o, "build")), cli_version());
        if (json_object_get(o, "test_top1")) {
            fine = fine && num(o, "test_top1", &t1) && num(o, "test_top5", &t5) && num(o, "test_loss", &tl) &&
                   t1 >= 0 && t1 <= t5 && t5 <= 1 && tl > 0;
            evals++;
        }
        if (!fine) diag("line %d: %s", n, line);
        good_lines += fine;
        json_decref(o);
    }
    if (f) fclose(f);
    is_int(2, n, "metrics.jsonl: one line per epoch");
    is_int(2, good_lines, "every line parses, with epoch, step, samples, lr (per epoch), train_loss, train_top1, time_s, "
                          "build (this build's)");
    is_int(1, evals, "test_top1/top5/loss on the evaluated epoch (eval_interval 2) only");
}

// checkpoint_builds_extend on a checkpoint's attributes as h5io reads them.
static void builds_extend(void) {
    char out[512], prev[64];
    H5CkptMeta none = {0}, one = {0}, two = {0}, only_build = {0}, many = {0};
    one.builds = "0.1.0+gaaaaaaa";
    two.builds = "0.1.0+gaaaaaaa 0.1.0+gbbbbbbb-dirty";
    only_build.build = "0.1.0+gaaaaaaa";
    int r = checkpoint_builds_extend(&one, "0.1.0+gaaaaaaa", out, sizeof out, prev, sizeof prev);
    ok(r == 0 && !strcmp(out, "0.1.0+gaaaaaaa"), "resumed by the build that wrote it: its builds as they were (%s)", out);
    prev[0] = 0;
    r = checkpoint_builds_extend(&two, "0.1.0+gaaaaaaa", out, sizeof out, prev, sizeof prev);
    ok(r == 1 && !strcmp(out, "0.1.0+gaaaaaaa 0.1.0+gbbbbbbb-dirty 0.1.0+gaaaaaaa") && !strcmp(prev, "0.1.0+gbbbbbbb-dirty"),
       "resumed by another: appended, the last before it named (%s; prev %s)", out, prev);
    r = checkpoint_builds_extend(&none, "0.1.0+gccccccc", out, sizeof out, prev, sizeof prev);
    ok(r == 1 && !strcmp(out, "unrecorded 0.1.0+gccccccc") && !strcmp(prev, "unrecorded"),
       "a checkpoint from before builds were kept: 'unrecorded' first, never a guess (%s)", out);
    r = checkpoint_builds_extend(&only_build, "0.1.0+gccccccc", out, sizeof out, prev, sizeof prev);
    ok(r == 1 && !strcmp(out, "0.1.0+gaaaaaaa 0.1.0+gccccccc"), "a file with its build only: that build (%s)", out);
    char longer[400] = "";
    for (int i = 0; i < 20; i++) snprintf(longer + strlen(longer), sizeof longer - strlen(longer), "%s0.1.0+g%07d", i ? " " : "", i);
    many.builds = longer;
    char small[48];
    r = checkpoint_builds_extend(&many, "0.1.0+gnew0000", small, sizeof small, NULL, 0);
    ok(r == 1 && !strcmp(small, "... 0.1.0+g0000019 0.1.0+gnew0000"),
       "more than fit: the oldest dropped, '...' first, the newest kept (%s)", small);
}

int main(void) {
    plan(15);
    const char *T = tap_tmpdir();
    make_files(T);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    old_version(T);
    metrics(T);
    builds_extend();
    return tap_done();
}
