#!/bin/bash
# 5260-train-workdir: a finished run is never overwritten by accident (issue
# 14, point 2). Training again in a work dir that holds a run, without
# --resume, is refused naming --resume and --overwrite, and nothing there
# changes; --overwrite deletes every output of the old run (checkpoints,
# metrics, logs, features, diversity, the pipeline's eval/) and keeps the
# user's own files, so nothing of the old run mixes with the new one.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 9
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
cd "$TMP" || exit 1
"$TRAIN" --config c.yaml --set num_epoch=2 --set save_interval=1 > run1.log 2>&1
ok $? "a first run (2 epochs)"
sum() { sha256sum "$W/checkpoint-last.h5" "$W/metrics.jsonl" | awk '{ print $1 }' | tr '\n' ' '; }
before=$(sum)

"$TRAIN" --config c.yaml --set num_epoch=2 > run2.log 2>&1; rc=$?
is 2 $rc "again without --resume: refused (exit 2)"
grep -q "$W holds an earlier run (.*checkpoint-last.h5): pass --resume to continue it, or --overwrite to start over" run2.log
ok $? "the message names the work dir, --resume and --overwrite ($(grep -m1 'earlier run' run2.log | cut -c1-90)...)"
is "$before" "$(sum)" "the checkpoint and the metrics are untouched"
"$TRAIN" --config c.yaml --resume --overwrite > run3.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "one of them" run3.log
ok $? "--resume with --overwrite: a usage error"

# The old run's other outputs, as the module and the pipeline leave them, and a file of the user's.
: > "$W/features.h5"; : > "$W/diversity.json"; mkdir -p "$W/eval"; : > "$W/eval/scores.h5"; : > "$W/eval/metrics.json"
: > "$W/log.txt"; echo mine > "$W/notes.txt"
ls "$W"/epoch*.h5 > /dev/null 2>&1 || { echo "Bail out! the first run wrote no epochNNN.h5"; exit 1; }
"$TRAIN" --config c.yaml --set num_epoch=1 --set save_interval=100 --overwrite > run4.log 2>&1
ok $? "--overwrite starts over ($(grep -o 'deleted [0-9]* file(s)' run4.log))"
left=$(cd "$W" && ls -d features.h5 diversity.json eval epoch002.h5 2> /dev/null | tr '\n' ' ')
is "" "$left" "the old run's features.h5, diversity.json, eval/ and epoch checkpoints are gone"
is "1 mine" "$(wc -l < "$W/metrics.jsonl" | tr -d ' ') $(cat "$W/notes.txt")" \
    "metrics.jsonl holds the new run's one epoch only; the user's notes.txt stays"

rm -f "$W/checkpoint-last.h5"
"$TRAIN" --config c.yaml --set num_epoch=1 > run5.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "epoch001.h5" run5.log
ok $? "an epochNNN.h5 alone also counts as a run (exit $rc)"
cd / && done_testing
