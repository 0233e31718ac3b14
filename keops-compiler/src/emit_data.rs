//! Kernels whose widths are read from the data (`Vi<_>`): the formula is
//! carried as text (`keops_ir::wire`) and run by the run-time path
//! (`keops::Formula`: the family built at the call's widths, the CPU
//! executor, PTX emitted in-process), behind the typed API of a compiled
//! kernel: `call` with one argument per input, `grad_<var>()`, the `Kernel`
//! options. The macro checks the formula with every `_` width equal to a
//! probe width (so a formula that needs two of them to differ is refused
//! here), and the call checks the widths it gets.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::ast::KernelDef;
use crate::emit_cpu::tokens::{grad_method, private, var_ident};
use crate::ir::Cat;
use crate::stage::{Family, ValueType};

/// The expansion of a kernel with widths from the data; `wire` is its
/// definition (`keops_ir::wire::write`, widths still `_` or named).
/// A formula without a reduction is a symbolic matrix ([`expand_matrix`]).
pub fn expand(
    krate: &TokenStream,
    def: &KernelDef,
    family: &Family,
    wire: &str,
    doc_src: &str,
) -> TokenStream {
    if !crate::front::is_reduction(def) {
        return expand_matrix(krate, def, wire, doc_src);
    }
    let p = private();
    let ident = |k: usize| format_ident!("__KeopsKernel{}", k);
    let mut items = Vec::new();
    for (k, (path, prog)) in family.programs.iter().enumerate() {
        let id = ident(k);
        let args: Vec<_> = prog.inputs.iter().map(|v| var_ident(&v.name)).collect();
        let names: Vec<&str> = prog.inputs.iter().map(|v| v.name.as_str()).collect();
        let (ret, finish) = match family.value_type(prog, prog.output) {
            ValueType::Rows { .. } => (quote!(#p::ndarray::Array2<T>), quote!(into_rows())),
            ValueType::IndexRows { .. } => {
                (quote!(#p::ndarray::Array2<usize>), quote!(into_indices()))
            }
            ValueType::Pair { .. } => (
                quote!((#p::ndarray::Array2<T>, #p::ndarray::Array2<usize>)),
                quote!(into_pair()),
            ),
            ValueType::Vector { .. } => (quote!(#p::ndarray::Array1<T>), quote!(into_vector())),
        };
        let grads: Vec<TokenStream> = family
            .programs
            .iter()
            .enumerate()
            .filter(|(_, (cp, _))| cp.len() == path.len() + 1 && cp[..path.len()] == path[..])
            .map(|(c, (cp, _))| {
                let var = &cp[path.len()];
                let m = grad_method(var);
                let cid = ident(c);
                let doc = format!(
                    "Gradient kernel w.r.t. `{var}`: inputs, then a cotangent shaped like the output."
                );
                quote! {
                    #[doc = #doc]
                    #[inline]
                    pub fn #m(&self) -> #cid {
                        #cid { opts: self.opts }
                    }
                }
            })
            .collect();
        let doc = if path.is_empty() {
            format!("The keops kernel of `{doc_src}` (widths read from the data).")
        } else {
            format!(
                "Gradient kernel `{}`.",
                path.iter()
                    .map(|v| format!("grad_{v}()"))
                    .collect::<Vec<_>>()
                    .join(".")
            )
        };
        let kernel = kernel_impl(&id, &names);
        items.push(quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            #[allow(non_camel_case_types)]
            pub struct #id {
                opts: #p::Options,
            }

            #[automatically_derived]
            #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
            impl #id {
                /// Runs the kernel (`T`: `f32` or `f64`) at the widths of
                /// the inputs.
                pub fn call<T: #p::Real>(&self, #(#args: impl #p::Input<T>),*) -> #p::Result<#ret> {
                    let mut f = __keops_formula()?.clone().with_options(self.opts);
                    for v in [#(#path),*] {
                        f = f.grad(v);
                    }
                    f.call(&[#(&#args as &dyn #p::Input<T>),*])?.#finish
                }

                #(#grads)*
            }

            #kernel
        });
    }
    let first = ident(0);
    let formula = formula_fn(wire);
    quote! {
        {
            use #krate::__private as __keops;
            #formula
            #(#items)*
            #first { opts: #p::Options::DEFAULT }
        }
    }
}

/// `__keops_formula()`: the formula, read once per process.
fn formula_fn(wire: &str) -> TokenStream {
    let p = private();
    quote! {
        fn __keops_formula() -> #p::Result<&'static #p::Formula> {
            static F: ::std::sync::OnceLock<#p::Result<#p::Formula>> = ::std::sync::OnceLock::new();
            F.get_or_init(|| #p::Formula::__from_wire(#wire))
                .as_ref()
                .map_err(|e| #p::Error::Internal(e.to_string()))
        }
    }
}

/// The `Kernel` impl of a type whose stages are built at the call.
fn kernel_impl(id: &Ident, names: &[&str]) -> TokenStream {
    let p = private();
    quote! {
        #[automatically_derived]
        impl #p::Kernel for #id {
            #[inline]
            fn options(&self) -> #p::Options {
                self.opts
            }
            #[inline]
            fn with_options(self, opts: #p::Options) -> Self {
                #id { opts }
            }
            fn input_names(&self) -> &'static [&'static str] {
                &[#(#names),*]
            }
            /// Built at the widths of each call: none before.
            fn stages(&self) -> &'static [&'static #p::StageInfo] {
                &[]
            }
            const __F64_STAGES: &'static [&'static [#p::F64Stage]] = &[];
        }
    }
}

/// A symbolic matrix with widths from the data: `bind` gives a
/// `BoundMatrix` over the run-time formulas of its products
/// (`keops::formula::MatrixFormula`).
pub fn expand_matrix(
    krate: &TokenStream,
    def: &KernelDef,
    wire: &str,
    doc_src: &str,
) -> TokenStream {
    let p = private();
    let id = format_ident!("__KeopsMatrix");
    let mut params = Vec::new();
    let mut vals = Vec::new();
    for v in &def.params {
        let arg = var_ident(&v.name);
        let nm = &v.name;
        match v.cat {
            Cat::P => {
                params.push(quote!(#arg: impl #p::Input<T>));
                vals.push(quote!(#p::Formula::__param_input::<T>(&#arg, #nm)?));
            }
            cat => {
                let cat = if cat == Cat::I {
                    quote!(#p::Cat::I)
                } else {
                    quote!(#p::Cat::J)
                };
                params.push(quote!(#arg: impl #p::IntoRowsDyn<'a, T>));
                vals.push(quote!(#p::Formula::__rows_input(#p::IntoRowsDyn::into_rows_dyn(#arg), #nm, #cat)?));
            }
        }
    }
    let names: Vec<&str> = def.params.iter().map(|v| v.name.as_str()).collect();
    let doc = format!(
        "The symbolic matrix `{doc_src}` (widths read from the data): `bind` its inputs to get a `BoundMatrix` (`matmul`, `t`, `solve`, gradients)."
    );
    let formula = formula_fn(wire);
    let kernel = kernel_impl(&id, &names);
    quote! {
        {
            use #krate::__private as __keops;
            #formula

            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            pub struct #id {
                opts: #p::Options,
            }

            #[automatically_derived]
            #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
            impl #id {
                /// Binds the inputs (views of the rows, no copies; the
                /// parameters are copied, so a temporary such as `&[g]` may
                /// be passed): the M × N matrix `K_ij` as a linear
                /// operator. Widths are read from the inputs and checked; a
                /// mismatch is an `Err` naming the variables.
                pub fn bind<'a, T: #p::Real + #p::Scalar<Compute = T>>(&self, #(#params),*) -> #p::Result<#p::matrix::BoundMatrix<'a, T, #p::MatrixFormula>> {
                    let __vals = ::std::vec![#(#vals),*];
                    __keops_formula()?.clone().with_options(self.opts).__bind_values(__vals)
                }
            }

            #kernel

            #id { opts: #p::Options::DEFAULT }
        }
    }
}
