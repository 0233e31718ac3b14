//! Exponential family: `exp`, `expm1`, `sinh`, `cosh`, `tanh`.
//!
//! All share one Cody–Waite reduction `x = j ln2 + r`, `|r| <= ln2/2`,
//! `j = rint(x / ln2)` (ln2 in two parts, the high part short enough that
//! `j * ln2_hi` is exact), a minimax polynomial for `e^r` on that interval,
//! and a two-step scaling by `2^j` ([`E::ldexp`]) that rounds subnormal
//! results once and reaches twice the exponent range.

use super::ops::{int, E};
use crate::ptx::{Prec, Reg, Ty};

/// `e^r = 1 + r + r^2 Q(r)` on |r| <= ln2/2: f32, max relative error 2^-28.2.
const EXP_Q_F32: [u64; 5] = [0x3EFFFFFE, 0x3E2AAA46, 0x3D2AAC2C, 0x3C091EF0, 0x3AB563A7];
/// Same, f64 (degree 11), max relative error 2^-57.3.
pub(crate) const EXP_Q_F64: [u64; 10] = [
    0x3FE000000000000A,
    0x3FC5555555555503,
    0x3FA5555555550605,
    0x3F81111111124CE1,
    0x3F56C16C184B5EE8,
    0x3F2A01A013D11A54,
    0x3EFA01998897D326,
    0x3EC71DEF01B243E9,
    0x3E928AEE6C3E5404,
    0x3E5ADECF0948BF78,
];

/// `expm1(r) = r + r^2 Q(r)` on |r| <= ln2/2: f32 (relative error 2^-31.0).
const EXPM1_Q_F32: [u64; 6] = [
    0x3F000000, 0x3E2AAAAA, 0x3D2AAA75, 0x3C0889D6, 0x3AB6A657, 0x394E2F88,
];
/// Same, f64 (relative error 2^-57.4).
const EXPM1_Q_F64: [u64; 11] = [
    0x3FE0000000000001,
    0x3FC5555555555557,
    0x3FA5555555554B1B,
    0x3F811111111105EF,
    0x3F56C16C16FCF4BD,
    0x3F2A01A01A8D994C,
    0x3EFA019EFED8CE0B,
    0x3EC71DE09D446A80,
    0x3E92809D278A05C7,
    0x3E5AF42E43140F20,
    0x3E1CE9F42277C1FA,
];

/// `sinh(x) = x + x^3 S(x^2)` on |x| <= 1: f32 (relative error 2^-31.6).
const SINH_S_F32: [u64; 4] = [0x3E2AAAAB, 0x3C088870, 0x3950115E, 0x363AB60F];
/// Same, f64 (relative error 2^-61.8).
const SINH_S_F64: [u64; 7] = [
    0x3FC5555555555556,
    0x3F8111111111101E,
    0x3F2A01A01A03726A,
    0x3EC71DE3A3B0696F,
    0x3E5AE646FF54F4F9,
    0x3DE6116F46E63602,
    0x3D6B5C8B11E78FE5,
];

/// `tanh(x) = x + x^3 T(x^2)` on |x| <= 0.55: f32 (relative error 2^-33.0).
const TANH_T_F32: [u64; 6] = [
    0xBEAAAAAA, 0x3E088841, 0xBD5CF9C9, 0x3CB1DC21, 0xBC0641FE, 0x3B0C9E95,
];
/// Same, f64 (relative error 2^-60.6).
const TANH_T_F64: [u64; 11] = [
    0xBFD555555555554F,
    0x3FC1111111110790,
    0xBFABA1BA1B97CB11,
    0x3F9664F48593F519,
    0xBF8226E2F0E04A61,
    0x3F6D6D29A8B815CE,
    0xBF57D8FC5E6757C5,
    0x3F434833A779586A,
    0xBF2E96B0C3F15258,
    0x3F15D667DD78E5C4,
    0xBEF46EE08875600E,
];

/// Below this |x|, tanh uses its odd polynomial.
const TANH_SMALL: f64 = 0.55;

/// Cody–Waite constants: (log2 e, ln2 high part, ln2 low part) as bits.
fn ln2_parts(p: Prec) -> (u64, u64, u64) {
    match p {
        // 0x3F317200 has 16 significant bits: j * hi is exact for |j| < 2^8.
        Prec::F32 => (0x3FB8AA3B, 0x3F317200, 0x35BFBE8E),
        // 0x3FE62E42FEE00000 has 32 significant bits.
        Prec::F64 => (0x3FF71547652B82FE, 0x3FE62E42FEE00000, 0x3DEA39EF35793C76),
    }
}

