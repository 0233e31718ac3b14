//! The layout builders: [`Graph::gather`] (which inlines nested gathers
//! and folds constants) and its special cases (extraction, concatenation,
//! broadcasting, the vector sum).

use std::collections::HashMap;
use std::sync::Arc;

use super::{GatherMap, Graph, Id, Op};

impl Graph {
    /// A general gather (see [`GatherMap`]).
    pub fn gather(&mut self, args: &[Id], sources: Vec<Vec<(u32, u32)>>) -> Id {
        let dim = sources.len() as u32;
        if !self.simplify {
            return self.intern(
                Op::Gather(Arc::new(GatherMap { sources })),
                args.to_vec(),
                dim,
            );
        }
        // Inline argument gathers when that cannot duplicate work: the inner
        // gather is a pure selection, or each of its components is used once.
        let mut new_args: Vec<Id> = Vec::new();
        let mut arg_index: HashMap<Id, u32> = HashMap::new();
        let mut push_arg = |id: Id, new_args: &mut Vec<Id>| -> u32 {
            *arg_index.entry(id).or_insert_with(|| {
                new_args.push(id);
                (new_args.len() - 1) as u32
            })
        };
        let mut use_count: HashMap<(u32, u32), usize> = HashMap::new();
        for s in &sources {
            for &(a, c) in s {
                *use_count.entry((a, c)).or_default() += 1;
            }
        }
        let mut out_sources: Vec<Vec<(u32, u32)>> = Vec::with_capacity(sources.len());
        for s in &sources {
            let mut list = Vec::new();
            for &(a, c) in s {
                let aid = args[a as usize];
                let an = self.node(aid).clone();
                let inline = match &an.op {
                    Op::Gather(m) => {
                        m.is_selection()
                            || m.sources[c as usize].len() <= 1
                            || use_count[&(a, c)] == 1 && s.len() == 1
                    }
                    _ => false,
                };
                if let (true, Op::Gather(m)) = (inline, &an.op) {
                    for &(ia, ic) in &m.sources[c as usize] {
                        let na = push_arg(an.args[ia as usize], &mut new_args);
                        list.push((na, ic));
                    }
                } else {
                    let na = push_arg(aid, &mut new_args);
                    list.push((na, c));
                }
            }
            out_sources.push(list);
        }
        // Drop zero constants from sums; fold all-constant outputs.
        let arg_consts: Vec<Option<Vec<f64>>> =
            new_args.iter().map(|&a| self.const_value_leaf(a)).collect();
        for list in out_sources.iter_mut() {
            list.retain(
                |&(a, c)| !matches!(&arg_consts[a as usize], Some(v) if v[c as usize] == 0.0),
            );
        }
        // Identity on a single argument.
        if new_args.len() == 1 && self.dim(new_args[0]) == dim {
            let ident = out_sources
                .iter()
                .enumerate()
                .all(|(k, s)| s.len() == 1 && s[0] == (0, k as u32));
            if ident {
                return new_args[0];
            }
        }
        // Compact the argument list to those still referenced.
        let mut used = vec![false; new_args.len()];
        for s in &out_sources {
            for &(a, _) in s {
                used[a as usize] = true;
            }
        }
        let mut remap = vec![u32::MAX; new_args.len()];
        let mut final_args = Vec::new();
        for (k, &u) in used.iter().enumerate() {
            if u {
                remap[k] = final_args.len() as u32;
                final_args.push(new_args[k]);
            }
        }
        for s in out_sources.iter_mut() {
            for e in s.iter_mut() {
                e.0 = remap[e.0 as usize];
            }
        }
        if final_args.is_empty() {
            // Every output is an empty sum: zeros.
            return self.canonical_const(&vec![0.0; dim as usize]);
        }
        if let Some(vals) = self.fold_gather_consts(&final_args, &out_sources) {
            return self.canonical_const(&vals);
        }
        self.intern(
            Op::Gather(Arc::new(GatherMap {
                sources: out_sources,
            })),
            final_args,
            dim,
        )
    }

    /// Components `start .. start + len` of `a`.
    pub fn extract(&mut self, a: Id, start: u32, len: u32) -> Id {
        let sources = (start..start + len).map(|k| vec![(0, k)]).collect();
        self.gather(&[a], sources)
    }

    /// Concatenation.
    pub fn concat(&mut self, parts: &[Id]) -> Id {
        if parts.len() == 1 {
            return parts[0];
        }
        let mut sources = Vec::new();
        for (p, &id) in parts.iter().enumerate() {
            for k in 0..self.dim(id) {
                sources.push(vec![(p as u32, k)]);
            }
        }
        self.gather(parts, sources)
    }

    /// Broadcast a scalar to `dim` components.
    pub fn broadcast(&mut self, a: Id, dim: u32) -> Id {
        assert_eq!(self.dim(a), 1, "internal error: broadcast of a vector");
        if dim == 1 {
            return a;
        }
        self.gather(&[a], vec![vec![(0, 0)]; dim as usize])
    }

    /// Sum of the components (dimension 1).
    pub fn vsum(&mut self, a: Id) -> Id {
        let d = self.dim(a);
        if d == 1 {
            return a;
        }
        self.gather(&[a], vec![(0..d).map(|k| (0, k)).collect()])
    }

    /// Broadcasts `a` to `dim` when it is a scalar; otherwise returns it.
    pub fn fit(&mut self, a: Id, dim: u32) -> Id {
        if self.dim(a) == dim {
            a
        } else {
            self.broadcast(a, dim)
        }
    }

    /// When `a` is a broadcast of a scalar node, that node.
    pub fn broadcast_source(&self, a: Id) -> Option<Id> {
        let n = self.node(a);
        if let Op::Gather(m) = &n.op {
            if n.args.len() == 1
                && self.dim(n.args[0]) == 1
                && m.sources.iter().all(|s| s.len() == 1 && s[0] == (0, 0))
            {
                return Some(n.args[0]);
            }
        }
        None
    }
}
