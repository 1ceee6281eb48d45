#!/bin/sh
# 5560-train-kill-points: a kill at each point of an epoch's end loses
# nothing (issue 12, finding 8). Rank 0 kills itself (SIGKILL, through the
# test-only hook COCODIFF_TEST_KILL_AT=POINT@STEP, include/fault.h) right
# after the epoch's metrics line, after epochNNN.h5, or after
# checkpoint-last.h5; --resume must then end with the uninterrupted run's
# final checkpoint, the same epoch files, the same metrics lines (but their
# time_s) and the same --log-losses lines, each once. Before: the
# checkpoint was written first, and a kill right after it lost the epoch's
# file and metrics line for good; lines written after the last checkpoint
# were written twice after a resume.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 19
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# 3 epochs of 4 steps, evaluation and an epoch file after each, checkpoints
# at epoch ends only: the kill is at the end of epoch 2 (step 8).
S="--set num_epoch=3 --set step=[2] --set eval_interval=1 --set save_interval=1"
train() { run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --log-losses "$TMP/losses" "$@"; }
metrics() { sed 's/,"time_s":[^,}]*//' "$1"; }

rm -rf "$W"; rm -f "$TMP/losses"
train > "$TMP/log-ref" 2>&1 && [ -s "$W/epoch003.h5" ]
ok $? "uninterrupted run (3 epochs, 12 steps)"
mkdir -p "$TMP/ref" && cp "$W"/*.h5 "$W/metrics.jsonl" "$TMP/losses" "$TMP/ref/"

# kill POINT CKPT_STEP: the killed run, then --resume (6 checks)
kill_at() {
    rm -rf "$W"; rm -f "$TMP/losses"
    COCODIFF_TEST_KILL_AT=$1@8 train > "$TMP/log-$1" 2>&1
    rc=$?
    [ $rc != 0 ] && [ "$(step_of "$W/checkpoint-last.h5")" = "$2" ] && [ ! -e "$W/epoch003.h5" ]
    ok $? "killed after $1 at step 8 (exit $rc): checkpoint-last.h5 at step $(step_of "$W/checkpoint-last.h5")"
    train --resume > "$TMP/log-$1-resume" 2>&1
    ok $? "$1: --resume runs to the end"
    cmp -s "$TMP/ref/checkpoint-last.h5" "$W/checkpoint-last.h5"
    ok $? "$1: the final checkpoint is byte-identical to the uninterrupted run's"
    cmp -s "$TMP/ref/epoch001.h5" "$W/epoch001.h5" && cmp -s "$TMP/ref/epoch002.h5" "$W/epoch002.h5" &&
        cmp -s "$TMP/ref/epoch003.h5" "$W/epoch003.h5"
    ok $? "$1: epoch001-003.h5 are all there, byte-identical"
    is "$(metrics "$TMP/ref/metrics.jsonl")" "$(metrics "$W/metrics.jsonl")" "$1: the same 3 metrics lines, once each"
    cmp -s "$TMP/ref/losses" "$TMP/losses"
    ok $? "$1: the same 12 --log-losses lines, once each"
}
kill_at metrics 4
kill_at epoch-file 4
kill_at checkpoint 8
done_testing
