//! Host-managed key-value state (`polyplug_kv`, docs/contract.md,
//! "Host-managed state"): each operation, versions, atomicity, namespaces,
//! grants, limits, durability, and requests a hostile plugin makes. Most
//! go through `PROXY`, the smallest module that hands its input to the
//! store as a request and answers the store's answer; grants and shared
//! namespaces also go through the Rust reference guest's `tally`. `tally`
//! and `tally_cas` in every language are in `kv_languages.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use polyplug::{
    CallError, Host, HostConfig, KvGrant, KvNamespace, LoadError, PluginConfig, StoreConfig,
    WasmSource,
};
use serde_json::{Value, json};

use crate::support::{RUST, wat_plugin};

/// `kv`: the input is the request, the answer the output. `repeat`: the
/// input request 5,000 times, the last answer. `huge`, `garbage`, `null`,
/// `bad_handle`: a 16 MiB block of zeros, bytes that are not UTF-8, the
/// null handle and an offset that is no block, as the request.
const PROXY: &str = r#"(module
  (import "extism:host/env" "input_offset" (func $input (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/user" "polyplug_kv" (func $kv (param i64) (result i64)))
  (func $answer (param $a i64) (result i32)
    (call $output_set (local.get $a) (call $length (local.get $a)))
    (i32.const 0))
  (func (export "kv") (result i32) (call $answer (call $kv (call $input))))
  (func (export "repeat") (result i32)
    (local $i i32) (local $a i64)
    (loop $again
      (local.set $a (call $kv (call $input)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 5000))))
    (call $answer (local.get $a)))
  (func (export "huge") (result i32)
    (call $answer (call $kv (call $alloc (i64.const 16777216)))))
  (func (export "garbage") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $p) (i32.const 255))
    (call $store_u8 (i64.add (local.get $p) (i64.const 1)) (i32.const 123))
    (call $answer (call $kv (local.get $p))))
  (func (export "null") (result i32) (call $answer (call $kv (i64.const 0))))
  (func (export "bad_handle") (result i32) (call $answer (call $kv (i64.const 12345)))))"#;

/// The proxy, granted `grant`.
pub(crate) fn proxy(grant: Option<KvGrant>) -> PluginConfig {
    let mut plugin = wat_plugin(PROXY);
    plugin.kv = grant;
    plugin
}

/// The Rust reference guest, granted `grant`.
fn rust(grant: Option<KvGrant>) -> PluginConfig {
    let mut plugin = RUST.plugin();
    plugin.kv = grant;
    plugin
}

fn own() -> Option<KvGrant> {
    Some(KvGrant::own("default"))
}

/// A config of `plugins` whose `default` store is `dir/kv.redb`.
fn config(dir: &Path, plugins: Vec<(&str, PluginConfig)>) -> HostConfig {
    let mut config = HostConfig::new(
        plugins
            .into_iter()
            .map(|(name, plugin)| (name.to_string(), plugin)),
    );
    let store = StoreConfig::embedded(dir.join("kv.redb"));
    config.stores = BTreeMap::from([("default".to_string(), store)]);
    config
}

fn host(dir: &Path, plugins: Vec<(&str, PluginConfig)>) -> Host {
    Host::new(config(dir, plugins)).unwrap_or_else(|err| panic!("loading failed: {err}"))
}

/// Sends `request` through the proxy `plugin` and returns the answer.
async fn kv(host: &Host, plugin: &str, request: Value) -> Value {
    let answer = host
        .call_json(plugin, "kv", request.to_string())
        .await
        .unwrap_or_else(|err| panic!("{request}: {err}"));
    serde_json::from_slice(&answer).unwrap()
}

/// The error code of an answer, or `"ok"`.
fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("ok")
}

fn version(answer: &Value) -> u64 {
    answer["ok"]["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version in {answer}"))
}

