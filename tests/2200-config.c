// 2200-config.c - config_load / config_set / config_print / config_check on
// CTR-GCN's own configuration files (tests/data/config: the official
// config/nturgbd-cross-subject and nturgbd120-cross-set default.yaml), every
// field checked against what main.py reads; main.py's defaults; unknown keys
// (file, line and the closest key), wrong types, --set overrides (nested,
// lists), and the printed config loading back to the same struct.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "status.h"
#include "tap/tap.h"

#define DIR "tests/data/config"

static char why[1024];
static int bad;   // mismatches seen by the CK_* checks of the current group

#define CK_INT(got, want)                                                                    \
    do {                                                                                     \
        long long g_ = (got), w_ = (want);                                                   \
        if (g_ != w_) { diag("%s: got %lld, want %lld", #got, g_, w_); bad++; }              \
    } while (0)
#define CK_DBL(got, want)                                                                    \
    do {                                                                                     \
        double g_ = (got), w_ = (want);                                                      \
        if (g_ != w_) { diag("%s: got %.17g, want %.17g", #got, g_, w_); bad++; }            \
    } while (0)
#define CK_STR(got, want)                                                                    \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        if (!(g_ == w_ || (g_ && w_ && !strcmp(g_, w_)))) {                                  \
            diag("%s: got %s, want %s", #got, g_ ? g_ : "NULL", w_ ? w_ : "NULL");           \
            bad++;                                                                           \
        }                                                                                    \
    } while (0)
#define CK_LIST(l, ...)                                                                      \
    do {                                                                                     \
        const int wl_[] = {__VA_ARGS__};                                                     \
        int nl_ = (int)(sizeof wl_ / sizeof wl_[0]);                                         \
        CK_INT((l).n, nl_);                                                                  \
        for (int i_ = 0; i_ < nl_ && i_ < (l).n; i_++) CK_INT((l).v[i_], wl_[i_]);           \
    } while (0)

// feeder_ntu.Feeder's defaults for the keys a file leaves out.
static void ck_feeder(const ConfigFeederArgs *f, const char *data_path, const char *split, int train) {
    CK_STR(f->data_path, data_path);
    CK_STR(f->label_path, NULL);
    CK_STR(f->split, split);
    CK_INT(f->debug, 0);
    CK_INT(f->random_choose, 0);
    CK_INT(f->random_shift, 0);
    CK_INT(f->random_move, 0);
    CK_INT(f->window_size, 64);
    CK_INT(f->normalization, 0);
    CK_INT(f->random_rot, train);   // test_feeder_args leaves it to the default (False)
    CK_INT(f->n_p_interval, train ? 2 : 1);
    CK_DBL(f->p_interval[0], train ? 0.5 : 0.95);
    if (train) CK_DBL(f->p_interval[1], 1.0);
    CK_INT(f->vel, 0);
    CK_INT(f->bone, 0);
    CK_INT(f->use_mmap, 0);
    CK_INT(f->repeat, 1);
}

// Every field of the official NTU default.yaml files (the two differ in
// work_dir, data_path and num_class), other keys at main.py's defaults.
static void ck_ntu(const Config *c, const char *path, const char *work_dir, const char *data_path,
                   int num_class) {
    bad = 0;
    CK_STR(c->work_dir, work_dir);
    CK_STR(c->model_saved_name, "");
    CK_STR(c->config, path);
    CK_STR(c->phase, "train");
    CK_INT(c->save_score, 0);
    CK_INT(c->seed, 1);
    CK_INT(c->log_interval, 100);
    CK_INT(c->save_interval, 1);
    CK_INT(c->save_epoch, 30);
    CK_INT(c->eval_interval, 1);
    CK_INT(c->print_log, 1);
    CK_LIST(c->show_topk, 1, 5);
    CK_STR(c->feeder, "feeders.feeder_ntu.Feeder");
    CK_INT(c->num_worker, 32);
    ck_feeder(&c->train_feeder_args, data_path, "train", 1);
    ck_feeder(&c->test_feeder_args, data_path, "test", 0);
    CK_STR(c->model, "model.ctrgcn.Model");
    CK_INT(c->model_args.num_class, num_class);
    CK_INT(c->model_args.num_point, 25);
    CK_INT(c->model_args.num_person, 2);
    CK_STR(c->model_args.graph, "graph.ntu_rgb_d.Graph");
    CK_STR(c->model_args.labeling_mode, "spatial");
    CK_INT(c->model_args.in_channels, 3);
    CK_DBL(c->model_args.drop_out, 0.0);
    CK_INT(c->model_args.adaptive, 1);
    CK_STR(c->weights, NULL);
    CK_INT(c->ignore_weights.n, 0);
    CK_DBL(c->weight_decay, 0.0004);
    CK_DBL(c->base_lr, 0.1);
    CK_DBL(c->lr_decay_rate, 0.1);
    CK_LIST(c->step, 35, 55);
    CK_INT(c->warm_up_epoch, 5);
    CK_LIST(c->device, 0);
    CK_STR(c->optimizer, "SGD");
    CK_INT(c->batch_size, 64);
    CK_INT(c->test_batch_size, 64);
    CK_INT(c->num_epoch, 65);
    CK_INT(c->start_epoch, 0);
    CK_INT(c->nesterov, 1);
    CK_INT(c->cocodiff.sync_bn, 1);
    CK_INT(c->cocodiff.checkpoint_steps, 0);
    CK_STR(c->cocodiff.stream, NULL);
    CK_STR(c->cocodiff.metrics_file, "metrics.jsonl");
    CK_INT(c->cocodiff.threads, 1);
    CK_DBL(c->cocodiff.momentum, 0.9);
    CK_DBL(c->cocodiff.bucket_mb, 1);
}

static void ck_defaults(const Config *c) {
    bad = 0;
    CK_STR(c->work_dir, "./work_dir/temp");
    CK_STR(c->model_saved_name, "");
    CK_STR(c->config, "./config/nturgbd-cross-view/test_bone.yaml");
    CK_STR(c->phase, "train");
    CK_INT(c->save_score, 0);
    CK_INT(c->seed, 1);
    CK_INT(c->log_interval, 100);
    CK_INT(c->save_interval, 1);
    CK_INT(c->save_epoch, 30);
    CK_INT(c->eval_interval, 1);
    CK_INT(c->print_log, 1);
    CK_LIST(c->show_topk, 1, 5);
    CK_STR(c->feeder, "feeder.feeder");
    CK_INT(c->num_worker, 32);
    const ConfigFeederArgs *fs[2] = {&c->train_feeder_args, &c->test_feeder_args};
    for (int i = 0; i < 2; i++) {
        const ConfigFeederArgs *f = fs[i];
        CK_STR(f->data_path, NULL);
        CK_STR(f->split, i ? "test" : "train");   // ours: the test arguments read /test
        CK_INT(f->window_size, -1);
        CK_INT(f->random_rot + f->random_choose + f->random_shift + f->random_move + f->debug, 0);
        CK_INT(f->normalization + f->vel + f->bone + f->use_mmap, 0);
        CK_INT(f->n_p_interval, 1);
        CK_DBL(f->p_interval[0], 1.0);
    }
    CK_STR(c->model, NULL);
    CK_INT(c->model_args.num_class, 60);
    CK_INT(c->model_args.num_point, 25);
    CK_INT(c->model_args.num_person, 2);
    CK_STR(c->model_args.graph, NULL);
    CK_STR(c->model_args.labeling_mode, "spatial");
    CK_INT(c->model_args.in_channels, 3);
    CK_DBL(c->model_args.drop_out, 0.0);
    CK_INT(c->model_args.adaptive, 1);
    CK_STR(c->weights, NULL);
    CK_INT(c->ignore_weights.n, 0);
    CK_DBL(c->base_lr, 0.01);
    CK_LIST(c->step, 20, 40, 60);
    CK_LIST(c->device, 0);
    CK_STR(c->optimizer, "SGD");
    CK_INT(c->nesterov, 0);
    CK_INT(c->batch_size, 256);
    CK_INT(c->test_batch_size, 256);
    CK_INT(c->start_epoch, 0);
    CK_INT(c->num_epoch, 80);
    CK_DBL(c->weight_decay, 0.0005);
    CK_DBL(c->lr_decay_rate, 0.1);
    CK_INT(c->warm_up_epoch, 0);
}

// Writes text to a file in the test's temporary directory; returns its path.
static const char *write_tmp(const char *name, const char *text) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", tap_tmpdir(), name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) bail("cannot write %s", p);
    return p;
}

// Loading text must fail with status want and a reason containing every
// string of parts (NULL-terminated).
static void load_fails(const char *name, const char *text, int want, const char *label, ...) {
    const char *path = write_tmp(name, text);
    Config c;
    why[0] = 0;
    int rc = config_load(&c, path, why, sizeof why);
    int good = rc == want;
    va_list ap;
    va_start(ap, label);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(why, s)) { diag("reason lacks \"%s\"", s); good = 0; }
    va_end(ap);
    if (!ok(good, "%s", label)) diag("rc %d (want %d), reason: %s", rc, want, why);
    else diag("  %s", why);
    config_free(&c);
}

static void set_fails(Config *c, const char *assign, const char *label, ...) {
    why[0] = 0;
    int rc = config_set(c, assign, why, sizeof why);
    int good = rc == CD_EARG;
    va_list ap;
    va_start(ap, label);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(why, s)) { diag("reason lacks \"%s\"", s); good = 0; }
    va_end(ap);
    if (!ok(good, "%s", label)) diag("rc %d, reason: %s", rc, why);
    else diag("  %s", why);
}

