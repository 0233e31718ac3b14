//! Accuracy tests of the device math library, through the PTX simulator:
//! every routine is emitted into a one-thread-per-argument kernel, run by
//! [`crate::sim`] and compared with a reference.
//!
//! * f32 routines: reference = the f64 function of the host libm (glibc,
//!   < 1 ulp of f64), so the error is measured in f32 ulp to within 2^-28.
//! * f64 routines: the host libm (distance in f64 ulp, to which libm's own
//!   error adds: the bounds asserted leave room for it), plus a few hundred
//!   points per routine against the double-double table `ref_f64.txt`
//!   (generated with mpmath at 60 digits by `gen/ref_points.py`), which
//!   gives the true error to within 2^-50 ulp.
//!
//! The always-on tests use 20,000 arguments per routine and precision
//! (f32) and 10,000 (f64); the `#[ignore]`d `sweep_*` tests (run them with
//! `cargo test --release -p keops-gpu-kernels math -- --ignored`) use
//! 1,000,000 (f32) and 300,000 (f64).

use super::*;
use crate::ptx::{Builder, Prec, Reg, Ty};
use keops_ptx_sim::{Device, Module, Param};

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

/// A routine under test.
type Unary = fn(&mut Builder, Prec, Reg, MathOpts) -> Reg;
type Binary = fn(&mut Builder, Prec, Reg, Reg, MathOpts) -> Reg;

#[derive(Clone, Copy)]
enum Routine {
    U(Unary),
    B(Binary),
}

/// Builds `out[i] = f(x[i] (, y[i]))`; returns the PTX and the number of
/// instructions the routine itself emitted.
fn kernel(name: &str, p: Prec, f: Routine, o: MathOpts) -> (String, usize) {
    let mut b = Builder::new();
    let px = b.reg(Ty::B64);
    let py = b.reg(Ty::B64);
    let po = b.reg(Ty::B64);
    let n = b.reg(Ty::B32);
    b.emit(format!("ld.param.u64 {px}, [px]"));
    b.emit(format!("ld.param.u64 {py}, [py]"));
    b.emit(format!("ld.param.u64 {po}, [po]"));
    b.emit(format!("ld.param.u32 {n}, [n]"));
    let (t, c, d) = (b.reg(Ty::B32), b.reg(Ty::B32), b.reg(Ty::B32));
    b.emit(format!("mov.u32 {t}, %tid.x"));
    b.emit(format!("mov.u32 {c}, %ctaid.x"));
    b.emit(format!("mov.u32 {d}, %ntid.x"));
    let i = b.reg(Ty::B32);
    b.emit(format!("mad.lo.u32 {i}, {c}, {d}, {t}"));
    let q = b.reg(Ty::Pred);
    b.emit(format!("setp.ge.u32 {q}, {i}, {n}"));
    let done = b.label();
    b.emit(format!("@{q} bra {done}"));
    let off = b.reg(Ty::B64);
    b.emit(format!("mul.wide.u32 {off}, {i}, {}", p.bytes()));
    let ax = b.reg(Ty::B64);
    b.emit(format!("add.s64 {ax}, {px}, {off}"));
    let x = b.freg(p);
    b.emit(format!("ld.global.{} {x}, [{ax}]", p.suffix()));
    let before;
    let r = match f {
        Routine::U(g) => {
            before = b.instruction_count();
            g(&mut b, p, x, o)
        }
        Routine::B(g) => {
            let ay = b.reg(Ty::B64);
            b.emit(format!("add.s64 {ay}, {py}, {off}"));
            let y = b.freg(p);
            b.emit(format!("ld.global.{} {y}, [{ay}]", p.suffix()));
            before = b.instruction_count();
            g(&mut b, p, x, y, o)
        }
    };
    let count = b.instruction_count() - before;
    let ao = b.reg(Ty::B64);
    b.emit(format!("add.s64 {ao}, {po}, {off}"));
    b.emit(format!("st.global.{} [{ao}], {r}", p.suffix()));
    b.place(done);
    b.emit("ret");
    let ptx = format!(
        ".version 7.8\n.target sm_80\n.address_size 64\n\n.visible .entry {name}(\n\t.param .u64 px,\n\t.param .u64 py,\n\t.param .u64 po,\n\t.param .u32 n\n)\n{{\n{}{}}}\n",
        b.declarations(),
        b.body()
    );
    (ptx, count)
}

