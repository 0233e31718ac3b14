//! Micro-benchmark of k-NN (K = 10) in D = 64, or D = 3 with a second
//! argument `3` (development aid): `cargo run --release --example bench_knn -- <n> [3]`.
use keops::prelude::*;
use std::time::Instant;
fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut s = 12345u64;
    let mut r = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    if std::env::args().nth(2).as_deref() == Some("3") {
        let x = Array2::from_shape_fn((n, 3), |_| r());
        let y = Array2::from_shape_fn((n, 3), |_| r());
        let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| argkmin_j(
            sqdist(x, y),
            10
        ));
        for _ in 0..5 {
            let t = Instant::now();
            let out = k.call(&x, &y)?;
            let e = t.elapsed().as_secs_f64();
            println!(
                "knn D=3 {:.4} s {:.3} G pairs/s {}",
                e,
                (n * n) as f64 / e / 1e9,
                out[[0, 0]]
            );
        }
        return Ok(());
    }
    let x = Array2::from_shape_fn((n, 64), |_| r());
    let y = Array2::from_shape_fn((n, 64), |_| r());
    let k = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
        sqdist(x, y),
        10
    ));
    let s = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| sum_j(sqdist(x, y)));
    eprintln!(
        "pair ops {} nof {} nnf {}",
        k.stages()[0].pair_ops,
        k.stages()[0].nof,
        k.stages()[0].nnf
    );
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
