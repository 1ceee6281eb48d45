#!/usr/bin/python3
"""make_optim_reference.py - reference for src/train/optim.c from the official code.

PURPOSE: run CTR-GCN's own Processor.load_optimizer (torch.optim.SGD with
momentum 0.9, nesterov, weight_decay) and Processor.adjust_learning_rate,
taken by path from main.py of the checkout given on the command line (the two
methods are compiled from main.py's source with ast: importing main.py needs
sklearn, tensorboardX and torchlight; nothing of it is copied here), and
write the small binary files that tests/2210-optim.c compares the C code with.

  SGD: 3 parameter tensors (20x15, 25, 3x5x45 = 1000 floats, the C code sees
  them as one flat span), fixed random params and 5 steps of fixed random
  grads (seed 2210), lr per step LRS, weight decay 4e-4, momentum 0.9, nesterov
  True and False. The NTU configs' settings (weight_decay 0.0004, nesterov).
  LR: adjust_learning_rate for epochs 0..70 with config/nturgbd-cross-subject/
  default.yaml (base_lr 0.1, lr_decay_rate 0.1, step [35, 55], warm_up_epoch 5).

USAGE (torch is needed: use the system python):
  /usr/bin/python3 scripts/ref/make_optim_reference.py --ctrgcn /tmp/ref/ctrgcn \
      --out tests/data/optim

OUTPUT (little-endian): int32 magic 20261125, int32 version 1, int32 ndim,
int32 dims[ndim], then float32 data in C order. See the README.md written
next to them.
"""
import argparse
import ast
import os
import struct
import types

import numpy as np
import torch
import torch.optim as optim
import yaml

MAGIC = 20261125
VERSION = 1
SEED = 2210
SHAPES = [(20, 15), (25,), (3, 5, 45)]
STEPS = 5
LRS = [0.1, 0.1, 0.05, 0.02, 0.1]
WEIGHT_DECAY = 4e-4
EPOCHS = 71


def write(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", MAGIC, VERSION, arr.ndim))
        f.write(struct.pack("<%di" % arr.ndim, *arr.shape))
        f.write(arr.astype("<f4").tobytes())


def processor_methods(main_py, names):
    """The named methods of main.py's class Processor, as plain functions."""
    tree = ast.parse(open(main_py).read(), main_py)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Processor")
    found = {}
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef) and fn.name in names:
            mod = ast.Module(body=[fn], type_ignores=[])
            env = {"np": np, "optim": optim, "torch": torch}
            exec(compile(mod, main_py, "exec"), env)
            found[fn.name] = env[fn.name]
    missing = set(names) - set(found)
    if missing:
        raise SystemExit("main.py has no Processor.%s" % ", ".join(sorted(missing)))
    return found


