#!/usr/bin/python3
"""make_tlayers_reference.py - PyTorch reference tensors for the layers of tlayers.h.

PURPOSE: run torch.nn.LayerNorm, torch.nn.functional.gelu / silu,
torch.nn.MultiheadAttention (self-attention, and cross-attention with
kdim = vdim = Dc) and diffusers' get_timestep_embedding (copied below) on
small fixed random inputs and weights (torch.manual_seed), with the loss
sum(out * G) for a fixed random G, and save inputs, weights, outputs and
autograd gradients for tests/1060-layernorm-gelu.c and tests/1070-attention.c.
The attention outputs are also recomputed from torch ops exactly as
src/model/layer_attention.c computes them, and the script stops unless both agree.

USAGE (torch is needed: use the system python):
  /usr/bin/python3 scripts/ref/make_tlayers_reference.py --out tests/data/tlayers

OUTPUT (little-endian), one file per case, each a sequence of tensors, each
tensor written as: int32 magic 20261125, int32 version 1, int32 ndim,
int32 dims[ndim], then float32 data in C order. The first tensor of every file
is `meta`, a float32 vector of the case's integer (or eps) parameters. Integer
tensors (timesteps) are stored as float32 (exact for these values).

  ln_<name>.ref     meta [rows, C, affine, eps], x, w, b, out, G, dx, dw, db
                    (w, b, dw, db have 0 elements when affine is 0)
  act.ref           meta [n], x, G, gelu out, gelu dx, silu out, silu dx
  attn_<name>.ref   meta [B, Lq, Lk, D, Dc, H, self], x, c (0 elements for
                    self-attention), wq, bq, wk, bk, wv, bv, wo, bo, out, G,
                    dx, dc (0 elements for self), dwq, dbq, dwk, dbk, dwv, dbv,
                    dwo, dbo   (weights in Linear layout (out, in))
  temb_<name>.ref   meta [B, dim], t, emb
"""
import argparse
import math
import os
import struct

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


EMPTY = torch.zeros(0)


# ---------------------------------------------------------------------------
def ln_case(out_dir, name, rows, C, eps, affine):
    ln = torch.nn.LayerNorm(C, eps=eps, elementwise_affine=affine)
    if affine:
        with torch.no_grad():
            ln.weight.copy_(rand(C, shift=1.0, scale=0.5))
            ln.bias.copy_(rand(C, scale=0.5))
    # rows with different offsets and spreads
    x = (rand(rows, C) * rand(rows, 1, shift=2.0, scale=1.5) + rand(rows, 1, scale=3.0))
    x.requires_grad_()
    out = ln(x)
    G = rand(rows, C)
    (out * G).sum().backward()
    meta = torch.tensor([rows, C, int(affine), eps], dtype=torch.float32)
    if affine:
        params = [ln.weight, ln.bias]
        grads = [ln.weight.grad, ln.bias.grad]
    else:
        params = grads = [EMPTY, EMPTY]
    return save(out_dir, "ln_" + name, [meta, x] + params + [out, G, x.grad] + grads)


def act_case(out_dir):
    special = torch.tensor([0.0, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 6.0, -6.0, 10.0, -10.0,
                            20.0, -20.0, 50.0, -50.0, 90.0, -90.0, 100.0, -100.0])
    x = torch.cat([special, torch.randn(237) * 3]).requires_grad_()
    G = rand(x.numel())
    outs = []
    for fn in (torch.nn.functional.gelu, torch.nn.functional.silu):
        x.grad = None
        out = fn(x)
        (out * G).sum().backward()
        outs += [out, x.grad.clone()]
    meta = torch.tensor([x.numel()], dtype=torch.float32)
    return save(out_dir, "act", [meta, x, G] + outs)


# ---------------------------------------------------------------------------
def attention_ops(x, c, wq, bq, wk, bk, wv, bv, wo, bo, H):
    """The attention of src/model/layer_attention.c from torch ops."""
    B, Lq, D = x.shape
    Lk = c.shape[1]
    dh = D // H
    q = (x @ wq.T + bq).view(B, Lq, H, dh).transpose(1, 2)   # (B, H, Lq, dh)
    k = (c @ wk.T + bk).view(B, Lk, H, dh).transpose(1, 2)
    v = (c @ wv.T + bv).view(B, Lk, H, dh).transpose(1, 2)
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
    y = (p @ v).transpose(1, 2).reshape(B, Lq, D)
    return y @ wo.T + bo


