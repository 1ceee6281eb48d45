#!/bin/bash
# 7020-slurm-failure: a failing stage cancels what depends on it
# (--kill-on-invalid-dep=yes) instead of leaving it pending forever:
#   a prep stage that fails (no such archive) -> train array, eval array and
#   ensemble all cancelled; a train config whose data is missing -> that
#   train task FAILED, the eval array cancelled.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 7
export SLURM_WAIT_S=60
# configs whose data file does not exist (nothing here needs real data)
TMP_DATA=$TMP/missing.h5
train_config "$TMP/base.yaml" "$TMP/unused"
for s in joint bone; do sed "s|$TMP/ntu60-xsub.h5|$TMP_DATA|" "$TMP/base.yaml" > "$TMP/bad-$s.yaml"; done
cd "$TMP" || exit 1
id() { awk -v s="$1" '$1 == s { print $2 }' "$2"; }

"$REPO/slurm/submit-pipeline" --out "$TMP/r1" --ntasks 1 --streams joint,bone \
    --prep "ntu60 $TMP/prep $TMP/no-such-archive.zip" "$TMP/bad" > "$TMP/s1" 2>&1
ok $? "submit-pipeline with a prep stage"
t0=$(date +%s)
slurm_wait $(id prep "$TMP/s1") $(id train "$TMP/s1") $(id eval "$TMP/s1") $(id ensemble "$TMP/s1")
ok $? "failed prep: nothing left in the queue after $(( $(date +%s) - t0 )) s"
is FAILED "$(slurm_state "$(id prep "$TMP/s1")")" "prep FAILED"
is "CANCELLED CANCELLED" "$(slurm_state "$(id train "$TMP/s1")") $(slurm_state "$(id eval "$TMP/s1")")" \
    "train and eval arrays CANCELLED"

"$REPO/slurm/submit-pipeline" --out "$TMP/r2" --ntasks 1 --streams joint,bone --no-ensemble "$TMP/bad" > "$TMP/s2" 2>&1
t0=$(date +%s)
slurm_wait $(id train "$TMP/s2") $(id eval "$TMP/s2")
ok $? "failed train: nothing left in the queue after $(( $(date +%s) - t0 )) s"
is FAILED "$(slurm_state "$(id train "$TMP/s2")")" "train tasks FAILED"
is CANCELLED "$(slurm_state "$(id eval "$TMP/s2")")" "eval tasks CANCELLED"
[ "$_tap_fail" = 0 ] || { cat "$TMP/s1" "$TMP/s2" >&2; squeue >&2; tail -n 5 "$TMP"/r*/logs/* >&2; }
cd / && done_testing
