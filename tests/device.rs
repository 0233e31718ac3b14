//! Device-resident inputs and outputs (`DeviceRows`), through the PTX
//! simulator back end (the same launcher code as CUDA, with the simulated
//! device's memory standing in for GPU memory). References are naive f64
//! loops written here.

use keops::prelude::*;

const SIM: Backend = Backend::Simulator;

fn data(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.f32() * 2.0 - 1.0)
}

fn sqdist(x: &Array2<f32>, i: usize, y: &Array2<f32>, j: usize) -> f64 {
    x.row(i)
        .iter()
        .zip(y.row(j))
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum()
}

/// `sum_j exp(-g |x_i - y_j|^2) b_j` in f64.
fn gauss_ref(x: &Array2<f32>, y: &Array2<f32>, b: &Array2<f32>, g: f64) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), b.ncols()), |(i, k)| {
        (0..y.nrows())
            .map(|j| (-g * sqdist(x, i, y, j)).exp() * b[[j, k]] as f64)
            .sum()
    })
}

/// f32 sums of at most a few hundred terms of size <= 1: relative error
/// well under 1e-5 of the sum of magnitudes, which is what we bound.
fn close(a: &Array2<f32>, r: &Array2<f64>) {
    assert_eq!(a.dim(), r.dim());
    let scale = r.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(r) {
        assert!((*x as f64 - y).abs() <= 1e-5 * scale, "{x} vs {y}");
    }
}

#[test]
fn device_inputs_mixed_with_host_inputs() {
    let (x, y, b) = (data(130, 3, 1), data(290, 3, 2), data(290, 2, 3));
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .backend(SIM);
    let xd = DeviceRows::from_host(SIM, x.view()).unwrap();
    let yd = DeviceRows::from_host(SIM, y.view()).unwrap();
    assert_eq!(xd.dim(), (130, 3));
    assert_eq!(xd.to_host().unwrap(), x);
    let r = gauss_ref(&x, &y, &b, 0.7);
    close(&k.call(&xd, &yd, &b, &[0.7f32]).unwrap(), &r);
    close(&k.call(&x, &yd, &b, &[0.7f32]).unwrap(), &r);
    // The result kept on the device.
    let out = k.call_device(&xd, &y, &b, &[0.7f32]).unwrap();
    assert_eq!(out.dim(), (130, 2));
    assert_eq!(out.backend(), SIM);
    close(&out.to_host().unwrap(), &r);
}

#[test]
fn chained_kernels_stay_on_the_device() {
    // A Gaussian smoothing, then a second kernel reading its result as a
    // `Vi` input, with no host copy in between.
    let (x, y, b) = (data(70, 2, 4), data(110, 2, 5), data(110, 1, 6));
    let smooth = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, b: Vj<1>| {
        sum_j(exp(-sqdist(x, y)) * b)
    })
    .backend(SIM);
    let weigh = keops!(grad_order = 0, |s: Vi<1>, x: Vi<2>, y: Vj<2>| sum_j(
        s * (x | y)
    ))
    .backend(SIM);
    let s = smooth.call_device(&x, &y, &b).unwrap();
    let out = weigh.call_device(&s, &x, &y).unwrap().to_host().unwrap();
    let sr = gauss_ref(&x, &y, &b, 1.0);
    let r = Array2::from_shape_fn((70, 1), |(i, _)| {
        (0..110)
            .map(|j| {
                sr[[i, 0]]
                    * (x[[i, 0]] as f64 * y[[j, 0]] as f64 + x[[i, 1]] as f64 * y[[j, 1]] as f64)
            })
            .sum::<f64>()
    });
    close(&out, &r);
}

#[test]
fn nearest_neighbours_on_the_device() {
    let (x, y) = (data(90, 3, 7), data(400, 3, 8));
    let knn = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| kmin_argkmin_j(
        sqdist(x, y),
        4
    ))
    .backend(SIM);
    let xd = DeviceRows::from_host(SIM, x.view()).unwrap();
    let (d, i) = knn.call_device(&xd, &y).unwrap();
    let (d, i) = (d.to_host().unwrap(), i.to_host().unwrap());
    for r in 0..90 {
        let mut order: Vec<(f64, usize)> = (0..400).map(|j| (sqdist(&x, r, &y, j), j)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        for k in 0..4 {
            assert_eq!(i[[r, k]], order[k].1 as u64, "row {r}, rank {k}");
            assert!((d[[r, k]] as f64 - order[k].0).abs() <= 1e-5, "row {r}");
        }
    }
    // Fewer candidates than K: u64::MAX marks the missing indices.
    let few = knn
        .call_device(&xd, y.slice(ndarray::s![..2, ..]))
        .unwrap()
        .1;
    let few = few.to_host().unwrap();
    assert!(few.column(2).iter().all(|&v| v == u64::MAX));
    assert!(few.column(0).iter().all(|&v| v < 2));
}

