//! The keops formula pipeline as a library, without syn or quote: the
//! formula AST ([`ast`]) and the front end that types it into the IR
//! ([`front`]), the typed IR and its operation table ([`ir`], [`ops`]),
//! symbolic differentiation ([`autodiff`]), stages and kernel families
//! ([`stage`]), lowering to scalar programs per phase ([`lower`]), the f64
//! reference evaluator ([`eval`]), the compiler's limits ([`limits`]) and
//! the options of a kernel family ([`Options`]).
//!
//! Parsers build the AST (the `keops!` macro's, in `keops-compiler`, from
//! Rust tokens), its spans being ids into their own tables of source
//! locations; [`front::build_stage`] checks it and builds the IR, its errors
//! naming those ids. Back ends consume the lowered stages (Rust code for the
//! macro in `keops-compiler`, PTX in `keops-gpu-kernels`), so the whole
//! pipeline runs outside a proc macro too.
//!
//! ```
//! use keops_ir::ir::{Bin, Cat, Graph, VarInfo};
//! // x * y for x: Vi<3>, y: Vj<1> (broadcast)
//! let mut g = Graph::new(vec![
//!     VarInfo { cat: Cat::I, dim: 3 },
//!     VarInfo { cat: Cat::J, dim: 1 },
//! ]);
//! let (x, y) = (g.var(0), g.var(1));
//! let f = g.bin(Bin::Mul, x, y);
//! assert_eq!(g.dim(f), 3);
//! ```

#![forbid(unsafe_code)]

pub mod ast;
pub mod autodiff;
pub mod eval;
pub mod front;
mod grad_order;
pub mod ir;
pub mod limits;
pub mod lower;
pub mod matrix;
mod options;
pub mod print;
pub mod stage;
pub mod text;
pub mod wire;

pub use grad_order::{default_grad_order, grad_order, GRAD_ORDER_1_BUDGET, GRAD_ORDER_2_BUDGET};
pub use ir::ops;
pub use options::Options;
