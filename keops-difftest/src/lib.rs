//! Differential random-formula testing of keops.
//!
//! `build.rs` draws formulas over the whole formula language from a seed
//! ([`generator`]; `KEOPS_DIFF_SEED`, `KEOPS_DIFF_COUNT`) and writes one test
//! function per formula into the test binaries `tests/part*.rs`. Each test
//! compiles its formula with `keops!` and hands closures calling the kernel
//! (f64 and f32, forward and gradients) to [`run`], which
//!
//! - draws inputs of sizes that are not tile multiples (and sometimes 0 or 1),
//! - runs the kernel on every SIMD level of this CPU, in f64 and f32, and
//!   (for about half of the formulas) on the PTX simulator,
//! - compares every result with [`keops_compiler::Reference`], the f64
//!   reference evaluator, on the same (for f32: rounded) data,
//! - for the gradient subset, compares every `grad_<v>()` kernel with the
//!   reference gradient program, and that program with central finite
//!   differences of the reference forward program.
//!
//! Error bounds follow `tests/common` (a sum of N terms is judged against the
//! sum of their absolute values, a selection against the value at the index
//! the kernel returned). A result outside its bound is then checked against
//! the spread of the reference over a few random relative perturbations of
//! the inputs (about 30 f32 ulp, or a few f64 ulp): a formula evaluated next
//! to a discontinuity (`floor`, `step`, comparisons, ...) or with a large
//! condition number legitimately moves that much under rounding, while a
//! wrong kernel does not land inside that envelope. Only results outside
//! both are reported, with the formula, the seed, the back end and the
//! values. In f32, the gradient entries that follow a min/max-type
//! selection between candidates tied in f32 ([`f32_selection_ties`]) are
//! not compared (the same kernels are checked strictly in f64).
//!
//! The generated tests are behind the `difftest` feature (so that
//! `cargo test --workspace` builds none of them); run them with
//! `.ci/difftest`, or
//! `KEOPS_DIFF_SEED=<seed> cargo test -p keops-difftest --features difftest`.

#![forbid(unsafe_code)]
#![allow(clippy::type_complexity)]

pub mod generator;

use keops::ndarray::{Array1, Array2};
use keops::{Backend, GpuScheme, Options, SimdLevel, SumScheme};
use keops_compiler::eval::RefValue;
use keops_compiler::ir::Cat;
use keops_compiler::stage::{Red, VarDecl};
use keops_compiler::Reference;

pub use keops::Kernel;

/// The inputs of one kernel call, in declaration order.
#[derive(Clone, Debug)]
pub struct Args<T> {
    items: Vec<Arg<T>>,
}

/// One input.
#[derive(Clone, Debug)]
pub enum Arg<T> {
    /// A `Vi` or `Vj` variable.
    Rows(Array2<T>),
    /// A `Pm` variable.
    Param(Vec<T>),
}

impl<T> Args<T> {
    /// The rows of input `k`.
    pub fn r(&self, k: usize) -> &Array2<T> {
        match &self.items[k] {
            Arg::Rows(a) => a,
            Arg::Param(_) => panic!("input {k} is a parameter"),
        }
    }
    /// The parameter vector of input `k`.
    pub fn p(&self, k: usize) -> &[T] {
        match &self.items[k] {
            Arg::Param(v) => v,
            Arg::Rows(_) => panic!("input {k} is not a parameter"),
        }
    }
}

/// A kernel output normalised to f64.
#[derive(Clone, Debug)]
pub enum Out {
    /// Real rows.
    Rows(Array2<f64>),
    /// Index rows.
    Idx(Array2<usize>),
    /// Values and indices.
    Pair(Array2<f64>, Array2<usize>),
    /// A parameter gradient.
    Vector(Array1<f64>),
}

