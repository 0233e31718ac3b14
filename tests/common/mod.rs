//! Test support: random inputs, the reference evaluator, and comparisons
//! with error bounds that follow from the computation (a sum of N terms is
//! judged against the sum of their absolute values, a min against the value
//! at the index the kernel returned, and so on).
#![allow(dead_code, missing_docs)]

pub mod grad;

use keops::ndarray::{Array1, Array2};
use keops_compiler::eval::RefValue;
use keops_compiler::stage::Red;

/// Deterministic generator for one test case.
pub fn rng(name: &str, m: usize, n: usize) -> fastrand::Rng {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    fastrand::Rng::with_seed(h ^ ((m as u64) << 32) ^ n as u64)
}

pub fn uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.f64()
}

pub fn rows(rng: &mut fastrand::Rng, n: usize, d: usize, lo: f64, hi: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |_| uniform(rng, lo, hi))
}

pub fn param(rng: &mut fastrand::Rng, d: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..d).map(|_| uniform(rng, lo, hi)).collect()
}

pub trait ToRef {
    fn to_ref(&self) -> RefValue;
}

impl ToRef for Array2<f64> {
    fn to_ref(&self) -> RefValue {
        RefValue::Rows {
            data: self.iter().copied().collect(),
            rows: self.nrows(),
            cols: self.ncols(),
        }
    }
}

impl ToRef for Vec<f64> {
    fn to_ref(&self) -> RefValue {
        RefValue::Vector(self.clone())
    }
}

impl ToRef for Array2<usize> {
    fn to_ref(&self) -> RefValue {
        RefValue::IndexRows {
            data: self.iter().copied().collect(),
            rows: self.nrows(),
            cols: self.ncols(),
        }
    }
}

pub trait ToF32 {
    type Out;
    fn to_f32(&self) -> Self::Out;
}

impl ToF32 for Array2<f64> {
    type Out = Array2<f32>;
    fn to_f32(&self) -> Array2<f32> {
        self.mapv(|x| x as f32)
    }
}

impl ToF32 for Vec<f64> {
    type Out = Vec<f32>;
    fn to_f32(&self) -> Vec<f32> {
        self.iter().map(|&x| x as f32).collect()
    }
}

impl ToF32 for Array2<usize> {
    type Out = Array2<usize>;
    fn to_f32(&self) -> Array2<usize> {
        self.clone()
    }
}

/// Rounds f64 inputs to f32 and back, so that the f64 reference sees exactly
/// the data the f32 kernel sees.
pub trait RoundF32 {
    fn round_f32(&self) -> Self;
}

impl RoundF32 for Array2<f64> {
    fn round_f32(&self) -> Self {
        self.mapv(|x| x as f32 as f64)
    }
}

impl RoundF32 for Vec<f64> {
    fn round_f32(&self) -> Self {
        self.iter().map(|&x| x as f32 as f64).collect()
    }
}

impl RoundF32 for Array2<usize> {
    fn round_f32(&self) -> Self {
        self.clone()
    }
}

/// A kernel output normalised to f64.
#[derive(Debug, Clone)]
pub enum Out {
    Rows(Array2<f64>),
    Idx(Array2<usize>),
    Pair(Array2<f64>, Array2<usize>),
    Vector(Array1<f64>),
}

impl Out {
    /// The data of a vector output.
    pub fn vector(self) -> Array1<f64> {
        match self {
            Out::Vector(v) => v,
            o => panic!("not a vector: {o:?}"),
        }
    }
}

pub trait IntoOut {
    fn into_out(self) -> Out;
}

macro_rules! real_outs {
    ($($t:ty),*) => {$(
        impl IntoOut for Array2<$t> {
            fn into_out(self) -> Out {
                Out::Rows(self.mapv(|x| x as f64))
            }
        }
        impl IntoOut for (Array2<$t>, Array2<usize>) {
            fn into_out(self) -> Out {
                Out::Pair(self.0.mapv(|x| x as f64), self.1)
            }
        }
        impl IntoOut for Array1<$t> {
            fn into_out(self) -> Out {
                Out::Vector(self.mapv(|x| x as f64))
            }
        }
    )*};
}
real_outs!(f32, f64);

