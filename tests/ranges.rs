//! Block-sparse reductions (`ranges`): every reduction kind, over i and
//! over j, gradients, symbolic matrices, ranges built by hand and with the
//! clustering helpers, rows without pairs, and bad ranges. Every result is
//! compared with a dense computation restricted to the same pairs, written
//! out in f64 here (the mask of kept pairs is rebuilt from the raw 6-tuple
//! or from the cluster labels, independently of the library). Most checks
//! run on every CPU SIMD level and then on the GPU back ends
//! (`every_back_end`, `gpu_backends`): the PTX kernels through the
//! simulator, and on CUDA device 0 when built with `--features cuda` and a
//! device is present; the `gpu_*` tests add smaller ranges for every
//! reduction kind there.

use keops::cluster::{
    cluster_ranges_centroids, distance_mask, from_matrix, grid_cluster, sort_clusters,
};
use keops::prelude::*;

// ---------------------------------------------------------------------------
// Data and masks.

fn rng(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed)
}

fn uniform(r: &mut fastrand::Rng, m: usize, d: usize, lo: f64, hi: f64) -> Array2<f64> {
    Array2::from_shape_fn((m, d), |_| lo + (hi - lo) * r.f64())
}

/// Points around `c` blob centres in [0, 10]^d (spread 0.4).
fn blobs(r: &mut fastrand::Rng, m: usize, d: usize, c: usize) -> Array2<f64> {
    let centres = uniform(r, c, d, 0.0, 10.0);
    let mut x = Array2::zeros((m, d));
    for i in 0..m {
        let k = r.usize(..c);
        for q in 0..d {
            // A cheap bell: the mean of three uniforms.
            let g = (r.f64() + r.f64() + r.f64() - 1.5) * 0.8;
            x[[i, q]] = centres[[k, q]] + g;
        }
    }
    x
}

/// The pairs kept by a triple, as a dense mask, read from the raw arrays.
fn mask_of(
    m: usize,
    n: usize,
    ranges: &[[usize; 2]],
    slices: &[usize],
    red: &[[usize; 2]],
) -> Vec<Vec<bool>> {
    let mut mask = vec![vec![false; n]; m];
    let mut s0 = 0;
    for (k, r) in ranges.iter().enumerate() {
        for l in s0..slices[k] {
            for i in r[0]..r[1] {
                for j in red[l][0]..red[l][1] {
                    mask[i][j] = true;
                }
            }
        }
        s0 = slices[k];
    }
    mask
}

fn transpose(mask: &[Vec<bool>], n: usize) -> Vec<Vec<bool>> {
    (0..n)
        .map(|j| mask.iter().map(|row| row[j]).collect())
        .collect()
}

/// The transposed triple of (ranges_i, slices_i, redranges_j), built here:
/// the j axis is cut at every end of a j-range; each piece is a block of
/// j rows reducing over the i-blocks whose j-ranges contain it.
#[allow(clippy::type_complexity)]
fn transposed(
    ranges_i: &[[usize; 2]],
    slices_i: &[usize],
    redranges_j: &[[usize; 2]],
) -> (Vec<[usize; 2]>, Vec<usize>, Vec<[usize; 2]>) {
    let mut cuts: Vec<usize> = redranges_j.iter().flat_map(|r| [r[0], r[1]]).collect();
    cuts.sort();
    cuts.dedup();
    let (mut rj, mut sj, mut ri) = (vec![], vec![], vec![]);
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let mut s0 = 0;
        for (k, r) in ranges_i.iter().enumerate() {
            if (s0..slices_i[k]).any(|l| redranges_j[l][0] <= a && b <= redranges_j[l][1]) {
                ri.push(*r);
            }
            s0 = slices_i[k];
        }
        rj.push([a, b]);
        sj.push(ri.len());
    }
    (rj, sj, ri)
}

/// Hand-built ranges over M = 700 i rows and N = 2500 j rows: unsorted
/// blocks, rows in no block, a block with no j-range, unsorted and
/// adjacent j-ranges, ranges that start and end inside SIMD packs and
/// cross tile boundaries, one-row and one-column blocks, a full block.
const M: usize = 700;
const N: usize = 2500;

fn hand_ranges() -> (Ranges, Vec<Vec<bool>>) {
    let ranges_i = [
        [0, 37],
        [37, 40],
        [100, 300],
        [300, 301],
        [450, 700],
        [40, 100],
    ];
    let blocks: [&[[usize; 2]]; 6] = [
        &[[5, 1029], [2000, 2003]],
        &[],
        &[[1500, 2500], [0, 17], [17, 30]],
        &[[1023, 1025]],
        &[[3, 4], [700, 2100]],
        &[[0, 2500]],
    ];
    let mut slices_i = vec![];
    let mut red_j = vec![];
    for b in blocks {
        red_j.extend_from_slice(b);
        slices_i.push(red_j.len());
    }
    let (rj, sj, ri) = transposed(&ranges_i, &slices_i, &red_j);
    let mask = mask_of(M, N, &ranges_i, &slices_i, &red_j);
    // The transposed triple keeps the same pairs (checked here, by hand).
    assert_eq!(transpose(&mask_of(N, M, &rj, &sj, &ri), M), mask);
    let r = Ranges::new(&ranges_i, &slices_i, &red_j, &rj, &sj, &ri).unwrap();
    (r, mask)
}

fn close(a: f64, b: f64, tol: f64, scale: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= tol * scale.max(1.0)
}

fn assert_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    let scale = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |s, v| s.max(v.abs()));
    for ((i, c), &w) in want.indexed_iter() {
        let g = got[[i, c]];
        assert!(
            close(g, w, tol, scale),
            "{what}: [{i}, {c}] = {g}, expected {w} (scale {scale})"
        );
    }
}

fn f32s(a: &Array2<f64>) -> Array2<f32> {
    a.mapv(|v| v as f32)
}

fn f64s(a: &Array2<f32>) -> Array2<f64> {
    a.mapv(|v| v as f64)
}

fn sqd(x: &Array2<f64>, i: usize, y: &Array2<f64>, j: usize) -> f64 {
    x.row(i)
        .iter()
        .zip(y.row(j))
        .map(|(a, b)| (a - b) * (a - b))
        .sum()
}

// ---------------------------------------------------------------------------
// Sums: forward over j and i, every SIMD level, sum scheme, thread count,
// f32 and f64; every gradient.

/// sum_j exp(-g |x - y|^2) b over the kept pairs.
fn gauss_ref(
    x: &Array2<f64>,
    y: &Array2<f64>,
    b: &Array2<f64>,
    g: f64,
    mask: &[Vec<bool>],
) -> Array2<f64> {
    let mut out = Array2::zeros((x.nrows(), b.ncols()));
    for i in 0..x.nrows() {
        for j in 0..y.nrows() {
            if mask[i][j] {
                let k = (-g * sqd(x, i, y, j)).exp();
                for c in 0..b.ncols() {
                    out[[i, c]] += k * b[[j, c]];
                }
            }
        }
    }
    out
}

