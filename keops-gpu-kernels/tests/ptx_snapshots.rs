//! Snapshots of the PTX that the `keops!` macro emits for a few formulas
//! (f32, the default math mode `fast_math`): the Gaussian kernel's forward
//! stage and its gradient stage with respect to `x`, a log-sum-exp and an
//! arg-K-min. A change to the lowering, the GPU rewrites (`kernel/opt.rs`),
//! the kernels or the device math shows up here as a diff a reviewer can
//! read; `ptxas_stages.rs` checks that such modules assemble, this file
//! shows what they are.
//!
//! Bless after an intended change:
//! `KEOPS_BLESS=1 cargo test -p keops-gpu-kernels --test ptx_snapshots`.

use keops_compiler::lower::lower;
use keops_compiler::stage::{Family, Step};
use keops_gpu_kernels::emit::math_opts;
use keops_gpu_kernels::kernel::emit_stage;
use keops_gpu_kernels::ptx::Prec;

const GAUSS: &str = "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";

/// The snapshots: file name, formula, derivation path of the program whose
/// (single) stage is emitted (`[]`: the forward kernel).
const CASES: &[(&str, &str, &[&str])] = &[
    ("gauss", GAUSS, &[]),
    ("gauss_grad_x", GAUSS, &["x"]),
    (
        "logsumexp",
        "|x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y))",
        &[],
    ),
    (
        "argkmin",
        "|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 4)",
        &[],
    ),
];

/// The f32 PTX module of the stage of the program at `path`, emitted as the
/// macro emits it (simplified family, the formula's math options).
fn render(src: &str, path: &[&str]) -> String {
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let stage =
        keops_compiler::front::build_stage(&def, true).unwrap_or_else(|e| panic!("{src}: {e}"));
    let fam = Family::new(stage, path.len() as u32);
    let prog = fam
        .program(path)
        .unwrap_or_else(|| panic!("{src}: no program at {path:?}"));
    let stages: Vec<u32> = prog
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Reduce { stage, .. } => Some(*stage),
            _ => None,
        })
        .collect();
    assert_eq!(
        stages.len(),
        1,
        "{src} at {path:?}: one stage expected, got {:?}",
        prog.steps
    );
    let st = &fam.stages[stages[0] as usize];
    let ptx = emit_stage(&lower(st), Prec::F32, math_opts(&def.options)).ptx;
    format!(
        "// formula: {src}\n// program: {path:?}, f32, fast_math = {}\n{ptx}",
        def.options.fast_math
    )
}

#[test]
fn emitted_ptx_matches_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    let bless = std::env::var_os("KEOPS_BLESS").is_some();
    let mut failed = Vec::new();
    for (name, src, path) in CASES {
        let got = render(src, path);
        let file = format!("{dir}/{name}.ptx");
        if bless {
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        let Ok(want) = std::fs::read_to_string(&file) else {
            eprintln!("--- {file}: no snapshot");
            failed.push(*name);
            continue;
        };
        if got != want {
            eprintln!("{file}:\n{}", diff(&want, &got));
            failed.push(*name);
        }
    }
    assert!(
        failed.is_empty(),
        "PTX snapshots differ: {failed:?} (KEOPS_BLESS=1 to accept)"
    );
}

/// At most this many lines of diff per snapshot.
const MAX_DIFF_LINES: usize = 200;

/// A unified line diff of the snapshot and the text now, with two lines of
/// context, cut after [`MAX_DIFF_LINES`] lines.
fn diff(want: &str, got: &str) -> String {
    let d = similar::TextDiff::from_lines(want, got)
        .unified_diff()
        .context_radius(2)
        .header("snapshot", "now")
        .to_string();
    let lines: Vec<&str> = d.lines().collect();
    let mut out = lines[..lines.len().min(MAX_DIFF_LINES)].join("\n");
    if lines.len() > MAX_DIFF_LINES {
        out.push_str(&format!(
            "\n... ({} more lines)",
            lines.len() - MAX_DIFF_LINES
        ));
    }
    out
}
