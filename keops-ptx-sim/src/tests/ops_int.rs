//! Integer, predicate, conversion, move and control-flow instructions.

use super::*;

fn rows_u32(n: usize, seed: u64) -> Vec<[u64; 4]> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let special = [
        0u32,
        1,
        2,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFF,
        31,
        32,
        33,
    ];
    let mut v = Vec::new();
    for &a in &special {
        for &b in &special {
            v.push([a as u64, b as u64, rng.u32(0..70) as u64, rng.u64(..)]);
        }
    }
    while v.len() < n {
        let g = |rng: &mut fastrand::Rng| match rng.u32(0..3) {
            0 => rng.u32(..),
            1 => rng.u32(0..100),
            _ => (rng.i32(-100..100)) as u32,
        };
        v.push([
            g(&mut rng) as u64,
            g(&mut rng) as u64,
            rng.u32(0..70) as u64,
            rng.u64(..),
        ]);
    }
    v
}

fn words(o: &[u64; 4]) -> [u32; 8] {
    let mut w = [0u32; 8];
    for i in 0..4 {
        w[2 * i] = o[i] as u32;
        w[2 * i + 1] = (o[i] >> 32) as u32;
    }
    w
}

#[test]
fn int32_arithmetic() {
    let rows = rows_u32(2000, 10);
    let out = run_op(
        "add.u32 %r1, %u0, %u1;
         sub.s32 %r2, %u0, %u1;
         mul.lo.s32 %r3, %u0, %u1;
         mul.hi.s32 %r4, %u0, %u1;
         st.global.v4.u32 [%o], {%r1, %r2, %r3, %r4};
         mul.hi.u32 %r5, %u0, %u1;
         min.s32 %r6, %u0, %u1;
         max.u32 %r7, %u0, %u1;
         add.sat.s32 %r8, %u0, %u1;
         st.global.v4.u32 [%o+16], {%r5, %r6, %r7, %r8};",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (a, b) = (r[0] as u32, r[1] as u32);
        let (sa, sb) = (a as i32, b as i32);
        let w = words(o);
        assert_eq!(w[0], a.wrapping_add(b));
        assert_eq!(w[1], a.wrapping_sub(b));
        assert_eq!(w[2], a.wrapping_mul(b));
        assert_eq!(w[3], ((sa as i64 * sb as i64) >> 32) as u32);
        assert_eq!(w[4], ((a as u64 * b as u64) >> 32) as u32);
        assert_eq!(w[5] as i32, sa.min(sb));
        assert_eq!(w[6], a.max(b));
        assert_eq!(w[7] as i32, sa.saturating_add(sb));
    }
}

#[test]
fn int32_div_rem_shift_bits() {
    let rows: Vec<_> = rows_u32(2000, 11)
        .into_iter()
        .filter(|r| r[1] as u32 != 0)
        .collect();
    let out = run_op(
        "div.s32 %r1, %u0, %u1;
         rem.s32 %r2, %u0, %u1;
         div.u32 %r3, %u0, %u1;
         rem.u32 %r4, %u0, %u1;
         st.global.v4.u32 [%o], {%r1, %r2, %r3, %r4};
         shl.b32 %r5, %u0, %u2;
         shr.u32 %r6, %u0, %u2;
         shr.s32 %r7, %u0, %u2;
         xor.b32 %r8, %u0, %u1;
         and.b32 %r9, %r8, %u1;
         or.b32 %r10, %r9, %u2;
         not.b32 %r11, %r10;
         st.global.v4.u32 [%o+16], {%r5, %r6, %r7, %r11};",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (a, b, s) = (r[0] as u32, r[1] as u32, r[2] as u32);
        let (sa, sb) = (a as i32, b as i32);
        let w = words(o);
        assert_eq!(w[0] as i32, sa.wrapping_div(sb), "{sa} / {sb}");
        assert_eq!(w[1] as i32, sa.wrapping_rem(sb));
        assert_eq!(w[2], a / b);
        assert_eq!(w[3], a % b);
        assert_eq!(w[4], if s >= 32 { 0 } else { a << s }, "shl {a} {s}");
        assert_eq!(w[5], if s >= 32 { 0 } else { a >> s });
        assert_eq!(w[6] as i32, sa >> s.min(31), "shr.s {sa} {s}");
        assert_eq!(w[7], !(((a ^ b) & b) | s));
    }
}

