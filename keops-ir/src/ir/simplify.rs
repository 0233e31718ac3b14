//! The simplifying builders of the computing operations (element-wise
//! maps, bilinear maps, vector reductions, one-hot): constant folding with
//! the operations' f64 semantics and algebraic rewrites (`-(-x) = x`,
//! `x * 1 = x`, `log(exp x) = x`, ...). A graph made with [`Graph::raw`]
//! only hash-conses.

use std::sync::Arc;

use super::{one_hot_eval, BilinearMap, Bin, Graph, Id, Op, Tern, Un, VecRed};

impl Graph {
    /// Element-wise unary map.
    pub fn un(&mut self, op: Un, a: Id) -> Id {
        let dim = self.dim(a);
        if self.simplify {
            if let Some(v) = self.const_value(a) {
                let f = op.evaluator();
                let r: Vec<f64> = v.iter().map(|&x| f(x)).collect();
                return self.const_vector(&r);
            }
            // Push element-wise maps through broadcasts: f(splat(x)) = splat(f(x)).
            if let Some(s) = self.broadcast_source(a) {
                let inner = self.un(op, s);
                return self.broadcast(inner, dim);
            }
            let an = self.node(a).clone();
            match (op, &an.op) {
                (Un::Neg, Op::Un(Un::Neg)) => return an.args[0],
                (Un::Neg, Op::Bin(Bin::Sub)) => {
                    return self.bin(Bin::Sub, an.args[1], an.args[0]);
                }
                (Un::Square, Op::Un(Un::Neg)) | (Un::Abs, Op::Un(Un::Neg)) => {
                    return self.un(op, an.args[0]);
                }
                (Un::Square, Op::Un(Un::Sqrt)) => {
                    // sqrt(x)^2 = x only for x >= 0, where sqrt is defined:
                    // elsewhere both sides are NaN-free only if x >= 0, so
                    // keep the node to preserve NaN semantics.
                }
                (Un::PowI(0), _) => return self.splat_const(1.0, dim),
                (Un::PowI(1), _) => return a,
                (Un::PowI(2), _) => return self.un(Un::Square, a),
                (Un::PowI(-1), _) => return self.un(Un::Inv, a),
                (Un::Log, Op::Un(Un::Exp)) => return an.args[0],
                (Un::Inv, Op::Un(Un::Inv)) => return an.args[0],
                _ => {}
            }
        }
        self.intern(Op::Un(op), vec![a], dim)
    }

    /// Element-wise binary map; a dimension-1 operand is broadcast.
    pub fn bin(&mut self, op: Bin, a: Id, b: Id) -> Id {
        let (da, db) = (self.dim(a), self.dim(b));
        let dim = da.max(db);
        assert!(
            da == db || da == 1 || db == 1,
            "internal error: element-wise {op:?} of dimensions {da} and {db}"
        );
        let a = self.fit(a, dim);
        let b = self.fit(b, dim);
        if self.simplify {
            if let Some(r) = self.simplify_bin(op, a, b, dim) {
                return r;
            }
        }
        // Canonical order for commutative operations (better sharing).
        let commutative = op.def().commutative;
        let key = |g: &Graph, x: Id| (g.const_value(x).is_none(), x);
        let (a, b) = if commutative && key(self, b) < key(self, a) {
            (b, a)
        } else {
            (a, b)
        };
        self.intern(Op::Bin(op), vec![a, b], dim)
    }

