//! Symbolic matrices: a formula without a reduction whose value has
//! dimension 1 is the M × N matrix `K_ij` (as a LazyTensor `K_ij` in
//! KeOps).
//!
//! The compiler builds, from the one formula, the fixed-width kernels the
//! runtime (`keops_runtime::matrix`) combines for right-hand sides of any
//! width W known only at run time:
//!
//! | part | formula | used for |
//! |---|---|---|
//! | `TileJ` / `TileI` | `sum_j(K)` / `sum_i(K)` | the pair function: tiles of K values (CPU, W ≥ 2, GEMM) |
//! | `Vec1J` / `Vec1I` | `sum_j(K * v)`, `v: Vj<1>` / `sum_i(K * u)` | W = 1 (fused map-reduce; CPU and GPU) |
//! | `ChunkJ` / `ChunkI` | the same with `Vj<CHUNK>` / `Vi<CHUNK>` | GPU: columns in chunks of [`CHUNK`] |
//! | `Grad1` / `GradC` | `sum_j(K * (u \| v))`, `u: Vi<C>`, `v: Vj<C>` (C = 1, [`CHUNK`]) | gradients of `<U, K V>` (grad_order 1) |
//!
//! Each part is an ordinary kernel family, expanded by
//! [`crate::emit_cpu::expand`] into its own module; the matrix type
//! implements the runtime's `MatrixKernel` trait by naming their stages.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ast::KernelDef;
use crate::emit_cpu::Generics;
use crate::front::Errors;
use crate::ir::Cat;
use crate::limits::{MAX_FAMILY_NODES, MAX_SCALAR_OPS};
use crate::stage::{Family, StagePtx};

/// Columns per chunk of the fixed-width kernels (GPU, gradients).
pub const CHUNK: u32 = 16;

/// One fixed-width kernel of a symbolic matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `sum_j(K)`: K values, rows i.
    TileJ,
    /// `sum_i(K)`: K values, rows j.
    TileI,
    /// `sum_j(K * v)`, `v: Vj<1>`.
    Vec1J,
    /// `sum_i(K * u)`, `u: Vi<1>`.
    Vec1I,
    /// `sum_j(K * v)`, `v: Vj<CHUNK>`.
    ChunkJ,
    /// `sum_i(K * u)`, `u: Vi<CHUNK>`.
    ChunkI,
    /// `sum_j(K * u * v)`, `u: Vi<1>`, `v: Vj<1>`, with gradients.
    Grad1,
    /// `sum_j(K * (u | v))`, `u: Vi<CHUNK>`, `v: Vj<CHUNK>`, with gradients.
    GradC,
}

impl Part {
    /// Whether the part runs on the GPU back ends (so needs PTX).
    pub fn needs_ptx(self) -> bool {
        !matches!(self, Part::TileJ | Part::TileI)
    }

    fn module(self) -> Ident {
        format_ident!(
            "__keops_{}",
            match self {
                Part::TileJ => "tile_j",
                Part::TileI => "tile_i",
                Part::Vec1J => "vec1_j",
                Part::Vec1I => "vec1_i",
                Part::ChunkJ => "chunk_j",
                Part::ChunkI => "chunk_i",
                Part::Grad1 => "grad1",
                Part::GradC => "gradc",
            }
        )
    }
}

/// The kernel families of a symbolic matrix.
#[derive(Clone, Debug)]
pub struct MatrixFamilies {
    /// The user's definition.
    pub def: KernelDef,
    /// The fixed-width kernels.
    pub parts: Vec<(Part, Family)>,
}

impl MatrixFamilies {
    /// The family of a part, when built.
    pub fn family(&self, part: Part) -> Option<&Family> {
        self.parts.iter().find(|(p, _)| *p == part).map(|(_, f)| f)
    }
}

/// What is left of the limits ([`MAX_SCALAR_OPS`], [`MAX_FAMILY_NODES`]),
/// shared by all the families of a matrix.
struct Budget {
    ops: usize,
    nodes: usize,
}

