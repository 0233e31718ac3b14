//! Logarithms: `log`, `log1p`.
//!
//! `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))` (an integer subtraction on
//! the bits; subnormals are scaled first), `f = m - 1` exactly, and
//! `log x = e ln2 + log1p(f)`:
//! * f32: `log1p(f) = f + f^2 Q(f)` (a minimax polynomial, no division);
//! * f64: `s = f / (2 + f)`, `log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2)))`
//!   (the fdlibm arrangement, one IEEE division).
//!
//! `log1p(x)` rounds `u = 1 + x`, keeps the rounding error `c` exactly and
//! adds `c / u` (through a short series of `1/m`) to `log u`.

use super::ops::{int, E};
use crate::ptx::{Prec, Reg};

/// `log1p(f) = f + f^2 Q(f)` on `[sqrt(1/2) - 1, sqrt(2) - 1]`, f32.
/// Relative error 2^-27.5.
const LOG_Q_F32: [u64; 9] = [
    0xBEFFFFFC, 0x3EAAAAAC, 0xBE800226, 0x3E4CCFF6, 0xBE2A0D71, 0x3E115E73, 0xBE07FF31, 0x3E035306,
    0xBD97FE2C,
];
/// `R(z) = z P(z)`, `2 atanh(s) = 2s + s R(s^2)`: P's coefficients, f64.
/// Absolute error of R 2^-58.2.
const LOG_R_F64: [u64; 7] = [
    0x3FE555555555559E,
    0x3FD999999997BB08,
    0x3FD24924945DDDB5,
    0x3FCC71C4EABF7A44,
    0x3FC7466F814FBAB6,
    0x3FC398E48006B75B,
    0x3FC2FD0A7CD9D483,
];

/// `ln 2` split: (high part with trailing zeros, low part).
fn ln2(p: Prec) -> (u64, u64) {
    match p {
        Prec::F32 => (0x3F317200, 0x35BFBE8E),
        Prec::F64 => (0x3FE62E42FEE00000, 0x3DEA39EF35793C76),
    }
}

/// Splits a positive finite `x` into `(e as float, f)` with
/// `x = 2^e (1 + f)`, `1 + f` in `[sqrt(1/2), sqrt(2))`; also returns the
/// integer `e` (s32) and the scale `2^-e` clamped to the normal range.
pub(crate) struct Split {
    pub ef: Reg,
    pub ei: Reg,
    pub f: Reg,
}

pub(crate) fn split(e: &mut E, x: Reg) -> Split {
    let (tiny, scale, adj) = match e.p {
        Prec::F32 => (f32::MIN_POSITIVE as f64, 2f64.powi(23), -23),
        Prec::F64 => (f64::MIN_POSITIVE, 2f64.powi(54), -54),
    };
    let sub = e.setp("lt", x, e.k(tiny));
    let xs = e.mul(x, e.k(scale));
    let x = e.sel(xs, x, sub);
    let eadj = e.seli(crate::ptx::Ty::B32, int(adj), int(0), sub);
    let bits = e.bits(x);
    let (ei, mbits) = match e.p {
        Prec::F32 => {
            let t = e.i32op("sub.s32", &[bits.into(), int(0x3F3504F3)]);
            let ex = e.i32op("shr.s32", &[t.into(), int(23)]);
            let sh = e.i32op("shl.b32", &[ex.into(), int(23)]);
            let mb = e.i32op("sub.s32", &[bits.into(), sh.into()]);
            (ex, mb)
        }
        Prec::F64 => {
            let t = e.iop("sub.s64", &[bits.into(), int(0x3FE6A09E667F3BCD)]);
            let ex = e.iop("shr.s64", &[t.into(), int(52)]);
            let sh = e.iop("shl.b64", &[ex.into(), int(52)]);
            let mb = e.iop("sub.s64", &[bits.into(), sh.into()]);
            let ex32 = e.op(crate::ptx::Ty::B32, "cvt.u32.u64", &[ex.into()]);
            (ex32, mb)
        }
    };
    let ei = e.i32op("add.s32", &[ei.into(), eadj.into()]);
    let m = e.fbits(mbits);
    let f = e.sub(m, e.k(1.0));
    let ef = e.cvt_f_s32(ei);
    Split { ef, ei, f }
}

