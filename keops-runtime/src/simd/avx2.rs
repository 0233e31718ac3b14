//! AVX2 + FMA packs: [`F32x8`] and [`F64x4`]; masks are float vectors with
//! all bits set in the true lanes.
//!
//! # Safety
//!
//! The methods are safe functions that execute AVX/AVX2/FMA instructions
//! without a `#[target_feature]` of their own. That is sound because these
//! types are private to the `simd` module and the only code that names them
//! is `Real::__dispatch`, which calls `WithPack::run::<F32x8>` (or
//! `::<F64x4>`) through `dispatch::run_avx2` after `dispatch` checked with
//! `is_x86_feature_detected!` that the CPU has AVX2 and FMA. So a value of
//! these types, or a call to their associated functions, can only occur after
//! that check succeeded on this machine. Every method is `#[inline(always)]`
//! so that it inlines into the `#[target_feature(enable = "avx2,fma")]`
//! function and becomes a few inline instructions.

use core::arch::x86_64::*;
use core::fmt;
use core::ops::{Add, Div, Mul, Neg, Sub};

use super::scalar::{max_ignore_nan, min_ignore_nan, tree_reduce};
use super::Pack;

/// Eight `f32` lanes in a `__m256`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct F32x8(__m256);

/// Four `f64` lanes in a `__m256d`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct F64x4(__m256d);

macro_rules! binops {
    ($ty:ident: $($tr:ident $f:ident $intr:ident),*) => {$(
        impl $tr for $ty {
            type Output = Self;
            #[inline(always)]
            fn $f(self, rhs: Self) -> Self {
                // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
                Self(unsafe { $intr(self.0, rhs.0) })
            }
        }
    )*};
}

binops!(F32x8: Add add _mm256_add_ps, Sub sub _mm256_sub_ps, Mul mul _mm256_mul_ps, Div div _mm256_div_ps);
binops!(F64x4: Add add _mm256_add_pd, Sub sub _mm256_sub_pd, Mul mul _mm256_mul_pd, Div div _mm256_div_pd);

impl Neg for F32x8 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_xor_ps(self.0, _mm256_set1_ps(-0.0)) })
    }
}

impl Neg for F64x4 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_xor_pd(self.0, _mm256_set1_pd(-0.0)) })
    }
}

impl fmt::Debug for F32x8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut a = [0.0f32; 8];
        self.store(&mut a);
        f.debug_tuple("F32x8").field(&a).finish()
    }
}

impl fmt::Debug for F64x4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut a = [0.0f64; 4];
        self.store(&mut a);
        f.debug_tuple("F64x4").field(&a).finish()
    }
}

const ROUND_FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
const ROUND_TRUNC: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;

