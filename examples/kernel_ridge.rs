//! Kernel ridge regression (the posterior mean of a Gaussian process) on
//! real data, with a symbolic Gaussian matrix and its conjugate-gradient
//! `solve`, next to a dense Cholesky solve; writes a plot of predicted
//! against true values.
//!
//! ```text
//! cargo run --release --features plot --example kernel_ridge [out.png]
//! ```
//!
//! Data: the diabetes data of Efron, Hastie, Johnstone and Tibshirani
//! (2004), "Least Angle Regression" (442 patients, 10 baseline variables,
//! disease progression one year later), embedded as
//! `examples/data/diabetes.csv` (see its header for the source).

use keops::ndarray::s;
use keops::prelude::*;
use plotters::prelude::*;

const CSV: &str = include_str!("data/diabetes.csv");

/// Dense Cholesky solve of `(K + alpha I) a = b` (f64), the reference.
fn dense_solve(k: &Array2<f64>, alpha: f64, b: &Array1<f64>) -> Array1<f64> {
    let n = k.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = k[[i, j]] + if i == j { alpha } else { 0.0 };
            for p in 0..j {
                s -= l[[i, p]] * l[[j, p]];
            }
            l[[i, j]] = if i == j { s.sqrt() } else { s / l[[j, j]] };
        }
    }
    let mut x = b.clone();
    for i in 0..n {
        let mut s = x[i];
        for p in 0..i {
            s -= l[[i, p]] * x[p];
        }
        x[i] = s / l[[i, i]];
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for p in i + 1..n {
            s -= l[[p, i]] * x[p];
        }
        x[i] = s / l[[i, i]];
    }
    x
}

