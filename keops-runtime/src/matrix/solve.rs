//! Conjugate gradient on a [`LinearOperator`], for one or many right-hand
//! sides (KeOps' `KernelSolve`).
//!
//! The operator is assumed symmetric positive definite (for `alpha I + K`:
//! K symmetric positive semi-definite and `alpha > 0`); this is not
//! checked, as in KeOps. Every right-hand side runs its own CG recurrences
//! (f64 scalars and vectors), and the columns still iterating are applied
//! together, so the products of the operator are wide (GEMM speed on the
//! CPU). The recursive residual drifts from the true one in f32: when the
//! recurrences say "converged", the true residual `b - A x` is computed
//! and CG restarts from `x` if it is not below the tolerance; a restart
//! that does not halve the residual, or the iteration cap, ends the solve
//! with [`Error::NotConverged`] carrying the iterate reached.

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::simd::Real;

use super::operator::LinearOperator;

/// Options of [`cg`] (and `BoundMatrix::solve_with`).
#[derive(Clone, Debug)]
pub struct SolveOptions<'x, T> {
    /// Relative tolerance on `|b - A x| / |b|`, per right-hand side
    /// (`None`: 1e-6 for f64 data, 1e-4 for f32).
    pub tol: Option<f64>,
    /// Iteration cap (`None`: `max(100, 2 n)`; iterations are counted once
    /// for all the right-hand sides).
    pub max_iter: Option<usize>,
    /// Warm start: the initial iterate, shaped like `b`.
    pub x0: Option<ArrayView2<'x, T>>,
}

impl<T> Default for SolveOptions<'_, T> {
    fn default() -> Self {
        SolveOptions {
            tol: None,
            max_iter: None,
            x0: None,
        }
    }
}

/// A solution and how it was reached.
#[derive(Clone, Debug)]
pub struct Solved<X> {
    /// The solution (shaped like the right-hand side).
    pub solution: X,
    /// Iterations done.
    pub iterations: usize,
    /// The largest relative residual `|b - A x| / |b|` over the right-hand
    /// sides (true residual, recomputed at the end).
    pub residual: f64,
    /// The relative residual of each right-hand side.
    pub residuals: Vec<f64>,
}

fn col_dots(a: &Array2<f64>, b: &Array2<f64>) -> Vec<f64> {
    let mut d = vec![0.0; a.ncols()];
    for (ra, rb) in a.rows().into_iter().zip(b.rows()) {
        for (k, (&x, &y)) in ra.iter().zip(rb.iter()).enumerate() {
            d[k] += x * y;
        }
    }
    d
}

/// `A` applied to the columns `cols` of `p` (f64), in the operator's type.
fn apply_cols<T: Real, O: LinearOperator<T>>(
    op: &O,
    p: &Array2<f64>,
    cols: &[usize],
) -> Result<Array2<f64>> {
    let sub = Array2::from_shape_fn((p.nrows(), cols.len()), |(i, k)| {
        T::from_f64(p[[i, cols[k]]])
    });
    Ok(op.apply(sub.view())?.mapv(|x| x.to_f64()))
}

