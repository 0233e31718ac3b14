//! A kernel definition from a string in the syntax of the `keops!` macro
//! (`"grad_order = 1, |x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)))"`),
//! without syn: the parser for formulas that exist only at run time. It
//! builds the same [`KernelDef`] as the macro's parser (the tests compare
//! the two on generated formulas), with the same limits on size and
//! nesting. A syntax error is an `Err` with its byte range; the AST's
//! [`SpanId`]s index [`Parsed::spans`], byte ranges of the string, so that
//! the front end's errors point into it too ([`Parsed::locate`]).

use std::fmt;
use std::ops::Range;

use crate::ast::{Arg, Ast, BinOp, IndexKind, KernelDef, Param, SpanId};
use crate::front::Errors;
use crate::ir::Cat;
use crate::limits::{MAX_DIM, MAX_GRAD_ORDER, MAX_NESTING, MAX_TOKENS, MAX_VARIABLES};
use crate::Options;

/// A parsed definition and the byte ranges of its spans.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The definition.
    pub def: KernelDef,
    /// `SpanId(k)` of the AST is `spans[k]`.
    pub spans: Vec<Range<usize>>,
}

impl Parsed {
    /// The byte range of a span of the AST.
    pub fn span(&self, id: SpanId) -> Range<usize> {
        self.spans.get(id.0 as usize).cloned().unwrap_or(0..0)
    }

    /// The front end's errors with their byte ranges.
    pub fn locate(&self, errors: &Errors) -> Vec<TextError> {
        errors
            .iter()
            .map(|e| TextError {
                at: self.span(e.span),
                message: e.message.clone(),
            })
            .collect()
    }
}

/// An error in a formula string: its byte range and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    /// Where, in bytes of the string.
    pub at: Range<usize>,
    /// What.
    pub message: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at bytes {}..{}: {}",
            self.at.start, self.at.end, self.message
        )
    }
}

impl std::error::Error for TextError {}

