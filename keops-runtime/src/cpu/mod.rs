//! The CPU map-reduce engine.
//!
//! For a stage `out_o = Red_n F(p, x_o, y_n)` over M output rows and N
//! reduced indices:
//!
//! 1. the parameter phase runs once;
//! 2. the inner phase runs once per reduced index and stores its features in
//!    tiles of `TILE` indices, feature-major inside a tile (structure of
//!    arrays, so that a SIMD load reads `LANES` consecutive indices);
//! 3. work items — a block of output rows × a segment of tiles — run in
//!    parallel (rayon). A work item computes the outer features of its rows,
//!    then for each tile (which stays in L1) walks its rows in groups of `G`
//!    (register blocking: the tile's packs are loaded once per group) and
//!    updates `G` lane states per pack of `LANES` pairs. Lane states live in
//!    registers during a tile and are folded into f64 row states at the end
//!    (after every tile for the block sum scheme);
//! 4. segments of the same rows are merged in order, and rows finalised.
//!
//! Segments (splitting the reduced index across threads) are only used when
//! there are too few row blocks to occupy the threads, e.g. M small and N
//! large. Every SIMD body runs under [`crate::simd::dispatch_at`], inside a
//! function compiled for the selected ISA.

pub(crate) mod exec;
pub(crate) mod reduce;

use std::marker::PhantomData;
use std::ops::Range;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::cpu::reduce::RedConsts;
use crate::error::{Error, Result};
use crate::options::{Options, SumScheme};
use crate::ranges::Side;
use crate::simd::{self, Pack, PerReal, Real, SimdLevel, WithPack};
use crate::stage::{Buf, CpuStage, Features, PairCtx, Role, StageInfo, VarKind};
use crate::value::Val;

/// Reduced indices per tile (a multiple of every pack width). A `const fn` of
/// the stage's constant metadata: in the hot loop the feature offsets
/// `k * tile` are then immediates.
const fn tile_len(info: &StageInfo) -> usize {
    // Keep a tile's features around 16 KiB (f32) so that it stays in L1,
    // but never below 256 indices: the per-tile work (loading and storing
    // the rows' lane states) must stay small against the tile's pairs.
    let per = if info.nnf > 1 { info.nnf } else { 1 };
    let t = 4096 / per;
    let t = if t < 256 {
        256
    } else if t > 2048 {
        2048
    } else {
        t
    };
    t / 16 * 16
}

/// Reduced indices between two folds of the lane sums into the f64 row
/// state (block sum scheme): at most 2048 / 16 = 128 terms per lane are
/// summed in the data type before an f64 addition.
const BLOCK_FLUSH: usize = 2048;

/// Elements past the last tile of the inner features: the run-time
/// executor's chunk of packs, of the widest pack (tail chunks are computed
/// whole, their lanes past the end discarded).
const SOA_PAD: usize = exec::NP * 16;

/// Maximum length of a segment of the reduced index, so that lane indices
/// stored as f32 stay exact.
const MAX_SEGMENT: usize = 1 << 24;

