//! One arithmetic instruction of a lowered program as a Rust expression
//! over the SIMD pack type (`Pack` methods and `__keops::ops` functions).

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::tokens::{const_tokens, private};
use crate::ir::{Bin, Tern, Un};
use crate::lower::Inst;

/// The expression of one arithmetic instruction; values are named by `v`.
pub(super) fn inst_expr(inst: &Inst, v: &dyn Fn(u32) -> Ident) -> Option<TokenStream> {
    let p = private();
    let ops = quote!(#p::ops);
    Some(match *inst {
        Inst::Const(b) => {
            let c = const_tokens(b);
            quote!(#ops::c::<P>(#c))
        }
        Inst::Un(u, a) => {
            let a = v(a);
            match u {
                Un::Neg => quote!(-#a),
                Un::Abs => quote!(#p::Pack::abs(#a)),
                Un::Exp => quote!(#ops::exp(#a)),
                Un::Log => quote!(#p::Pack::ln(#a)),
                Un::Sin => quote!(#p::Pack::sin(#a)),
                Un::Cos => quote!(#p::Pack::cos(#a)),
                Un::Sqrt => quote!(#p::Pack::sqrt(#a)),
                Un::Asin => quote!(#p::Pack::asin(#a)),
                Un::Acos => quote!(#p::Pack::acos(#a)),
                Un::Atan => quote!(#p::Pack::atan(#a)),
                Un::Tanh => quote!(#p::Pack::tanh(#a)),
                Un::Sinh => quote!(#p::Pack::sinh(#a)),
                Un::Cosh => quote!(#p::Pack::cosh(#a)),
                Un::Erf => quote!(#p::Pack::erf(#a)),
                Un::Log1p => quote!(#p::Pack::ln_1p(#a)),
                Un::Expm1 => quote!(#p::Pack::exp_m1(#a)),
                Un::Floor => quote!(#p::Pack::floor(#a)),
                Un::Round => quote!(#p::Pack::round(#a)),
                Un::Rsqrt => quote!(#ops::rsqrt(#a)),
                Un::Sign => quote!(#ops::sign(#a)),
                Un::Step => quote!(#ops::step(#a)),
                Un::Relu => quote!(#ops::relu(#a)),
                Un::Inv => quote!(#ops::inv(#a)),
                Un::XLogX => quote!(#ops::xlogx(#a)),
                Un::SinXDivX => quote!(#ops::sinxdivx(#a)),
                Un::SinXDivXDeriv => quote!(#ops::sinxdivx_deriv(#a)),
                Un::Square | Un::PowI(_) => unreachable!("expanded by lowering"),
            }
        }
        Inst::Bin(b, x, y) => {
            let (x, y) = (v(x), v(y));
            match b {
                Bin::Add => quote!(#x + #y),
                Bin::Sub => quote!(#x - #y),
                Bin::Mul => quote!(#x * #y),
                Bin::Div => quote!(#x / #y),
                Bin::Powf => quote!(#p::Pack::powf(#x, #y)),
                Bin::Atan2 => quote!(#p::Pack::atan2(#x, #y)),
                Bin::Max => quote!(#ops::max(#x, #y)),
                Bin::Min => quote!(#ops::min(#x, #y)),
                Bin::Lt => quote!(#ops::lt(#x, #y)),
                Bin::Le => quote!(#ops::le(#x, #y)),
                Bin::Gt => quote!(#ops::gt(#x, #y)),
                Bin::Ge => quote!(#ops::ge(#x, #y)),
                Bin::Eq => quote!(#ops::eq(#x, #y)),
                Bin::Ne => quote!(#ops::ne(#x, #y)),
            }
        }
        Inst::Tern(t, x, y, z) => {
            let (x, y, z) = (v(x), v(y), v(z));
            match t {
                Tern::Clamp => quote!(#ops::clamp(#x, #y, #z)),
                Tern::IfElse => quote!(#ops::ifelse(#x, #y, #z)),
                Tern::Mod => quote!(#ops::modulo(#x, #y, #z)),
            }
        }
        Inst::Select(c, x, y) => {
            let (c, x, y) = (v(c), v(x), v(y));
            quote!(#ops::select(#c, #x, #y))
        }
        Inst::Fma(x, y, z) => {
            let (x, y, z) = (v(x), v(y), v(z));
            quote!(#p::Pack::mul_add(#x, #y, #z))
        }
        _ => return None,
    })
}
