//! The `keops!` procedural macro: a thin shell over `keops-compiler`.
//!
//! Parsing, checking, differentiation and code generation all live in
//! `keops-compiler` (and the PTX back end in `keops-gpu-kernels`), ordinary
//! libraries tested without a compiler in the loop. On error, the macro emits
//! the errors and a stub kernel with the declared `call` signature, so that users see
//! the formula's mistakes and not a cascade of type errors.

use proc_macro::TokenStream;

/// See the documentation of `keops::keops!`.
#[proc_macro]
pub fn keops(input: TokenStream) -> TokenStream {
    let src = input.to_string();
    match keops_compiler::compile(input.into()) {
        Ok(c) => {
            let ptx = keops_gpu_kernels::emit_family(&c.family);
            let out = keops_compiler::emit_cpu::expand(&c.family, &ptx, &src);
            if c.def.options.debug {
                eprintln!("keops! expansion of `{src}`:\n{out}");
            }
            out.into()
        }
        Err(f) => keops_compiler::emit_cpu::fallback(&f.error, f.def.as_deref()).into(),
    }
}
