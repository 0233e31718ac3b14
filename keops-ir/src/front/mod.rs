//! Front end, step 2: the formula AST → the typed IR of the forward stage.
//!
//! Resolves names and spellings (function and method forms, keyword
//! arguments, reductions written `sum_j(f)` or `f.sum(1)`), infers and checks
//! every dimension, and reports each mistake as a [`FrontError`] whose span
//! (a [`SpanId`] of the parser's table) points at the faulty
//! sub-expression. Errors are collected ([`Errors`]), so one expansion
//! reports every independent mistake.
//!
//! The files: this one (the entry points and the builder's state),
//! `reduction.rs` (the outermost reduction), `expr.rs` (expressions, their
//! dimensions and broadcasting), `call.rs` (function and method calls: the
//! operation table's spellings and the hand-lowered functions), `args.rs`
//! (binding call arguments to named slots), `names.rs` ("did you mean"),
//! `snippet.rs` (source text in messages), `bilinear.rs` (the bilinear maps
//! of `matvecmult`, `tensorprod`, `keops_tensordot`, ...).

use std::collections::HashMap;
use std::fmt;

use crate::ast::{Ast, KernelDef, SpanId};
use crate::ir::{Cat, Graph, Id, VarInfo};
use crate::stage::{Red, Stage, VarDecl, VarKind};

mod args;
mod bilinear;
mod call;
mod expr;
mod names;
mod reduction;
mod snippet;

pub use bilinear::{matvec_map, tensordot_map, tensorprod_map, vecmat_map};
use reduction::{red_base, reduction_call};
pub use snippet::snippet;

/// Builds the forward stage of a kernel definition. With `simplify = false`
/// the graph is built without algebraic simplification (reference evaluator).
pub fn build_stage(def: &KernelDef, simplify: bool) -> Result<Stage, Errors> {
    let vars: Vec<VarDecl> = def
        .params
        .iter()
        .map(|p| VarDecl {
            name: p.name.clone(),
            cat: p.cat,
            dim: p.dim,
            kind: VarKind::Real,
        })
        .collect();
    let infos = vars
        .iter()
        .map(|v| VarInfo {
            cat: v.cat,
            dim: v.dim,
        })
        .collect();
    let g = if simplify {
        Graph::new(infos)
    } else {
        Graph::raw(infos)
    };
    let mut fe = Front {
        g,
        vars,
        lets: HashMap::new(),
        errors: Vec::new(),
        accounted: 0,
        ir_size: 0,
        too_large: false,
    };
    for (name, span, ast) in &def.lets {
        if fe.vars.iter().any(|v| &v.name == name) {
            fe.err(
                *span,
                format!("`let {name}` shadows the formula variable `{name}`; choose another name"),
            );
            continue;
        }
        if let Some(id) = fe.expr(ast) {
            let d = fe.g.dim(id);
            fe.lets.insert(name.clone(), (id, d));
        }
    }
    let top = fe.top(&def.body, def.span);
    if let Some(e) = Errors::from_vec(std::mem::take(&mut fe.errors)) {
        return Err(e);
    }
    let (red, axis, f, w) = top.expect("errors reported");
    // The number of rows of each index must be known from the inputs.
    let outer = axis.swap();
    for (cat, what) in [(outer, "output rows"), (axis, "reduced index")] {
        if !fe.vars.iter().any(|v| v.cat == cat) {
            let (idx, decl) = if cat == Cat::I {
                ("i", "Vi")
            } else {
                ("j", "Vj")
            };
            return Err(Errors::new(
                def.span,
                format!(
                    "cannot infer the number of {idx} indices ({what}): declare at least one `{decl}<D>` variable"
                ),
            ));
        }
    }
    Ok(Stage {
        vars: fe.vars,
        axis,
        red,
        graph: fe.g,
        f,
        w,
    })
}

/// Whether the body of `def` ends with a reduction (a kernel). A body
/// without one is a symbolic matrix `K_ij` (see `keops_compiler::emit_matrix`).
pub fn is_reduction(def: &KernelDef) -> bool {
    match &def.body {
        Ast::Call { func, .. } => reduction_call(func).is_some(),
        Ast::Method { method, args, .. } => red_base(&method.to_ascii_lowercase())
            .is_some_and(|base| Front::method_axis(base, args).is_some()),
        _ => false,
    }
}

struct Front {
    g: Graph,
    vars: Vec<VarDecl>,
    lets: HashMap<String, (Id, u32)>,
    errors: Vec<FrontError>,
    /// Nodes of the graph already counted in `ir_size`.
    accounted: usize,
    /// Sum of the dimensions of the graph's nodes.
    ir_size: usize,
    /// The formula exceeded [`MAX_IR_NODES`](crate::limits::MAX_IR_NODES) or
    /// [`MAX_IR_SIZE`](crate::limits::MAX_IR_SIZE): stop building.
    too_large: bool,
}

type Top = Option<(Red, Cat, Id, Option<Id>)>;

impl Front {
    fn err(&mut self, span: SpanId, msg: impl Into<String>) {
        self.errors.push(FrontError::new(span, msg));
    }
}

/// A mistake in a formula: where (a [`SpanId`] of the table of the parser
/// that built the AST) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontError {
    /// The faulty sub-expression.
    pub span: SpanId,
    /// The message.
    pub message: String,
}

impl FrontError {
    /// An error at `span`.
    pub fn new(span: SpanId, message: impl Into<String>) -> FrontError {
        FrontError {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for FrontError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FrontError {}

/// The mistakes found in a formula, in the order found (at least one).
///
/// It displays as its first message, as a combined `syn::Error` does; each
/// one is in [`Errors::iter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Errors(Vec<FrontError>);

impl Errors {
    /// One error at `span`.
    pub fn new(span: SpanId, message: impl Into<String>) -> Errors {
        Errors(vec![FrontError::new(span, message)])
    }

    /// The errors of a list, or `None` when it is empty.
    pub fn from_vec(errors: Vec<FrontError>) -> Option<Errors> {
        if errors.is_empty() {
            None
        } else {
            Some(Errors(errors))
        }
    }

    /// Appends the errors of `other`.
    pub fn combine(&mut self, other: Errors) {
        self.0.extend(other.0);
    }

    /// The first error.
    pub fn first(&self) -> &FrontError {
        &self.0[0]
    }

    /// The errors, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, FrontError> {
        self.0.iter()
    }

    /// The errors, in order.
    pub fn into_vec(self) -> Vec<FrontError> {
        self.0
    }
}

impl From<FrontError> for Errors {
    fn from(e: FrontError) -> Errors {
        Errors(vec![e])
    }
}

impl IntoIterator for Errors {
    type Item = FrontError;
    type IntoIter = std::vec::IntoIter<FrontError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a FrontError;
    type IntoIter = std::slice::Iter<'a, FrontError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.first(), f)
    }
}

impl std::error::Error for Errors {}