/// Parses a kernel definition (options, then the closure).
pub fn parse(src: &str) -> Result<Parsed, TextError> {
    let toks = lex(src)?;
    let mut p = P {
        toks,
        k: 0,
        end: src.len(),
        spans: Vec::new(),
        depth: 0,
    };
    let def = p.kernel()?;
    Ok(Parsed {
        def,
        spans: p.spans,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum T {
    Ident(String),
    Int(i64),
    Float(f64),
    P(&'static str),
}

#[derive(Clone, Debug)]
struct Tok {
    t: T,
    at: Range<usize>,
}

fn err<X>(at: Range<usize>, message: impl Into<String>) -> Result<X, TextError> {
    Err(TextError {
        at,
        message: message.into(),
    })
}

/// The punctuation of the formula language (and `&`, `!`, `::` for their
/// errors), longest first.
const PUNCTS: &[&str] = &[
    "..=", "==", "!=", "<=", ">=", "..", "::", "||", "&&", "+", "-", "*", "/", "%", "|", "<", ">",
    "=", "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "!", "&",
];

fn lex(src: &str) -> Result<Vec<Tok>, TextError> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if toks.len() >= MAX_TOKENS {
            return err(
                i..i + 1,
                format!("formula too long (more than {MAX_TOKENS} tokens)"),
            );
        }
        let start = i;
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let raw = c == b'r' && b.get(i + 1) == Some(&b'#');
            if raw {
                i += 2;
            }
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if s == i {
                return err(start..i, "expected an identifier after `r#`");
            }
            toks.push(Tok {
                t: T::Ident(src[s..i].to_string()),
                at: start..i,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let (t, n) = number(&src[i..]).map_err(|m| TextError {
                at: start..start + 1,
                message: m,
            })?;
            i += n;
            toks.push(Tok { t, at: start..i });
            continue;
        }
        match PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            Some(p) => {
                i += p.len();
                toks.push(Tok {
                    t: T::P(p),
                    at: start..i,
                });
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(
                    start..start + ch.len_utf8(),
                    format!("unexpected character `{ch}`"),
                );
            }
        }
    }
    Ok(toks)
}

/// A number at the start of `s`: the token and its length in bytes.
fn number(s: &str) -> Result<(T, usize), String> {
    let b = s.as_bytes();
    let digits = |mut i: usize, ok: &dyn Fn(u8) -> bool| {
        while i < b.len() && (ok(b[i]) || b[i] == b'_') {
            i += 1;
        }
        i
    };
    let radix = match (b[0], b.get(1)) {
        (b'0', Some(b'x')) => 16,
        (b'0', Some(b'o')) => 8,
        (b'0', Some(b'b')) => 2,
        _ => 10,
    };
    let suffix = |i: usize| {
        let e = digits(i, &|c| c.is_ascii_alphanumeric());
        (&s[i..e], e)
    };
    if radix != 10 {
        let e = digits(2, &|c| c.is_ascii_hexdigit());
        let text: String = s[2..e].chars().filter(|&c| c != '_').collect();
        let v = i64::from_str_radix(&text, radix)
            .map_err(|_| "integer literal out of range".to_string())?;
        let (suf, end) = suffix(e);
        int_suffix(suf)?;
        return Ok((T::Int(v), end));
    }
    let mut i = digits(0, &|c| c.is_ascii_digit());
    let mut float = false;
    // `1.5`, `2.` (not `2..`, and not `2.sin()`: a method call on 2).
    if b.get(i) == Some(&b'.')
        && b.get(i + 1) != Some(&b'.')
        && !b
            .get(i + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        float = true;
        i = digits(i + 1, &|c| c.is_ascii_digit());
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            i = digits(j, &|c| c.is_ascii_digit());
        }
    }
    let text: String = s[..i].chars().filter(|&c| c != '_').collect();
    let (suf, end) = suffix(i);
    if float || matches!(suf, "f32" | "f64") {
        if !matches!(suf, "" | "f32" | "f64") {
            return Err("unexpected literal suffix".into());
        }
        let v: f64 = text.parse().map_err(|_| "bad float literal".to_string())?;
        return Ok((T::Float(v), end));
    }
    int_suffix(suf)?;
    let v: i64 = text
        .parse()
        .map_err(|_| "integer literal out of range".to_string())?;
    Ok((T::Int(v), end))
}

fn int_suffix(s: &str) -> Result<(), String> {
    if matches!(s, "" | "i32" | "i64" | "u32" | "usize") {
        Ok(())
    } else {
        Err("unexpected literal suffix".into())
    }
}

/// The names a variable cannot have (as in the macro).
fn check_name(name: &str, at: Range<usize>) -> Result<(), TextError> {
    if matches!(name, "self" | "Self" | "super" | "crate") {
        return err(
            at,
            format!("`{name}` cannot be the name of a formula variable"),
        );
    }
    Ok(())
}

struct P {
    toks: Vec<Tok>,
    k: usize,
    end: usize,
    spans: Vec<Range<usize>>,
    depth: usize,
}

/// The binding power of a binary operator spelled `op` (as in Rust:
/// `* / %` over `+ -` over `|` over the comparisons), and the operator.
fn prec(op: &str) -> Option<(u8, BinOp)> {
    let op = BinOp::from_symbol(op)?;
    let p = match op {
        BinOp::Mul | BinOp::Div | BinOp::Rem => 4,
        BinOp::Add | BinOp::Sub => 3,
        BinOp::Dot => 2,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 1,
    };
    Some((p, op))
}

impl P {
    fn peek(&self) -> Option<&T> {
        self.toks.get(self.k).map(|t| &t.t)
    }
    fn peek_at(&self, n: usize) -> Option<&T> {
        self.toks.get(self.k + n).map(|t| &t.t)
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(T::P(q)) if *q == p)
    }
    /// The byte range of the next token (the end of the string after the last).
    fn here(&self) -> Range<usize> {
        self.toks
            .get(self.k)
            .map_or(self.end..self.end, |t| t.at.clone())
    }
    fn prev_end(&self) -> usize {
        self.k.checked_sub(1).map_or(0, |j| self.toks[j].at.end)
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.k].clone();
        self.k += 1;
        t
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.k += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str, what: &str) -> Result<(), TextError> {
        if self.eat(p) {
            Ok(())
        } else {
            err(self.here(), format!("expected {what}"))
        }
    }
    fn span(&mut self, at: Range<usize>) -> SpanId {
        self.spans.push(at);
        SpanId(self.spans.len() as u32 - 1)
    }
    fn ident(&mut self, what: &str) -> Result<(String, Range<usize>), TextError> {
        match self.peek() {
            Some(T::Ident(_)) => {
                let t = self.bump();
                let T::Ident(s) = t.t else { unreachable!() };
                Ok((s, t.at))
            }
            _ => err(self.here(), format!("expected {what}")),
        }
    }
    fn nest(&mut self) -> Result<(), TextError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return err(
                self.here(),
                format!("formula nested too deeply (more than {MAX_NESTING} levels of operators, calls, indices and parentheses in one expression): split it with `let` bindings"),
            );
        }
        Ok(())
    }

    fn kernel(&mut self) -> Result<KernelDef, TextError> {
        let mut options = Options::default();
        while !(self.is("|") || self.is("||") || self.peek().is_none()) {
            let (key, kat) =
                self.ident("an option (`grad_order = N`) or the closure `|x: Vi<3>, ...| ...`")?;
            self.expect("=", "`=` after the option's name")?;
            let v = self.bump_or_end("the option's value")?;
            match (key.as_str(), &v.t) {
                ("grad_order", T::Int(n)) => {
                    if *n < 0 || *n > MAX_GRAD_ORDER as i64 {
                        return err(v.at, format!("grad_order must be at most {MAX_GRAD_ORDER} (each order multiplies the generated kernels)"));
                    }
                    options.grad_order = *n as u32;
                    options.grad_order_given = true;
                }
                ("debug" | "fast_math", T::Ident(b)) if b == "true" || b == "false" => {
                    let b = b == "true";
                    if key == "debug" {
                        options.debug = b;
                    } else {
                        options.fast_math = b;
                    }
                }
                ("grad_order", _) => return err(v.at, "grad_order takes an integer"),
                ("debug", _) => return err(v.at, "debug takes a bool"),
                ("fast_math", _) => return err(v.at, "fast_math takes a bool"),
                _ => {
                    return err(kat, format!("unknown option `{key}` (options: grad_order = N, debug = true, fast_math = bool)"))
                }
            }
            if !self.eat(",") {
                self.eat(";");
            }
        }
        let open = self.here();
        if self.is("||") {
            return err(
                open,
                "a formula needs at least one variable, e.g. `|x: Vi<3>, y: Vj<3>| ...`",
            );
        }
        self.expect(
            "|",
            "a closure such as `|x: Vi<3>, y: Vj<3>| sum_j(sqdist(x, y))`",
        )?;
        let mut params: Vec<Param> = Vec::new();
        while !self.is("|") {
            if params.len() >= MAX_VARIABLES {
                return err(
                    self.here(),
                    format!("too many formula variables (at most {MAX_VARIABLES})"),
                );
            }
            let p = self.param()?;
            if params.iter().any(|q| q.name == p.name) {
                let at = self.spans[p.span.0 as usize].clone();
                return err(at, format!("duplicate variable name `{}`", p.name));
            }
            params.push(p);
            if !self.eat(",") {
                break;
            }
        }
        self.expect("|", "`|` after the variables")?;
        if params.is_empty() {
            return err(
                open,
                "a formula needs at least one variable, e.g. `|x: Vi<3>, y: Vj<3>| ...`",
            );
        }
        let body_start = self.here().start;
        let (lets, body) = if self.is("{") {
            self.block()?
        } else {
            (Vec::new(), self.expr()?)
        };
        if self.peek().is_some() {
            return err(self.here(), "unexpected tokens after the formula closure");
        }
        let span = self.span(open.start..self.prev_end().max(body_start));
        Ok(KernelDef {
            options,
            params,
            lets,
            body,
            span,
        })
    }

    fn bump_or_end(&mut self, what: &str) -> Result<Tok, TextError> {
        if self.peek().is_none() {
            return err(self.here(), format!("expected {what}"));
        }
        Ok(self.bump())
    }

    fn param(&mut self) -> Result<Param, TextError> {
        let (name, at) = self.ident("a variable name")?;
        check_name(&name, at.clone())?;
        self.expect(":", "`:` and the variable's type (`x: Vi<3>`)")?;
        let ty_start = self.here();
        let bad = "expected `Vi<D>`, `Vj<D>` or `Pm<D>` with D an integer literal";
        let (kind, kat) = self.ident("`Vi<D>`, `Vj<D>` or `Pm<D>`")?;
        let cat = match kind.as_str() {
            "Vi" => Cat::I,
            "Vj" => Cat::J,
            "Pm" => Cat::P,
            _ => return err(kat, bad),
        };
        if !self.eat("<") {
            return err(ty_start.start..self.here().end, bad);
        }
        let braced = self.eat("{");
        let dat = self.here();
        let (dim, width) = match self.peek().cloned() {
            Some(T::Int(d)) => {
                self.k += 1;
                if d == 0 {
                    return err(dat, "a variable must have dimension at least 1");
                }
                if d > MAX_DIM as i64 || d < 0 {
                    return err(dat, format!("dimension too large: {d} (at most {MAX_DIM})"));
                }
                (d as u32, None)
            }
            Some(T::Ident(w)) => {
                self.k += 1;
                (crate::ast::PARSED_PROBE, Some(w))
            }
            _ => {
                return err(dat, "the dimension must be an integer literal, or the name of a `const` item or const generic parameter (`Vi<D>`)")
            }
        };
        if braced {
            self.expect("}", "`}`")?;
        }
        self.expect(">", "`>` after the dimension")?;
        let span = self.span(at);
        Ok(Param {
            name,
            span,
            cat,
            dim,
            width,
        })
    }

    #[allow(clippy::type_complexity)]
    fn block(&mut self) -> Result<(Vec<(String, SpanId, Ast)>, Ast), TextError> {
        self.expect("{", "`{`")?;
        let mut lets = Vec::new();
        loop {
            if matches!(self.peek(), Some(T::Ident(s)) if s == "let") {
                self.k += 1;
                let (name, at) = self.ident("a name after `let`")?;
                check_name(&name, at.clone())?;
                self.expect("=", "`=` in the `let` binding")?;
                let value = self.expr()?;
                self.expect(";", "`;` after the `let` binding")?;
                let id = self.span(at);
                lets.push((name, id, value));
                continue;
            }
            if self.is("}") {
                return err(self.here(), "the formula block has no final expression");
            }
            let body = self.expr()?;
            self.expect(
                "}",
                "`}`: a formula block holds `let` bindings followed by one expression",
            )?;
            return Ok((lets, body));
        }
    }

    fn expr(&mut self) -> Result<Ast, TextError> {
        self.nest()?;
        let e = self.binary(1);
        self.depth -= 1;
        e
    }

    fn binary(&mut self, min: u8) -> Result<Ast, TextError> {
        let start = self.here().start;
        let mut lhs = self.unary()?;
        while let Some((p, bop)) = match self.peek() {
            Some(T::P(op)) => prec(op).filter(|&(p, _)| p >= min),
            _ => None,
        } {
            self.k += 1;
            self.nest()?;
            let rhs = self.binary(p + 1)?;
            self.depth -= 1;
            if p == 1
                && matches!(self.peek(), Some(T::P(q)) if prec(q).is_some_and(|(r, _)| r == 1))
            {
                return err(self.here(), "comparison operators cannot be chained");
            }
            let span = self.span(start..self.prev_end());
            lhs = Ast::Binary {
                op: bop,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                span,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Ast, TextError> {
        let at = self.here();
        if self.eat("-") {
            self.nest()?;
            let x = self.unary()?;
            self.depth -= 1;
            let span = self.span(at.start..self.prev_end());
            return Ok(Ast::Neg(Box::new(x), span));
        }
        if self.is("!") {
            return err(at, "unsupported unary operator (only `-x` is allowed)");
        }
        if self.is("&") || self.is("&&") {
            return err(at, "references are not formulas: write the variable name");
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, TextError> {
        let start = self.here().start;
        let mut e = self.primary()?;
        loop {
            if self.is(".") {
                self.k += 1;
                let (method, mat) = self.ident("a method name after `.`")?;
                if self.is("::") {
                    return err(self.here(), "unexpected `::<...>` in a formula");
                }
                if !self.is("(") {
                    return err(mat, "unsupported expression in a formula (expected operators, function or method calls, indexing, numbers and variable names)");
                }
                let args = self.args()?;
                let method_span = self.span(mat);
                let span = self.span(start..self.prev_end());
                e = Ast::Method {
                    recv: Box::new(e),
                    method,
                    method_span,
                    args,
                    span,
                };
            } else if self.is("[") {
                self.k += 1;
                let index = self.index()?;
                self.expect("]", "`]`")?;
                let span = self.span(start..self.prev_end());
                e = Ast::Index {
                    base: Box::new(e),
                    index,
                    span,
                };
            } else {
                return Ok(e);
            }
        }
    }

    /// An index `k`, or a range `a..b`, `a..=b`, `..b`, `a..`.
    fn index(&mut self) -> Result<IndexKind, TextError> {
        let lit = |p: &mut Self| -> Result<i64, TextError> {
            let neg = p.eat("-");
            let paren = p.eat("(");
            let v = match p.peek() {
                Some(T::Int(v)) => *v,
                _ => {
                    return err(
                        p.here(),
                        "indices and slice bounds must be integer literals",
                    )
                }
            };
            p.k += 1;
            if paren {
                p.expect(")", "`)`")?;
            }
            Ok(if neg { v.saturating_neg() } else { v })
        };
        let range_end = |p: &mut Self| -> Result<Option<i64>, TextError> {
            if p.eat("..=") {
                let at = p.here();
                let e = lit(p)?;
                return match e.checked_add(1) {
                    Some(e) => Ok(Some(e)),
                    None => err(at, "slice bound out of range"),
                };
            }
            if p.eat("..") {
                return if p.is("]") {
                    Ok(None)
                } else {
                    lit(p).map(Some)
                };
            }
            err(p.here(), "expected `..`")
        };
        if self.is("..") || self.is("..=") {
            return Ok(IndexKind::Range(None, range_end(self)?));
        }
        let a = lit(self)?;
        if self.is("..") || self.is("..=") {
            return Ok(IndexKind::Range(Some(a), range_end(self)?));
        }
        Ok(IndexKind::Single(a))
    }

    fn args(&mut self) -> Result<Vec<Arg>, TextError> {
        self.expect("(", "`(`")?;
        let mut args = Vec::new();
        while !self.is(")") {
            let keyword = match (self.peek(), self.peek_at(1)) {
                (Some(T::Ident(_)), Some(T::P("="))) => {
                    let (k, at) = self.ident("a keyword")?;
                    self.k += 1;
                    Some((k, self.span(at)))
                }
                _ => None,
            };
            args.push(Arg {
                keyword,
                value: self.expr()?,
            });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")", "`)` or `,` in the arguments")?;
        Ok(args)
    }

    fn primary(&mut self) -> Result<Ast, TextError> {
        let at = self.here();
        match self.peek().cloned() {
            Some(T::Ident(name)) => {
                self.k += 1;
                if self.is("(") {
                    self.nest()?;
                    let args = self.args()?;
                    self.depth -= 1;
                    let func_span = self.span(at.clone());
                    let span = self.span(at.start..self.prev_end());
                    return Ok(Ast::Call {
                        func: name,
                        func_span,
                        args,
                        span,
                    });
                }
                if self.is("::") {
                    return err(at.start..self.here().end, "expected a variable name");
                }
                Ok(Ast::Name(name, self.span(at)))
            }
            Some(T::Int(v)) => {
                self.k += 1;
                Ok(Ast::Num {
                    value: v as f64,
                    int: true,
                    span: self.span(at),
                })
            }
            Some(T::Float(v)) => {
                self.k += 1;
                Ok(Ast::Num {
                    value: v,
                    int: false,
                    span: self.span(at),
                })
            }
            Some(T::P("(")) => {
                self.k += 1;
                self.nest()?;
                if self.is(")") {
                    return err(self.here(), "unsupported expression in a formula (expected operators, function or method calls, indexing, numbers and variable names)");
                }
                let first = self.expr()?;
                let e = if self.eat(",") {
                    let mut items = vec![first];
                    while !self.is(")") {
                        items.push(self.expr()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect(")", "`)` or `,`")?;
                    let span = self.span(at.start..self.prev_end());
                    Ast::List(items, span)
                } else {
                    self.expect(")", "`)`")?;
                    first
                };
                self.depth -= 1;
                Ok(e)
            }
            Some(T::P("[")) => {
                self.k += 1;
                self.nest()?;
                let mut items = Vec::new();
                while !self.is("]") {
                    items.push(self.expr()?);
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect("]", "`]` or `,`")?;
                self.depth -= 1;
                let span = self.span(at.start..self.prev_end());
                Ok(Ast::List(items, span))
            }
            _ => err(
                at,
                "unsupported expression in a formula (expected operators, function or method calls, indexing, numbers and variable names)",
            ),
        }
    }
}