#[tokio::test]
async fn each_operation_answers_as_the_contract_says() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let get = json!({"op": "get", "key": "cart"});
    assert_eq!(kv(&host, "p", get.clone()).await, json!({"ok": null}));
    let set = r#"{"op": "set", "key": "cart", "value": { "items": [1, 2.50, "x"] }}"#;
    let written = host.call_json("p", "kv", set).await.unwrap();
    let written = version(&serde_json::from_slice(&written).unwrap());
    let answer = host.call_json("p", "kv", get.to_string()).await.unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        format!(r#"{{"ok":{{"value":{{"items":[1,2.50,"x"]}},"version":{written}}}}}"#),
        "the value comes back as the JSON text it was set with, compact"
    );
    let delete = json!({"op": "delete", "key": "cart"});
    assert_eq!(
        kv(&host, "p", delete.clone()).await,
        json!({"ok": {"deleted": true}})
    );
    assert_eq!(
        kv(&host, "p", delete).await,
        json!({"ok": {"deleted": false}})
    );
    assert_eq!(kv(&host, "p", get).await, json!({"ok": null}));
    let increment = json!({"op": "increment", "key": "n", "by": -5});
    assert_eq!(kv(&host, "p", increment).await["ok"]["value"], -5);
    let null = json!({"op": "set", "key": "nothing", "value": null});
    assert_eq!(code(&kv(&host, "p", null).await), "ok");
    let got = kv(&host, "p", json!({"op": "get", "key": "nothing"})).await;
    assert_eq!(got["ok"]["value"], Value::Null);
}

#[tokio::test]
async fn every_write_gets_a_new_version_so_cas_sees_a_change_changed_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let set = |value: i32| json!({"op": "set", "key": "k", "value": value});
    let first = version(&kv(&host, "p", set(1)).await);
    let second = version(&kv(&host, "p", set(2)).await);
    let back = version(&kv(&host, "p", set(1)).await);
    assert!(first < second && second < back, "{first} {second} {back}");
    let stale = json!({"op": "cas", "key": "k", "version": first, "value": 3});
    assert_eq!(
        kv(&host, "p", stale).await,
        json!({"ok": {"swapped": false, "version": back}}),
        "the value is 1 again, but not the 1 this writer read"
    );
    let fresh = json!({"op": "cas", "key": "k", "version": back, "value": 3});
    let swapped = kv(&host, "p", fresh).await;
    assert_eq!(swapped["ok"]["swapped"], true);
    assert!(version(&swapped) > back);
    let got = kv(&host, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], 3);
}

#[tokio::test]
async fn cas_with_version_zero_creates_only_a_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let create = json!({"op": "cas", "key": "lock", "version": 0, "value": "mine"});
    let created = kv(&host, "p", create.clone()).await;
    assert_eq!(created["ok"]["swapped"], true);
    let again = kv(&host, "p", create).await;
    assert_eq!(
        again,
        json!({"ok": {"swapped": false, "version": version(&created)}})
    );
}

#[tokio::test]
async fn listing_pages_through_a_prefix_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    for key in ["user:3", "user:1", "order:1", "user:2", "user:10"] {
        let set = json!({"op": "set", "key": key, "value": 0});
        assert_eq!(code(&kv(&host, "p", set).await), "ok");
    }
    let mut keys = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut list = json!({"op": "list", "prefix": "user:", "limit": 2});
        if !cursor.is_null() {
            list["cursor"] = cursor.clone();
        }
        let page = kv(&host, "p", list).await;
        let items = page["ok"]["items"].as_array().unwrap().clone();
        assert!(items.len() <= 2);
        keys.extend(items.iter().map(|i| i["key"].as_str().unwrap().to_string()));
        cursor = page["ok"]["cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(keys, ["user:1", "user:10", "user:2", "user:3"]);
    let everything = kv(&host, "p", json!({"op": "list"})).await;
    assert_eq!(everything["ok"]["items"].as_array().unwrap().len(), 5);
    assert!(everything["ok"].get("cursor").is_none());
}

#[tokio::test]
async fn a_plugin_never_sees_another_plugins_keys() {
    let dir = tempfile::tempdir().unwrap();
    // A shared namespace named like plugin `a` is still not `a`'s own.
    let impostor = Some(KvGrant::shared("default", "a"));
    let host = host(
        dir.path(),
        vec![
            ("a", proxy(own())),
            ("b", proxy(own())),
            ("c", proxy(impostor)),
        ],
    );
    let set = json!({"op": "set", "key": "secret", "value": "a's"});
    assert_eq!(code(&kv(&host, "a", set).await), "ok");
    for other in ["b", "c"] {
        let get = json!({"op": "get", "key": "secret"});
        assert_eq!(kv(&host, other, get).await, json!({"ok": null}), "{other}");
        let list = kv(&host, other, json!({"op": "list"})).await;
        assert_eq!(list, json!({"ok": {"items": []}}), "{other}");
        let delete = json!({"op": "delete", "key": "secret"});
        assert_eq!(kv(&host, other, delete).await["ok"]["deleted"], false);
    }
    let get = json!({"op": "get", "key": "secret"});
    assert_eq!(kv(&host, "a", get).await["ok"]["value"], "a's");
}

