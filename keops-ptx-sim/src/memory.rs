//! Global memory: bounded allocations with per-byte initialisation
//! tracking, use-after-free detection and per-launch write tracking (for
//! global race detection). Also the host-side [`Device`] memory API.

use super::{Device, SimError};

/// First device address handed out.
pub(crate) const GLOBAL_BASE: u64 = 1 << 32;
/// Alignment of every allocation.
pub(crate) const ALLOC_ALIGN: u64 = 256;
/// Unmapped gap after every allocation (so overruns never hit a neighbour).
pub(crate) const GUARD_GAP: u64 = 4096;
/// Generic address of byte 0 of the shared window (see the module docs).
pub(crate) const SHARED_GENERIC_BASE: u64 = 1 << 48;

/// Per-byte writer tracking for one launch.
#[derive(Debug)]
pub(crate) struct RaceMap {
    /// Writing thread's global linear id + 1 (0 = not written this launch).
    pub writer: Vec<u32>,
    /// Barrier interval (epoch) of the write.
    pub epoch: Vec<u32>,
    /// Instruction index of the write.
    pub pc: Vec<u32>,
}

/// One allocation.
#[derive(Debug)]
pub(crate) struct Alloc {
    pub base: u64,
    pub size: u64,
    pub data: Vec<u8>,
    /// One bit per byte: initialised.
    pub init: Vec<u64>,
    pub all_init: bool,
    pub live: bool,
    pub race: Option<Box<RaceMap>>,
}

impl Alloc {
    /// First uninitialised byte in a range.
    pub fn first_uninit(&self, off: usize, len: usize) -> Option<usize> {
        if self.all_init {
            return None;
        }
        (off..off + len).find(|&i| (self.init[i >> 6] >> (i & 63)) & 1 == 0)
    }

    pub fn mark_init(&mut self, off: usize, len: usize) {
        if self.all_init {
            return;
        }
        for i in off..off + len {
            self.init[i >> 6] |= 1 << (i & 63);
        }
    }
}

/// The global memory of a [`Device`].
#[derive(Debug)]
pub(crate) struct Global {
    /// Sorted by base (addresses only grow).
    pub allocs: Vec<Alloc>,
    pub next: u64,
}

/// Why an address range is not accessible.
pub(crate) enum Miss {
    /// No allocation covers it; the string describes the nearest one.
    OutOfBounds(String),
    /// It lies in a freed allocation (base given).
    Freed(u64),
}

impl Global {
    pub fn new() -> Self {
        Global {
            allocs: Vec::new(),
            next: GLOBAL_BASE,
        }
    }

    /// Index of the allocation containing `[addr, addr+len)`.
    pub fn find(&self, addr: u64, len: u64) -> Result<usize, Miss> {
        let i = self.allocs.partition_point(|a| a.base <= addr);
        if i > 0 {
            let a = &self.allocs[i - 1];
            if addr < a.base.saturating_add(a.size.max(1)) {
                if !a.live {
                    return Err(Miss::Freed(a.base));
                }
                if addr.saturating_add(len) <= a.base + a.size {
                    return Ok(i - 1);
                }
            }
        }
        Err(Miss::OutOfBounds(self.describe(addr, len)))
    }

    fn describe(&self, addr: u64, len: u64) -> String {
        let i = self.allocs.partition_point(|a| a.base <= addr);
        let below = if i > 0 {
            Some(&self.allocs[i - 1])
        } else {
            None
        };
        let above = self.allocs.get(i);
        let fmt_alloc = |a: &Alloc| {
            format!(
                "allocation {:#x}..{:#x} ({} bytes{})",
                a.base,
                a.base + a.size,
                a.size,
                if a.live { "" } else { ", freed" }
            )
        };
        match (below, above) {
            (Some(b), _) if addr < b.base + b.size => format!(
                "access of {len} bytes at offset {} runs {} byte(s) past the end of {}",
                addr - b.base,
                addr.saturating_add(len) - (b.base + b.size),
                fmt_alloc(b)
            ),
            (Some(b), Some(a)) => {
                let past = addr - (b.base + b.size);
                let before = a.base - addr;
                if past <= before {
                    format!(
                        "{past} byte(s) past the end of {} (element offset {})",
                        fmt_alloc(b),
                        addr - b.base
                    )
                } else {
                    format!("{before} byte(s) before {}", fmt_alloc(a))
                }
            }
            (Some(b), None) => format!(
                "{} byte(s) past the end of {} (element offset {})",
                addr - (b.base + b.size),
                fmt_alloc(b),
                addr - b.base
            ),
            (None, Some(a)) => format!("{} byte(s) before {}", a.base - addr, fmt_alloc(a)),
            (None, None) => "no allocations exist".to_string(),
        }
    }

    pub fn alloc(&mut self, bytes: usize, init: bool) -> u64 {
        let base = self.next.div_ceil(ALLOC_ALIGN) * ALLOC_ALIGN;
        let size = bytes as u64;
        self.next = base + size + GUARD_GAP;
        let words = bytes.div_ceil(64);
        self.allocs.push(Alloc {
            base,
            size,
            data: vec![0; bytes],
            init: if init { Vec::new() } else { vec![0; words] },
            all_init: init,
            live: true,
            race: None,
        });
        base
    }

