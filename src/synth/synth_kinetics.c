// synth_kinetics.c - Kinetics-Skeleton (ST-GCN) clips from the synthetic
// body: the 25-joint Kinect body of synth_body.c seen by a random "video"
// camera (340x256 image), mapped to the 18 OpenPose joints (face points from
// the head's rotation), x,y normalised to [0, 1] and scores in [0, 1] with
// 3 decimals like OpenPose output. Clips have empty frames, dropped joints,
// background people, and some clips have no skeleton at all.
// Layout: kinetics_{train,val}_label.json first (so a reader can stream),
// then kinetics_train/<id>.json and kinetics_val/<id>.json sorted by id.
#include "synth.h"
#include "archive_out.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIN_W 340.0
#define KIN_H 256.0
#define KIN_MAX_PEOPLE 5
#define KIN_PERFORMERS 40

// OpenPose joint -> Kinect joint (0-based), or -1-k for face point k.
static const int op_from_kinect[18] = {-1, 20, 8, 9, 10, 4, 5, 6, 16, 17, 18, 12, 13, 14,
                                       -2, -3, -4, -5};

typedef struct KinItem {
    char id[12];
    int cls, val, has_skeleton;
} KinItem;

static int cmp_kin(const void *a, const void *b) {
    const KinItem *x = a, *y = b;
    if (x->val != y->val) return x->val - y->val;
    return strcmp(x->id, y->id);
}

// Ids: 11 characters of YouTube's alphabet; class i % K; about 20% val.
static int kin_plan(const SynthConfig *cfg, const SynthActions *acts, KinItem **out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int64_t n = cfg->samples;
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    uint64_t *set = cd_calloc(cap, sizeof *set);
    KinItem *it = cd_malloc((size_t)n * sizeof *it);
    if (!set || !it) {
        free(set);
        free(it);
        return CD_ENOMEM;
    }
    SynthRng r;
    synth_rng_seed(&r, synth_mix64(cfg->seed, 0x4B1E));
    for (int64_t i = 0; i < n; i++) {
        for (;;) {
            uint64_t h = 0;
            for (int c = 0; c < 11; c++) {
                it[i].id[c] = abc[synth_rng_u64(&r) >> 58];
                h = synth_mix64(h, (uint64_t)it[i].id[c]);
            }
            it[i].id[11] = 0;
            h |= 1;
            size_t k = (size_t)h & (cap - 1);
            while (set[k] && set[k] != h) k = (k + 1) & (cap - 1);
            if (!set[k]) {
                set[k] = h;
                break;
            }
        }
        it[i].cls = (int)(i % acts->n);
        double gold = (double)(i + 1) * 0.6180339887498949;
        it[i].val = gold - floor(gold) < 0.2;   // ~20% val, spread evenly
        it[i].has_skeleton = synth_rng_uniform(&r) >= 0.02;
    }
    free(set);
    qsort(it, (size_t)n, sizeof *it, cmp_kin);
    *out = it;
    return CD_OK;
}

static void put_json_str(Buf *b, const char *s) {
    b->p[b->n++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') b->p[b->n++] = '\\';
        b->p[b->n++] = *s;
    }
    b->p[b->n++] = '"';
}

// kinetics_{train,val}_label.json in the indented layout of the real files.
static int kin_labels(const KinItem *it, int64_t n, int val, const SynthActions *acts,
                      Buf *b) {
    b->n = 0;
    if (buf_reserve(b, 8) != CD_OK) return CD_ENOMEM;
    synth_buf_puts(b, "{");
    int first = 1;
    for (int64_t i = 0; i < n; i++) {
        if (it[i].val != val) continue;
        if (buf_reserve(b, 400) != CD_OK) return CD_ENOMEM;
        synth_buf_puts(b, first ? "\n    " : ", \n    ");
        first = 0;
        put_json_str(b, it[i].id);
        synth_buf_puts(b, ": {\n        \"has_skeleton\": ");
        synth_buf_puts(b, it[i].has_skeleton ? "true" : "false");
        synth_buf_puts(b, ", \n        \"label\": ");
        put_json_str(b, acts->a[it[i].cls].name);
        synth_buf_puts(b, ", \n        \"label_index\": ");
        synth_buf_int(b, it[i].cls);
        synth_buf_puts(b, "\n    }");
    }
    synth_buf_puts(b, "\n}");
    return CD_OK;
}

