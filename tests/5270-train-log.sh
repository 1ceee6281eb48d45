#!/bin/bash
# 5270-train-log: cocodiff-train logs what CTR-GCN's main.py logs (issue 14,
# point 8): WORK_DIR/log.txt with main.py's timestamps, a line per epoch
# with the mean training loss and top-1, the test accuracy after every epoch
# by default (main.py never reads eval_interval), "best test top-1 X% at
# epoch Y" at the end with best.h5 kept, the best carried across --resume;
# and `weights:` says how many tensors were loaded, skipped and unused.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 11
train_data
cd "$TMP" || exit 1
train_config c.yaml "$TMP/w"
sed -i '/^eval_interval:/d' c.yaml   # the default, as in CTR-GCN's configs
"$TRAIN" --config c.yaml > run.log 2>&1
ok $? "4 epochs, eval_interval not set"

is 4 "$(grep -c '^train | epoch [1-4]/4 | mean train loss [0-9.]* | train top-1 [0-9.]*% | lr ' run.log)" \
    "one line per epoch with the mean training loss and top-1 (%)"
is 4 "$(grep -c '^train | epoch [1-4] | test top-1 [0-9.]*% | top-5 [0-9.]*% | loss ' run.log)" \
    "the test accuracy after every epoch by default"
is 4 "$(grep -c '"test_top1"' w/metrics.jsonl)" "metrics.jsonl: test_top1 on every epoch"
[ -s w/log.txt ] && ! grep -qv '^\[ [A-Z][a-z][a-z] [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]\{8\} [0-9]\{4\} \] ' w/log.txt
ok $? "WORK_DIR/log.txt, every line stamped as main.py's print_log does ($(head -c 40 w/log.txt)...)"
cmp -s <(sed 's/^\[ [^]]* \] //' w/log.txt) <(grep '^train | ' run.log)
ok $? "log.txt holds the run's log lines"

# The best epoch: the first of the highest test_top1 (main.py's best_acc).
want=$(awk -F'[:,}]' '{ for (i = 1; i < NF; i++) { if ($i ~ /"epoch"/) e = $(i + 1); if ($i ~ /"test_top1"/) v = $(i + 1) }
    if (v + 0 > best + 0 || !have) { best = v; be = e; have = 1 } } END { printf "%.2f%% at epoch %d", 100 * best, be }' w/metrics.jsonl)
grep -q "^train | best test top-1 $want ($TMP/w/best.h5)" run.log
ok $? "at the end: best test top-1 $want"
is "${want##* }" "$(h5dump -a /epoch w/best.h5 2> /dev/null | sed -n 's/.*(0): //p')" "best.h5 is the best epoch's checkpoint"

# Stopped after epoch 2 and resumed: the best still counts the first two epochs.
train_config c2.yaml "$TMP/w2"
sed -i '/^eval_interval:/d' c2.yaml
"$TRAIN" --config c2.yaml --max-steps 8 > r1.log 2>&1 && "$TRAIN" --config c2.yaml --resume > r2.log 2>&1
is "$(grep '^train | best' run.log | sed "s|$TMP/w/|W/|")" "$(grep '^train | best' r2.log | sed "s|$TMP/w2/|W/|")" \
    "--resume: the same best as the uninterrupted run"
grep -q "resumed from" w2/log.txt && [ "$(grep -c 'mean train loss' w2/log.txt)" = 4 ]
ok $? "log.txt is continued on --resume (both runs' lines)"

train_config c3.yaml "$TMP/w3"
"$TRAIN" --config c3.yaml --set weights="$TMP/w/best.h5" --set "ignore_weights=[fc]" --max-steps 1 > r3.log 2>&1
grep -q "^train | weights: $TMP/w/best.h5: [0-9]* tensors loaded, 2 skipped (ignore_weights), 0 of the file unused" r3.log
ok $? "weights: tensors loaded, skipped and unused ($(grep -o 'weights: .*' r3.log | sed "s|$TMP/||"))"
cd / && done_testing
