#!/bin/bash
# 5330-ctrgcn-commands: CTR-GCN's own command lines, run with cocodiff-train
# (issue 14, point 1). main.py's flags (--work-dir, --phase, --weights,
# --save-score, --device, --train_feeder_args bone=True, --show-topk 1 2 5)
# are config keys, as in main.py; `--phase test --weights W` evaluates W and
# writes its scores without training (the README's test command, also in the
# training's own work dir), with the same accuracy as training reported for
# that epoch; show_topk prints those k; every other key of CTR-GCN's
# vocabulary works or is refused with what to run instead.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
plan 16
train_data
cd "$TMP" || exit 1
train_config c.yaml "$TMP/unused"
sed -i '/^eval_interval:/d' c.yaml
T=$TRAIN

# python main.py --config ... --train_feeder_args bone=True --test_feeder_args bone=True --work-dir ... --device 0
$T --config c.yaml --train_feeder_args bone=True --test_feeder_args bone=True --work-dir w --device 0 \
    --num-epoch 2 --show-topk 1 2 5 > train.log 2>&1
ok $? "main.py's training command line: --train_feeder_args bone=True ... --work-dir w --device 0"
grep -q "stream bone" train.log && [ -s w/best.h5 ] && grep -q "ignored config keys: device" train.log
ok $? "the bone stream in w/, device listed as ignored"
is 2 "$(grep -c '^train | epoch [12] | test top-1 [0-9.]*% | top-5 [0-9.]*% | top-2 [0-9.]*% | loss' train.log)" \
    "--show-topk 1 2 5: top-2 printed after every evaluation too"

# python main.py --config <work_dir>/config.yaml --work-dir <work_dir> --phase test --save-score True --weights <work_dir>/xxx.pt --device 0
$T --config w/config.yaml --work-dir w --phase test --save-score True --weights w/best.h5 --device 0 \
    --show-topk 1 2 5 > test.log 2>&1
ok $? "main.py's test command line, in the training's own work dir"
grep -q "phase test: w/best.h5 on .* nothing trained" test.log && ! grep -q "mean train loss" test.log &&
    [ "$(h5dump -a /step w/checkpoint-last.h5 2> /dev/null | sed -n 's/.*(0): //p')" = 8 ]
ok $? "nothing trained: the checkpoint is still step 8"
[ -s w/scores.h5 ] && grep -q '"top1"' w/metrics.json && grep -q "stream bone" test.log
ok $? "the scores written (w/scores.h5, w/metrics.json), on the bone stream the config says"
be=$(h5dump -a /epoch w/best.h5 2> /dev/null | sed -n 's/.*(0): //p')
want=$(grep "\"epoch\":$be," w/metrics.jsonl | sed 's/.*"test_top1":\([0-9.e-]*\),"test_top5":\([0-9.e-]*\).*/\1 \2/' |
       awk '{ printf "%.2f %.2f", 100 * $1, 100 * $2 }')
got=$(sed -n 's/^eval | top-1 *\([0-9.]*\)% .* top-5 *\([0-9.]*\)% .*/\1 \2/p' test.log)
is "$want" "$got" "its top-1 and top-5 are the ones training reported for that epoch ($be: $got %)"
grep -q "^eval | top-2 " test.log
ok $? "show_topk: top-2 printed"

$T --config c.yaml --work-dir w2 --save-score True > e1 2>&1; rc=$?
[ $rc = 2 ] && grep -q "save_score: .*--phase test --weights WORK_DIR/best.h5" e1
ok $? "save_score while training: refused with the command that writes scores (exit $rc)"
$T --config c.yaml --work-dir w2 --phase test > e2 2>&1; rc=$?
[ $rc = 2 ] && grep -q "phase: test evaluates weights, and weights is not set" e2
ok $? "phase test without weights: refused as main.py does"
$T --config c.yaml --work-dir w2 --weights runs-65-40690.pt > e3 2>&1; rc=$?
[ $rc = 2 ] && grep -q "convert_ctrgcn.py to-h5 runs-65-40690.pt OUT.h5 --stream joint" e3
ok $? "PyTorch weights: refused with the conversion to run"
$T --config c.yaml --work-dir w3 --set train_feeder_args.split=test --max-steps 1 > s1 2>&1 &&
    grep -q "ntu60-xsub.h5: 42 samples" s1
ok $? "train_feeder_args.split: test trains on /test (42 samples), as main.py's Feeder would"
$T --config c.yaml --work-dir w3 --set test_feeder_args.split=val > s2 2>&1; rc=$?
[ $rc = 2 ] && grep -q "split is 'val'" s2
ok $? "a split that is neither train nor test: refused"
$T --config c.yaml --work-dir w4 --set train_feeder_args.random_move=True --set model_args.adaptive=False > a1 2>&1; rc=$?
[ $rc = 2 ] && grep -q "adaptive: false .* not implemented" a1 &&
    $T --config c.yaml --work-dir w4 --set train_feeder_args.random_move=True --max-steps 1 > a2 2>&1 &&
    grep -q "ignored config keys: train_feeder_args.random_move" a2
ok $? "adaptive: false refused; random_move (stored, never used by the official feeders) listed as ignored"
# CTR-GCN's own config file, as it is: its .npz data paths get the command to make ours.
OFF=$REPO/tests/data/config/nturgbd-cross-subject.yaml
$T --config "$OFF" --work-dir w5 --device 0 > o1 2>&1; rc=$?
[ $rc = 2 ] && grep -q "data_path data/ntu/NTU60_CS.npz is CTR-GCN's .npz; .*cocodiff-prep --dataset ntu60" o1
ok $? "the official config with its .npz: refused with the cocodiff-prep command (exit $rc)"
$T --config "$OFF" --work-dir w5 --device 0 --train_feeder_args "data_path='$TMP/ntu60-xsub.h5', window_size=16" \
    --test_feeder_args "data_path='$TMP/ntu60-xsub.h5', window_size=16" --batch-size 16 --set cocodiff.base_channel=8 \
    --max-steps 1 > o2 2>&1
ok $? "and with main.py's flags pointing it at a cocodiff-prep file, it trains"
cd / && done_testing