#[test]
fn gauss_sum_over_j_every_level_scheme_and_thread_count() {
    let (r, mask) = hand_ranges();
    let mut g = rng(1);
    let x = uniform(&mut g, M, 3, 0.0, 1.0);
    let y = uniform(&mut g, N, 3, 0.0, 1.0);
    let b = uniform(&mut g, N, 2, -1.0, 1.0);
    let want = gauss_ref(&x, &y, &b, 2.0, &mask);
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .ranges(&r);
    for level in keops::simd::supported_levels() {
        for scheme in [SumScheme::Block, SumScheme::Direct, SumScheme::Kahan] {
            for threads in [1, 3] {
                let kk = k.simd(level).sum_scheme(scheme).threads(threads);
                let what = format!("{level:?} {scheme:?} {threads} threads");
                let o = kk.call(&x, &y, &b, &[2.0]).unwrap();
                assert_close(&o, &want, 1e-12, &format!("f64 {what}"));
                let o = kk.call(&f32s(&x), &f32s(&y), &f32s(&b), &[2.0f32]).unwrap();
                assert_close(&f64s(&o), &want, 2e-5, &format!("f32 {what}"));
            }
        }
    }
    // f64 accumulation of f32 data.
    let o = k
        .f64_accumulation(true)
        .call(&f32s(&x), &f32s(&y), &f32s(&b), &[2.0f32])
        .unwrap();
    let want32 = gauss_ref(
        &f64s(&f32s(&x)),
        &f64s(&f32s(&y)),
        &f64s(&f32s(&b)),
        2.0,
        &mask,
    );
    assert_close(&f64s(&o), &want32, 1e-6, "f64 accumulation");
    // Rows in no block (301..450) and the block without j-range (37..40)
    // are exactly 0; `.without_ranges()` gives the full reduction back.
    for i in (301..450).chain(37..40) {
        assert!(o.row(i).iter().all(|&v| v == 0.0), "row {i}");
    }
    let full = vec![vec![true; N]; M];
    let o = k.without_ranges().call(&x, &y, &b, &[2.0]).unwrap();
    assert_close(&o, &gauss_ref(&x, &y, &b, 2.0, &full), 1e-12, "dense");
    // The GPU back ends on the same ranges (long spans over many tiles).
    for (name, be, block) in gpu_backends() {
        let kg = on_gpu(k, be, block);
        let o = kg.call(&x, &y, &b, &[2.0]).unwrap();
        assert_close(&o, &want, 1e-13, &format!("f64 {name}"));
        let o = kg.call(&f32s(&x), &f32s(&y), &f32s(&b), &[2.0f32]).unwrap();
        assert_close(&f64s(&o), &want, 2e-5, &format!("f32 {name}"));
    }
}

#[test]
fn sum_over_i_uses_the_transposed_triple() {
    let (r, mask) = hand_ranges();
    let mut g = rng(2);
    let x = uniform(&mut g, M, 3, 0.0, 1.0);
    let y = uniform(&mut g, N, 3, 0.0, 1.0);
    let a = uniform(&mut g, M, 2, -1.0, 1.0);
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, a: Vi<2>| sum_i(
        exp(-sqdist(x, y)) * a
    ))
    .ranges(&r);
    let mt = transpose(&mask, N);
    let want = gauss_ref(&y, &x, &a, 1.0, &mt);
    for (level, o) in every_back_end(k.options()) {
        let o = k.with_options(o).call(&x, &y, &a).unwrap();
        assert_close(&o, &want, 1e-12, &format!("{level:?}"));
    }
    // The same with axes swapped: the formula over j on (y, x). (The kernel
    // holds a handle: the swapped ranges must outlive its calls.)
    let swapped = r.swap_axes();
    let ks = keops!(grad_order = 0, |y: Vi<3>, x: Vj<3>, a: Vj<2>| sum_j(
        exp(-sqdist(x, y)) * a
    ))
    .ranges(&swapped);
    assert_close(&ks.call(&y, &x, &a).unwrap(), &want, 1e-12, "swap_axes");
}

/// The gradients of the ranged Gaussian sum `sum_j exp(-g |x_i - y_j|^2) b_j`
/// against the cotangent `e`, over the pairs kept by `mask`, derived by
/// hand: d/dx_i = sum_j (e_i . b_j) K_ij (-2g) (x_i - y_j); d/dy_j the
/// opposite summed over i; d/db_j = sum_i K_ij e_i; d/dg = -sum_ij
/// (e_i . b_j) K_ij |x_i - y_j|^2. Returns (d/dx, d/dy, d/db, d/dg).
fn gauss_gradients_ref(
    x: &Array2<f64>,
    y: &Array2<f64>,
    b: &Array2<f64>,
    e: &Array2<f64>,
    gm: f64,
    mask: &[Vec<bool>],
) -> (Array2<f64>, Array2<f64>, Array2<f64>, f64) {
    let (m, n) = (x.nrows(), y.nrows());
    let mut gx = Array2::<f64>::zeros((m, 3));
    let mut gy = Array2::<f64>::zeros((n, 3));
    let mut gb = Array2::<f64>::zeros((n, 2));
    let mut gg = 0.0;
    for i in 0..m {
        for j in (0..n).filter(|&j| mask[i][j]) {
            let d2 = sqd(x, i, y, j);
            let kij = (-gm * d2).exp();
            let eb = e[[i, 0]] * b[[j, 0]] + e[[i, 1]] * b[[j, 1]];
            for c in 0..3 {
                let t = eb * kij * (-2.0 * gm) * (x[[i, c]] - y[[j, c]]);
                gx[[i, c]] += t;
                gy[[j, c]] -= t;
            }
            for c in 0..2 {
                gb[[j, c]] += kij * e[[i, c]];
            }
            gg -= eb * kij * d2;
        }
    }
    (gx, gy, gb, gg)
}

/// The Gaussian's gradient kernels with ranges: on every back end with the
/// hand-made ranges, and on the GPU back ends with the small ranges (spans
/// that start and end inside tiles), against [`gauss_gradients_ref`].
#[test]
fn gauss_gradients() {
    let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let gm = 1.5;
    let cases = [
        (hand_ranges(), M, N, 3, true),
        (small_ranges(), MS, NS, 24, false),
    ];
    for ((r, mask), m, n, seed, cpu) in cases {
        let mut g = rng(seed);
        let x = uniform(&mut g, m, 3, 0.0, 1.0);
        let y = uniform(&mut g, n, 3, 0.0, 1.0);
        let b = uniform(&mut g, n, 2, -1.0, 1.0);
        let e = uniform(&mut g, m, 2, -1.0, 1.0);
        let (gx, gy, gb, gg) = gauss_gradients_ref(&x, &y, &b, &e, gm, &mask);
        let k = k.ranges(&r);
        let variants: Vec<(String, Options)> = if cpu {
            every_back_end(k.options())
        } else {
            gpu_backends()
                .into_iter()
                .map(|(name, be, block)| (name, on_gpu(k, be, block).options()))
                .collect()
        };
        for (name, o) in variants {
            let kl = k.with_options(o);
            let what = format!("{name} (M = {m}, N = {n})");
            let o = kl.grad_x().call(&x, &y, &b, &[gm], &e).unwrap();
            assert_close(&o, &gx, 1e-11, &format!("grad_x {what}"));
            let o = kl.grad_y().call(&x, &y, &b, &[gm], &e).unwrap();
            assert_close(&o, &gy, 1e-11, &format!("grad_y {what}"));
            let o = kl.grad_b().call(&x, &y, &b, &[gm], &e).unwrap();
            assert_close(&o, &gb, 1e-11, &format!("grad_b {what}"));
            let o = kl.grad_g().call(&x, &y, &b, &[gm], &e).unwrap();
            assert!(
                close(o[0], gg, 1e-10, gg.abs()),
                "grad_g {what}: {} vs {gg}",
                o[0]
            );
            // f32.
            let o = kl
                .grad_y()
                .call(&f32s(&x), &f32s(&y), &f32s(&b), &[gm as f32], &f32s(&e))
                .unwrap();
            assert_close(&f64s(&o), &gy, 1e-4, &format!("grad_y f32 {what}"));
        }
    }
}

// ---------------------------------------------------------------------------
// The other reductions.

