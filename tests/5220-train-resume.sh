#!/bin/sh
# 5220-train-resume: runs interrupted and resumed with --resume end with a
# checkpoint byte-identical to the uninterrupted run's (2 ranks):
#   --max-steps K then --resume (deterministic, mid-epoch);
#   SIGKILL of every rank mid-run, after some checkpoints (checkpoint_steps 1);
#   SIGTERM to every rank (as Slurm does): all checkpoint, exit code 3;
#   SIGUSR1 to mpirun (forwarded to the ranks): the same.
# The checkpoint holds epoch, step, weights, momentum, BN running stats and
# num_batches_tracked; evaluation and metrics must not disturb any of it.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 17
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# 8 steps (2 epochs of 4; lr 0.1 then 0.01), evaluation after each epoch, a
# checkpoint every step.
S="--set num_epoch=2 --set step=[1] --set eval_interval=1 --set cocodiff.checkpoint_steps=1"
train() { run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --log-losses "$TMP/losses" "$@"; }
# In the background, mpirun itself (not a function's subshell), so that $! is
# its pid and the ranks are its children.
train_bg() {
    mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS "$TRAIN" --config "$TMP/c.yaml" $S --log-losses "$TMP/losses" \
        > "$1" 2>&1 &
    mp=$!
}
# wait_lines FILE N: until FILE has N lines (30 s at most)
wait_lines() {
    i=0
    while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
}

rm -rf "$W"; rm -f "$TMP/losses"
train > "$TMP/log-ref" 2>&1
ok $? "uninterrupted run"
cp "$W/checkpoint-last.h5" "$TMP/ref.h5"
cp "$TMP/losses" "$TMP/ref-losses"

# --max-steps 6 (epoch 2, batch 2) then --resume.
rm -rf "$W"; rm -f "$TMP/losses"
train --max-steps 6 > "$TMP/log-a1" 2>&1 && [ "$(step_of "$W/checkpoint-last.h5")" = 6 ]
ok $? "--max-steps 6 stops with a checkpoint at step 6"
train --resume > "$TMP/log-a2" 2>&1
ok $? "--resume runs to the end"
cmp -s "$TMP/ref.h5" "$W/checkpoint-last.h5"
ok $? "max-steps + resume: final checkpoint byte-identical to the uninterrupted run's"
cmp -s "$TMP/ref-losses" "$TMP/losses"
ok $? "max-steps + resume: the same 8 losses, bit for bit"

# SIGKILL every rank after at least 3 steps.
rm -rf "$W"; rm -f "$TMP/losses"
train_bg "$TMP/log-k1"
wait_lines "$TMP/losses" 3
kill -KILL $(pgrep -P $mp) 2>/dev/null
wait $mp
k=$(step_of "$W/checkpoint-last.h5")
[ -n "$k" ] && [ "$k" -ge 2 ] && [ "$k" -lt 8 ]
ok $? "SIGKILL mid-run left a checkpoint at step $k"
train --resume > "$TMP/log-k2" 2>&1
ok $? "--resume after SIGKILL runs to the end"
cmp -s "$TMP/ref.h5" "$W/checkpoint-last.h5"
ok $? "SIGKILL + resume: final checkpoint byte-identical"

# SIGTERM to every rank, as Slurm's preemption does.
rm -rf "$W"; rm -f "$TMP/losses"
train_bg "$TMP/log-t1"
wait_lines "$TMP/losses" 2
kill -TERM $(pgrep -P $mp) 2>/dev/null
wait $mp
is 3 $? "SIGTERM: exit code 3"
t=$(step_of "$W/checkpoint-last.h5")
grep -q "signal 15: checkpointed at step $t, stopping" "$TMP/log-t1" && [ "$t" -lt 8 ]
ok $? "SIGTERM: checkpointed at step $t and said so"
train --resume > "$TMP/log-t2" 2>&1
ok $? "--resume after SIGTERM runs to the end"
cmp -s "$TMP/ref.h5" "$W/checkpoint-last.h5" && cmp -s "$TMP/ref-losses" "$TMP/losses"
ok $? "SIGTERM + resume: final checkpoint byte-identical, the same 8 losses"

# SIGUSR1 to mpirun, which forwards it.
rm -rf "$W"; rm -f "$TMP/losses"
train_bg "$TMP/log-u1"
wait_lines "$TMP/losses" 2
kill -USR1 $mp
wait $mp
is 3 $? "SIGUSR1: exit code 3"
u=$(step_of "$W/checkpoint-last.h5")
grep -q "signal 10: checkpointed at step $u, stopping" "$TMP/log-u1" && [ "$u" -lt 8 ]
ok $? "SIGUSR1: checkpointed at step $u"
train --resume > "$TMP/log-u2" 2>&1
ok $? "--resume after SIGUSR1 runs to the end"
cmp -s "$TMP/ref.h5" "$W/checkpoint-last.h5"
ok $? "SIGUSR1 + resume: final checkpoint byte-identical"
# The resumed run's line for the interrupted epoch counts only its own steps.
e1=64; [ "$u" -lt 4 ] && e1=$(( (4 - u) * 16 ))
is "2 $e1" "$(wc -l < "$W/metrics.jsonl" | tr -d ' ') $(sed -n 's/.*"epoch":1,.*"samples":\([0-9]*\).*/\1/p' "$W/metrics.jsonl")" \
    "metrics.jsonl: a line per epoch; epoch 1's counts the samples of its own run"
done_testing
