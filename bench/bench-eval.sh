#!/usr/bin/env bash
# bench-eval.sh - `make bench-eval`: evaluation samples/s, parameters and
# FLOPs per sample of the C CTR-GCN backbone (build/bench-eval: the official
# model, base 64, 60 classes, random weights, inference forward, batch 16,
# T 64, random data) on 1 rank x 1 thread and 1 rank x 2 threads, each with
# and without the malloc tunables below, next to the official PyTorch model
# evaluated the way main.py does (bench/eval_reference.py on /usr/bin/python3:
# model.eval(), torch.no_grad()) at the same threads, always with the
# tunables. The 1-thread C run also does the CoCoDiff module round trip
# (training checkpoint with the module -> checkpoint_export ->
# checkpoint_load_model: same params, FLOPs and logits), showing that a
# checkpoint trained with the module gives the same figures.
# A benchmark, not a test: it asserts nothing and reports the target as
# met / not met.
#
#   CTRGCN=/path/to/CTR-GCN bench/bench-eval.sh   (make bench-eval CTRGCN=...)
#
# Knobs (environment): BENCH_WARMUP (2), BENCH_BATCHES (6) for C;
# BENCH_REF_WARMUP (1), BENCH_REF_BATCHES (5) for PyTorch; BENCH_BATCH (16),
# BENCH_FRAMES (64); BENCH_CKPT=FILE.h5 also loads that checkpoint (e.g. an
# inference checkpoint exported from a module run) and prints its figures.
# Without CTRGCN the PyTorch columns are NA.
# Last line (1 rank x 1 thread, both sides with the tunables):
#   bench-eval: c=<samples/s> pytorch=<samples/s|NA> params=<n> gflops_per_sample=<x>
set -euo pipefail
cd "$(dirname "$0")/.."

CTRGCN=${CTRGCN:-}
WARMUP=${BENCH_WARMUP:-2}
BATCHES=${BENCH_BATCHES:-6}
REF_WARMUP=${BENCH_REF_WARMUP:-1}
REF_BATCHES=${BENCH_REF_BATCHES:-5}
BATCH=${BENCH_BATCH:-16}
FRAMES=${BENCH_FRAMES:-64}
CKPT=${BENCH_CKPT:-}
PY=/usr/bin/python3
BENCH_NAME=bench-eval
. "$(dirname "$0")/lib.sh"

# run_c THREADS TUNABLES(0|1) [extra args] -> the bench-eval-c: line
run_c() {
    local env=(env OPENBLAS_NUM_THREADS="$1")
    [ "$2" = 1 ] && env+=(GLIBC_TUNABLES="$TUNE")
    local args=(--batch "$BATCH" --frames "$FRAMES" --threads "$1" --warmup "$WARMUP" --batches "$BATCHES")
    shift 2
    local out
    out=$("${env[@]}" "$BIN" "${args[@]}" "$@" 2>&1 </dev/null) || { printf '%s\n' "$out" | tail -5 | sed 's/^/  /' >&2; echo "NA"; return; }
    printf '%s\n' "$out" | grep '^bench-eval-c |' | sed 's/^/  /' >&2
    printf '%s\n' "$out" | grep '^bench-eval-c:' | tail -1
}
run_py() {
    [ -n "$CTRGCN" ] || { echo "NA"; return; }
    local out
    out=$(GLIBC_TUNABLES="$TUNE" OMP_NUM_THREADS="$1" "$PY" bench/eval_reference.py --ctrgcn "$CTRGCN" \
          --threads "$1" --batch "$BATCH" --frames "$FRAMES" --warmup "$REF_WARMUP" \
          --batches "$REF_BATCHES" 2>&1 </dev/null) || { printf '%s\n' "$out" | tail -5 >&2; echo "NA"; return; }
    printf '%s\n' "$out" | grep '^eval-reference |' | sed 's/^/  /' >&2
    printf '%s\n' "$out" | grep '^eval-reference:' | tail -1
}

