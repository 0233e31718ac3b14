//! GPU-side rewrites of a lowered stage before emission: fewer instructions
//! in the pair program, where the kernel spends its time.
//!
//! Every mode (exact, the results do not change):
//!
//! * **Negated products of sums**: a sum output `-(x * y)` becomes
//!   `(-x) * y`, so that the sum kernels fuse it into one `fma` (`ptxas`
//!   folds the negation into the operand). Round-to-nearest is symmetric,
//!   so the value is the same bit for bit. (The other exact saving, one
//!   softmax denominator for a formula shared by the weight columns, is in
//!   the state, `state.rs`.)
//!
//! Fast mode (`fast_math`, f32 only):
//!
//! * **Exponentials in base 2.** Every `exp(a)` of the pair program becomes
//!   `ex2.approx(a log2 e)` with the factor `log2 e` folded into the
//!   argument's product (below): `exp(-g * sqdist(x, y))` costs one
//!   multiplication by the hoisted `-g log2 e` and one `ex2`. The emitter
//!   emits every `Un(Exp)` of a rewritten pair program as a raw `ex2`.
//! * **Log-sum-exp family in base 2**: the formula outputs become `f log2 e`
//!   (same folding), the state keeps `max f log2 e` and sums of `2^(..)`,
//!   and the result is `(m + lg2 s) ln 2` (see `state.rs`).
//! * **Hoisted invariant factors.** A product tree of the pair program (the
//!   products and negations whose intermediate results have no other use)
//!   whose factors include at least two loop-invariant ones (constants,
//!   parameter features, outer features) is reassociated as `(product of
//!   the varying factors) * c`, `c` the product of the invariant ones,
//!   computed once: in the parameter program (constants and parameters
//!   only) or the outer program (once per row). The gradient of the
//!   Gaussian sum, `-2 * (g * (e * (b * u)))`, becomes `(e * b) * c_i` with
//!   `c_i = -2 g u_i`. Reassociating changes the rounding (a few ulp) and,
//!   for extreme finite factors, where an intermediate product overflows or
//!   underflows; infinities, zeros and NaN give the same class of result in
//!   any order.
//!
//! A new outer feature is only added while the outer features stay in
//! registers (the plan's `outer_in_memory` never changes).

use std::collections::HashMap;

use keops_abi::Red;
use keops_ir::ir::{Bin, Un};
use keops_ir::lower::{Inst, Lowered, ScalarProg, V};

use super::OUTER_REGISTER_BUDGET;

/// A program under construction, with hash-consing (as the lowering's).
struct Pb {
    insts: Vec<Inst>,
    outputs: Vec<V>,
    num: HashMap<Inst, V>,
}

impl Pb {
    fn new() -> Pb {
        Pb {
            insts: Vec::new(),
            outputs: Vec::new(),
            num: HashMap::new(),
        }
    }

    fn from(p: &ScalarProg) -> Pb {
        let mut b = Pb::new();
        for &i in &p.insts {
            // Programs are already hash-consed: keep the numbering.
            let v = b.insts.len() as V;
            b.insts.push(i);
            b.num.entry(i).or_insert(v);
        }
        b.outputs = p.outputs.clone();
        b
    }

    fn push(&mut self, i: Inst) -> V {
        if let Some(&v) = self.num.get(&i) {
            return v;
        }
        let v = self.insts.len() as V;
        self.insts.push(i);
        self.num.insert(i, v);
        v
    }

    fn constant(&mut self, c: f64) -> V {
        self.push(Inst::Const(c.to_bits()))
    }

    /// Output number of `v` (an existing one if `v` is already an output).
    fn output(&mut self, v: V) -> u32 {
        if let Some(k) = self.outputs.iter().position(|&o| o == v) {
            return k as u32;
        }
        self.outputs.push(v);
        (self.outputs.len() - 1) as u32
    }

    fn finish(self) -> ScalarProg {
        let mut p = ScalarProg::default();
        p.insts = self.insts;
        p.outputs = self.outputs;
        p
    }
}

/// Use counts (operands and outputs).
fn uses(insts: &[Inst], outputs: &[V]) -> Vec<u32> {
    let mut u = vec![0u32; insts.len()];
    for i in insts {
        for o in i.operands() {
            u[o as usize] += 1;
        }
    }
    for &o in outputs {
        u[o as usize] += 1;
    }
    u
}

/// Drops the instructions the outputs do not need, renumbering.
fn dce(p: Pb) -> Pb {
    let mut live = vec![false; p.insts.len()];
    for &o in &p.outputs {
        live[o as usize] = true;
    }
    for k in (0..p.insts.len()).rev() {
        if live[k] {
            for o in p.insts[k].operands() {
                live[o as usize] = true;
            }
        }
    }
    let mut remap = vec![V::MAX; p.insts.len()];
    let mut out = Pb::new();
    for (k, inst) in p.insts.iter().enumerate() {
        if live[k] {
            remap[k] = out.push(map_operands(*inst, &remap));
        }
    }
    out.outputs = p.outputs.iter().map(|&o| remap[o as usize]).collect();
    out
}

