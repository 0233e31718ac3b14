//! Exact floating-point arithmetic with every IEEE rounding mode.
//!
//! Round-to-nearest operations run on the host's `f32`/`f64` in the
//! interpreter (IEEE-754 guarantees the same bits). The directed modes
//! (`.rz`, `.rm`, `.rp`), the conversions and the correctly rounded
//! reciprocal square root go through the small software core below: an
//! operation first computes its exact result as `mant * 2^exp` (plus a
//! sticky bit for inexact divisions and square roots, computed with at
//! least 60 significant bits), then [`round`] rounds it once into the
//! destination format. Results are therefore correctly rounded in every
//! mode, subnormals included.
//!
//! NaN results are canonical: `0x7FFF_FFFF` (f32), `0x7FFF_FFFF_FFFF_FFFF`
//! (f64), `0x7FFF` (f16), as PTX documents for f32.

/// An IEEE rounding mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rnd {
    /// To nearest, ties to even.
    Rn,
    /// Towards zero.
    Rz,
    /// Towards minus infinity.
    Rm,
    /// Towards plus infinity.
    Rp,
}

/// A binary floating-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fmt {
    /// Stored fraction bits.
    pub mbits: u32,
    /// Exponent bits.
    pub ebits: u32,
}

pub(crate) const F16: Fmt = Fmt {
    mbits: 10,
    ebits: 5,
};
pub(crate) const F32: Fmt = Fmt {
    mbits: 23,
    ebits: 8,
};
pub(crate) const F64: Fmt = Fmt {
    mbits: 52,
    ebits: 11,
};

/// Canonical f32 NaN.
pub(crate) const NAN32: u32 = 0x7FFF_FFFF;
/// Canonical f64 NaN.
pub(crate) const NAN64: u64 = 0x7FFF_FFFF_FFFF_FFFF;

impl Fmt {
    fn bias(self) -> i32 {
        (1 << (self.ebits - 1)) - 1
    }
    fn sign_bit(self) -> u64 {
        1u64 << (self.mbits + self.ebits)
    }
    fn exp_mask(self) -> u64 {
        (1u64 << self.ebits) - 1
    }
    fn frac_mask(self) -> u64 {
        (1u64 << self.mbits) - 1
    }
    /// The canonical NaN of this format.
    pub fn nan(self) -> u64 {
        (self.exp_mask() << self.mbits) | self.frac_mask()
    }
    /// Infinity with the given sign.
    pub fn inf(self, neg: bool) -> u64 {
        (self.exp_mask() << self.mbits) | if neg { self.sign_bit() } else { 0 }
    }
    /// Zero with the given sign.
    pub fn zero(self, neg: bool) -> u64 {
        if neg {
            self.sign_bit()
        } else {
            0
        }
    }
    fn max_finite(self, neg: bool) -> u64 {
        (((self.exp_mask() - 1) << self.mbits) | self.frac_mask())
            | if neg { self.sign_bit() } else { 0 }
    }
    /// Whether the bits encode a NaN.
    pub fn is_nan(self, bits: u64) -> bool {
        (bits >> self.mbits) & self.exp_mask() == self.exp_mask() && bits & self.frac_mask() != 0
    }
    /// Whether the bits encode a subnormal (non-zero, zero exponent).
    pub fn is_subnormal(self, bits: u64) -> bool {
        (bits >> self.mbits) & self.exp_mask() == 0 && bits & self.frac_mask() != 0
    }
    /// Flushes a subnormal to a zero of the same sign.
    pub fn ftz(self, bits: u64) -> u64 {
        if self.is_subnormal(bits) {
            bits & self.sign_bit()
        } else {
            bits
        }
    }
}

/// An exact finite non-zero value `(-1)^neg * (mant + f) * 2^exp`, where
/// `f` is zero when `sticky` is false and lies strictly in (0, 1) otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exact {
    pub neg: bool,
    pub mant: u128,
    pub exp: i32,
    pub sticky: bool,
}

