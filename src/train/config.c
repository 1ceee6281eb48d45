// config.c - CTR-GCN's training configuration: the key table, defaults,
// checks across keys, printing and comparing (reading YAML: config_read.c).
//
// PURPOSE: one table (KEYS) names every key with its type and its field in
// Config; loading, --set overrides, printing and comparing all walk it, so a
// key is added in one place. The CoCoDiff module's options follow it, from
// the module's own table (cocodiff_options.c), read into Config.cocodiff.options
// in the module's types.
// See include/config.h for the keys, defaults and error behaviour.
#include "config.h"
#include "config_keys.h"
#include "cocodiff.h"
#include "fsutil.h"
#include "skeleton.h"
#include "stream.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

// ---------------------------------------------------------------------------
// The key table


#define KMAP(p) {p, K_MAP, 0, 0, 0, 0, 0, NULL}
#define KSTR(p, f) {p, K_STR, OFF(f), 0, 0, 0, 0, NULL}
#define KINT(p, f) {p, K_INT, OFF(f), 0, 0, 0, 0, NULL}
#define KFLT(p, f) {p, K_FLOAT, OFF(f), 0, 0, 0, 0, NULL}
#define KBOOL(p, f) {p, K_BOOL, OFF(f), 0, 0, 0, 0, NULL}
#define KIGN(p, t, f) {p, t, OFF(f), 0, KF_IGNORED, 0, 0, NULL}
// debug, random_choose, random_shift, random_move and normalization: the
// official feeders store them and never use them (feeder_ntu.py
// __getitem__), so they are listed as ignored, as main.py ignores them.
#define FEEDER_KEYS(P, F)                                                              \
    KMAP(P), KSTR(P ".data_path", F.data_path), KSTR(P ".label_path", F.label_path),    \
        KSTR(P ".split", F.split), KIGN(P ".debug", K_BOOL, F.debug),                   \
        KIGN(P ".random_choose", K_BOOL, F.random_choose), KIGN(P ".random_shift", K_BOOL, F.random_shift), \
        KIGN(P ".random_move", K_BOOL, F.random_move), KINT(P ".window_size", F.window_size),  \
        KIGN(P ".normalization", K_BOOL, F.normalization), KBOOL(P ".random_rot", F.random_rot), \
        {P ".p_interval", K_FLOATS, OFF(F.n_p_interval), OFF(F.p_interval), KF_SCALAR_OK, 1, 2, NULL}, \
        KBOOL(P ".vel", F.vel), KBOOL(P ".bone", F.bone), KIGN(P ".use_mmap", K_BOOL, F.use_mmap), \
        KINT(P ".repeat", F.repeat)

