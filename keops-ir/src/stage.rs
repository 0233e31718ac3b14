//! Stages, programs and kernel families.
//!
//! A [`Stage`] is one map-reduce: `out = Red_{axis} F(vars)`. A [`Program`] is
//! a straight-line list of [`Step`]s (stages and a little host glue) computing
//! one kernel's output from its inputs. Forward kernels are one-stage
//! programs; gradient kernels are programs derived by reverse-mode
//! differentiation *over stages* ([`Family::grad_program`]): the VJP of a
//! stage is itself a stage, so gradients of gradients come for free.
//!
//! A [`Family`] holds the forward program, every gradient program up to the
//! requested order, and the de-duplicated stages they use.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::autodiff::vjp;
use crate::ir::{Cat, Graph, Id, Op, VarInfo};
use crate::print::dag_string;

pub use crate::ir::{VarDecl, VarKind};

/// Reductions, their output shapes and state lengths (shared with the
/// back ends and the runtime: `keops_abi`).
pub use keops_abi::{acc_len, GpuMeta, Red, StageOut};

/// One map-reduce: `out = Red_{axis} F(vars)` (with a weight formula for the
/// weighted reductions).
#[derive(Clone, Debug)]
pub struct Stage {
    /// Inputs, in order (the graph's variables).
    pub vars: Vec<VarDecl>,
    /// The reduced index: `Cat::J` for `sum_j` (one output row per i).
    pub axis: Cat,
    /// Reduction.
    pub red: Red,
    /// The arena holding the formula.
    pub graph: Graph,
    /// The formula.
    pub f: Id,
    /// The weight formula of `logsumexp_weight` / `sumsoftmaxweight`.
    pub w: Option<Id>,
}

impl Stage {
    /// The category of the output rows (the index that is not reduced).
    pub fn outer(&self) -> Cat {
        self.axis.swap()
    }

    /// Output shape per row.
    pub fn out(&self) -> StageOut {
        let wdim = self.w.map(|w| self.graph.dim(w)).unwrap_or(0);
        self.red.out(self.graph.dim(self.f), wdim)
    }

    /// Canonical text of the stage (used to de-duplicate stages).
    pub fn key(&self) -> String {
        let mut s = String::new();
        for v in &self.vars {
            let _ = write!(s, "{}:{}<{}>{:?};", v.name, v.cat.spelling(), v.dim, v.kind);
        }
        let _ = write!(s, "|{:?} over {:?}|", self.red, self.axis);
        let mut roots = vec![self.f];
        roots.extend(self.w);
        s.push_str(&dag_string(&self.graph, &roots, &self.vars));
        s
    }

    /// Number of scalar operations per pair (formula and weight).
    pub fn op_count(&self) -> usize {
        let mut roots = vec![self.f];
        roots.extend(self.w);
        self.graph.op_count(&roots)
    }

    /// Estimated size of the stage's scalar programs: its operations, the
    /// components of its inputs and the components of its output (see
    /// [`crate::limits::MAX_SCALAR_OPS`]).
    pub fn scalar_cost(&self) -> usize {
        let inputs: usize = self.vars.iter().map(|v| v.dim as usize).sum();
        let out = match self.out() {
            StageOut::Real(d) | StageOut::Index(d) => d as usize,
            StageOut::Pair(d) => 2 * d as usize,
        };
        self.op_count() + inputs + out
    }
}

/// The family being built would exceed its budget of scalar operations
/// ([`crate::limits::MAX_SCALAR_OPS`]) or of IR nodes
/// ([`crate::limits::MAX_FAMILY_NODES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// Total estimated scalar operations of the stages built so far.
    pub cost: usize,
    /// Total IR nodes of the stages built so far.
    pub nodes: usize,
    /// Kernels (programs) built so far.
    pub kernels: usize,
}

/// A value in a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// Program input number `k`.
    Input(u32),
    /// The whole result of step `k`.
    Step(u32),
    /// Part `p` of a pair result of step `k` (0: values, 1: indices).
    Part(u32, u8),
}

/// One step of a program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Run stage `stage` of the family with these values bound to its variables.
    Reduce {
        /// Stage number in the family.
        stage: u32,
        /// One value per stage variable.
        args: Vec<Value>,
    },
    /// Sum of the rows of a matrix (gives a parameter vector).
    SumRows(Value),
    /// Element-wise sum of two values of the same type.
    Add(Value, Value),
    /// Zeros shaped like a variable of this category and dimension.
    Zeros {
        /// Category (rows follow the inputs of this category; `P` gives a vector).
        cat: Cat,
        /// Dimension.
        dim: u32,
    },
}

