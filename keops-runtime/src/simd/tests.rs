//! Tests of the SIMD layer.
//!
//! - Primitives: every operation at every level this CPU supports, lane by
//!   lane against the scalar level (bit for bit, tails included), and the
//!   documented semantics (NaN in comparisons and `min`/`max`, `round`
//!   halves, `floor` of negatives, `frexp` of subnormals, `pow2i` range).
//! - Math: special values against std, accuracy sweeps (max ulp error
//!   against `f64` std for `f32`, against glibc with a 1-ulp allowance and a
//!   double-double `erf` for `f64`, plus a table of 60-digit references), and
//!   bit-for-bit agreement of every level with the scalar level.
//!
//! The sweeps are small in the (debug) default run and ~10^6 points per
//! function in release (`cargo test --release`); the exhaustive `f32`
//! sweeps and the throughput check are `#[ignore]`d.

// Test data holds rounded and perturbed values of pi, ln 2, ... on purpose.
#![allow(clippy::approx_constant)]

use core::marker::PhantomData;

use super::scalar::{max_ignore_nan, min_ignore_nan};
use super::*;

// ============================================================ utilities

/// Same value: both NaN, or equal bits (so `-0` differs from `+0`).
fn same<T: Real>(a: T, b: T) -> bool {
    #[allow(clippy::eq_op)]
    let nan = |v: T| v != v;
    (nan(a) && nan(b)) || a.to_f64().to_bits() == b.to_f64().to_bits()
}

fn is_nan<T: Real>(v: T) -> bool {
    #[allow(clippy::eq_op)]
    let n = v != v;
    n
}

/// `2^e` as `f64` (any `e` in the `f64` range, subnormals included).
fn pow2(e: i32) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// Sweep sizes: small in debug builds, large in release.
fn sweep_n(release: usize) -> usize {
    if cfg!(debug_assertions) {
        (release / 20).max(2000)
    } else {
        release
    }
}

/// Error of `res` in ulps of the element type at the exact value `r`
/// (`hi + lo`). Infinities count as `2^(emax + 1)`.
fn ulp_err<T: Real>(res: T, r_hi: f64, r_lo: f64) -> f64 {
    let v = res.to_f64();
    let (mant, emin, emax) = if T::BYTES == 4 {
        (23, -126, 127)
    } else {
        (52, -1022, 1023)
    };
    if r_hi.is_nan() || v.is_nan() {
        return if r_hi.is_nan() && v.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    // Values beyond the largest finite one of T (as f64 for f32).
    let top = if T::BYTES == 4 {
        pow2(128)
    } else {
        f64::INFINITY
    };
    let v_inf = v.is_infinite();
    let r_inf = r_hi.is_infinite() || r_hi.abs() >= top;
    if v_inf || r_inf {
        if v_inf && r_inf && v.signum() == r_hi.signum() {
            return 0.0;
        }
        if v.signum() != r_hi.signum() {
            return f64::INFINITY;
        }
        // One side infinite: distance from the finite one to 2^(emax+1),
        // in ulps of the top binade (halved to stay finite for f64).
        let fin = if v_inf { r_hi.abs() } else { v.abs() };
        let d = pow2(emax) - fin / 2.0;
        return d / pow2(emax - mant - 1);
    }
    let a = r_hi.abs();
    let e = if a == 0.0 {
        emin
    } else {
        (((a.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(emin)
    };
    let e = if a != 0.0 && a < f64::MIN_POSITIVE {
        emin
    } else {
        e
    };
    ((v - r_hi) - r_lo).abs() / pow2(e - mant)
}

/// Small deterministic generator of test inputs.
struct Gen(fastrand::Rng);

impl Gen {
    fn new(seed: u64) -> Self {
        Gen(fastrand::Rng::with_seed(seed))
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.f64()
    }
    /// Random magnitude `2^u * m`, `u` in `[elo, ehi)`, random sign when
    /// `signed`.
    fn logmag(&mut self, elo: f64, ehi: f64, signed: bool) -> f64 {
        let v = self.uniform(elo, ehi).exp2();
        if signed && self.0.bool() {
            -v
        } else {
            v
        }
    }
}

// ================================================= running at every level

/// A unary function of packs.
trait Unary {
    fn f<P: Pack>(x: P) -> P;
}

/// A binary function of packs.
trait Binary {
    fn f<P: Pack>(x: P, y: P) -> P;
}

/// A ternary function of packs (primitive ops ignore unused arguments).
trait Ternary {
    fn f<P: Pack>(a: P, b: P, c: P) -> P;
}

/// Applies a ternary pack function over slices, with a padded tail.
struct Map3<'a, T, F> {
    a: &'a [T],
    b: &'a [T],
    c: &'a [T],
    out: &'a mut [T],
    f: PhantomData<F>,
}

impl<T: Real, F: Ternary> WithPack<T> for Map3<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        let l = P::LANES;
        let n = self.a.len();
        let full = n / l * l;
        let mut i = 0;
        while i < full {
            let r = F::f(
                P::load(&self.a[i..]),
                P::load(&self.b[i..]),
                P::load(&self.c[i..]),
            );
            r.store(&mut self.out[i..]);
            i += l;
        }
        if full < n {
            let pad = |s: &[T]| {
                let mut b = [T::default(); 16];
                b[..n - full].copy_from_slice(&s[full..]);
                b
            };
            let (a, b, c) = (pad(self.a), pad(self.b), pad(self.c));
            let mut o = [T::default(); 16];
            F::f(P::load(&a), P::load(&b), P::load(&c)).store(&mut o);
            self.out[full..].copy_from_slice(&o[..n - full]);
        }
    }
}

struct U<F>(PhantomData<F>);
impl<F: Unary> Ternary for U<F> {
    #[inline(always)]
    fn f<P: Pack>(a: P, _: P, _: P) -> P {
        F::f(a)
    }
}

struct B<F>(PhantomData<F>);
impl<F: Binary> Ternary for B<F> {
    #[inline(always)]
    fn f<P: Pack>(a: P, b: P, _: P) -> P {
        F::f(a, b)
    }
}

fn map3_at<T: Real, F: Ternary>(level: SimdLevel, a: &[T], b: &[T], c: &[T]) -> Vec<T> {
    assert!(a.len() == b.len() && a.len() == c.len());
    let mut out = vec![T::default(); a.len()];
    dispatch_at(
        level,
        Map3::<T, F> {
            a,
            b,
            c,
            out: &mut out,
            f: PhantomData,
        },
    )
    .expect("level supported");
    out
}

fn map1_at<T: Real, F: Unary>(level: SimdLevel, x: &[T]) -> Vec<T> {
    map3_at::<T, U<F>>(level, x, x, x)
}

fn map2_at<T: Real, F: Binary>(level: SimdLevel, x: &[T], y: &[T]) -> Vec<T> {
    map3_at::<T, B<F>>(level, x, y, x)
}

/// Checks that every supported level gives the scalar level's bits.
fn assert_levels_agree<T: Real, F: Ternary>(name: &str, a: &[T], b: &[T], c: &[T]) {
    let want = map3_at::<T, F>(SimdLevel::Scalar, a, b, c);
    for level in supported_levels() {
        let got = map3_at::<T, F>(level, a, b, c);
        for i in 0..a.len() {
            assert!(
                same(got[i], want[i]),
                "{name} ({}) at {level}: inputs ({:?}, {:?}, {:?}) gave {:?}, scalar {:?}",
                T::NAME,
                a[i],
                b[i],
                c[i],
                got[i],
                want[i]
            );
        }
    }
}

#[inline(always)]
fn m2f<P: Pack>(m: P::Mask) -> P {
    P::select(
        m,
        P::splat(P::Elem::from_f64(1.0)),
        P::splat(P::Elem::from_f64(0.0)),
    )
}

// ========================================================== primitives

macro_rules! ops {
    ($($name:ident |$a:ident, $b:ident, $c:ident| $body:expr;)*) => {
        $(
            #[allow(non_camel_case_types)]
            struct $name;
            impl Ternary for $name {
                #[inline(always)]
                #[allow(unused_variables)]
                fn f<P: Pack>($a: P, $b: P, $c: P) -> P {
                    $body
                }
            }
        )*
        /// Runs every op through `assert_levels_agree`.
        fn all_ops_agree<T: Real>(a: &[T], b: &[T], c: &[T]) {
            $( assert_levels_agree::<T, $name>(stringify!($name), a, b, c); )*
        }
    };
}

ops! {
    op_add |a, b, c| a + b;
    op_sub |a, b, c| a - b;
    op_mul |a, b, c| a * b;
    op_div |a, b, c| a / b;
    op_neg |a, b, c| -a;
    op_mul_add |a, b, c| a.mul_add(b, c);
    op_abs |a, b, c| a.abs();
    op_min |a, b, c| a.min(b);
    op_max |a, b, c| a.max(b);
    op_sqrt |a, b, c| a.sqrt();
    op_floor |a, b, c| a.floor();
    op_round |a, b, c| a.round();
    op_copysign |a, b, c| a.copysign(b);
    op_lt |a, b, c| m2f::<P>(a.cmp_lt(b));
    op_le |a, b, c| m2f::<P>(a.cmp_le(b));
    op_gt |a, b, c| m2f::<P>(a.cmp_gt(b));
    op_ge |a, b, c| m2f::<P>(a.cmp_ge(b));
    op_eq |a, b, c| m2f::<P>(a.cmp_eq(b));
    op_ne |a, b, c| m2f::<P>(a.cmp_ne(b));
    op_is_nan |a, b, c| m2f::<P>(a.is_nan());
    op_select |a, b, c| P::select(a.cmp_lt(b), a, c);
    op_mask_and |a, b, c| m2f::<P>(P::mask_and(a.cmp_lt(b), b.cmp_lt(c)));
    op_mask_or |a, b, c| m2f::<P>(P::mask_or(a.cmp_lt(b), b.cmp_lt(c)));
    op_mask_not |a, b, c| m2f::<P>(P::mask_not(a.cmp_lt(b)));
}

struct OpFrexpM;
impl Unary for OpFrexpM {
    #[inline(always)]
    fn f<P: Pack>(a: P) -> P {
        a.frexp().0
    }
}

struct OpFrexpE;
impl Unary for OpFrexpE {
    #[inline(always)]
    fn f<P: Pack>(a: P) -> P {
        a.frexp().1
    }
}

struct OpPow2i;
impl Unary for OpPow2i {
    #[inline(always)]
    fn f<P: Pack>(n: P) -> P {
        P::pow2i(n)
    }
}

struct OpPow2iM1;
impl Unary for OpPow2iM1 {
    #[inline(always)]
    fn f<P: Pack>(n: P) -> P {
        P::pow2i_m1(n)
    }
}

struct OpExpFlush;
impl Unary for OpExpFlush {
    #[inline(always)]
    fn f<P: Pack>(x: P) -> P {
        crate::simd::math::exp_flush(x)
    }
}

/// Interesting values: zeros, infinities, NaN, subnormals, extremes, halves.
fn specials<T: Real>() -> Vec<T> {
    let (min_pos, min_sub, max) = if T::BYTES == 4 {
        (f32::MIN_POSITIVE as f64, pow2(-149), f32::MAX as f64)
    } else {
        (f64::MIN_POSITIVE, pow2(-1074), f64::MAX)
    };
    let mut v = vec![
        0.0,
        f64::INFINITY,
        f64::NAN,
        min_pos,
        min_sub,
        min_sub * 3.0,
        min_pos / 3.0,
        max,
        0.5,
        1.5,
        2.5,
        1.0,
        2.0,
        3.0,
        0.49999997,
        0.5 - pow2(-54),
        1e-30,
        123.456,
        1e30,
        4194304.5,
        8388609.0,
        pow2(52) + 1.0,
    ];
    let neg: Vec<f64> = v.iter().map(|x| -x).collect();
    v.extend(neg);
    v.into_iter().map(T::from_f64).collect()
}

/// All pairs of specials (and random values), with a third operand.
fn special_triples<T: Real>() -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut s = specials::<T>();
    let mut g = Gen::new(1);
    for _ in 0..20 {
        s.push(T::from_f64(g.logmag(-20.0, 20.0, true)));
    }
    let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
    for (i, &x) in s.iter().enumerate() {
        for (j, &y) in s.iter().enumerate() {
            a.push(x);
            b.push(y);
            c.push(s[(i * 7 + j * 3) % s.len()]);
        }
    }
    // A length that is not a multiple of any lane count: exercises tails.
    a.push(s[3]);
    b.push(s[4]);
    c.push(s[5]);
    (a, b, c)
}

