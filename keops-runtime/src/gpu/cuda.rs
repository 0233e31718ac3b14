//! [`GpuDevice`] on CUDA through cudarc (feature `cuda`).
//!
//! cudarc is built without NVRTC: modules are loaded from the embedded PTX
//! with `cuModuleLoadData` (`driver::result::module::load_data`), kernels
//! fetched with `get_function` and launched with `launch_kernel`. This file
//! is the only place where those raw driver calls are made. The device
//! itself (context, stream, memory) is `device/cuda.rs`.

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::{Mutex, OnceLock};

use cudarc::driver::{result, sys, CudaContext, CudaSlice, DevicePtr};

use super::{GpuDevice, KernelArgs};
pub use crate::device::cuda::{context, CudaGpu};
use crate::device::cuda::{cuda_err, describe};
use crate::device::{DeviceElem, DeviceRows, Storage};
use crate::error::{Error, Result};
use crate::options::{Backend, Options};
use crate::simd::Real;
use crate::stage::StageInfo;
use crate::value::Val;

/// A loaded module and the kernels fetched from it.
struct LoadedModule {
    module: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

// SAFETY: module and function handles are opaque driver handles, valid in
// any host thread that binds their context (every use below binds it first);
// they are only touched under the cache's mutex.
unsafe impl Send for LoadedModule {}

/// A kernel handle.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    f: sys::CUfunction,
}

/// Loaded modules, by (device, address and length of their static PTX text).
type ModuleCache = Mutex<HashMap<(usize, usize, usize), LoadedModule>>;

/// The kernel `name` of module `ptx` on a device, loading the module on first use.
fn function(ctx: &CudaContext, ordinal: usize, ptx: &'static str, name: &str) -> Result<Function> {
    static MODULES: OnceLock<ModuleCache> = OnceLock::new();
    let modules = MODULES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = modules
        .lock()
        .map_err(|_| Error::Internal("CUDA module cache poisoned".into()))?;
    ctx.bind_to_thread().map_err(cuda_err("cuCtxSetCurrent"))?;
    let key = (ordinal, ptx.as_ptr() as usize, ptx.len());
    if let std::collections::hash_map::Entry::Vacant(e) = g.entry(key) {
        let image = CString::new(ptx)
            .map_err(|_| Error::Internal("PTX text contains a NUL byte".into()))?;
        // SAFETY: `image` is a NUL-terminated PTX text that outlives the
        // call (the driver copies it), and the device's context is current.
        let module = unsafe { result::module::load_data(image.as_ptr() as *const c_void) }
            .map_err(cuda_err("cuModuleLoadData"))?;
        e.insert(LoadedModule {
            module,
            functions: HashMap::new(),
        });
    }
    let entry = g.get_mut(&key).expect("inserted above");
    if let Some(&f) = entry.functions.get(name) {
        return Ok(Function { f });
    }
    let cname = CString::new(name)
        .map_err(|_| Error::Internal("kernel name contains a NUL byte".into()))?;
    // SAFETY: `entry.module` was loaded in this device's context, which is
    // current and never destroyed (contexts are cached for the process).
    let f = unsafe { result::module::get_function(entry.module, cname) }
        .map_err(cuda_err("cuModuleGetFunction"))?;
    entry.functions.insert(name.to_string(), f);
    Ok(Function { f })
}

impl GpuDevice for CudaGpu {
    type Buffer = CudaSlice<u8>;
    type Function = Function;

    fn backend(&self) -> Backend {
        Backend::Gpu {
            device: self.ordinal,
        }
    }

    fn sm_count(&mut self) -> Result<u32> {
        let n = self
            .ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(cuda_err("cuDeviceGetAttribute"))?;
        Ok(n.max(1) as u32)
    }

