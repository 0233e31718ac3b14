//! The typed intermediate representation of formulas.
//!
//! A formula is a DAG of [`Node`]s stored in a [`Graph`] arena and addressed
//! by [`Id`] handles (arguments always have smaller ids than their users, so
//! id order is a topological order). Every node carries its output dimension
//! and the set of indices it depends on ([`Deps`]). Construction goes through
//! the builder methods of [`Graph`], which hash-cons nodes (common
//! subexpression elimination for free) and, unless the graph was created with
//! [`Graph::raw`], apply constant folding and algebraic simplification.
//!
//! The operation set is deliberately small: element-wise maps with explicit
//! broadcasting, two linear layout operations ([`Op::Gather`] covers
//! extraction, concatenation, broadcasting and the vector sum;
//! [`Op::Bilinear`] covers matrix-vector products, tensor products and tensor
//! dots), the vector min/max family and a few leaves. Symbolic
//! differentiation, the reference evaluator and both back ends are passes over
//! this set.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub mod ops;

use ops::{ElemOp, Eval, OpDef, Vjp};

/// Handle of a node in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u32);

impl Id {
    /// The arena index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which index a variable is attached to, and the element kind of an input
/// variable (shared with the runtime: `keops_abi`).
pub use keops_abi::{Cat, VarKind};

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

/// Element-wise unary operations (spellings, semantics and derivatives:
/// [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Un {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `sin x`
    Sin,
    /// `cos x`
    Cos,
    /// `sqrt x`
    Sqrt,
    /// `1/sqrt(x)`, 0 at 0.
    Rsqrt,
    /// `x^2`
    Square,
    /// -1, 0 or 1.
    Sign,
    /// 0 for `x < 0`, 1 otherwise (`step(0) = 1`).
    Step,
    /// `max(x, 0)`
    Relu,
    /// `1/x`
    Inv,
    /// `x ln x`, 0 at 0.
    XLogX,
    /// `sin(x)/x`, 1 at 0.
    SinXDivX,
    /// Derivative of `sin(x)/x`: `(cos x - sin(x)/x)/x`, 0 at 0 (internal).
    SinXDivXDeriv,
    /// `asin x`
    Asin,
    /// `acos x`
    Acos,
    /// `atan x`
    Atan,
    /// `tanh x`
    Tanh,
    /// `sinh x`
    Sinh,
    /// `cosh x`
    Cosh,
    /// Error function.
    Erf,
    /// `ln(1 + x)`
    Log1p,
    /// `e^x - 1`
    Expm1,
    /// Largest integer `<= x`.
    Floor,
    /// Nearest integer, halves away from zero.
    Round,
    /// Integer power `x^n` (exact repeated multiplication).
    PowI(i32),
}

impl Un {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Un(self))
    }

    /// Name in the formula language.
    pub fn name(self) -> String {
        match self {
            Un::PowI(n) => format!("{}{n}", self.def().name),
            _ => self.def().name.into(),
        }
    }

    /// Exact (f64) evaluation: the reference semantics of the operation.
    pub fn eval(self, x: f64) -> f64 {
        self.evaluator()(x)
    }

    /// [`Un::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> impl Fn(f64) -> f64 {
        let n = match self {
            Un::PowI(n) => n,
            _ => 0,
        };
        let e = self.def().eval;
        move |x| match e {
            Eval::Un(f) => f(x),
            Eval::UnInt(f) => f(x, n),
            Eval::Bin(_) | Eval::Tern(_) => unreachable!("unary operation"),
        }
    }
}

/// Element-wise binary operations (both operands of the same dimension;
/// spellings, semantics and derivatives: [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bin {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a^b` for real b.
    Powf,
    /// `atan2(a, b)` (a is y, b is x).
    Atan2,
    /// Element-wise maximum.
    Max,
    /// Element-wise minimum.
    Min,
    /// `a < b` as 0/1.
    Lt,
    /// `a <= b` as 0/1.
    Le,
    /// `a > b` as 0/1.
    Gt,
    /// `a >= b` as 0/1.
    Ge,
    /// `a == b` as 0/1.
    Eq,
    /// `a != b` as 0/1.
    Ne,
}

