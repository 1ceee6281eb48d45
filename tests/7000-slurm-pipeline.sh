#!/bin/bash
# 7000-slurm-pipeline: slurm/submit-pipeline on a real single-node Slurm
# cluster (tests/tap/slurm.sh) with a tiny synthetic dataset: train as a job
# array over the four streams, eval per stream (aftercorr), then the ensemble
# (when bin/cocodiff-ensemble is built); every output exists and parses.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 11
train_data
# jobs/tiny-{joint,bone,joint-motion,bone-motion}.yaml: train.sh's config, 1 epoch
train_config "$TMP/base.yaml" "$TMP/unused"
stream_config() { # NAME BONE VEL
    awk -v b="$2" -v v="$3" '{ print } /^  data_path:/ { print "  bone: " b; print "  vel: " v }' "$TMP/base.yaml" \
        > "$TMP/tiny-$1.yaml"
}
stream_config joint False False; stream_config bone True False
stream_config joint-motion False True; stream_config bone-motion True True
cd "$TMP" || exit 1
t0=$(date +%s)
"$REPO/slurm/submit-pipeline" --out "$TMP/run" --ntasks 1 --set num_epoch=1 --set eval_interval=1 \
    "$TMP/tiny" > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "submit-pipeline exits 0"
train=$(awk '$1 == "train" { print $2 }' "$TMP/submit.out")
evalj=$(awk '$1 == "eval" { print $2 }' "$TMP/submit.out")
ens=$(awk '$1 == "ensemble" { print $2 }' "$TMP/submit.out")
case "$train $evalj" in *[0-9]" "[0-9]*) true;; *) false;; esac
ok $? "prints the train and eval job ids ($train, $evalj${ens:+, ensemble $ens})"
slurm_wait $train $evalj $ens
ok $? "all jobs left the queue in time ($(( $(date +%s) - t0 )) s)"
is COMPLETED "$(slurm_state "$train")" "train array: every task COMPLETED"
is COMPLETED "$(slurm_state "$evalj")" "eval array: every task COMPLETED"
n=0
for s in joint bone joint-motion bone-motion; do
    grep -q '"test_top1":[0-9.e-]*' "$TMP/run/tiny-$s/metrics.jsonl" 2>/dev/null &&
        grep -q '"top1":[ ]*[0-9.e-]*' "$TMP/run/tiny-$s/eval/metrics.json" 2>/dev/null &&
        h5dump -H "$TMP/run/tiny-$s/eval/scores.h5" > /dev/null 2>&1 && n=$((n + 1))
done
is 4 $n "every stream: metrics.jsonl with test_top1, eval/metrics.json with top1, eval/scores.h5"
stream_of() { h5dump -a /stream "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p'; }
is "joint bone joint_motion bone_motion" \
    "$(for s in joint bone joint-motion bone-motion; do stream_of "$TMP/run/tiny-$s/checkpoint-last.h5"; done | tr '\n' ' ' | sed 's/ $//')" \
    "each array task trained its own stream"
is 8 "$(ls "$TMP"/run/logs/cocodiff-{train,eval}-*_*.out 2>/dev/null | wc -l | tr -d ' ')" \
    "logs: run/logs/cocodiff-{train,eval}-ARRAY_TASK.out, one per task"
if [ -x "$REPO/bin/cocodiff-ensemble" ]; then
    is COMPLETED "$(slurm_state "$ens")" "ensemble job COMPLETED"
    grep -q '"top1":[ ]*[0-9.e-]*' "$TMP/run/ensemble/metrics.json" 2>/dev/null && grep -q '"streams"' "$TMP/run/ensemble/metrics.json"
    ok $? "ensemble/metrics.json has top1 and the streams"
else
    skip 2 "bin/cocodiff-ensemble not built"
fi
grep -q "cocodiff-train exit 0" "$TMP/run/logs/cocodiff-train-${train}_0.out"
ok $? "the train log says how training ended"
[ "$_tap_fail" = 0 ] || { diag "submit: $(cat "$TMP/submit.out" "$TMP/submit.err")"; tail -n 5 "$TMP"/run/logs/*.out >&2; }
cd / && done_testing