/// Runs the kernel over the arguments (as f64 values, converted to `p`).
fn run(ptx: &str, name: &str, p: Prec, xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let m = Module::parse(ptx).unwrap_or_else(|e| panic!("{e}\n{ptx}"));
    let mut dev = Device::new();
    dev.set_global_race_detection(false);
    let n = xs.len();
    let (dx, dy, dout) = match p {
        Prec::F32 => {
            let fx: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
            let fy: Vec<f32> = if ys.is_empty() {
                vec![0.0]
            } else {
                ys.iter().map(|&v| v as f32).collect()
            };
            (
                dev.alloc_from_f32(&fx),
                dev.alloc_from_f32(&fy),
                dev.alloc(n * 4),
            )
        }
        Prec::F64 => {
            let fy: Vec<f64> = if ys.is_empty() {
                vec![0.0]
            } else {
                ys.to_vec()
            };
            (
                dev.alloc_from_f64(xs),
                dev.alloc_from_f64(&fy),
                dev.alloc(n * 8),
            )
        }
    };
    let block = 256u32;
    let grid = (n as u32).div_ceil(block).max(1);
    dev.launch(
        &m,
        name,
        [grid, 1, 1],
        [block, 1, 1],
        0,
        &[
            Param::U64(dx),
            Param::U64(dy),
            Param::U64(dout),
            Param::U32(n as u32),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    match p {
        Prec::F32 => dev
            .read_f32(dout, n)
            .unwrap()
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        Prec::F64 => dev.read_f64(dout, n).unwrap(),
    }
}

// ---------------------------------------------------------------------------
// Error measurement
// ---------------------------------------------------------------------------

/// ulp of `v` in precision `p` (the spacing of the binade of |v|, subnormal
/// spacing below the normal range).
fn ulp(p: Prec, v: f64) -> f64 {
    let a = v.abs();
    match p {
        Prec::F32 => {
            let e = if a < f32::MIN_POSITIVE as f64 {
                -126
            } else {
                a.log2().floor() as i32
            };
            // guard log2 rounding at binade edges
            let e = if 2f64.powi(e) > a && a >= f32::MIN_POSITIVE as f64 {
                e - 1
            } else if 2f64.powi(e + 1) <= a {
                e + 1
            } else {
                e
            };
            2f64.powi(e.max(-126) - 23)
        }
        Prec::F64 => {
            if a < f64::MIN_POSITIVE {
                return 2f64.powi(-1074);
            }
            let bits = a.to_bits();
            let e = ((bits >> 52) & 0x7FF) as i64 - 1023 - 52;
            if e >= -1022 {
                f64::from_bits(((e + 1023) as u64) << 52)
            } else {
                f64::from_bits(1u64 << (e + 1074))
            }
        }
    }
}

/// Error of `got` against the exact value `hi + lo`, in ulp of precision
/// `p`; `None` is a mismatch of special values (NaN, infinity, overflow).
fn ulp_err(p: Prec, got: f64, hi: f64, lo: f64) -> Option<f64> {
    if hi.is_nan() {
        return if got.is_nan() { Some(0.0) } else { None };
    }
    if got.is_nan() {
        return None;
    }
    let rounded = match p {
        Prec::F32 => (hi as f32) as f64,
        Prec::F64 => hi,
    };
    if rounded.is_infinite() || got.is_infinite() {
        return if got == rounded { Some(0.0) } else { None };
    }
    if got == rounded && got == 0.0 && got.is_sign_negative() != rounded.is_sign_negative() {
        // signed zero mismatch
        return None;
    }
    let e = ((got - hi) - lo).abs() / ulp(p, hi);
    if e.is_finite() {
        Some(e)
    } else {
        None
    }
}

/// Summary of a comparison.
#[derive(Debug, Default)]
struct Stats {
    max: f64,
    arg: (f64, f64),
    got: f64,
    want: f64,
    n: usize,
    bad_special: Vec<(f64, f64, f64, f64)>,
}

fn compare(p: Prec, xs: &[f64], ys: &[f64], got: &[f64], refs: &[(f64, f64)]) -> Stats {
    let mut s = Stats::default();
    for i in 0..xs.len() {
        let y = if ys.is_empty() { 0.0 } else { ys[i] };
        let (hi, lo) = refs[i];
        s.n += 1;
        match ulp_err(p, got[i], hi, lo) {
            Some(e) => {
                if e > s.max {
                    s.max = e;
                    s.arg = (xs[i], y);
                    s.got = got[i];
                    s.want = hi;
                }
            }
            None => s.bad_special.push((xs[i], y, got[i], hi)),
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

/// Special values every routine sees.
fn specials(p: Prec) -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
    ];
    match p {
        Prec::F32 => v.extend([
            f32::MIN_POSITIVE as f64,
            -(f32::MIN_POSITIVE as f64),
            1e-45,
            -1e-45,
            f32::MAX as f64,
            -(f32::MAX as f64),
            f32::EPSILON as f64,
        ]),
        Prec::F64 => v.extend([
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            -f64::MAX,
            f64::EPSILON,
        ]),
    }
    v
}

/// Argument generator: uniform in `ranges`, random bit patterns (all
/// exponents, subnormals included), and points within a few ulp of `edges`.
struct Gen {
    rng: fastrand::Rng,
    p: Prec,
}

impl Gen {
    fn new(p: Prec, seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
            p,
        }
    }
    fn round(&self, v: f64) -> f64 {
        match self.p {
            Prec::F32 => v as f32 as f64,
            Prec::F64 => v,
        }
    }
    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        let v = a + (b - a) * self.rng.f64();
        self.round(v)
    }
    /// Random finite value with a uniformly random exponent, both signs.
    fn bits(&mut self) -> f64 {
        loop {
            let v = match self.p {
                Prec::F32 => f32::from_bits(self.rng.u32(..)) as f64,
                Prec::F64 => f64::from_bits(self.rng.u64(..)),
            };
            if v.is_finite() {
                return v;
            }
        }
    }
    /// Random value with |v| log-uniform in [lo, hi], random sign if `signed`.
    fn log_uniform(&mut self, lo: f64, hi: f64, signed: bool) -> f64 {
        let e = lo.ln() + (hi.ln() - lo.ln()) * self.rng.f64();
        let v = self.round(e.exp());
        if signed && self.rng.bool() {
            -v
        } else {
            v
        }
    }
    /// `v` moved by `k` ulp of precision p.
    fn nudge(&self, v: f64, k: i64) -> f64 {
        match self.p {
            Prec::F32 => {
                let f = v as f32;
                if f == 0.0 {
                    return f32::from_bits(k.unsigned_abs() as u32) as f64 * (k.signum() as f64);
                }
                let b = f.to_bits() as i64 + if f > 0.0 { k } else { -k };
                f32::from_bits(b as u32) as f64
            }
            Prec::F64 => {
                if v == 0.0 {
                    return f64::from_bits(k.unsigned_abs()) * (k.signum() as f64);
                }
                let b = v.to_bits() as i64 + if v > 0.0 { k } else { -k };
                f64::from_bits(b as u64)
            }
        }
    }
    /// `n` arguments: 45% uniform in the ranges, 35% random bits, 10%
    /// log-uniform in `log_range`, 10% near the edges.
    fn args(
        &mut self,
        n: usize,
        ranges: &[(f64, f64)],
        log_range: (f64, f64),
        edges: &[f64],
    ) -> Vec<f64> {
        let mut v = specials(self.p);
        for &e in edges {
            for k in -3..=3 {
                v.push(self.nudge(e, k));
            }
        }
        while v.len() < n {
            let u = self.rng.f64();
            let x = if u < 0.45 && !ranges.is_empty() {
                let (a, b) = ranges[self.rng.usize(..ranges.len())];
                self.uniform(a, b)
            } else if u < 0.80 {
                self.bits()
            } else if u < 0.90 {
                self.log_uniform(log_range.0, log_range.1, true)
            } else if !edges.is_empty() {
                let e = edges[self.rng.usize(..edges.len())];
                let k = self.rng.i64(-1000..=1000);
                self.nudge(e, k)
            } else {
                self.bits()
            };
            v.push(x);
        }
        v.truncate(n.max(v.len().min(n)));
        v
    }
}

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

extern "C" {
    #[link_name = "erf"]
    fn c_erf(x: f64) -> f64;
    #[link_name = "expm1"]
    fn c_expm1(x: f64) -> f64;
    #[link_name = "log1p"]
    fn c_log1p(x: f64) -> f64;
    #[link_name = "atan2"]
    fn c_atan2(y: f64, x: f64) -> f64;
    #[link_name = "pow"]
    fn c_pow(x: f64, y: f64) -> f64;
}

fn libm_erf(x: f64) -> f64 {
    // SAFETY: `erf` from the C math library is a pure function.
    unsafe { c_erf(x) }
}
fn libm_expm1(x: f64) -> f64 {
    // SAFETY: pure libm function.
    unsafe { c_expm1(x) }
}
fn libm_log1p(x: f64) -> f64 {
    // SAFETY: pure libm function.
    unsafe { c_log1p(x) }
}
fn libm_atan2(y: f64, x: f64) -> f64 {
    // SAFETY: pure libm function.
    unsafe { c_atan2(y, x) }
}
fn libm_pow(x: f64, y: f64) -> f64 {
    // SAFETY: pure libm function.
    unsafe { c_pow(x, y) }
}

/// Reference in f64 of a routine by name, and of its f64 libm error bound
/// (glibc's documented maximum, in f64 ulp).
fn reference(name: &str, x: f64, y: f64) -> f64 {
    match name {
        "exp" => x.exp(),
        "expm1" => libm_expm1(x),
        "log" => x.ln(),
        "log1p" => libm_log1p(x),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "atan2" => libm_atan2(x, y),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "tanh" => x.tanh(),
        "erf" => libm_erf(x),
        "powf" => libm_pow(x, y),
        "rsqrt" => 1.0 / x.sqrt(),
        _ => panic!("no reference for {name}"),
    }
}

/// glibc's maximum error (f64 ulp) of the reference, from its manual's
/// table for x86_64 (rounded up).
fn libm_bound(name: &str) -> f64 {
    match name {
        "rsqrt" => 0.0, // computed separately below
        "exp" | "log" | "sin" | "cos" | "atan" | "asin" | "acos" | "atan2" | "powf" | "expm1"
        | "log1p" | "erf" | "tanh" | "sinh" | "cosh" | "tan" => 1.0,
        _ => 2.0,
    }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// A routine with its documented bounds.
struct Case {
    name: &'static str,
    f: Routine,
    /// Max ulp asserted in f32 / f64 (the table of `math/mod.rs`).
    bound32: f64,
    bound64: f64,
}

fn cases() -> Vec<Case> {
    let u = |name, f: Unary, bound32, bound64| Case {
        name,
        f: Routine::U(f),
        bound32,
        bound64,
    };
    let b = |name, f: Binary, bound32, bound64| Case {
        name,
        f: Routine::B(f),
        bound32,
        bound64,
    };
    vec![
        u("exp", exp, 2.0, 2.0),
        u("expm1", expm1, 2.0, 2.0),
        u("log", log, 2.0, 2.0),
        u("log1p", log1p, 2.0, 2.0),
        u("sin", sin, 2.0, 2.0),
        u("cos", cos, 2.0, 2.0),
        u("tan", tan, 4.0, 4.0),
        u("asin", asin, 4.0, 4.0),
        u("acos", acos, 4.0, 4.0),
        u("atan", atan, 4.0, 4.0),
        b("atan2", atan2, 4.0, 4.0),
        u("sinh", sinh, 4.0, 4.0),
        u("cosh", cosh, 4.0, 4.0),
        u("tanh", tanh, 2.0, 4.0),
        u("erf", erf, 4.0, 4.0),
        b("powf", powf, 4.0, 4.0),
        u("rsqrt", rsqrt, 4.0, 4.0),
    ]
}

/// Arguments for a routine: (x, y) (y empty for unary routines).
fn args_for(name: &str, p: Prec, n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut g = Gen::new(p, seed);
    let f32p = p == Prec::F32;
    let pi = std::f64::consts::PI;
    let h = pi / 2.0;
    let (exp_hi, exp_lo, exp_sub) = if f32p {
        (88.72283935546875, -103.97207708, -87.33654475)
    } else {
        (709.782712893384, -745.1332191019412, -708.3964185322641)
    };
    let wide = if f32p { (1e-38, 1e38) } else { (1e-300, 1e300) };
    match name {
        "exp" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-10.0, 10.0), (exp_lo * 1.01, exp_hi * 1.01)],
                (1e-10, 800.0),
                &[exp_hi, exp_lo, exp_sub, 0.5 * std::f64::consts::LN_2],
            ),
            vec![],
        ),
        "expm1" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-0.4, 0.4), (-60.0, exp_hi * 1.01)],
                (1e-30, 800.0),
                &[
                    exp_hi,
                    0.5 * std::f64::consts::LN_2,
                    -0.5 * std::f64::consts::LN_2,
                    1e-8,
                ],
            ),
            vec![],
        ),
        "log" => (
            g.args(
                n,
                &[(0.0, 2.0), (0.5, 1.5), (0.0, 1e6)],
                wide,
                &[
                    1.0,
                    std::f64::consts::SQRT_2,
                    std::f64::consts::FRAC_1_SQRT_2,
                    2.0,
                ],
            )
            .into_iter()
            .enumerate()
            .map(|(i, v)| if i % 5 == 0 { v.abs() } else { v })
            .collect(),
            vec![],
        ),
        "log1p" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-0.3, 0.5), (-1.0, 1e6)],
                wide,
                &[
                    -1.0,
                    1e-8,
                    std::f64::consts::SQRT_2 - 1.0,
                    std::f64::consts::FRAC_1_SQRT_2 - 1.0,
                ],
            ),
            vec![],
        ),
        "sin" | "cos" | "tan" => {
            let big = if f32p { 1e5 } else { 1e9 };
            let mut edges: Vec<f64> = (0..200).map(|k| k as f64 * h).collect();
            for k in [1e3, 1e4, 3e4, 6e4, 9e4, 1e5, 1e6, 1e7, 1e8, 1e9] {
                edges.push((k * h).round_ties_even() * h);
            }
            let mut v = g.args(
                n,
                &[(-pi, pi), (-100.0, 100.0), (-big, big)],
                (1e-10, 1e9),
                &edges,
            );
            // multiples of pi/2 rounded to the format, far out
            let m = if f32p { 1e5 / h } else { 1e9 / h };
            for i in 0..n / 20 {
                let k = g.rng.f64() * m;
                let k = k.round();
                v[i * 20 % n] = g.round(k * h);
            }
            (v, vec![])
        }
        "asin" | "acos" => (
            g.args(
                n,
                &[(-1.0, 1.0), (0.45, 1.0), (-1.0, -0.45)],
                (1e-30, 1.0),
                &[0.5, -0.5, 1.0, -1.0],
            ),
            vec![],
        ),
        "atan" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-3.0, 3.0), (-100.0, 100.0)],
                wide,
                &[7.0 / 16.0, 11.0 / 16.0, 19.0 / 16.0, 39.0 / 16.0],
            ),
            vec![],
        ),
        "sinh" | "cosh" => (
            g.args(
                n,
                &[(-1.2, 1.2), (-10.0, 10.0), (-exp_hi - 2.0, exp_hi + 2.0)],
                (1e-20, 800.0),
                &[
                    1.0,
                    -1.0,
                    exp_hi + std::f64::consts::LN_2,
                    -(exp_hi + std::f64::consts::LN_2),
                ],
            ),
            vec![],
        ),
        "tanh" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-5.0, 5.0), (-20.0, 20.0)],
                (1e-20, 100.0),
                &[0.55, -0.55],
            ),
            vec![],
        ),
        "erf" => (
            g.args(
                n,
                &[(-1.0, 1.0), (-3.0, 3.0), (-6.5, 6.5)],
                (1e-30, 10.0),
                &[1.0, -1.0, 2.5, 4.0],
            ),
            vec![],
        ),
        "rsqrt" => (
            g.args(n, &[(0.0, 4.0), (0.0, 1e6)], wide, &[1.0, 4.0])
                .into_iter()
                .enumerate()
                .map(|(i, v)| if i % 4 == 0 { v } else { v.abs() })
                .collect(),
            vec![],
        ),
        "atan2" => {
            let sp = specials(p);
            let mut xs = Vec::with_capacity(n);
            let mut ys = Vec::with_capacity(n);
            for &a in &sp {
                for &b in &sp {
                    ys.push(a);
                    xs.push(b);
                }
            }
            while xs.len() < n {
                let u = g.rng.f64();
                let (y, x) = if u < 0.4 {
                    (g.uniform(-10.0, 10.0), g.uniform(-10.0, 10.0))
                } else if u < 0.7 {
                    (g.bits(), g.bits())
                } else {
                    let x = g.log_uniform(wide.0, wide.1, true);
                    let k = g.log_uniform(1e-10, 1e10, true);
                    (g.round(x * k), x)
                };
                ys.push(y);
                xs.push(x);
            }
            // atan2 takes (y, x): the kernel's first argument is y.
            (ys, xs)
        }
        "powf" => {
            let sp = specials(p);
            let mut xs = Vec::with_capacity(n);
            let mut ys = Vec::with_capacity(n);
            let extra = [3.0, -3.0, 0.25, 1.5, -1.5, 1e10, -1e10];
            for &a in sp.iter().chain(extra.iter()) {
                for &b in sp.iter().chain(extra.iter()) {
                    xs.push(a);
                    ys.push(b);
                }
            }
            let ovf = if f32p { 128.0 } else { 1024.0 };
            while xs.len() < n {
                let u = g.rng.f64();
                let (x, y) = if u < 0.3 {
                    (g.log_uniform(1e-3, 1e3, false), g.uniform(-20.0, 20.0))
                } else if u < 0.45 {
                    // negative bases, integral exponents
                    (g.uniform(-10.0, 10.0), g.rng.i32(-40..=40) as f64)
                } else if u < 0.6 {
                    // near 1, large exponents
                    let x = g.uniform(0.9, 1.1);
                    let t = g.uniform(-1.0, 1.0);
                    (
                        x,
                        g.round(t * 0.9 * ovf / x.log2().abs().max(1e-30))
                            .clamp(-1e15, 1e15),
                    )
                } else if u < 0.75 {
                    // results near overflow / underflow
                    let x = g.log_uniform(1e-4, 1e4, false);
                    let t = if g.rng.bool() {
                        ovf
                    } else {
                        -ovf - if f32p { 22.0 } else { 51.0 }
                    };
                    let k = g.rng.f64();
                    (x, g.round(t / x.log2() * (1.0 + 1e-3 * (k - 0.5))))
                } else if u < 0.85 {
                    (g.bits(), g.bits())
                } else {
                    (g.log_uniform(wide.0, wide.1, false), g.uniform(-3.0, 3.0))
                };
                xs.push(x);
                ys.push(y);
            }
            (xs, ys)
        }
        _ => panic!("no arguments for {name}"),
    }
}

