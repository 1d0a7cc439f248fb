//! Every case of every table, repeated in one process: 1,000 times for a
//! cheap case, fewer for one bound by a timeout, real I/O or large copies
//! (its [`Cost`](super::harness::Cost)), and `POLYPLUG_SOAK` times for all
//! when that is set. Memory, file descriptors and threads must come back
//! to the baseline taken after a warm-up round.
//!
//! The run owns its process (a child, see `child.rs`): other tests of this
//! binary run in parallel threads and would move the numbers.

use std::time::Instant;

use super::harness::{Case, check, check_load};
use super::{abi, child, contract, cpu, files, loading, memory, network, traps};

const CHILD: &str = "hostile::repetitions::child_repeats_every_case";

/// Repetitions of each case before the baseline is taken: enough to fill
/// the allocator's free lists, tokio's blocking pool and wasmtime's caches.
const WARM_UP: usize = 5;

/// How far the numbers may sit above the baseline afterwards, and why.
///
/// - Threads: none. The child's blocking pool lets idle threads go after
///   [`child::IDLE_THREAD`], so the count comes back exactly.
/// - File descriptors: none may stay open; the allowance covers a socket
///   of a test HTTP server still being closed.
/// - Resident memory: glibc keeps freed memory in its per-thread arenas
///   and raises its mmap threshold after large frees (up to 32MiB), so the
///   heap settles some tens of MiB above a baseline taken after only a few
///   rounds (about 20MiB in practice). A leak of 1KiB per call over the
///   ~69,000 hostile calls of the default run would be 67MiB.
const EXTRA_THREADS: usize = 0;
const EXTRA_FDS: usize = 4;
const EXTRA_RSS_KIB: u64 = 48 << 10;

#[test]
fn every_case_repeated_returns_to_its_resource_baseline() {
    let output = child::run(CHILD);
    child::assert_passed(CHILD, &output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|line| line.starts_with("hostile:")) {
        eprintln!("{line}");
    }
}

#[test]
#[ignore = "runs in a child process, started by `every_case_repeated_returns_to_its_resource_baseline`"]
fn child_repeats_every_case() {
    if !child::in_child() {
        return;
    }
    let sandbox = files::Sandbox::new();
    let cases: Vec<Case> = [
        cpu::cases(),
        memory::cases(),
        traps::cases(),
        abi::cases(),
        contract::cases(),
        network::cases(),
        files::cases(&sandbox),
    ]
    .concat();
    let loads = loading::cases();
    child::runtime().block_on(async {
        for case in &cases {
            check(case, WARM_UP).await;
        }
        for case in &loads {
            check_load(case, WARM_UP);
        }
        let baseline = Usage::settled().await;
        eprintln!("hostile: baseline after warm-up: {baseline}");

        let started = Instant::now();
        let mut calls = 0;
        for case in &cases {
            let seen = check(case, case.cost.repetitions()).await;
            calls += seen.repetitions;
            eprintln!(
                "hostile: {:>6} x {:<70} slowest call {:>9.3?}, mean repetition {:>9.3?}, bystander calls {}",
                seen.repetitions,
                case.name,
                seen.slowest,
                seen.total / seen.repetitions.max(1) as u32,
                seen.bystander_calls,
            );
        }
        for case in &loads {
            let seen = check_load(case, case.cost.repetitions());
            calls += seen.repetitions;
            eprintln!(
                "hostile: {:>6} x load {:<65} slowest {:>9.3?}",
                seen.repetitions, case.name, seen.slowest,
            );
        }
        let after = Usage::settled().await;
        eprintln!(
            "hostile: {} cases, {calls} hostile calls and loads in {:.1?}",
            cases.len() + loads.len(),
            started.elapsed()
        );
        eprintln!("hostile: after the repetitions:  {after}");
        after.assert_near(&baseline);
    });
}

/// What the process holds: resident memory, open files, threads.
#[derive(Debug, Clone, Copy)]
struct Usage {
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

impl Usage {
    /// Reads the numbers once sockets and idle threads have had a moment to
    /// wind down.
    async fn settled() -> Self {
        // Idle blocking threads leave: this runtime's after `IDLE_THREAD`,
        // polyplug's slow lane's after a second.
        tokio::time::sleep((child::IDLE_THREAD * 5).max(std::time::Duration::from_secs(2))).await;
        Self::now()
    }

    fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no `{name}` in /proc/self/status"))
        };
        // `read_dir` holds one descriptor of its own while it counts.
        let fds = std::fs::read_dir("/proc/self/fd")
            .expect("Linux /proc")
            .count()
            - 1;
        Self {
            rss_kib: field("VmRSS:"),
            fds,
            threads: field("Threads:") as usize,
        }
    }

    fn assert_near(&self, baseline: &Self) {
        assert!(
            self.threads <= baseline.threads + EXTRA_THREADS,
            "threads grew from {} to {}",
            baseline.threads,
            self.threads
        );
        assert!(
            self.fds <= baseline.fds + EXTRA_FDS,
            "open file descriptors grew from {} to {}",
            baseline.fds,
            self.fds
        );
        assert!(
            self.rss_kib <= baseline.rss_kib + EXTRA_RSS_KIB,
            "resident memory grew from {} KiB to {} KiB",
            baseline.rss_kib,
            self.rss_kib
        );
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB, {} open fds, {} threads",
            self.rss_kib, self.fds, self.threads
        )
    }
}
