// clip_tokenizer.c - CLIP's byte-level BPE tokenizer (SimpleTokenizer of
// openai/CLIP, clip/simple_tokenizer.py) over Hugging Face vocab.json +
// merges.txt.
//
// Pipeline per text (see clip.h for what is and is not reproduced):
//   clean    uncurl quotes (ftfy's part), html unescape x2, \s+ -> ' ', strip,
//            lowercase                                      -> clean_text()
//   split    the CLIP regex, by hand over code points       -> next_piece()
//   encode   bytes_to_unicode symbols, "</w>" on the last, BPE merges by rank
//            over vocab ids                                  -> bpe_word()
// Symbols are vocab ids throughout: every byte symbol and every merge result
// is checked to be in the vocab at load, so BPE never builds strings.
#include "clip.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip_unicode.h"
#include "status.h"

struct ClipTokenizer {
    int n_vocab;            // max id + 1
    char **str;             // (n_vocab) id -> token string (NULL for unused ids)
    int32_t *vhash;         // (vcap) open addressing: id or -1
    size_t vcap;
    uint64_t *mkey;         // (mcap) merge (a << 32 | b) + 1, 0 = empty
    int32_t *mrank, *mout;  // (mcap) merge rank and resulting id
    size_t mcap;
    int32_t byte_id[256], byte_id_w[256];   // byte symbol, and with "</w>"
    int32_t sot, eot;
};


// ---------------------------------------------------------------------------
// Hash tables

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;   // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

// Id of the token string s[0..n), or -1.
static int32_t vocab_find(const ClipTokenizer *t, const char *s, size_t n) {
    for (size_t i = hash_bytes(s, n) & (t->vcap - 1);; i = (i + 1) & (t->vcap - 1)) {
        int32_t id = t->vhash[i];
        if (id < 0) return -1;
        if (strlen(t->str[id]) == n && memcmp(t->str[id], s, n) == 0) return id;
    }
}

static int32_t vocab_find_str(const ClipTokenizer *t, const char *s) {
    return vocab_find(t, s, strlen(s));
}

// Slot of merge (a, b): its key or an empty one.
static size_t merge_slot(const ClipTokenizer *t, int32_t a, int32_t b) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = hash_u64(key) & (t->mcap - 1);
    while (t->mkey[i] && t->mkey[i] != key) i = (i + 1) & (t->mcap - 1);
    return i;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

// ---------------------------------------------------------------------------
// Loading

static void bytes_to_unicode(uint32_t cp[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

static int load_vocab(ClipTokenizer *t, const char *path, char *why, size_t whylen) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return cd_why(why, whylen, CD_EFORMAT, "%s: cannot read vocab JSON (%s, line %d)", path,
                    err.text, err.line);
    int rc = CD_OK;
    const char *key;
    json_t *v;
    if (!json_is_object(root) || json_object_size(root) == 0) {
        rc = cd_why(why, whylen, CD_EFORMAT, "%s: not a {token: id} object", path);
        goto out;
    }
    json_int_t max_id = -1;
    json_object_foreach(root, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 24)) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s: token '%s' has no valid id", path, key);
            goto out;
        }
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    t->n_vocab = (int)max_id + 1;
    t->str = cd_calloc((size_t)t->n_vocab, sizeof *t->str);
    t->vcap = pow2_at_least(2 * json_object_size(root));
    t->vhash = cd_malloc(t->vcap * sizeof *t->vhash);
    if (!t->str || !t->vhash) { rc = CD_ENOMEM; goto out; }
    memset(t->vhash, 0xFF, t->vcap * sizeof *t->vhash);
    json_object_foreach(root, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        if (t->str[id]) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s: tokens '%s' and '%s' share id %d", path,
                      t->str[id], key, id);
            goto out;
        }
        if (!(t->str[id] = strdup(key))) { rc = CD_ENOMEM; goto out; }
        size_t i = hash_bytes(key, strlen(key)) & (t->vcap - 1);
        while (t->vhash[i] >= 0) i = (i + 1) & (t->vcap - 1);
        t->vhash[i] = id;
    }
    uint32_t cps[256];
    bytes_to_unicode(cps);
    for (int b = 0; b < 256; b++) {
        char s[16];
        int n = clip_utf8_encode(cps[b], s);
        memcpy(s + n, "</w>", 5);
        t->byte_id_w[b] = vocab_find_str(t, s);
        s[n] = 0;
        t->byte_id[b] = vocab_find_str(t, s);
        if (t->byte_id[b] < 0 || t->byte_id_w[b] < 0) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s: missing byte symbol '%s' (byte 0x%02X) or '%s</w>'",
                      path, s, b, s);
            goto out;
        }
    }
    t->sot = vocab_find_str(t, "<|startoftext|>");
    t->eot = vocab_find_str(t, "<|endoftext|>");
    if (t->sot < 0 || t->eot < 0)
        rc = cd_why(why, whylen, CD_EFORMAT, "%s: missing '<|startoftext|>' or '<|endoftext|>'", path);
