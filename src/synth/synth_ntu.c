// synth_ntu.c - NTU RGB+D .skeleton text from the synthetic body, the sample
// plan (which SsssCcccPpppRrrrAaaa names to write) and the text buffer with
// its fast number formatting (shared with synth_kinetics.c).
//
// Per sample: the actors' joints (forward kinematics, world) seen from the
// NTU camera of (setup, camera), plus Kinect-like defects: Gaussian jitter,
// runs of "inferred" joints pulled off target (trackingState 1), dropped
// frames (numBody 0), tracking-ID switches, short spurious tracks (<= 11
// frames) and flat "noise" bodies wider than tall - the cases the reference
// denoising removes.
#include "synth.h"
#include "archive_out.h"
#include "status.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- text buffer

void synth_buf_puts(Buf *b, const char *s) {
    size_t n = strlen(s);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void synth_buf_int(Buf *b, int64_t v) {
    char tmp[24];
    int k = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char *o = b->p + b->n;
    if (v < 0) *o++ = '-';
    while (k) *o++ = tmp[--k];
    b->n = (size_t)(o - b->p);
}

static const double p10[] = {1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21,
                             1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11,
                             1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,
                             1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,
                             1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,
                             1e20,  1e21,  1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,
                             1e30};
#define P10(e) p10[(e) + 30]

void synth_buf_g7(Buf *b, double v) {
    char *o = b->p + b->n;
    if (!(fabs(v) >= 1e-29) || !(fabs(v) < 1e29)) {   // zero, denormal-ish, NaN, huge
        *o++ = '0';
        b->n = (size_t)(o - b->p);
        return;
    }
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    int e = 0;
    if (v >= 1.0) {
        while (v >= P10(e + 1)) e++;
    } else {
        while (v < P10(e)) e--;
    }
    int64_t m = llround(v * P10(6 - e));
    if (m >= 10000000) {   // rounding carried into an 8th digit
        m /= 10;
        e++;
    }
    char d[7];
    for (int i = 6; i >= 0; i--) {
        d[i] = (char)('0' + m % 10);
        m /= 10;
    }
    int last = 6;   // last significant digit
    while (last > 0 && d[last] == '0') last--;
    if (e < -4 || e >= 7) {
        *o++ = d[0];
        if (last > 0) {
            *o++ = '.';
            for (int i = 1; i <= last; i++) *o++ = d[i];
        }
        int ae = e < 0 ? -e : e;
        *o++ = 'E';
        *o++ = e < 0 ? '-' : '+';
        *o++ = (char)('0' + ae / 10);
        *o++ = (char)('0' + ae % 10);
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++) *o++ = d[i];
        if (last > e) {
            *o++ = '.';
            for (int i = e + 1; i <= last; i++) *o++ = d[i];
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++) *o++ = '0';
        for (int i = 0; i <= last; i++) *o++ = d[i];
    }
    b->n = (size_t)(o - b->p);
}

void synth_buf_f3(Buf *b, double v) {
    int64_t m = llround(v * 1000.0);
    char *o = b->p + b->n;
    if (m < 0) {
        *o++ = '-';
        m = -m;
    }
    b->n = (size_t)(o - b->p);
    synth_buf_int(b, m / 1000);
    o = b->p + b->n;
    *o++ = '.';
    *o++ = (char)('0' + (m / 100) % 10);
    *o++ = (char)('0' + (m / 10) % 10);
    *o++ = (char)('0' + m % 10);
    b->n = (size_t)(o - b->p);
}

// ---------------------------------------------------------------- the plan

#define NTU_SETUPS 17   // NTU60's setups: every name belongs to NTU60 and NTU120 alike
#define NTU_PERFORMERS 40
static const int xsub_train[20] = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16,
                                   17, 18, 19, 25, 27, 28, 31, 34, 35, 38};

typedef struct NtuItem {
    uint64_t key;   // sortable: setup, camera, performer, replication, action
    int cls;        // index in the class list
} NtuItem;

static uint64_t ntu_key(int s, int c, int p, int r, int a) {
    return ((uint64_t)s << 40) | ((uint64_t)c << 32) | ((uint64_t)p << 24) | ((uint64_t)r << 16) |
           (uint64_t)a;
}

int64_t synth_ntu_max_samples(const SynthActions *acts) {
    return (int64_t)acts->n * NTU_SETUPS * 3 * NTU_PERFORMERS * 2;
}