/// Rounds arguments to the precision under test.
fn round_all(p: Prec, v: Vec<f64>) -> Vec<f64> {
    match p {
        Prec::F32 => v.into_iter().map(|x| x as f32 as f64).collect(),
        Prec::F64 => v,
    }
}

/// References as (hi, lo) pairs; f32: the f64 libm value (lo = 0).
fn refs(name: &str, xs: &[f64], ys: &[f64]) -> Vec<(f64, f64)> {
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            let y = if ys.is_empty() { 0.0 } else { ys[i] };
            (reference(name, x, y), 0.0)
        })
        .collect()
}

/// Runs one routine over `n` arguments; returns (max ulp, instructions).
fn check(c: &Case, p: Prec, n: usize, seed: u64) -> (f64, usize) {
    let kname = format!("t_{}_{}", c.name, p.suffix());
    let (ptx, count) = kernel(&kname, p, c.f, MathOpts::default());
    let (xs, ys) = args_for(c.name, p, n, seed);
    let (xs, ys) = (round_all(p, xs), round_all(p, ys));
    let got = run(&ptx, &kname, p, &xs, &ys);
    let r = refs(c.name, &xs, &ys);
    // every argument is checked for accuracy (Payne–Hanek beyond 2^16 /
    // 2^28 for sin/cos/tan)
    let limit = f64::INFINITY;
    let (mut xa, mut ya, mut ga, mut ra) = (vec![], vec![], vec![], vec![]);
    // f32 exp (default: `ex2.approx.ftz` of a compensated argument)
    // flushes results below 2^-126 to zero: those are checked to be within
    // 2^-126 (absolute) and left out of the ulp statistics.
    let ftz_exp = c.name == "exp" && p == Prec::F32;
    let min_normal = f32::MIN_POSITIVE as f64;
    for i in 0..xs.len() {
        if ftz_exp && r[i].0.abs() < min_normal && r[i].0 != 0.0 {
            assert!(
                (got[i] - r[i].0).abs() <= min_normal,
                "exp f32({:e}) = {:e}, want {:e}",
                xs[i],
                got[i],
                r[i].0
            );
            continue;
        }
        if xs[i].abs() <= limit || xs[i].is_nan() {
            xa.push(xs[i]);
            if !ys.is_empty() {
                ya.push(ys[i]);
            }
            ga.push(got[i]);
            ra.push(r[i]);
        } else if xs[i].is_finite() {
            let ok = if c.name == "tan" {
                !got[i].is_nan()
            } else {
                got[i].abs() <= 1.0
            };
            assert!(
                ok,
                "{} {}: {} for huge x = {:e}",
                c.name,
                p.suffix(),
                got[i],
                xs[i]
            );
        }
    }
    if c.name == "sin" || c.name == "cos" {
        for (x, g) in xa.iter().zip(&ga) {
            assert!(g.is_nan() || g.abs() <= 1.0, "{}({x:e}) = {g:e}", c.name);
        }
    }
    let s = compare(p, &xa, &ya, &ga, &ra);
    let (bound, slack) = match p {
        Prec::F32 => (c.bound32, 0.0),
        Prec::F64 => (c.bound64, libm_bound(c.name)),
    };
    println!(
        "{:6} {}: max {:.3} ulp at ({:e}, {:e}): got {:e} want {:e}; {} args, {} instructions",
        c.name,
        p.suffix(),
        s.max,
        s.arg.0,
        s.arg.1,
        s.got,
        s.want,
        s.n,
        count
    );
    assert!(
        s.bad_special.is_empty(),
        "{} {}: special-value mismatches (x, y, got, want): {:?}",
        c.name,
        p.suffix(),
        &s.bad_special[..s.bad_special.len().min(10)]
    );
    assert!(
        s.max <= bound + slack,
        "{} {}: max error {} ulp > {} (+{} for libm)",
        c.name,
        p.suffix(),
        s.max,
        bound,
        slack
    );
    (s.max, count)
}

