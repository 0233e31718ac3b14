//! The compiler's documented limits.
//!
//! Every input to `keops_compiler::compile` (and every front end) gives a value (a kernel family or a
//! spanned error), in bounded time and memory. These constants bound the
//! work: each is checked, with a clear error, before the work it bounds is
//! done (before parsing for the token count and nesting depth, before
//! building a node for the dimensions, before differentiating and while
//! building the gradient kernels for the scalar-operation budget).
//!
//! On the CPU, vectors of at least `lower::LOOP_MIN_DIM` components are
//! loops in the generated code; the PTX back end (and some operations:
//! concatenations, `max` over components, ...) scalarise them, one
//! instruction per component. The dimension and operation limits are set
//! where that scalarised code stays in the low megabytes: a Gaussian kernel
//! on `Vi<4096>` with `grad_order = 1` is about 90 000 operations.

/// Largest dimension of a formula variable (`Vi<D>`, `Vj<D>`, `Pm<D>`) and
/// of every intermediate vector (`one_hot`, `tensorprod`, `cat`,
/// `keops_tensordot`, K-reduction outputs `K * D`, ...).
pub const MAX_DIM: u32 = 4096;

/// Largest K of `kmin`, `argkmin` and `kmin_argkmin`.
pub const MAX_K: u32 = 1024;

/// Highest `grad_order` (each order multiplies the number of generated
/// kernels by the number of inputs).
pub const MAX_GRAD_ORDER: u32 = 4;

/// Most kernels in one family: the forward kernel and all its gradients up
/// to `grad_order` (with `n` variables, `n + n(n+1) + ...` gradient kernels).
pub const MAX_KERNELS: usize = 1024;

/// Most formula variables.
pub const MAX_VARIABLES: usize = 256;

/// Most tokens in the macro input.
pub const MAX_TOKENS: usize = 50_000;

/// Deepest nesting of the formula: within one argument or statement, every
/// operator, call, index and parenthesis counts one, a `{ }` block three,
/// and the deepest argument is added (`exp(-(x + y))` has depth 4, a sum of
/// 100 terms about 100, 100 nested calls 100). Deeper formulas are
/// rejected before they are parsed, so that parsing and compiling never
/// overflow the stack (the deepest formulas need under 1 MiB of stack).
pub const MAX_NESTING: usize = 256;

/// Most IR nodes while building a formula (nested `grad` calls multiply the
/// size of the formula).
pub const MAX_IR_NODES: usize = 100_000;

/// Most vector components (the sum of the dimensions of the IR nodes)
/// while building a formula.
pub const MAX_IR_SIZE: usize = 1_000_000;

/// Budget of scalar operations, summed over every stage of every kernel of
/// the family (roughly the number of instructions of the generated code;
/// see [`crate::stage::Stage::scalar_cost`]). Checked on the formula before
/// the gradients are built, on each `grad(...)`, and while the gradient
/// kernels are built.
pub const MAX_SCALAR_OPS: usize = 150_000;

/// Most IR nodes summed over the stages of a family (the per-node work of
/// building and de-duplicating the gradient stages, whatever their
/// dimensions: high `grad_order`s of formulas of many operations).
pub const MAX_FAMILY_NODES: usize = 40_000;

/// Number of kernels of a family with `n` inputs up to gradient order
/// `order`, saturating: `1 + n + n(n+1) + n(n+1)(n+2) + ...`.
pub fn kernel_count(n: usize, order: u32) -> usize {
    let mut total: usize = 1;
    let mut level: usize = 1;
    for k in 0..order as usize {
        level = level.saturating_mul(n.saturating_add(k));
        total = total.saturating_add(level);
    }
    total
}
