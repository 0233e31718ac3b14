//! Memory instructions and memory-safety checks.

use super::*;
use crate::{RaceKind, Space};

#[test]
fn vector_and_narrow_loads_stores() {
    let out = run_op(
        "ld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%i];
         st.global.v4.u32 [%o], {%r4, %r3, %r2, %r1};
         ld.global.u8 %r5, [%i+1];
         ld.global.s8 %r6, [%i+1];
         ld.global.s16 %rd1, [%i+2];
         ld.global.u16 %rs1, [%i+2];
         st.global.v2.u32 [%o+16], {%r5, %r6};
         st.global.u64 [%o+24], %rd1;
         st.global.u8 [%o+31], %rs1;",
        &[[0x1234_F0A5_0000_FF80, 0x5555_6666_7777_8888, 0, 0]],
    );
    // v4.u32 reversal: words (0x0000FF80, 0x1234F0A5, 0x77778888, 0x55556666)
    assert_eq!(out[0][0], 0x7777_8888_5555_6666);
    assert_eq!(out[0][1], 0x0000_FF80_1234_F0A5);
    assert_eq!(out[0][2] as u32, 0xFF); // u8 at byte 1 (0xFF)
    assert_eq!((out[0][2] >> 32) as u32, 0xFFFF_FFFF); // s8 -1 sign-extended
                                                       // s16 at byte 2 (0x0000) = 0 sign-extended into 64 bits; top byte overwritten by st.u8 of 0x0000
    assert_eq!(out[0][3], 0);
    let out = run_op(
        "ld.global.v2.f64 {%fd1, %fd2}, [%i];
         add.rn.f64 %fd3, %fd1, %fd2;
         ld.global.v2.f32 {%f1, _}, [%i+16];
         st.global.f64 [%o], %fd3;
         st.global.v2.f32 [%o+8], {%f1, %f1};",
        &[d4(1.25, 2.5, f64::from_bits(1.5f32.to_bits() as u64), 0.0)],
    );
    assert_eq!(f64::from_bits(out[0][0]), 3.75);
    assert_eq!(
        out[0][1],
        (1.5f32.to_bits() as u64) << 32 | 1.5f32.to_bits() as u64
    );
}

fn kernel(body: &str, params: &str, extra_decls: &str) -> String {
    format!(
        "{HEADER}{extra_decls}
.visible .entry k({params})
{{
    .reg .pred %p<8>;
    .reg .b32 %r<32>;
    .reg .f32 %f<32>;
    .reg .f64 %fd<8>;
    .reg .b64 %rd<32>;
{body}
    ret;
}}
"
    )
}

