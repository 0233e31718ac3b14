#!/usr/bin/env bash
# Hot-loop instructions per pair of our GPU kernels on sm_90, without a GPU
# (issue 13): writes the PTX of the kernel set (the dump_ptx example of
# keops-gpu-kernels), then assembles, disassembles and counts it
# (benches/sass_count.py) and prints a markdown table.
#
#   benches/sass_count.sh                 # the built-in kernel set, f32, default math (fast_math = true)
#   benches/sass_count.sh --accurate      # the same with fast_math = false
#   benches/sass_count.sh --f64           # the same in f64
#   benches/sass_count.sh 'k=|x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)))'
#
# Arguments go to the dump_ptx example (see its documentation). Needs ptxas
# and nvdisasm (PTXAS / NVDISASM, or installed under .tools/ as
# ../shared/GPU.md says); installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
dump="$target/ptx-dump"
rm -rf "$dump"
cargo run --quiet -p keops-gpu-kernels --example dump_ptx -- --out "$dump" "$@" >/dev/null
python3 benches/sass_count.py "$dump" ${SASS_KEEP:+--keep "$SASS_KEEP"}