// ---------------------------------------------------------------- one clip

typedef struct KinPerson {
    const SynthPerformer *perf;
    SynthPlacement place;
    int actor;          // person index in the motion, or -1 for a bystander
    int f0, f1;         // visible frames
    double base;        // typical confidence
    double phase;
} KinPerson;

typedef struct KinClip {
    SynthMotion m;
    SynthCamera cam;
    double focal;
    int np;
    KinPerson p[KIN_MAX_PEOPLE];
} KinClip;

static void kin_setup(KinClip *c, const SynthActions *acts, const KinItem *it,
                      const SynthPerformer *perf, SynthRng *r) {
    const SynthAction *a = &acts->a[it->cls];
    int p0 = synth_rng_int(r, 0, KIN_PERFORMERS - 1);
    int p1 = (p0 + synth_rng_int(r, 1, KIN_PERFORMERS - 1)) % KIN_PERFORMERS;
    synth_motion_init(&c->m, a, &perf[p0], &perf[p1], synth_rng_range(r, -40, 40), 40, 299, r);
    double az = synth_rng_range(r, -70, 70) * M_PI / 180, d = synth_rng_range(r, 2.5, 6.0);
    double pos[3] = {d * sin(az), synth_rng_range(r, 0.8, 2.0), -d * cos(az)};
    double tgt[3] = {synth_rng_range(r, -0.4, 0.4), synth_rng_range(r, 0.6, 1.1), 0};
    synth_camera_look(&c->cam, pos, tgt);
    c->focal = synth_rng_range(r, 260, 420);
    c->np = 0;
    int F = c->m.frames;
    for (int k = 0; k < a->persons; k++)
        c->p[c->np++] = (KinPerson){c->m.perf[k], c->m.place[k], k, 0, F,
                                    synth_rng_range(r, 0.45, 0.85), 0};
    int bg = synth_rng_uniform(r) < 0.3 ? synth_rng_int(r, 1, 3) : 0;
    for (int k = 0; k < bg && c->np < KIN_MAX_PEOPLE; k++) {
        int f0 = synth_rng_int(r, 0, F - 10), f1 = synth_rng_int(r, f0 + 5, F);
        SynthPlacement pl = {synth_rng_range(r, -3, 3), synth_rng_range(r, 0.5, 5),
                             synth_rng_range(r, -180, 180)};
        c->p[c->np++] = (KinPerson){&perf[synth_rng_int(r, 0, KIN_PERFORMERS - 1)], pl, -1, f0,
                                    f1, synth_rng_range(r, 0.1, 0.4), synth_rng_range(r, 0, 6.3)};
    }
}

