//! Micro-benchmarks of Gaussian-sum variants (development aid):
//! `cargo run --release --example bench_gauss -- <n> <mode>` with mode in
//! `f32`, `f64`, `b16`, `grad`, `lse`.
use keops::prelude::*;
use std::time::Instant;

fn report(what: &str, n: usize, mut f: impl FnMut() -> f64) {
    let mut best = f64::INFINITY;
    let mut v = 0.0;
    for _ in 0..3 {
        let t = Instant::now();
        v = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{what}: {:.3} s {:.2} G pairs/s ({v})",
        best,
        (n * n) as f64 / best / 1e9
    );
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30_000);
    let mode = std::env::args().nth(2).unwrap_or_else(|| "f32".into());
    let x = Array2::from_shape_fn((n, 3), |(i, k)| ((i * 7 + k * 3) % 101) as f32 * 0.01);
    let y = Array2::from_shape_fn((n, 3), |(i, k)| ((i * 5 + k * 11) % 97) as f32 * 0.01);
    let b = Array2::from_shape_fn((n, 1), |(i, _)| (i % 13) as f32 * 0.1);
    let b16 = Array2::from_shape_fn((n, 16), |(i, k)| ((i + k) % 13) as f32 * 0.1);
    let g = [0.5f32];
    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    match mode.as_str() {
        "f32" => report("gauss f32", n, || {
            k.call(&x, &y, &b, &g).unwrap()[[0, 0]] as f64
        }),
        "f64" => {
            let (x, y, b) = (
                x.mapv(|v| v as f64),
                y.mapv(|v| v as f64),
                b.mapv(|v| v as f64),
            );
            report("gauss f64", n, || {
                k.call(&x, &y, &b, &[0.5]).unwrap()[[0, 0]]
            })
        }
        "b16" => {
            let k16 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<16>, g: Pm<1>| {
                sum_j(exp(-g * sqdist(x, y)) * b)
            });
            report("gauss b16", n, || {
                k16.call(&x, &y, &b16, &g).unwrap()[[0, 0]] as f64
            })
        }
        "grad" => {
            let e = Array2::<f32>::ones((n, 1));
            let gx = k.grad_x();
            report("grad", n, || {
                gx.call(&x, &y, &b, &g, &e).unwrap()[[0, 0]] as f64
            })
        }
        "lse" => {
            let l = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(
                -g * sqdist(x, y)
            ));
            report("lse", n, || l.call(&x, &y, &g).unwrap()[[0, 0]] as f64)
        }
        m => panic!("unknown mode {m}"),
    }
    Ok(())
}