#[test]
fn logsumexp_and_its_gradients() {
    let (r, mask) = hand_ranges();
    let mut g = rng(4);
    let x = uniform(&mut g, M, 2, 0.0, 2.0);
    let y = uniform(&mut g, N, 2, 0.0, 2.0);
    let e = uniform(&mut g, M, 1, -1.0, 1.0);
    let k = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| logsumexp_j(
        -sqdist(x, y) * 4.0
    ))
    .ranges(&r);
    let mut lse = Array2::<f64>::from_elem((M, 1), f64::NEG_INFINITY);
    for i in 0..M {
        let fs: Vec<f64> = (0..N)
            .filter(|&j| mask[i][j])
            .map(|j| -4.0 * sqd(&x, i, &y, j))
            .collect();
        if let Some(mx) = fs.iter().copied().reduce(f64::max) {
            lse[[i, 0]] = mx + fs.iter().map(|f| (f - mx).exp()).sum::<f64>().ln();
        }
    }
    // d/dx_i = e_i sum_j p_ij (-8) (x_i - y_j), d/dy_j = -sum_i e_i p_ij (-8) (x_i - y_j).
    let mut gx = Array2::<f64>::zeros((M, 2));
    let mut gy = Array2::<f64>::zeros((N, 2));
    for i in 0..M {
        for j in 0..N {
            if mask[i][j] {
                let p = (-4.0 * sqd(&x, i, &y, j) - lse[[i, 0]]).exp();
                for c in 0..2 {
                    let t = e[[i, 0]] * p * -8.0 * (x[[i, c]] - y[[j, c]]);
                    gx[[i, c]] += t;
                    gy[[j, c]] -= t;
                }
            }
        }
    }
    for (level, o) in every_back_end(k.options()) {
        let kl = k.with_options(o);
        let o = kl.call(&x, &y).unwrap();
        assert_close(&o, &lse, 1e-12, &format!("lse {level:?}"));
        assert!(o[[350, 0]] == f64::NEG_INFINITY && o[[38, 0]] == f64::NEG_INFINITY);
        let o = kl.grad_x().call(&x, &y, &e).unwrap();
        assert_close(&o, &gx, 1e-10, &format!("lse grad_x {level:?}"));
        let o = kl.grad_y().call(&x, &y, &e).unwrap();
        assert_close(&o, &gy, 1e-10, &format!("lse grad_y {level:?}"));
        let o = kl.call(&f32s(&x), &f32s(&y)).unwrap();
        assert_close(&f64s(&o), &lse, 2e-5, &format!("lse f32 {level:?}"));
    }
}

#[test]
fn softmax_weighted_sum() {
    let (r, mask) = hand_ranges();
    let mut g = rng(5);
    let x = uniform(&mut g, M, 2, 0.0, 2.0);
    let y = uniform(&mut g, N, 2, 0.0, 2.0);
    let w = uniform(&mut g, N, 3, -1.0, 1.0);
    let k = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, w: Vj<3>| {
        sumsoftmaxweight_j(-sqdist(x, y) * 3.0, w)
    })
    .ranges(&r);
    let mut want = Array2::<f64>::zeros((M, 3));
    for i in 0..M {
        let js: Vec<usize> = (0..N).filter(|&j| mask[i][j]).collect();
        let Some(mx) = js
            .iter()
            .map(|&j| -3.0 * sqd(&x, i, &y, j))
            .reduce(f64::max)
        else {
            continue;
        };
        let mut den = 0.0;
        for &j in &js {
            let p = (-3.0 * sqd(&x, i, &y, j) - mx).exp();
            den += p;
            for c in 0..3 {
                want[[i, c]] += p * w[[j, c]];
            }
        }
        for c in 0..3 {
            want[[i, c]] /= den;
        }
    }
    for (level, o) in every_back_end(k.options()) {
        let o = k.with_options(o).call(&x, &y, &w).unwrap();
        assert_close(&o, &want, 1e-12, &format!("{level:?}"));
    }
}

/// (value, index) of the minimum over kept pairs, ties to the smaller index.
fn argmin_ref(vals: impl Iterator<Item = (f64, usize)>) -> (f64, usize) {
    vals.fold((f64::INFINITY, usize::MAX), |best, (v, j)| {
        if v < best.0 || (v == best.0 && j < best.1) {
            (v, j)
        } else {
            best
        }
    })
}

#[test]
fn min_argmin_over_j_and_over_i() {
    let (r, mask) = hand_ranges();
    let mut g = rng(6);
    let x = uniform(&mut g, M, 3, 0.0, 1.0);
    let y = uniform(&mut g, N, 3, 0.0, 1.0);
    let kj = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| min_argmin_j(sqdist(
        x, y
    )))
    .ranges(&r);
    let ki = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| argmax_i((x | y))).ranges(&r);
    let mt = transpose(&mask, N);
    for (level, o) in every_back_end(kj.options()) {
        for dtype in ["f64", "f32"] {
            let ((v, ix), ia) = if dtype == "f64" {
                (
                    kj.with_options(o).call(&x, &y).unwrap(),
                    ki.with_options(o).call(&x, &y).unwrap(),
                )
            } else {
                let (v, ix) = kj.with_options(o).call(&f32s(&x), &f32s(&y)).unwrap();
                (
                    (f64s(&v), ix),
                    ki.with_options(o).call(&f32s(&x), &f32s(&y)).unwrap(),
                )
            };
            let tol = if dtype == "f64" { 1e-14 } else { 1e-6 };
            for i in 0..M {
                let (bv, bj) = argmin_ref(
                    (0..N)
                        .filter(|&j| mask[i][j])
                        .map(|j| (sqd(&x, i, &y, j), j)),
                );
                let what = format!("min_argmin {level:?} {dtype} row {i}");
                assert!(
                    close(v[[i, 0]], bv, tol, 1.0),
                    "{what}: {} vs {bv}",
                    v[[i, 0]]
                );
                if dtype == "f64" {
                    assert_eq!(ix[[i, 0]], bj, "{what}");
                } else if bj != usize::MAX {
                    // f32: the index found holds a value within rounding of the minimum.
                    assert!(mask[i][ix[[i, 0]]], "{what}: index of a skipped pair");
                    assert!(close(sqd(&x, i, &y, ix[[i, 0]]), bv, tol, 1.0), "{what}");
                } else {
                    assert_eq!(ix[[i, 0]], usize::MAX, "{what}");
                }
            }
            for j in 0..N {
                let dot = |i: usize| -> f64 { (0..3).map(|c| x[[i, c]] * y[[j, c]]).sum() };
                let (_, bi) = argmin_ref((0..M).filter(|&i| mt[j][i]).map(|i| (-dot(i), i)));
                let what = format!("argmax_i {level:?} {dtype} column {j}");
                if dtype == "f64" || bi == usize::MAX {
                    assert_eq!(ia[[j, 0]], bi, "{what}");
                } else {
                    assert!(mt[j][ia[[j, 0]]], "{what}: index of a skipped pair");
                    assert!(close(dot(ia[[j, 0]]), dot(bi), 1e-6, 1.0), "{what}");
                }
            }
        }
    }
    // Rows without pairs: +inf and no index.
    let (v, ix) = kj.call(&x, &y).unwrap();
    assert_eq!((v[[400, 0]], ix[[400, 0]]), (f64::INFINITY, usize::MAX));
    assert_eq!((v[[39, 0]], ix[[39, 0]]), (f64::INFINITY, usize::MAX));
}

