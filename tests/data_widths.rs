//! Kernels whose widths are read from the data (`Vi<_>`), written as users
//! write them: one kernel value called at several widths, generic helper
//! functions, views and owned arrays, errors with `?`.

use keops::prelude::*;

mod common;

/// The Gaussian sum of a library function that does not know the width.
fn gaussian_sum(
    x: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    b: &Array2<f64>,
    g: f64,
) -> Result<Array2<f64>> {
    let k = keops!(|x: Vi<_>, y: Vj<_>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    let gs = [g];
    k.call(x, y, b, gs)
}

fn dense_gaussian(x: &Array2<f64>, y: &Array2<f64>, b: &Array2<f64>, g: f64) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
        (0..y.nrows())
            .map(|j| {
                let d2: f64 = (0..x.ncols())
                    .map(|c| (x[[i, c]] - y[[j, c]]).powi(2))
                    .sum();
                (-g * d2).exp() * b[[j, 0]]
            })
            .sum()
    })
}

#[test]
fn one_kernel_serves_every_width() -> Result<()> {
    let mut rng = common::rng("data-widths", 0, 0);
    for d in [1usize, 3, 16, 40, 100] {
        let x = common::rows(&mut rng, 23, d, -1.0, 1.0);
        let y = common::rows(&mut rng, 57, d, -1.0, 1.0);
        let b = common::rows(&mut rng, 57, 1, -1.0, 1.0);
        let g = 2.0 / d as f64;
        let out = gaussian_sum(x.view(), y.view(), &b, g)?;
        let want = dense_gaussian(&x, &y, &b, g);
        for (a, w) in out.iter().zip(&want) {
            assert!(
                (a - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "D = {d}: {a} vs {w}"
            );
        }
    }
    Ok(())
}

#[test]
fn gradients_selections_and_f32() -> Result<()> {
    let mut rng = common::rng("data-widths-grad", 0, 0);
    let k = keops!(|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b));
    let knn = keops!(|x: Vi<_>, y: Vj<_>| argkmin_j(sqdist(x, y), 2));
    for d in [2usize, 7, 33] {
        let x = common::rows(&mut rng, 9, d, -1.0, 1.0);
        let y = common::rows(&mut rng, 31, d, -1.0, 1.0);
        let b = common::rows(&mut rng, 31, 1, -1.0, 1.0);
        let e = common::rows(&mut rng, 9, 1, -1.0, 1.0);
        // d/dx_i of sum_j exp(-|x_i - y_j|^2) b_j e_i, by hand.
        let gx = k.grad_x().call(&x, &y, &b, &e)?;
        assert_eq!(gx.dim(), (9, d));
        for i in 0..9 {
            for c in 0..d {
                let want: f64 = (0..31)
                    .map(|j| {
                        let d2: f64 = (0..d).map(|q| (x[[i, q]] - y[[j, q]]).powi(2)).sum();
                        -2.0 * (x[[i, c]] - y[[j, c]]) * (-d2).exp() * b[[j, 0]] * e[[i, 0]]
                    })
                    .sum();
                assert!((gx[[i, c]] - want).abs() < 1e-12, "D = {d}");
            }
        }
        let idx = knn.call(&x, &y)?;
        for i in 0..9 {
            let mut dist: Vec<(f64, usize)> = (0..31)
                .map(|j| ((0..d).map(|q| (x[[i, q]] - y[[j, q]]).powi(2)).sum(), j))
                .collect();
            dist.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
            assert_eq!(idx.row(i).to_vec(), vec![dist[0].1, dist[1].1]);
        }
        let (x32, y32, b32) = (
            x.mapv(|v| v as f32),
            y.mapv(|v| v as f32),
            b.mapv(|v| v as f32),
        );
        let out32 = k.call(&x32, &y32, &b32)?;
        let out = k.call(&x, &y, &b)?;
        for (a, w) in out32.iter().zip(&out) {
            assert!((*a as f64 - w).abs() < 1e-4 * (1.0 + w.abs()));
        }
    }
    Ok(())
}

#[test]
fn mismatched_widths_are_errors() {
    let k = keops!(|x: Vi<_>, y: Vj<_>| sum_j(sqdist(x, y)));
    let x = Array2::<f64>::zeros((3, 4));
    let y = Array2::<f64>::zeros((5, 2));
    let e = k.call(&x, &y).unwrap_err();
    assert!(matches!(e, Error::Formula { .. }), "{e}");
    // A width from the data meeting a literal one: right at that width only.
    let mixed = keops!(|x: Vi<_>, y: Vj<2>| sum_j(sqdist(x, y)));
    let x2 = Array2::<f64>::ones((3, 2));
    let out = mixed.call(&x2, &y).expect("width 2 is right");
    assert_eq!(out, Array2::from_elem((3, 1), 10.0));
    let e = mixed.call(&x, &y).unwrap_err();
    assert!(matches!(e, Error::Formula { .. }), "{e}");
    let named = keops!(|x: Vi<D>, y: Vj<D>, z: Vi<_>| sum_j(sqdist(x, y) * z.sum()));
    let e = named.call(&x, &y, &x).unwrap_err();
    assert!(
        matches!(e, Error::Widths { ref var, width: 4, ref other, other_width: 2, .. } if var == "x" && other == "y"),
        "{e}"
    );
}

#[test]
fn ranges_and_options_apply() -> Result<()> {
    let mut rng = common::rng("data-widths-ranges", 0, 0);
    let k = keops!(|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b));
    let x = common::rows(&mut rng, 30, 4, -1.0, 1.0);
    let y = common::rows(&mut rng, 60, 4, -1.0, 1.0);
    let b = common::rows(&mut rng, 60, 1, -1.0, 1.0);
    // Rows 0..15 against columns 0..30, rows 15..30 against 30..60.
    let r = Ranges::new(
        &[[0, 15], [15, 30]],
        &[1, 2],
        &[[0, 30], [30, 60]],
        &[[0, 30], [30, 60]],
        &[1, 2],
        &[[0, 15], [15, 30]],
    )?;
    let out = k.ranges(&r).threads(1).call(&x, &y, &b)?;
    let full = dense_gaussian(&x, &y, &b, 1.0);
    let top = dense_gaussian(
        &x.slice(ndarray::s![..15, ..]).to_owned(),
        &y.slice(ndarray::s![..30, ..]).to_owned(),
        &b.slice(ndarray::s![..30, ..]).to_owned(),
        1.0,
    );
    assert!((out[[0, 0]] - top[[0, 0]]).abs() < 1e-12);
    assert!(
        (out[[0, 0]] - full[[0, 0]]).abs() > 1e-9,
        "the ranges were applied"
    );
    Ok(())
}
