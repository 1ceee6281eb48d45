#!/bin/sh
# 5250-train-overlap: the gradient all-reduce in buckets overlapped with
# backward (cocodiff.bucket_mb > 0) and the single blocking call after
# backward (bucket_mb 0) train the same model, bit for bit, on 2 ranks (a
# sum of two values has one order): the same losses, and the same weights,
# momentum and RNG state in the checkpoint (only the config attribute, which
# records bucket_mb, may differ); with the CoCoDiff module too (its
# gradients are one more bucket, started before the backbone's backward).
# bucket_mb 0.02 (20 KiB) cuts the base-8 model (180 KiB of gradients) into
# several buckets, which rank 0 announces once; --max-steps then --resume
# with them ends byte-identical to the uninterrupted run.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v h5diff > /dev/null || skip_all "h5diff not installed"
plan 15
train_data
train_config "$TMP/c.yaml" "$TMP/w"
# 8 steps (2 epochs of 4), evaluation after each epoch.
S="--set num_epoch=2 --set step=[1] --set eval_interval=1"
# same_state A B: /model, /optimizer and /rng (and /cocodiff when there)
# hold the same values, exactly (h5diff without a tolerance).
same_state() {
    for g in /model /optimizer /rng ${3:-}; do h5diff "$1" "$2" $g $g > /dev/null || { diag "$g differs"; return 1; }; done
}

for mb in 0.02 0; do
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.bucket_mb=$mb --set work_dir="$TMP/w$mb" \
        --log-losses "$TMP/l$mb" > "$TMP/log$mb" 2>&1
    ok $? "2 ranks, bucket_mb $mb: 8 steps"
done
n=$(sed -n 's/^train | gradient all-reduce: \([0-9]*\) buckets of <= [0-9.e-]* MB, overlapped with backward (cocodiff.bucket_mb 0.02)$/\1/p' "$TMP/log0.02")
[ -n "$n" ] && [ "$n" -ge 3 ]
ok $? "bucket_mb 0.02: rank 0 announces ${n:-no} buckets overlapped with backward (at least 3)"
is 1 "$(grep -c '^train | gradient all-reduce: [0-9]* buckets' "$TMP/log0.02")" "... once (rank 0 only)"
grep -q '^train | gradient all-reduce: one blocking call after backward (cocodiff.bucket_mb 0)$' "$TMP/log0"
ok $? "bucket_mb 0: one blocking all-reduce after backward"
grep -q '^train | gradient all-reduce: [0-9.]* ms a step waited for after backward' "$TMP/log0.02"
ok $? "the time waited for the all-reduce after backward is reported"
cmp -s "$TMP/l0.02" "$TMP/l0"
ok $? "overlapped vs blocking: the same 8 losses, bit for bit"
same_state "$TMP/w0.02/checkpoint-last.h5" "$TMP/w0/checkpoint-last.h5"
ok $? "overlapped vs blocking: the same weights, momentum and RNG state in the final checkpoint"
h5diff "$TMP/w0.02/epoch001.h5" "$TMP/w0/epoch001.h5" /model /model > /dev/null
ok $? "... and in epoch001.h5"

# --max-steps 3 (mid-epoch) then --resume, with the buckets (the same
# work_dir: the checkpoint records the config).
cp "$TMP/w0.02/checkpoint-last.h5" "$TMP/ref.h5"
rm -rf "$TMP/w0.02"
R="--config $TMP/c.yaml $S --set cocodiff.bucket_mb=0.02 --set work_dir=$TMP/w0.02"
run_mpi 2 "$TRAIN" $R --max-steps 3 > "$TMP/logr1" 2>&1 && run_mpi 2 "$TRAIN" $R --resume > "$TMP/logr2" 2>&1
ok $? "bucket_mb 0.02: --max-steps 3, then --resume to the end"
cmp -s "$TMP/ref.h5" "$TMP/w0.02/checkpoint-last.h5"
ok $? "max-steps + resume: final checkpoint byte-identical to the uninterrupted run's"

# The CoCoDiff module: its gradients are a bucket of their own.
cd "$REPO" || exit 1
bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out "$TMP/text.h5" > "$TMP/embed.log" 2>&1 ||
    { echo "Bail out! cocodiff-embed failed (see $TMP/embed.log)"; exit 1; }
M="--set cocodiff.module=true --set cocodiff.text=$TMP/text.h5 --set cocodiff.latent_dim=16 --set cocodiff.heads=2 --set cocodiff.blocks=1"
for mb in 0.02 0; do
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $M --set cocodiff.bucket_mb=$mb --set work_dir="$TMP/m$mb" \
        --log-losses "$TMP/lm$mb" > "$TMP/logm$mb" 2>&1
    ok $? "2 ranks with the module, bucket_mb $mb: 8 steps"
done
nm=$(sed -n 's/^train | gradient all-reduce: \([0-9]*\) buckets .*/\1/p' "$TMP/logm0.02")
is "$((n + 1))" "$nm" "with the module: one bucket more"
cmp -s "$TMP/lm0.02" "$TMP/lm0" && same_state "$TMP/m0.02/checkpoint-last.h5" "$TMP/m0/checkpoint-last.h5" /cocodiff
ok $? "with the module, overlapped vs blocking: the same losses (module's included), weights and module, bit for bit"
done_testing
