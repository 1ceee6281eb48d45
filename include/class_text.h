// class_text.h - the class texts the CoCoDiff module reads (a cocodiff-embed
// file's coarse and fine embeddings, in label order) and the text controls
// that tell text-guided generation from any class code: the same texts
// handed to the wrong classes (shuffled), or random vectors of the same
// norms (random).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum ClassTextControl {
    CLASS_TEXT_AS_IS = 0,
    CLASS_TEXT_SHUFFLED = 1,   // class k gets the texts of class perm[k], a derangement
    CLASS_TEXT_RANDOM = 2,     // every row a Gaussian vector of that row's norm
} ClassTextControl;

// Reads path; row k of coarse (K, D) / fine (K, 6, D) is the class whose
// label is k (NTU: id - 1 when the ids are 1-based, class_id[0] == 1;
// Kinetics: id). The arrays are malloc'ed. CD_OK, or CD_EARG / CD_ENOMEM
// with the reason (file named) in why.
int class_text_load(const char *path, int K, float **coarse, float **fine, int *D, char *why, size_t whylen);

// perm: for each of the n classes in classes[], another of them, every one
// used once (a seeded derangement: a shuffled order, each class handed the
// next one's texts). Entries of perm for other classes are left as they are.
// n >= 2. CD_OK or CD_ENOMEM.
int class_text_derangement(const int *classes, int n, uint64_t seed, int32_t *perm);

// rcoarse (K, D), rfine (K, 6, D): seeded Gaussian rows, each scaled to the
// norm of the same row of coarse / fine.
void class_text_random(const float *coarse, const float *fine, int K, int D, uint64_t seed, float *rcoarse,
                       float *rfine);

// Applies a control to the tables in place (over all K classes). CD_OK or
// CD_ENOMEM.
int class_text_control(ClassTextControl c, int K, int D, uint64_t seed, float *coarse, float *fine);
