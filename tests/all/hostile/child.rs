//! One test of this binary, run alone in a child process: for checks that
//! must own the whole process (a resource baseline, which tests running in
//! parallel threads would disturb) or that may kill it (a crash finding).
//!
//! A child test is `#[ignore]`d and returns at once unless [`in_child`], so
//! `cargo test -- --ignored` never runs one in the parent by accident.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

const CHILD_ENV: &str = "POLYPLUG_HOSTILE_CHILD";

/// Whether this process was started by [`run`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs the test at `path` (e.g. `hostile::findings::crash::...`) alone in
/// a child process and waits for it.
pub fn run(path: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    Command::new(exe)
        .args([
            path,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        // Error backtraces make every failing Extism call several times
        // slower (see `just bench`); panics keep theirs.
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("the test binary starts")
}

/// Panics unless the child ran its one test and passed; the message says
/// how it ended and ends with its output.
pub fn assert_passed(path: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.contains("1 passed") {
        return;
    }
    let how = match output.status.signal() {
        Some(signal) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        None if output.status.success() => "did not run (is the path right?)".to_string(),
        None => format!("failed ({})", output.status),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let start = stderr.len().saturating_sub(4000);
    let start = (start..stderr.len())
        .find(|i| stderr.is_char_boundary(*i))
        .unwrap_or(0);
    panic!(
        "child `{path}` {how}\n--- stdout ---\n{stdout}\n--- stderr (end) ---\n{}",
        &stderr[start..]
    );
}

/// How long an idle thread of the child's blocking pool (where every call
/// runs) lives; tokio's default of 10s would keep a burst's extra threads
/// around at the end of a run.
pub const IDLE_THREAD: std::time::Duration = std::time::Duration::from_millis(100);

/// Builds the runtime a child test runs its async part on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_keep_alive(IDLE_THREAD)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => "see `kill -l`",
    }
}