fn map_operands(i: Inst, m: &[V]) -> Inst {
    let r = |v: V| m[v as usize];
    match i {
        Inst::Un(u, a) => Inst::Un(u, r(a)),
        Inst::Bin(b, x, y) => Inst::Bin(b, r(x), r(y)),
        Inst::Tern(t, x, y, z) => Inst::Tern(t, r(x), r(y), r(z)),
        Inst::Select(x, y, z) => Inst::Select(r(x), r(y), r(z)),
        Inst::Fma(x, y, z) => Inst::Fma(r(x), r(y), r(z)),
        other => other,
    }
}

/// Whether the state of reduction `r` is kept in base 2 in fast mode.
pub(crate) fn lse_family(r: Red) -> bool {
    matches!(
        r,
        Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight
    )
}

/// The factors of a product tree.
#[derive(Default)]
struct Factors {
    /// Product of the constant factors and signs (f64).
    c: f64,
    /// Parameter features.
    pf: Vec<u32>,
    /// Outer features.
    of: Vec<u32>,
    /// Varying factors (old instruction numbers).
    var: Vec<V>,
}

/// The rewriting of one stage's pair program.
struct Rw<'a> {
    old: &'a [Inst],
    uses: Vec<u32>,
    param: Pb,
    outer: Pb,
    /// Outer features allowed in total (the plan's register budget).
    outer_cap: usize,
    new: Pb,
    /// Old instruction -> new instruction.
    map: Vec<V>,
}

impl Rw<'_> {
    /// Collects the factors of the product tree rooted at `k` (the root's
    /// own products and negations, and those of its operands used once).
    fn factors(&self, k: V, root: bool, f: &mut Factors) {
        let interior = root || self.uses[k as usize] == 1;
        match self.old[k as usize] {
            Inst::Bin(Bin::Mul, a, b) if interior => {
                self.factors(a, false, f);
                self.factors(b, false, f);
            }
            Inst::Un(Un::Neg, a) if interior => {
                f.c = -f.c;
                self.factors(a, false, f);
            }
            Inst::Const(bits) => f.c *= f64::from_bits(bits),
            Inst::Pf(q) => f.pf.push(q),
            Inst::Of(q) => f.of.push(q),
            _ => f.var.push(k),
        }
    }

    /// The invariant factor `c * prod(pf) * prod(of)` as an instruction of
    /// the new pair program (a constant, or a new parameter or outer
    /// feature); `None` when it would need an outer feature past the cap.
    fn invariant(&mut self, f: &Factors) -> Option<V> {
        if f.pf.is_empty() && f.of.is_empty() {
            return Some(self.new.constant(f.c));
        }
        let in_outer = !f.of.is_empty();
        if in_outer && self.outer.outputs.len() + 1 > self.outer_cap {
            return None;
        }
        // The factors as instructions of the program that computes them.
        let mut srcs: Vec<V> =
            f.of.iter()
                .map(|&q| self.outer.outputs[q as usize])
                .collect();
        for &q in &f.pf {
            srcs.push(if in_outer {
                self.outer.push(Inst::Pf(q))
            } else {
                self.param.outputs[q as usize]
            });
        }
        let prog = if in_outer {
            &mut self.outer
        } else {
            &mut self.param
        };
        let mut acc: Option<V> = None;
        for v in srcs {
            acc = Some(match acc {
                None => v,
                Some(a) => prog.push(Inst::Bin(Bin::Mul, a, v)),
            });
        }
        let mut v = acc.expect("an invariant factor");
        if f.c == -1.0 {
            v = prog.push(Inst::Un(Un::Neg, v));
        } else if f.c != 1.0 {
            let c = prog.constant(f.c);
            v = prog.push(Inst::Bin(Bin::Mul, v, c));
        }
        if !in_outer {
            let k = self.param.output(v);
            Some(self.new.push(Inst::Pf(k)))
        } else {
            let k = self.outer.output(v);
            Some(self.new.push(Inst::Of(k)))
        }
    }

    /// The product tree at `k` times `extra`, reassociated as `(varying
    /// factors) * invariant`; `None` when it does not pay (fewer than two
    /// invariant factors, unless `force`) or cannot be done.
    fn product(&mut self, k: V, extra: f64, force: bool) -> Option<V> {
        let mut f = Factors {
            c: extra,
            ..Factors::default()
        };
        self.factors(k, true, &mut f);
        let consts = usize::from(f.c.abs() != 1.0);
        if !force && f.pf.len() + f.of.len() + consts < 2 {
            return None;
        }
        let inv = self.invariant(&f)?;
        let mut acc: Option<V> = None;
        for &v in &f.var {
            let nv = self.map[v as usize];
            acc = Some(match acc {
                None => nv,
                Some(a) => self.new.push(Inst::Bin(Bin::Mul, a, nv)),
            });
        }
        let Some(a) = acc else { return Some(inv) };
        Some(match self.new.insts[inv as usize] {
            Inst::Const(b) if f64::from_bits(b) == 1.0 => a,
            Inst::Const(b) if f64::from_bits(b) == -1.0 => self.new.push(Inst::Un(Un::Neg, a)),
            _ => self.new.push(Inst::Bin(Bin::Mul, a, inv)),
        })
    }
}

