// split.c - train/test membership for NTU60 X-Sub/X-View, NTU120 X-Sub/X-Set.
#include "split.h"

static const int ntu_xsub_train[] = {
    1,  2,  4,  5,  8,  9,  13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
    // NTU120 adds these subjects to the 20 above.
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
    84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103};
#define NTU60_XSUB_N 20
#define NTU120_XSUB_N ((int)(sizeof ntu_xsub_train / sizeof ntu_xsub_train[0]))

const char *split_bench_name(SplitBench b) {
    switch (b) {
    case SPLIT_NTU60_XSUB: return "ntu60-xsub";
    case SPLIT_NTU60_XVIEW: return "ntu60-xview";
    case SPLIT_NTU120_XSUB: return "ntu120-xsub";
    case SPLIT_NTU120_XSET: return "ntu120-xset";
    default: return "?";
    }
}

static int in_list(int v, int n) {
    for (int i = 0; i < n; i++) if (ntu_xsub_train[i] == v) return 1;
    return 0;
}

int split_ntu_is_train(SplitBench b, const NtuName *n) {
    switch (b) {
    case SPLIT_NTU60_XSUB: return in_list(n->performer, NTU60_XSUB_N);
    case SPLIT_NTU60_XVIEW: return n->camera == 2 || n->camera == 3;
    case SPLIT_NTU120_XSUB: return in_list(n->performer, NTU120_XSUB_N);
    case SPLIT_NTU120_XSET: return n->setup % 2 == 0;
    default: return 0;
    }
}

int split_ntu_in_dataset(int ntu120, const NtuName *n) {
    if (n->camera < 1 || n->camera > 3 || n->replication < 1 || n->replication > 2) return 0;
    if (ntu120) return n->setup <= 32 && n->action <= 120 && n->performer <= 106;
    return n->setup <= 17 && n->action <= 60 && n->performer <= 40;
}