// Open-addressing set of keys (key 0 is never used: setups start at 1).
typedef struct KeySet {
    uint64_t *k;
    size_t mask;
} KeySet;

static int keyset_add(KeySet *s, uint64_t key) {   // 1 if added, 0 if present
    size_t i = (size_t)synth_mix64(key, 7) & s->mask;
    while (s->k[i]) {
        if (s->k[i] == key) return 0;
        i = (i + 1) & s->mask;
    }
    s->k[i] = key;
    return 1;
}

static int cmp_item(const void *a, const void *b) {
    uint64_t x = ((const NtuItem *)a)->key, y = ((const NtuItem *)b)->key;
    return x < y ? -1 : x > y;
}

// Performers 1..40 split as X-Sub: group 0 = training subjects, 1 = test.
static void performer_groups(int g[2][20]) {
    int n[2] = {0, 0};
    for (int p = 1; p <= NTU_PERFORMERS; p++) {
        int tr = 0;
        for (int i = 0; i < 20; i++) tr |= xsub_train[i] == p;
        g[tr ? 0 : 1][n[tr ? 0 : 1]++] = p;
    }
}

// Sample i plays class i % K (even spread); camera (round + class) % 3; the
// subject group from a golden-ratio sequence (about 65% training subjects,
// like X-Sub's 70/30), evenly spread over the samples and over each class.
static int plan_one(KeySet *set, SynthRng *r, const SynthActions *acts, int64_t i, int g[2][20],
                    NtuItem *it) {
    int K = acts->n, ci = (int)(i % K);
    int64_t j = i / K;
    double gold = (double)(i + 1) * 0.6180339887498949;
    int cam = (int)((j + ci) % 3) + 1, grp = gold - floor(gold) < 0.35 ? 1 : 0;
    int a = acts->a[ci].id;
    for (int t = 0; t < 200; t++) {
        int s = synth_rng_int(r, 1, NTU_SETUPS), p = g[grp][synth_rng_int(r, 0, 19)];
        uint64_t key = ntu_key(s, cam, p, synth_rng_int(r, 1, 2), a);
        if (keyset_add(set, key)) {
            *it = (NtuItem){key, ci};
            return CD_OK;
        }
    }
    // Crowded: take the first free name of this class, any camera and group.
    int off = synth_rng_int(r, 0, NTU_SETUPS * 3 * NTU_PERFORMERS * 2 - 1);
    for (int q = 0; q < NTU_SETUPS * 3 * NTU_PERFORMERS * 2; q++) {
        int x = (q + off) % (NTU_SETUPS * 3 * NTU_PERFORMERS * 2);
        int s = x % NTU_SETUPS + 1, c = (x / NTU_SETUPS) % 3 + 1;
        int p = (x / (NTU_SETUPS * 3)) % NTU_PERFORMERS + 1, rr = x / (NTU_SETUPS * 3 * NTU_PERFORMERS) + 1;
        uint64_t key = ntu_key(s, c, p, rr, a);
        if (keyset_add(set, key)) {
            *it = (NtuItem){key, ci};
            return CD_OK;
        }
    }
    CD_ERR("no free NTU name left for class A%03d", a);
    return CD_EARG;
}

