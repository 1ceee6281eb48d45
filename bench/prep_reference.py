#!/usr/bin/python3
"""prep_reference.py - times the official NTU preprocessing (CTR-GCN) per sample.

PURPOSE: the "reference" column of `make bench-prep`. The official functions are
imported by path from a CTR-GCN checkout given on the command line (nothing of it
is copied into this repository, as in scripts/ref/make_prep_reference.py) and
run, one sample at a time, on every .skeleton file of a folder:

  data/ntu/get_raw_skes_data.py      get_raw_bodies_data()        read + parse
  data/ntu/get_raw_denoised_data.py  get_one_actor_points(), or
                                     get_two_actors_points() (denoising_bodies_data:
                                     by length, spread, motion) + remove_missing_frames()
                                     - the dispatch of get_raw_denoised_data()'s loop
  data/ntu/seq_transformation.py     seq_translation() + align_frames()   (NTU60)

The batch drivers of those scripts (get_raw_skes_data(), get_raw_denoised_data())
also pickle everything between the steps; that I/O is left out here, so the
figures are the reference's best case per sample. The reference's own progress
prints go to /dev/null, its log files into a scratch directory (both counted).

USAGE (numpy is needed: use the system python):
  /usr/bin/python3 bench/prep_reference.py --ctrgcn /tmp/ref/ctrgcn DIR [--limit N]

OUTPUT: a human line, then one machine line for bench/bench-prep.sh:
  reference: samples=N bytes=B seconds=T samples_per_s=S mbps=M
"""
import argparse
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
import types

import numpy as np


def patch_environment():
    # numpy 1.24 removed the aliases the reference code uses.
    for name, typ in (("int", int), ("float", float)):
        if name not in np.__dict__:
            setattr(np, name, typ)
    # seq_transformation.py imports sklearn (split helper, not called) and h5py.
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
    if "h5py" not in sys.modules:
        try:
            import h5py  # noqa: F401
        except ImportError:
            sys.modules["h5py"] = types.ModuleType("h5py")


def load_module(name, path):
    """Imports one reference file by path (its module-level code runs in the
    current directory, a scratch directory)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctrgcn", required=True, help="a checkout of Uason-Chen/CTR-GCN")
    ap.add_argument("--limit", type=int, default=0, help="at most N samples (0: all)")
    ap.add_argument("skeletons", help="folder of SsssCcccPpppRrrrAaaa.skeleton files")
    args = ap.parse_args()
    ctrgcn = os.path.abspath(args.ctrgcn)
    skes_dir = os.path.abspath(args.skeletons)
    need = [os.path.join(ctrgcn, "data/ntu", f) for f in
            ("get_raw_skes_data.py", "get_raw_denoised_data.py", "seq_transformation.py")]
    for f in need:
        if not os.path.isfile(f):
            sys.exit("prep_reference: %s missing: --ctrgcn must be a CTR-GCN checkout" % f)
    names = sorted(f[:-len(".skeleton")] for f in os.listdir(skes_dir) if f.endswith(".skeleton"))
    if args.limit > 0:
        names = names[:args.limit]
    if not names:
        sys.exit("prep_reference: no .skeleton file in %s" % skes_dir)
    nbytes = sum(os.path.getsize(os.path.join(skes_dir, n + ".skeleton")) for n in names)

    patch_environment()
    cwd = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="cocodiff-bench-ref-")
    quiet = open(os.devnull, "w")
    stdout = sys.stdout
    try:
        os.chdir(tmp)
        sys.stdout = quiet   # the reference prints per sample
        raw = load_module("ref_raw", os.path.join(ctrgcn, "data/ntu/get_raw_skes_data.py"))
        den = load_module("ref_den", os.path.join(ctrgcn, "data/ntu/get_raw_denoised_data.py"))
        seq = load_module("ref_seq", os.path.join(ctrgcn, "data/ntu/seq_transformation.py"))
        drop_logger = logging.getLogger("frames_drop_bench")
        drop_logger.setLevel(logging.INFO)
        drop_logger.addHandler(logging.FileHandler(os.path.join(tmp, "frames_drop.log")))
        frames_drop = dict()
        skes_path = skes_dir + "/"
        t_read = t_den = t_seq = 0.0
        frames_total = 0
        t0 = time.perf_counter()
        for name in names:
            a = time.perf_counter()
            bodies = raw.get_raw_bodies_data(skes_path, name, frames_drop, drop_logger)
            b = time.perf_counter()
            # get_raw_denoised_data()'s loop body, calling the official functions.
            if len(bodies["data"]) == 1:
                body = list(bodies["data"].values())[0]
                joints, _ = den.get_one_actor_points(body, bodies["num_frames"])
            else:
                joints, colors = den.get_two_actors_points(bodies)
                joints, _ = den.remove_missing_frames(name, joints, colors)
            c = time.perf_counter()
            skes = seq.seq_translation([joints])
            aligned = seq.align_frames(skes, np.array([joints.shape[0]]))
            d = time.perf_counter()
            frames_total += aligned.shape[1]
            t_read += b - a
            t_den += c - b
            t_seq += d - c
        secs = time.perf_counter() - t0
    finally:
        sys.stdout = stdout
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(names)
    print("reference | CTR-GCN data/ntu (%s) | %d samples, %.1f MB text, %d frames | %.1fs"
          % (ctrgcn, n, nbytes / 1e6, frames_total, secs))
    print("reference | %.1f samples/s, %.2f MB/s of text | read+parse %.0f%%, denoise %.0f%%, "
          "translate+align %.0f%%" % (n / secs, nbytes / 1e6 / secs, 100 * t_read / secs,
                                      100 * t_den / secs, 100 * t_seq / secs))
    print("reference: samples=%d bytes=%d seconds=%.4f samples_per_s=%.3f mbps=%.4f"
          % (n, nbytes, secs, n / secs, nbytes / 1e6 / secs))


if __name__ == "__main__":
    main()
