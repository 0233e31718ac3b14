//! The generator itself (part of `cargo test --workspace`; fast): its
//! formulas compile (with and without simplification) for a range of seeds
//! at the first draw, every operation and reduction of the language appears
//! in a run of 300, and runs are reproducible from their seed.

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
