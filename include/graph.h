// graph.h - the skeleton graphs of CTR-GCN: the spatial adjacency (3, V, V)
// of tools.get_spatial_graph (graph/tools.py) for a layout's inward edges
// (skeleton.h: SkelLayout.inward, (child, parent), 0-based):
//   A[0] = I
//   A[1] = normalize_digraph(edge2mat(inward))    edge2mat(link)[j, i] = 1 for (i, j)
//   A[2] = normalize_digraph(edge2mat(outward))   normalize_digraph: column i / its sum
#pragma once
#include "skeleton.h"

#define GRAPH_NUM_SUBSETS 3   // A's first dimension: self, inward, outward

// Fills A (3, V, V), row-major, V = layout->V. Returns CD_OK, or CD_EARG for
// a NULL layout or one of more than SKEL_MAX_V joints.
int graph_spatial(const SkelLayout *layout, float *A);
