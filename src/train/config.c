// config.c - CTR-GCN's training configuration read from YAML (libyaml).
//
// PURPOSE: one table (KEYS) names every key with its type and its field in
// Config; loading, --set overrides, printing and comparing all walk it, so a
// key is added in one place. The CoCoDiff module's options follow it, from
// the module's own table (cocodiff_options.c), read into Config.cocodiff.options
// in the module's types. The only file that includes yaml.h.
// See include/config.h for the keys, defaults and error behaviour.
#include "config.h"
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
#include <yaml.h>

#include "status.h"

// ---------------------------------------------------------------------------
// The key table

typedef enum KeyType {
    K_MAP,     // a nested mapping (its keys follow it in the table)
    K_STR,     // char * (null -> NULL)
    K_INT,     // int
    K_FLOAT,   // double
    K_BOOL,    // int 0/1
    K_INTS,    // ConfigIntList
    K_FLOATS,  // int n at off, double v[2] at off2 (p_interval)
    K_STRS,    // ConfigStrList
    K_ENUM,    // char * from choices
    K_F32,     // float
    K_F32PAIR, // two floats at off, off2 ([lo, hi])
    K_CHOICE,  // int: the index of the value in choices
    K_STREAM,  // char *: a stream's name (stream.h) or null
} KeyType;

enum {
    KF_IGNORED = 1,    // accepted, no effect here
    KF_SCALAR_OK = 2,  // a list key that also takes one scalar
    KF_NULLABLE = 4,   // K_ENUM: null allowed
};

typedef struct KeyDef {
    const char *path;     // dotted
    KeyType type;
    size_t off, off2;
    unsigned flags;
    int minn, maxn;       // list lengths
    const char *choices;  // K_ENUM: "a|b|c"
} KeyDef;

#define OFF(f) offsetof(Config, f)
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
    KFLT("cocodiff.bucket_mb", cocodiff.bucket_mb),
    KBOOL("cocodiff.module", cocodiff.module),
    KSTR("cocodiff.text", cocodiff.text),
    KSTR("cocodiff.parts", cocodiff.parts),
    // then the module's options (key_at)
};
#define NOWN ((int)(sizeof KEYS / sizeof KEYS[0]))

static int nkeys(void) { return NOWN + cocodiff_num_options(); }

// Key i: a row of KEYS, or past them the module option i - NOWN as a row
// (in tmp).
static const KeyDef *key_at(int i, KeyDef *tmp) {
    if (i < NOWN) return &KEYS[i];
    const CocodiffOption *o = cocodiff_option(i - NOWN);
    static const KeyType type[] = {[COCODIFF_OPT_INT] = K_INT, [COCODIFF_OPT_BOOL] = K_BOOL,
                                   [COCODIFF_OPT_FLOAT] = K_F32, [COCODIFF_OPT_FLOAT2] = K_F32PAIR,
                                   [COCODIFF_OPT_CHOICE] = K_CHOICE};
    *tmp = (KeyDef){o->key, type[o->type], OFF(cocodiff.options) + o->off, OFF(cocodiff.options) + o->off2, 0,
                    o->type == COCODIFF_OPT_FLOAT2 ? 2 : 0, o->type == COCODIFF_OPT_FLOAT2 ? 2 : 0, o->choices};
    return tmp;
}

// Optimizers main.py knows but we do not implement.
static const char *const UNSUPPORTED_OPTIMIZERS[] = {"Adam"};

static void *field(Config *c, size_t off) { return (char *)c + off; }
static const void *cfield(const Config *c, size_t off) { return (const char *)c + off; }

static int key_find(const char *path, size_t len) {
    KeyDef tmp;
    for (int i = 0; i < nkeys(); i++) {
        const char *p = key_at(i, &tmp)->path;
        if (strlen(p) == len && !strncmp(p, path, len)) return i;
    }
    return -1;
}

