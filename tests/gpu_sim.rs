//! The GPU back end through the PTX simulator (`Backend::Simulator`):
//! the PTX the macro embeds for CUDA, run exactly and strictly on the CPU
//! (shared-memory races, uninitialised reads, out-of-bounds accesses and
//! barrier misuse are errors), compared with the reference evaluator in
//! f64 and f32, for the 1D scheme with small blocks, the 2D scheme with
//! unaligned chunks and the automatic choice (see `common::gpu_variants`).
mod common;

#[allow(unused_imports)]
use common::*;
use keops::prelude::*;

// ---- Reductions, over j and over i ----
check_gpu!(sum_over_j, |x: Vi<3>, y: Vj<3>| sum_j(x * y));
check_gpu!(sum_over_i, |x: Vi<3>, y: Vj<3>| sum_i(exp(-sqdist(x, y)) * x); math = ["exp"]);
check_gpu!(logsumexp_j, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y)); range = (-2.0, 2.0); math = ["exp", "log"]);
check_gpu!(logsumexp_i_vector, |x: Vi<2>, y: Vj<2>| (x * y * 3.0).logsumexp(0); math = ["exp", "log"]);
check_gpu!(logsumexp_weight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(-sqdist(x, y), exp(w)); range = (-2.0, 2.0); math = ["exp", "log"]);
check_gpu!(logsumexp_weight_vector, |x: Vi<2>, y: Vj<2>, w: Vj<2>| (x - y).logsumexp_weight(exp(w), 1); math = ["exp", "log"]);
check_gpu!(sumsoftmaxweight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| sumsoftmaxweight_j(-sqdist(x, y) * 5.0, w); math = ["exp"]);
check_gpu!(sumsoftmaxweight_i, |x: Vi<2>, y: Vj<2>, w: Vi<2>| (x * y).sumsoftmaxweight(w, 0); math = ["exp"]);
check_gpu!(min_j_, |x: Vi<3>, y: Vj<3>| min_j(sqdist(x, y)));
check_gpu!(argmin_i_vector, |x: Vi<2>, y: Vj<2>| (x * y).argmin(0));
check_gpu!(min_argmin_j_, |x: Vi<3>, y: Vj<3>| min_argmin_j(
    sqdist(x, y) - 1.0
));
check_gpu!(max_j_, |x: Vi<3>, y: Vj<3>| max_j((x | y)));
check_gpu!(argmax_j_, |x: Vi<3>, y: Vj<3>| argmax_j((x | y)));
check_gpu!(max_argmax_i, |x: Vi<2>, y: Vj<2>| max_argmax_i(x * y));
check_gpu!(kmin_j_, |x: Vi<3>, y: Vj<3>| kmin_j(sqdist(x, y), 5));
check_gpu!(argkmin_j_, |x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10));
check_gpu!(kmin_argkmin_vector, |x: Vi<2>, y: Vj<2>| kmin_argkmin_j(
    x - y,
    3
));
check_gpu!(kmin_argkmin_i, |x: Vi<2>, y: Vj<2>| kmin_argkmin_i(
    sqdist(x, y),
    7
));
check_gpu!(kmin_larger_than_n, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(x * y, 20); sizes = vec![(3, 5), (7, 13), (2, 0)]);
check_gpu!(ties_min, |x: Vi<1>, y: Vj<1>| min_argmin_j(round(
    3.0 * x * y
)));
check_gpu!(ties_max_i, |x: Vi<1>, y: Vj<1>| max_argmax_i(round(
    3.0 * x * y
)));
check_gpu!(ties_kmin, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(
    round(2.0 * x * y),
    4
));

// ---- Summation schemes ----
check_gpu!(sum_direct, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Direct; math = ["exp"]);
check_gpu!(sum_kahan, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Kahan; math = ["exp"]);
check_gpu!(sum_block, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Block; math = ["exp"]);

