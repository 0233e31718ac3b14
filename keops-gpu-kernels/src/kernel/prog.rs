//! Translation of the lowered scalar programs ([`ScalarProg`]) into PTX,
//! instruction by instruction, following the lane semantics of
//! `keops-runtime`'s `ops` module (itself the semantics of the IR's `eval`).
//!
//! Every float `add`/`sub`/`mul`/`fma`/`div`/`sqrt` is IEEE-rounded (`.rn`);
//! transcendental functions go through [`crate::math`]; comparisons use the
//! ordered or unordered `setp` forms that reproduce Rust's NaN behaviour.

use std::collections::HashMap;

use keops_ir::ir::{Bin, Tern, Un};
use keops_ir::lower::{Inst, ScalarProg};

use crate::math::{self, MathOpts};
use crate::ptx::{Builder, Prec, Reg, Ty};

/// Small instruction helpers on a [`Builder`] for one precision.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ops {
    /// Float precision of the data.
    pub p: Prec,
    /// Device math options.
    pub mo: MathOpts,
}

impl Ops {
    /// `op.T d, a, b` into a fresh register (`op` like `add.rn`).
    pub fn bin(&self, b: &mut Builder, op: &str, x: Reg, y: Reg) -> Reg {
        let r = b.freg(self.p);
        b.emit(format!("{op}.{} {r}, {x}, {y}", self.p.suffix()));
        r
    }

    /// `op.T d, a` into a fresh register.
    pub fn un(&self, b: &mut Builder, op: &str, x: Reg) -> Reg {
        let r = b.freg(self.p);
        b.emit(format!("{op}.{} {r}, {x}", self.p.suffix()));
        r
    }

    /// `fma.rn.T d, a, b, c` (one rounding of `a * b + c`).
    pub fn fma(&self, b: &mut Builder, x: Reg, y: Reg, z: Reg) -> Reg {
        let r = b.freg(self.p);
        b.emit(format!("fma.rn.{} {r}, {x}, {y}, {z}", self.p.suffix()));
        r
    }

    /// A float constant.
    pub fn c(&self, b: &mut Builder, x: f64) -> Reg {
        b.fconst(self.p, x)
    }

    /// `setp.cmp.T p, a, b`.
    pub fn setp(&self, b: &mut Builder, cmp: &str, x: Reg, y: Reg) -> Reg {
        let r = b.reg(Ty::Pred);
        b.emit(format!("setp.{cmp}.{} {r}, {x}, {y}", self.p.suffix()));
        r
    }

    /// `setp.cmp.T p, a, imm`.
    pub fn setp_imm(&self, b: &mut Builder, cmp: &str, x: Reg, y: f64) -> Reg {
        let r = b.reg(Ty::Pred);
        b.emit(format!(
            "setp.{cmp}.{} {r}, {x}, {}",
            self.p.suffix(),
            self.p.imm(y)
        ));
        r
    }

    /// `selp.T d, a, b, p` (a where p).
    pub fn sel(&self, b: &mut Builder, x: Reg, y: Reg, pr: Reg) -> Reg {
        let r = b.freg(self.p);
        b.emit(format!("selp.{} {r}, {x}, {y}, {pr}", self.p.suffix()));
        r
    }

    /// `selp.T d, imm_a, imm_b, p`.
    pub fn sel_imm(&self, b: &mut Builder, x: f64, y: f64, pr: Reg) -> Reg {
        let r = b.freg(self.p);
        b.emit(format!(
            "selp.{} {r}, {}, {}, {pr}",
            self.p.suffix(),
            self.p.imm(x),
            self.p.imm(y)
        ));
        r
    }

    /// 1.0 where `pr`, else 0.0.
    pub fn indicator(&self, b: &mut Builder, pr: Reg) -> Reg {
        self.sel_imm(b, 1.0, 0.0, pr)
    }

