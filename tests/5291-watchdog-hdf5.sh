#!/bin/sh
# 5291-watchdog-hdf5: a rank frozen right before a collective of parallel
# HDF5 (the scores file's create or close) no longer hangs the job (issue 12,
# finding 7's open part). The watchdog cannot poll inside HDF5's blocking
# calls, so a guard thread times them (dist_guard_begin, include/dist.h):
# with COCODIFF_WATCHDOG_S=3 the waiting rank ends itself after 3 + 2 s
# with a message naming the call, and mpirun ends the job, the stopped rank
# included. Rank 1 is stopped by the test-only hook
# COCODIFF_TEST_STOP_AT=h5-create@1 / h5-close@1 (include/fault.h). Before
# the guard both runs hung until the test's 120 s guard ended them.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 7
train_and_eval
EVAL=$REPO/bin/cocodiff-eval
now() { date +%s; }
for p in h5-create:H5Fcreate h5-close:H5Fclose; do
    point=${p%%:*} call=${p#*:}
    t0=$(now)
    COCODIFF_WATCHDOG_S=3 COCODIFF_TEST_STOP_AT=$point@1 timeout -k 10 120 \
        mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS "$EVAL" --checkpoint "$CKPT" --data "$DATA" \
        --out "$TMP/e-$point" > "$TMP/$point.log" 2>&1
    rc=$? took=$(($(now) - t0))
    [ $rc = 1 ] && [ $took -lt 60 ]
    ok $? "rank 1 stopped before $call: the job ends (exit $rc after $took s; 124: hung)"
    grep -q "error: \[r0\] watchdog: cocodiff-eval: still inside $call after 5 s" "$TMP/$point.log"
    ok $? "rank 0 says where it waited: $(grep -o 'still inside [A-Za-z0-9_]* after [0-9]* s' "$TMP/$point.log" | head -1)"
    sleep 1
    left=$(pgrep -f "cocodiff-eval --checkpoint $CKPT" | tr '\n' ' ')
    is "" "$left" "$call: no process left (the stopped rank included)"
    for q in $left; do kill -KILL "$q"; done
done
COCODIFF_WATCHDOG_S=3 run_mpi 2 "$EVAL" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/e-ok" > "$TMP/ok.log" 2>&1 &&
    ! grep -q watchdog "$TMP/ok.log"
ok $? "with nothing stopped the guarded calls pass (exit 0, no watchdog line)"
done_testing
