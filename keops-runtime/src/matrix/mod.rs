//! Symbolic matrices: `K @ V`, `K.t() @ U`, gradients, linear operators and
//! conjugate-gradient solves.
//!
//! A `keops!` formula without a reduction whose value has dimension 1, e.g.
//! `keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)))`, is the
//! M × N matrix `K_ij` (never stored). Its `bind(&x, &y, &[0.5])` (the same
//! input types as a kernel's `call`: views, no copies) gives a
//! [`BoundMatrix`]:
//!
//! (Through the `keops` facade, which this crate's doctests cannot use; the
//! same code runs in `tests/matrix.rs` and the README.)
//!
//! ```ignore
//! use keops::prelude::*;
//!
//! let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
//! let x = Array2::from_shape_fn((100, 3), |(i, c)| (i + c) as f64 * 0.01);
//! let y = Array2::from_shape_fn((80, 3), |(j, c)| (j * c) as f64 * 0.01);
//! let kxy = k.bind(&x, &y, &[0.5])?;
//! assert_eq!(kxy.shape(), (100, 80));
//! let v = Array2::<f64>::ones((80, 7));     // any width, known at run time
//! let kv = kxy.matmul(&v)?;                   // (100, 7)
//! let u = Array2::<f64>::ones((100, 2));
//! let ktu = kxy.t().matmul(&u)?;              // (80, 2): the reduction over i
//! assert_eq!((kv.dim(), ktu.dim()), ((100, 7), (80, 2)));
//! let kxx = k.bind(&x, &x, &[0.5])?;
//! let b = Array1::<f64>::ones(100);
//! let a = kxx.solve(&b, 0.1)?;                // (0.1 I + K) a = b
//! assert!(a.residual < 1e-6);
//! # Ok::<(), keops::Error>(())
//! ```
//!
//! How a product runs:
//!
//! - **CPU, W = 1**: the fused map-reduce engine on the emitted stage
//!   `sum_j(K_ij * v_j)` (no buffer, one pass).
//! - **CPU, W ≥ 2**: rows of K in blocks × tiles of 256 columns are computed
//!   once per pair into an L2-sized buffer with the stage's SIMD pair
//!   function, and each tile is multiplied with the matching rows of V by
//!   `matrixmultiply`'s GEMM micro-kernels (see [`gemm`]): K is evaluated
//!   once per pair whatever W, and the multiply runs at GEMM speed.
//! - **GPU** (and the simulator): W = 1 as above; otherwise V in chunks of
//!   [`MatrixKernel::CHUNK`] columns (the last one zero-padded), one launch
//!   of the emitted stage `sum_j(K_ij * V_j)` with `V_j` of that width per
//!   chunk, as KeOps' chunked mode.
//!
//! The transpose `t()` runs the same formula reduced over i.

#[cfg(feature = "faer")]
pub mod faer;
pub mod gemm;
pub mod operator;
pub mod solve;

use std::sync::Arc;

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::options::{Backend, Options};
use crate::simd::Real;
use crate::stage::{Cat, CpuStage};
use crate::value::{IntoRows, RowCounts, Rows, Val};

pub use operator::{LinearOperator, OperatorExt, Shifted, Sum};
pub use solve::{cg, SolveOptions, Solved};

/// The CPU's choice for `K @ V`: fused stages (`sum_j K_ij v_j` in
/// chunks of `CHUNK` columns) up to this width, tiles of K and GEMM above.
pub const GEMM_FROM: usize = 1;

/// How a CPU product runs (see [`BoundMatrix::matmul_path`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuPath {
    /// The default choice.
    Auto,
    /// The fused map-reduce stages (chunks of columns).
    Fused,
    /// Tiles of K and GEMM.
    Gemm,
}

