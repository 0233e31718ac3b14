//! The formula AST that front ends produce and [`crate::front`] turns into
//! the typed IR: a kernel definition (options, declared variables, `let`
//! bindings, body) in the syntax of the `keops!` macro.
//!
//! The AST names source locations by [`SpanId`]s, indices into a table of
//! spans owned by the parser that built it (the `keops!` macro's parser keeps
//! `proc_macro2::Span`s; a parser of strings can keep byte ranges), so that
//! the front end's errors ([`crate::front::FrontError`]) point back into the
//! source without this crate knowing what a span is.

use crate::ir::Cat;
use crate::Options;

/// The dimension a width named by a `const` item or const generic
/// (`Vi<D>`) has right after parsing, before `keops_compiler::widths` gives
/// each class of names its probe widths (the first probe: a valid dimension
/// above the CPU emitter's loop thresholds). [`Param::width`] holds the name.
pub const PARSED_PROBE: u32 = 71;

/// A source location: an index into the span table of the parser that
/// built the AST. Nodes made up by a compiler pass reuse the id of the
/// user's code they stand for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpanId(pub u32);

/// A declared formula parameter: `x: Vi<3>`.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Span of the name.
    pub span: SpanId,
    /// Category.
    pub cat: Cat,
    /// Dimension (for a named width, the probe width the front end is run
    /// with, see `keops_compiler::widths`).
    pub dim: u32,
    /// The width's name when it is a `const` item or a const generic
    /// parameter (`x: Vi<D>`), not a literal.
    pub width: Option<String>,
}

/// A kernel definition: the parsed macro input (`options? |params| body`).
#[derive(Clone, Debug)]
pub struct KernelDef {
    /// Options.
    pub options: Options,
    /// Parameters in declaration order.
    pub params: Vec<Param>,
    /// `let` bindings of a block body, in order.
    pub lets: Vec<(String, SpanId, Ast)>,
    /// The body expression.
    pub body: Ast,
    /// Span of the whole closure (of the whole formula).
    pub span: SpanId,
}

/// Binary operators of the formula language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (modulo, `x - n floor(x / n)`)
    Rem,
    /// `(x | y)` scalar product
    Dot,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl BinOp {
    /// Every operator.
    pub const ALL: [BinOp; 12] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Dot,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
    ];

    /// The operator spelled `s` ([`BinOp::symbol`]).
    pub fn from_symbol(s: &str) -> Option<BinOp> {
        BinOp::ALL.into_iter().find(|o| o.symbol() == s)
    }

    /// Source spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Dot => "|",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
        }
    }
}

/// An index expression `x[k]` or `x[a..b]`.
#[derive(Clone, Debug)]
pub enum IndexKind {
    /// `x[k]`
    Single(i64),
    /// `x[a..b]`, `x[a..=b]`, `x[..b]`, `x[a..]` (end exclusive, `None` = to the end).
    Range(Option<i64>, Option<i64>),
}

/// Formula AST node.
#[derive(Clone, Debug)]
pub enum Ast {
    /// A name (variable or `let` binding).
    Name(String, SpanId),
    /// A numeric literal; `int` is true for integer literals.
    Num {
        /// Value.
        value: f64,
        /// Written as an integer.
        int: bool,
        /// Span.
        span: SpanId,
    },
    /// Function call `f(args)`.
    Call {
        /// Function name.
        func: String,
        /// Span of the function name.
        func_span: SpanId,
        /// Arguments.
        args: Vec<Arg>,
        /// Span of the whole call.
        span: SpanId,
    },
    /// Method call `recv.f(args)`.
    Method {
        /// Receiver.
        recv: Box<Ast>,
        /// Method name.
        method: String,
        /// Span of the method name.
        method_span: SpanId,
        /// Arguments.
        args: Vec<Arg>,
        /// Span of the whole call.
        span: SpanId,
    },
    /// Binary operator.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Ast>,
        /// Right operand.
        rhs: Box<Ast>,
        /// Span of the whole expression.
        span: SpanId,
    },
    /// Unary minus.
    Neg(Box<Ast>, SpanId),
    /// Indexing or slicing.
    Index {
        /// Indexed expression.
        base: Box<Ast>,
        /// Index.
        index: IndexKind,
        /// Span of the whole expression.
        span: SpanId,
    },
    /// A list `[a, b]` or tuple `(a, b)` (argument of `cat`, `keops_tensordot`).
    List(Vec<Ast>, SpanId),
}

/// A call argument, possibly written keyword-style (`axis = 1`).
#[derive(Clone, Debug)]
pub struct Arg {
    /// Keyword, if any.
    pub keyword: Option<(String, SpanId)>,
    /// Value.
    pub value: Ast,
}

impl Ast {
    /// Span of the node.
    pub fn span(&self) -> SpanId {
        match self {
            Ast::Name(_, s) | Ast::Neg(_, s) | Ast::List(_, s) => *s,
            Ast::Num { span, .. }
            | Ast::Call { span, .. }
            | Ast::Method { span, .. }
            | Ast::Binary { span, .. }
            | Ast::Index { span, .. } => *span,
        }
    }

    /// The value when the node is an integer literal (with an optional minus sign).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Ast::Num {
                value, int: true, ..
            } => Some(*value as i64),
            Ast::Neg(inner, _) => inner.as_int().map(i64::saturating_neg),
            _ => None,
        }
    }

    /// The value when the node is a numeric literal (with an optional minus sign).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Ast::Num { value, .. } => Some(*value),
            Ast::Neg(inner, _) => inner.as_number().map(|v| -v),
            _ => None,
        }
    }
}
