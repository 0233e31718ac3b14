//! Property-based fuzzing of the formula compiler: every input must give a
//! value (a kernel family or a spanned error), never a panic, a stack
//! overflow or a hang.
//!
//! Two generators feed `keops_compiler::compile` and, on success,
//! `keops_compiler::emit_cpu::expand` (and the run-time parser of strings,
//! `keops_ir::text::parse`, which must read what the macro's parser reads
//! the same way):
//!
//! - `grammar`: random formulas from a grammar over the whole language
//!   (variables, raw identifiers, every element-wise function, vector
//!   operations, reductions, `grad`, `let` blocks, options such as
//!   `grad_order`, big and odd literals, deep nesting);
//! - `mutations`: valid formulas with tokens deleted, duplicated, swapped,
//!   inserted, and numbers replaced by extreme values.
//!
//! Each case runs on its own thread (2 MiB of stack, like a test thread),
//! under `catch_unwind`, and fails if it takes more than
//! `KEOPS_FUZZ_CASE_SECS` seconds (default 10: a hang detector that a
//! loaded 2-core CI machine does not trip; the largest accepted formulas take
//! up to about 2 s in the dev profile, so a long local run can use
//! `KEOPS_FUZZ_CASE_SECS=3` in release to find slow cases). Strings that do
//! not lex are skipped.
//!
//! CI runs a few hundred cases per generator with a fixed seed. Longer runs:
//!
//! ```text
//! KEOPS_FUZZ_CASES=200000 cargo test -p keops-compiler --release --test fuzz
//! KEOPS_FUZZ_SEED=7 KEOPS_FUZZ_CASES=20000 cargo test -p keops-compiler --release --test fuzz
//! ```
//!
//! (`KEOPS_FUZZ_SEED` picks another deterministic sequence;
//! `KEOPS_FUZZ_VERBOSE=1` prints every case before it runs, so that the
//! formula behind an abort can be found.) Every failure found is kept as a
//! named test in `tests/robustness.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use keops_compiler::ops::ELEMENTWISE;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

// ----------------------------------------------------------------------
// Running one case
// ----------------------------------------------------------------------

