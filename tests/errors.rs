//! Run-time problems are `Err` values that name the variable and the
//! expected shape, never panics; input kinds; gradients with respect to
//! unused variables.

use keops::prelude::*;

#[test]
fn wrong_width_names_the_variable() {
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let x = Array2::<f32>::zeros((4, 3));
    let y = Array2::<f32>::zeros((5, 2));
    let b = Array2::<f32>::zeros((5, 1));
    let err = k.call(&x, &y, &b, &[0.5f32]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Columns { ref var, expected: 3, found: 2 } if var == "y"),
        "{msg}"
    );
    assert!(
        msg.contains("`y`") && msg.contains('3') && msg.contains('2'),
        "{msg}"
    );
}

#[test]
fn row_mismatch_names_both_variables() {
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let x = Array2::<f64>::zeros((4, 3));
    let y = Array2::<f64>::zeros((5, 3));
    let b = Array2::<f64>::zeros((6, 1));
    let err = k.call(&x, &y, &b, &[0.5]).unwrap_err();
    match &err {
        Error::Rows {
            var,
            found,
            other,
            expected,
            cat,
        } => {
            assert_eq!(
                (var.as_str(), *found, other.as_str(), *expected, *cat),
                ("b", 6, "y", 5, "Vj")
            );
        }
        e => panic!("unexpected error {e}"),
    }
    assert!(
        err.to_string().contains("`b` has 6 rows but `y` has 5"),
        "{err}"
    );
}

#[test]
fn parameter_length_is_checked() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>, p: Pm<2>| sum_j(
        p * x * y
    ));
    let x = Array2::<f32>::zeros((3, 1));
    let y = Array2::<f32>::zeros((3, 1));
    let p = vec![1.0f32, 2.0, 3.0];
    let err = k.call(&x, &y, &p).unwrap_err();
    assert!(
        matches!(err, Error::ParamLength { ref var, expected: 2, found: 3 } if var == "p"),
        "{err}"
    );
    // A correct call with every accepted parameter kind.
    let a1 = Array1::from(vec![1.0f32, 2.0]);
    for out in [
        k.call(&x, &y, &[1.0f32, 2.0]).unwrap(),
        k.call(&x, &y, &p[..2]).unwrap(),
        k.call(&x, &y, &a1).unwrap(),
        k.call(&x, &y, a1.view()).unwrap(),
        k.call(&x, &y, &vec![1.0f32, 2.0]).unwrap(),
    ] {
        assert_eq!(out.dim(), (3, 2));
    }
}

#[test]
fn cotangent_shape_is_checked() {
    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let x = Array2::<f32>::zeros((4, 3));
    let y = Array2::<f32>::zeros((5, 3));
    let b = Array2::<f32>::zeros((5, 1));
    let e = Array2::<f32>::zeros((3, 1));
    let err = k.grad_x().call(&x, &y, &b, &[0.5f32], &e).unwrap_err();
    assert!(
        matches!(err, Error::Rows { ref var, .. } if var == "e"),
        "{err}"
    );
}

#[test]
fn input_kinds_agree() {
    let k = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| sum_j(x * y + 1.0));
    let xs: Vec<[f64; 2]> = vec![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let ys: [[f64; 2]; 2] = [[0.5, 0.25], [1.0, -1.0]];
    let x = Array2::from_shape_vec((3, 2), xs.iter().flatten().copied().collect()).unwrap();
    let y = Array2::from_shape_vec((2, 2), ys.iter().flatten().copied().collect()).unwrap();
    let want = k.call(&x, &y).unwrap();
    assert_eq!(want[[0, 0]], 1.0 * 1.5 + 2.0);
    assert_eq!(k.call(&xs, &ys).unwrap(), want);
    assert_eq!(k.call(&xs[..], &ys[..]).unwrap(), want);
    assert_eq!(k.call(x.view(), y.view()).unwrap(), want);
    // Strided views (a transposed array, a column slice) are read correctly.
    let xt = x.t().to_owned();
    assert_eq!(k.call(xt.t(), &y).unwrap(), want);
    let wide = Array2::from_shape_fn((3, 4), |(i, j)| if j < 2 { x[[i, j]] } else { 99.0 });
    assert_eq!(
        k.call(wide.slice(keops::ndarray::s![.., ..2]), &y).unwrap(),
        want
    );
}

#[test]
fn gradient_with_respect_to_an_unused_variable_is_zero() {
    // `b` does not occur in the formula: its gradient kernel exists and
    // returns zeros of b's shape (no reduction runs).
    let k = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>, b: Vj<3>| sum_j(
        sqdist(x, y)
    ));
    let x = Array2::<f64>::ones((4, 2));
    let y = Array2::<f64>::ones((5, 2));
    let b = Array2::<f64>::ones((5, 3));
    let e = Array2::<f64>::ones((4, 1));
    let g = k.grad_b().call(&x, &y, &b, &e).unwrap();
    assert_eq!(g, Array2::<f64>::zeros((5, 3)));
    assert_eq!(k.grad_b().ptx(), "");
}

#[test]
fn gpu_backend_without_cuda_or_device_is_an_error() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let x = Array2::<f32>::ones((2, 1));
    match k.backend(Backend::Gpu { device: 0 }).call(&x, &x) {
        // With the `cuda` feature on a machine with a device, the call runs.
        Ok(out) => assert_eq!(out, Array2::from_elem((2, 1), 2.0)),
        Err(err) => assert!(
            matches!(err, Error::NotCompiledWithCuda | Error::GpuUnavailable(_)),
            "unexpected error: {err}"
        ),
    }
}
