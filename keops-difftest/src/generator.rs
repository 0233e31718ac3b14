//! The seeded generator of well-typed random formulas.
//!
//! It depends on `std` only: `build.rs` includes this file (`#[path]`) to
//! write the test functions, and the library exports it so that unit tests
//! can check its output (every formula compiles, every operation appears).
//!
//! Well-typed by construction: every sub-expression is generated for a
//! requested dimension (categories need no tracking inside a formula: any
//! mix of `Vi`, `Vj` and `Pm` is legal under a reduction, which is always
//! the outermost operation), and every function with a restricted domain
//! gets an argument kept inside it by construction, from a bound `b` on the
//! absolute value of each sub-expression (tracked from the input range):
//! `log(x + c)` with `c > b`, `asin(x * c)` with `c * b < 1`, and so on.
//! The same bounds keep magnitudes moderate (an expression whose bound grows
//! past [`MAX_BOUND`] is scaled down), so that f32 results stay comparable
//! with the f64 reference.
#![allow(clippy::manual_range_contains)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Largest bound on intermediate values before the generator scales an
/// expression down.
pub const MAX_BOUND: f64 = 8.0;

/// Largest dimension of an intermediate vector.
const MAX_DIM: u32 = 12;

/// A small deterministic generator (SplitMix64): the same seed gives the same
/// formulas on every machine and Rust version.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }
    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// The seed of formula `id` of a run (also seeds its inputs at run time).
pub fn formula_seed(seed: u64, id: usize) -> u64 {
    let mut r = Rng::new(seed ^ (id as u64).wrapping_mul(0xd134_2543_de82_ef95));
    r.next_u64()
}

/// A variable category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cat {
    /// `Vi`.
    I,
    /// `Vj`.
    J,
    /// `Pm`.
    P,
}

impl Cat {
    /// The declaration keyword.
    pub fn name(self) -> &'static str {
        match self {
            Cat::I => "Vi",
            Cat::J => "Vj",
            Cat::P => "Pm",
        }
    }
}

/// A declared variable.
#[derive(Clone, Debug)]
pub struct Var {
    /// Name.
    pub name: String,
    /// Category.
    pub cat: Cat,
    /// Dimension.
    pub dim: u32,
}

/// Reductions (the outermost operation of every formula).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Red {
    /// `sum`.
    Sum,
    /// `logsumexp` without a weight.
    LogSumExp,
    /// `logsumexp` with a weight.
    LogSumExpWeight,
    /// `sumsoftmaxweight`.
    SumSoftmaxWeight,
    /// `min`.
    Min,
    /// `argmin`.
    ArgMin,
    /// `min_argmin`.
    MinArgMin,
    /// `max`.
    Max,
    /// `argmax`.
    ArgMax,
    /// `max_argmax`.
    MaxArgMax,
    /// `kmin`.
    KMin,
    /// `argkmin`.
    ArgKMin,
    /// `kmin_argkmin`.
    KMinArgKMin,
}

impl Red {
    /// Every reduction.
    pub const ALL: [Red; 13] = [
        Red::Sum,
        Red::LogSumExp,
        Red::LogSumExpWeight,
        Red::SumSoftmaxWeight,
        Red::Min,
        Red::ArgMin,
        Red::MinArgMin,
        Red::Max,
        Red::ArgMax,
        Red::MaxArgMax,
        Red::KMin,
        Red::ArgKMin,
        Red::KMinArgKMin,
    ];
    /// The base name.
    pub fn name(self) -> &'static str {
        match self {
            Red::Sum => "sum",
            Red::LogSumExp => "logsumexp",
            Red::LogSumExpWeight => "logsumexp_weight",
            Red::SumSoftmaxWeight => "sumsoftmaxweight",
            Red::Min => "min",
            Red::ArgMin => "argmin",
            Red::MinArgMin => "min_argmin",
            Red::Max => "max",
            Red::ArgMax => "argmax",
            Red::MaxArgMax => "max_argmax",
            Red::KMin => "kmin",
            Red::ArgKMin => "argkmin",
            Red::KMinArgKMin => "kmin_argkmin",
        }
    }
    /// Whether the reduction has gradient kernels worth checking (arg-type
    /// reductions have identically zero gradients).
    pub fn differentiable(self) -> bool {
        !matches!(self, Red::ArgMin | Red::ArgMax | Red::ArgKMin)
    }
    /// Whether it selects values (min, max, K-min and their arg forms).
    pub fn selects(self) -> bool {
        !matches!(
            self,
            Red::Sum | Red::LogSumExp | Red::LogSumExpWeight | Red::SumSoftmaxWeight
        )
    }
}

/// One generated formula.
#[derive(Clone, Debug)]
pub struct Formula {
    /// Index in the run.
    pub id: usize,
    /// Declared variables, in call order.
    pub vars: Vec<Var>,
    /// The body (an expression, or a block with `let` bindings).
    pub body: String,
    /// `grad_order` of the kernel (0, or 1 for the gradient subset).
    pub grad_order: u32,
    /// Variables whose gradient kernels `grad_<v>()` are checked.
    pub grads: Vec<String>,
    /// The reduction.
    pub red: Red,
    /// Range of the random inputs.
    pub range: (f64, f64),
    /// Whether the formula also runs on the PTX simulator.
    pub sim: bool,
    /// Operations used (for coverage reports).
    pub ops: BTreeSet<&'static str>,
}

/// Operations with jumps (piecewise-constant results or branches).
pub const DISCONTINUOUS: &[&str] = &[
    "sign",
    "step",
    "floor",
    "round",
    "%",
    "mod",
    "cmp",
    "clampint",
    "ifelse",
    "one_hot",
    "argmax_vec",
    "argmin_vec",
];

impl Formula {
    /// Whether the formula has a jump: its f32 evaluation may land on the
    /// other side of the jump than the f64 reference where an argument is
    /// within rounding of the threshold (for instance `one_hot(0.5 + t)` with
    /// a tiny negative `t`, which rounds to `0.5` in f32).
    pub fn discontinuous(&self) -> bool {
        DISCONTINUOUS.iter().any(|op| self.ops.contains(op))
    }

