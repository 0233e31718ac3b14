//! Locating and running NVIDIA's `ptxas` assembler, to check that emitted
//! PTX is accepted and to report per-kernel resources (registers, spills,
//! shared memory) from its `-v` output.
//!
//! `ptxas` comes from the PyPI wheel `nvidia-cuda-nvcc-cu12==12.9.86`:
//! `python3 -m pip install --target .tools/ptxas nvidia-cuda-nvcc-cu12==12.9.86`
//! in the workspace root puts it where [`find`] looks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// Environment variable naming the `ptxas` binary to use.
pub const ENV_VAR: &str = "KEOPS_PTXAS";

/// Finds `ptxas`: the file named by `KEOPS_PTXAS` if set and existing;
/// else `<workspace>/.tools/ptxas/nvidia/cuda_nvcc/bin/ptxas`; else `ptxas`
/// on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_VAR) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let local = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join(".tools/ptxas/nvidia/cuda_nvcc/bin/ptxas");
    if local.is_file() {
        return Some(local);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ptxas"))
        .find(|p| p.is_file())
}

/// For tests: [`find`], or `None` after printing why the check is skipped.
/// When the environment variable `KEOPS_REQUIRE_PTXAS` is set (CI installs
/// ptxas and sets it), a missing ptxas is a failure instead of a skip.
pub fn find_or_skip(what: &str) -> Option<PathBuf> {
    let p = find();
    if p.is_none() {
        if std::env::var_os("KEOPS_REQUIRE_PTXAS").is_some() {
            panic!("{what}: ptxas not found but KEOPS_REQUIRE_PTXAS is set (set {ENV_VAR} or install it in .tools/ptxas)");
        }
        println!("skipping {what}: ptxas not found (set {ENV_VAR} or install it in .tools/ptxas)");
    }
    p
}

/// Resources of one kernel, as reported by `ptxas -v`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    /// Entry name.
    pub name: String,
    /// Registers per thread.
    pub registers: u32,
    /// Bytes of register spill stores.
    pub spill_stores: u32,
    /// Bytes of register spill loads.
    pub spill_loads: u32,
    /// Bytes of (static) shared memory.
    pub shared_bytes: u32,
    /// Bytes of stack frame.
    pub stack_frame: u32,
    /// Named barriers used.
    pub barriers: u32,
}

/// The result of a successful assembly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssembleReport {
    /// Target architecture (`sm_80`).
    pub arch: String,
    /// One entry per kernel, in ptxas's order.
    pub kernels: Vec<KernelResources>,
    /// ptxas's complete output (info lines and any warnings).
    pub log: String,
}

impl AssembleReport {
    /// The resources of a kernel by name.
    pub fn kernel(&self, name: &str) -> Option<&KernelResources> {
        self.kernels.iter().find(|k| k.name == name)
    }

    /// Whether ptxas printed a warning.
    pub fn has_warnings(&self) -> bool {
        self.log.lines().any(|l| l.contains("warning"))
    }
}

impl fmt::Display for AssembleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.kernels.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{} ({}): {} registers, {} B spill stores, {} B spill loads, {} B shared, {} B stack",
                k.name,
                self.arch,
                k.registers,
                k.spill_stores,
                k.spill_loads,
                k.shared_bytes,
                k.stack_frame
            )?;
        }
        Ok(())
    }
}

/// Why [`assemble`] failed.
#[derive(Debug)]
pub enum PtxasError {
    /// Writing the temporary file or running the binary failed.
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// ptxas rejected the PTX.
    Rejected {
        /// Exit status, if any.
        status: Option<i32>,
        /// ptxas's full standard error (and output).
        stderr: String,
    },
}

impl fmt::Display for PtxasError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PtxasError::Io { what, source } => write!(f, "{what}: {source}"),
            PtxasError::Rejected { status, stderr } => write!(
                f,
                "ptxas rejected the PTX (exit status {}):\n{stderr}",
                status.map_or("none".to_string(), |s| s.to_string())
            ),
        }
    }
}

impl std::error::Error for PtxasError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PtxasError::Io { source, .. } => Some(source),
            PtxasError::Rejected { .. } => None,
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes its files when dropped.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Assembles `ptx` for `arch` (e.g. `"sm_80"`) with `ptxas -v`, returning
/// per-kernel resources, or the full diagnostic output if ptxas rejects it.
pub fn assemble(ptxas: &Path, ptx: &str, arch: &str) -> Result<AssembleReport, PtxasError> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let stem = std::env::temp_dir().join(format!("keops-ptxas-{}-{n}-{nanos}", std::process::id()));
    let src = stem.with_extension("ptx");
    let out = stem.with_extension("cubin");
    let _cleanup = TempFiles(vec![src.clone(), out.clone()]);
    std::fs::write(&src, ptx).map_err(|e| PtxasError::Io {
        what: format!("writing {}", src.display()),
        source: e,
    })?;
    let output = Command::new(ptxas)
        .arg("-v")
        .arg(format!("-arch={arch}"))
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| PtxasError::Io {
            what: format!("running {}", ptxas.display()),
            source: e,
        })?;
    let mut log = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !log.is_empty() && !log.ends_with('\n') {
            log.push('\n');
        }
        log.push_str(&stdout);
    }
    if !output.status.success() {
        return Err(PtxasError::Rejected {
            status: output.status.code(),
            stderr: log,
        });
    }
    Ok(AssembleReport {
        arch: arch.to_string(),
        kernels: parse_verbose(&log),
        log,
    })
}

