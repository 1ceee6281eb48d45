#!/bin/sh
# 5400-cocodiff-train: CTR-GCN trained with the CoCoDiff module (cocodiff.module)
# on a tiny model (base 8; latent 16, 2 heads, 1 block) with GloVe text:
#   1 rank: runs, the module's losses are finite, on the progress line, in
#   --log-losses and in metrics.jsonl (gen from the warm-up's end on);
#   2 ranks: a rerun writes a byte-identical checkpoint, which holds the
#   module in /cocodiff and its momentum in /optimizer/cocodiff_momentum;
#   --max-steps then --resume ends byte-identical to the uninterrupted run;
#   so does a run with the switches that make generation follow the text
#   (x0-prediction, AdamW with its m and v checkpointed, 2 L_diff passes,
#   guidance 2, 2 replay steps a step from a buffer of 20 samples, which is
#   checkpointed, 3 steps alone after training on the final backbone's
#   tokens of the training split, generation from a
#   checkpointed moving average of the weights: the same diversity.json
#   too), whose losses on 1 and 2 ranks agree within 1e-4;
#   --export writes an inference checkpoint: /model bit for bit the training
#   checkpoint's, exactly the datasets of a plain (module off) checkpoint,
#   nothing else; cocodiff-eval runs on it;
#   a text file of another class count, or no text at all, is a clear error;
#   at the end the generated-feature measurement writes features.h5 (one real
#   and one generated feature per test sample) and diversity.json (the same
#   on 2-rank reruns) with the text-conditioning probe (swap, steer, from
#   noise, own-text top-1 under the class texts and both controls; logged),
#   and cocodiff-report maps them and shows the probe;
#   cocodiff.dump_features writes the part tokens of both splits, the same
#   bytes on 1 and 2 ranks, and cocodiff-frozen trains and probes the module
#   on them (and a fresh head); diversity.json, conditioning.json and
#   heads.tsv name the build that wrote them (conditioning.json also the
#   backbone's, from its checkpoint).
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v h5diff > /dev/null && command -v h5ls > /dev/null || skip_all "h5diff/h5ls not installed"
plan 36
train_data
cd "$REPO" || exit 1
bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out "$TMP/text.h5" > "$TMP/embed.log" 2>&1 ||
    { echo "Bail out! cocodiff-embed failed (see $TMP/embed.log)"; exit 1; }
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
train_module "$TMP/c.yaml" "$TMP/text.h5"

# --- 1 rank, the whole schedule (16 steps; warm_up_epoch 1: generation from epoch 2)
rm -rf "$W"
"$TRAIN" --config "$TMP/c.yaml" --log-losses "$TMP/l1" > "$TMP/log1" 2>&1
ok $? "1 rank: 16 steps with the module"
# step loss top1 lr diff rec gen coarse: 16 lines of 8 finite numbers
bad=$(awk 'NF != 8 { b++ } { for (i = 2; i <= NF; i++) if ($i !~ /^-?[0-9.]+(e[-+][0-9]+)?$/) b++ } END { print b + 0 }' "$TMP/l1")
is "16 0" "$(wc -l < "$TMP/l1") $bad" "--log-losses: 16 steps, each with 8 finite columns (loss top1 lr diff rec gen coarse)"
is "0 0 0 0" "$(awk '$1 <= 4 && $7 != 0 { a++ } $1 > 4 && $7 <= 0 { b++ } $5 <= 0 { c++ } $8 <= 0 { d++ }
    END { print a + 0, b + 0, c + 0, d + 0 }' "$TMP/l1")" "gen is 0 in epoch 1 and positive after it; diff and coarse positive"
re='^train | epoch [1-4]/4 | step [0-9]*/16 | loss [0-9.]* | top1 [01]\.[0-9]* | diff [0-9.]* rec [0-9.]* gen [0-9.]* coarse [0-9.]* | lr '
is 16 "$(grep -c "$re" "$TMP/log1")" "16 progress lines with diff, rec, gen and coarse"
grep -q '^train | CoCoDiff module: [0-9]* parameters (training only), d 16, 2 heads, 1 blocks' "$TMP/log1"
ok $? "the module is announced with its size"
n=$(grep -c '"cocodiff_diff":[0-9.e-]*,"cocodiff_rec":[0-9.e-]*,"cocodiff_coarse":[0-9.e-]*,' "$W/metrics.jsonl")
g=$(grep -c '"cocodiff_gen":[0-9.e-]*,"cocodiff_gen_top1":[0-9.e-]*' "$W/metrics.jsonl")
is "4 3" "$n $g" "metrics.jsonl: module losses in all 4 epochs, gen in the 3 after warm-up"
cp "$W/checkpoint-last.h5" "$TMP/one.h5"
ntest=$(h5ls "$TMP/ntu60-xsub.h5/test" | awk '$1 == "label" { gsub(/[{}]/, "", $3); print $3 }')
nf=$(h5ls "$W/features.h5" | awk '$1 == "generated" { print $3 }')
grep -q '^train | generated features (test split, [0-9]* samples' "$TMP/log1" &&
    grep -q '"generated_pairwise_distance"' "$W/diversity.json" && [ -n "$ntest" ] && [ "$nf" = "{$ntest," ]