/// The stage `l` as the kernels emit it: in every mode the exact rewrites,
/// with `fast` (f32 fast math) also the base-2 exponentials and the
/// hoisting of invariant factors (module documentation).
pub(crate) fn tune(l: &Lowered, fast: bool) -> Lowered {
    let old = &l.pair.insts;
    let mut rw = Rw {
        old,
        uses: uses(old, &l.pair.outputs),
        param: Pb::from(&l.param),
        outer: Pb::from(&l.outer),
        outer_cap: if l.outer.outputs.len() > OUTER_REGISTER_BUDGET as usize {
            // Already in memory: add nothing there.
            l.outer.outputs.len()
        } else {
            OUTER_REGISTER_BUDGET as usize
        },
        new: Pb::new(),
        map: Vec::with_capacity(old.len()),
    };
    let log2e = std::f64::consts::LOG2_E;
    // Products whose only use is a product (or, in fast mode, an
    // exponential): rewritten with the tree they belong to, not alone.
    let mut interior = vec![false; old.len()];
    for i in old {
        if matches!(i, Inst::Bin(Bin::Mul, ..) | Inst::Un(Un::Neg, _))
            || (fast && matches!(i, Inst::Un(Un::Exp, _)))
        {
            for o in i.operands() {
                interior[o as usize] |= rw.uses[o as usize] == 1;
            }
        }
    }
    for (k, &inst) in old.iter().enumerate() {
        let k = k as V;
        let rewritten = if !fast {
            None
        } else {
            match inst {
                Inst::Un(Un::Exp, a) => {
                    // Emitted as a raw `ex2`: the argument in base 2.
                    let arg = rw.product(a, log2e, true).unwrap_or_else(|| {
                        let c = rw.new.constant(log2e);
                        rw.new.push(Inst::Bin(Bin::Mul, rw.map[a as usize], c))
                    });
                    Some(rw.new.push(Inst::Un(Un::Exp, arg)))
                }
                Inst::Bin(Bin::Mul, _, _) | Inst::Un(Un::Neg, _) if !interior[k as usize] => {
                    rw.product(k, 1.0, false)
                }
                _ => None,
            }
        };
        let v = match rewritten {
            Some(v) => v,
            None => rw.new.push(map_operands(inst, &rw.map)),
        };
        rw.map.push(v);
    }
    let fdim = l.fdim as usize;
    let mut outputs: Vec<V> = l.pair.outputs.iter().map(|&o| rw.map[o as usize]).collect();
    if fast && lse_family(l.red) {
        // Formula outputs in base 2.
        for (d, out) in outputs.iter_mut().enumerate().take(fdim) {
            let o = l.pair.outputs[d];
            *out = rw.product(o, log2e, true).unwrap_or_else(|| {
                let c = rw.new.constant(log2e);
                rw.new.push(Inst::Bin(Bin::Mul, rw.map[o as usize], c))
            });
        }
    }
    rw.new.outputs = outputs;
    let mut new = dce(rw.new);
    if l.red == Red::Sum {
        // -(x * y) -> (-x) * y, for the fused accumulation.
        let u = uses(&new.insts, &new.outputs);
        for d in 0..fdim {
            let o = new.outputs[d];
            if u[o as usize] != 1 {
                continue;
            }
            if let Inst::Un(Un::Neg, m) = new.insts[o as usize] {
                if let Inst::Bin(Bin::Mul, x, y) = new.insts[m as usize] {
                    if u[m as usize] == 1 {
                        let nx = new.push(Inst::Un(Un::Neg, x));
                        new.outputs[d] = new.push(Inst::Bin(Bin::Mul, nx, y));
                    }
                }
            }
        }
        new = dce(new);
    }
    let mut t = l.clone();
    t.param = rw.param.finish();
    t.outer = rw.outer.finish();
    t.pair = new.finish();
    t
}
