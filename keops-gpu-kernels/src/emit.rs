//! PTX emission for kernel families: every stage is lowered and emitted
//! as one module per precision (see [`crate::kernel`] for the kernels and
//! their ABI).

use keops_ir::lower::lower;
use keops_ir::stage::{Family, Stage, StagePtx};
use keops_ir::Options;

use crate::kernel::emit_stage;
use crate::math::MathOpts;
use crate::ptx::Prec;

/// The device-math options of a kernel's `keops!` options: `fast_math`
/// (default `true`) selects the hardware approximations and, in f32, the
/// base-2 exponentials and hoisted invariant factors of the pair loop
/// ([`MathOpts::fast`], `kernel::opt`); `fast_math = false` the accurate
/// device math.
pub fn math_opts(opts: &Options) -> MathOpts {
    MathOpts {
        fast: opts.fast_math,
    }
}

/// The PTX modules (f32 and f64) of every stage of a family, in stage
/// order, for the kernel options `opts` (the `keops!` options carried in
/// the compiled definition; only `fast_math` matters here).
pub fn emit_family(family: &Family, opts: &Options) -> Vec<StagePtx> {
    family
        .stages
        .iter()
        .map(|st| emit_stage_ptx(st, opts))
        .collect()
}

/// The PTX modules (f32 and f64) of one stage, for the kernel options
/// `opts` (as [`emit_family`] emits each stage).
pub fn emit_stage_ptx(stage: &Stage, opts: &Options) -> StagePtx {
    let mo = math_opts(opts);
    let l = lower(stage);
    let (m32, m64) = (emit_stage(&l, Prec::F32, mo), emit_stage(&l, Prec::F64, mo));
    StagePtx {
        f32: m32.ptx,
        f64: m64.ptx,
        gpu_f32: m32.meta,
        gpu_f64: m64.meta,
    }
}
