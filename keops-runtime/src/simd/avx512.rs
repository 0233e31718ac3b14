//! AVX-512 (F + DQ + VL + BW) packs: [`F32x16`] and [`F64x8`]; masks are
//! the `__mmask16` / `__mmask8` bit masks.
//!
//! # Safety
//!
//! The methods are safe functions that execute AVX-512 instructions without
//! a `#[target_feature]` of their own. That is sound because these types are
//! private to the `simd` module and the only code that names them is
//! `Real::__dispatch`, which calls `WithPack::run::<F32x16>` (or
//! `::<F64x8>`) through `dispatch::run_avx512` after `dispatch` checked with
//! `is_x86_feature_detected!` that the CPU has AVX-512 F, DQ, VL and BW (and
//! AVX2, FMA). So a value of these types, or a call to their associated
//! functions, can only occur after that check succeeded on this machine.
//! Every method is `#[inline(always)]` so that it inlines into the
//! `#[target_feature(enable = "avx512f,...")]` function and becomes a few
//! inline instructions.
//!
//! The AVX-512 intrinsics are stable since Rust 1.89 (the workspace's
//! `rust-version`).

use core::arch::x86_64::*;
use core::fmt;
use core::ops::{Add, Div, Mul, Neg, Sub};

use super::scalar::{max_ignore_nan, min_ignore_nan, tree_reduce};
use super::Pack;

/// Sixteen `f32` lanes in a `__m512`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct F32x16(__m512);

/// Eight `f64` lanes in a `__m512d`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct F64x8(__m512d);

macro_rules! binops {
    ($ty:ident: $($tr:ident $f:ident $intr:ident),*) => {$(
        impl $tr for $ty {
            type Output = Self;
            #[inline(always)]
            fn $f(self, rhs: Self) -> Self {
                // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch`
                // (module docs).
                Self(unsafe { $intr(self.0, rhs.0) })
            }
        }
    )*};
}

binops!(F32x16: Add add _mm512_add_ps, Sub sub _mm512_sub_ps, Mul mul _mm512_mul_ps, Div div _mm512_div_ps);
binops!(F64x8: Add add _mm512_add_pd, Sub sub _mm512_sub_pd, Mul mul _mm512_mul_pd, Div div _mm512_div_pd);

impl Neg for F32x16 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_xor_ps(self.0, _mm512_set1_ps(-0.0)) })
    }
}

impl Neg for F64x8 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_xor_pd(self.0, _mm512_set1_pd(-0.0)) })
    }
}

impl fmt::Debug for F32x16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut a = [0.0f32; 16];
        self.store(&mut a);
        f.debug_tuple("F32x16").field(&a).finish()
    }
}

impl fmt::Debug for F64x8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut a = [0.0f64; 8];
        self.store(&mut a);
        f.debug_tuple("F64x8").field(&a).finish()
    }
}

const ROUND_FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
const ROUND_TRUNC: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;

static IOTA_F32: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];
static IOTA_F64: [f64; 8] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];

impl Pack for F32x16 {
    type Elem = f32;
    type Mask = __mmask16;
    const LANES: usize = 16;

