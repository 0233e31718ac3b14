//! A kernel definition as a compact text, and back: what a compiled kernel
//! carries so that the pipeline can build its family again at run time
//! (for instance at the widths of a call, to emit PTX for them).
//!
//! The text is a sequence of space-separated tokens in prefix order:
//! numbers in decimal, `f64`s as the hexadecimal of their bits, strings as
//! `<length>:<bytes>`, absent values as `~`. Spans are not kept (every
//! [`SpanId`] reads back as 0). [`read`] accepts exactly what [`write`]
//! produces; anything else is an `Err` with the byte position.

use crate::ast::{Arg, Ast, BinOp, IndexKind, KernelDef, Param, SpanId};
use crate::ir::Cat;
use crate::Options;

/// The definition as text.
pub fn write(def: &KernelDef) -> String {
    let mut w = Writer(String::new());
    let o = &def.options;
    w.num(o.grad_order as i64);
    w.flag(o.grad_order_given);
    w.flag(o.debug);
    w.flag(o.fast_math);
    w.num(def.params.len() as i64);
    for p in &def.params {
        w.str(&p.name);
        w.tok(match p.cat {
            Cat::I => "I",
            Cat::J => "J",
            Cat::P => "P",
        });
        w.num(p.dim as i64);
        match &p.width {
            Some(n) => w.str(n),
            None => w.tok("~"),
        }
    }
    w.num(def.lets.len() as i64);
    for (name, _, ast) in &def.lets {
        w.str(name);
        w.ast(ast);
    }
    w.ast(&def.body);
    w.0
}

/// The definition written by [`write`].
pub fn read(text: &str) -> Result<KernelDef, String> {
    let mut r = Reader { s: text, pos: 0 };
    let options = Options {
        grad_order: r.num()? as u32,
        grad_order_given: r.flag()?,
        debug: r.flag()?,
        fast_math: r.flag()?,
    };
    let np = r.count()?;
    let mut params = Vec::with_capacity(np);
    for _ in 0..np {
        let name = r.str()?;
        let cat = match r.tok()? {
            "I" => Cat::I,
            "J" => Cat::J,
            "P" => Cat::P,
            t => return Err(r.err(&format!("a category, not `{t}`"))),
        };
        let dim = u32::try_from(r.num()?).map_err(|_| r.err("a dimension"))?;
        let width = r.opt_str()?;
        params.push(Param {
            name,
            span: SpanId(0),
            cat,
            dim,
            width,
        });
    }
    let nl = r.count()?;
    let mut lets = Vec::with_capacity(nl);
    for _ in 0..nl {
        let name = r.str()?;
        lets.push((name, SpanId(0), r.ast(0)?));
    }
    let body = r.ast(0)?;
    if r.pos != r.s.len() {
        return Err(r.err("the end of the text"));
    }
    Ok(KernelDef {
        options,
        params,
        lets,
        body,
        span: SpanId(0),
    })
}

/// Deepest nesting [`read`] follows (the front end's limit is far below).
const MAX_DEPTH: usize = 4096;

struct Writer(String);

