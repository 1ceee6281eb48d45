// fold.h - cross-validation folds of a training split, by subject
// (cocodiff.folds / cocodiff.fold; slurm/submit-sweep --folds K).
//
// A sample's subject is its performer for NTU names (SsssCcccPpppRrrrAaaa:
// P = subject); a name with no subject (Kinetics) is its own subject, keyed
// by a 64-bit hash of the name. The distinct subjects of the split, sorted
// by key (NTU: by performer number), go round-robin into K folds: the
// subject of rank r is in fold r mod K. Fold i of K holds out every sample
// of its subjects for evaluation and trains on the rest. The assignment is a
// function of the names alone (not of the rank count or the sample order).
//
//   FoldSplit s;
//   if (fold_split_file(path, 5, 2, &s, why, sizeof why)) ...   // fold 2 of 5
//   loader_open_subset(&train, path, 0, s.train, s.ntrain, ...);
//   loader_open_subset(&held, path, 0, s.held, s.nheld, ...);
//   fold_split_free(&s);
#pragma once
#include <stddef.h>
#include <stdint.h>

// Keys of names without a subject have this bit set (NTU keys are the
// performer number, 1..999).
#define FOLD_HASHED_KEY (1ULL << 63)

// The subject key of a name (len bytes, NUL padding allowed): the performer
// of an NTU name, else FOLD_HASHED_KEY | a hash of the name (without its
// padding).
uint64_t fold_subject(const char *name, size_t len);

// Writes the subject's name into buf: "P007" for an NTU performer,
// "#1f2e3d4c" (the hash's low 32 bits) otherwise.
void fold_subject_name(uint64_t key, char *buf, size_t len);

// fold_of[i] (0..K-1) for n samples (names: n * name_len bytes, each NUL
// padded): distinct subjects sorted by key, subject rank r -> fold r mod K;
// *nsubjects (may be NULL) gets the number of distinct subjects. CD_OK,
// CD_EARG (K < 2, or fewer subjects than K: the reason in why) or CD_ENOMEM.
int fold_assign(const char *names, int64_t n, int name_len, int K, int *fold_of, int *nsubjects,
                char *why, size_t whylen);

typedef struct FoldSplit {
    int K, fold;
    int64_t *train, *held;       // dataset indices of /train, ascending
    int64_t ntrain, nheld;
    int nsubjects, nheld_subjects;
    int hashed;                  // 1: some names have no subject (keyed by their hash)
    char held_names[256];        // the held-out subjects ("P001 P013 ..."; "..." when cut)
} FoldSplit;

// Reads the /train names of a cocodiff-prep file (h5io) and splits them for
// fold `fold` of K. CD_OK; CD_EARG (K < 2, fold outside [0, K), fewer
// subjects than K), CD_EIO / CD_EFORMAT (unreadable file) or CD_ENOMEM, with
// a message naming the file in why. *s is always freeable.
int fold_split_file(const char *path, int K, int fold, FoldSplit *s, char *why, size_t whylen);
void fold_split_free(FoldSplit *s);   // NULL is fine

// The low-data subset: of the n samples idx[] (dataset indices, ascending)
// with labels label[] (of those samples), per class the first
// max(1, round(fraction * n_k)) in a shuffled order that depends only on
// the indices and labels (not on the run's seed), returned ascending in
// *out (malloc'ed), *nout of them. fraction in (0, 1]. CD_OK, CD_EARG or
// CD_ENOMEM.
int fold_fraction(const int64_t *idx, const int32_t *label, int64_t n, double fraction, int64_t **out,
                  int64_t *nout);

