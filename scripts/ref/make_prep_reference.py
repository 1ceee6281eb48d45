#!/usr/bin/python3
"""make_prep_reference.py - reference tensors from the official preprocessing code.

PURPOSE: run the official reference code, imported by path from the checkouts
given on the command line (nothing of it is copied here), on the real samples,
and write small binary files that tests/3300-ref-ntu.c and
tests/3301-ref-kinetics.c compare the C code with bit for bit.

  NTU (CTR-GCN, code from SGN), all steps through the official functions:
    data/ntu/get_raw_skes_data.py      get_raw_skes_data() -> get_raw_bodies_data()
    data/ntu/get_raw_denoised_data.py  get_raw_denoised_data() (denoising,
                                       get_one_actor_points / get_two_actors_points,
                                       remove_missing_frames)
    data/ntu/seq_transformation.py     run as __main__ (seq_translation,
                                       align_frames, split_dataset CS and CV:
                                       NTU60_CS.npz, NTU60_CV.npz)
    data/ntu120/seq_transformation.py  run as __main__ (CSub, CSet; single
                                       actor copied into body 2)
    with the checkout's statistics/{label,performer,camera,setup}.txt rows of
    the samples at hand, as the official scripts read them.
  Kinetics (ST-GCN): feeder/feeder_kinetics.py Feeder_kinetics(..., window_size=300)
    [i], cast to float32 as tools/kinetics_gendata.py's memmap store does.
  The splits and labels of those whole outputs go to splits.tsv (what
  tests/5031-prep-real-e2e.c compares cocodiff-prep's HDF5 files with).

  Every input is also run from CRLF copies; the reference must give the same
  tensors (it does: Python's text mode and json ignore the CR), so the C code
  must too.

USAGE (numpy is needed: use the system python):
  /usr/bin/python3 scripts/ref/make_prep_reference.py --ctrgcn /tmp/ref/ctrgcn \
      --stgcn /tmp/ref/stgcn --real ../shared/data/real --out tests/data/ref

OUTPUT (little-endian): int32 magic 20261125, int32 version 1, int32 ndim,
int32 dims[ndim], then float32 data in C order.
  ntu60_<name>.ref   (frames, 150): the reference rows (m*75 + v*3 + c), body 2
                     zero for single-actor samples; frames = rows.
  ntu120_<name>.ref  (frames, 150): only where NTU120's align_frames differs.
  kinetics_<id>.ref  (3, F, 18, 2): the clip tensor (C, T, V, M) cut after its
                     last non-zero frame F-1 (frames F..299 are zero).
  splits.tsv         benchmark, group (train/test), name, label of every sample
                     of the official outputs (NTU npz x_/y_train, x_/y_test;
                     Kinetics: kinetics_val is test).
"""
import argparse
import hashlib
import importlib.util
import logging
import os
import pickle
import runpy
import shutil
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np

MAGIC = 20261125
VERSION = 1


# ---------------------------------------------------------------------------
# Environment for the reference code

def patch_environment():
    # numpy 1.24 removed the aliases the reference code uses.
    for name, typ in (("int", int), ("float", float)):
        if name not in np.__dict__:
            setattr(np, name, typ)
    # seq_transformation.py imports sklearn for a split helper we do not call.
    if "sklearn" not in sys.modules:
        try:
            import sklearn.model_selection  # noqa: F401
        except ImportError:
            sk = types.ModuleType("sklearn")
            ms = types.ModuleType("sklearn.model_selection")

            def train_test_split(*a, **k):
                raise RuntimeError("sklearn stub: train_test_split is not used here")

            ms.train_test_split = train_test_split
            sk.model_selection = ms
            sys.modules["sklearn"] = sk
            sys.modules["sklearn.model_selection"] = ms
    # ST-GCN's feeder imports torch/torchvision; its __getitem__ is numpy only.
    if "torch" not in sys.modules:
        torch = types.ModuleType("torch")
        utils = types.ModuleType("torch.utils")
        data = types.ModuleType("torch.utils.data")
        data.Dataset = object
        utils.data = data
        torch.utils = utils
        torch.nn = types.ModuleType("torch.nn")
        tv = types.ModuleType("torchvision")
        tv.datasets = types.ModuleType("torchvision.datasets")
        tv.transforms = types.ModuleType("torchvision.transforms")
        for m in (torch, utils, data, torch.nn, tv, tv.datasets, tv.transforms):
            sys.modules[m.__name__] = m


