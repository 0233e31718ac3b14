//! Block-sparse reductions: KeOps' `ranges`.
//!
//! A [`Ranges`] value restricts a reduction to a union of rectangles of
//! the M × N matrix of pairs, described as in KeOps by a 6-tuple of
//! integer arrays:
//!
//! - for reductions over j (one output row per i): `ranges_i` (blocks of
//!   rows `[start, end)`), `slices_i` (for block k, its j-ranges are
//!   `redranges_j[slices_i[k - 1]..slices_i[k]]`, with `slices_i[-1] = 0`)
//!   and `redranges_j` (the j-ranges `[start, end)`);
//! - for reductions over i (one output row per j), the transposed triple
//!   `ranges_j`, `slices_j`, `redranges_i`.
//!
//! Both triples must describe the same set of pairs (the gradient of a
//! reduction over j with respect to a `Vj` variable is a reduction over i
//! on the same pairs). [`Ranges::from_matrix`] builds them from cluster
//! ranges and a cluster-to-cluster mask, as `pykeops`' `from_matrix`;
//! [`crate::cluster`] has the helpers that produce the clusters.
//!
//! A kernel uses them through [`Kernel::ranges`](crate::Kernel::ranges):
//!
//! ```ignore
//! use keops::prelude::*;
//!
//! let k = keops!(|x: Vi<1>, y: Vj<1>| sum_j(x * y));
//! // Rows 0..2 reduce over j in 0..1, rows 2..4 over j in 1..3.
//! let r = Ranges::from_matrix(&[[0, 2], [2, 4]], &[[0, 1], [1, 3]],
//!                             ndarray::array![[true, false], [false, true]].view())?;
//! let out = k.ranges(&r).call(&x, &y)?;
//! ```
//!
//! An output row that no block covers, or whose block has no j-range, gets
//! the reduction's value over an empty set, as for N = 0: 0 for sums, -inf
//! for log-sum-exp, +inf and index `usize::MAX` for min / argmin, -inf for
//! max.
//!
//! Checks: a `Ranges` is validated when built (a range whose start is past
//! its end, decreasing `slices`, lengths that do not match, overlapping
//! blocks or overlapping j-ranges of one block, triples that disagree), and
//! against the numbers of rows when a kernel runs (a range past the end of
//! its variables). Each is an [`Error::Ranges`] naming the array and entry.
//!
//! A kernel holds its ranges as a small `Copy` handle in its
//! [`Options`](crate::Options): the data live as long as a clone of the
//! `Ranges` does; a call after every clone was dropped is an error, never
//! a silently dense reduction.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ndarray::ArrayView2;

use crate::error::{Error, Result};
use crate::stage::Cat;

/// Block-sparse ranges of a reduction (the KeOps 6-tuple), validated. Cheap
/// to clone (shared data). See the [module documentation](self).
#[derive(Clone)]
pub struct Ranges {
    inner: Arc<Inner>,
}

/// The `Copy` handle of a [`Ranges`] that kernel options carry
/// ([`Options::ranges`](crate::Options::ranges)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RangesId(u64);

pub(crate) struct Inner {
    id: u64,
    /// For reductions over j (outer rows are the i indices).
    over_j: Side,
    /// For reductions over i.
    over_i: Side,
}

/// One triple, as given and normalised for the engines.
pub(crate) struct Side {
    outer: Vec<[usize; 2]>,
    slices: Vec<usize>,
    red: Vec<[usize; 2]>,
    /// Non-empty blocks: rows and their reduced spans.
    pub(crate) blocks: Vec<Block>,
    /// The reduced spans of every block, sorted and merged within a block.
    pub(crate) spans: Vec<Range<usize>>,
    /// Largest end of `outer` and its position.
    outer_end: Option<(usize, usize)>,
    /// Largest end of `red` and its position.
    red_end: Option<(usize, usize)>,
    /// Number of kept pairs.
    pairs: u128,
    /// For the ranges of a batch: its problems.
    pub(crate) problems: Option<Problems>,
}

