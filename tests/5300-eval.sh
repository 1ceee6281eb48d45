#!/bin/sh
# 5300-eval: cocodiff-eval on a tiny trained model: 1 and 2 ranks (and 1 and
# 3 threads) write the same bytes, the scores file follows the data file's
# order, metrics.json's top-1 is what the scores say, the window comes from
# the checkpoint's config, and checkpoints that do not fit the data are
# errors naming both.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin
plan 24

# --- data: NTU60 and NTU120 prep files from one synthetic zip, a Kinetics one
"$BIN/cocodiff-synth" --format ntu --samples 120 --seed 5 --out "$TMP/s.zip" > "$TMP/synth.log" 2>&1 &&
"$BIN/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP" > "$TMP/prep.log" 2>&1 &&
"$BIN/cocodiff-prep" --dataset ntu120 --input "$TMP/s.zip" --out "$TMP/p120" >> "$TMP/prep.log" 2>&1 &&
"$BIN/cocodiff-synth" --format kinetics --samples 24 --seed 5 --out "$TMP/k.tar.gz" >> "$TMP/synth.log" 2>&1 &&
"$BIN/cocodiff-prep" --dataset kinetics --input "$TMP/k.tar.gz" --out "$TMP/kin" >> "$TMP/prep.log" 2>&1
ok $? "synthetic NTU60, NTU120 and Kinetics prep files"
DATA=$TMP/ntu60-xsub.h5

# --- a tiny model, 3 epochs of 9 steps (CTR-GCN's config keys; window 48 to see it used)
config() { # config FILE WORKDIR DATA CLASSES JOINTS GRAPH ROT
    cat > "$1" <<EOF
work_dir: $2
feeder: feeders.feeder_ntu.Feeder
train_feeder_args:
  data_path: $3
  split: train
  debug: False
  random_choose: False
  random_shift: False
  random_move: False
  window_size: 48
  normalization: False
  random_rot: $7
  p_interval: [0.5, 1]
  vel: False
  bone: False
test_feeder_args:
  data_path: $3
  split: test
  window_size: 48
  p_interval: [0.95]
  vel: False
  bone: False
  debug: False
model: model.ctrgcn.Model
model_args:
  num_class: $4
  num_point: $5
  num_person: 2
  graph: $6
  graph_args:
    labeling_mode: 'spatial'
weight_decay: 0.0004
base_lr: 0.1
lr_decay_rate: 0.1
step: [35, 55]
warm_up_epoch: 0
device: [0]
batch_size: 8
test_batch_size: 16
num_epoch: 3
eval_interval: 1
nesterov: True
cocodiff:
  base_channel: 8
EOF
}
config "$TMP/ntu.yaml" "$TMP/wd" "$DATA" 60 25 graph.ntu_rgb_d.Graph True
config "$TMP/kin.yaml" "$TMP/wdk" "$TMP/kin/kinetics.h5" 400 18 graph.kinetics.Graph False
"$BIN/cocodiff-train" --config "$TMP/ntu.yaml" --max-steps 27 > "$TMP/train.log" 2>&1 &&
"$BIN/cocodiff-train" --config "$TMP/kin.yaml" --max-steps 2 >> "$TMP/train.log" 2>&1
ok $? "cocodiff-train: an NTU and a Kinetics checkpoint"
CKPT=$TMP/wd/checkpoint-last.h5
KCKPT=$TMP/wdk/checkpoint-last.h5

# --- 1 and 2 ranks (batches of 8: both ranks get work)
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/e1" --batch 8 > "$TMP/e1.log" 2>&1
ok $? "1 rank: exit 0"
run_mpi 2 "$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/e2" --batch 8 > "$TMP/e2.log" 2>&1
ok $? "2 ranks: exit 0"
cmp -s "$TMP/e1/scores.h5" "$TMP/e2/scores.h5"
ok $? "1 and 2 ranks write byte-identical scores.h5"
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/e3" --batch 8 --threads 3 > "$TMP/e3.log" 2>&1 &&
    cmp -s "$TMP/e1/scores.h5" "$TMP/e3/scores.h5"
ok $? "--threads 3 writes the same bytes as 1 thread"
[ ! -e "$TMP/e2/scores.h5.partial" ]; ok $? "no .partial file left"

ntest=$(h5dump -H -d /test/label "$DATA" | sed -n 's/.*SIMPLE { ( \([0-9]*\) ).*/\1/p')
is "( $ntest, 60 )" "$(h5dump -H -d /scores "$TMP/e2/scores.h5" | grep -o '( [0-9]*, [0-9]* )' | head -1)" \
   "scores are (N_test, 60) = ($ntest, 60)"
h5diff "$DATA" "$TMP/e2/scores.h5" /test/label /label > /dev/null
ok $? "labels equal the data file's /test/label"
h5diff "$DATA" "$TMP/e2/scores.h5" /test/name /name > /dev/null
ok $? "names equal the data file's /test/name"

