#!/bin/sh
# 5020-prep-kinetics-real: the real Kinetics clips and the official label file
# through cocodiff-prep on 1 and 2 ranks (tar.gz and zip).
. "$(dirname "$0")/tap/tap.sh"
[ -n "$REAL" ] || skip_all "no real data (../shared/data/real)"
PREP=$REPO/bin/cocodiff-prep
plan 9

mkdir -p "$TMP/k/kinetics_val"
cp "$REAL"/kinetics/*.json "$TMP/k/kinetics_val/"
cp "$REAL/lists/kinetics_val_label.json" "$TMP/k/"
(cd "$TMP/k" && bsdtar -czf "$TMP/kin.tar.gz" kinetics_val kinetics_val_label.json)
# A clip the label file does not know, and a label file listed after clips.
cp "$REAL/kinetics/__NrybzYzUg.json" "$TMP/k/kinetics_val/zzzzzzzzzzz.json"
(cd "$TMP/k" && bsdtar -a -cf "$TMP/kin.zip" kinetics_val kinetics_val_label.json)

"$PREP" --dataset kinetics --input "$TMP/kin.tar.gz" --out "$TMP/o1" > "$TMP/log1" 2>&1
ok $? "1 rank: kinetics from a tar.gz"
run_mpi 2 "$PREP" --dataset kinetics --input "$TMP/kin.tar.gz" --out "$TMP/o2" > "$TMP/log2" 2>&1
ok $? "2 ranks: kinetics from a tar.gz"
cmp -s "$TMP/o1/kinetics.h5" "$TMP/o2/kinetics.h5"; ok $? "1 and 2 ranks write byte-identical files"
dims=$(h5dump -H -d /test/x "$TMP/o1/kinetics.h5" | grep -o 'SIMPLE { ( [0-9, ]* )' | head -1)
is "SIMPLE { ( 5, 3, 300, 18, 2 )" "$dims" "val is /test: (5, 3, 300, 18, 2)"
is "0" "$(h5dump -H -d /train/x "$TMP/o1/kinetics.h5" | grep -o 'SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')" "no train clips: empty /train"
tr -d ' \n' < "$REAL/lists/kinetics_val_label.json" > "$TMP/labels.oneline"
want=$(ls "$REAL"/kinetics/ | LC_ALL=C sort | while read -r f; do id=$(basename "$f" .json)
    grep -o "\"$id\":{[^}]*}" "$TMP/labels.oneline" | grep -o '"label_index":[0-9]*' | grep -o '[0-9]*$'; done | paste -sd, | sed 's/,/, /g')
got=$(h5dump -A 0 -d /test/label "$TMP/o1/kinetics.h5" | sed -n 's/.*(0): //p')
is "$want" "$got" "labels are the label file's label_index, in name order"
h5dump -a /layout "$TMP/o1/kinetics.h5" | grep -q openpose18; ok $? "layout attribute says openpose18"

run_mpi 2 "$PREP" --dataset kinetics --input "$TMP/kin.zip" --out "$TMP/o3" > "$TMP/log3" 2>&1
ok $? "zip with an unknown clip still succeeds"
grep -q "^zzzzzzzzzzz	.*not listed in kinetics_val_label.json" "$TMP/o3/kinetics-rejects.tsv"
ok $? "a clip missing from the label file is rejected with the reason"
done_testing
