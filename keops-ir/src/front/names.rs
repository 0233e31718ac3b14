//! "Did you mean": the names of the formula language's functions and the
//! nearest one to a misspelled name.

use crate::ops;

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
pub(super) fn function_names() -> impl Iterator<Item = &'static str> {
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

pub(super) fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
