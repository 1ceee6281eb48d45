// ntu.c - NTU RGB+D .skeleton samples, parsed, denoised and normalised
// exactly like the reference preprocessing (CTR-GCN's copy of SGN's
// get_raw_skes_data.py, get_raw_denoised_data.py and seq_transformation.py).
// The reference's quirks are kept on purpose, each marked "reference:".
// At the end: the NTU skeleton layout and the ntu60 / ntu120 dataset formats.
#include "ntu.h"
#include "dataset.h"
#include "fastfloat.h"
#include "skeleton.h"
#include "split.h"
#include "status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NTU_MAX_BODIES 6          // Kinect v2 tracks at most six bodies
#define NOISE_LEN_THRES 11        // bodies with <= 11 frames are noise
#define NOISE_SPR_THRES1 0.8      // a frame is noisy if x spread > 0.8 y spread
#define NOISE_SPR_THRES2 0.69754  // drop a body with this ratio of noisy frames
#define ROW (SKEL_M * NTU_V * SKEL_C)   // 150 floats per frame

int ntu_name_parse(const char *name, NtuName *out) {
    static const char tags[] = "SCPRA";
    int v[5];
    if (strlen(name) != 20) return CD_EFORMAT;
    for (int i = 0; i < 5; i++) {
        const char *f = name + 4 * i;
        if (f[0] != tags[i]) return CD_EFORMAT;
        v[i] = 0;
        for (int k = 1; k < 4; k++) {
            if (f[k] < '0' || f[k] > '9') return CD_EFORMAT;
            v[i] = v[i] * 10 + (f[k] - '0');
        }
        if (v[i] < 1) return CD_EFORMAT;
    }
    *out = (NtuName){v[0], v[1], v[2], v[3], v[4]};
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Parsing

typedef struct Cursor {
    const char *p, *end;
    int line;
} Cursor;

static void skip_blanks(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

// At the end of a line: allows trailing blanks and CR, consumes the LF.
static int end_of_line(Cursor *c) {
    skip_blanks(c);
    if (c->p < c->end && *c->p == '\r') c->p++;
    if (c->p >= c->end) return 1;
    if (*c->p != '\n') return 0;
    c->p++;
    c->line++;
    return 1;
}

static int read_count_line(Cursor *c, int *v, const char *what, char *why, size_t whylen) {
    skip_blanks(c);
    if (c->p >= c->end) return cd_reject(why, whylen, "truncated: expected %s at line %d", what, c->line);
    long n = 0;
    const char *s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && n < 100000000) n = n * 10 + (*c->p++ - '0');
    if (c->p == s || !end_of_line(c))
        return cd_reject(why, whylen, "line %d: expected %s (an integer)", c->line, what);
    *v = (int)n;
    return CD_OK;
}

// A numeric token of the fields the reference never reads: checked for its
// characters only (digits, sign, point, exponent; at least one digit), which
// catches non-numbers at a fraction of a full parse. The text is
// NUL-terminated, and NUL is not a number character.
enum { NUMCH = 1, DIGIT = 2 };
static const unsigned char num_class[256] = {
    ['0'] = 3, ['1'] = 3, ['2'] = 3, ['3'] = 3, ['4'] = 3, ['5'] = 3, ['6'] = 3, ['7'] = 3,
    ['8'] = 3, ['9'] = 3, ['.'] = 1, ['-'] = 1, ['+'] = 1, ['e'] = 1, ['E'] = 1};

static int skip_number(Cursor *c) {
    const unsigned char *q = (const unsigned char *)c->p;
    unsigned acc = 0, f;
    while ((f = num_class[*q]) & NUMCH) { acc |= f; q++; }
    c->p = (const char *)q;
    return (acc & DIGIT) && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == 0);
}

