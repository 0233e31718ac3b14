//! Widths from the program: formulas whose widths are `const` items or
//! const generic parameters, called at several widths as generic user code
//! calls them, against dense f64 references computed here and against the
//! same formulas with literal widths.
#![forbid(unsafe_code)]

use keops::prelude::*;

/// Deterministic data in [lo, hi).
fn data(rows: usize, cols: usize, seed: u64, lo: f64, hi: f64) -> Array2<f64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    Array2::from_shape_fn((rows, cols), |_| lo + (hi - lo) * rng.f64())
}

fn sqdist(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(u, v)| (u - v) * (u - v)).sum()
}

fn assert_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    for ((k, g), w) in got.indexed_iter().zip(want.iter()) {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: at {k:?} got {g}, want {w}"
        );
    }
}

/// A Gaussian kernel sum generic over the dimension, as a library would
/// write it.
fn gauss_sum<const D: usize>(
    x: &Array2<f64>,
    y: &Array2<f64>,
    b: &Array2<f64>,
    g: f64,
) -> keops::Result<Array2<f64>> {
    let k = keops!(|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    let gs = [g];
    k.call(x, y, b, &gs)
}

fn gauss_ref(x: &Array2<f64>, y: &Array2<f64>, b: &Array2<f64>, g: f64) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
        (0..y.nrows())
            .map(|j| (-g * sqdist(x.row(i), y.row(j))).exp() * b[[j, 0]])
            .sum()
    })
}

fn check_gauss<const D: usize>() {
    let (m, n) = (37, 53);
    let x = data(m, D, 1 + D as u64, -1.0, 1.0);
    let y = data(n, D, 100 + D as u64, -1.0, 1.0);
    let b = data(n, 1, 7, 0.5, 1.5);
    let got = gauss_sum::<D>(&x, &y, &b, 0.7).expect("call");
    assert_close(
        &got,
        &gauss_ref(&x, &y, &b, 0.7),
        1e-12,
        &format!("gauss D={D}"),
    );
}

#[test]
fn const_generic_gaussian_at_several_widths() {
    check_gauss::<1>();
    check_gauss::<2>();
    check_gauss::<3>();
    check_gauss::<16>();
    check_gauss::<64>();
    check_gauss::<100>();
}

/// The gradient with respect to `x` of the generic Gaussian (emitted by
/// default), against its hand-derived value `-2 g (x_i - y_j) exp(-g |x_i - y_j|^2) b_j e_i`.
fn check_gauss_grad<const D: usize>() -> keops::Result<()> {
    let k = keops!(|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| { sum_j(exp(-g * sqdist(x, y)) * b) });
    let (m, n, g) = (23, 41, 0.9);
    let x = data(m, D, 11, -1.0, 1.0);
    let y = data(n, D, 12, -1.0, 1.0);
    let b = data(n, 1, 13, -1.0, 1.0);
    let e = data(m, 1, 14, 0.5, 1.5);
    let gs = vec![g];
    let got = k.grad_x().call(&x, &y, &b, &gs, &e)?;
    let want = Array2::from_shape_fn((m, D), |(i, c)| {
        (0..n)
            .map(|j| {
                let w = (-g * sqdist(x.row(i), y.row(j))).exp() * b[[j, 0]];
                -2.0 * g * (x[[i, c]] - y[[j, c]]) * w * e[[i, 0]]
            })
            .sum()
    });
    assert_close(&got, &want, 1e-12, &format!("grad_x D={D}"));
    Ok(())
}

#[test]
fn const_generic_gradient() -> keops::Result<()> {
    check_gauss_grad::<1>()?;
    check_gauss_grad::<3>()?;
    check_gauss_grad::<20>()?;
    check_gauss_grad::<70>()
}

