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
    keops_compiler::widths::expand(&quote::quote!(::keops), named, src, span)
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
