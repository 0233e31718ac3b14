//! Formulas at run time (`keops::Formula`): values and gradients against
//! the f64 reference evaluator, widths from the data, KeOps' syntax,
//! ranges, the simulated GPU, errors.

use keops::formula::{Input, Output};
use keops::prelude::*;
use keops::Real;
use keops_compiler::eval::{eval_program, RefValue};
use keops_compiler::stage::Family;

mod common;
#[path = "formula/matrix.rs"]
mod matrix;

/// The reference value of `src` (our syntax, every width resolved from
/// `inputs`' shapes) along the derivation `path`.
fn reference(src: &str, path: &[&str], inputs: &[RefValue]) -> RefValue {
    let mut def = keops_compiler::text::parse(src).expect("parses").def;
    for (p, v) in def.params.iter_mut().zip(inputs) {
        if p.width.is_some() {
            p.dim = match v {
                RefValue::Rows { cols, .. } | RefValue::IndexRows { cols, .. } => *cols as u32,
                RefValue::Vector(d) => d.len() as u32,
                RefValue::Pair(..) => unreachable!(),
            };
            p.width = None;
        }
    }
    let stage = keops_compiler::front::build_stage(&def, true).expect("builds");
    let fam = Family::new(stage, path.len() as u32);
    let prog = fam.program(path).expect("program");
    eval_program(&fam, prog, inputs).expect("reference")
}

fn ref_rows(a: &Array2<f64>) -> RefValue {
    RefValue::Rows {
        data: a.iter().copied().collect(),
        rows: a.nrows(),
        cols: a.ncols(),
    }
}

fn out_f64<T: Real>(o: Output<T>) -> common::Out {
    match o {
        Output::Rows(a) => common::Out::Rows(a.mapv(|x| x.to_f64())),
        Output::Indices(i) => common::Out::Idx(i),
        Output::Pair(a, i) => common::Out::Pair(a.mapv(|x| x.to_f64()), i),
        Output::Vector(v) => common::Out::Vector(v.mapv(|x| x.to_f64())),
    }
}

/// An input of a formula variable, in f64 and converted to `T`.
#[derive(Clone)]
enum In {
    Rows(Array2<f64>),
    Vector(Vec<f64>),
}

/// Inputs converted to `T`, kept while the `dyn Input`s of a call borrow
/// them.
struct Converted<T> {
    rows: Vec<Array2<T>>,
    vecs: Vec<Vec<T>>,
}

impl<T: Real> Converted<T> {
    fn new(ins: &[In]) -> Self {
        let rows = ins
            .iter()
            .map(|i| match i {
                In::Rows(a) => a.mapv(T::from_f64),
                In::Vector(_) => Array2::from_elem((0, 0), T::default()),
            })
            .collect();
        let vecs = ins
            .iter()
            .map(|i| match i {
                In::Vector(v) => v.iter().map(|&x| T::from_f64(x)).collect(),
                In::Rows(_) => vec![],
            })
            .collect();
        Converted { rows, vecs }
    }

    /// The inputs in order: rows, or a vector where the rows are empty.
    fn args(&self) -> Vec<&dyn Input<T>> {
        self.rows
            .iter()
            .zip(&self.vecs)
            .map(|(r, v)| {
                if v.is_empty() {
                    r as &dyn Input<T>
                } else {
                    v as &dyn Input<T>
                }
            })
            .collect()
    }
}

fn run<T: Real>(k: &Formula, ins: &[In]) -> keops::Result<Output<T>> {
    k.call(&Converted::<T>::new(ins).args())
}

fn refs(ins: &[In]) -> Vec<RefValue> {
    ins.iter()
        .map(|i| match i {
            In::Rows(a) => ref_rows(a),
            In::Vector(v) => RefValue::Vector(v.clone()),
        })
        .collect()
}

