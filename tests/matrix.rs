//! Symbolic matrices (`keops!` formulas without a reduction): products with
//! right-hand sides of run-time width, transposes, solves and gradients,
//! on the CPU and through the PTX simulator, against dense f64 references
//! computed by plain loops, a dense solve and finite differences.

use keops::matrix::{Gradient, LinearOperator, OperatorExt, SolveOptions};
use keops::ndarray::{Array1, Array2};
use keops::prelude::*;

fn rng(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed)
}

fn rand_rows(r: &mut fastrand::Rng, n: usize, d: usize, lo: f64, hi: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |_| lo + (hi - lo) * r.f64())
}

fn sqdist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// K as a dense f64 matrix, by plain loops.
fn dense(x: &Array2<f64>, y: &Array2<f64>, k: impl Fn(&[f64], &[f64]) -> f64) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), y.nrows()), |(i, j)| {
        k(x.row(i).as_slice().unwrap(), y.row(j).as_slice().unwrap())
    })
}

/// `a @ v` and the matching bound `|a| @ |v|` (per entry), by plain loops.
fn product(a: &Array2<f64>, v: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let (m, n, w) = (a.nrows(), a.ncols(), v.ncols());
    let mut p = Array2::zeros((m, w));
    let mut b = Array2::zeros((m, w));
    for i in 0..m {
        for j in 0..n {
            for c in 0..w {
                p[[i, c]] += a[[i, j]] * v[[j, c]];
                b[[i, c]] += (a[[i, j]] * v[[j, c]]).abs();
            }
        }
    }
    (p, b)
}

fn check_close(what: &str, got: &Array2<f64>, want: &Array2<f64>, bound: &Array2<f64>, rel: f64) {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
        let tol = rel * (bound[idx] + 1e-30) + 1e-300;
        assert!(
            (g - w).abs() <= tol,
            "{what}: at {idx:?} got {g}, want {w} (tolerance {tol})"
        );
    }
}

fn to32(a: &Array2<f64>) -> Array2<f32> {
    a.mapv(|x| x as f32)
}

fn to64(a: &Array2<f32>) -> Array2<f64> {
    a.mapv(|x| x as f64)
}

const SHAPES: &[(usize, usize)] = &[
    (0, 5),
    (6, 0),
    (1, 1),
    (1, 300),
    (300, 1),
    (257, 263),
    (40, 531),
];
const WIDTHS: &[usize] = &[1, 3, 16, 17, 130];

fn gauss(g: f64) -> impl Fn(&[f64], &[f64]) -> f64 {
    move |a, b| (-g * sqdist(a, b)).exp()
}

fn laplace(g: f64) -> impl Fn(&[f64], &[f64]) -> f64 {
    move |a, b| (-g * sqdist(a, b).sqrt()).exp()
}

#[test]
fn gaussian_matmul_f64_cpu() {
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(1);
    for &(m, n) in SHAPES {
        let x = rand_rows(&mut r, m, 3, -1.0, 1.0);
        let y = rand_rows(&mut r, n, 3, -1.0, 1.0);
        let kd = dense(&x, &y, gauss(0.7));
        let b = k.bind(&x, &y, &[0.7]).unwrap();
        assert_eq!(b.shape(), (m, n));
        assert_eq!(b.t().shape(), (n, m));
        for &w in WIDTHS {
            let v = rand_rows(&mut r, n, w, -1.0, 1.0);
            let (want, bound) = product(&kd, &v);
            check_close(
                &format!("K v ({m}x{n}, W={w})"),
                &b.matmul(&v).unwrap(),
                &want,
                &bound,
                1e-12,
            );
            let u = rand_rows(&mut r, m, w, -1.0, 1.0);
            let (want, bound) = product(&kd.t().to_owned(), &u);
            check_close(
                &format!("K^T u ({m}x{n}, W={w})"),
                &b.t().matmul(&u).unwrap(),
                &want,
                &bound,
                1e-12,
            );
        }
    }
}

