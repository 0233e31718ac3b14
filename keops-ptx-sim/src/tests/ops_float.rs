//! Floating-point instructions against host or hand-derived references.

use super::super::float::{next_f32, NAN32, NAN64};
use super::*;

fn canon32(x: f32) -> u32 {
    if x.is_nan() {
        NAN32
    } else {
        x.to_bits()
    }
}

fn canon64(x: f64) -> u64 {
    if x.is_nan() {
        NAN64
    } else {
        x.to_bits()
    }
}

fn next_f64(x: f64, up: bool) -> f64 {
    if x.is_nan() || (x.is_infinite() && (x > 0.0) == up) {
        return x;
    }
    if x == 0.0 {
        let t = f64::from_bits(1);
        return if up { t } else { -t };
    }
    let b = x.to_bits();
    f64::from_bits(if (x > 0.0) == up { b + 1 } else { b - 1 })
}

/// Directed rounding of an exactly known value to f32, independent of the
/// simulator's soft-float code: round to nearest, then step one ulp.
fn round_dir_f32(exact: f64, mode: &str) -> f32 {
    let r = exact as f32;
    if r as f64 == exact {
        return r;
    }
    let below = if r as f64 > exact {
        next_f32(r, false)
    } else {
        r
    };
    let above = if (r as f64) < exact {
        next_f32(r, true)
    } else {
        r
    };
    match mode {
        "rz" => {
            if exact > 0.0 {
                below
            } else {
                above
            }
        }
        "rm" => below,
        "rp" => above,
        _ => r,
    }
}

/// Directed rounding of `s + e` (s = RN result, e = exact error) in f64.
fn round_dir_f64(s: f64, e: f64, mode: &str) -> f64 {
    if e == 0.0 || s.is_infinite() {
        return s;
    }
    match mode {
        "rm" if e < 0.0 => next_f64(s, false),
        "rp" if e > 0.0 => next_f64(s, true),
        "rz" if s > 0.0 && e < 0.0 => next_f64(s, false),
        "rz" if s < 0.0 && e > 0.0 => next_f64(s, true),
        _ => s,
    }
}

fn special_f32() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        3.0,
        1e-40,
        -1e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        -f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0e30,
        7.0e-39,
        1.1754942e-38,
    ]
}

fn random_f32(rng: &mut fastrand::Rng) -> f32 {
    match rng.u32(0..3) {
        0 => f32::from_bits(rng.u32(..)),
        1 => f32::from_bits(rng.u32(0x3000_0000..0x5000_0000) | (rng.u32(0..2) << 31)),
        _ => f32::from_bits(rng.u32(0..0x0100_0000) | (rng.u32(0..2) << 31)),
    }
}

fn f32_pairs(n: usize, seed: u64) -> Vec<(f32, f32, f32)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let sp = special_f32();
    let mut v = Vec::new();
    for &a in &sp {
        for &b in &sp {
            v.push((a, b, sp[(v.len() * 7) % sp.len()]));
        }
    }
    while v.len() < n {
        v.push((
            random_f32(&mut rng),
            random_f32(&mut rng),
            random_f32(&mut rng),
        ));
    }
    v
}

#[test]
fn f32_add_sub_mul_div_rn_match_host() {
    let cases = f32_pairs(3000, 1);
    let rows: Vec<_> = cases.iter().map(|&(a, b, _)| f4(a, b, 0.0, 0.0)).collect();
    let out = run_op(
        "add.rn.f32 %f1, %x0, %x1;
         st.global.f32 [%o], %f1;
         sub.rn.f32 %f2, %x0, %x1;
         st.global.f32 [%o+8], %f2;
         mul.rn.f32 %f3, %x0, %x1;
         st.global.f32 [%o+16], %f3;
         div.rn.f32 %f4, %x0, %x1;
         st.global.f32 [%o+24], %f4;",
        &rows,
    );
    for (&(a, b, _), o) in cases.iter().zip(&out) {
        assert_eq!(o[0] as u32, canon32(a + b), "{a:e} + {b:e}");
        assert_eq!(o[1] as u32, canon32(a - b), "{a:e} - {b:e}");
        assert_eq!(o[2] as u32, canon32(a * b), "{a:e} * {b:e}");
        assert_eq!(o[3] as u32, canon32(a / b), "{a:e} / {b:e}");
    }
}

#[test]
fn f32_fma_sqrt_rcp_rn_match_host() {
    let cases = f32_pairs(3000, 2);
    let rows: Vec<_> = cases.iter().map(|&(a, b, c)| f4(a, b, c, 0.0)).collect();
    let out = run_op(
        "fma.rn.f32 %f1, %x0, %x1, %x2;
         st.global.f32 [%o], %f1;
         sqrt.rn.f32 %f2, %x0;
         st.global.f32 [%o+8], %f2;
         rcp.rn.f32 %f3, %x1;
         st.global.f32 [%o+16], %f3;
         mad.rn.f32 %f4, %x1, %x2, %x0;
         st.global.f32 [%o+24], %f4;",
        &rows,
    );
    for (&(a, b, c), o) in cases.iter().zip(&out) {
        assert_eq!(
            o[0] as u32,
            canon32(a.mul_add(b, c)),
            "fma {a:e} {b:e} {c:e}"
        );
        assert_eq!(o[1] as u32, canon32(a.sqrt()), "sqrt {a:e}");
        assert_eq!(o[2] as u32, canon32(1.0 / b), "rcp {b:e}");
        assert_eq!(
            o[3] as u32,
            canon32(b.mul_add(c, a)),
            "mad {b:e} {c:e} {a:e}"
        );
    }
}

