//! Map-reduce kernels: the PTX module of one stage in one precision.
//!
//! # Schemes
//!
//! * **1D** (KeOps' GpuConv1D): one thread per output row. Each thread runs
//!   the parameter phase, then (if it has a row) the outer phase into
//!   registers and initialises its reduction state. The reduced index is
//!   walked in tiles of `tile` indices: the threads of the block compute the
//!   *inner features* of the tile's indices (inner phase) into shared memory
//!   (index-major, `[tile][stride]`: each row padded with zeros to a
//!   multiple of 16 bytes, [`row_stride`], and written with vector stores),
//!   `bar.sync`, then every thread with a row evaluates the pair program
//!   against each index of the tile and updates its state in registers,
//!   `bar.sync`. The pair loop reads a row's features with one
//!   `ld.shared.v4.f32` (`v2.f64`) per group of 4 (2), at the group's first
//!   use, and handles [`unroll`] pairs per iteration (a remainder loop takes
//!   the last ones); the log-sum-exp family checks the pairs of an
//!   iteration at once for its common case (no new maximum), the
//!   min/max family selects 32-bit tile rows and forms the 64-bit index
//!   once per tile, and sums whose term is a product accumulate it with
//!   one `fma`. Threads without a row (the
//!   tail of the last block) still load tiles and reach every barrier.
//!   At the end each thread finalises its state and writes its output row.
//! * **2D** (small M, large N): the same kernel, launched with a grid of
//!   `nchunks > 1` rows of blocks: block `(bx, by)` runs the same loop for
//!   rows `bx * ntid .. (bx + 1) * ntid` over chunk `by` of the reduced
//!   index, `[by * chunk_len, min((by + 1) * chunk_len, N))`, and stores its
//!   rows' states in the partial-state buffer; the merge kernel (one thread
//!   per row) then combines the chunks of each row in increasing order (so
//!   the tie rules of the 1D scheme hold) and writes the outputs.
//! * **Ranged** (block-sparse reductions, KeOps' GpuConv1DRanges): the 1D
//!   kernel driven by a per-block table that the host builds from the
//!   ranges: each block of threads takes a tile of rows inside one block
//!   of the ranges and walks that block's sorted spans of reduced indices,
//!   each span with the tile loop above (a span starts and ends anywhere
//!   in a tile). The same kernel serves dense calls (no table: one span,
//!   the chunk), so ranges cost no extra kernel per stage.
//!
//! Before emission the stage's programs are rewritten for the GPU
//! (`opt.rs`): exactly in every mode (negated sum products fused, one
//! softmax denominator per shared formula), and in f32 fast mode
//! (`fast_math`, the `keops!` default) with base-2 exponentials, a base-2
//! log-sum-exp state and loop-invariant factors of products hoisted into
//! the parameter or outer program.
//!
//! Large inner dimensions: inner features live in shared memory and are
//! read at their first use in the pair program; the tile shrinks so that
//! the shared tile stays within [`SHARED_BUDGET`] bytes. Outer features
//! that would take more than [`OUTER_REGISTER_BUDGET`] 32-bit registers are
//! computed once by the `keops_outer` kernel into a scratch buffer
//! (interleaved by warps, so loads are coalesced) and loaded at their use;
//! the loads' base address goes through a `ld.volatile.shared` of a zero
//! each pair, so that `ptxas` cannot hoist the (loop-invariant) loads out of
//! the pair loop and spill them.
//!
//! # Kernel ABI (version [`ABI_VERSION`])
//!
//! Every kernel of a module takes the same parameters, all `.u64`, in the
//! order of [`kernel_params`]: one pointer per stage variable (in
//! `StageInfo::vars` order), then `m`, `n`, `row_base`, `chunk_len`,
//! `nchunks`, `out_vals`, `out_idx`, `partial`, `oscr`, `table` and `spans`
//! ([`KernelParam::FIXED`]). Pointers ([`KernelParam::is_pointer`]) are
//! device addresses, 0 where unused. [`KernelParam`] (in `keops_abi`)
//! documents each of them: the layouts of the variables and outputs, of
//! the 2D scheme's partial states (slot layouts: [`partial_slots`]), of
//! the outer-feature scratch, and of the per-block table and the spans of
//! a ranged (block-sparse) call. The emitter declares and loads the parameters from that list, and the
//! launcher passes them by name ([`KernelArgs`]).
//!
//! A ranged call covers every output row: the host gives the rows of no
//! block (or of a block without reduced range) table entries with no span,
//! whose outputs are then the reduction's value over an empty set. The
//! span loop wraps the tile loop, so the pair loop is the same for dense
//! and ranged calls (a dense call is a single span, the chunk).
//!
//! Kernels (`keops_abi::GpuEntry` names them for the emitter and the
//! launcher): `keops_reduce` (sum stages: `keops_reduce_direct`,
//! `keops_reduce_block`, `keops_reduce_kahan`, one per summation scheme),
//! `keops_merge`, and `keops_outer` when `outer_scratch > 0` (launched
//! first, one thread per row; for a ranged call with the same table and
//! block size as the reduce kernel). Launch with a 1D block of any size up to the
//! device limit (`block` is the advised size) and grid
//! `(ceil(rows / block), nchunks)` (the merge kernel: `(ceil(rows / block), 1)`;
//! a ranged call: one block per table entry, of the size the table's tiles
//! of rows were cut for); no dynamic shared memory.
//!
//! The launch metadata (`block`, `tile`, `outer_scratch`, `partial_slots`)
//! is a value, [`StageModule::meta`] (a `keops_abi::GpuMeta`), that the
//! macro emits into the stage's `StageInfo` next to the PTX text. For
//! people and tools reading the PTX, the first line of a module after the
//! `.address_size` directive repeats it as a comment of `key=value` pairs
//! (nothing at run time reads it):
//!
//! ```text
//! // keops-kernel abi=2 prec=f32 block=256 tile=256 outer_scratch=0 partial_slots=1 red=sum unroll=4
//! ```
//!
//! (`unroll`, only in the comment: the pairs one iteration of the pair loop
//! handles, read by the instruction counter `benches/sass_count.py`.)

mod opt;
mod prog;
mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use keops_abi::{GpuEntry, GpuMeta, Red, Role, SumScheme, VarKind};
use keops_ir::ir::Bin;
use keops_ir::lower::{Inst, Lowered};

