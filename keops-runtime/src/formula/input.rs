//! The inputs of a [`super::Formula`]: ndarray rows, vectors, index rows.

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};
use crate::simd::Real;
use crate::stage::{Cat, VarKind};
use crate::value::{ParamData, Val};

/// An input of [`super::Formula::call`]: real rows (`Array2<T>`,
/// `ArrayView2<T>`: one row per point) for `Vi`/`Vj` variables, a vector
/// (`Vec<T>`, `[T; N]`, `[T]`, `Array1<T>`, `ArrayView1<T>`, a batch's
/// [`ParamData`]) for `Pm` variables, `usize` rows for index variables;
/// and references to any of these.
pub trait Input<T: Real> {
    /// The width a `_` or named width reads: columns of rows, length of a
    /// vector.
    fn width(&self) -> usize;

    /// The input as variable `name` (category, kind and dimension checked).
    #[doc(hidden)]
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>>;
}

fn wrong(name: &str, cat: Cat, kind: VarKind, given: &str) -> Error {
    let want = match (cat, kind) {
        (Cat::P, _) => "a parameter (`Pm`): pass a vector",
        (_, VarKind::Index) => "an index variable: pass `usize` rows",
        _ => "a `Vi`/`Vj` variable: pass rows (`Array2`, `ArrayView2`)",
    };
    Error::Unsupported(format!("`{name}` is {want}, not {given}"))
}

fn rows<'a, T: Real>(
    v: ArrayView2<'a, T>,
    name: &'static str,
    cat: Cat,
    kind: VarKind,
    dim: usize,
) -> Result<Val<'a, T>> {
    if cat == Cat::P || kind == VarKind::Index {
        return Err(wrong(name, cat, kind, "real rows"));
    }
    Val::rows(v, name, cat, dim)
}

fn vector<'a, T: Real>(
    v: &'a [T],
    name: &'static str,
    cat: Cat,
    kind: VarKind,
    dim: usize,
) -> Result<Val<'a, T>> {
    if cat != Cat::P {
        return Err(wrong(name, cat, kind, "a vector"));
    }
    Val::param(Cow::Borrowed(v), name, dim)
}

impl<T: Real> Input<T> for Array2<T> {
    fn width(&self) -> usize {
        self.ncols()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        rows(self.view(), name, cat, kind, dim)
    }
}

impl<T: Real> Input<T> for ArrayView2<'_, T> {
    fn width(&self) -> usize {
        self.ncols()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        rows(self.view(), name, cat, kind, dim)
    }
}

impl<T: Real> Input<T> for Vec<T> {
    fn width(&self) -> usize {
        self.len()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        vector(self, name, cat, kind, dim)
    }
}

impl<T: Real, I: Input<T> + ?Sized> Input<T> for &I {
    fn width(&self) -> usize {
        (**self).width()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        (**self).value(name, cat, kind, dim)
    }
}

impl<T: Real> Input<T> for [T] {
    fn width(&self) -> usize {
        self.len()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        vector(self, name, cat, kind, dim)
    }
}

impl<T: Real, const N: usize> Input<T> for [T; N] {
    fn width(&self) -> usize {
        N
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        vector(self, name, cat, kind, dim)
    }
}

impl<T: Real> Input<T> for Array1<T> {
    fn width(&self) -> usize {
        self.len()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        match self.as_slice() {
            Some(s) => vector(s, name, cat, kind, dim),
            None => vector(&self.to_vec(), name, cat, kind, dim).and_then(Val::into_static),
        }
    }
}

impl<T: Real> Input<T> for ArrayView1<'_, T> {
    fn width(&self) -> usize {
        self.len()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        match self.as_slice() {
            Some(s) => vector(s, name, cat, kind, dim),
            None => vector(&self.to_vec(), name, cat, kind, dim).and_then(Val::into_static),
        }
    }
}

impl<T: Real> Input<T> for ParamData<'_, T> {
    fn width(&self) -> usize {
        self.values().len()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        if cat != Cat::P {
            return Err(wrong(name, cat, kind, "a parameter vector"));
        }
        self.check(name, dim)?;
        Ok(Val::Vector {
            name,
            data: Cow::Borrowed(self.values()),
        })
    }
}

fn index_rows<'a, T: Real>(
    v: ArrayView2<'a, usize>,
    name: &'static str,
    cat: Cat,
    kind: VarKind,
    dim: usize,
) -> Result<Val<'a, T>> {
    if cat == Cat::P || kind != VarKind::Index {
        return Err(wrong(name, cat, kind, "index rows"));
    }
    Val::index_rows(v, name, cat, dim)
}

impl<T: Real> Input<T> for Array2<usize> {
    fn width(&self) -> usize {
        self.ncols()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        index_rows(self.view(), name, cat, kind, dim)
    }
}

impl<T: Real> Input<T> for ArrayView2<'_, usize> {
    fn width(&self) -> usize {
        self.ncols()
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        index_rows(self.view(), name, cat, kind, dim)
    }
}

/// A value already converted (a bound symbolic matrix's inputs).
impl<T: Real> Input<T> for Val<'_, T> {
    fn width(&self) -> usize {
        match self {
            Val::Rows { data, .. } => data.ncols(),
            Val::Index { data, .. } => data.ncols(),
            Val::Vector { data, .. } => data.len(),
            Val::Device { data, .. } => data.ncols(),
            _ => 0,
        }
    }
    fn value(&self, name: &'static str, cat: Cat, kind: VarKind, dim: usize) -> Result<Val<'_, T>> {
        match self {
            Val::Rows { data, .. } => rows(data.view(), name, cat, kind, dim),
            Val::Index { data, .. } => index_rows(data.view(), name, cat, kind, dim),
            Val::Vector { data, .. } => vector(data, name, cat, kind, dim),
            Val::Device { data, .. } => {
                if cat == Cat::P || kind == VarKind::Index {
                    return Err(wrong(name, cat, kind, "device rows"));
                }
                if data.ncols() != dim {
                    return Err(Error::Columns {
                        var: name.into(),
                        expected: dim,
                        found: data.ncols(),
                    });
                }
                Ok(Val::Device {
                    name,
                    data: data.clone(),
                })
            }
            _ => Err(Error::Internal(format!("`{name}`: not an input"))),
        }
    }
}