// ---- Accurate device math (`fast_math = false`; the rest of this file
// runs the default, `fast_math = true`) ----
check_gpu!(accurate_gaussian, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b); range = (0.0, 2.0); sizes = vec![(0, 3), (1, 1), (300, 70), (7, 1033)]; fast_math = false; math = ["exp"]);
check_gpu!(accurate_sum_kahan, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Kahan; fast_math = false; math = ["exp"]);
check_gpu!(accurate_logsumexp_j, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y)); range = (-2.0, 2.0); fast_math = false; math = ["exp", "log"]);
check_gpu!(accurate_logsumexp_weight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(-sqdist(x, y), exp(w)); range = (-2.0, 2.0); fast_math = false; math = ["exp", "log"]);
check_gpu!(accurate_sumsoftmaxweight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| sumsoftmaxweight_j(-sqdist(x, y) * 5.0, w); fast_math = false; math = ["exp"]);
check_gpu!(accurate_exp_log, |x: Vi<2>, y: Vj<2>| sum_j(exp(x - y) + log(x * y) + (x + y).log()); range = (0.1, 3.0); fast_math = false; math = ["exp", "log"]);
check_gpu!(accurate_sin_cos, |x: Vi<2>, y: Vj<2>| sum_j(sin(3.0 * x * y) + cos(x - 2.0 * y)); range = (-4.0, 4.0); fast_math = false; math = ["sin", "cos"]);
check_gpu!(accurate_powf_rsqrt, |x: Vi<2>, y: Vj<2>| sum_j(powf(x + y, x * y) + (x * y).powf(0.3) + rsqrt(x + y)); range = (0.1, 2.0); tol32 = 5e-5; fast_math = false; math = ["powf"]);

// ---- Element-wise operations ----
check_gpu!(arithmetic, |x: Vi<3>, y: Vj<3>, p: Pm<2>| sum_j(
    x * y - x / (y * y + 1.0) + 2 * x - 0.5 * y + p[0] * x - p[1] + (-(x * y))
));
check_gpu!(abs_sign_step_relu, |x: Vi<3>, y: Vj<3>| sum_j(
    abs(x - y)
        + sign(x - y)
        + (x * step(y)).sign()
        + step(x - y)
        + relu(x - y)
        + (x * step(y)).step()
));
check_gpu!(exp_log, |x: Vi<2>, y: Vj<2>| sum_j(exp(x - y) + log(x * y) + (x + y).log()); range = (0.1, 3.0); math = ["exp", "log"]);
check_gpu!(sin_cos, |x: Vi<2>, y: Vj<2>| sum_j(sin(3.0 * x * y) + cos(x - 2.0 * y)); range = (-4.0, 4.0); math = ["sin", "cos"]);
check_gpu!(sqrt_rsqrt_inv, |x: Vi<2>, y: Vj<2>| sum_j(sqrt(x * y) + rsqrt(x + y) + inv(x * x + y * y + 0.5)); range = (0.1, 2.0));
check_gpu!(rsqrt_zero, |x: Vi<1>, y: Vj<1>| sum_j(
    rsqrt(x * step(y)) + step(y)
));
check_gpu!(pow_int, |x: Vi<2>, y: Vj<2>| sum_j(
    pow(x - y, 3) + (x * y).pow(2) + pow(x + 2.0, -2) + x.pow(0)
));
check_gpu!(powf_, |x: Vi<2>, y: Vj<2>| sum_j(powf(x + y, x * y) + (x * y).powf(0.3)); range = (0.1, 2.0); tol32 = 5e-5; math = ["powf"]);
check_gpu!(xlogx_sinxdivx, |x: Vi<2>, y: Vj<2>| sum_j(xlogx(x * y) + (x * step(y)).xlogx() + sinxdivx(3.0 * (x - y)) + (x * step(y)).sinxdivx()); range = (0.0, 2.0); math = ["log", "sin"]);
check_gpu!(asin_acos_atan, |x: Vi<2>, y: Vj<2>| sum_j(asin(x * y) + (0.9 * x).acos() + atan(5.0 * (x - y))); math = ["asin", "acos", "atan"]);
check_gpu!(atan2_, |x: Vi<2>, y: Vj<2>| sum_j(atan2(x, y) + (y - x).atan2(x * y)); math = ["atan2"]);
check_gpu!(hyperbolic, |x: Vi<2>, y: Vj<2>| sum_j(tanh(2.0 * (x - y)) + sinh(x * y) + (x + y).cosh()); math = ["tanh", "sinh", "cosh"]);
check_gpu!(erf_, |x: Vi<2>, y: Vj<2>| sum_j(erf(2.0 * (x - y)) + (x * y).erf()); math = ["erf"]);
check_gpu!(log1p_expm1, |x: Vi<2>, y: Vj<2>| sum_j(log1p(0.001 * x * y) + (1e-3 * (x - y)).expm1() * 1000.0 + log1p(x + y + 2.1)); math = ["log1p", "expm1"]);
check_gpu!(clamp_ifelse_mod, |x: Vi<2>, y: Vj<2>| sum_j(
    clamp(x + y, -0.5, 0.7)
        + (x - y).clamp(y, x)
        + clampint(3.0 * (x + y), -1, 2)
        + ifelse(x - y, x * y, x + y)
        + modulo(5.0 * x * y, 1.5, 0.25)
        + (3.0 * (x - y)) % 0.7
));
check_gpu!(round_floor, |x: Vi<2>, y: Vj<2>| sum_j(
    round(4.0 * x * y)
        + (x - y).round(2)
        + floor(4.0 * x * y)
        + (x - y).floor()
        + round(x * 0.0 + 0.5)
        + round(x * 0.0 - 2.5)
));
check_gpu!(comparisons, |x: Vi<2>, y: Vj<2>| sum_j(
    (x < y) + 2 * (x <= y) + 4 * (x > y) + 8 * (x >= y) + 16 * (x == x) + 32 * (x != y)
));
check_gpu!(max_min_elementwise, |x: Vi<3>, y: Vj<3>| sum_j(
    max(x, y) + min(x, y) + x.max(y * 0.5) + y.min(0.0)
));
check_gpu!(gaussian, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b); range = (0.0, 2.0); sizes = vec![(0, 3), (1, 1), (300, 1033), (1033, 7), (7, 1033)]; math = ["exp"]);
check_gpu!(only_outer, |x: Vi<2>, y: Vj<1>| sum_j(exp(x)); math = ["exp"]);
check_gpu!(only_inner, |x: Vi<1>, y: Vj<2>| sum_j(sin(y)); math = ["sin"]);
check_gpu!(constant_formula, |x: Vi<1>, y: Vj<1>| sum_j(2.5));

