#!/bin/sh
# 5550-archive-members: archive members prep never reads are rejects with a
# reason (issue 12, finding 8). Before: symbolic links, hard links, FIFOs
# and devices were skipped without a word (not counted anywhere), and
# members named ../NAME or /abs/NAME were prepared as samples.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
plan 13

"$BIN/cocodiff-synth" --format ntu --samples 4 --seed 5 --out "$TMP/s.zip" --quiet > "$TMP/synth.log" 2>&1 ||
    { echo "Bail out! cocodiff-synth failed"; exit 1; }
mkdir -p "$TMP/x" && (cd "$TMP/x" && bsdtar -xf "$TMP/s.zip")
D=nturgb+d_skeletons
set -- $(cd "$TMP/x/$D" && ls)
[ $# = 4 ] || { echo "Bail out! synth gave $# samples"; exit 1; }
good=$1
# The samples and a hard link to one of them; an mtree spec makes the other
# members' types without root.
ln "$TMP/x/$D/$good" "$TMP/x/$D/S001C002P003R001A045.skeleton"
(cd "$TMP/x" && bsdtar -cf "$TMP/hard.tar" "$D") || { echo "Bail out! bsdtar failed"; exit 1; }
cat > "$TMP/spec" <<SPEC
#mtree
./$D/S001C002P003R001A041.skeleton type=link link=$good
./$D/S001C002P003R001A042.skeleton type=fifo
./$D/S001C002P003R001A043.skeleton type=char device=native,1,3
./$D/S001C002P003R001A044.skeleton type=block device=native,7,0
SPEC
(cd "$TMP" && bsdtar -cf "$TMP/odd.tar" @spec) || { echo "Bail out! bsdtar (mtree) failed"; exit 1; }
cp "$TMP/x/$D/$good" "$TMP/S001C002P003R001A046.skeleton"
cp "$TMP/x/$D/$good" "$TMP/S001C002P003R001A047.skeleton"
(cd "$TMP" && bsdtar -cf "$TMP/up.tar" -s ",^S001C002P003R001A046,../../S001C002P003R001A046," S001C002P003R001A046.skeleton &&
    bsdtar -cPf "$TMP/abs.tar" -s ",^.*S001C002P003R001A047,/tmp/S001C002P003R001A047," "$TMP/S001C002P003R001A047.skeleton") ||
    { echo "Bail out! bsdtar failed"; exit 1; }
bsdtar -tvf "$TMP/hard.tar" | grep -q "^h.*S001C002P003R001A04[5].* link to" || { echo "Bail out! no hard link in the tar"; exit 1; }

R=$TMP/o/ntu60-rejects.tsv
reason() { grep "^$1" "$R" | cut -f3; }
run_mpi 2 "$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/hard.tar" --input "$TMP/odd.tar" --input "$TMP/up.tar" --input "$TMP/abs.tar" \
    --out "$TMP/o" > "$TMP/log" 2>&1
ok $? "prep on 2 ranks goes on past the odd members"
grep -q "prep | 4 prepared, 7 rejected" "$TMP/log"; ok $? "the 4 regular samples prepared, the 7 others rejected: $(grep -o 'prep | [0-9]* prepared, [0-9]* rejected' "$TMP/log")"
reason S001C002P003R001A041 | grep -q "symbolic link to $good, not a regular file"; ok $? "a symbolic link: $(reason S001C002P003R001A041)"
reason S001C002P003R001A042 | grep -q "a FIFO, not a regular file"; ok $? "a FIFO: $(reason S001C002P003R001A042)"
reason S001C002P003R001A043 | grep -q "a character device"; ok $? "a character device: $(reason S001C002P003R001A043)"
reason S001C002P003R001A044 | grep -q "a block device"; ok $? "a block device: $(reason S001C002P003R001A044)"
reason S001C002P003R001A045 | grep -q "a hard link to .*$good"; ok $? "a hard link: $(reason S001C002P003R001A045)"
reason S001C002P003R001A046 | grep -q "a '..' component"; ok $? "a name with ../: $(reason S001C002P003R001A046)"
reason S001C002P003R001A047 | grep -q "an absolute path"; ok $? "an absolute name: $(reason S001C002P003R001A047)"
is 7 "$(grep -vc '^#' "$R")" "7 rejects, one line each"
for f in xsub xview; do h5dump -d /train/name -d /test/name "$TMP/o/ntu60-$f.h5" || echo FAILED; done 2> /dev/null |
    grep -o "S001C002P003R001A04[1-7]\\|FAILED\\|${good%.skeleton}" | sort -u > "$TMP/names"
is "${good%.skeleton}" "$(cat "$TMP/names")" "none of them is a sample of the output"
# The same on 1 rank: the same rejects report and outputs.
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/hard.tar" --input "$TMP/odd.tar" --input "$TMP/up.tar" --input "$TMP/abs.tar" \
    --out "$TMP/o1" > "$TMP/log1" 2>&1
ok $? "1 rank: exit 0"
cmp -s "$R" "$TMP/o1/ntu60-rejects.tsv" && cmp -s "$TMP/o/ntu60-xsub.h5" "$TMP/o1/ntu60-xsub.h5"
ok $? "1 and 2 ranks: the same rejects report and the same ntu60-xsub.h5"
done_testing