#[test]
fn kmin_argkmin_with_ties() {
    let (r, mask) = hand_ranges();
    let mut g = rng(7);
    // Coarse values: many ties, broken by the smaller index.
    let x = uniform(&mut g, M, 1, 0.0, 1.0).mapv(|v| (v * 8.0).round());
    let y = uniform(&mut g, N, 1, 0.0, 1.0).mapv(|v| (v * 8.0).round());
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
        abs(x - y),
        5
    ))
    .ranges(&r);
    let ka = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| argkmin_j(
        abs(x - y),
        3
    ))
    .ranges(&r);
    for (level, o) in every_back_end(k.options()) {
        let (v, ix) = k.with_options(o).call(&x, &y).unwrap();
        let ia = ka.with_options(o).call(&f32s(&x), &f32s(&y)).unwrap();
        for i in 0..M {
            let mut c: Vec<(f64, usize)> = (0..N)
                .filter(|&j| mask[i][j])
                .map(|j| ((x[[i, 0]] - y[[j, 0]]).abs(), j))
                .collect();
            c.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for q in 0..5 {
                let (bv, bj) = c.get(q).copied().unwrap_or((f64::INFINITY, usize::MAX));
                assert_eq!(
                    (v[[i, q]], ix[[i, q]]),
                    (bv, bj),
                    "{level:?} row {i} rank {q}"
                );
                if q < 3 {
                    assert_eq!(ia[[i, q]], bj, "argkmin f32 {level:?} row {i} rank {q}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Few rows, long spans: the engine cuts the spans in segments, merged in
// order (ties and K-lists across segments).

#[test]
fn few_rows_long_spans_are_cut_in_segments() {
    let n = 20_000;
    let ranges_i = [[0, 3], [3, 5]];
    let slices_i = [2, 3];
    let red_j = [[7, 9_000], [9_500, 19_999], [1, 20_000]];
    let (rj, sj, ri) = transposed(&ranges_i, &slices_i, &red_j);
    let r = Ranges::new(&ranges_i, &slices_i, &red_j, &rj, &sj, &ri).unwrap();
    let mask = mask_of(5, n, &ranges_i, &slices_i, &red_j);
    let mut g = rng(8);
    let x = uniform(&mut g, 5, 1, 0.0, 1.0);
    let y = uniform(&mut g, n, 1, 0.0, 1.0).mapv(|v| (v * 50.0).round() / 50.0);
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
        abs(x - y),
        4
    ))
    .ranges(&r);
    let ks = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y)).ranges(&r);
    for threads in [1, 2, 8] {
        let (v, ix) = k.threads(threads).call(&x, &y).unwrap();
        let s = ks.threads(threads).call(&x, &y).unwrap();
        for i in 0..5 {
            let mut c: Vec<(f64, usize)> = (0..n)
                .filter(|&j| mask[i][j])
                .map(|j| ((x[[i, 0]] - y[[j, 0]]).abs(), j))
                .collect();
            c.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for q in 0..4 {
                assert_eq!(
                    (v[[i, q]], ix[[i, q]]),
                    c[q],
                    "{threads} threads row {i} rank {q}"
                );
            }
            let want: f64 = (0..n)
                .filter(|&j| mask[i][j])
                .map(|j| x[[i, 0]] * y[[j, 0]])
                .sum();
            assert!(close(s[[i, 0]], want, 1e-12, want), "sum row {i}");
        }
    }
}

// ---------------------------------------------------------------------------
// Ranges from the clustering helpers, on the original (unsorted) points.

#[test]
fn clustered_truncated_gaussian_in_original_order() {
    let mut g = rng(9);
    let (m, n) = (3000, 2500);
    let x = blobs(&mut g, m, 2, 12);
    let y = blobs(&mut g, n, 2, 12);
    let b = uniform(&mut g, n, 1, 0.5, 1.5);
    let lx = grid_cluster(x.view(), &[0.5]).unwrap();
    let ly = grid_cluster(y.view(), &[0.5]).unwrap();
    let (xs, lxs, px) = sort_clusters(x.view(), &lx).unwrap();
    let (ys, lys, py) = sort_clusters(y.view(), &ly).unwrap();
    let bs = py.sort_rows(b.view()).unwrap();
    let cx = cluster_ranges_centroids(xs.view(), &lxs, None).unwrap();
    let cy = cluster_ranges_centroids(ys.view(), &lys, None).unwrap();
    let keep = distance_mask(cx.centroids.view(), cy.centroids.view(), 1.5);
    let r = from_matrix(&cx.ranges, &cy.ranges, keep.view()).unwrap();
    // The kept pairs, from the labels of the original points.
    let mask: Vec<Vec<bool>> = (0..m)
        .map(|i| (0..n).map(|j| keep[[lx[i], ly[j]]]).collect())
        .collect();
    let kept: usize = mask.iter().map(|r| r.iter().filter(|&&k| k).count()).sum();
    assert_eq!(r.kept_pairs(), kept as u128);
    assert!(
        kept < m * n / 2,
        "the mask should skip pairs ({kept} of {})",
        m * n
    );

    let k = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>, b: Vj<1>| sum_j(
        exp(-sqdist(x, y) * 2.0) * b
    ))
    .ranges(&r);
    let out = px
        .unsort_rows(k.call(&xs, &ys, &bs).unwrap().view())
        .unwrap();
    assert_close(&out, &gauss_ref(&x, &y, &b, 2.0, &mask), 1e-12, "sum_j");
    // The gradient with respect to y: a reduction over i, in j order.
    let e = Array2::<f64>::ones((m, 1));
    let es = px.sort_rows(e.view()).unwrap();
    let gy = py
        .unsort_rows(k.grad_y().call(&xs, &ys, &bs, &es).unwrap().view())
        .unwrap();
    let mut want = Array2::<f64>::zeros((n, 2));
    for i in 0..m {
        for j in 0..n {
            if mask[i][j] {
                let kij = (-2.0 * sqd(&x, i, &y, j)).exp() * b[[j, 0]];
                for c in 0..2 {
                    want[[j, c]] += kij * 4.0 * (x[[i, c]] - y[[j, c]]);
                }
            }
        }
    }
    assert_close(&gy, &want, 1e-11, "grad_y");
    // Nearest kept neighbour, as an index of the original y.
    let kn = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argmin_j(sqdist(x, y))).ranges(&r);
    let nn = py.original_indices(
        px.unsort_rows(kn.call(&xs, &ys).unwrap().view())
            .unwrap()
            .view(),
    );
    for i in 0..m {
        let (_, bj) = argmin_ref(
            (0..n)
                .filter(|&j| mask[i][j])
                .map(|j| (sqd(&x, i, &y, j), j)),
        );
        if bj == usize::MAX {
            assert_eq!(nn[[i, 0]], usize::MAX);
        } else {
            // (Ties between equal distances may pick either original index.)
            assert_eq!(sqd(&x, i, &y, nn[[i, 0]]), sqd(&x, i, &y, bj), "row {i}");
        }
    }
}

// ---------------------------------------------------------------------------
// Symbolic matrices: K @ V and K^T @ U on the kept pairs (the fused path).

#[test]
fn symbolic_matrix_products() {
    let (r, mask) = hand_ranges();
    let mut g = rng(10);
    let x = uniform(&mut g, M, 3, 0.0, 1.0);
    let y = uniform(&mut g, N, 3, 0.0, 1.0);
    let k = keops!(|x: Vi<3>, y: Vj<3>| exp(-sqdist(x, y)));
    let kxy = k.ranges(&r).bind(&x, &y).unwrap();
    let mt = transpose(&mask, N);
    for w in [1, 5] {
        let v = uniform(&mut g, N, w, -1.0, 1.0);
        assert_close(
            &kxy.matmul(&v).unwrap(),
            &gauss_ref(&x, &y, &v, 1.0, &mask),
            1e-12,
            "K v",
        );
        let u = uniform(&mut g, M, w, -1.0, 1.0);
        let want = gauss_ref(&y, &x, &u, 1.0, &mt);
        assert_close(&kxy.t().matmul(&u).unwrap(), &want, 1e-12, "K^T u");
    }
}

// ---------------------------------------------------------------------------
// Errors.

