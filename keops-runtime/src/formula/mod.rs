//! Formulas known at run time, with no compiler: a [`Formula`] is parsed
//! from a string (the `keops!` syntax, or KeOps' own through
//! [`Formula::genred`]), built by the formula pipeline (`keops-ir`) at the
//! widths of the call's inputs, and run by the CPU executor
//! ([`crate::cpu::exec`]) or, on a GPU back end, as PTX emitted in-process.
//!
//! ```
//! use keops_runtime::formula::Formula;
//! use ndarray::Array2;
//!
//! # fn main() -> keops_runtime::Result<()> {
//! let k = Formula::new("|x: Vi<_>, y: Vj<_>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b)")?;
//! let x = Array2::<f64>::zeros((4, 5));
//! let y = Array2::<f64>::zeros((6, 5));
//! let b = Array2::<f64>::ones((6, 1));
//! let out = k.call(&[&x, &y, &b])?.into_rows()?;
//! assert_eq!(out.dim(), (4, 1));
//! assert!((out[[0, 0]] - 6.0).abs() < 1e-12);
//! # Ok(())
//! # }
//! ```
//!
//! Widths: a literal (`Vi<3>`), `_` (each such input's width is read from
//! its data), or a name (`Vi<D>`: read from the data, and every input
//! declared with the same name must agree, else [`Error::Widths`]).
//!
//! Each distinct (formula, widths, gradient order) is built once per
//! process and kept (its description is leaked, as compiled kernels'
//! are static): a program that makes unboundedly many distinct formulas
//! grows accordingly.

mod genred;
mod input;
mod matrix;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use keops_ir::ast::KernelDef;
use keops_ir::stage::{Family, Program, Step, Value, ValueType};
use ndarray::{Array1, Array2};

pub use crate::stage::Cat;
pub use genred::genred_source;
pub use input::Input;
pub use matrix::MatrixFormula;

use crate::cpu::exec::RtStage;
use crate::error::{Error, Result};
use crate::options::{Backend, Options, SumScheme};
use crate::ranges::Ranges;
use crate::simd::{Real, SimdLevel};
use crate::stage::{StageInfo, VarSpec};
use crate::value::{RowCounts, Val};

/// A formula parsed at run time: call it like a compiled kernel.
///
/// Cheap to clone; the options are per value, as a compiled kernel's.
#[derive(Clone, Debug)]
pub struct Formula {
    def: Arc<KernelDef>,
    /// The definition's text (`keops_ir::wire`), the cache key.
    key: Arc<str>,
    /// Derivation path: `[]` is the formula, `["x"]` its gradient with
    /// respect to `x`, ...
    path: Vec<String>,
    opts: Options,
    f64_acc: bool,
    /// Whether the formula is a symbolic matrix (no reduction).
    matrix: bool,
}

/// A variable of a formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its category: `Cat::I` (`Vi`), `Cat::J` (`Vj`) or `Cat::P` (`Pm`).
    pub cat: Cat,
    /// Its width when written as a number (`None`: read from the data).
    pub width: Option<usize>,
}

/// The result of a call: what the reduction gives.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<T> {
    /// One row of values per output index (sums, log-sum-exp, min, K-min, ...).
    Rows(Array2<T>),
    /// Indices (argmin, argmax, argkmin).
    Indices(Array2<usize>),
    /// Values and indices (`min_argmin`, `kmin_argkmin`).
    Pair(Array2<T>, Array2<usize>),
    /// A vector (the gradient with respect to a parameter).
    Vector(Array1<T>),
}

impl<T> Output<T> {
    fn kind(&self) -> &'static str {
        match self {
            Output::Rows(_) => "real rows",
            Output::Indices(_) => "indices",
            Output::Pair(..) => "values and indices",
            Output::Vector(_) => "a vector",
        }
    }

    fn wrong(&self, want: &str) -> Error {
        Error::Unsupported(format!("the formula gives {}, not {want}", self.kind()))
    }

    /// The rows (an error for another kind of result).
    pub fn into_rows(self) -> Result<Array2<T>> {
        match self {
            Output::Rows(a) => Ok(a),
            o => Err(o.wrong("real rows")),
        }
    }

    /// The indices.
    pub fn into_indices(self) -> Result<Array2<usize>> {
        match self {
            Output::Indices(a) => Ok(a),
            o => Err(o.wrong("indices")),
        }
    }

    /// The values and indices.
    pub fn into_pair(self) -> Result<(Array2<T>, Array2<usize>)> {
        match self {
            Output::Pair(a, b) => Ok((a, b)),
            o => Err(o.wrong("values and indices")),
        }
    }

    /// The vector.
    pub fn into_vector(self) -> Result<Array1<T>> {
        match self {
            Output::Vector(a) => Ok(a),
            o => Err(o.wrong("a vector")),
        }
    }
}

