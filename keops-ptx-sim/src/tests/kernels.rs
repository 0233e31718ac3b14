//! Whole kernels: a shared-memory block reduction and a GpuConv1D-style
//! tiled map-reduce, checked against host references.

use super::*;

pub(super) fn block_sum_ptx() -> String {
    format!(
        "{HEADER}
.visible .entry block_sum(
    .param .u64 .ptr.global .align 4 block_sum_in,
    .param .u64 .ptr.global .align 4 block_sum_out,
    .param .u32 block_sum_n
)
.reqntid 256, 1, 1
{{
    .reg .pred %p<4>;
    .reg .b32 %r<16>;
    .reg .f32 %f<8>;
    .reg .b64 %rd<8>;
    .shared .align 4 .f32 sdata[256];

    ld.param.u64 %rd1, [block_sum_in];
    ld.param.u64 %rd2, [block_sum_out];
    ld.param.u32 %r1, [block_sum_n];
    mov.u32 %r2, %tid.x;
    mov.u32 %r3, %ctaid.x;
    mad.lo.u32 %r4, %r3, 256, %r2;
    mov.f32 %f1, 0f00000000;
    setp.lt.u32 %p1, %r4, %r1;
    @!%p1 bra $L__store;
    mul.wide.u32 %rd3, %r4, 4;
    add.s64 %rd4, %rd1, %rd3;
    ld.global.nc.f32 %f1, [%rd4];
$L__store:
    mov.u32 %r5, sdata;
    shl.b32 %r6, %r2, 2;
    add.u32 %r7, %r5, %r6;
    st.shared.f32 [%r7], %f1;
    bar.sync 0;
    mov.u32 %r8, 128;
$L__loop:
    setp.ge.u32 %p2, %r2, %r8;
    @%p2 bra $L__skip;
    shl.b32 %r9, %r8, 2;
    add.u32 %r10, %r7, %r9;
    ld.shared.f32 %f2, [%r10];
    ld.shared.f32 %f3, [%r7];
    add.rn.f32 %f4, %f3, %f2;
    st.shared.f32 [%r7], %f4;
$L__skip:
    bar.sync 0;
    shr.u32 %r8, %r8, 1;
    setp.ne.u32 %p3, %r8, 0;
    @%p3 bra $L__loop;
    setp.ne.u32 %p2, %r2, 0;
    @%p2 bra $L__done;
    ld.shared.f32 %f5, [sdata];
    mul.wide.u32 %rd5, %r3, 4;
    add.s64 %rd6, %rd2, %rd5;
    st.global.f32 [%rd6], %f5;
$L__done:
    ret;
}}
"
    )
}

#[test]
fn block_reduction_with_shared_memory_and_barriers() {
    let ptx = block_sum_ptx();
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let n = 1000usize;
    let xs: Vec<f32> = (0..n).map(|i| ((i * 7919) % 17) as f32 - 8.0).collect();
    let mut dev = Device::new();
    let x = dev.alloc_from_f32(&xs);
    let blocks = n.div_ceil(256);
    let out = dev.alloc(blocks * 4);
    let st = dev
        .launch(
            &m,
            "block_sum",
            [blocks as u32, 1, 1],
            [256, 1, 1],
            0,
            &[Param::U64(x), Param::U64(out), Param::U32(n as u32)],
        )
        .unwrap();
    let got = dev.read_f32(out, blocks).unwrap();
    for b in 0..blocks {
        let want: f32 = xs[b * 256..((b + 1) * 256).min(n)].iter().sum();
        assert_eq!(got[b], want, "block {b}");
    }
    assert_eq!(st.barriers, 9 * blocks as u64);
    assert_eq!(st.shared_bytes, 1024);
    assert_eq!(st.threads, 256 * blocks as u64);
}

/// The GpuConv1D-style kernel: one thread per i, j tiles of `ntid` staged
/// in dynamic shared memory (y tile then b tile), the accumulator in a
/// register, tails for any M and N; threads with i >= M still load tiles
/// and reach every barrier. Lines tagged `[...]` are mutated by the
/// planted-fault tests.
pub(super) const CONV_PTX: &str = "
.version 7.8
.target sm_80
.address_size 64

.extern .shared .align 16 .b8 smem[];

