//! Branch-free transcendental functions over [`Pack`].
//!
//! Every function is written once over the pack primitives (`mul_add`,
//! `select` on masks, `frexp`, `pow2i`, ...), with separate minimax
//! coefficient sets for `f32` and `f64` (chosen by `P::Elem::BYTES`, a
//! constant that the compiler folds). There are no per-lane branches: special
//! cases are patched with `select`, so a lane never slows the others down,
//! and the scalar level (`f32`/`f64` as one-lane packs) computes exactly the
//! bits that one SIMD lane computes.
//!
//! # Algorithms
//!
//! - `exp`: `n = round(x / ln 2)`, Cody–Waite reduction `r = x - n ln 2` (two
//!   FMA steps, the first exact), `e^r = 1 + r + r^2 P(r)` (degree 5 / 10),
//!   and `2^n` applied as two exact factors so that results between the
//!   overflow threshold and the subnormal range are rounded once (correct
//!   `+inf`, subnormal results, `0` below them; NaN propagates).
//! - `exp_m1`: the same reduction and polynomial, `2^n (e^r - 1) + (2^n - 1)`
//!   with one FMA (exact for `n = 0`, so accurate near 0).
//! - `ln`: `frexp`, mantissa in `[sqrt(2)/2, sqrt(2))`, fdlibm's
//!   `f - f^2/2 + s (f^2/2 + R(s^2))` with `s = f / (2 + f)` (degree 3 / 7 in
//!   `s^2`), `e ln 2` in two parts. `ln(0) = -inf`, `ln(x < 0) = NaN`,
//!   `ln(inf) = inf`, subnormals exact through `frexp`.
//! - `ln_1p`: `u = 1 + x` rounded, the same kernel on `u`, plus the exact
//!   rounding error of `1 + x` divided by `u`.
//! - `sin`, `cos`: `q = round(x / pi)`, `r = x - q pi` as a double-word
//!   `rh + rl` (three-part pi, exact products through FMA, `two_sum`), odd
//!   polynomial for `sin(r)` on `[-pi/2, pi/2]` (degree 4 / 7 in `r^2`,
//!   `r^3` carried in two words) with the first-order correction from `rl`;
//!   `cos` uses odd multiples of `pi/2`. Results are clamped to `[-1, 1]`.
//! - `asin`, `acos`: `t + t z R(z)` on `|x| <= 1/2` (degree 5 / 11 in
//!   `z = x^2`) and `pi/2 - 2 asin(sqrt((1 - |x|)/2))` above (cephes style).
//! - `atan`, `atan2`: reduction to `|t| <= tan(pi/8)` by `t`, `(t-1)/(t+1)`
//!   or `-1/t` (one division for the three cases), odd polynomial (degree 4 /
//!   10 in `t^2`); `atan2` folds the quadrant and every IEEE special case
//!   (signed zeros, infinities) in with selects.
//! - `sinh` = `(u + u/(u+1))/2` with `u = exp_m1(|x|)`, `cosh` =
//!   `(e + 1/e)/2`; near the overflow threshold both use
//!   `(e^{x/2}/2) e^{x/2}`. `tanh` = `a + a^3 P(a^2)` for `a = |x| < 0.5625`
//!   (degree 4 / 10 in `a^2`), `u/(u+2)` with `u = exp_m1(2a)` above.
//! - `erf`: `x + x P(x^2)` on `|x| < 1`; above, `1 - e^{-x^2} g(x)` with `g`
//!   piecewise polynomial (2 / 3 pieces, selected per lane) and `x^2` split
//!   exactly; `1` beyond 3.93 (`f32`) or 6 (`f64`).
//! - `powf`: `exp(y ln|x|)` with `ln|x|` in double-word precision (`hi + lo`)
//!   and the product `y (hi + lo)` kept as two words into `exp`'s reduction,
//!   then the C99 / IEEE `pow` special cases by selects (`x^±0 = 1`,
//!   `1^y = 1`, negative bases with integral `y`, zeros, infinities, NaN).
//!
//! Coefficients are weighted minimax fits (Remez exchange in 60-digit
//! arithmetic, `mpmath`) of the reduced functions on the reduced intervals,
//! rounded to the target precision.
//!
//! # Accuracy
//!
//! Maximum error in ulps of the result, as measured by the tests
//! (`simd/tests.rs`; the `#[ignore]`d `accuracy_report`,
//! `exhaustive_exp_ln_f32` and `exhaustive_more_f32` print these numbers in
//! a release build):
//!
//! - `f32`: against the `f64` std functions (error negligible at `f32`
//!   precision), exhaustively over every `f32` of the range where marked
//!   *all*, otherwise over 10^7 random arguments (log-uniform magnitudes and
//!   uniform ranges, plus hard cases such as floats next to multiples of
//!   `pi/2`).
//! - `f64`: over 4·10^6 random arguments against glibc (first figure: glibc
//!   is itself off by up to 1–2 ulp, so this can overstate), then the worst
//!   arguments re-checked with 50-digit `mpmath` (second figure, the true
//!   error there); `erf` against a double-double reference (true error).
//!   Hard arguments with 60-digit references are also asserted
//!   (`accuracy_f64_against_mpmath`).
//!
//! | function | `f32` max ulp | `f64` max ulp (vs glibc / true) | arguments |
//! |---|---|---|---|
//! | `exp` | 0.996 (all) | 1.0 / 0.78 | whole range; overflow to `inf`, subnormal results, `0` below |
//! | `exp_m1` | 1.42 (all in `[-20, 89]`) | 2.0 / 1.57 | whole range |
//! | `ln` | 0.84 (all) | 1.0 / 0.72 | all positive numbers, subnormals included |
//! | `ln_1p` | 0.84 (all) | 1.0 / 0.61 | `(-1, inf)` |
//! | `sin` | 1.34 (all in `[0, 1e6]`) | 1.0 / 0.93 | `abs(x) <= 1e6` (`f32`), `abs(x) <= 1e14` (`f64`) |
//! | `cos` | 1.62 (all in `[-1e6, 1e6]`) | 1.0 / 0.88 | as `sin` |
//! | `tanh` | 1.50 (all in `[-10, 10]`) | 2.0 / 1.47 | whole range |
//! | `asin` | 2.29 (all) | 2.0 / 2.05 | `[-1, 1]` |
//! | `acos` | 1.06 (all) | 1.0 / 1.00 | `[-1, 1]` |
//! | `atan` | 1.89 (all) | 2.0 / 1.74 | whole range |
//! | `atan2` | 1.85 | 2.0 / 1.62 | magnitudes `2^±20` (`f32`), `2^±60` (`f64`), both signs |
//! | `sinh` | 2.38 (all in `[-90, 90]`) | 3.0 / 1.97 | whole range (worst near overflow) |
//! | `cosh` | 2.38 (all in `[0, 90]`) | 3.0 / 1.97 | whole range (worst near overflow) |
//! | `erf` | 1.15 (all in `[-4, 4]`) | 1.88 (true) | whole range |
//! | `powf` | 1.13 | 1.0 / 0.79 | results over the whole range, subnormal and overflow included |
//!
//! The tests assert (on the sweeps above, reduced in debug builds) `f32`
//! within 2 ulp for `exp exp_m1 ln ln_1p sin cos tanh` and 4 ulp for the
//! rest; `f64` within 2 ulp of glibc for `exp exp_m1 ln ln_1p sin cos` and 4
//! ulp for the rest.
//!
//! `sin`/`cos` beyond the stated range lose accuracy gradually (the
//! quadrant from `x/pi` is rounded), stay within `[-1, 1]`, and are `±0`
//! from `2^23` (`f32`) / `2^52` (`f64`) on, where one ulp of `x` exceeds
//! `pi`; they are NaN for infinite or NaN `x`. Every function propagates
//! NaN, keeps the sign of zero where the C function does (`sin`, `asin`,
//! `atan`, `sinh`, `tanh`, `exp_m1`, `ln_1p`, `erf`) and follows C99 for
//! infinities (`exp(-inf) = 0`, `ln(0) = -inf`, `atan2(±0, -0) = ±pi`,
//! `pow(-8, 1/3) = NaN`, `pow(-2, 3) = -8`, `pow(NaN, 0) = 1`, ...).
//!
//! All SIMD levels return the same bits as the scalar level (tested), and
//! `mul_add` is fused at every level, so these figures hold everywhere.

