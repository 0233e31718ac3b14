//! Symbolic matrices whose widths are read from the data: run-time
//! formulas (`Formula::bind`) and `keops!` matrices with `Vi<_>`.
//! Products, transposes, solves and gradients against dense matrices
//! built pair by pair with the f64 reference evaluator, and finite
//! differences.

// Users write `&[g]` for a parameter, as for the fixed-width matrices.
#![allow(clippy::needless_borrows_for_generic_args)]

use super::{common, inputs, Converted, In};
use keops::prelude::*;
use keops::{Real, Scalar};
use keops_compiler::eval::{eval_program, RefValue};
use keops_compiler::ir::Cat;
use keops_compiler::stage::Family;

fn one_row(a: &Array2<f64>, r: usize) -> RefValue {
    RefValue::Rows {
        data: a.row(r).to_vec(),
        rows: 1,
        cols: a.ncols(),
    }
}

/// The dense M × N matrix of formula `src` (our syntax, no reduction) on
/// `ins`, one reference evaluation per pair.
fn dense(src: &str, ins: &[In]) -> Array2<f64> {
    let mut def = keops_compiler::text::parse(src).expect("parses").def;
    let mut m = 1;
    let mut n = 1;
    for (p, a) in def.params.iter_mut().zip(ins) {
        let w = match a {
            In::Rows(r) => {
                match p.cat {
                    Cat::I => m = r.nrows(),
                    _ => n = r.nrows(),
                }
                r.ncols()
            }
            In::Vector(v) => v.len(),
        };
        p.dim = w as u32;
        p.width = None;
    }
    let stage =
        keops_compiler::front::build_stage(&keops_compiler::matrix::tile(&def, Cat::J), true)
            .expect("builds");
    let fam = Family::new(stage, 0);
    let prog = fam.program(&[]).expect("program");
    Array2::from_shape_fn((m, n), |(i, j)| {
        let inputs: Vec<RefValue> = def
            .params
            .iter()
            .zip(ins)
            .map(|(p, a)| match a {
                In::Rows(r) => one_row(r, if p.cat == Cat::I { i } else { j }),
                In::Vector(v) => RefValue::Vector(v.clone()),
            })
            .collect();
        match eval_program(&fam, prog, &inputs).expect("reference") {
            RefValue::Rows { data, .. } => data[0],
            _ => unreachable!("a sum gives rows"),
        }
    })
}

/// Binds `ins` (converted to `T`) and runs `f` on the bound matrix.
fn with_bound<T, R>(
    k: &Formula,
    ins: &[In],
    f: impl FnOnce(&keops::matrix::BoundMatrix<'_, T, keops::formula::MatrixFormula>) -> R,
) -> keops::Result<R>
where
    T: Real + Scalar<Compute = T>,
{
    let converted = Converted::<T>::new(ins);
    let m = k.bind(&converted.args())?;
    Ok(f(&m))
}

fn assert_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    let scale = want.iter().fold(1.0f64, |a, &b| a.max(b.abs()));
    for ((i, j), &w) in want.indexed_iter() {
        let g = got[[i, j]];
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}: [{i}, {j}] = {g}, want {w}"
        );
    }
}

const MATRICES: &[&str] = &[
    "|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))",
    "|x: Vi<D>, y: Vj<D>| 1 / (1 + sqdist(x, y))",
    "|x: Vi<D>, y: Vj<D>, a: Vi<1>, w: Pm<_>| a * exp(-sum(w * (x - y) * (x - y)))",
    "|x: Vi<_>, y: Vj<_>| (x | y) + 1",
    "|x: Vi<3>, y: Vj<3>, s: Pm<1>| exp(-norm2(x - y) / s)",
];

