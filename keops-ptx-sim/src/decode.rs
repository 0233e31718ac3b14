//! Decoding: syntax tree → [`Kernel`]s with dense register indices,
//! resolved labels, laid-out shared memory and parameters, and fully
//! typed [`Op`]s. Everything the simulator does not understand is an error
//! naming the source line.

use std::collections::{HashMap, HashSet};

use super::float::{self, Rnd};
use super::inst::*;
use super::parse::{parse, parse_uint, PEntry, PInst, POp, PShared, PStmt};
use super::SimError;

/// Maximum static shared memory per kernel (48 KiB, as ptxas enforces).
pub(crate) const MAX_STATIC_SHARED: u64 = 48 * 1024;

/// A kernel parameter after layout.
#[derive(Clone, Debug)]
pub(crate) struct ParamInfo {
    pub name: String,
    pub ty: Ty,
    pub offset: u32,
}

/// A shared variable after layout.
#[derive(Clone, Debug)]
pub(crate) struct SharedVar {
    pub name: String,
    pub offset: u32,
    /// `None` for the dynamic (extern) window.
    pub size: Option<u32>,
}

/// A decoded kernel.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub name: String,
    pub params: Vec<ParamInfo>,
    pub param_bytes: usize,
    /// Declared registers followed by constant registers.
    pub nregs: usize,
    pub reg_names: Vec<String>,
    /// Index of the first constant register.
    pub const_base: usize,
    /// Values of the constant registers.
    pub consts: Vec<u64>,
    pub code: Vec<Inst>,
    /// Source line of each instruction.
    pub lines: Vec<usize>,
    /// Source text (trimmed line) of each instruction.
    pub texts: Vec<String>,
    /// Bytes of static shared memory.
    pub shared_static: u32,
    /// Offset of the dynamic shared window (aligned end of static data).
    pub dyn_offset: u32,
    pub shared_vars: Vec<SharedVar>,
    pub maxntid: Option<[u32; 3]>,
    pub reqntid: Option<[u32; 3]>,
    pub minnctapersm: Option<u32>,
    pub maxnreg: Option<u32>,
}

/// Parses and decodes a whole module.
pub(crate) fn decode_module(src: &str) -> Result<Vec<Kernel>, SimError> {
    let m = parse(src)?;
    let lines: Vec<&str> = src.lines().collect();
    let mut names = HashSet::new();
    for s in &m.shared {
        if !names.insert(s.name.clone()) {
            return Err(perr(
                &lines,
                None,
                s.line,
                format!("duplicate symbol `{}`", s.name),
            ));
        }
    }
    let mut kernels = Vec::new();
    let mut knames = HashSet::new();
    for e in &m.entries {
        if !knames.insert(e.name.clone()) {
            return Err(perr(
                &lines,
                None,
                e.line,
                format!("duplicate kernel `{}`", e.name),
            ));
        }
        kernels.push(decode_entry(e, &m.shared, &lines)?);
    }
    Ok(kernels)
}