use super::{Pack, Real};

/// `2^e` for a normal exponent (a `const fn`, so the scales below fold).
const fn p2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}

// ---------------------------------------------------------------- helpers

/// Whether the element type is `f32` (a constant after monomorphisation).
#[inline(always)]
fn is_f32<P: Pack>() -> bool {
    P::Elem::BYTES == 4
}

/// `x` rounded to the element type, in every lane.
#[inline(always)]
fn k<P: Pack>(x: f64) -> P {
    P::splat(P::Elem::from_f64(x))
}

/// The `f32` or the `f64` constant, by element type. The `f32` values are
/// written as the `f64` literals of exactly representable `f32` numbers.
#[inline(always)]
fn kk<P: Pack>(for_f32: f64, for_f64: f64) -> P {
    if is_f32::<P>() {
        k(for_f32)
    } else {
        k(for_f64)
    }
}

/// Horner's scheme with FMA, coefficients from the highest degree down.
macro_rules! horner {
    ($P:ty; $x:expr; $first:expr $(, $rest:expr)* $(,)?) => {{
        let x: $P = $x;
        let acc: $P = k::<$P>($first);
        $( let acc = acc.mul_add(x, k::<$P>($rest)); )*
        acc
    }};
}

/// Horner's scheme whose coefficients come from `a` where `m` is set and
/// from `b` elsewhere (piecewise polynomials without branches).
#[inline(always)]
fn horner_sel<P: Pack, const N: usize>(x: P, m: P::Mask, a: &[f64; N], b: &[f64; N]) -> P {
    let mut acc = P::select(m, k(a[0]), k(b[0]));
    for i in 1..N {
        acc = acc.mul_add(x, P::select(m, k(a[i]), k(b[i])));
    }
    acc
}

/// `1.5 * 2^mantissa_bits`: adding and subtracting it rounds to an integer
/// (ties to even) for `|x| < 2^22` (`f32`) / `2^51` (`f64`); larger values
/// come out integral-valued anyway.
#[inline(always)]
fn round_magic<P: Pack>() -> P {
    kk(12582912.0, 6755399441055744.0)
}

/// Nearest integer to `x`, `|x| < 2^22` / `2^51`.
#[inline(always)]
fn round_small<P: Pack>(x: P) -> P {
    let m = round_magic::<P>();
    (x + m) - m
}

/// `min(max(x, lo), hi)` that keeps NaN.
#[inline(always)]
fn clamp<P: Pack>(x: P, lo: P, hi: P) -> P {
    // `max(a, b)` is `a > b ? a : b`: NaN in `b` comes through.
    hi.min(lo.max(x))
}

/// Lanes where integral-valued `q` is odd.
#[inline(always)]
fn is_odd<P: Pack>(q: P) -> P::Mask {
    let h = q * k(0.5);
    h.floor().cmp_ne(h)
}

#[inline(always)]
fn nan<P: Pack>() -> P {
    k(f64::NAN)
}

#[inline(always)]
fn inf<P: Pack>() -> P {
    k(f64::INFINITY)
}

// ------------------------------------------------------------- constants