/// The type of a program value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Real matrix with one row per index of `cat`.
    Rows {
        /// Row category.
        cat: Cat,
        /// Columns.
        dim: u32,
    },
    /// Index matrix with one row per index of `cat`.
    IndexRows {
        /// Row category.
        cat: Cat,
        /// Columns.
        dim: u32,
    },
    /// Values and indices.
    Pair {
        /// Row category.
        cat: Cat,
        /// Columns of each part.
        dim: u32,
    },
    /// A real vector (parameter-like).
    Vector {
        /// Length.
        dim: u32,
    },
}

/// A kernel: inputs, steps and the output value.
#[derive(Clone, Debug)]
pub struct Program {
    /// Inputs, in call order.
    pub inputs: Vec<VarDecl>,
    /// Steps, in execution order.
    pub steps: Vec<Step>,
    /// The result.
    pub output: Value,
}

/// The forward program, its gradient programs and their stages.
#[derive(Clone, Debug)]
pub struct Family {
    /// De-duplicated stages.
    pub stages: Vec<Stage>,
    stage_keys: HashMap<String, u32>,
    /// Programs by derivation path: `[]` is the forward kernel, `["x"]` its
    /// gradient with respect to `x`, `["x", "e"]` the gradient of that with
    /// respect to its cotangent input `e`, and so on.
    pub programs: Vec<(Vec<String>, Program)>,
    simplify: bool,
}

impl Family {
    /// A family whose forward kernel is `stage`, with gradient programs up to `order`.
    pub fn new(stage: Stage, order: u32) -> Family {
        match Family::with_budget(stage, order, usize::MAX, usize::MAX) {
            Ok(f) => f,
            Err(_) => unreachable!("unlimited budget"),
        }
    }

    /// Like [`Family::new`], but stops with an error as soon as the
    /// estimated scalar cost of the stages ([`Stage::scalar_cost`], summed)
    /// exceeds `budget`, or their IR nodes exceed `node_budget`.
    pub fn with_budget(
        stage: Stage,
        order: u32,
        budget: usize,
        node_budget: usize,
    ) -> Result<Family, TooLarge> {
        let simplify = stage.graph.simplifies();
        let inputs = stage.vars.clone();
        let mut fam = Family {
            stages: Vec::new(),
            stage_keys: HashMap::new(),
            programs: Vec::new(),
            simplify,
        };
        let mut cost = stage.scalar_cost();
        let mut nodes = stage.graph.len();
        let sid = fam.add_stage(stage);
        let args = (0..inputs.len() as u32).map(Value::Input).collect();
        let prog = Program {
            inputs,
            steps: vec![Step::Reduce { stage: sid, args }],
            output: Value::Step(0),
        };
        fam.programs.push((Vec::new(), prog));
        let mut frontier = vec![0usize];
        for _ in 0..order {
            let mut next = Vec::new();
            for &p in &frontier {
                let (path, prog) = fam.programs[p].clone();
                for (k, input) in prog.inputs.iter().enumerate() {
                    if input.kind == VarKind::Index {
                        continue;
                    }
                    if cost > budget || nodes > node_budget {
                        return Err(TooLarge {
                            cost,
                            nodes,
                            kernels: fam.programs.len(),
                        });
                    }
                    let before = fam.stages.len();
                    let g = fam.grad_program(&prog, k);
                    for st in &fam.stages[before..] {
                        cost = cost.saturating_add(st.scalar_cost());
                        nodes = nodes.saturating_add(st.graph.len());
                    }
                    let mut gp = path.clone();
                    gp.push(input.name.clone());
                    fam.programs.push((gp, g));
                    next.push(fam.programs.len() - 1);
                }
            }
            frontier = next;
        }
        if cost > budget || nodes > node_budget {
            return Err(TooLarge {
                cost,
                nodes,
                kernels: fam.programs.len(),
            });
        }
        Ok(fam)
    }