#[derive(Debug)]
enum Outcome {
    /// The string does not lex.
    NoLex,
    /// Compiled and expanded.
    Ok,
    /// A compile error (its first message, printed with `KEOPS_FUZZ_VERBOSE`).
    Err(#[allow(dead_code)] String),
}

fn case_limit() -> Duration {
    let secs = std::env::var("KEOPS_FUZZ_CASE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

/// One case at a time (the tests run in parallel): the time limit is about
/// the case, not the machine's load.
static CASE_LOCK: Mutex<()> = Mutex::new(());

/// Set when a case overran its time limit: its thread may still be
/// running, so later cases (proptest's shrinking) are skipped rather than
/// timed on a loaded machine; the failure reports the original formula.
static TIMED_OUT: AtomicBool = AtomicBool::new(false);

/// Compiles and expands `src` on a fresh thread; `Err` on a panic or when
/// it takes too long.
fn run_case(src: &str) -> Result<Outcome, String> {
    let _guard = CASE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if TIMED_OUT.load(Ordering::SeqCst) {
        return Ok(Outcome::NoLex);
    }
    if std::env::var_os("KEOPS_FUZZ_VERBOSE").is_some() {
        eprintln!("case: {src}");
    }
    let limit = case_limit();
    let (tx, rx) = mpsc::channel();
    let owned = src.to_string();
    let start = Instant::now();
    std::thread::Builder::new()
        .name("fuzz-case".into())
        .stack_size(2 << 20)
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| {
                // The run-time parser of strings: no panic, and where both
                // parsers accept, the same definition.
                let text = keops_ir::text::parse(&owned);
                if let (Ok(t), Ok(m)) = (&text, keops_compiler::parse::parse_kernel_str(&owned)) {
                    assert_eq!(
                        keops_ir::wire::write(&t.def),
                        keops_ir::wire::write(&m),
                        "the run-time parser reads `{owned}` differently"
                    );
                }
                let Ok(tokens) = owned.parse::<proc_macro2::TokenStream>() else {
                    return Outcome::NoLex;
                };
                match keops_compiler::compile(tokens) {
                    Ok(c) => {
                        let out = keops_compiler::emit_cpu::expand(
                            &quote::quote!(::keops),
                            &c.family,
                            &[],
                            &owned,
                        );
                        assert!(!out.is_empty());
                        Outcome::Ok
                    }
                    Err(f) => {
                        // The error must render (spans and messages), with
                        // the stub kernel the macro emits after it.
                        let _ = f.error.to_compile_error();
                        let _ = keops_compiler::emit_cpu::fallback(
                            &quote::quote!(::keops),
                            &f.error,
                            f.def.as_deref(),
                        );
                        Outcome::Err(f.error.to_string())
                    }
                }
            }));
            let _ = tx.send(r.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".into())
            }));
        })
        .expect("spawn");
    match rx.recv_timeout(limit) {
        Ok(Ok(o)) => {
            let t = start.elapsed();
            if std::env::var_os("KEOPS_FUZZ_VERBOSE").is_some() {
                eprintln!("  -> {o:?} in {t:?}");
            }
            if t > limit {
                TIMED_OUT.store(true, Ordering::SeqCst);
                Err(format!("took {t:?} (limit {limit:?}): {src}"))
            } else {
                Ok(o)
            }
        }
        Ok(Err(msg)) => Err(format!("panicked: {msg}\nformula: {src}")),
        Err(_) => {
            TIMED_OUT.store(true, Ordering::SeqCst);
            Err(format!(
                "did not finish within {limit:?} (the thread is left running): {src}"
            ))
        }
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("KEOPS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32, salt: u64) -> TestRunner {
    let seed: u64 = std::env::var("KEOPS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&salt.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `cases` cases of `strategy`; returns (ok, err, nolex) counts.
fn fuzz(strategy: BoxedStrategy<String>, cases: u32, salt: u64) -> [usize; 3] {
    let counts = std::cell::Cell::new([0usize; 3]);
    let mut r = runner(cases, salt);
    let start = Instant::now();
    let result = r.run(&strategy, |src| {
        let o = run_case(&src).map_err(TestCaseError::fail)?;
        let mut c = counts.get();
        match o {
            Outcome::Ok => c[0] += 1,
            Outcome::Err(_) => c[1] += 1,
            Outcome::NoLex => c[2] += 1,
        }
        counts.set(c);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let c = counts.get();
    eprintln!(
        "{cases} cases in {:?}: {} compiled, {} errors, {} did not lex",
        start.elapsed(),
        c[0],
        c[1],
        c[2]
    );
    c
}

// ----------------------------------------------------------------------
// The grammar
// ----------------------------------------------------------------------

/// Function spellings of the element-wise operations (`keops_compiler::ops`)
/// called with `n` arguments (`mod` as the raw identifier `r#mod`); with
/// `plain`, only those the front end lowers from the table (not `round`,
/// `pow`, which take literals).
fn elementwise(n: usize, plain: bool) -> Vec<&'static str> {
    ELEMENTWISE
        .iter()
        .filter(|d| (d.required..=d.args.len()).contains(&n) && !(plain && d.hand_lowered))
        .flat_map(|d| d.spellings())
        .map(|s| if s == "mod" { "r#mod" } else { s })
        .collect()
}

/// Functions of one argument: element-wise ones and vector ones.
static UNARY: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let mut v = elementwise(1, false);
    v.extend([
        "sqnorm2",
        "norm2",
        "norm",
        "normalize",
        "sum",
        "max",
        "min",
        "argmax",
        "argmin",
    ]);
    v
});

/// Element-wise functions of one argument.
static UNARY_ELEMENTWISE: LazyLock<Vec<&str>> = LazyLock::new(|| elementwise(1, true));

static BINARY_FN: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let mut v = elementwise(2, false);
    v.extend([
        "sqdist",
        "weightedsqnorm",
        "concat",
        "cat",
        "matvecmult",
        "vecmatmult",
        "tensorprod",
        "dot",
    ]);
    v
});

static TERNARY_FN: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let mut v = elementwise(3, false);
    v.extend(["weightedsqdist", "cat"]);
    v
});

/// Infix operators: the element-wise ones and the scalar product's `|`
/// (written `(a | b)` by the grammar).
static OPS: LazyLock<Vec<&str>> =
    LazyLock::new(|| ELEMENTWISE.iter().filter_map(|d| d.infix).collect());

