//! The reference evaluator: a naive f64 double loop over any stage, and the
//! interpreter of programs. It is the oracle of every test in the project;
//! it favours obviousness over speed, and it is usually run on the graph built
//! *without* simplification (see `keops_compiler::Reference`), so that simplifier or
//! back-end bugs cannot hide behind shared code.
//!
//! Conventions (shared by every back end):
//! - empty reductions: sum → 0, logsumexp → -inf, sumsoftmaxweight → 0,
//!   min → +inf, max → -inf, arg-type → index `usize::MAX`;
//! - min/max keep the first index on ties and never select NaN;
//! - K-reductions list the K best values in increasing (kmin) order, earlier
//!   index first on ties, padded with +inf and `usize::MAX` when fewer than K
//!   candidates exist; the output column of rank `r` and component `d` is
//!   `r * D + d`.

use crate::ir::{one_hot_eval, Cat, Graph, Id, Op};
use crate::stage::{Family, Program, Red, Stage, StageOut, Step, Value, VarKind};

/// A value of the reference interpreter.
#[derive(Clone, Debug, PartialEq)]
pub enum RefValue {
    /// Row-major real matrix.
    Rows {
        /// Data, `rows * cols`.
        data: Vec<f64>,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// Row-major index matrix.
    IndexRows {
        /// Data, `rows * cols`.
        data: Vec<usize>,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// Values and indices of a pair reduction.
    Pair(Box<RefValue>, Box<RefValue>),
    /// A vector (parameter).
    Vector(Vec<f64>),
}

impl RefValue {
    /// Number of rows (vectors have none).
    pub fn rows(&self) -> Option<usize> {
        match self {
            RefValue::Rows { rows, .. } | RefValue::IndexRows { rows, .. } => Some(*rows),
            RefValue::Pair(a, _) => a.rows(),
            RefValue::Vector(_) => None,
        }
    }

    /// The real data of a `Rows` or `Vector` value.
    pub fn reals(&self) -> &[f64] {
        match self {
            RefValue::Rows { data, .. } => data,
            RefValue::Vector(v) => v,
            other => panic!("not a real value: {other:?}"),
        }
    }

    /// The data of an `IndexRows` value.
    pub fn indices(&self) -> &[usize] {
        match self {
            RefValue::IndexRows { data, .. } => data,
            other => panic!("not an index value: {other:?}"),
        }
    }

    fn part(&self, p: u8) -> &RefValue {
        match self {
            RefValue::Pair(a, b) => {
                if p == 0 {
                    a
                } else {
                    b
                }
            }
            other => panic!("not a pair: {other:?}"),
        }
    }
}

/// Neumaier-compensated sum of f64 values.
#[derive(Clone, Copy, Default)]
struct CompSum {
    s: f64,
    c: f64,
}

impl CompSum {
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }
    fn value(&self) -> f64 {
        self.s + self.c
    }
}

/// Per-pair formula evaluation with a flat value buffer.
struct PairEval<'a> {
    g: &'a Graph,
    order: Vec<Id>,
    offset: Vec<usize>,
    buf: Vec<f64>,
}

impl<'a> PairEval<'a> {
    fn new(g: &'a Graph, roots: &[Id]) -> Self {
        let order = g.reachable(roots);
        let mut offset = vec![usize::MAX; g.len()];
        let mut total = 0;
        for &id in &order {
            offset[id.index()] = total;
            total += g.dim(id) as usize;
        }
        PairEval {
            g,
            order,
            offset,
            buf: vec![0.0; total],
        }
    }

    fn get(&self, id: Id) -> &[f64] {
        let o = self.offset[id.index()];
        &self.buf[o..o + self.g.dim(id) as usize]
    }

