// clip_text.c - the CLIP text transformer (Hugging Face CLIPTextModel +
// text_projection, OpenAI CLIP.encode_text), forward only, llm.c style.
//
//   x = wte[ids] + wpe                          (tokens up to the EOT only)
//   12 x { x += attn(ln1(x)) (causal);  x += fc2(quickgelu(fc1(ln2(x)))) }
//   out = ln_final(x[eot]) @ text_projection^T
//
// Texts are packed token after token into one (N, C) activation matrix, so
// every linear layer is one sgemm over all texts of a chunk; attention runs
// per text and head over its own rows. Padding after the EOT is never
// computed (the causal mask makes the EOT feature independent of it), and the
// last layer computes attention output, MLP and residual on the EOT rows
// only (its keys and values still come from every token).
#include "clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "safetensors.h"
#include "status.h"

#define CLIP_LN_EPS 1e-5f
#define CLIP_CHUNK_TOKENS 1024   // tokens per forward chunk (scratch ~22 MB at C=512)

typedef struct ClipLayer {
    float *ln1w, *ln1b;   // (C)
    float *qkvw;          // (3C, C): rows q_proj, k_proj, v_proj (out, in)
    float *qkvb;          // (3C)
    float *attprojw;      // (C, C)  out_proj
    float *attprojb;      // (C)
    float *ln2w, *ln2b;   // (C)
    float *fcw;           // (F, C)  mlp.fc1
    float *fcb;           // (F)
    float *fcprojw;       // (C, F)  mlp.fc2
    float *fcprojb;       // (C)
} ClipLayer;
#define CLIP_LAYER_TENSORS 12

struct ClipText {
    ClipTextConfig cfg;
    float *params;        // one allocation, carved below
    size_t n_params;
    float *wte;           // (V, C) token_embedding
    float *wpe;           // (T, C) position_embedding
    ClipLayer *layer;     // (L)
    float *lnfw, *lnfb;   // (C) final_layer_norm
    float *proj;          // (P, C) text_projection.weight
    // scratch for one chunk of at most cap_tokens tokens, allocated on first use
    int cap_tokens;
    float *x, *ln, *qkv, *att, *tmp, *fc;   // (Nt,C) (Nt,C) (Nt,3C) (Nt,C) (Nt,C) (Nt,F)
    float *scores;                            // (T)
    int *off, *len;                           // (Nt) per text of a chunk
};

// ---------------------------------------------------------------------------
// Parameters: a size table and one allocation (llm.c's malloc_and_point)

static void layer_sizes(const ClipTextConfig *c, size_t s[CLIP_LAYER_TENSORS]) {
    size_t C = (size_t)c->width, F = (size_t)c->mlp;
    size_t t[CLIP_LAYER_TENSORS] = {C, C, 3 * C * C, 3 * C, C * C, C, C, C, F * C, F, C * F, C};
    memcpy(s, t, sizeof t);
}

static int alloc_params(ClipText *m) {
    const ClipTextConfig *c = &m->cfg;
    size_t C = (size_t)c->width, ls[CLIP_LAYER_TENSORS], per_layer = 0;
    layer_sizes(c, ls);
    for (int i = 0; i < CLIP_LAYER_TENSORS; i++) per_layer += ls[i];
    m->n_params = (size_t)c->vocab * C + (size_t)c->ctx * C + (size_t)c->layers * per_layer +
                  2 * C + (size_t)c->proj * C;
    m->params = cd_malloc(m->n_params * sizeof(float));
    m->layer = cd_calloc((size_t)c->layers, sizeof *m->layer);
    if (!m->params || !m->layer) return CD_ENOMEM;
    float *p = m->params;
    m->wte = p; p += (size_t)c->vocab * C;
    m->wpe = p; p += (size_t)c->ctx * C;
    for (int l = 0; l < c->layers; l++) {
        ClipLayer *L = &m->layer[l];
        float **ptrs[CLIP_LAYER_TENSORS] = {&L->ln1w, &L->ln1b, &L->qkvw, &L->qkvb, &L->attprojw,
                                            &L->attprojb, &L->ln2w, &L->ln2b, &L->fcw, &L->fcb,
                                            &L->fcprojw, &L->fcprojb};
        for (int i = 0; i < CLIP_LAYER_TENSORS; i++) { *ptrs[i] = p; p += ls[i]; }
    }
    m->lnfw = p; p += C;
    m->lnfb = p; p += C;
    m->proj = p;
    return CD_OK;
}

