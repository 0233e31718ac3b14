//! The table of element-wise operations: one [`OpDef`] row per IR operation
//! ([`Un`], [`Bin`], [`Tern`]) with its printed name, its spellings in the
//! formula language, its arguments, its reference semantics (f64) and its
//! derivative.
//!
//! Everything that only needs to know *which* element-wise operations exist
//! derives from [`ELEMENTWISE`]: the front end's spelling lookup and its
//! "did you mean" candidates, [`Un::name`] / [`Un::eval`] (and the `Bin`,
//! `Tern` ones), the reference evaluator and constant folding (through
//! `eval`), symbolic differentiation ([`crate::autodiff`] calls the row's
//! [`Vjp`]), and the name lists of the fuzz and differential tests. What an
//! operation costs on a back end stays with the back end: the CPU emitter's
//! `Pack` method call (`emit_cpu/inst.rs`) and the PTX routine
//! (`keops-gpu-kernels`). Operation-specific algebraic rewrites (`-(-x) = x`,
//! `log(exp x) = x`, ...) stay in the simplifying builder ([`Graph::un`]).
//!
//! Adding an operation: a variant in `Un`/`Bin`/`Tern`, a row here, and a
//! routine per back end (see ARCHITECTURE.md).

use crate::ir::{erf_f64, Bin, Graph, Id, Op, Tern, Un};

/// An element-wise IR operation of any arity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemOp {
    /// Unary.
    Un(Un),
    /// Binary (a dimension-1 operand is broadcast).
    Bin(Bin),
    /// Ternary (dimension-1 operands are broadcast).
    Tern(Tern),
}

impl ElemOp {
    /// Number of operands of the IR node.
    pub fn arity(self) -> usize {
        match self {
            ElemOp::Un(_) => 1,
            ElemOp::Bin(_) => 2,
            ElemOp::Tern(_) => 3,
        }
    }

    /// Builds the node through the (simplifying) builder; missing trailing
    /// operands are the constant 0 (`modulo(x, n)`, `x % n`).
    pub fn build(self, g: &mut Graph, args: &[Id]) -> Id {
        let mut x = args.to_vec();
        while x.len() < self.arity() {
            x.push(g.constant(0.0));
        }
        match self {
            ElemOp::Un(u) => g.un(u, x[0]),
            ElemOp::Bin(b) => g.bin(b, x[0], x[1]),
            ElemOp::Tern(t) => g.tern(t, x[0], x[1], x[2]),
        }
    }

    /// Same operation, ignoring parameters (`PowI(2)` and `PowI(3)` are the
    /// same row).
    fn same_row(self, o: ElemOp) -> bool {
        use std::mem::discriminant as d;
        match (self, o) {
            (ElemOp::Un(a), ElemOp::Un(b)) => d(&a) == d(&b),
            (ElemOp::Bin(a), ElemOp::Bin(b)) => a == b,
            (ElemOp::Tern(a), ElemOp::Tern(b)) => a == b,
            _ => false,
        }
    }
}

/// Reference semantics: the exact (f64) value of one component.
#[derive(Clone, Copy, Debug)]
pub enum Eval {
    /// Unary.
    Un(fn(f64) -> f64),
    /// Unary with the operation's integer parameter (`PowI(n)`).
    UnInt(fn(f64, i32) -> f64),
    /// Binary.
    Bin(fn(f64, f64) -> f64),
    /// Ternary.
    Tern(fn(f64, f64, f64) -> f64),
}

/// Derivative rule of a binary operation.
pub type BinVjp = fn(&mut Graph, [Id; 2], Id, Id) -> [Option<Id>; 2];
/// Derivative rule of a ternary operation.
pub type TernVjp = fn(&mut Graph, [Id; 3], Id, Id) -> [Option<Id>; 3];

