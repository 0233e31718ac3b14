//! Unit tests of the kernel emitter: metadata, layout plans, and launches
//! through the simulator that the runtime does not exercise (launches split
//! along rows with `row_base`). The end-to-end comparisons with the
//! reference evaluator live in the workspace's `tests/gpu_sim.rs`.

use keops_ir::lower::{lower, Lowered};
use keops_ir::stage::Family;

use super::*;
use keops_ptx_sim::{Device, Module, Param};

/// The arguments of a 1D launch (one chunk) of a stage with variables at
/// `vars`, `m` rows from `row_base`, `n` reduced indices and real outputs
/// at `out_vals` (a ranged launch adds its table and spans).
fn args_1d(vars: &[u64], (m, n): (usize, usize), row_base: u64, out_vals: u64) -> KernelArgs {
    let mut a = KernelArgs::new(vars.len());
    for (k, &v) in vars.iter().enumerate() {
        a.set(KernelParam::Var(k as u32), v);
    }
    a.set(KernelParam::M, m as u64)
        .set(KernelParam::N, n as u64)
        .set(KernelParam::RowBase, row_base)
        .set(KernelParam::ChunkLen, n as u64)
        .set(KernelParam::NChunks, 1)
        .set(KernelParam::OutVals, out_vals);
    a
}

/// The simulator's parameters of a launch.
fn sim_params(a: &KernelArgs) -> Vec<Param> {
    a.as_slice().iter().map(|&v| Param::U64(v)).collect()
}

fn lowered(src: &str) -> Lowered {
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap();
    let stage = keops_compiler::front::build_stage(&def, true).unwrap();
    lower(&Family::new(stage, 0).stages[0])
}

#[test]
fn metadata_and_kernel_names() {
    let l = lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)) * y)");
    for p in [Prec::F32, Prec::F64] {
        let StageModule { ptx, meta } = emit_stage(&l, p, MathOpts::default());
        let block = if p == Prec::F32 { 256 } else { 192 };
        assert_eq!(
            meta,
            GpuMeta {
                block,
                tile: block,
                outer_scratch: 0,
                partial_slots: 3
            }
        );
        // The comment line for humans (and benches/sass_count.py) says
        // the same.
        let line = ptx
            .lines()
            .find(|s| s.starts_with("// keops-kernel "))
            .unwrap();
        assert!(
            line.contains(&format!(
                "abi={ABI_VERSION} prec={} block={block} tile={block} \
                 outer_scratch=0 partial_slots=3 red=sum",
                p.suffix()
            )),
            "{line}"
        );
        let m = Module::parse(&ptx).unwrap();
        let mut names: Vec<&str> = m.kernel_names();
        names.sort();
        let mut want: Vec<&str> = kernel_names(&l, p).iter().map(|e| e.name()).collect();
        want.sort();
        assert_eq!(names, want);
        // Same parameter list for every kernel: the ABI's, all `.u64`.
        let want: Vec<(String, String)> = kernel_params(l.vars.len())
            .map(|p| (p.to_string(), ".u64".to_string()))
            .collect();
        assert_eq!(want.len(), l.vars.len() + FIXED_PARAMS);
        for n in &names {
            assert_eq!(m.kernel_info(n).unwrap().params, want, "{n}");
        }
    }
    let l = lowered("grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_j(sqdist(x, y), 4)");
    assert_eq!(
        kernel_names(&l, Prec::F32),
        [GpuEntry::Reduce, GpuEntry::Merge]
    );
    assert_eq!(plan(&l, Prec::F32).partial_slots, 8);
    assert_eq!(
        emit_stage(&l, Prec::F32, MathOpts::default())
            .meta
            .partial_slots,
        8
    );
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
        let mo = MathOpts::default();
        let StageModule { ptx, meta } = emit_stage(&d256, prec, mo);
        // The launcher sizes the scratch buffer from the metadata: one
        // slot per outer feature of the programs the kernels run.
        let tuned = opt::tune(&d256, fast32(prec, mo));
        assert_eq!(meta.outer_scratch, tuned.outer.outputs.len() as u32);
        assert_eq!(meta.tile, p.tile);
        assert!(ptx.contains(".entry keops_outer("));
        assert!(ptx.contains("ld.volatile.shared.u32"));
    }
}

