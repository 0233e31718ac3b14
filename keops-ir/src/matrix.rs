//! Symbolic matrices: a formula without a reduction whose value has
//! dimension 1 is the M × N matrix `K_ij` (a LazyTensor `K_ij` in KeOps).
//!
//! Its products and gradients are ordinary reductions built from the one
//! formula; this module writes their definitions, for the macro's
//! fixed-width kernels (`keops_compiler::emit_matrix`) and the run-time
//! formulas (`keops_runtime::formula`) alike:
//!
//! | definition | formula |
//! |---|---|
//! | [`tile`] | `sum_j(K)` / `sum_i(K)`: K values (the pair function) |
//! | [`product`] | `sum_j(K * v)`, `v: Vj<W>` / `sum_i(K * u)`, `u: Vi<W>` |
//! | [`inner`] | `sum_j(K * (u \| v))`, `u: Vi<W>`, `v: Vj<W>`: the gradients of `<U, K V>` |

use crate::ast::{Arg, Ast, BinOp, KernelDef, Param, SpanId};
use crate::front::Errors;
use crate::ir::Cat;
use crate::stage::Stage;

/// Name of the generated right-hand-side variable over j.
pub const V: &str = "__keops_v";
/// Name of the generated right-hand-side variable over i.
pub const U: &str = "__keops_u";

/// The width of a generated right-hand side: a number, or read from the
/// data (`_`, run-time formulas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// A fixed width.
    Fixed(u32),
    /// Read from the data at the call.
    Data,
}

fn name(s: &str, span: SpanId) -> Ast {
    Ast::Name(s.into(), span)
}

fn call(func: &str, args: Vec<Ast>, span: SpanId) -> Ast {
    Ast::Call {
        func: func.into(),
        func_span: span,
        args: args
            .into_iter()
            .map(|value| Arg {
                keyword: None,
                value,
            })
            .collect(),
        span,
    }
}

fn bin(op: BinOp, lhs: Ast, rhs: Ast, span: SpanId) -> Ast {
    Ast::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        span,
    }
}

fn variant(def: &KernelDef, extra: &[(&str, Cat)], width: Width, body: Ast) -> KernelDef {
    let mut d = def.clone();
    for &(n, cat) in extra {
        let (dim, width) = match width {
            Width::Fixed(w) => (w, None),
            Width::Data => (crate::ast::PARSED_PROBE, Some("_".to_string())),
        };
        d.params.push(Param {
            name: n.into(),
            span: def.span,
            cat,
            dim,
            width,
        });
    }
    d.body = body;
    d
}

fn sum(over: Cat) -> &'static str {
    if over == Cat::I {
        "sum_i"
    } else {
        "sum_j"
    }
}

/// `sum_j(K)` (`over = Cat::J`) or `sum_i(K)`: the pair function gives K.
pub fn tile(def: &KernelDef, over: Cat) -> KernelDef {
    let span = def.body.span();
    variant(
        def,
        &[],
        Width::Fixed(1),
        call(sum(over), vec![def.body.clone()], span),
    )
}

/// `sum_j(K * v)` with `v: Vj<width>` (`over = Cat::J`: `K V`), or
/// `sum_i(K * u)` with `u: Vi<width>` (`K^T U`).
pub fn product(def: &KernelDef, over: Cat, width: Width) -> KernelDef {
    let span = def.body.span();
    let (rhs, cat) = if over == Cat::I {
        (U, Cat::I)
    } else {
        (V, Cat::J)
    };
    let body = call(
        sum(over),
        vec![bin(BinOp::Mul, def.body.clone(), name(rhs, span), span)],
        span,
    );
    variant(def, &[(rhs, cat)], width, body)
}

/// `sum_j(K * (u | v))` with `u: Vi<width>`, `v: Vj<width>` (`u * v` at
/// width 1): its gradients are those of `<U, K V>`.
pub fn inner(def: &KernelDef, width: Width) -> KernelDef {
    let span = def.body.span();
    let s = if width == Width::Fixed(1) {
        bin(BinOp::Mul, name(U, span), name(V, span), span)
    } else {
        bin(BinOp::Dot, name(U, span), name(V, span), span)
    };
    let body = call(
        "sum_j",
        vec![bin(BinOp::Mul, def.body.clone(), s, span)],
        span,
    );
    variant(def, &[(U, Cat::I), (V, Cat::J)], width, body)
}

/// Checks a symbolic matrix at its widths (every width a number): the
/// formula is well typed (errors at the spans of `def`'s AST) and its value
/// has dimension 1, and it names no generated variable. Gives the stage
/// of [`tile`] over j.
pub fn check(def: &KernelDef) -> Result<Stage, Errors> {
    let stage = crate::front::build_stage(&tile(def, Cat::J), true)?;
    let dim = stage.graph.dim(stage.f);
    if dim != 1 {
        return Err(Errors::new(
            def.body.span(),
            format!(
                "the formula must end with a reduction, e.g. `sum_j(...)`, `f.sum(1)`, `argkmin_j(f, 10)` (`sum(f)` is the vector sum); a formula without a reduction is a symbolic matrix K_ij, which needs a value of dimension 1, but this one has dimension {dim}"
            ),
        ));
    }
    for p in &def.params {
        if p.name == U || p.name == V {
            return Err(Errors::new(
                p.span,
                format!("`{}` is reserved in symbolic matrices", p.name),
            ));
        }
    }
    Ok(stage)
}
