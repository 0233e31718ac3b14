//! The contract between the keops compiler, its back ends and its runtime.
//!
//! The `keops!` macro (`keops-compiler`, `keops-gpu-kernels`) describes
//! every reduction stage with these types and emits that description as a
//! [`StageInfo`] constant; the runtime (`keops-runtime`) reads it to run the
//! stage. Both sides name the same definitions, so a variable category, a
//! reduction, a summation scheme, a GPU kernel entry point or a launch
//! parameter is spelled once. The kernel ABI (documented in
//! `keops_gpu_kernels::kernel`) lives here as types and constants: the
//! parameter list of the PTX kernels ([`KernelParam`], [`kernel_params`]),
//! the arguments of a launch ([`KernelArgs`]) and the layout of the tables
//! of a ranged call.

#![forbid(unsafe_code)]

mod params;

pub use params::{kernel_params, KernelArgs, KernelParam, FIXED_PARAMS};

/// Which index a variable is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cat {
    /// Indexed by i (`Vi<D>`).
    I,
    /// Indexed by j (`Vj<D>`).
    J,
    /// A parameter (`Pm<D>`), the same for every pair.
    P,
}

impl Cat {
    /// The other index (`I` ↔ `J`); `P` stays `P`.
    pub const fn swap(self) -> Cat {
        match self {
            Cat::I => Cat::J,
            Cat::J => Cat::I,
            Cat::P => Cat::P,
        }
    }

    /// Spelling in the formula language: `"Vi"`, `"Vj"` or `"Pm"`.
    pub const fn spelling(self) -> &'static str {
        match self {
            Cat::I => "Vi",
            Cat::J => "Vj",
            Cat::P => "Pm",
        }
    }
}

/// Element kind of a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarKind {
    /// Floating-point data.
    Real,
    /// Integer indices (positions produced by arg-type reductions).
    Index,
}

/// Role of a variable in a stage: where its data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Indexed like the output rows.
    Outer,
    /// Indexed by the reduced index.
    Inner,
    /// A parameter vector.
    Param,
}

/// Reduction of a stage (KeOps' reductions, over i or over j).
///
/// K is a `u32`, as every dimension of the compiler (it is at most
/// `keops_compiler::limits::MAX_K`); the runtime widens it to `usize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Red {
    /// Sum.
    Sum,
    /// `log sum exp F`, element-wise.
    LogSumExp,
    /// `log sum exp(F) w` (F scalar or of the dimension of w).
    LogSumExpWeight,
    /// `sum softmax(F) w`.
    SumSoftmaxWeight,
    /// Minimum (element-wise).
    Min,
    /// Position of the minimum.
    ArgMin,
    /// Minimum and its position.
    MinArgMin,
    /// Maximum (element-wise).
    Max,
    /// Position of the maximum.
    ArgMax,
    /// Maximum and its position.
    MaxArgMax,
    /// The K smallest values, sorted.
    KMin(u32),
    /// Positions of the K smallest values.
    ArgKMin(u32),
    /// The K smallest values and their positions.
    KMinArgKMin(u32),
}

/// What a stage returns per output row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StageOut {
    /// Real values of this dimension.
    Real(u32),
    /// Indices, this many per row.
    Index(u32),
    /// Real values and indices, this many of each per row.
    Pair(u32),
}

