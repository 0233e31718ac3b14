//! Reduction states: per-lane updates in SIMD registers, folding of the lanes
//! into an f64 per-row state, merging of row states computed on different
//! ranges of the reduced index, and the final output.
//!
//! State layouts (identical for lanes and rows; see
//! `keops_abi::acc_len`):
//! - `Sum`: `[sum; D]`, `[Kahan compensation; D]`;
//! - `LogSumExp`: `[max; D]`, `[sum of exp(f - max); D]`;
//! - `LogSumExpWeight`: `[max; Dw]`, `[sum of exp(f - max) w; Dw]`;
//! - `SumSoftmaxWeight`: `[max; Dw]`, `[sum of exp(f - max); Dw]`, `[sum of exp(f - max) w; Dw]`;
//! - min/max family: `[value; D]`, `[index; D]`;
//! - K-reductions: `[value; K*D]`, `[index; K*D]`, rank-major (`r*D + d`).
//!
//! Lane indices are floats relative to the start of the range being reduced
//! (exact: ranges are at most 2^24 long); row indices are absolute, stored as
//! f64 (exact below 2^53), `+inf` meaning "none".

use crate::simd::{Pack, Real};
use crate::stage::{CpuStage, Red, StageInfo};

#[inline(always)]
fn splat<P: Pack>(x: f64) -> P {
    P::splat(<P::Elem as Real>::from_f64(x))
}

/// Initial lane state.
#[inline(always)]
pub(crate) fn init_lanes<P: Pack>(info: &StageInfo, acc: &mut [P]) {
    let fdim = info.fdim;
    match info.red {
        Red::Sum => acc.iter_mut().for_each(|a| *a = splat(0.0)),
        Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
            let d = if info.red == Red::LogSumExp {
                fdim
            } else {
                info.wdim
            };
            for (k, a) in acc.iter_mut().enumerate() {
                *a = if k < d {
                    splat(f64::NEG_INFINITY)
                } else {
                    splat(0.0)
                };
            }
        }
        r => {
            let n = (r.k() as usize) * fdim;
            let v = if r.is_max() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            for (k, a) in acc.iter_mut().enumerate() {
                *a = if k < n {
                    splat(v)
                } else {
                    splat(f64::INFINITY)
                };
            }
        }
    }
}

/// Initial row state.
#[inline(always)]
pub(crate) fn init_row(info: &StageInfo, row: &mut [f64]) {
    let fdim = info.fdim;
    match info.red {
        Red::Sum => row.iter_mut().for_each(|a| *a = 0.0),
        Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
            let d = if info.red == Red::LogSumExp {
                fdim
            } else {
                info.wdim
            };
            for (k, a) in row.iter_mut().enumerate() {
                *a = if k < d { f64::NEG_INFINITY } else { 0.0 };
            }
        }
        r => {
            let n = (r.k() as usize) * fdim;
            let v = if r.is_max() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            for (k, a) in row.iter_mut().enumerate() {
                *a = if k < n { v } else { f64::INFINITY };
            }
        }
    }
}

/// One online log-sum-exp step on `(m, s)` with value `f` and weight `w`,
/// using a single exponential: `e = exp(-|f - m|)`.
#[inline(always)]
pub(crate) fn lse_step<P: Pack>(m: &mut P, sums: &mut [(&mut P, P)], f: P) {
    let gt = f.cmp_gt(*m);
    let e = crate::ops::exp(P::select(gt, *m - f, f - *m));
    // A -inf value (empty or masked lane) changes nothing: exp(-inf - m) = 0
    // except when m = -inf too, where f - m is NaN; guard it.
    let skip = f.cmp_eq(splat(f64::NEG_INFINITY));
    for (s, w) in sums.iter_mut() {
        let grown = P::select(gt, (**s).mul_add(e, *w), e.mul_add(*w, **s));
        **s = P::select(skip, **s, grown);
    }
    *m = P::select(gt, f, *m);
}