// 1 read, 0 not a number, -1 a hexadecimal float: strtof (the fallback of
// ff_parse_f32) reads "0x1p3", the reference (numpy's float32 of the text,
// like Python's float()) refuses it, so we do too.
static int read_float(Cursor *c, float *v) {
    const char *q = ff_parse_f32(c->p, v);
    if (!q || q > c->end) return 0;
    if (q < c->end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') return 0;
    if (memchr(c->p, 'x', (size_t)(q - c->p)) || memchr(c->p, 'X', (size_t)(q - c->p))) return -1;
    c->p = q;
    return 1;
}

static int body_find_or_add(NtuRaw *raw, const char *id, size_t idlen, int frame, int *idx) {
    for (int b = 0; b < raw->nbodies; b++)
        if (strlen(raw->bodies[b].id) == idlen && memcmp(raw->bodies[b].id, id, idlen) == 0) {
            *idx = b;
            return CD_OK;
        }
    if (raw->nbodies == raw->cap) {
        int cap = raw->cap ? raw->cap * 2 : 4;
        NtuBody *nb = cd_realloc(raw->bodies, (size_t)cap * sizeof *nb);
        if (!nb) return CD_ENOMEM;
        raw->bodies = nb;
        raw->cap = cap;
    }
    NtuBody *b = &raw->bodies[raw->nbodies];
    memset(b, 0, sizeof *b);
    memcpy(b->id, id, idlen);
    b->start = frame;
    *idx = raw->nbodies++;
    return CD_OK;
}

static float *body_push_frame(NtuBody *b) {
    if (b->count == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        float *nx = cd_realloc(b->xyz, (size_t)cap * NTU_V * 3 * sizeof(float));
        if (!nx) return NULL;
        b->xyz = nx;
        b->cap = cap;
    }
    return b->xyz + (size_t)b->count++ * NTU_V * 3;
}

void ntu_raw_free(NtuRaw *raw) {
    if (!raw) return;
    for (int b = 0; b < raw->nbodies; b++) free(raw->bodies[b].xyz);
    free(raw->bodies);
    memset(raw, 0, sizeof *raw);
}

static int parse_body(Cursor *c, NtuRaw *raw, int frame, char *why, size_t whylen) {
    // Body line: bodyID and 9 more numeric fields.
    skip_blanks(c);
    if (c->p >= c->end)
        return cd_reject(why, whylen, "truncated: expected a body line at line %d", c->line);
    const char *id = c->p;
    while (c->p < c->end && (unsigned)(*c->p - '0') < 10) c->p++;
    size_t idlen = (size_t)(c->p - id);
    if (idlen == 0 || idlen >= sizeof raw->bodies[0].id)
        return cd_reject(why, whylen, "line %d: expected a body line starting with a numeric bodyID", c->line);
    for (int k = 0; k < 9; k++) {
        skip_blanks(c);
        if (!skip_number(c))
            return cd_reject(why, whylen, "line %d: body line needs 10 numeric fields, field %d is not a number",
                             c->line, k + 2);
    }
    if (!end_of_line(c))
        return cd_reject(why, whylen, "line %d: body line has more than 10 fields", c->line);
    int njoints, rc = read_count_line(c, &njoints, "the joint count", why, whylen);
    if (rc) return rc;
    if (njoints != NTU_V)
        return cd_reject(why, whylen, "line %d: joint count %d, expected %d", c->line - 1, njoints, NTU_V);
    int bi;
    if ((rc = body_find_or_add(raw, id, idlen, frame, &bi))) return rc;
    float *xyz = body_push_frame(&raw->bodies[bi]);
    if (!xyz) return CD_ENOMEM;
    for (int j = 0; j < NTU_V; j++) {
        for (int k = 0; k < 12; k++) {
            skip_blanks(c);
            if (c->p >= c->end)
                return cd_reject(why, whylen, "truncated in joint %d of frame %d (line %d)", j + 1, frame + 1, c->line);
            int good = k < 3 ? read_float(c, &xyz[j * 3 + k]) : skip_number(c);
            if (good < 0)
                return cd_reject(why, whylen, "line %d: field %d of joint %d is a hexadecimal float, which the reference "
                                 "rejects", c->line, k + 1, j + 1);
            if (!good)
                return cd_reject(why, whylen, "line %d: field %d of joint %d is not a number", c->line, k + 1, j + 1);
            if (k < 3 && !isfinite(xyz[j * 3 + k]))
                return cd_reject(why, whylen, "line %d: joint %d coordinate is not finite", c->line, j + 1);
        }
        if (!end_of_line(c))
            return cd_reject(why, whylen, "line %d: joint line has more than 12 fields", c->line);
    }
    return CD_OK;
}

int ntu_parse(const char *text, size_t len, NtuRaw *raw, char *why, size_t whylen) {
    memset(raw, 0, sizeof *raw);
    Cursor c = {text, text + len, 1};
    int nframes, rc = read_count_line(&c, &nframes, "the frame count", why, whylen);
    if (rc) return rc;
    if (nframes < 1) return cd_reject(why, whylen, "frame count is %d", nframes);
    raw->file_frames = nframes;
    int valid = 0;
    for (int f = 0; f < nframes && rc == CD_OK; f++) {
        int nb;
        if ((rc = read_count_line(&c, &nb, "a body count", why, whylen))) break;
        if (nb > NTU_MAX_BODIES) {
            rc = cd_reject(why, whylen, "frame %d has %d bodies; Kinect v2 tracks at most %d", f + 1,
                           nb, NTU_MAX_BODIES);
            break;
        }
        // reference: frames without bodies are dropped, and body intervals
        // count only the frames that have bodies.
        for (int b = 0; b < nb && rc == CD_OK; b++) rc = parse_body(&c, raw, valid, why, whylen);
        if (nb > 0) valid++;
    }
    if (rc == CD_OK) {
        while (c.p < c.end && (*c.p == ' ' || *c.p == '\t' || *c.p == '\r' || *c.p == '\n')) c.p++;
        if (c.p < c.end)
            rc = cd_reject(why, whylen, "line %d: data after the %d frames the header announces", c.line, nframes);
        else if (valid == 0)
            rc = cd_reject(why, whylen, "missing skeleton: none of the %d frames has a body", nframes);
    }
    raw->frames = valid;
    if (rc != CD_OK) ntu_raw_free(raw);
    return rc;
}

// ---------------------------------------------------------------------------
// Denoising (multi-body samples)

// Sum over x, y, z of the variance over the given frames' joints, i.e. the
// reference's np.sum(np.var(joints.reshape(-1, 3), axis=0)).
static double motion_of(const float *xyz, const int *frames, int n) {
    double sum[3] = {0}, sq[3] = {0};
    size_t cnt = 0;
    for (int i = 0; i < n; i++) {
        const float *f = xyz + (size_t)(frames ? frames[i] : i) * NTU_V * 3;
        for (int j = 0; j < NTU_V; j++)
            for (int k = 0; k < 3; k++) sum[k] += f[j * 3 + k];
        cnt += NTU_V;
    }
    if (!cnt) return 0;
    for (int i = 0; i < n; i++) {
        const float *f = xyz + (size_t)(frames ? frames[i] : i) * NTU_V * 3;
        for (int j = 0; j < NTU_V; j++)
            for (int k = 0; k < 3; k++) {
                double dv = f[j * 3 + k] - sum[k] / (double)cnt;
                sq[k] += dv * dv;
            }
    }
    return (sq[0] + sq[1] + sq[2]) / (double)cnt;
}

// Frames whose x spread is at most 0.8 times their y spread (reference:
// float32 spreads, compared in double as numpy 1.x promotes 0.8 * float32).
static int spread_valid_frames(const NtuBody *b, int *valid) {
    int n = 0;
    for (int i = 0; i < b->count; i++) {
        const float *f = b->xyz + (size_t)i * NTU_V * 3;
        float xmin = f[0], xmax = f[0], ymin = f[1], ymax = f[1];
        for (int j = 1; j < NTU_V; j++) {
            float x = f[j * 3], y = f[j * 3 + 1];
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (y < ymin) ymin = y;
            if (y > ymax) ymax = y;
        }
        float xr = xmax - xmin, yr = ymax - ymin;
        if ((double)xr <= NOISE_SPR_THRES1 * (double)yr) valid[n++] = i;
    }
    return n;
}

static void remove_body(NtuRaw *raw, int i) {
    free(raw->bodies[i].xyz);
    memmove(&raw->bodies[i], &raw->bodies[i + 1], (size_t)(raw->nbodies - i - 1) * sizeof(NtuBody));
    raw->nbodies--;
}

// Steps 1-3 of the reference denoising; leaves raw->bodies in actor order.
static int denoise(NtuRaw *raw, char *why, size_t whylen) {
    for (int b = 0; b < raw->nbodies; b++)
        raw->bodies[b].motion = motion_of(raw->bodies[b].xyz, NULL, raw->bodies[b].count);
    for (int b = raw->nbodies - 1; b >= 0; b--)
        if (raw->bodies[b].count <= NOISE_LEN_THRES) remove_body(raw, b);
    if (raw->nbodies == 0)
        return cd_reject(why, whylen, "denoising dropped every body (all tracks <= %d frames)", NOISE_LEN_THRES);
    if (raw->nbodies == 1) return CD_OK;

    int maxc = 0;
    for (int b = 0; b < raw->nbodies; b++) if (raw->bodies[b].count > maxc) maxc = raw->bodies[b].count;
    int *valid = cd_malloc((size_t)maxc * sizeof *valid);
    if (!valid) return CD_ENOMEM;
    for (int b = 0; b < raw->nbodies;) {
        if (raw->nbodies == 1) break;   // reference: stops once one body is left
        NtuBody *body = &raw->bodies[b];
        int nv = spread_valid_frames(body, valid), noise = body->count - nv;
        if (noise == 0) { b++; continue; }
        double ratio = (double)noise / (double)body->count;
        if (ratio >= NOISE_SPR_THRES2) {
            remove_body(raw, b);
            continue;
        }
        double m = motion_of(body->xyz, valid, nv);
        if (m < body->motion) body->motion = m;
        b++;
    }
    free(valid);
    // reference: sorted(..., key=motion, reverse=True) is stable, so ties keep
    // the order of first appearance. Insertion sort keeps that too.
    for (int i = 1; i < raw->nbodies; i++) {
        NtuBody t = raw->bodies[i];
        int j = i - 1;
        while (j >= 0 && raw->bodies[j].motion < t.motion) { raw->bodies[j + 1] = raw->bodies[j]; j--; }
        raw->bodies[j + 1] = t;
    }
    return CD_OK;
}

static int place(float *rows, int nframes, int slot, const NtuBody *b, char *why, size_t whylen) {
    if (b->start + b->count > nframes)
        return cd_reject(why, whylen, "body %s has %d entries from frame %d, past the %d frames "
                         "(a body listed twice in one frame?)", b->id, b->count, b->start + 1, nframes);
    for (int i = 0; i < b->count; i++)
        memcpy(rows + (size_t)(b->start + i) * ROW + slot * NTU_V * 3, b->xyz + (size_t)i * NTU_V * 3,
               NTU_V * 3 * sizeof(float));
    return CD_OK;
}

static int row_zero(const float *r, int n) {
    for (int i = 0; i < n; i++) if (r[i] != 0.0f) return 0;
    return 1;
}

int ntu_prepare_raw(NtuRaw *raw, int copy_single, float *out, int *frames, char *why, size_t whylen) {
    int multi = raw->nbodies > 1, rc;
    if (multi && (rc = denoise(raw, why, whylen))) return rc;
    int n = raw->frames, width = raw->nbodies > 1 ? 2 : 1;
    float *rows = cd_calloc((size_t)n, ROW * sizeof(float));
    if (!rows) return CD_ENOMEM;
    rc = place(rows, n, 0, &raw->bodies[0], why, whylen);
    if (rc == CD_OK && width == 2) {
        // reference: actor 1 takes every later body that does not overlap its
        // span ("min(end) - max(start) <= 0", so touching spans do not
        // overlap), else actor 2 if that fits its span (initially [0, 0]),
        // else the body is dropped.
        const NtuBody *a1 = &raw->bodies[0];
        int s1 = a1->start, e1 = a1->start + a1->count - 1, s2 = 0, e2 = 0;
        for (int b = 1; b < raw->nbodies && rc == CD_OK; b++) {
            const NtuBody *body = &raw->bodies[b];
            int s = body->start, e = body->start + body->count - 1;
            if ((e1 < e ? e1 : e) - (s1 > s ? s1 : s) <= 0) {
                rc = place(rows, n, 0, body, why, whylen);
                s1 = s < s1 ? s : s1;
                e1 = e > e1 ? e : e1;
            } else if ((e2 < e ? e2 : e) - (s2 > s ? s2 : s) <= 0) {
                rc = place(rows, n, 1, body, why, whylen);
                s2 = s < s2 ? s : s2;
                e2 = e > e2 ? e : e2;
            }
        }
    }
    if (rc == CD_OK && multi) {
        // reference remove_missing_frames: drop frames where both actors are 0.
        int k = 0;
        for (int t = 0; t < n; t++)
            if (!row_zero(rows + (size_t)t * ROW, ROW)) {
                if (k != t) memmove(rows + (size_t)k * ROW, rows + (size_t)t * ROW, ROW * sizeof(float));
                k++;
            }
        n = k;
    }
    if (rc == CD_OK && n > SKEL_T)
        rc = cd_reject(why, whylen, "%d frames after denoising, more than the %d the layout holds", n, SKEL_T);
    if (rc == CD_OK) {
        // seq_translation: origin = actor 1's SpineMid (joint 2) in its first
        // non-zero frame; both actors' missing frames are re-zeroed after.
        const int A = NTU_V * 3;
        int i = 0;
        while (i < n && row_zero(rows + (size_t)i * ROW, A)) i++;
        if (i == n) i = 0;
        float o[3] = {rows[(size_t)i * ROW + 3], rows[(size_t)i * ROW + 4], rows[(size_t)i * ROW + 5]};
        memset(out, 0, (size_t)SKEL_T * ROW * sizeof(float));
        for (int t = 0; t < n; t++) {
            float *r = rows + (size_t)t * ROW, *w = out + (size_t)t * ROW;
            for (int a = 0; a < width; a++) {
                // reference: only two-actor arrays re-zero missing frames
                int missing = width == 2 && row_zero(r + a * A, A);
                for (int k = 0; k < A; k++) w[a * A + k] = missing ? 0.0f : r[a * A + k] - o[k % 3];
            }
            if (width == 1 && copy_single) memcpy(w + A, w, A * sizeof(float));
        }
        *frames = n;
    }
    free(rows);
    return rc;
}

int ntu_prepare(const char *text, size_t len, int copy_single, float *out, int *frames,
                char *why, size_t whylen) {
    NtuRaw raw;
    int rc = ntu_parse(text, len, &raw, why, whylen);
    if (rc) return rc;
    rc = ntu_prepare_raw(&raw, copy_single, out, frames, why, whylen);
    ntu_raw_free(&raw);
    return rc;
}

// ---------------------------------------------------------------------------
// The NTU RGB+D layout and the ntu60 / ntu120 formats (dataset.h)

static const char *const ntu_joints[NTU_V] = {
    "SpineBase",     "SpineMid",     "Neck",         "Head",       "ShoulderLeft",  "ElbowLeft",  "WristLeft",
    "HandLeft",      "ShoulderRight", "ElbowRight",  "WristRight", "HandRight",     "HipLeft",    "KneeLeft",
    "AnkleLeft",     "FootLeft",     "HipRight",     "KneeRight",  "AnkleRight",    "FootRight",  "SpineShoulder",
    "HandTipLeft",   "ThumbLeft",    "HandTipRight", "ThumbRight",
};
// graph/ntu_rgb_d.py inward_ori_index minus 1 (docs/data-conventions.md).
static const int ntu_inward[][2] = {
    {0, 1},   {1, 20},  {2, 20},  {3, 2},   {4, 20},  {5, 4},   {6, 5},   {7, 6},
    {8, 20},  {9, 8},   {10, 9},  {11, 10}, {12, 0},  {13, 12}, {14, 13}, {15, 14},
    {16, 0},  {17, 16}, {18, 17}, {19, 18}, {21, 22}, {22, 7},  {23, 24}, {24, 11},
};
// bone_pairs.ntu_pairs (1-based (v1, v2): bone[v1] = joint[v1] - joint[v2]),
// as parent[v1 - 1] = v2 - 1: the graph's edges plus SpineShoulder to itself.
static const int ntu_parent[NTU_V] = {
    1, 20, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 20, 22, 7, 24, 11,
};

const SkelLayout skel_ntu25 = {
    .name = "ntu25-kinect-v2", .graph = "ntu25", .aliases = {"ntu", "graph.ntu_rgb_d.Graph"},
    .V = NTU_V, .joints = ntu_joints, .inward = ntu_inward, .ninward = (int)(sizeof ntu_inward / sizeof ntu_inward[0]),
    .bone_parent = ntu_parent, .parts = "datasets/parts/ntu25.tsv",
    .feeder = "feeders.feeder_ntu.Feeder", .M = SKEL_M, .window = 64,
};

// Members nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton; the label is the action.
static int ntu_member(int ntu120, const char *path, DatasetSample *s, char *why, size_t whylen) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    NtuName nn;
    if (strlen(b) != 29 || strcmp(b + 20, ".skeleton") != 0)
        return cd_reject(why, whylen, "unexpected file name (want SsssCcccPpppRrrrAaaa.skeleton)");
    memcpy(s->name, b, 20);
    s->name[20] = 0;
    if (ntu_name_parse(s->name, &nn) != CD_OK)
        return cd_reject(why, whylen, "unexpected file name (want SsssCcccPpppRrrrAaaa.skeleton)");
    if (!split_ntu_in_dataset(ntu120, &nn)) return DATASET_OUTSIDE;
    s->label = nn.action - 1;
    return CD_OK;
}
static int ntu60_member(const char *path, DatasetSample *s, char *why, size_t whylen) {
    return ntu_member(0, path, s, why, whylen);
}
static int ntu120_member(const char *path, DatasetSample *s, char *why, size_t whylen) {
    return ntu_member(1, path, s, why, whylen);
}

