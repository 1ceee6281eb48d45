#!/bin/sh
# 5225-train-accumulate: cocodiff.accumulate. A step of 2 batches of 8 is
# the step of one batch of 16 (the same samples, the gradient of the mean
# loss over all 16), with and without the CoCoDiff module; 1 and 2 ranks
# agree; a run stopped and resumed is byte-identical to the uninterrupted
# one; impossible settings are clear errors.
#
# BN sees each batch of 8, not the 16: its statistics (and so the
# gradients) differ from the large batch's on ordinary data. Here they are
# made equal: every training sample is the same skeleton (one synthetic
# sample under 40 names, different action labels) with the crop and the
# rotation off, so every batch of 8 has the statistics of the batch of 16 in
# exact arithmetic; what is left is float rounding (the order of the sums).
# Measured at lr 0.01 over 4 steps: losses within 1.1e-7 (backbone) and
# 3e-6 (the module's statistics). The trainable tensors are compared one
# step from one state (the batch of 16's checkpoint after 3 steps, resumed
# for a 4th step both ways): within 3e-8 (6e-8 with the module); one step
# of batch 8 without accumulation is 1.2e-2 away. Not after 4 steps of two
# runs: on this degenerate data a discontinuity (a ReLU or a max-pool
# argmax at a near-tie, presumably; not pinned down) sits within the
# weights' rounding, so float rounding of 1e-7
# in l1.gcn1.down.0.weight after step 3 (the two runs sum in another order)
# moves it by 3.2e-4 and data_bn.bias by 9.2e-5 at step 4, with either code
# (moving that tensor a quarter of the way between the two runs' values
# changes step 4 by 4.7e-6, half of the way by the whole 3.2e-4). The
# running statistics do differ, on purpose: they are updated once per batch
# (twice a step), as the batches' forward passes are.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 17

# The data: one synthetic NTU sample as 32 X-Sub training samples
# (performers 1, 2, 4, 5; actions 1-8) and 8 test samples (performer 3).
"$REPO/bin/cocodiff-synth" --format ntu --samples 1 --seed 3 --out "$TMP/one.tar" --quiet > "$TMP/synth.log" 2>&1 &&
    mkdir -p "$TMP/one" "$TMP/same/nturgb+d_skeletons" && tar -xf "$TMP/one.tar" -C "$TMP/one" ||
    { echo "Bail out! cocodiff-synth failed (see $TMP/synth.log)"; exit 1; }
