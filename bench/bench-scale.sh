#!/usr/bin/env bash
# bench-scale.sh - `make bench-scale`: the measured scaling model of data-
# parallel training (issue 17 part 2; docs/scaling.md). Needs root for the
# network namespaces (tests/tap/netns.sh); without them it says so and stops.
#
#  1. compute: build/bench-train on 1 rank (forward, loss, backward, SGD of
#     the official CTR-GCN, T 64, base 64, NTU's shape) at each per-rank
#     batch of BENCH_BATCHES and BENCH_THREADS threads (splitting the
#     (sample, person) rows, ctrgcn_team.h: at one sample its two persons); wall and
#     CPU seconds per step, the median of BENCH_REPS runs; the same on NW-UCLA's
#     shape (T 52, 20 joints, 1 person) for BENCH_UCLA_BATCHES, 1 thread.
#  2. communication: the sizes of a step's all-reduces (build/bench-train
#     --list-bn: the synchronised BN's 61 vectors of doubles; the gradient,
#     one vector of floats; the loss, 1 double), each timed by
#     build/bench-comm on 2 and 4 ranks: on this one node (shm: Open MPI's
#     shared memory) and over TCP between namespace "nodes" (1 rank a node,
#     btl tcp, no shared memory) on the links of BENCH_LINKS: `host`
#     unshaped (the veth links as fast as this machine moves bytes: that caps
#     what shaping can show), or a tc tbf rate (100gbit, 25gbit, 500mbit).
#     tbf shapes bandwidth only: latency is whatever the machine gives
#     (netem, which adds delay, is missing on these kernels).
#  3. the model's check: step time = compute + NSYNC x wait + the step's
#     all-reduces as timed in 2 on BENCH_CHECK_LINK, against measured P-rank
#     runs (global batch BENCH_CHECK_BATCH over P nodes x 1 rank, gradient in
#     one blocking all-reduce), P in 1 2 4, medians of BENCH_CHECK_REPS.
#     compute: P independent 1-rank processes at the per-rank batch, run at
#     the same time as the measured run (so under the same machine load),
#     the slowest counting. wait: what one synchronisation costs when the
#     ranks share cores with each other and other users: a real step
#     replayed (bench-comm --step: the CPU ms of each of the step's NSYNC
#     segments, from bench-train --list-bn at the per-rank batch, each then
#     its all-reduce) on P nodes, against P unsynchronised copies at the
#     same time, less the all-reduces' own time.
#     BENCH_CHECK_CORES=dedicated checks the model of dedicated nodes
#     instead (section 5's case): each node's rank pinned to a core of its
#     own (taskset, core = rank), compute measured by P pinned 1-rank
#     processes BEFORE the run, not beside it, and no wait term (no core is
#     shared). Only for P up to this machine's free cores; larger P are
#     skipped and said so. The machine must be otherwise quiet.
#  4. BENCH_BN_BASELINE=<a bench-train binary built at the per-layer BN
#     commit> (docs/scaling.md says how): that binary against this one at
#     4 nodes over BENCH_CHECK_LINK, alternating: the grouped BN's effect.
#  5. projections (build/scale-model): NTU60 X-Sub and NW-UCLA on 1-256 nodes
#     of 64 cores from the compute of step 1 and the stated link figures
#     BENCH_CLUSTER_LINKS ("GBIT:LATENCY_US ...", default 100 Gb/s at 2 us and
#     25 Gb/s at 10 us); then again with a stated parallel fraction of a
#     rank's threads, BENCH_PARALLEL_FRACTION (0.82: 1.7x on 2 threads).
#
# Knobs (environment; the defaults take ~5 minutes on a quiet 2-core machine,
# 25-40 on this one while it is shared): BENCH_BATCHES ("1 2 4 8 16"), BENCH_THREADS ("1 2"),
# BENCH_UCLA_BATCHES ("1 4 16"), BENCH_WARMUP (1), BENCH_STEPS (2),
# BENCH_REPS (2), BENCH_LINKS ("host 100gbit 25gbit 500mbit"), BENCH_BURST
# (tbf's bucket; default 2 ms of the rate), BENCH_COMM_ITERS (10),
# BENCH_COMM_REPS (5), BENCH_CHECK_LINK (500mbit: below what this machine's
# veth links carry, so the shaping shows), BENCH_CHECK_BATCH (16),
# BENCH_CHECK_REPS (2), BENCH_CHECK_STEPS (3), BENCH_REPLAY_REPS (3), BENCH_BN_BASELINE, BENCH_BN_REPS
# (3), BENCH_CLUSTER_LINKS, BENCH_PARALLEL_FRACTION, BENCH_CHECK_CORES (shared |
# dedicated; shared); COCODIFF_WATCHDOG_S=0
# (the check's runs with blocking collectives, no watchdog) and NETNS_YIELD=0
# (Open MPI polls without yielding; tests/tap/netns.sh) for the comparisons
# of docs/scaling.md section 3.
# Last line:
#   bench-scale: b1_s=... (per batch, 1 thread) t2_speedup_b16=... bn_reductions=61
#     grad_mb=... host_gbps=... pred_1r=... meas_1r=... err_1r=... err0_1r=... (2r, 4r)
#     max_err=... max_err0=... (err0: the prediction without the wait term)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BENCH_NAME=bench-train   # lib.sh snapshots build/bench-train as $BIN
CTRGCN=
. bench/lib.sh
BENCH_NAME=bench-scale
BATCHES=${BENCH_BATCHES:-1 2 4 8 16}
THREADS=${BENCH_THREADS:-1 2}
UCLA_BATCHES=${BENCH_UCLA_BATCHES:-1 4 16}
WARMUP=${BENCH_WARMUP:-1} STEPS=${BENCH_STEPS:-2} REPS=${BENCH_REPS:-2}
LINKS=${BENCH_LINKS:-host 100gbit 25gbit 500mbit}
CHECK_LINK=${BENCH_CHECK_LINK:-500mbit} CHECK_BATCH=${BENCH_CHECK_BATCH:-16} CHECK_REPS=${BENCH_CHECK_REPS:-2}
CHECK_STEPS=${BENCH_CHECK_STEPS:-3}
case " $LINKS " in *" $CHECK_LINK "*) ;; *) LINKS="$LINKS $CHECK_LINK" ;; esac   # its all-reduces are timed
COMM_ARGS=(--iters "${BENCH_COMM_ITERS:-10}" --reps "${BENCH_COMM_REPS:-5}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
COMM=$OUTDIR/bin/bench-comm
cp build/bench-comm "$COMM.tmp" && mv "$COMM.tmp" "$COMM"
MODEL=build/scale-model
TMP=$OUTDIR/scale
rm -rf "$TMP" && mkdir -p "$TMP"
FIG=$TMP/figures   # what scale-model reads: one measured or stated figure a line
: > "$FIG"

# The namespaces first: without them there is no model to check.
skip_all() { say "needs root and network namespaces (tests/tap/netns.sh): $*"; exit 2; }
. tests/tap/netns.sh
netns_up 4

# shape RATE: tbf on every node's link; its bucket holds 2 ms of RATE (at
# least a timer tick's worth, or tbf caps below RATE; BENCH_BURST overrides)
shape() {
    local burst=${BENCH_BURST:-$(awk -v r="$1" 'BEGIN { v = r + 0; if (r ~ /gbit/) v *= 1e9; else if (r ~ /mbit/) v *= 1e6;
        b = v / 8 * 0.002 / 1000; printf "%dkb", (b < 16 ? 16 : b) }')}
    netns_shape "$1" "$burst"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# c1 THREADS ARGS... -> bench-train-c: line of a 1-rank run (this machine's
# own network); on core $C1_CORE alone when that is set
c1() { local t=$1; shift
    OPENBLAS_NUM_THREADS=$t GLIBC_TUNABLES=$TUNE ${C1_CORE:+taskset -c "$C1_CORE"} "$BIN" --threads "$t" --warmup "$WARMUP" --steps "$STEPS" "$@" 2>&1 |
        grep '^bench-train-c:' | tail -1; }

# --- 1. compute per step
say "1. compute: 1 rank, T 64 (NW-UCLA 52), base 64, $WARMUP+$STEPS steps, median of $REPS runs; wall and CPU s/step"
printf '%-6s %6s %8s %10s %10s %10s\n' shape batch threads "wall s" "CPU s" "samples/s"
declare -A WALL CPU
for shape in ntu ucla; do
    if [ $shape = ntu ]; then bs=$BATCHES ts=$THREADS sa=(--layout ntu25 --classes 60 --frames 64)
    else bs=$UCLA_BATCHES ts=1 sa=(--layout ucla20 --classes 10 --frames 52 --weight-decay 1e-4); fi
    for t in $ts; do
        for b in $bs; do
            w=() c=()
            for r in $(seq "$REPS"); do
                l=$(c1 "$t" --batch "$b" "${sa[@]}")
                w+=("$(field step_s "$l")") c+=("$(field cpu_s "$l")")
            done
            mw=$(median "${w[@]}") mc=$(median "${c[@]}")
            WALL[$shape,$b,$t]=$mw CPU[$shape,$b,$t]=$mc
            printf '%-6s %6s %8s %10s %10s %10s\n' $shape "$b" "$t" "$mw" "$mc" "$(fdiv "$b" "$mw")"
            echo "compute $shape $b $t $mw $mc" >> "$FIG"
        done
    done
done

# --- 2. the step's all-reduces over the namespace links
out=$(OPENBLAS_NUM_THREADS=1 "$BIN" --batch 1 --warmup 0 --steps 1 --list-bn 2>&1)
BN=$(printf '%s\n' "$out" | sed -n 's/.*BN all-reduce sizes (doubles), one step: //p')
NPARAM=$(printf '%s\n' "$out" | sed -n 's/.* base 64, \([0-9]*\) params.*/\1/p' | head -1)
outu=$(OPENBLAS_NUM_THREADS=1 "$BIN" --batch 1 --warmup 0 --steps 1 --layout ucla20 --classes 10 --frames 52 2>&1)
NPARAM_U=$(printf '%s\n' "$outu" | sed -n 's/.* base 64, \([0-9]*\) params.*/\1/p' | head -1)
[ -n "$BN" ] && [ -n "$NPARAM" ] && [ -n "$NPARAM_U" ] ||
    { say "bench-train --list-bn gave no sizes:"; printf '%s\n' "$out" | tail -5; exit 1; }
nbn=$(tr ',' '\n' <<<"$BN" | grep -c .)
UNIQ=$(tr ',' '\n' <<<"$BN" | sort -n | uniq | paste -sd,)
echo "bn $BN" >> "$FIG"
echo "grad ntu $NPARAM" >> "$FIG"
echo "grad ucla $NPARAM_U" >> "$FIG"
say "2. a step's all-reduces: $nbn synchronised-BN vectors of 99-1539 doubles ($(tr ',' '\n' <<<"$BN" | awk '{ s += $1 } END { printf "%.0f KB", s * 8 / 1000 }') in all), the gradient $NPARAM floats ($(awk -v n="$NPARAM" 'BEGIN { printf "%.2f MB", n * 4 / 1e6 }'))"
say "   timed by bench-comm over TCP between namespace nodes (1 rank a node) and on this one node, median of ${BENCH_COMM_REPS:-5} x ${BENCH_COMM_ITERS:-10} calls"
declare -A AR   # AR[link,P,kind,n] = us
# step_comm LINK P -> "BN_MS GRAD_MS": the step's all-reduces (61 BN, the
# loss's 1 double, the gradient) summed from the timings of LINK on P ranks
step_comm() {
    local bn
    bn=$( { tr ',' '\n' <<<"$BN"; echo 1; } | while read -r n; do echo "${AR[$1,$2,f64,$n]}"; done | awk '{ s += $1 } END { printf "%.3f", s / 1000 }')
    echo "$bn $(awk -v u="${AR[$1,$2,f32,$NPARAM]}" 'BEGIN { printf "%.3f", u / 1000 }')"
}
# "shm": P ranks on this one node (Open MPI's shared memory), no namespaces.
for link in shm $LINKS; do
    case $link in
        shm) ;;
        host) for i in 1 2 3 4; do tc -n "$(netns_host $i)" qdisc del dev eth0 root 2>/dev/null; done ;;
        *) shape "$link" || { say "tc tbf $link refused: link skipped"; continue; } ;;
    esac
    for P in 2 4; do
        if [ $link = shm ]; then out=$(mpirun -n $P -x OPENBLAS_NUM_THREADS "$COMM" --f64 "1,$UNIQ" --f32 "$NPARAM" "${COMM_ARGS[@]}" 2>&1 </dev/null)
        else out=$(netns_mpirun $P 1 "$COMM" --f64 "1,$UNIQ" --f32 "$NPARAM" "${COMM_ARGS[@]}" 2>&1); fi
        printf '%s\n' "$out" | grep '^bench-comm-c:' > "$TMP/comm-$link-$P" ||
            { say "bench-comm on $P ranks ($link) failed:"; printf '%s\n' "$out" | tail -5; exit 1; }
        while read -r cl; do
            AR[$link,$P,$(field kind "$cl"),$(field n "$cl")]=$(field us "$cl")
            echo "comm $link $P $(field kind "$cl") $(field n "$cl") $(field us "$cl") $(field min_us "$cl")" >> "$FIG"
        done < "$TMP/comm-$link-$P"
        set -- $(step_comm $link $P)
        busbw=$(awk -v n="$NPARAM" -v p=$P -v ms="$2" 'BEGIN { printf "%.2f", 2 * (p - 1) / p * n * 4 * 8 / (ms * 1e6) }')
        say "   $link, $P $([ $link = shm ] && echo "ranks on one node" || echo "nodes"): 1 double ${AR[$link,$P,f64,1]} us, the 62 small ones (BN, loss) $1 ms a step, gradient $2 ms (bus bandwidth $busbw Gb/s)"
        [ "$link" = host ] && [ $P = 2 ] && HOST_GBPS=$busbw
        echo "commstep $link $P $1 $2 $busbw" >> "$FIG"
    done