fn primitives_agree<T: Real>() {
    let (a, b, c) = special_triples::<T>();
    all_ops_agree(&a, &b, &c);
    // frexp on positive finite values only (normal and subnormal).
    let pos: Vec<T> = a
        .iter()
        .copied()
        .filter(|v| v.to_f64() > 0.0 && v.to_f64().is_finite())
        .collect();
    assert_levels_agree::<T, U<OpFrexpM>>("frexp.0", &pos, &pos, &pos);
    assert_levels_agree::<T, U<OpFrexpE>>("frexp.1", &pos, &pos, &pos);
    // pow2i over the whole normal exponent range.
    let (lo, hi) = if T::BYTES == 4 {
        (-126, 127)
    } else {
        (-1022, 1023)
    };
    let ns: Vec<T> = (lo..=hi).map(|n| T::from_f64(n as f64)).collect();
    assert_levels_agree::<T, U<OpPow2i>>("pow2i", &ns, &ns, &ns);
    assert_levels_agree::<T, U<OpPow2iM1>>("pow2i_m1", &ns, &ns, &ns);
}

#[test]
fn primitives_agree_with_scalar_f32() {
    primitives_agree::<f32>();
}

#[test]
fn primitives_agree_with_scalar_f64() {
    primitives_agree::<f64>();
}

/// `map3_at` for one op.
type MapFn<T> = fn(SimdLevel, &[T], &[T], &[T]) -> Vec<T>;

/// The documented semantics, checked at every level.
fn primitive_semantics<T: Real>() {
    let t = T::from_f64;
    for level in supported_levels() {
        let one =
            |x: f64, y: f64, z: f64, which: MapFn<T>| which(level, &[t(x)], &[t(y)], &[t(z)])[0];
        let min = |x, y| one(x, y, 0.0, map3_at::<T, op_min>);
        let max = |x, y| one(x, y, 0.0, map3_at::<T, op_max>);
        let round = |x| one(x, 0.0, 0.0, map3_at::<T, op_round>);
        let floor = |x| one(x, 0.0, 0.0, map3_at::<T, op_floor>);
        let lt = |x, y| one(x, y, 0.0, map3_at::<T, op_lt>);
        let ne = |x, y| one(x, y, 0.0, map3_at::<T, op_ne>);
        let eq = |x, y| one(x, y, 0.0, map3_at::<T, op_eq>);
        let ge = |x, y| one(x, y, 0.0, map3_at::<T, op_ge>);
        let cs = |x, y| one(x, y, 0.0, map3_at::<T, op_copysign>);
        let fma = |x, y, z| one(x, y, z, map3_at::<T, op_mul_add>);

        // min/max: `a < b ? a : b`, second operand on NaN and on ±0 ties.
        assert!(same(min(f64::NAN, 1.0), t(1.0)), "{level}");
        assert!(is_nan(min(1.0, f64::NAN)), "{level}");
        assert!(same(min(-0.0, 0.0), t(0.0)), "{level}");
        assert!(same(min(0.0, -0.0), t(-0.0)), "{level}");
        assert!(same(min(-3.0, 2.0), t(-3.0)), "{level}");
        assert!(same(max(f64::NAN, 1.0), t(1.0)), "{level}");
        assert!(is_nan(max(1.0, f64::NAN)), "{level}");
        assert!(same(max(-3.0, 2.0), t(2.0)), "{level}");
        // round: halves away from zero.
        for (x, r) in [
            (0.5, 1.0),
            (-0.5, -1.0),
            (1.5, 2.0),
            (2.5, 3.0),
            (-2.5, -3.0),
            (0.49999997, 0.0),
            (-0.3, -0.0),
            (4194304.5, 4194305.0),
            (1e30, 1e30),
            (f64::INFINITY, f64::INFINITY),
        ] {
            assert!(same(round(x), t(r)), "{level}: round({x}) = {:?}", round(x));
        }
        assert!(is_nan(round(f64::NAN)));
        // floor of negatives and signed zero.
        for (x, r) in [
            (-0.5, -1.0),
            (-1.0, -1.0),
            (-1e-40, -1.0),
            (-0.0, -0.0),
            (2.7, 2.0),
            (-2.7, -3.0),
        ] {
            assert!(same(floor(x), t(r)), "{level}: floor({x})");
        }
        // Comparisons with NaN are false, except `!=`.
        assert!(same(lt(f64::NAN, 1.0), t(0.0)) && same(lt(1.0, f64::NAN), t(0.0)));
        assert!(same(eq(f64::NAN, f64::NAN), t(0.0)) && same(ge(f64::NAN, 0.0), t(0.0)));
        assert!(same(ne(f64::NAN, f64::NAN), t(1.0)) && same(ne(1.0, 1.0), t(0.0)));
        assert!(same(eq(0.0, -0.0), t(1.0)));
        // copysign on zeros and NaN signs.
        assert!(same(cs(2.0, -0.0), t(-2.0)) && same(cs(-0.0, 1.0), t(0.0)));
        // mul_add is fused: (1 + 2^-m)(1 - 2^-m) - 1 = -2^-2m exactly.
        let m = if T::BYTES == 4 { 13 } else { 27 };
        let e = pow2(-m);
        assert!(
            same(fma(1.0 + e, 1.0 - e, -1.0), t(-e * e)),
            "{level}: fma not fused"
        );
    }
    // frexp of subnormals and normals: m * 2^e == x, m in [1, 2).
    let (min_sub, emin) = if T::BYTES == 4 {
        (pow2(-149), -149)
    } else {
        (pow2(-1074), -1074)
    };
    let mut xs = vec![
        min_sub,
        min_sub * 3.0,
        min_sub * 1025.0,
        1.0,
        0.75,
        3.0e-3,
        1e20,
    ];
    for k in 0..60 {
        xs.push(min_sub * pow2(k) * 1.375);
    }
    let xs: Vec<T> = xs.into_iter().map(T::from_f64).collect();
    for level in supported_levels() {
        let m = map1_at::<T, OpFrexpM>(level, &xs);
        let e = map1_at::<T, OpFrexpE>(level, &xs);
        for i in 0..xs.len() {
            let (m, e) = (m[i].to_f64(), e[i].to_f64());
            assert!(
                (1.0..2.0).contains(&m),
                "{level}: frexp({:?}) m = {m}",
                xs[i]
            );
            assert_eq!(e, e.round());
            assert!(e >= emin as f64);
            assert_eq!(
                m * pow2(e as i32),
                xs[i].to_f64(),
                "{level}: frexp({:?})",
                xs[i]
            );
        }
    }
    // pow2i is exact over the whole normal range, ends included.
    let (lo, hi) = if T::BYTES == 4 {
        (-126, 127)
    } else {
        (-1022, 1023)
    };
    let ns: Vec<T> = (lo..=hi).map(|n| T::from_f64(n as f64)).collect();
    for level in supported_levels() {
        let p = map1_at::<T, OpPow2i>(level, &ns);
        for (i, n) in (lo..=hi).enumerate() {
            assert_eq!(p[i].to_f64(), pow2(n), "{level}: pow2i({n})");
        }
        // pow2i_m1(n) = 2^(n-1) wherever n - 1 is a normal exponent.
        let q = map1_at::<T, OpPow2iM1>(level, &ns[1..]);
        for (i, n) in (lo + 1..=hi).enumerate() {
            assert_eq!(q[i].to_f64(), pow2(n - 1), "{level}: pow2i_m1({n})");
        }
    }
}

