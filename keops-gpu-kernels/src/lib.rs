//! PTX backend of keops: the device math library, the map-reduce kernel
//! emitter, and a PTX simulator that runs the emitted kernels on the CPU
//! for tests.

pub mod emit;
pub mod kernel;
pub mod math;
pub mod ptx;
pub mod ptxas;
pub mod sim;

pub use emit::emit_family;
