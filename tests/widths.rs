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
    assert_close(&got, &gauss_ref(&x, &y, &b, 0.7), 1e-12, &format!("gauss D={D}"));
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
