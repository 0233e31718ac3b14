//! The GPU back end through the PTX simulator (`Backend::Simulator`):
//! the PTX the macro embeds for CUDA, run exactly and strictly on the CPU
//! (shared-memory races, uninitialised reads, out-of-bounds accesses and
//! barrier misuse are errors), compared with the reference evaluator in
//! f64 and f32, for the 1D scheme with small blocks, the 2D scheme with
//! unaligned chunks and the automatic choice (see `common::gpu_variants`).
mod common;

use keops::prelude::*;

// ---- Reductions, over j and over i ----
check_gpu!(sum_over_j, |x: Vi<3>, y: Vj<3>| sum_j(x * y));
check_gpu!(sum_over_i, |x: Vi<3>, y: Vj<3>| sum_i(exp(-sqdist(x, y)) * x));
check_gpu!(logsumexp_j, |x: Vi<3>, y: Vj<3>| logsumexp_j(-sqdist(x, y)); range = (-2.0, 2.0));
check_gpu!(logsumexp_i_vector, |x: Vi<2>, y: Vj<2>| (x * y * 3.0).logsumexp(0));
check_gpu!(logsumexp_weight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(-sqdist(x, y), exp(w)); range = (-2.0, 2.0));
check_gpu!(logsumexp_weight_vector, |x: Vi<2>, y: Vj<2>, w: Vj<2>| (x - y).logsumexp_weight(exp(w), 1));
check_gpu!(sumsoftmaxweight_j, |x: Vi<2>, y: Vj<2>, w: Vj<3>| sumsoftmaxweight_j(-sqdist(x, y) * 5.0, w));
check_gpu!(sumsoftmaxweight_i, |x: Vi<2>, y: Vj<2>, w: Vi<2>| (x * y).sumsoftmaxweight(w, 0));
check_gpu!(min_j_, |x: Vi<3>, y: Vj<3>| min_j(sqdist(x, y)));
check_gpu!(argmin_i_vector, |x: Vi<2>, y: Vj<2>| (x * y).argmin(0));
check_gpu!(min_argmin_j_, |x: Vi<3>, y: Vj<3>| min_argmin_j(sqdist(x, y) - 1.0));
check_gpu!(max_j_, |x: Vi<3>, y: Vj<3>| max_j((x | y)));
check_gpu!(argmax_j_, |x: Vi<3>, y: Vj<3>| argmax_j((x | y)));
check_gpu!(max_argmax_i, |x: Vi<2>, y: Vj<2>| max_argmax_i(x * y));
check_gpu!(kmin_j_, |x: Vi<3>, y: Vj<3>| kmin_j(sqdist(x, y), 5));
check_gpu!(argkmin_j_, |x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), 10));
check_gpu!(kmin_argkmin_vector, |x: Vi<2>, y: Vj<2>| kmin_argkmin_j(x - y, 3));
check_gpu!(kmin_argkmin_i, |x: Vi<2>, y: Vj<2>| kmin_argkmin_i(sqdist(x, y), 7));
check_gpu!(kmin_larger_than_n, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(x * y, 20); sizes = vec![(3, 5), (7, 13), (2, 0)]);
check_gpu!(ties_min, |x: Vi<1>, y: Vj<1>| min_argmin_j(round(3.0 * x * y)));
check_gpu!(ties_max_i, |x: Vi<1>, y: Vj<1>| max_argmax_i(round(3.0 * x * y)));
check_gpu!(ties_kmin, |x: Vi<1>, y: Vj<1>| kmin_argkmin_j(round(2.0 * x * y), 4));

// ---- Summation schemes ----
check_gpu!(sum_direct, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Direct);
check_gpu!(sum_kahan, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Kahan);
check_gpu!(sum_block, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y); scheme = SumScheme::Block);

