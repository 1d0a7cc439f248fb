//! Each limit surfaces as its own typed error. Modules are the smallest WAT
//! that shows the behaviour; these also pin how `host/polyplug/src/failure.rs`
//! turns the host's typed stops into `CallError`s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use polyplug::{CallError, HostPattern, LoadError};
use serde_json::json;

use crate::support::{
    RUST, Route, TestServer, config_with, host_with, module_with_error, module_with_output,
    wat_plugin,
};

const SPIN: &str = r#"(module (func (export "spin") (result i32) (loop (br 0)) (i32.const 0)))"#;

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_timeout() {
    let mut plugin = wat_plugin(SPIN);
    plugin.limits.timeout = Duration::from_millis(100);
    plugin.limits.fuel = u64::MAX / 2;
    let host = host_with("spinner", plugin);
    let started = Instant::now();
    let err = host.call_json("spinner", "spin", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { limit, .. } if limit == Duration::from_millis(100)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "plugin `spinner`: function `spin` ran past its 100ms timeout"
    );
}

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel_before_a_long_timeout() {
    let mut plugin = wat_plugin(SPIN);
    plugin.limits.timeout = Duration::from_secs(30);
    plugin.limits.fuel = 1_000_000;
    let host = host_with("spinner", plugin);
    let err = host.call_json("spinner", "spin", "{}").await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::OutOfFuel {
                limit: 1_000_000,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_loop_in_start_up_code_fails_the_load_within_its_init_fuel() {
    let looping_start = r#"(module (func $start (loop (br 0))) (start $start)
                            (func (export "f") (result i32) (i32.const 0)))"#;
    let mut plugin = wat_plugin(looping_start);
    plugin.limits.init_fuel = 1_000_000;
    let config = config_with("looper", plugin);
    let err = polyplug::Host::new(config).err().expect("the load fails");
    assert!(
        matches!(err, LoadError::Instantiate { ref plugin, .. } if plugin == "looper"),
        "{err:?}"
    );
}

#[tokio::test]
async fn growing_memory_past_the_ceiling_is_a_memory_limit() {
    let grow = r#"(module (memory 1)
        (func (export "grow") (result i32)
          (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
          (i32.const 0)))"#;
    let mut plugin = wat_plugin(grow);
    plugin.limits.memory = 4 << 20;
    let host = host_with("grower", plugin);
    let err = host.call_json("grower", "grow", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::MemoryLimit { limit, .. } if limit == 4 << 20),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_is_a_trap_and_the_plugin_keeps_serving() {
    let module = r#"(module
        (func (export "crash") (result i32) unreachable)
        (func (export "fine") (result i32) (i32.const 0)))"#;
    let host = host_with("crasher", wat_plugin(module));
    let err = host.call_json("crasher", "crash", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
    // `fine` writes no output, which is not one JSON document.
    let err = host.call_json("crasher", "fine", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::InvalidOutput { .. }), "{err:?}");
}

#[tokio::test]
async fn a_contract_error_object_becomes_a_plugin_error() {
    let message = br#"{"code":"out_of_stock","message":"sku `A-1` is sold out"}"#;
    let host = host_with("shop", wat_plugin(&module_with_error("fail", message)));
    let err = host.call_json("shop", "fail", "{}").await.unwrap_err();
    match err {
        CallError::Plugin { code, message, .. } => {
            assert_eq!(code, "out_of_stock");
            assert_eq!(message, "sku `A-1` is sold out");
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_error_that_is_not_a_contract_object_is_a_trap() {
    let host = host_with(
        "broken",
        wat_plugin(&module_with_error("fail", b"something broke")),
    );
    let err = host.call_json("broken", "fail", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Trap { ref message, .. } if message == "something broke"),
        "{err:?}"
    );
}

#[tokio::test]
async fn output_must_be_one_strict_json_document() {
    for (bytes, why) in [
        (&b"not json"[..], "not JSON"),
        (b"{\"a\":1,\"a\":2}", "duplicate key"),
        (b"\"\\ud800\"", "lone surrogate"),
        (b"\"\xff\"", "not UTF-8"),
        (b"{} {}", "two documents"),
    ] {
        let host = host_with("emitter", wat_plugin(&module_with_output("emit", bytes)));
        let err = host.call_json("emitter", "emit", "{}").await.unwrap_err();
        assert!(
            matches!(err, CallError::InvalidOutput { .. }),
            "{why}: {err:?}"
        );
    }
}

#[tokio::test]
async fn output_over_the_cap_is_rejected() {
    let mut plugin = wat_plugin(&module_with_output("emit", b"\"0123456789\""));
    plugin.limits.max_output = 8;
    let host = host_with("emitter", plugin);
    let err = host.call_json("emitter", "emit", "{}").await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::OutputTooLarge {
                size: 12,
                limit: 8,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn input_is_checked_before_the_plugin_runs() {
    // The plugin would trap if it ran at all.
    let trap = r#"(module (func (export "f") (result i32) unreachable))"#;
    let mut plugin = wat_plugin(trap);
    plugin.limits.max_input = 64;
    let host = host_with("strict", plugin);
    for input in [
        &br#"{"name":"a","name":"b"}"#[..],
        b"{\"name\":\"\\udc00\"}",
        b"{\"name\":\"\xc3\"}",
        b"{\"name\":",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ] {
        let err = host.call_json("strict", "f", input).await.unwrap_err();
        assert!(
            matches!(err, CallError::InvalidInput { .. }),
            "{input:?}: {err:?}"
        );
    }
    let err = host
        .call_json("strict", "f", vec![b' '; 65])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::InputTooLarge {
                size: 65,
                limit: 64,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_plugins_and_functions_are_named() {
    let host = host_with("only", wat_plugin(SPIN));
    let err = host.call_json("other", "spin", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::UnknownPlugin { ref plugin } if plugin == "other"),
        "{err:?}"
    );
    let err = host.call_json("only", "walk", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::UnknownFunction { ref function, .. } if function == "walk"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_pinned_hash_that_does_not_match_fails_the_load() {
    let mut plugin = wat_plugin(SPIN);
    plugin.sha256 = Some("0".repeat(64));
    let config = config_with("pinned", plugin);
    let err = polyplug::Host::new(config).err().expect("the load fails");
    assert!(matches!(err, LoadError::HashMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn garbage_and_unknown_imports_fail_the_load() {
    let unknown_import = r#"(module (import "env" "launch_missiles" (func)) (func (export "f") (result i32) (i32.const 0)))"#;
    for (module, why) in [
        ("\0asm garbage", "garbage"),
        (unknown_import, "unknown import"),
    ] {
        let config = config_with("bad", wat_plugin(module));
        let err = polyplug::Host::new(config).err().expect("the load fails");
        assert!(
            matches!(
                err,
                LoadError::InvalidModule { .. } | LoadError::Instantiate { .. }
            ),
            "{why}: {err:?}"
        );
    }
}

fn fetch_server() -> TestServer {
    TestServer::start(BTreeMap::from([
        ("/data".to_string(), Route::json(200, r#"{"answer":42}"#)),
        (
            "/duplicate".to_string(),
            Route::json(200, r#"{"a":1,"a":2}"#),
        ),
    ]))
}

#[tokio::test]
async fn a_fetched_body_with_duplicate_keys_is_stopped_on_output() {
    // The guest embeds the body verbatim (contract 5.4); the host's output
    // check is what keeps the questionable JSON from the caller.
    let server = fetch_server();
    let mut plugin = RUST.plugin();
    plugin.allowed_hosts = vec![HostPattern::parse(server.authority()).unwrap()];
    let host = host_with("fetcher", plugin);
    let url = format!("{}/duplicate", server.base);
    let err = host
        .call::<_, serde_json::Value>("fetcher", "fetch_json", &json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::InvalidOutput { .. }), "{err:?}");
}

#[tokio::test]
async fn http_to_a_host_not_in_allowed_hosts_is_refused() {
    let server = fetch_server();
    let mut plugin = RUST.plugin();
    plugin.allowed_hosts = vec![HostPattern::parse("example.com").unwrap()];
    let host = host_with("fetcher", plugin);
    let url = format!("{}/data", server.base);
    let err = host
        .call::<_, serde_json::Value>("fetcher", "fetch_json", &json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::HostNotAllowed { ref host, .. } if host == "127.0.0.1"),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_to_an_allowed_host_gets_the_data() {
    let server = fetch_server();
    let mut plugin = RUST.plugin();
    plugin.allowed_hosts = vec![HostPattern::parse(server.authority()).unwrap()];
    let host = host_with("fetcher", plugin);
    let url = format!("{}/data", server.base);
    let out: serde_json::Value = host
        .call("fetcher", "fetch_json", &json!({ "url": url }))
        .await
        .unwrap();
    assert_eq!(out, json!({"status": 200, "json": {"answer": 42}}));
}

#[tokio::test]
async fn a_plugin_with_no_allowed_hosts_reaches_nothing() {
    let server = fetch_server();
    let host = host_with("fetcher", RUST.plugin());
    let url = format!("{}/data", server.base);
    let err = host
        .call::<_, serde_json::Value>("fetcher", "fetch_json", &json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::HostNotAllowed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_wasi_plugin_sees_none_of_the_hosts_environment_variables() {
    // Writes the number of environment variables WASI reports (capped at 9).
    let module = r#"(module
        (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
        (memory (export "memory") 1)
        (func (export "count_env") (result i32)
          (local $p i64) (local $n i32)
          (drop (call $sizes (i32.const 0) (i32.const 4)))
          (local.set $n (i32.load (i32.const 0)))
          (local.set $p (call $alloc (i64.const 1)))
          (call $store_u8 (local.get $p)
            (i32.add (i32.const 48) (select (local.get $n) (i32.const 9) (i32.lt_u (local.get $n) (i32.const 10)))))
          (call $output_set (local.get $p) (i64.const 1))
          (i32.const 0)))"#;
    assert!(
        std::env::vars().count() > 0,
        "the test process has environment variables"
    );
    let mut plugin = wat_plugin(module);
    plugin.wasi = true;
    let host = host_with("snoop", plugin);
    let out = host.call_json("snoop", "count_env", "{}").await.unwrap();
    assert_eq!(out, b"0");
}

/// Every export bumps a global; `count` writes it as one digit, so the
/// output tells whether the previous call ran on the same instance.
/// `reject` returns a contract error by itself; `crash` traps.
const COUNTER: &str = r#"(module
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
    (import "extism:host/env" "error_set" (func $error_set (param i64)))
    (memory 1)
    (data (i32.const 0) "{\22code\22:\22invalid_input\22,\22message\22:\22no\22}")
    (global $calls (mut i32) (i32.const 0))
    (func $bump (global.set $calls (i32.add (global.get $calls) (i32.const 1))))
    (func (export "count") (result i32)
      (local $p i64)
      (call $bump)
      (local.set $p (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (global.get $calls) (i32.const 10))))
      (call $output_set (local.get $p) (i64.const 1))
      (i32.const 0))
    (func (export "reject") (result i32)
      (local $p i64) (local $i i32)
      (call $bump)
      (local.set $p (call $alloc (i64.const 39)))
      (loop $copy
        (call $store_u8 (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $copy (i32.lt_u (local.get $i) (i32.const 39))))
      (call $error_set (local.get $p))
      (i32.const 1))
    (func (export "crash") (result i32) (call $bump) unreachable))"#;

#[tokio::test]
async fn a_trapped_instance_is_replaced_by_a_fresh_one() {
    let host = host_with("counter", wat_plugin(COUNTER));
    assert_eq!(
        host.call_json("counter", "count", "{}").await.unwrap(),
        b"1"
    );
    assert_eq!(
        host.call_json("counter", "count", "{}").await.unwrap(),
        b"2"
    );
    let err = host.call_json("counter", "crash", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
    // A fresh instance: the count starts over.
    assert_eq!(
        host.call_json("counter", "count", "{}").await.unwrap(),
        b"1"
    );
}

#[tokio::test]
async fn an_instance_that_returned_a_contract_error_keeps_serving() {
    let host = host_with("counter", wat_plugin(COUNTER));
    assert_eq!(
        host.call_json("counter", "count", "{}").await.unwrap(),
        b"1"
    );
    let err = host.call_json("counter", "reject", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin { ref code, .. } if code == "invalid_input"),
        "{err:?}"
    );
    // The same instance: the rejected call counted too.
    assert_eq!(
        host.call_json("counter", "count", "{}").await.unwrap(),
        b"3"
    );
}
