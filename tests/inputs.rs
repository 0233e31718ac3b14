//! Run-time inputs at the edges: NaN and infinities in the data (the same
//! behaviour on every back end, as documented in the README), empty and
//! one-row sets, more than 2^31 pairs, reduced ranges longer than the f32
//! significand (indices stay exact), and running out of device memory.

use keops::prelude::*;

/// NaN and infinities in the data: every CPU SIMD level and the simulator
/// agree with each other, and with the documented behaviour.
#[test]
fn nan_and_infinities_behave_the_same_on_every_back_end() {
    let x = Array2::from_shape_vec((3, 1), vec![0.0f64, 1.0, 2.0]).unwrap();
    let mut y = Array2::from_shape_vec((5, 1), vec![0.5f64, 1.5, 2.5, 3.5, 4.5]).unwrap();
    y[[2, 0]] = f64::NAN;
    let mut yi = y.clone();
    yi[[2, 0]] = f64::INFINITY;

    let sum = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let min = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(
        (x - y).abs()
    ));
    let max = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| max_argmax_j(x * y));
    let lse = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| logsumexp_j(x * y));
    let knn = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
        (x - y).abs(),
        2
    ));

    let mut backends: Vec<(String, Backend, Option<SimdLevel>)> = keops::simd::supported_levels()
        .into_iter()
        .map(|l| (format!("cpu {l}"), Backend::Cpu, Some(l)))
        .collect();
    backends.push(("simulator".into(), Backend::Simulator, None));
    let run = |b: Backend, l: Option<SimdLevel>, y: &Array2<f64>| {
        let opts = |o: Options| Options {
            backend: b,
            simd: l,
            ..o
        };
        (
            sum.with_options(opts(sum.options())).call(&x, y).unwrap(),
            min.with_options(opts(min.options())).call(&x, y).unwrap(),
            max.with_options(opts(max.options())).call(&x, y).unwrap(),
            lse.with_options(opts(lse.options())).call(&x, y).unwrap(),
            knn.with_options(opts(knn.options())).call(&x, y).unwrap(),
        )
    };
    let flat = |a: Array2<f64>| a.into_raw_vec_and_offset().0;
    let flat_i = |a: Array2<usize>| a.into_raw_vec_and_offset().0;
    type Outs = (
        Vec<f64>,
        Vec<f64>,
        Vec<usize>,
        Vec<f64>,
        Vec<usize>,
        Vec<f64>,
        Vec<f64>,
        Vec<usize>,
    );
    let outs = |b: Backend, l: Option<SimdLevel>, y: &Array2<f64>| -> Outs {
        let (s, (mv, mi), (xv, xi), e, (kv, ki)) = run(b, l, y);
        (
            flat(s),
            flat(mv),
            flat_i(mi),
            flat(xv),
            flat_i(xi),
            flat(e),
            flat(kv),
            flat_i(ki),
        )
    };
    let same = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x.is_nan() && y.is_nan())
                    || x == y
                    || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            })
    };
    for data in [&y, &yi] {
        let want = outs(Backend::Cpu, Some(SimdLevel::Scalar), data);
        // The documented behaviour (README, "Empty reductions and special values").
        let (s, mv, mi, xv, xi, e, kv, ki) = &want;
        if data[[2, 0]].is_nan() {
            assert!(
                s.iter().all(|v| v.is_nan()),
                "a NaN term makes a sum NaN: {s:?}"
            );
            assert!(e.iter().all(|v| v.is_nan()), "and a log-sum-exp NaN: {e:?}");
        } else {
            // x = 0 times y = inf is NaN (row 0); the other rows see +inf.
            assert!(s[0].is_nan() && e[0].is_nan(), "{s:?} {e:?}");
            assert_eq!(
                (s[1], s[2], e[1], e[2]),
                (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY)
            );
        }
        // Selections never select a NaN term (it compares false).
        for v in mv.iter().chain(xv).chain(kv) {
            assert!(!v.is_nan(), "selections skip NaN terms: {want:?}");
        }
        for (v, i) in xv.iter().zip(xi) {
            assert!(
                *i != 2 || v.is_infinite(),
                "index of a NaN term selected: {want:?}"
            );
        }
        assert!(mi
            .iter()
            .chain(ki)
            .all(|&i| i != 2 || data[[2, 0]].is_finite()));
        for (name, b, l) in &backends {
            let got = outs(*b, *l, data);
            let ok = same(&got.0, &want.0)
                && same(&got.1, &want.1)
                && got.2 == want.2
                && same(&got.3, &want.3)
                && got.4 == want.4
                && same(&got.5, &want.5)
                && same(&got.6, &want.6)
                && got.7 == want.7;
            assert!(
                ok,
                "{name} differs from the scalar CPU level on {data:?}:\n{got:?}\n{want:?}"
            );
        }
    }
}

/// More than 2^31 pairs (counts and offsets past `i32`), on the CPU.
#[test]
fn more_than_two_to_the_31_pairs() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let (m, n) = (65_536usize, 32_769usize); // 2^31 + 2^16 pairs
    let x = Array1::from_elem(m, 1.0f32);
    let y = Array1::from_elem(n, 1.0f32);
    let out = k.call(&x, &y).unwrap();
    assert_eq!(out.dim(), (m, 1));
    assert!(out.iter().all(|&v| v == n as f32), "every row sums N ones");
}

/// A reduced range longer than 2^24 (where f32 stops representing every
/// integer): indices stay exact, in f32 as in f64.
#[test]
fn indices_past_two_to_the_24_are_exact() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(
        (x - y).abs()
    ));
    let n = (1usize << 24) + 3;
    let x = Array1::from_vec(vec![0.0f32, 0.25]);
    let mut y = Array1::from_elem(n, 1.0f32);
    y[n - 1] = 0.0;
    y[n - 2] = 0.25;
    let (v, i) = k.call(&x, &y).unwrap();
    assert_eq!(i.column(0).to_vec(), vec![n - 1, n - 2]);
    assert_eq!(v.column(0).to_vec(), vec![0.0, 0.0]);
}

/// Running out of device memory is an `Err(OutOfMemory)` naming the
/// allocation, on the simulator (16 GiB of simulated global memory) and on
/// CUDA when a GPU is present: the output of 2^24 rows of 4096 f32 columns
/// takes 256 GiB, more than any device has.
#[test]
fn out_of_device_memory_is_an_error() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<4096>| sum_j(x * y));
    let m = 1usize << 24;
    let x = Array2::<f32>::zeros((m, 1));
    let y = Array2::<f32>::ones((3, 4096));
    for backend in [Backend::Simulator, Backend::Gpu { device: 0 }] {
        if !backend.is_available() {
            println!("skipped on {backend:?}: no such device here");
            continue;
        }
        match k.backend(backend).call(&x, &y) {
            Err(Error::OutOfMemory { bytes, what }) => {
                assert_eq!(bytes, m * 4096 * 4, "{backend:?}: {what}");
                assert_eq!(what, "outputs");
            }
            other => panic!(
                "{backend:?}: expected OutOfMemory, got {:?}",
                other.map(|o| o.dim())
            ),
        }
    }
}
