//! The `CpuStage` impl of one stage: its static metadata (`StageInfo`,
//! with the PTX text and launch metadata), its four phase functions, the
//! fused `pair_sum` of sum stages and the exact single-pair evaluator of
//! dot-product forms; and the engine's row blocking (`group_rows`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::prog::{
    body_ident, destructure, index, loop_body, loop_var, outputs_value, prog_body, store_outputs,
    value_ident,
};
use super::tokens::{cat_tokens, gpu_meta_tokens, private, red_tokens, usize_lit, Generics};
use crate::ir::Bin;
use crate::lower::{Inst, Lowered, Role, ScalarProg};
use crate::stage::{acc_len, Red, StagePtx, VarKind};

/// Rewrites the outputs `v_d` of a sum stage's pair program as factor pairs:
/// outputs `[a_0 .. a_{D-1}, b_0 .. b_{D-1}]` with `v_d = a_d * b_d` (the
/// product is dropped when `v_d` is used nowhere else), or `b_d = 1`. A
/// loop's run of outputs is factored in its body.
fn factor_outputs(prog: &ScalarProg) -> ScalarProg {
    let mut p = prog.clone();
    let uses = p.use_counts();
    let one = p.insts.len() as u32;
    p.insts.push(Inst::Const(1f64.to_bits()));
    // Loops whose body's output is a product: their second output.
    let mut factored = vec![false; p.loops.len()];
    let stored: Vec<u32> = prog
        .outputs
        .iter()
        .filter_map(|&o| match prog.insts[o as usize] {
            Inst::LoopElem(l, 0, 0) => Some(l),
            _ => None,
        })
        .collect();
    for lp_k in stored.into_iter().map(|l| l as usize) {
        let body = &p.loops[lp_k].body;
        let bu = body.use_counts();
        let out = body.outputs[0];
        if let Inst::Bin(Bin::Mul, x, y) = body.insts[out as usize] {
            if bu[out as usize] == 1 {
                p.loops[lp_k].body.outputs = vec![x, y];
                factored[lp_k] = true;
            }
        }
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &o in &prog.outputs {
        match p.insts[o as usize] {
            Inst::LoopElem(l, k, 0) if factored[l as usize] => {
                a.push(o);
                p.insts.push(Inst::LoopElem(l, k, 1));
                b.push(p.insts.len() as u32 - 1);
            }
            Inst::Bin(Bin::Mul, x, y) if uses[o as usize] == 1 => {
                a.push(x);
                b.push(y);
            }
            _ => {
                a.push(o);
                b.push(one);
            }
        }
    }
    a.extend(b);
    p.outputs = a;
    p
}

/// The `CpuStage` impl (and struct) of one lowered stage.
///
/// `exact` holds the tokens of the exact single-pair evaluator when `l` is
/// the dot-product form of the stage (see [`crate::lower::lower_dot_form`]).
pub fn stage_tokens(
    ident: &Ident,
    name: &str,
    l: &Lowered,
    ptx: &StagePtx,
    exact: Option<TokenStream>,
    generics: &Generics,
) -> TokenStream {
    let p = private();
    let (decl, args) = (generics.decl(), generics.use_args());
    let npf = l.param.outputs.len() as u32;
    let nof = l.outer.outputs.len() as u32;
    let nnf = l.inner.outputs.len() as u32;
    // Sum stages return each component as two factors, `a * b`, that the
    // engine accumulates with one fused multiply-add (`acc = fma(a, b, acc)`):
    // `exp(..) * b` in a Gaussian sum costs one instruction per component,
    // not two. A component that is not a product gets the factor 1.
    let factored = l.red == Red::Sum;
    let nout = if factored {
        2 * l.fdim
    } else {
        l.fdim + l.wdim
    };
    let acc = acc_len(l.red, l.fdim, l.wdim);
    let lit = usize_lit;
    let (npf_l, nof_l, nnf_l, nout_l, acc_l) = (lit(npf), lit(nof), lit(nnf), lit(nout), lit(acc));
    let (rp, ro, rn, io, inn) = (
        lit(l.raw_param),
        lit(l.raw_outer),
        lit(l.raw_inner),
        lit(l.idx_outer),
        lit(l.idx_inner),
    );

    // Scalar inputs are read once into locals (`raw3`, `pf0`, `of2`); loop
    // bodies index the arrays.
    let local = |name: &str, k: u32, lv: Option<&Ident>| -> TokenStream {
        let arr = format_ident!("{}", name);
        match lv {
            None => {
                let id = format_ident!("{}{}", name, k);
                quote!(#id)
            }
            Some(_) => {
                let i = index(k, lv);
                quote!(#arr[#i])
            }
        }
    };
    let feature_input = |i: &Inst, lv: Option<&Ident>| -> TokenStream {
        match *i {
            Inst::RawParam(k) | Inst::RawOuter(k) | Inst::RawInner(k) => local("raw", k, lv),
            Inst::Pf(k) => local("pf", k, lv),
            Inst::Of(k) => {
                let x = local("of", k, lv);
                quote!(#p::Pack::splat(#x))
            }
            Inst::Nf(k) => {
                let k = index(k, lv);
                quote!(nf.get::<P>(#k))
            }
            Inst::InnerIndexHi(k) => {
                let k = lit(k);
                quote!(#p::ops::index_hi::<P>(idx[#k]))
            }
            Inst::InnerIndexLo(k) => {
                let k = lit(k);
                quote!(#p::ops::index_lo::<P>(idx[#k]))
            }
            Inst::OuterRowHi => quote!(ctx.row_hi),
            Inst::OuterRowLo => quote!(ctx.row_lo),
            Inst::MatchOuterIndex(k) => {
                let k = lit(k);
                quote!(#p::ops::index_match::<P>(ctx.oi[#k], ctx.j0))
            }
            Inst::Dot => quote!(dot),
            ref other => panic!("unexpected input {other:?}"),
        }
    };
    // The components a program reads as scalars (outside loops).
    let used_in = |prog: &ScalarProg, which: &str| -> Vec<u32> {
        prog.insts
            .iter()
            .filter_map(|i| match (i, which) {
                (Inst::Pf(k), "pf") | (Inst::Of(k), "of") => Some(*k),
                (Inst::RawParam(k) | Inst::RawOuter(k) | Inst::RawInner(k), "raw") => Some(*k),
                _ => None,
            })
            .collect()
    };
    // param phase
    let param_body = prog_body(&l.param, &feature_input);
    let param_destr = destructure("raw", l.raw_param, &used_in(&l.param, "raw"));
    let param_out = store_outputs(&l.param, &feature_input, "pf");
    // outer phase
    let outer_body = prog_body(&l.outer, &feature_input);
    let outer_destr_pf = destructure("pf", npf, &used_in(&l.outer, "pf"));
    let outer_destr_raw = destructure("raw", l.raw_outer, &used_in(&l.outer, "raw"));
    let outer_out = store_outputs(&l.outer, &feature_input, "of");
    // inner phase
    let inner_body = prog_body(&l.inner, &feature_input);
    let inner_destr_pf = destructure("pf", npf, &used_in(&l.inner, "pf"));
    let inner_destr_raw = destructure("raw", l.raw_inner, &used_in(&l.inner, "raw"));
    let inner_out = store_outputs(&l.inner, &feature_input, "nf");
    // pair phase
    let pair_prog = if factored {
        factor_outputs(&l.pair)
    } else {
        l.pair.clone()
    };
    let pair_body = prog_body(&pair_prog, &feature_input);
    let pair_destr_pf = destructure("pf", npf, &used_in(&l.pair, "pf"));
    let pair_destr_of = destructure("of", nof, &used_in(&l.pair, "of"));
    let pair_out = store_outputs(&pair_prog, &feature_input, "out");
    let exact_fn = exact.unwrap_or_default();
    let pair_sum = if factored {
        let d = l.fdim as usize;
        let outs = &pair_prog.outputs;
        let mut accs: Vec<TokenStream> = Vec::new();
        let mut k = 0;
        while k < d {
            let kk = lit(k as u32);
            let (a, b) = (outs[k], outs[d + k]);
            if let Inst::LoopElem(l, 0, 0) = pair_prog.insts[a as usize] {
                // A run of the loop's outputs: one loop of fused updates.
                let lp = &pair_prog.loops[l as usize];
                let body = loop_body(lp, &feature_input);
                let wa = body_ident(lp.body.outputs[0]);
                let wb = match pair_prog.insts[b as usize] {
                    Inst::LoopElem(..) => body_ident(lp.body.outputs[1]),
                    _ => value_ident(b),
                };
                let (lv, len) = (loop_var(), lit(lp.len));
                accs.push(quote! {
                    for #lv in 0..#len {
                        #(#body)*
                        acc[#kk + #lv] = #p::Pack::mul_add(#wa, #wb, acc[#kk + #lv]);
                    }
                });
                k += lp.len as usize;
            } else {
                let (a, b) = (value_ident(a), value_ident(b));
                accs.push(quote!(acc[#kk] = #p::Pack::mul_add(#a, #b, acc[#kk]);));
                k += 1;
            }
        }
        quote! {
            #[inline(always)]
            fn pair_sum<P: #p::Pack>(
                pf: &[P; #npf_l],
                of: &[P::Elem; #nof_l],
                nf: #p::Features<'_, P::Elem>,
                ctx: &#p::PairCtx<'_, P>,
                acc: &mut [P; #acc_l],
            ) {
                #pair_destr_pf
                #pair_destr_of
                #(#pair_body)*
                #(#accs)*
            }
        }
    } else {
        quote!()
    };

    let vars: Vec<TokenStream> = l
        .vars
        .iter()
        .zip(&l.slots)
        .map(|(v, s)| {
            let name = &v.name;
            let cat = cat_tokens(v.cat);
            let dim = lit(v.dim);
            let kind = match v.kind {
                VarKind::Real => quote!(#p::VarKind::Real),
                VarKind::Index => quote!(#p::VarKind::Index),
            };
            let role = match s.role {
                Role::Outer => quote!(#p::Role::Outer),
                Role::Inner => quote!(#p::Role::Inner),
                Role::Param => quote!(#p::Role::Param),
            };
            let off = lit(s.offset);
            quote!(#p::VarSpec { name: #name, cat: #cat, dim: #dim, kind: #kind, role: #role, offset: #off })
        })
        .collect();
    let outer_cat = cat_tokens(l.outer_cat);
    let red = red_tokens(l.red);
    let (fdim, wdim) = (lit(l.fdim), lit(l.wdim));
    let pair_ops = lit(l.pair.op_count() as u32);
    let group = lit(group_rows(l));
    let (dot_of, dot_nf, dot_na, dot_nb): (Vec<Literal>, Vec<Literal>, Literal, Literal) =
        match &l.dot {
            Some(d) => (
                d.of.iter().map(|&v| lit(v)).collect(),
                d.nf.iter().map(|&v| lit(v)).collect(),
                lit(d.na),
                lit(d.nb),
            ),
            None => (vec![], vec![], lit(0), lit(0)),
        };
    let ptx32 = &ptx.f32;
    let ptx64 = &ptx.f64;
    let gpu32 = gpu_meta_tokens(ptx.gpu_f32);
    let gpu64 = gpu_meta_tokens(ptx.gpu_f64);
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match &generics.key_seed {
            Some(seed) => (seed, name).hash(&mut h),
            None => {
                format!("{l:?}").hash(&mut h);
                (&ptx.f32, &ptx.f64).hash(&mut h);
                exact_fn.to_string().hash(&mut h);
            }
        }
        Literal::u64_suffixed(h.finish())
    };
    let doc = format!("Stage `{name}` of a keops kernel.");
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub struct #ident #decl;

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        impl #decl #p::CpuStage for #ident #args {
            const INFO: &'static #p::StageInfo = &#p::StageInfo {
                name: #name,
                key: #key,
                vars: &[#(#vars),*],
                outer_cat: #outer_cat,
                red: #red,
                fdim: #fdim,
                wdim: #wdim,
                raw_param: #rp,
                raw_outer: #ro,
                raw_inner: #rn,
                idx_outer: #io,
                idx_inner: #inn,
                npf: #npf_l,
                nof: #nof_l,
                nnf: #nnf_l,
                acc: #acc_l,
                pair_ops: #pair_ops,
                dot_of: &[#(#dot_of),*],
                dot_nf: &[#(#dot_nf),*],
                dot_na: #dot_na,
                dot_nb: #dot_nb,
                ptx_f32: #ptx32,
                ptx_f64: #ptx64,
                gpu_f32: #gpu32,
                gpu_f64: #gpu64,
            };
            type Pf<E: #p::Elem> = [E; #npf_l];
            type Of<E: #p::Elem> = [E; #nof_l];
            type Nf<E: #p::Elem> = [E; #nnf_l];
            type Out<E: #p::Elem> = [E; #nout_l];
            type Acc<E: #p::Elem> = [E; #acc_l];
            type RawP<E: #p::Elem> = [E; #rp];
            type RawO<E: #p::Elem> = [E; #ro];
            type RawN<E: #p::Elem> = [E; #rn];
            type IdxO = [usize; #io];
            type IdxN = [usize; #inn];
            type Group<E: #p::Elem> = [E; #group];

            #[inline(always)]
            fn param<P: #p::Pack>(raw: &[P; #rp], pf: &mut [P; #npf_l]) {
                #param_destr
                #(#param_body)*
                #param_out
            }

            #[inline(always)]
            fn outer<P: #p::Pack>(raw: &[P; #ro], pf: &[P; #npf_l], of: &mut [P; #nof_l]) {
                #outer_destr_raw
                #outer_destr_pf
                #(#outer_body)*
                #outer_out
            }

            #[inline(always)]
            fn inner<P: #p::Pack>(raw: &[P; #rn], idx: &[usize; #inn], pf: &[P; #npf_l], nf: &mut [P; #nnf_l]) {
                #inner_destr_raw
                #inner_destr_pf
                #(#inner_body)*
                #inner_out
            }

            #[inline(always)]
            fn pair<P: #p::Pack>(
                pf: &[P; #npf_l],
                of: &[P::Elem; #nof_l],
                nf: #p::Features<'_, P::Elem>,
                ctx: &#p::PairCtx<'_, P>,
                dot: P,
                out: &mut [P; #nout_l],
            ) {
                #pair_destr_pf
                #pair_destr_of
                #(#pair_body)*
                #pair_out
            }

            #pair_sum

            #exact_fn
        }
    }
}

/// The exact single-pair evaluator of a stage: all four phases of the
/// (non-rewritten) lowering, for one outer row and one inner index.
pub(super) fn exact_tokens(l: &Lowered) -> TokenStream {
    let p = private();
    let lit = usize_lit;
    let (rp, ro, rn, io, inn) = (
        lit(l.raw_param),
        lit(l.raw_outer),
        lit(l.raw_inner),
        lit(l.idx_outer),
        lit(l.idx_inner),
    );
    let nout = lit(l.fdim + l.wdim);
    let input = |i: &Inst, lv: Option<&Ident>| -> TokenStream {
        let arr = |name: &str, k: u32| {
            let a = format_ident!("{}", name);
            let k = index(k, lv);
            quote!(#a[#k])
        };
        match *i {
            Inst::RawParam(k) => arr("raw_p", k),
            Inst::RawOuter(k) => arr("raw_o", k),
            Inst::RawInner(k) => arr("raw_n", k),
            Inst::Pf(k) => arr("pf", k),
            Inst::Of(k) => arr("of", k),
            Inst::Nf(k) => arr("nf", k),
            Inst::InnerIndexHi(k) => {
                let k = lit(k);
                quote!(#p::ops::index_hi::<P>(idx_n[#k]))
            }
            Inst::InnerIndexLo(k) => {
                let k = lit(k);
                quote!(#p::ops::index_lo::<P>(idx_n[#k]))
            }
            Inst::OuterRowHi => quote!(ctx.row_hi),
            Inst::OuterRowLo => quote!(ctx.row_lo),
            Inst::MatchOuterIndex(k) => {
                let k = lit(k);
                quote!(#p::ops::index_match::<P>(ctx.oi[#k], ctx.j0))
            }
            ref other => panic!("unexpected input {other:?}"),
        }
    };
    let phase = |prog: &ScalarProg| -> TokenStream {
        let body = prog_body(prog, &input);
        let outs = outputs_value(prog, &input);
        quote!({ #(#body)* #outs })
    };
    let (param, outer, inner, pair) = (
        phase(&l.param),
        phase(&l.outer),
        phase(&l.inner),
        phase(&l.pair),
    );
    let (npf, nof, nnf) = (
        lit(l.param.outputs.len() as u32),
        lit(l.outer.outputs.len() as u32),
        lit(l.inner.outputs.len() as u32),
    );
    quote! {
        const RERANK: bool = true;

        #[inline(always)]
        fn exact<P: #p::Pack>(
            raw_p: &[P; #rp],
            raw_o: &[P; #ro],
            raw_n: &[P; #rn],
            idx_o: &[usize; #io],
            idx_n: &[usize; #inn],
            ctx: &#p::PairCtx<'_, P>,
            out: &mut [P; #nout],
        ) {
            let _ = idx_o;
            let pf: [P; #npf] = #param;
            let of: [P; #nof] = #outer;
            let nf: [P; #nnf] = #inner;
            *out = #pair;
        }
    }
}

/// Rows evaluated together by the CPU engine (register blocking): more rows
/// reuse each loaded pack of inner features more, but need more registers
/// for their states and outer features.
pub fn group_rows(l: &Lowered) -> u32 {
    if l.dot.is_some() {
        // The engine's blocked scalar-product kernel shares each inner
        // feature load between the group's rows.
        return 4;
    }
    // K-lists live in memory (the chunk loop only reads each row's K-th
    // value for the threshold test), so they do not count against registers.
    if matches!(l.red, Red::KMin(_) | Red::ArgKMin(_) | Red::KMinArgKMin(_)) {
        return if l.outer.outputs.len() > 24 { 1 } else { 2 };
    }
    // Registers per row: the state the chunk loop updates (a sum's Kahan
    // half is untouched outside the Kahan scheme) and the outer features.
    let state = match l.red {
        Red::Sum => l.fdim,
        r => acc_len(r, l.fdim, l.wdim),
    };
    let live = state + l.outer.outputs.len() as u32;
    if live <= 8 {
        4
    } else if live <= 16 {
        2
    } else {
        1
    }
}
