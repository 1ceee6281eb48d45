// cocodiff.h - the CoCoDiff module (docs/method.md, "CoCoDiff module"): a
// training-only auxiliary that turns the backbone's last features into seven
// latent tokens, trains a text-conditioned latent diffusion model on them,
// generates diversified features by partial noising + DDIM, and feeds the
// generated global feature back through the backbone's FC head (L_gen) and a
// coarse-text contrastive loss. At inference nothing of it runs.
//
// Pieces (one file each):
//   src/model/cocodiff_parts.c     body-part joint sets (data files) and the pooling
//                            of the last feature map into 7 tokens
//   src/model/cocodiff_schedule.c  DDPM noise schedules and the DDIM (eta 0) sampler
//   src/model/cocodiff_denoiser.c  the eps-prediction transformer (cocodiff_denoiser.h)
//   src/model/cocodiff.c           parameters, the training step, generation
//   src/model/cocodiff_options.c   the options (defaults, config keys, ranges) and
//                                  the statistics a training step reports
//
// Token order everywhere: 0 = global h_0, then the six parts in
// cocodiff_part_names order (head, hand, arm, hip, leg, foot), which is also
// the order of the text embeddings' /fine (K, 6, Dt).
//
// Conventions: those of layers.h / tlayers.h. Gradients ACCUMULATE (+=) into
// the module's grads, the head's grads and dh_parts; the trainer zeroes them
// once per step (cocodiff_zero_grad for the module's own).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define COCODIFF_PARTS 6
#define COCODIFF_TOKENS 7          // h_0 + six parts; also the number of text tokens
#define COCODIFF_MAX_BLOCKS 16
#define COCODIFF_PART_MAX_JOINTS 64

// ---------------------------------------------------------------------------
// Body parts (src/model/cocodiff_parts.c)
//
// A part file (datasets/parts/*.tsv) has one line per part: the part name,
// then its 0-based joint ids, fields separated by tabs or spaces; '#' starts a
// comment line; blank lines are ignored. All six parts must appear, once
// each, every part non-empty, every id in [0, V), no id twice in a part (a
// joint may belong to several parts).

extern const char *const cocodiff_part_names[COCODIFF_PARTS];   // head hand arm hip leg foot

typedef struct PartSets {
    int V;                                             // joints of the layout
    int n[COCODIFF_PARTS];                             // joints per part
    int joint[COCODIFF_PARTS][COCODIFF_PART_MAX_JOINTS];
} PartSets;

// Parses a part file's text. CD_OK, or CD_EFORMAT with the reason
// ("line 3: joint 25 >= V = 25", "part 'foot' is missing", ...) in why.
int part_sets_parse(PartSets *p, const char *text, int V, char *why, size_t whylen);
// Reads and parses path (a relative one not found from the current folder
// is looked up where the programs' shipped data is: datadir.h); on failure
// reports "path: reason" through CD_ERR and returns CD_EIO / CD_EFORMAT / CD_EARG.
int part_sets_load(const char *path, int V, PartSets *p);

// out: (B, 7, C): token 0 = mean over (M, T, all V) of feat, token 1 + p =
// mean over (M, T, joints of part p); feat: (B*M, C, T, V), the last unit's
// output (sample-major, persons inner, as CTR-GCN's N*M). Sums in double.
void cocodiff_pool_parts(float *out, const float *feat, int B, int M, int C, int T, int V,
                         const PartSets *p);
// dfeat: (B*M, C, T, V) += the gradient of out given dout: (B, 7, C).
void cocodiff_pool_parts_backward(float *dfeat, const float *dout, int B, int M, int C, int T,
                                  int V, const PartSets *p);

// ---------------------------------------------------------------------------
// Noise schedule and DDIM (src/model/cocodiff_schedule.c)

typedef enum CocodiffBetaSchedule {
    COCODIFF_BETA_LINEAR = 0,   // beta_t = linspace(beta_start, beta_end, T) (DDPM)
    COCODIFF_BETA_COSINE = 1,   // Nichol & Dhariwal, s = 0.008, beta <= 0.999
} CocodiffBetaSchedule;