/// The error of a bad formula text.
fn text_error(e: keops_ir::text::TextError) -> Error {
    Error::Formula {
        at: e.at,
        message: e.message,
    }
}

impl Formula {
    /// Parses a formula in the `keops!` syntax (options, then the closure):
    /// `"|x: Vi<3>, y: Vj<3>| sum_j(exp(-sqdist(x, y)))"`. Widths may be
    /// literals, `_` or names (see the module documentation). Syntax errors
    /// are [`Error::Formula`] with their position; type errors (dimensions,
    /// unknown functions) come at the first call, when the widths are
    /// known, with their positions too.
    pub fn new(src: &str) -> Result<Formula> {
        let parsed = keops_ir::text::parse(src).map_err(text_error)?;
        let matrix = !keops_ir::front::is_reduction(&parsed.def);
        // Literal widths can be checked now.
        if parsed.def.params.iter().all(|p| p.width.is_none()) {
            let checked = if matrix {
                keops_ir::matrix::check(&parsed.def).map(drop)
            } else {
                keops_ir::front::build_stage(&parsed.def, true).map(drop)
            };
            if let Err(errs) = checked {
                let e = parsed.locate(&errs).swap_remove(0);
                return Err(text_error(e));
            }
        }
        // Keep the source positions for the errors of the first call.
        let (def, spans) = (parsed.def, parsed.spans);
        let key: Arc<str> = keops_ir::wire::write(&def).into();
        SPANS
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .map_err(|_| poisoned())?
            .entry(key.to_string())
            .or_insert(spans);
        Ok(Formula {
            def: Arc::new(def),
            key,
            path: Vec::new(),
            opts: Options::DEFAULT,
            f64_acc: false,
            matrix,
        })
    }

    /// A formula from its definition as `keops_ir::wire` text (what
    /// `keops!` emits for a kernel whose widths are read from the data).
    #[doc(hidden)]
    pub fn __from_wire(text: &str) -> Result<Formula> {
        let def = keops_ir::wire::read(text)
            .map_err(|e| Error::Internal(format!("formula text: {e}")))?;
        Ok(Formula {
            matrix: !keops_ir::front::is_reduction(&def),
            def: Arc::new(def),
            key: text.into(),
            path: Vec::new(),
            opts: Options::DEFAULT,
            f64_acc: false,
        })
    }

    /// A formula built from this one's definition (a symbolic matrix's
    /// products and gradients): same options, and errors located in this
    /// one's text.
    fn derived(&self, def: KernelDef) -> Formula {
        let key: Arc<str> = keops_ir::wire::write(&def).into();
        if let Some(map) = SPANS.get() {
            if let Ok(mut map) = map.lock() {
                if let Some(spans) = map.get(&*self.key).cloned() {
                    map.entry(key.to_string()).or_insert(spans);
                }
            }
        }
        Formula {
            matrix: !keops_ir::front::is_reduction(&def),
            def: Arc::new(def),
            key,
            path: Vec::new(),
            opts: self.opts,
            f64_acc: self.f64_acc,
        }
    }

