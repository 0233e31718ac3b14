//! The PTX of stages whose widths are const generics of the user's code
//! (`Vi<D>`): the macro cannot emit it (PTX is unrolled per width), so the
//! stage carries its kernel definition instead
//! ([`keops_abi::NAMED_WIDTHS_PTX`]), and the first GPU call at some widths
//! builds the family at those widths with the formula pipeline
//! (`keops-ir`) and emits its PTX (`keops-gpu-kernels`), in-process: no
//! compiler. The stage descriptions with their PTX are kept for the
//! process, one per stage and set of widths.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use keops_abi::{StageInfo, NAMED_WIDTHS_PTX};

use crate::error::{Error, Result};

/// The stages built so far: (address of the definition's text, dimensions of
/// the stage's variables) → the stage with its PTX.
type Built = HashMap<(usize, Vec<usize>), &'static StageInfo>;

/// The stage itself when it has its PTX, else its PTX at the widths of its
/// variables' dimensions.
pub(crate) fn with_ptx(info: &'static StageInfo) -> Result<&'static StageInfo> {
    let Some(rest) = info.ptx_f32.strip_prefix(NAMED_WIDTHS_PTX) else {
        return Ok(info);
    };
    // The widths are in the dimensions of the stage's variables.
    let dims: Vec<usize> = info.vars.iter().map(|v| v.dim).collect();
    let key = (rest.as_ptr() as usize, dims);
    static CACHE: OnceLock<Mutex<Built>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let poisoned = || Error::Internal("named-width PTX cache poisoned".into());
    if let Some(&found) = cache.lock().map_err(|_| poisoned())?.get(&key) {
        return Ok(found);
    }
    let built: &'static StageInfo = Box::leak(Box::new(build(info, rest)?));
    cache.lock().map_err(|_| poisoned())?.insert(key, built);
    Ok(built)
}

fn build(info: &StageInfo, rest: &str) -> Result<StageInfo> {
    let bad = |why: String| Error::Internal(format!("named-width stage `{}`: {why}", info.name));
    let (k, text) = rest
        .split_once(' ')
        .ok_or_else(|| bad("no stage number".into()))?;
    let k: usize = k.parse().map_err(|_| bad("a bad stage number".into()))?;
    let mut def = keops_ir::wire::read(text).map_err(bad)?;
    // Each width's value: the dimension of a variable of the stage declared
    // with it.
    let mut widths: HashMap<String, usize> = HashMap::new();
    for p in &def.params {
        let dim = info.vars.iter().find(|v| v.name == p.name).map(|v| v.dim);
        if let (Some(w), Some(dim)) = (&p.width, dim) {
            widths.entry(w.clone()).or_insert(dim);
        }
    }
    for p in &mut def.params {
        if let Some(w) = &p.width {
            let dim = *widths
                .get(w)
                .ok_or_else(|| bad(format!("no variable of width `{w}`")))?;
            p.dim = u32::try_from(dim).map_err(|_| bad(format!("width `{w}` = {dim}")))?;
        }
    }
    let stage = keops_ir::front::build_stage(&def, true).map_err(|e| {
        Error::Unsupported(format!(
            "named-width stage `{}` at these widths: {e}",
            info.name
        ))
    })?;
    let order = keops_ir::grad_order(&def.options, &stage);
    let family = keops_ir::stage::Family::with_budget(
        stage,
        order,
        keops_ir::limits::MAX_SCALAR_OPS,
        keops_ir::limits::MAX_FAMILY_NODES,
    )
    .map_err(|_| {
        Error::Unsupported(format!(
            "named-width stage `{}`: its GPU code at these widths exceeds the compiler's limits (keops_ir::limits)",
            info.name
        ))
    })?;
    let st = family
        .stages
        .get(k)
        .ok_or_else(|| bad(format!("no stage {k} at these widths")))?;
    // The family at these widths must be the one the CPU code was made from.
    let same_vars = st.vars.len() == info.vars.len()
        && st
            .vars
            .iter()
            .zip(info.vars)
            .all(|(a, b)| a.name == b.name && a.dim as usize == b.dim && a.cat == b.cat);
    let fdim = st.graph.dim(st.f) as usize;
    let wdim = st.w.map_or(0, |w| st.graph.dim(w) as usize);
    if !same_vars || st.red != info.red || fdim != info.fdim || wdim != info.wdim {
        return Err(bad(
            "the family at these widths differs from the compiled one".into(),
        ));
    }
    let ptx = keops_gpu_kernels::emit_stage_ptx(st, &def.options);
    Ok(StageInfo {
        ptx_f32: Box::leak(ptx.f32.into_boxed_str()),
        ptx_f64: Box::leak(ptx.f64.into_boxed_str()),
        gpu_f32: ptx.gpu_f32,
        gpu_f64: ptx.gpu_f64,
        ..*info
    })
}