/// Updates a lane state with the pair outputs `out` (formula then weight) at
/// lane indices `jl`. With `valid`, lanes outside the range (the tail pack)
/// leave the state unchanged: their outputs are replaced by neutral values
/// (0 for the factors of a sum, so the product is exactly 0 even where a
/// factor is inf; -inf for the log-sum-exp family; +inf / -inf for
/// min / max), weights by 0.
/// A stage's reduction, as associated constants: a branch on one of them
/// is resolved when the stage is monomorphised, so rustc generates no code
/// (and LLVM inlines no pair function) on the side a stage never takes.
/// Branching on `S::INFO.red` at run time would give the same machine code
/// after optimisation, at several times the LLVM work for every formula.
/// Implemented by every compiled stage, and by [`RedKind`] for the stages
/// built at run time (`cpu::exec`).
pub(crate) trait RedConsts {
    /// A sum stage.
    const SUM: bool;
    /// Log-sum-exp.
    const LSE: bool;
    /// Weighted log-sum-exp.
    const LSE_WEIGHT: bool;
    /// Softmax-weighted sum.
    const SOFTMAX: bool;
    /// The min/max family.
    const SELECT: bool;
    /// The maximum family.
    const MAX: bool;
    /// The K-reductions.
    const KMIN: bool;
    /// A stage with the dot-product form.
    const DOT: bool;
}

impl<S: CpuStage> RedConsts for S {
    const SUM: bool = matches!(Self::INFO.red, Red::Sum);
    const LSE: bool = matches!(Self::INFO.red, Red::LogSumExp);
    const LSE_WEIGHT: bool = matches!(Self::INFO.red, Red::LogSumExpWeight);
    const SOFTMAX: bool = matches!(Self::INFO.red, Red::SumSoftmaxWeight);
    const SELECT: bool = Self::INFO.red.is_select();
    const MAX: bool = Self::INFO.red.is_max();
    const KMIN: bool = Self::INFO.red.is_kmin();
    const DOT: bool = !Self::INFO.dot_of.is_empty();
}

/// The reduction kinds of stages built at run time, as [`RedConsts`]:
/// `RedKind<K>` with `K` one of the constants below (no dot-product form).
pub(crate) struct RedKind<const K: u8>;

/// [`RedKind`] of a sum.
pub(crate) const KIND_SUM: u8 = 0;
/// [`RedKind`] of a log-sum-exp.
pub(crate) const KIND_LSE: u8 = 1;
/// [`RedKind`] of a weighted log-sum-exp.
pub(crate) const KIND_LSE_WEIGHT: u8 = 2;
/// [`RedKind`] of a softmax-weighted sum.
pub(crate) const KIND_SOFTMAX: u8 = 3;
/// [`RedKind`] of the minimum family.
pub(crate) const KIND_MIN: u8 = 4;
/// [`RedKind`] of the maximum family.
pub(crate) const KIND_MAX: u8 = 5;
/// [`RedKind`] of the K-reductions.
pub(crate) const KIND_KMIN: u8 = 6;

/// The [`RedKind`] constant of a reduction.
pub(crate) fn kind_of(red: Red) -> u8 {
    match red {
        Red::Sum => KIND_SUM,
        Red::LogSumExp => KIND_LSE,
        Red::LogSumExpWeight => KIND_LSE_WEIGHT,
        Red::SumSoftmaxWeight => KIND_SOFTMAX,
        r if r.is_kmin() => KIND_KMIN,
        r if r.is_max() => KIND_MAX,
        _ => KIND_MIN,
    }
}

impl<const K: u8> RedConsts for RedKind<K> {
    const SUM: bool = K == KIND_SUM;
    const LSE: bool = K == KIND_LSE;
    const LSE_WEIGHT: bool = K == KIND_LSE_WEIGHT;
    const SOFTMAX: bool = K == KIND_SOFTMAX;
    const SELECT: bool = K == KIND_MIN || K == KIND_MAX;
    const MAX: bool = K == KIND_MAX;
    const KMIN: bool = K == KIND_KMIN;
    const DOT: bool = false;
}