/// Runs the 1D reduce kernel of `x: Vi<1>, y: Vj<1> -> min_argmin_j((x - y)^2)`
/// over `m` rows in launches of `rows_per_launch` rows (`row_base` moves),
/// returning the values and indices.
fn run_split(m: usize, n: usize, block: u32, rows_per_launch: usize) -> (Vec<f64>, Vec<u64>) {
    let l = lowered("grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(square(x - y))");
    let ptx = emit_stage(&l, Prec::F64, MathOpts::default()).ptx;
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
        let mut args = args_1d(&[x, y], (m, n), r0 as u64, vals);
        args.set(KernelParam::OutIdx, idx);
        let params = sim_params(&args);
        dev.launch(
            &module,
            GpuEntry::Reduce.name(),
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

/// Runs the f32 reduce kernel `entry` of `src` (variables `x: Vi<3>`,
/// `y: Vj<3>`, then `b: Vj<1>` when `with_b`, then `g: Pm<1>`) through the
/// simulator, one output column.
fn run_f32(
    src: &str,
    entry: &str,
    mo: MathOpts,
    xs: &[f32],
    ys: &[f32],
    bs: &[f32],
    g: f32,
) -> Vec<f32> {
    let l = lowered(src);
    let ptx = emit_stage(&l, Prec::F32, mo).ptx;
    let module = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let (m, n) = (xs.len() / 3, ys.len() / 3);
    let mut ptrs = vec![dev.alloc_from_f32(xs), dev.alloc_from_f32(ys)];
    if !bs.is_empty() {
        ptrs.push(dev.alloc_from_f32(bs));
    }
    ptrs.push(dev.alloc_from_f32(&[g]));
    let out = dev.alloc(m * 4);
    let block = 32;
    let params = sim_params(&args_1d(&ptrs, (m, n), 0, out));
    let grid = m.div_ceil(block) as u32;
    dev.launch(
        &module,
        entry,
        [grid, 1, 1],
        [block as u32, 1, 1],
        0,
        &params,
    )
    .unwrap();
    dev.read_f32(out, m).unwrap()
}

/// Accuracy of the exponential kernels in both math modes, against an f64
/// reference, through the simulator (which computes `ex2.approx` correctly
/// rounded: on the hardware add the error of `ex2.approx.ftz.f32`, 2 ulp,
/// to each exponential). N = 301: the 4-pair loop and its remainder.
#[test]
fn exponential_kernels_accuracy_both_modes() {
    let (m, n, g) = (37usize, 301usize, 0.5f32);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut v = |k: usize| -> Vec<f32> { (0..k).map(|_| rng.f32() * 4.0 - 2.0).collect() };
    let (xs, ys, bs) = (v(3 * m), v(3 * n), v(n));
    let d2 = |i: usize, j: usize| -> f64 {
        (0..3)
            .map(|k| {
                let t = xs[3 * i + k] as f64 - ys[3 * j + k] as f64;
                t * t
            })
            .sum()
    };
    let gauss = "grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";
    let lse = "grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(-g * sqdist(x, y))";
    for (fast, tol_gauss, tol_lse) in [(false, 1e-5, 2e-6), (true, 1e-4, 1e-5)] {
        let mo = MathOpts { fast };
        // Gaussian sum: error relative to sum_j |term|.
        let got = run_f32(
            gauss,
            GpuEntry::ReduceSum(SumScheme::Block).name(),
            mo,
            &xs,
            &ys,
            &bs,
            g,
        );
        let mut worst: f64 = 0.0;
        for i in 0..m {
            let (mut s, mut a) = (0.0f64, 0.0f64);
            for j in 0..n {
                let t = (-(g as f64) * d2(i, j)).exp() * bs[j] as f64;
                s += t;
                a += t.abs();
            }
            worst = worst.max((got[i] as f64 - s).abs() / a);
        }
        println!("gauss fast={fast}: max error {worst:.3e} (relative to sum |terms|)");
        assert!(worst < tol_gauss, "gauss fast={fast}: {worst:e}");
        // Log-sum-exp: absolute error of the log.
        let got = run_f32(lse, GpuEntry::Reduce.name(), mo, &xs, &ys, &[], g);
        let mut worst: f64 = 0.0;
        for i in 0..m {
            let f: Vec<f64> = (0..n).map(|j| -(g as f64) * d2(i, j)).collect();
            let mx = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let r = mx + f.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            worst = worst.max((got[i] as f64 - r).abs() / r.abs().max(1.0));
        }
        println!("logsumexp fast={fast}: max error {worst:.3e} (relative, or absolute below 1)");
        assert!(worst < tol_lse, "logsumexp fast={fast}: {worst:e}");
    }
}

/// Stage `k` of the family of `src` up to gradient order `order`, lowered.
fn lowered_stage(src: &str, order: u32, k: usize) -> Lowered {
    let def = keops_compiler::parse::parse_kernel_str(src).unwrap();
    let stage = keops_compiler::front::build_stage(&def, true).unwrap();
    lower(&Family::new(stage, order).stages[k])
}

/// Runs the f32 reduce kernel `entry` of `l` through the simulator (1D
/// scheme, blocks of 64 threads): `vars[k]` holds the data of `l.vars[k]`
/// (row-major), `m` output rows, `n` reduced indices; returns the `m *
/// cols` outputs.
fn run_lowered_f32(
    l: &Lowered,
    entry: &str,
    mo: MathOpts,
    vars: &[Vec<f32>],
    (m, n, cols): (usize, usize, usize),
) -> Vec<f32> {
    let ptx = emit_stage(l, Prec::F32, mo).ptx;
    let module = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let ptrs: Vec<u64> = vars.iter().map(|v| dev.alloc_from_f32(v)).collect();
    let out = dev.alloc(m * cols * 4);
    let params = sim_params(&args_1d(&ptrs, (m, n), 0, out));
    let block = 64;
    dev.launch(
        &module,
        entry,
        [m.div_ceil(block) as u32, 1, 1],
        [block as u32, 1, 1],
        0,
        &params,
    )
    .unwrap();
    dev.read_f32(out, m * cols).unwrap()
}

/// Error of `got` against the exact `want` in ulp of `want`'s f32 binade
/// (`None` for results below the normal range, flushed by `.ftz`).
fn ulp_f32(got: f32, want: f64) -> Option<f64> {
    let a = want.abs();
    if a < f32::MIN_POSITIVE as f64 {
        return None;
    }
    let e = a.log2().floor() as i32;
    let e = if 2f64.powi(e) > a { e - 1 } else { e };
    Some((got as f64 - want).abs() / 2f64.powi(e - 23))
}

/// The exponential as the kernels compute it, in both modes, measured
/// through the simulator (correctly rounded `ex2.approx`: on the hardware
/// add NVIDIA's 2 ulp): `exp(x - y)` (y = 0, the argument exact) over
/// three ranges, and the Gaussian term `exp(-g |x - y|^2)` (the argument
/// rounded in both modes, the fast one also folds `-g log2 e`), one pair
/// per row, against the f64 value of the formula on the same f32 inputs.
/// Prints the figures of the accuracy table of `benches/RESULTS.md`.
#[test]
fn exp_accuracy_in_kernels_both_modes() {
    let mut rng = fastrand::Rng::with_seed(11);
    let exp1 = lowered("grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(exp(x - y))");
    let gauss =
        lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)))");
    let m = 4096;
    // (range, accurate bound, fast bound) in ulp, exact ex2.
    for (lo, hi, acc_bound, fast_bound) in [
        (-1.0f32, 1.0f32, 1.0, 1.5),
        (-10.0, 10.0, 1.0, 8.0),
        (-87.3, 88.7, 1.0, 64.0),
    ] {
        let xs: Vec<f32> = (0..m).map(|_| lo + (hi - lo) * rng.f32()).collect();
        let mut row = format!("exp(x), x in [{lo}, {hi}]:");
        for (fast, bound) in [(false, acc_bound), (true, fast_bound)] {
            let got = run_lowered_f32(
                &exp1,
                GpuEntry::ReduceSum(SumScheme::Block).name(),
                MathOpts { fast },
                &[xs.clone(), vec![0.0]],
                (m, 1, 1),
            );
            let worst = xs
                .iter()
                .zip(&got)
                .filter_map(|(&x, &g)| ulp_f32(g, (x as f64).exp()))
                .fold(0.0f64, f64::max);
            row += &format!(" fast={fast}: {worst:.2} ulp;");
            assert!(
                worst <= bound,
                "exp fast={fast} on [{lo}, {hi}]: {worst} ulp"
            );
        }
        println!("{row}");
    }
    // Gaussian term: -g |x|^2 in [-a, 0].
    // Both modes: the rounding of the argument (sqdist, the product by g)
    // costs about |x| ulp; the fast one rounds `-g log2 e` and the base-2
    // argument too.
    for (a, acc_bound, fast_bound) in [
        (1.0f64, 3.2, 3.75),
        (10.0, 14.0, 19.5),
        (87.0, 106.4, 154.25),
    ] {
        let xs: Vec<f32> = (0..3 * m).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let g = (a / 3.0) as f32;
        let mut row = format!("exp(-g |x|^2) in [-{a}, 0]:");
        for (fast, bound) in [(false, acc_bound), (true, fast_bound)] {
            let got = run_lowered_f32(
                &gauss,
                GpuEntry::ReduceSum(SumScheme::Block).name(),
                MathOpts { fast },
                &[xs.clone(), vec![0.0; 3], vec![g]],
                (m, 1, 1),
            );
            let worst = (0..m)
                .filter_map(|i| {
                    let d2: f64 = (0..3).map(|k| (xs[3 * i + k] as f64).powi(2)).sum();
                    ulp_f32(got[i], (-(g as f64) * d2).exp())
                })
                .fold(0.0f64, f64::max);
            row += &format!(" fast={fast}: {worst:.2} ulp;");
            assert!(
                worst <= bound,
                "gauss term fast={fast}, a = {a}: {worst} ulp"
            );
        }
        println!("{row}");
    }
}

