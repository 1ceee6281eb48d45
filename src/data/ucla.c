// ucla.c - NW-UCLA sequences (see ucla.h): names, labels, bone pairs and the
// JSON of one sequence, read as CTR-GCN's feeders/feeder_ucla.py reads it
// (json.load, then np.array: float64 from the file's numbers; strtod and
// Python's float() both round correctly, so the values are the same).
// Also the NW-UCLA layout (skeleton.h) and prep format (dataset.h).
// Includes jansson.h (the JSON parser of the project's dependencies).
#include "ucla.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "feeder_ucla.h"
#include "skeleton.h"
#include "status.h"

// The ten actions (a07 and a10 are not in the dataset's skeleton release).
static const int actions[UCLA_NUM_CLASS] = {1, 2, 3, 4, 5, 6, 8, 9, 11, 12};
// The dataset's class names (Wang et al., CVPR 2014), by label.
static const char *const class_names[UCLA_NUM_CLASS] = {
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
};
// feeder_ucla.py self.bone, (v, partner) 1-based, as parent[v - 1] = partner - 1.
static const int bone_parent[UCLA_V] = {
    1, 2, 2, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18,
};

int ucla_label(int action) {
    for (int k = 0; k < UCLA_NUM_CLASS; k++)
        if (actions[k] == action) return k;
    return -1;
}

int ucla_action(int label) { return label >= 0 && label < UCLA_NUM_CLASS ? actions[label] : -1; }

const char *ucla_class_name(int label) {
    return label >= 0 && label < UCLA_NUM_CLASS ? class_names[label] : NULL;
}

const int *ucla_bone_parents(void) { return bone_parent; }

// ---------------------------------------------------------------------------
// The NW-UCLA layout (skeleton.h)

static const char *const joint_names[UCLA_V] = {
    "HipCenter",     "Spine",      "ShoulderCenter", "Head",     "ShoulderLeft", "ElbowLeft", "WristLeft",
    "HandLeft",      "ShoulderRight", "ElbowRight",  "WristRight", "HandRight",  "HipLeft",   "KneeLeft",
    "AnkleLeft",     "FootLeft",   "HipRight",       "KneeRight", "AnkleRight",   "FootRight",
};
// graph/ucla.py inward_ori_index minus 1 (docs/data-conventions.md); centre
// joint 2 (ShoulderCenter) has no parent.
static const int inward[][2] = {
    {0, 1},  {1, 2},   {3, 2},   {4, 2},   {5, 4},   {6, 5},   {7, 6},   {8, 2},  {9, 8},  {10, 9},
    {11, 10}, {12, 0}, {13, 12}, {14, 13}, {15, 14}, {16, 0}, {17, 16}, {18, 17}, {19, 18},
};

const SkelLayout skel_ucla20 = {
    .name = "ucla20-kinect-v1", .graph = "ucla20", .aliases = {"ucla", "graph.ucla.Graph"},
    .V = UCLA_V, .joints = joint_names, .inward = inward, .ninward = (int)(sizeof inward / sizeof inward[0]),
    .bone_parent = bone_parent, .parts = "datasets/parts/ucla20.tsv",
    .feeder = "feeders.feeder_ucla.Feeder", .M = 1, .window = UCLA_WINDOW, .seq_transform = ucla_feeder_seq_transform,
};

int ucla_name_parse(const char *name, UclaName *out) {
    static const char tags[] = "asev";
    int v[4];
    if (strlen(name) != UCLA_NAME_LEN) return CD_EFORMAT;
    for (int i = 0; i < 4; i++) {
        const char *f = name + 4 * i;
        if (f[0] != tags[i] || f[1] < '0' || f[1] > '9' || f[2] < '0' || f[2] > '9' ||
            (i < 3 && f[3] != '_'))
            return CD_EFORMAT;
        v[i] = (f[1] - '0') * 10 + (f[2] - '0');
    }
    *out = (UclaName){v[0], v[1], v[2], v[3]};
    return CD_OK;
}

int ucla_member(const char *path, char *name, UclaName *n, int *label, int *split, char *why,
                size_t whylen) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len != UCLA_NAME_LEN + 5 || strcmp(base + UCLA_NAME_LEN, ".json") != 0)
        return cd_reject(why, whylen, "unknown name '%.64s': want aAA_sSS_eEE_vVV.json", base);
    memcpy(name, base, UCLA_NAME_LEN);
    name[UCLA_NAME_LEN] = '\0';
    if (ucla_name_parse(name, n) != CD_OK)
        return cd_reject(why, whylen, "unknown name '%s': want aAA_sSS_eEE_vVV.json", base);
    int l = ucla_label(n->action);
    if (l < 0)
        return cd_reject(why, whylen, "unknown name '%s': action a%02d is not one of the ten "
                         "NW-UCLA classes (1-6, 8, 9, 11, 12)", base, n->action);
    if (n->view < 1 || n->view > 3)
        return cd_reject(why, whylen, "unknown name '%s': view v%02d (NW-UCLA has views 1-3)",
                         base, n->view);
    *label = l;
    *split = n->view == 3;
    return CD_OK;
}

// ---------------------------------------------------------------------------
// One sequence

