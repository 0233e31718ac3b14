//! The GPU launcher: runs a stage's PTX module (emitted by the `keops!`
//! macro, see `keops_gpu_kernels::kernel` for the kernels and their ABI) on
//! a device.
//!
//! One generic implementation ([`run_on`]) over a small device trait
//! ([`GpuDevice`]: allocate, upload, download, load a module's function,
//! launch) with two implementations: CUDA through cudarc (feature `cuda`,
//! [`Backend::Gpu`]) and the PTX simulator (feature
//! `sim`, [`Backend::Simulator`]).
//!
//! # Work decomposition
//!
//! With `B` threads per block, `T` indices per tile and `S` streaming
//! multiprocessors (the simulator pretends to have [`SIM_SMS`]):
//!
//! - **1D** when `ceil(M / B) >= W`, `W = S * max(1, 2048 / B)` being one
//!   wave of resident blocks (2048 threads per SM on sm_80/sm_90: the rows
//!   alone fill the device), or when the reduced range is short;
//! - otherwise **2D**: the reduced range is cut in `C` chunks so that
//!   `ceil(M / B) * C` is about `W` blocks, each chunk at least one tile
//!   long (a multiple of `T`) and `C <= 65535`; 1D if that leaves a single
//!   chunk. E.g. M = N = 1e4 on an H200 (132 SMs, B = T = 256): 40 blocks
//!   of rows (4% of the card's 1056 resident blocks) become 40 x 20 blocks
//!   of 2 tiles each (76%), and the merge kernel combines 20 partial
//!   states per row.
//!
//! The SM count comes from the device (`cuDeviceGetAttribute` through
//! cudarc); the simulator pretends to have [`SIM_SMS`], so its choices
//! are deterministic.
//!
//! [`Options::gpu_scheme`] forces either scheme (tests).
//! Launches are split along rows when `ceil(M / B)` exceeds the grid
//! limit (2^31 - 1 blocks); the reduced index is walked inside the kernels
//! with 64-bit counters, so N has no limit.
//!
//! **Ranged** calls (block-sparse ranges, KeOps' GpuConv1DRanges) always
//! run the 1D kernel, over a per-block table built here
//! (`ranged_table`): each block of the ranges is cut in tiles of `B`
//! rows, each tile one block of threads that walks the block's spans of
//! reduced indices; rows of no block are tiles without spans, whose
//! outputs the kernel sets to the empty reduction's value. A batch whose
//! parameters have a value per problem uploads every parameter with a
//! value per problem and tags each entry with its problem. The table is
//! launched in pieces of at most 2^31 - 1 entries (`row_base` is then the
//! first entry of a piece).

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(any(feature = "cuda", feature = "sim"))]
pub(crate) mod named;
#[cfg(feature = "sim")]
pub mod sim;

#[cfg(not(feature = "sim"))]
pub(crate) use crate::device::sim_missing;
use crate::device::{DeviceElem, DeviceRows};
use crate::error::{Error, Result};
use crate::options::{Backend, GpuScheme, Options};
use crate::ranges::Side;
use crate::simd::Real;
use crate::stage::{GpuMeta, Role, StageInfo, VarKind};
use crate::value::Val;
use keops_abi::{GpuEntry, KernelArgs, KernelParam, LAST_SPAN, NO_SPAN, TABLE_ENTRY_BYTES};

/// Number of SMs the simulator pretends to have (for the 1D/2D choice).
pub const SIM_SMS: u32 = 4;

/// Resident threads per SM (sm_80, sm_90: 64 warps).
const THREADS_PER_SM: u64 = 2048;

/// Largest grid x dimension.
const MAX_GRID_X: u64 = (1 << 31) - 1;
/// Largest grid y dimension (number of chunks).
const MAX_GRID_Y: u64 = 65535;

/// A device the launcher can drive.
pub trait GpuDevice {
    /// A device allocation.
    type Buffer;
    /// A loaded kernel.
    type Function;