fn case(name: &str) -> Case {
    cases().into_iter().find(|c| c.name == name).unwrap()
}

macro_rules! quick {
    ($($t:ident: $name:literal),* $(,)?) => {$(
        #[test]
        fn $t() {
            check(&case($name), Prec::F32, 20_000, 1);
            check(&case($name), Prec::F64, 10_000, 2);
        }
    )*};
}

quick! {
    quick_exp: "exp",
    quick_expm1: "expm1",
    quick_log: "log",
    quick_log1p: "log1p",
    quick_sin: "sin",
    quick_cos: "cos",
    quick_tan: "tan",
    quick_asin: "asin",
    quick_acos: "acos",
    quick_atan: "atan",
    quick_atan2: "atan2",
    quick_sinh: "sinh",
    quick_cosh: "cosh",
    quick_tanh: "tanh",
    quick_erf: "erf",
    quick_powf: "powf",
    quick_rsqrt: "rsqrt",
}

/// The big sweeps: 1,000,000 arguments per f32 routine, 300,000 per f64
/// routine (about a minute in release mode for all routines).
#[test]
#[ignore = "long: run with --release -- --ignored"]
fn sweep_all() {
    let mut table = Vec::new();
    for c in cases() {
        let (e32, n32) = check(&c, Prec::F32, 1_000_000, 11);
        let (e64, n64) = check(&c, Prec::F64, 300_000, 12);
        table.push((c.name, e32, n32, e64, n64));
    }
    println!("\nroutine   f32 max ulp  instr | f64 max ulp (vs libm)  instr");
    for (n, e32, n32, e64, n64) in table {
        println!("{n:8} {e32:10.3} {n32:6} | {e64:10.3} {n64:6}");
    }
}

