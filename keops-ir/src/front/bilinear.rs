//! The bilinear maps of `matvecmult`, `vecmatmult`, `tensorprod` and
//! `keops_tensordot` (IR [`Op::Bilinear`](crate::ir::Op::Bilinear) nodes).

use crate::ir::BilinearMap;

/// `matvecmult`: `a` is a row-major `m × n` matrix, `v` has dimension `n`.
pub fn matvec_map(m: u32, n: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k, k * n + l, l));
        }
    }
    BilinearMap {
        name: "matvecmult",
        dim_a: m * n,
        dim_b: n,
        dim_out: m,
        terms,
    }
}

/// `vecmatmult`: `v` has dimension `n`, `a` is a row-major `n × m` matrix;
/// `out[k] = sum_l v[l] a[l m + k]`.
pub fn vecmat_map(n: u32, m: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k, l, l * m + k));
        }
    }
    BilinearMap {
        name: "vecmatmult",
        dim_a: n,
        dim_b: n * m,
        dim_out: m,
        terms,
    }
}

/// `tensorprod`: `out[k n + l] = x[k] y[l]`.
pub fn tensorprod_map(m: u32, n: u32) -> BilinearMap {
    let mut terms = Vec::with_capacity((m * n) as usize);
    for k in 0..m {
        for l in 0..n {
            terms.push((k * n + l, k, l));
        }
    }
    BilinearMap {
        name: "tensorprod",
        dim_a: m,
        dim_b: n,
        dim_out: m * n,
        terms,
    }
}

