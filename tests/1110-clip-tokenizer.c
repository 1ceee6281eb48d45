// 1110-clip-tokenizer.c - clip_tokenize against the official SimpleTokenizer
// (openai/CLIP clip/simple_tokenizer.py on a truncated BPE, ids stored in
// tests/data/clip/tokens.json by scripts/ref/make_clip_reference.py): every
// reference text must give the same 77 ids. Then the parts the reference
// cannot show (ftfy is not installed there): curly quotes, the raw API's cap,
// and bad vocab/merges files.
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "status.h"
#include "tap/tap.h"

#define DIR "tests/data/clip"

static char why[512];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0) bail("cannot write %s", path);
    fclose(f);
}

static int same_ids(const ClipTokenizer *t, const char *a, const char *b) {
    int32_t x[CLIP_CONTEXT], y[CLIP_CONTEXT];
    clip_tokenize(t, a, x, NULL);
    clip_tokenize(t, b, y, NULL);
    return memcmp(x, y, sizeof x) == 0;
}

int main(void) {
    json_error_t jerr;
    json_t *ref = json_load_file(DIR "/tokens.json", 0, &jerr);
    if (!ref) skip_all("no reference data (%s): run scripts/ref/make_clip_reference.py", jerr.text);
    json_t *texts = json_object_get(ref, "texts"), *ids = json_object_get(ref, "ids");
    size_t n = json_array_size(texts);
    if (!n || json_array_size(ids) != n) bail(DIR "/tokens.json: texts and ids differ in count");
    plan((int)n + 10);

    ClipTokenizer *t;
    if (clip_tokenizer_load(&t, DIR "/vocab.json", DIR "/merges.txt", why, sizeof why))
        bail("load: %s", why);
    ok(clip_tokenizer_vocab_size(t) == 2514 && clip_tokenizer_eot(t) == 2513 &&
       clip_tokenizer_sot(t) == 2512, "vocab 2514, SOT 2512, EOT 2513");

    for (size_t i = 0; i < n; i++) {
        const char *text = json_string_value(json_array_get(texts, i));
        json_t *want = json_array_get(ids, i);
        int32_t got[CLIP_CONTEXT];
        int len = 0, first_bad = -1;
        clip_tokenize(t, text, got, &len);
        for (int k = 0; k < CLIP_CONTEXT && first_bad < 0; k++)
            if (got[k] != json_integer_value(json_array_get(want, (size_t)k))) first_bad = k;
        char shown[48];
        size_t e = 0;   // up to 40 bytes, whole UTF-8 characters
        for (;;) {
            unsigned char b = (unsigned char)text[e];
            size_t sl = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            if (!b || e + sl > 40) break;
            e += sl;
        }
        memcpy(shown, text, e);
        shown[e] = 0;
        for (char *p = shown; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        if (!ok(first_bad < 0, "ids of text %zu '%s' (%d tokens)", i, shown, len))
            diag("   first difference at %d: got %d want %lld", first_bad, got[first_bad],
                 json_integer_value(json_array_get(want, (size_t)first_bad)));
    }

    int32_t raw[8];
    is_int(9, clip_tokenize_raw(t, "a b c d e f g h i j k l", raw, 8), "raw: cap + 1 when more");
    ok(same_ids(t, "it\xE2\x80\x99s \xE2\x80\x9Cgood\xE2\x80\x9D", "it's \"good\""),
       "curly quotes become ASCII (ftfy uncurl_quotes)");
    ok(same_ids(t, "&amp;amp; &#x41;", "& a"), "html unescaped twice, hex references");
    ok(same_ids(t, "\xC3\xA9", "\xC3\x89") && same_ids(t, "\xD0\x96", "\xD0\xB6"),
       "lowercase beyond ASCII (É, Ж)");
    ok(same_ids(t, "bad \xFF\xFE bytes", "bad \xFF\xFE bytes"), "invalid UTF-8 is tokenized as bytes");

    // Bad files: each error names the file and what is wrong.
    const char *tmp = tap_tmpdir();
    char vpath[4200], mpath[4200];
    snprintf(vpath, sizeof vpath, "%s/vocab.json", tmp);
    snprintf(mpath, sizeof mpath, "%s/merges.txt", tmp);
    write_file(mpath, "#version: 0.2\ni n\nzq qx\n");
    ClipTokenizer *bad = (ClipTokenizer *)1;
    int rc = clip_tokenizer_load(&bad, DIR "/vocab.json", mpath, why, sizeof why);
    ok(rc == CD_EFORMAT && bad == NULL && strstr(why, mpath) && strstr(why, ":3:") &&
       strstr(why, "'zq' is not in the vocab"), "merge of unknown symbols: file, line, token");
    diag("   why: %s", why);
    write_file(vpath, "{\"a\": 0, \"b\": 1}");
    rc = clip_tokenizer_load(&bad, vpath, DIR "/merges.txt", why, sizeof why);
    ok(rc == CD_EFORMAT && strstr(why, vpath) && strstr(why, "missing byte symbol"),
       "vocab without byte symbols");
    diag("   why: %s", why);
    write_file(vpath, "{\"a\": 0, \"b\": \"x\"}");
    rc = clip_tokenizer_load(&bad, vpath, DIR "/merges.txt", why, sizeof why);
    ok(rc == CD_EFORMAT && strstr(why, "token 'b' has no valid id"), "non-integer id");
    rc = clip_tokenizer_load(&bad, DIR "/no-vocab.json", DIR "/merges.txt", why, sizeof why);
    ok(rc == CD_EFORMAT && strstr(why, "no-vocab.json"), "absent vocab file named");
    diag("   why: %s", why);
    clip_tokenizer_free(t);
    clip_tokenizer_free(NULL);
    json_decref(ref);
    return tap_done();
}
