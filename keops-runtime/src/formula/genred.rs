//! KeOps' `Genred` formulas in our syntax: the aliases become the closure's
//! variables (ordered by position, as pykeops orders its arguments),
//! variables written in the formula (`Vi(0, 3)`, `Var(1, 3, 1)`) become
//! named ones, `IntCst(n)` the integer `n`, and the reduction wraps the
//! formula (`Sum` over axis 1 is `sum_j(...)`). Function names need no
//! translation: our front end reads names case-insensitively and knows
//! KeOps' (`Exp`, `SqDist`, `SqNorm2`, `WeightedSqDist`, `Elem`, `Extract`,
//! `Concat`, `OneHot`, `MatVecMult`, `TensorProd`, `Grad`, ...).

use std::ops::Range;

use crate::error::{Error, Result};

/// A formula translated from KeOps' syntax.
#[derive(Clone, Debug)]
pub struct GenredSource {
    /// The formula in the `keops!` syntax.
    pub text: String,
    /// For each translated token of the formulas: its range in `text`,
    /// and in the KeOps formula (`formula2`'s past the end of `formula`,
    /// after a space).
    map: Vec<(Range<usize>, Range<usize>)>,
    /// Length of `formula` (the positions of `formula2` follow it).
    len: usize,
}

impl GenredSource {
    /// An error at a position of `text` moved to the KeOps formula.
    pub(crate) fn map_error(&self, e: Error) -> Error {
        match e {
            Error::Formula { at, message } => {
                let src = self
                    .map
                    .iter()
                    .find(|(o, _)| o.start <= at.start && at.start < o.end.max(o.start + 1))
                    .map(|(_, s)| s.clone())
                    .unwrap_or(0..self.len);
                Error::Formula { at: src, message }
            }
            e => e,
        }
    }
}

fn err<X>(at: Range<usize>, message: impl Into<String>) -> Result<X> {
    Err(Error::Formula {
        at,
        message: message.into(),
    })
}

/// A token of a KeOps formula: its text and range.
fn tokens(src: &str, shift: usize) -> Result<Vec<(String, Range<usize>)>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let s = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
        } else if b"+-*/|(),[]".contains(&c) {
            i += 1;
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return err(
                shift + i..shift + i + ch.len_utf8(),
                format!("unexpected character `{ch}` in a KeOps formula"),
            );
        }
        out.push((src[s..i].to_string(), shift + s..shift + i));
    }
    Ok(out)
}

/// A variable: position, name, category (`Vi`, `Vj`, `Pm`), dimension.
type Var = (usize, String, &'static str, usize);

/// Parses `Vi(3)`, `Vi(0, 3)`, `Var(0, 3, 0)` (the part after `name =`).
/// `next` is the position of an alias without one.
fn var_type(s: &str, next: usize) -> Option<(usize, &'static str, usize)> {
    let s = s.trim();
    let open = s.find('(')?;
    let kind = s[..open].trim();
    let args: Vec<usize> = s[open + 1..]
        .strip_suffix(')')?
        .split(',')
        .map(|a| a.trim().parse().ok())
        .collect::<Option<_>>()?;
    let cat_of = |c: usize| ["Vi", "Vj", "Pm"].get(c).copied();
    match (kind, args.as_slice()) {
        ("Vi" | "Vj" | "Pm", &[d]) => Some((next, cat_name(kind)?, d)),
        ("Vi" | "Vj" | "Pm", &[p, d]) => Some((p, cat_name(kind)?, d)),
        ("Var", &[p, d, c]) => Some((p, cat_of(c)?, d)),
        _ => None,
    }
}

fn cat_name(kind: &str) -> Option<&'static str> {
    ["Vi", "Vj", "Pm"].into_iter().find(|k| *k == kind)
}

