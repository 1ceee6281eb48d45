#!/usr/bin/python3
"""First training steps of the OFFICIAL CTR-GCN loop, for tests/2010-ctrgcn-steps.c.

Usage: /usr/bin/python3 scripts/ref/make_ctrgcn_steps_reference.py --ctrgcn DIR [--out tests/data/ctrgcn]

Runs main.py's loop body (model(data) -> CrossEntropyLoss -> zero_grad ->
backward -> SGD(momentum 0.9, nesterov, weight_decay 4e-4) step, lr from
adjust_learning_rate for epoch 0 with warm_up_epoch 5 and base_lr 0.1) for
5 steps on fixed batches, in float32 as users run it, with the official
model (model/ctrgcn.py from the checkout, base_channel 64 -> 8 at load
time; see make_ctrgcn_reference.py), and the same loop in float64. Writes
ctrgcn-steps-b8.bundle: the initial state_dict, the batches ("batch/N/x",
"batch/N/labels"), the float32 and float64 losses ("output/losses",
"output/losses64") and the lr ("output/lr").
"""
import argparse, copy, importlib.util, os, subprocess, sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mk", os.path.join(HERE, "make_ctrgcn_reference.py"))
mk = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctrgcn", required=True)
    ap.add_argument("--out", default="tests/data/ctrgcn")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(7)
    mod = mk.load_model_module(a.ctrgcn, 8)
    K, N, T, V, M, STEPS = 10, 4, 16, 25, 2, 5
    model = mod.Model(num_class=K, num_point=V, num_person=M, graph="graph.ntu_rgb_d.Graph",
                      graph_args={"labeling_mode": "spatial"})
    state = [(k, v.detach().numpy().copy()) for k, v in model.state_dict().items()]
    base_lr, warm_up, epoch = 0.1, 5, 0
    lr = base_lr * (epoch + 1) / warm_up   # adjust_learning_rate, epoch 0 of the warm-up
    batches, data = [], []
    for s in range(STEPS):
        x = torch.randn(N, 3, T, V, M)
        y = torch.randint(0, K, (N,))
        data.append((x, y))
        batches += [("batch/%d/x" % s, x.numpy().copy()), ("batch/%d/labels" % s, y.numpy().astype(np.int64))]
    # The loop in float32 (as users run it) and in float64 (the exact result
    # the test measures both against: after a few steps float32 rounding
    # itself moves the loss by more than 1e-4).
    runs = {}
    for name, dt in (("losses", torch.float32), ("losses64", torch.float64)):
        net = copy.deepcopy(model).to(dt)
        # main.py: optim.SGD(model.parameters(), lr, momentum=0.9, nesterov, weight_decay)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=0.0004)
        loss_fn = torch.nn.CrossEntropyLoss()
        net.train()
        out = []
        for x, y in data:
            output = net(x.to(dt))
            loss = loss_fn(output, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        runs[name] = out
    losses = runs["losses"]
    tensors = state + batches + [("output/losses", np.array(losses, dtype=np.float32)),
                                 ("output/losses64", np.array(runs["losses64"], dtype=np.float32)),
                                 ("output/lr", np.array([lr], dtype=np.float32))]
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "ctrgcn-steps-b8.bundle")
    mk.write_bundle(path, tensors)
    commit = subprocess.run(["git", "-C", a.ctrgcn, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    print("wrote %s: float32 losses %s, float64 %s (CTR-GCN %s, torch %s)" % (
        path, ["%.6f" % l for l in losses], ["%.6f" % l for l in runs["losses64"]], commit, torch.__version__))


if __name__ == "__main__":
    main()
