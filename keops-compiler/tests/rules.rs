//! One-line tests of the rules the compiler applies while it builds a
//! formula: the simplifying builder of `ir::Graph` (neutral and absorbing
//! elements, sign rules, algebraic rewrites, constant folding, broadcasts,
//! layout) and the derivative rules (`ops::ELEMENTWISE` rows and
//! `autodiff.rs`).
//!
//! `simplifies(src, expected)` builds the forward stage of `sum_j(src)` as
//! the macro does (simplified) and compares its printed formula
//! (`print::formula_string`) with `expected`. `derivative(src, var,
//! expected)` builds the family of `sum_j(src)` and prints the formula of
//! the gradient stage with respect to `var`, the cotangent printed `e`: it is
//! the vector-Jacobian product `e ↦ (∂src/∂var)ᵀ e`.
//!
//! Every formula may use the variables of [`DECL`]: scalars `x: Vi<1>`,
//! `y: Vj<1>`, `z: Vj<1>` and vectors `u: Vi<3>`, `v: Vj<3>`. The expected
//! strings are written from the math; a form that differs from the textbook
//! one is an equivalent form, said so in a comment. Printing: infix
//! operations in parentheses, `splat(s, d)` is a scalar broadcast to `d`
//! components, `[a[0], b[2]]` a gather of components, `pow3(x)` is `x^3`,
//! `let tN` names a shared sub-expression.
//!
//! Adding an element-wise operation to `ops::ELEMENTWISE` needs a
//! `derivative` line in [`derivative_rule_of_every_elementwise_operation`]
//! ([`every_elementwise_operation_has_a_derivative_line`] checks it).

use std::collections::HashSet;

use keops_compiler::ir::Op;
use keops_compiler::ops::{self, ElemOp, ELEMENTWISE};
use keops_compiler::print::formula_string;
use keops_compiler::stage::{Family, Stage, Step, Value};

/// The variables every formula of this file may use.
const DECL: &str = "|x: Vi<1>, y: Vj<1>, z: Vj<1>, u: Vi<3>, v: Vj<3>|";

/// The stage of `sum_j(src)`, simplified (as the macro builds it) or raw.
fn stage(src: &str, simplify: bool) -> Stage {
    let kernel = format!("{DECL} sum_j({src})");
    let def = keops_compiler::parse::parse_kernel_str(&kernel)
        .unwrap_or_else(|e| panic!("`{src}` does not parse: {e}"));
    keops_compiler::front::build_stage(&def, simplify)
        .unwrap_or_else(|e| panic!("`{src}` does not compile: {e}"))
}

/// Asserts that the simplified formula of `src` prints as `expected`.
#[track_caller]
fn simplifies(src: &str, expected: &str) {
    let st = stage(src, true);
    let got = formula_string(&st.graph, st.f, &st.vars);
    assert_eq!(got, expected, "simplifies({src:?})");
}

/// Asserts that the gradient of `src` with respect to `var`, applied to the
/// cotangent `e`, prints as `expected`. A gradient known to be zero without
/// a kernel (a `Zeros` step) prints as the zero constant of its dimension,
/// as the formula printer would.
#[track_caller]
fn derivative(src: &str, var: &str, expected: &str) {
    let fam = Family::new(stage(src, true), 1);
    let prog = fam
        .program(&[var])
        .unwrap_or_else(|| panic!("`{src}`: no variable `{var}`"));
    let mut value = prog.output;
    let got = loop {
        let Value::Step(k) = value else {
            panic!("`{src}`: gradient program {prog:?}")
        };
        match &prog.steps[k as usize] {
            Step::SumRows(a) => value = *a,
            Step::Zeros { dim: 1, .. } => break "0.0".to_string(),
            Step::Zeros { dim, .. } => break format!("splat(0.0, {dim})"),
            Step::Reduce { stage, .. } => {
                let s = &fam.stages[*stage as usize];
                let mut vars = s.vars.clone();
                for d in &mut vars {
                    if d.name == "__cot" {
                        d.name = "e".to_string();
                    }
                }
                break formula_string(&s.graph, s.f, &vars);
            }
            step => panic!("`{src}`: unexpected step {step:?} in the gradient"),
        }
    };
    assert_eq!(got, expected, "derivative({src:?}, {var:?})");
}