#[test]
fn f64_rn_ops_match_host() {
    let mut rng = fastrand::Rng::with_seed(3);
    let sp = [
        0.0,
        -0.0,
        1.0,
        -2.5,
        1e-310,
        f64::MAX,
        f64::INFINITY,
        f64::NAN,
        1e300,
    ];
    let mut cases = Vec::new();
    for &a in &sp {
        for &b in &sp {
            cases.push((a, b, 0.75));
        }
    }
    while cases.len() < 2000 {
        let g = |rng: &mut fastrand::Rng| match rng.u32(0..2) {
            0 => f64::from_bits(rng.u64(..)),
            _ => f64::from_bits(rng.u64(0x3F00_0000_0000_0000..0x4100_0000_0000_0000)),
        };
        cases.push((g(&mut rng), g(&mut rng), g(&mut rng)));
    }
    let rows: Vec<_> = cases.iter().map(|&(a, b, c)| d4(a, b, c, 0.0)).collect();
    let out = run_op(
        "add.rn.f64 %fd1, %d0, %d1;
         st.global.f64 [%o], %fd1;
         mul.rn.f64 %fd2, %d0, %d1;
         div.rn.f64 %fd3, %d0, %d1;
         fma.rn.f64 %fd4, %d0, %d1, %d2;
         sub.rn.f64 %fd5, %fd2, %fd3;
         st.global.f64 [%o+8], %fd5;
         st.global.f64 [%o+16], %fd4;
         sqrt.rn.f64 %fd6, %d0;
         rcp.rn.f64 %fd7, %d1;
         add.rn.f64 %fd8, %fd6, %fd7;
         st.global.f64 [%o+24], %fd8;",
        &rows,
    );
    for (&(a, b, c), o) in cases.iter().zip(&out) {
        assert_eq!(o[0], canon64(a + b));
        assert_eq!(o[1], canon64(a * b - a / b));
        assert_eq!(o[2], canon64(a.mul_add(b, c)));
        assert_eq!(o[3], canon64(a.sqrt() + 1.0 / b));
    }
}

#[test]
fn f32_directed_add_sub_mul_are_exact() {
    let mut rng = fastrand::Rng::with_seed(4);
    let mut cases = vec![
        (1.0f32, 1e-8f32),
        (-1.0, 1e-8),
        (1.0, -1e-8),
        (f32::MAX, f32::MAX),
        (-f32::MAX, -f32::MAX),
        (3.0, -3.0),
        (1e-40, 1e-40),
    ];
    while cases.len() < 3000 {
        let g = |rng: &mut fastrand::Rng| {
            f32::from_bits(rng.u32(0x3A00_0000..0x4500_0000) | (rng.u32(0..2) << 31))
        };
        cases.push((g(&mut rng), g(&mut rng)));
    }
    for mode in ["rz", "rm", "rp"] {
        let rows: Vec<_> = cases.iter().map(|&(a, b)| f4(a, b, 0.0, 0.0)).collect();
        let out = run_op(
            &format!(
                "add.{mode}.f32 %f1, %x0, %x1;
                 st.global.f32 [%o], %f1;
                 sub.{mode}.f32 %f2, %x0, %x1;
                 st.global.f32 [%o+8], %f2;
                 mul.{mode}.f32 %f3, %x0, %x1;
                 st.global.f32 [%o+16], %f3;"
            ),
            &rows,
        );
        for (&(a, b), o) in cases.iter().zip(&out) {
            let (x, y) = (a as f64, b as f64);
            if x + y == 0.0 && a != -b {
                continue;
            }
            if x + y == 0.0 {
                // exact cancellation: -0 only when rounding down
                let z = if mode == "rm" { -0.0f32 } else { 0.0 };
                assert_eq!(o[0] as u32, z.to_bits(), "{mode} {a:e}+{b:e}");
            } else {
                assert_eq!(of32(o[0]), round_dir_f32(x + y, mode), "{mode} {a:e}+{b:e}");
            }
            if x - y != 0.0 {
                assert_eq!(of32(o[1]), round_dir_f32(x - y, mode), "{mode} {a:e}-{b:e}");
            }
            assert_eq!(of32(o[2]), round_dir_f32(x * y, mode), "{mode} {a:e}*{b:e}");
        }
    }
}