// ---- Vector operations ----
check_gpu!(vector_products, |x: Vi<3>, y: Vj<3>| sum_j(
    (x | y) * y + sqnorm2(x - y) + norm2(x + y) + normalize(x - y)
));
check_gpu!(weighted_norms, |x: Vi<2>, y: Vj<2>, s: Pm<4>, t: Vj<2>| {
    sum_j(weightedsqnorm(s, x - y) + weightedsqdist(t, x, y))
});
check_gpu!(extract_concat_onehot, |x: Vi<3>, y: Vj<2>| sum_j(
    concat(x[1..3], y) * cat(y, x[0..2]) + one_hot(2.0 * (x[0] + 1.0), 4) + elem(x, 2) * y.elem(0)
));
check_gpu!(matvec_tensor, |a: Vi<6>, v: Vj<3>, w: Vj<2>| sum_j(
    matvecmult(a, v) * tensorprod(w, v[0]) + keops_tensordot(a, v, [2, 3], [3], [1], [0])
));
check_gpu!(vector_reductions, |x: Vi<4>, y: Vj<4>| sum_j(
    max(x - y) + (x * y).min() + argmax(x - y) + (x + y).argmin() + sum(x * y)
));

// ---- Gradient kernels (multi-stage programs; index-matching stages) ----

