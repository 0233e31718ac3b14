//! `ptxas` checks of the emitted kernels:
//!
//! - every stage module (f32 and f64) that the `keops!` invocations of the
//!   workspace's test files emit (forward and gradient stages, as the macro
//!   would) assembles without warnings for sm_90 (or the architectures of
//!   `KEOPS_PTXAS_ARCHS`: CI runs it again with `sm_80`, see `sweep_archs`);
//!   registers and spills are printed;
//! - the small Gaussian kernel, and k-NN and Gaussian kernels in D = 64 and
//!   D = 256, do not spill (sm_80).
//!
//! Skipped, with a message, when ptxas is absent (see
//! `keops_gpu_kernels::ptxas` for how to install it).

use std::collections::BTreeMap;
use std::path::Path;

use keops_compiler::lower::lower;
use keops_compiler::stage::Family;
use keops_gpu_kernels::kernel::emit_stage;
use keops_gpu_kernels::ptx::Prec;
use keops_ptx_sim::ptxas::{self, AssembleReport};

/// The kernel families of a formula whose PTX the macro emits: the family
/// up to `grad_order` (2 unless written), or for a symbolic matrix (a
/// formula without reduction) the families of its GPU parts. For named
/// widths (`Vi<D>`, whose PTX the runtime builds at a call's widths), the
/// family at the first probe widths (named-width matrices have no PTX).
fn families(src: &str) -> Result<Vec<Family>, String> {
    let def = keops_compiler::parse::parse_kernel_str(src).map_err(|e| format!("{src}: {e}"))?;
    let tokens: proc_macro2::TokenStream = src.parse().map_err(|e| format!("{src}: {e}"))?;
    let c = keops_compiler::compile(tokens).map_err(|f| format!("{src}: {}", f.error))?;
    if c.data.is_some() {
        // Widths read from the data: the PTX is emitted at run time, at
        // the call's widths.
        return Ok(Vec::new());
    }
    if let Some(named) = c.named {
        return Ok(if named.matrices.is_empty() {
            vec![c.family]
        } else {
            Vec::new()
        });
    }
    if let Some(m) = c.matrix {
        return Ok(m
            .parts
            .into_iter()
            .filter(|(part, _)| part.needs_ptx())
            .map(|(_, fam)| fam)
            .collect());
    }
    let stage =
        keops_compiler::front::build_stage(&def, true).map_err(|e| format!("{src}: {e}"))?;
    Ok(vec![Family::new(stage, def.options.grad_order)])
}

/// The stage modules of a formula, in its math mode (`fast_math`, as the
/// macro emits them): (description, PTX).
fn modules(src: &str) -> Vec<(String, String)> {
    let fams = families(src).unwrap_or_else(|e| panic!("{e}"));
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap_or_else(|e| panic!("{e}"));
    let mo = keops_gpu_kernels::emit::math_opts(&def.options);
    let mut v = Vec::new();
    for (k, st) in fams.iter().flat_map(|f| &f.stages).enumerate() {
        let l = lower(st);
        for p in [Prec::F32, Prec::F64] {
            let what = format!("`{src}` stage {k} ({}) {}", st.red.name(), p.suffix());
            v.push((what, emit_stage(&l, p, mo).ptx));
        }
    }
    v
}