#[test]
fn gradients_on_the_device() {
    let (x, y, b, e) = (
        data(60, 2, 9),
        data(80, 2, 10),
        data(80, 1, 11),
        data(60, 1, 12),
    );
    let g = 0.8f64;
    let k = keops!(|x: Vi<2>, y: Vj<2>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b))
        .backend(SIM);
    let xd = DeviceRows::from_host(SIM, x.view()).unwrap();
    let ed = DeviceRows::from_host(SIM, e.view()).unwrap();
    // d/dx_i <e, k> = sum_j -2 g (x_i - y_j) exp(-g |x_i - y_j|^2) b_j e_i.
    let gx = k
        .grad_x()
        .call_device(&xd, &y, &b, &[g as f32], &ed)
        .unwrap();
    let r = Array2::from_shape_fn((60, 2), |(i, c)| {
        (0..80)
            .map(|j| {
                let w = (-g * sqdist(&x, i, &y, j)).exp() * b[[j, 0]] as f64 * e[[i, 0]] as f64;
                -2.0 * g * (x[[i, c]] as f64 - y[[j, c]] as f64) * w
            })
            .sum()
    });
    close(&gx.to_host().unwrap(), &r);
    // A parameter gradient: a one-row device matrix.
    let gg = k
        .grad_g()
        .call_device(&xd, &y, &b, &[g as f32], &ed)
        .unwrap();
    assert_eq!(gg.dim(), (1, 1));
    let rg: f64 = (0..60)
        .flat_map(|i| (0..80).map(move |j| (i, j)))
        .map(|(i, j)| {
            let d2 = sqdist(&x, i, &y, j);
            -d2 * (-g * d2).exp() * b[[j, 0]] as f64 * e[[i, 0]] as f64
        })
        .sum();
    let got = gg.to_host().unwrap()[[0, 0]] as f64;
    assert!(
        (got - rg).abs() <= 1e-4 * rg.abs().max(1.0),
        "{got} vs {rg}"
    );
}

#[test]
fn empty_and_f64_device_matrices() {
    let k = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| sum_j((x | y))).backend(SIM);
    let x = Array2::<f64>::zeros((0, 2));
    let y = Array2::from_shape_fn((5, 2), |(j, c)| (j + c) as f64);
    let xd = DeviceRows::from_host(SIM, x.view()).unwrap();
    let out = k.call_device(&xd, &y).unwrap();
    assert_eq!(out.dim(), (0, 1));
    assert_eq!(out.to_host().unwrap().dim(), (0, 1));
    // f64 data, copied device to device by `try_clone`.
    let x = array![[1.0f64, 2.0], [0.5, -1.0]];
    let xd = DeviceRows::from_host(SIM, x.view())
        .unwrap()
        .try_clone()
        .unwrap();
    let out = k.call(&xd, &y).unwrap();
    // sum_j (x . y_j) with y_j = (j, j + 1): sum_j j = 10, sum_j (j + 1) = 15.
    assert_eq!(out, array![[1.0 * 10.0 + 2.0 * 15.0], [0.5 * 10.0 - 15.0]]);
}

#[test]
fn device_misuse_is_an_error() {
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| sum_j(sqdist(x, y)));
    let x = data(4, 3, 13);
    let xd = DeviceRows::from_host(SIM, x.view()).unwrap();
    // A device input on the CPU back end names the variable.
    let err = k.call(&xd, &x).unwrap_err();
    assert!(
        matches!(err, Error::NeedsGpu(_)) && err.to_string().contains("`x`"),
        "{err}"
    );
    // `call_device` on the CPU back end.
    assert!(matches!(k.call_device(&x, &x), Err(Error::NeedsGpu(_))));
    // Wrong width of a device input.
    let wide = DeviceRows::from_host(SIM, data(4, 2, 14).view()).unwrap();
    let err = k.backend(SIM).call(&x, &wide).unwrap_err();
    assert!(
        matches!(err, Error::Columns { ref var, expected: 3, found: 2 } if var == "y"),
        "{err}"
    );
    // Rows are checked across host and device inputs alike.
    let k2 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(
        sqdist(x, y) * b
    ))
    .backend(SIM);
    let bd = DeviceRows::from_host(SIM, data(5, 1, 15).view()).unwrap();
    let err = k2.call(&x, &x, &bd).unwrap_err();
    assert!(
        matches!(err, Error::Rows { ref var, .. } if var == "b"),
        "{err}"
    );
    // f64 accumulation needs host data.
    let err = k
        .backend(SIM)
        .f64_accumulation(true)
        .call(&xd, &x)
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    // No device matrix on the CPU.
    assert!(matches!(
        DeviceRows::from_host(Backend::Cpu, x.view()),
        Err(Error::NeedsGpu(_))
    ));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_device_matrices_need_the_cuda_feature() {
    let x = data(2, 3, 16);
    assert!(matches!(
        DeviceRows::from_host(Backend::Gpu { device: 0 }, x.view()),
        Err(Error::NotCompiledWithCuda)
    ));
}
