//! The interpreter: launches, blocks, threads, barriers, memory accesses
//! with bounds/initialisation/race checks, and the semantics of every op.

use super::decode::Kernel;
use super::float::{self, Fmt, Rnd, F32, F64, NAN32, NAN64};
use super::inst::*;
use super::memory::{Global, Miss, SHARED_GENERIC_BASE};
use super::{Device, LaunchStats, Module, Param, RaceKind, SimError, Site, Space};

/// Maximum dynamic + static shared memory per block (227 KiB, sm_80/sm_90).
pub(crate) const MAX_SHARED: u64 = 227 * 1024;

/// A runtime fault inside one thread (converted to a [`SimError`] with
/// the launch context).
#[derive(Debug)]
pub(crate) enum FaultKind {
    UninitReg(R),
    UninitMem {
        space: Space,
        addr: u64,
    },
    OutOfBounds {
        space: Space,
        addr: u64,
        size: u32,
        detail: String,
    },
    Misaligned {
        space: Space,
        addr: u64,
        size: u32,
    },
    UseAfterFree {
        addr: u64,
        base: u64,
    },
    SharedRace {
        other: u32,
        other_pc: u32,
        addr: u64,
        kind: RaceKind,
    },
    GlobalRace {
        other: u64,
        other_pc: u32,
        addr: u64,
        kind: RaceKind,
    },
    InstLimit,
    Other(String),
}

type Fault = Box<FaultKind>;
type XResult<T> = Result<T, Fault>;

fn fault<T>(k: FaultKind) -> XResult<T> {
    Err(Box::new(k))
}

/// Per-byte shared-memory tracking.
#[derive(Clone, Copy, Default)]
struct ByteMeta {
    init_gen: u32,
    w_tid: u32,
    w_epoch: u32,
    w_pc: u32,
    r_epoch: u32,
    r1_tid: u32,
    r1_pc: u32,
    r2_tid: u32,
    r2_pc: u32,
}

struct Shared {
    data: Vec<u8>,
    meta: Vec<ByteMeta>,
    static_bytes: u32,
    dynamic_bytes: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Running,
    AtBarrier,
    Exited,
}

#[derive(Clone, Copy, Debug)]
struct Thread {
    pc: usize,
    count: u64,
    status: Status,
}

enum Stop {
    Barrier,
    Exit,
}

/// State shared by the threads of the block being run.
struct Ctx<'a> {
    k: &'a Kernel,
    params: &'a [u8],
    global: &'a mut Global,
    shared: Shared,
    ntid: [u32; 3],
    nctaid: [u32; 3],
    ctaid: [u32; 3],
    /// Barrier interval id: unique per (block, interval) within a launch.
    epoch: u32,
    /// Block generation: shared bytes written in an older block are uninitialised.
    gen: u32,
    block_threads: u32,
    block_linear: u64,
    race_global: bool,
    limit: u64,
    /// Current thread: linear id in block, and its tid.
    me: u32,
    tid: [u32; 3],
}

#[inline(always)]
fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[inline(always)]
fn sx(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }
}

#[inline(always)]
fn canon32(x: f32) -> u64 {
    if x.is_nan() {
        NAN32 as u64
    } else {
        x.to_bits() as u64
    }
}

#[inline(always)]
fn canon64(x: f64) -> u64 {
    if x.is_nan() {
        NAN64
    } else {
        x.to_bits()
    }
}

#[inline(always)]
fn ftz32(b: u32) -> u32 {
    if b & 0x7F80_0000 == 0 {
        b & 0x8000_0000
    } else {
        b
    }
}

fn sat_bits(b: u64, f: Fmt) -> u64 {
    if f.is_nan(b) {
        return 0;
    }
    let one = float::convert(1f64.to_bits(), F64, f, Rnd::Rn);
    let neg = match float::classify(b, f) {
        float::Class::Zero(_) => false,
        float::Class::Inf(n) => n,
        float::Class::Finite(x) => x.neg,
        float::Class::Nan => false,
    };
    if neg {
        return 0;
    }
    // positive (or zero): compare magnitudes as integers (monotonic for positive floats)
    if b > one {
        one
    } else {
        b
    }
}

fn f32_bin(op: FOp2, rnd: Rnd, a: u32, b: u32) -> u64 {
    if rnd == Rnd::Rn {
        let (x, y) = (f32::from_bits(a), f32::from_bits(b));
        canon32(match op {
            FOp2::Add => x + y,
            FOp2::Sub => x - y,
            FOp2::Mul => x * y,
            FOp2::Div => x / y,
        })
    } else {
        let (a, b) = (a as u64, b as u64);
        match op {
            FOp2::Add => float::add(a, b, F32, rnd),
            FOp2::Sub => float::sub(a, b, F32, rnd),
            FOp2::Mul => float::mul(a, b, F32, rnd),
            FOp2::Div => float::div(a, b, F32, rnd),
        }
    }
}

fn f64_bin(op: FOp2, rnd: Rnd, a: u64, b: u64) -> u64 {
    if rnd == Rnd::Rn {
        let (x, y) = (f64::from_bits(a), f64::from_bits(b));
        canon64(match op {
            FOp2::Add => x + y,
            FOp2::Sub => x - y,
            FOp2::Mul => x * y,
            FOp2::Div => x / y,
        })
    } else {
        match op {
            FOp2::Add => float::add(a, b, F64, rnd),
            FOp2::Sub => float::sub(a, b, F64, rnd),
            FOp2::Mul => float::mul(a, b, F64, rnd),
            FOp2::Div => float::div(a, b, F64, rnd),
        }
    }
}

/// f32 function evaluated in f64 and rounded once to f32.
fn via_f64(a: u32, f: fn(f64) -> f64) -> u64 {
    canon32(f(f32::from_bits(a) as f64) as f32)
}

fn un32(op: FOp1, a: u32) -> u64 {
    match op {
        FOp1::Neg => (a ^ 0x8000_0000) as u64,
        FOp1::Abs => (a & 0x7FFF_FFFF) as u64,
        FOp1::Sqrt(Rnd::Rn) => canon32(f32::from_bits(a).sqrt()),
        FOp1::Sqrt(r) => float::sqrt(a as u64, F32, r),
        FOp1::Rcp(Rnd::Rn) => canon32(1.0 / f32::from_bits(a)),
        FOp1::Rcp(r) => float::div(1f32.to_bits() as u64, a as u64, F32, r),
        FOp1::Rsqrt => float::rsqrt(a as u64, F32),
        FOp1::Ex2 => via_f64(a, f64::exp2),
        FOp1::Lg2 => via_f64(a, f64::log2),
        FOp1::Sin => via_f64(a, f64::sin),
        FOp1::Cos => via_f64(a, f64::cos),
        FOp1::Tanh => via_f64(a, f64::tanh),
    }
}

