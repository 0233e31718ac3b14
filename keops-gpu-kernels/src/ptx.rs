//! A small PTX text builder with typed virtual registers.
//!
//! Kernels and device-math routines are written as sequences of PTX
//! instructions on virtual registers (`%f12`, `%rd3`, ...); `ptxas` does the
//! register allocation. Every float `add`/`sub`/`mul` carries an explicit
//! rounding modifier (`.rn`), so that `ptxas` never contracts them into an
//! `fma` behind our back and the simulator computes exactly what the GPU does.

use std::fmt;

/// Register types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Predicate.
    Pred,
    /// 32-bit integer / bits.
    B32,
    /// 64-bit integer / bits / address.
    B64,
    /// f32.
    F32,
    /// f64.
    F64,
}

impl Ty {
    fn index(self) -> usize {
        match self {
            Ty::Pred => 0,
            Ty::B32 => 1,
            Ty::B64 => 2,
            Ty::F32 => 3,
            Ty::F64 => 4,
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Ty::Pred => "%p",
            Ty::B32 => "%r",
            Ty::B64 => "%rd",
            Ty::F32 => "%f",
            Ty::F64 => "%fd",
        }
    }
    fn decl(self) -> &'static str {
        match self {
            Ty::Pred => ".pred",
            Ty::B32 => ".b32",
            Ty::B64 => ".b64",
            Ty::F32 => ".f32",
            Ty::F64 => ".f64",
        }
    }
}

/// A virtual register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg {
    /// Type.
    pub ty: Ty,
    /// Number.
    pub n: u32,
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.ty.prefix(), self.n)
    }
}

/// A branch target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(pub u32);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$L{}", self.0)
    }
}

/// Float precision of data and routines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prec {
    /// f32.
    F32,
    /// f64.
    F64,
}

impl Prec {
    /// Register type.
    pub fn ty(self) -> Ty {
        match self {
            Prec::F32 => Ty::F32,
            Prec::F64 => Ty::F64,
        }
    }
    /// Instruction suffix: `f32` or `f64`.
    pub fn suffix(self) -> &'static str {
        match self {
            Prec::F32 => "f32",
            Prec::F64 => "f64",
        }
    }
    /// Bit-type suffix of the same width: `b32` or `b64`.
    pub fn bits(self) -> &'static str {
        match self {
            Prec::F32 => "b32",
            Prec::F64 => "b64",
        }
    }
    /// Size in bytes.
    pub fn bytes(self) -> u32 {
        match self {
            Prec::F32 => 4,
            Prec::F64 => 8,
        }
    }
    /// A float immediate of this precision: `0f3F800000` / `0d3FF0000000000000`
    /// (exact bit patterns, so constants never depend on decimal parsing).
    pub fn imm(self, x: f64) -> String {
        match self {
            Prec::F32 => format!("0f{:08X}", (x as f32).to_bits()),
            Prec::F64 => format!("0d{:016X}", x.to_bits()),
        }
    }
}

/// Accumulates the instructions of one kernel body and its register counts.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    lines: Vec<String>,
    counts: [u32; 5],
    labels: u32,
}

impl Builder {
    /// An empty body.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// A fresh register of type `ty`.
    pub fn reg(&mut self, ty: Ty) -> Reg {
        let k = ty.index();
        let n = self.counts[k];
        self.counts[k] += 1;
        Reg { ty, n }
    }

    /// A fresh float register of precision `p`.
    pub fn freg(&mut self, p: Prec) -> Reg {
        self.reg(p.ty())
    }

    /// Appends one instruction (a `;` is added when missing).
    pub fn emit(&mut self, inst: impl AsRef<str>) {
        let s = inst.as_ref().trim();
        if s.ends_with(';') || s.ends_with(':') || s.starts_with("//") {
            self.lines.push(format!("\t{s}"));
        } else {
            self.lines.push(format!("\t{s};"));
        }
    }

    /// A fresh label (place it with [`Builder::place`]).
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels)
    }

    /// Places a label at the current position.
    pub fn place(&mut self, l: Label) {
        self.lines.push(format!("{l}:"));
    }

    /// Appends a comment line.
    pub fn comment(&mut self, c: impl AsRef<str>) {
        self.lines.push(format!("\t// {}", c.as_ref()));
    }

    /// Loads a float constant into a fresh register.
    pub fn fconst(&mut self, p: Prec, x: f64) -> Reg {
        let r = self.freg(p);
        self.emit(format!("mov.{} {r}, {}", p.suffix(), p.imm(x)));
        r
    }

    /// The `.reg` declarations of every register used.
    pub fn declarations(&self) -> String {
        let mut s = String::new();
        for ty in [Ty::Pred, Ty::B32, Ty::B64, Ty::F32, Ty::F64] {
            let n = self.counts[ty.index()];
            if n > 0 {
                s.push_str(&format!("\t.reg {} {}<{}>;\n", ty.decl(), ty.prefix(), n));
            }
        }
        s
    }

    /// The instructions, one per line.
    pub fn body(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }

    /// Number of instructions emitted so far (labels and comments excluded).
    pub fn instruction_count(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.starts_with('\t') && !l.trim_start().starts_with("//"))
            .count()
    }
}
