//! Inverse trigonometric functions: `asin`, `acos`, `atan`, `atan2`.
//!
//! * asin / acos share one polynomial `asin s = s + s z P(z)`, `z = s^2`,
//!   on `s` in `[0, 1/2]`: for |x| < 1/2, `s = |x|`; otherwise
//!   `z = (1 - |x|)/2` (exact), `s = sqrt(z)` and
//!   `asin|x| = pi/2 - 2 asin s`. Every case is `K + M asin(s)` with
//!   `K` in {0, pi/2, pi} (two-part constants) and `M` in {±1, ±2}, selected
//!   without branches; `asin s` is kept as a sum of two floats so that the
//!   cancellation near |x| = 1/2 does not double its rounding error.
//! * atan reduces |x| to |t| <= 1/2 with one IEEE division (`t = |x|`,
//!   `(|x| - 1)/(|x| + 1)` or `-1/|x|`); atan2 first forms
//!   `min(|x|,|y|) / max(|x|,|y|)` and reduces that (a second division).
//!   Then `atan t = t + t z P(z)` and the result `m pi/4 ± atan t` (m in
//!   0..=4, pi/4 in two parts with `m * hi` exact).

use super::ops::{E, O};
use crate::ptx::{Prec, Reg};

/// `asin s = s + s z P(z)` on `z` in `[0, 1/4]`: f32 (relative 2^-31.7).
const ASIN_P_F32: [u64; 6] = [
    0x3E2AAAA6, 0x3D999C56, 0x3D3653AA, 0x3D026973, 0x3C6A916F, 0x3D1A62D4,
];
/// Same, f64 (relative 2^-55.9).
const ASIN_P_F64: [u64; 12] = [
    0x3FC5555555555390,
    0x3FB333333336E82B,
    0x3FA6DB6DB42787EC,
    0x3F9F1C72C39B8AA8,
    0x3F96E89F42B83EAA,
    0x3F91C6BE2FF6D5B3,
    0x3F8C6FDA4D2F6695,
    0x3F88EC3C6A01985E,
    0x3F7ABC829B52B76D,
    0x3F93FF9D188AC303,
    0xBF909DB93B0310EB,
    0x3FA057069CBB543A,
];
/// `atan t = t + t z P(z)` on |t| <= 1/2: f32 (relative 2^-31.7).
const ATAN_P_F32: [u64; 6] = [
    0xBEAAAAA9, 0x3E4CCBA2, 0xBE122818, 0x3DE03934, 0xBDA406A0, 0x3D1FEAAA,
];
/// Same, f64 (relative 2^-62.0).
const ATAN_P_F64: [u64; 13] = [
    0xBFD5555555555552,
    0x3FC99999999990D6,
    0xBFC2492492453658,
    0x3FBC71C71AAF0086,
    0xBFB745D138F57714,
    0x3FB3B1360B1189DD,
    0xBFB110C7129C6D5D,
    0x3FAE182D81B6036A,
    0xBFAAC72B4B66AFEA,
    0x3FA77FC3D277DA10,
    0xBFA301D756F6A305,
    0x3F983A9B027E92FC,
    0xBF8123DF208CEF4E,
];

/// (pi/2 hi, pi/2 lo, pi hi, pi lo) bits.
fn pis(p: Prec) -> (u64, u64, u64, u64) {
    match p {
        Prec::F32 => (0x3FC90FDB, 0xB33BBD2E, 0x40490FDB, 0xB3BBBD2E),
        Prec::F64 => (
            0x3FF921FB54442D18,
            0x3C91A62633145C07,
            0x400921FB54442D18,
            0x3CA1A62633145C07,
        ),
    }
}

/// asin (`acos = false`) or acos.
pub(crate) fn asin_acos(e: &mut E, x: Reg, acos: bool) -> Reg {
    let (h_hi, h_lo, p_hi, p_lo) = pis(e.p);
    let a = e.abs(x);
    let big = e.setp("ge", a, e.k(0.5));
    let one = e.k(1.0);
    let om = e.sub(one, a);
    let zb = e.mul(om, e.k(0.5));
    let x2 = e.mul(x, x);
    let z = e.sel(zb, x2, big);
    let sb = e.sqrt(zb);
    // small: s = x itself (signed) for acos, |x| for asin (sign restored last)
    let s_small = if acos { x } else { a };
    let s = e.sel(sb, s_small, big);
    let poly = match e.p {
        Prec::F32 => e.horner(z, &ASIN_P_F32),
        Prec::F64 => e.horner(z, &ASIN_P_F64),
    };
    let sz = e.mul(s, z);
    let tail = e.mul(sz, poly);
    // u + ul = s + tail (Fast2Sum, |s| >= |tail|)
    let u = e.add(s, tail);
    let d = e.sub(u, s);
    let ul = e.sub(tail, d);
    // result = (K_hi + M u) + (K_lo + M ul)
    let zero = e.k(0.0);
    let (khi, klo, m) = if acos {
        // small: pi/2 - asin x; x >= 1/2: 2 asin s; x <= -1/2: pi - 2 asin s
        let neg = e.setp("lt", x, e.k(0.0));
        let bhi = e.sel(e.kb(p_hi), zero.clone(), neg);
        let blo = e.sel(e.kb(p_lo), zero.clone(), neg);
        let bm = e.sel(e.k(-2.0), e.k(2.0), neg);
        let khi = e.sel(bhi, e.kb(h_hi), big);
        let klo = e.sel(blo, e.kb(h_lo), big);
        let m = e.sel(bm, e.k(-1.0), big);
        (khi, klo, m)
    } else {
        // small: asin |x|; big: pi/2 - 2 asin s
        let khi = e.sel(e.kb(h_hi), zero.clone(), big);
        let klo = e.sel(e.kb(h_lo), zero, big);
        let m = e.sel(e.k(-2.0), e.k(1.0), big);
        (khi, klo, m)
    };
    let w = e.fma(m, u, khi);
    let lo = e.fma(m, ul, klo);
    let r = e.add(w, lo);
    if acos {
        r
    } else {
        e.copysign(r, x)
    }
}

