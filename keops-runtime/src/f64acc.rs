//! f64 accumulation of f32 data ([`Kernel::f64_accumulation`]), compiled
//! only into the programs that ask for it.
//!
//! Running a stage on f64 data needs the stage's engine code instantiated
//! for `f64`, which costs as much build time as its f32 code. A flag tested
//! at run time would make every f32 call compile it. Instead, each kernel
//! type names the f64 instantiations of its family's stages in an associated
//! constant ([`Kernel::__F64_STAGES`]), and only the builder
//! [`Kernel::f64_accumulation`] reads that constant: rustc generates the f64
//! code of a kernel family only in a program that calls the builder on one
//! of its kernels. The table then covers the whole family (gradient kernels
//! inherit the options), so such a program pays for the family's stages in
//! f64. The engine finds a stage in the table by [`StageInfo::key`].
//!
//! [`Kernel::f64_accumulation`]: crate::Kernel::f64_accumulation
//! [`Kernel::__F64_STAGES`]: crate::Kernel::__F64_STAGES

use crate::error::{Error, Result};
pub use crate::options::{F64Stage, F64Stages};
use crate::options::{Options, RunF64};
use crate::simd::Real;
use crate::stage::{CpuStage, StageInfo};
use crate::value::Val;

impl F64Stage {
    /// The f64 instantiation of stage `S` (used in the constants the macro
    /// emits; naming it is what makes rustc generate the code).
    pub const fn of<S: CpuStage>() -> F64Stage {
        F64Stage {
            key: S::INFO.key,
            run: run_f64::<S>,
        }
    }
}

fn run_f64<S: CpuStage>(
    opts: &Options,
    args: &[&Val<'_, f64>],
    m: usize,
    n: usize,
) -> Result<Val<'static, f64>> {
    crate::backend::run_backend::<S, f64>(opts, args, m, n, false)
}

impl F64Stages {
    pub(crate) fn new(tables: &'static [&'static [F64Stage]]) -> F64Stages {
        F64Stages(tables)
    }

    fn find(&self, info: &StageInfo) -> Result<RunF64> {
        self.0
            .iter()
            .flat_map(|t| t.iter())
            .find(|s| s.key == info.key)
            .map(|s| s.run)
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "f64 accumulation: the options were taken from another kernel, which has \
                     no f64 code for `{}`; call `.f64_accumulation(true)` on this kernel",
                    info.name
                ))
            })
    }
}

impl PartialEq for F64Stages {
    fn eq(&self, other: &F64Stages) -> bool {
        core::ptr::eq(self.0, other.0)
    }
}

impl Eq for F64Stages {}

impl core::fmt::Debug for F64Stages {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let n: usize = self.0.iter().map(|t| t.len()).sum();
        write!(f, "F64Stages({n} stages)")
    }
}

/// Runs stage `S` on f32 data converted to f64 with the f64 code of
/// `stages`, and rounds the result.
pub(crate) fn run_stage<S: CpuStage, T: Real>(
    stages: F64Stages,
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    let run = stages.find(S::INFO)?;
    let conv: Vec<Val<'static, f64>> = args.iter().map(|a| to_f64(a)).collect::<Result<_>>()?;
    let refs: Vec<&Val<'_, f64>> = conv.iter().collect();
    let o = Options {
        f64_accumulation: None,
        ..*opts
    };
    from_f64(run(&o, &refs, m, n)?)
}

/// A copy of `v` in f64.
pub(crate) fn to_f64<T: Real>(v: &Val<'_, T>) -> Result<Val<'static, f64>> {
    Ok(match v {
        Val::Rows { name, data } => Val::Rows {
            name,
            data: data.mapv(|x| x.to_f64()).into(),
        },
        Val::Index { name, data } => Val::Index {
            name,
            data: data.to_owned().into(),
        },
        Val::Pair(a, b) => Val::Pair(a.mapv(|x| x.to_f64()), b.clone()),
        Val::Vector { name, data } => Val::Vector {
            name,
            data: data.iter().map(|x| x.to_f64()).collect::<Vec<_>>().into(),
        },
        Val::Device { .. } | Val::DeviceIndex(_) | Val::DevicePair(..) => {
            return Err(Error::Unsupported(format!(
                "`{}`: f64 accumulation with device-resident f32 inputs (copy them to the host)",
                v.name()
            )))
        }
    })
}

/// `v` rounded to `T`.
pub(crate) fn from_f64<T: Real>(v: Val<'static, f64>) -> Result<Val<'static, T>> {
    Ok(match v {
        Val::Rows { name, data } => Val::Rows {
            name,
            data: data.mapv(T::from_f64).into(),
        },
        Val::Index { name, data } => Val::Index { name, data },
        Val::Pair(a, b) => Val::Pair(a.mapv(T::from_f64), b),
        Val::Vector { name, data } => Val::Vector {
            name,
            data: data
                .iter()
                .map(|&x| T::from_f64(x))
                .collect::<Vec<_>>()
                .into(),
        },
        Val::Device { .. } | Val::DeviceIndex(_) | Val::DevicePair(..) => {
            return Err(Error::Internal(
                "f64 accumulation produced a device-resident value".into(),
            ))
        }
    })
}
