//! The IR's data: node handles ([`Id`]), the indices a node depends on
//! ([`Deps`]), input variables ([`VarDecl`], [`VarInfo`]), operations
//! ([`Op`], with the layout maps [`GatherMap`] and [`BilinearMap`]) and
//! nodes ([`Node`]).

use std::fmt;
use std::sync::Arc;

use super::{Bin, Cat, Tern, Un, VarKind, VecRed};

/// Handle of a node in a [`Graph`](super::Graph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u32);

impl Id {
    /// The arena index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An input variable of a stage or program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VarDecl {
    /// Name (user names, or generated ones for cotangents and intermediate values).
    pub name: String,
    /// Category.
    pub cat: Cat,
    /// Dimension (columns).
    pub dim: u32,
    /// Element kind.
    pub kind: VarKind,
}

/// The set of indices a node depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Deps(pub u8);

impl Deps {
    /// Depends on the i index.
    pub const I: Deps = Deps(1);
    /// Depends on the j index.
    pub const J: Deps = Deps(2);
    /// Depends on a parameter.
    pub const P: Deps = Deps(4);
    /// Union.
    pub fn with(self, o: Deps) -> Deps {
        Deps(self.0 | o.0)
    }
    /// True when every bit of `o` is set.
    pub fn has(self, o: Deps) -> bool {
        self.0 & o.0 == o.0
    }
    /// The dependency of a variable category.
    pub fn of_cat(c: Cat) -> Deps {
        match c {
            Cat::I => Deps::I,
            Cat::J => Deps::J,
            Cat::P => Deps::P,
        }
    }
}

/// A linear layout map: output component `k` is the sum of the listed
/// `(argument, component)` entries (an empty list is 0). Covers extraction,
/// concatenation, broadcasting and the vector sum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GatherMap {
    /// One list of sources per output component.
    pub sources: Vec<Vec<(u32, u32)>>,
}

impl GatherMap {
    /// True when every output component has exactly one source.
    pub fn is_selection(&self) -> bool {
        self.sources.iter().all(|s| s.len() == 1)
    }
}

/// A bilinear map `out[o] = sum over (o, ia, ib) of a[ia] * b[ib]`: matrix-vector
/// products, tensor products and tensor dots.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BilinearMap {
    /// Display name (`matvecmult`, `vecmatmult`, `tensorprod`, `tensordot`, `bilinear`).
    pub name: &'static str,
    /// Dimension of the first operand.
    pub dim_a: u32,
    /// Dimension of the second operand.
    pub dim_b: u32,
    /// Output dimension.
    pub dim_out: u32,
    /// `(out, ia, ib)` triples, sorted by `out`.
    pub terms: Vec<(u32, u32, u32)>,
}

/// An IR operation. Arguments live in [`Node::args`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Input variable number `n` of the stage (see [`crate::stage::VarDecl`]).
    Var(u32),
    /// A scalar constant (the bits of an `f64`).
    Const(u64),
    /// Component `k` is 1 where the current index of the category opposite to
    /// variable `n`'s equals component `k` of `n`, else 0. Variable `n` is an
    /// index array (e.g. the argmin positions `J_i` of a reduction over j,
    /// compared with the current `j`).
    IndexMatch(u32),
    /// Element-wise unary map.
    Un(Un),
    /// Element-wise binary map.
    Bin(Bin),
    /// Element-wise ternary map.
    Tern(Tern),
    /// Linear layout map over any number of arguments.
    Gather(Arc<GatherMap>),
    /// Bilinear map of two arguments.
    Bilinear(Arc<BilinearMap>),
    /// Max/min/argmax/argmin over the entries of the argument.
    VecRed(VecRed),
    /// One-hot encoding of `round(x)` (x scalar) in the node's dimension.
    OneHot,
}

/// A node: operation, arguments, output dimension and dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// Arguments (ids smaller than this node's).
    pub args: Vec<Id>,
    /// Output dimension.
    pub dim: u32,
    /// Indices this node depends on.
    pub deps: Deps,
}

/// Description of an input variable as seen by the IR builder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VarInfo {
    /// Category.
    pub cat: Cat,
    /// Dimension.
    pub dim: u32,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}
