// cdprobe.c - one module's conditioning figures at the end of training, at
// its generation scale and at cocodiff.probe_scales', and their
// diversity.json and log lines (see cdprobe.h).
#include "cdprobe.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fault.h"
#include "fsutil.h"
#include "status.h"

int cdprobe_measure(CdProbe *p, Cocodiff *m, const float *h, const int32_t *y, int64_t n, int C, int K,
                    const float *hw, const float *hb, const ConditioningOptions *o, const double *scales, int ns) {
    ConditioningOptions oo = *o;
    oo.guidance = 0;
    oo.controls = 1;
    int rc = conditioning_measure(m, h, y, n, C, K, hw, hb, &oo, &p->cs);
    if (rc) return rc;
    if (ns > CONFIG_PROBE_SCALES_MAX) ns = CONFIG_PROBE_SCALES_MAX;
    p->nscales = ns > 0 ? ns : 1;
    for (int i = 0; i < p->nscales && !rc; i++) {
        p->scale[i] = ns > 0 ? scales[i] : p->cs.guidance;
        if ((float)p->scale[i] == (float)p->cs.guidance) {   // the probe's own: the same draws, the same figures
            p->at[i] = p->cs.text;
            continue;
        }
        ConditioningStats s;
        oo.guidance = (float)p->scale[i];
        oo.controls = 0;
        if (!(rc = conditioning_measure(m, h, y, n, C, K, hw, hb, &oo, &s))) p->at[i] = s.text;
        conditioning_free(&s);
    }
    return rc;
}

void cdprobe_free(CdProbe *p) { conditioning_free(&p->cs); }

static json_t *share_json(double x) { return isnan(x) ? json_null() : json_real(x); }

// One own-text split (conditioning.h) as the keys PREFIX_head_top1, _kept, _fixed, _kept_hits, _fixed_hits,
// _fixed_stay and _fixed_stay_hits of o (the shares null where their group is empty).
static void own_json(json_t *o, const char *prefix, const ConditioningOwn *f) {
    static const char *const key[7] = {"head_top1", "kept", "fixed", "kept_hits", "fixed_hits", "fixed_stay",
                                       "fixed_stay_hits"};
    json_t *v[7] = {json_real(f->own), share_json(f->kept), share_json(f->fixed), json_integer(f->kept_hits),
                    json_integer(f->fixed_hits), share_json(f->stay), json_integer(f->stay_hits)};
    char k[64];
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "%s_%s", prefix, key[i]);
        json_object_set_new(o, k, v[i]);
    }
}

json_t *cdprobe_figures_json(const ConditioningFigures *f) {
    // own_head_top1 keeps its place before from_noise (the key order of the files written so far): a null
    // holds it, and own_json sets its value there
    json_t *o = json_pack("{s:f, s:f, s:n, s:f}", "swap", f->swap, "steer", f->steer, "own_head_top1", "from_noise",
                          f->from_noise);
    if (!o) return NULL;
    own_json(o, "own", &f->probe);
    own_json(o, "own_tgen", &f->tgen);
    return o;
}

void cdprobe_counts_json(json_t *o, const ConditioningStats *c) {
    json_object_set_new(o, "real_right", json_integer(c->real_right));
    json_object_set_new(o, "real_wrong", json_integer(c->real_wrong));
    json_t *r = json_pack("[i, i]", c->t_gen_lo, c->t_gen_hi);
    if (r) json_object_set_new(o, "t_gen_steps", r);
}

