//! The simulated devices' memory (feature `sim`): a device shared by the
//! values that live on it, the one that holds the
//! [`DeviceRows`](super::DeviceRows) made for `Backend::Simulator`
//! ([`default_device`]), and allocations on it ([`Resident`]). Running
//! kernels on a simulated device is the launcher's (`gpu/sim.rs`).

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use keops_ptx_sim::Device;

use crate::error::{Error, Result};

/// A simulated device, shared by the values that live on it.
pub type SharedDevice = Arc<Mutex<Device>>;

pub(crate) fn new_device() -> SharedDevice {
    let mut dev = Device::new();
    // Generous budget: one thread may walk a long reduced range.
    dev.set_instruction_limit(u64::MAX / 2);
    Arc::new(Mutex::new(dev))
}

/// The simulated device that holds `DeviceRows` created for
/// `Backend::Simulator`.
pub fn default_device() -> SharedDevice {
    static DEV: OnceLock<SharedDevice> = OnceLock::new();
    DEV.get_or_init(new_device).clone()
}

pub(crate) fn lock(dev: &SharedDevice) -> Result<MutexGuard<'_, Device>> {
    dev.lock()
        .map_err(|_| Error::Internal("simulated device poisoned".into()))
}

/// An allocation of `bytes` on `dev`, or `OutOfMemory` past the simulated
/// device's capacity (`keops_ptx_sim::DEFAULT_CAPACITY`), as on a GPU.
pub(crate) fn try_alloc(dev: &SharedDevice, bytes: usize, what: &str) -> Result<u64> {
    lock(dev)?
        .try_alloc(bytes)
        .ok_or_else(|| Error::OutOfMemory {
            bytes,
            what: what.to_string(),
        })
}

pub(crate) fn sim_err(e: impl std::fmt::Display) -> Error {
    Error::Simulator(e.to_string())
}

/// An allocation on a simulated device, freed on drop.
pub struct Resident {
    pub(crate) dev: SharedDevice,
    pub(crate) addr: u64,
}

impl Resident {
    /// Copies bytes into a new allocation of `dev`.
    pub(crate) fn upload(dev: &SharedDevice, bytes: &[u8]) -> Result<Resident> {
        let addr = try_alloc(dev, bytes.len().max(1), "a device matrix")?;
        let mut g = lock(dev)?;
        if !bytes.is_empty() {
            g.write(addr, bytes).map_err(sim_err)?;
        }
        Ok(Resident {
            dev: dev.clone(),
            addr,
        })
    }

    /// The first `len` bytes.
    pub(crate) fn download(&self, len: usize) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        lock(&self.dev)?.read(self.addr, len).map_err(sim_err)
    }

    /// A copy of the first `len` bytes in a new allocation.
    pub(crate) fn duplicate(&self, len: usize) -> Result<Resident> {
        let bytes = self.download(len)?;
        Resident::upload(&self.dev, &bytes)
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        if let Ok(mut g) = self.dev.lock() {
            let _ = g.free(self.addr);
        }
    }
}
