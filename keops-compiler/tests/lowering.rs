//! The lowered programs, run by a small f64 interpreter, against the
//! reference evaluator's pair values: the scalarised lowering (`lower`, what
//! the PTX back end translates) and the CPU's looped lowering
//! (`lower_looped`, `lower_dot_form`), for every stage of each family
//! (gradients included), on formulas whose vectors become loops of every
//! kind: sums of components, slices, broadcasts, exports to later phases,
//! returned vectors, and the scalarising fallbacks. The two lowerings sum in
//! the same order with the same roundings, so their values are identical.

use keops_compiler::eval::{pair_values, RefValue};
use keops_compiler::ir::Bin;
use keops_compiler::lower::{
    lower, lower_dot_form, lower_looped, Accumulate, Inst, Lowered, Role, ScalarProg,
};
use keops_compiler::stage::{Stage, VarKind};

/// Runs `prog`: the values of its instructions and its outputs. `input`
/// gives the input instructions (components of raw rows and features).
fn run(prog: &ScalarProg, input: &dyn Fn(Inst) -> f64) -> Vec<f64> {
    let mut vals: Vec<f64> = Vec::with_capacity(prog.insts.len());
    for &inst in &prog.insts {
        let v = match inst {
            Inst::LoopSum(l) => {
                let lp = &prog.loops[l as usize];
                let out = lp.body.outputs[0] as usize;
                let single = lp
                    .body
                    .insts
                    .iter()
                    .flat_map(|i| i.operands())
                    .filter(|&o| o as usize == out)
                    .count()
                    == 0;
                let terms: Vec<Vec<f64>> =
                    (0..lp.len).map(|k| run_body(lp, k, &vals, input)).collect();
                match (lp.body.insts[out], single) {
                    (Inst::Bin(Bin::Mul, a, b), true) => {
                        let (a, b) = (a as usize, b as usize);
                        let (mut acc, from) = match lp.acc {
                            Accumulate::Adds => {
                                (terms[0][a].mul_add(terms[0][b], terms[1][out]), 2)
                            }
                            Accumulate::Fmas => (terms[0][out], 1),
                        };
                        for t in &terms[from..] {
                            acc = t[a].mul_add(t[b], acc);
                        }
                        acc
                    }
                    _ => terms[1..].iter().fold(terms[0][out], |acc, t| acc + t[out]),
                }
            }
            Inst::LoopElem(l, k, o) => {
                let lp = &prog.loops[l as usize];
                run_body(lp, k, &vals, input)[lp.body.outputs[o as usize] as usize]
            }
            other => eval_inst(other, &vals).unwrap_or_else(|| input(other)),
        };
        vals.push(v);
    }
    prog.outputs.iter().map(|&o| vals[o as usize]).collect()
}

/// The values of a loop body at iteration `k`.
fn run_body(
    lp: &keops_compiler::lower::Loop,
    k: u32,
    outer: &[f64],
    input: &dyn Fn(Inst) -> f64,
) -> Vec<f64> {
    let mut vals = Vec::with_capacity(lp.body.insts.len());
    for &inst in &lp.body.insts {
        let v = match inst {
            Inst::Cap(v) => outer[v as usize],
            Inst::RawParam(b) => input(Inst::RawParam(b + k)),
            Inst::RawOuter(b) => input(Inst::RawOuter(b + k)),
            Inst::RawInner(b) => input(Inst::RawInner(b + k)),
            Inst::Pf(b) => input(Inst::Pf(b + k)),
            Inst::Of(b) => input(Inst::Of(b + k)),
            Inst::Nf(b) => input(Inst::Nf(b + k)),
            other => eval_inst(other, &vals).expect("loop bodies hold arithmetic only"),
        };
        vals.push(v);
    }
    vals
}

fn eval_inst(inst: Inst, v: &[f64]) -> Option<f64> {
    let g = |k: u32| v[k as usize];
    Some(match inst {
        Inst::Const(b) => f64::from_bits(b),
        Inst::Un(u, a) => u.eval(g(a)),
        Inst::Bin(b, x, y) => b.eval(g(x), g(y)),
        Inst::Tern(t, x, y, z) => t.eval(g(x), g(y), g(z)),
        Inst::Select(c, x, y) => {
            if g(c) != 0.0 {
                g(x)
            } else {
                g(y)
            }
        }
        Inst::Fma(x, y, z) => g(x).mul_add(g(y), g(z)),
        _ => return None,
    })
}