out:
    json_decref(root);
    return rc;
}

static int load_merges(ClipTokenizer *t, const char *path, char *why, size_t whylen) {
    FILE *f = fopen(path, "rb");
    if (!f) return cd_why(why, whylen, CD_EIO, "%s: cannot open", path);
    size_t cap = 4096, n = 0;   // merges <= lines
    char line[1024];
    t->mcap = pow2_at_least(2 * (size_t)t->n_vocab);
    t->mkey = cd_calloc(t->mcap, sizeof *t->mkey);
    t->mrank = cd_malloc(t->mcap * sizeof *t->mrank);
    t->mout = cd_malloc(t->mcap * sizeof *t->mout);
    int rc = (t->mkey && t->mrank && t->mout) ? CD_OK : CD_ENOMEM;
    (void)cap;
    for (int lineno = 1; !rc && fgets(line, sizeof line, f); lineno++) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (lineno == 1 && line[0] == '#') continue;   // "#version: 0.2"
        if (!len) continue;
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || !sp[1] || strchr(sp + 1, ' ')) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s:%d: expected 'left right', got '%s'", path,
                      lineno, line);
            break;
        }
        *sp = 0;
        int32_t a = vocab_find_str(t, line), b = vocab_find_str(t, sp + 1);
        char joined[1024];
        snprintf(joined, sizeof joined, "%s%s", line, sp + 1);
        int32_t ab = vocab_find_str(t, joined);
        if (a < 0 || b < 0 || ab < 0) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s:%d: merge '%s %s': '%s' is not in the vocab",
                      path, lineno, line, sp + 1, a < 0 ? line : b < 0 ? sp + 1 : joined);
            break;
        }
        if (2 * (n + 1) > t->mcap) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s: more merges than vocab entries", path);
            break;
        }
        size_t slot = merge_slot(t, a, b);
        if (!t->mkey[slot]) {   // a repeated merge keeps its first (lowest) rank
            t->mkey[slot] = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
            t->mrank[slot] = (int32_t)n;
            t->mout[slot] = ab;
        }
        n++;
    }
    fclose(f);
    if (!rc && n == 0) rc = cd_why(why, whylen, CD_EFORMAT, "%s: no merges", path);
    return rc;
}