#[test]
fn bad_ranges_are_errors() {
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let x = Array2::<f64>::ones((10, 1));
    let y = Array2::<f64>::ones((20, 1));
    let err = |r: keops::Result<Ranges>| r.unwrap_err().to_string();
    // Built: start past end, decreasing slices, lengths, overlaps, disagreeing triples.
    let e = err(Ranges::new(&[[4, 2]], &[0], &[], &[], &[], &[]));
    assert!(e.contains("ranges_i[0] = [4, 2)"), "{e}");
    let e = err(Ranges::new(
        &[[0, 2], [2, 4]],
        &[2, 1],
        &[[0, 1], [1, 2]],
        &[],
        &[],
        &[],
    ));
    assert!(
        e.contains("slices_i[1] = 1 is less than slices_i[0] = 2"),
        "{e}"
    );
    let e = err(Ranges::new(&[[0, 2]], &[0, 0], &[], &[], &[], &[]));
    assert!(
        e.contains("slices_i has 2 entries but ranges_i has 1"),
        "{e}"
    );
    let e = err(Ranges::new(&[[0, 5], [3, 8]], &[0, 0], &[], &[], &[], &[]));
    assert!(e.contains("overlaps"), "{e}");
    let e = err(Ranges::new(
        &[[0, 2]],
        &[2],
        &[[0, 5], [3, 6]],
        &[],
        &[],
        &[],
    ));
    assert!(e.contains("redranges_j[1] = [3, 6) overlaps"), "{e}");
    let e = err(Ranges::new(
        &[[0, 2]],
        &[1],
        &[[0, 5]],
        &[[0, 5]],
        &[1],
        &[[0, 3]],
    ));
    assert!(e.contains("different numbers of pairs"), "{e}");
    // Called: out of bounds for these inputs.
    let r = Ranges::from_matrix(&[[0, 12]], &[[0, 20]], ndarray::array![[true]].view()).unwrap();
    let e = k.ranges(&r).call(&x, &y).unwrap_err();
    assert!(matches!(e, Error::Ranges(_)), "{e}");
    assert!(
        e.to_string()
            .contains("ranges_i[0] = [0, 12) ends past the 10 rows"),
        "{e}"
    );
    let r = Ranges::from_matrix(&[[0, 10]], &[[0, 21]], ndarray::array![[true]].view()).unwrap();
    let e = k.ranges(&r).call(&x, &y).unwrap_err().to_string();
    assert!(
        e.contains("redranges_j[0] = [0, 21) ends past the 20 rows of the j"),
        "{e}"
    );
    // Dropped before the call.
    let kr = {
        let r =
            Ranges::from_matrix(&[[0, 10]], &[[0, 20]], ndarray::array![[true]].view()).unwrap();
        k.ranges(&r)
    };
    let e = kr.call(&x, &y).unwrap_err().to_string();
    assert!(e.contains("dropped"), "{e}");
    // The GPU back ends check them the same way.
    let ks = k.backend(Backend::Simulator);
    let r = Ranges::from_matrix(&[[0, 12]], &[[0, 20]], ndarray::array![[true]].view()).unwrap();
    let e = ks.ranges(&r).call(&x, &y).unwrap_err();
    assert!(matches!(e, Error::Ranges(_)), "{e}");
    assert!(
        e.to_string()
            .contains("ranges_i[0] = [0, 12) ends past the 10 rows"),
        "{e}"
    );
    let kr = {
        let r =
            Ranges::from_matrix(&[[0, 10]], &[[0, 20]], ndarray::array![[true]].view()).unwrap();
        ks.ranges(&r)
    };
    let e = kr.call(&x, &y).unwrap_err().to_string();
    assert!(e.contains("dropped"), "{e}");
}

// ---------------------------------------------------------------------------
// Spans longer than 2^24 reduced indices: lane indices are kept relative to
// a base that moves (f32 holds every integer only up to 2^24).

#[test]
fn argmin_past_two_to_the_24_in_f32() {
    let n = (1 << 24) + 100;
    let target = (1 << 24) + 51; // odd: not an f32 integer
    let mut y = Array2::<f32>::from_elem((n, 1), 10.0);
    y[[target, 0]] = 0.25;
    y[[7, 0]] = 0.5;
    let x = Array2::<f32>::from_elem((2, 1), 0.25);
    // Two blocks (so that each is one work item, not cut in segments).
    let r = Ranges::from_matrix(
        &[[0, 1], [1, 2]],
        &[[3, n]],
        ndarray::array![[true], [true]].view(),
    )
    .unwrap();
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(
        abs(x - y)
    ))
    .ranges(&r);
    for threads in [1, 2] {
        let (v, i) = k.threads(threads).call(&x, &y).unwrap();
        assert_eq!(v.column(0).to_vec(), vec![0.0, 0.0]);
        assert_eq!(
            i.column(0).to_vec(),
            vec![target, target],
            "{threads} threads"
        );
    }
}

// ---------------------------------------------------------------------------
// k-NN in D = 16 (the dot-product form: blocked scalar products, tail packs
// that cross tile ends, exact re-ranking of the candidates).

