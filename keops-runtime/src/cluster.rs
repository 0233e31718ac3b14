//! Clustering helpers for block-sparse reductions, as `pykeops.torch.cluster`.
//!
//! The recipe (the whole of it runs in `examples/cluster_gauss.rs`):
//!
//! 1. label the points with clusters, e.g. [`grid_cluster`] (cubic cells);
//! 2. sort the points so that every cluster is contiguous,
//!    [`sort_clusters`], which returns the [`Permutation`] that puts results
//!    back in the original order (sort every other input with it too);
//! 3. get each cluster's `[start, end)` and centroid,
//!    [`cluster_ranges_centroids`];
//! 4. decide which pairs of clusters interact, e.g. [`distance_mask`] on
//!    the centroids (a cluster-level truncation of the kernel);
//! 5. turn that into [`Ranges`] with [`from_matrix`] and run the kernel with
//!    `k.ranges(&ranges)`;
//! 6. unsort the result with the i permutation
//!    ([`Permutation::unsort_rows`]); argmin-type results also map their
//!    indices back with the j permutation ([`Permutation::original_indices`]).
//!
//! ```ignore
//! use keops::prelude::*;
//! use keops::cluster::*;
//!
//! let lab_x = grid_cluster(x.view(), &[0.1])?;
//! let (xs, lab_x, perm_x) = sort_clusters(x.view(), &lab_x)?;
//! let cx = cluster_ranges_centroids(xs.view(), &lab_x, None)?;
//! // ... the same for y (and b sorted with perm_y) ...
//! let keep = distance_mask(cx.centroids.view(), cy.centroids.view(), 0.3);
//! let ranges = from_matrix(&cx.ranges, &cy.ranges, keep.view())?;
//! let out = perm_x.unsort_rows(k.ranges(&ranges).call(&xs, &ys, &bs)?.view());
//! ```

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::ranges::Ranges;
use crate::simd::Real;

/// Labels of a simple clustering into cells of a regular grid (pykeops'
/// `grid_cluster`): two points get the same label if and only if they lie in
/// the same cell. `size` is the side of the (cubic) cells, or one side per
/// dimension. Labels are compact, `0..C` for C non-empty cells, numbered in
/// the lexicographic order of the cells' coordinates. Any dimension works.
pub fn grid_cluster<T: Real>(x: ArrayView2<'_, T>, size: &[f64]) -> Result<Vec<usize>> {
    let (m, d) = x.dim();
    if size.len() != 1 && size.len() != d {
        return Err(Error::Shape {
            operand: "size".into(),
            expected: format!("1 or {d} cell sides"),
            found: format!("{}", size.len()),
        });
    }
    if let Some(s) = size.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(Error::Unsupported(format!(
            "grid_cluster: the cell side must be positive and finite, found {s}"
        )));
    }
    if m == 0 {
        return Ok(Vec::new());
    }
    let mut lo = vec![f64::INFINITY; d];
    for row in x.rows() {
        for (l, v) in lo.iter_mut().zip(row) {
            let v = v.to_f64();
            if !v.is_finite() {
                return Err(Error::Unsupported(format!(
                    "grid_cluster: a coordinate is not finite ({v})"
                )));
            }
            *l = l.min(v);
        }
    }
    let cell = |i: usize| -> Vec<i64> {
        (0..d)
            .map(|c| {
                let s = size[if size.len() == 1 { 0 } else { c }];
                ((x[[i, c]].to_f64() - lo[c]) / s).floor() as i64
            })
            .collect()
    };
    let cells: Vec<Vec<i64>> = (0..m).map(cell).collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| cells[a].cmp(&cells[b]));
    let mut labels = vec![0usize; m];
    let mut next = 0usize;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && cells[i] != cells[order[k - 1]] {
            next += 1;
        }
        labels[i] = next;
    }
    Ok(labels)
}

/// A permutation of rows: `sorted[k] = original[indices[k]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permutation {
    order: Vec<usize>,
}

impl Permutation {
    /// The permutation that sorts `labels` (stable: points of a cluster keep
    /// their relative order).
    pub fn sorting(labels: &[usize]) -> Permutation {
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by_key(|&i| labels[i]);
        Permutation { order }
    }

