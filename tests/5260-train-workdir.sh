#!/bin/bash
# 5260-train-workdir: a finished run is never overwritten by accident (issue
# 14, point 2). Training again in a work dir that holds a run, without
# --resume, is refused naming --resume and --overwrite, and nothing there
# changes; --overwrite deletes every output of the old run (checkpoints,
# metrics, logs, features, diversity, the pipeline's eval/) and keeps the
# user's own files, so nothing of the old run mixes with the new one.
# The work dir records the build that trained the run (`cocodiff-train
# --version`'s string): log.txt's first line, "build" in every metrics line,
# the checkpoints' attributes build and builds; a resume by the same build
# keeps one name, a resume by another (a copy of the program whose version
# string is changed) is warned about and both are kept, each epoch's line
# naming its own.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v jq > /dev/null && command -v h5dump > /dev/null || skip_all "jq/h5dump not installed"
plan 21
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
cd "$TMP" || exit 1
"$TRAIN" --config c.yaml --set num_epoch=2 --set save_interval=1 > run1.log 2>&1
ok $? "a first run (2 epochs)"

v=$("$TRAIN" --version | sed 's/^cocodiff-train //')
attr() { h5dump -a "/$1" "$2" 2> /dev/null | sed -n 's/.*(0): "\(.*\)".*/\1/p'; }
is "train | build $v (cocodiff-train --version)" "$(head -1 "$W/log.txt" | sed 's/^\[ [^]]* \] //')" \
    "log.txt's first line names the build ($v)"
is "$v $v" "$(jq -r .build "$W/metrics.jsonl" | sort | uniq -c | awk '{ print $2 }') $(jq -r .build "$W/metrics.jsonl" | head -1)" \
    "metrics.jsonl: every epoch's line has \"build\": \"$v\""
is "$v $v $v $v" "$(attr build "$W/checkpoint-last.h5") $(attr builds "$W/checkpoint-last.h5") $(attr build "$W/epoch001.h5") $(attr builds "$W/best.h5")" \
    "the checkpoints' attributes build and builds: that build"
"$TRAIN" --config c.yaml --set num_epoch=3 --set save_interval=1 --resume > run1b.log 2>&1 &&
    [ "$(attr builds "$W/checkpoint-last.h5")" = "$v" ] && [ "$(jq -r .build "$W/metrics.jsonl" | sort -u)" = "$v" ] &&
    [ "$(wc -l < "$W/metrics.jsonl")" = 3 ] && ! grep -q "written by build" run1b.log
ok $? "resumed for a third epoch by the same build: builds stays '$v', no warning"
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

# Another build: this program with its version string changed (same length) in the binary.
# Only with a commit in the string: a bare VERSION (a tarball) is too short to be
# found in the binary alone.
if [[ $v == *+g* ]]; then
    v2="X${v#?}"
    perl -pe "s/\Q$v\E/$v2/g" "$TRAIN" > other-train && chmod +x other-train
    is "cocodiff-train $v2" "$(./other-train --version)" "a copy of the program that says it is build $v2"
    train_config "$TMP/c2.yaml" "$TMP/w2"
    "$TRAIN" --config c2.yaml --set num_epoch=1 > r1.log 2>&1 && ./other-train --config c2.yaml --set num_epoch=2 --resume > r2.log 2>&1
    ok $? "one epoch by this build, the second by the other (--resume)"
    grep -q "warning: train | $TMP/w2/checkpoint-last.h5 was written by build $v, this run is build $v2" r2.log &&
        grep -q "warning: train | .* was written by build $v, this run is build $v2" "$TMP/w2/log.txt"
    ok $? "the resume warns, naming both builds, on stderr and in log.txt"
    is "$v $v2" "$(jq -r .build "$TMP/w2/metrics.jsonl" | tr '\n' ' ' | sed 's/ $//')" "metrics.jsonl: each epoch's line names the build that trained it"
    is "$v2|$v $v2" "$(attr build "$TMP/w2/checkpoint-last.h5")|$(attr builds "$TMP/w2/checkpoint-last.h5")" \
        "the checkpoint: build $v2 wrote it, builds '$v $v2' trained it"
    "$TRAIN" --config c2.yaml --set num_epoch=3 --resume > r3.log 2>&1 &&
        is "$v $v2 $v" "$(attr builds "$TMP/w2/checkpoint-last.h5")" "resumed by the first build again: all three kept, in order" ||
        ok 1 "resumed by the first build again"
    "$TRAIN" --checkpoint "$TMP/w2/checkpoint-last.h5" --export ex.h5 > ex.log 2>&1
    is "$v|$v $v2 $v" "$(attr build ex.h5)|$(attr builds ex.h5)" "--export: the inference checkpoint keeps the builds that trained it"
    "$REPO/bin/cocodiff-eval" --checkpoint ex.h5 --data "$TMP/ntu60-xsub.h5" --out ev > ev.log 2>&1
    is "$v|$v $v2 $v" "$(jq -r '"\(.build)|\(.checkpoint_builds)"' ev/metrics.json)" \
        "cocodiff-eval's metrics.json: its own build and the checkpoint's builds"
else
    skip 8 "the version '$v' names no commit (a build without git): no other build to make"
fi
cd / && done_testing