use crate::math::MathOpts;
use crate::ptx::{Builder, Prec, Reg, Ty};
use prog::{emit_prog_deferred, emit_prog_with, Ops};
pub use state::partial_slots;

pub use keops_abi::{
    kernel_params, KernelArgs, KernelParam, ABI_VERSION, FIXED_PARAMS, LAST_SPAN, NO_SPAN,
    TABLE_ENTRY_BYTES,
};

/// Bytes of shared memory a tile of inner features may take.
pub const SHARED_BUDGET: u32 = 40 * 1024;

/// 32-bit registers the outer features may take before they move to the
/// scratch buffer.
pub const OUTER_REGISTER_BUDGET: u32 = 64;

/// Layout decisions for one stage and precision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Advised threads per block.
    pub block: u32,
    /// Reduced indices per shared-memory tile.
    pub tile: u32,
    /// Elements per row of the shared tile: the inner features padded to
    /// the vector width ([`row_stride`]).
    pub stride: u32,
    /// Pairs one iteration of the emitted pair loop handles ([`unroll`]).
    pub unroll: u32,
    /// Whether the outer features go through the scratch buffer.
    pub outer_in_memory: bool,
    /// Bytes of the static shared tile.
    pub shared_bytes: u32,
    /// 8-byte slots of a partial state (2D scheme).
    pub partial_slots: u32,
}

/// Width (elements) of the vector loads of a shared row: 16 bytes
/// (`v4.f32`, `v2.f64`), less for rows shorter than that.
pub fn vector_width(stride: u32, p: Prec) -> u32 {
    (16 / p.bytes()).min(stride).max(1)
}

/// Elements per row of the shared tile for `nnf` inner features: `nnf`
/// itself for one feature (and two in f32), else `nnf` rounded up to a
/// multiple of the 16-byte vector width, so that each group of features is
/// one aligned `ld.shared.v4.f32` / `ld.shared.v2.f64` (padding: zeros).
pub fn row_stride(nnf: u32, p: Prec) -> u32 {
    let vw = 16 / p.bytes();
    if nnf <= 1 || (p == Prec::F32 && nnf == 2) {
        nnf
    } else {
        nnf.div_ceil(vw) * vw
    }
}

/// Pairs per iteration of the emitted pair loop: 4 for short pair programs
/// (at most 48 scalar instructions), 2 up to 128, else 1 (a remainder loop
/// takes the last pairs of a tile one by one). Unrolling amortises the
/// loop's compare, branch and address increments and lets `ptxas`
/// interleave the pairs.
pub fn unroll(l: &Lowered) -> u32 {
    match l.pair.insts.len() {
        0..=48 => 4,
        49..=128 => 2,
        _ => 1,
    }
}

/// Decides the tile, the block size and where outer features live.
pub fn plan(l: &Lowered, p: Prec) -> Plan {
    let bytes = p.bytes();
    let words = bytes / 4;
    let nnf = l.inner.outputs.len() as u32;
    let nof = l.outer.outputs.len() as u32;
    let stride = row_stride(nnf, p);
    let block = match p {
        Prec::F32 => 256,
        Prec::F64 => 192,
    };
    let mut tile = block;
    if nnf > 0 {
        let fit = SHARED_BUDGET / (stride * bytes);
        if fit < tile {
            // Multiples of 8 when possible.
            tile = if fit >= 8 { fit / 8 * 8 } else { fit.max(1) };
        }
    }
    let outer_in_memory = nof * words > OUTER_REGISTER_BUDGET;
    Plan {
        block,
        tile,
        stride,
        unroll: unroll(l),
        outer_in_memory,
        shared_bytes: stride * tile * bytes,
        partial_slots: partial_slots(l.red, l.fdim, l.wdim),
    }
}

/// Kernel entry points of a stage's module.
pub fn kernel_names(l: &Lowered, p: Prec) -> Vec<GpuEntry> {
    let mut v = Vec::new();
    if plan(l, p).outer_in_memory {
        v.push(GpuEntry::Outer);
    }
    if l.red == Red::Sum {
        v.extend(SumScheme::ALL.map(GpuEntry::ReduceSum));
    } else {
        v.push(GpuEntry::Reduce);
    }
    v.push(GpuEntry::Merge);
    v
}

/// A stage's PTX module in one precision and the metadata its launcher
/// needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageModule {
    /// The PTX text.
    pub ptx: String,
    /// Launch metadata (emitted into the stage's `StageInfo`).
    pub meta: GpuMeta,
}

/// The PTX module of a lowered stage in precision `p`, with its launch
/// metadata.
pub fn emit_stage(l: &Lowered, p: Prec, mo: MathOpts) -> StageModule {
    // The programs as the kernels run them (`opt.rs`).
    let tuned = opt::tune(l, fast32(p, mo));
    let l = &tuned;
    let plan = plan(l, p);
    let meta = GpuMeta {
        block: plan.block,
        tile: plan.tile,
        outer_scratch: if plan.outer_in_memory {
            l.outer.outputs.len() as u32
        } else {
            0
        },
        partial_slots: plan.partial_slots,
    };
    let mut s = String::new();
    s.push_str(".version 7.8\n.target sm_80\n.address_size 64\n");
    s.push_str(&format!(
        "// keops-kernel abi={ABI_VERSION} prec={} block={} tile={} outer_scratch={} partial_slots={} red={} unroll={}\n\n",
        p.suffix(),
        meta.block,
        meta.tile,
        meta.outer_scratch,
        meta.partial_slots,
        l.red.name(),
        plan.unroll,
    ));
    if plan.outer_in_memory {
        s.push_str(&emit_kernel(l, p, mo, &plan, Kind::Outer));
    }
    if l.red == Red::Sum {
        for sc in SumScheme::ALL {
            s.push_str(&emit_kernel(l, p, mo, &plan, Kind::Reduce { scheme: sc }));
        }
    } else {
        s.push_str(&emit_kernel(
            l,
            p,
            mo,
            &plan,
            Kind::Reduce {
                scheme: SumScheme::Direct,
            },
        ));
    }
    s.push_str(&emit_kernel(l, p, mo, &plan, Kind::Merge));
    StageModule { ptx: s, meta }
}

/// Whether `p` and `mo` select the f32 fast mode (base-2 exponentials in
/// the pair program and the log-sum-exp state, hoisted invariant factors).
pub(crate) fn fast32(p: Prec, mo: MathOpts) -> bool {
    mo.fast && p == Prec::F32
}

