#!/usr/bin/env bash
# bench-prep.sh - `make bench-prep`: cocodiff-prep throughput on 1 and 2 ranks
# next to the official Python preprocessing (CTR-GCN). A benchmark, not a
# test: it asserts nothing and reports the issue's targets as met / not met.
#
#   CTRGCN=/path/to/CTR-GCN bench/bench-prep.sh     (make bench-prep CTRGCN=...)
#
# Knobs (environment): BENCH_OUT (bench-out), BENCH_SAMPLES (5000),
# BENCH_REPS (3: runs of each rank count, best kept), BENCH_REF_SAMPLES (300).
# The synthetic zip and the reference slice are cached in BENCH_OUT.
# The last line is the summary:
#   bench-prep: rank1=<samples/s> rank2=<samples/s> mbps1=<MB/s> reference=<samples/s|NA>
#               write1=<MB/s per rank> write2=<MB/s per rank> wall1=<s> wall2=<s>
# The write phase (every benchmark file created, filled by each rank one
# file after the other, closed) is timed by cocodiff-prep itself ("prep |
# write phase: ... MB/s per rank": the bytes of sample data written, the
# padding being left as holes); its rate per rank is what a cluster's file
# system can be judged against. Each run's phases (scan, exchange, create, samples, close,
# commit: the slowest rank's wall and the ranks' CPU time) are printed too,
# since on a loaded machine the wall times mostly measure waits for a core.
# BENCH_OUT on a memory file system (/dev/shm/...) takes the disk out of it.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_OUT:-bench-out}
SAMPLES=${BENCH_SAMPLES:-5000}
REPS=${BENCH_REPS:-3}
REF_SAMPLES=${BENCH_REF_SAMPLES:-300}
CTRGCN=${CTRGCN:-}
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T_START=$(date +%s.%N)

say() { printf 'bench-prep: %s\n' "$*"; }
now() { date +%s.%N; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "NA" }'; }
fgt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
# NTU60 members (S001-S017, A001-A060): what --dataset ntu60 prepares.
NTU60_RE='S0(0[1-9]|1[0-7])C[0-9]{3}P[0-9]{3}R[0-9]{3}A0([0-5][0-9]|60)\.skeleton$'

mkdir -p "$OUT/bin"
# Run a snapshot of the program: a rebuild of bin/ (make in another shell)
# during the bench would otherwise swap or remove it between runs.
PREP=$OUT/bin/cocodiff-prep
cp bin/cocodiff-prep "$PREP.tmp" && mv "$PREP.tmp" "$PREP"

# ---- the input: a synthetic NTU zip, made once -----------------------------
ZIP=$OUT/synth-ntu-$SAMPLES.zip
if [ ! -s "$ZIP" ]; then
    say "making $ZIP ($SAMPLES samples, seed 1; cached for later runs)"
    rm -f "$ZIP.part.zip"
    bin/cocodiff-synth --format ntu --samples "$SAMPLES" --out "$ZIP.part.zip" --seed 1 --quiet ||
        { say "cocodiff-synth failed"; exit 1; }
    mv "$ZIP.part.zip" "$ZIP"
else
    say "using cached $ZIP"
fi
read -r MEMBERS TEXT_BYTES < <(bsdtar -tvf "$ZIP" | awk '$1 ~ /^-/ { n++; s += $5 } END { print n + 0, s + 0 }')
ZIP_BYTES=$(stat -c %s "$ZIP")
say "$(awk -v z="$ZIP_BYTES" -v t="$TEXT_BYTES" -v n="$MEMBERS" -v f="$ZIP" \
    'BEGIN { printf "%s: %.1f MB zip, %d members, expands to %.1f MB of skeleton text", f, z / 1e6, n, t / 1e6 }')"
cat "$ZIP" > /dev/null   # warm the page cache: every run below reads it from memory