/// The reduction: returns `(j as a float, r)` with `x = j ln2 + r`.
pub(crate) fn reduce(e: &mut E, x: Reg) -> (Reg, Reg) {
    let (l2e, hi, lo) = ln2_parts(e.p);
    let t = e.mul(x, e.kb(l2e));
    let j = e.rint(t);
    let nhi = e.kb(hi ^ sign_bit(e.p));
    let nlo = e.kb(lo ^ sign_bit(e.p));
    let r = e.fma(j, nhi, x);
    let r = e.fma(j, nlo, r);
    (j, r)
}

fn sign_bit(p: Prec) -> u64 {
    match p {
        Prec::F32 => 0x8000_0000,
        Prec::F64 => 0x8000_0000_0000_0000,
    }
}

/// `e^r` for |r| <= ln2/2 (polynomial part), `1 + r (1 + r Q(r))`.
pub(crate) fn exp_poly(e: &mut E, r: Reg) -> Reg {
    let q = match e.p {
        Prec::F32 => e.horner(r, &EXP_Q_F32),
        Prec::F64 => e.horner(r, &EXP_Q_F64),
    };
    let one = e.k(1.0);
    let a = e.fma(r, q, one.clone());
    e.fma(r, a, one)
}

/// Clamps `x` into `[lo, hi]`, keeping NaN.
pub(crate) fn clamp(e: &mut E, x: Reg, lo: f64, hi: f64) -> Reg {
    let p = e.setp("lt", x, e.k(lo));
    let x1 = e.sel(e.k(lo), x, p);
    let q = e.setp("gt", x1, e.k(hi));
    e.sel(e.k(hi), x1, q)
}

/// Overflow / underflow clamps for exp: beyond them the result is inf / 0.
fn exp_limits(p: Prec) -> (f64, f64) {
    match p {
        Prec::F32 => (-104.0, 89.0),
        Prec::F64 => (-746.0, 710.0),
    }
}

/// Accurate `e^x`.
pub(crate) fn exp_accurate(e: &mut E, x: Reg) -> Reg {
    let (lo, hi) = exp_limits(e.p);
    let xc = clamp(e, x, lo, hi);
    let (j, r) = reduce(e, xc);
    let p = exp_poly(e, r);
    let ji = e.cvt_s32(j);
    e.ldexp(p, ji)
}

/// Default f32 `e^x` on the special-function unit, 6 instructions:
///
/// ```text
/// t  = rz(x * log2e)                       // FMUL.RZ
/// c  = (x - t ln2_hi) - t ln2_lo           // 2 FFMA: x - t ln2, |c| <= ulp(t) ln2
/// c' = min(c, 1)                           // FMNMX: NaN (x = +-inf) -> 1
/// r  = ex2.approx.ftz(t)                   // MUFU.EX2
/// e^x = r e^c ~ fma(r, c', r)              // FFMA (c^2/2 <= 2^-35 dropped)
/// ```
///
/// `t` is rounded toward zero and `log2e` (f32) is below the true value,
/// so `c >= 0` whenever `x > 0`: an overflowing `r = inf` is never
/// multiplied by a negative correction (which would give `inf - inf`).
/// Infinite `x` make `c` NaN, which `min` (NaN-ignoring) replaces by 1:
/// `e^inf = inf * 1 + inf`, `e^-inf = 0`. NaN propagates through `r`.
/// For |x| > 2.36e38, `t` is +-FLT_MAX (round toward zero), `c` is large
/// and capped at 1: `inf` or `0`, as they should be.
///
/// Error: with an exact `ex2` this routine is within 1 ulp (the rounding
/// of `ex2` and of the final fma; measured 0.8x ulp through the
/// simulator, which computes `ex2.approx` correctly rounded); on the
/// hardware add the error of `ex2.approx.ftz.f32` (NVIDIA: relative error
/// below 2^-22, i.e. 2 ulp). Results below 2^-126 (x < -87.34) are flushed
/// to zero by `.ftz` (absolute error below 2^-126), as CUDA's `expf` with
/// `-ftz=true`.
pub(crate) fn exp_sfu_f32(e: &mut E, x: Reg) -> Reg {
    let (l2e, hi, lo) = ln2_parts(Prec::F32);
    let t = e.op(Ty::F32, "mul.rz.f32", &[x.into(), e.kb(l2e)]);
    let c = e.fma(t, e.kb(hi ^ 0x8000_0000), x);
    let c = e.fma(t, e.kb(lo ^ 0x8000_0000), c);
    let c = e.op(Ty::F32, "min.f32", &[c.into(), e.k(1.0)]);
    let r = e.op(Ty::F32, "ex2.approx.ftz.f32", &[t.into()]);
    e.fma(r, c, r)
}

/// Fast f32 `e^x`: `ex2.approx.ftz(x log2 e)`.
pub(crate) fn exp_fast_f32(e: &mut E, x: Reg) -> Reg {
    let t = e.mul(x, e.kb(0x3FB8AA3B));
    e.op(Ty::F32, "ex2.approx.ftz.f32", &[t.into()])
}

