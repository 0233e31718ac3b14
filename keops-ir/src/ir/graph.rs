//! The [`Graph`] arena: every node stored once (hash-consing: building a
//! node that exists returns its [`Id`]), the leaves, traversal, copying
//! between graphs and operation counts.

use std::collections::HashMap;

use super::{Deps, Id, Node, Op, Un, VarInfo};

/// The arena of nodes of one formula family.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    map: HashMap<Node, Id>,
    vars: Vec<VarInfo>,
    pub(super) simplify: bool,
}

impl Graph {
    /// A graph whose builder simplifies (constant folding, algebraic identities).
    pub fn new(vars: Vec<VarInfo>) -> Graph {
        Graph {
            nodes: Vec::new(),
            map: HashMap::new(),
            vars,
            simplify: true,
        }
    }

    /// A graph whose builder does not simplify (hash-consing only): used for
    /// the reference evaluator, so that simplification bugs cannot hide.
    pub fn raw(vars: Vec<VarInfo>) -> Graph {
        Graph {
            nodes: Vec::new(),
            map: HashMap::new(),
            vars,
            simplify: false,
        }
    }

    /// Whether the builder simplifies.
    pub fn simplifies(&self) -> bool {
        self.simplify
    }

    /// The variables.
    pub fn vars(&self) -> &[VarInfo] {
        &self.vars
    }

    /// Adds a variable, returning its number.
    pub fn add_var(&mut self, v: VarInfo) -> u32 {
        self.vars.push(v);
        (self.vars.len() - 1) as u32
    }

    /// The node behind a handle.
    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id.index()]
    }

    /// Output dimension of a node.
    pub fn dim(&self, id: Id) -> u32 {
        self.nodes[id.index()].dim
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub(super) fn intern(&mut self, op: Op, args: Vec<Id>, dim: u32) -> Id {
        assert!(dim >= 1, "internal error: node of dimension 0 ({op:?})");
        let mut deps = Deps::default();
        for a in &args {
            deps = deps.with(self.nodes[a.index()].deps);
        }
        match &op {
            Op::Var(v) => deps = Deps::of_cat(self.vars[*v as usize].cat),
            Op::IndexMatch(_) => deps = Deps::I.with(Deps::J),
            _ => {}
        }
        let node = Node {
            op,
            args,
            dim,
            deps,
        };
        if let Some(&id) = self.map.get(&node) {
            return id;
        }
        let id = Id(self.nodes.len() as u32);
        self.nodes.push(node.clone());
        self.map.insert(node, id);
        id
    }

    // ------------------------------------------------------------------
    // Leaves
    // ------------------------------------------------------------------

    /// Variable number `v`.
    pub fn var(&mut self, v: u32) -> Id {
        let dim = self.vars[v as usize].dim;
        self.intern(Op::Var(v), vec![], dim)
    }

    /// Scalar constant.
    pub fn constant(&mut self, c: f64) -> Id {
        self.intern(Op::Const(c.to_bits()), vec![], 1)
    }

    /// Constant vector with all components equal to `c`.
    pub fn splat_const(&mut self, c: f64, dim: u32) -> Id {
        self.canonical_const(&vec![c; dim as usize])
    }

    /// Zero vector.
    pub fn zeros(&mut self, dim: u32) -> Id {
        self.splat_const(0.0, dim)
    }

    /// The index-match indicator of index variable `v` (see [`Op::IndexMatch`]).
    pub fn index_match(&mut self, v: u32) -> Id {
        let dim = self.vars[v as usize].dim;
        self.intern(Op::IndexMatch(v), vec![], dim)
    }

    /// Ids of all nodes reachable from `roots`, in increasing (topological) order.
    pub fn reachable(&self, roots: &[Id]) -> Vec<Id> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<Id> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen[id.index()] {
                continue;
            }
            seen[id.index()] = true;
            for &a in &self.nodes[id.index()].args {
                stack.push(a);
            }
        }
        (0..self.nodes.len() as u32)
            .map(Id)
            .filter(|id| seen[id.index()])
            .collect()
    }

    /// True when the node reachable from `root` uses variable `v`.
    pub fn uses_var(&self, root: Id, v: u32) -> bool {
        self.reachable(&[root])
            .iter()
            .any(|&id| matches!(self.node(id).op, Op::Var(w) | Op::IndexMatch(w) if w == v))
    }

    /// Copies the sub-DAG of `root` from `src` into `self`, mapping variable
    /// `v` of `src` to the node `var_map[v]` of `self` (rebuilding through the
    /// builder, so `self`'s simplification settings apply).
    pub fn import(&mut self, src: &Graph, root: Id, var_map: &[Id]) -> Id {
        let order = src.reachable(&[root]);
        let mut map: HashMap<Id, Id> = HashMap::new();
        for id in order {
            let n = src.node(id);
            let args: Vec<Id> = n.args.iter().map(|a| map[a]).collect();
            let new = match &n.op {
                Op::Var(v) => var_map[*v as usize],
                Op::Const(b) => self.constant(f64::from_bits(*b)),
                Op::IndexMatch(v) => {
                    let target = var_map[*v as usize];
                    match self.node(target).op {
                        Op::Var(w) => self.index_match(w),
                        _ => panic!("internal error: index variable mapped to an expression"),
                    }
                }
                Op::Un(u) => self.un(*u, args[0]),
                Op::Bin(b) => self.bin(*b, args[0], args[1]),
                Op::Tern(t) => self.tern(*t, args[0], args[1], args[2]),
                Op::Gather(m) => self.gather(&args, m.sources.clone()),
                Op::Bilinear(m) => self.bilinear((**m).clone(), args[0], args[1]),
                Op::VecRed(r) => self.vec_red(*r, args[0]),
                Op::OneHot => self.one_hot(args[0], n.dim),
            };
            map.insert(id, new);
        }
        map[&root]
    }

    /// Number of scalar arithmetic operations needed to evaluate `roots`
    /// once (layout maps that only select components are free; a
    /// transcendental function counts as one operation).
    pub fn op_count(&self, roots: &[Id]) -> usize {
        let mut count = 0;
        for id in self.reachable(roots) {
            let n = self.node(id);
            count += match &n.op {
                Op::Var(_) | Op::Const(_) => 0,
                Op::IndexMatch(_) => n.dim as usize,
                Op::Un(Un::PowI(k)) => n.dim as usize * pow_cost(*k),
                Op::Un(_) | Op::Bin(_) | Op::Tern(_) | Op::OneHot => n.dim as usize,
                Op::Gather(m) => m.sources.iter().map(|s| s.len().saturating_sub(1)).sum(),
                Op::Bilinear(m) => 2 * m.terms.len() - m.dim_out as usize,
                Op::VecRed(_) => self.dim(n.args[0]) as usize - 1,
            };
        }
        count
    }
}

/// Number of multiplications of `x^k` by repeated squaring.
pub fn pow_cost(k: i32) -> usize {
    let k = k.unsigned_abs();
    if k == 0 {
        return 0;
    }
    let bits = 32 - k.leading_zeros() as usize;
    bits - 1 + k.count_ones() as usize - 1
}