/// Which kernel of the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Outer features into the scratch buffer.
    Outer,
    /// The tiled reduction (one chunk: final outputs; several: partial states).
    Reduce { scheme: SumScheme },
    /// Merge of the partial states.
    Merge,
}

impl Kind {
    /// The kernel's entry point in a module of a stage with reduction `red`.
    fn entry(self, red: Red) -> GpuEntry {
        match self {
            Kind::Outer => GpuEntry::Outer,
            Kind::Merge => GpuEntry::Merge,
            Kind::Reduce { scheme } => GpuEntry::reduce(red, scheme),
        }
    }
}

/// Registers holding the kernel parameters (and a few derived values).
#[derive(Clone, Debug)]
pub(crate) struct Prm {
    vars: Vec<Reg>,
    m: Reg,
    n: Reg,
    row_base: Reg,
    chunk_len: Reg,
    nchunks: Reg,
    out_vals: Reg,
    out_idx: Reg,
    partial: Reg,
    oscr: Reg,
    /// Block-sparse ranges: the per-block table (0: a dense call).
    table: Reg,
    /// `p_table` as passed (its zero test does not rely on `cvta`).
    table_raw: Reg,
    /// Block-sparse ranges: the reduced spans.
    spans: Reg,
    /// `m * 8`: stride between partial-state slots.
    m8: Reg,
}

/// The emission context of one kernel.
pub(crate) struct Ctx<'a> {
    b: Builder,
    ops: Ops,
    l: &'a Lowered,
    prm: Prm,
}

impl Ctx<'_> {
    fn ops_copy(&self) -> Ops {
        self.ops
    }

    fn p(&self) -> Prec {
        self.ops.p
    }

    /// f32 fast mode ([`fast32`]).
    fn fast(&self) -> bool {
        fast32(self.ops.p, self.ops.mo)
    }

    /// The variable holding component `k` of the concatenated buffer of
    /// `role` and `kind`, and the component inside it.
    fn locate(&self, role: Role, kind: VarKind, k: u32) -> (usize, u32) {
        for (v, (decl, slot)) in self.l.vars.iter().zip(&self.l.slots).enumerate() {
            let kind_ok = role == Role::Param || decl.kind == kind;
            if slot.role == role && kind_ok && k >= slot.offset && k < slot.offset + decl.dim {
                return (v, k - slot.offset);
            }
        }
        panic!("internal error: no {role:?} {kind:?} variable holds component {k}");
    }

    /// Address of the first component of row `row` of variable `v`
    /// (`elem` bytes per component), cached in `cache`.
    fn row_ptr(&mut self, cache: &mut HashMap<usize, Reg>, v: usize, row: Reg, elem: u32) -> Reg {
        if let Some(&r) = cache.get(&v) {
            return r;
        }
        let dim = self.l.vars[v].dim as u64;
        let r = self.b.reg(Ty::B64);
        self.b.emit(format!(
            "mad.lo.u64 {r}, {row}, {}, {}",
            dim * elem as u64,
            self.prm.vars[v]
        ));
        cache.insert(v, r);
        r
    }

    /// Loads an index component (u64) of row `row` of a variable.
    fn load_index(&mut self, cache: &mut HashMap<usize, Reg>, role: Role, k: u32, row: Reg) -> Reg {
        let (v, c) = self.locate(role, VarKind::Index, k);
        let base = self.row_ptr(cache, v, row, 8);
        let r = self.b.reg(Ty::B64);
        self.b
            .emit(format!("ld.global.nc.u64 {r}, [{base}+{}]", c as u64 * 8));
        r
    }

    /// Runs the parameter phase (every thread).
    ///
    /// `set`: the parameter set (u64), the problem of a batch whose
    /// parameters have a value per problem: parameter `v` is read at
    /// `p_v + set * dim * bytes` (0 for the usual single set).
    fn param_phase(&mut self, set: Reg) -> Vec<Reg> {
        let prog = &self.l.param;
        phase_prog(self, prog, Role::Param, set, &[], &mut |_, _, _| {})
    }
}

/// Loads every parameter ([`kernel_params`]) into registers, pointers
/// converted to global addresses.
fn load_params(b: &mut Builder, l: &Lowered) -> Prm {
    let mut vars = Vec::with_capacity(l.vars.len());
    let mut fixed = HashMap::new();
    let mut table_raw = None;
    for p in kernel_params(l.vars.len()) {
        let r = b.reg(Ty::B64);
        b.emit(format!("ld.param.u64 {r}, [{p}]"));
        if p == KernelParam::Table {
            table_raw = Some(r);
        }
        let r = if p.is_pointer() {
            let g = b.reg(Ty::B64);
            b.emit(format!("cvta.to.global.u64 {g}, {r}"));
            g
        } else {
            r
        };
        match p {
            KernelParam::Var(_) => vars.push(r),
            _ => {
                fixed.insert(p, r);
            }
        }
    }
    let get = |p: KernelParam| fixed[&p];
    let m = get(KernelParam::M);
    let m8 = b.reg(Ty::B64);
    b.emit(format!("shl.b64 {m8}, {m}, 3"));
    Prm {
        vars,
        m,
        n: get(KernelParam::N),
        row_base: get(KernelParam::RowBase),
        chunk_len: get(KernelParam::ChunkLen),
        nchunks: get(KernelParam::NChunks),
        out_vals: get(KernelParam::OutVals),
        out_idx: get(KernelParam::OutIdx),
        partial: get(KernelParam::Partial),
        oscr: get(KernelParam::Oscr),
        table: get(KernelParam::Table),
        table_raw: table_raw.expect("declared"),
        spans: get(KernelParam::Spans),
        m8,
    }
}

