//! Prints the size of the `keops!` expansion (the tokens a user's build
//! compiles) for the build-budget formulas, with and without PTX, and the
//! macro's own time. Run by `benches/build_cost.sh`.
//!
//! ```sh
//! cargo run --release --example expansion_size
//! ```

use std::time::Instant;

/// The formulas of the build budget (issue: build budget and architecture).
const FORMULAS: &[(&str, &str)] = &[
    (
        "gauss D=3",
        "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    ),
    (
        "gauss D=64, b16",
        "|x: Vi<64>, y: Vj<64>, b: Vj<16>| sum_j(exp(-sqdist(x, y)) * b)",
    ),
    (
        "gauss D=784",
        "|x: Vi<784>, y: Vj<784>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    ),
    (
        "gauss D=4096",
        "|x: Vi<4096>, y: Vj<4096>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    ),
    ("tanh D=64", "|x: Vi<64>, y: Vj<64>| sum_j(tanh(x - y))"),
    (
        "gauss, width a const generic",
        "|x: Vi<D>, y: Vj<D>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)",
    ),
    (
        "argkmin K=10 D=3",
        "|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10)",
    ),
];

fn expand(src: &str, ptx: bool) -> (usize, usize, f64) {
    let t = Instant::now();
    let tokens: proc_macro2::TokenStream = src.parse().expect("formula lexes");
    let c = keops_compiler::compile(tokens).unwrap_or_else(|f| panic!("{src}: {}", f.error));
    if let Some(named) = &c.named {
        // Named widths: CPU code only (no PTX yet).
        let span = c.spans.get(c.def.span);
        let out = keops_compiler::widths::expand(&quote::quote!(::keops), named, src, span, false)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        return (out.to_string().len(), 0, t.elapsed().as_secs_f64());
    }
    let ptx = if ptx {
        keops_gpu_kernels::emit_family(&c.family, &c.def.options)
    } else {
        Vec::new()
    };
    let ptx_bytes: usize = ptx.iter().map(|p| p.f32.len() + p.f64.len()).sum();
    let out = keops_compiler::emit_cpu::expand(&quote::quote!(::keops), &c.family, &ptx, src);
    let len = out.to_string().len();
    (len, ptx_bytes, t.elapsed().as_secs_f64())
}

fn main() {
    println!("| formula | CPU only (default) | grad_order = 0 | grad_order = 1 | with `cuda` | of which PTX | macro time (cuda) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, src) in FORMULAS {
        let (cpu, _, _) = expand(src, false);
        let (g0, _, _) = expand(&format!("grad_order = 0, {src}"), false);
        let (g1, _, _) = expand(&format!("grad_order = 1, {src}"), false);
        let (all, ptx, secs) = expand(src, true);
        println!(
            "| {name} | {:.1} KB | {:.1} KB | {:.1} KB | {:.1} KB | {:.1} KB | {:.2} s |",
            cpu as f64 / 1e3,
            g0 as f64 / 1e3,
            g1 as f64 / 1e3,
            all as f64 / 1e3,
            ptx as f64 / 1e3,
            secs
        );
    }
}