#[test]
fn int64_and_int16_arithmetic() {
    let mut rng = fastrand::Rng::with_seed(12);
    let mut rows = vec![
        [u64::MAX, 1, 63, 5],
        [i64::MIN as u64, u64::MAX, 64, 7],
        [0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210, 4, 0],
    ];
    while rows.len() < 1500 {
        let b = rng.u64(..) | 1;
        rows.push([rng.u64(..), b, rng.u64(0..70), rng.u64(..)]);
    }
    let out = run_op(
        "add.s64 %rd1, %l0, %l1;
         mul.lo.u64 %rd2, %l0, %l1;
         mul.hi.u64 %rd3, %l0, %l1;
         mul.hi.s64 %rd4, %l0, %l1;
         st.global.v2.u64 [%o], {%rd1, %rd2};
         xor.b64 %rd5, %rd3, %rd4;
         cvt.u32.u64 %r1, %l2;
         shl.b64 %rd6, %l0, %r1;
         shr.s64 %rd7, %l0, %r1;
         shr.u64 %rd8, %l0, %r1;
         xor.b64 %rd9, %rd6, %rd7;
         add.s64 %rd9, %rd9, %rd8;
         div.s64 %rd10, %l0, %l1;
         rem.u64 %rd11, %l0, %l1;
         mad.lo.u64 %rd12, %rd10, %rd11, %l3;
         xor.b64 %rd13, %rd9, %rd12;
         st.global.v2.u64 [%o+16], {%rd5, %rd13};",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (a, b, s, c) = (r[0], r[1], r[2] as u32, r[3]);
        let (sa, sb) = (a as i64, b as i64);
        assert_eq!(o[0], a.wrapping_add(b));
        assert_eq!(o[1], a.wrapping_mul(b));
        let hi_u = ((a as u128 * b as u128) >> 64) as u64;
        let hi_s = ((sa as i128 * sb as i128) >> 64) as u64;
        assert_eq!(o[2], hi_u ^ hi_s);
        let shl = if s >= 64 { 0 } else { a << s };
        let shr_s = (sa >> s.min(63)) as u64;
        let shr_u = if s >= 64 { 0 } else { a >> s };
        let d = sa.wrapping_div(sb) as u64;
        let m = a % b;
        assert_eq!(
            o[3],
            ((shl ^ shr_s).wrapping_add(shr_u)) ^ d.wrapping_mul(m).wrapping_add(c),
            "{a:#x} {b:#x} {s}"
        );
    }
    // 16-bit and widening forms
    let rows: Vec<[u64; 4]> = (0..500)
        .map(|_| [rng.u64(..), rng.u64(..), rng.u64(..), rng.u64(..)])
        .collect();
    let out = run_op(
        "add.u16 %rs1, %h0, %h1;
         mul.hi.s16 %rs2, %h0, %h1;
         mul.wide.u16 %r1, %h0, %h1;
         mul.wide.s16 %r2, %h0, %h1;
         st.global.v2.u16 [%o], {%rs1, %rs2};
         st.global.v2.u32 [%o+8], {%r1, %r2};
         mul.wide.s32 %rd1, %u0, %u1;
         mad.wide.u32 %rd2, %u0, %u1, %l2;
         mad.hi.s32 %r3, %u0, %u1, %u2;
         mad.lo.s32 %r4, %u0, %u1, %u2;
         xor.b64 %rd3, %rd1, %rd2;
         st.global.u64 [%o+16], %rd3;
         st.global.v2.u32 [%o+24], {%r3, %r4};",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (h0, h1) = (r[0] as u16, r[1] as u16);
        let (a, b, c32) = (r[0] as u32, r[1] as u32, r[2] as u32);
        assert_eq!(o[0] as u16, h0.wrapping_add(h1));
        assert_eq!(
            (o[0] >> 16) as u16,
            ((h0 as i16 as i32 * h1 as i16 as i32) >> 16) as u16
        );
        assert_eq!(o[1] as u32, h0 as u32 * h1 as u32);
        assert_eq!(
            (o[1] >> 32) as u32,
            (h0 as i16 as i32 * h1 as i16 as i32) as u32
        );
        let wide_s = (a as i32 as i64 * b as i32 as i64) as u64;
        let wide_u = (a as u64 * b as u64).wrapping_add(r[2]);
        assert_eq!(o[2], wide_s ^ wide_u);
        let hi = (((a as i32 as i64 * b as i32 as i64) >> 32) as u32).wrapping_add(c32);
        assert_eq!(o[3] as u32, hi);
        assert_eq!((o[3] >> 32) as u32, a.wrapping_mul(b).wrapping_add(c32));
    }
}

