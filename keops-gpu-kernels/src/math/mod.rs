//! Device math library: PTX instruction sequences for the transcendental
//! functions of the formula language, in f32 and f64.
//!
//! Each routine appends its instructions to a [`Builder`] and returns the
//! register holding the result; the kernel emitter inlines them. The
//! accurate versions (the default) use only IEEE-rounded instructions
//! (`add/sub/mul/fma.rn`, `div.rn`, `sqrt.rn`, `cvt`, integer and bit
//! operations, `setp`/`selp`, `copysign`), so the simulator computes
//! exactly what the GPU computes and the errors below, measured through the
//! simulator, are the hardware's. No memory tables: every constant is an
//! immediate. Subnormal inputs and outputs are handled (no flush to zero),
//! and ±0, ±inf and NaN follow C99 / IEEE 754.
//!
//! Methods (details in each submodule): Cody–Waite range reduction and
//! minimax polynomials (coefficients from `math/gen/remez.py`, exact hex
//! immediates), branch-free by `selp` except for two slow paths skipped by
//! a predicated branch unless a thread needs them: the Payne–Hanek
//! reduction of sin/cos/tan (|x| > 2^16 in f32, > 2^28 in f64) and the
//! |x| >= 1 half of erf.
//!
//! # Accuracy
//!
//! Maximum error in ulp of the result's precision. "bound" is what the
//! tests assert; the measured columns come from `math/tests.rs`:
//! * f32: the whole sweep (`sweep_all`, 1,000,000 arguments per routine:
//!   uniform in several ranges, random bit patterns over every exponent
//!   including subnormals, points near the edges, ±0, ±inf, NaN; the
//!   reference is glibc's f64 function, so the figure is exact to ~2^-28);
//! * f64 "dd": against exact values (`testdata/ref_f64.txt`, 300 points
//!   per routine, mpmath at 60 digits, the error measured to ~2^-50 ulp);
//! * f64 "libm": distance from glibc over the sweep (300,000 arguments per
//!   routine); glibc itself is within 1-2 ulp, so this column only bounds
//!   the true error to within that.
//!
//! | routine | f32 bound | f32 measured | f64 bound | f64 dd | f64 libm | arguments |
//! |---------|-----------|--------------|-----------|--------|----------|-----------|
//! | exp     | 2 (+ ex2) | 0.99 (exact ex2) | 2 | 0.64 | 1 | all (f32: results >= 2^-126) |
//! | expm1   | 2 | 1.32 | 2 | 0.72 | 1 | all |
//! | log     | 2 | 0.87 | 2 | 0.72 | 1 | all |
//! | log1p   | 2 | 0.94 | 2 | 0.62 | 1 | all |
//! | sin     | 2 | 1.51 | 2 | 0.54 | 1 | all finite (Payne–Hanek beyond 2^16 / 2^28) |
//! | cos     | 2 | 1.48 | 2 | 0.54 | 1 | all finite (idem) |
//! | tan     | 4 | 3.35 | 4 | 1.58 | 2 | all finite (idem) |
//! | asin    | 4 | 1.25 | 4 | 0.90 | 1 | all |
//! | acos    | 4 | 1.14 | 4 | 1.01 | 1 | all |
//! | atan    | 4 | 1.57 | 4 | 1.06 | 2 | all |
//! | atan2   | 4 | 2.28 | 4 | 0.98 | 2 | all pairs |
//! | sinh    | 4 | 1.46 | 4 | 1.05 | 2 | all |
//! | cosh    | 4 | 1.32 | 4 | 1.05 | 2 | all |
//! | tanh    | 2 | 1.44 | 4 | 0.90 | 2 | all |
//! | erf     | 4 | 1.05 | 4 | 0.64 | 1 | all |
//! | powf    | 4 | 0.50 | 4 | 0.72 | 1 | all pairs (C99 special cases exact) |
//! | rsqrt   | 4 | 1.48 | 4 | 1.24 | 0 | all (`sqrt.rn` then `div.rn`) |
//!
//! f32 `exp` (default) runs on the special-function unit: `ex2.approx.ftz`
//! of `t = rz(x log2 e)` times `1 + c`, `c` the Cody–Waite residual `x - t
//! ln 2` (6 instructions, see `exp::exp_sfu_f32`). The figure above is
//! measured with the simulator's correctly rounded `ex2`; the hardware's
//! `ex2.approx.ftz.f32` (relative error below 2^-22, about 2 ulp) adds to
//! it: at most about 3 ulp on the GPU, independent of |x| (CUDA documents
//! 2 ulp for its `expf`, built the same way). Results below 2^-126 are
//! flushed to zero (absolute error below 2^-126; the sweep checks that).
//! The polynomial f32 `exp` (0.85 ulp, 25 instructions, two quarter-rate
//! conversions) remains inside `tanh`.
//!
//! f32 `powf` is evaluated in f64 (exact conversions, f64 log and exp,
//! one final rounding): the most accurate and simplest choice, but f64
//! arithmetic is slow on consumer GPUs (1/32 or 1/64 of the f32 rate); on
//! data-centre GPUs it costs about twice the f32 sequence.
//!
//! # Fast mode
//!
//! [`MathOpts::fast`] switches f32 `exp`, `log`, `sin`, `cos`, `powf` and
//! `rsqrt` to the hardware approximations; the `.ftz` forms flush subnormal
//! inputs and outputs to zero. The other routines, and every f64 routine,
//! ignore `fast`. Kernels select the mode with the `keops!` option
//! `fast_math` (default `true`, as KeOps' `use_fast_math`; `false` gives
//! the accurate routines above; see `crate::emit_family`).
//!
//! * `exp` = `ex2.approx.ftz(x log2 e)` (2 instructions, 6 accurate). In a
//!   kernel's pair loop the factor `log2 e` is folded into the argument's
//!   loop-invariant factor (`exp(-g d)` is `ex2(d * c)`, `c = -g log2 e`
//!   computed once; `kernel::opt`): 1 instruction plus the `ex2`.
//! * `log` = `lg2.approx.ftz(x) ln 2`.
//! * `sin`/`cos` = `sin/cos.approx.ftz` after a two-part reduction by 2 pi.
//! * `powf` = `ex2.approx.ftz(y lg2.approx.ftz |x|)` inside the same C99
//!   special cases.
//! * `rsqrt` = `rsqrt.approx.f32`.
//!
//! Accuracy, f32, both modes (`math::tests::fast_mode_accuracy_by_range`,
//! 20,000 arguments per row, uniform, or log-uniform for the wide
//! ranges): max error in ulp of the result (results below 2^-126 left
//! out) or absolute. The simulator computes the `.approx` instructions
//! correctly rounded, so the "fast, measured" column is the error of the
//! rest of the routine (for `exp`, the rounding of `x log2 e`: about 0.7
//! |x| ulp); on the GPU the instruction's own error comes on top: the last
//! column is NVIDIA's documented bound for the corresponding CUDA
//! intrinsic (`__expf`, `__logf`, `__sinf`, `__cosf`, `__powf`,
//! `rsqrtf`), which includes both.
//!
//! | routine | arguments | metric | accurate, measured | fast, measured (exact `.approx`) | fast on the GPU (NVIDIA) |
//! |---------|-----------|--------|----------|------|------|
//! | exp  | [-1, 1]      | ulp | 0.99 | 1.28 | 2 + floor(1.16 \|x\|) ulp |
//! | exp  | [-10, 10]    | ulp | 1.00 | 7.54 | idem (<= 13) |
//! | exp  | [-87.3, 88.7] | ulp | 1.00 | 62.0 | idem (<= 104) |
//! | log  | [0.5, 2]     | abs | 2^-24.5 | 2^-24.2 | 2^-21.4 abs |
//! | log  | [1e-30, 1e30] | ulp | 0.69 | 1.22 | 3 ulp (outside [0.5, 2]) |
//! | sin, cos | [-pi, pi] | abs | 2^-23.9 | 2^-25.0 | 2^-21.4 abs |
//! | sin, cos | [-100, 100] | abs | 2^-23.9 | 2^-22.9 | larger, grows with \|x\| |
//! | powf | x in [0.1, 10], y in [-10, 10] | ulp | 0.50 | 22.4 | grows with \|y log2 x\| |
//! | rsqrt | [1e-30, 1e30] | ulp | 1.40 | 0.50 | 2 ulp |
//!
//! Near a zero of `log` (x near 1) or of `sin`/`cos` the absolute bounds
//! are large relative errors; use `fast_math = false` where that matters.
//! The accurate f32 `exp` adds the `ex2.approx` error (about 2 ulp) to its
//! 1 ulp: about 3 ulp on the GPU for every argument.

