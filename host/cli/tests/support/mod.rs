//! What the process tests share: `polyplug serve` on free loopback ports,
//! a small HTTP client, and modules that answer a fixed JSON value.

#![allow(dead_code)] // Each test file uses its own part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that moves `examples/polyplug.toml`'s store.
pub const EXAMPLE_STORE: &str = "POLYPLUG__STORES__DEFAULT__PATH";

/// A store file no other process uses, for one `polyplug` on
/// `examples/polyplug.toml` (set it as [`EXAMPLE_STORE`]): an embedded store
/// admits one process at a time, these tests run processes side by side,
/// and none should write state into the tree.
pub fn private_store() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-state");
    std::fs::create_dir_all(&dir).expect("the test's state folder");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}.redb", std::process::id()));
    // A file left by an earlier run with the same process id.
    let _ = std::fs::remove_file(&path);
    path
}

/// An admin token for tests.
pub const TOKEN: &str = "an-admin-token-for-process-tests";

/// A binary module: `answer` writes `json` at once; `slow` waits `slow`
/// of wall time (WASI's clock, so it needs `wasi = true`), then writes
/// it. `padding` goes into a custom section, to make distinct versions
/// of any size.
pub fn module(json: &str, slow: Duration, padding: &[u8]) -> Vec<u8> {
    let stores: String = json
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            format!("(call $store_u8 (i64.add (local.get $p) (i64.const {i})) (i32.const {b}))")
        })
        .collect();
    let wat = format!(
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
          (func $write (local $p i64)
            (local.set $p (call $alloc (i64.const {len})))
            {stores}
            (call $output_set (local.get $p) (i64.const {len})))
          (func (export "answer") (result i32) (call $write) (i32.const 0))
          (func (export "slow") (result i32)
            (local $until i64)
            (local.set $until (i64.add (call $now) (i64.const {nanos})))
            (loop $wait (br_if $wait (i64.lt_u (call $now) (local.get $until))))
            (call $write)
            (i32.const 0)))"#,
        len = json.len(),
        nanos = slow.as_nanos()
    );
    let mut binary = wat::parse_str(wat).expect("the test module is valid WAT");
    let name = b"padding";
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(padding);
    binary.push(0);
    binary.extend(leb128(section.len()));
    binary.extend(section);
    binary
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A free loopback port (free when asked; good enough for tests).
pub fn free_addr() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `polyplug serve` on free loopback ports, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The admin API's address (listening only when a token is set).
    pub admin: SocketAddr,
}

impl Server {
    /// Starts serving `config` with `args` after `serve`, and the admin
    /// token in the environment when `admin` is set; waits until ready.
    pub fn start(config: &Path, args: &[&str], admin: bool) -> Self {
        let (addr, admin_addr) = (free_addr(), free_addr());
        let mut command = Command::new(env!("CARGO_BIN_EXE_polyplug"));
        command
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", &addr.to_string()])
            .args(args)
            .env("POLYPLUG__ADMIN__LISTEN", admin_addr.to_string())
            .env_remove("POLYPLUG_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if admin {
            command.env("POLYPLUG_ADMIN_TOKEN", TOKEN);
        }
        let child = command.spawn().expect("polyplug starts");
        let server = Self {
            child,
            addr,
            admin: admin_addr,
        };
        server.wait_for(|| {
            request(addr, "GET", "/readyz", &[], b"").is_some_and(|r| r.status == 200)
        });
        if admin {
            server.wait_for(|| request(admin_addr, "POST", "/admin/reload", &[], b"").is_some());
        }
        server
    }

    /// `plugin`'s `function` output, when it answered 200.
    pub fn call(&self, plugin: &str, function: &str) -> Option<String> {
        let path = format!("/v1/plugins/{plugin}/{function}");
        let response = request(self.addr, "POST", &path, &[], b"{}")?;
        (response.status == 200).then_some(response.body)
    }

    /// An authorized admin request.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let bearer = format!("Bearer {TOKEN}");
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        request(self.admin, method, path, &all, body).expect("the admin API answers")
    }

    pub fn wait_for(&self, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(30), "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One request on a connection of its own (`Connection: close`); `None`
/// when nothing listens or the connection broke.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Response> {
    let stream = TcpStream::connect(addr).ok()?;
    let mut connection = Connection::new(stream);
    connection.send(method, path, headers, body, true)
}

/// A kept-alive HTTP/1.1 connection.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self::new(stream))
    }

    fn new(stream: TcpStream) -> Self {
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends one request and reads its response (`Content-Length` bodies
    /// only, which is what axum sends for these); `None` if the
    /// connection broke.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> Option<Response> {
        let extra: String = headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        let connection = if close { "close" } else { "keep-alive" };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().ok()?;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// How many kills a crash test makes (`POLYPLUG_KILLS`, default 50) and the
/// generator that places them, seeded from `POLYPLUG_CRASH_SEED` or at random;
/// the seed is printed, and returned for failure messages, so a failure can
/// be replayed.
pub fn crash_plan() -> (usize, u64, fastrand::Rng) {
    let kills: usize = std::env::var("POLYPLUG_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("POLYPLUG_CRASH_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("POLYPLUG_CRASH_SEED={seed}");
    (kills, seed, fastrand::Rng::with_seed(seed))
}
