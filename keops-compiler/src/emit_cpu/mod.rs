//! Code generation: the Rust tokens of a kernel family.
//!
//! For every stage, a unit struct implementing `keops::__private::CpuStage`
//! (the four phase programs as `#[inline(always)]` functions generic over
//! the SIMD pack type, plus static metadata and the PTX text); for every
//! program, a kernel struct with a typed `call`, the gradient accessors and
//! per-call options. All paths are absolute (`::keops::__private::...`) and
//! the generated code holds no `unsafe`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Bin, Cat, Tern, Un};
use crate::lower::{lower_looped, Accumulate, Inst, Loop, Lowered, Role, ScalarProg, LOOP_MIN_DIM};
use crate::stage::{
    acc_len, Family, GpuMeta, Program, Red, StagePtx, Step, Value, ValueType, VarKind,
};

/// The path of the runtime interface in generated code: every expansion
/// starts with `use <facade>::__private as __keops;` (see [`expand`]), so
/// the facade's own path (`$crate`) is written once and a renamed
/// dependency works.
fn private() -> TokenStream {
    quote!(__keops)
}

fn usize_lit(v: u32) -> Literal {
    Literal::usize_unsuffixed(v as usize)
}

fn cat_tokens(c: Cat) -> TokenStream {
    let p = private();
    match c {
        Cat::I => quote!(#p::Cat::I),
        Cat::J => quote!(#p::Cat::J),
        Cat::P => quote!(#p::Cat::P),
    }
}

fn red_tokens(r: Red) -> TokenStream {
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
fn gpu_meta_tokens(m: GpuMeta) -> TokenStream {
    let p = private();
    if m == GpuMeta::NONE {
        return quote!(#p::GpuMeta::NONE);
    }
    let lit = Literal::u32_unsuffixed;
    let (b, t) = (lit(m.block), lit(m.tile));
    let (o, s) = (lit(m.outer_scratch), lit(m.partial_slots));
    quote!(#p::GpuMeta { block: #b, tile: #t, outer_scratch: #o, partial_slots: #s })
}

fn const_tokens(bits: u64) -> TokenStream {
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

/// How a phase function reads an input instruction: the instruction and,
/// inside a loop body, the loop index (`b + __k` for component `b`).
type InputFn<'a> = dyn Fn(&Inst, Option<&Ident>) -> TokenStream + 'a;

/// The index expression of component `k` (plus the loop index inside a loop).
fn index(k: u32, lv: Option<&Ident>) -> TokenStream {
    let k = usize_lit(k);
    match lv {
        Some(lv) => quote!(#k + #lv),
        None => quote!(#k),
    }
}

/// The expression of one arithmetic instruction; values are named by `v`.
fn inst_expr(inst: &Inst, v: &dyn Fn(u32) -> Ident) -> Option<TokenStream> {
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

fn value_ident(k: u32) -> Ident {
    format_ident!("v{}", k)
}

fn body_ident(k: u32) -> Ident {
    format_ident!("w{}", k)
}

/// The loop index variable of generated loops.
fn loop_var() -> Ident {
    format_ident!("__k")
}

/// The statements of one iteration of a loop body (values `w<k>`).
fn loop_body(lp: &Loop, input: &InputFn) -> Vec<TokenStream> {
    let lv = loop_var();
    lp.body
        .insts
        .iter()
        .enumerate()
        .map(|(k, inst)| {
            let name = body_ident(k as u32);
            let expr = match *inst {
                Inst::Cap(v) => {
                    let v = value_ident(v);
                    quote!(#v)
                }
                ref i => inst_expr(i, &body_ident).unwrap_or_else(|| input(i, Some(&lv))),
            };
            quote!(let #name: P = #expr;)
        })
        .collect()
}

/// Uses of each value of a program by its instructions and outputs.
fn use_counts(prog: &ScalarProg) -> Vec<usize> {
    let mut uses = vec![0usize; prog.insts.len()];
    for k in 0..prog.insts.len() {
        for o in prog.operands(k) {
            uses[o as usize] += 1;
        }
    }
    for &o in &prog.outputs {
        uses[o as usize] += 1;
    }
    uses
}

/// The expression of an [`Inst::LoopSum`]: the terms added in order with
/// the roundings of the scalarised program (see [`Accumulate`]).
fn loop_sum(lp: &Loop, input: &InputFn) -> TokenStream {
    let p = private();
    let lv = loop_var();
    let body = loop_body(lp, input);
    let out = lp.body.outputs[0];
    let t = body_ident(out);
    let uses = use_counts(&lp.body);
    let len = usize_lit(lp.len);
    match lp.body.insts[out as usize] {
        Inst::Bin(Bin::Mul, a, b) if uses[out as usize] == 1 => {
            let (a, b) = (body_ident(a), body_ident(b));
            let first = match lp.acc {
                // `fma(a0, b0, t1)`, then the others from 2.
                Accumulate::Adds => quote! {
                    let #lv: usize = 0;
                    #(#body)*
                    let (__a, __b) = (#a, #b);
                    let #lv: usize = 1;
                    #(#body)*
                    let mut __acc: P = #p::Pack::mul_add(__a, __b, #t);
                    let __from = 2;
                },
                Accumulate::Fmas => quote! {
                    let #lv: usize = 0;
                    #(#body)*
                    let mut __acc: P = #t;
                    let __from = 1;
                },
            };
            quote!({
                #first
                for #lv in __from..#len {
                    #(#body)*
                    __acc = #p::Pack::mul_add(#a, #b, __acc);
                }
                __acc
            })
        }
        _ => quote!({
            let #lv: usize = 0;
            #(#body)*
            let mut __acc: P = #t;
            for #lv in 1..#len {
                #(#body)*
                __acc = __acc + #t;
            }
            __acc
        }),
    }
}

/// The statements of one program (values `v<k>`; the outputs are written
/// separately, see [`write_outputs`]).
fn prog_body(prog: &ScalarProg, input: &InputFn) -> Vec<TokenStream> {
    let mut stmts = Vec::new();
    for (k, inst) in prog.insts.iter().enumerate() {
        let name = value_ident(k as u32);
        let expr = match *inst {
            Inst::LoopElem(..) => continue,
            Inst::LoopSum(l) => loop_sum(&prog.loops[l as usize], input),
            ref i => inst_expr(i, &value_ident).unwrap_or_else(|| input(i, None)),
        };
        stmts.push(quote!(let #name: P = #expr;));
    }
    stmts
}

/// One output of a program: a value, or a run of a loop's outputs.
enum OutRun {
    /// Output position, value.
    Value(u32, u32),
    /// Loop; for each of its body outputs written, the first position.
    Loop(u32, Vec<(u8, u32)>),
}

/// The outputs of `prog` as values and loop runs (each loop once, with
/// every run of its outputs).
fn output_runs(prog: &ScalarProg) -> Vec<OutRun> {
    let mut runs: Vec<OutRun> = Vec::new();
    let mut pos = 0usize;
    let outs = &prog.outputs;
    while pos < outs.len() {
        match prog.insts[outs[pos] as usize] {
            Inst::LoopElem(l, 0, o) => {
                let len = prog.loops[l as usize].len as usize;
                let contiguous = (0..len).all(|k| {
                    outs.get(pos + k).map(|&v| prog.insts[v as usize])
                        == Some(Inst::LoopElem(l, k as u32, o))
                });
                assert!(
                    contiguous,
                    "internal error: a loop's outputs are not one run"
                );
                let existing = runs
                    .iter_mut()
                    .find(|r| matches!(r, OutRun::Loop(ll, _) if *ll == l));
                match existing {
                    Some(OutRun::Loop(_, list)) => list.push((o, pos as u32)),
                    _ => runs.push(OutRun::Loop(l, vec![(o, pos as u32)])),
                }
                pos += len;
            }
            Inst::LoopElem(..) => panic!("internal error: a loop run does not start at 0"),
            _ => {
                runs.push(OutRun::Value(pos as u32, outs[pos]));
                pos += 1;
            }
        }
    }
    runs
}

/// Statements writing the outputs of `prog` to `dest[position]`.
fn write_outputs(prog: &ScalarProg, input: &InputFn, dest: &TokenStream) -> Vec<TokenStream> {
    let lv = loop_var();
    output_runs(prog)
        .into_iter()
        .map(|r| match r {
            OutRun::Value(pos, v) => {
                let (pos, v) = (usize_lit(pos), value_ident(v));
                quote!(#dest[#pos] = #v;)
            }
            OutRun::Loop(l, list) => {
                let lp = &prog.loops[l as usize];
                let body = loop_body(lp, input);
                let len = usize_lit(lp.len);
                let writes = list.iter().map(|&(o, pos)| {
                    let w = body_ident(lp.body.outputs[o as usize]);
                    let pos = usize_lit(pos);
                    quote!(#dest[#pos + #lv] = #w;)
                });
                quote!(for #lv in 0..#len { #(#body)* #(#writes)* })
            }
        })
        .collect()
}

/// True when the program returns values only (no loop outputs).
fn plain_outputs(prog: &ScalarProg) -> bool {
    !prog
        .outputs
        .iter()
        .any(|&o| matches!(prog.insts[o as usize], Inst::LoopElem(..)))
}

fn outputs_array(prog: &ScalarProg) -> TokenStream {
    let outs: Vec<Ident> = prog.outputs.iter().map(|&o| value_ident(o)).collect();
    quote!([#(#outs),*])
}

/// `*dest = [outputs]`, or one write per output and loop run.
fn store_outputs(prog: &ScalarProg, input: &InputFn, dest: &str) -> TokenStream {
    let d = format_ident!("{}", dest);
    if plain_outputs(prog) {
        let arr = outputs_array(prog);
        quote!(*#d = #arr;)
    } else {
        let w = write_outputs(prog, input, &quote!(#d));
        quote!(#(#w)*)
    }
}

/// A block evaluating to the outputs of `prog` as an array of `n` packs.
fn outputs_value(prog: &ScalarProg, input: &InputFn) -> TokenStream {
    if plain_outputs(prog) {
        outputs_array(prog)
    } else {
        let p = private();
        let n = usize_lit(prog.outputs.len() as u32);
        let w = write_outputs(prog, input, &quote!(__o));
        quote!({
            let mut __o = [#p::ops::c::<P>(0.0); #n];
            #(#w)*
            __o
        })
    }
}

/// Reads the components of array `name` (of `n`) used as scalars into
/// locals `name<k>`: one pattern for short arrays, one `let` per used
/// component for long ones (whose other components loops read in place).
fn destructure(name: &str, n: u32, used: &[u32]) -> TokenStream {
    let mut used = used.to_vec();
    used.sort_unstable();
    used.dedup();
    let src = format_ident!("{}", name);
    if used.is_empty() {
        return quote!();
    }
    if n <= 2 * LOOP_MIN_DIM {
        let pats = (0..n).map(|k| {
            if used.binary_search(&k).is_ok() {
                let id = format_ident!("{}{}", name, k);
                quote!(#id)
            } else {
                quote!(_)
            }
        });
        return quote!(let [#(#pats),*] = *#src;);
    }
    let lets = used.iter().map(|&k| {
        let id = format_ident!("{}{}", name, k);
        let k = usize_lit(k);
        quote!(let #id = #src[#k];)
    });
    quote!(#(#lets)*)
}

/// Rewrites the outputs `v_d` of a sum stage's pair program as factor pairs:
/// outputs `[a_0 .. a_{D-1}, b_0 .. b_{D-1}]` with `v_d = a_d * b_d` (the
/// product is dropped when `v_d` is used nowhere else), or `b_d = 1`. A
/// loop's run of outputs is factored in its body.
fn factor_outputs(prog: &ScalarProg) -> ScalarProg {
    let mut p = prog.clone();
    let uses = use_counts(&p);
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
        let bu = use_counts(body);
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
) -> TokenStream {
    let p = private();
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
        format!("{l:?}").hash(&mut h);
        (&ptx.f32, &ptx.f64).hash(&mut h);
        exact_fn.to_string().hash(&mut h);
        Literal::u64_suffixed(h.finish())
    };
    let doc = format!("Stage `{name}` of a keops kernel.");
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub struct #ident;

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        impl #p::CpuStage for #ident {
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
fn exact_tokens(l: &Lowered) -> TokenStream {
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

/// Name of the kernel method for a derivation step: `grad_x`.
pub fn grad_method(var: &str) -> Ident {
    format_ident!("grad_{}", sanitize(var))
}

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
    let p = private();
    let mut items = Vec::new();
    let stage_idents: Vec<Ident> = (0..family.stages.len())
        .map(|k| format_ident!("__KeopsStage{}", k))
        .collect();
    for (k, st) in family.stages.iter().enumerate() {
        let exact = lower_looped(st);
        let dot = crate::lower::lower_dot_form(st);
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
        ));
    }
    // The f64 code of the family's stages, named only by the kernels'
    // `__F64_STAGES` (rustc generates it only where `f64_accumulation` reads
    // that constant).
    items.push(quote! {
        pub const __KEOPS_F64: &[#p::F64Stage] = &[#(#p::F64Stage::of::<#stage_idents>()),*];
    });
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
                    pub fn #m(&self) -> #cid {
                        #cid { opts: self.opts }
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
        ));
    }
    let first = kernel_ident(0);
    quote! {
        {
            use #krate::__private as __keops;
            #(#items)*
            #first { opts: #p::Options::DEFAULT }
        }
    }
}

fn program_tokens(
    family: &Family,
    prog: &Program,
    ident: &Ident,
    path: &[String],
    stage_idents: &[Ident],
    grads: Vec<TokenStream>,
    doc_src: &str,
) -> TokenStream {
    let p = private();
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
                quote!(let #out = #p::run_stage::<#st, T::Compute>(&self.opts, &[#(#args),*], &__rows, #keep)?;)
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
                    <#st as #p::CpuStage>::INFO.ptx_f32
                }
                /// The PTX (f64) of the main stage.
                pub fn ptx_f64(&self) -> &'static str {
                    <#st as #p::CpuStage>::INFO.ptx_f64
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
                Some(quote!(<#st as #p::CpuStage>::INFO))
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
        pub struct #ident {
            opts: #p::Options,
        }

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic, non_snake_case)]
        impl #ident {
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
        impl #p::Kernel for #ident {
            #[inline]
            fn options(&self) -> #p::Options {
                self.opts
            }
            #[inline]
            fn with_options(self, opts: #p::Options) -> Self {
                #ident { opts }
            }
            fn input_names(&self) -> &'static [&'static str] {
                &[#(#input_names),*]
            }
            fn stages(&self) -> &'static [&'static #p::StageInfo] {
                &[#(#stage_names),*]
            }
            const __F64_STAGES: &'static [&'static [#p::F64Stage]] = &[__KEOPS_F64];
        }
    }
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
fn var_ident(name: &str) -> Ident {
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
            let dim = usize_lit(v.dim);
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
