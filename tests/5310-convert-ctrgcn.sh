#!/bin/bash
# 5310-convert-ctrgcn: official PyTorch CTR-GCN weights through
# scripts/convert_ctrgcn.py into cocodiff-eval and back (issue 14, point 3).
#  - h5py's default string attributes (variable-length UTF-8) are read like
#    our fixed-length ones: a bone checkpoint evaluates as bone, with no
#    HDF5 error stack; an attribute that is not a string is one clear error
#  - to-h5 on the official model's state_dict (saved with DataParallel's
#    'module.' prefix): every tensor lands unchanged, --stream is recorded,
#    and cocodiff-eval's logits equal the official model's on the official
#    NTU feeder's test transform of the same samples
#  - to-pt gives back the same state_dict, which the official Model loads
#    with strict=True; so does a cocodiff-train checkpoint's
# Needs Debian's python3-torch/h5py and a CTR-GCN checkout
# ($COCODIFF_CTRGCN, default ../ref/CTR-GCN next to the repository).
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
PY=/usr/bin/python3
CTRGCN=${COCODIFF_CTRGCN:-$REPO/../ref/CTR-GCN}
$PY -c 'import torch, h5py, numpy' 2> /dev/null || skip_all "python3-torch/h5py/numpy not installed (scripts/install-deps.sh --with-reference)"
[ -f "$CTRGCN/model/ctrgcn.py" ] || skip_all "no CTR-GCN checkout at $CTRGCN (set COCODIFF_CTRGCN)"
plan 14
CONV=$REPO/scripts/convert_ctrgcn.py
OFF=$REPO/scripts/ref/ctrgcn_official.py
EVAL=$REPO/bin/cocodiff-eval

"$REPO/bin/cocodiff-synth" --format ntu --samples 40 --seed 3 --out "$TMP/s.zip" --quiet > /dev/null 2>&1 &&
    "$REPO/bin/cocodiff-prep" --dataset ntu60 --input "$TMP/s.zip" --out "$TMP" > /dev/null 2>&1 ||
    { echo "Bail out! synth/prep failed"; exit 1; }
DATA=$TMP/ntu60-xsub.h5

$PY "$OFF" weights --ctrgcn "$CTRGCN" --out "$TMP/runs-65-100.pt" --module-prefix > "$TMP/w.log" 2>&1
ok $? "the official Model's state_dict, saved with 'module.' keys"
$PY "$CONV" to-h5 "$TMP/runs-65-100.pt" "$TMP/bone.h5" > "$TMP/c0.log" 2>&1
is 2 $? "to-h5 without --stream is a usage error (main.py's files do not say the stream)"
$PY "$CONV" to-h5 "$TMP/runs-65-100.pt" "$TMP/bone.h5" --stream bone > "$TMP/c1.log" 2>&1
ok $? "to-h5 --stream bone: $(cat "$TMP/c1.log")"
$PY - "$TMP/runs-65-100.pt" "$TMP/bone.h5" > "$TMP/same.log" 2>&1 <<'EOF'
import sys, h5py, numpy as np, torch
sd = torch.load(sys.argv[1], map_location="cpu")
with h5py.File(sys.argv[2], "r") as f:
    m = f["model"]
    assert sorted(m) == sorted(k[len("module."):] for k in sd), "key sets differ"
    for k, v in sd.items():
        a, b = m[k[len("module."):]][()], v.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), k
    assert f.attrs["stream"] == b"bone" and f.attrs["graph"] == b"ntu25", dict(f.attrs)
print(len(sd))
EOF
ok $? "every one of the $(tail -1 "$TMP/same.log") tensors equal, dtype and shape kept; stream and graph recorded"

"$EVAL" --checkpoint "$TMP/bone.h5" --data "$DATA" --out "$TMP/ev" > "$TMP/ev.log" 2>&1
ok $? "cocodiff-eval runs the converted checkpoint"
grep -q "stream bone" "$TMP/ev.log"
ok $? "and evaluates it on the bone stream"
r=$($PY "$OFF" eval --ctrgcn "$CTRGCN" --weights "$TMP/runs-65-100.pt" --data "$DATA" --stream bone \
    --scores "$TMP/ev/scores.h5" 2> "$TMP/off.err")
