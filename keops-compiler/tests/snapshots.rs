//! Snapshots of what the compiler derives for a few formulas: the stages of
//! the family (reduction and simplified formula, printed), the steps of
//! every program (forward and gradients) and the size of the lowered
//! phases. A change to the simplifier, the derivative rules or the lowering
//! shows up here as a diff a reviewer can read.
//!
//! Bless after an intended change: `KEOPS_BLESS=1 cargo test -p keops-compiler --test snapshots`.

use std::fmt::Write;

use keops_compiler::lower::{lower, lower_looped, ScalarProg};
use keops_compiler::print::formula_string;

const CASES: &[(&str, &str)] = &[
    (
        "gauss",
        "grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    ),
    (
        "logsumexp",
        "grad_order = 1, |x: Vi<2>, y: Vj<2>| logsumexp_j(-sqdist(x, y))",
    ),
    (
        "argkmin",
        "|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 4)",
    ),
    (
        "gauss_d64",
        "grad_order = 1, |x: Vi<64>, y: Vj<64>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
    ),
];

/// The CPU's looped lowering of a phase: instructions and loops (length
/// and body size).
fn looped(p: &ScalarProg) -> String {
    let loops: Vec<String> = p
        .loops
        .iter()
        .map(|l| format!("{}x{}", l.len, l.body.insts.len()))
        .collect();
    format!("{} [{}]", p.insts.len(), loops.join(" "))
}

fn render(src: &str) -> String {
    let tokens: proc_macro2::TokenStream = src.parse().unwrap();
    let c = keops_compiler::compile(tokens).unwrap_or_else(|f| panic!("{src}: {}", f.error));
    let fam = &c.family;
    let mut out = String::new();
    writeln!(out, "formula: {src}").unwrap();
    for (k, st) in fam.stages.iter().enumerate() {
        let l = lower(st);
        writeln!(
            out,
            "stage {k}: {} over {:?}: {}",
            st.red.name(),
            st.axis,
            formula_string(&st.graph, st.f, &st.vars)
        )
        .unwrap();
        writeln!(
            out,
            "  lowered: param {} outer {} inner {} pair {} instructions ({} arithmetic per pair)",
            l.param.insts.len(),
            l.outer.insts.len(),
            l.inner.insts.len(),
            l.pair.insts.len(),
            l.pair.op_count()
        )
        .unwrap();
        let c = lower_looped(st);
        writeln!(
            out,
            "  looped (cpu): param {} outer {} inner {} pair {} (instructions [loops: length x body])",
            looped(&c.param),
            looped(&c.outer),
            looped(&c.inner),
            looped(&c.pair),
        )
        .unwrap();
    }
    for (path, prog) in &fam.programs {
        let inputs: Vec<&str> = prog.inputs.iter().map(|v| v.name.as_str()).collect();
        writeln!(out, "program {path:?} ({}):", inputs.join(", ")).unwrap();
        for (s, step) in prog.steps.iter().enumerate() {
            writeln!(out, "  s{s} = {step:?}").unwrap();
        }
        writeln!(out, "  output {:?}", prog.output).unwrap();
    }
    out
}

#[test]
fn derived_programs_match_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    let bless = std::env::var_os("KEOPS_BLESS").is_some();
    let mut failed = Vec::new();
    for (name, src) in CASES {
        let got = render(src);
        let path = format!("{dir}/{name}.txt");
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let d = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .context_radius(2)
                .header("snapshot", "now")
                .to_string();
            eprintln!("{path}:\n{d}");
            failed.push(*name);
        }
    }
    assert!(
        failed.is_empty(),
        "snapshots differ: {failed:?} (KEOPS_BLESS=1 to accept)"
    );
}
