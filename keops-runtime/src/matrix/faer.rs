//! faer's matrix-free operator traits (feature `faer`): any keops
//! [`LinearOperator`] wrapped in [`FaerOp`] is a `faer::matrix_free::LinOp`
//! and `BiLinOp`, so faer's iterative solvers (conjugate gradient, BiCGSTAB,
//! LSMR, eigen- and singular-value solvers) run on a bound kernel matrix
//! without forming it.
//!
//! ```ignore
//! use faer::matrix_free::conjugate_gradient::{conjugate_gradient, conjugate_gradient_scratch, CgParams};
//! let op = FaerOp(kxx.shifted(0.1));                  // 0.1 I + K, never stored
//! let precond = faer::matrix_free::IdentityPrecond { dim: n };
//! let mut mem = MemBuffer::new(conjugate_gradient_scratch(precond, &op, 1, Par::Seq));
//! conjugate_gradient(out.as_mut(), precond, &op, rhs.as_ref(), CgParams::default(),
//!                    |_| {}, Par::Seq, MemStack::new(&mut mem))?;
//! ```
//!
//! faer's traits have no error channel: an error of the keops operator
//! (e.g. a GPU failure) panics with its message. Shapes are checked by
//! faer. Each application copies the right-hand side block into an ndarray
//! and the result back (O(n W), small against the O(n^2 W) product).

use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::{BiLinOp, LinOp};
use faer::traits::ComplexField;
use faer::{MatMut, MatRef, Par};
use ndarray::Array2;

use super::operator::LinearOperator;
use crate::simd::Real;

/// A keops linear operator as a faer matrix-free operator.
#[derive(Clone, Debug)]
pub struct FaerOp<O>(pub O);

fn to_nd<T: Real>(m: MatRef<'_, T>) -> Array2<T> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

fn store<T: Real>(mut out: MatMut<'_, T>, a: &Array2<T>) {
    assert_eq!(
        (out.nrows(), out.ncols()),
        a.dim(),
        "keops operator: result of a bad shape"
    );
    for ((i, j), &v) in a.indexed_iter() {
        out[(i, j)] = v;
    }
}

fn run<T: Real>(r: crate::error::Result<Array2<T>>) -> Array2<T> {
    match r {
        Ok(a) => a,
        Err(e) => panic!("keops operator failed: {e}"),
    }
}

impl<T, O> LinOp<T> for FaerOp<O>
where
    T: Real + ComplexField,
    O: LinearOperator<T> + Sync + std::fmt::Debug,
{
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.0.shape().0
    }
    fn ncols(&self) -> usize {
        self.0.shape().1
    }
    fn apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, _par: Par, _stack: &mut MemStack) {
        store(out, &run(self.0.apply(to_nd(rhs).view())));
    }
    fn conj_apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, stack: &mut MemStack) {
        // Real operators: the conjugate is the operator.
        self.apply(out, rhs, par, stack)
    }
}

impl<T, O> BiLinOp<T> for FaerOp<O>
where
    T: Real + ComplexField,
    O: LinearOperator<T> + Sync + std::fmt::Debug,
{
    fn transpose_apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn transpose_apply(
        &self,
        out: MatMut<'_, T>,
        rhs: MatRef<'_, T>,
        _par: Par,
        _stack: &mut MemStack,
    ) {
        store(out, &run(self.0.apply_t(to_nd(rhs).view())));
    }
    fn adjoint_apply(
        &self,
        out: MatMut<'_, T>,
        rhs: MatRef<'_, T>,
        par: Par,
        stack: &mut MemStack,
    ) {
        self.transpose_apply(out, rhs, par, stack)
    }
}