fn perr(lines: &[&str], kernel: Option<&str>, line: usize, message: String) -> SimError {
    SimError::Parse {
        kernel: kernel.map(str::to_string),
        line,
        text: lines
            .get(line.wrapping_sub(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        message,
    }
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

fn reg_class(ty: &str) -> Option<RegClass> {
    Some(match ty {
        ".pred" => RegClass::Pred,
        ".b16" | ".u16" | ".s16" | ".f16" => RegClass::B16,
        ".b32" | ".u32" | ".s32" | ".f32" => RegClass::B32,
        ".b64" | ".u64" | ".s64" | ".f64" => RegClass::B64,
        _ => return None,
    })
}

fn sreg(name: &str) -> Option<Sreg> {
    let (base, dim) = name.rsplit_once('.')?;
    let k = match dim {
        "x" => 0,
        "y" => 1,
        "z" => 2,
        _ => return None,
    };
    Some(match base {
        "%tid" => Sreg::Tid(k),
        "%ntid" => Sreg::Ntid(k),
        "%ctaid" => Sreg::Ctaid(k),
        "%nctaid" => Sreg::Nctaid(k),
        _ => return None,
    })
}

fn is_special_name(name: &str) -> bool {
    name.starts_with("%tid")
        || name.starts_with("%ntid")
        || name.starts_with("%ctaid")
        || name.starts_with("%nctaid")
        || name.starts_with("%laneid")
        || name.starts_with("%warpid")
        || name.starts_with("%clock")
        || name.starts_with("%smid")
        || name.starts_with("%lanemask")
}

fn decode_entry(e: &PEntry, module_shared: &[PShared], lines: &[&str]) -> Result<Kernel, SimError> {
    let err = |line: usize, msg: String| perr(lines, Some(&e.name), line, msg);

    // ---- parameters ----
    let mut params = Vec::new();
    let mut param_map = HashMap::new();
    let mut off = 0u64;
    for p in &e.params {
        let ty = Ty::parse(p.ty.trim_start_matches('.'))
            .filter(|t| {
                matches!(
                    t,
                    Ty::U32 | Ty::S32 | Ty::U64 | Ty::S64 | Ty::F32 | Ty::F64 | Ty::B32 | Ty::B64
                )
            })
            .ok_or_else(|| {
                err(
                    p.line,
                    format!(
                        "unsupported parameter type `{}` (supported: .u32 .s32 .u64 .s64 .f32 .f64 .b32 .b64)",
                        p.ty
                    ),
                )
            })?;
        let size = ty.bits() as u64 / 8;
        let align = p.align.unwrap_or(size).max(size);
        if !align.is_power_of_two() {
            return Err(err(p.line, format!("invalid alignment {align}")));
        }
        off = align_up(off, align);
        if param_map
            .insert(p.name.clone(), (off as u32, size as u32))
            .is_some()
        {
            return Err(err(p.line, format!("duplicate parameter `{}`", p.name)));
        }
        params.push(ParamInfo {
            name: p.name.clone(),
            ty,
            offset: off as u32,
        });
        off += size;
    }
    let param_bytes = off as usize;

    // ---- performance directives ----
    let mut maxntid = None;
    let mut reqntid = None;
    let mut minnctapersm = None;
    let mut maxnreg = None;
    for (d, vals, line) in &e.perf {
        let dims = || -> Result<[u32; 3], SimError> {
            if vals.len() > 3 || vals.iter().any(|&v| v == 0 || v > 1024) {
                return Err(err(*line, format!("invalid `{d}` values")));
            }
            let mut r = [1u32; 3];
            for (i, v) in vals.iter().enumerate() {
                r[i] = *v as u32;
            }
            Ok(r)
        };
        match d.as_str() {
            ".maxntid" => maxntid = Some(dims()?),
            ".reqntid" => reqntid = Some(dims()?),
            ".minnctapersm" | ".maxnctapersm" => {
                if vals.len() != 1 {
                    return Err(err(*line, format!("`{d}` takes one value")));
                }
                if d == ".minnctapersm" {
                    minnctapersm = Some(vals[0] as u32);
                }
            }
            ".maxnreg" => {
                if vals.len() != 1 {
                    return Err(err(*line, "`.maxnreg` takes one value".into()));
                }
                maxnreg = Some(vals[0] as u32);
            }
            _ => return Err(err(*line, format!("unsupported directive `{d}`"))),
        }
    }

    // ---- registers, labels, shared declarations ----
    let mut regs: HashMap<String, (R, RegClass)> = HashMap::new();
    let mut reg_names: Vec<String> = Vec::new();
    let mut labels: HashMap<String, u32> = HashMap::new();
    let mut body_shared: Vec<&PShared> = Vec::new();
    let mut ninst = 0u32;
    for st in &e.body {
        match st {
            PStmt::Reg { ty, names, line } => {
                let class = reg_class(ty)
                    .ok_or_else(|| err(*line, format!("unsupported register type `{ty}`")))?;
                let mut declare = |name: String| -> Result<(), SimError> {
                    if let Some((_, c)) = regs.get(&name) {
                        if *c != class {
                            return Err(err(
                                *line,
                                format!("register `{name}` redeclared with a different type"),
                            ));
                        }
                        return Ok(());
                    }
                    if is_special_name(&name) {
                        return Err(err(*line, format!("`{name}` is a special register name")));
                    }
                    regs.insert(name.clone(), (reg_names.len() as R, class));
                    reg_names.push(name);
                    Ok(())
                };
                for n in names {
                    match n.range {
                        None => declare(n.name.clone())?,
                        Some(k) => {
                            if k > 1 << 16 {
                                return Err(err(*line, "register range too large".into()));
                            }
                            for i in 0..k {
                                declare(format!("{}{}", n.name, i))?;
                            }
                        }
                    }
                }
            }
            PStmt::Label(name, line) => {
                if labels.insert(name.clone(), ninst).is_some() {
                    return Err(err(*line, format!("duplicate label `{name}`")));
                }
            }
            PStmt::Shared(s) => body_shared.push(s),
            PStmt::Inst(_) => ninst += 1,
        }
    }

    // module-level shared variables referenced by this kernel
    let mut referenced = HashSet::new();
    fn collect(op: &POp, out: &mut HashSet<String>) {
        match op {
            POp::Name(n) => {
                out.insert(n.clone());
            }
            POp::Addr { base: Some(b), .. } => {
                out.insert(b.clone());
            }
            POp::Vector(v) => v.iter().for_each(|o| collect(o, out)),
            _ => {}
        }
    }
    for st in &e.body {
        if let PStmt::Inst(i) = st {
            for o in &i.operands {
                collect(o, &mut referenced);
            }
        }
    }

    // ---- shared layout ----
    let mut shared_vars = Vec::new();
    let mut shared_map: HashMap<String, u32> = HashMap::new();
    let mut cur = 0u64;
    let mut dyn_align = 16u64;
    let mut externs: Vec<&PShared> = Vec::new();
    let decls =
        body_shared
            .iter()
            .copied()
            .chain(module_shared.iter().filter(|s| {
                referenced.contains(&s.name) && !body_shared.iter().any(|b| b.name == s.name)
            }));
    for s in decls {
        let ty = Ty::parse(s.ty.trim_start_matches('.'))
            .filter(|t| *t != Ty::Pred)
            .ok_or_else(|| err(s.line, format!("unsupported .shared type `{}`", s.ty)))?;
        let esize = (ty.bits() / 8) as u64;
        let align = s.align.unwrap_or(esize).max(1);
        if !align.is_power_of_two() {
            return Err(err(s.line, format!("invalid alignment {align}")));
        }
        if regs.contains_key(&s.name) || param_map.contains_key(&s.name) {
            return Err(err(
                s.line,
                format!("`{}` conflicts with another declaration", s.name),
            ));
        }
        if s.is_extern {
            if s.count != Some(None) {
                return Err(err(
                    s.line,
                    "an `.extern .shared` variable must be an unsized array `name[]`".into(),
                ));
            }
            dyn_align = dyn_align.max(align);
            externs.push(s);
            continue;
        }
        let count = match s.count {
            None => 1,
            Some(Some(n)) => n,
            Some(None) => {
                return Err(err(
                    s.line,
                    "an unsized shared array must be declared `.extern`".into(),
                ))
            }
        };
        cur = align_up(cur, align);
        let size = count * esize;
        if shared_map.insert(s.name.clone(), cur as u32).is_some() {
            return Err(err(
                s.line,
                format!("duplicate shared variable `{}`", s.name),
            ));
        }
        shared_vars.push(SharedVar {
            name: s.name.clone(),
            offset: cur as u32,
            size: Some(size as u32),
        });
        cur += size;
        if cur > MAX_STATIC_SHARED {
            return Err(err(
                s.line,
                format!("static shared memory exceeds {MAX_STATIC_SHARED} bytes"),
            ));
        }
    }
    let shared_static = cur as u32;
    let dyn_offset = align_up(cur, dyn_align) as u32;
    for s in externs {
        if shared_map.insert(s.name.clone(), dyn_offset).is_some() {
            return Err(err(
                s.line,
                format!("duplicate shared variable `{}`", s.name),
            ));
        }
        shared_vars.push(SharedVar {
            name: s.name.clone(),
            offset: dyn_offset,
            size: None,
        });
    }

    // ---- instructions ----
    let nregs_decl = reg_names.len();
    let mut d = Dec {
        kernel: &e.name,
        lines,
        line: e.line,
        regs: &regs,
        labels: &labels,
        shared: &shared_map,
        params: &param_map,
        consts: Vec::new(),
        const_map: HashMap::new(),
        const_base: nregs_decl as u32,
    };
    let mut code = Vec::new();
    let mut ilines = Vec::new();
    let mut texts = Vec::new();
    for st in &e.body {
        if let PStmt::Inst(pi) = st {
            d.line = pi.line;
            let inst = d.inst(pi)?;
            code.push(inst);
            ilines.push(pi.line);
            texts.push(
                lines
                    .get(pi.line - 1)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
            );
        }
    }
    let consts = d.consts;
    let mut all_names = reg_names;
    all_names.extend(consts.iter().map(|v| format!("<constant {v:#x}>")));
    Ok(Kernel {
        name: e.name.clone(),
        params,
        param_bytes,
        nregs: nregs_decl + consts.len(),
        reg_names: all_names,
        const_base: nregs_decl,
        consts,
        code,
        lines: ilines,
        texts,
        shared_static,
        dyn_offset,
        shared_vars,
        maxntid,
        reqntid,
        minnctapersm,
        maxnreg,
    })
}

/// Modifier list of an opcode, with consumption tracking.
struct Mods<'a> {
    opcode: &'a str,
    parts: Vec<&'a str>,
    used: Vec<bool>,
}

impl<'a> Mods<'a> {
    fn new(opcode: &'a str) -> Self {
        let parts: Vec<&str> = opcode.split('.').skip(1).collect();
        let used = vec![false; parts.len()];
        Mods {
            opcode,
            parts,
            used,
        }
    }

    /// Takes modifier `m` if present.
    fn has(&mut self, m: &str) -> bool {
        for (i, p) in self.parts.iter().enumerate() {
            if !self.used[i] && *p == m {
                self.used[i] = true;
                return true;
            }
        }
        false
    }

    /// Takes at most one modifier of `set`.
    fn one_of(&mut self, set: &[&'a str]) -> Result<Option<&'a str>, String> {
        let mut found = None;
        for (i, p) in self.parts.iter().enumerate() {
            if !self.used[i] && set.contains(p) {
                if found.is_some() {
                    return Err(format!("conflicting modifiers in `{}`", self.opcode));
                }
                self.used[i] = true;
                found = Some(*p);
            }
        }
        Ok(found)
    }

    /// Takes every type modifier, in order.
    fn types(&mut self) -> Vec<Ty> {
        let mut out = Vec::new();
        for (i, p) in self.parts.iter().enumerate() {
            if !self.used[i] {
                if let Some(t) = Ty::parse(p) {
                    self.used[i] = true;
                    out.push(t);
                }
            }
        }
        out
    }

    fn one_type(&mut self) -> Result<Ty, String> {
        let t = self.types();
        if t.len() != 1 {
            return Err(format!("`{}` needs exactly one type", self.opcode));
        }
        Ok(t[0])
    }

    fn finish(&self) -> Result<(), String> {
        let rest: Vec<String> = self
            .parts
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(p, _)| format!(".{p}"))
            .collect();
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unsupported modifier(s) {} in `{}`",
                rest.join(" "),
                self.opcode
            ))
        }
    }
}

fn rnd_of(s: &str) -> Rnd {
    match s {
        "rn" | "rni" => Rnd::Rn,
        "rz" | "rzi" => Rnd::Rz,
        "rm" | "rmi" => Rnd::Rm,
        _ => Rnd::Rp,
    }
}

const FRND: [&str; 4] = ["rn", "rz", "rm", "rp"];
const IRND: [&str; 4] = ["rni", "rzi", "rmi", "rpi"];

