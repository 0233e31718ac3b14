//! Function and method calls: the operation table's spellings
//! ([`ELEMENTWISE`](crate::ops::ELEMENTWISE)) and the functions lowered by
//! hand (`round`, `pow`, norms and distances, `elem`, `extract`, `one_hot`,
//! `cat`, `matvecmult`, `tensorprod`, `keops_tensordot`, `grad`, ...).

use super::bilinear::{matvec_map, tensordot_map, tensorprod_map, vecmat_map};
use super::names::{function_names, suggestion};
use super::reduction::reduction_call;
use super::snippet::snippet;
use super::Front;
use crate::ast::{Arg, Ast, SpanId};
use crate::autodiff::vjp;
use crate::ir::{Bin, Id, Tern, Un, VecRed};
use crate::limits::{MAX_DIM, MAX_SCALAR_OPS};
use crate::ops;

impl Front {
    pub(super) fn call(
        &mut self,
        name: &str,
        name_span: SpanId,
        args: &[Arg],
        span: SpanId,
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
                // `dim = -1` / `axis = -1` (torch's and pykeops' spelling):
                // the features, the only axis a formula concatenates.
                for a in args {
                    let Some((kw, kspan)) = &a.keyword else {
                        continue;
                    };
                    if kw != "dim" && kw != "axis" {
                        self.err(
                            *kspan,
                            format!("`{lower}` takes no keyword `{kw}` (only `dim = -1` or `axis = -1`)"),
                        );
                        return None;
                    }
                    let d = self.int_arg(&a.value, &format!("`{kw}`"))?;
                    if d != -1 && d != 2 {
                        self.err(
                            a.value.span(),
                            format!(
                                "`{lower}` concatenates the features of each pair (`{kw} = -1`, the last axis of an (M, N, D) LazyTensor); `{kw} = {d}` would concatenate points, which a formula cannot"
                            ),
                        );
                        return None;
                    }
                }
                let positional: Vec<&crate::ast::Arg> =
                    args.iter().filter(|a| a.keyword.is_none()).collect();
                let items: Vec<&Ast> = if positional.len() == 1 {
                    match &positional[0].value {
                        Ast::List(items, _) => items.iter().collect(),
                        other => vec![other],
                    }
                } else {
                    positional.iter().map(|a| &a.value).collect()
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
