//! Writes the PTX module of every stage of a set of kernels to a folder,
//! for instruction counting (`benches/sass_count.py`, issue 13).
//!
//! ```text
//! cargo run -p keops-gpu-kernels --example dump_ptx -- [--out DIR] [--f64] [--accurate | --fast] [KERNEL]...
//! ```
//!
//! With no `KERNEL` argument the built-in set (the kernels of the GPU
//! instruction-count table in `benches/RESULTS.md`) is written. A `KERNEL`
//! argument is `NAME=SOURCE` (the text the `keops!` macro takes, without the
//! options) or `NAME@PATH=SOURCE` for a gradient program, `PATH` being the
//! derivation path with `.` between names (`grad@x=...` is `k.grad_x()`).
//!
//! Output (default folder `target/ptx-dump`): `NAME.sK.ptx` for each stage
//! `K` the program runs (f32, or f64 with `--f64`), and `manifest.tsv` with
//! one line per module: kernel name, file, stage number, reduction, the
//! entry that holds the hot loop (`keops_reduce_block` for sums, the
//! runtime's default scheme; `keops_reduce` otherwise), the pairs one
//! iteration of the PTX pair loop handles (the `unroll=` of the module's
//! metadata line; any further unrolling seen in the machine code is
//! `ptxas`'s), pykeops
//! 2.3's instructions per pair in f32 (`-` when unknown or with `--f64`),
//! the derivation path (`-` for the forward kernel) and the source.
//!
//! Kernels are emitted with the `keops!` default, `fast_math = true` (the
//! hardware's approximate exponential, hoisted invariant factors);
//! `--accurate` emits every kernel with `fast_math = false` (the accurate
//! device math), `--fast` with `fast_math = true` whatever the source says
//! (a `KERNEL` source may also carry the option, `NAME=fast_math = false,
//! |x: ...| ...`).

use std::fmt::Write as _;
use std::path::PathBuf;

use keops_abi::{GpuEntry, SumScheme};
use keops_compiler::front::build_stage;
use keops_compiler::parse::parse_kernel_str;
use keops_compiler::stage::{Family, Red, Step};
use keops_gpu_kernels::emit_family;

/// One kernel of the set.
struct Kernel {
    name: String,
    path: Vec<String>,
    source: String,
    /// pykeops 2.3's hot-loop instructions per pair (sm_90), when measured.
    pykeops: Option<f64>,
}

/// The built-in set: the kernels of issue 13's table, with pykeops 2.3's
/// counts measured on the same formulas.
fn builtin() -> Vec<Kernel> {
    let k = |name: &str, path: &[&str], source: &str, pykeops: f64| Kernel {
        name: name.into(),
        path: path.iter().map(|s| s.to_string()).collect(),
        source: source.into(),
        pykeops: Some(pykeops),
    };
    vec![
        k(
            "gauss",
            &[],
            "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
            13.0,
        ),
        k(
            "gauss_grad_x",
            &["x"],
            "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
            23.0,
        ),
        k(
            "lse",
            &[],
            "|x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(-g * sqdist(x, y))",
            21.0,
        ),
        k(
            "softmax",
            &[],
            "|x: Vi<2>, y: Vj<2>, w: Vj<3>, g: Pm<1>| sumsoftmaxweight_j(-g * sqdist(x, y), w)",
            24.0,
        ),
        k(
            "knn3",
            &[],
            "|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10)",
            24.5,
        ),
        k(
            "knn64",
            &[],
            "|x: Vi<64>, y: Vj<64>| argkmin_j(sqdist(x, y), 10)",
            160.0,
        ),
        k(
            "min_argmin_i",
            &[],
            "|x: Vi<2>, y: Vj<2>| min_argmin_i(sqdist(x, y))",
            11.25,
        ),
    ]
}