#[test]
fn f64_directed_add_mul_are_exact() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut cases = vec![(1.0f64, 1e-20f64), (-1.0, 1e-20), (f64::MAX, f64::MAX)];
    while cases.len() < 3000 {
        let g = |rng: &mut fastrand::Rng| {
            f64::from_bits(
                rng.u64(0x3000_0000_0000_0000..0x5000_0000_0000_0000) | (rng.u64(0..2) << 63),
            )
        };
        cases.push((g(&mut rng), g(&mut rng)));
    }
    for mode in ["rz", "rm", "rp"] {
        let rows: Vec<_> = cases.iter().map(|&(a, b)| d4(a, b, 0.0, 0.0)).collect();
        let out = run_op(
            &format!(
                "add.{mode}.f64 %fd1, %d0, %d1;
                 st.global.f64 [%o], %fd1;
                 mul.{mode}.f64 %fd2, %d0, %d1;
                 st.global.f64 [%o+8], %fd2;"
            ),
            &rows,
        );
        for (&(a, b), o) in cases.iter().zip(&out) {
            let s = a + b;
            let bb = s - a;
            let e = (a - (s - bb)) + (b - bb); // TwoSum error, exact
                                               // overflow: the directed modes may stay finite
            let overflow = |s: f64| match mode {
                "rz" => f64::MAX.copysign(s),
                "rm" if s > 0.0 => f64::MAX,
                "rp" if s < 0.0 => -f64::MAX,
                _ => s,
            };
            let want = if s.is_infinite() {
                overflow(s)
            } else {
                round_dir_f64(s, e, mode)
            };
            assert_eq!(f64::from_bits(o[0]), want, "{mode} {a:e}+{b:e}");
            let p = a * b;
            let pe = a.mul_add(b, -p); // exact product error (no underflow here)
            let want = if p.is_infinite() {
                overflow(p)
            } else {
                round_dir_f64(p, pe, mode)
            };
            assert_eq!(f64::from_bits(o[1]), want, "{mode} {a:e}*{b:e}");
        }
    }
}

#[test]
fn f32_directed_div_sqrt_fma_bracket_exact_results() {
    // hand-derived
    let one_ulp = f32::from_bits(0x3F80_0001); // 1 + 2^-23
    let rows = vec![f4(1.0, 3.0, one_ulp, 2.0), f4(-1.0, 3.0, one_ulp, 2.0)];
    let body = |m: &str| {
        format!(
            "div.{m}.f32 %f1, %x0, %x1;
             st.global.f32 [%o], %f1;
             fma.{m}.f32 %f2, %x2, %x2, 0f00000000;
             st.global.f32 [%o+8], %f2;
             sqrt.{m}.f32 %f3, %x3;
             st.global.f32 [%o+16], %f3;
             rcp.{m}.f32 %f4, %x1;
             st.global.f32 [%o+24], %f4;"
        )
    };
    let third_rn = 1.0f32 / 3.0; // 0x3EAAAAAB (rounded up)
    let third_dn = f32::from_bits(0x3EAA_AAAA);
    let sq = f32::from_bits(0x3F80_0002); // (1+2^-23)^2 = 1 + 2^-22 + 2^-46
    let sq_up = f32::from_bits(0x3F80_0003);
    let r2 = 2f32.sqrt(); // 0x3FB504F3 (rounded down)
    let r2_up = f32::from_bits(0x3FB5_04F4);
    let rz = run_op(&body("rz"), &rows);
    let rm = run_op(&body("rm"), &rows);
    let rp = run_op(&body("rp"), &rows);
    assert_eq!(of32(rz[0][0]), third_dn);
    assert_eq!(of32(rm[0][0]), third_dn);
    assert_eq!(of32(rp[0][0]), third_rn);
    assert_eq!(of32(rz[1][0]), -third_dn);
    assert_eq!(of32(rm[1][0]), -third_rn);
    assert_eq!(of32(rp[1][0]), -third_dn);
    assert_eq!(of32(rz[0][1]), sq);
    assert_eq!(of32(rm[0][1]), sq);
    assert_eq!(of32(rp[0][1]), sq_up);
    assert_eq!(of32(rz[0][2]), r2);
    assert_eq!(of32(rp[0][2]), r2_up);
    assert_eq!(of32(rz[0][3]), third_dn);
    assert_eq!(of32(rp[0][3]), third_rn);
    // random bracketing: rm <= exact <= rp, adjacent, rz towards zero
    let mut rng = fastrand::Rng::with_seed(6);
    let cases: Vec<(f32, f32)> = (0..2000)
        .map(|_| {
            let g = |rng: &mut fastrand::Rng| {
                f32::from_bits(rng.u32(0x3000_0000..0x5000_0000) | (rng.u32(0..2) << 31))
            };
            (g(&mut rng), g(&mut rng).abs())
        })
        .collect();
    let rows: Vec<_> = cases.iter().map(|&(a, b)| f4(a, b, 0.0, 0.0)).collect();
    let b2 = |m: &str| {
        format!(
            "div.{m}.f32 %f1, %x0, %x1;
             st.global.f32 [%o], %f1;
             sqrt.{m}.f32 %f2, %x1;
             st.global.f32 [%o+8], %f2;"
        )
    };
    let (lo, hi, z) = (
        run_op(&b2("rm"), &rows),
        run_op(&b2("rp"), &rows),
        run_op(&b2("rz"), &rows),
    );
    for (i, &(a, b)) in cases.iter().enumerate() {
        for k in 0..2 {
            let (l, h, zz) = (of32(lo[i][k]), of32(hi[i][k]), of32(z[i][k]));
            assert!(l == h || next_f32(l, true) == h, "adjacent {a:e} {b:e}");
            // check l <= exact <= h using exact f64 residuals
            let (num, den) = if k == 0 {
                (a as f64, b as f64)
            } else {
                (b as f64, 1.0)
            };
            let below = |r: f32| {
                if k == 0 {
                    r as f64 * den <= num
                } else {
                    (r as f64) * (r as f64) <= num
                }
            };
            let above = |r: f32| {
                if k == 0 {
                    r as f64 * den >= num
                } else {
                    (r as f64) * (r as f64) >= num
                }
            };
            assert!(below(l) && above(h), "bracket {k} {a:e} {b:e}: {l:e} {h:e}");
            assert_eq!(zz, if l >= 0.0 { l } else { h });
            let rn = if k == 0 { a / b } else { b.sqrt() };
            assert!(rn == l || rn == h);
        }
    }
}

