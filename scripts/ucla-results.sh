#!/bin/bash
# scripts/ucla-results.sh OUT [RESULTS] - writes RESULTS (docs/results-ucla.md)
# from the runs scripts/ucla-runs.sh made in OUT: the command, commit and
# schedule (OUT/run-info), the builds that trained the runs (read from the
# runs, scripts/run-builds.sh), per seed the final and best test top-1 of the
# joint stream (metrics.jsonl: the test evaluation of each epoch), the
# cocodiff-eval top-1 of the last checkpoint, training time and training
# samples/s, next to the published CTR-GCN figure; the bone stream and the
# joint+bone ensemble; the CoCoDiff module paired by seed with the backbone
# (per-seed differences, mean, paired t-test). Runs still going or missing
# are listed as such; the module's text-conditioning probe per seed (its
# diversity.json), and scripts/ucla-notes.md (earlier runs kept by hand)
# verbatim at the end. Needs jq.
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: scripts/ucla-results.sh OUT [RESULTS]" >&2; exit 2; }
OUT=$(cd "$1" && pwd)
RESULTS=${2:-$R/docs/results-ucla.md}
[ -f "$OUT/run-info" ] || { echo "ucla-results: $OUT/run-info missing (not a scripts/ucla-runs.sh folder)" >&2; exit 2; }
info() { sed -n "s/^$1 //p" "$OUT/run-info" | head -1; }
. "$R/scripts/run-builds.sh"
# builds_runs LABEL PREFIX: builds_of over the seeds' runs OUT/PREFIX-sSEED that started
builds_runs() {
    local s ds=()
    for s in $SEEDS; do [ ! -f "$OUT/$2-s$s/metrics.jsonl" ] || ds+=("$OUT/$2-s$s"); done
    builds_of "$1" seed "${ds[@]}"
}
EPOCHS=$(info epochs) REPEAT=$(info repeat) STEP=$(info step) WARMUP=$(info warmup)
NP=$(info np) THREADS=$(info threads) BASE=$(info base)
SPE=$((1020 * REPEAT / 16))   # steps an epoch (drop_last)
FULL_SAMPLES=$((65 * (1020 * 5 / 16) * 16))   # the official recipe: 65 x 318 steps of 16
SEEDS=$(ls -d "$OUT"/joint-backbone-s*/ 2>/dev/null | sed 's#/$##; s/.*-s//' | sort -n | tr '\n' ' ')
# the command with the seeds found: run-info keeps the first invocation's
# UCLA_SEEDS, and later invocations may have added seeds to OUT
run_command() { info command | sed "s/UCLA_SEEDS=\"[^\"]*\"/UCLA_SEEDS=\"${SEEDS% }\"/"; }

# --- per run -------------------------------------------------------------------
m() { echo "$OUT/$1/metrics.jsonl"; }
state() { [ -f "$OUT/$1/done" ] && echo done || { [ -f "$(m "$1")" ] && echo running || echo missing; }; }
final() { jq -r 'select(.test_top1 != null) | "\(.test_top1) \(.epoch)"' "$(m "$1")" | tail -1; }
best() { jq -rs 'map(select(.test_top1 != null)) | max_by(.test_top1) | "\(.test_top1) \(.epoch)"' "$(m "$1")"; }
evaltop1() { [ -f "$OUT/$1/eval/metrics.json" ] && jq -r .top1 "$OUT/$1/eval/metrics.json" || echo NA; }
# training time: from metrics.jsonl, whose time_s is the seconds since that
# invocation of cocodiff-train started (training and test evaluations): the
# last time_s of each invocation (time_s falls where a resumed one begins),
# summed. Not the "done" lines: a stopped invocation never logs its total;
# the part of an epoch a stop threw away is not counted.
wall() { jq -s 'map(.time_s // 0) | reduce .[] as $t ({t: 0, p: 0}; if $t < .p then {t: (.t + .p), p: $t} else {t, p: $t} end) | .t + .p | floor' "$(m "$1")" 2>/dev/null || echo 0; }
# training samples/s: the median of the logged rates (a rate logged right
# after a test evaluation includes it; the median leaves those out)
rate() {
    grep -o '[0-9.]* samples/s' "$OUT/$1.log" | awk '{ print $1 }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "NA" }'
}
pct() { awk -v x="$1" 'BEGIN { if (x == "NA" || x == "") print "NA"; else printf "%.2f%%", 100 * x }'; }
hm() { awk -v s="$1" 'BEGIN { printf "%dh%02dm", s / 3600, s % 3600 / 60 }'; }
# mean and sample std of the values on stdin: "mean std n"
stats() { awk '{ x[NR] = $1; s += $1 } END { if (!NR) { print "NA NA 0"; exit } m = s / NR; v = 0
    for (i = 1; i <= NR; i++) v += (x[i] - m) ^ 2; printf "%.6f %.6f %d\n", m, (NR > 1 ? sqrt(v / (NR - 1)) : 0), NR }'; }