#[test]
fn primitive_semantics_f32() {
    primitive_semantics::<f32>();
}

#[test]
fn primitive_semantics_f64() {
    primitive_semantics::<f64>();
}

/// Lane-structure primitives: `load`/`store` at offsets, `iota`,
/// `lane_onehot`, `first_n`, `mask_any`, `hsum`, `hmin`, `hmax`.
struct LaneOps<'a, T> {
    data: &'a [T],
    out: &'a mut Vec<T>,
}

impl<T: Real> WithPack<T> for LaneOps<'_, T> {
    type Output = usize;
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) -> usize {
        let l = P::LANES;
        let mut buf = vec![T::default(); l + 3];
        // iota
        P::iota().store(&mut buf);
        self.out.extend_from_slice(&buf[..l]);
        // lane_onehot(d) and first_n(n) (+ mask_any) past the end too.
        for d in 0..l + 3 {
            P::lane_onehot(d).store(&mut buf);
            self.out.extend_from_slice(&buf[..l]);
            let m = P::first_n(d);
            m2f::<P>(m).store(&mut buf);
            self.out.extend_from_slice(&buf[..l]);
            self.out.push(T::from_f64(P::mask_any(m) as u8 as f64));
        }
        // load/store at every offset, into an offset destination.
        for off in 0..l {
            let mut dst = vec![T::from_f64(-7.0); 2 * l + 1];
            P::load(&self.data[off..]).store(&mut dst[off + 1..]);
            self.out.extend_from_slice(&dst);
        }
        // Horizontal reductions per chunk.
        for ch in self.data.chunks_exact(l) {
            let p = P::load(ch);
            self.out.push(p.hsum());
            self.out.push(p.hmin());
            self.out.push(p.hmax());
        }
        l
    }
}

/// Pairwise-tree emulation of the reductions for one chunk.
fn tree_ref<T: Real>(ch: &[T]) -> (T, T, T) {
    fn go<T: Real>(v: &[T], f: &dyn Fn(T, T) -> T) -> T {
        let mut v = v.to_vec();
        let mut n = v.len();
        while n > 1 {
            n /= 2;
            for i in 0..n {
                v[i] = f(v[i], v[i + n]);
            }
        }
        v[0]
    }
    (
        go(ch, &|a, b| a + b),
        go(ch, &|a: T, b: T| min_ignore_nan(a, b)),
        go(ch, &|a: T, b: T| max_ignore_nan(a, b)),
    )
}

fn lane_ops<T: Real>() {
    let mut g = Gen::new(3);
    let mut data: Vec<T> = (0..16 * 12)
        .map(|_| T::from_f64(g.logmag(-3.0, 3.0, true)))
        .collect();
    // NaN lanes in some chunks (one NaN, all NaN), at every lane count.
    let nan = T::from_f64(f64::NAN);
    data[5] = nan;
    for v in &mut data[32..48] {
        *v = nan;
    }
    data[50] = T::from_f64(f64::INFINITY);
    data[51] = T::from_f64(-0.0);
    for level in supported_levels() {
        let mut out = vec![];
        let l = dispatch_at(
            level,
            LaneOps {
                data: &data,
                out: &mut out,
            },
        )
        .unwrap();
        assert_eq!(l, level.lanes::<T>());
        let mut it = out.into_iter();
        let mut next = || it.next().unwrap();
        for i in 0..l {
            assert!(same(next(), T::from_usize(i)), "{level}: iota");
        }
        for d in 0..l + 3 {
            for i in 0..l {
                let want = if i == d { 1.0 } else { 0.0 };
                assert!(same(next(), T::from_f64(want)), "{level}: lane_onehot({d})");
            }
            for i in 0..l {
                let want = if i < d { 1.0 } else { 0.0 };
                assert!(same(next(), T::from_f64(want)), "{level}: first_n({d})");
            }
            let any = if d > 0 { 1.0 } else { 0.0 };
            assert!(
                same(next(), T::from_f64(any)),
                "{level}: mask_any(first_n({d}))"
            );
        }
        for off in 0..l {
            for i in 0..2 * l + 1 {
                let want = if i > off && i <= off + l {
                    data[i - 1]
                } else {
                    T::from_f64(-7.0)
                };
                assert!(same(next(), want), "{level}: load/store at offset {off}");
            }
        }
        for ch in data.chunks_exact(l) {
            let (s, mn, mx) = tree_ref(ch);
            assert!(same(next(), s), "{level}: hsum({ch:?})");
            let (hmin, hmax) = (next(), next());
            // Value semantics: NaN lanes ignored unless all are NaN.
            let finite: Vec<f64> = ch
                .iter()
                .map(|v| v.to_f64())
                .filter(|v| !v.is_nan())
                .collect();
            if finite.is_empty() {
                assert!(is_nan(hmin) && is_nan(hmax), "{level}: all-NaN chunk");
            } else {
                let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(hmin.to_f64(), lo, "{level}: hmin({ch:?})");
                assert_eq!(hmax.to_f64(), hi, "{level}: hmax({ch:?})");
            }
            assert!(same(hmin, mn) && same(hmax, mx), "{level}: tree order");
        }
    }
}

#[test]
fn lane_ops_f32() {
    lane_ops::<f32>();
}

#[test]
fn lane_ops_f64() {
    lane_ops::<f64>();
}

/// Loads from a slice shorter than `LANES` panic.
struct ShortLoad;
impl WithPack<f32> for ShortLoad {
    type Output = f32;
    #[inline(always)]
    fn run<P: Pack<Elem = f32>>(self) -> f32 {
        let v = vec![1.0f32; P::LANES - 1];
        P::load(&v).hsum()
    }
}

#[test]
fn short_load_panics_at_every_level() {
    for level in supported_levels() {
        let r = std::panic::catch_unwind(|| dispatch_at(level, ShortLoad));
        assert!(r.is_err(), "{level}: load of a short slice did not panic");
    }
}

#[test]
fn levels_and_dispatch() {
    let levels = supported_levels();
    assert_eq!(levels[0], SimdLevel::Scalar);
    assert!(levels.contains(&best_level()));
    for l in SimdLevel::ALL {
        assert_eq!(SimdLevel::from_name(&l.to_string()), Some(l));
        assert_eq!(dispatch_at(l, LanesOf).is_some(), l.is_supported());
        if let Some(n) = dispatch_at(l, LanesOf) {
            assert_eq!(n, l.lanes::<f32>());
        }
    }
    assert_eq!(SimdLevel::from_name(" AVX-512 "), Some(SimdLevel::Avx512));
    assert_eq!(SimdLevel::from_name("sse"), None);
    assert_eq!(dispatch(LanesOf), best_level().lanes::<f32>());
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
    {
        assert_eq!(*levels.last().unwrap(), SimdLevel::Avx512);
    }
}

struct LanesOf;
impl WithPack<f32> for LanesOf {
    type Output = usize;
    #[inline(always)]
    fn run<P: Pack<Elem = f32>>(self) -> usize {
        P::LANES
    }
}

// ================================================================ math

macro_rules! unary_math {
    ($($ty:ident = $f:ident),* $(,)?) => {$(
        struct $ty;
        impl Unary for $ty {
            #[inline(always)]
            fn f<P: Pack>(x: P) -> P {
                math::$f(x)
            }
        }
    )*};
}

unary_math!(
    Exp = exp,
    ExpM1 = exp_m1,
    Ln = ln,
    Ln1p = ln_1p,
    Sin = sin,
    Cos = cos,
    Asin = asin,
    Acos = acos,
    Atan = atan,
    Sinh = sinh,
    Cosh = cosh,
    Tanh = tanh,
    Erf = erf,
);

struct Atan2;
impl Binary for Atan2 {
    #[inline(always)]
    fn f<P: Pack>(y: P, x: P) -> P {
        math::atan2(y, x)
    }
}

