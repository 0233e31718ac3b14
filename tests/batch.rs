//! Batch dimensions: inputs of shape (batch.., rows, D) with broadcasting of
//! batch dimensions of size 1, flattened by `keops::batch::Batch` and run as
//! block-diagonal ranges; results, gradients (summed over broadcast
//! dimensions) and argmin indices compared with an f64 loop over each
//! problem, on the CPU and through the PTX simulator (CUDA device 0 too when
//! built with `--features cuda` and a device is present).

use keops::batch::Batch;
use keops::ndarray::{ArrayD, IxDyn};
use keops::prelude::*;

fn rand(r: &mut fastrand::Rng, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| r.f64() * 2.0 - 1.0)
}

/// Element `idx` (batch indices, row, column) of `a`, a batch dimension of
/// size 1 broadcasting.
fn at(a: &ArrayD<f64>, batch: &[usize], row: usize, c: usize) -> f64 {
    let mut ix: Vec<usize> = batch
        .iter()
        .zip(a.shape())
        .map(|(&b, &s)| if s == 1 { 0 } else { b })
        .collect();
    ix.extend([row, c]);
    a[IxDyn(&ix)]
}

/// The back ends every batch check runs on: the CPU, the PTX simulator,
/// and CUDA device 0 when the tests are built with `--features cuda` and
/// a device is present.
fn backends() -> Vec<(&'static str, Backend)> {
    let mut v = vec![("cpu", Backend::Cpu), ("sim", Backend::Simulator)];
    let cuda = Backend::Gpu { device: 0 };
    if cuda.is_available() {
        v.push(("cuda", cuda));
    }
    v
}

fn batches(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |k| {
                    let mut q = p.clone();
                    q.push(k);
                    q
                })
            })
            .collect();
    }
    out
}

fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let scale = want.iter().fold(1.0f64, |s, v| s.max(v.abs()));
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol * scale, "{what}: {g} vs {w}");
    }
}

#[test]
fn gaussian_sum_with_broadcasting_and_gradients() {
    for (bname, be) in backends() {
        eprintln!("back end: {bname}");
        gaussian_sum_with_broadcasting_and_gradients_on(be);
    }
}

fn gaussian_sum_with_broadcasting_and_gradients_on(be: Backend) {
    let mut r = fastrand::Rng::with_seed(11);
    let dims = [2, 3];
    let (m, n) = (37, 53);
    let x = rand(&mut r, &[2, 3, m, 3]);
    let y = rand(&mut r, &[1, 3, n, 3]); // broadcast over the first dimension
    let b = rand(&mut r, &[2, 1, n, 2]); // broadcast over the second
    let e = rand(&mut r, &[2, 3, m, 2]);
    let batch = Batch::new(&dims, m, n).unwrap();
    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<2>| sum_j(
        exp(-sqdist(x, y)) * b
    ))
    .ranges(batch.ranges())
    .backend(be);
    let (xf, yf, bf) = (
        batch.rows(x.view(), "x").unwrap(),
        batch.cols(y.view(), "y").unwrap(),
        batch.cols(b.view(), "b").unwrap(),
    );
    let ef = batch.rows(e.view(), "e").unwrap();
    let out = batch.unflatten(k.call(&xf, &yf, &bf).unwrap()).unwrap();
    let gy = batch
        .sum_to(k.grad_y().call(&xf, &yf, &bf, &ef).unwrap(), &[1, 3])
        .unwrap();
    let gb = batch
        .sum_to(k.grad_b().call(&xf, &yf, &bf, &ef).unwrap(), &[2, 1])
        .unwrap();
    let gx = batch
        .unflatten(k.grad_x().call(&xf, &yf, &bf, &ef).unwrap())
        .unwrap();
    let mut want = ArrayD::<f64>::zeros(IxDyn(&[2, 3, m, 2]));
    let mut wgx = ArrayD::<f64>::zeros(IxDyn(&[2, 3, m, 3]));
    let mut wgy = ArrayD::<f64>::zeros(IxDyn(&[1, 3, n, 3]));
    let mut wgb = ArrayD::<f64>::zeros(IxDyn(&[2, 1, n, 2]));
    for p in batches(&dims) {
        for i in 0..m {
            for j in 0..n {
                let d2: f64 = (0..3)
                    .map(|c| (at(&x, &p, i, c) - at(&y, &p, j, c)).powi(2))
                    .sum();
                let kij = (-d2).exp();
                let eb: f64 = (0..2).map(|c| at(&e, &p, i, c) * at(&b, &p, j, c)).sum();
                for c in 0..2 {
                    want[[p[0], p[1], i, c]] += kij * at(&b, &p, j, c);
                    wgb[[p[0], 0, j, c]] += kij * at(&e, &p, i, c);
                }
                for c in 0..3 {
                    let t = eb * kij * -2.0 * (at(&x, &p, i, c) - at(&y, &p, j, c));
                    wgx[[p[0], p[1], i, c]] += t;
                    wgy[[0, p[1], j, c]] -= t;
                }
            }
        }
    }
    assert_close(&out, &want, 1e-12, "sum_j");
    assert_close(&gx, &wgx, 1e-12, "grad_x");
    assert_close(
        &gy,
        &wgy,
        1e-12,
        "grad_y (summed over the broadcast dimension)",
    );
    assert_close(
        &gb,
        &wgb,
        1e-12,
        "grad_b (summed over the broadcast dimension)",
    );
    // f32.
    let x32 = batch
        .rows(x.mapv(|v| v as f32).view(), "x")
        .unwrap()
        .to_owned();
    let y32 = batch
        .cols(y.mapv(|v| v as f32).view(), "y")
        .unwrap()
        .to_owned();
    let b32 = batch
        .cols(b.mapv(|v| v as f32).view(), "b")
        .unwrap()
        .to_owned();
    let o32 = batch.unflatten(k.call(&x32, &y32, &b32).unwrap()).unwrap();
    assert_close(&o32.mapv(|v| v as f64), &want, 1e-5, "sum_j f32");
}

