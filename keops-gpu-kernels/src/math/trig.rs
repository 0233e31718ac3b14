//! `sin`, `cos`, `tan`: accurate for every finite argument.
//!
//! Reduction `x = J pi/2 + r`, `J = rint(x 2/pi)`, `|r| <= pi/4`:
//! * Cody–Waite: pi/2 in three parts applied by `fma` (each `J * P_k`
//!   exact inside the fma). f32 keeps `r` in one float (used for
//!   |x| <= 2^16); f64 keeps `r` as a double-double `rh + rl` (TwoSum on the
//!   second part; used for |x| <= 2^28).
//! * Payne–Hanek above these limits, in a branch taken only by the threads
//!   that need it: the mantissa times a window of the bits of 2/pi (192
//!   bits for f32, 192 of 1152 for f64, chosen by `selp` from immediates:
//!   no memory tables), integer arithmetic, the fraction converted back to
//!   floating point (f64 for f32 results, a double-double for f64).
//!
//! Then minimax polynomials for sin and cos on `[-pi/4, pi/4]` and a
//! quadrant selection by `J mod 4` (both polynomials are evaluated:
//! branch-free); tan divides them.

use super::ops::{int, E};
use crate::ptx::{Prec, Reg, Ty};

/// `sin r = r + r z S(z)`, `z = r^2`, |r| <= pi/4: f32 (relative 2^-27.9).
const SIN_S_F32: [u64; 3] = [0xBE2AAAA3, 0x3C0883BB, 0xB94CA97D];
/// `cos r = 1 + z C(z)`: f32 (relative 2^-33.0).
const COS_C_F32: [u64; 4] = [0xBF000000, 0x3D2AAAA5, 0xBAB60614, 0x37CCF406];
/// `sin r = r + r z S(z)`: f64 (relative 2^-57.9).
const SIN_S_F64: [u64; 6] = [
    0xBFC5555555555548,
    0x3F8111111110F730,
    0xBF2A01A019BE9217,
    0x3EC71DE35552B52C,
    0xBE5AE5E4B83E46FC,
    0x3DE5D8B559496920,
];
/// `cos r = 1 - z/2 + z^2 C(z)`: f64 (relative 2^-63.9).
const COS_C_F64: [u64; 6] = [
    0x3FA555555555554B,
    0xBF56C16C16C1500D,
    0x3EFA01A019C8DD22,
    0xBE927E4F7F0509A3,
    0x3E21EE9DACC13F15,
    0xBDA8FA5ECEABE869,
];

/// The reduced argument and quadrant.
struct Reduced {
    /// `r` (f32) or its high part (f64).
    rh: Reg,
    /// Low part (f64 only).
    rl: Option<Reg>,
    /// `J` as an s32.
    q: Reg,
}

fn reduce(e: &mut E, x: Reg) -> Reduced {
    match e.p {
        Prec::F32 => {
            let t = e.mul(x, e.kb(0x3F22F983));
            let j = e.rint(t);
            // -P1, -P2, -P3
            let r = e.fma(j, e.kb(0xBFC90FDB), x);
            let r = e.fma(j, e.kb(0x333BBD2E), r);
            let r = e.fma(j, e.kb(0x26F72CED), r);
            let q = e.cvt_s32(j);
            payne_hanek_f32(e, x, r, q);
            Reduced { rh: r, rl: None, q }
        }
        Prec::F64 => {
            let t = e.mul(x, e.kb(0x3FE45F306DC9C883));
            let j = e.rint(t);
            // r1 = x - J P1 (exact)
            let r1 = e.fma(j, e.kb(0xBFF921FB54442D18), x);
            // J P2 = th + tl exactly
            let p2 = e.kb(0x3C91A62633145C07);
            let th = e.mul(j, p2.clone());
            let nth = e.neg(th);
            let tl = e.fma(j, p2, nth);
            // TwoSum(r1, -th) = rh + err
            let rh = e.sub(r1, th);
            let bb = e.sub(rh, r1);
            let ab = e.sub(rh, bb);
            let da = e.sub(r1, ab);
            let db = e.sub(nth, bb);
            let err = e.add(da, db);
            // rl = err - tl - J P3
            let l1 = e.sub(err, tl);
            let rl = e.fma(j, e.kb(0x391F1976B7ED8FBC), l1);
            // renormalise
            let h = e.add(rh, rl);
            let d = e.sub(h, rh);
            let l = e.sub(rl, d);
            let q = e.cvt_s32(j);
            payne_hanek_f64(e, x, h, l, q);
            Reduced {
                rh: h,
                rl: Some(l),
                q,
            }
        }
    }
}

