//! A formula typed at run time, on a CSV file of any width: no compiler.
//!
//! ```text
//! cargo run --release --example formula -- "<formula>" data.csv [data_j.csv]
//! cargo run --release --example formula -- \
//!     "|x: Vi<_>, y: Vj<_>| logsumexp_j(-sqdist(x, y))" examples/data/points.csv
//! cargo run --release --example formula -- --keops "Exp(-SqDist(x,y))" "x = Vi(D)" "y = Vj(D)" Sum 1 data.csv
//! ```
//!
//! The formula's `Vi` variables read the first file's rows, its `Vj`
//! variables the second file's (the first one again if there is none): the
//! columns are cut between the variables in order, and each `_` width takes
//! what the others leave. With `--keops`, the formula, its aliases (`D`
//! stands for the file's width), the reduction and the axis are pykeops
//! `Genred`'s. Prints the first rows of the result and the time from the
//! string to the result.

use std::error::Error;
use std::time::Instant;

use keops::formula::{Cat, Input, Output};
use keops::ndarray::{s, Array2};
use keops::Formula;

fn read_csv(path: &str) -> Result<Array2<f64>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (k, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        match fields
            .iter()
            .map(|f| f.parse::<f64>())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(r) => rows.push(r),
            // A header line.
            Err(_) if rows.is_empty() => continue,
            Err(e) => return Err(format!("{path}:{}: {e}", k + 1).into()),
        }
    }
    let d = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != d) {
        return Err(format!("{path}: rows of different lengths").into());
    }
    Ok(Array2::from_shape_vec((rows.len(), d), rows.concat())?)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: formula \"<formula>\" data.csv [data_j.csv]\n       formula --keops \"<formula>\" <alias>... <reduction> <axis> data.csv [data_j.csv]";
    let t0 = Instant::now();
    let (k, files): (Formula, &[String]) = if args.first().map(String::as_str) == Some("--keops") {
        // --keops formula aliases... reduction axis file [file]
        let csv = args.iter().position(|a| a.ends_with(".csv")).ok_or(usage)?;
        if csv < 5 {
            return Err(usage.into());
        }
        let width = read_csv(&args[csv])?.ncols();
        let aliases: Vec<String> = args[2..csv - 2]
            .iter()
            .map(|a| a.replace('D', &width.to_string()))
            .collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let axis: usize = args[csv - 1].parse()?;
        (
            Formula::genred(&args[1], &aliases, &args[csv - 2], axis, None, None)?,
            &args[csv..],
        )
    } else if args.len() >= 2 {
        (Formula::new(&args[0])?, &args[1..])
    } else {
        return Err(usage.into());
    };
    let xi = read_csv(&files[0])?;
    let xj = match files.get(1) {
        Some(f) => read_csv(f)?,
        None => xi.clone(),
    };
    // The variables' columns: declared widths first, `_` ones share the rest.
    let def = keops_ir_params(&k, &xi, &xj)?;
    let inputs: Vec<&dyn Input<f64>> = def.iter().map(|a| a as &dyn Input<f64>).collect();
    let out = k.call(&inputs)?;
    let dt = t0.elapsed();
    match out {
        Output::Rows(a) => println!("{:.6}", a.slice(s![..a.nrows().min(5), ..])),
        Output::Indices(i) => println!("{}", i.slice(s![..i.nrows().min(5), ..])),
        Output::Pair(a, i) => println!(
            "{:.6}\n{}",
            a.slice(s![..a.nrows().min(5), ..]),
            i.slice(s![..i.nrows().min(5), ..])
        ),
        Output::Vector(v) => println!("{v:.6}"),
    }
    println!(
        "{} x {} points, width {}: {:.3} ms from the string to the result",
        xi.nrows(),
        xj.nrows(),
        xi.ncols(),
        dt.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The inputs of `k`: each variable's columns of the `i` or `j` file.
fn keops_ir_params(
    k: &Formula,
    xi: &Array2<f64>,
    xj: &Array2<f64>,
) -> Result<Vec<Array2<f64>>, Box<dyn Error>> {
    let vars = k.variables();
    if let Some(p) = vars.iter().find(|v| v.cat == Cat::P) {
        return Err(format!(
            "`{}` is a parameter: this example reads point variables only",
            p.name
        )
        .into());
    }
    let mut out = Vec::new();
    for (cat, data) in [(Cat::I, xi), (Cat::J, xj)] {
        let mine: Vec<_> = vars.iter().filter(|v| v.cat == cat).collect();
        let fixed: usize = mine.iter().filter_map(|v| v.width).sum();
        let free = mine.iter().filter(|v| v.width.is_none()).count();
        if fixed > data.ncols() || (free == 0 && fixed != data.ncols() && !mine.is_empty()) {
            return Err(format!(
                "the {cat:?} variables take {fixed} columns, the file has {}",
                data.ncols()
            )
            .into());
        }
        let share = (data.ncols() - fixed).checked_div(free).unwrap_or(0);
        let mut c = 0;
        for v in mine {
            let w = v.width.unwrap_or(share);
            out.push((v.name.clone(), data.slice(s![.., c..c + w]).to_owned()));
            c += w;
        }
    }
    // Back in the formula's order.
    Ok(vars
        .iter()
        .map(|v| {
            let k = out
                .iter()
                .position(|(n, _)| *n == v.name)
                .expect("every variable");
            out[k].1.clone()
        })
        .collect())
}
