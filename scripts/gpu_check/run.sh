#!/usr/bin/env bash
# One-command GPU check, part 2 (run ON THE DEVICE MACHINE: CUDA driver and
# toolkit, Python with PyTorch; no Rust, no network). Needs .gpu/ from
# scripts/gpu_check/prepare.sh (carry it: run(..., carry=[".gpu"])).
#
# Steps (each logged under $OUT, each failure recorded without stopping the
# rest, each under a timeout; the whole run stays under GPU_CHECK_SECONDS,
# default 470 s):
#   1. environment (nvidia-smi, nvcc, python packages)
#   2. the tests that reach CUDA, then every test binary with the time left
#   3. bench_gpu check: every benchmark kernel on the GPU against the CPU
#      back end (also the 2D scheme, device inputs)
#   4. compute-sanitizer memcheck and racecheck on a small bench_gpu check
#   5. pykeops 2.3 from the carried wheels
#   6. benchmark: ours (bench_gpu bench), then pykeops on the same data
#   7. summary.md: the side-by-side table with the fraction of the ceiling
set -u
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
here=scripts/gpu_check
OUT=${OUT:-$root/.gpu/out}
mkdir -p "$OUT/tests"
total=${GPU_CHECK_SECONDS:-470}
start=$(date +%s)
bin=$root/.gpu/bin
status="$OUT/status.tsv"
: >"$status"

now() { date +%s; }
elapsed() { echo $(( $(now) - start )); }
# left RESERVE: seconds left for this step when RESERVE must stay for later ones.
left() { local l=$(( total - $(elapsed) - $1 )); [ "$l" -lt 5 ] && l=5; echo "$l"; }
cap() { local a=$1 b=$2; [ "$a" -lt "$b" ] && echo "$a" || echo "$b"; }
log() { echo "[$(elapsed) s] $*" | tee -a "$OUT/run.log"; }
# step NAME TIMEOUT LOGFILE CMD...: runs CMD under a timeout, records the status.
step() {
    local name=$1 t=$2 logf=$3; shift 3
    local t0; t0=$(now)
    log "== $name (timeout ${t} s) -> ${logf#"$OUT"/}"
    timeout --kill-after=5 "$t" "$@" >"$logf" 2>&1
    local rc=$?
    local what=ok
    [ "$rc" -ne 0 ] && what="FAILED (rc $rc)"
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && what="TIMED OUT after ${t} s"
    printf '%s\t%s\t%s s\t%s\n' "$name" "$what" "$(( $(now) - t0 ))" "${logf#"$OUT"/}" >>"$status"
    log "   $name: $what ($(( $(now) - t0 )) s)"
    return 0
}

if [ ! -d "$bin" ]; then
    log "error: $bin missing: run scripts/gpu_check/prepare.sh on the build machine and carry .gpu"
    exit 1
fi

# ---- 1. environment
step env 30 "$OUT/env.txt" bash -c '
    date -u; cat .gpu/commit.txt 2>/dev/null; nvidia-smi; nvidia-smi -L
    nvcc --version | tail -n 2; compute-sanitizer --version | head -n 2
    python3 -c "import sys, torch; print(sys.version); print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.is_available())"
    ls -la .gpu/bin'
grep -m1 -E "H200|H100|NVIDIA" "$OUT/env.txt" | tee -a "$OUT/run.log"

# ---- 2. tests: first the ones that reach CUDA (Backend::Gpu), then every binary
# Only these two tests call Backend::Gpu; every other GPU test runs the same
# PTX through the simulator on the CPU. On a machine with a device the first
# accepts Ok, the second expects an error and is expected to FAIL here.
step "cuda tests: gpu_sim::unavailable_backends_are_errors" 60 "$OUT/tests/cuda-gpu_sim.log" \
    "$bin/test-gpu_sim" --exact unavailable_backends_are_errors
step "cuda tests: errors::gpu_backend_without_cuda_or_device_is_an_error (expects no device)" 60 \
    "$OUT/tests/cuda-errors.log" "$bin/test-errors" --exact gpu_backend_without_cuda_or_device_is_an_error
tests_end=$(( $(elapsed) + $(left 330) ))
for t in "$bin"/test-* "$bin"/unit-*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    budget=$(( tests_end - $(elapsed) ))
    if [ "$budget" -lt 10 ]; then
        printf '%s\tSKIPPED (test budget spent)\t0 s\t\n' "test $name" >>"$status"
        continue
    fi
    step "test $name" "$(cap "$budget" 90)" "$OUT/tests/$name.log" "$t" -q
    grep -E "^test result" "$OUT/tests/$name.log" | tail -n 1 | sed "s/^/   $name: /" | tee -a "$OUT/run.log"
done

# ---- 3. GPU against CPU on every benchmark kernel
step "bench_gpu check (GPU vs CPU)" "$(cap "$(left 300)" 60)" "$OUT/check.log" "$bin/bench_gpu" check --n 2000
grep -E "CHECK|no CUDA" "$OUT/check.log" | tail -n 40 | tee -a "$OUT/run.log"

# ---- 4. compute-sanitizer
if command -v compute-sanitizer >/dev/null; then
    step "compute-sanitizer memcheck" "$(cap "$(left 260)" 60)" "$OUT/memcheck.log" \
        compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 "$bin/bench_gpu" check --n 300
    tail -n 3 "$OUT/memcheck.log" | tee -a "$OUT/run.log"
    step "compute-sanitizer racecheck" "$(cap "$(left 230)" 90)" "$OUT/racecheck.log" \
        compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 3 "$bin/bench_gpu" check --n 300
    tail -n 3 "$OUT/racecheck.log" | tee -a "$OUT/run.log"
else
    log "compute-sanitizer not found: skipped"
    printf 'compute-sanitizer\tSKIPPED (not found)\t0 s\t\n' >>"$status"
fi

# ---- 5. pykeops from the carried wheels
site=/tmp/gpu_check_site
step "install pykeops 2.3 (no network)" 60 "$OUT/pip.log" \
    python3 -m pip install --no-index --no-deps --target "$site" .gpu/whl/*.whl
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"

# ---- 6. benchmarks (ours, then pykeops), f32 cases first
b_ours=$(cap "$(left 150)" 120)
step "benchmark: keops-rs" "$b_ours" "$OUT/bench_rs.log" \
    "$bin/bench_gpu" bench --budget-s $(( b_ours - 25 ))
b_pyk=$(left 15)
step "benchmark: pykeops" "$b_pyk" "$OUT/bench_pykeops.log" \
    python3 "$here/bench_pykeops_gpu.py" --budget-s $(( b_pyk > 60 ? b_pyk - 40 : 20 ))

# ---- 7. summary
step summary 20 "$OUT/summary.md" python3 "$here/summarize.py" \
    --ceilings .gpu/ceilings.tsv --status "$status" "$OUT/bench_rs.log" "$OUT/bench_pykeops.log"
cat "$OUT/summary.md"
log "done in $(elapsed) s; logs in $OUT"