/// Derivative rule: the contribution of a node to the adjoint of each
/// operand, built in the graph from the operands, the node's own value `y`
/// (reused, e.g. `d exp(x) = exp(x) dx`) and the node's adjoint `a` (same
/// dimension as the node). `None` is a zero contribution.
#[derive(Clone, Copy, Debug)]
pub enum Vjp {
    /// Zero derivative everywhere it exists (piecewise-constant results:
    /// `sign`, `step`, `floor`, `round`, the comparisons), as in KeOps.
    Zero,
    /// `(g, x, y, a)`.
    Un(fn(&mut Graph, Id, Id, Id) -> Option<Id>),
    /// `(g, [x0, x1], y, a)`.
    Bin(BinVjp),
    /// `(g, [x0, x1, x2], y, a)`.
    Tern(TernVjp),
}

/// One element-wise operation.
#[derive(Clone, Copy, Debug)]
pub struct OpDef {
    /// The IR operation (for `PowI`, a representative: the parameter is
    /// the exponent).
    pub op: ElemOp,
    /// Printed name in the IR (`exp`, `+`, `mod`; `PowI(n)` prints `pow{n}`).
    pub name: &'static str,
    /// Infix operator of the formula language lowering to this operation
    /// (`%` is `mod(x, n, 0)`).
    pub infix: Option<&'static str>,
    /// Function spellings, also accepted as methods (`x.exp()`); the first
    /// is the one error messages use. The "did you mean" candidates.
    pub calls: &'static [&'static str],
    /// Further accepted spellings, not suggested by "did you mean".
    pub aliases: &'static [&'static str],
    /// Arguments of the function form: the keywords each accepts (the first
    /// is its display name).
    pub args: &'static [&'static [&'static str]],
    /// Number of required arguments; a missing trailing one is 0.
    pub required: usize,
    /// The spellings take a literal argument (`round(x, decimals)`,
    /// `pow(x, n)`): `front/call.rs` lowers them by hand instead of from `args`.
    pub hand_lowered: bool,
    /// Commutative (binary): the builder puts operands in a canonical order.
    pub commutative: bool,
    /// Reference semantics.
    pub eval: Eval,
    /// Derivative.
    pub vjp: Vjp,
}

impl OpDef {
    /// Every accepted function spelling.
    pub fn spellings(&self) -> impl Iterator<Item = &'static str> {
        self.calls.iter().chain(self.aliases).copied()
    }
}

const X: &[&[&str]] = &[&["x"]];
const AB: &[&[&str]] = &[&["a", "x"], &["b", "y"]];

const fn un(op: Un, calls: &'static [&'static str], eval: fn(f64) -> f64, vjp: Vjp) -> OpDef {
    OpDef {
        op: ElemOp::Un(op),
        name: calls[0],
        infix: None,
        calls,
        aliases: &[],
        args: X,
        required: 1,
        hand_lowered: false,
        commutative: false,
        eval: Eval::Un(eval),
        vjp,
    }
}

const fn bin(
    op: Bin,
    calls: &'static [&'static str],
    eval: fn(f64, f64) -> f64,
    vjp: Vjp,
) -> OpDef {
    OpDef {
        op: ElemOp::Bin(op),
        name: calls[0],
        infix: None,
        calls,
        aliases: &[],
        args: AB,
        required: 2,
        hand_lowered: false,
        commutative: false,
        eval: Eval::Bin(eval),
        vjp,
    }
}

const fn infix(op: Bin, symbol: &'static str, eval: fn(f64, f64) -> f64, vjp: Vjp) -> OpDef {
    OpDef {
        name: symbol,
        infix: Some(symbol),
        calls: &[],
        ..bin(op, &[""], eval, vjp)
    }
}

const fn tern(
    op: Tern,
    calls: &'static [&'static str],
    args: &'static [&'static [&'static str]],
    eval: fn(f64, f64, f64) -> f64,
    vjp: TernVjp,
) -> OpDef {
    OpDef {
        op: ElemOp::Tern(op),
        name: calls[0],
        infix: None,
        calls,
        aliases: &[],
        args,
        required: args.len(),
        hand_lowered: false,
        commutative: false,
        eval: Eval::Tern(eval),
        vjp: Vjp::Tern(vjp),
    }
}

