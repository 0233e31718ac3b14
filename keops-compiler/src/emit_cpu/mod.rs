//! Code generation: the Rust tokens of a kernel family.
//!
//! For every stage, a unit struct implementing `keops::__private::CpuStage`
//! (the four phase programs as `#[inline(always)]` functions generic over
//! the SIMD pack type, plus static metadata and the PTX text); for every
//! program, a kernel struct with a typed `call`, the gradient accessors and
//! per-call options. All paths are absolute (`::keops::__private::...`) and
//! the generated code holds no `unsafe`.
//!
//! The files: `kernel.rs` (the expansion: kernel structs with `call`,
//! gradients and the `Kernel` impl), `cpu_stage.rs` (the `CpuStage` impl of
//! a stage), `prog.rs` (a scalar program's statements: values, loops,
//! outputs), `inst.rs` (one instruction as a `Pack` expression),
//! `stub.rs` (the expansion after a failed compilation), `tokens.rs`
//! (literals, the runtime's enum values, identifiers).

mod cpu_stage;
mod inst;
mod kernel;
mod prog;
mod stub;
pub(crate) mod tokens;

pub use cpu_stage::{group_rows, stage_tokens};
pub use kernel::{expand, expand_generic, expand_items};
pub use stub::fallback;
pub use tokens::{grad_method, ident, Generics};
