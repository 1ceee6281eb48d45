#!/bin/sh
# 6000-ensemble: cocodiff-ensemble on hand-made score files whose answer is
# known (tests/6001-ensemble-files.t --write): a + b fuses to top-1 3/4 (the
# streams alone: 1/4 and 2/4), --weights 1,0.2 to 1/4; the output has
# cocodiff-eval's layout and reads back; disagreeing inputs are exit 1 naming
# both files and the first differing row; usage errors are exit 2.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
HELPER=$REPO/tests/6001-ensemble-files.t
[ -x "$BIN/cocodiff-ensemble" ] && [ -x "$HELPER" ] || skip_all "build first: make all tests"
plan 14

"$HELPER" --write "$TMP" > "$TMP/write.log" 2>&1
ok $? "hand-made score files (K 3, 4 samples)"
jnum() { grep -o "\"$2\":[-0-9.e]*" "$1" | head -1 | cut -d: -f2; }

"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/b.h5" --out "$TMP/e" > "$TMP/e.log" 2>&1
ok $? "a + b: exit 0"
is "0.75 3 4" "$(jnum "$TMP/e/metrics.json" top1) $(jnum "$TMP/e/metrics.json" correct_top1) $(jnum "$TMP/e/metrics.json" num_samples)" \
   "fused top-1 = 3/4 (hand-computed: argmax of a+b is 0 1 2 2, labels 0 1 2 1)"
is "0.25 0.5" "$(grep -o '"streams":.*' "$TMP/e/metrics.json" | grep -o '"top1":[-0-9.e]*' | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')" \
   "each stream's top-1 next to the ensemble's (1/4, 2/4)"
h5dump -A 0 -y -w 0 -d /scores "$TMP/e/scores.h5" | tr -s ', \n' '   ' | grep -q "2 1 1 3 4 0 0 2 4 1 1 2"
ok $? "scores.h5 /scores = a + b, row by row"
h5diff "$TMP/a.h5" "$TMP/e/scores.h5" /name /name > /dev/null && h5diff "$TMP/a.h5" "$TMP/e/scores.h5" /label /label > /dev/null
ok $? "names and labels are the inputs'"
is "0.75" "$(h5dump -a /metrics/top1 "$TMP/e/scores.h5" | sed -n 's/.*(0): //p')" "/metrics top1 attribute = 0.75"
[ ! -e "$TMP/e/scores.h5.partial" ] && [ ! -e "$TMP/e/metrics.json.partial" ] && grep -q "ensemble .* 75.00%" "$TMP/e.log"
ok $? "no .partial left; the table shows the ensemble's 75.00%"

"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/b.h5" --weights 1,0.2 --out "$TMP/w" > "$TMP/w.log" 2>&1 &&
    is "0.25" "$(jnum "$TMP/w/metrics.json" top1)" "--weights 1,0.2: top-1 1/4 (a dominates)" ||
    ok 1 "--weights 1,0.2 failed"
"$BIN/cocodiff-ensemble" --scores "$TMP/e/scores.h5" --scores "$TMP/a.h5" --out "$TMP/r" > "$TMP/r.log" 2>&1
ok $? "an ensemble's scores.h5 is itself a valid input"

"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/names.h5" --out "$TMP/x1" > "$TMP/x1.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "row 2" "$TMP/x1.log" && grep -q "$TMP/a.h5" "$TMP/x1.log" && grep -q "$TMP/names.h5" "$TMP/x1.log" &&
    grep -q "S999" "$TMP/x1.log" && [ ! -e "$TMP/x1/scores.h5" ]
ok $? "names differ: exit 1 naming both files and row 2, no output (rc $rc)"
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/labels.h5" --out "$TMP/x2" > "$TMP/x2.log" 2>&1
rc1=$?
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/k4.h5" --out "$TMP/x3" > "$TMP/x3.log" 2>&1
rc2=$?
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --scores "$TMP/missing.h5" --out "$TMP/x4" > "$TMP/x4.log" 2>&1
rc3=$?
[ $rc1 -eq 1 ] && grep -q "row 3" "$TMP/x2.log" && [ $rc2 -eq 1 ] && grep -q "4 classes\|has 4" "$TMP/x3.log" && [ $rc3 -eq 1 ]
ok $? "labels differ, class counts differ, missing file: exit 1 ($rc1, $rc2, $rc3)"
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --out "$TMP/x5" --weights 1,2 > /dev/null 2>&1
rc1=$?
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" > /dev/null 2>&1
rc2=$?
"$BIN/cocodiff-ensemble" --scores "$TMP/a.h5" --weights 1,x --out "$TMP/x6" > /dev/null 2>&1
rc3=$?
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 2 ]; ok $? "usage errors: exit 2 ($rc1, $rc2, $rc3)"
"$BIN/cocodiff-ensemble" --scores "$TMP/jm.h5" --scores "$TMP/a.h5" --scores "$TMP/bm.h5" --scores "$TMP/b.h5" \
    --out "$TMP/f" > /dev/null 2>&1 &&
    is "[0.4,0.6,0.4,0.6]" "$(grep -o '"weights":\[[^]]*\]' "$TMP/f/metrics.json" | cut -d: -f2 )" \
       "the four streams without --weights: CTR-GCN's weight of each (by the stream each file records)" ||
    ok 1 "four streams failed"
done_testing