impl IntoOut for Array2<usize> {
    fn into_out(self) -> Out {
        Out::Idx(self)
    }
}

fn close(a: f64, r: f64, bound: f64) -> bool {
    if a == r {
        return true;
    }
    if r.is_nan() {
        return a.is_nan();
    }
    if r.is_infinite() || a.is_infinite() {
        return false;
    }
    (a - r).abs() <= bound
}

/// Checks a forward kernel's output against the reference, with bounds
/// derived from the pair values `pv[outer][inner][component]`.
pub fn check_forward(out: Out, r: &RefValue, pv: &[Vec<Vec<f64>>], red: Red, tol: f64, what: &str) {
    let (vals, idxs): (Option<Array2<f64>>, Option<Array2<usize>>) = match out {
        Out::Rows(v) => (Some(v), None),
        Out::Idx(i) => (None, Some(i)),
        Out::Pair(v, i) => (Some(v), Some(i)),
        Out::Vector(_) => panic!("{what}: a forward kernel returned a vector"),
    };
    let (rv, ri): (Option<&[f64]>, Option<&[usize]>) = match r {
        RefValue::Rows { data, .. } => (Some(data), None),
        RefValue::IndexRows { data, .. } => (None, Some(data)),
        RefValue::Pair(a, b) => (Some(a.reals()), Some(b.indices())),
        RefValue::Vector(_) => unreachable!(),
    };
    let m = pv.len();
    let cols = vals
        .as_ref()
        .map(|v| v.ncols())
        .or(idxs.as_ref().map(|i| i.ncols()))
        .unwrap();
    let fdim = if m > 0 && !pv[0].is_empty() {
        pv[0][0].len()
    } else {
        1
    };
    if let Some(v) = &vals {
        assert_eq!(v.nrows(), m, "{what}: rows");
        let rv = rv.expect("reference values");
        for o in 0..m {
            for c in 0..cols {
                let a = v[[o, c]];
                let rr = rv[o * cols + c];
                let d = c % fdim;
                let scale: f64 = match red {
                    Red::Sum => pv[o].iter().map(|f| f[d].abs()).sum::<f64>(),
                    Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight => {
                        let mf = pv[o]
                            .iter()
                            .map(|f| f[d.min(f.len() - 1)].abs())
                            .fold(0.0, f64::max);
                        (1.0 + mf) * (1.0 + rr.abs())
                    }
                    // Selections: the error of one F value, relative to the
                    // magnitude of the values compared (cancellation inside F,
                    // e.g. `sqdist - 1`, is relative to its operands).
                    _ => {
                        let n = pv[o].len().max(1) as f64;
                        rr.abs().max(
                            pv[o]
                                .iter()
                                .map(|f| f[d].abs())
                                .filter(|v| v.is_finite())
                                .sum::<f64>()
                                / n,
                        )
                    }
                };
                let bound = tol * scale.max(1e-300) + 1e-300;
                assert!(
                    close(a, rr, bound),
                    "{what}: row {o}, column {c}: got {a:e}, reference {rr:e} (allowed error {bound:e})"
                );
            }
        }
    }
    if let Some(ix) = &idxs {
        assert_eq!(ix.nrows(), m, "{what}: rows");
        let ri = ri.expect("reference indices");
        for o in 0..m {
            for c in 0..cols {
                let j = ix[[o, c]];
                let rj = ri[o * cols + c];
                if j == rj {
                    continue;
                }
                let d = c % fdim;
                // Another index is fine when it selects an equally good value.
                assert!(
                    j != usize::MAX && rj != usize::MAX,
                    "{what}: row {o}, column {c}: index {j} vs reference {rj}"
                );
                let (fj, fr) = (pv[o][j][d], pv[o][rj][d]);
                let n = pv[o].len().max(1) as f64;
                let mean = pv[o]
                    .iter()
                    .map(|f| f[d].abs())
                    .filter(|v| v.is_finite())
                    .sum::<f64>()
                    / n;
                let bound = tol * fr.abs().max(mean).max(1e-300);
                assert!(
                    (fj - fr).abs() <= bound,
                    "{what}: row {o}, column {c}: index {j} (value {fj:e}) vs reference {rj} (value {fr:e})"
                );
                // K-reductions: indices of a row must be distinct.
                if let Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) = red {
                    let mut seen: Vec<usize> =
                        (0..k as usize).map(|r| ix[[o, r * fdim + d]]).collect();
                    seen.sort();
                    seen.dedup();
                    assert_eq!(seen.len(), k as usize, "{what}: row {o}: repeated indices");
                }
            }
        }
    }
}