typedef struct CocodiffSchedule {
    int T;                      // diffusion steps; t in [0, T)
    double *alphas_cumprod;     // (T): prod_{s <= t} (1 - beta_s), in double
} CocodiffSchedule;

int cocodiff_schedule_init(CocodiffSchedule *s, CocodiffBetaSchedule kind, int T,
                           double beta_start, double beta_end);
void cocodiff_schedule_free(CocodiffSchedule *s);

// q(z_t | z_0): zt = sqrt(abar_t) z0 + sqrt(1 - abar_t) eps, per sample.
// zt, z0, eps: (B, n); t: (B). zt may alias z0.
void cocodiff_q_sample(const CocodiffSchedule *s, float *zt, const float *z0, const float *eps,
                       const int32_t *t, int B, size_t n);

// The noise predictor DDIM calls: eps (B, n) = eps_theta(z (B, n), t (B)).
typedef void (*CocodiffEpsFn)(void *ctx, float *eps, const float *z, const int32_t *t, int B);

// Deterministic DDIM (eta = 0) from z = z_{t_start[b]} down to z_0 in S model
// calls per sample: the timesteps are t_k = floor(t_start k / S) for
// k = S .. 1, each step goes to t_{k-1}, and the last one (k = 1) to the
// clean end (abar = 1, diffusers' set_alpha_to_one). Per element, in double:
//   z0_hat = (z - sqrt(1 - abar_t) eps) / sqrt(abar_t)
//   z      = sqrt(abar_prev) z0_hat + sqrt(1 - abar_prev) eps
// z: (B, n) in/out; t_start: (B) in [0, T); eps: (B, n) scratch; tbuf: (B)
// scratch. With fn returning the noise that made z from z_0, z ends at z_0.
// x0_bound: (B) or NULL. When given, every z0_hat element of sample b is
// clamped to [-x0_bound[b], x0_bound[b]] and eps recomputed from the clamped
// z0_hat (eps = (z - sqrt(abar_t) z0_hat) / sqrt(1 - abar_t)), the "clip
// x0" of DDPM/diffusers: an imperfect denoiser at large t otherwise divides
// its error by sqrt(abar_t) (0.16 at t = 600) and lands far off the latent
// manifold.
void cocodiff_ddim(const CocodiffSchedule *s, float *z, const int32_t *t_start, int B, size_t n,
                   int S, CocodiffEpsFn fn, void *ctx, float *eps, int32_t *tbuf,
                   const float *x0_bound);

// ---------------------------------------------------------------------------
// The module

typedef enum CocodiffGuidance {   // which text tokens condition the denoiser
    COCODIFF_GUIDE_NONE = 0,      // all 7 text tokens zero
    COCODIFF_GUIDE_COARSE = 1,    // only the coarse token (the 6 fine ones zero)
    COCODIFF_GUIDE_FINE = 2,      // only the 6 fine tokens (the coarse one zero)
    COCODIFF_GUIDE_BOTH = 3,      // all 7 (default)
} CocodiffGuidance;

typedef enum CocodiffPrediction {   // what the denoiser regresses (L_diff's target)
    COCODIFF_PRED_EPS = 0,        // the noise (DDPM; docs/method.md)
    COCODIFF_PRED_X0 = 1,         // the clean latent z_0
    COCODIFF_PRED_V = 2,          // v = sqrt(abar) eps - sqrt(1 - abar) z_0 (Salimans & Ho 2022)
} CocodiffPrediction;

