//! The parameter list of the GPU kernels, spelled once for the PTX emitter
//! (`keops_gpu_kernels::kernel`, which declares and loads the parameters)
//! and the launcher (`keops_runtime::gpu`, which passes them).
//!
//! Every kernel of a stage's module takes the same parameters, all `.u64`,
//! in the order of [`kernel_params`]: one pointer per stage variable
//! ([`KernelParam::Var`]), then the [`KernelParam::FIXED`] ones. Pointers
//! ([`KernelParam::is_pointer`]) are device addresses, 0 where unused. The
//! launcher fills a [`KernelArgs`] by name.

use std::borrow::Cow;
use std::fmt;

/// Number of kernel parameters after the stage variables' pointers
/// ([`KernelParam::FIXED`]).
pub const FIXED_PARAMS: usize = 11;

/// A parameter of the GPU kernels. Every kernel of a stage's module takes
/// the same parameters, all `.u64`, in the order of [`kernel_params`]: one
/// pointer per stage variable ([`KernelParam::Var`]), then the
/// [`KernelParam::FIXED`] ones. Pointers ([`KernelParam::is_pointer`]) are
/// device addresses, 0 where unused ([`KernelParam::is_optional`]).
/// [`fmt::Display`] writes the PTX name ([`KernelParam::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelParam {
    /// Pointer to the data of stage variable `k` (`StageInfo::vars` order):
    /// real `Vi`/`Vj` variables as row-major contiguous `(rows, dim)`
    /// arrays of the data type (f32 or f64), index variables as row-major
    /// `(rows, dim)` arrays of `u64`, parameters as contiguous vectors of
    /// the data type (a batch whose parameters have a value per problem
    /// passes one vector per problem, back to back; see
    /// [`KernelParam::Table`]).
    Var(u32),
    /// Number of output rows.
    M,
    /// Number of reduced indices.
    N,
    /// Row of thread 0 of block 0 (launches may be split along rows to
    /// respect grid limits); the row of a thread is
    /// `row_base + ctaid.x * ntid.x + tid.x`. For a ranged call (a
    /// [`KernelParam::Table`]): the first table entry of the launch instead
    /// of a row.
    RowBase,
    /// Reduced indices per chunk (`ctaid.y` is the chunk; the 1D scheme is
    /// one chunk with `chunk_len >= n`). Unused by a ranged call.
    ChunkLen,
    /// Number of chunks: 1 makes the reduce kernel write the final
    /// outputs, more makes it write partial states (and the merge kernel
    /// reads that many). A ranged call is one chunk.
    NChunks,
    /// Real outputs: `(m, out_dim)` row-major array of the data type
    /// (column `r * D + d` for rank `r` of a K-reduction); 0 for a
    /// reduction without real outputs.
    OutVals,
    /// Index outputs: `(m, out_dim)` row-major array of `u64` (`u64::MAX`
    /// for "none"); 0 for a reduction without index outputs.
    OutIdx,
    /// Partial states of the 2D scheme, 8-byte slots, slot `k` of chunk `c`
    /// of row `r` at `((c * S + k) * m + r) * 8`, with
    /// `S = GpuMeta::partial_slots` (see
    /// `keops_gpu_kernels::kernel::partial_slots` for the slot layouts); 0
    /// for one chunk.
    Partial,
    /// Outer-feature scratch of the data type (only when
    /// `GpuMeta::outer_scratch` is non-zero; 0 otherwise), interleaved by
    /// groups of 32 rows (one warp) so that both the loads of a warp and
    /// the addressing are cheap: feature `k` of row `r` at element
    /// `((r / 32) * F + k) * 32 + r % 32`, `F = outer_scratch`; its size is
    /// `ceil(m / 32) * 32 * F` elements.
    Oscr,
    /// 0 for a dense call; for a block-sparse (ranged) call, the per-block
    /// table: entry `row_base + ctaid.x`, [`TABLE_ENTRY_BYTES`] bytes at
    /// `(row_base + ctaid.x) * 32`, holds the block's rows
    /// `[row_start, row_end)` (two `u64` at bytes 0 and 8: thread `t` has
    /// row `row_start + t` if it is below `row_end`), its first span in the
    /// span array (`u32` at 16, [`NO_SPAN`] for none; 4 bytes of padding
    /// follow) and its parameter set (`u64` at 24: parameter `v` is read at
    /// `v + set * dim * bytes`, for the problems of a batch whose
    /// parameters have a value per problem; 0 otherwise). A ranged call is
    /// one chunk (`nchunks = 1`, `chunk_len` unused), and `row_base` is the
    /// first table entry of the launch instead of a row.
    ///
    /// [`TABLE_ENTRY_BYTES`]: crate::TABLE_ENTRY_BYTES
    /// [`NO_SPAN`]: crate::NO_SPAN
    Table,
    /// The reduced spans of a ranged call, `[start, end)` as two `u64` per
    /// span (16 bytes), each block's spans consecutive and in increasing
    /// order, the last one of a block marked by [`LAST_SPAN`] in its end
    /// (so that the span loop keeps a single index in registers); 0 for a
    /// dense call.
    ///
    /// [`LAST_SPAN`]: crate::LAST_SPAN
    Spans,
}