/// Inputs for the variables of `src` at `width` for every `_` or named
/// width: `Vi` m rows, `Vj` n rows.
fn inputs(src: &str, width: usize, m: usize, n: usize, rng: &mut fastrand::Rng) -> Vec<In> {
    let def = keops_compiler::text::parse(src).expect("parses").def;
    def.params
        .iter()
        .map(|p| {
            let d = if p.width.is_some() {
                width
            } else {
                p.dim as usize
            };
            match p.cat {
                keops_compiler::ir::Cat::I => In::Rows(common::rows(rng, m, d, -1.0, 1.0)),
                keops_compiler::ir::Cat::J => In::Rows(common::rows(rng, n, d, -1.0, 1.0)),
                keops_compiler::ir::Cat::P => In::Vector(common::param(rng, d, 0.2, 1.0)),
            }
        })
        .collect()
}

const FORMULAS: &[&str] = &[
    "|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
    "|x: Vi<D>, y: Vj<D>, g: Pm<1>| logsumexp_j(-g * sqdist(x, y))",
    "|x: Vi<D>, y: Vj<D>, b: Vj<_>| sum_j(exp(-norm2(x - y)) * b)",
    "|x: Vi<D>, y: Vj<D>, b: Vj<2>| sumsoftmaxweight_j(-sqdist(x, y), b)",
    "|x: Vi<D>, y: Vj<D>| min_argmin_j(sqdist(x, y))",
    "|x: Vi<D>, y: Vj<D>| argkmin_j(sqdist(x, y), 3)",
    "|x: Vi<D>, y: Vj<D>| max_i((x | y) + sum(x) * 0.5)",
    "|x: Vi<D>, y: Vj<D>| sum_j(x * y.exp() - abs(x - y) / (1 + sqnorm2(y)))",
    "|x: Vi<D>, y: Vj<3>, w: Pm<3>| sum_j(cos(x[0] * y) + sin(w * y).sum() + relu(x[1] - y[2]))",
];

#[test]
fn formulas_agree_with_the_reference_at_widths_from_the_data() {
    let mut rng = common::rng("formula", 0, 0);
    for src in FORMULAS {
        let k = Formula::new(src).expect("parses");
        for width in [2usize, 3, 7, 40] {
            for (m, n) in [(0, 5), (1, 1), (13, 37), (70, 301)] {
                let ins = inputs(src, width, m, n, &mut rng);
                let r = reference(src, &[], &refs(&ins));
                let pv = keops_ir_pair_values(src, &refs(&ins));
                let what = format!("{src} at width {width}, M = {m}, N = {n}");
                let red = red_of(src);
                let out = run::<f64>(&k, &ins).expect("f64 call");
                common::check_forward(out_f64(out), &r, &pv, red, 1e-10, &format!("{what} (f64)"));
                let out = run::<f32>(&k, &ins).expect("f32 call");
                if !matches!(
                    red,
                    keops_compiler::stage::Red::ArgKMin(_) | keops_compiler::stage::Red::MinArgMin
                ) {
                    common::check_forward(
                        out_f64(out),
                        &r,
                        &pv,
                        red,
                        2e-4,
                        &format!("{what} (f32)"),
                    );
                }
            }
        }
    }
}

fn stage_of(src: &str, ins: &[RefValue]) -> keops_compiler::stage::Stage {
    let mut def = keops_compiler::text::parse(src).expect("parses").def;
    for (p, v) in def.params.iter_mut().zip(ins) {
        if p.width.is_some() {
            p.dim = match v {
                RefValue::Rows { cols, .. } => *cols as u32,
                RefValue::Vector(d) => d.len() as u32,
                _ => unreachable!(),
            };
            p.width = None;
        }
    }
    keops_compiler::front::build_stage(&def, true).expect("builds")
}

fn keops_ir_pair_values(src: &str, ins: &[RefValue]) -> Vec<Vec<Vec<f64>>> {
    let st = stage_of(src, ins);
    let args: Vec<&RefValue> = ins.iter().collect();
    keops_compiler::eval::pair_values(&st, &args).expect("pair values")
}

fn red_of(src: &str) -> keops_compiler::stage::Red {
    let def = keops_compiler::text::parse(src).expect("parses").def;
    let mut def = def;
    for p in &mut def.params {
        if p.width.is_some() {
            p.dim = 3;
            p.width = None;
        }
    }
    keops_compiler::front::build_stage(&def, true)
        .expect("builds")
        .red
}

