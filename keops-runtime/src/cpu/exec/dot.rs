//! Inner products over features as one instruction ([`Op::Dot`]): the
//! squared distances and scalar products that dominate most pair programs
//! (`sqdist(x, y)`, `(x | y)`, `norm2(x - y)`, ...).
//!
//! The lowering writes `sum_k (x_k - y_k)^2` as a chain of `D` differences
//! and `D` multiply-adds (or a loop of them above 32 components); run one
//! instruction at a time, each reads and writes its registers in memory.
//! [`fuse`] finds such chains over an outer feature `x_k` and an inner
//! feature `y_k` and replaces them by one instruction that keeps the sum in
//! a SIMD register per pack, reading `x_k` (broadcast) and `y_k` where they
//! are used: the loop a compiled kernel runs. The terms are added in the
//! chain's order with the same roundings, so the values do not change.

use std::collections::HashMap;

use keops_ir::ir::{Bin, Un};
use keops_ir::lower::Accumulate;

use super::{Code, Env, LoopCode, Op, Out, Reg, Src};
use crate::simd::Pack;

/// The registers an instruction reads.
fn sources(op: &Op) -> Vec<Reg> {
    match *op {
        Op::Input { .. }
        | Op::Const { .. }
        | Op::LoopSum { .. }
        | Op::Dot { .. }
        | Op::Pre { .. } => vec![],
        Op::BinNf { a, .. } | Op::Un { a, .. } => vec![a],
        Op::Bin { a, b, .. } => vec![a, b],
        Op::Tern { a, b, c, .. }
        | Op::Select {
            c: a, a: b, b: c, ..
        }
        | Op::Fma { a, b, c, .. } => {
            vec![a, b, c]
        }
    }
}

/// Uses of each register: operands (loop bodies included), fused loop
/// products, loop outputs and program outputs.
fn uses(code: &Code) -> Vec<usize> {
    let mut u = vec![0usize; code.nregs];
    let ops = code.per_call.iter().chain(&code.per_row).chain(&code.ops);
    for r in ops.flat_map(sources) {
        u[r as usize] += 1;
    }
    for lp in &code.loops {
        for r in lp
            .ops
            .iter()
            .flat_map(sources)
            .chain(lp.outs.iter().copied())
        {
            u[r as usize] += 1;
        }
        if let Some((a, b)) = lp.fused {
            u[a as usize] += 1;
            u[b as usize] += 1;
        }
    }
    for o in &code.outputs {
        if let Out::Reg(r) = *o {
            u[r as usize] += 1;
        }
    }
    u
}

/// A term `(x_o - y_n)^2` (`sq`) or `x_o * y_n`, and the instructions
/// that only compute it.
struct Term {
    pair: (u32, u32),
    sq: bool,
    dead: Option<usize>,
}

/// What the registers of the pair program hold.
struct Facts {
    uses: Vec<usize>,
    /// Outer feature `o` (a per-row input).
    of: HashMap<Reg, u32>,
    /// Inner feature `n`, read by instruction `i`.
    nf: HashMap<Reg, (u32, usize)>,
    /// `x_o - y_n`, computed by instruction `i`.
    diff: HashMap<Reg, (u32, u32, usize)>,
}

impl Facts {
    fn new(code: &Code) -> Facts {
        let mut f = Facts {
            uses: uses(code),
            of: HashMap::new(),
            nf: HashMap::new(),
            diff: HashMap::new(),
        };
        for op in &code.per_row {
            if let Op::Input {
                d,
                src: Src::Of(o),
                shift: false,
            } = *op
            {
                f.of.insert(d, o);
            }
        }
        for (i, op) in code.ops.iter().enumerate() {
            match *op {
                Op::Input {
                    d,
                    src: Src::Nf(n),
                    shift: false,
                } => {
                    f.nf.insert(d, (n, i));
                }
                Op::BinNf {
                    d,
                    op: Bin::Sub,
                    a,
                    k,
                    ..
                } => {
                    if let Some(&o) = f.of.get(&a) {
                        f.diff.insert(d, (o, k, i));
                    }
                }
                _ => {}
            }
        }
        f
    }

    /// The term of the product `a * b`, if it is one.
    fn term(&self, a: Reg, b: Reg) -> Option<Term> {
        if a == b {
            let &(o, n, i) = self.diff.get(&a)?;
            return (self.uses[a as usize] == 2).then_some(Term {
                pair: (o, n),
                sq: true,
                dead: Some(i),
            });
        }
        let (o, (n, i), r) = match (self.of.get(&a), self.nf.get(&b)) {
            (Some(&o), Some(&n)) => (o, n, b),
            _ => match (self.of.get(&b), self.nf.get(&a)) {
                (Some(&o), Some(&n)) => (o, n, a),
                _ => return None,
            },
        };
        Some(Term {
            pair: (o, n),
            sq: false,
            dead: (self.uses[r as usize] == 1).then_some(i),
        })
    }
}

