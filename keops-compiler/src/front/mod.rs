//! Front end, step 2: the formula AST → the typed IR of the forward stage.
//!
//! Resolves names and spellings (function and method forms, keyword
//! arguments, reductions written `sum_j(f)` or `f.sum(1)`), infers and checks
//! every dimension, and reports each mistake as a `syn::Error` whose span
//! points at the faulty sub-expression. Errors are collected, so one
//! expansion reports every independent mistake.

use std::collections::HashMap;

use proc_macro2::Span;

use crate::autodiff::vjp;
use crate::ir::{BilinearMap, Bin, Cat, Graph, Id, Tern, Un, VarInfo, VecRed};
use crate::limits::{MAX_DIM, MAX_IR_NODES, MAX_IR_SIZE, MAX_K, MAX_SCALAR_OPS};
use crate::ops;
use crate::parse::{combine, Arg, Ast, BinOp, IndexKind, KernelDef};
use crate::stage::{Red, Stage, VarDecl, VarKind};

/// Builds the forward stage of a kernel definition. With `simplify = false`
/// the graph is built without algebraic simplification (reference evaluator).
pub fn build_stage(def: &KernelDef, simplify: bool) -> syn::Result<Stage> {
    let vars: Vec<VarDecl> = def
        .params
        .iter()
        .map(|p| VarDecl {
            name: p.name.clone(),
            cat: p.cat,
            dim: p.dim,
            kind: VarKind::Real,
        })
        .collect();
    let infos = vars
        .iter()
        .map(|v| VarInfo {
            cat: v.cat,
            dim: v.dim,
        })
        .collect();
    let g = if simplify {
        Graph::new(infos)
    } else {
        Graph::raw(infos)
    };
    let mut fe = Front {
        g,
        vars,
        lets: HashMap::new(),
        errors: Vec::new(),
        accounted: 0,
        ir_size: 0,
        too_large: false,
    };
    for (name, span, ast) in &def.lets {
        if fe.vars.iter().any(|v| &v.name == name) {
            fe.err(
                *span,
                format!("`let {name}` shadows the formula variable `{name}`; choose another name"),
            );
            continue;
        }
        if let Some(id) = fe.expr(ast) {
            let d = fe.g.dim(id);
            fe.lets.insert(name.clone(), (id, d));
        }
    }
    let top = fe.top(&def.body, def.span);
    if let Some(e) = combine(std::mem::take(&mut fe.errors)) {
        return Err(e);
    }
    let (red, axis, f, w) = top.expect("errors reported");
    // The number of rows of each index must be known from the inputs.
    let outer = axis.swap();
    for (cat, what) in [(outer, "output rows"), (axis, "reduced index")] {
        if !fe.vars.iter().any(|v| v.cat == cat) {
            let (idx, decl) = if cat == Cat::I {
                ("i", "Vi")
            } else {
                ("j", "Vj")
            };
            return Err(syn::Error::new(
                def.span,
                format!(
                    "cannot infer the number of {idx} indices ({what}): declare at least one `{decl}<D>` variable"
                ),
            ));
        }
    }
    Ok(Stage {
        vars: fe.vars,
        axis,
        red,
        graph: fe.g,
        f,
        w,
    })
}

/// Whether the body of `def` ends with a reduction (a kernel). A body
/// without one is a symbolic matrix `K_ij` (see `crate::emit_matrix`).
pub fn is_reduction(def: &KernelDef) -> bool {
    match &def.body {
        Ast::Call { func, .. } => reduction_call(func).is_some(),
        Ast::Method { method, args, .. } => red_base(&method.to_ascii_lowercase())
            .is_some_and(|base| Front::method_axis(base, args).is_some()),
        _ => false,
    }
}

struct Front {
    g: Graph,
    vars: Vec<VarDecl>,
    lets: HashMap<String, (Id, u32)>,
    errors: Vec<syn::Error>,
    /// Nodes of the graph already counted in `ir_size`.
    accounted: usize,
    /// Sum of the dimensions of the graph's nodes.
    ir_size: usize,
    /// The formula exceeded [`MAX_IR_NODES`] or [`MAX_IR_SIZE`]: stop building.
    too_large: bool,
}

type Top = Option<(Red, Cat, Id, Option<Id>)>;

/// Reduction families, before K and the axis are known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RedBase {
    Sum,
    LogSumExp,
    LogSumExpWeight,
    SumSoftmaxWeight,
    Min,
    ArgMin,
    MinArgMin,
    Max,
    ArgMax,
    MaxArgMax,
    KMin,
    ArgKMin,
    KMinArgKMin,
}

fn red_base(name: &str) -> Option<RedBase> {
    Some(match name {
        "sum" => RedBase::Sum,
        "logsumexp" => RedBase::LogSumExp,
        "logsumexp_weight" => RedBase::LogSumExpWeight,
        "sumsoftmaxweight" => RedBase::SumSoftmaxWeight,
        "min" => RedBase::Min,
        "argmin" => RedBase::ArgMin,
        "min_argmin" => RedBase::MinArgMin,
        "max" => RedBase::Max,
        "argmax" => RedBase::ArgMax,
        "max_argmax" => RedBase::MaxArgMax,
        "kmin" => RedBase::KMin,
        "argkmin" => RedBase::ArgKMin,
        "kmin_argkmin" => RedBase::KMinArgKMin,
        _ => return None,
    })
}

/// `sum_j` → (`Sum`, J).
fn reduction_call(name: &str) -> Option<(RedBase, Cat)> {
    let lower = name.to_ascii_lowercase();
    let (base, axis) = if let Some(b) = lower.strip_suffix("_j") {
        (b, Cat::J)
    } else if let Some(b) = lower.strip_suffix("_i") {
        (b, Cat::I)
    } else {
        return None;
    };
    red_base(base).map(|r| (r, axis))
}

/// Names that are reductions whatever their arguments.
fn always_reduction(base: RedBase) -> bool {
    !matches!(
        base,
        RedBase::Sum | RedBase::Min | RedBase::Max | RedBase::ArgMin | RedBase::ArgMax
    )
}

/// Function names other than the element-wise operations' (those are in
/// [`crate::ops::ELEMENTWISE`]): with them, the "did you mean" candidates.
const OTHER_FUNCTIONS: &[&str] = &[
    "clampint",
    "sqnorm2",
    "norm2",
    "norm",
    "normalize",
    "sqdist",
    "weightedsqnorm",
    "weightedsqdist",
    "elem",
    "extract",
    "one_hot",
    "concat",
    "cat",
    "concatenate",
    "matvecmult",
    "vecmatmult",
    "tensorprod",
    "keops_tensordot",
    "sum",
    "argmax",
    "argmin",
    "dot",
    "grad",
    "sum_j",
    "sum_i",
    "logsumexp_j",
    "sumsoftmaxweight_j",
    "min_j",
    "argmin_j",
    "min_argmin_j",
    "max_j",
    "argmax_j",
    "max_argmax_j",
    "kmin_j",
    "argkmin_j",
    "kmin_argkmin_j",
];

