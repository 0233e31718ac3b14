//! Batched Gaussian sums: B problems of M = N points in one call (block-
//! diagonal ranges, `keops::batch`), against one problem with the same
//! number of pairs (M = N = sqrt(B) * 1000) and against B separate calls.
//!
//! ```text
//! cargo run --release --example batch_gauss -- [B] [M] [runs]
//! ```
//! Defaults: 64 problems of 1000 points, median of 5 runs, f32, D = 3.
use std::time::Instant;

use keops::batch::Batch;
use keops::ndarray::{s, Array3};
use keops::prelude::*;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> Result<f32>) -> Result<f64> {
    let mut t = Vec::new();
    let mut sink = 0.0;
    for _ in 0..runs {
        let t0 = Instant::now();
        sink += f()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    assert!(sink.is_finite());
    Ok(median(t))
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let nb = args.first().copied().unwrap_or(64);
    let m = args.get(1).copied().unwrap_or(1000);
    let runs = args.get(2).copied().unwrap_or(5).max(1);
    let mut rng = fastrand::Rng::with_seed(7);
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(
        exp(-sqdist(x, y)) * b
    ));

    let x = Array3::from_shape_fn((nb, m, 3), |_| rng.f32());
    let y = Array3::from_shape_fn((nb, m, 3), |_| rng.f32());
    let b = Array3::from_shape_fn((nb, m, 1), |_| rng.f32());
    let batch = Batch::new(&[nb], m, m)?;
    let (xf, yf, bf) = (
        batch.rows(x.view().into_dyn(), "x")?,
        batch.cols(y.view().into_dyn(), "y")?,
        batch.cols(b.view().into_dyn(), "b")?,
    );
    let kb = k.ranges(batch.ranges());
    let pairs = (nb * m * m) as f64;
    let t_batch = time(runs, || Ok(kb.call(&xf, &yf, &bf)?[[0, 0]]))?;
    let t_sep = time(runs, || {
        let mut s = 0.0;
        for p in 0..nb {
            s += k.call(
                x.slice(s![p, .., ..]),
                y.slice(s![p, .., ..]),
                b.slice(s![p, .., ..]),
            )?[[0, 0]];
        }
        Ok(s)
    })?;
    // One problem with the same number of pairs.
    let big = (pairs.sqrt()).round() as usize;
    let xb = Array2::from_shape_fn((big, 3), |_| rng.f32());
    let yb = Array2::from_shape_fn((big, 3), |_| rng.f32());
    let bb = Array2::from_shape_fn((big, 1), |_| rng.f32());
    let t_one = time(runs, || Ok(k.call(&xb, &yb, &bb)?[[0, 0]]))?;
    let g = |t: f64, p: f64| p / t / 1e9;
    println!("{nb} problems of {m} x {m} points, f32, D = 3, median of {runs}:");
    println!(
        "  batched (one call):   {t_batch:.4} s, {:.2} G pairs/s",
        g(t_batch, pairs)
    );
    println!(
        "  {nb} separate calls:   {t_sep:.4} s, {:.2} G pairs/s",
        g(t_sep, pairs)
    );
    println!(
        "  one {big} x {big} problem: {t_one:.4} s, {:.2} G pairs/s",
        g(t_one, (big * big) as f64)
    );
    println!(
        "  batched / one problem: {:.0} % of the pairs/s",
        100.0 * g(t_batch, pairs) / g(t_one, (big * big) as f64)
    );
    Ok(())
}
