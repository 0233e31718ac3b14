//! Lowering a stage to scalar programs, one per evaluation phase.
//!
//! The engine evaluates a stage in four phases, each a straight-line program
//! of scalar instructions ([`ScalarProg`]):
//!
//! - **param**: once per call, from the parameter variables;
//! - **outer**: once per output row, from that row's variables;
//! - **inner**: once per reduced index, from its variables (the CPU engine
//!   stores the results in structure-of-arrays tiles, the GPU kernel computes
//!   them while staging a tile in shared memory);
//! - **pair**: once per (outer, inner) pair, producing the formula components
//!   (followed by the weight components for the weighted reductions).
//!
//! Each IR node is evaluated in the earliest phase its dependencies allow,
//! and its components travel to later phases as *features* (`Pf`, `Of`,
//! `Nf`): sub-expressions of `x_i` alone are computed once per row, not once
//! per pair. Vector nodes are scalarised component by component; layout maps
//! cost nothing. Both back ends (CPU SIMD Rust code and PTX) translate these
//! programs instruction by instruction.

use std::collections::HashMap;
use std::rc::Rc;

use crate::ir::{Bin, Cat, Id, Op, Tern, Un, VecRed};
use crate::stage::{Red, Stage, VarDecl, VarKind};

/// Index of an instruction (its value) in a [`ScalarProg`].
pub type V = u32;

/// A scalar instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inst {
    /// Component `k` of the concatenated parameter variables.
    RawParam(u32),
    /// Component `k` of the concatenated real variables of the outer row.
    RawOuter(u32),
    /// Component `k` of the concatenated real variables of the inner row.
    RawInner(u32),
    /// Parameter feature `k`.
    Pf(u32),
    /// Outer feature `k`.
    Of(u32),
    /// Inner feature `k`.
    Nf(u32),
    /// (inner phase) `floor(v / 65536)` of component `k` of the concatenated
    /// inner index variables, as a float (exact).
    InnerIndexHi(u32),
    /// (inner phase) `v mod 65536` of component `k` of the inner index variables.
    InnerIndexLo(u32),
    /// (pair phase) `floor(r / 65536)` of the outer row index `r`.
    OuterRowHi,
    /// (pair phase) `r mod 65536` of the outer row index `r`.
    OuterRowLo,
    /// (pair phase) 1 where the inner index equals component `k` of the
    /// concatenated outer index variables, else 0.
    MatchOuterIndex(u32),
    /// A constant (f64 bits).
    Const(u64),
    /// Element-wise unary operation (never `Square` or `PowI`: those are expanded).
    Un(Un, V),
    /// Binary operation.
    Bin(Bin, V, V),
    /// Ternary operation.
    Tern(Tern, V, V, V),
    /// `if c != 0 { a } else { b }`.
    Select(V, V, V),
    /// `a * b + c` with one rounding.
    Fma(V, V, V),
    /// (pair phase, dot-product form only) the scalar product of the outer
    /// features and inner features listed in [`Lowered::dot`], computed by
    /// the engine's blocked kernel.
    Dot,
    /// (loop bodies only) value `v` of the enclosing program.
    Cap(V),
    /// The sum over the iterations of loop `l` of its body's one output,
    /// in order, with the roundings of the scalarised sum (see
    /// [`Accumulate`]).
    LoopSum(u32),
    /// Output `o` of loop `l`'s body at iteration `k`. Appears only among a
    /// program's outputs, as runs `k = 0 .. len` at consecutive positions,
    /// which the back end writes with one loop.
    LoopElem(u32, u32, u8),
}

impl Inst {
    /// The operands (for [`Inst::LoopSum`] and [`Inst::LoopElem`], which
    /// read the values their loop's body captures, see
    /// [`ScalarProg::operands`]).
    pub fn operands(&self) -> Vec<V> {
        match *self {
            Inst::Un(_, a) => vec![a],
            Inst::Bin(_, a, b) => vec![a, b],
            Inst::Tern(_, a, b, c) | Inst::Select(a, b, c) | Inst::Fma(a, b, c) => vec![a, b, c],
            _ => vec![],
        }
    }

    /// The same instruction with its operands mapped by `f`.
    fn map_operands(self, f: impl Fn(V) -> V) -> Inst {
        match self {
            Inst::Un(u, a) => Inst::Un(u, f(a)),
            Inst::Bin(b, x, y) => Inst::Bin(b, f(x), f(y)),
            Inst::Tern(t, x, y, z) => Inst::Tern(t, f(x), f(y), f(z)),
            Inst::Select(x, y, z) => Inst::Select(f(x), f(y), f(z)),
            Inst::Fma(x, y, z) => Inst::Fma(f(x), f(y), f(z)),
            other => other,
        }
    }

    /// For an input that a loop body reads component by component, the
    /// same input `off` components further.
    fn shifted(self, off: u32) -> Option<Inst> {
        Some(match self {
            Inst::RawParam(b) => Inst::RawParam(b + off),
            Inst::RawOuter(b) => Inst::RawOuter(b + off),
            Inst::RawInner(b) => Inst::RawInner(b + off),
            Inst::Pf(b) => Inst::Pf(b + off),
            Inst::Of(b) => Inst::Of(b + off),
            Inst::Nf(b) => Inst::Nf(b + off),
            _ => return None,
        })
    }
}

/// Smallest dimension of a vector that the CPU lowering ([`lower_looped`])
/// keeps as a loop over its components instead of scalarising it.
pub const LOOP_MIN_DIM: u32 = 32;