/// Conversion of kernel outputs to [`Out`].
pub trait IntoOut {
    /// The output in f64.
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
        impl IntoOut for keops::formula::Output<$t> {
            fn into_out(self) -> Out {
                use keops::formula::Output;
                match self {
                    Output::Rows(a) => a.into_out(),
                    Output::Indices(i) => i.into_out(),
                    Output::Pair(a, i) => (a, i).into_out(),
                    Output::Vector(v) => v.into_out(),
                }
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

/// A forward kernel call.
pub type Fwd<'a, T> = &'a dyn Fn(Options, &Args<T>) -> keops::Result<Out>;
/// A gradient kernel call (inputs and the cotangent).
pub type GradFn<'a, T> = &'a dyn Fn(Options, &Args<T>, &Array2<T>) -> keops::Result<Out>;

/// A gradient kernel `grad_<var>()` of a formula.
pub struct Grad<'a> {
    /// The variable.
    pub var: &'static str,
    /// The f64 call.
    pub f64: GradFn<'a, f64>,
    /// The f32 call.
    pub f32: GradFn<'a, f32>,
}

/// One generated formula and its kernel calls.
pub struct Case<'a> {
    /// The run's seed.
    pub seed: u64,
    /// Index of the formula in the run.
    pub id: usize,
    /// The macro input (and the reference's source).
    pub src: &'static str,
    /// Range of the random inputs.
    pub range: (f64, f64),
    /// Whether to run on the PTX simulator too.
    pub sim: bool,
    /// Whether the formula has jumps (see
    /// [`generator::Formula::discontinuous`]): f32 results may then disagree
    /// on a few rows (at most [`f32_jump_allowance`]).
    pub discontinuous: bool,
    /// The forward kernel, f64.
    pub fwd64: Fwd<'a, f64>,
    /// The forward kernel, f32.
    pub fwd32: Fwd<'a, f32>,
    /// Gradient kernels to check.
    pub grads: &'a [Grad<'a>],
}

/// Relative error bounds of forward results (see `tests/common`).
const TOL64: f64 = 1e-11;
const TOL32: f64 = 5e-5;
/// Gradient kernels against the reference gradient programs (mixed bound).
const GTOL64: f64 = 1e-9;
const GTOL32: f64 = 5e-4;
/// Reference gradient programs against finite differences (mixed bound).
const FDTOL: f64 = 2e-5;
/// Relative perturbations of the inputs for the rounding envelope.
const DELTA64: f64 = 1e-13;
const DELTA32: f64 = 4e-6;
/// Perturbed evaluations per envelope.
const ENVELOPE: usize = 6;

/// The number of f32 output rows (or gradient entries) out of `n` that may
/// disagree with the reference in a formula with jumps: f32 rounding can move
/// an argument across a jump (`one_hot`, `floor`, comparisons, ...) where the
/// reference's f64 value is within rounding of the threshold, and no input
/// perturbation reproduces it when the sign of the argument is exact. A few
/// rows only: a wrong kernel (tails, blocks, a wrong instruction) disagrees
/// on many, and the f64 checks have no such allowance.
pub fn f32_jump_allowance(n: usize) -> usize {
    (n / 20).max(1)
}

/// The command that replays a run.
pub fn replay_command(seed: u64) -> String {
    format!("KEOPS_DIFF_SEED={seed} .ci/difftest")
}

/// The command that replays one formula of a run (only that formula is
/// built).
pub fn replay_one_command(seed: u64, id: usize) -> String {
    format!("KEOPS_DIFF_SEED={seed} KEOPS_DIFF_ONLY={id} .ci/difftest")
}

/// Input precision of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prec {
    F64,
    F32,
}

struct Ctx<'c> {
    case: &'c Case<'c>,
    reference: Reference,
    inputs: Vec<VarDecl>,
    failures: Vec<String>,
}

impl Ctx<'_> {
    fn fail(&mut self, msg: String) {
        if self.failures.len() < 60 {
            self.failures.push(msg);
        }
    }
}

/// Runs every check of a formula; panics with every disagreement found.
pub fn run(case: &Case<'_>) {
    let reference = Reference::parse(case.src).unwrap_or_else(|e| {
        panic!(
            "formula {} (KEOPS_DIFF_SEED={}): the reference does not parse `{}`: {e}",
            case.id, case.seed, case.src
        )
    });
    let inputs = reference
        .family
        .program(&[])
        .expect("forward program")
        .inputs
        .clone();
    let mut ctx = Ctx {
        case,
        reference,
        inputs,
        failures: Vec::new(),
    };
    let mut rng = fastrand::Rng::with_seed(generator::formula_seed(case.seed, case.id) ^ 0x5eed);
    let scheme = [SumScheme::Block, SumScheme::Direct, SumScheme::Kahan][rng.usize(..3)];
    // CPU sizes: one pair in 1..200 (no tile multiples), and sometimes an
    // empty or single-row side.
    let mut sizes = vec![(odd_size(&mut rng, 200), odd_size(&mut rng, 200))];
    if rng.f64() < 0.3 {
        let small = [(0, 7), (7, 0), (1, 1), (1, 13), (13, 1)];
        sizes.push(small[rng.usize(..small.len())]);
    }
    for &(m, n) in &sizes {
        let ins = gen_inputs(&ctx.inputs, m, n, case.range, &mut rng);
        for level in keops::simd::supported_levels() {
            let o = Options {
                simd: Some(level),
                sum_scheme: scheme,
                ..Options::DEFAULT
            };
            forward_check(
                &mut ctx,
                &ins,
                o,
                &format!("CPU {level:?} {scheme:?}"),
                m,
                n,
            );
        }
    }
    if case.sim {
        let (m, n) = (odd_size(&mut rng, 40), odd_size(&mut rng, 40));
        let ins = gen_inputs(&ctx.inputs, m, n, case.range, &mut rng);
        let o = sim_options(&mut rng, scheme);
        forward_check(&mut ctx, &ins, o, &describe(&o), m, n);
    }
    if !case.grads.is_empty() {
        let (m, n) = (1 + rng.usize(..11), 1 + rng.usize(..11));
        let ins = gen_inputs(&ctx.inputs, m, n, case.range, &mut rng);
        gradient_checks(&mut ctx, &ins, m, n, &mut rng, scheme);
    }
    if !ctx.failures.is_empty() {
        panic!(
            "formula {} disagrees with the reference (KEOPS_DIFF_SEED={}; replay: {}):\n  keops!({})\n{}",
            case.id,
            case.seed,
            replay_one_command(case.seed, case.id),
            case.src,
            ctx.failures.join("\n")
        );
    }
}