/// A gradient with respect to one input of a symbolic matrix: rows for a
/// `Vi`/`Vj` variable, a vector for a `Pm` parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Gradient<T> {
    /// Gradient with respect to a `Vi<D>`/`Vj<D>` variable: `(rows, D)`.
    Rows(Array2<T>),
    /// Gradient with respect to a `Pm<D>` parameter: length `D`.
    Param(Array1<T>),
}

impl<T: Real> Gradient<T> {
    /// The rows (for a `Vi`/`Vj` variable).
    pub fn rows(&self) -> Option<&Array2<T>> {
        match self {
            Gradient::Rows(a) => Some(a),
            Gradient::Param(_) => None,
        }
    }

    /// The vector (for a `Pm` parameter).
    pub fn param(&self) -> Option<&Array1<T>> {
        match self {
            Gradient::Param(a) => Some(a),
            Gradient::Rows(_) => None,
        }
    }

    fn add(&mut self, o: &Gradient<T>) -> Result<()> {
        match (self, o) {
            (Gradient::Rows(a), Gradient::Rows(b)) if a.dim() == b.dim() => {
                a.zip_mut_with(b, |x, &y| *x += y)
            }
            (Gradient::Param(a), Gradient::Param(b)) if a.len() == b.len() => {
                a.zip_mut_with(b, |x, &y| *x += y)
            }
            _ => {
                return Err(Error::Internal(
                    "gradient chunks of different shapes".into(),
                ))
            }
        }
        Ok(())
    }
}

/// What the `keops!` macro implements for a symbolic matrix: its
/// fixed-width stages and gradient kernels (see
/// `keops_compiler::emit_matrix`). Not meant to be implemented by hand.
pub trait MatrixKernel: Kernel {
    /// `sum_j(K)`: the pair function gives K values (rows i).
    type TileJ: CpuStage;
    /// `sum_i(K)`: K values, rows j.
    type TileI: CpuStage;
    /// `sum_j(K * v)`, `v: Vj<1>`.
    type Vec1J: CpuStage;
    /// `sum_i(K * u)`, `u: Vi<1>`.
    type Vec1I: CpuStage;
    /// `sum_j(K * v)`, `v: Vj<CHUNK>`.
    type ChunkJ: CpuStage;
    /// `sum_i(K * u)`, `u: Vi<CHUNK>`.
    type ChunkI: CpuStage;
    /// Columns per chunk of the fixed-width kernels.
    const CHUNK: usize;

    /// Gradients of `<u, K v>` with respect to every input, for `u` (M, C)
    /// and `v` (N, C) with C = 1 or [`MatrixKernel::CHUNK`].
    fn grad_chunk<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        u: ArrayView2<'_, T>,
        v: ArrayView2<'_, T>,
    ) -> Result<Vec<Gradient<T>>>;
}

/// What a [`BoundMatrix`] runs: the products and gradients of one symbolic
/// matrix. Implemented for the `keops!` matrices (every [`MatrixKernel`]:
/// fixed-width stages) and for run-time formulas
/// ([`crate::formula::MatrixFormula`]). Not meant to be implemented by hand.
pub trait MatrixEngine: Clone {
    /// The options of the products.
    fn options(&self) -> Options;
    /// The same engine with other options.
    fn with_options(self, opts: Options) -> Self;
    /// `K V` (`over = Cat::J`; `v` has `n` rows, the result `m`) or
    /// `K^T U` (`over = Cat::I`; `m` rows in, `n` out), for `inputs` bound
    /// with `m` rows i and `n` rows j, and `v` of any width W ≥ 1.
    fn product<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        mn: (usize, usize),
        v: ArrayView2<'_, T>,
        over: Cat,
        path: CpuPath,
    ) -> Result<Array2<T>>;
    /// Gradients of `<u, K v>` with respect to every input, for `u` (m, W)
    /// and `v` (n, W), W ≥ 1.
    fn grad_inner<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        u: ArrayView2<'_, T>,
        v: ArrayView2<'_, T>,
    ) -> Result<Vec<Gradient<T>>>;

    /// The m × n matrix K itself (by default, `K` times blocks of columns
    /// of the identity: correct on every back end and with ranges, at the
    /// cost of the products).
    fn dense<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        mn: (usize, usize),
    ) -> Result<Array2<T>> {
        dense_by_products(self, inputs, mn)
    }
}