/// The pair program's formula values of every (outer, inner) pair.
fn run_lowered(l: &Lowered, args: &[RefValue]) -> Vec<Vec<Vec<f64>>> {
    // Concatenated raw components of each role, per row.
    let raw = |role: Role, row: usize| -> Vec<f64> {
        let mut out = Vec::new();
        for (k, s) in l.slots.iter().enumerate() {
            if s.role != role || l.vars[k].kind != VarKind::Real {
                continue;
            }
            match &args[k] {
                RefValue::Rows { data, cols, .. } => {
                    out.extend_from_slice(&data[row * cols..(row + 1) * cols])
                }
                RefValue::Vector(v) => out.extend_from_slice(v),
                other => panic!("unexpected input {other:?}"),
            }
        }
        out
    };
    let rows = |role: Role| -> usize {
        l.slots
            .iter()
            .zip(args)
            .find_map(|(s, a)| match (s.role == role, a) {
                (true, RefValue::Rows { rows, .. }) => Some(*rows),
                _ => None,
            })
            .unwrap_or(1)
    };
    let rp = raw(Role::Param, 0);
    let pf = run(&l.param, &|i| match i {
        Inst::RawParam(k) => rp[k as usize],
        other => panic!("unexpected {other:?} in the param phase"),
    });
    let features = |prog: &ScalarProg, role: Role, row: usize| -> Vec<f64> {
        let r = raw(role, row);
        run(prog, &|i| match i {
            Inst::RawOuter(k) | Inst::RawInner(k) => r[k as usize],
            Inst::Pf(k) => pf[k as usize],
            other => panic!("unexpected {other:?}"),
        })
    };
    let ofs: Vec<Vec<f64>> = (0..rows(Role::Outer))
        .map(|r| features(&l.outer, Role::Outer, r))
        .collect();
    let nfs: Vec<Vec<f64>> = (0..rows(Role::Inner))
        .map(|r| features(&l.inner, Role::Inner, r))
        .collect();
    ofs.iter()
        .map(|of| {
            nfs.iter()
                .map(|nf| {
                    let out = run(&l.pair, &|i| match i {
                        Inst::Pf(k) => pf[k as usize],
                        Inst::Of(k) => of[k as usize],
                        Inst::Nf(k) => nf[k as usize],
                        Inst::Dot => {
                            let d = l.dot.as_ref().expect("dot form");
                            d.of.iter()
                                .zip(&d.nf)
                                .map(|(&a, &b)| of[a as usize] * nf[b as usize])
                                .sum()
                        }
                        other => panic!("unexpected {other:?} in the pair phase"),
                    });
                    out[..l.fdim as usize].to_vec()
                })
                .collect()
        })
        .collect()
}

fn random_args(stage: &Stage, m: usize, n: usize, seed: u64) -> Vec<RefValue> {
    let mut rng = fastrand::Rng::with_seed(seed);
    stage
        .vars
        .iter()
        .map(|v| {
            let d = v.dim as usize;
            let rows = match v.cat {
                keops_compiler::ir::Cat::I => m,
                keops_compiler::ir::Cat::J => n,
                keops_compiler::ir::Cat::P => {
                    return RefValue::Vector((0..d).map(|_| rng.f64() - 0.5).collect())
                }
            };
            RefValue::Rows {
                data: (0..rows * d).map(|_| rng.f64() * 2.0 - 1.0).collect(),
                rows,
                cols: d,
            }
        })
        .collect()
}

fn loops(l: &Lowered) -> usize {
    l.param.loops.len() + l.outer.loops.len() + l.inner.loops.len() + l.pair.loops.len()
}