static const KeyDef KEYS[] = {
    KSTR("work_dir", work_dir),
    KIGN("model_saved_name", K_STR, model_saved_name),
    KSTR("config", config),
    {"phase", K_ENUM, OFF(phase), 0, 0, 0, 0, "train|test"},
    KBOOL("save_score", save_score),
    KINT("seed", seed),
    KINT("log_interval", log_interval),
    KINT("save_interval", save_interval),
    KINT("save_epoch", save_epoch),
    KINT("eval_interval", eval_interval),
    KIGN("print_log", K_BOOL, print_log),
    {"show_topk", K_INTS, OFF(show_topk), 0, 0, 1, CONFIG_LIST_MAX, NULL},
    KSTR("feeder", feeder),
    KIGN("num_worker", K_INT, num_worker),
    FEEDER_KEYS("train_feeder_args", train_feeder_args),
    FEEDER_KEYS("test_feeder_args", test_feeder_args),
    KSTR("model", model),
    KMAP("model_args"),
    KINT("model_args.num_class", model_args.num_class),
    KINT("model_args.num_point", model_args.num_point),
    KINT("model_args.num_person", model_args.num_person),
    KSTR("model_args.graph", model_args.graph),
    KMAP("model_args.graph_args"),
    KSTR("model_args.graph_args.labeling_mode", model_args.labeling_mode),
    KINT("model_args.in_channels", model_args.in_channels),
    KFLT("model_args.drop_out", model_args.drop_out),
    KBOOL("model_args.adaptive", model_args.adaptive),
    KSTR("weights", weights),
    {"ignore_weights", K_STRS, OFF(ignore_weights), 0, 0, 0, CONFIG_STR_LIST_MAX, NULL},
    KFLT("base_lr", base_lr),
    {"step", K_INTS, OFF(step), 0, 0, 0, CONFIG_LIST_MAX, NULL},
    {"device", K_INTS, OFF(device), 0, KF_IGNORED | KF_SCALAR_OK, 1, CONFIG_LIST_MAX, NULL},
    {"optimizer", K_ENUM, OFF(optimizer), 0, 0, 0, 0, "SGD"},
    KBOOL("nesterov", nesterov),
    KINT("batch_size", batch_size),
    KINT("test_batch_size", test_batch_size),
    KINT("start_epoch", start_epoch),
    KINT("num_epoch", num_epoch),
    KFLT("weight_decay", weight_decay),
    KFLT("lr_decay_rate", lr_decay_rate),
    KINT("warm_up_epoch", warm_up_epoch),
    KMAP("cocodiff"),
    KBOOL("cocodiff.sync_bn", cocodiff.sync_bn),
    KINT("cocodiff.checkpoint_steps", cocodiff.checkpoint_steps),
    {"cocodiff.stream", K_STREAM, OFF(cocodiff.stream), 0, 0, 0, 0, NULL},
    KSTR("cocodiff.metrics_file", cocodiff.metrics_file),
    KINT("cocodiff.threads", cocodiff.threads),
    KFLT("cocodiff.momentum", cocodiff.momentum),
    KINT("cocodiff.base_channel", cocodiff.base_channel),
    KINT("cocodiff.folds", cocodiff.folds),
    KINT("cocodiff.fold", cocodiff.fold),
    KFLT("cocodiff.train_fraction", cocodiff.train_fraction),
    KINT("cocodiff.dump_features", cocodiff.dump_features),
    KFLT("cocodiff.bucket_mb", cocodiff.bucket_mb),
    KINT("cocodiff.accumulate", cocodiff.accumulate),
    KINT("cocodiff.lr_batch", cocodiff.lr_batch),
    {"cocodiff.probe_scales", K_FLOATS, OFF(cocodiff.n_probe_scales), OFF(cocodiff.probe_scales), KF_SCALAR_OK, 0,
     CONFIG_PROBE_SCALES_MAX, NULL},
    KBOOL("cocodiff.module", cocodiff.module),
    KSTR("cocodiff.text", cocodiff.text),
    KSTR("cocodiff.parts", cocodiff.parts),
    // then the module's options (key_at)
};
#define NOWN ((int)(sizeof KEYS / sizeof KEYS[0]))

int config_nkeys(void) { return NOWN + cocodiff_num_options(); }

// Key i: a row of KEYS, or past them the module option i - NOWN as a row
// (in tmp).
const KeyDef *config_key_at(int i, KeyDef *tmp) {
    if (i < NOWN) return &KEYS[i];
    const CocodiffOption *o = cocodiff_option(i - NOWN);
    static const KeyType type[] = {[COCODIFF_OPT_INT] = K_INT, [COCODIFF_OPT_BOOL] = K_BOOL,
                                   [COCODIFF_OPT_FLOAT] = K_F32, [COCODIFF_OPT_FLOAT2] = K_F32PAIR,
                                   [COCODIFF_OPT_CHOICE] = K_CHOICE};
    *tmp = (KeyDef){o->key, type[o->type], OFF(cocodiff.options) + o->off, OFF(cocodiff.options) + o->off2, 0,
                    o->type == COCODIFF_OPT_FLOAT2 ? 2 : 0, o->type == COCODIFF_OPT_FLOAT2 ? 2 : 0, o->choices};
    return tmp;
}

void *config_field(Config *c, size_t off) { return (char *)c + off; }
const void *config_cfield(const Config *c, size_t off) { return (const char *)c + off; }

int config_key_find(const char *path, size_t len) {
    KeyDef tmp;
    for (int i = 0; i < config_nkeys(); i++) {
        const char *p = config_key_at(i, &tmp)->path;
        if (strlen(p) == len && !strncmp(p, path, len)) return i;
    }
    return -1;
}

