//! `pow(x, y)` with C99 special cases, and `rsqrt`.
//!
//! * f64: `log|x|` in double-double (relative error ~2^-65): `|x| = 2^e
//!   (1 + f)`, `s = f/(2+f)` as a double-double, `log1p f = 2s + (2/3)s^3 +
//!   s^5 T(s^2)` with the first two terms in double-double; then
//!   `y log|x| = ph + pl` exactly-ish and `exp(ph + pl)` by the exp
//!   reduction with the low part folded into the reduced argument.
//! * f32: evaluated in f64 (exact conversions, a plain f64 log and a
//!   shorter exp polynomial), rounded once to f32 at the end.
//! * f32 fast: `ex2.approx.ftz(y lg2.approx.ftz |x|)` with the same special
//!   cases.

use super::exp::clamp;
use super::log::split;
use super::ops::{int, E};
use crate::ptx::{Prec, Reg, Ty};

/// `log1p f = 2s + (2/3)s^3 + s^5 T(z)`, `z = s^2 <= 0.0295`.
/// (Weighted absolute error 2^-73.5.)
const POW_T_F64: [u64; 8] = [
    0x3FD9999999999996,
    0x3FD2492492492F51,
    0x3FCC71C71C5968F9,
    0x3FC745D18295671D,
    0x3FC3B1364C95788F,
    0x3FC11206F2A31E34,
    0x3FBDE3D717EAF688,
    0x3FBEAC5B414C2751,
];
/// `e^r = 1 + r + r^2 Q(r)`, |r| <= ln2/2, relative error 2^-39.7 (f64
/// evaluation for f32 results).
const EXP_Q_SHORT: [u64; 7] = [
    0x3FE000000005DDE3,
    0x3FC5555557DCDE54,
    0x3FA5555541E79505,
    0x3F81110A2690820E,
    0x3F56C18D302E03E8,
    0x3F2A185502B45F16,
    0x3EF9E8946E8245CD,
];

/// Two-sum: `a + b = s + t` exactly.
fn two_sum(e: &mut E, a: Reg, b: Reg) -> (Reg, Reg) {
    let s = e.add(a, b);
    let bb = e.sub(s, a);
    let ab = e.sub(s, bb);
    let da = e.sub(a, ab);
    let db = e.sub(b, bb);
    let t = e.add(da, db);
    (s, t)
}

/// Fast two-sum (`|a| >= |b|`).
fn fast_two_sum(e: &mut E, a: Reg, b: Reg) -> (Reg, Reg) {
    let s = e.add(a, b);
    let d = e.sub(s, a);
    let t = e.sub(b, d);
    (s, t)
}

/// Exact product `a b = p + q`.
fn two_prod(e: &mut E, a: Reg, b: Reg) -> (Reg, Reg) {
    let p = e.mul(a, b);
    let np = e.neg(p);
    let q = e.fma(a, b, np);
    (p, q)
}