static void must_set(Config *c, const char *assign) {
    if (config_set(c, assign, why, sizeof why) != CD_OK) bail("config_set %s: %s", assign, why);
}

static void test_official(void) {
    Config c;
    const char *p60 = DIR "/nturgbd-cross-subject.yaml", *p120 = DIR "/nturgbd120-cross-set.yaml";
    int rc = config_load(&c, p60, why, sizeof why);
    if (rc == CD_EIO) skip_all("no fixture %s", p60);
    if (!ok(rc == CD_OK, "loads CTR-GCN's nturgbd-cross-subject/default.yaml")) diag("%s", why);
    ck_ntu(&c, p60, "./work_dir/ntu60/xsub/ctrgcn_joint", "data/ntu/NTU60_CS.npz", 60);
    ok(bad == 0, "NTU60 xsub: every field as main.py reads it (%d mismatches)", bad);
    is_str("device", config_ignored(&c), "the ignored keys given are listed (device)");
    if (!ok(config_check(&c, why, sizeof why) == CD_OK, "config_check accepts it")) diag("%s", why);
    is_str("joint", config_stream(&c), "its stream is joint");
    config_free(&c);

    rc = config_load(&c, p120, why, sizeof why);
    if (!ok(rc == CD_OK, "loads CTR-GCN's nturgbd120-cross-set/default.yaml")) diag("%s", why);
    ck_ntu(&c, p120, "./work_dir/ntu120/xset/ctrgcn_joint", "data/ntu120/NTU120_CSet.npz", 120);
    ok(bad == 0, "NTU120 xset: every field as main.py reads it (%d mismatches)", bad);
    config_free(&c);

    config_init(&c);
    ck_defaults(&c);
    ok(bad == 0, "config_init: main.py / Feeder / Model defaults (%d mismatches)", bad);
    is_str("", config_ignored(&c), "no ignored keys given");
    ok(config_check(&c, why, sizeof why) == CD_EARG && strstr(why, "feeder"),
       "config_check: the default feeder 'feeder.feeder' is not implemented");
    config_free(&c);
    config_free(NULL);

    const char *empty = write_tmp("empty.yaml", "# nothing\n");
    rc = config_load(&c, empty, why, sizeof why);
    int is_path = c.config && !strcmp(c.config, empty);
    free(c.config);
    c.config = strdup("./config/nturgbd-cross-view/test_bone.yaml");
    ck_defaults(&c);
    // Issue 12, finding 8: an empty config is an error naming the file and
    // the emptiness (it gave the defaults, and a later error named neither).
    ok(rc == CD_EFORMAT && strstr(why, "empty.yaml: the config is empty") && bad == 0 && is_path,
       "an empty file is an error naming it and its emptiness (c keeps the defaults, config = its path)");
    config_free(&c);
}

