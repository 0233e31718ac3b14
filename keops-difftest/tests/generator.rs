//! The generator itself (part of `cargo test --workspace`; fast): its
//! formulas compile (with and without simplification) for a range of seeds
//! at the first draw, every operation and reduction of the language appears
//! in a run of 300 (every element-wise operation of
//! `keops_compiler::ops::ELEMENTWISE` among them), and runs are reproducible
//! from their seed.

use keops_compiler::ir::{Bin, Un};
use keops_compiler::ops::{ElemOp, OpDef, ELEMENTWISE};
use keops_difftest::generator::{self, Red, COVERAGE};

fn compiles(src: &str) -> Result<(), String> {
    let tokens: proc_macro2::TokenStream = src.parse().map_err(|e| format!("{e:?}"))?;
    keops_compiler::compile(tokens).map_err(|e| e.error.to_string())?;
    keops_compiler::Reference::parse(src)?;
    Ok(())
}

#[test]
fn formulas_are_well_typed() {
    let mut bad = Vec::new();
    for seed in [12u64, 1, 2, 3, 4, 5, 6, 7] {
        for f in generator::generate(seed, 150) {
            if let Err(e) = compiles(&f.src()) {
                bad.push(format!("seed {seed}, formula {}: {e}\n  {}", f.id, f.src()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} rejected:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn a_run_covers_the_language() {
    for seed in [12u64, 1_700_000_000] {
        let fs = generator::generate(seed, 300);
        let mut seen = std::collections::BTreeSet::new();
        for f in &fs {
            seen.extend(f.ops.iter().copied());
        }
        let missing: Vec<&&str> = COVERAGE.iter().filter(|op| !seen.contains(**op)).collect();
        assert!(
            missing.is_empty(),
            "seed {seed}: never generated: {missing:?}"
        );
        for red in Red::ALL {
            for axis in ["reduction over i", "reduction over j"] {
                let _ = axis;
            }
            assert!(fs.iter().filter(|f| f.red == red).count() >= 20, "{red:?}");
        }
        let grads = fs.iter().filter(|f| f.grad_order == 1).count();
        assert!(grads >= 40, "seed {seed}: only {grads} gradient formulas");
    }
}

/// The name under which the generator records an element-wise operation
/// of the compiler's table in `Formula::ops` (its printed name, but
/// `max2`/`min2` for the binary `max`/`min` and `cmp` for the comparisons);
/// `None` for an internal operation (no spelling, built by derivative
/// rules).
fn coverage_name(d: &OpDef) -> Option<&'static str> {
    Some(match d.op {
        ElemOp::Un(Un::SinXDivXDeriv) => return None,
        ElemOp::Bin(Bin::Max) => "max2",
        ElemOp::Bin(Bin::Min) => "min2",
        ElemOp::Bin(b) if b.is_comparison() => "cmp",
        _ => d.name,
    })
}

/// Every element-wise operation of the compiler's table is in the
/// coverage list (so `a_run_covers_the_language` checks it is generated):
/// a new row of the table needs a case in the generator (its domain and
/// bound).
#[test]
fn every_elementwise_operation_is_covered() {
    let missing: Vec<&str> = ELEMENTWISE
        .iter()
        .filter_map(coverage_name)
        .filter(|n| !COVERAGE.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "not in generator::COVERAGE (add a case to the generator): {missing:?}"
    );
}

#[test]
fn runs_are_reproducible() {
    let a = generator::generate(77, 40);
    let b = generator::generate(77, 40);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.src(), y.src());
    }
    let c = generator::generate(78, 40);
    assert!(a.iter().zip(&c).any(|(x, y)| x.src() != y.src()));
}

#[test]
fn print_some() {
    for f in generator::generate(12, 30) {
        println!("{:3} {}", f.id, f.src());
    }
}

/// The run-time parser of formula strings (`keops_ir::text`, no syn) reads
/// every generated formula as the macro's parser does: the same definition
/// (compared as `keops_ir::wire` text) for 8 × 150 formulas over the whole
/// language, and the same formula with named widths.
#[test]
fn the_run_time_parser_agrees_with_the_macro() {
    let mut bad = Vec::new();
    for seed in [12u64, 1, 2, 3, 4, 5, 6, 7] {
        for f in generator::generate(seed, 150) {
            let src = f.src();
            let macro_def = keops_compiler::parse::parse_kernel_str(&src)
                .expect("the generator's formulas parse");
            match keops_ir::text::parse(&src) {
                Ok(p) if keops_ir::wire::write(&p.def) == keops_ir::wire::write(&macro_def) => {}
                Ok(p) => bad.push(format!(
                    "seed {seed}, formula {}: different definitions\n  {src}\n  macro: {}\n  text:  {}",
                    f.id,
                    keops_ir::wire::write(&macro_def),
                    keops_ir::wire::write(&p.def)
                )),
                Err(e) => bad.push(format!("seed {seed}, formula {}: {e}\n  {src}", f.id)),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagree:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
