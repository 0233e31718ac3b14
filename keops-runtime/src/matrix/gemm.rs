//! `K @ V` on the CPU for wide V: tiles of K in cache, multiplied by a GEMM
//! micro-kernel.
//!
//! For output rows in blocks of up to [`ROWS`] and the reduced index in
//! tiles of [`TILE`]:
//!
//! 1. the parameter and inner phases of the stage `sum(K)` run once per call
//!    (inner features stored per tile, feature-major, as the map-reduce
//!    engine stores them), the outer phase once per row;
//! 2. a work item (one row block, run in parallel with rayon) computes the
//!    block × tile of K values with the stage's SIMD pair function (under
//!    the run-time SIMD dispatch) into a buffer (128 × 256 f32 = 128 KiB,
//!    in L2), then multiplies it with the tile's rows of V by
//!    `matrixmultiply`'s GEMM (packed panels, FMA micro-kernels, strided
//!    operands so V is never copied), and adds the product to the rows'
//!    accumulators: f64 after every tile for the block and Kahan schemes
//!    (the partial sums of a tile are in the data type), straight into the
//!    output (`beta = 1`) for the direct scheme.
//!
//! K is evaluated once per pair whatever W; the multiply is `2 M N W`
//! flops at GEMM speed.
//!
//! Why `matrixmultiply`: it is already in every keops build (ndarray
//! depends on it), so it adds no build time, it is small, stable-Rust and
//! maintained, and it takes arbitrary strides. Its FMA kernels reach the
//! same peak as AVX-512 ones on AMD Zen 4 (two 256-bit FMA pipes). The
//! `gemm` crate (faer's) has AVX-512 kernels but brings about ten crates
//! (pulp, dyn-stack, gemm-common, the per-type kernels, half, ...) to every
//! user's build.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::options::{Options, SumScheme};
use crate::simd::{self, Pack, Real, WithPack};
use crate::stage::{Buf, CpuStage, Features, PairCtx, Red, Role, VarKind};
use crate::value::Val;

/// Reduced indices per tile of K (a multiple of every pack width).
pub const TILE: usize = 256;
/// Output rows per work item (at most).
pub const ROWS: usize = 128;

