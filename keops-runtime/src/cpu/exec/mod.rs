//! The CPU executor of stages built at run time (formulas from strings,
//! widths from the data): the lowered programs of a stage
//! (`keops_ir::lower`) run by a small register machine over packs, with no
//! code generation and no compiler.
//!
//! Each instruction runs over `NP` packs of pairs at once (64 pairs of f32
//! with AVX-512, 32 with AVX2), so that the cost of dispatching it (one
//! `match`) is shared by those pairs, and an instruction's arithmetic is the
//! engine's SIMD math (`crate::ops`, `Pack`), compiled once per SIMD level
//! in this crate. The engine around it (tiles, threads, ranges, batches,
//! reductions) is the one compiled stages use: [`RtStage`] implements
//! [`StageKernels`].

mod dot;

use std::ops::Range;

use keops_ir::ir::{Bin, Tern, Un};
use keops_ir::lower::{Accumulate, Inst, Lowered, ScalarProg};

use super::reduce;
use super::{gather_row, Args, BlockCtx, StageKernels, BLOCK_FLUSH, MAX_SEGMENT};
use crate::ops;
use crate::simd::{self, Pack, Real, SimdLevel, WithPack};
use crate::stage::{Red, StageInfo};

/// Packs per instruction in the pair loop.
pub(crate) const NP: usize = 8;

/// A register of the machine (one value of the program).
type Reg = u32;

/// Where an input instruction reads.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// Component of the raw (concatenated) variables of the phase.
    Raw(u32),
    /// Parameter feature.
    Pf(u32),
    /// Outer feature (a scalar, splatted).
    Of(u32),
    /// Inner feature (from the tile, one value per lane).
    Nf(u32),
    /// `floor(v / 65536)` of an inner index component.
    IdxHi(u32),
    /// `v mod 65536` of an inner index component.
    IdxLo(u32),
    /// `floor(r / 65536)` of the outer row.
    RowHi,
    /// `r mod 65536` of the outer row.
    RowLo,
    /// 1 where the inner index equals an outer index component.
    Match(u32),
}

/// One instruction: `d` is the destination register.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// An input; in a loop body, `Raw`, `Pf`, `Of` and `Nf` read the
    /// component `k` further at iteration `k` (`shift`).
    Input {
        d: Reg,
        src: Src,
        shift: bool,
    },
    /// A constant.
    Const {
        d: Reg,
        c: f64,
    },
    /// `a op nf[k]` (or `nf[k] op a` with `left`) for `+ - * /`: an inner
    /// feature read where it is used, not copied to a register first.
    BinNf {
        d: Reg,
        op: Bin,
        a: Reg,
        k: u32,
        left: bool,
    },
    Un {
        d: Reg,
        op: Un,
        a: Reg,
    },
    Bin {
        d: Reg,
        op: Bin,
        a: Reg,
        b: Reg,
    },
    Tern {
        d: Reg,
        op: Tern,
        a: Reg,
        b: Reg,
        c: Reg,
    },
    Select {
        d: Reg,
        c: Reg,
        a: Reg,
        b: Reg,
    },
    Fma {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
    },
    /// The sum over loop `l`'s iterations of its body's output.
    LoopSum {
        d: Reg,
        l: u32,
    },
    /// `sum_k t_k` over the pairs `Code::dots[first..first + len]` of an
    /// outer and an inner feature `(o, n)`: `t = (x_o - y_n)^2` (`sq`) or
    /// `x_o * y_n`, added as the chain or loop it replaces (`adds`: as
    /// [`Accumulate::Adds`]; see [`dot`]).
    Dot {
        d: Reg,
        first: u32,
        len: u32,
        sq: bool,
        adds: bool,
        /// The sum negated (a `-` applied to it, folded in).
        neg: bool,
    },
    /// The value of long inner product `slot` (`Code::pre`), computed for
    /// a group of rows before the pair program runs (`dot::precompute`).
    Pre {
        d: Reg,
        slot: u32,
    },
}

/// A loop over the components of a vector (`keops_ir::lower::Loop`).
#[derive(Clone, Debug)]
struct LoopCode {
    len: u32,
    acc: Accumulate,
    /// The body, without its output instruction when that is a product
    /// fused into the sum (`fused`).
    ops: Vec<Op>,
    /// The body's outputs (registers).
    outs: Vec<Reg>,
    /// The factors of the fused product `a_k * b_k`.
    fused: Option<(Reg, Reg)>,
}

/// An output of a program.
#[derive(Clone, Copy, Debug)]
enum Out {
    /// A register.
    Reg(Reg),
    /// Inner feature `k`, read where the output is used (pair programs).
    Nf(u32),
    /// Output `o` of loop `l`'s body at iteration `k`.
    Elem { l: u32, k: u32, o: u8 },
}

/// A phase program compiled for the machine.
#[derive(Clone, Debug, Default)]
struct Code {
    /// Instructions whose value is the same for every pair of a call
    /// (constants, parameter features): run once per work item.
    per_call: Vec<Op>,
    /// Instructions whose value is the same for every pair of a row
    /// (outer features, the row index): run once per row and tile piece.
    per_row: Vec<Op>,
    /// The rest, in order.
    ops: Vec<Op>,
    loops: Vec<LoopCode>,
    outputs: Vec<Out>,
    /// Registers the outputs of loop bodies are copied to (one per
    /// [`Out::Elem`] output, in order).
    elem_regs: Vec<Reg>,
    /// The feature pairs of the [`Op::Dot`] instructions.
    dots: Vec<(u32, u32)>,
    /// The long inner products computed ahead for groups of rows
    /// ([`Op::Pre`]).
    pre: Vec<dot::PreDot>,
    /// Per output, the raw component it copies when it is nothing else
    /// (the features of most outer and inner phases): read directly by
    /// [`run_scalar`].
    copies: Vec<Option<u32>>,
    /// Whether some output is not a plain copy (the program must run).
    computes: bool,
    nregs: usize,
}

/// Registers of a program's values while it is translated.
struct Alloc {
    next: Reg,
}

impl Alloc {
    fn take(&mut self) -> Reg {
        self.next += 1;
        self.next - 1
    }
}

/// Instructions that feed the outputs (loop bodies: their captures).
fn live(prog: &ScalarProg, outputs: &[u32]) -> Vec<bool> {
    let mut live = vec![false; prog.insts.len()];
    for &o in outputs {
        live[o as usize] = true;
    }
    for k in (0..prog.insts.len()).rev() {
        if live[k] {
            for o in prog.operands(k) {
                live[o as usize] = true;
            }
        }
    }
    live
}