/// Emits one kernel.
fn emit_kernel(l: &Lowered, p: Prec, mo: MathOpts, plan: &Plan, kind: Kind) -> String {
    let mut b = Builder::new();
    let prm = load_params(&mut b, l);
    let mut cx = Ctx {
        b,
        ops: Ops { p, mo },
        l,
        prm,
    };
    let name = kind.entry(l.red).name();
    let mut shared_decl = String::new();

    // Thread and row.
    let tid = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {tid}, %tid.x"));
    let ntid = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {ntid}, %ntid.x"));
    // The thread's row; a ranged call's parameter set and first span
    // (the merge kernel serves the 2D scheme, which ranged calls do not
    // use).
    let ranged_ok = kind != Kind::Merge;
    let (row, has_row) = thread_row(&mut cx, ranged_ok);
    let blk = ranged_ok.then(|| {
        let (sb, set) = (cx.b.reg(Ty::B32), cx.b.reg(Ty::B64));
        cx.b.emit(format!("mov.u32 {sb}, 0"));
        cx.b.emit(format!("mov.u64 {set}, 0"));
        let dense = cx.b.label();
        let q = cx.b.reg(Ty::Pred);
        cx.b.emit(format!("setp.eq.u64 {q}, {}, 0", cx.prm.table_raw));
        cx.b.emit(format!("@{q} bra {dense}"));
        let ea = table_entry(&mut cx);
        cx.b.emit(format!("ld.global.nc.u32 {sb}, [{ea}+16]"));
        cx.b.emit(format!("ld.global.nc.u64 {set}, [{ea}+24]"));
        cx.b.place(dense);
        (sb, set)
    });
    let done = cx.b.label();

    match kind {
        Kind::Outer => {
            cx.b.emit(format!("@!{has_row} bra {done}"));
            let (_, set) = blk.expect("not the merge kernel");
            let pf = cx.param_phase(set);
            let orow = scratch_base(&mut cx, row, l.outer.outputs.len() as u32);
            let (s, by) = (p.suffix(), p.bytes());
            outer_phase_with(&mut cx, &pf, row, &mut |b, k, r| {
                b.emit(format!(
                    "st.global.{s} [{orow}+{}], {r}",
                    k as u32 * 32 * by
                ));
            });
        }
        Kind::Merge => {
            cx.b.emit(format!("@!{has_row} bra {done}"));
            let st = cx.state_init(SumScheme::Block, true);
            let c = cx.b.reg(Ty::B64);
            cx.b.emit(format!("mov.u64 {c}, 0"));
            let top = cx.b.label();
            let end = cx.b.label();
            cx.b.place(top);
            let pr = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.ge.u64 {pr}, {c}, {}", cx.prm.nchunks));
            cx.b.emit(format!("@{pr} bra {end}"));
            cx.state_merge_chunk(&st, row, c);
            cx.b.emit(format!("add.u64 {c}, {c}, 1"));
            cx.b.emit(format!("bra {top}"));
            cx.b.place(end);
            cx.state_finalize(&st, row);
        }
        Kind::Reduce { scheme } => {
            let nnf = l.inner.outputs.len() as u32;
            let tile = plan.tile;
            let by = p.bytes();
            let s = p.suffix();
            if nnf > 0 {
                shared_decl = format!(
                    "\t.shared .align 16 .b8 keops_tile[{}];\n",
                    plan.shared_bytes
                );
            }
            if plan.outer_in_memory {
                // The zero of the scratch loads: written by thread 0, read
                // by all after the barrier.
                shared_decl.push_str("\t.shared .align 4 .b32 keops_zero[1];\n");
                let q = cx.b.reg(Ty::Pred);
                let skip = cx.b.label();
                cx.b.emit(format!("setp.ne.u32 {q}, {tid}, 0"));
                cx.b.emit(format!("@{q} bra {skip}"));
                let z = cx.b.reg(Ty::B32);
                cx.b.emit(format!("mov.u32 {z}, 0"));
                cx.b.emit(format!("st.shared.u32 [keops_zero], {z}"));
                cx.b.place(skip);
                cx.b.emit("bar.sync 0");
            }
            let (sb, set) = blk.expect("not the merge kernel");
            let pf = cx.param_phase(set);
            // Outer phase and state (threads with a row).
            let no_row = cx.b.label();
            cx.b.emit(format!("@!{has_row} bra {no_row}"));
            let of = if plan.outer_in_memory {
                Vec::new()
            } else {
                outer_phase(&mut cx, &pf, row)
            };
            let orow = if plan.outer_in_memory {
                Some(scratch_base(&mut cx, row, l.outer.outputs.len() as u32))
            } else {
                None
            };
            // Outer indices and row halves used by the pair program.
            let mut ocache = HashMap::new();
            let mut oidx: HashMap<u32, Reg> = HashMap::new();
            let (mut row_hi, mut row_lo) = (None, None);
            for inst in &l.pair.insts {
                match *inst {
                    Inst::MatchOuterIndex(k) if !oidx.contains_key(&k) => {
                        let r = cx.load_index(&mut ocache, Role::Outer, k, row);
                        oidx.insert(k, r);
                    }
                    Inst::OuterRowHi if row_hi.is_none() => {
                        row_hi = Some(index_half(&mut cx.b, p, row, true))
                    }
                    Inst::OuterRowLo if row_lo.is_none() => {
                        row_lo = Some(index_half(&mut cx.b, p, row, false))
                    }
                    _ => {}
                }
            }
            let st = cx.state_init(scheme, false);
            cx.b.place(no_row);

            let tbase = cx.b.reg(Ty::B32);
            if nnf > 0 {
                cx.b.emit(format!("mov.u32 {tbase}, keops_tile"));
            }
            // Span loop: the block's spans from `sb` in the span array
            // (ranged), or the chunk once (dense). `sp` is the current
            // span (ranged: a block's last span is marked in its end);
            // only `sp` and `ts` live across the pair loop: the span's end
            // is formed again at each tile (dense: from `ctaid.y` and the
            // parameters; ranged: read again from the span array), as
            // `ptxas` does for a dense-only kernel.
            let sp = cx.b.reg(Ty::B32);
            cx.b.emit(format!("mov.u32 {sp}, {sb}"));
            let span_top = cx.b.label();
            let spans_done = cx.b.label();
            let ranged_span = cx.b.label();
            let have_span = cx.b.label();
            let ts = cx.b.reg(Ty::B64);
            cx.b.place(span_top);
            let q = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.eq.u32 {q}, {sp}, {NO_SPAN}"));
            cx.b.emit(format!("@{q} bra {spans_done}"));
            let q = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.ne.u64 {q}, {}, 0", cx.prm.table_raw));
            cx.b.emit(format!("@{q} bra {ranged_span}"));
            // Dense: chunk `ctaid.y` starts at `chunk * chunk_len`.
            let chunk = chunk_index(&mut cx);
            cx.b.emit(format!("mul.lo.u64 {ts}, {chunk}, {}", cx.prm.chunk_len));
            cx.b.emit(format!("bra {have_span}"));
            cx.b.place(ranged_span);
            let sa = span_addr(&mut cx, sp);
            cx.b.emit(format!("ld.global.nc.u64 {ts}, [{sa}]"));
            cx.b.place(have_span);
            // Tile loop.
            let tile_top = cx.b.label();
            let tiles_done = cx.b.label();
            cx.b.place(tile_top);
            let end = span_end(&mut cx, sp);
            let pr = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.ge.u64 {pr}, {ts}, {end}"));
            cx.b.emit(format!("@{pr} bra {tiles_done}"));
            if nnf > 0 {
                // Inner phase: thread t computes indices t, t + ntid, ... of the tile.
                let t = cx.b.reg(Ty::B32);
                cx.b.emit(format!("mov.u32 {t}, {tid}"));
                let load_top = cx.b.label();
                let loaded = cx.b.label();
                cx.b.place(load_top);
                let q = cx.b.reg(Ty::Pred);
                cx.b.emit(format!("setp.ge.u32 {q}, {t}, {tile}"));
                cx.b.emit(format!("@{q} bra {loaded}"));
                let t64 = cx.b.reg(Ty::B64);
                cx.b.emit(format!("cvt.u64.u32 {t64}, {t}"));
                let j = cx.b.reg(Ty::B64);
                cx.b.emit(format!("add.u64 {j}, {ts}, {t64}"));
                let q2 = cx.b.reg(Ty::Pred);
                cx.b.emit(format!("setp.ge.u64 {q2}, {j}, {end}"));
                cx.b.emit(format!("@{q2} bra {loaded}"));
                let nf = inner_phase(&mut cx, &pf, j);
                let a = cx.b.reg(Ty::B32);
                cx.b.emit(format!(
                    "mad.lo.u32 {a}, {t}, {}, {tbase}",
                    plan.stride * by
                ));
                // Row `t`: the features, then zeros up to the stride, one
                // vector store per group.
                let gw = vector_width(plan.stride, p);
                let zero = if plan.stride > nnf {
                    Some(cx.b.fconst(p, 0.0))
                } else {
                    None
                };
                for g in 0..plan.stride / gw {
                    let regs: Vec<String> = (g * gw..(g + 1) * gw)
                        .map(|k| match nf.get(k as usize) {
                            Some(r) => r.to_string(),
                            None => zero.expect("padding").to_string(),
                        })
                        .collect();
                    cx.b.emit(format!(
                        "st.shared{}.{s} [{a}+{}], {}",
                        vec_suffix(gw),
                        g * gw * by,
                        vec_operand(&regs)
                    ));
                }
                cx.b.emit(format!("add.u32 {t}, {t}, {ntid}"));
                cx.b.emit(format!("bra {load_top}"));
                cx.b.place(loaded);
                cx.b.emit("bar.sync 0");
            }
            // Pairs (threads with a row): a loop of `unroll` pairs per
            // iteration over rows `[0, tlen & !(unroll - 1))` of the tile,
            // then a loop of one pair per iteration for the rest.
            let pairs_done = cx.b.label();
            cx.b.emit(format!("@!{has_row} bra {pairs_done}"));
            let rem = cx.b.reg(Ty::B64);
            cx.b.emit(format!("sub.u64 {rem}, {end}, {ts}"));
            cx.b.emit(format!("min.u64 {rem}, {rem}, {tile}"));
            let tlen = cx.b.reg(Ty::B32);
            cx.b.emit(format!("cvt.u32.u64 {tlen}, {rem}"));
            let jj = cx.b.reg(Ty::B32);
            cx.b.emit(format!("mov.u32 {jj}, 0"));
            // Address of row `jj` of the tile.
            let ja = cx.b.reg(Ty::B32);
            if nnf > 0 {
                cx.b.emit(format!("mov.u32 {ja}, {tbase}"));
            }
            let row_bytes = plan.stride * by;
            let fused = deferred_outputs(l, scheme, cx.fast());
            let pe = PairEnv {
                pf: &pf,
                of: &of,
                orow,
                row_hi,
                row_lo,
                oidx: &oidx,
                ts,
                jj,
                ja,
                row_bytes,
                gw: vector_width(plan.stride, p),
                fused: &fused,
            };
            let pair_end = cx.b.label();
            let u = plan.unroll;
            if u > 1 {
                let tl_u = cx.b.reg(Ty::B32);
                cx.b.emit(format!("and.b32 {tl_u}, {tlen}, {}", !(u - 1)));
                let top = cx.b.label();
                let rest = cx.b.label();
                cx.b.place(top);
                let q = cx.b.reg(Ty::Pred);
                cx.b.emit(format!("setp.ge.u32 {q}, {jj}, {tl_u}"));
                cx.b.emit(format!("@{q} bra {rest}"));
                if matches!(st, state::St::Lse { .. }) {
                    // One common-case check for the whole group.
                    let outs: Vec<state::PairOut> = (0..u)
                        .map(|r| {
                            let (o, f, _, _) = pair_outputs(&mut cx, &pe, r);
                            (o, f)
                        })
                        .collect();
                    cx.lse_update_group(&st, &outs);
                } else {
                    for r in 0..u {
                        emit_pair(&mut cx, &pe, &st, r);
                    }
                }
                cx.b.emit(format!("add.u32 {jj}, {jj}, {u}"));
                if nnf > 0 {
                    cx.b.emit(format!("add.u32 {ja}, {ja}, {}", u * row_bytes));
                }
                cx.b.emit(format!("bra {top}"));
                cx.b.place(rest);
            }
            let top1 = cx.b.label();
            cx.b.place(top1);
            let q = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.ge.u32 {q}, {jj}, {tlen}"));
            cx.b.emit(format!("@{q} bra {pair_end}"));
            emit_pair(&mut cx, &pe, &st, 0);
            cx.b.emit(format!("add.u32 {jj}, {jj}, 1"));
            if nnf > 0 {
                cx.b.emit(format!("add.u32 {ja}, {ja}, {row_bytes}"));
            }
            cx.b.emit(format!("bra {top1}"));
            cx.b.place(pair_end);
            cx.state_tile_flush(&st, ts);
            cx.b.place(pairs_done);
            if nnf > 0 {
                cx.b.emit("bar.sync 0");
            }
            cx.b.emit(format!("add.u64 {ts}, {ts}, {tile}"));
            cx.b.emit(format!("bra {tile_top}"));
            cx.b.place(tiles_done);
            // The next span: none after the chunk (dense) or after the
            // block's last span (ranged).
            let q = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.ne.u64 {q}, {}, 0", cx.prm.table_raw));
            let nsp = cx.b.reg(Ty::B32);
            cx.b.emit(format!("mov.u32 {nsp}, {NO_SPAN}"));
            let next_set = cx.b.label();
            cx.b.emit(format!("@!{q} bra {next_set}"));
            let sa = span_addr(&mut cx, sp);
            let e = cx.b.reg(Ty::B64);
            cx.b.emit(format!("ld.global.nc.u64 {e}, [{sa}+8]"));
            let last = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.lt.s64 {last}, {e}, 0"));
            let inc = cx.b.reg(Ty::B32);
            cx.b.emit(format!("add.u32 {inc}, {sp}, 1"));
            cx.b.emit(format!("selp.b32 {nsp}, {NO_SPAN}, {inc}, {last}"));
            cx.b.place(next_set);
            cx.b.emit(format!("mov.u32 {sp}, {nsp}"));
            cx.b.emit(format!("bra {span_top}"));
            cx.b.place(spans_done);
            // Results.
            let (row, has_row) = thread_row(&mut cx, true);
            cx.b.emit(format!("@!{has_row} bra {done}"));
            // One chunk (1D scheme): final outputs; several: partial states.
            let several = cx.b.reg(Ty::Pred);
            cx.b.emit(format!("setp.gt.u64 {several}, {}, 1", cx.prm.nchunks));
            let partial = cx.b.label();
            cx.b.emit(format!("@{several} bra {partial}"));
            cx.state_finalize(&st, row);
            cx.b.emit(format!("bra {done}"));
            cx.b.place(partial);
            let chunk = chunk_index(&mut cx);
            cx.state_store_partial(&st, row, chunk);
        }
    }
    cx.b.place(done);
    cx.b.emit("ret");

    let params: Vec<String> = kernel_params(l.vars.len())
        .map(|p| format!("\t.param .u64 {p}"))
        .collect();
    format!(
        ".visible .entry {name}(\n{}\n)\n{{\n{}{shared_decl}{}}}\n\n",
        params.join(",\n"),
        cx.b.declarations(),
        cx.b.body()
    )
}