impl Pack for F32x8 {
    type Elem = f32;
    type Mask = __m256;
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(x: f32) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_set1_ps(x) })
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..8];
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs); `s`
        // holds 8 readable values (unaligned load).
        Self(unsafe { _mm256_loadu_ps(s.as_ptr()) })
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f32) -> Self {
        // SAFETY: the ISA was detected by `dispatch` (module docs); the
        // caller guarantees 8 readable values at `p` (unaligned load).
        Self(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..8];
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs); `s`
        // holds 8 writable values (unaligned store).
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn iota() -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0) })
    }
    #[inline(always)]
    fn lane_onehot(d: usize) -> Self {
        let hit = Self::iota().cmp_eq(Self::splat(d.min(8) as f32));
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_and_ps(hit, _mm256_set1_ps(1.0)) })
    }
    #[inline(always)]
    fn first_n(n: usize) -> __m256 {
        Self::iota().cmp_lt(Self::splat(n.min(8) as f32))
    }

    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        // `minps` returns the second operand unless `self < other`.
        Self(unsafe { _mm256_min_ps(self.0, other.0) })
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        // `maxps` returns the second operand unless `self > other`.
        Self(unsafe { _mm256_max_ps(self.0, other.0) })
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_round_ps::<ROUND_FLOOR>(self.0) })
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        let t = Self(unsafe { _mm256_round_ps::<ROUND_TRUNC>(self.0) });
        // `self - t` is exact; step away from zero when it is at least 1/2.
        let up = (self - t).abs().cmp_ge(Self::splat(0.5));
        Self::select(up, t + Self::splat(1.0).copysign(self), t)
    }
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        const MAGIC: f32 = (1u32 << 23) as f32 + 127.0;
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(t.0))) })
    }
    #[inline(always)]
    fn pow2i_m1(n: Self) -> Self {
        const MAGIC: f32 = (1u32 << 23) as f32 + (127.0 - 1.0);
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(t.0))) })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        let sub = self.cmp_lt(Self::splat(f32::MIN_POSITIVE));
        let x = Self::select(sub, self * Self::splat(4294967296.0), self);
        let bias = Self::select(sub, Self::splat(127.0 + 32.0), Self::splat(127.0));
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe {
            let bits = _mm256_castps_si256(x.0);
            let e = Self(_mm256_cvtepi32_ps(_mm256_srli_epi32::<23>(bits))) - bias;
            let m = _mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
                _mm256_set1_epi32(0x3f80_0000),
            );
            (Self(_mm256_castsi256_ps(m)), e)
        }
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe {
            let s = _mm256_set1_ps(-0.0);
            Self(_mm256_or_ps(
                _mm256_andnot_ps(s, self.0),
                _mm256_and_ps(s, sign.0),
            ))
        }
    }

    #[inline(always)]
    fn cmp_lt(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_le(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_gt(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ge(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_eq(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ne(self, o: Self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn is_nan(self) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0) }
    }
    #[inline(always)]
    fn select(m: __m256, a: Self, b: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_blendv_ps(b.0, a.0, m) })
    }
    #[inline(always)]
    fn mask_and(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_and_ps(a, b) }
    }
    #[inline(always)]
    fn mask_or(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    fn mask_not(a: __m256) -> __m256 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))) }
    }
    #[inline(always)]
    fn mask_any(m: __m256) -> bool {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_movemask_ps(m) != 0 }
    }

    #[inline(always)]
    fn hsum(self) -> f32 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        // Tree order: lanes i + (i+4), then i + (i+2), then 0 + 1.
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
        }
    }
    #[inline(always)]
    fn hmin(self) -> f32 {
        let mut a = [0.0f32; 8];
        self.store(&mut a);
        tree_reduce(a, min_ignore_nan::<f32>)
    }
    #[inline(always)]
    fn hmax(self) -> f32 {
        let mut a = [0.0f32; 8];
        self.store(&mut a);
        tree_reduce(a, max_ignore_nan::<f32>)
    }
}

