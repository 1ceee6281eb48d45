#!/bin/sh
# 5240-train-folds: cocodiff-train with cocodiff.folds (cross-validation by
# subject over the TRAIN split) on the tiny synthetic data (train 78 samples
# of 19 performers):
#   - folds 0, 1, 2 of 3 hold out disjoint sets that add up to the train
#     split, each trained on the rest (the log says what it held out);
#   - the held-out fold is evaluated (test_* in metrics.jsonl) even with no
#     test split, and every metrics line records folds and fold;
#   - 1 and 2 ranks give the same losses (within 1e-4 over 12 steps at a
#     small lr, as tests/5200 for normal training) and the same held-out
#     evaluation;
#   - bad values: exit 2 and one clear message.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 13
train_data
train_config "$TMP/c.yaml" "$TMP/w"

# One step of each fold: the log line names the held-out samples.
tot=0 sums=""
for f in 0 1 2; do
    run_mpi 1 "$TRAIN" --config "$TMP/c.yaml" --set cocodiff.folds=3 --set cocodiff.fold=$f \
        --set work_dir="$TMP/f$f" --max-steps 1 > "$TMP/f$f.log" 2>&1 || echo "fold $f failed" >&2
    held=$(sed -n "s/.*cross-validation: fold $f of 3 of .* (19 subjects): \([0-9]*\) samples of [0-9]* subject(s) held out .*, \([0-9]*\) to train on.*/\1 \2/p" "$TMP/f$f.log")
    set -- $held
    tot=$((tot + ${1:-0}))
    sums="$sums $(( ${1:-0} + ${2:-0} ))"
done
is "78 78 78 78" "$tot$sums" "folds 0..2 of 3: the held-out parts add up to the 78 train samples; each trains on the rest"
sed -n 's/.*held out for evaluation (\([^)]*\)).*/\1/p' "$TMP"/f[012].log | tr ' ' '\n' > "$TMP/held"
n=$(sort -u "$TMP/held" | grep -c '^P0')
sort "$TMP/held" | uniq -d > "$TMP/dup"
is "19 0" "$n $(wc -l < "$TMP/dup" | tr -d ' ')" "every subject is held out by exactly one fold"

# 1 vs 2 ranks, fold 1 of 3 (56 samples: 3 batches of 16 an epoch), no test split.
S="--set test_feeder_args.data_path=null --set cocodiff.folds=3 --set cocodiff.fold=1 --set eval_interval=2
   --set warm_up_epoch=2 --set step=[30] --set base_lr=0.0001"
for np in 1 2; do
    run_mpi $np "$TRAIN" --config "$TMP/c.yaml" $S --set work_dir="$TMP/w$np" --log-losses "$TMP/l$np.txt" \
        > "$TMP/log$np" 2>&1
    ok $? "$np rank(s): 4 epochs of fold 1"
done
is 12 "$(wc -l < "$TMP/l2.txt" | tr -d ' ')" "12 steps (3 batches of the 56 training samples an epoch)"
r=$(losses_maxrel "$TMP/l1.txt" "$TMP/l2.txt")
awk -v r="$r" 'BEGIN { exit !(r != "inf" && r + 0 <= 1e-4) }'
ok $? "1 vs 2 ranks: losses within 1e-4 (max relative difference $r)"
m=$TMP/w2/metrics.jsonl
is "4 4 2" "$(wc -l < "$m" | tr -d ' ') $(grep -c '"folds":3,"fold":1' "$m") $(grep -c '"test_top1"' "$m")" \
    "metrics: 4 lines, each with folds 3 and fold 1; the held-out fold evaluated at epochs 2 and 4"
grep -q '"samples":48,' "$m"
ok $? "metrics: 48 training samples an epoch"
ev() { grep '"test_top1"' "$1" | tail -n 1 | sed 's/.*"test_top1":\([^,]*\),"test_top5":\([^,]*\),"test_loss":\([^}]*\)}.*/\1 \2 \3/'; }
set -- $(ev "$TMP/w1/metrics.jsonl") $(ev "$m")
[ $# = 6 ] && [ "$1 $2" = "$4 $5" ] && awk -v a="$3" -v b="$6" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * a) }'
ok $? "1 vs 2 ranks: the same held-out top-1/top-5 ($1 $2 / $4 $5) and loss ($3 / $6)"

# Bad values: exit 2, one message (rank 0 speaks for both).
bad() { # NAME WANT SETS...
    n=$1 want=$2; shift 2
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" "$@" > "$TMP/$n.log" 2>&1
    rc=$?
    c=$(grep -c -F "$want" "$TMP/$n.log")
    [ $rc = 2 ] && [ "$c" = 1 ]
    ok $? "$n: exit 2 ($rc), '$want' once ($c)"
}
bad folds1 "cocodiff.folds is 1; it must be 0 (off) or the number of cross-validation folds, >= 2" --set cocodiff.folds=1
bad fold3of3 "cocodiff.fold is 3; with cocodiff.folds 3 it must be in [0, 2]" --set cocodiff.folds=3 --set cocodiff.fold=3
bad nofolds "cocodiff.fold is 1 but cocodiff.folds is 0 (off)" --set cocodiff.fold=1
bad toofew "/train: 78 samples with 19 distinct subjects (P001 P002" --set cocodiff.folds=20
grep -q "too few for 20 folds, each fold needs at least one subject (HINT: use at most 19 folds)" "$TMP/toofew.log" ||
    diag "toofew: $(cat "$TMP/toofew.log")"
done_testing