fn rmse(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>() / a.len() as f64).sqrt()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "kernel_ridge.png".into());
    // Parse, then shuffle deterministically and split 342 / 100.
    let mut rows: Vec<Vec<f64>> = CSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("age"))
        .map(|l| l.split(',').map(|s| s.trim().parse().unwrap()).collect())
        .collect();
    let mut state = 12345u64;
    for i in (1..rows.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        rows.swap(i, (state >> 33) as usize % (i + 1));
    }
    let n = rows.len();
    let d = rows[0].len() - 1;
    let x = Array2::from_shape_fn((n, d), |(i, c)| rows[i][c]);
    let y = Array1::from_shape_fn(n, |i| rows[i][d]);
    let ntr = n - 100;
    // Standardise with the training statistics.
    let mut xs = x.clone();
    for c in 0..d {
        let col = x.slice(s![..ntr, c]);
        let mean = col.mean().unwrap();
        let sd = col.std(0.0).max(1e-12);
        xs.column_mut(c).mapv_inplace(|v| (v - mean) / sd);
    }
    let (ym, ysd) = (
        y.slice(s![..ntr]).mean().unwrap(),
        y.slice(s![..ntr]).std(0.0),
    );
    let ys = y.mapv(|v| (v - ym) / ysd);
    let (xtr, xte) = (
        xs.slice(s![..ntr, ..]).to_owned(),
        xs.slice(s![ntr.., ..]).to_owned(),
    );
    let (ytr, yte) = (
        ys.slice(s![..ntr]).to_owned(),
        y.slice(s![ntr..]).to_owned(),
    );

    let k = keops!(|x: Vi<10>, y: Vj<10>, g: Pm<1>| exp(-g * sqdist(x, y)));

    // Hyper-parameters on a validation split of the training set (the last
    // 80 training points), with CG solves.
    let nfit = ntr - 80;
    let (xf, xv) = (xtr.slice(s![..nfit, ..]), xtr.slice(s![nfit.., ..]));
    let (yf, yv) = (
        ytr.slice(s![..nfit]).to_owned(),
        ytr.slice(s![nfit..]).to_owned(),
    );
    let mut best = (f64::INFINITY, 0.0f64, 0.0f64);
    for &g in &[0.005f64, 0.01, 0.02, 0.05, 0.1] {
        for &alpha in &[0.1, 0.3, 1.0, 3.0] {
            let a = k.bind(xf, xf, &[g])?.solve(&yf, alpha)?.solution;
            let pred = k.bind(xv, xf, &[g])?.matvec(&a)?;
            let e = rmse(&pred, &yv);
            if e < best.0 {
                best = (e, g, alpha);
            }
        }
    }
    let (_, g, alpha) = best;

    // Fit on the whole training set: CG, then the dense reference.
    let t = std::time::Instant::now();
    let fit = k.bind(&xtr, &xtr, &[g])?.solve(&ytr, alpha)?;
    let t_cg = t.elapsed().as_secs_f64();
    let pred = k.bind(&xte, &xtr, &[g])?.matvec(&fit.solution)?;
    let pred = pred.mapv(|v| v * ysd + ym);

    let t = std::time::Instant::now();
    let kd = Array2::from_shape_fn((ntr, ntr), |(i, j)| {
        let s: f64 = (0..d).map(|c| (xtr[[i, c]] - xtr[[j, c]]).powi(2)).sum();
        (-g * s).exp()
    });
    let a_dense = dense_solve(&kd, alpha, &ytr);
    let t_dense = t.elapsed().as_secs_f64();
    let pred_dense = Array1::from_shape_fn(xte.nrows(), |i| {
        (0..ntr)
            .map(|j| {
                let s: f64 = (0..d).map(|c| (xte[[i, c]] - xtr[[j, c]]).powi(2)).sum();
                (-g * s).exp() * a_dense[j]
            })
            .sum::<f64>()
            * ysd
            + ym
    });
    let baseline = rmse(&Array1::from_elem(yte.len(), ym), &yte);
    let e_cg = rmse(&pred, &yte);
    let e_dense = rmse(&pred_dense, &yte);
    let da = fit
        .solution
        .iter()
        .zip(&a_dense)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    println!(
        "diabetes data: {ntr} training and {} test patients, {d} features",
        yte.len()
    );
    println!(
        "Gaussian kernel exp(-g |x - y|^2), g = {g}, ridge alpha = {alpha} (validation RMSE {:.2})",
        best.0 * ysd
    );
    println!(
        "conjugate gradient: {} iterations, relative residual {:.1e}, {:.1} ms",
        fit.iterations,
        fit.residual,
        t_cg * 1e3
    );
    println!(
        "dense Cholesky solve: {:.1} ms; max |a_cg - a_dense| = {da:.1e}",
        t_dense * 1e3
    );
    println!("test RMSE: kernel ridge (CG) {e_cg:.2}, kernel ridge (dense) {e_dense:.2}, predicting the mean {baseline:.2}");
    let r2 = 1.0 - e_cg * e_cg / (baseline * baseline);
    println!("test R^2 (CG): {r2:.3}");

    // Predicted (vertical) against true (horizontal) disease progression,
    // with the diagonal; no text (plotters' bitmap backend only, no fonts).
    let lo = yte
        .iter()
        .chain(pred.iter())
        .cloned()
        .fold(f64::INFINITY, f64::min)
        - 10.0;
    let hi = yte
        .iter()
        .chain(pred.iter())
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max)
        + 10.0;
    let root = BitMapBackend::new(&out, (640, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(lo, lo), (hi, lo), (hi, hi), (lo, hi), (lo, lo)],
        BLACK,
    )))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(lo, lo), (hi, hi)],
        RGBColor(150, 150, 150),
    )))?;
    chart.draw_series(
        yte.iter()
            .zip(pred_dense.iter())
            .map(|(&t, &p)| Circle::new((t, p), 5, RED.stroke_width(1))),
    )?;
    chart.draw_series(
        yte.iter()
            .zip(pred.iter())
            .map(|(&t, &p)| Circle::new((t, p), 3, BLUE.filled())),
    )?;
    root.present()?;
    println!("wrote {out}: predicted (vertical) vs true (horizontal) progression on the test set, blue dots CG, red rings dense, grey line y = x");
    Ok(())
}