int config_key_kind(const char *path) {
    int i = key_find(path, strlen(path));
    KeyDef tmp;
    return i < 0 ? CONFIG_KEY_NONE : key_at(i, &tmp)->type == K_MAP ? CONFIG_KEY_MAP : CONFIG_KEY_VALUE;
}

static const char *leaf(const char *path) {
    const char *d = strrchr(path, '.');
    return d ? d + 1 : path;
}

// ---------------------------------------------------------------------------
// Defaults

static int set_str(char **dst, const char *s) {
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
    return set_str(&f->split, "train");
}

int config_init(Config *c) {
    memset(c, 0, sizeof *c);
    int rc = CD_OK;
    rc |= set_str(&c->work_dir, "./work_dir/temp");
    rc |= set_str(&c->model_saved_name, "");
    rc |= set_str(&c->config, "./config/nturgbd-cross-view/test_bone.yaml");
    rc |= set_str(&c->phase, "train");
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
    rc |= set_str(&c->feeder, "feeder.feeder");
    c->num_worker = 32;
    rc |= feeder_defaults(&c->train_feeder_args);
    rc |= feeder_defaults(&c->test_feeder_args);
    // Unlike the Feeder's default (train), the test arguments read /test:
    // every official config says split: test, and a config that forgets it
    // would otherwise test on the training samples.
    rc |= set_str(&c->test_feeder_args.split, "test");
    ConfigModelArgs *m = &c->model_args;
    m->num_class = 60;
    m->num_point = 25;
    m->num_person = 2;
    rc |= set_str(&m->labeling_mode, "spatial");
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
    rc |= set_str(&c->optimizer, "SGD");
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
    rc |= set_str(&c->cocodiff.metrics_file, "metrics.jsonl");
    c->cocodiff.threads = 1;
    c->cocodiff.momentum = 0.9;
    c->cocodiff.base_channel = 64;
    c->cocodiff.folds = 0;
    c->cocodiff.fold = 0;
    // The official model's gradients are 5.5 MiB at base 64: PyTorch DDP's
    // 25 MiB would be a single bucket (no overlap); 1 MiB (DDP's first
    // bucket) gives 5, the first one after l10's backward.
    c->cocodiff.bucket_mb = 1;
    c->cocodiff.module = 0;
    cocodiff_config_default(&c->cocodiff.options);
    return rc ? CD_ENOMEM : CD_OK;
}

void config_free(Config *c) {
    if (!c) return;
    for (int i = 0; i < NOWN; i++) {   // the module's options own no memory
        const KeyDef *k = &KEYS[i];
        if (k->type == K_STR || k->type == K_ENUM || k->type == K_STREAM) {
            free(*(char **)field(c, k->off));
        } else if (k->type == K_STRS) {
            ConfigStrList *l = field(c, k->off);
            for (int j = 0; j < l->n; j++) free(l->v[j]);
        }
    }
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------------------
// Errors and suggestions

// Where a value came from: a file (with lines) or one --set assignment.
typedef struct Src {
    const char *file;     // NULL for --set
    const char *assign;   // the --set text
    yaml_document_t *doc;
    int *seen_line;       // [nkeys()] line where each key was given (file only)
    Config *c;
    char *why;
    size_t whylen;
} Src;

__attribute__((format(printf, 3, 4)))
static int fail(const Src *s, const yaml_node_t *n, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->file)
        snprintf(s->why, s->whylen, "%s:%lu: %s", s->file,
                 n ? (unsigned long)n->start_mark.line + 1 : 0ul, msg);
    else
        snprintf(s->why, s->whylen, "--set %s: %s", s->assign, msg);
    return CD_EARG;
}

// Edit distance, with '-' equal to '_' and case ignored (CTR-GCN's command
// line spells base_lr as --base-lr).
static int edit_distance(const char *a, size_t la, const char *b) {
    size_t lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            if (ca == '-') ca = '_';
            if (cb == '-') cb = '_';
            int v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;   // transposition
            d[i][j] = v;
        }
    return d[la][lb];
}

