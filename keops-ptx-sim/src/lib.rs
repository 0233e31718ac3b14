//! A strict CPU simulator for the subset of PTX that keops emits, and a
//! runner for NVIDIA's `ptxas` ([`ptxas`]): the test support of the GPU back
//! end, kept out of the `keops!` macro's dependency tree.
//!
//! It is the oracle that proves the GPU kernels correct on machines without
//! a GPU, so it is *exact* where PTX is exact and *strict* everywhere:
//! anything it does not understand is an error naming the source line,
//! never silently ignored.
//!
//! # Use
//!
//! ```
//! use keops_ptx_sim::{Device, Module, Param};
//! let ptx = r#"
//! .version 7.8
//! .target sm_80
//! .address_size 64
//! .visible .entry scale(.param .u64 x, .param .u32 n)
//! {
//!     .reg .pred %p<2>;
//!     .reg .b32 %r<4>;
//!     .reg .f32 %f<3>;
//!     .reg .b64 %rd<4>;
//!     ld.param.u64 %rd1, [x];
//!     ld.param.u32 %r1, [n];
//!     mov.u32 %r2, %tid.x;
//!     setp.ge.u32 %p1, %r2, %r1;
//!     @%p1 bra $L__done;
//!     mul.wide.u32 %rd2, %r2, 4;
//!     add.s64 %rd3, %rd1, %rd2;
//!     ld.global.f32 %f1, [%rd3];
//!     mul.rn.f32 %f2, %f1, 0f40000000;
//!     st.global.f32 [%rd3], %f2;
//! $L__done:
//!     ret;
//! }
//! "#;
//! let module = Module::parse(ptx).unwrap();
//! let mut dev = Device::new();
//! let x = dev.alloc_from_f32(&[1.0, 2.0, 3.0]);
//! dev.launch(&module, "scale", [1, 1, 1], [4, 1, 1], 0, &[Param::U64(x), Param::U32(3)])
//!     .unwrap();
//! assert_eq!(dev.read_f32(x, 3).unwrap(), vec![2.0, 4.0, 6.0]);
//! ```
//!
//! # Execution model
//!
//! * Blocks run one after another (x fastest). Inside a block, each thread
//!   runs until it reaches `bar.sync` or exits; the barrier is released
//!   when every thread of the block waits at the *same* barrier
//!   instruction. A thread that exits while others wait at a barrier
//!   ([`SimError::BarrierAfterExit`]) and threads waiting at different
//!   barriers ([`SimError::BarrierDivergence`]) are errors. Each thread has
//!   an instruction budget ([`Device::set_instruction_limit`]); a loop that
//!   never ends is reported as [`SimError::InstructionLimit`].
//! * Registers: every thread has its own register file; reading a register
//!   this thread never wrote is [`SimError::UninitializedRegister`].
//! * Shared memory: one window per block holding the static variables (in
//!   declaration order, naturally or `.align`-aligned; module-level
//!   `.shared` variables are included when the kernel references them)
//!   followed by the dynamic window (all `.extern .shared` arrays alias its
//!   start, aligned to at least 16). Shared addresses are byte offsets into
//!   this window starting at 0 (`mov.u64 %rd, tile` gives `tile`'s offset).
//!   Bytes start uninitialised in every block. Between two barriers a
//!   thread may not read or write bytes another thread wrote, nor write
//!   bytes another thread read ([`SimError::SharedRace`]); this exposes a
//!   missing `bar.sync` deterministically whatever the scheduling order.
//!   Atomics neither check nor cause read races (they do record writes, so a
//!   plain access after another thread's atomic in the same interval is
//!   reported).
//! * Global memory: [`Device::alloc`] returns distinct, never reused,
//!   256-byte aligned addresses (from `0x1_0000_0000` up) separated by
//!   unmapped gaps. Accesses must lie inside one live allocation
//!   ([`SimError::OutOfBounds`] names the nearest allocation and the
//!   overflow, [`SimError::UseAfterFree`]), be naturally aligned (vectors:
//!   to the whole vector), and read only initialised bytes. Within one
//!   launch, two threads writing the same bytes, or a thread reading bytes
//!   another thread wrote, is a [`SimError::GlobalRace`] unless both
//!   threads are in the same block and a barrier separates the accesses
//!   (write-after-read across blocks is not tracked). Atomics are exempt
//!   from these checks but record their writes, so a plain access after
//!   another thread's atomic is still reported. Global race detection can
//!   be switched off ([`Device::set_global_race_detection`]).
//! * Atomics (`atom`, `red`) execute in thread order; `atom.add.f32`
//!   flushes subnormal inputs and results to zero, as PTX specifies.
//! * Determinism: everything runs on the calling thread in a fixed order,
//!   so results and reported errors are reproducible.
//! * Generic addresses: `cvta.to.global` is the identity (device addresses
//!   are generic addresses); `cvta.shared` maps shared offset `o` to the
//!   generic address `0x1_0000_0000_0000 + o` and `cvta.to.shared` back
//!   (an address outside the window is an error). Generic `ld`/`st`/`atom`
//!   dispatch on that range.
//! * Floating point: `add sub mul div fma sqrt rcp` and `cvt` are correctly
//!   rounded in all four IEEE modes (see `float.rs`), subnormals included;
//!   `.ftz` flushes f32 subnormal inputs and results to sign-preserving
//!   zero; `.sat` clamps to [0, 1] (NaN → +0). NaN results are canonical
//!   (`0x7FFFFFFF` for f32). `min`/`max` return the non-NaN operand and
//!   order −0 below +0. The `.approx` operations (`ex2 lg2 sin cos tanh
//!   rsqrt rcp.approx sqrt.approx div.approx div.full`) return the
//!   correctly rounded value of the exact function (`rsqrt` exactly; the
//!   others by one rounding of an f64 evaluation, which can differ from
//!   correct rounding only in astronomically rare near-tie cases). Real
//!   hardware differs from these by a few ulp (e.g. `ex2.approx.f32` is
//!   documented at 2 ulp), so kernels must not rely on exact `.approx`
//!   results.
//! * Unrounded `add/sub/mul.f32|f64` are *rejected*: ptxas may contract an
//!   unrounded `mul`+`add` pair into an `fma`, which would make hardware
//!   and simulator disagree. Our emitter must always write `.rn` (or
//!   another explicit mode).
//!
//! See [`Module::parse`] for the supported PTX subset.

