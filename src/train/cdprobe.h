// cdprobe.h - the end-of-training measurement's conditioning figures for
// one module (cdtrain.c): the probe (conditioning.h) at the module's
// generation scale, the class-text figures at each scale of
// cocodiff.probe_scales, and what they become: diversity.json and the log.
// Private to src/train.
//
// diversity.json: the diversity figures (diversity.h), then
//   "conditioning" (the co-trained module) and, with cocodiff.refresh,
//   "conditioning_refreshed" (the fresh module: refresh_steps, _batch,
//   _rows), each with the probe's figures at "guidance_scale" (the
//   module's cocodiff.cfg_scale) and "by_scale": one entry per probe scale,
//   in the order given ({guidance_scale, swap, steer, own_head_top1,
//   from_noise, own_kept, own_fixed, own_kept_hits, own_fixed_hits,
//   own_fixed_stay, own_fixed_stay_hits}, class texts only; without cocodiff.probe_scales the generation scale alone).
//   Every figures object ("text", "shuffled_text", "random_text", by_scale's
//   entries) splits own_head_top1 by the head's verdict on each sample's
//   real feature (conditioning.h): own_kept among the module's "real_right"
//   samples, own_fixed among its "real_wrong" ones (null where the group is
//   empty), own_kept_hits and own_fixed_hits the own-text generations
//   classified right in each, so own_head_top1 * samples = own_kept_hits +
//   own_fixed_hits; own_fixed_stay(_hits): the misread samples whose
//   own-text generation stays in the class the head gave the real feature.
//   own_tgen_head_top1, own_tgen_kept, own_tgen_fixed, own_tgen_kept_hits,
//   own_tgen_fixed_hits, own_tgen_fixed_stay(_hits): the same split for
//   own-text generations from the trainer's generation noise (conditioning.h,
//   own_tgen), t drawn per sample from "t_gen_steps" [lo, hi] (beside
//   real_right, real_wrong), so own_tgen_head_top1 * samples =
//   own_tgen_kept_hits + own_tgen_fixed_hits.
#pragma once
#include <stdint.h>

#include "conditioning.h"
#include "config.h"
#include "dist.h"
#include "diversity.h"

typedef struct CdProbe {
    const char *module;         // "co-trained" or "refreshed"
    ConditioningStats cs;       // the probe at the generation scale
    int nscales;
    double scale[CONFIG_PROBE_SCALES_MAX];
    ConditioningFigures at[CONFIG_PROBE_SCALES_MAX];   // class texts at scale[i]
    int64_t steps, rows;        // refreshed: its phase's steps and rows (0: none)
    int batch;
} CdProbe;

// The probe of module m (o: its options; o->guidance is ignored) and the
// class-text figures at scales[0..ns) (ns 0: the generation scale only; a
// scale equal to the generation scale is the probe's own figures, not
// measured again). p->module is kept. CD_OK or conditioning_measure's error.
int cdprobe_measure(CdProbe *p, Cocodiff *m, const float *h_parts, const int32_t *labels, int64_t n, int C, int K,
                    const float *head_w, const float *head_b, const ConditioningOptions *o, const double *scales,
                    int ns);
void cdprobe_free(CdProbe *p);

// One figures object of diversity.json ({swap, steer, own_head_top1,
// from_noise, own_kept, own_fixed, own_kept_hits, own_fixed_hits,
// own_fixed_stay, own_fixed_stay_hits, and the own_tgen_ keys}; a new
// reference, NULL on allocation failure), and the split's group sizes
// (real_right, real_wrong) and own_tgen's range (t_gen_steps) set on o. Shared with cocodiff-frozen's
// conditioning.json.
struct json_t *cdprobe_figures_json(const ConditioningFigures *f);
void cdprobe_counts_json(struct json_t *o, const ConditioningStats *c);

// Writes path (diversity.json) through path.partial: a reader sees the
// old file or the new one. rf NULL: no refreshed module. CD_OK or CD_EIO.
int cdprobe_write(const DiversityStats *st, const CdProbe *co, const CdProbe *rf, int K, const char *path);

// The figures' log lines (rank 0): the probe's per text mode, and one per
// scale when cocodiff.probe_scales named any (by_scale: 1).
void cdprobe_log(const Dist *d, const DiversityStats *st, const CdProbe *co, const CdProbe *rf, int by_scale);
