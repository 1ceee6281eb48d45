# bench/lib.sh - helpers shared by bench-train.sh and bench-eval.sh (sourced
# after BENCH_NAME is set): the malloc tunables the issues prescribe for
# PyTorch, number fields of key=value lines, ratios, verdicts, and a
# snapshot of the benchmark binary.
TUNE=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736:glibc.malloc.arena_max=1
unset GLIBC_TUNABLES

say() { printf '%s: %s\n' "$BENCH_NAME" "$*"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | tail -1; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "NA" && a != "") printf "%.2f", a / b; else print "NA" }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "NA" && b != "NA" && a + 0 >= b + 0) }'; }
verdict() { if [ "$1" = NA ]; then echo NA; elif fge "$1" "$2"; then echo met; else echo "NOT met"; fi; }

OUTDIR=${BENCH_OUT:-bench-out}
mkdir -p "$OUTDIR/bin"
BIN=$OUTDIR/bin/$BENCH_NAME   # a snapshot: a rebuild during the run cannot swap it
cp "build/$BENCH_NAME" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
if [ -n "$CTRGCN" ] && [ ! -f "$CTRGCN/model/ctrgcn.py" ]; then
    say "CTRGCN=$CTRGCN has no model/ctrgcn.py: PyTorch columns will be NA"
    CTRGCN=
fi
