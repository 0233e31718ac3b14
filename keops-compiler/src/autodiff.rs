//! Symbolic differentiation: reverse mode over the IR.
//!
//! [`vjp`] builds, in the same graph, the vector-Jacobian product
//! `e ↦ (∂f/∂v)ᵀ e` of a formula `f` with respect to one variable `v`. The
//! adjoints are built through the simplifying builder, and hash-consing
//! shares every forward node the derivative reuses (the exponential of a
//! Gaussian kernel is computed once per pair in its gradient).
//!
//! Operations without a derivative (`sign`, `step`, `floor`, `round`, the
//! comparisons, `one_hot`, the vector `argmin`/`argmax` and the index tests)
//! have zero derivative, as in KeOps.

use std::collections::HashMap;

use crate::ir::{BilinearMap, Bin, Graph, Id, Op, Tern, Un, VecRed};

/// The vector-Jacobian product of `f` with respect to variable `v`, applied to
/// the cotangent `e` (`dim(e) == dim(f)`, or 1 and broadcast). The result has
/// the dimension of `v`; it is the zero vector when `f` does not depend on `v`.
pub fn vjp(g: &mut Graph, f: Id, v: u32, e: Id) -> Id {
    let vdim = g.vars()[v as usize].dim;
    let fdim = g.dim(f);
    let e = g.fit(e, fdim);
    assert_eq!(g.dim(e), fdim, "internal error: cotangent dimension");
    // Only nodes on a path from v to f need adjoints.
    let order = g.reachable(&[f]);
    let mut depends = vec![false; g.len()];
    for &id in &order {
        let n = g.node(id);
        depends[id.index()] = match n.op {
            Op::Var(w) => w == v,
            _ => n.args.iter().any(|a| depends[a.index()]),
        };
    }
    if !depends[f.index()] {
        return g.zeros(vdim);
    }
    let mut adj: HashMap<Id, Id> = HashMap::new();
    adj.insert(f, e);
    let mut result: Option<Id> = None;
    for &id in order.iter().rev() {
        if !depends[id.index()] {
            continue;
        }
        let Some(&a) = adj.get(&id) else { continue };
        let n = g.node(id).clone();
        if let Op::Var(_) = n.op {
            result = Some(match result {
                None => a,
                Some(r) => g.bin(Bin::Add, r, a),
            });
            continue;
        }
        let contributions = local_vjp(g, id, a);
        for (k, c) in contributions.into_iter().enumerate() {
            let Some(c) = c else { continue };
            let arg = n.args[k];
            if !depends[arg.index()] {
                continue;
            }
            let c = g.fit(c, g.dim(arg));
            let new = match adj.get(&arg) {
                None => c,
                Some(&old) => g.bin(Bin::Add, old, c),
            };
            adj.insert(arg, new);
        }
    }
    match result {
        Some(r) => r,
        None => g.zeros(vdim),
    }
}

