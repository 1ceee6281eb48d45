// skeleton.h - joint layouts and the per-sample tensor shared by the stages.
//
// A prepared sample is kept as (T, M, V, C) floats, T = SKEL_T frames (zero
// after skel_span), M = 2 persons, the order of the reference's (frames, 150)
// NTU rows (m*75 + v*3 + c). The HDF5 file stores (C, T=300, V, M) per sample
// (the CTR-GCN feeder's layout); h5io does that transpose when writing.
#pragma once
#include <stddef.h>

#define SKEL_T 300   // frames every sample is padded to
#define SKEL_M 2     // persons kept per sample
#define SKEL_C 3     // NTU: x y z; Kinetics: x y score

#define NTU_V 25
#define KINETICS_V 18

typedef enum SkelLayout { SKEL_LAYOUT_NTU25 = 0, SKEL_LAYOUT_OPENPOSE18 = 1 } SkelLayout;

static inline int skel_layout_joints(SkelLayout l) { return l == SKEL_LAYOUT_NTU25 ? NTU_V : KINETICS_V; }
static inline const char *skel_layout_name(SkelLayout l) {
    return l == SKEL_LAYOUT_NTU25 ? "ntu25-kinect-v2" : "openpose18";
}

// The frames a prepared (SKEL_T, M, V, C) sample spans: its last frame with a
// non-zero value, plus one (0 if all zero). Every later frame is zero, so the
// first `span` frames hold the whole sample. This, not a count of non-empty
// frames, is the length to copy or store: Kinetics clips have empty frames
// between non-empty ones, and a count cuts everything after the first gap.
static inline int skel_span(const float *tmvc, int V) {
    const size_t frame = (size_t)SKEL_M * V * SKEL_C;
    for (int t = SKEL_T; t > 0; t--)
        for (size_t i = 0; i < frame; i++)
            if (tmvc[(size_t)(t - 1) * frame + i] != 0.0f) return t;
    return 0;
}
