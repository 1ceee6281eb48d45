#!/bin/sh
# 5230-train-bad-input: cocodiff-train's errors on 2 ranks: one message (from
# rank 0) naming what is wrong, the documented exit code, never a hang.
#   2: unknown or mistyped config key (file, line, suggestion), unknown
#      option, data whose joints/classes disagree with model_args, --resume
#      with a batch size that does not fit the checkpoint;
#   1: missing data file, a file that is not HDF5, NaN loss, and weights
#      made non-finite by a step whose loss was finite (2 threads a rank)
#      (with the step and the last good checkpoint, which stays as it was).
# (An older format version: tests/5231-train-files.c.)
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 22
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# tr2 NAME ARGS...: 2 ranks, output in $TMP/NAME.log, exit code in $rc
tr2() { n=$1; shift; run_mpi 2 "$TRAIN" "$@" > "$TMP/$n.log" 2>&1; rc=$?; }
errors() { grep -c "$1" "$TMP/$2.log"; }

sed 's/^base_lr:/base_lrr:/' "$TMP/c.yaml" > "$TMP/typo.yaml"
line=$(grep -n '^base_lrr:' "$TMP/typo.yaml" | cut -d: -f1)
tr2 typo --config "$TMP/typo.yaml"
is 2 $rc "unknown key: exit code 2"
is 1 "$(errors "typo.yaml:$line: unknown key 'base_lrr' (did you mean 'base_lr'?)" typo)" \
    "unknown key: file, line and suggestion, once"

sed 's/^base_lr: .*/base_lr: fast/' "$TMP/c.yaml" > "$TMP/type.yaml"
line=$(grep -n '^base_lr:' "$TMP/type.yaml" | cut -d: -f1)
tr2 type --config "$TMP/type.yaml"
is 2 $rc "mistyped value: exit code 2"
is 1 "$(errors "type.yaml:$line: key 'base_lr': expected a number, got 'fast'" type)" "mistyped value: file, line, key, type"

tr2 opt --config "$TMP/c.yaml" --max-step 3
is 2 $rc "unknown option: exit code 2"

tr2 joints --config "$TMP/c.yaml" --set model_args.num_point=18
is 2 $rc "joints disagree: exit code 2"
is 1 "$(errors "ntu60-xsub.h5 has (C 3, V 25, M 2) but model_args say (in_channels 3, num_point 18" joints)" \
    "joints disagree: the file and both values, once"

tr2 classes --config "$TMP/c.yaml" --set model_args.num_class=120
is 2 $rc "classes disagree: exit code 2"
is 1 "$(errors "ntu60-xsub.h5 has 60 classes but model_args.num_class is 120" classes)" "classes disagree: the file and both values"

tr2 missing --config "$TMP/c.yaml" --set train_feeder_args.data_path="$TMP/none.h5"
is 1 $rc "missing data file: exit code 1"
is 1 "$(errors "none.h5: No such file or directory (HINT: run cocodiff-prep first)" missing)" "missing data file: named, with a hint"

tr2 nothdf5 --config "$TMP/c.yaml" --set train_feeder_args.data_path="$TMP/s.zip"
is 1 $rc "not an HDF5 file: exit code 1"
grep -q "s.zip: not a cocodiff-skeletons file" "$TMP/nothdf5.log"
ok $? "not an HDF5 file: named"

# NaN: 2 good steps (checkpointed), then resume with lr 1e30.
tr2 good --config "$TMP/c.yaml" --max-steps 2
ok $rc "2 good steps"
cp "$W/checkpoint-last.h5" "$TMP/good.h5"
tr2 nan --config "$TMP/c.yaml" --resume --set base_lr=1e30
is 1 $rc "lr 1e30: exit code 1"
is 1 "$(grep -c "training diverged: the .* step [34] .*the last good checkpoint is $W/checkpoint-last.h5" "$TMP/nan.log")" \
    "lr 1e30: stops with the step and the last good checkpoint, once"
cmp -s "$TMP/good.h5" "$W/checkpoint-last.h5"
ok $? "lr 1e30: the last good checkpoint is untouched"
! grep -q "checkpoint .*step [3-9]" "$TMP/nan.log"
ok $? "lr 1e30: nothing checkpointed after the good steps"
# An lr beyond float's range (1e39: -lr is -inf in float) with 2 threads a
# rank: every weight is non-finite after step 3 while its loss was finite,
# which the check in the SGD update's pass on the threads (optim_sgd_range)
# must catch, not the calling thread's loss test.
cp "$TMP/good.h5" "$W/checkpoint-last.h5"
tr2 inf2 --config "$TMP/c.yaml" --resume --set base_lr=1e39 --set cocodiff.threads=2
is "1,1" "$rc,$(grep -c "training diverged: the weights are not finite after step 3 .*the last good checkpoint is $W/checkpoint-last.h5" "$TMP/inf2.log")" \
    "lr 1e39, 2 threads a rank: exit code 1, the weights found non-finite after step 3, the last good checkpoint named"
cmp -s "$TMP/good.h5" "$W/checkpoint-last.h5"
ok $? "lr 1e39, 2 threads a rank: the last good checkpoint is untouched"

# --resume with another batch size: warned about, refused at an epoch end
# (4 steps, epoch 1: 78 samples give 9 batches of 8, not 4).
tr2 batch1 --config "$TMP/c.yaml" --resume --max-steps 2
tr2 batch --config "$TMP/c.yaml" --resume --set batch_size=8
is 2 $rc "--resume with another batch size: exit code 2"
grep -q "step 4 at epoch 1 does not fit 9 batches an epoch (HINT: batch_size or the data changed" "$TMP/batch.log" &&
    grep -q "warning: .*checkpoint-last.h5 was written with another config: 'batch_size: 16' there, 'batch_size: 8' now" \
        "$TMP/batch.log"
ok $? "--resume with another batch size: says why, names the changed key"
done_testing