/// 0/1 of a comparison.
fn t(c: bool) -> f64 {
    if c {
        1.0
    } else {
        0.0
    }
}

/// `a / sqrt(1 - x^2)`, the adjoint of `asin` (and minus that of `acos`).
fn asin_vjp(g: &mut Graph, x: Id, y: Id, a: Id) -> Id {
    let one = g.splat_const(1.0, g.dim(y));
    let x2 = g.un(Un::Square, x);
    let r = g.bin(Bin::Sub, one, x2);
    let s = g.un(Un::Rsqrt, r);
    g.bin(Bin::Mul, a, s)
}

/// The adjoint of `max` (`min` with `max_op` false) goes to the selected
/// operand, the first on ties.
fn max_vjp(g: &mut Graph, [x, z]: [Id; 2], y: Id, a: Id, max_op: bool) -> [Option<Id>; 2] {
    let diff = if max_op {
        g.bin(Bin::Sub, x, z)
    } else {
        g.bin(Bin::Sub, z, x)
    };
    let zero = g.zeros(g.dim(y));
    let dx = g.tern(Tern::IfElse, diff, a, zero);
    let dz = g.tern(Tern::IfElse, diff, zero, a);
    [Some(dx), Some(dz)]
}

/// Every element-wise operation, unary then binary then ternary (in the
/// order of the enums).
pub static ELEMENTWISE: &[OpDef] = &[
    // ---------------------------------------------------------------- unary
    OpDef {
        name: "neg",
        calls: &[],
        ..un(
            Un::Neg,
            &[""],
            |x| -x,
            Vjp::Un(|g, _, _, a| Some(g.un(Un::Neg, a))),
        )
    },
    un(
        Un::Abs,
        &["abs"],
        f64::abs,
        Vjp::Un(|g, x, _, a| {
            let s = g.un(Un::Sign, x);
            Some(g.bin(Bin::Mul, a, s))
        }),
    ),
    un(
        Un::Exp,
        &["exp"],
        f64::exp,
        Vjp::Un(|g, _, y, a| Some(g.bin(Bin::Mul, a, y))),
    ),
    un(
        Un::Log,
        &["log", "ln"],
        f64::ln,
        Vjp::Un(|g, x, _, a| Some(g.bin(Bin::Div, a, x))),
    ),
    un(
        Un::Sin,
        &["sin"],
        f64::sin,
        Vjp::Un(|g, x, _, a| {
            let c = g.un(Un::Cos, x);
            Some(g.bin(Bin::Mul, a, c))
        }),
    ),
    un(
        Un::Cos,
        &["cos"],
        f64::cos,
        Vjp::Un(|g, x, _, a| {
            let s = g.un(Un::Sin, x);
            let p = g.bin(Bin::Mul, a, s);
            Some(g.un(Un::Neg, p))
        }),
    ),
    un(
        Un::Sqrt,
        &["sqrt"],
        f64::sqrt,
        Vjp::Un(|g, _, y, a| {
            // d sqrt(x) = 1 / (2 sqrt(x)).
            let h = g.splat_const(0.5, g.dim(y));
            let q = g.bin(Bin::Div, a, y);
            Some(g.bin(Bin::Mul, h, q))
        }),
    ),
    un(
        Un::Rsqrt,
        &["rsqrt"],
        // 1/sqrt(x), 0 at 0.
        |x| if x == 0.0 { 0.0 } else { 1.0 / x.sqrt() },
        Vjp::Un(|g, _, y, a| {
            // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 rsqrt(x)^3.
            let c = g.un(Un::PowI(3), y);
            let h = g.splat_const(-0.5, g.dim(y));
            let p = g.bin(Bin::Mul, h, c);
            Some(g.bin(Bin::Mul, a, p))
        }),
    ),
    un(
        Un::Square,
        &["square"],
        |x| x * x,
        Vjp::Un(|g, x, y, a| {
            let two = g.splat_const(2.0, g.dim(y));
            let p = g.bin(Bin::Mul, two, x);
            Some(g.bin(Bin::Mul, a, p))
        }),
    ),
    un(
        Un::Sign,
        &["sign"],
        |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        },
        Vjp::Zero,
    ),
    un(
        Un::Step,
        &["step"],
        // step(0) = 1.
        |x| if x < 0.0 { 0.0 } else { 1.0 },
        Vjp::Zero,
    ),
    un(
        Un::Relu,
        &["relu"],
        |x| if x < 0.0 { 0.0 } else { x },
        Vjp::Un(|g, x, _, a| {
            let s = g.un(Un::Step, x);
            Some(g.bin(Bin::Mul, a, s))
        }),
    ),
    un(
        Un::Inv,
        &["inv"],
        |x| 1.0 / x,
        Vjp::Un(|g, _, y, a| {
            // d (1/x) = -(1/x)^2.
            let s = g.un(Un::Square, y);
            let p = g.bin(Bin::Mul, a, s);
            Some(g.un(Un::Neg, p))
        }),
    ),
    un(
        Un::XLogX,
        &["xlogx"],
        // x ln x, 0 at 0.
        |x| if x == 0.0 { 0.0 } else { x * x.ln() },
        Vjp::Un(|g, x, y, a| {
            let l = g.un(Un::Log, x);
            let one = g.splat_const(1.0, g.dim(y));
            let s = g.bin(Bin::Add, l, one);
            Some(g.bin(Bin::Mul, a, s))
        }),
    ),
    un(
        Un::SinXDivX,
        &["sinxdivx"],
        // sin(x)/x, 1 at 0.
        |x| if x == 0.0 { 1.0 } else { x.sin() / x },
        Vjp::Un(|g, x, _, a| {
            let d = g.un(Un::SinXDivXDeriv, x);
            Some(g.bin(Bin::Mul, a, d))
        }),
    ),
    OpDef {
        // Internal: the derivative of `sinxdivx`.
        name: "sinxdivx_deriv",
        calls: &[],
        ..un(
            Un::SinXDivXDeriv,
            &[""],
            // (cos x - sin(x)/x)/x, 0 at 0.
            |x| {
                if x == 0.0 {
                    0.0
                } else {
                    (x.cos() - x.sin() / x) / x
                }
            },
            Vjp::Un(|g, x, y, a| {
                // d/dx [(cos x - sinc x)/x] = (-sin x - 2 sinc'(x)) / x.
                let s = g.un(Un::Sin, x);
                let two = g.splat_const(2.0, g.dim(y));
                let t = g.bin(Bin::Mul, two, y);
                let num = g.bin(Bin::Add, s, t);
                let q = g.bin(Bin::Div, num, x);
                let p = g.bin(Bin::Mul, a, q);
                Some(g.un(Un::Neg, p))
            }),
        )
    },
    un(
        Un::Asin,
        &["asin"],
        f64::asin,
        Vjp::Un(|g, x, y, a| Some(asin_vjp(g, x, y, a))),
    ),
    un(
        Un::Acos,
        &["acos"],
        f64::acos,
        Vjp::Un(|g, x, y, a| {
            let p = asin_vjp(g, x, y, a);
            Some(g.un(Un::Neg, p))
        }),
    ),
    un(
        Un::Atan,
        &["atan"],
        f64::atan,
        Vjp::Un(|g, x, y, a| {
            let one = g.splat_const(1.0, g.dim(y));
            let x2 = g.un(Un::Square, x);
            let r = g.bin(Bin::Add, one, x2);
            Some(g.bin(Bin::Div, a, r))
        }),
    ),
    un(
        Un::Tanh,
        &["tanh"],
        f64::tanh,
        Vjp::Un(|g, _, y, a| {
            let one = g.splat_const(1.0, g.dim(y));
            let t2 = g.un(Un::Square, y);
            let r = g.bin(Bin::Sub, one, t2);
            Some(g.bin(Bin::Mul, a, r))
        }),
    ),
    un(
        Un::Sinh,
        &["sinh"],
        f64::sinh,
        Vjp::Un(|g, x, _, a| {
            let c = g.un(Un::Cosh, x);
            Some(g.bin(Bin::Mul, a, c))
        }),
    ),
    un(
        Un::Cosh,
        &["cosh"],
        f64::cosh,
        Vjp::Un(|g, x, _, a| {
            let s = g.un(Un::Sinh, x);
            Some(g.bin(Bin::Mul, a, s))
        }),
    ),
    un(
        Un::Erf,
        &["erf"],
        erf_f64,
        Vjp::Un(|g, x, y, a| {
            // 2/sqrt(pi) exp(-x^2).
            let x2 = g.un(Un::Square, x);
            let m = g.un(Un::Neg, x2);
            let ex = g.un(Un::Exp, m);
            let k = g.splat_const(std::f64::consts::FRAC_2_SQRT_PI, g.dim(y));
            let p = g.bin(Bin::Mul, k, ex);
            Some(g.bin(Bin::Mul, a, p))
        }),
    ),
    un(
        Un::Log1p,
        &["log1p"],
        f64::ln_1p,
        Vjp::Un(|g, x, y, a| {
            let one = g.splat_const(1.0, g.dim(y));
            let r = g.bin(Bin::Add, one, x);
            Some(g.bin(Bin::Div, a, r))
        }),
    ),
    un(
        Un::Expm1,
        &["expm1"],
        f64::exp_m1,
        Vjp::Un(|g, x, _, a| {
            let ex = g.un(Un::Exp, x);
            Some(g.bin(Bin::Mul, a, ex))
        }),
    ),
    un(Un::Floor, &["floor"], f64::floor, Vjp::Zero),
    OpDef {
        // `round(x, d)` rounds to d decimals (front/call.rs: `round(x * 10^d) / 10^d`).
        args: &[&["x"], &["decimals", "d"]],
        hand_lowered: true,
        // Halves away from zero.
        ..un(Un::Round, &["round"], f64::round, Vjp::Zero)
    },
    OpDef {
        // `pow(x, n)` with a literal n (front/call.rs: `powf` when n is not a
        // small integer).
        args: &[&["x"], &["n", "exponent"]],
        required: 2,
        hand_lowered: true,
        // Exact repeated multiplication.
        eval: Eval::UnInt(f64::powi),
        ..un(
            Un::PowI(0),
            &["pow"],
            |x| x, // replaced by `eval` above
            Vjp::Un(|g, x, y, a| {
                let Op::Un(Un::PowI(k)) = g.node(y).op else {
                    unreachable!("the derivative rule of pow is called on a pow node")
                };
                if k == 0 {
                    None
                } else {
                    let p = g.un(Un::PowI(k - 1), x);
                    let c = g.splat_const(k as f64, g.dim(y));
                    let q = g.bin(Bin::Mul, c, p);
                    Some(g.bin(Bin::Mul, a, q))
                }
            }),
        )
    },
    // --------------------------------------------------------------- binary
    OpDef {
        commutative: true,
        ..infix(
            Bin::Add,
            "+",
            |a, b| a + b,
            Vjp::Bin(|_, _, _, a| [Some(a), Some(a)]),
        )
    },
    infix(
        Bin::Sub,
        "-",
        |a, b| a - b,
        Vjp::Bin(|g, _, _, a| {
            let m = g.un(Un::Neg, a);
            [Some(a), Some(m)]
        }),
    ),
    OpDef {
        commutative: true,
        ..infix(
            Bin::Mul,
            "*",
            |a, b| a * b,
            Vjp::Bin(|g, [x, z], _, a| {
                let dx = g.bin(Bin::Mul, a, z);
                let dz = g.bin(Bin::Mul, a, x);
                [Some(dx), Some(dz)]
            }),
        )
    },
    infix(
        Bin::Div,
        "/",
        |a, b| a / b,
        Vjp::Bin(|g, [_, z], y, a| {
            // d(x/z) = dx / z - (x/z) dz / z.
            let dx = g.bin(Bin::Div, a, z);
            let q = g.bin(Bin::Mul, dx, y);
            let dz = g.un(Un::Neg, q);
            [Some(dx), Some(dz)]
        }),
    ),
    bin(
        Bin::Powf,
        &["powf"],
        f64::powf,
        Vjp::Bin(|g, [x, z], y, a| {
            // d x^z = z x^(z-1) dx + ln(x) x^z dz.
            let one = g.splat_const(1.0, g.dim(y));
            let zm1 = g.bin(Bin::Sub, z, one);
            let p = g.bin(Bin::Powf, x, zm1);
            let t = g.bin(Bin::Mul, z, p);
            let dx = g.bin(Bin::Mul, a, t);
            let l = g.un(Un::Log, x);
            let t2 = g.bin(Bin::Mul, l, y);
            let dz = g.bin(Bin::Mul, a, t2);
            [Some(dx), Some(dz)]
        }),
    ),
    bin(
        Bin::Atan2,
        &["atan2"],
        // atan2(a, b): a is y, b is x.
        f64::atan2,
        Vjp::Bin(|g, [num, den], _, a| {
            // d/dnum = den / r2, d/dden = -num / r2.
            let n2 = g.un(Un::Square, num);
            let d2 = g.un(Un::Square, den);
            let r2 = g.bin(Bin::Add, n2, d2);
            let q = g.bin(Bin::Div, a, r2);
            let dnum = g.bin(Bin::Mul, q, den);
            let t = g.bin(Bin::Mul, q, num);
            let dden = g.un(Un::Neg, t);
            [Some(dnum), Some(dden)]
        }),
    ),
    OpDef {
        aliases: &["maximum"],
        commutative: true,
        ..bin(
            Bin::Max,
            &["max"],
            |a, b| if a > b || b.is_nan() { a } else { b },
            Vjp::Bin(|g, x, y, a| max_vjp(g, x, y, a, true)),
        )
    },
    OpDef {
        aliases: &["minimum"],
        commutative: true,
        ..bin(
            Bin::Min,
            &["min"],
            |a, b| if a < b || b.is_nan() { a } else { b },
            Vjp::Bin(|g, x, y, a| max_vjp(g, x, y, a, false)),
        )
    },
    infix(Bin::Lt, "<", |a, b| t(a < b), Vjp::Zero),
    infix(Bin::Le, "<=", |a, b| t(a <= b), Vjp::Zero),
    infix(Bin::Gt, ">", |a, b| t(a > b), Vjp::Zero),
    infix(Bin::Ge, ">=", |a, b| t(a >= b), Vjp::Zero),
    OpDef {
        commutative: true,
        ..infix(Bin::Eq, "==", |a, b| t(a == b), Vjp::Zero)
    },
    OpDef {
        commutative: true,
        ..infix(Bin::Ne, "!=", |a, b| t(a != b), Vjp::Zero)
    },
    // -------------------------------------------------------------- ternary
    tern(
        Tern::Clamp,
        &["clamp"],
        &[&["x"], &["a", "lo", "min"], &["b", "hi", "max"]],
        // lo if x < lo, hi if x > hi, else x.
        |x, lo, hi| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        },
        |g, [x, lo, hi], y, a| {
            // x passes where lo <= x <= hi; lo where x < lo; hi where
            // x >= lo and x > hi (with crossed bounds, lo > hi, the value
            // between them is lo: the first test wins).
            let d = g.dim(y);
            // Built first as before the table (unused here): keeps the
            // node numbering, hence the order of lowered instructions.
            let _ = g.zeros(d);
            let below = g.bin(Bin::Lt, x, lo);
            let not_below = g.bin(Bin::Ge, x, lo);
            let past_hi = g.bin(Bin::Gt, x, hi);
            let above = g.bin(Bin::Mul, not_below, past_hi);
            let m_lo = g.bin(Bin::Mul, a, below);
            let m_hi = g.bin(Bin::Mul, a, above);
            let one = g.splat_const(1.0, d);
            let out = g.bin(Bin::Add, below, above);
            let inside = g.bin(Bin::Sub, one, out);
            let m_x = g.bin(Bin::Mul, a, inside);
            [Some(m_x), Some(m_lo), Some(m_hi)]
        },
    ),
    tern(
        Tern::IfElse,
        &["ifelse"],
        &[&["c", "cond"], &["a"], &["b"]],
        // a where c >= 0, else b.
        |c, a, b| if c >= 0.0 { a } else { b },
        |g, [c, _, _], y, a| {
            let zero = g.zeros(g.dim(y));
            let da = g.tern(Tern::IfElse, c, a, zero);
            let db = g.tern(Tern::IfElse, c, zero, a);
            [None, Some(da), Some(db)]
        },
    ),
    OpDef {
        name: "mod",
        infix: Some("%"),
        aliases: &["mod", "keops_mod"],
        required: 2,
        ..tern(
            Tern::Mod,
            &["modulo"],
            &[&["x"], &["n", "modulus"], &["d", "offset"]],
            // x - n floor((x - d) / n).
            |x, n, d| x - n * ((x - d) / n).floor(),
            |g, [x, n, d], y, a| {
                // d/dx = 1, d/dn = -floor((x - d)/n), d/dd = 0.
                // Built first as before the table (unused here): keeps the
                // node numbering, hence the order of lowered instructions.
                let _ = g.zeros(g.dim(y));
                let s = g.bin(Bin::Sub, x, d);
                let r = g.bin(Bin::Div, s, n);
                let fl = g.un(Un::Floor, r);
                let t = g.bin(Bin::Mul, a, fl);
                let dn = g.un(Un::Neg, t);
                [Some(a), Some(dn), None]
            },
        )
    },
];

