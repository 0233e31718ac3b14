//! The expansion of a kernel family: the stage structs, and per program a
//! kernel struct with its typed `call`, `call_device`, gradient accessors
//! and `Kernel` impl.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::cpu_stage::{exact_tokens, stage_tokens};
use super::tokens::{cat_tokens, grad_method, private, usize_lit, var_ident, Generics};
use crate::ir::Cat;
use crate::lower::lower_looped;
use crate::stage::{Family, Program, StagePtx, Step, Value, ValueType, VarKind};

/// Tokens of the whole expansion: stage structs, kernel structs, and the
/// forward kernel value.
///
/// `krate` is the path of the `keops` facade (`$crate` when called through
/// `keops::keops!`); `ptx` is empty when no GPU back end is compiled in.
pub fn expand(
    krate: &TokenStream,
    family: &Family,
    ptx: &[StagePtx],
    doc_src: &str,
) -> TokenStream {
    expand_generic(krate, family, ptx, doc_src, &Generics::default())
}

/// [`expand`] with items generic over the widths in `generics` (see
/// `crate::widths`): no dot-product form (its feature lists would have the
/// width's length), and the forward kernel value instantiated with
/// `generics.args` after `generics.checks`.
pub fn expand_generic(
    krate: &TokenStream,
    family: &Family,
    ptx: &[StagePtx],
    doc_src: &str,
    generics: &Generics,
) -> TokenStream {
    let p = private();
    let items = expand_items(family, ptx, doc_src, generics);
    let first = format_ident!("__KeopsKernel0");
    let (checks, inst) = (&generics.checks, generics.instance());
    quote! {
        {
            use #krate::__private as __keops;
            #items
            #checks
            #first #inst { opts: #p::Options::DEFAULT }
        }
    }
}