impl Bin {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Bin(self))
    }
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        self.def().name
    }
    /// True for the infix arithmetic and comparison operators.
    pub fn is_infix(self) -> bool {
        self.def().infix.is_some()
    }
    /// True for the comparisons (zero derivative).
    pub fn is_comparison(self) -> bool {
        matches!(self.def().vjp, Vjp::Zero)
    }
    /// Exact (f64) evaluation.
    pub fn eval(self, a: f64, b: f64) -> f64 {
        self.evaluator()(a, b)
    }
    /// [`Bin::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> fn(f64, f64) -> f64 {
        match self.def().eval {
            Eval::Bin(f) => f,
            _ => unreachable!("binary operation"),
        }
    }
}

/// Element-wise ternary operations (spellings, semantics and derivatives:
/// [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tern {
    /// `clamp(x, lo, hi)`: `lo` if `x < lo`, `hi` if `x > hi`, else `x`.
    Clamp,
    /// `ifelse(c, a, b)`: `a` where `c >= 0`, else `b`.
    IfElse,
    /// `mod(x, n, d) = x - n * floor((x - d) / n)`.
    Mod,
}

impl Tern {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Tern(self))
    }
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        self.def().name
    }
    /// Exact (f64) evaluation.
    pub fn eval(self, a: f64, b: f64, c: f64) -> f64 {
        self.evaluator()(a, b, c)
    }
    /// [`Tern::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> fn(f64, f64, f64) -> f64 {
        match self.def().eval {
            Eval::Tern(f) => f,
            _ => unreachable!("ternary operation"),
        }
    }
}

/// Reductions over the entries of one vector (result of dimension 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VecRed {
    /// Largest entry.
    Max,
    /// Smallest entry.
    Min,
    /// Position of the largest entry (first one on ties), as a float.
    ArgMax,
    /// Position of the smallest entry (first one on ties), as a float.
    ArgMin,
}

