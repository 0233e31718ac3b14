//! Every vector operation of the formula language against the reference
//! evaluator (f64 and f32, every SIMD level, M or N in {0, 1, 7, 13, 1033}).
mod common;

check!(scalar_product, |x: Vi<3>, y: Vj<3>| sum_j((x | y)));
check!(scalar_product_broadcast, |x: Vi<1>, y: Vj<3>| sum_j(
    (x | y) * y
));
check!(sqnorm2_norm2, |x: Vi<3>, y: Vj<3>| sum_j(
    sqnorm2(x - y) + norm2(x + y) + (x * y).norm(2) + norm(y)
));
check!(normalize_, |x: Vi<3>, y: Vj<3>| sum_j(
    normalize(x - y) + (x * y).normalize()
));
check!(normalize_zero, |x: Vi<2>, y: Vj<2>| sum_j(
    normalize(x * 0.0) + y
));
check!(sqdist_, |x: Vi<4>, y: Vj<4>| sum_j(sqdist(x, y) * x));
check!(weightedsqnorm_iso, |x: Vi<3>, y: Vj<3>, s: Pm<1>| sum_j(
    weightedsqnorm(s, x - y)
));
check!(weightedsqnorm_diag, |x: Vi<3>, y: Vj<3>, s: Vj<3>| sum_j(
    weightedsqnorm(s, x - y) + (x + y).weightedsqnorm(s)
));
check!(weightedsqnorm_full, |x: Vi<2>, y: Vj<2>, s: Pm<4>| sum_j(
    weightedsqnorm(s, x - y)
));
check!(weightedsqdist_, |x: Vi<3>, y: Vj<3>, s: Vi<3>| sum_j(
    weightedsqdist(s, x, y) + x.weightedsqdist(y, s)
));
check!(elem_, |x: Vi<3>, y: Vj<3>| sum_j(
    elem(x, 2) * y.elem(0) + x[1] - y[2]
));
check!(extract_slices, |x: Vi<5>, y: Vj<5>| sum_j(
    extract(x, 1, 3) * y[2..5] + x[..3] - y.extract(0, 3) + x[1..=3]
));
check!(one_hot_, |x: Vi<1>, y: Vj<1>| sum_j(
    one_hot(2.0 * (x + 1.0), 5) * y + (2.0 * (y + 1.0)).one_hot(5)
));
check!(concat_, |x: Vi<2>, y: Vj<3>| sum_j(
    concat(x, y) * cat(y, x) + concatenate([x, y[0], x[1], y[2]]) + cat(x, y)
));
check!(matvecmult_, |a: Vi<6>, v: Vj<3>| sum_j(
    matvecmult(a, v) + a.matvecmult(v)
));
check!(vecmatmult_, |v: Vi<2>, a: Vj<6>| sum_j(
    vecmatmult(v, a) + v.vecmatmult(a)
));
check!(tensorprod_, |x: Vi<2>, y: Vj<3>| sum_j(
    tensorprod(x, y) + x.tensorprod(y)
));
// keops_tensordot: a (2x3) . b (3x2) contracting a's axis 1 with b's axis 0 is
// a 2x2 matrix product; the permuted variant transposes the result.
check!(tensordot_matmul, |a: Vi<6>, b: Vj<6>| sum_j(
    keops_tensordot(a, b, [2, 3], [3, 2], [1], [0])
        + keops_tensordot(a, b, [2, 3], [3, 2], [1], [0], [1, 0])
));
check!(tensordot_outer, |a: Vi<2>, b: Vj<3>| sum_j(
    keops_tensordot(a, b, [2], [3], [], [])
));
check!(tensordot_full, |a: Vi<6>, b: Vj<6>| sum_j(keops_tensordot(
    a,
    b,
    [2, 3],
    [2, 3],
    [0, 1],
    [0, 1]
)));
check!(vector_sum, |x: Vi<3>, y: Vj<3>| sum_j(
    sum(x * y) + (x - y).sum() + (x + y).sum(2) + x.sum(-1)
));
check!(vector_max_min, |x: Vi<4>, y: Vj<4>| sum_j(
    max(x - y) + (x * y).min() + x.max(2) + y.min(-1)
));
check!(vector_argmax_argmin, |x: Vi<4>, y: Vj<4>| sum_j(
    argmax(x - y) + (x * y).argmin() + (x + y).argmax(2)
));
check!(large_dim, |x: Vi<64>, y: Vj<64>| sum_j(exp(-sqdist(x, y) / 64.0)); sizes = vec![(0, 3), (3, 0), (7, 13), (300, 301)]);

/// `cat(..., dim = -1)` (torch's spelling, `axis` pykeops') concatenates
/// the features; another axis, or another keyword, is an error at its
/// position, not an extra operand.
#[test]
fn cat_with_a_dim_keyword() -> keops::Result<()> {
    use keops::prelude::*;
    let k = keops!(|x: Vi<2>, y: Vj<3>| sum_j(cat(x, y, dim = -1) + cat([y, x], axis = -1)));
    let x = Array2::from_shape_fn((4, 2), |(i, c)| (i * 2 + c) as f64);
    let y = Array2::from_shape_fn((3, 3), |(j, c)| (j * 3 + c) as f64 * 0.5);
    let out = k.call(&x, &y)?;
    assert_eq!(out.dim(), (4, 5));
    for i in 0..4 {
        // [x_i, y_j] + [y_j, x_i], summed over the 3 j.
        let row: Vec<f64> = (0..5)
            .map(|c| {
                (0..3)
                    .map(|j| {
                        let a = if c < 2 { x[[i, c]] } else { y[[j, c - 2]] };
                        let b = if c < 3 { y[[j, c]] } else { x[[i, c - 3]] };
                        a + b
                    })
                    .sum()
            })
            .collect();
        for c in 0..5 {
            assert_eq!(out[[i, c]], row[c], "row {i}, column {c}");
        }
    }
    for (src, bad) in [
        ("|x: Vi<2>, y: Vj<3>| sum_j(cat(x, y, dim = 0))", "0"),
        ("|x: Vi<2>, y: Vj<3>| sum_j(cat(x, y, side = -1))", "side"),
    ] {
        match Formula::new(src) {
            Err(Error::Formula { at, .. }) => assert_eq!(&src[at], bad, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    Ok(())
}