    /// `x` where `x != 0`, else the constant `at_zero` (the value of a
    /// function with a removable singularity at 0).
    fn zero_guard(&self, b: &mut Builder, x: Reg, fx: Reg, at_zero: f64) -> Reg {
        let z = self.setp_imm(b, "eq", x, 0.0);
        let c = self.c(b, at_zero);
        self.sel(b, c, fx, z)
    }

    /// Round half away from zero, exactly: `t = trunc(x)`, `d = x - t`
    /// (exact), `t + copysign(1, x)` where `|d| >= 1/2`. NaN and infinities
    /// come back unchanged (the comparison with NaN is false).
    pub fn round(&self, b: &mut Builder, x: Reg) -> Reg {
        let s = self.p.suffix();
        let t = b.freg(self.p);
        b.emit(format!("cvt.rzi.{s}.{s} {t}, {x}"));
        let d = self.bin(b, "sub.rn", x, t);
        let ad = self.un(b, "abs", d);
        let half = self.setp_imm(b, "ge", ad, 0.5);
        let one = self.c(b, 1.0);
        let so = b.freg(self.p);
        b.emit(format!("copysign.{s} {so}, {x}, {one}"));
        let t1 = self.bin(b, "add.rn", t, so);
        self.sel(b, t1, t, half)
    }

    /// Largest integer `<= x` (`cvt.rmi`).
    pub fn floor(&self, b: &mut Builder, x: Reg) -> Reg {
        let s = self.p.suffix();
        let r = b.freg(self.p);
        b.emit(format!("cvt.rmi.{s}.{s} {r}, {x}"));
        r
    }

    /// A unary operation of the formula language.
    pub fn unary(&self, b: &mut Builder, u: Un, x: Reg) -> Reg {
        let (p, mo) = (self.p, self.mo);
        match u {
            Un::Neg => self.un(b, "neg", x),
            Un::Abs => self.un(b, "abs", x),
            Un::Exp => math::exp(b, p, x, mo),
            Un::Log => math::log(b, p, x, mo),
            Un::Sin => math::sin(b, p, x, mo),
            Un::Cos => math::cos(b, p, x, mo),
            Un::Sqrt => self.un(b, "sqrt.rn", x),
            Un::Rsqrt => {
                let r = math::rsqrt(b, p, x, mo);
                self.zero_guard(b, x, r, 0.0)
            }
            Un::Square => self.bin(b, "mul.rn", x, x),
            Un::Sign => {
                let gt = self.setp_imm(b, "gt", x, 0.0);
                let pos = self.indicator(b, gt);
                let lt = self.setp_imm(b, "lt", x, 0.0);
                let m1 = self.c(b, -1.0);
                self.sel(b, m1, pos, lt)
            }
            Un::Step => {
                let lt = self.setp_imm(b, "lt", x, 0.0);
                self.sel_imm(b, 0.0, 1.0, lt)
            }
            Un::Relu => {
                let lt = self.setp_imm(b, "lt", x, 0.0);
                let z = self.c(b, 0.0);
                self.sel(b, z, x, lt)
            }
            Un::Inv => {
                let one = self.c(b, 1.0);
                self.bin(b, "div.rn", one, x)
            }
            Un::XLogX => {
                let l = math::log(b, p, x, mo);
                let r = self.bin(b, "mul.rn", x, l);
                self.zero_guard(b, x, r, 0.0)
            }
            Un::SinXDivX => {
                let s = math::sin(b, p, x, mo);
                let r = self.bin(b, "div.rn", s, x);
                self.zero_guard(b, x, r, 1.0)
            }
            Un::SinXDivXDeriv => {
                let s = math::sin(b, p, x, mo);
                let c = math::cos(b, p, x, mo);
                let q = self.bin(b, "div.rn", s, x);
                let d = self.bin(b, "sub.rn", c, q);
                let r = self.bin(b, "div.rn", d, x);
                self.zero_guard(b, x, r, 0.0)
            }
            Un::Asin => math::asin(b, p, x, mo),
            Un::Acos => math::acos(b, p, x, mo),
            Un::Atan => math::atan(b, p, x, mo),
            Un::Tanh => math::tanh(b, p, x, mo),
            Un::Sinh => math::sinh(b, p, x, mo),
            Un::Cosh => math::cosh(b, p, x, mo),
            Un::Erf => math::erf(b, p, x, mo),
            Un::Log1p => math::log1p(b, p, x, mo),
            Un::Expm1 => math::expm1(b, p, x, mo),
            Un::Floor => self.floor(b, x),
            Un::Round => self.round(b, x),
            Un::PowI(n) => {
                // Expanded by the lowering; kept for completeness (binary
                // exponentiation, as the lowering does).
                if n == 0 {
                    return self.c(b, 1.0);
                }
                let mut e = n.unsigned_abs();
                let mut base = x;
                let mut acc: Option<Reg> = None;
                while e > 0 {
                    if e & 1 == 1 {
                        acc = Some(match acc {
                            None => base,
                            Some(a) => self.bin(b, "mul.rn", a, base),
                        });
                    }
                    e >>= 1;
                    if e > 0 {
                        base = self.bin(b, "mul.rn", base, base);
                    }
                }
                let r = acc.expect("n != 0");
                if n < 0 {
                    let one = self.c(b, 1.0);
                    self.bin(b, "div.rn", one, r)
                } else {
                    r
                }
            }
        }
    }

