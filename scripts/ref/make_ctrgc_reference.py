#!/usr/bin/python3
"""make_ctrgc_reference.py - reference data for the C CTRGC layer and graphs.

PURPOSE: build the OFFICIAL CTR-GCN CTRGC module (model/ctrgcn.py, imported by
path from the checkout given with --ctrgcn; nothing of it is copied here), run
it forward and backward on a small input, and write what tests/1051-ctrgc-torch.c
compares with; also write the official spatial graph of NTU
(graph/tools.py get_spatial_graph via graph/ntu_rgb_d.py) for tests/1040-graph.c.

Cases (N=2, T=8, V=25, A = NTU A[1], alpha = 0.3, torch.manual_seed(SEED)):
  c64   CTRGC(64, 64)  (rel 8)
  c3    CTRGC(3, 64)   (rel 8)
The module is built in float32 with the official init (kaiming conv weights,
zero biases); the biases are then set to uniform(-0.5, 0.5) so that the
forward checks them too. It then runs in float64 (module.double()), so the
reference is the exact result rounded once to float32.

x (N, cin, T, V) and the upstream gradient G (N, cout, T, V) are NOT stored:
both sides generate them with the integer hash below (exact in float32):
  h = (k * 2654435761 + seed) mod 2^32,  value = (h >> 8) / 2^23 - 1   in [-1, 1)
with k the C-order element index, seed 1 for x and 2 for G.

Files (tests/data/ctrgc/<case>_<name>.bin, and graph_ntu25.bin): int32 magic
20261125, int32 version 1, int32 ndim, int32 dims[ndim], then float32 data in
C order.
  <case>_{w1,b1,w2,b2,w3,b3,w4,b4}   weights, conv (o, i, 1, 1) stored (o, i)
  <case>_{A,alpha}                   (V, V), (1)
  <case>_out                         (N, cout, T, V) CTRGC(x, A, alpha)
  <case>_d{x,w1,...,b4,A,alpha}      grads of sum(out * G)
  graph_ntu25                        (3, 25, 25) ntu_rgb_d.Graph().A

USAGE (Debian's python3 with torch 1.13 and numpy):
  /usr/bin/python3 scripts/ref/make_ctrgc_reference.py --ctrgcn /tmp/ref/ctrgcn \
      --out tests/data/ctrgc
"""
import argparse
import importlib.util
import os
import struct
import sys

import numpy as np
import torch

MAGIC = 20261125
VERSION = 1
SEED = 20261125
N, T, V = 2, 8, 25
ALPHA = 0.3
CASES = [("c64", 64, 64), ("c3", 3, 64)]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def hash_tensor(shape, seed):
    """The deterministic input of the C tests (see the module docstring)."""
    k = np.arange(int(np.prod(shape)), dtype=np.uint64)
    h = (k * np.uint64(2654435761) + np.uint64(seed)) % np.uint64(1 << 32)
    v = (h >> np.uint64(8)).astype(np.float64) / float(1 << 23) - 1.0
    return v.astype(np.float32).reshape(shape)


def write_bin(path, arr):
    a = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", MAGIC, VERSION, a.ndim))
        f.write(struct.pack("<%di" % a.ndim, *a.shape))
        f.write(a.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True, help="checkout of Uason-Chen/CTR-GCN")
    ap.add_argument("--out", required=True, help="output folder (tests/data/ctrgc)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # graph/ntu_rgb_d.py does `from graph import tools`: make `graph` importable.
    sys.path.insert(0, args.ctrgcn)
    from graph import ntu_rgb_d  # noqa: E402  (official code, by path)
    ctrgcn = load_module("ctrgcn_model", os.path.join(args.ctrgcn, "model", "ctrgcn.py"))

    A = ntu_rgb_d.Graph().A  # (3, 25, 25) float64
    write_bin(os.path.join(args.out, "graph_ntu25.bin"), A)

    torch.manual_seed(SEED)
    for name, cin, cout in CASES:
        m = ctrgcn.CTRGC(cin, cout)
        with torch.no_grad():
            for conv in (m.conv1, m.conv2, m.conv3, m.conv4):
                conv.bias.uniform_(-0.5, 0.5)
        m = m.double()
        convs = {"1": m.conv1, "2": m.conv2, "3": m.conv3, "4": m.conv4}
        x = torch.from_numpy(hash_tensor((N, cin, T, V), 1)).double().requires_grad_(True)
        G = torch.from_numpy(hash_tensor((N, cout, T, V), 2)).double()
        Ai = torch.tensor(A[1], dtype=torch.float64, requires_grad=True)
        alpha = torch.tensor([ALPHA], dtype=torch.float32).double().requires_grad_(True)
        out = m(x, Ai, alpha)
        (out * G).sum().backward()

        def put(key, t):
            write_bin(os.path.join(args.out, "%s_%s.bin" % (name, key)), t.detach().numpy())

        for k, conv in convs.items():
            o, i = conv.weight.shape[:2]
            put("w" + k, conv.weight.reshape(o, i))
            put("b" + k, conv.bias)
            put("dw" + k, conv.weight.grad.reshape(o, i))
            put("db" + k, conv.bias.grad)
        put("A", Ai)
        put("alpha", alpha)
        put("out", out)
        put("dx", x.grad)
        put("dA", Ai.grad)
        put("dalpha", alpha.grad)
        print("%s: CTRGC(%d, %d) rel %d, out |max| %.4g" %
              (name, cin, cout, m.rel_channels, out.abs().max().item()))


if __name__ == "__main__":
    main()