    /// The error of a wrong number of inputs.
    fn arity(&self, given: usize) -> Error {
        Error::Unsupported(format!(
            "the formula takes {} inputs ({}), {given} given",
            self.def.params.len(),
            self.def
                .params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }

    /// The first of the front end's errors, located in the formula's text.
    fn front_error(&self, errs: &keops_ir::front::Errors) -> Error {
        locate(&self.key, errs)
    }

    /// Parses a formula in KeOps' syntax, as pykeops'
    /// `Genred(formula, aliases, reduction_op, axis, formula2=None, opt_arg=None)`:
    /// `Formula::genred("Exp(-SqDist(x,y))*b", &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", 1, None, None)`.
    /// `axis = 1` reduces over j (one result row per i), `axis = 0` over i.
    /// `opt_arg` is the K of the K-reductions; `formula2` the second
    /// formula of `LogSumExp` (weighted) and `SumSoftMaxWeight`. Errors
    /// are [`Error::Formula`] with a position in `formula` (or a message
    /// naming the alias).
    pub fn genred(
        formula: &str,
        aliases: &[&str],
        reduction: &str,
        axis: usize,
        formula2: Option<&str>,
        opt_arg: Option<usize>,
    ) -> Result<Formula> {
        let src = genred_source(formula, aliases, reduction, axis, formula2, opt_arg)?;
        Formula::new(&src.text).map_err(|e| src.map_error(e))
    }

    /// The gradient of this formula with respect to input `var`: a
    /// formula whose inputs are this one's followed by the gradient of
    /// the output (named `e` in our syntax: see [`Formula::input_names`]).
    /// Gradients of any order. An unknown name is an error at the call.
    pub fn grad(&self, var: &str) -> Formula {
        let mut g = self.clone();
        g.path.push(var.to_string());
        g
    }

    /// The options in use.
    pub fn options(&self) -> Options {
        Options {
            f64_accumulation: self.f64_acc.then_some(crate::options::F64Stages(&[])),
            ..self.opts
        }
    }

    /// Replaces all options (as `Kernel::with_options`; f64 accumulation
    /// is on when `opts.f64_accumulation` is set).
    pub fn with_options(mut self, opts: Options) -> Self {
        self.f64_acc = opts.f64_accumulation.is_some();
        self.opts = opts;
        self.opts.f64_accumulation = None;
        self
    }

    /// Selects the back end.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.opts.backend = backend;
        self
    }

    /// Selects the summation scheme of sum-type reductions.
    pub fn sum_scheme(mut self, scheme: SumScheme) -> Self {
        self.opts.sum_scheme = scheme;
        self
    }

    /// Number of CPU threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.opts.threads = Some(n);
        self
    }

    /// Caps the SIMD level of the CPU engine.
    pub fn simd(mut self, level: SimdLevel) -> Self {
        self.opts.simd = Some(level);
        self
    }

    /// Block-sparse reduction (KeOps' ranges, or a batch's).
    pub fn ranges(mut self, r: &Ranges) -> Self {
        self.opts.ranges = Some(r.id());
        self
    }

    /// Removes the block-sparse ranges.
    pub fn without_ranges(mut self) -> Self {
        self.opts.ranges = None;
        self
    }

    /// Computes and accumulates in f64 for f32 data (results rounded to
    /// f32 at the end).
    pub fn f64_accumulation(mut self, on: bool) -> Self {
        self.f64_acc = on;
        self
    }

    /// The formula's variables, in order (a gradient's cotangent inputs
    /// are not listed: see [`Formula::input_names`]).
    pub fn variables(&self) -> Vec<Variable> {
        self.def
            .params
            .iter()
            .map(|p| Variable {
                name: p.name.clone(),
                cat: p.cat,
                width: p.width.is_none().then_some(p.dim as usize),
            })
            .collect()
    }

    /// The names of the inputs of `call` at these widths of the formula's
    /// own inputs (a gradient adds its cotangent inputs, whose widths
    /// follow from them).
    pub fn input_names<T: Real>(&self, inputs: &[&dyn Input<T>]) -> Result<Vec<String>> {
        let built = self.build(inputs)?;
        let prog = self.program(&built)?;
        Ok(prog.inputs.iter().map(|v| v.name.clone()).collect())
    }