static void test_errors(void) {
    load_fails("typo.yaml", "work_dir: ./w\n\nbase_lrr: 0.1\n", CD_EARG,
               "unknown key: file, line and the closest key", "typo.yaml:3:", "unknown key 'base_lrr'",
               "did you mean 'base_lr'?", NULL);
    load_fails("dash.yaml", "base-lr: 0.1\n", CD_EARG, "CTR-GCN's option spelling base-lr -> base_lr",
               "dash.yaml:1:", "did you mean 'base_lr'?", NULL);
    load_fails("nested.yaml", "train_feeder_args:\n  split: train\n  windw_size: 64\n", CD_EARG,
               "unknown nested key", "nested.yaml:3:", "'train_feeder_args.windw_size'",
               "did you mean 'train_feeder_args.window_size'?", NULL);
    load_fails("level.yaml", "window_size: 64\n", CD_EARG, "a nested key at the top level",
               "level.yaml:1:", "did you mean 'train_feeder_args.window_size'?", NULL);
    load_fails("lr.yaml", "base_lr: fast\n", CD_EARG, "wrong type: a string for base_lr", "lr.yaml:1:",
               "key 'base_lr'", "expected a number", "'fast'", NULL);
    load_fails("lrq.yaml", "step: [1]\nbase_lr: '0.1'\n", CD_EARG, "wrong type: a quoted number",
               "lrq.yaml:2:", "key 'base_lr'", "the string '0.1'", NULL);
    load_fails("step.yaml", "nesterov: True\nstep: 35\n", CD_EARG, "wrong type: a scalar for step",
               "step.yaml:2:", "key 'step'", "expected a list of 0 to 16 integers", NULL);
    load_fails("steps.yaml", "step:\n  - 35\n  - 5.5\n", CD_EARG, "wrong type: a float in step",
               "steps.yaml:3:", "key 'step'", "entry 2", "'5.5'", NULL);
    load_fails("ws.yaml", "test_feeder_args:\n  window_size: 64.0\n", CD_EARG, "wrong type: a float "
               "for window_size", "ws.yaml:2:", "'test_feeder_args.window_size'", "an integer", NULL);
    load_fails("bool.yaml", "nesterov: maybe\n", CD_EARG, "wrong type: bool", "bool.yaml:1:",
               "a boolean", NULL);
    load_fails("pint.yaml", "train_feeder_args:\n  p_interval: [0.1, 0.5, 1]\n", CD_EARG,
               "p_interval takes 1 or 2 numbers", "pint.yaml:2:", "got 3 entries", NULL);
    load_fails("map.yaml", "model_args: 60\n", CD_EARG, "a scalar for a mapping", "map.yaml:1:",
               "expected a mapping", NULL);
    load_fails("adam.yaml", "optimizer: Adam\n", CD_EARG, "Adam: not supported", "adam.yaml:1:",
               "'Adam' is not supported", "SGD", NULL);
    load_fails("dup.yaml", "seed: 1\nnum_epoch: 3\nseed: 2\n", CD_EARG, "a key given twice",
               "dup.yaml:3:", "'seed' given twice (first at line 1)", NULL);
    load_fails("syntax.yaml", "step: [35, 55\nseed: 1\n", CD_EFORMAT, "not YAML: CD_EFORMAT",
               "syntax.yaml:", "not valid YAML", NULL);
    load_fails("list.yaml", "- 1\n- 2\n", CD_EFORMAT, "not a mapping", "list.yaml:1:", NULL);
    Config c;
    ok(config_load(&c, DIR "/no-such.yaml", why, sizeof why) == CD_EIO && strstr(why, "no-such.yaml"),
       "a missing file: CD_EIO naming it");
    config_free(&c);
}

