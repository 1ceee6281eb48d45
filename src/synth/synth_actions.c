// synth_actions.c - loading the action classes (JSON, through jansson),
// evaluating their keyframes, and turning a class into one sample's motion.
#include "synth_actions.h"
#include "status.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int ch0, nch; } parts[SYNTH_NPARTS] = {
    {"root", SYNTH_CH_ROOT, 4},       {"spine", SYNTH_CH_SPINE, 3},
    {"head", SYNTH_CH_HEAD, 3},       {"arm_left", SYNTH_CH_ARM_L, 4},
    {"arm_right", SYNTH_CH_ARM_R, 4}, {"hand_left", SYNTH_CH_HAND_L, 3},
    {"hand_right", SYNTH_CH_HAND_R, 3}, {"leg_left", SYNTH_CH_LEG_L, 3},
    {"leg_right", SYNTH_CH_LEG_R, 3}, {"foot_left", SYNTH_CH_FOOT_L, 1},
    {"foot_right", SYNTH_CH_FOOT_R, 1},
};

const char *synth_part_name(int part, int *ch0, int *nch) {
    if (part < 0 || part >= SYNTH_NPARTS) return NULL;
    if (ch0) *ch0 = parts[part].ch0;
    if (nch) *nch = parts[part].nch;
    return parts[part].name;
}

void synth_rest_pose(double ch[SYNTH_NCH]) {
    memset(ch, 0, SYNTH_NCH * sizeof(double));
    for (int s = 0; s < 2; s++) {
        int a = s ? SYNTH_CH_ARM_R : SYNTH_CH_ARM_L, h = s ? SYNTH_CH_HAND_R : SYNTH_CH_HAND_L;
        int l = s ? SYNTH_CH_LEG_R : SYNTH_CH_LEG_L;
        ch[a + 1] = 10.0;   // arms hang slightly away from the body
        ch[a + 3] = 12.0;   // elbows slightly bent
        ch[h + 2] = 10.0;   // relaxed fingers
        ch[l + 1] = 3.0;
        ch[l + 2] = 4.0;
    }
}

// ---------------------------------------------------------------- loading

static int load_keys(const char *path, int cls, const char *who, int part, json_t *jv,
                     SynthKeys *k) {
    int nch = parts[part].nch;
    json_t *arr = jv;
    k->repeat = 1;
    if (json_is_object(jv)) {
        arr = json_object_get(jv, "keys");
        json_t *rep = json_object_get(jv, "repeat");
        if (rep && (!json_is_integer(rep) || json_integer_value(rep) < 1 ||
                    json_integer_value(rep) > 50)) {
            CD_ERR("%s: class #%d %s.%s: \"repeat\" must be an integer in 1..50", path, cls, who,
                   parts[part].name);
            return CD_EFORMAT;
        }
        if (rep) k->repeat = (int)json_integer_value(rep);
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        CD_ERR("%s: class #%d %s.%s: expected a non-empty array of keys", path, cls, who,
               parts[part].name);
        return CD_EFORMAT;
    }
    k->nkeys = (int)json_array_size(arr);
    k->tv = cd_calloc((size_t)k->nkeys * (size_t)(1 + nch), sizeof(double));
    if (!k->tv) return CD_ENOMEM;
    for (int i = 0; i < k->nkeys; i++) {
        json_t *row = json_array_get(arr, (size_t)i);
        if (!json_is_array(row) || (int)json_array_size(row) != 1 + nch) {
            CD_ERR("%s: class #%d %s.%s key %d: expected [t, %d values]", path, cls, who,
                   parts[part].name, i, nch);
            return CD_EFORMAT;
        }
        for (int c = 0; c <= nch; c++) {
            json_t *x = json_array_get(row, (size_t)c);
            if (!json_is_number(x)) {
                CD_ERR("%s: class #%d %s.%s key %d: value %d is not a number", path, cls, who,
                       parts[part].name, i, c);
                return CD_EFORMAT;
            }
            k->tv[i * (1 + nch) + c] = json_number_value(x);
        }
        double t = k->tv[i * (1 + nch)];
        if (t < 0 || t > 1 || (i > 0 && t < k->tv[(i - 1) * (1 + nch)])) {
            CD_ERR("%s: class #%d %s.%s key %d: t = %g must be ascending in [0, 1]", path, cls,
                   who, parts[part].name, i, t);
            return CD_EFORMAT;
        }
    }
    return CD_OK;
}