struct Dec<'a> {
    kernel: &'a str,
    lines: &'a [&'a str],
    line: usize,
    regs: &'a HashMap<String, (R, RegClass)>,
    labels: &'a HashMap<String, u32>,
    shared: &'a HashMap<String, u32>,
    params: &'a HashMap<String, (u32, u32)>,
    consts: Vec<u64>,
    const_map: HashMap<u64, R>,
    const_base: R,
}

type DResult<T> = Result<T, SimError>;

impl Dec<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> DResult<T> {
        Err(perr(self.lines, Some(self.kernel), self.line, msg.into()))
    }

    fn m<T>(&self, r: Result<T, String>) -> DResult<T> {
        r.or_else(|e| self.err(e))
    }

    fn constant(&mut self, v: u64) -> R {
        if let Some(&r) = self.const_map.get(&v) {
            return r;
        }
        let r = self.const_base + self.consts.len() as R;
        self.consts.push(v);
        self.const_map.insert(v, r);
        r
    }

    fn reg(&self, name: &str) -> DResult<(R, RegClass)> {
        match self.regs.get(name) {
            Some(&r) => Ok(r),
            None => {
                if is_special_name(name) && sreg(name).is_none() {
                    self.err(format!(
                        "unsupported special register `{name}` (supported: %tid, %ntid, %ctaid, %nctaid .x/.y/.z)"
                    ))
                } else if is_special_name(name) {
                    self.err(format!(
                        "special register `{name}` is only supported as the source of `mov.u32` / `cvt.u64.u32`"
                    ))
                } else if self.shared.contains_key(name) {
                    self.err(format!(
                        "shared symbol `{name}` used as a register (use `mov.u64 %rd, {name}` or `[{name}]`)"
                    ))
                } else if self.params.contains_key(name) {
                    self.err(format!("parameter `{name}` must be read with `ld.param`"))
                } else {
                    self.err(format!("undeclared register `{name}`"))
                }
            }
        }
    }

    fn check_class(&self, name: &str, class: RegClass, ty: Ty) -> DResult<()> {
        self.check_class_w(name, class, ty, false)
    }

    /// `wide`: integer data may live in a wider register (ld/st/cvt).
    fn check_class_w(&self, name: &str, class: RegClass, ty: Ty, wide: bool) -> DResult<()> {
        let ok = match ty {
            Ty::Pred => class == RegClass::Pred,
            _ if class == RegClass::Pred => false,
            _ if ty.bits() == 8 => class.bits() >= 16,
            _ if wide && ty.is_int() => class.bits() >= ty.bits(),
            _ => class.bits() == ty.bits(),
        };
        if ok {
            Ok(())
        } else {
            self.err(format!(
                "register `{name}` ({}-bit{}) does not match operand type .{}",
                class.bits(),
                if class == RegClass::Pred {
                    " predicate"
                } else {
                    ""
                },
                format!("{ty:?}").to_lowercase()
            ))
        }
    }

    fn dst(&self, op: &POp, ty: Ty) -> DResult<R> {
        match op {
            POp::Name(n) => {
                let (r, c) = self.reg(n)?;
                self.check_class(n, c, ty)?;
                Ok(r)
            }
            other => self.err(format!(
                "destination must be a register, found `{}`",
                other.describe()
            )),
        }
    }

    /// Destination register, possibly wider than an integer `ty` (loads);
    /// returns its width.
    fn dst_bits(&self, op: &POp, ty: Ty, wide: bool) -> DResult<(R, u8)> {
        match op {
            POp::Name(n) => {
                let (r, c) = self.reg(n)?;
                self.check_class_w(n, c, ty, wide)?;
                Ok((r, c.bits() as u8))
            }
            other => self.err(format!(
                "destination must be a register, found `{}`",
                other.describe()
            )),
        }
    }

    /// Source that may be a register wider than an integer `ty` (stores).
    fn src_wide(&mut self, op: &POp, ty: Ty) -> DResult<R> {
        match op {
            POp::Name(n) => {
                let (r, c) = self.reg(n)?;
                self.check_class_w(n, c, ty, true)?;
                Ok(r)
            }
            other => self.src(other, ty),
        }
    }

    fn pred_dst(&self, op: &POp) -> DResult<R> {
        self.dst(op, Ty::Pred)
    }

    fn src(&mut self, op: &POp, ty: Ty) -> DResult<R> {
        match op {
            POp::Name(n) => {
                let (r, c) = self.reg(n)?;
                self.check_class(n, c, ty)?;
                Ok(r)
            }
            POp::Imm { neg, text } => {
                let v = self.imm(*neg, text, ty)?;
                Ok(self.constant(v))
            }
            other => self.err(format!("invalid source operand `{}`", other.describe())),
        }
    }

    /// Converts an immediate to the register bits of type `ty`.
    fn imm(&self, neg: bool, text: &str, ty: Ty) -> DResult<u64> {
        let lower = text.to_ascii_lowercase();
        let is_f32_hex = lower.starts_with("0f") && text.len() == 10;
        let is_f64_hex = lower.starts_with("0d") && text.len() == 18;
        let is_dec_float = !lower.starts_with("0x")
            && !is_f32_hex
            && !is_f64_hex
            && (lower.contains('.') || lower.contains('e'));
        if ty.is_float() {
            let fmt = ty.fmt().unwrap();
            if is_f32_hex || is_f64_hex {
                if neg {
                    return self.err(format!(
                        "a negated hexadecimal float literal `-{text}` is not valid PTX"
                    ));
                }
                let Ok(bits) = u64::from_str_radix(&text[2..], 16) else {
                    return self.err(format!("invalid float literal `{text}`"));
                };
                let from = if is_f32_hex { float::F32 } else { float::F64 };
                return Ok(float::convert(bits, from, fmt, Rnd::Rn));
            }
            if is_dec_float {
                let Ok(v) = lower.parse::<f64>() else {
                    return self.err(format!("invalid float literal `{text}`"));
                };
                let v = if neg { -v } else { v };
                return Ok(float::convert(v.to_bits(), float::F64, fmt, Rnd::Rn));
            }
            return self.err(format!(
                "integer literal `{text}` used as a .{} operand (write a float literal such as `1.0` or `0f3F800000`)",
                format!("{ty:?}").to_lowercase()
            ));
        }
        if is_f32_hex || is_f64_hex || is_dec_float {
            return self.err(format!("float literal `{text}` used as an integer operand"));
        }
        let Some(v) = parse_uint(text) else {
            return self.err(format!("invalid integer literal `{text}`"));
        };
        let v = if neg { v.wrapping_neg() } else { v };
        if ty == Ty::Pred {
            return if v <= 1 {
                Ok(v)
            } else {
                self.err("a predicate immediate must be 0 or 1")
            };
        }
        let bits = ty.bits();
        Ok(if bits == 64 {
            v
        } else {
            v & ((1u64 << bits) - 1)
        })
    }

    fn nops(&self, pi: &PInst, n: usize) -> DResult<()> {
        if pi.operands.len() != n {
            return self.err(format!(
                "`{}` takes {n} operand(s), found {}",
                pi.opcode,
                pi.operands.len()
            ));
        }
        Ok(())
    }

    fn label(&self, op: &POp) -> DResult<u32> {
        match op {
            POp::Name(n) => match self.labels.get(n) {
                Some(&t) => Ok(t),
                None => self.err(format!("undefined label `{n}`")),
            },
            other => self.err(format!("expected a label, found `{}`", other.describe())),
        }
    }

    /// An address operand: (base register or NO_REG, offset).
    fn addr(&mut self, op: &POp, space: MemSpace) -> DResult<(R, i64)> {
        let POp::Addr { base, offset } = op else {
            return self.err(format!(
                "expected an address `[...]`, found `{}`",
                op.describe()
            ));
        };
        match base {
            None => Ok((NO_REG, *offset)),
            Some(b) => {
                if let Some(&sym) = self.shared.get(b) {
                    if space == MemSpace::Global {
                        return self.err(format!("shared symbol `{b}` used in a .global access"));
                    }
                    if space == MemSpace::Generic {
                        return self.err(format!(
                            "shared symbol `{b}` used in a generic access (use ld.shared/st.shared)"
                        ));
                    }
                    return Ok((NO_REG, sym as i64 + offset));
                }
                if self.params.contains_key(b) {
                    return self.err(format!("parameter `{b}` must be read with `ld.param`"));
                }
                let (r, c) = self.reg(b)?;
                let ok = match space {
                    MemSpace::Shared => c == RegClass::B32 || c == RegClass::B64,
                    _ => c == RegClass::B64,
                };
                if !ok {
                    return self.err(format!(
                        "address register `{b}` must be 64-bit{}",
                        if space == MemSpace::Shared {
                            " or 32-bit"
                        } else {
                            ""
                        }
                    ));
                }
                Ok((r, *offset))
            }
        }
    }

    fn comb(&mut self, op: &POp, bop: BoolOp) -> DResult<Comb> {
        let (name, neg) = match op {
            POp::Name(n) => (n, false),
            POp::Not(n) => (n, true),
            other => {
                return self.err(format!(
                    "expected a predicate, found `{}`",
                    other.describe()
                ))
            }
        };
        let (r, c) = self.reg(name)?;
        self.check_class(name, c, Ty::Pred)?;
        Ok(Comb { op: bop, p: r, neg })
    }

    fn setp_dsts(&self, op: &POp) -> DResult<(R, R)> {
        match op {
            POp::PredPair(p, q) => Ok((
                self.pred_dst(&POp::Name(p.clone()))?,
                self.pred_dst(&POp::Name(q.clone()))?,
            )),
            POp::Sink => self.err("setp needs a predicate destination"),
            other => Ok((self.pred_dst(other)?, NO_REG)),
        }
    }

    fn inst(&mut self, pi: &PInst) -> DResult<Inst> {
        let guard = match &pi.guard {
            None => None,
            Some((neg, p)) => {
                let (r, c) = self.reg(p)?;
                self.check_class(p, c, Ty::Pred)?;
                Some((r, *neg))
            }
        };
        let op = self.op(pi)?;
        Ok(Inst { guard, op })
    }

    fn op(&mut self, pi: &PInst) -> DResult<Op> {
        let head = pi.opcode.split('.').next().unwrap_or("");
        let mut m = Mods::new(&pi.opcode);
        let o = &pi.operands;
        let op = match head {
            "mov" => self.mov(pi, &mut m)?,
            "add" | "sub" | "mul" | "div" | "rem" | "min" | "max" => {
                self.arith2(pi, head, &mut m)?
            }
            "fma" | "mad" => self.arith3(pi, head, &mut m)?,
            "neg" | "abs" | "sqrt" | "rcp" | "rsqrt" | "ex2" | "lg2" | "sin" | "cos" | "tanh"
            | "not" | "cnot" | "popc" | "clz" | "brev" => self.arith1(pi, head, &mut m)?,
            "and" | "or" | "xor" => {
                self.nops(pi, 3)?;
                let ty = self.m(m.one_type())?;
                if !(ty.is_bits() && ty.bits() >= 16) && ty != Ty::Pred {
                    return self.err(format!("`{}` needs a .b16/.b32/.b64/.pred type", pi.opcode));
                }
                let op = match head {
                    "and" => IOp2::And,
                    "or" => IOp2::Or,
                    _ => IOp2::Xor,
                };
                Op::Int2 {
                    op,
                    ty: ty.int(),
                    d: self.dst(&o[0], ty)?,
                    a: self.src(&o[1], ty)?,
                    b: self.src(&o[2], ty)?,
                }
            }
            "shl" | "shr" => {
                self.nops(pi, 3)?;
                let ty = self.m(m.one_type())?;
                let ok = if head == "shl" {
                    ty.is_bits() && ty.bits() >= 16
                } else {
                    ty.is_int() && ty.bits() >= 16
                };
                if !ok {
                    return self.err(format!("invalid type for `{}`", pi.opcode));
                }
                Op::Int2 {
                    op: if head == "shl" { IOp2::Shl } else { IOp2::Shr },
                    ty: ty.int(),
                    d: self.dst(&o[0], ty)?,
                    a: self.src(&o[1], ty)?,
                    b: self.src(&o[2], Ty::U32)?,
                }
            }
            "bfe" => {
                self.nops(pi, 4)?;
                let ty = self.m(m.one_type())?;
                if !matches!(
                    ty,
                    Ty::U32 | Ty::S32 | Ty::U64 | Ty::S64 | Ty::B32 | Ty::B64
                ) {
                    return self.err("`bfe` needs .u32/.s32/.u64/.s64");
                }
                Op::Bfe {
                    ty: ty.int(),
                    d: self.dst(&o[0], ty)?,
                    a: self.src(&o[1], ty)?,
                    b: self.src(&o[2], Ty::U32)?,
                    c: self.src(&o[3], Ty::U32)?,
                }
            }
            "copysign" => {
                self.nops(pi, 3)?;
                let ty = self.m(m.one_type())?;
                if !matches!(ty, Ty::F32 | Ty::F64) {
                    return self.err("`copysign` needs .f32 or .f64");
                }
                Op::Copysign {
                    f64: ty == Ty::F64,
                    d: self.dst(&o[0], ty)?,
                    a: self.src(&o[1], ty)?,
                    b: self.src(&o[2], ty)?,
                }
            }
            "testp" => {
                self.nops(pi, 2)?;
                let c = self.m(m.one_of(&[
                    "finite",
                    "infinite",
                    "number",
                    "notanumber",
                    "normal",
                    "subnormal",
                ]))?;
                let class = match c {
                    Some("finite") => TestClass::Finite,
                    Some("infinite") => TestClass::Infinite,
                    Some("number") => TestClass::Number,
                    Some("notanumber") => TestClass::NotANumber,
                    Some("normal") => TestClass::Normal,
                    Some("subnormal") => TestClass::Subnormal,
                    _ => return self.err("`testp` needs a class (.finite, .infinite, ...)"),
                };
                let ty = self.m(m.one_type())?;
                if !matches!(ty, Ty::F32 | Ty::F64) {
                    return self.err("`testp` needs .f32 or .f64");
                }
                Op::Testp {
                    f64: ty == Ty::F64,
                    class,
                    d: self.pred_dst(&o[0])?,
                    a: self.src(&o[1], ty)?,
                }
            }
            "setp" => self.setp(pi, &mut m)?,
            "selp" => {
                self.nops(pi, 4)?;
                let ty = self.m(m.one_type())?;
                if ty == Ty::Pred || ty.bits() < 16 {
                    return self.err("invalid type for `selp`");
                }
                let p = match &o[3] {
                    POp::Name(n) => {
                        let (r, c) = self.reg(n)?;
                        self.check_class(n, c, Ty::Pred)?;
                        r
                    }
                    other => {
                        return self.err(format!(
                            "`selp` needs a predicate register as last operand, found `{}`",
                            other.describe()
                        ))
                    }
                };
                Op::Selp {
                    d: self.dst(&o[0], ty)?,
                    a: self.src(&o[1], ty)?,
                    b: self.src(&o[2], ty)?,
                    p,
                }
            }
            "cvt" => self.cvt(pi, &mut m)?,
            "cvta" => {
                self.nops(pi, 2)?;
                let to = m.has("to");
                let space = self.m(m.one_of(&["global", "shared", "const", "local", "param"]))?;
                let ty = self.m(m.one_type())?;
                if ty != Ty::U64 {
                    return self.err("only 64-bit `cvta` (.u64) is supported");
                }
                let d = self.dst(&o[0], ty)?;
                let a = match &o[1] {
                    POp::Name(n) if self.shared.contains_key(n) => {
                        if space != Some("shared") || to {
                            return self.err(format!("`{}` cannot take symbol `{n}`", pi.opcode));
                        }
                        let v = self.shared[n] as u64;
                        self.constant(v)
                    }
                    other => self.src(other, ty)?,
                };
                match (space, to) {
                    (Some("global"), _) => Op::Mov { d, a },
                    (Some("shared"), false) => Op::CvtaFromShared { d, a },
                    (Some("shared"), true) => Op::CvtaToShared { d, a },
                    _ => {
                        return self.err(format!(
                            "`{}` is not supported (only .global and .shared)",
                            pi.opcode
                        ))
                    }
                }
            }
            "ld" | "st" => self.ldst(pi, head == "ld", &mut m)?,
            "atom" | "red" => self.atom(pi, head == "atom", &mut m)?,
            "bra" => {
                self.nops(pi, 1)?;
                m.has("uni");
                Op::Bra {
                    target: self.label(&o[0])?,
                }
            }
            "ret" | "exit" => {
                self.nops(pi, 0)?;
                m.has("uni");
                Op::Exit
            }
            "bar" | "barrier" => {
                m.has("cta");
                if !m.has("sync") {
                    return self.err(format!(
                        "`{}` is not supported (only bar.sync / barrier.sync)",
                        pi.opcode
                    ));
                }
                m.has("aligned");
                if o.is_empty() || o.len() > 2 {
                    return self.err("`bar.sync` takes a barrier id and an optional thread count");
                }
                let imm = |op: &POp| -> Option<u64> {
                    match op {
                        POp::Imm { neg: false, text } => parse_uint(text),
                        _ => None,
                    }
                };
                match imm(&o[0]) {
                    Some(id) if id < 16 => {}
                    _ => return self.err("the barrier id must be an immediate in 0..16"),
                }
                let count = match o.get(1) {
                    None => None,
                    Some(c) => match imm(c) {
                        Some(n) if n > 0 && n % 32 == 0 && n <= 1024 => Some(n as u32),
                        _ => {
                            return self.err(
                                "the barrier thread count must be an immediate multiple of 32",
                            )
                        }
                    },
                };
                Op::Bar { count }
            }
            "membar" => {
                self.nops(pi, 0)?;
                self.m(m.one_of(&["cta", "gl", "sys"]))?;
                Op::Nop
            }
            "fence" => {
                self.nops(pi, 0)?;
                self.m(m.one_of(&["sc", "acq_rel"]))?;
                if self.m(m.one_of(&["cta", "gpu", "sys"]))?.is_none() {
                    return self.err("`fence` needs a scope");
                }
                Op::Nop
            }
            _ => return self.err(format!("unsupported instruction `{}`", pi.opcode)),
        };
        self.m(m.finish())?;
        Ok(op)
    }

    fn mov(&mut self, pi: &PInst, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 2)?;
        let ty = self.m(m.one_type())?;
        let o = &pi.operands;
        match (&o[0], &o[1]) {
            (POp::Vector(parts), src) => {
                // unpack
                if !ty.is_bits() || parts.len() < 2 || parts.len() > 4 {
                    return self.err("invalid vector `mov` (unpack)");
                }
                let pbits = ty.bits() / parts.len() as u32;
                if pbits < 8 || pbits * parts.len() as u32 != ty.bits() || pbits == 8 {
                    return self.err("invalid unpack widths");
                }
                let pty = Ty::parse(&format!("b{pbits}")).unwrap();
                let mut ds = [NO_REG; 4];
                for (i, p) in parts.iter().enumerate() {
                    ds[i] = match p {
                        POp::Sink => NO_REG,
                        other => self.dst(other, pty)?,
                    };
                }
                let a = self.src(src, ty)?;
                Ok(Op::Unpack {
                    ds,
                    n: parts.len() as u8,
                    bits: pbits as u8,
                    a,
                })
            }
            (dst, POp::Vector(parts)) => {
                if !ty.is_bits() || parts.len() < 2 || parts.len() > 4 {
                    return self.err("invalid vector `mov` (pack)");
                }
                let pbits = ty.bits() / parts.len() as u32;
                if pbits * parts.len() as u32 != ty.bits() || pbits < 16 {
                    return self.err("invalid pack widths");
                }
                let pty = Ty::parse(&format!("b{pbits}")).unwrap();
                let mut ps = [NO_REG; 4];
                for (i, p) in parts.iter().enumerate() {
                    ps[i] = self.src(p, pty)?;
                }
                Ok(Op::Pack {
                    d: self.dst(dst, ty)?,
                    parts: ps,
                    n: parts.len() as u8,
                    bits: pbits as u8,
                })
            }
            (dst, POp::Name(n)) if sreg(n).is_some() => {
                if !matches!(ty, Ty::U32 | Ty::B32 | Ty::S32) {
                    return self.err(format!("special register `{n}` is read with mov.u32"));
                }
                Ok(Op::Sreg {
                    d: self.dst(dst, ty)?,
                    s: sreg(n).unwrap(),
                })
            }
            (dst, POp::Name(n)) if self.shared.contains_key(n) => {
                if !matches!(
                    ty,
                    Ty::U32 | Ty::U64 | Ty::B32 | Ty::B64 | Ty::S32 | Ty::S64
                ) {
                    return self.err(format!(
                        "the address of `{n}` needs a 32/64-bit integer mov"
                    ));
                }
                let v = self.shared[n] as u64;
                let a = self.constant(v);
                Ok(Op::Mov {
                    d: self.dst(dst, ty)?,
                    a,
                })
            }
            (_, POp::Name(n)) if self.params.contains_key(n) => self.err(format!(
                "taking the address of parameter `{n}` is not supported; use ld.param"
            )),
            (dst, src) => {
                let a = self.src(src, ty)?;
                Ok(Op::Mov {
                    d: self.dst(dst, ty)?,
                    a,
                })
            }
        }
    }

    fn float_mods(&self, m: &mut Mods, ty: Ty) -> DResult<(bool, bool)> {
        let ftz = m.has("ftz");
        let sat = m.has("sat");
        if ty == Ty::F64 && (ftz || sat) {
            return self.err(".ftz/.sat are only valid on .f32 operations");
        }
        Ok((ftz, sat))
    }

    fn arith2(&mut self, pi: &PInst, head: &str, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 3)?;
        let o = &pi.operands;
        let ty = self.m(m.one_type())?;
        if ty.is_float() {
            if ty == Ty::F16 {
                return self.err("f16 arithmetic is not supported by the simulator");
            }
            let f64 = ty == Ty::F64;
            if head == "min" || head == "max" {
                let ftz = m.has("ftz");
                let nan = m.has("NaN");
                if f64 && (ftz || nan) {
                    return self.err(".ftz/.NaN are only valid on .f32 min/max");
                }
                let (d, a, b) = (
                    self.dst(&o[0], ty)?,
                    self.src(&o[1], ty)?,
                    self.src(&o[2], ty)?,
                );
                let max = head == "max";
                return Ok(if f64 {
                    Op::MinMax64 { max, nan, d, a, b }
                } else {
                    Op::MinMax32 {
                        max,
                        ftz,
                        nan,
                        d,
                        a,
                        b,
                    }
                });
            }
            let fop = match head {
                "add" => FOp2::Add,
                "sub" => FOp2::Sub,
                "mul" => FOp2::Mul,
                "div" => FOp2::Div,
                _ => return self.err(format!("`{}` is not a float operation", pi.opcode)),
            };
            let rnd = self.m(m.one_of(&FRND))?.map(rnd_of);
            let rnd = if fop == FOp2::Div && !f64 {
                let approx = m.has("approx");
                let full = m.has("full");
                match (rnd, approx, full) {
                    (Some(r), false, false) => r,
                    (None, true, false) | (None, false, true) => Rnd::Rn,
                    _ => {
                        return self.err(
                            "`div.f32` needs exactly one of .rn/.rz/.rm/.rp, .full or .approx",
                        )
                    }
                }
            } else {
                match rnd {
                    Some(r) => r,
                    None => {
                        return self.err(format!(
                            "`{}` has no rounding modifier: the simulator rejects unrounded float {head} \
                             because ptxas may contract an unrounded mul+add into an fma \
                             (write `{head}.rn.{}`)",
                            pi.opcode,
                            if f64 { "f64" } else { "f32" }
                        ))
                    }
                }
            };
            let (ftz, sat) = self.float_mods(m, ty)?;
            let (d, a, b) = (
                self.dst(&o[0], ty)?,
                self.src(&o[1], ty)?,
                self.src(&o[2], ty)?,
            );
            return Ok(if f64 {
                Op::F64 {
                    op: fop,
                    rnd,
                    d,
                    a,
                    b,
                }
            } else {
                Op::F32 {
                    op: fop,
                    rnd,
                    ftz,
                    sat,
                    d,
                    a,
                    b,
                }
            });
        }
        if !ty.is_int() || ty.bits() < 16 {
            return self.err(format!("invalid type for `{}`", pi.opcode));
        }
        let it = ty.int();
        let (op, dty) = match head {
            "add" | "sub" => {
                if m.has("cc") {
                    return self.err("carry-chain arithmetic (.cc) is not supported");
                }
                let sat = m.has("sat");
                if sat && ty != Ty::S32 {
                    return self.err(".sat is only valid on .s32 add/sub");
                }
                let op = match (head, sat) {
                    ("add", false) => IOp2::Add,
                    ("add", true) => IOp2::AddSat,
                    ("sub", false) => IOp2::Sub,
                    _ => IOp2::SubSat,
                };
                (op, ty)
            }
            "mul" => match self.m(m.one_of(&["lo", "hi", "wide"]))? {
                Some("lo") => (IOp2::MulLo, ty),
                Some("hi") => (IOp2::MulHi, ty),
                Some("wide") => {
                    if ty.bits() == 64 || ty.is_bits() {
                        return self.err("`mul.wide` needs a 16- or 32-bit signed/unsigned type");
                    }
                    let w = Ty::parse(&format!(
                        "{}{}",
                        if ty.is_signed() { "s" } else { "u" },
                        ty.bits() * 2
                    ))
                    .unwrap();
                    (IOp2::MulWide, w)
                }
                _ => return self.err("integer `mul` needs .lo, .hi or .wide"),
            },
            "div" => (IOp2::Div, ty),
            "rem" => (IOp2::Rem, ty),
            "min" => (IOp2::Min, ty),
            _ => (IOp2::Max, ty),
        };
        if ty.is_bits() {
            return self.err(format!("`{}` needs a signed or unsigned type", pi.opcode));
        }
        Ok(Op::Int2 {
            op,
            ty: it,
            d: self.dst(&o[0], dty)?,
            a: self.src(&o[1], ty)?,
            b: self.src(&o[2], ty)?,
        })
    }

    fn arith3(&mut self, pi: &PInst, head: &str, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 4)?;
        let o = &pi.operands;
        let ty = self.m(m.one_type())?;
        if ty.is_float() {
            if ty == Ty::F16 {
                return self.err("f16 arithmetic is not supported by the simulator");
            }
            let Some(rnd) = self.m(m.one_of(&FRND))?.map(rnd_of) else {
                return self.err(format!(
                    "`{}` needs a rounding modifier (.rn/.rz/.rm/.rp)",
                    pi.opcode
                ));
            };
            let (ftz, sat) = self.float_mods(m, ty)?;
            let (d, a, b, c) = (
                self.dst(&o[0], ty)?,
                self.src(&o[1], ty)?,
                self.src(&o[2], ty)?,
                self.src(&o[3], ty)?,
            );
            return Ok(if ty == Ty::F64 {
                Op::Fma64 { rnd, d, a, b, c }
            } else {
                Op::Fma32 {
                    rnd,
                    ftz,
                    sat,
                    d,
                    a,
                    b,
                    c,
                }
            });
        }
        if head == "fma" || !ty.is_int() || ty.is_bits() || ty.bits() < 16 {
            return self.err(format!("invalid type for `{}`", pi.opcode));
        }
        let (mode, dty) = match self.m(m.one_of(&["lo", "hi", "wide"]))? {
            Some("lo") => (MadMode::Lo, ty),
            Some("hi") => (MadMode::Hi, ty),
            Some("wide") => {
                if ty.bits() == 64 {
                    return self.err("`mad.wide` needs a 16- or 32-bit type");
                }
                let w = Ty::parse(&format!(
                    "{}{}",
                    if ty.is_signed() { "s" } else { "u" },
                    ty.bits() * 2
                ))
                .unwrap();
                (MadMode::Wide, w)
            }
            _ => return self.err("integer `mad` needs .lo, .hi or .wide"),
        };
        Ok(Op::Mad {
            mode,
            ty: ty.int(),
            d: self.dst(&o[0], dty)?,
            a: self.src(&o[1], ty)?,
            b: self.src(&o[2], ty)?,
            c: self.src(&o[3], dty)?,
        })
    }

    fn arith1(&mut self, pi: &PInst, head: &str, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 2)?;
        let o = &pi.operands;
        let ty = self.m(m.one_type())?;
        if ty.is_float() {
            if ty == Ty::F16 {
                return self.err("f16 arithmetic is not supported by the simulator");
            }
            let f64 = ty == Ty::F64;
            let approx = m.has("approx");
            let rnd = self.m(m.one_of(&FRND))?.map(rnd_of);
            let ftz = m.has("ftz");
            let sat = m.has("sat");
            let need_f32 = |s: &Self, what: &str| -> DResult<()> {
                if f64 {
                    s.err(format!("`{what}` is only available for .f32"))
                } else {
                    Ok(())
                }
            };
            let fop = match head {
                "neg" | "abs" => {
                    if approx || rnd.is_some() || sat {
                        return self.err(format!("invalid modifiers for `{}`", pi.opcode));
                    }
                    if ftz && f64 {
                        return self.err(".ftz is only valid on .f32");
                    }
                    if head == "neg" {
                        FOp1::Neg
                    } else {
                        FOp1::Abs
                    }
                }
                "sqrt" | "rcp" => {
                    let r = match (approx, rnd) {
                        (true, None) => {
                            if f64 && head == "sqrt" {
                                return self.err("`sqrt.approx.f64` does not exist");
                            }
                            if f64 && !ftz {
                                return self.err("`rcp.approx.f64` requires .ftz");
                            }
                            Rnd::Rn
                        }
                        (false, Some(r)) => {
                            if f64 && ftz {
                                return self.err(".ftz is only valid on .f32");
                            }
                            r
                        }
                        _ => {
                            return self.err(format!(
                                "`{}` needs exactly one of .approx or .rn/.rz/.rm/.rp",
                                pi.opcode
                            ))
                        }
                    };
                    if sat {
                        return self.err(format!("invalid modifier .sat for `{}`", pi.opcode));
                    }
                    if head == "sqrt" {
                        FOp1::Sqrt(r)
                    } else {
                        FOp1::Rcp(r)
                    }
                }
                "rsqrt" | "ex2" | "lg2" | "sin" | "cos" | "tanh" => {
                    if !approx || rnd.is_some() || sat {
                        return self.err(format!(
                            "`{}` needs .approx (and no rounding or .sat)",
                            pi.opcode
                        ));
                    }
                    match head {
                        "rsqrt" => FOp1::Rsqrt,
                        "ex2" => {
                            need_f32(self, "ex2.approx")?;
                            FOp1::Ex2
                        }
                        "lg2" => {
                            need_f32(self, "lg2.approx")?;
                            FOp1::Lg2
                        }
                        "sin" => {
                            need_f32(self, "sin.approx")?;
                            FOp1::Sin
                        }
                        "cos" => {
                            need_f32(self, "cos.approx")?;
                            FOp1::Cos
                        }
                        _ => {
                            need_f32(self, "tanh.approx")?;
                            if ftz {
                                return self.err("`tanh.approx.f32` has no .ftz form");
                            }
                            FOp1::Tanh
                        }
                    }
                }
                _ => return self.err(format!("`{}` is not a float operation", pi.opcode)),
            };
            let (d, a) = (self.dst(&o[0], ty)?, self.src(&o[1], ty)?);
            return Ok(if f64 {
                Op::Un64 { op: fop, ftz, d, a }
            } else {
                Op::Un32 {
                    op: fop,
                    ftz,
                    sat,
                    d,
                    a,
                }
            });
        }
        let (op, dty) = match head {
            "neg" | "abs" => {
                if !ty.is_signed() || ty.bits() < 16 {
                    return self.err(format!("`{}` needs a signed integer type", pi.opcode));
                }
                (if head == "neg" { IOp1::Neg } else { IOp1::Abs }, ty)
            }
            "not" | "cnot" => {
                if !((ty.is_bits() && ty.bits() >= 16) || (ty == Ty::Pred && head == "not")) {
                    return self.err(format!("invalid type for `{}`", pi.opcode));
                }
                (if head == "not" { IOp1::Not } else { IOp1::Cnot }, ty)
            }
            "popc" | "clz" | "brev" => {
                if !matches!(ty, Ty::B32 | Ty::B64) {
                    return self.err(format!("`{}` needs .b32 or .b64", pi.opcode));
                }
                match head {
                    "popc" => (IOp1::Popc, Ty::U32),
                    "clz" => (IOp1::Clz, Ty::U32),
                    _ => (IOp1::Brev, ty),
                }
            }
            _ => return self.err(format!("`{}` needs a float type", pi.opcode)),
        };
        Ok(Op::Int1 {
            op,
            ty: ty.int(),
            d: self.dst(&o[0], dty)?,
            a: self.src(&o[1], ty)?,
        })
    }

    fn setp(&mut self, pi: &PInst, m: &mut Mods) -> DResult<Op> {
        let o = &pi.operands;
        let cmp_s = self.m(m.one_of(&[
            "eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs", "equ", "neu", "ltu", "leu",
            "gtu", "geu", "num", "nan",
        ]))?;
        let Some(cmp_s) = cmp_s else {
            return self.err("`setp` needs a comparison (.eq, .lt, ...)");
        };
        let bop = match self.m(m.one_of(&["and", "or", "xor"]))? {
            Some("and") => Some(BoolOp::And),
            Some("or") => Some(BoolOp::Or),
            Some("xor") => Some(BoolOp::Xor),
            _ => None,
        };
        self.nops(pi, if bop.is_some() { 4 } else { 3 })?;
        let ftz = m.has("ftz");
        let ty = self.m(m.one_type())?;
        let (d, d2) = self.setp_dsts(&o[0])?;
        let comb = match bop {
            Some(b) => Some(self.comb(&o[3], b)?),
            None => None,
        };
        if ty.is_float() {
            if ty == Ty::F16 {
                return self.err("f16 comparisons are not supported by the simulator");
            }
            if ftz && ty == Ty::F64 {
                return self.err(".ftz is only valid on .f32");
            }
            let cmp = match cmp_s {
                "eq" => FCmp::Eq,
                "ne" => FCmp::Ne,
                "lt" => FCmp::Lt,
                "le" => FCmp::Le,
                "gt" => FCmp::Gt,
                "ge" => FCmp::Ge,
                "equ" => FCmp::Equ,
                "neu" => FCmp::Neu,
                "ltu" => FCmp::Ltu,
                "leu" => FCmp::Leu,
                "gtu" => FCmp::Gtu,
                "geu" => FCmp::Geu,
                "num" => FCmp::Num,
                "nan" => FCmp::Nan,
                other => return self.err(format!("`.{other}` is not a float comparison")),
            };
            return Ok(Op::SetpF {
                f64: ty == Ty::F64,
                cmp,
                ftz,
                d,
                d2,
                a: self.src(&o[1], ty)?,
                b: self.src(&o[2], ty)?,
                comb,
            });
        }
        if ftz || !ty.is_int() || ty.bits() < 16 {
            return self.err(format!("invalid type/modifiers for `{}`", pi.opcode));
        }
        let (cmp, unsigned_only) = match cmp_s {
            "eq" => (ICmp::Eq, false),
            "ne" => (ICmp::Ne, false),
            "lt" => (ICmp::Lt, false),
            "le" => (ICmp::Le, false),
            "gt" => (ICmp::Gt, false),
            "ge" => (ICmp::Ge, false),
            "lo" => (ICmp::Lt, true),
            "ls" => (ICmp::Le, true),
            "hi" => (ICmp::Gt, true),
            "hs" => (ICmp::Ge, true),
            other => return self.err(format!("`.{other}` is not an integer comparison")),
        };
        if ty.is_bits() && !matches!(cmp, ICmp::Eq | ICmp::Ne) {
            return self.err("bit-size types (.b16/.b32/.b64) only support .eq and .ne");
        }
        if unsigned_only && ty.is_signed() {
            return self.err(format!(
                "`.{cmp_s}` is an unsigned comparison and cannot be used with a signed type"
            ));
        }
        let mut it = ty.int();
        if unsigned_only {
            it.signed = false;
        }
        Ok(Op::SetpI {
            ty: it,
            cmp,
            d,
            d2,
            a: self.src(&o[1], ty)?,
            b: self.src(&o[2], ty)?,
            comb,
        })
    }

    fn cvt(&mut self, pi: &PInst, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 2)?;
        let o = &pi.operands;
        let irnd = self.m(m.one_of(&IRND))?.map(rnd_of);
        let frnd = self.m(m.one_of(&FRND))?.map(rnd_of);
        if irnd.is_some() && frnd.is_some() {
            return self.err("`cvt` takes at most one rounding modifier");
        }
        let ftz = m.has("ftz");
        let sat = m.has("sat");
        let tys = m.types();
        if tys.len() != 2 || tys.contains(&Ty::Pred) {
            return self.err("`cvt` needs a destination and a source type");
        }
        let (dt, st) = (tys[0], tys[1]);
        if ftz && dt != Ty::F32 && st != Ty::F32 {
            return self.err(".ftz on `cvt` needs an .f32 source or destination");
        }
        let kind = match (dt.is_float(), st.is_float()) {
            (false, false) => {
                if irnd.is_some() || frnd.is_some() || ftz {
                    return self.err("integer-to-integer `cvt` takes no rounding modifier");
                }
                CvtKind::IntToInt {
                    from: st.int(),
                    to: dt.int(),
                    sat,
                }
            }
            (true, false) => {
                let Some(rnd) = frnd else {
                    return self
                        .err("integer-to-float `cvt` needs a rounding modifier (.rn/.rz/.rm/.rp)");
                };
                CvtKind::IntToFloat {
                    from: st.int(),
                    to: dt.fmt().unwrap(),
                    rnd,
                    ftz,
                    sat,
                }
            }
            (false, true) => {
                let Some(rnd) = irnd else {
                    return self.err(
                        "float-to-integer `cvt` needs an integer rounding modifier (.rni/.rzi/.rmi/.rpi)",
                    );
                };
                if sat {
                    return self.err("float-to-integer `cvt` always saturates; .sat is invalid");
                }
                CvtKind::FloatToInt {
                    from: st.fmt().unwrap(),
                    to: dt.int(),
                    rnd,
                    ftz,
                }
            }
            (true, true) => {
                let narrowing = dt.bits() < st.bits();
                let widening = dt.bits() > st.bits();
                if narrowing && frnd.is_none() {
                    return self
                        .err("narrowing float `cvt` needs a rounding modifier (.rn/.rz/.rm/.rp)");
                }
                if !narrowing && frnd.is_some() {
                    return self.err("a float rounding modifier is only valid on narrowing `cvt`");
                }
                if widening && irnd.is_some() {
                    return self.err("integer rounding is only valid on same-size float `cvt`");
                }
                CvtKind::FloatToFloat {
                    from: st.fmt().unwrap(),
                    to: dt.fmt().unwrap(),
                    frnd: frnd.unwrap_or(Rnd::Rn),
                    irnd,
                    ftz,
                    sat,
                }
            }
        };
        let (d, dbits) = self.dst_bits(&o[0], dt, false)?;
        let a = match &o[1] {
            POp::Name(n) if sreg(n).is_some() => {
                let zext = matches!(
                    kind,
                    CvtKind::IntToInt { from, to, sat: false }
                        if from.bits == 32 && !from.signed && to.bits >= 32 && !to.signed
                );
                if !zext {
                    return self.err("special registers can only be converted with cvt.u64.u32");
                }
                return Ok(Op::Sreg {
                    d,
                    s: sreg(n).unwrap(),
                });
            }
            other => self.src(other, st)?,
        };
        Ok(Op::Cvt { kind, dbits, d, a })
    }

    fn space(&self, m: &mut Mods, allow_param: bool) -> DResult<Option<MemSpace>> {
        let s = self.m(m.one_of(&[
            "global",
            "shared",
            "shared::cta",
            "param",
            "local",
            "const",
            "shared::cluster",
        ]))?;
        Ok(match s {
            None => Some(MemSpace::Generic),
            Some("global") => Some(MemSpace::Global),
            Some("shared") | Some("shared::cta") => Some(MemSpace::Shared),
            Some("param") if allow_param => None,
            Some(other) => return self.err(format!("the .{other} state space is not supported")),
        })
    }

    fn ldst(&mut self, pi: &PInst, is_ld: bool, m: &mut Mods) -> DResult<Op> {
        self.nops(pi, 2)?;
        let o = &pi.operands;
        m.has("weak");
        m.has("volatile");
        if m.has("relaxed") || m.has("acquire") || m.has("release") {
            self.m(m.one_of(&["cta", "gpu", "sys"]))?;
        }
        let space = self.space(m, is_ld)?;
        if is_ld {
            self.m(m.one_of(&["ca", "cg", "cs", "lu", "cv"]))?;
            let nc = m.has("nc");
            if nc && space != Some(MemSpace::Global) {
                return self.err(".nc is only valid on ld.global");
            }
        } else {
            self.m(m.one_of(&["wb", "cg", "cs", "wt"]))?;
        }
        let vec = match self.m(m.one_of(&["v2", "v4"]))? {
            Some("v2") => 2usize,
            Some("v4") => 4,
            _ => 1,
        };
        let ty = self.m(m.one_type())?;
        if ty == Ty::Pred {
            return self.err("predicates cannot be loaded or stored");
        }
        let mty = MemTy {
            bytes: (ty.bits() / 8) as u8,
            signed: ty.is_signed(),
        };
        let (data, addr) = if is_ld {
            (&o[0], &o[1])
        } else {
            (&o[1], &o[0])
        };
        let items: Vec<POp> = match data {
            POp::Vector(v) => {
                if vec == 1 || v.len() != vec {
                    return self.err(format!(
                        "`{}` needs a {vec}-element vector operand",
                        pi.opcode
                    ));
                }
                v.clone()
            }
            other => {
                if vec != 1 {
                    return self.err(format!("`{}` needs a vector operand {{...}}", pi.opcode));
                }
                vec![other.clone()]
            }
        };
        let Some(space) = space else {
            // ld.param
            if vec != 1 {
                return self.err("vector ld.param is not supported");
            }
            let POp::Addr {
                base: Some(name),
                offset,
            } = addr
            else {
                return self.err("`ld.param` needs an address `[param_name]`");
            };
            let Some(&(poff, psize)) = self.params.get(name) else {
                return self.err(format!("`{name}` is not a parameter of this kernel"));
            };
            if *offset < 0 || *offset as u64 + mty.bytes as u64 > psize as u64 {
                return self.err(format!("`ld.param` reads outside parameter `{name}`"));
            }
            let (d, reg_bits) = self.dst_bits(&items[0], ty, true)?;
            if !ty.is_int() && reg_bits as u32 != ty.bits() {
                return self.err("float `ld.param` needs a register of the same width");
            }
            return Ok(Op::LdParam {
                d,
                off: poff + *offset as u32,
                ty: mty,
                reg_bits,
            });
        };
        let (base, off) = self.addr(addr, space)?;
        if is_ld {
            let mut ds = [NO_REG; 4];
            let mut reg_bits = 0u8;
            for (i, it) in items.iter().enumerate() {
                if let POp::Sink = it {
                    continue;
                }
                let (r, b) = self.dst_bits(it, ty, true)?;
                if !ty.is_int() && b as u32 != ty.bits() {
                    return self.err("float loads need registers of the same width");
                }
                if reg_bits != 0 && reg_bits != b {
                    return self.err("all registers of a vector load must have the same width");
                }
                reg_bits = b;
                ds[i] = r;
            }
            if reg_bits == 0 {
                return self.err("a load needs at least one destination register");
            }
            Ok(Op::Ld {
                space,
                ty: mty,
                n: vec as u8,
                ds,
                reg_bits,
                base,
                off,
            })
        } else {
            let mut srcs = [NO_REG; 4];
            for (i, it) in items.iter().enumerate() {
                srcs[i] = self.src_wide(it, ty)?;
            }
            Ok(Op::St {
                space,
                ty: mty,
                n: vec as u8,
                srcs,
                base,
                off,
            })
        }
    }

    fn atom(&mut self, pi: &PInst, is_atom: bool, m: &mut Mods) -> DResult<Op> {
        let o = &pi.operands;
        self.m(m.one_of(&["relaxed", "acquire", "release", "acq_rel"]))?;
        self.m(m.one_of(&["cta", "gpu", "sys"]))?;
        let space = match self.space(m, false)? {
            Some(s) => s,
            None => return self.err("atomics on .param are invalid"),
        };
        let aop = match self.m(m.one_of(&[
            "add", "min", "max", "exch", "cas", "and", "or", "xor", "inc", "dec",
        ]))? {
            Some("add") => AtomOp::Add,
            Some("min") => AtomOp::Min,
            Some("max") => AtomOp::Max,
            Some("exch") => AtomOp::Exch,
            Some("cas") => AtomOp::Cas,
            Some("and") => AtomOp::And,
            Some("or") => AtomOp::Or,
            Some("xor") => AtomOp::Xor,
            Some("inc") => AtomOp::Inc,
            Some("dec") => AtomOp::Dec,
            _ => {
                return self.err(format!(
                    "`{}` needs an operation (.add, .min, ...)",
                    pi.opcode
                ))
            }
        };
        if !is_atom && matches!(aop, AtomOp::Exch | AtomOp::Cas) {
            return self.err("`red` has no .exch/.cas form");
        }
        let ty = self.m(m.one_type())?;
        let ok = match aop {
            AtomOp::Add => matches!(
                ty,
                Ty::U32 | Ty::S32 | Ty::U64 | Ty::S64 | Ty::F32 | Ty::F64
            ),
            AtomOp::Min | AtomOp::Max => matches!(ty, Ty::U32 | Ty::S32 | Ty::U64 | Ty::S64),
            AtomOp::Exch | AtomOp::Cas | AtomOp::And | AtomOp::Or | AtomOp::Xor => {
                matches!(ty, Ty::B32 | Ty::B64)
                    || (aop == AtomOp::Exch && matches!(ty, Ty::U32 | Ty::U64))
            }
            AtomOp::Inc | AtomOp::Dec => ty == Ty::U32,
        };
        if !ok {
            return self.err(format!("invalid type for `{}`", pi.opcode));
        }
        let nsrc = if aop == AtomOp::Cas { 2 } else { 1 };
        let first = if is_atom { 1 } else { 0 };
        self.nops(pi, first + 1 + nsrc)?;
        let d = if is_atom {
            self.dst(&o[0], ty)?
        } else {
            NO_REG
        };
        let (base, off) = self.addr(&o[first], space)?;
        let b = self.src(&o[first + 1], ty)?;
        let c = if nsrc == 2 {
            self.src(&o[first + 2], ty)?
        } else {
            NO_REG
        };
        Ok(Op::Atom {
            space,
            op: aop,
            ty,
            d,
            base,
            off,
            b,
            c,
        })
    }
}