/// A size in `1..=max` that is not a multiple of 8 (nor of 16 and 256).
fn odd_size(rng: &mut fastrand::Rng, max: usize) -> usize {
    loop {
        let s = 1 + rng.usize(..max);
        if !s.is_multiple_of(8) {
            return s;
        }
    }
}

fn sim_options(rng: &mut fastrand::Rng, scheme: SumScheme) -> Options {
    let (gpu_scheme, gpu_block) = match rng.usize(..3) {
        0 => (GpuScheme::Auto, None),
        1 => (GpuScheme::OneD, Some(64)),
        _ => (GpuScheme::TwoD { chunk_len: 100 }, Some(96)),
    };
    Options {
        backend: Backend::Simulator,
        gpu_scheme,
        gpu_block,
        sum_scheme: scheme,
        ..Options::DEFAULT
    }
}

fn describe(o: &Options) -> String {
    match o.backend {
        Backend::Simulator => format!(
            "simulator {:?} block {:?} {:?}",
            o.gpu_scheme, o.gpu_block, o.sum_scheme
        ),
        _ => format!(
            "CPU {:?} {:?}",
            o.simd.unwrap_or(SimdLevel::Scalar),
            o.sum_scheme
        ),
    }
}

/// Random f64 inputs (rows of `Vi`: m, of `Vj`: n).
fn gen_inputs(
    vars: &[VarDecl],
    m: usize,
    n: usize,
    range: (f64, f64),
    rng: &mut fastrand::Rng,
) -> Vec<RefValue> {
    let mut u = || range.0 + (range.1 - range.0) * rng.f64();
    vars.iter()
        .map(|v| {
            let d = v.dim as usize;
            match v.cat {
                Cat::P => RefValue::Vector((0..d).map(|_| u()).collect()),
                c => {
                    let rows = if c == Cat::I { m } else { n };
                    RefValue::Rows {
                        data: (0..rows * d).map(|_| u()).collect(),
                        rows,
                        cols: d,
                    }
                }
            }
        })
        .collect()
}

fn map_reals(v: &RefValue, f: &mut dyn FnMut(f64) -> f64) -> RefValue {
    match v {
        RefValue::Rows { data, rows, cols } => RefValue::Rows {
            data: data.iter().map(|&x| f(x)).collect(),
            rows: *rows,
            cols: *cols,
        },
        RefValue::Vector(d) => RefValue::Vector(d.iter().map(|&x| f(x)).collect()),
        other => other.clone(),
    }
}

fn rounded(ins: &[RefValue]) -> Vec<RefValue> {
    ins.iter()
        .map(|v| map_reals(v, &mut |x| x as f32 as f64))
        .collect()
}

fn perturbed(ins: &[RefValue], delta: f64, rng: &mut fastrand::Rng) -> Vec<RefValue> {
    ins.iter()
        .map(|v| {
            map_reals(v, &mut |x| {
                x * (1.0 + delta * (2.0 * rng.f64() - 1.0)) + 0.1 * delta * (2.0 * rng.f64() - 1.0)
            })
        })
        .collect()
}

fn to_args64(ins: &[RefValue]) -> Args<f64> {
    Args {
        items: ins
            .iter()
            .map(|v| match v {
                RefValue::Rows { data, rows, cols } => {
                    Arg::Rows(Array2::from_shape_vec((*rows, *cols), data.clone()).unwrap())
                }
                RefValue::Vector(d) => Arg::Param(d.clone()),
                other => panic!("input {other:?}"),
            })
            .collect(),
    }
}

fn to_args32(ins: &[RefValue]) -> Args<f32> {
    let a = to_args64(ins);
    Args {
        items: a
            .items
            .into_iter()
            .map(|x| match x {
                Arg::Rows(r) => Arg::Rows(r.mapv(|v| v as f32)),
                Arg::Param(p) => Arg::Param(p.iter().map(|&v| v as f32).collect()),
            })
            .collect(),
    }
}