/// Integers for indices, dimensions, K, exponents: small ones and extreme ones.
fn int_lit() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (0u32..6).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec![
            "0", "1", "7", "16", "255", "256", "1023", "1024", "1025", "4096", "65535", "65536",
            "2147483647", "2147483648", "4294967295", "4294967296", "4294967297",
            "9223372036854775807", "9223372036854775808", "18446744073709551615",
            "340282366920938463463374607431768211456", "-1", "-2147483648",
            "-9223372036854775807", "1_000", "0x10", "0b11", "7u32", "3i64", "1usize", "2f64",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

fn float_lit() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (-50i32..50).prop_map(|v| format!("{:.1}", v as f64 / 4.0)),
        1 => prop::sample::select(vec![
            "0.0", "-0.0", "1.0", "0.5", "1e308", "1e309", "1e400", "-1e308", "1e-320",
            "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "3.14159",
            "1.0f32", "2.5f64", "1e10", "0.1e-3",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

/// Variable names: plain, raw identifiers (keywords and not), and a few
/// undeclared or odd ones.
const NAMES: &[&str] = &[
    "x", "y", "b", "g", "r#x", "r#type", "r#fn", "r#match", "r#mod", "é", "e", "__a0", "grad_x",
];

type Names = Vec<&'static str>;

fn var_name(names: &Names) -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(names.clone()).prop_map(str::to_string),
        1 => prop::sample::select(vec!["z", "sum_j", "exp", "self", "_", "r#self"]).prop_map(str::to_string),
    ]
    .boxed()
}

fn leaf(names: &Names) -> BoxedStrategy<String> {
    prop_oneof![
        6 => var_name(names),
        2 => float_lit(),
        1 => int_lit(),
    ]
    .boxed()
}

fn expr(names: &Names) -> BoxedStrategy<String> {
    let names = names.clone();
    leaf(&names)
        .prop_recursive(5, 48, 4, move |inner| {
            let e = inner.clone();
            prop_oneof![
                // Unary functions, as functions and methods.
                4 => (prop::sample::select(UNARY.clone()), e.clone(), any::<bool>()).prop_map(
                    |(f, a, method)| if method { format!("({a}).{f}()") } else { format!("{f}({a})") }
                ),
                // Infix operators, unary minus, scalar product.
                4 => (prop::sample::select(OPS.clone()), e.clone(), e.clone())
                    .prop_map(|(op, a, b)| format!("({a} {op} {b})")),
                1 => e.clone().prop_map(|a| format!("-{a}")),
                1 => (e.clone(), e.clone()).prop_map(|(a, b)| format!("({a} | {b})")),
                // Binary and ternary functions.
                3 => (prop::sample::select(BINARY_FN.clone()), e.clone(), e.clone())
                    .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
                2 => (prop::sample::select(TERNARY_FN.clone()), e.clone(), e.clone(), e.clone())
                    .prop_map(|(f, a, b, c)| format!("{f}({a}, {b}, {c})")),
                // Functions with integer arguments.
                3 => (
                    prop::sample::select(vec![
                        "pow", "elem", "one_hot", "round", "clampint", "extract", "sum", "max",
                        "argmin",
                    ]),
                    e.clone(),
                    int_lit(),
                    int_lit(),
                )
                    .prop_map(|(f, a, k, d)| match f {
                        "clampint" | "extract" => format!("{f}({a}, {k}, {d})"),
                        "sum" | "max" | "argmin" => format!("({a}).{f}({k})"),
                        _ => format!("{f}({a}, {k})"),
                    }),
                // Indexing and slicing.
                2 => (e.clone(), int_lit(), int_lit(), 0..5u8).prop_map(|(a, i, j, form)| {
                    match form {
                        0 => format!("({a})[{i}]"),
                        1 => format!("({a})[{i}..{j}]"),
                        2 => format!("({a})[..={j}]"),
                        3 => format!("({a})[{i}..]"),
                        _ => format!("({a})[-{i}..-{j}]"),
                    }
                }),
                // Tensor dot with shapes.
                1 => (e.clone(), e.clone(), prop::collection::vec(int_lit(), 1..3),
                      prop::collection::vec(int_lit(), 1..3), int_lit(), int_lit())
                    .prop_map(|(a, b, sa, sb, ca, cb)| format!(
                        "keops_tensordot({a}, {b}, [{}], [{}], [{ca}], [{cb}])",
                        sa.join(", "), sb.join(", ")
                    )),
                // Symbolic gradients.
                1 => (e.clone(), var_name(&names), e.clone())
                    .prop_map(|(f, v, c)| format!("grad({f}, {v}, {c})")),
                // Keyword arguments.
                1 => (e.clone(), int_lit()).prop_map(|(a, d)| format!("one_hot(x = {a}, D = {d})")),
            ]
        })
        .boxed()
}

/// Deeply nested expressions (around and beyond `MAX_NESTING`).
fn deep(names: &Names) -> BoxedStrategy<String> {
    (
        prop::sample::select(vec![
            1usize, 10, 100, 120, 127, 128, 200, 250, 255, 256, 257, 300, 1000, 4000,
        ]),
        0..7u8,
        var_name(names),
    )
        .prop_map(|(n, kind, v)| match kind {
            0 => format!("{}{v}{}", "exp(".repeat(n), ")".repeat(n)),
            1 => format!("{}{v}{}", "(".repeat(n), ")".repeat(n)),
            2 => format!("{}{v}", "-".repeat(n)),
            3 => format!("{v}{}", ".exp()".repeat(n)),
            4 => format!("{v}{}", " + 1.0".repeat(n)),
            5 => format!("{}{v}{}", "grad(".repeat(n), ", x, 1.0)".repeat(n)),
            _ => format!("{}{v}{}", "{".repeat(n), "}".repeat(n)),
        })
        .boxed()
}

fn reduction(body: BoxedStrategy<String>, names: &Names) -> BoxedStrategy<String> {
    (
        body,
        expr(names),
        int_lit(),
        prop::sample::select(vec![
            "sum_j",
            "sum_i",
            "logsumexp_j",
            "logsumexp_i",
            "min_j",
            "argmin_j",
            "min_argmin_j",
            "max_i",
            "argmax_j",
            "max_argmax_j",
            ".sum(1)",
            ".sum(0)",
            ".logsumexp(1)",
            ".min(0)",
            ".argkmin(K, 1)",
            "kmin_j",
            "argkmin_j",
            "kmin_argkmin_i",
            "sumsoftmaxweight_j",
            "logsumexp_weight_j",
            "none",
        ]),
    )
        .prop_map(|(f, w, k, red)| match red {
            "kmin_j" | "argkmin_j" | "kmin_argkmin_i" => format!("{red}({f}, {k})"),
            "sumsoftmaxweight_j" | "logsumexp_weight_j" => format!("{red}({f}, {w})"),
            ".argkmin(K, 1)" => format!("({f}).argkmin({k}, 1)"),
            "none" => f,
            r if r.starts_with('.') => format!("({f}){r}"),
            r => format!("{r}({f})"),
        })
        .boxed()
}

fn dim_lit() -> BoxedStrategy<String> {
    prop_oneof![
        12 => prop::sample::select(vec!["1", "2", "3", "4", "6", "8", "16"]).prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "0", "64", "1024", "1025", "4096", "16384", "65536", "65537", "4294967296",
            "18446744073709551616", "{ 3 }", "N", "3.0", "-1",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

fn options() -> BoxedStrategy<String> {
    prop_oneof![
        8 => Just(String::new()),
        6 => (0u32..3).prop_map(|o| format!("grad_order = {o}, ")),
        1 => (3u32..5).prop_map(|o| format!("grad_order = {o}, ")),
        1 => int_lit().prop_map(|o| format!("grad_order = {o}, ")),
        1 => Just("debug = false, ".to_string()),
        1 => Just("grad_order = 1.5, ".to_string()),
        1 => Just("fast = true, ".to_string()),
    ]
    .boxed()
}

fn category() -> BoxedStrategy<&'static str> {
    prop_oneof![
        10 => prop::sample::select(vec!["Vi", "Vj", "Pm"]),
        1 => Just("Vk"),
    ]
    .boxed()
}

/// Well-typed formulas: every variable has dimension `D`; each recursion
/// level builds a scalar (dimension 1) and a vector (dimension `D`)
/// expression from the previous level's.
fn typed() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec![1u32, 2, 3, 4, 5, 8]),
        0usize..3,
        0..NAMES.len(),
    )
        .prop_flat_map(|(d, extra, offset)| {
            let offset = if offset < NAMES.len() * 2 / 3 {
                0
            } else {
                offset
            };
            let n = 2 + extra;
            let names: Names = (0..n).map(|k| NAMES[(offset + k) % NAMES.len()]).collect();
            let cats =
                prop::collection::vec(prop::sample::select(vec!["Vi", "Vj", "Pm"]), extra..=extra);
            let dk = d as usize;
            let nm = names.clone();
            let leaf = (
                prop::sample::select(nm.clone()),
                prop::sample::select(nm.clone()),
                0..dk,
                float_lit(),
                0..3u8,
            )
                .prop_map(|(v, w, k, c, form)| {
                    let s = match form {
                        0 => format!("{v}[{k}]"),
                        1 => c,
                        _ => format!("sqdist({v}, {w})"),
                    };
                    (s, v.to_string())
                });
            let nm2 = names.clone();
            let tree = leaf.prop_recursive(4, 32, 3, move |inner| {
                let nm = nm2.clone();
                (
                    inner.clone(),
                    inner,
                    prop::sample::select(UNARY_ELEMENTWISE.clone()),
                    prop::sample::select(OPS.clone()),
                    0..12u8,
                    0..12u8,
                    prop::sample::select(nm),
                    1u32..4,
                )
                    .prop_map(
                        move |((s1, v1), (s2, v2), f, op, fs, fv, var, small)| {
                            let s = match fs {
                                0 => format!("{f}({s1})"),
                                1 => format!("({s1} {op} {s2})"),
                                2 => format!("({v1} | {v2})"),
                                3 => format!("sum({v1})"),
                                4 => format!("norm2({v1} - {v2})"),
                                5 => format!("({v1}).max()"),
                                6 => format!("argmin({v2})"),
                                7 => format!("pow({s1}, {small})"),
                                8 => format!("clamp({s1}, -1.0, {s2})"),
                                9 => format!("weightedsqdist({s1}, {v1}, {v2})"),
                                10 => format!("ifelse({s1}, {s2}, 0.5)"),
                                _ => format!("-({s1})"),
                            };
                            let v = match fv {
                                0 => format!("{f}({v1})"),
                                1 => format!("({v1} {op} {v2})"),
                                2 => format!("({v1} * {s1})"),
                                3 => format!("normalize({v1})"),
                                4 => format!("one_hot({s1}, {d})"),
                                5 => format!("grad({s1}, {var}, {s2})"),
                                6 => format!("({v1}).{f}()"),
                                7 => format!("max({v1}, {v2})"),
                                8 => format!("modulo({v1}, {s2}, 0.5)"),
                                9 => format!("cat({v1}, {s1})[..{d}]"),
                                10 => format!("matvecmult(tensorprod({v1}, {v2}), {v1})"),
                                _ => format!("-{v1}"),
                            };
                            (s, v)
                        },
                    )
            });
            (
                Just((d, names)),
                cats,
                tree,
                options(),
                0..14u8,
                1u32..5,
                0..3u8,
            )
        })
        .prop_map(|((d, names), cats, (s, v), opts, red, k, lets)| {
            let d_of = |k: usize| -> String {
                let cat = match k {
                    0 => "Vi",
                    1 => "Vj",
                    _ => cats[k - 2],
                };
                format!("{}: {cat}<{d}>", names[k])
            };
            let decl: Vec<String> = (0..names.len()).map(d_of).collect();
            let body = match red {
                0 => format!("sum_j({v})"),
                1 => format!("sum_i({s})"),
                2 => format!("logsumexp_j({s})"),
                3 => format!("logsumexp_j({s}, {v})"),
                4 => format!("sumsoftmaxweight_j({s}, {v})"),
                5 => format!("min_argmin_j({v})"),
                6 => format!("argmax_i({s})"),
                7 => format!("kmin_j({s}, {k})"),
                8 => format!("argkmin_j({s}, {k})"),
                9 => format!("kmin_argkmin_i({v}, {k})"),
                10 => format!("({v}).sum(1)"),
                11 => format!("({s}).max(0)"),
                12 => format!("max_j({s})"),
                _ => format!("sum_j({s} * {v})"),
            };
            let body = if lets > 0 {
                format!(
                    "{{ let t = {s}; let u = {v} * t; {} }}",
                    body.replace("sum_j(", "sum_j(u + ")
                )
            } else {
                body
            };
            format!("{opts}|{}| {body}", decl.join(", "))
        })
        .boxed()
}

