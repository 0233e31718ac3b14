//! Statement-level parser: tokens → a syntax tree of kernels, declarations,
//! labels and raw instructions. Instruction semantics are checked later by
//! `decode`.

use super::lex::{lex, Tok, Token};
use super::SimError;

/// A parsed module.
#[derive(Debug, Default)]
pub(crate) struct PModule {
    pub entries: Vec<PEntry>,
    /// Module-level `.shared` / `.extern .shared` variables.
    pub shared: Vec<PShared>,
}

/// One `.entry`.
#[derive(Debug)]
pub(crate) struct PEntry {
    pub name: String,
    pub line: usize,
    pub params: Vec<PParam>,
    /// Performance directives: name (`.maxntid`), values, line.
    pub perf: Vec<(String, Vec<u64>, usize)>,
    pub body: Vec<PStmt>,
}

/// One kernel parameter.
#[derive(Debug)]
pub(crate) struct PParam {
    pub name: String,
    pub ty: String,
    pub align: Option<u64>,
    pub line: usize,
}

/// A `.shared` variable declaration.
#[derive(Debug, Clone)]
pub(crate) struct PShared {
    pub name: String,
    pub ty: String,
    pub align: Option<u64>,
    /// `None`: a scalar; `Some(None)`: `name[]`; `Some(Some(n))`: `name[n]`.
    pub count: Option<Option<u64>>,
    pub is_extern: bool,
    pub line: usize,
}

/// A register declaration name: `%r` (single) or `%r<8>` (range).
#[derive(Debug)]
pub(crate) struct PRegName {
    pub name: String,
    pub range: Option<u64>,
}

/// A statement in a kernel body.
#[derive(Debug)]
pub(crate) enum PStmt {
    Reg {
        ty: String,
        names: Vec<PRegName>,
        line: usize,
    },
    Shared(PShared),
    Label(String, usize),
    Inst(PInst),
}

/// An instruction as written.
#[derive(Debug)]
pub(crate) struct PInst {
    pub line: usize,
    /// `(negated, predicate register)`.
    pub guard: Option<(bool, String)>,
    pub opcode: String,
    pub operands: Vec<POp>,
}

/// An operand as written.
#[derive(Debug, Clone)]
pub(crate) enum POp {
    /// A register, special register or symbol name.
    Name(String),
    /// `!name` (negated predicate).
    Not(String),
    /// A numeric literal, with a leading minus sign if any.
    Imm { neg: bool, text: String },
    /// `[base+offset]`; `base` is `None` for an absolute address `[imm]`.
    Addr { base: Option<String>, offset: i64 },
    /// `{a, b, ...}`.
    Vector(Vec<POp>),
    /// `p|q` (two-destination setp).
    PredPair(String, String),
    /// `_` (sink).
    Sink,
}

impl POp {
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            POp::Name(n) => n.clone(),
            POp::Not(n) => format!("!{n}"),
            POp::Imm { neg, text } => format!("{}{text}", if *neg { "-" } else { "" }),
            POp::Addr { base, offset } => match base {
                Some(b) => format!("[{b}{offset:+}]"),
                None => format!("[{offset}]"),
            },
            POp::Vector(v) => {
                let parts: Vec<String> = v.iter().map(|o| o.describe()).collect();
                format!("{{{}}}", parts.join(", "))
            }
            POp::PredPair(a, b) => format!("{a}|{b}"),
            POp::Sink => "_".into(),
        }
    }
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    src: &'a str,
    /// The entry being parsed (for error messages).
    kernel: Option<String>,
}

/// Parses a non-negative integer literal (decimal, hex, octal, binary; optional `U` suffix).
pub(crate) fn parse_uint(text: &str) -> Option<u64> {
    let t = text.strip_suffix(['U', 'u']).unwrap_or(text);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(bn) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        u64::from_str_radix(bn, 2).ok()
    } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|c| c.is_ascii_digit()) {
        u64::from_str_radix(&t[1..], 8).ok()
    } else if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

