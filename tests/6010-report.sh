#!/bin/sh
# 6010-report: cocodiff-report on a tiny run (2 epochs of a base_channel-8
# model on synthetic NTU data, evaluated, ensembled with itself): the page is
# one self-contained HTML file with the expected SVG figures, escaped text,
# well-formed SVG; a missing metrics file is exit 1; headless Chromium
# renders it to a non-blank PNG when chromium is installed.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
[ -x "$BIN/cocodiff-report" ] && [ -x "$BIN/cocodiff-ensemble" ] || skip_all "build first: make all"
plan 10

"$BIN/cocodiff-synth" --format ntu --samples 60 --seed 7 --out "$TMP/s.zip" > "$TMP/synth.log" 2>&1 &&
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP" > "$TMP/prep.log" 2>&1
ok $? "synthetic NTU60 prep file"
cat > "$TMP/c.yaml" <<YAML
work_dir: $TMP/wd
feeder: feeders.feeder_ntu.Feeder
model: model.ctrgcn.Model
train_feeder_args: {data_path: $TMP/ntu60-xsub.h5, window_size: 16, p_interval: [0.5, 1], random_rot: False}
test_feeder_args: {data_path: $TMP/ntu60-xsub.h5, window_size: 16, p_interval: [0.95]}
model_args: {num_class: 60, num_point: 25, num_person: 2, graph: graph.ntu_rgb_d.Graph}
base_lr: 0.1
step: [35]
warm_up_epoch: 0
batch_size: 8
test_batch_size: 16
num_epoch: 2
eval_interval: 1
cocodiff: {base_channel: 8}
YAML
"$BIN/cocodiff-train" --config "$TMP/c.yaml" > "$TMP/train.log" 2>&1 &&
"$BIN/cocodiff-eval" --checkpoint "$TMP/wd/checkpoint-last.h5" --data "$TMP/ntu60-xsub.h5" --out "$TMP/ej" > "$TMP/eval.log" 2>&1 &&
"$BIN/cocodiff-eval" --checkpoint "$TMP/wd/checkpoint-last.h5" --data "$TMP/ntu60-xsub.h5" --stream bone --out "$TMP/eb" >> "$TMP/eval.log" 2>&1 &&
"$BIN/cocodiff-ensemble" --scores "$TMP/ej/scores.h5" --scores "$TMP/eb/scores.h5" --out "$TMP/ens" > "$TMP/ens.log" 2>&1
ok $? "tiny run: 2 epochs, joint and bone evaluations, their ensemble"

i=0; while [ $i -lt 60 ]; do echo "class <$i> & \"co\""; i=$((i + 1)); done > "$TMP/names.txt"
"$BIN/cocodiff-report" --run "$TMP/wd" --eval "$TMP/ej" --eval "$TMP/eb" --ensemble "$TMP/ens" \
    --class-names "$TMP/names.txt" --out "$TMP/report.html" > "$TMP/report.log" 2>&1
ok $? "cocodiff-report: exit 0"
H=$TMP/report.html
[ ! -e "$H.partial" ] && grep -q '^<!DOCTYPE html>' "$H" && ! grep -qi '<script\|src="http\|href="http' "$H"
ok $? "one self-contained HTML file (no scripts, no external references, no .partial)"
is "13" "$(grep -o '<svg ' "$H" | wc -l | tr -d ' ')" \
   "13 SVG figures: 3 training curves + ensemble gain + 3 x (heat map, bars, PCA map) x (ensemble, 2 evals)"
grep -q 'Loss per epoch' "$H" && grep -q 'Top-1 accuracy per epoch' "$H" && grep -q 'Learning rate per epoch' "$H" &&
    grep -q 'Confusion matrix' "$H" && grep -q 'Per-class accuracy' "$H" && grep -q 'PCA map' "$H" &&
    grep -q 'each stream and the ensemble' "$H" && grep -q '<path fill="none"' "$H" && grep -q '<circle ' "$H" &&
    grep -q 'class="legend"' "$H"
ok $? "curves (paths), heat map, bars, PCA map (circles, legend), ensemble gain"
grep -q 'class &lt;[0-9]*&gt; &amp; &quot;co&quot;' "$H" && ! grep -q 'class <' "$H"   # (a class with test samples: those without are left out)
ok $? "class names are escaped"
bad=0; n=0
if command -v xmllint > /dev/null; then
    awk -v d="$TMP" '/<svg /{f=1; n++} f{print > (d "/fig" n ".svg")} /<\/svg>/{f=0}' "$H"
    for f in "$TMP"/fig*.svg; do n=$((n + 1)); xmllint --noout "$f" 2>> "$TMP/xml.log" || bad=$((bad + 1)); done
    [ $bad -eq 0 ] && [ $n -eq 13 ]; ok $? "every SVG is well-formed XML ($n checked, $bad bad)"
else
    skip 1 "xmllint not installed"
fi
"$BIN/cocodiff-report" --run "$TMP/nothing" --out "$TMP/x.html" > "$TMP/x.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "nothing/metrics.jsonl" "$TMP/x.log" && [ ! -e "$TMP/x.html" ]
ok $? "missing metrics file: exit 1 naming it, no page (rc $rc)"

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$TMP/chrome" \
        --screenshot="$TMP/report.png" --window-size=1200,2000 "file://$H" > "$TMP/chrome.log" 2>&1
    size=$(wc -c < "$TMP/report.png" 2>/dev/null || echo 0)
    [ "$size" -gt 20000 ]; ok $? "headless Chromium renders a non-blank PNG ($size bytes)"
    [ -n "${COCODIFF_REPORT_PNG:-}" ] && cp "$TMP/report.png" "$COCODIFF_REPORT_PNG" && cp "$H" "${COCODIFF_REPORT_PNG%.png}.html"
else
    skip 1 "chromium is not installed (apt-get install chromium to render the page)"
fi
done_testing
