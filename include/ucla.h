// ucla.h - NW-UCLA Multiview Action 3D skeleton sequences, as CTR-GCN's
// feeders/feeder_ucla.py reads them: member names, split, labels, class
// names, bone pairs and one sequence's JSON.
//
// Names: all_sqe/aAA_sSS_eEE_vVV.json (action, subject, episode, view).
// Split and labels: the official feeder lists them (data_dict); the rule
// here gives that list exactly (checked by scripts/ref/make_ucla_reference.py
// over the whole archive): views 1 and 2 train (1,020), view 3 test (464);
// label = position of the action id in (1, 2, 3, 4, 5, 6, 8, 9, 11, 12),
// 0..9 (the official data_dict's label - 1).
// Joints: Kinect v1, 20 (0-based): 0 HipCenter 1 Spine 2 ShoulderCenter
// 3 Head 4 ShoulderLeft 5 ElbowLeft 6 WristLeft 7 HandLeft 8 ShoulderRight
// 9 ElbowRight 10 WristRight 11 HandRight 12 HipLeft 13 KneeLeft
// 14 AnkleLeft 15 FootLeft 16 HipRight 17 KneeRight 18 AnkleRight
// 19 FootRight.
#pragma once
#include <stddef.h>

#define UCLA_V 20           // joints
#define UCLA_C 3            // x y z
#define UCLA_NUM_CLASS 10
#define UCLA_NAME_LEN 15    // "a01_s01_e00_v01"

typedef struct UclaName {
    int action, subject, episode, view;   // as written (action 1..12, view 1..3)
} UclaName;

// Parses "aAA_sSS_eEE_vVV" (exactly 15 characters, two digits each).
// CD_OK or CD_EFORMAT.
int ucla_name_parse(const char *name, UclaName *out);

// An archive member's path ("all_sqe/a01_s01_e00_v01.json", any folder):
// its name (base name without ".json", into name[UCLA_NAME_LEN + 1]), label
// and split (0 train, 1 test). CD_OK; CD_EREJECT with the reason for a name
// that is not aAA_sSS_eEE_vVV.json, an action outside the ten classes or a
// view outside 1..3.
int ucla_member(const char *path, char *name, UclaName *n, int *label, int *split, char *why,
                size_t whylen);

// Label 0..9 of an action id, or -1; and back (-1 for a bad label).
int ucla_label(int action);
int ucla_action(int label);
// The class name of label 0..9 ("pick up with one hand", ...), NULL otherwise.
const char *ucla_class_name(int label);

// Bone partner of each joint (0-based): the official feeder's bone pairs
// (1-based (v, partner), (3, 3) for the root ShoulderCenter), so
// bone[v] = joint[v] - joint[parent[v]] and the root's bone is zero.
const int *ucla_bone_parents(void);

// One sequence's JSON {"file_name": ..., "skeletons": [[[x, y, z] x 20] x T]}
// into *xyz (T, 20, 3) doubles (malloc'ed; the official feeder computes in
// float64 from these numbers) and *frames = T. CD_OK; CD_EREJECT with the
// reason for malformed JSON, no "skeletons" array, no frames, a frame
// without 20 joints, a joint without 3 numbers, a non-finite number (NaN,
// Infinity, overflow); CD_ENOMEM.
int ucla_parse(const char *json, size_t len, double **xyz, int *frames, char *why, size_t whylen);