/// Checks any output (gradients included) against the reference with a
/// mixed bound: `tol * (|r| + max |r| over the output)`.
pub fn check_any(out: Out, r: &RefValue, tol: f64, what: &str) {
    let (a, shape): (Vec<f64>, (usize, usize)) = match out {
        Out::Rows(v) => (v.iter().copied().collect(), v.dim()),
        Out::Vector(v) => (v.to_vec(), (1, v.len())),
        other => panic!("{what}: unexpected output {other:?}"),
    };
    let rv = r.reals();
    assert_eq!(a.len(), rv.len(), "{what}: size (shape {shape:?})");
    let scale = rv.iter().map(|x| x.abs()).fold(0.0, f64::max);
    for (k, (&x, &y)) in a.iter().zip(rv).enumerate() {
        let bound = tol * (y.abs() + scale) + 1e-300;
        assert!(
            close(x, y, bound),
            "{what}: entry {k}: got {x:e}, reference {y:e} (allowed {bound:e})"
        );
    }
}

/// The SIMD levels this CPU supports (every kernel is tested on each).
pub fn levels() -> Vec<keops::SimdLevel> {
    keops::simd::supported_levels()
}

/// Generates the input of a variable (`Vi`: m rows, `Vj`: n rows, `Pm`: a vector).
#[macro_export]
macro_rules! gen_input {
    (Vi, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::rows($rng, $m, $d, $lo, $hi)
    };
    (Vj, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::rows($rng, $n, $d, $lo, $hi)
    };
    (Pm, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::param($rng, $d, $lo, $hi)
    };
}

/// The back-end variants a `check!` (`on = "cpu"`) or `check_gpu!`
/// (`on = "gpu"`) case runs, as (name, options from `base`): every SIMD
/// level of this CPU, or every one of [`gpu_variants`].
pub fn variants(on: &str, base: keops::Options) -> Vec<(String, keops::Options)> {
    match on {
        "cpu" => levels()
            .into_iter()
            .map(|l| {
                let o = keops::Options {
                    simd: Some(l),
                    ..base
                };
                (l.to_string(), o)
            })
            .collect(),
        "gpu" => gpu_variants()
            .into_iter()
            .map(|(name, backend, scheme, block)| (name, gpu_options(base, backend, scheme, block)))
            .collect(),
        other => panic!("unknown back ends `{other}`"),
    }
}

/// The default shapes (M, N) of a `check!` / `check_gpu!` case: empty
/// reductions, single pairs, tails and several tiles. The simulator runs
/// every thread of every block, so its sizes are smaller.
pub fn default_sizes(on: &str) -> Vec<(usize, usize)> {
    match on {
        "gpu" => vec![(0, 5), (5, 0), (1, 1), (7, 13), (300, 70), (13, 1033)],
        _ => vec![(0, 5), (5, 0), (1, 1), (7, 13), (1033, 7), (7, 1033)],
    }
}

