//! SIMD packs: the lane types that the CPU engine and the macro-emitted
//! per-formula evaluators are generic over.
//!
//! A [`Pack`] is `LANES` values of one float type ([`Real`]). Formula code is
//! written once, generically over `P: Pack`, and monomorphised for every ISA
//! level: a scalar fallback (`LANES = 1`, the float type itself), AVX2+FMA and
//! AVX-512. [`dispatch`] picks the best level the CPU supports once per call
//! (cached detection) and runs a [`WithPack`] body inside a function compiled
//! with the matching `#[target_feature]`s, so that every `#[inline(always)]`
//! pack operation inlines into straight SIMD code.
//!
//! The environment variable `KEOPS_SIMD=scalar|avx2|avx512` caps the level
//! that [`dispatch`] uses (see [`best_level`]); [`dispatch_at`] runs a body
//! at a chosen level, which is how the levels are compared in tests.
//!
//! The concrete SIMD types are private to this module: code outside can only
//! reach them through [`dispatch`], after the CPU features were checked, which
//! is what makes their safe methods sound.
//!
//! Transcendental functions (`exp`, `ln`, `sin`, ...) are branch-free
//! polynomial approximations written once over the primitive operations, so
//! the scalar fallback computes bit-for-bit what one SIMD lane computes. Their
//! accuracy is documented in [`math`].
//!
//! On a *concrete* `f32`/`f64` value, method syntax finds the inherent std
//! methods first (`x.exp()`, `x.min(y)`, `x.mul_add(a, b)` are std's): in
//! scalar tails write `Pack::exp(x)` or [`math::exp`]`(x)` to get the same
//! polynomial (and the same `min`/`max` NaN rule) as the SIMD lanes. Code
//! generic over `T: Real` or `P: Pack` always gets the `Pack` methods.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod dispatch;
pub mod math;
mod scalar;

pub use dispatch::{best_level, dispatch, dispatch_at, supported_levels, SimdLevel};

#[cfg(test)]
mod tests;

/// A floating-point element type that keops computes in: `f32` or `f64`.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Debug
    + Display
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Pack<Elem = Self>
    + crate::elem::DeviceElem
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Size in bytes.
    const BYTES: usize;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Rounds an `f64` to this type.
    fn from_f64(x: f64) -> Self;
    /// Widens (or copies) to `f64`.
    fn to_f64(self) -> f64;
    /// Converts an integer (exactly when it is representable).
    fn from_usize(x: usize) -> Self;
    /// Runs `w` with the widest pack type of this element type that `level`
    /// allows. `level` must be supported by the CPU (checked by the callers in
    /// [`dispatch`], which is the only way to reach this).
    #[doc(hidden)]
    fn __dispatch<W: WithPack<Self>>(w: W, level: SimdLevel) -> W::Output;

    /// `F`'s item for this type (`F::f32()` or `F::f64()`): how the modules
    /// above this one reach what they have once per element type, such as
    /// the CPU engine compiled once in this crate (see
    /// `keops_runtime::cpu::run_stage`), from generic code.
    #[doc(hidden)]
    fn __select<F: PerReal>() -> F::Item<Self>;
}

/// Items with one instance per element type (`f32`, `f64`), picked for a
/// generic `T: Real` by [`Real::__select`].
#[doc(hidden)]
pub trait PerReal {
    /// The item's type for element type `T`.
    type Item<T: Real>;
    /// The item for `f32`.
    fn f32() -> Self::Item<f32>;
    /// The item for `f64`.
    fn f64() -> Self::Item<f64>;
}