done
HOST_GBPS=${HOST_GBPS:-NA}

# --- 3. the model against measured runs
if [ "$CHECK_LINK" = host ] || ! shape "$CHECK_LINK"; then
    say "tc tbf $CHECK_LINK refused: the check runs on unshaped links"
    CHECK_LINK=host
    for i in 1 2 3 4; do tc -n "$(netns_host $i)" qdisc del dev eth0 root 2>/dev/null; done
fi
NSYNC=$((nbn + 2))   # collectives a step: the BN sums, the gradient, the loss
say "3. the model's check: global batch $CHECK_BATCH on P nodes x 1 rank over $CHECK_LINK links, gradient in one blocking all-reduce; $NSYNC all-reduces a step"
say "   predicted = compute + $NSYNC x wait + the all-reduces timed on $CHECK_LINK (section 2); measured = the P-rank run across P nodes; medians of $CHECK_REPS"
CORES=${BENCH_CHECK_CORES:-shared}
case $CORES in shared|dedicated) ;; *) say "BENCH_CHECK_CORES=$CORES: shared or dedicated"; exit 1 ;; esac
if [ "$CORES" = shared ]; then
    say "   compute: P independent 1-rank processes (the slowest), run at the same time as the measured run, so under the same load;"
    say "   wait: what a synchronisation costs when the cores are shared: bench-comm --step (a real step's $NSYNC segments of CPU work, each then its all-reduce) on P nodes against P unsynchronised processes, at once, less the all-reduces' own time"
