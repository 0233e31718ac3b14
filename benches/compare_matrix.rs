//! The Rust side of `benches/compare_matrix.py`: `K @ V` for the symbolic
//! Gaussian matrix `exp(-g * sqdist(x, y))` (D = 3, f32) with V of width W
//! known at run time, on data files written by the script; prints the
//! timings as one line of JSON and writes the result (`out_rs.bin`).
//!
//! ```text
//! cargo bench --bench compare_matrix -- <data dir> <repeats>
//! ```
//!
//! The data directory holds raw little-endian f32 arrays `x.bin`, `y.bin`,
//! `v.bin` and `shape.txt` (`M N D W`).

use std::time::Instant;

use keops::prelude::*;

fn read(path: &std::path::Path, rows: usize, cols: usize) -> Array2<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes.len(), rows * cols * 4, "{}", path.display());
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Array2::from_shape_vec((rows, cols), v).unwrap()
}

/// CPU time (user + system) of this process so far, in seconds (Linux;
/// 0 elsewhere): with other work on the machine, flops per CPU second
/// measure the kernel's efficiency per core.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() < 2 {
        eprintln!("usage: compare_matrix <data dir> [repeats]");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let repeats: usize = args.get(2).map_or(5, |s| s.parse().unwrap());
    let shape = std::fs::read_to_string(dir.join("shape.txt")).unwrap();
    let s: Vec<usize> = shape
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let (m, n, d, w) = (s[0], s[1], s[2], s[3]);
    assert_eq!(d, 3, "the benchmark formula is in D = 3");
    let x = read(&dir.join("x.bin"), m, d);
    let y = read(&dir.join("y.bin"), n, d);
    let v = read(&dir.join("v.bin"), n, w);
    let k = keops!(|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y)));
    let g = [0.5f32];
    let kxy = k.bind(&x, &y, &g).unwrap();
    // KEOPS_MATRIX_PATH=fused|gemm forces a CPU path (to compare them).
    let path = match std::env::var("KEOPS_MATRIX_PATH").as_deref() {
        Ok("fused") => keops::matrix::CpuPath::Fused,
        Ok("gemm") => keops::matrix::CpuPath::Gemm,
        _ => keops::matrix::CpuPath::Auto,
    };
    let mut times = Vec::new();
    let mut out = Array2::<f32>::zeros((0, 0));
    let cpu0 = cpu_seconds();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        out = kxy.matmul_path(v.view(), path).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - cpu0) / repeats.max(1) as f64;
    let first = times[0];
    let med = median(times);
    let bytes: Vec<u8> = out.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("out_rs.bin"), bytes).unwrap();
    let flops = 2.0 * m as f64 * n as f64 * w as f64;
    println!(
        "{{\"first_s\": {first}, \"median_s\": {med}, \"cpu_s\": {cpu}, \"gflops_multiply\": {}, \"gflops_per_cpu_s\": {}}}",
        flops / med / 1e9,
        flops / cpu.max(1e-9) / 1e9
    );
}
