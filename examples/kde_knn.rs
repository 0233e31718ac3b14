//! Kernel density estimation, k-nearest-neighbour classification and a
//! mean-shift step on generated data: the main example of keops.
//!
//! ```text
//! cargo run --release --example kde_knn            # M = N = 100 000, D = 3
//! cargo run --release --example kde_knn -- 20000   # other sizes
//! ```
//!
//! Every kernel below is compiled by the `keops!` macro when this file is
//! compiled: the first call is as fast as the second.

use std::time::Instant;

use keops::prelude::*;

/// Two Gaussian blobs in 3-D, labelled 0 and 1.
fn blobs(n: usize, seed: u64) -> (Array2<f32>, Vec<u8>) {
    let mut state = seed;
    let mut uniform = move || {
        // SplitMix64: reproducible data without a dependency.
        state = state.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u, v) = (uniform().max(1e-300), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut labels = Vec::with_capacity(n);
    let pts = Array2::from_shape_fn((n, 3), |(i, k)| {
        let label = (i % 2) as u8;
        if k == 0 {
            labels.push(label);
        }
        let centre = if label == 0 { -1.0 } else { 1.0 };
        (centre + 0.8 * normal()) as f32
    });
    (pts, labels)
}

fn gpairs(m: usize, n: usize, secs: f64) -> f64 {
    m as f64 * n as f64 / secs / 1e9
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (train, labels) = blobs(n, 1);
    let (test, truth) = blobs(n, 2);
    println!(
        "keops example: {n} training and {n} query points in 3-D, {} SIMD, {} threads",
        keops::simd::best_level(),
        rayon_threads()
    );

    // 1. Kernel density estimate: p(x_i) ∝ sum_j exp(-|x_i - y_j|^2 / (2 h^2)).
    let kde = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y))));
    let h = 0.3f32;
    let g = [1.0 / (2.0 * h * h)];
    let t = Instant::now();
    let density = kde.call(&test, &train, &g)?;
    let secs = t.elapsed().as_secs_f64();
    let norm = (n as f64) * (2.0 * std::f64::consts::PI * (h as f64).powi(2)).powf(1.5);
    println!(
        "kernel density:  {:8.3} s  {:6.2} G pairs/s   p(x_0) = {:.4}, p(x_1) = {:.4}",
        secs,
        gpairs(n, n, secs),
        density[[0, 0]] as f64 / norm,
        density[[1, 0]] as f64 / norm
    );
    // Check one row against a direct f64 sum.
    let exact: f64 = (0..n)
        .map(|j| {
            let d2: f64 = (0..3)
                .map(|k| (test[[0, k]] as f64 - train[[j, k]] as f64).powi(2))
                .sum();
            (-(g[0] as f64) * d2).exp()
        })
        .sum();
    println!(
        "                 row 0 relative error against an f64 loop: {:.1e}",
        (density[[0, 0]] as f64 - exact).abs() / exact
    );

    // 2. 10-nearest-neighbour classification.
    let knn = keops!(|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10));
    let t = Instant::now();
    let neighbours = knn.call(&test, &train)?;
    let secs = t.elapsed().as_secs_f64();
    let correct = neighbours
        .rows()
        .into_iter()
        .zip(&truth)
        .filter(|(row, &label)| {
            let votes = row.iter().filter(|&&j| labels[j] == 1).count();
            (votes > 5) == (label == 1)
        })
        .count();
    println!(
        "10-NN classify:  {:8.3} s  {:6.2} G pairs/s   accuracy {:.2} %",
        secs,
        gpairs(n, n, secs),
        100.0 * correct as f64 / n as f64
    );

    // 3. One mean-shift step: x <- x + grad log p(x) * h^2, with the
    //    gradient kernel derived at compile time.
    let grad = kde.grad_x();
    let e = Array2::from_shape_fn((n, 1), |(i, _)| {
        1.0 / density[[i, 0]].max(f32::MIN_POSITIVE)
    });
    let t = Instant::now();
    let step = grad.call(&test, &train, &g, &e)?;
    let secs = t.elapsed().as_secs_f64();
    let moved = &test + &(step * (h * h));
    println!(
        "mean-shift step: {:8.3} s  {:6.2} G pairs/s   x_0 moves from {:?} to {:?}",
        secs,
        gpairs(n, n, secs),
        test.row(0).to_vec(),
        moved.row(0).to_vec()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