/// Parses `NAME=SOURCE` or `NAME@PATH=SOURCE`.
fn parse_arg(a: &str) -> Result<Kernel, String> {
    let (head, source) = a
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=SOURCE or NAME@PATH=SOURCE, got {a:?}"))?;
    let (name, path) = match head.split_once('@') {
        Some((n, p)) => (n, p.split('.').map(str::to_string).collect()),
        None => (head, Vec::new()),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "kernel name {name:?}: use letters, digits and underscores"
        ));
    }
    Ok(Kernel {
        name: name.into(),
        path,
        source: source.trim().into(),
        pykeops: None,
    })
}

/// The entry whose pair loop is the hot loop.
fn hot_entry(red: Red) -> &'static str {
    GpuEntry::reduce(red, SumScheme::Block).name()
}

fn run() -> Result<(), String> {
    let mut out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/ptx-dump"));
    let mut f64 = false;
    let mut fast: Option<bool> = None;
    let mut kernels = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().ok_or("--out needs a folder")?.into(),
            "--f64" => f64 = true,
            "--fast" => fast = Some(true),
            "--accurate" => fast = Some(false),
            "-h" | "--help" => {
                println!("usage: dump_ptx [--out DIR] [--f64] [--accurate | --fast] [NAME=SOURCE | NAME@PATH=SOURCE]...");
                return Ok(());
            }
            _ => kernels.push(parse_arg(&a)?),
        }
    }
    if kernels.is_empty() {
        kernels = builtin();
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut manifest = String::from(
        "# kernel\tfile\tstage\treduction\tentry\tptx_pairs_per_iteration\tpykeops\tpath\tsource\n",
    );
    for k in &kernels {
        let mut def =
            parse_kernel_str(&k.source).map_err(|e| format!("{}: parse error: {e}", k.name))?;
        // Only the gradient programs the path needs (the stages do not
        // depend on the order; fewer programs are quicker to build).
        let order = k.path.len() as u32;
        def.options.grad_order = order;
        if let Some(f) = fast {
            def.options.fast_math = f;
        }
        let stage = build_stage(&def, true).map_err(|e| format!("{}: {e}", k.name))?;
        let family = Family::new(stage, order);
        let path: Vec<&str> = k.path.iter().map(String::as_str).collect();
        let prog = family
            .program(&path)
            .ok_or_else(|| format!("{}: no program at path {path:?}", k.name))?;
        let stages: Vec<u32> = prog
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Reduce { stage, .. } => Some(*stage),
                _ => None,
            })
            .collect();
        let ptx = emit_family(&family, &def.options);
        for &s in &stages {
            let file = format!("{}.s{s}.ptx", k.name);
            let text = if f64 {
                &ptx[s as usize].f64
            } else {
                &ptx[s as usize].f32
            };
            std::fs::write(out.join(&file), text).map_err(|e| format!("{file}: {e}"))?;
            let red = family.stages[s as usize].red;
            // Pairs per iteration of the PTX pair loop: `unroll=` of the
            // metadata line.
            let unroll = text
                .lines()
                .find(|l| l.starts_with("// keops-kernel"))
                .and_then(|l| {
                    l.split_whitespace()
                        .find_map(|kv| kv.strip_prefix("unroll="))
                })
                .unwrap_or("1")
                .to_string();
            let pyk = match k.pykeops {
                Some(v) if !f64 => v.to_string(),
                _ => "-".to_string(),
            };
            let kpath = if k.path.is_empty() {
                "-".to_string()
            } else {
                k.path.join(".")
            };
            writeln!(
                manifest,
                "{}\t{file}\t{s}\t{}\t{}\t{unroll}\t{pyk}\t{kpath}\t{}",
                k.name,
                red.name(),
                hot_entry(red),
                k.source
            )
            .expect("writing to a String");
        }
        println!(
            "{}: stages {stages:?} of {} -> {}",
            k.name,
            family.stages.len(),
            out.display()
        );
    }
    std::fs::write(out.join("manifest.tsv"), manifest).map_err(|e| format!("manifest: {e}"))?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("dump_ptx: {e}");
        std::process::exit(1);
    }
}