/// 2/pi in 32-bit words (big-endian fraction bits).
const TWO_OVER_PI_32: [u32; 6] = [
    0xA2F9836E, 0x4E441529, 0xFC2757D1, 0xF534DDC0, 0xDB629599, 0x3C439041,
];

/// Above this |x| (f32), the reduction is Payne–Hanek.
const PH_LIMIT_F32: f64 = 65536.0;

/// Payne–Hanek reduction for f32 with |x| > 2^16 (finite), in a branch
/// taken only by such threads: overwrites `r` and `q`.
///
/// `x = m 2^(expo - 158)` with the 32-bit mantissa `m`; the 224-bit
/// product `m * W` (W: the first 192 bits of 2/pi) holds `x 2/pi` with
/// its binary point at bit `350 - expo`; the 64 bits from `288 - expo`
/// up are two quadrant bits and 62 fraction bits, rounded to a signed
/// fraction, converted to f64 and scaled by pi/2.
fn payne_hanek_f32(e: &mut E, x: Reg, r: Reg, q: Reg) {
    let ax = e.abs(x);
    let big = e.setp("gt", ax, e.k(PH_LIMIT_F32));
    let fin = e.setp("lt", ax, e.k(f64::INFINITY));
    let go = e.pand(big, fin);
    let skip = e.b.label();
    e.b.emit(format!("@!{go} bra {skip}"));
    let bits = e.bits(x);
    let expo = e.i32op("bfe.u32", &[bits.into(), int(23), int(8)]);
    let sh = e.i32op("shl.b32", &[bits.into(), int(8)]);
    let m = e.i32op("or.b32", &[sh.into(), int(0x8000_0000)]);
    // R[0..7] = m * W, least significant word first
    let mut words = Vec::new();
    let mut carry: Option<Reg> = None;
    for &w in TWO_OVER_PI_32.iter().rev() {
        let t = match carry {
            None => e.op(Ty::B64, "mul.wide.u32", &[m.into(), int(w as i64)]),
            Some(c) => e.op(
                Ty::B64,
                "mad.wide.u32",
                &[m.into(), int(w as i64), c.into()],
            ),
        };
        let lo = e.op(Ty::B32, "cvt.u32.u64", &[t.into()]);
        words.push(lo);
        carry = Some(e.op(Ty::B64, "shr.u64", &[t.into(), int(32)]));
    }
    let top = e.op(Ty::B32, "cvt.u32.u64", &[carry.unwrap().into()]);
    words.push(top);
    // window start s = 288 - expo in [34, 145]: word w = s >> 5 in 1..=4
    let s = e.i32op("sub.s32", &[int(288), expo.into()]);
    let wi = e.i32op("shr.u32", &[s.into(), int(5)]);
    let b = e.i32op("and.b32", &[s.into(), int(31)]);
    let pick = |e: &mut E, off: usize| -> Reg {
        // words[w + off] for w in 1..=4
        let mut v = words[1 + off];
        for w in 2..=4usize {
            let p = e.isetp("eq", "u32", wi, int(w as i64));
            v = e.seli(Ty::B32, words[w + off], v, p);
        }
        v
    };
    let a0 = pick(e, 0);
    let a1 = pick(e, 1);
    let a2 = pick(e, 2);
    let lohi = e.op(
        Ty::B64,
        "mov.b64",
        &[super::ops::O::raw(format!("{{{a0}, {a1}}}"))],
    );
    let lo_part = e.op(Ty::B64, "shr.u64", &[lohi.into(), b.into()]);
    let a2w = e.op(Ty::B64, "cvt.u64.u32", &[a2.into()]);
    let nb = e.i32op("sub.s32", &[int(64), b.into()]);
    let hi_part = e.op(Ty::B64, "shl.b64", &[a2w.into(), nb.into()]);
    let v = e.op(Ty::B64, "or.b64", &[lo_part.into(), hi_part.into()]);
    let qv = e.op(Ty::B64, "shr.u64", &[v.into(), int(62)]);
    let q0 = e.op(Ty::B32, "cvt.u32.u64", &[qv.into()]);
    let f = e.op(Ty::B64, "shl.b64", &[v.into(), int(2)]);
    let negf = e.isetp("lt", "s64", f, int(0));
    let q1 = e.i32op("add.s32", &[q0.into(), int(1)]);
    let q2 = e.seli(Ty::B32, q1, q0, negf);
    let ff = e.op(Ty::F64, "cvt.rn.f64.s64", &[f.into()]);
    // pi/2 * 2^-64
    let r64 = e.op(
        Ty::F64,
        "mul.rn.f64",
        &[
            ff.into(),
            super::ops::O::raw(Prec::F64.imm(std::f64::consts::FRAC_PI_2 * 2f64.powi(-64))),
        ],
    );
    let r32 = e.op(Ty::F32, "cvt.rn.f32.f64", &[r64.into()]);
    let xneg = e.setp("lt", x, e.k(0.0));
    let nr = e.neg(r32);
    let r2 = e.sel(nr, r32, xneg);
    let nq = e.i32op("neg.s32", &[q2.into()]);
    let q3 = e.seli(Ty::B32, nq, q2, xneg);
    e.mov(r, r2);
    e.mov(q, q3);
    e.b.place(skip);
}