/// `pi/4` as (high part with trailing zeros, so that `m * hi` is exact
/// for m <= 4; low part).
fn quarter_pi(p: Prec) -> (u64, u64) {
    match p {
        Prec::F32 => (0x3F490FD0, 0x352A2217),
        Prec::F64 => (0x3FE921FB54442D00, 0x3CE8469898CC5170),
    }
}

/// Reduction threshold: below it `t = |x|`; from it to its inverse
/// `t = (|x| - 1)/(|x| + 1)` (exact numerator, |t| <= 1/3); above,
/// `t = -1/|x|`. So |t| <= 1/2.
const SPLIT: f64 = 0.5;

/// `atan t` for |t| <= 1/2 (or NaN).
fn atan_core(e: &mut E, t: Reg) -> Reg {
    let z = e.mul(t, t);
    let poly = match e.p {
        Prec::F32 => e.horner(z, &ATAN_P_F32),
        Prec::F64 => e.horner(z, &ATAN_P_F64),
    };
    let tz = e.mul(t, z);
    e.fma(tz, poly, t)
}

/// `m pi/4 + s r` for small integers `m` (as floats) and `s = ±1`.
fn add_quarters(e: &mut E, m: Reg, s: O, r: Reg) -> Reg {
    let (qh, ql) = quarter_pi(e.p);
    let khi = e.mul(m, e.kb(qh));
    let klo = e.mul(m, e.kb(ql));
    let w = e.fma(s, r, khi);
    e.add(w, klo)
}

/// Arctangent: `|x| <= 1/2`: `atan |x|`; up to 2:
/// `pi/4 + atan((|x| - 1)/(|x| + 1))`; beyond: `pi/2 + atan(-1/|x|)`.
pub(crate) fn atan(e: &mut E, x: Reg) -> Reg {
    let a = e.abs(x);
    let c1 = e.setp("gt", a, e.k(SPLIT));
    let c2 = e.setp("gt", a, e.k(1.0 / SPLIT));
    let one = e.k(1.0);
    let am1 = e.sub(a, one.clone());
    let ap1 = e.add(a, one.clone());
    let n1 = e.sel(am1, a, c1);
    let num = e.sel(e.k(-1.0), n1, c2);
    let d1 = e.sel(ap1, one, c1);
    let den = e.sel(a, d1, c2);
    let t = e.div(num, den);
    let r = atan_core(e, t);
    let m1 = e.sel(e.k(1.0), e.k(0.0), c1);
    let m = e.sel(e.k(2.0), m1, c2);
    let res = add_quarters(e, m, e.k(1.0), r);
    e.copysign(res, x)
}

/// `atan2(y, x)` with C's quadrants, signed zeros and infinities:
/// `t = min(|x|,|y|) / max(|x|,|y|)`, reduced once more above 1/2,
/// then `m pi/4 ± atan t` with `m` in 0..=4.
pub(crate) fn atan2(e: &mut E, y: Reg, x: Reg) -> Reg {
    let ax = e.abs(x);
    let ay = e.abs(y);
    let swap = e.setp("gt", ay, ax);
    let num = e.sel(ax, ay, swap);
    let den = e.sel(ay, ax, swap);
    let t1 = e.div(num, den);
    // 0/0 -> 0, inf/inf -> 1
    let dz = e.setp("eq", den, e.k(0.0));
    let t1 = e.sel(e.k(0.0), t1, dz);
    let ni = e.setp("eq", num, e.k(f64::INFINITY));
    let t1 = e.sel(e.k(1.0), t1, ni);
    let c1 = e.setp("gt", t1, e.k(SPLIT));
    let one = e.k(1.0);
    let tm = e.sub(t1, one.clone());
    let tp = e.add(t1, one);
    let t2 = e.div(tm, tp);
    let t = e.sel(t2, t1, c1);
    let r = atan_core(e, t);
    // x negative (sign bit, so -0 counts)
    let xb = e.bits(x);
    let xneg = e.isetp("lt", e.sint(), xb, super::ops::int(0));
    // angle = base + S (c1 pi/4 + r), base = swap ? pi/2 : (xneg ? pi : 0),
    // S = (swap xor xneg) ? -1 : 1  ->  m pi/4 + S r, m = base/(pi/4) + S c1
    let b1 = e.sel(e.k(4.0), e.k(0.0), xneg);
    let base = e.sel(e.k(2.0), b1, swap);
    let flip = e.op(
        crate::ptx::Ty::Pred,
        "xor.pred",
        &[swap.into(), xneg.into()],
    );
    let sg = e.sel(e.k(-1.0), e.k(1.0), flip);
    let c1f = e.sel(e.k(1.0), e.k(0.0), c1);
    let m = e.fma(sg, c1f, base);
    let res = add_quarters(e, m, sg.into(), r);
    let res = e.copysign(res, y);
    let nan = e.setp("nan", x, y);
    let sum = e.add(x, y);
    e.sel(sum, res, nan)
}
