//! Symbolic matrices given at run time: a [`Formula`] without a reduction
//! whose value has dimension 1 (`"|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))"`)
//! is the M × N matrix `K_ij`; [`Formula::bind`] gives a
//! [`BoundMatrix`] (`matmul`, `t`, `solve`, `grad_inner`, as a `keops!`
//! matrix's).
//!
//! The products and gradients are run-time formulas built from the one
//! formula by `keops_ir::matrix`: `sum_j(K * v)` with `v: Vj<_>` (`K V`,
//! one call for any width W of V up to `keops_ir::limits::MAX_DIM`,
//! column blocks above), `sum_i(K * u)` (`K^T U`) and the gradients of
//! `sum_j(K * (u | v))` (`<U, K V>`). Each is built once per process and
//! set of widths, like any [`Formula`].

use ndarray::{s, Array2, ArrayView2};

use keops_ir::matrix::Width;

use super::{intern, Formula, Input};
use crate::error::{Error, Result};
use crate::matrix::{BoundMatrix, CpuPath, Gradient, MatrixEngine};
use crate::options::Options;
use crate::scalar::Scalar;
use crate::simd::Real;
use crate::stage::Cat;
use crate::stage::VarKind;
use crate::value::{RowCounts, Rows, Val};

/// The engine of a symbolic matrix given at run time: what
/// [`Formula::bind`] gives a [`BoundMatrix`] (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct MatrixFormula {
    /// `sum_j(K * v)`.
    product_j: Formula,
    /// `sum_i(K * u)`.
    product_i: Formula,
    /// `sum_j(K * (u | v))`, whose gradients are those of `<U, K V>`.
    inner: Formula,
    /// The names of K's inputs.
    names: Vec<String>,
}

/// Columns per product call: the widest a width read from the data may be.
const MAX_COLUMNS: usize = keops_ir::limits::MAX_DIM as usize;

impl MatrixFormula {
    fn new(k: &Formula) -> MatrixFormula {
        let def = &k.def;
        MatrixFormula {
            product_j: k.derived(keops_ir::matrix::product(def, Cat::J, Width::Data)),
            product_i: k.derived(keops_ir::matrix::product(def, Cat::I, Width::Data)),
            inner: k.derived(keops_ir::matrix::inner(def, Width::Data)),
            names: def.params.iter().map(|p| p.name.clone()).collect(),
        }
    }
}

