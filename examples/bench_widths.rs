//! Named widths against literal widths, side by side in one run: the
//! Gaussian sum `sum_j(exp(-g |x_i - y_j|^2) b_j)` (f32) and its gradient
//! with respect to x, with the width a literal and with the width a const
//! generic of the calling function, at D = 3, 16, 64 and 784.
//!
//! `cargo run --release --example bench_widths [-- <repetitions>]` prints,
//! per width, the median pairs per second of each (the runs alternate) and
//! their ratio.
use keops::prelude::*;
use std::time::Instant;

/// The kernel as generic code writes it.
fn generic_sum<const D: usize>(
    x: &Array2<f32>,
    y: &Array2<f32>,
    b: &Array2<f32>,
    g: &[f32],
) -> Result<Array2<f32>> {
    keops!(grad_order = 0, |x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .call(x, y, b, g)
}

fn generic_grad<const D: usize>(
    x: &Array2<f32>,
    y: &Array2<f32>,
    b: &Array2<f32>,
    g: &[f32],
    e: &Array2<f32>,
) -> Result<Array2<f32>> {
    keops!(grad_order = 1, |x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .grad_x()
    .call(x, y, b, g, e)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median seconds of `literal` and `named`, run alternately `reps` times,
/// after one warm-up each; asserts they agree.
fn compare(
    reps: usize,
    mut literal: impl FnMut() -> Array2<f32>,
    mut named: impl FnMut() -> Array2<f32>,
) -> (f64, f64) {
    let (a, b) = (literal(), named());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0f32, |m, (u, v)| m.max((u - v).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "literal and named widths disagree: {diff} (scale {scale})"
    );
    let (mut tl, mut tn) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(literal());
        tl.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(named());
        tn.push(t.elapsed().as_secs_f64());
    }
    (median(tl), median(tn))
}

fn data(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut s = seed;
    Array2::from_shape_fn((rows, cols), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    })
}

macro_rules! row {
    ($d:literal, $n:expr, $reps:expr) => {{
        let n: usize = $n;
        let x = data(n, $d, 1);
        let y = data(n, $d, 2);
        let b = data(n, 1, 3);
        let e = data(n, 1, 4);
        let g = vec![1.0f32 / $d as f32];
        let k = keops!(
            grad_order = 1,
            |x: Vi<$d>, y: Vj<$d>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)
        );
        let pairs = (n * n) as f64;
        let (tl, tn) = compare(
            $reps,
            || k.call(&x, &y, &b, &g).unwrap(),
            || generic_sum::<$d>(&x, &y, &b, &g).unwrap(),
        );
        println!(
            "| sum | {} | {} | {:.3} | {:.3} | {:.2} |",
            $d,
            n,
            pairs / tl / 1e9,
            pairs / tn / 1e9,
            tl / tn
        );
        let kx = k.grad_x();
        let (tl, tn) = compare(
            $reps,
            || kx.call(&x, &y, &b, &g, &e).unwrap(),
            || generic_grad::<$d>(&x, &y, &b, &g, &e).unwrap(),
        );
        println!(
            "| grad_x | {} | {} | {:.3} | {:.3} | {:.2} |",
            $d,
            n,
            pairs / tl / 1e9,
            pairs / tn / 1e9,
            tl / tn
        );
    }};
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!("| kernel | D | M = N | literal (G pairs/s) | const generic (G pairs/s) | named / literal |");
    println!("|---|---|---|---|---|---|");
    row!(3, 20_000, reps);
    row!(16, 12_000, reps);
    row!(64, 8_000, reps);
    row!(784, 3_000, reps);
}
