//! Front end, step 1: Rust tokens → the formula AST of [`keops_ir::ast`]
//! (re-exported here) and its table of spans ([`Spans`]).
//!
//! The macro input is `options? closure`, where the closure is
//! `|x: Vi<3>, y: Vj<3>, g: Pm<1>| body` and `body` is a Rust expression (or a
//! block of `let` bindings ending in an expression). Only the syntax is
//! checked here; names, arities and dimensions are checked in
//! [`crate::front`], whose errors name the AST's [`SpanId`]s:
//! [`Spans::error`] turns them back into a `syn::Error` at the source's
//! spans.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Lit, Pat, Token, Type};

use crate::front::Errors;
use crate::ir::Cat;
use crate::limits::{MAX_DIM, MAX_GRAD_ORDER, MAX_NESTING, MAX_TOKENS, MAX_VARIABLES};

pub use keops_ir::ast::{Arg, Ast, BinOp, IndexKind, KernelDef, Param, SpanId};
/// Options written before the closure (the IR crate's kernel options).
pub use keops_ir::Options;

/// The span table of a parsed definition: [`SpanId`]`(k)` of its AST is
/// the `k`-th span.
#[derive(Clone, Debug, Default)]
pub struct Spans(Vec<Span>);

impl Spans {
    /// Adds a span to the table.
    pub fn add(&mut self, span: Span) -> SpanId {
        let id = SpanId(u32::try_from(self.0.len()).expect("fewer spans than tokens"));
        self.0.push(span);
        id
    }

    /// The span of an id (the call site for an id not of this table).
    pub fn get(&self, id: SpanId) -> Span {
        self.0
            .get(id.0 as usize)
            .copied()
            .unwrap_or_else(Span::call_site)
    }

    /// The front end's errors as one `syn::Error`, each at its span, in
    /// order.
    pub fn error(&self, errors: Errors) -> syn::Error {
        combine(
            errors
                .into_iter()
                .map(|e| syn::Error::new(self.get(e.span), e.message))
                .collect(),
        )
        .expect("at least one error")
    }
}

/// A parsed macro input: the definition and its span table.
struct Parsed(KernelDef, Spans);