#[tokio::test]
async fn plugins_granted_one_shared_namespace_see_each_others_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cart = || Some(KvGrant::shared("default", "cart"));
    let host = host(
        dir.path(),
        vec![
            ("writer", proxy(cart())),
            ("counter", rust(cart())),
            ("outsider", proxy(own())),
        ],
    );
    let tally = json!({"key": "items", "by": 3});
    host.call_json("counter", "tally", tally.to_string())
        .await
        .unwrap();
    let get = json!({"op": "get", "key": "items"});
    assert_eq!(kv(&host, "writer", get.clone()).await["ok"]["value"], 3);
    assert_eq!(kv(&host, "outsider", get).await, json!({"ok": null}));
}

#[tokio::test]
async fn without_a_grant_every_operation_is_refused_as_not_granted() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(None)), ("r", rust(None))]);
    for request in [
        json!({"op": "get", "key": "k"}),
        json!({"op": "set", "key": "k", "value": 1}),
        json!({"op": "list"}),
    ] {
        let answer = kv(&host, "p", request).await;
        assert_eq!(code(&answer), "kv_not_granted");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(r#"kv = "default""#), "{message}");
    }
    let err = host
        .call_json("r", "tally", r#"{"key":"k","by":1}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin { code, .. } if code == "kv_not_granted"),
        "{err:?}"
    );
    // The module needs no grant for its other functions.
    let out = host.call_json("r", "greet", r#"{"name":"Ada"}"#).await;
    assert_eq!(out.unwrap(), br#"{"greeting":"Hello, Ada!"}"#);
    assert!(!dir.path().join("kv.redb").exists(), "no grant, no store");
}

#[test]
fn a_grant_of_a_store_that_is_not_declared_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        vec![("p", proxy(Some(KvGrant::own("sessions"))))],
    );
    let err = Host::new(config).err().expect("refused");
    assert!(
        matches!(&err, LoadError::UnknownStore { plugin, store } if plugin == "p" && store == "sessions"),
        "{err:?}"
    );
    assert_eq!(err.kind(), "unknown_store");
}

#[tokio::test]
async fn each_limit_answers_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = proxy(own());
    plugin.limits.max_kv_key = 16;
    plugin.limits.max_kv_value = 64;
    plugin.limits.max_kv_namespace_keys = 3;
    plugin.limits.max_kv_namespace_bytes = 100;
    let host = host(dir.path(), vec![("p", plugin)]);
    let set = |key: &str, value: Value| json!({"op": "set", "key": key, "value": value});
    let long_key = "k".repeat(17);
    assert_eq!(
        code(&kv(&host, "p", set(&long_key, json!(1))).await),
        "kv_key_too_large"
    );
    let list = json!({"op": "list", "prefix": long_key});
    assert_eq!(code(&kv(&host, "p", list).await), "kv_key_too_large");
    let long_value = json!("v".repeat(63));
    assert_eq!(
        code(&kv(&host, "p", set("k", long_value)).await),
        "kv_value_too_large"
    );
    for key in ["a", "b", "c"] {
        assert_eq!(code(&kv(&host, "p", set(key, json!(1))).await), "ok");
    }
    assert_eq!(
        code(&kv(&host, "p", set("d", json!(1))).await),
        "kv_namespace_full"
    );
    let bulky = json!("x".repeat(60));
    assert_eq!(
        code(&kv(&host, "p", set("a", bulky.clone())).await),
        "ok",
        "overwriting a key adds no key"
    );
    assert_eq!(
        code(&kv(&host, "p", set("b", bulky)).await),
        "kv_namespace_full",
        "two 63-byte entries pass 100 bytes"
    );
    let delete = json!({"op": "delete", "key": "a"});
    assert_eq!(code(&kv(&host, "p", delete).await), "ok");
    assert_eq!(code(&kv(&host, "p", set("d", json!(1))).await), "ok");
    let text = set("text", json!("seven"));
    assert_eq!(code(&kv(&host, "p", text).await), "kv_namespace_full");
    let not_integer = json!({"op": "increment", "key": "c", "by": 1});
    assert_eq!(code(&kv(&host, "p", set("c", json!(1.5))).await), "ok");
    assert_eq!(
        code(&kv(&host, "p", not_integer).await),
        "kv_not_an_integer"
    );
    let overflow = json!({"op": "increment", "key": "d", "by": 9007199254740991i64});
    assert_eq!(code(&kv(&host, "p", overflow).await), "kv_overflow");
    let got = kv(&host, "p", json!({"op": "get", "key": "d"})).await;
    assert_eq!(got["ok"]["value"], 1, "an overflow changes nothing");
}