/// The "did you mean" candidates for an unknown function or method.
fn function_names() -> impl Iterator<Item = &'static str> {
    ops::suggestions().chain(OTHER_FUNCTIONS.iter().copied())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let lower = name.to_ascii_lowercase();
    let best = candidates
        .map(|c| (edit_distance(&lower, c), c))
        .filter(|(d, _)| *d <= 2)
        .min();
    match best {
        Some((_, c)) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

/// Arguments matched to named slots: positional first, then keywords.
struct Bound<'a> {
    slots: Vec<Option<&'a Ast>>,
}

impl Front {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.errors.push(syn::Error::new(span, msg.into()));
    }

    /// Matches `args` to `slots` (each slot lists accepted keywords, first
    /// is the display name); `required` slots must be given.
    fn bind<'a>(
        &mut self,
        what: &str,
        span: Span,
        args: &'a [Arg],
        slots: &[&[&str]],
        required: usize,
    ) -> Option<Bound<'a>> {
        let mut out: Vec<Option<&'a Ast>> = vec![None; slots.len()];
        let mut pos = 0;
        let mut ok = true;
        for a in args {
            match &a.keyword {
                None => {
                    if pos >= slots.len() {
                        let expected = if required == slots.len() {
                            format!("{}", slots.len())
                        } else {
                            format!("{} to {}", required, slots.len())
                        };
                        self.err(
                            a.value.span(),
                            format!(
                                "too many arguments: `{what}` takes {expected} argument{} ({})",
                                if slots.len() == 1 { "" } else { "s" },
                                slots.iter().map(|s| s[0]).collect::<Vec<_>>().join(", ")
                            ),
                        );
                        return None;
                    }
                    out[pos] = Some(&a.value);
                    pos += 1;
                }
                Some((kw, kspan)) => match slots.iter().position(|s| s.contains(&kw.as_str())) {
                    Some(k) if out[k].is_none() => out[k] = Some(&a.value),
                    Some(_) => {
                        self.err(*kspan, format!("argument `{kw}` of `{what}` given twice"));
                        ok = false;
                    }
                    None => {
                        self.err(
                            *kspan,
                            format!(
                                "`{what}` has no argument `{kw}` (arguments: {})",
                                slots.iter().map(|s| s[0]).collect::<Vec<_>>().join(", ")
                            ),
                        );
                        ok = false;
                    }
                },
            }
        }
        if !ok {
            return None;
        }
        let missing: Vec<&str> = (0..required)
            .filter(|&k| out[k].is_none())
            .map(|k| slots[k][0])
            .collect();
        if !missing.is_empty() {
            self.err(
                span,
                format!(
                    "`{what}` takes {} argument{} ({}); missing: {}",
                    if required == slots.len() {
                        format!("{required}")
                    } else {
                        format!("{} to {}", required, slots.len())
                    },
                    if slots.len() == 1 { "" } else { "s" },
                    slots.iter().map(|s| s[0]).collect::<Vec<_>>().join(", "),
                    missing.join(", ")
                ),
            );
            return None;
        }
        Some(Bound { slots: out })
    }

    fn int_arg(&mut self, ast: &Ast, what: &str) -> Option<i64> {
        match ast.as_int() {
            Some(v) => Some(v),
            None => {
                self.err(ast.span(), format!("{what} must be an integer literal"));
                None
            }
        }
    }

    fn int_list(&mut self, ast: &Ast, what: &str) -> Option<Vec<u32>> {
        let Ast::List(items, _) = ast else {
            self.err(
                ast.span(),
                format!("{what} must be a list of integer literals, e.g. `[2, 3]`"),
            );
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_int().map(u32::try_from) {
                Some(Ok(v)) => out.push(v),
                Some(Err(_)) if it.as_int().is_some_and(|v| v > 0) => {
                    self.err(
                        it.span(),
                        format!("{what}: {} is too large", it.as_int().unwrap_or(0)),
                    );
                    return None;
                }
                _ => {
                    self.err(
                        it.span(),
                        format!("{what} must hold non-negative integer literals"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    // ------------------------------------------------------------------
    // The top level: a reduction.
    // ------------------------------------------------------------------

    fn top(&mut self, body: &Ast, whole: Span) -> Top {
        let missing = |fe: &mut Front, span: Span| {
            fe.err(
                span,
                "the formula must end with a reduction, e.g. `sum_j(...)`, `f.sum(1)`, `argkmin_j(f, 10)` (`sum(f)` is the vector sum)",
            );
        };
        match body {
            Ast::Call {
                func,
                func_span,
                args,
                span,
            } => {
                if let Some((base, axis)) = reduction_call(func) {
                    return self.reduction(base, axis, None, args, *span, *func_span);
                }
            }
            Ast::Method {
                recv,
                method,
                method_span,
                args,
                span,
            } => {
                let lower = method.to_ascii_lowercase();
                if let Some(base) = red_base(&lower) {
                    if let Some(axis) = Front::method_axis(base, args) {
                        return self.reduction(base, axis, Some(recv), args, *span, *method_span);
                    }
                }
            }
            _ => {}
        }
        // Not a reduction: lower it anyway to report inner mistakes; when
        // those explain the problem (a misplaced reduction, a bad axis), do
        // not add a second message.
        let before = self.errors.len();
        let _ = self.expr(body);
        if self.errors.len() == before {
            missing(
                self,
                if matches!(body, Ast::Num { .. }) {
                    whole
                } else {
                    body.span()
                },
            );
        }
        None
    }

    /// The axis of a method-form reduction, when the call is one.
    fn method_axis(base: RedBase, args: &[Arg]) -> Option<Cat> {
        let axis_of = |a: &Ast| match a.as_int() {
            Some(0) => Some(Cat::I),
            Some(1) => Some(Cat::J),
            _ => None,
        };
        for a in args {
            if let Some((kw, _)) = &a.keyword {
                if kw == "axis" || kw == "dim" {
                    return axis_of(&a.value).or(if always_reduction(base) {
                        Some(Cat::J)
                    } else {
                        None
                    });
                }
            }
        }
        let positional: Vec<&Ast> = args
            .iter()
            .filter(|a| a.keyword.is_none())
            .map(|a| &a.value)
            .collect();
        let axis_pos = match base {
            RedBase::KMin | RedBase::ArgKMin | RedBase::KMinArgKMin => 1,
            RedBase::LogSumExpWeight | RedBase::SumSoftmaxWeight => 1,
            _ => 0,
        };
        match positional.get(axis_pos) {
            Some(a) => axis_of(a).or(if always_reduction(base) {
                Some(Cat::J)
            } else {
                None
            }),
            None => {
                if always_reduction(base) {
                    // Reported as a missing axis by `reduction`.
                    Some(Cat::J)
                } else {
                    None
                }
            }
        }
    }

    fn reduction(
        &mut self,
        base: RedBase,
        axis: Cat,
        recv: Option<&Ast>,
        args: &[Arg],
        span: Span,
        name_span: Span,
    ) -> Top {
        let method = recv.is_some();
        let fname = |suffix: &str| -> String {
            let n = match base {
                RedBase::Sum => "sum",
                RedBase::LogSumExp => "logsumexp",
                RedBase::LogSumExpWeight => "logsumexp_weight",
                RedBase::SumSoftmaxWeight => "sumsoftmaxweight",
                RedBase::Min => "min",
                RedBase::ArgMin => "argmin",
                RedBase::MinArgMin => "min_argmin",
                RedBase::Max => "max",
                RedBase::ArgMax => "argmax",
                RedBase::MaxArgMax => "max_argmax",
                RedBase::KMin => "kmin",
                RedBase::ArgKMin => "argkmin",
                RedBase::KMinArgKMin => "kmin_argkmin",
            };
            format!("{n}{suffix}")
        };
        let axis_slot: &[&str] = &["axis", "dim"];
        let f_slot: &[&str] = &["f", "formula"];
        let w_slot: &[&str] = &["weight", "w"];
        let k_slot: &[&str] = &["K", "k"];
        // Slots of the call, without the receiver for methods.
        let (what, slots, required): (String, Vec<&[&str]>, usize) = if method {
            let what = format!(".{}()", fname(""));
            match base {
                RedBase::LogSumExp => (what, vec![axis_slot, w_slot], 1),
                RedBase::LogSumExpWeight | RedBase::SumSoftmaxWeight => {
                    (what, vec![w_slot, axis_slot], 2)
                }
                RedBase::KMin | RedBase::ArgKMin | RedBase::KMinArgKMin => {
                    (what, vec![k_slot, axis_slot], 2)
                }
                _ => (what, vec![axis_slot], 1),
            }
        } else {
            let suffix = if axis == Cat::J { "_j" } else { "_i" };
            let what = fname(suffix);
            match base {
                RedBase::LogSumExp => (what, vec![f_slot, w_slot], 1),
                RedBase::LogSumExpWeight | RedBase::SumSoftmaxWeight => {
                    (what, vec![f_slot, w_slot], 2)
                }
                RedBase::KMin | RedBase::ArgKMin | RedBase::KMinArgKMin => {
                    (what, vec![f_slot, k_slot], 2)
                }
                _ => (what, vec![f_slot], 1),
            }
        };
        let bound = self.bind(&what, span, args, &slots, required)?;
        let get = |name: &str| -> Option<&Ast> {
            slots
                .iter()
                .position(|s| s[0] == name)
                .and_then(|k| bound.slots[k])
        };
        let f_ast = if let Some(r) = recv {
            Some(r)
        } else {
            get("f")
        };
        let w_ast = get("weight");
        let k_ast = get("K");
        if method {
            if let Some(a) = get("axis") {
                match a.as_int() {
                    Some(0) | Some(1) => {}
                    _ => {
                        self.err(
                            a.span(),
                            "the reduction axis must be 0 (over i) or 1 (over j)",
                        );
                        return None;
                    }
                }
            }
        }
        let f = self.expr(f_ast.expect("formula"));
        let w = w_ast.map(|w| self.expr(w));
        let k = match k_ast {
            Some(k) => {
                let v = self.int_arg(k, "K")?;
                if v < 1 {
                    self.err(k.span(), format!("K must be at least 1 (got {v})"));
                    return None;
                }
                if v > MAX_K as i64 {
                    self.err(k.span(), format!("K must be at most {MAX_K} (got {v})"));
                    return None;
                }
                Some(v as u32)
            }
            None => None,
        };
        let f = f?;
        let w = match w {
            Some(Some(w)) => Some(w),
            Some(None) => return None,
            None => None,
        };
        let red = match (base, w) {
            (RedBase::Sum, _) => Red::Sum,
            (RedBase::LogSumExp, None) => Red::LogSumExp,
            (RedBase::LogSumExp, Some(_)) | (RedBase::LogSumExpWeight, _) => Red::LogSumExpWeight,
            (RedBase::SumSoftmaxWeight, _) => Red::SumSoftmaxWeight,
            (RedBase::Min, _) => Red::Min,
            (RedBase::ArgMin, _) => Red::ArgMin,
            (RedBase::MinArgMin, _) => Red::MinArgMin,
            (RedBase::Max, _) => Red::Max,
            (RedBase::ArgMax, _) => Red::ArgMax,
            (RedBase::MaxArgMax, _) => Red::MaxArgMax,
            (RedBase::KMin, _) => Red::KMin(k?),
            (RedBase::ArgKMin, _) => Red::ArgKMin(k?),
            (RedBase::KMinArgKMin, _) => Red::KMinArgKMin(k?),
        };
        if red.k() > 1 {
            let out_dim = u64::from(red.k()) * u64::from(self.g.dim(f));
            let what = format!(
                "the output of `{}` (K times the formula's dimension)",
                red.name()
            );
            self.check_dim(span, &what, out_dim)?;
        }
        if let Some(w) = w {
            let (fd, wd) = (self.g.dim(f), self.g.dim(w));
            if fd != 1 && fd != wd {
                self.err(
                    f_ast.expect("formula").span(),
                    format!(
                        "dimension mismatch in `{}`: the formula has dimension {fd} but the weight has dimension {wd} (the formula must be scalar or of the weight's dimension)",
                        red.name()
                    ),
                );
                return None;
            }
        }
        let _ = name_span;
        Some((red, axis, f, w))
    }

    // ------------------------------------------------------------------
    // Expressions
    // ------------------------------------------------------------------

    /// Lowers an expression, within the IR size limits.
    fn expr(&mut self, ast: &Ast) -> Option<Id> {
        if self.too_large {
            return None;
        }
        let r = self.expr_inner(ast);
        let n = self.g.len();
        for k in self.accounted..n {
            self.ir_size += self.g.dim(Id(k as u32)) as usize;
        }
        self.accounted = n;
        if !self.too_large && (n > MAX_IR_NODES || self.ir_size > MAX_IR_SIZE) {
            self.too_large = true;
            self.err(
                ast.span(),
                format!(
                    "formula too large: more than {MAX_IR_NODES} operations or {MAX_IR_SIZE} vector components (see `keops_compiler::limits`)"
                ),
            );
            return None;
        }
        r
    }

    /// Checks a dimension computed from the formula against [`MAX_DIM`].
    fn check_dim(&mut self, span: Span, what: &str, d: u64) -> Option<u32> {
        if d == 0 {
            self.err(span, format!("{what} has dimension 0"));
            return None;
        }
        if d > MAX_DIM as u64 {
            self.err(
                span,
                format!("{what} has dimension {d}, more than the limit {MAX_DIM}"),
            );
            return None;
        }
        Some(d as u32)
    }

    fn expr_inner(&mut self, ast: &Ast) -> Option<Id> {
        match ast {
            Ast::Name(name, span) => {
                if let Some(k) = self.vars.iter().position(|v| &v.name == name) {
                    return Some(self.g.var(k as u32));
                }
                if let Some(&(id, _)) = self.lets.get(name) {
                    return Some(id);
                }
                let known: Vec<&str> = self
                    .vars
                    .iter()
                    .map(|v| v.name.as_str())
                    .chain(self.lets.keys().map(String::as_str))
                    .collect();
                let sugg = suggestion(name, known.iter().copied());
                self.err(
                    *span,
                    format!(
                        "unknown variable `{name}` (declared: {}){sugg}",
                        known.join(", ")
                    ),
                );
                None
            }
            Ast::Num { value, .. } => Some(self.g.constant(*value)),
            Ast::Neg(inner, _) => {
                let a = self.expr(inner)?;
                Some(self.g.un(Un::Neg, a))
            }
            Ast::Binary { op, lhs, rhs, span } => {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                let (a, b) = (a?, b?);
                self.binary(*op, a, b, lhs, rhs, *span)
            }
            Ast::Index { base, index, span } => {
                let a = self.expr(base)?;
                let d = self.g.dim(a);
                match index {
                    IndexKind::Single(k) => {
                        if *k < 0 || *k >= d as i64 {
                            self.err(
                                *span,
                                format!("index {k} out of range for an expression of dimension {d} (valid: 0..{d})"),
                            );
                            return None;
                        }
                        Some(self.g.extract(a, *k as u32, 1))
                    }
                    IndexKind::Range(s, e) => {
                        let s = s.unwrap_or(0);
                        let e = e.unwrap_or(d as i64);
                        if s < 0 || e > d as i64 || s >= e {
                            self.err(
                                *span,
                                format!("slice {s}..{e} out of range for an expression of dimension {d} (need 0 <= start < end <= {d})"),
                            );
                            return None;
                        }
                        Some(self.g.extract(a, s as u32, (e - s) as u32))
                    }
                }
            }
            Ast::List(_, span) => {
                self.err(
                    *span,
                    "a list is only allowed as an argument of `cat` or `keops_tensordot`",
                );
                None
            }
            Ast::Call {
                func,
                func_span,
                args,
                span,
            } => {
                let mut all: Vec<Arg> = Vec::with_capacity(args.len());
                all.extend(args.iter().cloned());
                self.call(func, *func_span, &all, *span, false)
            }
            Ast::Method {
                recv,
                method,
                method_span,
                args,
                span,
            } => {
                let lower = method.to_ascii_lowercase();
                if let Some(base) = red_base(&lower) {
                    if Front::method_axis(base, args).is_some() {
                        self.err(
                            *span,
                            format!(
                                "misplaced reduction `.{method}(...)`: a reduction must be the outermost operation of the formula"
                            ),
                        );
                        let _ = self.expr(recv);
                        return None;
                    }
                }
                let mut all: Vec<Arg> = Vec::with_capacity(args.len() + 1);
                match lower.as_str() {
                    // Receiver is not the first argument of the function form.
                    "weightedsqnorm" => {
                        all.extend(args.iter().cloned());
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                    }
                    "weightedsqdist" => {
                        // x.weightedsqdist(y, s) = weightedsqdist(s, x, y)
                        if args.len() != 2 {
                            self.err(*span, "`.weightedsqdist(y, s)` takes 2 arguments (y, s)");
                            return None;
                        }
                        all.push(args[1].clone());
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                        all.push(args[0].clone());
                    }
                    _ => {
                        all.push(Arg {
                            keyword: None,
                            value: (**recv).clone(),
                        });
                        all.extend(args.iter().cloned());
                    }
                }
                self.call(method, *method_span, &all, *span, true)
            }
        }
    }

    fn binary(&mut self, op: BinOp, a: Id, b: Id, lhs: &Ast, rhs: &Ast, span: Span) -> Option<Id> {
        let (da, db) = (self.g.dim(a), self.g.dim(b));
        if da != db && da != 1 && db != 1 {
            let what = match op {
                BinOp::Dot => "scalar product `(x | y)`".to_string(),
                _ => format!("`{}`", op.symbol()),
            };
            self.err(
                span,
                format!(
                    "dimension mismatch in {what}: left operand `{}` has dimension {da}, right operand `{}` has dimension {db} (dimensions must be equal, or one of them 1)",
                    snippet(lhs),
                    snippet(rhs)
                ),
            );
            return None;
        }
        let g = &mut self.g;
        Some(match op {
            BinOp::Dot => {
                let p = g.bin(Bin::Mul, a, b);
                g.vsum(p)
            }
            _ => ops::by_infix(op.symbol())
                .expect("every infix operator but `|` is in ops::ELEMENTWISE")
                .op
                .build(g, &[a, b]),
        })
    }

    /// Checks that two operands can be combined element-wise.
    fn check_broadcast(&mut self, what: &str, span: Span, items: &[(Id, &Ast)]) -> Option<u32> {
        let mut dim = 1;
        for &(id, _) in items {
            dim = dim.max(self.g.dim(id));
        }
        for &(id, ast) in items {
            let d = self.g.dim(id);
            if d != 1 && d != dim {
                let desc: Vec<String> = items
                    .iter()
                    .map(|&(i, a)| format!("`{}` has dimension {}", snippet(a), self.g.dim(i)))
                    .collect();
                self.err(
                    span,
                    format!(
                        "dimension mismatch in `{what}`: {} (dimensions must be equal, or 1)",
                        desc.join(", ")
                    ),
                );
                let _ = ast;
                return None;
            }
        }
        Some(dim)
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Arg],
        span: Span,
        method: bool,
    ) -> Option<Id> {
        let lower = name.to_ascii_lowercase();
        if let Some((_, _)) = reduction_call(&lower) {
            self.err(
                span,
                format!("misplaced reduction `{name}`: a reduction must be the outermost operation of the formula"),
            );
            return None;
        }
        if matches!(
            lower.as_str(),
            "logsumexp"
                | "logsumexp_weight"
                | "sumsoftmaxweight"
                | "kmin"
                | "argkmin"
                | "kmin_argkmin"
                | "min_argmin"
                | "max_argmax"
        ) {
            self.err(
                name_span,
                format!("`{name}` is a reduction: write it `{lower}_j(...)`/`{lower}_i(...)` or as a method with an axis, at the outermost level"),
            );
            return None;
        }
        // Lower every argument except lists and literal-only slots lazily.
        macro_rules! bind {
            ($slots:expr, $req:expr) => {{
                let what = if method {
                    format!(".{}()", name)
                } else {
                    name.to_string()
                };
                self.bind(&what, span, args, $slots, $req)?
            }};
        }
        // Vector max/min: one argument, or a method with axis 2 / -1 / none.
        if matches!(lower.as_str(), "max" | "min") {
            let vector_form = args.len() == 1
                || (method
                    && args.len() == 2
                    && matches!(args[1].value.as_int(), Some(2) | Some(-1))
                    && args[1].keyword.is_none())
                || (method
                    && args.len() == 2
                    && matches!(&args[1].keyword, Some((k, _)) if k == "axis" || k == "dim"));
            if vector_form {
                if args.len() == 2 {
                    if let Some(v) = args[1].value.as_int() {
                        if v != 2 && v != -1 {
                            self.err(args[1].value.span(), "axis must be 0 (over i), 1 (over j), or 2 / -1 (over the vector entries)");
                            return None;
                        }
                    }
                }
                let x = self.expr(&args[0].value)?;
                let r = if lower == "max" {
                    VecRed::Max
                } else {
                    VecRed::Min
                };
                return Some(self.g.vec_red(r, x));
            }
        }
        // Element-wise operations (but those taking a literal argument).
        if let Some(def) = ops::by_spelling(&lower).filter(|d| !d.hand_lowered) {
            let b = bind!(def.args, def.required);
            let mut ids = Vec::new();
            let mut bad = false;
            for a in b.slots.iter().flatten() {
                match self.expr(a) {
                    Some(id) => ids.push((id, *a)),
                    None => bad = true,
                }
            }
            if bad {
                return None;
            }
            self.check_broadcast(def.calls[0], span, &ids)?;
            let ids: Vec<Id> = ids.iter().map(|&(id, _)| id).collect();
            return Some(def.op.build(&mut self.g, &ids));
        }
        match lower.as_str() {
            "round" => {
                let b = bind!(&[&["x"], &["decimals", "d"]], 1);
                let x = self.expr(b.slots[0]?)?;
                let d = match b.slots[1] {
                    Some(a) => self.int_arg(a, "the number of decimals of `round`")?,
                    None => 0,
                };
                if d == 0 {
                    return Some(self.g.un(Un::Round, x));
                }
                let dim = self.g.dim(x);
                let scale = self.g.splat_const(10f64.powi(d as i32), dim);
                let t = self.g.bin(Bin::Mul, x, scale);
                let r = self.g.un(Un::Round, t);
                Some(self.g.bin(Bin::Div, r, scale))
            }
            "pow" => {
                let b = bind!(&[&["x"], &["n", "exponent"]], 2);
                let xa = b.slots[0]?;
                let na = b.slots[1]?;
                let x = self.expr(xa);
                let n = match na.as_number() {
                    Some(v) => v,
                    None => {
                        self.err(
                            na.span(),
                            "the exponent of `pow` must be an integer literal; use `powf(x, y)` for a real or variable exponent",
                        );
                        return None;
                    }
                };
                let x = x?;
                if n == n.trunc() && n.abs() <= 1024.0 {
                    Some(self.g.un(Un::PowI(n as i32), x))
                } else {
                    let c = self.g.constant(n);
                    Some(self.g.bin(Bin::Powf, x, c))
                }
            }
            "dot" | "scalprod" => {
                let b = bind!(&[&["a", "x"], &["b", "y"]], 2);
                let (aa, ba) = (b.slots[0]?, b.slots[1]?);
                let a = self.expr(aa);
                let c = self.expr(ba);
                let (a, c) = (a?, c?);
                self.check_broadcast("dot", span, &[(a, aa), (c, ba)])?;
                let p = self.g.bin(Bin::Mul, a, c);
                Some(self.g.vsum(p))
            }
            "argmax" | "argmin" => {
                let b = bind!(&[&["x"], &["axis", "dim"]], 1);
                if let Some(a) = b.slots[1] {
                    match a.as_int() {
                        Some(2) | Some(-1) => {}
                        _ => {
                            self.err(a.span(), "axis must be 0 (over i), 1 (over j), or 2 / -1 (over the vector entries)");
                            return None;
                        }
                    }
                }
                let x = self.expr(b.slots[0]?)?;
                let r = if lower == "argmax" {
                    VecRed::ArgMax
                } else {
                    VecRed::ArgMin
                };
                Some(self.g.vec_red(r, x))
            }
            "sum" => {
                let b = bind!(&[&["x"], &["axis", "dim"]], 1);
                if let Some(a) = b.slots[1] {
                    match a.as_int() {
                        Some(2) | Some(-1) => {}
                        _ => {
                            self.err(
                                a.span(),
                                "axis must be 0 (over i), 1 (over j), or 2 / -1 (the vector sum)",
                            );
                            return None;
                        }
                    }
                }
                let x = self.expr(b.slots[0]?)?;
                Some(self.g.vsum(x))
            }
            "clampint" => {
                let b = bind!(&[&["x"], &["a"], &["b"]], 3);
                let x = self.expr(b.slots[0]?);
                let lo = self.int_arg(b.slots[1]?, "the lower bound of `clampint`");
                let hi = self.int_arg(b.slots[2]?, "the upper bound of `clampint`");
                let (x, lo, hi) = (x?, lo?, hi?);
                let lo = self.g.constant(lo as f64);
                let hi = self.g.constant(hi as f64);
                Some(self.g.tern(Tern::Clamp, x, lo, hi))
            }
            "sqnorm2" | "norm2" | "normalize" => {
                let b = bind!(&[&["x"]], 1);
                let x = self.expr(b.slots[0]?)?;
                let g = &mut self.g;
                let sq = g.un(Un::Square, x);
                let s = g.vsum(sq);
                Some(match lower.as_str() {
                    "sqnorm2" => s,
                    "norm2" => g.un(Un::Sqrt, s),
                    _ => {
                        let r = g.un(Un::Rsqrt, s);
                        g.bin(Bin::Mul, x, r)
                    }
                })
            }
            "norm" => {
                let b = bind!(&[&["x"], &["axis", "dim"]], 1);
                if let Some(a) = b.slots[1] {
                    match a.as_int() {
                        Some(2) | Some(-1) => {}
                        _ => {
                            self.err(a.span(), "`norm` is the Euclidean norm over the vector entries: its axis must be 2 (or -1)");
                            return None;
                        }
                    }
                }
                let x = self.expr(b.slots[0]?)?;
                let g = &mut self.g;
                let sq = g.un(Un::Square, x);
                let s = g.vsum(sq);
                Some(g.un(Un::Sqrt, s))
            }
            "sqdist" => {
                let b = bind!(&[&["x"], &["y"]], 2);
                let (xa, ya) = (b.slots[0]?, b.slots[1]?);
                let x = self.expr(xa);
                let y = self.expr(ya);
                let (x, y) = (x?, y?);
                self.check_broadcast("sqdist", span, &[(x, xa), (y, ya)])?;
                let g = &mut self.g;
                let d = g.bin(Bin::Sub, x, y);
                let sq = g.un(Un::Square, d);
                Some(g.vsum(sq))
            }
            "weightedsqnorm" | "weightedsqdist" => {
                let dist = lower == "weightedsqdist";
                let b = if dist {
                    bind!(&[&["s"], &["x"], &["y"]], 3)
                } else {
                    bind!(&[&["s"], &["x"]], 2)
                };
                let sa = b.slots[0]?;
                let s = self.expr(sa);
                let xa = b.slots[1]?;
                let x = self.expr(xa);
                let (s, mut x) = (s?, x?);
                if dist {
                    let ya = b.slots[2]?;
                    let y = self.expr(ya)?;
                    self.check_broadcast("weightedsqdist", span, &[(x, xa), (y, ya)])?;
                    x = self.g.bin(Bin::Sub, x, y);
                }
                let (ds, dx) = (self.g.dim(s), self.g.dim(x));
                let g = &mut self.g;
                if ds == 1 {
                    let sq = g.un(Un::Square, x);
                    let n = g.vsum(sq);
                    Some(g.bin(Bin::Mul, s, n))
                } else if ds == dx {
                    let sq = g.un(Un::Square, x);
                    let p = g.bin(Bin::Mul, s, sq);
                    Some(g.vsum(p))
                } else if u64::from(ds) == u64::from(dx) * u64::from(dx) {
                    let m = g.bilinear(matvec_map(dx, dx), s, x);
                    let p = g.bin(Bin::Mul, x, m);
                    Some(g.vsum(p))
                } else {
                    self.err(
                        sa.span(),
                        format!(
                            "dimension mismatch in `{lower}`: the weight `{}` has dimension {ds}, but must have dimension 1, {dx} or {} (the vector has dimension {dx})",
                            snippet(sa),
                            u64::from(dx) * u64::from(dx)
                        ),
                    );
                    None
                }
            }
            "elem" => {
                let b = bind!(&[&["x"], &["k", "m"]], 2);
                let x = self.expr(b.slots[0]?);
                let ka = b.slots[1]?;
                let k = self.int_arg(ka, "the index of `elem`")?;
                let x = x?;
                let d = self.g.dim(x);
                if k < 0 || k >= d as i64 {
                    self.err(ka.span(), format!("index {k} out of range for `elem` of an expression of dimension {d} (valid: 0..{d})"));
                    return None;
                }
                Some(self.g.extract(x, k as u32, 1))
            }
            "extract" => {
                let b = bind!(&[&["x"], &["k", "start"], &["d", "len"]], 3);
                let x = self.expr(b.slots[0]?);
                let k = self.int_arg(b.slots[1]?, "the start of `extract`");
                let l = self.int_arg(b.slots[2]?, "the length of `extract`");
                let (x, k, l) = (x?, k?, l?);
                let d = self.g.dim(x);
                if k < 0 || l < 1 || k.checked_add(l).is_none_or(|e| e > d as i64) {
                    self.err(
                        span,
                        format!(
                            "`extract` of {l} components from {k} out of range for an expression of dimension {d}"
                        ),
                    );
                    return None;
                }
                Some(self.g.extract(x, k as u32, l as u32))
            }
            "one_hot" | "onehot" => {
                let b = bind!(&[&["x"], &["D", "dim"]], 2);
                let xa = b.slots[0]?;
                let x = self.expr(xa);
                let da = b.slots[1]?;
                let d = self.int_arg(da, "the dimension of `one_hot`")?;
                let x = x?;
                if self.g.dim(x) != 1 {
                    self.err(
                        xa.span(),
                        format!(
                            "`one_hot` takes a scalar, but `{}` has dimension {}",
                            snippet(xa),
                            self.g.dim(x)
                        ),
                    );
                    return None;
                }
                if !(1..=MAX_DIM as i64).contains(&d) {
                    self.err(
                        da.span(),
                        format!(
                            "the dimension of `one_hot` must be between 1 and {MAX_DIM} (got {d})"
                        ),
                    );
                    return None;
                }
                Some(self.g.one_hot(x, d as u32))
            }
            "concat" | "cat" | "concatenate" => {
                let items: Vec<&Ast> = if args.len() == 1 {
                    match &args[0].value {
                        Ast::List(items, _) => items.iter().collect(),
                        other => vec![other],
                    }
                } else {
                    args.iter().map(|a| &a.value).collect()
                };
                if lower == "concat" && items.len() != 2 {
                    self.err(
                        span,
                        format!(
                            "`concat` takes 2 arguments (got {}); use `cat(a, b, c, ...)` for more",
                            items.len()
                        ),
                    );
                    return None;
                }
                let mut ids = Vec::new();
                let mut bad = false;
                for it in items {
                    match self.expr(it) {
                        Some(id) => ids.push(id),
                        None => bad = true,
                    }
                }
                if bad || ids.is_empty() {
                    if ids.is_empty() && !bad {
                        self.err(span, "`cat` needs at least one argument");
                    }
                    return None;
                }
                let total: u64 = ids.iter().map(|&id| u64::from(self.g.dim(id))).sum();
                self.check_dim(span, "the concatenation", total)?;
                Some(self.g.concat(&ids))
            }
            "matvecmult" | "vecmatmult" => {
                let mv = lower == "matvecmult";
                let b = if mv {
                    bind!(&[&["a"], &["v"]], 2)
                } else {
                    bind!(&[&["v"], &["a"]], 2)
                };
                let (first, second) = (b.slots[0]?, b.slots[1]?);
                let p = self.expr(first);
                let q = self.expr(second);
                let (p, q) = (p?, q?);
                let (a, v, aa, va) = if mv {
                    (p, q, first, second)
                } else {
                    (q, p, second, first)
                };
                let (da, dv) = (self.g.dim(a), self.g.dim(v));
                if da % dv != 0 {
                    self.err(
                        span,
                        format!(
                            "dimension mismatch in `{lower}`: the matrix `{}` has dimension {da}, which is not a multiple of the vector `{}`'s dimension {dv}",
                            snippet(aa),
                            snippet(va)
                        ),
                    );
                    return None;
                }
                let m = da / dv;
                if mv {
                    Some(self.g.bilinear(matvec_map(m, dv), a, v))
                } else {
                    Some(self.g.bilinear(vecmat_map(dv, m), v, a))
                }
            }
            "tensorprod" => {
                let b = bind!(&[&["x"], &["y"]], 2);
                let x = self.expr(b.slots[0]?);
                let y = self.expr(b.slots[1]?);
                let (x, y) = (x?, y?);
                let (dx, dy) = (self.g.dim(x), self.g.dim(y));
                self.check_dim(span, "the tensor product", u64::from(dx) * u64::from(dy))?;
                Some(self.g.bilinear(tensorprod_map(dx, dy), x, y))
            }
            "keops_tensordot" | "tensordot" => {
                let b = bind!(
                    &[
                        &["a"],
                        &["b"],
                        &["dimfa"],
                        &["dimfb"],
                        &["contfa"],
                        &["contfb"],
                        &["permute"]
                    ],
                    6
                );
                let aa = b.slots[0]?;
                let ba = b.slots[1]?;
                let a = self.expr(aa);
                let bb = self.expr(ba);
                let dfa = self.int_list(b.slots[2]?, "`dimfa`");
                let dfb = self.int_list(b.slots[3]?, "`dimfb`");
                let cfa = self.int_list(b.slots[4]?, "`contfa`");
                let cfb = self.int_list(b.slots[5]?, "`contfb`");
                let perm = match b.slots[6] {
                    Some(p) => Some(self.int_list(p, "`permute`")?),
                    None => None,
                };
                let (a, bb, dfa, dfb, cfa, cfb) = (a?, bb?, dfa?, dfb?, cfa?, cfb?);
                match tensordot_map(
                    &dfa,
                    &dfb,
                    &cfa,
                    &cfb,
                    perm.as_deref(),
                    self.g.dim(a),
                    self.g.dim(bb),
                ) {
                    Ok(m) => Some(self.g.bilinear(m, a, bb)),
                    Err(msg) => {
                        self.err(span, format!("invalid `keops_tensordot`: {msg}"));
                        None
                    }
                }
            }
            "grad" => {
                let b = bind!(&[&["f"], &["v", "var"], &["e", "gradin"]], 3);
                let fa = b.slots[0]?;
                let va = b.slots[1]?;
                let ea = b.slots[2]?;
                let f = self.expr(fa);
                let e = self.expr(ea);
                let v = match va {
                    Ast::Name(n, _) => match self.vars.iter().position(|d| &d.name == n) {
                        Some(k) => Some(k as u32),
                        None => {
                            if self.lets.contains_key(n) {
                                self.err(va.span(), format!("`grad` differentiates with respect to a formula variable; `{n}` is a `let` binding"));
                            } else {
                                let _ = self.expr(va);
                            }
                            None
                        }
                    },
                    other => {
                        self.err(
                            other.span(),
                            "`grad(f, v, e)`: the second argument must be the name of a formula variable",
                        );
                        None
                    }
                };
                let (f, e, v) = (f?, e?, v?);
                let (df, de) = (self.g.dim(f), self.g.dim(e));
                if df != de {
                    self.err(
                        ea.span(),
                        format!("dimension mismatch in `grad`: the cotangent `{}` has dimension {de}, but the formula `{}` has dimension {df} (they must be equal)", snippet(ea), snippet(fa)),
                    );
                    return None;
                }
                let cost = self.g.op_count(&[f]);
                if cost > MAX_SCALAR_OPS {
                    self.err(
                        span,
                        format!("formula too large to differentiate: about {cost} scalar operations (at most {MAX_SCALAR_OPS})"),
                    );
                    return None;
                }
                if !self.g.uses_var(f, v) {
                    self.err(
                        va.span(),
                        format!(
                            "`{}` does not depend on `{}`: its gradient is identically zero",
                            snippet(fa),
                            self.vars[v as usize].name
                        ),
                    );
                    return None;
                }
                Some(vjp(&mut self.g, f, v, e))
            }
            _ => {
                let sugg = suggestion(name, function_names());
                self.err(
                    name_span,
                    if method {
                        format!("unknown method `.{name}()` in a formula{sugg}")
                    } else {
                        format!("unknown function `{name}` in a formula{sugg}")
                    },
                );
                // Still check the arguments.
                for a in args {
                    let _ = self.expr(&a.value);
                }
                None
            }
        }
    }
}

/// Short source-like text of an AST node, for messages.
pub fn snippet(a: &Ast) -> String {
    let s = render_ast(a);
    if s.len() > 40 {
        format!(
            "{}…",
            &s[..s
                .char_indices()
                .take(39)
                .last()
                .map(|(i, c)| i + c.len_utf8())
                .unwrap_or(0)]
        )
    } else {
        s
    }
}

fn render_ast(a: &Ast) -> String {
    let args = |args: &[Arg]| {
        args.iter()
            .map(|a| match &a.keyword {
                Some((k, _)) => format!("{k} = {}", render_ast(&a.value)),
                None => render_ast(&a.value),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match a {
        Ast::Name(n, _) => n.clone(),
        Ast::Num { value, int, .. } => {
            if *int {
                format!("{}", *value as i64)
            } else {
                format!("{value:?}")
            }
        }
        Ast::Call { func, args: a, .. } => format!("{func}({})", args(a)),
        Ast::Method {
            recv,
            method,
            args: a,
            ..
        } => {
            let r = match &**recv {
                Ast::Binary { op, .. } if *op != BinOp::Dot => format!("({})", render_ast(recv)),
                Ast::Neg(..) => format!("({})", render_ast(recv)),
                _ => render_ast(recv),
            };
            format!("{r}.{method}({})", args(a))
        }
        Ast::Binary {
            op: BinOp::Dot,
            lhs,
            rhs,
            ..
        } => format!("({} | {})", render_ast(lhs), render_ast(rhs)),
        Ast::Binary { op, lhs, rhs, .. } => {
            let side = |a: &Ast| match a {
                Ast::Binary { op: o, .. } if *o != BinOp::Dot => format!("({})", render_ast(a)),
                Ast::Neg(..) => format!("({})", render_ast(a)),
                _ => render_ast(a),
            };
            format!("{} {} {}", side(lhs), op.symbol(), side(rhs))
        }
        Ast::Neg(x, _) => format!("-{}", render_ast(x)),
        Ast::Index { base, index, .. } => match index {
            IndexKind::Single(k) => format!("{}[{k}]", render_ast(base)),
            IndexKind::Range(s, e) => format!(
                "{}[{}..{}]",
                render_ast(base),
                s.map(|v| v.to_string()).unwrap_or_default(),
                e.map(|v| v.to_string()).unwrap_or_default()
            ),
        },
        Ast::List(items, _) => format!(
            "[{}]",
            items.iter().map(render_ast).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `matvecmult`: `a` is a row-major `m × n` matrix, `v` has dimension `n`.
pub fn matvec_map(m: u32, n: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k, k * n + l, l));
        }
    }
    BilinearMap {
        name: "matvecmult",
        dim_a: m * n,
        dim_b: n,
        dim_out: m,
        terms,
    }
}

/// `vecmatmult`: `v` has dimension `n`, `a` is a row-major `n × m` matrix;
/// `out[k] = sum_l v[l] a[l m + k]`.
pub fn vecmat_map(n: u32, m: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k, l, l * m + k));
        }
    }
    BilinearMap {
        name: "vecmatmult",
        dim_a: n,
        dim_b: n * m,
        dim_out: m,
        terms,
    }
}

/// `tensorprod`: `out[k n + l] = x[k] y[l]`.
pub fn tensorprod_map(m: u32, n: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k * n + l, k, l));
        }
    }
    BilinearMap {
        name: "tensorprod",
        dim_a: m,
        dim_b: n,
        dim_out: m * n,
        terms,
    }
}

