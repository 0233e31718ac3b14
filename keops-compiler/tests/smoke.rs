//! End-to-end smoke tests of the compiler library: reference evaluation of
//! a Gaussian kernel against a hand computation, gradient program shapes,
//! lowering and code generation of a whole family.

use keops_compiler::eval::RefValue;
use keops_compiler::lower::lower;
use keops_compiler::print::formula_string;
use keops_compiler::Reference;

fn rows(data: Vec<f64>, cols: usize) -> RefValue {
    let rows = data.len() / cols;
    RefValue::Rows { data, rows, cols }
}

#[test]
fn gaussian_smoke() {
    let r = Reference::parse(
        "|x: Vi<2>, y: Vj<2>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    )
    .unwrap();
    let x = rows(vec![0.0, 0.0, 1.0, 1.0], 2);
    let y = rows(vec![1.0, 0.0, 0.0, 2.0, 3.0, 3.0], 2);
    let b = rows(vec![1.0, 2.0, 3.0], 1);
    let g = RefValue::Vector(vec![0.5]);
    let out = r
        .forward(&[x.clone(), y.clone(), b.clone(), g.clone()])
        .unwrap();
    let yy = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]];
    let bb = [1.0, 2.0, 3.0];
    for (i, xi) in [[0.0, 0.0], [1.0, 1.0]].iter().enumerate() {
        let mut s = 0.0;
        for j in 0..3 {
            let d: f64 = (0..2)
                .map(|k| (xi[k] - yy[j][k]) * (xi[k] - yy[j][k]))
                .sum();
            s += (-0.5 * d).exp() * bb[j];
        }
        assert!((out.reals()[i] - s).abs() < 1e-14);
    }
    // Gradient program shapes.
    let e = rows(vec![1.0, 1.0], 1);
    let gx = r
        .eval(
            &["x"],
            &[x.clone(), y.clone(), b.clone(), g.clone(), e.clone()],
        )
        .unwrap();
    assert_eq!(gx.rows(), Some(2));
    let gy = r
        .eval(
            &["y"],
            &[x.clone(), y.clone(), b.clone(), g.clone(), e.clone()],
        )
        .unwrap();
    assert_eq!(gy.rows(), Some(3));
    let gg = r.eval(&["g"], &[x, y, b, g, e]).unwrap();
    assert_eq!(gg.reals().len(), 1);
}

#[test]
fn print_and_lower() {
    let c = keops_compiler::compile(
        "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)"
            .parse()
            .unwrap(),
    )
    .unwrap();
    for (path, prog) in &c.family.programs {
        println!("program {path:?}: {} steps", prog.steps.len());
        for s in &prog.steps {
            println!("   {s:?}");
        }
    }
    for (k, st) in c.family.stages.iter().enumerate() {
        println!(
            "stage {k}: {:?} over {:?}, ops {}\n{}",
            st.red,
            st.axis,
            st.op_count(),
            formula_string(&st.graph, st.f, &st.vars)
        );
        let l = lower(st);
        println!(
            "  pair ops {} features pf {} of {} nf {}",
            l.pair.op_count(),
            l.param.outputs.len(),
            l.outer.outputs.len(),
            l.inner.outputs.len()
        );
    }
    let toks = keops_compiler::emit_cpu::expand(&quote::quote!(::keops), &c.family, &[], "gauss");
    let s = toks.to_string();
    assert!(s.len() > 100);
}

/// The reference keeps the sign of a zero through copies and one-term
/// products, as the lowered programs (and so every back end) do: a slice,
/// a broadcast or a one-term `tensordot` of -0 is -0, not `0 + (-0) = +0`.
/// `atan2` on its branch cut sees the difference (atan2(+0, -0) = pi,
/// atan2(+0, +0) = 0): difftest seed 1718123457, formulas 95 and 239.
#[test]
fn reference_keeps_signed_zeros() {
    let pi = std::f64::consts::PI;
    // Gather: a slice and a broadcast of -0.
    let r = Reference::parse("|x: Vi<2>, y: Vj<1>| sum_j(atan2(y, x[1]))").unwrap();
    let out = r
        .forward(&[rows(vec![0.5, -0.0], 2), rows(vec![0.0], 1)])
        .unwrap();
    assert_eq!(out.reals(), &[pi]);
    let r = Reference::parse("|x: Vi<1>, y: Vj<2>| sum_j(atan2(y, x))").unwrap();
    let out = r
        .forward(&[rows(vec![-0.0], 1), rows(vec![0.0, -0.0], 2)])
        .unwrap();
    assert_eq!(out.reals(), &[pi, -pi]);
    // Bilinear: a one-term tensor product of -0 and a positive number.
    let r = Reference::parse(
        "|a: Vi<1>, b: Vi<1>, y: Vj<1>| sum_j(atan2(y, keops_tensordot(a, b, [1], [1], [], [])))",
    )
    .unwrap();
    let out = r
        .forward(&[rows(vec![-0.0], 1), rows(vec![0.5], 1), rows(vec![0.0], 1)])
        .unwrap();
    assert_eq!(out.reals(), &[pi]);
    // A sum of several terms is unchanged: -0 + -0 = -0, 1 + -1 = +0.
    let r = Reference::parse("|x: Vi<2>, y: Vj<1>| sum_j(atan2(y, sum(x)))").unwrap();
    let out = r
        .forward(&[rows(vec![-0.0, -0.0, 1.0, -1.0], 2), rows(vec![0.0], 1)])
        .unwrap();
    assert_eq!(out.reals(), &[pi, 0.0]);
}
