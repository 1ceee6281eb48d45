#!/usr/bin/python3
"""train_reference.py - `make bench-train`'s reference: training samples/s and
peak RSS of the official CTR-GCN (model/ctrgcn.py of a checkout, imported by
path) on random data of the benchmark's shape, with torch.set_num_threads(t),
nn.CrossEntropyLoss and SGD(momentum 0.9, nesterov, weight decay 4e-4), as the
official main.py trains.

    /usr/bin/python3 bench/train_reference.py --ctrgcn DIR [--threads 1]
        [--ranks 1] [--batch 16] [--frames 64] [--warmup 1] [--steps 3]
        [--shape ntu|ucla]

--shape ucla: NW-UCLA's model and input, as config/ucla/default.yaml trains
it (10 classes, num_point 20, num_person 1, graph.ucla.Graph, weight decay
1e-4); ntu (default): NTU's (60 classes, 25 joints, 2 persons, 4e-4).

--ranks 2 runs two processes with DistributedDataParallel over gloo (the
global batch split between them, gradients averaged), the counterpart of
`mpirun -n 2`. Peak RSS is ru_maxrss of the largest process.
Last line:  train-reference: ranks=R threads=t samples_s=... rss_mb=...
"""
import argparse
import importlib.util
import os
import resource
import sys
import time


# shape: classes, joints, persons, graph, weight decay (the official configs)
SHAPES = {"ntu": (60, 25, 2, "graph.ntu_rgb_d.Graph", 4e-4),
          "ucla": (10, 20, 1, "graph.ucla.Graph", 1e-4)}


def load_model_class(ctrgcn_dir):
    sys.path.insert(0, ctrgcn_dir)   # model/ctrgcn.py imports graph.ntu_rgb_d by name
    spec = importlib.util.spec_from_file_location(
        "ctrgcn_official", os.path.join(ctrgcn_dir, "model", "ctrgcn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Model


def run(rank, args, out):
    import torch
    torch.set_num_threads(args.threads)
    if args.ranks > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % args.port,
                                rank=rank, world_size=args.ranks)
    Model = load_model_class(args.ctrgcn)
    torch.manual_seed(1)
    K, V, M, graph, wd = SHAPES[args.shape]
    model = Model(num_class=K, num_point=V, num_person=M, graph=graph,
                  graph_args={"labeling_mode": "spatial"})
    model.train()
    net = model
    if args.ranks > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=wd)
    loss_fn = torch.nn.CrossEntropyLoss()
    nl = args.batch // args.ranks
    g = torch.Generator().manual_seed(1234 + rank)
    x = torch.rand(nl, 3, args.frames, V, M, generator=g) * 2 - 1
    y = torch.arange(rank * nl, (rank + 1) * nl) % K
    t0 = 0.0
    for s in range(args.warmup + args.steps):
        if s == args.warmup:
            if args.ranks > 1:
                torch.distributed.barrier()
            t0 = time.perf_counter()
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    el = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if args.ranks > 1:
        v = torch.tensor([el, rss], dtype=torch.float64)
        torch.distributed.all_reduce(v, op=torch.distributed.ReduceOp.MAX)
        el, rss = float(v[0]), float(v[1])
        torch.distributed.destroy_process_group()
    if rank == 0:
        out.put((args.batch * args.steps / el, rss, el, float(loss)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctrgcn", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--port", type=int, default=29533)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="ntu")
    args = ap.parse_args()
    import queue
    if args.ranks == 1:
        q = queue.Queue()
        run(0, args, q)
    else:
        import torch.multiprocessing as mp
        q = mp.get_context("spawn").SimpleQueue()
        mp.spawn(run, args=(args, q), nprocs=args.ranks, join=True)
    rate, rss, el, loss = q.get()
    print("train-reference | %d rank(s) x %d thread(s) | %s shape, batch %d, T %d | %d warm-up + %d timed "
          "steps in %.2fs | loss %.4f | %.2f samples/s | peak RSS %.0f MB"
          % (args.ranks, args.threads, args.shape, args.batch, args.frames, args.warmup, args.steps, el,
             loss, rate, rss))
    print("train-reference: ranks=%d threads=%d samples_s=%.3f rss_mb=%.0f"
          % (args.ranks, args.threads, rate, rss))


if __name__ == "__main__":
    main()
