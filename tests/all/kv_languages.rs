//! Key-value state from every guest language: `tally` (one `increment`)
//! and `tally_cas` (a get and compare-and-swap retry loop) in the Rust, Go,
//! AssemblyScript and JavaScript reference guests (docs/contract.md, 5.8
//! and 5.9), each asserted the same way for all four, so each SDK's kv API
//! and its error codes are held to one behaviour. The store is built by
//! [`store`]; the eight-caller counts run on every backend (`TestStore`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use polyplug::{CallError, Host, HostConfig, KvGrant, PluginConfig, StoreConfig};
use serde_json::{Value, json};

use crate::kv::TestStore;
use crate::kv::proxy;
use crate::support::{ASSEMBLYSCRIPT, GO, Guest, JS, RUST, example_config};

const GUESTS: [Guest; 4] = [RUST, GO, ASSEMBLYSCRIPT, JS];
const FUNCTIONS: [&str; 2] = ["tally", "tally_cas"];

/// The store every test here runs on, in `dir` (a fresh temporary folder).
/// To run them on another backend, return its config here.
pub(crate) fn store(dir: &Path) -> StoreConfig {
    StoreConfig::embedded(dir.join("kv.redb"))
}

/// `guest` granted `grant`.
fn plugin(guest: Guest, grant: Option<KvGrant>) -> PluginConfig {
    let mut plugin = guest.plugin();
    plugin.kv = grant;
    plugin
}

fn host(dir: &Path, plugins: Vec<(String, PluginConfig)>) -> Host {
    let mut config = HostConfig::new(plugins);
    config.stores = BTreeMap::from([("default".to_string(), store(dir))]);
    Host::new(config).unwrap_or_else(|err| panic!("loading failed: {err}"))
}

/// The output text, or the error code.
async fn call(host: &Host, plugin: &str, function: &str, input: &str) -> Result<String, String> {
    match host.call_json(plugin, function, input.to_string()).await {
        Ok(output) => Ok(String::from_utf8(output).unwrap()),
        Err(CallError::Plugin { code, .. }) => Err(code),
        Err(other) => panic!("{plugin}.{function}({input}): {other:?}"),
    }
}

fn out(key: &str, value: i64) -> Result<String, String> {
    Ok(json!({"key": key, "value": value}).to_string())
}

fn code(code: &str) -> Result<String, String> {
    Err(code.to_string())
}

/// What `tally` and `tally_cas` answer, in order, on a fresh store: the
/// same bytes and codes in every language. `p:` stands for the function's
/// own key prefix (each function counts its own keys in one host).
fn own_namespace_cases() -> Vec<(Value, Result<String, String>)> {
    vec![
        (json!({"key": "p:a", "by": 5}), out("p:a", 5)),
        (json!({"key": "p:a", "by": 7}), out("p:a", 12)),
        (json!({"key": "p:b", "by": 0}), out("p:b", 0)),
        (json!({"key": "p:a", "by": -0.0}), code("invalid_input")),
        (json!({"key": "p:\"\u{0}é", "by": 1}), out("p:\"\u{0}é", 1)),
        (json!({"key": "p:a"}), code("invalid_input")),
        (json!({"by": 1}), code("invalid_input")),
        (json!({"key": 1, "by": 1}), code("invalid_input")),
        (json!({"key": null, "by": 1}), code("invalid_input")),
        (json!({"key": "p:a", "by": -1}), code("invalid_input")),
        (json!({"key": "p:a", "by": 1.5}), code("invalid_input")),
        (json!({"key": "p:a", "by": "1"}), code("invalid_input")),
        (json!({"key": "p:a", "by": null}), code("invalid_input")),
        (
            json!({"key": "p:a", "by": 9007199254740992u64}),
            code("invalid_input"),
        ),
        (json!(["p:a", 1]), code("invalid_input")),
        (
            json!({"key": "p:a-key-of-many-bytes", "by": 1}),
            code("kv_key_too_large"),
        ),
        (
            json!({"key": "p:big", "by": 9007199254740991u64}),
            out("p:big", 9007199254740991),
        ),
        (json!({"key": "p:big", "by": 1}), code("kv_overflow")),
        (
            json!({"key": "p:big", "by": 0}),
            out("p:big", 9007199254740991),
        ),
        (json!({"key": "p:a", "by": 0}), out("p:a", 12)),
    ]
}