struct Args<'a, T> {
    outer: Vec<(usize, ArrayView2<'a, T>)>,
    inner: Vec<(usize, ArrayView2<'a, T>)>,
    param: Vec<(usize, &'a [T])>,
}

fn gather<T: Copy>(dst: &mut [T], views: &[(usize, ArrayView2<'_, T>)], r: usize) {
    for (off, v) in views {
        for (k, &x) in v.row(r).iter().enumerate() {
            dst[off + k] = x;
        }
    }
}

/// `C (m × w) = A (m × k, row stride `rsa`) · B (k × w, strides `rsb`,
/// `csb`) + beta C` (C row-major, contiguous), in the data type.
///
/// # Safety
/// The pointers must address matrices of those shapes and strides.
unsafe fn gemm_raw<T: Real>(
    m: usize,
    k: usize,
    w: usize,
    a: *const T,
    rsa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
) {
    let wi = w as isize;
    // SAFETY: `T` is f32 or f64 (the only `Real` types), checked by size
    // and type id; the caller guarantees the shapes.
    unsafe {
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                m,
                k,
                w,
                1.0,
                a as *const f32,
                rsa,
                1,
                b as *const f32,
                rsb,
                csb,
                beta.to_f64() as f32,
                c as *mut f32,
                wi,
                1,
            );
        } else {
            matrixmultiply::dgemm(
                m,
                k,
                w,
                1.0,
                a as *const f64,
                rsa,
                1,
                b as *const f64,
                rsb,
                csb,
                beta.to_f64(),
                c as *mut f64,
                wi,
                1,
            );
        }
    }
}

/// `out (m × W) = K (m × n) · v (n × W)` where `K` is the formula of the sum
/// stage `S` (dimension 1; outer rows `m`, reduced index `n`). With f64
/// accumulation in `opts`, f32 data is computed in f64.
pub fn tiled<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    v: ArrayView2<'_, T>,
) -> Result<Array2<T>> {
    if v.nrows() != n {
        return Err(Error::Internal(format!("{}: bad arguments", S::INFO.name)));
    }
    run::<S, T>(opts, args, m, n, Sink::Product(v))
}

/// The M × N matrix `K` of the sum stage `S` itself, by the same tiles.
pub fn dense<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Array2<T>> {
    run::<S, T>(opts, args, m, n, Sink::Dense)
}

/// What is done with each tile of K values.
#[derive(Clone, Copy)]
enum Sink<'v, T> {
    /// Multiplied with the tile's rows of V (GEMM).
    Product(ArrayView2<'v, T>),
    /// Copied into the dense matrix.
    Dense,
}

fn run<S: CpuStage, T: Real>(
    opts: &Options,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    sink: Sink<'_, T>,
) -> Result<Array2<T>> {
    let info = S::INFO;
    if info.red != Red::Sum || info.fdim != 1 || <S::Out<T> as Buf<T>>::LEN != 2 {
        return Err(Error::Internal(format!(
            "{}: not the stage of a symbolic matrix",
            info.name
        )));
    }
    if args.len() != info.vars.len() {
        return Err(Error::Internal(format!("{}: bad arguments", info.name)));
    }
    if opts.f64_accumulation.is_some() && T::BYTES == 4 {
        // f32 data computed and accumulated in f64, rounded at the end.
        let conv: Vec<Val<'static, f64>> = args
            .iter()
            .map(|a| crate::f64acc::to_f64(a))
            .collect::<Result<_>>()?;
        let refs: Vec<&Val<'_, f64>> = conv.iter().collect();
        let o = Options {
            f64_accumulation: None,
            ..*opts
        };
        let v64;
        let sink64 = match sink {
            Sink::Product(v) => {
                v64 = v.mapv(|x| x.to_f64());
                Sink::Product(v64.view())
            }
            Sink::Dense => Sink::Dense,
        };
        return Ok(run::<S, f64>(&o, &refs, m, n, sink64)?.mapv(T::from_f64));
    }
    let mut a = Args {
        outer: vec![],
        inner: vec![],
        param: vec![],
    };
    for (spec, arg) in info.vars.iter().zip(args) {
        match (spec.role, spec.kind, arg) {
            (Role::Param, _, Val::Vector { data, .. }) if data.len() == spec.dim => {
                a.param.push((spec.offset, data))
            }
            (Role::Param, _, Val::Vector { data, name }) => {
                return Err(crate::per_problem_without_batch(name, data.len(), spec.dim))
            }
            (Role::Outer, VarKind::Real, Val::Rows { data, .. }) => {
                a.outer.push((spec.offset, data.view()))
            }
            (Role::Inner, VarKind::Real, Val::Rows { data, .. }) => {
                a.inner.push((spec.offset, data.view()))
            }
            (_, _, Val::Device { .. }) => {
                return Err(Error::NeedsGpu(format!(
                    "`{}` is in GPU memory but the matrix runs on the CPU back end: select its GPU back end with `.backend(...)`, or copy it to the host with `DeviceRows::to_host`",
                    spec.name
                )))
            }
            _ => {
                return Err(Error::Internal(format!(
                    "{}: argument `{}` has the wrong kind",
                    info.name, spec.name
                )))
            }
        }
    }
    let level = match opts.simd {
        Some(l) => l.min(simd::best_level()),
        None => simd::best_level(),
    };
    let run = || run_tiled::<S, T>(opts, &a, m, n, sink, level);
    crate::threads::install(opts.threads, run)?
}

fn run_tiled<S: CpuStage, T: Real>(
    opts: &Options,
    a: &Args<'_, T>,
    m: usize,
    n: usize,
    sink: Sink<'_, T>,
    level: simd::SimdLevel,
) -> Result<Array2<T>> {
    let info = S::INFO;
    let w = match sink {
        Sink::Product(v) => v.ncols(),
        Sink::Dense => n,
    };
    let mut raw_p = S::RawP::<T>::splat(T::default());
    for (off, data) in &a.param {
        raw_p.as_mut_slice()[*off..*off + data.len()].copy_from_slice(data);
    }
    let mut pf = S::Pf::<T>::splat(T::default());
    S::param::<T>(&raw_p, &mut pf);

    // Inner features, per tile, feature-major.
    let nnf = info.nnf;
    let ntiles = n.div_ceil(TILE);
    let mut soa = vec![T::default(); ntiles * TILE * nnf];
    if nnf > 0 {
        soa.par_chunks_mut(TILE * nnf)
            .enumerate()
            .for_each(|(t, chunk)| {
                let mut raw = S::RawN::<T>::splat(T::default());
                let idx = S::IdxN::splat(0);
                let mut nf = S::Nf::<T>::splat(T::default());
                for j in t * TILE..((t + 1) * TILE).min(n) {
                    gather(raw.as_mut_slice(), &a.inner, j);
                    S::inner::<T>(&raw, &idx, &pf, &mut nf);
                    let l = j - t * TILE;
                    for (k, &x) in nf.as_slice().iter().enumerate() {
                        chunk[k * TILE + l] = x;
                    }
                }
            });
    }

    let threads = rayon::current_num_threads().max(1);
    let mut rb = ROWS;
    while rb > 16 && m.div_ceil(rb) < 4 * threads {
        rb /= 2;
    }
    let direct = opts.sum_scheme == SumScheme::Direct || matches!(sink, Sink::Dense);
    let mut out = vec![T::default(); m * w];
    out.par_chunks_mut(rb * w).enumerate().for_each(|(b, ob)| {
        let r0 = b * rb;
        let nr = ob.len() / w;
        let mut of: Vec<S::Of<T>> = Vec::with_capacity(nr);
        let mut raw = S::RawO::<T>::splat(T::default());
        for r in r0..r0 + nr {
            gather(raw.as_mut_slice(), &a.outer, r);
            let mut o = S::Of::<T>::splat(T::default());
            S::outer::<T>(&raw, &pf, &mut o);
            of.push(o);
        }
        let mut kt = vec![T::default(); nr * TILE];
        let mut part = vec![T::default(); if direct { 0 } else { nr * w }];
        let mut acc = vec![0.0f64; if direct { 0 } else { nr * w }];
        for t in 0..ntiles {
            let t0 = t * TILE;
            let len = TILE.min(n - t0);
            let job = KTile::<S, T> {
                pf: &pf,
                of: &of,
                r0,
                tile: &soa[t * TILE * nnf..(t + 1) * TILE * nnf],
                t0,
                len,
                kt: &mut kt,
            };
            simd::dispatch_at(level, job).expect("supported level");
            let v = match sink {
                Sink::Product(v) => v,
                Sink::Dense => {
                    for (r, row) in ob.chunks_mut(w).enumerate() {
                        row[t0..t0 + len].copy_from_slice(&kt[r * TILE..r * TILE + len]);
                    }
                    continue;
                }
            };
            let (rsb, csb) = (v.strides()[0], v.strides()[1]);
            // SAFETY: `kt` is nr × len with row stride TILE; the rows
            // t0..t0 + len of `v` exist (len <= n - t0) with its
            // strides; `ob` and `part` are nr × w, contiguous.
            unsafe {
                let vb = v.as_ptr().offset(t0 as isize * rsb);
                if direct {
                    gemm_raw(
                        nr,
                        len,
                        w,
                        kt.as_ptr(),
                        TILE as isize,
                        vb,
                        rsb,
                        csb,
                        T::from_f64(1.0),
                        ob.as_mut_ptr(),
                    );
                } else {
                    gemm_raw(
                        nr,
                        len,
                        w,
                        kt.as_ptr(),
                        TILE as isize,
                        vb,
                        rsb,
                        csb,
                        T::default(),
                        part.as_mut_ptr(),
                    );
                }
            }
            if !direct {
                for (s, &p) in acc.iter_mut().zip(&part) {
                    *s += p.to_f64();
                }
            }
        }
        if !direct {
            for (o, &s) in ob.iter_mut().zip(&acc) {
                *o = T::from_f64(s);
            }
        }
    });
    Array2::from_shape_vec((m, w), out).map_err(|e| Error::Internal(e.to_string()))
}

/// K values of a row block × one tile, by packs of the reduced index.
struct KTile<'c, S: CpuStage, T: Real> {
    pf: &'c S::Pf<T>,
    of: &'c [S::Of<T>],
    r0: usize,
    tile: &'c [T],
    t0: usize,
    len: usize,
    kt: &'c mut [T],
}