/// Whole reductions in both modes against f64 references (simulator,
/// correctly rounded `.approx`): the Gaussian sum and its gradient, the
/// log-sum-exp (also with large exponents, the base-2 state of the fast
/// mode) and the softmax-weighted sum. Errors relative to the sum of
/// |terms| (sums) or to max(|result|, 1) (log-sum-exp); printed for
/// `benches/RESULTS.md`.
#[test]
fn reductions_accuracy_both_modes() {
    let (m, n) = (37usize, 301usize);
    let mut rng = fastrand::Rng::with_seed(5);
    let mut v = |k: usize| -> Vec<f32> { (0..k).map(|_| rng.f32() * 4.0 - 2.0).collect() };
    let (xs, ys, bs, cs, ws) = (v(3 * m), v(3 * n), v(n), v(m), v(3 * n));
    let d2 = |i: usize, j: usize| -> f64 {
        (0..3)
            .map(|k| (xs[3 * i + k] as f64 - ys[3 * j + k] as f64).powi(2))
            .sum()
    };
    let src = "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";
    let grad = lowered_stage(src, 1, 1);
    let names: Vec<&str> = grad.vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["x", "y", "b", "g", "__cot"]);
    let lse =
        lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(-g * sqdist(x, y))");
    let soft = lowered("grad_order = 0, |x: Vi<3>, y: Vj<3>, w: Vj<3>, g: Pm<1>| sumsoftmaxweight_j(-g * sqdist(x, y), w)");
    for fast in [false, true] {
        let mo = MathOpts { fast };
        // Gradient w.r.t. x: sum_j -2 g e_i exp(-g d2) b_j (x_i - y_j).
        let g = 0.5f32;
        let got = run_lowered_f32(
            &grad,
            GpuEntry::ReduceSum(SumScheme::Block).name(),
            mo,
            &[xs.clone(), ys.clone(), bs.clone(), vec![g], cs.clone()],
            (m, n, 3),
        );
        let mut worst: f64 = 0.0;
        for i in 0..m {
            for k in 0..3 {
                let (mut s, mut a) = (0.0f64, 0.0f64);
                for j in 0..n {
                    let t = -2.0
                        * g as f64
                        * cs[i] as f64
                        * (-(g as f64) * d2(i, j)).exp()
                        * bs[j] as f64
                        * (xs[3 * i + k] as f64 - ys[3 * j + k] as f64);
                    s += t;
                    a += t.abs();
                }
                worst = worst.max((got[3 * i + k] as f64 - s).abs() / a);
            }
        }
        println!("gauss_grad_x fast={fast}: max error {worst:.3e} of sum |terms|");
        assert!(worst < 2e-6, "gauss_grad_x fast={fast}: {worst:e}");
        // Log-sum-exp, small and large exponents.
        for (g, tol) in [(0.5f32, 1e-6), (40.0, 1e-6)] {
            let got = run_lowered_f32(
                &lse,
                GpuEntry::Reduce.name(),
                mo,
                &[xs.clone(), ys.clone(), vec![g]],
                (m, n, 1),
            );
            let mut worst: f64 = 0.0;
            for i in 0..m {
                let f: Vec<f64> = (0..n).map(|j| -(g as f64) * d2(i, j)).collect();
                let mx = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let r = mx + f.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
                worst = worst.max((got[i] as f64 - r).abs() / r.abs().max(1.0));
            }
            println!("logsumexp g={g} fast={fast}: max error {worst:.3e} of max(|result|, 1)");
            assert!(worst < tol, "logsumexp g={g} fast={fast}: {worst:e}");
        }
        // Softmax-weighted sum.
        let g = 2.0f32;
        let got = run_lowered_f32(
            &soft,
            GpuEntry::Reduce.name(),
            mo,
            &[xs.clone(), ys.clone(), ws.clone(), vec![g]],
            (m, n, 3),
        );
        let mut worst: f64 = 0.0;
        for i in 0..m {
            let f: Vec<f64> = (0..n).map(|j| -(g as f64) * d2(i, j)).collect();
            let mx = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let den: f64 = f.iter().map(|v| (v - mx).exp()).sum();
            for k in 0..3 {
                let (mut num, mut a) = (0.0f64, 0.0f64);
                for j in 0..n {
                    let t = (f[j] - mx).exp() * ws[3 * j + k] as f64;
                    num += t;
                    a += t.abs();
                }
                worst = worst.max((got[3 * i + k] as f64 - num / den).abs() / (a / den));
            }
        }
        println!("sumsoftmaxweight fast={fast}: max error {worst:.3e} of sum |w| softmax");
        assert!(worst < 2e-6, "sumsoftmaxweight fast={fast}: {worst:e}");
    }
}