    /// Evaluates every node for the pair `(i, j)`.
    fn run(&mut self, args: &[&RefValue], cats: &[Cat], i: usize, j: usize) {
        for k in 0..self.order.len() {
            let id = self.order[k];
            let n = self.g.node(id);
            let dim = n.dim as usize;
            let mut out = vec![0.0; dim];
            match &n.op {
                Op::Var(v) => {
                    let v = *v as usize;
                    match args[v] {
                        RefValue::Vector(p) => out.copy_from_slice(p),
                        RefValue::Rows { data, cols, .. } => {
                            let r = if cats[v] == Cat::I { i } else { j };
                            out.copy_from_slice(&data[r * cols..(r + 1) * cols]);
                        }
                        other => panic!("variable bound to {other:?}"),
                    }
                }
                Op::Const(b) => out[0] = f64::from_bits(*b),
                Op::IndexMatch(v) => {
                    let v = *v as usize;
                    let RefValue::IndexRows { data, cols, .. } = args[v] else {
                        panic!("index variable bound to a non-index value")
                    };
                    let (own, other) = if cats[v] == Cat::I { (i, j) } else { (j, i) };
                    for c in 0..dim {
                        out[c] = if data[own * cols + c] == other {
                            1.0
                        } else {
                            0.0
                        };
                    }
                }
                Op::Un(u) => {
                    let a = self.get(n.args[0]);
                    let f = u.evaluator();
                    for c in 0..dim {
                        out[c] = f(a[c]);
                    }
                }
                Op::Bin(b) => {
                    let a = self.get(n.args[0]);
                    let bb = self.get(n.args[1]);
                    let f = b.evaluator();
                    for c in 0..dim {
                        out[c] = f(a[c], bb[c]);
                    }
                }
                Op::Tern(t) => {
                    let a = self.get(n.args[0]);
                    let b = self.get(n.args[1]);
                    let cc = self.get(n.args[2]);
                    let f = t.evaluator();
                    for c in 0..dim {
                        out[c] = f(a[c], b[c], cc[c]);
                    }
                }
                // Sums start from their first term, not from +0, as the
                // lowered programs do (`lower.rs`): `0 + (-0)` is +0, so a
                // copy (a slice, a concatenation, a broadcast) or a one-term
                // product of -0 would lose its sign, which `atan2` on its
                // branch cut, `1 / x` and `copysign`-like results see
                // (seed 1718123457, formulas 95 and 239: atan2(+0, -0) = pi
                // in every back end, 0 in the reference).
                Op::Gather(m) => {
                    for (c, s) in m.sources.iter().enumerate() {
                        let mut terms = s
                            .iter()
                            .map(|&(arg, comp)| self.get(n.args[arg as usize])[comp as usize]);
                        let first = terms.next().unwrap_or(0.0);
                        out[c] = terms.fold(first, |acc, t| acc + t);
                    }
                }
                Op::Bilinear(m) => {
                    let a = self.get(n.args[0]);
                    let b = self.get(n.args[1]);
                    let mut started = vec![false; dim];
                    for &(o, ia, ib) in &m.terms {
                        let t = a[ia as usize] * b[ib as usize];
                        let o = o as usize;
                        out[o] = if started[o] { out[o] + t } else { t };
                        started[o] = true;
                    }
                }
                Op::VecRed(r) => out[0] = r.eval(self.get(n.args[0])),
                Op::OneHot => {
                    let x = self.get(n.args[0])[0];
                    for c in 0..dim {
                        out[c] = one_hot_eval(x, c as u32);
                    }
                }
            }
            let o = self.offset[id.index()];
            self.buf[o..o + dim].copy_from_slice(&out);
        }
    }
}

/// Number of rows of category `cat` among `args` (bound to variables of categories `cats`).
fn rows_of(args: &[&RefValue], cats: &[Cat], cat: Cat) -> Result<usize, String> {
    let mut n: Option<usize> = None;
    for (a, &c) in args.iter().zip(cats) {
        if c == cat {
            let r = a.rows().ok_or("a row variable is bound to a vector")?;
            match n {
                None => n = Some(r),
                Some(m) if m != r => return Err(format!("inconsistent row counts {m} and {r}")),
                _ => {}
            }
        }
    }
    n.ok_or_else(|| format!("no variable of category {cat:?}"))
}

/// The formula values `F(outer, inner)` of a stage for every pair, as
/// `values[outer][inner]` (each of the formula's dimension). Used by tests to
/// judge arg-type results and error bounds.
pub fn pair_values(stage: &Stage, args: &[&RefValue]) -> Result<Vec<Vec<Vec<f64>>>, String> {
    let cats: Vec<Cat> = stage.vars.iter().map(|v| v.cat).collect();
    let outer = stage.outer();
    let m = rows_of(args, &cats, outer)?;
    let n = rows_of(args, &cats, stage.axis)?;
    let mut pe = PairEval::new(&stage.graph, &[stage.f]);
    let mut out = Vec::with_capacity(m);
    for o in 0..m {
        let mut row = Vec::with_capacity(n);
        for inner in 0..n {
            let (i, j) = if outer == Cat::I {
                (o, inner)
            } else {
                (inner, o)
            };
            pe.run(args, &cats, i, j);
            row.push(pe.get(stage.f).to_vec());
        }
        out.push(row);
    }
    Ok(out)
}