impl Parse for Parsed {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut options = Options::default();
        // Options: `name = value,` pairs until the closure starts.
        while !(input.peek(Token![|]) || input.peek(Token![||]) || input.peek(Token![move])) {
            if input.is_empty() {
                return Err(input.error(
                    "expected a closure such as `|x: Vi<3>, y: Vj<3>| sum_j(sqdist(x, y))`",
                ));
            }
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Lit = input.parse()?;
            match (key.to_string().as_str(), &value) {
                ("grad_order", Lit::Int(i)) => {
                    let v: u32 = i.base10_parse()?;
                    if v > MAX_GRAD_ORDER {
                        return Err(syn::Error::new(
                            i.span(),
                            format!("grad_order must be at most {MAX_GRAD_ORDER} (each order multiplies the generated kernels)"),
                        ));
                    }
                    options.grad_order = v;
                    options.grad_order_given = true;
                }
                ("debug", Lit::Bool(b)) => options.debug = b.value,
                ("fast_math", Lit::Bool(b)) => options.fast_math = b.value,
                ("fast_math", _) => {
                    return Err(syn::Error::new(value.span(), "fast_math takes a bool"))
                }
                ("grad_order", _) => {
                    return Err(syn::Error::new(value.span(), "grad_order takes an integer"))
                }
                ("debug", _) => return Err(syn::Error::new(value.span(), "debug takes a bool")),
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{key}` (options: grad_order = N, debug = true, fast_math = bool)"),
                    ))
                }
            }
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
            }
        }
        let closure: syn::ExprClosure = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the formula closure"));
        }
        let mut spans = Spans::default();
        let def = closure_to_def(closure, options, &mut spans)?;
        Ok(Parsed(def, spans))
    }
}

/// Parses the macro input, with the table of its AST's spans (to report
/// the front end's errors, see [`Spans::error`]).
pub fn parse_kernel_spanned(tokens: TokenStream) -> syn::Result<(KernelDef, Spans)> {
    check_tokens(&tokens)?;
    let Parsed(def, spans) = syn::parse2(tokens)?;
    Ok((def, spans))
}

/// Parses the macro input (without the span table: see
/// [`parse_kernel_spanned`]).
pub fn parse_kernel(tokens: TokenStream) -> syn::Result<KernelDef> {
    parse_kernel_spanned(tokens).map(|(def, _)| def)
}

/// Parses the macro input from a string (tests, diagnostics).
pub fn parse_kernel_str(src: &str) -> syn::Result<KernelDef> {
    let tokens: TokenStream = src
        .parse()
        .map_err(|e: proc_macro2::LexError| syn::Error::new(e.span(), e.to_string()))?;
    parse_kernel(tokens)
}

/// Keywords that start or continue a nested expression or type.
const NESTING_KEYWORDS: &[&str] = &[
    "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "move", "mut", "raw", "ref",
    "return", "static", "try", "unsafe", "where", "while", "yield",
];

/// Checks the size and nesting depth of the macro input before it is parsed
/// (without recursion), so that neither `syn`'s recursive-descent parser nor
/// the passes over the formula can overflow the stack.
///
/// The nesting depth of a token sequence is, for each argument or statement
/// (separated by `,` or `;`), its number of operator tokens (punctuation,
/// keywords) and groups (`(...)`, `[...]`; `{...}` counts 3) plus the depth of its
/// deepest group: an upper bound of the parser's recursion depth and of the
/// depth of the formula's syntax tree. See [`crate::limits`].
pub fn check_tokens(tokens: &TokenStream) -> syn::Result<()> {
    use proc_macro2::TokenTree;
    struct Frame {
        iter: proc_macro2::token_stream::IntoIter,
        /// Depth accumulated by the enclosing segments (operators before
        /// this group, one per group level).
        base: usize,
        /// Operators in the current segment.
        ops: usize,
        /// Depth of the deepest group of the current segment.
        child: usize,
        /// Deepest finished segment.
        best: usize,
        /// Span of the group.
        span: Span,
    }
    let too_deep = |span: Span| {
        syn::Error::new(
            span,
            format!(
                "formula nested too deeply (more than {MAX_NESTING} levels of operators, calls, indices and parentheses in one expression): split it with `let` bindings"
            ),
        )
    };
    let mut count = 0usize;
    let mut stack = vec![Frame {
        iter: tokens.clone().into_iter(),
        base: 0,
        ops: 0,
        child: 0,
        best: 0,
        span: Span::call_site(),
    }];
    loop {
        let top = stack.last_mut().expect("non-empty stack");
        let Some(tt) = top.iter.next() else {
            let done = stack.pop().expect("non-empty stack");
            let depth = done.best.max(done.ops + done.child);
            if done.base + depth > MAX_NESTING {
                return Err(too_deep(done.span));
            }
            match stack.last_mut() {
                Some(parent) => parent.child = parent.child.max(depth),
                None => return Ok(()),
            }
            continue;
        };
        count += 1;
        if count > MAX_TOKENS {
            return Err(syn::Error::new(
                tt.span(),
                format!("formula too long (more than {MAX_TOKENS} tokens)"),
            ));
        }
        match &tt {
            TokenTree::Punct(p) if matches!(p.as_char(), ',' | ';') => {
                top.best = top.best.max(top.ops + top.child);
                top.ops = 0;
                top.child = 0;
            }
            TokenTree::Punct(p) if p.as_char() == ':' => {}
            TokenTree::Punct(_) => top.ops += 1,
            TokenTree::Ident(i) => {
                if NESTING_KEYWORDS.contains(&i.to_string().as_str()) {
                    top.ops += 1;
                }
            }
            TokenTree::Literal(_) => {}
            TokenTree::Group(g) => {
                // Blocks cost the parser about three times as much stack.
                top.ops += if g.delimiter() == proc_macro2::Delimiter::Brace {
                    3
                } else {
                    1
                };
                let base = top.base + top.ops;
                if base > MAX_NESTING {
                    return Err(too_deep(g.span_open()));
                }
                let iter = g.stream().into_iter();
                stack.push(Frame {
                    iter,
                    base,
                    ops: 0,
                    child: 0,
                    best: 0,
                    span: g.span(),
                });
                continue;
            }
        }
        if top.base + top.ops + top.child > MAX_NESTING {
            return Err(too_deep(tt.span()));
        }
    }
}

fn closure_to_def(c: syn::ExprClosure, options: Options, sp: &mut Spans) -> syn::Result<KernelDef> {
    let span = c.span();
    let span_id = sp.add(span);
    if let Some(m) = &c.movability {
        return Err(syn::Error::new(
            m.span(),
            "`static` closures are not formulas",
        ));
    }
    if let Some(a) = &c.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "`async` closures are not formulas",
        ));
    }
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    if c.inputs.len() > MAX_VARIABLES {
        return Err(syn::Error::new(
            c.inputs[MAX_VARIABLES].span(),
            format!("too many formula variables (at most {MAX_VARIABLES})"),
        ));
    }
    if c.inputs.is_empty() {
        errors.push(syn::Error::new(
            span,
            "a formula needs at least one variable, e.g. `|x: Vi<3>, y: Vj<3>| ...`",
        ));
    }
    for p in &c.inputs {
        match parse_param(p, sp) {
            Ok(param) => {
                if let Some(prev) = params.iter().find(|q| q.name == param.name) {
                    let mut e = syn::Error::new(
                        sp.get(param.span),
                        format!("duplicate variable name `{}`", param.name),
                    );
                    e.combine(syn::Error::new(sp.get(prev.span), "first declared here"));
                    errors.push(e);
                } else {
                    params.push(param);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let mut body_expr = *c.body;
    while let Expr::Group(g) = body_expr {
        body_expr = *g.expr;
    }
    let (lets, body) = match body_expr {
        Expr::Block(b) => {
            let mut lets = Vec::new();
            let mut tail = None;
            let n = b.block.stmts.len();
            for (k, st) in b.block.stmts.into_iter().enumerate() {
                match st {
                    syn::Stmt::Local(l) => {
                        let name = match &l.pat {
                            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                                let name = unraw(&pi.ident);
                                if let Err(e) = check_name(&name, pi.ident.span()) {
                                    errors.push(e);
                                    continue;
                                }
                                (name, sp.add(pi.ident.span()))
                            }
                            other => {
                                errors.push(syn::Error::new(
                                    other.span(),
                                    "only `let name = expression;` bindings are allowed in formulas",
                                ));
                                continue;
                            }
                        };
                        let Some(init) = l.init else {
                            errors.push(syn::Error::new(
                                l.span(),
                                "a `let` binding in a formula needs a value",
                            ));
                            continue;
                        };
                        match to_ast(&init.expr, sp) {
                            Ok(a) => lets.push((name.0, name.1, a)),
                            Err(e) => errors.push(e),
                        }
                    }
                    syn::Stmt::Expr(e, None) if k + 1 == n => match to_ast(&e, sp) {
                        Ok(a) => tail = Some(a),
                        Err(err) => errors.push(err),
                    },
                    other => errors.push(syn::Error::new(
                        other.span(),
                        "a formula block holds `let` bindings followed by one expression",
                    )),
                }
            }
            match tail {
                Some(t) => (lets, t),
                None => {
                    if errors.is_empty() {
                        errors.push(syn::Error::new(
                            span,
                            "the formula block has no final expression",
                        ));
                    }
                    (
                        lets,
                        Ast::Num {
                            value: 0.0,
                            int: true,
                            span: span_id,
                        },
                    )
                }
            }
        }
        other => match to_ast(&other, sp) {
            Ok(a) => (Vec::new(), a),
            Err(e) => {
                errors.push(e);
                (
                    Vec::new(),
                    Ast::Num {
                        value: 0.0,
                        int: true,
                        span: span_id,
                    },
                )
            }
        },
    };
    if let Some(e) = combine(errors) {
        return Err(e);
    }
    Ok(KernelDef {
        options,
        params,
        lets,
        body,
        span: span_id,
    })
}

/// Combines several errors into one (or none).
pub fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    let mut it = errors.into_iter();
    let mut first = it.next()?;
    for e in it {
        first.combine(e);
    }
    Some(first)
}

fn parse_param(p: &Pat, sp: &mut Spans) -> syn::Result<Param> {
    let Pat::Type(pt) = p else {
        return Err(syn::Error::new(
            p.span(),
            "each formula variable needs a type: `x: Vi<3>`, `y: Vj<3>` or `p: Pm<1>`",
        ));
    };
    let (name, span) = match &*pt.pat {
        Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() && pi.mutability.is_none() => {
            (unraw(&pi.ident), pi.ident.span())
        }
        other => {
            return Err(syn::Error::new(other.span(), "expected a variable name"));
        }
    };
    check_name(&name, span)?;
    let (cat, dim, width) = parse_var_type(&pt.ty)?;
    Ok(Param {
        name,
        span: sp.add(span),
        cat,
        dim,
        width,
    })
}

/// The dimension a named width has right after parsing.
pub use keops_ir::ast::PARSED_PROBE;

/// The name of a width written as a single identifier (`D`, `{ D }`).
fn width_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            let seg = &p.path.segments[0];
            seg.arguments.is_empty().then(|| seg.ident.to_string())
        }
        _ => None,
    }
}

fn parse_var_type(ty: &Type) -> syn::Result<(Cat, u32, Option<String>)> {
    let bad = || {
        syn::Error::new(
            ty.span(),
            "expected `Vi<D>`, `Vj<D>` or `Pm<D>` with D an integer literal",
        )
    };
    let Type::Path(tp) = ty else {
        return Err(bad());
    };
    let seg = tp.path.segments.last().ok_or_else(bad)?;
    let cat = match seg.ident.to_string().as_str() {
        "Vi" => Cat::I,
        "Vj" => Cat::J,
        "Pm" => Cat::P,
        _ => return Err(bad()),
    };
    let syn::PathArguments::AngleBracketed(ab) = &seg.arguments else {
        return Err(bad());
    };
    if ab.args.len() != 1 {
        return Err(bad());
    }
    let lit_expr = match &ab.args[0] {
        syn::GenericArgument::Const(e) => e.clone(),
        syn::GenericArgument::Type(Type::Path(p))
            if p.qself.is_none()
                && p.path.segments.len() == 1
                && p.path.segments[0].arguments.is_empty() =>
        {
            let name = p.path.segments[0].ident.to_string();
            return Ok((cat, PARSED_PROBE, Some(name)));
        }
        // A width read from the data.
        syn::GenericArgument::Type(Type::Infer(_)) => {
            return Ok((cat, PARSED_PROBE, Some("_".into())))
        }
        syn::GenericArgument::Type(Type::Path(p)) => return Err(syn::Error::new(
            p.span(),
            "the dimension must be an integer literal, or the name of a `const` item or const generic parameter (`Vi<D>`)",
        )),
        _ => return Err(bad()),
    };
    let lit_expr = match lit_expr {
        Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
            syn::Stmt::Expr(e, None) => e.clone(),
            _ => return Err(bad()),
        },
        e => e,
    };
    if let Some(name) = width_name(&lit_expr) {
        return Ok((cat, PARSED_PROBE, Some(name)));
    }
    match &lit_expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let d: u32 = i.base10_parse()?;
            if d == 0 {
                return Err(syn::Error::new(
                    i.span(),
                    "a variable must have dimension at least 1",
                ));
            }
            if d > MAX_DIM {
                return Err(syn::Error::new(
                    i.span(),
                    format!("dimension too large: {d} (at most {MAX_DIM})"),
                ));
            }
            Ok((cat, d, None))
        }
        other => Err(syn::Error::new(
            other.span(),
            "the dimension must be an integer literal, or the name of a `const` item or const generic parameter (`Vi<D>`)",
        )),
    }
}

fn to_ast(e: &Expr, sp: &mut Spans) -> syn::Result<Ast> {
    let span = e.span();
    Ok(match e {
        Expr::Paren(p) => {
            // `(x | y)` is the scalar product; other parentheses are grouping.
            to_ast(&p.expr, sp)?
        }
        Expr::Group(g) => to_ast(&g.expr, sp)?,
        Expr::Path(p) => {
            if p.qself.is_some() || p.path.segments.len() != 1 {
                return Err(syn::Error::new(span, "expected a variable name"));
            }
            let seg = &p.path.segments[0];
            if !seg.arguments.is_empty() {
                return Err(syn::Error::new(span, "expected a variable name"));
            }
            Ast::Name(unraw(&seg.ident), sp.add(seg.ident.span()))
        }
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => {
                if !i.suffix().is_empty() && !matches!(i.suffix(), "i32" | "i64" | "u32" | "usize") {
                    return Err(syn::Error::new(span, "unexpected literal suffix"));
                }
                let v: i64 = i.base10_parse()?;
                Ast::Num { value: v as f64, int: true, span: sp.add(span) }
            }
            Lit::Float(f) => {
                let v: f64 = f.base10_parse()?;
                Ast::Num { value: v, int: false, span: sp.add(span) }
            }
            _ => return Err(syn::Error::new(span, "only numeric literals are allowed in formulas")),
        },
        Expr::Unary(u) => match u.op {
            syn::UnOp::Neg(_) => Ast::Neg(Box::new(to_ast(&u.expr, sp)?), sp.add(span)),
            _ => {
                return Err(syn::Error::new(
                    span,
                    "unsupported unary operator (only `-x` is allowed)",
                ))
            }
        },
        Expr::Binary(b) => {
            let op = match b.op {
                syn::BinOp::Add(_) => BinOp::Add,
                syn::BinOp::Sub(_) => BinOp::Sub,
                syn::BinOp::Mul(_) => BinOp::Mul,
                syn::BinOp::Div(_) => BinOp::Div,
                syn::BinOp::Rem(_) => BinOp::Rem,
                syn::BinOp::BitOr(_) => BinOp::Dot,
                syn::BinOp::Lt(_) => BinOp::Lt,
                syn::BinOp::Le(_) => BinOp::Le,
                syn::BinOp::Gt(_) => BinOp::Gt,
                syn::BinOp::Ge(_) => BinOp::Ge,
                syn::BinOp::Eq(_) => BinOp::Eq,
                syn::BinOp::Ne(_) => BinOp::Ne,
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "unsupported operator in a formula (use + - * / %, (x | y), comparisons)",
                    ))
                }
            };
            Ast::Binary {
                op,
                lhs: Box::new(to_ast(&b.left, sp)?),
                rhs: Box::new(to_ast(&b.right, sp)?),
                span: sp.add(span),
            }
        }
        Expr::Call(c) => {
            let (func, func_span) = match &*c.func {
                Expr::Path(p) if p.path.segments.len() == 1 && p.qself.is_none() => {
                    (unraw(&p.path.segments[0].ident), sp.add(p.path.segments[0].ident.span()))
                }
                other => {
                    return Err(syn::Error::new(other.span(), "expected a function name"));
                }
            };
            let args = c.args.iter().map(|a| to_arg(a, sp)).collect::<syn::Result<Vec<_>>>()?;
            Ast::Call { func, func_span, args, span: sp.add(span) }
        }
        Expr::MethodCall(m) => {
            if m.turbofish.is_some() {
                return Err(syn::Error::new(span, "unexpected `::<...>` in a formula"));
            }
            let args = m.args.iter().map(|a| to_arg(a, sp)).collect::<syn::Result<Vec<_>>>()?;
            Ast::Method {
                recv: Box::new(to_ast(&m.receiver, sp)?),
                method: unraw(&m.method),
                method_span: sp.add(m.method.span()),
                args,
                span: sp.add(span),
            }
        }
        Expr::Index(ix) => {
            let index = match &*ix.index {
                Expr::Range(r) => {
                    let bound = |b: &Option<Box<Expr>>| -> syn::Result<Option<i64>> {
                        match b {
                            None => Ok(None),
                            Some(e) => int_literal(e).map(Some),
                        }
                    };
                    let start = bound(&r.start)?;
                    let mut end = bound(&r.end)?;
                    if let syn::RangeLimits::Closed(_) = r.limits {
                        end = match end {
                            Some(e) => Some(e.checked_add(1).ok_or_else(|| {
                                syn::Error::new(r.span(), "slice bound out of range")
                            })?),
                            None => None,
                        };
                    }
                    IndexKind::Range(start, end)
                }
                other => IndexKind::Single(int_literal(other)?),
            };
            Ast::Index { base: Box::new(to_ast(&ix.expr, sp)?), index, span: sp.add(span) }
        }
        Expr::Array(a) => {
            let items = a.elems.iter().map(|e| to_ast(e, sp)).collect::<syn::Result<Vec<_>>>()?;
            Ast::List(items, sp.add(span))
        }
        Expr::Tuple(t) => {
            let items = t.elems.iter().map(|e| to_ast(e, sp)).collect::<syn::Result<Vec<_>>>()?;
            Ast::List(items, sp.add(span))
        }
        Expr::Reference(r) => {
            return Err(syn::Error::new(
                r.span(),
                "references are not formulas: write the variable name",
            ))
        }
        _ => {
            return Err(syn::Error::new(
                span,
                "unsupported expression in a formula (expected operators, function or method calls, indexing, numbers and variable names)",
            ))
        }
    })
}

fn to_arg(e: &Expr, sp: &mut Spans) -> syn::Result<Arg> {
    if let Expr::Assign(a) = e {
        if let Expr::Path(p) = &*a.left {
            if p.path.segments.len() == 1 {
                let id = &p.path.segments[0].ident;
                return Ok(Arg {
                    keyword: Some((unraw(id), sp.add(id.span()))),
                    value: to_ast(&a.right, sp)?,
                });
            }
        }
        return Err(syn::Error::new(a.span(), "expected `keyword = value`"));
    }
    Ok(Arg {
        keyword: None,
        value: to_ast(e, sp)?,
    })
}

fn int_literal(e: &Expr) -> syn::Result<i64> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => int_literal(expr).map(i64::saturating_neg),
        Expr::Paren(p) => int_literal(&p.expr),
        other => Err(syn::Error::new(
            other.span(),
            "indices and slice bounds must be integer literals",
        )),
    }
}

/// Rust's strict and reserved keywords (names that need `r#` in Rust code).
pub fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// Checks a variable or `let` name: `self`, `Self`, `super` and `crate`
/// cannot name a value (not even as raw identifiers).
fn check_name(name: &str, span: Span) -> syn::Result<()> {
    if matches!(name, "self" | "Self" | "super" | "crate") {
        return Err(syn::Error::new(
            span,
            format!("`{name}` cannot be the name of a formula variable"),
        ));
    }
    Ok(())
}

/// The name of an identifier without its `r#` prefix.
fn unraw(id: &syn::Ident) -> String {
    use syn::ext::IdentExt;
    id.unraw().to_string()
}
