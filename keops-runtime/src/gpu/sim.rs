//! [`GpuDevice`] on the PTX simulator of `keops-gpu-kernels` (feature `sim`):
//! the kernels the CUDA back end would run, executed exactly and strictly on
//! the CPU (for tests on machines without a GPU).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use keops_gpu_kernels::sim::{Device, Module, Param};

use super::{GpuDevice, SIM_SMS};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::simd::Real;
use crate::stage::StageInfo;
use crate::value::Val;

/// A fresh simulated device (one per call: memory is not shared between calls).
pub struct SimGpu {
    dev: Device,
}

impl Default for SimGpu {
    fn default() -> Self {
        Self::new()
    }
}

impl SimGpu {
    /// A device with empty memory.
    pub fn new() -> SimGpu {
        let mut dev = Device::new();
        // Generous budget: one thread may walk a long reduced range.
        dev.set_instruction_limit(u64::MAX / 2);
        SimGpu { dev }
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
    let m = Arc::new(Module::parse(ptx).map_err(|e| Error::Simulator(e.to_string()))?);
    cache
        .lock()
        .map_err(|_| Error::Internal("module cache poisoned".into()))?
        .insert(key, m.clone());
    Ok(m)
}

impl GpuDevice for SimGpu {
    type Buffer = u64;
    type Function = (Arc<Module>, String);

    fn sm_count(&mut self) -> Result<u32> {
        Ok(SIM_SMS)
    }

    fn alloc(&mut self, bytes: usize, _what: &str) -> Result<u64> {
        Ok(self.dev.alloc(bytes.max(1)))
    }

    fn addr(&mut self, buf: &u64) -> u64 {
        *buf
    }

    fn upload(&mut self, buf: &mut u64, data: &[u8]) -> Result<()> {
        self.dev
            .write(*buf, data)
            .map_err(|e| Error::Simulator(e.to_string()))
    }

    fn download(&mut self, buf: &u64, out: &mut [u8]) -> Result<()> {
        let v = self
            .dev
            .read(*buf, out.len())
            .map_err(|e| Error::Simulator(e.to_string()))?;
        out.copy_from_slice(&v);
        Ok(())
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
        params: &[u64],
    ) -> Result<()> {
        let ps: Vec<Param> = params.iter().map(|&p| Param::U64(p)).collect();
        self.dev
            .launch(&f.0, &f.1, [grid[0], grid[1], 1], [block, 1, 1], 0, &ps)
            .map(|_| ())
            .map_err(|e| Error::Simulator(format!("{}: {e}", f.1)))
    }

    fn synchronize(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Runs a stage through the simulator.
pub fn run_stage<T: Real>(
    opts: &Options,
    info: &StageInfo,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
) -> Result<Val<'static, T>> {
    let mut dev = SimGpu::new();
    super::run_on(&mut dev, opts, info, args, m, n)
}
