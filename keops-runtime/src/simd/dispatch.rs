//! Run-time detection of the SIMD level and dispatch of [`WithPack`] bodies.
//!
//! The CPU is probed once (`is_x86_feature_detected!`, cached). The
//! environment variable `KEOPS_SIMD` (`scalar`, `avx2` or `avx512`, read
//! once) caps the level that [`dispatch`] and [`best_level`] use, for tests
//! and benchmarks; [`dispatch_at`] ignores it.

use core::fmt;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
use super::Pack;
use super::{Real, WithPack};

/// An instruction-set level of the CPU engine, from the narrowest to the
/// widest (the order of `Ord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// One lane: the float type itself (portable fallback).
    Scalar,
    /// AVX2 + FMA: 256-bit packs (`f32` × 8, `f64` × 4).
    Avx2,
    /// AVX-512 F + DQ + VL + BW: 512-bit packs (`f32` × 16, `f64` × 8).
    Avx512,
}

impl SimdLevel {
    /// Every level, narrowest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    /// The lower-case name, as accepted by `KEOPS_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// Parses a name as accepted by `KEOPS_SIMD` (case-insensitive;
    /// `avx-512` and `none` are accepted too).
    pub fn from_name(s: &str) -> Option<SimdLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" => Some(SimdLevel::Scalar),
            "avx2" => Some(SimdLevel::Avx2),
            "avx512" | "avx-512" => Some(SimdLevel::Avx512),
            _ => None,
        }
    }

    /// Number of lanes of the pack of element type `T` at this level.
    pub fn lanes<T: Real>(self) -> usize {
        match self {
            SimdLevel::Scalar => 1,
            SimdLevel::Avx2 => 32 / T::BYTES,
            SimdLevel::Avx512 => 64 / T::BYTES,
        }
    }

    /// Whether this CPU supports the level (regardless of `KEOPS_SIMD`).
    pub fn is_supported(self) -> bool {
        self <= cpu().level
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the CPU offers, probed once.
struct Cpu {
    level: SimdLevel,
}

fn cpu() -> &'static Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    CPU.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Cpu {
    let fma = is_x86_feature_detected!("fma");
    let avx2 = fma && is_x86_feature_detected!("avx2");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw");
    let level = if avx512 {
        SimdLevel::Avx512
    } else if avx2 {
        SimdLevel::Avx2
    } else {
        SimdLevel::Scalar
    };
    Cpu { level }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Cpu {
    Cpu {
        level: SimdLevel::Scalar,
    }
}

/// The level [`dispatch`] uses: the widest one this CPU supports, capped by
/// the `KEOPS_SIMD` environment variable when it names a level (an unknown
/// value is ignored). Both are read once per process.
pub fn best_level() -> SimdLevel {
    static BEST: OnceLock<SimdLevel> = OnceLock::new();
    *BEST.get_or_init(|| {
        let cpu = cpu().level;
        match std::env::var("KEOPS_SIMD") {
            Ok(v) => SimdLevel::from_name(&v).map_or(cpu, |cap| cap.min(cpu)),
            Err(_) => cpu,
        }
    })
}

/// Every level this CPU supports, narrowest first (always starts with
/// [`SimdLevel::Scalar`]; `KEOPS_SIMD` is not applied).
pub fn supported_levels() -> Vec<SimdLevel> {
    SimdLevel::ALL
        .into_iter()
        .filter(|l| l.is_supported())
        .collect()
}

/// Runs `w` with the widest pack type of `T` at [`best_level`].
#[inline]
pub fn dispatch<T: Real, W: WithPack<T>>(w: W) -> W::Output {
    T::__dispatch(w, best_level())
}

/// Runs `w` with the pack type of `T` at `level`, or returns `None` when the
/// CPU does not support `level`. `KEOPS_SIMD` is ignored: this is how tests
/// and benchmarks compare levels.
#[inline]
pub fn dispatch_at<T: Real, W: WithPack<T>>(level: SimdLevel, w: W) -> Option<W::Output> {
    if level.is_supported() {
        Some(T::__dispatch(w, level))
    } else {
        None
    }
}

/// Panics unless the CPU supports `level`: `Real::__dispatch` is public (but
/// hidden), and running AVX-512 code on a CPU without it would be undefined
/// behaviour, so it re-checks (one cached load).
#[inline]
pub(super) fn assert_supported(level: SimdLevel) {
    assert!(
        level.is_supported(),
        "SIMD level {level} is not supported by this CPU"
    );
}

/// The scalar level: the body with `P = T`. It is compiled once, without
/// target features (it is the fallback for CPUs without AVX2, and the
/// reference level of the tests): `mul_add` is then the C library's `fma`,
/// correctly rounded like the instruction, so results are the same on every
/// CPU. (A second copy compiled with FMA enabled would make every formula's
/// build pay for a path that only CPUs with FMA and without AVX2 take.)
#[inline]
pub(super) fn run_scalar<T: Real, W: WithPack<T>>(w: W) -> W::Output {
    w.run::<T>()
}

/// Runs `w` with the AVX2 pack `P`, in a function compiled for AVX2 + FMA.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn run_avx2<T: Real, P: Pack<Elem = T>, W: WithPack<T>>(w: W) -> W::Output {
    w.run::<P>()
}

/// Runs `w` with the AVX-512 pack `P`, in a function compiled for AVX-512
/// F/DQ/VL/BW (+ AVX2, FMA).
///
/// # Safety
///
/// The CPU must support AVX-512 F, DQ, VL and BW, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
pub(super) unsafe fn run_avx512<T: Real, P: Pack<Elem = T>, W: WithPack<T>>(w: W) -> W::Output {
    w.run::<P>()
}
