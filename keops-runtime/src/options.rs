//! Per-call options, and the table of f64 stage code that
//! `f64_accumulation` carries (made and run by [`crate::f64acc`]).

pub use crate::device::Backend;
use crate::error::Result;
use crate::ranges::RangesId;
use crate::simd::SimdLevel;
use crate::value::Val;

/// How the GPU back end splits the work (see `keops_runtime::gpu`). A call
/// with block-sparse ranges always runs the 1D scheme over its per-block
/// table, whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GpuScheme {
    /// 1D when there are enough output rows to occupy the device, else 2D.
    #[default]
    Auto,
    /// Always the 1D scheme (one thread per output row, the whole reduced
    /// range per thread).
    OneD,
    /// Always the 2D scheme: the reduced range is cut in chunks of
    /// `chunk_len` indices (0: chosen from the device size), reduced by
    /// separate blocks and merged in order.
    TwoD {
        /// Reduced indices per chunk (0: automatic).
        chunk_len: usize,
    },
}

/// Summation scheme of the sum-type reductions (as in KeOps; the default is
/// `Block`).
pub use keops_abi::SumScheme;

/// Options of a kernel call; kernels carry them by value (`Copy`), set with
/// the builder methods of the kernel (`k.backend(...)`, `k.sum_scheme(...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Back end.
    pub backend: Backend,
    /// Summation scheme.
    pub sum_scheme: SumScheme,
    /// Evaluate in f64 even for f32 data (results rounded back to f32):
    /// the f64 code of the kernel's family, set by
    /// [`Kernel::f64_accumulation`](crate::Kernel::f64_accumulation)
    /// (`None`: off).
    pub f64_accumulation: Option<F64Stages>,
    /// CPU threads (`None`: as many as the rayon pool the call is made
    /// from, else `RAYON_NUM_THREADS`, else the machine's parallelism;
    /// kernels run in pools of their own, see [`crate::threads`]).
    pub threads: Option<usize>,
    /// Highest SIMD level the CPU engine may use (`None`: the best available).
    pub simd: Option<SimdLevel>,
    /// GPU work decomposition (1D / 2D scheme).
    pub gpu_scheme: GpuScheme,
    /// GPU threads per block (`None`: the size advised by the kernel,
    /// capped by what the device allows for it).
    pub gpu_block: Option<u32>,
    /// Block-sparse ranges (`None`: every pair); set with
    /// [`Kernel::ranges`](crate::Kernel::ranges).
    pub ranges: Option<RangesId>,
}

impl Options {
    /// The defaults: CPU, block sums, native accumulation, all threads, best SIMD.
    pub const DEFAULT: Options = Options {
        backend: Backend::Cpu,
        sum_scheme: SumScheme::Block,
        f64_accumulation: None,
        threads: None,
        simd: None,
        gpu_scheme: GpuScheme::Auto,
        gpu_block: None,
        ranges: None,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

/// Runs one stage on f64 data: `(options, inputs, outer rows, reduced rows)`.
pub(crate) type RunF64 = fn(&Options, &[&Val<'_, f64>], usize, usize) -> Result<Val<'static, f64>>;

/// The f64 instantiation of one stage.
#[derive(Clone, Copy)]
pub struct F64Stage {
    pub(crate) key: u64,
    pub(crate) run: RunF64,
}

/// The f64 instantiations of the stages of a kernel family (one table per
/// family; a symbolic matrix has one per part), carried by [`Options`]
/// when f64 accumulation is on. Made by [`Kernel::f64_accumulation`]
/// only.
///
/// [`Kernel::f64_accumulation`]: crate::Kernel::f64_accumulation
#[derive(Clone, Copy)]
pub struct F64Stages(pub(crate) &'static [&'static [F64Stage]]);
