#!/usr/bin/env python3
"""Hot-loop instructions per pair of our PTX kernels on sm_90, without a GPU.

Reads the modules written by `cargo run -p keops-gpu-kernels --example
dump_ptx` (a folder with `manifest.tsv` and one `.ptx` file per stage),
assembles each for sm_90 with NVIDIA's `ptxas -v` (registers, spills),
disassembles it with `nvdisasm -c`, finds the hot loop of the entry named in
the manifest and prints a markdown table: instructions per (i, j) pair by
class, MUFU per pair, registers, spills, and the H200 ceiling

    min(33.5e12 / I, 4.2e12 / Q)  pairs/s

(I: instructions per pair; Q: per-pair instructions of the quarter-rate
unit, MUFU plus conversions F2I/I2F/FRND/F2F, which sm_90 also issues at 16
per SM per clock; see ../shared/GPU.md for the two rates). The FP64 pipe
(64 per SM per clock, 16.7e12/s) adds a third bound for f64 modules.

Hot loop: the innermost loop (a block ending in a backward BRA) of the entry
that reads the shared tile (LDS) and writes none (no STS): the pair loop of
`keops-gpu-kernels/src/kernel/mod.rs`. Instructions per pair are counted on
the *shortest* path from the loop head to its back edge, i.e. the path a
pair takes when every forward branch skips its block: for sums there is
one path; for K-nearest neighbours, min/argmin and the max-tracking
reductions (logsumexp, softmax) it is the common case (the candidate is
rejected, the running maximum does not change). The static size of the
loop body (every path) is printed too. When ptxas unrolls the loop, the
pairs one iteration handles are the ratio of 32-bit words read from shared
memory on that path to those the PTX pair loop reads per pair (the manifest
says how many pairs one PTX iteration handles: the emitter's unroll
factor, `unroll=` in the module's metadata line).

A second table estimates occupancy for both schemes: resident warps per SM
of the reduce kernel (from its registers, block size and shared tile) and
of the 2D scheme's merge kernel (instructions of its loop over chunks),
and the share of the H200's resident warps an M = N = 1e4 problem fills
with one thread per row (1D) and with the runtime's automatic choice.

Tools (installed by nothing here; see ../shared/GPU.md):
  PTXAS    (or KEOPS_PTXAS), default .tools/ptxas/nvidia/cuda_nvcc/bin/ptxas
  NVDISASM                  default .tools/nvdisasm/nvidia/cu*/bin/nvdisasm

Usage: python3 benches/sass_count.py [DUMP_DIR] [--arch sm_90] [--keep DIR]
"""

import argparse
import glob
import heapq
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ISSUE_RATE = 33.5e12  # thread instructions per second (H200: 132 SMs x 4 x 32 x 1.98 GHz)
QUARTER_RATE = 4.2e12  # MUFU / conversion operations per second (16 per SM per clock)
FP64_RATE = 16.7e12  # FP64 operations per second (64 per SM per clock)

CLASSES = ["fp32", "fp64", "mufu", "conv", "int", "lds", "ldg", "mem", "ctrl", "mov"]
CLASS_TITLES = {
    "fp32": "FP32",
    "fp64": "FP64",
    "mufu": "MUFU",
    "conv": "conv",
    "int": "int/addr",
    "lds": "LDS",
    "ldg": "LDG",
    "mem": "other mem",
    "ctrl": "control",
    "mov": "move/other",
}

