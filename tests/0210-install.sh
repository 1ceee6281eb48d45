#!/bin/bash
# 0210-install: `make install PREFIX=DIR` and the shipped data found from
# anywhere (issue 14, point 5). Installs into a temporary prefix and runs the
# installed programs from a folder that is not the repository: the README's
# embed command (descriptions and the GloVe subset found in
# DIR/share/cocodiff), cocodiff-synth's default classes, and a training step
# with the CoCoDiff module (its default part file). --data-dir and
# COCODIFF_HOME point at another data folder; a file that is nowhere is an
# error naming every place tried.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 12
P=$TMP/prefix
# The version `make` built with (build/version.h) given on the command line:
# nothing is rewritten for a newer commit, so nothing is relinked under the
# programs other tests are running; installs what `make` built. (-o
# build/version.h did the opposite: make then rebuilt cli.o and relinked
# every program on each run, and tests/0200 running at the same time got
# "Permission denied" on a half-written binary.)
v=$(sed -n 's/.*CD_VERSION "\(.*\)"/\1/p' "$REPO/build/version.h" 2>/dev/null)
make -s -C "$REPO" ${v:+CD_VERSION="$v"} install PREFIX="$P" > "$TMP/install.log" 2>&1
ok $? "make install PREFIX=... (log: $(tail -1 "$TMP/install.log"))"
missing=""
for f in bin/cocodiff-train bin/cocodiff-eval bin/cocodiff-submit-pipeline bin/cocodiff-convert-ctrgcn \
         share/cocodiff/datasets/glove/glove-6b-100d-subset.bin share/cocodiff/datasets/parts/ntu25.tsv \
         share/cocodiff/datasets/ntu60/descriptions.tsv share/cocodiff/slurm/train.sbatch \
         share/cocodiff/jobs/mpi-run.sh share/cocodiff/bin/cocodiff-train; do
    [ -e "$P/$f" ] || missing="$missing $f"
done
is "" "$missing" "programs, Slurm scripts, job scripts and shipped data are installed"

mkdir -p "$TMP/elsewhere" && cd "$TMP/elsewhere" || exit 1
env -u COCODIFF_HOME "$P/bin/cocodiff-embed" --descriptions datasets/ntu60/descriptions.tsv --out text/ntu60-glove.h5 \
    > embed.log 2>&1
ok $? "the README's embed command from an unrelated folder"
grep -q "from $P/share/cocodiff/datasets/ntu60/descriptions.tsv" embed.log
ok $? "it names the installed descriptions file it used"
env -u COCODIFF_HOME "$P/bin/cocodiff-synth" --format ntu --samples 40 --seed 3 --out s.zip > synth.log 2>&1 &&
    grep -q "classes from $P/share/cocodiff/datasets/synth/actions.json" synth.log
ok $? "cocodiff-synth finds its default classes in share/cocodiff"
"$P/bin/cocodiff-prep" --dataset ntu60 --input s.zip --out prep > prep.log 2>&1
train_config c.yaml "$TMP/elsewhere/work"
sed -i "s|$TMP/ntu60-xsub.h5|prep/ntu60-xsub.h5|" c.yaml
train_module c.yaml text/ntu60-glove.h5
env -u COCODIFF_HOME "$P/bin/cocodiff-train" --config c.yaml --max-steps 1 > train.log 2>&1
ok $? "cocodiff-train with the CoCoDiff module: the default part file found in share/cocodiff"

# --data-dir and COCODIFF_HOME: another data folder, looked up after the current one.
mkdir -p "$TMP/mydata/datasets/custom" &&
    head -3 "$REPO/datasets/ntu60/descriptions.tsv" > "$TMP/mydata/datasets/custom/descriptions.tsv"
cp -R "$REPO/datasets/glove" "$TMP/mydata/datasets/"
"$P/bin/cocodiff-embed" --data-dir "$TMP/mydata" --descriptions datasets/custom/descriptions.tsv --out c1.h5 > c1.log 2>&1 &&
    grep -q "from $TMP/mydata/datasets/custom/descriptions.tsv" c1.log
ok $? "--data-dir DIR: datasets/... found in DIR"
COCODIFF_HOME=$TMP/mydata "$P/bin/cocodiff-embed" --descriptions datasets/custom/descriptions.tsv --out c2.h5 > c2.log 2>&1
ok $? "COCODIFF_HOME=DIR does the same"
COCODIFF_HOME=$TMP/mydata "$P/bin/cocodiff-embed" --descriptions datasets/custom/descriptions.tsv \
    --glove datasets/glove/no-such.bin --out c3.h5 > c3.out 2> c3.err; rc=$?
is 1 $rc "a GloVe file that is nowhere: exit 1"
grep -q "tried ./datasets/glove/no-such.bin, $TMP/mydata/datasets/glove/no-such.bin (COCODIFF_HOME), .*share/cocodiff/datasets/glove/no-such.bin" c3.err
ok $? "the error names every path tried ($(head -c 160 c3.err)...)"
[ ! -e c3.h5 ] && [ "$(grep -c . c3.err)" = 1 ]
ok $? "one line, nothing written"
env -u COCODIFF_HOME "$P/bin/cocodiff-train" --config c.yaml --set cocodiff.parts=datasets/parts/no-such.tsv \
    --set work_dir="$TMP/elsewhere/w2" > t2.out 2> t2.err
grep -q "datasets/parts/no-such.tsv: not found (tried ./datasets/parts/no-such.tsv" t2.err
ok $? "a part file that is nowhere: the error names the paths tried"
done_testing