/// Defines a test comparing a forward kernel with the reference evaluator on
/// random data, in f64 and f32, on every SIMD level, for several shapes.
///
/// `tol64` / `tol32` are relative to the natural scale of the result (see
/// `check_forward`): f64 kernels use polynomial transcendental functions
/// accurate to a few ulp (about 1e-15), f32 ones to a few f32 ulp (about
/// 3e-7 per operation), and sums of N terms add about sqrt(N) ulp of their
/// absolute sum.
///
/// `check!` and `check_gpu!` share this one body (`@cpu` / `@gpu` selects
/// the [`variants`] and the [`default_sizes`]).
#[macro_export]
macro_rules! check {
    (
        @$on:ident $name:ident, |$($v:ident : $cat:ident < $dim:literal >),* $(,)?| $body:expr
        $(; range = ($lo:expr, $hi:expr))?
        $(; sizes = $sizes:expr)?
        $(; tol64 = $t64:expr)?
        $(; tol32 = $t32:expr)?
        $(; scheme = $scheme:expr)?
        $(; fast_math = $fm:literal)?
        $(; math = [$($f:literal),* $(,)?])?
    ) => {
        #[test]
        fn $name() {
            use ::keops::Kernel as _;
            let kernel = ::keops::keops!(grad_order = 0, $(fast_math = $fm,)? |$($v: $cat<$dim>),*| $body);
            #[allow(unused_mut, unused_assignments)]
            let mut fast = true;
            $( fast = $fm; )?
            let _ = fast;
            let reference = ::keops_compiler::Reference::parse(concat!(
                "grad_order = 0, ",
                stringify!(|$($v: $cat<$dim>),*| $body)
            ))
            .unwrap();
            #[allow(unused_mut, unused_assignments)]
            let mut range: (f64, f64) = (-1.0, 1.0);
            $( range = ($lo, $hi); )?
            #[allow(unused_mut, unused_assignments)]
            let mut sizes: Vec<(usize, usize)> = $crate::common::default_sizes(stringify!($on));
            $( sizes = $sizes; )?
            #[allow(unused_mut, unused_assignments)]
            let mut tol64: f64 = 1e-13;
            $( tol64 = $t64; )?
            #[allow(unused_mut, unused_assignments)]
            let mut tol32: f64 = 2e-5;
            $( tol32 = $t32; )?
            #[allow(unused_mut, unused_assignments)]
            let mut base = kernel.options();
            $( base.sum_scheme = $scheme; )?
            $(
                let funcs: &[&str] = &[$($f),*];
                let Some(t) = $crate::common::device_math_tolerance(funcs, true, fast, tol64) else { return };
                tol64 = t;
                let Some(t) = $crate::common::device_math_tolerance(funcs, false, fast, tol32) else { return };
                tol32 = t;
            )?
            for &(m, n) in &sizes {
                let mut rng = $crate::common::rng(stringify!($name), m, n);
                $( let $v = $crate::gen_input!($cat, $dim, m, n, &mut rng, range.0, range.1); )*
                let inputs64 = vec![$( $crate::common::ToRef::to_ref(&$v) ),*];
                let r64 = reference.forward(&inputs64).unwrap();
                let pv64 = reference.pair_values(&inputs64).unwrap();
                // f32 runs against the reference on the same (rounded) data.
                let inputs32 = vec![$( $crate::common::ToRef::to_ref(&$crate::common::RoundF32::round_f32(&$v)) ),*];
                let r32 = reference.forward(&inputs32).unwrap();
                let pv32 = reference.pair_values(&inputs32).unwrap();
                let f32_in = ($( $crate::common::ToF32::to_f32(&$crate::common::RoundF32::round_f32(&$v)), )*);
                for (vname, opts) in $crate::common::variants(stringify!($on), base) {
                    let k = kernel.with_options(opts);
                    let what = format!("{} f64 (M = {m}, N = {n}, {vname})", stringify!($name));
                    let out = $crate::kernel_call!(k, $( $cat $v ),*).unwrap_or_else(|e| panic!("{what}: {e}"));
                    $crate::common::check_forward($crate::common::IntoOut::into_out(out), &r64, &pv64, reference.reduction(), tol64, &what);
                    #[allow(non_snake_case)]
                    let ($($v,)*) = &f32_in;
                    let what = format!("{} f32 (M = {m}, N = {n}, {vname})", stringify!($name));
                    let out = $crate::kernel_call!(k, $( $cat (*$v) ),*).unwrap_or_else(|e| panic!("{what}: {e}"));
                    $crate::common::check_forward($crate::common::IntoOut::into_out(out), &r32, &pv32, reference.reduction(), tol32, &what);
                }
            }
        }
    };
    ($name:ident, $($case:tt)*) => {
        $crate::check!(@cpu $name, $($case)*);
    };
}

