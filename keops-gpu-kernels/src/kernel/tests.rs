//! Unit tests of the kernel emitter: metadata, layout plans, and launches
//! through the simulator that the runtime does not exercise (launches split
//! along rows with `row_base`). The end-to-end comparisons with the
//! reference evaluator live in the workspace's `tests/gpu_sim.rs`.

use keops_compiler::lower::{lower, Lowered};
use keops_compiler::stage::Family;

use super::*;
use keops_ptx_sim::{Device, Module, Param};

fn lowered(src: &str) -> Lowered {
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap();
    let stage = keops_compiler::front::build_stage(&def, true).unwrap();
    lower(&Family::new(stage, 0).stages[0])
}

#[test]
fn metadata_and_kernel_names() {
    let l = lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)) * y)");
    for p in [Prec::F32, Prec::F64] {
        let ptx = emit_stage(&l, p, MathOpts::default());
        let meta = ptx
            .lines()
            .find(|s| s.starts_with("// keops-kernel "))
            .unwrap();
        assert!(
            meta.contains(&format!("abi={ABI_VERSION} prec={}", p.suffix())),
            "{meta}"
        );
        assert!(
            meta.contains("outer_scratch=0 partial_slots=3 red=sum"),
            "{meta}"
        );
        let m = Module::parse(&ptx).unwrap();
        let mut names: Vec<&str> = m.kernel_names();
        names.sort();
        let mut want = kernel_names(&l, p);
        want.sort();
        assert_eq!(names, want);
        // Same parameter list for every kernel.
        for n in &names {
            assert_eq!(m.kernel_info(n).unwrap().params.len(), l.vars.len() + 9);
        }
    }
    let l = lowered("grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_j(sqdist(x, y), 4)");
    assert_eq!(kernel_names(&l, Prec::F32), ["keops_reduce", "keops_merge"]);
    assert_eq!(plan(&l, Prec::F32).partial_slots, 8);
}

#[test]
fn plans_for_large_dimensions() {
    let small = lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)))");
    let p = plan(&small, Prec::F32);
    assert_eq!((p.block, p.tile, p.outer_in_memory), (256, 256, false));
    let d64 = lowered("grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(sqdist(x, y), 10)");
    let p = plan(&d64, Prec::F32);
    assert!(!p.outer_in_memory);
    assert_eq!(p.tile, 160);
    assert!(plan(&d64, Prec::F64).outer_in_memory);
    let d256 = lowered("grad_order = 0, |x: Vi<256>, y: Vj<256>| argkmin_j(sqdist(x, y), 10)");
    for prec in [Prec::F32, Prec::F64] {
        let p = plan(&d256, prec);
        assert!(p.outer_in_memory);
        assert!(p.shared_bytes <= SHARED_BUDGET);
        assert_eq!(p.tile % 8, 0);
        let ptx = emit_stage(&d256, prec, MathOpts::default());
        assert!(ptx.contains(".entry keops_outer("));
        assert!(ptx.contains("ld.volatile.shared.u32"));
    }
}

/// Runs the 1D reduce kernel of `x: Vi<1>, y: Vj<1> -> min_argmin_j((x - y)^2)`
/// over `m` rows in launches of `rows_per_launch` rows (`row_base` moves),
/// returning the values and indices.
fn run_split(m: usize, n: usize, block: u32, rows_per_launch: usize) -> (Vec<f64>, Vec<u64>) {
    let l = lowered("grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(square(x - y))");
    let ptx = emit_stage(&l, Prec::F64, MathOpts::default());
    let module = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let xs: Vec<f64> = (0..m).map(|i| (i as f64 * 0.37).sin()).collect();
    let ys: Vec<f64> = (0..n).map(|j| (j as f64 * 0.91).cos()).collect();
    let (x, y) = (dev.alloc_from_f64(&xs), dev.alloc_from_f64(&ys));
    let (vals, idx) = (dev.alloc(m * 8), dev.alloc(m * 8));
    let mut r0 = 0;
    while r0 < m {
        let rows = rows_per_launch.min(m - r0);
        let grid = rows.div_ceil(block as usize) as u32;
        // Rows past `r0 + rows` belong to the next launch: give this one
        // only whole blocks (`rows_per_launch` is a multiple of `block`).
        let params: Vec<Param> = [
            x, y, m as u64, n as u64, r0 as u64, n as u64, 1, vals, idx, 0, 0,
        ]
        .iter()
        .map(|&v| Param::U64(v))
        .collect();
        dev.launch(
            &module,
            "keops_reduce",
            [grid, 1, 1],
            [block, 1, 1],
            0,
            &params,
        )
        .unwrap();
        r0 += rows;
    }
    (
        dev.read_f64(vals, m).unwrap(),
        dev.read_u64(idx, m).unwrap(),
    )
}

#[test]
fn launches_split_along_rows() {
    let whole = run_split(300, 77, 32, 300);
    let split = run_split(300, 77, 32, 64);
    assert_eq!(whole, split);
    // The reference, on the host.
    for (i, (&v, &j)) in whole.0.iter().zip(&whole.1).enumerate() {
        let x = (i as f64 * 0.37).sin();
        let (mut best, mut arg) = (f64::INFINITY, u64::MAX);
        for jj in 0..77 {
            let d = x - (jj as f64 * 0.91).cos();
            if d * d < best {
                best = d * d;
                arg = jj;
            }
        }
        assert_eq!((v, j), (best, arg), "row {i}");
    }
}