fn un64(op: FOp1, a: u64) -> u64 {
    match op {
        FOp1::Neg => a ^ (1 << 63),
        FOp1::Abs => a & !(1 << 63),
        FOp1::Sqrt(Rnd::Rn) => canon64(f64::from_bits(a).sqrt()),
        FOp1::Sqrt(r) => float::sqrt(a, F64, r),
        FOp1::Rcp(Rnd::Rn) => canon64(1.0 / f64::from_bits(a)),
        FOp1::Rcp(r) => float::div(1f64.to_bits(), a, F64, r),
        FOp1::Rsqrt => float::rsqrt(a, F64),
        // rejected by the decoder for .f64
        FOp1::Ex2 | FOp1::Lg2 | FOp1::Sin | FOp1::Cos | FOp1::Tanh => NAN64,
    }
}

/// PTX min/max: a NaN operand yields the other operand (both NaN → NaN;
/// `.NaN` → NaN if either is); `-0.0` orders below `+0.0`.
fn minmax(a: u64, b: u64, max: bool, nan_mode: bool, f: Fmt) -> u64 {
    let (an, bn) = (f.is_nan(a), f.is_nan(b));
    if an || bn {
        if nan_mode || (an && bn) {
            return f.nan();
        }
        return if an { b } else { a };
    }
    let (x, y) = if f == F32 {
        (
            f32::from_bits(a as u32) as f64,
            f32::from_bits(b as u32) as f64,
        )
    } else {
        (f64::from_bits(a), f64::from_bits(b))
    };
    if x < y {
        if max {
            b
        } else {
            a
        }
    } else if y < x {
        if max {
            a
        } else {
            b
        }
    } else if max {
        a & b
    } else {
        a | b
    }
}

fn testp(class: TestClass, b: u64, f: Fmt) -> bool {
    let c = float::classify(b, f);
    match class {
        TestClass::Finite => matches!(c, float::Class::Zero(_) | float::Class::Finite(_)),
        TestClass::Infinite => matches!(c, float::Class::Inf(_)),
        TestClass::Number => !matches!(c, float::Class::Nan),
        TestClass::NotANumber => matches!(c, float::Class::Nan),
        TestClass::Normal => matches!(c, float::Class::Finite(_)) && !f.is_subnormal(b),
        TestClass::Subnormal => f.is_subnormal(b),
    }
}

fn fcmp(cmp: FCmp, x: f64, y: f64) -> bool {
    let u = x.is_nan() || y.is_nan();
    match cmp {
        FCmp::Eq => !u && x == y,
        FCmp::Ne => !u && x != y,
        FCmp::Lt => !u && x < y,
        FCmp::Le => !u && x <= y,
        FCmp::Gt => !u && x > y,
        FCmp::Ge => !u && x >= y,
        FCmp::Equ => u || x == y,
        FCmp::Neu => u || x != y,
        FCmp::Ltu => u || x < y,
        FCmp::Leu => u || x <= y,
        FCmp::Gtu => u || x > y,
        FCmp::Geu => u || x >= y,
        FCmp::Num => !u,
        FCmp::Nan => u,
    }
}

fn icmp(cmp: ICmp, ty: IntTy, a: u64, b: u64) -> bool {
    let bits = ty.bits as u32;
    if ty.signed {
        let (x, y) = (sx(a, bits), sx(b, bits));
        match cmp {
            ICmp::Eq => x == y,
            ICmp::Ne => x != y,
            ICmp::Lt => x < y,
            ICmp::Le => x <= y,
            ICmp::Gt => x > y,
            ICmp::Ge => x >= y,
        }
    } else {
        let (x, y) = (a & mask(bits), b & mask(bits));
        match cmp {
            ICmp::Eq => x == y,
            ICmp::Ne => x != y,
            ICmp::Lt => x < y,
            ICmp::Le => x <= y,
            ICmp::Gt => x > y,
            ICmp::Ge => x >= y,
        }
    }
}

fn int2(op: IOp2, ty: IntTy, a: u64, b: u64) -> XResult<u64> {
    let bits = ty.bits as u32;
    let m = mask(bits);
    let (a, b) = (a & m, b);
    Ok(match op {
        IOp2::Add => a.wrapping_add(b) & m,
        IOp2::Sub => a.wrapping_sub(b) & m,
        IOp2::AddSat => (sx(a, 32) + sx(b, 32)).clamp(i32::MIN as i64, i32::MAX as i64) as u64 & m,
        IOp2::SubSat => (sx(a, 32) - sx(b, 32)).clamp(i32::MIN as i64, i32::MAX as i64) as u64 & m,
        IOp2::MulLo => a.wrapping_mul(b) & m,
        IOp2::MulHi => {
            if ty.signed {
                ((sx(a, bits) as i128 * sx(b, bits) as i128) >> bits) as u64 & m
            } else {
                ((a as u128 * (b & m) as u128) >> bits) as u64 & m
            }
        }
        IOp2::MulWide => {
            let wm = mask(2 * bits);
            if ty.signed {
                (sx(a, bits) as i128 * sx(b, bits) as i128) as u64 & wm
            } else {
                (a as u128 * (b & m) as u128) as u64 & wm
            }
        }
        IOp2::Div | IOp2::Rem => {
            if b & m == 0 {
                return fault(FaultKind::Other("integer division by zero".into()));
            }
            if ty.signed {
                let (x, y) = (sx(a, bits), sx(b, bits));
                let r = if op == IOp2::Div {
                    x.wrapping_div(y)
                } else {
                    x.wrapping_rem(y)
                };
                r as u64 & m
            } else if op == IOp2::Div {
                a / (b & m)
            } else {
                a % (b & m)
            }
        }
        IOp2::Min | IOp2::Max => {
            let a_lt_b = if ty.signed {
                sx(a, bits) < sx(b, bits)
            } else {
                a < (b & m)
            };
            let pick_a = (op == IOp2::Min) == a_lt_b;
            if pick_a {
                a
            } else {
                b & m
            }
        }
        IOp2::Shl => {
            let s = b & 0xFFFF_FFFF;
            if s >= bits as u64 {
                0
            } else {
                (a << s) & m
            }
        }
        IOp2::Shr => {
            let s = (b & 0xFFFF_FFFF).min(bits as u64 - 1 + if ty.signed { 0 } else { 1 });
            if ty.signed {
                (sx(a, bits) >> s.min(63)) as u64 & m
            } else if s >= bits as u64 {
                0
            } else {
                a >> s
            }
        }
        IOp2::And => a & b & m,
        IOp2::Or => (a | b) & m,
        IOp2::Xor => (a ^ b) & m,
    })
}