/// The largest matrix [`BoundMatrix::to_dense`] materialises: 2^27
/// entries (512 MiB of f32, 1 GiB of f64).
pub const MAX_DENSE: usize = 1 << 27;

/// Columns of the identity per product in [`dense_by_products`].
const DENSE_BLOCK: usize = 256;

/// K as `K I`, the identity in blocks of [`DENSE_BLOCK`] columns.
fn dense_by_products<E: MatrixEngine, T: Real + crate::scalar::Scalar<Compute = T>>(
    engine: &E,
    inputs: &[Val<'_, T>],
    (m, n): (usize, usize),
) -> Result<Array2<T>> {
    let mut out = Array2::from_elem((m, n), T::default());
    for c0 in (0..n).step_by(DENSE_BLOCK) {
        let cw = DENSE_BLOCK.min(n - c0);
        let mut e = Array2::from_elem((n, cw), T::default());
        for k in 0..cw {
            e[[c0 + k, k]] = T::from_f64(1.0);
        }
        let r = engine.product(inputs, (m, n), e.view(), Cat::J, CpuPath::Auto)?;
        out.slice_mut(s![.., c0..c0 + cw]).assign(&r);
    }
    Ok(out)
}

impl<K: MatrixKernel> MatrixEngine for K {
    fn options(&self) -> Options {
        Kernel::options(self)
    }

    fn with_options(self, opts: Options) -> Self {
        Kernel::with_options(self, opts)
    }

    fn product<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        mn: (usize, usize),
        v: ArrayView2<'_, T>,
        over: Cat,
        path: CpuPath,
    ) -> Result<Array2<T>> {
        let fixed = Fixed {
            opts: Kernel::options(self),
            inputs,
            mn,
            over,
        };
        if over == Cat::I {
            fixed.run::<K::Vec1I, K::ChunkI, K::TileI>(v, K::CHUNK, path)
        } else {
            fixed.run::<K::Vec1J, K::ChunkJ, K::TileJ>(v, K::CHUNK, path)
        }
    }

    fn grad_inner<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        u: ArrayView2<'_, T>,
        v: ArrayView2<'_, T>,
    ) -> Result<Vec<Gradient<T>>> {
        let w = u.ncols();
        if w == 1 {
            return self.grad_chunk::<T>(inputs, u, v);
        }
        let c = K::CHUNK;
        let mut bu = Array2::from_elem((u.nrows(), c), T::default());
        let mut bv = Array2::from_elem((v.nrows(), c), T::default());
        let mut total: Option<Vec<Gradient<T>>> = None;
        for c0 in (0..w).step_by(c) {
            let cw = c.min(w - c0);
            bu.fill(T::default());
            bv.fill(T::default());
            bu.slice_mut(s![.., ..cw])
                .assign(&u.slice(s![.., c0..c0 + cw]));
            bv.slice_mut(s![.., ..cw])
                .assign(&v.slice(s![.., c0..c0 + cw]));
            let g = self.grad_chunk::<T>(inputs, bu.view(), bv.view())?;
            add_gradients(&mut total, g)?;
        }
        total.ok_or_else(|| Error::Internal("no gradient chunk".into()))
    }

    fn dense<T: Real + crate::scalar::Scalar<Compute = T>>(
        &self,
        inputs: &[Val<'_, T>],
        (m, n): (usize, usize),
    ) -> Result<Array2<T>> {
        let opts = Kernel::options(self);
        // The tiles of K of the CPU products, copied out (block-sparse
        // ranges and the GPU back ends: by products).
        if opts.backend != Backend::Cpu
            || opts.ranges.is_some()
            || !K::TileJ::INFO.dot_of.is_empty()
        {
            return dense_by_products(self, inputs, (m, n));
        }
        let args: Vec<&Val<'_, T>> = inputs.iter().collect();
        gemm::dense::<K::TileJ, T>(&opts, &args, m, n)
    }
}