//! # Cost
//!
//! PTX instructions emitted per call, accurate mode (`div.rn`, `sqrt.rn`
//! count as one though ptxas expands them into a short sequence with a
//! rarely taken slow path). "+ n" is a branch taken only by the threads
//! that need it (Payne–Hanek for huge sin/cos/tan arguments, |x| >= 1 for
//! erf). Divisions are noted.
//!
//! | routine | f32 | f64 |
//! |---------|-----|-----|
//! | exp     | 6 (1 ex2.approx) | 32 |
//! | expm1   | 31 | 37 |
//! | log     | 34 | 40 (1 div) |
//! | log1p   | 52 | 60 (1 div) |
//! | sin, cos | 29 + 66, 28 + 66 | 58 + 139, 57 + 139 |
//! | tan     | 28 + 66 (1 div) | 57 + 139 (1 div) |
//! | asin, acos | 25, 28 (1 sqrt) | 31, 34 (1 sqrt) |
//! | atan    | 25 (1 div) | 32 (1 div) |
//! | atan2   | 39 (2 div) | 46 (2 div) |
//! | sinh    | 55 | 72 |
//! | cosh    | 46 | 60 |
//! | tanh    | 43 (1 div) | 55 (1 div) |
//! | erf     | 13 + 50 (1 div) | 18 + 66 (1 div) |
//! | powf    | 118 (f64 inside, 1 div) | 165 (2 div) |
//! | rsqrt   | 2 | 2 |
//! | round   | 7 | 7 |
//!
//! Fast f32: exp 2, log 2, sin/cos 5, powf 48, rsqrt 1.
//!
//! THIS FILE IS THE INTERFACE: the signatures below are used by the kernel
//! emitter.