#[test]
fn bit_counting_bfe_neg_abs_cnot() {
    let rows = rows_u32(2000, 13);
    let out = run_op(
        "popc.b32 %r1, %u0;
         clz.b32 %r2, %u0;
         brev.b32 %r3, %u0;
         popc.b64 %r4, %l3;
         st.global.v4.u32 [%o], {%r1, %r2, %r3, %r4};
         clz.b64 %r5, %l3;
         and.b32 %r9, %u1, 63;
         bfe.u32 %r6, %u0, %u2, %r9;
         bfe.s32 %r7, %u0, %u2, %r9;
         neg.s32 %r8, %u0;
         abs.s32 %r10, %u1;
         cnot.b32 %r11, %u1;
         add.s32 %r10, %r10, %r11;
         st.global.v2.u32 [%o+16], {%r5, %r6};
         st.global.u32 [%o+24], %r7;
         brev.b64 %rd1, %l3;
         xor.b64 %rd1, %rd1, %l3;
         cvt.u64.u32 %rd2, %r10;
         xor.b64 %rd1, %rd1, %rd2;
         cvt.u32.u64 %r12, %rd1;
         xor.b32 %r12, %r12, %r8;
         st.global.u32 [%o+28], %r12;",
        &rows,
    );
    let bfe = |a: u32, pos: u32, len: u32, signed: bool| -> u32 {
        let (pos, len) = (pos & 0xFF, len & 0xFF);
        let sbit = if !signed || len == 0 {
            0
        } else {
            (a >> (pos + len - 1).min(31)) & 1
        };
        let mut d = 0;
        for i in 0..32 {
            let bit = if i < len && pos + i <= 31 {
                (a >> (pos + i)) & 1
            } else {
                sbit
            };
            d |= bit << i;
        }
        d
    };
    for (r, o) in rows.iter().zip(&out) {
        let (a, b, pos, l) = (r[0] as u32, r[1] as u32, r[2] as u32, r[3]);
        let w = words(o);
        assert_eq!(w[0], a.count_ones());
        assert_eq!(w[1], a.leading_zeros());
        assert_eq!(w[2], a.reverse_bits());
        assert_eq!(w[3], l.count_ones());
        assert_eq!(w[4], l.leading_zeros());
        assert_eq!(
            w[5],
            bfe(a, pos, b & 63, false),
            "bfe.u32 {a:#x} {pos} {}",
            b & 63
        );
        assert_eq!(
            w[6],
            bfe(a, pos, b & 63, true),
            "bfe.s32 {a:#x} {pos} {}",
            b & 63
        );
        let t = ((b as i32).wrapping_abs() as u32).wrapping_add((b == 0) as u32);
        let x = (l.reverse_bits() ^ l ^ t as u64) as u32 ^ (a as i32).wrapping_neg() as u32;
        assert_eq!(w[7], x);
    }
    // hand-checked bfe cases
    let out = run_op(
        "bfe.s32 %r1, %u0, 4, 8;
         bfe.u32 %r2, %u0, 4, 8;
         bfe.s32 %r3, %u0, 28, 8;
         bfe.u64 %rd1, %l1, 60, 8;
         st.global.v2.u32 [%o], {%r1, %r2};
         st.global.u32 [%o+8], %r3;
         st.global.u64 [%o+16], %rd1;",
        &[[0x0000_0F80, 0xF000_0000_0000_0000, 0, 0]],
    );
    assert_eq!(out[0][0] as u32, 0xFFFF_FFF8); // field 0xF8, sign bit set
    assert_eq!((out[0][0] >> 32) as u32, 0xF8);
    assert_eq!(out[0][1] as u32, 0); // bits 28..31 of 0xF80 are zero
    assert_eq!(out[0][2], 0xF);
}