fn close(a: f64, r: f64, bound: f64) -> bool {
    if a == r {
        return true;
    }
    if r.is_nan() {
        return a.is_nan();
    }
    if r.is_infinite() || a.is_infinite() || a.is_nan() {
        return false;
    }
    (a - r).abs() <= bound
}

/// Forward kernel against the reference, in f64 and f32, with options `o`.
fn forward_check(
    ctx: &mut Ctx<'_>,
    ins64: &[RefValue],
    o: Options,
    backend: &str,
    m: usize,
    n: usize,
) {
    for prec in [Prec::F64, Prec::F32] {
        let ins = match prec {
            Prec::F64 => ins64.to_vec(),
            Prec::F32 => rounded(ins64),
        };
        let what = format!("{backend} {prec:?} (M = {m}, N = {n})");
        let out = match prec {
            Prec::F64 => (ctx.case.fwd64)(o, &to_args64(&ins)),
            Prec::F32 => (ctx.case.fwd32)(o, &to_args32(&ins)),
        };
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                ctx.fail(format!("{what}: the kernel returned an error: {e}"));
                continue;
            }
        };
        let r = match ctx.reference.forward(&ins) {
            Ok(r) => r,
            Err(e) => {
                ctx.fail(format!("{what}: the reference failed: {e}"));
                continue;
            }
        };
        let pv = ctx.reference.pair_values(&ins).expect("pair values");
        compare_forward(ctx, out, &r, &pv, &ins, prec, &what);
    }
}

/// Reference outputs for perturbed inputs (computed on demand).
struct Envelope<'r> {
    reference: &'r Reference,
    ins: &'r [RefValue],
    delta: f64,
    outs: Option<Vec<RefValue>>,
}

impl Envelope<'_> {
    fn outs(&mut self) -> &[RefValue] {
        if self.outs.is_none() {
            let mut rng = fastrand::Rng::with_seed(0x0e1e);
            let v = (0..ENVELOPE)
                .filter_map(|_| {
                    let p = perturbed(self.ins, self.delta, &mut rng);
                    self.reference.forward(&p).ok()
                })
                .collect();
            self.outs = Some(v);
        }
        self.outs.as_ref().unwrap()
    }
    /// Range of the real output entry `k` over the perturbations.
    fn range(&mut self, k: usize) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for o in self.outs() {
            let v = match o {
                RefValue::Rows { data, .. } => data[k],
                RefValue::Pair(a, _) => a.reals()[k],
                _ => continue,
            };
            lo = lo.min(v);
            hi = hi.max(v);
        }
        (lo, hi)
    }
    /// Whether some perturbation selects index `j` at entry `k`.
    fn selects(&mut self, k: usize, j: usize) -> bool {
        self.outs().iter().any(|o| match o {
            RefValue::IndexRows { data, .. } => data[k] == j,
            RefValue::Pair(_, b) => b.indices()[k] == j,
            _ => false,
        })
    }
}