// The known key closest to `name` (len bytes) inside mapping `prefix` ("" for
// the top level); a key of the same name elsewhere wins over a distant one.
static const char *suggest(const char *prefix, const char *name, size_t len) {
    size_t pl = strlen(prefix);
    int best = -1, bestd = INT_MAX;
    KeyDef tmp;
    for (int i = 0; i < nkeys(); i++) {
        const char *p = key_at(i, &tmp)->path;
        if (pl ? strncmp(p, prefix, pl) || p[pl] != '.' : 0) continue;
        const char *rest = pl ? p + pl + 1 : p;
        if (strchr(rest, '.')) continue;   // not a direct child
        int d = edit_distance(name, len, rest);
        if (d < bestd) bestd = d, best = i;
    }
    if (bestd > 0) {
        for (int i = 0; i < nkeys(); i++) {
            const char *p = key_at(i, &tmp)->path, *l = leaf(p);
            if (l != p && strlen(l) == len && !strncmp(l, name, len)) return p;
        }
    }
    return best >= 0 ? key_at(best, &tmp)->path : NULL;
}

// ---------------------------------------------------------------------------
// Scalars (YAML 1.1 resolution, as PyYAML reads CTR-GCN's files)

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static int plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static int is_null(const yaml_node_t *n) {
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || !plain(n)) return 0;
    const char *v = sval(n);
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int parse_bool(const yaml_node_t *n, int *out) {
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON",
                                    "y", "Y", "1"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off",
                                    "OFF", "n", "N", "0"};
    if (n->type != YAML_SCALAR_NODE || !plain(n)) return 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!strcmp(sval(n), t[i])) return *out = 1, 1;
        if (!strcmp(sval(n), f[i])) return *out = 0, 1;
    }
    return 0;
}

static int parse_int(const yaml_node_t *n, int *out) {
    if (n->type != YAML_SCALAR_NODE || !plain(n)) return 0;
    const char *v = sval(n);
    const char *p = v + (*v == '+' || *v == '-');
    if (!isdigit((unsigned char)*p)) return 0;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    errno = 0;
    long x = strtol(v, NULL, 10);
    if (errno || x < INT_MIN || x > INT_MAX) return 0;
    *out = (int)x;
    return 1;
}

static int parse_float(const yaml_node_t *n, double *out) {
    if (n->type != YAML_SCALAR_NODE || !plain(n)) return 0;
    const char *v = sval(n);
    if (!*v || strspn(v, "0123456789+-.eE") != strlen(v)) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || errno == ERANGE || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

// "'abc'", "a list", "a mapping" - what a wrong value was, for messages.
static const char *what(const yaml_node_t *n, char *buf, size_t len) {
    if (!n || is_null(n)) return "null";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    snprintf(buf, len, "%s'%.60s'", plain(n) ? "" : "the string ", sval(n));
    return buf;
}

static const char *type_name(const KeyDef *k, char *buf, size_t len) {
    switch (k->type) {
    case K_MAP: return "a mapping";
    case K_STR: return "a string";
    case K_INT: return "an integer";
    case K_FLOAT:
    case K_F32: return "a number";
    case K_BOOL: return "a boolean (true/false)";
    case K_INTS:
        snprintf(buf, len, "a list of %d to %d integers%s", k->minn, k->maxn,
                 k->flags & KF_SCALAR_OK ? " (or one integer)" : "");
        return buf;
    case K_FLOATS:
        snprintf(buf, len, "a list of %d to %d numbers%s", k->minn, k->maxn,
                 k->flags & KF_SCALAR_OK ? " (or one number)" : "");
        return buf;
    case K_STRS: snprintf(buf, len, "a list of at most %d strings", k->maxn); return buf;
    case K_F32PAIR: return "a list of 2 to 2 numbers";
    case K_CHOICE:
    case K_ENUM:
        snprintf(buf, len, "one of %s%s", k->choices, k->flags & KF_NULLABLE ? "|null" : "");
        return buf;
    case K_STREAM: {
        int n = snprintf(buf, len, "one of ");
        if (n >= 0 && (size_t)n < len) stream_names(buf + n, len - (size_t)n, "|", "|");
        if (strlen(buf) + 6 < len) strcat(buf, "|null");
        return buf;
    }
    }
    return "?";
}

// ---------------------------------------------------------------------------
// Assigning one node to one key

static void note_ignored(Config *c, const char *path) {
    size_t l = strlen(path), have = strlen(c->ignored);
    for (const char *p = c->ignored; (p = strstr(p, path)); p += l)
        if ((p == c->ignored || p[-1] == ' ') && (p[l] == ',' || !p[l])) return;
    if (have + l + 3 >= sizeof c->ignored) return;
    snprintf(c->ignored + have, sizeof c->ignored - have, "%s%s", have ? ", " : "", path);
}

static int walk_map(Src *s, const yaml_node_t *map, const char *prefix);

// The items of a list node (or the node itself when a scalar is allowed).
static int items(const Src *s, const yaml_node_t *n, const KeyDef *k, const yaml_node_t **out,
                 int *count) {
    char tb[128], wb[96];
    *count = 0;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            if (*count >= k->maxn) break;
            out[(*count)++] = yaml_document_get_node(s->doc, *it);
        }
        int total = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (total < k->minn || total > k->maxn)
            return fail(s, n, "key '%s': expected %s, got %d entries", k->path,
                        type_name(k, tb, sizeof tb), total);
        return CD_OK;
    }
    if (n->type == YAML_SCALAR_NODE && (k->flags & KF_SCALAR_OK) && !is_null(n)) {
        out[(*count)++] = n;
        return CD_OK;
    }
    return fail(s, n, "key '%s': expected %s, got %s", k->path, type_name(k, tb, sizeof tb),
                what(n, wb, sizeof wb));
}