fn int1(op: IOp1, ty: IntTy, a: u64) -> u64 {
    let bits = ty.bits as u32;
    let m = mask(bits);
    let a = a & m;
    match op {
        IOp1::Neg => a.wrapping_neg() & m,
        IOp1::Abs => sx(a, bits).wrapping_abs() as u64 & m,
        IOp1::Not => !a & m,
        IOp1::Cnot => (a == 0) as u64,
        IOp1::Popc => a.count_ones() as u64,
        IOp1::Clz => (a.leading_zeros() - (64 - bits)) as u64,
        IOp1::Brev => a.reverse_bits() >> (64 - bits),
    }
}

fn mad(mode: MadMode, ty: IntTy, a: u64, b: u64, c: u64) -> u64 {
    let bits = ty.bits as u32;
    let m = mask(bits);
    let prod: i128 = if ty.signed {
        sx(a, bits) as i128 * sx(b, bits) as i128
    } else {
        ((a & m) as u128 * (b & m) as u128) as i128
    };
    match mode {
        MadMode::Lo => (prod as u64).wrapping_add(c) & m,
        MadMode::Hi => ((prod >> bits) as u64).wrapping_add(c) & m,
        MadMode::Wide => (prod as u64).wrapping_add(c) & mask(2 * bits),
    }
}

fn bfe(ty: IntTy, a: u64, b: u64, c: u64) -> u64 {
    let msb = ty.bits as u64 - 1;
    let pos = b & 0xFF;
    let len = c & 0xFF;
    let sbit = if !ty.signed || len == 0 {
        0
    } else {
        (a >> (pos + len - 1).min(msb)) & 1
    };
    let mut d = 0u64;
    for i in 0..=msb {
        let bit = if i < len && pos + i <= msb {
            (a >> (pos + i)) & 1
        } else {
            sbit
        };
        d |= bit << i;
    }
    d
}

/// Extends an integer result of `bits` bits into a register of `dbits` bits.
fn extend(v: u64, bits: u32, signed: bool, dbits: u32) -> u64 {
    if dbits <= bits {
        v & mask(dbits)
    } else if signed {
        sx(v, bits) as u64 & mask(dbits)
    } else {
        v & mask(bits)
    }
}

fn float_value(bits: u64, f: Fmt) -> f64 {
    if f == F64 {
        f64::from_bits(bits)
    } else if f == F32 {
        f32::from_bits(bits as u32) as f64
    } else {
        f64::from_bits(float::convert(bits, f, F64, Rnd::Rn))
    }
}

fn cvt(kind: CvtKind, dbits: u32, v: u64) -> u64 {
    match kind {
        CvtKind::IntToInt { from, to, sat } => {
            let fb = from.bits as u32;
            let val: i128 = if from.signed {
                sx(v, fb) as i128
            } else {
                (v & mask(fb)) as i128
            };
            let tb = to.bits as u32;
            let val = if sat {
                let (lo, hi) = if to.signed {
                    (-(1i128 << (tb - 1)), (1i128 << (tb - 1)) - 1)
                } else {
                    (0, (1i128 << tb) - 1)
                };
                val.clamp(lo, hi)
            } else {
                val
            };
            extend(val as u64 & mask(tb), tb, to.signed, dbits)
        }
        CvtKind::IntToFloat {
            from,
            to,
            rnd,
            ftz,
            sat,
        } => {
            let fb = from.bits as u32;
            let (neg, mag) = if from.signed {
                let s = sx(v, fb);
                (s < 0, s.unsigned_abs())
            } else {
                (false, v & mask(fb))
            };
            let mut r = if rnd == Rnd::Rn && to == F32 {
                let x = if neg { -(mag as f32) } else { mag as f32 };
                x.to_bits() as u64
            } else if rnd == Rnd::Rn && to == F64 {
                let x = if neg { -(mag as f64) } else { mag as f64 };
                x.to_bits()
            } else {
                float::from_int(neg, mag, to, rnd)
            };
            if ftz && to == F32 {
                r = ftz32(r as u32) as u64;
            }
            if sat {
                r = sat_bits(r, to);
            }
            r
        }
        CvtKind::FloatToInt { from, to, rnd, ftz } => {
            let b = if ftz && from == F32 {
                ftz32(v as u32) as u64
            } else {
                v
            };
            let x = float_value(b, from);
            let r = float::to_int(x, rnd, to.bits as u32, to.signed);
            extend(r, to.bits as u32, to.signed, dbits)
        }
        CvtKind::FloatToFloat {
            from,
            to,
            frnd,
            irnd,
            ftz,
            sat,
        } => {
            let mut b = v & mask(from.mbits + from.ebits + 1);
            if ftz && from == F32 {
                b = ftz32(b as u32) as u64;
            }
            let mut r = if let Some(ir) = irnd {
                // same-size round to integral value
                if from.is_nan(b) {
                    from.nan()
                } else if from == F32 {
                    float::round_int_f32(f32::from_bits(b as u32), ir).to_bits() as u64
                } else if from == F64 {
                    float::round_int_f64(f64::from_bits(b), ir).to_bits()
                } else {
                    let x = float::round_int_f64(float_value(b, from), ir);
                    float::convert(x.to_bits(), F64, to, Rnd::Rn)
                }
            } else if from == to {
                if from.is_nan(b) {
                    from.nan()
                } else {
                    b
                }
            } else {
                float::convert(b, from, to, frnd)
            };
            if ftz && to == F32 {
                r = ftz32(r as u32) as u64;
            }
            if sat {
                r = sat_bits(r, to);
            }
            r
        }
    }
}

/// A thread's register file.
struct Regs<'a> {
    v: &'a mut [u64],
    init: &'a mut [u64],
}

impl Regs<'_> {
    #[inline(always)]
    fn get(&self, r: R) -> XResult<u64> {
        let i = r as usize;
        if (self.init[i >> 6] >> (i & 63)) & 1 == 0 {
            return fault(FaultKind::UninitReg(r));
        }
        Ok(self.v[i])
    }

    #[inline(always)]
    fn set(&mut self, r: R, val: u64) {
        let i = r as usize;
        self.v[i] = val;
        self.init[i >> 6] |= 1u64 << (i & 63);
    }

    #[inline(always)]
    fn f32(&self, r: R) -> XResult<u32> {
        Ok(self.get(r)? as u32)
    }
}