fn grammar() -> BoxedStrategy<String> {
    (1usize..6, 0..NAMES.len())
        .prop_flat_map(|(n, offset)| {
            // Mostly plain names, sometimes raw identifiers and odd ones.
            let offset = if offset < NAMES.len() / 2 { 0 } else { offset };
            let names: Names = (0..n).map(|k| NAMES[(offset + k) % NAMES.len()]).collect();
            let params = prop::collection::vec((category(), dim_lit()), n..=n);
            let body = prop_oneof![
                10 => expr(&names),
                1 => deep(&names),
            ]
            .boxed();
            let options = options();
            let lets = prop::collection::vec(expr(&names), 0..3);
            (
                Just(names.clone()),
                params,
                reduction(body, &names),
                options,
                lets,
            )
        })
        .prop_map(|(names, params, body, options, lets)| {
            let decl: Vec<String> = params
                .iter()
                .zip(&names)
                .map(|((cat, d), name)| format!("{name}: {cat}<{d}>"))
                .collect();
            let body = if lets.is_empty() {
                body
            } else {
                let ls: Vec<String> = lets
                    .iter()
                    .enumerate()
                    .map(|(k, e)| format!("let l{k} = {e};"))
                    .collect();
                format!("{{ {} {body} }}", ls.join(" "))
            };
            format!("{options}|{}| {body}", decl.join(", "))
        })
        .boxed()
}

