// ntu.h - NTU RGB+D .skeleton samples: name parsing, parsing, denoising and
// normalisation exactly like the reference (CTR-GCN/SGN get_raw_skes_data.py,
// get_raw_denoised_data.py, seq_transformation.py).
#pragma once
#include <stddef.h>

typedef struct NtuName {
    int setup, camera, performer, replication, action;   // all 1-based
} NtuName;

// Parses "SsssCcccPpppRrrrAaaa" (exactly 20 characters). CD_OK or CD_EFORMAT.
int ntu_name_parse(const char *name, NtuName *out);

// One raw body track as the reference builds it: frames are stacked in the
// order the body appears, and its interval starts at the first non-empty
// frame it appears in and runs contiguously (the reference's quirk).
typedef struct NtuBody {
    char id[32];
    int start;        // first frame index (among non-empty frames)
    int count;        // frames stacked
    int cap;
    float *xyz;       // (count, 25, 3)
    double motion;    // sum over x,y,z of the variance over frames*joints
} NtuBody;

typedef struct NtuRaw {
    int frames;       // non-empty frames (frames with no body are dropped)
    int file_frames;  // numFrame in the file
    int nbodies;
    int cap;
    NtuBody *bodies;  // in order of first appearance
} NtuRaw;

// Parses .skeleton text (LF or CRLF); text[len] must be 0 (parsing relies on
// a terminator after the last number). Rejects (CD_EREJECT, reason in why)
// truncated files, wrong counts, non-numbers, NaN/Inf, more bodies in one
// frame than Kinect tracks (6), and files whose every frame is empty.
int ntu_parse(const char *text, size_t len, NtuRaw *raw, char *why, size_t whylen);
void ntu_raw_free(NtuRaw *raw);

// Denoises and normalises into out (SKEL_T, 2, 25, 3), zero-padded, and sets
// *frames. copy_single (NTU120's convention) copies actor 1 into actor 2
// when only one actor is left; otherwise actor 2 stays zero.
// Rejects samples with more than SKEL_T frames or no body left.
int ntu_prepare_raw(NtuRaw *raw, int copy_single, float *out, int *frames, char *why, size_t whylen);

// Both steps on one member's text.
int ntu_prepare(const char *text, size_t len, int copy_single, float *out, int *frames,
                char *why, size_t whylen);
