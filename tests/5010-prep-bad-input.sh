#!/bin/sh
# 5010-prep-bad-input: bad samples are skipped and reported while every good
# sample is still written; --strict fails; corrupt archives and bad flags
# give clear errors and the documented exit codes; nothing half-written.
. "$(dirname "$0")/tap/tap.sh"
[ -n "$REAL" ] || skip_all "no real data (../shared/data/real)"
PREP=$REPO/bin/cocodiff-prep
plan 17

D=$TMP/a/nturgb+d_skeletons
mkdir -p "$D" "$TMP/b/nturgb+d_skeletons"
cp "$REAL"/ntu/*.skeleton "$D/"
A001=$REAL/ntu/S001C001P001R001A001.skeleton
head -c 50000 "$A001" > "$D/S001C001P002R001A001.skeleton"                       # truncated
sed '5s/^[^ ]*/nan/' "$A001" > "$D/S001C001P003R001A001.skeleton"                # NaN coordinate
sed '5s/^[^ ]*/0.2x81/' "$A001" > "$D/S001C001P004R001A001.skeleton"             # non-number
sed '2s/^1/7/' "$A001" > "$D/S001C001P005R001A001.skeleton"                      # 7 bodies
sed '1s/^103/104/' "$A001" > "$D/S001C001P006R001A001.skeleton"                  # wrong frame count
echo "not a skeleton" > "$D/README.txt"                                          # unexpected name
cp "$A001" "$D/S001C001P007R001A001.skeleton"                                    # will be corrupted in the zip
cp "$A001" "$TMP/b/nturgb+d_skeletons/"                                           # duplicate, second archive
(cd "$TMP/a" && bsdtar -a -cf "$TMP/bad.zip" nturgb+d_skeletons)
(cd "$TMP/b" && bsdtar -a -cf "$TMP/dup.zip" nturgb+d_skeletons)
# Flip bytes inside the compressed data of P007's member.
off=$(grep -boa 'S001C001P007R001A001.skeleton' "$TMP/bad.zip" | head -1 | cut -d: -f1)
printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of="$TMP/bad.zip" bs=1 seek=$((off + 400)) conv=notrunc 2>/dev/null

run_mpi 2 "$PREP" --dataset ntu60 --input "$TMP/bad.zip" --input "$TMP/dup.zip" --out "$TMP/o" > "$TMP/log" 2>&1
ok $? "a run with bad samples succeeds"
R=$TMP/o/ntu60-rejects.tsv
reason() { grep "^$1" "$R" | cut -f3; }
grep -q truncated "$R" && [ "$(reason S001C001P002R001A001 | grep -c truncated)" = 1 ]; ok $? "truncated file rejected"
reason S001C001P003R001A001 | grep -q "not finite"; ok $? "NaN rejected: $(reason S001C001P003R001A001)"
reason S001C001P004R001A001 | grep -q "not a number"; ok $? "non-number rejected: $(reason S001C001P004R001A001)"
reason S001C001P005R001A001 | grep -q "at most 6"; ok $? "extra bodies rejected: $(reason S001C001P005R001A001)"
reason S001C001P006R001A001 | grep -q "truncated"; ok $? "wrong frame count rejected: $(reason S001C001P006R001A001)"
reason README.txt | grep -q "unexpected file name"; ok $? "unexpected file name rejected"
reason S001C001P007R001A001 | grep -qi "corrupt\|crc\|inflat\|not a number\|truncated\|line"; ok $? "corrupt member rejected: $(reason S001C001P007R001A001)"
reason S001C001P001R001A001 | grep -q "duplicate"; ok $? "duplicate sample rejected: $(reason S001C001P001R001A001)"
is 8 "$(grep -vc '^#' "$R")" "8 rejects, each with member and reason"
n=$(h5dump -H -d /train/name -d /test/name "$TMP/o/ntu60-xsub.h5" | grep -o 'SIMPLE { ( [0-9]* )' | grep -o '[0-9]*' | awk '{s += $1} END {print s}')
is 7 "$n" "the 7 good samples are all written"

run_mpi 2 "$PREP" --dataset ntu60 --input "$TMP/bad.zip" --out "$TMP/s" --strict > "$TMP/slog" 2>&1
is 3 $? "--strict: exit code 3"
grep -q "strict" "$TMP/slog" && [ -z "$(ls "$TMP/s"/*.h5* 2>/dev/null)" ]; ok $? "--strict: says why and leaves no HDF5 file behind"

head -c 4096 /dev/urandom > "$TMP/garbage.zip"
run_mpi 2 "$PREP" --dataset ntu60 --input "$TMP/garbage.zip" --out "$TMP/g" > "$TMP/glog" 2>&1
is 1 $? "a corrupt archive: exit code 1"
grep -q "garbage.zip" "$TMP/glog" && [ -z "$(ls "$TMP/g"/*.h5* 2>/dev/null)" ]; ok $? "a corrupt archive: the message names it, no output"

"$PREP" --dataset ntu61 --input "$TMP/bad.zip" --out "$TMP/u" > "$TMP/ulog" 2>&1
is 2 $? "unknown dataset: exit code 2"
"$PREP" --dataset ntu60 --out "$TMP/u" > "$TMP/ulog" 2>&1; rc=$?
[ $rc = 2 ] && grep -q -- "--input is required" "$TMP/ulog"; ok $? "missing --input: exit code 2 and a message"
done_testing
