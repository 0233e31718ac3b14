//! Every stage PTX emitted for a set of formulas (forward and gradient
//! stages) is assembled by `ptxas` for sm_80 and sm_90; registers and
//! spills are printed. Skipped (with a message) when ptxas is absent.

use keops_compiler::lower::lower;
use keops_compiler::stage::Family;
use keops_gpu_kernels::kernel::emit_stage;
use keops_gpu_kernels::math::MathOpts;
use keops_gpu_kernels::ptx::Prec;
use keops_gpu_kernels::ptxas;

fn family(src: &str) -> Family {
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let stage = keops_compiler::front::build_stage(&def, true).unwrap_or_else(|e| panic!("{src}: {e}"));
    Family::new(stage, def.options.grad_order)
}

/// Assembles every stage of `src` for both archs; returns the reports of
/// the forward stage (sm_80, f32 then f64).
fn assemble_all(src: &str) -> Option<Vec<ptxas::AssembleReport>> {
    let Some(bin) = ptxas::find() else {
        println!("skipping ptxas checks: ptxas not found (see keops_gpu_kernels::ptxas)");
        return None;
    };
    let fam = family(src);
    let mut first = Vec::new();
    for (k, st) in fam.stages.iter().enumerate() {
        let l = lower(st);
        for p in [Prec::F32, Prec::F64] {
            let ptx = emit_stage(&l, p, MathOpts::default());
            for arch in ["sm_80", "sm_90"] {
                let r = ptxas::assemble(&bin, &ptx, arch).unwrap_or_else(|e| panic!("{src} stage {k} {p:?} {arch}: {e}"));
                assert!(!r.has_warnings(), "{src} stage {k} {p:?} {arch}: warnings\n{}", r.log);
                if arch == "sm_80" {
                    println!("{src} | stage {k} ({}) {p:?}:\n{r}", st.red.name());
                    if k == 0 {
                        first.push(r);
                    }
                }
            }
        }
    }
    Some(first)
}

#[test]
fn gaussian_small_does_not_spill() {
    let Some(reps) = assemble_all("|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)") else { return };
    for r in reps {
        for k in &r.kernels {
            assert_eq!(k.spill_stores, 0, "{r}");
            assert_eq!(k.stack_frame, 0, "{r}");
        }
    }
}