impl VecRed {
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        match self {
            VecRed::Max => "max",
            VecRed::Min => "min",
            VecRed::ArgMax => "argmax",
            VecRed::ArgMin => "argmin",
        }
    }
    /// Exact evaluation.
    pub fn eval(self, x: &[f64]) -> f64 {
        let mut best = 0usize;
        for (k, &v) in x.iter().enumerate().skip(1) {
            let better = match self {
                VecRed::Max | VecRed::ArgMax => v > x[best],
                VecRed::Min | VecRed::ArgMin => v < x[best],
            };
            if better {
                best = k;
            }
        }
        match self {
            VecRed::Max | VecRed::Min => x[best],
            VecRed::ArgMax | VecRed::ArgMin => best as f64,
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

/// The arena of nodes of one formula family.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    map: HashMap<Node, Id>,
    vars: Vec<VarInfo>,
    simplify: bool,
}

impl Graph {
    /// A graph whose builder simplifies (constant folding, algebraic identities).
    pub fn new(vars: Vec<VarInfo>) -> Graph {
        Graph {
            nodes: Vec::new(),
            map: HashMap::new(),
            vars,
            simplify: true,
        }
    }

    /// A graph whose builder does not simplify (hash-consing only): used for
    /// the reference evaluator, so that simplification bugs cannot hide.
    pub fn raw(vars: Vec<VarInfo>) -> Graph {
        Graph {
            nodes: Vec::new(),
            map: HashMap::new(),
            vars,
            simplify: false,
        }
    }

    /// Whether the builder simplifies.
    pub fn simplifies(&self) -> bool {
        self.simplify
    }

    /// The variables.
    pub fn vars(&self) -> &[VarInfo] {
        &self.vars
    }

    /// Adds a variable, returning its number.
    pub fn add_var(&mut self, v: VarInfo) -> u32 {
        self.vars.push(v);
        (self.vars.len() - 1) as u32
    }

    /// The node behind a handle.
    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id.index()]
    }

    /// Output dimension of a node.
    pub fn dim(&self, id: Id) -> u32 {
        self.nodes[id.index()].dim
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn intern(&mut self, op: Op, args: Vec<Id>, dim: u32) -> Id {
        assert!(dim >= 1, "internal error: node of dimension 0 ({op:?})");
        let mut deps = Deps::default();
        for a in &args {
            deps = deps.with(self.nodes[a.index()].deps);
        }
        match &op {
            Op::Var(v) => deps = Deps::of_cat(self.vars[*v as usize].cat),
            Op::IndexMatch(_) => deps = Deps::I.with(Deps::J),
            _ => {}
        }
        let node = Node {
            op,
            args,
            dim,
            deps,
        };
        if let Some(&id) = self.map.get(&node) {
            return id;
        }
        let id = Id(self.nodes.len() as u32);
        self.nodes.push(node.clone());
        self.map.insert(node, id);
        id
    }

    // ------------------------------------------------------------------
    // Leaves
    // ------------------------------------------------------------------

    /// Variable number `v`.
    pub fn var(&mut self, v: u32) -> Id {
        let dim = self.vars[v as usize].dim;
        self.intern(Op::Var(v), vec![], dim)
    }

    /// Scalar constant.
    pub fn constant(&mut self, c: f64) -> Id {
        self.intern(Op::Const(c.to_bits()), vec![], 1)
    }

    /// Constant vector with all components equal to `c`.
    pub fn splat_const(&mut self, c: f64, dim: u32) -> Id {
        self.canonical_const(&vec![c; dim as usize])
    }

    /// Zero vector.
    pub fn zeros(&mut self, dim: u32) -> Id {
        self.splat_const(0.0, dim)
    }

    /// The index-match indicator of index variable `v` (see [`Op::IndexMatch`]).
    pub fn index_match(&mut self, v: u32) -> Id {
        let dim = self.vars[v as usize].dim;
        self.intern(Op::IndexMatch(v), vec![], dim)
    }

    // ------------------------------------------------------------------
    // Constant inspection
    // ------------------------------------------------------------------

    /// The components of a node when they are all known constants.
    pub fn const_value(&self, id: Id) -> Option<Vec<f64>> {
        let n = self.node(id);
        match &n.op {
            Op::Const(b) => Some(vec![f64::from_bits(*b)]),
            Op::Gather(m) => {
                let mut out = Vec::with_capacity(m.sources.len());
                let args: Vec<Option<Vec<f64>>> =
                    n.args.iter().map(|&a| self.const_value(a)).collect();
                for s in &m.sources {
                    let mut acc = 0.0;
                    for &(a, c) in s {
                        acc += args[a as usize].as_ref()?[c as usize];
                    }
                    out.push(acc);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// `Some(c)` when every component of the node is the constant `c`.
    pub fn uniform_const(&self, id: Id) -> Option<f64> {
        let v = self.const_value(id)?;
        let c = v[0];
        if v.iter()
            .all(|&x| x.to_bits() == c.to_bits() || (x == 0.0 && c == 0.0))
        {
            Some(c)
        } else {
            None
        }
    }

    /// True when the node is known to be zero.
    pub fn is_zero(&self, id: Id) -> bool {
        self.uniform_const(id) == Some(0.0)
    }

    /// True when the node is known to be one everywhere.
    pub fn is_one(&self, id: Id) -> bool {
        self.uniform_const(id) == Some(1.0)
    }

    /// Builds a constant vector node from components.
    pub fn const_vector(&mut self, vals: &[f64]) -> Id {
        self.canonical_const(vals)
    }

    // ------------------------------------------------------------------
    // Layout
    // ------------------------------------------------------------------

    /// A general gather (see [`GatherMap`]).
    pub fn gather(&mut self, args: &[Id], sources: Vec<Vec<(u32, u32)>>) -> Id {
        let dim = sources.len() as u32;
        if !self.simplify {
            return self.intern(
                Op::Gather(Arc::new(GatherMap { sources })),
                args.to_vec(),
                dim,
            );
        }
        // Inline argument gathers when that cannot duplicate work: the inner
        // gather is a pure selection, or each of its components is used once.
        let mut new_args: Vec<Id> = Vec::new();
        let mut arg_index: HashMap<Id, u32> = HashMap::new();
        let mut push_arg = |id: Id, new_args: &mut Vec<Id>| -> u32 {
            *arg_index.entry(id).or_insert_with(|| {
                new_args.push(id);
                (new_args.len() - 1) as u32
            })
        };
        let mut use_count: HashMap<(u32, u32), usize> = HashMap::new();
        for s in &sources {
            for &(a, c) in s {
                *use_count.entry((a, c)).or_default() += 1;
            }
        }
        let mut out_sources: Vec<Vec<(u32, u32)>> = Vec::with_capacity(sources.len());
        for s in &sources {
            let mut list = Vec::new();
            for &(a, c) in s {
                let aid = args[a as usize];
                let an = self.node(aid).clone();
                let inline = match &an.op {
                    Op::Gather(m) => {
                        m.is_selection()
                            || m.sources[c as usize].len() <= 1
                            || use_count[&(a, c)] == 1 && s.len() == 1
                    }
                    _ => false,
                };
                if let (true, Op::Gather(m)) = (inline, &an.op) {
                    for &(ia, ic) in &m.sources[c as usize] {
                        let na = push_arg(an.args[ia as usize], &mut new_args);
                        list.push((na, ic));
                    }
                } else {
                    let na = push_arg(aid, &mut new_args);
                    list.push((na, c));
                }
            }
            out_sources.push(list);
        }
        // Drop zero constants from sums; fold all-constant outputs.
        let arg_consts: Vec<Option<Vec<f64>>> =
            new_args.iter().map(|&a| self.const_value_leaf(a)).collect();
        for list in out_sources.iter_mut() {
            list.retain(
                |&(a, c)| !matches!(&arg_consts[a as usize], Some(v) if v[c as usize] == 0.0),
            );
        }
        // Identity on a single argument.
        if new_args.len() == 1 && self.dim(new_args[0]) == dim {
            let ident = out_sources
                .iter()
                .enumerate()
                .all(|(k, s)| s.len() == 1 && s[0] == (0, k as u32));
            if ident {
                return new_args[0];
            }
        }
        // Compact the argument list to those still referenced.
        let mut used = vec![false; new_args.len()];
        for s in &out_sources {
            for &(a, _) in s {
                used[a as usize] = true;
            }
        }
        let mut remap = vec![u32::MAX; new_args.len()];
        let mut final_args = Vec::new();
        for (k, &u) in used.iter().enumerate() {
            if u {
                remap[k] = final_args.len() as u32;
                final_args.push(new_args[k]);
            }
        }
        for s in out_sources.iter_mut() {
            for e in s.iter_mut() {
                e.0 = remap[e.0 as usize];
            }
        }
        if final_args.is_empty() {
            // Every output is an empty sum: zeros.
            return self.canonical_const(&vec![0.0; dim as usize]);
        }
        if let Some(vals) = self.fold_gather_consts(&final_args, &out_sources) {
            return self.canonical_const(&vals);
        }
        self.intern(
            Op::Gather(Arc::new(GatherMap {
                sources: out_sources,
            })),
            final_args,
            dim,
        )
    }

    /// The canonical node of a constant vector: a scalar `Const`, a broadcast
    /// of one `Const`, or a selection over distinct `Const`s. Built without
    /// going through [`Graph::gather`], so that folding terminates.
    fn canonical_const(&mut self, vals: &[f64]) -> Id {
        let dim = vals.len() as u32;
        let mut consts: Vec<Id> = Vec::new();
        let mut sources = Vec::with_capacity(vals.len());
        for &v in vals {
            let c = self.intern(Op::Const(v.to_bits()), vec![], 1);
            let pos = match consts.iter().position(|&x| x == c) {
                Some(p) => p,
                None => {
                    consts.push(c);
                    consts.len() - 1
                }
            };
            sources.push(vec![(pos as u32, 0)]);
        }
        if dim == 1 {
            return consts[0];
        }
        self.intern(Op::Gather(Arc::new(GatherMap { sources })), consts, dim)
    }

    fn const_value_leaf(&self, id: Id) -> Option<Vec<f64>> {
        match &self.node(id).op {
            Op::Const(b) => Some(vec![f64::from_bits(*b)]),
            _ => None,
        }
    }

    fn fold_gather_consts(&self, args: &[Id], sources: &[Vec<(u32, u32)>]) -> Option<Vec<f64>> {
        let consts: Vec<Option<Vec<f64>>> =
            args.iter().map(|&a| self.const_value_leaf(a)).collect();
        let mut out = Vec::new();
        for s in sources {
            let mut acc = 0.0;
            for &(a, c) in s {
                acc += consts[a as usize].as_ref()?[c as usize];
            }
            out.push(acc);
        }
        Some(out)
    }

    /// Components `start .. start + len` of `a`.
    pub fn extract(&mut self, a: Id, start: u32, len: u32) -> Id {
        let sources = (start..start + len).map(|k| vec![(0, k)]).collect();
        self.gather(&[a], sources)
    }

    /// Concatenation.
    pub fn concat(&mut self, parts: &[Id]) -> Id {
        if parts.len() == 1 {
            return parts[0];
        }
        let mut sources = Vec::new();
        for (p, &id) in parts.iter().enumerate() {
            for k in 0..self.dim(id) {
                sources.push(vec![(p as u32, k)]);
            }
        }
        self.gather(parts, sources)
    }

    /// Broadcast a scalar to `dim` components.
    pub fn broadcast(&mut self, a: Id, dim: u32) -> Id {
        assert_eq!(self.dim(a), 1, "internal error: broadcast of a vector");
        if dim == 1 {
            return a;
        }
        self.gather(&[a], vec![vec![(0, 0)]; dim as usize])
    }

    /// Sum of the components (dimension 1).
    pub fn vsum(&mut self, a: Id) -> Id {
        let d = self.dim(a);
        if d == 1 {
            return a;
        }
        self.gather(&[a], vec![(0..d).map(|k| (0, k)).collect()])
    }

    /// Broadcasts `a` to `dim` when it is a scalar; otherwise returns it.
    pub fn fit(&mut self, a: Id, dim: u32) -> Id {
        if self.dim(a) == dim {
            a
        } else {
            self.broadcast(a, dim)
        }
    }

    // ------------------------------------------------------------------
    // Element-wise maps
    // ------------------------------------------------------------------

    /// Element-wise unary map.
    pub fn un(&mut self, op: Un, a: Id) -> Id {
        let dim = self.dim(a);
        if self.simplify {
            if let Some(v) = self.const_value(a) {
                let f = op.evaluator();
                let r: Vec<f64> = v.iter().map(|&x| f(x)).collect();
                return self.const_vector(&r);
            }
            // Push element-wise maps through broadcasts: f(splat(x)) = splat(f(x)).
            if let Some(s) = self.broadcast_source(a) {
                let inner = self.un(op, s);
                return self.broadcast(inner, dim);
            }
            let an = self.node(a).clone();
            match (op, &an.op) {
                (Un::Neg, Op::Un(Un::Neg)) => return an.args[0],
                (Un::Neg, Op::Bin(Bin::Sub)) => {
                    return self.bin(Bin::Sub, an.args[1], an.args[0]);
                }
                (Un::Square, Op::Un(Un::Neg)) | (Un::Abs, Op::Un(Un::Neg)) => {
                    return self.un(op, an.args[0]);
                }
                (Un::Square, Op::Un(Un::Sqrt)) => {
                    // sqrt(x)^2 = x only for x >= 0, where sqrt is defined:
                    // elsewhere both sides are NaN-free only if x >= 0, so
                    // keep the node to preserve NaN semantics.
                }
                (Un::PowI(0), _) => return self.splat_const(1.0, dim),
                (Un::PowI(1), _) => return a,
                (Un::PowI(2), _) => return self.un(Un::Square, a),
                (Un::PowI(-1), _) => return self.un(Un::Inv, a),
                (Un::Log, Op::Un(Un::Exp)) => return an.args[0],
                (Un::Inv, Op::Un(Un::Inv)) => return an.args[0],
                _ => {}
            }
        }
        self.intern(Op::Un(op), vec![a], dim)
    }

    /// When `a` is a broadcast of a scalar node, that node.
    pub fn broadcast_source(&self, a: Id) -> Option<Id> {
        let n = self.node(a);
        if let Op::Gather(m) = &n.op {
            if n.args.len() == 1
                && self.dim(n.args[0]) == 1
                && m.sources.iter().all(|s| s.len() == 1 && s[0] == (0, 0))
            {
                return Some(n.args[0]);
            }
        }
        None
    }

    /// Element-wise binary map; a dimension-1 operand is broadcast.
    pub fn bin(&mut self, op: Bin, a: Id, b: Id) -> Id {
        let (da, db) = (self.dim(a), self.dim(b));
        let dim = da.max(db);
        assert!(
            da == db || da == 1 || db == 1,
            "internal error: element-wise {op:?} of dimensions {da} and {db}"
        );
        let a = self.fit(a, dim);
        let b = self.fit(b, dim);
        if self.simplify {
            if let Some(r) = self.simplify_bin(op, a, b, dim) {
                return r;
            }
        }
        // Canonical order for commutative operations (better sharing).
        let commutative = op.def().commutative;
        let key = |g: &Graph, x: Id| (g.const_value(x).is_none(), x);
        let (a, b) = if commutative && key(self, b) < key(self, a) {
            (b, a)
        } else {
            (a, b)
        };
        self.intern(Op::Bin(op), vec![a, b], dim)
    }

    fn simplify_bin(&mut self, op: Bin, a: Id, b: Id, dim: u32) -> Option<Id> {
        if let (Some(va), Some(vb)) = (self.const_value(a), self.const_value(b)) {
            let f = op.evaluator();
            let r: Vec<f64> = va.iter().zip(&vb).map(|(&x, &y)| f(x, y)).collect();
            return Some(self.const_vector(&r));
        }
        if let (Some(sa), Some(sb)) = (self.broadcast_source(a), self.broadcast_source(b)) {
            let inner = self.bin(op, sa, sb);
            return Some(self.broadcast(inner, dim));
        }
        let za = self.is_zero(a);
        let zb = self.is_zero(b);
        let oa = self.is_one(a);
        let ob = self.is_one(b);
        let ca = self.uniform_const(a);
        let cb = self.uniform_const(b);
        match op {
            Bin::Add => {
                if za {
                    return Some(b);
                }
                if zb {
                    return Some(a);
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    return Some(self.bin(Bin::Sub, a, nb));
                }
                if let Op::Un(Un::Neg) = self.node(a).op {
                    let na = self.node(a).args[0];
                    return Some(self.bin(Bin::Sub, b, na));
                }
                if a == b {
                    let two = self.splat_const(2.0, dim);
                    return Some(self.bin(Bin::Mul, two, a));
                }
            }
            Bin::Sub => {
                if zb {
                    return Some(a);
                }
                if za {
                    return Some(self.un(Un::Neg, b));
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    return Some(self.bin(Bin::Add, a, nb));
                }
            }
            Bin::Mul => {
                if za || zb {
                    return Some(self.zeros(dim));
                }
                if oa {
                    return Some(b);
                }
                if ob {
                    return Some(a);
                }
                if ca == Some(-1.0) {
                    return Some(self.un(Un::Neg, b));
                }
                if cb == Some(-1.0) {
                    return Some(self.un(Un::Neg, a));
                }
                // Keep constants on the left and merge constant factors:
                // c1 * (c2 * x) = (c1 c2) * x.
                if cb.is_some() && ca.is_none() {
                    return Some(self.bin(Bin::Mul, b, a));
                }
                if let Some(c1) = ca {
                    let bn = self.node(b).clone();
                    if let Op::Bin(Bin::Mul) = bn.op {
                        if let Some(c2) = self.uniform_const(bn.args[0]) {
                            let k = self.splat_const(c1 * c2, dim);
                            return Some(self.bin(Bin::Mul, k, bn.args[1]));
                        }
                    }
                    if let Op::Un(Un::Neg) = bn.op {
                        let k = self.splat_const(-c1, dim);
                        return Some(self.bin(Bin::Mul, k, bn.args[0]));
                    }
                }
                // splat(s1) * (splat(s2) * t) = splat(s1 * s2) * t: one scalar
                // product instead of a vector one.
                for (p, q) in [(a, b), (b, a)] {
                    if let Some(s1) = self.broadcast_source(p) {
                        let qn = self.node(q).clone();
                        if let Op::Bin(Bin::Mul) = qn.op {
                            for (u, t) in [(qn.args[0], qn.args[1]), (qn.args[1], qn.args[0])] {
                                if let Some(s2) = self.broadcast_source(u) {
                                    let s = self.bin(Bin::Mul, s1, s2);
                                    let sb = self.broadcast(s, dim);
                                    return Some(self.bin(Bin::Mul, sb, t));
                                }
                            }
                        }
                    }
                }
                // (-x) * y = -(x * y): pull negations out so they cancel.
                if let Op::Un(Un::Neg) = self.node(a).op {
                    let na = self.node(a).args[0];
                    let p = self.bin(Bin::Mul, na, b);
                    return Some(self.un(Un::Neg, p));
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    let p = self.bin(Bin::Mul, a, nb);
                    return Some(self.un(Un::Neg, p));
                }
                if a == b {
                    return Some(self.un(Un::Square, a));
                }
            }
            Bin::Div => {
                if ob {
                    return Some(a);
                }
                if za {
                    return Some(self.zeros(dim));
                }
                if oa {
                    return Some(self.un(Un::Inv, b));
                }
                if let Some(c) = cb {
                    if c != 0.0 && (c.abs().log2().fract() == 0.0) {
                        // Division by a power of two is an exact multiplication.
                        let k = self.splat_const(1.0 / c, dim);
                        return Some(self.bin(Bin::Mul, k, a));
                    }
                }
            }
            Bin::Powf => {
                if let Some(c) = cb {
                    if c == c.trunc() && c.abs() <= 64.0 {
                        return Some(self.un(Un::PowI(c as i32), a));
                    }
                    if c == 0.5 {
                        return Some(self.un(Un::Sqrt, a));
                    }
                    if c == -0.5 {
                        return Some(self.un(Un::Rsqrt, a));
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// Element-wise ternary map; dimension-1 operands are broadcast.
    pub fn tern(&mut self, op: Tern, a: Id, b: Id, c: Id) -> Id {
        let dim = self.dim(a).max(self.dim(b)).max(self.dim(c));
        let a = self.fit(a, dim);
        let b = self.fit(b, dim);
        let c = self.fit(c, dim);
        if self.simplify {
            if let (Some(va), Some(vb), Some(vc)) = (
                self.const_value(a),
                self.const_value(b),
                self.const_value(c),
            ) {
                let f = op.evaluator();
                let r: Vec<f64> = (0..dim as usize).map(|k| f(va[k], vb[k], vc[k])).collect();
                return self.const_vector(&r);
            }
            if op == Tern::IfElse {
                if b == c {
                    return b;
                }
                if let Some(v) = self.const_value(a) {
                    // Constant condition: pick per component.
                    let parts: Vec<Id> = (0..dim)
                        .map(|k| {
                            let src = if v[k as usize] >= 0.0 { b } else { c };
                            self.extract(src, k, 1)
                        })
                        .collect();
                    return self.concat(&parts);
                }
            }
        }
        self.intern(Op::Tern(op), vec![a, b, c], dim)
    }

    // ------------------------------------------------------------------
    // Other operations
    // ------------------------------------------------------------------

    /// Bilinear map.
    pub fn bilinear(&mut self, map: BilinearMap, a: Id, b: Id) -> Id {
        assert_eq!(self.dim(a), map.dim_a, "internal error: bilinear operand a");
        assert_eq!(self.dim(b), map.dim_b, "internal error: bilinear operand b");
        let dim = map.dim_out;
        if self.simplify && (self.is_zero(a) || self.is_zero(b)) {
            return self.zeros(dim);
        }
        self.intern(Op::Bilinear(Arc::new(map)), vec![a, b], dim)
    }

    /// Vector max/min/argmax/argmin.
    pub fn vec_red(&mut self, op: VecRed, a: Id) -> Id {
        if self.simplify {
            if self.dim(a) == 1 {
                return match op {
                    VecRed::Max | VecRed::Min => a,
                    VecRed::ArgMax | VecRed::ArgMin => self.constant(0.0),
                };
            }
            if let Some(v) = self.const_value(a) {
                let r = op.eval(&v);
                return self.constant(r);
            }
        }
        self.intern(Op::VecRed(op), vec![a], 1)
    }

    /// One-hot vector of dimension `dim` at position `round(a)`.
    pub fn one_hot(&mut self, a: Id, dim: u32) -> Id {
        assert_eq!(self.dim(a), 1, "internal error: one_hot of a vector");
        if self.simplify {
            if let Some(v) = self.const_value(a) {
                let r: Vec<f64> = (0..dim).map(|k| one_hot_eval(v[0], k)).collect();
                return self.const_vector(&r);
            }
        }
        self.intern(Op::OneHot, vec![a], dim)
    }

    // ------------------------------------------------------------------
    // Utilities
    // ------------------------------------------------------------------

    /// Ids of all nodes reachable from `roots`, in increasing (topological) order.
    pub fn reachable(&self, roots: &[Id]) -> Vec<Id> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<Id> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen[id.index()] {
                continue;
            }
            seen[id.index()] = true;
            for &a in &self.nodes[id.index()].args {
                stack.push(a);
            }
        }
        (0..self.nodes.len() as u32)
            .map(Id)
            .filter(|id| seen[id.index()])
            .collect()
    }

    /// True when the node reachable from `root` uses variable `v`.
    pub fn uses_var(&self, root: Id, v: u32) -> bool {
        self.reachable(&[root])
            .iter()
            .any(|&id| matches!(self.node(id).op, Op::Var(w) | Op::IndexMatch(w) if w == v))
    }

    /// Copies the sub-DAG of `root` from `src` into `self`, mapping variable
    /// `v` of `src` to the node `var_map[v]` of `self` (rebuilding through the
    /// builder, so `self`'s simplification settings apply).
    pub fn import(&mut self, src: &Graph, root: Id, var_map: &[Id]) -> Id {
        let order = src.reachable(&[root]);
        let mut map: HashMap<Id, Id> = HashMap::new();
        for id in order {
            let n = src.node(id);
            let args: Vec<Id> = n.args.iter().map(|a| map[a]).collect();
            let new = match &n.op {
                Op::Var(v) => var_map[*v as usize],
                Op::Const(b) => self.constant(f64::from_bits(*b)),
                Op::IndexMatch(v) => {
                    let target = var_map[*v as usize];
                    match self.node(target).op {
                        Op::Var(w) => self.index_match(w),
                        _ => panic!("internal error: index variable mapped to an expression"),
                    }
                }
                Op::Un(u) => self.un(*u, args[0]),
                Op::Bin(b) => self.bin(*b, args[0], args[1]),
                Op::Tern(t) => self.tern(*t, args[0], args[1], args[2]),
                Op::Gather(m) => self.gather(&args, m.sources.clone()),
                Op::Bilinear(m) => self.bilinear((**m).clone(), args[0], args[1]),
                Op::VecRed(r) => self.vec_red(*r, args[0]),
                Op::OneHot => self.one_hot(args[0], n.dim),
            };
            map.insert(id, new);
        }
        map[&root]
    }

    /// Number of scalar arithmetic operations needed to evaluate `roots`
    /// once (layout maps that only select components are free; a
    /// transcendental function counts as one operation).
    pub fn op_count(&self, roots: &[Id]) -> usize {
        let mut count = 0;
        for id in self.reachable(roots) {
            let n = self.node(id);
            count += match &n.op {
                Op::Var(_) | Op::Const(_) => 0,
                Op::IndexMatch(_) => n.dim as usize,
                Op::Un(Un::PowI(k)) => n.dim as usize * pow_cost(*k),
                Op::Un(_) | Op::Bin(_) | Op::Tern(_) | Op::OneHot => n.dim as usize,
                Op::Gather(m) => m.sources.iter().map(|s| s.len().saturating_sub(1)).sum(),
                Op::Bilinear(m) => 2 * m.terms.len() - m.dim_out as usize,
                Op::VecRed(_) => self.dim(n.args[0]) as usize - 1,
            };
        }
        count
    }
}

/// Number of multiplications of `x^k` by repeated squaring.
pub fn pow_cost(k: i32) -> usize {
    let k = k.unsigned_abs();
    if k == 0 {
        return 0;
    }
    let bits = 32 - k.leading_zeros() as usize;
    bits - 1 + k.count_ones() as usize - 1
}

/// Reference semantics of `one_hot`: 1 at `floor(x + 0.5)`, as KeOps.
pub fn one_hot_eval(x: f64, k: u32) -> f64 {
    if (x + 0.5).floor() == k as f64 {
        1.0
    } else {
        0.0
    }
}

/// The error function in f64 (the reference semantics of `erf`): the
/// complementary-error continued fraction / series of W. J. Cody's rational
/// approximations, accurate to a few ulp.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 0.5 {
        // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        // At most ~20 terms for |x| < 0.5; the bound also ends the loop
        // when the terms vanish (x = 0, subnormal x).
        for n in 1..64 {
            let n = f64::from(n);
            term *= -x2 / n;
            let t = term / (2.0 * n + 1.0);
            sum += t;
            if t.abs() <= 1e-18 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if ax < 6.0 {
        1.0 - erfc_cf(ax)
    } else {
        1.0
    };
    r.copysign(x)
}

/// erfc(x) for x >= 0.5 by Lentz's continued fraction.
fn erfc_cf(x: f64) -> f64 {
    // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    if f == 0.0 {
        f = tiny;
    }
    let mut c = f;
    let mut d = 0.0;
    for k in 1..500 {
        let a = k as f64 * 0.5;
        d = x + a * d;
        if d == 0.0 {
            d = tiny;
        }
        c = x + a / c;
        if c == 0.0 {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-17 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}
