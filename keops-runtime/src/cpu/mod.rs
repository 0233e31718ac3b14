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

pub(crate) mod reduce;

use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::options::{Options, SumScheme};
use crate::simd::{self, Pack, Real, SimdLevel, WithPack};
use crate::stage::{Buf, CpuStage, Features, PairCtx, Red, Role, StageInfo, VarKind};
use crate::value::Val;

/// Reduced indices per tile (a multiple of every pack width).
fn tile_len(info: &StageInfo) -> usize {
    // Keep a tile's features around 16 KiB (f32) so that it stays in L1,
    // but never below 256 indices: the per-tile work (loading and storing
    // the rows' lane states) must stay small against the tile's pairs.
    let per = info.nnf.max(1);
    let t = (4096 / per).clamp(256, 2048);
    t / 16 * 16
}

/// Reduced indices between two folds of the lane sums into the f64 row
/// state (block sum scheme): at most 2048 / 16 = 128 terms per lane are
/// summed in the data type before an f64 addition.
const BLOCK_FLUSH: usize = 2048;

/// Maximum length of a segment of the reduced index, so that lane indices
/// stored as f32 stay exact.
const MAX_SEGMENT: usize = 1 << 24;

type PoolCache = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;

/// Thread pools for explicit thread counts, built once per count.
fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<PoolCache> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut g = pools
        .lock()
        .map_err(|_| Error::Internal("thread pool cache poisoned".into()))?;
    if let Some((_, p)) = g.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build a thread pool: {e}")))?,
    );
    g.push((n, p.clone()));
    Ok(p)
}

