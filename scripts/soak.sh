#!/bin/bash
# soak.sh DIR - the soak test behind `make soak` (issue 12): cocodiff-train on
# 2 ranks (small CTR-GCN on synthetic NTU data, an evaluation of the test
# split every epoch, a checkpoint every epoch and every 3 steps) for
# SOAK_SECONDS, SIGKILLing every rank at random times (uniform in
# [SOAK_SECONDS/30, SOAK_SECONDS/6], at least 10 and 20 s; seeded by
# SOAK_SEED) and resuming with --resume; at the end SIGTERM (checkpoint and
# exit 3, as Slurm's preemption). Then the same config from scratch,
# uninterrupted, to the same step (--max-steps). Each rank's RSS is read
# from /proc every SOAK_SAMPLE_S seconds (default 5).
# Checks: the two final checkpoints, the --log-losses files and
# cocodiff-eval's scores of both checkpoints are byte-identical; RSS growth
# (least squares over each process's life, after its first 30 s) is under
# SOAK_MAX_GROWTH_MB per hour (default 64). Ends with one line
# "soak: key=value ..."; exit 0 when every check holds.
set -u
dir=${1:?usage: soak.sh DIR}
S=${SOAK_SECONDS:-3600} seed=${SOAK_SEED:-1} every=${SOAK_SAMPLE_S:-5} maxg=${SOAK_MAX_GROWTH_MB:-64}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
rm -rf "$dir" && mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
say() { echo "soak | $(date -u +%H:%M:%S) | $*"; }

"$bin/cocodiff-synth" --format ntu --samples 120 --seed 3 --out "$dir/s.zip" --quiet > "$dir/synth.log" 2>&1 &&
    "$bin/cocodiff-prep" --dataset ntu60 --input "$dir/s.zip" --out "$dir" > "$dir/prep.log" 2>&1 ||
    { echo "soak: synth/prep failed (see $dir/*.log)" >&2; exit 1; }
config() {
    cat > "$1" <<YAML
work_dir: $2
feeder: feeders.feeder_ntu.Feeder
train_feeder_args: {data_path: $dir/ntu60-xsub.h5, window_size: 16, p_interval: [0.5, 1], random_rot: True}
test_feeder_args: {data_path: $dir/ntu60-xsub.h5, window_size: 16, p_interval: [0.95]}
model: model.ctrgcn.Model
model_args: {num_class: 60, num_point: 25, num_person: 2, graph: graph.ntu_rgb_d.Graph, graph_args: {labeling_mode: spatial}}
weight_decay: 0.0004
base_lr: 0.1
lr_decay_rate: 0.1
step: [500, 1000]
warm_up_epoch: 1
nesterov: True
batch_size: 16
test_batch_size: 16
num_epoch: 100000
log_interval: 100
eval_interval: 1
save_epoch: 0
save_interval: 1000000
seed: 1
cocodiff: {base_channel: 8, checkpoint_steps: 3}
YAML
}
# One config and one work dir for both runs (the checkpoint records the
# config, the scores the checkpoint's path): the soak run's outputs are moved
# aside before the uninterrupted run.
config "$dir/soak.yaml" "$dir/w"

# sample_rss PID_OF_MPIRUN OUT: "seconds rank0_kB rank1_kB" lines until mpirun ends.
sample_rss() {
    local t0=$SECONDS
    while kill -0 "$1" 2> /dev/null; do
        local line="" p
        for p in $(pgrep -P "$1" cocodiff-train); do
            line="$line $(awk '/^VmRSS/ {print $2}' /proc/$p/status 2> /dev/null)"
        done
        [ -n "$line" ] && echo "$((SECONDS - t0))$line" >> "$2"
        sleep "$every"
    done
}
# growth FILE...: the largest least-squares RSS slope (MB/h) of any rank
# over any file's samples after 30 s (needs 60 s of samples), and the peak RSS in MB.
growth() {
    awk 'FNR == 1 { fin() } { if ($1 >= 30) for (r = 2; r <= NF; r++) { n[r]++; sx[r] += $1; sy[r] += $r; sxx[r] += $1*$1; sxy[r] += $1*$r; last[r] = $1 }
             for (r = 2; r <= NF; r++) if ($r > peak) peak = $r }
         function fin(  r, d, b) { for (r in n) { d = n[r]*sxx[r] - sx[r]*sx[r];
             if (n[r] > 3 && last[r] >= 90 && d > 0) { b = (n[r]*sxy[r] - sx[r]*sy[r]) / d * 3600 / 1024; if (b > worst) worst = b; k++ } }
             delete n; delete sx; delete sy; delete sxx; delete sxy; delete last }
         BEGIN { worst = -1e9 } END { fin(); printf "%.1f %.0f %d\n", (k ? worst : 0), peak / 1024, k }' "$@"
}

