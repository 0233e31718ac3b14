//! Kernel inputs and intermediate values.
//!
//! `call` accepts, for `Vi<D>`/`Vj<D>` variables, anything implementing
//! [`IntoRows`] (`&Array2<T>`, `ArrayView2<T>`, `&[[T; D]]`, and for `D = 1`
//! also `&Array1<T>` and `ArrayView1<T>`) and, for
//! `Pm<D>`, anything implementing [`IntoParam`] (`&[T]`, `&[T; D]`,
//! `&Array1<T>`, ...). Arrays are borrowed, never copied unless a
//! non-contiguous parameter view forces it. `Vi`/`Vj` inputs may also be
//! device-resident ([`&DeviceRows<T>`](crate::device::DeviceRows)) for the
//! GPU back ends.

use std::borrow::Cow;
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, CowArray, Ix2};

use crate::device::{Backend, DeviceElem, DeviceRows};
use crate::error::{Error, Result};
use crate::simd::Real;
use crate::stage::Cat;

/// A `Vi`/`Vj` argument: host rows or a device-resident matrix.
#[derive(Debug)]
pub enum Rows<'a, T> {
    /// Rows in host memory.
    Host(ArrayView2<'a, T>),
    /// A matrix in GPU memory.
    Device(&'a DeviceRows<T>),
}

/// Conversion of a `Vi<D>`/`Vj<D>` argument into a matrix view (one row per
/// point). For fixed-size row arrays `&[[T; D]]`, a wrong `D` is a compile error;
/// for ndarray inputs the number of columns is checked at run time.
pub trait IntoRows<'a, T, const D: usize> {
    /// The rows.
    fn into_rows(self) -> Rows<'a, T>;
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a DeviceRows<T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Device(self)
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a Array2<T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.view())
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for ArrayView2<'a, T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self)
    }
}

impl<'a, 'b: 'a, T, const D: usize> IntoRows<'a, T, D> for &'a ArrayView2<'b, T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.view())
    }
}

/// Rows that are a view or an owned copy (e.g. [`crate::batch::Batch::rows`]).
impl<'a, 'b: 'a, T, const D: usize> IntoRows<'a, T, D> for &'a CowArray<'b, T, Ix2> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.view())
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a [[T; D]] {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(
            ArrayView2::from_shape((self.len(), D), self.as_flattened()).expect("contiguous rows"),
        )
    }
}

impl<'a, T, const D: usize, const N: usize> IntoRows<'a, T, D> for &'a [[T; D]; N] {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(ArrayView2::from_shape((N, D), self.as_flattened()).expect("contiguous rows"))
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a Vec<[T; D]> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(
            ArrayView2::from_shape((self.len(), D), self.as_flattened()).expect("contiguous rows"),
        )
    }
}

/// A one-column variable (`Vi<1>`/`Vj<1>`) also takes a vector: one entry
/// per row.
impl<'a, T> IntoRows<'a, T, 1> for &'a Array1<T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.view().insert_axis(ndarray::Axis(1)))
    }
}

impl<'a, T> IntoRows<'a, T, 1> for ArrayView1<'a, T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.insert_axis(ndarray::Axis(1)))
    }
}

impl<'a, 'b: 'a, T> IntoRows<'a, T, 1> for &'a ArrayView1<'b, T> {
    fn into_rows(self) -> Rows<'a, T> {
        Rows::Host(self.view().insert_axis(ndarray::Axis(1)))
    }
}

/// Conversion of a `Vi<_>`/`Vj<_>` argument (a width read from the data)
/// into a matrix view: the types [`IntoRows`] takes, at any width.
pub trait IntoRowsDyn<'a, T> {
    /// The rows.
    fn into_rows_dyn(self) -> Rows<'a, T>;
}

macro_rules! rows_dyn {
    ($([$($g:tt)*] $ty:ty => $d:expr;)*) => {$(
        impl<'a, $($g)*> IntoRowsDyn<'a, T> for $ty {
            fn into_rows_dyn(self) -> Rows<'a, T> {
                <Self as IntoRows<'a, T, { $d }>>::into_rows(self)
            }
        }
    )*};
}