/// The decoded class of a floating-point value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Class {
    Nan,
    Inf(bool),
    Zero(bool),
    Finite(Exact),
}

/// Decodes the bits of a value in format `f`.
pub(crate) fn classify(bits: u64, f: Fmt) -> Class {
    let neg = bits & f.sign_bit() != 0;
    let e = (bits >> f.mbits) & f.exp_mask();
    let m = bits & f.frac_mask();
    if e == f.exp_mask() {
        if m != 0 {
            Class::Nan
        } else {
            Class::Inf(neg)
        }
    } else if e == 0 {
        if m == 0 {
            Class::Zero(neg)
        } else {
            Class::Finite(Exact {
                neg,
                mant: m as u128,
                exp: 1 - f.bias() - f.mbits as i32,
                sticky: false,
            })
        }
    } else {
        Class::Finite(Exact {
            neg,
            mant: (m | (1u64 << f.mbits)) as u128,
            exp: e as i32 - f.bias() - f.mbits as i32,
            sticky: false,
        })
    }
}

/// `mant >> s`, returning (shifted, round bit, sticky of the bits below it).
fn shr_sticky(mant: u128, s: u32) -> (u128, bool, bool) {
    if s == 0 {
        (mant, false, false)
    } else if s > 128 {
        (0, false, mant != 0)
    } else if s == 128 {
        (0, mant >> 127 != 0, mant & ((1u128 << 127) - 1) != 0)
    } else {
        let m = mant >> s;
        let r = (mant >> (s - 1)) & 1 != 0;
        let st = if s >= 2 {
            mant & ((1u128 << (s - 1)) - 1) != 0
        } else {
            false
        };
        (m, r, st)
    }
}

/// Rounds an exact value into format `f` with mode `rnd`.
pub(crate) fn round(x: Exact, f: Fmt, rnd: Rnd) -> u64 {
    let sign = if x.neg { f.sign_bit() } else { 0 };
    if x.mant == 0 {
        debug_assert!(!x.sticky, "sticky value without mantissa");
        return sign;
    }
    let msb = 127 - x.mant.leading_zeros() as i32;
    let e_msb = x.exp + msb;
    let emin = 1 - f.bias();
    let mut q = e_msb.max(emin) - f.mbits as i32;
    let shift = q - x.exp;
    let (mut m, round_bit, sticky) = if shift <= 0 {
        debug_assert!(!x.sticky, "sticky value with too little precision");
        (x.mant << (-shift) as u32, false, x.sticky)
    } else {
        let (m, r, s) = shr_sticky(x.mant, shift as u32);
        (m, r, s || x.sticky)
    };
    let inexact = round_bit || sticky;
    let inc = match rnd {
        Rnd::Rn => round_bit && (sticky || m & 1 == 1),
        Rnd::Rz => false,
        Rnd::Rm => x.neg && inexact,
        Rnd::Rp => !x.neg && inexact,
    };
    if inc {
        m += 1;
    }
    if m >> (f.mbits + 1) != 0 {
        m >>= 1;
        q += 1;
    }
    if m == 0 {
        return sign;
    }
    if m >> f.mbits == 0 {
        // subnormal (q == emin - mbits)
        return sign | m as u64;
    }
    let biased = q + f.mbits as i32 + f.bias();
    if biased >= f.exp_mask() as i32 {
        let to_inf = match rnd {
            Rnd::Rn => true,
            Rnd::Rz => false,
            Rnd::Rm => x.neg,
            Rnd::Rp => !x.neg,
        };
        return if to_inf {
            f.inf(x.neg)
        } else {
            f.max_finite(x.neg)
        };
    }
    sign | ((biased as u64) << f.mbits) | (m as u64 & f.frac_mask())
}

fn top(x: &Exact) -> i32 {
    x.exp + 127 - x.mant.leading_zeros() as i32
}

