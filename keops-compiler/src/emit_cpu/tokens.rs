//! Token helpers: the path of the runtime interface, literals, the
//! runtime's enum values (`Cat`, `Red`, `GpuMeta`) and identifiers.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ir::Cat;
use crate::stage::{GpuMeta, Red};

/// The path of the runtime interface in generated code: every expansion
/// starts with `use <facade>::__private as __keops;` (see [`expand`](super::expand)), so
/// the facade's own path (`$crate`) is written once and a renamed
/// dependency works.
pub(crate) fn private() -> TokenStream {
    quote!(__keops)
}

pub(super) fn usize_lit(v: u32) -> Literal {
    Literal::usize_unsuffixed(v as usize)
}

pub(super) fn cat_tokens(c: Cat) -> TokenStream {
    let p = private();
    match c {
        Cat::I => quote!(#p::Cat::I),
        Cat::J => quote!(#p::Cat::J),
        Cat::P => quote!(#p::Cat::P),
    }
}

pub(super) fn red_tokens(r: Red) -> TokenStream {
    let p = private();
    match r {
        Red::Sum => quote!(#p::Red::Sum),
        Red::LogSumExp => quote!(#p::Red::LogSumExp),
        Red::LogSumExpWeight => quote!(#p::Red::LogSumExpWeight),
        Red::SumSoftmaxWeight => quote!(#p::Red::SumSoftmaxWeight),
        Red::Min => quote!(#p::Red::Min),
        Red::ArgMin => quote!(#p::Red::ArgMin),
        Red::MinArgMin => quote!(#p::Red::MinArgMin),
        Red::Max => quote!(#p::Red::Max),
        Red::ArgMax => quote!(#p::Red::ArgMax),
        Red::MaxArgMax => quote!(#p::Red::MaxArgMax),
        Red::KMin(k) => {
            let k = usize_lit(k);
            quote!(#p::Red::KMin(#k))
        }
        Red::ArgKMin(k) => {
            let k = usize_lit(k);
            quote!(#p::Red::ArgKMin(#k))
        }
        Red::KMinArgKMin(k) => {
            let k = usize_lit(k);
            quote!(#p::Red::KMinArgKMin(#k))
        }
    }
}

/// The launch metadata of a PTX module: `GpuMeta::NONE` when none was
/// emitted (a CPU-only build pays a few tokens per stage).
pub(super) fn gpu_meta_tokens(m: GpuMeta) -> TokenStream {
    let p = private();
    if m == GpuMeta::NONE {
        return quote!(#p::GpuMeta::NONE);
    }
    let lit = Literal::u32_unsuffixed;
    let (b, t) = (lit(m.block), lit(m.tile));
    let (o, s) = (lit(m.outer_scratch), lit(m.partial_slots));
    quote!(#p::GpuMeta { block: #b, tile: #t, outer_scratch: #o, partial_slots: #s })
}

pub(super) fn const_tokens(bits: u64) -> TokenStream {
    let c = f64::from_bits(bits);
    if c.is_nan() {
        quote!(::core::f64::NAN)
    } else if c == f64::INFINITY {
        quote!(::core::f64::INFINITY)
    } else if c == f64::NEG_INFINITY {
        quote!(::core::f64::NEG_INFINITY)
    } else {
        let l = Literal::f64_unsuffixed(c.abs());
        if c.is_sign_negative() {
            quote!(-#l)
        } else {
            quote!(#l)
        }
    }
}

/// Name of the kernel method for a derivation step: `grad_x`.
pub fn grad_method(var: &str) -> Ident {
    format_ident!("grad_{}", sanitize(var))
}

/// A Rust identifier for an input name (user names are identifiers already;
/// generated ones like `e2` too).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The identifier of a variable in the generated code: the name itself, or
/// a raw identifier (`r#type`) for a Rust keyword.
pub(crate) fn var_ident(name: &str) -> Ident {
    let name = sanitize(name);
    if matches!(
        name.as_str(),
        "self" | "Self" | "super" | "crate" | "_" | ""
    ) {
        // Not valid raw identifiers (the parser rejects these names).
        return format_ident!("{}_", name);
    }
    if crate::parse::is_keyword(&name) {
        Ident::new_raw(&name, Span::call_site())
    } else {
        format_ident!("{}", name)
    }
}

/// Span-less identifier helper for callers.
pub fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

/// The const-generic widths of an expansion (formulas whose widths are
/// `const` items or const generics, see `crate::widths`): the generated
/// items take them as const parameters. `Generics::default()` (literal
/// widths) changes nothing in the expansion.
#[derive(Clone, Debug, Default)]
pub struct Generics {
    /// The items' const parameters (`__W0`, ...).
    pub params: Vec<Ident>,
    /// What the forward kernel value is instantiated with (the user's
    /// width names), in the order of `params`.
    pub args: Vec<TokenStream>,
    /// Statements before the forward kernel value (compile-time checks of
    /// the widths).
    pub checks: TokenStream,
    /// The seed of the stage keys in place of the stage's code (the
    /// formula's source): the probe expansions that `crate::widths` compares
    /// must have equal keys.
    pub key_seed: Option<String>,
}

impl Generics {
    /// True when the items take const parameters.
    pub fn is_generic(&self) -> bool {
        !self.params.is_empty()
    }

    /// `<const __W0: usize, ...>` after an item's name or `impl`, or nothing.
    pub(crate) fn decl(&self) -> TokenStream {
        if self.params.is_empty() {
            return quote!();
        }
        let ps = &self.params;
        quote!(<#(const #ps: usize),*>)
    }

    /// `::<D, ...>` (the user's width names, [`Generics::args`]) after the
    /// name of the item the expansion's value is made of, or nothing.
    pub(crate) fn instance(&self) -> TokenStream {
        if self.params.is_empty() {
            return quote!();
        }
        let a = &self.args;
        quote!(::<#(#a),*>)
    }

    /// `::<__W0, ...>` after an item's name where it is used, or nothing.
    pub(crate) fn use_args(&self) -> TokenStream {
        if self.params.is_empty() {
            return quote!();
        }
        let ps = &self.params;
        quote!(::<#(#ps),*>)
    }
}