fn family(def: &KernelDef, order: u32, budget: &mut Budget) -> Result<Family, Errors> {
    let stage = crate::front::build_stage(def, true)?;
    let too_large = |cost: usize, nodes: usize| {
        Errors::new(
            def.span,
            format!(
                "symbolic matrix too large: its kernels (K @ V for V of width 1 and {CHUNK}, over i and j, and the gradients) exceed about {MAX_SCALAR_OPS} scalar operations or {MAX_FAMILY_NODES} IR operations (about {cost} and {nodes} when stopped); lower `grad_order` to 0 or the dimensions"
            ),
        )
    };
    let fam = Family::with_budget(stage, order, budget.ops, budget.nodes).map_err(|t| {
        too_large(
            MAX_SCALAR_OPS - budget.ops + t.cost,
            MAX_FAMILY_NODES - budget.nodes + t.nodes,
        )
    })?;
    let ops: usize = fam.stages.iter().map(|s| s.scalar_cost()).sum();
    let nodes: usize = fam.stages.iter().map(|s| s.graph.len()).sum();
    if ops > budget.ops || nodes > budget.nodes {
        return Err(too_large(
            MAX_SCALAR_OPS - budget.ops + ops,
            MAX_FAMILY_NODES - budget.nodes + nodes,
        ));
    }
    budget.ops -= ops;
    budget.nodes -= nodes;
    Ok(fam)
}

/// Builds the families of a symbolic matrix (a formula whose body is not a
/// reduction, see [`crate::front::is_reduction`]). A value of dimension
/// other than 1 is an error at the body. The errors name the spans of
/// `def`'s AST (see [`crate::parse::Spans::error`]).
pub fn compile_matrix(def: &KernelDef) -> Result<MatrixFamilies, Errors> {
    use keops_ir::matrix::{inner, product, tile, Width};
    // K alone, reduced over j: checks the formula (with the user's errors at
    // their spans), its dimension and names.
    let stage = keops_ir::matrix::check(def)?;
    let order = if def.options.grad_order_given {
        def.options.grad_order.min(1)
    } else {
        crate::default_grad_order(&stage).min(1)
    };
    let mut budget = Budget {
        ops: MAX_SCALAR_OPS,
        nodes: MAX_FAMILY_NODES,
    };
    let mut parts = Vec::new();
    let fixed = [
        (Part::TileJ, tile(def, Cat::J)),
        (Part::TileI, tile(def, Cat::I)),
        (Part::Vec1J, product(def, Cat::J, Width::Fixed(1))),
        (Part::ChunkJ, product(def, Cat::J, Width::Fixed(CHUNK))),
        (Part::Vec1I, product(def, Cat::I, Width::Fixed(1))),
        (Part::ChunkI, product(def, Cat::I, Width::Fixed(CHUNK))),
    ];
    for (part, d) in fixed {
        parts.push((part, family(&d, 0, &mut budget)?));
    }
    if order >= 1 {
        for (part, c) in [(Part::Grad1, 1), (Part::GradC, CHUNK)] {
            let d = inner(def, Width::Fixed(c));
            parts.push((part, family(&d, 1, &mut budget)?));
        }
    }
    Ok(MatrixFamilies {
        def: def.clone(),
        parts,
    })
}

fn var_ident(name: &str) -> Ident {
    if crate::parse::is_keyword(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        format_ident!("{}", name)
    }
}

/// The items of a part's expansion in a module that also makes the part's
/// kernel value (`kernel()`, generic over the widths like the items).
fn part_module(
    krate: &TokenStream,
    module: &Ident,
    items: TokenStream,
    generics: &Generics,
) -> TokenStream {
    let (decl, args) = (generics.decl(), generics.use_args());
    quote! {
        #[allow(dead_code, unused, non_snake_case, non_camel_case_types, clippy::all)]
        mod #module {
            use #krate::__private as __keops;
            #items
            pub fn kernel #decl () -> __KeopsKernel0 #args {
                __KeopsKernel0 #args { opts: __keops::Options::DEFAULT }
            }
        }
    }
}

/// Tokens of a symbolic matrix: the parts' modules, the matrix type (its
/// `bind`, the `Kernel` options and the runtime's `MatrixKernel` trait),
/// and its value. `ptx[k]` is the PTX of part `k` (empty when no GPU back
/// end is compiled in, or for the CPU-only parts).
pub fn expand(
    krate: &TokenStream,
    m: &MatrixFamilies,
    ptx: &[Vec<StagePtx>],
    doc_src: &str,
) -> TokenStream {
    expand_generic(krate, m, ptx, doc_src, &Generics::default())
}