fn inputs_of<'v, T: Real>(inputs: &'v [Val<'_, T>]) -> Vec<&'v dyn Input<T>> {
    inputs.iter().map(|v| v as &dyn Input<T>).collect()
}

impl MatrixEngine for MatrixFormula {
    fn options(&self) -> Options {
        self.product_j.options()
    }

    fn with_options(self, opts: Options) -> Self {
        MatrixFormula {
            product_j: self.product_j.with_options(opts),
            product_i: self.product_i.with_options(opts),
            inner: self.inner.with_options(opts),
            names: self.names,
        }
    }

    fn product<T: Real + Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        _mn: (usize, usize),
        v: ArrayView2<'_, T>,
        over: Cat,
        _path: CpuPath,
    ) -> Result<Array2<T>> {
        let f = if over == Cat::I {
            &self.product_i
        } else {
            &self.product_j
        };
        let mut args = inputs_of(inputs);
        let w = v.ncols();
        if w <= MAX_COLUMNS {
            args.push(&v);
            return f.call(&args)?.into_rows();
        }
        let mut out: Option<Array2<T>> = None;
        for c0 in (0..w).step_by(MAX_COLUMNS) {
            let block = v.slice(s![.., c0..w.min(c0 + MAX_COLUMNS)]);
            let mut a = args.clone();
            a.push(&block);
            let r = f.call(&a)?.into_rows()?;
            let o = out.get_or_insert_with(|| Array2::from_elem((r.nrows(), w), T::default()));
            o.slice_mut(s![.., c0..c0 + r.ncols()]).assign(&r);
        }
        out.ok_or_else(|| Error::Internal("no column block".into()))
    }

    fn grad_inner<T: Real + Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        u: ArrayView2<'_, T>,
        v: ArrayView2<'_, T>,
    ) -> Result<Vec<Gradient<T>>> {
        let e = Array2::from_elem((u.nrows(), 1), T::from_f64(1.0));
        let mut total = None;
        for c0 in (0..u.ncols()).step_by(MAX_COLUMNS) {
            let cols = s![.., c0..u.ncols().min(c0 + MAX_COLUMNS)];
            let (ub, vb) = (u.slice(cols), v.slice(cols));
            let mut args = inputs_of(inputs);
            args.extend([&ub as &dyn Input<T>, &vb, &e]);
            let g = self
                .names
                .iter()
                .zip(inputs)
                .map(|(name, input)| {
                    let out = self.inner.grad(name).call(&args)?;
                    Ok(match input {
                        Val::Vector { .. } => Gradient::Param(out.into_vector()?),
                        _ => Gradient::Rows(out.into_rows()?),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            crate::matrix::add_gradients(&mut total, g)?;
        }
        total.ok_or_else(|| Error::Internal("no gradient block".into()))
    }
}

impl Formula {
    /// Binds the inputs of a symbolic matrix (a formula without a
    /// reduction whose value has dimension 1), in the order of its
    /// variables: the M × N matrix `K_ij` as a linear operator
    /// ([`BoundMatrix`]: `matmul`, `t`, `solve`, `grad_inner`). Rows are
    /// borrowed (no copy); parameters are copied. Widths read from the
    /// data are checked as by [`Formula::call`].
    ///
    /// ```
    /// use keops_runtime::formula::Formula;
    /// use ndarray::Array2;
    ///
    /// # fn main() -> keops_runtime::Result<()> {
    /// let k = Formula::new("|x: Vi<_>, y: Vj<_>, g: Pm<1>| exp(-g * sqdist(x, y))")?;
    /// let x = Array2::<f64>::zeros((4, 5));
    /// let g = [0.5];
    /// let m = k.bind(&[&x, &x, &g])?;
    /// let v = Array2::<f64>::ones((4, 2));
    /// let kv = m.matmul(&v)?;
    /// assert!((kv[[0, 1]] - 4.0).abs() < 1e-12);
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind<'a, T: Real + Scalar<Compute = T>>(
        &self,
        inputs: &[&'a dyn Input<T>],
    ) -> Result<BoundMatrix<'a, T, MatrixFormula>> {
        self.bindable(inputs.len())?;
        // Each input at its own width: `__bind_values` checks the widths.
        let mut vals = Vec::with_capacity(inputs.len());
        for (p, &a) in self.def.params.iter().zip(inputs) {
            let name = intern(&p.name);
            vals.push(if p.cat == Cat::P {
                Self::__param_input(&a, name)?
            } else {
                <dyn Input<T>>::value(a, name, p.cat, VarKind::Real, a.width())?
            });
        }
        self.__bind_values(vals)
    }

    /// [`Formula::bind`] for inputs already converted, each at its own
    /// width (the `keops!` matrices with widths read from the data): the
    /// widths are checked against the formula's, and the formula at them.
    #[doc(hidden)]
    pub fn __bind_values<'a, T: Real + Scalar<Compute = T>>(
        &self,
        vals: Vec<Val<'a, T>>,
    ) -> Result<BoundMatrix<'a, T, MatrixFormula>> {
        self.bindable(vals.len())?;
        let refs: Vec<&dyn Input<T>> = vals.iter().map(|v| v as &dyn Input<T>).collect();
        let def = self.widths(&refs)?;
        let stage = keops_ir::matrix::check(&def).map_err(|e| self.front_error(&e))?;
        // The inputs' checks (kind, columns, length) at the formula's widths.
        for (v, val) in stage.vars.iter().zip(&vals) {
            Input::value(val, intern(&v.name), v.cat, v.kind, v.dim as usize)?;
        }
        let cats: Vec<(Cat, &Val<'_, T>)> =
            self.def.params.iter().map(|p| p.cat).zip(&vals).collect();
        let rows = RowCounts::of(&cats)?;
        let (m, n) = (rows.i.unwrap_or(0), rows.j.unwrap_or(0));
        let engine = MatrixFormula::new(self).with_options(self.options());
        Ok(BoundMatrix::new(engine, vals, m, n))
    }

    /// A `Vi`/`Vj` argument of a `keops!` matrix with widths from the data.
    #[doc(hidden)]
    pub fn __rows_input<'a, T: Real + Scalar<Compute = T>>(
        rows: Rows<'a, T>,
        name: &'static str,
        cat: Cat,
    ) -> Result<Val<'a, T>> {
        let cols = match &rows {
            Rows::Host(v) => v.ncols(),
            Rows::Device(d) => d.ncols(),
        };
        Val::from_rows(rows, name, cat, cols)
    }

    /// A `Pm` argument of a `keops!` matrix with widths from the data
    /// (copied: a temporary such as `&[g]` may be passed).
    #[doc(hidden)]
    pub fn __param_input<'b, T: Real>(p: &impl Input<T>, name: &'static str) -> Result<Val<'b, T>> {
        p.value(name, Cat::P, VarKind::Real, p.width())?
            .into_static()
    }

    /// Whether `bind` applies, with `given` inputs.
    fn bindable(&self, given: usize) -> Result<()> {
        if !self.matrix || !self.path.is_empty() {
            return Err(Error::Unsupported(
                "`bind` is for symbolic matrices (a formula without a reduction whose value has dimension 1): run this one with `call`".into(),
            ));
        }
        if given != self.def.params.len() {
            return Err(self.arity(given));
        }
        Ok(())
    }
}
