//! Regression tests for inputs that used to crash, hang or exhaust memory in
//! `keops_compiler::compile` (issue 12), and for the documented limits of
//! `keops_compiler::limits`. Each formula runs on a thread with a 2 MiB
//! stack (a test thread's) and must finish within a time limit.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use keops_compiler::limits::{MAX_DIM, MAX_K, MAX_KERNELS, MAX_NESTING, MAX_TOKENS};

/// What a compilation gave: the expansion's text, or the error messages.
type Outcome = Result<String, String>;

/// Compiles (and on success expands) `src` on a 2 MiB thread, failing the
/// test on a panic or after `secs` seconds. The expansion must parse as a
/// Rust expression.
fn run_within(src: &str, secs: u64) -> Outcome {
    // One formula at a time: the time limits are about the formula, not
    // about the other tests running in parallel.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = mpsc::channel();
    let owned = src.to_string();
    let start = Instant::now();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let tokens: proc_macro2::TokenStream = owned.parse().expect("lexes");
            let r = match keops_compiler::compile(tokens) {
                Ok(c) => {
                    let out = keops_compiler::emit_cpu::expand(
                        &quote::quote!(::keops),
                        &c.family,
                        &[],
                        &owned,
                    );
                    if let Err(e) = syn::parse2::<syn::Expr>(out.clone()) {
                        panic!("the expansion does not parse: {e}");
                    }
                    Ok(out.to_string())
                }
                Err(f) => {
                    let _ = f.error.to_compile_error();
                    Err(f
                        .error
                        .into_iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"))
                }
            };
            let _ = tx.send(r);
        })
        .expect("spawn");
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(r) => {
            eprintln!(
                "{:?}: {}",
                start.elapsed(),
                &src[..src
                    .char_indices()
                    .nth(100)
                    .map(|(i, _)| i)
                    .unwrap_or(src.len())]
            );
            r
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {secs} s: {src}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked: {src}"),
    }
}

fn run(src: &str) -> Outcome {
    run_within(src, 10)
}

#[track_caller]
fn expect_err(src: &str, fragment: &str) -> String {
    match run(src) {
        Ok(_) => panic!("expected an error containing {fragment:?}: {src}"),
        Err(e) => {
            assert!(
                e.contains(fragment),
                "expected an error containing {fragment:?}, got {e:?}: {src}"
            );
            e
        }
    }
}

#[track_caller]
fn expect_ok(src: &str) -> String {
    match run(src) {
        Ok(out) => out,
        Err(e) => panic!("expected success, got {e:?}: {src}"),
    }
}

// ---- Raw identifiers ----

#[test]
fn raw_identifier_variable_names() {
    let out = expect_ok("|r#x: Vj<2>, t: Vi<3>| kmin_j(t.square(), 5)");
    assert!(out.contains("grad_x"), "gradient accessor `grad_x`");
}

#[test]
fn raw_identifier_keywords_as_variable_names() {
    let out = expect_ok("|r#type: Vi<2>, r#fn: Vj<2>| sum_j(sqdist(r#type, r#fn))");
    assert!(out.contains("grad_type") && out.contains("grad_fn"));
    // Keywords are raw identifiers in the generated parameters.
    assert!(out.contains("r#type") && out.contains("r#fn"));
}

#[test]
fn raw_identifier_let_bindings() {
    expect_ok("|x: Vi<2>, y: Vj<2>| { let r#match = sqdist(x, y); sum_j(exp(-r#match)) }");
}

#[test]
fn raw_and_plain_spellings_are_the_same_variable() {
    expect_err(
        "|x: Vi<1>, r#x: Vj<1>| sum_j(x)",
        "duplicate variable name `x`",
    );
    expect_ok("|r#x: Vi<1>, y: Vj<1>| sum_j(x * r#x * y)");
}

