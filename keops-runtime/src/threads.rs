//! The CPU engine's thread pools.
//!
//! Every CPU kernel call runs in a pool of this module, never on rayon's
//! global pool: its workers get [`WORKER_STACK`] bytes of stack. In a
//! user's debug build (opt-level 0) the generated stage kernels keep every
//! intermediate value of a formula on the stack, and a large formula needs
//! more than the 2 MiB that threads get by default; the reservation is
//! virtual memory, touched only as deep as a kernel goes.

use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// Stack size of the engine's worker threads (32 MiB).
pub const WORKER_STACK: usize = 32 << 20;

type PoolCache = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;

/// The pool of `n` workers, built once per `n`.
fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<PoolCache> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut g = pools
        .lock()
        .map_err(|_| Error::Internal("thread pool cache poisoned".into()))?;
    if let Some((_, p)) = g.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .stack_size(WORKER_STACK)
            .thread_name(|k| format!("keops-{k}"))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build a thread pool: {e}")))?,
    );
    g.push((n, p.clone()));
    Ok(p)
}

/// Runs `f` in the engine's pool of `threads` workers (`None`: see
/// [`default_threads`]).
pub(crate) fn install<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let n = threads.unwrap_or_else(default_threads).max(1);
    Ok(pool(n)?.install(f))
}

/// The number of workers when none is given: as many as the rayon pool
/// the call is made from, else `RAYON_NUM_THREADS`, else the machine's
/// parallelism. (Not `rayon::current_num_threads` outside a pool: it would
/// start rayon's global pool, threads the engine never uses, on the first
/// call.)
fn default_threads() -> usize {
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uses about `4 KiB * depth` of stack.
    fn deep(depth: u32) -> u64 {
        let buf = std::hint::black_box([depth as u8; 4096]);
        if depth == 0 {
            0
        } else {
            deep(depth - 1) + u64::from(buf[depth as usize % 4096])
        }
    }

    /// Work in the engine's pools may use far more than the 2 MiB of a
    /// default thread (here 8 MiB), with explicit and default thread counts.
    #[test]
    fn workers_have_large_stacks() {
        let want: u64 = (0..=2048u32).map(|d| u64::from(d as u8)).sum();
        for threads in [None, Some(1), Some(3)] {
            let got = install(threads, || {
                use rayon::prelude::*;
                (0..4)
                    .into_par_iter()
                    .map(|_| deep(2048))
                    .collect::<Vec<_>>()
            })
            .unwrap();
            assert_eq!(got, vec![want; 4], "{threads:?}");
        }
    }
}