/// A body of code generic over the pack type, run by [`dispatch`].
///
/// Mark the implementation of [`run`](WithPack::run) `#[inline(always)]`
/// (and so every generic helper that it calls with pack arguments): it is
/// inlined into the `#[target_feature]` function that [`dispatch`] calls,
/// which is what lets the pack operations compile to inline SIMD
/// instructions. A body that is not inlined still computes the same results,
/// only slowly (every pack operation becomes a call).
///
/// ```
/// use keops_runtime::simd::{dispatch, Pack, Real, WithPack};
///
/// /// Sum of `exp(-x^2)` over a slice.
/// struct GaussSum<'a, T>(&'a [T]);
///
/// impl<T: Real> WithPack<T> for GaussSum<'_, T> {
///     type Output = T;
///     #[inline(always)]
///     fn run<P: Pack<Elem = T>>(self) -> T {
///         let mut acc = P::splat(T::default());
///         let mut chunks = self.0.chunks_exact(P::LANES);
///         for c in &mut chunks {
///             let x = P::load(c);
///             acc = acc + (-(x * x)).exp();
///         }
///         let mut sum = acc.hsum();
///         for &x in chunks.remainder() {
///             sum += (-(x * x)).exp(); // the scalar level: same polynomial
///         }
///         sum
///     }
/// }
///
/// let x: Vec<f32> = (0..100).map(|i| i as f32 * 0.01).collect();
/// let s = dispatch(GaussSum(&x));
/// let reference: f64 = x.iter().map(|&v| (-(v as f64) * v as f64).exp()).sum();
/// assert!((s as f64 - reference).abs() < 1e-4);
/// ```
pub trait WithPack<T: Real> {
    /// What the body returns.
    type Output;
    /// Runs the body with pack type `P`.
    fn run<P: Pack<Elem = T>>(self) -> Self::Output;
}