#![forbid(unsafe_code)]

mod decode;
mod exec;
mod float;
mod inst;
mod lex;
mod memory;
mod parse;
pub mod ptxas;
#[cfg(test)]
mod tests;

use std::fmt;

/// Default per-thread instruction budget.
pub const DEFAULT_INSTRUCTION_LIMIT: u64 = 100_000_000;

/// A parsed and decoded PTX module (one or more `.entry` kernels).
#[derive(Clone, Debug)]
pub struct Module {
    kernels: Vec<decode::Kernel>,
}

/// Static facts about one kernel of a [`Module`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelInfo {
    /// Kernel name.
    pub name: String,
    /// Parameter names and PTX types (e.g. `("x", ".u64")`), in order.
    pub params: Vec<(String, String)>,
    /// Bytes of static shared memory.
    pub static_shared_bytes: u32,
    /// Whether the kernel declares dynamic (`.extern`) shared memory.
    pub uses_dynamic_shared: bool,
    /// Shared variables: name, offset in the window, size (`None`: the
    /// dynamic window).
    pub shared_vars: Vec<(String, u32, Option<u32>)>,
    /// Number of declared registers (all classes).
    pub registers: usize,
    /// Number of instructions.
    pub instructions: usize,
    /// `.maxntid`, if declared.
    pub maxntid: Option<[u32; 3]>,
    /// `.reqntid`, if declared.
    pub reqntid: Option<[u32; 3]>,
    /// `.minnctapersm`, if declared.
    pub minnctapersm: Option<u32>,
    /// `.maxnreg`, if declared.
    pub maxnreg: Option<u32>,
}

impl Module {
    /// Parses and decodes PTX text.
    ///
    /// Supported: `.version`, `.target`, `.address_size 64`; `.entry`
    /// kernels with `.u32 .s32 .u64 .s64 .f32 .f64 .b32 .b64` parameters
    /// (`.ptr`/`.align` attributes accepted); `.maxntid`, `.reqntid`
    /// (enforced at launch), `.minnctapersm`, `.maxnreg` (recorded);
    /// `.reg` declarations (ranges `%r<8>` and single names) of types
    /// `.pred .b16 .b32 .b64 .u16 .u32 .u64 .s16 .s32 .s64 .f16 .f32 .f64`;
    /// static and `.extern` `.shared` variables in bodies or at module
    /// level; `.loc`, `.file`, `.pragma`, comments, nested `{ }` scopes
    /// (treated as one scope); guards `@%p` / `@!%p`; labels (`$L__x:`,
    /// `LBB0_1:`). The accepted instructions are listed by
    /// [`supported_instructions`]. Device functions (`.func`/`call`),
    /// module-level `.global`/`.const` data, `.local` memory, f16
    /// arithmetic and warp-level instructions are not supported: they are
    /// parse errors naming the line, as is every unknown opcode or modifier.
    pub fn parse(ptx: &str) -> Result<Module, SimError> {
        Ok(Module {
            kernels: decode::decode_module(ptx)?,
        })
    }