/// A `const` item as the width, a K-nearest-neighbour search, against a
/// brute-force sort.
#[test]
fn const_item_knn() -> keops::Result<()> {
    const DIM: usize = 5;
    let knn = keops!(|x: Vi<DIM>, y: Vj<DIM>| argkmin_j(sqdist(x, y), 4));
    let x = data(30, DIM, 21, 0.0, 1.0);
    let y = data(200, DIM, 22, 0.0, 1.0);
    let got = knn.call(&x, &y)?;
    for i in 0..x.nrows() {
        let mut d: Vec<(f64, usize)> = (0..y.nrows())
            .map(|j| (sqdist(x.row(i), y.row(j)), j))
            .collect();
        d.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let want: Vec<usize> = d[..4].iter().map(|p| p.1).collect();
        assert_eq!(got.row(i).to_vec(), want, "row {i}");
    }
    Ok(())
}

/// Two independent widths: the features' `D` and the values' `E` (a
/// kernel product `K v` with `v` of `E` columns).
fn kernel_product<const D: usize, const E: usize>(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    v: ArrayView2<'_, f32>,
) -> keops::Result<Array2<f32>> {
    let k = keops!(|x: Vi<D>, y: Vj<D>, v: Vj<E>| sum_j(exp(-sqdist(x, y)) * v));
    k.call(x, y, v)
}

fn check_product<const D: usize, const E: usize>() -> keops::Result<()> {
    let x = data(19, D, 31, -1.0, 1.0);
    let y = data(45, D, 32, -1.0, 1.0);
    let v = data(45, E, 33, -1.0, 1.0);
    let (xf, yf, vf) = (
        x.mapv(|a| a as f32),
        y.mapv(|a| a as f32),
        v.mapv(|a| a as f32),
    );
    let got = kernel_product::<D, E>(xf.view(), yf.view(), vf.view())?;
    let want = Array2::from_shape_fn((19, E), |(i, c)| {
        (0..45)
            .map(|j| (-sqdist(x.row(i), y.row(j))).exp() * v[[j, c]])
            .sum::<f64>()
    });
    assert_close(
        &got.mapv(f64::from),
        &want,
        1e-5,
        &format!("K v D={D} E={E}"),
    );
    Ok(())
}

#[test]
fn two_independent_widths() -> keops::Result<()> {
    check_product::<3, 2>()?;
    check_product::<1, 7>()?;
    check_product::<8, 1>()?;
    check_product::<40, 33>()
}

/// Named widths that the formula makes equal (`sqdist` of a `D` and an `E`
/// vector): called with equal values they work.
fn distances<const D: usize, const E: usize>(
    x: &Array2<f64>,
    y: &Array2<f64>,
) -> keops::Result<Array2<f64>> {
    let k = keops!(|x: Vi<D>, y: Vj<E>| min_j(sqdist(x, y)));
    k.call(x, y)
}

#[test]
fn widths_made_equal_by_the_formula() -> keops::Result<()> {
    let x = data(10, 4, 41, 0.0, 1.0);
    let y = data(30, 4, 42, 0.0, 1.0);
    let got = distances::<4, 4>(&x, &y)?;
    let want = Array2::from_shape_fn((10, 1), |(i, _)| {
        (0..30)
            .map(|j| sqdist(x.row(i), y.row(j)))
            .fold(f64::INFINITY, f64::min)
    });
    assert_close(&got, &want, 1e-13, "min_j sqdist");
    Ok(())
}

/// The same formula with a literal width and a named one gives the same
/// values (the generated code is the same loops), in f32.
fn logsumexp_generic<const D: usize>(
    x: &Array2<f32>,
    y: &Array2<f32>,
) -> keops::Result<Array2<f32>> {
    keops!(|x: Vi<D>, y: Vj<D>| logsumexp_j(-sqdist(x, y) * 2.0)).call(x, y)
}

#[test]
fn named_and_literal_widths_agree() -> keops::Result<()> {
    let x = data(64, 3, 51, -1.0, 1.0).mapv(|a| a as f32);
    let y = data(300, 3, 52, -1.0, 1.0).mapv(|a| a as f32);
    let named = logsumexp_generic::<3>(&x, &y)?;
    let literal = keops!(|x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y) * 2.0)).call(&x, &y)?;
    for (a, b) in named.iter().zip(literal.iter()) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    Ok(())
}

