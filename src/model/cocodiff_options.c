// cocodiff_options.c - the CoCoDiff module's vocabulary (cocodiff.h): its
// options, each with its config key, default and range in one row, and the
// statistics its training step reports. The trainer's config reads the
// options straight into a CocodiffConfig and its logs name the statistics
// from here, so a new option or loss is a row in this file.
#include "cocodiff.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

#define OPT(f) offsetof(CocodiffConfig, f)

static const CocodiffOption options[] = {
    {"cocodiff.guidance", COCODIFF_OPT_CHOICE, OPT(guidance), 0, COCODIFF_GUIDE_BOTH, 0, 0, 0, "none|coarse|fine|both"},
    {"cocodiff.generate", COCODIFF_OPT_BOOL, OPT(generation), 0, 1, 0, 0, 1, NULL},
    {"cocodiff.gen_start_epoch", COCODIFF_OPT_INT, OPT(gen_start_epoch), 0, -1, 0, -1, INT32_MAX, NULL},
    {"cocodiff.ddim_steps", COCODIFF_OPT_INT, OPT(gen_steps), 0, 5, 0, 1, 1000, NULL},
    // docs/method.md says [0.2, 0.6]; measured on the synthetic benchmark, a
    // denoiser trained alongside the backbone sends features generated from
    // t >= 200 four times further from their source than the class's own
    // spread (frozen-head accuracy 26% vs 61% real), while [0.05, 0.2] keeps
    // them near their class (docs/results.md)
    {"cocodiff.t_gen", COCODIFF_OPT_FLOAT2, OPT(t_gen_lo), OPT(t_gen_hi), 0.05, 0.2, 0, 1, NULL},
    {"cocodiff.cfg_scale", COCODIFF_OPT_FLOAT, OPT(guidance_scale), 0, 1, 0, 0, 1e6, NULL},
    {"cocodiff.clip_x0", COCODIFF_OPT_BOOL, OPT(clip_x0), 0, 1, 0, 0, 1, NULL},
    {"cocodiff.gen_residual", COCODIFF_OPT_BOOL, OPT(gen_residual), 0, 1, 0, 0, 1, NULL},
    {"cocodiff.cond_drop", COCODIFF_OPT_FLOAT, OPT(cond_drop), 0, 0.1, 0, 0, 1, NULL},
    {"cocodiff.l_diff", COCODIFF_OPT_FLOAT, OPT(l_diff), 0, 1, 0, 0, 1e6, NULL},
    {"cocodiff.l_rec", COCODIFF_OPT_FLOAT, OPT(l_rec), 0, 1, 0, 0, 1e6, NULL},
    // docs/method.md: 0.5 and 0.5. Measured on the synthetic benchmark (3 seeds
    // each, paired with the backbone's runs of the same seed): 0.5 cost 1.9
    // points of top-1, 0.1 gained 1.7 (docs/results.md)
    {"cocodiff.l_gen", COCODIFF_OPT_FLOAT, OPT(l_gen), 0, 0.1, 0, 0, 1e6, NULL},
    {"cocodiff.l_coarse", COCODIFF_OPT_FLOAT, OPT(l_coarse), 0, 0.1, 0, 0, 1e6, NULL},
    {"cocodiff.l_fine", COCODIFF_OPT_FLOAT, OPT(l_fine), 0, 0, 0, 0, 1e6, NULL},
    {"cocodiff.latent_dim", COCODIFF_OPT_INT, OPT(d), 0, 128, 0, 4, 1 << 16, NULL},
    {"cocodiff.heads", COCODIFF_OPT_INT, OPT(heads), 0, 4, 0, 1, 1 << 16, NULL},
    {"cocodiff.blocks", COCODIFF_OPT_INT, OPT(blocks), 0, 2, 0, 0, COCODIFF_MAX_BLOCKS, NULL},
    {"cocodiff.schedule", COCODIFF_OPT_CHOICE, OPT(schedule), 0, COCODIFF_BETA_LINEAR, 0, 0, 0, "linear|cosine"},
    // what makes the condition carry (issue 16; docs/results.md, "What was tried")
    {"cocodiff.prediction", COCODIFF_OPT_CHOICE, OPT(prediction), 0, COCODIFF_PRED_EPS, 0, 0, 0, "eps|x0|v"},
    {"cocodiff.diff_repeats", COCODIFF_OPT_INT, OPT(diff_repeats), 0, 1, 0, 1, 64, NULL},
    {"cocodiff.text_type_embed", COCODIFF_OPT_BOOL, OPT(text_type_embed), 0, 0, 0, 0, 1, NULL},
    {"cocodiff.part_text_inject", COCODIFF_OPT_BOOL, OPT(part_text_inject), 0, 0, 0, 0, 1, NULL},
    {"cocodiff.module_optimizer", COCODIFF_OPT_CHOICE, OPT(optimizer), 0, 0, 0, 0, 0, "sgd|adamw"},
    {"cocodiff.module_lr", COCODIFF_OPT_FLOAT, OPT(lr), 0, 0, 0, 0, 1e3, NULL},
    {"cocodiff.module_weight_decay", COCODIFF_OPT_FLOAT, OPT(weight_decay), 0, 0.01, 0, 0, 1e3, NULL},
    {"cocodiff.module_lr_decay", COCODIFF_OPT_BOOL, OPT(lr_decay), 0, 1, 0, 0, 1, NULL},
    // more denoiser training per backbone step (issue 16; docs/results.md, "What was tried" I)
    {"cocodiff.replay", COCODIFF_OPT_INT, OPT(replay), 0, 0, 0, 0, 1 << 20, NULL},
    {"cocodiff.replay_steps", COCODIFF_OPT_INT, OPT(replay_steps), 0, 0, 0, 0, 64, NULL},
    {"cocodiff.replay_batch", COCODIFF_OPT_INT, OPT(replay_batch), 0, 0, 0, 0, 1 << 16, NULL},
    {"cocodiff.replay_final", COCODIFF_OPT_INT, OPT(replay_final), 0, 0, 0, 0, 1 << 24, NULL},
    // a module trained alongside the backbone stays behind a fresh one on the
    // same final features (docs/results.md, "What was tried" I and J)
    {"cocodiff.refresh", COCODIFF_OPT_INT, OPT(refresh), 0, 0, 0, 0, 1 << 24, NULL},
    {"cocodiff.ema", COCODIFF_OPT_FLOAT, OPT(ema), 0, 0, 0, 0, 0.99999, NULL},
    {"cocodiff.t_power", COCODIFF_OPT_FLOAT, OPT(t_power), 0, 1, 0, 0.1, 10, NULL},
    // controls (section 3 of issue 16): the generated feature replaced by
    // noise of its size; the class texts shuffled or random
    {"cocodiff.gen_noise", COCODIFF_OPT_BOOL, OPT(gen_noise), 0, 0, 0, 0, 1, NULL},
    {"cocodiff.text_control", COCODIFF_OPT_CHOICE, OPT(text_control), 0, 0, 0, 0, 0, "none|shuffled|random"},
};
#define NOPTIONS ((int)(sizeof options / sizeof options[0]))