// ---------------------------------------------------------------------------
// The simplifying builder
// ---------------------------------------------------------------------------

#[test]
fn neutral_elements() {
    simplifies("x + 0.0", "x");
    simplifies("0.0 + x", "x");
    simplifies("x - 0.0", "x");
    simplifies("0.0 - x", "(-x)");
    simplifies("x * 1.0", "x");
    simplifies("1.0 * x", "x");
    simplifies("x / 1.0", "x");
    simplifies("(u + 0.0) * 1.0", "u");
    simplifies("pow(x, 1)", "x");
}

/// A constant zero absorbs: `x * 0 = 0` and `0 / x = 0` for every x, as
/// KeOps' `Zero`, although IEEE arithmetic (and the reference evaluator,
/// which does not simplify) gives NaN for an infinite or NaN x (and for
/// `0 / 0`). `x - x` is kept: it is NaN for an infinite x.
#[test]
fn absorbing_elements() {
    simplifies("x * 0.0", "0.0");
    simplifies("0.0 * x", "0.0");
    simplifies("0.0 / x", "0.0");
    simplifies("u * (x * 0.0)", "splat(0.0, 3)");
    simplifies("sum(u * 0.0)", "0.0");
    simplifies("sum(tensorprod(u, 0.0 * v))", "0.0");
    simplifies("pow(x, 0)", "1.0");
    simplifies("x - x", "(x - x)");
}

#[test]
fn signs() {
    simplifies("-(-x)", "x");
    simplifies("x * -1.0", "(-x)");
    simplifies("x - (-y)", "(x + y)");
    simplifies("x + (-y)", "(x - y)");
    simplifies("(-x) + y", "(y - x)");
    simplifies("-(x - y)", "(y - x)");
    simplifies("(-x) * y", "(-(x * y))");
    simplifies("x * (-y)", "(-(x * y))");
    simplifies("(-x) * (-y)", "(x * y)");
    simplifies("2.0 * (-x)", "((-2.0) * x)");
    simplifies("square(-x)", "square(x)");
    simplifies("abs(-x)", "abs(x)");
}

#[test]
fn algebraic_rewrites() {
    simplifies("x + x", "(2.0 * x)");
    simplifies("x * x", "square(x)");
    simplifies("1.0 / x", "inv(x)");
    // Division by a power of two is an exact multiplication; by 3 it is not.
    simplifies("x / 4.0", "(0.25 * x)");
    simplifies("x / 3.0", "(x / 3.0)");
    // Constant factors go left and merge.
    simplifies("x * 2.0", "(2.0 * x)");
    simplifies("2.0 * (3.0 * x)", "(6.0 * x)");
    simplifies("3.0 * (x / 4.0)", "(0.75 * x)");
    // No reassociation of sums (it would change roundings).
    simplifies("x + 2.0 + 3.0", "(3.0 + (2.0 + x))");
    simplifies("log(exp(x))", "x");
    simplifies("inv(inv(x))", "x");
    // exp(log(x)) is NaN for x < 0: kept.
    simplifies("exp(log(x))", "exp(log(x))");
    simplifies("pow(x, 2)", "square(x)");
    simplifies("pow(x, -1)", "inv(x)");
    simplifies("pow(x, 3)", "pow3(x)");
    simplifies("powf(x, 2.0)", "square(x)");
    simplifies("powf(x, 0.5)", "sqrt(x)");
    simplifies("powf(x, -0.5)", "rsqrt(x)");
    simplifies("powf(x, 1.5)", "powf(x, 1.5)");
    simplifies("ifelse(x, y, y)", "y");
    simplifies("ifelse(1.0, x, y)", "x");
    simplifies("ifelse(-1.0, x, y)", "y");
}

