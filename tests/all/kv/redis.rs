//! What only the Redis backend has: many hosts on one server, callers that
//! race on one key, and a server that stops, hangs or is not there yet.
//! Hosts of one process share one connection per store; separate
//! processes on one server are `host/cli/tests/redis.rs`.

use std::time::{Duration, Instant};

use polyplug::{CallError, Host, HostConfig, PluginConfig};
use polyplug_test_redis::RedisServer;
use serde_json::{Value, json};

use super::{TestStore, code, config_with, kv, own, proxy, rust, tallies};
use crate::support::RUST;

/// A plugin that may run `callers` calls at once, each with `timeout`.
fn roomy(mut plugin: PluginConfig, callers: usize, timeout: Duration) -> PluginConfig {
    plugin.limits.instances = callers;
    plugin.limits.timeout = timeout;
    plugin.limits.queue_timeout = Duration::from_secs(30);
    plugin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hosts_on_one_redis_add_their_increments_up_exactly() {
    let store = TestStore::redis();
    let counter = || roomy(rust(own()), 6, Duration::from_secs(20));
    let one = store.host(vec![("counter", counter())]);
    let two = store.host(vec![("counter", counter())]);
    let (a, b) = tokio::join!(tallies(&one, "hits", 6, 100), tallies(&two, "hits", 6, 100));
    let mut seen: Vec<i64> = a.into_iter().chain(b).collect();
    seen.sort();
    assert_eq!(
        seen,
        (1..=1200).collect::<Vec<i64>>(),
        "every increment from either host saw its own value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_loops_from_two_hosts_lose_no_update() {
    let store = TestStore::redis();
    let plugin = || roomy(proxy(own()), 4, Duration::from_secs(20));
    let hosts = [
        store.host(vec![("p", plugin())]),
        store.host(vec![("p", plugin())]),
    ];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let host = hosts[i % 2].clone();
            tokio::spawn(async move {
                let mut retries = 0;
                for _ in 0..25 {
                    loop {
                        let got = kv(&host, "p", json!({"op": "get", "key": "n"})).await;
                        let (value, version) = match &got["ok"] {
                            Value::Null => (0, 0),
                            found => (found["value"].as_i64().unwrap(), found["version"].as_u64().unwrap()),
                        };
                        let cas = json!({"op": "cas", "key": "n", "version": version, "value": value + 1});
                        let answer = kv(&host, "p", cas).await;
                        if answer["ok"]["swapped"] == true {
                            break;
                        }
                        assert!(answer["ok"]["version"].as_u64().unwrap() != version, "{answer}");
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    let mut retries = 0;
    for task in tasks {
        retries += task.await.unwrap();
    }
    let got = kv(&hosts[0], "p", json!({"op": "get", "key": "n"})).await;
    assert_eq!(got["ok"]["value"], 200, "after {retries} lost races");
}

/// `count` concurrent `set`s of `value` to keys `<stem>0`, `<stem>1`, ...
/// through plugin `plugin`, alternating between `hosts`; their codes.
async fn racing_sets(
    hosts: &[Host; 2],
    plugin: &str,
    stem: &str,
    count: usize,
    value: Value,
) -> Vec<String> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let host = hosts[i % 2].clone();
            let set = json!({"op": "set", "key": format!("{stem}{i:03}"), "value": value});
            let plugin = plugin.to_string();
            tokio::spawn(async move { code(&kv(&host, &plugin, set).await).to_string() })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap());
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quotas_hold_exactly_when_two_hosts_race_to_fill_a_namespace() {
    let store = TestStore::redis();
    let plugin = || {
        let mut plugin = roomy(proxy(own()), 4, Duration::from_secs(20));
        plugin.limits.max_kv_namespace_keys = 30;
        plugin
    };
    let hosts = [
        store.host(vec![("p", plugin())]),
        store.host(vec![("p", plugin())]),
    ];
    let codes = racing_sets(&hosts, "p", "k", 100, json!(1)).await;
    let ok = codes.iter().filter(|c| *c == "ok").count();
    let full = codes.iter().filter(|c| *c == "kv_namespace_full").count();
    assert_eq!((ok, full), (30, 70), "{codes:?}");
    let list = kv(&hosts[1], "p", json!({"op": "list", "limit": 1000})).await;
    assert_eq!(list["ok"]["items"].as_array().unwrap().len(), 30);
    // Bytes too: each write of 11 bytes (`b000` + `"abcde"`), 100 allowed.
    let plugin = || {
        let mut plugin = roomy(proxy(own()), 4, Duration::from_secs(20));
        plugin.limits.max_kv_namespace_bytes = 100;
        plugin
    };
    let hosts = [
        store.host(vec![("q", plugin())]),
        store.host(vec![("q", plugin())]),
    ];
    let codes = racing_sets(&hosts, "q", "b", 40, json!("abcde")).await;
    let ok = codes.iter().filter(|c| *c == "ok").count();
    assert_eq!(ok, 9, "9 writes of 11 bytes fit in 100: {codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_holding_separators_and_the_highest_character_stay_in_their_namespace() {
    let store = TestStore::redis();
    let host = store.host(vec![
        ("p", proxy(own())),
        ("q", proxy(own())),
        ("s", proxy(Some(polyplug::KvGrant::shared("default", "p")))),
    ]);
    // Keys shaped like the layout's Redis key names, separators, NUL, and
    // U+10FFFF (the largest UTF-8 sequence, F4 8F BF BF).
    let keys = [
        "a",
        "a:1",
        "a\u{10FFFF}",
        "8.plugin:q:data",
        "polyplug:7.default:8.plugin:q:data",
        "\u{0}",
        ":",
        "b",
    ];
    for key in keys {
        let set = json!({"op": "set", "key": key, "value": key});
        assert_eq!(code(&kv(&host, "p", set).await), "ok", "{key:?}");
    }
    for other in ["q", "s"] {
        let list = kv(&host, other, json!({"op": "list"})).await;
        assert_eq!(list, json!({"ok": {"items": []}}), "{other}");
        for key in keys {
            let get = json!({"op": "get", "key": key});
            assert_eq!(
                kv(&host, other, get).await,
                json!({"ok": null}),
                "{other} {key:?}"
            );
        }
    }
    for key in keys {
        let got = kv(&host, "p", json!({"op": "get", "key": key})).await;
        assert_eq!(got["ok"]["value"], key, "{key:?}");
    }
    let listed = |prefix: &str| {
        let host = host.clone();
        let list = json!({"op": "list", "prefix": prefix});
        async move {
            let page = kv(&host, "p", list).await;
            page["ok"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("a").await, ["a", "a:1", "a\u{10FFFF}"]);
    assert_eq!(listed("a\u{10FFFF}").await, ["a\u{10FFFF}"]);
    assert_eq!(listed(":").await, [":"]);
    let mut sorted = keys.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(
        listed("").await,
        sorted,
        "byte order, as the embedded store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_stopped_under_load_answers_unavailable_and_stateless_plugins_keep_serving() {
    let mut store = TestStore::redis();
    let host = store.host(vec![("p", proxy(own())), ("greeter", RUST.plugin())]);
    for n in 0..20 {
        let set = json!({"op": "set", "key": format!("k{n}"), "value": n});
        assert_eq!(code(&kv(&host, "p", set).await), "ok");
    }
    // Load on the store while the server goes away.
    let load = {
        let host = host.clone();
        tokio::spawn(async move {
            let mut codes = Vec::new();
            for n in 0..300 {
                let incr = json!({"op": "increment", "key": "load", "by": 1});
                match host.call_json("p", "kv", incr.to_string()).await {
                    Ok(out) => {
                        let answer: Value = serde_json::from_slice(&out).unwrap();
                        codes.push(code(&answer).to_string());
                    }
                    Err(CallError::Timeout { .. }) => codes.push("timeout".to_string()),
                    Err(other) => panic!("call {n}: {other:?}"),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            codes
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.server_mut().stop();
    let started = Instant::now();
    let answer = kv(&host, "p", json!({"op": "get", "key": "k0"})).await;
    assert_eq!(code(&answer), "kv_unavailable", "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a refused connection answers at once, not at the deadline: {:?}",
        started.elapsed()
    );
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1:"), "{message}");
    let greeting = host
        .call_json("greeter", "greet", r#"{"name":"Ada"}"#)
        .await;
    assert_eq!(greeting.unwrap(), br#"{"greeting":"Hello, Ada!"}"#);
    let codes = load.await.unwrap();
    assert!(codes.iter().any(|c| c == "ok"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "kv_unavailable"), "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| ["ok", "kv_unavailable", "timeout"].contains(&c.as_str())),
        "{codes:?}"
    );
    // The server comes back with its append-only file: what it
    // acknowledged is there, and operations work again.
    store.server_mut().restart();
    for n in 0..20 {
        let got = kv(&host, "p", json!({"op": "get", "key": format!("k{n}")})).await;
        assert_eq!(got["ok"]["value"], n, "{got}");
    }
    let acked = codes.iter().filter(|c| *c == "ok").count() as i64;
    let load = kv(&host, "p", json!({"op": "get", "key": "load"})).await;
    let counted = load["ok"]["value"].as_i64().unwrap();
    assert!(
        counted >= acked,
        "{acked} increments were acknowledged, {counted} survived"
    );
    let metrics = host.metrics();
    let p = metrics.iter().find(|m| m.plugin == "p").unwrap();
    let increments = p.kv.iter().find(|m| m.operation == "increment").unwrap();
    assert_eq!(increments.store, "default");
    assert!(
        increments
            .results
            .iter()
            .any(|(result, n)| *result == "kv_unavailable" && *n > 0),
        "{:?}",
        increments.results
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_times_calls_out_at_their_deadline_and_then_serves_again() {
    let store = TestStore::redis();
    let timeout = Duration::from_millis(400);
    let host = store.host(vec![
        ("p", roomy(proxy(own()), 16, timeout)),
        ("greeter", RUST.plugin()),
    ]);
    let set = json!({"op": "set", "key": "k", "value": 1});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
    store.server().pause();
    let started = Instant::now();
    let calls: Vec<_> = (0..48)
        .map(|n| {
            let host = host.clone();
            tokio::spawn(async move {
                let incr = json!({"op": "increment", "key": format!("c{}", n % 4), "by": 1});
                host.call_json("p", "kv", incr.to_string()).await
            })
        })
        .collect();
    let greeting = host
        .call_json("greeter", "greet", r#"{"name":"Ada"}"#)
        .await;
    assert_eq!(greeting.unwrap(), br#"{"greeting":"Hello, Ada!"}"#);
    for call in calls {
        let result = call.await.unwrap();
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "{result:?}"
        );
    }
    // Three rounds of 16 at 400ms each, and the grace: not a hang.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    store.server().resume();
    let got = kv(&host, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], 1, "{got}");
    let set = json!({"op": "set", "key": "k", "value": 2});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_loads_while_its_redis_is_not_there_and_uses_it_once_it_is() {
    // A port nobody listens on yet: the server starts there later.
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let config: HostConfig = config_with(
        polyplug::StoreConfig::redis(url),
        vec![("p", proxy(own())), ("greeter", RUST.plugin())],
    );
    let started = Instant::now();
    let host = Host::new(config).expect("loading does not connect to Redis");
    assert!(started.elapsed() < Duration::from_secs(10));
    let greeting = host
        .call_json("greeter", "greet", r#"{"name":"Ada"}"#)
        .await;
    assert_eq!(greeting.unwrap(), br#"{"greeting":"Hello, Ada!"}"#);
    let answer = kv(&host, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(code(&answer), "kv_unavailable", "{answer}");
    server.restart();
    let set = json!({"op": "set", "key": "k", "value": "now"});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
    assert_eq!(
        server.dbsize(),
        5,
        "data, versions, keys, usage, the counter"
    );
}

/// The ACL a deployment can give polyplug's Redis user (docs/deploy.md):
/// its keys only, and the commands its scripts run.
const POLYPLUG_ACL: &str = "ACL SETUSER polyplug on >s3cret-pw resetkeys ~polyplug:* \
     resetchannels -@all +evalsha +eval +script|load +hget +hset +hdel +hmget +zadd +zrem \
     +zrangebylex +incr";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_user_limited_to_polyplug_keys_and_commands_is_enough_and_a_wrong_password_is_unavailable()
 {
    let server = RedisServer::start();
    assert_eq!(server.command(POLYPLUG_ACL), "+OK");
    let url = |password: &str| format!("redis://polyplug:{password}@127.0.0.1:{}/0", server.port());
    let host = Host::new(config_with(
        polyplug::StoreConfig::redis(url("s3cret-pw")),
        vec![("p", proxy(own())), ("counter", rust(own()))],
    ))
    .unwrap();
    for request in [
        json!({"op": "set", "key": "a", "value": 1}),
        json!({"op": "cas", "key": "b", "version": 0, "value": 2}),
        json!({"op": "increment", "key": "a", "by": 1}),
        json!({"op": "get", "key": "a"}),
        json!({"op": "list", "prefix": ""}),
        json!({"op": "delete", "key": "b"}),
    ] {
        assert_eq!(
            code(&kv(&host, "p", request.clone()).await),
            "ok",
            "{request}"
        );
    }
    let out = host
        .call_json("counter", "tally", r#"{"key":"t","by":2}"#)
        .await;
    assert_eq!(out.unwrap(), br#"{"key":"t","value":2}"#);
    let wrong = Host::new(config_with(
        polyplug::StoreConfig::redis(url("not-the-password")),
        vec![("p", proxy(own()))],
    ))
    .unwrap();
    let answer = kv(&wrong, "p", json!({"op": "get", "key": "a"})).await;
    assert_eq!(code(&answer), "kv_unavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_verifies_the_server_certificate_against_the_configured_authority() {
    let server = RedisServer::start_tls();
    let trusted = Host::new(config_with(
        polyplug::StoreConfig::redis_tls(server.tls_url(), server.ca_file()),
        vec![("p", proxy(own()))],
    ))
    .unwrap();
    let set = json!({"op": "set", "key": "k", "value": "over tls"});
    assert_eq!(code(&kv(&trusted, "p", set).await), "ok");
    let got = kv(&trusted, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], "over tls");
    assert_eq!(server.dbsize(), 5, "the write reached the server");
    // The system's authorities do not know the test's: the handshake
    // fails, and the plugin gets an answer, not a hang.
    let untrusting = Host::new(config_with(
        polyplug::StoreConfig::redis(server.tls_url()),
        vec![("p", proxy(own()))],
    ))
    .unwrap();
    let answer = kv(&untrusting, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(code(&answer), "kv_unavailable", "{answer}");
    // Plain Redis on the TLS port is not TLS: refused the same way.
    let plain_url = server.tls_url().replace("rediss://", "redis://");
    let plain = Host::new(config_with(
        polyplug::StoreConfig::redis(plain_url),
        vec![("p", proxy(own()))],
    ))
    .unwrap();
    let answer = kv(&plain, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(code(&answer), "kv_unavailable", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_and_hosts_of_one_process_share_one_connection_per_store() {
    let store = TestStore::redis();
    let one = store.host(vec![("a", proxy(own())), ("b", proxy(own()))]);
    let two = store.host(vec![("a", proxy(own()))]);
    for (host, plugin) in [(&one, "a"), (&one, "b"), (&two, "a")] {
        let set = json!({"op": "set", "key": plugin, "value": 1});
        assert_eq!(code(&kv(host, plugin, set).await), "ok");
    }
    // Theirs, and the INFO connection asking.
    assert_eq!(store.server().info("connected_clients"), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_stalled_past_a_second_is_made_anew_and_hung_calls_hold_no_connection() {
    let store = TestStore::redis();
    let host = store.host(vec![(
        "p",
        roomy(proxy(own()), 8, Duration::from_millis(1500)),
    )]);
    let set = json!({"op": "set", "key": "k", "value": 1});
    assert_eq!(code(&kv(&host, "p", set).await), "ok");
    let server = store.server();
    // The host's connection, and the INFO connection asking.
    assert_eq!(server.info("connected_clients"), "2");
    let before: u64 = server.info("total_connections_received").parse().unwrap();
    server.pause();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                let get = json!({"op": "get", "key": "k"});
                host.call_json("p", "kv", get.to_string()).await
            })
        })
        .collect();
    for call in calls {
        let result = call.await.unwrap();
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "{result:?}"
        );
    }
    server.resume();
    let got = kv(&host, "p", json!({"op": "get", "key": "k"})).await;
    assert_eq!(got["ok"]["value"], 1, "{got}");
    let after: u64 = server.info("total_connections_received").parse().unwrap();
    // The stalled connection was given up and one new one made, not one
    // per abandoned call (the other one counted: this INFO's own).
    assert_eq!(after - before, 2, "{before} -> {after}");
    // The stalled connection is closed once its abandoned operations end.
    let started = Instant::now();
    while server.info("connected_clients") != "2" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            server.info("connected_clients")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