int clip_tokenizer_load(ClipTokenizer **out, const char *vocab_json, const char *merges_txt,
                        char *why, size_t whylen) {
    *out = NULL;
    ClipTokenizer *t = cd_calloc(1, sizeof *t);
    if (!t) return CD_ENOMEM;
    int rc = load_vocab(t, vocab_json, why, whylen);
    if (!rc) rc = load_merges(t, merges_txt, why, whylen);
    if (rc == CD_ENOMEM) cd_why(why, whylen, rc, "%s: out of memory", vocab_json);
    if (rc) {
        clip_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return CD_OK;
}

void clip_tokenizer_free(ClipTokenizer *t) {
    if (!t) return;
    if (t->str)
        for (int i = 0; i < t->n_vocab; i++) free(t->str[i]);
    free(t->str);
    free(t->vhash);
    free(t->mkey);
    free(t->mrank);
    free(t->mout);
    free(t);
}

int clip_tokenizer_vocab_size(const ClipTokenizer *t) { return t->n_vocab; }
int32_t clip_tokenizer_sot(const ClipTokenizer *t) { return t->sot; }
int32_t clip_tokenizer_eot(const ClipTokenizer *t) { return t->eot; }

// ---------------------------------------------------------------------------
// Cleaning: code points in, code points out (in place; output never longer)

// html.unescape for the common entities: numeric (&#N; &#xH;, ';' optional)
// and named &amp; &lt; &gt; &quot; (';' optional, as HTML5 allows) &apos;
// &nbsp;. Returns the new length.
static size_t html_unescape(uint32_t *c, size_t n) {
    static const struct { const char *name; uint32_t cp; int semi_optional; } NAMED[] = {
        {"amp", '&', 1}, {"lt", '<', 1}, {"gt", '>', 1}, {"quot", '"', 1},
        {"apos", '\'', 0}, {"nbsp", 0xA0, 1},
    };
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (c[i] != '&' || i + 1 >= n) { c[o++] = c[i++]; continue; }
        size_t j = i + 1;
        if (c[j] == '#') {
            int hex = j + 1 < n && (c[j + 1] == 'x' || c[j + 1] == 'X');
            size_t k = j + 1 + (size_t)hex, d0 = k;
            uint64_t v = 0;
            for (; k < n && k - d0 < 10; k++) {
                uint32_t ch = c[k];
                int dig = ch >= '0' && ch <= '9' ? (int)(ch - '0')
                        : hex && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (int)((ch | 0x20) - 'a' + 10) : -1;
                if (dig < 0) break;
                v = v * (hex ? 16 : 10) + (uint64_t)dig;
            }
            if (k == d0) { c[o++] = c[i++]; continue; }
            if (k < n && c[k] == ';') k++;
            if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) v = 0xFFFD;
            c[o++] = (uint32_t)v;
            i = k;
            continue;
        }
        int done = 0;
        for (size_t e = 0; e < sizeof NAMED / sizeof NAMED[0] && !done; e++) {
            size_t L = strlen(NAMED[e].name), k;
            for (k = 0; k < L && j + k < n && c[j + k] == (uint32_t)NAMED[e].name[k]; k++) {}
            if (k < L) continue;
            int semi = j + L < n && c[j + L] == ';';
            if (!semi && !NAMED[e].semi_optional) continue;
            c[o++] = NAMED[e].cp;
            i = j + L + (size_t)semi;
            done = 1;
        }
        if (!done) c[o++] = c[i++];
    }
    return o;
}

// Decodes, cleans and lowercases `text`; returns UTF-8 (malloc'ed) or NULL.
static char *clean_text(const char *text) {
    size_t n = strlen(text), m = 0;
    uint32_t *c = cd_malloc((n + 1) * sizeof *c);
    char *out = cd_malloc(4 * n + 1);
    if (!c || !out) { free(c); free(out); return NULL; }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)clip_utf8_decode((const unsigned char *)text + i, n - i, &cp);
        if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B)) cp = '\'';   // ftfy uncurl_quotes
        else if (cp >= 0x201C && cp <= 0x201F) cp = '"';
        c[m++] = cp;
    }
    m = html_unescape(c, m);
    m = html_unescape(c, m);
    size_t o = 0, k = 0;
    while (k < m && clip_uni_is_space(c[k])) k++;   // strip + \s+ -> ' '
    for (; k < m; k++) {
        if (clip_uni_is_space(c[k])) {
            while (k + 1 < m && clip_uni_is_space(c[k + 1])) k++;
            if (k + 1 < m) out[o++] = ' ';
            continue;
        }
        uint32_t cp = c[k];
        if (cp == 0x3A3 && k > 0 && clip_uni_is_letter(c[k - 1]) &&
            !(k + 1 < m && clip_uni_is_letter(c[k + 1])))
            cp = 0x3C2;   // Python's Final_Sigma rule (approximated: letters for cased)
        if ((cp & 0xFFFFFF00u) == 0xDC00u) out[o++] = (char)(cp & 0xFF);   // invalid byte: as is
        else o += (size_t)clip_utf8_encode(clip_uni_lower(cp), out + o);
    }
    out[o] = 0;
    free(c);
    return out;
}

// ---------------------------------------------------------------------------
// Splitting: the CLIP pattern, one piece at a time

enum { CLS_SPACE, CLS_LETTER, CLS_NUMBER, CLS_OTHER };

static int cls_at(const char *s, size_t n, size_t i, int *len) {
    uint32_t cp;
    *len = clip_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return clip_uni_is_space(cp) ? CLS_SPACE : clip_uni_is_letter(cp) ? CLS_LETTER
         : clip_uni_is_number(cp) ? CLS_NUMBER : CLS_OTHER;
}

