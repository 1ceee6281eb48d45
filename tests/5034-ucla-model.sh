#!/bin/sh
# 5034-ucla-model: the shipped NW-UCLA model (models/ucla-joint-s1.h5) on the
# real test split gets exactly the top-1 models/README.md documents: the
# archive (../shared/data/ucla/all_sqe.zip or COCODIFF_UCLA_ZIP; skipped when
# absent) through cocodiff-prep, then cocodiff-eval on 1 and 2 ranks (same
# bytes). The file's checksum is the one the README names.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
MODEL=$REPO/models/ucla-joint-s1.h5
ZIP=${COCODIFF_UCLA_ZIP:-$REPO/../shared/data/ucla/all_sqe.zip}
[ -r "$ZIP" ] || skip_all "no NW-UCLA archive (../shared/data/ucla/all_sqe.zip or COCODIFF_UCLA_ZIP)"
plan 7

# The documented figure: the table row of ucla-joint-s1.h5, "NN.NN% (K/N)".
row=$(grep '^| `ucla-joint-s1.h5`' "$REPO/models/README.md")
want=$(echo "$row" | sed -n 's/.*| \([0-9.]*%\) (\([0-9]*\)\/\([0-9]*\)) |.*/\2 \3/p')
[ -n "$want" ]; ok $? "models/README.md documents the test top-1 of ucla-joint-s1.h5 ($want)"
sum=$(echo "$row" | sed -n 's/.*| `\([0-9a-f]*\)\.\.\.` |$/\1/p')
case "$(sha256sum "$MODEL" | cut -d' ' -f1)" in "$sum"*) r=0 ;; *) r=1 ;; esac
[ -n "$sum" ] && [ $r -eq 0 ]; ok $? "the model file's sha256 starts with the README's ($sum)"

run_mpi 2 "$BIN/cocodiff-prep" --dataset ucla --input "$ZIP" --out "$TMP/prep" > "$TMP/prep.log" 2>&1
ok $? "cocodiff-prep --dataset ucla on the archive"

# got DIR: "correct N" from metrics.json
got() { jq -r '"\(.correct_top1) \(.num_samples)"' "$1/metrics.json"; }
"$BIN/cocodiff-eval" --checkpoint "$MODEL" --data "$TMP/prep/ucla.h5" --out "$TMP/e1" > "$TMP/e1.log" 2>&1
ok $? "cocodiff-eval on 1 rank"
is "$want" "$(got "$TMP/e1")" "1 rank: correct/total as documented"
run_mpi 2 "$BIN/cocodiff-eval" --checkpoint "$MODEL" --data "$TMP/prep/ucla.h5" --out "$TMP/e2" > "$TMP/e2.log" 2>&1 &&
is "$want" "$(got "$TMP/e2")" "2 ranks: correct/total as documented"
cmp -s "$TMP/e1/scores.h5" "$TMP/e2/scores.h5"; ok $? "1 and 2 ranks write the same scores"
done_testing
