#!/usr/bin/python3
"""make_feeder_reference.py - reference data for the C feeder (src/data/feeder.c).

PURPOSE: run the OFFICIAL CTR-GCN test-split feeder (feeders/feeder_ntu.py
Feeder, which calls feeders/tools.py valid_crop_resize and uses
feeders/bone_pairs.py; all imported by path from the checkout given with
--ctrgcn, nothing of it copied here) on a few synthetic NTU samples and write
what tests/2100-feeder.c compares with:

  input_LNNN.bin     (3, NNN, 25, 2)  the sample's valid frames (the rest of
                                      its 300 frames are zero)
  joint_LNNN.bin     (3, 64, 25, 2)   Feeder(p_interval=[0.95], window 64)
  bone_LNNN.bin      (3, 64, 25, 2)   ... bone=True
  vel_LNNN.bin       (3, 64, 25, 2)   ... vel=True
  bonevel_LNNN.bin   (3, 64, 25, 2)   ... bone=True, vel=True

  rot_angles.bin     (8, 3)           angles about x, y, z (the first three
                                      about one axis each)
  rot_matrix.bin     (8, 3, 3)        tools._rot of those angles

for NNN in 40, 64, 150, 300 (values from numpy seed 20261125; sample L064
has its second body all zero, as NTU60 single-actor samples do), and

  kinetics_<id>.bin  (3, 64, 18, 2)  the same Feeder.__getitem__ (test split,
                                     joint) on each real Kinetics clip as
                                     ST-GCN's Feeder_kinetics stores it
                                     (--prep-ref: tests/data/ref/kinetics_*.ref,
                                     made by make_prep_reference.py)

These clips have empty frames between non-empty ones: the official feeder's
valid-frame COUNT is used as the crop's END (valid_crop_resize: begin 0,
end valid_frame_num), so a clip's frames after that many are never seen.
The C feeder must do the same (it follows the official code, whatever one
thinks of it on gapped data). Each .bin:
int32 magic 20261125, int32 version 1, int32 ndim, int32 dims[ndim], then
float32 data in C order.

The Feeder reads an .npz with x_test (N, 300, 150) in the official
(frames, M*75 + V*3 + C) layout and one-hot y_test; this script writes one to
a temporary folder. The test split has no randomness (centre crop, no
rotation), so the outputs are deterministic.

USAGE (system python with torch and numpy):
  /usr/bin/python3 scripts/ref/make_feeder_reference.py --ctrgcn /tmp/ref/ctrgcn \
      --prep-ref tests/data/ref --out tests/data/feeder

feeders/tools.py imports matplotlib.pyplot (unused by the functions called);
matplotlib is not installed, so an empty stand-in module is registered.
"""
import argparse
import os
import struct
import sys
import tempfile
import types

import numpy as np
import torch

MAGIC = 20261125
VERSION = 1
SEED = 20261125
LENGTHS = (40, 64, 150, 300)
C, T, V, M = 3, 300, 25, 2
WINDOW = 64
P_TEST = [0.95]
STREAMS = (("joint", False, False), ("bone", True, False), ("vel", False, True),
           ("bonevel", True, True))


