//! Compile-time diagnostics: every class of mistake in a formula fails to
//! compile with a message that names the problem and a span on the faulty
//! sub-expression (snapshots in `tests/ui/*.stderr`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
