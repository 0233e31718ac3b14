//! Large dimensions: the Gaussian sum, logsumexp and k-NN with their
//! gradients for D = 256, 784, 1024 and 4096, against the reference
//! evaluator, on every SIMD level and both summation schemes of the CPU
//! engine, and the PTX kernels through the simulator. Vectors of at least `keops_compiler::lower::LOOP_MIN_DIM`
//! components are loops in the generated code (sums of components, element
//! maps, features and outputs), so these kernels cost what a D = 32 one
//! costs to build; M and N are not multiples of any tile or pack.

mod common;

use common::{check_any, check_forward, levels, rows, IntoOut, ToRef};
use keops::ndarray::Array2;
use keops::{Kernel as _, SumScheme};
use keops_compiler::eval::RefValue;
use keops_compiler::Reference;

/// Inputs `x` (M × D), `y` (N × D) in [-1, 1].
fn points(d: usize, m: usize, n: usize, name: &str) -> (Array2<f64>, Array2<f64>) {
    let mut rng = common::rng(name, m, n);
    (
        rows(&mut rng, m, d, -1.0, 1.0),
        rows(&mut rng, n, d, -1.0, 1.0),
    )
}

fn f32s(a: &Array2<f64>) -> Array2<f32> {
    a.mapv(|v| v as f32)
}

/// The forward kernel and the gradients with respect to x and y (cotangent
/// `e`, one column per output column), in f64 and f32 on every SIMD level and
/// both summation schemes, against the reference programs.
macro_rules! check_large {
    ($name:ident, $d:literal, |$x:ident : Vi<$dx:literal>, $y:ident : Vj<$dy:literal> $(, $b:ident : Vj<$db:literal>)?| $body:expr; out = $out:expr; tol32 = $t32:expr) => {
        #[test]
        fn $name() {
            let k = keops::keops!(grad_order = 1, |$x: Vi<$dx>, $y: Vj<$dy> $(, $b: Vj<$db>)?| $body);
            let r = Reference::parse(concat!(
                "grad_order = 1, ",
                stringify!(|$x: Vi<$dx>, $y: Vj<$dy> $(, $b: Vj<$db>)?| $body)
            ))
            .unwrap();
            for (m, n) in [(1, 1), (9, 37)] {
                let (x, y) = points($d, m, n, stringify!($name));
                #[allow(unused_mut)]
                let mut inputs: Vec<RefValue> = vec![x.to_ref(), y.to_ref()];
                $(
                    let $b = rows(&mut common::rng("b", m, n), n, $db, -1.0, 1.0);
                    inputs.push($b.to_ref());
                )?
                let mut rng = common::rng("e", m, n);
                let e = rows(&mut rng, m, $out, -1.0, 1.0);
                let mut with_e = inputs.clone();
                with_e.push(e.to_ref());
                let fwd = r.forward(&inputs).unwrap();
                let pv = r.pair_values(&inputs).unwrap();
                let gx = r.eval(&["x"], &with_e).unwrap();
                let gy = r.eval(&["y"], &with_e).unwrap();
                // The PTX kernels through the simulator: outer features in
                // the scratch buffer, tiles of a few rows (one row of 4096
                // f64 takes 32 KiB of the 40 KiB of shared memory).
                {
                    let what = format!("{} D = {} {m}x{n} simulator", stringify!($name), $d);
                    let k = k.backend(keops::Backend::Simulator);
                    let out = k.call(&x, &y $(, &$b)?).unwrap().into_out();
                    check_forward(out, &fwd, &pv, r.reduction(), 1e-12, &format!("{what} f64"));
                    let out = k.grad_x().call(&x, &y $(, &$b)?, &e).unwrap().into_out();
                    check_any(out, &gx, 1e-11, &format!("{what} f64 grad_x"));
                    let (x32, y32) = (f32s(&x), f32s(&y));
                    $( let $b = f32s(&$b); )?
                    let out = k.call(&x32, &y32 $(, &$b)?).unwrap().into_out();
                    check_forward(out, &fwd, &pv, r.reduction(), $t32, &format!("{what} f32"));
                }
                for level in levels() {
                    for scheme in [SumScheme::Block, SumScheme::Kahan] {
                        let what = format!("{} D = {} {m}x{n} {level:?} {scheme:?}", stringify!($name), $d);
                        let mut o = k.options();
                        o.simd = Some(level);
                        o.sum_scheme = scheme;
                        let k = k.with_options(o);
                        let out = k.call(&x, &y $(, &$b)?).unwrap().into_out();
                        check_forward(out, &fwd, &pv, r.reduction(), 1e-12, &format!("{what} f64"));
                        let out = k.grad_x().call(&x, &y $(, &$b)?, &e).unwrap().into_out();
                        check_any(out, &gx, 1e-11, &format!("{what} f64 grad_x"));
                        let out = k.grad_y().call(&x, &y $(, &$b)?, &e).unwrap().into_out();
                        check_any(out, &gy, 1e-11, &format!("{what} f64 grad_y"));
                        let (x32, y32) = (f32s(&x), f32s(&y));
                        $( let $b = f32s(&$b); )?
                        let e32 = f32s(&e);
                        let out = k.call(&x32, &y32 $(, &$b)?).unwrap().into_out();
                        check_forward(out, &fwd, &pv, r.reduction(), $t32, &format!("{what} f32"));
                        let out = k.grad_x().call(&x32, &y32 $(, &$b)?, &e32).unwrap().into_out();
                        check_any(out, &gx, $t32, &format!("{what} f32 grad_x"));
                    }
                }
            }
        }
    };
}

