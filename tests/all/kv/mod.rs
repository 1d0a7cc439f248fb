//! Host-managed key-value state (`polyplug_kv`, docs/contract.md,
//! "Host-managed state"): each operation, versions, atomicity, namespaces,
//! grants, limits, durability, and requests a hostile plugin makes. Most
//! go through `PROXY`, the smallest module that hands its input to the
//! store as a request and answers the store's answer; `tally` goes through
//! the Rust reference guest.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the proxy, hosts on a [`TestStore`], tests of one backend's files and of config |
//! | `semantics.rs` | the contract's semantics, each test run on every backend |
//! | `redis.rs` | what only Redis has: many hosts, a server that stops or hangs |

mod redis;
mod semantics;

use std::collections::BTreeMap;
use std::path::Path;

use polyplug::{Host, HostConfig, KvGrant, KvNamespace, LoadError, PluginConfig, StoreConfig};
use serde_json::{Value, json};

use polyplug_test_redis::RedisServer;

use crate::support::{RUST, wat_plugin};

/// `kv`: the input is the request, the answer the output. `repeat`: the
/// input request 5,000 times, the last answer. `huge`, `garbage`, `null`,
/// `bad_handle`: a 16 MiB block of zeros, bytes that are not UTF-8, the
/// null handle and an offset that is no block, as the request.
pub(super) const PROXY: &str = r#"(module
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
pub(super) fn proxy(grant: Option<KvGrant>) -> PluginConfig {
    let mut plugin = wat_plugin(PROXY);
    plugin.kv = grant;
    plugin
}

/// The Rust reference guest, granted `grant`.
pub(super) fn rust(grant: Option<KvGrant>) -> PluginConfig {
    let mut plugin = RUST.plugin();
    plugin.kv = grant;
    plugin
}

pub(super) fn own() -> Option<KvGrant> {
    Some(KvGrant::own("default"))
}

/// A config of `plugins` whose `default` store is `store`.
fn config_with(store: StoreConfig, plugins: Vec<(&str, PluginConfig)>) -> HostConfig {
    let mut config = HostConfig::new(
        plugins
            .into_iter()
            .map(|(name, plugin)| (name.to_string(), plugin)),
    );
    config.stores = BTreeMap::from([("default".to_string(), store)]);
    config
}

/// A config of `plugins` whose `default` store is `dir/kv.redb`.
fn config(dir: &Path, plugins: Vec<(&str, PluginConfig)>) -> HostConfig {
    config_with(StoreConfig::embedded(dir.join("kv.redb")), plugins)
}

fn host(dir: &Path, plugins: Vec<(&str, PluginConfig)>) -> Host {
    Host::new(config(dir, plugins)).unwrap_or_else(|err| panic!("loading failed: {err}"))
}

/// The `default` store of a test, on one backend: an embedded file in a
/// temporary directory, or a `redis-server` of the test's own.
pub(super) struct TestStore {
    dir: tempfile::TempDir,
    redis: Option<RedisServer>,
}

impl TestStore {
    pub fn embedded() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            redis: None,
        }
    }

    pub fn redis() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            redis: Some(RedisServer::start()),
        }
    }

    pub fn store_config(&self) -> StoreConfig {
        match &self.redis {
            Some(server) => StoreConfig::redis(server.url()),
            None => StoreConfig::embedded(self.dir.path().join("kv.redb")),
        }
    }

    pub fn config(&self, plugins: Vec<(&str, PluginConfig)>) -> HostConfig {
        config_with(self.store_config(), plugins)
    }

    pub fn host(&self, plugins: Vec<(&str, PluginConfig)>) -> Host {
        Host::new(self.config(plugins)).unwrap_or_else(|err| panic!("loading failed: {err}"))
    }

    /// The test's redis-server; panics on the embedded backend.
    pub fn server(&self) -> &RedisServer {
        self.redis.as_ref().expect("a Redis test store")
    }

    pub fn server_mut(&mut self) -> &mut RedisServer {
        self.redis.as_mut().expect("a Redis test store")
    }

    /// Asserts that nothing was stored: no file, or no key in Redis.
    pub fn assert_empty(&self, why: &str) {
        match &self.redis {
            Some(server) => assert_eq!(server.dbsize(), 0, "{why}"),
            None => assert!(!self.dir.path().join("kv.redb").exists(), "{why}"),
        }
    }
}

/// Sends `request` through the proxy `plugin` and returns the answer.
pub(super) async fn kv(host: &Host, plugin: &str, request: Value) -> Value {
    let answer = host
        .call_json(plugin, "kv", request.to_string())
        .await
        .unwrap_or_else(|err| panic!("{request}: {err}"));
    serde_json::from_slice(&answer).unwrap()
}

/// `count` tallies of 1 on `key` through plugin `counter` from each of
/// `callers` concurrent tasks; the values the tallies saw.
pub(super) async fn tallies(host: &Host, key: &str, callers: usize, count: usize) -> Vec<i64> {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (host, key) = (host.clone(), key.to_string());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..count {
                    let out: Value = host
                        .call("counter", "tally", &json!({"key": key, "by": 1}))
                        .await
                        .unwrap();
                    seen.push(out["value"].as_i64().unwrap());
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    seen
}

/// The error code of an answer, or `"ok"`.
pub(super) fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("ok")
}

pub(super) fn version(answer: &Value) -> u64 {
    answer["ok"]["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version in {answer}"))
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

#[test]
fn a_redis_store_is_declared_by_url_and_its_password_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.wat"), "(module)").unwrap();
    let text = r#"
        [stores.sessions]
        type = "redis"
        url = "redis://app:hunter2@127.0.0.1:6379/2"

        [plugins.a]
        wasm = "m.wat"
        kv = { store = "sessions", namespace = "cart" }
    "#;
    let file = dir.path().join("polyplug.toml");
    let config = HostConfig::from_text(&file, text).unwrap();
    let store = &config.stores["sessions"];
    assert_eq!(
        store,
        &StoreConfig::redis("redis://app:hunter2@127.0.0.1:6379/2")
    );
    let StoreConfig::Redis { url, .. } = store else {
        panic!("{store:?}")
    };
    assert_eq!(url.expose(), "redis://app:hunter2@127.0.0.1:6379/2");
    for shown in [format!("{config:?}"), format!("{store:?}"), url.to_string()] {
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("redis://app:***@127.0.0.1:6379/2"),
            "{shown}"
        );
    }
    assert!(
        !config.stores.contains_key("default"),
        "no grant of `default`, no implicit store"
    );
    std::fs::write(dir.path().join("ca.pem"), "").unwrap();
    let tls = text.replace(
        "url = \"redis://app:hunter2@127.0.0.1:6379/2\"",
        "url = \"rediss://redis.internal:6380\"\n        ca = \"ca.pem\"",
    );
    let config = HostConfig::from_text(&file, &tls).unwrap();
    assert_eq!(
        config.stores["sessions"],
        StoreConfig::redis_tls("rediss://redis.internal:6380", dir.path().join("ca.pem"))
    );
}

#[test]
fn a_redis_store_built_in_code_with_a_bad_url_is_refused_at_load() {
    let config = config_with(
        StoreConfig::redis("redis://:hunter2@127.0.0.1:1/sessions"),
        vec![("p", proxy(own()))],
    );
    let err = Host::new(config).err().expect("refused");
    assert!(
        matches!(&err, LoadError::StoreOpen { plugin, store, .. } if plugin == "p" && store == "default"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("redis://:***@127.0.0.1:1/sessions"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}
