//! Binding the arguments of a call to named slots (positional first, then
//! keywords), and literal arguments (integers, lists of integers).

use super::Front;
use crate::ast::{Arg, Ast, SpanId};

/// Arguments matched to named slots: positional first, then keywords.
pub(super) struct Bound<'a> {
    pub(super) slots: Vec<Option<&'a Ast>>,
}

impl Front {
    /// Matches `args` to `slots` (each slot lists accepted keywords, first
    /// is the display name); `required` slots must be given.
    pub(super) fn bind<'a>(
        &mut self,
        what: &str,
        span: SpanId,
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

    pub(super) fn int_arg(&mut self, ast: &Ast, what: &str) -> Option<i64> {
        match ast.as_int() {
            Some(v) => Some(v),
            None => {
                self.err(ast.span(), format!("{what} must be an integer literal"));
                None
            }
        }
    }

    pub(super) fn int_list(&mut self, ast: &Ast, what: &str) -> Option<Vec<u32>> {
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
}
