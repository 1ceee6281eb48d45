// workdir.h - what a training run leaves in its work dir, in one place, so
// a second run there can neither overwrite a finished one silently nor mix
// its outputs with the old ones (a report built from a new metrics.jsonl and
// an old features.h5).
//
// The outputs of a run: config.yaml, checkpoint-last.h5, epochNNN.h5,
// best.h5, the metrics file (cocodiff.metrics_file, metrics.jsonl), log.txt,
// features.h5, diversity.json, eval/ (the pipeline's evaluation: its
// scores.h5 and metrics.json), and scores.h5 / metrics.json (phase: test).
#pragma once
#include <stddef.h>

// A run was there: checkpoint-last.h5 or an epochNNN.h5. Without resume or
// overwrite that is a refusal: CD_EARG with why naming the work dir, the
// checkpoint's place and both flags. CD_OK otherwise (nothing there, or
// resume / overwrite given).
int workdir_check(const char *dir, int resume, int overwrite, char *why, size_t whylen);

// --overwrite: deletes every output of the old run listed above (nothing
// else: files of the user's stay). *removed counts the files deleted.
// CD_OK, or CD_EIO with why naming the file that would not go.
int workdir_clear(const char *dir, const char *metrics_file, int *removed, char *why, size_t whylen);
