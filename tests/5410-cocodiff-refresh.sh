#!/bin/sh
# 5410-cocodiff-refresh: cocodiff.refresh, a fresh module trained after the
# last step on the final backbone's training tokens and probed beside the
# co-trained one (tiny model as tests/5400; 2 epochs of 4 steps, 2 ranks):
#   the phase changes nothing of training: the same losses, the same test
#   top-1 and the same /model and co-trained module as a run without it,
#   and the same co-trained probe ("conditioning"); diversity.json adds
#   "conditioning_refreshed" (its steps, batch, rows), the log both, and
#   cocodiff-report shows both tables;
#   killed inside the phase (after its checkpoint at phase step 4) and
#   resumed: the same checkpoint and diversity.json bytes as uninterrupted;
#   a run finished WITHOUT the phase, resumed with it on, runs only the
#   phase and ends with the same bytes; resumed once more, nothing is rerun;
#   1 vs 2 ranks: the phase's losses agree within 1e-4;
#   1 rank x 2 threads (the phase's and the replay steps' samples split over
#   the threads): twice byte-identical, within 1e-4 of 1 thread;
#   the export of a refreshed run is still exactly CTR-GCN's /model.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v h5diff > /dev/null && command -v h5ls > /dev/null && command -v jq > /dev/null ||
    skip_all "h5diff/h5ls/jq not installed"
plan 14
module_setup
S="$MODULE_RUN"
R="--set cocodiff.refresh=10 --set cocodiff.checkpoint_steps=4"
top1s() { jq -r 'select(.test_top1 != null) | .test_top1' "$1/metrics.jsonl" | tr '\n' ' '; }

# --- with and without the phase (one work dir, so that checkpoints compare
# byte for byte: they hold the config, work_dir included)
W=$TMP/w
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --log-losses "$TMP/l-plain" > "$TMP/log-plain" 2>&1 &&
    mv "$W" "$TMP/plain" &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $R --log-losses "$TMP/l-ref" > "$TMP/log-ref" 2>&1 && mv "$W" "$TMP/ref"
ok $? "2 ranks: a run without and a run with cocodiff.refresh 10"
same=0
for g in /model /cocodiff /optimizer/cocodiff_adam_m; do
    h5diff "$TMP/plain/checkpoint-last.h5" "$TMP/ref/checkpoint-last.h5" $g $g > /dev/null 2>&1 || same=1
done
[ $same = 0 ] && cmp -s "$TMP/l-plain" "$TMP/l-ref" && [ -n "$(top1s "$TMP/plain")" ] &&
    [ "$(top1s "$TMP/plain")" = "$(top1s "$TMP/ref")" ]
ok $? "the phase changes nothing of training: losses, test top-1 ($(top1s "$TMP/ref")), /model, the co-trained module"
[ "$(jq -c .conditioning "$TMP/plain/diversity.json")" = "$(jq -c .conditioning "$TMP/ref/diversity.json")" ] &&
    jq -e '.conditioning.module == "co-trained" and .conditioning_refreshed.module == "refreshed" and
           .conditioning_refreshed.refresh_steps == 10 and .conditioning_refreshed.refresh_batch == 6 and
           .conditioning_refreshed.refresh_rows == 156 and .conditioning_refreshed.text.from_noise >= 0 and
           .conditioning_refreshed.shuffled_text.steer >= 0 and (.conditioning_refreshed.real_head_top1 == .conditioning.real_head_top1)' \
        "$TMP/ref/diversity.json" > /dev/null && ! jq -e 'has("conditioning_refreshed")' "$TMP/plain/diversity.json" > /dev/null
ok $? "diversity.json: the co-trained probe unchanged, the refreshed one beside it (10 steps of 6 on 2 x 78 tokens)"
n=$(grep -c '^train | conditioning of the refreshed module (10 steps), \(class\|shuffled\|random\) texts' "$TMP/log-ref")
h5ls -r "$TMP/ref/checkpoint-last.h5" | grep -q '^/cocodiff_refresh_state/steps' &&
    grep -q '^train | refresh | step 10/10 | diff [0-9.]*' "$TMP/log-ref" && [ "$n" = 3 ] &&
    ! h5ls -r "$TMP/plain/checkpoint-last.h5" | grep -q refresh
ok $? "the log shows the phase and both probes; only the refreshed run's checkpoint holds the phase"
"$REPO/bin/cocodiff-report" --run "$TMP/ref" --out "$TMP/r.html" > "$TMP/r.log" 2>&1 &&
    grep -q 'The co-trained module' "$TMP/r.html" && grep -q 'The refreshed module (10 steps of 6' "$TMP/r.html"
ok $? "cocodiff-report shows both modules' probes"

# --- killed inside the phase, resumed
COCODIFF_TEST_KILL_AT=refresh@4 run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $R > "$TMP/log-k" 2>&1
h5dump -d /cocodiff_refresh_state/steps "$W/checkpoint-last.h5" 2> /dev/null | grep -q '(0): 4, 10, 156' && [ ! -e "$W/diversity.json" ]
ok $? "killed after the phase's checkpoint at its step 4 (the checkpoint says 4 of 10)"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $R --resume >> "$TMP/log-k" 2>&1 &&
    grep -q 'refresh: a fresh module, 10 steps of 6 .* (from step 4)' "$TMP/log-k" &&
    cmp "$TMP/ref/checkpoint-last.h5" "$W/checkpoint-last.h5" && cmp "$TMP/ref/diversity.json" "$W/diversity.json"