/// The problems of a batch ([`crate::batch::Batch`]): problem `p` is block
/// `p`, whose rows reduce over `p * inner .. (p + 1) * inner`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problems {
    pub(crate) count: usize,
    pub(crate) inner: usize,
}

/// A block of output rows and its reduced spans (`Side::spans[spans]`).
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub(crate) rows: Range<usize>,
    pub(crate) spans: Range<usize>,
    /// Its position in the given arrays (the problem of a batch).
    pub(crate) index: usize,
}

/// Names of the arrays of a triple, for messages.
struct Names {
    outer: &'static str,
    slices: &'static str,
    red: &'static str,
    /// The category of the outer rows ("i" or "j").
    o: &'static str,
    /// The reduced category.
    r: &'static str,
}

const OVER_J: Names = Names {
    outer: "ranges_i",
    slices: "slices_i",
    red: "redranges_j",
    o: "i",
    r: "j",
};
const OVER_I: Names = Names {
    outer: "ranges_j",
    slices: "slices_j",
    red: "redranges_i",
    o: "j",
    r: "i",
};

fn bad(msg: String) -> Error {
    Error::Ranges(msg)
}

fn fmt_range(r: [usize; 2]) -> String {
    format!("[{}, {})", r[0], r[1])
}

impl Side {
    fn new(outer: &[[usize; 2]], slices: &[usize], red: &[[usize; 2]], nm: &Names) -> Result<Side> {
        if slices.len() != outer.len() {
            return Err(bad(format!(
                "{} has {} entries but {} has {}: one slice end per block",
                nm.slices,
                slices.len(),
                nm.outer,
                outer.len()
            )));
        }
        for (k, r) in outer.iter().enumerate() {
            if r[0] > r[1] {
                return Err(bad(format!(
                    "{}[{k}] = {}: the start is past the end",
                    nm.outer,
                    fmt_range(*r)
                )));
            }
        }
        for (k, r) in red.iter().enumerate() {
            if r[0] > r[1] {
                return Err(bad(format!(
                    "{}[{k}] = {}: the start is past the end",
                    nm.red,
                    fmt_range(*r)
                )));
            }
        }
        let mut prev = 0usize;
        for (k, &s) in slices.iter().enumerate() {
            if s < prev {
                return Err(bad(format!(
                    "{}[{k}] = {s} is less than {}[{}] = {prev}: slice ends must be non-decreasing",
                    nm.slices,
                    nm.slices,
                    k - 1
                )));
            }
            if s > red.len() {
                return Err(bad(format!(
                    "{}[{k}] = {s} is past the end of {} ({} ranges)",
                    nm.slices,
                    nm.red,
                    red.len()
                )));
            }
            prev = s;
        }
        if prev != red.len() {
            return Err(bad(format!(
                "{} ends at {prev} but {} has {} ranges: the last slice end must be its length",
                nm.slices,
                nm.red,
                red.len()
            )));
        }
        // Blocks of rows must not overlap (each output row is written once).
        let mut order: Vec<usize> = (0..outer.len())
            .filter(|&k| outer[k][0] < outer[k][1])
            .collect();
        order.sort_by_key(|&k| outer[k][0]);
        for w in order.windows(2) {
            let (a, b) = (w[0], w[1]);
            if outer[b][0] < outer[a][1] {
                return Err(bad(format!(
                    "{}[{b}] = {} overlaps {}[{a}] = {}: blocks of {} rows must be disjoint",
                    nm.outer,
                    fmt_range(outer[b]),
                    nm.outer,
                    fmt_range(outer[a]),
                    nm.o
                )));
            }
        }
        // Reduced ranges of one block: disjoint; sorted and merged for the
        // engine (the order of the terms of a reduction is then the index
        // order, as for a dense reduction).
        let mut blocks = Vec::new();
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut pairs = 0u128;
        let mut start = 0usize;
        for (k, &end) in slices.iter().enumerate() {
            let mut rs: Vec<usize> = (start..end).filter(|&l| red[l][0] < red[l][1]).collect();
            rs.sort_by_key(|&l| red[l][0]);
            for w in rs.windows(2) {
                let (a, b) = (w[0], w[1]);
                if red[b][0] < red[a][1] {
                    return Err(bad(format!(
                        "{}[{b}] = {} overlaps {}[{a}] = {}: the {}-ranges of block {k} ({}[{k}]) must be disjoint",
                        nm.red,
                        fmt_range(red[b]),
                        nm.red,
                        fmt_range(red[a]),
                        nm.r,
                        nm.outer
                    )));
                }
            }
            let rows = outer[k][0]..outer[k][1];
            let first = spans.len();
            let mut total = 0usize;
            for &l in &rs {
                let r = red[l][0]..red[l][1];
                total += r.len();
                if spans.len() > first && spans[spans.len() - 1].end == r.start {
                    let k = spans.len() - 1;
                    spans[k].end = r.end;
                } else {
                    spans.push(r);
                }
            }
            if rows.is_empty() || total == 0 {
                spans.truncate(first);
            } else {
                pairs += rows.len() as u128 * total as u128;
                blocks.push(Block {
                    rows,
                    spans: first..spans.len(),
                    index: k,
                });
            }
            start = end;
        }
        let max_end = |v: &[[usize; 2]]| {
            v.iter()
                .enumerate()
                .filter(|(_, r)| r[0] < r[1])
                .max_by_key(|(_, r)| r[1])
                .map(|(k, r)| (r[1], k))
        };
        Ok(Side {
            outer: outer.to_vec(),
            slices: slices.to_vec(),
            red: red.to_vec(),
            blocks,
            spans,
            outer_end: max_end(outer),
            red_end: max_end(red),
            pairs,
            problems: None,
        })
    }