rows_dyn! {
    [T] &'a DeviceRows<T> => 0;
    [T] &'a Array2<T> => 0;
    [T] ArrayView2<'a, T> => 0;
    ['b: 'a, T] &'a ArrayView2<'b, T> => 0;
    ['b: 'a, T] &'a CowArray<'b, T, Ix2> => 0;
    [T, const D: usize] &'a [[T; D]] => D;
    [T, const D: usize, const N: usize] &'a [[T; D]; N] => D;
    [T, const D: usize] &'a Vec<[T; D]> => D;
    [T] &'a Array1<T> => 1;
    [T] ArrayView1<'a, T> => 1;
    ['b: 'a, T] &'a ArrayView1<'b, T> => 1;
}

/// The values of a `Pm` argument: one vector shared by every problem, or
/// one per problem of a batch, concatenated ([`crate::batch::Batch::params`]).
#[derive(Clone, Debug)]
pub struct ParamData<'a, T: Clone> {
    pub(crate) data: Cow<'a, [T]>,
    pub(crate) per_problem: bool,
}

impl<'a, T: Clone> ParamData<'a, T> {
    /// One vector of the declared length, shared by every problem.
    pub fn shared(data: Cow<'a, [T]>) -> Self {
        ParamData {
            data,
            per_problem: false,
        }
    }

    /// One vector per problem of a batch, concatenated (B times the
    /// declared length); the kernel needs the batch's ranges.
    pub fn per_problem(data: Cow<'a, [T]>) -> Self {
        ParamData {
            data,
            per_problem: true,
        }
    }

    /// Checks the length against the declared dimension `dim` of
    /// parameter `name`: `dim` values, or (a value per problem of a batch)
    /// any positive multiple, which the batch's ranges check later.
    pub(crate) fn check(&self, name: &str, dim: usize) -> Result<()> {
        let len = self.data.len();
        let ok = if self.per_problem {
            dim > 0 && len > 0 && len.is_multiple_of(dim)
        } else {
            len == dim
        };
        if ok {
            Ok(())
        } else {
            Err(Error::ParamLength {
                var: name.into(),
                expected: dim,
                found: len,
            })
        }
    }

    /// The values.
    pub fn values(&self) -> &[T] {
        &self.data
    }
}

/// Conversion of a `Pm<D>` argument into a slice. For `&[T; D]` a wrong `D`
/// is a compile error; other inputs are checked at run time.
pub trait IntoParam<'a, T: Clone, const D: usize> {
    /// The values.
    fn into_param(self) -> ParamData<'a, T>;
}

impl<'a, 'b: 'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a ParamData<'b, T> {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData {
            data: Cow::Borrowed(&self.data),
            per_problem: self.per_problem,
        }
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a [T] {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData::shared(Cow::Borrowed(self))
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a [T; D] {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData::shared(Cow::Borrowed(self))
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a Vec<T> {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData::shared(Cow::Borrowed(self))
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a Array1<T> {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData::shared(self.view().into_param_cow())
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for ArrayView1<'a, T> {
    fn into_param(self) -> ParamData<'a, T> {
        ParamData::shared(self.into_param_cow())
    }
}

trait ViewToCow<'a, T: Clone> {
    fn into_param_cow(self) -> Cow<'a, [T]>;
}

impl<'a, T: Clone> ViewToCow<'a, T> for ArrayView1<'a, T> {
    fn into_param_cow(self) -> Cow<'a, [T]> {
        match self.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.to_vec()),
        }
    }
}

/// Conversion of an index input (integer positions, e.g. from an `argkmin`
/// kernel) into a matrix view.
pub trait IntoIndexRows<'a, const D: usize> {
    /// The view.
    fn into_index_rows(self) -> ArrayView2<'a, usize>;
}

impl<'a, const D: usize> IntoIndexRows<'a, D> for &'a Array2<usize> {
    fn into_index_rows(self) -> ArrayView2<'a, usize> {
        self.view()
    }
}

