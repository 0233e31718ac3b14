//! The typed intermediate representation of formulas.
//!
//! A formula is a DAG of [`Node`]s stored in a [`Graph`] arena and addressed
//! by [`Id`] handles (arguments always have smaller ids than their users, so
//! id order is a topological order). Every node carries its output dimension
//! and the set of indices it depends on ([`Deps`]). Construction goes through
//! the builder methods of [`Graph`], which hash-cons nodes (common
//! subexpression elimination for free) and, unless the graph was created with
//! [`Graph::raw`], apply constant folding and algebraic simplification.
//!
//! The operation set is deliberately small: element-wise maps with explicit
//! broadcasting, two linear layout operations ([`Op::Gather`] covers
//! extraction, concatenation, broadcasting and the vector sum;
//! [`Op::Bilinear`] covers matrix-vector products, tensor products and tensor
//! dots), the vector min/max family and a few leaves. Symbolic
//! differentiation, the reference evaluator and both back ends are passes over
//! this set.

//!
//! The files: `node.rs` (the data), `elementwise.rs` (the element-wise
//! operations) and `ops.rs` (their table), `graph.rs` (the arena and
//! hash-consing), `fold.rs` (constants), `layout.rs` (gathers),
//! `simplify.rs` (the simplifying builders of the other operations),
//! `math.rs` (f64 reference functions).

mod elementwise;
mod fold;
mod graph;
mod layout;
mod math;
mod node;
pub mod ops;
mod simplify;

pub use elementwise::{Bin, Tern, Un, VecRed};
pub use graph::{pow_cost, Graph};
pub use math::{erf_f64, one_hot_eval};
pub use node::{BilinearMap, Deps, GatherMap, Id, Node, Op, VarDecl, VarInfo};

/// Which index a variable is attached to, and the element kind of an input
/// variable (shared with the runtime: `keops_abi`).
pub use keops_abi::{Cat, VarKind};