/// Inputs of the wrong width are an `Err` naming the variable.
#[test]
fn wrong_width_is_an_error() {
    let x = data(5, 3, 61, 0.0, 1.0);
    let y = data(6, 2, 62, 0.0, 1.0);
    let b = data(6, 1, 63, 0.0, 1.0);
    let err = gauss_sum::<3>(&x, &y, &b, 1.0).unwrap_err().to_string();
    assert!(
        err.contains('y') && err.contains('3') && err.contains('2'),
        "{err}"
    );
}

/// On a GPU back end (here the PTX simulator), a named-width kernel gets
/// its PTX at the widths of the call, built in-process: values and the
/// x-gradient against the CPU back end, f64 and f32, at several widths.
fn gpu_matches_cpu<const D: usize>() -> keops::Result<()> {
    let k = keops!(grad_order = 1, |x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let (m, n) = (33, 47);
    let x = data(m, D, 101, -1.0, 1.0);
    let y = data(n, D, 102, -1.0, 1.0);
    let b = data(n, 1, 103, -1.0, 1.0);
    let e = data(m, 1, 104, -1.0, 1.0);
    let g = vec![0.4];
    let sim = k.backend(keops::Backend::Simulator);
    // The PTX at this width, built in-process.
    let ptx = k.ptx();
    assert!(
        ptx.contains(".entry") && ptx.contains(".target sm_"),
        "{ptx:.200}"
    );
    let cpu = k.call(&x, &y, &b, &g)?;
    assert_close(
        &sim.call(&x, &y, &b, &g)?,
        &cpu,
        1e-12,
        &format!("sim D={D}"),
    );
    let gx = k.grad_x().call(&x, &y, &b, &g, &e)?;
    let sim_gx = sim.grad_x().call(&x, &y, &b, &g, &e)?;
    assert_close(&sim_gx, &gx, 1e-11, &format!("sim grad_x D={D}"));
    let (x32, y32, b32) = (
        x.mapv(|v| v as f32),
        y.mapv(|v| v as f32),
        b.mapv(|v| v as f32),
    );
    let got32 = sim.call(&x32, &y32, &b32, &[0.4f32])?.mapv(f64::from);
    assert_close(&got32, &cpu, 1e-4, &format!("sim f32 D={D}"));
    Ok(())
}

#[test]
fn named_widths_on_the_gpu_back_end() -> keops::Result<()> {
    gpu_matches_cpu::<1>()?;
    gpu_matches_cpu::<3>()?;
    gpu_matches_cpu::<20>()
}

/// A symbolic matrix generic over the dimension: `K v` for one and several
/// right-hand sides, the transpose and a solve, against dense products.
fn gaussian_matrix_checks<const D: usize>() -> keops::Result<()> {
    let k = keops!(|x: Vi<D>, y: Vj<D>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let (m, n) = (31, 27);
    let x = data(m, D, 71, -1.0, 1.0);
    let y = data(n, D, 72, -1.0, 1.0);
    let g = vec![0.8];
    let dense = Array2::from_shape_fn((m, n), |(i, j)| (-0.8 * sqdist(x.row(i), y.row(j))).exp());
    let kxy = k.bind(&x, &y, &g)?;
    assert_eq!(kxy.shape(), (m, n));
    for w in [1, 5, 20] {
        let v = data(n, w, 73 + w as u64, -1.0, 1.0);
        assert_close(
            &kxy.matmul(&v)?,
            &dense.dot(&v),
            1e-12,
            &format!("K v D={D} W={w}"),
        );
        let u = data(m, w, 74 + w as u64, -1.0, 1.0);
        assert_close(
            &kxy.t().matmul(&u)?,
            &dense.t().dot(&u),
            1e-12,
            &format!("K^T u D={D} W={w}"),
        );
    }
    // d<u, K v>/dg = sum_ij u_i v_j (-|x_i - y_j|^2) K_ij, for two columns.
    let u = data(m, 2, 76, -1.0, 1.0);
    let v = data(n, 2, 77, -1.0, 1.0);
    let grads = kxy.grad_inner(&u, &v)?;
    let dg: f64 = (0..m)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| {
            let uv: f64 = (0..2).map(|c| u[[i, c]] * v[[j, c]]).sum();
            uv * -sqdist(x.row(i), y.row(j)) * dense[[i, j]]
        })
        .sum();
    match &grads[2] {
        keops::matrix::Gradient::Param(p) => {
            assert!(
                (p[0] - dg).abs() <= 1e-10 * (1.0 + dg.abs()),
                "d/dg D={D}: {} vs {dg}",
                p[0]
            )
        }
        other => panic!("d/dg D={D}: expected a parameter gradient, got {other:?}"),
    }
    // (alpha I + K) a = b on the symmetric K(x, x).
    let kxx = k.bind(&x, &x, &g)?;
    let b = data(m, 2, 75, -1.0, 1.0);
    let a = kxx.solve(&b, 0.5)?.solution;
    let kxx_dense =
        Array2::from_shape_fn((m, m), |(i, j)| (-0.8 * sqdist(x.row(i), x.row(j))).exp());
    let back = kxx_dense.dot(&a) + &a * 0.5;
    assert_close(&back, &b, 1e-6, &format!("solve D={D}"));
    Ok(())
}

#[test]
fn const_generic_symbolic_matrix() -> keops::Result<()> {
    gaussian_matrix_checks::<1>()?;
    gaussian_matrix_checks::<3>()?;
    gaussian_matrix_checks::<50>()
}

/// Indexing a named-width vector: the kernel asks for a width above the
/// index (checked when the calling code is monomorphised) and works for
/// every such width. (Its gradient scatters into one component, which the
/// CPU code does component by component: it needs literal widths.)
fn second_coordinate_product<const D: usize>(
    x: &Array2<f64>,
    y: &Array2<f64>,
) -> keops::Result<Array2<f64>> {
    keops!(grad_order = 0, |x: Vi<D>, y: Vj<D>| sum_j(
        x[1] * y[1] + (x | y)
    ))
    .call(x, y)
}

#[test]
fn indexing_a_named_width() -> keops::Result<()> {
    fn check<const D: usize>() -> keops::Result<()> {
        let x = data(9, D, 81, -1.0, 1.0);
        let y = data(14, D, 82, -1.0, 1.0);
        let got = second_coordinate_product::<D>(&x, &y)?;
        let want = Array2::from_shape_fn((9, 1), |(i, _)| {
            (0..14)
                .map(|j| x[[i, 1]] * y[[j, 1]] + x.row(i).dot(&y.row(j)))
                .sum()
        });
        assert_close(&got, &want, 1e-12, &format!("x[1] D={D}"));
        Ok(())
    }
    check::<2>()?;
    check::<7>()?;
    check::<80>()
}

/// Ranges and batches are the engine's: a named-width kernel takes them as
/// a literal one does. Two problems of a batch as block-diagonal ranges,
/// against the two problems computed apart.
fn batched_gauss<const D: usize>() -> keops::Result<()> {
    use keops::batch::Batch;
    use keops::ndarray::Array3;
    let k = keops!(|x: Vi<D>, y: Vj<D>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y))));
    let (m, n) = (12, 17);
    let xs = [data(m, D, 91, -1.0, 1.0), data(m, D, 92, -1.0, 1.0)];
    let ys = [data(n, D, 93, -1.0, 1.0), data(n, D, 94, -1.0, 1.0)];
    let x = Array3::from_shape_fn((2, m, D), |(p, i, c)| xs[p][[i, c]]);
    let y = Array3::from_shape_fn((2, n, D), |(p, j, c)| ys[p][[j, c]]);
    let g = vec![0.6];
    let batch = Batch::new(&[2], m, n)?;
    let out = k.ranges(batch.ranges()).call(
        &batch.rows(x.view().into_dyn(), "x")?,
        &batch.cols(y.view().into_dyn(), "y")?,
        &g,
    )?;
    for p in 0..2 {
        let want = Array2::from_shape_fn((m, 1), |(i, _)| {
            (0..n)
                .map(|j| (-0.6 * sqdist(xs[p].row(i), ys[p].row(j))).exp())
                .sum()
        });
        let got = Array2::from_shape_fn((m, 1), |(i, _)| out[[p * m + i, 0]]);
        assert_close(&got, &want, 1e-12, &format!("problem {p} D={D}"));
    }
    Ok(())
}