impl<'a, const D: usize> IntoIndexRows<'a, D> for ArrayView2<'a, usize> {
    fn into_index_rows(self) -> ArrayView2<'a, usize> {
        self
    }
}

/// A value of a kernel program: an input (borrowed) or an intermediate
/// result (owned).
#[derive(Clone, Debug)]
pub enum Val<'a, T: Real> {
    /// Real rows.
    Rows {
        /// Name (for messages).
        name: &'static str,
        /// Data.
        data: CowArray<'a, T, Ix2>,
    },
    /// Index rows.
    Index {
        /// Name (for messages).
        name: &'static str,
        /// Data.
        data: CowArray<'a, usize, Ix2>,
    },
    /// Values and indices.
    Pair(Array2<T>, Array2<usize>),
    /// A parameter vector.
    Vector {
        /// Name (for messages).
        name: &'static str,
        /// Data.
        data: Cow<'a, [T]>,
    },
    /// Real rows in GPU memory: a device-resident input, or a stage result
    /// kept on the device.
    Device {
        /// Name (for messages).
        name: &'static str,
        /// Data.
        data: DevCow<'a, T>,
    },
    /// Indices in GPU memory (a stage result kept on the device).
    DeviceIndex(Arc<DeviceRows<u64>>),
    /// Values and indices in GPU memory (a stage result kept on the device).
    DevicePair(Arc<DeviceRows<T>>, Arc<DeviceRows<u64>>),
}

/// A borrowed or shared device matrix.
#[derive(Debug)]
pub enum DevCow<'a, T> {
    /// The caller's matrix.
    Borrowed(&'a DeviceRows<T>),
    /// A result.
    Owned(Arc<DeviceRows<T>>),
}

impl<T> Clone for DevCow<'_, T> {
    fn clone(&self) -> Self {
        match self {
            DevCow::Borrowed(r) => DevCow::Borrowed(r),
            DevCow::Owned(a) => DevCow::Owned(a.clone()),
        }
    }
}

impl<T> std::ops::Deref for DevCow<'_, T> {
    type Target = DeviceRows<T>;
    fn deref(&self) -> &DeviceRows<T> {
        match self {
            DevCow::Borrowed(r) => r,
            DevCow::Owned(a) => a,
        }
    }
}

/// Takes a shared device result by value.
fn unshare<E: DeviceElem>(a: Arc<DeviceRows<E>>) -> Result<DeviceRows<E>> {
    match Arc::try_unwrap(a) {
        Ok(r) => Ok(r),
        Err(a) => a.try_clone(),
    }
}

fn host_index(a: Array2<u64>) -> Array2<usize> {
    a.mapv(|x| usize::try_from(x).unwrap_or(usize::MAX))
}

fn device_index(a: &Array2<usize>) -> Array2<u64> {
    a.mapv(|x| if x == usize::MAX { u64::MAX } else { x as u64 })
}

impl<'a, T: Real> Val<'a, T> {
    /// A `Vi`/`Vj` input, checked against its declared dimension.
    pub fn rows(
        view: ArrayView2<'a, T>,
        name: &'static str,
        _cat: Cat,
        dim: usize,
    ) -> Result<Self> {
        if view.ncols() != dim {
            return Err(Error::Columns {
                var: name.into(),
                expected: dim,
                found: view.ncols(),
            });
        }
        Ok(Val::Rows {
            name,
            data: CowArray::from(view),
        })
    }