// ---------------------------------------------------------------------------
// f64 against the double-double reference table
// ---------------------------------------------------------------------------

/// The exact-value table for f64 (see `gen/ref_points.py`).
const REF_F64: &str = include_str!("testdata/ref_f64.txt");

#[test]
fn f64_against_double_double_reference() {
    type Points = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>);
    let mut by_name: std::collections::BTreeMap<&str, Points> = Default::default();
    for line in REF_F64
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let h = |s: &str| f64::from_bits(u64::from_str_radix(s, 16).unwrap());
        let e = by_name.entry(f[0]).or_default();
        e.0.push(h(f[1]));
        e.1.push(h(f[2]));
        e.2.push((h(f[3]), h(f[4])));
    }
    let mut report = Vec::new();
    for (name, (xs, ys, refs)) in &by_name {
        let c = case(name);
        let kname = format!("ref_{name}");
        let (ptx, _) = kernel(&kname, Prec::F64, c.f, MathOpts::default());
        let ys2: Vec<f64> = if matches!(c.f, Routine::B(_)) {
            ys.clone()
        } else {
            vec![]
        };
        let got = run(&ptx, &kname, Prec::F64, xs, &ys2);
        let s = compare(Prec::F64, xs, &ys2, &got, refs);
        println!(
            "{name:6} f64 vs double-double: max {:.3} ulp at ({:e}, {:e}) over {} points",
            s.max, s.arg.0, s.arg.1, s.n
        );
        assert!(s.bad_special.is_empty(), "{name}: {:?}", s.bad_special);
        assert!(s.max <= c.bound64, "{name}: {} ulp > {}", s.max, c.bound64);
        report.push((name.to_string(), s.max));
    }
    assert_eq!(
        report.len(),
        cases().len(),
        "every routine has reference points"
    );
}