#[test]
fn argkmin_in_dot_product_form() {
    let (r, mask) = hand_ranges();
    let mut g = rng(14);
    let x = uniform(&mut g, M, 16, 0.0, 1.0);
    let y = uniform(&mut g, N, 16, 0.0, 1.0);
    let k = keops!(grad_order = 0, |x: Vi<16>, y: Vj<16>| kmin_argkmin_j(
        sqdist(x, y),
        4
    ))
    .ranges(&r);
    assert!(
        !k.stages()[0].dot_of.is_empty(),
        "the stage is in dot-product form"
    );
    for (level, o) in every_back_end(k.options()) {
        let (v, ix) = k.with_options(o).call(&x, &y).unwrap();
        let (v32, ix32) = k.with_options(o).call(&f32s(&x), &f32s(&y)).unwrap();
        for i in 0..M {
            let mut c: Vec<(f64, usize)> = (0..N)
                .filter(|&j| mask[i][j])
                .map(|j| (sqd(&x, i, &y, j), j))
                .collect();
            c.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for q in 0..4 {
                let (bv, bj) = c.get(q).copied().unwrap_or((f64::INFINITY, usize::MAX));
                let what = format!("{level:?} row {i} rank {q}");
                assert_eq!(ix[[i, q]], bj, "{what}");
                assert!(close(v[[i, q]], bv, 1e-12, 1.0), "{what}");
                if bj == usize::MAX {
                    assert_eq!(ix32[[i, q]], usize::MAX, "f32 {what}");
                } else {
                    // f32: the value at the index found is within rounding.
                    assert!(mask[i][ix32[[i, q]]], "f32 {what}: a skipped pair");
                    assert!(close(v32[[i, q]] as f64, bv, 1e-5, 1.0), "f32 {what}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The GPU back ends: the PTX kernels through the simulator (and on CUDA
// device 0 when the tests are built with `--features cuda` and a device is
// present), on smaller hand-built ranges (the simulator runs every thread),
// against the same dense references restricted to the kept pairs.

/// The GPU back ends and block sizes: the simulator with the kernels'
/// advised block (one tile of rows per block of the ranges, mostly) and
/// with blocks of 32 threads (blocks of the ranges cut in several tiles of
/// rows, whose last one ends inside a block of threads); the same on CUDA
/// device 0 when present.
fn gpu_backends() -> Vec<(String, Backend, Option<u32>)> {
    let mut backends = vec![("sim", Backend::Simulator)];
    let cuda = Backend::Gpu { device: 0 };
    if cuda.is_available() {
        backends.push(("cuda", cuda));
    }
    let mut v = Vec::new();
    for (name, b) in backends {
        v.push((format!("{name} advised block"), b, None));
        v.push((format!("{name} block 32"), b, Some(32)));
    }
    v
}

/// Every CPU SIMD level, then every GPU back end ([`gpu_backends`]), as
/// options for kernels whose options (ranges included) are `base`.
fn every_back_end(base: Options) -> Vec<(String, Options)> {
    let mut v: Vec<(String, Options)> = keops::simd::supported_levels()
        .into_iter()
        .map(|l| {
            (
                format!("{l:?}"),
                Options {
                    simd: Some(l),
                    ..base
                },
            )
        })
        .collect();
    for (name, backend, gpu_block) in gpu_backends() {
        v.push((
            name,
            Options {
                backend,
                gpu_block,
                ..base
            },
        ));
    }
    v
}

/// `k` on a GPU back end with blocks of `block` threads.
fn on_gpu<K: Kernel>(k: K, backend: Backend, block: Option<u32>) -> K {
    let mut o = k.options();
    o.backend = backend;
    o.gpu_block = block;
    k.with_options(o)
}

/// Hand-built ranges over MS = 90 i rows and NS = 700 j rows (tiles of 256
/// reduced indices in f32, 192 in f64: spans start and end inside tiles
/// and cross tile ends): unsorted blocks, rows in no block (51..60), a
/// block with no j-range (7..9), unsorted and adjacent j-ranges, a one-row
/// block, a full block.
const MS: usize = 90;
const NS: usize = 700;

fn small_ranges() -> (Ranges, Vec<Vec<bool>>) {
    let ranges_i = [[0, 7], [7, 9], [20, 50], [50, 51], [60, 90], [9, 20]];
    let blocks: [&[[usize; 2]]; 6] = [
        &[[5, 260], [600, 603]],
        &[],
        &[[400, 700], [0, 17], [17, 30]],
        &[[255, 258]],
        &[[3, 4], [190, 520]],
        &[[0, 700]],
    ];
    let mut slices_i = vec![];
    let mut red_j = vec![];
    for b in blocks {
        red_j.extend_from_slice(b);
        slices_i.push(red_j.len());
    }
    let (rj, sj, ri) = transposed(&ranges_i, &slices_i, &red_j);
    let mask = mask_of(MS, NS, &ranges_i, &slices_i, &red_j);
    assert_eq!(transpose(&mask_of(NS, MS, &rj, &sj, &ri), MS), mask);
    let r = Ranges::new(&ranges_i, &slices_i, &red_j, &rj, &sj, &ri).unwrap();
    (r, mask)
}

/// Points on a grid of step 1/4 in [0, 2]^d: squared distances and scalar
/// products are exact in f32 and f64, with many ties.
fn coarse(r: &mut fastrand::Rng, m: usize, d: usize) -> Array2<f64> {
    uniform(r, m, d, 0.0, 2.0).mapv(|v| (v * 4.0).round() / 4.0)
}

/// The kept (value, index) candidates of row `i` of `mask`, sorted by
/// value (descending when `max`), ties by index.
fn ranked(f: impl Fn(usize) -> f64, row: &[bool], max: bool) -> Vec<(f64, usize)> {
    let mut c: Vec<(f64, usize)> = (0..row.len())
        .filter(|&j| row[j])
        .map(|j| (if max { -f(j) } else { f(j) }, j))
        .collect();
    c.sort_by(|a, b| a.partial_cmp(b).unwrap());
    c.into_iter()
        .map(|(v, j)| (if max { -v } else { v }, j))
        .collect()
}

/// Checks the selections of every row against [`ranked`]: the `k` best
/// values (`vals`, if given) and indices (`idx`, if given); a row with
/// fewer kept pairs is padded with the empty value (+inf, -inf for max)
/// and index `usize::MAX`.
fn check_ranked(
    vals: Option<&Array2<f64>>,
    idx: Option<&Array2<usize>>,
    f: impl Fn(usize, usize) -> f64,
    mask: &[Vec<bool>],
    k: usize,
    max: bool,
    what: &str,
) {
    let empty = if max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    for (i, row) in mask.iter().enumerate() {
        let c = ranked(|j| f(i, j), row, max);
        for q in 0..k {
            let (bv, bj) = c.get(q).copied().unwrap_or((empty, usize::MAX));
            if let Some(v) = vals {
                assert_eq!(v[[i, q]], bv, "{what}: value of row {i} rank {q}");
            }
            if let Some(ix) = idx {
                assert_eq!(ix[[i, q]], bj, "{what}: index of row {i} rank {q}");
            }
        }
    }
}

#[test]
fn gpu_min_max_and_k_selections_over_j() {
    let (r, mask) = small_ranges();
    let mut g = rng(21);
    let x = coarse(&mut g, MS, 2);
    let y = coarse(&mut g, NS, 2);
    let f = |i: usize, j: usize| sqd(&x, i, &y, j);
    let k_min = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| min_j(sqdist(x, y))).ranges(&r);
    let k_argmin = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argmin_j(sqdist(x, y))).ranges(&r);
    let k_min_argmin = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| min_argmin_j(sqdist(
        x, y
    )))
    .ranges(&r);
    let k_max = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| max_j(sqdist(x, y))).ranges(&r);
    let k_argmax = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argmax_j(sqdist(x, y))).ranges(&r);
    let k_max_argmax = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| max_argmax_j(sqdist(
        x, y
    )))
    .ranges(&r);
    let k_kmin = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| kmin_j(sqdist(x, y), 3)).ranges(&r);
    let k_argkmin = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_j(
        sqdist(x, y),
        3
    ))
    .ranges(&r);
    let k_both = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| kmin_argkmin_j(
        sqdist(x, y),
        4
    ))
    .ranges(&r);
    let (x32, y32) = (f32s(&x), f32s(&y));
    for (name, b, block) in gpu_backends() {
        for dtype in ["f64", "f32"] {
            let what = |red: &str| format!("{red} {name} {dtype}");
            macro_rules! call {
                ($k:expr) => {
                    if dtype == "f64" {
                        on_gpu($k, b, block).call(&x, &y)
                    } else {
                        on_gpu($k, b, block).call(&x32, &y32).map(|o| o.into_f64())
                    }
                    .unwrap_or_else(|e| panic!("{name} {dtype}: {e}"))
                };
            }
            let v = call!(k_min);
            check_ranked(Some(&v), None, f, &mask, 1, false, &what("min"));
            let i = call!(k_argmin);
            check_ranked(None, Some(&i), f, &mask, 1, false, &what("argmin"));
            let (v, i) = call!(k_min_argmin);
            check_ranked(Some(&v), Some(&i), f, &mask, 1, false, &what("min_argmin"));
            let v = call!(k_max);
            check_ranked(Some(&v), None, f, &mask, 1, true, &what("max"));
            let i = call!(k_argmax);
            check_ranked(None, Some(&i), f, &mask, 1, true, &what("argmax"));
            let (v, i) = call!(k_max_argmax);
            check_ranked(Some(&v), Some(&i), f, &mask, 1, true, &what("max_argmax"));
            let v = call!(k_kmin);
            check_ranked(Some(&v), None, f, &mask, 3, false, &what("kmin"));
            let i = call!(k_argkmin);
            check_ranked(None, Some(&i), f, &mask, 3, false, &what("argkmin"));
            let (v, i) = call!(k_both);
            check_ranked(
                Some(&v),
                Some(&i),
                f,
                &mask,
                4,
                false,
                &what("kmin_argkmin"),
            );
        }
    }
}

/// f32 results as f64 (indices unchanged), for [`gpu_min_max_and_k_selections_over_j`].
trait IntoF64 {
    type Out;
    fn into_f64(self) -> Self::Out;
}

impl IntoF64 for Array2<f32> {
    type Out = Array2<f64>;
    fn into_f64(self) -> Array2<f64> {
        f64s(&self)
    }
}

impl IntoF64 for Array2<usize> {
    type Out = Array2<usize>;
    fn into_f64(self) -> Array2<usize> {
        self
    }
}

impl IntoF64 for (Array2<f32>, Array2<usize>) {
    type Out = (Array2<f64>, Array2<usize>);
    fn into_f64(self) -> (Array2<f64>, Array2<usize>) {
        (f64s(&self.0), self.1)
    }
}