echo "$r" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { exit !(v["samples"] > 0 && v["maxdiff"] <= 1e-5 * v["scale"]) }'
ok $? "every logit equals the official model's on its feeder's test transform ($r)"

# h5py's default: a Python str attribute is a variable-length UTF-8 string.
$PY - "$TMP/bone.h5" "$TMP/vlen.h5" "$TMP/badattr.h5" > /dev/null 2>&1 <<'EOF'
import shutil, sys, h5py, numpy as np
src, vlen, bad = sys.argv[1:4]
shutil.copy(src, vlen); shutil.copy(src, bad)
with h5py.File(vlen, "r+") as f:
    for k in ("format", "stream", "graph"):
        v = f.attrs[k].decode(); del f.attrs[k]; f.attrs[k] = v      # str -> variable-length
    f.attrs["config"] = "work_dir: x\n"
with h5py.File(bad, "r+") as f:
    del f.attrs["stream"]; f.attrs["stream"] = np.int64(1)
EOF
h5dump -A "$TMP/vlen.h5" 2> /dev/null | grep -q "H5T_VARIABLE"
ok $? "the copy holds variable-length string attributes"
"$EVAL" --checkpoint "$TMP/vlen.h5" --data "$DATA" --out "$TMP/ev2" > "$TMP/ev2.log" 2>&1
ok $? "cocodiff-eval reads it"
grep -q "stream bone" "$TMP/ev2.log" && ! grep -q "HDF5-DIAG" "$TMP/ev2.log"
ok $? "as bone, without an HDF5 error stack"
"$EVAL" --checkpoint "$TMP/badattr.h5" --data "$DATA" --out "$TMP/ev3" > "$TMP/ev3.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "attribute 'stream' is not a string" "$TMP/ev3.log" && ! grep -q "HDF5-DIAG" "$TMP/ev3.log" &&
    [ ! -e "$TMP/ev3/scores.h5" ]
ok $? "a stream attribute that is not a string: exit 1 (got $rc), one clear line, no scores"

$PY "$CONV" to-pt "$TMP/vlen.h5" "$TMP/back.pt" > "$TMP/c2.log" 2>&1 &&
    $PY - "$TMP/runs-65-100.pt" "$TMP/back.pt" <<'EOF'
import sys, torch
a, b = (torch.load(p, map_location="cpu") for p in sys.argv[1:3])
assert sorted(k[len("module."):] for k in a) == sorted(b)
assert all(torch.equal(v, b[k[len("module."):]]) and v.dtype == b[k[len("module."):]].dtype for k, v in a.items())
EOF
ok $? "to-pt gives back the same state_dict, tensor for tensor"
$PY "$OFF" load --ctrgcn "$CTRGCN" --weights "$TMP/back.pt" > "$TMP/load.log" 2>&1
ok $? "the official Model loads it with strict=True ($(tail -1 "$TMP/load.log"))"

# A cocodiff-train checkpoint (base width 8: the official model patched to 8).
train_config "$TMP/t.yaml" "$TMP/wd"
"$TRAIN" --config "$TMP/t.yaml" --set train_feeder_args.data_path="$DATA" --set test_feeder_args.data_path="$DATA" \
    --set batch_size=8 --max-steps 1 > "$TMP/train.log" 2>&1 &&
    $PY "$CONV" to-pt "$TMP/wd/checkpoint-last.h5" "$TMP/trained.pt" > "$TMP/c3.log" 2>&1 &&
    $PY "$OFF" load --ctrgcn "$CTRGCN" --base 8 --weights "$TMP/trained.pt" > "$TMP/load2.log" 2>&1
ok $? "a cocodiff-train checkpoint converts to a state_dict the official Model loads ($(cat "$TMP/c3.log"))"
done_testing
