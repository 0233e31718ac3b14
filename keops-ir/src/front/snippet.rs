//! Short source-like text of an AST node, for error messages.

use crate::ast::{Arg, Ast, BinOp, IndexKind};

/// Short source-like text of an AST node, for messages.
pub fn snippet(a: &Ast) -> String {
    let s = render_ast(a);
    if s.len() > 40 {
        format!(
            "{}…",
            &s[..s
                .char_indices()
                .take(39)
                .last()
                .map(|(i, c)| i + c.len_utf8())
                .unwrap_or(0)]
        )
    } else {
        s
    }
}

fn render_ast(a: &Ast) -> String {
    let args = |args: &[Arg]| {
        args.iter()
            .map(|a| match &a.keyword {
                Some((k, _)) => format!("{k} = {}", render_ast(&a.value)),
                None => render_ast(&a.value),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match a {
        Ast::Name(n, _) => n.clone(),
        Ast::Num { value, int, .. } => {
            if *int {
                format!("{}", *value as i64)
            } else {
                format!("{value:?}")
            }
        }
        Ast::Call { func, args: a, .. } => format!("{func}({})", args(a)),
        Ast::Method {
            recv,
            method,
            args: a,
            ..
        } => {
            let r = match &**recv {
                Ast::Binary { op, .. } if *op != BinOp::Dot => format!("({})", render_ast(recv)),
                Ast::Neg(..) => format!("({})", render_ast(recv)),
                _ => render_ast(recv),
            };
            format!("{r}.{method}({})", args(a))
        }
        Ast::Binary {
            op: BinOp::Dot,
            lhs,
            rhs,
            ..
        } => format!("({} | {})", render_ast(lhs), render_ast(rhs)),
        Ast::Binary { op, lhs, rhs, .. } => {
            let side = |a: &Ast| match a {
                Ast::Binary { op: o, .. } if *o != BinOp::Dot => format!("({})", render_ast(a)),
                Ast::Neg(..) => format!("({})", render_ast(a)),
                _ => render_ast(a),
            };
            format!("{} {} {}", side(lhs), op.symbol(), side(rhs))
        }
        Ast::Neg(x, _) => format!("-{}", render_ast(x)),
        Ast::Index { base, index, .. } => match index {
            IndexKind::Single(k) => format!("{}[{k}]", render_ast(base)),
            IndexKind::Range(s, e) => format!(
                "{}[{}..{}]",
                render_ast(base),
                s.map(|v| v.to_string()).unwrap_or_default(),
                e.map(|v| v.to_string()).unwrap_or_default()
            ),
        },
        Ast::List(items, _) => format!(
            "[{}]",
            items.iter().map(render_ast).collect::<Vec<_>>().join(", ")
        ),
    }
}
