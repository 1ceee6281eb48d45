// kinetics.c - Kinetics-Skeleton (ST-GCN) clip and label-file parsing, the
// OpenPose 18 skeleton layout and the kinetics dataset format.
//
// PURPOSE: turn one clip JSON into the (T, M, V, C) = (300, 2, 18, 3) float
// tensor bit for bit like ST-GCN's Feeder_kinetics.__getitem__ followed by
// kinetics_gendata.py's float32 store, and read the label files.
// NOTES: the only file that includes jansson.h. The reference computes in
// float64 over 5 person slots (num_person_in), then sorts each frame's slots
// by -sum(score) with numpy argsort (5 elements: insertion sort, stable) and
// keeps the first 2 (num_person_out). We do the same in double and cast once.
// Only the first 5 people of a frame are read, and so only they are checked
// (the reference never looks at the others).
#include "kinetics.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "skeleton.h"
#include "status.h"

#define KIN_M_IN 5        // people read per frame (num_person_in)
#define KIN_POSE_LEN 36   // x0 y0 ... x17 y17
#define KIN_FRAME_VALS (KIN_M_IN * KINETICS_V * SKEL_C)

// ---------------------------------------------------------------------------
// Label files

struct KineticsLabels {
    json_t *root;   // the parsed object itself serves as the hash map
};

int kinetics_labels_parse(const char *json, size_t len, KineticsLabels **out, char *why,
                          size_t whylen) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!root) {
        cd_reject(why, whylen, "malformed label JSON at line %d column %d: %s", err.line,
                  err.column, err.text);
        return CD_EFORMAT;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        cd_reject(why, whylen, "label file is not a JSON object {video_id: {...}}");
        return CD_EFORMAT;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        json_t *li = json_is_object(val) ? json_object_get(val, "label_index") : NULL;
        json_t *hs = json_is_object(val) ? json_object_get(val, "has_skeleton") : NULL;
        const char *bad = NULL;
        if (!json_is_object(val)) bad = "entry is not an object";
        else if (!json_is_integer(li)) bad = "missing or non-integer \"label_index\"";
        else if (json_integer_value(li) < 0 || json_integer_value(li) > 1000000)
            bad = "\"label_index\" out of range";
        else if (!json_is_boolean(hs)) bad = "missing or non-boolean \"has_skeleton\"";
        if (bad) {
            cd_reject(why, whylen, "label file entry \"%.64s\": %s", key, bad);
            json_decref(root);
            return CD_EFORMAT;
        }
    }
    KineticsLabels *l = cd_malloc(sizeof *l);
    if (!l) {
        json_decref(root);
        return CD_ENOMEM;
    }
    l->root = root;
    *out = l;
    return CD_OK;
}

int kinetics_labels_find(const KineticsLabels *labels, const char *video_id, int *label_index,
                         int *has_skeleton) {
    if (!labels || !video_id) return CD_EFORMAT;
    json_t *e = json_object_get(labels->root, video_id);
    if (!e) return CD_EFORMAT;   // entries were validated by kinetics_labels_parse
    if (label_index) *label_index = (int)json_integer_value(json_object_get(e, "label_index"));
    if (has_skeleton) *has_skeleton = json_is_true(json_object_get(e, "has_skeleton"));
    return CD_OK;
}

int kinetics_labels_count(const KineticsLabels *labels) {
    return labels ? (int)json_object_size(labels->root) : 0;
}

void kinetics_labels_free(KineticsLabels *labels) {
    if (!labels) return;
    json_decref(labels->root);
    free(labels);
}

// ---------------------------------------------------------------------------
// One clip

// Reads n finite numbers of a JSON array into dst[i*stride]; 0 on success,
// else -1 (not a number, or not finite) or -2 (finite as a double, but beyond
// float32's range: inf once stored, e.g. 1e300) with the offending index in
// *bad and the value in *val.
static int read_numbers(const json_t *arr, size_t n, double *dst, size_t stride, size_t *bad, double *val) {
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        // json_is_number accepts integers and reals, not booleans or null
        double d = json_is_number(e) ? json_number_value(e) : NAN;
        *bad = i;
        *val = d;
        if (!isfinite(d)) return -1;
        if (fabs(d) > FLT_MAX) return -2;
        dst[i * stride] = d;
    }
    return 0;
}