impl Red {
    /// Name in the formula language (`sum`, `argkmin`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Red::Sum => "sum",
            Red::LogSumExp => "logsumexp",
            Red::LogSumExpWeight => "logsumexp_weight",
            Red::SumSoftmaxWeight => "sumsoftmaxweight",
            Red::Min => "min",
            Red::ArgMin => "argmin",
            Red::MinArgMin => "min_argmin",
            Red::Max => "max",
            Red::ArgMax => "argmax",
            Red::MaxArgMax => "max_argmax",
            Red::KMin(_) => "kmin",
            Red::ArgKMin(_) => "argkmin",
            Red::KMinArgKMin(_) => "kmin_argkmin",
        }
    }

    /// K for the K-reductions, 1 otherwise.
    pub const fn k(self) -> u32 {
        match self {
            Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => k,
            _ => 1,
        }
    }

    /// True for the reductions that take a weight formula.
    pub const fn has_weight(self) -> bool {
        matches!(self, Red::LogSumExpWeight | Red::SumSoftmaxWeight)
    }

    /// True for the min/max/argmin/argmax family (K = 1 selections).
    pub const fn is_select(self) -> bool {
        matches!(
            self,
            Red::Min | Red::ArgMin | Red::MinArgMin | Red::Max | Red::ArgMax | Red::MaxArgMax
        )
    }

    /// True for the maximum family.
    pub const fn is_max(self) -> bool {
        matches!(self, Red::Max | Red::ArgMax | Red::MaxArgMax)
    }

    /// True for the K-reductions.
    pub const fn is_kmin(self) -> bool {
        matches!(self, Red::KMin(_) | Red::ArgKMin(_) | Red::KMinArgKMin(_))
    }

    /// What the stage returns: (real columns?, index columns?).
    pub const fn outputs(self) -> (bool, bool) {
        match self {
            Red::ArgMin | Red::ArgMax | Red::ArgKMin(_) => (false, true),
            Red::MinArgMin | Red::MaxArgMax | Red::KMinArgKMin(_) => (true, true),
            _ => (true, false),
        }
    }

    /// Output of the reduction for formula dimension `fdim` and weight
    /// dimension `wdim`.
    pub const fn out(self, fdim: u32, wdim: u32) -> StageOut {
        match self {
            Red::Sum | Red::LogSumExp | Red::Min | Red::Max => StageOut::Real(fdim),
            Red::LogSumExpWeight | Red::SumSoftmaxWeight => StageOut::Real(wdim),
            Red::ArgMin | Red::ArgMax => StageOut::Index(fdim),
            Red::MinArgMin | Red::MaxArgMax => StageOut::Pair(fdim),
            Red::KMin(k) => StageOut::Real(k * fdim),
            Red::ArgKMin(k) => StageOut::Index(k * fdim),
            Red::KMinArgKMin(k) => StageOut::Pair(k * fdim),
        }
    }

    /// Output columns (of the real part; the index part has as many) for
    /// formula dimension `fdim` and weight dimension `wdim`.
    pub const fn out_dim(self, fdim: u32, wdim: u32) -> u32 {
        match self.out(fdim, wdim) {
            StageOut::Real(d) | StageOut::Index(d) | StageOut::Pair(d) => d,
        }
    }
}

/// Length of the reduction state (per lane, and per row in f64) of a stage.
///
/// Layouts (shared by both back ends and the runtime's reductions):
/// - `Sum`: `[sum; D]`, then `[compensation; D]`;
/// - `LogSumExp`: `[max; D]`, then `[scaled sum; D]`;
/// - `LogSumExpWeight`: `[max; Dw]`, then `[scaled weighted sum; Dw]`;
/// - `SumSoftmaxWeight`: `[max; Dw]`, `[scaled sum; Dw]`, `[scaled weighted sum; Dw]`;
/// - `Min`/`Max`/arg variants: `[value; D]`, then `[index; D]`;
/// - K-reductions: `[value; K*D]`, then `[index; K*D]`, rank-major (`r*D + d`).
pub const fn acc_len(red: Red, fdim: u32, wdim: u32) -> u32 {
    match red {
        Red::Sum | Red::LogSumExp => 2 * fdim,
        Red::LogSumExpWeight => 2 * wdim,
        Red::SumSoftmaxWeight => 3 * wdim,
        Red::Min | Red::ArgMin | Red::MinArgMin | Red::Max | Red::ArgMax | Red::MaxArgMax => {
            2 * fdim
        }
        Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => 2 * k * fdim,
    }
}

/// Summation scheme of the sum reductions (as in KeOps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
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