impl<S: CpuStage, T: Real> WithPack<T> for KTile<'_, S, T> {
    type Output = ();
    #[inline(always)]
    fn run<P: Pack<Elem = T>>(self) {
        let zero = P::splat(T::default());
        let mut pf = S::Pf::<P>::splat(zero);
        for (o, &x) in pf.as_mut_slice().iter_mut().zip(self.pf.as_slice()) {
            *o = P::splat(x);
        }
        let lanes = P::LANES;
        let nnf = S::INFO.nnf;
        for (r, of) in self.of.iter().enumerate() {
            let row = self.r0 + r;
            let (hi, lo) = (
                P::splat(T::from_usize(row >> 16)),
                P::splat(T::from_usize(row & 0xffff)),
            );
            let krow = &mut self.kt[r * TILE..(r + 1) * TILE];
            let mut l = 0;
            while l < self.len {
                let nf = Features::new(self.tile.get(l..).unwrap_or(&[]), TILE, nnf, lanes);
                let ctx = PairCtx {
                    oi: &[],
                    j0: self.t0 + l,
                    row_hi: hi,
                    row_lo: lo,
                };
                let mut out = S::Out::<P>::splat(zero);
                S::pair::<P>(&pf, of, nf, &ctx, zero, &mut out);
                let o = out.as_slice();
                (o[0] * o[1]).store(&mut krow[l..]);
                l += lanes;
            }
        }
    }
}