/// The GPU launch variants every `check_gpu!` case runs: through the PTX
/// simulator, the automatic choice, the 1D scheme with small blocks (so
/// that tiles of inner features are loaded in several passes and rows span
/// several blocks), and the 2D scheme with chunks that do not align with
/// tiles; and the same three on CUDA device 0 when the tests are built with
/// `--features cuda` and a device is present (the same check bodies then
/// run on real hardware).
pub fn gpu_variants() -> Vec<(String, keops::Backend, keops::GpuScheme, Option<u32>)> {
    let schemes = [
        ("auto", keops::GpuScheme::Auto, None),
        ("1d/64", keops::GpuScheme::OneD, Some(64)),
        (
            "2d/100/96",
            keops::GpuScheme::TwoD { chunk_len: 100 },
            Some(96),
        ),
    ];
    let mut backends = vec![("sim", keops::Backend::Simulator)];
    let cuda = keops::Backend::Gpu { device: 0 };
    if cuda.is_available() {
        backends.push(("cuda", cuda));
    }
    let mut v = Vec::new();
    for (bname, backend) in backends {
        for (sname, scheme, block) in schemes {
            v.push((format!("{bname} {sname}"), backend, scheme, block));
        }
    }
    v
}

/// Options running a kernel on a GPU back end with one of [`gpu_variants`].
pub fn gpu_options(
    base: keops::Options,
    backend: keops::Backend,
    scheme: keops::GpuScheme,
    block: Option<u32>,
) -> keops::Options {
    keops::Options {
        backend,
        gpu_scheme: scheme,
        gpu_block: block,
        ..base
    }
}

/// Like `check!` (the same body), but the kernel runs on the GPU back ends,
/// for each of [`gpu_variants`] (the PTX simulator, and CUDA device 0 when
/// present). `fast_math = false` compiles the kernel with the accurate
/// device math (the default is the macro's, `fast_math = true`);
/// `math = [...]` names the device-math routines of the formula, whose
/// error measured in that mode sets a floor under `tol32` / `tol64`
/// ([`device_math_tolerance`]); `scheme = ...` picks the sum scheme.
#[macro_export]
macro_rules! check_gpu {
    ($name:ident, $($case:tt)*) => {
        $crate::check!(@gpu $name, $($case)*);
    };
}

/// The call of a kernel on generated inputs (helper of `check!`).
#[macro_export]
macro_rules! kernel_call {
    ($k:expr, $( $cat:ident $v:expr ),*) => {
        $k.call($( $crate::call_arg!($cat, $v) ),*)
    };
}

/// An argument of `kernel_call!`: the variable's rows, or its parameter
/// vector as a slice.
#[macro_export]
macro_rules! call_arg {
    (Vi, $v:expr) => {
        &$v
    };
    (Vj, $v:expr) => {
        &$v
    };
    (Pm, $v:expr) => {
        &$v[..]
    };
}

/// Arguments `(x, y)` of a device-math probe, and the exact function.
type MathSamples = (Vec<(f64, f64)>, fn(f64, f64) -> f64);

