#!/bin/bash
# scripts/experiment.sh (make experiment) - the CoCoDiff module's proof
# experiment: CTR-GCN alone vs CTR-GCN + CoCoDiff on the synthetic
# benchmark's X-Sub split (joint stream, the demo's data and model size),
# several seeds each, plus the ablation rows; writes docs/results.md with the
# table (mean and standard deviation of the final test top-1), the module's
# training cost per step, the diversity of its generated features, the exact
# command, commit and date.
# Knobs (environment): EXP_OUT (experiment-out), EXP_NP (2 ranks),
# EXP_SEEDS (3: backbone and full module), EXP_ABLATION_SEEDS (2),
# EXP_EPOCHS (6), EXP_ROWS (all: a space-separated subset of the row names),
# EXP_RESULTS (docs/results.md).
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
cd "$R"
OUT=${EXP_OUT:-experiment-out}
NP=${EXP_NP:-2}
SEEDS=${EXP_SEEDS:-3}
ASEEDS=${EXP_ABLATION_SEEDS:-2}
EPOCHS=${EXP_EPOCHS:-6}
RESULTS=${EXP_RESULTS:-docs/results.md}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe -np "$NP")
DATA=$OUT/prep/ntu60-xsub.h5
TEXT=$OUT/text/ntu60-glove.h5
t_start=$(date +%s)

# name|seeds|overrides (the full module's settings are the config defaults)
ROWS=(
    "backbone|$SEEDS|--set cocodiff.module=false"
    "cocodiff|$SEEDS|"
    "method-weights|$SEEDS|--set cocodiff.l_gen=0.5 --set cocodiff.l_coarse=0.5"
    "coarse-only|$ASEEDS|--set cocodiff.guidance=coarse"
    "fine-only|$ASEEDS|--set cocodiff.guidance=fine"
    "no-text|$ASEEDS|--set cocodiff.guidance=none --set cocodiff.l_coarse=0"
    "no-generation|$ASEEDS|--set cocodiff.generate=false"
)
declare -A LABEL=(
    [backbone]="CTR-GCN alone"
    [cocodiff]="CTR-GCN + CoCoDiff (defaults: fine + coarse guidance, generation, l_gen = l_coarse = 0.1)"
    [method-weights]="the same with docs/method.md's loss weights l_gen = l_coarse = 0.5"
    [coarse-only]="coarse text guidance only"
    [fine-only]="fine (body-part) text guidance only"
    [no-text]="no text (unconditional denoiser, no contrastive loss)"
    [no-generation]="no generation (no L_gen, no generated contrastive)"
)
want() { [ -z "${EXP_ROWS:-}" ] || [[ " $EXP_ROWS " == *" $1 "* ]]; }

mkdir -p "$OUT/text" "$(dirname "$RESULTS")"
if [ ! -f "$DATA" ]; then
    echo "== data: the demo's synthetic benchmark (1,600 NTU-format samples, seed 1)"
    bin/cocodiff-synth --format ntu --samples 1600 --seed 1 --out "$OUT/synth-ntu.zip"
    "${MPIRUN[@]}" bin/cocodiff-prep --dataset ntu60 --input "$OUT/synth-ntu.zip" --out "$OUT/prep"
fi
[ -f "$TEXT" ] || "${MPIRUN[@]}" bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out "$TEXT"

for row in "${ROWS[@]}"; do
    IFS='|' read -r name nseeds over <<< "$row"
    want "$name" || continue
    for ((s = 1; s <= nseeds; s++)); do
        wd=$OUT/$name/seed$s
        if [ -f "$wd/done" ]; then echo "== $name seed $s: done before ($wd)"; continue; fi
        mkdir -p "$OUT/$name"
        echo "== $name seed $s ($(date +%H:%M:%S))"
        # shellcheck disable=SC2086
        "${MPIRUN[@]}" bin/cocodiff-train --config jobs/synth-joint-cocodiff.yaml --set work_dir="$wd" \
            --set train_feeder_args.data_path="$DATA" --set test_feeder_args.data_path="$DATA" \
            --set cocodiff.text="$TEXT" --set seed=$s --set num_epoch="$EPOCHS" \
            --set step=[$((EPOCHS - 2))] --set eval_interval="$EPOCHS" $over > "$wd.log" 2>&1 \
            || { echo "experiment: $name seed $s failed; see $wd.log" >&2; tail -5 "$wd.log" >&2; exit 1; }
        grep -E "test top1|CoCoDiff module:|generated features" "$wd.log" | sed 's/^/   /'
        touch "$wd/done"
    done
done