/// Like `check_grad!`'s comparison with the reference gradient programs,
/// with every stage of the gradient kernels run through the simulator for
/// each of `common::gpu_variants`, in f64 and f32.
macro_rules! check_gpu_grad {
    (
        $name:ident, $f:tt; grads = [$($g:tt),*]
        $(; range = ($lo:expr, $hi:expr))?
        $(; sizes = ($m:expr, $n:expr))?
        $(; math = [$($fn_:literal),* $(,)?])?
    ) => {
        #[test]
        fn $name() {
            let kernel = check_grad!(@kernel $f);
            let reference = ::keops_compiler::Reference::parse(&format!("grad_order = 1, {}", check_grad!(@src $f))).unwrap();
            #[allow(unused_mut, unused_assignments)]
            let mut range: (f64, f64) = (-1.0, 1.0);
            $( range = ($lo, $hi); )?
            #[allow(unused_mut, unused_assignments)]
            let mut size: (usize, usize) = (70, 300);
            $( size = ($m, $n); )?
            #[allow(unused_mut)]
            let (mut tol64, mut tol32) = (1e-12, 1e-4);
            $(
                let funcs: &[&str] = &[$($fn_),*];
                let Some(t) = common::device_math_tolerance(funcs, true, true, tol64) else { return };
                tol64 = t;
                let Some(t) = common::device_math_tolerance(funcs, false, true, tol32) else { return };
                tol32 = t;
            )?
            let mut rng = common::rng(stringify!($name), size.0, size.1);
            let inputs: Vec<common::grad::Input> = grad_rules!(@gen &mut rng, size.0, size.1, range.0, range.1, $f);
            let names: Vec<&str> = grad_rules!(@names $f);
            let out: common::Out = grad_rules!(@fwd kernel, inputs, unpack64, $f);
            let e = common::grad::Input::like(&out, &mut rng);
            let e64 = e.rows().clone();
            let e32 = e64.mapv(|x| x as f32);
            let mut all = inputs.clone();
            all.push(e.clone());
            let rounded: Vec<common::grad::Input> = all.iter().map(|i| i.rounded()).collect();
            let ins32 = &rounded[..rounded.len() - 1];
            let mut w = 0usize;
            $(
                check_gpu_grad!(@one $g, w, kernel, reference, inputs, ins32, names, e64, e32, all, rounded, tol64, tol32, $f);
                w += 1;
            )*
            let _ = w;
        }
    };
    (@one _, $($rest:tt)*) => {};
    (@one $g:ident, $w:ident, $kernel:ident, $reference:ident, $inputs:ident, $ins32:ident, $names:ident, $e64:ident, $e32:ident, $all:ident, $rounded:ident, $tol64:ident, $tol32:ident, $f:tt) => {{
        let r = $reference.eval(&[$names[$w]], &common::grad::ref_inputs(&$all)).unwrap();
        let r32 = $reference.eval(&[$names[$w]], &common::grad::ref_inputs(&$rounded)).unwrap();
        for (vname, backend, scheme, block) in common::gpu_variants() {
            let gk = $kernel.$g();
            let gk = gk.with_options(common::gpu_options(gk.options(), backend, scheme, block));
            let what = format!("{} ({}, {vname})", stringify!($g), $names[$w]);
            let got: common::Out = grad_rules!(@grad gk, $inputs, &$e64, unpack64, $f);
            common::grad::assert_close(&common::grad::values(&got), r.reals(), $tol64, &format!("{what} f64"));
            let got32: common::Out = grad_rules!(@grad gk, $ins32, &$e32, unpack32, $f);
            common::grad::assert_close(&common::grad::values(&got32), r32.reals(), $tol32, &format!("{what} f32"));
        }
    }};
}

check_gpu_grad!(grad_sum_i_param, (|x: Vi<2>, y: Vj<2>, g: Pm<1>| sum_i(exp(-g * sqdist(x, y)) * y)); grads = [grad_x, grad_y, grad_g]; math = ["exp"]);
check_gpu_grad!(grad_logsumexp, (|x: Vi<2>, y: Vj<2>| logsumexp_j(-sqdist(x, y) * 2.0)); grads = [grad_x, grad_y]; math = ["exp", "log"]);
check_gpu_grad!(grad_sumsoftmaxweight, (|x: Vi<2>, y: Vj<2>, w: Vj<3>| sumsoftmaxweight_j(-sqdist(x, y), w * x[0])); grads = [grad_x, grad_y, grad_w]; math = ["exp", "log"]);
// `grad_x` of a min over j: an argmin stage, then a sum stage matching the
// outer row's argmin index against j (`MatchOuterIndex`); `grad_y` sums
// over i with the index variable on the reduced side (`InnerIndexHi/Lo`).
check_gpu_grad!(grad_min, (|x: Vi<2>, y: Vj<2>| min_j(sqdist(x, y) + x[0])); grads = [grad_x, grad_y]);
check_gpu_grad!(grad_max_i, (|x: Vi<2>, y: Vj<2>| max_i(x * y)); grads = [grad_x, grad_y]);
check_gpu_grad!(grad_min_argmin, (|x: Vi<2>, y: Vj<2>| min_argmin_j(sqdist(x, y))); grads = [grad_x, grad_y]);
check_gpu_grad!(grad_kmin, (|x: Vi<2>, y: Vj<2>| kmin_j(sqdist(x, y), 3)); grads = [grad_x, grad_y]);
check_gpu_grad!(grad_kmin_vector, (|x: Vi<2>, y: Vj<2>| kmin_argkmin_j(x * y, 2)); grads = [grad_x, grad_y]; sizes = (13, 40));

