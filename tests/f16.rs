//! Half-precision storage: `half::f16` inputs and outputs, computed and
//! accumulated in f32, for every kind of reduction. Each kernel is compared
//! with the f32 kernel on the same (f16-rounded) data; the only difference
//! allowed is the final rounding of the outputs to f16 (relative 2^-11).

use half::f16;
use keops::prelude::*;

fn data(rows: usize, cols: usize, seed: u64) -> (Array2<f16>, Array2<f32>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let h = Array2::from_shape_fn((rows, cols), |_| f16::from_f32(rng.f32() * 2.0 - 1.0));
    let f = h.mapv(f32::from);
    (h, f)
}

fn close(a: &Array2<f16>, b: &Array2<f32>) {
    assert_eq!(a.dim(), b.dim());
    for (x, y) in a.iter().zip(b) {
        let x = f32::from(*x);
        assert!((x - y).abs() <= 1e-3 * y.abs().max(1e-3), "{x} vs {y}");
    }
}

#[test]
fn every_reduction_in_half_precision() {
    let (xh, xf) = data(300, 3, 1);
    let (yh, yf) = data(700, 3, 2);
    let (bh, bf) = data(700, 2, 3);
    let g = [f16::from_f32(0.5)];
    let gf = [0.5f32];

    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    close(
        &k.call(&xh, &yh, &bh, &g).unwrap(),
        &k.call(&xf, &yf, &bf, &gf).unwrap(),
    );
    // A gradient with respect to a parameter: an `Array1<f16>`.
    let (eh, ef) = data(300, 2, 4);
    let gh = k.grad_g().call(&xh, &yh, &bh, &g, &eh).unwrap();
    let gg = k.grad_g().call(&xf, &yf, &bf, &gf, &ef).unwrap();
    assert!((f32::from(gh[0]) - gg[0]).abs() <= 1e-3 * gg[0].abs());

    let l = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(
        x, y
    )));
    close(&l.call(&xh, &yh).unwrap(), &l.call(&xf, &yf).unwrap());
    let s = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<2>| {
        sumsoftmaxweight_j(-sqdist(x, y), b)
    });
    close(
        &s.call(&xh, &yh, &bh).unwrap(),
        &s.call(&xf, &yf, &bf).unwrap(),
    );

    let m = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| min_argmin_j(sqdist(
        x, y
    )));
    let (vh, ih) = m.call(&xh, &yh).unwrap();
    let (vf, i_f) = m.call(&xf, &yf).unwrap();
    close(&vh, &vf);
    assert_eq!(ih, i_f);

    let kn = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| kmin_argkmin_j(
        sqdist(x, y),
        5
    ));
    let (vh, ih) = kn.call(&xh, &yh).unwrap();
    let (vf, i_f) = kn.call(&xf, &yf).unwrap();
    close(&vh, &vf);
    assert_eq!(ih, i_f);
}