/// Views of a stage's arguments, sorted by role.
struct Args<'a, T> {
    outer_real: Vec<(usize, ArrayView2<'a, T>)>,
    outer_idx: Vec<(usize, ArrayView2<'a, usize>)>,
    inner_real: Vec<(usize, ArrayView2<'a, T>)>,
    inner_idx: Vec<(usize, ArrayView2<'a, usize>)>,
    param: Vec<(usize, &'a [T])>,
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
            (Role::Param, _, Val::Vector { data, .. }) => a.param.push((spec.offset, data)),
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
pub fn run_stage<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    let info = S::INFO;
    let a = sort_args(info, args)?;
    let level = match opts.simd {
        Some(l) => l.min(simd::best_level()),
        None => simd::best_level(),
    };
    let run = || run_inner::<S, T>(opts, &a, m, n, level);
    match opts.threads {
        Some(t) => pool(t.max(1))?.install(run),
        None => run(),
    }
}

fn run_inner<S: CpuStage, T: Real>(
    opts: &Options,
    a: &Args<'_, T>,
    m: usize,
    n: usize,
    level: SimdLevel,
) -> Result<Val<'static, T>> {
    let info = S::INFO;
    let out_dim = info.out_dim();
    let (has_vals, has_idx) = info.red.outputs();
    // Parameter phase.
    let mut raw_p = S::RawP::<T>::splat(T::default());
    for (off, data) in &a.param {
        raw_p.as_mut_slice()[*off..*off + data.len()].copy_from_slice(data);
    }
    let mut pf = S::Pf::<T>::splat(T::default());
    S::param::<T>(&raw_p, &mut pf);

    // Inner phase, into tiles.
    let tile = tile_len(info);
    let ntiles = n.div_ceil(tile);
    let nnf = info.nnf;
    let mut soa = vec![T::default(); ntiles * tile * nnf];
    if nnf > 0 && n > 0 {
        soa.par_chunks_mut(tile * nnf)
            .enumerate()
            .for_each(|(t, chunk)| {
                let job = InnerTile::<S, T> {
                    a,
                    pf: &pf,
                    chunk,
                    start: t * tile,
                    end: ((t + 1) * tile).min(n),
                    tile,
                };
                simd::dispatch_at(level, job).expect("supported level");
            });
    }

    // Work decomposition.
    let threads = rayon::current_num_threads().max(1);
    let group = <S::Group<u8> as Buf<u8>>::LEN;
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
    let ctx = BlockCtx::<S, T> {
        a,
        pf: &pf,
        soa: &soa,
        tile,
        n,
        kahan: opts.sum_scheme == SumScheme::Kahan,
        block_flush: opts.sum_scheme == SumScheme::Block,
    };
    let mut vals = vec![T::default(); if has_vals { m * out_dim } else { 0 }];
    let mut idxs = vec![0usize; if has_idx { m * out_dim } else { 0 }];
    let finalize_rows = |states: &[f64], rows: Range<usize>, vals: &mut [T], idxs: &mut [usize]| {
        for (k, r) in rows.enumerate() {
            let st = &states[k * acc..(k + 1) * acc];
            let _ = r;
            let (v, i) = (
                if has_vals {
                    &mut vals[k * out_dim..(k + 1) * out_dim]
                } else {
                    &mut [][..]
                },
                if has_idx {
                    &mut idxs[k * out_dim..(k + 1) * out_dim]
                } else {
                    &mut [][..]
                },
            );
            reduce::finalize(info, st, v, i);
        }
    };
    if m > 0 {
        if nseg == 1 {
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
                    let mut states = vec![0.0f64; rows.len() * acc];
                    ctx.block(level, rows.clone(), 0..ntiles, &mut states);
                    finalize_rows(&states, rows, v, i);
                });
        } else {
            let items: Vec<(usize, usize)> = (0..nblocks)
                .flat_map(|b| (0..nseg).map(move |s| (b, s)))
                .collect();
            let parts: Vec<Vec<f64>> = items
                .par_iter()
                .map(|&(b, s)| {
                    let rows = b * rb..((b + 1) * rb).min(m);
                    let tiles = s * tiles_per_seg..((s + 1) * tiles_per_seg).min(ntiles);
                    let mut states = vec![0.0f64; rows.len() * acc];
                    ctx.block(level, rows, tiles, &mut states);
                    states
                })
                .collect();
            // Merge segments in order, per block.
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
                    let mut merged = parts[b * nseg].clone();
                    for s in 1..nseg {
                        let next = &parts[b * nseg + s];
                        for k in 0..rows.len() {
                            reduce::merge_rows(
                                info,
                                &mut merged[k * acc..(k + 1) * acc],
                                &next[k * acc..(k + 1) * acc],
                            );
                        }
                    }
                    finalize_rows(&merged, rows, v, i);
                });
        }
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
    Ok(match (vals, idxs) {
        (Some(v), None) => Val::Rows {
            name: info.name,
            data: v.into(),
        },
        (None, Some(i)) => Val::Index {
            name: info.name,
            data: i.into(),
        },
        (Some(v), Some(i)) => Val::Pair(v, i),
        (None, None) => return Err(Error::Internal("stage without output".into())),
    })
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
struct BlockCtx<'a, 'b, S: CpuStage, T: Real> {
    a: &'a Args<'b, T>,
    pf: &'a S::Pf<T>,
    soa: &'a [T],
    tile: usize,
    n: usize,
    kahan: bool,
    block_flush: bool,
}

impl<S: CpuStage, T: Real> BlockCtx<'_, '_, S, T> {
    fn block(&self, level: SimdLevel, rows: Range<usize>, tiles: Range<usize>, states: &mut [f64]) {
        simd::dispatch_at(
            level,
            BlockJob {
                ctx: self,
                rows,
                tiles,
                states,
            },
        )
        .expect("supported level");
    }
}

struct BlockJob<'c, 'a, 'b, S: CpuStage, T: Real> {
    ctx: &'c BlockCtx<'a, 'b, S, T>,
    rows: Range<usize>,
    tiles: Range<usize>,
    states: &'c mut [f64],
}

impl<S: CpuStage, T: Real> WithPack<T> for BlockJob<'_, '_, '_, S, T> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        process_block::<S, T, P>(self.ctx, self.rows, self.tiles, self.states);
    }
}

