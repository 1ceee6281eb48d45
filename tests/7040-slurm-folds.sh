#!/bin/bash
# 7040-slurm-folds: slurm/submit-sweep --folds on a real single-node Slurm
# cluster: 3 cross-validation folds of the tiny train split x a 2-point grid
# (base_lr) = 6 array tasks, 2 at a time, each in its own work dir training
# on two folds and evaluating the third; then the afterany collector's
# tables: one row per task (with its fold) and, per grid point, the mean and
# std of test_top1 over the 3 folds.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 12
train_data
train_config "$TMP/c.yaml" "$TMP/unused"
cd "$TMP" || exit 1
"$REPO/slurm/submit-sweep" "$TMP/c.yaml" --out "$TMP/bad" --folds 1 > /dev/null 2> "$TMP/bad.err"
rc=$?
[ $rc = 2 ] && grep -q "at least 2 folds" "$TMP/bad.err"
ok $? "--folds 1: exit 2 ($rc) with a reason"
t0=$(date +%s)
# Submitted held (--sbatch --hold): the array record's ArrayTaskId shows only
# the tasks still pending (2-5%2 once 0 and 1 run), so the definition is read
# while no task can have started, then the jobs are released.
"$REPO/slurm/submit-sweep" "$TMP/c.yaml" --out "$TMP/sw" --ntasks 1 --max-parallel 2 --folds 3 \
    --set-grid 'base_lr=0.05,0.1' --set num_epoch=1 --set eval_interval=1 --sbatch --hold \
    > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "submit-sweep --folds 3 exits 0"
arr=$(awk '$1 == "sweep" { print $2 }' "$TMP/submit.out")
col=$(awk '$1 == "collect" { print $2 }' "$TMP/submit.out")
is "0 1 2 0 1 2 /0-5%2" "$(sed -n 's/.*	fold=\([0-9]*\)$/\1/p' "$TMP/sw/grid.tsv" | tr '\n' ' ')/$(slurm_field "$arr" ArrayTaskId)" \
    "grid.tsv: 6 tasks, fold=0..2 for each grid point; the array is 0-5 with at most 2 at once"
scontrol release "$arr" "$col"
slurm_wait "$arr" "$col"
ok $? "sweep and collector done ($(( $(date +%s) - t0 )) s)"
is COMPLETED "$(slurm_state "$arr")" "every sweep task COMPLETED"
is COMPLETED "$(slurm_state "$col")" "collector COMPLETED"
T="t000 t001 t002 t003 t004 t005"
got=$(for t in $T; do printf '%s,%s,%s ' "$(sed -n 's/^base_lr: //p' "$TMP/sw/$t/config.yaml")" \
    "$(sed -n 's/^  folds: //p' "$TMP/sw/$t/config.yaml")" "$(sed -n 's/^  fold: //p' "$TMP/sw/$t/config.yaml")"; done)
is "0.05,3,0 0.05,3,1 0.05,3,2 0.1,3,0 0.1,3,1 0.1,3,2 " "$got" \
    "each task in its own work dir with its grid point, cocodiff.folds 3 and its cocodiff.fold"
n=0
for t in $T; do
    f=$(sed -n 's/^  fold: //p' "$TMP/sw/$t/config.yaml")
    grep -q "\"folds\":3,\"fold\":$f,\"test_top1\"" "$TMP/sw/$t/metrics.jsonl" &&
        grep -q "cross-validation: fold $f of 3 of .*held out for evaluation" "$TMP"/sw/logs/*-sweep-*_"${t#t00}".out &&
        n=$((n + 1))
done
is 6 $n "each task's metrics record its fold and the held-out fold's test_top1; its log what it held out"
r=$TMP/sw/results.csv
is "task,name,base_lr,fold,status,epoch,test_top1/7/0 1 2 0 1 2/ok ok ok ok ok ok" \
    "$(head -n 1 "$r")/$(wc -l < "$r" | tr -d ' ')/$(tail -n +2 "$r" | cut -d, -f4 | tr '\n' ' ' | sed 's/ $//')/$(tail -n +2 "$r" | cut -d, -f5 | tr '\n' ' ' | sed 's/ $//')" \
    "results.csv: one row per fold of each grid point, each with a result"
# mean and std over the folds, recomputed from results.csv
want=$(awk -F, 'NR > 1 { s[$3] += $7; q[$3] += $7 * $7; n[$3]++ }
    END { for (k in s) { m = s[k] / n[k]; v = (q[k] - n[k] * m * m) / (n[k] - 1); if (v < 0) v = 0
          printf "base_lr=%s,3,3,%.4f,%.4f\n", k, m, sqrt(v) } }' "$r" | sort)
got=$(tail -n +2 "$TMP/sw/summary.csv" | cut -d, -f1-5 | sort)
is "$want" "$got" "summary.csv: per grid point, n 3 of 3 folds, mean and std of test_top1 over the folds"
is 2 "$(tail -n +2 "$TMP/sw/summary.csv" | wc -l | tr -d ' ')" "summary.csv: one row per grid point (the folds grouped)"
grep -q '^| base_lr=0.05 | 3/3 | [0-9.]* | [0-9.]* |' "$TMP/sw/summary.md" &&
    grep -q '^| base_lr=0.1 | 3/3 | [0-9.]* | [0-9.]* |' "$TMP/sw/summary.md"
ok $? "summary.md: a Markdown row per grid point with the mean and std over 3 folds"
[ "$_tap_fail" = 0 ] || { cat "$TMP/submit.out" "$TMP/submit.err" "$TMP/sw/summary.md" "$r" >&2; tail -n 5 "$TMP"/sw/logs/* >&2; }
cd / && done_testing
