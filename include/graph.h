// graph.h - the skeleton graphs of CTR-GCN: joint counts and the spatial
// adjacency (3, V, V) of tools.get_spatial_graph (graph/tools.py).
//   A[0] = I
//   A[1] = normalize_digraph(edge2mat(inward))    edge2mat(link)[j, i] = 1 for (i, j)
//   A[2] = normalize_digraph(edge2mat(outward))   normalize_digraph: column i / its sum
// Inward edges are (child, parent), 0-based: NTU's from graph/ntu_rgb_d.py
// (1-based there), OpenPose 18's from ST-GCN's openpose neighbor_link,
// NW-UCLA's from graph/ucla.py (1-based there).
#pragma once

typedef enum GraphLayout {
    GRAPH_NTU25,        // NTU RGB+D, Kinect v2: 25 joints
    GRAPH_OPENPOSE18,   // Kinetics-Skeleton, OpenPose: 18 joints
    GRAPH_UCLA20,       // NW-UCLA, Kinect v1: 20 joints
} GraphLayout;

#define GRAPH_NUM_SUBSETS 3   // A's first dimension: self, inward, outward

// V of the layout, or CD_EARG (negative) for an unknown layout.
int graph_num_nodes(GraphLayout layout);
// Fills A (3, V, V), row-major. Returns CD_OK, or CD_EARG for an unknown layout.
int graph_spatial(GraphLayout layout, float *A);
// Number of inward (child, parent) edges and, when edges is non-NULL, a pointer
// to them (0-based, static storage). Returns CD_EARG for an unknown layout.
int graph_inward_edges(GraphLayout layout, const int (**edges)[2]);
// "ntu", "ntu25", "graph.ntu_rgb_d.Graph" -> GRAPH_NTU25; "kinetics",
// "openpose18", "graph.kinetics.Graph" -> GRAPH_OPENPOSE18; "ucla", "ucla20",
// "graph.ucla.Graph" -> GRAPH_UCLA20 (case-sensitive).
// Returns CD_OK, or CD_EARG (with a message) for anything else.
int graph_parse(const char *name, GraphLayout *out);
// The canonical short name ("ntu25", "openpose18", "ucla20"), or "?" for an unknown layout.
const char *graph_name(GraphLayout layout);