// NTU120 copies actor 1 into actor 2 for single-actor samples; NTU60 does not.
static int ntu60_prepare(const char *text, size_t len, float *out, int *label, int *frames, char *why, size_t whylen) {
    (void)label;
    return ntu_prepare(text, len, 0, out, frames, why, whylen);
}
static int ntu120_prepare(const char *text, size_t len, float *out, int *label, int *frames, char *why, size_t whylen) {
    (void)label;
    return ntu_prepare(text, len, 1, out, frames, why, whylen);
}

static int ntu_group(SplitBench b, const DatasetSample *s) {
    NtuName nn;
    ntu_name_parse(s->name, &nn);
    return split_ntu_is_train(b, &nn) ? 0 : 1;
}
static int ntu60_group(int b, const DatasetSample *s) { return ntu_group(b ? SPLIT_NTU60_XVIEW : SPLIT_NTU60_XSUB, s); }
static int ntu120_group(int b, const DatasetSample *s) { return ntu_group(b ? SPLIT_NTU120_XSET : SPLIT_NTU120_XSUB, s); }

const DatasetFormat dataset_ntu60 = {
    .name = "ntu60", .layout = &skel_ntu25, .num_class = 60, .nbench = 2, .bench = {"ntu60-xsub", "ntu60-xview"},
    .classes = "datasets/ntu60/descriptions.tsv", .class_id_base = 1, .class_code = "A%03d",
    .member = ntu60_member, .prepare = ntu60_prepare, .group = ntu60_group,
};

const DatasetFormat dataset_ntu120 = {
    .name = "ntu120", .layout = &skel_ntu25, .num_class = 120, .nbench = 2, .bench = {"ntu120-xsub", "ntu120-xset"},
    .classes = "datasets/ntu120/descriptions.tsv", .class_id_base = 1, .class_code = "A%03d",
    .member = ntu120_member, .prepare = ntu120_prepare, .group = ntu120_group,
};
