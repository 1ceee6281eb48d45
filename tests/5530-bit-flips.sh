#!/bin/sh
# 5530-bit-flips: a flipped bit in our own outputs is refused, naming the file
# and the dataset (issue 12, finding 4: bit-flipped weights or test data gave
# exit 0 with different scores; an unreadable config attribute silently
# switched eval from window 16 to 64). One bit of the stored data is flipped
# with pwrite (a disk's error, not an HDF5 write) in a checkpoint's weights,
# a prep file's test samples and labels and a score file; each consumer
# exits 1 on every rank (1 and 2 ranks) and says which dataset failed its
# checksum. tests/4100-h5-hostile.t flips a bit in every dataset every reader
# reads, through the readers.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
BIN=$REPO/bin
CRAFT=$REPO/tests/4100-h5-hostile.t
[ -x "$CRAFT" ] || skip_all "tests/4100-h5-hostile.t not built (make tests)"
plan 34

train_and_eval

# flip NAME SOURCE DATASET BYTE: a copy of SOURCE at $TMP/NAME with bit 0 of
# the stored BYTE of DATASET flipped
flip() {
    mkdir -p "$(dirname "$TMP/$1")"
    cp "$2" "$TMP/$1" && "$CRAFT" --flip "$TMP/$1" "$3" "$4" || echo "Bail out! cannot flip a bit of $1"
}
flip w.h5 "$CKPT" /model/fc.weight 1001
flip x.h5 "$DATA" /test/x 1003              # in sample 0
flip label.h5 "$DATA" /test/label 4          # sample 1's label
mkdir -p "$TMP/bad"
flip bad/scores.h5 "$TMP/good/scores.h5" /scores 17
cp "$TMP/good/metrics.json" "$TMP/bad/"
# The config attribute made unreadable: an array of 4,096 strings, and a
# string that is not YAML (before: a warning and the layout's window, 64).
cp "$CKPT" "$TMP/cfg.h5" && "$CRAFT" --attr "$TMP/cfg.h5" / config 4096 || echo "Bail out! cannot craft cfg.h5"
cp "$CKPT" "$TMP/yaml.h5" && "$CRAFT" --str "$TMP/yaml.h5" / config "test_feeder_args: {window_size: [" ||
    echo "Bail out! cannot craft yaml.h5"

fails_everywhere w "eval, a flipped bit in the weights" "w.h5: dataset /model/fc.weight fails its checksum" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/w.h5" --data "$DATA" --out "$TMP/e1"
fails_everywhere x "eval, a flipped bit in a test sample" "x.h5: /test/x sample 0 fails its checksum" \
    "$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/x.h5" --out "$TMP/e2"
fails_everywhere l "eval, a flipped bit in the test labels" "label.h5: dataset /test/label fails its checksum" \
    "$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/label.h5" --out "$TMP/e3"
# --resume from weights with a flipped bit
mkdir -p "$TMP/r"
cp "$TMP/w.h5" "$TMP/r/checkpoint-last.h5"
fails_everywhere r "train --resume, a flipped bit in the weights" "checkpoint-last.h5: dataset /model/fc.weight fails its checksum" \
    "$TRAIN" --config "$TMP/c.yaml" --set work_dir="$TMP/r" --resume --max-steps 1
fails_everywhere s "ensemble, a flipped bit in the scores" "bad/scores.h5: dataset /scores fails its checksum" \
    "$BIN/cocodiff-ensemble" --scores "$TMP/good/scores.h5" --scores "$TMP/bad/scores.h5" --out "$TMP/ens"
fails_everywhere c "eval, an unreadable config attribute" "cfg.h5: attribute 'config' is not a string" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/cfg.h5" --data "$DATA" --out "$TMP/e4"
fails_everywhere y "eval, a config attribute that is not YAML" "yaml.h5: cannot read its config attribute" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/yaml.h5" --data "$DATA" --out "$TMP/e5"
timeout 300 "$BIN/cocodiff-report" --eval "$TMP/good" --eval "$TMP/bad" --out "$TMP/r.html" > "$TMP/report.log" 2>&1
is 1 "$?" "report, a flipped bit in the scores: exit 1"
grep -q "bad/scores.h5: dataset /scores fails its checksum" "$TMP/report.log"
ok $? "report: says which dataset"
# The same files unflipped pass (the checks cost nothing but the CRC).
"$BIN/cocodiff-ensemble" --scores "$TMP/good/scores.h5" --scores "$TMP/good/scores.h5" --out "$TMP/ens-good" > "$TMP/ens-good.log" 2>&1
ok $? "the unflipped scores go through ensemble"
grep -q "top1" "$TMP/good/metrics.json" && [ -s "$TMP/good/scores.h5" ]
ok $? "the unflipped checkpoint and data went through eval"
[ ! -e "$TMP/e1/scores.h5" ] && [ ! -e "$TMP/e2/scores.h5" ] && [ ! -e "$TMP/e3/scores.h5" ] && [ ! -e "$TMP/ens/scores.h5" ]
ok $? "no scores.h5 written by a refused run"
grep -l "Process received signal\|Segmentation\|Floating point" "$TMP"/*.log* > "$TMP/crashes" 2>/dev/null
[ ! -s "$TMP/crashes" ]
ok $? "no crash reported in any log"
done_testing