static int alloc_scratch(ClipText *m) {
    if (m->x) return CD_OK;
    size_t Nt = (size_t)(m->cfg.ctx > CLIP_CHUNK_TOKENS ? m->cfg.ctx : CLIP_CHUNK_TOKENS);
    size_t C = (size_t)m->cfg.width, F = (size_t)m->cfg.mlp;
    m->cap_tokens = (int)Nt;
    m->x = cd_malloc(Nt * (7 * C + F) * sizeof(float));
    m->scores = cd_malloc((size_t)m->cfg.ctx * sizeof(float));
    m->off = cd_malloc(Nt * sizeof(int));
    m->len = cd_malloc(Nt * sizeof(int));
    if (!m->x || !m->scores || !m->off || !m->len) return CD_ENOMEM;
    m->ln = m->x + Nt * C;
    m->qkv = m->ln + Nt * C;
    m->att = m->qkv + Nt * 3 * C;
    m->tmp = m->att + Nt * C;
    m->fc = m->tmp + Nt * C;
    return CD_OK;
}

void clip_text_free(ClipText *m) {
    if (!m) return;
    free(m->params);
    free(m->layer);
    free(m->x);
    free(m->scores);
    free(m->off);
    free(m->len);
    free(m);
}

int clip_text_dim(const ClipText *m) { return m->cfg.proj; }
const ClipTextConfig *clip_text_config(const ClipText *m) { return &m->cfg; }

// ---------------------------------------------------------------------------
// Layers (forward only): outputs first, then inputs, then weights, then dims

// out (N, C) = LayerNorm(inp (N, C)) * weight (C) + bias (C); out may be inp.
static void layernorm_forward(float *out, const float *inp, const float *weight,
                              const float *bias, int N, int C) {
    for (int t = 0; t < N; t++) {
        const float *x = inp + (size_t)t * C;
        double s = 0, ss = 0;
        for (int i = 0; i < C; i++) s += x[i];
        double mean = s / C;
        for (int i = 0; i < C; i++) ss += (x[i] - mean) * (x[i] - mean);
        float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / C + CLIP_LN_EPS));
        float *o = out + (size_t)t * C;
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * rstd * weight[i] + bias[i];
    }
}

// out (N, OC) = inp (N, IC) @ weight (OC, IC)^T + bias (OC)
static void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int IC, int OC) {
    for (int t = 0; t < N; t++) memcpy(out + (size_t)t * OC, bias, (size_t)OC * sizeof(float));
    blas_sgemm(0, 1, N, OC, IC, 1.0f, inp, IC, weight, IC, 1.0f, out, OC);
}

