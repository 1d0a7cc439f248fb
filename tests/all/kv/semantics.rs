//! The contract's semantics of host-managed state, each test written once
//! against a [`TestStore`] and run on every backend:
//! `kv::semantics::embedded::<test>` and `kv::semantics::redis::<test>`.

use std::sync::Arc;
use std::time::Duration;

use polyplug::{CallError, KvGrant, WasmSource};
use serde_json::{Value, json};

use super::{PROXY, TestStore, code, kv, own, proxy, rust, tallies, version};

/// One `#[tokio::test]` per backend for each named test function.
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(&super::TestStore::embedded()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(&super::TestStore::redis()).await
                }
            )*
        }
    };
}

on_each_backend!(
    each_operation_answers_as_the_contract_says,
    every_write_gets_a_new_version_so_cas_sees_a_change_changed_back,
    cas_with_version_zero_creates_only_a_missing_key,
    listing_pages_through_a_prefix_in_key_order,
    concurrent_tallies_add_up_exactly,
    tally_adds_to_a_counter_and_names_it,
    tally_refuses_malformed_input_and_reports_store_errors_by_code,
    a_plugin_never_sees_another_plugins_keys,
    plugins_granted_one_shared_namespace_see_each_others_keys,
    without_a_grant_every_operation_is_refused_as_not_granted,
    each_limit_answers_its_own_code,
    thousands_of_operations_in_one_call_reach_the_per_call_limit,
    hostile_requests_are_answered_not_obeyed,
    state_outlives_a_new_version_of_the_plugin,
    state_outlives_the_host_and_a_new_one_opens_the_same_store,
    two_hosts_in_one_process_share_one_store,
    a_value_at_the_size_limit_is_kept_whole_and_one_byte_more_is_refused,
    the_embedder_reaches_a_plugins_namespace_and_only_its,
);