// ---------------------------------------------------------------------------
// Special values, fast mode, round, ptxas
// ---------------------------------------------------------------------------

/// Bit-exact C99 special cases of pow and atan2 (f32 and f64).
#[test]
fn pow_and_atan2_special_cases() {
    let inf = f64::INFINITY;
    let nan = f64::NAN;
    let pow_cases: &[(f64, f64, f64)] = &[
        (2.0, 0.0, 1.0),
        (nan, 0.0, 1.0),
        (nan, -0.0, 1.0),
        (1.0, nan, 1.0),
        (1.0, inf, 1.0),
        (-1.0, inf, 1.0),
        (-1.0, -inf, 1.0),
        (-2.0, 3.0, -8.0),
        (-2.0, 2.0, 4.0),
        (-2.0, -1.0, -0.5),
        (-8.0, 1.0 / 3.0, nan),
        (0.0, -1.0, inf),
        (-0.0, -1.0, -inf),
        (-0.0, -2.0, inf),
        (-0.0, 3.0, -0.0),
        (-0.0, 2.0, 0.0),
        (0.0, 0.5, 0.0),
        (-0.0, 0.5, 0.0),
        (-0.0, -0.5, inf),
        (0.5, inf, 0.0),
        (0.5, -inf, inf),
        (2.0, inf, inf),
        (2.0, -inf, 0.0),
        (-inf, 3.0, -inf),
        (-inf, -3.0, -0.0),
        (-inf, 2.0, inf),
        (-inf, -2.0, 0.0),
        (-inf, 0.5, inf),
        (inf, -1.0, 0.0),
        (inf, 0.5, inf),
        (nan, 1.0, nan),
        (2.0, nan, nan),
        (4.0, 0.5, 2.0),
        (10.0, 400.0, inf),
        (10.0, -400.0, 0.0),
    ];
    let atan2_cases: &[(f64, f64, f64)] = &[
        (0.0, 1.0, 0.0),
        (-0.0, 1.0, -0.0),
        (0.0, -1.0, std::f64::consts::PI),
        (-0.0, -1.0, -std::f64::consts::PI),
        (0.0, 0.0, 0.0),
        (-0.0, 0.0, -0.0),
        (0.0, -0.0, std::f64::consts::PI),
        (-0.0, -0.0, -std::f64::consts::PI),
        (1.0, 0.0, std::f64::consts::FRAC_PI_2),
        (-1.0, -0.0, -std::f64::consts::FRAC_PI_2),
        (inf, inf, std::f64::consts::FRAC_PI_4),
        (-inf, inf, -std::f64::consts::FRAC_PI_4),
        (inf, -inf, 3.0 * std::f64::consts::FRAC_PI_4),
        (-inf, -inf, -3.0 * std::f64::consts::FRAC_PI_4),
        (1.0, inf, 0.0),
        (-1.0, inf, -0.0),
        (1.0, -inf, std::f64::consts::PI),
        (-1.0, -inf, -std::f64::consts::PI),
        (inf, 1.0, std::f64::consts::FRAC_PI_2),
        (nan, 1.0, nan),
        (1.0, nan, nan),
        (nan, 0.0, nan),
        (0.0, nan, nan),
    ];
    for p in [Prec::F32, Prec::F64] {
        for (name, f, cs) in [
            ("powf", Routine::B(powf), pow_cases),
            ("atan2", Routine::B(atan2), atan2_cases),
        ] {
            let kname = format!("sp_{name}");
            let (ptx, _) = kernel(&kname, p, f, MathOpts::default());
            let xs: Vec<f64> = cs.iter().map(|c| c.0).collect();
            let ys: Vec<f64> = cs.iter().map(|c| c.1).collect();
            let got = run(&ptx, &kname, p, &xs, &ys);
            for (c, g) in cs.iter().zip(&got) {
                let want = match p {
                    Prec::F32 => c.2 as f32 as f64,
                    Prec::F64 => c.2,
                };
                let ok = if want.is_nan() {
                    g.is_nan()
                } else {
                    *g == want && g.is_sign_negative() == want.is_sign_negative()
                };
                assert!(
                    ok,
                    "{name}({}, {}) {} = {g:e}, want {want:e}",
                    c.0,
                    c.1,
                    p.suffix()
                );
            }
        }
    }
}

