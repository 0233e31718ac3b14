//! The size of derived gradients: the Gaussian kernel's gradient against the
//! formula KeOps derives, and one exponential per pair.

use keops_compiler::ir::{Op, Un};
use keops_compiler::lower::{lower, Inst};
use keops_compiler::print::formula_string;
use keops_compiler::stage::Step;

fn compile(src: &str) -> keops_compiler::Compiled {
    match keops_compiler::compile(src.parse().unwrap()) {
        Ok(c) => c,
        Err(f) => panic!("{}", f.error),
    }
}

/// KeOps derives `(-2*((b-c)*(a*(e*d))))*Exp(-(a*Sum((b-c)**2)))` for the
/// Gaussian sum's x-gradient (a = g, b = x, c = y, d = b, e = cotangent):
/// in D = 3 that is 3 (b-c), 3 squares, 2 adds, 1 mul, 1 neg, 1 exp, 1 (e*d),
/// 1 (a*), 3 (b-c)*, 3 (-2*) and 3 (*Exp): 22 operations, with b-c computed
/// twice unless shared (25 then).
#[test]
fn gaussian_gradient_is_compact_and_computes_exp_once() {
    let c = compile("|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)");
    let prog = c.family.program(&["x"]).unwrap();
    let Step::Reduce { stage, .. } = &prog.steps[0] else {
        panic!()
    };
    let st = &c.family.stages[*stage as usize];
    let ir_ops = st.op_count();
    let text = formula_string(&st.graph, st.f, &st.vars);
    let exps = st
        .graph
        .reachable(&[st.f])
        .iter()
        .filter(|&&id| matches!(st.graph.node(id).op, Op::Un(Un::Exp)))
        .count();
    let l = lower(st);
    let pair_exps = l
        .pair
        .insts
        .iter()
        .filter(|i| matches!(i, Inst::Un(Un::Exp, _)))
        .count();
    println!("grad_x of the Gaussian sum:\n{text}\nIR operations per pair: {ir_ops} (KeOps: 22)\nscalar instructions per pair after lowering (FMA-fused): {}", l.pair.op_count());
    assert_eq!(exps, 1, "one exponential in the derived formula");
    assert_eq!(pair_exps, 1, "one exponential per pair in the lowered code");
    assert!(
        ir_ops <= 22,
        "derived gradient has {ir_ops} operations, more than KeOps' 22:\n{text}"
    );
}

/// Gradients with respect to every input of a kernel stay within a small
/// factor of the forward formula's size.
#[test]
fn gradients_of_common_kernels_stay_small() {
    for src in [
        "|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqrt(sqdist(x, y))) * b)",
        "|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(b / (1.0 + sqdist(x, y)))",
        "|x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y))",
    ] {
        let c = compile(src);
        let fwd = c.family.stages[0].op_count();
        for (path, prog) in &c.family.programs {
            if path.len() != 1 {
                continue;
            }
            for s in &prog.steps {
                if let Step::Reduce { stage, .. } = s {
                    let n = c.family.stages[*stage as usize].op_count();
                    assert!(
                        n <= 4 * fwd + 8,
                        "{src}: grad {path:?} has {n} operations (forward {fwd})"
                    );
                }
            }
        }
    }
}