#[test]
fn shared_memory_symbols_offsets_and_dynamic_window() {
    let ptx = kernel(
        "   .shared .align 4 .b8 a[12];
    .shared .align 8 .f64 b[2];
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, a;
    mov.u64 %rd2, b;
    mov.u64 %rd3, dyn;
    cvt.u64.u32 %rd4, %r2;
    st.global.v2.u64 [%rd1], {%rd4, %rd2};
    st.global.u64 [%rd1+16], %rd3;
    st.shared.u32 [a+4], %r1;
    st.shared.f32 [dyn+60], 0f40490FDB;
    ld.shared.u32 %r3, [%r2+4];
    ld.shared.f32 %f1, [%rd3+60];
    st.global.u32 [%rd1+24], %r3;
    st.global.f32 [%rd1+28], %f1;
    cvta.shared.u64 %rd5, %rd3;
    ld.f32 %f2, [%rd5+60];
    cvta.to.shared.u64 %rd6, %rd5;
    st.global.f32 [%rd1+32], %f2;
    st.global.u64 [%rd1+40], %rd6;
    cvta.shared.u64 %rd7, b;
    st.f64 [%rd7+8], 0d4000000000000000;
    ld.shared.f64 %fd1, [b+8];
    st.global.f64 [%rd1+48], %fd1;",
        ".param .u64 out",
        ".extern .shared .align 16 .b8 dyn[];\n",
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let info = m.kernel_info("k").unwrap();
    assert_eq!(info.static_shared_bytes, 32);
    assert!(info.uses_dynamic_shared);
    let mut dev = Device::new();
    let out = dev.alloc_zeroed(56);
    let st = dev
        .launch(&m, "k", [1, 1, 1], [1, 1, 1], 64, &[Param::U64(out)])
        .unwrap();
    assert_eq!(st.shared_bytes, 32 + 64);
    let w = dev.read_u64(out, 7).unwrap();
    assert_eq!(w[0], 0); // a at 0
    assert_eq!(w[1], 16); // b aligned to 8 after 12 bytes
    assert_eq!(w[2], 32); // dynamic window after static data, 16-aligned
    assert_eq!(w[3] as u32, 0);
    assert_eq!(f32::from_bits((w[3] >> 32) as u32), std::f32::consts::PI);
    assert_eq!(f32::from_bits(w[4] as u32), std::f32::consts::PI);
    assert_eq!(w[5], 32);
    assert_eq!(f64::from_bits(w[6]), 2.0);
    // the dynamic window is sized by the launch: byte 60 needs >= 64 bytes
    let e = dev
        .launch(&m, "k", [1, 1, 1], [1, 1, 1], 48, &[Param::U64(out)])
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SimError::OutOfBounds {
                space: Space::Shared,
                addr: 92,
                size: 4,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn atomics_global_and_shared() {
    let ptx = kernel(
        "   .shared .align 4 .u32 counter;
    ld.param.u64 %rd1, [out];
    ld.param.u64 %rd2, [xs];
    mov.u32 %r1, %tid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 st.shared.u32 [counter], 0;
    bar.sync 0;
    atom.shared.add.u32 %r2, [counter], 1;
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.f32 %f1, [%rd4];
    red.global.add.f32 [%rd1], %f1;
    atom.global.add.u32 %r3, [%rd1+4], %r1;
    atom.global.max.s32 %r4, [%rd1+8], %r1;
    atom.global.min.u32 %r5, [%rd1+12], %r1;
    cvt.u64.u32 %rd5, %r1;
    atom.global.add.u64 %rd6, [%rd1+16], %rd5;
    cvt.rn.f64.u32 %fd1, %r1;
    atom.global.add.f64 %fd2, [%rd1+24], %fd1;
    atom.global.exch.b32 %r6, [%rd1+32], %r1;
    atom.global.cas.b32 %r7, [%rd1+36], 0, %r1;
    atom.global.inc.u32 %r8, [%rd1+40], 9;
    bar.sync 0;
    @%p1 ld.shared.u32 %r9, [counter];
    @%p1 st.global.u32 [%rd1+44], %r9;
    // per-thread return value of the shared atomic
    add.s64 %rd7, %rd1, 48;
    add.s64 %rd8, %rd7, %rd3;
    st.global.u32 [%rd8], %r2;",
        ".param .u64 out, .param .u64 xs",
        "",
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let n = 64u32;
    let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let x = dev.alloc_from_f32(&xs);
    let out = dev.alloc_zeroed(48 + 4 * n as usize);
    dev.write_u32(out + 12, &[u32::MAX]).unwrap();
    dev.write_u32(out + 8, &[(-5i32) as u32]).unwrap();
    dev.launch(
        &m,
        "k",
        [1, 1, 1],
        [n, 1, 1],
        0,
        &[Param::U64(out), Param::U64(x)],
    )
    .unwrap();
    let w = dev.read_u32(out, 12).unwrap();
    assert_eq!(f32::from_bits(w[0]), xs.iter().sum::<f32>());
    assert_eq!(w[1], (0..n).sum::<u32>());
    assert_eq!(w[2], n - 1);
    assert_eq!(w[3], 0);
    assert_eq!(
        dev.read_u64(out + 16, 1).unwrap()[0],
        (0..n as u64).sum::<u64>()
    );
    assert_eq!(
        dev.read_f64(out + 24, 1).unwrap()[0],
        (0..n).sum::<u32>() as f64
    );
    assert_eq!(w[8], n - 1); // last exchange wins (threads run in order)
    assert_eq!(w[9], 1); // cas succeeded only for thread 0 (0 -> 0), then thread 1 (0 -> 1)
    assert_eq!(w[10], n % 10); // inc wraps at 9
    assert_eq!(w[11], n);
    let olds = dev.read_u32(out + 48, n as usize).unwrap();
    assert_eq!(olds, (0..n).collect::<Vec<_>>());
}

#[test]
fn global_bounds_alignment_init_and_free_errors() {
    let body = "ld.param.u64 %rd1, [p];
    ld.param.u64 %rd2, [q];
    add.s64 %rd3, %rd1, %rd2;
    ld.global.f32 %f1, [%rd3];
    st.global.f32 [%rd1], %f1;";
    let ptx = kernel(body, ".param .u64 p, .param .u64 q", "");
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let a = dev.alloc_from_f32(&[1.0, 2.0, 3.0]);
    let run = |dev: &mut Device, base: u64, off: u64| {
        dev.launch(
            &m,
            "k",
            [1, 1, 1],
            [1, 1, 1],
            0,
            &[Param::U64(base), Param::U64(off)],
        )
    };
    run(&mut dev, a, 8).unwrap();
    assert_eq!(dev.read_f32(a, 1).unwrap(), vec![3.0]);
    // one element past the end
    let e = run(&mut dev, a, 12).unwrap_err();
    match &e {
        SimError::OutOfBounds {
            space,
            addr,
            size,
            detail,
            site,
        } => {
            assert_eq!(*space, Space::Global);
            assert_eq!(*addr, a + 12);
            assert_eq!(*size, 4);
            assert!(detail.contains("past the end"), "{detail}");
            assert!(detail.contains("12 bytes"), "{detail}");
            assert_eq!(site.kernel, "k");
            assert!(site.text.contains("ld.global.f32"));
        }
        other => panic!("{other}"),
    }
    // misaligned
    let e = run(&mut dev, a, 2).unwrap_err();
    assert!(matches!(e, SimError::Misaligned { size: 4, .. }), "{e}");
    // uninitialised bytes
    let u = dev.alloc(16);
    dev.write_f32(u, &[5.0]).unwrap();
    run(&mut dev, u, 0).unwrap();
    let e = run(&mut dev, u, 4).unwrap_err();
    assert!(
        matches!(e, SimError::UninitializedMemory { space: Space::Global, addr, .. } if addr == u + 4),
        "{e}"
    );
    assert!(matches!(
        dev.read(u + 4, 4),
        Err(SimError::HostMemory { .. })
    ));
    // use after free
    dev.free(a).unwrap();
    let e = run(&mut dev, a, 0).unwrap_err();
    assert!(
        matches!(e, SimError::UseAfterFree { allocation, .. } if allocation == a),
        "{e}"
    );
    assert!(dev.free(a).is_err());
    // distinct, aligned addresses with guard gaps
    let b = dev.alloc(1);
    let c = dev.alloc(1);
    assert_eq!(b % 256, 0);
    assert!(c - b >= 4096);
}

#[test]
fn global_write_race_and_cross_block_read_race() {
    let ptx = kernel(
        "ld.param.u64 %rd1, [p];
    mov.u32 %r1, %tid.x;
    st.global.u32 [%rd1], %r1;",
        ".param .u64 p",
        "",
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let a = dev.alloc(4);
    let e = dev
        .launch(&m, "k", [1, 1, 1], [2, 1, 1], 0, &[Param::U64(a)])
        .unwrap_err();
    match &e {
        SimError::GlobalRace {
            site,
            other_thread,
            kind,
            addr,
            ..
        } => {
            assert_eq!(*kind, RaceKind::WriteAfterWrite);
            assert_eq!(site.thread, [1, 0, 0]);
            assert_eq!(*other_thread, [0, 0, 0]);
            assert_eq!(*addr, a);
        }
        other => panic!("{other}"),
    }
    dev.set_global_race_detection(false);
    dev.launch(&m, "k", [1, 1, 1], [2, 1, 1], 0, &[Param::U64(a)])
        .unwrap();
    assert_eq!(dev.read_u32(a, 1).unwrap(), vec![1]);
    // a block reading what another block wrote in the same launch
    let ptx = kernel(
        "ld.param.u64 %rd1, [p];
    mov.u32 %r1, %ctaid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 st.global.u32 [%rd1], 7;
    @!%p1 ld.global.u32 %r2, [%rd1];",
        ".param .u64 p",
        "",
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let mut dev = Device::new();
    let a = dev.alloc(4);
    let e = dev
        .launch(&m, "k", [2, 1, 1], [1, 1, 1], 0, &[Param::U64(a)])
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SimError::GlobalRace {
                kind: RaceKind::ReadAfterWrite,
                other_block: [0, 0, 0],
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn shared_races_uninitialised_reads_and_barrier_ordering() {
    // thread 0 writes, thread 1 reads: a race without the barrier, fine with it
    let make = |bar: &str| {
        kernel(
            &format!(
                "   .shared .align 4 .u32 cell;
    ld.param.u64 %rd1, [p];
    mov.u32 %r1, %tid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 st.shared.u32 [cell], 42;
    {bar}
    ld.shared.u32 %r2, [cell];
    mov.u32 %r5, %ctaid.x;
    mad.lo.u32 %r6, %r5, 4, %r1;
    mul.wide.u32 %rd2, %r6, 4;
    add.s64 %rd3, %rd1, %rd2;
    st.global.u32 [%rd3], %r2;"
            ),
            ".param .u64 p",
            "",
        )
    };
    let good = make("bar.sync 0;");
    ptxas_check(&good);
    let (dev, r) = launch_one(&good, "k", [2, 1, 1], [4, 1, 1], 0, |d| {
        vec![Param::U64(d.alloc(32))]
    });
    let st = r.unwrap();
    assert_eq!(st.barriers, 2);
    // the first allocation of a fresh device is at 0x1_0000_0000
    assert_eq!(dev.read_u32(0x1_0000_0000, 8).unwrap(), vec![42; 8]);
    let bad = make("");
    ptxas_check(&bad);
    let (_, r) = launch_one(&bad, "k", [1, 1, 1], [4, 1, 1], 0, |d| {
        vec![Param::U64(d.alloc(16))]
    });
    let e = r.unwrap_err();
    match &e {
        SimError::SharedRace {
            site,
            other_thread,
            kind,
            ..
        } => {
            assert_eq!(*kind, RaceKind::ReadAfterWrite);
            assert_eq!(site.thread, [1, 0, 0]);
            assert_eq!(*other_thread, [0, 0, 0]);
            assert!(site.text.contains("ld.shared"));
        }
        other => panic!("{other}"),
    }
    // every thread writes the same cell: write-after-write
    let ww = kernel(
        "   .shared .align 4 .u32 cell;
    mov.u32 %r1, %tid.x;
    st.shared.u32 [cell], %r1;",
        "",
        "",
    );
    ptxas_check(&ww);
    let (_, r) = launch_one(&ww, "k", [1, 1, 1], [2, 1, 1], 0, |_| vec![]);
    assert!(
        matches!(
            r,
            Err(SimError::SharedRace {
                kind: RaceKind::WriteAfterWrite,
                ..
            })
        ),
        "{r:?}"
    );
    // a write after another thread's read in the same interval
    let war = kernel(
        "   .shared .align 4 .u32 cell;
    mov.u32 %r1, %tid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 st.shared.u32 [cell], 1;
    bar.sync 0;
    @%p1 ld.shared.u32 %r2, [cell];
    @!%p1 st.shared.u32 [cell], 2;",
        "",
        "",
    );
    ptxas_check(&war);
    let (_, r) = launch_one(&war, "k", [1, 1, 1], [2, 1, 1], 0, |_| vec![]);
    assert!(
        matches!(
            r,
            Err(SimError::SharedRace {
                kind: RaceKind::WriteAfterRead,
                ..
            })
        ),
        "{r:?}"
    );
    // shared memory starts uninitialised in every block
    let un = kernel(
        "   .shared .align 4 .u32 cell;
    ld.shared.u32 %r2, [cell];",
        "",
        "",
    );
    ptxas_check(&un);
    let (_, r) = launch_one(&un, "k", [1, 1, 1], [1, 1, 1], 0, |_| vec![]);
    assert!(
        matches!(
            &r,
            Err(SimError::UninitializedMemory {
                space: Space::Shared,
                addr: 0,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn cvta_to_shared_rejects_non_shared_addresses() {
    let ptx = kernel(
        "   .shared .align 4 .u32 cell;
    ld.param.u64 %rd1, [p];
    cvta.to.shared.u64 %rd2, %rd1;",
        ".param .u64 p",
        "",
    );
    ptxas_check(&ptx);
    let (_, r) = launch_one(&ptx, "k", [1, 1, 1], [1, 1, 1], 0, |d| {
        vec![Param::U64(d.alloc(4))]
    });
    assert!(
        matches!(&r, Err(SimError::ExecutionFault { message, .. }) if message.contains("cvta.to.shared")),
        "{r:?}"
    );
}

#[test]
fn launch_checks() {
    let ptx = format!(
        "{HEADER}
.visible .entry k(.param .u64 p, .param .f32 s)
.maxntid 128, 1, 1
{{
    ret;
}}
.visible .entry r(.param .s32 n)
.reqntid 32, 2, 1
.minnctapersm 4
{{
    ret;
}}
"
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    assert_eq!(m.kernel_names(), vec!["k", "r"]);
    let info = m.kernel_info("r").unwrap();
    assert_eq!(info.reqntid, Some([32, 2, 1]));
    assert_eq!(info.minnctapersm, Some(4));
    assert_eq!(info.params, vec![("n".to_string(), ".s32".to_string())]);
    let mut dev = Device::new();
    let ok = [Param::U64(0), Param::F32(1.0)];
    dev.launch(&m, "k", [2, 1, 1], [128, 1, 1], 0, &ok).unwrap();
    let inv = |r: Result<LaunchStats, SimError>, needle: &str| match r {
        Err(SimError::InvalidLaunch { message, .. }) => {
            assert!(message.contains(needle), "{message}")
        }
        other => panic!("expected InvalidLaunch({needle}), got {other:?}"),
    };
    inv(
        dev.launch(&m, "k", [1, 1, 1], [129, 1, 1], 0, &ok),
        "maxntid",
    );
    inv(
        dev.launch(&m, "k", [1, 1, 1], [1025, 1, 1], 0, &ok),
        "limits",
    );
    inv(
        dev.launch(&m, "k", [1, 70000, 1], [1, 1, 1], 0, &ok),
        "limits",
    );
    inv(
        dev.launch(&m, "k", [1, 1, 1], [1, 1, 1], 300 * 1024, &ok),
        "exceeds",
    );
    inv(
        dev.launch(&m, "k", [1, 1, 1], [1, 1, 1], 0, &ok[..1]),
        "2 parameter",
    );
    inv(
        dev.launch(
            &m,
            "k",
            [1, 1, 1],
            [1, 1, 1],
            0,
            &[Param::U64(0), Param::F64(1.0)],
        ),
        "declared .f32",
    );
    inv(
        dev.launch(&m, "r", [1, 1, 1], [64, 1, 1], 0, &[Param::S32(1)]),
        "reqntid",
    );
    dev.launch(&m, "r", [1, 1, 1], [32, 2, 1], 0, &[Param::S32(1)])
        .unwrap();
    assert!(matches!(
        dev.launch(&m, "nope", [1, 1, 1], [1, 1, 1], 0, &[]),
        Err(SimError::UnknownKernel { .. })
    ));
}