#[test]
fn reductions_over_i_and_argmin_per_problem() {
    for (bname, be) in backends() {
        eprintln!("back end: {bname}");
        reductions_over_i_and_argmin_per_problem_on(be);
    }
}

fn reductions_over_i_and_argmin_per_problem_on(be: Backend) {
    let mut r = fastrand::Rng::with_seed(12);
    let (nb, m, n) = (5, 40, 31);
    let x = rand(&mut r, &[nb, m, 2]);
    let y = rand(&mut r, &[nb, n, 2]);
    let batch = Batch::new(&[nb], m, n).unwrap();
    let (xf, yf) = (
        batch.rows(x.view(), "x").unwrap(),
        batch.cols(y.view(), "y").unwrap(),
    );
    let ki = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| logsumexp_i(
        -sqdist(x, y) * 3.0
    ))
    .ranges(batch.ranges())
    .backend(be);
    let ka = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argmin_j(sqdist(x, y)))
        .ranges(batch.ranges())
        .backend(be);
    let lse = batch.unflatten(ki.call(&xf, &yf).unwrap()).unwrap();
    let idx = batch.local_j_indices(ka.call(&xf, &yf).unwrap());
    for p in 0..nb {
        let d2 = |i: usize, j: usize| -> f64 {
            (0..2).map(|c| (x[[p, i, c]] - y[[p, j, c]]).powi(2)).sum()
        };
        for j in 0..n {
            let f: Vec<f64> = (0..m).map(|i| -3.0 * d2(i, j)).collect();
            let mx = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let want = mx + f.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            assert!(
                (lse[[p, j, 0]] - want).abs() < 1e-12,
                "lse problem {p} column {j}"
            );
        }
        for i in 0..m {
            let best = (0..n)
                .min_by(|&a, &b| d2(i, a).partial_cmp(&d2(i, b)).unwrap())
                .unwrap();
            assert_eq!(idx[[p * m + i, 0]], best, "argmin problem {p} row {i}");
        }
    }
}

#[test]
fn bad_batch_shapes_are_errors() {
    for (bname, be) in backends() {
        eprintln!("back end: {bname}");
        bad_batch_shapes_are_errors_on(be);
    }
}

fn bad_batch_shapes_are_errors_on(be: Backend) {
    let batch = Batch::new(&[4], 10, 12).unwrap();
    let x = ArrayD::<f64>::zeros(IxDyn(&[3, 10, 2]));
    let e = batch.rows(x.view(), "x").unwrap_err().to_string();
    assert!(e.contains("`x`") && e.contains("[3, 10, 2]"), "{e}");
    let y = ArrayD::<f64>::zeros(IxDyn(&[4, 10, 2]));
    let e = batch.cols(y.view(), "y").unwrap_err().to_string();
    assert!(e.contains("`y`"), "{e}");
    // A flattened input of the wrong number of rows is caught by the call.
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y))
        .ranges(batch.ranges())
        .backend(be);
    let xs = Array2::<f64>::zeros((40, 1));
    let ys = Array2::<f64>::zeros((50, 1));
    assert!(k.call(&xs, &ys).is_ok()); // extra j rows: in no problem
    let ys = Array2::<f64>::zeros((47, 1));
    let e = k.call(&xs, &ys).unwrap_err().to_string();
    assert!(e.contains("ends past the 47 rows"), "{e}");
}