// ----------------------------------------------------------------------
// Mutations of valid formulas
// ----------------------------------------------------------------------

const CORPUS: &[&str] = &[
    "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    "|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10)",
    "grad_order = 3, |x: Vi<1>, y: Vj<1>| sum_j(exp(x * y))",
    "|x: Vi<3>, y: Vj<3>| { let d = sqdist(x, y); sum_j(exp(-d) / (1.0 + d)) }",
    "|x: Vi<2>, y: Vj<2>| sum_j((x < y) + 2 * (x <= y) + 4 * (x > y) + 8 * (x >= y) + 16 * (x == x) + 32 * (x != y))",
    "|x: Vi<3>, y: Vj<3>| sum_j(max(x, y) + min(x, y) + x.max(y * 0.5) + y.min(0.0))",
    "|x: Vi<3>, y: Vj<3>| sum_j((x | y) * y + sqnorm2(x - y) + norm2(x + y) + normalize(x - y))",
    "|x: Vi<2>, y: Vj<2>, s: Pm<4>, t: Vj<2>| { sum_j(weightedsqnorm(s, x - y) + weightedsqdist(t, x, y)) }",
    "|x: Vi<3>, y: Vj<2>| sum_j(concat(x[1..3], y) * cat(y, x[0..2]) + one_hot(2.0 * (x[0] + 1.0), 4) + elem(x, 2) * y.elem(0))",
    "|a: Vi<6>, v: Vj<3>, w: Vj<2>| sum_j(matvecmult(a, v) * tensorprod(w, v[0]) + keops_tensordot(a, v, [2, 3], [3], [1], [0]))",
    "|x: Vi<4>, y: Vj<4>| sum_j(max(x - y) + (x * y).min() + argmax(x - y) + (x + y).argmin() + sum(x * y))",
    "|x: Vi<1>, y: Vj<1>| sumsoftmaxweight_j(x * y, y)",
    "|x: Vi<1>, y: Vj<1>, w: Vj<2>| logsumexp_j(x * y, w)",
    "|x: Vi<3>, y: Vj<3>| min_argmin_j(sqdist(x, y))",
    "|x: Vi<3>, y: Vj<3>| (x - y).sqnorm2().kmin_argkmin(5, axis = 1)",
    "|x: Vi<2>, y: Vj<2>, p: Pm<1>| sum_j(grad(exp(-sqdist(x, y)), x, p))",
    "|x: Vi<1>, y: Vj<1>| sum_j(clamp(x, -1.0, 1.0) * ifelse(y, x, 2.0) + modulo(x, 3.0, 0.5) + x % 2.0 + clampint(y, 0, 3))",
    "|x: Vi<1>, y: Vj<1>| sum_j(pow(x, 3) + powf(x, y) + atan2(x, y) + round(x, 2) + sinxdivx(x) + xlogx(y))",
    "|r#type: Vi<2>, r#fn: Vj<2>| sum_j(sqdist(r#type, r#fn))",
    "|u: Vi<16>, v: Vj<16>| (u[..=9] - v[2..12]).sqnorm2().sum(1)",
    "grad_order = 2, |x: Vi<1>, y: Vj<1>| sum_j(erf(x * y) * one_hot(x, 8))",
];