/// `opt::tune` on the Gaussian's gradients: the accurate mode changes
/// nothing but the negated sum products (made fusable, exactly); the fast
/// mode hoists `-g log2 e` (parameter program) and `-2 g u_i` (outer
/// program), two multiplications per pair fewer.
#[test]
fn tune_rewrites_by_mode() {
    use keops_ir::ir::{Bin, Un};
    let src = "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";
    let muls = |l: &Lowered| {
        l.pair
            .insts
            .iter()
            .filter(|i| matches!(i, Inst::Bin(Bin::Mul, ..)))
            .count()
    };
    // Gradient w.r.t. x (stage 1).
    let gx = lowered_stage(src, 1, 1);
    let acc = opt::tune(&gx, false);
    assert_eq!(acc.pair.insts, gx.pair.insts);
    assert_eq!(acc.pair.outputs, gx.pair.outputs);
    let fast = opt::tune(&gx, true);
    assert_eq!(muls(&gx) - muls(&fast), 2, "{:?}", fast.pair.insts);
    assert_eq!(fast.param.outputs.len(), gx.param.outputs.len() + 1);
    assert_eq!(fast.outer.outputs.len(), gx.outer.outputs.len() + 1);
    // Every sum output stays a product (fused into an fma).
    for l in [&acc, &fast] {
        assert_eq!(deferred_outputs(l, SumScheme::Block, false), [true; 3]);
    }
    // Gradient w.r.t. y (stage 2): -(d * p) becomes (-d) * p in both modes.
    let gy = lowered_stage(src, 1, 2);
    assert!(gy
        .pair
        .outputs
        .iter()
        .all(|&o| matches!(gy.pair.insts[o as usize], Inst::Un(Un::Neg, _))));
    assert_eq!(deferred_outputs(&gy, SumScheme::Block, false), [false; 3]);
    for fast in [false, true] {
        let t = opt::tune(&gy, fast);
        assert_eq!(deferred_outputs(&t, SumScheme::Block, fast), [true; 3]);
    }
}