/// The text inside the parentheses that open at byte `open` (which must be `(`).
fn group(s: &str, open: usize) -> Option<&str> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[open + 1..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at top-level `sep` characters.
fn split_top(s: &str, seps: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 && c.is_ascii() && seps.contains(&(c as u8)) {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// The macro inputs of every `keops!` invocation and `check*!` test of the
/// workspace's integration tests, as `keops!` would receive them.
fn test_formulas() -> Vec<String> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (pat, kind) in [
            ("keops!(", 0),
            ("check!(", 1),
            ("check_gpu!(", 1),
            ("check_grad!(", 2),
            ("check_gpu_grad!(", 2),
        ] {
            let mut from = 0;
            while let Some(pos) = text[from..].find(pat) {
                let at = from + pos;
                from = at + pat.len();
                // Whole identifiers only (`check!(` inside `gpu_check!(` is not one).
                let prev = text[..at].chars().next_back();
                if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                    && !(kind == 0 && text[..at].ends_with("::"))
                {
                    continue;
                }
                let Some(inner) = group(&text, at + pat.len() - 1) else {
                    continue;
                };
                if inner.contains('$') {
                    continue; // inside a macro definition
                }
                let src = match kind {
                    0 => inner.trim().to_string(),
                    _ => {
                        let parts = split_top(inner, b";");
                        let head = split_top(&parts[0], b",");
                        let rest = head[1..].join(",");
                        let formula = rest.trim();
                        let formula =
                            if kind == 2 && formula.starts_with('(') && formula.ends_with(')') {
                                formula[1..formula.len() - 1].to_string()
                            } else {
                                formula.to_string()
                            };
                        // `check_gpu!(...; fast_math = false; ...)`.
                        let opts = parts[1..]
                            .iter()
                            .map(|p| p.trim())
                            .filter(|p| p.starts_with("fast_math"))
                            .map(|p| format!("{p}, "))
                            .collect::<String>();
                        format!(
                            "grad_order = {}, {opts}{formula}",
                            if kind == 2 { 1 } else { 0 }
                        )
                    }
                };
                if src.starts_with('|')
                    || src.starts_with("grad_order")
                    || src.starts_with("fast_math")
                {
                    out.push(src);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Assembles modules in parallel for each of `archs` (no warnings allowed);
/// returns the reports of `archs[0]` in input order.
fn assemble_many(bin: &Path, mods: &[(String, String)], archs: &[&str]) -> Vec<AssembleReport> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(16);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<BTreeMap<usize, AssembleReport>> = Default::default();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= mods.len() {
                    break;
                }
                let (what, ptx) = &mods[i];
                for (k, arch) in archs.iter().enumerate() {
                    let r = ptxas::assemble(bin, ptx, arch)
                        .unwrap_or_else(|e| panic!("{what} {arch}: {e}"));
                    assert!(!r.has_warnings(), "{what} {arch}: warnings\n{}", r.log);
                    if k == 0 {
                        results.lock().unwrap().insert(i, r);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap().into_values().collect()
}

fn ptxas_or_skip() -> Option<std::path::PathBuf> {
    ptxas::find_or_skip("ptxas checks of the emitted stages")
}

/// Stage modules larger than this are left out of
/// `every_test_formula_assembles`: the PTX back end scalarises vectors, so
/// the gradient stages of the D = 784 to 4096 kernels of
/// `tests/large_dim.rs` are several megabytes of straight-line code, which
/// `ptxas` takes minutes each to assemble. The simulator runs them.
const MAX_MODULE_BYTES: usize = 1 << 20;

/// The architectures of `every_test_formula_assembles`: `KEOPS_PTXAS_ARCHS`
/// (comma-separated; CI's second sweep sets `sm_80`), else sm_90 alone. Every
/// module declares `.target sm_80`, and ptxas checks each instruction
/// against that target whatever the `-arch`, so one architecture proves
/// that every module assembles; a second one adds its register report (the
/// no-spill tests below assemble for both).
fn sweep_archs() -> Vec<String> {
    std::env::var("KEOPS_PTXAS_ARCHS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map_or_else(
            || vec!["sm_90".to_string()],
            |v| v.split(',').map(|a| a.trim().to_string()).collect(),
        )
}

#[test]
fn every_test_formula_assembles() {
    let Some(bin) = ptxas_or_skip() else { return };
    let formulas = test_formulas();
    assert!(
        formulas.len() > 100,
        "found only {} formulas in tests/",
        formulas.len()
    );
    let mut seen = std::collections::HashSet::new();
    let mut mods = Vec::new();
    let mut large = 0;
    for f in &formulas {
        for (what, ptx) in modules(f) {
            if ptx.len() > MAX_MODULE_BYTES {
                large += 1;
                continue;
            }
            if seen.insert(ptx.clone()) {
                mods.push((what, ptx));
            }
        }
    }
    println!(
        "{large} stage modules over {MAX_MODULE_BYTES} bytes not assembled here (large D, run by the simulator in tests/large_dim.rs)"
    );
    let t = std::time::Instant::now();
    let archs = sweep_archs();
    let arch_refs: Vec<&str> = archs.iter().map(|a| a.as_str()).collect();
    let reports = assemble_many(&bin, &mods, &arch_refs);
    let (mut kernels, mut spilling) = (0, 0);
    // The report goes to stdout (shown with `--nocapture`) and to a file
    // that CI prints, so that CI does not assemble everything twice.
    let mut report = String::new();
    let mut line = |l: String| {
        println!("{l}");
        report.push_str(&l);
        report.push('\n');
    };
    for ((what, _), r) in mods.iter().zip(&reports) {
        let worst = r.kernels.iter().map(|k| k.registers).max().unwrap_or(0);
        let spills: u32 = r
            .kernels
            .iter()
            .map(|k| k.spill_stores + k.spill_loads)
            .sum();
        kernels += r.kernels.len();
        if spills > 0 {
            spilling += 1;
            line(format!("SPILLS {what}:\n{r}"));
        } else {
            line(format!("{what}: up to {worst} registers, no spills"));
        }
    }
    line(format!(
        "{} formulas, {} distinct stage modules, {kernels} kernels assembled for {} in {:?}; {spilling} modules spill ({} report)",
        formulas.len(),
        mods.len(),
        archs.join(" and "),
        t.elapsed(),
        archs[0]
    ));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ptxas_stages.txt");
    std::fs::write(&path, report).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Resources of the forward stage of `src` (f32 then f64, sm_80).
fn forward_reports(bin: &Path, src: &str) -> Vec<AssembleReport> {
    let mods: Vec<(String, String)> = modules(src).into_iter().take(2).collect();
    let r = assemble_many(bin, &mods, &["sm_80", "sm_90"]);
    for ((what, _), rep) in mods.iter().zip(&r) {
        println!("{what}:\n{rep}");
    }
    r
}

fn assert_no_spills(reps: &[AssembleReport]) {
    for r in reps {
        for k in &r.kernels {
            assert_eq!(
                (k.spill_stores, k.spill_loads, k.stack_frame),
                (0, 0, 0),
                "{r}"
            );
        }
    }
}

#[test]
fn gaussian_small_does_not_spill() {
    let Some(bin) = ptxas_or_skip() else { return };
    for opts in ["", "fast_math = false, "] {
        let reps = forward_reports(&bin, &format!("grad_order = 0, {opts}|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)"));
        assert_no_spills(&reps);
        for k in &reps[0].kernels {
            assert!(k.registers <= 64, "{}", reps[0]);
        }
    }
}

#[test]
fn large_dimensions_do_not_spill() {
    let Some(bin) = ptxas_or_skip() else { return };
    for src in [
        "grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(sqdist(x, y), 10)",
        "grad_order = 0, |x: Vi<256>, y: Vj<256>| argkmin_j(sqdist(x, y), 10)",
        "grad_order = 0, |x: Vi<64>, y: Vj<64>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
        "grad_order = 0, |x: Vi<256>, y: Vj<256>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)",
        "grad_order = 0, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y))",
    ] {
        assert_no_spills(&forward_reports(&bin, src));
    }
}

#[test]
fn gradient_stages_do_not_spill() {
    let Some(bin) = ptxas_or_skip() else { return };
    let src =
        "grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| min_j(g * sqdist(x, y) + b)";
    let mods = modules(src);
    let reps = assemble_many(&bin, &mods, &["sm_80", "sm_90"]);
    for ((what, _), r) in mods.iter().zip(&reps) {
        println!("{what}:\n{r}");
    }
    assert_no_spills(&reps);
}

#[test]
fn formula_extraction_finds_the_test_formulas() {
    let f = test_formulas();
    assert!(
        f.iter()
            .any(|s| s.contains("sum_j(exp(-g * sqdist(x, y)) * b)")),
        "{f:?}"
    );
    assert!(
        f.iter().all(|s| families(s).is_ok()),
        "{:?}",
        f.iter()
            .filter(|s| families(s).is_err())
            .collect::<Vec<_>>()
    );
}