/// Adds the gradients of one chunk to the running total.
pub(crate) fn add_gradients<T: Real>(
    total: &mut Option<Vec<Gradient<T>>>,
    g: Vec<Gradient<T>>,
) -> Result<()> {
    match total {
        None => *total = Some(g),
        Some(t) => {
            for (a, b) in t.iter_mut().zip(&g) {
                a.add(b)?;
            }
        }
    }
    Ok(())
}

/// A product of a `keops!` matrix by its fixed-width stages.
struct Fixed<'s, 'a, T: Real> {
    opts: Options,
    inputs: &'s [Val<'a, T>],
    mn: (usize, usize),
    over: Cat,
}

impl<T: Real + crate::scalar::Scalar<Compute = T>> Fixed<'_, '_, T> {
    fn run<S1: CpuStage, SC: CpuStage, ST: CpuStage>(
        &self,
        v: ArrayView2<'_, T>,
        chunk: usize,
        path: CpuPath,
    ) -> Result<Array2<T>> {
        let opts = self.opts;
        let w = v.ncols();
        let rows = if self.over == Cat::I {
            self.mn.1
        } else {
            self.mn.0
        };
        if w == 1 && path != CpuPath::Gemm {
            return self.fixed::<S1>(v, rows);
        }
        let gemm = match path {
            CpuPath::Auto => w > GEMM_FROM,
            CpuPath::Gemm => true,
            CpuPath::Fused => false,
        };
        // (Block-sparse ranges run on the fused stages, which skip blocks.)
        if gemm
            && opts.backend == Backend::Cpu
            && ST::INFO.dot_of.is_empty()
            && opts.ranges.is_none()
        {
            let args: Vec<&Val<'_, T>> = self.inputs.iter().collect();
            return gemm::tiled::<ST, T>(&opts, &args, rows, v.nrows(), v);
        }
        // Chunks of `chunk` columns, the last one zero-padded.
        let mut out = Array2::from_elem((rows, w), T::default());
        let mut buf = Array2::from_elem((v.nrows(), chunk), T::default());
        for c0 in (0..w).step_by(chunk) {
            let cw = chunk.min(w - c0);
            buf.fill(T::default());
            buf.slice_mut(s![.., ..cw])
                .assign(&v.slice(s![.., c0..c0 + cw]));
            let r = self.fixed::<SC>(buf.view(), rows)?;
            out.slice_mut(s![.., c0..c0 + cw])
                .assign(&r.slice(s![.., ..cw]));
        }
        Ok(out)
    }

    /// One run of a fixed-width stage `sum K * v` (v: the last input).
    fn fixed<S: CpuStage>(&self, v: ArrayView2<'_, T>, rows: usize) -> Result<Array2<T>> {
        let vv = Val::rows(v, "v", self.over, v.ncols())?;
        let re: Vec<Val<'_, T>> = self.inputs.iter().map(|a| a.reborrow()).collect();
        let mut args: Vec<&Val<'_, T>> = re.iter().collect();
        args.push(&vv);
        let counts = RowCounts {
            i: Some(self.mn.0),
            j: Some(self.mn.1),
        };
        let r = crate::run_stage::<S, T>(&self.opts, &args, &counts, false)?.into_rows()?;
        if r.nrows() != rows {
            return Err(Error::Internal("matrix product of a bad shape".into()));
        }
        Ok(r)
    }
}

/// Any rows already converted: lets generated code pass a bound input to a
/// kernel's typed `call`.
impl<'a, T, const D: usize> IntoRows<'a, T, D> for Rows<'a, T> {
    fn into_rows(self) -> Rows<'a, T> {
        self
    }
}