/// Sample points and the exact (f64 std) function of a device-math
/// routine, by formula-language name.
fn math_samples(f: &str) -> MathSamples {
    let grid = |lo: f64, hi: f64| -> Vec<(f64, f64)> {
        (0..97)
            .map(|k| (lo + (hi - lo) * (k as f64 + 0.31) / 97.0, 0.0))
            .collect()
    };
    match f {
        "exp" => (grid(-20.0, 20.0), |x, _| x.exp()),
        "expm1" => (grid(-2.0, 2.0), |x, _| x.exp_m1()),
        "log" => (grid(0.01, 50.0), |x, _| x.ln()),
        "log1p" => (grid(-0.5, 10.0), |x, _| x.ln_1p()),
        "sin" => (grid(-12.0, 12.0), |x, _| x.sin()),
        "cos" => (grid(-12.0, 12.0), |x, _| x.cos()),
        "asin" => (grid(-0.99, 0.99), |x, _| x.asin()),
        "acos" => (grid(-0.99, 0.99), |x, _| x.acos()),
        "atan" => (grid(-10.0, 10.0), |x, _| x.atan()),
        "atan2" => (
            (0..97)
                .map(|k| {
                    let t = k as f64 * 0.37;
                    (3.0 * t.sin(), 2.0 * (1.3 * t).cos())
                })
                .collect(),
            |y, x| y.atan2(x),
        ),
        "tanh" => (grid(-4.0, 4.0), |x, _| x.tanh()),
        "sinh" => (grid(-4.0, 4.0), |x, _| x.sinh()),
        "cosh" => (grid(-4.0, 4.0), |x, _| x.cosh()),
        "erf" => (grid(-3.0, 3.0), |x, _| libm_erf(x)),
        "powf" => (
            (0..97)
                .map(|k| (0.1 + k as f64 * 0.04, -2.0 + k as f64 * 0.041))
                .collect(),
            |x, y| x.powf(y),
        ),
        other => panic!("no samples for `{other}`"),
    }
}

/// erf through the reference evaluator (`Un::Erf`).
fn libm_erf(x: f64) -> f64 {
    keops_compiler::ir::Un::Erf.eval(x)
}