#[test]
fn gradients_of_any_order_agree_with_the_reference() {
    let mut rng = common::rng("formula-grad", 0, 0);
    let src = "|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";
    let k = Formula::new(src).expect("parses");
    for width in [3usize, 33] {
        let (m, n) = (11, 29);
        let mut ins = inputs(src, width, m, n, &mut rng);
        // The cotangent of the output (m x 1), then of the gradient (m x width).
        ins.push(In::Rows(common::rows(&mut rng, m, 1, -1.0, 1.0)));
        for (path, extra) in [
            (vec!["x"], 0usize),
            (vec!["y"], 0),
            (vec!["g"], 0),
            (vec!["x", "x"], 1),
        ] {
            let mut ins_p: Vec<In> = ins
                .iter()
                .map(|i| match i {
                    In::Rows(a) => In::Rows(a.clone()),
                    In::Vector(v) => In::Vector(v.clone()),
                })
                .collect();
            if extra == 1 {
                ins_p.push(In::Rows(common::rows(&mut rng, m, width, -1.0, 1.0)));
            }
            let mut g = k.clone();
            for v in &path {
                g = g.grad(v);
            }
            let r = reference(src, &path, &refs(&ins_p));
            let out = run::<f64>(&g, &ins_p).expect("gradient call");
            common::check_any(
                out_f64(out),
                &r,
                1e-10,
                &format!("{path:?} at width {width}"),
            );
        }
    }
}

#[test]
fn keops_genred_strings_agree_with_our_syntax() {
    let mut rng = common::rng("formula-genred", 0, 0);
    let (m, n) = (17, 45);
    let x = common::rows(&mut rng, m, 3, -1.0, 1.0);
    let y = common::rows(&mut rng, n, 3, -1.0, 1.0);
    let b = common::rows(&mut rng, n, 1, -1.0, 1.0);
    let p = vec![0.7];
    // pykeops' documentation: a Gaussian convolution.
    let k = Formula::genred(
        "Exp(-SqDist(x,y))*b",
        &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
        "Sum",
        1,
        None,
        None,
    )
    .expect("translates");
    let out = k
        .call(&[&x, &y, &b])
        .expect("call")
        .into_rows()
        .expect("rows");
    let ours = Formula::new("|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)")
        .expect("parses")
        .call(&[&x, &y, &b])
        .expect("call")
        .into_rows()
        .expect("rows");
    assert_eq!(out, ours);
    let r = reference(
        "|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
        &[],
        &[ref_rows(&x), ref_rows(&y), ref_rows(&b)],
    );
    common::check_any(common::Out::Rows(out), &r, 1e-12, "Gaussian");
    // pykeops' tests: inline variables, a parameter, reduction over i.
    let k = Formula::genred(
        "Square(Pm(0,1)-Vj(1,1))*Exp(Vi(2,3)+Vj(3,3))",
        &[],
        "Sum",
        0,
        None,
        None,
    )
    .expect("translates");
    let a = common::rows(&mut rng, n, 1, -1.0, 1.0);
    let out = k
        .call(&[&p, &a, &x, &y])
        .expect("call")
        .into_rows()
        .expect("rows");
    let r = reference(
        "|p: Pm<1>, a: Vj<1>, x: Vi<3>, y: Vj<3>| sum_i(square(p - a) * exp(x + y))",
        &[],
        &[
            RefValue::Vector(p.clone()),
            ref_rows(&a),
            ref_rows(&x),
            ref_rows(&y),
        ],
    );
    common::check_any(common::Out::Rows(out), &r, 1e-12, "pykeops test formula");
    // K nearest neighbours, and a weighted log-sum-exp (formula2).
    let k = Formula::genred(
        "SqDist(x,y)",
        &["x = Vi(0, 3)", "y = Vj(1, 3)"],
        "ArgKMin",
        1,
        None,
        Some(4),
    )
    .expect("translates");
    let idx = k
        .call(&[&x, &y])
        .expect("call")
        .into_indices()
        .expect("indices");
    for i in 0..m {
        let mut d: Vec<(f64, usize)> = (0..n)
            .map(|j| ((0..3).map(|c| (x[[i, c]] - y[[j, c]]).powi(2)).sum(), j))
            .collect();
        d.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let want: Vec<usize> = d[..4].iter().map(|p| p.1).collect();
        assert_eq!(idx.row(i).to_vec(), want, "row {i}");
    }
    let k = Formula::genred(
        "-SqDist(x,y)",
        &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
        "LogSumExp",
        1,
        Some("b"),
        None,
    )
    .expect("translates");
    let bp = b.mapv(|v| v.abs() + 0.1);
    let out = k
        .call(&[&x, &y, &bp])
        .expect("call")
        .into_rows()
        .expect("rows");
    for i in 0..m {
        let s: f64 = (0..n)
            .map(|j| {
                (-(0..3).map(|c| (x[[i, c]] - y[[j, c]]).powi(2)).sum::<f64>()).exp() * bp[[j, 0]]
            })
            .sum();
        assert!((out[[i, 0]] - s.ln()).abs() < 1e-12, "row {i}");
    }
}