/// A bound `Vi`/`Vj` input as rows (generated code).
pub fn rows_arg<'b, T: Real>(v: &'b Val<'_, T>) -> Result<Rows<'b, T>> {
    match v {
        Val::Rows { data, .. } => Ok(Rows::Host(data.view())),
        Val::Device { data, .. } => Ok(Rows::Device(data)),
        _ => Err(Error::Internal(format!(
            "`{}` is not a row input",
            v.name()
        ))),
    }
}

/// A bound `Pm` input as a slice (generated code).
pub fn param_arg<'b, T: Real>(v: &'b Val<'_, T>) -> Result<&'b [T]> {
    match v {
        Val::Vector { data, .. } => Ok(data),
        _ => Err(Error::Internal(format!(
            "`{}` is not a parameter",
            v.name()
        ))),
    }
}

/// A right-hand side of [`BoundMatrix::matmul`]: a matrix (`&Array2<T>`,
/// `ArrayView2<T>`; the result is an `Array2<T>`) or a vector (`&Array1<T>`,
/// `ArrayView1<T>`; the result is an `Array1<T>`).
pub trait Operand<'b, T> {
    /// The result type of a product with this operand.
    type Output;
    /// The operand as a matrix (a vector is one column).
    fn view2(self) -> ArrayView2<'b, T>;
    /// The result, shaped like the operand.
    fn wrap(out: Array2<T>) -> Self::Output;
}

impl<'b, T> Operand<'b, T> for &'b Array2<T> {
    type Output = Array2<T>;
    fn view2(self) -> ArrayView2<'b, T> {
        self.view()
    }
    fn wrap(out: Array2<T>) -> Array2<T> {
        out
    }
}

impl<'b, T> Operand<'b, T> for ArrayView2<'b, T> {
    type Output = Array2<T>;
    fn view2(self) -> ArrayView2<'b, T> {
        self
    }
    fn wrap(out: Array2<T>) -> Array2<T> {
        out
    }
}

impl<'b, 'c: 'b, T> Operand<'b, T> for &'b ArrayView2<'c, T> {
    type Output = Array2<T>;
    fn view2(self) -> ArrayView2<'b, T> {
        self.view()
    }
    fn wrap(out: Array2<T>) -> Array2<T> {
        out
    }
}

impl<'b, T> Operand<'b, T> for &'b Array1<T> {
    type Output = Array1<T>;
    fn view2(self) -> ArrayView2<'b, T> {
        self.view().insert_axis(ndarray::Axis(1))
    }
    fn wrap(out: Array2<T>) -> Array1<T> {
        out.index_axis_move(ndarray::Axis(1), 0)
    }
}

impl<'b, T> Operand<'b, T> for ArrayView1<'b, T> {
    type Output = Array1<T>;
    fn view2(self) -> ArrayView2<'b, T> {
        self.insert_axis(ndarray::Axis(1))
    }
    fn wrap(out: Array2<T>) -> Array1<T> {
        out.index_axis_move(ndarray::Axis(1), 0)
    }
}

/// A symbolic matrix with its inputs bound (views of the caller's data):
/// an M × N linear operator, never stored. Made by the `bind` method of a
/// `keops!` matrix; `t()` gives the N × M transpose (sharing the inputs).
///
/// Options (back end, threads, sum scheme, SIMD level) are the kernel's at
/// `bind` time (`k.backend(...).bind(...)`), or set with
/// [`BoundMatrix::with_options`].
#[derive(Clone, Debug)]
pub struct BoundMatrix<'a, T: Real, K> {
    kernel: K,
    inputs: Arc<Vec<Val<'a, T>>>,
    m: usize,
    n: usize,
    transposed: bool,
}

