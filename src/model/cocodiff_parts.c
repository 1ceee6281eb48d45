// cocodiff_parts.c - body-part joint sets and part-token pooling for the
// CoCoDiff module (see cocodiff.h; docs/method.md "CoCoDiff module", step 1).
//
// Part files are data (datasets/parts/ntu25.tsv, openpose18.tsv): one line
// per part, the name then the 0-based joint ids. The parser reports the first
// problem with its line number into a caller buffer; part_sets_load adds the
// path and reports it through CD_ERR.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "datadir.h"
#include "fsutil.h"
#include "status.h"

const char *const cocodiff_part_names[COCODIFF_PARTS] = {"head", "hand", "arm", "hip", "leg", "foot"};

// ---------------------------------------------------------------------------
// Parsing

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Next whitespace-separated field of [*s, end): returns its length, *s at its start.
static size_t next_field(const char **s, const char *end) {
    while (*s < end && is_space(**s)) (*s)++;
    const char *e = *s;
    while (e < end && !is_space(*e)) e++;
    return (size_t)(e - *s);
}

static int part_index(const char *name, size_t len) {
    for (int p = 0; p < COCODIFF_PARTS; p++)
        if (strlen(cocodiff_part_names[p]) == len && !strncmp(cocodiff_part_names[p], name, len))
            return p;
    return -1;
}

int part_sets_parse(PartSets *p, const char *text, int V, char *why, size_t whylen) {
    memset(p, 0, sizeof *p);
    if (V < 1) {
        cd_reject(why, whylen, "V = %d: the layout needs at least one joint", V);
        return CD_EARG;
    }
    p->V = V;
    int seen[COCODIFF_PARTS] = {0};
    int lineno = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        const char *end = nl ? nl : s + strlen(s);
        lineno++;
        const char *f = s;
        size_t len = next_field(&f, end);
        if (len == 0 || *f == '#') {   // blank or comment
            s = nl ? nl + 1 : end;
            continue;
        }
        int part = part_index(f, len);
        if (part < 0) {
            cd_reject(why, whylen, "line %d: unknown part '%.*s' (known: head hand arm hip leg foot)",
                      lineno, (int)(len > 32 ? 32 : len), f);
            return CD_EFORMAT;
        }
        if (seen[part]) {
            cd_reject(why, whylen, "line %d: part '%s' listed twice", lineno, cocodiff_part_names[part]);
            return CD_EFORMAT;
        }
        seen[part] = 1;
        f += len;
        while ((len = next_field(&f, end)) > 0) {
            char buf[32];
            if (len >= sizeof buf) len = sizeof buf - 1;
            memcpy(buf, f, len);
            buf[len] = 0;
            f += len;
            char *e;
            errno = 0;
            long id = strtol(buf, &e, 10);
            if (*e || errno || e == buf) {
                cd_reject(why, whylen, "line %d: part '%s': '%s' is not a joint id", lineno,
                          cocodiff_part_names[part], buf);
                return CD_EFORMAT;
            }
            if (id < 0 || id >= V) {
                cd_reject(why, whylen, "line %d: part '%s': joint %ld is out of range [0, V = %d)",
                          lineno, cocodiff_part_names[part], id, V);
                return CD_EFORMAT;
            }
            for (int k = 0; k < p->n[part]; k++)
                if (p->joint[part][k] == id) {
                    cd_reject(why, whylen, "line %d: part '%s': joint %ld listed twice", lineno,
                              cocodiff_part_names[part], id);
                    return CD_EFORMAT;
                }
            if (p->n[part] == COCODIFF_PART_MAX_JOINTS) {
                cd_reject(why, whylen, "line %d: part '%s': more than %d joints", lineno,
                          cocodiff_part_names[part], COCODIFF_PART_MAX_JOINTS);
                return CD_EFORMAT;
            }
            p->joint[part][p->n[part]++] = (int)id;
        }
        if (p->n[part] == 0) {
            cd_reject(why, whylen, "line %d: part '%s' is empty (needs at least one joint id)", lineno,
                      cocodiff_part_names[part]);
            return CD_EFORMAT;
        }
        s = nl ? nl + 1 : end;
    }
    for (int q = 0; q < COCODIFF_PARTS; q++)
        if (!seen[q]) {
            cd_reject(why, whylen, "part '%s' is missing (every part needs a line)", cocodiff_part_names[q]);
            return CD_EFORMAT;
        }
    return CD_OK;
}

int part_sets_load(const char *given, int V, PartSets *p) {
    char path[4200], where[8192];
    if (datadir_find(given, path, sizeof path, where, sizeof where) != CD_OK) {   // shipped with the programs
        CD_ERR("part file %s", where);
        return CD_EIO;
    }
    char *text = NULL;
    int rc = fs_read_all(path, FS_MAX_CONFIG, &text, NULL);
    if (rc) {
        char b[96];
        CD_ERR("%s: cannot read the part file: %s", path, fs_read_why(errno, FS_MAX_CONFIG, b, sizeof b));
        return rc;
    }
    char why[256];
    rc = part_sets_parse(p, text, V, why, sizeof why);
    free(text);
    if (rc != CD_OK) CD_ERR("%s: %s\nHINT: a part file has one line per part: name, then 0-based joint ids",
                            path, why);
    return rc;
}

// ---------------------------------------------------------------------------
// Pooling

// Per (b, c): walk every (m, t) row of V joints once, adding it to the
// global sum and each part's joints to the part's sum (double).
void cocodiff_pool_parts(float *out, const float *feat, int B, int M, int C, int T, int V,
                         const PartSets *p) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double all = 0, ps[COCODIFF_PARTS] = {0};
            for (int m = 0; m < M; m++) {
                const float *x = feat + (((size_t)b * M + m) * C + c) * (size_t)T * V;
                for (int t = 0; t < T; t++) {
                    const float *r = x + (size_t)t * V;
                    for (int v = 0; v < V; v++) all += r[v];
                    for (int q = 0; q < COCODIFF_PARTS; q++)
                        for (int k = 0; k < p->n[q]; k++) ps[q] += r[p->joint[q][k]];
                }
            }
            float *o = out + (size_t)b * COCODIFF_TOKENS * C + c;
            o[0] = (float)(all / ((double)M * T * V));
            for (int q = 0; q < COCODIFF_PARTS; q++)
                o[(size_t)(q + 1) * C] = (float)(ps[q] / ((double)M * T * p->n[q]));
        }
}

void cocodiff_pool_parts_backward(float *dfeat, const float *dout, int B, int M, int C, int T,
                                  int V, const PartSets *p) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *d = dout + (size_t)b * COCODIFF_TOKENS * C + c;
            float g0 = (float)((double)d[0] / ((double)M * T * V)), gq[COCODIFF_PARTS];
            for (int q = 0; q < COCODIFF_PARTS; q++)
                gq[q] = (float)((double)d[(size_t)(q + 1) * C] / ((double)M * T * p->n[q]));
            for (int m = 0; m < M; m++) {
                float *x = dfeat + (((size_t)b * M + m) * C + c) * (size_t)T * V;
                for (int t = 0; t < T; t++) {
                    float *r = x + (size_t)t * V;
                    for (int v = 0; v < V; v++) r[v] += g0;
                    for (int q = 0; q < COCODIFF_PARTS; q++)
                        for (int k = 0; k < p->n[q]; k++) r[p->joint[q][k]] += gq[q];
                }
            }
        }
}