# ---------------------------------------------------------------------------
# The table
top1() { jq -r 'select(.test_top1 != null) | .test_top1' "$1/metrics.jsonl" | tail -1; }
stats() {   # values on stdin -> "mean std n"
    awk '{ x[NR] = $1; s += $1 } END { m = s / NR; v = 0
        for (i = 1; i <= NR; i++) v += (x[i] - m) ^ 2
        printf "%.4f %.4f %d\n", m, (NR > 1 ? sqrt(v / (NR - 1)) : 0), NR }'
}
# paired ROW NSEEDS: "+d.dd (s.ss)" over the seeds both ROW and the backbone ran, in points
paired() {
    local s d=""
    [ "$1" != backbone ] || { echo "-"; return; }
    for ((s = 1; s <= $2; s++)); do
        if [ -f "$OUT/$1/seed$s/done" ] && [ -f "$OUT/backbone/seed$s/done" ]; then
            d+="$(awk -v a="$(top1 "$OUT/$1/seed$s")" -v b="$(top1 "$OUT/backbone/seed$s")" 'BEGIN { print a - b }') "
        fi
    done
    [ -n "$d" ] || { echo "-"; return; }
    printf '%s\n' $d | stats | awk '{ printf "%+.2f (%.2f, %d seeds)", 100 * $1, 100 * $2, $3 }'
}
# log_lines PREFIX MUST ROW...: "- ROW seed S: rest" for each run log line
# that starts with PREFIX and contains MUST
log_lines() {
    local prefix=$1 must=$2 name s l
    shift 2
    for name in "$@"; do
        for ((s = 1; s <= SEEDS; s++)); do
            l=$OUT/$name/seed$s.log
            [ -f "$l" ] || continue
            { grep -hF "$prefix" "$l" || true; } | { grep -F "$must" || true; } | sed "s#^$prefix#- $name seed $s: #"
        done
    done
}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
{
    echo "# CoCoDiff on the synthetic benchmark: measured results"
    echo
    echo "Written by \`make experiment\` (scripts/experiment.sh) on $(date -u +%Y-%m-%d) at commit $commit$dirty,"
    runs=0; secs=0
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name nseeds over <<< "$row"
        for ((s = 1; s <= nseeds; s++)); do
            l=$OUT/$name/seed$s.log
            [ -f "$OUT/$name/seed$s/done" ] || continue
            runs=$((runs + 1))
            secs=$(awk -v t="$secs" '/^train \| done: / { sub(/s$/, "", $NF); t += $NF } END { printf "%.0f", t }' "$l")
        done
    done
    echo "$(nproc) cores ($(uname -m)), $NP MPI ranks x 1 thread; the $runs runs trained for $((secs / 60)) min in all"
    echo "(their own \"done: ... in\" lines; this invocation took $(( ($(date +%s) - t_start) / 60 )) min, runs made before it are reused)."
    echo
    echo "Setting: the demo's synthetic benchmark (cocodiff-synth, 1,600 NTU-format samples, 29 classes"
    echo "with NTU60 ids; X-Sub split), joint stream, CTR-GCN base width 16, batch 16, $EPOCHS epochs"
    echo "(lr 0.1, 1 warm-up epoch, x0.1 at epoch $((EPOCHS - 2))), config jobs/synth-joint-cocodiff.yaml;"
    echo "text: GloVe + SIF embeddings of datasets/ntu60/descriptions.tsv. Top-1 is the final epoch's"
    echo "test accuracy (the test-mode feeder); std is the sample standard deviation over seeds."
    echo
    echo "Command: \`make experiment\` (knobs: EXP_SEEDS=$SEEDS EXP_ABLATION_SEEDS=$ASEEDS EXP_EPOCHS=$EPOCHS EXP_NP=$NP)"
    echo
    echo "| row | seeds | top-1 mean | std | per seed | minus the backbone, same seed: mean (std) |"
    echo "|---|---|---|---|---|---|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name nseeds over <<< "$row"
        vals=""
        for ((s = 1; s <= nseeds; s++)); do
            if [ -f "$OUT/$name/seed$s/done" ]; then vals+="$(top1 "$OUT/$name/seed$s") "; fi
        done
        [ -n "$vals" ] || continue
        read -r m sd n <<< "$(printf '%s\n' $vals | stats)"
        per=$(printf '%s\n' $vals | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), 100 * $1 }')
        printf '| %s (`%s`) | %d | %.2f%% | %.2f | %s | %s |\n' "${LABEL[$name]}" "${over:-defaults}" "$n" \
            "$(awk -v m="$m" 'BEGIN { print 100 * m }')" "$(awk -v s="$sd" 'BEGIN { print 100 * s }')" "$per" \
            "$(paired "$name" "$nseeds")"
    done
    if [ -f "$OUT/backbone/seed1/done" ] && [ -f "$OUT/cocodiff/seed1/done" ]; then
        echo
        echo "The last column pairs each run with the backbone run of the same seed (same initial backbone"
        echo "weights, same batches and augmentation), which removes most of the seed-to-seed spread."
        b=$(for ((s = 1; s <= SEEDS; s++)); do if [ -f "$OUT/backbone/seed$s/done" ]; then top1 "$OUT/backbone/seed$s"; fi; done | stats)
        c=$(for ((s = 1; s <= SEEDS; s++)); do if [ -f "$OUT/cocodiff/seed$s/done" ]; then top1 "$OUT/cocodiff/seed$s"; fi; done | stats)
        echo
        awk -v b="$b" -v c="$c" 'BEGIN { split(b, x, " "); split(c, y, " ")
            d = 100 * (y[1] - x[1]); sd = 100 * (x[2] > y[2] ? x[2] : y[2])
            printf "Full module minus backbone: %+.2f points top-1; the larger of the two standard deviations is %.2f, ", d, sd
            if (sd > 0 && d > 2 * sd) print "so the gain is more than two standard deviations (the target)."
            else print "so the gain is NOT more than two standard deviations (the target is not met)." }'
        pd=$(paired cocodiff "$SEEDS")
        echo
        echo "Paired by seed, the full module minus the backbone is $pd points;" \
            "$(echo "$pd" | awk '{ gsub(/[(,]/, " "); m = $1 + 0; sd = $2 + 0
                if (sd > 0 && m > 2 * sd) print "that gain is more than two standard deviations of the paired differences."
                else print "that is NOT a gain of more than two standard deviations of the paired differences." }')"
    fi
    echo
    echo "## Training cost of the module"
    echo
    echo "Per step, rank 0, as cocodiff-train reports it (module time / whole step):"
    echo
    log_lines "train | CoCoDiff module: " "ms of" cocodiff no-generation
    echo
    echo "Whole runs, backbone alone vs with the module (wall time includes the test evaluation and"
    echo "whatever else shared the machine, so compare the per-step shares above first):"
    echo
    log_lines "train | done: " "" backbone cocodiff
    echo
    echo "Inference: \`cocodiff-train --export\` keeps the backbone and head only, so parameters and FLOPs"
    echo "equal plain CTR-GCN's (tests/5400 checks the exported tensors bit for bit; make bench-eval"
    echo "prints the figures)."
    echo
    echo "## Diversity of the generated features"
    echo
    echo "After training, every test sample's pooled feature h_0 and one feature generated from its latent"
    echo "(noised to t_gen, denoised under its class text) are compared (cocodiff-train writes"
    echo "WORK_DIR/diversity.json and features.h5; cocodiff-report maps them). Means over the full module's seeds:"
    echo
    js=()
    for ((s = 1; s <= SEEDS; s++)); do
        if [ -f "$OUT/cocodiff/seed$s/diversity.json" ]; then js+=("$OUT/cocodiff/seed$s/diversity.json"); fi
    done
    if [ ${#js[@]} -gt 0 ]; then
        echo "| measure | real | generated |"
        echo "|---|---|---|"
        for pair in "within-class mean pairwise distance:real_pairwise_distance:generated_pairwise_distance" \
                    "within-class covariance trace:real_covariance_trace:generated_covariance_trace" \
                    "frozen head top-1:real_head_top1:generated_head_top1" \
                    "distance to the class's real centroid:real_to_centroid:generated_to_centroid"; do
            IFS=':' read -r what kr kg <<< "$pair"
            r=$(jq -s "map(.$kr) | add / length" "${js[@]}")
            g=$(jq -s "map(.$kg) | add / length" "${js[@]}")
            printf '| %s | %.4g | %.4g |\n' "$what" "$r" "$g"
        done
        printf '| generated whose nearest real class centroid is their class | | %.4g |\n' \
            "$(jq -s 'map(.generated_nearest_centroid_own) | add / length' "${js[@]}")"
        printf '| distance of a generated feature to its source sample | | %.4g |\n' \
            "$(jq -s 'map(.generated_to_source) | add / length' "${js[@]}")"
        echo
        echo "The report of seed 1 (\`bin/cocodiff-report --run $OUT/cocodiff/seed1 --out report.html\`) draws"
        echo "the generated features beside the real ones on the real features' PCA axes."
    else
        echo "(no full-module run finished)"
    fi
    if [ -f scripts/experiment-notes.md ]; then
        echo
        cat scripts/experiment-notes.md
    fi
} > "$RESULTS.partial"
mv "$RESULTS.partial" "$RESULTS"
echo "== experiment done: $RESULTS"
sed -n '/^| row/,/^$/p' "$RESULTS"
