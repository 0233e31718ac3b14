//! The scalar level: `f32` and `f64` are packs of one lane.
//!
//! Every operation has exactly the semantics that one lane of the SIMD packs
//! has (`min`/`max` return the second operand when either is NaN, `round`
//! rounds halves away from zero, `pow2i`/`frexp` use the same bit
//! manipulations), and the transcendental functions run the same generic
//! polynomial code of [`math`](super::math), so a scalar result equals the
//! corresponding SIMD lane bit for bit.
//!
//! `mul_add` is `f32::mul_add` / `f64::mul_add`: a single fused
//! instruction where the caller was compiled with FMA enabled (the scalar
//! level of [`dispatch`](super::dispatch) is, when the CPU has FMA), and a
//! correctly rounded software `fma` from the C library otherwise. Both give
//! the same bits.

use super::dispatch;
use super::{Pack, PerReal, Real, SimdLevel, WithPack};

/// Applies `f` pairwise in the fixed tree order that every `hsum`, `hmin`
/// and `hmax` uses: `v[i] = f(v[i], v[i + n/2])`, halving `n` until one value
/// is left. `N` must be a power of two.
#[inline(always)]
pub(super) fn tree_reduce<T: Copy, const N: usize>(mut v: [T; N], f: impl Fn(T, T) -> T) -> T {
    let mut n = N;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            v[i] = f(v[i], v[i + n]);
        }
    }
    v[0]
}

/// `min` that ignores a NaN operand (NaN only when both are NaN).
#[inline(always)]
pub(super) fn min_ignore_nan<T: Real>(a: T, b: T) -> T {
    T::select(b.is_nan(), a, a.min(b))
}

/// `max` that ignores a NaN operand (NaN only when both are NaN).
#[inline(always)]
pub(super) fn max_ignore_nan<T: Real>(a: T, b: T) -> T {
    T::select(b.is_nan(), a, a.max(b))
}

macro_rules! impl_scalar {
    (
        $t:ident, $bits:ident, $name:literal,
        mant_bits = $mant:literal, bias = $bias:literal,
        sub_scale = $sub_scale:expr, sub_log2 = $sub_log2:literal,
        avx2 = $avx2:ident, avx512 = $avx512:ident $(,)?
    ) => {
        impl Real for $t {
            const NAME: &'static str = $name;
            const BYTES: usize = core::mem::size_of::<$t>();
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const EPSILON: Self = <$t>::EPSILON;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(x: usize) -> Self {
                x as $t
            }

            #[inline]
            fn __dispatch<W: WithPack<Self>>(w: W, level: SimdLevel) -> W::Output {
                dispatch::assert_supported(level);
                match level {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `assert_supported` checked that the CPU has
                    // AVX-512 F/DQ/VL/BW (and AVX2, FMA).
                    SimdLevel::Avx512 => unsafe {
                        dispatch::run_avx512::<$t, super::avx512::$avx512, W>(w)
                    },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `assert_supported` checked that the CPU has
                    // AVX2 and FMA.
                    SimdLevel::Avx2 => unsafe {
                        dispatch::run_avx2::<$t, super::avx2::$avx2, W>(w)
                    },
                    _ => dispatch::run_scalar::<$t, W>(w),
                }
            }

            #[inline]
            fn __select<F: PerReal>() -> F::Item<Self> {
                F::$t()
            }
        }

        impl Pack for $t {
            type Elem = $t;
            type Mask = bool;
            const LANES: usize = 1;

            #[inline(always)]
            fn splat(x: $t) -> Self {
                x
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                s[0]
            }
            #[inline(always)]
            unsafe fn load_ptr(p: *const $t) -> Self {
                // SAFETY: the caller guarantees one readable value at `p`.
                unsafe { *p }
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[0] = self;
            }
            #[inline(always)]
            fn iota() -> Self {
                0.0
            }
            #[inline(always)]
            fn lane_onehot(d: usize) -> Self {
                if d == 0 {
                    1.0
                } else {
                    0.0
                }
            }
            #[inline(always)]
            fn first_n(n: usize) -> bool {
                n >= 1
            }

            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(self, b, c)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                // Not `f32::min`: NaN handling must match `minps`.
                if self < other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                if self > other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline(always)]
            fn round(self) -> Self {
                <$t>::round(self)
            }
            #[inline(always)]
            fn pow2i(n: Self) -> Self {
                // Same bit trick as the SIMD levels: the low bits of
                // `n + 2^MANT + BIAS` are `n + BIAS`, shifted into the
                // exponent field.
                const MAGIC: $t = ((1 as $bits) << $mant) as $t + $bias as $t;
                <$t>::from_bits((n + MAGIC).to_bits() << $mant)
            }
            #[inline(always)]
            fn pow2i_m1(n: Self) -> Self {
                const MAGIC: $t = ((1 as $bits) << $mant) as $t + ($bias - 1) as $t;
                <$t>::from_bits((n + MAGIC).to_bits() << $mant)
            }
            #[inline(always)]
            fn frexp(self) -> (Self, Self) {
                const MANT_MASK: $bits = ((1 as $bits) << $mant) - 1;
                const ONE_BITS: $bits = ($bias as $bits) << $mant;
                let sub = self < <$t>::MIN_POSITIVE;
                let x = if sub { self * $sub_scale } else { self };
                let bits = x.to_bits();
                let bias = if sub {
                    ($bias + $sub_log2) as $t
                } else {
                    $bias as $t
                };
                let e = (bits >> $mant) as $t - bias;
                let m = <$t>::from_bits((bits & MANT_MASK) | ONE_BITS);
                (m, e)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }

            #[inline(always)]
            fn cmp_lt(self, o: Self) -> bool {
                self < o
            }
            #[inline(always)]
            fn cmp_le(self, o: Self) -> bool {
                self <= o
            }
            #[inline(always)]
            fn cmp_gt(self, o: Self) -> bool {
                self > o
            }
            #[inline(always)]
            fn cmp_ge(self, o: Self) -> bool {
                self >= o
            }
            #[inline(always)]
            fn cmp_eq(self, o: Self) -> bool {
                self == o
            }
            #[inline(always)]
            fn cmp_ne(self, o: Self) -> bool {
                self != o
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn select(m: bool, a: Self, b: Self) -> Self {
                if m {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn mask_and(a: bool, b: bool) -> bool {
                a & b
            }
            #[inline(always)]
            fn mask_or(a: bool, b: bool) -> bool {
                a | b
            }
            #[inline(always)]
            fn mask_not(a: bool) -> bool {
                !a
            }
            #[inline(always)]
            fn mask_any(m: bool) -> bool {
                m
            }

            #[inline(always)]
            fn hsum(self) -> $t {
                self
            }
            #[inline(always)]
            fn hmin(self) -> $t {
                self
            }
            #[inline(always)]
            fn hmax(self) -> $t {
                self
            }
        }
    };
}

impl_scalar!(
    f32,
    u32,
    "f32",
    mant_bits = 23,
    bias = 127,
    sub_scale = 4294967296.0,
    sub_log2 = 32,
    avx2 = F32x8,
    avx512 = F32x16,
);
impl_scalar!(
    f64,
    u64,
    "f64",
    mant_bits = 52,
    bias = 1023,
    sub_scale = 18446744073709551616.0,
    sub_log2 = 64,
    avx2 = F64x4,
    avx512 = F64x8,
);