typedef struct CocodiffConfig {
    // architecture
    int d;                  // latent width (128)
    int heads;              // attention heads (4); d % heads == 0
    int blocks;             // transformer blocks (2), <= COCODIFF_MAX_BLOCKS
    int mlp_ratio;          // MLP hidden = mlp_ratio * d (4)
    int pos_embed;          // learnable token embedding (7, d) added to the latent
                            // tokens (1): without it the denoiser cannot tell
                            // which token is which part (attention is
                            // permutation-equivariant); 0 = docs/method.md literally
    int text_type_embed;    // learnable type embedding (7, d) added to the text
                            // tokens (which part's sentence, or the coarse
                            // one), present or dropped (0)
    int part_text_inject;   // each latent token reads its own text token first:
                            // the part's projected sentence (the coarse one for
                            // h_0) is added to it before the blocks (0)
    // diffusion
    int T_diff;             // 1000
    CocodiffBetaSchedule schedule;   // linear
    float beta_start, beta_end;      // 1e-4, 0.02 (linear only)
    CocodiffGuidance guidance;       // both
    CocodiffPrediction prediction;   // eps
    float cond_drop;        // probability a sample's whole condition is zeroed (0.1)
    float t_power;          // L_diff's t: T (1 - (1 - u)^t_power), u uniform (1: uniform
                            // t; > 1: weighted toward large t)
    int diff_repeats;       // L_diff passes over the batch a step, each with its
                            // own t, noise and dropout (1): more denoiser
                            // training per backbone step
    // generation
    int generation;         // master switch (1); the per-step `generate` flag is
                            // the trainer's warm-up gate
    int gen_start_epoch;    // first 0-based epoch with generation (-1: the
                            // trainer's warm_up_epoch)
    int gen_steps;          // S DDIM steps (5)
    float t_gen_lo, t_gen_hi;   // t_gen uniform integer in [round(lo T), round(hi T)] (0.05, 0.2;
                                // docs/method.md: 0.2, 0.6)
    float guidance_scale;   // classifier-free guidance w (1: plain conditional)
    int clip_x0;            // DDIM clamps z0_hat to the real latent's range,
                            // max |z_0| of the same sample (1)
    int gen_noise;          // control (0): L_gen and the coarse CE_gen read h_0 + noise
                            // of the generated displacement's size ||h_hat_0 - h_0||
                            // in a random direction instead of h_hat_0
    int gen_residual;       // h_hat = h + D(z_hat_0) - D(z_0): the decoded latent
                            // displacement moves the real feature (1); 0: h_hat =
                            // D(z_hat_0) (docs/method.md literally), which carries the
                            // autoencoder's reconstruction error into every
                            // generated feature
    // loss weights
    float l_diff, l_rec, l_gen, l_coarse, l_fine;   // 1, 1, 0.1, 0.1, 0 (0 = off;
                            // docs/method.md: l_gen, l_coarse 0.5)
    float logit_scale_init; // log(1 / 0.07)
    float logit_scale_max;  // exp(logit_scale) is clamped to this (100)
    // ablation: let the loss reach the backbone (gradient into dh_parts)
    int diff_to_backbone;   // L_diff through z_0 = E(h) (0)
    int rec_to_backbone;    // L_rec through h (0)
    // how the trainer feeds and steps the module (cdtrain.h, cocodiff-frozen)
    int text_control;       // class_text.h ClassTextControl: 0 the texts as given;
                            // 1 shuffled among the classes, 2 random vectors of
                            // the same norms (controls)
    int optimizer;          // 0 SGD (the backbone's settings), 1 AdamW (cdoptim.h)
    float lr;               // the module's lr at the backbone's base lr, following
                            // its schedule (0: the backbone's own)
    float weight_decay;     // AdamW's decoupled weight decay (0.01)
    int lr_decay;           // the module's lr follows the backbone's step decay too (1);
                            // 0: only its warm-up, so the denoiser keeps learning the
                            // features as they settle in the last epochs
    int replay;             // trainer only (cdreplay.h): a buffer of this many recent
                            // samples' detached part tokens (0: none)
    int replay_steps;       // trainer only: extra module optimizer steps per backbone
                            // step, each on replay_batch samples drawn from the buffer
                            // (L_rec, L_diff, coarse on the real tokens; no generation,
                            // nothing reaches the backbone or its head) (0)
    int replay_batch;       // samples of a replay step (0: the backbone's step's)
    int replay_final;       // trainer only: module steps on the buffer alone after the
                            // last backbone step (0)
    int refresh;            // trainer only (cdtrain.h): after training, a FRESH module
                            // (the run's initial weights, a new optimizer, no EMA)
                            // trains this many steps on the final backbone's training
                            // tokens and is probed beside the co-trained one (0: off)
    float ema;              // decay of a moving average of the weights that generation
                            // reads (denoiser and text projection; 0: off, the live ones)
} CocodiffConfig;