int cocodiff_num_options(void) { return NOPTIONS; }
const CocodiffOption *cocodiff_option(int i) { return i >= 0 && i < NOPTIONS ? &options[i] : NULL; }

const CocodiffOption *cocodiff_option_find(const char *key) {
    for (int i = 0; i < NOPTIONS; i++)
        if (!strcmp(options[i].key, key)) return &options[i];
    return NULL;
}

const char *cocodiff_choice_name(const char *choices, int i, char *buf, size_t len) {
    const char *p = choices;
    for (int k = 0; p && k < i; k++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
    if (!p || i < 0) return "?";
    snprintf(buf, len, "%.*s", (int)strcspn(p, "|"), p);
    return buf;
}

static int *int_at(CocodiffConfig *c, size_t off) { return (int *)((char *)c + off); }
static float *float_at(CocodiffConfig *c, size_t off) { return (float *)((char *)c + off); }

void cocodiff_config_default(CocodiffConfig *c) {
    memset(c, 0, sizeof *c);
    c->mlp_ratio = 4;
    c->pos_embed = 1;
    c->T_diff = 1000;
    c->beta_start = 1e-4f;
    c->beta_end = 0.02f;
    c->logit_scale_init = (float)log(1.0 / 0.07);
    c->logit_scale_max = 100.0f;
    for (int i = 0; i < NOPTIONS; i++) {
        const CocodiffOption *o = &options[i];
        if (o->type == COCODIFF_OPT_FLOAT || o->type == COCODIFF_OPT_FLOAT2) {
            *float_at(c, o->off) = (float)o->def;
            if (o->type == COCODIFF_OPT_FLOAT2) *float_at(c, o->off2) = (float)o->def2;
        } else {
            *int_at(c, o->off) = (int)o->def;
        }
    }
}

int cocodiff_options_check(const CocodiffConfig *cc, char *why, size_t whylen) {
    CocodiffConfig *c = (CocodiffConfig *)cc;   // read only
    for (int i = 0; i < NOPTIONS; i++) {
        const CocodiffOption *o = &options[i];
        if (o->type == COCODIFF_OPT_INT) {
            int v = *int_at(c, o->off);
            if (v < o->lo || v > o->hi)
                return cd_why(why, whylen, CD_EARG, "%s is %d; it must be in [%d, %d]", o->key, v, (int)o->lo, (int)o->hi);
        } else if (o->type == COCODIFF_OPT_FLOAT) {
            double v = *float_at(c, o->off);
            if (!(v >= o->lo && v <= o->hi))
                return cd_why(why, whylen, CD_EARG, "%s is %g; it must be in [%g, %g]", o->key, v, o->lo, o->hi);
        } else if (o->type == COCODIFF_OPT_FLOAT2) {
            double a = *float_at(c, o->off), b = *float_at(c, o->off2);
            if (!(a >= o->lo && a <= b && b <= o->hi))
                return cd_why(why, whylen, CD_EARG, "%s must be [lo, hi] with %g <= lo <= hi <= %g (fractions of the "
                              "diffusion steps)", o->key, o->lo, o->hi);
        }
    }
    if (c->d % c->heads)
        return cd_why(why, whylen, CD_EARG, "cocodiff.latent_dim %d is not divisible by cocodiff.heads %d", c->d, c->heads);
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Statistics

#define LOSS(f) offsetof(CocodiffLosses, f)

static const CocodiffStat stats[] = {
    {"diff", LOSS(diff), 0, 1},
    {"rec", LOSS(rec), 0, 2},
    {"coarse", LOSS(coarse), 0, 4},
    {"fine", LOSS(fine), 0, 0},
    {"total", LOSS(total), 0, 0},
    {"gen", LOSS(gen), 1, 3},
    {"gen_top1", LOSS(gen_acc), 1, 0},
};

int cocodiff_num_stats(void) { return (int)(sizeof stats / sizeof stats[0]); }
const CocodiffStat *cocodiff_stat(int i) { return i >= 0 && i < cocodiff_num_stats() ? &stats[i] : NULL; }