#[test]
fn run_time_matrices_agree_with_the_dense_matrix() {
    let mut rng = common::rng("formula-matrix", 0, 0);
    for src in MATRICES {
        let k = Formula::new(src).expect("parses");
        for width in [1, 3, 8] {
            let (m, n) = (37, 29);
            let ins = inputs(src, width, m, n, &mut rng);
            let kd = dense(src, &ins);
            for w in [1, 4, 19] {
                let v = common::rows(&mut rng, n, w, -1.0, 1.0);
                let u = common::rows(&mut rng, m, w, -1.0, 1.0);
                let what = format!("{src} at width {width}, W = {w}");
                let (kv, ktu) = with_bound::<f64, _>(&k, &ins, |b| {
                    assert_eq!(b.shape(), (m, n));
                    (b.matmul(&v).unwrap(), b.t().matmul(&u).unwrap())
                })
                .unwrap();
                assert_close(&kv, &kd.dot(&v), 1e-12, &what);
                assert_close(&ktu, &kd.t().dot(&u), 1e-12, &format!("{what}, transposed"));
                let kv32 = with_bound::<f32, _>(&k, &ins, |b| b.matmul(&v.mapv(|x| x as f32)))
                    .unwrap()
                    .unwrap();
                assert_close(
                    &kv32.mapv(f64::from),
                    &kd.dot(&v),
                    1e-5,
                    &format!("{what}, f32"),
                );
            }
            // A vector gives a vector.
            let b = Array1::from_shape_fn(n, |j| (j as f64 * 0.37).sin());
            let kb = with_bound::<f64, _>(&k, &ins, |bm| bm.matvec(&b).unwrap()).unwrap();
            let want = kd.dot(&b);
            for i in 0..m {
                assert!((kb[i] - want[i]).abs() < 1e-12 * (1.0 + want[i].abs()));
            }
        }
    }
}

/// `<u, K v>` on the dense reference.
fn inner(src: &str, ins: &[In], u: &Array2<f64>, v: &Array2<f64>) -> f64 {
    (u * &dense(src, ins).dot(v)).sum()
}

