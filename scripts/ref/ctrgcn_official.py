#!/usr/bin/python3
"""The OFFICIAL CTR-GCN model and NTU feeder, for tests/5310-convert-ctrgcn.sh.

  ctrgcn_official.py weights --ctrgcn DIR --out W.pt [--num-class 60] [--base 64] [--module-prefix]
  ctrgcn_official.py load    --ctrgcn DIR --weights W.pt [--num-class 60] [--base 64]
  ctrgcn_official.py eval    --ctrgcn DIR --weights W.pt --data PREP.h5 --stream S --scores SCORES.h5 [--window 64]

DIR is a checkout of github.com/Uason-Chen/CTR-GCN, run as it is (with
--base other than 64 its hard-coded `base_channel = 64` is replaced at load
time, as in make_ctrgcn_reference.py). Nothing of the checkout is copied.

weights: the official Model(num_class, 25 joints, 2 persons, NTU graph)
  with its own initialisation and random BatchNorm running statistics
  (opening the graph branches as make_ctrgcn_reference.py does makes the
  base-64 model's logits reach 1e10); saved as main.py saves it
  (--module-prefix: with DataParallel's 'module.' key prefix).
load: Model.load_state_dict(W, strict=True); prints "loaded N tensors".
eval: the official test path on the /test group of a cocodiff-prep file:
  feeders.feeder_ntu.Feeder (split test, p_interval [0.95], the window,
  bone/vel from the stream) over an .npz made of that group, then the model
  in eval mode; compares every logit with SCORES.h5's /scores (cocodiff-eval)
  and prints "samples=N classes=K maxdiff=D scale=S".
"""
import argparse, os, sys, tempfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ctrgcn_reference import load_model_module, random_running_stats  # noqa: E402
from make_feeder_reference import load_feeder  # noqa: E402


def model(o):
    mod = load_model_module(o.ctrgcn, o.base)
    return mod.Model(num_class=o.num_class, num_point=25, num_person=2, graph="graph.ntu_rgb_d.Graph",
                     graph_args={"labeling_mode": "spatial"})


def cmd_weights(o):
    torch.manual_seed(7)
    m = model(o)   # the official initialisation
    random_running_stats(m)
    sd = m.state_dict()
    if o.module_prefix:
        sd = type(sd)(("module." + k, v) for k, v in sd.items())
    torch.save(sd, o.out)
    print("wrote %s: %d tensors" % (o.out, len(sd)))


def load_weights(path):
    """As main.py's load_model: DataParallel's 'module.' prefix dropped."""
    sd = torch.load(path, map_location="cpu")
    return type(sd)((k.split("module.")[-1], v) for k, v in sd.items())


def cmd_load(o):
    m = model(o)
    sd = load_weights(o.weights)
    m.load_state_dict(sd, strict=True)
    print("loaded %d tensors" % len(sd))


def cmd_eval(o):
    Feeder, _ = load_feeder(o.ctrgcn)
    with h5py.File(o.data, "r") as f:
        x = f["test/x"][()]                     # (N, 3, 300, 25, 2)
        y = f["test/label"][()]
    with h5py.File(o.scores, "r") as f:
        ours = f["scores"][()]
    n, K = len(y), ours.shape[1]
    o.num_class = K
    m = model(o)
    m.load_state_dict(load_weights(o.weights), strict=True)
    m.eval()
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "test.npz")
        # The npz layout CTR-GCN's NTU feeder reads: (N, T, M*V*C), one-hot labels.
        onehot = np.zeros((n, K), np.float32)
        onehot[np.arange(n), y] = 1
        np.savez(npz, x_test=x.transpose(0, 2, 4, 3, 1).reshape(n, x.shape[2], -1), y_test=onehot)
        fd = Feeder(npz, split="test", window_size=o.window, p_interval=[0.95],
                    bone="bone" in o.stream, vel="motion" in o.stream)
        batch = torch.from_numpy(np.stack([fd[i][0] for i in range(n)])).float()
    with torch.no_grad():
        ref = m(batch).numpy()
    d = np.abs(ref - ours).max()
    print("samples=%d classes=%d maxdiff=%.3g scale=%.3g" % (n, K, d, np.abs(ref).max()))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("weights", "load", "eval"):
        s = sub.add_parser(name)
        s.add_argument("--ctrgcn", required=True)
        s.add_argument("--base", type=int, default=64)
        s.add_argument("--num-class", type=int, default=60)
        if name == "weights":
            s.add_argument("--out", required=True)
            s.add_argument("--module-prefix", action="store_true")
        else:
            s.add_argument("--weights", required=True)
        if name == "eval":
            s.add_argument("--data", required=True)
            s.add_argument("--stream", required=True)
            s.add_argument("--scores", required=True)
            s.add_argument("--window", type=int, default=64)
    o = p.parse_args()
    {"weights": cmd_weights, "load": cmd_load, "eval": cmd_eval}[o.cmd](o)


if __name__ == "__main__":
    main()