/// `input` with `p:` in its key replaced by `prefix`.
fn with_prefix(value: &Value, prefix: &str) -> Value {
    let text = value.to_string().replace("\"p:", &format!("\"{prefix}"));
    serde_json::from_str(&text).unwrap()
}

fn with_prefix_out(expected: &Result<String, String>, prefix: &str) -> Result<String, String> {
    expected
        .clone()
        .map(|text| text.replace("\"p:", &format!("\"{prefix}")))
}

#[tokio::test]
async fn tally_and_tally_cas_answer_the_same_bytes_and_codes_in_every_language() {
    for guest in GUESTS {
        let dir = tempfile::tempdir().unwrap();
        let mut counter = plugin(guest, Some(KvGrant::own("default")));
        // 8 bytes: `i:a-key-of-many-bytes` is too long, `i:big` is not.
        counter.limits.max_kv_key = 8;
        let host = host(dir.path(), vec![("counter".into(), counter)]);
        for (function, prefix) in [("tally", "i:"), ("tally_cas", "c:")] {
            for (input, expected) in own_namespace_cases() {
                let input = with_prefix(&input, prefix);
                let got = call(&host, "counter", function, &input.to_string()).await;
                assert_eq!(
                    got,
                    with_prefix_out(&expected, prefix),
                    "{} {function}({input})",
                    guest.language
                );
            }
        }
    }
}

