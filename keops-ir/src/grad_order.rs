//! How many orders of gradient kernels a family gets: `grad_order` when
//! the formula writes it, else a default from the size of the forward
//! stage.

use crate::{lower, stage, Options};

/// Scalar instructions of a forward stage (all four phases), up to which
/// gradient kernels are emitted up to order 2 by default.
pub const GRAD_ORDER_2_BUDGET: usize = 64;

/// Scalar instructions of a forward stage up to which gradient kernels are
/// emitted up to order 1 by default (above it, none unless asked for).
pub const GRAD_ORDER_1_BUDGET: usize = 1024;

/// The highest gradient order emitted: `grad_order` when written, else
/// [`default_grad_order`].
pub fn grad_order(options: &Options, stage: &stage::Stage) -> u32 {
    if options.grad_order_given {
        options.grad_order
    } else {
        default_grad_order(stage)
    }
}

/// The default highest gradient order of a formula: 2 for small formulas
/// (the Gaussian sum in D = 3 and its like: `k.grad_x().grad_y()` works
/// without options), 1 for larger ones, 0 for very large ones, so that a
/// user who never differentiates a large formula does not pay for its
/// gradient kernels at every build (each order multiplies the generated
/// code by about the number of inputs). The size is the number of scalar
/// instructions of the forward stage ([`GRAD_ORDER_2_BUDGET`],
/// [`GRAD_ORDER_1_BUDGET`]); `keops!(grad_order = n, ...)` overrides it.
pub fn default_grad_order(stage: &stage::Stage) -> u32 {
    let l = lower::lower(stage);
    let size = l.param.insts.len() + l.outer.insts.len() + l.inner.insts.len() + l.pair.insts.len();
    if size <= GRAD_ORDER_2_BUDGET {
        2
    } else if size <= GRAD_ORDER_1_BUDGET {
        1
    } else {
        0
    }
}