/// The instruction of one scalar instruction; `reg` maps operands.
fn translate(inst: &Inst, d: Reg, reg: &dyn Fn(u32) -> Reg, shift: bool) -> Option<Op> {
    let input = |src| Op::Input { d, src, shift };
    Some(match *inst {
        Inst::RawParam(k) | Inst::RawOuter(k) | Inst::RawInner(k) => input(Src::Raw(k)),
        Inst::Pf(k) => input(Src::Pf(k)),
        Inst::Of(k) => input(Src::Of(k)),
        Inst::Nf(k) => input(Src::Nf(k)),
        Inst::InnerIndexHi(k) => input(Src::IdxHi(k)),
        Inst::InnerIndexLo(k) => input(Src::IdxLo(k)),
        Inst::OuterRowHi => input(Src::RowHi),
        Inst::OuterRowLo => input(Src::RowLo),
        Inst::MatchOuterIndex(k) => input(Src::Match(k)),
        Inst::Const(b) => Op::Const {
            d,
            c: f64::from_bits(b),
        },
        Inst::Un(op, a) => Op::Un { d, op, a: reg(a) },
        Inst::Bin(op, a, b) => Op::Bin {
            d,
            op,
            a: reg(a),
            b: reg(b),
        },
        Inst::Tern(op, a, b, c) => Op::Tern {
            d,
            op,
            a: reg(a),
            b: reg(b),
            c: reg(c),
        },
        Inst::Select(c, a, b) => Op::Select {
            d,
            c: reg(c),
            a: reg(a),
            b: reg(b),
        },
        Inst::Fma(a, b, c) => Op::Fma {
            d,
            a: reg(a),
            b: reg(b),
            c: reg(c),
        },
        Inst::LoopSum(l) => Op::LoopSum { d, l },
        Inst::Dot | Inst::Cap(_) | Inst::LoopElem(..) => return None,
    })
}

impl Code {
    /// Translates `prog` with `outputs` as its outputs (the program's own,
    /// or a sum stage's factor pairs).
    fn new(prog: &ScalarProg, outputs: &[u32]) -> Result<Code, String> {
        let live = live(prog, outputs);
        let mut alloc = Alloc { next: 0 };
        let regs: Vec<Reg> = (0..prog.insts.len()).map(|_| alloc.take()).collect();
        let mut code = Code::default();
        // Inner features used by `+ - * /` are read there (`Op::BinNf`);
        // their input instruction stays only for their other uses.
        let nf = |v: u32| match prog.insts[v as usize] {
            Inst::Nf(k) => Some(k),
            _ => None,
        };
        let fused = |inst: &Inst| match *inst {
            Inst::Bin(op @ (Bin::Add | Bin::Sub | Bin::Mul | Bin::Div), a, b) => {
                match (nf(a), nf(b)) {
                    (_, Some(k)) => Some((op, a, k, false)),
                    (Some(k), None) => Some((op, b, k, true)),
                    _ => None,
                }
            }
            _ => None,
        };
        let mut other_uses = vec![0usize; prog.insts.len()];
        for (k, inst) in prog.insts.iter().enumerate() {
            if !live[k] {
                continue;
            }
            // The position of the operand read in place, if any.
            let skip = fused(inst).map(|(.., left)| if left { 0 } else { 1 });
            for (q, o) in prog.operands(k).into_iter().enumerate() {
                if Some(q) != skip {
                    other_uses[o as usize] += 1;
                }
            }
        }
        for &o in outputs {
            other_uses[o as usize] += 1;
        }
        for (k, inst) in prog.insts.iter().enumerate() {
            if !live[k] {
                continue;
            }
            if let Inst::LoopElem(..) = inst {
                continue;
            }
            if matches!(inst, Inst::Nf(_)) && other_uses[k] == 0 {
                continue;
            }
            let op = match fused(inst) {
                Some((op, a, feature, left)) => Op::BinNf {
                    d: regs[k],
                    op,
                    a: regs[a as usize],
                    k: feature,
                    left,
                },
                None => translate(inst, regs[k], &|v| regs[v as usize], false)
                    .ok_or_else(|| format!("unexpected instruction {inst:?}"))?,
            };
            code.place(op);
        }
        for lp in &prog.loops {
            let body = &lp.body;
            let breg: Vec<Reg> = (0..body.insts.len()).map(|_| alloc.take()).collect();
            // A captured value is the enclosing program's register.
            let map = |v: u32| match body.insts[v as usize] {
                Inst::Cap(c) => regs[c as usize],
                _ => breg[v as usize],
            };
            let out = body.outputs[0];
            let fused = match body.insts[out as usize] {
                Inst::Bin(Bin::Mul, a, b)
                    if body.outputs.len() == 1 && body.use_counts()[out as usize] == 1 =>
                {
                    Some((map(a), map(b)))
                }
                _ => None,
            };
            let mut ops = Vec::new();
            for (k, inst) in body.insts.iter().enumerate() {
                if matches!(inst, Inst::Cap(_)) || (fused.is_some() && k == out as usize) {
                    continue;
                }
                let op = translate(inst, breg[k], &map, true)
                    .ok_or_else(|| format!("unexpected instruction {inst:?} in a loop"))?;
                // Constants are the same at every iteration.
                match op {
                    Op::Const { .. } => code.per_call.push(op),
                    _ => ops.push(op),
                }
            }
            code.loops.push(LoopCode {
                len: lp.len,
                acc: lp.acc,
                ops,
                outs: body.outputs.iter().map(|&o| map(o)).collect(),
                fused,
            });
        }
        for &o in outputs {
            match prog.insts[o as usize] {
                Inst::LoopElem(l, k, oo) => {
                    code.outputs.push(Out::Elem { l, k, o: oo });
                    code.elem_regs.push(alloc.take());
                }
                _ => code.outputs.push(Out::Reg(regs[o as usize])),
            }
        }
        code.copies = code.outputs.iter().map(|o| code.copy_of(o)).collect();
        code.computes = code.copies.iter().any(Option::is_none);
        code.nregs = alloc.next as usize;
        Ok(code)
    }