impl Ctx<'_> {
    fn sreg(&self, s: Sreg) -> u64 {
        (match s {
            Sreg::Tid(k) => self.tid[k as usize],
            Sreg::Ntid(k) => self.ntid[k as usize],
            Sreg::Ctaid(k) => self.ctaid[k as usize],
            Sreg::Nctaid(k) => self.nctaid[k as usize],
        }) as u64
    }

    fn global_tid(&self) -> u64 {
        self.block_linear * self.block_threads as u64 + self.me as u64
    }

    /// Resolves a generic address to (space, address in that space).
    fn resolve(&self, space: MemSpace, addr: u64) -> (Space, u64) {
        match space {
            MemSpace::Global => (Space::Global, addr),
            MemSpace::Shared => (Space::Shared, addr),
            MemSpace::Generic => {
                if (SHARED_GENERIC_BASE..SHARED_GENERIC_BASE + (1 << 32)).contains(&addr) {
                    (Space::Shared, addr - SHARED_GENERIC_BASE)
                } else {
                    (Space::Global, addr)
                }
            }
        }
    }

    fn shared_check(&self, addr: u64, len: usize) -> XResult<usize> {
        let size = self.shared.data.len() as u64;
        if addr.saturating_add(len as u64) > size {
            return fault(FaultKind::OutOfBounds {
                space: Space::Shared,
                addr,
                size: len as u32,
                detail: format!(
                    "the block's shared window is {size} bytes ({} static + {} dynamic)",
                    self.shared.static_bytes, self.shared.dynamic_bytes
                ),
            });
        }
        Ok(addr as usize)
    }

    fn global_find(&self, addr: u64, len: usize) -> XResult<usize> {
        match self.global.find(addr, len as u64) {
            Ok(i) => Ok(i),
            Err(Miss::Freed(base)) => fault(FaultKind::UseAfterFree { addr, base }),
            Err(Miss::OutOfBounds(detail)) => fault(FaultKind::OutOfBounds {
                space: Space::Global,
                addr,
                size: len as u32,
                detail,
            }),
        }
    }

    /// Loads `out.len()` bytes; `atomic` accesses skip race checks.
    fn load(
        &mut self,
        space: MemSpace,
        addr: u64,
        out: &mut [u8],
        pc: usize,
        atomic: bool,
    ) -> XResult<()> {
        let len = out.len();
        let (sp, a) = self.resolve(space, addr);
        if a % len as u64 != 0 {
            return fault(FaultKind::Misaligned {
                space: sp,
                addr: a,
                size: len as u32,
            });
        }
        let me = self.me + 1;
        match sp {
            Space::Shared => {
                let off = self.shared_check(a, len)?;
                let (gen, epoch) = (self.gen, self.epoch);
                for i in off..off + len {
                    let m = &mut self.shared.meta[i];
                    if m.init_gen != gen {
                        return fault(FaultKind::UninitMem {
                            space: sp,
                            addr: i as u64,
                        });
                    }
                    if atomic {
                        continue;
                    }
                    if m.w_epoch == epoch && m.w_tid != me {
                        return fault(FaultKind::SharedRace {
                            other: m.w_tid - 1,
                            other_pc: m.w_pc,
                            addr: i as u64,
                            kind: RaceKind::ReadAfterWrite,
                        });
                    }
                    if m.r_epoch != epoch {
                        m.r_epoch = epoch;
                        m.r1_tid = me;
                        m.r1_pc = pc as u32;
                        m.r2_tid = 0;
                    } else if m.r1_tid != me && m.r2_tid == 0 {
                        m.r2_tid = me;
                        m.r2_pc = pc as u32;
                    }
                }
                out.copy_from_slice(&self.shared.data[off..off + len]);
                Ok(())
            }
            _ => {
                let idx = self.global_find(a, len)?;
                let alloc = &self.global.allocs[idx];
                let off = (a - alloc.base) as usize;
                if let Some(b) = alloc.first_uninit(off, len) {
                    return fault(FaultKind::UninitMem {
                        space: sp,
                        addr: alloc.base + b as u64,
                    });
                }
                if !atomic {
                    if let Some(rm) = &alloc.race {
                        let my_g = self.global_tid() + 1;
                        for i in off..off + len {
                            let w = rm.writer[i];
                            if w != 0 && w as u64 != my_g {
                                let other = w as u64 - 1;
                                let other_block = other / self.block_threads as u64;
                                if rm.epoch[i] == self.epoch || other_block != self.block_linear {
                                    return fault(FaultKind::GlobalRace {
                                        other,
                                        other_pc: rm.pc[i],
                                        addr: alloc.base + i as u64,
                                        kind: RaceKind::ReadAfterWrite,
                                    });
                                }
                            }
                        }
                    }
                }
                out.copy_from_slice(&alloc.data[off..off + len]);
                Ok(())
            }
        }
    }

    fn store(
        &mut self,
        space: MemSpace,
        addr: u64,
        bytes: &[u8],
        pc: usize,
        atomic: bool,
    ) -> XResult<()> {
        let len = bytes.len();
        let (sp, a) = self.resolve(space, addr);
        if a % len as u64 != 0 {
            return fault(FaultKind::Misaligned {
                space: sp,
                addr: a,
                size: len as u32,
            });
        }
        let me = self.me + 1;
        match sp {
            Space::Shared => {
                let off = self.shared_check(a, len)?;
                let (gen, epoch) = (self.gen, self.epoch);
                for i in off..off + len {
                    let m = &mut self.shared.meta[i];
                    if !atomic {
                        if m.w_epoch == epoch && m.w_tid != me {
                            return fault(FaultKind::SharedRace {
                                other: m.w_tid - 1,
                                other_pc: m.w_pc,
                                addr: i as u64,
                                kind: RaceKind::WriteAfterWrite,
                            });
                        }
                        if m.r_epoch == epoch {
                            let other = if m.r1_tid != me {
                                Some((m.r1_tid, m.r1_pc))
                            } else if m.r2_tid != 0 && m.r2_tid != me {
                                Some((m.r2_tid, m.r2_pc))
                            } else {
                                None
                            };
                            if let Some((t, p)) = other {
                                return fault(FaultKind::SharedRace {
                                    other: t - 1,
                                    other_pc: p,
                                    addr: i as u64,
                                    kind: RaceKind::WriteAfterRead,
                                });
                            }
                        }
                    }
                    m.w_epoch = epoch;
                    m.w_tid = me;
                    m.w_pc = pc as u32;
                    m.init_gen = gen;
                }
                self.shared.data[off..off + len].copy_from_slice(bytes);
                Ok(())
            }
            _ => {
                let idx = self.global_find(a, len)?;
                let my_g = self.global_tid() + 1;
                let (epoch, bt, bl, race) = (
                    self.epoch,
                    self.block_threads as u64,
                    self.block_linear,
                    self.race_global,
                );
                let alloc = &mut self.global.allocs[idx];
                let off = (a - alloc.base) as usize;
                if race {
                    let size = alloc.size as usize;
                    let rm = alloc.race.get_or_insert_with(|| {
                        Box::new(super::memory::RaceMap {
                            writer: vec![0; size],
                            epoch: vec![0; size],
                            pc: vec![0; size],
                        })
                    });
                    for i in off..off + len {
                        let w = rm.writer[i];
                        if !atomic && w != 0 && w as u64 != my_g {
                            let other = w as u64 - 1;
                            if rm.epoch[i] == epoch || other / bt != bl {
                                return fault(FaultKind::GlobalRace {
                                    other,
                                    other_pc: rm.pc[i],
                                    addr: alloc.base + i as u64,
                                    kind: RaceKind::WriteAfterWrite,
                                });
                            }
                        }
                        rm.writer[i] = my_g as u32;
                        rm.epoch[i] = epoch;
                        rm.pc[i] = pc as u32;
                    }
                }
                alloc.data[off..off + len].copy_from_slice(bytes);
                alloc.mark_init(off, len);
                Ok(())
            }
        }
    }
}

