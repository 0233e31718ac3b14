//! Batch dimensions: many independent problems in one call.
//!
//! Inputs of shape `(B1, .., Bk, rows, D)` hold `B = B1 * .. * Bk`
//! problems; a batch dimension of size 1 broadcasts against the others, as
//! in LazyTensor. A [`Batch`] flattens them to `(B * rows, D)` rows and
//! describes the B problems as block-diagonal [`Ranges`]: problem b reduces
//! its rows of i over its rows of j only, so B small problems cost what
//! their pairs cost, in one call (the blocks run in parallel).
//!
//! ```ignore
//! use keops::prelude::*;
//! use keops::batch::Batch;
//!
//! // x: (64, 1000, 3), y: (64, 1000, 3), b: (1, 1000, 1) (broadcast).
//! let batch = Batch::new(&[64], 1000, 1000)?;
//! let out = k
//!     .ranges(batch.ranges())
//!     .call(&batch.rows(x.view().into_dyn(), "x")?, &batch.rows(y.view().into_dyn(), "y")?,
//!           &batch.cols(b.view().into_dyn(), "b")?)?;   // (64 * 1000, E)
//! let out = batch.unflatten(out)?;                      // (64, 1000, E)
//! ```
//!
//! A parameter (`Pm`) is shared by the problems when given as usual, or
//! has a value per problem when given through [`Batch::params`] (shape
//! `(dims.., D)`); the parameter phase then runs once per problem (on the
//! GPU back ends, each block of threads runs it for its block's problem).
//!
//! Gradients follow: a gradient kernel called with the same flattened
//! inputs (and cotangent) and the same ranges returns flattened gradients;
//! for an input that was broadcast, [`Batch::sum_to`] sums the gradient
//! over the broadcast dimensions; the gradient with respect to a parameter
//! with a value per problem has one per problem (`B * D` values).

use std::borrow::Cow;

use ndarray::{Array2, ArrayD, ArrayViewD, Axis, CowArray, Ix2, IxDyn};

use crate::error::{Error, Result};
use crate::ranges::Ranges;
use crate::simd::Real;
use crate::value::ParamData;

/// B problems of `m` i-rows and `n` j-rows each, with batch shape `dims`.
#[derive(Clone, Debug)]
pub struct Batch {
    dims: Vec<usize>,
    m: usize,
    n: usize,
    ranges: Ranges,
}

fn shape_err(operand: &str, expected: String, found: &[usize]) -> Error {
    Error::Shape {
        operand: operand.into(),
        expected,
        found: format!("{found:?}"),
    }
}

impl Batch {
    /// A batch of shape `dims` (`B = dims.iter().product()` problems) with
    /// `m` i-rows and `n` j-rows per problem.
    pub fn new(dims: &[usize], m: usize, n: usize) -> Result<Batch> {
        let ranges = Ranges::batch(dims.iter().product(), m, n)?;
        Ok(Batch {
            dims: dims.to_vec(),
            m,
            n,
            ranges,
        })
    }

    /// The batch shape.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The number of problems.
    pub fn count(&self) -> usize {
        self.dims.iter().product()
    }

    /// The block-diagonal ranges of the B problems (give them to the
    /// kernel with `.ranges(batch.ranges())`).
    pub fn ranges(&self) -> &Ranges {
        &self.ranges
    }