fn compare_forward(
    ctx: &mut Ctx<'_>,
    out: Out,
    r: &RefValue,
    pv: &[Vec<Vec<f64>>],
    ins: &[RefValue],
    prec: Prec,
    what: &str,
) {
    let (tol, delta) = match prec {
        Prec::F64 => (TOL64, DELTA64),
        Prec::F32 => (TOL32, DELTA32),
    };
    let red = ctx.reference.reduction();
    let (vals, idxs): (Option<Array2<f64>>, Option<Array2<usize>>) = match out {
        Out::Rows(v) => (Some(v), None),
        Out::Idx(i) => (None, Some(i)),
        Out::Pair(v, i) => (Some(v), Some(i)),
        Out::Vector(_) => {
            ctx.fail(format!("{what}: a forward kernel returned a vector"));
            return;
        }
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
    let ref_cols = match r {
        RefValue::Rows { cols, .. } | RefValue::IndexRows { cols, .. } => *cols,
        RefValue::Pair(a, _) => match &**a {
            RefValue::Rows { cols, .. } => *cols,
            _ => 0,
        },
        _ => 0,
    };
    if cols != ref_cols {
        ctx.fail(format!("{what}: {cols} columns, reference {ref_cols}"));
        return;
    }
    let fdim = if m > 0 && !pv[0].is_empty() {
        pv[0][0].len()
    } else {
        1
    };
    let mut env = Envelope {
        reference: &ctx.reference,
        ins,
        delta,
        outs: None,
    };
    let mut failures = Vec::new();
    let mut bad_rows: Vec<usize> = Vec::new();
    if let Some(v) = &vals {
        if v.nrows() != m {
            failures.push(format!("{what}: {} rows, reference {m}", v.nrows()));
        } else {
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
                    if close(a, rr, bound) {
                        continue;
                    }
                    let (lo, hi) = env.range(o * cols + c);
                    let (lo, hi) = (lo.min(rr), hi.max(rr));
                    if a.is_finite() && a >= lo - bound && a <= hi + bound {
                        continue;
                    }
                    bad_rows.push(o);
                    failures.push(format!(
                        "{what}: row {o}, column {c}: got {a:e}, reference {rr:e} (allowed error {bound:e}; perturbed reference in [{lo:e}, {hi:e}])"
                    ));
                }
            }
        }
    }
    if let Some(ix) = &idxs {
        if ix.nrows() != m {
            failures.push(format!("{what}: {} index rows, reference {m}", ix.nrows()));
        } else {
            let ri = ri.expect("reference indices");
            for o in 0..m {
                for c in 0..cols {
                    let j = ix[[o, c]];
                    let rj = ri[o * cols + c];
                    if j == rj {
                        continue;
                    }
                    let d = c % fdim;
                    let ok = if j == usize::MAX || rj == usize::MAX || j >= pv[o].len() {
                        false
                    } else {
                        let (fj, fr) = (pv[o][j][d], pv[o][rj][d]);
                        let n = pv[o].len().max(1) as f64;
                        let mean = pv[o]
                            .iter()
                            .map(|f| f[d].abs())
                            .filter(|v| v.is_finite())
                            .sum::<f64>()
                            / n;
                        let bound = tol * fr.abs().max(mean).max(1e-300);
                        (fj - fr).abs() <= bound
                    };
                    if ok || env.selects(o * cols + c, j) {
                        continue;
                    }
                    bad_rows.push(o);
                    let vj = pv[o].get(j).map_or(f64::NAN, |f| f[d]);
                    let vr = pv[o].get(rj).map_or(f64::NAN, |f| f[d]);
                    failures.push(format!(
                        "{what}: row {o}, column {c}: index {j} (value {vj:e}) vs reference {rj} (value {vr:e})"
                    ));
                }
                if let Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) = red {
                    for d in 0..fdim {
                        let mut seen: Vec<usize> = (0..k as usize)
                            .map(|r| ix[[o, r * fdim + d]])
                            .filter(|&j| j != usize::MAX)
                            .collect();
                        let len = seen.len();
                        seen.sort();
                        seen.dedup();
                        if seen.len() != len {
                            bad_rows.push(o);
                            failures
                                .push(format!("{what}: row {o}, component {d}: repeated indices"));
                        }
                    }
                }
            }
        }
    }
    if prec == Prec::F32 && ctx.case.discontinuous && !failures.is_empty() {
        bad_rows.sort_unstable();
        bad_rows.dedup();
        if bad_rows.len() <= f32_jump_allowance(m) {
            return;
        }
    }
    // The first few disagreements of this back end and precision.
    let more = failures.len().saturating_sub(3);
    for f in failures.into_iter().take(3) {
        ctx.fail(f);
    }
    if more > 0 {
        ctx.fail(format!("{what}: {more} more disagreements"));
    }
}