#[tokio::test]
async fn thousands_of_operations_in_one_call_reach_the_per_call_limit() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let get = json!({"op": "get", "key": "k"}).to_string();
    let answer = host.call_json("p", "repeat", get.clone()).await.unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(code(&answer), "kv_too_many_operations");
    // The count is per call: the next call starts again.
    assert_eq!(
        kv(&host, "p", json!({"op": "get", "key": "k"})).await["ok"],
        Value::Null
    );
    let metrics = host.metrics();
    let get = metrics[0].kv.iter().find(|m| m.operation == "get").unwrap();
    assert_eq!(get.store, "default");
    assert!(get.results.contains(&("ok", 1_001)), "{:?}", get.results);
    assert!(
        get.results.contains(&("kv_too_many_operations", 4_000)),
        "{:?}",
        get.results
    );
    assert_eq!(
        get.latency_count, 1_001,
        "only operations the store ran are timed"
    );
}

#[tokio::test]
async fn hostile_requests_are_answered_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let answer = |function: &'static str| {
        let host = host.clone();
        async move {
            let out = host.call_json("p", function, "{}").await.unwrap();
            serde_json::from_slice::<Value>(&out).unwrap()
        }
    };
    assert_eq!(code(&answer("huge").await), "kv_value_too_large");
    assert_eq!(code(&answer("garbage").await), "kv_invalid_request");
    assert_eq!(code(&answer("null").await), "kv_invalid_request");
    for request in [
        json!([]),
        json!({"op": "drop_table"}),
        json!({"op": "get", "key": "k", "namespace": "plugin:other"}),
        json!({"op": "get", "key": 7}),
        json!({"op": "list", "limit": 1_000_000}),
        json!({"op": "increment", "key": "k", "by": "1"}),
    ] {
        assert_eq!(
            code(&kv(&host, "p", request.clone()).await),
            "kv_invalid_request",
            "{request}"
        );
    }
    let duplicate = r#"{"op":"get","key":"a","key":"b"}"#;
    let err = host.call_json("p", "kv", duplicate).await.unwrap_err();
    assert!(
        matches!(err, CallError::InvalidInput { .. }),
        "the host checks input first"
    );
    let err = host.call_json("p", "bad_handle", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
    // After all that, the store still serves.
    let set = json!({"op": "set", "key": "k", "value": 1});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
}

#[tokio::test]
async fn state_outlives_a_new_version_of_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    let set = json!({"op": "set", "key": "k", "value": "kept"});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
    let changed = PROXY.replace(
        "(func (export \"kv\")",
        "(func (export \"v2\") (result i32) (i32.const 0))\n  (func (export \"kv\")",
    );
    let mut next = proxy(own());
    next.wasm = WasmSource::Bytes(Arc::from(changed.as_bytes()));
    host.replace("p", next).unwrap();
    assert!(
        host.plugins()
            .next()
            .unwrap()
            .functions
            .contains(&"v2".to_string())
    );
    let get = json!({"op": "get", "key": "k"});
    assert_eq!(kv(&host, "p", get).await["ok"]["value"], "kept");
}

#[tokio::test]
async fn state_outlives_the_host_and_a_new_one_opens_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = host(dir.path(), vec![("p", proxy(own()))]);
    let set = json!({"op": "set", "key": "k", "value": [1, 2]});
    let written = version(&kv(&first, "p", set).await);
    drop(first);
    let second = host(dir.path(), vec![("p", proxy(own()))]);
    let got = kv(&second, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got, json!({"ok": {"value": [1, 2], "version": written}}));
    let next = json!({"op": "set", "key": "j", "value": 0});
    assert!(
        version(&kv(&second, "p", next).await) > written,
        "versions never repeat"
    );
}

#[tokio::test]
async fn two_hosts_in_one_process_share_one_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let one = host(dir.path(), vec![("p", proxy(own()))]);
    let two = host(dir.path(), vec![("p", proxy(own()))]);
    let set = json!({"op": "set", "key": "k", "value": 1});
    assert_eq!(code(&kv(&one, "p", set).await), "ok");
    let got = kv(&two, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], 1);
}