/// log-sum-exp of the kept values of a row (-inf for none).
fn lse_ref(f: impl Fn(usize) -> f64, row: &[bool]) -> f64 {
    let fs: Vec<f64> = (0..row.len()).filter(|&j| row[j]).map(f).collect();
    match fs.iter().copied().reduce(f64::max) {
        Some(mx) => mx + fs.iter().map(|v| (v - mx).exp()).sum::<f64>().ln(),
        None => f64::NEG_INFINITY,
    }
}

#[test]
fn gpu_sums_logsumexp_and_softmax_over_j() {
    let (r, mask) = small_ranges();
    let mut g = rng(22);
    let x = uniform(&mut g, MS, 3, 0.0, 1.0);
    let y = uniform(&mut g, NS, 3, 0.0, 1.0);
    let b = uniform(&mut g, NS, 2, -1.0, 1.0);
    let w = uniform(&mut g, NS, 3, -1.0, 1.0);
    let gauss = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .ranges(&r);
    let lse = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| logsumexp_j(
        -sqdist(x, y) * 4.0
    ))
    .ranges(&r);
    let smw = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, w: Vj<3>| {
        sumsoftmaxweight_j(-sqdist(x, y) * 3.0, w)
    })
    .ranges(&r);
    let want_gauss = gauss_ref(&x, &y, &b, 2.0, &mask);
    let want_lse = Array2::from_shape_fn((MS, 1), |(i, _)| {
        lse_ref(|j| -4.0 * sqd(&x, i, &y, j), &mask[i])
    });
    let mut want_smw = Array2::<f64>::zeros((MS, 3));
    for i in 0..MS {
        let l = lse_ref(|j| -3.0 * sqd(&x, i, &y, j), &mask[i]);
        for j in (0..NS).filter(|&j| mask[i][j]) {
            let p = (-3.0 * sqd(&x, i, &y, j) - l).exp();
            for c in 0..3 {
                want_smw[[i, c]] += p * w[[j, c]];
            }
        }
    }
    let (x32, y32, b32, w32) = (f32s(&x), f32s(&y), f32s(&b), f32s(&w));
    for (name, be, block) in gpu_backends() {
        for scheme in [SumScheme::Block, SumScheme::Direct, SumScheme::Kahan] {
            let k = on_gpu(gauss, be, block).sum_scheme(scheme);
            let what = format!("gauss {name} {scheme:?}");
            let o = k.call(&x, &y, &b, &[2.0]).unwrap();
            assert_close(&o, &want_gauss, 1e-13, &format!("{what} f64"));
            let o = k.call(&x32, &y32, &b32, &[2.0f32]).unwrap();
            assert_close(&f64s(&o), &want_gauss, 2e-5, &format!("{what} f32"));
            // Rows in no block and the block without j-range: exactly 0.
            for i in (51..60).chain(7..9) {
                assert!(o.row(i).iter().all(|&v| v == 0.0), "{what}: row {i}");
            }
        }
        let k = on_gpu(lse, be, block);
        let o = k.call(&x, &y).unwrap();
        assert_close(&o, &want_lse, 1e-13, &format!("lse {name} f64"));
        assert!(o[[55, 0]] == f64::NEG_INFINITY && o[[8, 0]] == f64::NEG_INFINITY);
        let o = k.call(&x32, &y32).unwrap();
        assert_close(&f64s(&o), &want_lse, 2e-5, &format!("lse {name} f32"));
        let k = on_gpu(smw, be, block);
        let o = k.call(&x, &y, &w).unwrap();
        assert_close(&o, &want_smw, 1e-13, &format!("softmax {name} f64"));
        let o = k.call(&x32, &y32, &w32).unwrap();
        assert_close(&f64s(&o), &want_smw, 2e-5, &format!("softmax {name} f32"));
    }
}

#[test]
fn gpu_reductions_over_i() {
    let (r, mask) = small_ranges();
    let mt = transpose(&mask, NS);
    let mut g = rng(23);
    let x = coarse(&mut g, MS, 2);
    let y = coarse(&mut g, NS, 2);
    let a = uniform(&mut g, MS, 2, -1.0, 1.0);
    let ks = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, a: Vi<2>| sum_i(
        exp(-sqdist(x, y)) * a
    ))
    .ranges(&r);
    let kl = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| logsumexp_i(-sqdist(
        x, y
    )))
    .ranges(&r);
    let km = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| min_argmin_i(sqdist(
        x, y
    )))
    .ranges(&r);
    let kk = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_i(
        sqdist(x, y),
        2
    ))
    .ranges(&r);
    let want_s = gauss_ref(&y, &x, &a, 1.0, &mt);
    let want_l = Array2::from_shape_fn((NS, 1), |(j, _)| lse_ref(|i| -sqd(&x, i, &y, j), &mt[j]));
    let f = |j: usize, i: usize| sqd(&x, i, &y, j);
    for (name, b, block) in gpu_backends() {
        let o = on_gpu(ks, b, block).call(&x, &y, &a).unwrap();
        assert_close(&o, &want_s, 1e-13, &format!("sum_i {name}"));
        let o = on_gpu(ks, b, block)
            .call(&f32s(&x), &f32s(&y), &f32s(&a))
            .unwrap();
        assert_close(&f64s(&o), &want_s, 2e-5, &format!("sum_i {name} f32"));
        let o = on_gpu(kl, b, block).call(&x, &y).unwrap();
        assert_close(&o, &want_l, 1e-13, &format!("logsumexp_i {name}"));
        let (v, i) = on_gpu(km, b, block).call(&x, &y).unwrap();
        check_ranked(
            Some(&v),
            Some(&i),
            f,
            &mt,
            1,
            false,
            &format!("min_argmin_i {name}"),
        );
        let i = on_gpu(kk, b, block).call(&f32s(&x), &f32s(&y)).unwrap();
        check_ranked(
            None,
            Some(&i),
            f,
            &mt,
            2,
            false,
            &format!("argkmin_i {name} f32"),
        );
    }
}

#[test]
fn gpu_symbolic_matrix_products() {
    let (r, mask) = small_ranges();
    let mut g = rng(25);
    let x = uniform(&mut g, MS, 3, 0.0, 1.0);
    let y = uniform(&mut g, NS, 3, 0.0, 1.0);
    let k = keops!(|x: Vi<3>, y: Vj<3>| exp(-sqdist(x, y)));
    let mt = transpose(&mask, NS);
    for (name, b, block) in gpu_backends() {
        let kxy = on_gpu(k, b, block).ranges(&r).bind(&x, &y).unwrap();
        for w in [1, 5] {
            let v = uniform(&mut g, NS, w, -1.0, 1.0);
            let want = gauss_ref(&x, &y, &v, 1.0, &mask);
            assert_close(
                &kxy.matmul(&v).unwrap(),
                &want,
                1e-13,
                &format!("K v {name}"),
            );
            let u = uniform(&mut g, MS, w, -1.0, 1.0);
            let want = gauss_ref(&y, &x, &u, 1.0, &mt);
            assert_close(
                &kxy.t().matmul(&u).unwrap(),
                &want,
                1e-13,
                &format!("K^T u {name}"),
            );
        }
    }
}

