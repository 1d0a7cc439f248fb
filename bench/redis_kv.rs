//! The Redis store rows (`just bench redis`): increments per second on one
//! key of a `redis-server` the bench starts itself (no persistence, on
//! loopback), from the Rust guest's `tally` through `Host::call` against
//! native Rust sending `INCR` over one multiplexed connection of the same
//! `redis` crate, at 1 and at [`CALLERS`] concurrent callers.
//!
//! The two do not do the same work, and the rows say what the whole path
//! costs: a `tally` is a wasm call with JSON in and out, a `polyplug_kv`
//! request checked by the host, and a Lua script (`EVALSHA`) that reads
//! the value, checks the namespace's quotas and writes the value, its
//! version and the usage; `INCR` is one command.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use polyplug::{Host, HostConfig, KvGrant, StoreConfig};
use polyplug_test_redis::RedisServer;
use serde_json::{Value, json};

use crate::{Guest, Row, ratio};

/// Concurrent callers of the second pair of rows.
const CALLERS: usize = 16;
/// Increments per measurement, split over the callers.
const OPERATIONS: usize = 20_000;
/// Measurements of each pair, alternated; the rows show medians.
const ROUNDS: usize = 5;

pub(crate) fn rows(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let rust = Guest::by_name("rust");
    if !rust.built() {
        eprintln!("redis: the Rust guest is not built (`just build-guests`); no rows");
        return Vec::new();
    }
    let server = RedisServer::start_with(false);
    let mut plugin = rust.plugin();
    plugin.kv = Some(KvGrant::own("default"));
    plugin.limits.instances = CALLERS;
    plugin.limits.timeout = Duration::from_secs(10);
    plugin.limits.queue_timeout = Duration::from_secs(10);
    let mut config = HostConfig::new(BTreeMap::from([("counter".to_string(), plugin)]));
    config.stores = BTreeMap::from([("default".to_string(), StoreConfig::redis(server.url()))]);
    let host = Host::new(config).expect("the bench host loads");
    let client = redis::Client::open(server.url()).expect("a Redis URL");
    let connection = runtime
        .block_on(client.get_multiplexed_async_connection())
        .expect("redis-server answers");
    [1, CALLERS]
        .into_iter()
        .map(|callers| {
            eprintln!("redis: increments from {callers} caller(s) ...");
            let mut ours = Vec::new();
            let mut native = Vec::new();
            for _ in 0..ROUNDS {
                native.push(runtime.block_on(incr(&connection, callers)));
                ours.push(runtime.block_on(tally(&host, callers)));
            }
            let (ours, native) = (median(ours), median(native));
            let per_second = |d: Duration| format!("{:.0}/s", OPERATIONS as f64 / d.as_secs_f64());
            Row {
                what: format!("Redis increments, {callers} caller(s): native INCR vs guest tally"),
                language: "rust",
                baseline: per_second(native),
                polyplug: per_second(ours),
                ratio: ratio(ours, native),
                target: "",
            }
        })
        .collect()
}

/// `OPERATIONS` tallies through the host from `callers` tasks.
async fn tally(host: &Host, callers: usize) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                for _ in 0..OPERATIONS / callers {
                    let out: Value = host
                        .call("counter", "tally", &json!({"key": "hits", "by": 1}))
                        .await
                        .expect("tally answers");
                    assert!(out["value"].as_i64().is_some(), "{out}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a tally task");
    }
    started.elapsed()
}

/// `OPERATIONS` `INCR`s from `callers` tasks on one multiplexed connection.
async fn incr(connection: &redis::aio::MultiplexedConnection, callers: usize) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let mut connection = connection.clone();
            tokio::spawn(async move {
                for _ in 0..OPERATIONS / callers {
                    let value: i64 = redis::cmd("INCR")
                        .arg("native-hits")
                        .query_async(&mut connection)
                        .await
                        .expect("INCR answers");
                    assert!(value > 0);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("an INCR task");
    }
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