    /// The program at a derivation path.
    pub fn program(&self, path: &[&str]) -> Option<&Program> {
        self.programs
            .iter()
            .find(|(p, _)| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b))
            .map(|(_, prog)| prog)
    }

    /// Adds a stage (or finds an identical one) and returns its number.
    pub fn add_stage(&mut self, stage: Stage) -> u32 {
        let key = stage.key();
        if let Some(&id) = self.stage_keys.get(&key) {
            return id;
        }
        let id = self.stages.len() as u32;
        self.stages.push(stage);
        self.stage_keys.insert(key, id);
        id
    }

    /// The type of a value of a program.
    pub fn value_type(&self, prog: &Program, v: Value) -> ValueType {
        match v {
            Value::Input(k) => {
                let d = &prog.inputs[k as usize];
                match (d.cat, d.kind) {
                    (Cat::P, _) => ValueType::Vector { dim: d.dim },
                    (cat, VarKind::Real) => ValueType::Rows { cat, dim: d.dim },
                    (cat, VarKind::Index) => ValueType::IndexRows { cat, dim: d.dim },
                }
            }
            Value::Step(s) => match &prog.steps[s as usize] {
                Step::Reduce { stage, .. } => {
                    let st = &self.stages[*stage as usize];
                    let cat = st.outer();
                    match st.out() {
                        StageOut::Real(dim) => ValueType::Rows { cat, dim },
                        StageOut::Index(dim) => ValueType::IndexRows { cat, dim },
                        StageOut::Pair(dim) => ValueType::Pair { cat, dim },
                    }
                }
                Step::SumRows(a) => match self.value_type(prog, *a) {
                    ValueType::Rows { dim, .. } => ValueType::Vector { dim },
                    t => panic!("internal error: sum of rows of {t:?}"),
                },
                Step::Add(a, _) => self.value_type(prog, *a),
                Step::Zeros { cat: Cat::P, dim } => ValueType::Vector { dim: *dim },
                Step::Zeros { cat, dim } => ValueType::Rows {
                    cat: *cat,
                    dim: *dim,
                },
            },
            Value::Part(s, p) => match self.value_type(prog, Value::Step(s)) {
                ValueType::Pair { cat, dim } => {
                    if p == 0 {
                        ValueType::Rows { cat, dim }
                    } else {
                        ValueType::IndexRows { cat, dim }
                    }
                }
                t => panic!("internal error: part of {t:?}"),
            },
        }
    }

    fn push_step(prog: &mut Program, step: Step) -> Value {
        if let Some(k) = prog.steps.iter().position(|s| *s == step) {
            return Value::Step(k as u32);
        }
        prog.steps.push(step);
        Value::Step(prog.steps.len() as u32 - 1)
    }

    fn new_graph(&self, vars: &[VarDecl]) -> Graph {
        let infos = vars
            .iter()
            .map(|v| VarInfo {
                cat: v.cat,
                dim: v.dim,
            })
            .collect();
        if self.simplify {
            Graph::new(infos)
        } else {
            Graph::raw(infos)
        }
    }

    /// A stage with the same variables and formula as `s` but another reduction.
    fn sibling_stage(&mut self, s: &Stage, red: Red) -> u32 {
        let mut g = self.new_graph(&s.vars);
        let map: Vec<Id> = (0..s.vars.len() as u32).map(|v| g.var(v)).collect();
        let f = g.import(&s.graph, s.f, &map);
        let st = Stage {
            vars: s.vars.clone(),
            axis: s.axis,
            red,
            graph: g,
            f,
            w: None,
        };
        self.add_stage(st)
    }

    /// The gradient program of `prog` with respect to input `wrt`: inputs are
    /// `prog`'s followed by a cotangent shaped like `prog`'s output (its value
    /// part for pair outputs); the output is shaped like input `wrt` (a vector
    /// for a parameter).
    pub fn grad_program(&mut self, prog: &Program, wrt: usize) -> Program {
        let out_t = self.value_type(prog, prog.output);
        let (ecat, edim) = match out_t {
            ValueType::Rows { cat, dim }
            | ValueType::IndexRows { cat, dim }
            | ValueType::Pair { cat, dim } => (cat, dim),
            ValueType::Vector { dim } => (Cat::P, dim),
        };
        let mut ename = "e".to_string();
        let mut n = 1;
        while prog.inputs.iter().any(|v| v.name == ename) {
            n += 1;
            ename = format!("e{n}");
        }
        let mut new = prog.clone();
        new.inputs.push(VarDecl {
            name: ename,
            cat: ecat,
            dim: edim,
            kind: VarKind::Real,
        });
        let e = Value::Input(new.inputs.len() as u32 - 1);

        let depends = dependence(prog, wrt);
        let mut cots: HashMap<u32, Vec<Value>> = HashMap::new();
        let mut result: Vec<Value> = Vec::new();
        let differentiable = !matches!(out_t, ValueType::IndexRows { .. });
        if differentiable {
            add_cot(&mut cots, &mut result, prog.output, e, wrt);
        }
        for s in (0..prog.steps.len()).rev() {
            let Some(cs) = cots.remove(&(s as u32)) else {
                continue;
            };
            match prog.steps[s].clone() {
                Step::Reduce { stage, args } => {
                    for (pos, &arg) in args.iter().enumerate() {
                        if !depends.depends(arg) {
                            continue;
                        }
                        for &c in &cs {
                            if let Some(v) =
                                self.stage_vjp(&mut new, s as u32, stage, &args, pos, c)
                            {
                                add_cot(&mut cots, &mut result, arg, v, wrt);
                            }
                        }
                    }
                }
                Step::SumRows(a) => {
                    for &c in &cs {
                        add_cot(&mut cots, &mut result, a, c, wrt);
                    }
                }
                Step::Add(a, b) => {
                    for &c in &cs {
                        add_cot(&mut cots, &mut result, a, c, wrt);
                        add_cot(&mut cots, &mut result, b, c, wrt);
                    }
                }
                Step::Zeros { .. } => {}
            }
        }
        let w = &prog.inputs[wrt];
        let mut out = match result.first() {
            Some(&v) => v,
            None => Self::push_step(
                &mut new,
                Step::Zeros {
                    cat: w.cat,
                    dim: w.dim,
                },
            ),
        };
        for &v in result.iter().skip(1) {
            out = Self::push_step(&mut new, Step::Add(out, v));
        }
        new.output = out;
        prune(&mut new);
        new
    }

    /// Appends to `prog` the steps computing the contribution of stage
    /// `stage` (run as step `step` with `args`) to the cotangent of its
    /// variable `pos`, given the cotangent `cot` of its output. Returns the
    /// contribution, or `None` when it is zero.
    fn stage_vjp(
        &mut self,
        prog: &mut Program,
        step: u32,
        stage: u32,
        args: &[Value],
        pos: usize,
        cot: Value,
    ) -> Option<Value> {
        let s = self.stages[stage as usize].clone();
        let pv = s.vars[pos].clone();
        if pv.kind == VarKind::Index {
            return None;
        }
        let (stages_before, steps_before) = (self.stages.len(), prog.steps.len());
        let mut roots = vec![s.f];
        roots.extend(s.w);
        if !roots.iter().any(|&r| s.graph.uses_var(r, pos as u32)) {
            return None;
        }
        let outer = s.outer();
        let mut vars = s.vars.clone();
        let mut vargs = args.to_vec();
        let mut g = self.new_graph(&vars);
        let map: Vec<Id> = (0..vars.len() as u32).map(|v| g.var(v)).collect();
        let f = g.import(&s.graph, s.f, &map);
        let w = s.w.map(|w| g.import(&s.graph, w, &map));
        let fdim = g.dim(f);
        let out_dim = match s.out() {
            StageOut::Real(d) | StageOut::Index(d) | StageOut::Pair(d) => d,
        };
        let cot_cat = match self.value_type(prog, cot) {
            ValueType::Vector { .. } => Cat::P,
            ValueType::Rows { cat, .. } => cat,
            t => panic!("internal error: cotangent of type {t:?}"),
        };
        let add_var = |vars: &mut Vec<VarDecl>,
                       vargs: &mut Vec<Value>,
                       g: &mut Graph,
                       name: &str,
                       cat,
                       dim,
                       kind,
                       val| {
            vars.push(VarDecl {
                name: name.to_string(),
                cat,
                dim,
                kind,
            });
            vargs.push(val);
            g.add_var(VarInfo { cat, dim })
        };
        let ev = add_var(
            &mut vars,
            &mut vargs,
            &mut g,
            "__cot",
            cot_cat,
            out_dim,
            VarKind::Real,
            cot,
        );
        let e = g.var(ev);
        let step_value = |p: u8| -> Value {
            match s.out() {
                StageOut::Pair(_) => Value::Part(step, p),
                _ => Value::Step(step),
            }
        };
        let (lin, cotangent) = match s.red {
            Red::Sum => (f, e),
            Red::LogSumExp | Red::LogSumExpWeight => {
                let lv = add_var(
                    &mut vars,
                    &mut vargs,
                    &mut g,
                    "__lse",
                    outer,
                    out_dim,
                    VarKind::Real,
                    step_value(0),
                );
                let l = g.var(lv);
                let d = g.bin(crate::ir::Bin::Sub, f, l);
                let ex = g.un(crate::ir::Un::Exp, d);
                let lin = match w {
                    Some(w) => g.bin(crate::ir::Bin::Mul, ex, w),
                    None => ex,
                };
                (lin, e)
            }
            Red::SumSoftmaxWeight => {
                let lse = self.sibling_stage(&s, Red::LogSumExp);
                let lval = Self::push_step(
                    prog,
                    Step::Reduce {
                        stage: lse,
                        args: args.to_vec(),
                    },
                );
                let lv = add_var(
                    &mut vars,
                    &mut vargs,
                    &mut g,
                    "__lse",
                    outer,
                    fdim,
                    VarKind::Real,
                    lval,
                );
                let ov = add_var(
                    &mut vars,
                    &mut vargs,
                    &mut g,
                    "__out",
                    outer,
                    out_dim,
                    VarKind::Real,
                    step_value(0),
                );
                let l = g.var(lv);
                let o = g.var(ov);
                let d = g.bin(crate::ir::Bin::Sub, f, l);
                let ex = g.un(crate::ir::Un::Exp, d);
                let wm = g.bin(crate::ir::Bin::Sub, w.expect("weight"), o);
                (g.bin(crate::ir::Bin::Mul, ex, wm), e)
            }
            Red::Min
            | Red::Max
            | Red::MinArgMin
            | Red::MaxArgMax
            | Red::KMin(_)
            | Red::KMinArgKMin(_) => {
                let idx = match s.red {
                    Red::MinArgMin | Red::MaxArgMax | Red::KMinArgKMin(_) => Value::Part(step, 1),
                    Red::Min => {
                        let st = self.sibling_stage(&s, Red::ArgMin);
                        Self::push_step(
                            prog,
                            Step::Reduce {
                                stage: st,
                                args: args.to_vec(),
                            },
                        )
                    }
                    Red::Max => {
                        let st = self.sibling_stage(&s, Red::ArgMax);
                        Self::push_step(
                            prog,
                            Step::Reduce {
                                stage: st,
                                args: args.to_vec(),
                            },
                        )
                    }
                    Red::KMin(k) => {
                        let st = self.sibling_stage(&s, Red::ArgKMin(k));
                        Self::push_step(
                            prog,
                            Step::Reduce {
                                stage: st,
                                args: args.to_vec(),
                            },
                        )
                    }
                    _ => unreachable!(),
                };
                let jv = add_var(
                    &mut vars,
                    &mut vargs,
                    &mut g,
                    "__idx",
                    outer,
                    out_dim,
                    VarKind::Index,
                    idx,
                );
                let mask = g.index_match(jv);
                let masked = g.bin(crate::ir::Bin::Mul, e, mask);
                // Fold the K ranks onto the formula's components.
                let k = s.red.k();
                let sources = (0..fdim)
                    .map(|d| (0..k).map(|r| (0, r * fdim + d)).collect())
                    .collect();
                let c = g.gather(&[masked], sources);
                (f, c)
            }
            Red::ArgMin | Red::ArgMax | Red::ArgKMin(_) => return None,
        };
        let formula = vjp(&mut g, lin, pos as u32, cotangent);
        if g.const_value(formula)
            .is_some_and(|c| c.iter().all(|&v| v == 0.0))
        {
            // The contribution is the constant 0 (the variable only goes
            // through piecewise-constant operations: `sign`, `floor`,
            // comparisons): no kernel, and none of the sibling stages made
            // for it above.
            prog.steps.truncate(steps_before);
            self.stages.truncate(stages_before);
            self.stage_keys
                .retain(|_, id| (*id as usize) < stages_before);
            return None;
        }
        let axis = if pv.cat == s.axis { outer } else { s.axis };
        let new_stage = Stage {
            vars,
            axis,
            red: Red::Sum,
            graph: g,
            f: formula,
            w: None,
        };
        let sid = self.add_stage(new_stage);
        let v = Self::push_step(
            prog,
            Step::Reduce {
                stage: sid,
                args: vargs,
            },
        );
        if pv.cat == Cat::P {
            Some(Self::push_step(prog, Step::SumRows(v)))
        } else {
            Some(v)
        }
    }
}

