//! Device-resident matrices: kernel inputs and outputs that stay in GPU
//! memory, so that chains of kernels (or kernels and the user's own CUDA
//! code) skip the host copies.
//!
//! A [`DeviceRows`] is a contiguous row-major matrix on one device of a GPU
//! back end: a CUDA device (feature `cuda`, wrapping a cudarc
//! [`CudaSlice`](cudarc::driver::CudaSlice)) or the PTX simulator (feature
//! `sim`, for tests). It is accepted wherever a kernel's `call` takes a
//! `Vi`/`Vj` input, and a kernel's `call_device` returns its results as
//! `DeviceRows` (indices of arg-type reductions as `DeviceRows<u64>`, with
//! `u64::MAX` where no index exists).
//!
//! Without either feature the type exists but cannot be constructed: code
//! that mentions it compiles everywhere, and every constructor returns an
//! error.
//!
//! The back ends themselves are here too, below the values and options
//! that name them and the launcher (`crate::gpu`) that runs kernels on
//! them: [`Backend`] (where a kernel runs; [`Backend::is_available`]:
//! whether its device opens) and each GPU back end's memory, `cuda.rs` (a
//! CUDA device: its context, stream, allocations and copies) and `sim.rs`
//! (the simulated devices).

use std::fmt;
use std::marker::PhantomData;

use ndarray::{Array2, ArrayView2};

pub use crate::elem::DeviceElem;
use crate::error::{Error, Result};

#[cfg(feature = "cuda")]
pub(crate) mod cuda;
#[cfg(feature = "sim")]
pub(crate) mod sim;

/// Where a kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// The multi-threaded SIMD CPU engine.
    #[default]
    Cpu,
    /// A CUDA device (requires the `cuda` feature and a driver at run time).
    Gpu {
        /// Device ordinal.
        device: usize,
    },
    /// The CUDA kernels (the same PTX as [`Backend::Gpu`]) run through the
    /// PTX simulator of `keops-gpu-kernels` on the CPU: slow, exact and
    /// strict (races, uninitialised reads and out-of-bounds accesses are
    /// errors). Requires the `sim` feature of `keops-runtime`; for tests.
    Simulator,
}

impl Backend {
    /// Whether kernels can run on this back end here: always for the CPU;
    /// for a CUDA device, when the binary has the `cuda` feature and the
    /// driver opens the device; for the simulator, with the `sim` feature.
    ///
    /// ```
    /// use keops_runtime::Backend;
    /// assert!(Backend::Cpu.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        match self {
            Backend::Cpu => true,
            #[cfg(feature = "cuda")]
            Backend::Gpu { device } => cuda::context(device).is_ok(),
            #[cfg(not(feature = "cuda"))]
            Backend::Gpu { .. } => false,
            Backend::Simulator => cfg!(feature = "sim"),
        }
    }
}

/// The error for `Backend::Simulator` in a build without the `sim` feature.
#[cfg(not(feature = "sim"))]
pub(crate) fn sim_missing() -> Error {
    Error::Simulator(
        "not compiled in: Backend::Simulator needs the `sim` feature of keops-runtime".into(),
    )
}

/// Where the data of a [`DeviceRows`] lives.
pub(crate) enum Storage<E> {
    /// A cudarc allocation (its context knows the device).
    #[cfg(feature = "cuda")]
    Cuda(cudarc::driver::CudaSlice<E>),
    /// An allocation on a simulated device.
    #[cfg(feature = "sim")]
    Sim(sim::Resident),
    /// Keeps `E` used when no GPU back end is compiled in (never built).
    #[allow(dead_code)]
    None(std::convert::Infallible, PhantomData<E>),
}

/// A contiguous row-major matrix (`rows × cols` elements of type `E`) in
/// the memory of a GPU back end. See the [module documentation](self).
pub struct DeviceRows<E> {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) storage: Storage<E>,
}

impl<E> fmt::Debug for DeviceRows<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceRows {{ rows: {}, cols: {}, on: {} }}",
            self.rows,
            self.cols,
            describe(self.backend())
        )
    }
}

/// How messages name a back end.
pub(crate) fn describe(b: Backend) -> String {
    match b {
        Backend::Cpu => "the CPU".into(),
        Backend::Gpu { device } => format!("CUDA device {device}"),
        Backend::Simulator => "the PTX simulator".into(),
    }
}

