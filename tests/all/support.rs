//! What the test modules share: where the guests are, hosts built from
//! inline WAT, and a local HTTP server for `fetch_json`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polyplug::{Host, HostConfig, PluginConfig, StoreConfig, WasmSource};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// A reference guest in one language, as built by `just build-guests`.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    pub language: &'static str,
    file: &'static str,
    pub wasi: bool,
}

pub const RUST: Guest = Guest {
    language: "rust",
    file: "reference-rust.wasm",
    wasi: false,
};
pub const GO: Guest = Guest {
    language: "go",
    file: "reference-go.wasm",
    wasi: true,
};
pub const ASSEMBLYSCRIPT: Guest = Guest {
    language: "assemblyscript",
    file: "reference-as.wasm",
    wasi: false,
};

pub const JS: Guest = Guest {
    language: "js",
    file: "reference-js.wasm",
    wasi: true,
};

/// A plugin built from `tests/js/<name>.js` by `just build-guest-js`.
pub fn js_test_plugin(name: &str) -> PluginConfig {
    let path = repo_root()
        .join("target/guests/js-tests")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "`{}` is missing: run `just build-guests` (or `just test`, which builds it)",
        path.display()
    );
    let mut plugin = PluginConfig::new(WasmSource::File(path));
    plugin.wasi = true;
    plugin
}

impl Guest {
    /// The guest's module; fails the test with the fix if it was not built.
    pub fn wasm(&self) -> PathBuf {
        let path = repo_root().join("target/guests").join(self.file);
        assert!(
            path.is_file(),
            "`{}` is missing: run `just build-guests` (or `just test`, which builds it)",
            path.display()
        );
        path
    }

    /// A plugin config for this guest with default limits.
    pub fn plugin(&self) -> PluginConfig {
        let mut plugin = PluginConfig::new(WasmSource::File(self.wasm()));
        plugin.wasi = self.wasi;
        plugin
    }
}

/// `examples/polyplug.toml` with its `default` store replaced by `store`,
/// so a test writes no state into the tree and shares no store file with
/// another process (an embedded store admits one process at a time).
pub fn example_config(store: StoreConfig) -> HostConfig {
    let mut config = HostConfig::from_file(repo_root().join("examples/polyplug.toml"))
        .expect("examples/polyplug.toml loads");
    assert!(
        config.stores.contains_key("default"),
        "the example declares the store `default`"
    );
    config.stores.insert("default".to_string(), store);
    config
}

/// A config with one plugin named `name`.
pub fn config_with(name: &str, plugin: PluginConfig) -> HostConfig {
    HostConfig::new(BTreeMap::from([(name.to_string(), plugin)]))
}

/// A host with one plugin named `name`.
pub fn host_with(name: &str, plugin: PluginConfig) -> Host {
    Host::new(config_with(name, plugin))
        .unwrap_or_else(|err| panic!("loading `{name}` failed: {err}"))
}

/// A plugin config for an inline WAT module.
pub fn wat_plugin(wat: &str) -> PluginConfig {
    PluginConfig::new(WasmSource::Bytes(Arc::from(wat.as_bytes())))
}

/// A WAT module whose export `name` writes `bytes` as its output.
pub fn module_with_output(name: &str, bytes: &[u8]) -> String {
    module_writing(
        name,
        bytes,
        "(call $output_set (local.get $p) (i64.const {len})) (i32.const 0)",
    )
}

/// A WAT module whose export `name` sets `bytes` as its Extism error and
/// returns 1.
pub fn module_with_error(name: &str, bytes: &[u8]) -> String {
    module_writing(
        name,
        bytes,
        "(call $error_set (local.get $p)) (i32.const 1)",
    )
}

fn module_writing(name: &str, bytes: &[u8], finish: &str) -> String {
    let len = bytes.len();
    let stores: String = bytes
        .iter()
        .enumerate()
        .map(|(i, byte)| {
            format!(
                "(call $store_u8 (i64.add (local.get $p) (i64.const {i})) (i32.const {byte}))\n"
            )
        })
        .collect();
    let finish = finish.replace("{len}", &len.to_string());
    format!(
        r#"(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (import "extism:host/env" "error_set" (func $error_set (param i64)))
          (func (export "{name}") (result i32)
            (local $p i64)
            (local.set $p (call $alloc (i64.const {len})))
            {stores}
            {finish}))"#
    )
}

/// A WASI module whose behaviour does not depend on CPU speed: `spin`
/// never ends; `wait` busy-waits on the monotonic clock until `wait` of
/// wall time has passed, then writes `0`; `quick` writes `0` at once;
/// `crash` traps. Its fuel is unlimited in practice, so only the timeout
/// stops `spin`.
pub fn clock_plugin(wait: std::time::Duration) -> PluginConfig {
    let module = format!(
        r#"(module
        (import "wasi_snapshot_preview1" "clock_time_get"
          (func $clock (param i32 i64 i32) (result i32)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
        (memory (export "memory") 1)
        (func $now (result i64)
          (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))
          (i64.load (i32.const 0)))
        (func $write_zero
          (local $p i64)
          (local.set $p (call $alloc (i64.const 1)))
          (call $store_u8 (local.get $p) (i32.const 48))
          (call $output_set (local.get $p) (i64.const 1)))
        (func (export "spin") (result i32) (loop (br 0)) (i32.const 0))
        (func (export "crash") (result i32) unreachable)
        (func (export "quick") (result i32) (call $write_zero) (i32.const 0))
        (func (export "wait") (result i32)
          (local $until i64)
          (local.set $until (i64.add (call $now) (i64.const {nanos})))
          (loop $wait (br_if $wait (i64.lt_u (call $now) (local.get $until))))
          (call $write_zero)
          (i32.const 0)))"#,
        nanos = wait.as_nanos()
    );
    let mut plugin = wat_plugin(&module);
    plugin.wasi = true;
    plugin.limits.fuel = u64::MAX / 2;
    plugin
}

