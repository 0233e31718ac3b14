//! The back-end choice: a stage runs on the CPU engine, on a CUDA device
//! or through the PTX simulator, as its options say.

use crate::error::{Error, Result};
use crate::options::{Backend, Options};
use crate::simd::Real;
use crate::stage::CpuStage;
use crate::value::Val;
use crate::{cpu, gpu};

#[cfg_attr(not(any(feature = "cuda", feature = "sim")), allow(unused_variables))]
pub(crate) fn run_backend<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    keep: bool,
) -> Result<Val<'static, T>> {
    if opts.backend != Backend::Cpu && S::INFO.ptx_f32.is_empty() {
        // The macro emits PTX only when the facade is built with `cuda`
        // (or `sim`); this kernel was expanded without it.
        return Err(Error::NotCompiledWithCuda);
    }
    // A stage whose widths are const generics gets its PTX at the widths
    // of this call.
    #[cfg(any(feature = "cuda", feature = "sim"))]
    let gpu_info = || gpu::named::with_ptx(S::INFO);
    match opts.backend {
        Backend::Cpu => cpu::run_stage::<S, T>(opts, args, m, n),
        #[cfg(feature = "cuda")]
        Backend::Gpu { device } => {
            gpu::cuda::run_stage::<T>(device, opts, gpu_info()?, args, m, n, keep)
        }
        #[cfg(not(feature = "cuda"))]
        Backend::Gpu { .. } => Err(Error::NotCompiledWithCuda),
        #[cfg(feature = "sim")]
        Backend::Simulator => gpu::sim::run_stage::<T>(opts, gpu_info()?, args, m, n, keep),
        #[cfg(not(feature = "sim"))]
        Backend::Simulator => Err(gpu::sim_missing()),
    }
}