    /// The closure: `|x: Vi<3>, ...| body`.
    pub fn closure(&self) -> String {
        let params: Vec<String> = self
            .vars
            .iter()
            .map(|v| format!("{}: {}<{}>", v.name, v.cat.name(), v.dim))
            .collect();
        format!("|{}| {}", params.join(", "), self.body)
    }
    /// The macro input, also the reference evaluator's source text.
    pub fn src(&self) -> String {
        format!("grad_order = {}, {}", self.grad_order, self.closure())
    }
}

/// A generated expression.
#[derive(Clone, Debug)]
struct E {
    /// Source text.
    s: String,
    /// Dimension.
    dim: u32,
    /// Bound on the absolute value of every component.
    b: f64,
    /// Variables used (bit mask over declaration order).
    vars: u64,
    /// Whether `s` is an atom (name, call, parenthesised): no parentheses
    /// are needed around it as an operand or a method receiver.
    atom: bool,
}

impl E {
    fn paren(&self) -> String {
        if self.atom {
            self.s.clone()
        } else {
            format!("({})", self.s)
        }
    }
}

/// A literal with up to 3 decimals (always with a decimal point).
fn lit(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// `v` rounded up to 3 decimals (a literal that is at least `v`).
fn up3(v: f64) -> f64 {
    (v * 1000.0).ceil() / 1000.0
}

/// `v` rounded down to 3 decimals, at least 0.001.
fn down3(v: f64) -> f64 {
    ((v * 1000.0).floor() / 1000.0).max(0.001)
}

struct Gen<'a> {
    rng: &'a mut Rng,
    vars: Vec<Var>,
    /// `let` bindings in scope (name, expression facts).
    lets: Vec<E>,
    /// Smooth mode: no piecewise-constant, saturating or non-smooth
    /// operations (formulas whose selection reductions are differentiated).
    smooth: bool,
    /// Input bound.
    b_in: f64,
    /// Operations left.
    budget: i32,
    /// `grad(...)` calls left.
    grads_left: u32,
    ops: BTreeSet<&'static str>,
}

const UNARY: &[&str] = &[
    "neg",
    "abs",
    "exp",
    "log",
    "sin",
    "cos",
    "sqrt",
    "rsqrt",
    "pow",
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
    "powf_const",
];

/// Operations that are not smooth (excluded in smooth mode).
const NON_SMOOTH: &[&str] = &[
    "abs",
    "sign",
    "step",
    "relu",
    "floor",
    "round",
    "mod",
    "%",
    "cmp",
    "max2",
    "min2",
    "clamp",
    "clampint",
    "ifelse",
    "one_hot",
    "argmax_vec",
    "argmin_vec",
    "max_vec",
    "min_vec",
];

