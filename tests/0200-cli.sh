#!/bin/bash
# 0200-cli: what every cocodiff-* program's command line shares (issue 14,
# points 4 and 11): --version; "unknown option" for a flag the program does
# not have and "needs a value" for one of its flags given without one; the
# output's folder created by every program that writes a file; a library
# error is one line, without HDF5's error stack or the source line, both of
# which come back with --verbose. The Makefile's version string: the commit,
# "-dirty" when a tracked file differs from it (not a Markdown document,
# not a damaged index read as clean), the VERSION file alone without git of
# its own; build/version.h rewritten only when the string changes; a
# VERSION that is not one word stops the build.
. "$(dirname "$0")/tap/tap.sh"
PROGS="describe embed ensemble eval frozen glove-subset prep report synth train"
for p in $PROGS; do [ -x "$REPO/bin/cocodiff-$p" ] || skip_all "bin/cocodiff-$p not built (run make)"; done
plan 22
B=$REPO/bin
cd "$TMP" || exit 1

bad="" want=$(cat "$REPO/VERSION")
for p in $PROGS; do
    out=$("$B/cocodiff-$p" --version 2>&1); rc=$?
    case "$rc $out" in "0 cocodiff-$p $want"*) ;; *) bad="$bad $p($rc: $out)";; esac
done
is "" "$bad" "--version on every program prints 'cocodiff-NAME $want...' and exits 0"

# The Makefile's rule on a copy (its own git repository): only build/version.h is made.
mkdir -p vt/docs && cp -r "$REPO/Makefile" "$REPO/VERSION" "$REPO/mk" vt/ && echo 'one' > vt/tracked.txt &&
    echo '# results' > vt/docs/results.md
# vh [DIR]: the string the rule writes in DIR (vt). GIT_CEILING_DIRECTORIES: git
# never looks above TMP, whatever holds it.
vh() { GIT_CEILING_DIRECTORIES=$TMP make -s -C "${1:-vt}" build/version.h > /dev/null 2>&1 &&
       sed -n 's/.*CD_VERSION "\(.*\)"/\1/p' "${1:-vt}/build/version.h"; }
if command -v git > /dev/null; then
    git -C vt init -q && git -C vt add -A && git -C vt -c user.name=t -c user.email=t@t commit -q -m t
    h=$(git -C vt rev-parse --short HEAD)
    is "$want+g$h" "$(vh)" "a clean tree: VERSION+g<commit>"
    touch -d '2000-01-01' vt/build/version.h && echo 'untracked' > vt/new.txt
    is "$want+g$h 200001010000" "$(vh) $(date -r vt/build/version.h +%Y%m%d%H%M)" \
        "an untracked file is not a change; build/version.h is left alone when its string stays"
    echo 'two' > vt/tracked.txt
    is "$want+g$h-dirty" "$(vh)" "a tracked file modified: VERSION+g<commit>-dirty"
    git -C vt checkout -q tracked.txt
    is "$want+g$h" "$(vh)" "and clean again once it is restored"
    echo 'a table' >> vt/docs/results.md
    is "$want+g$h" "$(vh)" "a Markdown document modified (make experiment's docs/results.md): still the commit's own build"
    git -C vt checkout -q docs/results.md
    printf 'not an index' > vt/.git/index
    is "$want+g$h-dirty" "$(vh)" "an index git cannot read: -dirty, never a clean claim unchecked"
    rm -rf vt/.git vt/build
    # a tarball unpacked inside another repository with changes of its own (a home folder kept in git)
    mkdir home && echo x > home/dot && git -C home init -q && git -C home add dot &&
        git -C home -c user.name=t -c user.email=t@t commit -q -m t && echo y > home/dot && mv vt home/
    is "$want" "$(vh home/vt)" "no git of its own, inside another repository: the VERSION file alone, not that repository's commit"
    mv home/vt . && rm -rf vt/build
else
    rm -rf vt/build
    skip 7 "git not installed"
fi
is "$want" "$(vh)" "no git (a tarball): the VERSION file alone"
echo '0.2.0 rc1' > vt/VERSION && rm -rf vt/build
make -s -C vt build/version.h > vmake.out 2>&1; rc=$?
[ $rc != 0 ] && grep -q "VERSION must be one line, one word" vmake.out && [ ! -s vt/build/version.h ]
ok $? "a VERSION with a space (the builds list's separator) stops the build, saying why (exit $rc)"

bad=""
for p in $PROGS; do
    "$B/cocodiff-$p" --no-such-flag 1 > out 2> err; rc=$?
    [ $rc = 2 ] && grep -q "unknown option '--no-such-flag'" err || bad="$bad $p($rc: $(head -1 err))"
    "$B/cocodiff-$p" --no-such-flag > out 2> err; rc=$?   # last on the line: still unknown, not "needs a value"
    [ $rc = 2 ] && grep -q "unknown option '--no-such-flag'" err || bad="$bad $p-last($rc: $(head -1 err))"