say "official model (base 64, 60 classes), batch $BATCH, T $FRAMES, NTU 25 joints x 2 persons, inference forward; C: $WARMUP+$BATCHES batches, PyTorch (eval, no_grad): $REF_WARMUP+$REF_BATCHES batches"
say "FLOPs per sample = 2 x forward multiply-adds; params = trainable floats (running statistics apart)"
say "malloc tunables: GLIBC_TUNABLES=$TUNE (PyTorch always runs with them)"
declare -A C_T C_D PY_R
for t in 1 2; do
    say "--- 1 rank x $t thread(s)"
    if [ "$t" = 1 ]; then C_T[$t]=$(run_c "$t" 1 --roundtrip "$OUTDIR"); else C_T[$t]=$(run_c "$t" 1); fi
    C_D[$t]=$(run_c "$t" 0)
    PY_R[$t]=$(run_py "$t")
done
if [ -n "$CKPT" ]; then
    say "--- checkpoint $CKPT (1 thread, tunables)"
    CK=$(run_c 1 1 "$CKPT")
    cp=$(field params "$CK"); cg=$(field gflops_per_sample "$CK")
    if [ "$cp" = "$(field params "${C_T[1]}")" ] && [ "$cg" = "$(field gflops_per_sample "${C_T[1]}")" ]; then
        say "  checkpoint: $cp params, $cg GFLOP/sample: same as the official backbone"
    else
        say "  checkpoint: ${cp:-NA} params, ${cg:-NA} GFLOP/sample: DIFFERENT from the official backbone"
    fi
fi

echo
printf '%-16s %12s %12s %12s %10s %10s %12s %12s %8s %8s\n' config "C s/s tuned" "C s/s dflt" "PyTorch s/s" \
       "C/PyTorch" "C GFLOP/s" "C params" "Py params" "C MB" "Py MB"
for t in 1 2; do
    ct=${C_T[$t]} cd=${C_D[$t]} py=${PY_R[$t]}
    cs=$(field samples_s "$ct"); cs=${cs:-NA}; cds=$(field samples_s "$cd"); cds=${cds:-NA}
    ps=$(field samples_s "$py"); ps=${ps:-NA}
    gfs=$(field gflops_per_sample "$ct"); gf=$(awk -v a="$cs" -v b="$gfs" 'BEGIN { if (a != "NA") printf "%.1f", a * b; else print "NA" }')
    cpn=$(field params "$ct"); ppn=$(field params "$py")
    cm=$(field rss_mb "$ct"); pm=$(field rss_mb "$py")
    r=$(fdiv "$cs" "$ps")
    printf '%-16s %12s %12s %12s %10s %10s %12s %12s %8s %8s\n' "1 rank x $t thr" "$cs" "$cds" "$ps" \
           "$([ "$r" = NA ] && echo NA || echo "${r}x")" "$gf" "${cpn:-NA}" "${ppn:-NA}" "${cm:-NA}" "${pm:-NA}"
done
echo
cpn=$(field params "${C_T[1]}"); ppn=$(field params "${PY_R[1]}")
if [ -n "$ppn" ]; then
    say "parameters: C $cpn, PyTorch $ppn: $([ "$cpn" = "$ppn" ] && echo same || echo DIFFERENT)"
fi
say "target (issue 15: 2x PyTorch's samples/s at equal threads):"
for t in 1 2; do
    cs=$(field samples_s "${C_T[$t]}"); cds=$(field samples_s "${C_D[$t]}"); ps=$(field samples_s "${PY_R[$t]}")
    ps=${ps:-NA}
    say "  1x$t: speed $(fdiv "$cs" "$ps") tuned / $(fdiv "$cds" "$ps") default malloc (x PyTorch): $(verdict "$(fdiv "$cs" "$ps")" 2) / $(verdict "$(fdiv "$cds" "$ps")" 2)"
done
ct=${C_T[1]}
cs=$(field samples_s "$ct"); ps=$(field samples_s "${PY_R[1]}")
echo "bench-eval: c=${cs:-NA} pytorch=${ps:-NA} params=$(field params "$ct") gflops_per_sample=$(field gflops_per_sample "$ct")"
