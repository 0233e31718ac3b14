//! Reduction states in registers: initialisation, the per-pair update, the
//! end-of-tile flush of the block sum scheme, the final outputs, and the
//! partial states of the 2D scheme (store, and in-order merge).
//!
//! The update rules reproduce `keops-runtime`'s CPU reductions exactly:
//! strict comparisons (the first index wins ties; NaN is never selected),
//! K-lists sorted by (value, index) with insertion by strict `<`, and the
//! online log-sum-exp with one exponential per pair
//! (`e = exp(-|f - m|)`, a `-inf` value changing nothing).

use keops_abi::{acc_len, Red, SumScheme};

use super::Ctx;
use crate::math;
use crate::ptx::{Prec, Reg, Ty};

/// The registers of a reduction state.
pub(crate) enum St {
    /// Sums: `acc` (T; the running sum, or the tile's partial sum for the
    /// block scheme), `comp` (Kahan compensation, T), `acc64` (f64
    /// accumulator of the block scheme and of the merge).
    Sum {
        /// Running (or tile) sums.
        acc: Vec<Reg>,
        /// Kahan compensations.
        comp: Vec<Reg>,
        /// f64 accumulators.
        acc64: Vec<Reg>,
    },
    /// Log-sum-exp family: maxima `m` (one per output column; the same
    /// register repeated when a scalar formula is shared by every weight
    /// column) and one or two scaled sums per column.
    ///
    /// In f32 fast mode (`base2`) the formula values are `f log2 e` (the
    /// pair program scales them, `opt.rs`), `m` is their maximum, the sums
    /// hold `2^(f - m)` terms (raw `ex2`) and the result is
    /// `(m + lg2 s) ln 2`; `nm = -m` lets the common case compute
    /// `f - m` as one `fma` of a deferred product.
    Lse {
        /// Running maxima.
        m: Vec<Reg>,
        /// `-m` (base 2 in the reduce kernel; empty otherwise).
        nm: Vec<Reg>,
        /// `s[0]`: sum of `exp(f - m) w` (or of `exp(f - m)` for the
        /// softmax denominator, then one register shared by every column
        /// when the formula is shared); `s[1]`: the softmax numerator.
        s: Vec<Vec<Reg>>,
        /// Values, maxima and exponentials in base 2 (f32 fast mode).
        base2: bool,
    },
    /// Min/max family and K-lists: values (T) and indices (u64), rank-major.
    Sel {
        /// Values.
        v: Vec<Reg>,
        /// Indices (`u64::MAX`: none).
        i: Vec<Reg>,
        /// Min/max family in the reduce kernel: the row of the current tile
        /// (u32, `u32::MAX`: none) where `v` was last improved; it becomes
        /// the index `i` at the end of the tile ([`Ctx::state_tile_flush`]),
        /// so that the pair loop selects a 32-bit tile row instead of a
        /// 64-bit index. Empty for K-lists and the merge kernel.
        loc: Vec<Reg>,
    },
}

/// One log-sum-exp step of a pair: (maximum, its negation if kept, [(sum,
/// weight output index)], formula output index).
type LseStep = (Reg, Option<Reg>, Vec<(Reg, Option<usize>)>, usize);

/// The outputs of one pair and its deferred products (see
/// `deferred_outputs` in `mod.rs`).
pub(crate) type PairOut = (Vec<Reg>, Vec<Option<(Reg, Reg)>>);

/// Number of 8-byte slots of a row's partial state in the 2D scheme.
///
/// - `Sum`: `[f64 sum; D]` (compensated, block-accumulated, whatever the scheme);
/// - log-sum-exp family: the state as f64 (exact widening of T),
///   `[max; D]`, `[sum; D]` (`[den; D]`, `[num; D]` for the softmax);
/// - min/max family and K-lists: `[value as f64; K*D]`, `[index as u64; K*D]`.
pub fn partial_slots(red: Red, fdim: u32, wdim: u32) -> u32 {
    match red {
        Red::Sum => fdim,
        r => acc_len(r, fdim, wdim),
    }
}

