// clip.h - the CLIP text tower (Hugging Face openai/clip-vit-base-patch32
// layout): byte-level BPE tokenizer + pre-LN transformer + EOT pooling +
// text projection, for the text-embedding stage.
//
// Typical use:
//   ClipTokenizer *tok; ClipText *m; char why[512];
//   clip_tokenizer_load(&tok, "vocab.json", "merges.txt", why, sizeof why);
//   clip_text_load(&m, "model.safetensors", why, sizeof why);
//   int32_t ids[n * CLIP_CONTEXT]; int len;
//   for (i...) clip_tokenize(tok, text[i], ids + i * CLIP_CONTEXT, &len);
//   float *emb = malloc(n * clip_text_dim(m) * sizeof(float));
//   clip_text_forward(m, ids, n, emb);      // not L2-normalised (as HF)
//
// Errors: load functions return CD_OK, CD_EIO or CD_EFORMAT (CD_ENOMEM) and
// fill `why` with "<file>: what is wrong". A ClipText is not thread-safe
// (it owns its scratch buffers); use one per thread.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CLIP_CONTEXT 77   // token ids per text of clip_tokenize

// ---------------------------------------------------------------------------
// Tokenizer (src/text/clip_tokenizer.c)
//
// CLIP's SimpleTokenizer: html-unescape twice (named &amp; &lt; &gt; &quot;
// &apos; &nbsp; and numeric &#N; &#xH; entities), curly quotes to ASCII
// (the part of ftfy.fix_text that matters for captions; no NFC, mojibake,
// ligature or width repair), whitespace runs (regex \s) to one space, strip,
// lowercase (Python str.lower on all of Unicode, final sigma included, except
// U+0130), then the pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
// with exact Unicode letter/number tables, bytes_to_unicode, "</w>" word
// ends and BPE by merge rank.

typedef struct ClipTokenizer ClipTokenizer;

// vocab_json: Hugging Face vocab.json {token: id}; merges_txt: a "#version"
// line, then one "a b" merge per line, in rank order. Every merge's parts and
// result and all 512 byte symbols must be in the vocab, as well as
// <|startoftext|> and <|endoftext|>.
int clip_tokenizer_load(ClipTokenizer **t, const char *vocab_json, const char *merges_txt,
                        char *why, size_t whylen);
// ids[CLIP_CONTEXT]: <|startoftext|> tokens... <|endoftext|>, zero padded;
// longer texts are cut to CLIP_CONTEXT with <|endoftext|> last (clip.tokenize
// truncate=True). *len (optional): the ids used, EOT included. CD_OK, or
// CD_EARG for a NULL text.
int clip_tokenize(const ClipTokenizer *t, const char *text, int32_t *ids, int *len);
// Raw BPE ids of a text, no SOT/EOT: writes up to cap ids and returns their
// count, or cap + 1 when the text has more (it stops there). <0 on error.
int clip_tokenize_raw(const ClipTokenizer *t, const char *text, int32_t *ids, int cap);
int clip_tokenizer_vocab_size(const ClipTokenizer *t);
int32_t clip_tokenizer_sot(const ClipTokenizer *t);
int32_t clip_tokenizer_eot(const ClipTokenizer *t);
void clip_tokenizer_free(ClipTokenizer *t);

// ---------------------------------------------------------------------------
// Text model (src/text/clip_text.c)

typedef struct ClipText ClipText;

typedef struct ClipTextConfig {
    int vocab, ctx, width, layers, heads, mlp, proj;
} ClipTextConfig;

// Reads text_model.* and text_projection.weight (vision_model.* and other
// tensors are ignored). Dims come from the tensor shapes; heads from the
// __metadata__ "num_attention_heads" when present, else width / 64 (OpenAI's
// rule for every released CLIP). F32, F16 or BF16 tensors.
int clip_text_load(ClipText **m, const char *safetensors_path, char *why, size_t whylen);
// Test/benchmark constructor: random weights (N(0, 0.02), LayerNorm 1/0,
// projection N(0, width^-1/2)) from `seed`. mlp = 4 * width.
int clip_text_init_random(ClipText **m, int vocab, int ctx, int width, int layers, int heads,
                          int proj, uint64_t seed);
// ids: (n_texts, ctx) as clip_tokenize writes them; out: (n_texts, proj).
// The pooled token of a text is its first maximal id (the EOT, as HF and
// OpenAI's argmax); tokens after it are never computed. Texts are packed
// into shared matmuls, and a text's features do not depend on the others.
// CD_OK, or CD_EARG (an id outside [0, vocab), n_texts < 0).
int clip_text_forward(ClipText *m, const int32_t *ids, int n_texts, float *out);
int clip_text_dim(const ClipText *m);   // proj
const ClipTextConfig *clip_text_config(const ClipText *m);
// Floating-point operations clip_text_forward spends on these ids (for
// benchmarks: the matmuls and attention, 2 per multiply-add).
double clip_text_flops(const ClipText *m, const int32_t *ids, int n_texts);
void clip_text_free(ClipText *m);
