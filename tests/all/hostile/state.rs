//! Hostile use of key-value state among good use: while one plugin hammers
//! its store with everything the hostile suite knows (requests over every
//! limit, foreign namespaces, malformed requests, thousands of operations
//! per call, a full quota), each answered with its own code, another
//! plugin on the same store counts on, exactly, undisturbed. (The
//! refusals one by one: `tests/all/kv.rs`; a Redis store going away
//! under load: `tests/all/kv_redis.rs` when it exists.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polyplug::{Host, HostConfig, KvGrant, StoreConfig};
use serde_json::{Value, json};

use crate::kv::proxy;
use crate::support::RUST;

/// Increments the good plugin makes while the hostile one runs.
const GOOD_INCREMENTS: i64 = 300;

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("ok")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_store_use_gets_its_codes_while_another_plugin_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut hostile = proxy(Some(KvGrant::own("default")));
    hostile.limits.max_kv_namespace_keys = 20;
    hostile.limits.max_kv_value = 1024;
    hostile.limits.instances = 2;
    // `repeat` makes thousands of store calls, so it runs on the slow lane
    // at nice 19, which a CPU busy with other tests can starve for seconds;
    // this test is about codes and counts, not speed.
    hostile.limits.timeout = Duration::from_secs(60);
    let mut good = RUST.plugin();
    good.kv = Some(KvGrant::own("default"));
    let mut config = HostConfig::new(BTreeMap::from([
        ("hostile".to_string(), hostile),
        ("good".to_string(), good),
    ]));
    config.stores.insert(
        "default".into(),
        StoreConfig::embedded(dir.path().join("state.redb")),
    );
    let host = Arc::new(Host::new(config).unwrap());

    // Fill the hostile plugin's quota, so its writes meet a full namespace.
    for n in 0..20 {
        let set = json!({"op": "set", "key": format!("k{n}"), "value": n}).to_string();
        host.call_json("hostile", "kv", set).await.unwrap();
    }
    let table: Vec<(&str, String, &str)> = vec![
        (
            "kv",
            json!({"op": "set", "key": "one_more", "value": 1}).to_string(),
            "kv_namespace_full",
        ),
        (
            "kv",
            json!({"op": "set", "key": "k0", "value": "v".repeat(2000)}).to_string(),
            "kv_value_too_large",
        ),
        (
            "kv",
            json!({"op": "get", "key": "k".repeat(300)}).to_string(),
            "kv_key_too_large",
        ),
        (
            "kv",
            json!({"op": "get", "key": "hits", "namespace": "plugin:good"}).to_string(),
            "kv_invalid_request",
        ),
        (
            "kv",
            json!({"op": "increment", "key": "k1", "by": 9_007_199_254_740_992_u64}).to_string(),
            "kv_overflow",
        ),
        (
            "kv",
            json!({"op": "list", "limit": 0}).to_string(),
            "kv_invalid_request",
        ),
        (
            "repeat",
            json!({"op": "get", "key": "k1"}).to_string(),
            "kv_too_many_operations",
        ),
        ("huge", "{}".to_string(), "kv_value_too_large"),
        ("garbage", "{}".to_string(), "kv_invalid_request"),
        ("null", "{}".to_string(), "kv_invalid_request"),
    ];
    let done = Arc::new(AtomicBool::new(false));
    let attacker = tokio::spawn({
        let (host, done) = (host.clone(), done.clone());
        async move {
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) || rounds == 0 {
                for (function, input, want) in &table {
                    let out = host.call_json("hostile", function, input.clone()).await;
                    let answer: Value = serde_json::from_slice(&out.unwrap()).unwrap();
                    assert_eq!(code(&answer), *want, "{function} {input}");
                }
                rounds += 1;
            }
            rounds
        }
    });
    for n in 1..=GOOD_INCREMENTS {
        let out = host
            .call_json("good", "tally", r#"{"key":"hits","by":1}"#)
            .await
            .expect("the good plugin keeps serving");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(r#"{{"key":"hits","value":{n}}}"#)
        );
    }
    done.store(true, Ordering::Relaxed);
    let rounds = attacker.await.unwrap();
    assert!(rounds >= 1);
    // The hostile plugin's own keys are as it left them.
    let listed = host
        .call_json("hostile", "kv", r#"{"op":"list"}"#)
        .await
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(listed["ok"]["items"].as_array().unwrap().len(), 20);
}
