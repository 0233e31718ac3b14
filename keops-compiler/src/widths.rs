//! Widths named by a `const` item or a const generic parameter
//! (`x: Vi<D>`): the macro cannot read their values, so it compiles the
//! formula for every value at once.
//!
//! How: the names are grouped into classes of widths that must be equal
//! (the front end is run with probe widths: a class is a set of names that
//! only type-check together), and the formula is compiled several times
//! with probe widths above the CPU emitter's loop thresholds, so that every
//! vector of a named width is a loop. The expansions of these *probe runs*
//! are compared token by token: they must be the same code except for
//! integer literals, and every literal must be an affine function of the
//! probe widths (`2 + D`), checked on one more run that moves every width at
//! once. The expansion of the first run, with each such literal replaced by
//! its expression in the items' const parameters (`__W0`, ...), is then
//! valid for every width: rustc unrolls its loops when it monomorphises a
//! kernel, so a named width runs as fast as the same literal. Buffer types
//! whose length is such an expression (`[E; 2 + D]` is not a type on stable
//! Rust) become `BufCat`/`BufRep` of arrays.
//!
//! What this cannot express (a vector of a named width that the back end
//! scalarises: concatenations, `one_hot`, the gradient of `x[k]`, products
//! of two named widths, ...) makes the runs differ, and the formula gets a compile error
//! asking for literal widths. The equalities between names are left to
//! rustc: `const { assert!(D == E) }` where the kernel is made, evaluated
//! when the user's code is monomorphised. A named width must not meet a
//! literal width other than 1 (which broadcasts).
//!
//! Named-width kernels carry no PTX (it is unrolled per width): with a GPU
//! back end compiled in, each stage carries the kernel definition instead
//! (`keops_abi::NAMED_WIDTHS_PTX`, `keops_ir::wire`), and the runtime builds
//! and emits the stage's PTX at the widths of the first GPU call, in-process.
//! Named-width symbolic matrices run on the CPU only.

use std::collections::HashMap;

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::emit_cpu::{expand_generic, Generics};
use crate::emit_matrix::MatrixFamilies;
use crate::front::{Errors, FrontError};
use crate::parse::{Arg, Ast, IndexKind, KernelDef};
use crate::stage::{Family, StagePtx};
use keops_abi::NAMED_WIDTHS_PTX;

pub use crate::parse::PARSED_PROBE;

/// Probe width of class `c` in a run: above the emitter's thresholds (loops
/// from 32 components, array patterns up to 64), distinct per class.
fn probe(c: usize, shift: u32) -> u32 {
    PARSED_PROBE + 20 * c as u32 + shift
}

/// Shift of the run that moves one class, and of the run that moves all.
const VARY: u32 = 3;
const CHECK: u32 = 8;

/// The classes of named widths of a formula and its probe runs.
#[derive(Debug)]
pub struct Named {
    /// Classes of names that must be equal (each in declaration order).
    pub classes: Vec<Vec<String>>,
    /// The runs: the probe width of each class and the family built with
    /// them (run 0: every class at its base probe; run `1 + c`: class `c`
    /// moved; last run: every class moved). For a symbolic matrix, the
    /// family of its first part.
    pub runs: Vec<(Vec<u32>, Family)>,
    /// For a symbolic matrix (a formula without a reduction), its families
    /// at each run (empty for a kernel).
    pub matrices: Vec<MatrixFamilies>,
    /// The smallest width of each class (see [`min_widths`]).
    pub min: Vec<u32>,
    /// The definition with its gradient order fixed, as `keops_ir::wire`
    /// text: what the GPU back ends build the PTX from at a call's widths.
    pub wire: String,
}

/// True when a parameter's width is named.
pub fn has_named(def: &KernelDef) -> bool {
    def.params.iter().any(|p| p.width.is_some())
}

/// The distinct width names of `def`, in declaration order.
fn names(def: &KernelDef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &def.params {
        if let Some(w) = &p.width {
            if !out.contains(w) {
                out.push(w.clone());
            }
        }
    }
    out
}

/// `def` with every named width set to its class's probe.
pub fn with_probes(def: &KernelDef, classes: &[Vec<String>], probes: &[u32]) -> KernelDef {
    let mut d = def.clone();
    for p in &mut d.params {
        if let Some(w) = &p.width {
            let c = classes
                .iter()
                .position(|c| c.contains(w))
                .expect("classified");
            p.dim = probes[c];
        }
    }
    d
}

