#!/bin/sh
# 5302-nonfinite: a NaN score is never a right answer (issue 12, finding 1:
# a checkpoint with NaN weights used to evaluate to top-1 = top-5 = 100%).
#   cocodiff-eval on 1 and 2 ranks with NaN weights, and with one NaN test
#   sample: exit 1 on every rank, the checkpoint, data file and sample named,
#   no scores.h5 or metrics.json left;
#   cocodiff-ensemble (1 and 2 ranks) and cocodiff-report with a score file
#   holding a NaN row: exit 1 naming the file and the sample, no output;
#   the trainer's test evaluation with one NaN test sample: counted wrong,
#   a warning, test_nonfinite 1 in metrics.jsonl.
# NaN goes into copies of the files through tests/5301-eval-ranking.t --poison.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
BIN=$REPO/bin
POISON="$REPO/tests/5301-eval-ranking.t --poison"
[ -x "$REPO/tests/5301-eval-ranking.t" ] || skip_all "build the tests first: make tests"
plan 22
train_data
DATA=$TMP/ntu60-xsub.h5
name_of() { # name_of FILE DATASET ROW: one fixed-length string
    h5dump -A 0 -d "$2" -s "$3" -c 1 "$1" | sed -n 's/.*: "\([A-Za-z0-9_.-]*\).*/\1/p' | head -1
}

# --- training on data whose test row 5 is NaN: the test evaluation counts it wrong
cp "$DATA" "$TMP/nan-sample.h5"
$POISON "$TMP/nan-sample.h5" /test/x 5
ok $? "a copy of the data with test sample 5 all NaN"
bad_sample=$(name_of "$DATA" /test/name 5)
train_config "$TMP/c.yaml" "$TMP/w"
"$TRAIN" --config "$TMP/c.yaml" --set train_feeder_args.data_path="$TMP/nan-sample.h5" \
    --set test_feeder_args.data_path="$TMP/nan-sample.h5" --set eval_interval=1 --max-steps 5 > "$TMP/train.log" 2>&1
ok $? "cocodiff-train with the NaN test sample: exit 0 (training data is finite)"
grep -q "1 test sample(s) got non-finite scores and count as wrong" "$TMP/train.log"
ok $? "the trainer warns that 1 test sample got non-finite scores"
grep -q '"test_nonfinite":1' "$TMP/w/metrics.jsonl"
ok $? "metrics.jsonl records test_nonfinite 1"
CKPT=$TMP/w/checkpoint-last.h5

# --- eval: finite checkpoint and data first
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/good" > "$TMP/good.log" 2>&1
ok $? "eval of the trained checkpoint: exit 0"

# NaN weights: every score is NaN
cp "$CKPT" "$TMP/nan.h5"
$POISON "$TMP/nan.h5" /model/fc.weight
ok $? "a copy of the checkpoint with fc.weight all NaN"
first=$(name_of "$DATA" /test/name 0)
"$BIN/cocodiff-eval" --checkpoint "$TMP/nan.h5" --data "$DATA" --out "$TMP/e1" > "$TMP/e1.log" 2>&1
is 1 $? "NaN weights, 1 rank: exit 1 (was 0 with top-1 = top-5 = 100%)"
grep -q "nan.h5 on .*ntu60-xsub.h5 /test: non-finite score nan for class 0 of sample $first (row 0)" "$TMP/e1.log"
ok $? "the message names the checkpoint, the data file and the first sample"
[ ! -e "$TMP/e1/scores.h5" ] && [ ! -e "$TMP/e1/scores.h5.partial" ] && [ ! -e "$TMP/e1/metrics.json" ]
ok $? "no scores.h5, .partial or metrics.json left"
is "1 " "$(every_rank 2 "$TMP/e2.log" "$BIN/cocodiff-eval" --checkpoint "$TMP/nan.h5" --data "$DATA" \
    --out "$TMP/e2" --batch 8)" "NaN weights, 2 ranks: exit 1 on every rank"
grep -q "non-finite score nan for class 0 of sample" "$TMP/e2.log" && [ ! -e "$TMP/e2/scores.h5" ]
ok $? "2 ranks: the sample named, no scores.h5"

# One NaN sample in the data: that sample is named, on whichever rank has it
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/nan-sample.h5" --out "$TMP/s1" > "$TMP/s1.log" 2>&1
is 1 $? "NaN test sample, 1 rank: exit 1"
grep -q "of sample $bad_sample (row 5)" "$TMP/s1.log"
ok $? "the message names sample $bad_sample (row 5)"
is "1 " "$(every_rank 2 "$TMP/s2.log" "$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/nan-sample.h5" \
    --out "$TMP/s2" --batch 4)" "NaN test sample, 2 ranks (row 5 on rank 1): exit 1 on every rank"
grep -q "of sample $bad_sample (row 5)" "$TMP/s2.log"
ok $? "2 ranks: the message names sample $bad_sample"

# --- a score file with a NaN row: ensemble and report refuse it
mkdir -p "$TMP/bad"
cp "$TMP/good/scores.h5" "$TMP/bad/scores.h5" && cp "$TMP/good/metrics.json" "$TMP/bad/metrics.json"
$POISON "$TMP/bad/scores.h5" /scores 3
row3=$(name_of "$DATA" /test/name 3)
"$BIN/cocodiff-ensemble" --scores "$TMP/good/scores.h5" --scores "$TMP/bad/scores.h5" --out "$TMP/ens" \
    > "$TMP/ens.log" 2>&1
is 1 $? "ensemble with a NaN row: exit 1 (was 0, the NaN row counted right)"
grep -q "bad/scores.h5: non-finite score nan for class 0 of sample $row3 (row 3)" "$TMP/ens.log" &&
    [ ! -e "$TMP/ens/scores.h5" ] && [ ! -e "$TMP/ens/metrics.json" ]
ok $? "the message names the file and sample $row3; no output"
is "1 " "$(every_rank 2 "$TMP/ens2.log" "$BIN/cocodiff-ensemble" --scores "$TMP/good/scores.h5" \
    --scores "$TMP/bad/scores.h5" --out "$TMP/ens2")" "ensemble, 2 ranks: exit 1 on every rank"
"$BIN/cocodiff-report" --eval "$TMP/good" --eval "$TMP/bad" --out "$TMP/r.html" > "$TMP/report.log" 2>&1
is 1 $? "report with a NaN row: exit 1 (was 0 after a LAPACK error)"
grep -q "bad/scores.h5: non-finite score nan for class 0 of sample $row3 (row 3)" "$TMP/report.log"
ok $? "the message names the file and the sample"
[ ! -e "$TMP/r.html" ] && ! grep -q "DSYEV" "$TMP/report.log"
ok $? "no page written, no LAPACK message"
"$BIN/cocodiff-report" --eval "$TMP/good" --out "$TMP/r.html" > "$TMP/report-good.log" 2>&1 && [ -s "$TMP/r.html" ]
ok $? "report of the finite scores: exit 0, a page"
done_testing
