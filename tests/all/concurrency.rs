//! Calls of one plugin running at the same time: bounded by `instances`,
//! and isolated from each other's limits.

use std::sync::Arc;
use std::time::Duration;

use polyplug::CallError;

use crate::support::{host_with, wat_plugin};

/// `spin` never ends. `work` busy-waits on the monotonic clock until 1.5s
/// of wall time have passed (so CPU load cannot stretch or shrink it), then
/// writes `0`; `quick` writes `0` at once. Needs WASI for the clock.
const SPIN_AND_WORK: &str = r#"(module
    (import "wasi_snapshot_preview1" "clock_time_get"
      (func $clock (param i32 i64 i32) (result i32)))
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
    (memory (export "memory") 1)
    (func $now (result i64)
      (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))
      (i64.load (i32.const 0)))
    (func $write_zero
      (local $p i64)
      (local.set $p (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $p) (i32.const 48))
      (call $output_set (local.get $p) (i64.const 1)))
    (func (export "spin") (result i32) (loop (br 0)) (i32.const 0))
    (func (export "work") (result i32)
      (local $until i64)
      (local.set $until (i64.add (call $now) (i64.const 1500000000)))
      (loop $wait (br_if $wait (i64.lt_u (call $now) (local.get $until))))
      (call $write_zero)
      (i32.const 0))
    (func (export "quick") (result i32) (call $write_zero) (i32.const 0)))"#;

fn spin_and_work() -> polyplug::PluginConfig {
    let mut plugin = wat_plugin(SPIN_AND_WORK);
    plugin.wasi = true;
    plugin.limits.fuel = u64::MAX / 2;
    plugin
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
    let worked = host.call_json("shared", "work", "{}").await;

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