    /// The back end this device implements (for messages).
    fn backend(&self) -> Backend;
    /// Number of streaming multiprocessors.
    fn sm_count(&mut self) -> Result<u32>;
    /// Allocates `bytes` bytes (at least 1) of device memory.
    fn alloc(&mut self, bytes: usize, what: &str) -> Result<Self::Buffer>;
    /// The device address of a buffer.
    fn addr(&mut self, buf: &Self::Buffer) -> u64;
    /// Copies host bytes to the start of a buffer.
    fn upload(&mut self, buf: &mut Self::Buffer, data: &[u8]) -> Result<()>;
    /// Copies the first `out.len()` bytes of a buffer to the host.
    fn download(&mut self, buf: &Self::Buffer, out: &mut [u8]) -> Result<()>;
    /// Allocates a device-resident matrix (contents unspecified until a
    /// kernel writes them).
    fn alloc_rows<E: DeviceElem>(
        &mut self,
        rows: usize,
        cols: usize,
        what: &str,
    ) -> Result<DeviceRows<E>>;
    /// The device address of a device-resident matrix, which must live on
    /// this device (`name` is the variable, for the error). `write`: the
    /// kernels will write it.
    fn resident_addr<E: DeviceElem>(
        &mut self,
        r: &DeviceRows<E>,
        name: &str,
        write: bool,
    ) -> Result<u64>;
    /// The kernel `name` of the module `ptx` (loaded once per device and
    /// module, then cached).
    fn function(&mut self, ptx: &'static str, name: &str) -> Result<Self::Function>;
    /// The largest block size the device accepts for this kernel.
    fn max_block(&mut self, f: &Self::Function) -> Result<u32>;
    /// Launches a kernel with a 1D block, no dynamic shared memory, and the
    /// given arguments (its `.u64` parameters, [`KernelArgs::as_slice`]).
    fn launch(
        &mut self,
        f: &Self::Function,
        grid: [u32; 2],
        block: u32,
        args: &KernelArgs,
    ) -> Result<()>;
    /// Waits for every launched kernel.
    fn synchronize(&mut self) -> Result<()>;
}

/// The 1D/2D decision: `None` for 1D, `Some(chunk_len)` for 2D.
pub fn choose_scheme(
    m: usize,
    n: usize,
    block: u32,
    tile: u32,
    sms: u32,
    forced: GpuScheme,
) -> Option<u64> {
    let (m, n, block, tile, sms) = (
        m as u64,
        n as u64,
        block.max(1) as u64,
        tile.max(1) as u64,
        sms.max(1) as u64,
    );
    let min_len = n.div_ceil(MAX_GRID_Y).max(1);
    // One wave of resident blocks (2048 threads per SM).
    let wave = sms * (THREADS_PER_SM / block).max(1);
    let auto = |force: bool| -> Option<u64> {
        let blocks = m.div_ceil(block).max(1);
        if !force && (n == 0 || blocks >= wave) {
            return None;
        }
        let want = wave.div_ceil(blocks).max(2);
        let mut len = n.div_ceil(want).max(if force { 1 } else { tile });
        len = len.div_ceil(tile) * tile;
        len = len.max(min_len);
        if !force && n.div_ceil(len) < 2 {
            return None;
        }
        Some(len)
    };
    match forced {
        GpuScheme::OneD => None,
        GpuScheme::TwoD { chunk_len: 0 } => auto(true),
        GpuScheme::TwoD { chunk_len } => Some((chunk_len as u64).max(min_len)),
        GpuScheme::Auto => auto(false),
    }
}

fn real_bytes<T: Real>(it: impl Iterator<Item = T>, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len * T::BYTES);
    for x in it {
        if T::BYTES == 4 {
            v.extend_from_slice(&(x.to_f64() as f32).to_le_bytes());
        } else {
            v.extend_from_slice(&x.to_f64().to_le_bytes());
        }
    }
    v
}

fn index_bytes(it: impl Iterator<Item = usize>, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len * 8);
    for x in it {
        v.extend_from_slice(&(x as u64).to_le_bytes());
    }
    v
}