    /// The raw component output `out` is a plain copy of, if it is one.
    fn copy_of(&self, out: &Out) -> Option<u32> {
        let raw = |op: &Op, reg: Reg, shift: bool| match *op {
            Op::Input {
                d,
                src: Src::Raw(k),
                shift: s,
            } if d == reg && s == shift => Some(k),
            _ => None,
        };
        match *out {
            Out::Reg(r) => self
                .per_call
                .iter()
                .chain(&self.per_row)
                .chain(&self.ops)
                .find_map(|op| raw(op, r, false)),
            Out::Elem { l, k, o } => {
                let lp = &self.loops[l as usize];
                match (&lp.ops[..], lp.fused) {
                    ([op], None) => raw(op, lp.outs[o as usize], true).map(|k0| k0 + k),
                    _ => None,
                }
            }
            Out::Nf(_) => None,
        }
    }

    /// Files an instruction of the program by how often its value changes.
    fn place(&mut self, op: Op) {
        match op {
            Op::Const { .. }
            | Op::Input {
                src: Src::Pf(_),
                shift: false,
                ..
            } => self.per_call.push(op),
            Op::Input {
                src: Src::Of(_) | Src::RowHi | Src::RowLo,
                shift: false,
                ..
            } => self.per_row.push(op),
            _ => self.ops.push(op),
        }
    }

    /// Runs the whole program once (`N` packs): every part in order, then
    /// the loop bodies whose iterations are outputs.
    #[inline(always)]
    fn run_all<P: Pack, const N: usize>(&self, regs: &mut [[P; N]], env: &Env<'_, P>, npk: usize) {
        run_inputs(&self.per_call, regs, env, npk);
        run_inputs(&self.per_row, regs, env, npk);
        self.run_body(regs, env, npk);
    }

    /// Runs the per-pair instructions and copies the loop iterations that
    /// are outputs into their registers.
    #[inline(always)]
    fn run_body<P: Pack, const N: usize>(&self, regs: &mut [[P; N]], env: &Env<'_, P>, npk: usize) {
        run_ops(self, regs, env, npk);
        if self.elem_regs.is_empty() {
            return;
        }
        let mut e = 0;
        for out in &self.outputs {
            let Out::Elem { l, k, o } = *out else {
                continue;
            };
            let lp = &self.loops[l as usize];
            run_body_ops(&lp.ops, regs, env, k as usize, npk);
            let src = match (lp.fused, o) {
                (Some((a, b)), _) => {
                    let (x, y) = (regs[a as usize], regs[b as usize]);
                    core::array::from_fn(|p| x[p] * y[p])
                }
                (None, o) => regs[lp.outs[o as usize] as usize],
            };
            regs[self.elem_regs[e] as usize] = src;
            e += 1;
        }
    }

    /// The register of output `i` (after [`Code::run_body`]).
    fn output_reg(&self, i: usize) -> Reg {
        match self.outputs[i] {
            Out::Reg(r) => r,
            Out::Nf(_) => unreachable!("an inner feature output has no register"),
            Out::Elem { .. } => {
                let e = self.outputs[..i]
                    .iter()
                    .filter(|o| matches!(o, Out::Elem { .. }))
                    .count();
                self.elem_regs[e]
            }
        }
    }
}

/// What the input instructions read.
struct Env<'a, P: Pack> {
    raw: &'a [P::Elem],
    idx: &'a [usize],
    pf: &'a [P::Elem],
    of: &'a [P::Elem],
    /// Inner features: feature `k` of pack `p` at `nf[k * stride + p * LANES]`.
    nf: &'a [P::Elem],
    stride: usize,
    oi: &'a [usize],
    j0: usize,
    row_hi: P,
    row_lo: P,
    /// The row's long inner products ([`Op::Pre`]): slot `s` of pack `p` at
    /// `pre[s * pre_stride + p * LANES]`.
    pre: &'a [P::Elem],
    pre_stride: usize,
    /// The SIMD level running (for [`HeavyJob`]).
    level: SimdLevel,
}

// The element-wise instructions over `npk` packs. Macros, not functions
// taking closures: a closure is a function LLVM may compile apart, without
// the SIMD level's target features (see `run_ops`).
macro_rules! map1 {
    ($regs:expr, $d:expr, $a:expr, $npk:expr, |$x:ident| $e:expr) => {{
        let xs = $regs[$a as usize];
        let out = &mut $regs[$d as usize];
        for p in 0..$npk {
            let $x = xs[p];
            out[p] = $e;
        }
    }};
}

macro_rules! map2 {
    ($regs:expr, $d:expr, $a:expr, $b:expr, $npk:expr, |$x:ident, $y:ident| $e:expr) => {{
        let (xs, ys) = ($regs[$a as usize], $regs[$b as usize]);
        let out = &mut $regs[$d as usize];
        for p in 0..$npk {
            let ($x, $y) = (xs[p], ys[p]);
            out[p] = $e;
        }
    }};
}

macro_rules! map3 {
    ($regs:expr, $d:expr, $a:expr, $b:expr, $c:expr, $npk:expr, |$x:ident, $y:ident, $z:ident| $e:expr) => {{
        let (xs, ys, zs) = ($regs[$a as usize], $regs[$b as usize], $regs[$c as usize]);
        let out = &mut $regs[$d as usize];
        for p in 0..$npk {
            let ($x, $y, $z) = (xs[p], ys[p], zs[p]);
            out[p] = $e;
        }
    }};
}

/// Runs instructions over the first `npk` of `N` packs; loop bodies read
/// their inputs `shift` components further.
///
/// Everything the machine runs is inlined (`inline(always)`) into the
/// engine's function of the SIMD level (`simd::dispatch_at`): a function
/// compiled apart would not have the level's target features, and each
/// SIMD intrinsic in it would be a call.
#[inline(always)]
fn run_ops<P: Pack, const N: usize>(
    code: &Code,
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    npk: usize,
) {
    for op in &code.ops {
        match *op {
            Op::LoopSum { d, l } => {
                let acc = loop_sum(&code.loops[l as usize], regs, env, npk);
                regs[d as usize] = acc;
            }
            Op::Dot {
                d,
                first,
                len,
                sq,
                adds,
                neg,
            } => {
                let pairs = &code.dots[first as usize..(first + len) as usize];
                dot::run(regs, d, pairs, dot::Form { sq, adds, neg }, env, npk);
            }
            Op::Pre { d, slot } => {
                let at = slot as usize * env.pre_stride;
                for (p, r) in regs[d as usize][..npk].iter_mut().enumerate() {
                    *r = P::load(&env.pre[at + p * P::LANES..]);
                }
            }
            op => run_op(op, regs, env, 0, npk),
        }
    }
}