# top-1 / top-5 from the raw scores (argmax, ties to the lower index)
h5dump -A 0 -y -w 0 -m %.9g -d /scores -o "$TMP/scores.txt" "$TMP/e2/scores.h5" > /dev/null
h5dump -A 0 -y -w 0 -d /label -o "$TMP/labels.txt" "$TMP/e2/scores.h5" > /dev/null
counts=$(cat "$TMP/labels.txt" "$TMP/scores.txt" | tr -s ', \n' '\n\n\n' | grep -v '^$' | awk -v N="$ntest" -v K=60 '
    NR <= N { lab[NR - 1] = $1; next }
    { i = NR - N - 1; r = int(i / K); k = i % K; s[k] = $1 + 0
      if (k == K - 1) {
          best = 0; for (j = 1; j < K; j++) if (s[j] > s[best]) best = j
          own = s[lab[r]]; above = 0
          for (j = 0; j < K; j++) if (s[j] > own || (s[j] == own && j < lab[r])) above++
          c1 += best == lab[r]; c5 += above < 5; rows++ } }
    END { printf "%d %d %d %.6f %.6f", rows, c1, c5, c1 / rows, c5 / rows }')
set -- $counts
json=$(cat "$TMP/e2/metrics.json")
jnum() { echo "$json" | grep -o "\"$1\":[-0-9.e]*" | cut -d: -f2; }
is "$ntest" "$1" "the scores hold $ntest rows of 60"
is "$2 $3" "$(jnum correct_top1) $(jnum correct_top5)" "metrics.json top-1/top-5 counts = the scores' ($2, $3 of $ntest)"
is "$4 $5" "$(printf '%.6f %.6f' "$(jnum top1)" "$(jnum top5)")" "metrics.json top1/top5 = the fractions from the scores"
is "$(printf '%.6f' "$(jnum top1)")" "$(printf '%.6f' "$(h5dump -a /metrics/top1 "$TMP/e2/scores.h5" | sed -n 's/.*(0): //p')")" \
   "/metrics top1 attribute = metrics.json's"
trace=$(h5dump -A 0 -y -w 0 -d /metrics/confusion -o "$TMP/conf.txt" "$TMP/e2/scores.h5" > /dev/null &&
    tr -s ', \n' '\n\n\n' < "$TMP/conf.txt" | grep -v '^$' | awk '{ if ((NR - 1) % 61 == 0) t += $1; n += $1 } END { print t, n }')
is "$2 $ntest" "$trace" "confusion matrix: trace = top-1 hits, sum = N"
is "48 joint" "$(jnum window) $(echo "$json" | grep -o '"stream":"[a-z_]*"' | cut -d'"' -f4)" \
   "window (48) and stream (joint) come from the checkpoint"
grep -q "top-1 .*top-5" "$TMP/e2.log" && grep -q "worst classes" "$TMP/e2.log"
ok $? "rank 0 prints top-1, top-5 and the worst classes"

# --- class names from a list (line k = class k), an output folder to create
i=0; while [ $i -lt 60 ]; do echo "action number $i."; i=$((i + 1)); done > "$TMP/classes.txt"
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/named/deeper" --class-names "$TMP/classes.txt" \
    > "$TMP/en.log" 2>&1 && grep -q '"action number 59"' "$TMP/named/deeper/metrics.json" && grep -q "action number" "$TMP/en.log"
ok $? "--class-names: names in metrics.json and the table; nested --out created"

# --- streams and mismatches
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/eb" --stream bone > "$TMP/eb.log" 2>&1 &&
    grep -q '"stream":"bone"' "$TMP/eb/metrics.json"
ok $? "--stream bone on a joint checkpoint is accepted"

"$BIN/cocodiff-eval" --checkpoint "$KCKPT" --data "$DATA" --out "$TMP/x1" > "$TMP/x1.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "$KCKPT" "$TMP/x1.log" && grep -q "$DATA" "$TMP/x1.log" &&
    grep -q "joints 18 in the checkpoint, 25 in the data" "$TMP/x1.log" && [ ! -e "$TMP/x1/scores.h5" ]
ok $? "an 18-joint checkpoint on NTU data: exit 1 naming both files and values (rc $rc)"
run_mpi 2 "$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/kin/kinetics.h5" --out "$TMP/x2" > "$TMP/x2.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "classes 60 in the checkpoint, 400 in the data" "$TMP/x2.log" &&
    grep -q "kinetics.h5" "$TMP/x2.log"
ok $? "an NTU checkpoint on Kinetics data, 2 ranks: exit 1 naming classes and joints (rc $rc)"
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/p120/ntu120-xsub.h5" --out "$TMP/x3" > "$TMP/x3.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "classes 60 in the checkpoint, 120 in the data" "$TMP/x3.log" && ! grep -q joints "$TMP/x3.log"
ok $? "a 60-class checkpoint on NTU120 data: exit 1, classes only (rc $rc)"

"$BIN/cocodiff-eval" --checkpoint "$DATA" --data "$DATA" --out "$TMP/x4" > "$TMP/x4.log" 2>&1
rc1=$?
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$TMP/missing.h5" --out "$TMP/x5" > "$TMP/x5.log" 2>&1
rc2=$?
[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ]; ok $? "unreadable checkpoint or data: exit 1 ($rc1, $rc2)"
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" > /dev/null 2>&1
rc1=$?
"$BIN/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/x6" --stream legs > /dev/null 2>&1
rc2=$?
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ]; ok $? "usage errors: exit 2 ($rc1, $rc2)"
done_testing