/// Gradient kernels against the reference gradient programs (every SIMD
/// level, and the simulator when the formula runs there), and those against
/// finite differences of the reference forward program.
fn gradient_checks(
    ctx: &mut Ctx<'_>,
    ins: &[RefValue],
    m: usize,
    n: usize,
    rng: &mut fastrand::Rng,
    scheme: SumScheme,
) {
    let fwd = match ctx.reference.forward(ins) {
        Ok(f) => f,
        Err(e) => {
            ctx.fail(format!("gradients: the reference failed: {e}"));
            return;
        }
    };
    // A random cotangent shaped like the (real) output.
    let (rows, cols) = match &fwd {
        RefValue::Rows { rows, cols, .. } => (*rows, *cols),
        RefValue::Pair(a, _) => match &**a {
            RefValue::Rows { rows, cols, .. } => (*rows, *cols),
            _ => unreachable!(),
        },
        _ => return,
    };
    let e: Vec<f64> = (0..rows * cols).map(|_| 2.0 * rng.f64() - 1.0).collect();
    let e_ref = RefValue::Rows {
        data: e.clone(),
        rows,
        cols,
    };
    let mut backends: Vec<Options> = keops::simd::supported_levels()
        .into_iter()
        .map(|level| Options {
            simd: Some(level),
            sum_scheme: scheme,
            ..Options::DEFAULT
        })
        .collect();
    if ctx.case.sim {
        backends.push(sim_options(rng, scheme));
    }
    let names: Vec<String> = ctx.inputs.iter().map(|v| v.name.clone()).collect();
    // The selections that f32 cannot decide (see `f32_selection_ties`).
    let ties = ctx
        .reference
        .pair_values(&rounded(ins))
        .map(|pv| f32_selection_ties(ctx.reference.reduction(), &pv))
        .unwrap_or_default();
    let outer = ctx.reference.family.stages[0].outer();
    for g in ctx.case.grads {
        let w = names
            .iter()
            .position(|v| v == g.var)
            .expect("gradient variable");
        for prec in [Prec::F64, Prec::F32] {
            let (ins_p, e_p) = match prec {
                Prec::F64 => (ins.to_vec(), e_ref.clone()),
                Prec::F32 => (rounded(ins), map_reals(&e_ref, &mut |x| x as f32 as f64)),
            };
            let mut all = ins_p.clone();
            all.push(e_p.clone());
            let r = match ctx.reference.eval(&[g.var], &all) {
                Ok(r) => r,
                Err(e) => {
                    ctx.fail(format!("grad_{}: the reference failed: {e}", g.var));
                    continue;
                }
            };
            let rv = r.reals().to_vec();
            let e_arr = Array2::from_shape_vec((rows, cols), e_p.reals().to_vec()).unwrap();
            for &o in &backends {
                let what = format!(
                    "grad_{} {} {prec:?} (M = {m}, N = {n})",
                    g.var,
                    describe(&o)
                );
                let got = match prec {
                    Prec::F64 => (g.f64)(o, &to_args64(&ins_p), &e_arr),
                    Prec::F32 => (g.f32)(o, &to_args32(&ins_p), &e_arr.mapv(|x| x as f32)),
                };
                let got = match got {
                    Ok(Out::Rows(a)) => a.iter().copied().collect::<Vec<f64>>(),
                    Ok(Out::Vector(v)) => v.to_vec(),
                    Ok(other) => {
                        ctx.fail(format!("{what}: unexpected output {other:?}"));
                        continue;
                    }
                    Err(e) => {
                        ctx.fail(format!("{what}: the kernel returned an error: {e}"));
                        continue;
                    }
                };
                let tol = match prec {
                    Prec::F64 => GTOL64,
                    Prec::F32 => GTOL32,
                };
                if let Some(msg) = mixed_mismatch(&got, &rv, tol) {
                    // Outside the bound: inside the spread of the reference
                    // gradient under input perturbations?
                    let delta = match prec {
                        Prec::F64 => DELTA64,
                        Prec::F32 => DELTA32,
                    };
                    let mut prng = fastrand::Rng::with_seed(0x0e1e);
                    let spread: Vec<Vec<f64>> = (0..ENVELOPE)
                        .filter_map(|_| {
                            let mut p = perturbed(&ins_p, delta, &mut prng);
                            p.push(e_p.clone());
                            ctx.reference
                                .eval(&[g.var], &p)
                                .ok()
                                .map(|v| v.reals().to_vec())
                        })
                        .collect();
                    // A gradient entry that cancels to (nearly) zero in exact
                    // arithmetic keeps rounding noise of the size of its
                    // terms, which the relative bound does not see when the
                    // whole reference gradient is (nearly) zero: in f32 (seed
                    // 1796014886, formulas 92 and 169: 1.8e-7 and 5.6e-9
                    // against 0 on every back end) and in f64 (seed
                    // 1796033666, formula 31: the gradient of
                    // `sumsoftmaxweight` with a constant weight c is
                    // `p (c - sum p c / sum p)`, 0 in exact arithmetic; AVX2's
                    // summation order leaves -1.2e-17 where the reference's
                    // rounding gives exactly 0). A few ulp of the precision,
                    // scaled like the terms (inputs and intermediate values
                    // are O(1) by construction of the generator).
                    let eps = match prec {
                        Prec::F64 => f64::EPSILON,
                        Prec::F32 => f64::from(f32::EPSILON),
                    };
                    let floor = 4.0 * eps * rv.iter().map(|x| x.abs()).fold(1.0, f64::max);
                    let outside = outside_spread(&got, &rv, &spread, tol, floor);
                    // In f32, an entry that depends on a selection between
                    // candidates tied in f32 may follow another candidate
                    // than the f64 reference: not counted.
                    let var = &ctx.inputs[w];
                    let dim = (var.dim as usize).max(1);
                    let tied = |k: usize| match var.cat {
                        _ if prec == Prec::F64 => false,
                        Cat::P => ties.outer.iter().any(|&t| t),
                        c if c == outer => ties.outer.get(k / dim).copied().unwrap_or(false),
                        _ => ties.inner.get(k / dim).copied().unwrap_or(false),
                    };
                    let bad = outside.into_iter().filter(|&k| !tied(k)).count();
                    let allowed = if prec == Prec::F32 && ctx.case.discontinuous {
                        f32_jump_allowance(got.len())
                    } else {
                        0
                    };
                    if bad > allowed {
                        ctx.fail(format!("{what}: {msg} ({bad} entries outside)"));
                    }
                }
            }
        }
        // The reference gradient program against finite differences of the
        // reference forward program (f64).
        let mut all = ins.to_vec();
        all.push(e_ref.clone());
        let Ok(r) = ctx.reference.eval(&[g.var], &all) else {
            continue;
        };
        let rv = r.reals();
        let (fd, smooth) = finite_difference(&ctx.reference, ins, w, &e, 1e-4);
        let scale = rv.iter().map(|x| x.abs()).fold(0.0, f64::max);
        for k in 0..fd.len() {
            if !smooth[k] {
                continue;
            }
            let bound = FDTOL * (fd[k].abs() + scale) + 1e-9;
            if !(rv[k] - fd[k]).abs().le(&bound) {
                ctx.fail(format!(
                    "grad_{} reference program vs finite differences (M = {m}, N = {n}): entry {k}: {:e} vs {:e} (allowed {bound:e})",
                    g.var, rv[k], fd[k]
                ));
            }
        }
    }
}

