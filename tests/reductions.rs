//! Every reduction, over i and over j, in both spellings, against the
//! reference evaluator; empty reductions; the long-sum accuracy of the
//! default (block) sum scheme; one-column inputs as vectors; the
//! generated code compiles in a crate that forbids `unsafe`.
#![forbid(unsafe_code)]
mod common;

use keops::prelude::*;

check!(sum_over_j, |x: Vi<3>, y: Vj<3>| sum_j(x * y));
check!(sum_over_i, |x: Vi<3>, y: Vj<3>| sum_i(
    exp(-sqdist(x, y)) * x
));
check!(sum_method_axes, |x: Vi<2>, y: Vj<2>| (x * y + 1.0).sum(0));
check!(sum_keyword_axis, |x: Vi<2>, y: Vj<2>| (x - y).sum(axis = 1));
check!(logsumexp_j, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y)); range = (-2.0, 2.0));
check!(logsumexp_i_method, |x: Vi<3>, y: Vj<3>| (-sqdist(x, y) * 4.0).logsumexp(0); range = (-2.0, 2.0));
check!(logsumexp_vector, |x: Vi<2>, y: Vj<2>| logsumexp_j(
    x * y * 3.0
));
check!(logsumexp_weight_, |x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(-sqdist(x, y), exp(w)) ; range = (-2.0, 2.0));
check!(logsumexp_weight_method, |x: Vi<2>, y: Vj<2>, w: Vj<2>| {
    (-sqdist(x, y)).logsumexp_weight(exp(w), 1)
});
check!(logsumexp_weight_keywords, |x: Vi<2>, y: Vj<2>, w: Vj<1>| (x
    * y)
    .sum()
    .logsumexp(axis = 1, weight = w * w + 0.1));
check!(sumsoftmaxweight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| {
    sumsoftmaxweight_j(-sqdist(x, y) * 5.0, w)
});
check!(sumsoftmaxweight_i_method, |x: Vi<2>, y: Vj<2>, w: Vi<2>| (x
    * y)
    .sumsoftmaxweight(w, 0));
check!(min_j_, |x: Vi<3>, y: Vj<3>| min_j(sqdist(x, y)));
check!(min_vector, |x: Vi<2>, y: Vj<2>| (x - y).min(1));
check!(argmin_j_, |x: Vi<3>, y: Vj<3>| argmin_j(sqdist(x, y)));
check!(argmin_i_vector, |x: Vi<2>, y: Vj<2>| (x * y).argmin(0));
check!(min_argmin_j_, |x: Vi<3>, y: Vj<3>| min_argmin_j(
    sqdist(x, y) - 1.0
));
check!(max_j_, |x: Vi<3>, y: Vj<3>| max_j((x | y)));
check!(argmax_j_, |x: Vi<3>, y: Vj<3>| argmax_j((x | y)));
check!(max_argmax_i, |x: Vi<2>, y: Vj<2>| max_argmax_i(x * y));
check!(kmin_j_, |x: Vi<3>, y: Vj<3>| kmin_j(sqdist(x, y), 5));
check!(argkmin_j_, |x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10));
check!(argkmin_method, |x: Vi<3>, y: Vj<3>| sqdist(x, y)
    .argkmin(3, 1));
check!(argkmin_pykeops_spelling, |x: Vi<3>, y: Vj<3>| sqdist(x, y)
    .argKmin(K = 4, axis = 0));
check!(kmin_argkmin_vector, |x: Vi<2>, y: Vj<2>| kmin_argkmin_j(
    x - y,
    3
));
check!(kmin_argkmin_i, |x: Vi<2>, y: Vj<2>| kmin_argkmin_i(
    sqdist(x, y),
    7
));
check!(kmin_larger_than_n, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(x * y, 20); sizes = vec![(3, 5), (7, 13), (2, 0)]);
check!(ties_min, |x: Vi<1>, y: Vj<1>| min_argmin_j(round(
    3.0 * x * y
)));
check!(ties_kmin, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
    round(2.0 * x * y),
    4
));

/// Empty reductions return the documented identities.
#[test]
fn empty_reductions() {
    let x = Array2::from_elem((3, 1), 1.0f32);
    let y = Array2::<f32>::zeros((0, 1));
    let s = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y))
        .call(&x, &y)
        .unwrap();
    assert_eq!(s, Array2::zeros((3, 1)));
    let l = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| logsumexp_j(x * y))
        .call(&x, &y)
        .unwrap();
    assert!(l.iter().all(|&v| v == f32::NEG_INFINITY));
    let w = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sumsoftmaxweight_j(
        x * y,
        y
    ))
    .call(&x, &y)
    .unwrap();
    assert_eq!(w, Array2::zeros((3, 1)));
    let (v, i) = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(x * y))
        .call(&x, &y)
        .unwrap();
    assert!(v.iter().all(|&a| a == f32::INFINITY));
    assert!(i.iter().all(|&a| a == usize::MAX));
    let v = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| max_j(x * y))
        .call(&x, &y)
        .unwrap();
    assert!(v.iter().all(|&a| a == f32::NEG_INFINITY));
    let i = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| argkmin_j(x * y, 3))
        .call(&x, &y)
        .unwrap();
    assert_eq!(i.dim(), (3, 3));
    assert!(i.iter().all(|&a| a == usize::MAX));
    // M = 0: empty results with the right number of columns.
    let x0 = Array2::<f32>::zeros((0, 1));
    let y1 = Array2::from_elem((4, 1), 1.0f32);
    let r = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_j(x * y, 2))
        .call(&x0, &y1)
        .unwrap();
    assert_eq!(r.dim(), (0, 2));
}