/// Exact sum of two exact values (inputs without sticky bits, mantissas
/// below 2^107). The result may be zero (`mant == 0`, no sticky).
fn add_exact(x: Exact, y: Exact) -> Exact {
    let (big, small) = if top(&x) >= top(&y) { (x, y) } else { (y, x) };
    let sh_big = big.mant.leading_zeros() as i32 - 2;
    let bm = big.mant << sh_big as u32;
    let base = big.exp - sh_big;
    let d = small.exp - base;
    let (sm, sticky) = if d >= 0 {
        (small.mant << d as u32, false)
    } else {
        let (m, r, s) = shr_sticky(small.mant, (-d) as u32);
        (m, r || s)
    };
    if big.neg == small.neg {
        Exact {
            neg: big.neg,
            mant: bm + sm,
            exp: base,
            sticky,
        }
    } else if bm >= sm {
        if sticky {
            Exact {
                neg: big.neg,
                mant: bm - sm - 1,
                exp: base,
                sticky: true,
            }
        } else {
            Exact {
                neg: big.neg,
                mant: bm - sm,
                exp: base,
                sticky: false,
            }
        }
    } else {
        debug_assert!(!sticky);
        Exact {
            neg: small.neg,
            mant: sm - bm,
            exp: base,
            sticky: false,
        }
    }
}

fn round_or_zero(x: Exact, f: Fmt, rnd: Rnd) -> u64 {
    if x.mant == 0 && !x.sticky {
        // exact cancellation: +0, or -0 when rounding down
        f.zero(rnd == Rnd::Rm)
    } else {
        round(x, f, rnd)
    }
}

/// `a + b` in format `f`.
pub(crate) fn add(a: u64, b: u64, f: Fmt, rnd: Rnd) -> u64 {
    match (classify(a, f), classify(b, f)) {
        (Class::Nan, _) | (_, Class::Nan) => f.nan(),
        (Class::Inf(x), Class::Inf(y)) => {
            if x == y {
                f.inf(x)
            } else {
                f.nan()
            }
        }
        (Class::Inf(x), _) | (_, Class::Inf(x)) => f.inf(x),
        (Class::Zero(x), Class::Zero(y)) => {
            if x == y {
                f.zero(x)
            } else {
                f.zero(rnd == Rnd::Rm)
            }
        }
        (Class::Zero(_), Class::Finite(_)) => b,
        (Class::Finite(_), Class::Zero(_)) => a,
        (Class::Finite(x), Class::Finite(y)) => round_or_zero(add_exact(x, y), f, rnd),
    }
}

/// `a - b` in format `f`.
pub(crate) fn sub(a: u64, b: u64, f: Fmt, rnd: Rnd) -> u64 {
    add(a, b ^ f.sign_bit(), f, rnd)
}

/// `a * b` in format `f`.
pub(crate) fn mul(a: u64, b: u64, f: Fmt, rnd: Rnd) -> u64 {
    let neg = (a ^ b) & f.sign_bit() != 0;
    match (classify(a, f), classify(b, f)) {
        (Class::Nan, _) | (_, Class::Nan) => f.nan(),
        (Class::Inf(_), Class::Zero(_)) | (Class::Zero(_), Class::Inf(_)) => f.nan(),
        (Class::Inf(_), _) | (_, Class::Inf(_)) => f.inf(neg),
        (Class::Zero(_), _) | (_, Class::Zero(_)) => f.zero(neg),
        (Class::Finite(x), Class::Finite(y)) => round(
            Exact {
                neg,
                mant: x.mant * y.mant,
                exp: x.exp + y.exp,
                sticky: false,
            },
            f,
            rnd,
        ),
    }
}

