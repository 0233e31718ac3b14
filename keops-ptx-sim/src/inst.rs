//! Decoded instructions: the flat, pre-resolved form the interpreter runs.
//!
//! Every operand is a register index. Immediates and symbol addresses are
//! "constant registers": extra slots at the end of the register file,
//! pre-initialised for every thread, so reading an operand is one code
//! path. Adding an instruction means one [`Op`] variant, one arm in
//! `decode.rs` and one arm in `exec.rs`.

use super::float::{Fmt, Rnd};

/// A register index into a thread's register file.
pub(crate) type R = u32;
/// "No register" (absent second destination, sink, absolute address).
pub(crate) const NO_REG: R = u32::MAX;

/// Register classes (by width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegClass {
    Pred,
    B16,
    B32,
    B64,
}

impl RegClass {
    /// Width in bits (1 for predicates).
    pub fn bits(self) -> u32 {
        match self {
            RegClass::Pred => 1,
            RegClass::B16 => 16,
            RegClass::B32 => 32,
            RegClass::B64 => 64,
        }
    }
}

/// PTX scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Pred,
    B8,
    B16,
    B32,
    B64,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    F32,
    F64,
}

impl Ty {
    /// Parses a type name without its leading dot.
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "pred" => Ty::Pred,
            "b8" => Ty::B8,
            "b16" => Ty::B16,
            "b32" => Ty::B32,
            "b64" => Ty::B64,
            "u8" => Ty::U8,
            "u16" => Ty::U16,
            "u32" => Ty::U32,
            "u64" => Ty::U64,
            "s8" => Ty::S8,
            "s16" => Ty::S16,
            "s32" => Ty::S32,
            "s64" => Ty::S64,
            "f16" => Ty::F16,
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            _ => return None,
        })
    }

    /// Width in bits (1 for predicates).
    pub fn bits(self) -> u32 {
        match self {
            Ty::Pred => 1,
            Ty::B8 | Ty::U8 | Ty::S8 => 8,
            Ty::B16 | Ty::U16 | Ty::S16 | Ty::F16 => 16,
            Ty::B32 | Ty::U32 | Ty::S32 | Ty::F32 => 32,
            Ty::B64 | Ty::U64 | Ty::S64 | Ty::F64 => 64,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F16 | Ty::F32 | Ty::F64)
    }

    /// Whether this is a signed integer type.
    pub fn is_signed(self) -> bool {
        matches!(self, Ty::S8 | Ty::S16 | Ty::S32 | Ty::S64)
    }

    /// Whether this is an untyped bit-size type.
    pub fn is_bits(self) -> bool {
        matches!(self, Ty::B8 | Ty::B16 | Ty::B32 | Ty::B64)
    }

    /// Whether this is an integer or bit type.
    pub fn is_int(self) -> bool {
        !self.is_float() && self != Ty::Pred
    }

    /// The float format, for float types.
    pub fn fmt(self) -> Option<Fmt> {
        match self {
            Ty::F16 => Some(super::float::F16),
            Ty::F32 => Some(super::float::F32),
            Ty::F64 => Some(super::float::F64),
            _ => None,
        }
    }

    /// The integer view of this type.
    pub fn int(self) -> IntTy {
        IntTy {
            bits: self.bits() as u8,
            signed: self.is_signed(),
        }
    }
}

/// Integer operation width and signedness (`bits == 1`: predicate logic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IntTy {
    pub bits: u8,
    pub signed: bool,
}

/// Special registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sreg {
    Tid(u8),
    Ntid(u8),
    Ctaid(u8),
    Nctaid(u8),
}

/// Two-operand float operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FOp2 {
    Add,
    Sub,
    Mul,
    Div,
}

/// One-operand float operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FOp1 {
    Neg,
    Abs,
    Sqrt(Rnd),
    Rcp(Rnd),
    Rsqrt,
    Ex2,
    Lg2,
    Sin,
    Cos,
    Tanh,
}

/// Float comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FCmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

/// Integer comparisons (signedness from the operand type; `lo ls hi hs`
/// are the unsigned `lt le gt ge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ICmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Predicate combining operations of `setp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolOp {
    And,
    Or,
    Xor,
}

/// The `setp.cmp.bool` combining operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Comb {
    pub op: BoolOp,
    pub p: R,
    pub neg: bool,
}

/// `testp` classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestClass {
    Finite,
    Infinite,
    Number,
    NotANumber,
    Normal,
    Subnormal,
}

/// Two-operand integer (and predicate logic) operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IOp2 {
    Add,
    Sub,
    AddSat,
    SubSat,
    MulLo,
    MulHi,
    MulWide,
    Div,
    Rem,
    Min,
    Max,
    Shl,
    Shr,
    And,
    Or,
    Xor,
}

/// One-operand integer operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IOp1 {
    Neg,
    Abs,
    Not,
    Cnot,
    Popc,
    Clz,
    Brev,
}

/// `mad` variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MadMode {
    Lo,
    Hi,
    Wide,
}

/// Memory state spaces reachable by `ld`/`st`/`atom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemSpace {
    Global,
    Shared,
    Generic,
}

