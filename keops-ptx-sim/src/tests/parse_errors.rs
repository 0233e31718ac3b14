//! PTX the simulator must reject, with the right line, and PTX forms it
//! must accept.

use super::*;

fn wrap(body: &str) -> String {
    format!(
        "{HEADER}.visible .entry k(.param .u64 p)
{{
.reg .pred %p<4>;
.reg .b32 %r<8>;
.reg .f32 %f<8>;
.reg .f64 %fd<4>;
.reg .b64 %rd<8>;
.shared .align 4 .b8 tile[64];
{body}
ret;
}}
"
    )
}

/// Line of the first body line in [`wrap`].
const BODY_LINE: usize = 12;

#[test]
fn rejected_instructions_name_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "shfl.sync.bfly.b32 %r1, %r2, 1, 31, -1;",
            "unsupported instruction `shfl.sync.bfly.b32`",
        ),
        ("add.f32 %f1, %f2, %f3;", "rounding modifier"),
        ("sub.f64 %fd1, %fd2, %fd3;", "rounding modifier"),
        ("fma.f32 %f1, %f2, %f3, %f4;", "rounding modifier"),
        ("add.rn.f32 %f1, %f9, %f3;", "undeclared register `%f9`"),
        (
            "add.rn.f32 %f1, %rd1, %f3;",
            "does not match operand type .f32",
        ),
        ("add.rn.f32 %f1, %f2, 1;", "integer literal `1`"),
        ("mov.f32 %f1, -0f3F800000;", "negated hexadecimal float"),
        ("bra $L__nowhere;", "undefined label `$L__nowhere`"),
        ("cvt.s32.f32 %r1, %f1;", "integer rounding modifier"),
        ("cvt.f32.s32 %f1, %r1;", "rounding modifier"),
        ("cvt.f32.f64 %f1, %fd1;", "rounding modifier"),
        ("cvt.rn.f64.f32 %fd1, %f1;", "only valid on narrowing"),
        (
            "add.rn.ftz.f64 %fd1, %fd2, %fd3;",
            ".ftz/.sat are only valid",
        ),
        ("mul.u32 %r1, %r2, %r3;", ".lo, .hi or .wide"),
        ("setp.lt.b32 %p1, %r1, %r2;", "only support .eq and .ne"),
        ("setp.lo.s32 %p1, %r1, %r2;", "unsigned comparison"),
        (
            "add.rn.foo.f32 %f1, %f2, %f3;",
            "unsupported modifier(s) .foo",
        ),
        (
            "ld.global.f32 %f1, [tile];",
            "shared symbol `tile` used in a .global access",
        ),
        ("ld.param.u32 %r1, [tile];", "not a parameter"),
        ("ld.param.u64 %rd1, [p+8];", "outside parameter"),
        ("ld.local.f32 %f1, [%rd1];", "state space is not supported"),
        ("ld.global.f32 %f1, [%r1];", "must be 64-bit"),
        ("ld.global.f32 %fd1, [%rd1];", "does not match"),
        ("add.u32 %r1, %tid.x, 1;", "special register `%tid.x`"),
        ("mov.u64 %rd1, %tid.x;", "mov.u32"),
        (
            "mov.u32 %r1, %laneid;",
            "unsupported special register `%laneid`",
        ),
        ("rcp.approx.f64 %fd1, %fd2;", "requires .ftz"),
        ("sqrt.f32 %f1, %f2;", "exactly one of .approx"),
        ("ex2.f32 %f1, %f2;", "needs .approx"),
        ("ex2.approx.f64 %fd1, %fd2;", "only available for .f32"),
        ("bar.sync %r1;", "immediate"),
        ("bar.sync 0, 100;", "multiple of 32"),
        ("bar.arrive 0, 64;", "not supported"),
        ("min.NaN.f64 %fd1, %fd2, %fd3;", ".NaN are only valid"),
        ("and.u32 %r1, %r2, %r3;", ".b16/.b32/.b64/.pred"),
        ("div.f32 %f1, %f2, %f3;", "exactly one of"),
        ("mov.u32 %r1, p;", "address of parameter `p`"),
    ];
    for (body, needle) in cases {
        let ptx = wrap(body);
        let e = expect_parse_error(&ptx, needle);
        match e {
            SimError::Parse {
                kernel, line, text, ..
            } => {
                assert_eq!(kernel.as_deref(), Some("k"));
                assert_eq!(line, BODY_LINE, "{body}");
                assert_eq!(text, *body);
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn rejected_declarations_and_directives() {
    let decl = |d: &str| format!("{HEADER}.visible .entry k()\n{{\n{d}\nret;\n}}\n");
    expect_parse_error(&decl(".reg .f32 %a;\n.reg .b64 %a;"), "different type");
    expect_parse_error(&decl(".reg .b8 %a;"), "unsupported register type");
    expect_parse_error(
        &decl(".local .b8 buf[16];"),
        "unsupported directive `.local`",
    );
    expect_parse_error(&decl("$L1:\n$L1:"), "duplicate label");
    expect_parse_error(&decl(".shared .b8 s[];"), "must be declared `.extern`");
    expect_parse_error(
        &decl(".shared .b8 big[50000];"),
        "static shared memory exceeds",
    );
    expect_parse_error(
        &format!("{HEADER}.func f()\n{{\nret;\n}}\n"),
        "device functions (`.func`) are not supported",
    );
    expect_parse_error(
        &format!("{HEADER}.global .f32 g;\n"),
        "module-level `.global` declarations are not supported",
    );
    expect_parse_error(".target sm_80\n.address_size 64\n", "missing `.version`");
    expect_parse_error(
        ".version 7.8\n.target sm_80\n.address_size 32\n",
        "only `.address_size 64`",
    );
    expect_parse_error(
        &format!("{HEADER}.visible .entry k(.param .u16 a)\n{{\nret;\n}}\n"),
        "unsupported parameter type",
    );
    expect_parse_error(
        &format!("{HEADER}.visible .entry k()\n{{\nret;\n}}\n.visible .entry k()\n{{\nret;\n}}\n"),
        "duplicate kernel",
    );
    let e = expect_parse_error(
        &format!("{HEADER}/* a comment\n spanning\n lines */\n.visible .entry k()\n{{\n  frob %r1;\n}}\n"),
        "unsupported instruction `frob`",
    );
    assert!(matches!(e, SimError::Parse { line: 9, .. }), "{e}");
}

#[test]
fn accepted_syntax_variants() {
    let ptx = format!(
        "{HEADER}
.file 1 \"kernel.cu\"
.extern .shared .align 16 .b8 dyn[];
.shared .align 4 .b8 unused_module_tile[4096];

.visible .entry k(
    .param .u64 .ptr.global .align 8 k_p,
    .param .s32 k_n,
    .param .f64 k_s
)
.maxntid 256, 1, 1
.minnctapersm 2
{{
    .reg .pred %p;
    .reg .b64 %rd_x, %rd_y;
    .reg .b32 %r<4>;
    .reg .f64 %fd<2>;
    .loc 1 10 3
    {{
        .reg .b32 %r<4>;  // identical redeclaration in a nested scope
        ld.param.u64 %rd_x, [k_p];
        ld.param.s32 %r1, [k_n];
        ld.param.f64 %fd1, [k_s];
    }}
    /* block comment */ setp.gt.s32 %p, %r1, 0;
    @!%p bra LBB0_2;
    cvt.rzi.s32.f64 %r2, %fd1;
    add.s32 %r3, %r1, %r2;
    st.global.s32 [%rd_x+-0], %r3;
    mov.u64 %rd_y, dyn;
    st.shared.u32 [%rd_y], %r3;
LBB0_2:
    exit;
}}
"
    );
    ptxas_check(&ptx);
    let m = Module::parse(&ptx).unwrap();
    let info = m.kernel_info("k").unwrap();
    assert_eq!(info.maxntid, Some([256, 1, 1]));
    assert_eq!(
        info.static_shared_bytes, 0,
        "unreferenced module shared data is not laid out"
    );
    let mut dev = Device::new();
    let out = dev.alloc(4);
    dev.launch(
        &m,
        "k",
        [1, 1, 1],
        [8, 1, 1],
        4,
        &[Param::U64(out), Param::S32(5), Param::F64(-2.75)],
    )
    .unwrap_err(); // eight threads write the same word: a global race
    dev.launch(
        &m,
        "k",
        [1, 1, 1],
        [1, 1, 1],
        4,
        &[Param::U64(out), Param::S32(5), Param::F64(-2.75)],
    )
    .unwrap();
    assert_eq!(dev.read_i32(out, 1).unwrap(), vec![3]);
}
