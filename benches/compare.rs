//! The Rust side of `benches/compare_pykeops.py`: runs one workload on data
//! files written by the script, prints the timings (one line of JSON), and
//! writes the result for the script to compare with pykeops.
//!
//! ```text
//! cargo bench --bench compare -- <data dir> <workload> <repeats>
//! ```
//!
//! Workloads: `gauss`, `gauss_f64`, `gauss_b16`, `lse`, `grad`, `knn3`,
//! `knn64`, `small`, `gauss784`, `grad784`, `knn784` (see the script). The data directory holds raw
//! little-endian arrays `x.bin`, `y.bin`, `b.bin` (f32, or f64 for
//! `gauss_f64`) and `shape.txt` (`M N D E`, E the width of b).

use std::time::Instant;

use keops::prelude::*;

/// Little-endian raw element types.
trait Raw: Copy + Default {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn to_le(self, out: &mut Vec<u8>);
}

macro_rules! raw {
    ($($t:ty),*) => {$(
        impl Raw for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_le(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().unwrap())
            }
            fn to_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
raw!(f32, f64, i64);

fn read<T: Raw>(path: &std::path::Path, rows: usize, cols: usize) -> Array2<T> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes.len(), rows * cols * T::SIZE, "{}", path.display());
    let v: Vec<T> = bytes.chunks_exact(T::SIZE).map(T::from_le).collect();
    Array2::from_shape_vec((rows, cols), v).unwrap()
}

fn write_raw<T: Raw>(path: &std::path::Path, a: &[T]) {
    let mut out = Vec::with_capacity(a.len() * T::SIZE);
    for &x in a {
        x.to_le(&mut out);
    }
    std::fs::write(path, out).unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Times `f` `repeats` times (the first call included in `first`).
fn time<R>(repeats: usize, mut f: impl FnMut() -> R) -> (R, f64, f64) {
    let t = Instant::now();
    let mut out = f();
    let first = t.elapsed().as_secs_f64();
    let mut times = vec![first];
    for _ in 1..repeats {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed().as_secs_f64());
    }
    (out, first, median(times))
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() < 3 {
        eprintln!("usage: compare <data dir> <workload> [repeats]");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let workload = args[2].as_str();
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let shape = std::fs::read_to_string(dir.join("shape.txt")).unwrap();
    let s: Vec<usize> = shape
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let (m, n, d, e) = (s[0], s[1], s[2], s[3]);
    let g = 0.5f32;
    let (first, med, out_path) = match workload {
        "gauss" | "small" => {
            let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
                sum_j(exp(-g * sqdist(x, y)) * b)
            });
            let (x, y, b) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
                read::<f32>(&dir.join("b.bin"), n, e),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y, &b, &[g]).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "gauss_f64" => {
            let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
                sum_j(exp(-g * sqdist(x, y)) * b)
            });
            let (x, y, b) = (
                read::<f64>(&dir.join("x.bin"), m, d),
                read::<f64>(&dir.join("y.bin"), n, d),
                read::<f64>(&dir.join("b.bin"), n, e),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y, &b, &[g as f64]).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "gauss_b16" => {
            let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, b: Vj<16>, g: Pm<1>| {
                sum_j(exp(-g * sqdist(x, y)) * b)
            });
            let (x, y, b) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
                read::<f32>(&dir.join("b.bin"), n, e),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y, &b, &[g]).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "lse" => {
            let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>, g: Pm<1>| logsumexp_j(
                -g * sqdist(x, y)
            ));
            let (x, y) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y, &[g]).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "grad" => {
            let k = keops!(grad_order = 1, |x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| {
                sum_j(exp(-g * sqdist(x, y)) * b)
            });
            let (x, y, b) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
                read::<f32>(&dir.join("b.bin"), n, e),
            );
            let ee = Array2::<f32>::ones((m, 1));
            let gx = k.grad_x();
            let (o, f, md) = time(repeats, || gx.call(&x, &y, &b, &[g], &ee).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "knn3" => {
            let k = keops!(grad_order = 0, |x: Vi<3>, y: Vj<3>| argkmin_j(
                sqdist(x, y),
                10
            ));
            let (x, y) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y).unwrap());
            let o: Vec<i64> = o.iter().map(|&v| v as i64).collect();
            write_raw(&dir.join("out_rs.bin"), &o);
            (f, md, "out_rs.bin")
        }
        "knn64" => {
            let k = keops!(grad_order = 0, |x: Vi<64>, y: Vj<64>| argkmin_j(
                sqdist(x, y),
                10
            ));
            let (x, y) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y).unwrap());
            let o: Vec<i64> = o.iter().map(|&v| v as i64).collect();
            write_raw(&dir.join("out_rs.bin"), &o);
            (f, md, "out_rs.bin")
        }
        "gauss784" => {
            let k = keops!(
                grad_order = 0,
                |x: Vi<784>, y: Vj<784>, b: Vj<1>, g: Pm<1>| { sum_j(exp(-g * sqdist(x, y)) * b) }
            );
            let (x, y, b) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
                read::<f32>(&dir.join("b.bin"), n, e),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y, &b, &[g]).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "grad784" => {
            let k = keops!(
                grad_order = 1,
                |x: Vi<784>, y: Vj<784>, b: Vj<1>, g: Pm<1>| { sum_j(exp(-g * sqdist(x, y)) * b) }
            );
            let (x, y, b) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
                read::<f32>(&dir.join("b.bin"), n, e),
            );
            let ee = Array2::<f32>::ones((m, 1));
            let gx = k.grad_x();
            let (o, f, md) = time(repeats, || gx.call(&x, &y, &b, &[g], &ee).unwrap());
            write_raw(&dir.join("out_rs.bin"), o.as_slice().unwrap());
            (f, md, "out_rs.bin")
        }
        "knn784" => {
            let k = keops!(grad_order = 0, |x: Vi<784>, y: Vj<784>| argkmin_j(
                sqdist(x, y),
                10
            ));
            let (x, y) = (
                read::<f32>(&dir.join("x.bin"), m, d),
                read::<f32>(&dir.join("y.bin"), n, d),
            );
            let (o, f, md) = time(repeats, || k.call(&x, &y).unwrap());
            let o: Vec<i64> = o.iter().map(|&v| v as i64).collect();
            write_raw(&dir.join("out_rs.bin"), &o);
            (f, md, "out_rs.bin")
        }
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    };
    println!(
        "{{\"workload\": \"{workload}\", \"first_s\": {first:.6}, \"median_s\": {med:.6}, \"gpairs\": {:.4}, \"out\": \"{out_path}\"}}",
        (m as f64) * (n as f64) / med / 1e9
    );
}