    fn alloc(&mut self, bytes: usize, what: &str) -> Result<CudaSlice<u8>> {
        self.stream.alloc_zeros::<u8>(bytes.max(1)).map_err(|e| {
            if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
                Error::OutOfMemory {
                    bytes,
                    what: what.to_string(),
                }
            } else {
                Error::Cuda {
                    call: "cuMemAlloc",
                    message: describe(&e),
                }
            }
        })
    }

    fn addr(&mut self, buf: &CudaSlice<u8>) -> u64 {
        let (p, _sync) = buf.device_ptr(&self.stream);
        p
    }

    fn upload(&mut self, buf: &mut CudaSlice<u8>, data: &[u8]) -> Result<()> {
        if data.len() > buf.len() {
            return Err(Error::Internal("upload larger than its buffer".into()));
        }
        self.stream
            .memcpy_htod(data, buf)
            .map_err(cuda_err("cuMemcpyHtoD"))
    }

    fn download(&mut self, buf: &CudaSlice<u8>, out: &mut [u8]) -> Result<()> {
        if out.len() > buf.len() {
            return Err(Error::Internal("download larger than its buffer".into()));
        }
        let view = buf.slice(0..out.len());
        self.stream
            .memcpy_dtoh(&view, out)
            .map_err(cuda_err("cuMemcpyDtoH"))?;
        self.stream
            .synchronize()
            .map_err(cuda_err("cuStreamSynchronize"))
    }

    fn alloc_rows<E: DeviceElem>(
        &mut self,
        rows: usize,
        cols: usize,
        what: &str,
    ) -> Result<DeviceRows<E>> {
        let len = rows
            .checked_mul(cols)
            .ok_or_else(|| Error::TooLarge(format!("{rows} x {cols} {what}")))?;
        Ok(DeviceRows {
            rows,
            cols,
            storage: Storage::Cuda(self.alloc_typed::<E>(len, what)?),
        })
    }

    fn resident_addr<E: DeviceElem>(
        &mut self,
        r: &DeviceRows<E>,
        name: &str,
        _write: bool,
    ) -> Result<u64> {
        match &r.storage {
            // The stream waits for pending work on the allocation here; the
            // launcher synchronises the stream before returning, so no
            // access of ours is still pending when the caller gets it back.
            Storage::Cuda(s) if s.ordinal() == self.ordinal => {
                let (p, _sync) = s.device_ptr(&self.stream);
                Ok(p)
            }
            _ => Err(Error::WrongDevice {
                var: name.into(),
                found: crate::device::describe(r.backend()),
                expected: format!("CUDA device {}", self.ordinal),
            }),
        }
    }

    fn function(&mut self, ptx: &'static str, name: &str) -> Result<Function> {
        function(&self.ctx, self.ordinal, ptx, name)
    }

    fn max_block(&mut self, f: &Function) -> Result<u32> {
        self.ctx
            .bind_to_thread()
            .map_err(cuda_err("cuCtxSetCurrent"))?;
        // SAFETY: `f.f` comes from a module loaded in this (current)
        // context, which is never unloaded.
        let n = unsafe {
            result::function::get_function_attribute(
                f.f,
                sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
            )
        }
        .map_err(cuda_err("cuFuncGetAttribute"))?;
        Ok(n.max(1) as u32)
    }

    fn launch(
        &mut self,
        f: &Function,
        grid: [u32; 2],
        block: u32,
        args: &KernelArgs,
    ) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .map_err(cuda_err("cuCtxSetCurrent"))?;
        let mut values: Vec<u64> = args.as_slice().to_vec();
        let mut ptrs: Vec<*mut c_void> = values
            .iter_mut()
            .map(|v| v as *mut u64 as *mut c_void)
            .collect();
        // SAFETY: `f.f` is a kernel of a module loaded in this context; every
        // kernel of our modules takes exactly the `.u64` parameters of
        // `keops_abi::kernel_params` for its stage's variables (the ABI of
        // `keops_gpu_kernels::kernel`), which `args` holds in that order
        // (the launcher builds it for the same stage), and each entry
        // of `ptrs` points to one `u64` in `values`, alive for the call (the
        // driver copies parameter values at launch). The pointers passed as
        // parameters are allocations of this context that outlive the
        // kernels (the caller synchronises before dropping them), sized as
        // the kernels expect.
        unsafe {
            result::launch_kernel(
                f.f,
                (grid[0], grid[1], 1),
                (block, 1, 1),
                0,
                self.stream.cu_stream(),
                &mut ptrs,
            )
        }
        .map_err(cuda_err("cuLaunchKernel"))
    }

    fn synchronize(&mut self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(cuda_err("cuStreamSynchronize"))
    }
}

/// Runs a stage on CUDA device `device`.
pub fn run_stage<T: Real + DeviceElem>(
    device: usize,
    opts: &Options,
    info: &StageInfo,
    args: &[&Val<'_, T>],
    m: usize,
    n: usize,
    keep: bool,
) -> Result<Val<'static, T>> {
    let mut dev = CudaGpu::new(device)?;
    super::run_on(&mut dev, opts, info, args, m, n, keep)
}