impl Pack for F64x4 {
    type Elem = f64;
    type Mask = __m256d;
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_set1_pd(x) })
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        let s = &s[..4];
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs); `s`
        // holds 4 readable values (unaligned load).
        Self(unsafe { _mm256_loadu_pd(s.as_ptr()) })
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f64) -> Self {
        // SAFETY: the ISA was detected by `dispatch` (module docs); the
        // caller guarantees 4 readable values at `p` (unaligned load).
        Self(unsafe { _mm256_loadu_pd(p) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f64]) {
        let s = &mut s[..4];
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs); `s`
        // holds 4 writable values (unaligned store).
        unsafe { _mm256_storeu_pd(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn iota() -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_setr_pd(0.0, 1.0, 2.0, 3.0) })
    }
    #[inline(always)]
    fn lane_onehot(d: usize) -> Self {
        let hit = Self::iota().cmp_eq(Self::splat(d.min(4) as f64));
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_and_pd(hit, _mm256_set1_pd(1.0)) })
    }
    #[inline(always)]
    fn first_n(n: usize) -> __m256d {
        Self::iota().cmp_lt(Self::splat(n.min(4) as f64))
    }

    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_fmadd_pd(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_andnot_pd(_mm256_set1_pd(-0.0), self.0) })
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_min_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_max_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_sqrt_pd(self.0) })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_round_pd::<ROUND_FLOOR>(self.0) })
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        let t = Self(unsafe { _mm256_round_pd::<ROUND_TRUNC>(self.0) });
        let up = (self - t).abs().cmp_ge(Self::splat(0.5));
        Self::select(up, t + Self::splat(1.0).copysign(self), t)
    }
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        const MAGIC: f64 = (1u64 << 52) as f64 + 1023.0;
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(t.0))) })
    }
    #[inline(always)]
    fn pow2i_m1(n: Self) -> Self {
        const MAGIC: f64 = (1u64 << 52) as f64 + (1023.0 - 1.0);
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(t.0))) })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        let sub = self.cmp_lt(Self::splat(f64::MIN_POSITIVE));
        let x = Self::select(sub, self * Self::splat(18446744073709551616.0), self);
        let bias = Self::select(sub, Self::splat(1023.0 + 64.0), Self::splat(1023.0));
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe {
            let bits = _mm256_castpd_si256(x.0);
            // Biased exponent (< 2^12) to f64: or it into the mantissa of
            // 2^52 and subtract 2^52 (AVX2 has no i64 -> f64 conversion).
            let two52 = _mm256_set1_epi64x(0x4330_0000_0000_0000);
            let eb = _mm256_or_si256(_mm256_srli_epi64::<52>(bits), two52);
            let e = Self(_mm256_sub_pd(
                _mm256_castsi256_pd(eb),
                _mm256_castsi256_pd(two52),
            )) - bias;
            let m = _mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi64x(0x000f_ffff_ffff_ffff)),
                _mm256_set1_epi64x(0x3ff0_0000_0000_0000),
            );
            (Self(_mm256_castsi256_pd(m)), e)
        }
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe {
            let s = _mm256_set1_pd(-0.0);
            Self(_mm256_or_pd(
                _mm256_andnot_pd(s, self.0),
                _mm256_and_pd(s, sign.0),
            ))
        }
    }

    #[inline(always)]
    fn cmp_lt(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_le(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_gt(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_GT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ge(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_eq(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ne(self, o: Self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_NEQ_UQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn is_nan(self) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_cmp_pd::<_CMP_UNORD_Q>(self.0, self.0) }
    }
    #[inline(always)]
    fn select(m: __m256d, a: Self, b: Self) -> Self {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        Self(unsafe { _mm256_blendv_pd(b.0, a.0, m) })
    }
    #[inline(always)]
    fn mask_and(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_and_pd(a, b) }
    }
    #[inline(always)]
    fn mask_or(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_or_pd(a, b) }
    }
    #[inline(always)]
    fn mask_not(a: __m256d) -> __m256d {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_xor_pd(a, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))) }
    }
    #[inline(always)]
    fn mask_any(m: __m256d) -> bool {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        unsafe { _mm256_movemask_pd(m) != 0 }
    }

    #[inline(always)]
    fn hsum(self) -> f64 {
        // SAFETY: AVX2+FMA were detected by `dispatch` (module docs).
        // Tree order: lanes i + (i+2), then 0 + 1.
        unsafe {
            let s = _mm_add_pd(
                _mm256_castpd256_pd128(self.0),
                _mm256_extractf128_pd::<1>(self.0),
            );
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
    #[inline(always)]
    fn hmin(self) -> f64 {
        let mut a = [0.0f64; 4];
        self.store(&mut a);
        tree_reduce(a, min_ignore_nan::<f64>)
    }
    #[inline(always)]
    fn hmax(self) -> f64 {
        let mut a = [0.0f64; 4];
        self.store(&mut a);
        tree_reduce(a, max_ignore_nan::<f64>)
    }
}