/// The thread's row (u64) and whether it has one: `row_base + ctaid.x *
/// ntid.x + tid.x` below `m` for a dense call; with `ranged_ok` and a
/// table, `row_start + tid.x` below `row_end` of the block's entry.
/// Emitted where it is needed (at the start, and again for the results)
/// rather than kept in registers across the loops.
fn thread_row(cx: &mut Ctx<'_>, ranged_ok: bool) -> (Reg, Reg) {
    let tid = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {tid}, %tid.x"));
    let ntid = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {ntid}, %ntid.x"));
    let c = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {c}, %ctaid.x"));
    let row = cx.b.reg(Ty::B64);
    cx.b.emit(format!("mul.wide.u32 {row}, {c}, {ntid}"));
    cx.b.emit(format!("add.u64 {row}, {row}, {}", cx.prm.row_base));
    let rend = cx.b.reg(Ty::B64);
    cx.b.emit(format!("mov.u64 {rend}, {}", cx.prm.m));
    if ranged_ok {
        let dense = cx.b.label();
        let q = cx.b.reg(Ty::Pred);
        cx.b.emit(format!("setp.eq.u64 {q}, {}, 0", cx.prm.table_raw));
        cx.b.emit(format!("@{q} bra {dense}"));
        let ea = table_entry(cx);
        cx.b.emit(format!("ld.global.nc.u64 {row}, [{ea}]"));
        cx.b.emit(format!("ld.global.nc.u64 {rend}, [{ea}+8]"));
        cx.b.place(dense);
    }
    let tid64 = cx.b.reg(Ty::B64);
    cx.b.emit(format!("cvt.u64.u32 {tid64}, {tid}"));
    cx.b.emit(format!("add.u64 {row}, {row}, {tid64}"));
    let has_row = cx.b.reg(Ty::Pred);
    cx.b.emit(format!("setp.lt.u64 {has_row}, {row}, {rend}"));
    (row, has_row)
}

