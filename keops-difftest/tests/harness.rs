//! The checks of `run` catch wrong kernels (a harness that accepts
//! everything would pass every differential test): a kernel computing
//! another formula than its reference source must fail, on values, on
//! indices and on gradients; the right kernel passes.

use keops_difftest::{run, Case, Grad, IntoOut, Kernel};

#[test]
fn the_right_kernel_passes() {
    let k = keops::keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| sum_j(
        exp(-sqdist(x, y)) * y
    ));
    run(&Case {
        seed: 0,
        id: 0,
        src: "grad_order = 1, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * y)",
        range: (-1.0, 1.0),
        sim: true,
        discontinuous: false,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        grads: &[Grad {
            var: "x",
            f64: &|o, a, e| {
                k.grad_x()
                    .with_options(o)
                    .call(a.r(0), a.r(1), e)
                    .map(IntoOut::into_out)
            },
            f32: &|o, a, e| {
                k.grad_x()
                    .with_options(o)
                    .call(a.r(0), a.r(1), e)
                    .map(IntoOut::into_out)
            },
        }],
    });
}

#[test]
#[should_panic(expected = "disagrees with the reference")]
fn a_slightly_wrong_value_fails() {
    let k = keops::keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| sum_j(
        exp(-sqdist(x, y)) * 1.0001
    ));
    run(&Case {
        seed: 0,
        id: 1,
        src: "grad_order = 0, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)))",
        range: (-1.0, 1.0),
        sim: false,
        discontinuous: false,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        grads: &[],
    });
}

#[test]
#[should_panic(expected = "index")]
fn a_wrong_index_fails() {
    let k = keops::keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_j(
        sqdist(x, y) + y[0] * 0.3,
        3
    ));
    run(&Case {
        seed: 0,
        id: 2,
        src: "grad_order = 0, |x: Vi<2>, y: Vj<2>| argkmin_j(sqdist(x, y), 3)",
        range: (-1.0, 1.0),
        sim: false,
        discontinuous: false,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1))
                .map(IntoOut::into_out)
        },
        grads: &[],
    });
}

#[test]
#[should_panic(expected = "grad_y")]
fn a_wrong_gradient_fails() {
    let k = keops::keops!(grad_order = 1, |x: Vi<2>, y: Vj<2>| sum_j(
        exp(-sqdist(x, y)) * (1.0 + 0.001 * sin(y))
    ));
    run(&Case {
        seed: 0,
        id: 3,
        src: "grad_order = 1, |x: Vi<2>, y: Vj<2>| sum_j(exp(-sqdist(x, y)) * (1.0 + 0.001 * cos(y)))",
        range: (-1.0, 1.0),
        sim: false,
        discontinuous: false,
        fwd64: &|o, a| k.with_options(o).call(a.r(0), a.r(1)).map(IntoOut::into_out),
        fwd32: &|o, a| k.with_options(o).call(a.r(0), a.r(1)).map(IntoOut::into_out),
        grads: &[Grad {
            var: "y",
            f64: &|o, a, e| k.grad_y().with_options(o).call(a.r(0), a.r(1), e).map(IntoOut::into_out),
            f32: &|o, a, e| k.grad_y().with_options(o).call(a.r(0), a.r(1), e).map(IntoOut::into_out),
        }],
    });
}

/// Seed 1718123457, formula 229, replayed with its inputs: `min_argmin`
/// over i of values 3 + 1e-9 .. 3 + 1e-6, all 3.0 in f32. Every back end
/// selects another (tied) index than the f64 reference, and the gradients
/// follow the selection; the kernels are right and the check must accept
/// them (`f32_selection_ties`).
#[test]
fn f32_ties_of_a_selection_pass() {
    const SRC: &str = "grad_order = 1, |x0: Vj<6>, x1: Vi<3>, x2: Vi<2>| norm2(concat((grad((x1 * x0[3..]) * cos(x2[0]), x2, x0[0..3] + x0[1..4]) * 0.2) * 0.375, 3.0)).min_argmin(0)";
    let k = keops::keops!(grad_order = 1, |x0: Vj<6>, x1: Vi<3>, x2: Vi<2>| norm2(
        concat(
            (grad((x1 * x0[3..]) * cos(x2[0]), x2, x0[0..3] + x0[1..4]) * 0.2) * 0.375,
            3.0
        )
    )
    .min_argmin(0));
    run(&Case {
        seed: 1718123457,
        id: 229,
        src: SRC,
        range: (-1.0, 1.0),
        sim: true,
        discontinuous: false,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1), a.r(2))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1), a.r(2))
                .map(IntoOut::into_out)
        },
        grads: &[
            Grad {
                var: "x0",
                f64: &|o, a, e| {
                    k.grad_x0()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), e)
                        .map(IntoOut::into_out)
                },
                f32: &|o, a, e| {
                    k.grad_x0()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), e)
                        .map(IntoOut::into_out)
                },
            },
            Grad {
                var: "x1",
                f64: &|o, a, e| {
                    k.grad_x1()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), e)
                        .map(IntoOut::into_out)
                },
                f32: &|o, a, e| {
                    k.grad_x1()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), e)
                        .map(IntoOut::into_out)
                },
            },
        ],
    });
}