const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "255",
    "256",
    "1023",
    "1024",
    "1025",
    "65535",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "4294967297",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "340282366920938463463374607431768211456",
    "0.0",
    "1e308",
    "1e400",
    "1e-320",
    "5e-324",
    "-1",
    "1.5",
];

const INSERTS: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", "|", "-", ".", "..", "..=", "x", "y", "sum_j", "grad",
    "exp", "=", ";", "let", "0", "1.0", "&", "!", "r#x", "::", "<", ">", "'a", "#",
];

/// A crude lexer: each token keeps the whitespace before it.
fn split_tokens(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let start = k;
        while k < chars.len() && chars[k].is_whitespace() {
            k += 1;
        }
        if k == chars.len() {
            break;
        }
        let c = chars[k];
        if c.is_alphabetic() || c == '_' {
            if c == 'r' && chars.get(k + 1) == Some(&'#') {
                k += 2;
            }
            while k < chars.len() && (chars[k].is_alphanumeric() || chars[k] == '_') {
                k += 1;
            }
        } else if c.is_ascii_digit() {
            while k < chars.len() && (chars[k].is_ascii_alphanumeric() || chars[k] == '_') {
                k += 1;
            }
            if k + 1 < chars.len() && chars[k] == '.' && chars[k + 1].is_ascii_digit() {
                k += 1;
                while k < chars.len() && (chars[k].is_ascii_alphanumeric() || chars[k] == '_') {
                    k += 1;
                }
            }
        } else {
            k += 1;
        }
        out.push(chars[start..k].iter().collect());
    }
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
    Number(usize, usize),
    Insert(usize, usize),
}