// The defaults (the options' from their table, below; the rest fixed).
void cocodiff_config_default(CocodiffConfig *c);

// ---------------------------------------------------------------------------
// The options (src/model/cocodiff_options.c): one row per field a config may
// set, read by the trainer's config (config.h) straight into a
// CocodiffConfig under the key `cocodiff.<name>`, with its default and range.

typedef enum CocodiffOptType {
    COCODIFF_OPT_INT,      // int
    COCODIFF_OPT_BOOL,     // int 0/1
    COCODIFF_OPT_FLOAT,    // float
    COCODIFF_OPT_FLOAT2,   // two floats [lo, hi] (off, off2), lo <= hi
    COCODIFF_OPT_CHOICE,   // int = the index of the name in `choices` (an enum)
} CocodiffOptType;

typedef struct CocodiffOption {
    const char *key;        // "cocodiff.l_diff"
    CocodiffOptType type;
    size_t off, off2;       // offsetof(CocodiffConfig, ...)
    double def, def2;       // default (def2: FLOAT2's second value)
    double lo, hi;          // allowed values (INT, FLOAT, FLOAT2)
    const char *choices;    // CHOICE: "none|coarse|fine|both"
} CocodiffOption;

int cocodiff_num_options(void);
const CocodiffOption *cocodiff_option(int i);
const CocodiffOption *cocodiff_option_find(const char *key);   // NULL: none
// Name i of a CHOICE's "a|b|c" into buf (len bytes); "?" when there is none.
const char *cocodiff_choice_name(const char *choices, int i, char *buf, size_t len);
// Every option within its range, latent width divisible by heads. CD_OK, or
// CD_EARG with "cocodiff.<name> is ...; it must be ..." in why.
int cocodiff_options_check(const CocodiffConfig *c, char *why, size_t whylen);

typedef struct CocodiffTensor {
    char name[96];          // "cocodiff.enc.weight", "cocodiff.blocks.0.attn1.wq", ...
    int ndim;               // 0 for the scalar logit_scale
    int64_t shape[4];
    size_t numel;
    size_t offset;          // into cocodiff_params / cocodiff_grads
    int decay;              // 1 for weight matrices; 0 for biases, norms,
                            // pos_embed, logit_scale (for a trainer that
                            // wants to exempt them from weight decay)
} CocodiffTensor;

typedef struct Cocodiff Cocodiff;

// C: backbone feature width (256); Dt: text embedding width; K: classes.
int cocodiff_create(Cocodiff **m, const CocodiffConfig *cfg, int C, int Dt, int K);
void cocodiff_free(Cocodiff *m);   // NULL is fine
const CocodiffConfig *cocodiff_config(const Cocodiff *m);
// Initialises every parameter from seed (PyTorch's defaults: Linear
// U(+-1/sqrt(in)) weights and biases, attention projections xavier-uniform
// with zero biases, LayerNorm 1/0, pos_embed N(0, 0.02), logit_scale init).
void cocodiff_init(Cocodiff *m, uint64_t seed);

int cocodiff_num_tensors(const Cocodiff *m);
const CocodiffTensor *cocodiff_tensor(const Cocodiff *m, int i);
const CocodiffTensor *cocodiff_find(const Cocodiff *m, const char *name);
size_t cocodiff_num_params(const Cocodiff *m);
float *cocodiff_params(Cocodiff *m);   // (num_params), one contiguous span
float *cocodiff_grads(Cocodiff *m);    // same layout
void cocodiff_zero_grad(Cocodiff *m);
// cocodiff.ema: the weights' moving average, same layout (NULL when off),
// which generation reads, and its update after optimizer step `steps`
// (decay min(ema, (1 + steps) / (10 + steps))). No-op when off.
float *cocodiff_ema_params(Cocodiff *m);
void cocodiff_ema_update(Cocodiff *m, long long steps);