// x (n) = x * sigmoid(1.702 x) in place
static void quickgelu_forward(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

// Causal multi-head attention over packed texts. qkv (N, 3C): per token q,
// k, v, each NH heads of hs = C / NH. Text i owns rows off[i] .. off[i] +
// len[i] - 1. out: (N, C), or with last_only (n, C) = only each text's last
// query row. scores: (T) scratch.
static void attention_forward(float *out, float *scores, const float *qkv, const int *off,
                              const int *len, int n, int C, int NH, int last_only) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t C3 = 3 * (size_t)C;
    for (int i = 0; i < n; i++) {
        const float *base = qkv + (size_t)off[i] * C3;
        for (int t = last_only ? len[i] - 1 : 0; t < len[i]; t++) {
            float *o_row = out + (last_only ? (size_t)i : (size_t)(off[i] + t)) * C;
            for (int h = 0; h < NH; h++) {
                const float *q = base + (size_t)t * C3 + (size_t)h * hs;
                float maxv = -INFINITY;
                for (int u = 0; u <= t; u++) {
                    const float *k = base + (size_t)u * C3 + C + (size_t)h * hs;
                    float s = 0;
                    for (int d = 0; d < hs; d++) s += q[d] * k[d];
                    scores[u] = s * scale;
                    if (scores[u] > maxv) maxv = scores[u];
                }
                float sum = 0;
                for (int u = 0; u <= t; u++) sum += (scores[u] = expf(scores[u] - maxv));
                float inv = 1.0f / sum;
                float *o = o_row + (size_t)h * hs;
                for (int d = 0; d < hs; d++) o[d] = 0;
                for (int u = 0; u <= t; u++) {
                    const float *v = base + (size_t)u * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float p = scores[u] * inv;
                    for (int d = 0; d < hs; d++) o[d] += p * v[d];
                }
            }
        }
    }
}

// out (n, C) += inp (n, C)
static void residual_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] += inp[i];
}

// ---------------------------------------------------------------------------
// Forward

// Tokens a text needs: up to its first maximal id (the EOT) included.
static int text_len(const int32_t *ids, int T) {
    int best = 0;
    for (int t = 1; t < T; t++)
        if (ids[t] > ids[best]) best = t;
    return best + 1;
}

// One chunk of n texts whose lengths sum to at most cap_tokens.
static void forward_chunk(ClipText *m, const int32_t *ids, int n, float *out) {
    const ClipTextConfig *c = &m->cfg;
    int C = c->width, F = c->mlp, T = c->ctx, N = 0;
    for (int i = 0; i < n; i++) {
        m->off[i] = N;
        m->len[i] = text_len(ids + (size_t)i * T, T);
        N += m->len[i];
    }
    // x (N, C) = wte[ids] + wpe[pos]
    for (int i = 0; i < n; i++)
        for (int t = 0; t < m->len[i]; t++) {
            float *x = m->x + (size_t)(m->off[i] + t) * C;
            const float *e = m->wte + (size_t)ids[(size_t)i * T + t] * C, *p = m->wpe + (size_t)t * C;
            for (int k = 0; k < C; k++) x[k] = e[k] + p[k];
        }
    float *xg = m->tmp;   // (n, C) the EOT rows, for the last layer and the head
    for (int l = 0; l < c->layers; l++) {
        const ClipLayer *L = &m->layer[l];
        int last = l == c->layers - 1;
        layernorm_forward(m->ln, m->x, L->ln1w, L->ln1b, N, C);
        matmul_forward(m->qkv, m->ln, L->qkvw, L->qkvb, N, C, 3 * C);
        attention_forward(m->att, m->scores, m->qkv, m->off, m->len, n, C, c->heads, last);
        int R = last ? n : N;   // rows that go on
        float *x = m->x;
        if (last) {             // keep only the EOT rows of x: xg (n, C)
            for (int i = 0; i < n; i++)
                memcpy(xg + (size_t)i * C, m->x + (size_t)(m->off[i] + m->len[i] - 1) * C,
                       (size_t)C * sizeof(float));
            x = xg;
        }
        matmul_forward(m->ln, m->att, L->attprojw, L->attprojb, R, C, C);
        residual_forward(x, m->ln, (size_t)R * C);
        layernorm_forward(m->ln, x, L->ln2w, L->ln2b, R, C);
        matmul_forward(m->fc, m->ln, L->fcw, L->fcb, R, C, F);
        quickgelu_forward(m->fc, (size_t)R * F);
        matmul_forward(m->ln, m->fc, L->fcprojw, L->fcprojb, R, F, C);
        residual_forward(x, m->ln, (size_t)R * C);
    }
    if (c->layers == 0)
        for (int i = 0; i < n; i++)
            memcpy(xg + (size_t)i * C, m->x + (size_t)(m->off[i] + m->len[i] - 1) * C,
                   (size_t)C * sizeof(float));
    // out (n, P) = ln_final(xg) @ proj^T
    layernorm_forward(m->ln, xg, m->lnfw, m->lnfb, n, C);
    blas_sgemm(0, 1, n, c->proj, C, 1.0f, m->ln, C, m->proj, C, 0.0f, out, c->proj);
}