/// 2/pi in 64-bit words (big-endian fraction bits), 1152 bits.
const TWO_OVER_PI_64: [u64; 18] = [
    0xA2F9836E4E441529,
    0xFC2757D1F534DDC0,
    0xDB6295993C439041,
    0xFE5163ABDEBBC561,
    0xB7246E3A424DD2E0,
    0x06492EEA09D1921C,
    0xFE1DEB1CB129A73E,
    0xE88235F52EBB4484,
    0xE99C7026B45F7E41,
    0x3991D639835339F4,
    0x9C845F8BBDF9283B,
    0x1FF897FFDE05980F,
    0xEF2F118B5A0A6D1F,
    0x6D367ECF27CB09B7,
    0x4F463F669E5FEA2D,
    0x7527BAC7EBE5F17B,
    0x3D0739F78A5292EA,
    0x6BFB5FB11F8D5D08,
];

/// Above this |x| (f64), the reduction is Payne–Hanek.
const PH_LIMIT_F64: f64 = 268_435_456.0; // 2^28

/// A 64-bit hex immediate.
fn imm64(v: u64) -> super::ops::O {
    super::ops::O::raw(format!("0x{v:016X}"))
}

/// `vals[k]` for the 4-bit index whose bits are `bits` (binary tree of
/// `selp`).
fn select16(e: &mut E, bits: &[Reg; 4], vals: &[super::ops::O]) -> Reg {
    let mut level = Vec::new();
    for pair in vals.chunks(2) {
        let r = e.op(
            Ty::B64,
            "selp.b64",
            &[pair[1].clone(), pair[0].clone(), bits[0].into()],
        );
        level.push(r);
    }
    for &p in &bits[1..] {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            next.push(e.seli(Ty::B64, pair[1], pair[0], p));
        }
        level = next;
    }
    level[0]
}