impl KernelParam {
    /// The parameters after the stage variables' pointers, in order. This
    /// and [`kernel_params`] are the only places the order is written.
    pub const FIXED: [KernelParam; FIXED_PARAMS] = [
        KernelParam::M,
        KernelParam::N,
        KernelParam::RowBase,
        KernelParam::ChunkLen,
        KernelParam::NChunks,
        KernelParam::OutVals,
        KernelParam::OutIdx,
        KernelParam::Partial,
        KernelParam::Oscr,
        KernelParam::Table,
        KernelParam::Spans,
    ];

    /// The name of the parameter in the PTX `.entry` declaration:
    /// `p_v{k}` for variable `k`, else `p_` and the name of the ABI
    /// (`p_m`, `p_row_base`, ...).
    pub fn name(self) -> Cow<'static, str> {
        let fixed = match self {
            KernelParam::Var(k) => return Cow::Owned(format!("p_v{k}")),
            KernelParam::M => "p_m",
            KernelParam::N => "p_n",
            KernelParam::RowBase => "p_row_base",
            KernelParam::ChunkLen => "p_chunk_len",
            KernelParam::NChunks => "p_nchunks",
            KernelParam::OutVals => "p_out_vals",
            KernelParam::OutIdx => "p_out_idx",
            KernelParam::Partial => "p_partial",
            KernelParam::Oscr => "p_oscr",
            KernelParam::Table => "p_table",
            KernelParam::Spans => "p_spans",
        };
        Cow::Borrowed(fixed)
    }

    /// True for the device addresses (the variables, the outputs and the
    /// buffers), which the kernels convert with `cvta.to.global`; false
    /// for the counts (`m`, `n`, `row_base`, `chunk_len`, `nchunks`).
    pub const fn is_pointer(self) -> bool {
        !matches!(
            self,
            KernelParam::M
                | KernelParam::N
                | KernelParam::RowBase
                | KernelParam::ChunkLen
                | KernelParam::NChunks
        )
    }

    /// True for the parameters a launch may leave at 0 (unused buffers:
    /// the outputs a reduction does not have, `partial`, `oscr`, `table`,
    /// `spans`); every other one must be set ([`KernelArgs::as_slice`]).
    pub const fn is_optional(self) -> bool {
        matches!(
            self,
            KernelParam::OutVals
                | KernelParam::OutIdx
                | KernelParam::Partial
                | KernelParam::Oscr
                | KernelParam::Table
                | KernelParam::Spans
        )
    }

    /// Position of the parameter in the list of a stage with `nvars`
    /// variables ([`kernel_params`]).
    ///
    /// # Panics
    ///
    /// If the parameter is a variable `k >= nvars`.
    pub fn position(self, nvars: usize) -> usize {
        match self {
            KernelParam::Var(k) => {
                assert!(
                    (k as usize) < nvars,
                    "kernel parameter p_v{k} out of range (nvars = {nvars})"
                );
                k as usize
            }
            p => {
                nvars
                    + KernelParam::FIXED
                        .iter()
                        .position(|&q| q == p)
                        .expect("every parameter but the variables is in FIXED")
            }
        }
    }
}