struct Powf;
impl Binary for Powf {
    #[inline(always)]
    fn f<P: Pack>(x: P, y: P) -> P {
        math::powf(x, y)
    }
}

/// Every math function: name, whether it takes two arguments, the bound
/// asserted for `f32` (max ulp against the `f64` reference) and for `f64`
/// (max ulp against glibc, whose own error is up to 1 ulp, or against the
/// double-double `erf`).
const FUNCS: &[(&str, bool, f64, f64)] = &[
    ("exp", false, 2.0, 2.0),
    ("exp_m1", false, 2.0, 2.0),
    ("ln", false, 2.0, 2.0),
    ("ln_1p", false, 2.0, 2.0),
    ("sin", false, 2.0, 2.0),
    ("cos", false, 2.0, 2.0),
    ("tanh", false, 2.0, 4.0),
    ("asin", false, 4.0, 4.0),
    ("acos", false, 4.0, 4.0),
    ("atan", false, 4.0, 4.0),
    ("atan2", true, 4.0, 4.0),
    ("sinh", false, 4.0, 4.0),
    ("cosh", false, 4.0, 4.0),
    ("erf", false, 4.0, 4.0),
    ("powf", true, 4.0, 4.0),
];

fn run_named<T: Real>(level: SimdLevel, name: &str, x: &[T], y: &[T]) -> Vec<T> {
    match name {
        "exp" => map1_at::<T, Exp>(level, x),
        "exp_m1" => map1_at::<T, ExpM1>(level, x),
        "ln" => map1_at::<T, Ln>(level, x),
        "ln_1p" => map1_at::<T, Ln1p>(level, x),
        "sin" => map1_at::<T, Sin>(level, x),
        "cos" => map1_at::<T, Cos>(level, x),
        "asin" => map1_at::<T, Asin>(level, x),
        "acos" => map1_at::<T, Acos>(level, x),
        "atan" => map1_at::<T, Atan>(level, x),
        "sinh" => map1_at::<T, Sinh>(level, x),
        "cosh" => map1_at::<T, Cosh>(level, x),
        "tanh" => map1_at::<T, Tanh>(level, x),
        "erf" => map1_at::<T, Erf>(level, x),
        "atan2" => map2_at::<T, Atan2>(level, x, y),
        "powf" => map2_at::<T, Powf>(level, x, y),
        _ => unreachable!("{name}"),
    }
}

fn agree_named<T: Real>(name: &str, x: &[T], y: &[T]) {
    match name {
        "exp" => assert_levels_agree::<T, U<Exp>>(name, x, x, x),
        "exp_m1" => assert_levels_agree::<T, U<ExpM1>>(name, x, x, x),
        "ln" => assert_levels_agree::<T, U<Ln>>(name, x, x, x),
        "ln_1p" => assert_levels_agree::<T, U<Ln1p>>(name, x, x, x),
        "sin" => assert_levels_agree::<T, U<Sin>>(name, x, x, x),
        "cos" => assert_levels_agree::<T, U<Cos>>(name, x, x, x),
        "asin" => assert_levels_agree::<T, U<Asin>>(name, x, x, x),
        "acos" => assert_levels_agree::<T, U<Acos>>(name, x, x, x),
        "atan" => assert_levels_agree::<T, U<Atan>>(name, x, x, x),
        "sinh" => assert_levels_agree::<T, U<Sinh>>(name, x, x, x),
        "cosh" => assert_levels_agree::<T, U<Cosh>>(name, x, x, x),
        "tanh" => assert_levels_agree::<T, U<Tanh>>(name, x, x, x),
        "erf" => assert_levels_agree::<T, U<Erf>>(name, x, x, x),
        "atan2" => assert_levels_agree::<T, B<Atan2>>(name, x, y, x),
        "powf" => assert_levels_agree::<T, B<Powf>>(name, x, y, x),
        _ => unreachable!("{name}"),
    }
}

// ------------------------------------------------- double-double erf

#[derive(Clone, Copy, Debug)]
struct Dd(f64, f64);

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd(s, (a - (s - bb)) + (b - bb))
}

fn fast_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd(s, b - (s - a))
}

fn dd_add(x: Dd, y: Dd) -> Dd {
    let s = two_sum(x.0, y.0);
    fast_two_sum(s.0, s.1 + x.1 + y.1)
}

fn dd_mul(x: Dd, y: Dd) -> Dd {
    let p = x.0 * y.0;
    let e = x.0.mul_add(y.0, -p) + (x.0 * y.1 + x.1 * y.0);
    fast_two_sum(p, e)
}

fn dd_div_f(x: Dd, d: f64) -> Dd {
    let q = x.0 / d;
    let ph = q * d;
    let pl = q.mul_add(d, -ph);
    let r = ((x.0 - ph) - pl) + x.1;
    fast_two_sum(q, r / d)
}

/// `erf(x)` to about 2^-100 relative (`|x| < 4`: Taylor series in
/// double-double; above: `1 - erfc` with `erfc` from its continued fraction,
/// whose `f64` error is negligible next to 1).
fn erf_dd(x: f64) -> Dd {
    const TWO_OVER_SQRT_PI: Dd = Dd(core::f64::consts::FRAC_2_SQRT_PI, 1.533545961316588e-17);
    const INV_SQRT_PI: f64 = 0.5641895835477563;
    if x.is_nan() {
        return Dd(f64::NAN, 0.0);
    }
    let a = x.abs();
    let r = if a < 4.0 {
        let x2 = Dd(a * a, a.mul_add(a, -(a * a)));
        let mut p = Dd(a, 0.0);
        let mut sum = Dd(a, 0.0);
        for n in 1..400 {
            p = dd_div_f(dd_mul(p, x2), n as f64);
            let t = dd_div_f(p, (2 * n + 1) as f64);
            sum = dd_add(sum, if n % 2 == 1 { Dd(-t.0, -t.1) } else { t });
            if (n as f64) > a * a + 5.0 && t.0.abs() < 1e-36 * sum.0.abs() {
                break;
            }
        }
        dd_mul(sum, TWO_OVER_SQRT_PI)
    } else if a < 30.0 {
        let mut k = a;
        for n in (1..120).rev() {
            k = a + (n as f64 / 2.0) / k;
        }
        let hi = a * a;
        let lo = a.mul_add(a, -hi);
        let e = (-hi).exp() * (1.0 - lo);
        let erfc = e * INV_SQRT_PI / k;
        fast_two_sum(1.0, -erfc)
    } else {
        Dd(1.0, 0.0)
    };
    if x.is_sign_negative() {
        Dd(-r.0, -r.1)
    } else {
        r
    }
}

/// The reference value of `name` at `(x, y)` as `hi + lo`.
fn oracle(name: &str, x: f64, y: f64) -> (f64, f64) {
    let v = match name {
        "exp" => x.exp(),
        "exp_m1" => x.exp_m1(),
        "ln" => x.ln(),
        "ln_1p" => x.ln_1p(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "tanh" => x.tanh(),
        "atan2" => x.atan2(y),
        "powf" => x.powf(y),
        "erf" => {
            let d = erf_dd(x);
            return (d.0, d.1);
        }
        _ => unreachable!("{name}"),
    };
    (v, 0.0)
}

/// Reach of the sin/cos accuracy claims: |x| up to this.
const TRIG_RANGE_F32: f64 = 1e6;
const TRIG_RANGE_F64: f64 = 1e14;

/// Sweep inputs of `name` for `f32` (`single`) or `f64`.
fn inputs(name: &str, single: bool, n: usize, g: &mut Gen) -> (Vec<f64>, Vec<f64>) {
    let s = |a: f64, b: f64| if single { a } else { b };
    let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let c = g.0.f64();
        let (x, y) = match name {
            "exp" if c < 0.8 => (g.uniform(s(-104.0, -746.0), s(89.0, 710.0)), 0.0),
            "exp" => (g.logmag(s(-30.0, -60.0), 3.0, true), 0.0),
            "exp_m1" if c < 0.6 => (g.uniform(s(-20.0, -40.0), s(89.0, 710.0)), 0.0),
            "exp_m1" => (g.logmag(s(-30.0, -60.0), 3.0, true), 0.0),
            "ln" if c < 0.7 => (g.logmag(s(-149.0, -1074.0), s(128.0, 1024.0), false), 0.0),
            "ln" => (g.uniform(0.5, 2.0), 0.0),
            "ln_1p" if c < 0.4 => (g.logmag(s(-30.0, -60.0), s(128.0, 1024.0), false), 0.0),
            "ln_1p" if c < 0.7 => (-g.logmag(s(-30.0, -60.0), 0.0, false), 0.0),
            "ln_1p" => (g.uniform(-1.0, 1.0), 0.0),
            "sin" | "cos" => {
                let r = s(TRIG_RANGE_F32, TRIG_RANGE_F64);
                let x = if c < 0.3 {
                    g.uniform(-10.0, 10.0)
                } else if c < 0.6 {
                    g.uniform(-r, r)
                } else if c < 0.8 {
                    g.logmag(s(-30.0, -60.0), r.log2(), true)
                } else {
                    // Near multiples of pi/2: the hard cases of the reduction.
                    let k = (g.uniform(0.0, r / core::f64::consts::FRAC_PI_2)).round();
                    let v = k * core::f64::consts::FRAC_PI_2;
                    if single {
                        v as f32 as f64
                    } else {
                        v
                    }
                };
                (x, 0.0)
            }
            "asin" | "acos" if c < 0.7 => (g.uniform(-1.0, 1.0), 0.0),
            "asin" | "acos" => (g.logmag(s(-30.0, -60.0), 0.0, true), 0.0),
            "atan" if c < 0.3 => (g.uniform(-3.0, 3.0), 0.0),
            "atan" => (g.logmag(s(-40.0, -80.0), s(40.0, 80.0), true), 0.0),
            "sinh" | "cosh" if c < 0.5 => (g.uniform(s(-89.4, -710.4), s(89.4, 710.4)), 0.0),
            "sinh" | "cosh" => (g.logmag(s(-30.0, -60.0), s(6.5, 9.5), true), 0.0),
            "tanh" if c < 0.5 => (g.uniform(s(-10.0, -20.0), s(10.0, 20.0)), 0.0),
            "tanh" => (g.logmag(s(-30.0, -60.0), 4.3, true), 0.0),
            "erf" if c < 0.6 => (g.uniform(s(-4.5, -6.5), s(4.5, 6.5)), 0.0),
            "erf" => (g.logmag(s(-30.0, -60.0), s(2.2, 2.7), true), 0.0),
            "atan2" => {
                let e = s(20.0, 60.0);
                (g.logmag(-e, e, true), g.logmag(-e, e, true))
            }
            "powf" => {
                if c < 0.7 {
                    let x = g.logmag(s(-30.0, -300.0), s(30.0, 300.0), false);
                    let lim = s(95.0, 740.0) / x.ln().abs().max(1e-3);
                    (x, g.uniform(-lim, lim))
                } else if c < 0.85 {
                    (-g.logmag(-5.0, 5.0, false), g.uniform(-30.0, 30.0).round())
                } else {
                    let x = 1.0 + g.uniform(-1e-3, 1e-3);
                    (x, g.uniform(s(-5e4, -5e5), s(5e4, 5e5)))
                }
            }
            _ => unreachable!("{name}"),
        };
        let _ = i;
        xs.push(x);
        ys.push(y);
    }
    (xs, ys)
}