/// `log(ax)` as a double-double, f64, for positive finite `ax`.
fn log_dd(e: &mut E, ax: Reg) -> (Reg, Reg) {
    let sp = split(e, ax);
    let f = sp.f;
    // d = 2 + f exactly as dh + dl
    let two = e.c(2.0);
    let (dh, dl) = fast_two_sum(e, two, f);
    // s = f / d: sh = f / dh, sl = (f - sh dh - sh dl) / d
    let sh = e.div(f, dh);
    let nsh = e.neg(sh);
    let rho = e.fma(nsh, dh, f);
    let rho = e.fma(nsh, dl, rho);
    // 1/(2 + f) = 0.5 / (1 + g), g = f/2: 0.5 (1 - g + g^2 - g^3 + g^4)
    let g = e.mul(f, e.k(0.5));
    let t = e.add(g, e.k(-1.0));
    let t = e.fma(g, t, e.k(1.0));
    let t = e.fma(g, t, e.k(-1.0));
    let t = e.fma(g, t, e.k(1.0));
    let inv = e.mul(t, e.k(0.5));
    let sl = e.mul(rho, inv);
    // s^2, s^3 as double-doubles
    let (s2h, s2l) = two_prod(e, sh, sh);
    let shsl = e.mul(sh, sl);
    let s2l = e.fma(shsl, e.k(2.0), s2l);
    let (s3h, s3l) = two_prod(e, s2h, sh);
    let c1 = e.mul(s2l, sh);
    let c1 = e.fma(s2h, sl, c1);
    let s3l = e.add(s3l, c1);
    // (2/3) s^3
    let c3h = e.kb(0x3FE5555555555555);
    let c3l = e.kb(0x3C85555555555555);
    let t3h = e.mul(c3h.clone(), s3h);
    let nt3h = e.neg(t3h);
    let t3l = e.fma(c3h.clone(), s3h, nt3h);
    let c2 = e.mul(c3h, s3l);
    let c2 = e.fma(c3l, s3h, c2);
    let t3l = e.add(t3l, c2);
    // s^5 T(z)
    let tz = e.horner(s2h, &POW_T_F64);
    let s5 = e.mul(s3h, s2h);
    let tail = e.mul(s5, tz);
    // L1 = 2 sh + t3h + (2 sl + t3l + tail)
    let sh2 = e.add(sh, sh);
    let (h1, e1) = fast_two_sum(e, sh2, t3h);
    let lo = e.add(t3l, tail);
    let lo = e.fma(sl, e.k(2.0), lo);
    let lo = e.add(e1, lo);
    // + e ln2 (double-double)
    let l2h = e.kb(0x3FE62E42FEFA39EF);
    let l2l = e.kb(0x3C7ABC9E3B39803F);
    let ph = e.mul(sp.ef, l2h.clone());
    let nph = e.neg(ph);
    let pl = e.fma(sp.ef, l2h, nph);
    let pl = e.fma(sp.ef, l2l, pl);
    let (sh_, sl_) = two_sum(e, ph, h1);
    let lo = e.add(lo, pl);
    let lo = e.add(sl_, lo);
    fast_two_sum(e, sh_, lo)
}

/// `exp(ph + pl)` (f64), with the exp clamps; `pl` ignored when `ph` is out
/// of range. `q` are the polynomial coefficients.
fn exp_dd(e: &mut E, ph: Reg, pl: Reg, q: &[u64]) -> Reg {
    let aph = e.abs(ph);
    let inr = e.setp("lt", aph, e.k(1000.0));
    let pl = e.sel(pl, e.k(0.0), inr);
    let phc = clamp(e, ph, -746.0, 710.0);
    // j = rint(ph / ln2); rh = ph - j ln2_hi exactly (ln2_hi has 32 bits);
    // rm = pl - j ln2_lo; r + rr = rh + rm
    let t = e.mul(phc, e.kb(0x3FF71547652B82FE));
    let j = e.rint(t);
    let rh = e.fma(j, e.kb(0xBFE62E42FEE00000), phc);
    let rm = e.fma(j, e.kb(0xBDEA39EF35793C76), pl);
    let (r, rr) = fast_two_sum(e, rh, rm);
    let qq = e.horner(r, q);
    let one = e.k(1.0);
    let a = e.fma(r, qq, one.clone());
    let p = e.fma(r, a, one);
    let p = e.fma(p, rr, p);
    let ji = e.cvt_s32(j);
    e.ldexp(p, ji)
}