    fn simplify_bin(&mut self, op: Bin, a: Id, b: Id, dim: u32) -> Option<Id> {
        if let (Some(va), Some(vb)) = (self.const_value(a), self.const_value(b)) {
            let f = op.evaluator();
            let r: Vec<f64> = va.iter().zip(&vb).map(|(&x, &y)| f(x, y)).collect();
            return Some(self.const_vector(&r));
        }
        if let (Some(sa), Some(sb)) = (self.broadcast_source(a), self.broadcast_source(b)) {
            let inner = self.bin(op, sa, sb);
            return Some(self.broadcast(inner, dim));
        }
        let za = self.is_zero(a);
        let zb = self.is_zero(b);
        let oa = self.is_one(a);
        let ob = self.is_one(b);
        let ca = self.uniform_const(a);
        let cb = self.uniform_const(b);
        match op {
            Bin::Add => {
                if za {
                    return Some(b);
                }
                if zb {
                    return Some(a);
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    return Some(self.bin(Bin::Sub, a, nb));
                }
                if let Op::Un(Un::Neg) = self.node(a).op {
                    let na = self.node(a).args[0];
                    return Some(self.bin(Bin::Sub, b, na));
                }
                if a == b {
                    let two = self.splat_const(2.0, dim);
                    return Some(self.bin(Bin::Mul, two, a));
                }
            }
            Bin::Sub => {
                if zb {
                    return Some(a);
                }
                if za {
                    return Some(self.un(Un::Neg, b));
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    return Some(self.bin(Bin::Add, a, nb));
                }
            }
            Bin::Mul => {
                if za || zb {
                    return Some(self.zeros(dim));
                }
                if oa {
                    return Some(b);
                }
                if ob {
                    return Some(a);
                }
                if ca == Some(-1.0) {
                    return Some(self.un(Un::Neg, b));
                }
                if cb == Some(-1.0) {
                    return Some(self.un(Un::Neg, a));
                }
                // Keep constants on the left and merge constant factors:
                // c1 * (c2 * x) = (c1 c2) * x.
                if cb.is_some() && ca.is_none() {
                    return Some(self.bin(Bin::Mul, b, a));
                }
                if let Some(c1) = ca {
                    let bn = self.node(b).clone();
                    if let Op::Bin(Bin::Mul) = bn.op {
                        if let Some(c2) = self.uniform_const(bn.args[0]) {
                            let k = self.splat_const(c1 * c2, dim);
                            return Some(self.bin(Bin::Mul, k, bn.args[1]));
                        }
                    }
                    if let Op::Un(Un::Neg) = bn.op {
                        let k = self.splat_const(-c1, dim);
                        return Some(self.bin(Bin::Mul, k, bn.args[0]));
                    }
                }
                // splat(s1) * (splat(s2) * t) = splat(s1 * s2) * t: one scalar
                // product instead of a vector one.
                for (p, q) in [(a, b), (b, a)] {
                    if let Some(s1) = self.broadcast_source(p) {
                        let qn = self.node(q).clone();
                        if let Op::Bin(Bin::Mul) = qn.op {
                            for (u, t) in [(qn.args[0], qn.args[1]), (qn.args[1], qn.args[0])] {
                                if let Some(s2) = self.broadcast_source(u) {
                                    let s = self.bin(Bin::Mul, s1, s2);
                                    let sb = self.broadcast(s, dim);
                                    return Some(self.bin(Bin::Mul, sb, t));
                                }
                            }
                        }
                    }
                }
                // (-x) * y = -(x * y): pull negations out so they cancel.
                if let Op::Un(Un::Neg) = self.node(a).op {
                    let na = self.node(a).args[0];
                    let p = self.bin(Bin::Mul, na, b);
                    return Some(self.un(Un::Neg, p));
                }
                if let Op::Un(Un::Neg) = self.node(b).op {
                    let nb = self.node(b).args[0];
                    let p = self.bin(Bin::Mul, a, nb);
                    return Some(self.un(Un::Neg, p));
                }
                if a == b {
                    return Some(self.un(Un::Square, a));
                }
            }
            Bin::Div => {
                if ob {
                    return Some(a);
                }
                if za {
                    return Some(self.zeros(dim));
                }
                if oa {
                    return Some(self.un(Un::Inv, b));
                }
                if let Some(c) = cb {
                    if c != 0.0 && (c.abs().log2().fract() == 0.0) {
                        // Division by a power of two is an exact multiplication.
                        let k = self.splat_const(1.0 / c, dim);
                        return Some(self.bin(Bin::Mul, k, a));
                    }
                }
            }
            Bin::Powf => {
                if let Some(c) = cb {
                    if c == c.trunc() && c.abs() <= 64.0 {
                        return Some(self.un(Un::PowI(c as i32), a));
                    }
                    if c == 0.5 {
                        return Some(self.un(Un::Sqrt, a));
                    }
                    if c == -0.5 {
                        return Some(self.un(Un::Rsqrt, a));
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// Element-wise ternary map; dimension-1 operands are broadcast.
    pub fn tern(&mut self, op: Tern, a: Id, b: Id, c: Id) -> Id {
        let dim = self.dim(a).max(self.dim(b)).max(self.dim(c));
        let a = self.fit(a, dim);
        let b = self.fit(b, dim);
        let c = self.fit(c, dim);
        if self.simplify {
            if let (Some(va), Some(vb), Some(vc)) = (
                self.const_value(a),
                self.const_value(b),
                self.const_value(c),
            ) {
                let f = op.evaluator();
                let r: Vec<f64> = (0..dim as usize).map(|k| f(va[k], vb[k], vc[k])).collect();
                return self.const_vector(&r);
            }
            if op == Tern::IfElse {
                if b == c {
                    return b;
                }
                if let Some(v) = self.const_value(a) {
                    // Constant condition: pick per component.
                    let parts: Vec<Id> = (0..dim)
                        .map(|k| {
                            let src = if v[k as usize] >= 0.0 { b } else { c };
                            self.extract(src, k, 1)
                        })
                        .collect();
                    return self.concat(&parts);
                }
            }
        }
        self.intern(Op::Tern(op), vec![a, b, c], dim)
    }

    /// Bilinear map.
    pub fn bilinear(&mut self, map: BilinearMap, a: Id, b: Id) -> Id {
        assert_eq!(self.dim(a), map.dim_a, "internal error: bilinear operand a");
        assert_eq!(self.dim(b), map.dim_b, "internal error: bilinear operand b");
        let dim = map.dim_out;
        if self.simplify && (self.is_zero(a) || self.is_zero(b)) {
            return self.zeros(dim);
        }
        self.intern(Op::Bilinear(Arc::new(map)), vec![a, b], dim)
    }

    /// Vector max/min/argmax/argmin.
    pub fn vec_red(&mut self, op: VecRed, a: Id) -> Id {
        if self.simplify {
            if self.dim(a) == 1 {
                return match op {
                    VecRed::Max | VecRed::Min => a,
                    VecRed::ArgMax | VecRed::ArgMin => self.constant(0.0),
                };
            }
            if let Some(v) = self.const_value(a) {
                let r = op.eval(&v);
                return self.constant(r);
            }
        }
        self.intern(Op::VecRed(op), vec![a], 1)
    }

    /// One-hot vector of dimension `dim` at position `round(a)`.
    pub fn one_hot(&mut self, a: Id, dim: u32) -> Id {
        assert_eq!(self.dim(a), 1, "internal error: one_hot of a vector");
        if self.simplify {
            if let Some(v) = self.const_value(a) {
                let r: Vec<f64> = (0..dim).map(|k| one_hot_eval(v[0], k)).collect();
                return self.const_vector(&r);
            }
        }
        self.intern(Op::OneHot, vec![a], dim)
    }
}