/// Few rows, spans longer than many tiles, on the GPU: one block of
/// threads walks every span of its block of the ranges.
#[test]
fn gpu_few_rows_long_spans() {
    let n = 3000;
    let ranges_i = [[0, 3], [3, 5]];
    let slices_i = [2, 3];
    let red_j = [[7, 900], [950, 2999], [1, 3000]];
    let (rj, sj, ri) = transposed(&ranges_i, &slices_i, &red_j);
    let r = Ranges::new(&ranges_i, &slices_i, &red_j, &rj, &sj, &ri).unwrap();
    let mask = mask_of(5, n, &ranges_i, &slices_i, &red_j);
    let mut g = rng(26);
    let x = uniform(&mut g, 5, 1, 0.0, 1.0);
    let y = uniform(&mut g, n, 1, 0.0, 1.0).mapv(|v| (v * 50.0).round() / 50.0);
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
        abs(x - y),
        4
    ))
    .ranges(&r);
    let ks = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y)).ranges(&r);
    let f = |i: usize, j: usize| (x[[i, 0]] - y[[j, 0]]).abs();
    let want = gauss_like_sum(&x, &y, &mask);
    for (name, b, block) in gpu_backends() {
        let (v, i) = on_gpu(k, b, block).call(&x, &y).unwrap();
        check_ranked(
            Some(&v),
            Some(&i),
            f,
            &mask,
            4,
            false,
            &format!("kmin {name}"),
        );
        let s = on_gpu(ks, b, block).call(&x, &y).unwrap();
        assert_close(&s, &want, 1e-13, &format!("sum {name}"));
    }
}

/// sum_j x_i y_j over the kept pairs.
fn gauss_like_sum(x: &Array2<f64>, y: &Array2<f64>, mask: &[Vec<bool>]) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
        (0..y.nrows())
            .filter(|&j| mask[i][j])
            .map(|j| x[[i, 0]] * y[[j, 0]])
            .sum()
    })
}

/// Large inner dimension: in f64 the outer features go through the
/// scratch buffer (`keops_outer`, launched over the same table); the tile
/// shrinks.
#[test]
fn gpu_knn_in_dimension_64() {
    let (r, mask) = small_ranges();
    let mut g = rng(27);
    let x = coarse(&mut g, MS, 64);
    let y = coarse(&mut g, NS, 64);
    let k = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
        sqdist(x, y),
        3
    ))
    .ranges(&r);
    assert!(k.ptx_f64().contains(".entry keops_outer("));
    let f = |i: usize, j: usize| sqd(&x, i, &y, j);
    for (name, b, block) in gpu_backends() {
        let i = on_gpu(k, b, block).call(&x, &y).unwrap();
        check_ranked(
            None,
            Some(&i),
            f,
            &mask,
            3,
            false,
            &format!("argkmin D = 64 {name}"),
        );
        let i = on_gpu(k, b, block).call(&f32s(&x), &f32s(&y)).unwrap();
        check_ranked(
            None,
            Some(&i),
            f,
            &mask,
            3,
            false,
            &format!("argkmin D = 64 {name} f32"),
        );
    }
}

/// Gradients that reuse the forward result: log-sum-exp (its rows without
/// pairs are -inf) and min (the argmin; none for rows without pairs), on
/// the CPU and the GPU back ends.
#[test]
fn logsumexp_and_min_gradients_on_every_back_end() {
    let (r, mask) = small_ranges();
    let mut g = rng(28);
    let x = uniform(&mut g, MS, 2, 0.0, 2.0);
    let y = uniform(&mut g, NS, 2, 0.0, 2.0);
    let e = uniform(&mut g, MS, 1, -1.0, 1.0);
    let kl = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| logsumexp_j(
        -sqdist(x, y) * 4.0
    ))
    .ranges(&r);
    let km = keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| min_j(sqdist(x, y))).ranges(&r);
    let (mut lgx, mut lgy) = (Array2::<f64>::zeros((MS, 2)), Array2::<f64>::zeros((NS, 2)));
    let (mut mgx, mut mgy) = (Array2::<f64>::zeros((MS, 2)), Array2::<f64>::zeros((NS, 2)));
    for i in 0..MS {
        let l = lse_ref(|j| -4.0 * sqd(&x, i, &y, j), &mask[i]);
        for j in (0..NS).filter(|&j| mask[i][j]) {
            let p = (-4.0 * sqd(&x, i, &y, j) - l).exp();
            for c in 0..2 {
                let t = e[[i, 0]] * p * -8.0 * (x[[i, c]] - y[[j, c]]);
                lgx[[i, c]] += t;
                lgy[[j, c]] -= t;
            }
        }
        if let Some(&(_, j)) = ranked(|j| sqd(&x, i, &y, j), &mask[i], false).first() {
            for c in 0..2 {
                let t = e[[i, 0]] * 2.0 * (x[[i, c]] - y[[j, c]]);
                mgx[[i, c]] += t;
                mgy[[j, c]] -= t;
            }
        }
    }
    let mut backends = vec![("cpu".to_string(), Backend::Cpu, None)];
    backends.extend(gpu_backends());
    for (name, b, block) in backends {
        let k = on_gpu(kl, b, block);
        let o = k.grad_x().call(&x, &y, &e).unwrap();
        assert_close(&o, &lgx, 1e-12, &format!("lse grad_x {name}"));
        let o = k.grad_y().call(&x, &y, &e).unwrap();
        assert_close(&o, &lgy, 1e-12, &format!("lse grad_y {name}"));
        let o = k.grad_y().call(&f32s(&x), &f32s(&y), &f32s(&e)).unwrap();
        assert_close(&f64s(&o), &lgy, 1e-4, &format!("lse grad_y f32 {name}"));
        let k = on_gpu(km, b, block);
        let o = k.grad_x().call(&x, &y, &e).unwrap();
        assert_close(&o, &mgx, 1e-13, &format!("min grad_x {name}"));
        let o = k.grad_y().call(&x, &y, &e).unwrap();
        assert_close(&o, &mgy, 1e-13, &format!("min grad_y {name}"));
    }
}

/// No reduced index at all (N = 0, every j-range empty) and rows that no
/// block covers: every output is the empty reduction's, on every back end.
#[test]
fn empty_reduced_range_on_every_back_end() {
    let r = Ranges::new(&[[0, 3], [5, 7]], &[1, 1], &[[0, 0]], &[], &[], &[]).unwrap();
    let x = Array2::<f64>::ones((9, 1));
    let y = Array2::<f64>::ones((0, 1));
    let ks = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y)).ranges(&r);
    let km = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| max_argmax_j(x * y)).ranges(&r);
    let kl = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| logsumexp_j(x * y)).ranges(&r);
    let mut backends = vec![("cpu".to_string(), Backend::Cpu, None)];
    backends.extend(gpu_backends());
    for (name, b, block) in backends {
        let s = on_gpu(ks, b, block).call(&x, &y).unwrap();
        assert!(s.iter().all(|&v| v == 0.0), "sum {name}: {s}");
        let (v, i) = on_gpu(km, b, block).call(&x, &y).unwrap();
        assert!(v.iter().all(|&v| v == f64::NEG_INFINITY), "max {name}: {v}");
        assert!(i.iter().all(|&i| i == usize::MAX), "argmax {name}: {i}");
        let l = on_gpu(kl, b, block).call(&x, &y).unwrap();
        assert!(l.iter().all(|&v| v == f64::NEG_INFINITY), "lse {name}: {l}");
    }
}

/// Device-resident inputs and results (`DeviceRows` on the simulator)
/// under ranges: the same kept pairs as host inputs.
#[test]
fn device_resident_inputs_with_ranges() {
    let (r, mask) = small_ranges();
    let mut g = rng(29);
    let x = uniform(&mut g, MS, 3, 0.0, 1.0);
    let y = uniform(&mut g, NS, 3, 0.0, 1.0);
    let b = uniform(&mut g, NS, 2, -1.0, 1.0);
    let sim = Backend::Simulator;
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<2>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    })
    .ranges(&r)
    .backend(sim);
    let want = gauss_ref(&x, &y, &b, 2.0, &mask);
    let xd = DeviceRows::from_host(sim, x.view()).unwrap();
    let yd = DeviceRows::from_host(sim, y.view()).unwrap();
    assert_close(
        &k.call(&xd, &yd, &b, &[2.0]).unwrap(),
        &want,
        1e-13,
        "device inputs",
    );
    let out = k.call_device(&xd, &y, &b, &[2.0]).unwrap();
    assert_close(&out.to_host().unwrap(), &want, 1e-13, "device result");
}
