#!/bin/sh
# 5570-prep-killed-rerun: a prep run killed while writing leaves the previous
# run's outputs, all of them, never a mix (issue 12, finding 8). Rank 0
# kills itself (test-only hook COCODIFF_TEST_KILL_AT=bench@N, include/fault.h)
# once N benchmark files are complete. Before: each file was renamed into
# place as soon as it was written (the rejects report first), so a kill
# after the first benchmark left the new rejects report and xsub file next
# to the previous run's xview file.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
plan 8
for s in 3 4; do
    "$BIN/cocodiff-synth" --format ntu --samples 12 --seed $s --out "$TMP/s$s.zip" --quiet > "$TMP/synth.log" 2>&1 ||
        { echo "Bail out! cocodiff-synth failed"; exit 1; }
done
prep() { run_mpi 2 "$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s$1.zip" --out "$2"; }
files() { (cd "$1" && ls); }
prep 3 "$TMP/a" > "$TMP/a.log" 2>&1 && prep 4 "$TMP/b" > "$TMP/b.log" 2>&1
ok $? "runs A (seed 3) and B (seed 4) in their own folders"
cmp -s "$TMP/a/ntu60-xview.h5" "$TMP/b/ntu60-xview.h5"
[ $? = 1 ]; ok $? "A's and B's outputs differ"
cp -r "$TMP/a" "$TMP/o"
for n in 1 2; do
    COCODIFF_TEST_KILL_AT=bench@$n prep 4 "$TMP/o" > "$TMP/k$n.log" 2>&1
    rc=$?
    same=1
    for f in ntu60-xsub.h5 ntu60-xview.h5 ntu60-rejects.tsv; do cmp -s "$TMP/a/$f" "$TMP/o/$f" || same=0; done
    [ $rc != 0 ] && [ $same = 1 ]
    ok $? "B killed after $n benchmark file(s) written (exit $rc): every output is still A's"
done
prep 4 "$TMP/o" > "$TMP/o.log" 2>&1
ok $? "B again, not killed"
same=1
for f in ntu60-xsub.h5 ntu60-xview.h5 ntu60-rejects.tsv; do cmp -s "$TMP/b/$f" "$TMP/o/$f" || same=0; done
[ $same = 1 ]; ok $? "every output is now B's, byte for byte"
is "$(files "$TMP/b")" "$(files "$TMP/o")" "no .partial or other file left over"
# A failed run (no sample) writes its rejects report alone, as before.
printf 'x' > "$TMP/junk.txt" && (cd "$TMP" && bsdtar -a -cf "$TMP/junk.zip" junk.txt)
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/junk.zip" --out "$TMP/o" > "$TMP/j.log" 2>&1
[ $? = 1 ] && cmp -s "$TMP/b/ntu60-xsub.h5" "$TMP/o/ntu60-xsub.h5"
ok $? "a run that prepares nothing fails and leaves the sample files"
done_testing
