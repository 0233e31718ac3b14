//! Front end, step 2: the formula AST → the typed IR of the forward stage.
//!
//! Resolves names and spellings (function and method forms, keyword
//! arguments, reductions written `sum_j(f)` or `f.sum(1)`), infers and checks
//! every dimension, and reports each mistake as a `syn::Error` whose span
//! points at the faulty sub-expression. Errors are collected, so one
//! expansion reports every independent mistake.

//!
//! The files: this one (the entry points and the builder's state),
//! `reduction.rs` (the outermost reduction), `expr.rs` (expressions, their
//! dimensions and broadcasting), `call.rs` (function and method calls: the
//! operation table's spellings and the hand-lowered functions), `args.rs`
//! (binding call arguments to named slots), `names.rs` ("did you mean"),
//! `snippet.rs` (source text in messages), `bilinear.rs` (the bilinear maps
//! of `matvecmult`, `tensorprod`, `keops_tensordot`, ...).

use std::collections::HashMap;

use proc_macro2::Span;

use crate::ir::{Cat, Graph, Id, VarInfo};
use crate::parse::{combine, Ast, KernelDef};
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
pub fn build_stage(def: &KernelDef, simplify: bool) -> syn::Result<Stage> {
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
    if let Some(e) = combine(std::mem::take(&mut fe.errors)) {
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
            return Err(syn::Error::new(
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
/// without one is a symbolic matrix `K_ij` (see `crate::emit_matrix`).
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
    errors: Vec<syn::Error>,
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
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.errors.push(syn::Error::new(span, msg.into()));
    }
}
