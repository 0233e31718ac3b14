//! keops: ahead-of-time compiled kernel operations.
//!
//! Write a KeOps formula in [`keops!`]; the macro checks every dimension at
//! compile time, derives the symbolic gradients, and emits a monomorphised
//! multi-threaded SIMD CPU kernel and a CUDA kernel (PTX). Nothing is compiled
//! at run time.
//!
//! ```
//! use keops::prelude::*;
//!
//! let x = Array2::from_shape_fn((100, 3), |(i, k)| (i * 3 + k) as f32 * 0.01);
//! let y = Array2::from_shape_fn((200, 3), |(j, k)| (j * 3 + k) as f32 * 0.005);
//! let b = Array2::from_elem((200, 1), 1.0f32);
//! let gauss = keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>|
//!     sum_j(exp(-g * sqdist(x, y)) * b));
//! let out: Array2<f32> = gauss.call(&x, &y, &b, &[0.5f32])?;
//! assert_eq!(out.dim(), (100, 1));
//! # Ok::<(), keops::Error>(())
//! ```

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

/// The `half` crate (feature `f16`): `half::f16` inputs are stored in half
/// precision and computed in f32.
#[cfg(feature = "f16")]
pub use half;
/// Formulas known at run time (strings in our syntax or KeOps'), run
/// with no compiler: [`Formula`].
pub use keops_runtime::formula::{self, Formula};
/// Symbolic matrices (formulas without a reduction): bound matrices,
/// linear operators, conjugate-gradient solves.
pub use keops_runtime::{batch, cluster, matrix, ranges};
pub use keops_runtime::{
    Backend, DeviceElem, DeviceRows, Error, GpuScheme, GradientNotEmitted, IntoIndexRows,
    IntoParam, IntoRows, IntoRowsDyn, Kernel, Options, Ranges, Real, Result, Scalar, SimdLevel,
    SumScheme,
};
/// The `ndarray` version keops uses (inputs and outputs are its arrays).
pub use ndarray;

/// The usual imports: the macro, arrays, options and errors.
pub mod prelude {
    pub use crate::keops;
    pub use crate::{
        Backend, DeviceRows, Error, Formula, GpuScheme, Kernel, Options, Ranges, Result, SimdLevel,
        SumScheme,
    };
    pub use ndarray::{array, Array1, Array2, ArrayView1, ArrayView2};
}

/// SIMD levels of the CPU engine: which are supported here, and the best one.
pub mod simd {
    pub use keops_runtime::simd::{best_level, supported_levels, SimdLevel};
}

#[doc = include_str!("keops_macro.md")]
#[cfg(not(any(feature = "cuda", feature = "sim")))]
#[macro_export]
macro_rules! keops {
    ($($formula:tt)*) => {
        $crate::__private::__keops_impl!({ $crate } cpu $($formula)*)
    };
}

#[doc = include_str!("keops_macro.md")]
#[cfg(any(feature = "cuda", feature = "sim"))]
#[macro_export]
macro_rules! keops {
    ($($formula:tt)*) => {
        $crate::__private::__keops_impl!({ $crate } ptx $($formula)*)
    };
}

/// The interface of macro-generated code. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use keops_macros::__keops_impl;
    pub use keops_runtime::__private::*;
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