fn atom_apply(op: AtomOp, ty: Ty, old: u64, b: u64, c: u64) -> u64 {
    let bits = ty.bits();
    let m = mask(bits);
    match op {
        AtomOp::Add => match ty {
            Ty::F32 => {
                let x = f32::from_bits(ftz32(old as u32));
                let y = f32::from_bits(ftz32(b as u32));
                ftz32(canon32(x + y) as u32) as u64
            }
            Ty::F64 => canon64(f64::from_bits(old) + f64::from_bits(b)),
            _ => old.wrapping_add(b) & m,
        },
        AtomOp::Min | AtomOp::Max => {
            let lt = if ty.is_signed() {
                sx(old, bits) < sx(b, bits)
            } else {
                old < b
            };
            if (op == AtomOp::Min) == lt {
                old
            } else {
                b
            }
        }
        AtomOp::Exch => b,
        AtomOp::Cas => {
            if old == b {
                c
            } else {
                old
            }
        }
        AtomOp::And => old & b,
        AtomOp::Or => old | b,
        AtomOp::Xor => old ^ b,
        AtomOp::Inc => {
            if old >= b {
                0
            } else {
                old + 1
            }
        }
        AtomOp::Dec => {
            if old == 0 || old > b {
                b
            } else {
                old - 1
            }
        }
    }
}

/// Effective address `base + off` (no wrap-around at 2^32 for 32-bit
/// shared addresses, so a negative offset is reported as out of the window).
fn addr_of(regs: &Regs, base: R, off: i64) -> XResult<u64> {
    let b = if base == NO_REG { 0 } else { regs.get(base)? };
    Ok(b.wrapping_add(off as u64))
}