// The index of v in "a|b|c", or -1.
static int choice_index(const char *choices, const char *v) {
    size_t vl = strlen(v);
    int i = 0;
    for (const char *p = choices; p; i++) {
        const char *e = strchr(p, '|');
        size_t pl = e ? (size_t)(e - p) : strlen(p);
        if (pl == vl && !strncmp(p, v, vl)) return i;
        p = e ? e + 1 : NULL;
    }
    return -1;
}

static int assign(Src *s, int ki, const yaml_node_t *n) {
    KeyDef tmp;
    const KeyDef *k = key_at(ki, &tmp);
    Config *c = s->c;
    char tb[128], wb[96];
    const yaml_node_t *it[CONFIG_STR_LIST_MAX];
    int cnt, rc;
    // An ignored flag counts only when on: the official configs spell out
    // debug: False and the like.
    if ((k->flags & KF_IGNORED) && k->type != K_BOOL) note_ignored(c, k->path);
    if (k->type == K_MAP) {
        if (n && n->type == YAML_MAPPING_NODE) return walk_map(s, n, k->path);
        if (is_null(n)) return CD_OK;   // "model_args:" with nothing under it
        return fail(s, n, "key '%s': expected a mapping, got %s", k->path, what(n, wb, sizeof wb));
    }
#define BAD() fail(s, n, "key '%s': expected %s, got %s", k->path, type_name(k, tb, sizeof tb), \
                   what(n, wb, sizeof wb))
    if (!n) return BAD();
    switch (k->type) {
    case K_STR:
        if (is_null(n)) return set_str(field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE) return BAD();
        return set_str(field(c, k->off), sval(n));
    case K_STREAM:
        if (is_null(n)) return set_str(field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE || !stream_find(sval(n))) return BAD();
        return set_str(field(c, k->off), stream_find(sval(n))->name);   // "motion" -> joint_motion
    case K_CHOICE:
    case K_ENUM: {
        if (is_null(n) && (k->flags & KF_NULLABLE)) return set_str(field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE || is_null(n)) return BAD();
        const char *v = sval(n);
        int ci = choice_index(k->choices, v);
        if (ci >= 0 && k->type == K_CHOICE) *(int *)field(c, k->off) = ci;
        if (ci >= 0) return k->type == K_CHOICE ? CD_OK : set_str(field(c, k->off), v);
        for (size_t i = 0; !strcmp(k->path, "optimizer") &&
                           i < sizeof UNSUPPORTED_OPTIMIZERS / sizeof UNSUPPORTED_OPTIMIZERS[0]; i++)
            if (!strcmp(v, UNSUPPORTED_OPTIMIZERS[i]))
                return fail(s, n, "key 'optimizer': '%s' is not supported by CoCoDiff-C "
                            "(supported: %s)", v, k->choices);
        return BAD();
    }
    case K_INT:
        if (!parse_int(n, field(c, k->off))) return BAD();
        return CD_OK;
    case K_FLOAT:
        if (!parse_float(n, field(c, k->off))) return BAD();
        return CD_OK;
    case K_F32: {
        double v;
        if (!parse_float(n, &v)) return BAD();
        *(float *)field(c, k->off) = (float)v;
        return CD_OK;
    }
    case K_BOOL:
        if (!parse_bool(n, field(c, k->off))) return BAD();
        if ((k->flags & KF_IGNORED) && *(int *)field(c, k->off)) note_ignored(c, k->path);
        return CD_OK;
#define BAD_ITEM(i) fail(s, it[i], "key '%s': expected %s; entry %d is %s", k->path, \
                          type_name(k, tb, sizeof tb), (i) + 1, what(it[i], wb, sizeof wb))
    case K_INTS: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        ConfigIntList l = {0};
        for (int i = 0; i < cnt; i++)
            if (!parse_int(it[i], &l.v[l.n++])) return BAD_ITEM(i);
        *(ConfigIntList *)field(c, k->off) = l;
        return CD_OK;
    }
    case K_FLOATS:
    case K_F32PAIR: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        double v[2] = {0, 0};
        for (int i = 0; i < cnt; i++)
            if (!parse_float(it[i], &v[i])) return BAD_ITEM(i);
        if (k->type == K_F32PAIR) {
            *(float *)field(c, k->off) = (float)v[0];
            *(float *)field(c, k->off2) = (float)v[1];
            return CD_OK;
        }
        *(int *)field(c, k->off) = cnt;
        memcpy(field(c, k->off2), v, sizeof v);
        return CD_OK;
    }
    case K_STRS: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        for (int i = 0; i < cnt; i++)
            if (it[i]->type != YAML_SCALAR_NODE || is_null(it[i])) return BAD_ITEM(i);
        ConfigStrList *l = field(c, k->off);
        for (int i = 0; i < l->n; i++) free(l->v[i]);
        memset(l, 0, sizeof *l);
        for (int i = 0; i < cnt; i++, l->n++)
            if ((rc = set_str(&l->v[i], sval(it[i])))) return rc;
        return CD_OK;
    }
    case K_MAP: break;
    }
