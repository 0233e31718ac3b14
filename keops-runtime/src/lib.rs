//! Host side of keops: input views, errors, the SIMD multi-threaded CPU
//! map-reduce engine and the CUDA launcher.
//!
//! Users reach this crate through the `keops` facade; the items under
//! [`__private`] are the interface of macro-generated code and not a stable API.

mod backend;
pub mod batch;
pub mod cluster;
pub mod cpu;
pub mod device;
mod elem;
pub mod error;
pub mod f64acc;
pub mod formula;
pub mod gpu;
pub mod kernel;
pub mod matrix;
pub mod ops;
pub mod options;
pub mod ranges;
pub mod scalar;
pub mod simd;
pub mod stage;
pub mod threads;
pub mod value;

pub use device::{DeviceElem, DeviceRows};
pub use error::{Error, Result};
pub use kernel::{GradientNotEmitted, Kernel};
pub use options::{Backend, GpuScheme, Options, SumScheme};
pub use ranges::{Ranges, RangesId};
pub use scalar::Scalar;
pub use simd::{Real, SimdLevel};
pub use value::{IntoIndexRows, IntoParam, IntoRows, IntoRowsDyn, ParamData};

use backend::run_backend;
use stage::CpuStage;
use value::{RowCounts, Val};

/// Runs one stage of a kernel program on the selected back end. With
/// `keep` (and a GPU back end), the result stays in device memory.
pub fn run_stage<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    rows: &RowCounts,
    keep: bool,
) -> Result<Val<'static, T>> {
    let (m, n) = prepare_stage(S::INFO, args, rows, opts)?;
    if let Some(stages) = opts.f64_accumulation.filter(|_| T::BYTES == 4) {
        // Evaluate in f64 on converted copies, round the results.
        return f64acc::run_stage::<S, T>(stages, opts, args, m, n);
    }
    run_backend::<S, T>(opts, args, m, n, keep)
}

/// The checks before a stage runs (parameters, inputs on the right back
/// end); its numbers of output rows and reduced indices.
pub(crate) fn prepare_stage<T: Real>(
    info: &stage::StageInfo,
    args: &[&Val<'_, T>],
    rows: &RowCounts,
    opts: &Options,
) -> Result<(usize, usize)> {
    check_params(info, args, opts)?;
    let m = rows_for(info, args, stage::Role::Outer)
        .or(rows.get(info.outer_cat))
        .unwrap_or(0);
    let n = rows_for(info, args, stage::Role::Inner)
        .or(rows.get(info.inner_cat()))
        .unwrap_or(0);
    if opts.backend == Backend::Cpu {
        if let Some(a) = args.iter().find(|a| a.device_rows().is_some()) {
            return Err(Error::NeedsGpu(format!(
                "`{}` is in GPU memory ({}) but the kernel runs on the CPU back end: \
                 select its GPU back end with `.backend(...)`, or copy it to the host \
                 with `DeviceRows::to_host`",
                a.name(),
                device::describe(a.device_rows().map_or(Backend::Cpu, |d| d.backend())),
            )));
        }
    }
    Ok((m, n))
}

/// Parameters with a value per problem of a batch (longer than declared)
/// need the batch's ranges, and exactly one value per problem.
fn check_params<T: Real>(
    info: &stage::StageInfo,
    args: &[&Val<'_, T>],
    opts: &Options,
) -> Result<()> {
    for (spec, a) in info.vars.iter().zip(args) {
        let Val::Vector { name, data } = a else {
            continue;
        };
        if spec.role != stage::Role::Param || data.len() == spec.dim {
            continue;
        }
        let count = match opts.ranges {
            Some(id) => ranges::resolve(id)?
                .side(info.outer_cat)
                .problems
                .map(|p| p.count),
            None => None,
        };
        match count {
            Some(b) if data.len() == b * spec.dim => {}
            Some(b) => {
                return Err(Error::ParamLengthPerProblem {
                    var: (*name).into(),
                    problems: b,
                    dim: spec.dim,
                    found: data.len(),
                })
            }
            None => return Err(per_problem_without_batch(name, data.len(), spec.dim)),
        }
    }
    Ok(())
}

/// The error of a parameter with a value per problem in a call without a
/// batch.
pub(crate) fn per_problem_without_batch(name: &str, len: usize, dim: usize) -> Error {
    Error::Unsupported(format!(
        "`{name}` has {len} values for a declared dimension {dim}, a value per problem of a \
         batch: the kernel needs the batch's ranges (`.ranges(batch.ranges())`)"
    ))
}

/// Whether the intermediate results of a kernel program stay in device
/// memory between stages: on the GPU back ends, except with f64
/// accumulation (whose f32 to f64 conversion happens on the host).
pub fn keep_intermediates(opts: &Options) -> bool {
    opts.backend != Backend::Cpu && opts.f64_accumulation.is_none()
}

/// The PTX of a stage (f32 or f64 data): the emitted text, or for a stage
/// whose widths are const generics the text built at its widths (empty
/// without a GPU back end compiled in, or if it cannot be built).
pub fn stage_ptx(info: &'static stage::StageInfo, f64_data: bool) -> &'static str {
    #[cfg(any(feature = "cuda", feature = "sim"))]
    let info = gpu::named::with_ptx(info).unwrap_or(info);
    let ptx = if f64_data { info.ptx_f64 } else { info.ptx_f32 };
    if ptx.starts_with(keops_abi::NAMED_WIDTHS_PTX) {
        ""
    } else {
        ptx
    }
}

fn rows_for<T: Real>(
    info: &stage::StageInfo,
    args: &[&Val<'_, T>],
    role: stage::Role,
) -> Option<usize> {
    info.vars
        .iter()
        .zip(args)
        .find(|(v, _)| v.role == role)
        .and_then(|(_, a)| a.nrows())
}

/// The interface of macro-generated code. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::device::DeviceRows;
    pub use crate::error::{Error, Result};
    pub use crate::f64acc::F64Stage;
    pub use crate::formula::{Formula, Input, MatrixFormula};
    pub use crate::kernel::{GradientNotEmitted, Kernel};
    pub use crate::matrix;
    pub use crate::ops;
    pub use crate::options::{Backend, GpuScheme, Options, SumScheme};
    pub use crate::ranges::{Ranges, RangesId};
    pub use crate::scalar::Scalar;
    pub use crate::simd::{Pack, Real, SimdLevel};
    pub use crate::stage::{
        Buf, BufCat, BufRep, Cat, CpuStage, Elem, Features, GpuMeta, PairCtx, Red, Role, StageInfo,
        VarKind, VarSpec,
    };
    pub use crate::value::{IntoIndexRows, IntoParam, IntoRows, IntoRowsDyn, RowCounts, Rows, Val};
    pub use crate::{keep_intermediates, run_stage, stage_ptx};
    pub use ndarray;

    /// The value of a `keops!` invocation whose formula failed to parse.
    #[derive(Clone, Copy, Debug)]
    pub struct Stub;
}