#[test]
fn integer_division_by_zero_is_an_error() {
    let e = try_run_op("div.u32 %r1, %u0, %u1;", &[[7, 0, 0, 0]]).unwrap_err();
    assert!(
        matches!(&e, SimError::ExecutionFault { message, site } if message.contains("division by zero") && site.text.contains("div.u32")),
        "{e}"
    );
}

#[test]
fn predicates_guards_selp_and_integer_setp() {
    let rows = rows_u32(600, 14);
    let out = run_op(
        "setp.lt.s32 %p1, %u0, %u1;
         setp.lo.u32 %p2, %u0, %u1;
         setp.hs.u32 %p3, %u0, %u1;
         setp.ne.b32 %p4, %u0, %u1;
         and.pred %p5, %p1, %p2;
         or.pred %p6, %p3, %p4;
         xor.pred %p7, %p5, %p6;
         not.pred %p7, %p7;
         selp.u32 %r1, 1, 0, %p1;
         selp.u32 %r2, 2, 0, %p2;
         selp.u32 %r3, 4, 0, %p3;
         selp.u32 %r4, 8, 0, %p4;
         or.b32 %r5, %r1, %r2;
         or.b32 %r5, %r5, %r3;
         or.b32 %r5, %r5, %r4;
         mov.u32 %r6, 100;
         @%p1 mov.u32 %r6, 200;
         @!%p7 add.u32 %r6, %r6, 5;
         st.global.v2.u32 [%o], {%r5, %r6};
         setp.ge.s64 %p1, %l0, %l1;
         setp.hi.u64 %p2, %l0, %l1;
         setp.le.s16 %p3, %h0, %h1;
         selp.b64 %rd1, %l0, %l1, %p1;
         selp.b64 %rd2, 16, 0, %p2;
         selp.b64 %rd3, 32, 0, %p3;
         or.b64 %rd2, %rd2, %rd3;
         st.global.u64 [%o+8], %rd1;
         st.global.u64 [%o+16], %rd2;",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (a, b) = (r[0] as u32, r[1] as u32);
        let p1 = (a as i32) < (b as i32);
        let p2 = a < b;
        let p3 = a >= b;
        let p4 = a != b;
        let p7 = !((p1 && p2) ^ (p3 || p4));
        let mask = p1 as u32 | (p2 as u32) << 1 | (p3 as u32) << 2 | (p4 as u32) << 3;
        assert_eq!(o[0] as u32, mask);
        let mut r6 = if p1 { 200 } else { 100 };
        if !p7 {
            r6 += 5;
        }
        assert_eq!((o[0] >> 32) as u32, r6);
        let (l0, l1) = (r[0], r[1]);
        assert_eq!(o[1], if l0 as i64 >= l1 as i64 { l0 } else { l1 });
        let m = (if l0 > l1 { 16 } else { 0 })
            | (if (l0 as u16 as i16) <= (l1 as u16 as i16) {
                32
            } else {
                0
            });
        assert_eq!(o[2], m);
    }
}