/// `keops_tensordot(a, b, dimfa, dimfb, contfa, contfb, permute)`: `a` and
/// `b` are row-major tensors of shapes `dimfa` and `dimfb`; axes `contfa[k]`
/// of `a` and `contfb[k]` of `b` are contracted; the kept axes of `a` then of
/// `b` form the output, kept axis `q` going to output position `permute[q]`
/// (identity by default), as in KeOps.
pub fn tensordot_map(
    dfa: &[u32],
    dfb: &[u32],
    cfa: &[u32],
    cfb: &[u32],
    permute: Option<&[u32]>,
    dim_a: u32,
    dim_b: u32,
) -> Result<BilinearMap, String> {
    // Products in u64, saturating (the shapes must multiply to the
    // operands' dimensions, which are at most `MAX_DIM`).
    let prod = |v: &[u32]| {
        v.iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(u64::from(d)))
    };
    if dfa.is_empty() || dfb.is_empty() {
        return Err("the shapes must not be empty".into());
    }
    const MAX_AXES: usize = 32;
    if dfa.len() > MAX_AXES || dfb.len() > MAX_AXES {
        return Err(format!("the shapes have at most {MAX_AXES} axes"));
    }
    if dfa.contains(&0) || dfb.contains(&0) {
        return Err("the shapes' sizes must be at least 1".into());
    }
    if prod(dfa) != u64::from(dim_a) {
        return Err(format!(
            "the shape {dfa:?} has {} entries but the first operand has dimension {dim_a}",
            prod(dfa)
        ));
    }
    if prod(dfb) != u64::from(dim_b) {
        return Err(format!(
            "the shape {dfb:?} has {} entries but the second operand has dimension {dim_b}",
            prod(dfb)
        ));
    }
    if cfa.len() != cfb.len() {
        return Err("`contfa` and `contfb` must have the same length".into());
    }
    for (&x, &y) in cfa.iter().zip(cfb) {
        if x as usize >= dfa.len() || y as usize >= dfb.len() {
            return Err("a contracted axis is out of range".into());
        }
        if dfa[x as usize] != dfb[y as usize] {
            return Err(format!(
                "contracted axes {x} of a (size {}) and {y} of b (size {}) differ in size",
                dfa[x as usize], dfb[y as usize]
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !cfa.iter().all(|x| seen.insert(*x)) {
        return Err("`contfa` repeats an axis".into());
    }
    let mut seen = std::collections::HashSet::new();
    if !cfb.iter().all(|x| seen.insert(*x)) {
        return Err("`contfb` repeats an axis".into());
    }
    let keep_a: Vec<usize> = (0..dfa.len())
        .filter(|k| !cfa.contains(&(*k as u32)))
        .collect();
    let keep_b: Vec<usize> = (0..dfb.len())
        .filter(|k| !cfb.contains(&(*k as u32)))
        .collect();
    let keep_dims: Vec<u32> = keep_a
        .iter()
        .map(|&k| dfa[k])
        .chain(keep_b.iter().map(|&k| dfb[k]))
        .collect();
    let nk = keep_dims.len();
    let perm: Vec<usize> = match permute {
        Some(p) => {
            let mut sorted: Vec<u32> = p.to_vec();
            sorted.sort();
            if sorted != (0..nk as u32).collect::<Vec<_>>() {
                return Err(format!("`permute` must be a permutation of 0..{nk}"));
            }
            p.iter().map(|&x| x as usize).collect()
        }
        None => (0..nk).collect(),
    };
    // Output shape: kept axis q sits at position perm[q].
    let mut out_dims = vec![0u32; nk];
    for q in 0..nk {
        out_dims[perm[q]] = keep_dims[q];
    }
    let strides = |dims: &[u32]| -> Vec<u32> {
        let mut s = vec![1u32; dims.len()];
        for k in (0..dims.len().saturating_sub(1)).rev() {
            s[k] = s[k + 1] * dims[k + 1];
        }
        s
    };
    let sa = strides(dfa);
    let sb = strides(dfb);
    let so = strides(&out_dims);
    let cont_dims: Vec<u32> = cfa.iter().map(|&x| dfa[x as usize]).collect();
    // At most dim_a * dim_b <= MAX_DIM^2 and dim_a: no overflow.
    let total_keep: u32 = keep_dims.iter().product();
    let total_cont: u32 = cont_dims.iter().product();
    if total_keep > crate::limits::MAX_DIM {
        return Err(format!(
            "the result has dimension {total_keep}, more than the limit {}",
            crate::limits::MAX_DIM
        ));
    }
    let n_terms = u64::from(total_keep) * u64::from(total_cont);
    if n_terms > crate::limits::MAX_SCALAR_OPS as u64 {
        return Err(format!(
            "{n_terms} products, more than the limit {}",
            crate::limits::MAX_SCALAR_OPS
        ));
    }
    let mut terms = Vec::new();
    for kk in 0..total_keep {
        // Multi-index over kept axes (row-major in keep order).
        let mut rem = kk;
        let mut kidx = vec![0u32; nk];
        for q in (0..nk).rev() {
            kidx[q] = rem % keep_dims[q];
            rem /= keep_dims[q];
        }
        let mut o = 0;
        for q in 0..nk {
            o += kidx[q] * so[perm[q]];
        }
        for cc in 0..total_cont {
            let mut rem = cc;
            let mut cidx = vec![0u32; cont_dims.len()];
            for q in (0..cont_dims.len()).rev() {
                cidx[q] = rem % cont_dims[q];
                rem /= cont_dims[q];
            }
            let mut ia = 0;
            for (q, &ax) in keep_a.iter().enumerate() {
                ia += kidx[q] * sa[ax];
            }
            for (q, &ax) in cfa.iter().enumerate() {
                ia += cidx[q] * sa[ax as usize];
            }
            let mut ib = 0;
            for (q, &ax) in keep_b.iter().enumerate() {
                ib += kidx[keep_a.len() + q] * sb[ax];
            }
            for (q, &ax) in cfb.iter().enumerate() {
                ib += cidx[q] * sb[ax as usize];
            }
            terms.push((o, ia, ib));
        }
    }
    terms.sort();
    Ok(BilinearMap {
        name: "tensordot",
        dim_a,
        dim_b,
        dim_out: total_keep,
        terms,
    })
}
