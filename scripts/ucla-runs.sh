#!/bin/bash
# scripts/ucla-runs.sh OUT - the NW-UCLA runs of docs/results-ucla.md
# (scripts/ucla-results.sh OUT writes that file from them): CTR-GCN trained
# and evaluated on the real NW-UCLA split, one work folder per run under OUT:
#   joint-backbone-s1, -s2      joint stream, the backbone alone, seeds 1 and 2
#   joint-cocodiff-s1, -s2      the same seeds with the CoCoDiff module (paired)
#   bone-backbone-s1, -s2       bone stream, backbone alone
#   ensemble-joint-bone-s1, -s2 cocodiff-ensemble of the joint and bone runs
# each run: cocodiff-train (OUT/RUN/, log OUT/RUN.log), then cocodiff-eval of
# its last checkpoint on the test split (OUT/RUN/eval/). Resumable: a run
# with OUT/RUN/done is reused, an unfinished one continues from its last
# checkpoint (--resume). OUT/runs.log says what ran when.
#
# The programs and job files are copied into OUT/bin and OUT/jobs first (a
# rebuild of the checkout during the runs cannot change them); OUT/run-info
# records the commit, the copied programs' build (`cocodiff-train
# --version`, which every run also records itself), command and schedule.
#
# Schedule knobs (environment; the official config/ucla/default.yaml is
# 65 epochs, repeat 5, step [50], warm-up 5): UCLA_EPOCHS (65),
# UCLA_REPEAT (1), UCLA_STEP (50), UCLA_WARMUP (5), UCLA_EVAL_INTERVAL (1:
# test top-1 every epoch), UCLA_SEEDS ("1 2"), UCLA_NP (2 ranks),
# UCLA_THREADS (1 per rank), UCLA_BASE (64: the official width; smaller for
# smoke tests), UCLA_RUNS (all: a subset of joint-backbone,
# joint-cocodiff, bone-backbone, ensemble), UCLA_ZIP (the archive; default
# ../shared/data/ucla/all_sqe.zip next to the repository), UCLA_MODULE_SET
# (empty: the module's defaults; else cocodiff-train switches for the
# joint-cocodiff runs only, e.g. the synthetic folds' chosen setting
# "--set cocodiff.prediction=x0 --set cocodiff.cfg_scale=3 ...").
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: scripts/ucla-runs.sh OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
ZIP=${UCLA_ZIP:-$R/../shared/data/ucla/all_sqe.zip}
EPOCHS=${UCLA_EPOCHS:-65}
REPEAT=${UCLA_REPEAT:-1}
STEP=${UCLA_STEP:-50}
WARMUP=${UCLA_WARMUP:-5}
EVAL_INTERVAL=${UCLA_EVAL_INTERVAL:-1}
SEEDS=${UCLA_SEEDS:-1 2}
NP=${UCLA_NP:-2}
THREADS=${UCLA_THREADS:-1}
BASE=${UCLA_BASE:-64}
RUNS=${UCLA_RUNS:-joint-backbone joint-cocodiff bone-backbone ensemble}
read -r -a MODULE_SET <<< "${UCLA_MODULE_SET:-}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=$THREADS
MPIRUN=(mpirun -np "$NP" -x OPENBLAS_NUM_THREADS)
log() { echo "$(date -u '+%Y-%m-%d %H:%M:%S') $*" | tee -a "$OUT/runs.log"; }
want() { [[ " $RUNS " == *" $1 "* ]]; }

# Programs and job files, once: later invocations reuse them, so every run
# of OUT trains with the same build.
if [ ! -f "$OUT/run-info" ]; then
    [ -r "$ZIP" ] || { echo "ucla-runs: no archive $ZIP (set UCLA_ZIP)" >&2; exit 2; }
    make -C "$R" --no-print-directory all > /dev/null
    mkdir -p "$OUT/bin" "$OUT/jobs" "$OUT/datasets/parts" "$OUT/datasets/ucla"
    cp "$R"/bin/cocodiff-prep "$R"/bin/cocodiff-embed "$R"/bin/cocodiff-train "$R"/bin/cocodiff-eval \
       "$R"/bin/cocodiff-ensemble "$OUT/bin/"
    cp "$R"/jobs/ucla-*.yaml "$OUT/jobs/"
    cp "$R"/datasets/parts/ucla20.tsv "$OUT/datasets/parts/"
    cp "$R"/datasets/ucla/descriptions.tsv "$OUT/datasets/ucla/"   # prep's class names
    {
        echo "commit $(git -C "$R" rev-parse HEAD)$(git -C "$R" status --porcelain --untracked-files=no | grep -q . && echo ' (with uncommitted changes)' || true)"
        echo "build $("$OUT/bin/cocodiff-train" --version | sed 's/^cocodiff-train //')"
        echo "command UCLA_EPOCHS=$EPOCHS UCLA_REPEAT=$REPEAT UCLA_STEP=$STEP UCLA_WARMUP=$WARMUP UCLA_EVAL_INTERVAL=$EVAL_INTERVAL UCLA_SEEDS=\"$SEEDS\" UCLA_NP=$NP UCLA_THREADS=$THREADS UCLA_BASE=$BASE${MODULE_SET[*]:+ UCLA_MODULE_SET=\"${MODULE_SET[*]}\"} scripts/ucla-runs.sh OUT"
        echo "epochs $EPOCHS"
        echo "repeat $REPEAT"
        echo "step $STEP"
        echo "warmup $WARMUP"
        echo "eval_interval $EVAL_INTERVAL"
        echo "np $NP"
        echo "threads $THREADS"
        echo "base $BASE"
        echo "module_set ${MODULE_SET[*]}"
        echo "machine $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
        echo "archive $(sha256sum "$ZIP" | cut -d' ' -f1)"
    } > "$OUT/run-info"
    log "ucla-runs: set up $OUT ($(head -1 "$OUT/run-info"))"