/// Runs one thread from its current pc until a barrier, exit or fault.
fn run_thread(ctx: &mut Ctx, regs: &mut Regs, pc: &mut usize, count: &mut u64) -> XResult<Stop> {
    let k = ctx.k;
    let code = &k.code[..];
    loop {
        let Some(inst) = code.get(*pc) else {
            return Ok(Stop::Exit);
        };
        *count += 1;
        if let Some((p, neg)) = inst.guard {
            if (regs.get(p)? != 0) == neg {
                *pc += 1;
                continue;
            }
        }
        match inst.op {
            Op::Mov { d, a } => {
                let v = regs.get(a)?;
                regs.set(d, v);
            }
            Op::Sreg { d, s } => regs.set(d, ctx.sreg(s)),
            Op::Pack { d, parts, n, bits } => {
                let mut v = 0u64;
                for i in 0..n as usize {
                    v |= (regs.get(parts[i])? & mask(bits as u32)) << (i as u32 * bits as u32);
                }
                regs.set(d, v);
            }
            Op::Unpack { ds, n, bits, a } => {
                let v = regs.get(a)?;
                for i in 0..n as usize {
                    if ds[i] != NO_REG {
                        regs.set(ds[i], (v >> (i as u32 * bits as u32)) & mask(bits as u32));
                    }
                }
            }
            Op::F32 {
                op,
                rnd,
                ftz,
                sat,
                d,
                a,
                b,
            } => {
                let (mut x, mut y) = (regs.f32(a)?, regs.f32(b)?);
                if ftz {
                    x = ftz32(x);
                    y = ftz32(y);
                }
                let mut r = f32_bin(op, rnd, x, y);
                if ftz {
                    r = ftz32(r as u32) as u64;
                }
                if sat {
                    r = sat_bits(r, F32);
                }
                regs.set(d, r);
            }
            Op::F64 { op, rnd, d, a, b } => {
                let r = f64_bin(op, rnd, regs.get(a)?, regs.get(b)?);
                regs.set(d, r);
            }
            Op::Fma32 {
                rnd,
                ftz,
                sat,
                d,
                a,
                b,
                c,
            } => {
                let (mut x, mut y, mut z) = (regs.f32(a)?, regs.f32(b)?, regs.f32(c)?);
                if ftz {
                    x = ftz32(x);
                    y = ftz32(y);
                    z = ftz32(z);
                }
                let mut r = if rnd == Rnd::Rn {
                    canon32(f32::from_bits(x).mul_add(f32::from_bits(y), f32::from_bits(z)))
                } else {
                    float::fma(x as u64, y as u64, z as u64, F32, rnd)
                };
                if ftz {
                    r = ftz32(r as u32) as u64;
                }
                if sat {
                    r = sat_bits(r, F32);
                }
                regs.set(d, r);
            }
            Op::Fma64 { rnd, d, a, b, c } => {
                let (x, y, z) = (regs.get(a)?, regs.get(b)?, regs.get(c)?);
                let r = if rnd == Rnd::Rn {
                    canon64(f64::from_bits(x).mul_add(f64::from_bits(y), f64::from_bits(z)))
                } else {
                    float::fma(x, y, z, F64, rnd)
                };
                regs.set(d, r);
            }
            Op::Un32 { op, ftz, sat, d, a } => {
                let mut x = regs.f32(a)?;
                if ftz {
                    x = ftz32(x);
                }
                let mut r = un32(op, x);
                if ftz {
                    r = ftz32(r as u32) as u64;
                }
                if sat {
                    r = sat_bits(r, F32);
                }
                regs.set(d, r);
            }
            Op::Un64 { op, ftz, d, a } => {
                let mut x = regs.get(a)?;
                if ftz {
                    x = F64.ftz(x);
                }
                let mut r = un64(op, x);
                if ftz {
                    r = F64.ftz(r);
                }
                regs.set(d, r);
            }
            Op::MinMax32 {
                max,
                ftz,
                nan,
                d,
                a,
                b,
            } => {
                let (mut x, mut y) = (regs.f32(a)?, regs.f32(b)?);
                if ftz {
                    x = ftz32(x);
                    y = ftz32(y);
                }
                regs.set(d, minmax(x as u64, y as u64, max, nan, F32));
            }
            Op::MinMax64 { max, nan, d, a, b } => {
                let r = minmax(regs.get(a)?, regs.get(b)?, max, nan, F64);
                regs.set(d, r);
            }
            Op::Copysign { f64, d, a, b } => {
                let s = if f64 { 1u64 << 63 } else { 1u64 << 31 };
                let r = (regs.get(b)? & !s) | (regs.get(a)? & s);
                regs.set(d, r);
            }
            Op::Testp { f64, class, d, a } => {
                let r = testp(class, regs.get(a)?, if f64 { F64 } else { F32 });
                regs.set(d, r as u64);
            }
            Op::SetpF {
                f64,
                cmp,
                ftz,
                d,
                d2,
                a,
                b,
                comb,
            } => {
                let (x, y) = if f64 {
                    (f64::from_bits(regs.get(a)?), f64::from_bits(regs.get(b)?))
                } else {
                    let (mut x, mut y) = (regs.f32(a)?, regs.f32(b)?);
                    if ftz {
                        x = ftz32(x);
                        y = ftz32(y);
                    }
                    (f32::from_bits(x) as f64, f32::from_bits(y) as f64)
                };
                let t = fcmp(cmp, x, y);
                setp_write(regs, t, d, d2, comb)?;
            }
            Op::SetpI {
                ty,
                cmp,
                d,
                d2,
                a,
                b,
                comb,
            } => {
                let t = icmp(cmp, ty, regs.get(a)?, regs.get(b)?);
                setp_write(regs, t, d, d2, comb)?;
            }
            Op::Selp { d, a, b, p } => {
                let r = if regs.get(p)? != 0 {
                    regs.get(a)?
                } else {
                    regs.get(b)?
                };
                regs.set(d, r);
            }
            Op::Int2 { op, ty, d, a, b } => {
                let r = int2(op, ty, regs.get(a)?, regs.get(b)?)?;
                regs.set(d, r);
            }
            Op::Int1 { op, ty, d, a } => {
                let r = int1(op, ty, regs.get(a)?);
                regs.set(d, r);
            }
            Op::Mad {
                mode,
                ty,
                d,
                a,
                b,
                c,
            } => {
                let r = mad(mode, ty, regs.get(a)?, regs.get(b)?, regs.get(c)?);
                regs.set(d, r);
            }
            Op::Bfe { ty, d, a, b, c } => {
                let r = bfe(ty, regs.get(a)?, regs.get(b)?, regs.get(c)?);
                regs.set(d, r);
            }
            Op::Cvt { kind, dbits, d, a } => {
                let r = cvt(kind, dbits as u32, regs.get(a)?);
                regs.set(d, r);
            }
            Op::CvtaFromShared { d, a } => {
                let v = regs.get(a)?;
                regs.set(d, v.wrapping_add(SHARED_GENERIC_BASE));
            }
            Op::CvtaToShared { d, a } => {
                let v = regs.get(a)?;
                let size = ctx.shared.data.len() as u64;
                if v < SHARED_GENERIC_BASE || v - SHARED_GENERIC_BASE > size {
                    return fault(FaultKind::Other(format!(
                        "cvta.to.shared of {v:#x}, which is not a generic address in the \
                         shared window ({SHARED_GENERIC_BASE:#x}..{:#x})",
                        SHARED_GENERIC_BASE + size
                    )));
                }
                regs.set(d, v - SHARED_GENERIC_BASE);
            }
            Op::Ld {
                space,
                ty,
                n,
                ds,
                reg_bits,
                base,
                off,
            } => {
                let addr = addr_of(regs, base, off)?;
                let sz = ty.bytes as usize;
                let total = sz * n as usize;
                let mut buf = [0u8; 32];
                ctx.load(space, addr, &mut buf[..total], *pc, false)?;
                for i in 0..n as usize {
                    if ds[i] == NO_REG {
                        continue;
                    }
                    let mut w = [0u8; 8];
                    w[..sz].copy_from_slice(&buf[i * sz..(i + 1) * sz]);
                    let raw = u64::from_le_bytes(w);
                    regs.set(
                        ds[i],
                        extend(raw, sz as u32 * 8, ty.signed, reg_bits as u32),
                    );
                }
            }
            Op::St {
                space,
                ty,
                n,
                srcs,
                base,
                off,
            } => {
                let addr = addr_of(regs, base, off)?;
                let sz = ty.bytes as usize;
                let total = sz * n as usize;
                let mut buf = [0u8; 32];
                for i in 0..n as usize {
                    let v = regs.get(srcs[i])?;
                    buf[i * sz..(i + 1) * sz].copy_from_slice(&v.to_le_bytes()[..sz]);
                }
                ctx.store(space, addr, &buf[..total], *pc, false)?;
            }
            Op::LdParam {
                d,
                off,
                ty,
                reg_bits,
            } => {
                let sz = ty.bytes as usize;
                let mut w = [0u8; 8];
                w[..sz].copy_from_slice(&ctx.params[off as usize..off as usize + sz]);
                let raw = u64::from_le_bytes(w);
                regs.set(d, extend(raw, sz as u32 * 8, ty.signed, reg_bits as u32));
            }
            Op::Atom {
                space,
                op,
                ty,
                d,
                base,
                off,
                b,
                c,
            } => {
                let addr = addr_of(regs, base, off)?;
                let sz = (ty.bits() / 8) as usize;
                let bv = regs.get(b)?;
                let cv = if c == NO_REG { 0 } else { regs.get(c)? };
                let mut w = [0u8; 8];
                ctx.load(space, addr, &mut w[..sz], *pc, true)?;
                let old = u64::from_le_bytes(w);
                let new = atom_apply(op, ty, old, bv, cv) & mask(ty.bits());
                ctx.store(space, addr, &new.to_le_bytes()[..sz], *pc, true)?;
                if d != NO_REG {
                    regs.set(d, old);
                }
            }
            Op::Bra { target } => {
                let t = target as usize;
                if t <= *pc && *count > ctx.limit {
                    return fault(FaultKind::InstLimit);
                }
                *pc = t;
                continue;
            }
            Op::Bar { count: n } => {
                if let Some(n) = n {
                    if n != ctx.block_threads {
                        return fault(FaultKind::Other(format!(
                            "bar.sync with thread count {n}, but the block has {} threads \
                             (partial barriers are not supported)",
                            ctx.block_threads
                        )));
                    }
                }
                return Ok(Stop::Barrier);
            }
            Op::Exit => return Ok(Stop::Exit),
            Op::Nop => {}
        }
        *pc += 1;
    }
}

