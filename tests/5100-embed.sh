#!/bin/sh
# 5100-embed: cocodiff-embed on 1 and 2 ranks gives identical files with the
# documented layout; bad descriptions and missing words give clear errors.
. "$(dirname "$0")/tap/tap.sh"
EMBED=$REPO/bin/cocodiff-embed
cd "$REPO" || exit 1
plan 16

"$EMBED" --descriptions datasets/ntu60/descriptions.tsv --out "$TMP/e1.h5" > "$TMP/l1" 2>&1
ok $? "1 rank: NTU60 GloVe embeddings"
run_mpi 2 "$EMBED" --descriptions datasets/ntu60/descriptions.tsv --out "$TMP/e2.h5" > "$TMP/l2" 2>&1
ok $? "2 ranks"
cmp -s "$TMP/e1.h5" "$TMP/e2.h5"; ok $? "1 and 2 ranks write byte-identical files"
is "SIMPLE { ( 60, 6, 100 ) / ( 60, 6, 100 ) }" "$(h5dump -H -d /fine "$TMP/e1.h5" | grep -o 'SIMPLE.*}')" "/fine is (K, 6, D)"
norm=$(h5dump -A 0 -y -w 0 -d /coarse -s "7,0" -c "1,100" "$TMP/e1.h5" | sed -n '/DATA {/,/}/p' | grep -v 'DATA\|}' | tr -s ', ' '\n\n' | grep -v '^$' | awk '{s+=$1*$1} END {printf "%.4f", s}')
is "1.0000" "$norm" "rows are L2-normalised"
h5dump -a /weights_sha256 "$TMP/e1.h5" | grep -q "$(sha256sum datasets/glove/glove-6b-100d-subset.bin | cut -c1-64)"
ok $? "the weights file's sha256 is recorded"
if [ -n "$REAL" ]; then
    "$EMBED" --descriptions datasets/ntu120/descriptions.tsv --classes "$REAL/lists/ntu120_classes.txt" --out "$TMP/e3.h5" > "$TMP/l3" 2>&1
    ok $? "NTU120 descriptions agree with the official class list"
    "$EMBED" --descriptions datasets/kinetics400/descriptions.tsv --classes "$REAL/lists/kinetics400_classes.txt" --id-base 0 --out "$TMP/e4.h5" > "$TMP/l4" 2>&1
    ok $? "Kinetics-400 descriptions agree with the official class list"
    "$EMBED" --descriptions datasets/ntu60/descriptions.tsv --classes "$REAL/lists/ntu120_classes.txt" --out "$TMP/e5.h5" > "$TMP/l5" 2>&1
    [ $? = 1 ] && grep -q "ntu120_classes.txt\|120\|class" "$TMP/l5"; ok $? "a class count that disagrees with the list is an error"
else
    skip 3 "no real data (class lists)"
fi
# A class missing a part (8 fields) and an empty text.
grep -v '^#' datasets/ntu60/descriptions.tsv | head -3 > "$TMP/bad.tsv"
printf '3\tbrushing teeth\tA sentence.\thead\thand\tarm\thip\tleg\n' >> "$TMP/bad.tsv"
"$EMBED" --descriptions "$TMP/bad.tsv" --out "$TMP/bad.h5" > "$TMP/lb" 2>&1
[ $? = 1 ] && grep -q "bad.tsv:4: 8 fields" "$TMP/lb" && [ ! -e "$TMP/bad.h5" ]; ok $? "a class missing a part: error naming file and line, no output"
printf 'id\tname\tsentence\thead\thand\tarm\thip\tleg\tfoot\n1\tzorp\tqwxzv blorf.\tzzyzx\tzzyzx\tzzyzx\tzzyzx\tzzyzx\tzzyzx\n' > "$TMP/oov.tsv"
"$EMBED" --descriptions "$TMP/oov.tsv" --out "$TMP/oov.h5" > "$TMP/lo" 2>&1
[ $? = 1 ] && grep -q "no word of \"zorp" "$TMP/lo"; ok $? "a text with no known word is an error that names it"
"$EMBED" --descriptions datasets/ntu120/descriptions.tsv --strict-oov --out "$TMP/s.h5" > "$TMP/ls" 2>&1
[ $? = 1 ] && grep -q "not in the GloVe vocabulary" "$TMP/ls"; ok $? "--strict-oov: unknown words are an error"
# A coarse text over 4,095 bytes is encoded whole (it was cut at 4,095 bytes
# silently): an unknown word after 8,000 bytes of known ones is still seen.
long=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "the "; printf "qwxzvlong." }')
printf 'id\tname\tsentence\thead\thand\tarm\thip\tleg\tfoot\n1\tdrink water\t%s\thead\thand\tarm\thip\tleg\tfoot\n' "$long" > "$TMP/long.tsv"
"$EMBED" --descriptions "$TMP/long.tsv" --strict-oov --out "$TMP/long.h5" > "$TMP/ll" 2>&1
[ $? = 1 ] && grep -q "qwxzvlong" "$TMP/ll"; ok $? "a coarse text over 4,095 bytes is read whole (its last word is seen)"
# CLIP with the small random model of tests/data/clip (same structure as ViT-B/32's text tower).
CLIPARGS="--encoder clip --clip-model tests/data/clip/model.safetensors --clip-vocab tests/data/clip/vocab.json --clip-merges tests/data/clip/merges.txt"
"$EMBED" --descriptions datasets/ntu60/descriptions.tsv $CLIPARGS --out "$TMP/c1.h5" > "$TMP/lc1" 2>&1 &&
run_mpi 2 "$EMBED" --descriptions datasets/ntu60/descriptions.tsv $CLIPARGS --out "$TMP/c2.h5" > "$TMP/lc2" 2>&1 &&
cmp -s "$TMP/c1.h5" "$TMP/c2.h5"; ok $? "clip: 1 and 2 ranks write byte-identical files"
h5dump -a /encoder "$TMP/c1.h5" | grep -q clip-text; ok $? "clip: the encoder is recorded"
head -c 5000 tests/data/clip/model.safetensors > "$TMP/trunc.safetensors"
"$EMBED" --descriptions datasets/ntu60/descriptions.tsv --encoder clip --clip-model "$TMP/trunc.safetensors" \
    --clip-vocab tests/data/clip/vocab.json --clip-merges tests/data/clip/merges.txt --out "$TMP/c3.h5" > "$TMP/lc3" 2>&1
[ $? = 1 ] && grep -q "trunc.safetensors" "$TMP/lc3" && [ ! -e "$TMP/c3.h5" ]; ok $? "clip: a truncated safetensors file is an error naming it"
done_testing