# ---- cocodiff-prep, 1 and 2 ranks, interleaved, best of REPS ---------------
# Parses "prep | N samples/s, M MB/s of text (K MB/s per rank)" (the scan
# phase: checksum, inflate, parse, denoise, spill; the HDF5 writing after it
# is in the wall time only).
best1=0 best2=0 mb1=NA mb2=NA pr1=NA pr2=NA wall1=NA wall2=NA prepared=NA ptext=NA
wr1=NA wr2=NA ws1=NA ws2=NA   # write phase: MB/s per rank, seconds (both files)
for rep in $(seq 1 "$REPS"); do
    for np in 1 2; do
        dir=$OUT/prep$np log=$OUT/prep$np-run$rep.log
        rm -rf "$dir"
        cmd=("$PREP" --dataset ntu60 --input "$ZIP" --out "$dir" --progress 5)
        [ "$np" = 1 ] || cmd=(mpirun -np "$np" "${cmd[@]}")
        t0=$(now)
        if ! "${cmd[@]}" > "$log" 2>&1; then
            cat "$log" >&2
            say "cocodiff-prep failed on $np rank(s) (log: $log)"
            exit 1
        fi
        wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
        line=$(grep -E '^prep \| [0-9.]+ samples/s' "$log" | tail -1 || true)
        if [ -z "$line" ]; then
            cat "$log" >&2
            say "no throughput line in $log"
            exit 1
        fi
        read -r sps mbps mbpr < <(sed -E 's/^prep \| ([0-9.]+) samples\/s, ([0-9.]+) MB\/s of text \(([0-9.]+) MB\/s per rank\).*/\1 \2 \3/' <<< "$line")
        read -r n_prep mb_text scan_s < <(grep -E '^prep \| [0-9]+ prepared' "$log" | tail -1 |
            sed -E 's/^prep \| ([0-9]+) prepared.*\| ([0-9.]+) MB text \| ([0-9.]+)s.*/\1 \2 \3/')
        # "prep | write phase: N file(s), A MB of samples (B MB with the padding) in Ss: R MB/s, P MB/s per rank"
        read -r wsec wper < <(grep -E '^prep \| write phase: .* MB/s per rank' "$log" | tail -1 |
            sed -E 's/.* in ([0-9.]+)s: [0-9.]+ MB\/s, ([0-9.]+) MB\/s per rank.*/\1 \2/' | grep . || echo NA NA)
        say "$(printf '%d rank(s) run %d: %8.1f samples/s %7.1f MB/s of text (%6.1f MB/s per rank) | %s samples, %s MB, scan %ss, write %ss (%s MB/s per rank), wall %ss' \
            "$np" "$rep" "$sps" "$mbps" "$mbpr" "$n_prep" "$mb_text" "$scan_s" "$wsec" "$wper" "$wall")"
        ph=$(grep -E '^prep \| phases' "$log" | tail -1 |
            sed -E 's/^prep \| phases [^:]*: //; s/ wall, cpu ([0-9.]+) max \/ ([0-9.]+) sum/ (cpu \1|\2)/g; s/cpu ([0-9.]+) max \/ ([0-9.]+) sum/cpu \1|\2/' || true)
        [ -z "$ph" ] || say "  phases, slowest rank's wall (main threads' CPU: the largest | the sum over ranks): $ph"
        prepared=$n_prep ptext=$mb_text
        cur=best$np
        if fgt "$sps" "${!cur}"; then
            eval "best$np=$sps mb$np=$mbps pr$np=$mbpr wall$np=$wall wr$np=$wper ws$np=$wsec"
        fi
    done
done
rm -rf "$OUT/prep1" "$OUT/prep2"   # ~1.8 GB of HDF5; the logs stay
say "best of $REPS: 1 rank $best1 samples/s, $mb1 MB/s (wall ${wall1}s); 2 ranks $best2 samples/s, $mb2 MB/s (wall ${wall2}s)"