/// A chain of terms being collected.
struct Chain {
    value: Reg,
    sq: bool,
    pairs: Vec<(u32, u32)>,
    /// Its instructions (the last one becomes the [`Op::Dot`]).
    ops: Vec<usize>,
    dead: Vec<usize>,
}

/// Replaces the chains of products and multiply-adds over outer and inner
/// features in `code.ops` (and the loops of them) by [`Op::Dot`]
/// instructions.
pub(super) fn fuse(code: &mut Code) {
    let facts = Facts::new(code);
    let mut chains: Vec<Chain> = Vec::new();
    let mut open: HashMap<Reg, usize> = HashMap::new();
    for (i, op) in code.ops.iter().enumerate() {
        let (d, t, c) = match *op {
            Op::Bin {
                d,
                op: Bin::Mul,
                a,
                b,
            } => (d, facts.term(a, b), None),
            Op::BinNf {
                d,
                op: Bin::Mul,
                a,
                k,
                ..
            } => match facts.of.get(&a) {
                Some(&o) => (
                    d,
                    Some(Term {
                        pair: (o, k),
                        sq: false,
                        dead: None,
                    }),
                    None,
                ),
                None => continue,
            },
            Op::Fma { d, a, b, c } => (d, facts.term(a, b), Some(c)),
            _ => continue,
        };
        let Some(t) = t else { continue };
        let extend = c.and_then(|c| {
            let ci = *open.get(&c)?;
            (facts.uses[c as usize] == 1 && chains[ci].sq == t.sq).then_some((c, ci))
        });
        match (c, extend) {
            (Some(_), Some((c, ci))) => {
                open.remove(&c);
                open.insert(d, ci);
                let ch = &mut chains[ci];
                ch.value = d;
                ch.pairs.push(t.pair);
                ch.ops.push(i);
                ch.dead.extend(t.dead);
            }
            (Some(_), None) => {}
            (None, _) => {
                open.insert(d, chains.len());
                chains.push(Chain {
                    value: d,
                    sq: t.sq,
                    pairs: vec![t.pair],
                    ops: vec![i],
                    dead: t.dead.into_iter().collect(),
                });
            }
        }
    }
    let mut replace: HashMap<usize, Op> = HashMap::new();
    let mut removed = vec![false; code.ops.len()];
    for ch in chains.iter().filter(|c| c.pairs.len() >= 2) {
        let last = *ch.ops.last().expect("a chain has instructions");
        for &i in ch.ops.iter().chain(&ch.dead) {
            removed[i] = true;
        }
        replace.insert(
            last,
            dot_op(&mut code.dots, ch.value, &ch.pairs, ch.sq, false),
        );
    }
    for (i, op) in code.ops.iter().enumerate() {
        if let Op::LoopSum { d, l } = *op {
            if let Some(t) = loop_terms(&code.loops[l as usize]) {
                replace.insert(i, dot_op(&mut code.dots, d, &t.pairs, t.sq, t.adds));
            }
        }
    }
    let ops = std::mem::take(&mut code.ops);
    code.ops = ops
        .into_iter()
        .enumerate()
        .filter_map(|(i, op)| match replace.remove(&i) {
            Some(dot) => Some(dot),
            None => (!removed[i]).then_some(op),
        })
        .collect();
    fold_negations(code);
    drop_unused_inputs(code);
}

/// Outputs that are inner features used nowhere else are read from the
/// tile where the reduction uses them ([`Out::Nf`]), not copied to a
/// register first.
pub(super) fn read_in_place(code: &mut Code) {
    let facts = Facts::new(code);
    for out in &mut code.outputs {
        if let Out::Reg(r) = *out {
            if let Some(&(n, _)) = facts.nf.get(&r) {
                if facts.uses[r as usize] == 1 {
                    *out = Out::Nf(n);
                }
            }
        }
    }
    drop_unused_inputs(code);
}