/// How loaded bytes are extended into a wider register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemTy {
    pub bytes: u8,
    pub signed: bool,
}

/// Conversions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CvtKind {
    IntToInt {
        from: IntTy,
        to: IntTy,
        sat: bool,
    },
    IntToFloat {
        from: IntTy,
        to: Fmt,
        rnd: Rnd,
        ftz: bool,
        sat: bool,
    },
    FloatToInt {
        from: Fmt,
        to: IntTy,
        rnd: Rnd,
        ftz: bool,
    },
    FloatToFloat {
        from: Fmt,
        to: Fmt,
        frnd: Rnd,
        irnd: Option<Rnd>,
        ftz: bool,
        sat: bool,
    },
}

/// Atomic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomOp {
    Add,
    Min,
    Max,
    Exch,
    Cas,
    And,
    Or,
    Xor,
    Inc,
    Dec,
}

/// One decoded instruction.
#[derive(Clone, Debug)]
pub(crate) struct Inst {
    /// Guard predicate register and whether it is negated (`@!%p`).
    pub guard: Option<(R, bool)>,
    pub op: Op,
}

/// Decoded operations. `d` is a destination, `a b c` sources.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Bit copy (any type; immediates already converted).
    Mov {
        d: R,
        a: R,
    },
    /// Read a special register (32-bit, zero-extended into `d`).
    Sreg {
        d: R,
        s: Sreg,
    },
    /// `mov.b64 d, {a, b}`: concatenate `n` parts of `bits` bits, first lowest.
    Pack {
        d: R,
        parts: [R; 4],
        n: u8,
        bits: u8,
    },
    /// `mov.b64 {a, b}, d`: split into `n` parts of `bits` bits (`NO_REG` = sink).
    Unpack {
        ds: [R; 4],
        n: u8,
        bits: u8,
        a: R,
    },
    F32 {
        op: FOp2,
        rnd: Rnd,
        ftz: bool,
        sat: bool,
        d: R,
        a: R,
        b: R,
    },
    F64 {
        op: FOp2,
        rnd: Rnd,
        d: R,
        a: R,
        b: R,
    },
    Fma32 {
        rnd: Rnd,
        ftz: bool,
        sat: bool,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    Fma64 {
        rnd: Rnd,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    Un32 {
        op: FOp1,
        ftz: bool,
        sat: bool,
        d: R,
        a: R,
    },
    Un64 {
        op: FOp1,
        ftz: bool,
        d: R,
        a: R,
    },
    MinMax32 {
        max: bool,
        ftz: bool,
        nan: bool,
        d: R,
        a: R,
        b: R,
    },
    MinMax64 {
        max: bool,
        nan: bool,
        d: R,
        a: R,
        b: R,
    },
    Copysign {
        f64: bool,
        d: R,
        a: R,
        b: R,
    },
    Testp {
        f64: bool,
        class: TestClass,
        d: R,
        a: R,
    },
    SetpF {
        f64: bool,
        cmp: FCmp,
        ftz: bool,
        d: R,
        d2: R,
        a: R,
        b: R,
        comb: Option<Comb>,
    },
    SetpI {
        ty: IntTy,
        cmp: ICmp,
        d: R,
        d2: R,
        a: R,
        b: R,
        comb: Option<Comb>,
    },
    Selp {
        d: R,
        a: R,
        b: R,
        p: R,
    },
    Int2 {
        op: IOp2,
        ty: IntTy,
        d: R,
        a: R,
        b: R,
    },
    Int1 {
        op: IOp1,
        ty: IntTy,
        d: R,
        a: R,
    },
    Mad {
        mode: MadMode,
        ty: IntTy,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    Bfe {
        ty: IntTy,
        d: R,
        a: R,
        b: R,
        c: R,
    },
    Cvt {
        kind: CvtKind,
        /// Width of the destination register (8-bit results are extended).
        dbits: u8,
        d: R,
        a: R,
    },
    /// `cvta.shared.u64`: shared-window offset → generic address.
    CvtaFromShared {
        d: R,
        a: R,
    },
    /// `cvta.to.shared.u64`: generic address → shared-window offset.
    CvtaToShared {
        d: R,
        a: R,
    },
    Ld {
        space: MemSpace,
        ty: MemTy,
        n: u8,
        ds: [R; 4],
        reg_bits: u8,
        base: R,
        off: i64,
    },
    St {
        space: MemSpace,
        ty: MemTy,
        n: u8,
        srcs: [R; 4],
        base: R,
        off: i64,
    },
    LdParam {
        d: R,
        off: u32,
        ty: MemTy,
        reg_bits: u8,
    },
    Atom {
        space: MemSpace,
        op: AtomOp,
        ty: Ty,
        d: R,
        base: R,
        off: i64,
        b: R,
        c: R,
    },
    Bra {
        target: u32,
    },
    /// Block-wide barrier; `count` is the optional explicit thread count.
    Bar {
        count: Option<u32>,
    },
    Exit,
    /// Memory fences: ordering is trivially satisfied by the sequential model.
    Nop,
}