fn number_before(s: &str, suffix: &str) -> Option<u32> {
    let i = s.find(suffix)?;
    let head = s[..i].trim_end();
    let start = head
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |j| j + 1);
    head[start..].parse().ok()
}

/// Parses the per-kernel lines of `ptxas -v` output.
pub fn parse_verbose(log: &str) -> Vec<KernelResources> {
    let mut kernels: Vec<KernelResources> = Vec::new();
    // index of the kernel the next "properties"/"Used" lines belong to
    let mut current: Option<usize> = None;
    let mut props_for_current = false;
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or("").to_string();
            kernels.push(KernelResources {
                name,
                ..Default::default()
            });
            current = Some(kernels.len() - 1);
            props_for_current = false;
        } else if let Some(rest) = line.split("Function properties for ").nth(1) {
            let name = rest.trim();
            props_for_current = current.is_some_and(|i| kernels[i].name == name);
        } else if line.contains("bytes stack frame") {
            if let (true, Some(i)) = (props_for_current, current) {
                let k = &mut kernels[i];
                k.stack_frame = number_before(line, "bytes stack frame").unwrap_or(0);
                k.spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
                k.spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
            }
            props_for_current = false;
        } else if line.contains("Used") && line.contains("registers") {
            if let Some(i) = current {
                let k = &mut kernels[i];
                k.registers = number_before(line, "registers").unwrap_or(0);
                k.shared_bytes = number_before(line, "bytes smem").unwrap_or(0);
                k.barriers = number_before(line, "barriers").unwrap_or(0);
            }
        }
    }
    kernels
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k2' for 'sm_80'
ptxas info    : Function properties for k2
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 4 registers, used 0 barriers, 360 bytes cmem[0]
ptxas info    : Compile time = 0.817 ms
ptxas info    : Compiling entry function 'k1' for 'sm_80'
ptxas info    : Function properties for k1
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 8 registers, used 1 barriers, 1024 bytes smem, 364 bytes cmem[0]
ptxas info    : Compile time = 0.999 ms
ptxas info    : Compiling entry function 'spill' for 'sm_80'
ptxas info    : Function properties for spill
    320 bytes stack frame, 316 bytes spill stores, 316 bytes spill loads
ptxas info    : Used 24 registers, used 0 barriers, 320 bytes cumulative stack size, 360 bytes cmem[0]
ptxas info    : Compile time = 5.197 ms
";

    #[test]
    fn parses_captured_verbose_output() {
        let ks = parse_verbose(CAPTURED);
        assert_eq!(ks.len(), 3);
        assert_eq!(
            ks[0],
            KernelResources {
                name: "k2".into(),
                registers: 4,
                ..Default::default()
            }
        );
        assert_eq!(
            ks[1],
            KernelResources {
                name: "k1".into(),
                registers: 8,
                shared_bytes: 1024,
                barriers: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            ks[2],
            KernelResources {
                name: "spill".into(),
                registers: 24,
                spill_stores: 316,
                spill_loads: 316,
                stack_frame: 320,
                ..Default::default()
            }
        );
        let report = AssembleReport {
            arch: "sm_80".into(),
            kernels: ks,
            log: CAPTURED.into(),
        };
        let text = report.to_string();
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains(
            "spill (sm_80): 24 registers, 316 B spill stores, 316 B spill loads, 0 B shared, 320 B stack"
        ));
        assert!(!report.has_warnings());
    }

    #[test]
    fn ignores_device_function_properties() {
        let log = "\
ptxas info    : Function properties for helper
    16 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads
ptxas info    : Compiling entry function 'main' for 'sm_90'
ptxas info    : Function properties for main
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 12 registers, used 0 barriers
";
        let ks = parse_verbose(log);
        assert_eq!(ks.len(), 1);
        assert_eq!(ks[0].registers, 12);
        assert_eq!(ks[0].spill_stores, 0);
    }

    const GOOD: &str = "
.version 7.8
.target sm_80
.address_size 64
.visible .entry tiny(.param .u64 p)
{
    .reg .b32 %r<3>;
    .reg .b64 %rd<3>;
    .shared .align 4 .b8 tile[256];
    ld.param.u64 %rd1, [p];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r1, %tid.x;
    shl.b32 %r2, %r1, 2;
    st.shared.u32 [%r2], %r1;
    bar.sync 0;
    st.global.u32 [%rd2], %r1;
    ret;
}
";

    #[test]
    fn real_assemble_when_available() {
        let Some(p) = find_or_skip("ptxas check") else {
            return;
        };
        for arch in ["sm_80", "sm_90"] {
            let r = assemble(&p, GOOD, arch).unwrap_or_else(|e| panic!("{e}"));
            let k = r.kernel("tiny").expect("kernel reported");
            assert!(k.registers > 0);
            assert_eq!(k.shared_bytes, 256);
            assert_eq!(k.spill_stores, 0);
            assert!(r.to_string().starts_with(&format!("tiny ({arch}):")));
        }
        let bad = GOOD.replace("ret;", "frobnicate %r1;\n    ret;");
        match assemble(&p, &bad, "sm_80") {
            Err(PtxasError::Rejected { stderr, .. }) => {
                assert!(
                    stderr.contains("frobnicate") || stderr.contains("error"),
                    "{stderr}"
                )
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