// The class texts (copied): coarse (K, Dt), fine (K, 6, Dt) as H5Embed holds
// them, row k = the class whose 0-based training label is k (reorder by
// /class_id if the file's rows are not in label order). Text tokens use them as given; the contrastive losses L2-normalise
// them. Required before cocodiff_step / cocodiff_generate.
int cocodiff_set_text(Cocodiff *m, const float *coarse, const float *fine);
// The module's sizes (C, Dt, K; any pointer may be NULL) and its class texts
// as set (coarse (K, Dt), fine (K, 6, Dt); NULL before cocodiff_set_text).
void cocodiff_dims(const Cocodiff *m, int *C, int *Dt, int *K);
void cocodiff_text(const Cocodiff *m, const float **coarse, const float **fine);

// The backbone's FC head, for L_gen: logits = h w^T + b. Its gradient
// accumulates into gw, gb (the backbone's grads of "fc.weight", "fc.bias").
typedef struct CocodiffHead {
    const float *w, *b;     // (K, C), (K)
    float *gw, *gb;         // (K, C), (K)
} CocodiffHead;

typedef struct CocodiffStepCtl {
    uint64_t seed;          // run seed
    int64_t step;           // global optimisation step
    int64_t sample0;        // global index of this rank's first sample: sample b
                            // draws from (seed, step, sample0 + b), so the
                            // draws do not depend on the number of ranks
    int generate;           // 1 after the warm-up (and cfg.generation on)
    float grad_scale;       // every gradient written is multiplied by this
                            // (the trainer's n_local / global_batch; 1 alone)
} CocodiffStepCtl;

typedef struct CocodiffLosses {   // local-batch means, unscaled
    double diff, rec, gen;
    double coarse;          // coarse_real + coarse_gen
    double coarse_real, coarse_gen;
    double fine;            // mean over the six parts (0 when l_fine = 0)
    double total;           // l_diff diff + l_rec rec + l_gen gen + l_coarse coarse + l_fine fine
    double gen_acc;         // fraction of generated h_hat_0 the head classifies right
    double logit_scale;     // exp(logit_scale) as used
    int generated;          // 1 when generation ran this step
} CocodiffLosses;

// The statistics a training step reports (CocodiffLosses fields by name), in
// the order of the trainer's metrics file (cocodiff_<name>).
typedef struct CocodiffStat {
    const char *name;       // "diff"
    size_t off;             // offsetof(CocodiffLosses, a double)
    int generated;          // 1: a mean over the generated samples (when generated)
    int progress;           // position on the progress line and in --log-losses
                            // (1, 2, ...); 0: the metrics file only
} CocodiffStat;
int cocodiff_num_stats(void);
const CocodiffStat *cocodiff_stat(int i);

// One training step on B samples. h_parts: (B, 7, C) from cocodiff_pool_parts
// (token 0 = the backbone's pooled feature h_0); labels: (B) in [0, K).
// Losses (local-batch means):
//   L_rec    = mean over (B, 7, C) of (D(E(h)) - h)^2
//   L_diff   = mean over (B, 7, d) of (eps - eps_hat(z_t, t, c))^2, t uniform
//              in [0, T_diff), z_t = sqrt(abar) z_0 + sqrt(1 - abar) eps
//   L_gen    = CE(fc(h_hat_0), y), h_hat_0 = D(z_hat_0[token 0])
//   L_coarse = CE_real + CE_gen over the K classes, logits
//              min(exp(logit_scale), max) cos(P h, coarse_k); CE_gen only
//              when generation ran
//   L_fine   = mean over the six parts p of CE over K of the part-p logits
//              cos(P h_p, fine_{k,p}) (same scale)
//   total    = l_diff L_diff + l_rec L_rec + l_gen L_gen + l_coarse L_coarse
//              + l_fine L_fine (the backbone's own CE is the trainer's)
// Draws per sample: t, eps, condition dropout (p = cond_drop: all 7 text
// tokens zero), and with generation t_gen and its noise.
// Gradient paths (docs/method.md): L_diff trains the denoiser, time MLP, pos_embed
// and text projection on a detached z_0; L_rec trains E and D on detached h;
// L_gen trains the head and D; L_coarse trains P, logit_scale, D (through
// h_hat_0) and, on the real h_0, the backbone; L_fine trains P, logit_scale
// and the backbone through h_1..h_6. Generation itself carries no gradient.
// dh_parts: (B, 7, C) += dL/dh (scaled), or NULL. By default only token 0 is
// non-zero (the coarse contrastive loss); tokens 1..6 too with l_fine > 0,
// rec_to_backbone or diff_to_backbone (see cocodiff_part_grads).
// Returns CD_OK or CD_EARG / CD_ENOMEM.
int cocodiff_step(Cocodiff *m, const float *h_parts, const int32_t *labels, int B,
                  const CocodiffHead *head, float *dh_parts, const CocodiffStepCtl *ctl,
                  CocodiffLosses *out);
