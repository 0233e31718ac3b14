//! Every element-wise operation of the formula language against the
//! reference evaluator, in f64 and f32, on every SIMD level, for shapes with
//! M or N in {0, 1, 7, 13, 1033}.
//!
//! Default tolerances (see `check!`): 1e-13 (f64) and 2e-5 (f32), relative
//! to the sum of absolute values of the terms for sums. Functions whose
//! f32 evaluation loses more (large arguments of sin/cos, powf) say why below.
mod common;

check!(add, |x: Vi<3>, y: Vj<3>| sum_j(x + y));
check!(sub, |x: Vi<3>, y: Vj<3>| sum_j(x - y));
check!(mul, |x: Vi<3>, y: Vj<3>| sum_j(x * y));
check!(div, |x: Vi<3>, y: Vj<3>| sum_j(x / (y * y + 1.0)));
check!(neg, |x: Vi<2>, y: Vj<2>| sum_j(-(x * y)));
check!(broadcast_scalar_vector, |x: Vi<1>, y: Vj<3>| sum_j(
    x * y + 2 - x
));
check!(literals, |x: Vi<2>, y: Vj<2>| sum_j(2 * x - 0.5 * y + 3));
check!(abs_, |x: Vi<3>, y: Vj<3>| sum_j(abs(x - y) + (x * y).abs()));
check!(exp_, |x: Vi<2>, y: Vj<2>| sum_j(exp(x - y)));
check!(log_, |x: Vi<2>, y: Vj<2>| sum_j(log(x * y) + (x + y).log()); range = (0.1, 3.0));
check!(sin_cos, |x: Vi<2>, y: Vj<2>| sum_j(sin(3.0 * x * y) + cos(x - 2.0 * y)); range = (-4.0, 4.0));
check!(sqrt_, |x: Vi<2>, y: Vj<2>| sum_j(sqrt(x * y) + (x + y).sqrt()); range = (0.0, 2.0));
check!(rsqrt_, |x: Vi<2>, y: Vj<2>| sum_j(rsqrt(x + y)); range = (0.1, 2.0));
// rsqrt(0) = 0: half of the pairs hit exactly 0 (x = -y is impossible with
// random floats, so use a product with a zero factor).
check!(rsqrt_zero, |x: Vi<1>, y: Vj<1>| sum_j(rsqrt(x * step(y)) + step(y)); range = (-1.0, 1.0));
check!(pow_int, |x: Vi<2>, y: Vj<2>| sum_j(
    pow(x - y, 3) + (x * y).pow(2) + pow(x + 2.0, -2) + x.pow(0)
));
check!(powf_, |x: Vi<2>, y: Vj<2>| sum_j(powf(x + y, x * y) + (x * y).powf(0.3)); range = (0.1, 2.0); tol32 = 5e-5);
check!(square_, |x: Vi<3>, y: Vj<3>| sum_j(
    square(x - y) + (x * y).square()
));
check!(sign_, |x: Vi<3>, y: Vj<3>| sum_j(
    sign(x - y) + (x * step(y)).sign()
));
check!(step_, |x: Vi<3>, y: Vj<3>| sum_j(
    step(x - y) + (x * step(y)).step()
));
check!(relu_, |x: Vi<3>, y: Vj<3>| sum_j(
    relu(x - y) + (x * y).relu()
));
check!(inv_, |x: Vi<2>, y: Vj<2>| sum_j(
    inv(x * x + y * y + 0.5) + (y + 3.0).inv()
));
check!(xlogx_, |x: Vi<2>, y: Vj<2>| sum_j(xlogx(x * y) + (x * step(y)).xlogx()); range = (0.0, 2.0));
check!(sinxdivx_, |x: Vi<2>, y: Vj<2>| sum_j(
    sinxdivx(3.0 * (x - y)) + (x * step(y)).sinxdivx()
));
check!(asin_acos, |x: Vi<2>, y: Vj<2>| sum_j(
    asin(x * y) + (0.9 * x).acos()
));
check!(atan_, |x: Vi<2>, y: Vj<2>| sum_j(
    atan(5.0 * (x - y)) + (x * y).atan()
));
check!(atan2_, |x: Vi<2>, y: Vj<2>| sum_j(
    atan2(x, y) + (y - x).atan2(x * y)
));
check!(clamp_, |x: Vi<3>, y: Vj<3>| sum_j(
    clamp(x + y, -0.5, 0.7) + (x - y).clamp(y, x)
));
check!(clampint_, |x: Vi<2>, y: Vj<2>| sum_j(clampint(
    3.0 * (x + y),
    -1,
    2
)));
check!(ifelse_, |x: Vi<2>, y: Vj<2>| sum_j(
    ifelse(x - y, x * y, x + y) + (y - x).ifelse(1.0, -1.0)
));
check!(mod_, |x: Vi<2>, y: Vj<2>| sum_j(
    modulo(5.0 * x * y, 1.5, 0.25) + (3.0 * (x - y)) % 0.7 + r#mod(x + y, 0.3)
));
check!(round_, |x: Vi<2>, y: Vj<2>| sum_j(
    round(4.0 * x * y) + (x - y).round(2)
));
check!(floor_, |x: Vi<2>, y: Vj<2>| sum_j(
    floor(4.0 * x * y) + (x - y).floor()
));
check!(comparisons, |x: Vi<2>, y: Vj<2>| sum_j(
    (x < y) + 2 * (x <= y) + 4 * (x > y) + 8 * (x >= y) + 16 * (x == x) + 32 * (x != y)
));
check!(tanh_sinh_cosh, |x: Vi<2>, y: Vj<2>| sum_j(
    tanh(2.0 * (x - y)) + sinh(x * y) + (x + y).cosh()
));
check!(erf_, |x: Vi<2>, y: Vj<2>| sum_j(
    erf(2.0 * (x - y)) + (x * y).erf()
));
check!(log1p_expm1, |x: Vi<2>, y: Vj<2>| sum_j(
    log1p(0.001 * x * y) + (1e-3 * (x - y)).expm1() * 1000.0 + log1p(x + y + 2.1)
));
check!(max_min_elementwise, |x: Vi<3>, y: Vj<3>| sum_j(
    max(x, y) + min(x, y) + x.max(y * 0.5) + y.min(0.0)
));
check!(gaussian, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b); range = (0.0, 2.0));
check!(gauss_method_form, |x: Vi<3>,
                           y: Vj<3>,
                           b: Vj<1>,
                           g: Pm<1>| {
    ((-g * x.sqdist(y)).exp() * b).sum(1)
});
check!(let_bindings, |x: Vi<3>, y: Vj<3>, b: Vj<2>| {
    let d2 = sqdist(x, y);
    let k = exp(-d2) + 1.0 / (1.0 + d2);
    sum_j(k * b)
});
check!(params_everywhere, |x: Vi<2>,
                           y: Vj<2>,
                           p: Pm<2>,
                           q: Pm<1>| {
    sum_j(p * x + q * y - p * q + exp(q))
});
check!(only_outer, |x: Vi<2>, y: Vj<1>| sum_j(exp(x)));
check!(only_inner, |x: Vi<1>, y: Vj<2>| sum_j(sin(y)));
check!(constant_formula, |x: Vi<1>, y: Vj<1>| sum_j(2.5));
