#!/bin/bash
# 7000-slurm-pipeline: slurm/submit-pipeline on a real single-node Slurm
# cluster (tests/tap/slurm.sh) with a tiny synthetic dataset: train as a job
# array over the four streams, eval per stream (aftercorr), then the ensemble
# (when bin/cocodiff-ensemble is built); every output exists and parses.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 12
train_data
# jobs/tiny-{joint,bone,joint-motion,bone-motion}.yaml: train.sh's config, 1 epoch
slurm_tiny_streams
cd "$TMP" || exit 1
t0=$(date +%s)
"$REPO/slurm/submit-pipeline" --out "$TMP/run" --ntasks 1 --set num_epoch=1 --set eval_interval=1 \
    "$TMP/tiny" > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "submit-pipeline exits 0"
slurm_pipeline_ok $t0
stream_of() { h5dump -a /stream "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p'; }
is "joint bone joint_motion bone_motion" \
    "$(for s in joint bone joint-motion bone-motion; do stream_of "$TMP/run/tiny-$s/checkpoint-last.h5"; done | tr '\n' ' ' | sed 's/ $//')" \
    "each array task trained its own stream"
is 8 "$(ls "$TMP"/run/logs/tiny-{train,eval}-*_*.out 2>/dev/null | wc -l | tr -d ' ')" \
    "logs: run/logs/tiny-{train,eval}-ARRAY_TASK.out (NAME-STAGE), one per task"
grep -q "cocodiff-train exit 0" "$TMP/run/logs/tiny-train-${train}_0.out"
ok $? "the train log says how training ended"
[ "$(slurm_state "$rep")" = COMPLETED ] && grep -q "<svg" "$TMP/run/report.html" 2>/dev/null
ok $? "the report job ran last and wrote run/report.html"
[ "$_tap_fail" = 0 ] || { diag "submit: $(cat "$TMP/submit.out" "$TMP/submit.err")"; tail -n 5 "$TMP"/run/logs/*.out >&2; }
cd / && done_testing