// One module's object of diversity.json (cdprobe.h).
static json_t *probe_json(const CdProbe *p, int K) {
    const ConditioningStats *c = &p->cs;
    json_t *o = json_object(), *pc = json_array(), *bs = json_array();
    json_object_set_new(o, "module", json_string(p->module));
    const ConditioningFigures *f[3] = {&c->text, &c->shuffled, &c->random};
    const char *name[3] = {"text", "shuffled_text", "random_text"};
    json_object_set_new(o, "samples", json_integer(c->n));
    json_object_set_new(o, "classes", json_integer(c->classes));
    json_object_set_new(o, "chance", json_real(1.0 / c->classes));
    json_object_set_new(o, "t_probe", json_integer(c->t_probe));
    json_object_set_new(o, "noise_per_class", json_integer(c->noise_per_class));
    json_object_set_new(o, "real_head_top1", json_real(c->real_top1));
    cdprobe_counts_json(o, c);
    for (int i = 0; i < 3; i++) json_object_set_new(o, name[i], cdprobe_figures_json(f[i]));
    for (int k = 0; k < K; k++)
        json_array_append_new(pc, isnan(c->from_noise_class[k]) ? json_null() : json_real(c->from_noise_class[k]));
    json_object_set_new(o, "from_noise_per_class", pc);
    json_object_set_new(o, "guidance_scale", json_real(c->guidance));
    for (int i = 0; i < p->nscales; i++) {
        json_t *e = cdprobe_figures_json(&p->at[i]);
        json_object_set_new(e, "guidance_scale", json_real(p->scale[i]));
        json_array_append_new(bs, e);
    }
    json_object_set_new(o, "by_scale", bs);
    if (p->steps > 0) {
        json_object_set_new(o, "refresh_steps", json_integer(p->steps));
        json_object_set_new(o, "refresh_batch", json_integer(p->batch));
        json_object_set_new(o, "refresh_rows", json_integer(p->rows));
    }
    return o;
}

int cdprobe_write(const DiversityStats *st, const CdProbe *co, const CdProbe *rf, int K, const char *path) {
    json_t *o = json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:o}",
        "samples", (json_int_t)st->n, "classes", st->classes, "real_pairwise_distance", st->real_pdist,
        "generated_pairwise_distance", st->gen_pdist, "real_covariance_trace", st->real_trace,
        "generated_covariance_trace", st->gen_trace, "real_head_top1", st->real_head_top1,
        "generated_head_top1", st->gen_head_top1, "generated_nearest_centroid_own", st->gen_nearest_own,
        "real_to_centroid", st->real_to_centroid, "generated_to_centroid", st->gen_to_centroid,
        "generated_to_source", st->gen_to_source, "features", "features.h5", "conditioning", probe_json(co, K));
    if (o) json_object_set_new(o, "build", json_string(cli_version()));   // the program that measured these figures
    if (o && rf) json_object_set_new(o, "conditioning_refreshed", probe_json(rf, K));
    char tmp[4300];
    int rc = fs_partial(path, tmp, sizeof tmp);
    if (!rc && o && !json_dump_file(o, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6))) {
        fault_point("diversity", 0);   // written, not yet in place: the old file stands
        rc = fs_commit(tmp, path);
    } else {
        rc = CD_EIO;
    }
    if (rc) CD_ERR("%s: cannot write the diversity figures", path);
    json_decref(o);
    return rc ? CD_EIO : CD_OK;
}

// "kept 95.1% of 460, fixed 72.0% of 100 (stay 20.0%)" (conditioning.h): own's split by the head's verdict on
// the real feature.
static const char *own_split_text(char *buf, size_t len, const ConditioningOwn *f, const ConditioningStats *c) {
    char k[16] = "-", x[16] = "-", st[16] = "-";
    if (!isnan(f->kept)) snprintf(k, sizeof k, "%.1f%%", 100 * f->kept);
    if (!isnan(f->fixed)) snprintf(x, sizeof x, "%.1f%%", 100 * f->fixed);
    if (!isnan(f->stay)) snprintf(st, sizeof st, "%.1f%%", 100 * f->stay);
    snprintf(buf, len, "kept %s of %lld, fixed %s of %lld (stay %s)", k, (long long)c->real_right, x,
             (long long)c->real_wrong, st);
    return buf;
}