/// The C99 special cases around a core computing `|x|^y` for finite
/// nonzero `|x|` and finite `y` (the core may return anything elsewhere).
fn wrap(e: &mut E, x: Reg, y: Reg, core: Reg) -> Reg {
    let ax = e.abs(x);
    let ay = e.abs(y);
    let inf = e.k(f64::INFINITY);
    let zero = e.k(0.0);
    let one = e.k(1.0);
    // y integer / odd integer
    let ry = e.rint(y);
    let yint = e.setp("eq", ry, y);
    let hy = e.mul(y, e.k(0.5));
    let rhy = e.rint(hy);
    let yeven = e.setp("eq", rhy, hy);
    let big = match e.p {
        Prec::F32 => 2f64.powi(24),
        Prec::F64 => 2f64.powi(53),
    };
    let ysmall = e.setp("lt", ay, e.k(big));
    let nyeven = e.pnot(yeven);
    let yodd = e.pand(yint, nyeven);
    let yodd = e.pand(yodd, ysmall);
    let yneg = e.setp("lt", y, zero.clone());
    // |x| = 0: y < 0 ? inf : 0 ; |x| = inf: y < 0 ? 0 : inf
    let z0 = e.sel(inf.clone(), zero.clone(), yneg);
    let zi = e.sel(zero.clone(), inf.clone(), yneg);
    let ax0 = e.setp("eq", ax, zero.clone());
    let m = e.sel(z0, core, ax0);
    let axi = e.setp("eq", ax, inf.clone());
    let m = e.sel(zi, m, axi);
    // sign for negative x (sign bit) and odd y
    let xb = e.bits(x);
    let xneg = e.isetp("lt", e.sint(), xb, int(0));
    let flip = e.pand(xneg, yodd);
    let nm = e.neg(m);
    let m = e.sel(nm, m, flip);
    // negative finite nonzero x, non-integral y: NaN
    let xlt = e.setp("lt", x, zero.clone());
    let xfin = e.setp("gt", x, e.k(f64::NEG_INFINITY));
    let nint = e.pnot(yint);
    let bad = e.pand(xlt, xfin);
    let bad = e.pand(bad, nint);
    let nan = e.kb(match e.p {
        Prec::F32 => 0x7FFF_FFFF,
        Prec::F64 => 0x7FFF_FFFF_FFFF_FFFF,
    });
    let m = e.sel(nan, m, bad);
    // y = ±inf: (|x| < 1) == (y > 0) ? 0 : inf; |x| = 1 -> 1
    let yinf = e.setp("eq", ay, inf.clone());
    let axlt1 = e.setp("lt", ax, one.clone());
    let ypos = e.setp("gt", y, zero.clone());
    let same = e.op(Ty::Pred, "xor.pred", &[axlt1.into(), ypos.into()]);
    let vinf = e.sel(inf, zero, same);
    let ax1 = e.setp("eq", ax, one.clone());
    let vinf = e.sel(one.clone(), vinf, ax1);
    let m = e.sel(vinf, m, yinf);
    // NaN operands
    let anynan = e.setp("nan", x, y);
    let sum = e.add(x, y);
    let m = e.sel(sum, m, anynan);
    // x = 1 or y = 0: 1
    let x1 = e.setp("eq", x, one.clone());
    let y0 = e.setp("eq", y, e.k(0.0));
    let unit = e.por(x1, y0);
    e.sel(one, m, unit)
}

/// Accurate `x^y`.
pub(crate) fn powf(e: &mut E, x: Reg, y: Reg) -> Reg {
    match e.p {
        Prec::F64 => {
            let ax = e.abs(x);
            let (lh, ll) = log_dd(e, ax);
            let (ph, pl) = two_prod(e, y, lh);
            let pl = e.fma(y, ll, pl);
            let core = exp_dd(e, ph, pl, &super::exp::EXP_Q_F64);
            wrap(e, x, y, core)
        }
        Prec::F32 => {
            let mut d = e.with(Prec::F64);
            let x64 = d.op(Ty::F64, "cvt.f64.f32", &[x.into()]);
            let y64 = d.op(Ty::F64, "cvt.f64.f32", &[y.into()]);
            let ax = d.abs(x64);
            let l = super::log::log_core_f64(&mut d, ax);
            let t = d.mul(y64, l);
            let zero = d.c(0.0);
            let core = exp_dd(&mut d, t, zero, &EXP_Q_SHORT);
            let r = d.op(Ty::F32, "cvt.rn.f32.f64", &[core.into()]);
            wrap(e, x, y, r)
        }
    }
}

/// Fast f32 `x^y`: `ex2.approx.ftz(y lg2.approx.ftz |x|)`, C99 special cases.
pub(crate) fn powf_fast_f32(e: &mut E, x: Reg, y: Reg) -> Reg {
    let ax = e.abs(x);
    let l = e.op(Ty::F32, "lg2.approx.ftz.f32", &[ax.into()]);
    let t = e.mul(y, l);
    let core = e.op(Ty::F32, "ex2.approx.ftz.f32", &[t.into()]);
    wrap(e, x, y, core)
}

/// `1/sqrt(x)`: IEEE `sqrt.rn` then `div.rn` (two roundings, < 1 ulp);
/// fast f32: `rsqrt.approx.f32`.
pub(crate) fn rsqrt(e: &mut E, x: Reg, fast: bool) -> Reg {
    if fast && e.p == Prec::F32 {
        return e.op(Ty::F32, "rsqrt.approx.f32", &[x.into()]);
    }
    let s = e.sqrt(x);
    e.div(e.k(1.0), s)
}
