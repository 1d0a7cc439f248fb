//! Where a call runs: on the caller's thread while it is quick, on the
//! slow lane once it is not.
//!
//! A call starts inline, polled by the task that awaits it, on that task's
//! own thread: no hand-off, which is what most calls (microseconds) need.
//! wasm runs on a fiber that the epoch callback (`runtime/mod.rs`) makes
//! yield once the call has run for [`SLICE`](crate::runtime::SLICE); a call
//! that yields, or that waits on I/O (an HTTP request, a WASI sleep), is
//! handed to the slow lane, a small runtime of its own, and the caller
//! awaits it there. So a call that runs long holds the caller's thread for
//! at most one slice and a tick, and never stalls the other tasks on it.
//!
//! The slow lane has as many threads as there are CPUs, shared by every
//! host in the process, and they run at the lowest priority (nice 19):
//! while quick calls keep the CPUs busy, calls that run long get what is
//! left, so one plugin's long calls cannot hold up another plugin's quick
//! ones. Their callers are still answered at the deadline (below).
//!
//! A call that is handed over is awaited at most until its deadline plus
//! [`GRACE`], kept by a timer thread at normal priority: the epoch stops
//! wasm at the deadline, but a call asleep in WASI, or blocked in a host
//! function, is simply dropped then, which drops its instance and frees its
//! place in the pool (as soon as the slow lane gets to run).

use std::future::Future;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing::instrument::WithSubscriber;

/// How long past its deadline a handed-over call is waited for.
pub(crate) const GRACE: Duration = Duration::from_millis(20);

/// Why a handed-over call gave no result.
pub(crate) enum Abandoned {
    /// Its deadline plus [`GRACE`] passed.
    Deadline,
}

/// Runs `call` inline until it first yields, then on the slow lane until
/// it finishes or `deadline` (plus [`GRACE`]) passes.
pub(crate) async fn run<F>(call: F, deadline: Instant) -> Result<F::Output, Abandoned>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut call = Box::pin(call);
    let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    if let Poll::Ready(output) = first {
        return Ok(output);
    }
    // The caller's span and subscriber go along, so a plugin's log lines
    // land where they would have inline.
    let mut task = slow_lane().spawn(call.in_current_span().with_current_subscriber());
    let _abort = AbortOnDrop(task.abort_handle());
    // The deadline is kept by a timer at normal priority, so the caller is
    // answered on time even when the slow lane gets no CPU, and the
    // caller's runtime needs no timer of its own.
    // (The sleep is made inside the task: made here, it would take the
    // caller's timer.)
    let until = deadline + GRACE;
    let mut timer = clock().spawn(async move { tokio::time::sleep_until(until.into()).await });
    let _stop_timer = AbortOnDrop(timer.abort_handle());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(joined) = std::pin::Pin::new(&mut task).poll(cx) {
            return Poll::Ready(match joined {
                Ok(output) => Ok(output),
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            });
        }
        match std::pin::Pin::new(&mut timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(Abandoned::Deadline)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A one-thread runtime at normal priority that keeps the deadlines of
/// calls on the slow lane.
fn clock() -> &'static tokio::runtime::Runtime {
    static CLOCK: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    CLOCK.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("polyplug-deadlines")
            .enable_time()
            .build()
            .expect("starting polyplug's deadline runtime")
    })
}

/// Starts the slow lane and its deadline clock, if they are not running:
/// a host starts them when it loads, so that its threads are there from
/// the start rather than appearing at the first long call.
pub(crate) fn start() {
    slow_lane();
    clock();
}

/// Cancels a task (a call on the slow lane, a Redis operation) when its
/// caller stops waiting for it.
pub(crate) struct AbortOnDrop(pub tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The nice value of the slow lane's threads: the lowest, so that calls
/// that run long get the CPU the quick ones leave (docs/benchmarks.md has
/// the head-of-line rows at nice 0, 10 and 19).
const SLOW_LANE_NICE: i32 = 19;

/// How long an idle blocking thread of the slow lane is kept.
pub(crate) const SLOW_LANE_IDLE_THREAD: Duration = Duration::from_secs(1);

fn slow_lane() -> &'static tokio::runtime::Runtime {
    static LANE: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    LANE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(1, usize::from))
            .thread_name("polyplug-slow")
            // Blocking threads (HTTP requests of calls on the slow lane)
            // leave after a second idle rather than tokio's default ten.
            .thread_keep_alive(SLOW_LANE_IDLE_THREAD)
            .on_thread_start(move || {
                // On Linux a nice value belongs to the thread. Where it
                // cannot be set, calls still run, at normal priority.
                if let Err(err) = rustix::process::setpriority_process(None, SLOW_LANE_NICE) {
                    tracing::debug!(%err, "the slow lane keeps normal priority");
                }
            })
            .enable_time()
            .build()
            .expect("starting polyplug's slow-lane runtime")
    })
}