/// A user keeps the bound matrix of a temporary parameter array (a
/// variable `g`, `&[g]` built in the call) and uses it later: the matrix
/// owns its parameters.
#[test]
fn bound_matrix_owns_its_parameters() -> keops::Result<()> {
    let k = keops!(|x: Vi<2>, y: Vj<2>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(11);
    let x = rand_rows(&mut r, 25, 2, -1.0, 1.0);
    let y = rand_rows(&mut r, 30, 2, -1.0, 1.0);
    let g = 0.9;
    let m = k.bind(&x, &y, &[g])?;
    let v = rand_rows(&mut r, 30, 3, -1.0, 1.0);
    let kv = m.matmul(&v)?;
    let (want, bound) = product(&dense(&x, &y, gauss(g)), &v);
    check_close("K v, bound with &[g]", &kv, &want, &bound, 1e-12);
    let params = vec![g];
    let kept = k.bind(x.view(), y.view(), &params)?;
    drop(params);
    check_close(
        "K v, parameters dropped",
        &kept.matmul(&v)?,
        &want,
        &bound,
        1e-12,
    );
    Ok(())
}

#[test]
fn gaussian_matmul_f32_cpu_and_options() {
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(2);
    for &(m, n) in SHAPES {
        let x = rand_rows(&mut r, m, 3, -1.0, 1.0);
        let y = rand_rows(&mut r, n, 3, -1.0, 1.0);
        let (x32, y32) = (to32(&x), to32(&y));
        let kd = dense(&to64(&x32), &to64(&y32), gauss(0.7));
        for &w in WIDTHS {
            let v32 = to32(&rand_rows(&mut r, n, w, -1.0, 1.0));
            let (want, bound) = product(&kd, &to64(&v32));
            for (name, kk) in [
                ("default", k),
                (
                    "1 thread, direct",
                    k.threads(1).sum_scheme(SumScheme::Direct),
                ),
                ("f64 accumulation", k.f64_accumulation(true)),
                ("scalar SIMD", k.simd(SimdLevel::Scalar)),
            ] {
                let b = kk.bind(&x32, &y32, &[0.7f32]).unwrap();
                let got = to64(&b.matmul(&v32).unwrap());
                check_close(
                    &format!("f32 K v {name} ({m}x{n}, W={w})"),
                    &got,
                    &want,
                    &bound,
                    2e-5,
                );
            }
        }
    }
}

#[test]
fn laplace_matmul_f64_and_f32() {
    let k = keops!(|x: Vi<2>, y: Vj<2>, g: Pm<1>| exp(-g * sqrt(sqdist(x, y))));
    let mut r = rng(3);
    let (m, n) = (129, 77);
    let x = rand_rows(&mut r, m, 2, 0.0, 2.0);
    let y = rand_rows(&mut r, n, 2, 0.0, 2.0);
    let kd = dense(&x, &y, laplace(1.3));
    let b = k.bind(&x, &y, &[1.3]).unwrap();
    let (x32, y32) = (to32(&x), to32(&y));
    let kd32 = dense(&to64(&x32), &to64(&y32), laplace(1.3));
    let b32 = k.bind(&x32, &y32, &[1.3f32]).unwrap();
    for &w in WIDTHS {
        let v = rand_rows(&mut r, n, w, -1.0, 1.0);
        let (want, bound) = product(&kd, &v);
        check_close("laplace f64", &b.matmul(&v).unwrap(), &want, &bound, 1e-12);
        let v32 = to32(&v);
        let (want, bound) = product(&kd32, &to64(&v32));
        check_close(
            "laplace f32",
            &to64(&b32.matmul(&v32).unwrap()),
            &want,
            &bound,
            2e-5,
        );
        let u = rand_rows(&mut r, m, w, -1.0, 1.0);
        let (want, bound) = product(&kd.t().to_owned(), &u);
        check_close(
            "laplace f64 K^T",
            &b.t().matmul(&u).unwrap(),
            &want,
            &bound,
            1e-12,
        );
    }
}

#[test]
fn vectors_and_spellings() {
    let k = keops!(|x: Vi<1>, y: Vj<1>| exp(-(x - y) * (x - y)));
    let mut r = rng(4);
    let x = rand_rows(&mut r, 33, 1, -2.0, 2.0);
    let y = rand_rows(&mut r, 21, 1, -2.0, 2.0);
    let kd = dense(&x, &y, gauss(1.0));
    let b = k.bind(&x, &y).unwrap();
    let v = Array1::from_shape_fn(21, |j| (j as f64).sin());
    let kv: Array1<f64> = b.matvec(&v).unwrap();
    let (want, bound) = product(&kd, &v.clone().insert_axis(keops::ndarray::Axis(1)));
    check_close(
        "matvec",
        &kv.insert_axis(keops::ndarray::Axis(1)),
        &want,
        &bound,
        1e-12,
    );
    let u = Array1::from_shape_fn(33, |i| (i as f64).cos());
    let ktu: Array1<f64> = b.rmatvec(u.view()).unwrap();
    let (want, bound) = product(
        &kd.t().to_owned(),
        &u.clone().insert_axis(keops::ndarray::Axis(1)),
    );
    check_close(
        "rmatvec",
        &ktu.insert_axis(keops::ndarray::Axis(1)),
        &want,
        &bound,
        1e-12,
    );
    // A non-contiguous right-hand side (a transposed view).
    let vt = rand_rows(&mut r, 5, 21, -1.0, 1.0);
    let (want, bound) = product(&kd, &vt.t().to_owned());
    check_close(
        "strided v",
        &b.matmul(vt.t()).unwrap(),
        &want,
        &bound,
        1e-12,
    );
    // The linear-operator trait and its combinators.
    let v2 = rand_rows(&mut r, 21, 4, -1.0, 1.0);
    let (want, _) = product(&kd, &v2);
    let got = LinearOperator::apply(&b, v2.view()).unwrap();
    check_close(
        "operator",
        &got,
        &want,
        &want.mapv(|x| x.abs() + 1.0),
        1e-12,
    );
    let bx = k.bind(&x, &x).unwrap();
    let kxx = dense(&x, &x, gauss(1.0));
    let u2 = rand_rows(&mut r, 33, 4, -1.0, 1.0);
    let op = (&bx).plus(bx.t()).shifted(0.25);
    let (p, _) = product(&(&kxx * 2.0), &u2);
    let want = &p + &(&u2 * 0.25);
    check_close(
        "2K + 0.25 I",
        &op.apply(u2.view()).unwrap(),
        &want,
        &want.mapv(|x| x.abs() + 1.0),
        1e-12,
    );
    check_close(
        "(2K + 0.25 I)^T",
        &op.apply_t(u2.view()).unwrap(),
        &want,
        &want.mapv(|x| x.abs() + 1.0),
        1e-12,
    );
}

#[test]
fn bad_shapes_are_errors() {
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let x = Array2::<f64>::zeros((10, 3));
    let y = Array2::<f64>::zeros((7, 3));
    let b = k.bind(&x, &y, &[1.0]).unwrap();
    let e = b.matmul(&Array2::<f64>::zeros((8, 2))).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { operand, .. } if operand == "v"),
        "{e}"
    );
    assert!(e.to_string().contains("7 rows"), "{e}");
    let e = b.t().matmul(&Array2::<f64>::zeros((7, 2))).unwrap_err();
    assert!(e.to_string().contains("10 rows"), "{e}");
    let e = b
        .grad_inner(&Array2::<f64>::zeros((9, 1)), &Array2::<f64>::zeros((7, 1)))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Shape { operand, .. } if operand == "u"),
        "{e}"
    );
    let e = b
        .grad_inner(
            &Array2::<f64>::zeros((10, 2)),
            &Array2::<f64>::zeros((7, 1)),
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Shape { operand, .. } if operand == "v"),
        "{e}"
    );
    // Not square: no solve.
    let e = b.solve(&Array1::<f64>::zeros(10), 1.0).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let bx = k.bind(&x, &x, &[1.0]).unwrap();
    let e = bx.solve(&Array1::<f64>::zeros(9), 1.0).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { operand, .. } if operand == "b"),
        "{e}"
    );
    // Bind-time checks name the variable.
    let e = k
        .bind(&x, &Array2::<f64>::zeros((7, 2)), &[1.0])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Columns { var, .. } if var == "y"),
        "{e}"
    );
    let e = k.bind(&x, &y, &[1.0, 2.0][..]).unwrap_err();
    assert!(
        matches!(&e, Error::ParamLength { var, .. } if var == "g"),
        "{e}"
    );
}