/// Payne–Hanek reduction for f64 with 2^28 < |x| < inf, in a branch taken
/// only by such threads: overwrites `rh`, `rl` and `q`.
///
/// `x = m 2^s` with the 64-bit mantissa `m`; the 192 bits of 2/pi from
/// fraction bit `s - 1` on form `G` (2 integer bits, 190 fraction bits,
/// the bits before contribute multiples of 4 to `x 2/pi`); `m G` (256 bits)
/// gives the quadrant (2 bits) and 126 fraction bits, rounded to a signed
/// fraction, converted to a double-double and multiplied by pi/2.
fn payne_hanek_f64(e: &mut E, x: Reg, rh: Reg, rl: Reg, q: Reg) {
    let ax = e.abs(x);
    let big = e.setp("gt", ax, e.k(PH_LIMIT_F64));
    let fin = e.setp("lt", ax, e.k(f64::INFINITY));
    let go = e.pand(big, fin);
    let skip = e.b.label();
    e.b.emit(format!("@!{go} bra {skip}"));
    let bits = e.bits(x);
    let sh = e.op(Ty::B64, "shl.b64", &[bits.into(), int(11)]);
    let m = e.op(Ty::B64, "or.b64", &[sh.into(), imm64(1 << 63)]);
    let ex64 = e.op(Ty::B64, "shr.u64", &[bits.into(), int(52)]);
    let ex = e.op(Ty::B32, "cvt.u32.u64", &[ex64.into()]);
    let expo = e.i32op("and.b32", &[ex.into(), int(0x7FF)]);
    // g0 = s + 62 = expo - 1086 + 62
    let g0 = e.i32op("sub.s32", &[expo.into(), int(1024)]);
    let word = e.i32op("shr.u32", &[g0.into(), int(6)]);
    let off = e.i32op("and.b32", &[g0.into(), int(63)]);
    let mut pb = [x; 4];
    for (k, p) in pb.iter_mut().enumerate() {
        let bk = e.i32op("and.b32", &[word.into(), int(1 << k)]);
        *p = e.isetp("ne", "b32", bk, int(0));
    }
    // W' = [0] + 2/pi words; A_j = W'[word + j]
    let mut wp = vec![0u64];
    wp.extend_from_slice(&TWO_OVER_PI_64);
    let mut a = Vec::new();
    for j in 0..4 {
        let vals: Vec<super::ops::O> = (0..16).map(|k| imm64(wp[k + j])).collect();
        a.push(select16(e, &pb, &vals));
    }
    let noff = e.i32op("sub.s32", &[int(64), off.into()]);
    let mut g = Vec::new();
    for j in 0..3 {
        let hi = e.op(Ty::B64, "shl.b64", &[a[j].into(), off.into()]);
        let lo = e.op(Ty::B64, "shr.u64", &[a[j + 1].into(), noff.into()]);
        g.push(e.op(Ty::B64, "or.b64", &[hi.into(), lo.into()]));
    }
    // P = m * (G0:G1:G2) = t3:t2:t1:t0; x 2/pi = P / 2^190, so the
    // quadrant is bits 190..192 (top of t2; t3 only holds multiples of 4)
    // and the fraction bits 62..190
    let mul = |e: &mut E, hl: &str, b: Reg| e.op(Ty::B64, hl, &[m.into(), b.into()]);
    let t0 = mul(e, "mul.lo.u64", g[2]);
    let h2 = mul(e, "mul.hi.u64", g[2]);
    let l1 = mul(e, "mul.lo.u64", g[1]);
    let h1 = mul(e, "mul.hi.u64", g[1]);
    let l0 = mul(e, "mul.lo.u64", g[0]);
    let s1 = e.op(Ty::B64, "add.u64", &[h2.into(), l1.into()]);
    let c1 = e.isetp("lt", "u64", s1, h2);
    let c1v = e.op(Ty::B64, "selp.b64", &[int(1), int(0), c1.into()]);
    let t2 = e.op(Ty::B64, "add.u64", &[h1.into(), l0.into()]);
    let t2 = e.op(Ty::B64, "add.u64", &[t2.into(), c1v.into()]);
    let t1 = s1;
    let qv = e.op(Ty::B64, "shr.u64", &[t2.into(), int(62)]);
    let q0 = e.op(Ty::B32, "cvt.u32.u64", &[qv.into()]);
    let a1 = e.op(Ty::B64, "shl.b64", &[t2.into(), int(2)]);
    let a2 = e.op(Ty::B64, "shr.u64", &[t1.into(), int(62)]);
    let fhi = e.op(Ty::B64, "or.b64", &[a1.into(), a2.into()]);
    let b1 = e.op(Ty::B64, "shl.b64", &[t1.into(), int(2)]);
    let b2 = e.op(Ty::B64, "shr.u64", &[t0.into(), int(62)]);
    let flo = e.op(Ty::B64, "or.b64", &[b1.into(), b2.into()]);
    // fraction >= 1/2: next quadrant, negative fraction (two's complement
    // of the 128-bit value: fhi as signed already is, flo stays unsigned)
    let negf = e.isetp("lt", "s64", fhi, int(0));
    let q1 = e.i32op("add.s32", &[q0.into(), int(1)]);
    let q2 = e.seli(Ty::B32, q1, q0, negf);
    // value = fhi 2^-64 (signed) + flo 2^-128, to a double-double
    let hh = e.op(Ty::B64, "shr.s64", &[fhi.into(), int(32)]);
    let hl = e.op(Ty::B64, "and.b64", &[fhi.into(), imm64(0xFFFF_FFFF)]);
    let lh = e.op(Ty::B64, "shr.u64", &[flo.into(), int(32)]);
    let fa = e.op(Ty::F64, "cvt.rn.f64.s64", &[hh.into()]);
    let fb = e.op(Ty::F64, "cvt.rn.f64.s64", &[hl.into()]);
    let fc = e.op(Ty::F64, "cvt.rn.f64.s64", &[lh.into()]);
    let fa = e.mul(fa, e.kb(0x3DF0000000000000)); // 2^-32
    let fb = e.mul(fb, e.kb(0x3BF0000000000000)); // 2^-64
    let fc = e.mul(fc, e.kb(0x39F0000000000000)); // 2^-96
    let sh_ = e.add(fa, fb);
    let d = e.sub(sh_, fa);
    let err = e.sub(fb, d);
    let sl_ = e.add(err, fc);
    // (sh_ + sl_) * pi/2
    let p1h = e.kb(0x3FF921FB54442D18);
    let p1l = e.kb(0x3C91A62633145C07);
    let ph = e.mul(sh_, p1h.clone());
    let nph = e.neg(ph);
    let pl = e.fma(sh_, p1h.clone(), nph);
    let pl = e.fma(sh_, p1l, pl);
    let pl = e.fma(sl_, p1h, pl);
    let h = e.add(ph, pl);
    let dd = e.sub(h, ph);
    let l = e.sub(pl, dd);
    let xneg = e.setp("lt", x, e.k(0.0));
    let nh = e.neg(h);
    let nl = e.neg(l);
    let h = e.sel(nh, h, xneg);
    let l = e.sel(nl, l, xneg);
    let nq = e.i32op("neg.s32", &[q2.into()]);
    let q3 = e.seli(Ty::B32, nq, q2, xneg);
    e.mov(rh, h);
    e.mov(rl, l);
    e.mov(q, q3);
    e.b.place(skip);
}