/// Evaluates one stage on the given arguments (one per stage variable).
pub fn eval_stage(stage: &Stage, args: &[&RefValue]) -> Result<RefValue, String> {
    let cats: Vec<Cat> = stage.vars.iter().map(|v| v.cat).collect();
    for (k, (v, a)) in stage.vars.iter().zip(args).enumerate() {
        let ok = match (v.cat, v.kind, a) {
            (Cat::P, _, RefValue::Vector(p)) => p.len() == v.dim as usize,
            (_, VarKind::Real, RefValue::Rows { cols, .. }) => *cols == v.dim as usize,
            (_, VarKind::Index, RefValue::IndexRows { cols, .. }) => *cols == v.dim as usize,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "argument {k} (`{}`) has the wrong type or shape",
                v.name
            ));
        }
    }
    let outer = stage.outer();
    let m = rows_of(args, &cats, outer)?;
    let n = rows_of(args, &cats, stage.axis)?;
    let mut roots = vec![stage.f];
    roots.extend(stage.w);
    let mut pe = PairEval::new(&stage.graph, &roots);
    let fdim = stage.graph.dim(stage.f) as usize;
    let (out_cols, is_pair, is_index) = match stage.out() {
        StageOut::Real(d) => (d as usize, false, false),
        StageOut::Index(d) => (d as usize, false, true),
        StageOut::Pair(d) => (d as usize, true, false),
    };
    let mut vals = vec![0.0; m * out_cols];
    let mut idxs = vec![usize::MAX; m * out_cols];
    let mut fvals: Vec<Vec<f64>> = Vec::with_capacity(n);
    let mut wvals: Vec<Vec<f64>> = Vec::with_capacity(n);
    for o in 0..m {
        fvals.clear();
        wvals.clear();
        for inner in 0..n {
            let (i, j) = if outer == Cat::I {
                (o, inner)
            } else {
                (inner, o)
            };
            pe.run(args, &cats, i, j);
            fvals.push(pe.get(stage.f).to_vec());
            if let Some(w) = stage.w {
                wvals.push(pe.get(w).to_vec());
            }
        }
        let row = &mut vals[o * out_cols..(o + 1) * out_cols];
        let irow = &mut idxs[o * out_cols..(o + 1) * out_cols];
        reduce_row(stage.red, fdim, &fvals, &wvals, row, irow);
    }
    let rows = RefValue::Rows {
        data: vals,
        rows: m,
        cols: out_cols,
    };
    let ind = RefValue::IndexRows {
        data: idxs,
        rows: m,
        cols: out_cols,
    };
    Ok(if is_pair {
        RefValue::Pair(Box::new(rows), Box::new(ind))
    } else if is_index {
        ind
    } else {
        rows
    })
}

/// Reduces the values `f[j]` (and weights `w[j]`) of one output row.
fn reduce_row(
    red: Red,
    fdim: usize,
    f: &[Vec<f64>],
    w: &[Vec<f64>],
    out: &mut [f64],
    idx: &mut [usize],
) {
    let fc = |j: usize, d: usize| if f[j].len() == 1 { f[j][0] } else { f[j][d] };
    match red {
        Red::Sum => {
            for d in 0..fdim {
                let mut s = CompSum::default();
                for v in f {
                    s.add(v[d]);
                }
                out[d] = s.value();
            }
        }
        Red::LogSumExp => {
            for d in 0..fdim {
                out[d] = logsumexp(f.iter().map(|v| (v[d], 1.0)));
            }
        }
        Red::LogSumExpWeight => {
            for d in 0..out.len() {
                out[d] = logsumexp((0..f.len()).map(|j| (fc(j, d), w[j][d])));
            }
        }
        Red::SumSoftmaxWeight => {
            for d in 0..out.len() {
                let m = (0..f.len())
                    .map(|j| fc(j, d))
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut num = CompSum::default();
                let mut den = CompSum::default();
                for j in 0..f.len() {
                    let e = (fc(j, d) - m).exp();
                    num.add(e * w[j][d]);
                    den.add(e);
                }
                out[d] = if f.is_empty() {
                    0.0
                } else {
                    num.value() / den.value()
                };
            }
        }
        Red::Min | Red::ArgMin | Red::MinArgMin | Red::Max | Red::ArgMax | Red::MaxArgMax => {
            let is_min = matches!(red, Red::Min | Red::ArgMin | Red::MinArgMin);
            for d in 0..fdim {
                let mut best = if is_min {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                };
                let mut bi = usize::MAX;
                for (j, v) in f.iter().enumerate() {
                    let better = if is_min { v[d] < best } else { v[d] > best };
                    if better {
                        best = v[d];
                        bi = j;
                    }
                }
                out[d] = best;
                idx[d] = bi;
            }
        }
        Red::KMin(k) | Red::ArgKMin(k) | Red::KMinArgKMin(k) => {
            let k = k as usize;
            for d in 0..fdim {
                // Stable selection: sort candidates by (value, index), NaN excluded.
                let mut cand: Vec<(f64, usize)> = f
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v[d] < f64::INFINITY)
                    .map(|(j, v)| (v[d], j))
                    .collect();
                cand.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
                for r in 0..k {
                    let (v, j) = cand.get(r).copied().unwrap_or((f64::INFINITY, usize::MAX));
                    out[r * fdim + d] = v;
                    idx[r * fdim + d] = j;
                }
            }
        }
    }
}