/// Seed 1718123457, formula 95, replayed with its inputs: `round` of a
/// parameter in (-0.5, 0) is -0, a one-term `tensordot` keeps it (-0 times
/// a positive row is -0), and `atan2(+0, -0) = pi` on every back end; the
/// reference turned the one-term product into `0 + (-0) = +0` (value 0)
/// until it started its sums from their first term.
#[test]
fn signed_zeros_on_the_atan2_branch_cut_pass() {
    const SRC: &str = "grad_order = 0, |x0: Pm<1>, x1: Vj<3>, x2: Pm<3>, x3: Vi<4>| { let t0 = (round(x2[1..3])) / (x2[0..2] + 1.5); (argmin(x1).atan2(keops_tensordot(elem(t0, 0) * 0.5, x3[1], [1, 1], [1, 1], [0, 1], [0, 1]))).logsumexp_weight(exp(argmin(x3 % 0.7) * 0.5), 0) }";
    let k = keops::keops!(
        grad_order = 0,
        |x0: Pm<1>, x1: Vj<3>, x2: Pm<3>, x3: Vi<4>| {
            let t0 = (round(x2[1..3])) / (x2[0..2] + 1.5);
            (argmin(x1).atan2(keops_tensordot(
                elem(t0, 0) * 0.5,
                x3[1],
                [1, 1],
                [1, 1],
                [0, 1],
                [0, 1],
            )))
            .logsumexp_weight(exp(argmin(x3 % 0.7) * 0.5), 0)
        }
    );
    run(&Case {
        seed: 1718123457,
        id: 95,
        src: SRC,
        range: (-1.0, 1.0),
        sim: true,
        discontinuous: true,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.p(0), a.r(1), a.p(2), a.r(3))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.p(0), a.r(1), a.p(2), a.r(3))
                .map(IntoOut::into_out)
        },
        grads: &[],
    });
}

/// Seed 1796033666, formula 31, replayed with its inputs: the gradient of
/// `sumsoftmaxweight` with a constant weight is 0 in exact arithmetic; on
/// AVX2, f64 rounding leaves -1.2e-17 where the reference gets exactly 0.
/// Rounding noise, within a few f64 ulp of the terms: the check must
/// accept it.
#[test]
fn f64_rounding_noise_of_a_zero_gradient_passes() {
    const SRC: &str = "grad_order = 1, |x0: Vi<1>, x1: Vj<1>, x2: Vj<5>, x3: Vj<1>| (elem(x2, 1) + x0).sumsoftmaxweight(log1p((expm1(0.7)) * 0.347), 0)";
    let k = keops::keops!(
        grad_order = 1,
        |x0: Vi<1>, x1: Vj<1>, x2: Vj<5>, x3: Vj<1>| (elem(x2, 1) + x0)
            .sumsoftmaxweight(log1p((expm1(0.7)) * 0.347), 0)
    );
    run(&Case {
        seed: 1796033666,
        id: 31,
        src: SRC,
        range: (-1.0, 1.0),
        sim: false,
        discontinuous: false,
        fwd64: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1), a.r(2), a.r(3))
                .map(IntoOut::into_out)
        },
        fwd32: &|o, a| {
            k.with_options(o)
                .call(a.r(0), a.r(1), a.r(2), a.r(3))
                .map(IntoOut::into_out)
        },
        grads: &[
            Grad {
                var: "x1",
                f64: &|o, a, e| {
                    k.grad_x1()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
                f32: &|o, a, e| {
                    k.grad_x1()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
            },
            Grad {
                var: "x2",
                f64: &|o, a, e| {
                    k.grad_x2()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
                f32: &|o, a, e| {
                    k.grad_x2()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
            },
            Grad {
                var: "x3",
                f64: &|o, a, e| {
                    k.grad_x3()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
                f32: &|o, a, e| {
                    k.grad_x3()
                        .with_options(o)
                        .call(a.r(0), a.r(1), a.r(2), a.r(3), e)
                        .map(IntoOut::into_out)
                },
            },
        ],
    });
}