static int load_person(const char *path, int cls, const char *who, json_t *obj,
                       SynthKeys keys[SYNTH_NPARTS]) {
    if (!json_is_object(obj)) {
        CD_ERR("%s: class #%d: \"%s\" must be an object of body parts", path, cls, who);
        return CD_EFORMAT;
    }
    const char *name;
    json_t *jv;
    json_object_foreach(obj, name, jv) {
        int p = 0;
        while (p < SYNTH_NPARTS && strcmp(parts[p].name, name) != 0) p++;
        if (p == SYNTH_NPARTS) {
            CD_ERR("%s: class #%d: unknown body part \"%s\" in \"%s\" (HINT: root, spine, head, "
                   "arm_left/right, hand_left/right, leg_left/right, foot_left/right)",
                   path, cls, name, who);
            return CD_EFORMAT;
        }
        int rc = load_keys(path, cls, who, p, jv, &keys[p]);
        if (rc != CD_OK) return rc;
    }
    return CD_OK;
}

static int load_class(const char *path, int i, json_t *c, SynthAction *a) {
    json_t *id = json_object_get(c, "id"), *nm = json_object_get(c, "name");
    json_t *np = json_object_get(c, "persons"), *du = json_object_get(c, "duration");
    if (!json_is_object(c) || !json_is_integer(id) || !json_is_string(nm) ||
        !json_is_integer(np) || !json_is_number(du)) {
        CD_ERR("%s: class #%d: needs integer \"id\", string \"name\", integer \"persons\" and "
               "number \"duration\"", path, i);
        return CD_EFORMAT;
    }
    a->id = (int)json_integer_value(id);
    a->persons = (int)json_integer_value(np);
    a->duration = json_number_value(du);
    snprintf(a->name, sizeof a->name, "%s", json_string_value(nm));
    json_t *di = json_object_get(c, "distance");
    a->distance = json_is_number(di) ? json_number_value(di) : 1.2;
    if (a->id < 1 || a->id > 999 || a->name[0] == 0 || (a->persons != 1 && a->persons != 2) ||
        !(a->duration > 0.3 && a->duration < 10.0)) {
        CD_ERR("%s: class #%d (\"%s\"): id must be 1..999, persons 1 or 2, duration in "
               "(0.3, 10) s", path, i, a->name);
        return CD_EFORMAT;
    }
    int rc = load_person(path, i, "parts", json_object_get(c, "parts"), a->keys[0]);
    if (rc != CD_OK) return rc;
    json_t *pa = json_object_get(c, "partner");
    if (a->persons == 2) {
        if (!pa) {
            CD_ERR("%s: class #%d (\"%s\"): a two-person class needs \"partner\"", path, i,
                   a->name);
            return CD_EFORMAT;
        }
        rc = load_person(path, i, "partner", pa, a->keys[1]);
    }
    return rc;
}

int synth_actions_load(const char *path, SynthActions *out) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        CD_ERR("cannot read action classes %s: %s (line %d)", path, jerr.text, jerr.line);
        return jerr.line > 0 ? CD_EFORMAT : CD_EIO;
    }
    json_t *cls = json_object_get(root, "classes");
    if (!json_is_array(cls) || json_array_size(cls) == 0) {
        CD_ERR("%s: expected {\"classes\": [...]} with at least one class", path);
        json_decref(root);
        return CD_EFORMAT;
    }
    out->n = (int)json_array_size(cls);
    out->a = cd_calloc((size_t)out->n, sizeof *out->a);
    int rc = out->a ? CD_OK : CD_ENOMEM;
    for (int i = 0; i < out->n && rc == CD_OK; i++) {
        rc = load_class(path, i, json_array_get(cls, (size_t)i), &out->a[i]);
        for (int j = 0; j < i && rc == CD_OK; j++)
            if (out->a[j].id == out->a[i].id) {
                CD_ERR("%s: classes #%d and #%d share id %d", path, j, i, out->a[i].id);
                rc = CD_EFORMAT;
            }
    }
    json_decref(root);
    if (rc != CD_OK) synth_actions_free(out);
    return rc;
}

void synth_actions_free(SynthActions *as) {
    if (!as || !as->a) return;
    for (int i = 0; i < as->n; i++)
        for (int p = 0; p < 2; p++)
            for (int k = 0; k < SYNTH_NPARTS; k++) free(as->a[i].keys[p][k].tv);
    free(as->a);
    as->a = NULL;
    as->n = 0;
}

// ---------------------------------------------------------------- evaluation

static double ease(double x) { return 0.5 - 0.5 * cos(M_PI * x); }

static void eval_keys(const SynthKeys *k, int nch, double t, double *v) {
    if (k->repeat > 1) {
        t *= k->repeat;
        t -= floor(t);
        if (t >= 1.0) t = 0.0;
    }
    const double *tv = k->tv;
    int w = 1 + nch, n = k->nkeys;
    if (t <= tv[0] || n == 1) {
        memcpy(v, tv + 1, (size_t)nch * sizeof(double));
        return;
    }
    if (t >= tv[(n - 1) * w]) {
        memcpy(v, tv + (n - 1) * w + 1, (size_t)nch * sizeof(double));
        return;
    }
    int i = 0;
    while (i + 1 < n && tv[(i + 1) * w] < t) i++;
    double ta = tv[i * w], tb = tv[(i + 1) * w];
    double s = tb > ta ? ease((t - ta) / (tb - ta)) : 1.0;
    for (int c = 0; c < nch; c++) v[c] = tv[i * w + 1 + c] * (1 - s) + tv[(i + 1) * w + 1 + c] * s;
}