/// The `keep` largest ulp errors of `name` over `n` sweep points at
/// `level`, largest first, as `(error, x, y)`.
fn sweep_top<T: Real>(name: &str, n: usize, level: SimdLevel, keep: usize) -> Vec<(f64, f64, f64)> {
    let mut g = Gen::new(0x5eed ^ name.len() as u64 ^ T::BYTES as u64);
    let (xs, ys) = inputs(name, T::BYTES == 4, n, &mut g);
    let x: Vec<T> = xs.iter().map(|&v| T::from_f64(v)).collect();
    let y: Vec<T> = ys.iter().map(|&v| T::from_f64(v)).collect();
    let res = run_named::<T>(level, name, &x, &y);
    let mut top: Vec<(f64, f64, f64)> = vec![];
    for i in 0..n {
        let (rh, rl) = oracle(name, x[i].to_f64(), y[i].to_f64());
        let mut e = ulp_err(res[i], rh, rl);
        if e.is_nan() {
            e = f64::INFINITY;
        }
        if top.len() < keep || e > top[top.len() - 1].0 {
            let item = (e, x[i].to_f64(), y[i].to_f64());
            // Keep distinct arguments only.
            if !top.iter().any(|t| t.1 == item.1 && t.2 == item.2) {
                top.push(item);
                top.sort_by(|a, b| b.0.total_cmp(&a.0));
                top.truncate(keep);
            }
        }
    }
    top
}

/// Max ulp error of `name` over `n` sweep points at `level`.
fn sweep<T: Real>(name: &str, n: usize, level: SimdLevel) -> (f64, f64, f64) {
    sweep_top::<T>(name, n, level, 1)[0]
}