/// (sin r, cos r) of the reduced argument.
fn sincos_poly(e: &mut E, red: &Reduced) -> (Reg, Reg) {
    let r = red.rh;
    let z = e.mul(r, r);
    match e.p {
        Prec::F32 => {
            let s = e.horner(z, &SIN_S_F32);
            let rz = e.mul(r, z);
            let sn = e.fma(rz, s, r);
            let c = e.horner(z, &COS_C_F32);
            let cs = e.fma(z, c, e.k(1.0));
            (sn, cs)
        }
        Prec::F64 => {
            let rl = red.rl.unwrap();
            // sin(r + rl) ~ r + (r z S(z) + rl (1 - z/2))
            let s = e.horner(z, &SIN_S_F64);
            let rz = e.mul(r, z);
            let hz = e.mul(z, e.k(0.5));
            let nhz = e.neg(hz);
            let t = e.fma(nhz, rl, rl);
            let u = e.fma(rz, s, t);
            let sn = e.add(r, u);
            // cos(r + rl) ~ w + (((1 - w) - hz) + (z^2 C(z) - r rl)), w = 1 - hz
            let c = e.horner(z, &COS_C_F64);
            let z2 = e.mul(z, z);
            let rrl = e.mul(r, rl);
            let nrrl = e.neg(rrl);
            let v = e.fma(z2, c, nrrl);
            let one = e.k(1.0);
            let w = e.sub(one.clone(), hz);
            let a = e.sub(one, w);
            let a = e.sub(a, hz);
            let a = e.add(a, v);
            let cs = e.add(w, a);
            (sn, cs)
        }
    }
}