    fn host_range(&self, addr: u64, len: usize) -> Result<usize, SimError> {
        match self.find(addr, len as u64) {
            Ok(i) => Ok(i),
            Err(Miss::Freed(b)) => Err(SimError::HostMemory {
                message: format!(
                    "host access to {addr:#x} ({len} bytes) in freed allocation {b:#x}"
                ),
            }),
            Err(Miss::OutOfBounds(d)) => Err(SimError::HostMemory {
                message: format!("host access to {addr:#x} ({len} bytes) is out of bounds: {d}"),
            }),
        }
    }
}

macro_rules! typed_io {
    ($alloc:ident, $read:ident, $write:ident, $t:ty, $n:literal) => {
        #[doc = concat!("Allocates device memory initialised with `data` (`", stringify!($t), "`, little-endian).")]
        pub fn $alloc(&mut self, data: &[$t]) -> u64 {
            let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            let addr = self.global.alloc(bytes.len(), true);
            let i = self.global.allocs.len() - 1;
            self.global.allocs[i].data.copy_from_slice(&bytes);
            addr
        }

        #[doc = concat!("Reads `n` values of type `", stringify!($t), "` at `addr` (every byte must have been written).")]
        pub fn $read(&self, addr: u64, n: usize) -> Result<Vec<$t>, SimError> {
            let bytes = self.read(addr, n * $n)?;
            Ok(bytes
                .chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()))
                .collect())
        }

        #[doc = concat!("Writes values of type `", stringify!($t), "` at `addr`.")]
        pub fn $write(&mut self, addr: u64, data: &[$t]) -> Result<(), SimError> {
            let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.write(addr, &bytes)
        }
    };
}

impl Global {
    /// Bytes of the live allocations.
    pub fn live_bytes(&self) -> u64 {
        self.allocs.iter().filter(|a| a.live).map(|a| a.size).sum()
    }
}

impl Device {
    /// Allocates `bytes` of device memory. The bytes start *uninitialised*:
    /// a kernel (or [`Device::read`]) that reads them before anything wrote
    /// them is an error. Addresses are distinct, 256-byte aligned, never
    /// reused, and separated by unmapped guard gaps.
    pub fn alloc(&mut self, bytes: usize) -> u64 {
        self.global.alloc(bytes, false)
    }

    /// Allocates `bytes` of zero-initialised device memory.
    pub fn alloc_zeroed(&mut self, bytes: usize) -> u64 {
        self.global.alloc(bytes, true)
    }

    /// Frees an allocation (by its base address). Later accesses to it are
    /// reported as use-after-free.
    pub fn free(&mut self, addr: u64) -> Result<(), SimError> {
        match self.global.allocs.binary_search_by_key(&addr, |a| a.base) {
            Ok(i) if self.global.allocs[i].live => {
                let a = &mut self.global.allocs[i];
                a.live = false;
                a.data = Vec::new();
                a.init = Vec::new();
                Ok(())
            }
            Ok(_) => Err(SimError::HostMemory {
                message: format!("double free of allocation {addr:#x}"),
            }),
            Err(_) => Err(SimError::HostMemory {
                message: format!("free of {addr:#x}, which is not the base of an allocation"),
            }),
        }
    }

    /// Copies host bytes to device memory (must lie inside one allocation).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), SimError> {
        let i = self.global.host_range(addr, bytes.len())?;
        let a = &mut self.global.allocs[i];
        let off = (addr - a.base) as usize;
        a.data[off..off + bytes.len()].copy_from_slice(bytes);
        a.mark_init(off, bytes.len());
        Ok(())
    }

    /// Copies device memory to the host. Every byte must have been
    /// initialised (by the host or by a kernel): reading bytes nobody wrote
    /// is an error, which exposes kernels that forget to write an output.
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, SimError> {
        let i = self.global.host_range(addr, len)?;
        let a = &self.global.allocs[i];
        let off = (addr - a.base) as usize;
        if let Some(b) = a.first_uninit(off, len) {
            return Err(SimError::HostMemory {
                message: format!(
                    "host read of {len} bytes at {addr:#x}: byte {:#x} (offset {} in allocation {:#x}) was never written",
                    a.base + b as u64,
                    b,
                    a.base
                ),
            });
        }
        Ok(a.data[off..off + len].to_vec())
    }

    typed_io!(alloc_from_f32, read_f32, write_f32, f32, 4);
    typed_io!(alloc_from_f64, read_f64, write_f64, f64, 8);
    typed_io!(alloc_from_u32, read_u32, write_u32, u32, 4);
    typed_io!(alloc_from_u64, read_u64, write_u64, u64, 8);
    typed_io!(alloc_from_i32, read_i32, write_i32, i32, 4);
    typed_io!(alloc_from_i64, read_i64, write_i64, i64, 8);
}