impl<'a, T, K> BoundMatrix<'a, T, K>
where
    T: Real + crate::scalar::Scalar<Compute = T>,
    K: MatrixEngine,
{
    /// Binds checked inputs (generated code): `m` rows i, `n` rows j.
    #[doc(hidden)]
    pub fn new(kernel: K, inputs: Vec<Val<'a, T>>, m: usize, n: usize) -> Self {
        BoundMatrix {
            kernel,
            inputs: Arc::new(inputs),
            m,
            n,
            transposed: false,
        }
    }

    /// `(rows, columns)`: `(M, N)`, or `(N, M)` for a transpose.
    pub fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.n, self.m)
        } else {
            (self.m, self.n)
        }
    }

    /// The options used by the products.
    pub fn options(&self) -> Options {
        self.kernel.options()
    }

    /// The same matrix with other options.
    pub fn with_options(mut self, opts: Options) -> Self {
        self.kernel = self.kernel.with_options(opts);
        self
    }

    /// The transposed operator (K^T, the same formula reduced over i),
    /// sharing the bound inputs.
    pub fn t(&self) -> Self {
        BoundMatrix {
            transposed: !self.transposed,
            ..self.clone()
        }
    }

    /// `K @ v` for `v` of shape (columns, W), any W; a vector gives a vector.
    /// A wrong number of rows is [`Error::Shape`].
    pub fn matmul<'b, V: Operand<'b, T>>(&self, v: V) -> Result<V::Output> {
        self.apply_named(v.view2(), "v").map(V::wrap)
    }

    /// `K @ v` for a vector `v`.
    pub fn matvec<'b, V: Operand<'b, T>>(&self, v: V) -> Result<V::Output> {
        self.matmul(v)
    }

    /// `K^T @ u` (the transposed product).
    pub fn rmatvec<'b, V: Operand<'b, T>>(&self, u: V) -> Result<V::Output> {
        self.t().apply_named(u.view2(), "u").map(V::wrap)
    }

    fn apply_named(&self, v: ArrayView2<'_, T>, operand: &str) -> Result<Array2<T>> {
        let (rows, cols) = self.shape();
        if v.nrows() != cols {
            return Err(Error::Shape {
                operand: operand.into(),
                expected: format!("{cols} rows (the matrix is {rows} x {cols})"),
                found: format!("{} rows", v.nrows()),
            });
        }
        let w = v.ncols();
        if w == 0 || rows == 0 || cols == 0 {
            return Ok(Array2::from_elem((rows, w), T::default()));
        }
        self.kernel.product(
            &self.inputs,
            (self.m, self.n),
            v,
            self.over(),
            CpuPath::Auto,
        )
    }

    /// The index reduced by a product: j for K, i for its transpose.
    fn over(&self) -> Cat {
        if self.transposed {
            Cat::I
        } else {
            Cat::J
        }
    }

    /// `K @ v` by a chosen CPU path (benchmarks and tests; `matmul` picks
    /// [`CpuPath::Auto`]).
    #[doc(hidden)]
    pub fn matmul_path(&self, v: ArrayView2<'_, T>, path: CpuPath) -> Result<Array2<T>> {
        let (rows, cols) = self.shape();
        if v.nrows() != cols || v.ncols() == 0 || rows == 0 || cols == 0 {
            return self.apply_named(v, "v");
        }
        self.kernel
            .product(&self.inputs, (self.m, self.n), v, self.over(), path)
    }

    /// Gradients of `<u, A v>` (A this operator, `u` of shape (rows, W), `v`
    /// of shape (columns, W), any W) with respect to every input of the
    /// formula, in the order of `bind`'s arguments: [`Gradient::Rows`] for a
    /// `Vi`/`Vj` variable, [`Gradient::Param`] for a parameter. Needs the
    /// gradient kernels (emitted unless `grad_order = 0` or the formula is
    /// very large).
    ///
    /// `<u, K v> = sum_ij K_ij (u_i . v_j)`: this is the gradient of the sum
    /// reduction of `K_ij s_ij`, `s_ij = u_i . v_j`, run on column chunks
    /// of `u` and `v`.
    pub fn grad_inner<'b, 'c, U: Operand<'b, T>, V: Operand<'c, T>>(
        &self,
        u: U,
        v: V,
    ) -> Result<Vec<Gradient<T>>> {
        let (u, v) = (u.view2(), v.view2());
        let (rows, cols) = self.shape();
        if u.nrows() != rows {
            return Err(Error::Shape {
                operand: "u".into(),
                expected: format!("{rows} rows (the matrix is {rows} x {cols})"),
                found: format!("{} rows", u.nrows()),
            });
        }
        if v.nrows() != cols {
            return Err(Error::Shape {
                operand: "v".into(),
                expected: format!("{cols} rows (the matrix is {rows} x {cols})"),
                found: format!("{} rows", v.nrows()),
            });
        }
        if u.ncols() != v.ncols() {
            return Err(Error::Shape {
                operand: "v".into(),
                expected: format!("{} columns (as `u`)", u.ncols()),
                found: format!("{} columns", v.ncols()),
            });
        }
        // <u, K^T v> = <v, K u>.
        let (u, v) = if self.transposed { (v, u) } else { (u, v) };
        if u.ncols() == 0 {
            let zu = Array2::from_elem((self.m, 1), T::default());
            let zv = Array2::from_elem((self.n, 1), T::default());
            return self
                .kernel
                .grad_inner::<T>(&self.inputs, zu.view(), zv.view());
        }
        self.kernel.grad_inner::<T>(&self.inputs, u, v)
    }

    /// The matrix itself, `(rows, columns)` as [`BoundMatrix::shape`]
    /// (KeOps users' `.dense()`): every entry of K computed and stored.
    /// Past [`MAX_DENSE`] entries, [`Error::TooLarge`]. On the CPU without
    /// ranges, a `keops!` matrix's tiles of K are copied out (one
    /// evaluation per entry); otherwise (GPU back ends, ranges, run-time
    /// formulas) K is `K I`, products with blocks of 256 columns of the
    /// identity, which costs about N / 256 products. Entries outside the
    /// kept blocks of ranges are 0.
    pub fn to_dense(&self) -> Result<Array2<T>> {
        let (rows, cols) = self.shape();
        if rows.checked_mul(cols).is_none_or(|e| e > MAX_DENSE) {
            return Err(Error::TooLarge(format!(
                "a dense {rows} x {cols} matrix: more than MAX_DENSE = {MAX_DENSE} entries; use `matmul` (the matrix is never stored)"
            )));
        }
        let k = self.kernel.dense(&self.inputs, (self.m, self.n))?;
        Ok(if self.transposed {
            k.reversed_axes().as_standard_layout().into_owned()
        } else {
            k
        })
    }

    /// Solves `(alpha I + K) a = b` by conjugate gradient (as KeOps'
    /// `KernelSolve`), for one right-hand side (a vector `b`) or several (the
    /// columns of a matrix `b`), with the default [`SolveOptions`].
    ///
    /// K is assumed symmetric positive (semi-)definite (x and y the same
    /// points and a positive kernel, e.g. Gaussian or Laplace, with
    /// `alpha > 0`); this is not checked, as in KeOps. Stopping before the
    /// tolerance is [`Error::NotConverged`], carrying the iterate reached.
    pub fn solve<'b, B: Operand<'b, T>>(&self, b: B, alpha: f64) -> Result<Solved<B::Output>> {
        self.solve_with(b, alpha, &SolveOptions::default())
    }

    /// [`BoundMatrix::solve`] with options (tolerance, iteration cap, warm
    /// start).
    pub fn solve_with<'b, B: Operand<'b, T>>(
        &self,
        b: B,
        alpha: f64,
        opts: &SolveOptions<'_, T>,
    ) -> Result<Solved<B::Output>> {
        let op = Shifted::new(alpha, self);
        let r = cg(&op, b.view2(), opts)?;
        Ok(Solved {
            solution: B::wrap(r.solution),
            iterations: r.iterations,
            residual: r.residual,
            residuals: r.residuals,
        })
    }
}
