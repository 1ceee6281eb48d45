#!/usr/bin/python3
"""CTR-GCN weights between PyTorch and CoCoDiff-C, both ways.

  convert_ctrgcn.py to-h5 WEIGHTS.pt OUT.h5 --stream joint|bone|joint_motion|bone_motion
  convert_ctrgcn.py to-pt CKPT.h5 OUT.pt

to-h5 reads the state_dict CTR-GCN's main.py saves (runs-EPOCH-STEP.pt; also
a dict holding it under 'state_dict', 'model' or 'weights', and keys with
DataParallel's 'module.' prefix, which main.py strips the same way) and
writes a checkpoint cocodiff-eval and `weights:` read: /model/<key> with the
same shapes and dtypes, and the attributes format, format_version, epoch,
step, stream and graph. main.py's file names do not say which stream a
model was trained on, so --stream is required: evaluating a bone model on
joint input gives wrong scores, not an error.

to-pt writes the /model tensors of a cocodiff-train checkpoint (or of a
converted one) as a state_dict that the official model/ctrgcn.py Model loads
with load_state_dict(strict=True) and main.py takes as `weights:`. A
training checkpoint's CoCoDiff module (/cocodiff) and optimizer state are
left out: inference needs the backbone and head only.

Needs Debian's python3-torch, python3-h5py and python3-numpy.
"""
import argparse
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")
GRAPHS = {25: "ntu25", 18: "openpose18", 20: "ucla20"}   # joints (l1.gcn1.PA) -> our graph name
FORMAT, FORMAT_VERSION = "cocodiff-checkpoint", 1


def fail(msg):
    sys.exit("convert_ctrgcn: " + msg)


def state_dict_of(obj, path):
    for key in ("state_dict", "model", "weights"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        fail("%s: not a state_dict (a dict of tensors)" % path)
    return OrderedDict((k.split("module.")[-1], v) for k, v in obj.items())


def to_h5(src, dst, stream):
    sd = state_dict_of(torch.load(src, map_location="cpu"), src)
    for need in ("fc.weight", "l1.gcn1.PA", "data_bn.weight"):
        if need not in sd:
            fail("%s: no '%s': not a CTR-GCN state_dict" % (src, need))
    joints = sd["l1.gcn1.PA"].shape[1]
    if joints not in GRAPHS:
        fail("%s: %d joints; CoCoDiff-C has the graphs for %s" % (src, joints, sorted(GRAPHS)))
    with h5py.File(dst, "w") as f:
        # Fixed-length strings, as the C writer stores them (it reads both kinds).
        f.attrs["format"] = np.bytes_(FORMAT)
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["epoch"] = np.int64(0)
        f.attrs["step"] = np.int64(0)
        f.attrs["stream"] = np.bytes_(stream)
        f.attrs["graph"] = np.bytes_(GRAPHS[joints])
        g = f.create_group("model")
        for k, v in sd.items():
            a = v.detach().cpu().numpy()
            if a.dtype == np.float64 or a.dtype == np.float16:
                a = a.astype(np.float32)
            if a.dtype not in (np.float32, np.int64):
                fail("%s: tensor %s is %s; the checkpoint holds float32 and int64" % (src, k, a.dtype))
            g.create_dataset(k, data=a)
    print("convert_ctrgcn: %s -> %s: %d tensors, %d classes, %d joints (%s), stream %s"
          % (src, dst, len(sd), sd["fc.weight"].shape[0], joints, GRAPHS[joints], stream))


def to_pt(src, dst):
    with h5py.File(src, "r") as f:
        if "model" not in f:
            fail("%s: no /model group: not a checkpoint" % src)
        fmt = f.attrs.get("format")
        if fmt is not None and (fmt.decode() if isinstance(fmt, bytes) else str(fmt)) != FORMAT:
            fail("%s: format is '%s', not %s" % (src, fmt, FORMAT))
        sd = OrderedDict((k, torch.from_numpy(np.array(f["model"][k][()]))) for k in f["model"])
        skipped = [g for g in f if g != "model"]
    torch.save(sd, dst)
    print("convert_ctrgcn: %s -> %s: %d tensors%s" % (src, dst, len(sd),
          " (left out: /%s)" % ", /".join(skipped) if skipped else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-h5", help="PyTorch state_dict (.pt) -> CoCoDiff-C checkpoint (.h5)")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("--stream", required=True, choices=STREAMS,
                   help="the stream the model was trained on (bone: the config's bone: True, ...)")
    b = sub.add_parser("to-pt", help="CoCoDiff-C checkpoint (.h5) -> PyTorch state_dict (.pt)")
    b.add_argument("src")
    b.add_argument("dst")
    o = p.parse_args()
    if o.cmd == "to-h5":
        to_h5(o.src, o.dst, o.stream)
    else:
        to_pt(o.src, o.dst)


if __name__ == "__main__":
    main()