/// How an [`Inst::LoopSum`] adds its terms `t_k`: as the scalarised
/// program does, so that both lowerings compute the same values. When the
/// term is a product `a_k * b_k` used nowhere else it is fused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Accumulate {
    /// A chain of additions (the sum of a vector's components):
    /// `t0 + t1 + ...`; fused, `fma(a0, b0, t1)` then `fma(a_k, b_k, acc)`.
    #[default]
    Adds,
    /// Fused multiply-adds (scalar products, squared norms): `t0`, then
    /// `fma(a_k, b_k, acc)`.
    Fmas,
}

/// A loop over the components of a vector (see [`lower_looped`]).
#[derive(Clone, Debug, Default)]
pub struct Loop {
    /// Iterations (at least 2).
    pub len: u32,
    /// For an [`Inst::LoopSum`], how the terms are added.
    pub acc: Accumulate,
    /// The body, run once per component `k`: an input instruction
    /// (`RawOuter(b)`, `Of(b)`, `Nf(b)`, ...) reads component `b + k`,
    /// [`Inst::Cap`] a value of the enclosing program. Its outputs are the
    /// values of one iteration.
    pub body: ScalarProg,
}

/// A straight-line program of scalar instructions.
#[derive(Clone, Debug, Default)]
pub struct ScalarProg {
    /// Instructions; operands refer to earlier instructions.
    pub insts: Vec<Inst>,
    /// The values the program returns.
    pub outputs: Vec<V>,
    /// Loops referred to by [`Inst::LoopSum`] and [`Inst::LoopElem`]
    /// (empty in the scalarised lowering, [`lower`]).
    pub loops: Vec<Loop>,
    numbering: HashMap<Inst, V>,
}

impl ScalarProg {
    fn push(&mut self, i: Inst) -> V {
        if let Some(&v) = self.numbering.get(&i) {
            return v;
        }
        let v = self.insts.len() as V;
        self.insts.push(i);
        self.numbering.insert(i, v);
        v
    }

    fn constant(&mut self, c: f64) -> V {
        self.push(Inst::Const(c.to_bits()))
    }

    fn add_loop(&mut self, lp: Loop) -> u32 {
        self.loops.push(lp);
        self.loops.len() as u32 - 1
    }

    /// The operands of instruction `k`, with the values that a loop's body
    /// captures for [`Inst::LoopSum`] and [`Inst::LoopElem`].
    pub fn operands(&self, k: usize) -> Vec<V> {
        match self.insts[k] {
            Inst::LoopSum(l) | Inst::LoopElem(l, _, _) => self.loops[l as usize].captures(),
            ref i => i.operands(),
        }
    }

    /// Uses of each value by the instructions (a loop's captures count as
    /// operands of the instructions that read the loop) and the outputs.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0usize; self.insts.len()];
        for k in 0..self.insts.len() {
            for o in self.operands(k) {
                uses[o as usize] += 1;
            }
        }
        for &o in &self.outputs {
            uses[o as usize] += 1;
        }
        uses
    }

    /// Number of arithmetic instructions run (inputs and constants
    /// excluded; a loop counts its body once per iteration).
    pub fn op_count(&self) -> usize {
        let mut n = 0;
        let mut counted = vec![false; self.loops.len()];
        for i in &self.insts {
            match *i {
                Inst::RawParam(_)
                | Inst::RawOuter(_)
                | Inst::RawInner(_)
                | Inst::Pf(_)
                | Inst::Of(_)
                | Inst::Nf(_)
                | Inst::Const(_)
                | Inst::Cap(_) => {}
                Inst::LoopSum(l) | Inst::LoopElem(l, _, _) => {
                    if !std::mem::replace(&mut counted[l as usize], true) {
                        let lp = &self.loops[l as usize];
                        n += lp.len as usize
                            * (lp.body.op_count() + usize::from(matches!(i, Inst::LoopSum(_))));
                    }
                }
                _ => n += 1,
            }
        }
        n
    }

    /// Copies the instructions of `src` into `self` (hash-consed), with
    /// `leaf` giving the value of each input instruction of `src` (`None`:
    /// push it as it is). Returns the new value of each value of `src`.
    fn import(
        &mut self,
        src: &ScalarProg,
        leaf: &mut dyn FnMut(&mut ScalarProg, Inst) -> Option<V>,
    ) -> Vec<V> {
        let mut map = Vec::with_capacity(src.insts.len());
        for &i in &src.insts {
            let v =
                if i.operands().is_empty() && !matches!(i, Inst::LoopSum(_) | Inst::LoopElem(..)) {
                    match leaf(self, i) {
                        Some(v) => v,
                        None => self.push(i),
                    }
                } else {
                    self.push(i.map_operands(|o| map[o as usize]))
                };
            map.push(v);
        }
        map
    }

    /// Fuses `a * b + c` into [`Inst::Fma`] where the product has no other
    /// use, then drops instructions the outputs do not need (and loops no
    /// instruction refers to).
    fn optimize(&mut self) {
        for lp in &mut self.loops {
            lp.body.optimize();
        }
        let mut uses = self.use_counts();
        for k in 0..self.insts.len() {
            if let Inst::Bin(Bin::Add, a, b) = self.insts[k] {
                let is_mul =
                    |v: V, insts: &[Inst]| matches!(insts[v as usize], Inst::Bin(Bin::Mul, _, _));
                let (m, c) = if is_mul(a, &self.insts) && uses[a as usize] == 1 {
                    (a, b)
                } else if is_mul(b, &self.insts) && uses[b as usize] == 1 {
                    (b, a)
                } else {
                    continue;
                };
                if let Inst::Bin(Bin::Mul, x, y) = self.insts[m as usize] {
                    self.insts[k] = Inst::Fma(x, y, c);
                    uses[m as usize] -= 1;
                }
            }
        }
        // Dead-code elimination and renumbering.
        let mut live = vec![false; self.insts.len()];
        for &o in &self.outputs {
            live[o as usize] = true;
        }
        for k in (0..self.insts.len()).rev() {
            if live[k] {
                for o in self.operands(k) {
                    live[o as usize] = true;
                }
            }
        }
        let mut loop_map = vec![u32::MAX; self.loops.len()];
        let mut loops = Vec::new();
        for k in 0..self.insts.len() {
            if let (true, Inst::LoopSum(l) | Inst::LoopElem(l, _, _)) = (live[k], self.insts[k]) {
                if loop_map[l as usize] == u32::MAX {
                    loop_map[l as usize] = loops.len() as u32;
                    loops.push(std::mem::take(&mut self.loops[l as usize]));
                }
            }
        }
        let mut remap = vec![V::MAX; self.insts.len()];
        let mut insts = Vec::new();
        for k in 0..self.insts.len() {
            if live[k] {
                remap[k] = insts.len() as V;
                let r = |v: V| remap[v as usize];
                insts.push(match self.insts[k] {
                    Inst::LoopSum(l) => Inst::LoopSum(loop_map[l as usize]),
                    Inst::LoopElem(l, c, o) => Inst::LoopElem(loop_map[l as usize], c, o),
                    other => other.map_operands(r),
                });
            }
        }
        for lp in &mut loops {
            for i in &mut lp.body.insts {
                if let Inst::Cap(v) = i {
                    *v = remap[*v as usize];
                }
            }
        }
        self.outputs = self.outputs.iter().map(|&o| remap[o as usize]).collect();
        self.insts = insts;
        self.loops = loops;
        self.numbering.clear();
    }
}