    /// An i-variable of shape `(dims.., m, D)`, a batch dimension of size 1
    /// broadcasting, as `(B * m, D)` rows (a view when nothing broadcasts
    /// and the array is contiguous, a copy otherwise).
    pub fn rows<'a, T: Clone>(
        &self,
        x: ArrayViewD<'a, T>,
        name: &str,
    ) -> Result<CowArray<'a, T, Ix2>> {
        self.flatten(x, self.m, name)
    }

    /// A j-variable of shape `(dims.., n, D)`, as `(B * n, D)` rows.
    pub fn cols<'a, T: Clone>(
        &self,
        y: ArrayViewD<'a, T>,
        name: &str,
    ) -> Result<CowArray<'a, T, Ix2>> {
        self.flatten(y, self.n, name)
    }

    fn flatten<'a, T: Clone>(
        &self,
        x: ArrayViewD<'a, T>,
        rows: usize,
        name: &str,
    ) -> Result<CowArray<'a, T, Ix2>> {
        let k = self.dims.len();
        let sh = x.shape().to_vec();
        let expected = || {
            format!(
                "shape ({}{rows}, D) (batch dimensions {:?} or 1)",
                self.dims
                    .iter()
                    .map(|d| format!("{d}, "))
                    .collect::<String>(),
                self.dims
            )
        };
        if sh.len() != k + 2
            || sh[k] != rows
            || sh[..k]
                .iter()
                .zip(&self.dims)
                .any(|(&a, &b)| a != b && a != 1)
        {
            return Err(shape_err(name, expected(), &sh));
        }
        let d = sh[k + 1];
        let total = self.count() * rows;
        if sh[..k] == self.dims[..] {
            if let Ok(v) = x.clone().into_shape_with_order(IxDyn(&[total, d])) {
                if let Ok(v) = v.into_dimensionality::<Ix2>() {
                    return Ok(CowArray::from(v));
                }
            }
        }
        let mut full = self.dims.clone();
        full.extend([rows, d]);
        let b = x
            .broadcast(IxDyn(&full))
            .ok_or_else(|| shape_err(name, expected(), &sh))?;
        let owned: Vec<T> = b.iter().cloned().collect();
        let a = Array2::from_shape_vec((total, d), owned)
            .map_err(|e| Error::Internal(format!("batch flatten: {e}")))?;
        Ok(CowArray::from(a))
    }

    /// A parameter with a value per problem, of shape `(dims.., D)` (a
    /// batch dimension of size 1 broadcasting), for a `Pm<D>` argument of a
    /// kernel that runs with this batch's ranges. Gradients with respect
    /// to it have a value per problem too (`(B * D)`, problem-major).
    pub fn params<'a, T: Clone>(
        &self,
        p: ArrayViewD<'a, T>,
        name: &str,
    ) -> Result<ParamData<'a, T>> {
        let k = self.dims.len();
        let sh = p.shape().to_vec();
        let expected = || {
            format!(
                "shape ({}D) (batch dimensions {:?} or 1)",
                self.dims
                    .iter()
                    .map(|d| format!("{d}, "))
                    .collect::<String>(),
                self.dims
            )
        };
        if sh.len() != k + 1
            || sh[..k]
                .iter()
                .zip(&self.dims)
                .any(|(&a, &b)| a != b && a != 1)
        {
            return Err(shape_err(name, expected(), &sh));
        }
        let mut full = self.dims.clone();
        full.push(sh[k]);
        if sh[..k] == self.dims[..] {
            if let Some(s) = p.to_slice() {
                return Ok(ParamData::per_problem(Cow::Borrowed(s)));
            }
        }
        let b = p
            .broadcast(IxDyn(&full))
            .ok_or_else(|| shape_err(name, expected(), &sh))?;
        Ok(ParamData::per_problem(Cow::Owned(
            b.iter().cloned().collect(),
        )))
    }

    /// A flattened result `(B * rows, E)` (rows per problem: `m` for a
    /// reduction over j, `n` over i) as `(dims.., rows, E)`.
    pub fn unflatten<T>(&self, out: Array2<T>) -> Result<ArrayD<T>> {
        let (r, e) = out.dim();
        let b = self.count();
        if b == 0 || !r.is_multiple_of(b) {
            return Err(shape_err(
                "out",
                format!("a multiple of {b} rows (the number of problems)"),
                &[r, e],
            ));
        }
        let mut shape = self.dims.clone();
        shape.extend([r / b, e]);
        out.into_shape_with_order(IxDyn(&shape))
            .map_err(|e| Error::Internal(format!("batch unflatten: {e}")))
    }

    /// The indices of an argmin-type reduction over j (flattened result,
    /// `(B * m, K)`) as indices into each problem's own j rows; `usize::MAX`
    /// (no index) stays.
    pub fn local_j_indices(&self, idx: Array2<usize>) -> Array2<usize> {
        self.local(idx, self.m, self.n)
    }

    /// The same for a reduction over i (`(B * n, K)`, indices of i rows).
    pub fn local_i_indices(&self, idx: Array2<usize>) -> Array2<usize> {
        self.local(idx, self.n, self.m)
    }

    fn local(&self, mut idx: Array2<usize>, rows: usize, reduced: usize) -> Array2<usize> {
        for (r, mut row) in idx.rows_mut().into_iter().enumerate() {
            let p = r.checked_div(rows).unwrap_or(0);
            for v in row.iter_mut() {
                if *v != usize::MAX {
                    *v -= p * reduced;
                }
            }
        }
        idx
    }

    /// A flattened gradient `(B * rows, D)` with respect to an input of
    /// batch shape `shape` (the batch dimensions of size 1 were broadcast):
    /// the gradient summed over those dimensions, `(shape.., rows, D)`.
    pub fn sum_to<T: Real>(&self, grad: Array2<T>, shape: &[usize]) -> Result<ArrayD<T>> {
        let k = self.dims.len();
        if shape.len() != k
            || shape
                .iter()
                .zip(&self.dims)
                .any(|(&a, &b)| a != b && a != 1)
        {
            return Err(shape_err(
                "shape",
                format!("{k} batch dimensions, each {:?} or 1", self.dims),
                shape,
            ));
        }
        let mut g = self.unflatten(grad)?;
        for (ax, (&s, &d)) in shape.iter().zip(&self.dims).enumerate() {
            if s == 1 && d != 1 {
                g = g
                    .fold_axis(Axis(ax), T::default(), |&a, &b| a + b)
                    .insert_axis(Axis(ax));
            }
        }
        Ok(g)
    }
}