/// Every routine's special values: exp(-inf) = 0, log(0) = -inf, ...
#[test]
fn unary_special_values() {
    let inf = f64::INFINITY;
    let nan = f64::NAN;
    let table: &[(&str, f64, f64)] = &[
        ("exp", -inf, 0.0),
        ("exp", inf, inf),
        ("exp", -0.0, 1.0),
        ("exp", nan, nan),
        ("expm1", -0.0, -0.0),
        ("expm1", -inf, -1.0),
        ("expm1", inf, inf),
        ("log", 0.0, -inf),
        ("log", -0.0, -inf),
        ("log", -1.0, nan),
        ("log", inf, inf),
        ("log", 1.0, 0.0),
        ("log", -inf, nan),
        ("log1p", -1.0, -inf),
        ("log1p", -2.0, nan),
        ("log1p", -0.0, -0.0),
        ("log1p", inf, inf),
        ("sin", -0.0, -0.0),
        ("sin", inf, nan),
        ("cos", -inf, nan),
        ("cos", -0.0, 1.0),
        ("tan", -0.0, -0.0),
        ("asin", -0.0, -0.0),
        ("asin", 1.0, std::f64::consts::FRAC_PI_2),
        ("asin", 1.5, nan),
        ("acos", -1.0, std::f64::consts::PI),
        ("acos", 1.0, 0.0),
        ("acos", -1.5, nan),
        ("atan", -0.0, -0.0),
        ("atan", inf, std::f64::consts::FRAC_PI_2),
        ("atan", -inf, -std::f64::consts::FRAC_PI_2),
        ("sinh", -0.0, -0.0),
        ("sinh", -inf, -inf),
        ("cosh", -inf, inf),
        ("tanh", -0.0, -0.0),
        ("tanh", -inf, -1.0),
        ("tanh", inf, 1.0),
        ("erf", -0.0, -0.0),
        ("erf", -inf, -1.0),
        ("erf", inf, 1.0),
        ("rsqrt", 0.0, inf),
        ("rsqrt", -0.0, -inf),
        ("rsqrt", inf, 0.0),
        ("rsqrt", -1.0, nan),
    ];
    for p in [Prec::F32, Prec::F64] {
        for &(name, x, want) in table {
            let c = case(name);
            let kname = format!("sv_{name}");
            let (ptx, _) = kernel(&kname, p, c.f, MathOpts::default());
            let got = run(&ptx, &kname, p, &[x, nan], &[])[0];
            let want = match p {
                Prec::F32 => want as f32 as f64,
                Prec::F64 => want,
            };
            let ok = if want.is_nan() {
                got.is_nan()
            } else {
                got == want && got.is_sign_negative() == want.is_sign_negative()
            };
            assert!(ok, "{name}({x}) {} = {got:e}, want {want:e}", p.suffix());
        }
    }
}