/// Runs inputs and constants (the instructions [`Code::place`] files as
/// per call or per row).
#[inline(always)]
fn run_inputs<P: Pack, const N: usize>(
    ops: &[Op],
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    npk: usize,
) {
    for &op in ops {
        match op {
            Op::Input { .. } | Op::Const { .. } => input_op(op, regs, env, 0, npk),
            _ => unreachable!("arithmetic among the inputs"),
        }
    }
}

/// Runs a loop body's instructions (scalar instructions only: bodies hold
/// no loops).
#[inline(always)]
fn run_body_ops<P: Pack, const N: usize>(
    ops: &[Op],
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    shift: usize,
    npk: usize,
) {
    for &op in ops {
        run_op(op, regs, env, shift, npk);
    }
}

/// Runs one instruction other than a loop.
#[inline(always)]
fn run_op<P: Pack, const N: usize>(
    op: Op,
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    shift: usize,
    npk: usize,
) {
    {
        match op {
            Op::Input { .. } | Op::Const { .. } => input_op(op, regs, env, shift, npk),
            Op::Un { d, op, a } => un(regs, d, op, a, npk, env.level),
            Op::Bin { d, op, a, b } => bin(regs, d, op, a, b, npk, env.level),
            Op::Tern { d, op, a, b, c } => match op {
                Tern::Clamp => map3!(regs, d, a, b, c, npk, |x, y, z| ops::clamp(x, y, z)),
                Tern::IfElse => map3!(regs, d, a, b, c, npk, |x, y, z| ops::ifelse(x, y, z)),
                Tern::Mod => map3!(regs, d, a, b, c, npk, |x, y, z| ops::modulo(x, y, z)),
            },
            Op::BinNf { d, op, a, k, left } => bin_nf(regs, d, op, a, k, left, env, npk),
            Op::Select { d, c, a, b } => {
                map3!(regs, d, c, a, b, npk, |x, y, z| ops::select(x, y, z))
            }
            Op::Fma { d, a, b, c } => map3!(regs, d, a, b, c, npk, |x, y, z| P::mul_add(x, y, z)),
            Op::LoopSum { .. } | Op::Dot { .. } | Op::Pre { .. } => {
                unreachable!("a loop inside a loop body")
            }
        }
    }
}

/// `a op nf[k]` (or `nf[k] op a`), the feature loaded where it is used.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn bin_nf<P: Pack, const N: usize>(
    regs: &mut [[P; N]],
    d: Reg,
    op: Bin,
    a: Reg,
    k: u32,
    left: bool,
    env: &Env<'_, P>,
    npk: usize,
) {
    let xs = regs[a as usize];
    let base = k as usize * env.stride;
    let nf = &env.nf[base..];
    let out = &mut regs[d as usize];
    macro_rules! go {
        ($f:expr) => {
            for p in 0..npk {
                let y = P::load(&nf[p * P::LANES..]);
                out[p] = if left { $f(y, xs[p]) } else { $f(xs[p], y) };
            }
        };
    }
    match op {
        Bin::Add => go!(|u: P, v: P| u + v),
        Bin::Sub => go!(|u: P, v: P| u - v),
        Bin::Mul => go!(|u: P, v: P| u * v),
        _ => go!(|u: P, v: P| u / v),
    }
}

/// Runs an input or constant instruction.
#[inline(always)]
fn input_op<P: Pack, const N: usize>(
    op: Op,
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    shift: usize,
    npk: usize,
) {
    match op {
        Op::Input { d, src, shift: s } => {
            let at = |k: u32| k as usize + if s { shift } else { 0 };
            let r = &mut regs[d as usize];
            match src {
                Src::Raw(k) => r[..npk].fill(P::splat(env.raw[at(k)])),
                Src::Pf(k) => r[..npk].fill(P::splat(env.pf[at(k)])),
                Src::Of(k) => r[..npk].fill(P::splat(env.of[at(k)])),
                Src::Nf(k) => {
                    let base = at(k) * env.stride;
                    for (p, v) in r[..npk].iter_mut().enumerate() {
                        *v = P::load(&env.nf[base + p * P::LANES..]);
                    }
                }
                Src::IdxHi(k) => r[..npk].fill(ops::index_hi(env.idx[k as usize])),
                Src::IdxLo(k) => r[..npk].fill(ops::index_lo(env.idx[k as usize])),
                Src::RowHi => r[..npk].fill(env.row_hi),
                Src::RowLo => r[..npk].fill(env.row_lo),
                Src::Match(k) => {
                    for (p, v) in r[..npk].iter_mut().enumerate() {
                        *v = ops::index_match(env.oi[k as usize], env.j0 + p * P::LANES);
                    }
                }
            }
        }
        Op::Const { d, c } => regs[d as usize][..npk].fill(ops::c(c)),
        _ => unreachable!("not an input"),
    }
}

/// The sum of a loop's body outputs, with the roundings of the scalarised
/// program (`keops_ir::lower::Accumulate`, as the compiled code).
#[inline(always)]
fn loop_sum<P: Pack, const N: usize>(
    lp: &LoopCode,
    regs: &mut [[P; N]],
    env: &Env<'_, P>,
    npk: usize,
) -> [P; N] {
    let len = lp.len as usize;
    let mut acc = regs[0];
    match lp.fused {
        Some((a, b)) => {
            run_body_ops(&lp.ops, regs, env, 0, npk);
            let (a0, b0) = (regs[a as usize], regs[b as usize]);
            let from = match lp.acc {
                Accumulate::Adds if len >= 2 => {
                    run_body_ops(&lp.ops, regs, env, 1, npk);
                    let (a1, b1) = (regs[a as usize], regs[b as usize]);
                    for p in 0..npk {
                        acc[p] = a0[p].mul_add(b0[p], a1[p] * b1[p]);
                    }
                    2
                }
                _ => {
                    for p in 0..npk {
                        acc[p] = a0[p] * b0[p];
                    }
                    1
                }
            };
            for k in from..len {
                run_body_ops(&lp.ops, regs, env, k, npk);
                let (x, y) = (regs[a as usize], regs[b as usize]);
                for p in 0..npk {
                    acc[p] = x[p].mul_add(y[p], acc[p]);
                }
            }
        }
        None => {
            let t = lp.outs[0] as usize;
            run_body_ops(&lp.ops, regs, env, 0, npk);
            acc = regs[t];
            for k in 1..len {
                run_body_ops(&lp.ops, regs, env, k, npk);
                let x = regs[t];
                for p in 0..npk {
                    acc[p] = acc[p] + x[p];
                }
            }
        }
    }
    acc
}