// ln 2 for the exp reduction: LN2_1 = RN(ln 2), LN2_2 = RN(ln 2 - LN2_1).
const LN2_1_F32: f64 = 0.6931471824645996;
const LN2_2_F32: f64 = -1.9046542121259336e-09;
const LN2_1_F64: f64 = core::f64::consts::LN_2;
const LN2_2_F64: f64 = 2.3190468138462996e-17;
const LOG2E_F32: f64 = 1.4426950216293335;
const LOG2E_F64: f64 = core::f64::consts::LOG2_E;
// ln 2 for e * ln 2 in logarithms: LN2_HI has 16 (f32) / 42 (f64)
// significant bits, so that e * LN2_HI is exact for every exponent e.
const LN2_HI_F32: f64 = 0.693145751953125;
const LN2_LO_F32: f64 = 1.428606765330187e-06;
const LN2_HI_F64: f64 = 0.6931471805598903;
const LN2_LO_F64: f64 = 5.497923018708371e-14;
const SQRT2_F32: f64 = 1.4142135381698608;
const SQRT2_F64: f64 = core::f64::consts::SQRT_2;
// pi = PI_1 + PI_2 + PI_3 (each the rounding of the rest).
const PI_1_F32: f64 = 3.1415927410125732;
const PI_2_F32: f64 = -8.742277657347586e-08;
const PI_3_F32: f64 = -3.4302490200117637e-15;
const PI_1_F64: f64 = core::f64::consts::PI;
const PI_2_F64: f64 = 1.2246467991473532e-16;
const PI_3_F64: f64 = -2.9947698097183397e-33;
const INV_PI_F32: f64 = 0.31830987334251404;
const INV_PI_F64: f64 = core::f64::consts::FRAC_1_PI;
// pi/2, pi/4 as hi + lo.
const PIO2_HI_F32: f64 = 1.5707963705062866;
const PIO2_LO_F32: f64 = -4.371138828673793e-08;
const PIO2_HI_F64: f64 = core::f64::consts::FRAC_PI_2;
const PIO2_LO_F64: f64 = 6.123233995736766e-17;
const PIO4_HI_F32: f64 = 0.7853981852531433;
const PIO4_LO_F32: f64 = -2.1855694143368964e-08;
const PIO4_HI_F64: f64 = core::f64::consts::FRAC_PI_4;
const PIO4_LO_F64: f64 = 3.061616997868383e-17;
const TAN_PI_8_F32: f64 = 0.4142135679721832;
const TAN_PI_8_F64: f64 = 0.41421356237309503;
const TAN_3PI_8_F32: f64 = 2.4142136573791504;
const TAN_3PI_8_F64: f64 = 2.414213562373095;

// ------------------------------------------------------------------- exp

/// `(e^r - 1 - r) / r^2` on `|r| <= ln(2)/2`, so `e^r - 1 = r + r^2 P(r)`.
/// Relative error of `e^r - 1`: 2^-27.8 (`f32`), 2^-59.4 (`f64`).
#[inline(always)]
fn expm1_reduced<P: Pack>(r: P) -> P {
    let p = if is_f32::<P>() {
        horner!(P; r;
            0.0001990891614696011, 0.001394979190081358, 0.00833328440785408,
            0.04166622459888458, 0.1666666716337204, 0.5)
    } else {
        horner!(P; r;
            2.087530195438429e-09, 2.511011923230259e-08, 2.7557406019435667e-07,
            2.7557241343829176e-06, 2.4801587164622945e-05, 0.00019841269888706654,
            0.0013888888888968442, 0.00833333333332073, 0.04166666666666649,
            0.16666666666666677, 0.5)
    };
    (r * r).mul_add(p, r)
}

/// `n = round(x / ln 2)` and `r = x - n ln 2` (the first FMA step is exact).
#[inline(always)]
fn exp_reduce<P: Pack>(x: P) -> (P, P) {
    let m = round_magic::<P>();
    let n = x.mul_add(kk(LOG2E_F32, LOG2E_F64), m) - m;
    let r = n.mul_add(-kk::<P>(LN2_1_F32, LN2_1_F64), x);
    let r = n.mul_add(-kk::<P>(LN2_2_F32, LN2_2_F64), r);
    (n, r)
}

/// `e^(x + tail)` (`tail` only when `with_tail`, a constant).
#[inline(always)]
fn exp_core<P: Pack>(x: P, tail: P, with_tail: bool) -> P {
    // Beyond these the result is 0 or +inf; inside, n stays within the
    // range where the two factors below are exact powers of two.
    let lo = kk::<P>(-104.0, -746.0);
    let hi = kk::<P>(89.0, 710.0);
    let xc = clamp(x, lo, hi);
    let (n, r) = exp_reduce(xc);
    let r = if with_tail {
        // A tail is only meaningful (and only finite) for unclamped x.
        let t = P::select(xc.cmp_eq(x), tail, k(0.0));
        r + t
    } else {
        r
    };
    let y = expm1_reduced(r) + k(1.0);
    // 2^n = 2^n1 * 2^n2 with y * 2^n1 exact (normal), so results that
    // overflow or are subnormal are rounded once, by the last product.
    let n1 = clamp(n, kk(-125.0, -1021.0), kk(127.0, 1023.0));
    y * P::pow2i(n1) * P::pow2i(n - n1)
}

/// `e^x`.
#[inline(always)]
pub fn exp<P: Pack>(x: P) -> P {
    exp_core(x, x, false)
}

/// Lower bound of [`exp_flush`]'s normal range: `-86.6` (f32), `-707.5`
/// (f64); below it the result is flushed to 0.
pub fn exp_flush_threshold<P: Pack>() -> f64 {
    if is_f32::<P>() {
        -86.6
    } else {
        -707.5
    }
}