/// `a * b + c` with a single rounding, in format `f`.
pub(crate) fn fma(a: u64, b: u64, c: u64, f: Fmt, rnd: Rnd) -> u64 {
    let pneg = (a ^ b) & f.sign_bit() != 0;
    let (ca, cb, cc) = (classify(a, f), classify(b, f), classify(c, f));
    if matches!(ca, Class::Nan) || matches!(cb, Class::Nan) || matches!(cc, Class::Nan) {
        return f.nan();
    }
    let prod_inf = match (ca, cb) {
        (Class::Inf(_), Class::Zero(_)) | (Class::Zero(_), Class::Inf(_)) => return f.nan(),
        (Class::Inf(_), _) | (_, Class::Inf(_)) => true,
        _ => false,
    };
    if prod_inf {
        return match cc {
            Class::Inf(n) if n != pneg => f.nan(),
            _ => f.inf(pneg),
        };
    }
    if let Class::Inf(_) = cc {
        return c;
    }
    let prod = match (ca, cb) {
        (Class::Finite(x), Class::Finite(y)) => Some(Exact {
            neg: pneg,
            mant: x.mant * y.mant,
            exp: x.exp + y.exp,
            sticky: false,
        }),
        _ => None,
    };
    match (prod, cc) {
        (None, Class::Zero(cn)) => {
            if cn == pneg {
                f.zero(cn)
            } else {
                f.zero(rnd == Rnd::Rm)
            }
        }
        (None, _) => c,
        (Some(p), Class::Zero(_)) => round(p, f, rnd),
        (Some(p), Class::Finite(y)) => round_or_zero(add_exact(p, y), f, rnd),
        (Some(_), _) => unreachable!("non-finite addend handled above"),
    }
}

/// `a / b` in format `f`.
pub(crate) fn div(a: u64, b: u64, f: Fmt, rnd: Rnd) -> u64 {
    let neg = (a ^ b) & f.sign_bit() != 0;
    match (classify(a, f), classify(b, f)) {
        (Class::Nan, _) | (_, Class::Nan) => f.nan(),
        (Class::Inf(_), Class::Inf(_)) | (Class::Zero(_), Class::Zero(_)) => f.nan(),
        (Class::Inf(_), _) => f.inf(neg),
        (_, Class::Inf(_)) => f.zero(neg),
        (_, Class::Zero(_)) => f.inf(neg),
        (Class::Zero(_), _) => f.zero(neg),
        (Class::Finite(x), Class::Finite(y)) => {
            let sh = x.mant.leading_zeros() - 1;
            let n = x.mant << sh;
            let q = n / y.mant;
            let r = n % y.mant;
            round(
                Exact {
                    neg,
                    mant: q,
                    exp: x.exp - sh as i32 - y.exp,
                    sticky: r != 0,
                },
                f,
                rnd,
            )
        }
    }
}

fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let bits = 128 - n.leading_zeros();
    let mut x: u128 = 1u128 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// Square root of an exact positive value, with at least 62 significant bits.
fn sqrt_exact(x: Exact) -> Exact {
    debug_assert!(
        x.mant.leading_zeros() >= 3,
        "mantissa too wide for sqrt_exact"
    );
    let mut sh = x.mant.leading_zeros() as i32 - 2;
    if (x.exp - sh) % 2 != 0 {
        sh -= 1;
    }
    let m = x.mant << sh as u32;
    let e = x.exp - sh;
    let r = isqrt(m);
    Exact {
        neg: false,
        mant: r,
        exp: e / 2,
        sticky: r * r != m || x.sticky,
    }
}

/// Square root in format `f`.
pub(crate) fn sqrt(a: u64, f: Fmt, rnd: Rnd) -> u64 {
    match classify(a, f) {
        Class::Nan => f.nan(),
        Class::Zero(n) => f.zero(n),
        Class::Inf(false) => f.inf(false),
        Class::Inf(true) => f.nan(),
        Class::Finite(x) if x.neg => f.nan(),
        Class::Finite(x) => round(sqrt_exact(x), f, rnd),
    }
}