/// Groups the width names into classes: every name alone where the formula
/// type-checks so, else with the first class it type-checks with. `check`
/// runs the front end on a definition. The error, when the formula does not
/// type-check even with every name equal, names the widths instead of
/// their probes.
pub fn probe_classes(
    def: &KernelDef,
    check: impl Fn(&KernelDef) -> Result<(), Errors>,
) -> Result<Vec<Vec<String>>, Errors> {
    let names = names(def);
    let all = vec![names.clone()];
    if let Err(e) = check(&with_probes(def, &all, &[probe(0, 0)])) {
        return Err(rename_probes(e, &[(probe(0, 0), names.join(" = "))]));
    }
    let mut classes: Vec<Vec<String>> = vec![vec![names[0].clone()]];
    for (k, n) in names.iter().enumerate().skip(1) {
        // Names not yet placed stay with the first class.
        let trial = |classes: &[Vec<String>]| {
            let mut cs = classes.to_vec();
            cs[0].extend(names[k + 1..].iter().cloned());
            let probes: Vec<u32> = (0..cs.len()).map(|c| probe(c, 0)).collect();
            check(&with_probes(def, &cs, &probes)).is_ok()
        };
        let mut alone = classes.clone();
        alone.push(vec![n.clone()]);
        if trial(&alone) {
            classes = alone;
            continue;
        }
        let join = (0..classes.len()).find(|&c| {
            let mut cs = classes.clone();
            cs[c].push(n.clone());
            trial(&cs)
        });
        classes[join.unwrap_or(0)].push(n.clone());
    }
    Ok(classes)
}