// The message of a read_numbers failure (what: "pose" or "score").
static int bad_number(int r, int t, int m, const char *what, size_t i, double val, char *why, size_t whylen) {
    char joint[32];
    if (what[0] == 'p') snprintf(joint, sizeof joint, "joint %zu's %c", i / 2, i % 2 ? 'y' : 'x');
    else snprintf(joint, sizeof joint, "joint %zu", i);
    if (r == -2)
        return cd_reject(why, whylen, "frame_index %d person %d: %s[%zu] (%s) = %g is not a finite number in "
                         "float32 (beyond +-%g)", t, m, what, i, joint, val, (double)FLT_MAX);
    return cd_reject(why, whylen, "frame_index %d person %d: %s[%zu] (%s) is not a finite number", t, m, what, i,
                     joint);
}

// Fills person slot m of frame t (dn: (T, 5, V, C) doubles) from one
// skeleton entry; CD_OK or CD_EREJECT with why.
static int read_person(const json_t *person, int t, int m, double *dn, char *why, size_t whylen) {
    if (!json_is_object(person))
        return cd_reject(why, whylen, "frame_index %d person %d: not an object", t, m);
    const json_t *pose = json_object_get(person, "pose");
    const json_t *score = json_object_get(person, "score");
    if (!json_is_array(pose) || json_array_size(pose) != KIN_POSE_LEN)
        return cd_reject(why, whylen, "frame_index %d person %d: \"pose\" must be an array of %d "
                         "numbers (has %zu)", t, m, KIN_POSE_LEN,
                         json_is_array(pose) ? json_array_size(pose) : (size_t)0);
    if (!json_is_array(score) || json_array_size(score) != KINETICS_V)
        return cd_reject(why, whylen, "frame_index %d person %d: \"score\" must be an array of "
                         "%d numbers (has %zu)", t, m, KINETICS_V,
                         json_is_array(score) ? json_array_size(score) : (size_t)0);
    double *slot = dn + ((size_t)t * KIN_M_IN + (size_t)m) * KINETICS_V * SKEL_C;
    double xy[KIN_POSE_LEN];
    size_t bad = 0;
    double val = 0;
    int r;
    if ((r = read_numbers(pose, KIN_POSE_LEN, xy, 1, &bad, &val))) return bad_number(r, t, m, "pose", bad, val, why, whylen);
    if ((r = read_numbers(score, KINETICS_V, slot + 2, SKEL_C, &bad, &val)))
        return bad_number(r, t, m, "score", bad, val, why, whylen);
    for (int v = 0; v < KINETICS_V; v++) {
        slot[v * SKEL_C + 0] = xy[2 * v];       // pose[0::2]
        slot[v * SKEL_C + 1] = xy[2 * v + 1];   // pose[1::2]
    }
    return CD_OK;
}

// Fills dn (T, 5, V, C) from the "data" array, exactly as the reference's
// loop: later entries with the same frame_index overwrite the slots they
// cover and leave the others.
static int read_frames(const json_t *data, double *dn, char *why, size_t whylen) {
    size_t nf = json_array_size(data);
    for (size_t f = 0; f < nf; f++) {
        const json_t *frame = json_array_get(data, f);
        if (!json_is_object(frame))
            return cd_reject(why, whylen, "data[%zu] is not an object", f);
        const json_t *fi = json_object_get(frame, "frame_index");
        if (!json_is_integer(fi))
            return cd_reject(why, whylen, "data[%zu]: missing or non-integer \"frame_index\"", f);
        json_int_t t = json_integer_value(fi);
        if (t < 0 || t >= SKEL_T)
            return cd_reject(why, whylen, "data[%zu]: frame_index %lld outside [0, %d)", f,
                             (long long)t, SKEL_T);
        const json_t *skel = json_object_get(frame, "skeleton");
        if (!json_is_array(skel))
            return cd_reject(why, whylen, "data[%zu]: missing \"skeleton\" array", f);
        size_t np = json_array_size(skel);
        for (size_t m = 0; m < np && m < KIN_M_IN; m++) {
            int rc = read_person(json_array_get(skel, m), (int)t, (int)m, dn, why, whylen);
            if (rc != CD_OK) return rc;
        }
    }
    return CD_OK;
}

