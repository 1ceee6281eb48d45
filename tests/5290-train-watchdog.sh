#!/bin/sh
# 5290-train-watchdog: a frozen rank never hangs the job (issue 12, finding 7).
# cocodiff-train on 2 ranks with COCODIFF_WATCHDOG_S=3; one rank is stopped
# with SIGSTOP during training: the job ends within seconds (limit 3 s + grace
# 2 s + the abort), exit non-zero, with a message naming the silent rank, its
# pid, that it is stopped, and the collective and stage where the other rank
# waits; nothing is left behind. Rank 1 stopped, then rank 0 (rank 1 speaks).
# A pause shorter than the limit (SIGSTOP, 1 s, SIGCONT) ends nothing: the run
# completes. Before the watchdog, a stopped rank hung the job forever (the
# guard below ends the test as not ok).
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 15
LIMIT=${WATCHDOG_TEST_LIMIT_S:-30}   # seconds from the stop to the job's end (3 + 2 + abort + load)
GUARD=120                            # seconds after which the job counts as hung
train_data
train_config "$TMP/c.yaml" "$TMP/w"

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{ printf "%.1f", $1 - $2 }'; }
rank_pid() { # MPIRUN_PID RANK: the pid of that rank (a child of mpirun)
    for p in $(pgrep -P "$1"); do
        tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p" && return
    done
}
alive() { # PID: exists and is not a zombie
    s=$(sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -c1)
    [ -n "$s" ] && [ "$s" != Z ]
}
victim="" ranks=""
# A hung job: mpirun and both ranks are ended here (ranks outlive a killed
# mpirun, spinning in MPI for ever).
cleanup() {
    [ -n "$victim" ] && kill -CONT "$victim" 2> /dev/null
    [ -n "${job:-}" ] && kill -KILL "$job" 2> /dev/null
    for p in $ranks; do kill -KILL "$p" 2> /dev/null; done
}
trap cleanup EXIT

# start LOG WATCHDOG_S EPOCHS: training in the background ($job: mpirun),
# waiting until step 4 is logged
start() {
    rm -rf "$TMP/w"
    COCODIFF_WATCHDOG_S=$2 mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS -x COCODIFF_WATCHDOG_S \
        "$TRAIN" --config "$TMP/c.yaml" --set num_epoch="$3" --set eval_interval=100 > "$1" 2>&1 &
    job=$!
    t=$(now)
    until grep -q '^train | epoch [0-9]*/[0-9]* | step [4-9]/' "$1" || [ "$(since "$t" | cut -d. -f1)" -ge $GUARD ]; do
        kill -0 $job 2> /dev/null || break
        sleep 0.2
    done
    ranks=$(pgrep -P $job | tr '\n' ' ')
}
# wait_end: waits for $job (at most GUARD s); sets rc (or "hung") and dt
wait_end() {
    t=$(now)
    until ! kill -0 $job 2> /dev/null || [ "$(since "$t" | cut -d. -f1)" -ge $GUARD ]; do sleep 0.1; done
    dt=$(since "$t")
    if kill -0 $job 2> /dev/null; then rc=hung; cleanup; else wait $job; rc=$?; fi
    job=""
}

# frozen RANK SPEAKER: stops RANK; the job ends and SPEAKER names it
frozen() {
    log=$TMP/stop$1.log
    start "$log" 3 40
    victim=$(rank_pid $job "$1")
    [ -n "$victim" ] && grep -q 'step [4-9]/' "$log"
    ok $? "rank $1 stopped: training on 2 ranks is under way; rank $1 is pid ${victim:-none}"
    [ -n "$victim" ] || { echo "Bail out! no rank $1 found (see $log)"; exit 1; }
    kill -STOP "$victim"
    wait_end
    if [ "$rc" = hung ]; then
        ok 1 "rank $1 stopped: the job did not end within ${GUARD}s (hang)"
    else
        awk -v d="$dt" -v l="$LIMIT" 'BEGIN { exit !(d <= l) }'
        ok $? "rank $1 stopped: the job ended ${dt}s after the stop (limit ${LIMIT}s)"
    fi
    diag "$(grep 'watchdog' "$log" | head -2)"
    [ "$rc" != hung ] && [ "$rc" -ne 0 ]
    ok $? "rank $1 stopped: mpirun exits non-zero (status $rc)"
    grep -q "^error: \[r$2\] watchdog: cocodiff-train: rank $1 (pid $victim on [^ ]*) is SILENT: .* the process is STOPPED" "$log"
    ok $? "rank $1 stopped: rank $2 names rank $1, its pid and that it is stopped"
    grep -q "^error: \[r$2\] watchdog: cocodiff-train: rank $2 waits in dist_[a-z0-9_]* (collective #[0-9]*) for [0-9]* s; stage: train epoch [0-9]* step [0-9]*" "$log"
    ok $? "rank $1 stopped: the message says where rank $2 waits (collective, stage)"
    sleep 0.5
    ! alive "$victim" && [ -z "$(pgrep -P $$ -x mpirun)" ]
    ok $? "rank $1 stopped: the stopped process is gone, no mpirun left"
    victim=""
}
frozen 1 0
frozen 0 1

# A pause shorter than the limit is not a hang.
log=$TMP/pause.log
start "$log" 30 4
victim=$(rank_pid $job 1)
[ -n "$victim" ] && kill -STOP "$victim" && sleep 1 && kill -CONT "$victim"
ok $? "a pause: rank 1 (pid ${victim:-none}) stopped for 1 s, then continued (limit 30 s)"
victim=""
wait_end
is 0 "$rc" "a pause: training completes (exit 0)"
! grep -q watchdog "$log"
ok $? "a pause: no watchdog message"
done_testing