.visible .entry conv1d(
    .param .u64 .ptr.global .align 4 conv1d_x,
    .param .u64 .ptr.global .align 4 conv1d_y,
    .param .u64 .ptr.global .align 4 conv1d_b,
    .param .u64 .ptr.global .align 4 conv1d_out,
    .param .u32 conv1d_m,
    .param .u32 conv1d_n
)
.maxntid 1024, 1, 1
{
    .reg .pred %p<6>;
    .reg .b32 %r<16>;
    .reg .f32 %f<12>;
    .reg .b64 %rd<20>;

    ld.param.u64 %rd1, [conv1d_x];
    ld.param.u64 %rd2, [conv1d_y];
    ld.param.u64 %rd3, [conv1d_b];
    ld.param.u64 %rd4, [conv1d_out];
    ld.param.u32 %r1, [conv1d_m];
    ld.param.u32 %r2, [conv1d_n];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd2, %rd2;
    cvta.to.global.u64 %rd3, %rd3;
    cvta.to.global.u64 %rd4, %rd4;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %ntid.x;
    mov.u32 %r5, %ctaid.x;
    mad.lo.u32 %r6, %r5, %r4, %r3;
    setp.lt.u32 %p1, %r6, %r1;              // [ACTIVE]
    mov.f32 %f1, 0f00000000;                // [ACC_INIT]
    mov.f32 %f2, 0f00000000;
    @!%p1 bra $L__have_x;
    mul.wide.u32 %rd5, %r6, 4;
    add.s64 %rd6, %rd1, %rd5;
    ld.global.nc.f32 %f2, [%rd6];
$L__have_x:
    mov.u64 %rd7, smem;
    mul.wide.u32 %rd8, %r4, 4;
    add.s64 %rd9, %rd7, %rd8;
    mul.wide.u32 %rd10, %r3, 4;
    add.s64 %rd11, %rd7, %rd10;
    add.s64 %rd12, %rd9, %rd10;
    mov.u32 %r7, 0;
$L__tile:
    setp.ge.u32 %p2, %r7, %r2;
    @%p2 bra.uni $L__tiles_done;
    add.u32 %r8, %r7, %r3;
    setp.lt.u32 %p3, %r8, %r2;              // [LOAD_BOUND]
    @!%p3 bra $L__loaded;
    mul.wide.u32 %rd13, %r8, 4;
    add.s64 %rd14, %rd2, %rd13;
    ld.global.nc.f32 %f3, [%rd14];
    st.shared.f32 [%rd11], %f3;
    add.s64 %rd15, %rd3, %rd13;
    ld.global.nc.f32 %f4, [%rd15];
    st.shared.f32 [%rd12], %f4;
$L__loaded:
    bar.sync 0;
    sub.u32 %r9, %r2, %r7;
    min.u32 %r10, %r9, %r4;
    @!%p1 bra $L__computed;
    mov.u32 %r11, 0;
$L__inner:
    setp.ge.u32 %p4, %r11, %r10;
    @%p4 bra $L__computed;
    mul.wide.u32 %rd16, %r11, 4;
    add.s64 %rd17, %rd7, %rd16;
    ld.shared.f32 %f5, [%rd17];
    add.s64 %rd18, %rd9, %rd16;
    ld.shared.f32 %f6, [%rd18];
    sub.rn.f32 %f7, %f2, %f5;               // [SUB]
    mul.rn.f32 %f8, %f7, %f7;
    neg.f32 %f9, %f8;
    ex2.approx.ftz.f32 %f10, %f9;
    fma.rn.f32 %f1, %f10, %f6, %f1;
    add.u32 %r11, %r11, 1;                  // [INNER_STEP]
    bra.uni $L__inner;
$L__computed:
    bar.sync 0;                             // [TILE_BARRIER]
    add.u32 %r7, %r7, %r4;
    bra.uni $L__tile;
$L__tiles_done:
    @!%p1 bra $L__end;
    mul.wide.u32 %rd5, %r6, 4;
    add.s64 %rd19, %rd4, %rd5;
    st.global.f32 [%rd19], %f1;
$L__end:
    ret;
}
";