    /// Runs the formula on `inputs`, in the order of its variables
    /// (a gradient: then the cotangent). Rows are `ndarray` matrices (one
    /// row per point), parameters vectors, index variables `usize` rows.
    pub fn call<T: Real>(&self, inputs: &[&dyn Input<T>]) -> Result<Output<T>> {
        if self.matrix && self.path.is_empty() {
            return Err(Error::Unsupported(
                "the formula has no reduction: it is a symbolic matrix K_ij; `bind` its inputs, then `matmul`, `solve`, ...".into(),
            ));
        }
        let built = self.build(inputs)?;
        let prog = self.program(&built)?;
        if inputs.len() != prog.inputs.len() {
            return Err(Error::Unsupported(format!(
                "the formula takes {} inputs ({}), {} given",
                prog.inputs.len(),
                prog.inputs
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                inputs.len()
            )));
        }
        let mut vals = Vec::with_capacity(inputs.len());
        for (v, a) in prog.inputs.iter().zip(inputs) {
            vals.push(a.value(intern(&v.name), v.cat, v.kind, v.dim as usize)?);
        }
        let cats: Vec<(Cat, &Val<'_, T>)> = prog.inputs.iter().map(|v| v.cat).zip(&vals).collect();
        let rows = RowCounts::of(&cats)?;
        let mut results: Vec<Val<'static, T>> = Vec::with_capacity(prog.steps.len());
        for step in &prog.steps {
            let get = |v: Value| -> Result<Val<'_, T>> {
                Ok(match v {
                    Value::Input(k) => vals[k as usize].reborrow(),
                    Value::Step(s) => results[s as usize].reborrow(),
                    Value::Part(s, p) => results[s as usize].part(p as usize)?,
                })
            };
            let r = match step {
                Step::Reduce { stage, args } => {
                    let args: Vec<Val<'_, T>> =
                        args.iter().map(|&a| get(a)).collect::<Result<_>>()?;
                    let refs: Vec<&Val<'_, T>> = args.iter().collect();
                    self.run_stage(&built, *stage as usize, &refs, &rows)?
                }
                Step::SumRows(a) => {
                    let wrt = self.path.last().and_then(|w| {
                        prog.inputs
                            .iter()
                            .position(|v| &v.name == w && v.cat == Cat::P)
                    });
                    match wrt {
                        Some(k) => Val::sum_rows_like(&get(*a)?, &vals[k])?,
                        None => Val::sum_rows(&get(*a)?)?,
                    }
                }
                Step::Add(a, b) => Val::add(&get(*a)?, &get(*b)?)?,
                Step::Zeros { cat, dim } => Val::zeros(*cat, *dim as usize, &rows),
            };
            results.push(r);
        }
        let out = match prog.output {
            Value::Input(k) => vals.swap_remove(k as usize).into_static()?,
            Value::Step(s) => results.swap_remove(s as usize),
            Value::Part(s, p) => results[s as usize].part(p as usize)?.into_static()?,
        };
        Ok(match built.family.value_type(prog, prog.output) {
            ValueType::Rows { .. } => Output::Rows(out.into_rows()?),
            ValueType::IndexRows { .. } => Output::Indices(out.into_index_rows()?),
            ValueType::Pair { .. } => {
                let (a, b) = out.into_pair()?;
                Output::Pair(a, b)
            }
            ValueType::Vector { .. } => Output::Vector(out.into_vector()?),
        })
    }