impl Loop {
    /// The enclosing values the body reads, in body order.
    pub fn captures(&self) -> Vec<V> {
        self.body
            .insts
            .iter()
            .filter_map(|i| match *i {
                Inst::Cap(v) => Some(v),
                _ => None,
            })
            .collect()
    }
}

/// Where a stage variable's data comes from (shared with the runtime).
pub use keops_abi::Role;

/// A variable's place in the engine's row buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Role.
    pub role: Role,
    /// Offset of its first component in the role's real buffer (real
    /// variables) or index buffer (index variables).
    pub offset: u32,
}

/// The rewritten squared distance of a dot-product-form stage:
/// `|a|^2 + |b|^2 - 2 (a|b)`, with `a` among the outer features and `b` among
/// the inner ones. These features are used by nothing else, so the engine
/// may translate both sides by the same vector (centering, which the squared
/// distance does not see) and recompute the norms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotForm {
    /// Outer feature numbers of `a`'s components.
    pub of: Vec<u32>,
    /// Inner feature numbers of `b`'s components.
    pub nf: Vec<u32>,
    /// Outer feature number of `|a|^2`.
    pub na: u32,
    /// Inner feature number of `|b|^2`.
    pub nb: u32,
}

/// A stage lowered to four scalar programs.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// Variables.
    pub vars: Vec<VarDecl>,
    /// Slot of each variable.
    pub slots: Vec<Slot>,
    /// Category of the output rows.
    pub outer_cat: Cat,
    /// Reduction.
    pub red: Red,
    /// Formula dimension.
    pub fdim: u32,
    /// Weight dimension (0 without weight).
    pub wdim: u32,
    /// Components of the concatenated real parameter / outer / inner variables.
    pub raw_param: u32,
    /// See `raw_param`.
    pub raw_outer: u32,
    /// See `raw_param`.
    pub raw_inner: u32,
    /// Components of the concatenated outer / inner index variables.
    pub idx_outer: u32,
    /// See `idx_outer`.
    pub idx_inner: u32,
    /// Param phase.
    pub param: ScalarProg,
    /// Outer phase.
    pub outer: ScalarProg,
    /// Inner phase.
    pub inner: ScalarProg,
    /// Pair phase: outputs are the formula components then the weight's.
    pub pair: ScalarProg,
    /// Dot-product form (see [`lower_dot_form`]).
    pub dot: Option<DotForm>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Phase {
    Param,
    Outer,
    Inner,
    Pair,
}

/// The value of an IR node in a phase program.
#[derive(Clone, Debug)]
enum Vals {
    /// One value per component.
    Scalars(Vec<V>),
    /// A vector kept as a loop body (see [`lower_looped`]).
    Lazy(Rc<LazyVec>),
}

/// A vector not scalarised: component `k` is value `out` of `body` at
/// iteration `k` (the body's inputs as in [`Loop::body`]).
#[derive(Clone, Debug)]
struct LazyVec {
    len: u32,
    body: ScalarProg,
    out: V,
}

impl LazyVec {
    fn leaf(len: u32, i: Inst) -> Rc<LazyVec> {
        let mut body = ScalarProg::default();
        let out = body.push(i);
        Rc::new(LazyVec { len, body, out })
    }

    /// The loop computing this vector's components as its one output.
    fn to_loop(&self) -> Loop {
        let mut body = self.body.clone();
        body.outputs = vec![self.out];
        Loop {
            len: self.len,
            body,
            acc: Accumulate::Adds,
        }
    }

    /// The feature numbers of a vector read straight from features `X(b + k)`.
    fn feature_range(&self) -> Option<(Inst, u32)> {
        match self.body.insts[self.out as usize] {
            i @ (Inst::Pf(b) | Inst::Of(b) | Inst::Nf(b)) => Some((i, b)),
            _ => None,
        }
    }
}