/// Solves `A x = b` (A symmetric positive definite, not checked) by
/// conjugate gradient, for the columns of `b`. See the module
/// documentation.
pub fn cg<T: Real, O: LinearOperator<T>>(
    op: &O,
    b: ArrayView2<'_, T>,
    opts: &SolveOptions<'_, T>,
) -> Result<Solved<Array2<T>>> {
    let (r, c) = op.shape();
    if r != c {
        return Err(Error::Shape {
            operand: "A".into(),
            expected: "a square operator".into(),
            found: format!("{r} x {c}"),
        });
    }
    let n = r;
    if b.nrows() != n {
        return Err(Error::Shape {
            operand: "b".into(),
            expected: format!("{n} rows (the operator is {n} x {n})"),
            found: format!("{} rows", b.nrows()),
        });
    }
    let w = b.ncols();
    let tol = opts.tol.unwrap_or(if T::BYTES == 4 { 1e-4 } else { 1e-6 });
    let max_iter = opts.max_iter.unwrap_or((2 * n).max(100));
    let b64 = b.mapv(|x| x.to_f64());
    let mut x = match &opts.x0 {
        Some(x0) => {
            if x0.dim() != b.dim() {
                return Err(Error::Shape {
                    operand: "x0".into(),
                    expected: format!("shape {:?} (as `b`)", b.dim()),
                    found: format!("{:?}", x0.dim()),
                });
            }
            x0.mapv(|v| v.to_f64())
        }
        None => Array2::zeros((n, w)),
    };
    let bnorm: Vec<f64> = col_dots(&b64, &b64)
        .into_iter()
        .map(|s| if s > 0.0 { s.sqrt() } else { 1.0 })
        .collect();
    let all: Vec<usize> = (0..w).collect();
    let true_residual = |x: &Array2<f64>| -> Result<(Array2<f64>, Vec<f64>)> {
        let ax = if n == 0 || w == 0 {
            Array2::zeros((n, w))
        } else {
            apply_cols(op, x, &all)?
        };
        let res = &b64 - &ax;
        let rel = col_dots(&res, &res)
            .into_iter()
            .zip(&bnorm)
            .map(|(s, bn)| s.sqrt() / bn)
            .collect();
        Ok((res, rel))
    };
    let mut iterations = 0usize;
    let (mut res, mut rel) = true_residual(&x)?;
    loop {
        let worst = rel.iter().cloned().fold(0.0, f64::max);
        if worst <= tol {
            return Ok(Solved {
                solution: x.mapv(T::from_f64),
                iterations,
                residual: worst,
                residuals: rel,
            });
        }
        let not_converged = |x: Array2<f64>, iterations: usize| Error::NotConverged {
            method: "conjugate gradient",
            iterations,
            residual: worst,
            tolerance: tol,
            last: Box::new(x),
        };
        if iterations >= max_iter || worst.is_nan() {
            return Err(not_converged(x, iterations));
        }
        // A CG run from x on the columns above the tolerance.
        let mut active: Vec<usize> = (0..w).filter(|&k| rel[k] > tol).collect();
        let mut p = res.clone();
        let mut rs = col_dots(&res, &res);
        while !active.is_empty() && iterations < max_iter {
            let ap = apply_cols(op, &p, &active)?;
            iterations += 1;
            let mut still = Vec::with_capacity(active.len());
            for (a, &k) in active.iter().enumerate() {
                let mut pap = 0.0;
                for i in 0..n {
                    pap += p[[i, k]] * ap[[i, a]];
                }
                if pap.is_nan() || pap <= 0.0 {
                    // Breakdown (not positive definite, or converged to
                    // round-off): the restart check decides.
                    continue;
                }
                let step = rs[k] / pap;
                let mut rs_new = 0.0;
                for i in 0..n {
                    x[[i, k]] += step * p[[i, k]];
                    res[[i, k]] -= step * ap[[i, a]];
                    rs_new += res[[i, k]] * res[[i, k]];
                }
                let beta = rs_new / rs[k];
                rs[k] = rs_new;
                for i in 0..n {
                    p[[i, k]] = res[[i, k]] + beta * p[[i, k]];
                }
                if rs_new.sqrt() / bnorm[k] > tol {
                    still.push(k);
                }
            }
            active = still;
        }
        // Restart from the true residual; stop when it does not improve.
        let before = worst;
        let (r2, rel2) = true_residual(&x)?;
        res = r2;
        rel = rel2;
        let after = rel.iter().cloned().fold(0.0, f64::max);
        if after > tol && after > 0.5 * before {
            let mut e = not_converged(x, iterations);
            if let Error::NotConverged { residual, .. } = &mut e {
                *residual = after;
            }
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense symmetric matrix as an operator.
    struct Dense(Array2<f64>);

    impl LinearOperator<f64> for Dense {
        fn shape(&self) -> (usize, usize) {
            self.0.dim()
        }
        fn apply(&self, v: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
            Ok(self.0.dot(&v))
        }
        fn apply_t(&self, u: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
            Ok(self.0.t().dot(&u))
        }
    }

    #[test]
    fn solves_a_dense_system() {
        let n = 30;
        let a = Array2::from_shape_fn((n, n), |(i, j)| {
            let d = i as f64 - j as f64;
            (-0.1 * d * d).exp() + if i == j { 0.5 } else { 0.0 }
        });
        let xs = Array2::from_shape_fn((n, 3), |(i, k)| ((i * 7 + k * 3) % 11) as f64 - 5.0);
        let b = a.dot(&xs);
        let op = Dense(a);
        let s = cg(
            &op,
            b.view(),
            &SolveOptions {
                tol: Some(1e-10),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(s.residual <= 1e-10);
        for (p, q) in s.solution.iter().zip(xs.iter()) {
            assert!((p - q).abs() < 1e-7, "{p} {q}");
        }
        // Warm start at the solution: no iteration.
        let s2 = cg(
            &op,
            b.view(),
            &SolveOptions {
                tol: Some(1e-8),
                x0: Some(s.solution.view()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s2.iterations, 0);
    }

    #[test]
    fn iteration_cap_is_an_error() {
        let n = 40;
        let a = Array2::from_shape_fn((n, n), |(i, j)| 1.0 / (1.0 + i as f64 + j as f64));
        let b = Array2::from_elem((n, 1), 1.0);
        let e = cg(
            &Dense(a),
            b.view(),
            &SolveOptions {
                tol: Some(1e-14),
                max_iter: Some(3),
                ..Default::default()
            },
        )
        .unwrap_err();
        match e {
            Error::NotConverged {
                iterations, last, ..
            } => {
                assert!(iterations <= 3);
                assert_eq!(last.dim(), (n, 1));
            }
            e => panic!("{e}"),
        }
    }
}
