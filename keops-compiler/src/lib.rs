//! The `keops!` macro's library: the parser from Rust tokens into the
//! formula AST and pipeline of `keops-ir`, and the Rust code emitter of the
//! CPU back end.
//!
//! Data flows one way: tokens → [`parse`] (the AST of [`ast`] and its
//! table of spans) → `keops-ir` ([`front`]: typed IR, dimension checks,
//! errors at the AST's span ids, which [`parse::Spans::error`] turns back
//! into a spanned `syn::Error`; [`stage`]: stages and programs, gradients
//! by [`autodiff`]; [`lower`]: scalar programs per phase) → back ends
//! ([`emit_cpu`] and [`emit_matrix`] here, PTX in `keops-gpu-kernels`). The
//! pipeline's modules are re-exported here (`keops_compiler::ir` is
//! `keops_ir::ir`, `keops_compiler::front` is `keops_ir::front`).
//!
//! ```
//! let r = keops_compiler::Reference::parse(
//!     "|x: Vi<1>, y: Vj<1>| sum_j(x * y)",
//! ).unwrap();
//! use keops_compiler::eval::RefValue;
//! let x = RefValue::Rows { data: vec![1.0, 2.0], rows: 2, cols: 1 };
//! let y = RefValue::Rows { data: vec![3.0, 4.0, 5.0], rows: 3, cols: 1 };
//! let out = r.forward(&[x, y]).unwrap();
//! assert_eq!(out.reals(), &[12.0, 24.0]);
//! ```

#![forbid(unsafe_code)]

pub mod emit_cpu;
pub mod emit_data;
pub mod emit_matrix;
pub mod parse;
pub mod widths;

pub use keops_ir::{
    ast, autodiff, eval, front, ir, limits, lower, matrix, ops, print, stage, text,
};
pub use keops_ir::{default_grad_order, grad_order, GRAD_ORDER_1_BUDGET, GRAD_ORDER_2_BUDGET};

use eval::RefValue;
use front::Errors;
use stage::Family;

/// A kernel family built for reference evaluation (no simplification), from
/// the same source text the `keops!` macro takes.
pub struct Reference {
    /// The family (forward program and gradient programs).
    pub family: Family,
}

impl Reference {
    /// Parses and builds a reference family, with gradient programs up to
    /// the order given in the source (default 2).
    pub fn parse(src: &str) -> Result<Reference, String> {
        let def = parse::parse_kernel_str(src).map_err(|e| e.to_string())?;
        check_kernel_count(&def).map_err(|e| e.to_string())?;
        let stage = front::build_stage(&def, false).map_err(|e| e.to_string())?;
        let order = grad_order(&def.options, &stage);
        Ok(Reference {
            family: Family::new(stage, order),
        })
    }

    /// Evaluates the forward kernel.
    pub fn forward(&self, inputs: &[RefValue]) -> Result<RefValue, String> {
        self.eval(&[], inputs)
    }

    /// The forward formula's values for every pair (`[outer][inner][component]`).
    pub fn pair_values(&self, inputs: &[RefValue]) -> Result<Vec<Vec<Vec<f64>>>, String> {
        let refs: Vec<&RefValue> = inputs.iter().collect();
        eval::pair_values(&self.family.stages[0], &refs)
    }

    /// The reduction of the forward kernel.
    pub fn reduction(&self) -> stage::Red {
        self.family.stages[0].red
    }

    /// Evaluates the kernel at a derivation path (`&["x"]` is `k.grad_x()`).
    pub fn eval(&self, path: &[&str], inputs: &[RefValue]) -> Result<RefValue, String> {
        let prog = self
            .family
            .program(path)
            .ok_or_else(|| format!("no program at path {path:?}"))?;
        eval::eval_program(&self.family, prog, inputs)
    }
}

/// Everything the macro needs: the parsed definition and the simplified family.
pub struct Compiled {
    /// The parsed macro input.
    pub def: parse::KernelDef,
    /// The family with simplification (for a symbolic matrix, the family of
    /// `sum_j(K)`).
    pub family: Family,
    /// A symbolic matrix (a formula without a reduction): its fixed-width
    /// kernels, emitted by [`emit_matrix::expand`] instead of the family.
    pub matrix: Option<Box<emit_matrix::MatrixFamilies>>,
    /// Widths named by `const` items or const generics: the classes of
    /// names and the probe runs, emitted by [`widths::expand`] instead of
    /// the family (which is the first run's).
    pub named: Option<Box<widths::Named>>,
    /// The spans of the definition's AST.
    pub spans: parse::Spans,
    /// Widths read from the data (`Vi<_>`): the definition as
    /// `keops_ir::wire` text, emitted by [`emit_data::expand`] (the family
    /// is the formula's at a probe width).
    pub data: Option<String>,
}