    /// Checks the ranges against `m` output rows and `n` reduced indices.
    pub(crate) fn check(&self, m: usize, n: usize, outer: Cat) -> Result<()> {
        let nm = if outer == Cat::J { &OVER_I } else { &OVER_J };
        if let Some((e, k)) = self.outer_end {
            if e > m {
                return Err(bad(format!(
                    "{}[{k}] = {} ends past the {m} rows of the {} variables",
                    nm.outer,
                    fmt_range(self.outer[k]),
                    nm.o
                )));
            }
        }
        if let Some((e, k)) = self.red_end {
            if e > n {
                return Err(bad(format!(
                    "{}[{k}] = {} ends past the {n} rows of the {} variables",
                    nm.red,
                    fmt_range(self.red[k]),
                    nm.r
                )));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Consistency of the two triples: a hash of the set of reduced indices of
// every row, compared along a sweep of the rows. The hash of a set S of
// indices is the sum of r^j over j in S, modulo the prime 2^61 - 1: it adds
// over disjoint unions, and a range [a, b) costs one geometric sum.

const P61: u64 = (1 << 61) - 1;
const BASE: u64 = 0x1d2c_3b4a_5968_7f01 % P61;

fn mulmod(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) % P61 as u128) as u64
}

fn powmod(mut b: u64, mut e: u64) -> u64 {
    let mut r = 1u64;
    while e > 0 {
        if e & 1 == 1 {
            r = mulmod(r, b);
        }
        b = mulmod(b, b);
        e >>= 1;
    }
    r
}

/// `sum_{j in [a, b)} BASE^j mod P61`, as the difference of the prefix
/// sums `(BASE^a - 1) / (BASE - 1)`, memoised per end point (clusters
/// share their ends).
struct RangeHash {
    inv: u64,
    memo: HashMap<usize, u64>,
}

impl RangeHash {
    fn new() -> Self {
        RangeHash {
            inv: powmod((BASE + P61 - 1) % P61, P61 - 2),
            memo: HashMap::new(),
        }
    }
    fn prefix(&mut self, a: usize) -> u64 {
        let inv = self.inv;
        *self
            .memo
            .entry(a)
            .or_insert_with(|| mulmod((powmod(BASE, a as u64) + P61 - 1) % P61, inv))
    }
    fn range(&mut self, a: usize, b: usize) -> u64 {
        (self.prefix(b) + P61 - self.prefix(a)) % P61
    }
}

fn check_consistent(over_j: &Side, over_i: &Side) -> Result<()> {
    if over_j.pairs != over_i.pairs {
        return Err(bad(format!(
            "the two triples keep different numbers of pairs: {} for reductions over j \
             (ranges_i, slices_i, redranges_j), {} for reductions over i (ranges_j, slices_j, \
             redranges_i); build both from the same blocks (e.g. with `Ranges::from_matrix`)",
            over_j.pairs, over_i.pairs
        )));
    }
    let mut rh = RangeHash::new();
    // Events along the i axis: (row, hash delta of the first triple, of the second).
    let mut ev: Vec<(usize, u64, u64)> = Vec::new();
    for b in &over_j.blocks {
        let h = over_j.spans[b.spans.clone()]
            .iter()
            .fold(0, |h, s| (h + rh.range(s.start, s.end)) % P61);
        ev.push((b.rows.start, h, 0));
        ev.push((b.rows.end, P61 - h, 0));
    }
    for b in &over_i.blocks {
        let h = rh.range(b.rows.start, b.rows.end);
        for s in &over_i.spans[b.spans.clone()] {
            ev.push((s.start, 0, h));
            ev.push((s.end, 0, (P61 - h) % P61));
        }
    }
    ev.sort_unstable_by_key(|e| e.0);
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut k = 0;
    while k < ev.len() {
        let x = ev[k].0;
        while k < ev.len() && ev[k].0 == x {
            h1 = (h1 + ev[k].1) % P61;
            h2 = (h2 + ev[k].2) % P61;
            k += 1;
        }
        if h1 != h2 {
            let next = ev.get(k).map_or(x, |e| e.0);
            return Err(bad(format!(
                "the two triples keep different pairs: for the i rows [{x}, {next}), \
                 (ranges_i, slices_i, redranges_j) and (ranges_j, slices_j, redranges_i) \
                 do not give the same j indices; build both from the same blocks (e.g. with \
                 `Ranges::from_matrix`)"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The registry that maps the `Copy` handles of kernel options to live data.

type Registry = Mutex<HashMap<u64, Weak<Inner>>>;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut g) = registry().lock() {
            g.remove(&self.id);
        }
    }
}

/// The ranges of a handle, if a clone of them is still alive.
pub(crate) fn resolve(id: RangesId) -> Result<Arc<Inner>> {
    let g = registry()
        .lock()
        .map_err(|_| Error::Internal("ranges registry poisoned".into()))?;
    g.get(&id.0).and_then(Weak::upgrade).ok_or_else(|| {
        bad(
            "the `Ranges` given to `.ranges(...)` were dropped before the call: \
             keep them (or a clone) alive while the kernel uses them"
                .into(),
        )
    })
}

impl Inner {
    /// The triple for stages whose output rows are of category `outer`.
    pub(crate) fn side(&self, outer: Cat) -> &Side {
        if outer == Cat::J {
            &self.over_i
        } else {
            &self.over_j
        }
    }
}

impl Ranges {
    /// Validates the KeOps 6-tuple. Each range is `[start, end)`; see the
    /// [module documentation](self) for the meaning and the checks (bounds
    /// against the numbers of rows are checked when a kernel runs).
    pub fn new(
        ranges_i: &[[usize; 2]],
        slices_i: &[usize],
        redranges_j: &[[usize; 2]],
        ranges_j: &[[usize; 2]],
        slices_j: &[usize],
        redranges_i: &[[usize; 2]],
    ) -> Result<Ranges> {
        let over_j = Side::new(ranges_i, slices_i, redranges_j, &OVER_J)?;
        let over_i = Side::new(ranges_j, slices_j, redranges_i, &OVER_I)?;
        check_consistent(&over_j, &over_i)?;
        Ok(Ranges::register(over_j, over_i))
    }

    /// The block-diagonal ranges of `count` problems of `m` i-rows and `n`
    /// j-rows each.
    pub(crate) fn batch(count: usize, m: usize, n: usize) -> Result<Ranges> {
        let ranges_i: Vec<[usize; 2]> = (0..count).map(|k| [k * m, (k + 1) * m]).collect();
        let ranges_j: Vec<[usize; 2]> = (0..count).map(|k| [k * n, (k + 1) * n]).collect();
        let slices: Vec<usize> = (1..=count).collect();
        let mut over_j = Side::new(&ranges_i, &slices, &ranges_j, &OVER_J)?;
        let mut over_i = Side::new(&ranges_j, &slices, &ranges_i, &OVER_I)?;
        over_j.problems = Some(Problems { count, inner: n });
        over_i.problems = Some(Problems { count, inner: m });
        Ok(Ranges::register(over_j, over_i))
    }

    fn register(over_j: Side, over_i: Side) -> Ranges {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::new(Inner { id, over_j, over_i });
        // A poisoned registry only loses the entry: the call then reports
        // the ranges as dropped.
        if let Ok(mut g) = registry().lock() {
            g.insert(id, Arc::downgrade(&inner));
        }
        Ranges { inner }
    }

    /// The ranges of the blocks `ranges_i[k] x ranges_j[l]` for which
    /// `keep[[k, l]]` is true (`pykeops`' `from_matrix`): `ranges_i` and
    /// `ranges_j` are clusters of i and j indices (from
    /// [`cluster::cluster_ranges`](crate::cluster::cluster_ranges) on sorted
    /// labels, for instance), `keep` is their `(clusters of i, clusters of
    /// j)` mask.
    pub fn from_matrix(
        ranges_i: &[[usize; 2]],
        ranges_j: &[[usize; 2]],
        keep: ArrayView2<'_, bool>,
    ) -> Result<Ranges> {
        let (ci, cj) = keep.dim();
        if ci != ranges_i.len() || cj != ranges_j.len() {
            return Err(bad(format!(
                "`keep` is {ci} x {cj} but there are {} clusters of i (ranges_i) and {} of j \
                 (ranges_j)",
                ranges_i.len(),
                ranges_j.len()
            )));
        }
        let mut slices_i = Vec::with_capacity(ci);
        let mut redranges_j = Vec::new();
        for k in 0..ci {
            for l in 0..cj {
                if keep[[k, l]] {
                    redranges_j.push(ranges_j[l]);
                }
            }
            slices_i.push(redranges_j.len());
        }
        let mut slices_j = Vec::with_capacity(cj);
        let mut redranges_i = Vec::new();
        for l in 0..cj {
            for k in 0..ci {
                if keep[[k, l]] {
                    redranges_i.push(ranges_i[k]);
                }
            }
            slices_j.push(redranges_i.len());
        }
        Ranges::new(
            ranges_i,
            &slices_i,
            &redranges_j,
            ranges_j,
            &slices_j,
            &redranges_i,
        )
    }

    /// The handle that kernel options carry.
    pub fn id(&self) -> RangesId {
        RangesId(self.inner.id)
    }

    /// The same pairs with i and j exchanged (`pykeops`' `swap_axes`): for
    /// the transposed formula.
    pub fn swap_axes(&self) -> Ranges {
        let s = |side: &Side| Side {
            outer: side.outer.clone(),
            slices: side.slices.clone(),
            red: side.red.clone(),
            blocks: side.blocks.clone(),
            spans: side.spans.clone(),
            outer_end: side.outer_end,
            red_end: side.red_end,
            pairs: side.pairs,
            problems: side.problems,
        };
        Ranges::register(s(&self.inner.over_i), s(&self.inner.over_j))
    }

    /// `ranges_i`: blocks of i rows, for reductions over j.
    pub fn ranges_i(&self) -> &[[usize; 2]] {
        &self.inner.over_j.outer
    }
    /// `slices_i`: end of each block's j-ranges in `redranges_j`.
    pub fn slices_i(&self) -> &[usize] {
        &self.inner.over_j.slices
    }
    /// `redranges_j`: the j-ranges of the blocks of `ranges_i`.
    pub fn redranges_j(&self) -> &[[usize; 2]] {
        &self.inner.over_j.red
    }
    /// `ranges_j`: blocks of j rows, for reductions over i.
    pub fn ranges_j(&self) -> &[[usize; 2]] {
        &self.inner.over_i.outer
    }
    /// `slices_j`: end of each block's i-ranges in `redranges_i`.
    pub fn slices_j(&self) -> &[usize] {
        &self.inner.over_i.slices
    }
    /// `redranges_i`: the i-ranges of the blocks of `ranges_j`.
    pub fn redranges_i(&self) -> &[[usize; 2]] {
        &self.inner.over_i.red
    }

    /// Number of (i, j) pairs kept.
    pub fn kept_pairs(&self) -> u128 {
        self.inner.over_j.pairs
    }

    /// Whether the pair `(i, j)` is kept (a linear search over the blocks;
    /// for tests and small problems).
    pub fn contains(&self, i: usize, j: usize) -> bool {
        let s = &self.inner.over_j;
        s.blocks
            .iter()
            .find(|b| b.rows.contains(&i))
            .is_some_and(|b| s.spans[b.spans.clone()].iter().any(|r| r.contains(&j)))
    }

    /// Checks the ranges against `m` i rows and `n` j rows (what a kernel
    /// call does before it runs).
    pub fn check(&self, m: usize, n: usize) -> Result<()> {
        self.inner.over_j.check(m, n, Cat::I)?;
        self.inner.over_i.check(n, m, Cat::J)
    }
}

impl std::fmt::Debug for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ranges")
            .field("ranges_i", &self.ranges_i().len())
            .field("redranges_j", &self.redranges_j().len())
            .field("ranges_j", &self.ranges_j().len())
            .field("redranges_i", &self.redranges_i().len())
            .field("kept_pairs", &self.kept_pairs())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn example() -> Ranges {
        // pykeops' `from_matrix` docstring example.
        Ranges::from_matrix(
            &[[2, 5], [7, 12]],
            &[[1, 4], [4, 9], [20, 30]],
            array![[true, true, false], [false, true, false]].view(),
        )
        .unwrap()
    }

    #[test]
    fn from_matrix_matches_pykeops() {
        let r = example();
        assert_eq!(r.ranges_i(), &[[2, 5], [7, 12]]);
        assert_eq!(r.slices_i(), &[2, 3]);
        assert_eq!(r.redranges_j(), &[[1, 4], [4, 9], [4, 9]]);
        assert_eq!(r.ranges_j(), &[[1, 4], [4, 9], [20, 30]]);
        assert_eq!(r.slices_j(), &[1, 3, 3]);
        assert_eq!(r.redranges_i(), &[[2, 5], [2, 5], [7, 12]]);
        assert_eq!(r.kept_pairs(), 3 * 8 + 5 * 5);
        assert!(r.contains(2, 1) && r.contains(4, 8) && r.contains(7, 4));
        assert!(!r.contains(7, 3) && !r.contains(5, 1) && !r.contains(2, 9));
        // Adjacent j-ranges of a block are merged for the engine.
        assert_eq!(r.inner.over_j.spans, vec![1..9, 4..9]);
        assert!(r.check(12, 30).is_ok());
        let e = r.check(11, 30).unwrap_err().to_string();
        assert!(
            e.contains("ranges_i[1] = [7, 12)") && e.contains("11 rows"),
            "{e}"
        );
        let e = r.check(12, 29).unwrap_err().to_string();
        assert!(e.contains("ranges_j[2] = [20, 30)"), "{e}");
    }

    #[test]
    fn swapped_axes() {
        let r = example().swap_axes();
        assert_eq!(r.ranges_i(), &[[1, 4], [4, 9], [20, 30]]);
        assert_eq!(r.redranges_j(), &[[2, 5], [2, 5], [7, 12]]);
        assert!(r.contains(1, 2) && !r.contains(3, 7));
    }

    fn err(r: Result<Ranges>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn invalid_ranges_are_named() {
        let ok_i = [[0usize, 2], [2, 4]];
        let e = err(Ranges::new(&[[3, 1]], &[0], &[], &[], &[], &[]));
        assert!(
            e.contains("ranges_i[0] = [3, 1)") && e.contains("start is past"),
            "{e}"
        );
        let e = err(Ranges::new(&ok_i, &[1], &[[0, 1]], &[], &[], &[]));
        assert!(
            e.contains("slices_i has 1 entries but ranges_i has 2"),
            "{e}"
        );
        let e = err(Ranges::new(
            &ok_i,
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
        let e = err(Ranges::new(
            &ok_i,
            &[1, 1],
            &[[0, 1], [1, 2]],
            &[],
            &[],
            &[],
        ));
        assert!(
            e.contains("slices_i ends at 1") && e.contains("2 ranges"),
            "{e}"
        );
        let e = err(Ranges::new(
            &ok_i,
            &[1, 3],
            &[[0, 1], [1, 2]],
            &[],
            &[],
            &[],
        ));
        assert!(
            e.contains("slices_i[1] = 3 is past the end of redranges_j"),
            "{e}"
        );
        let e = err(Ranges::new(&[[0, 3], [2, 4]], &[0, 0], &[], &[], &[], &[]));
        assert!(
            e.contains("ranges_i[1] = [2, 4) overlaps ranges_i[0] = [0, 3)"),
            "{e}"
        );
        let e = err(Ranges::new(
            &ok_i,
            &[2, 2],
            &[[0, 5], [4, 6]],
            &[],
            &[],
            &[],
        ));
        assert!(
            e.contains("redranges_j[1] = [4, 6) overlaps redranges_j[0] = [0, 5)"),
            "{e}"
        );
        let e = err(Ranges::new(&ok_i, &[1, 1], &[[5, 4]], &[], &[], &[]));
        assert!(e.contains("redranges_j[0] = [5, 4)"), "{e}");
        let e = err(Ranges::new(
            &[[0, 2]],
            &[1],
            &[[0, 3]],
            &[[3, 1]],
            &[0],
            &[],
        ));
        assert!(e.contains("ranges_j[0] = [3, 1)"), "{e}");
        // Triples that disagree: same pair counts, different pairs.
        let e = err(Ranges::new(
            &[[0, 2]],
            &[1],
            &[[0, 3]],
            &[[1, 4]],
            &[1],
            &[[0, 2]],
        ));
        assert!(e.contains("different pairs"), "{e}");
        let e = err(Ranges::new(
            &[[0, 2]],
            &[1],
            &[[0, 3]],
            &[[0, 3]],
            &[1],
            &[[0, 1]],
        ));
        assert!(e.contains("different numbers of pairs"), "{e}");
        let e = err(Ranges::from_matrix(&ok_i, &ok_i, array![[true]].view()));
        assert!(e.contains("`keep` is 1 x 1"), "{e}");
    }

    #[test]
    fn consistency_check_accepts_other_partitions() {
        // Rows [0, 4) x j [0, 6), described with different cuts on each side.
        let r = Ranges::new(
            &[[0, 1], [1, 4]],
            &[2, 3],
            &[[0, 2], [2, 6], [0, 6]],
            &[[0, 3], [3, 6]],
            &[2, 3],
            &[[0, 2], [2, 4], [0, 4]],
        )
        .unwrap();
        assert_eq!(r.kept_pairs(), 24);
        assert_eq!(r.inner.over_j.spans, vec![0..6, 0..6]);
    }

    #[test]
    fn dropped_ranges_are_an_error() {
        let r = example();
        let id = r.id();
        let r2 = r.clone();
        drop(r);
        assert!(resolve(id).is_ok());
        drop(r2);
        let e = resolve(id).err().unwrap().to_string();
        assert!(e.contains("dropped"), "{e}");
    }
}