/// A long f32 sum (N = 2e6) stays within 1e-5 of the f64 reference with the
/// default block scheme: each lane sums a tile of 2048 / 16 = 128 terms in
/// f32 (error about 128 * 6e-8 relative at worst), and the tile sums are
/// accumulated in f64, so the error does not grow with N.
#[test]
fn long_sum_block_scheme_is_accurate() {
    let n = 2_000_000;
    let mut rng = common::rng("long_sum", 1, n);
    let y = Array2::from_shape_fn((n, 1), |_| rng.f32());
    let x = Array2::from_shape_fn((3, 1), |(i, _)| 0.1 + i as f32);
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(exp(-x * y)));
    let out = k.call(&x, &y).unwrap();
    for i in 0..3 {
        let exact: f64 = y
            .iter()
            .map(|&v| (-(x[[i, 0]] as f64) * v as f64).exp())
            .sum();
        let rel = ((out[[i, 0]] as f64 - exact) / exact).abs();
        assert!(rel < 1e-5, "row {i}: relative error {rel:e}");
    }
    // Kahan and direct schemes are available too; Kahan is as accurate.
    let kahan = k.sum_scheme(SumScheme::Kahan).call(&x, &y).unwrap();
    for i in 0..3 {
        let exact: f64 = y
            .iter()
            .map(|&v| (-(x[[i, 0]] as f64) * v as f64).exp())
            .sum();
        assert!(((kahan[[i, 0]] as f64 - exact) / exact).abs() < 1e-5);
    }
    let f64acc = k.f64_accumulation(true).call(&x, &y).unwrap();
    for i in 0..3 {
        let exact: f64 = y
            .iter()
            .map(|&v| (-(x[[i, 0]] as f64) * v as f64).exp())
            .sum();
        assert!(((f64acc[[i, 0]] as f64 - exact) / exact).abs() < 1e-6);
    }
}

/// f64 accumulation covers the gradient kernels taken from the kernel (their
/// results are the f64 kernels' results rounded to f32, and within half an
/// ulp of the f64 sums), and options carried over from another kernel
/// (whose f64 code does not contain this kernel's stages) are an error, not
/// a silent f32 run.
#[test]
fn f64_accumulation_reaches_gradients_and_names_foreign_options() {
    let (m, n) = (16, 3000);
    let mut rng = common::rng("f64acc_grad", m, n);
    let x = Array2::from_shape_fn((m, 1), |_| 0.5 + rng.f32());
    let y = Array2::from_shape_fn((n, 1), |_| rng.f32());
    let b = Array2::from_shape_fn((n, 1), |_| rng.f32() - 0.3);
    let e = Array2::from_shape_fn((m, 1), |_| 1.0 + rng.f32());
    let k = keops!(grad_order = 1, |x: Vi<1>, y: Vj<1>, b: Vj<1>| sum_j(
        exp(-x * y) * b
    ));
    assert!(k
        .f64_accumulation(false)
        .options()
        .f64_accumulation
        .is_none());
    let k64 = k.f64_accumulation(true);
    let out = k64.call(&x, &y, &b).unwrap();
    let gx = k64.grad_x().call(&x, &y, &b, &e).unwrap();
    let wide = |a: &Array2<f32>| a.mapv(f64::from);
    let (x2, y2, b2, e2) = (wide(&x), wide(&y), wide(&b), wide(&e));
    let round = |a: Array2<f64>| a.mapv(|v| v as f32);
    assert_eq!(out, round(k.call(&x2, &y2, &b2).unwrap()));
    assert_eq!(gx, round(k.grad_x().call(&x2, &y2, &b2, &e2).unwrap()));
    for i in 0..m {
        // d/dx_i of sum_j exp(-x_i y_j) b_j, times e_i.
        let xi = x2[[i, 0]];
        let (mut f, mut g) = (0.0f64, 0.0f64);
        for j in 0..n {
            let (yj, bj) = (y2[[j, 0]], b2[[j, 0]]);
            f += (-xi * yj).exp() * bj;
            g -= yj * (-xi * yj).exp() * bj * e2[[i, 0]];
        }
        let (fo, go) = (out[[i, 0]] as f64, gx[[i, 0]] as f64);
        assert!(((fo - f) / f).abs() < 1e-7, "row {i}: {fo} vs {f}");
        assert!(((go - g) / g).abs() < 1e-7, "row {i}: {go} vs {g}");
    }
    let other = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let err = other.with_options(k64.options()).call(&x, &y).unwrap_err();
    assert!(err.to_string().contains("another kernel"), "{err}");
}

