// dataset.h - the dataset formats cocodiff-prep reads, as one table: a
// format says what its archive members are, how one sample is prepared
// (exactly like the reference code), which benchmark files it gives and
// which sample goes to /train or /test of each. prep.c runs any format the
// same way; nothing else in the stage knows a dataset.
//
// Adding a dataset is its own file (e.g. src/data/ntu.c, kinetics.c), which
// defines its SkelLayout (skeleton.h) and a `const DatasetFormat
// dataset_NAME`, plus one line for each in the table of src/data/dataset.c.
//
//   const DatasetFormat *f = dataset_find("ntu60");   // NULL: unknown
//   f->member(path, &s, why, sizeof why) ... f->prepare(text, len, out, &label, &frames, ...)
//   (or f->prepare_seq(text, len, &seq, &T, &label, ...) for a raw-sequence format)
//
// defines: DatasetSample, DatasetFormat, DATASET_*, dataset_find, dataset_count, dataset_get,
//          dataset_names
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "skeleton.h"

#define DATASET_NAME_MAX 40   // bytes of a sample name, NUL included
#define DATASET_MAX_BENCH 4   // benchmark files of one format at most
#define DATASET_MAX_PARTS 2   // parts (with side files) of one format at most

// What a format's member() says about one archive member.
typedef struct DatasetSample {
    char name[DATASET_NAME_MAX];   // the sample name: sort key, stored in /name
    int32_t label;                 // 0-based class; -1: prepare() reads it from the content
    int32_t part;                  // the format's part (Kinetics: 0 kinetics_train, 1 kinetics_val), else 0
} DatasetSample;

// member() results besides CD_OK (a sample) and CD_EREJECT (unexpected name).
enum { DATASET_OUTSIDE = 1 };
// vouch() results besides CD_EREJECT.
enum { DATASET_KEEP = 0, DATASET_EXCLUDE = 1 };

typedef struct DatasetFormat {
    const char *name;                 // --dataset; the files' `dataset` attribute; DIR/NAME-rejects.tsv
    const SkelLayout *layout;
    int num_class;
    int nbench;
    const char *bench[DATASET_MAX_BENCH];   // benchmark names = output file stems ("ntu60-xsub")
    // The class names prep writes into its files (/class_name): the shipped
    // list (a descriptions.tsv: id, name; found as datadir.h says), whose
    // ids start at class_id_base; class_code, when set, is the printf format
    // of the official class number put before each name ("A%03d": "A001
    // drink water", as NTU's papers and lists number them).
    const char *classes;
    int class_id_base;
    const char *class_code;

    // An archive member's path (a regular file, not a side file): CD_OK and
    // s filled; DATASET_OUTSIDE (a member of another dataset: skipped and
    // counted); CD_EREJECT with the reason in why (s->name, if set, is the
    // name to report; else the member's base name).
    int (*member)(const char *path, DatasetSample *s, char *why, size_t whylen);
    // One member's bytes (text[len] == 0) into out (SKEL_T, SKEL_M, V, SKEL_C),
    // zero-padded; *frames = its non-empty frames; *label when the content
    // carries it (member() said -1). CD_OK, CD_EREJECT (why), CD_ENOMEM.
    int (*prepare)(const char *text, size_t len, float *out, int *label, int *frames, char *why,
                   size_t whylen);
    // Raw-sequence formats (the layout has a seq_transform; NW-UCLA) set
    // this instead of prepare: one member's bytes into *seq (T, V, SKEL_C)
    // float64 as recorded (malloc'ed) and *T >= 1; *label as prepare's.
    // CD_OK, CD_EREJECT (why), CD_ENOMEM.
    int (*prepare_seq)(const char *text, size_t len, double **seq, int *T, int *label, char *why,
                       size_t whylen);
    // The group (0 /train, 1 /test) of a sample in benchmark b (0..nbench-1).
    int (*group)(int b, const DatasetSample *s);

    // Side files (Kinetics' label files): side[p] is the member whose base
    // name vouches for part p's samples (NULL: the format has none). Every
    // rank reads them; a sample of part p needs side[p] in the inputs.
    const char *side[DATASET_MAX_PARTS];
    const char *part_name[DATASET_MAX_PARTS];   // for messages ("kinetics_val")
    // Parses side file p into *state. CD_OK, or CD_EFORMAT with why.
    int (*side_read)(void **state, int p, const char *text, size_t len, char *why, size_t whylen);
    // After every sample is known: DATASET_KEEP, DATASET_EXCLUDE (left out,
    // counted as excluded) or CD_EREJECT (why), given its part's side state.
    int (*vouch)(const void *state, const DatasetSample *s, char *why, size_t whylen);
    void (*side_free)(void *state);
} DatasetFormat;

// The format called name, or NULL.
const DatasetFormat *dataset_find(const char *name);
// The formats in table order: i in [0, dataset_count()).
int dataset_count(void);
const DatasetFormat *dataset_get(int i);
// The formats' names joined by sep ("ntu60|ntu120|kinetics"), into buf
// (truncated to len).
void dataset_names(char *buf, size_t len, const char *sep);