static int ntu_plan(const SynthConfig *cfg, const SynthActions *acts, NtuItem **out) {
    int64_t n = cfg->samples;
    if (n > synth_ntu_max_samples(acts)) {
        CD_ERR("--samples %lld is more than the %lld distinct NTU names %d classes allow",
               (long long)n, (long long)synth_ntu_max_samples(acts), acts->n);
        return CD_EARG;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    KeySet set = {cd_calloc(cap, sizeof(uint64_t)), cap - 1};
    NtuItem *items = cd_malloc((size_t)n * sizeof *items);
    int rc = set.k && items ? CD_OK : CD_ENOMEM;
    int g[2][20];
    performer_groups(g);
    SynthRng r;
    synth_rng_seed(&r, synth_mix64(cfg->seed, 0x91A7));
    for (int64_t i = 0; i < n && rc == CD_OK; i++) rc = plan_one(&set, &r, acts, i, g, &items[i]);
    free(set.k);
    if (rc != CD_OK) {
        free(items);
        return rc;
    }
    qsort(items, (size_t)n, sizeof *items, cmp_item);   // the official archives are sorted
    *out = items;
    return CD_OK;
}

// ---------------------------------------------------------------- one sample

enum { BODY_ACTOR, BODY_GHOST, BODY_FLAT };

typedef struct Track {
    int kind, person, f0, f1;      // frames [f0, f1)
    uint64_t id;
    double off[3];                 // ghost: displacement (world)
    double flat[SYNTH_J][3];       // flat body: camera coordinates
    int infer[SYNTH_J];            // frames left in an "inferred" run
    double bias[SYNTH_J][3];
} Track;

#define MAX_TRACKS 6

typedef struct NtuSample {
    SynthMotion m;
    SynthCamera cam;
    int ntracks;
    Track tr[MAX_TRACKS];
    unsigned char *drop;           // (frames) 1 = numBody 0
    const char *eol;
} NtuSample;

static const double jitter_sd[SYNTH_J] = {
    0.003, 0.003, 0.004, 0.005, 0.005, 0.007, 0.009, 0.011, 0.005, 0.007, 0.009, 0.011, 0.004,
    0.006, 0.008, 0.010, 0.004, 0.006, 0.008, 0.010, 0.003, 0.014, 0.013, 0.014, 0.013};
static const double infer_p[SYNTH_J] = {
    0.0005, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.015, 0.025, 0.004, 0.008, 0.015, 0.025, 0.001,
    0.003, 0.008, 0.012, 0.001, 0.003, 0.008, 0.012, 0.0005, 0.03, 0.03, 0.03, 0.03};
static const int zero_orient[SYNTH_J] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1};