else
    say "   BENCH_CHECK_CORES=dedicated: each rank on a core of its own (taskset, core = rank); compute: P pinned 1-rank processes run BEFORE the measured run; no wait term"
    # node r's rank on core r: Open MPI binds nothing here (tests/tap/netns.sh)
    PIN=$TMP/pin-rank
    printf '#!/bin/sh\nexec taskset -c "$OMPI_COMM_WORLD_RANK" "$@"\n' > "$PIN" && chmod +x "$PIN"
fi
summary=""
maxerr=0 maxerr0=0   # with the wait term, and without it (compute + all-reduces: dedicated cores' model)
for P in 1 2 4; do
    b=$((CHECK_BATCH / P))
    ta=(--batch "$CHECK_BATCH" --threads 1 --warmup "$WARMUP" --steps "$CHECK_STEPS" --bucket-mb 0)
    wait_ms=0
    if [ "$CORES" = dedicated ] && [ "$P" -gt "$(nproc)" ]; then
        say "   $P node(s): skipped: dedicated cores need $P free cores, this machine has $(nproc)"
        summary+=" err_${P}r=NA err0_${P}r=NA"
        continue
    fi
    if [ $P -gt 1 ] && [ "$CORES" = shared ]; then
        # the step replayed (bench-comm --step): a real step's segments of CPU
        # work at this per-rank batch (bench-train --list-bn, 1 rank), each
        # followed by its all-reduce; on P nodes against P unsynchronised
        # copies at the same moment. The difference, less the all-reduces'
        # own time (section 2), is what the synchronisations cost a step
        seg=$(OPENBLAS_NUM_THREADS=1 GLIBC_TUNABLES=$TUNE "$BIN" --batch "$b" --warmup 1 --steps 1 --list-bn 2>&1 |
            sed -n 's/.*step.s segments (kind:count:CPU ms before it): //p')
        [ -n "$seg" ] || { say "bench-train --list-bn gave no segments at batch $b"; exit 1; }
        wa=(--step "$seg" --iters 1 --reps "${BENCH_REPLAY_REPS:-3}")
        pids=()
        netns_mpirun $P 1 "$COMM" "${wa[@]}" > "$TMP/sync" 2>&1 & pids+=($!)
        for i in $(seq $P); do "$COMM" "${wa[@]}" > "$TMP/nosync-$i" 2>&1 & pids+=($!); done
        wait "${pids[@]}"
        ts=$(field us "$(grep '^bench-comm-c:' "$TMP/sync")")
        tn=$(for i in $(seq $P); do field us "$(grep '^bench-comm-c:' "$TMP/nosync-$i")"; done | sort -g | tail -1)
        set -- $(step_comm "$CHECK_LINK" $P)
        wait_ms=$(awk -v s="$ts" -v n="$tn" -v a="$1" -v g="$2" -v k=$NSYNC 'BEGIN { printf "%.2f", ((s - n) / 1000 - a - g) / k }')
        say "   $P nodes: a step of $(field work_ms "$(grep '^bench-comm-c:' "$TMP/sync")") CPU ms in $NSYNC segments, each then its all-reduce: $(awk -v u="$ts" 'BEGIN { printf "%.3f", u / 1e6 }') s a step synchronised, $(awk -v u="$tn" 'BEGIN { printf "%.3f", u / 1e6 }') s alone (the slowest of $P): less the all-reduces ($(awk -v a="$1" -v g="$2" 'BEGIN { printf "%.0f", a + g }') ms), wait $wait_ms ms a synchronisation"
    fi
    m=() cm=() bnm=() outm=()
    for r in $(seq "$CHECK_REPS"); do
        pids=()
        if [ "$CORES" = dedicated ]; then
            # the P copies first, each alone on its core, then the run
            for i in $(seq $P); do C1_CORE=$((i - 1)) c1 1 --batch "$b" --steps "$CHECK_STEPS" > "$TMP/alone-$i" & pids+=($!); done
            wait "${pids[@]}"
            pids=()
        fi
        pin=(); [ "$CORES" = dedicated ] && pin=("$PIN")
        if [ $P = 1 ]; then C1_CORE=${pin:+0} c1 1 --batch "$CHECK_BATCH" --bucket-mb 0 --steps "$CHECK_STEPS" > "$TMP/meas" & pids+=($!)
        else GLIBC_TUNABLES=$TUNE netns_mpirun $P 1 -x GLIBC_TUNABLES ${COCODIFF_WATCHDOG_S:+-x COCODIFF_WATCHDOG_S} \
            "${pin[@]}" "$BIN" "${ta[@]}" > "$TMP/meas" 2>&1 & pids+=($!); fi
        if [ "$CORES" = shared ]; then
            for i in $(seq $P); do c1 1 --batch "$b" --steps "$CHECK_STEPS" > "$TMP/alone-$i" & pids+=($!); done
        fi
        wait "${pids[@]}"
        l=$(grep '^bench-train-c:' "$TMP/meas" | tail -1)
        m+=("$(field step_s "$l")") bnm+=("$(field bn_ms "$l")/$(field bn_cpu_ms "$l")") outm+=("$(field outside_s "$l")")
        grep '^bench-train-c | rank [0-9]*:' "$TMP/meas" | sed "s/^bench-train-c |/$BENCH_NAME:    $P nodes, run $r:/"
        cm+=("$(for i in $(seq $P); do field step_s "$(cat "$TMP/alone-$i")"; done | sort -g | tail -1)")
    done
    meas=$(median "${m[@]}") comp=$(median "${cm[@]}")
    if [ $P = 1 ]; then comm=0; else
        set -- $(step_comm "$CHECK_LINK" $P); comm=$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (a + b) / 1000 }')
    fi
    pred=$(awk -v c="$comp" -v k="$comm" -v w="$wait_ms" -v n=$NSYNC 'BEGIN { printf "%.4f", c + k + n * w / 1000 }')
    nowait=$(awk -v c="$comp" -v k="$comm" 'BEGIN { printf "%.4f", c + k }')
    err=$(awk -v p="$pred" -v m="$meas" 'BEGIN { printf "%+.1f", 100 * (p - m) / m }')
    err0=$(awk -v p="$nowait" -v m="$meas" 'BEGIN { printf "%+.1f", 100 * (p - m) / m }')
    maxerr=$(awk -v a="$maxerr" -v e="$err" 'BEGIN { e = e < 0 ? -e : e; print (e > a) ? e : a }')
    maxerr0=$(awk -v a="$maxerr0" -v e="$err0" 'BEGIN { e = e < 0 ? -e : e; print (e > a) ? e : a }')
    say "   $P node(s), $b samples a rank: compute $comp s (runs: ${cm[*]}) + wait $NSYNC x $wait_ms ms + all-reduces $comm s = predicted $pred s/step; measured ${m[*]} s/step (median $meas; ms inside the BN all-reduces, waits included / CPU ms there: ${bnm[*]:-0}; the slowest rank outside the collectives: ${outm[*]} s); prediction $err% ($err0% without the wait)"
    echo "check $P $b $comp $wait_ms $comm $pred $meas" >> "$FIG"
    summary+=" pred_${P}r=$pred meas_${P}r=$meas err_${P}r=$err err0_${P}r=$err0"