FP32 = {
    "FADD", "FMUL", "FFMA", "FMNMX", "FSETP", "FSEL", "FSET", "FCHK", "FADD32I",
    "FMUL32I", "FFMA32I", "FSWZADD", "HADD2", "HMUL2", "HFMA2", "HMNMX2",
    "HSETP2", "HSET2", "FMNMX3",
}
FP64 = {"DADD", "DMUL", "DFMA", "DSETP", "DMNMX", "DSET"}
CONV = {"F2I", "I2F", "FRND", "F2F", "F2FP", "I2FP", "I2I", "DRND"}
INT = {
    "IMAD", "IADD3", "IADD", "LEA", "SHF", "SHL", "SHR", "LOP3", "LOP", "IABS",
    "IMNMX", "VIADD", "VIADDMNMX", "VIMNMX", "IDP", "IDP4A", "POPC", "FLO",
    "BREV", "BMSK", "PRMT", "IMUL", "XMAD", "ISCADD", "UIADD3", "UIMAD", "ULEA",
    "USHF", "ULOP3", "USEL", "UPRMT", "UFLO", "UPOPC", "UBREV", "UBMSK",
}
LDG = {"LDG", "LDC", "ULDC", "LD"}
MEM = {"STS", "STG", "ST", "LDL", "STL", "ATOM", "ATOMS", "ATOMG", "RED", "LDSM", "LDGSTS"}
CTRL = {
    "BRA", "BRX", "JMP", "JMX", "EXIT", "RET", "CALL", "BSSY", "BSYNC", "BREAK",
    "BPT", "ISETP", "UISETP", "PLOP3", "UPLOP3", "BAR", "WARPSYNC", "YIELD",
    "NOP", "VOTE", "VOTEU", "P2R", "R2P", "PSETP", "KILL", "NANOSLEEP",
}


def classify(op):
    """The class of a SASS opcode (with its modifiers, e.g. 'IMAD.MOV.U32')."""
    base = op.split(".")[0]
    if base == "MUFU":
        return "mufu"
    if base == "LDS":
        return "lds"
    if base in FP32:
        return "fp32"
    if base in FP64:
        return "fp64"
    if base in CONV:
        return "conv"
    if op.startswith("IMAD.MOV") or op.startswith("UMOV"):
        return "mov"
    if base in INT:
        return "int"
    if base in LDG:
        return "ldg"
    if base in MEM:
        return "mem"
    if base in CTRL:
        return "ctrl"
    return "mov"


def lds_words(op):
    """32-bit words one LDS reads (LDS, LDS.64, LDS.128, LDS.U16 ...)."""
    for width, words in ((".128", 4), (".64", 2)):
        if width in op:
            return words
    return 1


# ---------------------------------------------------------------- occupancy

SMS = 132  # H200
REGS_PER_SM = 65536
MAX_WARPS_PER_SM = 64
MAX_BLOCKS_PER_SM = 32
SHARED_PER_SM = 228 * 1024  # sm_90: 228 KB per SM, 1 KB reserved per block