#[test]
fn named_widths_with_batches_and_ranges() -> keops::Result<()> {
    batched_gauss::<1>()?;
    batched_gauss::<4>()?;
    batched_gauss::<40>()
}

/// The PTX a named-width kernel gets at a width is the PTX of the same
/// formula with that literal width (so it runs the same machine code).
#[test]
fn named_width_ptx_is_the_literal_ptx() {
    fn named<const D: usize>() -> &'static str {
        keops!(|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)).ptx()
    }
    let literal =
        keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    assert!(!literal.ptx().is_empty());
    assert_eq!(named::<3>(), literal.ptx());
    let literal5 =
        keops!(|x: Vi<5>, y: Vj<5>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    assert_eq!(named::<5>(), literal5.ptx());
}

/// Second-order gradients of a named-width kernel (`grad_order = 2`): the
/// Gaussian's Hessian-vector product `k.grad_x().grad_x()`, against its
/// hand-derived value
/// `H_i u_i = sum_j b_j e_i K_ij (4 g^2 d (d . u_i) - 2 g u_i)`, `d = x_i - y_j`.
fn hessian_vector<const D: usize>() -> keops::Result<()> {
    let k = keops!(grad_order = 2, |x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let (m, n, g) = (6, 9, 0.6);
    let x = data(m, D, 111, -1.0, 1.0);
    let y = data(n, D, 112, -1.0, 1.0);
    let b = data(n, 1, 113, -1.0, 1.0);
    let e = data(m, 1, 114, -1.0, 1.0);
    let u = data(m, D, 115, -1.0, 1.0);
    let gs = [g];
    let got = k.grad_x().grad_x().call(&x, &y, &b, &gs, &e, &u)?;
    let want = Array2::from_shape_fn((m, D), |(i, c)| {
        (0..n)
            .map(|j| {
                let kij = (-g * sqdist(x.row(i), y.row(j))).exp() * b[[j, 0]] * e[[i, 0]];
                let d: Vec<f64> = (0..D).map(|k| x[[i, k]] - y[[j, k]]).collect();
                let du: f64 = (0..D).map(|k| d[k] * u[[i, k]]).sum();
                kij * (4.0 * g * g * d[c] * du - 2.0 * g * u[[i, c]])
            })
            .sum()
    });
    assert_close(&got, &want, 1e-11, &format!("H u D={D}"));
    Ok(())
}

#[test]
fn named_widths_second_order_gradients() -> keops::Result<()> {
    hessian_vector::<1>()?;
    hessian_vector::<3>()?;
    hessian_vector::<12>()
}

/// An index into a concatenation of a named-width vector: at the smallest
/// width the kernel allows (3) and above, the named kernel computes what the
/// literal one does (at width 2 the index would reach the concatenated
/// component: a compile error there, see `keops_compiler::widths::index_bound`).
fn concat_index<const D: usize>(x: &Array2<f64>, y: &Array2<f64>) -> keops::Result<Array2<f64>> {
    keops!(grad_order = 0, |x: Vi<D>, y: Vj<D>| {
        let t = cat(cat(x, x[0]), x[0]);
        sum_j(t[..3] * y[0])
    })
    .call(x, y)
}

#[test]
fn index_into_a_concatenation() -> keops::Result<()> {
    let x3 = data(7, 3, 121, -1.0, 1.0);
    let y3 = data(9, 3, 122, -1.0, 1.0);
    let literal3 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| {
        let t = cat(cat(x, x[0]), x[0]);
        sum_j(t[..3] * y[0])
    })
    .call(&x3, &y3)?;
    assert_close(&concat_index::<3>(&x3, &y3)?, &literal3, 1e-13, "D = 3");
    let x5 = data(7, 5, 123, -1.0, 1.0);
    let y5 = data(9, 5, 124, -1.0, 1.0);
    let want = Array2::from_shape_fn((7, 3), |(i, c)| {
        (0..9).map(|j| x5[[i, c]] * y5[[j, 0]]).sum()
    });
    assert_close(&concat_index::<5>(&x5, &y5)?, &want, 1e-13, "D = 5");
    Ok(())
}