/// `-dot` with the sum used only there: one negated [`Op::Dot`] (the
/// negation is exact, so the value does not change).
fn fold_negations(code: &mut Code) {
    let u = uses(code);
    let mut dot_at: HashMap<Reg, usize> = HashMap::new();
    let mut removed = vec![false; code.ops.len()];
    for i in 0..code.ops.len() {
        match code.ops[i] {
            Op::Dot { d, .. } => {
                dot_at.insert(d, i);
            }
            Op::Un {
                d: nd,
                op: Un::Neg,
                a,
            } if u[a as usize] == 1 => {
                if let Some(&k) = dot_at.get(&a) {
                    if let Op::Dot { d, neg, .. } = &mut code.ops[k] {
                        *d = nd;
                        *neg = !*neg;
                    }
                    removed[i] = true;
                    dot_at.remove(&a);
                    dot_at.insert(nd, k);
                }
            }
            _ => {}
        }
    }
    let mut k = 0;
    code.ops.retain(|_| {
        k += 1;
        !removed[k - 1]
    });
}

/// An [`Op::Dot`] over `pairs`, which are appended to `dots`.
fn dot_op(dots: &mut Vec<(u32, u32)>, d: Reg, pairs: &[(u32, u32)], sq: bool, adds: bool) -> Op {
    let first = dots.len() as u32;
    dots.extend_from_slice(pairs);
    Op::Dot {
        d,
        first,
        len: pairs.len() as u32,
        sq,
        adds,
        neg: false,
    }
}

/// The terms of a loop sum over `x_{o+k}` and `y_{n+k}` (fused product of
/// the two, or of their difference with itself).
fn loop_terms(lp: &LoopCode) -> Option<LoopDot> {
    let (fa, fb) = lp.fused?;
    let (mut of, mut nf) = (None, None);
    let mut diff = None;
    for op in &lp.ops {
        match *op {
            Op::Input {
                d,
                src: Src::Of(o),
                shift: true,
            } => of = Some((d, o)),
            Op::Input {
                d,
                src: Src::Nf(n),
                shift: true,
            } => nf = Some((d, n)),
            Op::Bin {
                d,
                op: Bin::Sub,
                a,
                b,
            } => diff = Some((d, a, b)),
            _ => return None,
        }
    }
    let ((ro, o), (rn, n)) = (of?, nf?);
    let sq = match diff {
        Some((t, a, b)) if fa == t && fb == t && ((a, b) == (ro, rn) || (a, b) == (rn, ro)) => true,
        None if (fa, fb) == (ro, rn) || (fa, fb) == (rn, ro) => false,
        _ => return None,
    };
    Some(LoopDot {
        sq,
        pairs: (0..lp.len).map(|k| (o + k, n + k)).collect(),
        adds: lp.acc == Accumulate::Adds,
    })
}

/// The terms of a loop that [`loop_terms`] recognises.
struct LoopDot {
    sq: bool,
    pairs: Vec<(u32, u32)>,
    adds: bool,
}

/// Removes the inputs whose registers nothing reads any more.
fn drop_unused_inputs(code: &mut Code) {
    let u = uses(code);
    let keep = |op: &Op| match *op {
        Op::Input { d, .. } | Op::Const { d, .. } => u[d as usize] > 0,
        _ => true,
    };
    code.per_call.retain(keep);
    code.per_row.retain(keep);
    code.ops.retain(keep);
}

/// How an [`Op::Dot`] computes its terms and sum.
#[derive(Clone, Copy, Debug)]
pub(super) struct Form {
    /// `(x - y)^2` (else `x * y`).
    pub sq: bool,
    /// The first two terms added as [`Accumulate::Adds`] does.
    pub adds: bool,
    /// The sum negated.
    pub neg: bool,
}

