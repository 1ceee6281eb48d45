// split.h - the official NTU benchmark splits (docs/data-conventions.md
// "Splits"); ntu.c's dataset formats use them (Kinetics' split is its folders).
#pragma once
#include "ntu.h"

typedef enum SplitBench {
    SPLIT_NTU60_XSUB = 0,
    SPLIT_NTU60_XVIEW,
    SPLIT_NTU120_XSUB,
    SPLIT_NTU120_XSET,
    SPLIT_NBENCH
} SplitBench;

// "ntu60-xsub", ...: the benchmark's name.
const char *split_bench_name(SplitBench b);
// 1 if the sample belongs to the training set of the benchmark, 0 for test.
int split_ntu_is_train(SplitBench b, const NtuName *n);
// 1 if the name is part of the dataset (NTU60: setups 1-17 and actions 1-60;
// NTU120: setups 1-32, actions 1-120).
int split_ntu_in_dataset(int ntu120, const NtuName *n);
