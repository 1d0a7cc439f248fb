//! Calls of one plugin running at the same time: bounded by `instances`,
//! and isolated from each other's limits.

use std::sync::Arc;
use std::time::Duration;

use polyplug::CallError;

use crate::support::{clock_plugin, host_with};

/// A `clock_plugin` whose `wait` takes 1.5s of wall time.
fn spin_and_work() -> polyplug::PluginConfig {
    clock_plugin(Duration::from_millis(1500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timeout_in_one_call_does_not_stop_another_running_on_the_same_plugin() {
    let mut plugin = spin_and_work();
    plugin.limits.timeout = Duration::from_secs(2);
    plugin.limits.instances = 2;
    let host = Arc::new(host_with("shared", plugin));

    // t=0: the spinner starts; its timeout fires at t=2s. t=1s: the worker
    // starts and runs until t=2.5s, well inside its own timeout (t=3s).
    let spinner = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("shared", "spin", "{}").await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let worked = host.call_json("shared", "wait", "{}").await;

    let spun = spinner.await.unwrap();
    assert!(matches!(spun, Err(CallError::Timeout { .. })), "{spun:?}");
    assert_eq!(
        worked.expect("the worker must not be stopped by the spinner's timeout"),
        b"0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_beyond_the_instance_limit_wait_then_fail_as_busy() {
    let mut plugin = spin_and_work();
    plugin.limits.timeout = Duration::from_millis(600);
    plugin.limits.instances = 1;
    plugin.limits.queue_timeout = Duration::from_millis(100);
    let host = Arc::new(host_with("single", plugin));

    let spinner = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("single", "spin", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = host.call_json("single", "quick", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Busy { instances: 1, .. }),
        "{err:?}"
    );
    assert!(matches!(
        spinner.await.unwrap(),
        Err(CallError::Timeout { .. })
    ));
    // The slot is free again, with a fresh instance.
    assert_eq!(host.call_json("single", "quick", "{}").await.unwrap(), b"0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_call_runs_as_soon_as_an_instance_frees_up() {
    let mut plugin = spin_and_work();
    plugin.limits.timeout = Duration::from_millis(200);
    plugin.limits.instances = 1;
    plugin.limits.queue_timeout = Duration::from_secs(5);
    let host = Arc::new(host_with("single", plugin));
    let spinner = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("single", "spin", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(host.call_json("single", "quick", "{}").await.unwrap(), b"0");
    assert!(matches!(
        spinner.await.unwrap(),
        Err(CallError::Timeout { .. })
    ));
}
