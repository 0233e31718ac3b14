//! Micro-benchmark of k-NN in D = 64 (development aid).
use keops::prelude::*;
use std::time::Instant;
fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let x = Array2::from_shape_fn((n, 64), |(i, k)| ((i * 7 + k * 3) % 101) as f32 * 0.01);
    let y = Array2::from_shape_fn((n, 64), |(i, k)| ((i * 5 + k * 11) % 97) as f32 * 0.01);
    let k = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
        sqdist(x, y),
        10
    ));
    let s = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| sum_j(sqdist(x, y)));
    for _ in 0..3 {
        let t = Instant::now();
        let out = k.call(&x, &y)?;
        let e = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let o2 = s.call(&x, &y)?;
        let e2 = t.elapsed().as_secs_f64();
        println!(
            "knn {:.3} s {:.3} G pairs/s {} | sum {:.3} G pairs/s {}",
            e,
            (n * n) as f64 / e / 1e9,
            out[[0, 0]],
            (n * n) as f64 / e2 / 1e9,
            o2[[0, 0]]
        );
    }
    Ok(())
}
