//! Plugins change while serving: `Host::replace` stages a new generation,
//! then swaps it in for new calls; calls in flight finish on the one they
//! started on; a version that fails to load changes nothing.

use std::time::Duration;

use polyplug::{CallError, LoadError, PluginConfig, WasmSource};

use crate::support::{clock_plugin, host_with, module_with_output, wat_plugin};

/// A version whose `answer` writes `text` at once.
fn answering(text: &str) -> PluginConfig {
    wat_plugin(&module_with_output("answer", text.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_plugin_answers_new_calls_with_the_new_version() {
    let host = host_with("p", answering("1"));
    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"1");
    let sha_before = host.plugins().next().unwrap().sha256;

    host.replace("p", answering("2")).unwrap();

    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"2");
    assert_ne!(host.plugins().next().unwrap().sha256, sha_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_finishes_on_the_generation_it_started_on() {
    // v1's `wait` takes 300 ms of wall time, then writes `0`; v2 has no
    // `wait` at all, so only v1 can answer it.
    let mut v1 = clock_plugin(Duration::from_millis(300));
    v1.limits.timeout = Duration::from_secs(5);
    let host = host_with("p", v1);
    let in_flight = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("p", "wait", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let replacing = host.clone();
    tokio::task::spawn_blocking(move || replacing.replace("p", answering("2")))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"2");
    let unknown = host.call_json("p", "wait", "{}").await;
    assert!(
        matches!(unknown, Err(CallError::UnknownFunction { .. })),
        "new calls reach the new version only: {unknown:?}"
    );
    assert_eq!(
        in_flight
            .await
            .unwrap()
            .expect("the old version's call finished"),
        b"0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_does_not_load_leaves_the_current_one_serving() {
    let host = host_with("p", answering("1"));
    let garbage = PluginConfig::new(WasmSource::Bytes(b"\0asm not a module".as_slice().into()));
    let err = host.replace("p", garbage).unwrap_err();
    assert!(matches!(err, LoadError::InvalidModule { .. }), "{err}");

    let unknown_import = wat_plugin(
        r#"(module (import "extism:host/env" "spawn_shell" (func)) (func (export "answer") (result i32) (i32.const 0)))"#,
    );
    let err = host.replace("p", unknown_import).unwrap_err();
    assert!(matches!(err, LoadError::Instantiate { .. }), "{err}");

    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_plugin_not_loaded_yet_adds_it() {
    let host = host_with("p", answering("1"));
    host.replace("q", answering("2")).unwrap();
    assert_eq!(host.call_json("q", "answer", "{}").await.unwrap(), b"2");
    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"1");
}