ok $? "resumed from there: the checkpoint and diversity.json are byte-identical to the uninterrupted run's"

# --- a finished run without the phase, resumed with it on
rm -rf "$W" && cp -r "$TMP/plain" "$W" && rm "$W/diversity.json"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $R --resume > "$TMP/log-late" 2>&1 &&
    grep -q 'refresh: a fresh module, 10 steps of 6 .* (from step 0)' "$TMP/log-late" &&
    ! grep -q '^train | epoch [0-9]*/2 | step' "$TMP/log-late"
ok $? "a finished run resumed with the phase on: no training step, only the phase"
cmp "$TMP/ref/checkpoint-last.h5" "$W/checkpoint-last.h5" && cmp "$TMP/ref/diversity.json" "$W/diversity.json" &&
    cmp "$TMP/plain/metrics.jsonl" "$W/metrics.jsonl"
ok $? "and ends with the bytes of the run that had it from the start (metrics.jsonl untouched)"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $R --resume > "$TMP/log-late2" 2>&1 &&
    grep -q "refresh: the fresh module's 10 steps were done before" "$TMP/log-late2" && ! grep -q 'refresh | step' "$TMP/log-late2" &&
    cmp "$TMP/ref/diversity.json" "$W/diversity.json" && cmp "$TMP/ref/checkpoint-last.h5" "$W/checkpoint-last.h5"
ok $? "resumed again: the phase is not rerun, the same figures"

# --- 1 vs 2 ranks: the phase's mean L_diff over its steps, at base_lr 1e-4
# (tests/5200 says why a small lr: the backbone the phase learns from)
for np in 1 2; do
    rm -rf "$TMP/r$np"
    run_mpi $np "$TRAIN" --config "$TMP/c.yaml" $S $R --set base_lr=1e-4 --set work_dir="$TMP/r$np" > "$TMP/log-r$np" 2>&1
done
a=$(sed -n 's/.*train | refresh | step 10\/10 | diff \([0-9.]*\).*/\1/p' "$TMP/log-r1")
b=$(sed -n 's/.*train | refresh | step 10\/10 | diff \([0-9.]*\).*/\1/p' "$TMP/log-r2")
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b > 0 && d / b < 1e-4) }'
ok $? "1 vs 2 ranks: the phase's mean L_diff agrees within 1e-4 ($a vs $b)"

# --- a rank's threads split the phase's steps and the replay steps (each
# step's samples over the lanes, cocodiff_lanes.h; at base_lr 1e-4 as above,
# with 2 replay steps a step and 3 alone at the end): 1 rank x 2 threads
# twice byte-identical, and within 1e-4 of 1 thread
P="--set cocodiff.replay=20 --set cocodiff.replay_steps=2 --set cocodiff.replay_batch=6 --set cocodiff.replay_final=3"
for th in 1 2 2b; do
    rm -rf "$W"
    run_mpi 1 "$TRAIN" --config "$TMP/c.yaml" $S $R $P --set base_lr=1e-4 --set cocodiff.threads="${th%b}" \
        --log-losses "$TMP/l-th$th" > "$TMP/log-th$th" 2>&1 && mv "$W" "$TMP/th$th"
done
grep -q "1 rank(s) x 2 thread(s) splitting each batch" "$TMP/log-th2" &&
    cmp "$TMP/th2/checkpoint-last.h5" "$TMP/th2b/checkpoint-last.h5" && cmp "$TMP/th2/diversity.json" "$TMP/th2b/diversity.json"
ok $? "1 rank x 2 threads, the phase and the replay steps split too: twice byte-identical"
diffs() { sed -n -e 's/.*train | refresh | step 10\/10 | diff \([0-9.]*\).*/\1/p' \
    -e 's/.*CoCoDiff module alone after training: .* mean diff \([0-9.]*\),.*/\1/p' "$1" | tr '\n' ' '; }
a=$(diffs "$TMP/log-th1") b=$(diffs "$TMP/log-th2")
r=$(losses_maxrel "$TMP/l-th1" "$TMP/l-th2")
echo "$a|$b" | awk -F'|' '{ n = split($1, x, " "); m = split($2, y, " "); if (n != 2 || m != 2) exit 1
    for (i = 1; i <= 2; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (!(y[i] > 0) || d / y[i] >= 1e-4) exit 1 } }' &&
    awk -v r="$r" 'BEGIN { exit !(r != "inf" && r + 0 <= 1e-4) }'
ok $? "1 vs 2 threads: the phase's and the final replay's mean L_diff ($a vs $b) and the losses (max relative difference $r) within 1e-4"

# --- export
"$TRAIN" --checkpoint "$TMP/ref/checkpoint-last.h5" --export "$TMP/export.h5" > "$TMP/logx" 2>&1 &&
    h5ls -r "$TMP/export.h5" | grep -v '^/  *Group$' > "$TMP/export.ls" &&
    h5ls -r "$TMP/plain/checkpoint-last.h5" | grep '^/model' > "$TMP/plain.ls" &&
    cmp -s "$TMP/plain.ls" "$TMP/export.ls" &&
    h5diff "$TMP/plain/checkpoint-last.h5" "$TMP/export.h5" /model /model > /dev/null 2>&1
ok $? "the export of a refreshed run: exactly CTR-GCN's /model, the values of the run without the phase"
done_testing
