#!/bin/bash
# 7010-slurm-sweep: slurm/submit-sweep on a real single-node Slurm cluster: a
# 2-point grid (base_lr) x 2 seeds = 4 array tasks, 2 at a time, each in its
# own work dir, then the afterany collector's CSV and Markdown tables.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 9
train_data
train_config "$TMP/c.yaml" "$TMP/unused"
cd "$TMP" || exit 1
t0=$(date +%s)
"$REPO/slurm/submit-sweep" "$TMP/c.yaml" --out "$TMP/sw" --ntasks 1 --max-parallel 2 \
    --set-grid 'base_lr=0.05,0.1' --repeat 2 --set num_epoch=1 --set eval_interval=1 \
    > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "submit-sweep exits 0"
arr=$(awk '$1 == "sweep" { print $2 }' "$TMP/submit.out")
col=$(awk '$1 == "collect" { print $2 }' "$TMP/submit.out")
is "4 0-3%2" "$(wc -l < "$TMP/sw/grid.tsv" | tr -d ' ') $(slurm_field "$arr" ArrayTaskId)" \
    "grid.tsv has 4 tasks; the array is 0-3 with at most 2 at once"
slurm_wait "$arr" "$col"
ok $? "sweep and collector done ($(( $(date +%s) - t0 )) s)"
is COMPLETED "$(slurm_state "$arr")" "every sweep task COMPLETED"
is COMPLETED "$(slurm_state "$col")" "collector COMPLETED"
lrs=$(for t in t000 t001 t002 t003; do sed -n "s/^base_lr: //p" "$TMP/sw/$t/config.yaml"; done | tr '\n' ' ')
seeds=$(for t in t000 t001 t002 t003; do sed -n "s/^seed: //p" "$TMP/sw/$t/config.yaml"; done | tr '\n' ' ')
is "0.05 0.05 0.1 0.1 /1 2 1 2 " "$lrs/$seeds" "each task in its own work dir with its grid point and seed"
is "5 ok ok ok ok" "$(wc -l < "$TMP/sw/results.csv" | tr -d ' ') $(tail -n +2 "$TMP/sw/results.csv" | cut -d, -f5 | tr '\n' ' ' | sed 's/ $//')" \
    "results.csv: a header and 4 rows with a result"
# mean and std recomputed from results.csv
want=$(awk -F, 'NR > 1 { s[$3] += $7; q[$3] += $7 * $7; n[$3]++ }
    END { for (k in s) { m = s[k] / n[k]; v = (q[k] - n[k] * m * m) / (n[k] - 1); if (v < 0) v = 0
          printf "base_lr=%s,2,2,%.4f,%.4f\n", k, m, sqrt(v) } }' "$TMP/sw/results.csv" | sort)
got=$(tail -n +2 "$TMP/sw/summary.csv" | cut -d, -f1-5 | sort)
is "$want" "$got" "summary.csv: n, mean and std of test_top1 per grid point"
grep -q '^| base_lr=0.05 | 2/2 | [0-9.]* | [0-9.]* |' "$TMP/sw/summary.md" &&
    grep -q '^| base_lr=0.1 | 2/2 |' "$TMP/sw/summary.md"
ok $? "summary.md: a Markdown row per grid point"
[ "$_tap_fail" = 0 ] || { cat "$TMP/submit.out" "$TMP/submit.err" "$TMP/sw/summary.md" "$TMP/sw/results.csv" >&2; tail -n 5 "$TMP"/sw/logs/* >&2; }
cd / && done_testing