fn accuracy<T: Real>(n_release: usize) {
    let level = best_level();
    let mut failures = vec![];
    for &(name, _, b32, b64) in FUNCS {
        let bound = if T::BYTES == 4 { b32 } else { b64 };
        let n = sweep_n(if name == "erf" && T::BYTES == 8 {
            n_release / 5
        } else {
            n_release
        });
        let (e, x, y) = sweep::<T>(name, n, level);
        if e.is_nan() || e > bound {
            failures.push(format!(
                "{name} ({}): {e:.3} ulp > {bound} at x = {x:e}, y = {y:e}",
                T::NAME
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accuracy_f32() {
    accuracy::<f32>(1_000_000);
}

#[test]
fn accuracy_f64() {
    accuracy::<f64>(500_000);
}

/// `f64` results against 60-digit references (mpmath), where glibc is not
/// the judge: hard arguments of every function.
#[test]
fn accuracy_f64_against_mpmath() {
    let mut failures = vec![];
    for &(name, x, y, hi, lo) in REFS {
        let bound = FUNCS.iter().find(|f| f.0 == name).unwrap().3;
        for level in supported_levels() {
            let r = run_named::<f64>(level, name, &[x], &[y])[0];
            let e = ulp_err(r, hi, lo);
            if e.is_nan() || e > bound {
                failures.push(format!(
                    "{name}({x:e}, {y:e}) at {level}: {r:e}, {e:.3} ulp"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn erf_reference_is_accurate() {
    // Spot values (mpmath, 60 digits) for the double-double oracle itself.
    for (x, hi, lo) in [
        (0.5, 0.5204998778130465, 1.900077467916287e-17),
        (1.0, 0.8427007929497149, -2.4801011789118602e-17),
        (2.0, 0.9953222650189527, 2.20719858329765e-17),
        (3.5, 0.9999992569016276, 4.9647279187212204e-17),
        (5.5, 0.9999999999999927, -3.03759554483649e-17),
    ] {
        let d = erf_dd(x);
        let err = ((d.0 - hi) + (d.1 - lo)).abs();
        assert!(err < 1e-28, "erf_dd({x}) off by {err:e}");
    }
}

/// Special values against std (NaN, signed zeros, infinities, overflow,
/// underflow, subnormals), at every level.
fn special_values<T: Real>() {
    let sp = specials::<T>();
    let mut extra: Vec<T> = [
        88.72, 88.73, 89.5, -87.3, -103.0, -104.5, 709.7, 709.8, 710.5, -745.0, -746.0, 0.3, -0.7,
        -1.0, 1e-7, -1e-7, 1e-20, 0.9999999, 1.0000001, 3.1415927, 1.5707964, 6.0, -6.0, 4.0, 20.0,
    ]
    .iter()
    .map(|&v| T::from_f64(v))
    .collect();
    extra.extend_from_slice(&sp);
    let trig_range = if T::BYTES == 4 {
        TRIG_RANGE_F32
    } else {
        TRIG_RANGE_F64
    };
    let mut failures = vec![];
    for &(name, binary, b32, b64) in FUNCS {
        let bound = if T::BYTES == 4 { b32 } else { b64 };
        let (x, y): (Vec<T>, Vec<T>) = if binary {
            let mut x = vec![];
            let mut y = vec![];
            for &a in &extra {
                for &b in &extra {
                    x.push(a);
                    y.push(b);
                }
            }
            (x, y)
        } else {
            (extra.clone(), extra.clone())
        };
        for level in supported_levels() {
            let r = run_named::<T>(level, name, &x, &y);
            for i in 0..x.len() {
                let (xv, yv) = (x[i].to_f64(), y[i].to_f64());
                let (rh, rl) = oracle(name, xv, yv);
                let want = T::from_f64(rh);
                let ok = if (name == "sin" || name == "cos") && xv.abs() > trig_range {
                    // Out of range: bounded, NaN only for inf/NaN.
                    if xv.is_finite() {
                        r[i].to_f64().abs() <= 1.0
                    } else {
                        is_nan(r[i])
                    }
                } else if is_nan(want) || want.to_f64() == 0.0 || want.to_f64().is_infinite() {
                    same(r[i], want)
                } else {
                    ulp_err(r[i], rh, rl) <= bound
                };
                if !ok {
                    failures.push(format!(
                        "{name}({xv:e}{}) at {level}: {:?}, want {want:?}",
                        if binary {
                            format!(", {yv:e}")
                        } else {
                            String::new()
                        },
                        r[i]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({}):\n{}",
        failures.len(),
        T::NAME,
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn special_values_f32() {
    special_values::<f32>();
}

#[test]
fn special_values_f64() {
    special_values::<f64>();
}

/// Every level returns the scalar level's bits for every function.
fn math_levels_agree<T: Real>() {
    for &(name, _, _, _) in FUNCS {
        let mut g = Gen::new(11);
        let (xs, ys) = inputs(name, T::BYTES == 4, 3001, &mut g);
        let mut x: Vec<T> = xs.iter().map(|&v| T::from_f64(v)).collect();
        let mut y: Vec<T> = ys.iter().map(|&v| T::from_f64(v)).collect();
        let sp = specials::<T>();
        for &a in &sp {
            for &b in &sp {
                x.push(a);
                y.push(b);
            }
        }
        agree_named::<T>(name, &x, &y);
    }
}

#[test]
fn math_levels_agree_f32() {
    math_levels_agree::<f32>();
}

#[test]
fn math_levels_agree_f64() {
    math_levels_agree::<f64>();
}

/// Direct scalar calls (plain code, `mul_add` through libm's correctly
/// rounded software-or-hardware `fma`, no `#[target_feature]`) give the
/// bits of the dispatched scalar level (compiled with FMA when present).
fn direct_scalar_matches<T: Real>() {
    for &(name, binary, _, _) in FUNCS {
        let mut g = Gen::new(5);
        let (xs, ys) = inputs(name, T::BYTES == 4, 2000, &mut g);
        let x: Vec<T> = xs.iter().map(|&v| T::from_f64(v)).collect();
        let y: Vec<T> = ys.iter().map(|&v| T::from_f64(v)).collect();
        let want = run_named::<T>(SimdLevel::Scalar, name, &x, &y);
        for i in 0..x.len() {
            let got = match name {
                "exp" => math::exp(x[i]),
                "exp_m1" => math::exp_m1(x[i]),
                "ln" => math::ln(x[i]),
                "ln_1p" => math::ln_1p(x[i]),
                "sin" => math::sin(x[i]),
                "cos" => math::cos(x[i]),
                "asin" => math::asin(x[i]),
                "acos" => math::acos(x[i]),
                "atan" => math::atan(x[i]),
                "sinh" => math::sinh(x[i]),
                "cosh" => math::cosh(x[i]),
                "tanh" => math::tanh(x[i]),
                "erf" => math::erf(x[i]),
                "atan2" => math::atan2(x[i], y[i]),
                "powf" => math::powf(x[i], y[i]),
                _ => unreachable!(),
            };
            assert!(
                same(got, want[i]),
                "{name}({:?}{}): direct {got:?}, dispatched {:?}",
                x[i],
                if binary {
                    format!(", {:?}", y[i])
                } else {
                    String::new()
                },
                want[i]
            );
        }
    }
}

#[test]
fn direct_scalar_matches_f32() {
    direct_scalar_matches::<f32>();
}

#[test]
fn direct_scalar_matches_f64() {
    direct_scalar_matches::<f64>();
}

/// The methods of `Pack` are the `math` functions.
#[test]
fn pack_methods_call_math() {
    let x = 0.3f32;
    assert_eq!(Pack::exp(x), math::exp(x));
    assert_eq!(Pack::ln(x), math::ln(x));
    assert_eq!(Pack::powf(x, 1.7), math::powf(x, 1.7));
    assert_eq!(Pack::atan2(x, -2.0), math::atan2(x, -2.0));
}

// ============================================== long runs (ignored)

/// Max ulp error of `f32` `name` over every float in `[lo, hi]` (both
/// signs of the range as given), using both cores.
fn exhaustive_f32(name: &'static str, lo: f32, hi: f32) -> (f64, f32) {
    // Enumerate by bit patterns: non-negative then negative parts.
    let mut ranges = vec![];
    if hi >= 0.0 {
        let a = lo.max(0.0).to_bits();
        ranges.push((a, hi.to_bits()));
    }
    if lo < 0.0 {
        let b = if hi < 0.0 { hi } else { -0.0 };
        ranges.push((b.to_bits(), lo.to_bits()));
    }
    let level = best_level();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut worst = (0.0f64, 0.0f32);
    for (a, b) in ranges {
        let total = (b - a) as u64 + 1;
        let per = total.div_ceil(threads as u64);
        let results: Vec<(f64, f32)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads as u64)
                .map(|t| {
                    s.spawn(move || {
                        let start = a as u64 + t * per;
                        let end = (start + per).min(b as u64 + 1);
                        let mut w = (0.0f64, 0.0f32);
                        let mut x = Vec::with_capacity(1 << 16);
                        let mut i = start;
                        while i < end {
                            x.clear();
                            let e = (i + (1 << 16)).min(end);
                            x.extend((i..e).map(|b| f32::from_bits(b as u32)));
                            let r = run_named::<f32>(level, name, &x, &x);
                            for j in 0..x.len() {
                                let (rh, rl) = oracle(name, x[j] as f64, 0.0);
                                let err = ulp_err(r[j], rh, rl);
                                if err.is_nan() || err > w.0 {
                                    w = (err, x[j]);
                                }
                            }
                            i = e;
                        }
                        w
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            if r.0.is_nan() || r.0 > worst.0 {
                worst = r;
            }
        }
    }
    worst
}

#[test]
#[ignore = "exhaustive: about a minute in release"]
fn exhaustive_exp_ln_f32() {
    let (e, x) = exhaustive_f32("exp", -104.0, 89.0);
    println!("exp f32, every float in [-104, 89]: max {e:.3} ulp at {x:e}");
    assert!(e <= 2.0);
    let (e, x) = exhaustive_f32("ln", 0.0, f32::MAX);
    println!("ln f32, every float in [0, MAX]: max {e:.3} ulp at {x:e}");
    assert!(e <= 2.0);
}

#[test]
#[ignore = "exhaustive: several minutes in release"]
fn exhaustive_more_f32() {
    for (name, lo, hi) in [
        ("exp_m1", -20.0, 89.0),
        ("ln_1p", -1.0, f32::MAX),
        ("sin", 0.0, TRIG_RANGE_F32 as f32),
        ("cos", -TRIG_RANGE_F32 as f32, TRIG_RANGE_F32 as f32),
        ("tanh", -10.0, 10.0),
        ("erf", -4.0, 4.0),
        ("asin", -1.0, 1.0),
        ("acos", -1.0, 1.0),
        ("atan", -f32::MAX, f32::MAX),
        ("sinh", -90.0, 90.0),
        ("cosh", 0.0, 90.0),
    ] {
        let (e, x) = exhaustive_f32(name, lo, hi);
        println!("{name} f32, every float in [{lo:e}, {hi:e}]: max {e:.3} ulp at {x:e}");
        let bound = FUNCS.iter().find(|f| f.0 == name).unwrap().2;
        assert!(e <= bound, "{name}: {e} ulp > {bound}");
    }
}

/// Prints the accuracy table with large sweeps, and the worst `f64`
/// arguments (to re-check against a high-precision reference: glibc's own
/// error is in the `f64` figures).
#[test]
#[ignore = "report: large sweeps, run with --release --nocapture"]
fn accuracy_report() {
    let level = best_level();
    println!("| function | f32 max ulp | f64 max ulp (vs glibc) |");
    let mut worst64 = vec![];
    for &(name, _, _, _) in FUNCS {
        let e32 = sweep::<f32>(name, 10_000_000, level);
        let n64 = if name == "erf" { 1_000_000 } else { 4_000_000 };
        let top = sweep_top::<f64>(name, n64, level, 8);
        let e64 = top[0];
        println!(
            "| {name} | {:.3} (x={:e}, y={:e}) | {:.3} (x={:e}, y={:e}) |",
            e32.0, e32.1, e32.2, e64.0, e64.1, e64.2
        );
        let args: Vec<String> = top.iter().map(|t| format!("{:e},{:e}", t.1, t.2)).collect();
        worst64.push(format!("{name} {}", args.join(" ")));
    }
    for w in worst64 {
        println!("worst f64: {w}");
    }
}

/// `exp` throughput: our `exp` at every level vs std `f32::exp`.
#[test]
#[ignore = "benchmark: run with --release --nocapture"]
fn throughput_exp_f32() {
    use std::hint::black_box;
    use std::time::Instant;

    struct SumExp<'a>(&'a [f32], usize);
    impl WithPack<f32> for SumExp<'_> {
        type Output = f32;
        #[inline(always)]
        fn run<P: Pack<Elem = f32>>(self) -> f32 {
            let mut acc = [P::splat(0.0); 4];
            for _ in 0..self.1 {
                for c in self.0.chunks_exact(4 * P::LANES) {
                    for u in 0..4 {
                        acc[u] = acc[u] + P::load(&c[u * P::LANES..]).exp();
                    }
                }
            }
            (acc[0] + acc[1] + acc[2] + acc[3]).hsum()
        }
    }

    let n = 4096;
    let reps = 20_000;
    let x: Vec<f32> = (0..n).map(|i| -10.0 + 20.0 * i as f32 / n as f32).collect();
    let evals = (n * reps) as f64;
    for level in supported_levels() {
        let t = Instant::now();
        let s = dispatch_at(level, SumExp(black_box(&x), reps)).unwrap();
        let dt = t.elapsed().as_secs_f64();
        println!(
            "keops exp f32 at {level}: {:.3} G/s (sum {s})",
            evals / dt / 1e9
        );
    }
    let t = Instant::now();
    let mut s = 0.0f32;
    for _ in 0..reps {
        for &v in black_box(&x) {
            s += v.exp();
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!("std f32::exp: {:.3} G/s (sum {s})", evals / dt / 1e9);
}

/// 60-digit references (mpmath): (function, x, y, hi, lo); for `atan2` the
/// arguments are (y, x).
#[rustfmt::skip]
const REFS: &[(&str, f64, f64, f64, f64)] = &[
    ("exp", -745.0, 0.0, 5e-324, -0.0),
    ("exp", -708.5, 0.0, 2.006132305331306e-308, -0.0),
    ("exp", -20.3, 0.0, 1.5269401591266087e-09, -9.350718630790655e-26),
    ("exp", -1.0, 0.0, 0.36787944117144233, -1.2428753672788363e-17),
    ("exp", -1e-10, 0.0, 0.9999999999, 8.279037096265651e-18),
    ("exp", 0.3465, 0.0, 1.4141094938303624, -2.5548934308836974e-17),
    ("exp", 0.5, 0.0, 1.6487212707001282, -4.731568479435833e-17),
    ("exp", 1.0, 0.0, 2.718281828459045, 1.4456468917292502e-16),
    ("exp", 3.7, 0.0, 40.4473043600674, -1.2179541332469429e-15),
    ("exp", 100.25, 0.0, 3.451610733125924e+43, 4.140163399793071e+26),
    ("exp", 700.0, 0.0, 1.0142320547350045e+304, 1.6666571920734673e+287),
    ("exp", 709.78, 0.0, 1.7928227943945155e+308, 8.276293660642251e+291),
    ("exp_m1", -40.0, 0.0, -1.0, 4.248354255291589e-18),
    ("exp_m1", -1.5, 0.0, -0.7768698398515702, 3.864329931467118e-17),
    ("exp_m1", -0.4, 0.0, -0.32967995396436073, 1.382964510883754e-17),
    ("exp_m1", -1e-05, 0.0, -9.999950000166666e-06, -7.687946724313578e-22),
    ("exp_m1", -1e-300, 0.0, -1e-300, 0.0),
    ("exp_m1", 1e-300, 0.0, 1e-300, 0.0),
    ("exp_m1", 1e-08, 0.0, 1.0000000050000001e-08, -6.764525071437688e-25),
    ("exp_m1", 0.1, 0.0, 0.10517091807564763, 1.77148771361055e-18),
    ("exp_m1", 0.34, 0.0, 0.4049475905635938, 2.4494021305886566e-17),
    ("exp_m1", 0.7, 0.0, 1.0137527074704764, 2.146216942738339e-17),
    ("exp_m1", 5.5, 0.0, 243.69193226422038, 4.129320187450839e-15),
    ("exp_m1", 709.0, 0.0, 8.218407461554972e+307, -1.955965507696277e+291),
    ("ln", 5e-324, 0.0, -744.4400719213812, -4.422444340918698e-14),
    ("ln", 1e-310, 0.0, -713.8013788281542, -8.592254740270771e-15),
    ("ln", 1e-200, 0.0, -460.51701859880916, 2.2080942657241066e-14),
    ("ln", 0.5, 0.0, -0.6931471805599453, -2.3190468138462996e-17),
    ("ln", 0.7071067811865475, 0.0, -0.34657359027997275, 1.0775909101525876e-17),
    ("ln", 0.9999999, 0.0, -1.0000000494736474e-07, -5.529865283193222e-24),
    ("ln", 1.0000001, 0.0, 9.999999505838704e-08, 1.5249709528441489e-24),
    ("ln", 1.4142135623730951, 0.0, 0.3465735902799727, 2.4442169414592898e-17),
    ("ln", 2.0, 0.0, 0.6931471805599453, 2.3190468138462996e-17),
    ("ln", 10.0, 0.0, 2.302585092994046, -2.1707562233822494e-16),
    ("ln", 1e+100, 0.0, 230.25850929940458, -1.1033518306311232e-14),
    ("ln", 1.7e+308, 0.0, 709.7268368932282, 3.0936421257994655e-14),
    ("ln_1p", -0.9999999, 0.0, -16.118095651484676, 6.312124114281461e-16),
    ("ln_1p", -0.5, 0.0, -0.6931471805599453, -2.3190468138462996e-17),
    ("ln_1p", -1e-05, 0.0, -1.0000050000333337e-05, 5.40138824458258e-22),
    ("ln_1p", -1e-300, 0.0, -1e-300, 0.0),
    ("ln_1p", 1e-300, 0.0, 1e-300, 0.0),
    ("ln_1p", 1e-10, 0.0, 9.999999999500001e-11, -3.389513322121794e-27),
    ("ln_1p", 0.01, 0.0, 0.009950330853168083, -2.877651526717895e-19),
    ("ln_1p", 0.4142, 0.0, 0.3465640001880034, 1.3829833510171086e-17),
    ("ln_1p", 1.0, 0.0, 0.6931471805599453, 2.3190468138462996e-17),
    ("ln_1p", 3.0, 0.0, 1.3862943611198906, 4.638093627692599e-17),
    ("ln_1p", 10000000000.0, 0.0, 23.025850930040455, 1.3736784183183428e-15),
    ("ln_1p", 1e+300, 0.0, 690.7755278982137, 2.3747660028800243e-14),
    ("sin", 1e-300, 0.0, 1e-300, 0.0),
    ("sin", 1e-08, 0.0, 1e-08, -1.6666666666666668e-25),
    ("sin", 0.5, 0.0, 0.479425538604203, -5.103969860556013e-18),
    ("sin", 1.5707963267948966, 0.0, 1.0, -1.874699728327322e-33),
    ("sin", 3.141592653589793, 0.0, 1.2246467991473532e-16, -2.99476980971834e-33),
    ("sin", 10.0, 0.0, -0.5440211108893698, -3.8949898668223557e-17),
    ("sin", 355.0, 0.0, -3.014435335948845e-05, 1.3012643991046347e-21),
    ("sin", 100000.0, 0.0, 0.03574879797201651, 1.5429743706109861e-18),
    ("sin", 5804.356051244306, 0.0, -0.9654520427694409, -5.695888858788287e-18),
    ("sin", 1000000000.0, 0.0, 0.5458434494486996, 6.1757333566640775e-18),
    ("sin", 22.0, 0.0, -0.008851309290403876, 2.8485303089220057e-19),
    ("sin", 103993.0, 0.0, -1.9129335778423752e-05, 1.6616884502200222e-21),
    ("cos", 0.0, 0.0, 1.0, 0.0),
    ("cos", 1e-08, 0.0, 1.0, -5e-17),
    ("cos", 0.5, 0.0, 0.8775825618903728, -4.2623149864279997e-17),
    ("cos", 1.5707963267948966, 0.0, 6.123233995736766e-17, -1.4973849048591698e-33),
    ("cos", 3.141592653589793, 0.0, -1.0, 7.498798913309288e-33),
    ("cos", 10.0, 0.0, -0.8390715290764524, -1.4147119988953418e-17),
    ("cos", 355.0, 0.0, -0.999999999545659, 1.0574612846643521e-17),
    ("cos", 100000.0, 0.0, -0.9993608074382124, -2.3447088905187402e-17),
    ("cos", 33.0, 0.0, -0.013276747223059479, 1.5974911557901783e-19),
    ("cos", 1000000000.0, 0.0, 0.8378871813639024, -5.4718713289282437e-17),
    ("cos", 4.71238898038469, 0.0, -1.8369701987210297e-16, -7.833796929500799e-33),
    ("cos", 103993.0, 0.0, 0.9999999998170342, 9.980368235853908e-18),
    ("asin", -1.0, 0.0, -1.5707963267948966, -6.123233995736766e-17),
    ("asin", -0.9, 0.0, -1.1197695149986342, -4.092642558112641e-17),
    ("asin", -0.5, 0.0, -0.5235987755982989, 5.360408832255455e-17),
    ("asin", -1e-08, 0.0, -1e-08, -1.6666666666666668e-25),
    ("asin", 1e-300, 0.0, 1e-300, 0.0),
    ("asin", 0.1, 0.0, 0.1001674211615598, 2.1219721077803427e-18),
    ("asin", 0.49, 0.0, 0.5120897529341477, 4.838662782504926e-17),
    ("asin", 0.51, 0.0, 0.5351847902755998, 1.5797292826098002e-17),
    ("asin", 0.7, 0.0, 0.775397496610753, 3.395027444633425e-17),
    ("asin", 0.99, 0.0, 1.4292568534704693, 6.909416818000846e-17),
    ("asin", 0.999999, 0.0, 1.5693821131146521, -1.100101637792604e-16),
    ("asin", 1.0, 0.0, 1.5707963267948966, 6.123233995736766e-17),
    ("acos", -1.0, 0.0, 3.141592653589793, 1.2246467991473532e-16),
    ("acos", -0.9, 0.0, 2.6905658417935308, 1.0215876553849407e-16),
    ("acos", -0.51, 0.0, 2.1059811170704963, 1.8805193524598132e-16),
    ("acos", -0.49, 0.0, 2.0828860797290445, -1.124256371426144e-16),
    ("acos", -1e-08, 0.0, 1.5707963367948967, -1.0003755488254988e-16),
    ("acos", 0.0, 0.0, 1.5707963267948966, 6.123233995736766e-17),
    ("acos", 0.1, 0.0, 1.4706289056333368, 3.599216618329489e-18),
    ("acos", 0.49, 0.0, 1.0587065738607488, 1.2845712132318402e-17),
    ("acos", 0.51, 0.0, 1.0356115365192968, -6.5587255331246e-17),
    ("acos", 0.9, 0.0, 0.45102681179626236, 2.0305914376241248e-17),
    ("acos", 0.999999, 0.0, 0.0014142136802445852, -6.143951608164765e-20),
    ("acos", 1.0, 0.0, 0.0, 0.0),
    ("atan", -1e+300, 0.0, -1.5707963267948966, -6.123233995736766e-17),
    ("atan", -3.0, 0.0, -1.2490457723982544, 2.196203799612311e-18),
    ("atan", -1.0, 0.0, -0.7853981633974483, -3.061616997868383e-17),
    ("atan", -0.4, 0.0, -0.3805063771123649, -3.540779945587601e-18),
    ("atan", -1e-08, 0.0, -1e-08, 3.3333333333333335e-25),
    ("atan", 1e-300, 0.0, 1e-300, 0.0),
    ("atan", 0.2, 0.0, 0.19739555984988078, -6.037637556826327e-18),
    ("atan", 0.4142, 0.0, 0.3926875054336765, -2.015754797630719e-17),
    ("atan", 0.5, 0.0, 0.4636476090008061, 2.2698777452961687e-17),
    ("atan", 2.4142, 0.0, 1.1780952589230935, -6.391625658798796e-17),
    ("atan", 10.0, 0.0, 1.4711276743037347, -1.0849222762061424e-16),
    ("atan", 1e+20, 0.0, 1.5707963267948966, 6.122233995736766e-17),
    ("sinh", -710.0, 0.0, -1.1169973830808555e+308, -5.772538034401481e+291),
    ("sinh", -20.0, 0.0, -242582597.70489514, 7.865629467297586e-10),
    ("sinh", -1.0, 0.0, -1.1752011936438014, -7.849672142285669e-17),
    ("sinh", -0.3, 0.0, -0.3045202934471426, -9.177343117072388e-18),
    ("sinh", -1e-08, 0.0, -1e-08, -1.6666666666666668e-25),
    ("sinh", 1e-300, 0.0, 1e-300, 0.0),
    ("sinh", 0.0001, 0.0, 0.00010000000016666667, 5.266809542628641e-21),
    ("sinh", 0.5, 0.0, 0.5210953054937474, -2.3328183476404597e-17),
    ("sinh", 2.0, 0.0, 3.6268604078470186, 1.9291196578353674e-16),
    ("sinh", 30.0, 0.0, 5343237290762.231, -0.0003718172657214174),
    ("sinh", 700.0, 0.0, 5.0711602736750225e+303, 8.333285960367336e+286),
    ("sinh", 710.4, 0.0, 1.6663642832806496e+308, 6.844817567326341e+290),
    ("cosh", -710.0, 0.0, 1.1169973830808555e+308, 5.772538034401481e+291),
    ("cosh", -20.0, 0.0, 242582597.70489514, 1.2745906757087991e-09),
    ("cosh", -1.0, 0.0, 1.5430806348152437, 6.606796775006833e-17),
    ("cosh", -0.3, 0.0, 1.0453385141288605, 7.371812611119388e-18),
    ("cosh", -1e-08, 0.0, 1.0, 5.0000000000000005e-17),
    ("cosh", 0.0, 0.0, 1.0, 0.0),
    ("cosh", 0.0001, 0.0, 1.000000005, 3.4554022001883665e-17),
    ("cosh", 0.5, 0.0, 1.1276259652063807, 8.703480114456192e-17),
    ("cosh", 2.0, 0.0, 3.7621956910836314, 7.146584908813439e-17),
    ("cosh", 30.0, 0.0, 5343237290762.231, -0.0003718172656278412),
    ("cosh", 700.0, 0.0, 5.0711602736750225e+303, 8.333285960367336e+286),
    ("cosh", 710.4, 0.0, 1.6663642832806496e+308, 6.844817567326341e+290),
    ("tanh", -19.0, 0.0, -0.9999999999999999, -4.823964662155506e-17),
    ("tanh", -3.0, 0.0, -0.9950547536867305, 1.2991892863562624e-17),
    ("tanh", -1.0, 0.0, -0.7615941559557649, -3.7090214482164924e-17),
    ("tanh", -0.3, 0.0, -0.2913126124515909, 6.4602656586469586e-18),
    ("tanh", -1e-08, 0.0, -1e-08, 3.3333333333333335e-25),
    ("tanh", 1e-300, 0.0, 1e-300, 0.0),
    ("tanh", 0.0001, 0.0, 9.999999966666667e-05, 4.51890806545438e-21),
    ("tanh", 0.2, 0.0, 0.197375320224904, 6.334792292201447e-18),
    ("tanh", 0.55, 0.0, 0.5005202111902353, -2.2927568355840214e-17),
    ("tanh", 1.0, 0.0, 0.7615941559557649, 3.7090214482164924e-17),
    ("tanh", 5.0, 0.0, 0.9999092042625951, 2.298523750966507e-17),
    ("tanh", 18.0, 0.0, 0.9999999999999996, -1.9815356198651153e-17),
    ("erf", -5.0, 0.0, -0.9999999999984626, 2.294992711807301e-17),
    ("erf", -2.0, 0.0, -0.9953222650189527, -2.20719858329765e-17),
    ("erf", -1.0, 0.0, -0.8427007929497149, 2.4801011789118602e-17),
    ("erf", -0.5, 0.0, -0.5204998778130465, -1.900077467916287e-17),
    ("erf", -1e-08, 0.0, -1.1283791670955126e-08, 5.879607832080608e-25),
    ("erf", 1e-300, 0.0, 1.1283791670955126e-300, -1.495728e-317),
    ("erf", 0.0001, 0.0, 0.00011283791633342487, 1.551154319921893e-21),
    ("erf", 0.3, 0.0, 0.3286267594591274, 2.2908254446982777e-17),
    ("erf", 0.99, 0.0, 0.8385080695553698, -2.8410838632595673e-17),
    ("erf", 1.01, 0.0, 0.8468104962282768, -5.299360328208859e-17),
    ("erf", 2.5, 0.0, 0.999593047982555, 4.6925151097042234e-17),
    ("erf", 3.3, 0.0, 0.9999969422902035, 3.418688300158856e-17),
    ("erf", 4.5, 0.0, 0.9999999998033839, 1.2614727975054947e-17),
    ("erf", 5.9, 0.0, 0.9999999999999999, 3.911820462701088e-17),
    ("atan2", 1.0, 1.0, 0.7853981633974483, 3.061616997868383e-17),
    ("atan2", 1.0, -1.0, 2.356194490192345, 9.184850993605148e-17),
    ("atan2", -1e-300, 3.0, -3.3333333333333334e-301, 0.0),
    ("atan2", 2.0, -1e-05, 1.5708013267948966, -1.3189937811945066e-17),
    ("atan2", 1e+300, 1e-300, 1.5707963267948966, 6.123233995736766e-17),
    ("atan2", 0.3, 0.4, 0.6435011087932844, -2.857413593356198e-17),
    ("atan2", -0.7, -0.2, -1.849095985800008, -1.4952903628636544e-19),
    ("atan2", 5.0, 12.0, 0.3947911196997615, 2.2085433336352164e-17),
    ("powf", 2.0, 0.5, 1.4142135623730951, -9.667293313452913e-17),
    ("powf", 10.0, 300.0, 1e+300, -5.250476025520442e+283),
    ("powf", 1.0000001, 1000000000.0, 2.6881038582144647e+43, -1.4151068951567764e+27),
    ("powf", 0.5, 1074.0, 5e-324, 0.0),
    ("powf", 3.0, -600.0, 5.336385165377108e-287, -3.0255979514698936e-303),
    ("powf", 0.99, 70000.0, 2.908183650085128e-306, 1e-322),
    ("powf", 7.0, 0.3333333333333333, 1.912931182772389, 9.400309345900771e-17),
    ("powf", 1e-300, 2.3, 0.0, 0.0),
    ("powf", -2.0, 3.0, -8.0, 0.0),
    ("powf", -1.5, -41.0, -6.029181789211086e-08, 9.694512856783272e-25),
    ("powf", 1.5, 1750.0, 1.4444527745742028e+308, -2.610345914974227e+291),
];

/// `exp_flush` equals `exp` bit for bit above its threshold, is 0 below,
/// and keeps NaN and overflow.
#[test]
fn exp_flush_matches_exp_in_the_normal_range() {
    fn check<T: crate::simd::Real>(lo: f64, hi: f64) {
        let t = crate::simd::math::exp_flush_threshold::<T>();
        let mut x = lo;
        while x < hi {
            let v = T::from_f64(x);
            let a = crate::simd::math::exp_flush(v);
            let b = crate::simd::math::exp(v);
            if v.to_f64() >= t {
                assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits(), "x = {x}");
            } else {
                assert_eq!(a.to_f64(), 0.0, "x = {x}");
            }
            x += 0.0137;
        }
        let nan = T::from_f64(f64::NAN);
        assert!(crate::simd::math::exp_flush(nan).to_f64().is_nan());
        assert_eq!(
            crate::simd::math::exp_flush(T::from_f64(1e6)).to_f64(),
            f64::INFINITY
        );
        assert_eq!(
            crate::simd::math::exp_flush(T::from_f64(f64::NEG_INFINITY)).to_f64(),
            0.0
        );
    }
    check::<f32>(-100.0, 89.0);
    // Every SIMD level gives the scalar level's bits, specials included.
    fn levels<T: Real>(lo: f64, hi: f64) {
        let mut x: Vec<T> = (0..4001)
            .map(|i| T::from_f64(lo + (hi - lo) * i as f64 / 4000.0))
            .collect();
        x.extend(specials::<T>());
        assert_levels_agree::<T, U<OpExpFlush>>("exp_flush", &x, &x, &x);
    }
    levels::<f32>(-120.0, 95.0);
    levels::<f64>(-760.0, 720.0);
    check::<f64>(-720.0, 710.0);
}