#[test]
fn self_is_not_a_variable_name() {
    expect_err("|self: Vi<1>, y: Vj<1>| sum_j(y)", "cannot be the name");
}

// ---- Overflowing literals, indices and sizes ----

#[test]
fn slice_end_overflow() {
    expect_err(
        "|u: Vi<16>| (u[..=9223372036854775807]).sum(1.0)",
        "slice bound out of range",
    );
}

#[test]
fn extract_overflow() {
    expect_err(
        "|g: Vi<16>, y: Vj<1>| sum_j(extract(g, 4294967297, 9223372036854775807) * y)",
        "out of range for an expression of dimension 16",
    );
}

#[test]
fn tensordot_shape_overflow() {
    expect_err(
        "|a: Vi<4>, b: Vj<4>| sum_j(keops_tensordot(a, b, [65536, 65536], [4], [1], [0]))",
        "has 4294967296 entries",
    );
    expect_err(
        "|a: Vi<4>, b: Vj<4>| sum_j(keops_tensordot(a, b, [4294967297], [4], [0], [0]))",
        "too large",
    );
    expect_err(
        "|a: Vi<4>, b: Vj<4>| sum_j(keops_tensordot(a, b, [4, 0], [4], [0], [0]))",
        "at least 1",
    );
}

#[test]
fn tensorprod_and_weightedsqnorm_of_wide_inputs() {
    expect_err(
        "|x: Vi<65536>, y: Vj<65536>| sum_j(tensorprod(x, y))",
        "dimension too large",
    );
    expect_err(
        "|x: Vi<65536>, y: Vj<65536>| sum_j(weightedsqnorm(x, y))",
        "dimension too large",
    );
    expect_err(
        "|x: Vi<1024>, y: Vj<1024>| sum_j(tensorprod(x, y))",
        "the tensor product has dimension 1048576, more than the limit 4096",
    );
    expect_ok("|s: Vi<1024>, x: Vj<32>| sum_j(weightedsqnorm(s, x))");
}

#[test]
fn int_literals_too_large() {
    expect_err(
        "|x: Vi<1>, y: Vj<1>| sum_j(x * 99999999999999999999)",
        "number too large",
    );
    expect_err("|x: Vi<4294967296>| x.sum(1)", "number too large");
    expect_ok("|x: Vi<1>, y: Vj<1>| sum_j(x * 1e400 + y * 5e-324)");
}

// ---- Constant folding terminates ----

#[test]
fn erf_of_zero_folds() {
    expect_ok("|x: Vi<1>, y: Vj<1>| sum_j(erf(0.0) * x * y)");
    expect_ok("|x: Vi<1>, y: Vj<1>| sum_j(erf(x * 0.0) * y)");
    expect_ok("|x: Vi<1>, y: Vj<1>| sum_j(erf(5e-324) * x * y)");
    assert_eq!(keops_compiler::ir::erf_f64(0.0), 0.0);
    assert_eq!(keops_compiler::ir::erf_f64(-0.0), 0.0);
    assert!(keops_compiler::ir::erf_f64(5e-324) > 0.0);
    assert!((keops_compiler::ir::erf_f64(0.3) - 0.328_626_759_459_127_4).abs() < 1e-15);
}

// ---- Dimension limits ----

#[test]
fn one_hot_dimension_limit() {
    expect_err(
        "grad_order = 2, |x: Vi<1>, y: Vj<1>| sum_j(one_hot(x * y, 65535) * y)",
        "the dimension of `one_hot` must be between 1 and 4096 (got 65535)",
    );
    expect_ok("grad_order = 2, |x: Vi<1>, y: Vj<1>| sum_j(one_hot(x * y, 1024) * y)");
}

