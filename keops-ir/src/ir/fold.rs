//! Constant folding: the value of a node whose components are known
//! constants, and the canonical node of a constant vector.

use std::sync::Arc;

use super::{GatherMap, Graph, Id, Op};

impl Graph {
    /// The components of a node when they are all known constants.
    pub fn const_value(&self, id: Id) -> Option<Vec<f64>> {
        let n = self.node(id);
        match &n.op {
            Op::Const(b) => Some(vec![f64::from_bits(*b)]),
            Op::Gather(m) => {
                let mut out = Vec::with_capacity(m.sources.len());
                let args: Vec<Option<Vec<f64>>> =
                    n.args.iter().map(|&a| self.const_value(a)).collect();
                for s in &m.sources {
                    let mut acc = 0.0;
                    for &(a, c) in s {
                        acc += args[a as usize].as_ref()?[c as usize];
                    }
                    out.push(acc);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// `Some(c)` when every component of the node is the constant `c`.
    pub fn uniform_const(&self, id: Id) -> Option<f64> {
        let v = self.const_value(id)?;
        let c = v[0];
        if v.iter()
            .all(|&x| x.to_bits() == c.to_bits() || (x == 0.0 && c == 0.0))
        {
            Some(c)
        } else {
            None
        }
    }

    /// True when the node is known to be zero.
    pub fn is_zero(&self, id: Id) -> bool {
        self.uniform_const(id) == Some(0.0)
    }

    /// True when the node is known to be one everywhere.
    pub fn is_one(&self, id: Id) -> bool {
        self.uniform_const(id) == Some(1.0)
    }

    /// Builds a constant vector node from components.
    pub fn const_vector(&mut self, vals: &[f64]) -> Id {
        self.canonical_const(vals)
    }

    /// The canonical node of a constant vector: a scalar `Const`, a broadcast
    /// of one `Const`, or a selection over distinct `Const`s. Built without
    /// going through [`Graph::gather`], so that folding terminates.
    pub(super) fn canonical_const(&mut self, vals: &[f64]) -> Id {
        let dim = vals.len() as u32;
        let mut consts: Vec<Id> = Vec::new();
        let mut sources = Vec::with_capacity(vals.len());
        for &v in vals {
            let c = self.intern(Op::Const(v.to_bits()), vec![], 1);
            let pos = match consts.iter().position(|&x| x == c) {
                Some(p) => p,
                None => {
                    consts.push(c);
                    consts.len() - 1
                }
            };
            sources.push(vec![(pos as u32, 0)]);
        }
        if dim == 1 {
            return consts[0];
        }
        self.intern(Op::Gather(Arc::new(GatherMap { sources })), consts, dim)
    }

    pub(super) fn const_value_leaf(&self, id: Id) -> Option<Vec<f64>> {
        match &self.node(id).op {
            Op::Const(b) => Some(vec![f64::from_bits(*b)]),
            _ => None,
        }
    }

    pub(super) fn fold_gather_consts(
        &self,
        args: &[Id],
        sources: &[Vec<(u32, u32)>],
    ) -> Option<Vec<f64>> {
        let consts: Vec<Option<Vec<f64>>> =
            args.iter().map(|&a| self.const_value_leaf(a)).collect();
        let mut out = Vec::new();
        for s in sources {
            let mut acc = 0.0;
            for &(a, c) in s {
                acc += consts[a as usize].as_ref()?[c as usize];
            }
            out.push(acc);
        }
        Some(out)
    }
}
