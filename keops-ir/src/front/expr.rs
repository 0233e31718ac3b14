//! Expressions: names, literals, operators, indexing and slices; the
//! dimension of every node (broadcasting rules, the limits on dimensions
//! and on the size of the IR).

use super::names::suggestion;
use super::reduction::red_base;
use super::snippet::snippet;
use super::Front;
use crate::ast::{Arg, Ast, BinOp, IndexKind, SpanId};
use crate::ir::{Bin, Id, Un};
use crate::limits::{MAX_DIM, MAX_IR_NODES, MAX_IR_SIZE};
use crate::ops;

impl Front {
    /// Lowers an expression, within the IR size limits.
    pub(super) fn expr(&mut self, ast: &Ast) -> Option<Id> {
        if self.too_large {
            return None;
        }
        let r = self.expr_inner(ast);
        let n = self.g.len();
        for k in self.accounted..n {
            self.ir_size += self.g.dim(Id(k as u32)) as usize;
        }
        self.accounted = n;
        if !self.too_large && (n > MAX_IR_NODES || self.ir_size > MAX_IR_SIZE) {
            self.too_large = true;
            self.err(
                ast.span(),
                format!(
                    "formula too large: more than {MAX_IR_NODES} operations or {MAX_IR_SIZE} vector components (see `keops_compiler::limits`)"
                ),
            );
            return None;
        }
        r
    }

    /// Checks a dimension computed from the formula against [`MAX_DIM`].
    pub(super) fn check_dim(&mut self, span: SpanId, what: &str, d: u64) -> Option<u32> {
        if d == 0 {
            self.err(span, format!("{what} has dimension 0"));
            return None;
        }
        if d > MAX_DIM as u64 {
            self.err(
                span,
                format!("{what} has dimension {d}, more than the limit {MAX_DIM}"),
            );
            return None;
        }
        Some(d as u32)
    }

    fn expr_inner(&mut self, ast: &Ast) -> Option<Id> {
        match ast {
            Ast::Name(name, span) => {
                if let Some(k) = self.vars.iter().position(|v| &v.name == name) {
                    return Some(self.g.var(k as u32));
                }
                if let Some(&(id, _)) = self.lets.get(name) {
                    return Some(id);
                }
                let known: Vec<&str> = self
                    .vars
                    .iter()
                    .map(|v| v.name.as_str())
                    .chain(self.lets.keys().map(String::as_str))
                    .collect();
                let sugg = suggestion(name, known.iter().copied());
                self.err(
                    *span,
                    format!(
                        "unknown variable `{name}` (declared: {}){sugg}",
                        known.join(", ")
                    ),
                );
                None
            }
            Ast::Num { value, .. } => Some(self.g.constant(*value)),
            Ast::Neg(inner, _) => {
                let a = self.expr(inner)?;
                Some(self.g.un(Un::Neg, a))
            }
            Ast::Binary { op, lhs, rhs, span } => {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                let (a, b) = (a?, b?);
                self.binary(*op, a, b, lhs, rhs, *span)
            }
            Ast::Index { base, index, span } => {
                let a = self.expr(base)?;
                let d = self.g.dim(a);
                match index {
                    IndexKind::Single(k) => {
                        if *k < 0 || *k >= d as i64 {
                            self.err(
                                *span,
                                format!("index {k} out of range for an expression of dimension {d} (valid: 0..{d})"),
                            );
                            return None;
                        }
                        Some(self.g.extract(a, *k as u32, 1))
                    }
                    IndexKind::Range(s, e) => {
                        let s = s.unwrap_or(0);
                        let e = e.unwrap_or(d as i64);
                        if s < 0 || e > d as i64 || s >= e {
                            self.err(
                                *span,
                                format!("slice {s}..{e} out of range for an expression of dimension {d} (need 0 <= start < end <= {d})"),
                            );
                            return None;
                        }
                        Some(self.g.extract(a, s as u32, (e - s) as u32))
                    }
                }
            }
            Ast::List(_, span) => {
                self.err(
                    *span,
                    "a list is only allowed as an argument of `cat` or `keops_tensordot`",
                );
                None
            }
            Ast::Call {
                func,
                func_span,
                args,
                span,
            } => {
                let mut all: Vec<Arg> = Vec::with_capacity(args.len());
                all.extend(args.iter().cloned());
                self.call(func, *func_span, &all, *span, false)
            }
            Ast::Method {
                recv,
                method,
                method_span,
                args,
                span,
            } => {
                let lower = method.to_ascii_lowercase();
                if let Some(base) = red_base(&lower) {
                    if Front::method_axis(base, args).is_some() {
                        self.err(
                            *span,
                            format!(
                                "misplaced reduction `.{method}(...)`: a reduction must be the outermost operation of the formula"
                            ),
                        );
                        let _ = self.expr(recv);
                        return None;
                    }
                }
                let mut all: Vec<Arg> = Vec::with_capacity(args.len() + 1);
                match lower.as_str() {
                    // Receiver is not the first argument of the function form.
                    "weightedsqnorm" => {
                        all.extend(args.iter().cloned());
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                    }
                    "weightedsqdist" => {
                        // x.weightedsqdist(y, s) = weightedsqdist(s, x, y)
                        if args.len() != 2 {
                            self.err(*span, "`.weightedsqdist(y, s)` takes 2 arguments (y, s)");
                            return None;
                        }
                        all.push(args[1].clone());
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                        all.push(args[0].clone());
                    }
                    _ => {
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                        all.extend(args.iter().cloned());
                    }
                }
                self.call(method, *method_span, &all, *span, true)
            }
        }
    }

    fn binary(
        &mut self,
        op: BinOp,
        a: Id,
        b: Id,
        lhs: &Ast,
        rhs: &Ast,
        span: SpanId,
    ) -> Option<Id> {
        let (da, db) = (self.g.dim(a), self.g.dim(b));
        if da != db && da != 1 && db != 1 {
            let what = match op {
                BinOp::Dot => "scalar product `(x | y)`".to_string(),
                _ => format!("`{}`", op.symbol()),
            };
            self.err(
                span,
                format!(
                    "dimension mismatch in {what}: left operand `{}` has dimension {da}, right operand `{}` has dimension {db} (dimensions must be equal, or one of them 1)",
                    snippet(lhs),
                    snippet(rhs)
                ),
            );
            return None;
        }
        let g = &mut self.g;
        Some(match op {
            BinOp::Dot => {
                let p = g.bin(Bin::Mul, a, b);
                g.vsum(p)
            }
            _ => ops::by_infix(op.symbol())
                .expect("every infix operator but `|` is in ops::ELEMENTWISE")
                .op
                .build(g, &[a, b]),
        })
    }

    /// Checks that two operands can be combined element-wise.
    pub(super) fn check_broadcast(
        &mut self,
        what: &str,
        span: SpanId,
        items: &[(Id, &Ast)],
    ) -> Option<u32> {
        let mut dim = 1;
        for &(id, _) in items {
            dim = dim.max(self.g.dim(id));
        }
        for &(id, ast) in items {
            let d = self.g.dim(id);
            if d != 1 && d != dim {
                let desc: Vec<String> = items
                    .iter()
                    .map(|&(i, a)| format!("`{}` has dimension {}", snippet(a), self.g.dim(i)))
                    .collect();
                self.err(
                    span,
                    format!(
                        "dimension mismatch in `{what}`: {} (dimensions must be equal, or 1)",
                        desc.join(", ")
                    ),
                );
                let _ = ast;
                return None;
            }
        }
        Some(dim)
    }
}