/// `e^x` for results in the normal range, with results below about
/// `2^-125` (f32) / `2^-1021` (f64) flushed to 0 (`x` below
/// [`exp_flush_threshold`]): no subnormal number is ever created, which
/// costs tens of cycles per operation on x86, and the scaling by `2^n` is a
/// single exact product instead of the two-step one [`exp`] needs for
/// subnormal results. Equal to [`exp`] bit for bit wherever the result is at
/// least the threshold's exponential; NaN and overflow as [`exp`].
///
/// This is the exponential of every formula, so each operation counts:
/// only the top of the range is clamped (lanes below the threshold compute
/// garbage that the final select replaces by 0), and `2 e^r = 2 expm1(r) + 2`
/// is one FMA (exact scaling by 2) so that `2^(n-1)` stays normal.
#[inline(always)]
pub fn exp_flush<P: Pack>(x: P) -> P {
    let lo = k::<P>(exp_flush_threshold::<P>());
    // `min(a, b)` is `a < b ? a : b`: NaN in `x` comes through.
    let xc = kk::<P>(89.0, 710.0).min(x);
    let (n, r) = exp_reduce(xc);
    let y2 = expm1_reduced(r).mul_add(k(2.0), k(2.0));
    // n - 1 is a normal exponent for every x >= lo (and y2 * 2^(n-1) a
    // normal number), so the product is e^x rounded once.
    let v = y2 * P::pow2i_m1(n);
    P::select(x.cmp_lt(lo), k(0.0), v)
}

/// `e^x - 1`, accurate near 0.
#[inline(always)]
pub fn exp_m1<P: Pack>(x: P) -> P {
    let one = k::<P>(1.0);
    // Below `lo` the result rounds to -1; above `hi` it overflows.
    let xc = clamp(x, kk(-30.0, -60.0), kk(89.0, 710.0));
    let (n, r) = exp_reduce(xc);
    let em = expm1_reduced(r);
    // 2^n em + (2^n - 1), one FMA; for large n as 2 (2^(n-1) em + 2^(n-1)
    // - 1/2) so that 2^(n-1) stays a normal power of two.
    let big = n.cmp_gt(kk(64.0, 512.0));
    let t = P::pow2i(P::select(big, n - one, n));
    let res = t.mul_add(em, t - P::select(big, k(0.5), one));
    let res = P::select(big, res + res, res);
    // Keep the sign of zero.
    P::select(x.cmp_eq(k(0.0)), x, res)
}

// -------------------------------------------------------------------- ln

/// `(2 atanh(s) - 2 s) / s^3` as a polynomial in `z = s^2`,
/// `|s| <= 3 - 2 sqrt(2)` (fdlibm's `Lg1..` are `z` times these), as
/// `LOG_Q0 + z log_q_tail(z)`. Error contributed to `ln`: 2^-35 (`f32`),
/// 2^-66 (`f64`) relative.
#[inline(always)]
fn log_q<P: Pack>(z: P) -> P {
    z.mul_add(log_q_tail(z), kk(LOG_Q0_F32, LOG_Q0_F64))
}

const LOG_Q0_F32: f64 = 0.6666666865348816;
const LOG_Q0_F64: f64 = 0.6666666666666666;

#[inline(always)]
fn log_q_tail<P: Pack>(z: P) -> P {
    if is_f32::<P>() {
        horner!(P; z; 0.228598952293396, 0.2857762277126312, 0.39999666810035706)
    } else {
        horner!(P; z;
            0.1323753154551717, 0.13251858406313216, 0.15387000958511923,
            0.18181778100540316, 0.22222222609779319, 0.2857142856939601,
            0.40000000000004954)
    }
}

/// Mantissa `m` in `[1, 2)` and exponent `e` to `f = m' - 1` with `m'` in
/// `[sqrt(2)/2, sqrt(2))` and the matching exponent (`f` exact).
#[inline(always)]
fn log_reduce<P: Pack>(m: P, e: P) -> (P, P) {
    let big = m.cmp_gt(kk(SQRT2_F32, SQRT2_F64));
    let m = P::select(big, m * k(0.5), m);
    let e = P::select(big, e + k(1.0), e);
    (m - k(1.0), e)
}

/// `e ln 2 + ln(1 + f) + c` (fdlibm's `log` / `log1p` kernel).
#[inline(always)]
fn log_kernel<P: Pack>(f: P, e: P, c: P, with_c: bool) -> P {
    let s = f / (f + k(2.0));
    let z = s * s;
    let r = z * log_q(z);
    let hfsq = k::<P>(0.5) * f * f;
    let lo = e * kk(LN2_LO_F32, LN2_LO_F64);
    let lo = if with_c { lo + c } else { lo };
    e * kk(LN2_HI_F32, LN2_HI_F64) - ((hfsq - s.mul_add(hfsq + r, lo)) - f)
}

/// Natural logarithm.
#[inline(always)]
pub fn ln<P: Pack>(x: P) -> P {
    let (m, e) = x.frexp();
    let (f, e) = log_reduce(m, e);
    let res = log_kernel(f, e, f, false);
    let zero = k::<P>(0.0);
    let res = P::select(x.cmp_eq(inf()), x, res);
    let res = P::select(x.cmp_eq(zero), -inf::<P>(), res);
    let res = P::select(x.cmp_lt(zero), nan(), res);
    P::select(x.is_nan(), x, res)
}

/// `ln(1 + x)`, accurate near 0.
#[inline(always)]
pub fn ln_1p<P: Pack>(x: P) -> P {
    let one = k::<P>(1.0);
    let u = x + one;
    // (1 + x) - u exactly (u - 1 and the difference are exact), over u:
    // the first-order correction of ln(u) to ln(1 + x).
    let c = (x - (u - one)) / u;
    let (m, e) = u.frexp();
    let (f, e) = log_reduce(m, e);
    let res = log_kernel(f, e, c, true);
    let res = P::select(x.cmp_eq(inf()), x, res);
    let res = P::select(x.cmp_eq(-one), -inf::<P>(), res);
    let res = P::select(x.cmp_lt(-one), nan(), res);
    let res = P::select(x.is_nan(), x, res);
    P::select(x.cmp_eq(k(0.0)), x, res)
}