/// Run by `an_acknowledged_write_survives_kill_9` in a process of its own:
/// writes `k0`, `k1`, ... and prints `acked <n>` once each write returned.
#[tokio::test]
#[ignore = "a child process of an_acknowledged_write_survives_kill_9"]
async fn writer_child() {
    let Some(dir) = std::env::var_os("POLYPLUG_KV_CHILD_DIR") else {
        return;
    };
    let host = host(Path::new(&dir), vec![("p", proxy(own()))]);
    for n in 0.. {
        let set = json!({"op": "set", "key": format!("k{n}"), "value": n});
        assert_eq!(code(&kv(&host, "p", set).await), "ok");
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "acked {n}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test]
async fn an_acknowledged_write_survives_kill_9() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["kv::writer_child", "--exact", "--ignored", "--nocapture"])
        .env("POLYPLUG_KV_CHILD_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("acked ") {
            acked = Some(n.parse::<u64>().unwrap());
            if acked >= Some(30) {
                break;
            }
        }
    }
    // SIGKILL: no destructor, no flush, no clean close of the store.
    child.kill().unwrap();
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged writes");
    let host = host(dir.path(), vec![("p", proxy(own()))]);
    for n in 0..=acked {
        let got = kv(&host, "p", json!({"op": "get", "key": format!("k{n}")})).await;
        assert_eq!(got["ok"]["value"], n, "acknowledged write k{n} is lost");
    }
}

#[test]
fn a_config_file_grants_own_or_shared_namespaces_and_an_implicit_default_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.wat"), "(module)").unwrap();
    let text = r#"
        [stores.shared]
        path = "data/shared.redb"

        [plugins.a]
        wasm = "m.wat"
        kv = "default"
        max_kv_value = "4KiB"

        [plugins.b]
        wasm = "m.wat"
        kv = { store = "shared", namespace = "cart" }

        [plugins.c]
        wasm = "m.wat"
    "#;
    let file = dir.path().join("polyplug.toml");
    let config = HostConfig::from_text(&file, text).unwrap();
    let a = config.plugins["a"].kv.clone().unwrap();
    assert_eq!(
        (a.store.as_str(), &a.namespace),
        ("default", &KvNamespace::Own)
    );
    assert_eq!(config.plugins["a"].limits.max_kv_value, 4096);
    assert_eq!(config.plugins["a"].limits.max_kv_key, 256);
    let b = config.plugins["b"].kv.clone().unwrap();
    assert_eq!(b, KvGrant::shared("shared", "cart"));
    assert_eq!(config.plugins["c"].kv, None);
    assert_eq!(
        config.stores["default"],
        StoreConfig::embedded(dir.path().join(".polyplug/state/default.redb"))
    );
    assert_eq!(
        config.stores["shared"],
        StoreConfig::embedded(dir.path().join("data/shared.redb"))
    );
}

#[tokio::test]
async fn the_embedder_reaches_a_plugins_namespace_and_only_its() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(
        dir.path(),
        vec![
            ("a", proxy(own())),
            ("b", proxy(own())),
            ("bare", proxy(None)),
        ],
    );
    let native = |plugin: &'static str, request: Value| {
        let host = host.clone();
        async move {
            let answer = host.kv(plugin, request.to_string().as_bytes()).await;
            serde_json::from_slice::<Value>(&answer.unwrap()).unwrap()
        }
    };
    // Seeded by the host, read by the plugin, in its namespace only.
    let seeded = native("a", json!({"op": "set", "key": "k", "value": {"n": 1}})).await;
    assert_eq!(code(&seeded), "ok");
    let got = kv(&host, "a", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], json!({"n": 1}));
    assert_eq!(got["ok"]["version"], seeded["ok"]["version"]);
    let other = native("b", json!({"op": "get", "key": "k"})).await;
    assert_eq!(other, json!({"ok": null}));
    // The plugin's limits and grant hold for the embedder too.
    let long_key = "k".repeat(257);
    let refused = native("a", json!({"op": "set", "key": long_key, "value": 1})).await;
    assert_eq!(code(&refused), "kv_key_too_large");
    let bare = native("bare", json!({"op": "get", "key": "k"})).await;
    assert_eq!(code(&bare), "kv_not_granted");
    let unknown = host.kv("nobody", br#"{"op":"get","key":"k"}"#).await;
    assert_eq!(unknown.unwrap_err().kind(), "unknown_plugin");
}