/// Largest error of the device-math routine `f` (as the kernels emit it
/// with `fast_math = fast`, run through the simulator) on sample points,
/// relative to `max(|f(x)|, 1)` (so that zeros of `f` do not dominate).
/// The simulator computes the hardware's `.approx` instructions (fast
/// mode) correctly rounded: their own error (NVIDIA's bounds, see
/// `keops_gpu_kernels::math`) is not in this figure.
pub fn device_math_error(f: &str, f64_data: bool, fast: bool) -> f64 {
    use keops_gpu_kernels::math::{self, MathOpts};
    use keops_gpu_kernels::ptx::{Builder, Prec, Ty};
    use keops_ptx_sim::{Device, Module, Param};
    let p = if f64_data { Prec::F64 } else { Prec::F32 };
    let (pts, exact) = math_samples(f);
    let mut b = Builder::new();
    let s = p.suffix();
    let by = p.bytes();
    let (px, py, po) = (b.reg(Ty::B64), b.reg(Ty::B64), b.reg(Ty::B64));
    b.emit(format!("ld.param.u64 {px}, [xs]"));
    b.emit(format!("ld.param.u64 {py}, [ys]"));
    b.emit(format!("ld.param.u64 {po}, [out]"));
    let t = b.reg(Ty::B32);
    b.emit(format!("mov.u32 {t}, %tid.x"));
    let off = b.reg(Ty::B64);
    b.emit(format!("mul.wide.u32 {off}, {t}, {by}"));
    let (ax, ay, ao) = (b.reg(Ty::B64), b.reg(Ty::B64), b.reg(Ty::B64));
    b.emit(format!("add.u64 {ax}, {px}, {off}"));
    b.emit(format!("add.u64 {ay}, {py}, {off}"));
    b.emit(format!("add.u64 {ao}, {po}, {off}"));
    let (x, y) = (b.freg(p), b.freg(p));
    b.emit(format!("ld.global.{s} {x}, [{ax}]"));
    b.emit(format!("ld.global.{s} {y}, [{ay}]"));
    let o = MathOpts { fast };
    let r = match f {
        "exp" => math::exp(&mut b, p, x, o),
        "expm1" => math::expm1(&mut b, p, x, o),
        "log" => math::log(&mut b, p, x, o),
        "log1p" => math::log1p(&mut b, p, x, o),
        "sin" => math::sin(&mut b, p, x, o),
        "cos" => math::cos(&mut b, p, x, o),
        "asin" => math::asin(&mut b, p, x, o),
        "acos" => math::acos(&mut b, p, x, o),
        "atan" => math::atan(&mut b, p, x, o),
        "atan2" => math::atan2(&mut b, p, x, y, o),
        "tanh" => math::tanh(&mut b, p, x, o),
        "sinh" => math::sinh(&mut b, p, x, o),
        "cosh" => math::cosh(&mut b, p, x, o),
        "erf" => math::erf(&mut b, p, x, o),
        "powf" => math::powf(&mut b, p, x, y, o),
        other => panic!("no device routine `{other}`"),
    };
    b.emit(format!("st.global.{s} [{ao}], {r}"));
    b.emit("ret");
    let ptx = format!(
        ".version 7.8\n.target sm_80\n.address_size 64\n.visible .entry probe(.param .u64 xs, .param .u64 ys, .param .u64 out)\n{{\n{}{}}}\n",
        b.declarations(),
        b.body()
    );
    let module = Module::parse(&ptx).unwrap_or_else(|e| panic!("device math `{f}`: {e}"));
    let mut dev = Device::new();
    let n = pts.len();
    let round = |v: f64| if f64_data { v } else { v as f32 as f64 };
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().map(|&(a, c)| (round(a), round(c))).unzip();
    let (dx, dy, dout) = if f64_data {
        (
            dev.alloc_from_f64(&xs),
            dev.alloc_from_f64(&ys),
            dev.alloc(n * 8),
        )
    } else {
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        (
            dev.alloc_from_f32(&f(&xs)),
            dev.alloc_from_f32(&f(&ys)),
            dev.alloc(n * 4),
        )
    };
    dev.launch(
        &module,
        "probe",
        [1, 1, 1],
        [n as u32, 1, 1],
        0,
        &[Param::U64(dx), Param::U64(dy), Param::U64(dout)],
    )
    .unwrap_or_else(|e| panic!("device math `{f}`: {e}"));
    let got: Vec<f64> = if f64_data {
        dev.read_f64(dout, n).unwrap()
    } else {
        dev.read_f32(dout, n)
            .unwrap()
            .into_iter()
            .map(|v| v as f64)
            .collect()
    };
    let mut worst: f64 = 0.0;
    for k in 0..n {
        let e = exact(xs[k], ys[k]);
        let err = (got[k] - e).abs() / e.abs().max(1.0);
        worst = worst.max(if err.is_nan() { f64::INFINITY } else { err });
    }
    worst
}

/// The tolerance of a test whose formula uses the device-math routines
/// `funcs` (in the mode `fast_math = fast`): `base`, or 16 times their
/// measured error if larger; `None` (with a message) when a routine is
/// grossly inaccurate, i.e. still a placeholder of the device-math library,
/// in which case the test is skipped.
pub fn device_math_tolerance(funcs: &[&str], f64_data: bool, fast: bool, base: f64) -> Option<f64> {
    let mut worst: f64 = 0.0;
    for f in funcs {
        let e = device_math_error(f, f64_data, fast);
        if e > 1e-3 {
            println!(
                "skipped: device math `{f}` ({}) is not accurate yet (max relative error {e:e})",
                if f64_data { "f64" } else { "f32" }
            );
            return None;
        }
        worst = worst.max(e);
    }
    Some(base.max(16.0 * worst))
}
