// config_read.c - the training configuration read from YAML (libyaml): a
// file, a text in memory (a checkpoint's config) or one --set override,
// each value checked against its key's type (config_keys.h), unknown keys
// answered with the closest known one. The only file that includes yaml.h.
#include "config.h"
#include "config_keys.h"
#include "fsutil.h"
#include "stream.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "status.h"

// Optimizers main.py knows but we do not implement.
static const char *const UNSUPPORTED_OPTIMIZERS[] = {"Adam"};

// ---------------------------------------------------------------------------
// Errors and suggestions

// Where a value came from: a file (with lines) or one --set assignment.
typedef struct Src {
    const char *file;     // NULL for --set
    const char *assign;   // the --set text
    yaml_document_t *doc;
    int *seen_line;       // [config_nkeys()] line where each key was given (file only)
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
    for (int i = 0; i < config_nkeys(); i++) {
        const char *p = config_key_at(i, &tmp)->path;
        if (pl ? strncmp(p, prefix, pl) || p[pl] != '.' : 0) continue;
        const char *rest = pl ? p + pl + 1 : p;
        if (strchr(rest, '.')) continue;   // not a direct child
        int d = edit_distance(name, len, rest);
        if (d < bestd) bestd = d, best = i;
    }
    if (bestd > 0) {
        for (int i = 0; i < config_nkeys(); i++) {
            const char *p = config_key_at(i, &tmp)->path, *l = config_leaf(p);
            if (l != p && strlen(l) == len && !strncmp(l, name, len)) return p;
        }
    }
    return best >= 0 ? config_key_at(best, &tmp)->path : NULL;
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
    const KeyDef *k = config_key_at(ki, &tmp);
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
        if (is_null(n)) return config_set_str(config_field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE) return BAD();
        return config_set_str(config_field(c, k->off), sval(n));
    case K_STREAM:
        if (is_null(n)) return config_set_str(config_field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE || !stream_find(sval(n))) return BAD();
        return config_set_str(config_field(c, k->off), stream_find(sval(n))->name);   // "motion" -> joint_motion
    case K_CHOICE:
    case K_ENUM: {
        if (is_null(n) && (k->flags & KF_NULLABLE)) return config_set_str(config_field(c, k->off), NULL);
        if (n->type != YAML_SCALAR_NODE || is_null(n)) return BAD();
        const char *v = sval(n);
        int ci = choice_index(k->choices, v);
        if (ci >= 0 && k->type == K_CHOICE) *(int *)config_field(c, k->off) = ci;
        if (ci >= 0) return k->type == K_CHOICE ? CD_OK : config_set_str(config_field(c, k->off), v);
        for (size_t i = 0; !strcmp(k->path, "optimizer") &&
                           i < sizeof UNSUPPORTED_OPTIMIZERS / sizeof UNSUPPORTED_OPTIMIZERS[0]; i++)
            if (!strcmp(v, UNSUPPORTED_OPTIMIZERS[i]))
                return fail(s, n, "key 'optimizer': '%s' is not supported by CoCoDiff-C "
                            "(supported: %s)", v, k->choices);
        return BAD();
    }
    case K_INT:
        if (!parse_int(n, config_field(c, k->off))) return BAD();
        return CD_OK;
    case K_FLOAT:
        if (!parse_float(n, config_field(c, k->off))) return BAD();
        return CD_OK;
    case K_F32: {
        double v;
        if (!parse_float(n, &v)) return BAD();
        *(float *)config_field(c, k->off) = (float)v;
        return CD_OK;
    }
    case K_BOOL:
        if (!parse_bool(n, config_field(c, k->off))) return BAD();
        if ((k->flags & KF_IGNORED) && *(int *)config_field(c, k->off)) note_ignored(c, k->path);
        return CD_OK;
#define BAD_ITEM(i) fail(s, it[i], "key '%s': expected %s; entry %d is %s", k->path, \
                          type_name(k, tb, sizeof tb), (i) + 1, what(it[i], wb, sizeof wb))
    case K_INTS: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        ConfigIntList l = {0};
        for (int i = 0; i < cnt; i++)
            if (!parse_int(it[i], &l.v[l.n++])) return BAD_ITEM(i);
        *(ConfigIntList *)config_field(c, k->off) = l;
        return CD_OK;
    }
    case K_FLOATS:
    case K_F32PAIR: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        double v[CONFIG_LIST_MAX] = {0};   // the unread entries as 0 (p_interval's second)
        for (int i = 0; i < cnt; i++)
            if (!parse_float(it[i], &v[i])) return BAD_ITEM(i);
        if (k->type == K_F32PAIR) {
            *(float *)config_field(c, k->off) = (float)v[0];
            *(float *)config_field(c, k->off2) = (float)v[1];
            return CD_OK;
        }
        *(int *)config_field(c, k->off) = cnt;
        memcpy(config_field(c, k->off2), v, (size_t)k->maxn * sizeof v[0]);   // the field holds maxn
        return CD_OK;
    }
    case K_STRS: {
        if ((rc = items(s, n, k, it, &cnt))) return rc;
        for (int i = 0; i < cnt; i++)
            if (it[i]->type != YAML_SCALAR_NODE || is_null(it[i])) return BAD_ITEM(i);
        ConfigStrList *l = config_field(c, k->off);
        for (int i = 0; i < l->n; i++) free(l->v[i]);
        memset(l, 0, sizeof *l);
        for (int i = 0; i < cnt; i++, l->n++)
            if ((rc = config_set_str(&l->v[i], sval(it[i])))) return rc;
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
        int ki = len < (int)sizeof path ? config_key_find(path, (size_t)len) : -1;
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
    int ok = yaml_parser_load(&parser, doc), extra = 0;
    yaml_document_t next;
    if (ok && yaml_parser_load(&parser, &next)) {   // a second document was ignored silently (issue 12)
        const yaml_node_t *r2 = yaml_document_get_root_node(&next);
        if (r2) {
            char at[32] = "";
            if (with_line) snprintf(at, sizeof at, ":%lu", (unsigned long)r2->start_mark.line + 1);
            snprintf(why, whylen, "%s%s: a second YAML document ('---'); a config is one document", name, at);
            extra = 1;
        }
        yaml_document_delete(&next);
    }
    if (extra) {
        yaml_document_delete(doc);
        yaml_parser_delete(&parser);
        return CD_EFORMAT;
    }
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
    int *seen = cd_calloc((size_t)config_nkeys(), sizeof *seen);
    if (!seen) { yaml_document_delete(&doc); return CD_ENOMEM; }
    Src s = {name, NULL, &doc, seen, c, why, whylen};
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        snprintf(why, whylen, "%s: the config is empty (no keys; see jobs/*.yaml)", name);
        rc = CD_EFORMAT;
    } else {
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
    if ((rc = config_set_str(&c->config, path))) return rc;
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
        ki = config_key_find(k0, (size_t)(e - k0));
        if (ki >= 0 && dot && config_key_at(ki, &tmp)->type != K_MAP) {
            char tb[128];
            return fail(&s, NULL, "key '%s' is not a mapping (it takes %s)", config_key_at(ki, &tmp)->path,
                        type_name(config_key_at(ki, &tmp), tb, sizeof tb));
        }
        if (ki < 0) {
            const char *sug = suggest(prefix, p, (size_t)(e - p));
            return fail(&s, NULL, "unknown key '%.*s'%s%s%s", (int)(k1 - k0), k0,
                        sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        }
        snprintf(prefix, sizeof prefix, "%s", config_key_at(ki, &tmp)->path);
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

