//! The procedural half of `keops::keops!`: a thin shell over
//! `keops-compiler` (front end, CPU code) and `keops-gpu-kernels` (PTX).
//!
//! Users call the `keops!` macro of the `keops` facade, a `macro_rules!`
//! that forwards here with the facade's path (`$crate`, so a renamed
//! dependency works) and the back ends the facade was built with:
//!
//! ```text
//! __keops_impl!({ $crate } cpu |x: Vi<3>, ...| ...)   // CPU code only
//! __keops_impl!({ $crate } ptx |x: Vi<3>, ...| ...)   // CPU code and PTX (features cuda/sim)
//! ```
//!
//! On error the expansion holds the errors and a stub kernel with the whole
//! kernel API, so that users see the formula's mistakes and nothing else.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::{Delimiter, TokenTree};

/// Expands a formula; see the documentation of `keops::keops!`.
#[doc(hidden)]
#[proc_macro]
pub fn __keops_impl(input: TokenStream) -> TokenStream {
    let mut it = proc_macro2::TokenStream::from(input).into_iter();
    let krate = match it.next() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.stream(),
        _ => return bad_forwarding(),
    };
    let ptx = match it.next() {
        Some(TokenTree::Ident(i)) if i == "ptx" => true,
        Some(TokenTree::Ident(i)) if i == "cpu" => false,
        _ => return bad_forwarding(),
    };
    let formula: proc_macro2::TokenStream = it.collect();
    let src = formula.to_string();
    let out = match keops_compiler::compile(formula) {
        Ok(c) if c.data.is_some() => {
            // Widths from the data: the run-time path behind a typed API.
            let wire = c.data.as_deref().expect("checked");
            keops_compiler::emit_data::expand(&krate, &c.def, &c.family, wire, &src)
        }
        Ok(c) if c.named.is_some() => {
            // Named widths: CPU code generic over them; PTX built at run time.
            let named = c.named.as_deref().expect("checked");
            match keops_compiler::widths::expand(&krate, named, &src, c.spans.get(c.def.span), ptx)
            {
                Ok(out) => {
                    if c.def.options.debug {
                        eprintln!("keops! expansion of `{src}`:\n{out}");
                    }
                    out
                }
                Err(e) => keops_compiler::emit_cpu::fallback(&krate, &e, Some(&c.def)),
            }
        }
        Ok(c) if c.matrix.is_some() => {
            let m = c.matrix.as_deref().expect("checked");
            let ptx: Vec<_> = m
                .parts
                .iter()
                .map(|(part, fam)| {
                    if ptx && part.needs_ptx() {
                        keops_gpu_kernels::emit_family(fam, &c.def.options)
                    } else {
                        Vec::new()
                    }
                })
                .collect();
            let out = keops_compiler::emit_matrix::expand(&krate, m, &ptx, &src);
            if c.def.options.debug {
                eprintln!("keops! expansion of `{src}`:\n{out}");
            }
            out
        }
        Ok(c) => {
            let ptx = if ptx {
                keops_gpu_kernels::emit_family(&c.family, &c.def.options)
            } else {
                Vec::new()
            };
            let out = keops_compiler::emit_cpu::expand(&krate, &c.family, &ptx, &src);
            if c.def.options.debug {
                eprintln!("keops! expansion of `{src}`:\n{out}");
            }
            out
        }
        Err(f) => keops_compiler::emit_cpu::fallback(&krate, &f.error, f.def.as_deref()),
    };
    out.into()
}

fn bad_forwarding() -> TokenStream {
    quote_error("`__keops_impl!` is internal: use `keops::keops!`")
}

fn quote_error(msg: &str) -> TokenStream {
    syn::Error::new(proc_macro2::Span::call_site(), msg)
        .to_compile_error()
        .into()
}