/// Address of span `sp` (u32) of a ranged call's span array.
fn span_addr(cx: &mut Ctx<'_>, sp: Reg) -> Reg {
    let sp64 = cx.b.reg(Ty::B64);
    cx.b.emit(format!("cvt.u64.u32 {sp64}, {sp}"));
    let sa = cx.b.reg(Ty::B64);
    cx.b.emit(format!("mad.lo.u64 {sa}, {sp64}, 16, {}", cx.prm.spans));
    sa
}

/// The end (u64, exclusive) of the current span: dense, the chunk's,
/// `min((ctaid.y + 1) * chunk_len, n)`; ranged, span `sp`'s end without
/// its [`LAST_SPAN`] mark.
fn span_end(cx: &mut Ctx<'_>, sp: Reg) -> Reg {
    let end = cx.b.reg(Ty::B64);
    let ranged = cx.b.label();
    let known = cx.b.label();
    let q = cx.b.reg(Ty::Pred);
    cx.b.emit(format!("setp.ne.u64 {q}, {}, 0", cx.prm.table_raw));
    cx.b.emit(format!("@{q} bra {ranged}"));
    let chunk = chunk_index(cx);
    cx.b.emit(format!(
        "mad.lo.u64 {end}, {chunk}, {0}, {0}",
        cx.prm.chunk_len
    ));
    cx.b.emit(format!("min.u64 {end}, {end}, {}", cx.prm.n));
    cx.b.emit(format!("bra {known}"));
    cx.b.place(ranged);
    let sa = span_addr(cx, sp);
    cx.b.emit(format!("ld.global.nc.u64 {end}, [{sa}+8]"));
    cx.b.emit(format!("and.b64 {end}, {end}, {}", i64::MAX));
    cx.b.place(known);
    end
}

/// The chunk of the reduced index of a dense call, `ctaid.y` (u64).
fn chunk_index(cx: &mut Ctx<'_>) -> Reg {
    let cy = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {cy}, %ctaid.y"));
    let chunk = cx.b.reg(Ty::B64);
    cx.b.emit(format!("cvt.u64.u32 {chunk}, {cy}"));
    chunk
}

