#!/bin/sh
# 5510-full-disk: every program's outputs on a full file system (issue 12,
# finding 3: train segfaulted at exit after a failed checkpoint write, with
# no message of its own; eval and ensemble the same; eval on 2 ranks hung
# closing the file; config.yaml was left empty without an error).
# A 16 MiB tmpfs is mounted here (as root, or as root of a user namespace
# when this kernel lets users make one; else the test skips, saying why),
# filled with a filler file to leave a given amount free. Each case: exit 1
# on every rank (1 and 2 ranks; no signal, no hang), one message naming the
# path and the reason, the previous output byte for byte intact, no
# .partial left behind, and a rerun once there is room again succeeds.
if [ "$(id -u)" != 0 ] && [ -z "${CD_IN_USERNS:-}" ] && unshare -rm true 2> /dev/null; then
    CD_IN_USERNS=1 exec unshare -rm sh "$0" "$@"
fi
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
BIN=$REPO/bin
FULL=$TMP/full
mkdir -p "$FULL"
why=$(mount -t tmpfs -o size=16m tmpfs "$FULL" 2>&1) || skip_all "cannot mount a tmpfs to fill: ${why:-mount failed}"
trap 'umount "$FULL" 2> /dev/null' EXIT
plan 39

# fill KB: leaves KB kilobytes free on the tmpfs
fill() {
    rm -f "$FULL/filler"
    avail=$(df -k --output=avail "$FULL" | tail -1)
    [ "$avail" -gt "$1" ] && dd if=/dev/zero of="$FULL/filler" bs=1k count=$((avail - $1)) 2> /dev/null
    :
}
nospace="No space left on device"

# --- inputs (on the real disk)
"$BIN/cocodiff-synth" --format ntu --samples 12 --seed 3 --out "$TMP/s12.zip" --quiet > "$TMP/synth.log" 2>&1
train_data
DATA=$TMP/ntu60-xsub.h5
train_config "$TMP/c.yaml" "$FULL/w"

# --- train: config.yaml in a fresh work dir on a full disk
fill 0
fails_everywhere cfg "train, config.yaml on a full disk" "config.yaml(.partial)?: .*$nospace" \
    "$TRAIN" --config "$TMP/c.yaml" --set work_dir="$FULL/w0" --max-steps 1
fill 4000
"$TRAIN" --config "$TMP/c.yaml" --max-steps 1 > "$TMP/train-good.log" 2>&1 &&
    cp "$FULL/w/checkpoint-last.h5" "$TMP/ckpt-before.h5"
ok $? "a first checkpoint with room to spare"

# --- train: the next checkpoint does not fit (the first is 0.9 MB)
fill 200
fails_everywhere ckpt "train, a checkpoint on a full disk" "checkpoint-last.h5.*$nospace" \
    "$TRAIN" --config "$TMP/c.yaml" --resume --max-steps 1
cmp -s "$FULL/w/checkpoint-last.h5" "$TMP/ckpt-before.h5" && [ ! -e "$FULL/w/checkpoint-last.h5.partial" ]
ok $? "train: the previous checkpoint is intact, no .partial left"
fill 4000
"$TRAIN" --config "$TMP/c.yaml" --resume --max-steps 1 > "$TMP/train-again.log" 2>&1
ok $? "train: with room again, --resume goes on"

# --- eval and ensemble: a scores.h5 (49 kB) that does not fit
rm -rf "$FULL/w"
fill 4000
"$BIN/cocodiff-eval" --checkpoint "$TMP/ckpt-before.h5" --data "$DATA" --out "$FULL/e" > "$TMP/eval-good.log" 2>&1 &&
    "$BIN/cocodiff-ensemble" --scores "$FULL/e/scores.h5" --scores "$FULL/e/scores.h5" --out "$FULL/ens" \
        > "$TMP/ens-good.log" 2>&1 && cp -r "$FULL/e" "$TMP/e-before" && cp -r "$FULL/ens" "$TMP/ens-before"
ok $? "a first eval and ensemble with room to spare"
fill 24
fails_everywhere eval "eval on a full disk" "e/scores.h5.*$nospace" \
    "$BIN/cocodiff-eval" --checkpoint "$TMP/ckpt-before.h5" --data "$DATA" --out "$FULL/e"
diff -r "$FULL/e" "$TMP/e-before" > /dev/null
ok $? "eval: the previous scores.h5 and metrics.json are intact, no .partial left"
fails_everywhere ens "ensemble on a full disk" "ens/scores.h5.*$nospace" \
    "$BIN/cocodiff-ensemble" --scores "$TMP/e-before/scores.h5" --scores "$TMP/e-before/scores.h5" --out "$FULL/ens"
diff -r "$FULL/ens" "$TMP/ens-before" > /dev/null
ok $? "ensemble: the previous outputs are intact, no .partial left"
fill 4000
"$BIN/cocodiff-eval" --checkpoint "$TMP/ckpt-before.h5" --data "$DATA" --out "$FULL/e" > "$TMP/eval-again.log" 2>&1
ok $? "eval: with room again, it writes its outputs"
"$BIN/cocodiff-ensemble" --scores "$TMP/e-before/scores.h5" --scores "$TMP/e-before/scores.h5" --out "$FULL/ens" \
    > "$TMP/ens-again.log" 2>&1
ok $? "ensemble: with room again, it writes its outputs"

# --- prep: two 2.1 MB files of 12 samples
rm -rf "$FULL/e" "$FULL/ens"
fill 8000
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s12.zip" --out "$FULL/p" > "$TMP/prep-good.log" 2>&1 &&
    cp -r "$FULL/p" "$TMP/p-before"
ok $? "a first prep with room to spare"
fill 1000
fails_everywhere prep "prep on a full disk" "ntu60-x(sub|view).h5.*$nospace" \
    "$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s12.zip" --out "$FULL/p"
diff -r "$FULL/p" "$TMP/p-before" > /dev/null
ok $? "prep: the previous outputs are intact, no .partial left"
fill 8000
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s12.zip" --out "$FULL/p" > "$TMP/prep-again.log" 2>&1
ok $? "prep: with room again, it writes its outputs"

# --- embed
rm -rf "$FULL/p"
fill 4000
"$BIN/cocodiff-embed" --descriptions "$REPO/datasets/synth/descriptions.tsv" --out "$FULL/t.h5" > "$TMP/emb-good.log" 2>&1 &&
    cp "$FULL/t.h5" "$TMP/t-before.h5"
ok $? "a first embed with room to spare"
fill 8
fails_everywhere emb "embed on a full disk" "t.h5.*$nospace" \
    "$BIN/cocodiff-embed" --descriptions "$REPO/datasets/synth/descriptions.tsv" --out "$FULL/t.h5"
cmp -s "$FULL/t.h5" "$TMP/t-before.h5" && [ ! -e "$FULL/t.h5.partial" ]
ok $? "embed: the previous file is intact, no .partial left"
fill 4000
"$BIN/cocodiff-embed" --descriptions "$REPO/datasets/synth/descriptions.tsv" --out "$FULL/t.h5" > "$TMP/emb-again.log" 2>&1
ok $? "embed: with room again, it writes its file"

grep -l "Process received signal\|Segmentation fault\|infinite loop closing library" "$TMP"/*.log* > "$TMP/crashes" 2>/dev/null
[ ! -s "$TMP/crashes" ]
ok $? "no crash or HDF5 close failure reported in any log"
[ ! -s "$TMP/crashes" ] || sed 's/^/#   /' "$TMP/crashes" >&2
umount "$FULL"
done_testing