impl<'a> Parser<'a> {
    fn line_text(&self, line: usize) -> String {
        self.src
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    fn cur_line(&self) -> usize {
        match self.toks.get(self.pos) {
            Some(t) => t.line,
            None => self.toks.last().map(|t| t.line).unwrap_or(1),
        }
    }

    fn err<T>(&self, line: usize, msg: impl Into<String>) -> Result<T, SimError> {
        Err(SimError::Parse {
            kernel: self.kernel.clone(),
            line,
            text: self.line_text(line),
            message: msg.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }

    fn next(&mut self) -> Result<Token, SimError> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.clone())
            }
            None => self.err(self.cur_line(), "unexpected end of input"),
        }
    }

    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Tok::Punct(p)) if *p == c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), SimError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            let found = self.describe_next();
            self.err(self.cur_line(), format!("expected `{c}`, found {found}"))
        }
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            Some(Tok::Ident(s)) | Some(Tok::Num(s)) => format!("`{s}`"),
            Some(Tok::Str(s)) => format!("\"{s}\""),
            Some(Tok::Punct(c)) => format!("`{c}`"),
            None => "end of input".into(),
        }
    }

    fn ident(&mut self) -> Result<(String, usize), SimError> {
        let line = self.cur_line();
        match self.peek().cloned() {
            Some(Tok::Ident(s)) => {
                self.pos += 1;
                Ok((s, line))
            }
            _ => {
                let found = self.describe_next();
                self.err(line, format!("expected a name, found {found}"))
            }
        }
    }

    fn uint(&mut self) -> Result<u64, SimError> {
        let line = self.cur_line();
        match self.peek().cloned() {
            Some(Tok::Num(s)) => {
                self.pos += 1;
                match parse_uint(&s) {
                    Some(v) => Ok(v),
                    None => self.err(line, format!("invalid integer `{s}`")),
                }
            }
            _ => {
                let found = self.describe_next();
                self.err(line, format!("expected an integer, found {found}"))
            }
        }
    }

    /// Skips every remaining token on `line` (for `.loc`, `.file`).
    fn skip_line(&mut self, line: usize) {
        while let Some(t) = self.toks.get(self.pos) {
            if t.line != line {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_to_semicolon(&mut self) -> Result<(), SimError> {
        loop {
            let t = self.next()?;
            if t.tok == Tok::Punct(';') {
                return Ok(());
            }
        }
    }

    fn module(&mut self) -> Result<PModule, SimError> {
        let mut m = PModule::default();
        let mut saw_version = false;
        let mut saw_target = false;
        while self.pos < self.toks.len() {
            let (word, line) = self.ident()?;
            match word.as_str() {
                ".version" => {
                    match self.next()?.tok {
                        Tok::Num(v) => {
                            let ok = v
                                .split_once('.')
                                .map(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
                                .unwrap_or(false);
                            if !ok {
                                return self.err(line, format!("invalid .version `{v}`"));
                            }
                        }
                        _ => return self.err(line, "expected a version number"),
                    }
                    saw_version = true;
                }
                ".target" => {
                    self.ident()?;
                    while self.eat_punct(',') {
                        self.ident()?;
                    }
                    saw_target = true;
                }
                ".address_size" => {
                    let v = self.uint()?;
                    if v != 64 {
                        return self.err(line, "only `.address_size 64` is supported");
                    }
                }
                ".file" | ".loc" => self.skip_line(line),
                ".pragma" => self.skip_to_semicolon()?,
                ".visible" | ".weak" | ".extern" | ".entry" | ".shared" | ".func" | ".global"
                | ".const" | ".local" => {
                    let mut quals = vec![word.clone()];
                    while let Some(Tok::Ident(s)) = self.peek() {
                        if matches!(s.as_str(), ".visible" | ".weak" | ".extern") {
                            quals.push(s.clone());
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let kind = if matches!(word.as_str(), ".visible" | ".weak" | ".extern") {
                        self.ident()?.0
                    } else {
                        quals.pop();
                        word.clone()
                    };
                    let is_extern = quals.iter().any(|q| q == ".extern");
                    match kind.as_str() {
                        ".entry" => {
                            let e = self.entry(line)?;
                            m.entries.push(e);
                        }
                        ".shared" => {
                            let s = self.shared_decl(line, is_extern)?;
                            m.shared.push(s);
                        }
                        ".func" => {
                            return self.err(
                                line,
                                "device functions (`.func`) are not supported by the simulator",
                            )
                        }
                        other => {
                            return self.err(
                                line,
                                format!(
                                    "module-level `{other}` declarations are not supported by the simulator"
                                ),
                            )
                        }
                    }
                }
                other => {
                    return self.err(
                        line,
                        format!("unsupported module-level directive `{other}`"),
                    )
                }
            }
        }
        if !saw_version {
            return self.err(1, "missing `.version` directive");
        }
        if !saw_target {
            return self.err(1, "missing `.target` directive");
        }
        Ok(m)
    }

    fn shared_decl(&mut self, line: usize, is_extern: bool) -> Result<PShared, SimError> {
        let mut align = None;
        let mut ty = None;
        loop {
            let (w, l) = self.ident()?;
            match w.as_str() {
                ".align" => align = Some(self.uint()?),
                t if t.starts_with('.') => {
                    if ty.is_some() {
                        return self.err(l, format!("unexpected `{t}` in .shared declaration"));
                    }
                    ty = Some(t.to_string());
                }
                name => {
                    let Some(ty) = ty else {
                        return self.err(l, "missing type in .shared declaration");
                    };
                    let count = if self.eat_punct('[') {
                        if self.eat_punct(']') {
                            Some(None)
                        } else {
                            let n = self.uint()?;
                            self.expect_punct(']')?;
                            Some(Some(n))
                        }
                    } else {
                        None
                    };
                    if self.is_punct('=') {
                        return self.err(l, "initialisers on .shared variables are not allowed");
                    }
                    self.expect_punct(';')?;
                    return Ok(PShared {
                        name: name.to_string(),
                        ty,
                        align,
                        count,
                        is_extern,
                        line,
                    });
                }
            }
        }
    }

    fn entry(&mut self, line: usize) -> Result<PEntry, SimError> {
        let (name, _) = self.ident()?;
        self.kernel = Some(name.clone());
        let mut params = Vec::new();
        if self.eat_punct('(') && !self.eat_punct(')') {
            loop {
                params.push(self.param()?);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        let mut perf = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Punct('{')) => break,
                Some(Tok::Ident(d)) if d.starts_with('.') => {
                    let l = self.cur_line();
                    self.pos += 1;
                    match d.as_str() {
                        ".maxntid" | ".reqntid" | ".minnctapersm" | ".maxnreg"
                        | ".maxnctapersm" => {
                            let mut vals = vec![self.uint()?];
                            while self.eat_punct(',') {
                                vals.push(self.uint()?);
                            }
                            perf.push((d, vals, l));
                        }
                        ".noreturn" => {}
                        ".loc" | ".file" => self.skip_line(l),
                        ".pragma" => self.skip_to_semicolon()?,
                        _ => return self.err(l, format!("unsupported entry directive `{d}`")),
                    }
                }
                _ => {
                    let found = self.describe_next();
                    return self.err(
                        self.cur_line(),
                        format!("expected `{{` to open the body of `{name}`, found {found}"),
                    );
                }
            }
        }
        self.expect_punct('{')?;
        let mut depth = 1usize;
        let mut body = Vec::new();
        while depth > 0 {
            if self.eat_punct('{') {
                depth += 1;
                continue;
            }
            if self.eat_punct('}') {
                depth -= 1;
                continue;
            }
            if self.pos >= self.toks.len() {
                return self.err(line, format!("unterminated body of kernel `{name}`"));
            }
            self.statement(&mut body)?;
        }
        self.kernel = None;
        Ok(PEntry {
            name,
            line,
            params,
            perf,
            body,
        })
    }

    fn param(&mut self) -> Result<PParam, SimError> {
        let (p, line) = self.ident()?;
        if p != ".param" {
            return self.err(line, format!("expected `.param`, found `{p}`"));
        }
        let mut ty = None;
        let mut align = None;
        loop {
            let (w, l) = self.ident()?;
            match w.as_str() {
                ".align" => align = Some(self.uint()?),
                s if s.starts_with(".ptr") => {
                    // `.ptr`, `.ptr.global`, `.ptr.shared.align` style attributes.
                    if s.ends_with(".align") {
                        align = Some(self.uint()?);
                    }
                }
                ".global" | ".shared" | ".const" | ".local" => {}
                s if s.starts_with('.') => {
                    if ty.is_some() {
                        return self.err(l, format!("unexpected `{s}` in parameter declaration"));
                    }
                    ty = Some(s.to_string());
                }
                name => {
                    let Some(ty) = ty else {
                        return self.err(l, "missing type in parameter declaration");
                    };
                    if self.is_punct('[') {
                        return self.err(l, "array parameters are not supported by the simulator");
                    }
                    return Ok(PParam {
                        name: name.to_string(),
                        ty,
                        align,
                        line,
                    });
                }
            }
        }
    }

    fn statement(&mut self, body: &mut Vec<PStmt>) -> Result<(), SimError> {
        let line = self.cur_line();
        // label?
        if let (Some(Tok::Ident(name)), Some(Tok::Punct(':'))) = (self.peek(), self.peek_at(1)) {
            if !name.starts_with('.') {
                let name = name.clone();
                self.pos += 2;
                body.push(PStmt::Label(name, line));
                return Ok(());
            }
        }
        if let Some(Tok::Ident(w)) = self.peek() {
            if w.starts_with('.') {
                let w = w.clone();
                self.pos += 1;
                return match w.as_str() {
                    ".reg" => {
                        let (ty, l) = self.ident()?;
                        if !ty.starts_with('.') {
                            return self.err(l, format!("expected a register type, found `{ty}`"));
                        }
                        let mut names = Vec::new();
                        loop {
                            let (n, _) = self.ident()?;
                            let range = if self.eat_punct('<') {
                                let k = self.uint()?;
                                self.expect_punct('>')?;
                                Some(k)
                            } else {
                                None
                            };
                            names.push(PRegName { name: n, range });
                            if self.eat_punct(';') {
                                break;
                            }
                            self.expect_punct(',')?;
                        }
                        body.push(PStmt::Reg { ty, names, line });
                        Ok(())
                    }
                    ".shared" => {
                        let s = self.shared_decl(line, false)?;
                        body.push(PStmt::Shared(s));
                        Ok(())
                    }
                    ".extern" => {
                        let (k, l) = self.ident()?;
                        if k != ".shared" {
                            return self
                                .err(l, format!("unsupported `.extern {k}` in a kernel body"));
                        }
                        let s = self.shared_decl(line, true)?;
                        body.push(PStmt::Shared(s));
                        Ok(())
                    }
                    ".loc" | ".file" => {
                        self.skip_line(line);
                        Ok(())
                    }
                    ".pragma" => self.skip_to_semicolon(),
                    other => self.err(
                        line,
                        format!("unsupported directive `{other}` in a kernel body"),
                    ),
                };
            }
        }
        let guard = if self.eat_punct('@') {
            let neg = self.eat_punct('!');
            let (p, _) = self.ident()?;
            Some((neg, p))
        } else {
            None
        };
        let (opcode, l) = self.ident()?;
        if opcode.starts_with('%') {
            return self.err(l, format!("expected an instruction, found `{opcode}`"));
        }
        let mut operands = Vec::new();
        if !self.eat_punct(';') {
            loop {
                operands.push(self.operand()?);
                if self.eat_punct(';') {
                    break;
                }
                if !self.eat_punct(',') {
                    let found = self.describe_next();
                    return self.err(
                        self.cur_line(),
                        format!("expected `,` or `;` after an operand, found {found}"),
                    );
                }
            }
        }
        body.push(PStmt::Inst(PInst {
            line,
            guard,
            opcode,
            operands,
        }));
        Ok(())
    }

    fn number_after_sign(&mut self) -> Result<(bool, String), SimError> {
        let neg = if self.eat_punct('-') {
            true
        } else {
            self.eat_punct('+');
            false
        };
        match self.next()?.tok {
            Tok::Num(n) => Ok((neg, n)),
            _ => self.err(self.cur_line(), "expected a number"),
        }
    }

    fn operand(&mut self) -> Result<POp, SimError> {
        let line = self.cur_line();
        match self.peek().cloned() {
            Some(Tok::Punct('[')) => {
                self.pos += 1;
                let (base, mut offset) = match self.peek().cloned() {
                    Some(Tok::Ident(n)) => {
                        self.pos += 1;
                        (Some(n), 0i64)
                    }
                    Some(Tok::Num(_)) => {
                        let (_, n) = self.number_after_sign()?;
                        match parse_uint(&n) {
                            Some(v) => (None, v as i64),
                            None => return self.err(line, format!("invalid address `{n}`")),
                        }
                    }
                    _ => return self.err(line, "invalid address operand"),
                };
                if self.is_punct('+') || self.is_punct('-') {
                    // `+4`, `+-4` and `-4` all reach here; `number_after_sign`
                    // consumes the optional sign after a leading `+`.
                    self.eat_punct('+');
                    let (neg, n) = self.number_after_sign()?;
                    let v = match parse_uint(&n) {
                        Some(v) if v <= i64::MAX as u64 => v as i64,
                        _ => return self.err(line, format!("invalid address offset `{n}`")),
                    };
                    offset = offset.wrapping_add(if neg { -v } else { v });
                }
                self.expect_punct(']')?;
                Ok(POp::Addr { base, offset })
            }
            Some(Tok::Punct('{')) => {
                self.pos += 1;
                let mut v = Vec::new();
                loop {
                    v.push(self.operand()?);
                    if self.eat_punct('}') {
                        break;
                    }
                    self.expect_punct(',')?;
                }
                Ok(POp::Vector(v))
            }
            Some(Tok::Punct('!')) => {
                self.pos += 1;
                let (n, _) = self.ident()?;
                Ok(POp::Not(n))
            }
            Some(Tok::Punct('-')) | Some(Tok::Punct('+')) | Some(Tok::Num(_)) => {
                let (neg, text) = self.number_after_sign()?;
                Ok(POp::Imm { neg, text })
            }
            Some(Tok::Ident(n)) => {
                self.pos += 1;
                if n == "_" {
                    return Ok(POp::Sink);
                }
                if self.eat_punct('|') {
                    let (q, _) = self.ident()?;
                    return Ok(POp::PredPair(n, q));
                }
                Ok(POp::Name(n))
            }
            _ => {
                let found = self.describe_next();
                self.err(line, format!("expected an operand, found {found}"))
            }
        }
    }
}

/// Parses PTX text into a syntax tree.
pub(crate) fn parse(src: &str) -> Result<PModule, SimError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        src,
        kernel: None,
    };
    p.module()
}
