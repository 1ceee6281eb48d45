#!/bin/sh
# 9000-fuzz-replay: every fuzz target (fuzz/fuzz_*.c), built without
# libFuzzer (fuzz/replay.c, build/fuzz-replay/), runs over its regression
# inputs in tests/data/fuzz/TARGET/ (each crash `make fuzz` found, kept after
# the fix) and over a few degenerate inputs (empty, one byte, a NUL, a
# newline): no crash, and under `make check SANITIZE=1` no sanitizer report.
. "$(dirname "$0")/tap/tap.sh"
R=$REPO/build/fuzz-replay
set -- $(cd "$REPO/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
[ $# -gt 0 ] || skip_all "no fuzz targets"
[ -x "$R/fuzz_$1" ] || skip_all "build/fuzz-replay not built (make tests)"
plan $(($# * 2))
mkdir -p "$TMP/deg"
: > "$TMP/deg/empty"; printf 'x' > "$TMP/deg/one"; printf '\000' > "$TMP/deg/nul"; printf '\n' > "$TMP/deg/nl"
for t in "$@"; do
    "$R/fuzz_$t" "$TMP/deg" > "$TMP/$t-deg.log" 2>&1
    ok $? "$t: degenerate inputs"
    d=$REPO/tests/data/fuzz/$t
    if [ -d "$d" ]; then
        "$R/fuzz_$t" "$d" > "$TMP/$t.log" 2>&1
        ok $? "$t: $(ls "$d" | wc -l | tr -d ' ') regression input(s) in tests/data/fuzz/$t"
    else
        ok 0 "$t: no regression inputs (no crash found yet)"
    fi
done
done_testing