# two-sided p of a paired t-test on the differences on stdin (Student t, n - 1 df)
ttest_p() {
    awk 'function gammln(z,  x, t, s, j, c) { split("76.18009172947146 -86.50532032941677 24.01409824083091 -1.231739572450155 0.001208650973866179 -0.000005395239384953", c, " ")
             x = z; t = x + 5.5; t -= (x + 0.5) * log(t); s = 1.000000000190015
             for (j = 1; j <= 6; j++) s += c[j] / ++z; return -t + log(2.5066282746310005 * s / x) }
         function betacf(a, b, x,  m, m2, aa, c, d, del, h, qab, qam, qap) {
             qab = a + b; qap = a + 1; qam = a - 1; c = 1; d = 1 - qab * x / qap; if (d < 1e-30 && d > -1e-30) d = 1e-30
             d = 1 / d; h = d
             for (m = 1; m <= 300; m++) { m2 = 2 * m
                 aa = m * (b - m) * x / ((qam + m2) * (a + m2)); d = 1 + aa * d; if (d < 1e-30 && d > -1e-30) d = 1e-30
                 c = 1 + aa / c; if (c < 1e-30 && c > -1e-30) c = 1e-30; d = 1 / d; h *= d * c
                 aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)); d = 1 + aa * d; if (d < 1e-30 && d > -1e-30) d = 1e-30
                 c = 1 + aa / c; if (c < 1e-30 && c > -1e-30) c = 1e-30; d = 1 / d; del = d * c; h *= del
                 if (del - 1 < 3e-12 && del - 1 > -3e-12) break }
             return h }
         function betai(a, b, x,  bt) { if (x <= 0) return 0; if (x >= 1) return 1
             bt = exp(gammln(a + b) - gammln(a) - gammln(b) + a * log(x) + b * log(1 - x))
             return x < (a + 1) / (a + b + 2) ? bt * betacf(a, b, x) / a : 1 - bt * betacf(b, a, 1 - x) / b }
         { x[NR] = $1; s += $1 }
         END { n = NR; if (n < 2) { print "NA"; exit } mu = s / n; v = 0
             for (i = 1; i <= n; i++) v += (x[i] - mu) ^ 2; sd = sqrt(v / (n - 1))
             if (sd == 0) { print (mu == 0 ? 1 : 0); exit }
             t = mu / (sd / sqrt(n)); df = n - 1; printf "%.3g\n", betai(df / 2, 0.5, df / (df + t * t)) }'
}

# run_row NAME SEED: "| seed | final (epoch) | best (epoch) | eval | wall | samples/s |"
run_row() {
    local n=$1 st f b
    st=$(state "$n")
    if [ "$st" = missing ]; then printf '| %s | not run | | | | |\n' "$2"; return; fi
    f=$(final "$n"); b=$(best "$n")
    printf '| %s%s | %s (epoch %s) | %s (epoch %s) | %s | %s | %s |\n' "$2" "$([ "$st" = running ] && echo ' (running)')" \
        "$(pct "${f% *}")" "${f#* }" "$(pct "${b% *}")" "${b#* }" "$(pct "$(evaltop1 "$n")")" "$(hm "$(wall "$n")")" "$(rate "$n")"
}