int config_key_kind(const char *path) {
    int i = config_key_find(path, strlen(path));
    KeyDef tmp;
    return i < 0 ? CONFIG_KEY_NONE : config_key_at(i, &tmp)->type == K_MAP ? CONFIG_KEY_MAP : CONFIG_KEY_VALUE;
}

const char *config_leaf(const char *path) {
    const char *d = strrchr(path, '.');
    return d ? d + 1 : path;
}

// ---------------------------------------------------------------------------
// Defaults

int config_set_str(char **dst, const char *s) {
    char *n = NULL;
    if (s) {
        n = cd_malloc(strlen(s) + 1);
        if (!n) return CD_ENOMEM;
        strcpy(n, s);
    }
    free(*dst);
    *dst = n;
    return CD_OK;
}

static int feeder_defaults(ConfigFeederArgs *f) {
    f->debug = f->random_choose = f->random_shift = f->random_move = 0;
    f->window_size = -1;
    f->normalization = f->random_rot = 0;
    f->n_p_interval = 1;
    f->p_interval[0] = 1.0;
    f->p_interval[1] = 0.0;
    f->vel = f->bone = f->use_mmap = 0;
    f->repeat = 1;
    return config_set_str(&f->split, "train");
}

int config_init(Config *c) {
    memset(c, 0, sizeof *c);
    int rc = CD_OK;
    rc |= config_set_str(&c->work_dir, "./work_dir/temp");
    rc |= config_set_str(&c->model_saved_name, "");
    rc |= config_set_str(&c->config, "./config/nturgbd-cross-view/test_bone.yaml");
    rc |= config_set_str(&c->phase, "train");
    c->save_score = 0;
    c->seed = 1;
    c->log_interval = 100;
    c->save_interval = 1;
    c->save_epoch = 30;
    c->eval_interval = 1;   // main.py tests after every epoch (its eval_interval is never read)
    c->print_log = 1;
    c->show_topk.n = 2;
    c->show_topk.v[0] = 1;
    c->show_topk.v[1] = 5;
    rc |= config_set_str(&c->feeder, "feeder.feeder");
    c->num_worker = 32;
    rc |= feeder_defaults(&c->train_feeder_args);
    rc |= feeder_defaults(&c->test_feeder_args);
    // Unlike the Feeder's default (train), the test arguments read /test:
    // every official config says split: test, and a config that forgets it
    // would otherwise test on the training samples.
    rc |= config_set_str(&c->test_feeder_args.split, "test");
    ConfigModelArgs *m = &c->model_args;
    m->num_class = 60;
    m->num_point = 25;
    m->num_person = 2;
    rc |= config_set_str(&m->labeling_mode, "spatial");
    m->in_channels = 3;
    m->drop_out = 0.0;
    m->adaptive = 1;
    c->base_lr = 0.01;
    c->step.n = 3;
    c->step.v[0] = 20;
    c->step.v[1] = 40;
    c->step.v[2] = 60;
    c->device.n = 1;
    c->device.v[0] = 0;
    rc |= config_set_str(&c->optimizer, "SGD");
    c->nesterov = 0;
    c->batch_size = 256;
    c->test_batch_size = 256;
    c->start_epoch = 0;
    c->num_epoch = 80;
    c->weight_decay = 0.0005;
    c->lr_decay_rate = 0.1;
    c->warm_up_epoch = 0;
    c->cocodiff.sync_bn = 1;
    c->cocodiff.checkpoint_steps = 0;
    rc |= config_set_str(&c->cocodiff.metrics_file, "metrics.jsonl");
    c->cocodiff.threads = 1;
    c->cocodiff.momentum = 0.9;
    c->cocodiff.base_channel = 64;
    c->cocodiff.folds = 0;
    c->cocodiff.fold = 0;
    c->cocodiff.train_fraction = 1;
    // The official model's gradients are 5.5 MiB at base 64: PyTorch DDP's
    // 25 MiB would be a single bucket (no overlap); 1 MiB (DDP's first
    // bucket) gives 5, the first one after l10's backward.
    c->cocodiff.bucket_mb = 1;
    c->cocodiff.accumulate = 1;
    c->cocodiff.lr_batch = 0;
    c->cocodiff.module = 0;
    cocodiff_config_default(&c->cocodiff.options);
    return rc ? CD_ENOMEM : CD_OK;
}

