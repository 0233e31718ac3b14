//! Tests of the simulator: per-instruction semantics against host or
//! hand-derived references, whole kernels, planted faults, and PTX
//! acceptance by `ptxas` for every hand-written kernel (when available).

use super::{Device, LaunchStats, Module, Param, SimError};
use crate::ptxas;

mod faults;
mod kernels;
mod ops_float;
mod ops_int;
mod ops_mem;
mod parse_errors;

/// Module header used by every test kernel.
pub(super) const HEADER: &str = ".version 7.8\n.target sm_80\n.address_size 64\n";

/// Asserts that `ptxas` accepts `ptx` for sm_80 and sm_90 (skips with a
/// printed reason when ptxas is not installed).
pub(super) fn ptxas_check(ptx: &str) {
    match ptxas::find_or_skip("ptxas check of a simulator test kernel") {
        None => {}
        Some(p) => {
            for arch in ["sm_80", "sm_90"] {
                if let Err(e) = ptxas::assemble(&p, ptx, arch) {
                    panic!("ptxas rejected a test kernel for {arch}: {e}\n--- PTX ---\n{ptx}");
                }
            }
        }
    }
}

/// Wraps `body` in the operation-test kernel: thread `g` reads four 64-bit
/// input words from `in[4g..4g+4]` into typed views
/// (`%l0-3` .b64, `%u0-3` .b32 low halves, `%x0-3` .f32, `%d0-3` .f64,
/// `%h0-3` .b16) and may store results at `[%o]`, `[%o+8]`, `[%o+16]`,
/// `[%o+24]` (a zero-initialised 32-byte slot). Scratch registers:
/// `%f<16>` .f32, `%fd<16>` .f64, `%r<16>` .b32, `%rd<16>` .b64,
/// `%rs<8>` .b16, `%p<8>` .pred.
pub(super) fn op_kernel(body: &str) -> String {
    format!(
        "{HEADER}
.visible .entry t(.param .u64 pin, .param .u64 pout, .param .u32 pn)
{{
    .reg .pred %p<8>;
    .reg .b16 %h<4>;
    .reg .b16 %rs<8>;
    .reg .f32 %x<4>;
    .reg .f32 %f<16>;
    .reg .f64 %d<4>;
    .reg .f64 %fd<16>;
    .reg .b32 %u<4>;
    .reg .b32 %r<16>;
    .reg .b64 %l<4>;
    .reg .b64 %rd<16>;
    .reg .b64 %i, %o, %hoff;
    .reg .b32 %gid, %gtmp, %gn;
    .reg .pred %gp;
    ld.param.u64 %i, [pin];
    ld.param.u64 %o, [pout];
    ld.param.u32 %gn, [pn];
    mov.u32 %gid, %ctaid.x;
    mov.u32 %gtmp, %ntid.x;
    mul.lo.s32 %gid, %gid, %gtmp;
    mov.u32 %gtmp, %tid.x;
    add.s32 %gid, %gid, %gtmp;
    setp.ge.u32 %gp, %gid, %gn;
    @%gp bra $L__end;
    mul.wide.u32 %hoff, %gid, 32;
    add.s64 %i, %i, %hoff;
    add.s64 %o, %o, %hoff;
    ld.global.v2.b64 {{%l0, %l1}}, [%i];
    ld.global.v2.b64 {{%l2, %l3}}, [%i+16];
    cvt.u32.u64 %u0, %l0;
    cvt.u32.u64 %u1, %l1;
    cvt.u32.u64 %u2, %l2;
    cvt.u32.u64 %u3, %l3;
    mov.b32 %x0, %u0;
    mov.b32 %x1, %u1;
    mov.b32 %x2, %u2;
    mov.b32 %x3, %u3;
    mov.b64 %d0, %l0;
    mov.b64 %d1, %l1;
    mov.b64 %d2, %l2;
    mov.b64 %d3, %l3;
    cvt.u16.u64 %h0, %l0;
    cvt.u16.u64 %h1, %l1;
    cvt.u16.u64 %h2, %l2;
    cvt.u16.u64 %h3, %l3;
    // ---- body ----
{body}
    // ---- end ----
$L__end:
    ret;
}}
"
    )
}

/// Runs `body` (see [`op_kernel`]) once per input row; returns the output rows.
pub(super) fn try_run_op(body: &str, inputs: &[[u64; 4]]) -> Result<Vec<[u64; 4]>, SimError> {
    let ptx = op_kernel(body);
    let m = Module::parse(&ptx)?;
    let mut dev = Device::new();
    let flat: Vec<u64> = inputs.iter().flatten().copied().collect();
    let pin = dev.alloc_from_u64(&flat);
    let pout = dev.alloc_zeroed(flat.len().max(1) * 8);
    let n = inputs.len() as u32;
    let block = 128u32;
    let grid = n.div_ceil(block).max(1);
    dev.launch(
        &m,
        "t",
        [grid, 1, 1],
        [block, 1, 1],
        0,
        &[Param::U64(pin), Param::U64(pout), Param::U32(n)],
    )?;
    let out = dev.read_u64(pout, flat.len())?;
    Ok(out
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect())
}

/// Like [`try_run_op`], panicking on error, and checking the kernel with ptxas.
pub(super) fn run_op(body: &str, inputs: &[[u64; 4]]) -> Vec<[u64; 4]> {
    ptxas_check(&op_kernel(body));
    try_run_op(body, inputs).unwrap_or_else(|e| panic!("{e}\n--- body ---\n{body}"))
}

/// One input row from four f32 values.
pub(super) fn f4(a: f32, b: f32, c: f32, d: f32) -> [u64; 4] {
    [
        a.to_bits() as u64,
        b.to_bits() as u64,
        c.to_bits() as u64,
        d.to_bits() as u64,
    ]
}

/// One input row from four f64 values.
pub(super) fn d4(a: f64, b: f64, c: f64, d: f64) -> [u64; 4] {
    [a.to_bits(), b.to_bits(), c.to_bits(), d.to_bits()]
}

/// f32 value of an output word.
pub(super) fn of32(w: u64) -> f32 {
    f32::from_bits(w as u32)
}

/// Parses `ptx` and expects a parse error whose message contains `needle`.
pub(super) fn expect_parse_error(ptx: &str, needle: &str) -> SimError {
    match Module::parse(ptx) {
        Ok(_) => panic!("expected a parse error containing `{needle}`"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                matches!(e, SimError::Parse { .. }),
                "expected SimError::Parse, got {e:?}"
            );
            assert!(msg.contains(needle), "error `{msg}` lacks `{needle}`");
            e
        }
    }
}

/// Runs a one-kernel module with a fresh device; returns the device too.
pub(super) fn launch_one(
    ptx: &str,
    kernel: &str,
    grid: [u32; 3],
    block: [u32; 3],
    dyn_smem: u32,
    setup: impl FnOnce(&mut Device) -> Vec<Param>,
) -> (Device, Result<LaunchStats, SimError>) {
    let m = Module::parse(ptx).unwrap_or_else(|e| panic!("{e}"));
    let mut dev = Device::new();
    let params = setup(&mut dev);
    let r = dev.launch(&m, kernel, grid, block, dyn_smem, &params);
    (dev, r)
}
