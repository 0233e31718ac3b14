//! Derivative rules and gradient kernels: every differentiable operation
//! against central finite differences of the forward kernel (f64, relative
//! error below 1e-6), against the reference evaluator's gradient programs,
//! and in f32 (within 1e-4 of the f64 reference).
mod common;

// Arithmetic and broadcasting.
check_grad!(arith, (|x: Vi<3>, y: Vj<3>, p: Pm<1>| sum_j(x * y - p * x / (y * y + 1.0) + 2.0 * y)); grads = [grad_x, grad_y, grad_p]);
check_grad!(neg_broadcast, (|x: Vi<1>, y: Vj<3>| sum_j(-(x * y) + x)); grads = [grad_x, grad_y]);
// Unary functions.
check_grad!(exp_log, (|x: Vi<2>, y: Vj<2>| sum_j(exp(x - y) + log(x * y + 2.0))); grads = [grad_x, grad_y]);
check_grad!(sin_cos, (|x: Vi<2>, y: Vj<2>| sum_j(sin(2.0 * x * y) * cos(x - y))); grads = [grad_x, grad_y]);
check_grad!(sqrt_rsqrt, (|x: Vi<2>, y: Vj<2>| sum_j(sqrt(x * y + 1.0) + rsqrt(x * x + y + 2.0))); grads = [grad_x, grad_y]);
check_grad!(square_pow, (|x: Vi<2>, y: Vj<2>| sum_j(square(x - y) + pow(x + y, 3) + pow(x * y + 2.0, -2))); grads = [grad_x, grad_y]);
check_grad!(powf_, (|x: Vi<2>, y: Vj<2>| sum_j(powf(x + 2.0, y * 0.5) + (x * y + 1.5).powf(1.7))); grads = [grad_x, grad_y]);
check_grad!(abs_relu_inv, (|x: Vi<2>, y: Vj<2>| sum_j(abs(x - y) + relu(x * y) + inv(x * x + 1.0))); grads = [grad_x, grad_y]);
check_grad!(xlogx_sinxdivx, (|x: Vi<2>, y: Vj<2>| sum_j(xlogx(x * y + 2.0) + sinxdivx(3.0 * (x - y)))); grads = [grad_x, grad_y]);
check_grad!(inverse_trig, (|x: Vi<2>, y: Vj<2>| sum_j(asin(0.5 * x * y) + acos(0.4 * (x - y)) + atan(x + y))); grads = [grad_x, grad_y]);
check_grad!(atan2_, (|x: Vi<2>, y: Vj<2>| sum_j(atan2(x + 2.0, y - 3.0) + (x * y).atan2(x + y + 3.0))); grads = [grad_x, grad_y]);
check_grad!(hyperbolic, (|x: Vi<2>, y: Vj<2>| sum_j(tanh(x - y) + sinh(x * y) + cosh(x + y))); grads = [grad_x, grad_y]);
check_grad!(erf_log1p_expm1, (|x: Vi<2>, y: Vj<2>| sum_j(erf(x - y) + log1p(x * y + 0.5) + expm1(x + y))); grads = [grad_x, grad_y]);
// Non-smooth operations: the gradient of the selected branch.
check_grad!(clamp_ifelse_max, (|x: Vi<2>, y: Vj<2>| sum_j(clamp(x + y, -0.5, 0.5) + ifelse(x - y, x * y, x + y) + max(x, y) + min(x * 2.0, y))); grads = [grad_x, grad_y]);
// Bounds from the data, crossed (lo > hi) for about half of the pairs:
// there the value is lo, so only lo's gradient is non-zero.
check_grad!(clamp_crossed_bounds, (|x: Vi<1>, y: Vj<1>, z: Vj<1>| sum_j(clamp(x, y, z) * (x + 2.0))); grads = [grad_x, grad_y, grad_z]);
check_grad!(piecewise_constant, (|x: Vi<2>, y: Vj<2>| sum_j(x * sign(y) + y * step(x) + floor(3.0 * x) + round(2.0 * y) + (x < y))); grads = [grad_x, grad_y]);
check_grad!(modulo_, (|x: Vi<2>, y: Vj<2>, n: Pm<1>| sum_j(modulo(3.0 * x * y, n + 2.0, 0.1))); grads = [grad_x, grad_y, grad_n]);
// Vector operations.
check_grad!(norms, (|x: Vi<3>, y: Vj<3>| sum_j(sqnorm2(x - y) + norm2(x + y) + normalize(x * y + 0.5) + (x | y))); grads = [grad_x, grad_y]);
check_grad!(weighted, (|x: Vi<2>, y: Vj<2>, s: Pm<4>, t: Vj<2>| sum_j(weightedsqnorm(s, x - y) + weightedsqdist(t, x, y))); grads = [grad_x, grad_y, grad_s, grad_t]);
check_grad!(layout, (|x: Vi<4>, y: Vj<2>| sum_j(concat(x[1..3] * y, y[0]) * x[0] + sum(x * x) + extract(x, 1, 3) * y[1])); grads = [grad_x, grad_y]);
check_grad!(vector_min_max, (|x: Vi<4>, y: Vj<4>| sum_j(max(x * y) + min(x - y) + argmax(x))); grads = [grad_x, grad_y]);
check_grad!(bilinear, (|a: Vi<6>, v: Vj<3>, w: Vj<2>| sum_j(matvecmult(a, v) * vecmatmult(v, a) + sum(tensorprod(w, v) * a))); grads = [grad_a, grad_v, grad_w]);
check_grad!(tensordot_, (|a: Vi<6>, b: Vj<6>| sum_j(keops_tensordot(a, b, [2, 3], [3, 2], [1], [0]) * keops_tensordot(a, b, [2, 3], [2, 3], [0], [0]).sum())); grads = [grad_a, grad_b]);
check_grad!(one_hot_zero_grad, (|x: Vi<1>, y: Vj<2>| sum_j(one_hot(2.0 * x + 1.0, 2) * y + x)); grads = [grad_x, grad_y]);
// Reductions.
check_grad!(sum_i_, (|x: Vi<2>, y: Vj<2>, g: Pm<1>| sum_i(exp(-g * sqdist(x, y)) * y)); grads = [grad_x, grad_y, grad_g]);
check_grad!(logsumexp_, (|x: Vi<2>, y: Vj<2>| logsumexp_j(-sqdist(x, y) * 2.0)); grads = [grad_x, grad_y]);
check_grad!(logsumexp_vector, (|x: Vi<2>, y: Vj<2>| logsumexp_i(x * y)); grads = [grad_x, grad_y]);
check_grad!(logsumexp_weight_, (|x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(-sqdist(x, y), exp(w))); grads = [grad_x, grad_y, grad_w]);
check_grad!(sumsoftmaxweight_, (|x: Vi<2>, y: Vj<2>, w: Vj<3>| sumsoftmaxweight_j(-sqdist(x, y), w * x[0])); grads = [grad_x, grad_y, grad_w]);
check_grad!(min_, (|x: Vi<2>, y: Vj<2>| min_j(sqdist(x, y) + x[0])); grads = [grad_x, grad_y]);
check_grad!(max_vector, (|x: Vi<2>, y: Vj<2>| max_i(x * y)); grads = [grad_x, grad_y]);
check_grad!(min_argmin_, (|x: Vi<2>, y: Vj<2>| min_argmin_j(sqdist(x, y))); grads = [grad_x, grad_y]);
check_grad!(kmin_, (|x: Vi<2>, y: Vj<2>| kmin_j(sqdist(x, y), 3)); grads = [grad_x, grad_y]; sizes = (4, 9));
check_grad!(kmin_vector, (|x: Vi<2>, y: Vj<2>| kmin_argkmin_j(x * y, 2)); grads = [grad_x, grad_y]; sizes = (4, 9));
check_grad!(grad_in_formula, (|x: Vi<2>, y: Vj<2>, e: Vi<1>| sum_j(grad(exp(-sqdist(x, y)), x, e) * y)); grads = [grad_x, grad_y, grad_e]);
