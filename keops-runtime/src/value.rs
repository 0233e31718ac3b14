//! Kernel inputs and intermediate values.
//!
//! `call` accepts, for `Vi<D>`/`Vj<D>` variables, anything implementing
//! [`IntoRows`] (`&Array2<T>`, `ArrayView2<T>`, `&[[T; D]]`, ...) and, for
//! `Pm<D>`, anything implementing [`IntoParam`] (`&[T]`, `&[T; D]`,
//! `&Array1<T>`, ...). Arrays are borrowed, never copied unless a
//! non-contiguous parameter view forces it.

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, CowArray, Ix2};

use crate::error::{Error, Result};
use crate::simd::Real;
use crate::stage::Cat;

/// Conversion of a `Vi<D>`/`Vj<D>` argument into a matrix view (one row per
/// point). For fixed-size row arrays `&[[T; D]]`, a wrong `D` is a compile error;
/// for ndarray inputs the number of columns is checked at run time.
pub trait IntoRows<'a, T, const D: usize> {
    /// The view.
    fn into_rows(self) -> ArrayView2<'a, T>;
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a Array2<T> {
    fn into_rows(self) -> ArrayView2<'a, T> {
        self.view()
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for ArrayView2<'a, T> {
    fn into_rows(self) -> ArrayView2<'a, T> {
        self
    }
}

impl<'a, 'b: 'a, T, const D: usize> IntoRows<'a, T, D> for &'a ArrayView2<'b, T> {
    fn into_rows(self) -> ArrayView2<'a, T> {
        self.view()
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a [[T; D]] {
    fn into_rows(self) -> ArrayView2<'a, T> {
        ArrayView2::from_shape((self.len(), D), self.as_flattened()).expect("contiguous rows")
    }
}

impl<'a, T, const D: usize, const N: usize> IntoRows<'a, T, D> for &'a [[T; D]; N] {
    fn into_rows(self) -> ArrayView2<'a, T> {
        ArrayView2::from_shape((N, D), self.as_flattened()).expect("contiguous rows")
    }
}

impl<'a, T, const D: usize> IntoRows<'a, T, D> for &'a Vec<[T; D]> {
    fn into_rows(self) -> ArrayView2<'a, T> {
        ArrayView2::from_shape((self.len(), D), self.as_flattened()).expect("contiguous rows")
    }
}

/// Conversion of a `Pm<D>` argument into a slice. For `&[T; D]` a wrong `D`
/// is a compile error; other inputs are checked at run time.
pub trait IntoParam<'a, T: Clone, const D: usize> {
    /// The values.
    fn into_param(self) -> Cow<'a, [T]>;
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a [T] {
    fn into_param(self) -> Cow<'a, [T]> {
        Cow::Borrowed(self)
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a [T; D] {
    fn into_param(self) -> Cow<'a, [T]> {
        Cow::Borrowed(self)
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a Vec<T> {
    fn into_param(self) -> Cow<'a, [T]> {
        Cow::Borrowed(self)
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for &'a Array1<T> {
    fn into_param(self) -> Cow<'a, [T]> {
        self.view().into_param_cow()
    }
}

impl<'a, T: Clone, const D: usize> IntoParam<'a, T, D> for ArrayView1<'a, T> {
    fn into_param(self) -> Cow<'a, [T]> {
        self.into_param_cow()
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
        view: ArrayView2<'a, S>,
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
            data: S::widen_rows(view),
        })
    }

    /// A `Pm` input of storage type `S`, widened to the compute type.
    pub fn from_param<S: crate::scalar::Scalar<Compute = T>>(
        data: Cow<'a, [S]>,
        name: &'static str,
        dim: usize,
    ) -> Result<Self> {
        if data.len() != dim {
            return Err(Error::ParamLength {
                var: name.into(),
                expected: dim,
                found: data.len(),
            });
        }
        Ok(Val::Vector {
            name,
            data: S::widen_param(data),
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
        }
    }

    /// Name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Val::Rows { name, .. } | Val::Index { name, .. } | Val::Vector { name, .. } => name,
            Val::Pair(..) => "(intermediate)",
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
            _ => Err(Error::Internal("part of a non-pair value".into())),
        }
    }

    /// Sum of the rows (a vector).
    pub fn sum_rows(&self) -> Result<Val<'static, T>> {
        let Val::Rows { data, .. } = self else {
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
        match (a, b) {
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

    /// An owned copy.
    pub fn into_owned(self) -> Val<'static, T> {
        match self {
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
        }
    }

    /// The final result as a real matrix.
    pub fn into_rows(self) -> Result<Array2<T>> {
        match self {
            Val::Rows { data, .. } => Ok(data.into_owned()),
            _ => Err(Error::Internal("expected a real matrix".into())),
        }
    }

    /// The final result as an index matrix.
    pub fn into_index_rows(self) -> Result<Array2<usize>> {
        match self {
            Val::Index { data, .. } => Ok(data.into_owned()),
            _ => Err(Error::Internal("expected an index matrix".into())),
        }
    }

    /// The final result as values and indices.
    pub fn into_pair(self) -> Result<(Array2<T>, Array2<usize>)> {
        match self {
            Val::Pair(a, b) => Ok((a, b)),
            _ => Err(Error::Internal("expected a pair".into())),
        }
    }

    /// The final result as a vector.
    pub fn into_vector(self) -> Result<Array1<T>> {
        match self {
            Val::Vector { data, .. } => Ok(Array1::from(data.into_owned())),
            _ => Err(Error::Internal("expected a vector".into())),
        }
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