impl fmt::Display for KernelParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The parameters of every kernel of a stage with `nvars` variables, in
/// order: [`KernelParam::Var`] `0..nvars`, then [`KernelParam::FIXED`].
///
/// # Panics
///
/// If `nvars` exceeds `u32::MAX + 1` (when the iterator gets there).
pub fn kernel_params(nvars: usize) -> impl Iterator<Item = KernelParam> + Clone {
    (0..nvars)
        .map(|k| KernelParam::Var(u32::try_from(k).expect("at most 2^32 stage variables")))
        .chain(KernelParam::FIXED)
}

/// The parameter values of a launch, filled by name.
///
/// [`KernelArgs::as_slice`] gives them in the order of [`kernel_params`],
/// as the kernels take them. A parameter that was not set is 0, which is
/// right for the optional ones ([`KernelParam::is_optional`]: unused
/// buffers); in debug builds `as_slice` panics if a required one (a
/// variable, `m`, `n`, `row_base`, `chunk_len`, `nchunks`) was never set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelArgs {
    nvars: usize,
    values: Vec<u64>,
    set: Vec<bool>,
}

impl KernelArgs {
    /// The arguments of a stage with `nvars` variables, none set yet.
    pub fn new(nvars: usize) -> KernelArgs {
        KernelArgs {
            nvars,
            values: vec![0; nvars + FIXED_PARAMS],
            set: vec![false; nvars + FIXED_PARAMS],
        }
    }

    /// Number of stage variables.
    pub fn nvars(&self) -> usize {
        self.nvars
    }

    /// Sets parameter `p` to `value` (again, if it was set).
    ///
    /// # Panics
    ///
    /// If `p` is a variable `k >= nvars`.
    pub fn set(&mut self, p: KernelParam, value: u64) -> &mut KernelArgs {
        let k = self.position(p);
        self.values[k] = value;
        self.set[k] = true;
        self
    }

    /// The value of parameter `p` (0 if it was not set).
    ///
    /// # Panics
    ///
    /// If `p` is a variable `k >= nvars`.
    pub fn get(&self, p: KernelParam) -> u64 {
        self.values[self.position(p)]
    }

    /// Position of `p` in [`KernelArgs::as_slice`].
    ///
    /// # Panics
    ///
    /// If `p` is a variable `k >= nvars`.
    pub fn position(&self, p: KernelParam) -> usize {
        p.position(self.nvars)
    }

    /// The required parameters (not [`KernelParam::is_optional`]) that
    /// were never set, in order.
    pub fn missing(&self) -> Vec<KernelParam> {
        kernel_params(self.nvars)
            .zip(&self.set)
            .filter(|&(p, &s)| !s && !p.is_optional())
            .map(|(p, _)| p)
            .collect()
    }

