// 1040-graph.c - skeleton graphs: joint counts, layout names, and the spatial
// adjacency (3, V, V): NTU's equals CTR-GCN's own tools.get_spatial_graph
// output (tests/data/ctrgc/graph_ntu25.bin, written by
// scripts/ref/make_ctrgc_reference.py), NW-UCLA's graph.ucla.Graph().A
// (tests/data/ucla/reference.bundle, scripts/ref/make_ucla_reference.py);
// every layout has the structure of a tree (V - 1 inward edges, columns
// summing to 1 or 0).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "skeleton.h"
#include "status.h"
#include "tap/bundle.h"
#include "tap/tap.h"

#define DIR "tests/data/ctrgc"
#define REF_MAGIC 20261125

// Reads a reference tensor (magic, version 1, ndim, dims, float32); NULL if absent.
static float *read_bin(const char *path, int *ndim, int dims[8], size_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t h[3];
    if (fread(h, sizeof(int32_t), 3, f) != 3 || h[0] != REF_MAGIC || h[1] != 1 || h[2] < 0 ||
        h[2] > 8)
        bail("%s: not a version-1 reference tensor (magic %d)", path, (int)h[0]);
    int32_t d[8];
    size_t n = 1;
    if (fread(d, sizeof(int32_t), (size_t)h[2], f) != (size_t)h[2]) bail("%s: short header", path);
    for (int k = 0; k < h[2]; k++) {
        dims[k] = d[k];
        n *= (size_t)d[k];
    }
    float *a = malloc(sizeof(float) * (n ? n : 1));
    if (!a || fread(a, sizeof(float), n, f) != n) bail("%s: short data", path);
    fclose(f);
    *ndim = h[2];
    *count = n;
    return a;
}

// Structure checks of one layout: A[0] = I; A[1] has one non-zero per child
// column (value 1) and V - 1 in all; A[2] has the transposed pattern with each
// column summing to 1 (parents) or 0 (leaves).
static void check_structure(const SkelLayout *layout, int V) {
    float *A = malloc(sizeof(float) * 3 * (size_t)V * V);
    is_int(CD_OK, graph_spatial(layout, A), "%s: graph_spatial ok", layout->graph);
    const float *I = A, *In = A + V * V, *Out = A + 2 * V * V;
    int eye = 1, nin = 0, nout = 0, pattern = 1, colsum_in = 1, colsum_out = 1, roots = 0;
    for (int j = 0; j < V; j++)
        for (int i = 0; i < V; i++) {
            eye &= I[j * V + i] == (i == j ? 1.0f : 0.0f);
            nin += In[j * V + i] != 0.0f;
            nout += Out[j * V + i] != 0.0f;
            pattern &= (In[j * V + i] != 0.0f) == (Out[i * V + j] != 0.0f);
        }
    for (int i = 0; i < V; i++) {
        double si = 0, so = 0;
        for (int j = 0; j < V; j++) {
            si += In[j * V + i];
            so += Out[j * V + i];
        }
        colsum_in &= fabs(si - 1.0) < 1e-6 || si == 0.0;
        colsum_out &= fabs(so - 1.0) < 1e-6 || so == 0.0;
        roots += si == 0.0;
    }
    ok(eye, "%s: A[0] is the identity", layout->graph);
    is_int(V - 1, nin, "%s: A[1] has V-1 edges", layout->graph);
    is_int(V - 1, nout, "%s: A[2] has V-1 edges", layout->graph);
    ok(pattern, "%s: A[2]'s pattern is A[1]'s transposed", layout->graph);
    ok(colsum_in, "%s: A[1] columns sum to 1 or 0", layout->graph);
    ok(colsum_out, "%s: A[2] columns sum to 1 or 0", layout->graph);
    is_int(1, roots, "%s: one root (a column of A[1] without edge)", layout->graph);
    free(A);
}

int main(void) {
    plan(42);

    const SkelLayout *ntu = skel_layout_find("ntu25"), *op = skel_layout_find("openpose18"),
                     *ucla = skel_layout_find("ucla20");
    if (!ntu || !op || !ucla) bail("the layouts ntu25, openpose18 and ucla20 are not all in the table");
    is_int(25, ntu->V, "NTU has 25 joints");
    is_int(18, op->V, "OpenPose has 18 joints");
    is_int(20, ucla->V, "NW-UCLA has 20 joints");
    fprintf(stderr, "# (an error message about a missing layout is expected)\n");
    ok(skel_layout_of_joints(7) == NULL && skel_layout_of_joints(20) == ucla, "layouts by joint count: 20 is ucla20, 7 none");
    ok(graph_spatial(NULL, NULL) == CD_EARG, "no layout: graph_spatial CD_EARG");

    static const struct {
        const char *name, *want;
    } names[] = {
        {"ntu", "ntu25"},           {"ntu25", "ntu25"},
        {"graph.ntu_rgb_d.Graph", "ntu25"}, {"kinetics", "openpose18"},
        {"openpose18", "openpose18"}, {"graph.kinetics.Graph", "openpose18"},
        {"ucla", "ucla20"},         {"ucla20", "ucla20"},
        {"graph.ucla.Graph", "ucla20"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const SkelLayout *got = skel_layout_find(names[k].name);
        ok(got && !strcmp(got->graph, names[k].want), "skel_layout_find(\"%s\")", names[k].name);
    }
    ok(skel_layout_find("ntu60") == NULL, "skel_layout_find rejects 'ntu60'");

    check_structure(ntu, 25);
    check_structure(op, 18);
    check_structure(ucla, 20);

    // OpenPose spot checks: Nose (0) -> Neck (1) inward; Neck has 3 children.
    float Ak[3 * 18 * 18];
    graph_spatial(op, Ak);
    ok(Ak[18 * 18 + 1 * 18 + 0] == 1.0f && Ak[2 * 18 * 18 + 0 * 18 + 1] == 1.0f / 3.0f &&
           Ak[2 * 18 * 18 + 2 * 18 + 1] == 1.0f / 3.0f && Ak[2 * 18 * 18 + 5 * 18 + 1] == 1.0f / 3.0f,
       "openpose18: A[1][1][0] = 1 (nose -> neck), A[2][0,2,5][1] = 1/3");

    // NTU against the official tools.get_spatial_graph output.
    int nd, dims[8];
    size_t n;
    float *want = read_bin(DIR "/graph_ntu25.bin", &nd, dims, &n);
    if (!want) {
        skip(1, "no reference data: run scripts/ref/make_ctrgc_reference.py");
    } else {
        if (nd != 3 || dims[0] != 3 || dims[1] != 25 || dims[2] != 25)
            bail("graph_ntu25.bin: expected (3, 25, 25)");
        float got[3 * 25 * 25];
        graph_spatial(ntu, got);
        is_tensor_equal(got, want, n, "ntu25: A equals CTR-GCN's get_spatial_graph (float32)");
        free(want);
    }

    // NW-UCLA against the official graph.ucla.Graph().A.
    Bundle b;
    int loaded = bundle_load("tests/data/ucla/reference.bundle", &b) == 0;
    const BundleTensor *A = loaded ? bundle_find(&b, "graph/A") : NULL;
    if (!A || A->dtype != 0 || A->numel != 3 * 20 * 20) {
        skip(1, "no tests/data/ucla/reference.bundle graph/A: run scripts/ref/make_ucla_reference.py");
    } else {
        float got[3 * 20 * 20];
        graph_spatial(ucla, got);
        is_tensor_equal(got, A->data, A->numel, "ucla20: A equals graph.ucla.Graph().A (float32)");
    }
    if (loaded) bundle_free(&b);
    return tap_done();
}