done

# --- 4. grouped vs per-layer synchronised BN
if [ -n "${BENCH_BN_BASELINE:-}" ] && [ -x "$BENCH_BN_BASELINE" ]; then
    OLD=$OUTDIR/bin/bench-train-baseline
    cp "$BENCH_BN_BASELINE" "$OLD"
    say "4. synchronised BN per layer ($BENCH_BN_BASELINE) vs grouped (this tree): 4 nodes over $CHECK_LINK, batch 16 (4 a rank), the trainer's overlapped buckets, alternating; each with its own build's default tanh (COCODIFF_FAST_TANH=1 is set: builds that had the opt-in take the rational form the baseline used)"
    o=() n=() ob=() nb=()
    for r in $(seq "${BENCH_BN_REPS:-3}"); do
        for which in old new; do
            bin=$BIN; [ $which = old ] && bin=$OLD
            l=$(COCODIFF_FAST_TANH=1 netns_mpirun 4 1 -x COCODIFF_FAST_TANH "$bin" --batch 16 --warmup "$WARMUP" --steps "$STEPS" 2>&1 |
                grep '^bench-train-c:' | tail -1)
            s=$(awk -v r="$(field samples_s "$l")" 'BEGIN { printf "%.3f", (r > 0 ? 16 / r : 0) }')
            if [ $which = old ]; then o+=("$s"); ob+=("$(field bn_reductions "$l")"); else n+=("$s"); nb+=("$(field bn_reductions "$l")"); fi
        done
    done
    mo=$(median "${o[@]}") mn=$(median "${n[@]}")
    say "   per layer: ${ob[0]:-?} BN all-reduces a step, s/step ${o[*]} (median $mo); grouped: ${nb[0]}, s/step ${n[*]} (median $mn); grouped/per-layer $(fdiv "$mn" "$mo")"
    summary+=" bn_old_s=$mo bn_new_s=$mn bn_ratio=$(fdiv "$mn" "$mo")"
fi

# --- 5. projections
say "5. projections (build/scale-model; assumptions in its output and docs/scaling.md)"
"$MODEL" --links "${BENCH_CLUSTER_LINKS:-100:2 25:10}" < "$FIG"
pf=${BENCH_PARALLEL_FRACTION:-0.82}
say "   again with threads that split a rank's samples at 1.7x on 2 threads (issue 17's target for hybrid parallelism): parallel fraction $pf"
"$MODEL" --links "${BENCH_CLUSTER_LINKS:-100:2 25:10}" --parallel-fraction "$pf" < "$FIG" | grep -v '^scale-model | columns'

bs=""
for b in $BATCHES; do bs+=" b${b}_s=${WALL[ntu,$b,1]:-NA}"; done
last=$(echo "$BATCHES" | awk '{ print $NF }')
echo "bench-scale:$bs t2_speedup_b$last=$(fdiv "${WALL[ntu,$last,1]:-}" "${WALL[ntu,$last,2]:-}") bn_reductions=$nbn grad_mb=$(awk -v n="$NPARAM" 'BEGIN { printf "%.2f", n * 4 / 1e6 }') host_gbps=$HOST_GBPS$summary max_err=$maxerr max_err0=$maxerr0"