#[test]
fn constant_folding() {
    // Unary operations.
    simplifies("exp(0.0)", "1.0");
    simplifies("-(2.0)", "(-2.0)");
    simplifies("abs(-2.0)", "2.0");
    simplifies("sqrt(4.0)", "2.0");
    simplifies("log(1.0)", "0.0");
    simplifies("sin(0.0)", "0.0");
    simplifies("cos(0.0)", "1.0");
    simplifies("erf(0.0)", "0.0");
    simplifies("relu(-3.0)", "0.0");
    simplifies("floor(2.5)", "2.0");
    simplifies("round(2.5)", "3.0");
    simplifies("sign(-3.0)", "(-1.0)");
    simplifies("step(0.0)", "1.0");
    simplifies("pow(2.0, 10)", "1024.0");
    // The special values of the composite operations.
    simplifies("xlogx(0.0)", "0.0");
    simplifies("sinxdivx(0.0)", "1.0");
    simplifies("rsqrt(0.0)", "0.0");
    // IEEE special values.
    simplifies("inv(0.0)", "inf");
    simplifies("log(0.0)", "(-inf)");
    simplifies("sqrt(-1.0)", "NaN");
    simplifies("x * log(-1.0)", "(NaN * x)");
    // Binary operations and comparisons.
    simplifies("x * (2.0 * 3.0)", "(6.0 * x)");
    simplifies("x + (2.0 + 3.0)", "(5.0 + x)");
    simplifies("powf(2.0, 0.5)", "1.4142135623730951");
    simplifies("atan2(1.0, 1.0)", "0.7853981633974483"); // pi / 4
    simplifies("max(1.0, 2.0)", "2.0");
    simplifies("1.0 < 2.0", "1.0");
    simplifies("2.0 == 2.0", "1.0");
    simplifies("x * (1.0 < 0.0)", "0.0");
    // Ternary operations.
    simplifies("clamp(5.0, 0.0, 1.0)", "1.0");
    simplifies("modulo(7.0, 3.0, 0.0)", "1.0");
    simplifies("7.0 % 3.0", "1.0");
    simplifies("ifelse(-1.0, 2.0, 3.0)", "3.0");
    // Layout, vector reductions and one-hot vectors of constants.
    simplifies("sum(cat(1.0, 2.0, 3.0))", "6.0");
    simplifies("cat(1.0, 2.0, 3.0)[1]", "2.0");
    simplifies("(cat(1.0, 2.0) | cat(3.0, 4.0))", "11.0");
    simplifies("sqdist(cat(1.0, 2.0), cat(3.0, 5.0))", "13.0");
    simplifies("norm2(cat(3.0, 4.0))", "5.0");
    simplifies("max(cat(1.0, 3.0, 2.0))", "3.0");
    simplifies("min(cat(3.0, 1.0, 2.0))", "1.0");
    simplifies("argmin(cat(3.0, 1.0, 2.0))", "1.0");
    simplifies("sum(one_hot(1.0, 3) * cat(5.0, 6.0, 7.0))", "6.0");
}

#[test]
fn broadcasting_of_a_scalar() {
    simplifies("u * x", "(u * splat(x, 3))");
    simplifies("u + 1.0", "(splat(1.0, 3) + u)");
    // splat(2) * (splat(x) * u) = splat(2 x) * u: one scalar product.
    simplifies("2.0 * (x * u)", "(u * splat((2.0 * x), 3))");
    // f(splat(s)) = splat(f(s)) and splat(a) * splat(b) = splat(a b).
    simplifies("exp(x + 0.0 * u)", "splat(exp(x), 3)");
    simplifies("(x + 0.0 * u) * (y + 0.0 * v)", "splat((x * y), 3)");
    // The sum of splat(x, 3): x + x + x (equivalent to 3 x).
    simplifies("sum(x + 0.0 * u)", "[x[0] + x[0] + x[0]]");
    // A scalar needs no broadcast.
    simplifies("max(x)", "x");
    simplifies("argmax(x)", "0.0");
}

#[test]
fn slices_and_concatenations() {
    simplifies("u[0..2]", "u[0..2]");
    simplifies("u[1]", "u[1..2]");
    simplifies("elem(u, 2)", "u[2..3]");
    simplifies("u[0..3]", "u");
    simplifies("cat(u[0..1], u[1..3])", "u");
    simplifies("cat(u, v)[3..6]", "v");
    simplifies("cat(u, v)[1..4]", "[u[1], u[2], v[0]]");
    simplifies("cat(u, x)", "[u[0], u[1], u[2], x[0]]");
}