/// A failed compilation: the errors, and the parsed definition when the
/// syntax was fine (the macro then emits a stub kernel with the right `call`
/// signature, so that users see the formula's errors and nothing else).
#[derive(Debug)]
pub struct Failure {
    /// The errors (with spans).
    pub error: syn::Error,
    /// The definition, when it parsed.
    pub def: Option<Box<parse::KernelDef>>,
}

/// Front half of the macro: parse, check and build the kernel family.
///
/// Every input gives a value, in bounded time and memory: a family, or
/// errors with spans (see [`limits`] for the limits on the size of
/// formulas).
pub fn compile(tokens: proc_macro2::TokenStream) -> Result<Compiled, Failure> {
    let (def, spans) =
        parse::parse_kernel_spanned(tokens).map_err(|error| Failure { error, def: None })?;
    let fail = |error: Errors, def: parse::KernelDef| Failure {
        error: spans.error(error),
        def: Some(Box::new(def)),
    };
    if let Err(e) = check_kernel_count(&def) {
        return Err(fail(e, def));
    }
    if def.params.iter().any(|p| p.width.as_deref() == Some("_")) {
        return compile_data(def, spans);
    }
    if widths::has_named(&def) {
        return compile_named(def, spans);
    }
    if !front::is_reduction(&def) {
        return match emit_matrix::compile_matrix(&def) {
            Ok(m) => Ok(Compiled {
                family: m.parts[0].1.clone(),
                matrix: Some(Box::new(m)),
                named: None,
                def,
                spans,
                data: None,
            }),
            Err(e) => Err(fail(e, def)),
        };
    }
    let stage = match front::build_stage(&def, true) {
        Ok(s) => s,
        Err(error) => return Err(fail(error, def)),
    };
    let order = grad_order(&def.options, &stage);
    match build_family(&def, stage, order) {
        Ok(family) => Ok(Compiled {
            def,
            family,
            matrix: None,
            named: None,
            spans,
            data: None,
        }),
        Err(e) => Err(fail(e, def)),
    }
}

