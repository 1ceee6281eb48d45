#!/bin/sh
# 5540-limits: resources bounded by documented limits, and the config's
# smaller gaps (issue 12, findings 6 and 8). Before: a 2 MB zip holding a
# 1 GiB member took 1 GB of memory (members were read whole);
# cocodiff.threads had no upper bound; negative base_lr, weight_decay, step
# and seed were accepted; window_size <= 0 became 64 silently; a second YAML
# document was ignored; an empty config's error named neither the file nor
# the emptiness.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
BIN=$REPO/bin
plan 23

# --- an archive member larger than --max-member-mb: rejected, never read whole
"$BIN/cocodiff-synth" --format ntu --samples 6 --seed 3 --out "$TMP/s.zip" --quiet > "$TMP/synth.log" 2>&1 ||
    { echo "Bail out! cocodiff-synth failed"; exit 1; }
mkdir -p "$TMP/big/nturgb+d_skeletons"
(cd "$TMP/big" && bsdtar -xf "$TMP/s.zip")
dd if=/dev/zero of="$TMP/big/nturgb+d_skeletons/S017C003P020R002A059.skeleton" bs=1M count=200 2> /dev/null
(cd "$TMP/big" && bsdtar -a -cf "$TMP/big.zip" nturgb+d_skeletons) && rm -rf "$TMP/big"
is 1 "$([ "$(stat -c %s "$TMP/big.zip")" -lt 2000000 ] && echo 1)" "a zip under 2 MB holds a 200 MiB member"
/usr/bin/time -f "%M" -o "$TMP/rss" "$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/big.zip" --out "$TMP/o" \
    > "$TMP/prep.log" 2>&1
ok $? "prep goes on past it (the default limit, 64 MiB)"
grep -q "S017C003P020R002A059.*member larger than the limit of 64 MiB" "$TMP/o/ntu60-rejects.tsv"
ok $? "the member is in the rejects report with the limit: $(grep -v "^#" "$TMP/o/ntu60-rejects.tsv" | cut -f3 | head -1)"
grep -q "prep | 6 prepared, 1 rejected" "$TMP/prep.log"
ok $? "the other 6 samples are prepared"
rss=$(cat "$TMP/rss")
[ "$rss" -lt 200000 ]
ok $? "peak memory ${rss} kB, under 200 MB (the member alone is 200 MiB)"
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP/o2" --max-member-mb 0.01 > "$TMP/prep2.log" 2>&1
is 1 "$?" "--max-member-mb 0.01 (10 kB): every sample rejected, exit 1"
grep -q "member larger than the limit of 0.01 MiB" "$TMP/o2/ntu60-rejects.tsv"
ok $? "the limit is configurable and named"
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP/o3" --max-member-mb -1 > "$TMP/prep3.log" 2>&1
is 2 "$?" "--max-member-mb -1: a usage error"

# --- member names with a tab, a newline and an ANSI escape: the rejects
# report stays one line of three fields per reject, with no control byte
mkdir -p "$TMP/ctl/nturgb+d_skeletons"
(cd "$TMP/ctl" && bsdtar -xf "$TMP/s.zip")
echo x > "$TMP/ctl/nturgb+d_skeletons/$(printf 'a\tb\nc\033[31mred.skeleton')"
(cd "$TMP/ctl" && bsdtar -a -cf "$TMP/ctl.zip" nturgb+d_skeletons)
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/ctl.zip" --out "$TMP/o4" > "$TMP/prep4.log" 2>&1
ok $? "prep with odd member names succeeds"
is "" "$(grep -v '^#' "$TMP/o4/ntu60-rejects.tsv" | awk -F '\t' 'NF != 3')" "every rejects line has 3 fields"
grep -q "$(printf '\033')" "$TMP/o4/ntu60-rejects.tsv"
is 1 "$?" "no escape byte in the rejects report: $(grep -v '^#' "$TMP/o4/ntu60-rejects.tsv" | cut -f2 | head -1)"

# --- config values
train_data
train_config "$TMP/c.yaml" "$TMP/w"
# bad KEY=VALUE WANT: train with --set KEY=VALUE exits 2 naming WANT (each
# in a work dir of its own: before, some trained)
nbad=0
bad() {
    nbad=$((nbad + 1))
    timeout 120 "$TRAIN" --config "$TMP/c.yaml" --set work_dir="$TMP/wb$nbad" --set "$1" --max-steps 1 > "$TMP/bad.log" 2>&1
    rc=$?
    grep -q -- "$2" "$TMP/bad.log"
    r=$?
    [ "$rc" = 2 ] && [ "$r" = 0 ]
    ok $? "--set $1: exit 2 (got $rc), says '$2'"
    [ "$rc" = 2 ] && [ "$r" = 0 ] || sed 's/^/#   /' "$TMP/bad.log" | tail -2 >&2
}
bad cocodiff.threads=100000 "cocodiff.threads is 100000; at most 256"
bad base_lr=-0.1 "base_lr is -0.1; it must be a finite number >= 0"
bad weight_decay=-1 "weight_decay is -1"
bad "step=[-3]" "step\[0\] is -3"
bad seed=-5 "seed is -5"
bad train_feeder_args.window_size=0 "train_feeder_args.window_size is 0; it must be >= 1"
bad test_feeder_args.window_size=-7 "test_feeder_args.window_size is -7"
# A second YAML document, an empty config.
cp "$TMP/c.yaml" "$TMP/two.yaml"
printf -- '---\nbase_lr: 0.5\n' >> "$TMP/two.yaml"
"$TRAIN" --config "$TMP/two.yaml" --set work_dir="$TMP/w2" --max-steps 1 > "$TMP/two.log" 2>&1
rc=$?
grep -q "two.yaml:[0-9]*: a second YAML document" "$TMP/two.log"
ok $? "a second YAML document: said with the file and line"
[ "$rc" -ne 0 ]
ok $? "a second YAML document: an error exit ($rc)"
: > "$TMP/empty.yaml"
"$TRAIN" --config "$TMP/empty.yaml" --set work_dir="$TMP/w3" --max-steps 1 > "$TMP/empty.log" 2>&1
rc=$?
grep -q "empty.yaml: the config is empty" "$TMP/empty.log"
ok $? "an empty config: the file and the emptiness named"
[ "$rc" -ne 0 ]
ok $? "an empty config: an error exit ($rc)"
# The good config still runs.
"$TRAIN" --config "$TMP/c.yaml" --max-steps 1 > "$TMP/good.log" 2>&1
ok $? "the good config trains"
done_testing