#[test]
fn bad_formulas_and_inputs_are_errors() {
    let e = Formula::new("|x: Vi<3>, y: Vj<3>| sum_j(x * $ y)").unwrap_err();
    assert!(
        matches!(e, Error::Formula { ref at, .. } if *at == (31..32)),
        "{e}"
    );
    // Type errors of literal widths at once, of data widths at the call.
    let e = Formula::new("|x: Vi<3>, y: Vj<2>| sum_j(x - y)").unwrap_err();
    assert!(matches!(e, Error::Formula { .. }), "{e}");
    let k = Formula::new("|x: Vi<_>, y: Vj<_>| sum_j(x - y)").expect("parses");
    let x = Array2::<f64>::zeros((3, 3));
    let y = Array2::<f64>::zeros((4, 2));
    let e = k.call(&[&x, &y]).unwrap_err();
    assert!(
        matches!(e, Error::Formula { ref at, .. } if at.start >= 21),
        "{e}"
    );
    let k = Formula::new("|x: Vi<D>, y: Vj<D>| sum_j(x - y)").expect("parses");
    let e = k.call(&[&x, &y]).unwrap_err();
    assert!(
        matches!(e, Error::Widths { ref var, width: 3, ref other, other_width: 2, .. } if var == "x" && other == "y"),
        "{e}"
    );
    let e = k.call(&[&x]).unwrap_err();
    assert!(e.to_string().contains("2 inputs"), "{e}");
    let g = vec![1.0f64; 3];
    let e = k.call(&[&x, &g]).unwrap_err();
    assert!(e.to_string().contains("`y` is a `Vi`/`Vj` variable"), "{e}");
    let e = k.grad("z").call(&[&x, &x]).unwrap_err();
    assert!(
        e.to_string().contains("no gradient with respect to `z`"),
        "{e}"
    );
    let e = Formula::genred("Exp(x) $ y", &["x = Vi(1)"], "Sum", 1, None, None).unwrap_err();
    assert!(
        matches!(e, Error::Formula { ref at, .. } if *at == (7..8)),
        "{e}"
    );
}