#[test]
fn ftz_and_sat_modifiers() {
    let sub = f32::from_bits(0x0000_1234); // subnormal
    let rows = vec![
        f4(sub, 0.0, 2.0, 3.0),
        f4(-sub, 0.0, -1.0, f32::NAN),
        f4(f32::MIN_POSITIVE, 0.5, 0.25, 0.5),
    ];
    let out = run_op(
        "add.rn.ftz.f32 %f1, %x0, %x1;
         st.global.f32 [%o], %f1;
         add.rn.f32 %f2, %x0, %x1;
         st.global.f32 [%o+8], %f2;
         add.rn.sat.f32 %f3, %x2, %x3;
         st.global.f32 [%o+16], %f3;
         mul.rn.ftz.f32 %f4, %x0, %x1;
         neg.ftz.f32 %f5, %x0;
         st.global.f32 [%o+24], %f5;",
        &rows,
    );
    assert_eq!(out[0][0] as u32, 0); // +sub flushed, + 0 = +0
    assert_eq!(out[1][0] as u32, 0); // -0 + +0 = +0
    assert_eq!(of32(out[0][1]), sub); // no ftz: subnormal kept
    assert_eq!(of32(out[0][2]), 1.0); // 2+3 saturates to 1
    assert_eq!(out[1][2] as u32, 0); // NaN saturates to +0
    assert_eq!(of32(out[2][2]), 0.75);
    assert_eq!(out[0][3] as u32, 0x8000_0000); // neg.ftz(subnormal) = -0
    assert_eq!(out[1][3] as u32, 0); // neg.ftz(-subnormal) = +0
                                     // MIN_POSITIVE * 0.5 is subnormal -> flushed to zero with .ftz
    let out = run_op(
        "mul.rn.ftz.f32 %f1, %x0, %x1;
         st.global.f32 [%o], %f1;
         mul.rn.f32 %f2, %x0, %x1;
         st.global.f32 [%o+8], %f2;
         fma.rn.ftz.sat.f32 %f3, %x0, %x1, %x2;
         st.global.f32 [%o+16], %f3;",
        &rows[2..],
    );
    assert_eq!(out[0][0] as u32, 0);
    assert_eq!(of32(out[0][1]), f32::MIN_POSITIVE * 0.5);
    assert_eq!(of32(out[0][2]), 0.25);
}

#[test]
fn approx_functions_are_correctly_rounded_f64_evaluations() {
    let xs = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        2.25,
        -3.75,
        10.0,
        -10.0,
        100.0,
        -126.5,
        -149.0,
        127.9,
        1e-40,
        3.0e38,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1234.5678,
        -0.001,
        1.0e-45, // smallest subnormal: exercises the soft rsqrt normalisation
    ];
    let rows: Vec<_> = xs.iter().map(|&x| f4(x, x.abs(), 0.0, 0.0)).collect();
    let out = run_op(
        "ex2.approx.f32 %f1, %x0;
         st.global.f32 [%o], %f1;
         lg2.approx.f32 %f2, %x0;
         st.global.f32 [%o+8], %f2;
         sin.approx.f32 %f3, %x0;
         cos.approx.f32 %f4, %x0;
         st.global.f32 [%o+16], %f3;
         st.global.f32 [%o+20], %f4;
         tanh.approx.f32 %f5, %x0;
         rsqrt.approx.f32 %f6, %x1;
         st.global.f32 [%o+24], %f5;
         st.global.f32 [%o+28], %f6;",
        &rows,
    );
    let r = |v: f64| canon32(v as f32);
    for (&x, o) in xs.iter().zip(&out) {
        let xd = x as f64;
        assert_eq!(o[0] as u32, r(xd.exp2()), "ex2 {x:e}");
        assert_eq!(o[1] as u32, r(xd.log2()), "lg2 {x:e}");
        assert_eq!(o[2] as u32, r(xd.sin()), "sin {x:e}");
        assert_eq!((o[2] >> 32) as u32, r(xd.cos()), "cos {x:e}");
        assert_eq!(o[3] as u32, r(xd.tanh()), "tanh {x:e}");
        assert_eq!((o[3] >> 32) as u32, r(1.0 / xd.abs().sqrt()), "rsqrt {x:e}");
    }
    // .ftz variants flush subnormal inputs and results
    let rows = vec![f4(1e-40, -130.0, 0.0, 0.0)];
    let out = run_op(
        "lg2.approx.ftz.f32 %f1, %x0;
         st.global.f32 [%o], %f1;
         lg2.approx.f32 %f2, %x0;
         st.global.f32 [%o+8], %f2;
         ex2.approx.ftz.f32 %f3, %x1;
         st.global.f32 [%o+16], %f3;
         ex2.approx.f32 %f4, %x1;
         st.global.f32 [%o+24], %f4;",
        &rows,
    );
    assert_eq!(of32(out[0][0]), f32::NEG_INFINITY);
    assert_eq!(of32(out[0][1]), (1e-40f32 as f64).log2() as f32);
    assert_eq!(out[0][2] as u32, 0);
    assert_eq!(out[0][3] as u32, 0x0008_0000); // 2^-130, subnormal
                                               // approximate division / sqrt / rcp, and f64 rsqrt / rcp.approx.ftz
    let rows = vec![d4(2.0, 3.0, 1e-310, 0.0)];
    let out = run_op(
        "rsqrt.approx.f64 %fd1, %d0;
         st.global.f64 [%o], %fd1;
         rcp.approx.ftz.f64 %fd2, %d1;
         st.global.f64 [%o+8], %fd2;
         rcp.approx.ftz.f64 %fd3, %d2;
         st.global.f64 [%o+16], %fd3;
         cvt.rn.f32.f64 %f1, %d0;
         cvt.rn.f32.f64 %f2, %d1;
         div.approx.f32 %f3, %f1, %f2;
         div.full.f32 %f4, %f1, %f2;
         sqrt.approx.f32 %f5, %f1;
         rcp.approx.f32 %f6, %f2;
         st.global.f32 [%o+24], %f3;
         st.global.f32 [%o+28], %f4;",
        &rows,
    );
    assert_eq!(f64::from_bits(out[0][0]), 0.5f64.sqrt()); // 1/sqrt(2) correctly rounded
    assert_eq!(f64::from_bits(out[0][1]), 1.0 / 3.0);
    assert_eq!(f64::from_bits(out[0][2]), f64::INFINITY); // subnormal input flushed: 1/+0
    assert_eq!(of32(out[0][3]), 2.0f32 / 3.0);
    assert_eq!(of32((out[0][3] >> 32) as u64), 2.0f32 / 3.0);
}