int clip_text_forward(ClipText *m, const int32_t *ids, int n_texts, float *out) {
    const ClipTextConfig *c = &m->cfg;
    if (n_texts < 0) return CD_EARG;
    for (size_t i = 0; i < (size_t)n_texts * c->ctx; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab) {
            CD_ERR("clip_text_forward: text %zu position %zu: token id %d outside [0, %d)",
                   i / (size_t)c->ctx, i % (size_t)c->ctx, ids[i], c->vocab);
            return CD_EARG;
        }
    if (alloc_scratch(m)) return CD_ENOMEM;
    for (int i0 = 0; i0 < n_texts;) {
        int n = 0, tokens = 0;
        while (i0 + n < n_texts) {
            int L = text_len(ids + (size_t)(i0 + n) * c->ctx, c->ctx);
            if (tokens + L > m->cap_tokens) break;
            tokens += L;
            n++;
        }
        forward_chunk(m, ids + (size_t)i0 * c->ctx, n, out + (size_t)i0 * c->proj);
        i0 += n;
    }
    return CD_OK;
}

double clip_text_flops(const ClipText *m, const int32_t *ids, int n_texts) {
    const ClipTextConfig *c = &m->cfg;
    double C = c->width, F = c->mlp, fl = 0;
    for (int i = 0; i < n_texts; i++) {
        int L = text_len(ids + (size_t)i * c->ctx, c->ctx);
        double full = 2 * (3 * C * C + C * C + 2 * C * F);    // one token through a layer
        double attn = 4.0 * C * L * (L + 1) / 2;               // QK^T and PV, causal
        fl += (c->layers - 1) * (L * full + attn);
        if (c->layers > 0) fl += L * 2 * 3 * C * C + 4.0 * C * L + 2 * (C * C + 2 * C * F);
        fl += 2 * C * c->proj;
    }
    return fl;
}

// ---------------------------------------------------------------------------
// Construction

static int check_config(const ClipTextConfig *c, char *why, size_t whylen, const char *src) {
    if (c->vocab < 1 || c->ctx < 1 || c->width < 1 || c->layers < 0 || c->heads < 1 ||
        c->mlp < 1 || c->proj < 1 || c->width % c->heads)
    {
        cd_reject(why, whylen, "%s: bad CLIP text config (vocab %d, context %d, width %d, "
                  "layers %d, heads %d, mlp %d, proj %d): width must divide into heads",
                  src, c->vocab, c->ctx, c->width, c->layers, c->heads, c->mlp, c->proj);
        return CD_EFORMAT;
    }
    return CD_OK;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void fill_normal(float *p, size_t n, float std, uint64_t *s) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(splitmix64(s) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(splitmix64(s) >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        p[i] = (float)(std * r * cos(6.283185307179586 * u2));
        if (i + 1 < n) p[i + 1] = (float)(std * r * sin(6.283185307179586 * u2));
    }
}

static void fill_const(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++) p[i] = v;
}