impl Ctx<'_> {
    fn mov_imm(&mut self, r: Reg, x: f64) {
        let p = self.ops.p;
        self.b.emit(format!("mov.{} {r}, {}", p.suffix(), p.imm(x)));
    }

    fn fresh_const(&mut self, x: f64) -> Reg {
        let r = self.b.freg(self.ops.p);
        self.mov_imm(r, x);
        r
    }

    fn fresh_idx_none(&mut self) -> Reg {
        let r = self.b.reg(Ty::B64);
        self.b.emit(format!("mov.u64 {r}, {}", u64::MAX));
        r
    }

    /// The initial (empty) state. `scheme` matters for sums only; `merge`
    /// gives the f64 accumulators of the merge kernel.
    pub(crate) fn state_init(&mut self, scheme: SumScheme, merge: bool) -> St {
        let l = self.l;
        let (fdim, wdim) = (l.fdim as usize, l.wdim as usize);
        match l.red {
            Red::Sum => {
                let mut acc = Vec::new();
                let mut comp = Vec::new();
                let mut acc64 = Vec::new();
                if merge || scheme == SumScheme::Block {
                    for _ in 0..fdim {
                        let r = self.b.reg(Ty::F64);
                        self.b.emit(format!("mov.f64 {r}, {}", Prec::F64.imm(0.0)));
                        acc64.push(r);
                    }
                }
                if !merge {
                    acc = (0..fdim).map(|_| self.fresh_const(0.0)).collect();
                    if scheme == SumScheme::Kahan {
                        comp = (0..fdim).map(|_| self.fresh_const(0.0)).collect();
                    }
                }
                St::Sum { acc, comp, acc64 }
            }
            Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
                let cols = if l.red == Red::LogSumExp { fdim } else { wdim };
                let nsum = if l.red == Red::SumSoftmaxWeight { 2 } else { 1 };
                // A scalar formula shared by all weight columns keeps one
                // maximum (all columns' maxima are equal), except in the
                // merge kernel where each column is merged on its own.
                let shared = !merge && l.red != Red::LogSumExp && fdim == 1;
                let base2 = self.fast();
                let m: Vec<Reg> = if shared {
                    let r = self.fresh_const(f64::NEG_INFINITY);
                    vec![r; cols]
                } else {
                    (0..cols)
                        .map(|_| self.fresh_const(f64::NEG_INFINITY))
                        .collect()
                };
                let nm: Vec<Reg> = if !base2 || merge {
                    Vec::new()
                } else if shared {
                    let r = self.fresh_const(f64::INFINITY);
                    vec![r; cols]
                } else {
                    (0..cols).map(|_| self.fresh_const(f64::INFINITY)).collect()
                };
                // The softmax denominators of a shared formula are equal:
                // one register.
                let s = (0..nsum)
                    .map(|q| {
                        if shared && q == 0 && l.red == Red::SumSoftmaxWeight {
                            let r = self.fresh_const(0.0);
                            vec![r; cols]
                        } else {
                            (0..cols).map(|_| self.fresh_const(0.0)).collect()
                        }
                    })
                    .collect();
                St::Lse { m, nm, s, base2 }
            }
            r => {
                let n = (r.k() * l.fdim) as usize;
                let init = if r.is_max() {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                let v = (0..n).map(|_| self.fresh_const(init)).collect();
                let i = (0..n).map(|_| self.fresh_idx_none()).collect();
                let loc =
                    if merge || matches!(r, Red::KMin(_) | Red::ArgKMin(_) | Red::KMinArgKMin(_)) {
                        Vec::new()
                    } else {
                        (0..n)
                            .map(|_| {
                                let q = self.b.reg(Ty::B32);
                                self.b.emit(format!("mov.u32 {q}, {}", u32::MAX));
                                q
                            })
                            .collect()
                    };
                St::Sel { v, i, loc }
            }
        }
    }

    /// The log-sum-exp steps of one pair: `(maximum, [(sum, weight output
    /// index)], formula output index)`, in the order of the general rule.
    fn lse_steps(&self, st: &St) -> Vec<LseStep> {
        let St::Lse { m, nm, s, .. } = st else {
            unreachable!("log-sum-exp state")
        };
        let l = self.l;
        let fdim = l.fdim as usize;
        let cols = m.len();
        let nm = |d: usize| nm.get(d).copied();
        match l.red {
            Red::LogSumExp => (0..cols)
                .map(|d| (m[d], nm(d), vec![(s[0][d], None)], d))
                .collect(),
            _ => {
                let softmax = l.red == Red::SumSoftmaxWeight;
                let sums_of = |d: usize| -> Vec<(Reg, Option<usize>)> {
                    let w = Some(fdim + d);
                    if softmax {
                        vec![(s[0][d], None), (s[1][d], w)]
                    } else {
                        vec![(s[0][d], w)]
                    }
                };
                if fdim == 1 {
                    // One maximum shared by every column (and one softmax
                    // denominator: a register appears once).
                    let mut sums: Vec<(Reg, Option<usize>)> = Vec::new();
                    for x in (0..cols).flat_map(sums_of) {
                        if !sums.iter().any(|y| y.0 == x.0) {
                            sums.push(x);
                        }
                    }
                    vec![(m[0], nm(0), sums, 0)]
                } else {
                    (0..cols).map(|d| (m[d], nm(d), sums_of(d), d)).collect()
                }
            }
        }
    }

    /// Online log-sum-exp update by the pairs whose outputs are `outs`
    /// (in order, with their deferred products): the maxima `m` and the
    /// sums `s` (with weights `w`, 1 where none) absorb each value `f`.
    ///
    /// Common case first: every `d = f - m` of the group in `(-inf, 0]`
    /// (no maximum changes; checked with a chain of compares and one `min`
    /// over the group, one branch per group): `s += e^d w`,
    /// one exponential per value and no rescaling. Otherwise (a new
    /// maximum, `f = -inf`, which is skipped, or NaN) the group goes
    /// through the general rule pair by pair (`e = exp(-|f - m|)`,
    /// rescaling the sums when `f > m`). Both paths compute what the
    /// general rule computes, pair after pair (bit for bit, except in
    /// base 2 where the common case rounds `f - m` once from a deferred
    /// product `f = x * y`: `fma(x, y, -m)`).
    pub(crate) fn lse_update_group(&mut self, st: &St, outs: &[PairOut]) {
        let steps = self.lse_steps(st);
        let St::Lse { base2, .. } = st else {
            unreachable!("log-sum-exp state")
        };
        let base2 = *base2;
        let ops = self.ops_copy();
        let sfx = ops.p.suffix();
        let b = &mut self.b;
        let exp = |b: &mut crate::ptx::Builder, x: Reg| {
            if base2 {
                math::exp2_approx_f32(b, x)
            } else {
                math::exp(b, ops.p, x, ops.mo)
            }
        };
        let slow = b.label();
        let done = b.label();
        let mut ds = Vec::new();
        for (out, prods) in outs {
            for (m, nm, _, fk) in &steps {
                let d = match (prods.get(*fk).copied().flatten(), nm) {
                    (Some((x, y)), Some(nm)) => ops.fma(b, x, y, *nm),
                    (Some((x, y)), None) => {
                        let f = ops.bin(b, "mul.rn", x, y);
                        ops.bin(b, "sub.rn", f, *m)
                    }
                    (None, _) => ops.bin(b, "sub.rn", out[*fk], *m),
                };
                ds.push(d);
            }
        }
        // Every d <= 0 (false for NaN): a chain of `setp.le.and`; every
        // d > -inf: their minimum.
        let mut le = ops.setp_imm(b, "le", ds[0], 0.0);
        let mut dmin = ds[0];
        for &d in &ds[1..] {
            let q = b.reg(Ty::Pred);
            b.emit(format!(
                "setp.le.and.{sfx} {q}, {d}, {}, {le}",
                ops.p.imm(0.0)
            ));
            le = q;
            dmin = ops.bin(b, "min", dmin, d);
        }
        let common = b.reg(Ty::Pred);
        b.emit(format!(
            "setp.gt.and.{sfx} {common}, {dmin}, {}, {le}",
            ops.p.imm(f64::NEG_INFINITY)
        ));
        b.emit(format!("@!{common} bra {slow}"));
        let mut k = 0;
        for (out, _) in outs {
            for (_, _, sums, _) in &steps {
                let e = exp(b, ds[k]);
                k += 1;
                for &(sr, w) in sums {
                    match w {
                        Some(w) => b.emit(format!("fma.rn.{sfx} {sr}, {e}, {}, {sr}", out[w])),
                        None => b.emit(format!("add.rn.{sfx} {sr}, {e}, {sr}")),
                    }
                }
            }
        }
        b.emit(format!("bra {done}"));
        b.place(slow);
        for (out, prods) in outs {
            for (m, nm, sums, fk) in &steps {
                let f = match prods.get(*fk).copied().flatten() {
                    Some((x, y)) => ops.bin(b, "mul.rn", x, y),
                    None => out[*fk],
                };
                let m = *m;
                let gt = ops.setp(b, "gt", f, m);
                let a = ops.bin(b, "sub.rn", m, f);
                let c = ops.bin(b, "sub.rn", f, m);
                let t = ops.sel(b, a, c, gt);
                let e = exp(b, t);
                let skip = ops.setp_imm(b, "eq", f, f64::NEG_INFINITY);
                for &(sr, w) in sums {
                    let w = match w {
                        Some(w) => out[w],
                        None => ops.c(b, 1.0),
                    };
                    // gt: s * e + w; else: e * w + s (one rounding each).
                    let g1 = ops.fma(b, sr, e, w);
                    let g2 = ops.fma(b, e, w, sr);
                    let g = ops.sel(b, g1, g2, gt);
                    b.emit(format!("selp.{sfx} {sr}, {sr}, {g}, {skip}"));
                }
                b.emit(format!("selp.{sfx} {m}, {f}, {m}, {gt}"));
                if let Some(nm) = nm {
                    b.emit(format!("neg.{sfx} {nm}, {m}"));
                }
            }
        }
        b.place(done);
    }

    /// Inserts `(v, j)` into the sorted K-list `vals[r*D + d]`, `idx[..]`
    /// (strict `<`: equal values keep the earlier entry first; NaN and
    /// `+inf` are never inserted).
    fn kmin_insert(
        &mut self,
        v: &[Reg],
        ix: &[Reg],
        k: usize,
        fdim: usize,
        d: usize,
        x: Reg,
        j: Reg,
    ) {
        let ops = self.ops_copy();
        let s = ops.p.suffix();
        let skip = self.b.label();
        let last = (k - 1) * fdim + d;
        let pr = ops.setp(&mut self.b, "lt", x, v[last]);
        self.b.emit(format!("@!{pr} bra {skip}"));
        // Position `r` takes the carried entry where `x < v[r]` (the list
        // as it was: position `r` is compared before it is written). The
        // list is sorted, so this holds from the insertion point on, and
        // every later entry moves down one place, ties included (comparing
        // the carried entry instead would leave an entry equal to the
        // carried one in place and drop the carried one past it).
        let mut cv = x;
        let mut ci = j;
        for r in 0..k {
            let pos = r * fdim + d;
            let q = ops.setp(&mut self.b, "lt", x, v[pos]);
            if r + 1 < k {
                let ncv = self.b.freg(ops.p);
                let nci = self.b.reg(Ty::B64);
                self.b
                    .emit(format!("selp.{s} {ncv}, {}, {cv}, {q}", v[pos]));
                self.b
                    .emit(format!("selp.b64 {nci}, {}, {ci}, {q}", ix[pos]));
                self.b
                    .emit(format!("selp.{s} {}, {cv}, {}, {q}", v[pos], v[pos]));
                self.b
                    .emit(format!("selp.b64 {}, {ci}, {}, {q}", ix[pos], ix[pos]));
                cv = ncv;
                ci = nci;
            } else {
                self.b
                    .emit(format!("selp.{s} {}, {cv}, {}, {q}", v[pos], v[pos]));
                self.b
                    .emit(format!("selp.b64 {}, {ci}, {}, {q}", ix[pos], ix[pos]));
            }
        }
        self.b.place(skip);
    }

    /// [`Ctx::state_update`], where `fused[d]` (sums, direct and block
    /// schemes) gives the operands `x, y` of a sum column whose term is the
    /// product `x * y`: `acc = fma(x, y, acc)`, one rounding.
    pub(crate) fn state_update_fused(
        &mut self,
        st: &St,
        out: &[Reg],
        fused: &[Option<(Reg, Reg)>],
        j: Reg,
        jl: Reg,
    ) {
        match st {
            St::Sum { acc, comp, .. } if comp.is_empty() => {
                let sfx = self.ops.p.suffix();
                for (d, a) in acc.iter().enumerate() {
                    match fused.get(d).copied().flatten() {
                        Some((x, y)) => self.b.emit(format!("fma.rn.{sfx} {a}, {x}, {y}, {a}")),
                        None => self.b.emit(format!("add.rn.{sfx} {a}, {a}, {}", out[d])),
                    }
                }
            }
            St::Lse { .. } => self.lse_update_group(st, &[(out.to_vec(), fused.to_vec())]),
            _ => self.state_update(st, out, j, jl),
        }
    }

    /// Updates the state with the pair outputs `out` (formula, then weight)
    /// at the absolute reduced index `j` (u64), row `jl` (u32) of the tile.
    pub(crate) fn state_update(&mut self, st: &St, out: &[Reg], j: Reg, jl: Reg) {
        let l = self.l;
        let ops = self.ops_copy();
        let fdim = l.fdim as usize;
        match st {
            St::Sum { acc, comp, .. } => {
                for d in 0..fdim {
                    if comp.is_empty() {
                        self.b.emit(format!(
                            "add.rn.{} {}, {}, {}",
                            ops.p.suffix(),
                            acc[d],
                            acc[d],
                            out[d]
                        ));
                    } else {
                        let b = &mut self.b;
                        let y = ops.bin(b, "sub.rn", out[d], comp[d]);
                        let t = ops.bin(b, "add.rn", acc[d], y);
                        let u = ops.bin(b, "sub.rn", t, acc[d]);
                        b.emit(format!("sub.rn.{} {}, {u}, {y}", ops.p.suffix(), comp[d]));
                        b.emit(format!("mov.{} {}, {t}", ops.p.suffix(), acc[d]));
                    }
                }
            }
            St::Lse { .. } => self.lse_update_group(st, &[(out.to_vec(), Vec::new())]),
            St::Sel { v, i, loc } => match l.red {
                Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => {
                    for d in 0..fdim {
                        self.kmin_insert(v, i, k as usize, fdim, d, out[d], j);
                    }
                }
                r => {
                    let cmp = if r.is_max() { "gt" } else { "lt" };
                    for d in 0..fdim {
                        let pr = ops.setp(&mut self.b, cmp, out[d], v[d]);
                        self.b.emit(format!(
                            "selp.{} {}, {}, {}, {pr}",
                            ops.p.suffix(),
                            v[d],
                            out[d],
                            v[d]
                        ));
                        if loc.is_empty() {
                            self.b
                                .emit(format!("selp.b64 {}, {j}, {}, {pr}", i[d], i[d]));
                        } else {
                            self.b
                                .emit(format!("selp.b32 {}, {jl}, {}, {pr}", loc[d], loc[d]));
                        }
                    }
                }
            },
        }
    }

    /// End of a tile (first reduced index `ts`, u64): block sum scheme,
    /// the tile's partial sums are added to the f64 accumulators and reset;
    /// min/max family, the tile row of the last improvement becomes the
    /// index `ts + row`.
    pub(crate) fn state_tile_flush(&mut self, st: &St, ts: Reg) {
        if let St::Sel { i, loc, .. } = st {
            for (ix, q) in i.iter().zip(loc) {
                let p = self.b.reg(Ty::Pred);
                self.b.emit(format!("setp.ne.u32 {p}, {q}, {}", u32::MAX));
                let q64 = self.b.reg(Ty::B64);
                self.b.emit(format!("cvt.u64.u32 {q64}, {q}"));
                let a = self.b.reg(Ty::B64);
                self.b.emit(format!("add.u64 {a}, {ts}, {q64}"));
                self.b.emit(format!("selp.b64 {ix}, {a}, {ix}, {p}"));
                self.b.emit(format!("mov.u32 {q}, {}", u32::MAX));
            }
        }
        if let St::Sum { acc, acc64, .. } = st {
            if acc64.is_empty() {
                return;
            }
            let p = self.ops.p;
            for (a, a64) in acc.iter().zip(acc64) {
                let w = self.widen(*a);
                self.b.emit(format!("add.rn.f64 {a64}, {a64}, {w}"));
                self.mov_imm(*a, 0.0);
            }
            let _ = p;
        }
    }

    /// `x` as an f64 register (exact).
    pub(crate) fn widen(&mut self, x: Reg) -> Reg {
        if self.ops.p == Prec::F64 {
            return x;
        }
        let r = self.b.reg(Ty::F64);
        self.b.emit(format!("cvt.f64.f32 {r}, {x}"));
        r
    }

    /// An f64 register rounded to T.
    pub(crate) fn narrow(&mut self, x: Reg) -> Reg {
        if self.ops.p == Prec::F64 {
            return x;
        }
        let r = self.b.reg(Ty::F32);
        self.b.emit(format!("cvt.rn.f32.f64 {r}, {x}"));
        r
    }

    /// The f64 total of sum column `d` (compensated for Kahan).
    fn sum_total64(&mut self, st: &St, d: usize) -> Reg {
        let St::Sum { acc, comp, acc64 } = st else {
            unreachable!()
        };
        if !acc64.is_empty() {
            return acc64[d];
        }
        let a = self.widen(acc[d]);
        if comp.is_empty() {
            return a;
        }
        let c = self.widen(comp[d]);
        let r = self.b.reg(Ty::F64);
        self.b.emit(format!("sub.rn.f64 {r}, {a}, {c}"));
        r
    }

    /// Writes the final outputs of row `row` (u64) from the state.
    pub(crate) fn state_finalize(&mut self, st: &St, row: Reg) {
        let l = self.l;
        let ops = self.ops_copy();
        let p = ops.p;
        let s = p.suffix();
        let by = p.bytes() as u64;
        let od = l.red.out_dim(l.fdim, l.wdim) as u64;
        let (has_vals, has_idx) = l.red.outputs();
        let vrow = if has_vals {
            let r = self.b.reg(Ty::B64);
            self.b.emit(format!(
                "mad.lo.u64 {r}, {row}, {}, {}",
                od * by,
                self.prm.out_vals
            ));
            Some(r)
        } else {
            None
        };
        let irow = if has_idx {
            let r = self.b.reg(Ty::B64);
            self.b.emit(format!(
                "mad.lo.u64 {r}, {row}, {}, {}",
                od * 8,
                self.prm.out_idx
            ));
            Some(r)
        } else {
            None
        };
        let mut vals: Vec<Reg> = Vec::new();
        match st {
            St::Sum { .. } => {
                for d in 0..l.fdim as usize {
                    let t = self.sum_total64(st, d);
                    vals.push(self.narrow(t));
                }
            }
            St::Lse {
                m, s: sums, base2, ..
            } => {
                for d in 0..m.len() {
                    if l.red == Red::SumSoftmaxWeight {
                        let b = &mut self.b;
                        let q = ops.bin(b, "div.rn", sums[1][d], sums[0][d]);
                        let z = ops.setp_imm(b, "eq", sums[0][d], 0.0);
                        let zero = ops.c(b, 0.0);
                        vals.push(ops.sel(b, zero, q, z));
                    } else if *base2 {
                        // (m + lg2 s) ln 2; m = +-inf: m.
                        let b = &mut self.b;
                        let lg = math::log2_approx_f32(b, sums[0][d]);
                        let t2 = ops.bin(b, "add.rn", m[d], lg);
                        let ln2 = ops.c(b, std::f64::consts::LN_2);
                        let t = ops.bin(b, "mul.rn", t2, ln2);
                        let inf = ops.un(b, "abs", m[d]);
                        let isinf = ops.setp_imm(b, "eq", inf, f64::INFINITY);
                        vals.push(ops.sel(b, m[d], t, isinf));
                    } else {
                        let b = &mut self.b;
                        let lg = math::log(b, p, sums[0][d], ops.mo);
                        let t = ops.bin(b, "add.rn", m[d], lg);
                        let inf = ops.un(b, "abs", m[d]);
                        let isinf = ops.setp_imm(b, "eq", inf, f64::INFINITY);
                        vals.push(ops.sel(b, m[d], t, isinf));
                    }
                }
            }
            St::Sel { v, i, .. } => {
                if let Some(irow) = irow {
                    for (c, r) in i.iter().enumerate() {
                        self.b
                            .emit(format!("st.global.u64 [{irow}+{}], {r}", c * 8));
                    }
                }
                if has_vals {
                    vals = v.clone();
                }
            }
        }
        if let Some(vrow) = vrow {
            for (c, r) in vals.iter().enumerate() {
                self.b
                    .emit(format!("st.global.{s} [{vrow}+{}], {r}", c as u64 * by));
            }
        }
    }

    /// Address of slot 0 of chunk `chunk` (u64) for row `row` in the
    /// partial-state buffer; slot `k` is `k * M * 8` bytes further.
    fn partial_base(&mut self, row: Reg, chunk: Reg) -> Reg {
        let slots = partial_slots(self.l.red, self.l.fdim, self.l.wdim) as u64;
        // ((chunk * S) * M + row) * 8 + partial
        let t = self.b.reg(Ty::B64);
        self.b.emit(format!("mul.lo.u64 {t}, {chunk}, {slots}"));
        let u = self.b.reg(Ty::B64);
        self.b
            .emit(format!("mad.lo.u64 {u}, {t}, {}, {row}", self.prm.m));
        let a = self.b.reg(Ty::B64);
        self.b
            .emit(format!("mad.lo.u64 {a}, {u}, 8, {}", self.prm.partial));
        a
    }

    fn slot_addr(&mut self, base: Reg, k: usize) -> Reg {
        if k == 0 {
            return base;
        }
        let a = self.b.reg(Ty::B64);
        self.b
            .emit(format!("mad.lo.u64 {a}, {}, {}, {base}", self.prm.m8, k));
        a
    }

    /// Stores the state of row `row` as chunk `chunk`'s partial state.
    pub(crate) fn state_store_partial(&mut self, st: &St, row: Reg, chunk: Reg) {
        let base = self.partial_base(row, chunk);
        let mut slots: Vec<(Reg, bool)> = Vec::new(); // (register, is index)
        match st {
            St::Sum { .. } => {
                for d in 0..self.l.fdim as usize {
                    let t = self.sum_total64(st, d);
                    slots.push((t, false));
                }
            }
            St::Lse { m, s, .. } => {
                for &r in m.iter().chain(s.iter().flatten()) {
                    let w = self.widen(r);
                    slots.push((w, false));
                }
            }
            St::Sel { v, i, .. } => {
                for &r in v {
                    let w = self.widen(r);
                    slots.push((w, false));
                }
                for &r in i {
                    slots.push((r, true));
                }
            }
        }
        for (k, (r, is_idx)) in slots.into_iter().enumerate() {
            let a = self.slot_addr(base, k);
            let ty = if is_idx { "u64" } else { "f64" };
            self.b.emit(format!("st.global.{ty} [{a}], {r}"));
        }
    }

    /// Merges chunk `chunk`'s partial state of row `row` into `st` (the
    /// chunks are merged in increasing order).
    pub(crate) fn state_merge_chunk(&mut self, st: &St, row: Reg, chunk: Reg) {
        let base = self.partial_base(row, chunk);
        let ops = self.ops_copy();
        let p = ops.p;
        let load64 = |c: &mut Self, k: usize| -> Reg {
            let a = c.slot_addr(base, k);
            let r = c.b.reg(Ty::F64);
            c.b.emit(format!("ld.global.f64 {r}, [{a}]"));
            r
        };
        match st {
            St::Sum { acc64, .. } => {
                for (d, a64) in acc64.iter().enumerate() {
                    let x = load64(self, d);
                    self.b.emit(format!("add.rn.f64 {a64}, {a64}, {x}"));
                }
            }
            St::Lse { m, s, base2, .. } => {
                let cols = m.len();
                for d in 0..cols {
                    let m2w = load64(self, d);
                    let m2 = self.narrow(m2w);
                    let mut s2 = Vec::new();
                    for q in 0..s.len() {
                        let x = load64(self, cols * (q + 1) + d);
                        s2.push(self.narrow(x));
                    }
                    // (m, s) <- merge((m, s), (m2, s2)) with one exponential.
                    let b = &mut self.b;
                    let gt = ops.setp(b, "gt", m2, m[d]);
                    let a = ops.bin(b, "sub.rn", m[d], m2);
                    let c = ops.bin(b, "sub.rn", m2, m[d]);
                    let t = ops.sel(b, a, c, gt);
                    let e = if *base2 {
                        math::exp2_approx_f32(b, t)
                    } else {
                        math::exp(b, p, t, ops.mo)
                    };
                    let skip = ops.setp_imm(b, "eq", m2, f64::NEG_INFINITY);
                    for q in 0..s.len() {
                        let sr = s[q][d];
                        let g1 = ops.fma(b, sr, e, s2[q]);
                        let g2 = ops.fma(b, s2[q], e, sr);
                        let g = ops.sel(b, g1, g2, gt);
                        b.emit(format!("selp.{} {sr}, {sr}, {g}, {skip}", p.suffix()));
                    }
                    b.emit(format!(
                        "selp.{} {}, {m2}, {}, {gt}",
                        p.suffix(),
                        m[d],
                        m[d]
                    ));
                }
            }
            St::Sel { v, i, .. } => {
                let n = v.len();
                let fdim = self.l.fdim as usize;
                for c in 0..n {
                    let xw = load64(self, c);
                    let x = self.narrow(xw);
                    let ia = self.slot_addr(base, n + c);
                    let j = self.b.reg(Ty::B64);
                    self.b.emit(format!("ld.global.u64 {j}, [{ia}]"));
                    match self.l.red {
                        Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => {
                            self.kmin_insert(v, i, k as usize, fdim, c % fdim, x, j);
                        }
                        r => {
                            let cmp = if r.is_max() { "gt" } else { "lt" };
                            let pr = ops.setp(&mut self.b, cmp, x, v[c]);
                            self.b.emit(format!(
                                "selp.{} {}, {x}, {}, {pr}",
                                p.suffix(),
                                v[c],
                                v[c]
                            ));
                            self.b
                                .emit(format!("selp.b64 {}, {j}, {}, {pr}", i[c], i[c]));
                        }
                    }
                }
            }
        }
    }
}
