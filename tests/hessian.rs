//! Analytic gradients of classic kernels, Hessian-vector products and
//! higher-order gradient kernels.
mod common;

use common::grad::{assert_close, finite_difference, Input};
use common::{IntoOut, Out};
use keops::prelude::*;
use keops_compiler::eval::RefValue;

fn data(
    name: &str,
    m: usize,
    n: usize,
    d: usize,
) -> (
    Array2<f64>,
    Array2<f64>,
    Array2<f64>,
    Array2<f64>,
    fastrand::Rng,
) {
    let mut rng = common::rng(name, m, n);
    let x = common::rows(&mut rng, m, d, -1.0, 1.0);
    let y = common::rows(&mut rng, n, d, -1.0, 1.0);
    let b = common::rows(&mut rng, n, 1, 0.5, 1.5);
    let e = common::rows(&mut rng, m, 1, -1.0, 1.0);
    (x, y, b, e, rng)
}

fn sqd(x: &Array2<f64>, i: usize, y: &Array2<f64>, j: usize) -> f64 {
    (0..x.ncols())
        .map(|k| (x[[i, k]] - y[[j, k]]).powi(2))
        .sum()
}

/// Gradient of sum_j k(|x_i - y_j|^2) b_j with respect to x_i, from k'.
fn analytic_grad_x(
    x: &Array2<f64>,
    y: &Array2<f64>,
    b: &Array2<f64>,
    e: &Array2<f64>,
    dk: impl Fn(f64) -> f64,
) -> Vec<f64> {
    let (m, d) = x.dim();
    let mut g = vec![0.0; m * d];
    for i in 0..m {
        for j in 0..y.nrows() {
            let s = dk(sqd(x, i, y, j)) * b[[j, 0]] * e[[i, 0]];
            for k in 0..d {
                g[i * d + k] += s * 2.0 * (x[[i, k]] - y[[j, k]]);
            }
        }
    }
    g
}

fn flat(o: Out) -> Vec<f64> {
    match o {
        Out::Rows(a) => a.iter().copied().collect(),
        Out::Vector(v) => v.to_vec(),
        o => panic!("{o:?}"),
    }
}

#[test]
fn gaussian_laplace_cauchy_gradients_match_hand_derivations() {
    let (x, y, b, e, _) = data("kernels", 6, 9, 3);
    let g = 0.7;
    let gauss = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let got = flat(
        gauss
            .grad_x()
            .call(&x, &y, &b, &[g], &e)
            .unwrap()
            .into_out(),
    );
    let want = analytic_grad_x(&x, &y, &b, &e, |r| -g * (-g * r).exp());
    assert_close(&got, &want, 1e-13, "gaussian");

    let laplace = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(
        exp(-sqrt(sqdist(x, y))) * b
    ));
    let got = flat(laplace.grad_x().call(&x, &y, &b, &e).unwrap().into_out());
    let want = analytic_grad_x(&x, &y, &b, &e, |r| -(-r.sqrt()).exp() / (2.0 * r.sqrt()));
    assert_close(&got, &want, 1e-13, "laplace");

    let cauchy = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(
        b / (1.0 + sqdist(x, y))
    ));
    let got = flat(cauchy.grad_x().call(&x, &y, &b, &e).unwrap().into_out());
    let want = analytic_grad_x(&x, &y, &b, &e, |r| -1.0 / (1.0 + r).powi(2));
    assert_close(&got, &want, 1e-13, "cauchy");
}

#[test]
fn logsumexp_gradient_is_the_softmin_average() {
    let (x, y, _, e, _) = data("softmin", 5, 11, 2);
    let k = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| logsumexp_j(-sqdist(
        x, y
    )));
    let got = flat(k.grad_x().call(&x, &y, &e).unwrap().into_out());
    let (m, d) = x.dim();
    let mut want = vec![0.0; m * d];
    for i in 0..m {
        let w: Vec<f64> = (0..y.nrows()).map(|j| (-sqd(&x, i, &y, j)).exp()).collect();
        let z: f64 = w.iter().sum();
        for j in 0..y.nrows() {
            for c in 0..d {
                want[i * d + c] += e[[i, 0]] * w[j] / z * (-2.0) * (x[[i, c]] - y[[j, c]]);
            }
        }
    }
    assert_close(&got, &want, 1e-13, "softmin");
    // The y-gradient sums the softmax weights over i (a reduction over i).
    let gy = flat(k.grad_y().call(&x, &y, &e).unwrap().into_out());
    let mut want = vec![0.0; y.len()];
    for i in 0..m {
        let w: Vec<f64> = (0..y.nrows()).map(|j| (-sqd(&x, i, &y, j)).exp()).collect();
        let z: f64 = w.iter().sum();
        for j in 0..y.nrows() {
            for c in 0..d {
                want[j * d + c] += e[[i, 0]] * w[j] / z * 2.0 * (x[[i, c]] - y[[j, c]]);
            }
        }
    }
    assert_close(&gy, &want, 1e-13, "softmin y");
}

