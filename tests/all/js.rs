//! The JavaScript SDK end to end: the `polyplug-js` compiler's build errors,
//! and plugins from `tests/js/` (built by `just build-guest-js`) run through
//! the host: errors, promises, HTTP, config, vars, unicode.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use polyplug::{CallError, Host, HostConfig, HostPattern, KvGrant};
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
    let (ok, stderr, written) = build_bytes(script, "");
    (ok, stderr, written.is_some())
}

/// As `build`, with the module it wrote; `tag` keeps concurrent builds of one
/// script apart.
fn build_bytes(script: &str, tag: &str) -> (bool, String, Option<Vec<u8>>) {
    let output = std::env::temp_dir().join(format!(
        "polyplug-js-{}-{script}{tag}.wasm",
        std::process::id()
    ));
    let run = Command::new(compiler())
        .arg("build")
        .arg(support::repo_root().join("tests/js").join(script))
        .arg("-o")
        .arg(&output)
        .output()
        .expect("polyplug-js runs");
    let written = std::fs::read(&output).ok();
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

/// A pre-initialised build snapshots the evaluated script, the clock and
/// random draws of its top level included: those come from fixed sources, so
/// anyone can rebuild a plugin from its script and check the bytes (of a
/// signed version, say).
#[test]
fn a_script_builds_to_the_same_bytes_every_time() {
    let (ok, stderr, first) = build_bytes("features.js", "-1");
    assert!(ok, "{stderr}");
    let (ok, stderr, second) = build_bytes("features.js", "-2");
    assert!(ok, "{stderr}");
    assert!(
        first == second,
        "two builds of features.js differ: the snapshot took something from the build machine"
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

/// QuickJS seeds `Math.random` from the clock when it makes a context, which
/// for a pre-initialised plugin happens at build time: every instance of the
/// build, on every host, would draw the same numbers. The SDK draws from the
/// host's random source during the call instead.
#[tokio::test(flavor = "multi_thread")]
async fn math_random_differs_between_instances_of_one_build() {
    let first = call(&features(), "random", json!({})).await.unwrap();
    let second = call(&features(), "random", json!({})).await.unwrap();
    assert_ne!(first, second, "two instances drew the same numbers");
    for draw in first["draws"].as_array().unwrap() {
        let draw = draw.as_f64().unwrap();
        assert!((0.0..1.0).contains(&draw), "{draw} is outside [0, 1)");
    }
}

/// The top level runs at build time: it sees a fixed clock and fixed random
/// draws (the reason a build is reproducible), and the plugin keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn the_top_level_sees_a_fixed_clock_and_fixed_draws() {
    let seen = call(&features(), "build_time", json!({})).await.unwrap();
    assert_eq!(seen["now"], json!(0), "Date.now() at the top level: {seen}");
    let again = call(&features(), "build_time", json!({})).await.unwrap();
    assert_eq!(seen, again);
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

/// `Kv` (`tests/js/kv.js`) in a namespace shared with the WAT proxy of
/// `kv.rs`, which shows the exact text the store holds.
fn kv_host(dir: &std::path::Path) -> Host {
    let shared = || Some(KvGrant::shared("default", "js"));
    let mut js = support::js_test_plugin("kv");
    js.kv = shared();
    let mut config = HostConfig::new([
        ("js".to_string(), js),
        ("proxy".to_string(), crate::kv::proxy(shared())),
    ]);
    config.stores = BTreeMap::from([("default".to_string(), crate::kv_languages::store(dir))]);
    Host::new(config).unwrap()
}

/// What the proxy reads for `key`: the stored text, exactly.
async fn stored(host: &Host, key: &str) -> String {
    let get = json!({"op": "get", "key": key}).to_string();
    String::from_utf8(host.call_json("proxy", "kv", get).await.unwrap()).unwrap()
}

async fn kv_call(host: &Host, function: &str, input: &str) -> Result<String, CallError> {
    let out = host.call_json("js", function, input.to_string()).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_values_round_trip_exactly_bigints_and_verbatim_text_included() {
    let dir = tempfile::tempdir().unwrap();
    let host = kv_host(dir.path());
    let value = r#"{"big":12345678901234567890,"neg":-9007199254740993,"n":[1,"é\u0000",null,true],"o":{}}"#;
    let set = format!(r#"{{"key":"doc","value":{value}}}"#);
    let set = kv_call(&host, "set", &set).await.unwrap();
    let version: Value = serde_json::from_str(&set).unwrap();
    let version = version["version"].as_u64().unwrap();
    assert_eq!(
        stored(&host, "doc").await,
        format!(r#"{{"ok":{{"value":{value},"version":{version}}}}}"#),
        "BigInts reach the store as their digits"
    );
    let got = kv_call(&host, "get", r#"{"key":"doc"}"#).await.unwrap();
    assert_eq!(got, format!(r#"{{"value":{value},"version":{version}}}"#));

    kv_call(&host, "set_verbatim", r#"{"key":"price","text":" 2.50 "}"#)
        .await
        .unwrap();
    assert!(
        stored(&host, "price")
            .await
            .starts_with(r#"{"ok":{"value":2.50,"#)
    );

    kv_call(&host, "set", r#"{"key":"nothing","value":null}"#)
        .await
        .unwrap();
    let got = kv_call(&host, "get", r#"{"key":"nothing"}"#).await.unwrap();
    assert!(got.starts_with(r#"{"value":null,"version":"#), "{got}");
    let got = kv_call(&host, "get", r#"{"key":"missing"}"#).await.unwrap();
    assert_eq!(got, "null");
    let err = kv_call(&host, "set_undefined", r#"{"key":"k"}"#).await;
    let (code, message) = plugin_error(err.map(|_| Value::Null));
    assert_eq!(code, "internal_error");
    assert!(message.contains("undefined has no JSON form"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_lists_pages_swaps_increments_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let host = kv_host(dir.path());
    for key in ["b", "a", "c", "other"] {
        let set = format!(r#"{{"key":"{key}","value":0}}"#);
        kv_call(&host, "set", &set).await.unwrap();
    }
    let page: Value =
        serde_json::from_str(&kv_call(&host, "list", r#"{"limit":2}"#).await.unwrap()).unwrap();
    let keys = page_keys(&page);
    assert_eq!(keys, [json!("a"), json!("b")]);
    let next = json!({"limit": 2, "cursor": page["cursor"]}).to_string();
    let page: Value = serde_json::from_str(&kv_call(&host, "list", &next).await.unwrap()).unwrap();
    let keys = page_keys(&page);
    assert_eq!(keys, [json!("c"), json!("other")]);
    let prefixed = kv_call(&host, "list", r#"{"prefix":"o"}"#).await.unwrap();
    assert!(
        prefixed.starts_with(r#"{"items":[{"key":"other","version":"#)
            && !prefixed.contains("cursor"),
        "{prefixed}"
    );

    let stale = kv_call(&host, "cas", r#"{"key":"a","version":0,"value":1}"#)
        .await
        .unwrap();
    let stale: Value = serde_json::from_str(&stale).unwrap();
    assert_eq!(stale["swapped"], false);
    let current = stale["version"].as_u64().unwrap();
    assert!(current > 0);
    let fresh = json!({"key": "a", "version": current, "value": 1}).to_string();
    let fresh: Value = serde_json::from_str(&kv_call(&host, "cas", &fresh).await.unwrap()).unwrap();
    assert_eq!(fresh["swapped"], true);
    assert!(fresh["version"].as_u64().unwrap() > current);

    let out = kv_call(&host, "increment", r#"{"key":"n","by":-3}"#)
        .await
        .unwrap();
    assert!(out.starts_with(r#"{"value":-3,"version":"#), "{out}");
    let out = kv_call(&host, "increment", r#"{"key":"n","by":9007199254740994}"#).await;
    assert!(
        matches!(&out, Err(CallError::Plugin { code, .. }) if code == "kv_overflow"),
        "a BigInt `by` reaches the store: {out:?}"
    );
    let out = kv_call(&host, "get_count", r#"{"key":"n"}"#).await;
    assert!(
        matches!(&out, Err(CallError::Plugin { code, .. }) if code == "kv_invalid_value"),
        "{out:?}"
    );
    let out = kv_call(&host, "get_count", r#"{"key":"b"}"#).await.unwrap();
    assert!(out.starts_with(r#"{"value":0,"version":"#), "{out}");

    let caught = kv_call(&host, "caught", r#"{"key":"short"}"#);
    assert_eq!(
        caught.await.unwrap(),
        "null",
        "a key within the limit is no error"
    );
    let long = format!(r#"{{"key":"{}"}}"#, "k".repeat(257));
    let caught = kv_call(&host, "caught", &long).await.unwrap();
    assert_eq!(
        caught,
        r#"{"name":"PluginError","code":"kv_key_too_large","is_plugin_error":true}"#
    );

    assert_eq!(
        kv_call(&host, "remove", r#"{"key":"a"}"#).await.unwrap(),
        r#"{"deleted":true}"#
    );
    assert_eq!(
        kv_call(&host, "remove", r#"{"key":"a"}"#).await.unwrap(),
        r#"{"deleted":false}"#
    );
}

/// The keys of a `list` page, in order.
fn page_keys(page: &Value) -> Vec<Value> {
    let items = page["items"].as_array().unwrap();
    items.iter().map(|item| item["key"].clone()).collect()
}