impl SumScheme {
    /// Every scheme, in the order the sum kernels of a module are emitted.
    pub const ALL: [SumScheme; 3] = [SumScheme::Direct, SumScheme::Block, SumScheme::Kahan];
}

/// A stage variable.
#[derive(Clone, Copy, Debug)]
pub struct VarSpec {
    /// Name.
    pub name: &'static str,
    /// Category.
    pub cat: Cat,
    /// Dimension.
    pub dim: usize,
    /// Element kind.
    pub kind: VarKind,
    /// Role.
    pub role: Role,
    /// Offset of its first component in its role's raw buffer.
    pub offset: usize,
}

/// Launch metadata of a stage's PTX module in one precision, decided by the
/// PTX emitter (`keops_gpu_kernels::kernel::plan`) and read by the launcher.
/// The default is [`GpuMeta::NONE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GpuMeta {
    /// Advised threads per block.
    pub block: u32,
    /// Reduced indices per shared-memory tile.
    pub tile: u32,
    /// Outer features kept in the scratch buffer (0: none, and no
    /// [`GpuEntry::Outer`] kernel).
    pub outer_scratch: u32,
    /// 8-byte slots of a row's partial state (2D scheme).
    pub partial_slots: u32,
}

impl GpuMeta {
    /// The metadata of a module that was not emitted (all zero).
    pub const NONE: GpuMeta = GpuMeta {
        block: 0,
        tile: 0,
        outer_scratch: 0,
        partial_slots: 0,
    };
}

/// The kernel entry points of a stage's PTX module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuEntry {
    /// Outer features into the scratch buffer (only when
    /// [`GpuMeta::outer_scratch`] is non-zero).
    Outer,
    /// The tiled reduction of a stage that is not a sum.
    Reduce,
    /// The tiled reduction of a sum stage, one kernel per summation scheme.
    ReduceSum(SumScheme),
    /// Merge of the partial states of the 2D scheme.
    Merge,
}

impl GpuEntry {
    /// The reduce kernel of a stage with reduction `red` (`scheme` matters
    /// for sums only).
    pub const fn reduce(red: Red, scheme: SumScheme) -> GpuEntry {
        match red {
            Red::Sum => GpuEntry::ReduceSum(scheme),
            _ => GpuEntry::Reduce,
        }
    }

    /// The `.entry` name in the PTX module.
    pub const fn name(self) -> &'static str {
        match self {
            GpuEntry::Outer => "keops_outer",
            GpuEntry::Reduce => "keops_reduce",
            GpuEntry::ReduceSum(SumScheme::Direct) => "keops_reduce_direct",
            GpuEntry::ReduceSum(SumScheme::Block) => "keops_reduce_block",
            GpuEntry::ReduceSum(SumScheme::Kahan) => "keops_reduce_kahan",
            GpuEntry::Merge => "keops_merge",
        }
    }
}

/// Version of the kernel ABI (the parameter list, [`kernel_params`], and
/// the tables documented in `keops_gpu_kernels::kernel`; written in the
/// comment line of every module).
pub const ABI_VERSION: u32 = 2;

/// Bytes of an entry of the per-block table of a ranged call.
pub const TABLE_ENTRY_BYTES: u32 = 32;

/// `span_begin` of a table entry without spans (and the span loop's end).
pub const NO_SPAN: u32 = u32::MAX;

/// The bit of a span's end that marks the last span of its block.
pub const LAST_SPAN: u64 = 1 << 63;

/// The start of `StageInfo::ptx_f32` and `ptx_f64` for a stage whose
/// widths are const generics: no PTX, but what builds it at the widths of a
/// call. After the prefix: the stage's number in its family, a space, and
/// the kernel definition as `keops_ir::wire` text (its named widths are read
/// from the dimensions of the stage's variables of the same names).
pub const NAMED_WIDTHS_PTX: &str = "keops-named-widths:";