// ---- Element-wise operations ----
check_gpu!(arithmetic, |x: Vi<3>, y: Vj<3>, p: Pm<2>| sum_j(x * y - x / (y * y + 1.0) + 2 * x - 0.5 * y + p[0] * x - p[1] + (-(x * y))));
check_gpu!(abs_sign_step_relu, |x: Vi<3>, y: Vj<3>| sum_j(abs(x - y) + sign(x - y) + (x * step(y)).sign() + step(x - y) + relu(x - y) + (x * step(y)).step()));
check_gpu!(exp_log, |x: Vi<2>, y: Vj<2>| sum_j(exp(x - y) + log(x * y) + (x + y).log()); range = (0.1, 3.0));
check_gpu!(sin_cos, |x: Vi<2>, y: Vj<2>| sum_j(sin(3.0 * x * y) + cos(x - 2.0 * y)); range = (-4.0, 4.0));
check_gpu!(sqrt_rsqrt_inv, |x: Vi<2>, y: Vj<2>| sum_j(sqrt(x * y) + rsqrt(x + y) + inv(x * x + y * y + 0.5)); range = (0.1, 2.0));
check_gpu!(rsqrt_zero, |x: Vi<1>, y: Vj<1>| sum_j(rsqrt(x * step(y)) + step(y)));
check_gpu!(pow_int, |x: Vi<2>, y: Vj<2>| sum_j(pow(x - y, 3) + (x * y).pow(2) + pow(x + 2.0, -2) + x.pow(0)));
check_gpu!(powf_, |x: Vi<2>, y: Vj<2>| sum_j(powf(x + y, x * y) + (x * y).powf(0.3)); range = (0.1, 2.0); tol32 = 5e-5);
check_gpu!(xlogx_sinxdivx, |x: Vi<2>, y: Vj<2>| sum_j(xlogx(x * y) + (x * step(y)).xlogx() + sinxdivx(3.0 * (x - y)) + (x * step(y)).sinxdivx()); range = (0.0, 2.0));
check_gpu!(asin_acos_atan, |x: Vi<2>, y: Vj<2>| sum_j(asin(x * y) + (0.9 * x).acos() + atan(5.0 * (x - y))));
check_gpu!(atan2_, |x: Vi<2>, y: Vj<2>| sum_j(atan2(x, y) + (y - x).atan2(x * y)));
check_gpu!(hyperbolic, |x: Vi<2>, y: Vj<2>| sum_j(tanh(2.0 * (x - y)) + sinh(x * y) + (x + y).cosh()));
check_gpu!(erf_, |x: Vi<2>, y: Vj<2>| sum_j(erf(2.0 * (x - y)) + (x * y).erf()));
check_gpu!(log1p_expm1, |x: Vi<2>, y: Vj<2>| sum_j(log1p(0.001 * x * y) + (1e-3 * (x - y)).expm1() * 1000.0 + log1p(x + y + 2.1)));
check_gpu!(clamp_ifelse_mod, |x: Vi<2>, y: Vj<2>| sum_j(clamp(x + y, -0.5, 0.7) + (x - y).clamp(y, x) + clampint(3.0 * (x + y), -1, 2) + ifelse(x - y, x * y, x + y) + modulo(5.0 * x * y, 1.5, 0.25) + (3.0 * (x - y)) % 0.7));
check_gpu!(round_floor, |x: Vi<2>, y: Vj<2>| sum_j(round(4.0 * x * y) + (x - y).round(2) + floor(4.0 * x * y) + (x - y).floor() + round(x * 0.0 + 0.5) + round(x * 0.0 - 2.5)));
check_gpu!(comparisons, |x: Vi<2>, y: Vj<2>| sum_j((x < y) + 2 * (x <= y) + 4 * (x > y) + 8 * (x >= y) + 16 * (x == x) + 32 * (x != y)));
check_gpu!(max_min_elementwise, |x: Vi<3>, y: Vj<3>| sum_j(max(x, y) + min(x, y) + x.max(y * 0.5) + y.min(0.0)));
check_gpu!(gaussian, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b); range = (0.0, 2.0); sizes = vec![(0, 3), (1, 1), (300, 1033), (1033, 7), (7, 1033)]);
check_gpu!(only_outer, |x: Vi<2>, y: Vj<1>| sum_j(exp(x)));
check_gpu!(only_inner, |x: Vi<1>, y: Vj<2>| sum_j(sin(y)));
check_gpu!(constant_formula, |x: Vi<1>, y: Vj<1>| sum_j(2.5));

// ---- Vector operations ----
check_gpu!(vector_products, |x: Vi<3>, y: Vj<3>| sum_j((x | y) * y + sqnorm2(x - y) + norm2(x + y) + normalize(x - y)));
check_gpu!(weighted_norms, |x: Vi<2>, y: Vj<2>, s: Pm<4>, t: Vj<2>| sum_j(weightedsqnorm(s, x - y) + weightedsqdist(t, x, y)));
check_gpu!(extract_concat_onehot, |x: Vi<3>, y: Vj<2>| sum_j(concat(x[1..3], y) * cat(y, x[0..2]) + one_hot(2.0 * (x[0] + 1.0), 4) + elem(x, 2) * y.elem(0)));
check_gpu!(matvec_tensor, |a: Vi<6>, v: Vj<3>, w: Vj<2>| sum_j(matvecmult(a, v) + tensorprod(w, v) + keops_tensordot(a, v, [2, 3], [3], [1], [0])));
check_gpu!(vector_reductions, |x: Vi<4>, y: Vj<4>| sum_j(max(x - y) + (x * y).min() + argmax(x - y) + (x + y).argmin() + sum(x * y)));