int clip_text_init_random(ClipText **out, int vocab, int ctx, int width, int layers, int heads,
                          int proj, uint64_t seed) {
    *out = NULL;
    ClipText *m = cd_calloc(1, sizeof *m);
    if (!m) return CD_ENOMEM;
    m->cfg = (ClipTextConfig){vocab, ctx, width, layers, heads, 4 * width, proj};
    char why[256];
    int rc = check_config(&m->cfg, why, sizeof why, "clip_text_init_random");
    if (rc) CD_ERR("%s", why);
    if (!rc) rc = alloc_params(m);
    if (rc) { clip_text_free(m); return rc; }
    size_t C = (size_t)width, ls[CLIP_LAYER_TENSORS];
    layer_sizes(&m->cfg, ls);
    uint64_t s = seed;
    fill_normal(m->wte, (size_t)vocab * C, 0.02f, &s);
    fill_normal(m->wpe, (size_t)ctx * C, 0.01f, &s);
    for (int l = 0; l < layers; l++) {
        ClipLayer *L = &m->layer[l];
        float *ptr[CLIP_LAYER_TENSORS] = {L->ln1w, L->ln1b, L->qkvw, L->qkvb, L->attprojw,
                                          L->attprojb, L->ln2w, L->ln2b, L->fcw, L->fcb,
                                          L->fcprojw, L->fcprojb};
        for (int i = 0; i < CLIP_LAYER_TENSORS; i++) {
            if (i == 0 || i == 6) fill_const(ptr[i], ls[i], 1.0f);           // LN weights
            else if (i % 2 == 1) fill_const(ptr[i], ls[i], 0);  // biases
            else fill_normal(ptr[i], ls[i], 0.02f, &s);
        }
    }
    fill_const(m->lnfw, C, 1.0f);
    fill_const(m->lnfb, C, 0);
    fill_normal(m->proj, (size_t)proj * C, 1.0f / sqrtf((float)width), &s);
    *out = m;
    return CD_OK;
}

// Reads tensor `name` of shape dims into dst (-1 dims are inferred/filled).
static int read_tensor(const SafeTensors *st, const char *name, int ndim, int64_t *shape,
                       float *dst, char *why, size_t whylen) {
    return safetensors_read_f32(st, name, ndim, shape, dst, why, whylen);
}

static int infer_config(const SafeTensors *st, ClipTextConfig *c, char *why, size_t whylen) {
    const char *p = safetensors_path(st);
    int64_t wte[2] = {-1, -1}, wpe[2] = {-1, -1}, fc[2] = {-1, -1}, pj[2] = {-1, -1};
    int rc = safetensors_check_f32(st, "text_model.embeddings.token_embedding.weight", 2, wte, why, whylen);
    if (!rc) {
        wpe[1] = wte[1];
        rc = safetensors_check_f32(st, "text_model.embeddings.position_embedding.weight", 2, wpe, why, whylen);
    }
    if (!rc) {
        pj[1] = wte[1];
        rc = safetensors_check_f32(st, "text_projection.weight", 2, pj, why, whylen);
    }
    if (rc) return rc;
    c->vocab = (int)wte[0];
    c->width = (int)wte[1];
    c->ctx = (int)wpe[0];
    c->proj = (int)pj[0];
    char name[128];
    for (c->layers = 0;; c->layers++) {
        snprintf(name, sizeof name, "text_model.encoder.layers.%d.layer_norm1.weight", c->layers);
        if (!safetensors_find(st, name)) break;
    }
    c->mlp = 4 * c->width;
    if (c->layers > 0) {
        fc[1] = wte[1];
        rc = safetensors_check_f32(st, "text_model.encoder.layers.0.mlp.fc1.weight", 2, fc, why, whylen);
        if (rc) return rc;
        c->mlp = (int)fc[0];
    } else {
        cd_reject(why, whylen, "%s: no text_model.encoder.layers.0.* tensors (not a CLIP text "
                  "model?)", p);
        return CD_EFORMAT;
    }
    const char *h = safetensors_metadata(st, "num_attention_heads");
    if (h) {
        char *end;
        long v = strtol(h, &end, 10);
        if (*end || v < 1 || v > 4096) {
            cd_reject(why, whylen, "%s: __metadata__ num_attention_heads '%s' is not a positive "
                      "integer", p, h);
            return CD_EFORMAT;
        }
        c->heads = (int)v;
    } else if (c->width % 64 == 0) {
        c->heads = c->width / 64;
    } else {
        cd_reject(why, whylen, "%s: width %d is not a multiple of 64 and __metadata__ has no "
                  "num_attention_heads", p, c->width);
        return CD_EFORMAT;
    }
    return check_config(c, why, whylen, p);
}