#[test]
fn min_max_nan_and_signed_zero_rules() {
    let nan = f32::NAN;
    let rows = vec![
        f4(nan, 1.0, 0.0, 0.0),
        f4(1.0, nan, 0.0, 0.0),
        f4(nan, nan, 0.0, 0.0),
        f4(-0.0, 0.0, 0.0, 0.0),
        f4(0.0, -0.0, 0.0, 0.0),
        f4(2.0, -3.0, 0.0, 0.0),
        f4(f32::NEG_INFINITY, 5.0, 0.0, 0.0),
    ];
    let out = run_op(
        "min.f32 %f1, %x0, %x1;
         st.global.f32 [%o], %f1;
         max.f32 %f2, %x0, %x1;
         st.global.f32 [%o+8], %f2;
         min.NaN.f32 %f3, %x0, %x1;
         st.global.f32 [%o+16], %f3;
         max.ftz.NaN.f32 %f4, %x0, %x1;
         st.global.f32 [%o+24], %f4;",
        &rows,
    );
    let w = |i: usize, k: usize| out[i][k] as u32;
    assert_eq!(of32(out[0][0]), 1.0);
    assert_eq!(of32(out[0][1]), 1.0);
    assert_eq!(of32(out[1][0]), 1.0);
    assert_eq!(of32(out[1][1]), 1.0);
    assert_eq!(w(2, 0), NAN32);
    assert_eq!(w(2, 1), NAN32);
    assert_eq!(w(0, 2), NAN32);
    assert_eq!(w(1, 3), NAN32);
    assert_eq!(w(3, 0), 0x8000_0000); // min(-0, +0) = -0
    assert_eq!(w(3, 1), 0); // max(-0, +0) = +0
    assert_eq!(w(4, 0), 0x8000_0000);
    assert_eq!(w(4, 1), 0);
    assert_eq!(of32(out[5][0]), -3.0);
    assert_eq!(of32(out[5][1]), 2.0);
    assert_eq!(of32(out[5][2]), -3.0);
    assert_eq!(of32(out[6][0]), f32::NEG_INFINITY);
    assert_eq!(of32(out[6][3]), 5.0);
    let out = run_op(
        "min.f64 %fd1, %d0, %d1;
         st.global.f64 [%o], %fd1;
         max.f64 %fd2, %d0, %d1;
         st.global.f64 [%o+8], %fd2;",
        &[d4(f64::NAN, -7.0, 0.0, 0.0), d4(1.5, 2.5, 0.0, 0.0)],
    );
    assert_eq!(f64::from_bits(out[0][0]), -7.0);
    assert_eq!(f64::from_bits(out[0][1]), -7.0);
    assert_eq!(f64::from_bits(out[1][0]), 1.5);
    assert_eq!(f64::from_bits(out[1][1]), 2.5);
}

const FCMPS: [&str; 14] = [
    "eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan",
];

fn fcmp_ref(c: &str, a: f64, b: f64) -> bool {
    let u = a.is_nan() || b.is_nan();
    match c {
        "eq" => a == b,
        "ne" => !u && a != b,
        "lt" => a < b,
        "le" => a <= b,
        "gt" => a > b,
        "ge" => a >= b,
        "equ" => u || a == b,
        "neu" => a != b,
        "ltu" => u || a < b,
        "leu" => u || a <= b,
        "gtu" => u || a > b,
        "geu" => u || a >= b,
        "num" => !u,
        _ => u,
    }
}

