//! Storage types: what a kernel's inputs and outputs hold. Computation
//! happens in the storage type's `Compute` type: `f32` and `f64` compute in
//! themselves (inputs are borrowed, never copied); `half::f16` (feature
//! `f16`) computes and accumulates in f32, for every reduction.

use std::borrow::Cow;
use std::fmt::Debug;

use ndarray::{Array1, Array2, ArrayView2, CowArray, Ix2};

use crate::device::DeviceRows;
use crate::simd::Real;

/// A storage type of kernel inputs and outputs.
pub trait Scalar: Copy + Send + Sync + Debug + 'static {
    /// The type the kernel computes in.
    type Compute: Real;
    /// The rows in the compute type (borrowed when it is the same type).
    fn widen_rows(v: ArrayView2<'_, Self>) -> CowArray<'_, Self::Compute, Ix2>;
    /// A parameter vector in the compute type.
    fn widen_param(v: Cow<'_, [Self]>) -> Cow<'_, [Self::Compute]>;
    /// Rounds a result matrix to the storage type.
    fn narrow_rows(a: Array2<Self::Compute>) -> Array2<Self>;
    /// Rounds a result vector to the storage type.
    fn narrow_vector(a: Array1<Self::Compute>) -> Array1<Self>;
    /// A device-resident input in the compute type (`None`: this storage
    /// type has no device-resident form).
    fn device_rows(d: &DeviceRows<Self>) -> Option<&DeviceRows<Self::Compute>>;
}

macro_rules! native {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            type Compute = $t;
            #[inline]
            fn widen_rows(v: ArrayView2<'_, $t>) -> CowArray<'_, $t, Ix2> {
                CowArray::from(v)
            }
            #[inline]
            fn widen_param(v: Cow<'_, [$t]>) -> Cow<'_, [$t]> {
                v
            }
            #[inline]
            fn narrow_rows(a: Array2<$t>) -> Array2<$t> {
                a
            }
            #[inline]
            fn narrow_vector(a: Array1<$t>) -> Array1<$t> {
                a
            }
            #[inline]
            fn device_rows(d: &DeviceRows<$t>) -> Option<&DeviceRows<$t>> {
                Some(d)
            }
        }
    )*};
}
native!(f32, f64);

/// Half-precision storage: inputs are widened to f32 once per call (a pass
/// over the M + N rows, negligible against the M×N pairs), the reduction
/// runs and accumulates in f32, and results are rounded to f16.
#[cfg(feature = "f16")]
impl Scalar for half::f16 {
    type Compute = f32;
    fn widen_rows(v: ArrayView2<'_, half::f16>) -> CowArray<'_, f32, Ix2> {
        CowArray::from(v.mapv(f32::from))
    }
    fn widen_param(v: Cow<'_, [half::f16]>) -> Cow<'_, [f32]> {
        Cow::Owned(v.iter().map(|&x| f32::from(x)).collect())
    }
    fn narrow_rows(a: Array2<f32>) -> Array2<half::f16> {
        a.mapv(half::f16::from_f32)
    }
    fn narrow_vector(a: Array1<f32>) -> Array1<half::f16> {
        a.mapv(half::f16::from_f32)
    }
    fn device_rows(_: &DeviceRows<half::f16>) -> Option<&DeviceRows<f32>> {
        None
    }
}