#undef BAD
#undef BAD_ITEM
    return CD_OK;
}

// Every pair of mapping `map`, whose keys live under `prefix` ("" on top).
static int walk_map(Src *s, const yaml_node_t *map, const char *prefix) {
    char path[256];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(s->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(s->doc, p->value);
        char wb[96];
        if (!kn || kn->type != YAML_SCALAR_NODE)
            return fail(s, kn, "a key must be a name, got %s", what(kn, wb, sizeof wb));
        const char *name = sval(kn);
        int len = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        int ki = len < (int)sizeof path ? key_find(path, (size_t)len) : -1;
        if (ki < 0) {
            const char *sug = suggest(prefix, name, strlen(name));
            return fail(s, kn, "unknown key '%.200s'%s%s%s", path, sug ? " (did you mean '" : "",
                        sug ? sug : "", sug ? "'?)" : "");
        }
        if (s->seen_line) {
            if (s->seen_line[ki])
                return fail(s, kn, "key '%s' given twice (first at line %d)", path, s->seen_line[ki]);
            s->seen_line[ki] = (int)kn->start_mark.line + 1;
        }
        int rc = assign(s, ki, vn);
        if (rc) return rc;
    }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Loading and overriding

// name: the file (errors then give its line) or "--set ..." (with_line 0).
static int parse_doc(yaml_document_t *doc, const unsigned char *text, size_t len, const char *name,
                     int with_line, char *why, size_t whylen) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(why, whylen, "%s: cannot initialize the YAML parser", name);
        return CD_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, text, len);
    int ok = yaml_parser_load(&parser, doc);
    if (!ok)
    {
        char at[32] = "";
        if (with_line) snprintf(at, sizeof at, ":%lu", (unsigned long)parser.problem_mark.line + 1);
        snprintf(why, whylen, "%s%s: not valid YAML: %s%s%s", name, at,
                 parser.problem ? parser.problem : "?", parser.context ? " " : "",
                 parser.context ? parser.context : "");
    }
    yaml_parser_delete(&parser);
    return ok ? CD_OK : CD_EFORMAT;
}

