// graph.c - skeleton graphs (see graph.h): joint counts, inward edges and the
// spatial adjacency of CTR-GCN's tools.get_spatial_graph, computed in double
// and rounded to float once (as numpy's float64 result cast to float32).
#include "graph.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

// --- edges (child, parent), 0-based ----------------------------------------

// graph/ntu_rgb_d.py inward_ori_index minus 1 (data-conventions.md).
static const int ntu_inward[][2] = {
    {0, 1},   {1, 20},  {2, 20},  {3, 2},   {4, 20},  {5, 4},   {6, 5},   {7, 6},
    {8, 20},  {9, 8},   {10, 9},  {11, 10}, {12, 0},  {13, 12}, {14, 13}, {15, 14},
    {16, 0},  {17, 16}, {18, 17}, {19, 18}, {21, 22}, {22, 7},  {23, 24}, {24, 11},
};
// ST-GCN's openpose neighbor_link (data-conventions.md); centre joint 1 (Neck).
static const int openpose_inward[][2] = {
    {4, 3},   {3, 2},  {7, 6},  {6, 5},  {13, 12}, {12, 11}, {10, 9},  {9, 8}, {11, 5},
    {8, 2},   {5, 1},  {2, 1},  {0, 1},  {15, 0},  {14, 0},  {17, 15}, {16, 14},
};

// graph/ucla.py inward_ori_index minus 1 (data-conventions.md); centre
// joint 2 (ShoulderCenter) has no parent.
static const int ucla_inward[][2] = {
    {0, 1},  {1, 2},   {3, 2},   {4, 2},   {5, 4},   {6, 5},   {7, 6},   {8, 2},  {9, 8},  {10, 9},
    {11, 10}, {12, 0}, {13, 12}, {14, 13}, {15, 14}, {16, 0}, {17, 16}, {18, 17}, {19, 18},
};

int graph_num_nodes(GraphLayout layout) {
    switch (layout) {
    case GRAPH_NTU25: return 25;
    case GRAPH_OPENPOSE18: return 18;
    case GRAPH_UCLA20: return 20;
    }
    return CD_EARG;
}

int graph_inward_edges(GraphLayout layout, const int (**edges)[2]) {
    const int(*e)[2];
    int n;
    switch (layout) {
    case GRAPH_NTU25:
        e = ntu_inward;
        n = (int)(sizeof ntu_inward / sizeof ntu_inward[0]);
        break;
    case GRAPH_OPENPOSE18:
        e = openpose_inward;
        n = (int)(sizeof openpose_inward / sizeof openpose_inward[0]);
        break;
    case GRAPH_UCLA20:
        e = ucla_inward;
        n = (int)(sizeof ucla_inward / sizeof ucla_inward[0]);
        break;
    default: return CD_EARG;
    }
    if (edges) *edges = e;
    return n;
}

const char *graph_name(GraphLayout layout) {
    switch (layout) {
    case GRAPH_NTU25: return "ntu25";
    case GRAPH_OPENPOSE18: return "openpose18";
    case GRAPH_UCLA20: return "ucla20";
    }
    return "?";
}

// --- adjacency -----------------------------------------------------------------

// out (V, V) = normalize_digraph(edge2mat(link)): a[j][i] = 1 for each (i, j)
// (reversed when flip), then every column divided by its sum (if > 0).
#define GRAPH_MAX_NODES 25

static void normalized_edge_mat(float *out, const int (*link)[2], int nlink, int flip, int V) {
    double a[GRAPH_MAX_NODES * GRAPH_MAX_NODES];   // V <= GRAPH_MAX_NODES for every layout
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

int graph_spatial(GraphLayout layout, float *A) {
    const int(*inward)[2];
    int V = graph_num_nodes(layout), ne = graph_inward_edges(layout, &inward);
    if (V < 0 || ne < 0) {
        CD_ERR("graph_spatial: unknown graph layout %d", (int)layout);
        return CD_EARG;
    }
    size_t VV = (size_t)V * V;
    memset(A, 0, sizeof(float) * VV);
    for (int v = 0; v < V; v++) A[(size_t)v * V + v] = 1.0f;   // edge2mat(self_link)
    normalized_edge_mat(A + VV, inward, ne, 0, V);
    normalized_edge_mat(A + 2 * VV, inward, ne, 1, V);         // outward = (j, i)
    return CD_OK;
}

int graph_parse(const char *name, GraphLayout *out) {
    static const struct {
        const char *name;
        GraphLayout layout;
    } names[] = {
        {"ntu", GRAPH_NTU25},
        {"ntu25", GRAPH_NTU25},
        {"graph.ntu_rgb_d.Graph", GRAPH_NTU25},
        {"kinetics", GRAPH_OPENPOSE18},
        {"openpose18", GRAPH_OPENPOSE18},
        {"graph.kinetics.Graph", GRAPH_OPENPOSE18},
        {"ucla", GRAPH_UCLA20},
        {"ucla20", GRAPH_UCLA20},
        {"graph.ucla.Graph", GRAPH_UCLA20},
    };
    for (size_t k = 0; name && k < sizeof names / sizeof names[0]; k++)
        if (strcmp(name, names[k].name) == 0) {
            *out = names[k].layout;
            return CD_OK;
        }
    CD_ERR("unknown graph '%s'", name ? name : "(null)");
    fprintf(stderr,
            "---> HINT: use ntu (ntu25, graph.ntu_rgb_d.Graph), kinetics (openpose18, "
            "graph.kinetics.Graph) or ucla (ucla20, graph.ucla.Graph)\n");
    return CD_EARG;
}