fn add_cot(
    cots: &mut HashMap<u32, Vec<Value>>,
    result: &mut Vec<Value>,
    v: Value,
    c: Value,
    wrt: usize,
) {
    match v {
        Value::Input(k) => {
            if k as usize == wrt {
                result.push(c);
            }
        }
        Value::Step(s) | Value::Part(s, 0) => cots.entry(s).or_default().push(c),
        Value::Part(_, _) => {}
    }
}

/// Which values of a program depend on one input.
struct Dependence {
    steps: Vec<bool>,
    wrt: usize,
}

impl Dependence {
    fn depends(&self, v: Value) -> bool {
        match v {
            Value::Input(k) => k as usize == self.wrt,
            Value::Step(s) | Value::Part(s, _) => self.steps[s as usize],
        }
    }
}

/// For each step, whether it depends on input `wrt`.
fn dependence(prog: &Program, wrt: usize) -> Dependence {
    let mut d = Dependence {
        steps: Vec::with_capacity(prog.steps.len()),
        wrt,
    };
    for step in &prog.steps {
        let dep = match step {
            Step::Reduce { args, .. } => args.iter().any(|&a| d.depends(a)),
            Step::SumRows(a) => d.depends(*a),
            Step::Add(a, b) => d.depends(*a) || d.depends(*b),
            Step::Zeros { .. } => false,
        };
        d.steps.push(dep);
    }
    d
}

