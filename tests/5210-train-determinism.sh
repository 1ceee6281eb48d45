#!/bin/sh
# 5210-train-determinism: the same run twice on the same rank count gives
# byte-identical checkpoints (no timestamps in the HDF5 file, no state that
# depends on timing), per-epoch evaluation and metrics included; rank 0
# prints one progress line per log_interval with epoch, step, loss, top-1,
# lr, samples/s and ETA, and the other ranks print none.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 12
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# 16 steps; evaluation every 2 epochs; a checkpoint every 3 steps as well.
S="--set eval_interval=2 --set log_interval=2 --set cocodiff.checkpoint_steps=3"

# 2 ranks: the whole schedule; 1 rank: the first 6 steps (epoch 2 is done).
for np in 2 1; do
    M=""; [ $np = 1 ] && M="--max-steps 6"
    for i in 1 2; do
        rm -rf "$W"
        run_mpi $np "$TRAIN" --config "$TMP/c.yaml" $S $M > "$TMP/log$np-$i" 2>&1
        ok $? "$np rank(s), run $i"
        mkdir -p "$TMP/out$np-$i" && cp "$W"/*.h5 "$W/metrics.jsonl" "$TMP/out$np-$i/"
        [ $i = 1 ] && [ $np = 2 ] && sleep 1   # a timestamp, if any, would differ
    done
    cmp "$TMP/out$np-1/checkpoint-last.h5" "$TMP/out$np-2/checkpoint-last.h5" &&
        cmp "$TMP/out$np-1/epoch001.h5" "$TMP/out$np-2/epoch001.h5"
    ok $? "$np rank(s): checkpoint-last.h5 and epoch001.h5 are byte-identical"
done
step=$(h5dump -a /step "$TMP/out2-1/checkpoint-last.h5" | sed -n 's/.*(0): //p')
epoch=$(h5dump -a /epoch "$TMP/out2-1/checkpoint-last.h5" | sed -n 's/.*(0): //p')
is "16 4" "$step $epoch" "the final checkpoint is at step 16, epoch 4"
# Same metrics apart from the wall-clock field.
strip() { sed 's/"time_s":[^,}]*//' "$1"; }
[ "$(strip "$TMP/out2-1/metrics.jsonl")" = "$(strip "$TMP/out2-2/metrics.jsonl")" ] &&
    [ "$(wc -l < "$TMP/out2-1/metrics.jsonl")" -eq 4 ]
ok $? "metrics.jsonl: 4 epoch lines, equal in both runs but for time_s"

# train | epoch 2/4 | step 6/16 | loss 4.1234 | top1 0.062 | lr 0.1 | 123.4 samples/s | ETA 0h00m01s
re='^train | epoch [1-4]/4 | step [0-9]*/16 | loss [0-9.]* | top1 [01]\.[0-9]* | lr [0-9.e+-]* | [0-9.]* samples/s | ETA [0-9]*h[0-5][0-9]m[0-5][0-9]s$'
is 8 "$(grep -c "$re" "$TMP/log2-1")" "2 ranks: 8 progress lines (log_interval 2), printed once"
is 8 "$(grep '^train | epoch [0-9]*/' "$TMP/log2-1" | grep -vc ' | mean train loss ')" \
    "no other progress lines (no duplicates from rank 1; the epoch summaries aside)"
is "epoch 4/4 | step 16/16 ETA 0h00m00s" "$(grep "$re" "$TMP/log2-1" | tail -1 | grep -o 'epoch 4/4 | step 16/16\|ETA .*' | tr '\n' ' ' | sed 's/ $//')" \
    "the last line is step 16 of epoch 4, ETA 0"
eta=$(grep "$re" "$TMP/log2-1" | head -1 | sed 's/.*ETA \([0-9]*\)h\([0-9]*\)m\([0-9]*\)s/\1 \2 \3/' | awk '{ print $1 * 3600 + $2 * 60 + $3 }')
[ "$eta" -ge 1 ] && [ "$eta" -le 120 ]
ok $? "the first line's ETA is plausible (${eta}s for 14 more steps)"
done_testing