    /// Names of the kernels, in declaration order.
    pub fn kernel_names(&self) -> Vec<&str> {
        self.kernels.iter().map(|k| k.name.as_str()).collect()
    }

    /// Static facts about a kernel.
    pub fn kernel_info(&self, name: &str) -> Result<KernelInfo, SimError> {
        let k = self.kernel(name)?;
        Ok(KernelInfo {
            name: k.name.clone(),
            params: k
                .params
                .iter()
                .map(|p| (p.name.clone(), format!(".{:?}", p.ty).to_lowercase()))
                .collect(),
            static_shared_bytes: k.shared_static,
            uses_dynamic_shared: k.shared_vars.iter().any(|v| v.size.is_none()),
            shared_vars: k
                .shared_vars
                .iter()
                .map(|v| (v.name.clone(), v.offset, v.size))
                .collect(),
            registers: k.const_base,
            instructions: k.code.len(),
            maxntid: k.maxntid,
            reqntid: k.reqntid,
            minnctapersm: k.minnctapersm,
            maxnreg: k.maxnreg,
        })
    }

    pub(crate) fn kernel(&self, name: &str) -> Result<&decode::Kernel, SimError> {
        self.kernels
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| SimError::UnknownKernel {
                name: name.to_string(),
                available: self.kernels.iter().map(|k| k.name.clone()).collect(),
            })
    }
}

/// The instruction forms the simulator accepts (opcode families with
/// their modifiers), for documentation and reports.
pub fn supported_instructions() -> &'static [&'static str] {
    &[
        "mov.{pred,b16,b32,b64,u16,u32,u64,s16,s32,s64,f32,f64} (registers, immediates, %tid/%ntid/%ctaid/%nctaid.{x,y,z}, shared symbols, pack/unpack {a,b[,c,d]})",
        "add/sub.{rn,rz,rm,rp}{.ftz}{.sat}.f32, add/sub.{rn,rz,rm,rp}.f64 (rounding modifier required)",
        "mul.{rn,rz,rm,rp}{.ftz}{.sat}.f32, mul.{rn,rz,rm,rp}.f64 (rounding modifier required)",
        "fma.{rn,rz,rm,rp}{.ftz}{.sat}.f32, fma.{rn,rz,rm,rp}.f64, mad.{rn,..}.{f32,f64} (= fma)",
        "div.{rn,rz,rm,rp}{.ftz}.f32, div.full{.ftz}.f32, div.approx{.ftz}.f32, div.{rn,rz,rm,rp}.f64",
        "neg/abs{.ftz}.f32, neg/abs.f64, min/max{.ftz}{.NaN}.f32, min/max.f64, copysign.{f32,f64}",
        "sqrt.{rn,rz,rm,rp}{.ftz}.f32, sqrt.approx{.ftz}.f32, sqrt.{rn,rz,rm,rp}.f64",
        "rcp.{rn,rz,rm,rp}{.ftz}.f32, rcp.approx{.ftz}.f32, rcp.{rn,rz,rm,rp}.f64, rcp.approx.ftz.f64",
        "rsqrt.approx{.ftz}.{f32,f64}, ex2/lg2/sin/cos.approx{.ftz}.f32, tanh.approx.f32",
        "testp.{finite,infinite,number,notanumber,normal,subnormal}.{f32,f64}",
        "add/sub.{u16,u32,u64,s16,s32,s64}, add/sub.sat.s32, mul.{lo,hi,wide}.{u16,u32,u64,s16,s32,s64} (wide: 16/32-bit)",
        "mad.{lo,hi,wide}.{u16,u32,u64,s16,s32,s64}, div/rem/min/max.{u16,u32,u64,s16,s32,s64}, neg/abs.{s16,s32,s64}",
        "and/or/xor/not.{pred,b16,b32,b64}, cnot.{b16,b32,b64}, shl.{b16,b32,b64}, shr.{b,u,s}{16,32,64}",
        "popc/clz/brev.{b32,b64}, bfe.{u32,s32,u64,s64}",
        "setp.{eq,ne,lt,le,gt,ge,equ,neu,ltu,leu,gtu,geu,num,nan}{.and,.or,.xor}{.ftz}.{f32,f64} (p or p|q, optional {!}c)",
        "setp.{eq,ne,lt,le,gt,ge,lo,ls,hi,hs}{.and,.or,.xor}.{u16,u32,u64,s16,s32,s64,b16,b32,b64}",
        "selp.{b16,b32,b64,u16,u32,u64,s16,s32,s64,f32,f64}",
        "cvt{.rni,.rzi,.rmi,.rpi,.rn,.rz,.rm,.rp}{.ftz}{.sat}.dtype.atype for {u8,u16,u32,u64,s8,s16,s32,s64,f16,f32,f64} (rounding required where PTX requires it); cvt.u64.u32 of a special register",
        "cvta{.to}.global.u64, cvta{.to}.shared.u64",
        "ld{.weak,.volatile,.relaxed.scope,.acquire.scope}{.global,.shared,.param,generic}{.ca,.cg,.cs,.lu,.cv,.nc}{.v2,.v4}.type",
        "st{.weak,.volatile,.relaxed.scope,.release.scope}{.global,.shared,generic}{.wb,.cg,.cs,.wt}{.v2,.v4}.type (type: b8..b64, u8..u64, s8..s64, f16, f32, f64)",
        "atom{.sem}{.scope}{.global,.shared,generic}.{add,min,max,exch,cas,and,or,xor,inc,dec}.type, red.(same, no exch/cas)",
        "bra{.uni}, ret{.uni}, exit, bar{.cta}.sync id{, n}, barrier{.cta}.sync{.aligned} id{, n}, membar.{cta,gl,sys}, fence{.sc,.acq_rel}.{cta,gpu,sys}",
    ]
}