#[test]
fn parameters_with_a_value_per_problem() {
    for (bname, be) in backends() {
        eprintln!("back end: {bname}");
        parameters_with_a_value_per_problem_on(be);
    }
}

fn parameters_with_a_value_per_problem_on(be: Backend) {
    let mut r = fastrand::Rng::with_seed(13);
    let dims = [2, 3];
    let (m, n) = (23, 41);
    let x = rand(&mut r, &[2, 3, m, 2]);
    let y = rand(&mut r, &[2, 3, n, 2]);
    // g: one scale per problem; s: one pair per first batch index (broadcast).
    let g = ArrayD::from_shape_fn(IxDyn(&[2, 3, 1]), |_| 0.5 + r.f64());
    let sh = rand(&mut r, &[2, 1, 2]);
    let e = rand(&mut r, &[2, 3, m, 1]);
    let batch = Batch::new(&dims, m, n).unwrap();
    let k = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>, g: Pm<1>, s: Pm<2>| {
        sum_j(exp(-g * sqdist(x, y)) * (s | y))
    })
    .ranges(batch.ranges())
    .backend(be);
    let (xf, yf, ef) = (
        batch.rows(x.view(), "x").unwrap(),
        batch.cols(y.view(), "y").unwrap(),
        batch.rows(e.view(), "e").unwrap(),
    );
    let (gp, sp) = (
        batch.params(g.view(), "g").unwrap(),
        batch.params(sh.view(), "s").unwrap(),
    );
    let out = batch
        .unflatten(k.call(&xf, &yf, &gp, &sp).unwrap())
        .unwrap();
    let gg = k.grad_g().call(&xf, &yf, &gp, &sp, &ef).unwrap();
    let gs = k.grad_s().call(&xf, &yf, &gp, &sp, &ef).unwrap();
    let gx = batch
        .unflatten(k.grad_x().call(&xf, &yf, &gp, &sp, &ef).unwrap())
        .unwrap();
    assert_eq!((gg.len(), gs.len()), (6, 12));
    let mut want = ArrayD::<f64>::zeros(IxDyn(&[2, 3, m, 1]));
    let mut wgx = ArrayD::<f64>::zeros(IxDyn(&[2, 3, m, 2]));
    let mut wgg = vec![0.0; 6];
    let mut wgs = [0.0; 12];
    for p in batches(&dims) {
        let pi = p[0] * 3 + p[1];
        let gv = g[[p[0], p[1], 0]];
        for i in 0..m {
            for j in 0..n {
                let d2: f64 = (0..2)
                    .map(|c| (at(&x, &p, i, c) - at(&y, &p, j, c)).powi(2))
                    .sum();
                let kij = (-gv * d2).exp();
                let sy: f64 = (0..2).map(|c| sh[[p[0], 0, c]] * at(&y, &p, j, c)).sum();
                let ei = at(&e, &p, i, 0);
                want[[p[0], p[1], i, 0]] += kij * sy;
                wgg[pi] += ei * kij * sy * -d2;
                for c in 0..2 {
                    wgs[pi * 2 + c] += ei * kij * at(&y, &p, j, c);
                    wgx[[p[0], p[1], i, c]] +=
                        ei * kij * sy * -gv * 2.0 * (at(&x, &p, i, c) - at(&y, &p, j, c));
                }
            }
        }
    }
    assert_close(&out, &want, 1e-12, "forward");
    assert_close(&gx, &wgx, 1e-12, "grad_x");
    let gg = gg.into_dyn().into_owned();
    assert_close(
        &gg,
        &ArrayD::from_shape_vec(IxDyn(&[6]), wgg).unwrap(),
        1e-12,
        "grad_g",
    );
    // The gradient for s, (2, 3, 2) per problem, summed over the broadcast
    // dimension as s has shape (2, 1, 2).
    let gs = gs
        .into_shape_with_order(IxDyn(&[2, 3, 2]))
        .unwrap()
        .sum_axis(keops::ndarray::Axis(1));
    let mut ws = ArrayD::<f64>::zeros(IxDyn(&[2, 2]));
    for (q, v) in wgs.iter().enumerate() {
        ws[[q / 6, q % 2]] += v;
    }
    assert_close(&gs, &ws, 1e-12, "grad_s");
    // The same in f32.
    let (x32, y32) = (x.mapv(|v| v as f32), y.mapv(|v| v as f32));
    let (g32, s32) = (g.mapv(|v| v as f32), sh.mapv(|v| v as f32));
    let o32 = k
        .call(
            &batch.rows(x32.view(), "x").unwrap(),
            &batch.cols(y32.view(), "y").unwrap(),
            &batch.params(g32.view(), "g").unwrap(),
            &batch.params(s32.view(), "s").unwrap(),
        )
        .unwrap();
    let o32 = batch.unflatten(o32.mapv(|v| v as f64)).unwrap();
    assert_close(&o32, &want, 1e-5, "forward f32");

    // Errors: without the batch's ranges, or on another batch.
    let e = k
        .without_ranges()
        .call(&xf, &yf, &gp, &sp)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`g` has 6 values") && e.contains("batch"), "{e}");
    let other = Batch::new(&[3], 2 * m, 2 * n).unwrap();
    let e = k
        .ranges(other.ranges())
        .call(&xf, &yf, &gp, &sp)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 problems needs 3 x 1 values, found 6"), "{e}");
}