/// Runs an [`Op::Dot`] over `npk` packs. For a whole chunk (`npk == N`),
/// term by term over the `N` packs: `N` independent sums in registers,
/// which hides the latency of the multiply-adds; otherwise pack by pack.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn run<P: Pack, const N: usize>(
    regs: &mut [[P; N]],
    d: Reg,
    pairs: &[(u32, u32)],
    form: Form,
    env: &Env<'_, P>,
    npk: usize,
) {
    let Form { sq, adds, neg } = form;
    let (of, nf, stride) = (env.of, env.nf, env.stride);
    // The factors of term `(o, n)` for pack `p`.
    macro_rules! term {
        ($pair:expr, $p:expr, |$x:ident, $y:ident| $a:expr, $b:expr) => {{
            let (o, n) = $pair;
            let $x = P::splat(of[o as usize]);
            let $y = P::load(&nf[n as usize * stride + $p * P::LANES..]);
            ($a, $b)
        }};
    }
    macro_rules! go {
        (|$x:ident, $y:ident| $a:expr, $b:expr) => {{
            let two = adds && pairs.len() >= 2;
            let from = if two { 2 } else { 1 };
            if npk == N {
                let mut acc = [P::splat(Default::default()); N];
                for (p, acc) in acc.iter_mut().enumerate() {
                    let (a0, b0) = term!(pairs[0], p, |$x, $y| $a, $b);
                    *acc = if two {
                        let (a1, b1) = term!(pairs[1], p, |$x, $y| $a, $b);
                        a0.mul_add(b0, a1 * b1)
                    } else {
                        a0 * b0
                    };
                }
                for &pair in &pairs[from..] {
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let (a, b) = term!(pair, p, |$x, $y| $a, $b);
                        *acc = a.mul_add(b, *acc);
                    }
                }
                if neg {
                    for a in &mut acc {
                        *a = -*a;
                    }
                }
                regs[d as usize] = acc;
            } else {
                for p in 0..npk {
                    let (a0, b0) = term!(pairs[0], p, |$x, $y| $a, $b);
                    let mut acc = if two {
                        let (a1, b1) = term!(pairs[1], p, |$x, $y| $a, $b);
                        a0.mul_add(b0, a1 * b1)
                    } else {
                        a0 * b0
                    };
                    for &pair in &pairs[from..] {
                        let (a, b) = term!(pair, p, |$x, $y| $a, $b);
                        acc = a.mul_add(b, acc);
                    }
                    regs[d as usize][p] = if neg { -acc } else { acc };
                }
            }
        }};
    }
    if sq {
        go!(|x, y| x - y, x - y);
    } else {
        go!(|x, y| x, y);
    }
}

/// Rows per group whose long inner products are computed together.
pub(super) const GROUP: usize = 4;

/// The shortest inner product computed ahead for groups of rows: above
/// this many features a tile's features no longer stay in L1 (256 indices
/// by 33 features of f32 are 33 KiB), and reading them once per group of
/// rows rather than once per row is what keeps the multiply-adds fed.
pub(super) const AHEAD_MIN: u32 = 32;

/// A long inner product computed ahead ([`Op::Pre`]): the pairs
/// `Code::dots[first..first + len]` in form `form`.
#[derive(Clone, Copy, Debug)]
pub(super) struct PreDot {
    first: u32,
    len: u32,
    form: Form,
}

/// Turns the [`Op::Dot`] of at least [`AHEAD_MIN`] terms into
/// [`Op::Pre`]: computed by [`precompute`] for groups of [`GROUP`] rows.
pub(super) fn ahead(code: &mut Code) {
    for op in &mut code.ops {
        if let Op::Dot {
            d,
            first,
            len,
            sq,
            adds,
            neg,
        } = *op
        {
            if len >= AHEAD_MIN {
                let slot = code.pre.len() as u32;
                code.pre.push(PreDot {
                    first,
                    len,
                    form: Form { sq, adds, neg },
                });
                *op = Op::Pre { d, slot };
            }
        }
    }
}

/// Where [`precompute`] reads and writes.
pub(super) struct Ahead<'a, T> {
    /// The outer features of the group's rows, feature-major: feature `o`
    /// of row `g` at `ofs[o * GROUP + g]` (the last row repeated when the
    /// group is not full), so that one pointer serves the group.
    pub ofs: &'a [T],
    /// The inner features of the tile piece: feature `n` of index `j` at
    /// `nf[n * stride + j]`.
    pub nf: &'a [T],
    pub stride: usize,
    /// Indices in the piece.
    pub len: usize,
}

/// Computes the long inner products of a group of rows for a tile piece:
/// `GROUP` rows by `B` packs of indices at a time, each inner feature pack
/// loaded once for the group (`GROUP * B` sums in registers), the terms in
/// the order and roundings of [`run`].
/// Row `g`, slot `s`, index `j` go to `out[(g * pre.len() + s) * out_stride
/// + j]` (`out_stride >= len + B * LANES`).
#[inline(always)]
pub(super) fn precompute<P: Pack>(
    pre: &[PreDot],
    dots: &[(u32, u32)],
    a: &Ahead<'_, P::Elem>,
    out: &mut [P::Elem],
    out_stride: usize,
) {
    for (s, pd) in pre.iter().enumerate() {
        let pairs = &dots[pd.first as usize..(pd.first + pd.len) as usize];
        let o = SlotOut {
            out: &mut *out,
            stride: out_stride,
            at: s,
            slots: pre.len(),
        };
        match (P::LANES >= 16, pd.form.sq) {
            (true, true) => group_block::<P, 4, true>(pairs, pd.form, a, o),
            (true, false) => group_block::<P, 4, false>(pairs, pd.form, a, o),
            (false, true) => group_block::<P, 2, true>(pairs, pd.form, a, o),
            (false, false) => group_block::<P, 2, false>(pairs, pd.form, a, o),
        }
    }
}