void config_free(Config *c) {
    if (!c) return;
    for (int i = 0; i < NOWN; i++) {   // the module's options own no memory
        const KeyDef *k = &KEYS[i];
        if (k->type == K_STR || k->type == K_ENUM || k->type == K_STREAM) {
            free(*(char **)config_field(c, k->off));
        } else if (k->type == K_STRS) {
            ConfigStrList *l = config_field(c, k->off);
            for (int j = 0; j < l->n; j++) free(l->v[j]);
        }
    }
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------------------
// Checks across keys

const char *config_stream(const Config *c) {
    if (c->cocodiff.stream) return c->cocodiff.stream;   // a stream's name (config_read.c)
    return stream_of(c->train_feeder_args.bone, c->train_feeder_args.vel)->name;
}

const char *config_ignored(const Config *c) { return c->ignored; }

static int want_str(const char *got, const char *want, const char *key, char *why, size_t whylen) {
    if (got && !strcmp(got, want)) return CD_OK;
    snprintf(why, whylen, "%s is '%s'; CoCoDiff-C implements only '%s'", key, got ? got : "null", want);
    return CD_EARG;
}

// The graphs the C model has: the skeleton layouts' (skeleton.h).
static int want_graph(const char *g, char *why, size_t whylen) {
    if (skel_layout_find(g)) return CD_OK;
    char names[200];
    skel_layout_names(names, sizeof names);
    snprintf(why, whylen, "model_args.graph '%s' is not supported (%s)", g ? g : "(unset)", names);
    return CD_EARG;
}

double config_base_lr(const Config *c) {
    const ConfigCocodiff *k = &c->cocodiff;
    return k->lr_batch > 0 ? c->base_lr * ((double)c->batch_size * k->accumulate / k->lr_batch) : c->base_lr;
}

OptimSchedule config_lr_schedule(const Config *c) {
    OptimSchedule s = {.base_lr = config_base_lr(c), .decay_rate = c->lr_decay_rate, .warm_up = c->warm_up_epoch};
    for (int i = 0; i < c->step.n && i < OPTIM_MAX_STEPS; i++) s.steps[s.nsteps++] = c->step.v[i];
    return s;
}

int config_sgd_init(OptimSgd *o, size_t n, const Config *c) {
    memset(o, 0, sizeof *o);
    if (!c->optimizer || strcmp(c->optimizer, "SGD")) {
        CD_ERR("optimizer '%s' is not supported (only SGD)", c->optimizer ? c->optimizer : "null");
        return CD_EARG;
    }
    return optim_sgd_init(o, n, c->cocodiff.momentum, c->weight_decay, c->nesterov);
}

const SkelLayout *config_layout(const Config *c) { return skel_layout_find(c->model_args.graph); }

const char *config_parts_path(const Config *c) {
    if (c->cocodiff.parts) return c->cocodiff.parts;
    const SkelLayout *l = config_layout(c);
    return l ? l->parts : skel_layout_find("ntu25")->parts;
}

int config_gen_start_epoch(const Config *c) {
    const int e = c->cocodiff.options.gen_start_epoch;
    return e < 0 ? c->warm_up_epoch : e;
}

// The cocodiff.* module keys (checked whether or not the module is on, so a
// bad ablation config fails before a long run switches it on).
static int check_module(const Config *c, char *why, size_t whylen) {
    const ConfigCocodiff *k = &c->cocodiff;
    if (k->module && !k->text) {
        snprintf(why, whylen, "cocodiff.module is on but cocodiff.text is not set (HINT: make one with "
                 "cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out text.h5)");
        return CD_EARG;
    }
    return cocodiff_options_check(&k->options, why, whylen);
}

// cocodiff.folds / cocodiff.fold: off (0, fold 0), or K >= 2 with fold in
// [0, K). Whether the data has K subjects is the trainer's check (fold.h).
static int check_folds(const Config *c, char *why, size_t whylen) {
    int K = c->cocodiff.folds, i = c->cocodiff.fold;
    if (K < 0 || K == 1) {
        snprintf(why, whylen, "cocodiff.folds is %d; it must be 0 (off) or the number of cross-validation folds, "
                 ">= 2", K);
        return CD_EARG;
    }
    if (K == 0 && i != 0) {
        snprintf(why, whylen, "cocodiff.fold is %d but cocodiff.folds is 0 (off); set cocodiff.folds to the "
                 "number of folds", i);
        return CD_EARG;
    }
    if (K >= 2 && (i < 0 || i >= K)) {
        snprintf(why, whylen, "cocodiff.fold is %d; with cocodiff.folds %d it must be in [0, %d]", i, K, K - 1);
        return CD_EARG;
    }
    return CD_OK;
}

// The official feeders: those of the skeleton layouts (feeder_ntu reads NTU
// and Kinetics files, feeder_ucla NW-UCLA).
static int want_feeder(const char *f, char *why, size_t whylen) {
    char names[200] = "";
    for (int i = 0; skel_layout_get(i); i++) {
        const char *lf = skel_layout_get(i)->feeder;
        if (f && !strcmp(f, lf)) return CD_OK;
        if (!strstr(names, lf)) snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? " and " : "", lf);
    }
    snprintf(why, whylen, "feeder is '%s'; CoCoDiff-C implements %s", f ? f : "null", names);
    return CD_EARG;
}

