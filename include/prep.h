// prep.h - the prep stage: official archives in, one HDF5 file per benchmark
// split out (see README "cocodiff-prep").
#pragma once
#include "dataset.h"
#include "dist.h"

#define PREP_MAX_INPUTS 16

typedef struct PrepConfig {
    const DatasetFormat *dataset;   // dataset_find(--dataset)
    const char *inputs[PREP_MAX_INPUTS];
    int ninputs;
    const char *excludes[PREP_MAX_INPUTS];   // sample-name lists to leave out
    int nexcludes;
    const char *out_dir;
    int strict;            // the first rejected sample fails the run
    double progress_s;     // seconds between progress lines
    double max_member_mb;  // a larger archive member is rejected (memory is bounded by it); 0: the default
} PrepConfig;

// The default --max-member-mb: above NTU's largest .skeleton (a few MB) and
// Kinetics' largest clip (49 MB), which takes about 12x its size to parse.
#define PREP_DEFAULT_MAX_MEMBER_MB 64

// Exit codes of cocodiff-prep (README "Exit codes").
enum { PREP_EXIT_OK = 0, PREP_EXIT_ERROR = 1, PREP_EXIT_USAGE = 2, PREP_EXIT_REJECT = 3 };

// Runs the whole stage on every rank; returns a PREP_EXIT_* code that all
// ranks agree on.
int prep_run(const Dist *d, const PrepConfig *cfg);