    /// The stages of the program [`Formula::call`] runs at the widths of
    /// `inputs`, with their PTX (as the GPU back ends load it): tests
    /// compare it with a compiled kernel's.
    #[doc(hidden)]
    #[cfg(any(feature = "cuda", feature = "sim"))]
    pub fn __gpu_stages<T: Real>(
        &self,
        inputs: &[&dyn Input<T>],
    ) -> Result<Vec<&'static StageInfo>> {
        let built = self.build(inputs)?;
        (0..built.stages.len()).map(|k| built.gpu_info(k)).collect()
    }

    fn program<'b>(&self, built: &'b Built) -> Result<&'b Program> {
        let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        built.family.program(&path).ok_or_else(|| {
            let inputs = match built.family.program(&path[..path.len().saturating_sub(1)]) {
                Some(p) => p
                    .inputs
                    .iter()
                    .map(|v| format!("`{}`", v.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "?".into(),
            };
            Error::Unsupported(format!(
                "no gradient with respect to `{}`: the inputs are {inputs}",
                path.last().copied().unwrap_or("")
            ))
        })
    }

    /// The family at the widths of `inputs` (built once per process).
    fn build<T: Real>(&self, inputs: &[&dyn Input<T>]) -> Result<Arc<Built>> {
        let def = self.widths(inputs)?;
        let dims: Vec<u32> = def.params.iter().map(|p| p.dim).collect();
        let order = self.path.len() as u32;
        let key = (self.key.to_string(), dims, order);
        let cache = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(b) = cache.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(b.clone());
        }
        let built = Arc::new(Built::new(&def, order, &self.key)?);
        cache
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, built.clone());
        Ok(built)
    }

    /// The definition with every named or `_` width replaced by the width
    /// of its input.
    fn widths<T: Real>(&self, inputs: &[&dyn Input<T>]) -> Result<KernelDef> {
        let mut def = (*self.def).clone();
        if inputs.len() < def.params.len() {
            return Err(Error::Unsupported(format!(
                "the formula takes at least {} inputs ({}), {} given",
                def.params.len(),
                def.params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                inputs.len()
            )));
        }
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for (p, a) in def.params.iter_mut().zip(inputs) {
            let Some(w) = &p.width else { continue };
            let dim = a.width();
            if dim == 0 {
                return Err(Error::Unsupported(format!(
                    "`{}`: a width read from the data must be at least 1",
                    p.name
                )));
            }
            if w != "_" {
                match seen.get(w) {
                    Some((other, ow)) if *ow != dim => {
                        return Err(Error::Widths {
                            name: w.clone(),
                            var: other.clone(),
                            width: *ow,
                            other: p.name.clone(),
                            other_width: dim,
                        })
                    }
                    _ => {
                        seen.insert(w.clone(), (p.name.clone(), dim));
                    }
                }
            }
            p.dim = u32::try_from(dim)
                .ok()
                .filter(|&d| d <= keops_ir::limits::MAX_DIM)
                .ok_or_else(|| {
                    Error::Unsupported(format!(
                        "`{}` has width {dim}, above the largest dimension {}",
                        p.name,
                        keops_ir::limits::MAX_DIM
                    ))
                })?;
            p.width = None;
        }
        Ok(def)
    }

    fn run_stage<T: Real>(
        &self,
        built: &Built,
        k: usize,
        args: &[&Val<'_, T>],
        rows: &RowCounts,
    ) -> Result<Val<'static, T>> {
        let st = &built.stages[k];
        let info = st.info();
        let (m, n) = crate::prepare_stage(info, args, rows, &self.opts)?;
        if self.f64_acc && T::BYTES == 4 {
            let conv: Vec<Val<'static, f64>> = args
                .iter()
                .map(|a| crate::f64acc::to_f64(a))
                .collect::<Result<_>>()?;
            let refs: Vec<&Val<'_, f64>> = conv.iter().collect();
            let out = self.run_backend::<f64>(built, k, &self.opts, &refs, m, n)?;
            return crate::f64acc::from_f64(out);
        }
        self.run_backend(built, k, &self.opts, args, m, n)
    }

    #[cfg_attr(not(any(feature = "cuda", feature = "sim")), allow(unused_variables))]
    fn run_backend<T: Real>(
        &self,
        built: &Built,
        k: usize,
        opts: &Options,
        args: &[&Val<'_, T>],
        m: usize,
        n: usize,
    ) -> Result<Val<'static, T>> {
        let st = &built.stages[k];
        match opts.backend {
            Backend::Cpu => crate::cpu::run_rt::<T>(st, opts, args, m, n),
            #[cfg(feature = "cuda")]
            Backend::Gpu { device } => crate::gpu::cuda::run_stage::<T>(
                device,
                opts,
                built.gpu_info(k)?,
                args,
                m,
                n,
                false,
            ),
            #[cfg(not(feature = "cuda"))]
            Backend::Gpu { .. } => Err(Error::NotCompiledWithCuda),
            #[cfg(feature = "sim")]
            Backend::Simulator => {
                crate::gpu::sim::run_stage::<T>(opts, built.gpu_info(k)?, args, m, n, false)
            }
            #[cfg(not(feature = "sim"))]
            Backend::Simulator => Err(crate::gpu::sim_missing()),
        }
    }
}

fn poisoned() -> Error {
    Error::Internal("formula cache poisoned".into())
}

/// Source positions of each formula text, for the errors of calls.
static SPANS: OnceLock<Mutex<HashMap<String, Vec<std::ops::Range<usize>>>>> = OnceLock::new();

/// Built families: (definition, widths, gradient order) → the family.
type BuiltCache = HashMap<(String, Vec<u32>, u32), Arc<Built>>;
static BUILT: OnceLock<Mutex<BuiltCache>> = OnceLock::new();

/// A family at fixed widths, with the executor of each stage.
#[derive(Debug)]
struct Built {
    family: Family,
    stages: Vec<RtStage>,
    /// The stages with their PTX (made at the first GPU call).
    #[cfg_attr(not(any(feature = "cuda", feature = "sim")), allow(dead_code))]
    gpu: Vec<OnceLock<&'static StageInfo>>,
    #[cfg_attr(not(any(feature = "cuda", feature = "sim")), allow(dead_code))]
    options: keops_ir::Options,
}