/// [`expand`] with items generic over the widths in `generics` (see
/// `crate::widths`; the value is instantiated with `generics.args` after
/// `generics.checks`).
pub fn expand_generic(
    krate: &TokenStream,
    m: &MatrixFamilies,
    ptx: &[Vec<StagePtx>],
    doc_src: &str,
    generics: &Generics,
) -> TokenStream {
    let (decl, targs) = (generics.decl(), generics.use_args());
    let mut mods = Vec::new();
    let mut f64_lists = Vec::new();
    for (k, (part, fam)) in m.parts.iter().enumerate() {
        let empty = Vec::new();
        let items =
            crate::emit_cpu::expand_items(fam, ptx.get(k).unwrap_or(&empty), doc_src, generics);
        mods.push(part_module(krate, &part.module(), items, generics));
        let md = part.module();
        let stages = (0..fam.stages.len()).map(|s| format_ident!("__KeopsStage{}", s));
        f64_lists.push(quote!(&[#(__keops::F64Stage::of::<#md::#stages #targs>()),*]));
    }
    let def = &m.def;
    let mut params = Vec::new();
    let mut conv = Vec::new();
    let mut vals = Vec::new();
    let mut cats = Vec::new();
    let mut names = Vec::new();
    for (k, v) in def.params.iter().enumerate() {
        let arg = var_ident(&v.name);
        let a = format_ident!("__a{}", k);
        let nm = &v.name;
        let dim = proc_macro2::Literal::usize_unsuffixed(v.dim as usize);
        let cat = match v.cat {
            Cat::I => quote!(__keops::Cat::I),
            Cat::J => quote!(__keops::Cat::J),
            Cat::P => quote!(__keops::Cat::P),
        };
        match v.cat {
            Cat::P => {
                // Parameters are small: the bound matrix owns a copy, so
                // that `k.bind(&x, &y, &[g])?` can be kept and used.
                params.push(quote!(#arg: impl __keops::IntoParam<'__p, T, #dim>));
                conv.push(quote!(let #a = __keops::Val::<T>::from_param(__keops::IntoParam::into_param(#arg), #nm, #dim)?.into_static()?;));
            }
            _ => {
                params.push(quote!(#arg: impl __keops::IntoRows<'a, T, #dim>));
                conv.push(quote!(let #a = __keops::Val::<T>::from_rows(__keops::IntoRows::into_rows(#arg), #nm, #cat, #dim)?;));
            }
        }
        vals.push(a);
        cats.push(cat);
        names.push(nm.clone());
    }
    let stage = |p: Part| {
        let md = p.module();
        quote!(#md::__KeopsStage0 #targs)
    };
    let (tj, ti, v1j, v1i, cj, ci) = (
        stage(Part::TileJ),
        stage(Part::TileI),
        stage(Part::Vec1J),
        stage(Part::Vec1I),
        stage(Part::ChunkJ),
        stage(Part::ChunkI),
    );
    let chunk = proc_macro2::Literal::usize_unsuffixed(CHUNK as usize);
    // Gradients: one typed call per input of the gradient kernels of
    // `<U, K V>`, for C = 1 and C = CHUNK.
    let grad_body = |part: Part| -> TokenStream {
        let md = part.module();
        let args: Vec<TokenStream> = def
            .params
            .iter()
            .enumerate()
            .map(|(k, v)| match v.cat {
                Cat::P => quote!(__keops::matrix::param_arg(&__inputs[#k])?),
                _ => quote!(__keops::matrix::rows_arg(&__inputs[#k])?),
            })
            .collect();
        let grads: Vec<TokenStream> = def
            .params
            .iter()
            .map(|v| {
                let g = crate::emit_cpu::grad_method(&v.name);
                let wrap = if v.cat == Cat::P {
                    quote!(__keops::matrix::Gradient::Param)
                } else {
                    quote!(__keops::matrix::Gradient::Rows)
                };
                quote!(#wrap(__k.#g().call::<T>(#(#args,)* __u, __v, &__e)?))
            })
            .collect();
        quote! {{
            let __k = __keops::Kernel::with_options(#md::kernel #targs (), self.opts);
            ::core::result::Result::Ok(::std::vec![#(#grads),*])
        }}
    };
    let grad_fn = if m.family(Part::Grad1).is_some() {
        let g1 = grad_body(Part::Grad1);
        let gc = grad_body(Part::GradC);
        quote! {
            let __e = __keops::ndarray::Array2::<T>::from_elem((__u.nrows(), 1), <T as __keops::Real>::from_f64(1.0));
            if __u.ncols() == 1 { #g1 } else if __u.ncols() == #chunk { #gc } else {
                ::core::result::Result::Err(__keops::Error::Internal("gradient chunk of a bad width".into()))
            }
        }
    } else {
        quote! {
            let _ = (__inputs, __u, __v);
            ::core::result::Result::Err(__keops::Error::Unsupported(
                "the gradients of this symbolic matrix were not emitted: write `keops!(grad_order = 1, ...)`".into(),
            ))
        }
    };
    let doc = format!(
        "The symbolic matrix `{doc_src}`: `bind` its inputs to get a `BoundMatrix` (`matmul`, `t`, `solve`, gradients)."
    );
    let (checks, inst) = (&generics.checks, generics.instance());
    quote! {
        {
            use #krate::__private as __keops;
            #(#mods)*

            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            pub struct __KeopsMatrix #decl {
                opts: __keops::Options,
            }

            #[automatically_derived]
            #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
            impl #decl __KeopsMatrix #targs {
                /// The main stages (a constant: a generic one is not
                /// promoted to `'static` in a function body).
                const __KEOPS_STAGES: &'static [&'static __keops::StageInfo] = &[
                    <#tj as __keops::CpuStage>::INFO,
                    <#v1j as __keops::CpuStage>::INFO,
                    <#cj as __keops::CpuStage>::INFO,
                ];

                /// Binds the inputs (views of the rows, no copies; host arrays
                /// or, for the GPU back ends, `&DeviceRows<T>`; the parameters
                /// are copied, so a temporary such as `&[g]` may be passed):
                /// the result is the M × N matrix `K_ij` as a linear operator.
                /// Inputs are checked (rows, columns, lengths); a mismatch is
                /// an `Err` naming the variable.
                pub fn bind<'a, '__p, T: __keops::Real + __keops::Scalar<Compute = T>>(&self, #(#params),*) -> __keops::Result<__keops::matrix::BoundMatrix<'a, T, Self>> {
                    #(#conv)*
                    let __rows = __keops::RowCounts::of(&[#((#cats, &#vals)),*])?;
                    ::core::result::Result::Ok(__keops::matrix::BoundMatrix::new(
                        *self,
                        ::std::vec![#(#vals),*],
                        __rows.i.unwrap_or(0),
                        __rows.j.unwrap_or(0),
                    ))
                }
            }

            #[automatically_derived]
            impl #decl __keops::Kernel for __KeopsMatrix #targs {
                #[inline]
                fn options(&self) -> __keops::Options {
                    self.opts
                }
                #[inline]
                fn with_options(self, opts: __keops::Options) -> Self {
                    __KeopsMatrix #targs { opts }
                }
                fn input_names(&self) -> &'static [&'static str] {
                    &[#(#names),*]
                }
                fn stages(&self) -> &'static [&'static __keops::StageInfo] {
                    Self::__KEOPS_STAGES
                }
                const __F64_STAGES: &'static [&'static [__keops::F64Stage]] = &[#(#f64_lists),*];
            }

            #[automatically_derived]
            #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
            impl #decl __keops::matrix::MatrixKernel for __KeopsMatrix #targs {
                type TileJ = #tj;
                type TileI = #ti;
                type Vec1J = #v1j;
                type Vec1I = #v1i;
                type ChunkJ = #cj;
                type ChunkI = #ci;
                const CHUNK: usize = #chunk;
                fn grad_chunk<T: __keops::Real + __keops::Scalar<Compute = T>>(
                    &self,
                    __inputs: &[__keops::Val<'_, T>],
                    __u: __keops::ndarray::ArrayView2<'_, T>,
                    __v: __keops::ndarray::ArrayView2<'_, T>,
                ) -> __keops::Result<::std::vec::Vec<__keops::matrix::Gradient<T>>> {
                    #grad_fn
                }
            }

            #checks
            __KeopsMatrix #inst { opts: __keops::Options::DEFAULT }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_parts() {
        let def =
            crate::parse::parse_kernel_str("|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y))")
                .unwrap();
        assert!(!crate::front::is_reduction(&def));
        let m = compile_matrix(&def).unwrap();
        assert_eq!(m.parts.len(), 8);
        let g = m.family(Part::GradC).unwrap();
        assert!(g.program(&["x"]).is_some() && g.program(&["g"]).is_some());
        let toks = expand(&quote!(::keops), &m, &[], "K").to_string();
        assert!(toks.contains("__KeopsMatrix"));
        assert!(toks.contains("mod __keops_tile_j"));
    }

    /// The build cost of a matrix against the Gaussian sum kernel (printed
    /// with `--nocapture`): 6 forward stages and 2 first-order gradient
    /// families, against one forward stage and its gradients to order 2.
    #[test]
    fn expansion_size() {
        let m =
            crate::parse::parse_kernel_str("|x: Vi<3>, y: Vj<3>, g: Pm<1>| exp(-g * sqdist(x, y))")
                .unwrap();
        let m = compile_matrix(&m).unwrap();
        let mat = expand(&quote!(::keops), &m, &[], "K").to_string().len();
        let src = "|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b)";
        let c = crate::compile(src.parse().unwrap())
            .map_err(|f| f.error)
            .unwrap();
        let k = crate::emit_cpu::expand(&quote!(::keops), &c.family, &[], src)
            .to_string()
            .len();
        println!("expansion (CPU only): matrix {mat} bytes, Gaussian sum kernel {k} bytes");
        assert!(mat < 4 * k, "matrix {mat} vs kernel {k}");
    }

    #[test]
    fn a_vector_value_is_not_a_matrix() {
        let def = crate::parse::parse_kernel_str("|x: Vi<3>, y: Vj<3>| x - y").unwrap();
        let e = compile_matrix(&def).unwrap_err().to_string();
        assert!(e.contains("needs a value of dimension 1"), "{e}");
        assert!(e.contains("dimension 3"), "{e}");
    }

    #[test]
    fn the_limits_are_shared_by_the_families() {
        // A K that fits one kernel's budget, but not six times over.
        let terms = [
            "sqnorm2(x * y)",
            "sqnorm2(x - y * 2.0)",
            "sqnorm2(x + y)",
            "sqnorm2(x * y - x)",
            "sqnorm2(sin(x) * y)",
            "sqnorm2(cos(y) * x)",
            "sqnorm2(x * x * y)",
            "sqnorm2(y * y - x)",
        ];
        let mut body = String::from("-sqdist(x, y)");
        for t in terms {
            body = format!("{body} - {t}");
            let src = format!("grad_order = 0, |x: Vi<1024>, y: Vj<1024>| exp({body})");
            let def = crate::parse::parse_kernel_str(&src).unwrap();
            let one = crate::front::build_stage(&keops_ir::matrix::tile(&def, Cat::J), true)
                .unwrap()
                .scalar_cost();
            if one > MAX_SCALAR_OPS / 5 {
                assert!(one < MAX_SCALAR_OPS);
                match compile_matrix(&def) {
                    Err(e) => assert!(e.to_string().contains("symbolic matrix too large"), "{e}"),
                    Ok(_) => panic!("a K of {one} operations, six times, was accepted"),
                }
                return;
            }
        }
        panic!("the formulas are too small for this test");
    }

    #[test]
    fn grad_order_zero_skips_the_gradients() {
        let def = crate::parse::parse_kernel_str(
            "grad_order = 0, |x: Vi<1>, y: Vj<1>| exp(-(x - y) * (x - y))",
        )
        .unwrap();
        let m = compile_matrix(&def).unwrap();
        assert!(m.family(Part::Grad1).is_none());
    }
}
