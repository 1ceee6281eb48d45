#!/bin/sh
# 5000-prep-ntu-real: the real NTU samples through cocodiff-prep on 1 and 2
# ranks (zip and tar.gz, LF and CRLF): same bytes, right splits and counts.
. "$(dirname "$0")/tap/tap.sh"
[ -n "$REAL" ] || skip_all "no real data (../shared/data/real)"
PREP=$REPO/bin/cocodiff-prep
plan 12

mkdir -p "$TMP/lf/nturgb+d_skeletons" "$TMP/crlf/nturgb+d_skeletons"
cp "$REAL"/ntu/*.skeleton "$TMP/lf/nturgb+d_skeletons/"
for f in "$REAL"/ntu/*.skeleton; do
    # to CRLF whatever the original line ending
    sed 's/\r$//; s/$/\r/' "$f" > "$TMP/crlf/nturgb+d_skeletons/$(basename "$f")"
done
(cd "$TMP/lf" && bsdtar -a -cf "$TMP/ntu.zip" nturgb+d_skeletons)
(cd "$TMP/crlf" && bsdtar -czf "$TMP/ntu-crlf.tar.gz" nturgb+d_skeletons)

"$PREP" --dataset ntu60 --input "$TMP/ntu.zip" --out "$TMP/o1" > "$TMP/log1" 2>&1
ok $? "1 rank: ntu60 from a zip"
run_mpi 2 "$PREP" --dataset ntu60 --input "$TMP/ntu.zip" --out "$TMP/o2" > "$TMP/log2" 2>&1
ok $? "2 ranks: ntu60 from a zip"
cmp -s "$TMP/o1/ntu60-xsub.h5" "$TMP/o2/ntu60-xsub.h5" && cmp -s "$TMP/o1/ntu60-xview.h5" "$TMP/o2/ntu60-xview.h5"
ok $? "1 and 2 ranks write byte-identical files"
is "7 prepared, 0 rejected" "$(grep -o '[0-9]* prepared, [0-9]* rejected' "$TMP/log2")" "all 7 real samples prepared"

names() { h5dump -A 0 -d "/$2/name" "$1" | grep -o 'S[0-9]*C[0-9]*P[0-9]*R[0-9]*A[0-9]*' | tr '\n' ' '; }
is "S001C001P001R001A001 S001C001P001R001A050 " "$(names "$TMP/o1/ntu60-xsub.h5" train)" "X-Sub train: performer 1, sorted by name"
is "S017C003P020R002A054 S017C003P020R002A055 S017C003P020R002A056 S017C003P020R002A057 S017C003P020R002A058 " \
   "$(names "$TMP/o1/ntu60-xview.h5" train)" "X-View train: cameras 2 and 3"
labels=$(h5dump -A 0 -d /test/label "$TMP/o1/ntu60-xsub.h5" | sed -n 's/.*(0): //p')
is "53, 54, 55, 56, 57" "$labels" "labels are 0-based actions"
# values of a hyperslab, one per line
values() { h5dump -A 0 -y -w 0 -d "$2" -s "$3" -c "$4" "$1" | sed -n '/DATA {/,/}/p' | grep -v 'DATA {\|}' | tr -s ' ,' '\n\n' | grep -v '^$'; }
nz_pad=$(values "$TMP/o1/ntu60-xsub.h5" /train/x "0,0,103,0,0" "1,3,197,25,2" | grep -cv '^0$')
nz_in=$(values "$TMP/o1/ntu60-xsub.h5" /train/x "0,0,0,0,0" "1,3,103,25,1" | grep -cv '^0$')
[ "$nz_pad" -eq 0 ] && [ "$nz_in" -gt 7000 ]; ok $? "frames past a sample's length are zero ($nz_pad non-zero; $nz_in inside)"

"$PREP" --dataset ntu120 --input "$TMP/ntu-crlf.tar.gz" --out "$TMP/o3" > "$TMP/log3" 2>&1
ok $? "ntu120 from a CRLF tar.gz"
h5diff "$TMP/o1/ntu60-xsub.h5" "$TMP/o3/ntu120-xsub.h5" /test/x /test/x > /dev/null
ok $? "two-actor samples: CRLF tar.gz equals LF zip"
# A001 is single-actor: NTU120 copies body 1 into body 2 (M index 1).
b1=$(values "$TMP/o3/ntu120-xsub.h5" /train/x "0,0,0,0,0" "1,3,103,25,1")
b2=$(values "$TMP/o3/ntu120-xsub.h5" /train/x "0,0,0,0,1" "1,3,103,25,1")
[ -n "$b1" ] && [ "$b1" = "$b2" ]; ok $? "NTU120: a single actor is copied into body 2"
h5dump -a /sources "$TMP/o1/ntu60-xsub.h5" | grep -q "$(sha256sum "$TMP/ntu.zip" | cut -c1-64)"
ok $? "the input archive's sha256 is recorded"
done_testing
