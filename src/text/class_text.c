// class_text.c - the class texts in label order and the text controls (see
// class_text.h).
#include "class_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocodiff.h"
#include "crng.h"
#include "h5io_embed.h"
#include "status.h"

#define SALT 0x636c732d74657874ULL   // "cls-text"
enum { P_PERM = 1, P_RANDOM = 2 };

int class_text_load(const char *path, int K, float **coarse, float **fine, int *D, char *why, size_t whylen) {
    H5Embed e;
    memset(&e, 0, sizeof e);
    *coarse = *fine = NULL;
    if (h5io_embed_read(path, &e) != CD_OK)
        return cd_why(why, whylen, CD_EARG, "cocodiff.text %.900s: not a readable cocodiff-embed file", path);
    int rc = CD_OK;
    if (e.K != K || e.nparts != COCODIFF_PARTS)
        rc = cd_why(why, whylen, CD_EARG, "cocodiff.text %.900s has %d classes and %d parts; model_args.num_class is %d "
                    "(HINT: embed the descriptions of this dataset)", path, e.K, e.nparts, K);
    *coarse = rc ? NULL : cd_malloc((size_t)K * e.D * sizeof(float));
    *fine = rc ? NULL : cd_malloc((size_t)K * COCODIFF_PARTS * e.D * sizeof(float));
    char *seen = rc ? NULL : cd_calloc((size_t)K, 1);
    if (!rc && (!*coarse || !*fine || !seen)) rc = CD_ENOMEM;
    int base = !rc && e.class_id[0] == 1;
    for (int i = 0; i < K && !rc; i++) {
        int64_t k = (int64_t)e.class_id[i] - base;
        if (k < 0 || k >= K || seen[k]) {
            rc = cd_why(why, whylen, CD_EARG, "cocodiff.text %.900s: class_id %d (row %d) maps to label %lld, %s", path,
                        e.class_id[i], i, (long long)k, k < 0 || k >= K ? "outside [0, num_class)" : "twice");
            break;
        }
        seen[k] = 1;
        memcpy(*coarse + (size_t)k * e.D, e.coarse + (size_t)i * e.D, (size_t)e.D * sizeof(float));
        memcpy(*fine + (size_t)k * COCODIFF_PARTS * e.D, e.fine + (size_t)i * COCODIFF_PARTS * e.D,
               (size_t)COCODIFF_PARTS * e.D * sizeof(float));
    }
    *D = e.D;
    free(seen);
    h5io_embed_free(&e);
    if (rc) { free(*coarse); free(*fine); *coarse = *fine = NULL; }
    return rc;
}

int class_text_derangement(const int *classes, int n, uint64_t seed, int32_t *perm) {
    int *ord = cd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!ord) return CD_ENOMEM;
    Crng r = crng_make(SALT, seed, 0, 0, P_PERM);
    memcpy(ord, classes, (size_t)n * sizeof(int));
    for (int j = n - 1; j > 0; j--) {   // Fisher-Yates
        int k = (int)crng_below(&r, j + 1), t = ord[j];
        ord[j] = ord[k];
        ord[k] = t;
    }
    for (int j = 0; j < n; j++) perm[ord[j]] = ord[(j + 1) % n];
    free(ord);
    return CD_OK;
}

void class_text_random(const float *coarse, const float *fine, int K, int D, uint64_t seed, float *rcoarse,
                       float *rfine) {
    for (size_t row = 0; row < (size_t)K * (1 + COCODIFF_PARTS); row++) {
        const float *src = row < (size_t)K ? coarse + row * D : fine + (row - K) * D;
        float *dst = row < (size_t)K ? rcoarse + row * D : rfine + (row - K) * D;
        Crng r = crng_make(SALT, seed, 0, (int64_t)row, P_RANDOM);
        crng_normals(&r, dst, (size_t)D);
        double a = 0, b = 0;
        for (int k = 0; k < D; k++) {
            a += (double)src[k] * src[k];
            b += (double)dst[k] * dst[k];
        }
        double s = b > 0 ? sqrt(a / b) : 0;
        for (int k = 0; k < D; k++) dst[k] = (float)(dst[k] * s);
    }
}

int class_text_control(ClassTextControl c, int K, int D, uint64_t seed, float *coarse, float *fine) {
    if (c == CLASS_TEXT_AS_IS) return CD_OK;
    size_t nc = (size_t)K * D, nf = nc * COCODIFF_PARTS;
    float *oc = cd_malloc(nc * sizeof(float)), *of = cd_malloc(nf * sizeof(float));
    int *all = cd_malloc((size_t)K * sizeof(int));
    int32_t *perm = cd_malloc((size_t)K * sizeof(int32_t));
    if (!oc || !of || !all || !perm) { free(oc); free(of); free(all); free(perm); return CD_ENOMEM; }
    memcpy(oc, coarse, nc * sizeof(float));
    memcpy(of, fine, nf * sizeof(float));
    if (c == CLASS_TEXT_RANDOM) {
        class_text_random(oc, of, K, D, seed, coarse, fine);
    } else if (K >= 2) {
        for (int k = 0; k < K; k++) all[k] = perm[k] = k;
        if (class_text_derangement(all, K, seed, perm)) { free(oc); free(of); free(all); free(perm); return CD_ENOMEM; }
        for (int k = 0; k < K; k++) {
            memcpy(coarse + (size_t)k * D, oc + (size_t)perm[k] * D, (size_t)D * sizeof(float));
            memcpy(fine + (size_t)k * COCODIFF_PARTS * D, of + (size_t)perm[k] * COCODIFF_PARTS * D,
                   (size_t)COCODIFF_PARTS * D * sizeof(float));
        }
    }
    free(oc); free(of); free(all); free(perm);
    return CD_OK;
}