done
is "" "$bad" "an unknown flag is 'unknown option' (exit 2) on every program, also when it comes last"

bad=""
for pf in "eval --checkpoint" "train --config" "embed --out" "prep --input" "report --out" "ensemble --scores" \
          "synth --out" "describe --classes" "glove-subset --vectors" "frozen --run"; do
    set -- $pf
    "$B/cocodiff-$1" "$2" > out 2> err
    grep -q -e "$2 needs a value" err || bad="$bad $1($(head -1 err))"
done
is "" "$bad" "a known flag without its value: 'FLAG needs a value'"

# Outputs into folders that do not exist yet.
"$B/cocodiff-synth" --format ntu --samples 40 --seed 3 --out "new/synth/s.zip" --quiet > synth.log 2>&1
ok $? "cocodiff-synth --out new/synth/s.zip creates the folder"
"$B/cocodiff-prep" --dataset ntu60 --input new/synth/s.zip --out new/prep/a/b > prep.log 2>&1 && [ -s new/prep/a/b/ntu60-xsub.h5 ]
ok $? "cocodiff-prep --out new/prep/a/b creates every level"
"$B/cocodiff-embed" --descriptions "$REPO/datasets/synth/descriptions.tsv" --glove "$REPO/datasets/glove/glove-6b-100d-subset.bin" \
    --out new/text/synth-glove.h5 > embed.log 2>&1 && [ -s new/text/synth-glove.h5 ]
ok $? "cocodiff-embed --out new/text/x.h5 creates the folder (the README's command in a fresh clone)"
cat > t.yaml <<EOF
work_dir: new/wdir
feeder: feeders.feeder_ntu.Feeder
model: model.ctrgcn.Model
train_feeder_args: {data_path: new/prep/a/b/ntu60-xsub.h5, window_size: 16}
test_feeder_args: {data_path: new/prep/a/b/ntu60-xsub.h5, window_size: 16}
model_args: {num_class: 60, num_point: 25, num_person: 2, graph: graph.ntu_rgb_d.Graph}
batch_size: 8
num_epoch: 1
cocodiff: {base_channel: 8}
EOF
"$B/cocodiff-train" --config t.yaml --max-steps 1 --log-losses new/losses/l.txt > train.log 2>&1 &&
    "$B/cocodiff-train" --checkpoint new/wdir/checkpoint-last.h5 --export new/export/x.h5 >> train.log 2>&1 &&
    [ -s new/losses/l.txt ] && [ -s new/export/x.h5 ]
ok $? "cocodiff-train --log-losses and --export create their folders"
"$B/cocodiff-eval" --checkpoint new/export/x.h5 --data new/prep/a/b/ntu60-xsub.h5 --out new/eval/j > eval.log 2>&1 &&
    "$B/cocodiff-ensemble" --scores new/eval/j/scores.h5 --out new/ens/e > ens.log 2>&1 &&
    "$B/cocodiff-report" --eval new/eval/j --out new/report/r.html > report.log 2>&1 && [ -s new/report/r.html ]
ok $? "cocodiff-eval, -ensemble and -report create theirs"
: > afile
"$B/cocodiff-embed" --descriptions "$REPO/datasets/synth/descriptions.tsv" --glove "$REPO/datasets/glove/glove-6b-100d-subset.bin" \
    --out afile/x.h5 > out 2> err; rc=$?
[ $rc = 1 ] && grep -q "afile/x.h5: cannot create its folder: Not a directory" err
ok $? "a file in the way of the folder: exit 1 (got $rc), saying so"

# A library error: one line by default.
echo "not hdf5" > bogus.h5
"$B/cocodiff-eval" --checkpoint bogus.h5 --data new/prep/a/b/ntu60-xsub.h5 --out ev > out 2> err; rc=$?
[ $rc = 1 ]; ok $? "eval of a file that is not HDF5: exit 1 (got $rc)"
! grep -q "HDF5-DIAG" err && ! grep -q "(src/.*\.c:[0-9]*)" err && grep -q "bogus.h5" err
ok $? "no HDF5 error stack, no source line; the message names the file ($(head -1 err))"
"$B/cocodiff-eval" --checkpoint bogus.h5 --data new/prep/a/b/ntu60-xsub.h5 --out ev --verbose > out 2> err
grep -q "HDF5-DIAG" err && grep -q "(src/.*\.c:[0-9]*)" err
ok $? "--verbose: HDF5's stack and the source line"
"$B/cocodiff-train" --config t.yaml --set no_such_key=1 > out 2> err
! grep -q "(src/" err && [ "$(grep -c . err)" = 1 ]
ok $? "a config error is one line ($(head -1 err))"
done_testing