static void test_set(void) {
    Config c;
    if (config_load(&c, DIR "/nturgbd-cross-subject.yaml", why, sizeof why)) bail("%s", why);
    must_set(&c, "base_lr=0.05");
    must_set(&c, "train_feeder_args.window_size=32");
    must_set(&c, "step=[10,20]");
    must_set(&c, " test_feeder_args.p_interval = 0.9");
    must_set(&c, "model_args.graph_args={labeling_mode: spatial}");
    must_set(&c, "model_args.num_class=120");
    must_set(&c, "ignore_weights=[fc, 'l1.it''s']");
    must_set(&c, "weights=runs-65-1000.h5");
    must_set(&c, "cocodiff={checkpoint_steps: 500, stream: joint}");
    must_set(&c, "cocodiff.sync_bn=false");
    must_set(&c, "num_worker=8");
    must_set(&c, "work_dir=./work dir/a:b");
    bad = 0;
    CK_DBL(c.base_lr, 0.05);
    CK_INT(c.train_feeder_args.window_size, 32);
    CK_INT(c.test_feeder_args.window_size, 64);
    CK_LIST(c.step, 10, 20);
    CK_INT(c.test_feeder_args.n_p_interval, 1);
    CK_DBL(c.test_feeder_args.p_interval[0], 0.9);
    CK_STR(c.model_args.labeling_mode, "spatial");
    CK_INT(c.model_args.num_class, 120);
    CK_INT(c.ignore_weights.n, 2);
    CK_STR(c.ignore_weights.v[0], "fc");
    CK_STR(c.ignore_weights.v[1], "l1.it's");
    CK_STR(c.weights, "runs-65-1000.h5");
    CK_INT(c.cocodiff.checkpoint_steps, 500);
    CK_STR(c.cocodiff.stream, "joint");
    CK_INT(c.cocodiff.sync_bn, 0);
    CK_INT(c.cocodiff.threads, 1);
    CK_STR(c.work_dir, "./work dir/a:b");
    ok(bad == 0, "--set: scalars, nested keys, lists, a scalar p_interval, mappings (%d mismatches)", bad);
    is_str("device, num_worker", config_ignored(&c), "ignored keys from the file and --set, once each");
    must_set(&c, "device=[0,1]");
    is_str("device, num_worker", config_ignored(&c), "... not repeated");

    set_fails(&c, "base_lrr=0.1", "--set unknown key", "--set base_lrr=0.1", "did you mean 'base_lr'?",
              NULL);
    set_fails(&c, "train_feeder_args.windw_size=3", "--set unknown nested key",
              "did you mean 'train_feeder_args.window_size'?", NULL);
    set_fails(&c, "trian_feeder_args.window_size=3", "--set unknown parent",
              "did you mean 'train_feeder_args'?", NULL);
    set_fails(&c, "base_lr.x=3", "--set below a scalar key", "key 'base_lr' is not a mapping", NULL);
    set_fails(&c, "step=35", "--set wrong type: a scalar for step", "key 'step'", "a list", NULL);
    set_fails(&c, "base_lr=abc", "--set wrong type: a string for base_lr", "key 'base_lr'",
              "expected a number", NULL);
    set_fails(&c, "optimizer=Adam", "--set optimizer=Adam: not supported", "not supported", NULL);
    set_fails(&c, "cocodiff.stream=limbs", "--set a value outside an enum",
              "one of joint|bone|joint_motion|bone_motion", NULL);
    set_fails(&c, "base_lr", "--set without '='", "key=value", NULL);
    set_fails(&c, "step=[1, 2", "--set a value that is not YAML", "--set step=[1, 2: not valid YAML",
              NULL);
    CK_DBL(c.base_lr, 0.05);
    CK_LIST(c.step, 10, 20);
    ok(bad == 0, "failed overrides change nothing");

    must_set(&c, "cocodiff.stream=bone");
    ok(config_check(&c, why, sizeof why) == CD_EARG && strstr(why, "cocodiff.stream"),
       "config_check: cocodiff.stream must agree with the feeders' bone/vel");
    diag("  %s", why);
    must_set(&c, "train_feeder_args.bone=true");
    ok(config_check(&c, why, sizeof why) == CD_EARG && strstr(why, "disagree"),
       "config_check: train and test feeders must agree on bone/vel");
    must_set(&c, "test_feeder_args.bone=yes");
    if (!ok(config_check(&c, why, sizeof why) == CD_OK, "config_check: bone stream, both feeders bone"))
        diag("%s", why);
    must_set(&c, "cocodiff.bucket_mb=-1");
    ok(config_check(&c, why, sizeof why) == CD_EARG && strstr(why, "cocodiff.bucket_mb"),
       "config_check: cocodiff.bucket_mb must not be negative");
    must_set(&c, "cocodiff.bucket_mb=0");
    if (!ok(config_check(&c, why, sizeof why) == CD_OK && c.cocodiff.bucket_mb == 0,
            "config_check: cocodiff.bucket_mb 0 (one blocking all-reduce) is fine"))
        diag("%s", why);
    must_set(&c, "train_feeder_args.vel=1");
    is_str("bone", config_stream(&c), "config_stream: cocodiff.stream when set (config_check holds it to the flags)");
    must_set(&c, "cocodiff.stream=null");
    ok(c.cocodiff.stream == NULL, "cocodiff.stream=null: derived from the flags again");
    is_str("bone_motion", config_stream(&c), "config_stream: bone + vel is bone_motion");
    // `split: NULL` (found by fuzz/fuzz_config.c): config_check passed the
    // null string to strcmp, and cocodiff-train crashed.
    must_set(&c, "test_feeder_args.split=NULL");
    ok(config_check(&c, why, sizeof why) == CD_EARG && strstr(why, "test_feeder_args.split is null"),
       "config_check: a null split is an error naming the key, not a crash");
    diag("  %s", why);
    config_free(&c);
}