/// Where [`group_block`] writes: slot `at` of `slots` per row.
struct SlotOut<'o, T> {
    out: &'o mut [T],
    stride: usize,
    at: usize,
    slots: usize,
}

/// Slot `s` of [`precompute`], `B` packs at a time, squared differences
/// (`SQ`) or products.
#[inline(always)]
fn group_block<P: Pack, const B: usize, const SQ: bool>(
    pairs: &[(u32, u32)],
    form: Form,
    a: &Ahead<'_, P::Elem>,
    o: SlotOut<'_, P::Elem>,
) {
    let lanes = P::LANES;
    // `fma(a0, b0, a1 * b1)` (`adds`) is term 1 first, then term 0.
    let first = usize::from(form.adds && pairs.len() >= 2);
    let order = |k: usize| if k <= first { first - k } else { k };
    let mut j = 0;
    while j < a.len {
        let mut acc = [[P::splat(Default::default()); B]; GROUP];
        term::<P, B, SQ, true>(&mut acc, a, pairs[order(0)], j);
        for k in 1..pairs.len() {
            term::<P, B, SQ, false>(&mut acc, a, pairs[order(k)], j);
        }
        for (g, acc) in acc.iter().enumerate() {
            let row = (g * o.slots + o.at) * o.stride + j;
            for (pk, &v) in acc.iter().enumerate() {
                let v = if form.neg { -v } else { v };
                v.store(&mut o.out[row + pk * lanes..]);
            }
        }
        j += B * lanes;
    }
}

/// Adds term `(o, n)` of the indices `j..j + B * LANES` to the group's sums
/// (`FIRST`: sets them to it).
#[inline(always)]
fn term<P: Pack, const B: usize, const SQ: bool, const FIRST: bool>(
    acc: &mut [[P; B]; GROUP],
    a: &Ahead<'_, P::Elem>,
    (o, n): (u32, u32),
    j: usize,
) {
    let at = n as usize * a.stride + j;
    let y: [P; B] = core::array::from_fn(|pk| P::load(&a.nf[at + pk * P::LANES..]));
    let xs = &a.ofs[o as usize * GROUP..][..GROUP];
    for (g, acc) in acc.iter_mut().enumerate() {
        let x = P::splat(xs[g]);
        for pk in 0..B {
            let (u, v) = if SQ {
                let t = x - y[pk];
                (t, t)
            } else {
                (x, y[pk])
            };
            acc[pk] = if FIRST { u * v } else { u.mul_add(v, acc[pk]) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(len, sq)` of the dot instructions of `src`'s pair program.
    fn dots(src: &str) -> Vec<(u32, bool)> {
        let parsed = keops_ir::text::parse(src).expect("parses");
        let stage = keops_ir::front::build_stage(&parsed.def, true).expect("builds");
        let l = keops_ir::lower::lower_looped(&stage);
        let mut code = Code::new(&l.pair, &l.pair.outputs).expect("translates");
        fuse(&mut code);
        code.ops
            .iter()
            .filter_map(|op| match *op {
                Op::Dot { len, sq, .. } => Some((len, sq)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn squared_distances_and_scalar_products_become_one_instruction() {
        let cases: &[(&str, &[(u32, bool)])] = &[
            (
                "|x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)))",
                &[(3, true)],
            ),
            (
                "|x: Vi<16>, y: Vj<16>| logsumexp_j(-sqdist(x, y))",
                &[(16, true)],
            ),
            (
                "|x: Vi<64>, y: Vj<64>| sum_j(exp(-sqdist(x, y)))",
                &[(64, true)],
            ),
            (
                "|x: Vi<784>, y: Vj<784>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
                &[(784, true)],
            ),
            ("|x: Vi<8>, y: Vj<8>| sum_j((x | y))", &[(8, false)]),
            ("|x: Vi<40>, y: Vj<40>| min_j((y | x))", &[(40, false)]),
            (
                "|x: Vi<4>, y: Vj<4>, z: Vj<4>| sum_j(exp(-sqdist(x, y)) * (x | z))",
                &[(4, true), (4, false)],
            ),
            // No sum over features: nothing to fuse.
            ("|x: Vi<5>, y: Vj<5>| sum_j(x * y)", &[]),
        ];
        for (src, want) in cases {
            let mut got = dots(src);
            got.sort_unstable();
            let mut want = want.to_vec();
            want.sort_unstable();
            assert_eq!(got, want, "{src}");
        }
    }
}
