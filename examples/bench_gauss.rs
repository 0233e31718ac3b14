//! Micro-benchmark of the Gaussian kernel sum (development aid).
use keops::prelude::*;
use std::time::Instant;
fn main() -> Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let x = Array2::from_shape_fn((n, 3), |(i, k)| ((i * 7 + k * 3) % 101) as f32 * 0.01);
    let y = Array2::from_shape_fn((n, 3), |(i, k)| ((i * 5 + k * 11) % 97) as f32 * 0.01);
    let b = Array2::from_shape_fn((n, 1), |(i, _)| (i % 13) as f32 * 0.1);
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    for _ in 0..3 {
        let t = Instant::now();
        let g: f32 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(0.5);
        let out = k.call(&x, &y, &b, &[g])?;
        let s = t.elapsed().as_secs_f64();
        println!("{:.3} s {:.2} G pairs/s {}", s, (n * n) as f64 / s / 1e9, out[[0, 0]]);
    }
    Ok(())
}
