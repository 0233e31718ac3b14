//! The options of a kernel family, written before the formula
//! (`keops!(grad_order = 3, debug = true, fast_math = false, |x: ...| ...)`)
//! or given to the run-time API.

/// The options of a kernel family.
#[derive(Clone, Debug)]
pub struct Options {
    /// Highest order of the generated gradient kernels (`k.grad_x().grad_y()` is order 2).
    pub grad_order: u32,
    /// Whether `grad_order` was written (otherwise the compiler picks the
    /// default from the formula's size, see [`crate::default_grad_order`]).
    pub grad_order_given: bool,
    /// Print the generated code at compile time.
    pub debug: bool,
    /// f32 GPU kernels use the hardware's approximate exp/log/sin/cos
    /// (`ex2.approx` & co.) and may reassociate products to hoist
    /// loop-invariant factors, like KeOps' `use_fast_math` (default
    /// `true`, as in KeOps); `false`: the accurate device math and the
    /// formula's evaluation order (see `keops_gpu_kernels::math` for the
    /// accuracy of each). f64 GPU kernels and the CPU back end ignore it.
    pub fast_math: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            grad_order: 2,
            grad_order_given: false,
            debug: false,
            fast_math: true,
        }
    }
}