#[test]
fn ranges_and_the_simulated_gpu_give_the_dense_results() {
    let mut rng = common::rng("formula-ranges", 0, 0);
    let src = "|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)";
    let (m, n) = (40, 90);
    let x = common::rows(&mut rng, m, 5, -1.0, 1.0);
    let y = common::rows(&mut rng, n, 5, -1.0, 1.0);
    let b = common::rows(&mut rng, n, 1, -1.0, 1.0);
    let k = Formula::new(src).expect("parses");
    let dense = k
        .call(&[&x, &y, &b])
        .expect("dense")
        .into_rows()
        .expect("rows");
    // Rows 0..20 against columns 0..50, rows 20..40 against 30..90 (and
    // the same blocks seen from the columns).
    let r = Ranges::new(
        &[[0, 20], [20, 40]],
        &[1, 2],
        &[[0, 50], [30, 90]],
        &[[0, 30], [30, 50], [50, 90]],
        &[1, 3, 4],
        &[[0, 20], [0, 20], [20, 40], [20, 40]],
    )
    .expect("ranges");
    let ranged = k
        .clone()
        .ranges(&r)
        .call(&[&x, &y, &b])
        .expect("ranged")
        .into_rows()
        .expect("rows");
    for i in 0..m {
        let cols = if i < 20 { 0..50 } else { 30..90 };
        let want: f64 = cols
            .map(|j| {
                (-(0..5).map(|c| (x[[i, c]] - y[[j, c]]).powi(2)).sum::<f64>()).exp() * b[[j, 0]]
            })
            .sum();
        assert!(
            (ranged[[i, 0]] - want).abs() < 1e-12 * (1.0 + want.abs()),
            "row {i}"
        );
    }
    let sim = k
        .backend(Backend::Simulator)
        .call(&[&x, &y, &b])
        .expect("simulator")
        .into_rows()
        .expect("rows");
    for (a, d) in sim.iter().zip(&dense) {
        assert!((a - d).abs() < 1e-12 * (1.0 + d.abs()), "{a} vs {d}");
    }
}

/// Random strings and mutated KeOps formulas through both parsers and a
/// call: an `Err` or a result, never a panic.
#[test]
fn random_strings_never_panic() {
    let mut rng = fastrand::Rng::with_seed(19);
    let pieces = [
        "Exp",
        "SqDist",
        "(",
        ")",
        ",",
        "x",
        "y",
        "b",
        "+",
        "-",
        "*",
        "/",
        "|",
        "Vi(0,3)",
        "Vj(1,3)",
        "IntCst(2)",
        "Pow",
        "Sum",
        "Var(2,1,1)",
        "0.5",
        "3",
        "Elem",
        "Concat",
        "Grad",
        "e",
        "[",
        "]",
        "sum_j",
        "|x: Vi<_>, y: Vj<3>|",
        "Vi<_>",
        "_",
        "<",
        ">",
        "$",
        "é",
    ];
    let x = Array2::<f64>::from_elem((3, 3), 0.25);
    let b = Array2::<f64>::ones((3, 1));
    for _ in 0..3000 {
        let len = rng.usize(0..12);
        let s: String = (0..len)
            .map(|_| pieces[rng.usize(..pieces.len())])
            .collect::<Vec<_>>()
            .join(if rng.bool() { "" } else { " " });
        if let Ok(k) = Formula::genred(
            &s,
            &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
            "Sum",
            1,
            None,
            None,
        ) {
            let _ = k.call(&[&x, &x, &b]);
        }
        let ours = format!("|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j({s})");
        if let Ok(k) = Formula::new(&ours) {
            let _ = k.call(&[&x, &x, &b]);
            let _ = k.grad("x").call(&[&x, &x, &b, &b]);
        }
        let _ = Formula::new(&s);
    }
}

/// A formula with widths from the data runs, on the GPU back ends, the PTX
/// of the same formula compiled with literal widths (so the same machine
/// code and speed per pair).
#[test]
fn widths_from_the_data_run_the_literal_kernels_ptx() {
    let x3 = Array2::<f32>::zeros((4, 3));
    let b = Array2::<f32>::zeros((4, 1));
    let x16 = Array2::<f32>::zeros((4, 16));
    let x64 = Array2::<f32>::zeros((4, 64));
    let cases: Vec<(&str, Vec<&dyn Input<f32>>, &keops_runtime::stage::StageInfo)> = vec![
        (
            "|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
            vec![&x3, &x3, &b],
            keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)).stages()[0],
        ),
        (
            "|x: Vi<_>, y: Vj<_>| logsumexp_j(-sqdist(x, y))",
            vec![&x16, &x16],
            keops!(|x: Vi<16>, y: Vj<16>| logsumexp_j(-sqdist(x, y))).stages()[0],
        ),
        (
            "|x: Vi<D>, y: Vj<D>| argkmin_j(sqdist(x, y), 5)",
            vec![&x64, &x64],
            keops!(|x: Vi<64>, y: Vj<64>| argkmin_j(sqdist(x, y), 5)).stages()[0],
        ),
    ];
    for (src, inputs, literal) in cases {
        let stages = Formula::new(src)
            .expect("parses")
            .__gpu_stages(&inputs)
            .expect("builds");
        assert_eq!(stages.len(), 1, "{src}");
        assert!(!literal.ptx_f32.is_empty(), "the macro emitted PTX");
        assert_eq!(stages[0].ptx_f32, literal.ptx_f32, "{src}: f32 PTX");
        assert_eq!(stages[0].ptx_f64, literal.ptx_f64, "{src}: f64 PTX");
        assert_eq!(stages[0].gpu_f32, literal.gpu_f32, "{src}: launch metadata");
    }
}