/// Every stage of the formula's family (grad_order = 1): both lowerings
/// against the reference, and identical to each other. Returns the number
/// of loops of the looped lowerings.
fn check(src: &str) -> usize {
    let c = keops_compiler::compile(format!("grad_order = 1, {src}").parse().unwrap())
        .unwrap_or_else(|f| panic!("{src}: {}", f.error));
    let mut total_loops = 0;
    for (s, st) in c.family.stages.iter().enumerate() {
        if st.vars.iter().any(|v| v.kind == VarKind::Index) {
            continue;
        }
        let args = random_args(st, 3, 4, s as u64);
        let refs: Vec<&RefValue> = args.iter().collect();
        let want = pair_values(st, &refs).unwrap();
        let scalar = lower(st);
        let looped = lower_looped(st);
        assert_eq!(loops(&scalar), 0);
        total_loops += loops(&looped);
        let a = run_lowered(&scalar, &args);
        let b = run_lowered(&looped, &args);
        assert_eq!(a, b, "{src}: stage {s}: the looped lowering differs");
        for (o, row) in want.iter().enumerate() {
            for (i, vals) in row.iter().enumerate() {
                for (c, &w) in vals.iter().enumerate() {
                    let got = a[o][i][c];
                    assert!(
                        (got - w).abs() <= 1e-12 * (1.0 + w.abs()) || got == w,
                        "{src}: stage {s}: pair ({o}, {i}) component {c}: {got} vs {w}"
                    );
                }
            }
        }
        if let Some(d) = lower_dot_form(st) {
            total_loops += loops(&d);
            let got = run_lowered(&d, &args);
            for (o, row) in want.iter().enumerate() {
                for (i, vals) in row.iter().enumerate() {
                    let w = vals[0];
                    assert!(
                        (got[o][i][0] - w).abs() <= 1e-10 * (1.0 + w.abs()),
                        "{src}: stage {s} dot form: pair ({o}, {i}): {} vs {w}",
                        got[o][i][0]
                    );
                }
            }
        }
    }
    total_loops
}

#[test]
fn loops_compute_what_the_scalarised_programs_compute() {
    for src in [
        // Sum of components in the pair phase, features exported by loops,
        // the gradients' returned vectors.
        "|x: Vi<40>, y: Vj<40>, b: Vj<3>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
        "|x: Vi<40>, y: Vj<40>| logsumexp_j(-sqdist(x, y) + (x | y))",
        // A parameter vector read by a pair loop, a returned vector.
        "|x: Vi<64>, y: Vj<64>, p: Pm<64>| sum_j(sin(x * p - y) * 2.0)",
        // A scalar broadcast into a loop.
        "|x: Vi<48>, y: Vj<48>| sum_j((x - y).sum() * x)",
        // Outer-phase sums (once per row) of a transcendental function.
        "|x: Vi<40>, y: Vj<3>| sum_j(exp(-x * 0.1).sum() * y)",
        // Slices of loops.
        "|x: Vi<70>, y: Vj<70>| sum_j(sqnorm2(extract(x, 3, 40) - extract(y, 10, 40)) * x[5])",
        // Weighted reductions with a vector weight.
        "|x: Vi<40>, y: Vj<40>, w: Vj<40>| sumsoftmaxweight_j(-sqdist(x, y), w)",
        // Selections (and the dot-product form).
        "|x: Vi<33>, y: Vj<33>| kmin_j(sqdist(x, y), 2)",
        "|x: Vi<36>, y: Vj<36>| min_j(norm2(x - y) + sqnorm2(x))",
        // Fallbacks that scalarise a loop: max over components, concatenation.
        "|x: Vi<40>, y: Vj<40>| max_j(max(x - y))",
        "|x: Vi<40>, y: Vj<40>| sum_j(cat(x, y) * 2.0)",
        // Below the loop threshold: nothing changes.
        "|x: Vi<31>, y: Vj<31>| sum_j(exp(-sqdist(x, y)))",
    ] {
        check(src);
    }
}

#[test]
fn large_vectors_become_loops() {
    // The Gaussian kernel's code does not grow with the dimension.
    let size = |d: u32| {
        let c = keops_compiler::compile(
            format!(
                "grad_order = 1, |x: Vi<{d}>, y: Vj<{d}>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)"
            )
            .parse()
            .unwrap(),
        )
        .unwrap();
        c.family
            .stages
            .iter()
            .map(|st| {
                let l = lower_looped(st);
                let n = |p: &ScalarProg| {
                    p.insts
                        .iter()
                        .filter(|i| !matches!(i, Inst::LoopElem(..)))
                        .count()
                        + p.loops.iter().map(|lp| lp.body.insts.len()).sum::<usize>()
                };
                n(&l.param) + n(&l.outer) + n(&l.inner) + n(&l.pair)
            })
            .sum::<usize>()
    };
    assert_eq!(size(64), size(4096));
    assert!(check("|x: Vi<64>, y: Vj<64>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)") >= 5);
}
