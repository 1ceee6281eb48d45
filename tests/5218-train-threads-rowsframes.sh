#!/bin/sh
# 5218-train-threads-rowsframes: cocodiff.threads 4 at one NTU sample per
# rank (M = 2: two rows, batch 1 a rank): each person's row gets two lanes
# that split its frames (ctrgcn_team.h's rows x time blocks; tests/2029
# checks them against one model). On the synthetic NTU data (tap/train.sh),
# window 32, 20 steps at base_lr 1e-5 (at one sample a step, training-mode
# BN over that sample amplifies rounding from step to step, as tests/5215
# and 5217 note; at 1e-5 it stays rounding): the same run twice is
# byte-identical, it agrees with 1 thread within 1e-4 (as tests/5215 asks),
# so does batch 2 on 2 ranks x 4 threads (one sample a rank, the ranks' BN
# sums over the lanes' sums) against 2 x 1, and with the CoCoDiff module on (its step of one sample on one thread, its
# gradients into each lane's frames of its row) 1 x 4 is byte-identical
# twice and within 1e-4 of 1 x 1. Batch 3 on 2 ranks x 4 threads splits
# the ranks' slices differently (rank 0: one sample, 2 persons x 2 blocks;
# rank 1: two samples, 4 rows a lane each) under one synchronised BN (the
# same reductions in both layouts): within 1e-4 of 2 x 1. The machine may
# have fewer cores than threads: this checks the results, not the speed.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 11
train_data
train_config "$TMP/c.yaml" "$TMP/w"
S="--set test_feeder_args.data_path=null --set batch_size=1 --set base_lr=0.00001 --set warm_up_epoch=0
   --set train_feeder_args.window_size=32 --set save_epoch=0"
run() { run_threads "$@" --max-steps 20; }
within() { # within A B BOUND NAME: losses of runs A and B
    r=$(losses_maxrel "$TMP/$1.txt" "$TMP/$2.txt")
    awk -v r="$r" -v b="$3" 'BEGIN { exit !(r != "inf" && r + 0 <= b + 0) }'
    ok $? "$4 (max relative difference $r)"
}

run t1 1 1 && run t4a 1 4 && run t4b 1 4
ok $? "1 rank x 1 thread and 1 x 4 (twice): 20 steps of one NTU sample"
grep -q "1 rank(s) x 4 thread(s) splitting each sample's persons and their frames" "$TMP/t4a.log"
ok $? "the log says the threads split each sample's persons and their frames"
cmp "$TMP/t4a.h5" "$TMP/t4b.h5"
ok $? "1 rank x 4 threads: the two runs' checkpoints are byte-identical"
within t1 t4a 1e-4 "1 vs 4 threads: losses within 1e-4 over 20 steps"

B="$S"
S="$B --set batch_size=2"
run r1 2 1 && run r4a 2 4 && run r4b 2 4 && cmp "$TMP/r4a.h5" "$TMP/r4b.h5"
ok $? "batch 2 on 2 ranks x 4 threads (one sample a rank), twice: byte-identical checkpoints"
within r1 r4a 1e-4 "2 x 1 vs 2 x 4: losses within 1e-4 over 20 steps"
S="$B --set batch_size=3"
run q1 2 1 && run q4 2 4
within q1 q4 1e-4 "batch 3 on 2 ranks x 4 threads (rank 0 in 2 x 2 blocks, rank 1 by rows) vs 2 x 1: losses within 1e-4"
S="$B"

# The CoCoDiff module on: its step (one sample) on the calling thread, its
# gradients into each lane's frames of its row of the last unit output.
"$REPO/bin/cocodiff-embed" --descriptions "$REPO/datasets/ntu60/descriptions.tsv" --out "$TMP/text.h5" \
    > "$TMP/embed.log" 2>&1 || { echo "Bail out! cocodiff-embed failed (see $TMP/embed.log)"; exit 1; }
train_module "$TMP/c.yaml" "$TMP/text.h5"
S="$S --set cocodiff.l_fine=0.1 --set cocodiff.gen_start_epoch=0"
run m1 1 1 && run m4a 1 4 && run m4b 1 4
ok $? "with the module: 1 x 1 and 1 x 4 (twice), 20 steps"
grep -q 'CoCoDiff module' "$TMP/m4a.log" && grep -q "splitting each sample's persons and their frames" "$TMP/m4a.log"
ok $? "... the module on, the threads splitting the persons and their frames"
cmp "$TMP/m4a.h5" "$TMP/m4b.h5"
ok $? "... 1 x 4: byte-identical checkpoints (module included)"
within m1 m4a 1e-4 "... 1 vs 4 threads: losses within 1e-4"
done_testing