#[test]
fn variable_dimension_limit() {
    let e = expect_err(
        "|x: Vi<16384>, y: Vj<16384>| sum_j(exp(-sqdist(x, y)))",
        "dimension too large: 16384 (at most 4096",
    );
    assert_eq!(e.lines().count(), 2, "one error per too-large dimension");
    // Every accepted dimension works with the default grad_order.
    let src =
        format!("|x: Vi<{MAX_DIM}>, y: Vj<{MAX_DIM}>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)");
    expect_ok(&src);
    expect_ok(&format!(
        "|x: Vi<{MAX_DIM}>, y: Vj<{MAX_DIM}>| argkmin_j(sqdist(x, y), 10)"
    ));
}

#[test]
fn intermediate_dimension_limits() {
    expect_err(
        "|x: Vi<3000>, y: Vj<3000>| sum_j(cat(x, y))",
        "the concatenation has dimension 6000",
    );
    expect_err(
        "|x: Vi<8>, y: Vj<8>| kmin_j(x - y, 600)",
        "K times the formula's dimension",
    );
    expect_err(
        "|x: Vi<1>, y: Vj<1>| kmin_j(x - y, 1025)",
        "K must be at most 1024",
    );
}

// ---- Size limits ----

#[test]
fn kernel_count_limit() {
    expect_err(
        "grad_order = 4, |a: Vi<1>, b: Vj<1>, c: Vj<1>, d: Vj<1>, e: Vj<1>| sum_j(a * b * c * d * e)",
        &format!("(at most {MAX_KERNELS})"),
    );
    expect_ok("grad_order = 4, |x: Vi<1>, y: Vj<1>| sum_j(exp(x * y))");
}

#[test]
fn gradient_budget_limit() {
    expect_err(
        "grad_order = 4, |x: Vi<1024>, y: Vj<1024>| sum_j(exp(-sqdist(x, y)))",
        "formula too large with its gradients",
    );
    expect_ok("grad_order = 1, |x: Vi<1024>, y: Vj<1024>| sum_j(exp(-sqdist(x, y)))");
}

#[test]
fn gradient_node_budget_limit() {
    // Found by the fuzzer: 1092 stages of 138 000 IR nodes, 2 s.
    expect_err(
        "grad_order = 4, |x: Vi<3>, y: Vj<3>, b: Pm<3>, g: Vi<3>| sumsoftmaxweight_j(norm2((y * y[2]) - max(g, cat(b, sqdist(b, b))[..3])), normalize((y * y[2])))",
        "formula too large with its gradients",
    );
    expect_err(
        "grad_order = 4, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
        "formula too large with its gradients",
    );
}

#[test]
fn fuzz_found_slow_families_are_bounded() {
    // Found by the fuzzer (over 2 s on a loaded machine).
    for src in [
        "grad_order = 3, |x: Vi<1>, y: Vj< 255>| sum_j(exp(x * y))",
        "grad_order = 4, |x: Vi<4>, y: Vj<4>, b: Vi<4>| (weightedsqdist(norm2(x - y), cat(x, 11.0)[..4], matvecmult(tensorprod(y, b), y))).max(0)",
        "|x: Vi< 1024>, y: Vj<1>| sum_j(pow(x, 3) + powf(x, y) + atan2(x, y) + round(x, 2) + sinxdivx(x) + xlogx(y))",
    ] {
        let start = Instant::now();
        let _ = run(src);
        assert!(start.elapsed() < Duration::from_secs(8), "{src}");
    }
}

#[test]
fn forward_budget_limit() {
    let lets: String = (1..300)
        .map(|k| format!("let t{k} = t{} + exp(x * y + {k}.0);", k - 1))
        .collect();
    expect_err(
        &format!(
            "grad_order = 0, |x: Vi<1024>, y: Vj<1024>| {{ let t0 = x * y; {lets} sum_j(t299) }}"
        ),
        "formula too large",
    );
}