/// Static description of a stage (emitted by the macro).
#[derive(Clone, Copy, Debug)]
pub struct StageInfo {
    /// Human-readable name.
    pub name: &'static str,
    /// A hash of the stage's computation (its lowered programs and PTX):
    /// stages with equal keys run the same code. Kernels with f64
    /// accumulation find the f64 instantiation of a stage by it.
    pub key: u64,
    /// Variables, in argument order.
    pub vars: &'static [VarSpec],
    /// Category of the output rows.
    pub outer_cat: Cat,
    /// Reduction.
    pub red: Red,
    /// Formula dimension.
    pub fdim: usize,
    /// Weight dimension (0 without weight).
    pub wdim: usize,
    /// Components of the concatenated parameter variables.
    pub raw_param: usize,
    /// Components of the concatenated real outer variables.
    pub raw_outer: usize,
    /// Components of the concatenated real inner variables.
    pub raw_inner: usize,
    /// Components of the concatenated index outer variables.
    pub idx_outer: usize,
    /// Components of the concatenated index inner variables.
    pub idx_inner: usize,
    /// Parameter features.
    pub npf: usize,
    /// Outer features.
    pub nof: usize,
    /// Inner features.
    pub nnf: usize,
    /// Length of the reduction state ([`acc_len`]).
    pub acc: usize,
    /// Scalar operations per pair.
    pub pair_ops: usize,
    /// Dot-product form: outer feature numbers of the rewritten scalar
    /// product (empty when the stage has none).
    pub dot_of: &'static [usize],
    /// Inner feature numbers of the rewritten scalar product.
    pub dot_nf: &'static [usize],
    /// Outer feature number of the outer squared norm (dot-product form).
    pub dot_na: usize,
    /// Inner feature number of the inner squared norm (dot-product form).
    pub dot_nb: usize,
    /// PTX module for f32 data (empty when not emitted).
    pub ptx_f32: &'static str,
    /// PTX module for f64 data.
    pub ptx_f64: &'static str,
    /// Launch metadata of `ptx_f32` ([`GpuMeta::NONE`] when not emitted).
    pub gpu_f32: GpuMeta,
    /// Launch metadata of `ptx_f64`.
    pub gpu_f64: GpuMeta,
}

impl StageInfo {
    /// Output columns (real part; index part has as many).
    pub const fn out_dim(&self) -> usize {
        match self.red {
            Red::LogSumExpWeight | Red::SumSoftmaxWeight => self.wdim,
            r => r.k() as usize * self.fdim,
        }
    }

    /// The reduced category.
    pub const fn inner_cat(&self) -> Cat {
        match self.outer_cat {
            Cat::I => Cat::J,
            _ => Cat::I,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        let mut names: Vec<&str> = [GpuEntry::Outer, GpuEntry::Reduce, GpuEntry::Merge]
            .into_iter()
            .chain(SumScheme::ALL.map(GpuEntry::ReduceSum))
            .map(GpuEntry::name)
            .collect();
        assert!(names.iter().all(|n| n.starts_with("keops_")));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 6);
        assert_eq!(
            GpuEntry::reduce(Red::Sum, SumScheme::Kahan).name(),
            "keops_reduce_kahan"
        );
        assert_eq!(
            GpuEntry::reduce(Red::KMin(3), SumScheme::Kahan),
            GpuEntry::Reduce
        );
    }

    #[test]
    fn reduction_shapes() {
        assert_eq!(Red::KMinArgKMin(3).out(2, 0), StageOut::Pair(6));
        assert_eq!(Red::KMinArgKMin(3).out_dim(2, 0), 6);
        assert_eq!(Red::SumSoftmaxWeight.out_dim(1, 5), 5);
        assert_eq!(acc_len(Red::SumSoftmaxWeight, 1, 5), 15);
        assert_eq!(acc_len(Red::ArgKMin(4), 2, 0), 16);
        assert_eq!(Red::ArgMax.outputs(), (false, true));
        assert!(Red::ArgMax.is_max() && Red::ArgMax.is_select() && !Red::ArgMax.is_kmin());
        assert_eq!(Cat::I.swap(), Cat::J);
        assert_eq!(SumScheme::default(), SumScheme::Block);
    }
}
