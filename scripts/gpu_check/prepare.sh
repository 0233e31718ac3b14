#!/usr/bin/env bash
# One-command GPU check, part 1 (run HERE, on the build machine with Rust and
# network): builds the test binaries and the GPU benchmark with the `cuda`
# feature, collects them stripped into .gpu/bin (git-ignored), downloads the
# pykeops 2.3 wheels into .gpu/whl, computes our kernels' instruction
# ceilings into .gpu/ceilings.tsv (when ptxas and nvdisasm are installed,
# see benches/sass_count.py), and prints the device command.
#
#   scripts/gpu_check/prepare.sh            # everything
#   scripts/gpu_check/prepare.sh --no-tests # only bench_gpu (quick)
#
# The device machine has no Rust and no network; .gpu must stay under the
# 64 MiB the device tool carries.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tests=1
[ "${1:-}" = "--no-tests" ] && tests=0

out=.gpu
rm -rf "${out:?}/bin"
mkdir -p "$out/bin" "$out/whl"
json=$(mktemp)
trap 'rm -f "$json"' EXIT

echo "== building (release, --features cuda)"
if [ "$tests" = 1 ]; then
    cargo test --workspace --features cuda --release --no-run --message-format=json >>"$json"
fi
cargo build --release --features cuda --example bench_gpu --message-format=json >>"$json"

echo "== collecting executables into $out/bin"
# Test binaries are named <target>-<hash>; keep the target name (and the
# crate, for unit tests of the library crates) so run.sh can tell them apart.
python3 - "$json" "$out/bin" <<'EOF'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
seen = set()
for line in open(src):
    line = line.strip()
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    kind = t["kind"][0]
    crate = m["package_id"].split("#")[-1].split("@")[0].split("/")[-1]
    if kind == "example":
        if t["name"] != "bench_gpu":
            continue
        name = t["name"]
    elif kind in ("lib", "proc-macro") or (kind == "bin" and t["name"] == crate):
        name = f"unit-{crate}"
    else:
        name = f"{kind}-{t['name']}"
    if t["name"] == "ui":
        continue  # trybuild: needs cargo, cannot run on the device
    if name in seen:
        continue
    seen.add(name)
    shutil.copy2(m["executable"], os.path.join(dst, name))
    print(f"  {name}")
EOF
strip "$out"/bin/* 2>/dev/null || true
size=$(du -sm "$out" | cut -f1)
echo "   $out: ${size} MiB"
# Over the limit: drop the CPU-only test binaries first (least useful on the
# device), keeping bench_gpu and the tests that reach the GPU code paths.
for drop in unit-keops_compiler unit-keops_ir unit-keops_macros test-elementwise test-vector_ops test-hessian \
    test-f16 test-gradients test-reductions unit-keops unit-keops_gpu_kernels unit-keops_runtime; do
    [ "$size" -le 60 ] && break
    if [ -e "$out/bin/$drop" ]; then
        rm -f "$out/bin/$drop"
        size=$(du -sm "$out" | cut -f1)
        echo "   dropped $drop (over 60 MiB): now ${size} MiB"
    fi
done
if [ "$size" -gt 60 ]; then
    echo "error: $out is ${size} MiB, over the 60 MiB kept for the device tool's 64 MiB" >&2
    exit 1
fi

{ git log -1 --format='commit %H %cd' 2>/dev/null || true; git status --short 2>/dev/null | head -n 20; } >"$out/commit.txt"

echo "== pykeops 2.3 wheels (pure Python; KeOps compiles with NVRTC on the device)"
# PyPI has pykeops and keopscore 2.3 as source archives only, which the
# device could not build without network: build pure-Python wheels here
# (pybind11 too: pykeops builds its small NVRTC binding with it on first use).
if ! ls "$out"/whl/pykeops-2.3-*.whl "$out"/whl/keopscore-2.3-*.whl "$out"/whl/pybind11-*.whl >/dev/null 2>&1; then
    python3 -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$out/whl" pykeops==2.3 keopscore==2.3 pybind11
fi
ls "$out/whl"

echo "== instruction ceilings of our kernels (benches/sass_count.py), for the fraction-of-ceiling column"
if target=${CARGO_TARGET_DIR:-$root/target} && dump="$target/ptx-dump-gpu" \
    && rm -rf "$dump" \
    && cargo run --quiet -p keops-gpu-kernels --example dump_ptx -- --out "$dump/f32" >/dev/null \
    && cargo run --quiet -p keops-gpu-kernels --example dump_ptx -- --out "$dump/f64" --f64 >/dev/null \
    && python3 benches/sass_count.py "$dump/f32" --tsv "$out/ceilings.tsv" >/dev/null \
    && python3 benches/sass_count.py "$dump/f64" --tsv "$out/ceilings.tsv" --append >/dev/null; then
    cat "$out/ceilings.tsv"
else
    echo "   (skipped: install ptxas and nvdisasm as ../shared/GPU.md says to get the ceilings)"
    rm -f "$out/ceilings.tsv"
fi

cat <<EOF

== ready ($(du -sm "$out" | cut -f1) MiB in $out). On the device (one call, ~8 minutes):

  run(command="bash scripts/gpu_check/run.sh", carry=[".gpu"], timeout_s=560)

run.sh writes its logs and summary.md under \$OUT (or .gpu/out without \$OUT).
EOF