// 18 OpenPose joints of person k at frame f: xy (18, 2) normalised, sc (18).
static void kin_person(const KinClip *c, const KinPerson *kp, int f, SynthRng *r,
                       double xy[18][2], double sc[18]) {
    double ch[SYNTH_NCH], pos[SYNTH_J][3], rot[SYNTH_J][3][3], face[5][3];
    if (kp->actor >= 0) {
        synth_motion_pose(&c->m, kp->actor, f, ch);
    } else {   // a bystander shifting weight
        synth_rest_pose(ch);
        ch[SYNTH_CH_SPINE + 2] = 3 * sin(0.05 * f + kp->phase);
        ch[SYNTH_CH_HEAD + 1] = 20 * sin(0.03 * f + 2 * kp->phase);
    }
    synth_body_fk(kp->perf, &kp->place, ch, pos, rot);
    synth_body_face(pos, rot, kp->perf->scale, face);
    double to_cam[3] = {c->cam.c[0] - pos[3][0], c->cam.c[1] - pos[3][1], c->cam.c[2] - pos[3][2]};
    for (int j = 0; j < 18; j++) {
        int s = op_from_kinect[j];
        const double *w = s >= 0 ? pos[s] : face[-1 - s];
        double q[3];
        synth_camera_apply(&c->cam, w, q);
        double score = kp->base + 0.12 * synth_rng_normal(r);
        score = score < 0.03 ? 0.03 : score > 0.99 ? 0.99 : score;
        if (s < 0) {   // face points facing away from the camera are not seen
            double dv = (w[0] - pos[3][0]) * to_cam[0] + (w[1] - pos[3][1]) * to_cam[1] +
                        (w[2] - pos[3][2]) * to_cam[2];
            if (dv < -0.01) score = 0;
        }
        double u = (KIN_W / 2 - c->focal * q[0] / q[2] + 1.5 * synth_rng_normal(r)) / KIN_W;
        double v = (KIN_H / 2 - c->focal * q[1] / q[2] + 1.5 * synth_rng_normal(r)) / KIN_H;
        if (q[2] < 0.3 || u < 0 || u > 1 || v < 0 || v > 1 || synth_rng_uniform(r) < 0.04) score = 0;
        sc[j] = score;
        xy[j][0] = score > 0 ? u : 0;
        xy[j][1] = score > 0 ? v : 0;
    }
}

static int kin_clip_text(KinClip *c, const SynthAction *a, int label_index, SynthRng *r,
                         Buf *b) {
    int F = c->m.frames;
    int cut0 = 0, cut1 = F;   // cut-away shots: empty runs at the ends
    if (synth_rng_uniform(r) < 0.2) cut0 = synth_rng_int(r, 0, F / 5);
    if (synth_rng_uniform(r) < 0.2) cut1 = F - synth_rng_int(r, 0, F / 5);
    b->n = 0;
    if (buf_reserve(b, 16) != CD_OK) return CD_ENOMEM;
    synth_buf_puts(b, "{\"data\": [");
    for (int f = 0; f < F; f++) {
        if (buf_reserve(b, 64 + KIN_MAX_PEOPLE * 36 * 8 + 200) != CD_OK) return CD_ENOMEM;
        synth_buf_puts(b, f ? ", {\"frame_index\": " : "{\"frame_index\": ");
        synth_buf_int(b, f + 1);
        synth_buf_puts(b, ", \"skeleton\": [");
        int order[KIN_MAX_PEOPLE], n = 0;
        int empty = f < cut0 || f >= cut1 || synth_rng_uniform(r) < 0.03;
        for (int k = 0; k < c->np && !empty; k++)
            if (f >= c->p[k].f0 && f < c->p[k].f1 && synth_rng_uniform(r) >= 0.03) order[n++] = k;
        for (int k = n - 1; k > 0; k--) {   // OpenPose lists people in no set order
            int x = synth_rng_int(r, 0, k), t = order[k];
            order[k] = order[x];
            order[x] = t;
        }
        for (int k = 0; k < n; k++) {
            double xy[18][2], sc[18];
            kin_person(c, &c->p[order[k]], f, r, xy, sc);
            synth_buf_puts(b, k ? ", {\"pose\": [" : "{\"pose\": [");
            for (int j = 0; j < 18; j++) {
                synth_buf_f3(b, xy[j][0]);
                synth_buf_puts(b, ", ");
                synth_buf_f3(b, xy[j][1]);
                if (j < 17) synth_buf_puts(b, ", ");
            }
            synth_buf_puts(b, "], \"score\": [");
            for (int j = 0; j < 18; j++) {
                synth_buf_f3(b, sc[j]);
                if (j < 17) synth_buf_puts(b, ", ");
            }
            synth_buf_puts(b, "]}");
        }
        synth_buf_puts(b, "]}");
    }
    if (buf_reserve(b, 200) != CD_OK) return CD_ENOMEM;
    synth_buf_puts(b, "], \"label\": ");
    put_json_str(b, a->name);
    synth_buf_puts(b, ", \"label_index\": ");
    synth_buf_int(b, label_index);
    synth_buf_puts(b, "}");
    return CD_OK;
}