/// A kernel argument, in parameter-declaration order. Type-checked against
/// the declaration: `U32` matches `.u32`/`.b32`, `S32` `.s32`/`.b32`,
/// `U64` `.u64`/`.b64` (device pointers), `S64` `.s64`/`.b64`, `F32`
/// `.f32`/`.b32`, `F64` `.f64`/`.b64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param {
    /// An unsigned 32-bit value.
    U32(u32),
    /// A signed 32-bit value.
    S32(i32),
    /// An unsigned 64-bit value (e.g. a device address).
    U64(u64),
    /// A signed 64-bit value.
    S64(i64),
    /// A single-precision float.
    F32(f32),
    /// A double-precision float.
    F64(f64),
}

/// Counters of one launch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaunchStats {
    /// Instructions executed (including those skipped by a false guard).
    pub instructions: u64,
    /// Barrier releases, summed over blocks.
    pub barriers: u64,
    /// Blocks run.
    pub blocks: u64,
    /// Threads run.
    pub threads: u64,
    /// Shared window per block (static + dynamic), in bytes.
    pub shared_bytes: u32,
}

/// A memory state space, in error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Global (device) memory.
    Global,
    /// The block's shared memory window.
    Shared,
}

/// The kind of a data race.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaceKind {
    /// Both accesses write.
    WriteAfterWrite,
    /// A thread reads bytes another thread wrote.
    ReadAfterWrite,
    /// A thread writes bytes another thread read.
    WriteAfterRead,
}

/// Where something happened during a launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Kernel name.
    pub kernel: String,
    /// Block index (`%ctaid`).
    pub block: [u32; 3],
    /// Thread index in the block (`%tid`).
    pub thread: [u32; 3],
    /// 1-based PTX source line.
    pub line: usize,
    /// Source text of that line (trimmed).
    pub text: String,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel `{}`, block ({}, {}, {}), thread ({}, {}, {}), line {} `{}`",
            self.kernel,
            self.block[0],
            self.block[1],
            self.block[2],
            self.thread[0],
            self.thread[1],
            self.thread[2],
            self.line,
            self.text
        )
    }
}