f=$(ls "$TMP"/one/nturgb+d_skeletons/*.skeleton)
for p in 1 2 4 5 3; do
    for a in 1 2 3 4 5 6 7 8; do cp "$f" "$TMP/same/nturgb+d_skeletons/$(printf 'S001C001P%03dR001A%03d' $p $a).skeleton"; done
done
tar -cf "$TMP/same.tar" -C "$TMP/same" nturgb+d_skeletons &&
    "$REPO/bin/cocodiff-prep" --dataset ntu60 --input "$TMP/same.tar" --out "$TMP" > "$TMP/prep.log" 2>&1 &&
    "$REPO/bin/cocodiff-embed" --descriptions "$REPO/datasets/ntu60/descriptions.tsv" --out "$TMP/text.h5" > "$TMP/embed.log" 2>&1 ||
    { echo "Bail out! prep/embed failed (see $TMP/*.log)"; exit 1; }
train_config "$TMP/c.yaml" "$TMP/w"
S="--set train_feeder_args.p_interval=[1] --set train_feeder_args.random_rot=false --set test_feeder_args.data_path=null
   --set num_epoch=2 --set step=[30] --set warm_up_epoch=0 --set base_lr=0.01"
A2="--set batch_size=8 --set cocodiff.accumulate=2"
MOD="--set cocodiff.module=true --set cocodiff.text=$TMP/text.h5 --set cocodiff.latent_dim=16 --set cocodiff.heads=2
     --set cocodiff.blocks=1"
# trainable_diff A B GROUP: the datasets of GROUP more than 5e-5 apart, BN's
# running statistics and counters aside.
trainable_diff() {
    h5diff -d 5e-5 "$1" "$2" "$3" "$3" | grep '^dataset:' | grep -v 'running_\|num_batches_tracked'
}
for m in "" module; do
    X=""; [ -n "$m" ] && X=$MOD
    "$TRAIN" --config "$TMP/c.yaml" $S $X --set work_dir="$TMP/b16$m" --log-losses "$TMP/b16$m.txt" > "$TMP/b16$m.log" 2>&1 &&
        "$TRAIN" --config "$TMP/c.yaml" $S $X $A2 --set work_dir="$TMP/a8$m" --log-losses "$TMP/a8$m.txt" > "$TMP/a8$m.log" 2>&1
    ok $? "${m:-backbone}: batch 16 and batch 8 x accumulate 2, 4 steps each"
    r=$(losses_maxrel "$TMP/b16$m.txt" "$TMP/a8$m.txt")
    awk -v r="$r" 'BEGIN { exit !(r != "inf" && r + 0 <= 1e-6) }'
    ok $? "${m:-backbone}: the same losses within 1e-6 (max relative difference $r)"
    # every logged column: loss, top-1, lr and the module's statistics
    d=$(paste "$TMP/b16$m.txt" "$TMP/a8$m.txt" | awk '{ n = NF / 2; for (i = 2; i <= n; i++) { a = $i; b = $(i + n);
        e = a - b; if (e < 0) e = -e; s = a < 0 ? -a : a; r = s > 0 ? e / s : e; if (r > m) m = r } } END { printf "%.3g\n", m }')
    awk -v r="$d" 'BEGIN { exit !(r + 0 <= 2e-5) }'
    ok $? "${m:-backbone}: every logged statistic within 2e-5 (max relative difference $d)"
    # step 4 from the batch of 16's state after 3 steps, both ways
    rm -rf "$TMP/s3$m" && "$TRAIN" --config "$TMP/c.yaml" $S $X --set work_dir="$TMP/s3$m" --max-steps 3 \
        > "$TMP/s3$m.log" 2>&1 && cp -r "$TMP/s3$m" "$TMP/o16$m" && cp -r "$TMP/s3$m" "$TMP/o8$m" &&
        "$TRAIN" --config "$TMP/c.yaml" $S $X --set work_dir="$TMP/o16$m" --resume --max-steps 1 > "$TMP/o16$m.log" 2>&1 &&
        "$TRAIN" --config "$TMP/c.yaml" $S $X $A2 --set work_dir="$TMP/o8$m" --resume --max-steps 1 > "$TMP/o8$m.log" 2>&1
    rc=$?
    g=/model; [ -n "$m" ] && g=/cocodiff
    [ $rc = 0 ] && [ -z "$(trainable_diff "$TMP/o16$m/checkpoint-last.h5" "$TMP/o8$m/checkpoint-last.h5" /model)" ] &&
        [ -z "$(trainable_diff "$TMP/o16$m/checkpoint-last.h5" "$TMP/o8$m/checkpoint-last.h5" $g)" ]
    ok $? "${m:-backbone}: one step from one state: every trainable tensor within 5e-5"
done
nbt() { h5dump -d /model/data_bn.num_batches_tracked "$1" | sed -n 's/.*(0): //p' | head -1; }
is "4 8" "$(nbt "$TMP/b16/checkpoint-last.h5") $(nbt "$TMP/a8/checkpoint-last.h5")" \
    "BN counts the batches it saw: 4 steps of 1 batch, 4 steps of 2"
# Without accumulation, the first step of batch 8 is another step: the
# comparison above can tell.
"$TRAIN" --config "$TMP/c.yaml" $S --set batch_size=8 --set work_dir="$TMP/b8" --max-steps 2 --log-losses "$TMP/b8.txt" > "$TMP/b8.log" 2>&1
r=$(awk 'NR == 2 { print $2 }' "$TMP/b8.txt")
awk -v a="$r" -v b="$(awk 'NR == 2 { print $2 }' "$TMP/a8.txt")" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d > 1e-3) }'
ok $? "control: batch 8 without accumulation has another step-2 loss ($r)"

# 1 vs 2 ranks, accumulate 2, ordinary data (sync_bn: the batches' BN
# statistics are over both ranks), lr 1e-4 as tests/5200 argues.
train_data
train_config "$TMP/r.yaml" "$TMP/wr"
R="--set test_feeder_args.data_path=null --set num_epoch=2 --set step=[30] --set base_lr=0.0001 $A2
   --set cocodiff.checkpoint_steps=1"
for np in 1 2; do
    rm -rf "$TMP/s"
    run_mpi $np "$TRAIN" --config "$TMP/r.yaml" $R --set work_dir="$TMP/s" --log-losses "$TMP/r$np.txt" > "$TMP/r$np.log" 2>&1
    ok $? "$np rank(s): accumulate 2, 8 steps"
done
r=$(losses_maxrel "$TMP/r1.txt" "$TMP/r2.txt")
awk -v r="$r" 'BEGIN { exit !(r != "inf" && r + 0 <= 1e-4) }'
ok $? "1 vs 2 ranks: losses within 1e-4 over 8 steps (max relative difference $r)"
grep -q 'batches of 8 (steps of 2 batches: 16 samples, cocodiff.accumulate)' "$TMP/r2.log"
ok $? "the log says how many batches make a step"

# Checkpoints fall between steps only (every one of them here): stopped
# after 3 steps and resumed, the run ends byte-identical (the same work dir:
# the checkpoint stores the config).
cp "$TMP/s/checkpoint-last.h5" "$TMP/ref.h5" && rm -rf "$TMP/s"
run_mpi 2 "$TRAIN" --config "$TMP/r.yaml" $R --set work_dir="$TMP/s" --max-steps 3 > "$TMP/s1.log" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/r.yaml" $R --set work_dir="$TMP/s" --resume > "$TMP/s2.log" 2>&1 &&
    cmp "$TMP/s/checkpoint-last.h5" "$TMP/ref.h5"
ok $? "stopped after 3 steps and resumed: checkpoint-last.h5 byte-identical to the uninterrupted run's"

# Settings that cannot work.
"$TRAIN" --config "$TMP/r.yaml" $R --set work_dir="$TMP/e1" --set cocodiff.accumulate=0 > "$TMP/e1.log" 2>&1
[ $? = 2 ] && grep -q 'cocodiff.accumulate is 0; it must be >= 1' "$TMP/e1.log"
ok $? "accumulate 0: usage error"
"$TRAIN" --config "$TMP/r.yaml" $R --set work_dir="$TMP/e2" --set cocodiff.accumulate=10 > "$TMP/e2.log" 2>&1
[ $? != 0 ] && grep -q 'batches of 8 an epoch, fewer than cocodiff.accumulate 10' "$TMP/e2.log"
ok $? "more batches a step than an epoch has: a clear error"
done_testing