// numpy's float ordering: NaN sorts last (a sum of huge finite scores can
// overflow to +-inf and then to NaN).
static inline int np_less(double a, double b) { return a < b || (b != b && a == a); }

// Centres, zeroes unscored joints, sorts the 5 slots of every frame by
// summed score and writes the top 2 as float32 into out (T, 2, V, C).
static int finish(double *dn, float *out) {
    int frames = 0;
    const size_t slot_n = (size_t)KINETICS_V * SKEL_C;
    for (int t = 0; t < SKEL_T; t++) {
        double *fr = dn + (size_t)t * KIN_FRAME_VALS;
        double key[KIN_M_IN];
        int idx[KIN_M_IN];
        for (int m = 0; m < KIN_M_IN; m++) {
            double *s = fr + m * slot_n;
            double sum = 0.0;
            for (int v = 0; v < KINETICS_V; v++) {
                double *p = s + v * SKEL_C;
                p[0] -= 0.5;
                p[1] -= 0.5;
                if (p[2] == 0.0) p[0] = p[1] = 0.0;
                sum += p[2];   // numpy: sequential over joints for this layout
            }
            key[m] = -sum;
            // numpy argsort, n = 5 < 16: insertion sort, hence stable
            int j = m;
            while (j > 0 && np_less(key[m], key[idx[j - 1]])) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = m;
        }
        float *o = out + (size_t)t * SKEL_M * slot_n;
        int nonzero = 0;
        for (int k = 0; k < SKEL_M; k++) {
            const double *s = fr + idx[k] * slot_n;
            for (size_t i = 0; i < slot_n; i++) {
                o[k * slot_n + i] = (float)s[i];
                nonzero |= o[k * slot_n + i] != 0.0f;
            }
        }
        frames += nonzero;
    }
    return frames;
}

int kinetics_prepare(const char *json, size_t len, float *out, int *label_index, int *frames,
                     char *why, size_t whylen) {
    if (why && whylen) why[0] = '\0';
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!root)
        return cd_reject(why, whylen, "malformed JSON at line %d column %d: %s", err.line,
                         err.column, err.text);
    int rc = CD_OK;
    double *dn = NULL;
    const json_t *data = json_object_get(root, "data");   // NULL unless root is an object
    const json_t *li = json_object_get(root, "label_index");
    if (!json_is_object(root)) {
        rc = cd_reject(why, whylen, "clip JSON is not an object");
    } else if (!json_is_array(data)) {
        rc = cd_reject(why, whylen, "missing \"data\" array");
    } else if (!json_is_integer(li)) {
        rc = cd_reject(why, whylen, "missing or non-integer \"label_index\"");
    } else if (json_integer_value(li) < 0 || json_integer_value(li) > 1000000) {
        rc = cd_reject(why, whylen, "label_index %lld out of range",
                       (long long)json_integer_value(li));
    } else if (!(dn = cd_calloc((size_t)SKEL_T * KIN_FRAME_VALS, sizeof *dn))) {
        rc = CD_ENOMEM;
    } else {
        rc = read_frames(data, dn, why, whylen);
    }
    if (rc == CD_OK) {
        int nf = finish(dn, out);
        if (frames) *frames = nf;
        if (label_index) *label_index = (int)json_integer_value(li);
    }
    free(dn);
    json_decref(root);
    return rc;
}

// ---------------------------------------------------------------------------
// The OpenPose 18 layout and the kinetics format (dataset.h)