    /// A `Vi`/`Vj` input of storage type `S`, widened to the compute type.
    pub fn from_rows<S: crate::scalar::Scalar<Compute = T>>(
        rows: Rows<'a, S>,
        name: &'static str,
        _cat: Cat,
        dim: usize,
    ) -> Result<Self> {
        let cols = match &rows {
            Rows::Host(v) => v.ncols(),
            Rows::Device(d) => d.ncols(),
        };
        if cols != dim {
            return Err(Error::Columns {
                var: name.into(),
                expected: dim,
                found: cols,
            });
        }
        Ok(match rows {
            Rows::Host(view) => Val::Rows {
                name,
                data: S::widen_rows(view),
            },
            Rows::Device(d) => Val::Device {
                name,
                data: DevCow::Borrowed(S::device_rows(d).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "`{name}`: device-resident inputs must be f32 or f64"
                    ))
                })?),
            },
        })
    }

    /// A `Pm` input of storage type `S`, widened to the compute type. A
    /// per-problem parameter (a batch's) may hold any positive multiple of
    /// `dim` values: [`crate::run_stage`] checks it against the batch.
    pub fn from_param<S: crate::scalar::Scalar<Compute = T>>(
        data: ParamData<'a, S>,
        name: &'static str,
        dim: usize,
    ) -> Result<Self> {
        data.check(name, dim)?;
        Ok(Val::Vector {
            name,
            data: S::widen_param(data.data),
        })
    }

    /// The final result as a real matrix of storage type `S`.
    pub fn into_rows_as<S: crate::scalar::Scalar<Compute = T>>(self) -> Result<Array2<S>> {
        self.into_rows().map(S::narrow_rows)
    }

    /// The final result as values (storage type `S`) and indices.
    pub fn into_pair_as<S: crate::scalar::Scalar<Compute = T>>(
        self,
    ) -> Result<(Array2<S>, Array2<usize>)> {
        self.into_pair().map(|(a, b)| (S::narrow_rows(a), b))
    }

    /// The final result as a vector of storage type `S`.
    pub fn into_vector_as<S: crate::scalar::Scalar<Compute = T>>(self) -> Result<Array1<S>> {
        self.into_vector().map(S::narrow_vector)
    }

    /// An index input, checked against its declared dimension.
    pub fn index_rows(
        view: ArrayView2<'a, usize>,
        name: &'static str,
        _cat: Cat,
        dim: usize,
    ) -> Result<Self> {
        if view.ncols() != dim {
            return Err(Error::Columns {
                var: name.into(),
                expected: dim,
                found: view.ncols(),
            });
        }
        Ok(Val::Index {
            name,
            data: CowArray::from(view),
        })
    }

    /// A `Pm` input, checked against its declared length.
    pub fn param(data: Cow<'a, [T]>, name: &'static str, dim: usize) -> Result<Self> {
        if data.len() != dim {
            return Err(Error::ParamLength {
                var: name.into(),
                expected: dim,
                found: data.len(),
            });
        }
        Ok(Val::Vector { name, data })
    }

    /// Rows of a real or index value.
    pub fn nrows(&self) -> Option<usize> {
        match self {
            Val::Rows { data, .. } => Some(data.nrows()),
            Val::Index { data, .. } => Some(data.nrows()),
            Val::Pair(a, _) => Some(a.nrows()),
            Val::Vector { .. } => None,
            Val::Device { data, .. } => Some(data.nrows()),
            Val::DeviceIndex(i) => Some(i.nrows()),
            Val::DevicePair(a, _) => Some(a.nrows()),
        }
    }

    /// A stage's result in host memory: values, indices, or both (a pair).
    pub fn from_outputs(
        name: &'static str,
        vals: Option<Array2<T>>,
        idxs: Option<Array2<usize>>,
    ) -> Result<Val<'static, T>> {
        Ok(match (vals, idxs) {
            (Some(v), None) => Val::Rows {
                name,
                data: v.into(),
            },
            (None, Some(i)) => Val::Index {
                name,
                data: i.into(),
            },
            (Some(v), Some(i)) => Val::Pair(v, i),
            (None, None) => return Err(Error::Internal("stage without output".into())),
        })
    }

    /// The device matrix of a device-resident real value.
    pub fn device_rows(&self) -> Option<&DeviceRows<T>> {
        match self {
            Val::Device { data, .. } => Some(data),
            _ => None,
        }
    }

    /// This value in host memory (device-resident values are copied).
    pub fn host(&self) -> Result<Cow<'_, Val<'a, T>>> {
        Ok(match self {
            Val::Device { name, data } => Cow::Owned(Val::Rows {
                name,
                data: data.to_host()?.into(),
            }),
            Val::DeviceIndex(i) => Cow::Owned(Val::Index {
                name: "(intermediate)",
                data: host_index(i.to_host()?).into(),
            }),
            Val::DevicePair(a, b) => Cow::Owned(Val::Pair(a.to_host()?, host_index(b.to_host()?))),
            v => Cow::Borrowed(v),
        })
    }

    /// Name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Val::Rows { name, .. }
            | Val::Index { name, .. }
            | Val::Vector { name, .. }
            | Val::Device { name, .. } => name,
            Val::Pair(..) | Val::DeviceIndex(_) | Val::DevicePair(..) => "(intermediate)",
        }
    }

    /// A borrowed view of this value, with the lifetime of the borrow (the
    /// stage arguments of one step all get the same lifetime this way).
    pub fn reborrow(&self) -> Val<'_, T> {
        match self {
            Val::Rows { name, data } => Val::Rows {
                name,
                data: CowArray::from(data.view()),
            },
            Val::Index { name, data } => Val::Index {
                name,
                data: CowArray::from(data.view()),
            },
            Val::Pair(a, b) => Val::Pair(a.clone(), b.clone()),
            Val::Vector { name, data } => Val::Vector {
                name,
                data: Cow::Borrowed(&data[..]),
            },
            Val::Device { name, data } => Val::Device {
                name,
                data: DevCow::Borrowed(data),
            },
            Val::DeviceIndex(i) => Val::DeviceIndex(i.clone()),
            Val::DevicePair(a, b) => Val::DevicePair(a.clone(), b.clone()),
        }
    }

    /// Part `p` of a pair (0: values, 1: indices), borrowed.
    pub fn part(&self, p: usize) -> Result<Val<'_, T>> {
        match (self, p) {
            (Val::Pair(a, _), 0) => Ok(Val::Rows {
                name: "(intermediate)",
                data: CowArray::from(a.view()),
            }),
            (Val::Pair(_, b), 1) => Ok(Val::Index {
                name: "(intermediate)",
                data: CowArray::from(b.view()),
            }),
            (Val::DevicePair(a, _), 0) => Ok(Val::Device {
                name: "(intermediate)",
                data: DevCow::Owned(a.clone()),
            }),
            (Val::DevicePair(_, b), 1) => Ok(Val::DeviceIndex(b.clone())),
            _ => Err(Error::Internal("part of a non-pair value".into())),
        }
    }

    /// Sum of the rows of the gradient with respect to the parameter
    /// `like`: the sum of all rows for a shared parameter, and for one with
    /// a value per problem of a batch (B times as long as the rows are
    /// wide), the sums of each problem's rows (B consecutive groups),
    /// concatenated.
    pub fn sum_rows_like(&self, like: &Val<'_, T>) -> Result<Val<'static, T>> {
        let host = self.host()?;
        let Val::Rows { data, .. } = &*host else {
            return Err(Error::Internal("sum of rows of a non-real value".into()));
        };
        let (rows, w) = data.dim();
        let len = match like {
            Val::Vector { data, .. } => data.len(),
            _ => w,
        };
        if w == 0 || len == w {
            return self.sum_rows();
        }
        let b = len / w;
        if len % w != 0 || !rows.is_multiple_of(b) {
            return Err(Error::Internal(format!(
                "per-problem sum of {rows} rows of width {w} for a parameter of length {len}"
            )));
        }
        let per = rows / b;
        let mut out = vec![0.0f64; len];
        for (r, row) in data.rows().into_iter().enumerate() {
            let p = r / per;
            for (o, &v) in out[p * w..(p + 1) * w].iter_mut().zip(row.iter()) {
                *o += v.to_f64();
            }
        }
        Ok(Val::Vector {
            name: "(intermediate)",
            data: Cow::Owned(out.into_iter().map(T::from_f64).collect()),
        })
    }

    /// Sum of the rows (a vector).
    pub fn sum_rows(&self) -> Result<Val<'static, T>> {
        let host = self.host()?;
        let Val::Rows { data, .. } = &*host else {
            return Err(Error::Internal("sum of rows of a non-real value".into()));
        };
        let mut out = vec![0.0f64; data.ncols()];
        for row in data.rows() {
            for (o, &v) in out.iter_mut().zip(row.iter()) {
                *o += v.to_f64();
            }
        }
        Ok(Val::Vector {
            name: "(intermediate)",
            data: Cow::Owned(out.into_iter().map(T::from_f64).collect()),
        })
    }

    /// Element-wise sum.
    pub fn add(a: &Val<'_, T>, b: &Val<'_, T>) -> Result<Val<'static, T>> {
        match (&*a.host()?, &*b.host()?) {
            (Val::Rows { data: x, .. }, Val::Rows { data: y, .. }) if x.dim() == y.dim() => {
                Ok(Val::Rows {
                    name: "(intermediate)",
                    data: CowArray::from(&x.view() + &y.view()),
                })
            }
            (Val::Vector { data: x, .. }, Val::Vector { data: y, .. }) if x.len() == y.len() => {
                Ok(Val::Vector {
                    name: "(intermediate)",
                    data: Cow::Owned(x.iter().zip(y.iter()).map(|(&p, &q)| p + q).collect()),
                })
            }
            _ => Err(Error::Internal("adding values of different shapes".into())),
        }
    }

    /// Zeros shaped like a variable of category `cat` and dimension `dim`.
    pub fn zeros(cat: Cat, dim: usize, rows: &RowCounts) -> Val<'static, T> {
        match cat {
            Cat::P => Val::Vector {
                name: "(zeros)",
                data: Cow::Owned(vec![T::default(); dim]),
            },
            c => Val::Rows {
                name: "(zeros)",
                data: CowArray::from(Array2::from_elem(
                    (rows.get(c).unwrap_or(0), dim),
                    T::default(),
                )),
            },
        }
    }

    /// An owned copy (a borrowed device matrix is copied on its device),
    /// of any lifetime (`'static`, or a bound matrix's: `Val` is invariant
    /// in its lifetime, so an owned value is made directly with the one it
    /// needs).
    pub fn into_static<'b>(self) -> Result<Val<'b, T>> {
        Ok(match self {
            Val::Rows { name, data } => Val::Rows {
                name,
                data: CowArray::from(data.into_owned()),
            },
            Val::Index { name, data } => Val::Index {
                name,
                data: CowArray::from(data.into_owned()),
            },
            Val::Pair(a, b) => Val::Pair(a, b),
            Val::Vector { name, data } => Val::Vector {
                name,
                data: Cow::Owned(data.into_owned()),
            },
            Val::Device { name, data } => Val::Device {
                name,
                data: match data {
                    DevCow::Borrowed(r) => DevCow::Owned(Arc::new(r.try_clone()?)),
                    DevCow::Owned(a) => DevCow::Owned(a),
                },
            },
            Val::DeviceIndex(i) => Val::DeviceIndex(i),
            Val::DevicePair(a, b) => Val::DevicePair(a, b),
        })
    }

    /// The final result as a real matrix in host memory.
    pub fn into_rows(self) -> Result<Array2<T>> {
        match self {
            Val::Rows { data, .. } => Ok(data.into_owned()),
            Val::Device { data, .. } => data.to_host(),
            _ => Err(Error::Internal("expected a real matrix".into())),
        }
    }

    /// The final result as an index matrix in host memory.
    pub fn into_index_rows(self) -> Result<Array2<usize>> {
        match self {
            Val::Index { data, .. } => Ok(data.into_owned()),
            Val::DeviceIndex(i) => Ok(host_index(i.to_host()?)),
            _ => Err(Error::Internal("expected an index matrix".into())),
        }
    }

    /// The final result as values and indices in host memory.
    pub fn into_pair(self) -> Result<(Array2<T>, Array2<usize>)> {
        match self {
            Val::Pair(a, b) => Ok((a, b)),
            Val::DevicePair(a, b) => Ok((a.to_host()?, host_index(b.to_host()?))),
            _ => Err(Error::Internal("expected a pair".into())),
        }
    }

    /// The final result as a vector in host memory.
    pub fn into_vector(self) -> Result<Array1<T>> {
        match self {
            Val::Vector { data, .. } => Ok(Array1::from(data.into_owned())),
            _ => Err(Error::Internal("expected a vector".into())),
        }
    }

    /// The final result as a device matrix on `backend` (host results are
    /// uploaded).
    pub fn into_device_rows(self, backend: Backend) -> Result<DeviceRows<T>> {
        match self {
            Val::Device { data, .. } => match data {
                DevCow::Borrowed(r) => r.try_clone(),
                DevCow::Owned(a) => unshare(a),
            },
            Val::Rows { data, .. } => DeviceRows::from_host(backend, data.view()),
            _ => Err(Error::Internal("expected a real matrix".into())),
        }
    }

    /// The final result as a device index matrix on `backend` (`u64::MAX`
    /// where no index exists).
    pub fn into_device_index(self, backend: Backend) -> Result<DeviceRows<u64>> {
        match self {
            Val::DeviceIndex(i) => unshare(i),
            Val::Index { data, .. } => {
                DeviceRows::from_host(backend, device_index(&data.to_owned()).view())
            }
            _ => Err(Error::Internal("expected an index matrix".into())),
        }
    }

    /// The final result as device values and indices on `backend`.
    pub fn into_device_pair(self, backend: Backend) -> Result<(DeviceRows<T>, DeviceRows<u64>)> {
        match self {
            Val::DevicePair(a, b) => Ok((unshare(a)?, unshare(b)?)),
            Val::Pair(a, b) => Ok((
                DeviceRows::from_host(backend, a.view())?,
                DeviceRows::from_host(backend, device_index(&b).view())?,
            )),
            _ => Err(Error::Internal("expected a pair".into())),
        }
    }

    /// The final result (a parameter-shaped vector) as a one-row device
    /// matrix on `backend`.
    pub fn into_device_vector(self, backend: Backend) -> Result<DeviceRows<T>> {
        let v = self.into_vector()?;
        let n = v.len();
        let a = v
            .into_shape_with_order((1, n))
            .map_err(|e| Error::Internal(e.to_string()))?;
        DeviceRows::from_host(backend, a.view())
    }
}

