#!/bin/bash
# 6030-run-builds: scripts/run-builds.sh, how the results writers
# (experiment.sh, ucla-results.sh) name the builds that trained a table's
# runs, on a fake tree of work dirs: the "build" of a run's metrics.jsonl
# lines (two when a resume changed it, in order), the build column of
# cocodiff-frozen's heads.tsv, "build not recorded" for runs from before
# builds were kept (never a guess), and one line per group of seeds with
# their numbers as ranges; BUILDS_FILE=diversity.json reads the build that
# measured a run's probe figures; a path with a space; without jq the
# file refuses to load rather than call every run "build not recorded".
. "$(dirname "$0")/tap/tap.sh"
command -v jq > /dev/null || skip_all "jq not installed"
. "$REPO/scripts/run-builds.sh"
plan 11
cd "$TMP" || exit 1
A=0.1.0+gaaaaaaa B=0.1.0+gbbbbbbb-dirty
line() { printf '{"epoch":%d,"step":%d,"time_s":1.5%s,"test_top1":0.5}\n' "$1" "$((4 * $1))" "${2:+,\"build\":\"$2\"}"; }
for s in 1 2 3 5; do mkdir -p m/seed$s && { line 1 $A; line 2 $A; } > m/seed$s/metrics.jsonl; done
mkdir -p m/seed4 m/seed6 && { line 1; line 2; } > m/seed4/metrics.jsonl && { line 1 $A; line 2 $B; } > m/seed6/metrics.jsonl
mkdir -p m/seed7 && { line 1; line 2 $B; } > m/seed7/metrics.jsonl
mkdir -p f/seed1 f/seed2 empty/seed1
printf 'seed\textra\tepochs\ttop1\tbuild\n1\tnone\t30\t0.5\t%s\n2\tnone\t30\t0.6\t%s\n' $B $B > f/seed1/heads.tsv
printf 'seed\textra\tepochs\ttop1\n1\tnone\t30\t0.5\n' > f/seed2/heads.tsv

is "$A" "$(run_builds m/seed1)" "a run of one build: that build"
is "$A + $B" "$(run_builds m/seed6)" "resumed by another build: both, in the order they trained it"
is "build not recorded|build not recorded + $B|build not recorded" "$(run_builds m/seed4)|$(run_builds m/seed7)|$(run_builds empty/seed1)" \
    "metrics lines without a build, or no record at all: 'build not recorded'"
is "$B|build not recorded" "$(run_builds f/seed1)|$(run_builds f/seed2)" "cocodiff-frozen's heads.tsv: its build column, or none"
is "module: build $A (seeds 1-3, 5), build not recorded (seed 4), build $A + $B (seed 6), build not recorded + $B (seed 7)" \
    "$(builds_of module seed m/seed1 m/seed2 m/seed3 m/seed4 m/seed5 m/seed6 m/seed7)" \
    "a group: seeds grouped by build, numbers as ranges, in the order the builds first appear"
mkdir -p k/fold0 k/fold1 k/fold2 && for k in 0 1 2; do line 1 $B > k/fold$k/metrics.jsonl; done
is "backbone: build $B (folds 0-2)" "$(builds_of backbone fold k/fold0 k/fold1 k/fold2)" "folds: named by their numbers"
mkdir -p u && cp -r m/seed1 u/joint-backbone-s1 && cp -r m/seed4 u/joint-backbone-s2
is "joint: build $A (seed 1), build not recorded (seed 2)" "$(builds_of joint seed u/joint-backbone-s1 u/joint-backbone-s2)" \
    "folders named as ucla-runs.sh names them (joint-backbone-s2)"
is "" "$(builds_of nothing seed)" "no runs: no line"
echo "{\"build\": \"$B\"}" > m/seed1/diversity.json
is "probe: build $B (seed 1), build not recorded (seed 2)" "$(BUILDS_FILE=diversity.json builds_of probe seed m/seed1 m/seed2)" \
    "BUILDS_FILE=diversity.json: the build that measured the figures (none there: not recorded)"
mkdir -p "my runs/seed8" && line 1 $A > "my runs/seed8/metrics.jsonl"
is "run: build $A (seed 8)" "$(builds_of run seed "my runs/seed8")" "a folder whose path has a space"
# Without jq: sourcing fails, saying so (a run is never called "build not recorded" for want of jq).
mkdir nojq && for c in bash awk basename; do ln -s "$(command -v $c)" nojq/; done
out=$(PATH=$TMP/nojq bash -c '. "$1" && run_builds m/seed1; echo "rc $?"' _ "$REPO/scripts/run-builds.sh" 2>&1)
is "scripts/run-builds.sh: needs jq (it reads each run's builds)|rc 2" "$(echo "$out" | paste -sd'|')" "jq missing: sourcing fails with a message"
cd / && done_testing
