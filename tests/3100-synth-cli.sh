#!/bin/sh
# 3100-synth-cli - cocodiff-synth as a program: exit codes and messages for
# bad flags (2 = usage, 1 = runtime), no partial archive left behind, the
# progress/summary lines, tar output, and a run under mpirun -np 2.
cd "$(dirname "$0")/.." || exit 1
BIN=bin/cocodiff-synth
echo "1..10"
if [ ! -x "$BIN" ]; then
    echo "Bail out! $BIN not built (run make)"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
check() {   # check DESCRIPTION WANT_RC ARGS...: runs synth, compares the exit code
    desc=$1 want=$2
    shift 2
    n=$((n + 1))
    "$BIN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $n - $desc (exit $rc)"
    else echo "not ok $n - $desc (exit $rc, want $want)"; sed 's/^/# /' "$T/err"; fi
}
check "unknown format" 2 --format mnist --samples 5 --out "$T/x.zip"
check "samples < 1" 2 --format ntu --samples 0 --out "$T/x.zip"
check "missing --out" 2 --format ntu --samples 5
check "unknown archive extension" 2 --format ntu --samples 5 --out "$T/x.rar"
: > "$T/afile"   # the output's folder is created, unless a file is in the way
check "unwritable output" 1 --format ntu --samples 5 --out "$T/afile/x.zip"
check "missing class file" 1 --format ntu --samples 5 --out "$T/x.zip" --classes "$T/none.json"
n=$((n + 1))
if [ ! -e "$T/x.zip" ] && [ -z "$(ls "$T" | grep partial)" ]; then echo "ok $n - no archive or .partial after failures"
else echo "not ok $n - leftovers: $(ls "$T")"; fi
check "40 NTU samples into a tar" 0 --format ntu --samples 40 --out "$T/n.tar" --seed 5
n=$((n + 1))
if grep -q "synth | 40/40 samples (100.0%)" "$T/out" && grep -q "samples/s" "$T/out" &&
   [ "$(tar tf "$T/n.tar" | grep -c '^nturgb+d_skeletons/S0.*\.skeleton$')" = 40 ]; then
    echo "ok $n - progress + summary lines, 40 members in the tar"
else echo "not ok $n - output:"; sed 's/^/# /' "$T/out"; fi
n=$((n + 1))
if command -v mpirun >/dev/null 2>&1; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    if mpirun -np 2 "$BIN" --format kinetics --samples 30 --out "$T/k.tar.gz" --quiet >"$T/out" 2>&1 &&
       [ "$(tar tzf "$T/k.tar.gz" | grep -c '\.json$')" = 32 ]; then
        echo "ok $n - mpirun -np 2: one archive, 30 clips + 2 label files"
    else echo "not ok $n - mpirun -np 2"; sed 's/^/# /' "$T/out"; fi
else echo "ok $n # skip no mpirun"; fi
