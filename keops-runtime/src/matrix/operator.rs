//! Linear operators: the seam between symbolic matrices and iterative
//! solvers.
//!
//! A [`LinearOperator`] applies itself (and its transpose) to a block of
//! columns. Bound matrices and their transposes are operators; so are
//! `alpha I + A` ([`Shifted`]) and `A + B` ([`Sum`]), built with
//! [`OperatorExt`]:
//!
//! (Through the `keops` facade, which this crate's doctests cannot use; the
//! same code runs in `tests/matrix.rs` and the README.)
//!
//! ```ignore
//! use keops::prelude::*;
//! use keops::matrix::{LinearOperator, OperatorExt};
//!
//! let k = keops!(|x: Vi<1>, y: Vj<1>| exp(-(x - y) * (x - y)));
//! let l = keops!(|x: Vi<1>, y: Vj<1>| exp(-abs(x - y)));
//! let x = Array2::from_shape_fn((50, 1), |(i, _)| i as f64 * 0.1);
//! let (kx, lx) = (k.bind(&x, &x)?, l.bind(&x, &x)?);
//! let op = (&kx).plus(&lx).shifted(0.5);           // 0.5 I + K + L
//! let v = Array2::<f64>::ones((50, 3));
//! let a = op.apply(v.view())?;
//! let b = &(&kx.matmul(&v)? + &lx.matmul(&v)?) + &(&v * 0.5);
//! assert!((&a - &b).iter().all(|d| d.abs() < 1e-12));
//! # Ok::<(), keops::Error>(())
//! ```

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::simd::Real;

use super::{BoundMatrix, MatrixEngine};

/// A linear map applied to blocks of columns.
pub trait LinearOperator<T: Real> {
    /// `(rows, columns)`.
    fn shape(&self) -> (usize, usize);
    /// `A V` for `V` of shape (columns, W).
    fn apply(&self, v: ArrayView2<'_, T>) -> Result<Array2<T>>;
    /// `A^T U` for `U` of shape (rows, W).
    fn apply_t(&self, u: ArrayView2<'_, T>) -> Result<Array2<T>>;
}

impl<T, K> LinearOperator<T> for BoundMatrix<'_, T, K>
where
    T: Real + crate::scalar::Scalar<Compute = T>,
    K: MatrixEngine,
{
    fn shape(&self) -> (usize, usize) {
        BoundMatrix::shape(self)
    }
    fn apply(&self, v: ArrayView2<'_, T>) -> Result<Array2<T>> {
        self.matmul(v)
    }
    fn apply_t(&self, u: ArrayView2<'_, T>) -> Result<Array2<T>> {
        self.t().matmul(u)
    }
}

impl<T: Real, O: LinearOperator<T> + ?Sized> LinearOperator<T> for &O {
    fn shape(&self) -> (usize, usize) {
        (**self).shape()
    }
    fn apply(&self, v: ArrayView2<'_, T>) -> Result<Array2<T>> {
        (**self).apply(v)
    }
    fn apply_t(&self, u: ArrayView2<'_, T>) -> Result<Array2<T>> {
        (**self).apply_t(u)
    }
}

/// `alpha I + A` (A square).
#[derive(Clone, Debug)]
pub struct Shifted<O> {
    /// The shift.
    pub alpha: f64,
    /// The operator.
    pub op: O,
}

impl<O> Shifted<O> {
    /// `alpha I + op`.
    pub fn new(alpha: f64, op: O) -> Self {
        Shifted { alpha, op }
    }
}

fn axpy<T: Real>(mut av: Array2<T>, alpha: f64, v: ArrayView2<'_, T>) -> Array2<T> {
    if alpha != 0.0 {
        let a = T::from_f64(alpha);
        av.zip_mut_with(&v, |o, &x| *o = a.mul_add(x, *o));
    }
    av
}

fn square<T: Real, O: LinearOperator<T>>(op: &O) -> Result<usize> {
    let (r, c) = op.shape();
    if r != c {
        return Err(Error::Shape {
            operand: "alpha I + A".into(),
            expected: "a square operator".into(),
            found: format!("{r} x {c}"),
        });
    }
    Ok(r)
}

impl<T: Real, O: LinearOperator<T>> LinearOperator<T> for Shifted<O> {
    fn shape(&self) -> (usize, usize) {
        self.op.shape()
    }
    fn apply(&self, v: ArrayView2<'_, T>) -> Result<Array2<T>> {
        square(&self.op)?;
        Ok(axpy(self.op.apply(v)?, self.alpha, v))
    }
    fn apply_t(&self, u: ArrayView2<'_, T>) -> Result<Array2<T>> {
        square(&self.op)?;
        Ok(axpy(self.op.apply_t(u)?, self.alpha, u))
    }
}

/// `A + B` (same shapes).
#[derive(Clone, Debug)]
pub struct Sum<A, B> {
    /// First term.
    pub a: A,
    /// Second term.
    pub b: B,
}

fn same_shape(a: (usize, usize), b: (usize, usize)) -> Result<()> {
    if a != b {
        return Err(Error::Shape {
            operand: "A + B".into(),
            expected: format!("B of shape {a:?} (as A)"),
            found: format!("{b:?}"),
        });
    }
    Ok(())
}

impl<T: Real, A: LinearOperator<T>, B: LinearOperator<T>> LinearOperator<T> for Sum<A, B> {
    fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }
    fn apply(&self, v: ArrayView2<'_, T>) -> Result<Array2<T>> {
        same_shape(self.a.shape(), self.b.shape())?;
        Ok(self.a.apply(v)? + self.b.apply(v)?)
    }
    fn apply_t(&self, u: ArrayView2<'_, T>) -> Result<Array2<T>> {
        same_shape(self.a.shape(), self.b.shape())?;
        Ok(self.a.apply_t(u)? + self.b.apply_t(u)?)
    }
}

/// Combinators of operators.
pub trait OperatorExt<T: Real>: LinearOperator<T> + Sized {
    /// `alpha I + self`.
    fn shifted(self, alpha: f64) -> Shifted<Self> {
        Shifted::new(alpha, self)
    }
    /// `self + other`.
    fn plus<B: LinearOperator<T>>(self, other: B) -> Sum<Self, B> {
        Sum { a: self, b: other }
    }
}

impl<T: Real, O: LinearOperator<T>> OperatorExt<T> for O {}