# ---- the reference on a slice of the same zip ------------------------------
REF=NA ref_mbps=NA
if [ -n "$CTRGCN" ] && [ -f "$CTRGCN/data/ntu/get_raw_skes_data.py" ]; then
    slice=$OUT/ref-slice
    list=$OUT/ref-slice.list
    bsdtar -tf "$ZIP" | grep -E "$NTU60_RE" | head -n "$REF_SAMPLES" > "$list.new" || true
    if ! cmp -s "$list.new" "$slice/.members" || [ "$ZIP" -nt "$slice/.members" ]; then
        rm -rf "$slice" && mkdir -p "$slice"
        bsdtar -xf "$ZIP" -C "$slice" -T "$list.new"
        cp "$list.new" "$slice/.members"
    fi
    rm -f "$list.new"
    skes=$(dirname "$(find "$slice" -name '*.skeleton' -print -quit)")
    say "reference: official CTR-GCN pipeline on the first $(wc -l < "$slice/.members") NTU60 members of the zip ($skes), best of $REPS"
    for rep in $(seq 1 "$REPS"); do
        out=$("$PY" bench/prep_reference.py --ctrgcn "$CTRGCN" "$skes")
        grep -v '^reference:' <<< "$out" | sed 's/^/  /'
        m=$(grep '^reference:' <<< "$out")
        sps=$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<< "$m")
        if [ "$REF" = NA ] || fge "$sps" "$REF"; then
            REF=$(printf '%.1f' "$sps") ref_mbps=$(sed -E 's/.*mbps=([0-9.]+).*/\1/' <<< "$m" | xargs printf '%.1f')
        fi
    done
else
    if [ -n "$CTRGCN" ]; then say "reference: $CTRGCN is not a CTR-GCN checkout (no data/ntu/get_raw_skes_data.py)"; fi
    say "reference: not run; pass a checkout of Uason-Chen/CTR-GCN: make bench-prep CTRGCN=/path/to/CTR-GCN"
fi

# ---- derived figures and the issue's targets --------------------------------
fx() { if [ "$1" = NA ]; then echo NA; else echo "${1}x"; fi; }
scaling=$(fdiv "$best2" "$best1")
speedup=NA speedup_mb=NA
[ "$REF" = NA ] || { speedup=$(fdiv "$best1" "$REF"); speedup_mb=$(fdiv "$mb1" "$ref_mbps"); }
say "scaling rank2/rank1: ${scaling}x (2 cores; scan phase, as logged); end to end incl. HDF5 writing: $(fdiv "$wall1" "$wall2")x (wall ${wall1}s -> ${wall2}s)"
say "speedup rank1/reference per core: $(fx "$speedup") in samples/s, $(fx "$speedup_mb") in MB/s (reference ${REF} samples/s, ${ref_mbps} MB/s)"
say "MB/s per rank: 1 rank $pr1, 2 ranks $pr2"
say "write phase (both files; sample bytes written, padding left as holes): 1 rank ${ws1}s at $wr1 MB/s per rank, 2 ranks ${ws2}s at $wr2 MB/s per rank (output in $OUT)"
say "text: the zip expands to $(awk -v t="$TEXT_BYTES" 'BEGIN { printf "%.1f", t / 1e6 }') MB; --dataset ntu60 prepares $prepared samples, $ptext MB of it (the rest is outside NTU60 and skipped)"
verdict() { if [ "$2" = NA ]; then echo "not measured"; elif fge "$2" "$3"; then echo met; else echo "not met"; fi; }
say "target: >= 100 MB/s of skeleton text per core, inflate included: $mb1 MB/s on 1 rank, $pr2 per rank on 2 -> $(verdict x "$mb1" 100)"
say "target: >= 5x the reference per core: $(fx "$speedup") -> $(verdict x "$speedup" 5)"
say "target: 2-rank scaling >= 1.7x: ${scaling}x -> $(verdict x "$scaling" 1.7)"
e2e=$(fdiv "$wall1" "$wall2")
say "target: 2-rank scaling of the whole run >= 1.7x: ${e2e}x -> $(verdict x "$e2e" 1.7)"
say "took $(awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')s"
echo "bench-prep: rank1=$best1 rank2=$best2 mbps1=$mb1 reference=$REF write1=$wr1 write2=$wr2 wall1=$wall1 wall2=$wall2"