def sgd_run(load_optimizer, params0, grads, nesterov):
    """Params and momentum buffers (flat) after each step."""
    params = []
    off = 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        params.append(torch.nn.Parameter(torch.from_numpy(params0[off:off + n].reshape(shape).copy())))
        off += n
    model = torch.nn.Module()
    for i, p in enumerate(params):
        model.register_parameter("p%d" % i, p)
    self = types.SimpleNamespace(
        arg=types.SimpleNamespace(optimizer="SGD", base_lr=LRS[0], nesterov=nesterov,
                                  weight_decay=WEIGHT_DECAY, warm_up_epoch=0),
        model=model, print_log=lambda *a, **k: None)
    load_optimizer(self)
    opt = self.optimizer
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["momentum"] == 0.9
    out_p, out_b = [], []
    for s in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = LRS[s]
        off = 0
        for p in params:
            n = p.numel()
            p.grad = torch.from_numpy(grads[s, off:off + n].reshape(p.shape).copy())
            off += n
        opt.step()
        out_p.append(torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy())
        out_b.append(torch.cat([opt.state[p]["momentum_buffer"].reshape(-1) for p in params])
                     .numpy().copy())
    return np.stack(out_p), np.stack(out_b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True, help="the official CTR-GCN checkout")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    m = processor_methods(os.path.join(a.ctrgcn, "main.py"), ["load_optimizer", "adjust_learning_rate"])

    rng = np.random.default_rng(SEED)
    n = sum(int(np.prod(s)) for s in SHAPES)
    params0 = rng.standard_normal(n).astype(np.float32)
    grads = rng.standard_normal((STEPS, n)).astype(np.float32)
    write(os.path.join(a.out, "sgd_params0.bin"), params0)
    write(os.path.join(a.out, "sgd_grads.bin"), grads)
    write(os.path.join(a.out, "sgd_lr.bin"), np.array(LRS))
    for name, nest in (("nesterov", True), ("plain", False)):
        p, b = sgd_run(m["load_optimizer"], params0, grads, nest)
        write(os.path.join(a.out, "sgd_%s_params.bin" % name), p)
        write(os.path.join(a.out, "sgd_%s_buf.bin" % name), b)

    with open(os.path.join(a.ctrgcn, "config/nturgbd-cross-subject/default.yaml")) as f:
        cfg = yaml.safe_load(f)
    arg = types.SimpleNamespace(optimizer="SGD", base_lr=cfg["base_lr"], lr_decay_rate=cfg["lr_decay_rate"],
                                step=cfg["step"], warm_up_epoch=cfg["warm_up_epoch"])
    dummy = torch.nn.Parameter(torch.zeros(1))
    self = types.SimpleNamespace(arg=arg, optimizer=optim.SGD([dummy], lr=arg.base_lr))
    lrs = np.array([m["adjust_learning_rate"](self, e) for e in range(EPOCHS)], dtype=np.float64)
    write(os.path.join(a.out, "lr_ntu.bin"), lrs)

    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write(README % dict(n=n, steps=STEPS, lrs=LRS, wd=WEIGHT_DECAY, seed=SEED, shapes=SHAPES,
                              epochs=EPOCHS, base_lr=arg.base_lr, decay=arg.lr_decay_rate,
                              step=arg.step, warm=arg.warm_up_epoch, torch=torch.__version__))
    print("wrote", a.out)


README = """# tests/data/optim - reference for src/train/optim.c (tests/2210-optim.c)

Made by `scripts/ref/make_optim_reference.py` (torch %(torch)s) from the official
CTR-GCN main.py: Processor.load_optimizer (torch.optim.SGD, momentum 0.9,
one parameter group: weight decay on every parameter) and
Processor.adjust_learning_rate.

    /usr/bin/python3 scripts/ref/make_optim_reference.py --ctrgcn /tmp/ref/ctrgcn \\
        --out tests/data/optim

Format (little-endian): int32 magic 20261125, int32 version 1, int32 ndim,
int32 dims[ndim], then float32 data in C order.

| file | shape | content |
|---|---|---|
| sgd_params0.bin | (%(n)d) | initial params: tensors %(shapes)s flattened and concatenated, N(0,1), seed %(seed)d |
| sgd_grads.bin | (%(steps)d, %(n)d) | the grads set before each step, N(0,1) |
| sgd_lr.bin | (%(steps)d) | lr of each step: %(lrs)s |
| sgd_nesterov_params.bin | (%(steps)d, %(n)d) | params after each step, nesterov=True, weight_decay %(wd)g |
| sgd_nesterov_buf.bin | (%(steps)d, %(n)d) | state['momentum_buffer'] after each step |
| sgd_plain_params.bin | (%(steps)d, %(n)d) | the same, nesterov=False |
| sgd_plain_buf.bin | (%(steps)d, %(n)d) | the same, nesterov=False |
| lr_ntu.bin | (%(epochs)d) | adjust_learning_rate(epoch) for epochs 0..%(last)s, config/nturgbd-cross-subject/default.yaml: base_lr %(base_lr)g, lr_decay_rate %(decay)g, step %(step)s, warm_up_epoch %(warm)d |
""".replace("%(last)s", str(EPOCHS - 1))

if __name__ == "__main__":
    main()
