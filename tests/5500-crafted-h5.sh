#!/bin/sh
# 5500-crafted-h5: crafted HDF5 files through each program on 1 and 2 ranks
# (issue 12, finding 2: an attribute stored as an array overflowed a buffer
# in train, eval, resume, ensemble and report; a zero-sized tensor divided
# by zero; Open MPI's crash handler then hung, and on 2 ranks hung ranks
# outlived mpirun). Each case: exit 1 on every rank (no signal, no hang),
# one message naming the file and the attribute or dataset, no output.
# tests/4100-h5-hostile.t checks every reader against every such change; its
# tool mode crafts the copies here.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
BIN=$REPO/bin
CRAFT=$REPO/tests/4100-h5-hostile.t
[ -x "$CRAFT" ] || skip_all "build the tests first: make tests"
plan 26
train_and_eval

# craft NAME SOURCE OP ARGS...: a copy of SOURCE at $TMP/NAME, changed
craft() {
    name=$1 src=$2 op=$3; shift 3
    mkdir -p "$(dirname "$TMP/$name")"
    cp "$src" "$TMP/$name" && "$CRAFT" "$op" "$TMP/$name" "$@" || echo "Bail out! cannot craft $name"
}
craft epoch.h5 "$CKPT" --attr / epoch 4096
craft zero.h5 "$CKPT" --dims /model/l1.gcn1.convs.0.conv3.weight 0 0 0 0
craft data.h5 "$DATA" --attr / num_joints 4096
mkdir -p "$TMP/bad"
craft bad/scores.h5 "$TMP/good/scores.h5" --attr / window 4096
cp "$TMP/good/metrics.json" "$TMP/bad/"
mkdir -p "$TMP/top1"
craft top1/scores.h5 "$TMP/good/scores.h5" --attr /metrics top1 4096
cp "$TMP/good/metrics.json" "$TMP/top1/"

fails_everywhere c1 "eval, /epoch as an array" "epoch.h5: attribute /epoch is not one integer" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/epoch.h5" --data "$DATA" --out "$TMP/e1"
fails_everywhere c2 "eval, a zero-sized tensor" "zero.h5: .*do not describe a CTR-GCN" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/zero.h5" --data "$DATA" --out "$TMP/e2"
# --resume from a work dir whose checkpoint-last.h5 has /epoch as an array
mkdir -p "$TMP/r"
cp "$TMP/w/config.yaml" "$TMP/r/" 2>/dev/null
cp "$TMP/epoch.h5" "$TMP/r/checkpoint-last.h5"
fails_everywhere c3 "train --resume, /epoch as an array" "checkpoint-last.h5: attribute /epoch is not one integer" \
    "$TRAIN" --config "$TMP/c.yaml" --set work_dir="$TMP/r" --resume --max-steps 1
fails_everywhere c4 "train, data with /num_joints as an array" "data.h5: attribute /num_joints is not one integer" \
    "$TRAIN" --config "$TMP/c.yaml" --set work_dir="$TMP/t" --set train_feeder_args.data_path="$TMP/data.h5" --max-steps 1
fails_everywhere c5 "ensemble, /window as an array" "bad/scores.h5: attribute /window is not one integer" \
    "$BIN/cocodiff-ensemble" --scores "$TMP/good/scores.h5" --scores "$TMP/bad/scores.h5" --out "$TMP/ens"
fails_everywhere c6 "report, /metrics/top1 as an array" "top1/scores.h5: attribute /metrics/top1 is not one number" \
    "$BIN/cocodiff-report" --eval "$TMP/good" --eval "$TMP/top1" --out "$TMP/r.html"
[ ! -e "$TMP/e1/scores.h5" ] && [ ! -e "$TMP/e2/scores.h5" ] && [ ! -e "$TMP/ens/scores.h5" ] && [ ! -e "$TMP/r.html" ]
ok $? "no scores.h5 or report written by a refused run"
grep -l "Process received signal\|Segmentation\|Floating point" "$TMP"/*.log* > "$TMP/crashes" 2>/dev/null
[ ! -s "$TMP/crashes" ]
ok $? "no crash reported in any log"
[ -n "${KEEP_TMP:-}" ] && _tap_fail=1
done_testing