// The YAML text on top of c; name is what the messages call it.
static int load_text(Config *c, const char *text, size_t len, const char *name, char *why, size_t whylen) {
    yaml_document_t doc;
    int rc = parse_doc(&doc, (const unsigned char *)text, len, name, 1, why, whylen);
    if (rc) return rc;
    int *seen = cd_calloc((size_t)nkeys(), sizeof *seen);
    if (!seen) { yaml_document_delete(&doc); return CD_ENOMEM; }
    Src s = {name, NULL, &doc, seen, c, why, whylen};
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            fail(&s, root, "the file must be a mapping of keys (like CTR-GCN's config/*.yaml)");
            rc = CD_EFORMAT;
        } else
            rc = walk_map(&s, root, "");
    }
    yaml_document_delete(&doc);
    free(seen);
    return rc;
}

int config_load_text(Config *c, const char *text, size_t len, const char *name, char *why, size_t whylen) {
    int rc = config_init(c);
    if (rc) { snprintf(why, whylen, "%s: out of memory", name); return rc; }
    return load_text(c, text, len, name, why, whylen);
}

int config_load(Config *c, const char *path, char *why, size_t whylen) {
    int rc = config_init(c);
    if (rc) { snprintf(why, whylen, "%s: out of memory", path); return rc; }
    if ((rc = set_str(&c->config, path))) return rc;
    size_t len = 0;
    char *text = NULL;
    if ((rc = fs_read_all(path, FS_MAX_CONFIG, &text, &len))) {
        char b[96];
        snprintf(why, whylen, "%s: cannot read: %s", path, fs_read_why(errno, FS_MAX_CONFIG, b, sizeof b));
        return rc;
    }
    rc = load_text(c, text, len, path, why, whylen);
    free(text);
    return rc;
}

