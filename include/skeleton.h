// skeleton.h - skeleton layouts and the per-sample tensor shared by the stages.
//
// A prepared sample is kept as (T, M, V, C) floats, T = SKEL_T frames (zero
// after skel_span), M = 2 persons, the order of the reference's (frames, 150)
// NTU rows (m*75 + v*3 + c). The HDF5 file stores (C, T=300, V, M) per sample
// (the CTR-GCN feeder's layout); h5io does that transpose when writing.
//
// A SkelLayout is everything about one joint layout, in one place: its names
// (the prep file's `layout` attribute, the checkpoint's `graph` attribute,
// the official config's model_args.graph), the joints, the graph's inward
// edges, the bone pairs, the default body-part file and the official feeder
// that reads it. Each dataset's file defines its layout (ntu.c: ntu25,
// kinetics.c: openpose18, ucla.c: ucla20); dataset.c lists them.
//
// Two kinds of prep files (h5io_prep.h): padded samples (C, 300, V, 2), the
// NTU feeder's input, and raw sequences ((T, V, C) float64 as recorded, T
// per sample; NW-UCLA), which the layout's official feeder transforms whole
// (seq_transform).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SKEL_T 300   // frames every sample is padded to
#define SKEL_M 2     // persons kept per sample
#define SKEL_C 3     // NTU: x y z; Kinetics: x y score

#define NTU_V 25
#define KINETICS_V 18

#define SKEL_MAX_V 32   // joints of any layout at most

struct FeederConfig;   // feeder.h

typedef struct SkelLayout {
    const char *name;              // the prep file's `layout` attribute ("ntu25-kinect-v2")
    const char *graph;             // the short name, the checkpoint's `graph` attribute ("ntu25")
    const char *aliases[2];        // also accepted as model_args.graph ("ntu", "graph.ntu_rgb_d.Graph")
    int V;                         // joints (<= SKEL_MAX_V)
    const char *const *joints;     // (V) joint names, 0-based
    const int (*inward)[2];        // (ninward) graph edges (child, parent), 0-based
    int ninward;
    const int *bone_parent;        // (V) bone[v] = joint[v] - joint[bone_parent[v]] (itself: a zero bone)
    const char *parts;             // the default body-part file (cocodiff.parts), relative to the repo
    const char *feeder;            // the official feeder class that reads this layout's data
    int M;                         // persons a sample of the official feeder holds (NW-UCLA 1)
    int window;                    // the official feeder's frames (64; NW-UCLA's time_steps 52)
    // Raw-sequence layouts: the official feeder's transform of one sequence
    // seq (T, V, SKEL_C) float64 into out (SKEL_C, f->window, V, M) floats,
    // its draws keyed by (seed, epoch, index). NULL: padded samples, read by
    // feeder_transform (feeder.h). CD_OK, CD_EARG or CD_ENOMEM.
    int (*seq_transform)(const struct FeederConfig *f, float *out, const double *seq, int T,
                         uint64_t seed, int epoch, int64_t index);
} SkelLayout;

// The layout of any of its names (name, graph or an alias; case-sensitive),
// or NULL. Layouts are listed in dataset.c.
const SkelLayout *skel_layout_find(const char *name);
// The layouts in table order, NULL past the last (i >= 0).
const SkelLayout *skel_layout_get(int i);
// The only layout with V joints, or NULL (none, or more than one).
const SkelLayout *skel_layout_of_joints(int V);
// Every layout's official model_args.graph (its last alias), as "a, b or
// c", into buf (truncated to len): for messages.
void skel_layout_names(char *buf, size_t len);

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