/// Address of the block's entry of a ranged call's table (entry
/// `row_base + ctaid.x`).
fn table_entry(cx: &mut Ctx<'_>) -> Reg {
    let c = cx.b.reg(Ty::B32);
    cx.b.emit(format!("mov.u32 {c}, %ctaid.x"));
    let e = cx.b.reg(Ty::B64);
    cx.b.emit(format!("cvt.u64.u32 {e}, {c}"));
    cx.b.emit(format!("add.u64 {e}, {e}, {}", cx.prm.row_base));
    let ea = cx.b.reg(Ty::B64);
    cx.b.emit(format!(
        "mad.lo.u64 {ea}, {e}, {TABLE_ENTRY_BYTES}, {}",
        cx.prm.table
    ));
    ea
}

/// `.vN` for a vector of `n` elements (nothing for one).
fn vec_suffix(n: u32) -> String {
    if n == 1 {
        String::new()
    } else {
        format!(".v{n}")
    }
}

/// `{a, b, c, d}` (or `a` alone).
fn vec_operand(regs: &[String]) -> String {
    if regs.len() == 1 {
        regs[0].clone()
    } else {
        format!("{{{}}}", regs.join(", "))
    }
}

/// Outputs whose last operation is a product used nowhere else, left to
/// the state update to fuse into an `fma`: sum columns (`acc += x * y` is
/// one `fma`, one rounding instead of two; direct and block schemes, Kahan
/// needs the term itself) and, in f32 fast mode, the log-sum-exp family's
/// formula columns (`f - m = fma(x, y, -m)`). Indexed by output column;
/// `true` where deferred.
fn deferred_outputs(l: &Lowered, scheme: SumScheme, fast: bool) -> Vec<bool> {
    let prog = &l.pair;
    let n = l.fdim as usize;
    let on = match l.red {
        Red::Sum => scheme != SumScheme::Kahan,
        r => fast && opt::lse_family(r),
    };
    if !on {
        return vec![false; n];
    }
    let mut uses = vec![0u32; prog.insts.len()];
    for i in &prog.insts {
        for o in i.operands() {
            uses[o as usize] += 1;
        }
    }
    for &o in &prog.outputs {
        uses[o as usize] += 1;
    }
    (0..n)
        .map(|d| {
            let o = prog.outputs[d] as usize;
            matches!(prog.insts[o], Inst::Bin(Bin::Mul, _, _)) && uses[o] == 1
        })
        .collect()
}

/// What the pair body needs from the reduce kernel.
struct PairEnv<'a> {
    pf: &'a [Reg],
    of: &'a [Reg],
    orow: Option<Reg>,
    row_hi: Option<Reg>,
    row_lo: Option<Reg>,
    oidx: &'a HashMap<u32, Reg>,
    /// First reduced index of the tile (u64).
    ts: Reg,
    /// Row of the tile of the loop iteration (u32).
    jj: Reg,
    /// Shared address of row `jj`.
    ja: Reg,
    /// Bytes per row of the shared tile.
    row_bytes: u32,
    /// Elements per vector load.
    gw: u32,
    /// Outputs left as products ([`deferred_outputs`]).
    fused: &'a [bool],
}

/// One pair: row `jj + r` of the tile against the thread's row.
fn emit_pair(cx: &mut Ctx<'_>, pe: &PairEnv<'_>, st: &state::St, r: u32) {
    let (out, fused, j, jl) = pair_outputs(cx, pe, r);
    cx.state_update_fused(st, &out, &fused, j, jl);
}

/// The pair program of row `jj + r` of the tile: its outputs, the operands
/// of the deferred products ([`deferred_outputs`]) and the reduced index
/// `j` (u64).
#[allow(clippy::type_complexity)]
fn pair_outputs(
    cx: &mut Ctx<'_>,
    pe: &PairEnv<'_>,
    r: u32,
) -> (Vec<Reg>, Vec<Option<(Reg, Reg)>>, Reg, Reg) {
    let l = cx.l;
    let p = cx.p();
    let (s, by) = (p.suffix(), p.bytes());
    let jj64 = cx.b.reg(Ty::B64);
    cx.b.emit(format!("cvt.u64.u32 {jj64}, {}", pe.jj));
    let j = cx.b.reg(Ty::B64);
    cx.b.emit(format!("add.u64 {j}, {}, {jj64}", pe.ts));
    let j = if r > 0 {
        let jr = cx.b.reg(Ty::B64);
        cx.b.emit(format!("add.u64 {jr}, {j}, {r}"));
        jr
    } else {
        j
    };
    // Row of the tile (u32).
    let jl = if r > 0 {
        let q = cx.b.reg(Ty::B32);
        cx.b.emit(format!("add.u32 {q}, {}, {r}", pe.jj));
        q
    } else {
        pe.jj
    };
    // Scratch base for this pair: + a volatile zero, so that the
    // outer-feature loads stay inside the loop.
    let obase = pe.orow.map(|orow| {
        let z = cx.b.reg(Ty::B32);
        cx.b.emit(format!("ld.volatile.shared.u32 {z}, [keops_zero]"));
        let z64 = cx.b.reg(Ty::B64);
        cx.b.emit(format!("cvt.u64.u32 {z64}, {z}"));
        let ob = cx.b.reg(Ty::B64);
        cx.b.emit(format!("add.u64 {ob}, {orow}, {z64}"));
        ob
    });
    let ops = cx.ops;
    let gw = pe.gw;
    let ja = pe.ja;
    let row_off = r * pe.row_bytes;
    // Inner features, loaded one vector group at a time at first use.
    let mut groups: HashMap<u32, Vec<Reg>> = HashMap::new();
    let mut input = |b: &mut Builder, i: &Inst| -> Reg {
        match *i {
            Inst::Pf(k) => pe.pf[k as usize],
            Inst::Of(k) => match obase {
                None => pe.of[k as usize],
                Some(ob) => {
                    let r = b.freg(p);
                    b.emit(format!("ld.global.nc.{s} {r}, [{ob}+{}]", k * 32 * by));
                    r
                }
            },
            Inst::Nf(k) => {
                let g = k / gw;
                let regs = groups.entry(g).or_insert_with(|| {
                    let regs: Vec<Reg> = (0..gw).map(|_| b.freg(p)).collect();
                    let names: Vec<String> = regs.iter().map(Reg::to_string).collect();
                    b.emit(format!(
                        "ld.shared{}.{s} {}, [{ja}+{}]",
                        vec_suffix(gw),
                        vec_operand(&names),
                        row_off + g * gw * by
                    ));
                    regs
                });
                regs[(k % gw) as usize]
            }
            Inst::OuterRowHi => pe.row_hi.expect("computed"),
            Inst::OuterRowLo => pe.row_lo.expect("computed"),
            Inst::MatchOuterIndex(k) => {
                let q = b.reg(Ty::Pred);
                b.emit(format!("setp.eq.u64 {q}, {j}, {}", pe.oidx[&k]));
                ops.indicator(b, q)
            }
            ref other => panic!("unexpected {other:?} in the pair phase"),
        }
    };
    let defer: Vec<u32> = pe
        .fused
        .iter()
        .enumerate()
        .filter(|(_, &f)| f)
        .map(|(d, _)| l.pair.outputs[d])
        .collect();
    let exp2 = cx.fast();
    let (out, products) = emit_prog_deferred(&mut cx.b, &ops, &l.pair, &mut input, &defer, exp2);
    let fused: Vec<Option<(Reg, Reg)>> = pe
        .fused
        .iter()
        .enumerate()
        .map(|(d, &f)| {
            if f {
                products.get(&l.pair.outputs[d]).copied()
            } else {
                None
            }
        })
        .collect();
    (out, fused, j, jl)
}

