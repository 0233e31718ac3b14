//! A thin emission layer over [`Builder`] for the math routines: one method
//! per PTX instruction form, returning the fresh destination register.
//!
//! Float arithmetic is always `.rn` (IEEE round-to-nearest-even), so that
//! the simulator and the hardware compute the same bits.

use crate::ptx::{Builder, Prec, Reg, Ty};
use std::fmt;

/// An instruction operand: a register or an immediate (already formatted).
#[derive(Clone, Debug)]
pub(crate) struct O(String);

impl fmt::Display for O {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Reg> for O {
    fn from(r: Reg) -> O {
        O(r.to_string())
    }
}

impl From<&Reg> for O {
    fn from(r: &Reg) -> O {
        O(r.to_string())
    }
}

impl O {
    /// Any operand text, verbatim.
    pub fn raw(s: String) -> O {
        O(s)
    }
}

/// An integer immediate.
pub(crate) fn int(v: i64) -> O {
    O(v.to_string())
}

/// Emission context: a builder and the float precision of the routine.
pub(crate) struct E<'a> {
    pub b: &'a mut Builder,
    pub p: Prec,
}

impl<'a> E<'a> {
    pub fn new(b: &'a mut Builder, p: Prec) -> E<'a> {
        E { b, p }
    }

    /// Same builder, another precision (for f32 routines computed in f64).
    pub fn with(&mut self, p: Prec) -> E<'_> {
        E { b: self.b, p }
    }