/// `keops_tensordot(a, b, dimfa, dimfb, contfa, contfb, permute)`: `a` and
/// `b` are row-major tensors of shapes `dimfa` and `dimfb`; axes `contfa[k]`
/// of `a` and `contfb[k]` of `b` are contracted; the kept axes of `a` then of
/// `b` form the output, kept axis `q` going to output position `permute[q]`
/// (identity by default), as in KeOps.
pub fn tensordot_map(
    dfa: &[u32],
    dfb: &[u32],
    cfa: &[u32],
    cfb: &[u32],
    permute: Option<&[u32]>,
    dim_a: u32,
    dim_b: u32,
) -> Result<BilinearMap, String> {
    // Products in u64, saturating (the shapes must multiply to the
    // operands' dimensions, which are at most `MAX_DIM`).
    let prod = |v: &[u32]| {
        v.iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(u64::from(d)))
    };
    if dfa.is_empty() || dfb.is_empty() {
        return Err("the shapes must not be empty".into());
    }
    const MAX_AXES: usize = 32;
    if dfa.len() > MAX_AXES || dfb.len() > MAX_AXES {
        return Err(format!("the shapes have at most {MAX_AXES} axes"));
    }
    if dfa.contains(&0) || dfb.contains(&0) {
        return Err("the shapes' sizes must be at least 1".into());
    }
    if prod(dfa) != u64::from(dim_a) {
        return Err(format!(
            "the shape {dfa:?} has {} entries but the first operand has dimension {dim_a}",
            prod(dfa)
        ));
    }
    if prod(dfb) != u64::from(dim_b) {
        return Err(format!(
            "the shape {dfb:?} has {} entries but the second operand has dimension {dim_b}",
            prod(dfb)
        ));
    }
    if cfa.len() != cfb.len() {
        return Err("`contfa` and `contfb` must have the same length".into());
    }
    for (&x, &y) in cfa.iter().zip(cfb) {
        if x as usize >= dfa.len() || y as usize >= dfb.len() {
            return Err("a contracted axis is out of range".into());
        }
        if dfa[x as usize] != dfb[y as usize] {
            return Err(format!(
                "contracted axes {x} of a (size {}) and {y} of b (size {}) differ in size",
                dfa[x as usize], dfb[y as usize]
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !cfa.iter().all(|x| seen.insert(*x)) {
        return Err("`contfa` repeats an axis".into());
    }
    let mut seen = std::collections::HashSet::new();
    if !cfb.iter().all(|x| seen.insert(*x)) {
        return Err("`contfb` repeats an axis".into());
    }
    let keep_a: Vec<usize> = (0..dfa.len())
        .filter(|k| !cfa.contains(&(*k as u32)))
        .collect();
    let keep_b: Vec<usize> = (0..dfb.len())
        .filter(|k| !cfb.contains(&(*k as u32)))
        .collect();
    let keep_dims: Vec<u32> = keep_a
        .iter()
        .map(|&k| dfa[k])
        .chain(keep_b.iter().map(|&k| dfb[k]))
        .collect();
    let nk = keep_dims.len();
    let perm: Vec<usize> = match permute {
        Some(p) => {
            let mut sorted: Vec<u32> = p.to_vec();
            sorted.sort();
            if sorted != (0..nk as u32).collect::<Vec<_>>() {
                return Err(format!("`permute` must be a permutation of 0..{nk}"));
            }
            p.iter().map(|&x| x as usize).collect()
        }
        None => (0..nk).collect(),
    };
    // Output shape: kept axis q sits at position perm[q].
    let mut out_dims = vec![0u32; nk];
    for q in 0..nk {
        out_dims[perm[q]] = keep_dims[q];
    }
    let strides = |dims: &[u32]| -> Vec<u32> {
        let mut s = vec![1u32; dims.len()];
        for k in (0..dims.len().saturating_sub(1)).rev() {
            s[k] = s[k + 1] * dims[k + 1];
        }
        s
    };
    let sa = strides(dfa);
    let sb = strides(dfb);
    let so = strides(&out_dims);
    let cont_dims: Vec<u32> = cfa.iter().map(|&x| dfa[x as usize]).collect();
    // At most dim_a * dim_b <= MAX_DIM^2 and dim_a: no overflow.
    let total_keep: u32 = keep_dims.iter().product();
    let total_cont: u32 = cont_dims.iter().product();
    if total_keep > crate::limits::MAX_DIM {
        return Err(format!(
            "the result has dimension {total_keep}, more than the limit {}",
            crate::limits::MAX_DIM
        ));
    }
    let n_terms = u64::from(total_keep) * u64::from(total_cont);
    if n_terms > crate::limits::MAX_SCALAR_OPS as u64 {
        return Err(format!(
            "{n_terms} products, more than the limit {}",
            crate::limits::MAX_SCALAR_OPS
        ));
    }
    let mut terms = Vec::new();
    for kk in 0..total_keep {
        // Multi-index over kept axes (row-major in keep order).
        let mut rem = kk;
        let mut kidx = vec![0u32; nk];
        for q in (0..nk).rev() {
            kidx[q] = rem % keep_dims[q];
            rem /= keep_dims[q];
        }
        let mut o = 0;
        for q in 0..nk {
            o += kidx[q] * so[perm[q]];
        }
        for cc in 0..total_cont {
            let mut rem = cc;
            let mut cidx = vec![0u32; cont_dims.len()];
            for q in (0..cont_dims.len()).rev() {
                cidx[q] = rem % cont_dims[q];
                rem /= cont_dims[q];
            }
            let mut ia = 0;
            for (q, &ax) in keep_a.iter().enumerate() {
                ia += kidx[q] * sa[ax];
            }
            for (q, &ax) in cfa.iter().enumerate() {
                ia += cidx[q] * sa[ax as usize];
            }
            let mut ib = 0;
            for (q, &ax) in keep_b.iter().enumerate() {
                ib += kidx[keep_a.len() + q] * sb[ax];
            }
            for (q, &ax) in cfb.iter().enumerate() {
                ib += cidx[q] * sb[ax as usize];
            }
            terms.push((o, ia, ib));
        }
    }
    terms.sort();
    Ok(BilinearMap {
        name: "tensordot",
        dim_a,
        dim_b,
        dim_out: total_keep,
        terms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Op;
    use crate::ops::{ElemOp, ELEMENTWISE};
    use crate::parse::parse_kernel_str;

    /// The "did you mean" candidates, as before the operation table (the
    /// nearest candidate wins, ties by name: only the set matters).
    #[test]
    fn suggested_names_are_unchanged() {
        let mut now: Vec<&str> = function_names().collect();
        now.sort();
        now.dedup();
        let mut before = vec![
            "abs",
            "exp",
            "log",
            "ln",
            "sin",
            "cos",
            "sqrt",
            "rsqrt",
            "square",
            "sign",
            "step",
            "relu",
            "inv",
            "xlogx",
            "sinxdivx",
            "asin",
            "acos",
            "atan",
            "tanh",
            "sinh",
            "cosh",
            "erf",
            "log1p",
            "expm1",
            "floor",
            "round",
            "pow",
            "powf",
            "atan2",
            "clamp",
            "clampint",
            "ifelse",
            "modulo",
            "max",
            "min",
            "sqnorm2",
            "norm2",
            "norm",
            "normalize",
            "sqdist",
            "weightedsqnorm",
            "weightedsqdist",
            "elem",
            "extract",
            "one_hot",
            "concat",
            "cat",
            "concatenate",
            "matvecmult",
            "vecmatmult",
            "tensorprod",
            "keops_tensordot",
            "sum",
            "argmax",
            "argmin",
            "dot",
            "grad",
            "sum_j",
            "sum_i",
            "logsumexp_j",
            "sumsoftmaxweight_j",
            "min_j",
            "argmin_j",
            "min_argmin_j",
            "max_j",
            "argmax_j",
            "max_argmax_j",
            "kmin_j",
            "argkmin_j",
            "kmin_argkmin_j",
        ];
        before.sort();
        assert_eq!(now, before);
    }

    /// The operations of the formula's graph (not simplified).
    fn ops_of(body: &str) -> Vec<Op> {
        let src = format!("|x: Vi<2>, y: Vj<2>, z: Pm<2>| sum_j({body})");
        let def = parse_kernel_str(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let st = build_stage(&def, false).unwrap_or_else(|e| panic!("{src}: {e}"));
        st.graph
            .reachable(&[st.f])
            .into_iter()
            .map(|id| st.graph.node(id).op.clone())
            .collect()
    }

    fn is(op: &Op, e: ElemOp) -> bool {
        match (op, e) {
            (Op::Un(a), ElemOp::Un(b)) => std::mem::discriminant(a) == std::mem::discriminant(&b),
            (Op::Bin(a), ElemOp::Bin(b)) => *a == b,
            (Op::Tern(a), ElemOp::Tern(b)) => *a == b,
            _ => false,
        }
    }

    /// Every spelling of the table, as a function, a method and an infix
    /// operator, lowers to its operation.
    #[test]
    fn every_spelling_lowers_to_its_operation() {
        for d in ELEMENTWISE {
            let n = d.required;
            // Literal arguments for the hand-lowered spellings (`pow(x, 3)`).
            let operands = if d.hand_lowered {
                ["x", "3", "3"]
            } else {
                ["x", "y", "z"]
            };
            for s in d.spellings() {
                let s = if s == "mod" { "r#mod" } else { s };
                let call = format!("{s}({})", operands[..n].join(", "));
                let method = format!("x.{s}({})", operands[1..n].join(", "));
                for body in [call, method] {
                    assert!(
                        ops_of(&body).iter().any(|o| is(o, d.op)),
                        "`{body}` is not {}",
                        d.name
                    );
                }
            }
            if let Some(sym) = d.infix {
                let body = format!("x {sym} y");
                assert!(ops_of(&body).iter().any(|o| is(o, d.op)), "`{body}`");
            }
        }
    }
}
