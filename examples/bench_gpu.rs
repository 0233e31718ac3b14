//! GPU benchmark and GPU-versus-CPU check (issue 13; run by
//! `scripts/gpu_check/run.sh` on a machine with a CUDA device):
//!
//! ```text
//! cargo build --release --features cuda --example bench_gpu
//! bench_gpu bench [--sizes 1e4,1e5,1e6] [--cases gauss,lse,gauss_grad_x,knn3,knn64]
//!                 [--dtypes f32,f64] [--max-call-s 3] [--budget-s 120]
//! bench_gpu check [--n 1000]
//! ```
//!
//! `bench` prints one line per case, `BENCH key=value ...` (the format of
//! `scripts/gpu_check/bench_pykeops_gpu.py`): `impl=keops-rs case= dtype= M=
//! N= reps= median_s= pairs_per_s= checksum=` and, at the smallest size,
//! `check=` (largest error relative to the largest value of the CPU back end
//! in f64 on the same data, or the recall of the neighbour sets); or
//! `status=skipped`/`status=error` with `msg=` last. Inputs stay on the
//! device (`DeviceRows`), results are left there (`call_device`, which
//! returns after the device is done); each case is warmed up once (module
//! load) at a small size; the timed calls repeat until 3 calls and 0.3 s,
//! or 1 s, and the median is printed. A size whose estimated call time
//! (from the previous size's rate) exceeds `--max-call-s` is skipped, and so
//! is everything after `--budget-s` seconds.
//!
//! `check` runs every case once at M = N = `--n` (and the 2D scheme, and host
//! inputs) on the GPU and on the CPU back end, prints `CHECK` lines and
//! exits with 1 if one disagrees: the small GPU workload that
//! `compute-sanitizer` runs.
//!
//! Data: coordinates, weights in [0, 1) from a counter-based generator
//! (splitmix64 of `seed << 32 | index`, the top 53 bits over 2^53, rounded to
//! the data type) that the pykeops script reproduces exactly; g = 0.5.
//! Without a device (or without the `cuda` feature) it says so and exits
//! with status 2.

use keops::prelude::*;
use std::time::Instant;

const GPU: Backend = Backend::Gpu { device: 0 };
const G: f64 = 0.5;

/// Uniform [0, 1) value `idx` of stream `seed` (shared with the pykeops script).
fn u01(seed: u64, idx: u64) -> f64 {
    let mut z = (seed << 32).wrapping_add(idx);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A `rows × cols` matrix of stream `seed`, row-major.
fn data(seed: u64, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, k)| u01(seed, (i * cols + k) as u64))
}

/// Sum of a device matrix's entries (f64), off the clock.
trait Checksum {
    fn checksum(&self) -> Result<f64>;
}

impl Checksum for DeviceRows<f32> {
    fn checksum(&self) -> Result<f64> {
        Ok(self.to_host()?.iter().map(|&v| v as f64).sum())
    }
}

impl Checksum for DeviceRows<f64> {
    fn checksum(&self) -> Result<f64> {
        Ok(self.to_host()?.iter().sum())
    }
}

impl Checksum for DeviceRows<u64> {
    fn checksum(&self) -> Result<f64> {
        Ok(self.to_host()?.iter().map(|&v| v as f64).sum())
    }
}

/// Times `f`: calls until 3 calls and 0.3 s, or 1 s, at most 20; the median.
fn time<T>(mut f: impl FnMut() -> Result<T>) -> Result<(f64, usize, T)> {
    let mut times = Vec::new();
    let start = Instant::now();
    let mut last;
    loop {
        let t = Instant::now();
        last = f()?;
        times.push(t.elapsed().as_secs_f64());
        let total = start.elapsed().as_secs_f64();
        if (times.len() >= 3 && total >= 0.3) || total >= 1.0 || times.len() >= 20 {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.len(), last))
}