/// Accurate `e^x - 1`.
pub(crate) fn expm1(e: &mut E, x: Reg) -> Reg {
    let (lo, hi, maxe) = match e.p {
        Prec::F32 => (-30.0, 89.0, 127),
        Prec::F64 => (-60.0, 710.0, 1023),
    };
    let xc = clamp(e, x, lo, hi);
    let (l2e, l2hi, l2lo) = ln2_parts(e.p);
    let t = e.mul(xc, e.kb(l2e));
    let j = e.rint(t);
    // r + c = x - j ln2, with the rounding error c of r kept.
    let rh = e.fma(j, e.kb(l2hi ^ sign_bit(e.p)), xc);
    let rl = e.mul(j, e.kb(l2lo));
    let r = e.sub(rh, rl);
    let d = e.sub(rh, r);
    let c = e.sub(d, rl);
    // u = expm1(r + c) ~ r + r^2 Q(r) + c (1 + r)
    let q = match e.p {
        Prec::F32 => e.horner(r, &EXPM1_Q_F32),
        Prec::F64 => e.horner(r, &EXPM1_Q_F64),
    };
    let r2 = e.mul(r, r);
    let cc = e.fma(c, r, c);
    let tt = e.fma(r2, q, cc);
    let u = e.add(r, tt);
    // expm1(x) = 2^j u + (2^j - 1), with 2^j capped at the largest power
    // of two and a final doubling for j = maxe + 1.
    let ji = e.cvt_s32(j);
    let big = e.isetp("gt", "s32", ji, int(maxe));
    let jc = e.i32op("min.s32", &[ji.into(), int(maxe)]);
    let s = e.pow2i(jc);
    let one = e.k(1.0);
    let sm1 = e.sub(s, one);
    let v = e.fma(s, u, sm1);
    let v2 = e.add(v, v);
    let v = e.sel(v2, v, big);
    // expm1 has the sign of x (keeps -0).
    e.copysign(v, x)
}

/// `(e^|x| / 2, e^-|x| / 2)` for the hyperbolic functions, from one
/// reduction and two polynomial evaluations.
fn half_exps(e: &mut E, a: Reg) -> (Reg, Reg) {
    let hi = match e.p {
        Prec::F32 => 90.0,
        Prec::F64 => 711.0,
    };
    let ac = clamp(e, a, 0.0, hi);
    let (j, r) = reduce(e, ac);
    let pp = exp_poly(e, r);
    let nr = e.neg(r);
    let pm = exp_poly(e, nr);
    let ji = e.cvt_s32(j);
    let k1 = e.i32op("sub.s32", &[ji.into(), int(1)]);
    let k2 = e.i32op("sub.s32", &[int(-1), ji.into()]);
    let h = e.ldexp(pp, k1);
    let l = e.ldexp(pm, k2);
    (h, l)
}

/// Hyperbolic cosine: `e^|x|/2 + e^-|x|/2`.
pub(crate) fn cosh(e: &mut E, x: Reg) -> Reg {
    let a = e.abs(x);
    let (h, l) = half_exps(e, a);
    e.add(h, l)
}

/// Hyperbolic sine: odd polynomial for |x| < 1, else `e^|x|/2 - e^-|x|/2`.
pub(crate) fn sinh(e: &mut E, x: Reg) -> Reg {
    let a = e.abs(x);
    let (h, l) = half_exps(e, a);
    let big = e.sub(h, l);
    let big = e.copysign(big, x);
    let z = e.mul(x, x);
    let s = match e.p {
        Prec::F32 => e.horner(z, &SINH_S_F32),
        Prec::F64 => e.horner(z, &SINH_S_F64),
    };
    let xz = e.mul(x, z);
    let small = e.fma(xz, s, x);
    let p = e.setp("lt", a, e.k(1.0));
    e.sel(small, big, p)
}

/// Hyperbolic tangent: odd polynomial for |x| < 0.55, else
/// `1 - 2w/(1 + w)` with `w = e^(-2|x|)`.
pub(crate) fn tanh(e: &mut E, x: Reg) -> Reg {
    let a = e.abs(x);
    let m2a = e.mul(a, e.k(-2.0));
    let w = exp_accurate(e, m2a);
    let w2 = e.add(w, w);
    let one = e.k(1.0);
    let d = e.add(w, one.clone());
    let q = e.div(w2, d);
    let big = e.sub(one, q);
    let big = e.copysign(big, x);
    let z = e.mul(x, x);
    let t = match e.p {
        Prec::F32 => e.horner(z, &TANH_T_F32),
        Prec::F64 => e.horner(z, &TANH_T_F64),
    };
    let xz = e.mul(x, z);
    let small = e.fma(xz, t, x);
    let small = e.copysign(small, x);
    let p = e.setp("lt", a, e.k(TANH_SMALL));
    e.sel(small, big, p)
}