// Finds the next piece at or after *pos: [*start, *end). 0 when none is left.
static int next_piece(const char *s, size_t n, size_t *pos, size_t *start, size_t *end) {
    static const char *const SPECIAL[] = {"<|startoftext|>", "<|endoftext|>"};
    static const char *const CONTRACTION[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t i = *pos;
    int len, c;
    while (i < n && (c = cls_at(s, n, i, &len)) == CLS_SPACE) i += (size_t)len;
    if (i >= n) return 0;
    *start = i;
    for (int k = 0; k < 2; k++) {
        size_t L = strlen(SPECIAL[k]);
        if (n - i >= L && memcmp(s + i, SPECIAL[k], L) == 0) { *end = *pos = i + L; return 1; }
    }
    if (s[i] == '\'')
        for (int k = 0; k < 7; k++) {
            size_t L = strlen(CONTRACTION[k]);
            if (n - i >= L && memcmp(s + i, CONTRACTION[k], L) == 0) { *end = *pos = i + L; return 1; }
        }
    c = cls_at(s, n, i, &len);
    i += (size_t)len;
    if (c != CLS_NUMBER)   // letters: \p{L}+; others: [^\s\p{L}\p{N}]+
        while (i < n && cls_at(s, n, i, &len) == c) i += (size_t)len;
    *end = *pos = i;
    return 1;
}

// ---------------------------------------------------------------------------
// BPE

// Merges the word's symbols w[0..n) (vocab ids) in place; returns the count.
static int bpe_word(const ClipTokenizer *t, int32_t *w, int n) {
    while (n > 1) {
        int32_t best = INT32_MAX, a = -1, b = -1, ab = -1;
        for (int i = 0; i + 1 < n; i++) {
            size_t slot = merge_slot(t, w[i], w[i + 1]);
            if (t->mkey[slot] && t->mrank[slot] < best) {
                best = t->mrank[slot];
                a = w[i]; b = w[i + 1]; ab = t->mout[slot];
            }
        }
        if (a < 0) break;
        int o = 0;
        for (int i = 0; i < n;) {
            if (i + 1 < n && w[i] == a && w[i + 1] == b) { w[o++] = ab; i += 2; }
            else w[o++] = w[i++];
        }
        n = o;
    }
    return n;
}

int clip_tokenize_raw(const ClipTokenizer *t, const char *text, int32_t *ids, int cap) {
    if (!text) return CD_EARG;
    char *s = clean_text(text);
    if (!s) return CD_ENOMEM;
    size_t n = strlen(s), pos = 0, a, b;
    int32_t stackbuf[256], *w = stackbuf;
    size_t wcap = 256;
    int count = 0;
    while (count <= cap && next_piece(s, n, &pos, &a, &b)) {
        size_t L = b - a;
        if (L > wcap) {
            if (w != stackbuf) free(w);
            wcap = L;
            if (!(w = cd_malloc(wcap * sizeof *w))) { free(s); return CD_ENOMEM; }
        }
        int m;
        if (L == 15 && memcmp(s + a, "<|startoftext|>", L) == 0) { w[0] = t->sot; m = 1; }
        else if (L == 13 && memcmp(s + a, "<|endoftext|>", L) == 0) { w[0] = t->eot; m = 1; }
        else {
            for (size_t k = 0; k < L; k++) w[k] = t->byte_id[(unsigned char)s[a + k]];
            w[L - 1] = t->byte_id_w[(unsigned char)s[b - 1]];
            m = bpe_word(t, w, (int)L);
        }
        for (int k = 0; k < m && count <= cap; k++, count++)
            if (count < cap) ids[count] = w[k];
    }
    if (w != stackbuf) free(w);
    free(s);
    return count;
}

int clip_tokenize(const ClipTokenizer *t, const char *text, int32_t *ids, int *len) {
    int32_t raw[CLIP_CONTEXT];
    int n = clip_tokenize_raw(t, text, raw, CLIP_CONTEXT - 2);
    if (n < 0) return n;
    if (n > CLIP_CONTEXT - 2) n = CLIP_CONTEXT - 2;   // truncate=True: EOT last
    memset(ids, 0, CLIP_CONTEXT * sizeof *ids);
    ids[0] = t->sot;
    memcpy(ids + 1, raw, (size_t)n * sizeof *ids);
    ids[n + 1] = t->eot;
    if (len) *len = n + 2;
    return CD_OK;
}
