#!/bin/bash
# 0230-messages: what the programs say when the input is not what was meant
# (issue 14, point 11): inputs are checked before any output is written (a
# missing archive or data file leaves no output folder or work dir behind);
# a split that ends up empty is a warning naming the file; the error for an
# archive with nothing of the dataset does not point at an empty rejects
# file; eval's last progress line reads 100%, on 2 ranks too, and no line
# passes it. (0110-progress checks the progress lines themselves.)
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 9
B=$REPO/bin
cd "$TMP" || exit 1

"$B/cocodiff-prep" --dataset ntu60 --input no-such.zip --out p1 > o 2> e; rc=$?
[ $rc = 1 ] && grep -q "no-such.zip: cannot read the input archive" e && [ ! -e p1 ]
ok $? "prep with a missing archive: exit 1 (got $rc), and no output folder"
# An NTU120 sample (setup 18) given as NTU60: outside the dataset, not rejected.
mkdir -p z/nturgb+d_skeletons && echo 0 > z/nturgb+d_skeletons/S018C001P001R001A001.skeleton
if (cd z && bsdtar -a -cf ../s18.zip nturgb+d_skeletons) 2> /dev/null; then
    "$B/cocodiff-prep" --dataset ntu60 --input s18.zip --out p2 > o 2> e; rc=$?
    [ $rc = 1 ] && grep -q "no sample of ntu60 in the inputs: 1 member(s) outside the dataset" e && ! grep -q "rejects" e
    ok $? "prep of an archive without a sample of the dataset: exit 1, says so, no pointer to an empty rejects file"
else
    skip 1 "bsdtar (libarchive-tools) not installed"
fi
"$B/cocodiff-synth" --format ntu --samples 1 --seed 5 --out one.zip --quiet > /dev/null 2>&1
"$B/cocodiff-prep" --dataset ntu60 --input one.zip --out p3 > o 2> e; rc=$?
[ $rc = 0 ] && [ "$(grep -c "split is empty" e)" = 2 ] && grep -q "warning: prep | p3/ntu60-xsub.h5: the .* split is empty" e
ok $? "one sample: prep succeeds and warns once per benchmark about the empty split ($(grep -m1 'split is empty' e))"
! grep -q "rejected: see" e
ok $? "and points at no rejects file (none rejected)"

train_data
train_config c.yaml "$TMP/wd"
"$TRAIN" --config c.yaml --set train_feeder_args.data_path=no-such.h5 > o 2> e; rc=$?
[ $rc != 0 ] && grep -q "no-such.h5" e && [ ! -e wd ]
ok $? "train with a missing data file: exit $rc, names it, no work dir created"
"$TRAIN" --config c.yaml --set num_epoch=1 > o 2> e && [ -s wd/checkpoint-last.h5 ]
ok $? "a small training for the eval checks"

run_mpi 2 "$B/cocodiff-eval" --checkpoint wd/checkpoint-last.h5 --data ntu60-xsub.h5 --batch 8 --out ev > ev.log 2>&1
ok $? "eval on 2 ranks"
n=$(awk '/^eval \| [0-9]+\/[0-9]+ samples/ { split($3, a, "/"); print a[2] }' ev.log | tail -1)
last=$(grep "^eval | [0-9]*/[0-9]* samples" ev.log | tail -1)
echo "$last" | grep -q "^eval | $n/$n samples (100.0%) | .* | done in"
ok $? "its last progress line reads N/N (100.0%) ($last)"
awk '/^eval \| [0-9]+\/[0-9]+ samples/ { split($3, a, "/"); if (a[1] + 0 > a[2] + 0) bad = 1 } END { exit bad }' ev.log
ok $? "no progress line passes the total"
done_testing