def attn_case(out_dir, name, B, Lq, Lk, D, Dc, H, self_attn):
    if self_attn:
        assert Lk == Lq and Dc == D
        mha = torch.nn.MultiheadAttention(D, H, dropout=0.0, batch_first=True)
    else:
        mha = torch.nn.MultiheadAttention(D, H, dropout=0.0, batch_first=True, kdim=Dc, vdim=Dc)
    # weights a bit larger than PyTorch's init so the softmax is not near uniform
    with torch.no_grad():
        for prm in mha.parameters():
            prm.copy_(rand(*prm.shape, scale=1.5 / math.sqrt(prm.shape[-1] if prm.dim() > 1 else D)))
    x = rand(B, Lq, D, scale=2.0).requires_grad_()
    c = x if self_attn else rand(B, Lk, Dc, scale=2.0).requires_grad_()
    out, _ = mha(x, c, c, need_weights=False)
    G = rand(*out.shape)
    (out * G).sum().backward()

    def qkv(t):   # split MultiheadAttention's parameters into q, k, v
        if t is None:
            return [None] * 3
        return list(t.chunk(3, dim=0))

    bq, bk, bv = qkv(mha.in_proj_bias)
    dbq, dbk, dbv = qkv(mha.in_proj_bias.grad)
    if self_attn:
        wq, wk, wv = qkv(mha.in_proj_weight)
        dwq, dwk, dwv = qkv(mha.in_proj_weight.grad)
    else:
        wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
        dwq, dwk, dwv = wq.grad, wk.grad, wv.grad
    wo, bo = mha.out_proj.weight, mha.out_proj.bias
    dwo, dbo = wo.grad, bo.grad

    # the layout mapping, checked: the same attention from plain ops
    with torch.no_grad():
        again = attention_ops(x, c, wq, bq, wk, bk, wv, bv, wo, bo, H)
    err = (again - out).abs().max().item()
    if err > 1e-5:
        raise SystemExit("%s: MultiheadAttention and the ops version differ by %g" % (name, err))

    meta = torch.tensor([B, Lq, Lk, D, Dc, H, int(self_attn)], dtype=torch.float32)
    cs, dcs = (EMPTY, EMPTY) if self_attn else (c, c.grad)
    return save(out_dir, "attn_" + name,
                [meta, x, cs, wq, bq, wk, bk, wv, bv, wo, bo, out, G, x.grad, dcs,
                 dwq, dbq, dwk, dbk, dwv, dbv, dwo, dbo])


# ---------------------------------------------------------------------------
def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False,
                           downscale_freq_shift=1, scale=1, max_period=10000):
    """diffusers.models.embeddings.get_timestep_embedding (diffusers 0.2x), verbatim."""
    assert len(timesteps.shape) == 1, "Timesteps should be a 1d-array"
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(
        start=0, end=half_dim, dtype=torch.float32, device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


def temb_case(out_dir, name, t, dim):
    t = torch.tensor(t, dtype=torch.int64)
    emb = get_timestep_embedding(t, dim)
    meta = torch.tensor([t.numel(), dim], dtype=torch.float32)
    return save(out_dir, "temb_" + name, [meta, t.to(torch.float32), emb])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", default="tests/data/tlayers")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(20261125)
    torch.set_num_threads(1)
    paths = [
        ln_case(args.out, "d16", 21, 16, 1e-5, True),      # B*L = 3*7 tokens
        ln_case(args.out, "d128_eps6", 6, 128, 1e-6, True),
        ln_case(args.out, "noaffine", 5, 8, 1e-5, False),
        act_case(args.out),
        attn_case(args.out, "self", 3, 7, 7, 16, 16, 4, True),
        attn_case(args.out, "cross", 3, 7, 5, 16, 12, 4, False),
        attn_case(args.out, "cross_d32", 2, 7, 7, 32, 24, 4, False),
        temb_case(args.out, "d128", [0, 1, 2, 10, 37, 250, 500, 999], 128),
        temb_case(args.out, "d15", [0, 3, 999], 15),
    ]
    for p in paths:
        print("%s (%d bytes)" % (p, os.path.getsize(p)))


if __name__ == "__main__":
    main()