/// A ranged launch by hand (see the ABI): a per-block table with blocks of
/// rows that end inside a block of threads, an entry without spans, a
/// block with two spans, launched one entry at a time (`row_base` is the
/// first entry of a launch), against the host.
#[test]
fn ranged_table_launches() {
    let l = lowered("grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(square(x - y))");
    let ptx = emit_stage(&l, Prec::F64, MathOpts::default()).ptx;
    let module = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let (m, n, block) = (100usize, 77usize, 32u32);
    let xs: Vec<f64> = (0..m).map(|i| (i as f64 * 0.37).sin()).collect();
    let ys: Vec<f64> = (0..n).map(|j| (j as f64 * 0.91).cos()).collect();
    let (x, y) = (dev.alloc_from_f64(&xs), dev.alloc_from_f64(&ys));
    let (vals, idx) = (dev.alloc(m * 8), dev.alloc(m * 8));
    // Spans: block A = [5, 40) + [60, 77) (last), block B = [0, 77) (last).
    let spans: Vec<u64> = vec![5, 40, 60, 77 | LAST_SPAN, 0, 77 | LAST_SPAN];
    // Entries: rows, first span, parameter set.
    let entries: Vec<(u64, u64, u32)> = vec![
        (0, 32, 0),
        (32, 40, 0),
        (40, 50, NO_SPAN),
        (50, 82, 2),
        (82, 100, 2),
    ];
    let mut table = Vec::new();
    for &(r0, r1, sb) in &entries {
        table.extend_from_slice(&r0.to_le_bytes());
        table.extend_from_slice(&r1.to_le_bytes());
        table.extend_from_slice(&sb.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&0u64.to_le_bytes());
    }
    assert_eq!(table.len(), entries.len() * TABLE_ENTRY_BYTES as usize);
    let t = dev.alloc(table.len());
    dev.write(t, &table).unwrap();
    let sbytes: Vec<u8> = spans.iter().flat_map(|v| v.to_le_bytes()).collect();
    let sp = dev.alloc(sbytes.len());
    dev.write(sp, &sbytes).unwrap();
    for e in 0..entries.len() {
        let mut args = args_1d(&[x, y], (m, n), e as u64, vals);
        args.set(KernelParam::OutIdx, idx)
            .set(KernelParam::Table, t)
            .set(KernelParam::Spans, sp);
        let params = sim_params(&args);
        dev.launch(
            &module,
            GpuEntry::Reduce.name(),
            [1, 1, 1],
            [block, 1, 1],
            0,
            &params,
        )
        .unwrap();
    }
    let (v, ix) = (
        dev.read_f64(vals, m).unwrap(),
        dev.read_u64(idx, m).unwrap(),
    );
    for i in 0..m {
        let js: Vec<usize> = match i {
            0..40 => (5..40).chain(60..77).collect(),
            40..50 => vec![],
            _ => (0..77).collect(),
        };
        let (mut best, mut arg) = (f64::INFINITY, u64::MAX);
        for j in js {
            let d = xs[i] - ys[j];
            if d * d < best {
                best = d * d;
                arg = j as u64;
            }
        }
        assert_eq!((v[i], ix[i]), (best, arg), "row {i}");
    }
}