// ---- Large dimensions: shrunken tiles, outer features in the scratch ----
// D = 64 in f32 keeps the outer features in registers (64 words); in f64,
// and for D = 100 and 256, they go through the `keops_outer` scratch; the
// inner tile shrinks to fit 40 KiB of shared memory (e.g. 40 indices for
// D = 256 in f32, 16 in f64), so tiles repeat and are smaller than blocks.
check_gpu!(knn_d64, |x: Vi<64>, y: Vj<64>| argkmin_j(sqdist(x, y), 10); sizes = vec![(0, 3), (3, 0), (37, 70), (5, 300)]);
check_gpu!(kmin_d100, |x: Vi<100>, y: Vj<100>| kmin_argkmin_j(sqdist(x, y) + (x | y), 4); sizes = vec![(1, 1), (37, 70), (70, 37)]);
check_gpu!(knn_d256, |x: Vi<256>, y: Vj<256>| argkmin_j(sqdist(x, y), 10); sizes = vec![(1, 1), (33, 45)]);
check_gpu!(gauss_d256, |x: Vi<256>, y: Vj<256>, b: Vj<2>| sum_j(exp(-sqdist(x, y) / 256.0) * b); sizes = vec![(1, 1), (33, 45)]; math = ["exp"]);
check_gpu!(outer_features_computed, |x: Vi<80>, y: Vj<2>| sum_j((exp(-x * 0.1) * y[0] + sin(x) * y[1]).sum()); sizes = vec![(3, 5), (40, 33)]; math = ["exp", "sin"]);

// ---- Empty reductions and empty outputs ----
#[test]
fn empty_reductions() {
    let opts = |k: Options| gpu_options(k, Backend::Simulator, GpuScheme::Auto, None);
    for m in [3usize, 70] {
        let x = Array2::from_elem((m, 1), 1.0f32);
        let y = Array2::<f32>::zeros((0, 1));
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
        assert_eq!(
            k.with_options(opts(k.options())).call(&x, &y).unwrap(),
            Array2::zeros((m, 1))
        );
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| logsumexp_j(x * y));
        let l = k.with_options(opts(k.options())).call(&x, &y).unwrap();
        assert!(l.iter().all(|&v| v == f32::NEG_INFINITY));
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sumsoftmaxweight_j(
            x * y,
            y
        ));
        assert_eq!(
            k.with_options(opts(k.options())).call(&x, &y).unwrap(),
            Array2::zeros((m, 1))
        );
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| min_argmin_j(x * y));
        let (v, i) = k.with_options(opts(k.options())).call(&x, &y).unwrap();
        assert!(v.iter().all(|&a| a == f32::INFINITY));
        assert!(i.iter().all(|&a| a == usize::MAX));
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| max_j(x * y));
        let v = k.with_options(opts(k.options())).call(&x, &y).unwrap();
        assert!(v.iter().all(|&a| a == f32::NEG_INFINITY));
        let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| argkmin_j(x * y, 3));
        for scheme in [GpuScheme::OneD, GpuScheme::TwoD { chunk_len: 0 }] {
            let i = k
                .with_options(gpu_options(k.options(), Backend::Simulator, scheme, None))
                .call(&x, &y)
                .unwrap();
            assert_eq!(i.dim(), (m, 3));
            assert!(i.iter().all(|&a| a == usize::MAX));
        }
    }
    // M = 0: empty results with the right number of columns, no launch.
    let x0 = Array2::<f32>::zeros((0, 1));
    let y1 = Array2::from_elem((4, 1), 1.0f32);
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| kmin_j(x * y, 2));
    assert_eq!(
        k.with_options(opts(k.options()))
            .call(&x0, &y1)
            .unwrap()
            .dim(),
        (0, 2)
    );
}