fi
B=$OUT/bin
DATA=$OUT/prep/ucla.h5
TEXT=$OUT/text/ucla-glove.h5
cd "$OUT"   # the part file path of the layout (datasets/parts/ucla20.tsv) is relative
if [ ! -f "$DATA" ]; then
    log "prep: $ZIP"
    "${MPIRUN[@]}" "$B/cocodiff-prep" --dataset ucla --input "$ZIP" --out "$OUT/prep" > "$OUT/prep.log" 2>&1
fi
if [ ! -f "$TEXT" ]; then
    log "embed: datasets/ucla/descriptions.tsv"
    mkdir -p "$OUT/text"
    "${MPIRUN[@]}" "$B/cocodiff-embed" --descriptions "$R/datasets/ucla/descriptions.tsv" \
        --glove "$R/datasets/glove/glove-6b-100d-subset.bin" --out "$TEXT" \
        > "$OUT/embed.log" 2>&1
fi

# run NAME JOB MODULE SEED [SWITCHES...]: train (resuming an unfinished
# run), then eval.
run() {
    local name=$1 job=$2 module=$3 seed=$4 wd=$OUT/$1
    shift 4
    if [ -f "$wd/done" ]; then log "$name: done before"; return; fi
    local resume=()
    [ -f "$wd/checkpoint-last.h5" ] && resume=(--resume)
    log "$name: train (${resume[*]:-from scratch}), $EPOCHS epochs x repeat $REPEAT, step [$STEP], module $module, seed $seed${*:+, $*}"
    mkdir -p "$wd"
    "${MPIRUN[@]}" "$B/cocodiff-train" --config "$OUT/jobs/$job.yaml" --set work_dir="$wd" \
        --set train_feeder_args.data_path="$DATA" --set test_feeder_args.data_path="$DATA" \
        --set num_epoch="$EPOCHS" --set train_feeder_args.repeat="$REPEAT" --set step="[$STEP]" \
        --set warm_up_epoch="$WARMUP" --set eval_interval="$EVAL_INTERVAL" --set seed="$seed" --set log_interval=10 \
        --set cocodiff.threads="$THREADS" --set cocodiff.base_channel="$BASE" \
        --set cocodiff.module="$module" --set cocodiff.text="$TEXT" "$@" \
        "${resume[@]}" >> "$wd.log" 2>&1 || { log "$name: training failed (see $wd.log)"; return 1; }
    "${MPIRUN[@]}" "$B/cocodiff-eval" --checkpoint "$wd/checkpoint-last.h5" --data "$DATA" --out "$wd/eval" \
        >> "$wd.log" 2>&1 || { log "$name: eval failed (see $wd.log)"; return 1; }
    log "$name: $(grep -h 'eval | top-1' "$wd.log" | tail -1 | sed 's/^eval | //')"
    touch "$wd/done"
}

fail=0
for s in $SEEDS; do want joint-backbone && { run joint-backbone-s$s ucla-joint false "$s" || fail=1; }; done
for s in $SEEDS; do want joint-cocodiff && { run joint-cocodiff-s$s ucla-joint true "$s" "${MODULE_SET[@]}" || fail=1; }; done
for s in $SEEDS; do want bone-backbone && { run bone-backbone-s$s ucla-bone false "$s" || fail=1; }; done
if want ensemble; then
    for s in $SEEDS; do
        e=$OUT/ensemble-joint-bone-s$s
        [ -f "$e/metrics.json" ] && continue
        if [ -f "$OUT/joint-backbone-s$s/done" ] && [ -f "$OUT/bone-backbone-s$s/done" ]; then
            "$B/cocodiff-ensemble" --scores "$OUT/joint-backbone-s$s/eval/scores.h5" \
                --scores "$OUT/bone-backbone-s$s/eval/scores.h5" --out "$e" > "$e.log" 2>&1 &&
                log "ensemble-joint-bone-s$s: top-1 $(jq -r .top1 "$e/metrics.json")" || { log "ensemble s$s failed"; fail=1; }
        fi
    done
fi
log "ucla-runs: finished (status $fail); scripts/ucla-results.sh $OUT writes docs/results-ucla.md"
exit $fail
