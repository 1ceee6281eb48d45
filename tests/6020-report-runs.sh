#!/bin/bash
# 6020-report-runs: cocodiff-report as a CTR-GCN user reads it (issue 14,
# point 10): several runs (two seeds) overlaid in the training curves and
# tabled, each with the build that trained it (metrics.jsonl's "build");
# classes without test samples left out of the per-class bars and of
# the confusion matrix; a table of the most confused pairs with their counts
# (checked against the evaluation's confusion matrix); every accuracy in %;
# a table of contents whose links all lead to a section.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v jq > /dev/null || skip_all "jq not installed"
plan 11
train_data
cd "$TMP" || exit 1
B=$REPO/bin
for s in 1 2; do
    train_config c$s.yaml "$TMP/seed$s"
    "$TRAIN" --config c$s.yaml --set seed=$s --set num_epoch=2 > t$s.log 2>&1 || { echo "Bail out! training failed"; exit 1; }
done
"$B/cocodiff-eval" --checkpoint seed1/checkpoint-last.h5 --data ntu60-xsub.h5 --out ev > ev.log 2>&1 &&
    "$B/cocodiff-report" --run seed1 --run seed2 --eval ev --out r.html > r.log 2>&1
ok $? "two runs and an evaluation into one report"
H=r.html

grep -q '<td style="color:[^"]*"><b>seed1</b>' $H && grep -q '<td style="color:[^"]*"><b>seed2</b>' $H
ok $? "a table row per run"
v=$("$TRAIN" --version | sed 's/^cocodiff-train //')
is 2 "$(grep -c "<td style=\"color:[^\"]*\"><b>seed[12]</b>.*<td>$v</td></tr>" $H)" "each run's row names its build ($v)"
# the longest --version string the Makefile lets through: a 32-character VERSION, a full commit, -dirty
L="0.1.0-abcdefghijklmnopqrstuvwxyz+g$(printf 'a%.0s' {1..40})-dirty"
mkdir long && jq -c --arg b "$L" '.build = $b' seed1/metrics.jsonl > long/metrics.jsonl &&
    "$B/cocodiff-report" --run long --out long.html > long.log 2>&1 && grep -q "<td>$L</td></tr>" long.html
ok $? "a build of ${#L} characters (the longest there is) is named whole"
grep -q '<title>seed1 test top-1</title>' $H && grep -q '<title>seed2 test top-1</title>' $H &&
    grep -q '<title>seed1 train</title>' $H && grep -q '<title>seed2 train</title>' $H
ok $? "both runs' curves overlaid (test top-1, loss) in the same charts"

with=$(jq '[.class_count[] | select(. > 0)] | length' ev/metrics.json)
grep -q "Per-class accuracy, worst first (joint stream; $with classes with test samples, the others left out)" $H
ok $? "per-class bars: the $with classes with test samples only"
is "$with" "$(awk '/Per-class accuracy, worst first \(joint/,/<\/svg>/' $H | grep -c '<rect x=')" \
    "one bar per class with test samples"

# The largest off-diagonal cell of the confusion matrix is the first pair.
want=$(jq -r '.class_names as $n | .class_count as $c | [.confusion | to_entries[] | .key as $t | .value | to_entries[]
        | select(.key != $t and .value > 0) | {t: $t, p: .key, c: .value}] | sort_by(-.c, .t, .p) | .[0]
        | "\($n[.t])|\($n[.p])|\(.c)|\(100 * .c / $c[.t] * 100 | round / 100)"' ev/metrics.json)
got=$(awk '/Most confused pairs \(joint/{f=1} f && /<tr><td>/{print; exit}' $H |
      sed 's/<tr><td>//; s/<\/td><td>/|/g; s/<\/td><\/tr>//; s/%$//; s/&amp;/\&/g' |
      awk -F'|' '{ printf "%s|%s|%s|%s", $1, $2, $3, $4 + 0 }')
is "$want" "$got" "the most confused pair, its count and its share of the true class, as the confusion matrix has them ($got)"

grep -q '>top-1 (%)<' $H && ! grep -q '>accuracy<' $H
ok $? "accuracy axes in %"
nav=$(sed -n '/<nav id="contents">/,/<\/nav>/p' $H | grep -o 'href="#[a-z0-9]*"' | sed 's/href="#//; s/"//' | tr '\n' ' ')
missing=""; for id in $nav; do grep -q "id=\"$id\"" $H || missing="$missing $id"; done
[ -n "$nav" ] && [ -z "$missing" ]
ok $? "a table of contents ($nav) whose links all lead to a section"
grep -q 'href="#training"' $H && grep -q 'href="#eval0"' $H
ok $? "it lists the training and the evaluation"
cd / && done_testing