static void add_track(NtuSample *s, int kind, int person, int f0, int f1, uint64_t *next_id,
                      SynthRng *r) {
    if (s->ntracks == MAX_TRACKS || f1 <= f0) return;
    Track *t = &s->tr[s->ntracks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->person = person;
    t->f0 = f0;
    t->f1 = f1;
    t->id = *next_id;
    *next_id += (uint64_t)synth_rng_int(r, 1, 80);
    if (kind == BODY_GHOST) {
        t->off[0] = synth_rng_range(r, 0.3, 0.9) * (synth_rng_uniform(r) < 0.5 ? -1 : 1);
        t->off[1] = synth_rng_range(r, -0.2, 0.05);
        t->off[2] = synth_rng_range(r, -0.3, 0.6);
    } else if (kind == BODY_FLAT) {
        double cx = synth_rng_range(r, -1.2, 1.2), cy = synth_rng_range(r, -0.7, 0.2);
        double cz = synth_rng_range(r, 2.0, 4.5), w = synth_rng_range(r, 0.5, 1.2);
        double h = synth_rng_range(r, 0.08, 0.3);
        for (int j = 0; j < SYNTH_J; j++) {
            t->flat[j][0] = cx + w * (synth_rng_uniform(r) - 0.5);
            t->flat[j][1] = cy + h * (synth_rng_uniform(r) - 0.5);
            t->flat[j][2] = cz + 0.15 * synth_rng_uniform(r);
        }
    }
}

// Decides the bodies and dropped frames of one sample.
static void ntu_sample_setup(NtuSample *s, const SynthAction *a, SynthRng *r) {
    int F = s->m.frames;
    uint64_t next_id = 72057594037927936ull + (uint64_t)synth_rng_int(r, 1000, 40000);
    s->ntracks = 0;
    int persons = a->persons;
    if (persons == 1 && synth_rng_uniform(r) < 0.08) {   // the tracker loses and re-finds
        int k = synth_rng_int(r, F / 4, 3 * F / 4);
        add_track(s, BODY_ACTOR, 0, 0, k, &next_id, r);
        add_track(s, BODY_ACTOR, 0, k, F, &next_id, r);
    } else {
        for (int p = 0; p < persons; p++) add_track(s, BODY_ACTOR, p, 0, F, &next_id, r);
    }
    if (synth_rng_uniform(r) < 0.12) {   // short spurious track
        int len = synth_rng_int(r, 2, 11), f0 = synth_rng_int(r, 0, F - len);
        add_track(s, BODY_GHOST, 0, f0, f0 + len, &next_id, r);
    }
    if (synth_rng_uniform(r) < 0.08) {   // flat noise body (furniture seen as a body)
        int f0 = synth_rng_int(r, 0, F / 2), f1 = synth_rng_int(r, f0 + 12, F);
        add_track(s, BODY_FLAT, 0, f0, f1 > F ? F : f1, &next_id, r);
    }
    memset(s->drop, 0, (size_t)F);
    if (synth_rng_uniform(r) < 0.15) {   // the sensor starts late
        int k = synth_rng_int(r, 1, 6);
        for (int f = 0; f < k; f++) s->drop[f] = 1;
    }
    if (synth_rng_uniform(r) < 0.25) {   // tracking lost now and then
        for (int f = 0; f < F; f++)
            if (synth_rng_uniform(r) < 0.02) s->drop[f] = 1;
    }
    s->eol = synth_rng_uniform(r) < 0.3 ? "\r\n" : "\n";
    for (int f = 0; f < F; f++)
        if (!s->drop[f]) return;
    s->drop[F / 2] = 0;   // never an all-empty file
}

// Camera-frame joints of track t at frame f, with jitter and inferred runs;
// st receives the trackingState of each joint.
static void track_joints(const NtuSample *s, Track *t, const double pos[2][SYNTH_J][3],
                         SynthRng *r, double q[SYNTH_J][3], int st[SYNTH_J]) {
    for (int j = 0; j < SYNTH_J; j++) {
        if (t->kind == BODY_FLAT) {
            for (int i = 0; i < 3; i++) q[j][i] = t->flat[j][i] + 0.004 * synth_rng_normal(r);
            st[j] = synth_rng_uniform(r) < 0.3 ? 1 : 2;
            continue;
        }
        double w[3];
        for (int i = 0; i < 3; i++) w[i] = pos[t->person][j][i] + t->off[i];
        synth_camera_apply(&s->cam, w, q[j]);
        double sd = jitter_sd[j] * (t->kind == BODY_GHOST ? 3.0 : 1.0);
        if (t->infer[j] == 0 && synth_rng_uniform(r) < infer_p[j]) {
            t->infer[j] = synth_rng_int(r, 3, 25);
            for (int i = 0; i < 3; i++) t->bias[j][i] = 0.035 * synth_rng_normal(r);
        }
        st[j] = 2;
        if (t->infer[j] > 0) {
            t->infer[j]--;
            st[j] = 1;
            for (int i = 0; i < 3; i++) q[j][i] += t->bias[j][i];
            sd *= 2.0;
        }
        for (int i = 0; i < 3; i++) q[j][i] += sd * synth_rng_normal(r);
        if (q[j][2] < 0.3) q[j][2] = 0.3;   // Kinect's near limit
    }
}

static void put_eol(Buf *b, const char *eol) {
    b->p[b->n++] = eol[0];
    if (eol[1]) b->p[b->n++] = eol[1];
}

static void write_body(const NtuSample *s, Track *t, const double pos[2][SYNTH_J][3],
                       const double rot[2][SYNTH_J][3][3], const double ch[2][SYNTH_NCH],
                       SynthRng *r, Buf *b) {
    double q[SYNTH_J][3], du[SYNTH_J], dv[SYNTH_J];
    int st[SYNTH_J];
    track_joints(s, t, pos, r, q, st);
    int edges = 0;
    for (int j = 0; j < SYNTH_J; j++) {
        synth_project_depth(q[j], &du[j], &dv[j]);
        edges |= (du[j] >= 512 ? 1 : 0) | (du[j] < 0 ? 2 : 0) | (dv[j] < 0 ? 4 : 0) |
                 (dv[j] >= 424 ? 8 : 0);
    }
    const double *c = ch[t->person];
    int gl = c[SYNTH_CH_HAND_L + 2] > 40 ? 3 : 1, gr = c[SYNTH_CH_HAND_R + 2] > 40 ? 3 : 1;
    double lean_x = sin(c[SYNTH_CH_SPINE + 2] * M_PI / 180) + 0.03 * synth_rng_normal(r);
    double lean_y = sin(c[SYNTH_CH_SPINE + 0] * M_PI / 180) + 0.03 * synth_rng_normal(r);
    if (t->kind == BODY_FLAT) gl = gr = 0, lean_x = 0.5 * lean_x, lean_y = 0.2 * lean_y;
    synth_buf_int(b, (int64_t)t->id);
    synth_buf_puts(b, " ");
    synth_buf_int(b, edges);
    synth_buf_puts(b, gl == 3 ? " 1 3 " : gl ? " 1 1 " : " 0 0 ");
    synth_buf_puts(b, gr == 3 ? "1 3 0 " : gr ? "1 1 0 " : "0 0 0 ");
    synth_buf_g7(b, lean_x);
    synth_buf_puts(b, " ");
    synth_buf_g7(b, lean_y);
    synth_buf_puts(b, " 2");
    put_eol(b, s->eol);
    synth_buf_puts(b, "25");
    put_eol(b, s->eol);
    for (int j = 0; j < SYNTH_J; j++) {
        double cu, cv, qt[4] = {0, 0, 0, 0};
        synth_project_color(q[j], &cu, &cv);
        if (!zero_orient[j] && t->kind != BODY_FLAT) synth_camera_quat(&s->cam, rot[t->person][j], qt);
        double v[11] = {q[j][0], q[j][1], q[j][2], du[j], dv[j], cu, cv, qt[0], qt[1], qt[2], qt[3]};
        for (int i = 0; i < 11; i++) {
            synth_buf_g7(b, v[i]);
            b->p[b->n++] = ' ';
        }
        b->p[b->n++] = (char)('0' + st[j]);
        put_eol(b, s->eol);
    }
}

// The .skeleton text of one sample into b (b->n reset).
static int ntu_sample_text(NtuSample *s, const SynthAction *a, SynthRng *r, Buf *b) {
    int F = s->m.frames;
    b->n = 0;
    if (buf_reserve(b, 32) != CD_OK) return CD_ENOMEM;
    synth_buf_int(b, F);
    put_eol(b, s->eol);
    double pos[2][SYNTH_J][3], rot[2][SYNTH_J][3][3], ch[2][SYNTH_NCH];
    for (int f = 0; f < F; f++) {
        int nb = 0;
        for (int k = 0; k < s->ntracks; k++) nb += !s->drop[f] && f >= s->tr[k].f0 && f < s->tr[k].f1;
        if (buf_reserve(b, 16 + (size_t)nb * 3200) != CD_OK) return CD_ENOMEM;
        synth_buf_int(b, nb);
        put_eol(b, s->eol);
        if (!nb) continue;
        for (int p = 0; p < a->persons; p++) {
            synth_motion_pose(&s->m, p, f, ch[p]);
            synth_body_fk(s->m.perf[p], &s->m.place[p], ch[p], pos[p], rot[p]);
        }
        for (int k = 0; k < s->ntracks; k++)
            if (f >= s->tr[k].f0 && f < s->tr[k].f1) write_body(s, &s->tr[k], pos, rot, ch, r, b);
    }
    return CD_OK;
}

// ---------------------------------------------------------------- the archive

static void ntu_name(uint64_t key, char name[64]) {
    snprintf(name, 64, "nturgb+d_skeletons/S%03dC%03dP%03dR%03dA%03d.skeleton",
             (int)(key >> 40) & 0xff, (int)(key >> 32) & 0xff, (int)(key >> 24) & 0xff,
             (int)(key >> 16) & 0xff, (int)key & 0xffff);
}

// Generates item `it` into b.
static int ntu_generate(const SynthConfig *cfg, const SynthActions *acts,
                        const SynthPerformer *perf, const NtuItem *it, NtuSample *s, Buf *b) {
    const SynthAction *a = &acts->a[it->cls];
    int setup = (int)(it->key >> 40) & 0xff, cam = (int)(it->key >> 32) & 0xff;
    int p = (int)(it->key >> 24) & 0xff, rep = (int)(it->key >> 16) & 0xff;
    SynthRng r;
    synth_rng_seed(&r, synth_mix64(cfg->seed, it->key));
    int partner = (p - 1 + synth_rng_int(&r, 1, NTU_PERFORMERS - 1)) % NTU_PERFORMERS + 1;
    double facing = (rep == 1 ? 1.0 : -1.0) * synth_rng_range(&r, 0.0, 20.0);
    synth_motion_init(&s->m, a, &perf[p - 1], &perf[partner - 1], facing, 40, 300, &r);
    synth_camera_ntu(&s->cam, cfg->seed, setup, cam);
    ntu_sample_setup(s, a, &r);
    return ntu_sample_text(s, a, &r, b);
}

// Two-stage pipeline: a worker thread generates the texts of samples in
// order into a ring of buffers while the calling thread deflates them into the
// archive (the zip writer alone takes about as long as the generation).
// Each sample depends only on (seed, name), so the bytes do not depend on it.
#define NTU_RING 4

typedef struct NtuPipe {
    const SynthConfig *cfg;
    const SynthActions *acts;
    const NtuItem *items;
    SynthPerformer perf[NTU_PERFORMERS];
    Buf buf[NTU_RING];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t produced, consumed;
    int rc, stop;
} NtuPipe;

static void *ntu_worker(void *arg) {
    NtuPipe *pp = arg;
    NtuSample s;
    memset(&s, 0, sizeof s);
    s.drop = cd_malloc(300);
    int rc = s.drop ? CD_OK : CD_ENOMEM;
    for (int64_t i = 0; i < pp->cfg->samples && rc == CD_OK; i++) {
        pthread_mutex_lock(&pp->mu);
        while (pp->produced - pp->consumed >= NTU_RING && !pp->stop) pthread_cond_wait(&pp->cv, &pp->mu);
        int stop = pp->stop;
        pthread_mutex_unlock(&pp->mu);
        if (stop) break;
        rc = ntu_generate(pp->cfg, pp->acts, pp->perf, &pp->items[i], &s, &pp->buf[i % NTU_RING]);
        pthread_mutex_lock(&pp->mu);
        if (rc == CD_OK) pp->produced++;
        else pp->rc = rc;
        pthread_cond_broadcast(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
    }
    free(s.drop);
    return NULL;
}

// Waits for sample i; returns its buffer, or NULL if the worker failed.
static Buf *ntu_pipe_take(NtuPipe *pp, int64_t i) {
    pthread_mutex_lock(&pp->mu);
    while (pp->produced <= i && pp->rc == CD_OK) pthread_cond_wait(&pp->cv, &pp->mu);
    Buf *b = pp->produced > i ? &pp->buf[i % NTU_RING] : NULL;
    pthread_mutex_unlock(&pp->mu);
    return b;
}

static void ntu_pipe_done(NtuPipe *pp, int64_t i, int stop) {
    pthread_mutex_lock(&pp->mu);
    pp->consumed = i + 1;
    pp->stop |= stop;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
}

int synth_ntu_write(const SynthConfig *cfg, const SynthActions *acts, const Dist *d) {
    NtuItem *items = NULL;
    int rc = ntu_plan(cfg, acts, &items);
    if (rc != CD_OK) return rc;
    NtuPipe *pp = cd_calloc(1, sizeof *pp);
    ArchiveOut *ao = NULL;
    if (!pp || (rc = archive_out_open(&ao, cfg->out)) != CD_OK) {
        free(pp);
        free(items);
        return pp ? rc : CD_ENOMEM;
    }
    *pp = (NtuPipe){.cfg = cfg, .acts = acts, .items = items, .rc = CD_OK};
    for (int p = 0; p < NTU_PERFORMERS; p++) synth_performer_init(&pp->perf[p], cfg->seed, p + 1);
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pthread_t th;
    int started = pthread_create(&th, NULL, ntu_worker, pp) == 0;
    if (!started) {
        CD_ERR("cannot start the generator thread");
        rc = CD_ENOMEM;
    }
    Progress pr;
    progress_init(&pr, "synth", "samples", cfg->samples, cfg->progress_every_s);
    double text_bytes = 0, t0 = dist_wtime();
    for (int64_t i = 0; i < cfg->samples && rc == CD_OK; i++) {
        Buf *b = ntu_pipe_take(pp, i);
        if (!b) {
            rc = pp->rc;
            break;
        }
        char name[64];
        ntu_name(items[i].key, name);
        rc = archive_out_add(ao, name, b->p, b->n);
        text_bytes += (double)b->n;
        ntu_pipe_done(pp, i, rc != CD_OK);
        if (cfg->progress_every_s > 0) progress_update(&pr, d, i + 1);
    }
    if (rc != CD_OK) ntu_pipe_done(pp, pp->consumed - 1, 1);   // tell the worker to stop
    if (started) pthread_join(th, NULL);
    if (rc == CD_OK) rc = archive_out_close(ao);
    else archive_out_abort(ao);
    if (rc == CD_OK && cfg->progress_every_s > 0) {
        double el = dist_wtime() - t0;
        if (el <= 0) el = 1e-9;
        progress_end(&pr, d, cfg->samples);
        log_info(d, "synth | wrote %lld NTU samples to %s | %.1f MB of text | %.1f samples/s | "
                 "%.1f MB/s of text", (long long)cfg->samples, cfg->out, text_bytes / 1e6,
                 (double)cfg->samples / el, text_bytes / 1e6 / el);
    }
    pthread_mutex_destroy(&pp->mu);
    pthread_cond_destroy(&pp->cv);
    for (int k = 0; k < NTU_RING; k++) buf_free(&pp->buf[k]);
    free(pp);
    free(items);
    return rc;
}