#[test]
fn setp_float_ordered_and_unordered() {
    let pairs = [
        (1.0f32, 2.0f32),
        (2.0, 2.0),
        (3.0, 2.0),
        (f32::NAN, 1.0),
        (1.0, f32::NAN),
        (f32::NAN, f32::NAN),
        (-0.0, 0.0),
        (f32::NEG_INFINITY, f32::INFINITY),
    ];
    let mut body = String::new();
    for (k, c) in FCMPS.iter().enumerate() {
        body += &format!(
            "setp.{c}.f32 %p1, %x0, %x1;\n selp.b16 %rs1, 1, 0, %p1;\n st.global.u8 [%o+{k}], %rs1;\n"
        );
        body += &format!(
            "setp.{c}.f64 %p2, %d2, %d3;\n selp.b16 %rs2, 1, 0, %p2;\n st.global.u8 [%o+{}], %rs2;\n",
            16 + k
        );
    }
    let rows: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| {
            let mut r = f4(a, b, 0.0, 0.0);
            r[2] = (a as f64).to_bits();
            r[3] = (b as f64).to_bits();
            r
        })
        .collect();
    let out = run_op(&body, &rows);
    for (&(a, b), o) in pairs.iter().zip(&out) {
        let bytes: Vec<u8> = o.iter().flat_map(|w| w.to_le_bytes()).collect();
        for (k, c) in FCMPS.iter().enumerate() {
            let want = fcmp_ref(c, a as f64, b as f64) as u8;
            assert_eq!(bytes[k], want, "setp.{c}.f32 {a} {b}");
            assert_eq!(bytes[16 + k], want, "setp.{c}.f64 {a} {b}");
        }
    }
}

#[test]
fn setp_two_destinations_and_combining_forms() {
    let rows = vec![
        f4(1.0, 2.0, 5.0, 0.0),
        f4(3.0, 2.0, 5.0, 0.0),
        f4(1.0, 2.0, -5.0, 0.0),
        f4(f32::NAN, 2.0, 5.0, 0.0),
    ];
    let out = run_op(
        "setp.lt.f32 %p1|%p2, %x0, %x1;
         setp.gt.f32 %p3, %x2, 0f00000000;
         setp.lt.and.f32 %p4, %x0, %x1, %p3;
         setp.lt.or.f32 %p5|%p6, %x0, %x1, !%p3;
         setp.lt.xor.f32 %p7, %x0, %x1, %p3;
         selp.u32 %r1, 1, 0, %p1;
         selp.u32 %r2, 2, 0, %p2;
         selp.u32 %r3, 4, 0, %p4;
         selp.u32 %r4, 8, 0, %p5;
         selp.u32 %r5, 16, 0, %p6;
         selp.u32 %r6, 32, 0, %p7;
         or.b32 %r7, %r1, %r2;
         or.b32 %r7, %r7, %r3;
         or.b32 %r7, %r7, %r4;
         or.b32 %r7, %r7, %r5;
         or.b32 %r7, %r7, %r6;
         st.global.u32 [%o], %r7;",
        &rows,
    );
    let expect = |a: f32, b: f32, c: f32| -> u64 {
        let t = a < b;
        let q = c > 0.0;
        let mut m = 0;
        m |= t as u64;
        m |= (!t as u64) << 1;
        m |= ((t && q) as u64) << 2;
        m |= ((t || !q) as u64) << 3;
        m |= ((!t || !q) as u64) << 4;
        m |= ((t != q) as u64) << 5;
        m
    };
    for (r, o) in rows.iter().zip(&out) {
        let (a, b, c) = (of32(r[0]), of32(r[1]), of32(r[2]));
        assert_eq!(o[0], expect(a, b, c), "{a} {b} {c}");
    }
}

#[test]
fn testp_copysign_neg_abs() {
    let vals = [
        0.0f32,
        -0.0,
        1.5,
        -2.0,
        1e-40,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
    ];
    let classes = [
        "finite",
        "infinite",
        "number",
        "notanumber",
        "normal",
        "subnormal",
    ];
    let mut body = String::new();
    for (k, c) in classes.iter().enumerate() {
        body += &format!(
            "testp.{c}.f32 %p1, %x0;\n selp.b16 %rs1, 1, 0, %p1;\n st.global.u8 [%o+{k}], %rs1;\n"
        );
        body += &format!(
            "testp.{c}.f64 %p2, %d2;\n selp.b16 %rs2, 1, 0, %p2;\n st.global.u8 [%o+{}], %rs2;\n",
            8 + k
        );
    }
    body += "copysign.f32 %f1, %x1, %x0;\n st.global.f32 [%o+16], %f1;\n";
    body += "neg.f32 %f2, %x0;\n st.global.f32 [%o+20], %f2;\n";
    body += "abs.f32 %f3, %x0;\n st.global.f32 [%o+24], %f3;\n";
    body += "copysign.f64 %fd1, %d3, %d2;\n neg.f64 %fd2, %fd1;\n abs.f64 %fd3, %fd2;\n";
    body += "cvt.rn.f32.f64 %f4, %fd3;\n st.global.f32 [%o+28], %f4;\n";
    let rows: Vec<_> = vals
        .iter()
        .map(|&v| {
            let mut r = f4(v, -3.0, 0.0, 0.0);
            r[2] = if v.is_nan() { f64::NAN } else { v as f64 }.to_bits();
            r[3] = (-3.0f64).to_bits();
            r
        })
        .collect();
    let out = run_op(&body, &rows);
    for (&v, o) in vals.iter().zip(&out) {
        let bytes: Vec<u8> = o.iter().flat_map(|w| w.to_le_bytes()).collect();
        let want = [
            v.is_finite(),
            v.is_infinite(),
            !v.is_nan(),
            v.is_nan(),
            v.is_normal(),
            v.is_subnormal(),
        ];
        for k in 0..6 {
            assert_eq!(bytes[k] != 0, want[k], "testp.{}.f32 {v:e}", classes[k]);
            let vd = if v.is_nan() { f64::NAN } else { v as f64 };
            let wd = [
                vd.is_finite(),
                vd.is_infinite(),
                !vd.is_nan(),
                vd.is_nan(),
                vd.is_normal(),
                vd.is_subnormal(),
            ];
            assert_eq!(bytes[8 + k] != 0, wd[k], "testp.{}.f64 {v:e}", classes[k]);
        }
        let w = |k: usize| u32::from_le_bytes(bytes[k..k + 4].try_into().unwrap());
        // copysign(d, a, b): magnitude of b (= x0), sign of a (= -3)
        assert_eq!(w(16), v.to_bits() | 0x8000_0000, "copysign {v:e}");
        assert_eq!(w(20), v.to_bits() ^ 0x8000_0000, "neg {v:e}");
        assert_eq!(w(24), v.to_bits() & 0x7FFF_FFFF, "abs {v:e}");
        let vd = if v.is_nan() { f64::NAN } else { v as f64 };
        if !v.is_nan() {
            assert_eq!(f32::from_bits(w(28)), vd.abs() as f32);
        }
    }
}

