#!/usr/bin/python3
"""make_ucla_reference.py - reference data for NW-UCLA (src/data/ucla.c, src/data/feeder_ucla.c,
the 20-joint graph and CTR-GCN on it) from the OFFICIAL CTR-GCN code.

PURPOSE: run the checkout's feeders/feeder_ucla.py (Feeder: data_dict split and labels,
__getitem__ test and training paths, the bone pairs), graph/ucla.py (Graph().A) and
model/ctrgcn.py (Model with graph.ucla.Graph) on the real NW-UCLA archive, and write what
the C tests compare with. Nothing of the checkout is copied: the feeder is imported by path
(not through feeders/__init__.py, which pulls in matplotlib for tools.py), the graph as the
`graph` package of the checkout, the model as make_ctrgcn_reference.py loads it
(base_channel 64 -> --base at load time).

USAGE (Debian's python3 with numpy, torch, h5py):
  /usr/bin/python3 scripts/ref/make_ucla_reference.py --ctrgcn CHECKOUT \
      --zip ../shared/data/ucla/all_sqe.zip --out tests/data/ucla

Writes into --out (formats in tests/data/ucla/README.md):
  split.tsv            every data_dict entry (train and val): official index, name, split,
                       label (as the feeder gives it: label - 1), frames
  test-sha256.tsv      per validation sequence: frames and the SHA-256 of the float32 test-path
                       output (3, 52, 20, 1) for joint, bone, motion and bone motion
  reference.bundle     named tensors: the graph, the bone pairs, full test-path outputs of a
                       subset, training-path draws and outputs, the synthetic sequences'
                       outputs and the model's logits
  synth_TNNN.json      synthetic sequences in the dataset's JSON format (not NW-UCLA data;
                       they let the feeder tests run without the archive)
  ctrgcn-ucla-b8.h5    the model's state_dict as /model/<key> (float32; int64 counters), the
                       layout cocodiff-eval reads

The script checks, and stops if it fails, that the rule "views 1 and 2 train, view 3 test,
label = position of the action id in (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)" gives the official
data_dict exactly (1,020 / 464 entries) and covers every member of the archive.

Training draws: the feeder calls the module `random` (random(), randint(-60, 60) twice,
uniform(0.5, 1.5), sample(list(range(T)) * 100, 52)); the script replaces the feeder module's
`random` with a recorder around random.Random(SEED) and stores what each call returned.

numpy >= 1.24 has no np.int (the feeder's test path uses it): the script sets np.int = int
before calling the feeder, the alias numpy 1.20-1.23 had.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ctrgcn_reference import load_model_module, open_graph_branches, write_bundle  # noqa: E402

SEED = 20261125
ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
NAME_RE = re.compile(r"^a(\d\d)_s(\d\d)_e(\d\d)_v(\d\d)$")
STREAMS = (("joint", "joint"), ("bone", "bone"), ("motion", "motion"), ("bone_motion", "bone motion"))
WINDOW = 52
SYNTH_T = (2, 9, 57)


class Recorder:
    """The feeder's `random`: random.Random(SEED) that logs what each call returned."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.log = []

    def random(self):
        v = self.r.random()
        self.log.append(("random", v))
        return v

    def randint(self, a, b):
        v = self.r.randint(a, b)
        self.log.append(("randint", v))
        return v

    def uniform(self, a, b):
        v = self.r.uniform(a, b)
        self.log.append(("uniform", v))
        return v

    def sample(self, pop, k):
        v = self.r.sample(pop, k)
        self.log.append(("sample", [int(i) for i in v]))
        return v


