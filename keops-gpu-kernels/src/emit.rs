//! PTX emission for kernel families: every stage is lowered and emitted
//! as one module per precision (see [`crate::kernel`] for the kernels and
//! their ABI).

use keops_compiler::lower::lower;
use keops_compiler::stage::Family;
use keops_compiler::stage::StagePtx;

use crate::kernel::emit_stage;
use crate::math::MathOpts;
use crate::ptx::Prec;

/// The PTX modules (f32 and f64) of every stage of a family, in stage order.
pub fn emit_family(family: &Family) -> Vec<StagePtx> {
    family
        .stages
        .iter()
        .map(|st| {
            let l = lower(st);
            StagePtx {
                f32: emit_stage(&l, Prec::F32, MathOpts::default()),
                f64: emit_stage(&l, Prec::F64, MathOpts::default()),
            }
        })
        .collect()
}