/// Correctly rounded `1/sqrt(a)` in format `f` (round to nearest).
pub(crate) fn rsqrt(a: u64, f: Fmt) -> u64 {
    match classify(a, f) {
        Class::Nan => f.nan(),
        Class::Zero(n) => f.inf(n),
        Class::Inf(false) => f.zero(false),
        Class::Inf(true) => f.nan(),
        Class::Finite(x) if x.neg => f.nan(),
        Class::Finite(x) => {
            // normalise m to [2^63, 2^64) so that 2^128 / m lies in (2^64, 2^65]
            let sh = x.mant.leading_zeros() - 64;
            let (m, e) = (x.mant << sh, x.exp - sh as i32);
            // 1/x = (2^128 / m) * 2^(-128 - e), with 2^128 = q * m + r
            let q = u128::MAX / m;
            let r = u128::MAX % m;
            let (q, r) = if r + 1 == m { (q + 1, 0) } else { (q, r + 1) };
            let inv = Exact {
                neg: false,
                mant: q,
                exp: -128 - e,
                sticky: r != 0,
            };
            round(sqrt_exact(inv), f, Rnd::Rn)
        }
    }
}

/// Converts a float between formats (`to` may be narrower or wider).
pub(crate) fn convert(bits: u64, from: Fmt, to: Fmt, rnd: Rnd) -> u64 {
    match classify(bits, from) {
        Class::Nan => to.nan(),
        Class::Inf(n) => to.inf(n),
        Class::Zero(n) => to.zero(n),
        Class::Finite(x) => round(x, to, rnd),
    }
}

/// Converts an integer (sign and magnitude) to a float.
pub(crate) fn from_int(neg: bool, mag: u64, to: Fmt, rnd: Rnd) -> u64 {
    if mag == 0 {
        return 0;
    }
    round(
        Exact {
            neg,
            mant: mag as u128,
            exp: 0,
            sticky: false,
        },
        to,
        rnd,
    )
}

/// Rounds an f64 value to an integral f64 value.
pub(crate) fn round_int_f64(x: f64, rnd: Rnd) -> f64 {
    match rnd {
        Rnd::Rn => x.round_ties_even(),
        Rnd::Rz => x.trunc(),
        Rnd::Rm => x.floor(),
        Rnd::Rp => x.ceil(),
    }
}

/// Rounds an f32 value to an integral f32 value.
pub(crate) fn round_int_f32(x: f32, rnd: Rnd) -> f32 {
    match rnd {
        Rnd::Rn => x.round_ties_even(),
        Rnd::Rz => x.trunc(),
        Rnd::Rm => x.floor(),
        Rnd::Rp => x.ceil(),
    }
}

/// Converts a float value (given exactly as f64) to an integer of `bits`
/// bits, rounding with `rnd`, saturating, NaN → 0. Returns the result
/// masked to `bits`.
pub(crate) fn to_int(x: f64, rnd: Rnd, bits: u32, signed: bool) -> u64 {
    if x.is_nan() {
        return 0;
    }
    let r = round_int_f64(x, rnd);
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    if signed {
        let hi_excl = (1u128 << (bits - 1)) as f64; // exact power of two
        let lo = -hi_excl;
        let v: i64 = if r < lo {
            if bits == 64 {
                i64::MIN
            } else {
                -(1i64 << (bits - 1))
            }
        } else if r >= hi_excl {
            if bits == 64 {
                i64::MAX
            } else {
                (1i64 << (bits - 1)) - 1
            }
        } else {
            r as i64
        };
        (v as u64) & mask
    } else {
        let hi_excl = (1u128 << bits) as f64; // exact power of two
        if r <= 0.0 {
            0
        } else if r >= hi_excl {
            mask
        } else {
            r as u64
        }
    }
}

