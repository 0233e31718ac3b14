//! The element-wise operations ([`Un`], [`Bin`], [`Tern`]: the IR
//! operations the back ends match on, their names and f64 semantics read
//! from the table [`ELEMENTWISE`](super::ops::ELEMENTWISE)) and the
//! reductions over the entries of a vector ([`VecRed`]).

use super::ops::{self, ElemOp, Eval, OpDef, Vjp};

/// Element-wise unary operations (spellings, semantics and derivatives:
/// [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Un {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `sin x`
    Sin,
    /// `cos x`
    Cos,
    /// `sqrt x`
    Sqrt,
    /// `1/sqrt(x)`, 0 at 0.
    Rsqrt,
    /// `x^2`
    Square,
    /// -1, 0 or 1.
    Sign,
    /// 0 for `x < 0`, 1 otherwise (`step(0) = 1`).
    Step,
    /// `max(x, 0)`
    Relu,
    /// `1/x`
    Inv,
    /// `x ln x`, 0 at 0.
    XLogX,
    /// `sin(x)/x`, 1 at 0.
    SinXDivX,
    /// Derivative of `sin(x)/x`: `(cos x - sin(x)/x)/x`, 0 at 0 (internal).
    SinXDivXDeriv,
    /// `asin x`
    Asin,
    /// `acos x`
    Acos,
    /// `atan x`
    Atan,
    /// `tanh x`
    Tanh,
    /// `sinh x`
    Sinh,
    /// `cosh x`
    Cosh,
    /// Error function.
    Erf,
    /// `ln(1 + x)`
    Log1p,
    /// `e^x - 1`
    Expm1,
    /// Largest integer `<= x`.
    Floor,
    /// Nearest integer, halves away from zero.
    Round,
    /// Integer power `x^n` (exact repeated multiplication).
    PowI(i32),
}

impl Un {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Un(self))
    }

    /// Name in the formula language.
    pub fn name(self) -> String {
        match self {
            Un::PowI(n) => format!("{}{n}", self.def().name),
            _ => self.def().name.into(),
        }
    }

    /// Exact (f64) evaluation: the reference semantics of the operation.
    pub fn eval(self, x: f64) -> f64 {
        self.evaluator()(x)
    }

    /// [`Un::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> impl Fn(f64) -> f64 {
        let n = match self {
            Un::PowI(n) => n,
            _ => 0,
        };
        let e = self.def().eval;
        move |x| match e {
            Eval::Un(f) => f(x),
            Eval::UnInt(f) => f(x, n),
            Eval::Bin(_) | Eval::Tern(_) => unreachable!("unary operation"),
        }
    }
}

/// Element-wise binary operations (both operands of the same dimension;
/// spellings, semantics and derivatives: [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bin {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a^b` for real b.
    Powf,
    /// `atan2(a, b)` (a is y, b is x).
    Atan2,
    /// Element-wise maximum.
    Max,
    /// Element-wise minimum.
    Min,
    /// `a < b` as 0/1.
    Lt,
    /// `a <= b` as 0/1.
    Le,
    /// `a > b` as 0/1.
    Gt,
    /// `a >= b` as 0/1.
    Ge,
    /// `a == b` as 0/1.
    Eq,
    /// `a != b` as 0/1.
    Ne,
}

impl Bin {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Bin(self))
    }
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        self.def().name
    }
    /// True for the infix arithmetic and comparison operators.
    pub fn is_infix(self) -> bool {
        self.def().infix.is_some()
    }
    /// True for the comparisons (zero derivative).
    pub fn is_comparison(self) -> bool {
        matches!(self.def().vjp, Vjp::Zero)
    }
    /// Exact (f64) evaluation.
    pub fn eval(self, a: f64, b: f64) -> f64 {
        self.evaluator()(a, b)
    }
    /// [`Bin::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> fn(f64, f64) -> f64 {
        match self.def().eval {
            Eval::Bin(f) => f,
            _ => unreachable!("binary operation"),
        }
    }
}

/// Element-wise ternary operations (spellings, semantics and derivatives:
/// [`crate::ops::ELEMENTWISE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tern {
    /// `clamp(x, lo, hi)`: `lo` if `x < lo`, `hi` if `x > hi`, else `x`.
    Clamp,
    /// `ifelse(c, a, b)`: `a` where `c >= 0`, else `b`.
    IfElse,
    /// `mod(x, n, d) = x - n * floor((x - d) / n)`.
    Mod,
}

impl Tern {
    /// The operation's row in [`crate::ops::ELEMENTWISE`].
    pub fn def(self) -> &'static OpDef {
        ops::def(ElemOp::Tern(self))
    }
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        self.def().name
    }
    /// Exact (f64) evaluation.
    pub fn eval(self, a: f64, b: f64, c: f64) -> f64 {
        self.evaluator()(a, b, c)
    }
    /// [`Tern::eval`] with the table lookup done once (for loops).
    pub fn evaluator(self) -> fn(f64, f64, f64) -> f64 {
        match self.def().eval {
            Eval::Tern(f) => f,
            _ => unreachable!("ternary operation"),
        }
    }
}

/// Reductions over the entries of one vector (result of dimension 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VecRed {
    /// Largest entry.
    Max,
    /// Smallest entry.
    Min,
    /// Position of the largest entry (first one on ties), as a float.
    ArgMax,
    /// Position of the smallest entry (first one on ties), as a float.
    ArgMin,
}

impl VecRed {
    /// Name in the formula language.
    pub fn name(self) -> &'static str {
        match self {
            VecRed::Max => "max",
            VecRed::Min => "min",
            VecRed::ArgMax => "argmax",
            VecRed::ArgMin => "argmin",
        }
    }
    /// Exact evaluation.
    pub fn eval(self, x: &[f64]) -> f64 {
        let mut best = 0usize;
        for (k, &v) in x.iter().enumerate().skip(1) {
            let better = match self {
                VecRed::Max | VecRed::ArgMax => v > x[best],
                VecRed::Min | VecRed::ArgMin => v < x[best],
            };
            if better {
                best = k;
            }
        }
        match self {
            VecRed::Max | VecRed::Min => x[best],
            VecRed::ArgMax | VecRed::ArgMin => best as f64,
        }
    }
}
