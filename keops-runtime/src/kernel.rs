//! The [`Kernel`] trait: what every kernel made by `keops!` has in common.

use crate::f64acc::{F64Stage, F64Stages};
use crate::options::{Backend, Options, SumScheme};
use crate::ranges::Ranges;
use crate::simd::SimdLevel;
use crate::stage::StageInfo;

/// A kernel made by `keops!`: a `Copy` value carrying its per-call options.
///
/// The typed `call`, `call_device`, the gradient accessors `grad_<var>()`
/// and `ptx()` are inherent methods of each kernel (their signatures depend
/// on the formula); the options and the metadata are this trait's, written
/// once here and not in every expansion. Code generic over kernels can hold
/// them as `K: Kernel` (this example runs in the facade's tests, where the
/// macro is: `kernels_are_generic_values` in `tests/reductions.rs`):
///
/// ```ignore
/// use keops::prelude::*;
///
/// fn on_one_thread<K: Kernel>(k: K) -> K {
///     k.threads(1).sum_scheme(SumScheme::Kahan)
/// }
/// let k = on_one_thread(keops!(|x: Vi<1>, y: Vj<1>| sum_j(x * y)));
/// assert_eq!(k.options().threads, Some(1));
/// assert_eq!(k.input_names(), &["x", "y"]);
/// ```
pub trait Kernel: Copy + Sized {
    /// The options in use.
    fn options(&self) -> Options;

    /// Replaces all options.
    fn with_options(self, opts: Options) -> Self;

    /// Names of the inputs of `call`, in order.
    fn input_names(&self) -> &'static [&'static str];

    /// The stages this kernel runs, in order (a gradient kernel may run
    /// several reductions; a kernel whose result is identically zero, none).
    fn stages(&self) -> &'static [&'static StageInfo];

    /// The f64 code of the stages of the kernel's family (one table per
    /// family), read only by [`Kernel::f64_accumulation`]. Emitted by the
    /// macro; not a stable API.
    #[doc(hidden)]
    const __F64_STAGES: &'static [&'static [F64Stage]];

    /// Selects the back end (CPU, a CUDA device, or the PTX simulator) for
    /// the next calls.
    fn backend(self, backend: Backend) -> Self {
        let mut o = self.options();
        o.backend = backend;
        self.with_options(o)
    }

    /// Selects the summation scheme of sum-type reductions.
    fn sum_scheme(self, scheme: SumScheme) -> Self {
        let mut o = self.options();
        o.sum_scheme = scheme;
        self.with_options(o)
    }

    /// Computes and accumulates in f64 even for f32 data (results are
    /// rounded to f32 at the end), for this kernel and the gradient kernels
    /// taken from it afterwards.
    ///
    /// Build cost: the f64 code of the kernel's family (its forward and
    /// gradient stages) is compiled into a program only when the program
    /// calls this method on one of the family's kernels (see
    /// [`crate::f64acc`]); f32 kernels that never ask for it do not pay.
    fn f64_accumulation(self, on: bool) -> Self {
        let mut o = self.options();
        o.f64_accumulation = on.then(|| F64Stages::new(Self::__F64_STAGES));
        self.with_options(o)
    }

    /// Number of CPU threads (default: as many as the rayon pool the call
    /// is made from, else `RAYON_NUM_THREADS`, else the machine's
    /// parallelism).
    fn threads(self, n: usize) -> Self {
        let mut o = self.options();
        o.threads = Some(n);
        self.with_options(o)
    }

    /// Restricts the next calls to the pairs kept by block-sparse `ranges`
    /// (KeOps' `ranges=`), for this kernel and the gradient kernels taken
    /// from it afterwards: a reduction over j uses `ranges_i`, `slices_i`,
    /// `redranges_j`, a reduction over i (e.g. the gradient with respect to
    /// a `Vj` variable) the transposed triple. The kernel keeps a handle:
    /// `ranges` (or a clone) must outlive the calls, else they return an
    /// error. Every back end skips the other pairs (the GPU kernels through
    /// per-block lookup tables). See [`crate::ranges`].
    fn ranges(self, ranges: &Ranges) -> Self {
        let mut o = self.options();
        o.ranges = Some(ranges.id());
        self.with_options(o)
    }

    /// Removes the block-sparse ranges: the next calls reduce over every pair.
    fn without_ranges(self) -> Self {
        let mut o = self.options();
        o.ranges = None;
        self.with_options(o)
    }

    /// The former name of [`Kernel::without_ranges`] (KeOps users expect
    /// `.dense()` to give the matrix: that is
    /// [`BoundMatrix::to_dense`](crate::matrix::BoundMatrix::to_dense)).
    #[deprecated(
        note = "renamed `without_ranges`; the dense matrix itself is `BoundMatrix::to_dense`"
    )]
    fn dense(self) -> Self {
        self.without_ranges()
    }

    /// Caps the SIMD instruction set used on the CPU (for testing and
    /// benchmarking).
    fn simd(self, level: SimdLevel) -> Self {
        let mut o = self.options();
        o.simd = Some(level);
        self.with_options(o)
    }
}

/// What `k.grad_x()` returns when the kernel's gradients of that order were
/// not emitted (a compile-time choice: see `grad_order` in the `keops!`
/// documentation). It has no `call`: the compiler reports the missing
/// method, and a deprecation note at the `grad_x()` call names the fix,
/// `keops!(grad_order = n, ...)`.
#[derive(Clone, Copy, Debug)]
pub struct GradientNotEmitted;
