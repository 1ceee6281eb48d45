#!/bin/sh
# 5216-train-threads-module: cocodiff.threads 2 with the CoCoDiff module on
# (generation from epoch 3, l_fine 0.1: gradients into the pooled feature,
# the head and the part tokens): the threads split each rank's batch through
# the backbone and, between the passes, through the module's step on the
# batch's gathered outputs (each thread its samples' tokens, its share of the
# step and its samples' gradients; tests/1250 checks that split against the
# whole step), whose gradients go back to each thread's share of the
# backbone (tests/2025 checks that path against one model). As tests/5215 asks of
# the backbone alone: the same run twice is byte-identical (1 rank x 2
# threads and 2 x 2), it agrees with 1 thread within 1e-4 over 20 steps at
# base_lr 1e-4 (every logged column: the loss and the module's statistics),
# and 2 x 2 stopped after 3 steps and resumed ends byte-identical. At one
# sample per rank the threads split the sample's two persons through the
# backbone (the module's step, of one sample, runs on one thread): the same
# run twice and a resumed run are byte-identical there too.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 13
train_data
"$REPO/bin/cocodiff-embed" --descriptions "$REPO/datasets/ntu60/descriptions.tsv" --out "$TMP/text.h5" \
    > "$TMP/embed.log" 2>&1 || { echo "Bail out! cocodiff-embed failed (see $TMP/embed.log)"; exit 1; }
train_config "$TMP/c.yaml" "$TMP/w"
train_module "$TMP/c.yaml" "$TMP/text.h5"
S="$TRAJECTORY --set cocodiff.l_fine=0.1 --set cocodiff.checkpoint_steps=1"
run() { run_threads "$@"; }   # 20 steps (tap/train.sh)
# every logged column (loss, top-1, lr, the module's) within BOUND
within() { # within A B BOUND NAME: losses of runs A and B
    r=$(losses_maxrel "$TMP/$1.txt" "$TMP/$2.txt")
    d=$(paste "$TMP/$1.txt" "$TMP/$2.txt" | awk '{ n = NF / 2; for (i = 2; i <= n; i++) { a = $i; b = $(i + n);
        e = a - b; if (e < 0) e = -e; s = a < 0 ? -a : a; r = s > 0 ? e / s : e; if (r > m) m = r } } END { printf "%.3g\n", m }')
    awk -v r="$r" -v d="$d" -v b="$3" 'BEGIN { exit !(r != "inf" && r + 0 <= b + 0 && d + 0 <= b + 0) }'
    ok $? "$4 (max relative difference: loss $r, any column $d)"
}

run t1 1 1
ok $? "1 rank x 1 thread with the module: 20 steps"
run t2a 1 2 && run t2b 1 2
ok $? "1 rank x 2 threads with the module: 20 steps, twice"
grep -q "1 rank(s) x 2 thread(s) splitting each batch, the module's step too" "$TMP/t2a.log" &&
    grep -q 'CoCoDiff module' "$TMP/t2a.log" &&
    [ "$(awk 'NR > 8 && $7 > 0' "$TMP/t2a.txt" | wc -l)" -gt 0 ]
ok $? "the log says the threads split each batch and the module's step, which generates (gen > 0)"
cmp "$TMP/t2a.h5" "$TMP/t2b.h5"
ok $? "1 rank x 2 threads: the two runs' checkpoints are byte-identical (module included)"
within t1 t2a 1e-4 "1 vs 2 threads: within 1e-4 over 20 steps"

run r2a 2 2 && run r2b 2 2
ok $? "2 ranks x 2 threads with the module: 20 steps, twice"
cmp "$TMP/r2a.h5" "$TMP/r2b.h5"
ok $? "2 ranks x 2 threads: byte-identical checkpoints"
within t1 r2a 1e-4 "1 x 1 vs 2 ranks x 2 threads: within 1e-4 over 20 steps"

rm -rf "$TMP/w"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.threads=2 --max-steps 3 > "$TMP/s1.log" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.threads=2 --resume > "$TMP/s2.log" 2>&1 &&
    grep -q 'step 20/20' "$TMP/s2.log" && cmp "$TMP/w/checkpoint-last.h5" "$TMP/r2a.h5"
ok $? "2 x 2 stopped after 3 steps and resumed: checkpoint-last.h5 byte-identical to the uninterrupted run's"

# One sample per rank: the threads split the sample's persons.
S="$S --set batch_size=2 --set num_epoch=1"
run b2 2 2 && run b2b 2 2
grep -q 'step 39/39' "$TMP/b2.log"
ok $? "batch 2 on 2 ranks x 2 threads with the module (one sample per rank): to its last step, twice"
grep -q "2 rank(s) x 2 thread(s) splitting each sample's persons" "$TMP/b2.log"
ok $? "... and the log says the threads split each sample's persons"
cmp "$TMP/b2.h5" "$TMP/b2b.h5"
ok $? "... byte-identical checkpoints"
rm -rf "$TMP/w"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.threads=2 --max-steps 3 > "$TMP/s3.log" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.threads=2 --resume > "$TMP/s4.log" 2>&1 &&
    grep -q 'step 39/39' "$TMP/s4.log" && cmp "$TMP/w/checkpoint-last.h5" "$TMP/b2.h5"
ok $? "... stopped after 3 steps and resumed: byte-identical to the uninterrupted run's"
done_testing