impl Built {
    fn new(def: &KernelDef, order: u32, key: &str) -> Result<Built> {
        let stage = keops_ir::front::build_stage(def, true).map_err(|errs| locate(key, &errs))?;
        let family = Family::with_budget(
            stage,
            order,
            keops_ir::limits::MAX_SCALAR_OPS,
            keops_ir::limits::MAX_FAMILY_NODES,
        )
        .map_err(|_| {
            Error::TooLarge(format!(
                "the formula's programs up to gradient order {order} exceed the limits of keops_ir::limits"
            ))
        })?;
        let stages = family
            .stages
            .iter()
            .enumerate()
            .map(|(k, st)| {
                let l = keops_ir::lower::lower_looped(st);
                let info: &'static StageInfo = Box::leak(Box::new(stage_info(k, &l)));
                RtStage::new(info, &l).map_err(Error::Internal)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Built {
            gpu: (0..stages.len()).map(|_| OnceLock::new()).collect(),
            family,
            stages,
            options: def.options.clone(),
        })
    }

    /// Stage `k` with its PTX, emitted by the PTX back end in-process.
    #[cfg(any(feature = "cuda", feature = "sim"))]
    fn gpu_info(&self, k: usize) -> Result<&'static StageInfo> {
        Ok(*self.gpu[k].get_or_init(|| {
            let ptx = keops_gpu_kernels::emit_stage_ptx(&self.family.stages[k], &self.options);
            Box::leak(Box::new(StageInfo {
                ptx_f32: Box::leak(ptx.f32.into_boxed_str()),
                ptx_f64: Box::leak(ptx.f64.into_boxed_str()),
                gpu_f32: ptx.gpu_f32,
                gpu_f64: ptx.gpu_f64,
                ..*self.stages[k].info()
            }))
        }))
    }
}

/// The first of the front end's errors on formula `key`, located in its
/// text.
fn locate(key: &str, errs: &keops_ir::front::Errors) -> Error {
    let spans = SPANS
        .get()
        .and_then(|m| m.lock().ok())
        .and_then(|m| m.get(key).cloned())
        .unwrap_or_default();
    let first = errs.first();
    Error::Formula {
        at: spans.get(first.span.0 as usize).cloned().unwrap_or(0..0),
        message: first.message.clone(),
    }
}

/// A name with a static lifetime (the engine's values and messages carry
/// `&'static str` names): each distinct name is allocated once.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<std::collections::HashSet<&'static str>>> = OnceLock::new();
    let mut set = match NAMES.get_or_init(Default::default).lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if let Some(&s) = set.get(name) {
        return s;
    }
    let s: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(s);
    s
}

/// The description of stage `k` of a family built at run time (the
/// executor needs no PTX; a GPU call adds it).
fn stage_info(k: usize, l: &keops_ir::lower::Lowered) -> StageInfo {
    let vars: Vec<VarSpec> = l
        .vars
        .iter()
        .zip(&l.slots)
        .map(|(v, s)| VarSpec {
            name: intern(&v.name),
            cat: v.cat,
            dim: v.dim as usize,
            kind: v.kind,
            role: s.role,
            offset: s.offset as usize,
        })
        .collect();
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{l:?}").hash(&mut h);
        h.finish()
    };
    StageInfo {
        name: intern(&format!("formula stage {k}")),
        key,
        vars: Box::leak(vars.into_boxed_slice()),
        outer_cat: l.outer_cat,
        red: l.red,
        fdim: l.fdim as usize,
        wdim: l.wdim as usize,
        raw_param: l.raw_param as usize,
        raw_outer: l.raw_outer as usize,
        raw_inner: l.raw_inner as usize,
        idx_outer: l.idx_outer as usize,
        idx_inner: l.idx_inner as usize,
        npf: l.param.outputs.len(),
        nof: l.outer.outputs.len(),
        nnf: l.inner.outputs.len(),
        acc: keops_abi::acc_len(l.red, l.fdim, l.wdim) as usize,
        pair_ops: l.pair.op_count(),
        dot_of: &[],
        dot_nf: &[],
        dot_na: 0,
        dot_nb: 0,
        ptx_f32: "",
        ptx_f64: "",
        gpu_f32: keops_abi::GpuMeta::NONE,
        gpu_f64: keops_abi::GpuMeta::NONE,
    }
}
