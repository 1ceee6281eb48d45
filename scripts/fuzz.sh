#!/bin/bash
# scripts/fuzz.sh [TARGET...] - runs the libFuzzer targets built by
# `make fuzz-build` (build/fuzz/fuzz_TARGET), FUZZ_SECONDS each (default 60).
#
# Seeds (build/fuzz/seeds/TARGET/, made once; rm -rf build/fuzz/seeds to
# remake): small synthetic samples from bin/cocodiff-synth, -prep, -train,
# -eval, -embed; the real data of ../shared/data/real (NTU .skeleton files,
# Kinetics clips and the val label file) and a few NW-UCLA sequences of
# ../shared/data/ucla/all_sqe.zip, copied when they exist, never into the
# repository; the repository's job configs, descriptions and
# class lists. Long samples are cut to a few frames so the fuzzer mutates
# the structure rather than thousands of numbers. What the fuzzer finds
# grows build/fuzz/corpus/TARGET/ (kept between runs).
#
# A crash, leak, timeout or out-of-memory stops that target with the input in
# build/fuzz/crashes/TARGET/; the script goes on with the others and exits 1
# at the end. One kind is not ours and does not fail the run: a
# use-after-free that libhdf5 commits on memory libhdf5 allocated and freed
# itself (its parser on a corrupted object header; seen in 1.10.8's
# H5Aexists), and the same bug when the freed memory was already returned
# to the system: a SEGV on a READ whose stack, past libc's mem* and the
# sanitizer's interceptor, is libhdf5 all the way up to our call of
# H5Aexists (which takes no buffer of ours, only a name). Its input goes to
# build/fuzz/hdf5-bugs/TARGET/ (to report upstream) and the target goes on
# for the rest of its time. A report that involves our code or our buffers
# anywhere in those stacks still fails. Last line: "fuzz: TARGET=EXECS ...
# crashes=N hdf5_bugs=M".
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-60}
REAL=${COCODIFF_REAL_DATA:-$REPO/../shared/data/real}
[ -d "$REAL" ] || REAL=""
UCLA_ZIP=${UCLA_ZIP:-$REPO/../shared/data/ucla/all_sqe.zip}
B=$REPO/build/fuzz
S=$B/seeds
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//'))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