macro_rules! large_dim {
    ($gauss:ident, $lse:ident, $knn:ident, $kmin:ident, $d:literal, $df:literal) => {
        check_large!($gauss, $d, |x: Vi<$d>, y: Vj<$d>, b: Vj<2>| sum_j(exp(-sqdist(x, y) / $df) * b); out = 2; tol32 = 1e-4);
        check_large!($lse, $d, |x: Vi<$d>, y: Vj<$d>| logsumexp_j(-sqdist(x, y) / $df + (x | y)); out = 1; tol32 = 1e-4);
        check_large!($kmin, $d, |x: Vi<$d>, y: Vj<$d>| kmin_j(sqdist(x, y), 3); out = 3; tol32 = 1e-4);

        /// k-NN indices against a dense f64 computation.
        #[test]
        fn $knn() {
            let k = keops::keops!(grad_order = 0, |x: Vi<$d>, y: Vj<$d>| argkmin_j(sqdist(x, y), 5));
            let (x, y) = points($d, 11, 301, stringify!($knn));
            for level in levels() {
                let mut o = k.options();
                o.simd = Some(level);
                let got = k.with_options(o).call(&x, &y).unwrap();
                let got32 = k.with_options(o).call(&f32s(&x), &f32s(&y)).unwrap();
                for i in 0..x.nrows() {
                    let mut d: Vec<(f64, usize)> = (0..y.nrows())
                        .map(|j| ((&x.row(i) - &y.row(j)).mapv(|v| v * v).sum(), j))
                        .collect();
                    d.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    let want: Vec<usize> = d[..5].iter().map(|p| p.1).collect();
                    assert_eq!(got.row(i).to_vec(), want, "D = {} row {i} {level:?} f64", $d);
                    // f32 distances of about D/1.5 carry errors of about
                    // 1e-5: the set may differ only where the reference
                    // distances are that close.
                    for (a, w) in got32.row(i).iter().zip(&want) {
                        let da = d.iter().find(|p| p.1 == *a).unwrap().0;
                        let dw = d.iter().find(|p| p.1 == *w).unwrap().0;
                        assert!((da - dw).abs() <= 1e-4 * dw, "D = {} row {i} {level:?} f32: {a} vs {w}", $d);
                    }
                }
            }
        }
    };
}

large_dim!(gauss_256, lse_256, knn_256, kmin_256, 256, 256.0);
large_dim!(gauss_784, lse_784, knn_784, kmin_784, 784, 784.0);
large_dim!(gauss_1024, lse_1024, knn_1024, kmin_1024, 1024, 1024.0);
large_dim!(gauss_4096, lse_4096, knn_4096, kmin_4096, 4096, 4096.0);