#[inline(always)]
fn un<P: Pack, const N: usize>(
    regs: &mut [[P; N]],
    d: Reg,
    op: Un,
    a: Reg,
    npk: usize,
    level: SimdLevel,
) {
    match op {
        Un::Neg => map1!(regs, d, a, npk, |x| -x),
        // The long routines are compiled once per SIMD level (see `heavy`).
        Un::Log
        | Un::Sin
        | Un::Cos
        | Un::Asin
        | Un::Acos
        | Un::Atan
        | Un::Tanh
        | Un::Sinh
        | Un::Cosh
        | Un::Erf
        | Un::Log1p
        | Un::Expm1
        | Un::XLogX
        | Un::SinXDivX
        | Un::SinXDivXDeriv => heavy(regs, d, Heavy::Un(op), a, a, npk, level),
        Un::Abs => map1!(regs, d, a, npk, |x| P::abs(x)),
        Un::Exp => map1!(regs, d, a, npk, |x| ops::exp(x)),
        Un::Sqrt => map1!(regs, d, a, npk, |x| P::sqrt(x)),
        Un::Floor => map1!(regs, d, a, npk, |x| P::floor(x)),
        Un::Round => map1!(regs, d, a, npk, |x| P::round(x)),
        Un::Rsqrt => map1!(regs, d, a, npk, |x| ops::rsqrt(x)),
        Un::Sign => map1!(regs, d, a, npk, |x| ops::sign(x)),
        Un::Step => map1!(regs, d, a, npk, |x| ops::step(x)),
        Un::Relu => map1!(regs, d, a, npk, |x| ops::relu(x)),
        Un::Inv => map1!(regs, d, a, npk, |x| ops::inv(x)),
        // Expanded by the lowering; computed plainly all the same.
        Un::Square => map1!(regs, d, a, npk, |x| x * x),
        Un::PowI(n) => map1!(regs, d, a, npk, |x| {
            let mut r = ops::c::<P>(1.0);
            for _ in 0..n.unsigned_abs() {
                r = r * x;
            }
            if n < 0 {
                ops::inv(r)
            } else {
                r
            }
        }),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn bin<P: Pack, const N: usize>(
    regs: &mut [[P; N]],
    d: Reg,
    op: Bin,
    a: Reg,
    b: Reg,
    npk: usize,
    level: SimdLevel,
) {
    match op {
        Bin::Add => map2!(regs, d, a, b, npk, |x, y| x + y),
        Bin::Sub => map2!(regs, d, a, b, npk, |x, y| x - y),
        Bin::Mul => map2!(regs, d, a, b, npk, |x, y| x * y),
        Bin::Div => map2!(regs, d, a, b, npk, |x, y| x / y),
        Bin::Powf | Bin::Atan2 => heavy(regs, d, Heavy::Bin(op), a, b, npk, level),
        Bin::Max => map2!(regs, d, a, b, npk, |x, y| ops::max(x, y)),
        Bin::Min => map2!(regs, d, a, b, npk, |x, y| ops::min(x, y)),
        Bin::Lt => map2!(regs, d, a, b, npk, |x, y| ops::lt(x, y)),
        Bin::Le => map2!(regs, d, a, b, npk, |x, y| ops::le(x, y)),
        Bin::Gt => map2!(regs, d, a, b, npk, |x, y| ops::gt(x, y)),
        Bin::Ge => map2!(regs, d, a, b, npk, |x, y| ops::ge(x, y)),
        Bin::Eq => map2!(regs, d, a, b, npk, |x, y| ops::eq(x, y)),
        Bin::Ne => map2!(regs, d, a, b, npk, |x, y| ops::ne(x, y)),
    }
}

/// The operations with long routines (transcendental functions but `exp`).
#[derive(Clone, Copy, Debug)]
enum Heavy {
    Un(Un),
    Bin(Bin),
}

/// `x = op(x, y)` lane by lane, compiled once per SIMD level and element
/// type (the executor's copies of the pair program, inlined several times
/// per level, would otherwise each hold every routine, unrolled over the
/// chunk's packs: a minute and a half of LLVM time for this crate).
struct HeavyJob<'b, T> {
    op: Heavy,
    x: &'b mut [T],
    y: &'b [T],
}

impl<T: Real> WithPack<T> for HeavyJob<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<Q: Pack<Elem = T>>(self) {
        let l = Q::LANES;
        let n = self.x.len() / l * l;
        let (xs, xt) = self.x.split_at_mut(n);
        let (ys, yt) = self.y.split_at(n);
        for (xc, yc) in xs.chunks_exact_mut(l).zip(ys.chunks_exact(l)) {
            apply(self.op, Q::load(xc), Q::load(yc)).store(xc);
        }
        for (x, &y) in xt.iter_mut().zip(yt) {
            *x = apply(self.op, *x, y);
        }
    }
}

#[inline(always)]
fn apply<Q: Pack>(op: Heavy, x: Q, y: Q) -> Q {
    match op {
        Heavy::Un(u) => match u {
            Un::Log => x.ln(),
            Un::Sin => x.sin(),
            Un::Cos => x.cos(),
            Un::Asin => x.asin(),
            Un::Acos => x.acos(),
            Un::Atan => x.atan(),
            Un::Tanh => x.tanh(),
            Un::Sinh => x.sinh(),
            Un::Cosh => x.cosh(),
            Un::Erf => x.erf(),
            Un::Log1p => x.ln_1p(),
            Un::Expm1 => x.exp_m1(),
            Un::XLogX => ops::xlogx(x),
            Un::SinXDivX => ops::sinxdivx(x),
            _ => ops::sinxdivx_deriv(x),
        },
        Heavy::Bin(Bin::Powf) => x.powf(y),
        Heavy::Bin(_) => x.atan2(y),
    }
}

/// Runs a [`Heavy`] operation on registers through [`HeavyJob`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn heavy<P: Pack, const N: usize>(
    regs: &mut [[P; N]],
    d: Reg,
    op: Heavy,
    a: Reg,
    b: Reg,
    npk: usize,
    level: SimdLevel,
) {
    let l = P::LANES;
    let zero = <P::Elem as Default>::default();
    let (mut xs, mut ys) = ([zero; NP * 16], [zero; NP * 16]);
    for p in 0..npk {
        regs[a as usize][p].store(&mut xs[p * l..]);
        regs[b as usize][p].store(&mut ys[p * l..]);
    }
    let job = HeavyJob {
        op,
        x: &mut xs[..npk * l],
        y: &ys[..npk * l],
    };
    simd::dispatch_at(level, job).expect("supported level");
    for p in 0..npk {
        regs[d as usize][p] = P::load(&xs[p * l..]);
    }
}