/// The row of an operation.
pub fn def(op: ElemOp) -> &'static OpDef {
    ELEMENTWISE
        .iter()
        .find(|d| d.op.same_row(op))
        .expect("every element-wise operation has a row in ops::ELEMENTWISE")
}

/// The row accepting a function (or method) spelling, lower-case.
pub fn by_spelling(name: &str) -> Option<&'static OpDef> {
    ELEMENTWISE
        .iter()
        .find(|d| d.spellings().any(|s| s == name))
}

/// The row of an infix operator.
pub fn by_infix(symbol: &str) -> Option<&'static OpDef> {
    ELEMENTWISE.iter().find(|d| d.infix == Some(symbol))
}

/// The "did you mean" candidates among element-wise operations.
pub fn suggestions() -> impl Iterator<Item = &'static str> {
    ELEMENTWISE.iter().flat_map(|d| d.calls.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_consistent() {
        for d in ELEMENTWISE {
            let n = d.op.arity();
            let eval_ok = matches!(
                (d.op, d.eval),
                (ElemOp::Un(Un::PowI(_)), Eval::UnInt(_))
                    | (ElemOp::Un(_), Eval::Un(_))
                    | (ElemOp::Bin(_), Eval::Bin(_))
                    | (ElemOp::Tern(_), Eval::Tern(_))
            );
            assert!(eval_ok, "{}: eval of the wrong arity", d.name);
            let vjp_ok = matches!(
                (d.op, d.vjp),
                (_, Vjp::Zero)
                    | (ElemOp::Un(_), Vjp::Un(_))
                    | (ElemOp::Bin(_), Vjp::Bin(_))
                    | (ElemOp::Tern(_), Vjp::Tern(_))
            );
            assert!(vjp_ok, "{}: derivative of the wrong arity", d.name);
            assert!(!d.name.is_empty());
            assert!(d.required <= d.args.len());
            if !d.hand_lowered && !d.calls.is_empty() {
                assert_eq!(d.args.len(), n, "{}: arguments", d.name);
            }
            assert!(!d.commutative || matches!(d.op, ElemOp::Bin(_)));
            // One row per operation, one operation per spelling.
            assert!(std::ptr::eq(def(d.op), d), "{}: two rows", d.name);
            for s in d.spellings() {
                assert!(std::ptr::eq(by_spelling(s).unwrap(), d), "{s}: two rows");
                assert_eq!(s, s.to_ascii_lowercase());
            }
            if let Some(s) = d.infix {
                assert!(std::ptr::eq(by_infix(s).unwrap(), d), "{s}: two rows");
            }
        }
    }
}