/// Launches `f` over `m` rows, in pieces that respect the grid limit
/// ([`KernelParam::RowBase`] is set to each piece's first row).
fn launch_rows<D: GpuDevice>(
    dev: &mut D,
    f: &D::Function,
    m: usize,
    block: u32,
    gy: u32,
    args: &mut KernelArgs,
) -> Result<()> {
    let blocks = (m as u64).div_ceil(block as u64);
    let mut b0 = 0u64;
    while b0 < blocks {
        let nb = (blocks - b0).min(MAX_GRID_X);
        args.set(KernelParam::RowBase, b0 * block as u64);
        dev.launch(f, [nb as u32, gy], block, args)?;
        b0 += nb;
    }
    Ok(())
}

/// Launches `f` once per entry of a ranged call's table (`entries`
/// blocks of `block` threads), in pieces that respect the grid limit
/// ([`KernelParam::RowBase`] is set to each piece's first entry).
fn launch_entries<D: GpuDevice>(
    dev: &mut D,
    f: &D::Function,
    entries: u64,
    block: u32,
    args: &mut KernelArgs,
) -> Result<()> {
    let mut e0 = 0u64;
    while e0 < entries {
        let ne = (entries - e0).min(MAX_GRID_X);
        args.set(KernelParam::RowBase, e0);
        dev.launch(f, [ne as u32, 1], block, args)?;
        e0 += ne;
    }
    Ok(())
}

/// The per-block table and the span array of a ranged call (see the
/// kernel ABI in `keops_gpu_kernels::kernel`): every block of the ranges
/// cut in tiles of `block` rows, each with the block's first span and
/// (with `per_problem`) its problem as parameter set, and the rows of no
/// block in tiles without spans (their outputs are the empty
/// reduction's). The last span of each block has [`LAST_SPAN`] set in its
/// end. Returns the table, the number of entries and the spans, as bytes.
fn ranged_table(
    side: &Side,
    m: usize,
    block: u32,
    per_problem: bool,
) -> Result<(Vec<u8>, u64, Vec<u8>)> {
    if side.spans.len() >= NO_SPAN as usize {
        return Err(Error::TooLarge(format!(
            "{} reduced spans in the ranges (the GPU kernels take at most 2^32 - 1)",
            side.spans.len()
        )));
    }
    let block = block.max(1) as usize;
    let mut table = Vec::new();
    let mut entries = 0u64;
    let mut push = |rows: std::ops::Range<usize>, spans: std::ops::Range<usize>, set: usize| {
        let mut r0 = rows.start;
        while r0 < rows.end {
            let r1 = (r0 + block).min(rows.end);
            table.extend_from_slice(&(r0 as u64).to_le_bytes());
            table.extend_from_slice(&(r1 as u64).to_le_bytes());
            let first = if spans.is_empty() {
                NO_SPAN
            } else {
                spans.start as u32
            };
            table.extend_from_slice(&first.to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&(set as u64).to_le_bytes());
            entries += 1;
            r0 = r1;
        }
    };
    let mut order: Vec<&crate::ranges::Block> = side.blocks.iter().collect();
    order.sort_by_key(|b| b.rows.start);
    let mut next = 0usize;
    for b in order {
        push(next..b.rows.start, 0..0, 0);
        push(
            b.rows.clone(),
            b.spans.clone(),
            if per_problem { b.index } else { 0 },
        );
        next = b.rows.end;
    }
    push(next..m, 0..0, 0);
    debug_assert_eq!(table.len(), entries as usize * TABLE_ENTRY_BYTES as usize);
    let mut last = vec![false; side.spans.len()];
    for b in &side.blocks {
        if let Some(k) = b.spans.end.checked_sub(1) {
            last[k] = true;
        }
    }
    let mut spans = Vec::with_capacity(16 * side.spans.len());
    for (s, &l) in side.spans.iter().zip(&last) {
        spans.extend_from_slice(&(s.start as u64).to_le_bytes());
        let end = s.end as u64 | if l { LAST_SPAN } else { 0 };
        spans.extend_from_slice(&end.to_le_bytes());
    }
    Ok((table, entries, spans))
}