#[test]
fn run_time_matrix_gradients_match_finite_differences() {
    let mut rng = common::rng("formula-matrix-grad", 0, 0);
    let src = "|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))";
    let k = Formula::new(src).expect("parses");
    let (m, n) = (11, 13);
    for (width, w) in [(2, 1), (4, 3)] {
        let ins = inputs(src, width, m, n, &mut rng);
        let u = common::rows(&mut rng, m, w, -1.0, 1.0);
        let v = common::rows(&mut rng, n, w, -1.0, 1.0);
        let grads = with_bound::<f64, _>(&k, &ins, |b| b.grad_inner(&u, &v))
            .unwrap()
            .unwrap();
        assert_eq!(grads.len(), 3);
        let h = 1e-6;
        for (q, g) in grads.iter().enumerate() {
            let entries: Vec<usize> = match &ins[q] {
                In::Rows(r) => (0..r.len()).step_by(3).collect(),
                In::Vector(p) => (0..p.len()).collect(),
            };
            for e in entries {
                let bump = |d: f64| {
                    let mut b = ins.clone();
                    match &mut b[q] {
                        In::Rows(r) => {
                            let c = r.ncols();
                            r[[e / c, e % c]] += d;
                        }
                        In::Vector(p) => p[e] += d,
                    }
                    inner(src, &b, &u, &v)
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                let got = match g {
                    keops::matrix::Gradient::Rows(r) => r.as_slice().unwrap()[e],
                    keops::matrix::Gradient::Param(p) => p[e],
                };
                assert!(
                    (got - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                    "input {q} entry {e} (width {width}, W = {w}): {got} vs {fd}"
                );
            }
        }
    }
}

#[test]
fn run_time_matrices_solve() {
    let mut rng = common::rng("formula-matrix-solve", 0, 0);
    let k = Formula::new("|x: Vi<D>, y: Vj<D>, g: Pm<1>| exp(-g * sqdist(x, y))").unwrap();
    let x = common::rows(&mut rng, 80, 3, -1.0, 1.0);
    let g = vec![2.0];
    let kd = dense(
        "|x: Vi<D>, y: Vj<D>, g: Pm<1>| exp(-g * sqdist(x, y))",
        &[
            In::Rows(x.clone()),
            In::Rows(x.clone()),
            In::Vector(g.clone()),
        ],
    );
    let kxx = k.bind(&[&x, &x, &g]).unwrap();
    let b = common::rows(&mut rng, 80, 2, -1.0, 1.0);
    let alpha = 0.5;
    let opts = keops::matrix::SolveOptions {
        tol: Some(1e-10),
        ..Default::default()
    };
    let a = kxx.solve_with(&b, alpha, &opts).unwrap();
    assert!(a.residual < 1e-10);
    let lhs = &kd.dot(&a.solution) + &(&a.solution * alpha);
    assert_close(&lhs, &b, 1e-9, "solve");
}

/// A generic function over the scalar type, as a user writes one: a
/// Gaussian matrix at any width, bound to variables and used after the
/// `bind`.
fn smooth<T: Real + Scalar<Compute = T>>(
    x: &Array2<T>,
    y: &Array2<T>,
    v: &Array2<T>,
    gamma: T,
) -> keops::Result<(Array2<T>, Array2<T>)> {
    let k = keops!(|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let m = k.bind(x, y.view(), &[gamma])?;
    let kv = m.matmul(v)?;
    let u = Array2::from_elem((x.nrows(), 1), T::from_f64(1.0));
    let ktu = m.t().matmul(&u)?;
    Ok((kv, ktu))
}

#[test]
fn keops_matrices_with_widths_from_the_data() -> keops::Result<()> {
    let mut rng = common::rng("macro-data-matrix", 0, 0);
    let src = "|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))";
    for d in [1, 2, 7] {
        let x = common::rows(&mut rng, 30, d, -1.0, 1.0);
        let y = common::rows(&mut rng, 25, d, -1.0, 1.0);
        let v = common::rows(&mut rng, 25, 5, -1.0, 1.0);
        let gamma = 0.8;
        let kd = dense(
            src,
            &[
                In::Rows(x.clone()),
                In::Rows(y.clone()),
                In::Vector(vec![gamma]),
            ],
        );
        let (kv, ktu) = smooth(&x, &y, &v, gamma)?;
        assert_close(&kv, &kd.dot(&v), 1e-12, "K v");
        let ones = Array2::from_elem((30, 1), 1.0);
        assert_close(&ktu, &kd.t().dot(&ones), 1e-12, "K^T 1");
        let (kv32, _) = smooth(
            &x.mapv(|a| a as f32),
            &y.mapv(|a| a as f32),
            &v.mapv(|a| a as f32),
            0.8f32,
        )?;
        assert_close(&kv32.mapv(f64::from), &kd.dot(&v), 1e-5, "K v in f32");
    }
    // Solve and gradients, with the matrix kept and used.
    let k = keops!(|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let x = common::rows(&mut rng, 40, 4, -1.0, 1.0);
    let g = 1.5;
    let kxx = k.bind(&x, &x, &[g])?;
    let b = Array1::from_shape_fn(40, |i| (i as f64).cos());
    let a = kxx.solve(&b, 0.2)?;
    let kd = dense(
        src,
        &[
            In::Rows(x.clone()),
            In::Rows(x.clone()),
            In::Vector(vec![g]),
        ],
    );
    let lhs = &kd.dot(&a.solution) + &(&a.solution * 0.2);
    for i in 0..40 {
        assert!((lhs[i] - b[i]).abs() < 1e-6, "solve row {i}");
    }
    let u = common::rows(&mut rng, 40, 2, -1.0, 1.0);
    let w = common::rows(&mut rng, 40, 2, -1.0, 1.0);
    let grads = kxx.grad_inner(&u, &w)?;
    let f = Formula::new(src)?;
    let gv = [g];
    let want = f.bind(&[&x, &x, &gv])?.grad_inner(&u, &w)?;
    assert_eq!(grads, want);
    // Options pass through: the simulated GPU gives the same product.
    let sim = k
        .backend(Backend::Simulator)
        .bind(&x, &x, &[g])?
        .matmul(&u)?;
    assert_close(&sim, &kd.dot(&u), 1e-12, "simulator");
    Ok(())
}

#[test]
fn run_time_matrices_on_the_simulator_and_with_ranges() -> keops::Result<()> {
    let mut rng = common::rng("formula-matrix-ranges", 0, 0);
    let src = "|x: Vi<_>, y: Vj<_>| exp(-sqdist(x, y))";
    let k = Formula::new(src)?;
    let (m, n) = (40, 90);
    let x = common::rows(&mut rng, m, 5, -1.0, 1.0);
    let y = common::rows(&mut rng, n, 5, -1.0, 1.0);
    let v = common::rows(&mut rng, n, 3, -1.0, 1.0);
    let u = common::rows(&mut rng, m, 3, -1.0, 1.0);
    let kd = dense(src, &[In::Rows(x.clone()), In::Rows(y.clone())]);
    let sim = k.clone().backend(Backend::Simulator).bind(&[&x, &y])?;
    assert_close(&sim.matmul(&v)?, &kd.dot(&v), 1e-12, "simulator K v");
    assert_close(
        &sim.t().matmul(&u)?,
        &kd.t().dot(&u),
        1e-12,
        "simulator K^T u",
    );
    // Rows 0..20 against columns 0..50, rows 20..40 against 30..90.
    let r = Ranges::new(
        &[[0, 20], [20, 40]],
        &[1, 2],
        &[[0, 50], [30, 90]],
        &[[0, 30], [30, 50], [50, 90]],
        &[1, 3, 4],
        &[[0, 20], [0, 20], [20, 40], [20, 40]],
    )?;
    let masked = Array2::from_shape_fn((m, n), |(i, j)| {
        let kept = if i < 20 { j < 50 } else { j >= 30 };
        if kept {
            kd[[i, j]]
        } else {
            0.0
        }
    });
    let ranged = k.ranges(&r).bind(&[&x, &y])?;
    assert_close(&ranged.matmul(&v)?, &masked.dot(&v), 1e-12, "ranged K v");
    assert_close(
        &ranged.t().matmul(&u)?,
        &masked.t().dot(&u),
        1e-12,
        "ranged K^T u",
    );
    Ok(())
}

#[test]
fn bad_matrices_and_inputs_are_errors() {
    let x = Array2::<f64>::zeros((5, 3));
    let y = Array2::<f64>::zeros((6, 3));
    let y2 = Array2::<f64>::zeros((6, 2));
    // A value of dimension 3: known at `new` with literal widths, at
    // `bind` with widths from the data; both located in the text.
    let src = "|x: Vi<3>, y: Vj<3>| x - y";
    match Formula::new(src) {
        Err(Error::Formula { at, message }) => {
            assert_eq!(&src[at], "x - y");
            assert!(message.contains("dimension 3"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let src = "|x: Vi<_>, y: Vj<_>| x - y";
    let k = Formula::new(src).unwrap();
    match k.bind::<f64>(&[&x, &y]) {
        Err(Error::Formula { at, message }) => {
            assert_eq!(&src[at], "x - y");
            assert!(message.contains("dimension 3"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Widths that must agree.
    let k = Formula::new("|x: Vi<D>, y: Vj<D>| exp(-sqdist(x, y))").unwrap();
    assert!(matches!(
        k.bind::<f64>(&[&x, &y2]),
        Err(Error::Widths { .. })
    ));
    let k = Formula::new("|x: Vi<_>, y: Vj<_>| exp(-sqdist(x, y))").unwrap();
    assert!(matches!(
        k.bind::<f64>(&[&x, &y2]),
        Err(Error::Formula { .. })
    ));
    // `call` on a matrix, `bind` on a reduction, a wrong count.
    assert!(matches!(
        k.call::<f64>(&[&x, &y]),
        Err(Error::Unsupported(_))
    ));
    let red = Formula::new("|x: Vi<_>, y: Vj<_>| sum_j(exp(-sqdist(x, y)))").unwrap();
    assert!(matches!(
        red.bind::<f64>(&[&x, &y]),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(k.bind::<f64>(&[&x]), Err(Error::Unsupported(_))));
    // A right-hand side of the wrong height.
    let m = k.bind::<f64>(&[&x, &y]).unwrap();
    let v = Array2::<f64>::ones((5, 2));
    assert!(matches!(m.matmul(&v), Err(Error::Shape { .. })));
    // The macro: a literal width checked against the data.
    let k = keops!(|x: Vi<_>, y: Vj<_>, b: Vj<1>| exp(-sqdist(x, y)) * b);
    let b = Array2::<f64>::ones((6, 2));
    match k.bind(&x, &y, &b) {
        Err(Error::Columns {
            var,
            expected,
            found,
        }) => {
            assert_eq!((var.as_str(), expected, found), ("b", 1, 2));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_time_matrices_to_dense() -> keops::Result<()> {
    let mut rng = common::rng("formula-matrix-dense", 0, 0);
    let src = "|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))";
    let x = common::rows(&mut rng, 40, 5, -1.0, 1.0);
    let y = common::rows(&mut rng, 300, 5, -1.0, 1.0);
    let g = vec![0.9];
    let want = dense(
        src,
        &[
            In::Rows(x.clone()),
            In::Rows(y.clone()),
            In::Vector(g.clone()),
        ],
    );
    let m = Formula::new(src)?.bind(&[&x, &y, &g])?;
    assert_close(&m.to_dense()?, &want, 1e-14, "K");
    assert_close(&m.t().to_dense()?, &want.t().to_owned(), 1e-14, "K^T");
    // The macro's matrix with widths from the data, kept and used.
    let k = keops!(|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mk = k.bind(&x, &y, &[g[0]])?;
    assert_close(&mk.to_dense()?, &want, 1e-14, "keops! with Vi<_>");
    Ok(())
}