// Large inner dimensions: selections over squared distances in D >= 16 run
// in dot-product form (|x|^2 + |y|^2 - 2 x.y) and re-rank the selected
// candidates exactly, so values match the direct formula.
check!(argkmin_dot_form, |x: Vi<20>, y: Vj<20>| argkmin_j(sqdist(x, y), 10); sizes = vec![(0, 5), (5, 0), (1, 1), (7, 13), (300, 301), (33, 1100)]);
check!(kmin_argkmin_dot_form, |x: Vi<32>, y: Vj<32>| kmin_argkmin_j(sqdist(x, y), 4); sizes = vec![(7, 13), (300, 301)]);
check!(min_argmin_dot_form, |x: Vi<16>, y: Vj<16>| min_argmin_j(sqdist(y, x) + 1.0); sizes = vec![(7, 13), (300, 301)]);
check!(max_dot_form_over_i, |x: Vi<24>, y: Vj<24>| max_argmax_i(exp(-sqdist(x, y) / 24.0)); sizes = vec![(7, 13), (301, 300)]);
// Far from the origin, |x|^2 + |y|^2 - 2 x.y would cancel catastrophically
// in f32 (norms of 1.6e7 against distances of about 1); the engine centers
// both sets first, so indices and values still match the direct formula.
check!(argkmin_dot_form_far_from_origin, |x: Vi<16>, y: Vj<16>| kmin_argkmin_j(sqdist(x, y), 5); range = (1000.0, 1001.0); sizes = vec![(7, 13), (200, 301)]);

/// `Vi<1>`/`Vj<1>` inputs take `Array1`/`ArrayView1` (strided views
/// included), with the same result as the one-column matrices.
#[test]
fn one_column_variables_take_vectors() {
    let k = keops!(|x: Vi<1>, y: Vj<1>, b: Vj<2>| sum_j(exp(-(x - y).square()) * b));
    let x = Array1::from_vec(vec![0.0f64, 0.5, -1.0]);
    let y_full = Array1::from_vec(vec![1.0f64, 9.0, -0.5, 9.0, 2.0, 9.0, 0.25, 9.0]);
    // Every other entry: 1.0, -0.5, 2.0, 0.25 (a view of stride 2).
    let y = y_full.slice_each_axis(|_| ndarray::Slice::new(0, None, 2));
    let b = Array2::from_shape_fn((4, 2), |(j, c)| {
        (j + 1) as f64 * if c == 0 { 1.0 } else { -0.5 }
    });
    let got = k.call(&x, y, &b).unwrap();
    let x2 = x.clone().insert_axis(ndarray::Axis(1));
    let y2 = y.to_owned().insert_axis(ndarray::Axis(1));
    let want2 = k.call(&x2, &y2, &b).unwrap();
    for i in 0..3 {
        for c in 0..2 {
            let naive: f64 = (0..4)
                .map(|j| (-(x[i] - y[j]).powi(2)).exp() * b[[j, c]])
                .sum();
            assert!((got[[i, c]] - naive).abs() < 1e-12, "row {i} col {c}");
            assert_eq!(got[[i, c]], want2[[i, c]]);
        }
    }
    // A vector for a wider variable is a compile error (no `IntoRows<_, 3>`
    // for `Array1`); its length must still match the other rows.
    let short = Array1::from_vec(vec![0.0f64; 2]);
    assert!(k.call(&x, &short, &b).is_err());
}

/// Kernels can be held and configured generically through the `Kernel` trait.
#[test]
fn kernels_are_generic_values() {
    fn configured<K: Kernel>(k: K) -> K {
        k.threads(1)
            .sum_scheme(SumScheme::Kahan)
            .simd(SimdLevel::Scalar)
    }
    let k = configured(keops!(|x: Vi<1>, y: Vj<1>| sum_j(x * y)));
    assert_eq!(k.options().threads, Some(1));
    assert_eq!(k.options().sum_scheme, SumScheme::Kahan);
    assert_eq!(k.input_names(), &["x", "y"]);
    assert_eq!(k.stages().len(), 1);
    let x = Array1::from_vec(vec![1.0f32, 2.0]);
    let y = Array1::from_vec(vec![3.0f32, 4.0, 5.0]);
    let out = k.call(&x, &y).unwrap();
    assert_eq!(out.column(0).to_vec(), vec![12.0, 24.0]);
}
