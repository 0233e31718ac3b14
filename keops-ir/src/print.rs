//! Printing the IR: a canonical DAG listing (stage keys, snapshots) and a
//! readable formula with `let` bindings for shared sub-expressions.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::ir::{Graph, Id, Op, VarDecl};

/// One line per node reachable from `roots`: `%3 = exp(%2) [3]`.
pub fn dag_string(g: &Graph, roots: &[Id], vars: &[VarDecl]) -> String {
    let order = g.reachable(roots);
    let mut num: HashMap<Id, usize> = HashMap::new();
    let mut s = String::new();
    for (k, &id) in order.iter().enumerate() {
        num.insert(id, k);
        let n = g.node(id);
        let args: Vec<String> = n.args.iter().map(|a| format!("%{}", num[a])).collect();
        let _ = writeln!(
            s,
            "%{k} = {}({}) [{}]",
            op_label(g, id, vars),
            args.join(", "),
            n.dim
        );
    }
    let r: Vec<String> = roots.iter().map(|r| format!("%{}", num[r])).collect();
    let _ = write!(s, "return {}", r.join(", "));
    s
}

fn op_label(g: &Graph, id: Id, vars: &[VarDecl]) -> String {
    let n = g.node(id);
    match &n.op {
        Op::Var(v) => format!(
            "var {}",
            vars.get(*v as usize)
                .map(|d| d.name.as_str())
                .unwrap_or("?")
        ),
        Op::Const(b) => format!("const {:?}", f64::from_bits(*b)),
        Op::IndexMatch(v) => format!(
            "index_match {}",
            vars.get(*v as usize)
                .map(|d| d.name.as_str())
                .unwrap_or("?")
        ),
        Op::Un(u) => u.name(),
        Op::Bin(b) => b.name().to_string(),
        Op::Tern(t) => t.name().to_string(),
        Op::Gather(m) => format!("gather{:?}", m.sources),
        Op::Bilinear(m) => format!("{}{:?}", m.name, m.terms),
        Op::VecRed(r) => format!("v{}", r.name()),
        Op::OneHot => "one_hot".to_string(),
    }
}

/// A readable rendering of the formula `root`, with `let` bindings for
/// sub-expressions used more than once.
pub fn formula_string(g: &Graph, root: Id, vars: &[VarDecl]) -> String {
    let order = g.reachable(&[root]);
    let mut uses: HashMap<Id, usize> = HashMap::new();
    for &id in &order {
        for &a in &g.node(id).args {
            *uses.entry(a).or_default() += 1;
        }
    }
    let mut names: HashMap<Id, String> = HashMap::new();
    let mut lets = String::new();
    let mut count = 0;
    for &id in &order {
        let text = render(g, id, vars, &names);
        let n = g.node(id);
        let shared = uses.get(&id).copied().unwrap_or(0) > 1
            && !matches!(n.op, Op::Var(_) | Op::Const(_))
            && id != root;
        if shared {
            let name = format!("t{count}");
            count += 1;
            let _ = writeln!(lets, "let {name} = {text};");
            names.insert(id, name);
        } else {
            names.insert(id, text);
        }
    }
    format!("{lets}{}", names[&root])
}

fn render(g: &Graph, id: Id, vars: &[VarDecl], names: &HashMap<Id, String>) -> String {
    let n = g.node(id);
    let a = |k: usize| names[&n.args[k]].clone();
    match &n.op {
        Op::Var(v) => vars
            .get(*v as usize)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| format!("v{v}")),
        Op::Const(b) => {
            let c = f64::from_bits(*b);
            if c < 0.0 {
                format!("({c:?})")
            } else {
                format!("{c:?}")
            }
        }
        Op::IndexMatch(v) => format!(
            "index_match({})",
            vars.get(*v as usize)
                .map(|d| d.name.as_str())
                .unwrap_or("?")
        ),
        Op::Un(crate::ir::Un::Neg) => format!("(-{})", a(0)),
        Op::Un(u) => format!("{}({})", u.name(), a(0)),
        Op::Bin(b) if b.is_infix() => format!("({} {} {})", a(0), b.name(), a(1)),
        Op::Bin(b) => format!("{}({}, {})", b.name(), a(0), a(1)),
        Op::Tern(t) => format!("{}({}, {}, {})", t.name(), a(0), a(1), a(2)),
        Op::Gather(m) => {
            // Recognise the common shapes.
            if n.args.len() == 1
                && g.dim(n.args[0]) == 1
                && m.sources.iter().all(|s| s.len() == 1 && s[0] == (0, 0))
            {
                return format!("splat({}, {})", a(0), n.dim);
            }
            if m.sources.len() == 1
                && m.sources[0].len() == g.dim(n.args[0]) as usize
                && n.args.len() == 1
            {
                return format!("sum({})", a(0));
            }
            if n.args.len() == 1 && m.is_selection() {
                let idx: Vec<u32> = m.sources.iter().map(|s| s[0].1).collect();
                let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
                if contiguous {
                    return format!("{}[{}..{}]", a(0), idx[0], idx[idx.len() - 1] + 1);
                }
            }
            let parts: Vec<String> = m
                .sources
                .iter()
                .map(|s| {
                    if s.is_empty() {
                        "0".to_string()
                    } else {
                        s.iter()
                            .map(|&(arg, c)| format!("{}[{}]", names[&n.args[arg as usize]], c))
                            .collect::<Vec<_>>()
                            .join(" + ")
                    }
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Op::Bilinear(m) => format!("{}({}, {})", m.name, a(0), a(1)),
        Op::VecRed(r) => format!("{}({})", r.name(), a(0)),
        Op::OneHot => format!("one_hot({}, {})", a(0), n.dim),
    }
}
