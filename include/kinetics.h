// kinetics.h - Kinetics-Skeleton (ST-GCN) clips and label files, prepared
// exactly like ST-GCN's feeder_kinetics.py + kinetics_gendata.py.
#pragma once
#include <stddef.h>

typedef struct KineticsLabels KineticsLabels;

// Parses kinetics_{train,val}_label.json: {video_id: {"has_skeleton": bool,
// "label": str, "label_index": int}}. CD_OK, or CD_EFORMAT with why.
int kinetics_labels_parse(const char *json, size_t len, KineticsLabels **out, char *why,
                          size_t whylen);
// CD_OK and fills label_index / has_skeleton; CD_EFORMAT if id is unknown.
int kinetics_labels_find(const KineticsLabels *labels, const char *video_id, int *label_index,
                         int *has_skeleton);
int kinetics_labels_count(const KineticsLabels *labels);
void kinetics_labels_free(KineticsLabels *labels);

// One clip JSON into out (SKEL_T, 2, 18, 3) = (t, m, v, {x, y, score}),
// zero-padded: first 5 people of each frame, x,y -= 0.5, x = y = 0 where
// score == 0, per frame people sorted by summed score (stable) and top 2 kept.
// *label_index is the clip's own label_index; *frames = frames not all zero.
// Rejects malformed JSON, wrong pose/score lengths, non-finite numbers,
// frame_index outside [0, 300).
int kinetics_prepare(const char *json, size_t len, float *out, int *label_index, int *frames,
                     char *why, size_t whylen);