/// Runs one stage on a device: copies the host inputs in (contiguous
/// copies of strided views; device-resident inputs are used in place),
/// launches the kernels, and copies the outputs out, or with `keep` leaves
/// them on the device (`Val::Device`, `Val::DeviceIndex`, `Val::DevicePair`).
pub fn run_on<D: GpuDevice, T: Real + DeviceElem>(
    dev: &mut D,
    opts: &Options,
    info: &StageInfo,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    keep: bool,
) -> Result<Val<'static, T>> {
    let (ptx, meta) = if T::BYTES == 4 {
        (info.ptx_f32, info.gpu_f32)
    } else {
        (info.ptx_f64, info.gpu_f64)
    };
    if ptx.is_empty() {
        return Err(Error::Internal(format!(
            "{}: no PTX was emitted for this stage",
            info.name
        )));
    }
    if meta.block == 0 || meta.tile == 0 {
        return Err(Error::Internal(format!(
            "{}: PTX without launch metadata ({meta:?})",
            info.name
        )));
    }
    let out_dim = info.out_dim();
    let (has_vals, has_idx) = info.red.outputs();
    if args.len() != info.vars.len() {
        return Err(Error::Internal(format!(
            "{}: {} arguments for {} variables",
            info.name,
            args.len(),
            info.vars.len()
        )));
    }
    // Outputs, on the device.
    let vals: Option<DeviceRows<T>> = if has_vals {
        Some(dev.alloc_rows(m, out_dim, "outputs")?)
    } else {
        None
    };
    let idxs: Option<DeviceRows<u64>> = if has_idx {
        Some(dev.alloc_rows(m, out_dim, "output indices")?)
    } else {
        None
    };
    // Block-sparse ranges: the triple of the stage's output rows.
    let ranges = match opts.ranges {
        Some(id) => Some(crate::ranges::resolve(id)?),
        None => None,
    };
    let side = ranges.as_deref().map(|r| r.side(info.outer_cat));
    if let Some(side) = side {
        side.check(m, n, info.outer_cat)?;
    }
    if m > 0 {
        launch_stage(
            dev,
            opts,
            info,
            &meta,
            ptx,
            args,
            (m, n),
            side,
            &vals,
            &idxs,
        )?;
    }
    finish(info, vals, idxs, keep)
}