impl Gen<'_> {
    fn use_op(&mut self, op: &'static str) {
        self.ops.insert(op);
        self.budget -= 1;
    }

    fn allowed(&self, op: &str) -> bool {
        !(self.smooth && NON_SMOOTH.contains(&op))
    }

    fn constant(&mut self) -> E {
        let v = self
            .rng
            .pick(&[0.5, 1.5, 2.0, 0.25, 3.0, 0.7, 1.3, 0.1, 2.5, 0.9]);
        let int = self.rng.chance(0.2) && v == (v as i64) as f64;
        let s = if int { format!("{}", v as i64) } else { lit(v) };
        E {
            s,
            dim: 1,
            b: v,
            vars: 0,
            atom: true,
        }
    }

    /// A variable or `let` binding read at dimension `dim` (whole, or a
    /// slice of a larger one); `None` when none is large enough.
    fn leaf_var(&mut self, dim: u32) -> Option<E> {
        let mut cands: Vec<E> = Vec::new();
        for (k, v) in self.vars.iter().enumerate() {
            if v.dim >= dim {
                cands.push(E {
                    s: v.name.clone(),
                    dim: v.dim,
                    b: self.b_in,
                    vars: 1 << k,
                    atom: true,
                });
            }
        }
        for l in &self.lets {
            if l.dim >= dim {
                cands.push(l.clone());
            }
        }
        if cands.is_empty() {
            return None;
        }
        let e = cands[self.rng.below(cands.len())].clone();
        Some(self.slice(e, dim))
    }

    /// `e` restricted to `dim` components (a slice, `elem`, `extract`).
    fn slice(&mut self, e: E, dim: u32) -> E {
        if e.dim == dim {
            return e;
        }
        let start = self.rng.range(0, e.dim - dim);
        let end = start + dim;
        let r = e.paren();
        let s = if dim == 1 && self.rng.chance(0.5) {
            self.use_op("elem");
            if self.rng.chance(0.5) {
                format!("elem({}, {start})", e.s)
            } else if self.rng.chance(0.5) {
                format!("{r}.elem({start})")
            } else {
                format!("{r}[{start}]")
            }
        } else {
            match self.rng.below(6) {
                0 => {
                    self.use_op("extract");
                    format!("extract({}, {start}, {dim})", e.s)
                }
                1 => {
                    self.use_op("extract");
                    format!("{r}.extract({start}, {dim})")
                }
                2 if start == 0 => {
                    self.use_op("slice");
                    format!("{r}[..{end}]")
                }
                3 if end == e.dim => {
                    self.use_op("slice");
                    format!("{r}[{start}..]")
                }
                4 => {
                    self.use_op("slice");
                    format!("{r}[{start}..={}]", end - 1)
                }
                _ => {
                    self.use_op("slice");
                    format!("{r}[{start}..{end}]")
                }
            }
        };
        E {
            s,
            dim,
            b: e.b,
            vars: e.vars,
            atom: true,
        }
    }

    fn leaf(&mut self, dim: u32) -> E {
        if dim == 1 && self.rng.chance(0.12) {
            return self.constant();
        }
        if let Some(e) = self.leaf_var(dim) {
            return e;
        }
        // No variable that large: concatenate smaller leaves.
        let d1 = self.rng.range(1, dim - 1);
        let a = self.leaf(d1);
        let b = self.leaf(dim - d1);
        self.concat2(a, b)
    }

    fn concat2(&mut self, a: E, b: E) -> E {
        self.use_op("concat");
        let s = match self.rng.below(4) {
            0 => format!("concat({}, {})", a.s, b.s),
            1 => format!("cat({}, {})", a.s, b.s),
            2 => format!("concatenate([{}, {}])", a.s, b.s),
            _ => format!("{}.concat({})", a.paren(), b.s),
        };
        E {
            s,
            dim: a.dim + b.dim,
            b: a.b.max(b.b),
            vars: a.vars | b.vars,
            atom: true,
        }
    }

    /// `e`, scaled down to the bound `target` if its bound is larger.
    fn scale_to(&mut self, e: E, target: f64) -> E {
        if e.b <= target {
            return e;
        }
        let c = down3(target / e.b);
        E {
            s: format!("{} * {}", e.paren(), lit(c)),
            dim: e.dim,
            b: e.b * c,
            vars: e.vars,
            atom: false,
        }
    }

    /// An expression with values at least `margin > 0`.
    fn positive(&mut self, e: E, margin: f64) -> E {
        match self.rng.below(if self.smooth { 2 } else { 3 }) {
            0 => {
                let c = up3(e.b + margin);
                E {
                    s: format!("{} + {}", e.paren(), lit(c)),
                    dim: e.dim,
                    b: e.b + c,
                    vars: e.vars,
                    atom: false,
                }
            }
            1 => {
                let e = self.scale_to(e, 3.0);
                self.use_op("square");
                E {
                    s: format!("square({}) + {}", e.s, lit(margin)),
                    dim: e.dim,
                    b: e.b * e.b + margin,
                    vars: e.vars,
                    atom: false,
                }
            }
            _ => {
                self.use_op("abs");
                E {
                    s: format!("abs({}) + {}", e.s, lit(margin)),
                    dim: e.dim,
                    b: e.b + margin,
                    vars: e.vars,
                    atom: false,
                }
            }
        }
    }

    /// `name(x)` or `x.name()`.
    fn call1(&mut self, name: &str, x: &E) -> String {
        if self.rng.chance(0.3) {
            format!("{}.{name}()", x.paren())
        } else {
            format!("{name}({})", x.s)
        }
    }

    fn finish(&mut self, e: E) -> E {
        self.scale_to(e, MAX_BOUND)
    }

    fn unary(&mut self, dim: u32, depth: u32) -> E {
        let op = loop {
            let op = self.rng.pick(UNARY);
            if self.allowed(op) {
                break op;
            }
        };
        let x = self.expr(dim, depth - 1);
        let (s, b): (String, f64) = match op {
            "neg" => {
                self.use_op("neg");
                (format!("-{}", x.paren()), x.b)
            }
            "abs" | "relu" | "square" | "sign" | "step" | "floor" | "sinxdivx" | "atan"
            | "tanh" | "erf" | "sin" | "cos" => {
                let x = if matches!(op, "sin" | "cos" | "square") {
                    self.scale_to(x, 6.0)
                } else {
                    x
                };
                let b = match op {
                    "abs" | "relu" => x.b,
                    "square" => x.b * x.b,
                    "floor" => x.b + 1.0,
                    "atan" => 1.6,
                    _ => 1.0,
                };
                self.use_op(match op {
                    "abs" => "abs",
                    "relu" => "relu",
                    "square" => "square",
                    "sign" => "sign",
                    "step" => "step",
                    "floor" => "floor",
                    "sinxdivx" => "sinxdivx",
                    "atan" => "atan",
                    "tanh" => "tanh",
                    "erf" => "erf",
                    "sin" => "sin",
                    _ => "cos",
                });
                (self.call1(op, &x), b)
            }
            "round" => {
                self.use_op("round");
                match self.rng.below(3) {
                    0 => (format!("round({})", x.s), x.b + 1.0),
                    1 => (format!("{}.round()", x.paren()), x.b + 1.0),
                    _ => {
                        let d = self.rng.range(1, 2);
                        (format!("round({}, {d})", x.s), x.b + 1.0)
                    }
                }
            }
            "exp" | "sinh" | "cosh" | "expm1" => {
                let x = self.scale_to(x, 2.0);
                self.use_op(match op {
                    "exp" => "exp",
                    "sinh" => "sinh",
                    "cosh" => "cosh",
                    _ => "expm1",
                });
                (self.call1(op, &x), x.b.exp())
            }
            "log" => {
                self.use_op("log");
                let p = self.positive(x, 0.25);
                let name = if self.rng.chance(0.2) { "ln" } else { "log" };
                let s = format!("{name}({})", p.s);
                (s, p.b.ln().abs().max(1.4))
            }
            "sqrt" | "rsqrt" | "inv" => {
                let margin = if op == "sqrt" { 0.1 } else { 0.3 };
                let p = self.positive(x, margin);
                self.use_op(match op {
                    "sqrt" => "sqrt",
                    "rsqrt" => "rsqrt",
                    _ => "inv",
                });
                let b = match op {
                    "sqrt" => p.b.sqrt(),
                    "rsqrt" => 1.0 / margin.sqrt(),
                    _ => 1.0 / margin,
                };
                (self.call1(op, &p), b)
            }
            "xlogx" => {
                self.use_op("xlogx");
                let p = self.positive(x, 0.1);
                (self.call1("xlogx", &p), (p.b * p.b.ln()).abs().max(0.4))
            }
            "asin" | "acos" => {
                self.use_op(if op == "asin" { "asin" } else { "acos" });
                let c = down3(0.9 / x.b.max(0.9));
                let s = format!("{op}({} * {})", x.paren(), lit(c));
                (s, 3.2)
            }
            "log1p" => {
                self.use_op("log1p");
                let c = down3(0.7 / x.b.max(0.7));
                (format!("log1p({} * {})", x.paren(), lit(c)), 1.3)
            }
            "pow" => {
                self.use_op("pow");
                let n: i32 = self.rng.pick(&[2, 3, -1, -2, 0, 1]);
                if n < 0 {
                    let p = self.positive(x, 0.5);
                    let s = if self.rng.chance(0.3) {
                        format!("{}.pow({n})", p.paren())
                    } else {
                        format!("pow({}, {n})", p.s)
                    };
                    (s, 2f64.powi(-n))
                } else {
                    let x = self.scale_to(x, 2.0);
                    let s = if self.rng.chance(0.3) {
                        format!("{}.pow({n})", x.paren())
                    } else {
                        format!("pow({}, {n})", x.s)
                    };
                    (s, x.b.powi(n).max(1.0))
                }
            }
            _ => {
                // powf with a constant exponent.
                self.use_op("powf");
                let p = self.positive(x, 0.3);
                let p = self.scale_to(p, 3.0);
                let y = self.rng.pick(&[0.3, 1.7, 0.5, 2.5]);
                let s = if self.rng.chance(0.3) {
                    format!("{}.powf({})", p.paren(), lit(y))
                } else {
                    format!("powf({}, {})", p.s, lit(y))
                };
                (s, p.b.max(1.0).powf(y).max(0.3f64.powf(-y)))
            }
        };
        let e = E {
            s,
            dim,
            b,
            vars: 0,
            atom: false,
        };
        let vars = self.last_vars(&e);
        let e = E { vars, ..e };
        self.finish(e)
    }

    /// Variables read by an expression's text (exact: names are unique
    /// identifiers `x0`, `x1`, ... and `t0`, ...).
    fn last_vars(&self, e: &E) -> u64 {
        let mut m = 0;
        for (k, v) in self.vars.iter().enumerate() {
            if mentions(&e.s, &v.name) {
                m |= 1 << k;
            }
        }
        for l in &self.lets {
            if let Some(name) = l.s.split_whitespace().next() {
                if mentions(&e.s, name) {
                    m |= l.vars;
                }
            }
        }
        m
    }

    /// Operands of an element-wise binary operation of dimension `dim`
    /// (one of them may be a broadcast scalar).
    fn operands(&mut self, dim: u32, depth: u32) -> (E, E) {
        let (da, db) = if dim > 1 && self.rng.chance(0.3) {
            if self.rng.chance(0.5) {
                (1, dim)
            } else {
                (dim, 1)
            }
        } else {
            (dim, dim)
        };
        (self.expr(da, depth - 1), self.expr(db, depth - 1))
    }

    fn binary(&mut self, dim: u32, depth: u32) -> E {
        let ops: &[&str] = &[
            "+", "+", "-", "-", "*", "*", "/", "%", "mod", "cmp", "max2", "min2", "atan2", "powf",
        ];
        let op = loop {
            let op = self.rng.pick(ops);
            if self.allowed(op) {
                break op;
            }
        };
        let (a, c) = self.operands(dim, depth);
        let (s, b): (String, f64) = match op {
            "+" | "-" => {
                self.use_op(if op == "+" { "+" } else { "-" });
                (format!("{} {op} {}", a.paren(), c.paren()), a.b + c.b)
            }
            "*" => {
                self.use_op("*");
                (format!("{} * {}", a.paren(), c.paren()), a.b * c.b)
            }
            "/" => {
                self.use_op("/");
                let d = self.positive(c, 0.5);
                (format!("{} / ({})", a.paren(), d.s), a.b / 0.5)
            }
            "%" => {
                self.use_op("%");
                // The dividend carries the dimension (`c` is unused).
                let a = if a.dim == dim { a } else { c };
                let n = self.rng.pick(&[0.7, 1.5, 2.0]);
                (format!("{} % {}", a.paren(), lit(n)), n)
            }
            "mod" => {
                self.use_op("mod");
                let n = self.positive(c, 0.5);
                let off = self.rng.pick(&[0.0, 0.25, -0.5]);
                let s = match self.rng.below(3) {
                    0 => format!("modulo({}, {}, {})", a.s, n.s, lit(off)),
                    1 => format!("modulo({}, {})", a.s, n.s),
                    _ => format!("r#mod({}, {})", a.s, n.s),
                };
                (s, n.b + 1.0)
            }
            "cmp" => {
                self.use_op("cmp");
                let o = self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                (format!("({} {o} {})", a.paren(), c.paren()), 1.0)
            }
            "max2" | "min2" => {
                let name = if op == "max2" { "max" } else { "min" };
                self.use_op(if op == "max2" { "max2" } else { "min2" });
                // The method form with an integer argument is the vector max.
                let s = if self.rng.chance(0.3) && c.s.parse::<i64>().is_err() {
                    format!("{}.{name}({})", a.paren(), c.s)
                } else {
                    format!("{name}({}, {})", a.s, c.s)
                };
                (s, a.b.max(c.b))
            }
            "atan2" => {
                self.use_op("atan2");
                if self.smooth || self.rng.chance(0.5) {
                    let d = self.positive(c, 0.25);
                    (format!("atan2({}, {})", a.s, d.s), 1.6)
                } else {
                    (format!("{}.atan2({})", a.paren(), c.s), 3.2)
                }
            }
            _ => {
                self.use_op("powf");
                let base = self.positive(a, 0.3);
                let base = self.scale_to(base, 3.0);
                let ex = self.scale_to(c, 1.5);
                let b = base.b.max(1.0).powf(ex.b) * 0.3f64.powf(-ex.b);
                (format!("powf({}, {})", base.s, ex.s), b)
            }
        };
        let e = E {
            s,
            dim,
            b,
            vars: 0,
            atom: false,
        };
        let vars = self.last_vars(&e);
        self.finish(E { vars, ..e })
    }

    fn ternary(&mut self, dim: u32, depth: u32) -> E {
        let op = self.rng.pick(&["clamp", "clampint", "ifelse"]);
        let x = self.expr(dim, depth - 1);
        let (s, b) = match op {
            "clamp" => {
                self.use_op("clamp");
                if self.rng.chance(0.7) {
                    let lo = self.rng.pick(&[-0.5, -1.0, 0.0, 0.2]);
                    let hi = lo + self.rng.pick(&[0.5, 1.0, 1.5]);
                    let s = if self.rng.chance(0.3) {
                        format!("{}.clamp({}, {})", x.paren(), lit(lo), lit(hi))
                    } else {
                        format!("clamp({}, {}, {})", x.s, lit(lo), lit(hi))
                    };
                    (s, f64::max(lo.abs(), hi.abs()))
                } else {
                    // Expression bounds: lo = y - c, hi = y + c (lo < hi).
                    let y = self.expr(1, depth - 1);
                    let c = self.rng.pick(&[0.3, 0.8]);
                    let s = format!(
                        "clamp({}, {} - {}, {} + {})",
                        x.s,
                        y.paren(),
                        lit(c),
                        y.paren(),
                        lit(c)
                    );
                    (s, x.b.min(y.b + c))
                }
            }
            "clampint" => {
                self.use_op("clampint");
                let lo = self.rng.pick(&[-2i32, -1, 0]);
                let hi = lo + self.rng.pick(&[1i32, 2, 3]);
                let x = self.scale_to(x, 4.0);
                (
                    format!("clampint({} * 1.5, {lo}, {hi})", x.paren()),
                    f64::from(lo.abs().max(hi.abs())),
                )
            }
            _ => {
                self.use_op("ifelse");
                let (a, c) = self.operands(dim, depth);
                let s = if self.rng.chance(0.3) {
                    format!("{}.ifelse({}, {})", x.paren(), a.s, c.s)
                } else {
                    format!("ifelse({}, {}, {})", x.s, a.s, c.s)
                };
                (s, a.b.max(c.b))
            }
        };
        let e = E {
            s,
            dim,
            b,
            vars: 0,
            atom: true,
        };
        let vars = self.last_vars(&e);
        self.finish(E { vars, ..e })
    }

    /// A scalar from vector operations.
    fn scalar_vec(&mut self, depth: u32) -> E {
        let k = self.rng.range(1, 5);
        let ops: &[&str] = &[
            "sqnorm2",
            "norm2",
            "norm",
            "dot",
            "sqdist",
            "wsqnorm",
            "wsqdist",
            "sum_vec",
            "max_vec",
            "min_vec",
            "argmax_vec",
            "argmin_vec",
            "tensordot_full",
        ];
        let op = loop {
            let op = self.rng.pick(ops);
            if self.allowed(op) {
                break op;
            }
        };
        let (s, b) = match op {
            "sqnorm2" | "norm2" | "norm" => {
                let x = self.expr(k, depth - 1);
                let x = self.scale_to(x, 3.0);
                self.use_op(match op {
                    "sqnorm2" => "sqnorm2",
                    "norm2" => "norm2",
                    _ => "norm",
                });
                if op == "sqnorm2" {
                    (self.call1("sqnorm2", &x), f64::from(k) * x.b * x.b)
                } else {
                    // Away from 0 (the norm is not differentiable there).
                    let c = self.constant();
                    let y = if self.smooth || self.rng.chance(0.5) {
                        self.concat2(x.clone(), c)
                    } else {
                        x.clone()
                    };
                    let s = if op == "norm" && self.rng.chance(0.5) {
                        format!("{}.norm(2)", y.paren())
                    } else {
                        self.call1(op, &y)
                    };
                    (s, f64::from(k + 1).sqrt() * x.b.max(3.0))
                }
            }
            "dot" => {
                self.use_op("dot");
                let (a, c) = self.operands(k, depth);
                let a = self.scale_to(a, 3.0);
                let c = self.scale_to(c, 3.0);
                (format!("({} | {})", a.s, c.s), f64::from(k) * a.b * c.b)
            }
            "sqdist" => {
                self.use_op("sqdist");
                let a = self.expr(k, depth - 1);
                let c = self.expr(k, depth - 1);
                let a = self.scale_to(a, 2.0);
                let c = self.scale_to(c, 2.0);
                let s = if self.rng.chance(0.3) {
                    format!("{}.sqdist({})", a.paren(), c.s)
                } else {
                    format!("sqdist({}, {})", a.s, c.s)
                };
                (s, f64::from(k) * (a.b + c.b).powi(2))
            }
            "wsqnorm" | "wsqdist" => {
                let ds = if k <= 3 {
                    self.rng.pick(&[1, k, k * k])
                } else {
                    self.rng.pick(&[1, k])
                };
                let sw = self.expr(ds, depth - 1);
                let sw = self.scale_to(sw, 2.0);
                let x = self.expr(k, depth - 1);
                let x = self.scale_to(x, 2.0);
                if op == "wsqnorm" {
                    self.use_op("weightedsqnorm");
                    let s = if self.rng.chance(0.3) {
                        format!("{}.weightedsqnorm({})", x.paren(), sw.s)
                    } else {
                        format!("weightedsqnorm({}, {})", sw.s, x.s)
                    };
                    (s, f64::from(k * k) * sw.b * x.b * x.b)
                } else {
                    self.use_op("weightedsqdist");
                    let y = self.expr(k, depth - 1);
                    let y = self.scale_to(y, 2.0);
                    let s = if self.rng.chance(0.3) {
                        format!("{}.weightedsqdist({}, {})", x.paren(), y.s, sw.s)
                    } else {
                        format!("weightedsqdist({}, {}, {})", sw.s, x.s, y.s)
                    };
                    (s, f64::from(k * k) * sw.b * (x.b + y.b).powi(2))
                }
            }
            "sum_vec" => {
                self.use_op("sum_vec");
                let x = self.expr(k, depth - 1);
                let s = match self.rng.below(4) {
                    0 => format!("sum({})", x.s),
                    1 => format!("{}.sum()", x.paren()),
                    2 => format!("{}.sum(2)", x.paren()),
                    _ => format!("{}.sum(-1)", x.paren()),
                };
                (s, f64::from(k) * x.b)
            }
            "max_vec" | "min_vec" => {
                let name = if op == "max_vec" { "max" } else { "min" };
                self.use_op(if op == "max_vec" {
                    "max_vec"
                } else {
                    "min_vec"
                });
                let x = self.expr(k, depth - 1);
                let s = match self.rng.below(3) {
                    0 => format!("{name}({})", x.s),
                    1 => format!("{}.{name}()", x.paren()),
                    _ => format!("{}.{name}(2)", x.paren()),
                };
                (s, x.b)
            }
            "argmax_vec" | "argmin_vec" => {
                let name = if op == "argmax_vec" {
                    "argmax"
                } else {
                    "argmin"
                };
                self.use_op(if op == "argmax_vec" {
                    "argmax_vec"
                } else {
                    "argmin_vec"
                });
                let x = self.expr(k, depth - 1);
                let s = match self.rng.below(3) {
                    0 => format!("{name}({})", x.s),
                    1 => format!("{}.{name}()", x.paren()),
                    _ => format!("{}.{name}(-1)", x.paren()),
                };
                (s, f64::from(k))
            }
            _ => {
                self.use_op("keops_tensordot");
                let p = self.rng.range(1, 3);
                let q = self.rng.range(1, 2);
                let a = self.expr(p * q, depth - 1);
                let c = self.expr(p * q, depth - 1);
                let a = self.scale_to(a, 2.0);
                let c = self.scale_to(c, 2.0);
                (
                    format!(
                        "keops_tensordot({}, {}, [{p}, {q}], [{p}, {q}], [0, 1], [0, 1])",
                        a.s, c.s
                    ),
                    f64::from(p * q) * a.b * c.b,
                )
            }
        };
        let e = E {
            s,
            dim: 1,
            b,
            vars: 0,
            atom: true,
        };
        let vars = self.last_vars(&e);
        self.finish(E { vars, ..e })
    }

    /// A vector of dimension `dim > 1` from vector operations.
    fn vector(&mut self, dim: u32, depth: u32) -> E {
        let ops: &[&str] = &[
            "normalize",
            "concat",
            "cat3",
            "matvecmult",
            "vecmatmult",
            "tensorprod",
            "tensordot",
            "tensordot_outer",
            "one_hot",
            "slice_of",
        ];
        let op = loop {
            let op = self.rng.pick(ops);
            if self.allowed(op) && (op != "cat3" || dim >= 3) {
                break op;
            }
        };
        let divisors: Vec<u32> = (1..=dim).filter(|d| dim.is_multiple_of(*d)).collect();
        let (s, b) = match op {
            "normalize" => {
                self.use_op("normalize");
                // Away from 0 (normalize(0) = 0 is a convention, and not
                // differentiable).
                let x = if self.smooth || self.rng.chance(0.5) {
                    let x = self.expr(dim - 1, depth - 1);
                    let c = self.constant();
                    self.concat2(x, c)
                } else {
                    self.expr(dim, depth - 1)
                };
                (self.call1("normalize", &x), 1.0)
            }
            "concat" => {
                let d1 = self.rng.range(1, dim - 1);
                let a = self.expr(d1, depth - 1);
                let c = self.expr(dim - d1, depth - 1);
                let e = self.concat2(a, c);
                (e.s, e.b)
            }
            "cat3" => {
                self.use_op("concat");
                let d1 = self.rng.range(1, dim - 2);
                let d2 = self.rng.range(1, dim - d1 - 1);
                let a = self.expr(d1, depth - 1);
                let c = self.expr(d2, depth - 1);
                let d = self.expr(dim - d1 - d2, depth - 1);
                let b = a.b.max(c.b).max(d.b);
                if self.rng.chance(0.5) {
                    (format!("cat({}, {}, {})", a.s, c.s, d.s), b)
                } else {
                    (format!("concatenate([{}, {}, {}])", a.s, c.s, d.s), b)
                }
            }
            "matvecmult" | "vecmatmult" => {
                let k = self.rng.range(1, 3);
                let a = self.expr(dim * k, depth - 1);
                let v = self.expr(k, depth - 1);
                let a = self.scale_to(a, 2.0);
                let v = self.scale_to(v, 2.0);
                let b = f64::from(k) * a.b * v.b;
                if op == "matvecmult" {
                    self.use_op("matvecmult");
                    if self.rng.chance(0.3) {
                        (format!("{}.matvecmult({})", a.paren(), v.s), b)
                    } else {
                        (format!("matvecmult({}, {})", a.s, v.s), b)
                    }
                } else {
                    self.use_op("vecmatmult");
                    if self.rng.chance(0.3) {
                        (format!("{}.vecmatmult({})", v.paren(), a.s), b)
                    } else {
                        (format!("vecmatmult({}, {})", v.s, a.s), b)
                    }
                }
            }
            "tensorprod" | "tensordot_outer" => {
                let d1 = self.rng.pick(&divisors);
                let d2 = dim / d1;
                let a = self.expr(d1, depth - 1);
                let c = self.expr(d2, depth - 1);
                let a = self.scale_to(a, 3.0);
                let c = self.scale_to(c, 3.0);
                let b = a.b * c.b;
                if op == "tensorprod" {
                    self.use_op("tensorprod");
                    if self.rng.chance(0.3) {
                        (format!("{}.tensorprod({})", a.paren(), c.s), b)
                    } else {
                        (format!("tensorprod({}, {})", a.s, c.s), b)
                    }
                } else {
                    self.use_op("keops_tensordot");
                    (
                        format!("keops_tensordot({}, {}, [{d1}], [{d2}], [], [])", a.s, c.s),
                        b,
                    )
                }
            }
            "tensordot" => {
                // a (p x q) . b (q x r), contracting a's axis 1 with b's axis 0.
                self.use_op("keops_tensordot");
                let p = self.rng.pick(&divisors);
                let r = dim / p;
                let q = self.rng.range(1, 2);
                let a = self.expr(p * q, depth - 1);
                let c = self.expr(q * r, depth - 1);
                let a = self.scale_to(a, 2.0);
                let c = self.scale_to(c, 2.0);
                let perm = if self.rng.chance(0.4) { ", [1, 0]" } else { "" };
                (
                    format!(
                        "keops_tensordot({}, {}, [{p}, {q}], [{q}, {r}], [1], [0]{perm})",
                        a.s, c.s
                    ),
                    f64::from(q) * a.b * c.b,
                )
            }
            "one_hot" => {
                self.use_op("one_hot");
                let x = self.expr(1, depth - 1);
                // Map the bound [-b, b] onto [-0.5, dim - 0.5].
                let c = down3(f64::from(dim) / (2.0 * x.b.max(0.1)));
                let o = lit(f64::from(dim) / 2.0 - 0.5);
                if self.rng.chance(0.3) {
                    (
                        format!("({} * {} + {o}).one_hot({dim})", x.paren(), lit(c)),
                        1.0,
                    )
                } else {
                    (
                        format!("one_hot({} * {} + {o}, {dim})", x.paren(), lit(c)),
                        1.0,
                    )
                }
            }
            _ => {
                let big = (dim + self.rng.range(1, 3)).min(MAX_DIM);
                if big == dim {
                    return self.expr(dim, depth - 1);
                }
                let x = self.expr(big, depth - 1);
                let e = self.slice(x, dim);
                (e.s, e.b)
            }
        };
        let e = E {
            s,
            dim,
            b,
            vars: 0,
            atom: true,
        };
        let vars = self.last_vars(&e);
        self.finish(E { vars, ..e })
    }

    /// `grad(f, v, e)` of dimension `dim`, if a variable of that dimension
    /// exists.
    fn grad(&mut self, dim: u32, depth: u32) -> Option<E> {
        let cands: Vec<usize> = (0..self.vars.len())
            .filter(|&k| self.vars[k].dim == dim)
            .collect();
        if cands.is_empty() {
            return None;
        }
        let k = cands[self.rng.below(cands.len())];
        let v = self.vars[k].name.clone();
        self.grads_left -= 1;
        self.use_op("grad");
        let df = self.rng.range(1, 3);
        let f = self.expr(df, depth - 1);
        // Make sure that f depends on v (smoothly).
        let c = self.rng.range(0, self.vars[k].dim - 1);
        let vk = if self.vars[k].dim == 1 {
            v.clone()
        } else {
            format!("{v}[{c}]")
        };
        let g = self.rng.pick(&["sin", "cos", "exp", "tanh"]);
        let arg = if g == "exp" {
            format!("{vk} * 0.5")
        } else {
            vk
        };
        let f = format!("{} * {g}({arg})", f.paren());
        let e = self.expr(df, depth - 1);
        let e = self.scale_to(e, 2.0);
        let s = format!("grad({f}, {v}, {})", e.s);
        let e = E {
            s,
            dim,
            b: 40.0,
            vars: 0,
            atom: true,
        };
        let vars = self.last_vars(&e);
        Some(self.finish(E { vars, ..e }))
    }

    fn expr(&mut self, dim: u32, depth: u32) -> E {
        if depth == 0 || self.budget <= 0 {
            return self.leaf(dim);
        }
        let r = self.rng.f64();
        if r < 0.12 {
            self.leaf(dim)
        } else if r < 0.42 {
            self.unary(dim, depth)
        } else if r < 0.67 {
            self.binary(dim, depth)
        } else if r < 0.74 && !self.smooth {
            self.ternary(dim, depth)
        } else if r < 0.76 && self.grads_left > 0 {
            match self.grad(dim, depth) {
                Some(e) => e,
                None => self.unary(dim, depth),
            }
        } else if dim == 1 {
            self.scalar_vec(depth)
        } else if self.rng.chance(0.25) {
            // A broadcast scalar from vector operations.
            let a = self.expr(dim, depth - 1);
            let c = self.scalar_vec(depth);
            self.use_op("*");
            let e = E {
                s: format!("{} * {}", a.paren(), c.paren()),
                dim,
                b: a.b * c.b,
                vars: a.vars | c.vars,
                atom: false,
            };
            self.finish(e)
        } else {
            self.vector(dim, depth)
        }
    }
}