/// What `tally` and `tally_cas` make of values they did not write: the
/// store's idea of an integer (`-?(0|[1-9][0-9]*)` within ±(2^53-1)).
#[tokio::test]
async fn tally_and_tally_cas_read_foreign_values_as_the_store_does_in_every_language() {
    // Stored as written, with `-0` and `1e3` that serde_json cannot write.
    let stored = [
        ("text", r#""7""#, code("kv_not_an_integer")),
        ("float", "2.0", code("kv_not_an_integer")),
        ("exponent", "1e3", code("kv_not_an_integer")),
        ("object", r#"{"n":1}"#, code("kv_not_an_integer")),
        ("null", "null", code("kv_not_an_integer")),
        ("past", "9007199254740992", code("kv_not_an_integer")),
        ("negative", "-5", out("negative", -2)),
        (
            "lowest",
            "-9007199254740991",
            out("lowest", -9007199254740988),
        ),
        ("minus_zero", "-0", out("minus_zero", 3)),
    ];
    for guest in GUESTS {
        for function in FUNCTIONS {
            let dir = tempfile::tempdir().unwrap();
            let shared = || Some(KvGrant::shared("default", "counters"));
            let host = host(
                dir.path(),
                vec![
                    ("counter".into(), plugin(guest, shared())),
                    ("writer".into(), proxy(shared())),
                ],
            );
            for (key, value, _) in &stored {
                let set = format!(r#"{{"op":"set","key":"{key}","value":{value}}}"#);
                let answer = host.call_json("writer", "kv", set).await.unwrap();
                assert!(answer.starts_with(br#"{"ok""#), "{key}");
            }
            for (key, _, expected) in &stored {
                let input = json!({"key": key, "by": 3}).to_string();
                let got = call(&host, "counter", function, &input).await;
                assert_eq!(&got, expected, "{} {function}({input})", guest.language);
            }
        }
    }
}

#[tokio::test]
async fn store_refusals_reach_the_caller_with_their_code_in_every_language() {
    for guest in GUESTS {
        let dir = tempfile::tempdir().unwrap();
        let mut full = plugin(guest, Some(KvGrant::own("default")));
        full.limits.max_kv_namespace_keys = 1;
        let mut one_operation = plugin(guest, Some(KvGrant::own("default")));
        one_operation.limits.max_kv_operations = 1;
        let host = host(
            dir.path(),
            vec![
                ("ungranted".into(), plugin(guest, None)),
                ("full".into(), full),
                ("one_operation".into(), one_operation),
            ],
        );
        let input = r#"{"key":"k","by":1}"#;
        let other = r#"{"key":"other","by":1}"#;
        for function in FUNCTIONS {
            let language = guest.language;
            let got = call(&host, "ungranted", function, input).await;
            assert_eq!(got, code("kv_not_granted"), "{language} {function}");
        }
        let got = call(&host, "full", "tally", input).await;
        assert_eq!(got, out("k", 1), "{}", guest.language);
        for function in FUNCTIONS {
            let got = call(&host, "full", function, other).await;
            assert_eq!(
                got,
                code("kv_namespace_full"),
                "{} {function}",
                guest.language
            );
        }
        // `tally` makes one store operation, `tally_cas` at least two.
        let got = call(&host, "one_operation", "tally", input).await;
        assert_eq!(got, out("k", 1), "{}", guest.language);
        let got = call(&host, "one_operation", "tally_cas", input).await;
        assert_eq!(got, code("kv_too_many_operations"), "{}", guest.language);
    }
}

/// The issue's measure of done: callers in all four languages, 8 at a
/// time, each make 1,000 tallies of one key; every tally sees its own
/// value and the counter ends exact. `function` is `tally` (the store's
/// `increment`) or `tally_cas` (a compare-and-swap loop).
async fn eight_callers_in_four_languages_add_up_exactly(function: &'static str, store: &TestStore) {
    const PER_CALLER: i64 = 1_000;
    let plugins: Vec<(String, PluginConfig)> = GUESTS
        .iter()
        .map(|guest| {
            let mut plugin = plugin(*guest, Some(KvGrant::shared("default", "hits")));
            plugin.limits.instances = 2;
            plugin.limits.timeout = Duration::from_secs(60);
            plugin.limits.queue_timeout = Duration::from_secs(60);
            (guest.language.to_string(), plugin)
        })
        .collect();
    let mut config = HostConfig::new(plugins);
    config.stores = BTreeMap::from([("default".to_string(), store.store_config())]);
    let host = Host::new(config).unwrap_or_else(|err| panic!("loading failed: {err}"));
    let callers: Vec<_> = GUESTS
        .iter()
        .chain(GUESTS.iter())
        .map(|guest| {
            let (host, language) = (host.clone(), guest.language);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..PER_CALLER {
                    let input = json!({"key": "hits", "by": 1});
                    let out: Value = host
                        .call(language, function, &input)
                        .await
                        .unwrap_or_else(|err| panic!("{language} {function}: {err}"));
                    seen.push(out["value"].as_i64().unwrap());
                }
                seen
            })
        })
        .collect();
    let callers_count = callers.len() as i64;
    let mut seen = Vec::new();
    for caller in callers {
        seen.extend(caller.await.unwrap());
    }
    seen.sort();
    let total = callers_count * PER_CALLER;
    assert!(
        seen.iter().copied().eq(1..=total),
        "{function}: every tally saw its own value"
    );
    for guest in GUESTS {
        let out: Value = host
            .call(guest.language, function, &json!({"key": "hits", "by": 0}))
            .await
            .unwrap();
        assert_eq!(
            out,
            json!({"key": "hits", "value": total}),
            "{}",
            guest.language
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_callers_in_four_languages_increment_one_key_exactly() {
    eight_callers_in_four_languages_add_up_exactly("tally", &TestStore::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_callers_in_four_languages_compare_and_swap_one_key_exactly() {
    eight_callers_in_four_languages_add_up_exactly("tally_cas", &TestStore::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_callers_in_four_languages_increment_one_key_on_redis_exactly() {
    eight_callers_in_four_languages_add_up_exactly("tally", &TestStore::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_callers_in_four_languages_compare_and_swap_one_key_on_redis_exactly() {
    eight_callers_in_four_languages_add_up_exactly("tally_cas", &TestStore::redis()).await;
}

/// `examples/polyplug.toml` grants the four reference plugins one shared
/// namespace: a counter bumped from one language is the counter every other
/// language reads and bumps.
#[tokio::test(flavor = "multi_thread")]
async fn the_example_config_shares_one_counter_between_all_four_languages() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(store(dir.path()));
    let host = tokio::task::spawn_blocking(move || Host::new(config))
        .await
        .unwrap()
        .expect("examples/polyplug.toml loads (run `just build-guests`)");
    let steps = [
        ("reference_go", "tally", 2, 2),
        ("reference_js", "tally", 0, 2),
        ("reference_js", "tally_cas", 3, 5),
        ("reference_as", "tally", 10, 15),
        ("reference_rust", "tally_cas", 0, 15),
        ("reference_go", "tally_cas", 1, 16),
    ];
    for (plugin, function, by, value) in steps {
        let input = json!({"key": "visits", "by": by}).to_string();
        let got = call(&host, plugin, function, &input).await;
        assert_eq!(got, out("visits", value), "{plugin} {function} by {by}");
    }
    // `discounts` runs the Rust guest too, without a grant.
    let got = call(&host, "discounts", "tally", r#"{"key":"visits","by":1}"#).await;
    assert_eq!(got, code("kv_not_granted"));
}

/// `tests/go/kv`: the Go SDK's package `kv`, one export per function, in a
/// namespace shared with the WAT proxy of `kv.rs`, which shows the exact
/// text the store holds.
fn go_kv_host(dir: &Path) -> Host {
    let path = crate::support::repo_root().join("target/guests/go-tests/kv.wasm");
    assert!(
        path.is_file(),
        "`{}` is missing: run `just build-guest-go`",
        path.display()
    );
    let shared = || Some(KvGrant::shared("default", "go"));
    let mut go = PluginConfig::new(polyplug::WasmSource::File(path));
    go.wasi = true;
    go.kv = shared();
    host(
        dir,
        vec![("go".into(), go), ("proxy".into(), proxy(shared()))],
    )
}

/// What the proxy reads for `key`: the stored text, exactly.
async fn stored(host: &Host, key: &str) -> String {
    let get = json!({"op": "get", "key": key}).to_string();
    String::from_utf8(host.call_json("proxy", "kv", get).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_go_sdk_sets_gets_lists_swaps_and_deletes_through_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let host = go_kv_host(dir.path());
    let go = |function: &'static str, input: &str| {
        let (host, input) = (host.clone(), input.to_string());
        async move { call(&host, "go", function, &input).await }
    };
    let value = r#"{"big":12345678901234567890,"n":[2.50,"é\u0000",null,true],"o":{}}"#;
    let set = go("set", &format!(r#"{{"key":"doc","value":{value}}}"#))
        .await
        .unwrap();
    let version: Value = serde_json::from_str(&set).unwrap();
    let version = version["version"].as_u64().unwrap();
    assert_eq!(
        stored(&host, "doc").await,
        format!(r#"{{"ok":{{"value":{value},"version":{version}}}}}"#),
        "numbers reach the store with their digits"
    );
    let got = go("get", r#"{"key":"doc"}"#).await.unwrap();
    assert_eq!(got, format!(r#"{{"value":{value},"version":{version}}}"#));
    assert_eq!(go("get", r#"{"key":"missing"}"#).await.unwrap(), "null");

    go("set_struct", r#"{"key":"cart"}"#).await.unwrap();
    let cart = stored(&host, "cart").await;
    assert!(
        cart.starts_with(
            r#"{"ok":{"value":{"items":[1,2],"note":null,"big":1152921504606846976},"#
        ),
        "{cart}"
    );
    let count = go("get_count", r#"{"key":"cart"}"#).await;
    assert_eq!(count, code("kv_invalid_value"));

    for key in ["b", "a", "c"] {
        go("set", &format!(r#"{{"key":"l:{key}","value":0}}"#))
            .await
            .unwrap();
    }
    let page: Value =
        serde_json::from_str(&go("list", r#"{"prefix":"l:","limit":2}"#).await.unwrap()).unwrap();
    assert_eq!(page["items"][0]["key"], "l:a");
    assert_eq!(page["items"][1]["key"], "l:b");
    let next = json!({"prefix": "l:", "limit": 2, "cursor": page["cursor"]}).to_string();
    let last: Value = serde_json::from_str(&go("list", &next).await.unwrap()).unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["key"], "l:c");
    assert!(last.get("cursor").is_none(), "{last}");

    let stale = go("cas", r#"{"key":"l:a","version":1,"value":5}"#)
        .await
        .unwrap();
    let stale: Value = serde_json::from_str(&stale).unwrap();
    assert_eq!(stale["swapped"], false);
    let fresh = json!({"key": "l:a", "version": stale["version"], "value": 5}).to_string();
    let fresh: Value = serde_json::from_str(&go("cas", &fresh).await.unwrap()).unwrap();
    assert_eq!(fresh["swapped"], true);
    let created = go("cas", r#"{"key":"new","value":"x"}"#).await.unwrap();
    assert!(
        created.starts_with(r#"{"swapped":true,"#),
        "version 0 creates: {created}"
    );
    let count = go("get_count", r#"{"key":"l:a"}"#).await.unwrap();
    assert_eq!(
        count,
        format!(r#"{{"value":5,"version":{}}}"#, fresh["version"])
    );

    let down = go("increment", r#"{"key":"n","by":-3}"#).await.unwrap();
    assert!(down.starts_with(r#"{"value":-3,"version":"#), "{down}");
    let over = go("increment", r#"{"key":"n","by":-9007199254740991}"#).await;
    assert_eq!(over, code("kv_overflow"));
    let long = format!(r#"{{"key":"{}","by":1}}"#, "k".repeat(257));
    assert_eq!(go("increment", &long).await, code("kv_key_too_large"));

    assert_eq!(
        go("remove", r#"{"key":"l:a"}"#).await.unwrap(),
        r#"{"deleted":true}"#
    );
    assert_eq!(
        go("remove", r#"{"key":"l:a"}"#).await.unwrap(),
        r#"{"deleted":false}"#
    );
}

/// `tests/assemblyscript/kv.ts`: the AssemblyScript SDK's `kv`, one export
/// per function, in a namespace shared with the WAT proxy of `kv.rs`.
#[tokio::test(flavor = "multi_thread")]
async fn the_assemblyscript_sdk_sets_gets_lists_swaps_and_deletes_through_the_host() {
    let path = crate::support::repo_root().join("target/guests/as-tests/kv.wasm");
    assert!(
        path.is_file(),
        "`{}` is missing: run `just build-guest-as`",
        path.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let shared = || Some(KvGrant::shared("default", "as"));
    let mut plugin = PluginConfig::new(polyplug::WasmSource::File(path));
    plugin.kv = shared();
    let host = host(
        dir.path(),
        vec![("as".into(), plugin), ("proxy".into(), proxy(shared()))],
    );
    let call_as = |function: &'static str, input: &str| {
        let (host, input) = (host.clone(), input.to_string());
        async move { call(&host, "as", function, &input).await }
    };
    let value = r#"[2.50,12345678901234567890,-0,"é\u0000",null,true,[]]"#;
    let set = call_as("kv_set", &format!(r#"{{"key":"doc","value":{value}}}"#));
    let version: Value = serde_json::from_str(&set.await.unwrap()).unwrap();
    let version = version["version"].as_u64().unwrap();
    assert_eq!(
        stored(&host, "doc").await,
        format!(r#"{{"ok":{{"value":{value},"version":{version}}}}}"#),
        "numbers reach the store with their digits"
    );
    let got = call_as("kv_get", r#"{"key":"doc"}"#).await.unwrap();
    assert_eq!(got, format!(r#"{{"value":{value},"version":{version}}}"#));
    assert_eq!(
        call_as("kv_get", r#"{"key":"missing"}"#).await.unwrap(),
        "null"
    );

    for key in ["b", "a", "c"] {
        let set = format!(r#"{{"key":"l:{key}","value":0}}"#);
        call_as("kv_set", &set).await.unwrap();
    }
    let page = call_as("kv_list", r#"{"prefix":"l:","limit":2}"#)
        .await
        .unwrap();
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["items"][0]["key"], "l:a");
    assert_eq!(page["items"][1]["key"], "l:b");
    let next = json!({"prefix": "l:", "limit": 2, "cursor": page["cursor"]}).to_string();
    let last: Value = serde_json::from_str(&call_as("kv_list", &next).await.unwrap()).unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["key"], "l:c");
    assert!(last.get("cursor").is_none(), "{last}");

    let stale = call_as("kv_cas", r#"{"key":"l:a","version":1,"value":5}"#);
    let stale: Value = serde_json::from_str(&stale.await.unwrap()).unwrap();
    assert_eq!(stale["swapped"], false);
    let fresh = json!({"key": "l:a", "version": stale["version"], "value": 5}).to_string();
    let fresh: Value = serde_json::from_str(&call_as("kv_cas", &fresh).await.unwrap()).unwrap();
    assert_eq!(fresh["swapped"], true);
    let got = call_as("kv_get", r#"{"key":"l:a"}"#).await.unwrap();
    assert_eq!(
        got,
        format!(r#"{{"value":5,"version":{}}}"#, fresh["version"])
    );

    let down = call_as("kv_increment", r#"{"key":"n","by":-3}"#)
        .await
        .unwrap();
    assert!(down.starts_with(r#"{"value":-3,"version":"#), "{down}");
    let over = call_as("kv_increment", r#"{"key":"n","by":-9007199254740991}"#).await;
    assert_eq!(over, code("kv_overflow"));
    let long = format!(r#"{{"key":"{}","by":1}}"#, "k".repeat(257));
    assert_eq!(
        call_as("kv_increment", &long).await,
        code("kv_key_too_large")
    );

    let removed = call_as("kv_remove", r#"{"key":"l:a"}"#).await.unwrap();
    assert_eq!(removed, r#"{"deleted":true}"#);
    let removed = call_as("kv_remove", r#"{"key":"l:a"}"#).await.unwrap();
    assert_eq!(removed, r#"{"deleted":false}"#);
}