RANDOM=$seed
lo=$((S / 30 > 10 ? S / 30 : 10)) hi=$((S / 6 > 20 ? S / 6 : 20))
start=$SECONDS kills=0 seg=0
say "soak run: $S s, kills every $lo-$hi s (seed $seed), in $dir"
while :; do
    seg=$((seg + 1))
    left=$((S - (SECONDS - start)))
    wait_s=$((lo + RANDOM % (hi - lo + 1)))
    last=0
    [ "$wait_s" -ge "$left" ] && { wait_s=$((left > lo ? left : lo)); last=1; }
    lines0=$(cat "$dir/soak-losses" 2> /dev/null | wc -l)
    resume=""; [ $seg -gt 1 ] && resume=--resume
    mpirun -np 2 -x OPENBLAS_NUM_THREADS "$bin/cocodiff-train" --config "$dir/soak.yaml" $resume \
        --log-losses "$dir/soak-losses" >> "$dir/soak.log" 2>&1 &
    mp=$!
    sample_rss $mp "$dir/rss-soak-$seg" &
    sampler=$!
    sleep "$wait_s"
    if ! kill -0 $mp 2> /dev/null; then
        wait $mp; say "segment $seg ended by itself (exit $?) before its kill: see $dir/soak.log"; exit 1
    fi
    if [ $last = 1 ]; then
        # SIGTERM once this segment has made a step (its handler is set by then)
        i=0
        while [ "$(cat "$dir/soak-losses" 2> /dev/null | wc -l)" -le "$lines0" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
        kill -TERM $(pgrep -P $mp) 2> /dev/null
        wait $mp; rc=$?
        wait $sampler
        [ $rc = 3 ] || { say "the final SIGTERM gave exit $rc, not 3 (see $dir/soak.log)"; exit 1; }
        break
    fi
    kill -KILL $(pgrep -P $mp) 2> /dev/null
    wait $mp 2> /dev/null
    wait $sampler
    kills=$((kills + 1))
    step=$(h5dump -a /step "$dir/w/checkpoint-last.h5" 2> /dev/null | sed -n 's/.*(0): //p')
    say "segment $seg: SIGKILL after ${wait_s}s; checkpoint at step ${step:-none}"
done
soak_s=$((SECONDS - start))
steps=$(h5dump -a /step "$dir/w/checkpoint-last.h5" 2> /dev/null | sed -n 's/.*(0): //p')
resumes=$(grep -c "resumed from" "$dir/soak.log")
say "soak run done: $steps steps in ${soak_s}s, $kills SIGKILLs, $resumes resumes; now the same $steps steps uninterrupted"

evaluate() {
    mpirun -np 2 -x OPENBLAS_NUM_THREADS "$bin/cocodiff-eval" --checkpoint "$dir/w/checkpoint-last.h5" \
        --data "$dir/ntu60-xsub.h5" --out "$dir/eval" > "$dir/eval-$1.log" 2>&1 &&
        mv "$dir/eval" "$dir/eval-$1" || { say "cocodiff-eval ($1) failed (see $dir/eval-$1.log)"; exit 1; }
}
evaluate soak
mv "$dir/w" "$dir/soak-w"
t1=$SECONDS
mpirun -np 2 -x OPENBLAS_NUM_THREADS "$bin/cocodiff-train" --config "$dir/soak.yaml" --max-steps "$steps" \
    --log-losses "$dir/ref-losses" > "$dir/ref.log" 2>&1 &
mp=$!
sample_rss $mp "$dir/rss-ref" &
sampler=$!
wait $mp; rc=$?
wait $sampler
ref_s=$((SECONDS - t1))
[ $rc = 0 ] || { say "the uninterrupted run failed (exit $rc, see $dir/ref.log)"; exit 1; }
evaluate ref
same() { cmp -s "$1" "$2" && echo yes || echo no; }
ck=$(same "$dir/soak-w/checkpoint-last.h5" "$dir/w/checkpoint-last.h5")
lo_same=$(same "$dir/soak-losses" "$dir/ref-losses")
sc=$(same "$dir/eval-soak/scores.h5" "$dir/eval-ref/scores.h5")
top1=$(sed -n 's/.*"top1": *\([0-9.e-]*\).*/\1/p' "$dir/eval-ref/metrics.json" | head -1)
read -r g_soak peak_soak n_soak <<< "$(growth "$dir"/rss-soak-*)"
read -r g_ref peak_ref n_ref <<< "$(growth "$dir/rss-ref")"
say "RSS: soak segments peak ${peak_soak} MB, worst growth ${g_soak} MB/h over $n_soak rank-lives of 90 s or more;" \
    "uninterrupted run (${ref_s}s) peak ${peak_ref} MB, growth ${g_ref} MB/h"
okg=$(awk -v a="$g_soak" -v b="$g_ref" -v m="$maxg" 'BEGIN { print (a < m && b < m) ? "yes" : "no" }')
echo "soak: seconds=$soak_s steps=$steps kills=$kills resumes=$resumes ref_seconds=$ref_s checkpoint_identical=$ck" \
    "losses_identical=$lo_same scores_identical=$sc test_top1=${top1:-?} rss_peak_mb=$peak_soak" \
    "growth_mb_per_h=$g_soak ref_growth_mb_per_h=$g_ref growth_ok=$okg"
[ "$ck$lo_same$sc$okg" = yesyesyesyes ]