// 1 when cocodiff_step can write gradient into tokens 1..6 of dh_parts
// (so the trainer needs cocodiff_pool_parts_backward, not just dh_0).
int cocodiff_part_grads(const Cocodiff *m);

// Generation alone, without gradient (for the diversity measurement): the
// same draws as cocodiff_step with the same ctl. h_hat: (B, 7, C) =
// D(z_hat_0); z_hat0: (B, 7, d) or NULL; t_gen: (B) or NULL.
int cocodiff_generate(Cocodiff *m, const float *h_parts, const int32_t *labels, int B,
                      const CocodiffStepCtl *ctl, float *h_hat, float *z_hat0, int32_t *t_gen);

// The steps training's generation draws t_gen from, uniformly: [lo, hi]
// (cocodiff.t_gen's fractions of T_diff, rounded, within [0, T_diff)).
void cocodiff_t_gen_steps(const Cocodiff *m, int *lo, int *hi);

// Generation for the conditioning probe (conditioning.h): the choices the
// measurement varies. text: (B) the class whose text conditions sample b
// (not necessarily its own); t_start: the step to noise to (-1: t_gen drawn
// from the configured range, as in training); from_noise: start from pure
// noise at t_start (z_t = sqrt(1 - abar) eps; h_parts unused, may be NULL;
// no clip_x0 bound, as there is no real latent; h_hat = D(z_hat_0) even with
// gen_residual); coarse (K, Dt), fine (K, 6, Dt): text tables to use instead
// of the module's (NULL: the module's); guidance: the classifier-free
// guidance scale w of this generation (0: the module's cocodiff.cfg_scale),
// so a finished module can be measured at other scales.
typedef struct CocodiffProbe {
    const int32_t *text;
    int t_start;
    int from_noise;
    const float *coarse, *fine;
    float guidance;
} CocodiffProbe;
// h_hat: (B, 7, C). The draws are cocodiff_generate's for the same ctl.
// CD_OK, or CD_EARG (a text class outside [0, K), a start step outside
// [0, T_diff), from noise without one) / CD_ENOMEM.
int cocodiff_generate_probe(Cocodiff *m, const float *h_parts, int B, const CocodiffStepCtl *ctl,
                            const CocodiffProbe *p, float *h_hat);

// The diffusion loss (mean (eps - eps_hat)^2) of B samples noised to
// p->t_start under the texts p->text (uncond: no condition, as condition
// dropout), eps keyed like cocodiff_step's by ctl: how much a text helps
// the denoiser at that step. CD_OK or CD_EARG.
int cocodiff_probe_loss(Cocodiff *m, const float *h_parts, int B, const CocodiffStepCtl *ctl,
                        const CocodiffProbe *p, int uncond, double *loss);

// Test hook (gradient checks): compute every DETACHED quantity (z_0 for
// L_diff and generation, the generation itself, the h of L_rec) from these
// parameters (num_params floats) and h_parts instead of the live ones, so a
// finite difference of the loss over the live parameters sees exactly the
// stop-gradient graph. NULL, NULL restores normal operation. Pointers are
// kept, not copied.
void cocodiff_debug_detach_from(Cocodiff *m, const float *params, const float *h_parts);