/// Uploads the inputs and runs the kernels of a stage (`m > 0`); `side`:
/// the block-sparse ranges of the stage's output rows, checked.
#[allow(clippy::too_many_arguments)]
fn launch_stage<D: GpuDevice, T: Real + DeviceElem>(
    dev: &mut D,
    opts: &Options,
    info: &StageInfo,
    meta: &GpuMeta,
    ptx: &'static str,
    args: &[&Val<'_, T>],
    (m, n): (usize, usize),
    side: Option<&Side>,
    vals: &Option<DeviceRows<T>>,
    idxs: &Option<DeviceRows<u64>>,
) -> Result<()> {
    // The kernels' parameters, set by name (unused buffers stay 0).
    let mut params = KernelArgs::new(info.vars.len());
    let mut temps = Vec::new();
    // Parameters with a value per problem of a batch (`run_stage` checked
    // their lengths against the batch): every parameter is then uploaded
    // as one value per problem (a shared one repeated), and the kernel
    // reads the set of its block's problem.
    let sets = match side.and_then(|s| s.problems) {
        Some(p)
            if info.vars.iter().zip(args).any(|(spec, a)| {
                spec.role == Role::Param
                    && matches!(a, Val::Vector { data, .. } if data.len() != spec.dim)
            }) =>
        {
            p.count
        }
        _ => 1,
    };
    for (k, (spec, arg)) in info.vars.iter().zip(args).enumerate() {
        let var = KernelParam::Var(
            u32::try_from(k).map_err(|_| Error::TooLarge(format!("{k} stage variables")))?,
        );
        let bad = || {
            Error::Internal(format!(
                "{}: argument `{}` has the wrong kind",
                info.name, spec.name
            ))
        };
        let bytes = match (spec.role, spec.kind, arg) {
            (Role::Param, _, Val::Vector { data, .. }) if sets > 1 && data.len() == spec.dim => {
                real_bytes(
                    data.iter().copied().cycle().take(sets * spec.dim),
                    sets * spec.dim,
                )
            }
            (Role::Param, _, Val::Vector { data, .. }) => {
                real_bytes(data.iter().copied(), data.len())
            }
            (Role::Outer | Role::Inner, VarKind::Real, Val::Rows { data, .. }) => {
                real_bytes(data.iter().copied(), data.len())
            }
            (Role::Outer | Role::Inner, VarKind::Index, Val::Index { data, .. }) => {
                index_bytes(data.iter().copied(), data.len())
            }
            (Role::Outer | Role::Inner, VarKind::Real, Val::Device { name, data }) => {
                params.set(var, dev.resident_addr(data, name, false)?);
                continue;
            }
            (Role::Outer | Role::Inner, VarKind::Index, Val::DeviceIndex(data)) => {
                params.set(var, dev.resident_addr(data, spec.name, false)?);
                continue;
            }
            _ => return Err(bad()),
        };
        let mut buf = dev.alloc(bytes.len().max(1), spec.name)?;
        if !bytes.is_empty() {
            dev.upload(&mut buf, &bytes)?;
        }
        params.set(var, dev.addr(&buf));
        temps.push(buf);
    }
    let oscr = if meta.outer_scratch > 0 {
        Some(dev.alloc(
            meta.outer_scratch as usize * m.div_ceil(32) * 32 * T::BYTES,
            "outer-feature scratch",
        )?)
    } else {
        None
    };

    let f1 = dev.function(ptx, GpuEntry::reduce(info.red, opts.sum_scheme).name())?;
    let mut max_block = dev.max_block(&f1)?;
    let fo = if oscr.is_some() {
        let fo = dev.function(ptx, GpuEntry::Outer.name())?;
        if side.is_some() {
            // A ranged call launches both kernels over the same table.
            max_block = max_block.min(dev.max_block(&fo)?);
        }
        Some(fo)
    } else {
        None
    };
    let block = opts
        .gpu_block
        .unwrap_or(meta.block)
        .clamp(1, max_block.max(1));
    // Ranged calls: the 1D scheme over the table.
    let two_d = match side {
        Some(_) => None,
        None => {
            let sms = dev.sm_count()?;
            choose_scheme(m, n, block, meta.tile, sms, opts.gpu_scheme)
        }
    };

    params
        .set(KernelParam::M, m as u64)
        .set(KernelParam::N, n as u64);
    if let Some(b) = vals {
        params.set(KernelParam::OutVals, dev.resident_addr(b, "outputs", true)?);
    }
    if let Some(b) = idxs {
        params.set(
            KernelParam::OutIdx,
            dev.resident_addr(b, "output indices", true)?,
        );
    }
    if let Some(b) = &oscr {
        params.set(KernelParam::Oscr, dev.addr(b));
    }

    if let Some(side) = side {
        let (table, entries, spans) = ranged_table(side, m, block, sets > 1)?;
        let mut tbuf = dev.alloc(table.len().max(1), "the ranges' block table")?;
        dev.upload(&mut tbuf, &table)?;
        let mut sbuf = dev.alloc(spans.len().max(1), "the ranges' spans")?;
        if !spans.is_empty() {
            dev.upload(&mut sbuf, &spans)?;
        }
        params
            .set(KernelParam::ChunkLen, (n as u64).max(1))
            .set(KernelParam::NChunks, 1)
            .set(KernelParam::Table, dev.addr(&tbuf))
            .set(KernelParam::Spans, dev.addr(&sbuf));
        if let Some(fo) = &fo {
            launch_entries(dev, fo, entries, block, &mut params)?;
        }
        launch_entries(dev, &f1, entries, block, &mut params)?;
        // The table, spans and temporaries are dropped after the kernels
        // finish.
        return dev.synchronize();
    }
    // Chunks of the reduced range: one for the 1D scheme.
    let (chunk_len, nchunks) = match two_d {
        Some(len) => (len, (n as u64).div_ceil(len).max(1)),
        None => ((n as u64).max(1), 1),
    };
    if nchunks > MAX_GRID_Y {
        return Err(Error::Internal(format!(
            "{nchunks} chunks exceed the grid limit"
        )));
    }
    params
        .set(KernelParam::ChunkLen, chunk_len)
        .set(KernelParam::NChunks, nchunks);
    if let Some(fo) = &fo {
        let bo = block.min(dev.max_block(fo)?.max(1));
        launch_rows(dev, fo, m, bo, 1, &mut params)?;
    }
    let mut _partial = None;
    if nchunks == 1 {
        launch_rows(dev, &f1, m, block, 1, &mut params)?;
    } else {
        let bytes = (nchunks as usize)
            .checked_mul(meta.partial_slots as usize * m * 8)
            .ok_or_else(|| Error::TooLarge("partial states of the 2D scheme".into()))?;
        let partial = dev.alloc(bytes.max(1), "partial states")?;
        params.set(KernelParam::Partial, dev.addr(&partial));
        launch_rows(dev, &f1, m, block, nchunks as u32, &mut params)?;
        let fm = dev.function(ptx, GpuEntry::Merge.name())?;
        let bm = block.min(dev.max_block(&fm)?.max(1));
        launch_rows(dev, &fm, m, bm, 1, &mut params)?;
        _partial = Some(partial);
    }
    // The temporaries are dropped after the kernels finish.
    dev.synchronize()
}

/// The stage's result: on the device (`keep`) or copied to the host.
fn finish<T: Real + DeviceElem>(
    info: &StageInfo,
    vals: Option<DeviceRows<T>>,
    idxs: Option<DeviceRows<u64>>,
    keep: bool,
) -> Result<Val<'static, T>> {
    use std::sync::Arc;
    if keep {
        return Ok(match (vals, idxs) {
            (Some(v), None) => Val::Device {
                name: info.name,
                data: crate::value::DevCow::Owned(Arc::new(v)),
            },
            (None, Some(i)) => Val::DeviceIndex(Arc::new(i)),
            (Some(v), Some(i)) => Val::DevicePair(Arc::new(v), Arc::new(i)),
            (None, None) => return Err(Error::Internal("stage without output".into())),
        });
    }
    let vals = vals.map(|v| v.to_host()).transpose()?;
    let idxs = idxs
        .map(|i| {
            i.to_host()
                .map(|a| a.mapv(|x| usize::try_from(x).unwrap_or(usize::MAX)))
        })
        .transpose()?;
    Val::from_outputs(info.name, vals, idxs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_choice() {
        // Many rows (a wave of resident blocks: 100 SMs x 8 blocks): 1D.
        assert_eq!(
            choose_scheme(204_800, 100_000, 256, 256, 100, GpuScheme::Auto),
            None
        );
        // Few rows, long range: 2D with chunks of whole tiles.
        let c = choose_scheme(100, 1_000_000, 256, 256, 100, GpuScheme::Auto).unwrap();
        assert_eq!(c % 256, 0);
        assert!(1_000_000u64.div_ceil(c) >= 2);
        // Issue 13's small problem on an H200: M = N = 1e4, 40 blocks of
        // rows, 20 chunks of 2 tiles (800 of the wave's 1056 blocks).
        let c = choose_scheme(10_000, 10_000, 256, 256, 132, GpuScheme::Auto).unwrap();
        assert_eq!(c, 512);
        assert_eq!(10_000u64.div_ceil(c), 20);
        // Short range (one tile): 1D.
        assert_eq!(
            choose_scheme(100, 256, 256, 256, 100, GpuScheme::Auto),
            None
        );
        assert_eq!(choose_scheme(100, 0, 256, 256, 100, GpuScheme::Auto), None);
        // Forced.
        assert_eq!(
            choose_scheme(100, 1000, 256, 256, 100, GpuScheme::TwoD { chunk_len: 300 }),
            Some(300)
        );
        assert!(
            choose_scheme(100, 1000, 256, 256, 100, GpuScheme::TwoD { chunk_len: 0 }).is_some()
        );
        assert_eq!(
            choose_scheme(10, 1 << 40, 256, 256, 4, GpuScheme::OneD),
            None
        );
        // Chunk count within the grid limit.
        let c = choose_scheme(10, 1 << 40, 256, 256, 4, GpuScheme::TwoD { chunk_len: 1 }).unwrap();
        assert!((1u64 << 40).div_ceil(c) <= MAX_GRID_Y);
    }
}