/// The number of rows of each index (M for i, N for j), checked consistent
/// across the inputs of a call.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowCounts {
    /// Rows of the `Vi` inputs.
    pub i: Option<usize>,
    /// Rows of the `Vj` inputs.
    pub j: Option<usize>,
}

impl RowCounts {
    /// Collects and checks the row counts of a call's inputs.
    pub fn of<T: Real>(inputs: &[(Cat, &Val<'_, T>)]) -> Result<RowCounts> {
        let mut rc = RowCounts::default();
        let mut first: [Option<&'static str>; 2] = [None, None];
        for &(cat, v) in inputs {
            let k = match cat {
                Cat::I => 0,
                Cat::J => 1,
                Cat::P => continue,
            };
            let Some(n) = v.nrows() else { continue };
            let slot = if k == 0 { &mut rc.i } else { &mut rc.j };
            match *slot {
                None => {
                    *slot = Some(n);
                    first[k] = Some(v.name());
                }
                Some(m) if m != n => {
                    return Err(Error::Rows {
                        var: v.name().into(),
                        found: n,
                        other: first[k].unwrap_or("?").into(),
                        expected: m,
                        cat: cat.spelling(),
                    })
                }
                _ => {}
            }
        }
        Ok(rc)
    }

    /// Rows of a category.
    pub fn get(&self, cat: Cat) -> Option<usize> {
        match cat {
            Cat::I => self.i,
            Cat::J => self.j,
            Cat::P => None,
        }
    }
}