#[test]
fn gaussian_hessian_vector_product() {
    let (x, y, b, e, mut rng) = data("hvp", 5, 8, 3);
    let g = 0.6;
    let k = keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    let u = common::rows(&mut rng, 5, 3, -1.0, 1.0);
    // H u with H_i = sum_j b_j e_i K_ij (4 g^2 d d^T - 2 g I), d = x_i - y_j.
    let got = flat(
        k.grad_x()
            .grad_x()
            .call(&x, &y, &b, &[g], &e, &u)
            .unwrap()
            .into_out(),
    );
    let mut want = vec![0.0; 15];
    for i in 0..5 {
        for j in 0..8 {
            let kij = (-g * sqd(&x, i, &y, j)).exp() * b[[j, 0]] * e[[i, 0]];
            let dd: Vec<f64> = (0..3).map(|c| x[[i, c]] - y[[j, c]]).collect();
            let du: f64 = (0..3).map(|c| dd[c] * u[[i, c]]).sum();
            for c in 0..3 {
                want[i * 3 + c] += kij * (4.0 * g * g * dd[c] * du - 2.0 * g * u[[i, c]]);
            }
        }
    }
    assert_close(&got, &want, 1e-12, "Hessian-vector product");
}

#[test]
fn second_order_mixed_and_through_logsumexp() {
    let (x, y, b, e, mut rng) = data("second", 4, 7, 2);
    let src = "|x: Vi<2>, y: Vj<2>, b: Vj<1>| logsumexp_j(-sqdist(x, y) + b)";
    let reference = keops_compiler::Reference::parse(src).unwrap();
    let k = keops!(|x: Vi<2>, y: Vj<2>, b: Vj<1>| logsumexp_j(-sqdist(x, y) + b));
    // d/dy <w, grad_x(x, y, b, e)>: a multi-stage program (the logsumexp
    // output is an input of the gradient stage and is itself differentiated).
    let w = common::rows(&mut rng, 4, 2, -1.0, 1.0);
    let got = flat(
        k.grad_x()
            .grad_y()
            .call(&x, &y, &b, &e, &w)
            .unwrap()
            .into_out(),
    );
    let inputs = [
        Input::Rows(x.clone()),
        Input::Rows(y.clone()),
        Input::Rows(b.clone()),
        Input::Rows(e.clone()),
        Input::Rows(w.clone()),
    ];
    let r = reference
        .eval(
            &["x", "y"],
            &inputs.iter().map(Input::to_ref).collect::<Vec<RefValue>>(),
        )
        .unwrap();
    assert_close(&got, r.reals(), 1e-12, "grad_x.grad_y vs reference");
    let first = |ins: &[Input]| -> Out {
        k.grad_x()
            .call(ins[0].rows(), ins[1].rows(), ins[2].rows(), ins[3].rows())
            .unwrap()
            .into_out()
    };
    let fd = finite_difference(&first, &inputs[..4], 1, &Input::Rows(w.clone()), 1e-4);
    assert_close(&got, &fd, 1e-6, "grad_x.grad_y vs finite differences");
    // Cotangent of the first gradient: grad_x().grad_e() is linear in e.
    let ge = flat(
        k.grad_x()
            .grad_e()
            .call(&x, &y, &b, &e, &w)
            .unwrap()
            .into_out(),
    );
    let fd = finite_difference(&first, &inputs[..4], 3, &Input::Rows(w.clone()), 1e-4);
    assert_close(&ge, &fd, 1e-6, "grad_x.grad_e vs finite differences");
}

#[test]
fn second_order_parameter_and_min() {
    let (x, y, b, e, _) = data("second_p", 4, 9, 2);
    let k = keops!(|x: Vi<2>, y: Vj<2>, b: Vj<1>, g: Pm<1>| min_j(g * sqdist(x, y) + b));
    let g = [0.8];
    // grad_g is a vector (summed over i and j); its x-gradient with cotangent [1].
    let gg = k.grad_g().call(&x, &y, &b, &g, &e).unwrap();
    assert_eq!(gg.len(), 1);
    let got = flat(
        k.grad_g()
            .grad_x()
            .call(&x, &y, &b, &g, &e, &[1.0])
            .unwrap()
            .into_out(),
    );
    let fwd = |ins: &[Input]| -> Out {
        Out::Vector(
            k.grad_g()
                .call(
                    ins[0].rows(),
                    ins[1].rows(),
                    ins[2].rows(),
                    &ins[3].vector()[..],
                    ins[4].rows(),
                )
                .unwrap()
                .into_out()
                .vector(),
        )
    };
    let inputs = [
        Input::Rows(x.clone()),
        Input::Rows(y.clone()),
        Input::Rows(b.clone()),
        Input::Vector(g.to_vec()),
        Input::Rows(e.clone()),
    ];
    let fd = finite_difference(&fwd, &inputs, 0, &Input::Vector(vec![1.0]), 1e-4);
    assert_close(&got, &fd, 1e-6, "grad_g.grad_x vs finite differences");
}

#[test]
fn third_order_kernels_exist_when_asked() {
    let k = keops!(grad_order = 3, |x: Vi<1>, y: Vj<1>| sum_j(exp(x * y)));
    let x: Array2<f64> = array![[0.3], [-0.2]];
    let y: Array2<f64> = array![[0.5], [0.1], [-0.7]];
    let one: Array2<f64> = array![[1.0], [1.0]];
    // d^3/dx^3 sum_j exp(x y_j) = sum_j y_j^3 exp(x y_j).
    let got = k
        .grad_x()
        .grad_x()
        .grad_x()
        .call(&x, &y, &one, &one, &one)
        .unwrap();
    for i in 0..2 {
        let want: f64 = (0..3)
            .map(|j| y[[j, 0]].powi(3) * (x[[i, 0]] * y[[j, 0]]).exp())
            .sum();
        assert!((got[[i, 0]] - want).abs() < 1e-13 * want.abs().max(1.0));
    }
}
