// 1100-safetensors.c - the safetensors reader: a good file written by
// safetensors_write (F32, F16, BF16, I64, metadata), exact F16/BF16
// conversion, lookups with shape/dtype checks, and bad files: truncated data,
// header length beyond the file, too short, bad JSON, offsets that do not
// match the shape, missing names, wrong shapes and dtypes. Every error must
// name the file and the problem. Also opens the committed reference model.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "status.h"
#include "tap/tap.h"

static char why[512];

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

// Expects open(path) to fail with `code` and a message holding both parts.
static void open_fails(const char *path, int code, const char *part, const char *label) {
    SafeTensors *st = (SafeTensors *)1;
    why[0] = 0;
    int rc = safetensors_open(&st, path, why, sizeof why);
    ok(rc == code && st == NULL && contains(why, path) && contains(why, part),
       "%s: rejected (%s)", label, part);
    diag("   why: %s", why);
}

static void write_raw(const char *path, const char *header, const void *data, size_t n,
                      uint64_t hlen_override) {
    FILE *f = fopen(path, "wb");
    if (!f) bail("cannot write %s", path);
    uint64_t hl = hlen_override ? hlen_override : strlen(header);
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hl >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

int main(void) {
    plan(26);
    char good[4200], path[4200];
    snprintf(good, sizeof good, "%s/good.safetensors", tap_tmpdir());

    const float w[6] = {1.5f, -2.25f, 0.0f, 3e-8f, 1e30f, -0.0f};
    const uint16_t h[6] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x0400};   // 1 -2 65504 2^-24 inf 2^-14
    const float hwant[6] = {1.0f, -2.0f, 65504.0f, 5.9604645e-8f, INFINITY, 6.1035156e-5f};
    const uint16_t bf[3] = {0x3F80, 0xC0A0, 0x7FC0};                            // 1 -5 nan
    const int64_t iv[2] = {7, -9};
    const int64_t s_w[2] = {2, 3}, s_h[1] = {6}, s_bf[2] = {1, 3}, s_i[1] = {2};
    SafeTensorsEntry e[4] = {
        {"layer.weight", "F32", 2, s_w, w}, {"half", "F16", 1, s_h, h},
        {"brain", "BF16", 2, s_bf, bf}, {"count", "I64", 1, s_i, iv},
    };
    const char *meta[] = {"format", "pt", "num_attention_heads", "4", NULL};
    is_int(CD_OK, safetensors_write(good, 4, e, meta), "safetensors_write");

    SafeTensors *st;
    int rc = safetensors_open(&st, good, why, sizeof why);
    if (rc) bail("cannot open the good file: %s", why);
    is_int(4, safetensors_count(st), "4 tensors");
    ok(strcmp(safetensors_at(st, 2)->name, "brain") == 0, "file order kept");
    is_str("4", safetensors_metadata(st, "num_attention_heads"), "metadata value");
    ok(safetensors_metadata(st, "nope") == NULL, "absent metadata is NULL");
    const SafeTensor *t = safetensors_find(st, "layer.weight");
    ok(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6 &&
       t->nbytes == 24 && strcmp(t->dtype, "F32") == 0, "entry fields");

    float out[6];
    int64_t sh[2] = {-1, 3};
    rc = safetensors_read_f32(st, "layer.weight", 2, sh, out, why, sizeof why);
    ok(rc == CD_OK && sh[0] == 2, "read F32 with an inferred dim");
    is_tensor_equal(out, w, 6, "F32 data bit for bit");
    int64_t s6[1] = {6};
    rc = safetensors_read_f32(st, "half", 1, s6, out, why, sizeof why);
    is_tensor_equal(out, hwant, 6, "F16 -> F32 exact (max, subnormal, inf, min normal)");
    int64_t s3[2] = {1, 3};
    rc = safetensors_read_f32(st, "brain", 2, s3, out, why, sizeof why);
    ok(rc == CD_OK && out[0] == 1.0f && out[1] == -5.0f && isnan(out[2]), "BF16 -> F32");

    int64_t bad[2] = {3, 2};
    rc = safetensors_read_f32(st, "layer.weight", 2, bad, out, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, good) && contains(why, "'layer.weight' has shape [2, 3], expected [3, 2]"),
       "wrong shape named");
    diag("   why: %s", why);
    int64_t one[1] = {-1};
    rc = safetensors_check_f32(st, "layer.weight", 1, one, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "expected [-1]"), "wrong rank named");
    int64_t s2[1] = {2};
    rc = safetensors_read_f32(st, "count", 1, s2, out, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "'count' has dtype I64"), "wrong dtype named");
    diag("   why: %s", why);
    rc = safetensors_check_f32(st, "layer.wieght", 2, sh, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "missing tensor 'layer.wieght'") && contains(why, good),
       "missing name named");
    diag("   why: %s", why);
    safetensors_close(st);
    safetensors_close(NULL);

    // Truncations of the good file.
    size_t len;
    char *bytes = tap_slurp(good, &len);
    if (!bytes) bail("cannot read back %s", good);
    snprintf(path, sizeof path, "%s/trunc.safetensors", tap_tmpdir());
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, len - 5, f);
    fclose(f);
    open_fails(path, CD_EFORMAT, "truncated?", "data cut by 5 bytes");
    f = fopen(path, "wb");
    fwrite(bytes, 1, 40, f);
    fclose(f);
    open_fails(path, CD_EFORMAT, "runs beyond the file", "cut inside the header");
    f = fopen(path, "wb");
    fwrite(bytes, 1, 5, f);
    fclose(f);
    open_fails(path, CD_EFORMAT, "too short", "5 bytes");
    free(bytes);
    open_fails("tests/data/clip/no-such.safetensors", CD_EIO, "cannot open", "absent file");

    // Hand-made bad headers.
    float four[4] = {1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/bad.safetensors", tap_tmpdir());
    write_raw(path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2]", four, 16, 0);
    open_fails(path, CD_EFORMAT, "not valid JSON", "bad JSON");
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", four, 16, 0);
    open_fails(path, CD_EFORMAT, "needs 16 bytes but data_offsets give 12", "offsets vs shape");
    write_raw(path, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", four, 16, 0);
    open_fails(path, CD_EFORMAT, "unknown dtype 'Q4'", "unknown dtype");
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", four, 16, 0);
    open_fails(path, CD_EFORMAT, "bad shape", "negative dim");
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", four, 16, 0);
    open_fails(path, CD_EFORMAT, "lacks dtype, shape or data_offsets", "no offsets");
    write_raw(path, "{}", NULL, 0, 1ULL << 40);
    open_fails(path, CD_EFORMAT, "runs beyond the file", "huge header length");

    // The committed reference model (a full CLIP checkpoint's layout).
    rc = safetensors_open(&st, "tests/data/clip/model.safetensors", why, sizeof why);
    if (rc) {
        skip(2, "reference model: %s", why);
    } else {
        const SafeTensor *v = safetensors_find(st, "vision_model.post_layernorm.weight");
        ok(v && strcmp(v->dtype, "F32") == 0, "reference model holds vision tensors too");
        const SafeTensor *ls = safetensors_find(st, "logit_scale");
        ok(ls && ls->ndim == 0 && ls->numel == 1, "0-d tensor (logit_scale)");
        safetensors_close(st);
    }
    return tap_done();
}