def load_module(name, path):
    """Imports one reference file by path (it runs its module-level code in
    the current directory, which is a scratch directory)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_package(name, directory):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(directory, "__init__.py"), submodule_search_locations=[directory])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def write_ref(path, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", MAGIC, VERSION, arr.ndim))
        f.write(struct.pack("<%di" % arr.ndim, *arr.shape))
        f.write(arr.tobytes())


def crlf_copy(src_dir, dst_dir, names):
    os.makedirs(dst_dir, exist_ok=True)
    for n in names:
        with open(os.path.join(src_dir, n), "rb") as f:
            b = f.read()
        b = b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with open(os.path.join(dst_dir, n), "wb") as f:
            f.write(b)


def git_head(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


# ---------------------------------------------------------------------------
# NTU

# The official splits: (benchmark here, seq_transformation variant, its
# evaluation name, its npz, the statistics file get_indices takes second).
NTU_BENCHES = (("ntu60-xsub", "ntu", "CS", "NTU60_CS.npz", "camera"),
               ("ntu60-xview", "ntu", "CV", "NTU60_CV.npz", "camera"),
               ("ntu120-xsub", "ntu120", "CSub", "NTU120_CSub.npz", "setup"),
               ("ntu120-xset", "ntu120", "CSet", "NTU120_CSet.npz", "setup"))


def write_statistics(ctrgcn, variant, names):
    """statistics/*.txt of the checkout (data/<variant>/statistics), cut to
    the rows of names, in names' order, as seq_transformation reads them."""
    src = os.path.join(ctrgcn, "data", variant, "statistics")
    with open(os.path.join(src, "skes_available_name.txt")) as f:
        row = {n.strip(): i for i, n in enumerate(f) if n.strip()}
    missing = [n for n in names if n not in row]
    assert not missing, "not in %s/skes_available_name.txt: %s" % (src, missing)
    for stat in ("label", "performer", "camera", "setup", "replication"):
        path = os.path.join(src, stat + ".txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            vals = [l.strip() for l in f]
        with open(os.path.join("statistics", stat + ".txt"), "w") as f:
            f.write("\n".join(vals[row[n]] for n in names) + "\n")


def run_ntu(ctrgcn, skes_path, names, work, tag):
    """The official pipeline on names (without '.skeleton') read from
    skes_path. Returns ({name: (frames,150) ntu60 rows}, {name: ntu120 rows},
    [(benchmark, group, name, label)]), all taken from the npz files
    seq_transformation.py writes."""
    os.makedirs(work)
    os.chdir(work)
    os.makedirs("raw_data")
    os.makedirs("statistics")
    with open("statistics/skes_available_name.txt", "w") as f:
        f.write("\n".join(names) + "\n")

    raw = load_module("ref_raw_" + tag, os.path.join(ctrgcn, "data/ntu/get_raw_skes_data.py"))
    # The globals its __main__ block would set.
    raw.save_path = "./"
    raw.skes_path = skes_path
    raw.stat_path = "statistics"
    raw.skes_name_file = "statistics/skes_available_name.txt"
    raw.save_data_pkl = "raw_data/raw_skes_data.pkl"
    raw.frames_drop_pkl = "raw_data/frames_drop_skes.pkl"
    raw.frames_drop_logger = logging.getLogger("frames_drop_" + tag)
    raw.frames_drop_logger.setLevel(logging.INFO)
    raw.frames_drop_logger.addHandler(logging.FileHandler("raw_data/frames_drop.log"))
    raw.frames_drop_skes = dict()
    raw.get_raw_skes_data()

    den = load_module("ref_den_" + tag,
                      os.path.join(ctrgcn, "data/ntu/get_raw_denoised_data.py"))
    den.get_raw_denoised_data()
    frames_cnt = np.loadtxt("denoised_data/frames_cnt.txt", dtype=int)

    rows = {"ntu": {}, "ntu120": {}}
    splits = []
    for variant in ("ntu", "ntu120"):
        write_statistics(ctrgcn, variant, names)
        # The whole script, as `python seq_transformation.py` runs it.
        g = runpy.run_path(os.path.join(ctrgcn, "data", variant, "seq_transformation.py"),
                           run_name="__main__")
        for bench, var, ev, npz, second in NTU_BENCHES:
            if var != variant:
                continue
            tr, te = g["get_indices"](g["performer"], g[second], ev)
            with np.load(npz) as z:
                for group, idx, x, y in (("train", tr, z["x_train"], z["y_train"]),
                                         ("test", te, z["x_test"], z["y_test"])):
                    # align_frames pads to the longest sample: 300 on the full
                    # datasets, less on these few (the rest would be zeros).
                    assert x.dtype == np.float32 and x.shape[1:] == (frames_cnt.max(), 150)
                    for k, i in enumerate(idx):
                        n, F = names[i], int(frames_cnt[i])
                        assert not np.any(x[k, F:]), "%s: rows past frames_cnt" % n
                        r = np.array(x[k, :F])
                        if n in rows[variant]:
                            assert np.array_equal(rows[variant][n], r), "%s differs by split" % n
                        rows[variant][n] = r
                        splits.append((bench, group, n, int(np.argmax(y[k]))))
    assert set(rows["ntu"]) == set(names) and set(rows["ntu120"]) == set(names)
    return rows["ntu"], rows["ntu120"], splits


# ---------------------------------------------------------------------------
# Kinetics

def run_kinetics(stgcn, data_path, label_path, tag):
    pkg = "ref_feeder_" + tag
    load_package(pkg, os.path.join(stgcn, "feeder"))
    fk = load_module(pkg + ".feeder_kinetics", os.path.join(stgcn, "feeder/feeder_kinetics.py"))
    # As tools/kinetics_gendata.py builds it.
    feeder = fk.Feeder_kinetics(data_path=data_path, label_path=label_path, num_person_in=5,
                                num_person_out=2, window_size=300)
    res = {}
    for i, s in enumerate(feeder.sample_name):
        data, label = feeder[i]
        store = np.zeros((3, 300, 18, 2), dtype=np.float32)
        store[:, 0:data.shape[1], :, :] = data   # the memmap assignment's cast
        res[s.split(".")[0]] = (store, int(label))   # kinetics_val: the test group
    return res


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True)
    ap.add_argument("--stgcn", required=True)
    ap.add_argument("--real", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ctrgcn, stgcn, real = (os.path.abspath(p) for p in (args.ctrgcn, args.stgcn, args.real))
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    cwd = os.getcwd()
    patch_environment()

    tmp = tempfile.mkdtemp(prefix="cocodiff-ref-")
    try:
        ntu_dir = os.path.join(real, "ntu")
        files = sorted(f for f in os.listdir(ntu_dir) if f.endswith(".skeleton"))
        names = [f[:-len(".skeleton")] for f in files]
        crlf_ntu = os.path.join(tmp, "crlf_ntu")
        crlf_copy(ntu_dir, crlf_ntu, files)
        quiet = open(os.devnull, "w")
        stdout, sys.stdout = sys.stdout, quiet   # the reference prints progress
        try:
            n60, n120, splits = run_ntu(ctrgcn, ntu_dir + "/", names, os.path.join(tmp, "lf"), "lf")
            c60, c120, csplits = run_ntu(ctrgcn, crlf_ntu + "/", names,
                                         os.path.join(tmp, "crlf"), "crlf")
        finally:
            sys.stdout = stdout
        os.chdir(tmp)

        kin_dir = os.path.join(real, "kinetics")
        label_path = os.path.join(real, "lists", "kinetics_val_label.json")
        kfiles = sorted(f for f in os.listdir(kin_dir) if f.endswith(".json"))
        crlf_kin = os.path.join(tmp, "crlf_kinetics")
        crlf_copy(kin_dir, crlf_kin, kfiles)
        kin = run_kinetics(stgcn, kin_dir, label_path, "lf")
        kin_crlf = run_kinetics(stgcn, crlf_kin, label_path, "crlf")
        os.chdir(cwd)

        assert splits == csplits, "CRLF copies give other splits or labels"
        lines = []
        for n in names:
            a, b = n60[n], n120[n]
            assert np.array_equal(a, c60[n]) and np.array_equal(b, c120[n]), \
                "CRLF copy of %s gives a different reference" % n
            write_ref(os.path.join(out_dir, "ntu60_%s.ref" % n), a)
            two = bool(np.any(a[:, 75:] != 0))
            diff = not np.array_equal(a, b)
            if diff:
                write_ref(os.path.join(out_dir, "ntu120_%s.ref" % n), b)
            lines.append("| %s | %d | %s | %s |" % (n, a.shape[0], "2" if two else "1",
                                                   "yes" if diff else "no (same as NTU60)"))
        klines = []
        for vid in sorted(kin):
            t, label = kin[vid]
            assert np.array_equal(t, kin_crlf[vid][0]), "CRLF copy of %s differs" % vid
            nz = np.flatnonzero(np.any(t != 0, axis=(0, 2, 3)))
            F = int(nz[-1]) + 1 if nz.size else 0
            write_ref(os.path.join(out_dir, "kinetics_%s.ref" % vid), t[:, :F])
            klines.append("| %s | %d | %d | %d |" % (vid, label, F, nz.size))
            splits.append(("kinetics", "test", vid, label))
        with open(os.path.join(out_dir, "splits.tsv"), "w") as f:
            f.write("# benchmark\tgroup\tname\tlabel\n")
            for row in sorted(splits):
                f.write("%s\t%s\t%s\t%d\n" % row)

        write_readme(out_dir, ctrgcn, stgcn, real, names, lines, kfiles, klines)
        print("wrote %d NTU and %d Kinetics references into %s" % (len(names), len(kin), out_dir))
        for l in lines + klines:
            print(l)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_readme(out_dir, ctrgcn, stgcn, real, names, lines, kfiles, klines):
    ins = ["| ntu/%s.skeleton | %s |" % (n, sha256(os.path.join(real, "ntu", n + ".skeleton")))
           for n in names]
    ins += ["| kinetics/%s | %s |" % (f, sha256(os.path.join(real, "kinetics", f)))
            for f in kfiles]
    ins.append("| lists/kinetics_val_label.json | %s |"
               % sha256(os.path.join(real, "lists", "kinetics_val_label.json")))
    text = """# Reference tensors from the official preprocessing code

Made by `scripts/ref/make_prep_reference.py`, which imports the official code from the
checkouts named on its command line (nothing of it is copied into this repository) and runs it
on the real samples of `../shared/data/real` (see its SOURCES.md):

```
/usr/bin/python3 scripts/ref/make_prep_reference.py --ctrgcn /tmp/ref/ctrgcn \\
    --stgcn /tmp/ref/stgcn --real ../shared/data/real --out tests/data/ref
```

Reference code, numpy %(np)s, Python %(py)s:

| checkout | repository | commit |
|---|---|---|
| --ctrgcn | Uason-Chen/CTR-GCN | %(ctr)s |
| --stgcn | yysijie/st-gcn | %(stg)s |

- NTU: `data/ntu/get_raw_skes_data.py` `get_raw_skes_data()` (-> `get_raw_bodies_data`),
  `data/ntu/get_raw_denoised_data.py` `get_raw_denoised_data()` (denoising,
  `get_one_actor_points` / `get_two_actors_points`, `remove_missing_frames`), then
  `data/ntu/seq_transformation.py` (NTU60: body 2 zero for single-actor samples) and
  `data/ntu120/seq_transformation.py` (NTU120: body 1 copied into body 2), each run whole as
  `__main__` (`seq_translation`, `align_frames`, `split_dataset`). numpy 1.24 aliases
  (`np.int`) are restored and `sklearn` is stubbed (unused split helper); the scripts run in a
  scratch directory since they write logs and npz files there.
- Kinetics: ST-GCN `feeder/feeder_kinetics.py` `Feeder_kinetics(num_person_in=5,
  num_person_out=2, window_size=300)[i]` (torch/torchvision stubbed: the method is numpy
  only), cast to float32 as `tools/kinetics_gendata.py` stores it.
- CRLF: every input was also run from a CRLF copy; the reference gives identical tensors.

Format (little-endian): int32 magic 20261125, int32 version 1, int32 ndim, int32 dims[ndim],
float32 data in C order.

- `ntu60_<name>.ref` (frames, 150): the sample's rows (m*75 + v*3 + c), i.e. the first
  `frames` rows of the (300, 150) aligned tensor; the rest is zero.
- `ntu120_<name>.ref` (frames, 150): only for samples where NTU120's `align_frames` differs
  (one actor left); otherwise NTU120 equals NTU60.
- `kinetics_<id>.ref` (3, F, 18, 2) = (C, T, V, M): the clip tensor up to its last non-zero
  frame F-1; frames F..299 are zero.
- `splits.tsv`: benchmark, group, name and label of every sample in the official outputs:
  `seq_transformation.py` run as `__main__` (NTU60 `CS`/`CV`, NTU120 `CSub`/`CSet` npz files,
  labels from the one-hot `y_*`; the checkout's `statistics/*.txt` rows of these samples), and
  `Feeder_kinetics`' labels (`kinetics_val` is the test group). Every npz row equals the
  sample's `.ref` file, zero after it (`align_frames` pads to the longest sample, 300 frames on
  the full datasets; the HDF5 files always hold 300).

| NTU sample | frames | actors | NTU120 file |
|---|---|---|---|
%(lines)s

| Kinetics clip | label_index | F | non-zero frames |
|---|---|---|---|
%(klines)s

Inputs (sha256):

| file | sha256 |
|---|---|
%(ins)s
""" % dict(np=np.__version__, py=sys.version.split()[0], ctr=git_head(ctrgcn),
           stg=git_head(stgcn), lines="\n".join(lines), klines="\n".join(klines),
           ins="\n".join(ins))
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