/// Next representable f32 towards +inf (`up`) or -inf.
#[cfg(test)]
pub(crate) fn next_f32(x: f32, up: bool) -> f32 {
    if x.is_nan() || (x.is_infinite() && (x > 0.0) == up) {
        return x;
    }
    if x == 0.0 {
        let tiny = f32::from_bits(1);
        return if up { tiny } else { -tiny };
    }
    let b = x.to_bits();
    let away = (x > 0.0) == up;
    f32::from_bits(if away { b + 1 } else { b - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32r(a: u32) -> u64 {
        a as u64
    }

    #[test]
    fn soft_rn_matches_host_f32_and_f64() {
        let mut rng = fastrand::Rng::with_seed(7);
        let special32 = [
            0u32,
            0x8000_0000,
            1,
            0x8000_0001,
            0x007F_FFFF,
            0x0080_0000,
            0x7F7F_FFFF,
            0xFF7F_FFFF,
            0x7F80_0000,
            0xFF80_0000,
            0x3F80_0000,
            0xBF80_0000,
            0x3400_0000,
            0x0000_0003,
        ];
        let gen32 = |rng: &mut fastrand::Rng| -> u32 {
            match rng.u32(0..4) {
                0 => special32[rng.usize(0..special32.len())],
                1 => rng.u32(..),
                2 => (rng.u32(0x3E00_0000..0x4100_0000)) | (rng.u32(0..2) << 31),
                _ => rng.u32(0..0x0100_0000) | (rng.u32(0..2) << 31),
            }
        };
        for _ in 0..200_000 {
            let (a, b, c) = (gen32(&mut rng), gen32(&mut rng), gen32(&mut rng));
            let (x, y, z) = (f32::from_bits(a), f32::from_bits(b), f32::from_bits(c));
            let chk = |soft: u64, host: f32, what: &str| {
                if host.is_nan() {
                    assert_eq!(soft, NAN32 as u64, "{what} {x:e} {y:e} {z:e}");
                } else {
                    assert_eq!(soft as u32, host.to_bits(), "{what} {x:e} {y:e} {z:e}");
                }
            };
            chk(add(f32r(a), f32r(b), F32, Rnd::Rn), x + y, "add");
            chk(sub(f32r(a), f32r(b), F32, Rnd::Rn), x - y, "sub");
            chk(mul(f32r(a), f32r(b), F32, Rnd::Rn), x * y, "mul");
            chk(div(f32r(a), f32r(b), F32, Rnd::Rn), x / y, "div");
            chk(sqrt(f32r(a), F32, Rnd::Rn), x.sqrt(), "sqrt");
            chk(
                fma(f32r(a), f32r(b), f32r(c), F32, Rnd::Rn),
                x.mul_add(y, z),
                "fma",
            );
        }
        for _ in 0..200_000 {
            let g = |rng: &mut fastrand::Rng| -> u64 {
                match rng.u32(0..3) {
                    0 => rng.u64(..),
                    1 => rng.u64(0x3F00_0000_0000_0000..0x4100_0000_0000_0000),
                    _ => rng.u64(0..0x0020_0000_0000_0000) | (rng.u64(0..2) << 63),
                }
            };
            let (a, b, c) = (g(&mut rng), g(&mut rng), g(&mut rng));
            let (x, y, z) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
            let chk = |soft: u64, host: f64, what: &str| {
                if host.is_nan() {
                    assert_eq!(soft, NAN64, "{what}");
                } else {
                    assert_eq!(soft, host.to_bits(), "{what} {x:e} {y:e} {z:e}");
                }
            };
            chk(add(a, b, F64, Rnd::Rn), x + y, "add");
            chk(mul(a, b, F64, Rnd::Rn), x * y, "mul");
            chk(div(a, b, F64, Rnd::Rn), x / y, "div");
            chk(sqrt(a, F64, Rnd::Rn), x.sqrt(), "sqrt");
            chk(fma(a, b, c, F64, Rnd::Rn), x.mul_add(y, z), "fma");
            let n = convert(a, F64, F32, Rnd::Rn);
            if x.is_nan() {
                assert_eq!(n, NAN32 as u64);
            } else {
                assert_eq!(n as u32, (x as f32).to_bits(), "narrow {x:e}");
            }
        }
    }

    /// Directed f32 results checked against an f64 computation (exact for
    /// add/sub/mul of f32 values when no rounding happens in f64).
    #[test]
    fn soft_directed_f32_brackets_exact_value() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..100_000 {
            let x = f32::from_bits(rng.u32(0x3000_0000..0x5000_0000) | (rng.u32(0..2) << 31));
            let y = f32::from_bits(rng.u32(0x3000_0000..0x5000_0000) | (rng.u32(0..2) << 31));
            let exact = x as f64 * y as f64; // exact (48-bit product)
            let rz =
                f32::from_bits(mul(x.to_bits() as u64, y.to_bits() as u64, F32, Rnd::Rz) as u32);
            let rm =
                f32::from_bits(mul(x.to_bits() as u64, y.to_bits() as u64, F32, Rnd::Rm) as u32);
            let rp =
                f32::from_bits(mul(x.to_bits() as u64, y.to_bits() as u64, F32, Rnd::Rp) as u32);
            assert!((rm as f64) <= exact && exact <= rp as f64);
            assert!(rm == rp || next_f32(rm, true) == rp);
            assert!((rz as f64).abs() <= exact.abs());
            assert!(rz == if exact > 0.0 { rm } else { rp });
        }
    }

    #[test]
    fn round_overflow_and_underflow() {
        let max = f32::MAX.to_bits() as u64;
        let two = 2f32.to_bits() as u64;
        assert_eq!(mul(max, two, F32, Rnd::Rn), F32.inf(false));
        assert_eq!(mul(max, two, F32, Rnd::Rz), max);
        assert_eq!(mul(max, two, F32, Rnd::Rm), max);
        assert_eq!(mul(max, two, F32, Rnd::Rp), F32.inf(false));
        let tiny = 1u64; // smallest subnormal
        let half = 0.5f32.to_bits() as u64;
        assert_eq!(mul(tiny, half, F32, Rnd::Rn), 0); // tie to even -> 0
        assert_eq!(mul(tiny, half, F32, Rnd::Rp), 1);
        assert_eq!(mul(tiny | 0x8000_0000, half, F32, Rnd::Rm), 0x8000_0001);
        assert_eq!(
            rsqrt(4f64.to_bits(), F64),
            0.5f64.to_bits(),
            "rsqrt(4) = 0.5 exactly"
        );
        // smallest subnormals (mantissa 1): 1/sqrt(2^-149) = 2^74.5
        assert_eq!(
            rsqrt(1, F32) as u32,
            ((2f64.sqrt() * (1u128 << 74) as f64) as f32).to_bits()
        );
        assert_eq!(rsqrt(1, F64), (1023u64 + 537) << 52); // 1/sqrt(2^-1074) = 2^537
        assert_eq!(
            rsqrt(2, F64),
            (2f64.sqrt() * f64::from_bits((1023u64 + 536) << 52)).to_bits()
        );
        assert_eq!(
            rsqrt(2f32.to_bits() as u64, F32) as u32,
            (0.5f32.sqrt()).to_bits()
        );
        assert_eq!(
            convert(1.0f32.to_bits() as u64, F32, F16, Rnd::Rn),
            0x3C00,
            "1.0 as f16"
        );
        assert_eq!(convert(0x3C00, F16, F32, Rnd::Rn), 1.0f32.to_bits() as u64);
        assert_eq!(to_int(-1.5, Rnd::Rn, 32, true) as u32 as i32, -2);
        assert_eq!(to_int(1e20, Rnd::Rz, 32, true) as u32 as i32, i32::MAX);
        assert_eq!(to_int(-5.0, Rnd::Rz, 32, false), 0);
        assert_eq!(to_int(f64::NAN, Rnd::Rz, 64, true), 0);
    }
}