// --------------------------------------------------------------- sin, cos

/// `(sin(r) - r) / r^3` as a polynomial in `s = r^2`, `|r| <= pi/2 + eps`.
/// Relative error of `sin`: 2^-30.2 (`f32`), 2^-61.5 (`f64`).
#[inline(always)]
fn sin_poly<P: Pack>(s: P) -> P {
    if is_f32::<P>() {
        horner!(P; s;
            -2.6350065240876575e-08, 2.7674077500705607e-06, -0.00019843927293550223,
            0.008333355188369751, -0.1666666716337204)
    } else {
        horner!(P; s;
            2.7214191206729734e-15, -7.643019354303618e-13, 1.6058941002135193e-10,
            -2.5052106904422926e-08, 2.7557319211569482e-06, -0.0001984126984121248,
            0.008333333333333207, -0.16666666666666666)
    }
}

/// `x - q * pi * scale` (`scale` 1 or 1/2, a constant) as `rh + rl`.
/// `x - q PI_1` is exact (FMA, and the difference is representable);
/// `q PI_2` is split exactly by FMA and subtracted with `two_sum`.
#[inline(always)]
fn reduce_pi<P: Pack>(x: P, q: P, scale: f64) -> (P, P) {
    let (c1, c2, c3) = if is_f32::<P>() {
        (PI_1_F32, PI_2_F32, PI_3_F32)
    } else {
        (PI_1_F64, PI_2_F64, PI_3_F64)
    };
    let r1 = q.mul_add(k(-c1 * scale), x);
    let c2 = k::<P>(c2 * scale);
    let ph = q * c2;
    let pl = q.mul_add(c2, -ph);
    // two_sum(r1, -ph)
    let rh = r1 - ph;
    let bb = rh - r1;
    let err = (r1 - (rh - bb)) + (-ph - bb);
    let rl = q.mul_add(k(-c3 * scale), err - pl);
    // Beyond the range where q is exact the reduction means nothing: return
    // 0 there (NaN for infinities).
    let limit = kk::<P>(8388608.0, 4503599627370496.0);
    let far = x.abs().cmp_gt(limit);
    let z = x * k(0.0);
    (P::select(far, z, rh), P::select(far, z, rl))
}

/// `sin(rh + rl)` for `|rh| <= pi/2 + eps`, `|rl| <~ ulp(rh)`.
#[inline(always)]
fn sin_kernel<P: Pack>(rh: P, rl: P) -> P {
    // sin(rh) = rh + rh^3 P(rh^2). Near |rh| = pi/2 the cubic term is a
    // third of the result: rh^3 is carried as t + tl (the roundings of
    // s = rh^2 and of rh s), which takes the worst case from 1.9 to 1.3 ulp
    // (f32).
    let s = rh * rh;
    let sl = rh.mul_add(rh, -s);
    let t = rh * s;
    let tl = rh.mul_add(s, -t) + rh * sl;
    let p = sin_poly(s);
    let u = t.mul_add(p, tl * p);
    // sin(rh + rl) ~ sin(rh) + rl cos(rh), cos(rh) ~ 1 - s/2 is enough.
    rh + rl.mul_add(s.mul_add(k(-0.5), k(1.0)), u)
}

/// Sine.
#[inline(always)]
pub fn sin<P: Pack>(x: P) -> P {
    let m = round_magic::<P>();
    let q = x.mul_add(kk(INV_PI_F32, INV_PI_F64), m) - m;
    let (rh, rl) = reduce_pi(x, q, 1.0);
    let v = sin_kernel(rh, rl);
    let v = P::select(is_odd(q), -v, v);
    let v = clamp(v, k(-1.0), k(1.0));
    P::select(x.cmp_eq(k(0.0)), x, v)
}

/// Cosine.
#[inline(always)]
pub fn cos<P: Pack>(x: P) -> P {
    // x = (2j + 1) pi/2 + r; cos(x) = (-1)^(j+1) sin(r).
    let j = round_small(x.mul_add(kk(INV_PI_F32, INV_PI_F64), k(-0.5)));
    let q = j.mul_add(k(2.0), k(1.0));
    let (rh, rl) = reduce_pi(x, q, 0.5);
    let v = sin_kernel(rh, rl);
    let v = P::select(is_odd(j), v, -v);
    clamp(v, k(-1.0), k(1.0))
}

// ------------------------------------------------------- asin, acos, atan

/// `(asin(t) - t) / t^3` as a polynomial in `z = t^2`, `0 <= z <= 1/4`.
#[inline(always)]
fn asin_poly<P: Pack>(z: P) -> P {
    if is_f32::<P>() {
        horner!(P; z;
            0.037477489560842514, 0.014533729292452335, 0.031757209450006485,
            0.04452752321958542, 0.07500411570072174, 0.16666662693023682)
    } else {
        horner!(P; z;
            0.032011340323281685, -0.016256639164306166, 0.01946718997291681,
            0.0065845487785179315, 0.012147011456888167, 0.013890221546779345,
            0.01735901156104829, 0.02237181855294577, 0.030381955906337667,
            0.04464285692673699, 0.07500000000189315, 0.16666666666666174)
    }
}

