// graph.c - skeleton graphs (see graph.h): the spatial adjacency of CTR-GCN's
// tools.get_spatial_graph for a layout's inward edges, computed in double and
// rounded to float once (as numpy's float64 result cast to float32).
#include "graph.h"

#include <stddef.h>
#include <string.h>

#include "status.h"

// out (V, V) = normalize_digraph(edge2mat(link)): a[j][i] = 1 for each (i, j)
// (reversed when flip), then every column divided by its sum (if > 0).
static void normalized_edge_mat(float *out, const int (*link)[2], int nlink, int flip, int V) {
    double a[SKEL_MAX_V * SKEL_MAX_V];   // V <= SKEL_MAX_V (checked by the caller)
    memset(a, 0, sizeof a);
    for (int k = 0; k < nlink; k++) {
        int i = link[k][flip], j = link[k][!flip];
        a[j * V + i] = 1.0;
    }
    for (int i = 0; i < V; i++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += a[j * V + i];
        double inv = s > 0 ? 1.0 / s : 0.0;
        for (int j = 0; j < V; j++) a[j * V + i] *= inv;
    }
    for (int k = 0; k < V * V; k++) out[k] = (float)a[k];
}

int graph_spatial(const SkelLayout *layout, float *A) {
    if (!layout || layout->V < 1 || layout->V > SKEL_MAX_V) {
        CD_ERR("graph_spatial: no layout, or more than %d joints", SKEL_MAX_V);
        return CD_EARG;
    }
    const int V = layout->V;
    size_t VV = (size_t)V * V;
    memset(A, 0, sizeof(float) * VV);
    for (int v = 0; v < V; v++) A[(size_t)v * V + v] = 1.0f;   // edge2mat(self_link)
    normalized_edge_mat(A + VV, layout->inward, layout->ninward, 0, V);
    normalized_edge_mat(A + 2 * VV, layout->inward, layout->ninward, 1, V);   // outward = (j, i)
    return CD_OK;
}