void synth_action_eval(const SynthAction *a, int person, double t, double ch[SYNTH_NCH]) {
    synth_rest_pose(ch);
    for (int p = 0; p < SYNTH_NPARTS; p++) {
        const SynthKeys *k = &a->keys[person][p];
        if (k->nkeys > 0) eval_keys(k, parts[p].nch, t, ch + parts[p].ch0);
    }
}

// ---------------------------------------------------------------- motion

void synth_motion_init(SynthMotion *m, const SynthAction *a, const SynthPerformer *p0,
                       const SynthPerformer *p1, double facing, int min_frames, int max_frames,
                       SynthRng *r) {
    memset(m, 0, sizeof *m);
    m->action = a;
    m->perf[0] = p0;
    m->perf[1] = p1 ? p1 : p0;
    double f = a->duration * 30.0 / p0->speed * synth_rng_range(r, 0.8, 1.2);
    m->t0 = synth_rng_range(r, 0.0, 0.15);
    m->t1 = synth_rng_range(r, 0.85, 1.0);
    f /= (m->t1 - m->t0);   // idle margins around the action
    int n = (int)lround(f);
    m->frames = n < min_frames ? min_frames : n > max_frames ? max_frames : n;
    m->gamma = exp(0.15 * synth_rng_normal(r));
    m->sway_freq = synth_rng_range(r, 0.2, 0.5);
    for (int k = 0; k < 2; k++) {
        const SynthPerformer *p = m->perf[k];
        m->amp[k] = p->amp * synth_rng_range(r, 0.9, 1.1);
        for (int c = SYNTH_CH_SPINE; c < SYNTH_NCH; c++)
            m->offs[k][c] = p->posture[c] + 2.0 * synth_rng_normal(r);
        m->sway_phase[k] = synth_rng_range(r, 0, 2 * M_PI);
        m->mirror[k] = p->left_handed;
    }
    if (a->persons == 2) {
        double d = a->distance * synth_rng_range(r, 0.9, 1.15), turn = synth_rng_range(r, 10, 35);
        double cx = synth_rng_range(r, -0.15, 0.15), cz = synth_rng_range(r, -0.15, 0.15);
        m->place[0] = (SynthPlacement){cx - d / 2, cz, -90.0 + turn + facing * 0.3};
        m->place[1] = (SynthPlacement){cx + d / 2, cz, 90.0 - turn + facing * 0.3};
    } else {
        m->place[0] = (SynthPlacement){0.1 * synth_rng_normal(r), 0.1 * synth_rng_normal(r),
                                       facing + 5.0 * synth_rng_normal(r)};
        m->place[1] = m->place[0];
    }
}

static void swap_block(double *ch, int a, int b, int n) {
    for (int i = 0; i < n; i++) {
        double t = ch[a + i];
        ch[a + i] = ch[b + i];
        ch[b + i] = t;
    }
}

void synth_motion_pose(const SynthMotion *m, int person, int f, double ch[SYNTH_NCH]) {
    double u = m->frames > 1 ? (double)f / (m->frames - 1) : 0.0;
    double t = (u - m->t0) / (m->t1 - m->t0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    t = pow(t, m->gamma);
    double rest[SYNTH_NCH];
    synth_rest_pose(rest);
    synth_action_eval(m->action, person, t, ch);
    if (m->mirror[person]) {
        swap_block(ch, SYNTH_CH_ARM_L, SYNTH_CH_ARM_R, 4);
        swap_block(ch, SYNTH_CH_HAND_L, SYNTH_CH_HAND_R, 3);
    }
    double amp = m->amp[person];
    for (int c = 0; c < SYNTH_NCH; c++) {
        double d = ch[c] - rest[c];
        // Translations keep their size (a sit is as deep as the chair).
        if (c >= SYNTH_CH_SPINE) d *= amp;
        ch[c] = rest[c] + d + m->offs[person][c];
    }
    double ph = 2 * M_PI * m->sway_freq * f / 30.0 + m->sway_phase[person];
    double sw = m->perf[person]->sway;
    ch[SYNTH_CH_ROOT + 0] += sw * sin(ph);
    ch[SYNTH_CH_ROOT + 2] += 0.5 * sw * cos(0.7 * ph);
    ch[SYNTH_CH_SPINE + 2] += 100.0 * sw * sin(ph + 1.0);
    ch[SYNTH_CH_HEAD + 1] += 150.0 * sw * sin(0.5 * ph + 2.0);
}