/// Merges the bodies of `parts` into one; returns it and each part's output.
fn merge_bodies(parts: &[&LazyVec]) -> (ScalarProg, Vec<V>) {
    let mut body = parts[0].body.clone();
    let mut outs = vec![parts[0].out];
    for p in &parts[1..] {
        let map = body.import(&p.body, &mut |_, _| None);
        outs.push(map[p.out as usize]);
    }
    (body, outs)
}

struct Lowerer<'a> {
    stage: &'a Stage,
    slots: Vec<Slot>,
    outer_cat: Cat,
    progs: [ScalarProg; 4],
    vals: HashMap<(Id, Phase), Vals>,
    /// Features already exported: (node, component) → feature number, per source phase.
    exported: HashMap<(Id, u32), u32>,
    /// Vectors exported as loops: node → first feature number.
    exported_vec: HashMap<Id, u32>,
    /// Keep vectors of at least [`LOOP_MIN_DIM`] components as loops.
    loops: bool,
    /// Rewrite large squared distances as `|a|^2 + |b|^2 - 2 (a|b)`.
    dot_form: bool,
    /// The rewritten squared distance (at most one).
    dot_spec: Option<DotForm>,
}

fn prog_index(p: Phase) -> usize {
    match p {
        Phase::Param => 0,
        Phase::Outer => 1,
        Phase::Inner => 2,
        Phase::Pair => 3,
    }
}

/// Lowers a stage to scalarised programs: one instruction per component
/// of every vector (what the PTX back end translates).
pub fn lower(stage: &Stage) -> Lowered {
    lower_opts(stage, false, false).0
}

/// Lowers a stage for the CPU back end: vectors of at least
/// [`LOOP_MIN_DIM`] components built from element-wise operations stay
/// loops over their components ([`Loop`]), so that the generated code does
/// not grow with the dimension. A vector becomes a loop where it is summed
/// (`sum`, `sqdist`, `norm2`, scalar products: [`Inst::LoopSum`]), exported
/// to a later phase or returned ([`Inst::LoopElem`]); anything else (a
/// concatenation, `max` over the components, ...) scalarises it as
/// [`lower`] does. Sums run in the same order with the same roundings as
/// the scalarised programs, so both lowerings compute the same values.
pub fn lower_looped(stage: &Stage) -> Lowered {
    lower_opts(stage, false, true).0
}

/// Smallest dimension of a squared distance rewritten in dot-product form.
pub const DOT_FORM_MIN_DIM: u32 = 16;

/// Lowers a stage of a selection reduction (min/max/K-min family) with every
/// squared distance `sqdist(a, b)` between an outer and an inner vector of
/// dimension at least [`DOT_FORM_MIN_DIM`] rewritten as
/// `|a|^2 + |b|^2 - 2 (a|b)` (the norms are outer and inner features): one
/// fused multiply-add per component and pair instead of a subtraction and a
/// multiply-add, as FAISS does for k-NN. The values are then inexact by
/// about `D * eps * (|a|^2 + |b|^2)`; the CPU engine re-evaluates the
/// selected candidates with the exact program (`lower`) and re-sorts them.
/// `None` when the stage has nothing to rewrite.
pub fn lower_dot_form(stage: &Stage) -> Option<Lowered> {
    let selection = !matches!(
        stage.red,
        Red::Sum | Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight
    );
    if !selection {
        return None;
    }
    let (l, used) = lower_opts(stage, true, true);
    if !used {
        return None;
    }
    // The engine centers `a` and `b` in place: that is only allowed when no
    // other part of the formula reads those features.
    let d = l.dot.as_ref().expect("dot form");
    let reads = |i: &Inst, len: u32| match *i {
        Inst::Of(f) => (f..f + len).any(|f| d.of.contains(&f)),
        Inst::Nf(f) => (f..f + len).any(|f| d.nf.contains(&f)),
        _ => false,
    };
    let shared = l.pair.insts.iter().any(|i| reads(i, 1))
        || l.pair
            .loops
            .iter()
            .any(|lp| lp.body.insts.iter().any(|i| reads(i, lp.len)));
    (!shared).then_some(l)
}

fn lower_opts(stage: &Stage, dot_form: bool, loops: bool) -> (Lowered, bool) {
    let outer_cat = stage.outer();
    let mut slots = Vec::new();
    let (mut rp, mut ro, mut rn, mut io, mut inn) = (0, 0, 0, 0, 0);
    for v in &stage.vars {
        let role = if v.cat == Cat::P {
            Role::Param
        } else if v.cat == outer_cat {
            Role::Outer
        } else {
            Role::Inner
        };
        let counter = match (role, v.kind) {
            (Role::Param, _) => &mut rp,
            (Role::Outer, VarKind::Real) => &mut ro,
            (Role::Inner, VarKind::Real) => &mut rn,
            (Role::Outer, VarKind::Index) => &mut io,
            (Role::Inner, VarKind::Index) => &mut inn,
        };
        slots.push(Slot {
            role,
            offset: *counter,
        });
        *counter += v.dim;
    }
    let mut l = Lowerer {
        stage,
        slots,
        outer_cat,
        progs: Default::default(),
        vals: HashMap::new(),
        exported: HashMap::new(),
        exported_vec: HashMap::new(),
        loops,
        dot_form,
        dot_spec: None,
    };
    let mut roots = vec![stage.f];
    roots.extend(stage.w);
    for id in stage.graph.reachable(&roots) {
        l.lower_node(id);
    }
    let mut roots = vec![stage.f];
    roots.extend(stage.w);
    for r in roots {
        match l.get_vals(r, Phase::Pair) {
            Vals::Scalars(v) => l.progs[3].outputs.extend(v),
            Vals::Lazy(lz) => {
                let p = &mut l.progs[3];
                let lp = p.add_loop(lz.to_loop());
                for k in 0..lz.len {
                    let e = p.push(Inst::LoopElem(lp, k, 0));
                    p.outputs.push(e);
                }
            }
        }
    }
    let dot_spec = l.dot_spec.clone();
    let dot_used = dot_spec.is_some();
    let [mut param, mut outer, mut inner, mut pair] = l.progs;
    // Later phases first: optimizing may drop feature uses, but feature
    // numbering stays fixed (unused features are simply not read).
    pair.optimize();
    outer.optimize();
    inner.optimize();
    param.optimize();
    let fdim = stage.graph.dim(stage.f);
    let wdim = stage.w.map(|w| stage.graph.dim(w)).unwrap_or(0);
    let lowered = Lowered {
        vars: stage.vars.clone(),
        slots: l.slots,
        outer_cat,
        red: stage.red,
        fdim,
        wdim,
        raw_param: rp,
        raw_outer: ro,
        raw_inner: rn,
        idx_outer: io,
        idx_inner: inn,
        param,
        outer,
        inner,
        pair,
        dot: dot_spec,
    };
    (lowered, dot_used)
}

