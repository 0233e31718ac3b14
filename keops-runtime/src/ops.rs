//! Scalar operations used by the generated formula code, generic over the
//! pack type. Each follows the reference semantics of `keops-compiler`'s IR
//! (`Un::eval`, `Bin::eval`, `Tern::eval`) lane by lane.

use crate::simd::{Pack, Real};

/// A constant, splatted.
#[inline(always)]
pub fn c<P: Pack>(x: f64) -> P {
    P::splat(<P::Elem as Real>::from_f64(x))
}

#[inline(always)]
fn zero<P: Pack>() -> P {
    c::<P>(0.0)
}

#[inline(always)]
fn one<P: Pack>() -> P {
    c::<P>(1.0)
}

/// `e^x` with results below about `2^-125` (f32) / `2^-1021` (f64)
/// flushed to 0 (see [`crate::simd::math::exp_flush`]; the absolute error
/// of the flush is below `2^-125`, resp. `2^-1021`). The formula language's
/// `exp` uses this: an underflowing exponential (a Gaussian kernel between
/// distant points) then never creates a subnormal number, whose arithmetic
/// costs tens of cycles per operation on x86.
#[inline(always)]
pub fn exp<P: Pack>(x: P) -> P {
    crate::simd::math::exp_flush(x)
}

/// `1/sqrt(x)`, 0 at 0.
#[inline(always)]
pub fn rsqrt<P: Pack>(x: P) -> P {
    P::select(x.cmp_eq(zero()), zero(), one::<P>() / x.sqrt())
}

/// -1, 0 or 1 (0 for NaN).
#[inline(always)]
pub fn sign<P: Pack>(x: P) -> P {
    let pos = P::select(x.cmp_gt(zero()), one(), zero());
    P::select(x.cmp_lt(zero()), -one::<P>(), pos)
}

/// 0 for `x < 0`, 1 otherwise (including NaN).
#[inline(always)]
pub fn step<P: Pack>(x: P) -> P {
    P::select(x.cmp_lt(zero()), zero(), one())
}

/// `x` where `x >= 0` (or NaN), 0 below.
#[inline(always)]
pub fn relu<P: Pack>(x: P) -> P {
    P::select(x.cmp_lt(zero()), zero(), x)
}

/// `1/x`.
#[inline(always)]
pub fn inv<P: Pack>(x: P) -> P {
    one::<P>() / x
}

/// `x ln x`, 0 at 0.
#[inline(always)]
pub fn xlogx<P: Pack>(x: P) -> P {
    P::select(x.cmp_eq(zero()), zero(), x * x.ln())
}

/// `sin(x)/x`, 1 at 0.
#[inline(always)]
pub fn sinxdivx<P: Pack>(x: P) -> P {
    P::select(x.cmp_eq(zero()), one(), x.sin() / x)
}

/// `(cos x - sin(x)/x)/x`, 0 at 0 (derivative of `sinxdivx`).
#[inline(always)]
pub fn sinxdivx_deriv<P: Pack>(x: P) -> P {
    P::select(x.cmp_eq(zero()), zero(), (x.cos() - x.sin() / x) / x)
}

/// `a` if `a > b` or `b` is NaN, else `b`.
#[inline(always)]
pub fn max<P: Pack>(a: P, b: P) -> P {
    P::select(P::mask_or(a.cmp_gt(b), b.is_nan()), a, b)
}

/// `a` if `a < b` or `b` is NaN, else `b`.
#[inline(always)]
pub fn min<P: Pack>(a: P, b: P) -> P {
    P::select(P::mask_or(a.cmp_lt(b), b.is_nan()), a, b)
}

#[inline(always)]
fn indicator<P: Pack>(m: P::Mask) -> P {
    P::select(m, one(), zero())
}

/// `a < b` as 0/1.
#[inline(always)]
pub fn lt<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_lt(b))
}

/// `a <= b` as 0/1.
#[inline(always)]
pub fn le<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_le(b))
}

/// `a > b` as 0/1.
#[inline(always)]
pub fn gt<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_gt(b))
}

/// `a >= b` as 0/1.
#[inline(always)]
pub fn ge<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_ge(b))
}

/// `a == b` as 0/1.
#[inline(always)]
pub fn eq<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_eq(b))
}

/// `a != b` as 0/1.
#[inline(always)]
pub fn ne<P: Pack>(a: P, b: P) -> P {
    indicator::<P>(a.cmp_ne(b))
}

/// `lo` if `x < lo`, `hi` if `x > hi`, else `x`.
#[inline(always)]
pub fn clamp<P: Pack>(x: P, lo: P, hi: P) -> P {
    P::select(x.cmp_lt(lo), lo, P::select(x.cmp_gt(hi), hi, x))
}

/// `a` where `c >= 0`, else `b`.
#[inline(always)]
pub fn ifelse<P: Pack>(c: P, a: P, b: P) -> P {
    P::select(c.cmp_ge(zero()), a, b)
}

/// `x - n floor((x - d) / n)`.
#[inline(always)]
pub fn modulo<P: Pack>(x: P, n: P, d: P) -> P {
    x - n * ((x - d) / n).floor()
}

/// `if c != 0 { a } else { b }`.
#[inline(always)]
pub fn select<P: Pack>(c: P, a: P, b: P) -> P {
    P::select(c.cmp_ne(zero()), a, b)
}

/// `floor(v / 65536)` as a float (exact).
#[inline(always)]
pub fn index_hi<P: Pack>(v: usize) -> P {
    P::splat(<P::Elem as Real>::from_usize(v >> 16))
}

/// `v mod 65536` as a float (exact).
#[inline(always)]
pub fn index_lo<P: Pack>(v: usize) -> P {
    P::splat(<P::Elem as Real>::from_usize(v & 0xffff))
}

/// 1 in the lane whose inner index equals `target`, given the pack starts at `j0`.
#[inline(always)]
pub fn index_match<P: Pack>(target: usize, j0: usize) -> P {
    P::lane_onehot(target.wrapping_sub(j0))
}