/// `asin(t)` for `t = |x|` (`|x| <= 1/2`) or `t = sqrt((1 - |x|)/2)`
/// (above; `big`), as the shared part of `asin` and `acos`.
#[inline(always)]
fn asin_core<P: Pack>(a: P) -> (P, P::Mask) {
    let half = k::<P>(0.5);
    let big = a.cmp_gt(half);
    // 1 - a is exact for a in [1/2, 1]; NaN (sqrt) when a > 1.
    let zb = (k::<P>(1.0) - a) * half;
    let z = P::select(big, zb, a * a);
    let t = P::select(big, zb.sqrt(), a);
    (t.mul_add(z * asin_poly(z), t), big)
}

/// Arcsine.
#[inline(always)]
pub fn asin<P: Pack>(x: P) -> P {
    let (p, big) = asin_core(x.abs());
    // pi/2 - 2p, with pi/2 in two parts.
    let hi = kk::<P>(PIO2_HI_F32, PIO2_HI_F64);
    let lo = kk::<P>(PIO2_LO_F32, PIO2_LO_F64);
    let res = P::select(big, hi - ((p + p) - lo), p);
    res.copysign(x)
}

/// Arccosine.
#[inline(always)]
pub fn acos<P: Pack>(x: P) -> P {
    let (p, big) = asin_core(x.abs());
    let hi = kk::<P>(PIO2_HI_F32, PIO2_HI_F64);
    let lo = kk::<P>(PIO2_LO_F32, PIO2_LO_F64);
    let neg = x.cmp_lt(k(0.0));
    // |x| <= 1/2: pi/2 - asin(x); x > 1/2: 2p; x < -1/2: pi - 2p.
    let small = hi - (p.copysign(x) - lo);
    let two_p = p + p;
    let large = P::select(neg, (hi + hi) - (two_p - (lo + lo)), two_p);
    P::select(big, large, small)
}

/// `(atan(t) - t) / t^3` as a polynomial in `z = t^2`, `|t| <= tan(pi/8)`.
#[inline(always)]
fn atan_poly<P: Pack>(z: P) -> P {
    if is_f32::<P>() {
        horner!(P; z;
            -0.06117447093129158, 0.10611697286367416, -0.14246414601802826,
            0.19998662173748016, -0.33333319425582886)
    } else {
        horner!(P; z;
            -0.017814202679588453, 0.03800211468834631, -0.05037894160526583,
            0.058478523389272945, -0.06663144222981504, 0.07692068519091302,
            -0.09090898547449609, 0.1111111082451221, -0.14285714281348189,
            0.19999999999969026, -0.3333333333333327)
    }
}

/// `atan(num / den)` for `num, den >= 0` (not both 0 or both infinite),
/// in `[0, pi/2]`: the ratio is reduced to `|t| <= tan(pi/8)` with one
/// division, by `t`, `(t - 1)/(t + 1)` (+ pi/4) or `-1/t` (+ pi/2).
#[inline(always)]
fn atan_ratio<P: Pack>(num: P, den: P) -> P {
    let big = num.cmp_gt(den * kk(TAN_3PI_8_F32, TAN_3PI_8_F64));
    let mid = num.cmp_gt(den * kk(TAN_PI_8_F32, TAN_PI_8_F64));
    let n = P::select(big, -den, P::select(mid, num - den, num));
    let d = P::select(big, num, P::select(mid, num + den, den));
    let t = n / d;
    let zero = k::<P>(0.0);
    let base_hi = P::select(
        big,
        kk(PIO2_HI_F32, PIO2_HI_F64),
        P::select(mid, kk(PIO4_HI_F32, PIO4_HI_F64), zero),
    );
    let base_lo = P::select(
        big,
        kk(PIO2_LO_F32, PIO2_LO_F64),
        P::select(mid, kk(PIO4_LO_F32, PIO4_LO_F64), zero),
    );
    let z = t * t;
    base_hi + (t + (t * z).mul_add(atan_poly(z), base_lo))
}

/// Arctangent.
#[inline(always)]
pub fn atan<P: Pack>(x: P) -> P {
    atan_ratio(x.abs(), k(1.0)).copysign(x)
}

/// Four-quadrant arctangent of `y / x`, with the special cases of C
/// `atan2` (signed zeros, infinities).
#[inline(always)]
pub fn atan2<P: Pack>(y: P, x: P) -> P {
    let zero = k::<P>(0.0);
    let one = k::<P>(1.0);
    let inf = inf::<P>();
    let ax = x.abs();
    let ay = y.abs();
    // inf/inf -> pi/4 and 0/0 -> 0 before the quadrant fix-up.
    let both_inf = P::mask_and(ax.cmp_eq(inf), ay.cmp_eq(inf));
    let both_zero = P::mask_and(ax.cmp_eq(zero), ay.cmp_eq(zero));
    let ax = P::select(P::mask_or(both_inf, both_zero), one, ax);
    let ay = P::select(both_inf, one, ay);
    // Scale by a power of two so that the products and sums of
    // `atan_ratio` neither overflow nor lose bits in subnormals.
    let m = ax.max(ay);
    let s = P::select(
        m.cmp_gt(kk(p2(125), p2(1020))),
        k(0.0625),
        P::select(m.cmp_lt(kk(p2(-100), p2(-900))), kk(p2(60), p2(120)), one),
    );
    let a = atan_ratio(ay * s, ax * s);
    // x < 0 (including -0): pi - a.
    let xneg = one.copysign(x).cmp_lt(zero);
    let pi_hi = kk::<P>(PIO2_HI_F32 * 2.0, PIO2_HI_F64 * 2.0);
    let pi_lo = kk::<P>(PIO2_LO_F32 * 2.0, PIO2_LO_F64 * 2.0);
    let a = P::select(xneg, pi_hi - (a - pi_lo), a);
    a.copysign(y)
}

// --------------------------------------------------- sinh, cosh, tanh