/// A stage built at run time, ready for the CPU engine.
#[derive(Debug)]
pub struct RtStage {
    info: &'static StageInfo,
    param: Code,
    outer: Code,
    inner: Code,
    pair: Code,
}

impl RtStage {
    /// The executor of a lowered stage described by `info` (its variables,
    /// reduction and feature counts, see [`stage_info`](crate::dynamic)).
    /// Errors on an instruction the executor does not run (the dot-product
    /// form, which run-time stages are never lowered to).
    pub fn new(info: &'static StageInfo, l: &Lowered) -> Result<RtStage, String> {
        let all = |p: &ScalarProg| Code::new(p, &p.outputs);
        let mut pair = if l.red == Red::Sum {
            let p = with_one(&l.pair);
            Code::new(&p, &factor_outputs(&p))?
        } else {
            all(&l.pair)?
        };
        dot::fuse(&mut pair);
        dot::read_in_place(&mut pair);
        dot::ahead(&mut pair);
        Ok(RtStage {
            info,
            param: all(&l.param)?,
            outer: all(&l.outer)?,
            inner: all(&l.inner)?,
            pair,
        })
    }

    /// The stage's description.
    pub fn info(&self) -> &'static StageInfo {
        self.info
    }
}

/// A sum stage's pair outputs as factor pairs `[a_0 .., b_0 ..]` with
/// `v_d = a_d * b_d` (what the engine's sum update reads): a product used
/// only as an output is not computed, its factors are accumulated with one
/// FMA, as in the compiled code; another value `v` is `v * 1`.
fn factor_outputs(prog: &ScalarProg) -> Vec<u32> {
    let uses = prog.use_counts();
    let one = prog
        .insts
        .iter()
        .position(|i| *i == Inst::Const(1f64.to_bits()));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for &o in &prog.outputs {
        match prog.insts[o as usize] {
            Inst::Bin(Bin::Mul, x, y) if uses[o as usize] == 1 => {
                a.push(x);
                b.push(y);
            }
            _ => {
                a.push(o);
                b.push(u32::MAX);
            }
        }
    }
    // (`with_one` added the constant 1 to the program.)
    let one = one.map_or(u32::MAX, |k| k as u32);
    a.extend(b.into_iter().map(|v| if v == u32::MAX { one } else { v }));
    a
}

/// A copy of `prog` that holds the constant 1 (for [`factor_outputs`]).
fn with_one(prog: &ScalarProg) -> ScalarProg {
    let mut p = prog.clone();
    if !p.insts.contains(&Inst::Const(1f64.to_bits())) {
        p.insts.push(Inst::Const(1f64.to_bits()));
    }
    p
}

/// Runs a scalar phase (`P = T`, one value) and writes its outputs; `regs`
/// has `code.nregs` registers. Compiled once per element type (the scalar
/// level needs no target features).
#[inline(never)]
fn run_scalar<T: Real>(code: &Code, env: &Env<'_, T>, regs: &mut [[T; 1]], out: &mut [T]) {
    if code.computes {
        code.run_all(regs, env, 1);
    }
    // (Loop elements are the outputs in order: counted as they come, not
    // with `output_reg`, which counts from the start for each.)
    let mut elems = code.elem_regs.iter();
    for ((o, out), copy) in out.iter_mut().zip(&code.outputs).zip(&code.copies) {
        if let Some(k) = copy {
            if matches!(out, Out::Elem { .. }) {
                elems.next();
            }
            *o = env.raw[*k as usize];
            continue;
        }
        let r = match *out {
            Out::Reg(r) => r,
            Out::Elem { .. } => *elems.next().expect("one register per loop element"),
            Out::Nf(_) => unreachable!("a scalar phase reads no inner feature"),
        };
        *o = regs[r as usize][0];
    }
}

fn scalar_env<'a, T: Real>(raw: &'a [T], idx: &'a [usize], pf: &'a [T]) -> Env<'a, T> {
    Env {
        raw,
        idx,
        pf,
        of: &[],
        nf: &[],
        stride: 0,
        oi: &[],
        j0: 0,
        row_hi: T::default(),
        row_lo: T::default(),
        pre: &[],
        pre_stride: 0,
        level: SimdLevel::Scalar,
    }
}

impl<T: Real> StageKernels<T> for RtStage {
    fn info(&self) -> &'static StageInfo {
        self.info
    }

    fn group(&self) -> usize {
        1
    }

    fn rerank_needed(&self) -> bool {
        false
    }

    fn param(&self, raw_p: &[T], pf: &mut [T]) {
        let mut regs = vec![[T::default(); 1]; self.param.nregs];
        run_scalar(&self.param, &scalar_env(raw_p, &[], &[]), &mut regs, pf);
    }

    fn inner_tile(
        &self,
        _level: SimdLevel,
        a: &Args<'_, T>,
        pf: &[T],
        chunk: &mut [T],
        start: usize,
        end: usize,
        tile: usize,
    ) {
        let info = self.info;
        let mut raw = vec![T::default(); info.raw_inner];
        let mut idx = vec![0usize; info.idx_inner];
        let mut nf = vec![T::default(); info.nnf];
        let mut regs = vec![[T::default(); 1]; self.inner.nregs];
        for j in start..end {
            gather_row(&mut raw, &a.inner_real, j);
            gather_row(&mut idx, &a.inner_idx, j);
            let env = scalar_env(&raw, &idx, pf);
            run_scalar(&self.inner, &env, &mut regs, &mut nf);
            let l = j - start;
            for (k, v) in nf.iter().enumerate() {
                chunk[k * tile + l] = *v;
            }
        }
    }

    fn block(
        &self,
        level: SimdLevel,
        ctx: &BlockCtx<'_, '_, T>,
        pf: &[T],
        rows: Range<usize>,
        spans: &[Range<usize>],
        states: &mut [f64],
    ) {
        let job = RtBlock {
            level,
            st: self,
            ctx,
            pf,
            rows,
            spans,
            states,
        };
        simd::dispatch_at(level, job).expect("supported level");
    }

    fn rerank(&self, _a: &Args<'_, T>, _raw_p: &[T], _row: usize, _st: &mut [f64]) {}
}