impl<E> DeviceRows<E> {
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The back end whose memory holds the data (`Backend::Gpu { device }`
    /// or `Backend::Simulator`).
    pub fn backend(&self) -> Backend {
        match &self.storage {
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Backend::Gpu {
                device: s.ordinal(),
            },
            #[cfg(feature = "sim")]
            Storage::Sim(_) => Backend::Simulator,
            Storage::None(never, _) => match *never {},
        }
    }
}

impl<E: DeviceElem> DeviceRows<E> {
    /// Copies a host matrix into the memory of `backend`
    /// (`Backend::Gpu { device }` or `Backend::Simulator`).
    #[cfg_attr(
        not(any(feature = "cuda", feature = "sim")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn from_host(backend: Backend, a: ArrayView2<'_, E>) -> Result<Self> {
        let (rows, cols) = a.dim();
        let data: Vec<E> = a.iter().copied().collect();
        match backend {
            Backend::Cpu => Err(Error::NeedsGpu(
                "DeviceRows::from_host needs a GPU back end (Backend::Gpu or Backend::Simulator)"
                    .into(),
            )),
            #[cfg(feature = "cuda")]
            Backend::Gpu { device } => {
                let dev = cuda::CudaGpu::new(device)?;
                Ok(DeviceRows {
                    rows,
                    cols,
                    storage: Storage::Cuda(dev.upload_typed(&data)?),
                })
            }
            #[cfg(not(feature = "cuda"))]
            Backend::Gpu { .. } => Err(Error::NotCompiledWithCuda),
            #[cfg(feature = "sim")]
            Backend::Simulator => {
                let mut bytes = Vec::with_capacity(data.len() * E::ELEM_BYTES);
                for x in data {
                    x.put_le(&mut bytes);
                }
                Ok(DeviceRows {
                    rows,
                    cols,
                    storage: Storage::Sim(sim::Resident::upload(&sim::default_device(), &bytes)?),
                })
            }
            #[cfg(not(feature = "sim"))]
            Backend::Simulator => Err(sim_missing()),
        }
    }

    /// Copies the matrix to the host.
    #[cfg_attr(
        not(any(feature = "cuda", feature = "sim")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn to_host(&self) -> Result<Array2<E>> {
        let v: Vec<E> = match &self.storage {
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => cuda::download_typed(s)?,
            #[cfg(feature = "sim")]
            Storage::Sim(r) => r
                .download(self.rows * self.cols * E::ELEM_BYTES)?
                .chunks_exact(E::ELEM_BYTES)
                .map(E::get_le)
                .collect(),
            Storage::None(never, _) => match *never {},
        };
        Array2::from_shape_vec((self.rows, self.cols), v)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// A copy in the same device's memory.
    pub fn try_clone(&self) -> Result<Self> {
        match &self.storage {
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Ok(DeviceRows {
                rows: self.rows,
                cols: self.cols,
                storage: Storage::Cuda(cuda::clone_typed(s)?),
            }),
            #[cfg(feature = "sim")]
            Storage::Sim(r) => Ok(DeviceRows {
                rows: self.rows,
                cols: self.cols,
                storage: Storage::Sim(r.duplicate(self.rows * self.cols * E::ELEM_BYTES)?),
            }),
            Storage::None(never, _) => match *never {},
        }
    }

    /// Wraps a cudarc allocation of at least `rows * cols` elements holding a
    /// row-major matrix.
    #[cfg(feature = "cuda")]
    pub fn from_cuda_slice(
        slice: cudarc::driver::CudaSlice<E>,
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        let need = rows
            .checked_mul(cols)
            .ok_or_else(|| Error::TooLarge(format!("{rows} x {cols} device matrix")))?;
        if slice.len() < need {
            return Err(Error::Internal(format!(
                "a CUDA slice of {} elements cannot hold {rows} x {cols} values",
                slice.len()
            )));
        }
        Ok(DeviceRows {
            rows,
            cols,
            storage: Storage::Cuda(slice),
        })
    }

    /// The cudarc allocation (`None` on the simulator).
    #[cfg(feature = "cuda")]
    pub fn cuda_slice(&self) -> Option<&cudarc::driver::CudaSlice<E>> {
        match &self.storage {
            Storage::Cuda(s) => Some(s),
            _ => None,
        }
    }

    /// The cudarc allocation, by value (`Err(self)` on the simulator).
    #[cfg(feature = "cuda")]
    pub fn into_cuda_slice(self) -> Result<cudarc::driver::CudaSlice<E>, Self> {
        match self.storage {
            Storage::Cuda(s) => Ok(s),
            storage => Err(DeviceRows {
                rows: self.rows,
                cols: self.cols,
                storage,
            }),
        }
    }
}