// The feeder must be the one of the graph's layout (feeder and graph already
// checked): feeders.feeder_ucla.Feeder reads NW-UCLA, whose graph is
// graph.ucla.Graph, and only it.
static int want_feeder_graph(const Config *c, char *why, size_t whylen) {
    const SkelLayout *l = config_layout(c);
    if (!strcmp(c->feeder, l->feeder)) return CD_OK;
    snprintf(why, whylen, "feeder %s and model_args.graph %s do not go together (%s is read by %s)", c->feeder,
             c->model_args.graph, c->model_args.graph, l->feeder);
    return CD_EARG;
}

// CTR-GCN's keys that are not only read: each works as in main.py or is
// refused with what to run instead (never accepted and left without effect).
static int check_vocabulary(const Config *c, char *why, size_t whylen) {
    const ConfigFeederArgs *fa[2] = {&c->train_feeder_args, &c->test_feeder_args};
    for (int i = 0; i < 2; i++)
        if (!fa[i]->split || (strcmp(fa[i]->split, "train") && strcmp(fa[i]->split, "test")))   // null: `split: ~`
            return cd_why(why, whylen, CD_EARG, "%s.split is %s%s%s: a cocodiff-prep file holds the splits train "
                          "and test", i ? "test_feeder_args" : "train_feeder_args", fa[i]->split ? "'" : "",
                          fa[i]->split ? fa[i]->split : "null", fa[i]->split ? "'" : "");
    if (c->weights) {
        const char *dot = strrchr(c->weights, '.');
        if (dot && (!strcmp(dot, ".pt") || !strcmp(dot, ".pth") || !strcmp(dot, ".pkl")))
            return cd_why(why, whylen, CD_EARG, "weights %s is a PyTorch file; convert it first: "
                          "scripts/convert_ctrgcn.py to-h5 %s OUT.h5 --stream %s, then weights: OUT.h5",
                          c->weights, c->weights, config_stream(c));
    }
    if (!strcmp(c->phase, "test") && !c->weights)
        return cd_why(why, whylen, CD_EARG, "phase: test evaluates weights, and weights is not set (main.py: "
                      "'Please appoint --weights'): --weights CKPT.h5");
    if (!strcmp(c->phase, "train") && c->save_score)
        return cd_why(why, whylen, CD_EARG, "save_score: cocodiff-train writes no scores while it trains; after "
                      "training evaluate the best epoch and keep its scores with `cocodiff-train --config %s "
                      "--phase test --weights WORK_DIR/best.h5` (or cocodiff-eval --checkpoint WORK_DIR/best.h5 "
                      "--data DATA --out DIR)", c->config ? c->config : "CONFIG");
    if (!c->model_args.adaptive)
        return cd_why(why, whylen, CD_EARG, "model_args.adaptive: false (a fixed graph without the learned PA) is "
                      "not implemented; the official configs keep it true");
    for (int i = 0; i < c->show_topk.n; i++)
        if (c->show_topk.v[i] < 1 || c->show_topk.v[i] > c->model_args.num_class)
            return cd_why(why, whylen, CD_EARG, "show_topk has %d; each k must be in [1, num_class %d]",
                          c->show_topk.v[i], c->model_args.num_class);
    return CD_OK;
}

