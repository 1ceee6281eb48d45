#!/usr/bin/python3
"""make_layers_reference.py - PyTorch reference tensors for the layers of layers.h.

PURPOSE: run torch.nn.Conv2d, BatchNorm2d, BatchNorm1d, MaxPool2d, Linear and
CrossEntropyLoss on small fixed random inputs and weights (torch.manual_seed),
with the loss sum(out * G) for a fixed random G (CrossEntropyLoss: its own
mean loss), and save inputs, weights, outputs and autograd gradients for
tests/1030-layers-torch.c.

USAGE (torch is needed: use the system python):
  /usr/bin/python3 scripts/ref/make_layers_reference.py --out tests/data/layers

OUTPUT (little-endian), one file per case, each a sequence of tensors, each
tensor written as: int32 magic 20261125, int32 version 1, int32 ndim,
int32 dims[ndim], then float32 data in C order. The first tensor of every file
is `meta`, a float32 vector of the case's integer parameters. Integer tensors
(labels) are stored as float32 (exact for small integers). Conv2d weights are
stored (cout, cin, kt): PyTorch's (cout, cin, kt, 1) without the last axis.

  conv_<name>.ref   meta [N, cin, cout, T, V, kt, stride, dil, pad],
                    x, w, b, out, G, dx, dw, db
  bn2d.ref, bn1d.ref  meta [N, C, L] (L = T*V for 2d, T for 1d),
                    x, gamma, beta, running_mean0, running_var0,
                    train: out, running_mean1, running_var1, G, dx, dgamma, dbeta,
                    eval (with the updated running stats): out, dx, dgamma, dbeta
  pool_<name>.ref   meta [N, C, T, V, stride], x, out, G, dx
  linear.ref        meta [N, in, out], x, w, b, out, G, dx, dw, db
  ce_<name>.ref     meta [N, K], logits, labels, loss (1), dlogits
"""
import argparse
import os
import struct
import sys

import torch

MAGIC = 20261125
VERSION = 1


def write(f, t):
    a = t.detach().contiguous().to(torch.float32).cpu()
    dims = list(a.shape)
    f.write(struct.pack("<3i", MAGIC, VERSION, len(dims)))
    f.write(struct.pack("<%di" % len(dims), *dims))
    f.write(a.numpy().astype("<f4").tobytes())


def save(out_dir, name, tensors):
    path = os.path.join(out_dir, name + ".ref")
    with open(path, "wb") as f:
        for t in tensors:
            write(f, t)
    return path


def rand(*shape, scale=1.0, shift=0.0):
    return (torch.rand(*shape, dtype=torch.float32) * 2 - 1) * scale + shift


def conv_case(out_dir, name, N, cin, cout, T, V, kt, stride, dil):
    pad = (kt + (kt - 1) * (dil - 1) - 1) // 2
    conv = torch.nn.Conv2d(cin, cout, kernel_size=(kt, 1), stride=(stride, 1),
                           padding=(pad, 0), dilation=(dil, 1))
    with torch.no_grad():
        conv.weight.copy_(rand(cout, cin, kt, 1))
        conv.bias.copy_(rand(cout))
    x = rand(N, cin, T, V).requires_grad_()
    out = conv(x)
    G = rand(*out.shape)
    (out * G).sum().backward()
    meta = torch.tensor([N, cin, cout, T, V, kt, stride, dil, pad], dtype=torch.float32)
    return save(out_dir, "conv_" + name, [meta, x, conv.weight.reshape(cout, cin, kt), conv.bias,
                                          out, G, x.grad, conv.weight.grad.reshape(cout, cin, kt),
                                          conv.bias.grad])