    /// `sorted[k] = original[indices()[k]]`.
    pub fn indices(&self) -> &[usize] {
        &self.order
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether it permutes no row.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn check(&self, rows: usize, what: &str) -> Result<()> {
        if rows != self.order.len() {
            return Err(Error::Shape {
                operand: what.into(),
                expected: format!("{} rows (the permutation's length)", self.order.len()),
                found: format!("{rows} rows"),
            });
        }
        Ok(())
    }

    /// The rows of `x` in sorted order (`x[indices[k]]` for each k).
    pub fn sort_rows<E: Clone>(&self, x: ArrayView2<'_, E>) -> Result<Array2<E>> {
        self.check(x.nrows(), "x")?;
        Ok(Array2::from_shape_fn(x.dim(), |(k, c)| {
            x[[self.order[k], c]].clone()
        }))
    }

    /// The rows of `y` (in sorted order) put back in the original order:
    /// the inverse of [`Permutation::sort_rows`].
    pub fn unsort_rows<E: Clone>(&self, y: ArrayView2<'_, E>) -> Result<Array2<E>> {
        self.check(y.nrows(), "y")?;
        let mut inv = vec![0usize; self.order.len()];
        for (k, &i) in self.order.iter().enumerate() {
            inv[i] = k;
        }
        Ok(Array2::from_shape_fn(y.dim(), |(i, c)| {
            y[[inv[i], c]].clone()
        }))
    }

    /// The entries of `v` in sorted order.
    pub fn sort_slice<E: Clone>(&self, v: &[E]) -> Result<Vec<E>> {
        self.check(v.len(), "v")?;
        Ok(self.order.iter().map(|&i| v[i].clone()).collect())
    }

    /// Indices into the sorted rows (e.g. an argmin over sorted j) mapped to
    /// the original rows; `usize::MAX` (no index, an empty reduction) stays.
    pub fn original_indices(&self, idx: ArrayView2<'_, usize>) -> Array2<usize> {
        idx.mapv(|k| self.order.get(k).copied().unwrap_or(usize::MAX))
    }
}

/// Sorts the rows of `x` by label so that every cluster is contiguous
/// (pykeops' `sort_clusters`): returns the sorted rows, the sorted labels,
/// and the permutation (apply it to the other inputs of the same category
/// with [`Permutation::sort_rows`], and undo it on results with
/// [`Permutation::unsort_rows`]).
pub fn sort_clusters<T: Clone>(
    x: ArrayView2<'_, T>,
    labels: &[usize],
) -> Result<(Array2<T>, Vec<usize>, Permutation)> {
    let p = Permutation::sorting(labels);
    let xs = p.sort_rows(x)?;
    let ls = p.sort_slice(labels)?;
    Ok((xs, ls, p))
}

/// The `[start, end)` rows of each cluster `0..C` of sorted labels
/// (pykeops' `cluster_ranges`; `C` is the largest label plus one, an
/// unused label gets an empty range). The labels must be sorted.
pub fn cluster_ranges(labels: &[usize]) -> Result<Vec<[usize; 2]>> {
    if let Some(k) = (1..labels.len()).find(|&k| labels[k] < labels[k - 1]) {
        return Err(Error::Unsupported(format!(
            "cluster_ranges: the labels are not sorted (labels[{k}] = {} after {}): sort the \
             points with `sort_clusters` first",
            labels[k],
            labels[k - 1]
        )));
    }
    let c = labels.last().map_or(0, |&l| l + 1);
    let mut counts = vec![0usize; c];
    for &l in labels {
        counts[l] += 1;
    }
    let mut start = 0;
    Ok(counts
        .iter()
        .map(|&n| {
            let r = [start, start + n];
            start += n;
            r
        })
        .collect())
}

/// What [`cluster_ranges_centroids`] returns for C clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct Clusters<T> {
    /// The `[start, end)` rows of each cluster in the sorted points.
    pub ranges: Vec<[usize; 2]>,
    /// The (weighted) centroid of each cluster, `(C, D)`.
    pub centroids: Array2<T>,
    /// The total weight of each cluster (its number of points by default).
    pub weights: Vec<f64>,
}

/// Ranges, centroids and total weights of the clusters of sorted points
/// (pykeops' `cluster_ranges_centroids`): the centroid of a cluster is the
/// weighted mean of its points (weights default to 1, and are clamped to at
/// least 1e-9); the weight of a cluster is the sum of its points'.
pub fn cluster_ranges_centroids<T: Real>(
    x: ArrayView2<'_, T>,
    labels: &[usize],
    weights: Option<&[f64]>,
) -> Result<Clusters<T>> {
    let (m, d) = x.dim();
    if labels.len() != m {
        return Err(Error::Shape {
            operand: "labels".into(),
            expected: format!("{m} labels (one per row of x)"),
            found: format!("{}", labels.len()),
        });
    }
    if let Some(w) = weights {
        if w.len() != m {
            return Err(Error::Shape {
                operand: "weights".into(),
                expected: format!("{m} weights (one per row of x)"),
                found: format!("{}", w.len()),
            });
        }
    }
    let ranges = cluster_ranges(labels)?;
    let c = ranges.len();
    let mut sums = vec![0.0f64; c * d];
    let mut wc = vec![0.0f64; c];
    for i in 0..m {
        let w = weights.map_or(1.0, |w| w[i].max(1e-9));
        let l = labels[i];
        wc[l] += w;
        for k in 0..d {
            sums[l * d + k] += w * x[[i, k]].to_f64();
        }
    }
    let cent = Array2::from_shape_fn((c, d), |(l, k)| {
        T::from_f64(if wc[l] > 0.0 {
            sums[l * d + k] / wc[l]
        } else {
            0.0
        })
    });
    Ok(Clusters {
        ranges,
        centroids: cent,
        weights: wc,
    })
}

