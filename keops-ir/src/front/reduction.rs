//! The outermost reduction of a formula (`sum_j(f)`, `f.sum(1)`,
//! `argkmin_j(f, K)`, ...): its spellings, axis, arguments and checks.

use super::{Front, Top};
use crate::ast::{Arg, Ast, SpanId};
use crate::ir::Cat;
use crate::limits::MAX_K;
use crate::stage::Red;

/// Reduction families, before K and the axis are known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum RedBase {
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

pub(super) fn red_base(name: &str) -> Option<RedBase> {
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
pub(super) fn reduction_call(name: &str) -> Option<(RedBase, Cat)> {
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

impl Front {
    pub(super) fn top(&mut self, body: &Ast, whole: SpanId) -> Top {
        let missing = |fe: &mut Front, span: SpanId| {
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
    pub(super) fn method_axis(base: RedBase, args: &[Arg]) -> Option<Cat> {
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
        span: SpanId,
        name_span: SpanId,
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
}