/// `round` is half away from zero, exactly.
#[test]
fn round_half_away_from_zero() {
    fn r(b: &mut Builder, p: Prec, x: Reg, _o: MathOpts) -> Reg {
        round(b, p, x)
    }
    let mut xs = vec![
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        0.49999997,
        -0.49999997,
        0.0,
        -0.0,
        0.3,
        -0.3,
        1e30,
        -1e30,
        8388609.0,
        4503599627370497.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut g = Gen::new(Prec::F64, 5);
    for _ in 0..2000 {
        xs.push(g.uniform(-100.0, 100.0));
        xs.push(g.rng.i32(-1000..1000) as f64 + 0.5);
    }
    for p in [Prec::F32, Prec::F64] {
        let (ptx, n) = kernel("t_round", p, Routine::U(r), MathOpts::default());
        let xs = round_all(p, xs.clone());
        let got = run(&ptx, "t_round", p, &xs, &[]);
        for (x, g) in xs.iter().zip(&got) {
            let want = x.round();
            assert!(
                (want.is_nan() && g.is_nan())
                    || (*g == want && g.is_sign_negative() == want.is_sign_negative()),
                "round({x}) = {g}, want {want}"
            );
        }
        assert!(n <= 8, "{n} instructions");
    }
}

/// Fast mode: the `.approx` forms are emitted and (as simulated, i.e.
/// correctly rounded) give plausible values; the real hardware error is
/// NVIDIA's (see the module docs).
#[test]
fn fast_mode_f32() {
    let o = MathOpts { fast: true };
    for (name, want_inst) in [
        ("exp", "ex2.approx.ftz.f32"),
        ("log", "lg2.approx.ftz.f32"),
        ("sin", "sin.approx.ftz.f32"),
        ("cos", "cos.approx.ftz.f32"),
        ("powf", "lg2.approx.ftz.f32"),
        ("rsqrt", "rsqrt.approx.f32"),
    ] {
        let c = case(name);
        let kname = format!("fast_{name}");
        let (ptx, _) = kernel(&kname, Prec::F32, c.f, o);
        assert!(ptx.contains(want_inst), "{name}: no {want_inst}");
        let (ptx64, _) = kernel(&kname, Prec::F64, c.f, o);
        assert!(!ptx64.contains(".approx"), "{name}: f64 must ignore fast");
        let (xs, ys) = args_for(name, Prec::F32, 2000, 3);
        let (xs, ys) = (round_all(Prec::F32, xs), round_all(Prec::F32, ys));
        let got = run(&ptx, &kname, Prec::F32, &xs, &ys);
        for i in 0..xs.len() {
            let y = if ys.is_empty() { 0.0 } else { ys[i] };
            let want = reference(name, xs[i], y) as f32 as f64;
            let g = got[i];
            // loose plausibility: relative 1e-4, or absolute 1e-5 (sin/cos,
            // log near 1), or ftz / special mismatches at the extremes.
            let tiny = want.abs() < 1e-30 || xs[i].abs() < 1e-30 || xs[i].abs() > 1e4;
            let ok = (want.is_nan() && g.is_nan())
                || g == want
                || (g - want).abs() <= 1e-4 * want.abs().max(1e-1)
                || tiny
                || !want.is_finite();
            assert!(ok, "fast {name}({}, {y}) = {g}, want {want}", xs[i]);
        }
    }
}

/// Every routine's kernel assembles with ptxas for sm_80 and sm_90 (when
/// ptxas is installed); prints registers and instruction counts.
#[test]
fn ptxas_assembles_every_routine() {
    let Some(ptxas) = keops_ptx_sim::ptxas::find_or_skip("ptxas check of the device math") else {
        return;
    };
    for c in cases() {
        for p in [Prec::F32, Prec::F64] {
            for fast in [false, true] {
                let kname = format!("asm_{}_{}", c.name, p.suffix());
                let (ptx, count) = kernel(&kname, p, c.f, MathOpts { fast });
                for arch in ["sm_80", "sm_90"] {
                    let rep = keops_ptx_sim::ptxas::assemble(&ptxas, &ptx, arch)
                        .unwrap_or_else(|e| panic!("{kname} {arch}: {e}\n{ptx}"));
                    assert!(!rep.has_warnings(), "{kname}: {}", rep.log);
                    if arch == "sm_80" {
                        let k = rep.kernel(&kname).unwrap();
                        println!(
                            "{:6} {} {}: {count} PTX instructions, {} registers, {} B spills",
                            c.name,
                            p.suffix(),
                            if fast { "fast" } else { "accurate" },
                            k.registers,
                            k.spill_stores
                        );
                    }
                }
            }
        }
    }
}

/// Per-function accuracy of both modes on the ranges of the documentation
/// (`math` module docs, "Fast mode"; `benches/RESULTS.md`): max error in
/// f32 ulp of the result (results below 2^-126 left out: `.ftz`) or
/// absolute, through the simulator. The simulator computes `ex2`, `lg2`,
/// `sin`, `cos`, `rsqrt` `.approx` correctly rounded, so the fast figures
/// are the error of the rest of the routine; NVIDIA's bounds for those
/// instructions come on top on the hardware. Asserts the documented
/// fast-mode figures (with their margin); prints the table.
#[test]
fn fast_mode_accuracy_by_range() {
    let pi = std::f64::consts::PI;
    // (routine, x range, y range (binary), log-uniform x, metric "ulp" | "abs", fast bound)
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, (f64, f64), (f64, f64), bool, &str, f64)> = vec![
        ("exp", (-1.0, 1.0), (0.0, 0.0), false, "ulp", 1.5),
        ("exp", (-10.0, 10.0), (0.0, 0.0), false, "ulp", 8.0),
        ("exp", (-87.3, 88.7), (0.0, 0.0), false, "ulp", 64.0),
        ("log", (0.5, 2.0), (0.0, 0.0), false, "abs", 2f64.powi(-22)),
        ("log", (1e-30, 1e30), (0.0, 0.0), true, "ulp", 2.0),
        ("sin", (-pi, pi), (0.0, 0.0), false, "abs", 2f64.powi(-23)),
        (
            "sin",
            (-100.0, 100.0),
            (0.0, 0.0),
            false,
            "abs",
            2f64.powi(-20),
        ),
        ("cos", (-pi, pi), (0.0, 0.0), false, "abs", 2f64.powi(-23)),
        (
            "cos",
            (-100.0, 100.0),
            (0.0, 0.0),
            false,
            "abs",
            2f64.powi(-20),
        ),
        ("powf", (0.1, 10.0), (-10.0, 10.0), false, "ulp", 64.0),
        ("rsqrt", (1e-30, 1e30), (0.0, 0.0), true, "ulp", 1.0),
    ];
    let mut rng = fastrand::Rng::with_seed(17);
    println!("routine range | metric | accurate | fast (exact .approx)");
    for (name, (xlo, xhi), (ylo, yhi), logu, metric, bound) in rows {
        let c = case(name);
        let n = 20_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| {
                let t = rng.f64();
                let v = if logu {
                    (xlo.ln() + (xhi.ln() - xlo.ln()) * t).exp()
                } else {
                    xlo + (xhi - xlo) * t
                };
                v as f32 as f64
            })
            .collect();
        let ys: Vec<f64> = if matches!(c.f, Routine::B(_)) {
            (0..n)
                .map(|_| (ylo + (yhi - ylo) * rng.f64()) as f32 as f64)
                .collect()
        } else {
            Vec::new()
        };
        let mut figs = Vec::new();
        for fast in [false, true] {
            let kname = format!("acc_{name}_{fast}");
            let (ptx, _) = kernel(&kname, Prec::F32, c.f, MathOpts { fast });
            let got = run(&ptx, &kname, Prec::F32, &xs, &ys);
            let mut worst: f64 = 0.0;
            for i in 0..n {
                let y = if ys.is_empty() { 0.0 } else { ys[i] };
                let want = reference(name, xs[i], y);
                let e = if metric == "abs" {
                    (got[i] - want).abs()
                } else {
                    if want.abs() < f32::MIN_POSITIVE as f64 || want.abs() > f32::MAX as f64 {
                        continue;
                    }
                    (got[i] - want).abs() / ulp(Prec::F32, want)
                };
                worst = worst.max(e);
            }
            figs.push(worst);
        }
        let show = |e: f64| {
            if metric == "abs" {
                format!("2^{:.1}", e.log2())
            } else {
                format!("{e:.2}")
            }
        };
        println!(
            "{name} [{xlo:e}, {xhi:e}]{} | {metric} | {} | {}",
            if ys.is_empty() {
                String::new()
            } else {
                format!(" y [{ylo}, {yhi}]")
            },
            show(figs[0]),
            show(figs[1])
        );
        assert!(
            figs[1] <= bound,
            "fast {name} on [{xlo}, {xhi}]: {} > {bound}",
            figs[1]
        );
    }
}
