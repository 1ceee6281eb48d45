// cdreplay.h - a replay buffer of the CoCoDiff module's inputs
// (cocodiff.replay): the detached part tokens and labels of the trainer's
// most recent samples, so that the denoiser can take more optimizer steps
// per backbone step, on more distinct samples than one batch of the
// backbone's (the module's budget in the trainer was its limit:
// docs/results.md, "What was tried" G and I).
//
// A ring of `cap` samples in the order the trainer's global batches give
// them (sample position within a step, then step), so its content after s
// steps depends on the data and the seed only, never on the number of
// ranks. Slot of the j-th sample ever added: j mod cap. It is checkpointed
// as /cocodiff_replay/{tokens, labels}; the count of samples added is the
// trainer's steps x samples a step, so a resumed run rebuilds it exactly.
//
//   CdReplay r;
//   cdreplay_init(&r, cap, C);
//   per step: cdreplay_add(&r, tokens, labels, n);  (all of the step's samples, in order)
//             cdreplay_draw(&r, seed, step, k, B, slots); ... cdreplay_tokens(&r, slot)
//   cdreplay_free(&r);
//
// defines: CdReplay, cdreplay_*
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "h5io_ckpt.h"

typedef struct CdReplay {
    int cap, C;          // samples; token width (7 tokens a sample)
    int64_t added;       // samples added since the run began
    float *tokens;       // (cap, 7, C)
    float *labels;       // (cap) class labels, as floats (exact below 2^24) for the checkpoint
    H5Tensor views[2];   // the checkpoint's views of tokens and labels
} CdReplay;

#define CDREPLAY_GROUP "cocodiff_replay"

// CD_OK or CD_ENOMEM (cap >= 1, C >= 1).
int cdreplay_init(CdReplay *r, int cap, int C);
void cdreplay_free(CdReplay *r);   // a zeroed or freed one is fine
// Appends n samples: tokens (n, 7, C), labels (n).
void cdreplay_add(CdReplay *r, const float *tokens, const int32_t *labels, int n);
// Samples held: min(added, cap).
int cdreplay_filled(const CdReplay *r);
// B slots drawn uniformly (with replacement) from those held, keyed by
// (seed, step, k): replay batch k of backbone step `step`. None held: no-op.
void cdreplay_draw(const CdReplay *r, uint64_t seed, int64_t step, int k, int B, int *slots);
const float *cdreplay_tokens(const CdReplay *r, int slot);   // (7, C)
int32_t cdreplay_label(const CdReplay *r, int slot);
// The checkpoint group (CDREPLAY_GROUP: tokens, labels).
H5TensorGroup cdreplay_group(CdReplay *r);
// From a checkpoint's group (h: its n tensors) after `added` samples. CD_OK,
// or CD_EFORMAT (missing or of another size) with the reason in why.
int cdreplay_restore(CdReplay *r, const H5Tensor *h, int n, int64_t added, const char *path, char *why,
                     size_t whylen);
