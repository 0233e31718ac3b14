#!/usr/bin/env python3
"""Run-time formulas side by side with pykeops 2.3, in one run (CPU, f32):
the Gaussian sum and the log-sum-exp at D = 3 on N x N points, as pykeops
`Genred` strings and as `keops::Formula` strings (our executor, no
compiler), plus the time from a string never seen before to its first
result on 1000 points (pykeops: its compilation with g++).

    python3 -m pip install pykeops==2.3 numpy
    cargo build --release --example bench_formula
    python3 benches/compare_formula.py [--n 20000] [--repeats 5]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_time(f, repeats):
    f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    from pykeops.numpy import Genred

    rng = np.random.default_rng(0)
    n = a.n
    x = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    y = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
    # First call of a formula not compiled before (a fresh variant of the
    # Gaussian, so that pykeops' cache does not hold it).
    tag = f"{time.time_ns() % 1000003}"
    fresh = Genred(f"Exp(-SqDist(x,y)*IntCst({tag}))*b", aliases, reduction_op="Sum", axis=1)
    t = time.perf_counter()
    fresh(x[:1000], y[:1000], b[:1000], backend="CPU")
    first = time.perf_counter() - t
    gauss = Genred("Exp(-SqDist(x,y))*b", aliases, reduction_op="Sum", axis=1)
    lse = Genred("-SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], reduction_op="LogSumExp", axis=1)
    tg = median_time(lambda: gauss(x, y, b, backend="CPU"), a.repeats)
    tl = median_time(lambda: lse(x, y, backend="CPU"), a.repeats)
    pairs = n * n
    py = {"gaussian": pairs / tg / 1e9, "logsumexp": pairs / tl / 1e9}
    print(f"pykeops 2.3: first call of a new formula (1000 points, g++ compile) {first * 1e3:.0f} ms")
    print(f"pykeops 2.3: gaussian D = 3 {py['gaussian']:.2f} Gpairs/s, logsumexp D = 3 {py['logsumexp']:.2f} Gpairs/s")
    exe = os.path.join(ROOT, "target", "release", "examples", "bench_formula")
    out = subprocess.run([exe, str(n), str(a.repeats)], check=True, capture_output=True, text=True).stdout
    print(out, end="")
    for name in ("gaussian", "logsumexp"):
        m = re.search(rf"^{name}\s+D =\s+3: compiled\s+([\d.]+) Gpairs/s, run-time\s+([\d.]+)", out, re.M)
        if m:
            comp, rt = float(m.group(1)), float(m.group(2))
            print(f"{name} D = 3: run-time / pykeops {rt / py[name]:.1f}x, compiled / pykeops {comp / py[name]:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
