//! The element types of device memory ([`DeviceElem`]: `f32`, `f64` and
//! `u64`): their bytes, and with the `cuda` feature the bounds cudarc puts
//! on its allocations. Every [`Real`](crate::simd::Real) is one, so that
//! any computed value can live in a [`DeviceRows`](crate::device::DeviceRows).

use std::fmt;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for u64 {}
}

/// Element types of device matrices: `f32`, `f64` (real data) and `u64`
/// (indices).
#[cfg(feature = "cuda")]
pub trait DeviceElem:
    sealed::Sealed
    + Copy
    + Default
    + Send
    + Sync
    + fmt::Debug
    + 'static
    + cudarc::driver::DeviceRepr
    + cudarc::driver::ValidAsZeroBits
{
    /// Size in bytes.
    const ELEM_BYTES: usize;
    /// Little-endian bytes.
    fn put_le(self, out: &mut Vec<u8>);
    /// From little-endian bytes (`ELEM_BYTES` of them).
    fn get_le(b: &[u8]) -> Self;
}

/// Element types of device matrices: `f32`, `f64` (real data) and `u64`
/// (indices).
#[cfg(not(feature = "cuda"))]
pub trait DeviceElem: sealed::Sealed + Copy + Default + Send + Sync + fmt::Debug + 'static {
    /// Size in bytes.
    const ELEM_BYTES: usize;
    /// Little-endian bytes.
    fn put_le(self, out: &mut Vec<u8>);
    /// From little-endian bytes (`ELEM_BYTES` of them).
    fn get_le(b: &[u8]) -> Self;
}

macro_rules! elem {
    ($($t:ty),*) => {$(
        impl DeviceElem for $t {
            const ELEM_BYTES: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..std::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
elem!(f32, f64, u64);