/// One work item of a run-time stage.
struct RtBlock<'c, 'a, 'b, T: Real> {
    level: SimdLevel,
    st: &'c RtStage,
    ctx: &'c BlockCtx<'a, 'b, T>,
    pf: &'c [T],
    rows: Range<usize>,
    spans: &'c [Range<usize>],
    states: &'c mut [f64],
}

impl<T: Real> WithPack<T> for RtBlock<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        rt_block::<T, P>(self);
    }
}

/// The reduction update of a stage of kind `kind` (`reduce::kind_of`): a
/// branch per pack, well predicted, rather than one copy of the executor
/// per reduction kind.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update<P: Pack>(
    kind: u8,
    info: &StageInfo,
    kahan: bool,
    acc: &mut [P],
    out: &[P],
    jl: P,
    valid: Option<P::Mask>,
    tau: &[P],
) {
    use reduce::{update as up, *};
    match kind {
        KIND_SUM => up::<RedKind<KIND_SUM>, P>(info, kahan, acc, out, jl, valid, tau),
        KIND_LSE => up::<RedKind<KIND_LSE>, P>(info, kahan, acc, out, jl, valid, tau),
        KIND_LSE_WEIGHT => up::<RedKind<KIND_LSE_WEIGHT>, P>(info, kahan, acc, out, jl, valid, tau),
        KIND_SOFTMAX => up::<RedKind<KIND_SOFTMAX>, P>(info, kahan, acc, out, jl, valid, tau),
        KIND_MIN => up::<RedKind<KIND_MIN>, P>(info, kahan, acc, out, jl, valid, tau),
        KIND_MAX => up::<RedKind<KIND_MAX>, P>(info, kahan, acc, out, jl, valid, tau),
        _ => up::<RedKind<KIND_KMIN>, P>(info, kahan, acc, out, jl, valid, tau),
    }
}

/// The rows of a work item, for the input instructions.
struct BlockRows<'e, T> {
    level: SimdLevel,
    pf: &'e [T],
    of: &'e [T],
    oi: &'e [usize],
    nof: usize,
    nio: usize,
    start: usize,
    tile: usize,
}

impl<'e, T: Real> BlockRows<'e, T> {
    /// The inputs of row `q` of the block, for the pack of reduced indices
    /// starting at `j0` whose features start at `nf`.
    #[inline(always)]
    fn env<P: Pack<Elem = T>>(&self, q: usize, nf: &'e [T], j0: usize) -> Env<'e, P> {
        self.env_pre(q, nf, j0, &[], 0)
    }

    /// [`BlockRows::env`] with the row's long inner products (`pre`, slots
    /// `pre_stride` apart).
    #[inline(always)]
    fn env_pre<P: Pack<Elem = T>>(
        &self,
        q: usize,
        nf: &'e [T],
        j0: usize,
        pre: &'e [T],
        pre_stride: usize,
    ) -> Env<'e, P> {
        let r = self.start + q;
        Env {
            raw: &[],
            idx: &[],
            pf: self.pf,
            of: &self.of[q * self.nof..(q + 1) * self.nof],
            nf,
            stride: self.tile,
            oi: &self.oi[q * self.nio..(q + 1) * self.nio],
            j0,
            row_hi: P::splat(T::from_usize(r >> 16)),
            row_lo: P::splat(T::from_usize(r & 0xffff)),
            pre,
            pre_stride,
            level: self.level,
        }
    }
}

/// Independent log-sum-exp states per lane over the whole chunks of a tile
/// piece (see `rt_block`): the chunk's 8 updates are then 4 short chains of
/// exponentials rather than one long one.
const PARTS: usize = 4;

/// Where the pair loop reads an output of the pair program.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// A register.
    Reg(usize),
    /// The inner features at this offset in the tile piece.
    Nf(usize),
}

impl Pick {
    /// The output's value for pack `p` of the chunk.
    #[inline(always)]
    fn pack<P: Pack>(self, regs: &[[P; NP]], nf: &[P::Elem], p: usize) -> P {
        match self {
            Pick::Reg(r) => regs[r][p],
            Pick::Nf(at) => P::load(&nf[at + p * P::LANES..]),
        }
    }
}