static const char *const openpose_joints[KINETICS_V] = {
    "Nose", "Neck",  "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip",
    "RKnee", "RAnkle", "LHip",    "LKnee",  "LAnkle", "REye",      "LEye",   "REar",   "LEar",
};
// ST-GCN's openpose neighbor_link (docs/data-conventions.md); centre joint 1 (Neck).
static const int openpose_inward[][2] = {
    {4, 3},   {3, 2},  {7, 6},  {6, 5},  {13, 12}, {12, 11}, {10, 9},  {9, 8}, {11, 5},
    {8, 2},   {5, 1},  {2, 1},  {0, 1},  {15, 0},  {14, 0},  {17, 15}, {16, 14},
};
// The same edges as bone pairs (child -> parent); the centre joint 1 -> itself.
static const int openpose_parent[KINETICS_V] = {
    1, 1, 1, 2, 3, 1, 5, 6, 2, 8, 9, 5, 11, 12, 0, 0, 14, 15,
};

const SkelLayout skel_openpose18 = {
    .name = "openpose18", .graph = "openpose18", .aliases = {"kinetics", "graph.kinetics.Graph"},
    .V = KINETICS_V, .joints = openpose_joints, .inward = openpose_inward, .ninward = (int)(sizeof openpose_inward / sizeof openpose_inward[0]),
    .bone_parent = openpose_parent, .parts = "datasets/parts/openpose18.tsv",
    .feeder = "feeders.feeder_ntu.Feeder", .M = SKEL_M, .window = 64,
};

// Members <dir>/kinetics_{train,val}/<id>.json -> part 0/1; the label is
// the clip's own (kinetics_prepare), vouched for by its part's label file.
static int kin_member(const char *member, DatasetSample *s, char *why, size_t whylen) {
    const char *b = strrchr(member, '/');
    b = b ? b + 1 : member;
    size_t bl = strlen(b);
    const char *dir = member;
    for (const char *c = member; b > member && c < b - 1; c++) if (*c == '/') dir = c + 1;
    size_t dl = b > member ? (size_t)(b - 1 - dir) : 0;
    if (b == member || bl < 6 || strcmp(b + bl - 5, ".json") != 0 || bl - 5 >= sizeof s->name ||
        !((dl == 14 && !strncmp(dir, "kinetics_train", 14)) || (dl == 12 && !strncmp(dir, "kinetics_val", 12))))
        return cd_reject(why, whylen, "unexpected file name (want kinetics_train/ID.json or kinetics_val/ID.json)");
    s->part = dl == 12;
    memcpy(s->name, b, bl - 5);
    s->name[bl - 5] = 0;
    s->label = -1;
    return CD_OK;
}

static int kin_group(int b, const DatasetSample *s) {
    (void)b;
    return s->part;   // kinetics_val is /test
}

static int kin_side_read(void **state, int p, const char *text, size_t len, char *why, size_t whylen) {
    (void)p;
    KineticsLabels *l = NULL;
    int rc = kinetics_labels_parse(text, len, &l, why, whylen);
    *state = l;
    return rc;
}

#define KIN_LABELS_TRAIN "kinetics_train_label.json"
#define KIN_LABELS_VAL "kinetics_val_label.json"

// The reference leaves out clips whose label entry has no skeleton.
static int kin_vouch(const void *state, const DatasetSample *s, char *why, size_t whylen) {
    const char *lf = s->part ? KIN_LABELS_VAL : KIN_LABELS_TRAIN;
    int label, has;
    if (kinetics_labels_find(state, s->name, &label, &has) != CD_OK) return cd_reject(why, whylen, "not listed in %s", lf);
    if (!has) return DATASET_EXCLUDE;
    if (label != s->label) return cd_reject(why, whylen, "label_index %d in the clip but %d in %s", s->label, label, lf);
    if (label < 0 || label >= 400) return cd_reject(why, whylen, "label_index %d outside 0..399", label);
    return DATASET_KEEP;
}

static void kin_side_free(void *state) { kinetics_labels_free(state); }

const DatasetFormat dataset_kinetics = {
    .name = "kinetics", .layout = &skel_openpose18, .num_class = 400, .nbench = 1, .bench = {"kinetics"},
    .classes = "datasets/kinetics400/descriptions.tsv", .class_id_base = 0,
    .member = kin_member, .prepare = kinetics_prepare, .group = kin_group,
    .side = {KIN_LABELS_TRAIN, KIN_LABELS_VAL}, .part_name = {"kinetics_train", "kinetics_val"},
    .side_read = kin_side_read, .vouch = kin_vouch, .side_free = kin_side_free,
};
