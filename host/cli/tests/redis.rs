//! Two `polyplug serve` processes on one Redis store: the shape of a
//! deployment of N stateless hosts behind a load balancer
//! (docs/deploy.md). Their increments add up exactly, as if one host
//! served them all.

mod support;

use std::collections::BTreeSet;

use polyplug_test_redis::RedisServer;
use support::{Server, request};

/// The smallest module that hands its input to the store and answers the
/// store's answer.
const PROXY: &str = r#"(module
  (import "extism:host/env" "input_offset" (func $input (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "polyplug_kv" (func $kv (param i64) (result i64)))
  (func (export "kv") (result i32)
    (local $a i64)
    (local.set $a (call $kv (call $input)))
    (call $output_set (local.get $a) (call $length (local.get $a)))
    (i32.const 0)))"#;

#[test]
fn increments_sent_to_two_serve_processes_on_one_redis_add_up_exactly() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proxy.wat"), PROXY).unwrap();
    let config = dir.path().join("polyplug.toml");
    let text = format!(
        "[stores.shared]\ntype = \"redis\"\nurl = \"{}\"\n\n\
         [plugins.counter]\nwasm = \"proxy.wat\"\nkv = \"shared\"\ninstances = 4\n",
        redis.url()
    );
    std::fs::write(&config, text).unwrap();
    let servers = [
        Server::start(&config, &[], false),
        Server::start(&config, &[], false),
    ];
    let seen: Vec<i64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..8)
            .map(|i| {
                let addr = servers[i % 2].addr;
                scope.spawn(move || {
                    (0..100)
                        .map(|_| {
                            let body = br#"{"op":"increment","key":"hits","by":1}"#;
                            let response =
                                request(addr, "POST", "/v1/plugins/counter/kv", &[], body)
                                    .expect("the server answers");
                            assert_eq!(response.status, 200, "{}", response.body);
                            response.json()["ok"]["value"].as_i64().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        callers
            .into_iter()
            .flat_map(|caller| caller.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), 800);
    assert_eq!(
        distinct,
        (1..=800).collect::<BTreeSet<i64>>(),
        "each increment, on either process, saw its own value"
    );
    // Each process counts its own operations, labelled by store.
    for server in &servers {
        let metrics = request(server.addr, "GET", "/metrics", &[], b"").unwrap();
        let line = metrics
            .body
            .lines()
            .find(|l| {
                l.starts_with("polyplug_kv_operations_total{")
                    && l.contains(r#"store="shared""#)
                    && l.contains(r#"operation="increment""#)
                    && l.contains(r#"result="ok""#)
            })
            .unwrap_or_else(|| panic!("{}", metrics.body));
        let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(count, 400, "{line}");
    }
}
