//! Per-call options.

use crate::simd::SimdLevel;

/// Where a kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// The multi-threaded SIMD CPU engine.
    #[default]
    Cpu,
    /// A CUDA device (requires the `cuda` feature and a driver at run time).
    Gpu {
        /// Device ordinal.
        device: usize,
    },
}

/// Summation scheme of the sum-type reductions (as in KeOps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SumScheme {
    /// One accumulator per SIMD lane (or GPU thread) over the whole range.
    Direct,
    /// Partial sums over tiles of the reduced index, folded into an f64
    /// accumulator after each tile (the default: accurate and as fast as direct).
    #[default]
    Block,
    /// Kahan-compensated accumulators.
    Kahan,
}

/// Options of a kernel call; kernels carry them by value (`Copy`), set with
/// the builder methods of the kernel (`k.backend(...)`, `k.sum_scheme(...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Back end.
    pub backend: Backend,
    /// Summation scheme.
    pub sum_scheme: SumScheme,
    /// Evaluate in f64 even for f32 data (results rounded back to f32).
    pub f64_accumulation: bool,
    /// CPU threads (`None`: rayon's global pool, which follows `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
    /// Highest SIMD level the CPU engine may use (`None`: the best available).
    pub simd: Option<SimdLevel>,
}

impl Options {
    /// The defaults: CPU, block sums, native accumulation, all threads, best SIMD.
    pub const DEFAULT: Options = Options {
        backend: Backend::Cpu,
        sum_scheme: SumScheme::Block,
        f64_accumulation: false,
        threads: None,
        simd: None,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}