fn setp_write(regs: &mut Regs, t: bool, d: R, d2: R, comb: Option<Comb>) -> XResult<()> {
    let (p, q) = match comb {
        None => (t, !t),
        Some(c) => {
            let v = (regs.get(c.p)? != 0) != c.neg;
            let f = |x: bool| match c.op {
                BoolOp::And => x && v,
                BoolOp::Or => x || v,
                BoolOp::Xor => x != v,
            };
            (f(t), f(!t))
        }
    };
    regs.set(d, p as u64);
    if d2 != NO_REG {
        regs.set(d2, q as u64);
    }
    Ok(())
}

fn tid_of(linear: u32, block: [u32; 3]) -> [u32; 3] {
    [
        linear % block[0],
        (linear / block[0]) % block[1],
        linear / (block[0] * block[1]),
    ]
}

impl Device {
    /// Runs a whole kernel launch: every block of `grid`, every thread of
    /// `block`, with `dynamic_shared_bytes` of dynamic shared memory and the
    /// kernel parameters in declaration order.
    ///
    /// Blocks run one after another (x fastest, then y, then z); inside a
    /// block, each thread runs until it reaches a barrier or exits, and the
    /// barrier is released once every thread of the block waits at it.
    pub fn launch(
        &mut self,
        module: &Module,
        kernel: &str,
        grid: [u32; 3],
        block: [u32; 3],
        dynamic_shared_bytes: u32,
        params: &[Param],
    ) -> Result<LaunchStats, SimError> {
        let k = module.kernel(kernel)?;
        let inv = |message: String| SimError::InvalidLaunch {
            kernel: kernel.to_string(),
            message,
        };
        if block.contains(&0) || grid.contains(&0) {
            return Err(inv(format!(
                "grid {grid:?} and block {block:?} must have non-zero dimensions"
            )));
        }
        let nthreads = block[0] as u64 * block[1] as u64 * block[2] as u64;
        if nthreads > 1024 || block[0] > 1024 || block[1] > 1024 || block[2] > 64 {
            return Err(inv(format!(
                "block {block:?} exceeds the limits (1024 threads; x, y <= 1024, z <= 64)"
            )));
        }
        if grid[0] as u64 >= 1 << 31 || grid[1] >= 65536 || grid[2] >= 65536 {
            return Err(inv(format!(
                "grid {grid:?} exceeds the limits (x < 2^31, y and z < 65536)"
            )));
        }
        if let Some(m) = k.maxntid {
            let limit = m[0] as u64 * m[1] as u64 * m[2] as u64;
            if nthreads > limit || block[0] > m[0] || block[1] > m[1] || block[2] > m[2] {
                return Err(inv(format!(
                    "block {block:?} violates `.maxntid {}, {}, {}`",
                    m[0], m[1], m[2]
                )));
            }
        }
        if let Some(r) = k.reqntid {
            if block != r {
                return Err(inv(format!(
                    "block {block:?} violates `.reqntid {}, {}, {}`",
                    r[0], r[1], r[2]
                )));
            }
        }
        let window = k.dyn_offset as u64 + dynamic_shared_bytes as u64;
        let uses_dynamic = k.shared_vars.iter().any(|v| v.size.is_none());
        let window = if uses_dynamic || dynamic_shared_bytes > 0 {
            window
        } else {
            k.shared_static as u64
        };
        if window > MAX_SHARED {
            return Err(inv(format!(
                "shared memory per block ({} static + {dynamic_shared_bytes} dynamic) exceeds {MAX_SHARED} bytes",
                k.shared_static
            )));
        }
        // parameters
        if params.len() != k.params.len() {
            return Err(inv(format!(
                "kernel takes {} parameter(s), {} given",
                k.params.len(),
                params.len()
            )));
        }
        let mut pbuf = vec![0u8; k.param_bytes];
        for (i, (p, decl)) in params.iter().zip(&k.params).enumerate() {
            let bytes: Vec<u8> = match (p, decl.ty) {
                (Param::U32(v), Ty::U32 | Ty::B32) => v.to_le_bytes().to_vec(),
                (Param::S32(v), Ty::S32 | Ty::B32) => v.to_le_bytes().to_vec(),
                (Param::U64(v), Ty::U64 | Ty::B64) => v.to_le_bytes().to_vec(),
                (Param::S64(v), Ty::S64 | Ty::B64) => v.to_le_bytes().to_vec(),
                (Param::F32(v), Ty::F32 | Ty::B32) => v.to_le_bytes().to_vec(),
                (Param::F64(v), Ty::F64 | Ty::B64) => v.to_le_bytes().to_vec(),
                _ => {
                    return Err(inv(format!(
                        "parameter {i} (`{}`) is declared .{}, but {p:?} was given",
                        decl.name,
                        format!("{:?}", decl.ty).to_lowercase()
                    )))
                }
            };
            let o = decl.offset as usize;
            pbuf[o..o + bytes.len()].copy_from_slice(&bytes);
        }

        let nt = nthreads as usize;
        let nregs = k.nregs;
        let words = nregs.div_ceil(64).max(1);
        let mut init_tpl = vec![0u64; words];
        for r in k.const_base..nregs {
            init_tpl[r >> 6] |= 1 << (r & 63);
        }
        let mut regv = vec![0u64; nt * nregs];
        let mut initv = vec![0u64; nt * words];
        let mut threads = vec![
            Thread {
                pc: 0,
                count: 0,
                status: Status::Running,
            };
            nt
        ];
        let total_threads = nthreads * grid[0] as u64 * grid[1] as u64 * grid[2] as u64;
        let race_global = self.global_race_detection && total_threads < u32::MAX as u64;
        let mut stats = LaunchStats {
            instructions: 0,
            barriers: 0,
            blocks: grid[0] as u64 * grid[1] as u64 * grid[2] as u64,
            threads: total_threads,
            shared_bytes: window as u32,
        };
        let mut ctx = Ctx {
            k,
            params: &pbuf,
            global: &mut self.global,
            shared: Shared {
                data: vec![0; window as usize],
                meta: vec![ByteMeta::default(); window as usize],
                static_bytes: k.shared_static,
                dynamic_bytes: dynamic_shared_bytes,
            },
            ntid: block,
            nctaid: grid,
            ctaid: [0; 3],
            epoch: 0,
            gen: 0,
            block_threads: nthreads as u32,
            block_linear: 0,
            race_global,
            limit: self.instruction_limit,
            me: 0,
            tid: [0; 3],
        };
        let result = (|| -> Result<(), SimError> {
            for bz in 0..grid[2] {
                for by in 0..grid[1] {
                    for bx in 0..grid[0] {
                        ctx.ctaid = [bx, by, bz];
                        ctx.block_linear =
                            bx as u64 + grid[0] as u64 * (by as u64 + grid[1] as u64 * bz as u64);
                        run_block(
                            &mut ctx,
                            &mut regv,
                            &mut initv,
                            &init_tpl,
                            &mut threads,
                            &mut stats,
                        )?;
                    }
                }
            }
            Ok(())
        })();
        for a in &mut self.global.allocs {
            a.race = None;
        }
        result.map(|_| stats)
    }
}

