#!/bin/sh
# 5411-cocodiff-probe-scales: cocodiff.probe_scales, the end-of-training
# probe's class-text figures at other guidance scales (cdprobe.h), measured
# again on a FINISHED run (tiny model as tests/5410: 2 epochs of 4 steps,
# cocodiff.refresh 10, generation at cfg_scale 2):
#   without the key, "by_scale" holds the generation scale alone, equal to
#   the probe's class-text figures;
#   the finished run resumed with probe_scales [1, 2, 3] (2 ranks) runs no
#   training or refresh step and leaves the checkpoint as it was; both
#   modules' figures at the generation scale are unchanged, by_scale holds
#   the three scales (the generation scale's = the probe's), the log one
#   line per scale and module, cocodiff-report the table;
#   own text split by the head's verdict on each sample's real feature
#   (own_kept among real_right samples, own_fixed among real_wrong, and
#   their hit counts; own_fixed_stay, the misread left in the real
#   feature's class, at most the rest): in every figures object of both modules, with and
#   without probe_scales, own = (right * kept + wrong * fixed) / n exactly in
#   the stored counts (and to the printed precision in the shares); the log
#   and the report show the split;
#   own text at the trainer's generation noise (own_tgen_*: generations
#   from a t drawn per sample in t_gen_steps, cocodiff.t_gen's default
#   [50, 200] of 1000 steps): the same identity from its stored counts in
#   every figures object; the log and the report show it; against what the
#   trainer generates: the co-trained module's own text at t_gen at its
#   generation scale is within 3 of the 42 samples of diversity.json's
#   generated_head_top1 (the head on the features the trainer's own
#   generation makes: the same range and scale, other draws);
#   1 vs 2 ranks: the same resumed probe gives the same figures up to what
#   the test features' last bits move (the eval forward of 1 and 2 ranks
#   differs in rounding, and this tiny untrained model's near-ties flip a
#   sample's class): within 2 of the 42 samples, swap within 10%;
#   killed after diversity.json.partial is written and before it replaces
#   diversity.json: the old file stands whole; rerun, the new one is in place;
#   a scale <= 0 is refused with the key named.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
command -v jq > /dev/null || skip_all "jq not installed"
plan 10
module_setup
S="$MODULE_RUN
   --set cocodiff.refresh=10 --set cocodiff.cfg_scale=2"
P="--set cocodiff.probe_scales=[1,2,3]"
W=$TMP/w
# the figures of both modules less by_scale, and by_scale alone
at_gen() { jq -c '[.conditioning, .conditioning_refreshed] | map(del(.by_scale))' "$1"; }
scales() { jq -c '[.conditioning, .conditioning_refreshed] | map(.by_scale)' "$1"; }

run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S > "$TMP/log-gen" 2>&1 && cp -r "$W" "$TMP/done" &&
    jq -e '[.conditioning, .conditioning_refreshed] | all(.guidance_scale == 2 and (.by_scale | length) == 1 and
           .by_scale[0].guidance_scale == 2 and (.by_scale[0] | del(.guidance_scale)) == .text)' "$W/diversity.json" > /dev/null
ok $? "a finished run (2 ranks): by_scale holds the generation scale 2 alone, the probe's class-text figures"

run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S $P --resume > "$TMP/log-p2" 2>&1 &&
    ! grep -q '^train | epoch [0-9]*/2 | step\|refresh | step' "$TMP/log-p2" &&
    cmp "$TMP/done/checkpoint-last.h5" "$W/checkpoint-last.h5" && cmp "$TMP/done/metrics.jsonl" "$W/metrics.jsonl"
ok $? "resumed with probe_scales [1, 2, 3]: no training or refresh step; checkpoint and metrics untouched"
cp "$W/diversity.json" "$TMP/p2.json"
[ "$(at_gen "$TMP/done/diversity.json")" = "$(at_gen "$W/diversity.json")" ] &&
    jq -e '[.conditioning, .conditioning_refreshed] | all((.by_scale | map(.guidance_scale)) == [1, 2, 3] and
           (.by_scale[1] | del(.guidance_scale)) == .text and .by_scale[0] != .by_scale[2] and
           (.by_scale | all(.steer >= 0 and .steer <= 1 and .from_noise >= 0 and .from_noise <= 1)))' \
        "$W/diversity.json" > /dev/null