/// Hyperbolic sine.
#[inline(always)]
pub fn sinh<P: Pack>(x: P) -> P {
    let half = k::<P>(0.5);
    let one = k::<P>(1.0);
    let a = x.abs();
    // Near overflow e^a is not representable but sinh is: (e^(a/2)/2) e^(a/2).
    let big = a.cmp_gt(kk(88.0, 709.0));
    let u = exp_m1(P::select(big, a * half, a));
    let small = half * (u + u / (u + one));
    let w = u + one;
    let large = (half * w) * w;
    P::select(big, large, small).copysign(x)
}

/// Hyperbolic cosine.
#[inline(always)]
pub fn cosh<P: Pack>(x: P) -> P {
    let half = k::<P>(0.5);
    let a = x.abs();
    let big = a.cmp_gt(kk(88.0, 709.0));
    let e = exp(P::select(big, a * half, a));
    let small = half.mul_add(e, half / e);
    let large = (half * e) * e;
    P::select(big, large, small)
}

/// Hyperbolic tangent.
#[inline(always)]
pub fn tanh<P: Pack>(x: P) -> P {
    // tanh(a) rounds to 1 well before these.
    let a = kk::<P>(10.0, 20.0).min(x.abs());
    let u = exp_m1(a + a);
    let big = u / (u + k(2.0));
    // Below 0.5625 the rounding of `u` would cost up to 1 ulp of the result
    // (a relative error carried to a value with another mantissa): use
    // `a + a^3 P(a^2)` there (weighted minimax, 2^-29.4 / 2^-57.5).
    let z = a * a;
    let p = if is_f32::<P>() {
        horner!(P; z;
            -0.006200374569743872, 0.02102467231452465, -0.05384252965450287,
            0.13332514464855194, -0.33333316445350647)
    } else {
        horner!(P; z;
            -1.885430593786894e-05, 8.231485664741366e-05, -0.00023271485802437436,
            0.0005881986082192219, -0.0014554881010035135, 0.003592084525435841,
            -0.008863231985275116, 0.021869488358264966, -0.053968253963254116,
            0.13333333333326794, -0.3333333333333331)
    };
    let small = (a * z).mul_add(p, a);
    P::select(a.cmp_lt(k(0.5625)), small, big).copysign(x)
}

// ------------------------------------------------------------------ erf

/// `erf(x)/x - 1` as a polynomial in `z = x^2`, `|x| <= 1`.
#[inline(always)]
fn erf_small<P: Pack>(z: P) -> P {
    if is_f32::<P>() {
        horner!(P; z;
            7.806903886375949e-05, -0.0007997853099368513, 0.005187162198126316,
            -0.026853347197175026, 0.11283578723669052, -0.3761262595653534,
            0.12837916612625122)
    } else {
        horner!(P; z;
            5.945259272145758e-11, -1.1365664483814328e-09, 1.4657879458374623e-08,
            -1.6350025165750664e-07, 1.6460972811714553e-06, -1.4925593506565355e-05,
            0.00012055331036886443, -0.0008548326978741853, 0.005223977624780861,
            -0.026866170645072893, 0.11283791670954857, -0.3761263890318375,
            0.1283791670955126)
    }
}

// erfc(x) e^(x^2) on [1, 2.2] and [2.2, 3.93] (f32), polynomials in x - 1
// and x - 2.2.
const ERFC_F32_A: [f64; 7] = [
    0.001989124808460474,
    -0.01150557305663824,
    0.03463713452219963,
    -0.07835331559181213,
    0.1542501002550125,
    -0.27320596575737,
    0.4275835156440735,
];
const ERFC_F32_B: [f64; 7] = [
    9.88140600384213e-05,
    -0.0008263638010248542,
    0.0035667745396494865,
    -0.011606650426983833,
    0.03367113322019577,
    -0.09176865965127945,
    0.23559296131134033,
];
// erfc(x) e^(x^2) on [1, 2], [2, 3.2], [3.2, 6] (f64), polynomials in x - 1,
// x - 2 and x - 3.2.
const ERFC_F64_A: [f64; 14] = [
    -7.192066633882358e-07,
    6.876819086171318e-06,
    -3.4133507904273706e-05,
    0.00012280241411366313,
    -0.0003743295181670538,
    0.0010464488467715296,
    -0.0027677070833477036,
    0.006969805939568055,
    -0.01666181270759495,
    0.03757229013599097,
    -0.0792269685525231,
    0.15437156135909594,
    -0.27321201478373486,
    0.42758357615580667,
];
const ERFC_F64_B: [f64; 14] = [
    -1.4043868850562586e-08,
    1.6203681095471948e-07,
    -9.738150386194714e-07,
    4.26829277950685e-06,
    -1.599325150628905e-05,
    5.555021698812088e-05,
    -0.00018470406503613864,
    0.0005924486229060454,
    -0.0018316601896236852,
    0.005440738048732051,
    -0.0154606377312603,
    0.041802752602481195,
    -0.10679646185347953,
    0.25539567631050575,
];
const ERFC_F64_C: [f64; 14] = [
    -6.883088988325341e-11,
    1.561200845649716e-09,
    -1.7065774497157663e-08,
    1.2308679554814646e-07,
    -6.836138702969808e-07,
    3.2470956553935216e-06,
    -1.417085817336909e-05,
    5.911816450304477e-05,
    -0.00023938111219447774,
    0.0009436904672299096,
    -0.0036183693759509607,
    0.01346618471592276,
    -0.048519347497357895,
    0.1687280968118843,
];

