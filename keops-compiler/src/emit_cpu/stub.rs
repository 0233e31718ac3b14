//! The expansion after a failed compilation: the errors and stub kernels
//! with the declared inputs, so that only the formula's mistakes are
//! reported.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::tokens::{grad_method, private, usize_lit, var_ident};
use crate::ir::Cat;

/// The expansion after a failed compilation: the errors, and a stub kernel
/// whose `call` has the declared inputs, so that the user's code around the
/// macro still type-checks and only the formula's mistakes are reported.
pub fn fallback(
    krate: &TokenStream,
    error: &syn::Error,
    def: Option<&crate::parse::KernelDef>,
) -> TokenStream {
    let p = private();
    let err = error.to_compile_error();
    let Some(def) = def else {
        return quote!({ use #krate::__private as __keops; #err; #p::Stub });
    };
    let params: Vec<TokenStream> = def
        .params
        .iter()
        .map(|v| {
            let arg = var_ident(&v.name);
            // A named width is not known here (the stub is not generic):
            // any width, as ndarray inputs accept.
            let dim = usize_lit(if v.width.is_some() { 0 } else { v.dim });
            match v.cat {
                Cat::P => quote!(#arg: impl #p::IntoParam<'a, T, #dim>),
                _ => quote!(#arg: impl #p::IntoRows<'a, T, #dim>),
            }
        })
        .collect();
    let (ret, dev_ret) = stub_output(def);
    let mut grads = Vec::new();
    let mut grad_kernels = Vec::new();
    for (k, v) in def.params.iter().enumerate() {
        let m = grad_method(&v.name);
        let g = format_ident!("__KeopsGradStub{}", k);
        let ret = if v.cat == Cat::P {
            quote!(#p::ndarray::Array1<T>)
        } else {
            quote!(#p::ndarray::Array2<T>)
        };
        grads.push(quote!(pub fn #m(&self) -> #g { #g { opts: self.opts } }));
        grad_kernels.push(stub_kernel(
            &g,
            quote!(#(#params,)* __e: impl #p::IntoRows<'a, T, 0>),
            ret,
            quote!(#p::DeviceRows<T>),
            quote!(),
        ));
    }
    let main = stub_kernel(
        &format_ident!("__KeopsStub"),
        quote!(#(#params),*),
        ret,
        dev_ret,
        quote!(#(#grads)*),
    );
    quote! {
        {
            use #krate::__private as __keops;
            #err;
            #main
            #(#grad_kernels)*
            __KeopsStub { opts: #p::Options::DEFAULT }
        }
    }
}

/// The output types (host, device) of a formula that failed to compile,
/// read off the name of its outermost reduction, so that the user's code
/// around the macro type-checks.
fn stub_output(def: &crate::parse::KernelDef) -> (TokenStream, TokenStream) {
    use crate::parse::Ast;
    let p = private();
    let name = match &def.body {
        Ast::Call { func, .. } => func.as_str(),
        Ast::Method { method, .. } => method.as_str(),
        _ => "",
    };
    let name = name.trim_end_matches("_j").trim_end_matches("_i");
    match name {
        "argmin" | "argmax" | "argkmin" => (
            quote!(#p::ndarray::Array2<usize>),
            quote!(#p::DeviceRows<u64>),
        ),
        "min_argmin" | "max_argmax" | "kmin_argkmin" => (
            quote!((#p::ndarray::Array2<T>, #p::ndarray::Array2<usize>)),
            quote!((#p::DeviceRows<T>, #p::DeviceRows<u64>)),
        ),
        _ => (quote!(#p::ndarray::Array2<T>), quote!(#p::DeviceRows<T>)),
    }
}

/// One stub kernel: the whole kernel API, with bodies that are never run
/// (the expansion also holds a compile error).
fn stub_kernel(
    ident: &Ident,
    params: TokenStream,
    ret: TokenStream,
    dev_ret: TokenStream,
    grads: TokenStream,
) -> TokenStream {
    let p = private();
    quote! {
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub struct #ident { opts: #p::Options }
        #[allow(unused_variables, clippy::all)]
        impl #ident {
            pub fn call<'a, T: #p::Scalar>(&self, #params) -> #p::Result<#ret> {
                ::core::unimplemented!("the formula failed to compile")
            }
            pub fn call_device<'a, T: #p::Scalar<Compute = T> + #p::Real>(&self, #params) -> #p::Result<#dev_ret> {
                ::core::unimplemented!("the formula failed to compile")
            }
            pub fn ptx(&self) -> &'static str { "" }
            pub fn ptx_f64(&self) -> &'static str { "" }
            #grads
        }
        impl #p::Kernel for #ident {
            fn options(&self) -> #p::Options { self.opts }
            fn with_options(self, opts: #p::Options) -> Self { #ident { opts } }
            fn input_names(&self) -> &'static [&'static str] { &[] }
            fn stages(&self) -> &'static [&'static #p::StageInfo] { &[] }
            const __F64_STAGES: &'static [&'static [#p::F64Stage]] = &[];
        }
    }
}