#[inline(always)]
pub(crate) fn update<S: RedConsts, P: Pack>(
    info: &StageInfo,
    kahan: bool,
    acc: &mut [P],
    out: &[P],
    jl: P,
    valid: Option<P::Mask>,
    tau: &[P],
) {
    let fdim = info.fdim;
    let neutral: f64 = if S::SUM {
        0.0
    } else if S::LSE || S::LSE_WEIGHT || S::SOFTMAX || S::MAX {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let at = |k: usize| -> P {
        match valid {
            None => out[k],
            Some(m) => P::select(m, out[k], splat(if k < fdim { neutral } else { 0.0 })),
        }
    };
    if S::SUM {
        // The pair outputs of a sum stage are factor pairs: component d
        // is `at(d) * at(fdim + d)`, accumulated with one FMA.
        for d in 0..fdim {
            if kahan {
                let y = at(d) * at(fdim + d) - acc[fdim + d];
                let t = acc[d] + y;
                acc[fdim + d] = (t - acc[d]) - y;
                acc[d] = t;
            } else {
                acc[d] = at(d).mul_add(at(fdim + d), acc[d]);
            }
        }
    } else if S::LSE {
        for d in 0..fdim {
            let (m, rest) = acc.split_at_mut(fdim);
            let one: P = splat(1.0);
            lse_step(&mut m[d], &mut [(&mut rest[d], one)], at(d));
        }
    } else if S::LSE_WEIGHT {
        let wd = info.wdim;
        for d in 0..wd {
            let f = if fdim == 1 { at(0) } else { at(d) };
            let w = at(fdim + d);
            let (m, rest) = acc.split_at_mut(wd);
            lse_step(&mut m[d], &mut [(&mut rest[d], w)], f);
        }
    } else if S::SOFTMAX {
        let wd = info.wdim;
        for d in 0..wd {
            let f = if fdim == 1 { at(0) } else { at(d) };
            let w = at(fdim + d);
            let (m, rest) = acc.split_at_mut(wd);
            let (den, num) = rest.split_at_mut(wd);
            let one: P = splat(1.0);
            lse_step(&mut m[d], &mut [(&mut den[d], one), (&mut num[d], w)], f);
        }
    } else if S::SELECT {
        let max = S::MAX;
        for d in 0..fdim {
            let v = at(d);
            let better = if max {
                v.cmp_gt(acc[d])
            } else {
                v.cmp_lt(acc[d])
            };
            acc[d] = P::select(better, v, acc[d]);
            acc[fdim + d] = P::select(better, jl, acc[fdim + d]);
        }
    } else {
        let k = info.red.k() as usize;
        let kd = k * fdim;
        for d in 0..fdim {
            let v = at(d);
            // Threshold test against the current K-th value of each lane
            // and the row-wide bound `tau` (see `kmin_bound`).
            let lane_kth = acc[(k - 1) * fdim + d];
            let thr = if tau.is_empty() {
                lane_kth
            } else {
                P::min(lane_kth, tau[d])
            };
            if !P::mask_any(v.cmp_lt(thr)) {
                continue;
            }
            let mut cv = v;
            let mut ci = jl;
            for rank in 0..k {
                let pos = rank * fdim + d;
                let cur_v = acc[pos];
                let cur_i = acc[kd + pos];
                let lt = cv.cmp_lt(cur_v);
                acc[pos] = P::select(lt, cv, cur_v);
                acc[kd + pos] = P::select(lt, ci, cur_i);
                cv = P::select(lt, cur_v, cv);
                ci = P::select(lt, cur_i, ci);
            }
        }
    }
}

#[inline(always)]
fn lanes<P: Pack>(p: P) -> ([P::Elem; 16], usize) {
    let mut buf = [<P::Elem as Default>::default(); 16];
    p.store(&mut buf[..P::LANES]);
    (buf, P::LANES)
}

/// Combines `(m2, s2...)` into `(m1, s1...)` (log-sum-exp states in f64).
#[inline(always)]
fn lse_merge(m1: &mut f64, s1: &mut [&mut f64], m2: f64, s2: &[f64]) {
    // An empty state (-inf) adds nothing, unless a NaN term reached it: a
    // lane whose only finite-or-not terms were NaN keeps max = -inf and a
    // NaN sum, and the NaN must propagate as it does on the scalar level
    // and the GPU.
    if m2 == f64::NEG_INFINITY && !s2.iter().any(|s| s.is_nan()) {
        return;
    }
    if *m1 == f64::NEG_INFINITY {
        *m1 = m2;
        for (a, &b) in s1.iter_mut().zip(s2) {
            **a = b;
        }
        return;
    }
    let m = m1.max(m2);
    let (e1, e2) = ((*m1 - m).exp(), (m2 - m).exp());
    for (a, &b) in s1.iter_mut().zip(s2) {
        **a = **a * e1 + b * e2;
    }
    *m1 = m;
}

/// Inserts `(v, i)` into a sorted K-list of a row state (value then index order).
#[inline(always)]
fn kmin_insert(row: &mut [f64], k: usize, fdim: usize, d: usize, v: f64, i: f64) {
    let kd = k * fdim;
    let last = (k - 1) * fdim + d;
    let before = |av: f64, ai: f64, bv: f64, bi: f64| av < bv || (av == bv && ai < bi);
    if !before(v, i, row[last], row[kd + last]) {
        return;
    }
    let mut r = k - 1;
    while r > 0 {
        let p = (r - 1) * fdim + d;
        if before(v, i, row[p], row[kd + p]) {
            row[r * fdim + d] = row[p];
            row[kd + r * fdim + d] = row[kd + p];
            r -= 1;
        } else {
            break;
        }
    }
    row[r * fdim + d] = v;
    row[kd + r * fdim + d] = i;
}

/// A bound on the final K-th value of a K-reduction's row, from its lane
/// lists: the K-th smallest value among the lanes' best candidates (ranks
/// `0..R` of every lane, `R = ceil(K / lanes) + 1`, so at least K of them;
/// the top K of a row are spread over the lanes, so this is nearly the
/// K-th smallest of all candidates, at a fraction of the cost). At least K
/// candidates, all with smaller indices than any later one, are at or below
/// it, so a later value `v >= tau` can never enter the top K (ties go to the
/// earlier index). Testing `v < tau` instead of only `v <` the lane's own
/// K-th value (the K-th of a sixteenth of the data) rejects almost every
/// candidate once the first tile has been seen. `tau[d]` is splatted.
pub(crate) fn kmin_bound<P: Pack>(info: &StageInfo, acc: &[P], tau: &mut [P]) {
    let fdim = info.fdim;
    let k = info.red.k() as usize;
    let ranks = k.min(k.div_ceil(P::LANES) + 1);
    let total = ranks * P::LANES;
    // Called for every row a few times per segment: no allocation for the
    // usual sizes.
    let mut stack = [<P::Elem as Default>::default(); 64];
    let mut heap = Vec::new();
    let vals: &mut [P::Elem] = if total <= stack.len() {
        &mut stack[..total]
    } else {
        heap.resize(total, <P::Elem as Default>::default());
        &mut heap
    };
    for d in 0..fdim {
        for rank in 0..ranks {
            acc[rank * fdim + d].store(&mut vals[rank * P::LANES..(rank + 1) * P::LANES]);
        }
        // NaN never enters a K-list (unfilled slots hold +inf).
        tau[d] = P::splat(kth_smallest(vals, k));
    }
}

/// The `k`-th smallest of `vals` (`1 <= k <= vals.len()`, no NaN): a
/// sorted list of the `k` best, filled by insertion (most values are
/// rejected by one comparison), for the small `k` of K-reductions.
fn kth_smallest<E: Real>(vals: &mut [E], k: usize) -> E {
    let mut best = [E::INFINITY; 64];
    if k > best.len() {
        let (_, kth, _) = vals.select_nth_unstable_by(k - 1, |a, b| {
            a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
        });
        return *kth;
    }
    let best = &mut best[..k];
    for &v in vals.iter() {
        // (No NaN here: `v < best` is `!(v >= best)`.)
        if v >= best[k - 1] {
            continue;
        }
        let mut r = k - 1;
        while r > 0 && v < best[r - 1] {
            best[r] = best[r - 1];
            r -= 1;
        }
        best[r] = v;
    }
    best[k - 1]
}

/// Folds the lanes of `acc` into the f64 row state and resets the lanes.
/// `base` is the absolute index that lane indices are relative to.
#[inline(always)]
pub(crate) fn flush<P: Pack>(info: &StageInfo, acc: &mut [P], row: &mut [f64], base: usize) {
    let fdim = info.fdim;
    let b = base as f64;
    match info.red {
        Red::Sum => {
            for d in 0..fdim {
                let s = acc[d].hsum().to_f64() - acc[fdim + d].hsum().to_f64();
                row[d] += s;
            }
        }
        Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
            let d_count = if info.red == Red::LogSumExp {
                fdim
            } else {
                info.wdim
            };
            let nsum = if info.red == Red::SumSoftmaxWeight {
                2
            } else {
                1
            };
            for d in 0..d_count {
                let (mv, n) = lanes(acc[d]);
                let s0 = lanes(acc[d_count + d]).0;
                let s1 = if nsum == 2 {
                    lanes(acc[2 * d_count + d]).0
                } else {
                    s0
                };
                for l in 0..n {
                    let m2 = mv[l].to_f64();
                    let (rm, rest) = row.split_at_mut(d_count);
                    if nsum == 2 {
                        let (den, num) = rest.split_at_mut(d_count);
                        lse_merge(
                            &mut rm[d],
                            &mut [&mut den[d], &mut num[d]],
                            m2,
                            &[s0[l].to_f64(), s1[l].to_f64()],
                        );
                    } else {
                        lse_merge(&mut rm[d], &mut [&mut rest[d]], m2, &[s0[l].to_f64()]);
                    }
                }
            }
        }
        r if r.is_select() => {
            let max = r.is_max();
            for d in 0..fdim {
                let (vals, n) = lanes(acc[d]);
                let (idx, _) = lanes(acc[fdim + d]);
                for l in 0..n {
                    let v = vals[l].to_f64();
                    let i = b + idx[l].to_f64();
                    let better = if max {
                        v > row[d] || (v == row[d] && v > f64::NEG_INFINITY && i < row[fdim + d])
                    } else {
                        v < row[d] || (v == row[d] && v < f64::INFINITY && i < row[fdim + d])
                    };
                    if better {
                        row[d] = v;
                        row[fdim + d] = i;
                    }
                }
            }
        }
        r => {
            let k = r.k() as usize;
            let kd = k * fdim;
            for d in 0..fdim {
                for rank in 0..k {
                    let pos = rank * fdim + d;
                    let (vals, n) = lanes(acc[pos]);
                    let (idx, _) = lanes(acc[kd + pos]);
                    for l in 0..n {
                        let v = vals[l].to_f64();
                        if v < f64::INFINITY {
                            kmin_insert(row, k, fdim, d, v, b + idx[l].to_f64());
                        }
                    }
                }
            }
        }
    }
    init_lanes(info, acc);
}