/// The pair loop of a run-time stage: per row, per tile piece, chunks of
/// `NP` packs through the pair program, then the reduction update of each
/// pack (the layout of states, flushes and K-list bounds as in the compiled
/// engine's `process_block`).
#[inline(always)]
fn rt_block<T: Real, P: Pack<Elem = T>>(job: RtBlock<'_, '_, '_, T>) {
    let RtBlock {
        level,
        st,
        ctx,
        pf,
        rows,
        spans,
        states,
    } = job;
    let info = st.info;
    let acc_len = info.acc;
    let lanes = P::LANES;
    let tile = ctx.tile;
    let nnf = info.nnf;
    let code = &st.pair;
    let nout = code.outputs.len();
    let outs: Vec<Pick> = (0..nout)
        .map(|i| match code.outputs[i] {
            Out::Nf(k) => Pick::Nf(k as usize * tile),
            _ => Pick::Reg(code.output_reg(i) as usize),
        })
        .collect();
    let zero = P::splat(T::default());
    let kind = reduce::kind_of(info.red);
    let (is_sum, is_kmin) = (kind == reduce::KIND_SUM, kind == reduce::KIND_KMIN);
    let block_sum = is_sum && ctx.block_flush;
    let fused_sum = is_sum && !ctx.kahan;
    let lse1 = kind == reduce::KIND_LSE && info.fdim == 1;
    let one = P::splat(T::from_f64(1.0));

    // Outer features and indices of the rows.
    let mut of = vec![T::default(); rows.len() * info.nof];
    let mut oi = vec![0usize; rows.len() * info.idx_outer];
    {
        let mut raw = vec![T::default(); info.raw_outer];
        let mut regs = vec![[T::default(); 1]; st.outer.nregs];
        for (q, r) in rows.clone().enumerate() {
            gather_row(&mut raw, &ctx.a.outer_real, r);
            let of_q = &mut of[q * info.nof..(q + 1) * info.nof];
            run_scalar(&st.outer, &scalar_env(&raw, &[], pf), &mut regs, of_q);
            gather_row(
                &mut oi[q * info.idx_outer..(q + 1) * info.idx_outer],
                &ctx.a.outer_idx,
                r,
            );
        }
    }
    let mut lane_states = vec![zero; rows.len() * acc_len];
    for (q, r) in lane_states.chunks_mut(acc_len.max(1)).enumerate() {
        if q < rows.len() {
            reduce::init_lanes(info, r);
        }
    }
    for k in 0..rows.len() {
        reduce::init_row(info, &mut states[k * acc_len..(k + 1) * acc_len]);
    }
    let mut taus = vec![P::splat(T::INFINITY); if is_kmin { rows.len() * nout } else { 0 }];
    let mut regs = vec![[zero; NP]; code.nregs];
    let mut out = vec![zero; nout];
    // Long inner products of a group of rows for a tile piece: room for the
    // piece and a chunk past it (tail chunks are computed whole).
    let pre_stride = tile + NP * lanes;
    let mut pre = vec![T::default(); dot::GROUP * code.pre.len() * pre_stride];
    let mut group_of = vec![
        T::default();
        if code.pre.is_empty() {
            0
        } else {
            dot::GROUP * info.nof
        }
    ];
    let block_rows = BlockRows {
        level,
        pf,
        of: &of,
        oi: &oi,
        nof: info.nof,
        nio: info.idx_outer,
        start: rows.start,
        tile,
    };
    {
        let env = block_rows.env::<P>(0, &[], 0);
        run_inputs(&code.per_call, &mut regs, &env, NP);
    }

    let mut base = spans.first().map_or(0, |s| s.start / tile * tile);
    let mut count = 0usize;
    let mut since_flush = 0usize;
    for (si, span) in spans.iter().enumerate() {
        let mut a = span.start;
        while a < span.end {
            let t = a / tile;
            let t0 = t * tile;
            let b = span.end.min(t0 + tile);
            if b - base > MAX_SEGMENT {
                for k in 0..rows.len() {
                    reduce::flush(
                        info,
                        &mut lane_states[k * acc_len..(k + 1) * acc_len],
                        &mut states[k * acc_len..(k + 1) * acc_len],
                        base,
                    );
                }
                base = t0;
            }
            let last = si + 1 == spans.len() && b == span.end;
            since_flush += b - a;
            let tile_flush = block_sum && (since_flush >= BLOCK_FLUSH || last);
            if tile_flush {
                since_flush = 0;
            }
            let tile_data = &ctx.soa[t * tile * nnf..];
            for q in 0..rows.len() {
                // The long inner products of the group of rows starting here.
                if !code.pre.is_empty() && q % dot::GROUP == 0 {
                    let last = rows.len() - 1;
                    for (o, x) in group_of.chunks_exact_mut(dot::GROUP).enumerate() {
                        for (g, x) in x.iter_mut().enumerate() {
                            *x = of[(q + g).min(last) * info.nof + o];
                        }
                    }
                    let ahead = dot::Ahead {
                        ofs: &group_of,
                        nf: &tile_data[a - t0..],
                        stride: tile,
                        len: b - a,
                    };
                    dot::precompute::<P>(&code.pre, &code.dots, &ahead, &mut pre, pre_stride);
                }
                let pre_row = &pre[(q % dot::GROUP) * code.pre.len() * pre_stride..];
                let env = block_rows.env::<P>(q, &[], 0);
                run_inputs(&code.per_row, &mut regs, &env, NP);
                let ls = &mut lane_states[q * acc_len..(q + 1) * acc_len];
                let tau = if is_kmin {
                    &taus[q * nout..(q + 1) * nout]
                } else {
                    &[][..]
                };
                // Log-sum-exp of one component over whole chunks: four
                // independent states per lane (packs p mod 4), so that the
                // chunk's updates are not one chain of exponentials; merged
                // into the lane state after the piece.
                let mut lse_parts = [(P::splat(T::NEG_INFINITY), zero); PARTS];
                let mut j = a;
                while j < b {
                    let left = b - j;
                    let nf = tile_data.get(j - t0..).unwrap_or(&[]);
                    let pre = pre_row.get(j - a..).unwrap_or(&[]);
                    let env = block_rows.env_pre::<P>(q, nf, j, pre, pre_stride);
                    // A chunk of NP packs; lanes past the piece's end (which
                    // read the next features or the padding) are discarded.
                    code.run_body(&mut regs, &env, NP);
                    if fused_sum && left >= NP * lanes {
                        // A sum over a whole chunk: one FMA per pack and
                        // component, as the compiled `pair_sum`.
                        let fdim = info.fdim;
                        for (dd, st) in ls[..fdim].iter_mut().enumerate() {
                            let (fa, fb) = (outs[dd], outs[fdim + dd]);
                            for p in 0..NP {
                                let (x, y) = (fa.pack(&regs, nf, p), fb.pack(&regs, nf, p));
                                *st = x.mul_add(y, *st);
                            }
                        }
                        j += NP * lanes;
                        continue;
                    }
                    if lse1 && left >= NP * lanes {
                        for p in 0..NP {
                            let (m, s) = &mut lse_parts[p % PARTS];
                            reduce::lse_step(m, &mut [(s, one)], outs[0].pack(&regs, nf, p));
                        }
                        j += NP * lanes;
                        continue;
                    }
                    for p in 0..NP {
                        let jp = j + p * lanes;
                        if jp >= b {
                            break;
                        }
                        for (o, src) in out.iter_mut().zip(&outs) {
                            *o = src.pack(&regs, nf, p);
                        }
                        let jl = P::splat(T::from_usize(jp - base)) + P::iota();
                        let mask = (b - jp < lanes).then(|| P::first_n(b - jp));
                        update::<P>(kind, info, ctx.kahan, ls, &out, jl, mask, tau);
                    }
                    j += (NP * lanes).min(left);
                }
                if lse1 {
                    let (m, rest) = ls.split_at_mut(1);
                    for (pm, ps) in lse_parts {
                        reduce::lse_step(&mut m[0], &mut [(&mut rest[0], ps)], pm);
                    }
                }
                if tile_flush {
                    reduce::flush(info, ls, &mut states[q * acc_len..(q + 1) * acc_len], base);
                }
            }
            if is_kmin && (count + 1).is_power_of_two() {
                for q in 0..rows.len() {
                    reduce::kmin_bound(
                        info,
                        &lane_states[q * acc_len..(q + 1) * acc_len],
                        &mut taus[q * nout..(q + 1) * nout],
                    );
                }
            }
            count += 1;
            a = b;
        }
    }
    for k in 0..rows.len() {
        reduce::flush(
            info,
            &mut lane_states[k * acc_len..(k + 1) * acc_len],
            &mut states[k * acc_len..(k + 1) * acc_len],
            base,
        );
    }
}