#[test]
fn cvt_integer_widths() {
    let rows = rows_u32(800, 15);
    let out = run_op(
        "cvt.s64.s32 %rd1, %u0;
         cvt.u64.u32 %rd2, %u0;
         st.global.v2.u64 [%o], {%rd1, %rd2};
         cvt.u32.u64 %r1, %l3;
         cvt.sat.s32.s64 %r2, %l3;
         cvt.s16.s32 %rs1, %u0;
         cvt.sat.u8.s32 %rs2, %u0;
         cvt.s32.s8 %r3, %h1;
         cvt.sat.u32.s32 %r4, %u1;
         st.global.v2.u32 [%o+16], {%r1, %r2};
         st.global.v2.u16 [%o+24], {%rs1, %rs2};
         add.u32 %r3, %r3, %r4;
         st.global.u32 [%o+28], %r3;",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let (a, b, l) = (r[0] as u32, r[1] as u32, r[3]);
        assert_eq!(o[0], a as i32 as i64 as u64);
        assert_eq!(o[1], a as u64);
        assert_eq!(o[2] as u32, l as u32);
        assert_eq!(
            (o[2] >> 32) as u32 as i32,
            (l as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32
        );
        assert_eq!(o[3] as u16, a as u16);
        assert_eq!((o[3] >> 16) as u16, (a as i32).clamp(0, 255) as u16);
        let s8 = b as u8 as i8 as i32;
        let sat = (b as i32).max(0) as u32;
        assert_eq!((o[3] >> 32) as u32, (s8 as u32).wrapping_add(sat));
    }
}

#[test]
fn mov_immediates_pack_unpack() {
    let out = run_op(
        "mov.u32 %r1, -1;
         mov.b32 %r2, 0x1FFFFFFFF;
         mov.s32 %r3, -2147483648;
         mov.u32 %r4, 0b1010;
         st.global.v4.u32 [%o], {%r1, %r2, %r3, %r4};
         mov.f32 %f1, 1.5;
         mov.f32 %f2, 0f3FC00000;
         mov.f32 %f3, -2.5e-3;
         mov.f32 %f4, 0d3FB999999999999A;
         st.global.v4.f32 [%o+16], {%f1, %f2, %f3, %f4};",
        &[[0, 0, 0, 0]],
    );
    let w = words(&out[0]);
    assert_eq!(w[0], 0xFFFF_FFFF);
    assert_eq!(w[1], 0xFFFF_FFFF);
    assert_eq!(w[2], 0x8000_0000);
    assert_eq!(w[3], 10);
    assert_eq!(f32::from_bits(w[4]), 1.5);
    assert_eq!(f32::from_bits(w[5]), 1.5);
    assert_eq!(f32::from_bits(w[6]), -2.5e-3);
    assert_eq!(f32::from_bits(w[7]), 0.1f64 as f32);
    let out = run_op(
        "mov.b64 {%r1, %r2}, %l0;
         mov.b64 %rd1, {%r2, %r1};
         st.global.u64 [%o], %rd1;
         mov.b32 {%rs1, %rs2}, %u1;
         mov.b32 %r3, {%rs2, %rs1};
         mov.b64 {%rs3, _, %rs4, _}, %l2;
         mov.b32 %r4, {%rs4, %rs3};
         st.global.v2.u32 [%o+8], {%r3, %r4};
         mov.f64 %fd1, 0d3FF8000000000000;
         mov.f64 %fd2, -2.5;
         add.rn.f64 %fd3, %fd1, %fd2;
         mov.f64 %fd4, 0f3F800000;
         add.rn.f64 %fd3, %fd3, %fd4;
         st.global.f64 [%o+16], %fd3;
         mov.pred %p1, 1;
         mov.pred %p2, %p1;
         selp.u32 %r5, 7, 9, %p2;
         st.global.u32 [%o+24], %r5;",
        &[[0x1111_2222_3333_4444, 0xAAAA_BBBB, 0x0001_0002_0003_0004, 0]],
    );
    assert_eq!(out[0][0], 0x3333_4444_1111_2222);
    assert_eq!(out[0][1] as u32, 0xBBBB_AAAA);
    assert_eq!((out[0][1] >> 32) as u32, 0x0004_0002);
    assert_eq!(f64::from_bits(out[0][2]), 0.0);
    assert_eq!(out[0][3] as u32, 7);
}

#[test]
fn branches_and_loops() {
    let rows: Vec<[u64; 4]> = (0..300u64).map(|i| [i % 97, i, 0, 0]).collect();
    let out = run_op(
        "mov.u32 %r1, 0;
         mov.u32 %r2, 0;
     $L__loop:
         setp.ge.u32 %p1, %r2, %u0;
         @%p1 bra.uni $L__done;
         add.u32 %r2, %r2, 1;
         mul.lo.u32 %r3, %r2, %r2;
         add.u32 %r1, %r1, %r3;
         bra $L__loop;
     $L__done:
         and.b32 %r4, %u1, 1;
         setp.eq.u32 %p2, %r4, 0;
         @%p2 bra $L__even;
         mov.u32 %r5, 111;
         bra.uni $L__join;
     $L__even:
         mov.u32 %r5, 222;
     $L__join:
         st.global.v2.u32 [%o], {%r1, %r5};",
        &rows,
    );
    for (r, o) in rows.iter().zip(&out) {
        let n = r[0] as u32;
        let sum: u32 = (1..=n).map(|k| k * k).sum();
        assert_eq!(o[0] as u32, sum);
        assert_eq!((o[0] >> 32) as u32, if r[1] % 2 == 0 { 222 } else { 111 });
    }
}

#[test]
fn special_registers_in_3d_launch() {
    let ptx = format!(
        "{HEADER}
.visible .entry ids(.param .u64 out)
{{
    .reg .b32 %r<20>;
    .reg .b64 %rd<6>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, %tid.y;
    mov.u32 %r3, %tid.z;
    mov.u32 %r4, %ntid.x;
    mov.u32 %r5, %ntid.y;
    mov.u32 %r6, %ntid.z;
    mov.u32 %r7, %ctaid.x;
    mov.u32 %r8, %ctaid.y;
    mov.u32 %r9, %ctaid.z;
    mov.u32 %r10, %nctaid.x;
    mov.u32 %r11, %nctaid.y;
    mov.u32 %r12, %nctaid.z;
    // linear block = (z * ny + y) * nx + x; linear thread likewise
    mad.lo.u32 %r13, %r9, %r11, %r8;
    mad.lo.u32 %r13, %r13, %r10, %r7;
    mad.lo.u32 %r14, %r3, %r5, %r2;
    mad.lo.u32 %r14, %r14, %r4, %r1;
    mul.lo.u32 %r15, %r4, %r5;
    mul.lo.u32 %r15, %r15, %r6;
    mad.lo.u32 %r16, %r13, %r15, %r14;
    mul.wide.u32 %rd2, %r16, 16;
    add.s64 %rd3, %rd1, %rd2;
    // pack (tid.x, tid.y, tid.z, ctaid.x..z) into bytes
    shl.b32 %r17, %r2, 8;
    or.b32 %r17, %r17, %r1;
    shl.b32 %r18, %r3, 16;
    or.b32 %r17, %r17, %r18;
    shl.b32 %r18, %r8, 8;
    or.b32 %r18, %r18, %r7;
    shl.b32 %r19, %r9, 16;
    or.b32 %r18, %r18, %r19;
    st.global.v4.u32 [%rd3], {{%r17, %r18, %r15, %r12}};
    ret;
}}
"
    );
    ptxas_check(&ptx);
    let grid = [3u32, 2, 2];
    let block = [4u32, 3, 2];
    let n = 12 * 24;
    let m = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let out_addr = dev.alloc(n * 16);
    let stats = dev
        .launch(&m, "ids", grid, block, 0, &[Param::U64(out_addr)])
        .unwrap();
    assert_eq!(stats.blocks, 12);
    assert_eq!(stats.threads, 288);
    let out = dev.read_u32(out_addr, n * 4).unwrap();
    let mut k = 0;
    for bz in 0..2 {
        for by in 0..2 {
            for bx in 0..3 {
                for tz in 0..2 {
                    for ty in 0..3 {
                        for tx in 0..4 {
                            let w = &out[4 * k..4 * k + 4];
                            assert_eq!(w[0], tx | ty << 8 | tz << 16);
                            assert_eq!(w[1], bx | by << 8 | bz << 16);
                            assert_eq!(w[2], 24);
                            assert_eq!(w[3], 2);
                            k += 1;
                        }
                    }
                }
            }
        }
    }
}