def load_feeder(ctrgcn):
    path = os.path.join(ctrgcn, "feeders", "feeder_ucla.py")
    spec = importlib.util.spec_from_file_location("feeder_ucla_official", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not hasattr(np, "int"):
        np.int = int   # the alias numpy < 1.24 had; the feeder's test path uses it
    return mod


def f64_bits(x):
    return struct.unpack("<q", struct.pack("<d", x))[0]


def check_split(tr, va, names):
    """The rule gives data_dict exactly; returns the rows of split.tsv."""
    rows = []
    for split, fd in (("train", tr), ("val", va)):
        for i, e in enumerate(fd.data_dict):
            m = NAME_RE.match(e["file_name"])
            assert m, e["file_name"]
            a, _, _, v = (int(g) for g in m.groups())
            want_split = "train" if v in (1, 2) else "val" if v == 3 else None
            assert want_split == split, "%s: view %d in %s" % (e["file_name"], v, split)
            assert ACTIONS.index(a) == fd.label[i] == e["label"] - 1, e
            assert e["length"] == fd.data[i].shape[0], e
            rows.append((i, e["file_name"], split, fd.label[i], fd.data[i].shape[0]))
    assert len(tr.data_dict) == 1020 and len(va.data_dict) == 464
    listed = {r[1] for r in rows}
    assert len(listed) == len(rows) == 1484, "a name twice in data_dict"
    assert listed == names, "archive and data_dict differ: %s" % sorted(listed ^ names)[:5]
    return rows


def get(fd, i, word):
    fd.data_path = word
    data, label, index = fd[i]
    assert data.shape == (3, WINDOW, 20, 1) and index == i
    return np.ascontiguousarray(np.asarray(data, dtype=np.float32))   # what the model sees (.float())


def draws_of(log):
    """[agx, agy, bits(s), idx sorted x 52] of one training __getitem__."""
    kinds = [k for k, _ in log]
    assert kinds == ["random", "randint", "randint", "uniform", "sample"], kinds
    idx = sorted(log[4][1])
    return np.array([log[1][1], log[2][1], f64_bits(log[3][1])] + idx, dtype=np.int64)


def train_outputs(fd, rec, i, tag, streams, tensors):
    for key, word in streams:
        rec.log.clear()
        out = get(fd, i, word)
        tensors.append(("train/%s/%s/draws" % (tag, key), draws_of(rec.log)))
        tensors.append(("train/%s/%s/out" % (tag, key), out))


def synth_sequences(out_dir):
    """Skeleton-like random sequences (7 significant digits, as JSON text)."""
    rng = np.random.RandomState(SEED)
    seqs = []
    for T in SYNTH_T:
        base = rng.standard_normal((1, 20, 3)) * [0.3, 0.5, 0.2] + [0.0, 0.2, 3.0]
        walk = np.cumsum(rng.standard_normal((T, 20, 3)) * 0.02, axis=0)
        x = base + walk
        name = "synth_T%03d" % T
        text = json.dumps({"file_name": name,
                           "skeletons": [[[float("%.7g" % c) for c in j] for j in f] for f in x]})
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            f.write(text)
        seqs.append((name, np.array(json.loads(text)["skeletons"])))   # as load_data reads it
    return seqs


def model_reference(ctrgcn, base, xs, calib):
    """Official CTR-GCN, graph.ucla.Graph, eval mode, float64, float32-exact weights."""
    mod = load_model_module(ctrgcn, base)
    torch.manual_seed(SEED)
    model = mod.Model(num_class=10, num_point=20, num_person=1, graph="graph.ucla.Graph",
                      graph_args={"labeling_mode": "spatial"}).double()
    # The graph branches open as in make_ctrgcn_reference.py. Running statistics: one
    # training-mode forward of real samples with BN momentum 1 (each BN keeps that batch's
    # statistics), so the eval logits have the scale of a trained model's instead of
    # growing through ten units.
    open_graph_branches(model)
    with torch.no_grad():
        for t in model.parameters():
            t.copy_(t.float().double())
        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.momentum = 1.0
        model.train()
        model(torch.from_numpy(np.stack(calib)).double())
        for m in bns:
            m.momentum = 0.1
        for b in model.buffers():
            if b.is_floating_point():
                b.copy_(b.float().double())
    model.eval()
    x = torch.from_numpy(np.stack(xs)).double()
    with torch.no_grad():
        logits = model(x).numpy()
        l32 = model.float()(x.float()).double().numpy()
    gap = float(np.max(np.abs(l32 - logits)) / np.max(np.abs(logits)))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return state, logits, gap


def write_checkpoint(path, state):
    import h5py
    # Format "latest": the smallest object headers (822 datasets, ~155 kB of data in all).
    # No timestamps on the root group and /model, so every run writes the same bytes.
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl)
    with h5py.File(fid) as f:
        g = h5py.Group(h5py.h5g.create(f.id, b"model", gcpl=gcpl))
        for k, v in state.items():
            a = v.numpy()
            a = a.astype(np.int64) if a.dtype == np.int64 else a.astype(np.float32)
            g.create_dataset(k, data=a, track_times=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True, help="CTR-GCN checkout")
    ap.add_argument("--zip", required=True, help="all_sqe.zip")
    ap.add_argument("--out", default="tests/data/ucla")
    ap.add_argument("--base", type=int, default=8)
    a = ap.parse_args()
    ctrgcn = os.path.abspath(a.ctrgcn)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    fu = load_feeder(ctrgcn)
    rec = Recorder(SEED)
    fu.random = rec

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(a.zip) as z:
        names = set()
        for m in z.namelist():
            base = os.path.basename(m)
            if base.endswith(".json"):
                names.add(base[:-5])
        z.extractall(os.path.join(tmp, "data", "NW-UCLA"))   # all_sqe/ inside
        cwd = os.getcwd()
        os.chdir(tmp)   # the feeder reads data/NW-UCLA/all_sqe/ relative to the cwd
        try:
            tr = fu.Feeder("joint", "train", repeat=5, random_choose=True, window_size=WINDOW)
            va = fu.Feeder("joint", "val")
        finally:
            os.chdir(cwd)
    rows = check_split(tr, va, names)
    print("split: the view/action rule gives data_dict exactly (1020 train, 464 val)")

    tensors = []
    sys.path.insert(0, ctrgcn)
    from graph import ucla   # noqa: E402  (the official graph)
    tensors.append(("graph/A", ucla.Graph().A))
    tensors.append(("bone/pairs", np.array(va.bone, dtype=np.int64)))

    # Test path: SHA-256 of every validation output, full tensors for a subset.
    vnames = [e["file_name"] for e in va.data_dict]
    T = [d.shape[0] for d in va.data]
    sub = [int(np.argmin(T)), int(np.argmax(T)), T.index(WINDOW)]
    sub += [i for i in range(len(T)) if i not in sub][:3]
    sha_rows = []
    for i, name in enumerate(vnames):
        shas = []
        for key, word in STREAMS:
            o = get(va, i, word)
            shas.append(hashlib.sha256(o.tobytes()).hexdigest())
            if i in sub and (key == "joint" or i in sub[:3]):
                tensors.append(("test/%s/%s" % (name, key), o))
        sha_rows.append((name, T[i], shas))
    assert len(va) == 464 and len(tr) == 5100   # repeat 5 multiplies the epoch length

    # Training path on real sequences (the index is read mod 1020: ask for i + 1020).
    tT = [d.shape[0] for d in tr.data]
    tsub = [int(np.argmin(tT)), int(np.argmax(tT)), 0, 1]
    for i in tsub:
        train_outputs(tr, rec, i + 1020, tr.data_dict[i]["file_name"], STREAMS[::3], tensors)

    # Synthetic sequences: both paths, through the same feeder objects.
    for name, x in synth_sequences(out):
        va.data[0], tr.data[0] = x, x
        for key, word in STREAMS:
            tensors.append(("test/%s/%s" % (name, key), get(va, 0, word)))
        train_outputs(tr, rec, 0, name, STREAMS[::3], tensors)

    # The model on the subset's joint test-path outputs (made before the synthetic
    # sequences took slot 0).
    byname = dict(tensors)
    xs = [byname["test/%s/joint" % vnames[i]] for i in sub]
    others = [i for i in range(1, 464) if i not in sub][:32]   # slot 0 is synthetic now
    calib = [get(va, i, "joint") for i in others]
    state, logits, gap = model_reference(ctrgcn, a.base, xs, calib)
    for i, l in zip(sub, logits):
        tensors.append(("model/logits/%s" % vnames[i], l))
    write_checkpoint(os.path.join(out, "ctrgcn-ucla-b%d.h5" % a.base), state)

    write_bundle(os.path.join(out, "reference.bundle"), tensors)
    with open(os.path.join(out, "split.tsv"), "w") as f:
        f.write("# official feeders/feeder_ucla.py data_dict: index\tname\tsplit\tlabel\tframes\n")
        for r in rows:
            f.write("%d\t%s\t%s\t%d\t%d\n" % r)
    with open(os.path.join(out, "test-sha256.tsv"), "w") as f:
        f.write("# name\tframes\tsha256 of float32 (3, 52, 20, 1): joint\tbone\tmotion\tbone_motion\n")
        for name, t, shas in sha_rows:
            f.write("%s\t%d\t%s\n" % (name, t, "\t".join(shas)))
    commit = subprocess.run(["git", "-C", ctrgcn, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print("test subset:", ", ".join("%s (T %d)" % (vnames[i], T[i]) for i in sub))
    print("train subset:", ", ".join("%s (T %d)" % (tr.data_dict[i]["file_name"], tT[i]) for i in tsub))
    print("model: max |logit| %.3g; float32 vs float64 logits, worst relative to max |logit|: %.2e"
          % (np.max(np.abs(logits)), gap))
    print("wrote %s: %d tensors (CTR-GCN %s, numpy %s, torch %s)" % (out, len(tensors), commit,
                                                                   np.__version__, torch.__version__))


if __name__ == "__main__":
    main()
