#!/bin/sh
# 8010-netns-kill: a rank killed on a remote node (SIGKILL of a cocodiff-train
# process on node 2 of 2 nodes x 2 ranks, during training) ends the whole job
# within seconds with a message naming the rank, the node and the signal;
# nothing is left running on either node, and the last checkpoint on disk is
# a complete file. A guard ends the test (not ok) if the job hangs.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/netns.sh"
netns_up 2
plan 6
LIMIT=${NETNS_KILL_LIMIT_S:-10}   # seconds from the kill to the job's end
GUARD=60                          # seconds after which the job counts as hung
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# 40 epochs (160 steps): far longer than the test waits; a checkpoint every 2 steps
netns_mpirun 2 2 "$TRAIN" --config "$TMP/c.yaml" --set num_epoch=40 --set eval_interval=100 \
    --set cocodiff.checkpoint_steps=2 > "$TMP/log" 2>&1 &
job=$!

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{ printf "%.1f", $1 - $2 }'; }
# Training is under way once step 4 is logged (checkpoints written at 2 and 4).
t=$(now)
until grep -q '^train | epoch [0-9]*/40 | step [4-9]/' "$TMP/log" || [ "$(since "$t" | cut -d. -f1)" -ge $GUARD ]; do
    kill -0 $job 2> /dev/null || break
    sleep 0.2
done
victim=""
for p in $(netns_pids 2); do
    [ "$(cat /proc/$p/comm 2> /dev/null)" = cocodiff-train ] && victim=$p && break
done
[ -n "$victim" ] && grep -q 'step [4-9]/' "$TMP/log"
ok $? "training runs on 2 nodes x 2 ranks; a rank on node 2 is pid ${victim:-none}"
[ -n "$victim" ] || { echo "Bail out! no cocodiff-train on node 2 (see $TMP/log)"; exit 1; }

kill -KILL "$victim"
t=$(now)
until ! kill -0 $job 2> /dev/null || [ "$(since "$t" | cut -d. -f1)" -ge $GUARD ]; do sleep 0.1; done
dt=$(since "$t")
if kill -0 $job 2> /dev/null; then
    ok 1 "the job did not end within ${GUARD}s of the kill (hang)"
    rc=hung
else
    wait $job; rc=$?
    awk -v d="$dt" -v l="$LIMIT" 'BEGIN { exit !(d <= l) }'
    ok $? "the job ended ${dt}s after the kill (limit ${LIMIT}s)"
fi
[ "$rc" != hung ] && [ "$rc" -ne 0 ]
ok $? "mpirun exits non-zero (status $rc)"
grep -q "process rank [0-9]* with PID $victim on node $(netns_host 2) exited on signal 9" "$TMP/log"
ok $? "the message names the rank, its pid, node 2 and signal 9"
diag "$(grep "exited on signal" "$TMP/log" | head -1)"
left=""
for i in 1 2; do
    for p in $(netns_pids $i); do
        [ "$(cat /proc/$p/comm 2> /dev/null)" = cocodiff-train ] && left="$left $p"
    done
done
is "" "$left" "no cocodiff-train left on either node"
h5ls "$W/checkpoint-last.h5" > /dev/null 2>&1 && [ "$(h5dump -a /step "$W/checkpoint-last.h5" | sed -n 's/.*(0): //p')" -ge 2 ]
ok $? "checkpoint-last.h5 is a complete file (step $(h5dump -a /step "$W/checkpoint-last.h5" 2> /dev/null | sed -n 's/.*(0): //p'))"
done_testing
