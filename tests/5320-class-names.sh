#!/bin/bash
# 5320-class-names: class names end to end without a flag (issue 14, point
# 9): cocodiff-prep writes the dataset's class names into its files
# (/class_name, from the shipped list; NTU's with the official action number
# in front, "A001 drink water"), and cocodiff-eval, -ensemble and -report
# show them with no --class-names.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 8
B=$REPO/bin
cd "$TMP" || exit 1
train_data
names() { h5dump -A 0 -w 1 -d /class_name "$1" 2> /dev/null | sed -n 's/^ *([0-9]*): "\(.*\)",\{0,1\}$/\1/p' | sed 's/\\000//g'; }
names ntu60-xsub.h5 > n60.txt
is "60 A001 drink water|A060 walking apart from each other" "$(wc -l < n60.txt | tr -d ' ') $(head -1 n60.txt)|$(tail -1 n60.txt)" \
    "prep: /class_name holds NTU60's 60 names, each after its action number"
cmp -s n60.txt <(names ntu60-xview.h5)
ok $? "the same names in the other benchmark's file"
"$B/cocodiff-synth" --format kinetics --samples 6 --seed 2 --out k.tar.gz --quiet > /dev/null 2>&1 &&
    "$B/cocodiff-prep" --dataset kinetics --input k.tar.gz --out kin > kin.log 2>&1
names kin/kinetics.h5 > k.txt
is "400 abseiling|zumba" "$(wc -l < k.txt | tr -d ' ') $(head -1 k.txt)|$(tail -1 k.txt)" \
    "Kinetics: the 400 names in label_index order, no number (Kinetics has none)"

train_config c.yaml "$TMP/wd"
"$TRAIN" --config c.yaml --set num_epoch=1 > train.log 2>&1 || { echo "Bail out! training failed"; exit 1; }
"$B/cocodiff-eval" --checkpoint wd/checkpoint-last.h5 --data ntu60-xsub.h5 --out ev > ev.log 2>&1
grep -q '^eval |  *[0-9]*  A0[0-9][0-9] ' ev.log
ok $? "eval's table of worst classes shows the names ($(grep -m1 '  A0[0-9][0-9] ' ev.log | sed 's/  */ /g'))"
grep -q '"class_names": \["A001 drink water", "A002 eat meal/snack"' ev/metrics.json ||
    grep -q '"class_names":\["A001 drink water","A002 eat meal/snack"' ev/metrics.json
ok $? "eval's metrics.json and scores.h5 carry them"
"$B/cocodiff-eval" --checkpoint wd/checkpoint-last.h5 --data ntu60-xsub.h5 --stream bone --out ev2 > ev2.log 2>&1 &&
    "$B/cocodiff-ensemble" --scores ev/scores.h5 --scores ev2/scores.h5 --out ens > ens.log 2>&1
grep -q "A001 drink water" ens/metrics.json
ok $? "the ensemble's metrics.json shows them"
"$B/cocodiff-report" --run wd --eval ev --ensemble ens --out r.html > rep.log 2>&1
ok $? "the report runs without --class-names"
grep -c "A0[0-9][0-9] " r.html > /dev/null && grep -q "A001 drink water" r.html
ok $? "and names the classes in it"
done_testing