/// `LANES` values of one float type, with the operations the formula
/// evaluators and reductions need. All methods are `#[inline(always)]` in
/// every implementation.
pub trait Pack:
    Copy
    + Send
    + Sync
    + Debug
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The element type.
    type Elem: Real;
    /// The result of a lane-wise comparison.
    type Mask: Copy + Debug;
    /// Number of lanes.
    const LANES: usize;

    /// All lanes equal to `x`.
    fn splat(x: Self::Elem) -> Self;
    /// Loads `LANES` values from the start of `s`. Panics if `s` is shorter.
    fn load(s: &[Self::Elem]) -> Self;
    /// Loads `LANES` values starting at `p`, without a bounds check.
    ///
    /// # Safety
    /// `p` must point to `LANES` readable, initialised values.
    #[doc(hidden)]
    unsafe fn load_ptr(p: *const Self::Elem) -> Self;
    /// Stores `LANES` values at the start of `s`. Panics if `s` is shorter.
    fn store(self, s: &mut [Self::Elem]);
    /// `[0, 1, 2, ..., LANES - 1]`.
    fn iota() -> Self;
    /// 1 in lane `d` and 0 elsewhere (all 0 when `d >= LANES`).
    fn lane_onehot(d: usize) -> Self;
    /// Mask whose first `n` lanes are set (all set when `n >= LANES`).
    fn first_n(n: usize) -> Self::Mask;

    /// `self * b + c`, fused (one rounding) where the ISA has FMA; the scalar
    /// fallback uses `mul_add` too, so every level rounds identically.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Lane-wise minimum: `if self < other { self } else { other }`.
    fn min(self, other: Self) -> Self;
    /// Lane-wise maximum: `if self > other { self } else { other }`.
    fn max(self, other: Self) -> Self;
    /// Correctly rounded square root.
    fn sqrt(self) -> Self;
    /// Largest integer not greater than `self`.
    fn floor(self) -> Self;
    /// Nearest integer, halves away from zero (C `round`).
    fn round(self) -> Self;
    /// `2^n` for integral-valued `n` in the normal exponent range (used to
    /// rebuild exponents in `exp`); exact. Other arguments give an
    /// unspecified (but equal at every level) value.
    fn pow2i(n: Self) -> Self;
    /// `2^(n-1)`, as [`Pack::pow2i`] of `n - 1` (one operation less).
    fn pow2i_m1(n: Self) -> Self;
    /// Splits finite positive normal `x` into `(m, e)` with `x = m * 2^e`,
    /// `m` in `[1, 2)` and `e` integral-valued (used by `ln`). Subnormal
    /// inputs must also be handled exactly.
    fn frexp(self) -> (Self, Self);
    /// The magnitude of `self` with the sign bit of `sign` (IEEE
    /// `copySign`: works on zeros, infinities and NaNs too).
    fn copysign(self, sign: Self) -> Self;

    /// `self < o`, false when either is NaN.
    fn cmp_lt(self, o: Self) -> Self::Mask;
    /// `self <= o`, false when either is NaN.
    fn cmp_le(self, o: Self) -> Self::Mask;
    /// `self > o`, false when either is NaN.
    fn cmp_gt(self, o: Self) -> Self::Mask;
    /// `self >= o`, false when either is NaN.
    fn cmp_ge(self, o: Self) -> Self::Mask;
    /// `self == o`, false when either is NaN.
    fn cmp_eq(self, o: Self) -> Self::Mask;
    /// `self != o`, true when either is NaN.
    fn cmp_ne(self, o: Self) -> Self::Mask;
    /// True in lanes that hold NaN.
    fn is_nan(self) -> Self::Mask;
    /// `if m { a } else { b }` lane-wise.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Lane-wise and of masks.
    fn mask_and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Lane-wise or of masks.
    fn mask_or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Lane-wise not of a mask.
    fn mask_not(a: Self::Mask) -> Self::Mask;
    /// True when any lane of `m` is set.
    fn mask_any(m: Self::Mask) -> bool;

    /// Sum of the lanes (fixed pairwise order, so results are reproducible).
    fn hsum(self) -> Self::Elem;
    /// Minimum of the lanes (NaN lanes ignored unless all are NaN).
    fn hmin(self) -> Self::Elem;
    /// Maximum of the lanes (NaN lanes ignored unless all are NaN).
    fn hmax(self) -> Self::Elem;

    // ---- transcendental functions (see `math` for accuracy) ----
    /// `e^x`.
    #[inline(always)]
    fn exp(self) -> Self {
        math::exp(self)
    }
    /// `e^x - 1`, accurate near 0.
    #[inline(always)]
    fn exp_m1(self) -> Self {
        math::exp_m1(self)
    }
    /// Natural logarithm (NaN below 0, -inf at 0).
    #[inline(always)]
    fn ln(self) -> Self {
        math::ln(self)
    }
    /// `ln(1 + x)`, accurate near 0.
    #[inline(always)]
    fn ln_1p(self) -> Self {
        math::ln_1p(self)
    }
    /// Sine.
    #[inline(always)]
    fn sin(self) -> Self {
        math::sin(self)
    }
    /// Cosine.
    #[inline(always)]
    fn cos(self) -> Self {
        math::cos(self)
    }
    /// Arcsine (NaN outside [-1, 1]).
    #[inline(always)]
    fn asin(self) -> Self {
        math::asin(self)
    }
    /// Arccosine (NaN outside [-1, 1]).
    #[inline(always)]
    fn acos(self) -> Self {
        math::acos(self)
    }
    /// Arctangent.
    #[inline(always)]
    fn atan(self) -> Self {
        math::atan(self)
    }
    /// Four-quadrant arctangent of `self / x` (`self` is y), as `f64::atan2`.
    #[inline(always)]
    fn atan2(self, x: Self) -> Self {
        math::atan2(self, x)
    }
    /// Hyperbolic sine.
    #[inline(always)]
    fn sinh(self) -> Self {
        math::sinh(self)
    }
    /// Hyperbolic cosine.
    #[inline(always)]
    fn cosh(self) -> Self {
        math::cosh(self)
    }
    /// Hyperbolic tangent.
    #[inline(always)]
    fn tanh(self) -> Self {
        math::tanh(self)
    }
    /// Error function.
    #[inline(always)]
    fn erf(self) -> Self {
        math::erf(self)
    }
    /// `self^y` for real `y` (`exp(y ln self)` with the C `pow` special
    /// cases for negative bases with integral `y`, zero and infinities).
    #[inline(always)]
    fn powf(self, y: Self) -> Self {
        math::powf(self, y)
    }
}