ok $? "the measurement after training: features.h5 ($nf for $ntest test samples), diversity.json, log lines"
"$REPO/bin/cocodiff-report" --run "$W" --out "$TMP/r.html" > "$TMP/r.log" 2>&1 &&
    grep -q 'id="generated"' "$TMP/r.html" && grep -q 'generated</text>' "$TMP/r.html"
ok $? "cocodiff-report --run maps the generated features beside the real ones"
n=$(grep -c '^train | conditioning, \(class\|shuffled\|random\) texts.*: swap [0-9.]*, steer [0-9.]*%, from noise [0-9.]*%, own-text head top-1 [0-9.]*%' "$TMP/log1")
v=$(jq -r '.conditioning | [.text, .shuffled_text, .random_text] | map(.swap, .steer, .from_noise, .own_head_top1) |
    map(select(. >= 0 and (. <= 1 or . > 1))) | length' "$W/diversity.json")
is "3 12" "$n $v" "the conditioning probe: 3 log lines, 4 figures under the class texts and the 2 controls in diversity.json"
grep -q 'Does generation follow the text?' "$TMP/r.html" && grep -q 'random texts (control)' "$TMP/r.html"
ok $? "the report shows the probe with its controls"

# --- 2 ranks: 8 steps (2 epochs), twice, then 5 + resume
S="--set num_epoch=2 --set step=[1] --set eval_interval=1"
for i in 1 2; do
    rm -rf "$W"
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --log-losses "$TMP/l2-$i" > "$TMP/log2-$i" 2>&1
    ok $? "2 ranks, run $i"
    cp "$W/checkpoint-last.h5" "$TMP/two-$i.h5"
    cp "$W/diversity.json" "$TMP/div-$i.json"
done
cmp "$TMP/two-1.h5" "$TMP/two-2.h5"
ok $? "2 ranks: the reruns' checkpoints are byte-identical"
cmp "$TMP/div-1.json" "$TMP/div-2.json"
ok $? "and so are their diversity figures"
L=$(h5ls -r "$TMP/two-1.h5")
nt=$(echo "$L" | grep -c '^/cocodiff/cocodiff\.')
nm=$(echo "$L" | grep -c '^/optimizer/cocodiff_momentum/cocodiff\.')
[ "$nt" -gt 10 ] && [ "$nt" = "$nm" ] && echo "$L" | grep -q '^/cocodiff/cocodiff.logit_scale '
ok $? "the checkpoint holds the module ($nt tensors in /cocodiff) and its momentum"
is "0 0" "$(h5dump -A 0 -d /cocodiff/cocodiff.dec.weight "$TMP/two-1.h5" | grep -c nan) $(awk 'NF != 8 { b++ } END { print b + 0 }' "$TMP/l2-1")" \
    "2 ranks: finite module weights, module losses logged"
rm -rf "$W"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --max-steps 5 --log-losses "$TMP/l2r" > "$TMP/log2r" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --resume --log-losses "$TMP/l2r" >> "$TMP/log2r" 2>&1
ok $? "2 ranks: --max-steps 5, then --resume"
cmp "$TMP/two-1.h5" "$W/checkpoint-last.h5"
ok $? "the resumed run's checkpoint is byte-identical to the uninterrupted one (module included)"
cmp -s "$TMP/l2-1" "$TMP/l2r"
ok $? "and so is every step's loss line"

# --- the switches that make generation follow the text (issue 16): AdamW's
# state is checkpointed, so an interrupted run resumes bit for bit too
X="--set cocodiff.prediction=x0 --set cocodiff.module_optimizer=adamw --set cocodiff.module_lr=3e-3
   --set cocodiff.diff_repeats=2 --set cocodiff.cfg_scale=2 --set cocodiff.module_lr_decay=false --set work_dir=$TMP/wx
   --set cocodiff.replay=20 --set cocodiff.replay_steps=2 --set cocodiff.replay_batch=6 --set cocodiff.ema=0.9
   --set cocodiff.replay_final=3"
run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $X > "$TMP/logx1" 2>&1 && cp "$TMP/wx/checkpoint-last.h5" "$TMP/adam.h5" &&
    cp "$TMP/wx/diversity.json" "$TMP/adam.json" &&
    rm -rf "$TMP/wx" && run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $X --max-steps 5 > "$TMP/logx2" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $X --resume >> "$TMP/logx2" 2>&1 &&
    h5ls -r "$TMP/adam.h5" | grep -q '^/optimizer/cocodiff_adam_m/cocodiff\.' &&
    h5ls -r "$TMP/adam.h5" | grep -q '^/optimizer/cocodiff_adam_v/cocodiff\.' &&
    h5ls -r "$TMP/adam.h5" | grep -q '^/cocodiff_replay/tokens *Dataset {20, 7, ' &&
    [ "$(h5ls -r "$TMP/adam.h5" | grep -c '^/cocodiff_ema/cocodiff\.')" = "$(h5ls -r "$TMP/adam.h5" | grep -c '^/cocodiff/cocodiff\.')" ] &&
    grep -q "+ 2 replay steps of 6 from the last 20 samples; then 3 steps alone on the final backbone's training tokens" "$TMP/logx1" &&
    grep -q '^train | CoCoDiff module alone after training: 3 steps of 6 on the 78 training tokens of the final backbone' "$TMP/logx1"
ok $? "x0, AdamW, 2 L_diff passes, guidance 2, replay, EMA: 2 ranks whole and 5 + --resume; AdamW's m and v, the replay buffer and the average checkpointed"
cmp "$TMP/adam.h5" "$TMP/wx/checkpoint-last.h5" && cmp "$TMP/adam.json" "$TMP/wx/diversity.json"
ok $? "and the resumed run's checkpoint and diversity figures are byte-identical to the uninterrupted one's"
# 1 vs 2 ranks with them: the same losses (every column) within 1e-4 over the
# 16 steps at base_lr 1e-4 (tests/5200 says why a small lr; measured: 1.1e-7)
for np in 1 2; do
    rm -rf "$TMP/wx"
    run_mpi $np "$TRAIN" --config "$TMP/c.yaml" $X --set base_lr=1e-4 --log-losses "$TMP/lx$np" > "$TMP/logx$np" 2>&1
done
r=$(awk 'FNR == NR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; n = FNR; next }
         { k++; for (i = 2; i <= NF; i++) { d = $i - a[FNR, i]; if (d < 0) d = -d; s = a[FNR, i] < 0 ? -a[FNR, i] : a[FNR, i];
           r = s > 0 ? d / s : d; if (r > m) m = r } }
         END { if (k != n || n != 16) print "inf"; else printf "%.3g\n", m + 0 }' "$TMP/lx1" "$TMP/lx2")
awk -v r="$r" 'BEGIN { exit !(r != "inf" && r + 0 < 1e-4) }'
ok $? "and 1 vs 2 ranks: every loss column within 1e-4 over 16 steps at base_lr 1e-4 (max relative difference $r)"

# --- export
"$TRAIN" --config "$TMP/c.yaml" $S --export "$TMP/export.h5" > "$TMP/logx" 2>&1
ok $? "--export (the work dir's checkpoint-last.h5)"
h5diff "$TMP/two-1.h5" "$TMP/export.h5" /model /model > "$TMP/h5diff.log" 2>&1
ok $? "the export's /model equals the training checkpoint's (h5diff, exact)"
rm -rf "$TMP/wp"
"$TRAIN" --config "$TMP/c.yaml" --set cocodiff.module=false --set work_dir="$TMP/wp" --max-steps 1 > "$TMP/logp" 2>&1
h5ls -r "$TMP/wp/checkpoint-last.h5" | grep '^/model' > "$TMP/plain.ls"
h5ls -r "$TMP/export.h5" | grep -v '^/  *Group$' > "$TMP/export.ls"   # all but the root
[ "$(wc -l < "$TMP/plain.ls")" -gt 100 ] && cmp -s "$TMP/plain.ls" "$TMP/export.ls"
ok $? "the export lists exactly the /model datasets (names, sizes) of a plain checkpoint, nothing else"
"$TRAIN" --checkpoint "$TMP/one.h5" --export "$TMP/export1.h5" > "$TMP/logx1" 2>&1 &&
    h5diff "$TMP/one.h5" "$TMP/export1.h5" /model /model > /dev/null 2>&1
ok $? "--export --checkpoint CKPT (no config)"
"$REPO/bin/cocodiff-eval" --checkpoint "$TMP/export.h5" --data "$TMP/ntu60-xsub.h5" --out "$TMP/ev" > "$TMP/ev.log" 2>&1 &&
    [ -s "$TMP/ev/scores.h5" ]
ok $? "cocodiff-eval runs on the export"

# --- l_fine > 0: gradient into the part tokens too (through the part pooling)
rm -rf "$TMP/wf"
"$TRAIN" --config "$TMP/c.yaml" --set cocodiff.l_fine=0.5 --set work_dir="$TMP/wf" --max-steps 2 --log-losses "$TMP/lf" > "$TMP/logf" 2>&1 &&
    [ "$(awk 'NF == 8 { n++ } END { print n + 0 }' "$TMP/lf")" = 2 ] && ! cmp -s "$TMP/lf" "$TMP/l1"
ok $? "l_fine 0.5 (part-token gradients into the backbone): runs, losses logged"
rm -rf "$TMP/wg"
"$TRAIN" --config "$TMP/c.yaml" --set cocodiff.generate=false --set work_dir="$TMP/wg" $S > "$TMP/logg" 2>&1 &&
    [ ! -e "$TMP/wg/features.h5" ] && ! grep -q "generated features" "$TMP/logg"
ok $? "generation off: no measurement, no features.h5"

# --- the part-token dump (1 and 2 ranks) and cocodiff-frozen on it
# one trained model, dumped by a --resume at its end on 1 and on 2 ranks
rm -rf "$TMP/wd1" "$TMP/wd2"
D="--set cocodiff.dump_features=2 --set cocodiff.generate=false $S"
"$TRAIN" --config "$TMP/c.yaml" $D --set work_dir="$TMP/wd1" > "$TMP/logd1" 2>&1 && cp -r "$TMP/wd1" "$TMP/wd2" &&
    rm "$TMP/wd1/parts-"*.h5 "$TMP/wd2/parts-"*.h5 &&
    "$TRAIN" --config "$TMP/c.yaml" $D --set work_dir="$TMP/wd1" --resume >> "$TMP/logd1" 2>&1 &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $D --set work_dir="$TMP/wd2" --resume > "$TMP/logd2" 2>&1
ok $? "cocodiff.dump_features 2 on 1 and 2 ranks"
nr=$(h5ls "$TMP/wd1/parts-train.h5" | awk '$1 == "parts" { print $3 }')
ntrain=$(h5ls "$TMP/ntu60-xsub.h5/train" | awk '$1 == "label" { gsub(/[{}]/, "", $3); print $3 }')
same=0
for f in parts-train parts-test; do
    for ds in parts real label index; do   # every dataset, exactly (the attributes name the work dir)
        h5diff "$TMP/wd1/$f.h5" "$TMP/wd2/$f.h5" /$ds /$ds > /dev/null 2>&1 || same=1
    done
done
[ $same = 0 ] && [ -n "$ntrain" ] && [ "$nr" = "{$((2 * ntrain))," ]
ok $? "parts-train.h5 (2 passes of the $ntrain training samples: $nr) and parts-test.h5: the same on 1 and 2 ranks"
"$REPO/bin/cocodiff-frozen" --config "$TMP/c.yaml" --run "$TMP/wd1" --out "$TMP/fz" --module-steps 40 --module-batch 8 \
    --heads 2 --extra generated --head-epochs 3 > "$TMP/logfz" 2>&1 &&
    jq -e '.text.from_noise >= 0 and .shuffled_text.steer >= 0 and .real_head_top1 >= 0' "$TMP/fz/conditioning.json" > /dev/null &&
    [ "$(grep -c 'generated' "$TMP/fz/heads.tsv")" = 2 ]
ok $? "cocodiff-frozen: the module on the frozen tokens, its probe (conditioning.json), 2 fresh heads (heads.tsv)"
v=$("$REPO/bin/cocodiff-frozen" --version | sed 's/^cocodiff-frozen //')
is "$v|$v|$v $v|build" "$(jq -r '"\(.build)|\(.backbone_builds)"' "$TMP/fz/conditioning.json")|$(awk -F'\t' 'NR > 1 { print $5 }' "$TMP/fz/heads.tsv" | tr '\n' ' ' | sed 's/ $//')|$(head -1 "$TMP/fz/heads.tsv" | cut -f5)" \
    "cocodiff-frozen records its build and the backbone's (conditioning.json), and each head's (heads.tsv)"
is "$v" "$(jq -r .build "$W/diversity.json")" "diversity.json names the build that measured it"

# --- bad text
grep -v '^#' datasets/ntu60/descriptions.tsv | head -4 > "$TMP/three.tsv"
bin/cocodiff-embed --descriptions "$TMP/three.tsv" --out "$TMP/three.h5" > "$TMP/embed3.log" 2>&1
"$TRAIN" --config "$TMP/c.yaml" --set cocodiff.text="$TMP/three.h5" --set work_dir="$TMP/wb" > "$TMP/logb" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "three.h5 has 3 classes.*num_class is 60" "$TMP/logb"
ok $? "a text file of 3 classes for 60: exit 2 naming both counts (rc $rc)"
"$TRAIN" --config "$TMP/c.yaml" --set cocodiff.text=null --set work_dir="$TMP/wb" > "$TMP/logn" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "cocodiff.text is not set" "$TMP/logn"
ok $? "module on without text: exit 2 (rc $rc)"
done_testing