    /// `f32` / `f64`.
    pub fn s(&self) -> &'static str {
        self.p.suffix()
    }

    /// Float immediate of the routine's precision (rounded to it).
    pub fn k(&self, v: f64) -> O {
        O(self.p.imm(v))
    }

    /// Float immediate from exact bits (`0x3F800000` style, of the routine's
    /// precision).
    pub fn kb(&self, bits: u64) -> O {
        match self.p {
            Prec::F32 => O(format!("0f{:08X}", bits as u32)),
            Prec::F64 => O(format!("0d{bits:016X}")),
        }
    }

    /// Integer register type of the float width.
    pub fn ity(&self) -> Ty {
        match self.p {
            Prec::F32 => Ty::B32,
            Prec::F64 => Ty::B64,
        }
    }

    /// Integer type suffix of the float width, signed: `s32` / `s64`.
    pub fn sint(&self) -> &'static str {
        match self.p {
            Prec::F32 => "s32",
            Prec::F64 => "s64",
        }
    }

    /// Emits `op.TYPE d, args...` into a fresh register of type `ty`.
    pub fn op(&mut self, ty: Ty, inst: &str, args: &[O]) -> Reg {
        let d = self.b.reg(ty);
        let list: Vec<String> = args.iter().map(|a| a.0.clone()).collect();
        if list.is_empty() {
            self.b.emit(format!("{inst} {d}"));
        } else {
            self.b.emit(format!("{inst} {d}, {}", list.join(", ")));
        }
        d
    }

    /// `mov` into an existing register (`ty` suffix from the register).
    pub fn mov(&mut self, d: Reg, a: impl Into<O>) {
        let t = match d.ty {
            Ty::Pred => "pred",
            Ty::B32 => "b32",
            Ty::B64 => "b64",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
        };
        self.b.emit(format!("mov.{t} {d}, {}", a.into()));
    }

    // ---- float arithmetic (precision of the context) ----

    /// Float constant in a register.
    pub fn c(&mut self, v: f64) -> Reg {
        self.b.fconst(self.p, v)
    }
    /// `a + b`.
    pub fn add(&mut self, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("add.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into()])
    }
    /// `a - b`.
    pub fn sub(&mut self, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("sub.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into()])
    }
    /// `a * b`.
    pub fn mul(&mut self, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("mul.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into()])
    }
    /// `a * b + c`, one rounding.
    pub fn fma(&mut self, a: impl Into<O>, b: impl Into<O>, c: impl Into<O>) -> Reg {
        let s = format!("fma.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into(), c.into()])
    }
    /// `a / b` (IEEE).
    pub fn div(&mut self, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("div.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into()])
    }
    /// `sqrt(a)` (IEEE).
    pub fn sqrt(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("sqrt.rn.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// `-a`.
    pub fn neg(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("neg.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// `|a|`.
    pub fn abs(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("abs.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// `|mag|` with the sign of `sign` (PTX operand order: sign first).
    pub fn copysign(&mut self, mag: impl Into<O>, sign: impl Into<O>) -> Reg {
        let s = format!("copysign.{}", self.s());
        self.op(self.p.ty(), &s, &[sign.into(), mag.into()])
    }
    /// Round to nearest integer, ties to even (`cvt.rni`), as a float.
    pub fn rint(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("cvt.rni.{0}.{0}", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// Round toward zero, as a float.
    pub fn trunc(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("cvt.rzi.{0}.{0}", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// Horner evaluation `c[0] + x*(c[1] + x*(...))` from exact bit patterns.
    pub fn horner(&mut self, x: Reg, c: &[u64]) -> Reg {
        let n = c.len();
        assert!(n >= 2);
        let hi = self.kb(c[n - 1]);
        let lo = self.kb(c[n - 2]);
        let mut acc = self.fma(hi, x, lo);
        for &ck in c[..n - 2].iter().rev() {
            let k = self.kb(ck);
            acc = self.fma(acc, x, k);
        }
        acc
    }

    // ---- comparisons and selection ----

    /// `setp.CMP.TYPE` on floats of the context's precision.
    pub fn setp(&mut self, cmp: &str, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("setp.{cmp}.{}", self.s());
        self.op(Ty::Pred, &s, &[a.into(), b.into()])
    }
    /// `setp.CMP.TY` on integers (`ty`: e.g. `s32`, `u64`).
    pub fn isetp(&mut self, cmp: &str, ty: &str, a: impl Into<O>, b: impl Into<O>) -> Reg {
        let s = format!("setp.{cmp}.{ty}");
        self.op(Ty::Pred, &s, &[a.into(), b.into()])
    }
    /// `p ? a : b` (floats).
    pub fn sel(&mut self, a: impl Into<O>, b: impl Into<O>, p: Reg) -> Reg {
        let s = format!("selp.{}", self.s());
        self.op(self.p.ty(), &s, &[a.into(), b.into(), p.into()])
    }
    /// `p ? a : b` on registers of type `ty` (`ity` / predicates excluded).
    pub fn seli(&mut self, ty: Ty, a: impl Into<O>, b: impl Into<O>, p: Reg) -> Reg {
        let s = match ty {
            Ty::B32 => "selp.b32",
            Ty::B64 => "selp.b64",
            Ty::F32 => "selp.f32",
            Ty::F64 => "selp.f64",
            Ty::Pred => panic!("selp on predicates"),
        };
        self.op(ty, s, &[a.into(), b.into(), p.into()])
    }
    /// Predicate or/and/not.
    pub fn por(&mut self, a: Reg, b: Reg) -> Reg {
        self.op(Ty::Pred, "or.pred", &[a.into(), b.into()])
    }
    /// Predicate and.
    pub fn pand(&mut self, a: Reg, b: Reg) -> Reg {
        self.op(Ty::Pred, "and.pred", &[a.into(), b.into()])
    }
    /// Predicate not.
    pub fn pnot(&mut self, a: Reg) -> Reg {
        self.op(Ty::Pred, "not.pred", &[a.into()])
    }

    // ---- integer / bit operations ----

    /// Float bits as an integer of the same width.
    pub fn bits(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("mov.{}", self.p.bits());
        self.op(self.ity(), &s, &[a.into()])
    }
    /// Integer bits reinterpreted as a float of the context's precision.
    pub fn fbits(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("mov.{}", self.p.bits());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// Integer op of the float width: `op` is e.g. `add.s32`, `shl.b64`.
    pub fn iop(&mut self, inst: &str, args: &[O]) -> Reg {
        let ty = self.ity();
        self.op(ty, inst, args)
    }
    /// 32-bit integer op.
    pub fn i32op(&mut self, inst: &str, args: &[O]) -> Reg {
        self.op(Ty::B32, inst, args)
    }
    /// Float (integral value, |v| < 2^31) to s32, round to nearest.
    pub fn cvt_s32(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("cvt.rni.s32.{}", self.s());
        self.op(Ty::B32, &s, &[a.into()])
    }
    /// s32 to float (exact for our ranges).
    pub fn cvt_f_s32(&mut self, a: impl Into<O>) -> Reg {
        let s = format!("cvt.rn.{}.s32", self.s());
        self.op(self.p.ty(), &s, &[a.into()])
    }
    /// `2^k` as a float, for an s32 `k` in the normal exponent range
    /// (`[-126, 127]` for f32, `[-1022, 1023]` for f64), built from bits.
    pub fn pow2i(&mut self, k: Reg) -> Reg {
        match self.p {
            Prec::F32 => {
                let e = self.i32op("add.s32", &[k.into(), int(127)]);
                let sh = self.i32op("shl.b32", &[e.into(), int(23)]);
                self.fbits(sh)
            }
            Prec::F64 => {
                let e = self.i32op("add.s32", &[k.into(), int(1023)]);
                let w = self.op(Ty::B64, "cvt.u64.u32", &[e.into()]);
                let sh = self.op(Ty::B64, "shl.b64", &[w.into(), int(52)]);
                self.fbits(sh)
            }
        }
    }
    /// `x * 2^k` for `x` in [0.5, 2] (or 0, inf, NaN) and an s32 `k` in
    /// `[-2*bias - prec, 2*bias]`: two exact-or-once-rounded multiplications
    /// by `2^(k>>1)` and `2^(k - (k>>1))`, so that subnormal results are
    /// rounded once and `k` up to twice the exponent range works.
    pub fn ldexp(&mut self, x: Reg, k: Reg) -> Reg {
        let k1 = self.i32op("shr.s32", &[k.into(), int(1)]);
        let k2 = self.i32op("sub.s32", &[k.into(), k1.into()]);
        let s1 = self.pow2i(k1);
        let s2 = self.pow2i(k2);
        let t = self.mul(x, s1);
        self.mul(t, s2)
    }
}
