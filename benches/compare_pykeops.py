#!/usr/bin/env python3
"""Side-by-side CPU comparison of keops-rs with pykeops 2.3 (and faiss-cpu for
k-NN) on the same data, in one run: prints a table of medians, G pairs/s and
ratios, and checks that the results agree.

    python3 -m pip install pykeops==2.3 faiss-cpu numpy
    python3 benches/compare_pykeops.py [--n 100000] [--repeats 5] [--only gauss,knn3]

The Rust side is `benches/compare.rs` (built with `cargo bench --bench compare
--no-run`). Threads: both sides use every core unless RAYON_NUM_THREADS /
OMP_NUM_THREADS say otherwise (pykeops' CPU backend is OpenMP-parallel).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rust_binary():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "compare", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "compare" and msg.get("executable"):
            return msg["executable"]
    sys.exit("could not find the compare bench binary")


WORKLOADS = {
    # name: (M, N, D, E (width of b), dtype, description)
    "gauss": (None, None, 3, 1, np.float32, "Gaussian sum, D=3, b of dim 1"),
    "gauss_f64": (None, None, 3, 1, np.float64, "same in f64"),
    "gauss_b16": (None, None, 3, 16, np.float32, "same with b of dim 16"),
    "lse": (None, None, 3, 1, np.float32, "logsumexp of -g*sqdist, D=3"),
    "grad": (None, None, 3, 1, np.float32, "gradient of the Gaussian sum w.r.t. x"),
    "knn3": (None, None, 3, 1, np.float32, "argkmin K=10, D=3"),
    "knn64": (10_000, 10_000, 64, 1, np.float32, "argkmin K=10, D=64, M=N=1e4"),
    "small": (1_000, 1_000, 3, 1, np.float32, "Gaussian sum M=N=1e3 (ours: first call)"),
    "gauss784": (10_000, 10_000, 784, 1, np.float32, "Gaussian sum, D=784 (MNIST-sized), M=N=1e4"),
    "grad784": (10_000, 10_000, 784, 1, np.float32, "its gradient w.r.t. x, D=784, M=N=1e4"),
    "knn784": (10_000, 10_000, 784, 1, np.float32, "argkmin K=10, D=784, M=N=1e4"),
}


def pykeops_run(name, x, y, b, g, repeats):
    from pykeops.numpy import LazyTensor
    dtype = x.dtype
    X = LazyTensor(x[:, None, :])
    Y = LazyTensor(y[None, :, :])

    if name in ("gauss", "gauss_f64", "gauss_b16", "small", "gauss784"):
        B = LazyTensor(b[None, :, :])
        f = lambda: (-g * X.sqdist(Y)).exp().__mul__(B).sum(1)
    elif name == "lse":
        f = lambda: (-g * X.sqdist(Y)).logsumexp(1)
    elif name in ("grad", "grad784"):
        from pykeops.numpy import Genred
        # Gradient of sum_j exp(-g |x-y|^2) b_j w.r.t. x, with e = 1.
        formula = "Grad(Exp(-G*SqDist(X,Y))*B, X, E)"
        aliases = [f"X=Vi({x.shape[1]})", f"Y=Vj({y.shape[1]})", f"B=Vj({b.shape[1]})", "G=Pm(1)", "E=Vi(1)"]
        op = Genred(formula, aliases, reduction_op="Sum", axis=1, dtype="float32")
        e = np.ones((x.shape[0], 1), dtype=dtype)
        gg = np.array([g], dtype=dtype)
        f = lambda: op(x, y, b, gg, e)
    elif name in ("knn3", "knn64", "knn784"):
        f = lambda: X.sqdist(Y).argKmin(10, dim=1)
    else:
        raise ValueError(name)
    out = f()  # compiles on first call (about 5 s), not timed
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return np.asarray(out), statistics.median(times)


def faiss_run(x, y, repeats):
    import faiss
    index = faiss.IndexFlatL2(y.shape[1])
    index.add(y)
    index.search(x, 10)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _, idx = index.search(x, 10)
        times.append(time.perf_counter() - t)
    return idx, statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000, help="M = N for the large workloads")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated workloads")
    args = ap.parse_args()
    names = [w for w in WORKLOADS if not args.only or w in args.only.split(",")]
    binary = rust_binary()
    rng = np.random.default_rng(0)
    g = 0.5
    rows = []
    for name in names:
        m, n, d, e, dtype, desc = WORKLOADS[name]
        m = m or args.n
        n = n or args.n
        x = rng.random((m, d)).astype(dtype)
        y = rng.random((n, d)).astype(dtype)
        b = rng.random((n, e)).astype(dtype)
        with tempfile.TemporaryDirectory() as tmp:
            x.tofile(os.path.join(tmp, "x.bin"))
            y.tofile(os.path.join(tmp, "y.bin"))
            b.tofile(os.path.join(tmp, "b.bin"))
            with open(os.path.join(tmp, "shape.txt"), "w") as fh:
                fh.write(f"{m} {n} {d} {e}\n")
            res = subprocess.run([binary, tmp, name, str(args.repeats)], check=True, capture_output=True, text=True)
            ours = json.loads(res.stdout.strip().splitlines()[-1])
            out_dtype = np.int64 if name.startswith("knn") else dtype
            out_rs = np.fromfile(os.path.join(tmp, "out_rs.bin"), dtype=out_dtype)
        out_pk, t_pk = pykeops_run(name, x, y, b, g, args.repeats)
        # Agreement: values (relative to the largest), or k-NN sets (recall).
        if name.startswith("knn"):
            a = out_rs.reshape(m, 10)
            p = out_pk.reshape(m, 10)
            agree = np.mean([len(set(a[i]) & set(p[i])) / 10 for i in range(m)])
            check = f"recall vs pykeops {agree:.4f}"
        else:
            a = out_rs.reshape(out_pk.shape).astype(np.float64)
            err = np.max(np.abs(a - out_pk)) / max(np.max(np.abs(out_pk)), 1e-30)
            check = f"max rel. diff vs pykeops {err:.1e}"
        t_ours = ours["first_s"] if name == "small" else ours["median_s"]
        row = {
            "workload": name, "desc": desc, "M": m, "N": n,
            "ours_s": t_ours, "pykeops_s": t_pk,
            "ours_gpairs": m * n / t_ours / 1e9, "pykeops_gpairs": m * n / t_pk / 1e9,
            "ratio": t_pk / t_ours, "check": check,
        }
        if name == "knn64":
            idx, t_f = faiss_run(x, y, args.repeats)
            row["faiss_s"] = t_f
            row["faiss_gpairs"] = m * n / t_f / 1e9
            row["ratio_faiss"] = t_f / t_ours
            row["check"] += f", recall vs faiss {np.mean([len(set(out_rs.reshape(m, 10)[i]) & set(idx[i])) / 10 for i in range(m)]):.4f}"
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print()
    print(f"{'workload':<11} {'M=N':>8} {'ours (s)':>10} {'G pairs/s':>10} {'pykeops (s)':>12} {'G pairs/s':>10} {'ratio':>7}  check")
    for r in rows:
        print(f"{r['workload']:<11} {r['M']:>8} {r['ours_s']:>10.4f} {r['ours_gpairs']:>10.3f} {r['pykeops_s']:>12.4f} {r['pykeops_gpairs']:>10.3f} {r['ratio']:>6.1f}x  {r['check']}")
        if "faiss_s" in r:
            print(f"{'  faiss':<11} {r['M']:>8} {'':>10} {'':>10} {r['faiss_s']:>12.4f} {r['faiss_gpairs']:>10.3f} {r['ratio_faiss']:>6.2f}x  (ours vs faiss-cpu IndexFlatL2)")


if __name__ == "__main__":
    main()