/// Contribution of node `id` with adjoint `a` to each of its arguments
/// (`None` for a zero contribution).
fn local_vjp(g: &mut Graph, id: Id, a: Id) -> Vec<Option<Id>> {
    let n = g.node(id).clone();
    let args = n.args.clone();
    let dim = n.dim;
    match &n.op {
        Op::Var(_) | Op::Const(_) | Op::IndexMatch(_) => vec![],
        Op::Un(u) => {
            let x = args[0];
            let d = match u {
                Un::Neg => Some(g.un(Un::Neg, a)),
                Un::Abs => {
                    let s = g.un(Un::Sign, x);
                    Some(g.bin(Bin::Mul, a, s))
                }
                Un::Exp => Some(g.bin(Bin::Mul, a, id)),
                Un::Log => Some(g.bin(Bin::Div, a, x)),
                Un::Sin => {
                    let c = g.un(Un::Cos, x);
                    Some(g.bin(Bin::Mul, a, c))
                }
                Un::Cos => {
                    let s = g.un(Un::Sin, x);
                    let p = g.bin(Bin::Mul, a, s);
                    Some(g.un(Un::Neg, p))
                }
                Un::Sqrt => {
                    // d sqrt(x) = 1 / (2 sqrt(x)).
                    let h = g.splat_const(0.5, dim);
                    let q = g.bin(Bin::Div, a, id);
                    Some(g.bin(Bin::Mul, h, q))
                }
                Un::Rsqrt => {
                    // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 rsqrt(x)^3.
                    let c = g.un(Un::PowI(3), id);
                    let h = g.splat_const(-0.5, dim);
                    let p = g.bin(Bin::Mul, h, c);
                    Some(g.bin(Bin::Mul, a, p))
                }
                Un::Square => {
                    let two = g.splat_const(2.0, dim);
                    let p = g.bin(Bin::Mul, two, x);
                    Some(g.bin(Bin::Mul, a, p))
                }
                Un::Sign | Un::Step | Un::Floor | Un::Round => None,
                Un::Relu => {
                    let s = g.un(Un::Step, x);
                    Some(g.bin(Bin::Mul, a, s))
                }
                Un::Inv => {
                    // d (1/x) = -(1/x)^2.
                    let s = g.un(Un::Square, id);
                    let p = g.bin(Bin::Mul, a, s);
                    Some(g.un(Un::Neg, p))
                }
                Un::XLogX => {
                    let l = g.un(Un::Log, x);
                    let one = g.splat_const(1.0, dim);
                    let s = g.bin(Bin::Add, l, one);
                    Some(g.bin(Bin::Mul, a, s))
                }
                Un::SinXDivX => {
                    let d = g.un(Un::SinXDivXDeriv, x);
                    Some(g.bin(Bin::Mul, a, d))
                }
                Un::SinXDivXDeriv => {
                    // d/dx [(cos x - sinc x)/x] = (-sin x - 2 sinc'(x)) / x.
                    let s = g.un(Un::Sin, x);
                    let two = g.splat_const(2.0, dim);
                    let t = g.bin(Bin::Mul, two, id);
                    let num = g.bin(Bin::Add, s, t);
                    let q = g.bin(Bin::Div, num, x);
                    let p = g.bin(Bin::Mul, a, q);
                    Some(g.un(Un::Neg, p))
                }
                Un::Asin | Un::Acos => {
                    // ±1 / sqrt(1 - x^2).
                    let one = g.splat_const(1.0, dim);
                    let x2 = g.un(Un::Square, x);
                    let r = g.bin(Bin::Sub, one, x2);
                    let s = g.un(Un::Rsqrt, r);
                    let p = g.bin(Bin::Mul, a, s);
                    Some(if *u == Un::Asin { p } else { g.un(Un::Neg, p) })
                }
                Un::Atan => {
                    let one = g.splat_const(1.0, dim);
                    let x2 = g.un(Un::Square, x);
                    let r = g.bin(Bin::Add, one, x2);
                    Some(g.bin(Bin::Div, a, r))
                }
                Un::Tanh => {
                    let one = g.splat_const(1.0, dim);
                    let t2 = g.un(Un::Square, id);
                    let r = g.bin(Bin::Sub, one, t2);
                    Some(g.bin(Bin::Mul, a, r))
                }
                Un::Sinh => {
                    let c = g.un(Un::Cosh, x);
                    Some(g.bin(Bin::Mul, a, c))
                }
                Un::Cosh => {
                    let s = g.un(Un::Sinh, x);
                    Some(g.bin(Bin::Mul, a, s))
                }
                Un::Erf => {
                    // 2/sqrt(pi) exp(-x^2).
                    let x2 = g.un(Un::Square, x);
                    let m = g.un(Un::Neg, x2);
                    let ex = g.un(Un::Exp, m);
                    let k = g.splat_const(std::f64::consts::FRAC_2_SQRT_PI, dim);
                    let p = g.bin(Bin::Mul, k, ex);
                    Some(g.bin(Bin::Mul, a, p))
                }
                Un::Log1p => {
                    let one = g.splat_const(1.0, dim);
                    let r = g.bin(Bin::Add, one, x);
                    Some(g.bin(Bin::Div, a, r))
                }
                Un::Expm1 => {
                    let ex = g.un(Un::Exp, x);
                    Some(g.bin(Bin::Mul, a, ex))
                }
                Un::PowI(k) => {
                    let k = *k;
                    if k == 0 {
                        None
                    } else {
                        let p = g.un(Un::PowI(k - 1), x);
                        let c = g.splat_const(k as f64, dim);
                        let q = g.bin(Bin::Mul, c, p);
                        Some(g.bin(Bin::Mul, a, q))
                    }
                }
            };
            vec![d]
        }
        Op::Bin(b) => {
            let (x, y) = (args[0], args[1]);
            match b {
                Bin::Add => vec![Some(a), Some(a)],
                Bin::Sub => {
                    let m = g.un(Un::Neg, a);
                    vec![Some(a), Some(m)]
                }
                Bin::Mul => {
                    let dx = g.bin(Bin::Mul, a, y);
                    let dy = g.bin(Bin::Mul, a, x);
                    vec![Some(dx), Some(dy)]
                }
                Bin::Div => {
                    // d(x/y) = dx / y - (x/y) dy / y.
                    let dx = g.bin(Bin::Div, a, y);
                    let q = g.bin(Bin::Mul, dx, id);
                    let dy = g.un(Un::Neg, q);
                    vec![Some(dx), Some(dy)]
                }
                Bin::Powf => {
                    // d x^y = y x^(y-1) dx + ln(x) x^y dy.
                    let one = g.splat_const(1.0, dim);
                    let ym1 = g.bin(Bin::Sub, y, one);
                    let p = g.bin(Bin::Powf, x, ym1);
                    let t = g.bin(Bin::Mul, y, p);
                    let dx = g.bin(Bin::Mul, a, t);
                    let l = g.un(Un::Log, x);
                    let t2 = g.bin(Bin::Mul, l, id);
                    let dy = g.bin(Bin::Mul, a, t2);
                    vec![Some(dx), Some(dy)]
                }
                Bin::Atan2 => {
                    // atan2(y, x) with args (x = numerator y, y = denominator x):
                    // d/dnum = den / r2, d/dden = -num / r2.
                    let n2 = g.un(Un::Square, x);
                    let d2 = g.un(Un::Square, y);
                    let r2 = g.bin(Bin::Add, n2, d2);
                    let q = g.bin(Bin::Div, a, r2);
                    let dnum = g.bin(Bin::Mul, q, y);
                    let t = g.bin(Bin::Mul, q, x);
                    let dden = g.un(Un::Neg, t);
                    vec![Some(dnum), Some(dden)]
                }
                Bin::Max | Bin::Min => {
                    // The adjoint goes to the selected operand (the first on ties).
                    let diff = if *b == Bin::Max {
                        g.bin(Bin::Sub, x, y)
                    } else {
                        g.bin(Bin::Sub, y, x)
                    };
                    let zero = g.zeros(dim);
                    let dx = g.tern(Tern::IfElse, diff, a, zero);
                    let dy = g.tern(Tern::IfElse, diff, zero, a);
                    vec![Some(dx), Some(dy)]
                }
                _ => vec![None, None],
            }
        }
        Op::Tern(t) => {
            let (x, p, q) = (args[0], args[1], args[2]);
            let zero = g.zeros(dim);
            match t {
                Tern::Clamp => {
                    // x passes where lo <= x <= hi; lo where x < lo; hi where x > hi.
                    let below = g.bin(Bin::Lt, x, p);
                    let above = g.bin(Bin::Gt, x, q);
                    let m_lo = g.bin(Bin::Mul, a, below);
                    let m_hi = g.bin(Bin::Mul, a, above);
                    let one = g.splat_const(1.0, dim);
                    let out = g.bin(Bin::Add, below, above);
                    let inside = g.bin(Bin::Sub, one, out);
                    let m_x = g.bin(Bin::Mul, a, inside);
                    vec![Some(m_x), Some(m_lo), Some(m_hi)]
                }
                Tern::IfElse => {
                    let da = g.tern(Tern::IfElse, x, a, zero);
                    let db = g.tern(Tern::IfElse, x, zero, a);
                    vec![None, Some(da), Some(db)]
                }
                Tern::Mod => {
                    // x - n floor((x - d)/n): d/dx = 1, d/dn = -floor((x-d)/n), d/dd = 0.
                    let s = g.bin(Bin::Sub, x, q);
                    let r = g.bin(Bin::Div, s, p);
                    let fl = g.un(Un::Floor, r);
                    let t = g.bin(Bin::Mul, a, fl);
                    let dn = g.un(Un::Neg, t);
                    vec![Some(a), Some(dn), None]
                }
            }
        }
        Op::Gather(m) => {
            // Transpose: argument component c receives the sum of the adjoint
            // components that read it.
            let mut per_arg: Vec<Vec<Vec<(u32, u32)>>> = args
                .iter()
                .map(|&x| vec![Vec::new(); g.dim(x) as usize])
                .collect();
            for (k, s) in m.sources.iter().enumerate() {
                for &(arg, c) in s {
                    per_arg[arg as usize][c as usize].push((0, k as u32));
                }
            }
            per_arg
                .into_iter()
                .map(|sources| Some(g.gather(&[a], sources)))
                .collect()
        }
        Op::Bilinear(m) => {
            let (x, y) = (args[0], args[1]);
            // da[ia] += e[o] b[ib]; db[ib] += a[ia] e[o].
            let mut ta: Vec<(u32, u32, u32)> =
                m.terms.iter().map(|&(o, ia, ib)| (ia, o, ib)).collect();
            ta.sort();
            let ma = BilinearMap {
                name: "bilinear",
                dim_a: m.dim_out,
                dim_b: m.dim_b,
                dim_out: m.dim_a,
                terms: ta,
            };
            let mut tb: Vec<(u32, u32, u32)> =
                m.terms.iter().map(|&(o, ia, ib)| (ib, ia, o)).collect();
            tb.sort();
            let mb = BilinearMap {
                name: "bilinear",
                dim_a: m.dim_a,
                dim_b: m.dim_out,
                dim_out: m.dim_b,
                terms: tb,
            };
            let dx = g.bilinear(ma, a, y);
            let dy = g.bilinear(mb, x, a);
            vec![Some(dx), Some(dy)]
        }
        Op::VecRed(r) => match r {
            VecRed::Max | VecRed::Min => {
                let x = args[0];
                let d = g.dim(x);
                let which = if *r == VecRed::Max {
                    VecRed::ArgMax
                } else {
                    VecRed::ArgMin
                };
                let k = g.vec_red(which, x);
                let oh = g.one_hot(k, d);
                vec![Some(g.bin(Bin::Mul, oh, a))]
            }
            VecRed::ArgMax | VecRed::ArgMin => vec![None],
        },
        Op::OneHot => vec![None],
    }
}
