#!/usr/bin/env python3
"""Joins the BENCH lines of bench_gpu (keops-rs) and bench_pykeops_gpu.py into
one markdown table (scripts/gpu_check/run.sh, step 7). Standard library only.

    python3 summarize.py [--ceilings .gpu/ceilings.tsv] [--status status.tsv] LOG...

Columns: pairs/s of each side, ours / pykeops, ours as a fraction of our
kernel's H200 ceiling (instruction-issue bound from benches/sass_count.py,
if the ceilings file exists), and the agreement of the two sides' checksums
(sum of all outputs; for k-NN the sum of the indices, equal when the
neighbour lists are).
"""
import argparse
import os


def parse(path):
    rows = {}
    if not os.path.exists(path):
        return rows
    for line in open(path, errors="replace"):
        if not line.startswith("BENCH "):
            continue
        body = line[len("BENCH "):].rstrip("\n")
        kv = {}
        msg = None
        if " msg=" in body:
            body, msg = body.split(" msg=", 1)
        for tok in body.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                kv[k] = v
        if msg is not None:
            kv["msg"] = msg
        key = (kv.get("case", "?"), kv.get("dtype", "?"), kv.get("M", "?"))
        rows.setdefault(kv.get("impl", "?"), {})[key] = kv
    return rows


def ceilings(path):
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        out[(f[0], f[1])] = (float(f[2]), float(f[4]))
    return out


def g(x):
    return f"{x / 1e9:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--ceilings")
    ap.add_argument("--status")
    a = ap.parse_args()

    data = {}
    for p in a.logs:
        for impl, rows in parse(p).items():
            data.setdefault(impl, {}).update(rows)
    ours = data.get("keops-rs", {})
    pyk = data.get("pykeops", {})
    ceil = ceilings(a.ceilings)

    print("# GPU check summary\n")
    if a.status and os.path.exists(a.status):
        print("| step | result | time | log |\n|---|---|---|---|")
        for line in open(a.status):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 4:
                print(f"| {f[0]} | {f[1]} | {f[2]} | {f[3]} |")
        print()

    keys = sorted(
        set(ours) | set(pyk),
        key=lambda k: (k[1], ["gauss", "lse", "gauss_grad_x", "knn3", "knn64"].index(k[0])
                       if k[0] in ["gauss", "lse", "gauss_grad_x", "knn3", "knn64"] else 9,
                       k[0], int(k[2]) if k[2].isdigit() else 0),
    )
    print("| case | dtype | M = N | ours G pairs/s | pykeops G pairs/s | ours / pykeops "
          "| ours / ceiling (ceiling G pairs/s) | checksums | ours vs CPU f64 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        o, p = ours.get(k, {}), pyk.get(k, {})
        ro = float(o["pairs_per_s"]) if "pairs_per_s" in o else None
        rp = float(p["pairs_per_s"]) if "pairs_per_s" in p else None

        def cell(r, row):
            if r is not None:
                return f"{g(r)} ({float(row['median_s']):.3g} s, {row.get('reps', '?')} reps)"
            if row:
                return f"{row.get('status', '?')}: {row.get('msg', '')}"
            return "-"

        ratio = f"**{ro / rp:.2f}x**" if ro and rp else "-"
        c = ceil.get((k[0], k[1]))
        frac = f"{ro / c[1]:.0%} ({g(c[1])})" if ro and c else "-"
        agree = "-"
        if "checksum" in o and "checksum" in p:
            so, sp = float(o["checksum"]), float(p["checksum"])
            if k[0].startswith("knn"):
                agree = "equal" if so == sp else f"differ ({so:.6g} vs {sp:.6g})"
            else:
                agree = f"rel. diff {abs(so - sp) / max(abs(sp), 1e-300):.1e}"
        print(f"| {k[0]} | {k[1]} | {int(k[2]):.0e} | {cell(ro, o)} | {cell(rp, p)} | {ratio} "
              f"| {frac} | {agree} | {o.get('check', '-')} |" if k[2].isdigit() else
              f"| {k[0]} | {k[1]} | {k[2]} | {cell(ro, o)} | {cell(rp, p)} | {ratio} | {frac} | {agree} | - |")
    if not keys:
        print("| (no BENCH lines) |||||||||")
    print()
    print("Ceiling: min(33.5e12 / I, 4.2e12 / (MUFU+conv)[, 16.7e12 / FP64]) pairs/s of our kernel "
          "(benches/sass_count.py). Times: medians of calls with inputs and outputs on the device, "
          "after a warm-up; pykeops compiled before timing.")


if __name__ == "__main__":
    main()