#[test]
fn ir_size_limit() {
    // Each `let` doubles the width of `grad`'s input: stopped by the limits,
    // not by the memory.
    let lets: String = (1..40)
        .map(|k| format!("let a{k} = grad(exp(a{}) * y, x, a{});", k - 1, k - 1))
        .collect();
    let src = format!("|x: Vi<512>, y: Vj<512>| {{ let a0 = x * y; {lets} sum_j(a39) }}");
    expect_err(&src, "too large");
}

#[test]
fn token_limit() {
    let args = vec!["x"; MAX_TOKENS / 2 + 10].join(", ");
    expect_err(
        &format!("|x: Vi<1>, y: Vj<1>| sum_j(cat({args}) * y)"),
        "formula too long",
    );
}

// ---- Nesting limits ----

#[test]
fn deep_calls_and_parentheses() {
    for n in [4000, MAX_NESTING + 1] {
        let calls = format!(
            "|x: Vi<1>, y: Vj<1>| sum_j({}x{} * y)",
            "exp(".repeat(n),
            ")".repeat(n)
        );
        expect_err(&calls, "nested too deeply");
        let parens = format!(
            "|x: Vi<1>, y: Vj<1>| sum_j({}x{} * y)",
            "(".repeat(n),
            ")".repeat(n)
        );
        expect_err(&parens, "nested too deeply");
    }
    let negs = format!("|x: Vi<1>, y: Vj<1>| sum_j({}x * y)", "-".repeat(4000));
    expect_err(&negs, "nested too deeply");
    let methods = format!("|x: Vi<1>, y: Vj<1>| sum_j(x{} * y)", ".exp()".repeat(4000));
    expect_err(&methods, "nested too deeply");
    let sum = format!("|x: Vi<1>, y: Vj<1>| sum_j(x{} * y)", " + x".repeat(4000));
    expect_err(&sum, "nested too deeply");
    let blocks = format!(
        "|x: Vi<1>, y: Vj<1>| {}sum_j(x * y){}",
        "{".repeat(4000),
        "}".repeat(4000)
    );
    expect_err(&blocks, "nested too deeply");
    let types = format!(
        "|x: Vi<{}1{}>, y: Vj<1>| sum_j(x * y)",
        "Vi<".repeat(4000),
        ">".repeat(4000)
    );
    expect_err(&types, "nested too deeply");
}

#[test]
fn nesting_just_under_the_limit_fits_a_2_mib_stack() {
    // The parameters and `sum_j(..)`, `* y` take a few levels.
    let n = MAX_NESTING - 10;
    let calls = format!(
        "|x: Vi<1>, y: Vj<1>| sum_j({}x{} * y)",
        "exp(".repeat(n),
        ")".repeat(n)
    );
    expect_ok(&calls);
    let parens = format!(
        "|x: Vi<1>, y: Vj<1>| sum_j({}x{} * y)",
        "(".repeat(n),
        ")".repeat(n)
    );
    expect_ok(&parens);
    let sum = format!("|x: Vi<1>, y: Vj<1>| sum_j(x{} * y)", " + x".repeat(n - 1));
    expect_ok(&sum);
    let grads = format!(
        "|x: Vi<1>, y: Vj<1>| sum_j({}x * y{})",
        "grad(".repeat(n / 2 - 2),
        ", x, 1.0)".repeat(n / 2 - 2)
    );
    let _ = run(&grads);
}

// ---- Compile time of the largest accepted formulas ----

#[test]
fn largest_accepted_formulas_compile_in_bounded_time() {
    for src in [
        // The most scalar operations under the budget.
        format!("|x: Vi<{MAX_DIM}>, y: Vj<{MAX_DIM}>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)"),
        // Many kernels.
        "grad_order = 4, |x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)".to_string(),
        format!("|x: Vi<{MAX_K}>, y: Vj<{MAX_K}>| kmin_argkmin_j(sqdist(x, y), {MAX_K})"),
    ] {
        let start = Instant::now();
        expect_ok(&src);
        let t = start.elapsed();
        assert!(t < Duration::from_secs(8), "{t:?}: {src}");
    }
}