def bn_case(out_dir, name, shape):
    N, C = shape[0], shape[1]
    L = 1
    for d in shape[2:]:
        L *= d
    bn = (torch.nn.BatchNorm2d(C) if len(shape) == 4 else torch.nn.BatchNorm1d(C))
    with torch.no_grad():
        bn.weight.copy_(rand(C, scale=0.5, shift=1.0))
        bn.bias.copy_(rand(C, scale=0.5))
        bn.running_mean.copy_(rand(C, scale=0.3))
        bn.running_var.copy_(rand(C, scale=0.3, shift=1.0))
    # channels with different offsets and scales
    x = (rand(*shape) * torch.arange(1, C + 1, dtype=torch.float32).reshape(1, C, *[1] * (len(shape) - 2))
         + torch.arange(C, dtype=torch.float32).reshape(1, C, *[1] * (len(shape) - 2)) * 0.5)
    gamma, beta = bn.weight.detach().clone(), bn.bias.detach().clone()
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    tensors = [torch.tensor([N, C, L], dtype=torch.float32), x, gamma, beta, rm0, rv0]
    bn.train()
    xt = x.clone().requires_grad_()
    out = bn(xt)
    G = rand(*out.shape)
    (out * G).sum().backward()
    tensors += [out, bn.running_mean.clone(), bn.running_var.clone(), G, xt.grad,
                bn.weight.grad.clone(), bn.bias.grad.clone()]
    bn.eval()
    bn.weight.grad = None
    bn.bias.grad = None
    xe = x.clone().requires_grad_()
    oute = bn(xe)
    (oute * G).sum().backward()
    tensors += [oute, xe.grad, bn.weight.grad, bn.bias.grad]
    return save(out_dir, name, tensors)


def pool_case(out_dir, name, N, C, T, V, stride, ties):
    pool = torch.nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0))
    if ties:   # few distinct negative values: ties, and the padding must not win
        x = -1.0 - torch.randint(0, 3, (N, C, T, V)).to(torch.float32)
    else:
        x = rand(N, C, T, V)
    x.requires_grad_()
    out = pool(x)
    G = rand(*out.shape)
    (out * G).sum().backward()
    meta = torch.tensor([N, C, T, V, stride], dtype=torch.float32)
    return save(out_dir, "pool_" + name, [meta, x, out, G, x.grad])


def linear_case(out_dir, N, fin, fout):
    lin = torch.nn.Linear(fin, fout)
    with torch.no_grad():
        lin.weight.copy_(rand(fout, fin))
        lin.bias.copy_(rand(fout))
    x = rand(N, fin).requires_grad_()
    out = lin(x)
    G = rand(*out.shape)
    (out * G).sum().backward()
    meta = torch.tensor([N, fin, fout], dtype=torch.float32)
    return save(out_dir, "linear", [meta, x, lin.weight, lin.bias, out, G, x.grad,
                                    lin.weight.grad, lin.bias.grad])


def ce_case(out_dir, name, N, K, scale):
    z = (rand(N, K) * scale).requires_grad_()
    y = torch.randint(0, K, (N,))
    loss = torch.nn.CrossEntropyLoss()(z, y)
    loss.backward()
    meta = torch.tensor([N, K], dtype=torch.float32)
    return save(out_dir, "ce_" + name, [meta, z, y.to(torch.float32), loss.reshape(1), z.grad])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", default="tests/data/layers")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(20261125)
    torch.set_num_threads(1)
    paths = [
        conv_case(args.out, "1x1_cin3", 2, 3, 8, 10, 5, 1, 1, 1),
        conv_case(args.out, "k9", 2, 4, 6, 12, 5, 9, 1, 1),
        conv_case(args.out, "k5_s2_d2", 2, 6, 4, 13, 3, 5, 2, 2),
        conv_case(args.out, "k5_d2", 2, 8, 8, 12, 10, 5, 1, 2),
        conv_case(args.out, "k1_s2", 2, 4, 8, 9, 3, 1, 2, 1),
        bn_case(args.out, "bn2d", (4, 6, 7, 5)),
        bn_case(args.out, "bn1d", (3, 12, 9)),
        pool_case(args.out, "s1", 2, 3, 9, 4, 1, False),
        pool_case(args.out, "s2", 2, 3, 9, 4, 2, False),
        pool_case(args.out, "ties_s2", 2, 3, 10, 5, 2, True),
        pool_case(args.out, "ties_s1", 1, 2, 7, 5, 1, True),
        linear_case(args.out, 6, 24, 10),
        ce_case(args.out, "small", 6, 10, 3.0),
        ce_case(args.out, "wide", 8, 60, 20.0),
    ]
    total = sum(os.path.getsize(p) for p in paths)
    print("torch %s: wrote %d files, %d bytes, to %s" % (torch.__version__, len(paths), total,
                                                          args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