fn mutate(src: &str, muts: &[Mutation]) -> String {
    let mut toks = split_tokens(src);
    for m in muts {
        let n = toks.len();
        if n == 0 {
            break;
        }
        match *m {
            Mutation::Delete(i) => {
                toks.remove(i % n);
            }
            Mutation::Duplicate(i, times) => {
                let t = toks[i % n].clone();
                for _ in 0..times {
                    toks.insert(i % n, t.clone());
                }
            }
            Mutation::Swap(i, j) => toks.swap(i % n, j % n),
            Mutation::Number(i, v) => {
                // The i-th number token (cyclically), if any.
                let nums: Vec<usize> = (0..n)
                    .filter(|&k| {
                        toks[k]
                            .trim_start()
                            .starts_with(|c: char| c.is_ascii_digit())
                    })
                    .collect();
                if !nums.is_empty() {
                    let k = nums[i % nums.len()];
                    toks[k] = format!(" {}", EXTREME_NUMBERS[v % EXTREME_NUMBERS.len()]);
                }
            }
            Mutation::Insert(i, t) => {
                toks.insert(i % (n + 1), format!(" {}", INSERTS[t % INSERTS.len()]))
            }
        }
    }
    toks.concat()
}

fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), prop::sample::select(vec![1usize, 2, 3, 50, 300]))
            .prop_map(|(i, t)| Mutation::Duplicate(i, t)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(i, v)| Mutation::Number(i, v)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
    ]
    .boxed()
}

fn mutations() -> BoxedStrategy<String> {
    (
        prop::sample::select(CORPUS),
        prop::collection::vec(mutation(), 1..5),
    )
        .prop_map(|(src, muts)| mutate(src, &muts))
        .boxed()
}

// ----------------------------------------------------------------------
// Tests
// ----------------------------------------------------------------------

#[test]
fn corpus_compiles() {
    for src in CORPUS {
        match run_case(src) {
            Ok(Outcome::Ok) => {}
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
fn lexer_round_trips() {
    for src in CORPUS {
        assert_eq!(split_tokens(src).concat(), *src);
    }
}

#[test]
fn grammar_formulas_never_panic_or_hang() {
    fuzz(grammar(), cases(400), 1);
}

#[test]
fn typed_formulas_never_panic_or_hang() {
    let c = fuzz(typed(), cases(400), 3);
    // These are meant to reach the back end, not only the errors.
    assert!(
        c[0] * 4 > c[1],
        "too few generated formulas compiled: {c:?}"
    );
}

#[test]
fn mutated_formulas_never_panic_or_hang() {
    fuzz(mutations(), cases(600), 2);
}