def write_bin(path, a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", MAGIC, VERSION, a.ndim))
        f.write(struct.pack("<%di" % a.ndim, *a.shape))
        f.write(a.tobytes())


def load_feeder(ctrgcn):
    if "matplotlib" not in sys.modules:
        mpl = types.ModuleType("matplotlib")
        mpl.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules["matplotlib"] = mpl
        sys.modules["matplotlib.pyplot"] = mpl.pyplot
    sys.path.insert(0, os.path.abspath(ctrgcn))
    from feeders import tools  # noqa: E402  (the official helpers)
    from feeders.feeder_ntu import Feeder  # noqa: E402  (the official feeder)
    return Feeder, tools


def make_samples():
    rng = np.random.RandomState(SEED)
    xs = []
    for L in LENGTHS:
        x = np.zeros((C, T, V, M), np.float32)
        x[:, :L] = (rng.standard_normal((C, L, V, M)) * 0.5).astype(np.float32)
        if L == 64:
            x[:, :, :, 1] = 0
        xs.append(x)
    return xs


def read_ref(path):
    with open(path, "rb") as f:
        b = f.read()
    magic, version, ndim = struct.unpack("<3i", b[:12])
    assert magic == MAGIC and version == VERSION, path
    dims = struct.unpack("<%di" % ndim, b[12:12 + 4 * ndim])
    return np.frombuffer(b[12 + 4 * ndim:], "<f4").reshape(dims)


def kinetics_test_path(Feeder, prep_ref, out):
    """The official Feeder.__getitem__ (test split, joint stream) on the real
    Kinetics clips. feeder_ntu.Feeder.load_data reads only NTU's 25-joint npz
    layout, so the instance is given its (N, C, T, V, M) data directly; the
    transform itself is the official method, unchanged."""
    ids = sorted(f[len("kinetics_"):-len(".ref")] for f in os.listdir(prep_ref)
                 if f.startswith("kinetics_") and f.endswith(".ref"))
    for vid in ids:
        r = read_ref(os.path.join(prep_ref, "kinetics_%s.ref" % vid))
        x = np.zeros((C, T, 18, M), np.float32)
        x[:, :r.shape[1]] = r
        f = Feeder.__new__(Feeder)
        f.data, f.label = x[None], np.zeros(1, np.int64)
        f.p_interval, f.window_size = P_TEST, WINDOW
        f.random_rot = f.bone = f.vel = False
        data, _, _ = f[0]
        data = np.asarray(data, dtype=np.float32)
        assert data.shape == (C, WINDOW, 18, M)
        write_bin(os.path.join(out, "kinetics_%s.bin" % vid), data)
        valid = int(np.sum(x.sum(0).sum(-1).sum(-1) != 0))
        span = int(np.flatnonzero(np.any(x != 0, axis=(0, 2, 3)))[-1]) + 1
        bias = int((1 - P_TEST[0]) * valid / 2)
        print("kinetics %s: valid %d, span %d, crop [%d, %d) holds %d non-zero frames"
              % (vid, valid, span, bias, valid - bias,
                 int(np.sum(np.any(x[:, bias:valid - bias] != 0, axis=(0, 2, 3))))))
    return len(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True, help="CTR-GCN checkout")
    ap.add_argument("--out", default="tests/data/feeder")
    ap.add_argument("--prep-ref", default="tests/data/ref",
                    help="make_prep_reference.py's output (kinetics_*.ref inputs)")
    args = ap.parse_args()
    Feeder, tools = load_feeder(args.ctrgcn)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    xs = make_samples()
    # (C, T, V, M) -> the official (T, M*75 + V*3 + C) rows.
    rows = np.stack([x.transpose(1, 3, 2, 0).reshape(T, M * V * C) for x in xs])
    onehot = np.zeros((len(xs), 60), np.float32)
    onehot[np.arange(len(xs)), np.arange(len(xs))] = 1
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "feeder_ref.npz")
        np.savez(npz, x_train=rows, y_train=onehot, x_test=rows, y_test=onehot)
        for name, bone, vel in STREAMS:
            feeder = Feeder(npz, split="test", p_interval=P_TEST, window_size=WINDOW,
                            bone=bone, vel=vel)
            for i, L in enumerate(LENGTHS):
                data, label, index = feeder[i]
                data = np.asarray(data, dtype=np.float32)
                assert data.shape == (C, WINDOW, V, M) and label == i and index == i
                assert np.array_equal(feeder.data[i], xs[i])
                write_bin(os.path.join(args.out, "%s_L%03d.bin" % (name, L)), data)
    for x, L in zip(xs, LENGTHS):
        write_bin(os.path.join(args.out, "input_L%03d.bin" % L), x[:, :L])
    rng = np.random.RandomState(SEED + 1)
    angles = rng.uniform(-0.3, 0.3, (8, 3)).astype(np.float32)
    angles[:3] = np.diag([0.25, -0.2, 0.3]).astype(np.float32)
    rot = tools._rot(torch.from_numpy(angles)).numpy()
    write_bin(os.path.join(args.out, "rot_angles.bin"), angles)
    write_bin(os.path.join(args.out, "rot_matrix.bin"), rot)
    nk = kinetics_test_path(Feeder, args.prep_ref, args.out)
    print("wrote %d samples x %d streams and %d Kinetics clips to %s"
          % (len(xs), len(STREAMS), nk, args.out))


if __name__ == "__main__":
    main()