#[test]
fn cvt_float_to_int_rounding_saturation_nan() {
    let xs = [
        2.5f32,
        -2.5,
        3.5,
        -0.5,
        1e10,
        -1e10,
        f32::NAN,
        2147483520.0,
        0.49999997,
        -3.7,
        f32::INFINITY,
    ];
    let rows: Vec<_> = xs.iter().map(|&x| f4(x, 0.0, 0.0, 0.0)).collect();
    let out = run_op(
        "cvt.rni.s32.f32 %r1, %x0;
         cvt.rzi.s32.f32 %r2, %x0;
         cvt.rmi.s32.f32 %r3, %x0;
         cvt.rpi.s32.f32 %r4, %x0;
         st.global.v4.u32 [%o], {%r1, %r2, %r3, %r4};
         cvt.rzi.u32.f32 %r5, %x0;
         st.global.u32 [%o+16], %r5;
         cvt.f64.f32 %fd1, %x0;
         cvt.rni.s64.f64 %rd1, %fd1;
         cvt.rzi.u16.f32 %rs1, %x0;
         cvt.rni.s8.f32 %rs2, %x0;
         st.global.u16 [%o+20], %rs1;
         st.global.u16 [%o+22], %rs2;
         st.global.u64 [%o+24], %rd1;",
        &rows,
    );
    let sat_i32 = |v: f64| -> i32 {
        if v.is_nan() {
            0
        } else {
            v.clamp(i32::MIN as f64, i32::MAX as f64) as i32
        }
    };
    for (&x, o) in xs.iter().zip(&out) {
        let xd = x as f64;
        let bytes: Vec<u8> = o.iter().flat_map(|w| w.to_le_bytes()).collect();
        let g = |k: usize| i32::from_le_bytes(bytes[4 * k..4 * k + 4].try_into().unwrap());
        assert_eq!(g(0), sat_i32(xd.round_ties_even()), "rni {x}");
        assert_eq!(g(1), sat_i32(xd.trunc()), "rzi {x}");
        assert_eq!(g(2), sat_i32(xd.floor()), "rmi {x}");
        assert_eq!(g(3), sat_i32(xd.ceil()), "rpi {x}");
        let u = if x.is_nan() || xd.trunc() <= 0.0 {
            0u32
        } else {
            xd.trunc().min(u32::MAX as f64) as u32
        };
        assert_eq!(g(4) as u32, u, "u32 rzi {x}");
        let u16v = u16::from_le_bytes(bytes[20..22].try_into().unwrap());
        let w16 = if x.is_nan() {
            0
        } else {
            xd.trunc().clamp(0.0, 65535.0) as u16
        };
        assert_eq!(u16v, w16, "u16 rzi {x}");
        // s8 result sign-extended into the 16-bit register
        let s8v = i16::from_le_bytes(bytes[22..24].try_into().unwrap());
        let w8 = if x.is_nan() {
            0
        } else {
            xd.round_ties_even().clamp(-128.0, 127.0) as i16
        };
        assert_eq!(s8v, w8, "s8 rni {x}");
        let i64v = i64::from_le_bytes(bytes[24..32].try_into().unwrap());
        let w64 = if x.is_nan() {
            0
        } else {
            xd.round_ties_even() as i64
        };
        assert_eq!(i64v, w64, "s64 rni {x}");
    }
}

