//! A scalar program as Rust statements: its values (`v<k>`), its loops
//! (bodies with values `w<k>`, summed or written out), its outputs and the
//! scalar locals read from the input arrays.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::inst::inst_expr;
use super::tokens::{private, usize_lit};
use crate::ir::Bin;
use crate::lower::{Accumulate, Inst, Loop, ScalarProg, LOOP_MIN_DIM};

/// How a phase function reads an input instruction: the instruction and,
/// inside a loop body, the loop index (`b + __k` for component `b`).
type InputFn<'a> = dyn Fn(&Inst, Option<&Ident>) -> TokenStream + 'a;

/// The index expression of component `k` (plus the loop index inside a loop).
pub(super) fn index(k: u32, lv: Option<&Ident>) -> TokenStream {
    let k = usize_lit(k);
    match lv {
        Some(lv) => quote!(#k + #lv),
        None => quote!(#k),
    }
}

pub(super) fn value_ident(k: u32) -> Ident {
    format_ident!("v{}", k)
}

pub(super) fn body_ident(k: u32) -> Ident {
    format_ident!("w{}", k)
}

/// The loop index variable of generated loops.
pub(super) fn loop_var() -> Ident {
    format_ident!("__k")
}

/// The statements of one iteration of a loop body (values `w<k>`).
pub(super) fn loop_body(lp: &Loop, input: &InputFn) -> Vec<TokenStream> {
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

/// The expression of an [`Inst::LoopSum`]: the terms added in order with
/// the roundings of the scalarised program (see [`Accumulate`]).
fn loop_sum(lp: &Loop, input: &InputFn) -> TokenStream {
    let p = private();
    let lv = loop_var();
    let body = loop_body(lp, input);
    let out = lp.body.outputs[0];
    let t = body_ident(out);
    let uses = lp.body.use_counts();
    let len = usize_lit(lp.len);
    match lp.body.insts[out as usize] {
        Inst::Bin(Bin::Mul, a, b) if uses[out as usize] == 1 => {
            let (a, b) = (body_ident(a), body_ident(b));
            let first = match lp.acc {
                // `fma(a0, b0, t1)`, then the others from 2 (`a0 * b0` for
                // a loop of one iteration: the length is a const-generic
                // width of the generated code, which may be 1).
                Accumulate::Adds => quote! {
                    let #lv: usize = 0;
                    #(#body)*
                    let (__a, __b) = (#a, #b);
                    let mut __acc: P = if #len >= 2 {
                        let #lv: usize = 1;
                        #(#body)*
                        #p::Pack::mul_add(__a, __b, #t)
                    } else {
                        __a * __b
                    };
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
pub(super) fn prog_body(prog: &ScalarProg, input: &InputFn) -> Vec<TokenStream> {
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
    /// First position, value, count: a long run of one value (the constant
    /// second factors of a sum of a vector), written by one loop.
    Splat(u32, u32, u32),
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
                let v = outs[pos];
                let same = outs[pos..].iter().take_while(|&&o| o == v).count();
                if same >= LOOP_MIN_DIM as usize {
                    runs.push(OutRun::Splat(pos as u32, v, same as u32));
                    pos += same;
                } else {
                    runs.push(OutRun::Value(pos as u32, v));
                    pos += 1;
                }
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
            OutRun::Splat(pos, v, len) => {
                let (pos, v, len) = (usize_lit(pos), value_ident(v), usize_lit(len));
                quote!(for #lv in 0..#len { #dest[#pos + #lv] = #v; })
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
pub(super) fn store_outputs(prog: &ScalarProg, input: &InputFn, dest: &str) -> TokenStream {
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
pub(super) fn outputs_value(prog: &ScalarProg, input: &InputFn) -> TokenStream {
    if plain_outputs(prog) {
        outputs_array(prog)
    } else {
        let p = private();
        let n = usize_lit(prog.outputs.len() as u32);
        let w = write_outputs(prog, input, &quote!(__o));
        quote!({
            let mut __o: [P; #n] = #p::Buf::splat(#p::ops::c::<P>(0.0));
            #(#w)*
            __o
        })
    }
}

/// Reads the components of array `name` (of `n`) used as scalars into
/// locals `name<k>`: one pattern for short arrays, one `let` per used
/// component for long ones (whose other components loops read in place).
pub(super) fn destructure(name: &str, n: u32, used: &[u32]) -> TokenStream {
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
