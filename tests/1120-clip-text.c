// 1120-clip-text.c - clip_text_forward against the official CLIP encode_text
// (openai/CLIP clip/model.py on a small random model: width 32, 2 layers, 4
// heads, projection 24, vocab 2514; tests/data/clip/features.ref made by
// scripts/ref/make_clip_reference.py from the ids of tokens.json).
// Also: batching invariance, padding independence, bad ids, bad model files,
// and the random constructor.
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "safetensors.h"
#include "status.h"
#include "tap/tap.h"

#define DIR "tests/data/clip"
#define REF_MAGIC 20261125
#define REF_VERSION 1
// Features are O(1); float32 vs PyTorch float32 over 2 layers differ by
// ~1e-6. The brief's bound: 1e-4.
#define ATOL 1e-4
#define RTOL 1e-4

static char why[512];

static float *read_ref(const char *path, int *rows, int *cols) {
    size_t len;
    char *buf = tap_slurp(path, &len);
    if (!buf) return NULL;
    int32_t h[5];
    float *data = NULL;
    if (len >= sizeof h) {
        memcpy(h, buf, sizeof h);
        size_t n = (size_t)h[3] * (size_t)h[4];
        if (h[0] == REF_MAGIC && h[1] == REF_VERSION && h[2] == 2 && len == sizeof h + 4 * n &&
            (data = malloc(4 * n))) {
            memcpy(data, buf + sizeof h, 4 * n);
            *rows = h[3];
            *cols = h[4];
        }
    }
    free(buf);
    return data;
}

// Rewrites the reference model with one tensor changed (or dropped: dtype NULL).
static void write_variant(const SafeTensors *st, const char *path, const char *name,
                          const char *dtype, int ndim, const int64_t *shape) {
    int n = safetensors_count(st), k = 0;
    SafeTensorsEntry *e = calloc((size_t)n, sizeof *e);
    for (int i = 0; i < n; i++) {
        const SafeTensor *t = safetensors_at(st, i);
        if (strcmp(t->name, name) == 0) {
            if (!dtype) continue;
            e[k] = (SafeTensorsEntry){t->name, dtype, ndim, shape, t->data};
        } else {
            e[k] = (SafeTensorsEntry){t->name, t->dtype, t->ndim, t->shape, t->data};
        }
        k++;
    }
    const char *meta[] = {"num_attention_heads", "4", NULL};
    if (safetensors_write(path, k, e, meta)) bail("cannot write %s", path);
    free(e);
}

static void load_fails(const char *path, const char *part, const char *label) {
    ClipText *m = (ClipText *)1;
    int rc = clip_text_load(&m, path, why, sizeof why);
    ok(rc != CD_OK && m == NULL && strstr(why, path) && strstr(why, part), "bad model: %s", label);
    diag("   why: %s", why);
}