/// `log sum_j exp(a_j) w_j` with a max shift.
fn logsumexp(items: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let m = items
        .clone()
        .map(|(a, _)| a)
        .fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if m == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut s = CompSum::default();
    for (a, w) in items {
        s.add((a - m).exp() * w);
    }
    m + s.value().ln()
}

/// Runs a program of `fam` on its inputs.
pub fn eval_program(fam: &Family, prog: &Program, inputs: &[RefValue]) -> Result<RefValue, String> {
    if inputs.len() != prog.inputs.len() {
        return Err(format!(
            "expected {} inputs, got {}",
            prog.inputs.len(),
            inputs.len()
        ));
    }
    let mut results: Vec<RefValue> = Vec::with_capacity(prog.steps.len());
    let fetch = |v: Value, results: &Vec<RefValue>| -> RefValue {
        match v {
            Value::Input(k) => inputs[k as usize].clone(),
            Value::Step(s) => results[s as usize].clone(),
            Value::Part(s, p) => results[s as usize].part(p).clone(),
        }
    };
    let rows_of_cat = |cat: Cat| -> Result<usize, String> {
        for (d, v) in prog.inputs.iter().zip(inputs) {
            if d.cat == cat {
                if let Some(r) = v.rows() {
                    return Ok(r);
                }
            }
        }
        Err(format!("no input of category {cat:?}"))
    };
    for step in &prog.steps {
        let r = match step {
            Step::Reduce { stage, args } => {
                let vals: Vec<RefValue> = args.iter().map(|&a| fetch(a, &results)).collect();
                let refs: Vec<&RefValue> = vals.iter().collect();
                eval_stage(&fam.stages[*stage as usize], &refs)?
            }
            Step::SumRows(a) => match fetch(*a, &results) {
                RefValue::Rows { data, rows, cols } => {
                    let mut out = vec![0.0; cols];
                    for c in 0..cols {
                        let mut s = CompSum::default();
                        for r in 0..rows {
                            s.add(data[r * cols + c]);
                        }
                        out[c] = s.value();
                    }
                    RefValue::Vector(out)
                }
                other => return Err(format!("sum of rows of {other:?}")),
            },
            Step::Add(a, b) => match (fetch(*a, &results), fetch(*b, &results)) {
                (
                    RefValue::Rows {
                        data: x,
                        rows,
                        cols,
                    },
                    RefValue::Rows { data: y, .. },
                ) => RefValue::Rows {
                    data: x.iter().zip(&y).map(|(p, q)| p + q).collect(),
                    rows,
                    cols,
                },
                (RefValue::Vector(x), RefValue::Vector(y)) => {
                    RefValue::Vector(x.iter().zip(&y).map(|(p, q)| p + q).collect())
                }
                (p, q) => return Err(format!("cannot add {p:?} and {q:?}")),
            },
            Step::Zeros { cat: Cat::P, dim } => RefValue::Vector(vec![0.0; *dim as usize]),
            Step::Zeros { cat, dim } => {
                let rows = rows_of_cat(*cat)?;
                RefValue::Rows {
                    data: vec![0.0; rows * *dim as usize],
                    rows,
                    cols: *dim as usize,
                }
            }
        };
        results.push(r);
    }
    Ok(fetch(prog.output, &results))
}
