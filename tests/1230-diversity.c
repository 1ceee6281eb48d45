// 1230-diversity.c - the generated-feature figures (src/train/diversity.c) on a
// hand-checked example, and the FEATURES.h5 round trip (src/io/h5io_features.c).
//
// Example (C 2, K 2): real class 0 (0,0) (2,0), class 1 (10,0) (10,2);
// generated (1,3) (1,-3) | (9,1) (4,1); head scores (-x + 5, x - 5).
//   real: pairwise 2 and 2, trace 2 and 2, centroids (1,0) (10,1);
//   generated: pairwise 6 and 5 -> 5.5; trace 18 and 12.5 -> 15.25;
//   head: real 4/4, generated 3/4 ((4,1) -> class 0); nearest centroid own 3/4;
//   to centroid real 1, generated (3+3+1+6)/4 = 3.25;
//   to source (sqrt10 + sqrt10 + sqrt2 + sqrt37)/4.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diversity.h"
#include "h5io_features.h"
#include "status.h"
#include "tap/tap.h"

int main(void) {
    plan(19);
    const float real[8] = {0, 0, 2, 0, 10, 0, 10, 2}, gen[8] = {1, 3, 1, -3, 9, 1, 4, 1};
    const int32_t lab[4] = {0, 0, 1, 1};
    const float w[4] = {-1, 0, 1, 0}, b[2] = {5, -5};
    DiversityStats s;
    is_int(CD_OK, diversity_measure(real, gen, lab, 4, 2, 2, w, b, &s), "diversity_measure runs");
    is_int(2, s.classes, "two classes with >= 2 samples");
    is_double(2.0, s.real_pdist, 1e-12, "real within-class pairwise distance");
    is_double(5.5, s.gen_pdist, 1e-12, "generated within-class pairwise distance");
    is_double(2.0, s.real_trace, 1e-12, "real covariance trace");
    is_double(15.25, s.gen_trace, 1e-12, "generated covariance trace");
    is_double(1.0, s.real_head_top1, 1e-12, "frozen head on real features");
    is_double(0.75, s.gen_head_top1, 1e-12, "frozen head on generated features");
    is_double(0.75, s.gen_nearest_own, 1e-12, "nearest real centroid is the own class");
    is_double(1.0, s.real_to_centroid, 1e-12, "real distance to the class centroid");
    is_double(3.25, s.gen_to_centroid, 1e-12, "generated distance to the class centroid");
    is_double((2 * sqrt(10) + sqrt(2) + sqrt(37)) / 4, s.gen_to_source, 1e-12, "distance to the source sample");
    const int32_t bad[4] = {0, 0, 1, 2};
    is_int(CD_EARG, diversity_measure(real, gen, bad, 4, 2, 2, w, b, &s), "a label outside [0, K) is refused");

    char path[4096], partial[4200];
    snprintf(path, sizeof path, "%s/f.h5", tap_tmpdir());
    snprintf(partial, sizeof partial, "%s.partial", path);
    int64_t idx[4] = {0, 1, 2, 3};
    H5Features f = {.n = 4, .C = 2, .real = (float *)real, .generated = (float *)gen, .label = (int32_t *)lab, .index = idx};
    snprintf(f.data, sizeof f.data, "prep/x.h5");
    snprintf(f.split, sizeof f.split, "test");
    is_int(CD_OK, h5io_features_write(path, &f), "features written");
    FILE *pf = fopen(partial, "r");
    ok(!pf, "no .partial left behind");
    if (pf) fclose(pf);
    H5Features g;
    is_int(CD_OK, h5io_features_read(path, &g), "features read back");
    ok(g.n == 4 && g.C == 2 && !memcmp(g.real, real, sizeof real) && !memcmp(g.generated, gen, sizeof gen) &&
           !memcmp(g.label, lab, sizeof lab) && !memcmp(g.index, idx, sizeof idx),
       "same sizes and values");
    is_str("test", g.split, "split attribute");
    h5io_features_free(&g);
    FILE *junk = fopen(path, "w");
    fputs("not hdf5", junk);
    fclose(junk);
    ok(h5io_features_read(path, &g) != CD_OK, "a file that is not HDF5 is refused");
    return tap_done();
}