int main(void) {
    int n, P;
    float *want = read_ref(DIR "/features.ref", &n, &P);
    json_t *ref = json_load_file(DIR "/tokens.json", 0, NULL);
    if (!want || !ref) skip_all("no reference data: run scripts/ref/make_clip_reference.py");
    json_t *jids = json_object_get(ref, "ids");
    if ((int)json_array_size(jids) != n) bail("tokens.json and features.ref disagree");
    plan(15);

    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n * CLIP_CONTEXT);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < CLIP_CONTEXT; k++)
            ids[i * CLIP_CONTEXT + k] =
                (int32_t)json_integer_value(json_array_get(json_array_get(jids, (size_t)i), (size_t)k));

    ClipText *m;
    if (clip_text_load(&m, DIR "/model.safetensors", why, sizeof why)) bail("load: %s", why);
    const ClipTextConfig *c = clip_text_config(m);
    ok(c->vocab == 2514 && c->ctx == 77 && c->width == 32 && c->layers == 2 && c->heads == 4 &&
       c->mlp == 128 && c->proj == 24 && clip_text_dim(m) == P,
       "config inferred: vocab %d ctx %d width %d layers %d heads %d mlp %d proj %d", c->vocab,
       c->ctx, c->width, c->layers, c->heads, c->mlp, c->proj);

    float *got = malloc(sizeof(float) * (size_t)n * P), *one = malloc(sizeof(float) * (size_t)n * P);
    is_int(CD_OK, clip_text_forward(m, ids, n, got), "forward of %d texts", n);
    is_tensor_close(got, want, (size_t)n * P, ATOL, RTOL, "features vs official encode_text");

    // Batching: each text alone, and the texts in reverse order, give the same rows.
    for (int i = 0; i < n; i++) clip_text_forward(m, ids + i * CLIP_CONTEXT, 1, one + i * P);
    is_tensor_close(one, got, (size_t)n * P, 1e-5, 1e-5, "one text at a time == batched");
    int32_t *rev = malloc(sizeof(int32_t) * (size_t)n * CLIP_CONTEXT);
    for (int i = 0; i < n; i++)
        memcpy(rev + i * CLIP_CONTEXT, ids + (n - 1 - i) * CLIP_CONTEXT, sizeof(int32_t) * CLIP_CONTEXT);
    float *revf = malloc(sizeof(float) * (size_t)n * P);
    clip_text_forward(m, rev, n, revf);
    for (int i = 0; i < n; i++) memcpy(one + i * P, revf + (n - 1 - i) * P, sizeof(float) * (size_t)P);
    is_tensor_close(one, got, (size_t)n * P, 1e-5, 1e-5, "reversed batch == batched");
    // Not bitwise: OpenBLAS takes other kernels for other row counts (~1e-6).
    diag("   batch vs alone bitwise equal: %s",
         memcmp(one, got, sizeof(float) * (size_t)n * P) ? "no" : "yes");

    // Tokens after the EOT do not matter (they are never computed).
    int32_t pad[CLIP_CONTEXT];
    memcpy(pad, ids, sizeof pad);
    for (int k = 0; k < CLIP_CONTEXT; k++)
        if (pad[k] == 0 && k > 0) pad[k] = 1000 + k;
    float fp[64], f0[64];
    clip_text_forward(m, ids, 1, f0);
    clip_text_forward(m, pad, 1, fp);
    is_tensor_equal(fp, f0, (size_t)P, "ids after the EOT are ignored");
    is_int(0, clip_text_forward(m, ids, 0, got), "zero texts is fine");

    pad[3] = 2514;
    is_int(CD_EARG, clip_text_forward(m, pad, 1, fp), "id == vocab rejected");
    pad[3] = -1;
    is_int(CD_EARG, clip_text_forward(m, pad, 1, fp), "negative id rejected");

    // Bad model files, made from the good one.
    SafeTensors *st;
    if (safetensors_open(&st, DIR "/model.safetensors", why, sizeof why)) bail("%s", why);
    char path[4200];
    snprintf(path, sizeof path, "%s/variant.safetensors", tap_tmpdir());
    write_variant(st, path, "text_model.encoder.layers.1.self_attn.v_proj.bias", NULL, 0, NULL);
    load_fails(path, "missing tensor 'text_model.encoder.layers.1.self_attn.v_proj.bias'", "missing tensor");
    int64_t s_fc2[2] = {32, 127};
    write_variant(st, path, "text_model.encoder.layers.0.mlp.fc2.weight", "F32", 2, s_fc2);
    load_fails(path, "'text_model.encoder.layers.0.mlp.fc2.weight' has shape [32, 127], expected [32, 128]",
               "wrong shape");
    int64_t s_ln[1] = {16};
    write_variant(st, path, "text_model.final_layer_norm.bias", "I64", 1, s_ln);
    load_fails(path, "'text_model.final_layer_norm.bias' has dtype I64", "wrong dtype");
    write_variant(st, path, "text_projection.weight", NULL, 0, NULL);
    load_fails(path, "missing tensor 'text_projection.weight'", "no projection");
    safetensors_close(st);
    load_fails(DIR "/vocab.json", "runs beyond the file", "not a safetensors file");

    // The random constructor: deterministic by seed, finite.
    ClipText *r1, *r2;
    clip_text_init_random(&r1, 3000, 77, 64, 2, 2, 16, 7);
    clip_text_init_random(&r2, 3000, 77, 64, 2, 2, 16, 7);
    float a[2 * 16], b[2 * 16];
    clip_text_forward(r1, ids, 2, a);
    clip_text_forward(r2, ids, 2, b);
    int finite = 1;
    for (int i = 0; i < 32; i++) finite &= isfinite(a[i]) && a[i] != 0.0f;
    ok(finite && memcmp(a, b, sizeof a) == 0, "random model: finite, same seed same output");
    clip_text_free(r1);
    clip_text_free(r2);

    clip_text_free(m);
    clip_text_free(NULL);
    free(ids); free(rev); free(got); free(one); free(revf); free(want);
    json_decref(ref);
    return tap_done();
}
