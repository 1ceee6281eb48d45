#!/bin/bash
# 7050-slurm-wired: the pipeline wired end to end on a real single-node Slurm
# cluster, the way a user on a cluster runs it (issue 14, points 5-7): the
# programs installed with `make install PREFIX=...`, and
# PREFIX/bin/cocodiff-submit-pipeline run from a folder outside the
# repository, options after the config stem. It submits prep (a synthetic
# NTU zip) and embed (the shipped datasets/ntu60 descriptions, found by the
# installed cocodiff-embed), trains two streams with the CoCoDiff module on
# prep's output file and embed's text (nothing in the configs names them),
# evaluates, fuses and writes the report. The environment hook
# (--env: COCODIFF_ENV) runs in every job, job names carry the experiment's
# name, and training's CPUs per task are its BLAS threads (--train-cpus 2:
# cocodiff.threads 2), evaluation's its --threads.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 14
P=$TMP/prefix
# The version `make` built with, as in 0210: -o build/version.h made make
# rebuild cli.o and relink every program under the tests running alongside
# after a commit (8000: "could not access or execute bin/cocodiff-embed").
v=$(sed -n 's/.*CD_VERSION "\(.*\)"/\1/p' "$REPO/build/version.h" 2>/dev/null)
make -s -C "$REPO" ${v:+CD_VERSION="$v"} install PREFIX="$P" > "$TMP/install.log" 2>&1 ||
    { echo "Bail out! make install failed (see $TMP/install.log)"; exit 1; }
U=$TMP/user && mkdir -p "$U" && cd "$U" || exit 1
"$P/bin/cocodiff-synth" --format ntu --samples 120 --seed 3 --out raw/s.zip --quiet > synth.log 2>&1 ||
    { echo "Bail out! synth failed"; exit 1; }
# The user's configs: data_path names only the file prep will write.
train_config base.yaml "$U/unused"
sed -i "s|$TMP/ntu60-xsub.h5|data/ntu60-xsub.h5|" base.yaml
train_module base.yaml unused-text.h5
for s in "joint False" "bone True"; do
    set -- $s
    awk -v b="$2" '{ print } /^  data_path:/ { print "  bone: " b }' base.yaml > "exp-$1.yaml"
done
cat > site-env.sh <<'EOF'
# what a site puts here: module load openmpi hdf5 openblas
echo "site-env: sourced by ${SLURM_JOB_NAME:-?}"
EOF
t0=$(date +%s)
"$P/bin/cocodiff-submit-pipeline" exp --out runs/exp --name wired --streams joint,bone \
    --prep "ntu60 prepped raw/s.zip" --embed datasets/ntu60/descriptions.tsv --env site-env.sh \
    --ntasks 1 --train-cpus 2 --eval-cpus 2 --train-mem 2G --set num_epoch=1 --set eval_interval=1 \
    > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "cocodiff-submit-pipeline (installed) from outside the repository, options after the stem"
stage_id() { awk -v s="$1" '$1 == s { print $2 }' "$TMP/submit.out"; }
all="$(stage_id prep) $(stage_id embed) $(stage_id train) $(stage_id eval) $(stage_id ensemble) $(stage_id report)"
[ "$(echo $all | wc -w)" = 6 ]
ok $? "six stages submitted: prep embed train eval ensemble report ($all)"
SLURM_WAIT_S=240 slurm_wait $all
ok $? "every job left the queue ($(( $(date +%s) - t0 )) s)"
st=""; for j in $all; do st="$st $(slurm_state "$j")"; done
is " COMPLETED COMPLETED COMPLETED COMPLETED COMPLETED COMPLETED" "$st" "every stage COMPLETED"
is "wired-prep wired-embed wired-train wired-eval wired-ensemble wired-report" \
    "$(for j in $all; do slurm_field "$j" JobName; done | tr '\n' ' ' | sed 's/ $//')" "job names carry the experiment's name"
[ -s prepped/ntu60-xsub.h5 ] && [ -s runs/exp/text/ntu60-glove.h5 ]
ok $? "prep wrote prepped/ntu60-xsub.h5, embed runs/exp/text/ntu60-glove.h5 (named after the dataset)"
grep -q "data_path: '\?$U/prepped/ntu60-xsub.h5" runs/exp/exp-joint/config.yaml
ok $? "training read prep's output (its config.yaml)"
grep -q "text: '\?$U/runs/exp/text/ntu60-glove.h5" runs/exp/exp-joint/config.yaml &&
    grep -q "CoCoDiff module: .* text $U/runs/exp/text/ntu60-glove.h5" runs/exp/logs/wired-train-"$(stage_id train)"_0.out
ok $? "and trained the CoCoDiff module with embed's output as cocodiff.text"
grep -q "from $P/share/cocodiff/datasets/ntu60/descriptions.tsv" runs/exp/logs/wired-embed-"$(stage_id embed)".out
ok $? "the embed job found the shipped descriptions next to the installed programs"
n=0; for f in runs/exp/logs/*.out; do grep -q "^site-env: sourced by wired-" "$f" && n=$((n + 1)); done
is 8 $n "the environment hook ran in every job (8 logs: 6 jobs, 2 array tasks each for train and eval)"
grep -q "1 rank(s) x 2 thread(s)" runs/exp/logs/wired-train-"$(stage_id train)"_0.out &&
    [ "$(slurm_field "$(stage_id train)" MinCPUsNode)" = 2 ]
ok $? "train: --cpus-per-task 2 and cocodiff.threads 2"
grep -q "1 rank(s) x 2 thread(s)" runs/exp/logs/wired-eval-"$(stage_id eval)"_0.out
ok $? "eval: --cpus-per-task 2 and --threads 2"
[ "$(slurm_field "$(stage_id train)" MinMemoryNode)" = 2G ]
ok $? "train: --train-mem 2G"
grep -q '"top1"' runs/exp/ensemble/metrics.json && grep -q "<svg" runs/exp/report.html
ok $? "the ensemble and the report (runs/exp/report.html) at the end"
[ "$_tap_fail" = 0 ] || { diag "submit: $(cat "$TMP/submit.out" "$TMP/submit.err")"; tail -n 5 runs/exp/logs/*.out >&2; }
cd / && done_testing