/// The cluster-to-cluster mask `|c_i[k] - c_j[l]| <= radius` of two sets
/// of centroids (rows): the usual coarse truncation of a kernel. An empty
/// cluster (zero weight) may be kept or not; it costs nothing either way.
pub fn distance_mask<T: Real>(
    ci: ArrayView2<'_, T>,
    cj: ArrayView2<'_, T>,
    radius: f64,
) -> Array2<bool> {
    let r2 = radius * radius;
    Array2::from_shape_fn((ci.nrows(), cj.nrows()), |(k, l)| {
        let d2: f64 = ci
            .row(k)
            .iter()
            .zip(cj.row(l))
            .map(|(a, b)| {
                let t = a.to_f64() - b.to_f64();
                t * t
            })
            .sum();
        d2 <= r2
    })
}

/// Turns cluster ranges and a cluster-to-cluster mask into [`Ranges`]
/// (pykeops' `from_matrix`; the same as [`Ranges::from_matrix`]).
pub fn from_matrix(
    ranges_i: &[[usize; 2]],
    ranges_j: &[[usize; 2]],
    keep: ArrayView2<'_, bool>,
) -> Result<Ranges> {
    Ranges::from_matrix(ranges_i, ranges_j, keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn grid_cluster_matches_pykeops() {
        // pykeops' docstring: bins of .2 on [0, .1, .9, .05, .5].
        let x = array![[0.0f32], [0.1], [0.9], [0.05], [0.5]];
        assert_eq!(grid_cluster(x.view(), &[0.2]).unwrap(), vec![0, 0, 2, 0, 1]);
        let x = array![
            [0.0f64, 0.0],
            [0.0, 1.5],
            [1.5, 0.0],
            [0.2, 0.1],
            [1.9, 1.9]
        ];
        assert_eq!(grid_cluster(x.view(), &[1.0]).unwrap(), vec![0, 1, 2, 0, 3]);
        assert_eq!(
            grid_cluster(x.view(), &[1.0, 10.0]).unwrap(),
            vec![0, 0, 1, 0, 1]
        );
        assert!(grid_cluster(x.view(), &[1.0, 1.0, 1.0]).is_err());
        assert!(grid_cluster(x.view(), &[0.0]).is_err());
    }

    #[test]
    fn sort_and_ranges_match_pykeops() {
        let x = array![[0.0f64], [5.0], [0.4], [0.3], [2.0]];
        let lab = [0, 2, 0, 0, 1];
        let (xs, ls, p) = sort_clusters(x.view(), &lab).unwrap();
        assert_eq!(xs, array![[0.0], [0.4], [0.3], [2.0], [5.0]]);
        assert_eq!(ls, vec![0, 0, 0, 1, 2]);
        assert_eq!(p.unsort_rows(xs.view()).unwrap(), x);
        assert_eq!(cluster_ranges(&ls).unwrap(), vec![[0, 3], [3, 4], [4, 5]]);
        assert!(cluster_ranges(&lab).is_err());
        // argmin-type results: sorted indices to original ones.
        assert_eq!(
            p.original_indices(array![[0usize, 3, 4, usize::MAX]].view()),
            array![[0usize, 4, 1, usize::MAX]]
        );
    }

    #[test]
    fn centroids_match_pykeops() {
        let x = array![[0.0f64], [0.5], [1.0], [2.0], [3.0]];
        let lab = [0, 0, 1, 1, 1];
        let c = cluster_ranges_centroids(x.view(), &lab, None).unwrap();
        assert_eq!(c.ranges, vec![[0, 2], [2, 5]]);
        assert_eq!(c.centroids, array![[0.25], [2.0]]);
        assert_eq!(c.weights, vec![2.0, 3.0]);
        let wt = [1.0, 0.5, 1.0, 1.0, 10.0];
        let c = cluster_ranges_centroids(x.view(), &lab, Some(&wt))
            .unwrap()
            .centroids;
        assert!((c[[0, 0]] - 0.5 / 3.0).abs() < 1e-12 && (c[[1, 0]] - 2.75).abs() < 1e-12);
    }

    #[test]
    fn mask_and_ranges() {
        let ci = array![[0.0f32], [1.0]];
        let cj = array![[0.0f32], [0.7], [2.0]];
        let keep = distance_mask(ci.view(), cj.view(), 0.8f64.sqrt());
        assert_eq!(keep, array![[true, true, false], [false, true, false]]);
        let r = from_matrix(&[[0, 2], [2, 3]], &[[0, 1], [1, 2], [2, 4]], keep.view()).unwrap();
        assert_eq!(r.slices_i(), &[2, 3]);
        assert_eq!(r.slices_j(), &[1, 3, 3]);
        assert_eq!(r.kept_pairs(), 2 * 2 + 1);
    }
}