/// Merges the row state `from` (computed on a later range of the reduced
/// index) into `into`.
pub(crate) fn merge_rows(info: &StageInfo, into: &mut [f64], from: &[f64]) {
    let fdim = info.fdim;
    match info.red {
        Red::Sum => {
            for d in 0..fdim {
                into[d] += from[d];
            }
        }
        Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
            let dc = if info.red == Red::LogSumExp {
                fdim
            } else {
                info.wdim
            };
            for d in 0..dc {
                let (rm, rest) = into.split_at_mut(dc);
                if info.red == Red::SumSoftmaxWeight {
                    let (den, num) = rest.split_at_mut(dc);
                    lse_merge(
                        &mut rm[d],
                        &mut [&mut den[d], &mut num[d]],
                        from[d],
                        &[from[dc + d], from[2 * dc + d]],
                    );
                } else {
                    lse_merge(&mut rm[d], &mut [&mut rest[d]], from[d], &[from[dc + d]]);
                }
            }
        }
        r if r.is_select() => {
            for d in 0..fdim {
                let better = if r.is_max() {
                    from[d] > into[d]
                } else {
                    from[d] < into[d]
                };
                if better {
                    into[d] = from[d];
                    into[fdim + d] = from[fdim + d];
                }
            }
        }
        r => {
            let k = r.k() as usize;
            let kd = k * fdim;
            for d in 0..fdim {
                for rank in 0..k {
                    let pos = rank * fdim + d;
                    if from[pos] < f64::INFINITY {
                        kmin_insert(into, k, fdim, d, from[pos], from[kd + pos]);
                    }
                }
            }
        }
    }
}