/// Dense solve of a symmetric positive definite system (Cholesky, f64).
fn dense_solve(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = if i == j { s.sqrt() } else { s / l[[j, j]] };
        }
    }
    let mut x = b.clone();
    for c in 0..b.ncols() {
        for i in 0..n {
            let mut s = x[[i, c]];
            for k in 0..i {
                s -= l[[i, k]] * x[[k, c]];
            }
            x[[i, c]] = s / l[[i, i]];
        }
        for i in (0..n).rev() {
            let mut s = x[[i, c]];
            for k in i + 1..n {
                s -= l[[k, i]] * x[[k, c]];
            }
            x[[i, c]] = s / l[[i, i]];
        }
    }
    x
}

#[test]
fn solve_matches_a_dense_solve() {
    let k = keops!(|x: Vi<2>, y: Vj<2>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(5);
    let n = 150;
    let x = rand_rows(&mut r, n, 2, 0.0, 1.0);
    let alpha = 0.1;
    let mut a = dense(&x, &x, gauss(2.0));
    for i in 0..n {
        a[[i, i]] += alpha;
    }
    let b = rand_rows(&mut r, n, 3, -1.0, 1.0);
    let want = dense_solve(&a, &b);
    let bound = k.bind(&x, &x, &[2.0]).unwrap();
    let s = bound
        .solve_with(
            &b,
            alpha,
            &SolveOptions {
                tol: Some(1e-10),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        s.residual <= 1e-10 && s.iterations > 0,
        "{} {}",
        s.residual,
        s.iterations
    );
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (g, w) in s.solution.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-7 * scale, "{g} vs {w}");
    }
    // One right-hand side as a vector; warm start from the solution.
    let b1 = b.column(0).to_owned();
    let s1 = bound.solve(&b1, alpha).unwrap();
    for (g, w) in s1.solution.iter().zip(want.column(0).iter()) {
        assert!((g - w).abs() <= 1e-4 * scale, "{g} vs {w}");
    }
    let warm = s
        .solution
        .column(0)
        .to_owned()
        .insert_axis(keops::ndarray::Axis(1));
    let b1m = b1.clone().insert_axis(keops::ndarray::Axis(1));
    let s2 = bound
        .solve_with(
            &b1m,
            alpha,
            &SolveOptions {
                tol: Some(1e-8),
                x0: Some(warm.view()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s2.iterations, 0);
    // f32 data: default tolerance 1e-4.
    let x32 = to32(&x);
    let b32 = to32(&b);
    let s32 = k
        .bind(&x32, &x32, &[2.0f32])
        .unwrap()
        .solve(&b32, alpha)
        .unwrap();
    assert!(s32.residual <= 1e-4);
    for (g, w) in s32.solution.iter().zip(want.iter()) {
        assert!((*g as f64 - w).abs() <= 2e-3 * scale, "{g} vs {w}");
    }
}

#[test]
fn non_convergence_is_an_error() {
    let k = keops!(|x: Vi<2>, y: Vj<2>| exp(-sqdist(x, y)));
    let mut r = rng(6);
    let x = rand_rows(&mut r, 200, 2, 0.0, 1.0);
    let b = rand_rows(&mut r, 200, 2, -1.0, 1.0);
    let bound = k.bind(&x, &x).unwrap();
    // A nearly singular system and a cap of 3 iterations.
    let e = bound
        .solve_with(
            &b,
            1e-9,
            &SolveOptions {
                tol: Some(1e-12),
                max_iter: Some(3),
                ..Default::default()
            },
        )
        .unwrap_err();
    match e {
        Error::NotConverged {
            iterations,
            residual,
            last,
            ..
        } => {
            assert!(iterations <= 3);
            assert!(residual > 1e-12);
            assert_eq!(last.dim(), (200, 2));
        }
        e => panic!("{e}"),
    }
    // f32 cannot reach 1e-12: an error, not a silent answer.
    let x32 = to32(&x);
    let e = k
        .bind(&x32, &x32)
        .unwrap()
        .solve_with(
            &to32(&b),
            0.1,
            &SolveOptions {
                tol: Some(1e-12),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::NotConverged { .. }), "{e}");
}

/// `<u, K v>` in f64 by plain loops (the finite-difference oracle).
fn inner(x: &Array2<f64>, y: &Array2<f64>, g: f64, u: &Array2<f64>, v: &Array2<f64>) -> f64 {
    let kd = dense(x, y, gauss(g));
    let (p, _) = product(&kd, v);
    p.iter().zip(u.iter()).map(|(a, b)| a * b).sum()
}

#[test]
fn gradients_match_finite_differences() {
    let k = keops!(|x: Vi<2>, y: Vj<2>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(7);
    let (m, n, g) = (13, 11, 0.8);
    let x = rand_rows(&mut r, m, 2, -1.0, 1.0);
    let y = rand_rows(&mut r, n, 2, -1.0, 1.0);
    let h = 1e-6;
    for &w in &[1usize, 3, 17] {
        let u = rand_rows(&mut r, m, w, -1.0, 1.0);
        let v = rand_rows(&mut r, n, w, -1.0, 1.0);
        for backend in [Backend::Cpu, Backend::Simulator] {
            let gs = [g];
            let b = k.backend(backend).bind(&x, &y, &gs).unwrap();
            let grads = b.grad_inner(&u, &v).unwrap();
            assert_eq!(grads.len(), 3);
            // Transposed: <v, K^T u> = <u, K v>, the same gradients.
            let grads_t = b.t().grad_inner(&v, &u).unwrap();
            for (a, c) in grads.iter().zip(&grads_t) {
                match (a, c) {
                    (Gradient::Rows(a), Gradient::Rows(c)) => {
                        assert!(a.iter().zip(c.iter()).all(|(p, q)| (p - q).abs() < 1e-10))
                    }
                    (Gradient::Param(a), Gradient::Param(c)) => {
                        assert!((a[0] - c[0]).abs() < 1e-9)
                    }
                    _ => panic!("gradient kinds differ"),
                }
            }
            let gx = grads[0].rows().unwrap();
            let gy = grads[1].rows().unwrap();
            let gg = grads[2].param().unwrap();
            for i in 0..m {
                for c in 0..2 {
                    let (mut xp, mut xm) = (x.clone(), x.clone());
                    xp[[i, c]] += h;
                    xm[[i, c]] -= h;
                    let fd = (inner(&xp, &y, g, &u, &v) - inner(&xm, &y, g, &u, &v)) / (2.0 * h);
                    assert!(
                        (gx[[i, c]] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                        "dx[{i},{c}] W={w}: {} vs {fd}",
                        gx[[i, c]]
                    );
                }
            }
            for j in 0..n {
                for c in 0..2 {
                    let (mut yp, mut ym) = (y.clone(), y.clone());
                    yp[[j, c]] += h;
                    ym[[j, c]] -= h;
                    let fd = (inner(&x, &yp, g, &u, &v) - inner(&x, &ym, g, &u, &v)) / (2.0 * h);
                    assert!(
                        (gy[[j, c]] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                        "dy[{j},{c}] W={w}: {} vs {fd}",
                        gy[[j, c]]
                    );
                }
            }
            let fd = (inner(&x, &y, g + h, &u, &v) - inner(&x, &y, g - h, &u, &v)) / (2.0 * h);
            assert!(
                (gg[0] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                "dg W={w}: {} vs {fd}",
                gg[0]
            );
        }
    }
}

#[test]
fn simulator_matches_dense() {
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let l = keops!(|x: Vi<2>, y: Vj<2>| exp(-sqrt(sqdist(x, y))));
    let mut r = rng(8);
    for &(m, n) in &[(0usize, 4usize), (1, 1), (37, 45)] {
        let x = rand_rows(&mut r, m, 3, -1.0, 1.0);
        let y = rand_rows(&mut r, n, 3, -1.0, 1.0);
        let kd = dense(&x, &y, gauss(0.6));
        let (x32, y32) = (to32(&x), to32(&y));
        let kd32 = dense(&to64(&x32), &to64(&y32), gauss(0.6));
        let b = k.backend(Backend::Simulator).bind(&x, &y, &[0.6]).unwrap();
        let b32 = k
            .backend(Backend::Simulator)
            .bind(&x32, &y32, &[0.6f32])
            .unwrap();
        for &w in &[1usize, 3, 17] {
            let v = rand_rows(&mut r, n, w, -1.0, 1.0);
            let (want, bound) = product(&kd, &v);
            check_close("sim K v", &b.matmul(&v).unwrap(), &want, &bound, 1e-12);
            let v32 = to32(&v);
            let (want, bound) = product(&kd32, &to64(&v32));
            check_close(
                "sim f32 K v",
                &to64(&b32.matmul(&v32).unwrap()),
                &want,
                &bound,
                2e-5,
            );
            let u = rand_rows(&mut r, m, w, -1.0, 1.0);
            let (want, bound) = product(&kd.t().to_owned(), &u);
            check_close(
                "sim K^T u",
                &b.t().matmul(&u).unwrap(),
                &want,
                &bound,
                1e-12,
            );
        }
        let x2 = rand_rows(&mut r, m, 2, 0.0, 2.0);
        let y2 = rand_rows(&mut r, n, 2, 0.0, 2.0);
        let ld = dense(&x2, &y2, laplace(1.0));
        let lb = l.backend(Backend::Simulator).bind(&x2, &y2).unwrap();
        let v = rand_rows(&mut r, n, 17, -1.0, 1.0);
        let (want, bound) = product(&ld, &v);
        check_close("sim laplace", &lb.matmul(&v).unwrap(), &want, &bound, 1e-12);
    }
    // A solve through the simulator.
    let x = rand_rows(&mut r, 24, 3, 0.0, 1.0);
    let mut a = dense(&x, &x, gauss(1.0));
    for i in 0..24 {
        a[[i, i]] += 0.5;
    }
    let bb = rand_rows(&mut r, 24, 2, -1.0, 1.0);
    let want = dense_solve(&a, &bb);
    let s = k
        .backend(Backend::Simulator)
        .bind(&x, &x, &[1.0])
        .unwrap()
        .solve(&bb, 0.5)
        .unwrap();
    for (g, w) in s.solution.iter().zip(want.iter()) {
        assert!((g - w).abs() < 1e-5, "{g} vs {w}");
    }
}

/// faer's conjugate gradient on a bound matrix through `FaerOp` (feature
/// `faer`: `cargo test --features faer --test matrix faer`).
#[cfg(feature = "faer")]
#[test]
fn faer_conjugate_gradient_on_a_bound_matrix() {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::matrix_free::conjugate_gradient::{
        conjugate_gradient, conjugate_gradient_scratch, CgParams,
    };
    use faer::matrix_free::{BiLinOp, IdentityPrecond, LinOp};
    use keops::matrix::faer::FaerOp;

    let k = keops!(|x: Vi<2>, y: Vj<2>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let mut r = rng(9);
    let n = 120;
    let x = rand_rows(&mut r, n, 2, 0.0, 1.0);
    let alpha = 0.2;
    let mut a = dense(&x, &x, gauss(2.0));
    for i in 0..n {
        a[[i, i]] += alpha;
    }
    let b = rand_rows(&mut r, n, 2, -1.0, 1.0);
    let want = dense_solve(&a, &b);
    let g = [2.0];
    let kxx = k.bind(&x, &x, &g).unwrap();
    let op = FaerOp(kxx.shifted(alpha));
    assert_eq!((LinOp::<f64>::nrows(&op), LinOp::<f64>::ncols(&op)), (n, n));
    let rhs = faer::Mat::<f64>::from_fn(n, 2, |i, j| b[[i, j]]);
    let mut out = faer::Mat::<f64>::zeros(n, 2);
    let precond = IdentityPrecond { dim: n };
    let params = CgParams::<f64> {
        rel_tolerance: 1e-12,
        max_iters: 500,
        ..Default::default()
    };
    let mut mem = MemBuffer::new(conjugate_gradient_scratch(precond, &op, 2, faer::Par::Seq));
    conjugate_gradient(
        out.as_mut(),
        precond,
        &op,
        rhs.as_ref(),
        params,
        |_| {},
        faer::Par::Seq,
        MemStack::new(&mut mem),
    )
    .unwrap();
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..n {
        for j in 0..2 {
            assert!(
                (out[(i, j)] - want[[i, j]]).abs() <= 1e-7 * scale,
                "{} vs {}",
                out[(i, j)],
                want[[i, j]]
            );
        }
    }
    // The transpose through BiLinOp.
    let kd = dense(&x, &x, gauss(2.0));
    let mut t = faer::Mat::<f64>::zeros(n, 2);
    let mut mem = MemBuffer::new(op.transpose_apply_scratch(2, faer::Par::Seq));
    op.transpose_apply(
        t.as_mut(),
        rhs.as_ref(),
        faer::Par::Seq,
        MemStack::new(&mut mem),
    );
    let (p, bound) = product(&kd.t().to_owned(), &b);
    for i in 0..n {
        for j in 0..2 {
            let want = p[[i, j]] + alpha * b[[i, j]];
            assert!((t[(i, j)] - want).abs() <= 1e-12 * (bound[[i, j]] + 1.0));
        }
    }
}

/// `to_dense()` materialises K: the CPU tiles (f64, f32, f64 accumulation),
/// the transpose, the simulated GPU and ranges (by products with the
/// identity), and a clear error past `MAX_DENSE` entries.
#[test]
fn to_dense_gives_the_matrix() -> keops::Result<()> {
    let mut r = rng(71);
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let (x, y) = (
        rand_rows(&mut r, 300, 3, -1.0, 1.0),
        rand_rows(&mut r, 270, 3, -1.0, 1.0),
    );
    let g = 0.7;
    let want = dense(&x, &y, gauss(g));
    let close = |got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str| {
        assert_eq!(got.dim(), want.dim(), "{what}");
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
        }
    };
    let m = k.bind(&x, &y, &[g])?;
    close(&m.to_dense()?, &want, 1e-14, "CPU");
    close(&m.t().to_dense()?, &want.t().to_owned(), 1e-14, "transpose");
    let sim = k.backend(Backend::Simulator).bind(&x, &y, &[g])?;
    close(&sim.to_dense()?, &want, 1e-14, "simulator");
    let (x32, y32) = (to32(&x), to32(&y));
    let m32 = k.bind(&x32, &y32, &[g as f32])?;
    close(&to64(&m32.to_dense()?), &want, 1e-6, "f32");
    let acc = k.f64_accumulation(true).bind(&x32, &y32, &[g as f32])?;
    let want32 = dense(&to64(&x32), &to64(&y32), gauss(f64::from(g as f32)));
    close(
        &to64(&acc.to_dense()?),
        &want32,
        1e-7,
        "f32 with f64 accumulation",
    );
    // Rows 0..150 see columns 0..100, rows 150..300 columns 100..270.
    let ranges = Ranges::new(
        &[[0, 150], [150, 300]],
        &[1, 2],
        &[[0, 100], [100, 270]],
        &[[0, 100], [100, 270]],
        &[1, 2],
        &[[0, 150], [150, 300]],
    )?;
    let masked = Array2::from_shape_fn(want.dim(), |(i, j)| {
        if (i < 150) == (j < 100) {
            want[[i, j]]
        } else {
            0.0
        }
    });
    close(
        &k.ranges(&ranges).bind(&x, &y, &[g])?.to_dense()?,
        &masked,
        1e-14,
        "ranges",
    );
    // 20000 x 10000 entries: refused before anything is computed.
    let (bx, by) = (
        Array2::<f32>::zeros((20_000, 3)),
        Array2::<f32>::zeros((10_000, 3)),
    );
    match k.bind(&bx, &by, &[1.0])?.to_dense() {
        Err(Error::TooLarge(msg)) => assert!(msg.contains("20000 x 10000"), "{msg}"),
        other => panic!("{:?}", other.map(|a| a.dim())),
    }
    Ok(())
}