/// Address of feature 0 of row `row` in the outer-feature scratch
/// (`nof` features; feature `k` is `k * 32` elements further).
fn scratch_base(cx: &mut Ctx<'_>, row: Reg, nof: u32) -> Reg {
    let by = cx.p().bytes() as u64;
    let g = cx.b.reg(Ty::B64);
    cx.b.emit(format!("shr.u64 {g}, {row}, 5"));
    let lane = cx.b.reg(Ty::B64);
    cx.b.emit(format!("and.b64 {lane}, {row}, 31"));
    // (g * nof * 32 + lane) * bytes + oscr
    let e = cx.b.reg(Ty::B64);
    cx.b.emit(format!("mad.lo.u64 {e}, {g}, {}, {lane}", nof as u64 * 32));
    let a = cx.b.reg(Ty::B64);
    cx.b.emit(format!("mad.lo.u64 {a}, {e}, {by}, {}", cx.prm.oscr));
    a
}

/// Outer phase of row `row`: raw loads and the outer program.
fn outer_phase(cx: &mut Ctx<'_>, pf: &[Reg], row: Reg) -> Vec<Reg> {
    outer_phase_with(cx, pf, row, &mut |_, _, _| {})
}

/// [`outer_phase`] with a sink called as each feature is computed.
fn outer_phase_with(
    cx: &mut Ctx<'_>,
    pf: &[Reg],
    row: Reg,
    sink: &mut dyn FnMut(&mut Builder, usize, Reg),
) -> Vec<Reg> {
    let prog = &cx.l.outer;
    phase_prog(cx, prog, Role::Outer, row, pf, sink)
}

/// Inner phase of reduced index `j`: raw loads and the inner program.
fn inner_phase(cx: &mut Ctx<'_>, pf: &[Reg], j: Reg) -> Vec<Reg> {
    let prog = &cx.l.inner;
    phase_prog(cx, prog, Role::Inner, j, pf, &mut |_, _, _| {})
}

/// `v >> 16` (or `v & 0xffff`) of a u64 as a float.
fn index_half(b: &mut Builder, p: Prec, v: Reg, hi: bool) -> Reg {
    let t = b.reg(Ty::B64);
    if hi {
        b.emit(format!("shr.u64 {t}, {v}, 16"));
    } else {
        b.emit(format!("and.b64 {t}, {v}, 65535"));
    }
    let r = b.freg(p);
    b.emit(format!("cvt.rn.{}.u64 {r}, {t}", p.suffix()));
    r
}

/// Emits the param, outer or inner program for row `row` of the variables
/// of `role`: the row pointer of each variable is computed first, and each
/// raw component is loaded where the program first uses it (so that long
/// programs do not keep every input alive).
fn phase_prog(
    cx: &mut Ctx<'_>,
    prog: &keops_ir::lower::ScalarProg,
    role: Role,
    row: Reg,
    pf: &[Reg],
    sink: &mut dyn FnMut(&mut Builder, usize, Reg),
) -> Vec<Reg> {
    let p = cx.p();
    let by = p.bytes() as u64;
    let mut cache = HashMap::new();
    let mut reals: HashMap<u32, (Reg, u64)> = HashMap::new();
    let mut idx: HashMap<u32, (Reg, u64)> = HashMap::new();
    for inst in &prog.insts {
        match *inst {
            Inst::RawParam(k) | Inst::RawOuter(k) | Inst::RawInner(k) => {
                let (v, c) = cx.locate(role, VarKind::Real, k);
                let base = cx.row_ptr(&mut cache, v, row, by as u32);
                reals.insert(k, (base, c as u64 * by));
            }
            Inst::InnerIndexHi(k) | Inst::InnerIndexLo(k) => {
                let (v, c) = cx.locate(role, VarKind::Index, k);
                let base = cx.row_ptr(&mut cache, v, row, 8);
                idx.insert(k, (base, c as u64 * 8));
            }
            _ => {}
        }
    }
    let mut loaded_idx: HashMap<u32, Reg> = HashMap::new();
    let ops = cx.ops;
    let s = p.suffix();
    emit_prog_with(
        &mut cx.b,
        &ops,
        prog,
        &mut |b, i| match *i {
            Inst::RawParam(k) | Inst::RawOuter(k) | Inst::RawInner(k) => {
                let (base, off) = reals[&k];
                let r = b.freg(p);
                b.emit(format!("ld.global.nc.{s} {r}, [{base}+{off}]"));
                r
            }
            Inst::InnerIndexHi(k) | Inst::InnerIndexLo(k) => {
                let v = *loaded_idx.entry(k).or_insert_with(|| {
                    let (base, off) = idx[&k];
                    let r = b.reg(Ty::B64);
                    b.emit(format!("ld.global.nc.u64 {r}, [{base}+{off}]"));
                    r
                });
                index_half(b, p, v, matches!(i, Inst::InnerIndexHi(_)))
            }
            Inst::Pf(k) => pf[k as usize],
            ref other => panic!("unexpected {other:?} in a {role:?} phase"),
        },
        sink,
    )
}
