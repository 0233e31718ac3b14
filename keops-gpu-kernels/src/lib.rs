//! PTX backend of keops: the device math library and the map-reduce kernel
//! emitter. (The PTX simulator and the `ptxas` runner that test them live in
//! `keops-ptx-sim`.)

// The math tests call the C library (FFI) as an independent reference.
#![cfg_attr(not(test), forbid(unsafe_code))]

pub mod emit;
pub mod kernel;
pub mod math;
pub mod ptx;

pub use emit::{emit_family, emit_stage_ptx};