/// `e ln2 + log1p(f) + corr` (corr: a small correction, or none).
fn core(e: &mut E, sp: &Split, corr: Option<Reg>) -> Reg {
    let (hi, lo) = ln2(e.p);
    let f = sp.f;
    match e.p {
        Prec::F32 => {
            let q = e.horner(f, &LOG_Q_F32);
            let f2 = e.mul(f, f);
            let tail = match corr {
                Some(c) => e.fma(f2, q, c),
                None => e.mul(f2, q),
            };
            let s = e.add(f, tail);
            let t = e.fma(sp.ef, e.kb(lo), s);
            e.fma(sp.ef, e.kb(hi), t)
        }
        Prec::F64 => {
            let two = e.k(2.0);
            let d = e.add(f, two);
            let s = e.div(f, d);
            let z = e.mul(s, s);
            let pz = e.horner(z, &LOG_R_F64);
            let hf = e.mul(f, e.k(0.5));
            let hfsq = e.mul(hf, f);
            // log = e ln2_hi - ((hfsq - (s (hfsq + R) + (e ln2_lo + corr))) - f)
            let t1 = e.fma(z, pz, hfsq);
            let elo = match corr {
                Some(c) => e.fma(sp.ef, e.kb(lo), c),
                None => e.mul(sp.ef, e.kb(lo)),
            };
            let t2 = e.fma(s, t1, elo);
            let t3 = e.sub(hfsq, t2);
            let t4 = e.sub(t3, f);
            let ehi = e.mul(sp.ef, e.kb(hi));
            e.sub(ehi, t4)
        }
    }
}

/// Plain f64 logarithm of a positive finite `ax` (no special cases).
pub(crate) fn log_core_f64(e: &mut E, ax: Reg) -> Reg {
    let sp = split(e, ax);
    core(e, &sp, None)
}

/// Natural logarithm.
pub(crate) fn log(e: &mut E, x: Reg) -> Reg {
    let sp = split(e, x);
    let r = core(e, &sp, None);
    // specials: x < 0 -> NaN, x = 0 -> -inf, +inf -> +inf, NaN -> NaN
    let nan = e.kb(match e.p {
        Prec::F32 => 0x7FFF_FFFF,
        Prec::F64 => 0x7FFF_FFFF_FFFF_FFFF,
    });
    let neg = e.setp("lt", x, e.k(0.0));
    let s1 = e.sel(nan, x, neg);
    let zero = e.setp("eq", x, e.k(0.0));
    let s2 = e.sel(e.k(f64::NEG_INFINITY), s1, zero);
    let pos = e.setp("gt", x, e.k(0.0));
    let fin = e.setp("lt", x, e.k(f64::INFINITY));
    let ok = e.pand(pos, fin);
    e.sel(r, s2, ok)
}

/// `log(1 + x)`.
pub(crate) fn log1p(e: &mut E, x: Reg) -> Reg {
    let one = e.k(1.0);
    let u = e.add(x, one.clone());
    // exact rounding error c of u = 1 + x (Fast2Sum, larger operand first)
    let ax = e.abs(x);
    let xbig = e.setp("gt", ax, one.clone());
    let z1 = e.sub(u, x);
    let c1 = e.sub(one.clone(), z1);
    let z2 = e.sub(u, one.clone());
    let c2 = e.sub(x, z2);
    let c = e.sel(c1, c2, xbig);
    let sp = split(e, u);
    // c / u = c 2^-e / (1 + f), 1/(1+f) ~ 1 - f + f^2 (- f^3 in f64)
    let maxe = match e.p {
        Prec::F32 => 126,
        Prec::F64 => 1022,
    };
    let ec = e.i32op("min.s32", &[sp.ei.into(), int(maxe)]);
    let ne = e.i32op("neg.s32", &[ec.into()]);
    let sc = e.pow2i(ne);
    let inv = match e.p {
        Prec::F32 => {
            let t = e.fma(sp.f, sp.f, e.k(1.0));
            e.sub(t, sp.f)
        }
        Prec::F64 => {
            // 1 - f + f^2 - f^3 = 1 + f (-1 + f (1 - f))
            let t = e.sub(e.k(1.0), sp.f);
            let t = e.fma(sp.f, t, e.k(-1.0));
            e.fma(sp.f, t, e.k(1.0))
        }
    };
    let cs = e.mul(c, sc);
    let corr = e.mul(cs, inv);
    let r = core(e, &sp, Some(corr));
    // specials: x < -1 -> NaN, x = -1 -> -inf, +inf, NaN; sign of x (-0)
    let nan = e.kb(match e.p {
        Prec::F32 => 0x7FFF_FFFF,
        Prec::F64 => 0x7FFF_FFFF_FFFF_FFFF,
    });
    let below = e.setp("lt", x, e.k(-1.0));
    let s1 = e.sel(nan, x, below);
    let m1 = e.setp("eq", x, e.k(-1.0));
    let s2 = e.sel(e.k(f64::NEG_INFINITY), s1, m1);
    let gt = e.setp("gt", x, e.k(-1.0));
    let fin = e.setp("lt", x, e.k(f64::INFINITY));
    let ok = e.pand(gt, fin);
    let r = e.sel(r, s2, ok);
    e.copysign(r, x)
}

/// Fast f32 logarithm: `lg2.approx.ftz(x) * ln 2`.
pub(crate) fn log_fast_f32(e: &mut E, x: Reg) -> Reg {
    let t = e.op(crate::ptx::Ty::F32, "lg2.approx.ftz.f32", &[x.into()]);
    e.mul(t, e.kb(0x3F317218))
}