/// Long f32 sums: the block scheme (per-tile partial sums folded into an
/// f64 accumulator) and Kahan stay within 1e-5 of the f64 result, in both
/// schemes; f64 accumulation (f64 kernels on converted data) within 1e-6.
#[test]
fn long_sums_are_accurate() {
    let n = 60_000;
    let mut rng = common::rng("long_sum_gpu", 3, n);
    let y = Array2::from_shape_fn((n, 1), |_| rng.f32());
    let x = Array2::from_shape_fn((3, 1), |(i, _)| 0.1 + i as f32);
    let exact: Vec<f64> = (0..3)
        .map(|i| {
            y.iter()
                .map(|&v| (x[[i, 0]] as f64 * v as f64 * 0.5).sin() + 1.0)
                .sum()
        })
        .collect();
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(
        sin(x * y * 0.5) + 1.0
    ));
    if device_math_tolerance(&["sin"], false, true, 0.0).is_none() {
        return;
    }
    for (scheme, tol) in [(SumScheme::Block, 1e-5), (SumScheme::Kahan, 1e-5)] {
        for (g, _) in [
            (GpuScheme::OneD, 0),
            (GpuScheme::TwoD { chunk_len: 7000 }, 1),
        ] {
            let kk = k.with_options(Options {
                sum_scheme: scheme,
                ..gpu_options(k.options(), Backend::Simulator, g, None)
            });
            let out = kk.call(&x, &y).unwrap();
            for i in 0..3 {
                let rel = ((out[[i, 0]] as f64 - exact[i]) / exact[i]).abs();
                assert!(
                    rel < tol,
                    "{scheme:?} {g:?} row {i}: relative error {rel:e}"
                );
            }
        }
    }
    let kk = k
        .with_options(gpu_options(
            k.options(),
            Backend::Simulator,
            GpuScheme::Auto,
            None,
        ))
        .f64_accumulation(true);
    let out = kk.call(&x, &y).unwrap();
    for i in 0..3 {
        let rel = ((out[[i, 0]] as f64 - exact[i]) / exact[i]).abs();
        assert!(
            rel < 1e-6,
            "f64 accumulation row {i}: relative error {rel:e}"
        );
    }
}

/// Strided and transposed views are copied contiguously before the upload.
#[test]
fn strided_inputs() {
    use keops::ndarray::s;
    let mut rng = common::rng("strided", 40, 30);
    let xb = Array2::from_shape_fn((80, 3), |_| rng.f64());
    let yt = Array2::from_shape_fn((3, 30), |_| rng.f64());
    let x = xb.slice(s![..;2, ..]);
    let y = yt.t();
    let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| min_argmin_j(sqdist(
        x, y
    )));
    let cpu = k.call(x, y).unwrap();
    let gpu = k
        .with_options(gpu_options(
            k.options(),
            Backend::Simulator,
            GpuScheme::Auto,
            None,
        ))
        .call(x, y)
        .unwrap();
    assert_eq!(cpu.1, gpu.1);
    for (a, b) in cpu.0.iter().zip(gpu.0.iter()) {
        assert!((a - b).abs() <= 1e-15 * a.abs().max(1.0));
    }
}

/// The back ends that cannot run here say why, as values.
#[test]
fn unavailable_backends_are_errors() {
    let x = Array2::from_elem((3, 1), 1.0f32);
    let k = keops!(grad_order = 0, |x: Vi<1>, y: Vj<1>| sum_j(x * y));
    let r = k.backend(Backend::Gpu { device: 0 }).call(&x, &x);
    match r {
        Err(Error::NotCompiledWithCuda) | Err(Error::GpuUnavailable(_)) => {}
        #[cfg(feature = "cuda")]
        Ok(_) => {} // a machine with a GPU
        other => panic!("unexpected {other:?}"),
    }
    // The module is embedded and carries its metadata line.
    assert!(k.ptx().contains("// keops-kernel abi=2 prec=f32"));
    assert!(k.ptx_f64().contains(".entry keops_reduce_block"));
}