// "; own text at t_gen 50-200: 80.1% (kept ..., fixed ... (stay ...))": own_tgen (conditioning.h), appended to
// a figures line.
static const char *tgen_text(char *buf, size_t len, const ConditioningFigures *f, const ConditioningStats *c) {
    char sp[128];
    snprintf(buf, len, "; own text at t_gen %d-%d: %.1f%% (%s)", c->t_gen_lo, c->t_gen_hi, 100 * f->tgen.own,
             own_split_text(sp, sizeof sp, &f->tgen, c));
    return buf;
}

void cdprobe_log(const Dist *d, const DiversityStats *st, const CdProbe *co, const CdProbe *rf, int by_scale) {
    log_info(d, "train | generated features (test split, %lld samples, %d classes): within-class pairwise "
             "distance %.4g (real %.4g), covariance trace %.4g (real %.4g)", (long long)st->n, st->classes,
             st->gen_pdist, st->real_pdist, st->gen_trace, st->real_trace);
    log_info(d, "train | generated features: frozen head top-1 %.2f%% (real %.2f%%), nearest real centroid "
             "is their class for %.2f%%, distance to the class centroid %.4g (real %.4g), to their source %.4g",
             100 * st->gen_head_top1, 100 * st->real_head_top1, 100 * st->gen_nearest_own,
             st->gen_to_centroid, st->real_to_centroid, st->gen_to_source);
    const char *nm[3] = {"class texts", "shuffled texts (control)", "random texts (control)"};
    const ConditioningStats *cs = &co->cs;
    const ConditioningFigures *f3[3] = {&cs->text, &cs->shuffled, &cs->random};
    char sp[128], tg[256];
    for (int i = 0; i < 3; i++)
        log_info(d, "train | conditioning, %s: swap %.3f, steer %.1f%%, from noise %.1f%%, own-text head top-1 %.1f%% "
                 "(real %.1f%%; %s; t %d, chance %.1f%%)%s", nm[i], f3[i]->swap, 100 * f3[i]->steer,
                 100 * f3[i]->from_noise, 100 * f3[i]->probe.own, 100 * cs->real_top1,
                 own_split_text(sp, sizeof sp, &f3[i]->probe, cs),
                 cs->t_probe, 100.0 / cs->classes, tgen_text(tg, sizeof tg, f3[i], cs));
    if (rf) {
        const ConditioningFigures *r3[3] = {&rf->cs.text, &rf->cs.shuffled, &rf->cs.random};
        for (int i = 0; i < 3; i++)
            log_info(d, "train | conditioning of the refreshed module (%lld steps), %s: swap %.3f, steer %.1f%%, from "
                     "noise %.1f%%, own-text head top-1 %.1f%% (real %.1f%%; %s)%s", (long long)rf->steps, nm[i],
                     r3[i]->swap, 100 * r3[i]->steer, 100 * r3[i]->from_noise, 100 * r3[i]->probe.own,
                     100 * rf->cs.real_top1, own_split_text(sp, sizeof sp, &r3[i]->probe, &rf->cs),
                     tgen_text(tg, sizeof tg, r3[i], &rf->cs));
    }
    const CdProbe *mods[2] = {co, rf};
    for (int j = 0; by_scale && j < 2 && mods[j]; j++)
        for (int i = 0; i < mods[j]->nscales; i++)
            log_info(d, "train | conditioning at guidance scale %g, %s module, class texts: swap %.3f, steer %.1f%%, "
                     "from noise %.1f%%, own-text head top-1 %.1f%% (real %.1f%%; %s; generation scale %g)%s",
                     mods[j]->scale[i], mods[j]->module, mods[j]->at[i].swap, 100 * mods[j]->at[i].steer,
                     100 * mods[j]->at[i].from_noise, 100 * mods[j]->at[i].probe.own, 100 * mods[j]->cs.real_top1,
                     own_split_text(sp, sizeof sp, &mods[j]->at[i].probe, &mods[j]->cs), mods[j]->cs.guidance,
                     tgen_text(tg, sizeof tg, &mods[j]->at[i], &mods[j]->cs));
}
