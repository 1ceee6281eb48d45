#!/bin/sh
# 8000-netns-pipeline: the pipeline across two "nodes" (network namespaces,
# tests/tap/netns.sh; Open MPI over TCP only) gives the single-node results:
# prep (NTU60 and Kinetics), embed, eval and ensemble write byte-identical
# files on 2 nodes x 1 rank and 2 nodes x 2 ranks and on one node; training
# with the CoCoDiff module writes byte-identical checkpoints, losses and
# generated features to a single-node run of the same rank count (the rule of
# 5210: same rank count, same bytes); the ranks really are on two
# hosts and their gradients really cross node 2's link.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/netns.sh"
netns_up 2
plan 20
BIN=$REPO/bin
cd "$REPO" || exit 1   # embed and train find datasets/ relative to the repository
R=$TMP/ref
mkdir -p "$R"

# --- data and the single-node references (1 rank; training on 2 and 4)
"$BIN/cocodiff-synth" --format ntu --samples 120 --seed 3 --out "$TMP/s.zip" --quiet > "$TMP/synth.log" 2>&1 &&
    "$BIN/cocodiff-synth" --format kinetics --samples 24 --seed 5 --out "$TMP/k.tar.gz" --quiet >> "$TMP/synth.log" 2>&1 ||
    { echo "Bail out! cocodiff-synth failed (see $TMP/synth.log)"; exit 1; }
prep() { # prep LAUNCH... : prep of both archives into $OUT/ntu and $OUT/kin
    "$@" "$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$OUT/ntu" &&
        "$@" "$BIN/cocodiff-prep" --dataset kinetics --input "$TMP/k.tar.gz" --out "$OUT/kin"
}
DATA=$R/ntu/ntu60-xsub.h5
train_config "$TMP/c.yaml" "$TMP/unused"
sed -i "s|$TMP/ntu60-xsub.h5|$DATA|" "$TMP/c.yaml"
train_module "$TMP/c.yaml" "$R/text.h5"
# 8 steps (2 epochs, evaluation after each), the module generating from step 5
TS="--set num_epoch=2 --set step=[1] --set eval_interval=1"
# Checkpoints record the config, work_dir included: every run trains in $TMP/w
# (then moved to DEST), so equal runs are equal to the byte.
train() { # train DEST LAUNCH...
    _w=$1; shift
    rm -rf "$TMP/w"
    "$@" "$TRAIN" --config "$TMP/c.yaml" $TS --set work_dir="$TMP/w" --log-losses "$_w.losses" &&
        mv "$TMP/w" "$_w"
}
evals() { # evals OUTDIR LAUNCH... : joint and bone eval of the reference checkpoint, then their ensemble
    _o=$1; shift
    "$@" "$BIN/cocodiff-eval" --checkpoint "$R/w2/checkpoint-last.h5" --data "$DATA" --batch 8 --out "$_o/joint" &&
        "$@" "$BIN/cocodiff-eval" --checkpoint "$R/w2/checkpoint-last.h5" --data "$DATA" --batch 8 \
            --stream bone --out "$_o/bone" &&
        "$@" "$BIN/cocodiff-ensemble" --scores "$R/eval/joint/scores.h5" --scores "$R/eval/bone/scores.h5" \
            --out "$_o/ens"
}
OUT=$R
{ prep env &&
    "$BIN/cocodiff-embed" --descriptions datasets/ntu60/descriptions.tsv --out "$R/text.h5" &&
    train "$R/w2" run_mpi 2 && train "$R/w4" run_mpi 4 &&
    evals "$R/eval" env; } > "$TMP/ref.log" 2>&1
ok $? "single node: prep, embed, train (2 and 4 ranks), eval, ensemble"

# Trainable parameters (backbone and module; not BN's running statistics).
nparam=$(h5ls -r "$R/w2/checkpoint-last.h5" | awk '/^\/(model|cocodiff)\/.* Dataset \{[0-9]/ && !/running_|num_batches/ {
    sub(/.* Dataset \{/, ""); sub(/\}.*/, ""); n = split($0, d, ", "); p = 1; for (i = 1; i <= n; i++) p *= d[i]; s += p }
    END { print s + 0 }')

# --- the nodes
hosts=$(netns_mpirun 2 2 hostname 2> "$TMP/hosts.err" | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')
is "2 2 " "$hosts" "2 nodes x 2 ranks: two ranks on each of two hostnames"
for layout in "2 1" "2 2"; do
    set -- $layout
    L="$1 nodes x $2 rank(s)"
    OUT=$TMP/n$1x$2
    np=$(($1 * $2))
    mkdir -p "$OUT"
    prep netns_mpirun $1 $2 > "$OUT/prep.log" 2>&1
    ok $? "$L: prep exit 0"
    diff -r "$R/ntu" "$OUT/ntu" > "$OUT/diff.log" 2>&1 && diff -r "$R/kin" "$OUT/kin" >> "$OUT/diff.log" 2>&1
    ok $? "$L: NTU60 and Kinetics prep files byte-identical to one node's"
    netns_mpirun $1 $2 "$BIN/cocodiff-embed" --descriptions datasets/ntu60/descriptions.tsv --out "$OUT/text.h5" \
        > "$OUT/embed.log" 2>&1 && cmp "$R/text.h5" "$OUT/text.h5"
    ok $? "$L: embed exit 0, byte-identical text file"
    tx0=$(netns_tx_bytes 2)
    train "$OUT/w" netns_mpirun $1 $2 > "$OUT/train.log" 2>&1
    ok $? "$L: train with the module exit 0"
    tx=$(( $(netns_tx_bytes 2) - tx0 ))
    # The gradient all-reduce between two nodes sends at least half the
    # gradient out of each node per step (reduce-scatter + all-gather send a
    # whole one): 8 steps x nparam/2 floats at the least.
    [ "$tx" -ge $((2 * nparam * 8)) ]
    ok $? "$L: node 2 sent $tx bytes over its link while training (>= 8 steps x $nparam/2 parameters x 4 bytes)"
    cmp "$R/w$np/checkpoint-last.h5" "$OUT/w/checkpoint-last.h5" && cmp "$R/w$np/epoch001.h5" "$OUT/w/epoch001.h5" &&
        cmp "$R/w$np.losses" "$OUT/w.losses"
    ok $? "$L: checkpoints and every step's losses byte-identical to one node's $np-rank run"
    cmp "$R/w$np/features.h5" "$OUT/w/features.h5" && cmp "$R/w$np/diversity.json" "$OUT/w/diversity.json"
    ok $? "$L: generated features (features.h5, diversity.json) byte-identical too"
    evals "$OUT/eval" netns_mpirun $1 $2 > "$OUT/eval.log" 2>&1
    ok $? "$L: eval (joint, bone) and ensemble exit 0"
    cmp "$R/eval/joint/scores.h5" "$OUT/eval/joint/scores.h5" && cmp "$R/eval/bone/scores.h5" "$OUT/eval/bone/scores.h5" &&
        cmp "$R/eval/ens/scores.h5" "$OUT/eval/ens/scores.h5" &&
        cmp "$R/eval/joint/metrics.json" "$OUT/eval/joint/metrics.json" &&
        cmp "$R/eval/bone/metrics.json" "$OUT/eval/bone/metrics.json" && cmp "$R/eval/ens/metrics.json" "$OUT/eval/ens/metrics.json"
    ok $? "$L: eval and ensemble scores.h5 and metrics.json byte-identical to one rank's"
done
done_testing