/// Everything the simulator can report.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// The PTX text is malformed or uses something unsupported.
    Parse {
        /// The kernel being parsed, if the error is inside one.
        kernel: Option<String>,
        /// 1-based line.
        line: usize,
        /// Source text of that line.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// No kernel of that name in the module.
    UnknownKernel {
        /// Requested name.
        name: String,
        /// Kernels that exist.
        available: Vec<String>,
    },
    /// Launch configuration or arguments are invalid.
    InvalidLaunch {
        /// Kernel name.
        kernel: String,
        /// What is wrong.
        message: String,
    },
    /// A host-side memory operation failed (bad address, double free,
    /// reading never-written bytes).
    HostMemory {
        /// What is wrong.
        message: String,
    },
    /// A thread read a register it never wrote.
    UninitializedRegister {
        /// Where.
        site: Box<Site>,
        /// Register name.
        register: String,
    },
    /// A thread read memory bytes nobody wrote.
    UninitializedMemory {
        /// Where.
        site: Box<Site>,
        /// Memory space.
        space: Space,
        /// First uninitialised byte (shared: offset in the window).
        addr: u64,
    },
    /// An access outside every allocation / outside the shared window.
    OutOfBounds {
        /// Where.
        site: Box<Site>,
        /// Memory space.
        space: Space,
        /// Accessed address.
        addr: u64,
        /// Access size in bytes.
        size: u32,
        /// The nearest allocation and the overflow.
        detail: String,
    },
    /// An access not aligned to its size.
    Misaligned {
        /// Where.
        site: Box<Site>,
        /// Memory space.
        space: Space,
        /// Accessed address.
        addr: u64,
        /// Access size in bytes (required alignment).
        size: u32,
    },
    /// An access to a freed allocation.
    UseAfterFree {
        /// Where.
        site: Box<Site>,
        /// Accessed address.
        addr: u64,
        /// Base of the freed allocation.
        allocation: u64,
    },
    /// Two threads of a block touched the same shared bytes between two
    /// barriers, at least one of them writing.
    SharedRace {
        /// The access that exposed the race.
        site: Box<Site>,
        /// The other thread.
        other_thread: [u32; 3],
        /// Source line of the other thread's access.
        other_line: usize,
        /// Source text of the other access.
        other_text: String,
        /// Byte offset in the shared window.
        addr: u64,
        /// Which accesses conflict (second relative to first).
        kind: RaceKind,
    },
    /// Two threads touched the same global bytes in one launch without
    /// ordering, at least one writing (atomics excepted).
    GlobalRace {
        /// The access that exposed the race.
        site: Box<Site>,
        /// The other thread's block.
        other_block: [u32; 3],
        /// The other thread.
        other_thread: [u32; 3],
        /// Source line of the other access.
        other_line: usize,
        /// Source text of the other access.
        other_text: String,
        /// Byte address.
        addr: u64,
        /// Which accesses conflict.
        kind: RaceKind,
    },
    /// Threads of a block wait at different barrier instructions.
    BarrierDivergence {
        /// A waiting thread and its barrier.
        site: Box<Site>,
        /// A thread at another barrier.
        other_thread: [u32; 3],
        /// Its barrier's line.
        other_line: usize,
        /// Its barrier's text.
        other_text: String,
    },
    /// A barrier was reached while some threads of the block had exited.
    BarrierAfterExit {
        /// A waiting thread and its barrier.
        site: Box<Site>,
        /// A thread that exited.
        exited_thread: [u32; 3],
        /// Line of its exit.
        exit_line: usize,
        /// Text of its exit.
        exit_text: String,
    },
    /// A thread exceeded its instruction budget (likely an endless loop).
    InstructionLimit {
        /// Where the thread was.
        site: Box<Site>,
        /// The budget.
        limit: u64,
    },
    /// Another runtime fault (integer division by zero, partial barrier,
    /// bad `cvta.to.shared`).
    ExecutionFault {
        /// Where.
        site: Box<Site>,
        /// What happened.
        message: String,
    },
}