// Python's json reads NaN and Infinity, JSON and jansson do not: say which
// token it was, so the reject reason names the real problem.
static int nonfinite_token(const char *json, size_t len, int pos) {
    static const char *const tok[] = {"NaN", "nan", "Infinity", "inf"};
    size_t lo = pos > 12 ? (size_t)pos - 12 : 0, hi = (size_t)pos + 12 < len ? (size_t)pos + 12 : len;
    for (size_t i = lo; i < hi; i++)
        for (size_t k = 0; k < sizeof tok / sizeof tok[0]; k++)
            if (hi - i >= strlen(tok[k]) && !strncmp(json + i, tok[k], strlen(tok[k]))) return 1;
    return 0;
}

// Reads frame f (an array of 20 [x, y, z]) into dst (20, 3).
static int read_frame(const json_t *frame, size_t f, double *dst, char *why, size_t whylen) {
    if (!json_is_array(frame) || json_array_size(frame) != UCLA_V)
        return cd_reject(why, whylen, "frame %zu has %zu joints, want %d", f,
                         json_is_array(frame) ? json_array_size(frame) : (size_t)0, UCLA_V);
    for (size_t v = 0; v < UCLA_V; v++) {
        const json_t *j = json_array_get(frame, v);
        if (!json_is_array(j) || json_array_size(j) != UCLA_C)
            return cd_reject(why, whylen, "frame %zu joint %zu: want [x, y, z] (3 numbers)", f, v);
        for (size_t c = 0; c < UCLA_C; c++) {
            const json_t *e = json_array_get(j, c);
            // json_is_number: integers and reals, not booleans, strings or null
            if (!json_is_number(e))
                return cd_reject(why, whylen, "frame %zu joint %zu: coordinate %zu is not a number",
                                 f, v, c);
            double d = json_number_value(e);
            if (!isfinite(d))
                return cd_reject(why, whylen, "frame %zu joint %zu: coordinate %zu is not finite",
                                 f, v, c);
            dst[v * UCLA_C + c] = d;
        }
    }
    return CD_OK;
}

int ucla_parse(const char *json, size_t len, double **xyz, int *frames, char *why, size_t whylen) {
    *xyz = NULL;
    *frames = 0;
    if (why && whylen) why[0] = '\0';
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!root) {
        if (nonfinite_token(json, len, err.position) || strstr(err.text, "overflow"))
            return cd_reject(why, whylen, "non-finite number at line %d column %d (%s)", err.line,
                             err.column, err.text);
        return cd_reject(why, whylen, "malformed JSON at line %d column %d: %s", err.line,
                         err.column, err.text);
    }
    const json_t *sk = json_object_get(root, "skeletons");   // NULL unless root is an object
    size_t T = json_array_size(sk);
    int rc = CD_OK;
    double *x = NULL;
    if (!json_is_object(root)) rc = cd_reject(why, whylen, "sequence JSON is not an object");
    else if (!json_is_array(sk)) rc = cd_reject(why, whylen, "missing \"skeletons\" array");
    else if (T == 0) rc = cd_reject(why, whylen, "empty sequence: \"skeletons\" has no frames");
    else if (T > (size_t)INT_MAX / (UCLA_V * UCLA_C))
        rc = cd_reject(why, whylen, "%zu frames: too many", T);
    else if (!(x = cd_malloc(T * UCLA_V * UCLA_C * sizeof *x))) rc = CD_ENOMEM;
    for (size_t f = 0; rc == CD_OK && f < T; f++)
        rc = read_frame(json_array_get(sk, f), f, x + f * UCLA_V * UCLA_C, why, whylen);
    json_decref(root);
    if (rc != CD_OK) {
        free(x);
        return rc;
    }
    *xyz = x;
    *frames = (int)T;
    return CD_OK;
}

// ---------------------------------------------------------------------------
// The prep format (dataset.h): one file ucla.h5, views 1 and 2 in /train,
// view 3 in /test, each sequence kept as recorded (float64, its T frames).

static int fmt_member(const char *path, DatasetSample *s, char *why, size_t whylen) {
    UclaName n;
    int label, split;
    int rc = ucla_member(path, s->name, &n, &label, &split, why, whylen);
    if (rc) return rc;
    s->label = label;
    s->part = 0;
    return CD_OK;
}

static int fmt_prepare_seq(const char *text, size_t len, double **seq, int *T, int *label, char *why,
                           size_t whylen) {
    (void)label;   // from the name
    return ucla_parse(text, len, seq, T, why, whylen);
}

static int fmt_group(int b, const DatasetSample *s) {
    (void)b;
    UclaName n;
    return ucla_name_parse(s->name, &n) == CD_OK && n.view == 3;
}

const DatasetFormat dataset_ucla = {
    .name = "ucla",
    .layout = &skel_ucla20,
    .num_class = UCLA_NUM_CLASS,
    .nbench = 1,
    .bench = {"ucla"},
    .member = fmt_member,
    .prepare_seq = fmt_prepare_seq,
    .classes = "datasets/ucla/descriptions.tsv",   // ids = the official labels 1..10
    .class_id_base = 1,
    .group = fmt_group,
};