/// Picks `±sin r` / `±cos r` by quadrant `q` (sin x for `q`, cos x for
/// `q + 1`).
fn select(e: &mut E, q: Reg, sn: Reg, cs: Reg) -> Reg {
    let odd = e.i32op("and.b32", &[q.into(), int(1)]);
    let pz = e.isetp("ne", "b32", odd, int(0));
    let v = e.sel(cs, sn, pz);
    let two = e.i32op("and.b32", &[q.into(), int(2)]);
    let pn = e.isetp("ne", "b32", two, int(0));
    let nv = e.neg(v);
    e.sel(nv, v, pn)
}

/// Keeps ±0 (sin).
fn finish(e: &mut E, x: Reg, v: Reg, keep_zero: bool) -> Reg {
    if keep_zero {
        let z = e.setp("eq", x, e.k(0.0));
        e.sel(x, v, z)
    } else {
        v
    }
}

/// Sine.
pub(crate) fn sin(e: &mut E, x: Reg) -> Reg {
    let red = reduce(e, x);
    let (sn, cs) = sincos_poly(e, &red);
    let v = select(e, red.q, sn, cs);
    finish(e, x, v, true)
}

/// Cosine.
pub(crate) fn cos(e: &mut E, x: Reg) -> Reg {
    let red = reduce(e, x);
    let (sn, cs) = sincos_poly(e, &red);
    let q1 = e.i32op("add.s32", &[red.q.into(), int(1)]);
    let v = select(e, q1, sn, cs);
    finish(e, x, v, false)
}

/// Tangent: `sin r / cos r` (even quadrant) or `-cos r / sin r` (odd).
pub(crate) fn tan(e: &mut E, x: Reg) -> Reg {
    let red = reduce(e, x);
    let (sn, cs) = sincos_poly(e, &red);
    let odd = e.i32op("and.b32", &[red.q.into(), int(1)]);
    let po = e.isetp("ne", "b32", odd, int(0));
    let ncs = e.neg(cs);
    let num = e.sel(ncs, sn, po);
    let den = e.sel(sn, cs, po);
    let v = e.div(num, den);
    let z = e.setp("eq", x, e.k(0.0));
    e.sel(x, v, z)
}

/// Fast f32 sine / cosine: a two-part reduction by 2 pi, then
/// `sin.approx.ftz` / `cos.approx.ftz` on [-pi, pi].
pub(crate) fn sincos_fast_f32(e: &mut E, x: Reg, cos: bool) -> Reg {
    let t = e.mul(x, e.kb(0x3E22F983));
    let k = e.rint(t);
    let r = e.fma(k, e.kb(0xC0C90FDB), x);
    let r = e.fma(k, e.kb(0x343BBD2E), r);
    let inst = if cos {
        "cos.approx.ftz.f32"
    } else {
        "sin.approx.ftz.f32"
    };
    e.op(Ty::F32, inst, &[r.into()])
}