impl Lowerer<'_> {
    fn phase_of(&self, id: Id) -> Phase {
        let n = self.stage.graph.node(id);
        if let Op::IndexMatch(_) = n.op {
            return Phase::Pair;
        }
        let d = n.deps;
        let (oc, ic) = if self.outer_cat == Cat::I {
            (crate::ir::Deps::I, crate::ir::Deps::J)
        } else {
            (crate::ir::Deps::J, crate::ir::Deps::I)
        };
        match (d.has(oc), d.has(ic)) {
            (true, true) => Phase::Pair,
            (true, false) => Phase::Outer,
            (false, true) => Phase::Inner,
            (false, false) => Phase::Param,
        }
    }

    /// Component values of `id` inside phase `want` (scalarised).
    fn get(&mut self, id: Id, want: Phase) -> Vec<V> {
        match self.get_vals(id, want) {
            Vals::Scalars(v) => v,
            Vals::Lazy(lz) => self.materialize(prog_index(want), &lz),
        }
    }

    /// The value of `id` inside phase `want`, importing features as needed.
    fn get_vals(&mut self, id: Id, want: Phase) -> Vals {
        if let Some(v) = self.vals.get(&(id, want)) {
            return v.clone();
        }
        let n = self.stage.graph.node(id).clone();
        if let Op::Const(b) = n.op {
            let v = self.progs[prog_index(want)].push(Inst::Const(b));
            self.vals.insert((id, want), Vals::Scalars(vec![v]));
            return Vals::Scalars(vec![v]);
        }
        let home = self.phase_of(id);
        assert!(
            home <= want || want == Phase::Pair || home == Phase::Param,
            "internal error: phase order"
        );
        let feature = |home: Phase, f: u32| match home {
            Phase::Param => Inst::Pf(f),
            Phase::Outer => Inst::Of(f),
            Phase::Inner => Inst::Nf(f),
            Phase::Pair => unreachable!("pair values are never features"),
        };
        let src = match self.vals[&(id, home)].clone() {
            Vals::Scalars(src) => src,
            Vals::Lazy(lz) => {
                // Exported by a loop to consecutive features.
                let base = match self.exported_vec.get(&id) {
                    Some(&b) => b,
                    None => {
                        let p = &mut self.progs[prog_index(home)];
                        let l = p.add_loop(lz.to_loop());
                        let base = p.outputs.len() as u32;
                        for k in 0..lz.len {
                            let e = p.push(Inst::LoopElem(l, k, 0));
                            p.outputs.push(e);
                        }
                        self.exported_vec.insert(id, base);
                        base
                    }
                };
                let v = Vals::Lazy(LazyVec::leaf(lz.len, feature(home, base)));
                self.vals.insert((id, want), v.clone());
                return v;
            }
        };
        let mut out = Vec::with_capacity(src.len());
        for (c, &sv) in src.iter().enumerate() {
            // Constants need no feature.
            if let Inst::Const(b) = self.progs[prog_index(home)].insts[sv as usize] {
                out.push(self.progs[prog_index(want)].push(Inst::Const(b)));
                continue;
            }
            let key = (id, c as u32);
            let fnum = match self.exported.get(&key) {
                Some(&f) => f,
                None => {
                    let p = &mut self.progs[prog_index(home)];
                    p.outputs.push(sv);
                    let f = p.outputs.len() as u32 - 1;
                    self.exported.insert(key, f);
                    f
                }
            };
            out.push(self.progs[prog_index(want)].push(feature(home, fnum)));
        }
        self.vals.insert((id, want), Vals::Scalars(out.clone()));
        Vals::Scalars(out)
    }

    /// The components of a lazy vector as instructions of program `pi`.
    fn materialize(&mut self, pi: usize, lz: &LazyVec) -> Vec<V> {
        let p = &mut self.progs[pi];
        let mut out = Vec::with_capacity(lz.len as usize);
        for k in 0..lz.len {
            let map = p.import(&lz.body, &mut |p, i| match i {
                Inst::Cap(v) => Some(v),
                other => other.shifted(k).map(|s| p.push(s)),
            });
            out.push(map[lz.out as usize]);
        }
        out
    }

    /// `sum(square(a - b))` (or `b - a`) with `a` outer, `b` inner, as `(a, b)`.
    fn sqdist_operands(&self, id: Id) -> Option<(Id, Id)> {
        let g = &self.stage.graph;
        let n = g.node(id);
        let Op::Gather(m) = &n.op else { return None };
        if n.args.len() != 1 || m.sources.len() != 1 {
            return None;
        }
        let sq = n.args[0];
        let d = g.dim(sq);
        if d < DOT_FORM_MIN_DIM || m.sources[0].len() != d as usize {
            return None;
        }
        let sqn = g.node(sq);
        if !matches!(sqn.op, Op::Un(Un::Square)) {
            return None;
        }
        let sub = g.node(sqn.args[0]);
        if !matches!(sub.op, Op::Bin(Bin::Sub)) {
            return None;
        }
        let (x, y) = (sub.args[0], sub.args[1]);
        match (self.phase_of(x), self.phase_of(y)) {
            (Phase::Outer, Phase::Inner) => Some((x, y)),
            (Phase::Inner, Phase::Outer) => Some((y, x)),
            _ => None,
        }
    }

    /// Exports value `v` of phase `home` as a feature and returns its input
    /// instruction in the pair phase.
    fn export(&mut self, home: Phase, v: V) -> Inst {
        let p = &mut self.progs[prog_index(home)];
        p.outputs.push(v);
        let f = p.outputs.len() as u32 - 1;
        match home {
            Phase::Param => Inst::Pf(f),
            Phase::Outer => Inst::Of(f),
            Phase::Inner => Inst::Nf(f),
            Phase::Pair => unreachable!("pair values are never features"),
        }
    }

    /// The feature numbers of the components of `v` in phase program `pi`,
    /// when each is read straight from a feature.
    fn feature_numbers(&self, pi: usize, v: &Vals) -> Option<Vec<u32>> {
        match v {
            Vals::Scalars(vs) => vs
                .iter()
                .map(|&v| match self.progs[pi].insts[v as usize] {
                    Inst::Of(f) | Inst::Nf(f) => Some(f),
                    _ => None,
                })
                .collect(),
            Vals::Lazy(lz) => match lz.feature_range()? {
                (Inst::Of(b) | Inst::Nf(b), _) => Some((b..b + lz.len).collect()),
                _ => None,
            },
        }
    }

    /// The sum of the squares of the components of `v` in phase `home`.
    fn squared_norm(&mut self, home: Phase, v: &Vals) -> V {
        let p = &mut self.progs[prog_index(home)];
        match v {
            Vals::Scalars(vals) => {
                let mut acc = p.push(Inst::Bin(Bin::Mul, vals[0], vals[0]));
                for &v in &vals[1..] {
                    acc = p.push(Inst::Fma(v, v, acc));
                }
                acc
            }
            Vals::Lazy(lz) => {
                let mut body = lz.body.clone();
                let sq = body.push(Inst::Bin(Bin::Mul, lz.out, lz.out));
                body.outputs = vec![sq];
                let l = p.add_loop(Loop {
                    len: lz.len,
                    body,
                    acc: Accumulate::Fmas,
                });
                p.push(Inst::LoopSum(l))
            }
        }
    }

    /// The sum of the components of `lz`, as a loop.
    fn loop_sum(&mut self, pi: usize, lz: &LazyVec, acc: Accumulate) -> V {
        let p = &mut self.progs[pi];
        let mut lp = lz.to_loop();
        lp.acc = acc;
        let l = p.add_loop(lp);
        p.push(Inst::LoopSum(l))
    }

    /// Components `off .. off + len` of a lazy vector, as a lazy vector.
    fn slice(lz: &LazyVec, off: u32, len: u32) -> Rc<LazyVec> {
        let mut body = ScalarProg::default();
        let map = body.import(&lz.body, &mut |p, i| i.shifted(off).map(|s| p.push(s)));
        Rc::new(LazyVec {
            len,
            body,
            out: map[lz.out as usize],
        })
    }

    /// The value of a node in its own phase, as a loop when `lower_node`
    /// may keep it one (`None`: scalarise it).
    fn lower_lazy(&mut self, id: Id, ph: Phase) -> Option<Vals> {
        let n = self.stage.graph.node(id).clone();
        let pi = prog_index(ph);
        let big = n.dim >= LOOP_MIN_DIM;
        let lazy_args = |s: &mut Self| -> Option<Vec<Rc<LazyVec>>> {
            n.args
                .iter()
                .map(|&a| match s.get_vals(a, ph) {
                    Vals::Lazy(lz) => Some(lz),
                    Vals::Scalars(_) => None,
                })
                .collect()
        };
        match &n.op {
            Op::Var(v) if big && self.stage.vars[*v as usize].kind == VarKind::Real => {
                let slot = self.slots[*v as usize];
                let leaf = match slot.role {
                    Role::Param => Inst::RawParam(slot.offset),
                    Role::Outer => Inst::RawOuter(slot.offset),
                    Role::Inner => Inst::RawInner(slot.offset),
                };
                Some(Vals::Lazy(LazyVec::leaf(n.dim, leaf)))
            }
            Op::Un(_) | Op::Bin(_) | Op::Tern(_) => {
                let args = lazy_args(self)?;
                let parts: Vec<&LazyVec> = args.iter().map(|a| a.as_ref()).collect();
                let (mut body, outs) = merge_bodies(&parts);
                let out = match n.op {
                    Op::Un(u) => unary(&mut body, u, outs[0]),
                    Op::Bin(b) => body.push(Inst::Bin(b, outs[0], outs[1])),
                    Op::Tern(t) => body.push(Inst::Tern(t, outs[0], outs[1], outs[2])),
                    _ => unreachable!(),
                };
                Some(Vals::Lazy(Rc::new(LazyVec {
                    len: n.dim,
                    body,
                    out,
                })))
            }
            Op::Gather(m) if n.args.len() == 1 => {
                let a = n.args[0];
                let adim = self.stage.graph.dim(a);
                // Broadcast of a scalar.
                if big && adim == 1 && m.sources.iter().all(|s| s == &[(0, 0)]) {
                    let v = self.get(a, ph)[0];
                    return Some(Vals::Lazy(LazyVec::leaf(n.dim, Inst::Cap(v))));
                }
                if adim < LOOP_MIN_DIM {
                    return None;
                }
                let Vals::Lazy(lz) = self.get_vals(a, ph) else {
                    return None;
                };
                // A contiguous run of components of the argument.
                let run = |s: &[(u32, u32)]| -> Option<u32> {
                    let off = s.first()?.1;
                    s.iter()
                        .enumerate()
                        .all(|(k, &(_, c))| c == off + k as u32)
                        .then_some(off)
                };
                if m.sources.len() == 1 && m.sources[0].len() >= 2 {
                    // A sum of components.
                    let off = run(&m.sources[0])?;
                    let len = m.sources[0].len() as u32;
                    let part = if off == 0 && len == lz.len {
                        lz
                    } else {
                        Self::slice(&lz, off, len)
                    };
                    return Some(Vals::Scalars(vec![self.loop_sum(
                        pi,
                        &part,
                        Accumulate::Adds,
                    )]));
                }
                // A few components of a long vector: each computed alone
                // (the vector stays a loop for its other uses).
                if !big && m.sources.iter().all(|s| s.len() == 1) {
                    let mut out = Vec::with_capacity(m.sources.len());
                    for s in &m.sources {
                        let one = Self::slice(&lz, s[0].1, 1);
                        out.extend(self.materialize(pi, &one));
                    }
                    return Some(Vals::Scalars(out));
                }
                // A contiguous selection.
                if big && m.sources.iter().all(|s| s.len() == 1) {
                    let flat: Vec<(u32, u32)> = m.sources.iter().map(|s| s[0]).collect();
                    let off = run(&flat)?;
                    return Some(Vals::Lazy(Self::slice(&lz, off, n.dim)));
                }
                None
            }
            Op::Bilinear(m)
                if n.dim == 1
                    && m.dim_a == m.dim_b
                    && m.dim_a >= LOOP_MIN_DIM
                    && m.terms.len() == m.dim_a as usize
                    && m.terms
                        .iter()
                        .enumerate()
                        .all(|(k, &t)| t == (0, k as u32, k as u32)) =>
            {
                // A scalar product.
                let args = lazy_args(self)?;
                let (mut body, outs) = merge_bodies(&[&args[0], &args[1]]);
                let out = body.push(Inst::Bin(Bin::Mul, outs[0], outs[1]));
                let lz = LazyVec {
                    len: m.dim_a,
                    body,
                    out,
                };
                Some(Vals::Scalars(vec![self.loop_sum(
                    pi,
                    &lz,
                    Accumulate::Fmas,
                )]))
            }
            _ => None,
        }
    }

    fn lower_node(&mut self, id: Id) {
        let n = self.stage.graph.node(id).clone();
        let ph = self.phase_of(id);
        let pi = prog_index(ph);
        if self.dot_form && ph == Phase::Pair && self.dot_spec.is_none() {
            if let Some((a, b)) = self.sqdist_operands(id) {
                let ap = self.get_vals(a, Phase::Pair);
                let bp = self.get_vals(b, Phase::Pair);
                let of = self.feature_numbers(pi, &ap);
                let nf = self.feature_numbers(pi, &bp);
                if let (Some(of), Some(nf)) = (of, nf) {
                    let av = self.get_vals(a, Phase::Outer);
                    let bv = self.get_vals(b, Phase::Inner);
                    let na = self.squared_norm(Phase::Outer, &av);
                    let nb = self.squared_norm(Phase::Inner, &bv);
                    let na = self.export(Phase::Outer, na);
                    let nb = self.export(Phase::Inner, nb);
                    let (Inst::Of(naf), Inst::Nf(nbf)) = (na, nb) else {
                        unreachable!()
                    };
                    self.dot_spec = Some(DotForm {
                        of,
                        nf,
                        na: naf,
                        nb: nbf,
                    });
                    let p = &mut self.progs[pi];
                    let dot = p.push(Inst::Dot);
                    let na = p.push(na);
                    let nb = p.push(nb);
                    let norms = p.push(Inst::Bin(Bin::Add, na, nb));
                    let m2 = p.constant(-2.0);
                    let r = p.push(Inst::Fma(m2, dot, norms));
                    self.vals.insert((id, ph), Vals::Scalars(vec![r]));
                    return;
                }
            }
        }
        if self.loops {
            if let Some(v) = self.lower_lazy(id, ph) {
                self.vals.insert((id, ph), v);
                return;
            }
        }
        let args: Vec<Vec<V>> = n.args.iter().map(|&a| self.get(a, ph)).collect();
        let dim = n.dim as usize;
        let vals: Vec<V> = match &n.op {
            Op::Var(v) => {
                let slot = self.slots[*v as usize];
                (0..dim as u32)
                    .map(|c| {
                        let k = slot.offset + c;
                        self.progs[pi].push(match slot.role {
                            Role::Param => Inst::RawParam(k),
                            Role::Outer => Inst::RawOuter(k),
                            Role::Inner => Inst::RawInner(k),
                        })
                    })
                    .collect()
            }
            Op::Const(b) => vec![self.progs[pi].push(Inst::Const(*b))],
            Op::IndexMatch(v) => {
                let slot = self.slots[*v as usize];
                match slot.role {
                    Role::Outer => (0..dim as u32)
                        .map(|c| self.progs[pi].push(Inst::MatchOuterIndex(slot.offset + c)))
                        .collect(),
                    Role::Inner => {
                        let mut out = Vec::new();
                        for c in 0..dim as u32 {
                            // Halves computed in the inner phase, compared per pair.
                            let inner = &mut self.progs[prog_index(Phase::Inner)];
                            let hi = inner.push(Inst::InnerIndexHi(slot.offset + c));
                            let lo = inner.push(Inst::InnerIndexLo(slot.offset + c));
                            inner.outputs.push(hi);
                            let fhi = inner.outputs.len() as u32 - 1;
                            inner.outputs.push(lo);
                            let flo = inner.outputs.len() as u32 - 1;
                            let p = &mut self.progs[pi];
                            let nh = p.push(Inst::Nf(fhi));
                            let nl = p.push(Inst::Nf(flo));
                            let rh = p.push(Inst::OuterRowHi);
                            let rl = p.push(Inst::OuterRowLo);
                            let eh = p.push(Inst::Bin(Bin::Eq, nh, rh));
                            let el = p.push(Inst::Bin(Bin::Eq, nl, rl));
                            out.push(p.push(Inst::Bin(Bin::Mul, eh, el)));
                        }
                        out
                    }
                    Role::Param => panic!("internal error: index parameter"),
                }
            }
            Op::Un(u) => {
                let a = &args[0];
                (0..dim)
                    .map(|c| unary(&mut self.progs[pi], *u, a[c]))
                    .collect()
            }
            Op::Bin(b) => (0..dim)
                .map(|c| self.progs[pi].push(Inst::Bin(*b, args[0][c], args[1][c])))
                .collect(),
            Op::Tern(t) => (0..dim)
                .map(|c| self.progs[pi].push(Inst::Tern(*t, args[0][c], args[1][c], args[2][c])))
                .collect(),
            Op::Gather(m) => m
                .sources
                .iter()
                .map(|s| {
                    let p = &mut self.progs[pi];
                    if s.is_empty() {
                        return p.constant(0.0);
                    }
                    let mut acc = args[s[0].0 as usize][s[0].1 as usize];
                    for &(a, c) in &s[1..] {
                        acc = p.push(Inst::Bin(Bin::Add, acc, args[a as usize][c as usize]));
                    }
                    acc
                })
                .collect(),
            Op::Bilinear(m) => {
                let p = &mut self.progs[pi];
                let mut acc: Vec<Option<V>> = vec![None; dim];
                for &(o, ia, ib) in &m.terms {
                    let (x, y) = (args[0][ia as usize], args[1][ib as usize]);
                    acc[o as usize] = Some(match acc[o as usize] {
                        None => p.push(Inst::Bin(Bin::Mul, x, y)),
                        Some(c) => p.push(Inst::Fma(x, y, c)),
                    });
                }
                acc.into_iter()
                    .map(|a| a.unwrap_or_else(|| p.constant(0.0)))
                    .collect()
            }
            Op::VecRed(r) => {
                let p = &mut self.progs[pi];
                let a = &args[0];
                let mut best = a[0];
                let mut idx = p.constant(0.0);
                for (k, &x) in a.iter().enumerate().skip(1) {
                    let cmp = match r {
                        VecRed::Max | VecRed::ArgMax => Bin::Gt,
                        VecRed::Min | VecRed::ArgMin => Bin::Lt,
                    };
                    let c = p.push(Inst::Bin(cmp, x, best));
                    best = p.push(Inst::Select(c, x, best));
                    if matches!(r, VecRed::ArgMax | VecRed::ArgMin) {
                        let kv = p.constant(k as f64);
                        idx = p.push(Inst::Select(c, kv, idx));
                    }
                }
                match r {
                    VecRed::Max | VecRed::Min => vec![best],
                    _ => vec![idx],
                }
            }
            Op::OneHot => {
                let p = &mut self.progs[pi];
                let half = p.constant(0.5);
                let s = p.push(Inst::Bin(Bin::Add, args[0][0], half));
                let r = p.push(Inst::Un(Un::Floor, s));
                (0..dim)
                    .map(|k| {
                        let kv = p.constant(k as f64);
                        p.push(Inst::Bin(Bin::Eq, r, kv))
                    })
                    .collect()
            }
        };
        self.vals.insert((id, ph), Vals::Scalars(vals));
    }
}

/// Element-wise unary operation `u` of value `x` of `p` (`Square` and
/// `PowI` expanded to products).
fn unary(p: &mut ScalarProg, u: Un, x: V) -> V {
    match u {
        Un::Square => p.push(Inst::Bin(Bin::Mul, x, x)),
        Un::PowI(n) => {
            if n == 0 {
                return p.constant(1.0);
            }
            // Binary exponentiation.
            let mut e = n.unsigned_abs();
            let mut base = x;
            let mut acc: Option<V> = None;
            while e > 0 {
                if e & 1 == 1 {
                    acc = Some(match acc {
                        None => base,
                        Some(a) => p.push(Inst::Bin(Bin::Mul, a, base)),
                    });
                }
                e >>= 1;
                if e > 0 {
                    base = p.push(Inst::Bin(Bin::Mul, base, base));
                }
            }
            let r = acc.expect("n != 0");
            if n < 0 {
                p.push(Inst::Un(Un::Inv, r))
            } else {
                r
            }
        }
        other => p.push(Inst::Un(other, x)),
    }
}