# --- seed helpers
# ntu_cut IN OUT K: the first K frames of a .skeleton file, numFrame set to K
# (line ends kept: LF or CRLF)
ntu_cut() {
    awk -v K="$3" '
        function out(s) { printf "%s%s\n", s, cr ? "\r" : "" }
        { cr = sub(/\r$/, "") }
        NR == 1 { out(K); next }
        state == "" { state = "frame" }
        state == "frame" { if (f >= K) exit; f++; bodies = $1 + 0; out($0); b = 0; state = bodies > 0 ? "body" : "frame"; next }
        state == "body" { out($0); state = "jc"; next }
        state == "jc" { out($0); left = $1 + 0; state = left > 0 ? "joint" : "next"; if (left > 0) next }
        state == "joint" { out($0); if (--left > 0) next; state = "next" }
        state == "next" { b++; state = b < bodies ? "body" : "frame" }' "$1" > "$2"
}
# kin_cut IN OUT K: a Kinetics clip with its first K frames
kin_cut() { jq -c --argjson k "$3" '.data |= .[:$k]' "$1" > "$2"; }
# st_seed OUT HEADER DATA_BYTES: a safetensors file (u64 LE header length)
st_seed() {
    local n=${#2}
    printf "$(printf '\\%03o' $((n & 255)) $((n >> 8 & 255)) 0 0 0 0 0 0)" > "$1"
    printf '%s' "$2" >> "$1"
    head -c "$3" /dev/urandom >> "$1"
}

make_seeds() {
    local t=$S/tmp
    rm -rf "$S" && mkdir -p "$t" "$S"/{ntu,kinetics_clip,kinetics_labels,archive,config,descriptions,safetensors,h5,ucla} || return 1
    echo "fuzz | making seeds in $S"
    # synthetic NTU and Kinetics members, cut to 4 frames
    bin/cocodiff-synth --format ntu --samples 60 --seed 11 --out "$t/ntu.zip" --quiet > "$t/log" 2>&1 &&
        bin/cocodiff-synth --format kinetics --samples 24 --seed 11 --out "$t/kin.tar.gz" --quiet >> "$t/log" 2>&1 &&
        mkdir -p "$t/ntu" "$t/kin" && bsdtar -xf "$t/ntu.zip" -C "$t/ntu" && bsdtar -xf "$t/kin.tar.gz" -C "$t/kin" ||
        { echo "fuzz: synthetic samples failed (see $t/log)" >&2; return 1; }
    local i=0
    for f in $(find "$t/ntu" -name '*.skeleton' | sort | head -4); do
        ntu_cut "$f" "$S/ntu/synth-$i.skeleton" 13; i=$((i + 1)); done
    i=0
    for f in $(find "$t/kin" -name '*.json' ! -name '*label*' | sort | head -4); do
        kin_cut "$f" "$S/kinetics_clip/synth-$i.json" 3; i=$((i + 1)); done
    for f in $(find "$t/kin" -name '*label*.json'); do
        jq -c 'to_entries[:6] | from_entries' "$f" > "$S/kinetics_labels/synth-$(basename "$f")"; done
    if [ -n "$REAL" ]; then   # real data: copies, cut, under build/ only
        for f in "$REAL"/ntu/*.skeleton; do [ -f "$f" ] && ntu_cut "$f" "$S/ntu/real-$(basename "$f")" 13; done
        for f in "$REAL"/kinetics/*.json; do [ -f "$f" ] && kin_cut "$f" "$S/kinetics_clip/real-$(basename "$f")" 2; done
        [ -f "$REAL/lists/kinetics_val_label.json" ] &&
            jq -c 'to_entries[:8] | from_entries' "$REAL/lists/kinetics_val_label.json" > "$S/kinetics_labels/real-val.json"
        for f in "$REAL"/lists/*_classes.txt; do [ -f "$f" ] && head -n 12 "$f" > "$S/descriptions/real-$(basename "$f")"; done
    fi
    # NW-UCLA: a few real sequences cut to 3 frames, a line with the member
    # path first (fuzz_ucla.c parses the name from it, the JSON parser skips
    # nothing: the path line makes most of them malformed, so also plain ones)
    if [ -f "$UCLA_ZIP" ]; then
        for m in $(unzip -Z1 "$UCLA_ZIP" 2>/dev/null | sed -n 's|^all_sqe/\(a[0-9_sev]*\)\.json$|\1|p' | sort |
                   awk -F_v '!seen[$2]++' | head -3); do   # one sequence of each view
            unzip -p "$UCLA_ZIP" "all_sqe/$m.json" 2>/dev/null | jq -c '.skeletons |= .[:3]' > "$t/$m.json" || continue
            [ -s "$t/$m.json" ] || continue
            cp "$t/$m.json" "$S/ucla/real-$m.json"
            { echo "all_sqe/$m.json"; cat "$t/$m.json"; } > "$S/ucla/real-$m.path"
        done
        (cd "$t" && ls a*.json > /dev/null 2>&1 && mkdir -p all_sqe && cp a*.json all_sqe/ &&
            bsdtar -a -cf "$t/ucla.zip" all_sqe && cp "$t/ucla.zip" "$S/archive/ucla.zip")
    fi
    # archives of cut members, in the formats prep meets
    mkdir -p "$t/a/nturgb+d_skeletons" "$t/a/kinetics_val"
    cp "$S"/ntu/synth-0.skeleton "$t/a/nturgb+d_skeletons/S001C001P001R001A001.skeleton"
    cp "$S"/kinetics_clip/synth-0.json "$t/a/kinetics_val/abc.json"
    (cd "$t/a" && bsdtar -a -cf "$S/archive/s.zip" . && bsdtar -cf "$S/archive/s.tar" . &&
        bsdtar -a -cf "$S/archive/s.tar.gz" . && bsdtar -a -cf "$S/archive/s.tar.bz2" . &&
        bsdtar -a -cf "$S/archive/s.tar.xz" . && bsdtar --format 7zip -cf "$S/archive/s.7z" .) ||
        echo "fuzz: some archive formats could not be written" >&2
    # configs and descriptions from the repository
    cp jobs/*.yaml tests/data/config/*.yaml "$S/config/" 2>/dev/null
    for f in datasets/*/descriptions.tsv; do
        head -n 8 "$f" > "$S/descriptions/$(basename "$(dirname "$f")").tsv"; done
    # safetensors: hand-made small files, and the CLIP test model
    st_seed "$S/safetensors/a.st" '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},"c":{"dtype":"BF16","shape":[],"data_offsets":[22,24]}}' 24
    st_seed "$S/safetensors/b.st" '{"x":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]}}' 8
    cp tests/data/clip/model.safetensors "$S/safetensors/clip-test.safetensors"
    # HDF5: one tiny file of each kind, prefixed with the reader's byte (fuzz_h5.c)
    local c=$t/c.yaml
    bin/cocodiff-synth --format ntu --samples 6 --seed 5 --out "$t/n6.zip" --quiet >> "$t/log" 2>&1 &&
        bin/cocodiff-prep --dataset ntu60 --input "$t/n6.zip" --out "$t/p" >> "$t/log" 2>&1 ||
        { echo "fuzz: prep failed (see $t/log)" >&2; return 1; }
    cat > "$c" <<YAML
work_dir: $t/w
feeder: feeders.feeder_ntu.Feeder
train_feeder_args: {data_path: $t/p/ntu60-xsub.h5, window_size: 8}
test_feeder_args: {data_path: $t/p/ntu60-xsub.h5, window_size: 8}
model: model.ctrgcn.Model
model_args: {num_class: 60, num_point: 25, num_person: 2, graph: graph.ntu_rgb_d.Graph}
batch_size: 2
test_batch_size: 2
num_epoch: 1
cocodiff: {base_channel: 8, module: true, text: $t/emb.h5, latent_dim: 16, heads: 2, blocks: 1}
YAML
    bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out "$t/emb.h5" >> "$t/log" 2>&1 &&
        bin/cocodiff-train --config "$c" >> "$t/log" 2>&1 &&
        bin/cocodiff-eval --checkpoint "$t/w/checkpoint-last.h5" --data "$t/p/ntu60-xsub.h5" --out "$t/e" >> "$t/log" 2>&1 ||
        echo "fuzz: some HDF5 seeds could not be made (see $t/log)" >&2
    [ -f "$t/ucla.zip" ] && bin/cocodiff-prep --dataset ucla --input "$t/ucla.zip" --out "$t/pu" >> "$t/log" 2>&1 &&
        printf '\005' | cat - "$(ls "$t"/pu/*.h5 | head -1)" > "$S/h5/kind0-ucla.h5"   # 5 % 5 = reader 0
    # the prep file is mostly zero padding: gzip its datasets (h5repack) so
    # the image is small and still a valid prep file for the readers
    h5repack -f GZIP=6 "$t/p/ntu60-xsub.h5" "$t/p/small.h5" >> "$t/log" 2>&1 || cp "$t/p/ntu60-xsub.h5" "$t/p/small.h5"
    local k=0
    for f in "$t/p/small.h5" "$t/e/scores.h5" "$t/w/features.h5" "$t/emb.h5" "$t/w/checkpoint-last.h5"; do
        [ -f "$f" ] && { printf "$(printf '\\%03o' $k)" | cat - "$f" > "$S/h5/kind$k.h5"; }
        k=$((k + 1))
    done
    [ -n "${FUZZ_KEEP_SEEDS_TMP:-}" ] || rm -rf "$t"
}

[ -d "$S/h5" ] || make_seeds || exit 1

declare -A MAXLEN=([ntu]=81920 [kinetics_clip]=16384 [kinetics_labels]=8192 [archive]=131072 [config]=8192
                   [descriptions]=8192 [safetensors]=8192 [h5]=1228800 [ucla]=16384)
# hdf5_own_bug LOG: true when the sanitizer's report in LOG is HDF5
# reading memory it freed itself: a heap-use-after-free whose access, free
# and allocation all happen in libhdf5 (the first frame of each stack that
# is not a sanitizer interceptor or allocator), or a SEGV on a READ whose
# stack, past libc's mem* and the interceptors, runs in libhdf5 up to
# H5Aexists, where our code called it (the same bug once the freed pages
# are gone; valgrind on the unsanitized replay reads "inside an unallocated
# block" there).
hdf5_own_bug() {
    awk '
        /ERROR: AddressSanitizer: heap-use-after-free/ { uaf = 1 }
        /ERROR: AddressSanitizer: SEGV on unknown address/ { segv = 1 }
        /The signal is caused by a READ memory access/ { sec = "crash"; next }
        /^(READ|WRITE) of size/ { sec = "access"; next }
        /^freed by thread/ { sec = "freed"; next }
        /^previously allocated by thread/ { sec = "alloc"; next }
        /^[[:space:]]*$/ { sec = "" }
        /^[[:space:]]*#[0-9]+ / && sec == "crash" && !done {
            if ($0 ~ / in (__interceptor_[A-Za-z0-9_]*|__mem[a-z0-9_]*) /) next
            if ($0 ~ /libhdf5/) { inlib = 1; last = $0; next }
            done = 1
        }
        /^[[:space:]]*#[0-9]+ / && sec != "" && sec != "crash" && !(sec in first) {
            if ($0 ~ / in (__interceptor_[A-Za-z0-9_]*|malloc|calloc|realloc|free|posix_memalign) /) next
            first[sec] = $0
        }
        END {
            if (uaf && first["access"] ~ /libhdf5/ && first["freed"] ~ /libhdf5/ && first["alloc"] ~ /libhdf5/) exit 0
            exit !(segv && inlib && done && last ~ / in H5Aexists /)
        }
    ' "$1"
}