/// Component 0 of a vector prints as a selection, not as a broadcast (a
/// printer bug these lines found: `splat(u, 1)`).
#[test]
fn first_component_prints_as_a_selection() {
    simplifies("u[0]", "u[0..1]");
    derivative("cat(x, u)", "x", "e[0..1]");
}

// ---------------------------------------------------------------------------
// Derivative rules
// ---------------------------------------------------------------------------

/// One line per row of `ops::ELEMENTWISE` at least (see
/// [`every_elementwise_operation_has_a_derivative_line`]). Rules that yield
/// a zero derivative (piecewise-constant operations) are zero, as in KeOps.
#[test]
fn derivative_rule_of_every_elementwise_operation() {
    // ------------------------------------------------------------ unary
    derivative("-x", "x", "(-e)");
    derivative("abs(x)", "x", "(e * sign(x))");
    derivative("exp(x)", "x", "(exp(x) * e)");
    derivative("log(x)", "x", "(e / x)");
    derivative("sin(x)", "x", "(e * cos(x))");
    derivative("cos(x)", "x", "(-(e * sin(x)))");
    derivative("sqrt(x)", "x", "(0.5 * (e / sqrt(x)))");
    // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 rsqrt(x)^3.
    derivative("rsqrt(x)", "x", "(e * ((-0.5) * pow3(rsqrt(x))))");
    derivative("square(x)", "x", "(e * (2.0 * x))");
    derivative("sign(x)", "x", "0.0");
    derivative("step(x)", "x", "0.0");
    derivative("relu(x)", "x", "(e * step(x))");
    derivative("inv(x)", "x", "(-(e * square(inv(x))))");
    derivative("xlogx(x)", "x", "(e * (1.0 + log(x)))");
    derivative("sinxdivx(x)", "x", "(e * sinxdivx_deriv(x))");
    // sinxdivx_deriv(x) = s'(x) = (cos x - s(x)) / x for s(x) = sin(x) / x;
    // s''(x) = (-sin x - 2 s'(x)) / x. Reached through a second derivative:
    // grad(s(x), x, y) = y s'(x), whose derivative is y s''(x).
    derivative(
        "grad(sinxdivx(x), x, y)",
        "x",
        "(-((y * e) * ((sin(x) + (2.0 * sinxdivx_deriv(x))) / x)))",
    );
    derivative("asin(x)", "x", "(e * rsqrt((1.0 - square(x))))");
    derivative("acos(x)", "x", "(-(e * rsqrt((1.0 - square(x)))))");
    derivative("atan(x)", "x", "(e / (1.0 + square(x)))");
    derivative("tanh(x)", "x", "(e * (1.0 - square(tanh(x))))");
    derivative("sinh(x)", "x", "(e * cosh(x))");
    derivative("cosh(x)", "x", "(e * sinh(x))");
    // 2 / sqrt(pi) = 1.1283791670955126.
    derivative(
        "erf(x)",
        "x",
        "(e * (1.1283791670955126 * exp((-square(x)))))",
    );
    derivative("log1p(x)", "x", "(e / (1.0 + x))");
    derivative("expm1(x)", "x", "(e * exp(x))");
    derivative("floor(x)", "x", "0.0");
    derivative("round(x)", "x", "0.0");
    derivative("pow(x, 3)", "x", "(e * (3.0 * square(x)))");
    // x^-2: -2 x^-3 (`pow-3` is the printed name of the power -3).
    derivative("pow(x, -2)", "x", "(e * ((-2.0) * pow-3(x)))");
    // pow(x, 0) is the constant 1: no kernel.
    derivative("pow(x, 0)", "x", "0.0");
    // ----------------------------------------------------------- binary
    derivative("x + y", "x", "e");
    derivative("x + y", "y", "e");
    derivative("x - y", "x", "e");
    derivative("x - y", "y", "(-e)");
    derivative("x * y", "x", "(y * e)");
    derivative("x * y", "y", "(x * e)");
    derivative("x / y", "x", "(e / y)");
    // d(x/y)/dy = -x / y^2, written -(x/y) (e/y).
    derivative("x / y", "y", "(-((x / y) * (e / y)))");
    derivative("powf(x, y)", "x", "(e * (y * powf(x, (y - 1.0))))");
    derivative("powf(x, y)", "y", "(e * (powf(x, y) * log(x)))");
    // atan2(x, y) = atan(x / y): d/dx = y / (x^2 + y^2), d/dy = -x / (x^2 + y^2).
    derivative("atan2(x, y)", "x", "(y * (e / (square(x) + square(y))))");
    derivative("atan2(x, y)", "y", "(-(x * (e / (square(x) + square(y)))))");
    // The selected operand gets the cotangent, the first one on ties
    // (ifelse(c, a, b) is a where c >= 0).
    derivative("max(x, y)", "x", "ifelse((x - y), e, 0.0)");
    derivative("max(x, y)", "y", "ifelse((x - y), 0.0, e)");
    derivative("min(x, y)", "x", "ifelse((y - x), e, 0.0)");
    derivative("min(x, y)", "y", "ifelse((y - x), 0.0, e)");
    derivative("x < y", "x", "0.0");
    derivative("x <= y", "x", "0.0");
    derivative("x > y", "x", "0.0");
    derivative("x >= y", "y", "0.0");
    derivative("x == y", "x", "0.0");
    derivative("x != y", "y", "0.0");
    // ---------------------------------------------------------- ternary
    // clamp(x, y, z): y where x < y, else z where x > z, else x (with
    // crossed bounds, y > z, the value between them is y).
    derivative(
        "clamp(x, y, z)",
        "x",
        "(e * (1.0 - ((x < y) + ((x >= y) * (x > z)))))",
    );
    derivative("clamp(x, y, z)", "y", "(e * (x < y))");
    derivative("clamp(x, y, z)", "z", "(e * ((x >= y) * (x > z)))");
    derivative("ifelse(x, y, z)", "x", "0.0");
    derivative("ifelse(x, y, z)", "y", "ifelse(x, e, 0.0)");
    derivative("ifelse(x, y, z)", "z", "ifelse(x, 0.0, e)");
    // modulo(x, y, z) = x - y floor((x - z) / y).
    derivative("modulo(x, y, z)", "x", "e");
    derivative("modulo(x, y, z)", "y", "(-(e * floor(((x - z) / y))))");
    derivative("modulo(x, y, z)", "z", "0.0");
    derivative("x % y", "x", "e");
}