/// One canned response of the test HTTP server, as in `routes.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Route {
    pub status: u16,
    /// The exact body, when it is UTF-8 text.
    #[serde(default)]
    pub body: String,
    /// The exact body as hex, for bodies that are not UTF-8.
    #[serde(default)]
    pub body_hex: Option<String>,
}

impl Route {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            body_hex: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match &self.body_hex {
            None => self.body.clone().into_bytes(),
            Some(hex) => (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("body_hex is hex"))
                .collect(),
        }
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 serving canned routes, one thread per
/// test; it lives until the test process ends.
pub struct TestServer {
    pub base: String,
}

impl TestServer {
    /// Serves `tests/vectors/fetch_json/routes.json`.
    pub fn vectors() -> Self {
        let path = repo_root().join("tests/vectors/fetch_json/routes.json");
        let text = std::fs::read_to_string(&path).expect("routes.json is readable");
        Self::start(serde_json::from_str(&text).expect("routes.json is valid"))
    }

    pub fn start(routes: BTreeMap<String, Route>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Skip the headers; the routes ignore them.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let not_found = Route::json(404, "no such route");
                let route = routes.get(path).unwrap_or(&not_found);
                let body = route.bytes();
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    route.status,
                    body.len(),
                );
                let _ = (&stream).write_all(head.as_bytes());
                let _ = (&stream).write_all(&body);
            }
        });
        Self { base }
    }

    /// `127.0.0.1:<port>`: the `allowed_hosts` entry that admits this
    /// server and no other port of the machine.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

/// A response as the tests see it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request with `Connection: close`, answered in full; enough
/// for tests, with no client library to build.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> HttpResponse {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with more request headers.
pub async fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut body = raw[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// A WASI module whose `sleep` asks WASI's `poll_oneoff` to sleep for
/// `wait` (where no epoch tick can reach it), then writes `0`; `quick`
/// writes `0` at once.
pub fn sleep_plugin(wait: std::time::Duration) -> PluginConfig {
    let module = format!(
        r#"(module
        (import "wasi_snapshot_preview1" "poll_oneoff"
          (func $poll (param i32 i32 i32 i32) (result i32)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
        (memory (export "memory") 1)
        (func $write_zero
          (local $p i64)
          (local.set $p (call $alloc (i64.const 1)))
          (call $store_u8 (local.get $p) (i32.const 48))
          (call $output_set (local.get $p) (i64.const 1)))
        (func (export "quick") (result i32) (call $write_zero) (i32.const 0))
        (func (export "sleep") (result i32)
          ;; One subscription at 0: a relative timeout on the monotonic clock.
          (i32.store8 (i32.const 8) (i32.const 0))
          (i32.store (i32.const 16) (i32.const 1))
          (i64.store (i32.const 24) (i64.const {nanos}))
          (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
          (call $write_zero)
          (i32.const 0)))"#,
        nanos = wait.as_nanos()
    );
    let mut plugin = wat_plugin(&module);
    plugin.wasi = true;
    plugin
}

/// A folder holding `polyplug.toml` and the modules it names.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("polyplug.toml")
    }

    pub fn write(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        self
    }

    /// A module file `<name>.wat` whose `answer` writes `text`.
    pub fn module(&self, name: &str, text: &str) -> &Self {
        self.write(
            &format!("{name}.wat"),
            &module_with_output("answer", text.as_bytes()),
        )
    }

    /// The config, naming each plugin's module `<name>.wat`, with `extra`
    /// lines added to the plugin's table.
    pub fn config(&self, plugins: &[(&str, &str)]) -> &Self {
        let text: String = plugins
            .iter()
            .map(|(name, extra)| format!("[plugins.{name}]\nwasm = \"{name}.wat\"\n{extra}\n"))
            .collect();
        self.write("polyplug.toml", &text)
    }

    pub fn host(&self) -> Host {
        Host::from_config_file(self.config_file()).unwrap()
    }
}

/// What `plugin`'s `answer` writes, as text.
pub async fn answer(host: &Host, plugin: &str) -> String {
    let output = host.call_json(plugin, "answer", "{}").await.unwrap();
    String::from_utf8(output).unwrap()
}

/// A key pair that signs as `polyplug sign` does.
pub struct Signer(minisign::KeyPair);

impl Signer {
    pub fn new() -> Self {
        Self(minisign::KeyPair::generate_unencrypted_keypair().unwrap())
    }

    /// The public key's base64 line, as a config lists it.
    pub fn key(&self) -> String {
        self.0.pk.to_base64()
    }

    pub fn id(&self) -> String {
        polyplug::TrustedKey::parse(&self.key())
            .unwrap()
            .id()
            .to_string()
    }

    /// The `.pub` file's text.
    pub fn pub_file(&self) -> String {
        self.0.pk.to_box().unwrap().to_string()
    }

    /// A signature of `module` for `plugin` at `version`.
    pub fn sign(&self, plugin: &str, version: &str, module: &[u8]) -> String {
        let sha256 = polyplug::signature::module_sha256(module).unwrap();
        self.sign_with_sha(plugin, version, module, &sha256)
    }

    pub fn sign_with_sha(
        &self,
        plugin: &str,
        version: &str,
        module: &[u8],
        sha256: &str,
    ) -> String {
        let comment = polyplug::signature::trusted_comment(
            plugin,
            &polyplug::signature::Version::parse(version).unwrap(),
            sha256,
        );
        minisign::sign(Some(&self.0.pk), &self.0.sk, module, Some(&comment), None)
            .unwrap()
            .to_string()
    }
}