impl Writer {
    fn tok(&mut self, t: &str) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(t);
    }
    fn num(&mut self, n: i64) {
        self.tok(&n.to_string());
    }
    fn flag(&mut self, b: bool) {
        self.tok(if b { "1" } else { "0" });
    }
    fn str(&mut self, s: &str) {
        self.tok(&format!("{}:{s}", s.len()));
    }
    fn args(&mut self, args: &[Arg]) {
        self.num(args.len() as i64);
        for a in args {
            match &a.keyword {
                Some((k, _)) => self.str(k),
                None => self.tok("~"),
            }
            self.ast(&a.value);
        }
    }
    fn opt(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.num(v),
            None => self.tok("~"),
        }
    }
    fn ast(&mut self, a: &Ast) {
        match a {
            Ast::Name(n, _) => {
                self.tok("n");
                self.str(n);
            }
            Ast::Num { value, int, .. } => {
                self.tok(if *int { "i" } else { "f" });
                self.tok(&format!("{:x}", value.to_bits()));
            }
            Ast::Call { func, args, .. } => {
                self.tok("c");
                self.str(func);
                self.args(args);
            }
            Ast::Method {
                recv, method, args, ..
            } => {
                self.tok("m");
                self.ast(recv);
                self.str(method);
                self.args(args);
            }
            Ast::Binary { op, lhs, rhs, .. } => {
                self.tok("b");
                self.tok(op.symbol());
                self.ast(lhs);
                self.ast(rhs);
            }
            Ast::Neg(x, _) => {
                self.tok("-");
                self.ast(x);
            }
            Ast::Index { base, index, .. } => {
                self.tok("x");
                self.ast(base);
                match index {
                    IndexKind::Single(k) => {
                        self.tok("s");
                        self.num(*k);
                    }
                    IndexKind::Range(a, b) => {
                        self.tok("r");
                        self.opt(*a);
                        self.opt(*b);
                    }
                }
            }
            Ast::List(items, _) => {
                self.tok("l");
                self.num(items.len() as i64);
                for it in items {
                    self.ast(it);
                }
            }
        }
    }
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> String {
        format!("kernel text at byte {}: expected {what}", self.pos)
    }
    fn tok(&mut self) -> Result<&'a str, String> {
        let rest = &self.s[self.pos..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let start = self.s.len() - rest.len();
        let len = rest.find(' ').unwrap_or(rest.len());
        if len == 0 {
            self.pos = start;
            return Err(self.err("a token"));
        }
        self.pos = start + len;
        Ok(&self.s[start..start + len])
    }
    fn num(&mut self) -> Result<i64, String> {
        let t = self.tok()?;
        t.parse()
            .map_err(|_| self.err(&format!("a number, not `{t}`")))
    }
    fn count(&mut self) -> Result<usize, String> {
        let n = self.num()?;
        // Every item takes at least two bytes of text.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.s.len())
            .ok_or_else(|| self.err("a count"))
    }
    fn opt(&mut self) -> Result<Option<i64>, String> {
        if self.peek_absent() {
            self.tok()?;
            return Ok(None);
        }
        self.num().map(Some)
    }
    fn flag(&mut self) -> Result<bool, String> {
        match self.tok()? {
            "0" => Ok(false),
            "1" => Ok(true),
            t => Err(self.err(&format!("0 or 1, not `{t}`"))),
        }
    }
    fn peek_absent(&self) -> bool {
        let rest = &self.s[self.pos..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        rest == "~" || rest.starts_with("~ ")
    }
    fn str(&mut self) -> Result<String, String> {
        let rest = &self.s[self.pos..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        self.pos = self.s.len() - rest.len();
        let colon = rest.find(':').ok_or_else(|| self.err("a string"))?;
        let len: usize = rest[..colon]
            .parse()
            .map_err(|_| self.err("a string length"))?;
        let start = self.pos + colon + 1;
        let end = start.checked_add(len).filter(|&e| e <= self.s.len());
        let end = end.ok_or_else(|| self.err("a string within the text"))?;
        let s = self
            .s
            .get(start..end)
            .ok_or_else(|| self.err("a whole string"))?;
        self.pos = end;
        Ok(s.to_string())
    }
    fn opt_str(&mut self) -> Result<Option<String>, String> {
        if self.peek_absent() {
            self.tok()?;
            return Ok(None);
        }
        self.str().map(Some)
    }
    fn args(&mut self, depth: usize) -> Result<Vec<Arg>, String> {
        let n = self.count()?;
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            let keyword = self.opt_str()?.map(|k| (k, SpanId(0)));
            args.push(Arg {
                keyword,
                value: self.ast(depth + 1)?,
            });
        }
        Ok(args)
    }
    fn ast(&mut self, depth: usize) -> Result<Ast, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("a shallower formula"));
        }
        let span = SpanId(0);
        let boxed = |r: &mut Self| r.ast(depth + 1).map(Box::new);
        Ok(match self.tok()? {
            "n" => Ast::Name(self.str()?, span),
            t @ ("i" | "f") => {
                let bits = self.tok()?;
                let bits = u64::from_str_radix(bits, 16).map_err(|_| self.err("f64 bits"))?;
                Ast::Num {
                    value: f64::from_bits(bits),
                    int: t == "i",
                    span,
                }
            }
            "c" => Ast::Call {
                func: self.str()?,
                func_span: span,
                args: self.args(depth)?,
                span,
            },
            "m" => {
                let recv = boxed(self)?;
                Ast::Method {
                    recv,
                    method: self.str()?,
                    method_span: span,
                    args: self.args(depth)?,
                    span,
                }
            }
            "b" => {
                let sym = self.tok()?;
                let op = BinOp::from_symbol(sym).ok_or_else(|| self.err("an operator"))?;
                let lhs = boxed(self)?;
                let rhs = boxed(self)?;
                Ast::Binary { op, lhs, rhs, span }
            }
            "-" => Ast::Neg(boxed(self)?, span),
            "x" => {
                let base = boxed(self)?;
                let index = match self.tok()? {
                    "s" => IndexKind::Single(self.num()?),
                    "r" => IndexKind::Range(self.opt()?, self.opt()?),
                    t => return Err(self.err(&format!("`s` or `r`, not `{t}`"))),
                };
                Ast::Index { base, index, span }
            }
            "l" => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.ast(depth + 1)?);
                }
                Ast::List(items, span)
            }
            t => return Err(self.err(&format!("an expression, not `{t}`"))),
        })
    }
}
