//! Run-time formulas against compiled kernels, side by side in one run
//! (f32): the Gaussian sum `sum_j(exp(-|x_i - y_j|^2) b_j)` and the
//! log-sum-exp `logsumexp_j(-|x_i - y_j|^2)` at D = 3, 16, 64 and 784, compiled by
//! `keops!` and given as a string to `keops::Formula` (widths from the
//! data); and the time from the string to the first result on 1000 points.
//!
//! `cargo run --release --example bench_formula [-- <points> <repetitions>]`
use keops::formula::Input;
use keops::prelude::*;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    v[v.len() / 2]
}

fn points(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut s = seed;
    Array2::from_shape_fn((n, d), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    })
}

/// Median seconds of `compiled` and `runtime`, alternated `reps` times
/// after a warm-up; checks that they agree.
fn compare(
    reps: usize,
    mut compiled: impl FnMut() -> Array2<f32>,
    mut runtime: impl FnMut() -> Array2<f32>,
) -> (f64, f64) {
    let (a, b) = (compiled(), runtime());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (u, v)| m.max((u - v).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "compiled and run-time disagree: {diff} (scale {scale})"
    );
    let (mut tc, mut tr) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(compiled());
        tc.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(runtime());
        tr.push(t.elapsed().as_secs_f64());
    }
    (median(tc), median(tr))
}

macro_rules! row {
    ($d:literal, $n:expr, $reps:expr) => {{
        let n = $n;
        let (x, y, b) = (points(n, $d, 1), points(n, $d, 2), points(n, 1, 3));
        let gauss = keops!(grad_order = 0, |x: Vi<$d>, y: Vj<$d>, b: Vj<1>| sum_j(
            exp(-sqdist(x, y)) * b
        ));
        let lse = keops!(grad_order = 0, |x: Vi<$d>, y: Vj<$d>| logsumexp_j(-sqdist(
            x, y
        )));
        let fg = Formula::new("|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)")?;
        let fl = Formula::new("|x: Vi<_>, y: Vj<_>| logsumexp_j(-sqdist(x, y))")?;
        let pairs = (n * n) as f64;
        let (c, r) = compare(
            $reps,
            || gauss.call(&x, &y, &b).expect("compiled"),
            || {
                fg.call(&[&x as &dyn Input<f32>, &y, &b])
                    .and_then(|o| o.into_rows())
                    .expect("run-time")
            },
        );
        println!(
            "gaussian  D = {:>3}: compiled {:7.2} Gpairs/s, run-time {:7.2} Gpairs/s, ratio {:.2}",
            $d,
            pairs / c / 1e9,
            pairs / r / 1e9,
            c / r
        );
        let (c, r) = compare(
            $reps,
            || lse.call(&x, &y).expect("compiled"),
            || {
                fl.call(&[&x as &dyn Input<f32>, &y])
                    .and_then(|o| o.into_rows())
                    .expect("run-time")
            },
        );
        println!(
            "logsumexp D = {:>3}: compiled {:7.2} Gpairs/s, run-time {:7.2} Gpairs/s, ratio {:.2}",
            $d,
            pairs / c / 1e9,
            pairs / r / 1e9,
            c / r
        );
    }};
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let reps = args.get(1).copied().unwrap_or(7);
    // From the string to the first result: a formula never seen before.
    let (x, y, b) = (points(1000, 3, 4), points(1000, 3, 5), points(1000, 1, 6));
    let t = Instant::now();
    let k = Formula::new("|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)")?;
    let out = k.call(&[&x as &dyn Input<f32>, &y, &b])?.into_rows()?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = k.call(&[&x as &dyn Input<f32>, &y, &b])?.into_rows()?;
    let second = t.elapsed().as_secs_f64();
    assert_eq!(out, again);
    // Another new formula, the thread pool now started.
    let t = Instant::now();
    let k2 = Formula::new("|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-2 * sqdist(x, y)) * b)")?;
    let parsed = t.elapsed().as_secs_f64();
    let out2 = k2.call(&[&x as &dyn Input<f32>, &y, &b])?.into_rows()?;
    let other = t.elapsed().as_secs_f64();
    assert_eq!(out2.dim(), out.dim());
    println!(
        "gaussian D = 3, 1000 x 1000 points: string to first result {:.3} ms, next call {:.3} ms; \
         another new formula {:.3} ms (of which Formula::new {:.3} ms)",
        first * 1e3,
        second * 1e3,
        other * 1e3,
        parsed * 1e3
    );
    row!(3, n, reps);
    row!(16, n, reps);
    row!(64, n / 4, reps);
    row!(784, n / 16, reps);
    Ok(())
}