    #[inline(always)]
    fn splat(x: f32) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_set1_ps(x) })
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..16];
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs); `s` holds 16 readable values (unaligned load).
        Self(unsafe { _mm512_loadu_ps(s.as_ptr()) })
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f32) -> Self {
        // SAFETY: the ISA was detected by `dispatch` (module docs); the
        // caller guarantees 16 readable values at `p` (unaligned load).
        Self(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..16];
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs); `s` holds 16 writable values (unaligned store).
        unsafe { _mm512_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn iota() -> Self {
        Self::load(&IOTA_F32)
    }
    #[inline(always)]
    fn lane_onehot(d: usize) -> Self {
        // Bit `d` (no bit at all when `d >= 16`: the u32 shift drops it).
        let k = (1u32 << d.min(16)) as __mmask16;
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_maskz_mov_ps(k, _mm512_set1_ps(1.0)) })
    }
    #[inline(always)]
    fn first_n(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }

    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_abs_ps(self.0) })
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        // `vminps` returns the second operand unless `self < other`.
        Self(unsafe { _mm512_min_ps(self.0, other.0) })
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        // `vmaxps` returns the second operand unless `self > other`.
        Self(unsafe { _mm512_max_ps(self.0, other.0) })
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_roundscale_ps::<ROUND_FLOOR>(self.0) })
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        let t = Self(unsafe { _mm512_roundscale_ps::<ROUND_TRUNC>(self.0) });
        // `self - t` is exact; step away from zero when it is at least 1/2.
        let up = (self - t).abs().cmp_ge(Self::splat(0.5));
        Self::select(up, t + Self::splat(1.0).copysign(self), t)
    }
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        const MAGIC: f32 = (1u32 << 23) as f32 + 127.0;
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(t.0))) })
    }
    #[inline(always)]
    fn pow2i_m1(n: Self) -> Self {
        const MAGIC: f32 = (1u32 << 23) as f32 + (127.0 - 1.0);
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(t.0))) })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs). `vgetmantps`/`vgetexpps` normalise subnormal inputs.
        unsafe {
            let m = _mm512_getmant_ps::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(self.0);
            (Self(m), Self(_mm512_getexp_ps(self.0)))
        }
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe {
            let s = _mm512_set1_ps(-0.0);
            Self(_mm512_or_ps(
                _mm512_andnot_ps(s, self.0),
                _mm512_and_ps(s, sign.0),
            ))
        }
    }

    #[inline(always)]
    fn cmp_lt(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_le(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_gt(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ge(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_eq(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ne(self, o: Self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn is_nan(self) -> __mmask16 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0, self.0) }
    }
    #[inline(always)]
    fn select(m: __mmask16, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        // `mask_blend(k, x, y)` takes `y` where `k` is set.
        Self(unsafe { _mm512_mask_blend_ps(m, b.0, a.0) })
    }
    #[inline(always)]
    fn mask_and(a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline(always)]
    fn mask_or(a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn mask_not(a: __mmask16) -> __mmask16 {
        !a
    }
    #[inline(always)]
    fn mask_any(m: __mmask16) -> bool {
        m != 0
    }

    #[inline(always)]
    fn hsum(self) -> f32 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        // Tree order: lanes i + (i+8), i + (i+4), i + (i+2), then 0 + 1.
        unsafe {
            let s = _mm256_add_ps(
                _mm512_castps512_ps256(self.0),
                _mm512_extractf32x8_ps::<1>(self.0),
            );
            let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
        }
    }
    #[inline(always)]
    fn hmin(self) -> f32 {
        let mut a = [0.0f32; 16];
        self.store(&mut a);
        tree_reduce(a, min_ignore_nan::<f32>)
    }
    #[inline(always)]
    fn hmax(self) -> f32 {
        let mut a = [0.0f32; 16];
        self.store(&mut a);
        tree_reduce(a, max_ignore_nan::<f32>)
    }
}

impl Pack for F64x8 {
    type Elem = f64;
    type Mask = __mmask8;
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_set1_pd(x) })
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        let s = &s[..8];
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs); `s` holds 8 readable values (unaligned load).
        Self(unsafe { _mm512_loadu_pd(s.as_ptr()) })
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f64) -> Self {
        // SAFETY: the ISA was detected by `dispatch` (module docs); the
        // caller guarantees 8 readable values at `p` (unaligned load).
        Self(unsafe { _mm512_loadu_pd(p) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f64]) {
        let s = &mut s[..8];
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs); `s` holds 8 writable values (unaligned store).
        unsafe { _mm512_storeu_pd(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn iota() -> Self {
        Self::load(&IOTA_F64)
    }
    #[inline(always)]
    fn lane_onehot(d: usize) -> Self {
        // Bit `d` (no bit at all when `d >= 8`: the cast drops it).
        let k = (1u32 << d.min(8)) as __mmask8;
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_maskz_mov_pd(k, _mm512_set1_pd(1.0)) })
    }
    #[inline(always)]
    fn first_n(n: usize) -> __mmask8 {
        ((1u32 << n.min(8)) - 1) as __mmask8
    }

    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_fmadd_pd(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_abs_pd(self.0) })
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_min_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_max_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_sqrt_pd(self.0) })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_roundscale_pd::<ROUND_FLOOR>(self.0) })
    }
    #[inline(always)]
    fn round(self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        let t = Self(unsafe { _mm512_roundscale_pd::<ROUND_TRUNC>(self.0) });
        let up = (self - t).abs().cmp_ge(Self::splat(0.5));
        Self::select(up, t + Self::splat(1.0).copysign(self), t)
    }
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        const MAGIC: f64 = (1u64 << 52) as f64 + 1023.0;
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_castpd_si512(t.0))) })
    }
    #[inline(always)]
    fn pow2i_m1(n: Self) -> Self {
        const MAGIC: f64 = (1u64 << 52) as f64 + (1023.0 - 1.0);
        let t = n + Self::splat(MAGIC);
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_castpd_si512(t.0))) })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module
        // docs). `vgetmantpd`/`vgetexppd` normalise subnormal inputs.
        unsafe {
            let m = _mm512_getmant_pd::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(self.0);
            (Self(m), Self(_mm512_getexp_pd(self.0)))
        }
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe {
            let s = _mm512_set1_pd(-0.0);
            Self(_mm512_or_pd(
                _mm512_andnot_pd(s, self.0),
                _mm512_and_pd(s, sign.0),
            ))
        }
    }

    #[inline(always)]
    fn cmp_lt(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_le(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_LE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_gt(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_GT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ge(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_eq(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn cmp_ne(self, o: Self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn is_nan(self) -> __mmask8 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        unsafe { _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(self.0, self.0) }
    }
    #[inline(always)]
    fn select(m: __mmask8, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        Self(unsafe { _mm512_mask_blend_pd(m, b.0, a.0) })
    }
    #[inline(always)]
    fn mask_and(a: __mmask8, b: __mmask8) -> __mmask8 {
        a & b
    }
    #[inline(always)]
    fn mask_or(a: __mmask8, b: __mmask8) -> __mmask8 {
        a | b
    }
    #[inline(always)]
    fn mask_not(a: __mmask8) -> __mmask8 {
        !a
    }
    #[inline(always)]
    fn mask_any(m: __mmask8) -> bool {
        m != 0
    }

    #[inline(always)]
    fn hsum(self) -> f64 {
        // SAFETY: AVX-512 F/DQ/VL/BW were detected by `dispatch` (module docs).
        // Tree order: lanes i + (i+4), i + (i+2), then 0 + 1.
        unsafe {
            let s = _mm256_add_pd(
                _mm512_castpd512_pd256(self.0),
                _mm512_extractf64x4_pd::<1>(self.0),
            );
            let s = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
    #[inline(always)]
    fn hmin(self) -> f64 {
        let mut a = [0.0f64; 8];
        self.store(&mut a);
        tree_reduce(a, min_ignore_nan::<f64>)
    }
    #[inline(always)]
    fn hmax(self) -> f64 {
        let mut a = [0.0f64; 8];
        self.store(&mut a);
        tree_reduce(a, max_ignore_nan::<f64>)
    }
}
