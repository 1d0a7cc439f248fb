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
    // The slot is free again, with a fresh instance, once the slow lane
    // (nice 19) has dropped the spinner's: at once on an idle CPU, later on
    // one busy with other tests.
    let started = std::time::Instant::now();
    loop {
        match host.call_json("single", "quick", "{}").await {
            Ok(out) => break assert_eq!(out, b"0"),
            Err(CallError::Busy { .. }) if started.elapsed() < Duration::from_secs(30) => {}
            Err(err) => panic!("the freed slot must serve: {err:?}"),
        }
    }
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

/// Head-of-line blocking: while one plugin's calls run to their 2 s timeout
/// on every one of its instances, another plugin's quick calls are answered
/// as fast as when it was alone (p99 within 2x, plus 10 ms of slack for a
/// 2-core machine running other tests), and none waits behind a long call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_timing_out_on_all_its_instances_does_not_hold_up_another() {
    let mut hog = clock_plugin(Duration::from_millis(1));
    hog.limits.instances = 2;
    hog.limits.timeout = Duration::from_secs(2);
    let mut quick = clock_plugin(Duration::from_millis(1));
    quick.limits.instances = 2;
    let mut config = crate::support::config_with("hog", hog);
    config.plugins.insert("quick".into(), quick);
    let host = polyplug::Host::new(config).unwrap();

    async fn latencies(host: &polyplug::Host) -> Vec<Duration> {
        let mut taken = Vec::new();
        for _ in 0..400 {
            let started = std::time::Instant::now();
            host.call_json("quick", "quick", "{}").await.unwrap();
            taken.push(started.elapsed());
        }
        taken.sort();
        taken
    }
    let p99 = |taken: &[Duration]| taken[taken.len() * 99 / 100];

    let idle = latencies(&host).await;
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move { host.call_json("hog", "spin", "{}").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let busy = host
        .plugins()
        .find(|p| p.name == "hog")
        .unwrap()
        .instances_busy;
    assert_eq!(busy, 2, "both hog instances run a call");
    let loaded = latencies(&host).await;
    for hog in hogs {
        let result = hog.await.unwrap();
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "{result:?}"
        );
    }
    let worst = *loaded.last().unwrap();
    assert!(
        worst < Duration::from_secs(1),
        "a quick call waited {worst:?} beside the hog"
    );
    assert!(
        p99(&loaded) <= 2 * p99(&idle) + Duration::from_millis(10),
        "p99 {:?} beside the hog, {:?} alone",
        p99(&loaded),
        p99(&idle)
    );
}