/// The first entry outside `tol * (|r| + max |r|)`, described.
fn mixed_mismatch(a: &[f64], r: &[f64], tol: f64) -> Option<String> {
    if a.len() != r.len() {
        return Some(format!("{} entries, reference {}", a.len(), r.len()));
    }
    let scale = r.iter().map(|x| x.abs()).fold(0.0, f64::max);
    for (k, (&x, &y)) in a.iter().zip(r).enumerate() {
        let bound = tol * (y.abs() + scale) + 1e-300;
        if !close(x, y, bound) {
            return Some(format!(
                "entry {k}: got {x:e}, reference {y:e} (allowed {bound:e})"
            ));
        }
    }
    None
}

/// The entries of `a` outside the mixed bound of the range of the
/// reference values `r` and their perturbed versions (plus an absolute
/// `floor`).
fn outside_spread(a: &[f64], r: &[f64], spread: &[Vec<f64>], tol: f64, floor: f64) -> Vec<usize> {
    let scale = r.iter().map(|x| x.abs()).fold(0.0, f64::max);
    let inside = |k: usize, x: f64, y: f64| {
        let bound = tol * (y.abs() + scale) + floor + 1e-300;
        if close(x, y, bound) {
            return true;
        }
        let lo = spread.iter().map(|s| s[k]).fold(y, f64::min);
        let hi = spread.iter().map(|s| s[k]).fold(y, f64::max);
        x.is_finite() && x >= lo - bound && x <= hi + bound
    };
    a.iter()
        .zip(r)
        .enumerate()
        .filter(|&(k, (&x, &y))| !inside(k, x, y))
        .map(|(k, _)| k)
        .collect()
}

/// The selections of a min/max-type reduction that f32 cannot decide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectionTies {
    /// Per output row: some selection of the row is undecided.
    pub outer: Vec<bool>,
    /// Per reduced index: a candidate of an undecided selection.
    pub inner: Vec<bool>,
}

/// The selections of `red` (min, max, K-min and the reductions that return
/// them with their indices) that f32 cannot decide, from the f64 pair values
/// `pv[outer][inner][component]` of f32-rounded inputs: a row is undecided
/// where two candidates among its K best are within the f32 bound of the
/// forward index check (`TOL32` relative to the larger of the value and the
/// mean absolute pair value) of each other, or of the K-th best. Seed
/// 1718123457, formula 229: `min_argmin` over i of
/// `norm2(concat(small, 3.0))`, values 3 + 1e-9 to 3 + 1e-6 that are all
/// 3.0 in f32; every back end selects the first index, the f64 reference
/// the true minimum, and the gradient follows the selection: the kernel is
/// right, the gradient entries of those rows (and of the tied candidates)
/// are not comparable. Reductions that select nothing have no ties.
pub fn f32_selection_ties(red: Red, pv: &[Vec<Vec<f64>>]) -> SelectionTies {
    let (k, sign) = match red {
        Red::Min | Red::ArgMin | Red::MinArgMin => (1, 1.0),
        Red::Max | Red::ArgMax | Red::MaxArgMax => (1, -1.0),
        Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => (k as usize, 1.0),
        _ => (0, 1.0),
    };
    let inner_len = pv.iter().map(Vec::len).max().unwrap_or(0);
    let mut ties = SelectionTies {
        outer: vec![false; pv.len()],
        inner: vec![false; inner_len],
    };
    if k == 0 {
        return ties;
    }
    for (o, row) in pv.iter().enumerate() {
        let fdim = row.first().map_or(0, Vec::len);
        for d in 0..fdim {
            let vals: Vec<(usize, f64)> = row
                .iter()
                .enumerate()
                .map(|(n, f)| (n, sign * f[d]))
                .filter(|(_, v)| !v.is_nan())
                .collect();
            if vals.len() < 2 {
                continue;
            }
            let mut sorted: Vec<f64> = vals.iter().map(|&(_, v)| v).collect();
            sorted.sort_by(f64::total_cmp);
            let mean = sorted
                .iter()
                .map(|v| v.abs())
                .filter(|v| v.is_finite())
                .sum::<f64>()
                / sorted.len() as f64;
            let kth = sorted[k.min(sorted.len()) - 1];
            let bound = TOL32 * kth.abs().max(mean).max(1e-300);
            // The candidates that f32 may rank among the K best.
            let near: Vec<(usize, f64)> = vals
                .iter()
                .copied()
                .filter(|&(_, v)| v <= kth + bound)
                .collect();
            let mut nv: Vec<f64> = near.iter().map(|&(_, v)| v).collect();
            nv.sort_by(f64::total_cmp);
            if nv.windows(2).any(|w| w[1] - w[0] <= bound) {
                ties.outer[o] = true;
                for &(n, _) in &near {
                    ties.inner[n] = true;
                }
            }
        }
    }
    ties
}

