//! Block-sparse Gaussian convolution on clustered points: the whole recipe
//! of `keops::cluster` (KeOps' `ranges`), timed against the dense kernel.
//!
//! ```text
//! cargo run --release --example cluster_gauss -- [n] [runs] [mask.pgm]
//! ```
//!
//! `n` points x_i and `n` points y_j (default 200 000 each) are drawn
//! around the same Gaussian blobs in 3D, and `a_i = sum_j exp(-|x_i -
//! y_j|^2 / (2 s^2)) b_j` is computed twice: densely (every pair), and on
//! the pairs of clusters whose centroids are close enough for the kernel to
//! matter (a truncated Gaussian). The program prints the fraction of pairs
//! kept, the median time of each over `runs` calls (default 3), the
//! truncation error against the dense result, and the error of the
//! block-sparse result against an f64 sum over exactly the kept pairs on
//! sampled rows. With a third argument it writes the kept cluster-to-cluster
//! mask as a PGM picture (white: kept).
//!
//! The steps:
//! 1. `grid_cluster`: labels from cubic cells of side `VOXEL`;
//! 2. `sort_clusters`: clusters contiguous, and the permutations that put
//!    results back in the original order (`b` is sorted with `y`'s);
//! 3. `cluster_ranges_centroids`: each cluster's `[start, end)` and centroid;
//! 4. `distance_mask`: the cluster pairs closer than the truncation radius
//!    plus the cells' diameter (so that no pair of points closer than the
//!    radius is dropped);
//! 5. `from_matrix`: the `Ranges`, given to the kernel with `.ranges(&r)`;
//! 6. `unsort_rows`: the result in the original order of the x_i.
use std::time::Instant;

use keops::cluster::{
    cluster_ranges_centroids, distance_mask, from_matrix, grid_cluster, sort_clusters,
};
use keops::prelude::*;

/// Kernel width.
const SIGMA: f64 = 0.5;
/// Truncation radius: exp(-r^2 / (2 s^2)) = exp(-18) ~ 1.5e-8 at r = 6 s.
const RADIUS: f64 = 6.0 * SIGMA;
/// Side of the cells of `grid_cluster`.
const VOXEL: f64 = 1.5;
/// Number of blobs, their spread, and the side of the box of their centres.
const BLOBS: usize = 60;
const SPREAD: f64 = 1.0;
const BOX: f64 = 40.0;

fn gaussian(r: &mut fastrand::Rng) -> f64 {
    // Box-Muller.
    let (u, v) = (r.f64().max(1e-300), r.f64());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn blobs(r: &mut fastrand::Rng, centres: &Array2<f64>, n: usize) -> Array2<f32> {
    let mut x = Array2::zeros((n, 3));
    for i in 0..n {
        let c = r.usize(..centres.nrows());
        for k in 0..3 {
            x[[i, k]] = (centres[[c, k]] + SPREAD * gaussian(r)) as f32;
        }
    }
    x
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn time<R>(runs: usize, mut f: impl FnMut() -> Result<R>) -> Result<(f64, R)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed().as_secs_f64());
    }
    Ok((median(times), last.expect("runs >= 1")))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let pgm = args.get(3);

    let mut rng = fastrand::Rng::with_seed(42);
    let centres = Array2::from_shape_fn((BLOBS, 3), |_| BOX * rng.f64());
    let x = blobs(&mut rng, &centres, n);
    let y = blobs(&mut rng, &centres, n);
    let b = Array2::from_shape_fn((n, 1), |_| (0.5 + rng.f64()) as f32);
    let g = [(1.0 / (2.0 * SIGMA * SIGMA)) as f32];
    let k = keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));

    // 1-3. Clusters, sorted, with their ranges and centroids.
    let t0 = Instant::now();
    let (lx, ly) = (
        grid_cluster(x.view(), &[VOXEL])?,
        grid_cluster(y.view(), &[VOXEL])?,
    );
    let (xs, lxs, perm_x) = sort_clusters(x.view(), &lx)?;
    let (ys, lys, perm_y) = sort_clusters(y.view(), &ly)?;
    let bs = perm_y.sort_rows(b.view())?;
    let cx = cluster_ranges_centroids(xs.view(), &lxs, None)?;
    let cy = cluster_ranges_centroids(ys.view(), &lys, None)?;
    // 4-5. Cluster pairs within the radius (plus a cell diagonal on each side).
    let keep = distance_mask(
        cx.centroids.view(),
        cy.centroids.view(),
        RADIUS + 2.0 * VOXEL * 3f64.sqrt(),
    );
    let ranges = from_matrix(&cx.ranges, &cy.ranges, keep.view())?;
    let setup = t0.elapsed().as_secs_f64();
    let kept = ranges.kept_pairs() as f64 / (n as f64 * n as f64);
    println!(
        "{n} x {n} points, {} x {} clusters, {} cluster pairs kept: {:.2} % of the point pairs \
         (clustering and ranges: {setup:.3} s)",
        cx.ranges.len(),
        cy.ranges.len(),
        keep.iter().filter(|&&k| k).count(),
        100.0 * kept
    );

    // Timings: the dense kernel and the block-sparse one, on the same sorted data.
    let (t_dense, dense) = time(runs, || k.call(&xs, &ys, &bs, &g))?;
    let kr = k.ranges(&ranges);
    let (t_sparse, sparse) = time(runs, || kr.call(&xs, &ys, &bs, &g))?;
    println!(
        "dense:        {t_dense:.3} s ({:.2} G pairs/s)",
        (n * n) as f64 / t_dense / 1e9
    );
    println!(
        "block-sparse: {t_sparse:.3} s ({:.2} G kept pairs/s): {:.1}x faster",
        kept * (n * n) as f64 / t_sparse / 1e9,
        t_dense / t_sparse
    );

    // 6. Back to the original order of the x_i.
    let a = perm_x.unsort_rows(sparse.view())?;
    let a_dense = perm_x.unsort_rows(dense.view())?;
    let scale = a_dense.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
    let trunc = a
        .iter()
        .zip(&a_dense)
        .fold(0.0f64, |m, (&s, &d)| m.max((s as f64 - d as f64).abs()));
    println!(
        "truncation error against the dense result: {:.2e} (max |a_sparse - a_dense| / max |a|)",
        trunc / scale
    );
    // The block-sparse result is the sum over the kept pairs: check it in
    // f64 on sampled rows, on the original (unsorted) points.
    let mut worst = 0.0f64;
    for s in 0..200 {
        let i = (s * 7919) % n;
        let mut want = 0.0f64;
        for j in 0..n {
            if keep[[lx[i], ly[j]]] {
                let d2: f64 = (0..3)
                    .map(|c| (x[[i, c]] as f64 - y[[j, c]] as f64).powi(2))
                    .sum();
                want += (-d2 * g[0] as f64).exp() * b[[j, 0]] as f64;
            }
        }
        worst = worst.max((a[[i, 0]] as f64 - want).abs() / scale);
    }
    println!("error against an f64 sum over the kept pairs (200 rows): {worst:.2e}");

    if let Some(path) = pgm {
        let (h, w) = keep.dim();
        let mut img = format!("P5\n{w} {h}\n255\n").into_bytes();
        img.extend(keep.iter().map(|&k| if k { 255u8 } else { 0 }));
        std::fs::write(path, img).map_err(|e| Error::Unsupported(format!("{path}: {e}")))?;
        println!("kept cluster pairs: {path} ({h} x {w}, white: kept)");
    }
    Ok(())
}