/// Translates one KeOps formula, appending to `out`: inline variables are
/// added to `vars`.
fn formula(
    src: &str,
    shift: usize,
    vars: &mut Vec<Var>,
    out: &mut String,
    map: &mut Vec<(Range<usize>, Range<usize>)>,
) -> Result<()> {
    let toks = tokens(src, shift)?;
    let mut k = 0;
    while k < toks.len() {
        let (t, at) = &toks[k];
        let call_args = |k: usize, n: usize| -> Option<(Vec<usize>, usize)> {
            // `t ( a , b , ... )` with `n` integer arguments.
            if toks.get(k + 1)?.0 != "(" {
                return None;
            }
            let mut args = Vec::new();
            let mut j = k + 2;
            for q in 0..n {
                args.push(toks.get(j)?.0.parse().ok()?);
                j += 1;
                let sep = if q + 1 == n { ")" } else { "," };
                if toks.get(j)?.0 != sep {
                    return None;
                }
                j += 1;
            }
            Some((args, j))
        };
        let mut emit = |text: &str, src: Range<usize>| {
            let glued = out.is_empty() || out.ends_with(['(', ' ']) || text == ")" || text == ",";
            if !glued {
                out.push(' ');
            }
            let s = out.len();
            out.push_str(text);
            map.push((s..out.len(), src));
        };
        let inline = match t.as_str() {
            "Vi" | "Vj" | "Pm" => call_args(k, 2).map(|(a, j)| (a[0], cat_name(t), a[1], j)),
            "Var" => {
                call_args(k, 3).map(|(a, j)| (a[0], ["Vi", "Vj", "Pm"].get(a[2]).copied(), a[1], j))
            }
            _ => None,
        };
        if let Some((pos, cat, dim, j)) = inline {
            let Some(cat) = cat else {
                return err(
                    at.clone(),
                    "a variable's category is 0 (i), 1 (j) or 2 (parameter)",
                );
            };
            let name = format!("var{pos}");
            let whole = at.start..toks[j - 1].1.end;
            match vars.iter().find(|v| v.0 == pos) {
                Some(v) if (v.2, v.3) != (cat, dim) => {
                    return err(
                        whole,
                        format!("position {pos} is already `{}` = {}({})", v.1, v.2, v.3),
                    )
                }
                Some(v) => emit(&v.1.clone(), whole),
                None => {
                    vars.push((pos, name.clone(), cat, dim));
                    emit(&name, whole);
                }
            }
            k = j;
            continue;
        }
        if t == "IntCst" {
            if let Some((a, j)) = call_args(k, 1) {
                emit(&a[0].to_string(), at.start..toks[j - 1].1.end);
                k = j;
                continue;
            }
        }
        emit(t, at.clone());
        k += 1;
    }
    Ok(())
}