static int kin_generate(const SynthConfig *cfg, const SynthActions *acts,
                        const SynthPerformer *perf, const KinItem *it, Buf *b) {
    const SynthAction *a = &acts->a[it->cls];
    SynthRng r;
    uint64_t h = 0;
    for (int c = 0; c < 11; c++) h = synth_mix64(h, (uint64_t)it->id[c]);
    synth_rng_seed(&r, synth_mix64(cfg->seed ^ 0x7C11Full, h));
    if (!it->has_skeleton) {
        b->n = 0;
        if (buf_reserve(b, 256) != CD_OK) return CD_ENOMEM;
        synth_buf_puts(b, "{\"data\": [], \"label\": ");
        put_json_str(b, a->name);
        synth_buf_puts(b, ", \"label_index\": ");
        synth_buf_int(b, it->cls);
        synth_buf_puts(b, "}");
        return CD_OK;
    }
    KinClip c;
    kin_setup(&c, acts, it, perf, &r);
    return kin_clip_text(&c, a, it->cls, &r, b);
}

int synth_kinetics_write(const SynthConfig *cfg, const SynthActions *acts, const Dist *d) {
    KinItem *it = NULL;
    int rc = kin_plan(cfg, acts, &it);
    if (rc != CD_OK) return rc;
    SynthPerformer perf[KIN_PERFORMERS];
    for (int p = 0; p < KIN_PERFORMERS; p++) synth_performer_init(&perf[p], cfg->seed ^ 0x4B, p + 1);
    Buf b = {0};
    ArchiveOut *ao = NULL;
    rc = archive_out_open(&ao, cfg->out);
    for (int val = 0; val < 2 && rc == CD_OK; val++) {
        rc = kin_labels(it, cfg->samples, val, acts, &b);
        if (rc == CD_OK)
            rc = archive_out_add(ao, val ? "kinetics_val_label.json" : "kinetics_train_label.json",
                                 b.p, b.n);
    }
    Progress pr;
    progress_init(&pr, "synth", "samples", cfg->samples, cfg->progress_every_s);
    double text_bytes = 0, t0 = dist_wtime();
    for (int64_t i = 0; i < cfg->samples && rc == CD_OK; i++) {
        char name[64];
        snprintf(name, sizeof name, "kinetics_%s/%s.json", it[i].val ? "val" : "train", it[i].id);
        rc = kin_generate(cfg, acts, perf, &it[i], &b);
        if (rc == CD_OK) rc = archive_out_add(ao, name, b.p, b.n);
        text_bytes += (double)b.n;
        if (cfg->progress_every_s > 0) progress_update(&pr, d, i + 1);
    }
    if (rc == CD_OK) rc = archive_out_close(ao);
    else if (ao) archive_out_abort(ao);
    if (rc == CD_OK && cfg->progress_every_s > 0) {
        double el = dist_wtime() - t0;
        if (el <= 0) el = 1e-9;
        progress_end(&pr, d, cfg->samples);
        log_info(d, "synth | wrote %lld Kinetics clips to %s | %.1f MB of JSON | %.1f clips/s | "
                 "%.1f MB/s of text", (long long)cfg->samples, cfg->out, text_bytes / 1e6,
                 (double)cfg->samples / el, text_bytes / 1e6 / el);
    }
    buf_free(&b);
    free(it);
    return rc;
}