    /// A binary operation of the formula language.
    pub fn binary(&self, b: &mut Builder, op: Bin, x: Reg, y: Reg) -> Reg {
        let (p, mo) = (self.p, self.mo);
        match op {
            Bin::Add => self.bin(b, "add.rn", x, y),
            Bin::Sub => self.bin(b, "sub.rn", x, y),
            Bin::Mul => self.bin(b, "mul.rn", x, y),
            Bin::Div => self.bin(b, "div.rn", x, y),
            Bin::Powf => math::powf(b, p, x, y, mo),
            Bin::Atan2 => math::atan2(b, p, x, y, mo),
            Bin::Max | Bin::Min => {
                // `x` if `x > y` (resp. `<`) or `y` is NaN, else `y`.
                let cmp = if op == Bin::Max { "gt" } else { "lt" };
                let c = self.setp(b, cmp, x, y);
                let pr = b.reg(Ty::Pred);
                b.emit(format!("setp.nan.or.{} {pr}, {y}, {y}, {c}", p.suffix()));
                self.sel(b, x, y, pr)
            }
            Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::Eq | Bin::Ne => {
                // Ordered comparisons are false with NaN, like Rust's;
                // `!=` is true with NaN (unordered `neu`).
                let cmp = match op {
                    Bin::Lt => "lt",
                    Bin::Le => "le",
                    Bin::Gt => "gt",
                    Bin::Ge => "ge",
                    Bin::Eq => "eq",
                    _ => "neu",
                };
                let c = self.setp(b, cmp, x, y);
                self.indicator(b, c)
            }
        }
    }

    /// A ternary operation of the formula language.
    pub fn ternary(&self, b: &mut Builder, t: Tern, x: Reg, y: Reg, z: Reg) -> Reg {
        match t {
            Tern::Clamp => {
                let gt = self.setp(b, "gt", x, z);
                let hi = self.sel(b, z, x, gt);
                let lt = self.setp(b, "lt", x, y);
                self.sel(b, y, hi, lt)
            }
            Tern::IfElse => {
                let ge = self.setp_imm(b, "ge", x, 0.0);
                self.sel(b, y, z, ge)
            }
            Tern::Mod => {
                // x - n * floor((x - d) / n), each operation rounded.
                let d = self.bin(b, "sub.rn", x, z);
                let q = self.bin(b, "div.rn", d, y);
                let f = self.floor(b, q);
                let m = self.bin(b, "mul.rn", y, f);
                self.bin(b, "sub.rn", x, m)
            }
        }
    }
}