#[test]
fn cvt_float_to_float_and_int_to_float() {
    let v = 1.0 + 2f64.powi(-30);
    let rows = vec![
        {
            let mut r = d4(v, -v, 0.0, 0.0);
            r[2] = 16777217;
            r[3] = u64::MAX;
            r
        },
        {
            let mut r = d4(1e-45, 1e300, 0.0, 0.0);
            r[2] = (-16777217i64) as u64;
            r[3] = 3;
            r
        },
    ];
    let out = run_op(
        "cvt.rn.f32.f64 %f1, %d0;
         cvt.rz.f32.f64 %f2, %d0;
         cvt.rm.f32.f64 %f3, %d1;
         cvt.rp.f32.f64 %f4, %d0;
         st.global.v4.f32 [%o], {%f1, %f2, %f3, %f4};
         cvt.rn.f32.s32 %f5, %u2;
         cvt.rz.f32.s32 %f6, %u2;
         cvt.rp.f32.s32 %f7, %u2;
         cvt.rm.f32.s32 %f8, %u2;
         st.global.v4.f32 [%o+16], {%f5, %f6, %f7, %f8};",
        &rows,
    );
    let f = |w: u64, hi: bool| of32(if hi { w >> 32 } else { w });
    assert_eq!(f(out[0][0], false), 1.0);
    assert_eq!(f(out[0][0], true), 1.0);
    assert_eq!(f(out[0][1], false), -f32::from_bits(0x3F80_0001));
    assert_eq!(f(out[0][1], true), f32::from_bits(0x3F80_0001));
    assert_eq!(f(out[0][2], false), 16777216.0);
    assert_eq!(f(out[0][2], true), 16777216.0);
    assert_eq!(f(out[0][3], false), 16777218.0);
    assert_eq!(f(out[0][3], true), 16777216.0);
    // second row: 1e-45 rounds to the smallest subnormal (rn) / 0 (rz); 1e300 overflows
    assert_eq!(f(out[1][0], false), f32::from_bits(1));
    assert_eq!(f(out[1][0], true), 0.0);
    assert_eq!(f(out[1][1], false), f32::MAX); // rm of +1e300 stays finite
    assert_eq!(f(out[1][1], true), f32::from_bits(1)); // rp(1e-45) = smallest subnormal
    assert_eq!(f(out[1][2], false), -16777216.0);
    assert_eq!(f(out[1][2], true), -16777216.0);
    assert_eq!(f(out[1][3], false), -16777216.0);
    assert_eq!(f(out[1][3], true), -16777218.0);

    let out = run_op(
        "cvt.rz.f64.u64 %fd1, %l3;
         st.global.f64 [%o], %fd1;
         cvt.rn.f64.u64 %fd2, %l3;
         st.global.f64 [%o+8], %fd2;
         cvt.rn.sat.f32.s32 %f1, %u3;
         cvt.rn.f32.u64 %f2, %l3;
         st.global.f32 [%o+16], %f1;
         st.global.f32 [%o+20], %f2;
         cvt.rn.f16.f32 %rs1, %x0;
         cvt.f32.f16 %f3, %rs1;
         st.global.f32 [%o+24], %f3;
         st.global.b16 [%o+28], %rs1;",
        &[
            [(1.0f32 / 3.0).to_bits() as u64, 0, 0, u64::MAX],
            [65520.0f32.to_bits() as u64, 0, 0, 3],
        ],
    );
    assert_eq!(f64::from_bits(out[0][0]), 18446744073709549568.0); // 2^64 - 2048
    assert_eq!(f64::from_bits(out[0][1]), 18446744073709551616.0); // 2^64
    assert_eq!(out[0][2] as u32, 0); // u3 = 0xFFFFFFFF = -1 as s32, saturated to +0
    assert_eq!(of32(out[0][2] >> 32), 1.8446744e19);
    assert_eq!((out[0][3] >> 32) as u16, 0x3555); // 1/3 in f16
    assert_eq!(of32(out[0][3]), 1365.0 / 4096.0); // 0x3555 = 0x555 * 2^-12
    assert_eq!(of32(out[1][2]), 1.0); // 3 saturates to 1.0
    assert_eq!((out[1][3] >> 32) as u16, 0x7C00); // 65520 rounds to +inf in f16
    assert_eq!(of32(out[1][3]), f32::INFINITY);
}

#[test]
fn cvt_round_to_integral_ftz_sat_and_widening() {
    let xs = [-2.5f32, 0.5, -0.3, 1.5, 1e-40, f32::NAN, 7.9];
    let rows: Vec<_> = xs.iter().map(|&x| f4(x, 0.0, 0.0, 0.0)).collect();
    let out = run_op(
        "cvt.rni.f32.f32 %f1, %x0;
         cvt.rzi.f32.f32 %f2, %x0;
         cvt.rmi.f32.f32 %f3, %x0;
         cvt.rpi.f32.f32 %f4, %x0;
         st.global.v4.f32 [%o], {%f1, %f2, %f3, %f4};
         cvt.ftz.f32.f32 %f5, %x0;
         cvt.sat.f32.f32 %f6, %x0;
         cvt.f64.f32 %fd1, %x0;
         cvt.rni.f64.f64 %fd2, %fd1;
         cvt.rn.f32.f64 %f7, %fd2;
         st.global.v2.f32 [%o+16], {%f5, %f6};
         st.global.f32 [%o+24], %f7;",
        &rows,
    );
    for (&x, o) in xs.iter().zip(&out) {
        let bytes: Vec<u8> = o.iter().flat_map(|w| w.to_le_bytes()).collect();
        let g = |k: usize| u32::from_le_bytes(bytes[4 * k..4 * k + 4].try_into().unwrap());
        assert_eq!(g(0), canon32(x.round_ties_even()), "rni {x}");
        assert_eq!(g(1), canon32(x.trunc()), "rzi {x}");
        assert_eq!(g(2), canon32(x.floor()), "rmi {x}");
        assert_eq!(g(3), canon32(x.ceil()), "rpi {x}");
        let ftz = if x.is_subnormal() {
            0.0f32.copysign(x)
        } else {
            x
        };
        assert_eq!(g(4), canon32(ftz), "ftz {x}");
        let sat = if x.is_nan() || x < 0.0 {
            0.0
        } else {
            x.min(1.0)
        };
        assert_eq!(f32::from_bits(g(5)), sat, "sat {x}");
        assert_eq!(g(6), canon32(x.round_ties_even()), "f64 rni {x}");
    }
    assert_eq!(out[2][0] as u32, 0x8000_0000); // rni(-0.3) = -0.0
}