/// [`compile`] for a formula with widths read from the data: checked (and
/// its family built) with every `_` or named width at the probe width, run
/// at the call's widths by the run-time path.
fn compile_data(def: parse::KernelDef, spans: parse::Spans) -> Result<Compiled, Failure> {
    let fail = |error: Errors, def: parse::KernelDef| Failure {
        error: spans.error(error),
        def: Some(Box::new(def)),
    };
    // A symbolic matrix is checked as `sum_j(K)` with a value of dimension 1.
    let matrix = !front::is_reduction(&def);
    let check = |d: &parse::KernelDef| {
        if matrix {
            keops_ir::matrix::check(d)
        } else {
            front::build_stage(d, true)
        }
    };
    // The formula must hold for some width: the probe (every `_` and name
    // equal), else a literal width of another variable, else 1.
    let mut tries: Vec<u32> = vec![keops_ir::ast::PARSED_PROBE];
    tries.extend(
        def.params
            .iter()
            .filter(|p| p.width.is_none())
            .map(|p| p.dim),
    );
    tries.push(1);
    let mut first_error = None;
    let mut stage = None;
    for w in tries {
        let mut d = def.clone();
        for p in d.params.iter_mut().filter(|p| p.width.is_some()) {
            p.dim = w;
        }
        match check(&d) {
            Ok(s) => {
                stage = Some(s);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some(stage) = stage else {
        // The probe's errors, without the probe's number.
        let probe = format!("dimension {}", keops_ir::ast::PARSED_PROBE);
        let errors: Vec<_> = first_error
            .map(Errors::into_vec)
            .unwrap_or_default()
            .into_iter()
            .map(|mut e| {
                e.message = e.message.replace(&probe, "a width read from the data");
                e
            })
            .collect();
        let errors = Errors::from_vec(errors)
            .unwrap_or_else(|| Errors::new(def.span, "the formula holds at no width"));
        return Err(fail(errors, def));
    };
    // (A matrix's products are built at the call: its family here is only
    // the check's.)
    let order = if matrix {
        0
    } else {
        grad_order(&def.options, &stage)
    };
    let family = match build_family(&def, stage, order) {
        Ok(f) => f,
        Err(e) => return Err(fail(e, def)),
    };
    let wire = keops_ir::wire::write(&def);
    Ok(Compiled {
        def,
        family,
        matrix: None,
        named: None,
        spans,
        data: Some(wire),
    })
}

/// [`compile`] for a formula with named widths: the classes of names and
/// the families of the probe runs (see [`widths`]).
fn compile_named(def: parse::KernelDef, spans: parse::Spans) -> Result<Compiled, Failure> {
    let fail = |error: Errors, def: parse::KernelDef| Failure {
        error: spans.error(error),
        def: Some(Box::new(def)),
    };
    let matrix = !front::is_reduction(&def);
    let check = |d: &parse::KernelDef| {
        if matrix {
            emit_matrix::compile_matrix(d).map(|_| ())
        } else {
            front::build_stage(d, true).map(|_| ())
        }
    };
    let classes = match widths::probe_classes(&def, check) {
        Ok(c) => c,
        Err(e) => return Err(fail(e, def)),
    };
    let min = widths::min_widths(&def, &classes, check);
    // The gradient order: written, or the default of the same formula at
    // width 3 (at least each class's smallest) but at most 1: the loops of
    // a named width cost more to build than the literal's straight code
    // (the order-2 Gaussian: 2.2 s against 1.3 s per release rebuild,
    // benches/RESULTS.md). Lowered while the family at the probe widths
    // exceeds the limits.
    let mut order = if def.options.grad_order_given {
        def.options.grad_order
    } else {
        let small: Vec<u32> = min.iter().map(|&m| m.max(3)).collect();
        let d = widths::with_probes(&def, &classes, &small);
        front::build_stage(&d, true).map_or(1, |stage| default_grad_order(&stage).min(1))
    };
    // Lowered too while the runs' code does not generalise (the gradients
    // of some formulas need literal widths where the formula does not).
    let named = loop {
        let lower = !def.options.grad_order_given && order > 0;
        match named_runs(&def, &classes, order, matrix) {
            Ok((runs, matrices)) => {
                let mut fixed = def.clone();
                fixed.options.grad_order = order;
                fixed.options.grad_order_given = true;
                let named = widths::Named {
                    wire: keops_ir::wire::write(&fixed),
                    classes: classes.clone(),
                    runs,
                    matrices,
                    min: min.clone(),
                };
                let krate = quote::quote!(::keops);
                let span = proc_macro2::Span::call_site();
                if !lower || widths::expand(&krate, &named, "", span, false).is_ok() {
                    break named;
                }
                order -= 1;
            }
            Err(_) if lower => order -= 1,
            Err(e) => return Err(fail(e, def)),
        }
    };
    Ok(Compiled {
        family: named.runs[0].1.clone(),
        matrix: None,
        named: Some(Box::new(named)),
        def,
        spans,
        data: None,
    })
}

/// The probe runs of a named-width formula at gradient order `order`: the
/// probe widths and the family of each (for a symbolic matrix, the family
/// of its first part), and the matrices' families.
#[allow(clippy::type_complexity)]
fn named_runs(
    def: &parse::KernelDef,
    classes: &[Vec<String>],
    order: u32,
    matrix: bool,
) -> Result<(Vec<(Vec<u32>, Family)>, Vec<emit_matrix::MatrixFamilies>), Errors> {
    let mut runs = Vec::new();
    let mut matrices = Vec::new();
    for probes in widths::run_probes(classes.len()) {
        let mut d = widths::with_probes(def, classes, &probes);
        d.options.grad_order = order;
        d.options.grad_order_given = true;
        if matrix {
            let m = emit_matrix::compile_matrix(&d)?;
            runs.push((probes, m.parts[0].1.clone()));
            matrices.push(m);
        } else {
            let stage = front::build_stage(&d, true)?;
            runs.push((probes, build_family(&d, stage, order)?));
        }
    }
    Ok((runs, matrices))
}

/// The family of a forward stage up to gradient order `order`, within the
/// limits on the size of the generated code.
fn build_family(def: &parse::KernelDef, stage: stage::Stage, order: u32) -> Result<Family, Errors> {
    let budget = limits::MAX_SCALAR_OPS;
    let forward = stage.scalar_cost();
    if forward > budget {
        return Err(Errors::new(
            def.span,
            format!(
                "formula too large: about {forward} scalar operations per pair of rows (at most {budget}; vectors are unrolled in the generated code)"
            ),
        ));
    }
    let node_budget = limits::MAX_FAMILY_NODES;
    Family::with_budget(stage, order, budget, node_budget).map_err(|t| {
        let what = if t.cost > budget {
            format!(
                "more than {budget} scalar operations in the generated kernels (about {}",
                t.cost
            )
        } else {
            format!(
                "more than {node_budget} operations in the generated kernels (about {}",
                t.nodes
            )
        };
        Errors::new(
            def.span,
            format!(
                "formula too large with its gradients: {what} in the first {} kernels, up to grad_order = {order}); lower `grad_order` (e.g. `keops!(grad_order = {}, |...| ...)`) or the dimensions",
                t.kernels,
                order.saturating_sub(1)
            ),
        )
    })
}

/// Checks the number of kernels the family will have against
/// [`limits::MAX_KERNELS`].
fn check_kernel_count(def: &parse::KernelDef) -> Result<(), Errors> {
    let order = def.options.grad_order;
    let n = limits::kernel_count(def.params.len(), order);
    if n > limits::MAX_KERNELS {
        return Err(Errors::new(
            def.span,
            format!(
                "too many kernels: {} variables with grad_order = {order} give {n} kernels with the gradients (at most {}); lower `grad_order`",
                def.params.len(),
                limits::MAX_KERNELS
            ),
        ));
    }
    Ok(())
}
