#!/usr/bin/python3
"""eval_reference.py - `make bench-eval`'s reference: evaluation samples/s of
the official CTR-GCN (model/ctrgcn.py of a checkout, imported by path; the
official Model: base channel 64, 60 classes, NTU 25 joints x 2 persons) on
random data of the benchmark's shape, as the official main.py evaluates:
model.eval() under torch.no_grad(), with torch.set_num_threads(t). Random
weights (the constructor's initialisation): the time does not depend on them.

    /usr/bin/python3 bench/eval_reference.py --ctrgcn DIR [--threads 1]
        [--batch 16] [--frames 64] [--warmup 1] [--batches 5]

Parameters are sum(p.numel() for p in model.parameters()); buffer floats are
the running means and variances (num_batches_tracked counted apart), the
same split bench-eval-c prints.
Last line:  eval-reference: threads=t samples_s=... params=... buffers=... rss_mb=...
"""
import argparse
import importlib.util
import os
import resource
import sys
import time


def load_model_class(ctrgcn_dir):
    sys.path.insert(0, ctrgcn_dir)   # model/ctrgcn.py imports graph.ntu_rgb_d by name
    spec = importlib.util.spec_from_file_location(
        "ctrgcn_official", os.path.join(ctrgcn_dir, "model", "ctrgcn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctrgcn", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batches", type=int, default=5)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    Model = load_model_class(args.ctrgcn)
    torch.manual_seed(1)
    model = Model(num_class=60, num_point=25, num_person=2, graph="graph.ntu_rgb_d.Graph",
                  graph_args={"labeling_mode": "spatial"})
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if b.is_floating_point())
    counters = sum(b.numel() for n, b in model.named_buffers() if not b.is_floating_point())
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(args.batch, 3, args.frames, 25, 2, generator=g) * 2 - 1
    t0 = 0.0
    best = float("inf")
    with torch.no_grad():
        for s in range(args.warmup + args.batches):
            if s == args.warmup:
                t0 = time.perf_counter()
            tb = time.perf_counter()
            out = model(x)
            tb = time.perf_counter() - tb
            if s >= args.warmup:
                best = min(best, tb)
    el = time.perf_counter() - t0
    rate = args.batch * args.batches / el
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("eval-reference | %d thread(s) | torch %s | batch %d, T %d | %d params (+ %d buffer floats, "
          "%d counters) | %d warm-up + %d timed batches in %.2fs | %.2f samples/s (best batch %.3fs: "
          "%.2f samples/s) | logits sum %.6g | peak RSS %.0f MB"
          % (args.threads, torch.__version__, args.batch, args.frames, params, buffers, counters,
             args.warmup, args.batches, el, rate, best, args.batch / best, float(out.sum()), rss))
    print("eval-reference: threads=%d samples_s=%.3f params=%d buffers=%d rss_mb=%.0f"
          % (args.threads, rate, params, buffers, rss))


if __name__ == "__main__":
    main()