int config_check(const Config *c, char *why, size_t whylen) {
    int rc;
    if ((rc = want_feeder(c->feeder, why, whylen)) ||
        (rc = want_str(c->model, "model.ctrgcn.Model", "model", why, whylen)) ||
        (rc = want_graph(c->model_args.graph, why, whylen)) || (rc = want_feeder_graph(c, why, whylen)) ||
        (rc = want_str(c->model_args.labeling_mode, "spatial", "model_args.graph_args.labeling_mode",
                       why, whylen)))
        return rc;
    struct { const char *key; int v, min; } pos[] = {
        {"batch_size", c->batch_size, 1}, {"test_batch_size", c->test_batch_size, 1},
        {"num_epoch", c->num_epoch, 1}, {"start_epoch", c->start_epoch, 0},
        {"warm_up_epoch", c->warm_up_epoch, 0}, {"save_interval", c->save_interval, 1},
        {"eval_interval", c->eval_interval, 1}, {"log_interval", c->log_interval, 1},
        {"cocodiff.checkpoint_steps", c->cocodiff.checkpoint_steps, 0},
        {"cocodiff.dump_features", c->cocodiff.dump_features, 0},
        {"cocodiff.threads", c->cocodiff.threads, 1}, {"model_args.num_class", c->model_args.num_class, 1},
        {"cocodiff.base_channel", c->cocodiff.base_channel, 8},   // CTRGC needs cin / 8 >= 1
        {"train_feeder_args.repeat", c->train_feeder_args.repeat, 1},
        {"cocodiff.accumulate", c->cocodiff.accumulate, 1}, {"cocodiff.lr_batch", c->cocodiff.lr_batch, 0},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v < pos[i].min) {
            snprintf(why, whylen, "%s is %d; it must be >= %d", pos[i].key, pos[i].v, pos[i].min);
            return CD_EARG;
        }
    // Issue 12, finding 8: negative values were accepted and used.
    const struct { const char *key; double v; } nonneg[] = {
        {"base_lr", c->base_lr}, {"weight_decay", c->weight_decay}, {"lr_decay_rate", c->lr_decay_rate},
        {"seed", (double)c->seed},
    };
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if (!(nonneg[i].v >= 0 && isfinite(nonneg[i].v))) {
            snprintf(why, whylen, "%s is %g; it must be a finite number >= 0", nonneg[i].key, nonneg[i].v);
            return CD_EARG;
        }
    for (int i = 0; i < c->step.n; i++)
        if (c->step.v[i] < 0) {
            snprintf(why, whylen, "step[%d] is %d; the epochs where the learning rate decays are >= 0", i, c->step.v[i]);
            return CD_EARG;
        }
    const ConfigFeederArgs *fa[2] = {&c->train_feeder_args, &c->test_feeder_args};
    for (int i = 0; i < 2; i++)   // -1 (unset) is the layout's window; 0 or below used to become 64 silently
        if (fa[i]->window_size == 0 || fa[i]->window_size < -1) {
            snprintf(why, whylen, "%s.window_size is %d; it must be >= 1 (or left out: the layout's window)",
                     i ? "test_feeder_args" : "train_feeder_args", fa[i]->window_size);
            return CD_EARG;
        }
    if (c->cocodiff.threads > CONFIG_MAX_THREADS) {   // an allocation per thread; OpenBLAS hung on the failure
        snprintf(why, whylen, "cocodiff.threads is %d; at most %d", c->cocodiff.threads, CONFIG_MAX_THREADS);
        return CD_EARG;
    }
    if (!(c->cocodiff.bucket_mb >= 0 && c->cocodiff.bucket_mb <= 65536)) {
        snprintf(why, whylen, "cocodiff.bucket_mb is %g; it must be in [0, 65536] (MiB; 0: one blocking "
                 "all-reduce after backward)", c->cocodiff.bucket_mb);
        return CD_EARG;
    }
    if ((long long)c->batch_size * c->cocodiff.accumulate > INT_MAX) {
        snprintf(why, whylen, "batch_size %d x cocodiff.accumulate %d is over %d samples a step", c->batch_size,
                 c->cocodiff.accumulate, INT_MAX);
        return CD_EARG;
    }
    if (!(c->cocodiff.train_fraction > 0 && c->cocodiff.train_fraction <= 1)) {
        snprintf(why, whylen, "cocodiff.train_fraction is %g; it must be in (0, 1] (the share of each class's "
                 "training samples kept)", c->cocodiff.train_fraction);
        return CD_EARG;
    }
    for (int i = 0; i < c->cocodiff.n_probe_scales; i++)
        if (!(c->cocodiff.probe_scales[i] > 0 && c->cocodiff.probe_scales[i] <= 1e6)) {
            snprintf(why, whylen, "cocodiff.probe_scales entry %d is %g; each must be in (0, 1e6] (a classifier-free "
                     "guidance scale)", i + 1, c->cocodiff.probe_scales[i]);
            return CD_EARG;
        }
    if (c->cocodiff.base_channel % 4) {
        snprintf(why, whylen, "cocodiff.base_channel is %d; it must be a multiple of 4 (the temporal "
                 "convolution has 4 branches)", c->cocodiff.base_channel);
        return CD_EARG;
    }
    if ((rc = check_folds(c, why, whylen))) return rc;
    if ((rc = check_module(c, why, whylen))) return rc;
    if ((rc = check_vocabulary(c, why, whylen))) return rc;
    if (c->start_epoch > c->num_epoch) {
        snprintf(why, whylen, "start_epoch %d is past num_epoch %d", c->start_epoch, c->num_epoch);
        return CD_EARG;
    }
    const ConfigFeederArgs *tr = &c->train_feeder_args, *te = &c->test_feeder_args;
    if (tr->bone != te->bone || tr->vel != te->vel) {
        snprintf(why, whylen, "train_feeder_args and test_feeder_args disagree on bone/vel "
                 "(train: bone %d vel %d, test: bone %d vel %d)", tr->bone, tr->vel, te->bone, te->vel);
        return CD_EARG;
    }
    const Stream *st = stream_find(c->cocodiff.stream);
    if (c->cocodiff.stream && (!st || st->bone != (tr->bone != 0) || st->vel != (tr->vel != 0))) {
        snprintf(why, whylen, "cocodiff.stream is '%s' but the feeders' bone/vel flags give '%s' "
                 "(set train_feeder_args/test_feeder_args bone and vel to match)",
                 c->cocodiff.stream, stream_of(tr->bone, tr->vel)->name);
        return CD_EARG;
    }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Printing and comparing

// Shortest %g that reads back to x (as a float when single), always with a
// '.' so PyYAML sees a float.
static void fmt_float(double x, int single, char *buf, size_t len) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (single ? strtof(buf, NULL) == (float)x : strtod(buf, NULL) == x) break;
    }
    if (strpbrk(buf, ".n")) return;   // has a '.', or inf/nan
    char *e = strchr(buf, 'e');
    char tail[32] = "";
    if (e) { snprintf(tail, sizeof tail, "%s", e); *e = 0; }
    size_t l = strlen(buf);
    snprintf(buf + l, len - l, ".0%s", tail);
}

