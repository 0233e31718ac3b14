//! The run-time parser of formula strings (`keops_ir::text`, no syn)
//! against the macro's parser: the same definitions for every formula of
//! the root crate's tests, syntax errors with byte positions, and the front
//! end's errors located in the string. (`keops-difftest`'s generator tests
//! compare the two on generated formulas; `tests/fuzz.rs` feeds both.)

use keops_ir::text::{parse, TextError};
use keops_ir::wire;

/// The text inside the group that opens at byte `open` of `s`.
fn group(s: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    for (k, c) in s[open..].char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[open + 1..open + k]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The `keops!(...)` inputs of the root crate's tests.
fn test_formulas() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        let mut from = 0;
        while let Some(pos) = text[from..].find("keops!(") {
            let at = from + pos + "keops!".len();
            from = at;
            if let Some(inner) = group(&text, at) {
                if !inner.contains('$') {
                    out.push(inner.trim().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_repository_formulas_parse_as_in_the_macro() {
    let formulas = test_formulas();
    assert!(formulas.len() > 100, "{}", formulas.len());
    let mut compared = 0;
    for src in &formulas {
        // Only what the macro's parser accepts (some test inputs are
        // mistakes on purpose).
        let Ok(want) = keops_compiler::parse::parse_kernel_str(src) else {
            continue;
        };
        let got = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(wire::write(&got.def), wire::write(&want), "{src}");
        compared += 1;
    }
    assert!(compared > 100, "{compared}");
}

fn error(src: &str) -> TextError {
    parse(src).err().unwrap_or_else(|| panic!("`{src}` parses"))
}

#[test]
fn syntax_errors_have_positions() {
    let e = error("|x: Vi<3>, y: Vj<3>| sum_j(x * $ y)");
    assert_eq!(e.at, 31..32);
    assert!(e.message.contains("unexpected character"), "{e}");
    let e = error("|x: Vq<3>| sum_j(x)");
    assert_eq!(e.at, 4..6);
    assert!(e.message.contains("Vi<D>"), "{e}");
    let e = error("|x: Vi<3>| sum_j(x < x < x)");
    assert!(e.message.contains("chained"), "{e}");
    let e = error("|x: Vi<3>| sum_j(x");
    assert_eq!(e.at, 18..18);
    let e = error("|x: Vi<3>, x: Vj<3>| sum_j(x)");
    assert!(
        e.message.contains("duplicate variable name `x`") && e.at == (11..12),
        "{e}"
    );
    let e = error("gradorder = 2, |x: Vi<3>| sum_j(x)");
    assert!(
        e.message.contains("unknown option `gradorder`") && e.at == (0..9),
        "{e}"
    );
    // A width read from the data is the width name `_`.
    let def = keops_ir::text::parse("|x: Vi<_>, y: Vj<3>| sum_j(x * y)")
        .expect("`_` widths parse")
        .def;
    assert_eq!(def.params[0].width.as_deref(), Some("_"));
    let e = error("|x: Vi<0>| sum_j(x)");
    assert!(e.message.contains("at least 1"), "{e}");
    let e = error("|x: Vi<3>| sum_j(x[y])");
    assert!(e.message.contains("integer literals"), "{e}");
    let e = error("|x: Vi<3>| { let a = x; }");
    assert!(e.message.contains("no final expression"), "{e}");
    let deep = format!("|x: Vi<1>| sum_j({}x{})", "(".repeat(300), ")".repeat(300));
    assert!(error(&deep).message.contains("nested too deeply"));
}

#[test]
fn front_end_errors_point_into_the_string() {
    let src = "|x: Vi<3>, y: Vj<2>| sum_j(exp(x - y))";
    let p = parse(src).expect("parses");
    let errors = keops_ir::front::build_stage(&p.def, true).expect_err("a dimension mismatch");
    let located = p.locate(&errors);
    assert_eq!(&src[located[0].at.clone()], "x - y", "{located:?}");
    assert!(
        located[0].message.contains("dimension mismatch"),
        "{located:?}"
    );
}

#[test]
fn numbers_and_names_as_in_rust() {
    for (src, want) in [
        (
            "|x: Vi<1>, y: Vj<1>| sum_j(x * y * 1_000.5e-3)",
            "|x: Vi<1>, y: Vj<1>| sum_j(x * y * 1.0005)",
        ),
        (
            "|x: Vi<1>, y: Vj<1>| sum_j(x * y * 0x10)",
            "|x: Vi<1>, y: Vj<1>| sum_j(x * y * 16)",
        ),
        (
            "|x: Vi<1>, y: Vj<1>| sum_j(2.max(x - y))",
            "|x: Vi<1>, y: Vj<1>| sum_j(max(2, x - y))",
        ),
        (
            "|r#type: Vi<1>, y: Vj<1>| sum_j(r#type * y * 2.)",
            "|t: Vi<1>, y: Vj<1>| sum_j(t * y * 2.0)",
        ),
        (
            "|x: Vi<{ 3 }>, y: Vj<3>| sum_j(x[..=1] * y[(2)])",
            "|x: Vi<3>, y: Vj<3>| sum_j(x[0..2] * y[2])",
        ),
    ] {
        let a = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let b = keops_compiler::parse::parse_kernel_str(src).unwrap();
        assert_eq!(wire::write(&a.def), wire::write(&b), "{src}");
        // And evaluates as the plainer spelling (values through the front end).
        let plain = keops_compiler::parse::parse_kernel_str(want).unwrap();
        let (sa, sp) = (
            keops_ir::front::build_stage(&a.def, true).unwrap(),
            keops_ir::front::build_stage(&plain, true).unwrap(),
        );
        assert_eq!(
            format!("{:?}", keops_ir::lower::lower(&sa).pair.insts),
            format!("{:?}", keops_ir::lower::lower(&sp).pair.insts),
            "{src} vs {want}"
        );
    }
}