    /// The values in the order of [`kernel_params`], as a launch passes
    /// them.
    ///
    /// # Panics
    ///
    /// In debug builds, if a required parameter was never set
    /// ([`KernelArgs::missing`]).
    pub fn as_slice(&self) -> &[u64] {
        debug_assert!(
            self.missing().is_empty(),
            "kernel parameters not set: {:?}",
            self.missing()
        );
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list of the kernel ABI, as documented (and as the PTX snapshots
    /// of `keops-gpu-kernels` declare it).
    const DOCUMENTED: [&str; FIXED_PARAMS] = [
        "p_m",
        "p_n",
        "p_row_base",
        "p_chunk_len",
        "p_nchunks",
        "p_out_vals",
        "p_out_idx",
        "p_partial",
        "p_oscr",
        "p_table",
        "p_spans",
    ];

    #[test]
    fn order_and_names() {
        let names: Vec<String> = kernel_params(2).map(|p| p.to_string()).collect();
        let mut want = vec!["p_v0".to_string(), "p_v1".to_string()];
        want.extend(DOCUMENTED.map(String::from));
        assert_eq!(names, want);
        assert_eq!(kernel_params(0).count(), FIXED_PARAMS);
        assert_eq!(KernelParam::Var(12).name(), "p_v12");
        // Positions agree with the list.
        for nvars in [0, 1, 5] {
            for (k, p) in kernel_params(nvars).enumerate() {
                assert_eq!(p.position(nvars), k, "{p} of {nvars}");
            }
        }
        assert_eq!(KernelParam::RowBase.position(3), 5);
        assert_eq!(KernelParam::Spans.position(3), 3 + FIXED_PARAMS - 1);
    }

    #[test]
    fn pointers_and_optional() {
        let counts: Vec<KernelParam> = kernel_params(1).filter(|p| !p.is_pointer()).collect();
        use KernelParam::*;
        assert_eq!(counts, [M, N, RowBase, ChunkLen, NChunks]);
        assert!(Var(0).is_pointer() && !Var(0).is_optional());
        // Only pointers are optional (0: unused), and every pointer but
        // the variables is.
        for p in kernel_params(1) {
            assert_eq!(p.is_optional(), p.is_pointer() && !matches!(p, Var(_)));
        }
    }

    #[test]
    #[should_panic(expected = "p_v2 out of range (nvars = 2)")]
    fn variable_out_of_range() {
        KernelParam::Var(2).position(2);
    }

    fn required(nvars: usize) -> KernelArgs {
        let mut a = KernelArgs::new(nvars);
        for k in 0..nvars as u32 {
            a.set(KernelParam::Var(k), 100 + k as u64);
        }
        a.set(KernelParam::M, 7)
            .set(KernelParam::N, 9)
            .set(KernelParam::RowBase, 0)
            .set(KernelParam::ChunkLen, 9)
            .set(KernelParam::NChunks, 1);
        a
    }

    #[test]
    fn builder_fills_by_name() {
        let mut a = required(2);
        assert!(a.missing().is_empty());
        a.set(KernelParam::Table, 0xabc)
            .set(KernelParam::RowBase, 64);
        assert_eq!(
            a.as_slice(),
            [100, 101, 7, 9, 64, 9, 1, 0, 0, 0, 0, 0xabc, 0]
        );
        assert_eq!(a.get(KernelParam::RowBase), 64);
        assert_eq!(a.get(KernelParam::Oscr), 0);
        assert_eq!(a.position(KernelParam::Table), 11);
        assert_eq!(a.as_slice()[a.position(KernelParam::Var(1))], 101);
        assert_eq!(a.nvars(), 2);
    }

    #[test]
    fn builder_reports_missing() {
        let mut a = KernelArgs::new(1);
        a.set(KernelParam::M, 1).set(KernelParam::Oscr, 5);
        assert_eq!(
            a.missing(),
            [
                KernelParam::Var(0),
                KernelParam::N,
                KernelParam::RowBase,
                KernelParam::ChunkLen,
                KernelParam::NChunks
            ]
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "kernel parameters not set: [NChunks]")]
    fn builder_asserts_required() {
        let mut a = KernelArgs::new(0);
        a.set(KernelParam::M, 1)
            .set(KernelParam::N, 1)
            .set(KernelParam::RowBase, 0)
            .set(KernelParam::ChunkLen, 1);
        let _ = a.as_slice();
    }

    #[test]
    #[should_panic(expected = "p_v1 out of range (nvars = 1)")]
    fn builder_rejects_unknown_variable() {
        KernelArgs::new(1).set(KernelParam::Var(1), 0);
    }
}