#[test]
fn derivatives_of_vector_operations() {
    // sqdist(u, v) = |u - v|^2: 2 (u - v) and -2 (u - v).
    derivative("sqdist(u, v)", "u", "((u - v) * splat((2.0 * e), 3))");
    derivative("sqdist(u, v)", "v", "(-((u - v) * splat((2.0 * e), 3)))");
    // norm2(u) = |u|: u / |u| (the 1/2 of sqrt and the 2 of square folded).
    derivative(
        "norm2(u)",
        "u",
        "(u * splat((e / sqrt(sum(square(u)))), 3))",
    );
    derivative("(u | v)", "u", "(v * splat(e, 3))");
    derivative("(u | v)", "v", "(u * splat(e, 3))");
    derivative("sum(u)", "u", "splat(e, 3)");
    derivative("u[1..3]", "u", "[0, e[0], e[1]]");
    derivative("u[1]", "u", "[0, e[0], 0]");
    derivative("u[0]", "u", "[e[0], 0, 0]");
    derivative("cat(u, v)", "u", "e[0..3]");
    derivative("cat(u, v)", "v", "e[3..6]");
    // The largest (smallest) component gets the cotangent.
    derivative("max(u)", "u", "(one_hot(argmax(u), 3) * splat(e, 3))");
    derivative("min(u)", "u", "(one_hot(argmin(u), 3) * splat(e, 3))");
    derivative("argmax(u)", "u", "splat(0.0, 3)");
    // A broadcast scalar gets the sum of its components' cotangents.
    derivative("x * u", "x", "sum((u * e))");
    derivative("x * u", "u", "(splat(x, 3) * e)");
    derivative("exp(u)", "u", "(exp(u) * e)");
}

