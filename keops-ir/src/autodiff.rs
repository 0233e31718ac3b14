//! Symbolic differentiation: reverse mode over the IR.
//!
//! [`vjp`] builds, in the same graph, the vector-Jacobian product
//! `e ↦ (∂f/∂v)ᵀ e` of a formula `f` with respect to one variable `v`. The
//! adjoints are built through the simplifying builder, and hash-consing
//! shares every forward node the derivative reuses (the exponential of a
//! Gaussian kernel is computed once per pair in its gradient).
//!
//! The derivative rules of the element-wise operations are in their rows of
//! [`crate::ops::ELEMENTWISE`]; the layout, bilinear and vector-reduction
//! rules are here. Operations without a derivative (`sign`, `step`, `floor`,
//! `round`, the comparisons, `one_hot`, the vector `argmin`/`argmax` and the
//! index tests) have zero derivative, as in KeOps.

use std::collections::HashMap;

use crate::ir::{BilinearMap, Bin, Graph, Id, Op, VecRed};
use crate::ops::{self, ElemOp, Vjp};

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
    match &n.op {
        Op::Var(_) | Op::Const(_) | Op::IndexMatch(_) => vec![],
        Op::Un(_) | Op::Bin(_) | Op::Tern(_) => {
            let op = match n.op {
                Op::Un(u) => ElemOp::Un(u),
                Op::Bin(b) => ElemOp::Bin(b),
                Op::Tern(t) => ElemOp::Tern(t),
                _ => unreachable!(),
            };
            match ops::def(op).vjp {
                Vjp::Zero => vec![None; args.len()],
                Vjp::Un(f) => vec![f(g, args[0], id, a)],
                Vjp::Bin(f) => f(g, [args[0], args[1]], id, a).to_vec(),
                Vjp::Tern(f) => f(g, [args[0], args[1], args[2]], id, a).to_vec(),
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
