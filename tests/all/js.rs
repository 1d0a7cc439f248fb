//! The JavaScript SDK end to end: the `polyplug-js` compiler's build errors,
//! and plugins from `tests/js/` (built by `just build-guest-js`) run through
//! the host: errors, promises, HTTP, config, vars, unicode.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use polyplug::{CallError, Host, HostPattern};
use serde_json::{Value, json};

use crate::support::{self, Route, TestServer};

fn compiler() -> PathBuf {
    let path = support::repo_root().join("sdk/js/compiler/target/release/polyplug-js");
    assert!(
        path.is_file(),
        "`{}` is missing: run `just build-guests`",
        path.display()
    );
    path
}

/// Runs `polyplug-js build tests/js/<script>`; returns whether it succeeded,
/// what it printed on stderr, and whether it wrote the output file.
fn build(script: &str) -> (bool, String, bool) {
    let output =
        std::env::temp_dir().join(format!("polyplug-js-{}-{script}.wasm", std::process::id()));
    let run = Command::new(compiler())
        .arg("build")
        .arg(support::repo_root().join("tests/js").join(script))
        .arg("-o")
        .arg(&output)
        .output()
        .expect("polyplug-js runs");
    let written = output.is_file();
    let _ = std::fs::remove_file(&output);
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
        written,
    )
}

#[test]
fn a_syntax_error_fails_the_build_naming_file_and_line() {
    let (ok, stderr, written) = build("syntax-error.bad.js");
    assert!(!ok && !written, "the build must fail: {stderr}");
    assert!(
        stderr.contains("syntax-error.bad.js:2:") && stderr.contains("SyntaxError"),
        "{stderr}"
    );
}

#[test]
fn a_host_call_at_the_top_level_fails_the_build_saying_why() {
    let (ok, stderr, written) = build("host-call-at-top-level.bad.js");
    assert!(!ok && !written, "the build must fail: {stderr}");
    assert!(
        stderr.contains("host-call-at-top-level.bad.js")
            && stderr.contains("only exists during a call"),
        "{stderr}"
    );
}

fn features() -> Host {
    features_with(|_| {})
}

fn features_with(change: impl FnOnce(&mut polyplug::PluginConfig)) -> Host {
    let mut plugin = support::js_test_plugin("features");
    change(&mut plugin);
    support::host_with("features", plugin)
}

async fn call(host: &Host, function: &str, input: Value) -> Result<Value, CallError> {
    host.call("features", function, &input).await
}

/// The contract code and message of a plugin error.
fn plugin_error(result: Result<Value, CallError>) -> (String, String) {
    match result {
        Err(CallError::Plugin { code, message, .. }) => (code, message),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thrown_error_reaches_the_host_with_its_message_intact() {
    let host = features();
    let (code, message) = plugin_error(call(&host, "throws", json!({})).await);
    assert_eq!(code, "internal_error");
    assert_eq!(message, "the sky fell: ünïcödé 🙃");

    let (code, message) = plugin_error(call(&host, "throws_plugin_error", json!({})).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("out_of_stock", "sku A-1 has none left")
    );

    // The instance that threw keeps serving.
    let out = call(&host, "unicode", json!({"text": "ok"})).await.unwrap();
    assert_eq!(out["text"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_promise_is_a_plugin_error() {
    let host = features();
    let (code, message) = plugin_error(call(&host, "rejects", json!({})).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("rejected", "the promise was rejected")
    );

    let (code, message) = plugin_error(call(&host, "async_throws", json!({})).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("internal_error", "thrown after an await")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_export_runs_to_completion_within_the_call() {
    let host = features();
    let out = call(
        &host,
        "async_sum",
        json!({"values": [1, 2, 3, 4_000_000_000u64]}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"total": 4000000006u64}));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_reaches_allowed_hosts_only() {
    let server = TestServer::start(BTreeMap::from([(
        "/hello".to_string(),
        Route::json(200, "héllo from the test server"),
    )]));
    let input = json!({"url": format!("{}/hello", server.base)});

    let allowed = features_with(|plugin| {
        plugin.allowed_hosts = vec![HostPattern::parse(server.authority()).unwrap()];
    });
    let out = call(&allowed, "fetch_text", input.clone()).await.unwrap();
    assert_eq!(
        out,
        json!({"status": 200, "text": "héllo from the test server"})
    );

    let denied = features_with(|plugin| {
        plugin.allowed_hosts = vec![HostPattern::parse("example.com").unwrap()];
    });
    match call(&denied, "fetch_text", input).await {
        Err(CallError::HostNotAllowed { host, .. }) => assert_eq!(host, "127.0.0.1"),
        other => panic!("expected HostNotAllowed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_values_and_the_var_store_work() {
    let host = features_with(|plugin| {
        plugin.limits.instances = 1;
        plugin.config = BTreeMap::from([("greeting".to_string(), "grüß dich".to_string())]);
    });
    for visits in 1..=3 {
        let out = call(&host, "count_visits", json!({})).await.unwrap();
        assert_eq!(out, json!({"greeting": "grüß dich", "visits": visits}));
    }

    let unconfigured = features();
    let out = call(&unconfigured, "count_visits", json!({}))
        .await
        .unwrap();
    assert_eq!(out, json!({"greeting": "(no greeting)", "visits": 1}));
}

#[tokio::test(flavor = "multi_thread")]
async fn unicode_goes_in_and_out_as_scalar_values() {
    let host = features();
    let text = "naïve 🌍 — \u{1F469}\u{200D}\u{1F52C} ok";
    let raw = host
        .call_json(
            "features",
            "unicode",
            serde_json::to_vec(&json!({"text": text})).unwrap(),
        )
        .await
        .unwrap();
    // Canonical JSON writes non-ASCII as UTF-8, unescaped.
    let raw_text = String::from_utf8(raw.clone()).unwrap();
    assert!(
        raw_text.starts_with(&format!(r#"{{"text":"{text}","#)),
        "{raw_text}"
    );
    let out: Value = serde_json::from_slice(&raw).unwrap();
    let expected = json!({
        "text": text,
        "reversed": text.chars().rev().collect::<String>(),
        "chars": text.chars().count(),
        "bytes": text.len(),
        "round_trip": true,
    });
    assert_eq!(out, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn text_that_is_not_json_is_invalid_output() {
    let host = features();
    match call(&host, "not_json", json!({})).await {
        Err(CallError::InvalidOutput { .. }) => {}
        other => panic!("expected InvalidOutput, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commonjs_exports_work() {
    let host = support::host_with("commonjs", support::js_test_plugin("commonjs"));
    let out: Value = host
        .call("commonjs", "greet", &json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"greeting": "Hello from CommonJS, Ada!"}));
}