fn space_name(s: Space) -> &'static str {
    match s {
        Space::Global => "global",
        Space::Shared => "shared",
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Parse {
                kernel,
                line,
                text,
                message,
            } => match kernel {
                Some(k) => write!(
                    f,
                    "PTX error in kernel `{k}` at line {line} `{text}`: {message}"
                ),
                None => write!(f, "PTX error at line {line} `{text}`: {message}"),
            },
            SimError::UnknownKernel { name, available } => write!(
                f,
                "no kernel `{name}` in the module (kernels: {})",
                available.join(", ")
            ),
            SimError::InvalidLaunch { kernel, message } => {
                write!(f, "invalid launch of `{kernel}`: {message}")
            }
            SimError::HostMemory { message } => write!(f, "device memory error: {message}"),
            SimError::UninitializedRegister { site, register } => write!(
                f,
                "read of uninitialized register `{register}` at {site}"
            ),
            SimError::UninitializedMemory { site, space, addr } => write!(
                f,
                "read of uninitialized {} memory at {addr:#x} at {site}",
                space_name(*space)
            ),
            SimError::OutOfBounds {
                site,
                space,
                addr,
                size,
                detail,
            } => write!(
                f,
                "out-of-bounds {} access of {size} bytes at {addr:#x} ({detail}) at {site}",
                space_name(*space)
            ),
            SimError::Misaligned {
                site,
                space,
                addr,
                size,
            } => write!(
                f,
                "misaligned {} access of {size} bytes at {addr:#x} at {site}",
                space_name(*space)
            ),
            SimError::UseAfterFree {
                site,
                addr,
                allocation,
            } => write!(
                f,
                "access to {addr:#x} in freed allocation {allocation:#x} at {site}"
            ),
            SimError::SharedRace {
                site,
                other_thread,
                other_line,
                other_text,
                addr,
                kind,
            } => write!(
                f,
                "shared-memory race ({kind:?}) on byte {addr:#x} between barriers: {site} conflicts with thread ({}, {}, {}) at line {other_line} `{other_text}` (missing bar.sync?)",
                other_thread[0], other_thread[1], other_thread[2]
            ),
            SimError::GlobalRace {
                site,
                other_block,
                other_thread,
                other_line,
                other_text,
                addr,
                kind,
            } => write!(
                f,
                "global-memory race ({kind:?}) on byte {addr:#x}: {site} conflicts with block ({}, {}, {}), thread ({}, {}, {}) at line {other_line} `{other_text}`",
                other_block[0],
                other_block[1],
                other_block[2],
                other_thread[0],
                other_thread[1],
                other_thread[2]
            ),
            SimError::BarrierDivergence {
                site,
                other_thread,
                other_line,
                other_text,
            } => write!(
                f,
                "barrier divergence: {site} waits at a different barrier than thread ({}, {}, {}) at line {other_line} `{other_text}`",
                other_thread[0], other_thread[1], other_thread[2]
            ),
            SimError::BarrierAfterExit {
                site,
                exited_thread,
                exit_line,
                exit_text,
            } => write!(
                f,
                "barrier reached after threads exited: {site} waits, but thread ({}, {}, {}) exited at line {exit_line} `{exit_text}` (every thread must reach every barrier)",
                exited_thread[0], exited_thread[1], exited_thread[2]
            ),
            SimError::InstructionLimit { site, limit } => write!(
                f,
                "instruction limit of {limit} per thread exceeded (endless loop?) at {site}"
            ),
            SimError::ExecutionFault { site, message } => write!(f, "{message} at {site}"),
        }
    }
}

impl std::error::Error for SimError {}

/// A simulated GPU: global memory plus launch settings.
#[derive(Debug)]
pub struct Device {
    global: memory::Global,
    instruction_limit: u64,
    global_race_detection: bool,
    capacity: u64,
}

/// Global memory of a simulated device unless set otherwise
/// ([`Device::set_capacity`]): 16 GiB.
pub const DEFAULT_CAPACITY: u64 = 16 << 30;

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A device with empty memory, the default instruction budget and
    /// global race detection on.
    pub fn new() -> Self {
        Device {
            global: memory::Global::new(),
            instruction_limit: DEFAULT_INSTRUCTION_LIMIT,
            global_race_detection: true,
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// Sets the bytes of global memory the live allocations may take
    /// together ([`Device::try_alloc`] fails past it, as a GPU's
    /// allocator does).
    pub fn set_capacity(&mut self, bytes: u64) {
        self.capacity = bytes;
    }

    /// Allocates `bytes` of uninitialised device memory as
    /// [`Device::alloc`] does, or `None` when the live allocations would
    /// take more than the device's capacity.
    pub fn try_alloc(&mut self, bytes: usize) -> Option<u64> {
        let live = self.global.live_bytes();
        let fits = (bytes as u64)
            .checked_add(live)
            .is_some_and(|total| total <= self.capacity);
        fits.then(|| self.alloc(bytes))
    }

    /// Sets the per-thread instruction budget (checked at backward
    /// branches).
    pub fn set_instruction_limit(&mut self, per_thread: u64) {
        self.instruction_limit = per_thread;
    }

    /// Turns global race detection on or off (on by default; it costs 12
    /// bytes of bookkeeping per byte of every allocation a launch writes).
    pub fn set_global_race_detection(&mut self, on: bool) {
        self.global_race_detection = on;
    }
}