fn to_index(x: f64) -> usize {
    if x.is_finite() {
        x as usize
    } else {
        usize::MAX
    }
}

/// Writes the outputs of one row from its state.
pub(crate) fn finalize<T: Real>(info: &StageInfo, row: &[f64], vals: &mut [T], idx: &mut [usize]) {
    let fdim = info.fdim;
    match info.red {
        Red::Sum => {
            for d in 0..fdim {
                vals[d] = T::from_f64(row[d]);
            }
        }
        Red::LogSumExp | Red::LogSumExpWeight => {
            let dc = if info.red == Red::LogSumExp {
                fdim
            } else {
                info.wdim
            };
            for d in 0..dc {
                let m = row[d];
                vals[d] = T::from_f64(if m.is_infinite() {
                    m
                } else {
                    m + row[dc + d].ln()
                });
            }
        }
        Red::SumSoftmaxWeight => {
            let dc = info.wdim;
            for d in 0..dc {
                let den = row[dc + d];
                vals[d] = T::from_f64(if den == 0.0 {
                    0.0
                } else {
                    row[2 * dc + d] / den
                });
            }
        }
        r => {
            let n = (r.k() as usize) * fdim;
            let (has_vals, has_idx) = r.outputs();
            for c in 0..n {
                if has_vals {
                    vals[c] = T::from_f64(row[c]);
                }
                if has_idx {
                    idx[c] = to_index(row[n + c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kth_smallest;

    #[test]
    fn kth_smallest_matches_sorting() {
        let mut rng = fastrand::Rng::with_seed(7);
        for len in [1usize, 2, 5, 16, 32, 48, 100] {
            for _ in 0..20 {
                let mut v: Vec<f32> = (0..len)
                    .map(|_| {
                        if rng.u8(..10) == 0 {
                            f32::INFINITY
                        } else {
                            (rng.u8(..20) as f32) * 0.5
                        }
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(|a, b| a.total_cmp(b));
                for k in [1, len / 2 + 1, len, 70.min(len)] {
                    assert_eq!(
                        kth_smallest(&mut v.clone(), k),
                        sorted[k - 1],
                        "{v:?} k={k}"
                    );
                }
                assert_eq!(kth_smallest(&mut v, len), sorted[len - 1]);
            }
        }
    }
}