// print -> load -> the same struct, and printing it again gives the same text.
static void round_trip(Config *a, const char *label) {
    char path[512];
    snprintf(path, sizeof path, "%s/printed.yaml", tap_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f || config_print(a, f) != CD_OK || fclose(f)) bail("cannot print to %s", path);
    Config b;
    int rc = config_load(&b, path, why, sizeof why);
    char key[128] = "";
    int same = rc == CD_OK && !config_diff(a, &b, key, sizeof key);
    if (!ok(same, "%s: printed config loads back to the same struct", label))
        diag("rc %d (%s), first difference: %s", rc, why, key);
    size_t l1, l2;
    char *t1 = tap_slurp(path, &l1);
    f = fopen(path, "w");
    if (!f || config_print(&b, f) != CD_OK || fclose(f)) bail("cannot print to %s", path);
    char *t2 = tap_slurp(path, &l2);
    ok(t1 && t2 && l1 == l2 && !memcmp(t1, t2, l1), "%s: printing the loaded copy gives the same text",
       label);
    free(t1);
    free(t2);
    config_free(&b);
}

static void test_print(void) {
    Config c;
    if (config_load(&c, DIR "/nturgbd120-cross-set.yaml", why, sizeof why)) bail("%s", why);
    round_trip(&c, "NTU120 xset");
    char key[64];
    Config d;
    config_init(&d);
    ok(config_diff(&c, &d, key, sizeof key) == 1 && !strcmp(key, "work_dir"),
       "config_diff names the first differing key");
    config_free(&d);
    must_set(&c, "base_lr=1e-5");
    must_set(&c, "weight_decay=0.1234567890123");
    must_set(&c, "model_args.drop_out=0");
    must_set(&c, "ignore_weights=[\"it's\", 'a b', '#x: y']");
    must_set(&c, "weights=null");
    must_set(&c, "model_saved_name=null");
    must_set(&c, "step=[]");
    must_set(&c, "train_feeder_args.label_path='null'");
    must_set(&c, "cocodiff={stream: joint_motion, threads: 2, momentum: 0.95, bucket_mb: 0.25, metrics_file: m.jsonl}");
    must_set(&c, "phase=test");
    round_trip(&c, "after awkward overrides");
    ok(c.model_saved_name == NULL && c.train_feeder_args.label_path &&
       !strcmp(c.train_feeder_args.label_path, "null"), "null vs the string 'null'");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem || config_print(&c, mem) != CD_OK || fclose(mem)) bail("config_print to memory");
    diag("the printed configuration:");
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) diag("  %s", line);
    free(text);
    config_free(&c);
}

int main(void) {
    plan(57);
    test_official();   // 11
    test_errors();     // 17
    test_set();        // 22
    test_print();      // 6
    return tap_done();
}