joint_rates=$(for s in $SEEDS; do if [ "$(state joint-backbone-s$s)" != missing ]; then rate joint-backbone-s$s; fi; done | { grep -v NA || true; } | stats)
jrate=$(echo "$joint_rates" | awk '{ print $1 }')
mkdir -p "$(dirname "$RESULTS")"
{
    echo "# CTR-GCN on NW-UCLA: measured results"
    echo
    echo "Written by \`scripts/ucla-results.sh\` on $(date -u +%Y-%m-%d) from the runs of \`scripts/ucla-runs.sh\`"
    echo "(one work folder per run; each trained with \`cocodiff-train\`, then its last checkpoint evaluated"
    echo "with \`cocodiff-eval\` on the test split)."
    echo
    echo "- Command: \`$(run_command)\`"
    echo "- Commit: $(info commit) (the checkout the programs were copied from; their build: $(info build | grep . || echo 'not in run-info'))"
    echo "- Builds, as the runs recorded them: $(for g in "joint, backbone:joint-backbone" "joint, module:joint-cocodiff" \
        "bone, backbone:bone-backbone"; do builds_runs "${g%%:*}" "${g#*:}"; done | sed '$!s/$/;/' | tr '\n' ' ' | sed 's/ $//')"
    echo "- Machine: $(info machine); $NP MPI ranks x $THREADS thread(s), shared with other work while it ran"
    echo "- Data: the NW-UCLA archive all_sqe.zip (sha256 $(info archive)), \`cocodiff-prep --dataset ucla\`:"
    echo "  views 1 and 2 train (1,020 sequences), view 3 test (464), the official split and labels"
    echo "- Model: CTR-GCN as the official model/ctrgcn.py (graph.ucla.Graph, 20 joints, 1 person, base width $BASE),"
    echo "  the official feeder_ucla transforms (training: random view rotation, scale, sampled 52 frames;"
    echo "  test: 52 frames by np.linspace)"
    echo "- Schedule: **$EPOCHS epochs x repeat $REPEAT** ($SPE steps of batch 16 an epoch, $((SPE * EPOCHS)) in all),"
    echo "  lr 0.1 with $WARMUP warm-up epochs, x0.1 at epoch $STEP, SGD nesterov, weight decay 1e-4; test top-1"
    echo "  after every $(info eval_interval) epoch(s). The official recipe (config/ucla/default.yaml) is 65 epochs x"
    echo "  repeat 5 (318 steps an epoch, 20,670 in all)$([ "$REPEAT" = 5 ] && [ "$EPOCHS" = 65 ] && echo '' || echo ': this schedule is shorter')."
    echo
    echo "Published: CTR-GCN 96.5% top-1 on NW-UCLA (Chen et al., ICCV 2021), the **4-stream ensemble**"
    echo "(joint, bone, joint motion, bone motion) with the full recipe. The rows below are single streams"
    echo "(and a 2-stream ensemble)$([ "$REPEAT" = 5 ] && [ "$EPOCHS" = 65 ] || echo ' with the shorter schedule'), so they are not the"
    echo "published setting; they are what this pipeline measured."
    echo
    echo "## Joint stream, CTR-GCN alone"
    echo
    echo "| seed | final test top-1 | best test top-1 | cocodiff-eval, last checkpoint | training time (with its per-epoch tests) | training samples/s |"
    echo "|---|---|---|---|---|---|"
    for s in $SEEDS; do run_row joint-backbone-s$s "$s"; done
    fin=$(for s in $SEEDS; do if [ "$(state joint-backbone-s$s)" = done ]; then final joint-backbone-s$s | cut -d' ' -f1; fi; done | stats)
    bst=$(for s in $SEEDS; do if [ "$(state joint-backbone-s$s)" = done ]; then best joint-backbone-s$s | cut -d' ' -f1; fi; done | stats)
    echo "| mean (std) of finished | $(echo "$fin" | awk '{ if ($3) printf "%.2f%% (%.2f)", 100 * $1, 100 * $2; else print "NA" }') | $(echo "$bst" | awk '{ if ($3) printf "%.2f%% (%.2f)", 100 * $1, 100 * $2; else print "NA" }') | | | |"
    echo
    echo "\"Best\" is the maximum over the per-epoch test evaluations: it looks at the test split, so it is"
    echo "reported next to the final value (what CTR-GCN's logs call best), not instead of it."
    echo
    if [ -f "$R/models/ucla-joint-s1.h5" ]; then
        echo "A seed-1 joint model ships as [models/ucla-joint-s1.h5](../models/README.md), an exported inference"
        echo "checkpoint of an earlier build's run (models/README.md gives its run, commit and top-1, which"
        echo "tests/5034-ucla-model.sh requires exactly on the real test split)."
        echo
    fi
    if [ -n "$jrate" ] && [ "$jrate" != NA ]; then
        echo "Training rate: $(printf '%.1f' "$jrate") samples/s (median of the logged rates, $NP ranks x $THREADS thread(s)). The full"
        echo "recipe's 20,670 steps x 16 = $FULL_SAMPLES samples would take about" \
            "$(awk -v n="$FULL_SAMPLES" -v r="$jrate" 'BEGIN { printf "%.1f hours", n / r / 3600 }') of training at that rate"
        echo "(plus the test evaluations)."
        echo
    fi
    echo "## Bone stream and the joint + bone ensemble"
    echo
    echo "| seed | final test top-1 | best test top-1 | cocodiff-eval, last checkpoint | training time (with its per-epoch tests) | training samples/s |"
    echo "|---|---|---|---|---|---|"
    for s in $SEEDS; do run_row bone-backbone-s$s "$s"; done
    echo
    echo "| seed | joint (cocodiff-eval) | bone (cocodiff-eval) | joint + bone (\`cocodiff-ensemble\`, weights 1:1) |"
    echo "|---|---|---|---|"
    for s in $SEEDS; do
        e=$OUT/ensemble-joint-bone-s$s/metrics.json
        printf '| %s | %s | %s | %s |\n' "$s" "$(pct "$(evaltop1 joint-backbone-s$s)")" "$(pct "$(evaltop1 bone-backbone-s$s)")" \
            "$([ -f "$e" ] && pct "$(jq -r .top1 "$e")" || echo 'not run')"
    done
    echo
    echo "## The CoCoDiff module, paired by seed"
    echo
    mset=$(info module_set)
    if [ -n "$mset" ]; then
        echo "Joint stream, the same schedule, seed and batches; \`cocodiff.module: true\` with \`$mset\`"
        echo "(the setting chosen on the synthetic benchmark's folds, docs/results.md section 2) and the GloVe + SIF"
        echo "embeddings of datasets/ucla/descriptions.tsv (coarse + 6 body parts)."
    else
        echo "Joint stream, the same schedule, seed and batches; \`cocodiff.module: true\` with the module's"
        echo "defaults and the GloVe + SIF embeddings of datasets/ucla/descriptions.tsv (coarse + 6 body parts)."
    fi
    echo
    echo "| seed | backbone final | + CoCoDiff final | difference | backbone best | + CoCoDiff best | difference |"
    echo "|---|---|---|---|---|---|---|"
    dfin="" dbest=""
    for s in $SEEDS; do
        a=joint-backbone-s$s c=joint-cocodiff-s$s
        if [ "$(state $a)" = done ] && [ "$(state $c)" = done ]; then
            fa=$(final $a | cut -d' ' -f1) fc=$(final $c | cut -d' ' -f1) ba=$(best $a | cut -d' ' -f1) bc=$(best $c | cut -d' ' -f1)
            df=$(awk -v x="$fc" -v y="$fa" 'BEGIN { print x - y }') db=$(awk -v x="$bc" -v y="$ba" 'BEGIN { print x - y }')
            dfin+="$df " dbest+="$db "
            printf '| %s | %s | %s | %+.2f | %s | %s | %+.2f |\n' "$s" "$(pct "$fa")" "$(pct "$fc")" \
                "$(awk -v d="$df" 'BEGIN { print 100 * d }')" "$(pct "$ba")" "$(pct "$bc")" "$(awk -v d="$db" 'BEGIN { print 100 * d }')"
        else
            printf '| %s | %s | %s | | | | |\n' "$s" "$(state $a)" "$(state $c)"
        fi
    done
    if [ -n "$dfin" ]; then
        read -r mf sf nf <<< "$(printf '%s\n' $dfin | stats)"
        read -r mb sb nb <<< "$(printf '%s\n' $dbest | stats)"
        echo
        echo "Module minus backbone over $nf seed(s): final $(awk -v m="$mf" -v s="$sf" 'BEGIN { printf "%+.2f points (std %.2f)", 100 * m, 100 * s }'),"
        echo "paired t-test p = $(printf '%s\n' $dfin | ttest_p) (two-sided, $((nf - 1)) df); best"
        echo "$(awk -v m="$mb" -v s="$sb" 'BEGIN { printf "%+.2f points (std %.2f)", 100 * m, 100 * s }'), p = $(printf '%s\n' $dbest | ttest_p)."
        echo "With this few seeds the test has little power: a p above 0.05 says the runs do not show a"
        echo "difference, not that there is none."
        probe=$(for s in $SEEDS; do
            j=$OUT/joint-cocodiff-s$s/diversity.json
            [ -f "$j" ] && jq -r --arg s "$s" '.conditioning as $c | def p(x): if x == null then "NA" else "\(x * 1000 | round / 10)%" end;
                "| \($s) | \($c.module) | \(p($c.text.from_noise)) | \(p($c.text.steer)) | \(p($c.text.own_head_top1)) | \(p($c.real_head_top1)) | \(($c.text.own_head_top1 - $c.real_head_top1) * 1000 | round / 10 | if . > 0 then "+\(.)" else "\(.)" end) |"' "$j"
        done || true)   # (the last seed without diversity.json: not an error)
        if [ -n "$probe" ]; then
            echo
            echo "The module's text-conditioning probe at the end of training (the trainer's diversity.json, on the"
            echo "test split: docs/results.md section 1; the synthetic benchmark's targets are from noise >= 80%,"
            echo "steer >= 50%, own text within 5 points of real). Own text is generated under each test sample's"
            echo "own class text, which carries its label: where the head reads few real features right, the text"
            echo "alone lifts it (docs/results.md section 1, kept / fixed):"
            echo
            echo "| seed | module | from noise | steer | own text | real | own - real (points) |"
            echo "|---|---|---|---|---|---|---|"
            printf '%s\n' "$probe"
        fi
        cost=$(for s in $SEEDS; do grep -h 'CoCoDiff module: ' "$OUT/joint-cocodiff-s$s.log" 2>/dev/null | tail -1 | sed "s/^train | /seed $s: /"; done)
        if [ -n "$cost" ]; then
            echo
            echo "Module cost per training step (rank 0, as cocodiff-train reports it):"
            echo
            printf '%s\n' "$cost" | sed 's/^/- /'
        fi
    fi
    echo
    echo "## Reproduce"
    echo
    echo '```sh'
    echo "$(run_command | sed 's/ OUT$/ ucla-runs/')    # trains and evaluates every run (resumable)"
    echo "scripts/ucla-results.sh ucla-runs                                # writes this file"
    echo '```'
    echo
    echo "One run by hand: \`make ucla UCLA_ZIP=all_sqe.zip UCLA_EPOCHS=$EPOCHS UCLA_REPEAT=$REPEAT UCLA_STEP=$STEP UCLA_EVAL_INTERVAL=1\`."
    # notes kept by hand (earlier runs whose folders are gone), verbatim
    if [ -f "$R/scripts/ucla-notes.md" ]; then
        echo
        cat "$R/scripts/ucla-notes.md"
    fi
} > "$RESULTS.partial"
mv "$RESULTS.partial" "$RESULTS"
echo "ucla-results: wrote $RESULTS"