#[test]
fn per_problem_parameters_over_i_and_over_j() {
    for (bname, be) in backends() {
        eprintln!("back end: {bname}");
        per_problem_parameters_over_i_and_over_j_on(be);
    }
}

/// A parameter with a value per problem in reductions over i and over j,
/// with problems whose rows do not align with tiles (300 j rows: more
/// than a tile of 256 in f32, 192 in f64) nor with blocks of threads.
fn per_problem_parameters_over_i_and_over_j_on(be: Backend) {
    let mut r = fastrand::Rng::with_seed(14);
    let (nb, m, n) = (3, 45, 300);
    let x = rand(&mut r, &[nb, m, 2]);
    let y = rand(&mut r, &[nb, n, 2]);
    let a = rand(&mut r, &[nb, m, 1]);
    let g = ArrayD::from_shape_fn(IxDyn(&[nb, 1]), |_| 0.5 + r.f64());
    let batch = Batch::new(&[nb], m, n).unwrap();
    let (xf, yf, af) = (
        batch.rows(x.view(), "x").unwrap(),
        batch.cols(y.view(), "y").unwrap(),
        batch.rows(a.view(), "a").unwrap(),
    );
    let gp = batch.params(g.view(), "g").unwrap();
    let ki = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, a: Vi<1>, g: Pm<1>| {
        sum_i(exp(-g * sqdist(x, y)) * a)
    })
    .ranges(batch.ranges())
    .backend(be);
    let kj = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, g: Pm<1>| logsumexp_j(
        -g * sqdist(x, y)
    ))
    .ranges(batch.ranges())
    .backend(be);
    let si = batch
        .unflatten(ki.call(&xf, &yf, &af, &gp).unwrap())
        .unwrap();
    let lj = batch.unflatten(kj.call(&xf, &yf, &gp).unwrap()).unwrap();
    let mut wsi = ArrayD::<f64>::zeros(IxDyn(&[nb, n, 1]));
    let mut wlj = ArrayD::<f64>::zeros(IxDyn(&[nb, m, 1]));
    for p in 0..nb {
        let d2 = |i: usize, j: usize| -> f64 {
            (0..2).map(|c| (x[[p, i, c]] - y[[p, j, c]]).powi(2)).sum()
        };
        let gv = g[[p, 0]];
        for j in 0..n {
            wsi[[p, j, 0]] = (0..m).map(|i| (-gv * d2(i, j)).exp() * a[[p, i, 0]]).sum();
        }
        for i in 0..m {
            let f: Vec<f64> = (0..n).map(|j| -gv * d2(i, j)).collect();
            let mx = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            wlj[[p, i, 0]] = mx + f.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
        }
    }
    assert_close(&si, &wsi, 1e-12, "sum_i");
    assert_close(&lj, &wlj, 1e-12, "logsumexp_j");
    // f32.
    let (x32, y32, a32) = (
        x.mapv(|v| v as f32),
        y.mapv(|v| v as f32),
        a.mapv(|v| v as f32),
    );
    let g32 = g.mapv(|v| v as f32);
    let gp32 = batch.params(g32.view(), "g").unwrap();
    let si32 = ki
        .call(
            &batch.rows(x32.view(), "x").unwrap(),
            &batch.cols(y32.view(), "y").unwrap(),
            &batch.rows(a32.view(), "a").unwrap(),
            &gp32,
        )
        .unwrap();
    let si32 = batch.unflatten(si32.mapv(|v| v as f64)).unwrap();
    assert_close(&si32, &wsi, 1e-5, "sum_i f32");
}
