//! The front end (`keops_ir::front`) on the spellings of the operation
//! table: every function, method and infix spelling lowers to its
//! operation.

use keops_compiler::front::build_stage;
use keops_compiler::ir::Op;
use keops_compiler::ops::{ElemOp, ELEMENTWISE};
use keops_compiler::parse::parse_kernel_str;

/// The operations of the formula's graph (not simplified).
fn ops_of(body: &str) -> Vec<Op> {
    let src = format!("|x: Vi<2>, y: Vj<2>, z: Pm<2>| sum_j({body})");
    let def = parse_kernel_str(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let st = build_stage(&def, false).unwrap_or_else(|e| panic!("{src}: {e}"));
    st.graph
        .reachable(&[st.f])
        .into_iter()
        .map(|id| st.graph.node(id).op.clone())
        .collect()
}

fn is(op: &Op, e: ElemOp) -> bool {
    match (op, e) {
        (Op::Un(a), ElemOp::Un(b)) => std::mem::discriminant(a) == std::mem::discriminant(&b),
        (Op::Bin(a), ElemOp::Bin(b)) => *a == b,
        (Op::Tern(a), ElemOp::Tern(b)) => *a == b,
        _ => false,
    }
}

/// Every spelling of the table, as a function, a method and an infix
/// operator, lowers to its operation.
#[test]
fn every_spelling_lowers_to_its_operation() {
    for d in ELEMENTWISE {
        let n = d.required;
        // Literal arguments for the hand-lowered spellings (`pow(x, 3)`).
        let operands = if d.hand_lowered {
            ["x", "3", "3"]
        } else {
            ["x", "y", "z"]
        };
        for s in d.spellings() {
            let s = if s == "mod" { "r#mod" } else { s };
            let call = format!("{s}({})", operands[..n].join(", "));
            let method = format!("x.{s}({})", operands[1..n].join(", "));
            for body in [call, method] {
                assert!(
                    ops_of(&body).iter().any(|o| is(o, d.op)),
                    "`{body}` is not {}",
                    d.name
                );
            }
        }
        if let Some(sym) = d.infix {
            let body = format!("x {sym} y");
            assert!(ops_of(&body).iter().any(|o| is(o, d.op)), "`{body}`");
        }
    }
}
