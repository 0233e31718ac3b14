//! Planted faults in the tiled map-reduce: the simulator must expose each
//! one with the right error.

use super::kernels::{conv_data, conv_reference, conv_with, run_conv, CONV_PTX};
use super::*;
use crate::{RaceKind, Space};

#[test]
fn missing_barrier_after_tile_loop_is_a_shared_race() {
    let ptx = conv_with("TILE_BARRIER", "");
    ptxas_check(&ptx);
    for (m, n) in [(7usize, 300usize), (1000, 1033)] {
        let d = conv_data(m, n, 1);
        let e = run_conv(&ptx, &d, 64, None).unwrap_err();
        match &e {
            SimError::SharedRace {
                site,
                kind,
                other_text,
                ..
            } => {
                assert_eq!(site.kernel, "conv1d");
                assert!(
                    matches!(kind, RaceKind::ReadAfterWrite | RaceKind::WriteAfterRead),
                    "{e}"
                );
                assert!(
                    site.text.contains("shared") && other_text.contains("shared"),
                    "{e}"
                );
            }
            other => panic!("expected SharedRace, got {other}"),
        }
    }
    // with a single tile there is nothing to overwrite: still correct
    let d = conv_data(1, 1, 2);
    let (got, _) = run_conv(&ptx, &d, 64, None).unwrap();
    assert!((got[0] as f64 - conv_reference(&d)[0].0).abs() < 1e-6);
}

#[test]
fn off_by_one_tile_bound_reads_out_of_bounds() {
    let ptx = conv_with("LOAD_BOUND", "    setp.le.u32 %p3, %r8, %r2;");
    ptxas_check(&ptx);
    let d = conv_data(7, 300, 3);
    let e = run_conv(&ptx, &d, 64, None).unwrap_err();
    match &e {
        SimError::OutOfBounds {
            site,
            space,
            size,
            detail,
            ..
        } => {
            assert_eq!(*space, Space::Global);
            assert_eq!(*size, 4);
            assert!(detail.contains("past the end"), "{detail}");
            assert!(detail.contains("1200 bytes"), "{detail}");
            assert!(site.text.contains("ld.global.nc.f32"), "{e}");
            // tile 4 starts at j = 256; thread 44 loads j = 300
            assert_eq!(site.thread, [44, 0, 0]);
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
}

#[test]
fn uninitialised_accumulator_is_reported() {
    let ptx = conv_with("ACC_INIT", "");
    ptxas_check(&ptx);
    let d = conv_data(7, 300, 4);
    let e = run_conv(&ptx, &d, 64, None).unwrap_err();
    match &e {
        SimError::UninitializedRegister { site, register } => {
            assert_eq!(register, "%f1");
            assert!(site.text.starts_with("fma.rn.f32 %f1"), "{e}");
            assert_eq!(site.thread, [0, 0, 0]);
            assert_eq!(site.block, [0, 0, 0]);
            let line = CONV_PTX
                .lines()
                .position(|l| l.contains("fma.rn.f32 %f1"))
                .unwrap();
            // the removed init is blanked, not deleted: line numbers are unchanged
            assert_eq!(site.line, line + 1);
        }
        other => panic!("expected UninitializedRegister, got {other}"),
    }
}

#[test]
fn early_return_before_barrier_is_reported() {
    let ptx = conv_with("ACTIVE", "    setp.lt.u32 %p1, %r6, %r1;\n    @!%p1 ret;");
    ptxas_check(&ptx);
    let d = conv_data(7, 300, 5);
    let e = run_conv(&ptx, &d, 64, None).unwrap_err();
    match &e {
        SimError::BarrierAfterExit {
            site,
            exited_thread,
            exit_text,
            ..
        } => {
            assert_eq!(*exited_thread, [7, 0, 0]);
            assert!(exit_text.contains("ret"), "{e}");
            assert!(site.text.starts_with("bar.sync"), "{e}");
        }
        other => panic!("expected BarrierAfterExit, got {other}"),
    }
    // when every thread of the grid is active, the same kernel is fine
    let d = conv_data(128, 300, 6);
    let (got, _) = run_conv(&ptx, &d, 64, None).unwrap();
    let want = conv_reference(&d);
    for (g, (w, s)) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() <= 2e-5 * s);
    }
}

#[test]
fn unrounded_float_arithmetic_is_rejected() {
    let ptx = conv_with("SUB", "    sub.f32 %f7, %f2, %f5;");
    ptxas_check(&ptx); // ptxas accepts it; the simulator must not
    let e = Module::parse(&ptx).unwrap_err();
    match &e {
        SimError::Parse {
            kernel,
            line,
            text,
            message,
        } => {
            assert_eq!(kernel.as_deref(), Some("conv1d"));
            assert_eq!(text, "sub.f32 %f7, %f2, %f5;");
            assert!(message.contains("rounding modifier"), "{message}");
            assert!(message.contains("fma"), "{message}");
            assert_eq!(ptx.lines().nth(line - 1).unwrap().trim(), text);
        }
        other => panic!("expected Parse, got {other}"),
    }
    for bad in [
        "add.f32 %f7, %f2, %f5;",
        "mul.f64 %fd1, %fd1, %fd1;",
        "mul.ftz.f32 %f7, %f2, %f5;",
    ] {
        let ptx = format!(
            "{HEADER}.visible .entry k()\n{{\n.reg .f32 %f<8>;\n.reg .f64 %fd<2>;\n{bad}\nret;\n}}\n"
        );
        let e = expect_parse_error(&ptx, "rounding modifier");
        assert!(matches!(e, SimError::Parse { line: 8, .. }), "{e}");
    }
}

#[test]
fn endless_loop_hits_the_instruction_limit() {
    let ptx = conv_with("INNER_STEP", "    add.u32 %r11, %r11, 0;");
    ptxas_check(&ptx);
    let d = conv_data(7, 300, 7);
    let e = run_conv(&ptx, &d, 64, Some(100_000)).unwrap_err();
    match &e {
        SimError::InstructionLimit { site, limit } => {
            assert_eq!(*limit, 100_000);
            assert_eq!(site.thread, [0, 0, 0]);
            assert!(site.text.starts_with("bra.uni $L__inner"), "{e}");
        }
        other => panic!("expected InstructionLimit, got {other}"),
    }
}

#[test]
fn barrier_divergence_is_reported() {
    let ptx = format!(
        "{HEADER}
.visible .entry k()
{{
    .reg .pred %p1;
    .reg .b32 %r1;
    mov.u32 %r1, %tid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 bra $L__other;
    bar.sync 0;
    bra.uni $L__end;
$L__other:
    bar.sync 0;
$L__end:
    ret;
}}
"
    );
    ptxas_check(&ptx);
    let (_, r) = launch_one(&ptx, "k", [1, 1, 1], [4, 1, 1], 0, |_| vec![]);
    match r {
        Err(SimError::BarrierDivergence {
            site,
            other_thread,
            other_line,
            ..
        }) => {
            assert_eq!(site.thread, [0, 0, 0]);
            assert_eq!(site.line, 15);
            assert_eq!(other_thread, [1, 0, 0]);
            assert_eq!(other_line, 12);
        }
        other => panic!("expected BarrierDivergence, got {other:?}"),
    }
}
