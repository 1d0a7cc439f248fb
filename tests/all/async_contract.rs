//! The async contract of `Host::call_json`, as an embedder sees it on a
//! multi-threaded and on a current-thread runtime: a caller's own timeout
//! fires at its deadline, not when the plugin returns; dropping the future
//! cancels the call and frees its instance; a call that runs long never
//! stalls the other tasks of the thread that started it.

use std::time::{Duration, Instant};

use polyplug::{CallError, Host};

use crate::support::{clock_plugin, host_with};

/// How late a deadline may be observed on a busy 2-core machine: the call
/// yields within one time slice and an epoch tick (about 2 ms), plus
/// scheduling.
const SLACK: Duration = Duration::from_millis(150);

/// One instance, so a call that kept its instance would make the next one
/// `Busy`; a long timeout, so only the caller's own deadline can end it.
/// The next call waits up to 2 s for the instance: the cancelled call lets
/// go of it as soon as the slow lane runs, far sooner than its 30 s.
fn host() -> Host {
    let mut plugin = clock_plugin(Duration::from_millis(100));
    plugin.limits.instances = 1;
    plugin.limits.timeout = Duration::from_secs(30);
    plugin.limits.queue_timeout = Duration::from_secs(2);
    host_with("clock", plugin)
}

fn runtimes() -> Vec<(&'static str, tokio::runtime::Runtime)> {
    vec![
        (
            "multi-threaded",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

#[test]
fn a_callers_timeout_fires_at_its_deadline_and_frees_the_instance() {
    for (flavor, runtime) in runtimes() {
        let host = host();
        runtime.block_on(async {
            let started = Instant::now();
            let outcome = tokio::time::timeout(
                Duration::from_millis(200),
                host.call_json("clock", "spin", "{}"),
            )
            .await;
            let took = started.elapsed();
            assert!(outcome.is_err(), "{flavor}: the spin returned {outcome:?}");
            assert!(
                took < Duration::from_millis(200) + SLACK,
                "{flavor}: the caller's 200ms timeout fired after {took:?}"
            );
            let next = host.call_json("clock", "quick", "{}").await;
            assert_eq!(
                next.as_deref().ok(),
                Some(&b"0"[..]),
                "{flavor}: the cancelled call kept its instance: {next:?}"
            );
        });
    }
}

#[test]
fn dropping_a_call_cancels_it_and_frees_the_instance() {
    for (flavor, runtime) in runtimes() {
        let host = host();
        runtime.block_on(async {
            tokio::select! {
                outcome = host.call_json("clock", "spin", "{}") => {
                    panic!("{flavor}: the spin returned {outcome:?}")
                }
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let next = host.call_json("clock", "quick", "{}").await;
            assert!(
                next.is_ok(),
                "{flavor}: the dropped call kept its instance: {next:?}"
            );
        });
    }
}

#[test]
fn a_long_call_does_not_stall_other_tasks_on_its_thread() {
    for (flavor, runtime) in runtimes() {
        let host = host();
        runtime.block_on(async {
            // A task that wants to run every 5ms, on the same runtime (for
            // the current-thread one, on the very thread the call starts on).
            let ticker = tokio::spawn(async {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                for _ in 0..60 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    worst = worst.max(last.elapsed());
                    last = Instant::now();
                }
                worst
            });
            tokio::task::yield_now().await;
            let outcome = tokio::time::timeout(
                Duration::from_millis(400),
                host.call_json("clock", "spin", "{}"),
            )
            .await;
            assert!(outcome.is_err(), "{flavor}: {outcome:?}");
            let worst = ticker.await.unwrap();
            assert!(
                worst < Duration::from_millis(5) + SLACK,
                "{flavor}: another task waited {worst:?} while the call ran"
            );
        });
    }
}

#[test]
fn the_plugins_timeout_ends_a_call_that_sleeps_in_wasi_and_frees_its_instance() {
    for (flavor, runtime) in runtimes() {
        let mut plugin = crate::support::sleep_plugin(Duration::from_secs(5));
        plugin.limits.instances = 1;
        plugin.limits.timeout = Duration::from_millis(100);
        plugin.limits.queue_timeout = Duration::from_secs(2);
        let host = host_with("sleeper", plugin);
        runtime.block_on(async {
            let started = Instant::now();
            let slept = host.call_json("sleeper", "sleep", "{}").await;
            let took = started.elapsed();
            assert!(
                matches!(slept, Err(CallError::Timeout { .. })),
                "{flavor}: {slept:?}"
            );
            assert!(
                took < Duration::from_millis(100) + SLACK,
                "{flavor}: the 100ms timeout fired after {took:?}"
            );
            let next = host.call_json("sleeper", "quick", "{}").await;
            assert!(
                next.is_ok(),
                "{flavor}: the sleeping call kept its instance: {next:?}"
            );
        });
    }
}