/// Replaces the whole line tagged `[tag]` in the conv kernel.
pub(super) fn conv_with(tag: &str, replacement: &str) -> String {
    let marker = format!("// [{tag}]");
    let mut found = false;
    let out: Vec<String> = CONV_PTX
        .lines()
        .map(|l| {
            if l.contains(&marker) {
                found = true;
                replacement.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no line tagged {tag}");
    out.join("\n")
}

pub(super) struct ConvData {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub b: Vec<f32>,
}

pub(super) fn conv_data(m: usize, n: usize, seed: u64) -> ConvData {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut u = |lo: f32, hi: f32| lo + (hi - lo) * rng.f32();
    ConvData {
        x: (0..m).map(|_| u(-2.0, 2.0)).collect(),
        y: (0..n).map(|_| u(-2.0, 2.0)).collect(),
        b: (0..n).map(|_| u(-1.0, 1.0)).collect(),
    }
}

/// Launches a conv kernel; returns the output (or the error) and the stats.
pub(super) fn run_conv(
    ptx: &str,
    data: &ConvData,
    block: u32,
    limit: Option<u64>,
) -> Result<(Vec<f32>, LaunchStats), SimError> {
    let module = Module::parse(ptx)?;
    let mut dev = Device::new();
    if let Some(l) = limit {
        dev.set_instruction_limit(l);
    }
    let (m, n) = (data.x.len(), data.y.len());
    let x = dev.alloc_from_f32(&data.x);
    let y = dev.alloc_from_f32(&data.y);
    let b = dev.alloc_from_f32(&data.b);
    let out = dev.alloc(m * 4);
    let grid = (m as u32).div_ceil(block).max(1);
    let st = dev.launch(
        &module,
        "conv1d",
        [grid, 1, 1],
        [block, 1, 1],
        2 * block * 4,
        &[
            Param::U64(x),
            Param::U64(y),
            Param::U64(b),
            Param::U64(out),
            Param::U32(m as u32),
            Param::U32(n as u32),
        ],
    )?;
    Ok((dev.read_f32(out, m)?, st))
}

/// Host f64 reference and the scale for error bounds (sum of |terms|).
pub(super) fn conv_reference(d: &ConvData) -> Vec<(f64, f64)> {
    d.x.iter()
        .map(|&xi| {
            let mut s = 0.0f64;
            let mut scale = 0.0f64;
            for (&yj, &bj) in d.y.iter().zip(&d.b) {
                let t = (-(xi as f64 - yj as f64).powi(2)).exp2() * bj as f64;
                s += t;
                scale += t.abs();
            }
            (s, scale)
        })
        .collect()
}

#[test]
fn tiled_map_reduce_matches_host_reference() {
    ptxas_check(CONV_PTX);
    for (m, n, block) in [
        (1usize, 1usize, 64u32),
        (7, 300, 64),
        (1000, 1033, 128),
        (1000, 1033, 256),
    ] {
        let d = conv_data(m, n, (m * 31 + n) as u64);
        let (got, st) = run_conv(CONV_PTX, &d, block, None).unwrap_or_else(|e| panic!("{e}"));
        let want = conv_reference(&d);
        for (i, (&g, &(w, scale))) in got.iter().zip(&want).enumerate() {
            let err = (g as f64 - w).abs();
            assert!(
                err <= 2e-5 * scale + 1e-30,
                "(M, N) = ({m}, {n}), i = {i}: got {g}, want {w} (err {err:e}, scale {scale:e})"
            );
        }
        let grid = (m as u64).div_ceil(block as u64);
        let tiles = (n as u64).div_ceil(block as u64);
        assert_eq!(
            st.barriers,
            2 * tiles * grid,
            "two barriers per tile and block"
        );
        assert_eq!(st.shared_bytes, 8 * block);
        assert_eq!(st.threads, grid * block as u64);
    }
}

/// Speed check: 1,048,576 threads each evaluating a ~60-instruction
/// straight-line float routine. Run with
/// `cargo test -p keops-gpu-kernels --release -- --ignored --nocapture sim_speed`.
#[test]
#[ignore]
fn sim_speed() {
    let mut body = String::new();
    for k in 0..16 {
        body += &format!(
            "    fma.rn.f32 %f2, %f2, %f1, 0f3F{:02X}0000;\n    mul.rn.f32 %f3, %f2, 0f3F000000;\n    add.rn.f32 %f2, %f3, %f1;\n",
            0x80 + k
        );
    }
    let ptx = format!(
        "{HEADER}
.visible .entry speed(.param .u64 px, .param .u64 pout)
{{
    .reg .b32 %r<4>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<8>;
    ld.param.u64 %rd1, [px];
    ld.param.u64 %rd2, [pout];
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %tid.x;
    mad.lo.u32 %r3, %r1, 256, %r2;
    mul.wide.u32 %rd3, %r3, 4;
    add.s64 %rd4, %rd1, %rd3;
    ld.global.f32 %f1, [%rd4];
    mov.f32 %f2, 0f3F800000;
{body}
    add.s64 %rd5, %rd2, %rd3;
    st.global.f32 [%rd5], %f2;
    ret;
}}
"
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let n = 1usize << 20;
    let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    for race in [true, false] {
        let mut dev = Device::new();
        dev.set_global_race_detection(race);
        let x = dev.alloc_from_f32(&xs);
        let out = dev.alloc(n * 4);
        let t = std::time::Instant::now();
        let st = dev
            .launch(
                &m,
                "speed",
                [(n / 256) as u32, 1, 1],
                [256, 1, 1],
                0,
                &[Param::U64(x), Param::U64(out)],
            )
            .unwrap();
        let dt = t.elapsed().as_secs_f64();
        println!(
            "sim_speed (global race detection {}): {} threads, {} instructions in {:.3} s = {:.1} M instructions/s",
            if race { "on" } else { "off" },
            n,
            st.instructions,
            dt,
            st.instructions as f64 / dt / 1e6
        );
        let got = dev.read_f32(out, 4).unwrap();
        let mut v = 1.0f32;
        for k in 0..16u32 {
            let c = f32::from_bits((0x80 + k) << 16 | 0x3F00_0000);
            v = v.mul_add(xs[3], c);
            let sq = v * 0.5;
            v = sq + xs[3];
        }
        assert_eq!(got[3], v);
    }
}