/// The items of an expansion (stage structs, kernel structs), without the
/// forward kernel value; every path starts with `__keops` (the runtime
/// interface, imported by the enclosing block).
pub fn expand_items(
    family: &Family,
    ptx: &[StagePtx],
    doc_src: &str,
    generics: &Generics,
) -> TokenStream {
    let p = private();
    let args = generics.use_args();
    let mut items = Vec::new();
    let stage_idents: Vec<Ident> = (0..family.stages.len())
        .map(|k| format_ident!("__KeopsStage{}", k))
        .collect();
    for (k, st) in family.stages.iter().enumerate() {
        let exact = lower_looped(st);
        let dot = if generics.is_generic() {
            None
        } else {
            crate::lower::lower_dot_form(st)
        };
        let name = format!(
            "stage{k}: {}_{}",
            st.red.name(),
            if st.axis == Cat::J { "j" } else { "i" }
        );
        let empty = StagePtx::default();
        items.push(stage_tokens(
            &stage_idents[k],
            &name,
            dot.as_ref().unwrap_or(&exact),
            ptx.get(k).unwrap_or(&empty),
            dot.as_ref().map(|_| exact_tokens(&exact)),
            generics,
        ));
    }
    // The f64 code of the family's stages, named only by the kernels'
    // `__F64_STAGES` (rustc generates it only where `f64_accumulation` reads
    // that constant). A `const` item cannot be generic: generic kernels
    // write the list in their own constant.
    let f64_list = quote!(&[#(#p::F64Stage::of::<#stage_idents #args>()),*]);
    let f64_stages = if generics.is_generic() {
        f64_list
    } else {
        items.push(quote! {
            pub const __KEOPS_F64: &[#p::F64Stage] = #f64_list;
        });
        quote!(__KEOPS_F64)
    };
    let kernel_ident = |k: usize| format_ident!("__KeopsKernel{}", k);
    for (k, (path, prog)) in family.programs.iter().enumerate() {
        let ident = kernel_ident(k);
        // Children: programs whose path extends this one by one name.
        let mut grads = Vec::new();
        let has_child = |var: &str| {
            family.programs.iter().any(|(cp, _)| {
                cp.len() == path.len() + 1 && cp[..path.len()] == path[..] && cp[path.len()] == var
            })
        };
        for v in prog.inputs.iter().filter(|v| !has_child(&v.name)) {
            // Gradients past the emitted order: a method that names the fix.
            let m = grad_method(&v.name);
            let note = format!(
                "not emitted: write `keops!(grad_order = {}, ...)`",
                path.len() + 1
            );
            grads.push(quote! {
                #[deprecated(note = #note)]
                pub fn #m(&self) -> #p::GradientNotEmitted {
                    #p::GradientNotEmitted
                }
            });
        }
        for (c, (cpath, _)) in family.programs.iter().enumerate() {
            if cpath.len() == path.len() + 1 && cpath[..path.len()] == path[..] {
                let var = &cpath[path.len()];
                let m = grad_method(var);
                let cid = kernel_ident(c);
                let doc = format!(
                    "Gradient kernel w.r.t. `{var}`: inputs, then a cotangent shaped like the output."
                );
                grads.push(quote! {
                    #[doc = #doc]
                    #[inline]
                    pub fn #m(&self) -> #cid #args {
                        #cid #args { opts: self.opts }
                    }
                });
            }
        }
        items.push(program_tokens(
            family,
            prog,
            &ident,
            path,
            &stage_idents,
            grads,
            doc_src,
            generics,
            &f64_stages,
        ));
    }
    quote!(#(#items)*)
}

fn program_tokens(
    family: &Family,
    prog: &Program,
    ident: &Ident,
    path: &[String],
    stage_idents: &[Ident],
    grads: Vec<TokenStream>,
    doc_src: &str,
    generics: &Generics,
    f64_stages: &TokenStream,
) -> TokenStream {
    let p = private();
    let (decl, targs) = (generics.decl(), generics.use_args());
    // Arguments of `call`.
    let mut params = Vec::new();
    let mut conv = Vec::new();
    for (k, v) in prog.inputs.iter().enumerate() {
        let arg = var_ident(&v.name);
        let a = format_ident!("__a{}", k);
        let name = &v.name;
        let dim = usize_lit(v.dim);
        let cat = cat_tokens(v.cat);
        match (v.cat, v.kind) {
            (Cat::P, _) => {
                params.push(quote!(#arg: impl #p::IntoParam<'a, T, #dim>));
                conv.push(quote!(let #a = #p::Val::<T::Compute>::from_param(#p::IntoParam::into_param(#arg), #name, #dim)?;));
            }
            (_, VarKind::Real) => {
                params.push(quote!(#arg: impl #p::IntoRows<'a, T, #dim>));
                conv.push(quote!(let #a = #p::Val::<T::Compute>::from_rows(#p::IntoRows::into_rows(#arg), #name, #cat, #dim)?;));
            }
            (_, VarKind::Index) => {
                params.push(quote!(#arg: impl #p::IntoIndexRows<'a, #dim>));
                conv.push(quote!(let #a = #p::Val::index_rows(#p::IntoIndexRows::into_index_rows(#arg), #name, #cat, #dim)?;));
            }
        }
    }
    let input_names: Vec<&str> = prog.inputs.iter().map(|v| v.name.as_str()).collect();
    let input_vals: Vec<Ident> = (0..prog.inputs.len())
        .map(|k| format_ident!("__a{}", k))
        .collect();
    let val = |v: Value| -> TokenStream {
        match v {
            Value::Input(k) => {
                let a = format_ident!("__a{}", k);
                quote!(&#a.reborrow())
            }
            Value::Step(s) => {
                let a = format_ident!("__s{}", s);
                quote!(&#a.reborrow())
            }
            Value::Part(s, part) => {
                let a = format_ident!("__s{}", s);
                let part = usize_lit(part as u32);
                quote!(&#a.part(#part)?)
            }
        }
    };
    let mut steps = Vec::new();
    for (s, step) in prog.steps.iter().enumerate() {
        let out = format_ident!("__s{}", s);
        let t = match step {
            Step::Reduce { stage, args } => {
                let st = &stage_idents[*stage as usize];
                let args: Vec<TokenStream> = args.iter().map(|&a| val(a)).collect();
                // The stage that produces the result keeps it on the device for
                // `call_device`; intermediate results stay there between GPU
                // stages (`__mid`).
                let keep = if matches!(prog.output, Value::Step(o) | Value::Part(o, _) if o as usize == s)
                {
                    quote!(__keep)
                } else {
                    quote!(__mid)
                };
                quote!(let #out = #p::run_stage::<#st #targs, T::Compute>(&self.opts, &[#(#args),*], &__rows, #keep)?;)
            }
            Step::SumRows(a) => {
                let a = val(*a);
                // The gradient with respect to the parameter `path.last()`
                // (the only parameter a cotangent reaches): summed per
                // problem when it has a value per problem of a batch.
                let wrt = path.last().and_then(|w| {
                    prog.inputs
                        .iter()
                        .position(|v| &v.name == w && v.cat == Cat::P)
                });
                match wrt {
                    Some(k) => {
                        let like = format_ident!("__a{}", k);
                        quote!(let #out = #p::Val::sum_rows_like(#a, &#like)?;)
                    }
                    None => quote!(let #out = #p::Val::sum_rows(#a)?;),
                }
            }
            Step::Add(a, b) => {
                let (a, b) = (val(*a), val(*b));
                quote!(let #out = #p::Val::add(#a, #b)?;)
            }
            Step::Zeros { cat, dim } => {
                let cat = cat_tokens(*cat);
                let dim = usize_lit(*dim);
                quote!(let #out = #p::Val::zeros(#cat, #dim, &__rows);)
            }
        };
        steps.push(t);
    }
    let out_t = family.value_type(prog, prog.output);
    let (ret_ty, finish, dev_ty, dev_finish) = match out_t {
        ValueType::Rows { .. } => (
            quote!(#p::ndarray::Array2<T>),
            quote!(into_rows_as::<T>()),
            quote!(#p::DeviceRows<T>),
            quote!(into_device_rows(__backend)),
        ),
        ValueType::IndexRows { .. } => (
            quote!(#p::ndarray::Array2<usize>),
            quote!(into_index_rows()),
            quote!(#p::DeviceRows<u64>),
            quote!(into_device_index(__backend)),
        ),
        ValueType::Pair { .. } => (
            quote!((#p::ndarray::Array2<T>, #p::ndarray::Array2<usize>)),
            quote!(into_pair_as::<T>()),
            quote!((#p::DeviceRows<T>, #p::DeviceRows<u64>)),
            quote!(into_device_pair(__backend)),
        ),
        ValueType::Vector { .. } => (
            quote!(#p::ndarray::Array1<T>),
            quote!(into_vector_as::<T>()),
            quote!(#p::DeviceRows<T>),
            quote!(into_device_vector(__backend)),
        ),
    };
    let output = match prog.output {
        Value::Input(k) => {
            let a = format_ident!("__a{}", k);
            quote!(#a.into_static()?)
        }
        Value::Step(s) => {
            let a = format_ident!("__s{}", s);
            quote!(#a)
        }
        Value::Part(s, part) => {
            let a = format_ident!("__s{}", s);
            let part = usize_lit(part as u32);
            quote!(#a.part(#part)?.into_static()?)
        }
    };
    let arg_names: Vec<Ident> = prog.inputs.iter().map(|v| var_ident(&v.name)).collect();
    // The forward stage's PTX, for inspection.
    let main_stage = prog.steps.iter().rev().find_map(|s| match s {
        Step::Reduce { stage, .. } => Some(*stage),
        _ => None,
    });
    let ptx_fn = match main_stage {
        Some(st) => {
            let st = &stage_idents[st as usize];
            quote! {
                /// The PTX (f32) of the main stage.
                pub fn ptx(&self) -> &'static str {
                    #p::stage_ptx(<#st #targs as #p::CpuStage>::INFO, false)
                }
                /// The PTX (f64) of the main stage.
                pub fn ptx_f64(&self) -> &'static str {
                    #p::stage_ptx(<#st #targs as #p::CpuStage>::INFO, true)
                }
            }
        }
        None => quote! {
            /// This kernel runs no reduction (its result is identically zero): no PTX.
            pub fn ptx(&self) -> &'static str { "" }
            /// This kernel runs no reduction: no PTX.
            pub fn ptx_f64(&self) -> &'static str { "" }
        },
    };
    let stage_names: Vec<TokenStream> = prog
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Reduce { stage, .. } => {
                let st = &stage_idents[*stage as usize];
                Some(quote!(<#st #targs as #p::CpuStage>::INFO))
            }
            _ => None,
        })
        .collect();
    let what = if path.is_empty() {
        "The keops kernel".to_string()
    } else {
        format!(
            "Gradient kernel `{}`",
            path.iter()
                .map(|v| format!("grad_{v}()"))
                .collect::<Vec<_>>()
                .join(".")
        )
    };
    let doc = if path.is_empty() {
        format!("{what} of `{doc_src}`.")
    } else {
        format!("{what}.")
    };
    let cats: Vec<TokenStream> = prog.inputs.iter().map(|v| cat_tokens(v.cat)).collect();
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub struct #ident #decl {
            opts: #p::Options,
        }

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
        impl #decl #ident #targs {
            /// The stages this kernel runs (a constant: a generic one is
            /// not promoted to `'static` in a function body).
            const __KEOPS_STAGES: &'static [&'static #p::StageInfo] = &[#(#stage_names),*];

            /// Runs the kernel (`T`: `f32`, `f64`, or `half::f16` computed in f32).
            pub fn call<'a, T: #p::Scalar>(&self, #(#params),*) -> #p::Result<#ret_ty> {
                self.__run::<T>(false, #(#arg_names),*)?.#finish
            }

            /// Runs the kernel on its GPU back end and leaves the result in device memory.
            pub fn call_device<'a, T: #p::Scalar<Compute = T> + #p::Real>(&self, #(#params),*) -> #p::Result<#dev_ty> {
                let __backend = self.opts.backend;
                if __backend == #p::Backend::Cpu {
                    return ::core::result::Result::Err(#p::Error::NeedsGpu(
                        "`call_device` needs a GPU back end: select one with `.backend(...)`".into(),
                    ));
                }
                self.__run::<T>(true, #(#arg_names),*)?.#dev_finish
            }

            fn __run<'a, T: #p::Scalar>(&self, __keep: bool, #(#params),*) -> #p::Result<#p::Val<'static, T::Compute>> {
                #(#conv)*
                let __rows = #p::RowCounts::of(&[#((#cats, &#input_vals)),*])?;
                let __mid = #p::keep_intermediates(&self.opts);
                #(#steps)*
                ::core::result::Result::Ok(#output)
            }

            #ptx_fn

            #(#grads)*
        }

        #[automatically_derived]
        impl #decl #p::Kernel for #ident #targs {
            #[inline]
            fn options(&self) -> #p::Options {
                self.opts
            }
            #[inline]
            fn with_options(self, opts: #p::Options) -> Self {
                #ident #targs { opts }
            }
            fn input_names(&self) -> &'static [&'static str] {
                &[#(#input_names),*]
            }
            fn stages(&self) -> &'static [&'static #p::StageInfo] {
                Self::__KEOPS_STAGES
            }
            const __F64_STAGES: &'static [&'static [#p::F64Stage]] = &[#f64_stages];
        }
    }
}