async fn each_operation_answers_as_the_contract_says(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
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

async fn every_write_gets_a_new_version_so_cas_sees_a_change_changed_back(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
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

async fn cas_with_version_zero_creates_only_a_missing_key(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
    let create = json!({"op": "cas", "key": "lock", "version": 0, "value": "mine"});
    let created = kv(&host, "p", create.clone()).await;
    assert_eq!(created["ok"]["swapped"], true);
    let again = kv(&host, "p", create).await;
    assert_eq!(
        again,
        json!({"ok": {"swapped": false, "version": version(&created)}})
    );
}

async fn listing_pages_through_a_prefix_in_key_order(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
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

async fn concurrent_tallies_add_up_exactly(store: &TestStore) {
    let mut plugin = rust(own());
    plugin.limits.instances = 8;
    plugin.limits.timeout = Duration::from_secs(20);
    plugin.limits.queue_timeout = Duration::from_secs(20);
    let host = store.host(vec![("counter", plugin)]);
    let mut seen = tallies(&host, "hits", 8, 200).await;
    seen.sort();
    assert_eq!(
        seen,
        (1..=1600).collect::<Vec<i64>>(),
        "every increment saw its own value"
    );
    let out: Value = host
        .call("counter", "tally", &json!({"key": "hits", "by": 0}))
        .await
        .unwrap();
    assert_eq!(out, json!({"key": "hits", "value": 1600}));
}

async fn tally_adds_to_a_counter_and_names_it(store: &TestStore) {
    let host = store.host(vec![("r", rust(own()))]);
    let tally = |key: &str, by: u64| json!({"key": key, "by": by});
    let out = host.call_json("r", "tally", tally("a", 5).to_string());
    assert_eq!(out.await.unwrap(), br#"{"key":"a","value":5}"#);
    let out = host.call_json("r", "tally", tally("a", 7).to_string());
    assert_eq!(out.await.unwrap(), br#"{"key":"a","value":12}"#);
    let out = host.call_json("r", "tally", tally("b", 0).to_string());
    assert_eq!(out.await.unwrap(), br#"{"key":"b","value":0}"#);
}

async fn tally_refuses_malformed_input_and_reports_store_errors_by_code(store: &TestStore) {
    let mut plugin = rust(own());
    plugin.limits.max_kv_key = 8;
    let host = store.host(vec![("r", plugin)]);
    let code_of = |err: CallError| match err {
        CallError::Plugin { code, .. } => code,
        other => panic!("{other:?}"),
    };
    for input in [
        json!({"key": "a"}),
        json!({"by": 1}),
        json!({"key": 1, "by": 1}),
        json!({"key": "a", "by": -1}),
        json!({"key": "a", "by": 1.5}),
        json!({"key": "a", "by": 9007199254740992u64}),
        json!({"key": "a", "by": null}),
    ] {
        let err = host.call_json("r", "tally", input.to_string()).await;
        assert_eq!(code_of(err.unwrap_err()), "invalid_input", "{input}");
    }
    let long = json!({"key": "a-key-of-many-bytes", "by": 1});
    let err = host.call_json("r", "tally", long.to_string()).await;
    assert_eq!(code_of(err.unwrap_err()), "kv_key_too_large");
    let big = json!({"key": "big", "by": 9007199254740991u64});
    host.call_json("r", "tally", big.to_string()).await.unwrap();
    let over = json!({"key": "big", "by": 1});
    let err = host.call_json("r", "tally", over.to_string()).await;
    assert_eq!(code_of(err.unwrap_err()), "kv_overflow");
}

async fn a_plugin_never_sees_another_plugins_keys(store: &TestStore) {
    // A shared namespace named like plugin `a` is still not `a`'s own.
    let impostor = Some(KvGrant::shared("default", "a"));
    let host = store.host(vec![
        ("a", proxy(own())),
        ("b", proxy(own())),
        ("c", proxy(impostor)),
    ]);
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

async fn plugins_granted_one_shared_namespace_see_each_others_keys(store: &TestStore) {
    let cart = || Some(KvGrant::shared("default", "cart"));
    let host = store.host(vec![
        ("writer", proxy(cart())),
        ("counter", rust(cart())),
        ("outsider", proxy(own())),
    ]);
    let tally = json!({"key": "items", "by": 3});
    host.call_json("counter", "tally", tally.to_string())
        .await
        .unwrap();
    let get = json!({"op": "get", "key": "items"});
    assert_eq!(kv(&host, "writer", get.clone()).await["ok"]["value"], 3);
    assert_eq!(kv(&host, "outsider", get).await, json!({"ok": null}));
}

async fn without_a_grant_every_operation_is_refused_as_not_granted(store: &TestStore) {
    let host = store.host(vec![("p", proxy(None)), ("r", rust(None))]);
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
    store.assert_empty("no grant, no store");
}

async fn each_limit_answers_its_own_code(store: &TestStore) {
    let mut plugin = proxy(own());
    plugin.limits.max_kv_key = 16;
    plugin.limits.max_kv_value = 64;
    plugin.limits.max_kv_namespace_keys = 3;
    plugin.limits.max_kv_namespace_bytes = 100;
    let host = store.host(vec![("p", plugin)]);
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

async fn thousands_of_operations_in_one_call_reach_the_per_call_limit(store: &TestStore) {
    let mut plugin = proxy(own());
    // Thousands of store calls run on the slow lane at nice 19, which a CPU
    // busy with other tests can starve for seconds: this is about the count.
    plugin.limits.timeout = std::time::Duration::from_secs(60);
    let host = store.host(vec![("p", plugin)]);
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

async fn hostile_requests_are_answered_not_obeyed(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
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

async fn state_outlives_a_new_version_of_the_plugin(store: &TestStore) {
    let host = store.host(vec![("p", proxy(own()))]);
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

async fn state_outlives_the_host_and_a_new_one_opens_the_same_store(store: &TestStore) {
    let first = store.host(vec![("p", proxy(own()))]);
    let set = json!({"op": "set", "key": "k", "value": [1, 2]});
    let written = version(&kv(&first, "p", set).await);
    drop(first);
    let second = store.host(vec![("p", proxy(own()))]);
    let got = kv(&second, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got, json!({"ok": {"value": [1, 2], "version": written}}));
    let next = json!({"op": "set", "key": "j", "value": 0});
    assert!(
        version(&kv(&second, "p", next).await) > written,
        "versions never repeat"
    );
}

async fn two_hosts_in_one_process_share_one_store(store: &TestStore) {
    let one = store.host(vec![("p", proxy(own()))]);
    let two = store.host(vec![("p", proxy(own()))]);
    let set = json!({"op": "set", "key": "k", "value": 1});
    assert_eq!(code(&kv(&one, "p", set).await), "ok");
    let got = kv(&two, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], 1);
}

async fn a_value_at_the_size_limit_is_kept_whole_and_one_byte_more_is_refused(store: &TestStore) {
    let mut plugin = proxy(own());
    let limit = plugin.limits.max_kv_value as usize;
    plugin.limits.max_input = 2 * limit as u64;
    plugin.limits.max_output = 2 * limit as u64;
    let host = store.host(vec![("p", plugin)]);
    // A JSON string of `limit` bytes with its quotes, ending in a
    // two-byte character.
    let value = "v".repeat(limit - 4) + "\u{e9}";
    assert_eq!(serde_json::to_string(&value).unwrap().len(), limit);
    let set = json!({"op": "set", "key": "big", "value": value});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
    let got = kv(&host, "p", json!({"op": "get", "key": "big"})).await;
    assert_eq!(
        got["ok"]["value"],
        value.as_str(),
        "the value comes back whole"
    );
    let over = json!({"op": "set", "key": "big", "value": value.clone() + "v"});
    assert_eq!(code(&kv(&host, "p", over).await), "kv_value_too_large");
    let got = kv(&host, "p", json!({"op": "get", "key": "big"})).await;
    assert_eq!(
        got["ok"]["value"],
        value.as_str(),
        "the refused write changed nothing"
    );
}

async fn the_embedder_reaches_a_plugins_namespace_and_only_its(store: &TestStore) {
    let host = store.host(vec![
        ("a", proxy(own())),
        ("b", proxy(own())),
        ("bare", proxy(None)),
    ]);
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
