//! Run-time errors.

/// Everything that can go wrong when a kernel runs. Shape problems name the
/// variable and the expected shape; nothing in the run-time path panics on
/// bad input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `Vi`/`Vj` input has the wrong number of columns.
    #[error(
        "`{var}`: expected {expected} columns (the declared dimension of `{var}`), found {found}"
    )]
    Columns {
        /// Variable name.
        var: String,
        /// Declared dimension.
        expected: usize,
        /// Columns of the array passed.
        found: usize,
    },
    /// A `Pm` input has the wrong length.
    #[error("`{var}`: expected a parameter of length {expected} (the declared dimension of `{var}`), found {found}")]
    ParamLength {
        /// Variable name.
        var: String,
        /// Declared dimension.
        expected: usize,
        /// Length of the slice passed.
        found: usize,
    },
    /// A `Pm` input with a value per problem of a batch has the wrong length.
    #[error("`{var}`: a value per problem of the batch's {problems} problems needs {problems} x {dim} values, found {found}")]
    ParamLengthPerProblem {
        /// Variable name.
        var: String,
        /// Problems of the batch.
        problems: usize,
        /// Declared dimension.
        dim: usize,
        /// Values passed.
        found: usize,
    },
    /// Two inputs of the same category disagree on the number of rows.
    #[error("`{var}` has {found} rows but `{other}` has {expected}: all {cat} inputs must have the same number of rows")]
    Rows {
        /// Variable name.
        var: String,
        /// Its rows.
        found: usize,
        /// The first variable of the category.
        other: String,
        /// That variable's rows.
        expected: usize,
        /// `"Vi"` or `"Vj"` (or a cotangent's category).
        cat: &'static str,
    },
    /// The CUDA back end was requested but no usable GPU is present.
    #[error("GPU unavailable: {0}")]
    GpuUnavailable(String),
    /// A GPU back end was requested for a kernel without GPU code: the
    /// binary was built without the `cuda` feature, or the kernel's widths
    /// are `const` items or const generics (CPU only for now).
    #[error("no GPU code for this kernel: the binary was built without the `cuda` feature of keops, or the kernel's widths are `const` items or const generics, which run on the CPU back end only")]
    NotCompiledWithCuda,
    /// A CUDA driver call failed.
    #[error("CUDA error in {call}: {message}")]
    Cuda {
        /// The failing operation.
        call: &'static str,
        /// The driver's message.
        message: String,
    },
    /// Device memory allocation failed.
    #[error("out of GPU memory while allocating {bytes} bytes for {what}")]
    OutOfMemory {
        /// Requested size.
        bytes: usize,
        /// What the allocation was for.
        what: String,
    },
    /// The PTX simulator rejected or failed a kernel, or is not compiled in
    /// (`Backend::Simulator` without the `sim` feature).
    #[error("PTX simulator: {0}")]
    Simulator(String),
    /// A device-resident value met the CPU back end, or a device-only
    /// operation was asked of it.
    #[error("{0}")]
    NeedsGpu(String),
    /// A device-resident input lives on another device than the one the
    /// kernel runs on.
    #[error("`{var}` lives on {found}, but the kernel runs on {expected}")]
    WrongDevice {
        /// Variable name.
        var: String,
        /// Where it lives.
        found: String,
        /// Where the kernel runs.
        expected: String,
    },
    /// A combination of inputs and options that is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A size exceeds what the back end supports.
    #[error("problem too large: {0}")]
    TooLarge(String),
    /// An operand of a matrix operation (`matmul`, `solve`, gradients of a
    /// symbolic matrix) has the wrong shape.
    #[error("`{operand}`: expected {expected}, found {found}")]
    Shape {
        /// The operand (`v`, `b`, `u`, `x0`, ...).
        operand: String,
        /// What was expected.
        expected: String,
        /// What was passed.
        found: String,
    },
    /// An iterative solver stopped before reaching its tolerance; carries
    /// what it reached.
    #[error("{method} did not converge: relative residual {residual:e} after {iterations} iterations (tolerance {tolerance:e})")]
    NotConverged {
        /// The solver.
        method: &'static str,
        /// Iterations done.
        iterations: usize,
        /// The largest relative residual `|b - A x| / |b|` over the
        /// right-hand sides, at the last iterate.
        residual: f64,
        /// The tolerance asked for.
        tolerance: f64,
        /// The last iterate (one column per right-hand side).
        last: Box<ndarray::Array2<f64>>,
    },
    /// Invalid block-sparse ranges (see [`crate::ranges`]): the message
    /// names the array and the entry.
    #[error("invalid ranges: {0}")]
    Ranges(String),
    /// A formula given at run time ([`crate::formula::Formula`]) is not
    /// valid: the message and the byte range of the formula text it is
    /// about.
    #[error("formula error at {}..{}: {message}", at.start, at.end)]
    Formula {
        /// Byte range in the formula's text.
        at: std::ops::Range<usize>,
        /// What is wrong.
        message: String,
    },
    /// Two inputs whose widths are declared with the same name have
    /// different widths.
    #[error("`{var}` has width {width} but `{other}` has width {other_width}: both are declared with width `{name}`")]
    Widths {
        /// The width's name in the formula.
        name: String,
        /// The first variable.
        var: String,
        /// Its width.
        width: usize,
        /// The variable that disagrees.
        other: String,
        /// Its width.
        other_width: usize,
    },
    /// An invariant of the generated code did not hold (a bug in keops).
    #[error("internal error (please report): {0}")]
    Internal(String),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