/// Largest |a - r| over the largest |r|.
fn rel_err(a: impl Iterator<Item = f64>, r: &Array2<f64>) -> f64 {
    let scale = r.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.zip(r.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Fraction of the reference neighbour sets found.
fn recall(a: &Array2<u64>, r: &Array2<usize>) -> f64 {
    let mut hit = 0usize;
    for (ra, rr) in a.rows().into_iter().zip(r.rows()) {
        hit += ra
            .iter()
            .filter(|&&v| rr.iter().any(|&w| w as u64 == v))
            .count();
    }
    hit as f64 / r.len().max(1) as f64
}

fn parse_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_size(s: &str) -> usize {
    s.parse::<f64>()
        .ok()
        .filter(|v| *v >= 1.0)
        .map(|v| v as usize)
        .unwrap_or_else(|| {
            eprintln!("bench_gpu: bad size {s:?}");
            std::process::exit(2)
        })
}

struct Args {
    mode: String,
    sizes: Vec<usize>,
    cases: Vec<String>,
    dtypes: Vec<String>,
    max_call_s: f64,
    budget_s: f64,
    n_check: usize,
}

fn args() -> Args {
    let mut a = Args {
        mode: "bench".into(),
        sizes: vec![10_000, 100_000, 1_000_000],
        cases: parse_list("gauss,lse,gauss_grad_x,knn3,knn64"),
        dtypes: parse_list("f32,f64"),
        max_call_s: 3.0,
        budget_s: 120.0,
        n_check: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut val = || {
            it.next().unwrap_or_else(|| {
                eprintln!("bench_gpu: {s} needs a value");
                std::process::exit(2)
            })
        };
        match s.as_str() {
            "bench" | "check" => a.mode = s.clone(),
            "--sizes" => a.sizes = val().split(',').map(parse_size).collect(),
            "--cases" => a.cases = parse_list(&val()),
            "--dtypes" => a.dtypes = parse_list(&val()),
            "--max-call-s" => a.max_call_s = val().parse().unwrap_or(3.0),
            "--budget-s" => a.budget_s = val().parse().unwrap_or(120.0),
            "--n" => a.n_check = parse_size(&val()),
            _ => {
                eprintln!("bench_gpu: unknown argument {s:?} (see the example's documentation)");
                std::process::exit(2)
            }
        }
    }
    a
}

/// Stops with status 2 unless a CUDA device answers.
fn require_device() {
    let probe = Array2::<f32>::zeros((1, 1));
    match DeviceRows::from_host(GPU, probe.view()) {
        Ok(_) => {}
        Err(e) => {
            println!("bench_gpu: no CUDA device: {e}");
            eprintln!(
                "bench_gpu: needs a CUDA device and a build with `--features cuda` (this build: cuda feature {})",
                if cfg!(feature = "cuda") { "on" } else { "off" }
            );
            std::process::exit(2);
        }
    }
}

/// One benchmark case in one precision: warm-up, sizes, lines. The
/// kernels (`gauss`, `lse`, `knn3`, `knn64`, `gx`, on the GPU back end) are
/// those of `main`.
macro_rules! bench_case {
    ($t:ty, $dtype:expr, $case:expr, $a:expr, $deadline:expr, $gauss:ident, $lse:ident, $knn3:ident, $knn64:ident, $gx:ident) => {{
        let a: &Args = $a;
        let case: &str = $case;
        let dtype: &str = $dtype;
        let (gauss, lse, knn3, knn64, gx) = (&$gauss, &$lse, &$knn3, &$knn64, &$gx);
        let d = if case == "knn64" { 64 } else { 3 };
        let g = [G as $t];
        // One call at M = N = 1000 (module load, allocations).
        let mut rate: Option<f64> = None;
        let mut first = true;
        for (si, &n) in std::iter::once(&1000usize).chain(a.sizes.iter()).enumerate() {
            let warm = si == 0;
            let head = format!("BENCH impl=keops-rs case={case} dtype={dtype} M={n} N={n}");
            if !warm {
                if Instant::now() > $deadline {
                    println!("{head} status=skipped msg=budget of {} s spent", a.budget_s);
                    continue;
                }
                if let Some(r) = rate {
                    let est = (n as f64) * (n as f64) / r;
                    if est > a.max_call_s {
                        println!("{head} status=skipped msg=estimated {est:.1} s per call > --max-call-s {}", a.max_call_s);
                        continue;
                    }
                }
            }
            let x64 = data(1, n, d);
            let y64 = data(2, n, d);
            let b64 = data(3, n, 1);
            let (x, y, b) = (x64.mapv(|v| v as $t), y64.mapv(|v| v as $t), b64.mapv(|v| v as $t));
            let e = Array2::<$t>::ones((n, 1));
            let up = || -> Result<_> {
                Ok((
                    DeviceRows::from_host(GPU, x.view())?,
                    DeviceRows::from_host(GPU, y.view())?,
                    DeviceRows::from_host(GPU, b.view())?,
                    DeviceRows::from_host(GPU, e.view())?,
                ))
            };
            let r: Result<(f64, usize, f64, String)> = (|| {
                let (xd, yd, bd, ed) = up()?;
                // Reference on the CPU in f64 (same rounded data) at the smallest size.
                let want_check = !warm && first;
                let xr = x.mapv(|v| v as f64);
                let yr = y.mapv(|v| v as f64);
                let br = b.mapv(|v| v as f64);
                let er = Array2::<f64>::ones((n, 1));
                let cpu = Backend::Cpu;
                match case {
                    "gauss" => {
                        let (t, reps, out) = time(|| gauss.call_device(&xd, &yd, &bd, &g[..]))?;
                        let mut check = String::new();
                        if want_check {
                            let r = gauss.backend(cpu).call(&xr, &yr, &br, &[G])?;
                            let o = out.to_host()?;
                            check = format!("relerr_cpu64:{:.2e}", rel_err(o.iter().map(|&v| v as f64), &r));
                        }
                        Ok((t, reps, out.checksum()?, check))
                    }
                    "lse" => {
                        let (t, reps, out) = time(|| lse.call_device(&xd, &yd, &g[..]))?;
                        let mut check = String::new();
                        if want_check {
                            let r = lse.backend(cpu).call(&xr, &yr, &[G])?;
                            let o = out.to_host()?;
                            check = format!("relerr_cpu64:{:.2e}", rel_err(o.iter().map(|&v| v as f64), &r));
                        }
                        Ok((t, reps, out.checksum()?, check))
                    }
                    "gauss_grad_x" => {
                        let (t, reps, out) = time(|| gx.call_device(&xd, &yd, &bd, &g[..], &ed))?;
                        let mut check = String::new();
                        if want_check {
                            let r = gx.backend(cpu).call(&xr, &yr, &br, &[G], &er)?;
                            let o = out.to_host()?;
                            check = format!("relerr_cpu64:{:.2e}", rel_err(o.iter().map(|&v| v as f64), &r));
                        }
                        Ok((t, reps, out.checksum()?, check))
                    }
                    "knn3" => {
                        let (t, reps, out) = time(|| knn3.call_device(&xd, &yd))?;
                        let mut check = String::new();
                        if want_check {
                            let r = knn3.backend(cpu).call(&xr, &yr)?;
                            check = format!("recall_cpu64:{:.4}", recall(&out.to_host()?, &r));
                        }
                        Ok((t, reps, out.checksum()?, check))
                    }
                    "knn64" => {
                        let (t, reps, out) = time(|| knn64.call_device(&xd, &yd))?;
                        let mut check = String::new();
                        if want_check {
                            let r = knn64.backend(cpu).call(&xr, &yr)?;
                            check = format!("recall_cpu64:{:.4}", recall(&out.to_host()?, &r));
                        }
                        Ok((t, reps, out.checksum()?, check))
                    }
                    other => Err(Error::Unsupported(format!("unknown case {other}"))),
                }
            })();
            match r {
                Ok((t, reps, sum, check)) => {
                    let pairs = (n as f64) * (n as f64);
                    rate = Some(pairs / t);
                    if warm {
                        continue;
                    }
                    first = false;
                    let check = if check.is_empty() { String::new() } else { format!(" check={check}") };
                    println!(
                        "{head} reps={reps} median_s={t:.6e} pairs_per_s={:.4e} checksum={sum:.10e}{check}",
                        pairs / t
                    );
                }
                Err(err) => {
                    println!("{head} status=error msg={err}");
                    if warm {
                        break;
                    }
                }
            }
        }
    }};
}

/// Compares a GPU result with the CPU back end's; prints a CHECK line.
fn report(what: &str, err: f64, tol: f64, fails: &mut u32) {
    let ok = err <= tol;
    if !ok {
        *fails += 1;
    }
    println!(
        "CHECK {what} err={err:.2e} tol={tol:.0e} {}",
        if ok { "ok" } else { "FAIL" }
    );
}

/// The GPU-versus-CPU check at M = `n` (N = `n` + 37): the number of
/// disagreements. The kernels are those of `main`, on the CPU back end.
macro_rules! check {
    ($n:expr, $gauss:ident, $lse:ident, $soft:ident, $knn:ident, $mn:ident) => {{
        let n: usize = $n;
        let (gauss, lse, soft, knn, mn) = (&$gauss, &$lse, &$soft, &$knn, &$mn);
        let mut fails = 0u32;
        let (x, y, b) = (data(1, n, 3), data(2, n + 37, 3), data(3, n + 37, 1));
        let e = data(4, n, 1);
        let (x2, y2, w) = (data(5, n, 2), data(6, n + 37, 2), data(7, n + 37, 3));
        let (x64, y64) = (data(8, n, 64), data(9, n + 37, 64));
        let f32s = |a: &Array2<f64>| a.mapv(|v| v as f32);
        let back = |a: Array2<f32>| a.mapv(|v| v as f64);
        let gg = [G];
        let gg32 = [G as f32];
        let tol32 = 1e-5;
        let tol64 = 1e-12;
        for (scheme, name) in [
            (GpuScheme::Auto, "auto"),
            (GpuScheme::TwoD { chunk_len: 0 }, "2d"),
        ] {
            let opts = Options {
                backend: GPU,
                gpu_scheme: scheme,
                ..Options::DEFAULT
            };
            // Gaussian sum, f64 and f32, device inputs.
            let r = gauss.call(&x, &y, &b, &gg)?;
            let xd = DeviceRows::from_host(GPU, x.view())?;
            let o = gauss.with_options(opts).call(&xd, &y, &b, &gg)?;
            report(
                &format!("gauss f64 {name}"),
                rel_err(o.iter().copied(), &r),
                tol64,
                &mut fails,
            );
            let (x32, y32, b32) = (f32s(&x), f32s(&y), f32s(&b));
            let r = gauss.call(
                &back(x32.clone()),
                &back(y32.clone()),
                &back(b32.clone()),
                &gg,
            )?;
            let o = gauss
                .with_options(opts)
                .call_device(&x32, &y32, &b32, &gg32)?
                .to_host()?;
            report(
                &format!("gauss f32 {name}"),
                rel_err(o.iter().map(|&v| v as f64), &r),
                tol32,
                &mut fails,
            );
            // Gradient w.r.t. x (two stages on the device when needed).
            let r = gauss.grad_x().call(&x, &y, &b, &gg, &e)?;
            let o = gauss
                .grad_x()
                .with_options(opts)
                .call(&x, &y, &b, &gg, &e)?;
            report(
                &format!("gauss_grad_x f64 {name}"),
                rel_err(o.iter().copied(), &r),
                tol64,
                &mut fails,
            );
            // logsumexp, softmax weights.
            let r = lse.call(&x, &y, &gg)?;
            let o = lse.with_options(opts).call(&x, &y, &gg)?;
            report(
                &format!("lse f64 {name}"),
                rel_err(o.iter().copied(), &r),
                tol64,
                &mut fails,
            );
            let r = soft.call(&x2, &y2, &w, &gg)?;
            let o = soft.with_options(opts).call(&x2, &y2, &w, &gg)?;
            report(
                &format!("softmax f64 {name}"),
                rel_err(o.iter().copied(), &r),
                tol64,
                &mut fails,
            );
            // k-NN D = 64 (f32), min_argmin over i (f64): indices.
            let r = knn.call(&f32s(&x64), &f32s(&y64))?;
            let o = knn.with_options(opts).call(&f32s(&x64), &f32s(&y64))?;
            let miss =
                o.iter().zip(r.iter()).filter(|(a, b)| a != b).count() as f64 / r.len() as f64;
            report(
                &format!("knn64 f32 {name} (fraction of differing indices)"),
                miss,
                1e-3,
                &mut fails,
            );
            let (rv, ri) = mn.call(&x2, &y2)?;
            let (ov, oi) = mn.with_options(opts).call(&x2, &y2)?;
            let miss =
                oi.iter().zip(ri.iter()).filter(|(a, b)| a != b).count() as f64 / ri.len() as f64;
            report(
                &format!("min_argmin_i f64 {name} (indices)"),
                miss,
                0.0,
                &mut fails,
            );
            report(
                &format!("min_argmin_i f64 {name} (values)"),
                rel_err(ov.iter().copied(), &rv),
                tol64,
                &mut fails,
            );
        }
        Ok::<u32, Error>(fails)
    }};
}

fn main() {
    let a = args();
    require_device();
    // Every kernel once (on the CPU back end; calls pick the GPU with
    // `backend` or `with_options`).
    let gauss = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
        sum_j(exp(-g * sqdist(x, y)) * b)
    });
    let lse = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(
        -g * sqdist(x, y)
    ));
    let soft = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>, w: Vj<3>, g: Pm<1>| {
        sumsoftmaxweight_j(-g * sqdist(x, y), w)
    });
    let knn3 = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| argkmin_j(
        sqdist(x, y),
        10
    ));
    let knn64 = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
        sqdist(x, y),
        10
    ));
    let mn = keops!(grad_order = 0, |x: Vi<2>, y: Vj<2>| min_argmin_i(sqdist(
        x, y
    )));
    if a.mode == "check" {
        let r = (|| check!(a.n_check, gauss, lse, soft, knn64, mn))();
        match r {
            Ok(0) => println!("CHECK all ok"),
            Ok(f) => {
                println!("CHECK {f} failed");
                std::process::exit(1)
            }
            Err(e) => {
                println!("CHECK error: {e}");
                std::process::exit(1)
            }
        }
        return;
    }
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(a.budget_s);
    let gx = gauss.grad_x().backend(GPU);
    let (gauss, lse, knn3, knn64) = (
        gauss.backend(GPU),
        lse.backend(GPU),
        knn3.backend(GPU),
        knn64.backend(GPU),
    );
    for dtype in &a.dtypes {
        for case in &a.cases {
            match dtype.as_str() {
                "f32" => bench_case!(
                    f32,
                    "f32",
                    case.as_str(),
                    &a,
                    deadline,
                    gauss,
                    lse,
                    knn3,
                    knn64,
                    gx
                ),
                "f64" => bench_case!(
                    f64,
                    "f64",
                    case.as_str(),
                    &a,
                    deadline,
                    gauss,
                    lse,
                    knn3,
                    knn64,
                    gx
                ),
                other => println!(
                    "BENCH impl=keops-rs case={case} dtype={other} status=error msg=unknown dtype"
                ),
            }
        }
    }
}