/// `<e, forward(inputs)>` for the real part of a forward output.
fn dot(e: &[f64], out: &RefValue) -> f64 {
    let o = match out {
        RefValue::Rows { data, .. } => data.as_slice(),
        RefValue::Pair(a, _) => a.reals(),
        _ => panic!("no inner product with indices"),
    };
    o.iter().zip(e).map(|(a, b)| a * b).sum()
}

/// Central finite differences (Richardson-extrapolated) of
/// `x ↦ <e, forward(x)>` with respect to input `w`, and for each entry
/// whether the function looked smooth there (the estimates at steps `h` and
/// `h / 2` agree): next to a kink or a jump (`abs`, `floor`, a change of
/// the selected index, ...) finite differences say nothing.
fn finite_difference(
    reference: &Reference,
    inputs: &[RefValue],
    w: usize,
    e: &[f64],
    h: f64,
) -> (Vec<f64>, Vec<bool>) {
    let len = inputs[w].reals().len();
    let mut fd = Vec::with_capacity(len);
    let mut smooth = Vec::with_capacity(len);
    for k in 0..len {
        let at = |d: f64| -> f64 {
            let mut ins = inputs.to_vec();
            let mut idx = 0;
            ins[w] = map_reals(&inputs[w], &mut |x| {
                let r = if idx == k { x + d } else { x };
                idx += 1;
                r
            });
            match reference.forward(&ins) {
                Ok(o) => dot(e, &o),
                Err(_) => f64::NAN,
            }
        };
        let d1 = (at(h) - at(-h)) / (2.0 * h);
        let d2 = (at(h / 2.0) - at(-h / 2.0)) / h;
        let d3 = (at(h / 4.0) - at(-h / 4.0)) / (h / 2.0);
        let r1 = (4.0 * d2 - d1) / 3.0;
        let r2 = (4.0 * d3 - d2) / 3.0;
        let scale = 1.0 + d2.abs();
        fd.push(r2);
        smooth.push((r1 - r2).abs() <= 1e-6 * scale && r2.is_finite());
    }
    (fd, smooth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_ties() {
        // Row 0: 3 + 1e-9 and 3 + 1e-7 tie in f32 (candidates 0 and 1; 2 is
        // far). Row 1: a clear minimum.
        let pv = vec![
            vec![vec![3.0 + 1e-7], vec![3.0 + 1e-9], vec![4.0]],
            vec![vec![1.0], vec![2.0], vec![3.0]],
        ];
        let t = f32_selection_ties(Red::MinArgMin, &pv);
        assert_eq!(t.outer, [true, false]);
        assert_eq!(t.inner, [true, true, false]);
        // The maximum of row 0 is clear; row 1 has none tied either.
        let t = f32_selection_ties(Red::Max, &pv);
        assert_eq!(t.outer, [false, false]);
        // K = 2: in row 1, 2.0 is the second best and 3.0 is far; in row 0,
        // the two best tie with each other (their ranks swap).
        let t = f32_selection_ties(Red::KMin(2), &pv);
        assert_eq!(t.outer, [true, false]);
        // Reductions that select nothing have no ties.
        let t = f32_selection_ties(Red::Sum, &pv);
        assert_eq!(t.outer, [false, false]);
        assert_eq!(t.inner, [false, false, false]);
    }
}