/// The smallest width of each class for which the generalised code is the
/// formula: at least the smallest with which the formula type-checks (the
/// others at their probes; indexing `x[k]` and slicing need a width above
/// `k`; found by bisection, the constraints that depend on a named width
/// being lower bounds), and above every component index written in the
/// formula ([`index_bound`]).
pub fn min_widths(
    def: &KernelDef,
    classes: &[Vec<String>],
    check: impl Fn(&KernelDef) -> Result<(), Errors>,
) -> Vec<u32> {
    let base: Vec<u32> = (0..classes.len()).map(|c| probe(c, 0)).collect();
    let bound = index_bound(def);
    (0..classes.len())
        .map(|c| {
            let ok = |w: u32| {
                let mut probes = base.clone();
                probes[c] = w;
                check(&with_probes(def, classes, &probes)).is_ok()
            };
            let (mut lo, mut hi) = (1, base[c]);
            if ok(lo) {
                return lo;
            }
            // ok(hi) and !ok(lo).
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if ok(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi
        })
        .map(|m| m.max(bound))
        .collect()
}

/// One more than the largest component index written in the formula
/// (`x[k]`, `x[a..b]`, `elem(x, k)`, `extract(x, k, n)`; 1 without any).
///
/// The probe runs see an index `k` into a concatenation of a named-width
/// vector and others (`cat(x, x[0])[..3]`) fall inside the named-width
/// part, as it is wider than `k`. At a width at most `k` the same index
/// falls into the next part: the generalised code (which reads component
/// `k` of the named-width part) would compute another formula. Every offset
/// of a part after a named-width one is at least that width, so widths above
/// every index written keep each index in the part the probes saw it in.
pub fn index_bound(def: &KernelDef) -> u32 {
    // `elem(x, k)` reads component k; `extract(x, k, n)` up to k + n - 1.
    fn call_bound(name: &str, ints: i64) -> i64 {
        match name.to_ascii_lowercase().as_str() {
            "elem" => ints.saturating_add(1),
            "extract" => ints,
            _ => 0,
        }
    }
    fn ints(args: &[Arg]) -> i64 {
        args.iter()
            .filter_map(|a| a.value.as_int())
            .map(|k| k.max(0))
            .sum()
    }
    fn walk(a: &Ast, best: &mut i64) {
        match a {
            Ast::Name(..) | Ast::Num { .. } => {}
            Ast::Neg(x, _) => walk(x, best),
            Ast::Binary { lhs, rhs, .. } => {
                walk(lhs, best);
                walk(rhs, best);
            }
            Ast::List(items, _) => items.iter().for_each(|x| walk(x, best)),
            Ast::Index { base, index, .. } => {
                let k = match index {
                    IndexKind::Single(k) => k.saturating_add(1),
                    IndexKind::Range(a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
                };
                *best = (*best).max(k);
                walk(base, best);
            }
            Ast::Call { func, args, .. } => {
                *best = (*best).max(call_bound(func, ints(args)));
                args.iter().for_each(|x| walk(&x.value, best));
            }
            Ast::Method {
                recv, method, args, ..
            } => {
                *best = (*best).max(call_bound(method, ints(args)));
                walk(recv, best);
                args.iter().for_each(|x| walk(&x.value, best));
            }
        }
    }
    let mut best = 1i64;
    for (_, _, a) in &def.lets {
        walk(a, &mut best);
    }
    walk(&def.body, &mut best);
    u32::try_from(best.clamp(1, crate::limits::MAX_DIM as i64)).unwrap_or(1)
}

/// Replaces whole-word occurrences of the probe widths in the messages of
/// `e` by the names of the widths.
fn rename_probes(e: Errors, names: &[(u32, String)]) -> Errors {
    let renamed = e.into_vec().into_iter().map(|one| {
        let mut message = one.message;
        for (p, n) in names {
            message = replace_word(&message, &p.to_string(), n);
        }
        FrontError { message, ..one }
    });
    Errors::from_vec(renamed.collect()).expect("an error has a message")
}

fn replace_word(s: &str, word: &str, by: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(k) = rest.find(word) {
        let before = rest[..k].chars().next_back();
        let after = rest[k + word.len()..].chars().next();
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..k]);
        out.push_str(if alnum(before) || alnum(after) {
            word
        } else {
            by
        });
        rest = &rest[k + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The probe widths of every run for `n` classes.
pub fn run_probes(n: usize) -> Vec<Vec<u32>> {
    let mut runs = vec![(0..n).map(|c| probe(c, 0)).collect::<Vec<_>>()];
    for moved in 0..n {
        runs.push(
            (0..n)
                .map(|c| probe(c, if c == moved { VARY } else { 0 }))
                .collect(),
        );
    }
    runs.push((0..n).map(|c| probe(c, CHECK)).collect());
    runs
}

/// The expansion of a formula with named widths: the probe runs' CPU code,
/// generalised (see the module documentation); `Err` with a message when
/// the runs cannot be generalised.
pub fn expand(
    krate: &TokenStream,
    named: &Named,
    doc_src: &str,
    span: Span,
    ptx: bool,
) -> syn::Result<TokenStream> {
    let params: Vec<Ident> = (0..named.classes.len())
        .map(|c| format_ident!("__W{}", c))
        .collect();
    let args: Vec<TokenStream> = named
        .classes
        .iter()
        .map(|c| {
            let n = Ident::new(&c[0], span);
            quote!(#n)
        })
        .collect();
    // The messages are format strings of `assert!`.
    let quoted = doc_src.replace('{', "{{").replace('}', "}}");
    let mut checks = Vec::new();
    for (c, &min) in named.classes.iter().zip(&named.min) {
        let first = Ident::new(&c[0], span);
        let msg = format!(
            "keops!: the width `{}` must be at least {min} in `{quoted}`",
            c[0]
        );
        let min = Literal::usize_unsuffixed(min as usize);
        checks.push(quote!(const { ::core::assert!(#first >= #min, #msg) };));
        for other in &c[1..] {
            let o = Ident::new(other, span);
            let msg = format!(
                "keops!: the widths `{}` and `{other}` must be equal in `{quoted}`",
                c[0]
            );
            checks.push(quote!(const { ::core::assert!(#first == #o, #msg) };));
        }
    }
    let generics = Generics {
        params: params.clone(),
        args,
        checks: quote!(#(#checks)*),
        key_seed: Some(doc_src.to_string()),
    };
    let runs: Vec<TokenStream> = if named.matrices.is_empty() {
        named
            .runs
            .iter()
            .map(|(_, fam)| {
                // With a GPU back end, each stage carries the definition its
                // PTX is built from at a call's widths.
                let markers: Vec<StagePtx> = if ptx {
                    (0..fam.stages.len())
                        .map(|k| {
                            let m = format!("{NAMED_WIDTHS_PTX}{k} {}", named.wire);
                            StagePtx {
                                f32: m.clone(),
                                f64: m,
                                ..StagePtx::default()
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                expand_generic(krate, fam, &markers, doc_src, &generics)
            })
            .collect()
    } else {
        named
            .matrices
            .iter()
            .map(|m| crate::emit_matrix::expand_generic(krate, m, &[], doc_src, &generics))
            .collect()
    };
    let probes: Vec<&[u32]> = named.runs.iter().map(|(p, _)| p.as_slice()).collect();
    let mut g = Generalizer {
        probes,
        params,
        idents: vec![HashMap::new(); runs.len()],
    };
    g.stream(&runs).map_err(|why| {
        syn::Error::new(
            span,
            format!(
                "this formula needs literal widths: its code is not the same for every value of {} ({why}); named widths support element-wise operations, broadcasting of width-1 operands, sums and scalar products over the width, and vector outputs",
                named
                    .classes
                    .iter()
                    .map(|c| format!("`{}`", c[0]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// Walks the probe runs' token trees in parallel.
struct Generalizer<'a> {
    probes: Vec<&'a [u32]>,
    params: Vec<Ident>,
    /// Per run, the numbering of identifiers that end in digits (generated
    /// locals such as `v40`, whose numbers may depend on the widths), in
    /// order of first occurrence.
    idents: Vec<HashMap<String, usize>>,
}

/// An integer literal as an affine function of the class widths:
/// `constant + sum_c coef[c] * W_c`.
#[derive(Debug, PartialEq)]
struct Affine {
    constant: i64,
    coef: Vec<i64>,
}

impl Generalizer<'_> {
    fn stream(&mut self, runs: &[TokenStream]) -> Result<TokenStream, String> {
        let trees: Vec<Vec<TokenTree>> = runs
            .iter()
            .map(|r| r.clone().into_iter().collect())
            .collect();
        let n = trees[0].len();
        if trees.iter().any(|t| t.len() != n) {
            return Err("the code's structure depends on the widths".into());
        }
        let mut out = TokenStream::new();
        for k in 0..n {
            let at: Vec<&TokenTree> = trees.iter().map(|t| &t[k]).collect();
            out.extend(self.tree(&at)?);
        }
        Ok(out)
    }

    fn tree(&mut self, at: &[&TokenTree]) -> Result<TokenStream, String> {
        match at[0] {
            TokenTree::Group(g0) => {
                let mut inner = Vec::new();
                for t in at {
                    match t {
                        TokenTree::Group(g) if g.delimiter() == g0.delimiter() => {
                            inner.push(g.stream())
                        }
                        _ => return Err("the code's structure depends on the widths".into()),
                    }
                }
                if g0.delimiter() == Delimiter::Bracket {
                    if let Some(ty) = self.array_type(&inner)? {
                        return Ok(ty);
                    }
                }
                let body = self.stream(&inner)?;
                let mut g = Group::new(g0.delimiter(), body);
                g.set_span(g0.span());
                Ok(TokenTree::Group(g).into())
            }
            TokenTree::Ident(i0) => {
                let s0 = i0.to_string();
                for (r, t) in at.iter().enumerate() {
                    let TokenTree::Ident(i) = t else {
                        return Err("the code's structure depends on the widths".into());
                    };
                    let s = i.to_string();
                    if s.ends_with(|c: char| c.is_ascii_digit()) {
                        let next = self.idents[r].len();
                        let num = *self.idents[r].entry(s).or_insert(next);
                        let num0 = self.idents[0].get(&s0).copied();
                        if Some(num) != num0 {
                            return Err("the code's structure depends on the widths".into());
                        }
                    } else if s != s0 {
                        return Err("the code's structure depends on the widths".into());
                    }
                }
                Ok(TokenTree::Ident(i0.clone()).into())
            }
            TokenTree::Punct(p0) => {
                for t in at {
                    match t {
                        TokenTree::Punct(p)
                            if p.as_char() == p0.as_char() && p.spacing() == p0.spacing() => {}
                        _ => return Err("the code's structure depends on the widths".into()),
                    }
                }
                Ok(TokenTree::Punct(p0.clone()).into())
            }
            TokenTree::Literal(l0) => {
                let lits: Vec<&Literal> = at
                    .iter()
                    .map(|t| match t {
                        TokenTree::Literal(l) => Ok(l),
                        _ => Err("the code's structure depends on the widths".to_string()),
                    })
                    .collect::<Result<_, _>>()?;
                let s0 = l0.to_string();
                if lits.iter().all(|l| l.to_string() == s0) {
                    return Ok(TokenTree::Literal(l0.clone()).into());
                }
                let a = self.affine(&lits)?;
                Ok(self.expr(&a))
            }
        }
    }

    /// The affine function of the class widths that the literal takes in
    /// every run, if it is one.
    fn affine(&self, lits: &[&Literal]) -> Result<Affine, String> {
        let vals: Vec<i64> = lits
            .iter()
            .map(|l| {
                let s = l.to_string();
                let digits = s.strip_suffix("usize").unwrap_or(&s);
                digits
                    .parse::<i64>()
                    .map_err(|_| format!("a constant of the code depends on the widths (`{s}`)"))
            })
            .collect::<Result<_, _>>()?;
        let n = self.params.len();
        let base = self.probes[0];
        let coef: Vec<i64> = (0..n)
            .map(|c| {
                let d = vals[1 + c] - vals[0];
                let step = (self.probes[1 + c][c] - base[c]) as i64;
                if d % step != 0 {
                    return Err("a size is not an affine function of the widths".to_string());
                }
                Ok(d / step)
            })
            .collect::<Result<_, _>>()?;
        let at = |p: &[u32]| -> i64 { coef.iter().zip(p).map(|(c, &w)| c * w as i64).sum() };
        let constant = vals[0] - at(base);
        let last = vals.len() - 1;
        if constant + at(self.probes[last]) != vals[last] {
            return Err("a size is not an affine function of the widths".into());
        }
        Ok(Affine { constant, coef })
    }

    /// `a` as an expression of type `usize` (a bare `__W0` when it is one
    /// width, so that it can be a const generic argument); the negative
    /// terms last, so that no intermediate value underflows for widths at
    /// least the probes'.
    fn expr(&self, a: &Affine) -> TokenStream {
        let mut pos: Vec<TokenStream> = Vec::new();
        let mut neg: Vec<TokenStream> = Vec::new();
        if a.constant != 0 {
            let k = Literal::usize_unsuffixed(a.constant.unsigned_abs() as usize);
            if a.constant > 0 {
                pos.push(quote!(#k))
            } else {
                neg.push(quote!(#k))
            }
        }
        for (c, &k) in a.coef.iter().enumerate() {
            let w = &self.params[c];
            let m = Literal::usize_unsuffixed(k.unsigned_abs() as usize);
            let term = if k.unsigned_abs() == 1 {
                quote!(#w)
            } else {
                quote!(#m * #w)
            };
            match k.signum() {
                1 => pos.push(term),
                -1 => neg.push(term),
                _ => {}
            }
        }
        if pos.len() == 1 && neg.is_empty() && a.constant == 0 && a.coef.iter().all(|&k| k <= 1) {
            return pos.pop().expect("one term");
        }
        if pos.is_empty() {
            pos.push(quote!(0));
        }
        let minus = neg.iter().map(|t| quote!(- #t));
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            quote!(#(#pos)+* #(#minus)*),
        ))
        .into()
    }

    /// `[X; N]` whose length `N` depends on the widths: the buffer type
    /// `BufCat`/`BufRep` of arrays that has that length (`None`: not such an
    /// array type).
    fn array_type(&mut self, inner: &[TokenStream]) -> Result<Option<TokenStream>, String> {
        let trees: Vec<Vec<TokenTree>> = inner
            .iter()
            .map(|s| s.clone().into_iter().collect())
            .collect();
        let n = trees[0].len();
        if n < 3 || trees.iter().any(|t| t.len() != n) {
            return Ok(None);
        }
        let is_semi = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if p.as_char() == ';');
        if !trees.iter().all(|t| is_semi(&t[n - 2])) {
            return Ok(None);
        }
        let lits: Vec<&Literal> = match trees
            .iter()
            .map(|t| match &t[n - 1] {
                TokenTree::Literal(l) => Some(l),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
        {
            Some(l) => l,
            None => return Ok(None),
        };
        let s0 = lits[0].to_string();
        if lits.iter().all(|l| l.to_string() == s0) {
            return Ok(None);
        }
        let a = self.affine(&lits)?;
        if a.constant < 0 || a.coef.iter().any(|&k| k < 0) {
            return Err("a buffer length decreases with a width".into());
        }
        let elem: Vec<TokenStream> = trees
            .iter()
            .map(|t| t[..n - 2].iter().cloned().collect())
            .collect();
        let x = self.stream(&elem)?;
        let mut parts: Vec<TokenStream> = Vec::new();
        if a.constant > 0 {
            let k = Literal::usize_unsuffixed(a.constant as usize);
            parts.push(quote!([#x; #k]));
        }
        for (c, &k) in a.coef.iter().enumerate() {
            let w = &self.params[c];
            match k {
                0 => {}
                1 => parts.push(quote!([#x; #w])),
                k => {
                    let k = Literal::usize_unsuffixed(k as usize);
                    parts.push(quote!(__keops::BufRep<#x, #w, #k>));
                }
            }
        }
        let mut ty = parts.pop().expect("a width-dependent length has a part");
        while let Some(p) = parts.pop() {
            ty = quote!(__keops::BufCat<#p, #ty>);
        }
        Ok(Some(ty))
    }
}
