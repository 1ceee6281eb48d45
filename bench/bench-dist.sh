#!/usr/bin/env bash
# bench-dist.sh - `make bench-dist`: microseconds per small collective on
# 2 ranks with the collective watchdog off (COCODIFF_WATCHDOG_S=0: Open
# MPI's blocking collectives) and on (the default limit: the non-blocking
# ones, polled), runs alternating so both see the same machine load; the
# median of BENCH_REPS (5) each, and
# what that adds to a training step of ~170 collectives (CTR-GCN with
# synchronised BatchNorm, as counted by the watchdog's collective numbers).
# A benchmark, not a test: it asserts nothing.
# Last line: bench-dist: off_us=X on_us=Y ratio=Y/X step_ms_added=Z
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${BENCH_REPS:-5}
ITERS=${BENCH_ITERS:-20000}
BENCH_NAME=bench-dist
CTRGCN=   # lib.sh checks it; no reference here
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
run() { COCODIFF_WATCHDOG_S=$1 mpirun -np 2 --oversubscribe -x COCODIFF_WATCHDOG_S "$BIN" --iters "$ITERS" | grep '^bench-dist-c:'; }
off=() on=()
for r in $(seq "$REPS"); do
    l=$(run 0); off+=("$(field us_per_collective "$l")")
    l=$(run "${COCODIFF_WATCHDOG_S:-600}"); on+=("$(field us_per_collective "$l")")
    say "rep $r: off ${off[-1]} us, on ${on[-1]} us per collective"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mo=$(median "${off[@]}") mn=$(median "${on[@]}")
added=$(awk -v a="$mo" -v b="$mn" 'BEGIN { printf "%.2f", (b - a) * 170 / 1000 }')
say "median of $REPS: off $mo us, on $mn us per collective; ~170 collectives a step: +$added ms a step"
echo "bench-dist: off_us=$mo on_us=$mn ratio=$(fdiv "$mn" "$mo") step_ms_added=$added"
