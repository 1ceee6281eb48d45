// 3020-split-counts: the split rules applied to the official lists of
// available samples give the reference's train/test counts.
#include "ntu.h"
#include "split.h"
#include "status.h"
#include "tap/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count(const char *path, int ntu120, SplitBench b, long *train, long *test, long *names) {
    size_t len;
    char *text = tap_slurp(path, &len);
    if (!text) return -1;
    *train = *test = *names = 0;
    int bad = 0;
    for (char *t = strtok(text, "\r\n"); t; t = strtok(NULL, "\r\n")) {
        NtuName n;
        if (ntu_name_parse(t, &n) != CD_OK || !split_ntu_in_dataset(ntu120, &n)) { bad++; continue; }
        (*names)++;
        if (split_ntu_is_train(b, &n)) (*train)++;
        else (*test)++;
    }
    free(text);
    return bad;
}

int main(void) {
    const char *real = tap_real_data();
    if (!real) skip_all("no real data (../shared/data/real)");
    plan(6);
    static const struct { const char *list; int ntu120; SplitBench b; long train, test; } cases[] = {
        {"ntu60_available_samples.txt", 0, SPLIT_NTU60_XSUB, 40091, 16487},
        {"ntu60_available_samples.txt", 0, SPLIT_NTU60_XVIEW, 37646, 18932},
        {"ntu120_available_samples.txt", 1, SPLIT_NTU120_XSUB, 63026, 50919},
        {"ntu120_available_samples.txt", 1, SPLIT_NTU120_XSET, 54468, 59477},
    };
    for (int i = 0; i < 4; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/lists/%s", real, cases[i].list);
        long tr, te, n;
        int bad = count(path, cases[i].ntu120, cases[i].b, &tr, &te, &n);
        ok(bad == 0 && tr == cases[i].train && te == cases[i].test, "%s: train %ld / test %ld (want %ld / %ld)",
           split_bench_name(cases[i].b), tr, te, cases[i].train, cases[i].test);
        if (bad) diag("%d names did not parse or fall outside the dataset", bad);
    }
    // NTU60's names are exactly NTU120's first 17 setups.
    char p60[4200], p120[4200];
    snprintf(p60, sizeof p60, "%s/lists/ntu60_available_samples.txt", real);
    snprintf(p120, sizeof p120, "%s/lists/ntu120_available_samples.txt", real);
    long tr, te, n60, n120, in60 = 0;
    count(p60, 0, SPLIT_NTU60_XSUB, &tr, &te, &n60);
    size_t len;
    char *text = tap_slurp(p120, &len);
    n120 = 0;
    for (char *t = text ? strtok(text, "\r\n") : NULL; t; t = strtok(NULL, "\r\n")) {
        NtuName n;
        n120++;
        if (ntu_name_parse(t, &n) == CD_OK && split_ntu_in_dataset(0, &n)) in60++;
    }
    free(text);
    is_int(56578, n60, "NTU60 has 56,578 available samples");
    ok(n120 == 113945 && in60 == n60, "NTU120 has 113,945, of which NTU60's %ld are the NTU60 part", in60);
    return tap_done();
}