/// Inner products over many features (computed ahead for groups of rows
/// by the executor) on every SIMD level, in f64 and f32, over several
/// tiles and a row count that leaves a partial group, against sums
/// written out here.
#[test]
fn long_inner_products_on_every_simd_level() {
    let mut rng = common::rng("formula-long-dots", 0, 0);
    let (m, n, d) = (37, 600, 100);
    let x = common::rows(&mut rng, m, d, -0.3, 0.3);
    let y = common::rows(&mut rng, n, d, -0.3, 0.3);
    let b = common::rows(&mut rng, n, 1, -1.0, 1.0);
    let sq = |i: usize, j: usize| (0..d).map(|c| (x[[i, c]] - y[[j, c]]).powi(2)).sum::<f64>();
    let dot = |i: usize, j: usize| (0..d).map(|c| x[[i, c]] * y[[j, c]]).sum::<f64>();
    let gauss: Vec<f64> = (0..m)
        .map(|i| (0..n).map(|j| (-sq(i, j)).exp() * b[[j, 0]]).sum())
        .collect();
    let lse: Vec<f64> = (0..m)
        .map(|i| {
            let mx = (0..n).map(|j| -sq(i, j)).fold(f64::MIN, f64::max);
            mx + (0..n).map(|j| (-sq(i, j) - mx).exp()).sum::<f64>().ln()
        })
        .collect();
    let best: Vec<f64> = (0..m)
        .map(|i| (0..n).map(|j| dot(i, j)).fold(f64::MIN, f64::max))
        .collect();
    let g = Formula::new("|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)").unwrap();
    let l = Formula::new("|x: Vi<D>, y: Vj<D>| logsumexp_j(-sqdist(x, y))").unwrap();
    let p = Formula::new("|x: Vi<D>, y: Vj<D>| max_j((x | y))").unwrap();
    let (x32, y32, b32) = (
        x.mapv(|v| v as f32),
        y.mapv(|v| v as f32),
        b.mapv(|v| v as f32),
    );
    for level in common::levels() {
        for (k, want) in [(&g, &gauss), (&l, &lse), (&p, &best)] {
            let k = k.clone().simd(level);
            let with_b = k.variables().len() == 3;
            let got64 = if with_b {
                k.call(&[&x, &y, &b])
            } else {
                k.call(&[&x, &y])
            }
            .unwrap()
            .into_rows()
            .unwrap();
            let got32 = if with_b {
                k.call(&[&x32, &y32, &b32])
            } else {
                k.call(&[&x32, &y32])
            }
            .unwrap()
            .into_rows()
            .unwrap();
            let scale = want.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            for i in 0..m {
                assert!(
                    (got64[[i, 0]] - want[i]).abs() < 1e-11 * scale,
                    "{level:?} f64 row {i}: {} vs {}",
                    got64[[i, 0]],
                    want[i]
                );
                assert!(
                    (f64::from(got32[[i, 0]]) - want[i]).abs() < 2e-5 * scale,
                    "{level:?} f32 row {i}: {} vs {}",
                    got32[[i, 0]],
                    want[i]
                );
            }
        }
    }
}
