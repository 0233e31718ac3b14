#!/usr/bin/env python3
"""Side-by-side CPU comparison of `K @ V` for a symbolic Gaussian matrix
(keops-rs `keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)))`
bound to data, against pykeops 2.3's LazyTensor `K @ v`), f32, D = 3,
for several widths W of V; prints a table of medians, ratios, the GFLOP/s
of the multiply part (2 M N W / time) and the agreement of the results.

    python3 -m pip install pykeops==2.3 numpy
    python3 benches/compare_matrix.py [--n 30000] [--repeats 5] [--widths 1,16,128]

The Rust side is `benches/compare_matrix.rs`. Both sides use every core
unless RAYON_NUM_THREADS / OMP_NUM_THREADS say otherwise. pykeops' first
call compiles the formula (g++, about 5 s per width) and is not timed.
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
        ["cargo", "bench", "--bench", "compare_matrix", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "compare_matrix" and msg.get("executable"):
            return msg["executable"]
    sys.exit("could not find the compare_matrix bench binary")


def pykeops_run(x, y, v, g, repeats):
    from pykeops.numpy import LazyTensor
    X = LazyTensor(x[:, None, :])
    Y = LazyTensor(y[None, :, :])
    K = (-g * X.sqdist(Y)).exp()
    f = lambda: K @ v
    out = f()  # compiles on first call, not timed
    times = []
    cpu0 = time.process_time()
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    cpu = (time.process_time() - cpu0) / repeats
    return np.asarray(out), statistics.median(times), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30_000, help="M = N")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--widths", default="1,16,128")
    args = ap.parse_args()
    binary = rust_binary()
    rng = np.random.default_rng(0)
    g = np.float32(0.5)
    m = n = args.n
    x = rng.random((m, 3)).astype(np.float32)
    y = rng.random((n, 3)).astype(np.float32)
    rows = []
    for w in [int(s) for s in args.widths.split(",")]:
        v = rng.random((n, w)).astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            x.tofile(os.path.join(tmp, "x.bin"))
            y.tofile(os.path.join(tmp, "y.bin"))
            v.tofile(os.path.join(tmp, "v.bin"))
            with open(os.path.join(tmp, "shape.txt"), "w") as fh:
                fh.write(f"{m} {n} 3 {w}\n")
            res = subprocess.run([binary, tmp, str(args.repeats)], check=True, capture_output=True, text=True)
            ours = json.loads(res.stdout.strip().splitlines()[-1])
            out_rs = np.fromfile(os.path.join(tmp, "out_rs.bin"), dtype=np.float32).reshape(m, w)
        out_pk, t_pk, cpu_pk = pykeops_run(x, y, v, g, args.repeats)
        err = np.max(np.abs(out_rs.astype(np.float64) - out_pk)) / max(np.max(np.abs(out_pk)), 1e-30)
        t = ours["median_s"]
        row = {
            "W": w, "M": m, "N": n, "ours_s": t, "pykeops_s": t_pk, "ratio": t_pk / t,
            "ours_gflops": 2.0 * m * n * w / t / 1e9, "pykeops_gflops": 2.0 * m * n * w / t_pk / 1e9,
            "ours_cpu_s": ours["cpu_s"], "pykeops_cpu_s": cpu_pk, "cpu_ratio": cpu_pk / max(ours["cpu_s"], 1e-9),
            "ours_gflops_per_cpu_s": ours["gflops_per_cpu_s"],
            "check": f"max rel. diff {err:.1e}",
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print()
    print("| W | ours (s) | pykeops (s) | ratio (wall) | ours CPU s | pykeops CPU s | ratio (CPU time) | ours GFLOP/s (2MNW/t) | ours GFLOP/s per CPU second | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['W']} | {r['ours_s']:.3f} | {r['pykeops_s']:.3f} | **{r['ratio']:.1f}x** | {r['ours_cpu_s']:.2f} | {r['pykeops_cpu_s']:.2f} | **{r['cpu_ratio']:.1f}x** | {r['ours_gflops']:.1f} | {r['ours_gflops_per_cpu_s']:.1f} | {r['check']} |")


if __name__ == "__main__":
    main()