static void put_str(FILE *f, const char *s) {
    if (!s) { fputs("null", f); return; }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

int config_print(const Config *c, FILE *f) {
    char b[64];
    fputs("# CoCoDiff-C effective configuration (CTR-GCN keys; see include/config.h)\n", f);
    KeyDef tmp;
    for (int i = 0; i < config_nkeys(); i++) {
        const KeyDef *k = config_key_at(i, &tmp);
        int depth = 0;
        for (const char *p = k->path; *p; p++) depth += *p == '.';
        fprintf(f, "%*s%s:", 2 * depth, "", config_leaf(k->path));
        const void *v = config_cfield(c, k->off);
        switch (k->type) {
        case K_MAP: break;
        case K_STR:
        case K_STREAM:
        case K_ENUM: fputc(' ', f); put_str(f, *(char *const *)v); break;
        case K_INT: fprintf(f, " %d", *(const int *)v); break;
        case K_FLOAT: fmt_float(*(const double *)v, 0, b, sizeof b); fprintf(f, " %s", b); break;
        case K_F32: fmt_float(*(const float *)v, 1, b, sizeof b); fprintf(f, " %s", b); break;
        case K_CHOICE: fputc(' ', f); put_str(f, cocodiff_choice_name(k->choices, *(const int *)v, b, sizeof b)); break;
        case K_F32PAIR:
            fmt_float(*(const float *)v, 1, b, sizeof b);
            fprintf(f, " [%s, ", b);
            fmt_float(*(const float *)config_cfield(c, k->off2), 1, b, sizeof b);
            fprintf(f, "%s]", b);
            break;
        case K_BOOL: fputs(*(const int *)v ? " true" : " false", f); break;
        case K_INTS: {
            const ConfigIntList *l = v;
            fputs(" [", f);
            for (int j = 0; j < l->n; j++) fprintf(f, "%s%d", j ? ", " : "", l->v[j]);
            fputc(']', f);
            break;
        }
        case K_FLOATS: {
            const double *d = config_cfield(c, k->off2);
            fputs(" [", f);
            for (int j = 0; j < *(const int *)v; j++) {
                fmt_float(d[j], 0, b, sizeof b);
                fprintf(f, "%s%s", j ? ", " : "", b);
            }
            fputc(']', f);
            break;
        }
        case K_STRS: {
            const ConfigStrList *l = v;
            fputs(" [", f);
            for (int j = 0; j < l->n; j++) {
                if (j) fputs(", ", f);
                put_str(f, l->v[j]);
            }
            fputc(']', f);
            break;
        }
        }
        fputc('\n', f);
    }
    return ferror(f) ? CD_EIO : CD_OK;
}

static int str_eq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static int key_equal(const KeyDef *k, const Config *a, const Config *b) {
    const void *x = config_cfield(a, k->off), *y = config_cfield(b, k->off);
    switch (k->type) {
    case K_MAP: return 1;
    case K_STR:
    case K_STREAM:
    case K_ENUM: return str_eq(*(char *const *)x, *(char *const *)y);
    case K_INT:
    case K_CHOICE:
    case K_BOOL: return *(const int *)x == *(const int *)y;
    case K_FLOAT: return *(const double *)x == *(const double *)y;
    case K_F32: return *(const float *)x == *(const float *)y;
    case K_F32PAIR:
        return *(const float *)x == *(const float *)y &&
               *(const float *)config_cfield(a, k->off2) == *(const float *)config_cfield(b, k->off2);
    case K_INTS: {
        const ConfigIntList *l = x, *m = y;
        return l->n == m->n && !memcmp(l->v, m->v, (size_t)l->n * sizeof l->v[0]);
    }
    case K_FLOATS: {
        int n = *(const int *)x;
        const double *d = config_cfield(a, k->off2), *e = config_cfield(b, k->off2);
        if (n != *(const int *)y) return 0;
        for (int j = 0; j < n; j++)
            if (d[j] != e[j]) return 0;
        return 1;
    }
    case K_STRS: {
        const ConfigStrList *l = x, *m = y;
        if (l->n != m->n) return 0;
        for (int j = 0; j < l->n; j++)
            if (!str_eq(l->v[j], m->v[j])) return 0;
        return 1;
    }
    }
    return 0;
}

int config_diff(const Config *a, const Config *b, char *key, size_t keylen) {
    KeyDef tmp;
    for (int i = 0; i < config_nkeys(); i++) {
        const KeyDef *k = config_key_at(i, &tmp);
        if (!key_equal(k, a, b)) {
            if (key && keylen) snprintf(key, keylen, "%s", k->path);
            return 1;
        }
    }
    if (key && keylen) key[0] = 0;
    return 0;
}

int config_read(Config *c, const char *path, const char *const *sets, int nsets, char *why, size_t whylen) {
    // config_load initialises c itself (also when it fails): initialising it
    // here as well would leak the defaults' strings.
    int rc = config_load(c, path, why, whylen);
    if (rc) return rc;
    for (int i = 0; i < nsets; i++)
        if ((rc = config_set(c, sets[i], why, whylen))) return rc;
    return config_check(c, why, whylen);
}
