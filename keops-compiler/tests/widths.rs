//! Named widths in the compiler: the classes of names, the smallest widths,
//! and which formulas generalise over the widths (library tests; the
//! generated code is run by the root crate's `tests/widths.rs`).

use keops_compiler::{compile, Compiled};

fn compiled(src: &str) -> Compiled {
    let tokens: proc_macro2::TokenStream = src.parse().expect("lexes");
    compile(tokens).unwrap_or_else(|f| panic!("{src}: {}", f.error))
}

fn expansion(src: &str) -> Result<String, String> {
    let c = compiled(src);
    let named = c.named.as_deref().expect("named widths");
    let span = c.spans.get(c.def.span);
    keops_compiler::widths::expand(&quote::quote!(::keops), named, src, span, false)
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

#[test]
fn classes_group_the_names_that_meet() {
    let c = compiled("|x: Vi<D>, y: Vj<E>, v: Vj<F>| sum_j(exp(-sqdist(x, y)) * v)");
    let named = c.named.expect("named");
    assert_eq!(
        named.classes,
        vec![vec!["D".to_string(), "E".into()], vec!["F".into()]]
    );
    assert_eq!(named.min, vec![1, 1]);
    // Three runs per class plus the one that moves every class.
    assert_eq!(named.runs.len(), 4);
}

#[test]
fn indexing_sets_the_smallest_width() {
    let c = compiled("grad_order = 0, |x: Vi<D>, y: Vj<D>| sum_j(x[1] * y[4])");
    assert_eq!(c.named.expect("named").min, vec![5]);
    let c = compiled("grad_order = 0, |x: Vi<D>, y: Vj<D>| sum_j(x[2..4] * 2.0)");
    assert_eq!(c.named.expect("named").min, vec![4]);
}

/// An index past the probes' view of a concatenation: at widths above 3
/// `t[..3]` reads the named-width part only, at 2 it would read the
/// concatenated component too, so the kernel asks for a width of at least 3
/// (found by the difftest, seed 1796677873, formula 120).
#[test]
fn indices_into_concatenations_set_the_smallest_width() {
    let c = compiled(
        "grad_order = 0, |x: Vi<D>, y: Vj<D>| { let t = cat(cat(x, x[0]), x[0]); min_argmin_j(t[..3] + y[0]) }",
    );
    assert_eq!(c.named.expect("named").min, vec![3]);
    let c = compiled("grad_order = 0, |x: Vi<D>, y: Vj<D>| sum_j(extract(x, 1, 3) * elem(y, 2))");
    assert_eq!(c.named.expect("named").min, vec![4]);
}

#[test]
fn generalised_sizes_are_expressions_of_the_widths() {
    let out =
        expansion("grad_order = 1, |x: Vi<D>, y: Vj<D>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)")
            .expect("generalises");
    // The inner features `y` then `b`: one more than the width.
    assert!(out.contains("nnf : (1 + __W0)"), "{out}");
    assert!(out.contains("BufCat < [E ; 1] , [E ; __W0] >"), "{out}");
    assert!(out.contains("for __k in 0 .. __W0"), "{out}");
    assert!(out.contains(":: core :: assert ! (D >= 1"), "{out}");
    // Two widths: the output has the second's columns; the gradient's
    // accumulator holds the first's twice (factor pairs).
    let out =
        expansion("grad_order = 1, |x: Vi<D>, y: Vj<D>, v: Vj<E>| sum_j(exp(-sqdist(x, y)) * v)")
            .expect("generalises");
    assert!(out.contains("fdim : __W1"), "{out}");
    assert!(out.contains("acc : (2 * __W0)"), "{out}");
}

#[test]
fn code_that_depends_on_the_widths_needs_literals() {
    let e = expansion("|x: Vi<D>, y: Vj<D>| sum_j(cat(x, y))").unwrap_err();
    assert!(
        e.contains("needs literal widths") && e.contains("`D`"),
        "{e}"
    );
}

#[test]
fn a_named_width_meeting_a_literal_is_an_error_naming_it() {
    let tokens: proc_macro2::TokenStream = "|x: Vi<D>, y: Vj<3>| sum_j(x * y)".parse().unwrap();
    let e = compile(tokens).err().expect("an error").error.to_string();
    assert!(
        e.contains("dimension D") && e.contains("dimension 3"),
        "{e}"
    );
}

/// The wire text of a definition reads back as the same definition: the
/// same text again, and the same forward stage.
#[test]
fn wire_text_round_trips() {
    for src in [
        "|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
        "grad_order = 0, fast_math = false, |x: Vi<3>, y: Vj<3>| { let d = sqdist(x, y); argkmin_j(d / (1.0 + d), 4) }",
        "|x: Vi<4>, y: Vj<4>, w: Vj<2>| (x[1..3] - y[0..2] * -2).logsumexp_weight(exp(w), axis = 1)",
        "|x: Vi<3>, y: Vj<3>| sum_j(cat(x, y) * (x | y) % 2.5 + (x[0] != y[2]))",
    ] {
        let def = keops_compiler::parse::parse_kernel_str(src).expect("parses");
        let text = keops_ir::wire::write(&def);
        let back = keops_ir::wire::read(&text).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(keops_ir::wire::write(&back), text, "{src}");
        let a = keops_compiler::front::build_stage(&def, true).expect("builds");
        let b = keops_compiler::front::build_stage(&back, true).expect("builds again");
        assert_eq!(
            format!("{:?}", keops_ir::lower::lower(&a)),
            format!("{:?}", keops_ir::lower::lower(&b)),
            "{src}"
        );
    }
}

/// Damaged wire text is an error, never a panic.
#[test]
fn damaged_wire_text_is_an_error() {
    let def = keops_compiler::parse::parse_kernel_str(
        "|x: Vi<D>, y: Vj<D>| sum_j(exp(-sqdist(x, y)) * x[0])",
    )
    .unwrap();
    let text = keops_ir::wire::write(&def);
    let mut rng = fastrand::Rng::with_seed(7);
    for k in 0..2000 {
        let mut bytes = text.clone().into_bytes();
        match k % 3 {
            0 => bytes.truncate(rng.usize(0..bytes.len())),
            1 => {
                let i = rng.usize(0..bytes.len());
                bytes[i] = b" 0123456789:~abcfilmnrsxIJP-"[rng.usize(0..28)];
            }
            _ => {
                let i = rng.usize(0..bytes.len());
                bytes.insert(i, b' ');
            }
        }
        if let Ok(s) = String::from_utf8(bytes) {
            let _ = keops_ir::wire::read(&s);
        }
    }
    assert!(keops_ir::wire::read("").is_err());
    assert!(keops_ir::wire::read(&format!("{text} n 1:x")).is_err());
}
