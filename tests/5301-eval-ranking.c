// 5301-eval-ranking.c - the ranking rules of every top-k figure (metrics.h):
//   - argmax is the first maximum, the rank of the true class breaks ties
//     by the lower index (np.argmax's rule);
//   - a row holding a NaN or an infinity is never a hit at any k (NaN
//     compares false with everything, so a ranking by comparisons alone
//     put it first: a NaN model scored top-1 = top-5 = 100%), has no argmax,
//     and metrics_add counts it wrong, in `nonfinite` and outside the
//     confusion matrix;
//   - metrics_check_finite names the sample, row, class and value.
// With `--poison FILE DATASET [ROW]` it only overwrites a float32 dataset of
// an HDF5 file with NaN (all of it, or row ROW of its first dimension), for
// tests/5302-nonfinite.sh.
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "status.h"
#include "tap/tap.h"

// Overwrites dataset `name` of `path` (float32, any rank) with NaN: every
// element when row < 0, else the elements of row `row` of dimension 0.
static int poison(const char *path, const char *name, long long row) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = f >= 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1, rc = -1;
    hsize_t dims[8], start[8] = {0}, count[8];
    if (rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(sp, dims, NULL) == rank) {
        size_t n = 1;
        for (int i = 0; i < rank; i++) {
            count[i] = dims[i];
            if (i == 0 && row >= 0) {
                start[0] = (hsize_t)row;
                count[0] = 1;
            }
            n *= count[i];
        }
        float *v = malloc(n * sizeof *v);
        hid_t ms = H5Screate_simple(rank, count, NULL);
        if (v && (row < 0 || (hsize_t)row < dims[0]) &&
            H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0) {
            for (size_t i = 0; i < n; i++) v[i] = NAN;
            rc = H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, v) >= 0 ? 0 : -1;
        }
        H5Sclose(ms);
        free(v);
    }
    // The file no longer promises checksums, and this dataset has none:
    // what is tested is the NaN, not the CRC (tests/5530 tests that).
    if (!rc && H5Aexists(f, "checksums") > 0 && H5Adelete(f, "checksums") < 0) rc = -1;
    if (!rc && H5Aexists(ds, "crc32") > 0 && H5Adelete(ds, "crc32") < 0) rc = -1;
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0 && H5Fclose(f) < 0) rc = -1;
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--poison")) {
        int rc = poison(argv[2], argv[3], argc > 4 ? atoll(argv[4]) : -1);
        if (rc) fprintf(stderr, "%s: cannot write NaN into %s\n", argv[2], argv[3]);
        return rc ? 1 : 0;
    }
    plan(20);
    const float q = NAN, inf = INFINITY;

    // Finite rows: the rules the scores file is checked against (5300-eval).
    const float a[4] = {1, 3, 3, 0};
    is_int(1, metrics_argmax(a, 4), "argmax: the first of two equal maxima");
    is_int(0, metrics_rank(a, 4, 1), "rank 0 for the first maximum");
    is_int(1, metrics_rank(a, 4, 2), "the tied second maximum ranks behind it");
    is_int(3, metrics_rank(a, 4, 3), "the smallest score ranks last");

    // Rows with a NaN or an infinity are never a hit.
    const float all_nan[4] = {q, q, q, q}, one_nan[4] = {q, 0, 5, 1}, pinf[3] = {inf, 0, 0}, minf[3] = {1, -inf, 0};
    ok(metrics_rank(all_nan, 4, 0) >= 5, "all-NaN row: the true class is no top-5 hit (was rank 0)");
    ok(metrics_rank(one_nan, 4, 0) >= 5, "a NaN true-class score is no hit (NaN > x is false for every x)");
    ok(metrics_rank(one_nan, 4, 2) >= 5, "a NaN elsewhere in the row: no hit either");
    ok(metrics_rank(pinf, 3, 0) >= 5 && metrics_rank(minf, 3, 0) >= 5, "+inf or -inf in the row: no hit");
    is_int(METRICS_RANK_NONFINITE, metrics_rank(all_nan, 4, 3), "rank is METRICS_RANK_NONFINITE");
    is_int(-1, metrics_argmax(all_nan, 4), "all-NaN row: no argmax (was class 0)");
    is_int(-1, metrics_argmax(one_nan, 4), "NaN in the row: no argmax");
    ok(metrics_row_finite(a, 4) && !metrics_row_finite(pinf, 3) && !metrics_row_finite(one_nan, 4), "metrics_row_finite");

    // Metrics: 4 rows, two right, one NaN row of class 0, one inf row.
    const float rows[4 * 3] = {2, 1, 0, 0, 1, 0, q, q, q, 0, inf, 0};
    const int32_t lab[4] = {0, 1, 0, 1};
    Metrics m;
    if (metrics_init(&m, 3)) bail("out of memory");
    metrics_add(&m, rows, lab, 4);
    metrics_finish(&m);
    is_int(4, m.n, "metrics: n counts every row");
    is_int(2, m.correct1, "metrics: top-1 counts the two finite right rows only");
    is_int(2, m.correct5, "metrics: top-5 (K 3) counts the two finite rows only (was 4 of 4)");
    is_int(2, m.nonfinite, "metrics: two non-finite rows");
    long long conf = 0;
    for (int i = 0; i < 9; i++) conf += m.confusion[i];
    is_int(2, conf, "metrics: the confusion matrix holds the finite rows only");
    metrics_free(&m);

    // The message a driver prints.
    const char names[3 * 6] = "S0001\0S0002\0S0003";
    const float sc[3 * 2] = {0, 1, 2, 3, 4, q};
    char why[512] = "";
    is_int(CD_OK, metrics_check_finite(sc, 2, 2, names, 6, 0, why, sizeof why), "metrics_check_finite: finite rows pass");
    is_int(CD_EFORMAT, metrics_check_finite(sc, 3, 2, names, 6, 40, why, sizeof why), "a NaN row is CD_EFORMAT");
    ok(strstr(why, "nan for class 1 of sample S0003 (row 42)") != NULL, "why names value, class, sample, row: %s", why);
    return tap_done();
}