static int load_weights(ClipText *m, const SafeTensors *st, char *why, size_t whylen) {
    const ClipTextConfig *c = &m->cfg;
    int64_t C = c->width, F = c->mlp;
    char name[160];
    int64_t s[2];
#define RD(nm, dst, d0, d1) (s[0] = (d0), s[1] = (d1), \
        read_tensor(st, nm, (d1) ? 2 : 1, s, dst, why, whylen))
    int rc = RD("text_model.embeddings.token_embedding.weight", m->wte, c->vocab, C);
    if (!rc) rc = RD("text_model.embeddings.position_embedding.weight", m->wpe, c->ctx, C);
    for (int l = 0; !rc && l < c->layers; l++) {
        ClipLayer *L = &m->layer[l];
        const struct { const char *suffix; float *dst; int64_t d0, d1; } T[] = {
            {"layer_norm1.weight", L->ln1w, C, 0}, {"layer_norm1.bias", L->ln1b, C, 0},
            {"self_attn.q_proj.weight", L->qkvw, C, C},
            {"self_attn.k_proj.weight", L->qkvw + C * C, C, C},
            {"self_attn.v_proj.weight", L->qkvw + 2 * C * C, C, C},
            {"self_attn.q_proj.bias", L->qkvb, C, 0}, {"self_attn.k_proj.bias", L->qkvb + C, C, 0},
            {"self_attn.v_proj.bias", L->qkvb + 2 * C, C, 0},
            {"self_attn.out_proj.weight", L->attprojw, C, C},
            {"self_attn.out_proj.bias", L->attprojb, C, 0},
            {"layer_norm2.weight", L->ln2w, C, 0}, {"layer_norm2.bias", L->ln2b, C, 0},
            {"mlp.fc1.weight", L->fcw, F, C}, {"mlp.fc1.bias", L->fcb, F, 0},
            {"mlp.fc2.weight", L->fcprojw, C, F}, {"mlp.fc2.bias", L->fcprojb, C, 0},
        };
        for (size_t i = 0; !rc && i < sizeof T / sizeof T[0]; i++) {
            snprintf(name, sizeof name, "text_model.encoder.layers.%d.%s", l, T[i].suffix);
            rc = RD(name, T[i].dst, T[i].d0, T[i].d1);
        }
    }
    if (!rc) rc = RD("text_model.final_layer_norm.weight", m->lnfw, C, 0);
    if (!rc) rc = RD("text_model.final_layer_norm.bias", m->lnfb, C, 0);
    if (!rc) rc = RD("text_projection.weight", m->proj, c->proj, C);
#undef RD
    return rc;
}

int clip_text_load(ClipText **out, const char *path, char *why, size_t whylen) {
    *out = NULL;
    SafeTensors *st = NULL;
    int rc = safetensors_open(&st, path, why, whylen);
    if (rc) return rc;
    ClipText *m = cd_calloc(1, sizeof *m);
    if (!m) rc = CD_ENOMEM;
    if (!rc) rc = infer_config(st, &m->cfg, why, whylen);
    if (!rc && alloc_params(m)) {
        rc = CD_ENOMEM;
        cd_reject(why, whylen, "%s: out of memory for %zu parameters", path, m->n_params);
    }
    if (!rc) rc = load_weights(m, st, why, whylen);
    safetensors_close(st);
    if (rc) {
        clip_text_free(m);
        return rc;
    }
    *out = m;
    return CD_OK;
}