def resident_warps(regs, block, shared):
    """Resident warps per SM of a kernel (sm_90 rules: registers allocated
    per warp in units of 256, i.e. per thread rounded up to 8; at most 64
    warps, 32 blocks, 228 KB of shared memory (1 KB reserved per block))."""
    wpb = -(-block // 32)
    per_warp = -(-max(regs, 1) * 32 // 256) * 256
    by_regs = (REGS_PER_SM // per_warp) // wpb
    by_shared = SHARED_PER_SM // (shared + 1024)
    blocks = min(by_regs, by_shared, MAX_BLOCKS_PER_SM, MAX_WARPS_PER_SM // wpb)
    return blocks * wpb


def scheme_fill(m, n, block, tile, warps):
    """(chunks, fraction of the resident warps of the card filled) of the
    1D scheme and of the runtime's automatic choice (the rule of
    keops-runtime/src/gpu/mod.rs, `choose_scheme`) for an M x N problem."""
    blocks = -(-m // block)
    wave = SMS * max(1, 2048 // block)
    chunks = 1
    if n > 0 and blocks < wave:
        want = max(2, -(-wave // blocks))
        ln = max(-(-n // want), tile)
        ln = -(-ln // tile) * tile
        if -(-n // ln) >= 2:
            chunks = -(-n // ln)
    cap = SMS * warps
    w1 = blocks * -(-block // 32)
    return chunks, min(1.0, w1 / cap), min(1.0, w1 * chunks / cap)


# ---------------------------------------------------------------- tools


def find_tool(env_names, patterns):
    for e in env_names:
        v = os.environ.get(e)
        if v:
            if os.path.isfile(v) and os.access(v, os.X_OK):
                return v
            sys.exit(f"sass_count: {e}={v} is not an executable file")
    for p in patterns:
        hits = sorted(glob.glob(os.path.join(ROOT, p)))
        for h in hits:
            if os.path.isfile(h) and os.access(h, os.X_OK):
                return h
    return None


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"sass_count: {' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout, r.stderr


# ---------------------------------------------------------------- ptxas -v


def parse_resources(log):
    """{entry: (registers, spill store bytes, spill load bytes)} from ptxas -v."""
    res = {}
    cur = None
    for line in log.splitlines():
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            cur = m.group(1)
            res.setdefault(cur, [0, 0, 0])
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and cur:
            res[cur][1], res[cur][2] = int(m.group(1)), int(m.group(2))
            continue
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            cur = m.group(1)
            res.setdefault(cur, [0, 0, 0])
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and cur:
            res[cur][0] = int(m.group(1))
    return res


# ---------------------------------------------------------------- SASS


INST_RE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
LABEL_RE = re.compile(r"^\s*(\.L_x_\d+):")
SECTION_RE = re.compile(r"^\s*\.text\.(\S+):")


class Inst:
    def __init__(self, addr, text):
        self.addr = addr
        self.text = text
        t = text
        self.pred = None
        m = re.match(r"(@!?U?P\w+)\s+(.*)", t)
        if m:
            self.pred, t = m.group(1), m.group(2)
        self.op = t.split()[0] if t.split() else ""
        self.args = t[len(self.op):].strip()
        self.target = None
        m = re.search(r"`\((\.L_x_\d+)\)", self.args)
        if m:
            self.target = m.group(1)

    @property
    def base(self):
        return self.op.split(".")[0]


def parse_sass(text):
    """{function: (list of Inst, {label: address})}."""
    funcs = {}
    cur = None
    pending = []
    for line in text.splitlines():
        m = SECTION_RE.match(line)
        if m:
            cur = m.group(1)
            funcs[cur] = ([], {})
            pending = []
            continue
        if cur is None:
            continue
        m = LABEL_RE.match(line)
        if m:
            pending.append(m.group(1))
            continue
        m = INST_RE.search(line)
        if m:
            ins = Inst(int(m.group(1), 16), m.group(2))
            insts, labels = funcs[cur]
            for lab in pending:
                labels[lab] = ins.addr
            pending = []
            insts.append(ins)
    return funcs


def loops(insts, labels):
    """Loops as (head address, [back-edge addresses], end address)."""
    by_head = {}
    for ins in insts:
        if ins.base in ("BRA", "JMP") and ins.target in labels:
            t = labels[ins.target]
            if t <= ins.addr:
                by_head.setdefault(t, []).append(ins.addr)
    return [(h, sorted(b), max(b)) for h, b in sorted(by_head.items())]


def innermost(lps):
    out = []
    for lp in lps:
        h, _, e = lp
        if not any((h2 >= h and e2 <= e) and (h2, e2) != (h, e) for h2, _, e2 in lps):
            out.append(lp)
    return out


def shortest_path(insts, labels, head, backs):
    """Instructions on the shortest path from `head` to a back edge (inclusive)."""
    idx = {ins.addr: k for k, ins in enumerate(insts)}
    start = idx[head]
    backs = set(backs)
    dist = {start: 1}
    heap = [(1, start)]
    prev = {}
    while heap:
        d, k = heapq.heappop(heap)
        if d > dist.get(k, 1 << 30):
            continue
        ins = insts[k]
        if ins.addr in backs:
            path = [k]
            while path[-1] in prev:
                path.append(prev[path[-1]])
            return [insts[j] for j in reversed(path)]
        succ = []
        conditional = ins.pred is not None and ins.pred not in ("@PT",)
        if ins.base in ("BRA", "JMP") and ins.target in labels:
            succ.append(idx[labels[ins.target]])
            if conditional or re.search(r"\bU?P\d\s*,\s*`", ins.args):
                succ.append(k + 1)
        elif ins.base in ("EXIT", "RET", "BRX", "JMX"):
            if conditional:
                succ.append(k + 1)
        else:
            succ.append(k + 1)
        for s in succ:
            if s >= len(insts) or insts[s].addr < head:
                continue
            if d + 1 < dist.get(s, 1 << 30):
                dist[s] = d + 1
                prev[s] = k
                heapq.heappush(heap, (d + 1, s))
    return None


# ---------------------------------------------------------------- PTX


def ptx_entry(text, entry):
    m = re.search(r"\.entry\s+" + re.escape(entry) + r"\s*\(", text)
    if not m:
        return None
    body_start = text.index("{", m.end())
    depth = 0
    for k in range(body_start, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return text[body_start:k]
    return None


def ptx_pair_loop_words(body, word_bytes):
    """32-bit words the PTX pair loop reads from shared memory per iteration."""
    lines = [l.strip() for l in body.splitlines()]
    labels = {}
    for k, l in enumerate(lines):
        m = re.match(r"^(\$?\w+):$", l)
        if m:
            labels[m.group(1)] = k
    lps = []
    for k, l in enumerate(lines):
        m = re.search(r"\bbra(?:\.uni)?\s+(\$?\w+)\s*;", l)
        if m and m.group(1) in labels and labels[m.group(1)] <= k:
            lps.append((labels[m.group(1)], [k], k))
    best = None
    for h, _, e in innermost(lps):
        seg = lines[h:e + 1]
        if any(s.startswith("st.shared") for s in seg):
            continue
        words = 0
        for s in seg:
            m = re.match(r"^(?:@!?%\w+\s+)?ld(?:\.volatile)?\.shared\.(?:v(\d)\.)?\w(\d+)", s)
            if m:
                vec = int(m.group(1) or 1)
                words += vec * max(1, int(m.group(2)) // 32)
        if best is None or words > best:
            best = words
    return best or 0


# ---------------------------------------------------------------- main


def fmt(x):
    if x == int(x):
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", nargs="?", default=os.path.join(ROOT, "target", "ptx-dump"))
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--keep", help="write each module's SASS and hot path to this folder")
    ap.add_argument("--tsv", help="also write kernel, dtype, I/pair, ceiling (pairs/s) rows to this file")
    ap.add_argument("--append", action="store_true", help="append to --tsv instead of replacing it")
    a = ap.parse_args()

    ptxas = find_tool(["PTXAS", "KEOPS_PTXAS"], [".tools/ptxas/nvidia/cuda_nvcc/bin/ptxas"])
    nvdisasm = find_tool(
        ["NVDISASM"],
        [".tools/nvdisasm/nvidia/cu*/bin/nvdisasm", ".tools/nvdisasm/nvidia/cuda_nvdisasm/bin/nvdisasm"],
    )
    if not ptxas or not nvdisasm:
        sys.exit(
            "sass_count: ptxas or nvdisasm not found; install them as ../shared/GPU.md says:\n"
            "  python3 -m pip install --target .tools/ptxas nvidia-cuda-nvcc-cu12==12.9.86\n"
            "  python3 -m pip install --target .tools/nvdisasm nvidia-cuda-nvdisasm\n"
            "or set PTXAS and NVDISASM"
        )
    manifest = os.path.join(a.dump, "manifest.tsv")
    if not os.path.isfile(manifest):
        sys.exit(f"sass_count: {manifest} not found (run the dump_ptx example first)")
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)

    rows = []
    notes = []
    with open(manifest) as f:
        entries = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    tmp = tempfile.mkdtemp(prefix="sass_count.")
    for name, file, stage, red, entry, ptx_pairs, pyk, dpath, src in entries:
        path = os.path.join(a.dump, file)
        text = open(path).read()
        f64 = "prec=f64" in text
        cubin = os.path.join(tmp, file + ".cubin")
        _, log = run([ptxas, "-v", "--gpu-name", a.arch, "-o", cubin, path])
        res = parse_resources(log).get(entry, [0, 0, 0])
        sass, _ = run([nvdisasm, "-c", cubin])
        funcs = parse_sass(sass)
        if entry not in funcs:
            sys.exit(f"sass_count: no function {entry} in the SASS of {file}")
        insts, labels = funcs[entry]
        cands = []
        for h, backs, e in innermost(loops(insts, labels)):
            body = [i for i in insts if h <= i.addr <= e]
            if any(i.base == "STS" for i in body):
                continue
            lds = sum(1 for i in body if i.base == "LDS")
            cands.append((lds > 0, len(body), h, backs, e))
        if not cands:
            sys.exit(f"sass_count: no pair loop found in {entry} of {file}")
        cands.sort(reverse=True)
        _, static_len, h, backs, e = cands[0]
        hot = shortest_path(insts, labels, h, backs)
        if hot is None:
            sys.exit(f"sass_count: no path through the loop at {h:#x} in {entry} of {file}")
        # Pairs per iteration.
        word_bytes = 8 if f64 else 4
        ptx_words = ptx_pair_loop_words(ptx_entry(text, entry) or "", word_bytes)
        sass_words = sum(lds_words(i.op) for i in hot if i.base == "LDS")
        unroll = 1
        if ptx_words > 0 and sass_words > 0:
            r = sass_words / ptx_words
            unroll = max(1, round(r))
            if r < 1:
                # ptxas narrows the padded vector loads whose padding the
                # program never uses (5 features: LDS.128 + LDS.32, not 2
                # LDS.128): no unrolling of its own.
                unroll = 1
            elif abs(r - unroll) > 1e-9:
                notes.append(
                    f"{name}: shared words per iteration {sass_words} vs {ptx_words} per PTX pair "
                    f"(ratio {r:.2f}); unroll taken as {unroll}"
                )
        pairs = unroll * int(ptx_pairs)
        counts = {c: 0 for c in CLASSES}
        for i in hot:
            counts[classify(i.op)] += 1
        per = {c: counts[c] / pairs for c in CLASSES}
        total = len(hot) / pairs
        quarter = per["mufu"] + per["conv"]
        bounds = [(ISSUE_RATE / total, "issue")]
        if quarter:
            bounds.append((QUARTER_RATE / quarter, "MUFU+conv"))
        if per["fp64"]:
            bounds.append((FP64_RATE / per["fp64"], "FP64"))
        ceiling, bound = min(bounds)
        # The 2D scheme's merge kernel: its loop over chunks (instructions
        # per merged chunk of a row; every path, it has no common case).
        merge = None
        if "keops_merge" in funcs:
            minsts, mlabels = funcs["keops_merge"]
            mloops = innermost(loops(minsts, mlabels))
            if mloops:
                mh, _, me = max(mloops, key=lambda lp: lp[2] - lp[0])
                merge = sum(1 for i in minsts if mh <= i.addr <= me)
        meta = re.search(r"block=(\d+) tile=(\d+)", text)
        block, tile = (int(meta.group(1)), int(meta.group(2))) if meta else (256, 256)
        shared = 0
        m_sh = re.search(r"keops_tile\[(\d+)\]", ptx_entry(text, entry) or "")
        if m_sh:
            shared = int(m_sh.group(1))
        mres = parse_resources(log).get("keops_merge", [0, 0, 0])
        several = sum(1 for e in entries if e[0] == name) > 1
        label = f"{name} (stage {stage})" if several else name
        rows.append(
            dict(
                label=label, red=red, entry=entry, total=total, per=per, quarter=quarter,
                static=static_len / pairs, pairs=pairs, regs=res[0], spill=(res[1], res[2]),
                ceiling=ceiling, bound=bound, pyk=pyk, src=src, dpath=dpath, stage=stage,
                merge=merge, merge_regs=mres[0], block=block, tile=tile, shared=shared,
            )
        )
        if a.keep:
            with open(os.path.join(a.keep, file.replace(".ptx", ".sass")), "w") as g:
                g.write(sass)
            with open(os.path.join(a.keep, file.replace(".ptx", ".hot.sass")), "w") as g:
                g.write(f"// {name}: {entry}, loop {h:#06x}..{e:#06x}, {pairs} pair(s) per iteration\n")
                for i in hot:
                    g.write(f"/*{i.addr:04x}*/ {i.text}\n")

    prec = "f64" if any("prec=f64" in open(os.path.join(a.dump, e[1])).read() for e in entries) else "f32"
    print(f"Hot-loop instructions per pair, {a.arch} SASS ({prec}; ptxas {tool_version(ptxas)})")
    print()
    cols = ["kernel", "I/pair"] + [CLASS_TITLES[c] for c in CLASSES] + [
        "MUFU+conv", "pairs/iter", "loop body", "regs", "spills (B st/ld)",
        "ceiling (G pairs/s)", "bound", "pykeops I/pair", "ours/pykeops",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        pyk = r["pyk"]
        ratio = f"{r['total'] / float(pyk):.2f}" if pyk not in ("-", "") else "-"
        cells = [r["label"], fmt(r["total"])] + [fmt(r["per"][c]) for c in CLASSES] + [
            fmt(r["quarter"]), str(r["pairs"]), fmt(r["static"]), str(r["regs"]),
            f"{r['spill'][0]}/{r['spill'][1]}", f"{r['ceiling'] / 1e9:.0f}", r["bound"], pyk, ratio,
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        "I/pair: instructions on the hot loop's common path per pair; loop body: every path. "
        "Ceiling = min(33.5e12 / I, 4.2e12 / (MUFU+conv)"
        + (", 16.7e12 / FP64" if prec == "f64" else "")
        + ") pairs/s (H200, one warp instruction per scheduler per clock; MUFU and "
        "conversions at 16 per SM per clock)."
    )
    print()
    print()
    print(
        "Schemes (H200: 132 SMs, 64K registers and 64 warps per SM): resident warps per SM "
        "of the reduce kernel (registers, block, shared tile) and of the 2D scheme's merge "
        "kernel (instructions per merged chunk of a row); fill: resident warps of the card "
        "that an M = N = 1e4 problem occupies, 1D (one thread per row) and with the "
        "runtime's automatic choice (2D with C chunks when the rows cannot fill the card)."
    )
    print()
    print(
        "| kernel | reduce regs | block | shared B | warps/SM | occupancy | merge regs | "
        "merge I/chunk | merge warps/SM | M=N=1e4: 1D fill | auto: chunks | auto fill |"
    )
    print("|" + "---|" * 12)
    for r in rows:
        w = resident_warps(r["regs"], r["block"], r["shared"])
        mw = resident_warps(r["merge_regs"], r["block"], 0) if r["merge_regs"] else 0
        chunks, f1, f2 = scheme_fill(10_000, 10_000, r["block"], r["tile"], w)
        print(
            f"| {r['label']} | {r['regs']} | {r['block']} | {r['shared']} | {w} | "
            f"{w / MAX_WARPS_PER_SM:.0%} | {r['merge_regs'] or '-'} | "
            f"{r['merge'] if r['merge'] is not None else '-'} | {mw or '-'} | {f1:.1%} | "
            f"{chunks} | {f2:.0%} |"
        )
    print()
    for r in rows:
        what = "" if r["dpath"] == "-" else f"gradient along {r['dpath']} of "
        print(f"- {r['label']}: {what}`{r['src']}` (stage {r['stage']}: {r['red']}, entry {r['entry']})")
    for n in notes:
        print(f"note: {n}")
    if a.tsv:
        new = not (a.append and os.path.exists(a.tsv))
        with open(a.tsv, "w" if new else "a") as g:
            if new:
                g.write("# kernel\tdtype\tinstructions_per_pair\tmufu_conv_per_pair\tceiling_pairs_per_s\tbound\tregisters\n")
            for r in rows:
                g.write(f"{r['label']}\t{prec}\t{fmt(r['total'])}\t{fmt(r['quarter'])}\t{r['ceiling']:.4e}\t{r['bound']}\t{r['regs']}\n")


def tool_version(ptxas):
    try:
        out = subprocess.run([ptxas, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"V(\d+\.\d+\.\d+)", out)
        return m.group(1) if m else "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