int config_set(Config *c, const char *assignment, char *why, size_t whylen) {
    const char *eq = strchr(assignment, '=');
    Src s = {NULL, assignment, NULL, NULL, c, why, whylen};
    if (!eq || eq == assignment) return fail(&s, NULL, "expected key=value");
    // The key, blanks trimmed; each dotted component must be known.
    const char *k0 = assignment, *k1 = eq;
    while (k0 < k1 && isspace((unsigned char)*k0)) k0++;
    while (k1 > k0 && isspace((unsigned char)k1[-1])) k1--;
    char prefix[256] = "";
    int ki = -1;
    KeyDef tmp;
    for (const char *p = k0; p < k1;) {
        const char *dot = memchr(p, '.', (size_t)(k1 - p));
        const char *e = dot ? dot : k1;
        ki = key_find(k0, (size_t)(e - k0));
        if (ki >= 0 && dot && key_at(ki, &tmp)->type != K_MAP) {
            char tb[128];
            return fail(&s, NULL, "key '%s' is not a mapping (it takes %s)", key_at(ki, &tmp)->path,
                        type_name(key_at(ki, &tmp), tb, sizeof tb));
        }
        if (ki < 0) {
            const char *sug = suggest(prefix, p, (size_t)(e - p));
            return fail(&s, NULL, "unknown key '%.*s'%s%s%s", (int)(k1 - k0), k0,
                        sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        }
        snprintf(prefix, sizeof prefix, "%s", key_at(ki, &tmp)->path);
        p = dot ? dot + 1 : k1;
    }
    if (ki < 0) return fail(&s, NULL, "expected key=value");
    yaml_document_t doc;
    const char *val = eq + 1;
    char name[300];
    snprintf(name, sizeof name, "--set %s", assignment);
    int rc = parse_doc(&doc, (const unsigned char *)val, strlen(val), name, 0, why, whylen);
    if (rc) return rc == CD_EFORMAT ? CD_EARG : rc;
    s.doc = &doc;
    rc = assign(&s, ki, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    return rc;
}

// ---------------------------------------------------------------------------
// Checks across keys

const char *config_stream(const Config *c) {
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

OptimSchedule config_lr_schedule(const Config *c) {
    OptimSchedule s = {.base_lr = c->base_lr, .decay_rate = c->lr_decay_rate, .warm_up = c->warm_up_epoch};
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
        if (strcmp(fa[i]->split, "train") && strcmp(fa[i]->split, "test"))
            return cd_why(why, whylen, CD_EARG, "%s.split is '%s': a cocodiff-prep file holds the splits train "
                          "and test", i ? "test_feeder_args" : "train_feeder_args", fa[i]->split);
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
        {"cocodiff.threads", c->cocodiff.threads, 1}, {"model_args.num_class", c->model_args.num_class, 1},
        {"cocodiff.base_channel", c->cocodiff.base_channel, 8},   // CTRGC needs cin / 8 >= 1
        {"train_feeder_args.repeat", c->train_feeder_args.repeat, 1},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v < pos[i].min) {
            snprintf(why, whylen, "%s is %d; it must be >= %d", pos[i].key, pos[i].v, pos[i].min);
            return CD_EARG;
        }
    if (!(c->cocodiff.bucket_mb >= 0 && c->cocodiff.bucket_mb <= 65536)) {
        snprintf(why, whylen, "cocodiff.bucket_mb is %g; it must be in [0, 65536] (MiB; 0: one blocking "
                 "all-reduce after backward)", c->cocodiff.bucket_mb);
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
    if (c->cocodiff.stream && strcmp(c->cocodiff.stream, config_stream(c))) {
        snprintf(why, whylen, "cocodiff.stream is '%s' but the feeders' bone/vel flags give '%s' "
                 "(set train_feeder_args/test_feeder_args bone and vel to match)",
                 c->cocodiff.stream, config_stream(c));
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
    for (int i = 0; i < nkeys(); i++) {
        const KeyDef *k = key_at(i, &tmp);
        int depth = 0;
        for (const char *p = k->path; *p; p++) depth += *p == '.';
        fprintf(f, "%*s%s:", 2 * depth, "", leaf(k->path));
        const void *v = cfield(c, k->off);
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
            fmt_float(*(const float *)cfield(c, k->off2), 1, b, sizeof b);
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
            const double *d = cfield(c, k->off2);
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
    const void *x = cfield(a, k->off), *y = cfield(b, k->off);
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
               *(const float *)cfield(a, k->off2) == *(const float *)cfield(b, k->off2);
    case K_INTS: {
        const ConfigIntList *l = x, *m = y;
        return l->n == m->n && !memcmp(l->v, m->v, (size_t)l->n * sizeof l->v[0]);
    }
    case K_FLOATS: {
        int n = *(const int *)x;
        const double *d = cfield(a, k->off2), *e = cfield(b, k->off2);
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
    for (int i = 0; i < nkeys(); i++) {
        const KeyDef *k = key_at(i, &tmp);
        if (!key_equal(k, a, b)) {
            if (key && keylen) snprintf(key, keylen, "%s", k->path);
            return 1;
        }
    }
    if (key && keylen) key[0] = 0;
    return 0;
}