/// Whether `s` mentions the identifier `name` (as a whole word).
fn mentions(s: &str, name: &str) -> bool {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find(name) {
        let start = from + p;
        let end = start + name.len();
        let before = start == 0 || !is_ident(bytes[start - 1]);
        let after = end == bytes.len() || !is_ident(bytes[end]);
        if before && after {
            return true;
        }
        from = end;
    }
    false
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The reduction call around `f` (and a weight `w`).
fn reduction(rng: &mut Rng, red: Red, axis: Cat, f: &E, w: Option<&E>, k: u32) -> String {
    let sfx = if axis == Cat::I { "_i" } else { "_j" };
    let ax = if axis == Cat::I { 0 } else { 1 };
    let name = red.name();
    let method = rng.chance(0.35);
    let fr = f.paren();
    match red {
        Red::Sum => match rng.below(4) {
            0 => format!("{fr}.sum({ax})"),
            1 => format!("{fr}.sum(axis = {ax})"),
            _ => format!("sum{sfx}({})", f.s),
        },
        Red::LogSumExpWeight => {
            let w = w.expect("weight");
            match rng.below(3) {
                0 => format!("{fr}.logsumexp_weight({}, {ax})", w.s),
                1 => format!("{fr}.logsumexp(axis = {ax}, weight = {})", w.s),
                _ => format!("logsumexp{sfx}({}, {})", f.s, w.s),
            }
        }
        Red::SumSoftmaxWeight => {
            let w = w.expect("weight");
            if method {
                format!("{fr}.sumsoftmaxweight({}, {ax})", w.s)
            } else {
                format!("sumsoftmaxweight{sfx}({}, {})", f.s, w.s)
            }
        }
        Red::KMin | Red::ArgKMin | Red::KMinArgKMin => {
            if method && red == Red::ArgKMin && rng.chance(0.5) {
                format!("{fr}.argKmin(K = {k}, axis = {ax})")
            } else if method {
                format!("{fr}.{name}({k}, {ax})")
            } else {
                format!("{name}{sfx}({}, {k})", f.s)
            }
        }
        _ => {
            if method {
                format!("{fr}.{name}({ax})")
            } else {
                format!("{name}{sfx}({})", f.s)
            }
        }
    }
}

/// Generates formula `id` of the run with seed `seed`.
pub fn formula(seed: u64, id: usize) -> Formula {
    formula_attempt(seed, id, 0)
}

/// Formula `id` of the run, drawn again (`attempt > 0`) when `build.rs`
/// found that an earlier draw does not compile (a generator bug or a
/// compiler bug, reported as a build warning; the unit tests require
/// attempt 0 to compile for a range of seeds).
pub fn formula_attempt(seed: u64, id: usize, attempt: u32) -> Formula {
    let mut rng =
        Rng::new(formula_seed(seed, id) ^ u64::from(attempt).wrapping_mul(0xa076_1d64_78bd_642f));
    // Reductions in turn (every one in every run of 13 formulas or more),
    // axes and the rest at random.
    let red = Red::ALL[(id + (seed % 13) as usize) % Red::ALL.len()];
    let axis = if rng.chance(0.5) { Cat::I } else { Cat::J };
    let gradient = red.differentiable() && rng.chance(0.3);
    let range = *[
        (-1.0, 1.0),
        (-1.0, 1.0),
        (-2.0, 2.0),
        (0.0, 1.0),
        (-0.5, 1.5),
    ]
    .get(rng.below(5))
    .unwrap();
    let nvars = rng.range(2, if gradient { 4 } else { 5 }) as usize;
    let mut cats = vec![Cat::I, Cat::J];
    while cats.len() < nvars {
        cats.push(rng.pick(&[Cat::I, Cat::J, Cat::P]));
    }
    // Shuffle the declaration order.
    for k in (1..cats.len()).rev() {
        let j = rng.below(k + 1);
        cats.swap(k, j);
    }
    let vars: Vec<Var> = cats
        .iter()
        .enumerate()
        .map(|(k, &cat)| Var {
            name: format!("x{k}"),
            cat,
            dim: rng.pick(&[1, 1, 2, 3, 3, 4, 5, 6]),
        })
        .collect();
    let smooth = gradient && red.selects();
    let b_in = f64::max(f64::abs(range.0), f64::abs(range.1));
    let mut g = Gen {
        rng: &mut rng,
        vars,
        lets: Vec::new(),
        smooth,
        b_in,
        budget: 0,
        grads_left: 1,
        ops: BTreeSet::new(),
    };
    let depth = g.rng.range(2, 5);
    // `let` bindings.
    let nlets = if g.rng.chance(0.25) {
        g.rng.range(1, 2)
    } else {
        0
    };
    let mut body = String::new();
    for t in 0..nlets {
        g.budget = 6;
        let d = g.rng.range(1, 4);
        let e = g.expr(d, depth.min(3));
        let name = format!("t{t}");
        let _ = write!(body, "let {name} = {}; ", e.s);
        g.ops.insert("let");
        g.lets.push(E {
            s: name,
            dim: e.dim,
            b: e.b,
            vars: e.vars,
            atom: true,
        });
    }
    g.budget = g.rng.range(6, 14) as i32;
    let fdim = if red == Red::LogSumExpWeight || red == Red::SumSoftmaxWeight {
        1
    } else {
        g.rng.pick(&[1, 1, 1, 2, 3])
    };
    let mut f = g.expr(fdim, depth);
    // Selections whose gradients are checked depend on the reduced
    // variables (otherwise every index ties, and the kernel may pick
    // another one than the reference, with another gradient).
    let reduced: Vec<usize> = (0..g.vars.len())
        .filter(|&k| g.vars[k].cat == axis)
        .collect();
    if smooth && !reduced.iter().any(|&k| f.vars & (1 << k) != 0) {
        let k = reduced[g.rng.below(reduced.len())];
        let v = g.vars[k].clone();
        let c = g.rng.range(0, v.dim - 1);
        f = E {
            s: format!("{} + {}[{c}] * 0.37", f.paren(), v.name),
            dim: f.dim,
            b: f.b + 0.37 * b_in,
            vars: f.vars | (1 << k),
            atom: false,
        };
    }
    // Most formulas mix both indices: add a term in the reduced variables
    // when there is none.
    if !smooth && g.rng.chance(0.8) && !reduced.iter().any(|&k| f.vars & (1 << k) != 0) {
        let k = reduced[g.rng.below(reduced.len())];
        let d = if g.vars[k].dim >= f.dim && g.rng.chance(0.5) {
            f.dim
        } else {
            1
        };
        let leaf = E {
            s: g.vars[k].name.clone(),
            dim: g.vars[k].dim,
            b: b_in,
            vars: 1 << k,
            atom: true,
        };
        let v = g.slice(leaf, d);
        let op = g.rng.pick(&["+", "-", "*"]);
        f = E {
            s: format!("{} {op} {}", f.paren(), v.s),
            dim: f.dim,
            b: if op == "*" { f.b * b_in } else { f.b + b_in },
            vars: f.vars | (1 << k),
            atom: false,
        };
    }
    let kk = g.rng.range(1, 6);
    let w = match red {
        Red::LogSumExpWeight => {
            let wd = g.rng.range(1, 3);
            g.budget = 4;
            let w = g.expr(wd, 2);
            // A positive weight.
            let w = if g.rng.chance(0.5) {
                let w = g.scale_to(w, 2.0);
                g.ops.insert("exp");
                E {
                    s: format!("exp({})", w.s),
                    ..w
                }
            } else {
                g.positive(w, 0.1)
            };
            // The formula is scalar or of the weight's dimension.
            if wd > 1 && g.rng.chance(0.5) {
                g.budget = 6;
                f = g.expr(wd, depth);
            }
            Some(w)
        }
        Red::SumSoftmaxWeight => {
            let wd = g.rng.range(1, 3);
            g.budget = 4;
            let w = g.expr(wd, 2);
            if wd > 1 && g.rng.chance(0.5) {
                g.budget = 6;
                f = g.expr(wd, depth);
            }
            Some(w)
        }
        _ => None,
    };
    let mut ops = std::mem::take(&mut g.ops);
    let vars = g.vars.clone();
    drop(g);
    ops.insert(red.name());
    ops.insert(if axis == Cat::I {
        "reduction over i"
    } else {
        "reduction over j"
    });
    let red_s = reduction(&mut rng, red, axis, &f, w.as_ref(), kk);
    if nlets > 0 {
        body = format!("{{ {body}{red_s} }}");
    } else {
        body = red_s;
    }
    let grads: Vec<String> = if gradient {
        let mut v: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
        // Up to three of them.
        while v.len() > 3 {
            v.remove(rng.below(v.len()));
        }
        v
    } else {
        Vec::new()
    };
    if gradient {
        ops.insert("grad_kernels");
    }
    let sim = rng.chance(0.5);
    Formula {
        id,
        vars,
        body,
        grad_order: u32::from(gradient),
        grads,
        red,
        range,
        sim,
        ops,
    }
}

/// The formulas of a run.
pub fn generate(seed: u64, count: usize) -> Vec<Formula> {
    (0..count).map(|id| formula(seed, id)).collect()
}

/// Every operation name the generator can record (coverage checks).
pub const COVERAGE: &[&str] = &[
    "neg",
    "abs",
    "exp",
    "log",
    "sin",
    "cos",
    "sqrt",
    "rsqrt",
    "pow",
    "powf",
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
    "atan2",
    "tanh",
    "sinh",
    "cosh",
    "erf",
    "log1p",
    "expm1",
    "floor",
    "round",
    "+",
    "-",
    "*",
    "/",
    "%",
    "mod",
    "cmp",
    "max2",
    "min2",
    "clamp",
    "clampint",
    "ifelse",
    "sqnorm2",
    "norm2",
    "norm",
    "normalize",
    "dot",
    "sqdist",
    "weightedsqnorm",
    "weightedsqdist",
    "elem",
    "extract",
    "slice",
    "one_hot",
    "concat",
    "matvecmult",
    "vecmatmult",
    "tensorprod",
    "keops_tensordot",
    "sum_vec",
    "max_vec",
    "min_vec",
    "argmax_vec",
    "argmin_vec",
    "grad",
    "let",
    "grad_kernels",
    "reduction over i",
    "reduction over j",
];
