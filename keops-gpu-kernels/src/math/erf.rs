//! Error function.
//!
//! * |x| < 1: `erf x = x + x Q(x^2)` (minimax, one final rounding).
//! * |x| >= 1 (a branch taken only by such threads): `erf x = 1 - erfc x`,
//!   `erfc x = e^(-x^2) G(t) / (x + L)` with `t = (x - L)/(x + L)` (a
//!   Weideman-type transformation, `L = 2` for f32, 3 for f64) and
//!   `1/(x + L) = (1 - t)/(2L)`; `x^2` is split exactly (`fma`) so that
//!   `e^(-x^2) = e^(-hi) (1 - lo)`. Arguments beyond 4 (f32) / 6 (f64),
//!   where erf rounds to ±1, are clamped.

use super::exp::{clamp, exp_accurate};
use super::ops::E;
use crate::ptx::{Prec, Reg};

/// `erf x = x + x Q(x^2)` on |x| <= 1: f32 (relative 2^-29.4).
const ERF_Q_F32: [u64; 7] = [
    0x3E0375D4, 0xBEC0939F, 0x3DE71673, 0xBCDBFB8D, 0x3BA9F912, 0xBA51A8AF, 0x38A3B8FF,
];
/// Same, f64 (relative 2^-56.0).
const ERF_Q_F64: [u64; 12] = [
    0x3FC06EBA8214DB68,
    0xBFD812746B03799D,
    0x3FBCE2F21A03F8B9,
    0xBF9B82CE311A97D5,
    0x3F7565BCCEEDA34B,
    0xBF4C02DAEB703113,
    0x3F1F9A296B45E656,
    0xBEEF4C82F008E8BD,
    0x3EBB96B575C59931,
    0xBE85B8C6C4836E04,
    0x3E4D3DDA89CFEAF2,
    0xBE0A23E0BF81ECF0,
];
/// `G(t) = e^(x^2) erfc(x) (x + 2)`, `t = (x - 2)/(x + 2)`, x in [1, 4]:
/// f32 (relative 2^-25.7).
const ERFC_G_F32: [u64; 7] = [
    0x3F82C339, 0xBF2FE9C6, 0x3E8F1694, 0xBD153910, 0xBCAF98E2, 0x3BCE7A38, 0x3B27ADC8,
];
/// Same with `L = 3`, x in [1, 6], f64 (Chebyshev fit, `gen/fit_erfc64.py`;
/// relative error 2^-52.8 after rounding the coefficients).
const ERFC_G_F64: [u64; 16] = [
    0x3FF12F21DDD9F5E2,
    0xBFEC44C471BAA376,
    0x3FE2E326945DE2C8,
    0xBFD3DEB21415DC35,
    0x3FBE995F11B12F87,
    0xBF9B78993D6E8518,
    0xBF53DD3E6E283769,
    0x3F68DAE3A7D8C418,
    0xBF41F78E88426AF2,
    0xBF32239428FB229B,
    0x3F1C327118162AD6,
    0x3EFFE36ECBF56864,
    0xBEF2514894434A1C,
    0xBED44071555CD261,
    0x3EC65B945C22E992,
    0x3EB34F4509B30199,
];

/// Error function.
pub(crate) fn erf(e: &mut E, x: Reg) -> Reg {
    let a = e.abs(x);
    // small |x|: result register, overwritten by the large-|x| branch
    let z = e.mul(x, x);
    let q = match e.p {
        Prec::F32 => e.horner(z, &ERF_Q_F32),
        Prec::F64 => e.horner(z, &ERF_Q_F64),
    };
    let res = e.fma(x, q, x);
    let small = e.setp("lt", a, e.k(1.0));
    let nan = e.setp("nan", x, x);
    let skip_cond = e.por(small, nan);
    let skip = e.b.label();
    e.b.emit(format!("@{skip_cond} bra {skip}"));
    {
        let (l, xmax, g): (f64, f64, &[u64]) = match e.p {
            Prec::F32 => (2.0, 4.0, &ERFC_G_F32),
            Prec::F64 => (3.0, 6.0, &ERFC_G_F64),
        };
        let ac = clamp(e, a, 1.0, xmax);
        // e^(-x^2): x^2 = hi + lo exactly
        let hi = e.mul(ac, ac);
        let nhi = e.neg(hi);
        let lo = e.fma(ac, ac, nhi);
        let ex = exp_accurate(e, nhi);
        let nlo = e.neg(lo);
        let ex = e.fma(ex, nlo, ex);
        // t = (x - L)/(x + L)
        let num = e.sub(ac, e.k(l));
        let den = e.add(ac, e.k(l));
        let t = e.div(num, den);
        let gt = e.horner(t, g);
        let omt = e.sub(e.k(1.0), t);
        let w = e.mul(gt, omt);
        let w = e.mul(w, e.k(0.5 / l));
        let erfc = e.mul(ex, w);
        let r = e.sub(e.k(1.0), erfc);
        let r = e.copysign(r, x);
        e.mov(res, r);
    }
    e.b.place(skip);
    res
}
