// cdreplay.c - the replay buffer of the CoCoDiff module's inputs (see
// cdreplay.h).
#include "cdreplay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "crng.h"
#include "status.h"

#define SALT 0x7265706c61792d31ULL   // "replay-1"

int cdreplay_init(CdReplay *r, int cap, int C) {
    memset(r, 0, sizeof *r);
    r->cap = cap;
    r->C = C;
    size_t tok = (size_t)COCODIFF_TOKENS * C;
    r->tokens = cd_calloc((size_t)cap * tok, sizeof(float));
    r->labels = cd_calloc((size_t)cap, sizeof(float));
    if (!r->tokens || !r->labels) {
        cdreplay_free(r);
        return CD_ENOMEM;
    }
    H5Tensor *v = r->views;
    snprintf(v[0].name, sizeof v[0].name, "tokens");
    v[0].ndim = 3;
    v[0].shape[0] = cap;
    v[0].shape[1] = COCODIFF_TOKENS;
    v[0].shape[2] = C;
    v[0].numel = (size_t)cap * tok;
    v[0].data = r->tokens;
    snprintf(v[1].name, sizeof v[1].name, "labels");
    v[1].ndim = 1;
    v[1].shape[0] = cap;
    v[1].numel = (size_t)cap;
    v[1].data = r->labels;
    return CD_OK;
}

void cdreplay_free(CdReplay *r) {
    free(r->tokens);
    free(r->labels);
    memset(r, 0, sizeof *r);
}

void cdreplay_add(CdReplay *r, const float *tokens, const int32_t *labels, int n) {
    size_t tok = (size_t)COCODIFF_TOKENS * r->C;
    for (int i = 0; i < n; i++, r->added++) {
        int slot = (int)(r->added % r->cap);
        memcpy(r->tokens + (size_t)slot * tok, tokens + (size_t)i * tok, tok * sizeof(float));
        r->labels[slot] = (float)labels[i];
    }
}

int cdreplay_filled(const CdReplay *r) { return r->added < r->cap ? (int)r->added : r->cap; }

void cdreplay_draw(const CdReplay *r, uint64_t seed, int64_t step, int k, int B, int *slots) {
    const int n = cdreplay_filled(r);
    if (n <= 0) return;
    Crng g = crng_make(SALT, seed, step, k, 1);
    for (int i = 0; i < B; i++) slots[i] = (int)crng_below(&g, n);
}

const float *cdreplay_tokens(const CdReplay *r, int slot) {
    return r->tokens + (size_t)slot * COCODIFF_TOKENS * r->C;
}
int32_t cdreplay_label(const CdReplay *r, int slot) { return (int32_t)r->labels[slot]; }

H5TensorGroup cdreplay_group(CdReplay *r) { return (H5TensorGroup){CDREPLAY_GROUP, r->views, 2}; }

int cdreplay_restore(CdReplay *r, const H5Tensor *h, int n, int64_t added, const char *path, char *why,
                     size_t whylen) {
    for (int i = 0; i < 2; i++) {
        const H5Tensor *v = &r->views[i], *s = h ? h5io_tensor_find(h, n, v->name) : NULL;
        if (!s || s->dtype || s->numel != v->numel)
            return cd_why(why, whylen, CD_EFORMAT, "%s: /%s/%s is missing or of another size (HINT: written with "
                          "another cocodiff.replay, or without it? resume with the config it was written with)",
                          path, CDREPLAY_GROUP, v->name);
        memcpy(v->data, s->data, v->numel * sizeof(float));
    }
    r->added = added;
    return CD_OK;
}