/// Removes the steps the output does not need, renumbering the others.
fn prune(prog: &mut Program) {
    let n = prog.steps.len();
    let mut live = vec![false; n];
    fn mark(v: Value, live: &mut [bool]) {
        if let Value::Step(s) | Value::Part(s, _) = v {
            live[s as usize] = true;
        }
    }
    mark(prog.output, &mut live);
    for s in (0..n).rev() {
        if !live[s] {
            continue;
        }
        match &prog.steps[s] {
            Step::Reduce { args, .. } => {
                for &a in args {
                    mark(a, &mut live);
                }
            }
            Step::SumRows(a) => mark(*a, &mut live),
            Step::Add(a, b) => {
                mark(*a, &mut live);
                mark(*b, &mut live);
            }
            Step::Zeros { .. } => {}
        }
    }
    let mut remap = vec![u32::MAX; n];
    let mut steps = Vec::new();
    for s in 0..n {
        if live[s] {
            remap[s] = steps.len() as u32;
            steps.push(prog.steps[s].clone());
        }
    }
    let fix = |v: Value| match v {
        Value::Input(k) => Value::Input(k),
        Value::Step(s) => Value::Step(remap[s as usize]),
        Value::Part(s, p) => Value::Part(remap[s as usize], p),
    };
    for st in steps.iter_mut() {
        match st {
            Step::Reduce { args, .. } => {
                for a in args.iter_mut() {
                    *a = fix(*a);
                }
            }
            Step::SumRows(a) => *a = fix(*a),
            Step::Add(a, b) => {
                *a = fix(*a);
                *b = fix(*b);
            }
            Step::Zeros { .. } => {}
        }
    }
    prog.output = fix(prog.output);
    prog.steps = steps;
}

/// True when graph node `id` is a variable.
pub fn is_var(g: &Graph, id: Id) -> bool {
    matches!(g.node(id).op, Op::Var(_))
}

/// PTX modules of one stage (f32 and f64) and their launch metadata, as the
/// PTX back end returns them; empty (and [`GpuMeta::NONE`]) when the GPU
/// back end is not emitted.
#[derive(Clone, Debug, Default)]
pub struct StagePtx {
    /// Module for f32 data.
    pub f32: String,
    /// Module for f64 data.
    pub f64: String,
    /// Launch metadata of the f32 module.
    pub gpu_f32: GpuMeta,
    /// Launch metadata of the f64 module.
    pub gpu_f64: GpuMeta,
}