/// Emits a scalar program; `input` provides the registers of the input
/// instructions (raw components, features, indices) and is called at the
/// position of each, so that loads sit next to their first use. Returns the
/// registers of the program's outputs. The products `Bin(Mul, x, y)` at the
/// instruction indices `defer` (outputs used nowhere else) are not
/// emitted: their operand registers are returned instead (keyed by
/// instruction index), for the caller to fuse into an `fma`. With `exp2`
/// (the pair program of an f32 fast-math kernel, see `opt.rs`) every
/// `Un(Exp, a)` is the raw `ex2.approx(a)`: its argument is already in
/// base 2.
pub(crate) fn emit_prog_deferred(
    b: &mut Builder,
    ops: &Ops,
    prog: &ScalarProg,
    input: &mut dyn FnMut(&mut Builder, &Inst) -> Reg,
    defer: &[u32],
    exp2: bool,
) -> (Vec<Reg>, HashMap<u32, (Reg, Reg)>) {
    let mut products = HashMap::new();
    let mut vals: Vec<Reg> = Vec::with_capacity(prog.insts.len());
    for (idx, inst) in prog.insts.iter().enumerate() {
        let v = |k: u32| vals[k as usize];
        let r = match *inst {
            Inst::Bin(Bin::Mul, x, y) if defer.contains(&(idx as u32)) => {
                products.insert(idx as u32, (v(x), v(y)));
                // Placeholder: a deferred product is used by no instruction.
                v(x)
            }
            Inst::Un(Un::Exp, a) if exp2 => math::exp2_approx_f32(b, v(a)),
            _ => emit_inst(b, ops, inst, &vals, input),
        };
        vals.push(r);
    }
    let outs = prog.outputs.iter().map(|&o| vals[o as usize]).collect();
    (outs, products)
}

/// One instruction of a scalar program (`vals`: the earlier results).
fn emit_inst(
    b: &mut Builder,
    ops: &Ops,
    inst: &Inst,
    vals: &[Reg],
    input: &mut dyn FnMut(&mut Builder, &Inst) -> Reg,
) -> Reg {
    let v = |k: u32| vals[k as usize];
    match *inst {
        Inst::Const(bits) => ops.c(b, f64::from_bits(bits)),
        Inst::Un(u, a) => ops.unary(b, u, v(a)),
        Inst::Bin(op, x, y) => ops.binary(b, op, v(x), v(y)),
        Inst::Tern(t, x, y, z) => ops.ternary(b, t, v(x), v(y), v(z)),
        Inst::Select(c, x, y) => {
            // `c != 0` is true for NaN, as in Rust: unordered `neu`.
            let pr = ops.setp_imm(b, "neu", v(c), 0.0);
            ops.sel(b, v(x), v(y), pr)
        }
        Inst::Fma(x, y, z) => ops.fma(b, v(x), v(y), v(z)),
        ref other => input(b, other),
    }
}

/// [`emit_prog_deferred`] without deferred products, calling `sink(b, k, reg)` for output `k` right after the
/// instruction that computes it (so that e.g. stores do not keep every
/// output alive until the end of the program).
pub(crate) fn emit_prog_with(
    b: &mut Builder,
    ops: &Ops,
    prog: &ScalarProg,
    input: &mut dyn FnMut(&mut Builder, &Inst) -> Reg,
    sink: &mut dyn FnMut(&mut Builder, usize, Reg),
) -> Vec<Reg> {
    let mut outs_of: Vec<Vec<usize>> = vec![Vec::new(); prog.insts.len()];
    for (k, &o) in prog.outputs.iter().enumerate() {
        outs_of[o as usize].push(k);
    }
    let mut vals: Vec<Reg> = Vec::with_capacity(prog.insts.len());
    for (idx, inst) in prog.insts.iter().enumerate() {
        let r = emit_inst(b, ops, inst, &vals, input);
        vals.push(r);
        for &k in &outs_of[idx] {
            sink(b, k, r);
        }
    }
    prog.outputs.iter().map(|&o| vals[o as usize]).collect()
}
