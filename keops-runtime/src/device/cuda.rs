//! A CUDA device through cudarc (feature `cuda`): its primary context
//! (created once per process), its default stream and its memory
//! (allocations and copies through cudarc's safe API), in which the
//! [`DeviceRows`](super::DeviceRows) of `Backend::Gpu` live. The driver
//! library is opened at first use; a missing driver or device is
//! [`Error::GpuUnavailable`], never a panic. Loading modules and launching
//! kernels is the launcher's (`gpu/cuda.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{sys, CudaContext, CudaSlice, CudaStream, DriverError};

use super::DeviceElem;
use crate::error::{Error, Result};

pub(crate) fn cuda_err(call: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| Error::Cuda {
        call,
        message: describe(&e),
    }
}

pub(crate) fn describe(e: &DriverError) -> String {
    match e.error_string() {
        Ok(s) => format!("{:?}: {}", e.0, s.to_string_lossy()),
        Err(_) => format!("{:?}", e.0),
    }
}

/// The primary context of a device, created once and kept for the life of
/// the process (so that the modules loaded in it stay valid).
pub fn context(ordinal: usize) -> Result<Arc<CudaContext>> {
    static CONTEXTS: OnceLock<Mutex<HashMap<usize, Arc<CudaContext>>>> = OnceLock::new();
    let contexts = CONTEXTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = contexts
        .lock()
        .map_err(|_| Error::Internal("CUDA context cache poisoned".into()))?;
    if let Some(c) = g.get(&ordinal) {
        return Ok(c.clone());
    }
    // SAFETY: `is_culib_present` only tries to open the driver library with
    // `dlopen` (and closes it); it has no other precondition. cudarc would
    // panic on first use without the library, hence this check.
    if !unsafe { sys::is_culib_present() } {
        return Err(Error::GpuUnavailable(
            "the CUDA driver library (libcuda) was not found".into(),
        ));
    }
    let count = CudaContext::device_count().map_err(|e| {
        Error::GpuUnavailable(format!(
            "cannot initialise the CUDA driver: {}",
            describe(&e)
        ))
    })?;
    if ordinal >= count.max(0) as usize {
        return Err(Error::GpuUnavailable(format!(
            "no CUDA device {ordinal} ({count} device(s) found)"
        )));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| {
        Error::GpuUnavailable(format!(
            "cannot create a context on device {ordinal}: {}",
            describe(&e)
        ))
    })?;
    g.insert(ordinal, ctx.clone());
    Ok(ctx)
}

/// A CUDA device (its primary context and default stream).
pub struct CudaGpu {
    pub(crate) ctx: Arc<CudaContext>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) ordinal: usize,
}

impl CudaGpu {
    /// The device `ordinal` (created on first use, then shared).
    pub fn new(ordinal: usize) -> Result<CudaGpu> {
        let ctx = context(ordinal)?;
        let stream = ctx.default_stream();
        Ok(CudaGpu {
            ctx,
            stream,
            ordinal,
        })
    }

    pub(crate) fn alloc_typed<E: DeviceElem>(
        &self,
        len: usize,
        what: &str,
    ) -> Result<CudaSlice<E>> {
        self.stream.alloc_zeros::<E>(len.max(1)).map_err(|e| {
            if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
                Error::OutOfMemory {
                    bytes: len * E::ELEM_BYTES,
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

    /// Copies host data into a new allocation.
    pub(crate) fn upload_typed<E: DeviceElem>(&self, data: &[E]) -> Result<CudaSlice<E>> {
        let mut s = self.alloc_typed::<E>(data.len(), "a device matrix")?;
        if !data.is_empty() {
            self.stream
                .memcpy_htod(data, &mut s)
                .map_err(cuda_err("cuMemcpyHtoD"))?;
        }
        self.stream
            .synchronize()
            .map_err(cuda_err("cuStreamSynchronize"))?;
        Ok(s)
    }
}

/// Copies a whole allocation to the host.
pub(crate) fn download_typed<E: DeviceElem>(s: &CudaSlice<E>) -> Result<Vec<E>> {
    let stream = s.stream();
    let v = stream.clone_dtoh(s).map_err(cuda_err("cuMemcpyDtoH"))?;
    stream
        .synchronize()
        .map_err(cuda_err("cuStreamSynchronize"))?;
    Ok(v)
}

/// A copy of an allocation on the same device.
pub(crate) fn clone_typed<E: DeviceElem>(s: &CudaSlice<E>) -> Result<CudaSlice<E>> {
    let stream = s.stream();
    let c = stream.clone_dtod(s).map_err(cuda_err("cuMemcpyDtoD"))?;
    stream
        .synchronize()
        .map_err(cuda_err("cuStreamSynchronize"))?;
    Ok(c)
}