#[test]
fn chain_rule() {
    derivative("exp(sin(x))", "x", "((exp(sin(x)) * e) * cos(x))");
    derivative(
        "exp(-x * x)",
        "x",
        "(-((exp((-square(x))) * e) * (2.0 * x)))",
    );
    derivative("x * x", "x", "(e * (2.0 * x))");
    derivative("x + x", "x", "(2.0 * e)");
    // Both paths to x add up: e/x - (x/x)(e/x), with e/x shared.
    derivative("x / x", "x", "let t0 = (e / x);\n(t0 - ((x / x) * t0))");
    // Does not depend on x: no kernel.
    derivative("exp(y)", "x", "0.0");
    derivative("exp(y) * v", "u", "splat(0.0, 3)");
}

/// Every row of `ops::ELEMENTWISE` occurs in the (unsimplified) formula of
/// a `derivative` line of [`derivative_rule_of_every_elementwise_operation`]:
/// a new operation needs a line there.
#[test]
fn every_elementwise_operation_has_a_derivative_line() {
    let source = include_str!("rules.rs");
    let start = source
        .find("fn derivative_rule_of_every_elementwise_operation")
        .expect("the test of the element-wise rules");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of the test")];
    let mut covered: HashSet<usize> = HashSet::new();
    let mut lines = 0;
    // A call may span lines (rustfmt): its formula follows `derivative(`.
    for call in body.split("derivative(").skip(1) {
        let src = call
            .trim_start()
            .strip_prefix('"')
            .and_then(|s| s.split('"').next())
            .expect("a derivative line starts with its formula");
        lines += 1;
        let st = stage(src, false);
        for id in st.graph.reachable(&[st.f]) {
            let op = match st.graph.node(id).op {
                Op::Un(u) => ElemOp::Un(u),
                Op::Bin(b) => ElemOp::Bin(b),
                Op::Tern(t) => ElemOp::Tern(t),
                _ => continue,
            };
            let row = ELEMENTWISE
                .iter()
                .position(|d| std::ptr::eq(d, ops::def(op)));
            covered.extend(row);
        }
    }
    assert!(lines > ELEMENTWISE.len() / 2, "only {lines} lines found");
    let missing: Vec<&str> = ELEMENTWISE
        .iter()
        .enumerate()
        .filter(|(k, _)| !covered.contains(k))
        .map(|(_, d)| d.name)
        .collect();
    assert!(
        missing.is_empty(),
        "element-wise operations without a derivative line in `derivative_rule_of_every_elementwise_operation`: {missing:?}"
    );
}

/// A gradient that is the constant 0 (the variable only goes through
/// piecewise-constant operations) is a `Zeros` step: no reduction kernel,
/// and no sibling stage (here the argmin that a min's gradient needs).
#[test]
fn zero_derivatives_emit_no_kernel() {
    for (src, forward_stages) in [
        ("|x: Vi<1>, y: Vj<1>| sum_j(sign(x) * y)", 1),
        ("|x: Vi<1>, y: Vj<1>| min_j(floor(x * y))", 1),
    ] {
        let def = keops_compiler::parse::parse_kernel_str(src).unwrap();
        let st = keops_compiler::front::build_stage(&def, true).unwrap();
        let fam = Family::new(st, 1);
        let gx = fam.program(&["x"]).unwrap();
        let Value::Step(k) = gx.output else {
            panic!("{src}: {gx:?}")
        };
        assert!(
            matches!(gx.steps[k as usize], Step::Zeros { .. }),
            "{src}: {gx:?}"
        );
        assert!(
            !gx.steps.iter().any(|s| matches!(s, Step::Reduce { .. })),
            "{src}: {gx:?}"
        );
        // The y-gradient of the sum is a kernel (e * sign(x)); the min's
        // is zero too.
        let extra = usize::from(src.contains("sum_j"));
        assert_eq!(
            fam.stages.len(),
            forward_stages + extra,
            "{src}: {:?}",
            fam.stages
        );
    }
}