/// Error function.
#[inline(always)]
pub fn erf<P: Pack>(x: P) -> P {
    let one = k::<P>(1.0);
    let a = x.abs();
    // |x| < 1: x + x P(x^2).
    let small = a.mul_add(erf_small(a * a), a);
    // |x| >= 1: 1 - e^(-x^2) g(x), x clamped where erf rounds to 1.
    let ac = kk::<P>(3.93, 6.0).min(a);
    let g = if is_f32::<P>() {
        let m = ac.cmp_lt(k(2.2));
        let u = ac - P::select(m, one, k(2.2));
        horner_sel(u, m, &ERFC_F32_A, &ERFC_F32_B)
    } else {
        let m1 = ac.cmp_lt(k(2.0));
        let m2 = ac.cmp_lt(k(3.2));
        let u = ac - P::select(m1, one, P::select(m2, k(2.0), k(3.2)));
        let g_bc = horner_sel(u, m2, &ERFC_F64_B, &ERFC_F64_C);
        let g_a = horner!(P; u;
            ERFC_F64_A[0], ERFC_F64_A[1], ERFC_F64_A[2], ERFC_F64_A[3], ERFC_F64_A[4],
            ERFC_F64_A[5], ERFC_F64_A[6], ERFC_F64_A[7], ERFC_F64_A[8], ERFC_F64_A[9],
            ERFC_F64_A[10], ERFC_F64_A[11], ERFC_F64_A[12], ERFC_F64_A[13]);
        P::select(m1, g_a, g_bc)
    };
    // e^(-x^2) with x^2 = hi + lo exactly: e^(-hi) (1 - lo).
    let hi = ac * ac;
    let lo = ac.mul_add(ac, -hi);
    let e = exp(-hi);
    let e = e.mul_add(-lo, e);
    let large = (-e).mul_add(g, one);
    P::select(a.cmp_lt(one), small, large).copysign(x)
}

// ----------------------------------------------------------------- powf

/// `ln(a)` for finite `a > 0` as `hi + lo` (about 2^-33 / 2^-64 relative
/// to `ln(a)`): `e ln 2 + 2 atanh(s)` with `s = f/(2+f)` carried in two
/// words, and the `s^3` term of the series too (it is up to 1% of the
/// result, so its rounding would otherwise dominate).
#[inline(always)]
fn ln_dw<P: Pack>(a: P) -> (P, P) {
    let two = k::<P>(2.0);
    let (m, e) = a.frexp();
    let (f, e) = log_reduce(m, e);
    // d = 2 + f exactly as d + dl; s = f / d as s + sl.
    let d = f + two;
    let dl = f - (d - two);
    let s = f / d;
    let sl = ((-s).mul_add(d, f) - s * dl) / d;
    // 2 atanh(s) = 2s + q0 s^3 + s^3 z (Q(z) - q0) / z, z = s^2, with
    // q0 s^3 in two words (q0 is `log_q`'s constant term).
    let zh = s * s;
    let zl = s.mul_add(s, -zh);
    let ch = s * zh;
    let cl = s.mul_add(zh, -ch) + s * zl;
    let q0 = kk::<P>(LOG_Q0_F32, LOG_Q0_F64);
    let t1 = q0 * ch;
    let t1l = q0.mul_add(ch, -t1) + q0 * cl;
    let t2 = (ch * zh) * log_q_tail(zh);
    // d(2s + q0 s^3)/ds ~ 2 + 2z: the first-order effect of sl.
    let s_lo = (sl + sl) * (zh + k(1.0));
    let s2 = s + s;
    // fast_two_sum twice: |s2| > |t1|, and |kh| > |h1| unless kh = 0.
    let h1 = s2 + t1;
    let e1 = t1 - (h1 - s2);
    let kh = e * kk(LN2_HI_F32, LN2_HI_F64);
    let h2 = kh + h1;
    let e2 = h1 - (h2 - kh);
    let lo = e2 + (e1 + (t1l + (t2 + (s_lo + e * kk(LN2_LO_F32, LN2_LO_F64)))));
    let h = h2 + lo;
    (h, lo - (h - h2))
}

/// `x^y` with the special cases of C `pow`.
#[inline(always)]
pub fn powf<P: Pack>(x: P, y: P) -> P {
    let zero = k::<P>(0.0);
    let one = k::<P>(1.0);
    let inf = inf::<P>();
    let ax = x.abs();
    // |x|^y = e^(y ln|x|), y (hi + lo) kept in two words.
    let (lh, ll) = ln_dw(ax);
    let ph = y * lh;
    let pl = y.mul_add(lh, -ph) + y * ll;
    let mag = exp_core(ph, pl, true);
    // Zero or infinite base, or infinite exponent: 0, 1 or inf.
    let y_inf = y.abs().cmp_eq(inf);
    let special = P::mask_or(P::mask_or(ax.cmp_eq(zero), ax.cmp_eq(inf)), y_inf);
    let grows = P::mask_or(
        P::mask_and(ax.cmp_gt(one), y.cmp_gt(zero)),
        P::mask_and(ax.cmp_lt(one), y.cmp_lt(zero)),
    );
    let sval = P::select(ax.cmp_eq(one), one, P::select(grows, inf, zero));
    let mag = P::select(special, sval, mag);
    // Sign: negative base (sign bit, so -0 too) and odd integral y.
    let y_int = y.floor().cmp_eq(y);
    let y_odd = P::mask_and(y_int, is_odd(y));
    let x_neg = one.copysign(x).cmp_lt(zero);
    let res = P::select(P::mask_and(x_neg, y_odd), -mag, mag);
    // Finite negative base with finite non-integral y: NaN.
    let bad = P::mask_and(
        P::mask_and(x.cmp_lt(zero), x.cmp_gt(-inf)),
        P::mask_not(P::mask_or(y_int, y_inf)),
    );
    let res = P::select(bad, nan(), res);
    let res = P::select(P::mask_or(x.is_nan(), y.is_nan()), x + y, res);
    P::select(P::mask_or(y.cmp_eq(zero), x.cmp_eq(one)), one, res)
}