summary="" crashes=0 hdf5_bugs=0
for name in "${targets[@]}"; do
    bin=$B/fuzz_$name
    [ -x "$bin" ] || { echo "fuzz: $bin not built (make fuzz-build)" >&2; crashes=$((crashes + 1)); continue; }
    corpus=$B/corpus/$name art=$B/crashes/$name
    mkdir -p "$corpus" "$art"
    log=$B/$name.log
    echo "fuzz | $name: ${SECONDS_EACH}s, seeds $(ls "$S/$name" | wc -l), corpus $(ls "$corpus" | wc -l)"
    end=$((SECONDS + SECONDS_EACH)) total=0
    while :; do
        ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 LSAN_OPTIONS=suppressions=$REPO/fuzz/lsan.supp \
        "$bin" "$corpus" "$S/$name" -max_total_time="$((end > SECONDS ? end - SECONDS : 1))" \
            -max_len="${MAXLEN[$name]:-65536}" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
            -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$art/" > "$log" 2>&1 &
        pid=$!
        wait $pid
        rc=$?
        rm -f "/dev/shm/cocodiff-fuzz-$pid.h5" "${TMPDIR:-/tmp}/cocodiff-fuzz-$pid.h5"   # fuzz_h5's file if it stopped inside
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        total=$((total + ${execs:-0}))
        [ $rc -ne 0 ] && hdf5_own_bug "$log" || break
        hdf5_bugs=$((hdf5_bugs + 1))
        mkdir -p "$B/hdf5-bugs/$name"
        mv "$art"/* "$B/hdf5-bugs/$name/" 2> /dev/null
        cp "$log" "$B/hdf5-bugs/$name/$(date +%Y%m%d-%H%M%S)-$pid.log"
        echo "fuzz | $name: libhdf5 read memory it had freed itself (HDF5's bug, not ours) after ${execs:-?}" \
             "executions; input and report in $B/hdf5-bugs/$name/; going on" >&2
        [ $SECONDS -lt "$end" ] || { rc=0; break; }
    done
    execs=$total
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    summary="$summary $name=${execs:-0}"
    if [ $rc -ne 0 ]; then
        crashes=$((crashes + 1))
        echo "fuzz | $name: FAILED (exit $rc) after ${execs:-?} executions; input in $art/, log $log" >&2
        grep -m1 -A12 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error" "$log" >&2
    else
        echo "fuzz | $name: ${execs:-?} executions, coverage ${cov:-?}, corpus $(ls "$corpus" | wc -l)"
    fi
done
echo "fuzz:$summary crashes=$crashes hdf5_bugs=$hdf5_bugs"
[ $crashes -eq 0 ]
