//! [`GpuDevice`] on the PTX simulator of `keops-gpu-kernels` (feature `sim`):
//! the kernels the CUDA back end would run, executed exactly and strictly on
//! the CPU (for tests on machines without a GPU).
//!
//! A call whose inputs and outputs all live on the host runs on a fresh
//! simulated device (calls run in parallel). Device-resident values
//! ([`DeviceRows`] on `Backend::Simulator`) live
//! on a shared device, [`default_device`], and calls that use them run there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use keops_ptx_sim::{Module, Param};

use super::{GpuDevice, KernelArgs, SIM_SMS};
pub use crate::device::sim::{default_device, Resident, SharedDevice};
use crate::device::sim::{lock, new_device, sim_err, try_alloc};
use crate::device::{DeviceElem, DeviceRows, Storage};
use crate::error::{Error, Result};
use crate::options::{Backend, Options};
use crate::simd::Real;
use crate::stage::StageInfo;
use crate::value::Val;

/// A simulated device driven by the launcher for one call; the temporary
/// allocations of the call are freed when it is dropped.
pub struct SimGpu {
    dev: SharedDevice,
    temps: Vec<u64>,
}

impl Default for SimGpu {
    fn default() -> Self {
        Self::new()
    }
}

impl SimGpu {
    /// A fresh device with empty memory.
    pub fn new() -> SimGpu {
        SimGpu::on(new_device())
    }

    /// Drives an existing device.
    pub fn on(dev: SharedDevice) -> SimGpu {
        SimGpu {
            dev,
            temps: Vec::new(),
        }
    }
}

impl Drop for SimGpu {
    fn drop(&mut self) {
        if let Ok(mut g) = self.dev.lock() {
            for &a in &self.temps {
                let _ = g.free(a);
            }
        }
    }
}

/// Parsed modules, by address and length of their (static) text.
type ModuleCache = Mutex<HashMap<(usize, usize), Arc<Module>>>;

/// The parsed module of a PTX text (parsed once).
fn module(ptx: &'static str) -> Result<Arc<Module>> {
    static CACHE: OnceLock<ModuleCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (ptx.as_ptr() as usize, ptx.len());
    if let Some(m) = cache
        .lock()
        .map_err(|_| Error::Internal("module cache poisoned".into()))?
        .get(&key)
    {
        return Ok(m.clone());
    }
    let m = Arc::new(Module::parse(ptx).map_err(sim_err)?);
    cache
        .lock()
        .map_err(|_| Error::Internal("module cache poisoned".into()))?
        .insert(key, m.clone());
    Ok(m)
}

impl GpuDevice for SimGpu {
    type Buffer = u64;
    type Function = (Arc<Module>, String);

    fn backend(&self) -> Backend {
        Backend::Simulator
    }

    fn sm_count(&mut self) -> Result<u32> {
        Ok(SIM_SMS)
    }

    fn alloc(&mut self, bytes: usize, what: &str) -> Result<u64> {
        let a = try_alloc(&self.dev, bytes.max(1), what)?;
        self.temps.push(a);
        Ok(a)
    }

    fn addr(&mut self, buf: &u64) -> u64 {
        *buf
    }

    fn upload(&mut self, buf: &mut u64, data: &[u8]) -> Result<()> {
        lock(&self.dev)?.write(*buf, data).map_err(sim_err)
    }

    fn download(&mut self, buf: &u64, out: &mut [u8]) -> Result<()> {
        let v = lock(&self.dev)?.read(*buf, out.len()).map_err(sim_err)?;
        out.copy_from_slice(&v);
        Ok(())
    }

    fn alloc_rows<E: DeviceElem>(
        &mut self,
        rows: usize,
        cols: usize,
        what: &str,
    ) -> Result<DeviceRows<E>> {
        let bytes = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(E::ELEM_BYTES))
            .unwrap_or(usize::MAX);
        let addr = try_alloc(&self.dev, bytes.max(1), what)?;
        Ok(DeviceRows {
            rows,
            cols,
            storage: Storage::Sim(Resident {
                dev: self.dev.clone(),
                addr,
            }),
        })
    }

    fn resident_addr<E: DeviceElem>(
        &mut self,
        r: &DeviceRows<E>,
        name: &str,
        _write: bool,
    ) -> Result<u64> {
        match &r.storage {
            Storage::Sim(s) if Arc::ptr_eq(&s.dev, &self.dev) => Ok(s.addr),
            _ => Err(Error::WrongDevice {
                var: name.into(),
                found: crate::device::describe(r.backend()),
                expected: "the PTX simulator (its shared device)".into(),
            }),
        }
    }

    fn function(&mut self, ptx: &'static str, name: &str) -> Result<Self::Function> {
        let m = module(ptx)?;
        if !m.kernel_names().contains(&name) {
            return Err(Error::Internal(format!(
                "no kernel `{name}` in the stage's PTX module"
            )));
        }
        Ok((m, name.to_string()))
    }

    fn max_block(&mut self, _f: &Self::Function) -> Result<u32> {
        Ok(1024)
    }

    fn launch(
        &mut self,
        f: &Self::Function,
        grid: [u32; 2],
        block: u32,
        args: &KernelArgs,
    ) -> Result<()> {
        let ps: Vec<Param> = args.as_slice().iter().map(|&p| Param::U64(p)).collect();
        lock(&self.dev)?
            .launch(&f.0, &f.1, [grid[0], grid[1], 1], [block, 1, 1], 0, &ps)
            .map(|_| ())
            .map_err(|e| Error::Simulator(format!("{}: {e}", f.1)))
    }

    fn synchronize(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Runs a stage through the simulator: on the device of its
/// device-resident inputs, else (results kept on the device) on
/// [`default_device`], else on a fresh device.
pub fn run_stage<T: Real + DeviceElem>(
    opts: &Options,
    info: &StageInfo,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    keep: bool,
) -> Result<Val<'static, T>> {
    let on_sim = |s: &Storage<_>| match s {
        Storage::Sim(r) => Some(r.dev.clone()),
        _ => None,
    };
    let resident = args.iter().find_map(|a| match a {
        Val::Device { data, .. } => on_sim(&data.storage),
        Val::DeviceIndex(i) => match &i.storage {
            Storage::Sim(r) => Some(r.dev.clone()),
            _ => None,
        },
        _ => None,
    });
    let mut dev = match resident {
        Some(d) => SimGpu::on(d),
        None if keep => SimGpu::on(default_device()),
        None => SimGpu::new(),
    };
    super::run_on(&mut dev, opts, info, args, m, n, keep)
}
