#!/usr/bin/env python3
"""pykeops side of the GPU benchmark (scripts/gpu_check/run.sh).

Runs the cases of examples/bench_gpu.rs with pykeops (LazyTensor / Genred on
torch CUDA tensors) on the same data and prints lines in the same format:

    BENCH impl=pykeops case=gauss dtype=f32 M=10000 N=10000 reps=7
          median_s=... pairs_per_s=... checksum=...

(one line each; `status=skipped` / `status=error` with `msg=` last). Each
case is compiled and warmed up once at M = N = 1000 (not timed); timed calls
(each followed by torch.cuda.synchronize) repeat until 3 calls and 0.3 s, or
1 s; the median is printed. Data: the counter-based generator of
bench_gpu.rs (splitmix64), so the checksums of both sides can be compared.

    python3 scripts/gpu_check/bench_pykeops_gpu.py [--sizes 1e4,1e5,1e6]
        [--cases gauss,lse,gauss_grad_x,knn3,knn64] [--dtypes f32,f64]
        [--max-call-s 3] [--budget-s 150] [--device cuda]
"""
import argparse
import statistics
import sys
import time
import traceback

import numpy as np

G = 0.5
K = 10


def u01(seed, count):
    """Values 0..count-1 of stream `seed`: splitmix64, top 53 bits / 2^53."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) << np.uint64(32)) + np.arange(count, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def data(seed, rows, cols):
    return u01(seed, rows * cols).reshape(rows, cols)


def make(case, dtype, torch, device):
    """A function running `case` on (x, y, b) torch tensors, and its inputs' D."""
    from pykeops.torch import Genred, LazyTensor

    d = 64 if case == "knn64" else 3
    tdtype = "float32" if dtype == torch.float32 else "float64"
    if case == "gauss":
        def f(x, y, b, g, e):
            X, Y, B = LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :]), LazyTensor(b[None, :, :])
            return ((-G * X.sqdist(Y)).exp() * B).sum(1)
    elif case == "lse":
        def f(x, y, b, g, e):
            X, Y = LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :])
            return (-G * X.sqdist(Y)).logsumexp(1)
    elif case == "gauss_grad_x":
        # The gradient as one reduction (what autograd would call for the
        # backward pass): Grad(exp(-g |x - y|^2) b, x, e).
        op = Genred(
            "Grad(Exp(-G*SqDist(X,Y))*B, X, E)",
            ["X=Vi(3)", "Y=Vj(3)", "B=Vj(1)", "G=Pm(1)", "E=Vi(1)"],
            reduction_op="Sum", axis=1, dtype=tdtype,
        )

        def f(x, y, b, g, e):
            return op(x, y, b, g, e)
    elif case in ("knn3", "knn64"):
        def f(x, y, b, g, e):
            X, Y = LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :])
            return X.sqdist(Y).argKmin(K, dim=1)
    else:
        raise ValueError(f"unknown case {case}")
    return f, d


def timed(f, sync):
    times = []
    start = time.perf_counter()
    out = None
    while True:
        t = time.perf_counter()
        out = f()
        sync()
        times.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        if (len(times) >= 3 and total >= 0.3) or total >= 1.0 or len(times) >= 20:
            break
    return statistics.median(times), len(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1e4,1e5,1e6")
    ap.add_argument("--cases", default="gauss,lse,gauss_grad_x,knn3,knn64")
    ap.add_argument("--dtypes", default="f32,f64")
    ap.add_argument("--max-call-s", type=float, default=3.0)
    ap.add_argument("--budget-s", type=float, default=150.0)
    ap.add_argument("--device", default="cuda", help="torch device (cpu: to test this script)")
    a = ap.parse_args()

    try:
        import torch
        import pykeops
    except Exception as e:  # noqa: BLE001
        print(f"BENCH impl=pykeops status=error msg=import failed: {e}")
        return 1
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("BENCH impl=pykeops status=error msg=torch sees no CUDA device")
        return 1
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"# pykeops {pykeops.__version__}, torch {torch.__version__}, device "
          f"{torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu'}", flush=True)

    sizes = [int(float(s)) for s in a.sizes.split(",") if s]
    deadline = time.perf_counter() + a.budget_s
    for dname in [d for d in a.dtypes.split(",") if d]:
        for case in [c for c in a.cases.split(",") if c]:
            dtype = {"f32": torch.float32, "f64": torch.float64}.get(dname)
            if dtype is None:
                print(f"BENCH impl=pykeops case={case} dtype={dname} status=error msg=unknown dtype")
                continue
            try:
                f, d = make(case, dtype, torch, dev)
            except Exception as e:  # noqa: BLE001
                print(f"BENCH impl=pykeops case={case} dtype={dname} status=error msg={e}")
                continue
            rate = None
            for si, n in enumerate([1000] + sizes):
                warm = si == 0
                head = f"BENCH impl=pykeops case={case} dtype={dname} M={n} N={n}"
                if not warm:
                    if time.perf_counter() > deadline:
                        print(f"{head} status=skipped msg=budget of {a.budget_s} s spent", flush=True)
                        continue
                    if rate and n * n / rate > a.max_call_s:
                        print(f"{head} status=skipped msg=estimated {n * n / rate:.1f} s per call > "
                              f"--max-call-s {a.max_call_s}", flush=True)
                        continue
                try:
                    npd = np.float32 if dname == "f32" else np.float64
                    t = lambda arr: torch.from_numpy(arr.astype(npd)).to(dev)  # noqa: E731
                    x, y, b = t(data(1, n, d)), t(data(2, n, d)), t(data(3, n, 1))
                    e = torch.ones((n, 1), dtype=dtype, device=dev)
                    g = torch.tensor([G], dtype=dtype, device=dev)
                    sync()
                    if warm:
                        f(x, y, b, g, e)  # compiles (NVRTC) on the first call
                        sync()
                    med, reps, out = timed(lambda: f(x, y, b, g, e), sync)
                    rate = n * n / med
                    if warm:
                        continue
                    checksum = float(out.double().sum().item())
                    print(f"{head} reps={reps} median_s={med:.6e} pairs_per_s={n * n / med:.4e} "
                          f"checksum={checksum:.10e}", flush=True)
                    del x, y, b, e, out
                except Exception as ex:  # noqa: BLE001
                    msg = str(ex).strip().splitlines()[-1] if str(ex).strip() else type(ex).__name__
                    print(f"{head} status=error msg={type(ex).__name__}: {msg}", flush=True)
                    traceback.print_exc(file=sys.stderr)
                    if warm:
                        break
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