/// The hot loop of one work item.
#[inline(always)]
fn process_block<S: CpuStage, T: Real, P: Pack<Elem = T>>(
    ctx: &BlockCtx<'_, '_, S, T>,
    rows: Range<usize>,
    tiles: Range<usize>,
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
    for (o, &x) in pf.as_mut_slice().iter_mut().zip(ctx.pf.as_slice()) {
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
            S::outer::<T>(&raw, ctx.pf, &mut oft);
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
    let seg_start = tiles.start * ctx.tile;
    let flush_every = if ctx.block_flush && info.red == Red::Sum {
        (BLOCK_FLUSH / ctx.tile).max(1)
    } else {
        usize::MAX
    };
    let nnf = info.nnf;
    let fused_sum = info.red == Red::Sum && !ctx.kahan;

    for (count, t) in tiles.clone().enumerate() {
        let t0 = t * ctx.tile;
        let t1 = (t0 + ctx.tile).min(ctx.n);
        let base = t * ctx.tile * nnf;
        let tile_data = &ctx.soa[base..base + ctx.tile * nnf];
        let tile_flush = (count + 1) % flush_every == 0 || t + 1 == tiles.end;
        let mut g0 = 0;
        while g0 < nrows {
            let gn = group.min(nrows - g0);
            // The group's rows (rows past the end repeat the last row and
            // are discarded).
            let rk: S::Group<usize> = S::Group::<usize>::from_fn(|r| g0 + r.min(gn - 1));
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
            let full_end = t0 + (t1 - t0) / lanes * lanes;
            let mut j0 = t0;
            while j0 < full_end {
                let nf = Features::new(
                    tile_data.get(j0 - t0..).unwrap_or(&[]),
                    ctx.tile,
                    nnf,
                    lanes,
                );
                let jl = P::splat(T::from_usize(j0 - seg_start)) + P::iota();
                for r in 0..group {
                    let k = rk.as_slice()[r];
                    let (hi, lo) = halves.as_slice()[r];
                    let pctx = PairCtx {
                        oi: oi[k].as_slice(),
                        j0,
                        row_hi: hi,
                        row_lo: lo,
                    };
                    let st = &mut acc.as_mut_slice()[r];
                    if fused_sum {
                        S::pair_sum::<P>(&pf, &of[k], nf, &pctx, st);
                    } else {
                        let mut out = S::Out::<P>::splat(zero);
                        S::pair::<P>(&pf, &of[k], nf, &pctx, &mut out);
                        reduce::update(
                            info,
                            ctx.kahan,
                            st.as_mut_slice(),
                            out.as_slice(),
                            jl,
                            None,
                        );
                    }
                }
                j0 += lanes;
            }
            lane_states[g0..g0 + gn].copy_from_slice(&acc.as_slice()[..gn]);
            if full_end < t1 {
                let nf = Features::new(
                    tile_data.get(full_end - t0..).unwrap_or(&[]),
                    ctx.tile,
                    nnf,
                    lanes,
                );
                let jl = P::splat(T::from_usize(full_end - seg_start)) + P::iota();
                let mask = P::first_n(t1 - full_end);
                for r in 0..gn {
                    let k = g0 + r;
                    let (hi, lo) = halves.as_slice()[r];
                    let pctx = PairCtx {
                        oi: oi[k].as_slice(),
                        j0: full_end,
                        row_hi: hi,
                        row_lo: lo,
                    };
                    let mut out = S::Out::<P>::splat(zero);
                    S::pair::<P>(&pf, &of[k], nf, &pctx, &mut out);
                    reduce::update(
                        info,
                        ctx.kahan,
                        lane_states[k].as_mut_slice(),
                        out.as_slice(),
                        jl,
                        Some(mask),
                    );
                }
            }
            if tile_flush && flush_every != usize::MAX {
                for k in g0..g0 + gn {
                    reduce::flush(
                        info,
                        lane_states[k].as_mut_slice(),
                        &mut states[k * acc_len..(k + 1) * acc_len],
                        seg_start,
                    );
                }
            }
            g0 += gn;
        }
    }
    for k in 0..nrows {
        reduce::flush(
            info,
            lane_states[k].as_mut_slice(),
            &mut states[k * acc_len..(k + 1) * acc_len],
            seg_start,
        );
    }
}