/// Views of a stage's arguments, sorted by role.
#[doc(hidden)]
pub struct Args<'a, T> {
    outer_real: Vec<(usize, ArrayView2<'a, T>)>,
    outer_idx: Vec<(usize, ArrayView2<'a, usize>)>,
    inner_real: Vec<(usize, ArrayView2<'a, T>)>,
    inner_idx: Vec<(usize, ArrayView2<'a, usize>)>,
    /// Offset, declared dimension, values (the dimension, or one vector per
    /// problem of a batch).
    param: Vec<(usize, usize, &'a [T])>,
}

fn sort_args<'a, T: Real>(info: &StageInfo, args: &[&'a Val<'_, T>]) -> Result<Args<'a, T>> {
    let mut a = Args {
        outer_real: vec![],
        outer_idx: vec![],
        inner_real: vec![],
        inner_idx: vec![],
        param: vec![],
    };
    if args.len() != info.vars.len() {
        return Err(Error::Internal(format!(
            "{}: {} arguments for {} variables",
            info.name,
            args.len(),
            info.vars.len()
        )));
    }
    for (spec, arg) in info.vars.iter().zip(args) {
        let bad = || {
            Error::Internal(format!(
                "{}: argument `{}` has the wrong kind",
                info.name, spec.name
            ))
        };
        match (spec.role, spec.kind, arg) {
            (Role::Param, _, Val::Vector { data, .. }) => {
                a.param.push((spec.offset, spec.dim, data))
            }
            (Role::Outer, VarKind::Real, Val::Rows { data, .. }) => {
                a.outer_real.push((spec.offset, data.view()))
            }
            (Role::Inner, VarKind::Real, Val::Rows { data, .. }) => {
                a.inner_real.push((spec.offset, data.view()))
            }
            (Role::Outer, VarKind::Index, Val::Index { data, .. }) => {
                a.outer_idx.push((spec.offset, data.view()))
            }
            (Role::Inner, VarKind::Index, Val::Index { data, .. }) => {
                a.inner_idx.push((spec.offset, data.view()))
            }
            _ => return Err(bad()),
        }
    }
    Ok(a)
}

#[inline(always)]
fn gather_row<T: Copy>(dst: &mut [T], views: &[(usize, ArrayView2<'_, T>)], r: usize) {
    for (off, v) in views {
        let row = v.row(r);
        match row.as_slice() {
            Some(s) => dst[*off..*off + s.len()].copy_from_slice(s),
            None => {
                for (k, &x) in row.iter().enumerate() {
                    dst[off + k] = x;
                }
            }
        }
    }
}

/// Runs a stage on the CPU. `m` and `n` are the numbers of output rows and
/// reduced indices.
///
/// Only the stage's kernels (the phase functions inside the SIMD loops) are
/// monomorphised for `S`; the rest of the engine (argument sorting, work
/// decomposition, threads, merging, finalisation) is compiled once, in this
/// crate, for f32 and f64 ([`run_engine_f32`], [`run_engine_f64`]), and
/// reaches them through [`StageKernels`]. This keeps the code a user's build
/// compiles per formula small.
#[inline]
pub fn run_stage<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    T::__select::<Engine>()(&Kernels::<S>(PhantomData), opts, args, m, n)
}

/// Runs a stage built at run time (see [`exec`]). The executor is
/// compiled here, for f32 and f64 ([`run_rt_f32`], [`run_rt_f64`]), never
/// in the calling crate.
pub(crate) fn run_rt<T: Real>(
    st: &exec::RtStage,
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    T::__select::<RtEngine>()(st, opts, args, m, n)
}

/// The entry points of the run-time stages' engine.
struct RtEngine;

impl PerReal for RtEngine {
    type Item<T: Real> =
        fn(&exec::RtStage, &Options, &[&Val<'_, T>], usize, usize) -> Result<Val<'static, T>>;
    fn f32() -> Self::Item<f32> {
        run_rt_f32
    }
    fn f64() -> Self::Item<f64> {
        run_rt_f64
    }
}

#[inline(never)]
fn run_rt_f32(
    st: &exec::RtStage,
    opts: &Options,
    args: &[&Val<'_, f32>],
    m: usize,
    n: usize,
) -> Result<Val<'static, f32>> {
    run_engine(st, opts, args, m, n)
}

#[inline(never)]
fn run_rt_f64(
    st: &exec::RtStage,
    opts: &Options,
    args: &[&Val<'_, f64>],
    m: usize,
    n: usize,
) -> Result<Val<'static, f64>> {
    run_engine(st, opts, args, m, n)
}

/// The engine's entry point for each element type: [`run_engine_f32`],
/// [`run_engine_f64`].
struct Engine;

impl PerReal for Engine {
    type Item<T: Real> =
        fn(&dyn StageKernels<T>, &Options, &[&Val<'_, T>], usize, usize) -> Result<Val<'static, T>>;
    fn f32() -> Self::Item<f32> {
        run_engine_f32
    }
    fn f64() -> Self::Item<f64> {
        run_engine_f64
    }
}

/// The engine for f32 data (see [`run_stage`]).
#[doc(hidden)]
#[inline(never)]
pub fn run_engine_f32(
    k: &dyn StageKernels<f32>,
    opts: &Options,
    args: &[&Val<'_, f32>],
    m: usize,
    n: usize,
) -> Result<Val<'static, f32>> {
    run_engine(k, opts, args, m, n)
}

/// The engine for f64 data (see [`run_stage`]).
#[doc(hidden)]
#[inline(never)]
pub fn run_engine_f64(
    k: &dyn StageKernels<f64>,
    opts: &Options,
    args: &[&Val<'_, f64>],
    m: usize,
    n: usize,
) -> Result<Val<'static, f64>> {
    run_engine(k, opts, args, m, n)
}

fn run_engine<T: Real>(
    k: &dyn StageKernels<T>,
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    let a = sort_args(k.info(), args)?;
    let level = match opts.simd {
        Some(l) => l.min(simd::best_level()),
        None => simd::best_level(),
    };
    let ranges = match opts.ranges {
        Some(id) => Some(crate::ranges::resolve(id)?),
        None => None,
    };
    let side = ranges.as_deref().map(|r| r.side(k.info().outer_cat));
    if let Some(side) = side {
        side.check(m, n, k.info().outer_cat)?;
    }
    let run = || run_inner::<T>(k, opts, &a, m, n, level, side);
    crate::threads::install(opts.threads, run)?
}

/// The stage-specific part of the engine: the phase functions of stage `S`
/// inside their SIMD loops, for each SIMD level. Implemented by
/// [`Kernels<S>`] for every stage; the engine holds it as a trait object.
#[doc(hidden)]
pub trait StageKernels<T: Real>: Sync {
    /// The stage's metadata.
    fn info(&self) -> &'static StageInfo;
    /// Rows evaluated together (register blocking).
    fn group(&self) -> usize;
    /// Whether selected candidates are re-evaluated exactly (dot-product form).
    fn rerank_needed(&self) -> bool;
    /// The parameter phase: `raw_p` (`info.raw_param` values) to `pf` (`info.npf`).
    fn param(&self, raw_p: &[T], pf: &mut [T]);
    /// The inner phase of the reduced indices `start..end` into one tile.
    #[allow(clippy::too_many_arguments)]
    fn inner_tile(
        &self,
        level: SimdLevel,
        a: &Args<'_, T>,
        pf: &[T],
        chunk: &mut [T],
        start: usize,
        end: usize,
        tile: usize,
    );
    /// One work item: rows × spans of reduced indices (sorted, disjoint),
    /// into the rows' f64 states.
    fn block(
        &self,
        level: SimdLevel,
        ctx: &BlockCtx<'_, '_, T>,
        pf: &[T],
        rows: Range<usize>,
        spans: &[Range<usize>],
        states: &mut [f64],
    );
    /// Exact re-evaluation and re-sorting of a row's selected candidates.
    fn rerank(&self, a: &Args<'_, T>, raw_p: &[T], row: usize, st: &mut [f64]);
}

/// [`StageKernels`] of stage `S`.
#[doc(hidden)]
pub struct Kernels<S>(PhantomData<fn() -> S>);

impl<S: CpuStage, T: Real> StageKernels<T> for Kernels<S> {
    fn info(&self) -> &'static StageInfo {
        S::INFO
    }

    fn group(&self) -> usize {
        <S::Group<u8> as Buf<u8>>::LEN
    }

    fn rerank_needed(&self) -> bool {
        S::RERANK
    }

    fn param(&self, raw_p: &[T], pf: &mut [T]) {
        let raw = S::RawP::<T>::from_fn(|k| raw_p[k]);
        let mut out = S::Pf::<T>::splat(T::default());
        S::param::<T>(&raw, &mut out);
        pf.copy_from_slice(out.as_slice());
    }

    fn inner_tile(
        &self,
        level: SimdLevel,
        a: &Args<'_, T>,
        pf: &[T],
        chunk: &mut [T],
        start: usize,
        end: usize,
        tile: usize,
    ) {
        let pf = S::Pf::<T>::from_fn(|k| pf[k]);
        let job = InnerTile::<S, T> {
            a,
            pf: &pf,
            chunk,
            start,
            end,
            tile,
        };
        simd::dispatch_at(level, job).expect("supported level");
    }

    fn block(
        &self,
        level: SimdLevel,
        ctx: &BlockCtx<'_, '_, T>,
        pf: &[T],
        rows: Range<usize>,
        spans: &[Range<usize>],
        states: &mut [f64],
    ) {
        let job = BlockJob::<S, T> {
            ctx,
            pf: S::Pf::<T>::from_fn(|k| pf[k]),
            rows,
            spans,
            states,
        };
        simd::dispatch_at(level, job).expect("supported level");
    }

    fn rerank(&self, a: &Args<'_, T>, raw_p: &[T], row: usize, st: &mut [f64]) {
        if !S::RERANK {
            // Not called (see `rerank_needed`); nothing to compile.
            return;
        }
        let raw = S::RawP::<T>::from_fn(|k| raw_p[k]);
        rerank::<S, T>(a, &raw, row, st);
    }
}

fn run_inner<T: Real>(
    k: &dyn StageKernels<T>,
    opts: &Options,
    a: &Args<'_, T>,
    m: usize,
    n: usize,
    level: SimdLevel,
    ranges: Option<&Side>,
) -> Result<Val<'static, T>> {
    let info = k.info();
    let out_dim = info.out_dim();
    let (has_vals, has_idx) = info.red.outputs();
    // Parameter phase: once, or once per problem of a batch when a
    // parameter has a value per problem (`run_stage` checked the lengths).
    let problems = ranges.and_then(|s| s.problems);
    let nsets = match problems {
        Some(p) if a.param.iter().any(|(_, d, v)| v.len() != *d) => p.count,
        _ => 1,
    };
    let mut raw_ps = Vec::with_capacity(nsets);
    let mut pfs = Vec::with_capacity(nsets);
    for set in 0..nsets {
        let mut raw_p = vec![T::default(); info.raw_param];
        for &(off, dim, data) in &a.param {
            let src = if data.len() == dim {
                data
            } else {
                data.get(set * dim..(set + 1) * dim).ok_or_else(|| {
                    Error::Internal(format!("{}: parameter of a bad length", info.name))
                })?
            };
            raw_p[off..off + dim].copy_from_slice(src);
        }
        let mut pf = vec![T::default(); info.npf];
        k.param(&raw_p, &mut pf);
        raw_ps.push(raw_p);
        pfs.push(pf);
    }
    // The parameter set of the problem of reduced index `j` (of output
    // row `r`): the last set past the batch's rows.
    let set_of = |j: usize, per: usize| {
        if nsets == 1 || per == 0 {
            0
        } else {
            (j / per).min(nsets - 1)
        }
    };
    let inner_per = problems.map_or(0, |p| p.inner);

    // Inner phase, into tiles.
    let tile = tile_len(info);
    let ntiles = n.div_ceil(tile);
    let nnf = info.nnf;
    // (Padded by a pack: a tail pack may read past the last tile's end, in
    // lanes that its mask discards.)
    let mut soa = vec![T::default(); ntiles * tile * nnf + SOA_PAD];
    if nnf > 0 && n > 0 {
        soa[..ntiles * tile * nnf]
            .par_chunks_mut(tile * nnf)
            .enumerate()
            .for_each(|(t, chunk)| {
                // One call per problem whose reduced indices the tile holds.
                let (t0, t1) = (t * tile, ((t + 1) * tile).min(n));
                let mut j = t0;
                while j < t1 {
                    let set = set_of(j, inner_per);
                    let end = if nsets == 1 || set + 1 == nsets {
                        t1
                    } else {
                        ((set + 1) * inner_per).min(t1)
                    };
                    k.inner_tile(level, a, &pfs[set], &mut chunk[j - t0..], j, end, tile);
                    j = end;
                }
            });
    }

    // Dot-product form: translate both point sets by the centroid of the
    // inner one (squared distances do not change) so that the norms in
    // |a|^2 + |b|^2 - 2 a.b stay of the order of the distances and the
    // cancellation error small, wherever the data sit.
    let center = if info.dot_of.is_empty() || n == 0 {
        Vec::new()
    } else {
        center_inner::<T>(info, &mut soa[..ntiles * tile * nnf], tile, n)
    };

    // Work decomposition.
    let threads = rayon::current_num_threads().max(1);
    let group = k.group();
    let mut rb = 128usize.max(group);
    while rb > group && m.div_ceil(rb) < 4 * threads {
        rb /= 2;
    }
    let rb = rb.max(group) / group * group;
    let nblocks = m.div_ceil(rb.max(1));
    let mut tiles_per_seg = ntiles.max(1);
    if nblocks < 2 * threads && ntiles > 1 {
        let want = (4 * threads).div_ceil(nblocks.max(1));
        tiles_per_seg = ntiles.div_ceil(want).max(1);
    }
    tiles_per_seg = tiles_per_seg.min((MAX_SEGMENT / tile).max(1));
    let nseg = ntiles.div_ceil(tiles_per_seg).max(1);

    let acc = info.acc;
    let ctx = BlockCtx::<T> {
        a,
        soa: &soa,
        tile,
        kahan: opts.sum_scheme == SumScheme::Kahan,
        block_flush: opts.sum_scheme == SumScheme::Block,
        center: &center,
    };
    let mut vals = vec![T::default(); if has_vals { m * out_dim } else { 0 }];
    let mut idxs = vec![0usize; if has_idx { m * out_dim } else { 0 }];
    let finalize_rows =
        |states: &[f64], rows: Range<usize>, set: usize, vals: &mut [T], idxs: &mut [usize]| {
            let raw_p = &raw_ps[set];
            let rerank_needed = k.rerank_needed();
            let mut copy = vec![0.0f64; if rerank_needed { acc } else { 0 }];
            for (q, r) in rows.enumerate() {
                let mut st = &states[q * acc..(q + 1) * acc];
                if rerank_needed {
                    copy.copy_from_slice(st);
                    k.rerank(a, raw_p, r, &mut copy);
                    st = &copy;
                }
                let (v, i) = (
                    if has_vals {
                        &mut vals[q * out_dim..(q + 1) * out_dim]
                    } else {
                        &mut [][..]
                    },
                    if has_idx {
                        &mut idxs[q * out_dim..(q + 1) * out_dim]
                    } else {
                        &mut [][..]
                    },
                );
                reduce::finalize(info, st, v, i);
            }
        };
    if let Some(side) = ranges {
        run_ranged(
            k,
            &ctx,
            side,
            &pfs,
            level,
            &finalize_rows,
            RangedOut {
                m,
                out_dim,
                vals: &mut vals,
                idxs: &mut idxs,
            },
        );
    } else if m > 0 {
        // With several segments per row block, the segments run first (in
        // parallel) and each block merges its segments in order below.
        let parts: Vec<Vec<f64>> = if nseg == 1 {
            Vec::new()
        } else {
            let items: Vec<(usize, usize)> = (0..nblocks)
                .flat_map(|b| (0..nseg).map(move |s| (b, s)))
                .collect();
            items
                .par_iter()
                .map(|&(b, s)| {
                    let rows = b * rb..((b + 1) * rb).min(m);
                    let span = s * tiles_per_seg * tile..((s + 1) * tiles_per_seg * tile).min(n);
                    let mut states = vec![0.0f64; rows.len() * acc];
                    k.block(level, &ctx, &pfs[0], rows, &[span], &mut states);
                    states
                })
                .collect()
        };
        let vchunks: Vec<&mut [T]> = if has_vals {
            vals.chunks_mut(rb * out_dim).collect()
        } else {
            (0..nblocks).map(|_| &mut [][..]).collect()
        };
        let ichunks: Vec<&mut [usize]> = if has_idx {
            idxs.chunks_mut(rb * out_dim).collect()
        } else {
            (0..nblocks).map(|_| &mut [][..]).collect()
        };
        vchunks
            .into_par_iter()
            .zip(ichunks)
            .enumerate()
            .for_each(|(b, (v, i))| {
                let rows = b * rb..((b + 1) * rb).min(m);
                let states = if nseg == 1 {
                    let mut states = vec![0.0f64; rows.len() * acc];
                    let full = 0..n;
                    let spans = if n == 0 {
                        &[][..]
                    } else {
                        std::slice::from_ref(&full)
                    };
                    k.block(level, &ctx, &pfs[0], rows.clone(), spans, &mut states);
                    states
                } else {
                    let mut merged = parts[b * nseg].clone();
                    for s in 1..nseg {
                        let next = &parts[b * nseg + s];
                        for q in 0..rows.len() {
                            reduce::merge_rows(
                                info,
                                &mut merged[q * acc..(q + 1) * acc],
                                &next[q * acc..(q + 1) * acc],
                            );
                        }
                    }
                    merged
                };
                finalize_rows(&states, rows, 0, v, i);
            });
    }
    let vals = if has_vals {
        Some(
            Array2::from_shape_vec((m, out_dim), vals)
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    let idxs = if has_idx {
        Some(
            Array2::from_shape_vec((m, out_dim), idxs)
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    Val::from_outputs(info.name, vals, idxs)
}

/// The outputs of a ranged stage: `m` rows of `out_dim` values and/or
/// indices.
struct RangedOut<'o, T> {
    m: usize,
    out_dim: usize,
    vals: &'o mut [T],
    idxs: &'o mut [usize],
}

/// A chunk of rows of a block, its spans and its parameter set.
type Chunk<'s> = (Range<usize>, &'s [Range<usize>], usize);

/// Writes the outputs of rows from their f64 states.
type FinalizeRows<'f, T> = dyn Fn(&[f64], Range<usize>, usize, &mut [T], &mut [usize]) + Sync + 'f;

/// Block-sparse work decomposition: each block of output rows is cut in
/// chunks of rows, each chunk reduced over its block's spans only (cut in
/// segments when there are too few chunks to occupy the threads); rows
/// outside every block get the reduction's value over an empty set.
fn run_ranged<T: Real>(
    k: &dyn StageKernels<T>,
    ctx: &BlockCtx<'_, '_, T>,
    side: &Side,
    pfs: &[Vec<T>],
    level: SimdLevel,
    finalize_rows: &FinalizeRows<'_, T>,
    out: RangedOut<'_, T>,
) {
    let info = k.info();
    let acc = info.acc;
    let od = out.out_dim;
    let (has_vals, has_idx) = info.red.outputs();
    // Every row first gets the value of an empty reduction.
    {
        let mut st = vec![0.0f64; acc];
        reduce::init_row(info, &mut st);
        let mut v = vec![T::default(); if has_vals { od } else { 0 }];
        let mut i = vec![0usize; if has_idx { od } else { 0 }];
        reduce::finalize(info, &st, &mut v, &mut i);
        for r in 0..out.m {
            if has_vals {
                out.vals[r * od..(r + 1) * od].copy_from_slice(&v);
            }
            if has_idx {
                out.idxs[r * od..(r + 1) * od].copy_from_slice(&i);
            }
        }
    }
    if side.blocks.is_empty() {
        return;
    }
    // Chunks of rows: as many as the dense decomposition would make for the
    // covered rows.
    let threads = rayon::current_num_threads().max(1);
    let group = k.group();
    let nchunks =
        |rb: usize| -> usize { side.blocks.iter().map(|b| b.rows.len().div_ceil(rb)).sum() };
    let mut rb = 128usize.max(group);
    while rb > group && nchunks(rb) < 4 * threads {
        rb /= 2;
    }
    let rb = rb.max(group) / group * group;
    // (Rows, spans, parameter set: the problem of a batch whose parameters
    // have a value per problem.)
    let mut chunks: Vec<Chunk<'_>> = Vec::new();
    for b in &side.blocks {
        let spans = &side.spans[b.spans.clone()];
        let set = if pfs.len() > 1 { b.index } else { 0 };
        let mut r0 = b.rows.start;
        while r0 < b.rows.end {
            let r1 = (r0 + rb).min(b.rows.end);
            chunks.push((r0..r1, spans, set));
            r0 = r1;
        }
    }
    // Too few chunks: cut their spans in segments of about equal length
    // (at least a tile), merged in order afterwards.
    let want = if chunks.len() < 2 * threads {
        (4 * threads).div_ceil(chunks.len())
    } else {
        1
    };
    let mut items: Vec<(usize, std::borrow::Cow<'_, [Range<usize>]>)> = Vec::new();
    for (c, (_, spans, _)) in chunks.iter().enumerate() {
        if want == 1 {
            items.push((c, std::borrow::Cow::Borrowed(*spans)));
            continue;
        }
        let total: usize = spans.iter().map(|s| s.len()).sum();
        let per = total.div_ceil(want).max(ctx.tile);
        let mut cur: Vec<Range<usize>> = Vec::new();
        let mut len = 0;
        for s in spans.iter() {
            let mut a = s.start;
            while a < s.end {
                let b = s.end.min(a + (per - len));
                cur.push(a..b);
                len += b - a;
                a = b;
                if len == per {
                    items.push((c, std::borrow::Cow::Owned(std::mem::take(&mut cur))));
                    len = 0;
                }
            }
        }
        if !cur.is_empty() {
            items.push((c, std::borrow::Cow::Owned(cur)));
        }
    }
    let states: Vec<Vec<f64>> = items
        .par_iter()
        .map(|(c, spans)| {
            let (rows, _, set) = chunks[*c].clone();
            let mut st = vec![0.0f64; rows.len() * acc];
            k.block(level, ctx, &pfs[set], rows, spans, &mut st);
            st
        })
        .collect();
    // Merge the segments of each chunk (in order) and finalise.
    let mut first = vec![usize::MAX; chunks.len()];
    for (q, (c, _)) in items.iter().enumerate().rev() {
        first[*c] = q;
    }
    let done: Vec<(Vec<T>, Vec<usize>)> = (0..chunks.len())
        .into_par_iter()
        .map(|c| {
            let (rows, _, set) = chunks[c].clone();
            let q0 = first[c];
            let mut merged = states[q0].clone();
            let mut q = q0 + 1;
            while q < items.len() && items[q].0 == c {
                for r in 0..rows.len() {
                    reduce::merge_rows(
                        info,
                        &mut merged[r * acc..(r + 1) * acc],
                        &states[q][r * acc..(r + 1) * acc],
                    );
                }
                q += 1;
            }
            let mut v = vec![T::default(); if has_vals { rows.len() * od } else { 0 }];
            let mut i = vec![0usize; if has_idx { rows.len() * od } else { 0 }];
            finalize_rows(&merged, rows, set, &mut v, &mut i);
            (v, i)
        })
        .collect();
    for ((rows, _, _), (v, i)) in chunks.iter().zip(done) {
        if has_vals {
            out.vals[rows.start * od..rows.end * od].copy_from_slice(&v);
        }
        if has_idx {
            out.idxs[rows.start * od..rows.end * od].copy_from_slice(&i);
        }
    }
}

/// Translates the vector at features `idx` of `f` by `-center` and
/// recomputes its squared norm (feature `norm`).
fn recenter<T: Real>(f: &mut [T], idx: &[usize], norm: usize, center: &[T]) {
    let mut n2 = 0.0f64;
    for (&k, &c) in idx.iter().zip(center) {
        f[k] -= c;
        n2 += f[k].to_f64() * f[k].to_f64();
    }
    f[norm] = T::from_f64(n2);
}

/// Centers the inner vectors of a dot-product-form stage in the feature
/// tiles (see `recenter`) and returns the translation.
fn center_inner<T: Real>(info: &StageInfo, soa: &mut [T], tile: usize, n: usize) -> Vec<T> {
    let nnf = info.nnf;
    let mut sum = vec![0.0f64; info.dot_nf.len()];
    for (t, chunk) in soa.chunks(tile * nnf).enumerate() {
        let len = tile.min(n - t * tile);
        for (s, &k) in sum.iter_mut().zip(info.dot_nf) {
            *s += chunk[k * tile..k * tile + len]
                .iter()
                .map(|v| v.to_f64())
                .sum::<f64>();
        }
    }
    let center: Vec<T> = sum.iter().map(|s| T::from_f64(s / n as f64)).collect();
    soa.par_chunks_mut(tile * nnf)
        .enumerate()
        .for_each(|(t, chunk)| {
            let len = tile.min(n.saturating_sub(t * tile));
            let mut f = vec![T::default(); nnf];
            for l in 0..len {
                for (k, v) in f.iter_mut().enumerate() {
                    *v = chunk[k * tile + l];
                }
                recenter(&mut f, info.dot_nf, info.dot_nb, &center);
                for &k in info.dot_nf.iter().chain([info.dot_nb].iter()) {
                    chunk[k * tile + l] = f[k];
                }
            }
        });
    center
}

/// Re-evaluates the candidates selected by an approximate (dot-product form)
/// stage with the exact program, and re-sorts each K-list by (value, index).
fn rerank<S: CpuStage, T: Real>(a: &Args<'_, T>, raw_p: &S::RawP<T>, row: usize, st: &mut [f64]) {
    let info = S::INFO;
    let fdim = info.fdim;
    let k = info.red.k() as usize;
    let kd = k * fdim;
    let mut raw_o = S::RawO::<T>::splat(T::default());
    gather_row(raw_o.as_mut_slice(), &a.outer_real, row);
    let mut idx_o = S::IdxO::splat(0);
    gather_row(idx_o.as_mut_slice(), &a.outer_idx, row);
    let mut raw_n = S::RawN::<T>::splat(T::default());
    let mut idx_n = S::IdxN::splat(0);
    let mut out = S::Out::<T>::splat(T::default());
    for d in 0..fdim {
        for rank in 0..k {
            let pos = rank * fdim + d;
            let j = st[kd + pos];
            if !j.is_finite() {
                continue;
            }
            let j = j as usize;
            gather_row(raw_n.as_mut_slice(), &a.inner_real, j);
            gather_row(idx_n.as_mut_slice(), &a.inner_idx, j);
            let ctx = PairCtx {
                oi: idx_o.as_slice(),
                j0: j,
                row_hi: T::from_usize(row >> 16),
                row_lo: T::from_usize(row & 0xffff),
            };
            S::exact::<T>(raw_p, &raw_o, &raw_n, &idx_o, &idx_n, &ctx, &mut out);
            st[pos] = out.as_slice()[d].to_f64();
        }
        // Insertion sort of the K entries of component d.
        for r in 1..k {
            let mut q = r;
            while q > 0 {
                let (p0, p1) = ((q - 1) * fdim + d, q * fdim + d);
                let before = |a: (f64, f64), b: (f64, f64)| {
                    if info.red.is_max() {
                        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
                    } else {
                        a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
                    }
                };
                if before((st[p1], st[kd + p1]), (st[p0], st[kd + p0])) {
                    st.swap(p0, p1);
                    st.swap(kd + p0, kd + p1);
                    q -= 1;
                } else {
                    break;
                }
            }
        }
    }
}

/// Computes the inner features of one tile.
struct InnerTile<'a, 'b, S: CpuStage, T: Real> {
    a: &'a Args<'b, T>,
    pf: &'a S::Pf<T>,
    chunk: &'a mut [T],
    start: usize,
    end: usize,
    tile: usize,
}

impl<S: CpuStage, T: Real> WithPack<T> for InnerTile<'_, '_, S, T> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        let mut raw = S::RawN::<T>::splat(T::default());
        let mut idx = S::IdxN::splat(0);
        let mut nf = S::Nf::<T>::splat(T::default());
        for j in self.start..self.end {
            gather_row(raw.as_mut_slice(), &self.a.inner_real, j);
            gather_row(idx.as_mut_slice(), &self.a.inner_idx, j);
            S::inner::<T>(&raw, &idx, self.pf, &mut nf);
            let l = j - self.start;
            for (k, &v) in nf.as_slice().iter().enumerate() {
                self.chunk[k * self.tile + l] = v;
            }
        }
    }
}

/// Shared data of the work items.
#[doc(hidden)]
pub struct BlockCtx<'a, 'b, T: Real> {
    a: &'a Args<'b, T>,
    soa: &'a [T],
    tile: usize,
    kahan: bool,
    block_flush: bool,
    /// Dot-product form: the translation applied to the rewritten vectors.
    center: &'a [T],
}

struct BlockJob<'c, 'a, 'b, S: CpuStage, T: Real> {
    ctx: &'c BlockCtx<'a, 'b, T>,
    /// The parameter features, in the stage's array type.
    pf: S::Pf<T>,
    rows: Range<usize>,
    spans: &'c [Range<usize>],
    states: &'c mut [f64],
}

impl<S: CpuStage, T: Real> WithPack<T> for BlockJob<'_, '_, '_, S, T> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        process_block::<S, T, P>(self.ctx, &self.pf, self.rows, self.spans, self.states);
    }
}

/// The blocked scalar-product kernel of the dot-product form: for the rows
/// `rk` of a group and `NP` packs starting at offset `l` of the tile,
/// `sum_k of[row][dot_of[k]] * nf[dot_nf[k]][lanes]`, with each inner
/// feature pack loaded once for all rows (`G` broadcasts and `G * NP` FMAs
/// per `NP` loads).
#[inline(always)]
fn dot_block<S: CpuStage, T: Real, P: Pack<Elem = T>, const NP: usize>(
    tile_data: &[T],
    tile: usize,
    l: usize,
    of: &[S::Of<T>],
    rk: &S::Group<usize>,
) -> S::Group<[P; 2]> {
    let info = S::INFO;
    let zero = P::splat(T::default());
    let group = <S::Group<u8> as Buf<u8>>::LEN;
    let mut acc = S::Group::<[P; 2]>::splat([zero; 2]);
    assert!(rk.as_slice().iter().all(|&k| k < of.len()));
    // Every feature offset below is in bounds: the caller checked
    // `dot_nf[k] < nnf` and `dot_of[k] < nof`, and the packs
    // `l .. l + NP * LANES` of the last feature lie inside `tile_data`
    // (the tile, the next ones and the padding: a tail pack may cross the
    // tile's end).
    assert!(info.nnf.max(1) * tile - tile + l + NP * P::LANES <= tile_data.len());
    for (&fa, &fb) in info.dot_of.iter().zip(info.dot_nf) {
        let base = fb * tile + l;
        // SAFETY: `fb < nnf` (checked once per work item), so
        // `base + NP * LANES <= (nnf - 1) * tile + l + NP * LANES <=
        // tile_data.len()` (asserted above).
        let y: [P; NP] = core::array::from_fn(|pk| unsafe {
            P::load_ptr(tile_data.as_ptr().add(base + pk * P::LANES))
        });
        for r in 0..group {
            // SAFETY: `rk[r] < of.len()` (asserted above) and `fa < nof`, the
            // length of every outer-feature row.
            let x = P::splat(unsafe {
                *of.get_unchecked(rk.as_slice()[r])
                    .as_slice()
                    .get_unchecked(fa)
            });
            let a = &mut acc.as_mut_slice()[r];
            for pk in 0..NP {
                a[pk] = x.mul_add(y[pk], a[pk]);
            }
        }
    }
    acc
}

/// The hot loop of one work item.
#[inline(always)]
fn process_block<S: CpuStage, T: Real, P: Pack<Elem = T>>(
    ctx: &BlockCtx<'_, '_, T>,
    pf_t: &S::Pf<T>,
    rows: Range<usize>,
    spans: &[Range<usize>],
    states: &mut [f64],
) {
    let info = S::INFO;
    let acc_len = info.acc;
    let nrows = rows.len();
    let lanes = P::LANES;
    let group = <S::Group<u8> as Buf<u8>>::LEN;
    let zero = P::splat(T::default());

    // Splatted parameter features.
    let mut pf = S::Pf::<P>::splat(zero);
    for (o, &x) in pf.as_mut_slice().iter_mut().zip(pf_t.as_slice()) {
        *o = P::splat(x);
    }
    // Outer features (scalars: the pair function splats them where used)
    // and indices of every row of the block.
    let mut of: Vec<S::Of<T>> = Vec::with_capacity(nrows);
    let mut oi: Vec<S::IdxO> = Vec::with_capacity(nrows);
    {
        let mut raw = S::RawO::<T>::splat(T::default());
        for r in rows.clone() {
            gather_row(raw.as_mut_slice(), &ctx.a.outer_real, r);
            let mut oft = S::Of::<T>::splat(T::default());
            S::outer::<T>(&raw, pf_t, &mut oft);
            if !ctx.center.is_empty() {
                recenter(oft.as_mut_slice(), info.dot_of, info.dot_na, ctx.center);
            }
            of.push(oft);
            let mut ix = S::IdxO::splat(0);
            gather_row(ix.as_mut_slice(), &ctx.a.outer_idx, r);
            oi.push(ix);
        }
    }
    // Lane states of every row, kept between tiles; f64 row states.
    let mut lane_states: Vec<S::Acc<P>> = vec![S::Acc::<P>::splat(zero); nrows];
    for st in lane_states.iter_mut() {
        reduce::init_lanes(info, st.as_mut_slice());
    }
    for k in 0..nrows {
        reduce::init_row(info, &mut states[k * acc_len..(k + 1) * acc_len]);
    }
    let tile = const { tile_len(S::INFO) };
    debug_assert_eq!(tile, ctx.tile);
    // Sum stages of the block scheme fold their lane sums into the f64 row
    // states every `BLOCK_FLUSH` reduced indices (at least one tile).
    let block_sum = S::SUM && ctx.block_flush;
    let nnf = info.nnf;
    let fused_sum = !ctx.kahan;
    // K-reductions: a row-wide bound on the K-th value (see
    // `reduce::kmin_bound`), refreshed after pieces 1, 2, 4, 8, ...
    assert!(
        info.dot_of.iter().all(|&f| f < info.nof)
            && info.dot_nf.iter().all(|&f| f < nnf)
            && info.dot_of.len() == info.dot_nf.len(),
        "internal error: dot-product features out of range"
    );
    let mut taus: Vec<S::Out<P>> =
        vec![S::Out::<P>::splat(P::splat(T::INFINITY)); if S::KMIN { nrows } else { 0 }];

    // Lane indices are relative to `base` (a tile start), so that they stay
    // exact in `T`: when a piece would end more than `MAX_SEGMENT` past it,
    // the lanes are folded into the row states and `base` moves.
    let mut base = spans.first().map_or(0, |s| s.start / tile * tile);
    let mut count = 0usize;
    let mut since_flush = 0usize;
    for (si, span) in spans.iter().enumerate() {
        let mut a = span.start;
        while a < span.end {
            // The piece [a, b) of the span inside tile t.
            let t = a / tile;
            let t0 = t * tile;
            let b = span.end.min(t0 + tile);
            if b - base > MAX_SEGMENT {
                for k in 0..nrows {
                    reduce::flush(
                        info,
                        lane_states[k].as_mut_slice(),
                        &mut states[k * acc_len..(k + 1) * acc_len],
                        base,
                    );
                }
                base = t0;
            }
            let last = si + 1 == spans.len() && b == span.end;
            since_flush += b - a;
            let tile_flush = block_sum && (since_flush >= BLOCK_FLUSH || last);
            if tile_flush {
                since_flush = 0;
            }
            // The tile's features, and those of the next tiles: the tail pack
            // of a piece that does not start on a pack boundary reads past
            // the tile's end (into the next feature row, or the padding of
            // the last tile), in lanes that its mask discards.
            let tile_data = &ctx.soa[t * tile * nnf..];
            // Full packs from `a` to `full_end`, then a masked tail pack.
            let full_end = a + (b - a) / lanes * lanes;
            let mut g0 = 0;
            while g0 < nrows {
                let gn = group.min(nrows - g0);
                // The masked tail pack at `jp`, for the group's rows, on the
                // stored lane states.
                macro_rules! masked {
                    ($jp:expr, $mask:expr) => {{
                        let jp: usize = $jp;
                        let mask: P::Mask = $mask;
                        let nf = Features::new(
                            tile_data.get(jp - t0..).unwrap_or(&[]),
                            tile,
                            nnf,
                            lanes,
                        );
                        let jl = P::splat(T::from_usize(jp - base)) + P::iota();
                        for k in g0..g0 + gn {
                            let row = rows.start + k;
                            let pctx = PairCtx {
                                oi: oi[k].as_slice(),
                                j0: jp,
                                row_hi: P::splat(T::from_usize(row >> 16)),
                                row_lo: P::splat(T::from_usize(row & 0xffff)),
                            };
                            let dot = if S::DOT {
                                let g = S::Group::<usize>::splat(k);
                                dot_block::<S, T, P, 1>(tile_data, tile, jp - t0, &of, &g)
                                    .as_slice()[0][0]
                            } else {
                                zero
                            };
                            let mut out = S::Out::<P>::splat(zero);
                            S::pair::<P>(&pf, &of[k], nf, &pctx, dot, &mut out);
                            reduce::update::<S, P>(
                                info,
                                ctx.kahan,
                                lane_states[k].as_mut_slice(),
                                out.as_slice(),
                                jl,
                                Some(mask),
                                if S::KMIN { taus[k].as_slice() } else { &[] },
                            );
                        }
                    }};
                }
                // The group's rows (rows past the end repeat the last row and
                // are discarded).
                let rk: S::Group<usize> = S::Group::<usize>::from_fn(|r| g0 + r.min(gn - 1));
                // K-lists (2K packs per row) do not fit in registers: they are
                // updated where they live instead of being copied in and out.
                // (For K-lists `acc` is never read: the copy is dead code.)
                let mut acc: S::Group<S::Acc<P>> =
                    S::Group::<S::Acc<P>>::from_fn(|r| lane_states[rk.as_slice()[r]]);
                let halves: S::Group<(P, P)> = S::Group::<(P, P)>::from_fn(|r| {
                    let row = rows.start + rk.as_slice()[r];
                    (
                        P::splat(T::from_usize(row >> 16)),
                        P::splat(T::from_usize(row & 0xffff)),
                    )
                });
                // Full packs update the group's states in registers (the array
                // `acc` only sees constant indices); the tail pack (masked)
                // updates the stored copies.
                let mut j0 = a;
                while j0 < full_end {
                    // Dot-product form: the scalar products of the group's rows
                    // with two packs at once (the blocked kernel), else one pack.
                    let npk = if S::DOT && j0 + 2 * lanes <= full_end {
                        2
                    } else {
                        1
                    };
                    let dots: S::Group<[P; 2]> = if !S::DOT {
                        S::Group::<[P; 2]>::splat([zero; 2])
                    } else if npk == 2 {
                        dot_block::<S, T, P, 2>(tile_data, tile, j0 - t0, &of, &rk)
                    } else {
                        dot_block::<S, T, P, 1>(tile_data, tile, j0 - t0, &of, &rk)
                    };
                    for pk in 0..npk {
                        let jp = j0 + pk * lanes;
                        let nf = Features::new(
                            tile_data.get(jp - t0..).unwrap_or(&[]),
                            tile,
                            nnf,
                            lanes,
                        );
                        let jl = P::splat(T::from_usize(jp - base)) + P::iota();
                        for r in 0..group {
                            let k = rk.as_slice()[r];
                            let (hi, lo) = halves.as_slice()[r];
                            let pctx = PairCtx {
                                oi: oi[k].as_slice(),
                                j0: jp,
                                row_hi: hi,
                                row_lo: lo,
                            };
                            // K-lists are updated where they live (rows past the
                            // end repeat the last row: updated in place, they
                            // would enter its lists twice); other states in the
                            // group's registers.
                            let (st, tau) = if S::KMIN {
                                if r >= gn {
                                    continue;
                                }
                                (&mut lane_states[k], taus[k].as_slice())
                            } else {
                                (&mut acc.as_mut_slice()[r], &[][..])
                            };
                            if S::SUM && fused_sum {
                                S::pair_sum::<P>(&pf, &of[k], nf, &pctx, st);
                            } else {
                                let mut out = S::Out::<P>::splat(zero);
                                S::pair::<P>(
                                    &pf,
                                    &of[k],
                                    nf,
                                    &pctx,
                                    dots.as_slice()[r][pk],
                                    &mut out,
                                );
                                reduce::update::<S, P>(
                                    info,
                                    ctx.kahan,
                                    st.as_mut_slice(),
                                    out.as_slice(),
                                    jl,
                                    None,
                                    tau,
                                );
                            }
                        }
                    }
                    j0 += npk * lanes;
                }
                if !S::KMIN {
                    lane_states[g0..g0 + gn].copy_from_slice(&acc.as_slice()[..gn]);
                }
                if full_end < b {
                    masked!(full_end, P::first_n(b - full_end));
                }
                if S::KMIN && (count + 1).is_power_of_two() {
                    for k in g0..g0 + gn {
                        reduce::kmin_bound(info, lane_states[k].as_slice(), taus[k].as_mut_slice());
                    }
                }
                if tile_flush {
                    for k in g0..g0 + gn {
                        reduce::flush(
                            info,
                            lane_states[k].as_mut_slice(),
                            &mut states[k * acc_len..(k + 1) * acc_len],
                            base,
                        );
                    }
                }
                g0 += gn;
            }
            count += 1;
            a = b;
        }
    }
    for k in 0..nrows {
        reduce::flush(
            info,
            lane_states[k].as_mut_slice(),
            &mut states[k * acc_len..(k + 1) * acc_len],
            base,
        );
    }
}