use crate::ptx::{Builder, Prec, Reg};

mod atrig;
mod erf;
mod exp;
mod log;
mod ops;
mod pow;
#[cfg(test)]
mod tests;
mod trig;

use ops::E;

/// Options of the math routines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MathOpts {
    /// Allow the hardware `.approx` instructions for f32 `exp`, `log`,
    /// `sin`, `cos`, `powf` and `rsqrt` (faster, less accurate, subnormals
    /// flushed; see the module documentation). Ignored for f64.
    pub fast: bool,
}

fn fast32(p: Prec, o: MathOpts) -> bool {
    o.fast && p == Prec::F32
}

/// `e^x`.
pub fn exp(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if fast32(p, o) {
        exp::exp_fast_f32(&mut e, x)
    } else if p == Prec::F32 {
        exp::exp_sfu_f32(&mut e, x)
    } else {
        exp::exp_accurate(&mut e, x)
    }
}
/// `2^x` by the hardware's `ex2.approx.ftz.f32` (f32 fast mode: the
/// pair programs of fast kernels compute their exponentials in base 2, the
/// factor `log2 e` folded into the argument; relative error below 2^-22,
/// subnormal results flushed to zero).
pub fn exp2_approx_f32(b: &mut Builder, x: Reg) -> Reg {
    let r = b.freg(Prec::F32);
    b.emit(format!("ex2.approx.ftz.f32 {r}, {x}"));
    r
}
/// `log2 x` by the hardware's `lg2.approx.ftz.f32` (f32 fast mode).
pub fn log2_approx_f32(b: &mut Builder, x: Reg) -> Reg {
    let r = b.freg(Prec::F32);
    b.emit(format!("lg2.approx.ftz.f32 {r}, {x}"));
    r
}
/// `e^x - 1`, accurate near 0.
pub fn expm1(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    exp::expm1(&mut E::new(b, p), x)
}
/// Natural logarithm.
pub fn log(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if fast32(p, o) {
        log::log_fast_f32(&mut e, x)
    } else {
        log::log(&mut e, x)
    }
}
/// `ln(1 + x)`, accurate near 0.
pub fn log1p(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    log::log1p(&mut E::new(b, p), x)
}
/// Sine.
pub fn sin(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if fast32(p, o) {
        trig::sincos_fast_f32(&mut e, x, false)
    } else {
        trig::sin(&mut e, x)
    }
}
/// Cosine.
pub fn cos(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if fast32(p, o) {
        trig::sincos_fast_f32(&mut e, x, true)
    } else {
        trig::cos(&mut e, x)
    }
}
/// Tangent (one shared reduction, `sin r / cos r` or `-cos r / sin r`).
pub fn tan(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    trig::tan(&mut E::new(b, p), x)
}
/// Arcsine.
pub fn asin(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    atrig::asin_acos(&mut E::new(b, p), x, false)
}
/// Arccosine.
pub fn acos(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    atrig::asin_acos(&mut E::new(b, p), x, true)
}
/// Arctangent.
pub fn atan(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    atrig::atan(&mut E::new(b, p), x)
}
/// `atan2(y, x)` (C semantics: quadrants, signed zeros, infinities).
pub fn atan2(b: &mut Builder, p: Prec, y: Reg, x: Reg, _o: MathOpts) -> Reg {
    atrig::atan2(&mut E::new(b, p), y, x)
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
pub fn erf(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
    erf::erf(&mut E::new(b, p), x)
}
/// `x^y` for real y (C `pow` semantics: `x^±0 = 1`, `1^y = 1`, negative
/// `x` with integral `y` gives the signed result, with non-integral `y`
/// NaN, `±0^y<0 = +inf` (`-inf` for odd `y`), infinities as C99).
pub fn powf(b: &mut Builder, p: Prec, x: Reg, y: Reg, o: MathOpts) -> Reg {
    let mut e = E::new(b, p);
    if fast32(p, o) {
        pow::powf_fast_f32(&mut e, x, y)
    } else {
        pow::powf(&mut e, x, y)
    }
}
/// `1/sqrt(x)` (IEEE: +inf at +0, -inf at -0, NaN below 0, +0 at +inf;
/// the emitter handles the formula language's `rsqrt(0) = 0`).
pub fn rsqrt(b: &mut Builder, p: Prec, x: Reg, o: MathOpts) -> Reg {
    pow::rsqrt(&mut E::new(b, p), x, fast32(p, o))
}
/// `round(x)`, half away from zero (the formula language's `round`; PTX's
/// `cvt.rni` rounds half to even): `t = trunc(x)`, then
/// `t + (|x - t| >= 0.5 ? copysign(1, x) : 0)`, every step exact. Correct
/// for every input (±0, ±inf and NaN preserved); 7 instructions.
pub fn round(b: &mut Builder, p: Prec, x: Reg) -> Reg {
    let mut e = E::new(b, p);
    let t = e.trunc(x);
    let d = e.sub(x, t);
    let ad = e.abs(d);
    let half = e.setp("ge", ad, e.k(0.5));
    let one = e.k(1.0);
    let s = e.copysign(one, x);
    let st = e.add(t, s);
    e.sel(st, t, half)
}
