# train.sh - shared setup of the cocodiff-train tests (sourced after tap.sh).
#   train_data      $TMP/ntu60-xsub.h5 from cocodiff-synth (120 NTU samples,
#                   seed 3) and cocodiff-prep: train 78, test 42 samples
#   train_config F W
#                   writes F, a small CTR-GCN config (base_channel 8,
#                   window 16, batch 16: 4 steps an epoch, 4 epochs) with
#                   work_dir W; tests change it with --set
#   train_and_eval  the above, 2 steps of training and their evaluation
#                   ($TMP/w/checkpoint-last.h5, $TMP/good)
#   TRAJECTORY      --set options of the 20-step, low-lr run (5 epochs of 4 steps,
#                   base_lr 1e-4 with warm-up, no test split) whose losses 1 and
#                   N ranks keep within 1e-4 (tests/5200 says why that lr)
#   losses_maxrel A B
#                   max |a-b|/|a| over the steps of two --log-losses files
#                   (prints "inf" when the step lists differ)
#   module_setup    train_data, the class texts ($TMP/text.h5) and
#                   $TMP/c.yaml with a small module on (work dir $TMP/w);
#                   then in $REPO; MODULE_RUN: the --set options of the
#                   refresh tests' run (2 epochs of 4 steps, x0, AdamW)
#   run_threads NAME NP THREADS [more]
#                   NP ranks x THREADS (cocodiff.threads) with $TMP/c.yaml and
#                   $S in $TMP/w (the checkpoint stores the config, work_dir
#                   included), kept as $TMP/NAME.h5, losses in $TMP/NAME.txt,
#                   output in $TMP/NAME.log
TRAIN=$REPO/bin/cocodiff-train
[ -x "$TRAIN" ] && [ -x "$REPO/bin/cocodiff-synth" ] && [ -x "$REPO/bin/cocodiff-prep" ] ||
    skip_all "bin/cocodiff-train, -synth or -prep not built (run make)"

TRAJECTORY="--set test_feeder_args.data_path=null --set num_epoch=5 --set warm_up_epoch=2 --set step=[30] --set base_lr=0.0001"

train_data() {
    "$REPO/bin/cocodiff-synth" --format ntu --samples 120 --seed 3 --out "$TMP/s.zip" --quiet > "$TMP/synth.log" 2>&1 &&
        "$REPO/bin/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP" > "$TMP/prep.log" 2>&1 ||
        { echo "Bail out! synth/prep failed (see $TMP/*.log)"; exit 1; }
}

# train_and_eval: train_data, a config ($TMP/c.yaml, work dir $TMP/w), 2
# steps of training (CKPT=$TMP/w/checkpoint-last.h5) and its evaluation in
# $TMP/good; DATA=$TMP/ntu60-xsub.h5.
train_and_eval() {
    train_data
    DATA=$TMP/ntu60-xsub.h5
    CKPT=$TMP/w/checkpoint-last.h5
    train_config "$TMP/c.yaml" "$TMP/w"
    "$TRAIN" --config "$TMP/c.yaml" --max-steps 2 > "$TMP/train.log" 2>&1 &&
        "$REPO/bin/cocodiff-eval" --checkpoint "$CKPT" --data "$DATA" --out "$TMP/good" > "$TMP/eval.log" 2>&1 ||
        { echo "Bail out! train/eval failed (see $TMP/*.log)"; exit 1; }
}

train_config() {
    cat > "$1" <<YAML
work_dir: $2
feeder: feeders.feeder_ntu.Feeder
train_feeder_args:
  data_path: $TMP/ntu60-xsub.h5
  window_size: 16
  p_interval: [0.5, 1]
  random_rot: True
test_feeder_args:
  data_path: $TMP/ntu60-xsub.h5
  window_size: 16
  p_interval: [0.95]
model: model.ctrgcn.Model
model_args:
  num_class: 60
  num_point: 25
  num_person: 2
  graph: graph.ntu_rgb_d.Graph
  graph_args:
    labeling_mode: 'spatial'
weight_decay: 0.0004
base_lr: 0.1
lr_decay_rate: 0.1
step: [3]
warm_up_epoch: 1
nesterov: True
batch_size: 16
test_batch_size: 16
num_epoch: 4
log_interval: 1
eval_interval: 2
save_epoch: 0
seed: 1
cocodiff:
  base_channel: 8
YAML
}

train_module() {
    cat >> "$1" <<YAML
  module: true
  text: $2
  latent_dim: 16
  heads: 2
  blocks: 1
YAML
}

MODULE_RUN="--set num_epoch=2 --set step=[1] --set eval_interval=1 --set cocodiff.prediction=x0
   --set cocodiff.module_optimizer=adamw --set cocodiff.module_lr=3e-3 --set cocodiff.replay_batch=6"
module_setup() {
    train_data
    cd "$REPO" || exit 1
    bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out "$TMP/text.h5" > "$TMP/embed.log" 2>&1 ||
        { echo "Bail out! cocodiff-embed failed (see $TMP/embed.log)"; exit 1; }
    train_config "$TMP/c.yaml" "$TMP/w"
    train_module "$TMP/c.yaml" "$TMP/text.h5"
}

run_threads() {
    _name=$1 _np=$2 _th=$3; shift 3
    rm -rf "$TMP/w"
    run_mpi "$_np" "$TRAIN" --config "$TMP/c.yaml" $S --set cocodiff.threads="$_th" --log-losses "$TMP/$_name.txt" "$@" \
        > "$TMP/$_name.log" 2>&1 && cp "$TMP/w/checkpoint-last.h5" "$TMP/$_name.h5"
}

losses_maxrel() {
    [ -s "$1" ] && [ -s "$2" ] || { echo inf; return; }
    awk 'FNR == NR { a[$1] = $2; n++; next }
         { if (!($1 in a)) bad = 1; d = $2 - a[$1]; if (d < 0) d = -d; s = a[$1] < 0 ? -a[$1] : a[$1];
           r = s > 0 ? d / s : d; if (r > m) m = r; k++ }
         END { if (bad || k != n || n == 0) print "inf"; else printf "%.3g\n", m }' "$1" "$2"
}

# step_of CKPT: the optimizer step a checkpoint holds (its /step attribute;
# empty when the file is missing or unreadable).
step_of() { h5dump -a /step "$1" 2>/dev/null | sed -n 's/.*(0): //p'; }