ok $? "both modules' figures at the generation scale unchanged; by_scale at 1, 2, 3 (2 = the probe's)"
# own = (right * kept + wrong * fixed) / n in every figures object of both modules
own_split() {
    jq -e '[.conditioning, .conditioning_refreshed] | all(. as $m | $m.samples as $n
        | ($m.real_right + $m.real_wrong) == $n and $m.real_right == ($m.real_head_top1 * $n | round)
        and ([.text, .shuffled_text, .random_text] + .by_scale | all(
            (.own_kept_hits + .own_fixed_hits) == (.own_head_top1 * $n | round)
            and (.own_kept_hits <= $m.real_right) and (.own_fixed_hits <= $m.real_wrong)
            and (if $m.real_right > 0 then ((.own_kept - .own_kept_hits / $m.real_right) | fabs) < 1e-6
                 else .own_kept == null end)
            and (if $m.real_wrong > 0 then ((.own_fixed - .own_fixed_hits / $m.real_wrong) | fabs) < 1e-6
                 and ((.own_fixed_stay - .own_fixed_stay_hits / $m.real_wrong) | fabs) < 1e-6
                 else .own_fixed == null and .own_fixed_stay == null end)
            and (.own_fixed_hits + .own_fixed_stay_hits <= $m.real_wrong)
            and ((($m.real_right * (.own_kept // 0) + $m.real_wrong * (.own_fixed // 0)) / $n - .own_head_top1)
                 | fabs) < 1e-6)))' "$1" > /dev/null
}
# the same at the trainer's t_gen (own_tgen_*)
own_tgen_split() {
    jq -e '[.conditioning, .conditioning_refreshed] | all(. as $m | $m.samples as $n | $m.t_gen_steps == [50, 200]
        and ([.text, .shuffled_text, .random_text] + .by_scale | all(
            (.own_tgen_kept_hits + .own_tgen_fixed_hits) == (.own_tgen_head_top1 * $n | round)
            and (.own_tgen_kept_hits <= $m.real_right)
            and (.own_tgen_fixed_hits + .own_tgen_fixed_stay_hits <= $m.real_wrong)
            and (if $m.real_right > 0 then ((.own_tgen_kept - .own_tgen_kept_hits / $m.real_right) | fabs) < 1e-6
                 else .own_tgen_kept == null end)
            and (if $m.real_wrong > 0 then ((.own_tgen_fixed - .own_tgen_fixed_hits / $m.real_wrong) | fabs) < 1e-6
                 and ((.own_tgen_fixed_stay - .own_tgen_fixed_stay_hits / $m.real_wrong) | fabs) < 1e-6
                 else .own_tgen_fixed == null and .own_tgen_fixed_stay == null end))))' "$1" > /dev/null
}
own_split "$TMP/done/diversity.json" && own_split "$W/diversity.json" &&
    grep -q '^train | conditioning, class texts: .*(real [0-9.]*%; kept [0-9.-]*%* of [0-9]*, fixed [0-9.-]*%* of [0-9]* (stay [0-9.-]*%*); t ' \
        "$TMP/log-p2" &&
    [ "$(jq '.conditioning.real_right + .conditioning.real_wrong' "$W/diversity.json")" = 42 ]
ok $? "own text split into kept and fixed: own = (right * kept + wrong * fixed) / n from the stored counts, both modules, every scale and control ($(jq -r '.conditioning_refreshed | "\(.real_right) right, \(.real_wrong) wrong; refreshed, class texts: kept \(.text.own_kept_hits), fixed \(.text.own_fixed_hits)"' "$W/diversity.json"))"
own_tgen_split "$TMP/done/diversity.json" && own_tgen_split "$W/diversity.json" &&
    grep -q '^train | conditioning, class texts: .*; t [0-9]*, chance [0-9.]*%); own text at t_gen 50-200: [0-9.]*% (kept [0-9.-]*%* of [0-9]*, fixed [0-9.-]*%* of [0-9]* (stay [0-9.-]*%*))$' \
        "$TMP/log-p2" &&
    jq -e '((.conditioning.text.own_tgen_head_top1 - .generated_head_top1) | fabs) <= 3 / 42 + 1e-6' \
        "$W/diversity.json" > /dev/null
ok $? "own text at t_gen [50, 200]: own_tgen = (right * kept + wrong * fixed) / n from the stored counts, everywhere; in the log; co-trained at scale 2 against the trainer's generations ($(jq -r '"\(.conditioning.text.own_tgen_head_top1 * 42 | round) against \(.generated_head_top1 * 42 | round) of 42; from t_probe \(.conditioning.text.own_head_top1 * 42 | round), real \(.real_head_top1 * 42 | round)"' "$W/diversity.json"))"
n=$(grep -c '^train | conditioning at guidance scale [123], \(co-trained\|refreshed\) module, class texts: swap.*kept [0-9.-]*%* of [0-9]*, fixed' "$TMP/log-p2")
[ "$n" = 6 ] && grep -q '^train | conditioning at guidance scale 1, refreshed module.*generation scale 2)' "$TMP/log-p2"
ok $? "the log: one line per scale and module ($n)"
"$REPO/bin/cocodiff-report" --run "$W" --out "$TMP/r.html" > "$TMP/r.log" 2>&1 &&
    [ "$(grep -o 'class texts at guidance scale' "$TMP/r.html" | wc -l)" = 2 ] && grep -q '<th>2 (generation)</th>' "$TMP/r.html" &&
    [ "$(grep -o '<th>own text, kept' "$TMP/r.html" | wc -l)" = 4 ] &&
    [ "$(grep -o '<th>own text at t_gen</th><th>at t_gen, kept</th><th>at t_gen, fixed</th>' "$TMP/r.html" | wc -l)" = 4 ] &&
    grep -q 'noised to a t drawn per sample in \[50, 200\]' "$TMP/r.html"
ok $? "cocodiff-report: a by-scale table for each module, own text's split and own text at t_gen in every table"

rm -rf "$TMP/w1" && cp -r "$TMP/done" "$TMP/w1"
run_mpi 1 "$TRAIN" --config "$TMP/c.yaml" $S $P --set work_dir="$TMP/w1" --resume > "$TMP/log-p1" 2>&1 &&
    jq -e --slurpfile b "$TMP/p2.json" '[.conditioning, .conditioning_refreshed] as $a
        | [$b[0].conditioning, $b[0].conditioning_refreshed] as $c | [range(2) as $m | range(3) as $i
        | $a[$m].by_scale[$i] as $x | $c[$m].by_scale[$i] as $y
        | $x.guidance_scale == $y.guidance_scale and ([$x.steer - $y.steer, $x.own_head_top1 - $y.own_head_top1,
          $x.from_noise - $y.from_noise] | map(fabs) | max) <= 2 / 42 + 1e-6
          and ([$x.own_kept_hits - $y.own_kept_hits, $x.own_fixed_hits - $y.own_fixed_hits,
                $x.own_tgen_kept_hits - $y.own_tgen_kept_hits, $x.own_tgen_fixed_hits - $y.own_tgen_fixed_hits,
                $a[$m].real_right - $c[$m].real_right] | map(fabs) | max) <= 2
          and (($x.own_tgen_head_top1 - $y.own_tgen_head_top1) | fabs) <= 2 / 42 + 1e-6
          and (($x.swap - $y.swap) | fabs) <= 0.1 * $y.swap] | all' "$TMP/w1/diversity.json" > /dev/null
ok $? "1 vs 2 ranks: the resumed probe's figures at every scale agree (within 2 of 42 samples, as printed, kept and fixed hits too, at t_probe and at t_gen; swap 10%)"

cp "$W/diversity.json" "$TMP/before.json"
COCODIFF_TEST_KILL_AT=diversity@0 run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set "cocodiff.probe_scales=[1.5]" \
    --resume > "$TMP/log-k" 2>&1
k=$?
cmp "$TMP/before.json" "$W/diversity.json" && [ -s "$W/diversity.json.partial" ] && [ $k != 0 ] &&
    run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set "cocodiff.probe_scales=[1.5]" --resume > "$TMP/log-k2" 2>&1 &&
    [ ! -e "$W/diversity.json.partial" ] && jq -e '.conditioning_refreshed.by_scale | map(.guidance_scale) == [1.5]' \
        "$W/diversity.json" > /dev/null && [ "$(at_gen "$TMP/done/diversity.json")" = "$(at_gen "$W/diversity.json")" ]
ok $? "killed between diversity.json.partial and its rename: the old file whole; rerun: the new one (exit $k)"

run_mpi 2 "$TRAIN" --config "$TMP/c.yaml" $S --set "cocodiff.probe_scales=[1,0]" --resume > "$TMP/log-bad" 2>&1
rc=$?
[ $rc = 2 ] && grep -q 'cocodiff.probe_scales entry 2 is 0' "$TMP/log-bad"
ok $? "probe_scales [1, 0] refused (exit $rc) with the entry named"
done_testing