fn next_epoch(ctx: &mut Ctx) {
    if ctx.epoch == u32::MAX - 1 {
        // practically unreachable; restart the numbering safely
        for m in ctx.shared.meta.iter_mut() {
            m.w_epoch = 0;
            m.r_epoch = 0;
        }
        ctx.epoch = 0;
    }
    ctx.epoch += 1;
}

fn run_block(
    ctx: &mut Ctx,
    regv: &mut [u64],
    initv: &mut [u64],
    init_tpl: &[u64],
    threads: &mut [Thread],
    stats: &mut LaunchStats,
) -> Result<(), SimError> {
    let k = ctx.k;
    let nregs = k.nregs;
    let words = init_tpl.len();
    let nt = threads.len();
    if ctx.gen == u32::MAX - 1 {
        for m in ctx.shared.meta.iter_mut() {
            m.init_gen = 0;
        }
        ctx.gen = 0;
    }
    ctx.gen += 1;
    next_epoch(ctx);
    for t in 0..nt {
        regv[t * nregs + k.const_base..(t + 1) * nregs].copy_from_slice(&k.consts);
        initv[t * words..(t + 1) * words].copy_from_slice(init_tpl);
        threads[t] = Thread {
            pc: 0,
            count: 0,
            status: Status::Running,
        };
    }
    loop {
        for t in 0..nt {
            if threads[t].status != Status::Running {
                continue;
            }
            ctx.me = t as u32;
            ctx.tid = tid_of(t as u32, ctx.ntid);
            let mut regs = Regs {
                v: &mut regv[t * nregs..(t + 1) * nregs],
                init: &mut initv[t * words..(t + 1) * words],
            };
            let th = &mut threads[t];
            let before = th.count;
            let r = run_thread(ctx, &mut regs, &mut th.pc, &mut th.count);
            stats.instructions += th.count - before;
            match r {
                Ok(Stop::Barrier) => th.status = Status::AtBarrier,
                Ok(Stop::Exit) => th.status = Status::Exited,
                Err(f) => {
                    let pc = th.pc;
                    return Err(to_error(ctx, t as u32, pc, *f));
                }
            }
        }
        let exited = threads.iter().position(|t| t.status == Status::Exited);
        let waiting = threads.iter().position(|t| t.status == Status::AtBarrier);
        match (exited, waiting) {
            (_, None) => return Ok(()),
            (Some(e), Some(w)) => {
                return Err(SimError::BarrierAfterExit {
                    site: Box::new(site(ctx, w as u32, threads[w].pc)),
                    exited_thread: tid_of(e as u32, ctx.ntid),
                    exit_line: line_of(k, threads[e].pc),
                    exit_text: text_of(k, threads[e].pc),
                });
            }
            (None, Some(w)) => {
                let pc0 = threads[w].pc;
                if let Some(o) = threads.iter().position(|t| t.pc != pc0) {
                    return Err(SimError::BarrierDivergence {
                        site: Box::new(site(ctx, w as u32, pc0)),
                        other_thread: tid_of(o as u32, ctx.ntid),
                        other_line: line_of(k, threads[o].pc),
                        other_text: text_of(k, threads[o].pc),
                    });
                }
                for t in threads.iter_mut() {
                    t.pc += 1;
                    t.status = Status::Running;
                }
                stats.barriers += 1;
                next_epoch(ctx);
            }
        }
    }
}

fn line_of(k: &Kernel, pc: usize) -> usize {
    k.lines
        .get(pc)
        .copied()
        .unwrap_or_else(|| k.lines.last().copied().unwrap_or(0))
}

fn text_of(k: &Kernel, pc: usize) -> String {
    k.texts
        .get(pc)
        .cloned()
        .unwrap_or_else(|| "<end of kernel>".to_string())
}

fn site(ctx: &Ctx, me: u32, pc: usize) -> Site {
    Site {
        kernel: ctx.k.name.clone(),
        block: ctx.ctaid,
        thread: tid_of(me, ctx.ntid),
        line: line_of(ctx.k, pc),
        text: text_of(ctx.k, pc),
    }
}

fn to_error(ctx: &Ctx, me: u32, pc: usize, f: FaultKind) -> SimError {
    let k = ctx.k;
    let s = Box::new(site(ctx, me, pc));
    match f {
        FaultKind::UninitReg(r) => SimError::UninitializedRegister {
            site: s,
            register: k.reg_names[r as usize].clone(),
        },
        FaultKind::UninitMem { space, addr } => SimError::UninitializedMemory {
            site: s,
            space,
            addr,
        },
        FaultKind::OutOfBounds {
            space,
            addr,
            size,
            detail,
        } => SimError::OutOfBounds {
            site: s,
            space,
            addr,
            size,
            detail,
        },
        FaultKind::Misaligned { space, addr, size } => SimError::Misaligned {
            site: s,
            space,
            addr,
            size,
        },
        FaultKind::UseAfterFree { addr, base } => SimError::UseAfterFree {
            site: s,
            addr,
            allocation: base,
        },
        FaultKind::SharedRace {
            other,
            other_pc,
            addr,
            kind,
        } => SimError::SharedRace {
            site: s,
            other_thread: tid_of(other, ctx.ntid),
            other_line: line_of(k, other_pc as usize),
            other_text: text_of(k, other_pc as usize),
            addr,
            kind,
        },
        FaultKind::GlobalRace {
            other,
            other_pc,
            addr,
            kind,
        } => {
            let bt = ctx.block_threads as u64;
            let ob = other / bt;
            let g = ctx.nctaid;
            let other_block = [
                (ob % g[0] as u64) as u32,
                ((ob / g[0] as u64) % g[1] as u64) as u32,
                (ob / (g[0] as u64 * g[1] as u64)) as u32,
            ];
            SimError::GlobalRace {
                site: s,
                other_block,
                other_thread: tid_of((other % bt) as u32, ctx.ntid),
                other_line: line_of(k, other_pc as usize),
                other_text: text_of(k, other_pc as usize),
                addr,
                kind,
            }
        }
        FaultKind::InstLimit => SimError::InstructionLimit {
            site: s,
            limit: ctx.limit,
        },
        FaultKind::Other(message) => SimError::ExecutionFault { site: s, message },
    }
}
