//! Criterion benchmarks of the CPU engine on the workloads of the
//! CPU-speed targets (f32 unless noted): Gaussian sum in D = 3 (f32, f64,
//! b of dimension 16), log-sum-exp, the Gaussian sum's x-gradient, k-NN
//! with K = 10 in D = 3 and D = 64. Sizes are smaller than in
//! `benches/compare_pykeops.py` (M = N = 2e4, 5e3 for D = 64) so that a full
//! run stays short; throughput is reported in pairs per second.
//!
//! ```text
//! cargo bench --bench kernels                 # all workloads
//! cargo bench --bench kernels -- knn          # one group
//! RAYON_NUM_THREADS=1 cargo bench --bench kernels   # single-thread scaling row
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keops::prelude::*;

/// Reproducible uniform data in [0, 1).
fn data(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    Array2::from_shape_fn((rows, cols), |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    })
}

fn gaussian(c: &mut Criterion) {
    let n = 20_000;
    let (x, y) = (data(n, 3, 1), data(n, 3, 2));
    let b = data(n, 1, 3);
    let b16 = data(n, 16, 4);
    let g = [0.5f32];
    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let k16 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<16>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let lse = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(
        -g * sqdist(x, y)
    ));
    let (x64, y64, b64) = (x.mapv(f64::from), y.mapv(f64::from), b.mapv(f64::from));
    let e = Array2::<f32>::ones((n, 1));
    let mut grp = c.benchmark_group("gaussian");
    grp.throughput(Throughput::Elements((n * n) as u64));
    grp.sample_size(10);
    grp.bench_function("sum_f32", |bch| {
        bch.iter(|| k.call(&x, &y, &b, &g).unwrap())
    });
    grp.bench_function("sum_f64", |bch| {
        bch.iter(|| k.call(&x64, &y64, &b64, &[0.5]).unwrap())
    });
    grp.bench_function("sum_b16", |bch| {
        bch.iter(|| k16.call(&x, &y, &b16, &g).unwrap())
    });
    grp.bench_function("logsumexp", |bch| {
        bch.iter(|| lse.call(&x, &y, &g).unwrap())
    });
    grp.bench_function("grad_x", |bch| {
        bch.iter(|| k.grad_x().call(&x, &y, &b, &g, &e).unwrap())
    });
    grp.finish();
}

fn knn(c: &mut Criterion) {
    let n = 20_000;
    let (x, y) = (data(n, 3, 5), data(n, 3, 6));
    let k3 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| argkmin_j(
        sqdist(x, y),
        10
    ));
    let mut grp = c.benchmark_group("knn");
    grp.sample_size(10);
    grp.throughput(Throughput::Elements((n * n) as u64));
    grp.bench_function("k10_d3", |bch| bch.iter(|| k3.call(&x, &y).unwrap()));
    let n64 = 5_000;
    let (x, y) = (data(n64, 64, 7), data(n64, 64, 8));
    let k64 = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
        sqdist(x, y),
        10
    ));
    grp.throughput(Throughput::Elements((n64 * n64) as u64));
    grp.bench_function("k10_d64", |bch| bch.iter(|| k64.call(&x, &y).unwrap()));
    grp.finish();
}

fn small(c: &mut Criterion) {
    let n = 1_000;
    let (x, y) = (data(n, 3, 9), data(n, 3, 10));
    let b = data(n, 1, 11);
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let mut grp = c.benchmark_group("small");
    grp.throughput(Throughput::Elements((n * n) as u64));
    grp.bench_function("gauss_1e3", |bch| {
        bch.iter(|| k.call(&x, &y, &b, &[0.5f32]).unwrap())
    });
    grp.finish();
}

criterion_group!(benches, gaussian, knn, small);
criterion_main!(benches);