/// The `keops!`-syntax text of a pykeops `Genred` (see
/// [`super::Formula::genred`]).
pub fn genred_source(
    f: &str,
    aliases: &[&str],
    reduction: &str,
    axis: usize,
    formula2: Option<&str>,
    opt_arg: Option<usize>,
) -> Result<GenredSource> {
    let whole = 0..f.len();
    let mut vars: Vec<Var> = Vec::new();
    for (q, a) in aliases.iter().enumerate() {
        let bad = || {
            Error::Unsupported(format!(
                "alias `{a}`: expected `name = Vi(dim)`, `Vj(dim)`, `Pm(dim)`, `Vi(pos, dim)` or `Var(pos, dim, cat)`"
            ))
        };
        let (name, ty) = a.split_once('=').ok_or_else(bad)?;
        let name = name.trim();
        let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(bad());
        }
        let (pos, cat, dim) = var_type(ty, q).ok_or_else(bad)?;
        if vars.iter().any(|v| v.0 == pos || v.1 == name) {
            return Err(Error::Unsupported(format!(
                "alias `{a}`: position {pos} or name `{name}` used twice"
            )));
        }
        vars.push((pos, name.to_string(), cat, dim));
    }
    let mut body = String::new();
    let mut map = Vec::new();
    formula(f, 0, &mut vars, &mut body, &mut map)?;
    if let Some(f2) = formula2 {
        body.push_str(", ");
        formula(f2, f.len() + 1, &mut vars, &mut body, &mut map)?;
    }
    vars.sort();
    for (k, v) in vars.iter().enumerate() {
        if v.0 != k {
            return Err(Error::Unsupported(format!(
                "no variable at position {k} (the positions are {})",
                vars.iter()
                    .map(|v| v.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let red = reduction.to_ascii_lowercase();
    let base = match (red.as_str(), formula2.is_some()) {
        ("sum" | "min" | "max" | "argmin" | "argmax" | "min_argmin" | "max_argmax", false) => red.clone(),
        ("logsumexp", false) => red.clone(),
        ("logsumexp", true) => "logsumexp".into(),
        ("sumsoftmaxweight", true) => red.clone(),
        ("kmin" | "argkmin" | "kmin_argkmin", false) => red.clone(),
        ("sumsoftmaxweight", false) => {
            return err(whole, "`SumSoftMaxWeight` needs `formula2` (the weights)")
        }
        _ => {
            return err(
                whole,
                format!(
                    "unknown reduction `{reduction}`{}: expected Sum, LogSumExp, Min, ArgMin, Min_ArgMin, Max, ArgMax, Max_ArgMax, KMin, ArgKMin, KMin_ArgKMin or SumSoftMaxWeight",
                    if formula2.is_some() { " with formula2" } else { "" }
                ),
            )
        }
    };
    let suffix = match axis {
        0 => "_i",
        1 => "_j",
        _ => {
            return err(
                whole,
                format!("axis {axis}: 0 (reduce over i) or 1 (over j)"),
            )
        }
    };
    let extra = if base.contains("kmin") {
        match opt_arg {
            Some(k) if k >= 1 => format!(", {k}"),
            _ => return err(whole, format!("`{reduction}` needs `opt_arg` = K >= 1")),
        }
    } else {
        String::new()
    };
    let params: Vec<String> = vars
        .iter()
        .map(|(_, n, c, d)| format!("{n}: {c}<{d}>"))
        .collect();
    let head = format!("|{}| {base}{suffix}(", params.join(", "));
    for (o, _) in map.iter_mut() {
        *o = o.start + head.len()..o.end + head.len();
    }
    let text = format!("{head}{body}{extra})");
    Ok(GenredSource {
        text,
        map,
        len: f.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_aliases_inline_variables_and_reductions() {
        let s = genred_source(
            "Exp(-SqDist(x,y))*b",
            &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
            "Sum",
            1,
            None,
            None,
        )
        .expect("translates");
        assert_eq!(
            s.text,
            "|x: Vi<3>, y: Vj<3>, b: Vj<1>| sum_j(Exp (- SqDist (x, y)) * b)"
        );
        let s = genred_source(
            "SqDist(Vi(0,2), Vj(1,2)) * IntCst(2)",
            &[],
            "ArgKMin",
            0,
            None,
            Some(3),
        )
        .expect("translates");
        assert_eq!(
            s.text,
            "|var0: Vi<2>, var1: Vj<2>| argkmin_i(SqDist (var0, var1) * 2, 3)"
        );
        let s = genred_source(
            "-SqDist(x,y)",
            &["x = Vi(1, 2)", "y = Vj(0, 2)", "w = Vj(2, 1)"],
            "SumSoftMaxWeight",
            1,
            Some("w"),
            None,
        )
        .expect("translates");
        assert_eq!(
            s.text,
            "|y: Vj<2>, x: Vi<2>, w: Vj<1>| sumsoftmaxweight_j(- SqDist (x, y), w)"
        );
    }

    #[test]
    fn errors_point_into_the_keops_formula() {
        let e = genred_source("Exp(x) $ y", &["x = Vi(1)"], "Sum", 1, None, None).unwrap_err();
        assert!(
            matches!(e, Error::Formula { ref at, .. } if *at == (7..8)),
            "{e}"
        );
        let e = genred_source("x", &["x = Vi(1)"], "Avg", 1, None, None).unwrap_err();
        assert!(e.to_string().contains("unknown reduction `Avg`"), "{e}");
        let e = genred_source("x", &["x = Vq(1)"], "Sum", 1, None, None).unwrap_err();
        assert!(e.to_string().contains("alias `x = Vq(1)`"), "{e}");
        let e = genred_source("x", &["x = Vi(1)"], "KMin", 1, None, None).unwrap_err();
        assert!(e.to_string().contains("opt_arg"), "{e}");
        let e = genred_source("x * Vj(2, 1)", &["x = Vi(1)"], "Sum", 1, None, None).unwrap_err();
        assert!(e.to_string().contains("no variable at position 1"), "{e}");
    }
}
