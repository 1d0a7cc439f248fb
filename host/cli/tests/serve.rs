//! `polyplug serve` as a process: SIGHUP and `--watch` reload it while it
//! serves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A WAT module whose `answer` writes `text`.
fn module(text: &str) -> String {
    let stores: String = text
        .bytes()
        .enumerate()
        .map(|(i, b)| format!("(i32.store8 (i32.const {i}) (i32.const {b}))"))
        .collect();
    format!(
        r#"(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (memory 1)
          (func (export "answer") (result i32)
            (local $p i64) (local $i i32)
            {stores}
            (local.set $p (call $alloc (i64.const {len})))
            (block $done (loop $copy
              (br_if $done (i32.ge_u (local.get $i) (i32.const {len})))
              (call $store_u8 (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))
                (i32.load8_u (local.get $i)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $copy)))
            (call $output_set (local.get $p) (i64.const {len}))
            (i32.const 0)))"#,
        len = text.len()
    )
}

/// `polyplug serve` on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(config: &Path, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(env!("CARGO_BIN_EXE_polyplug"))
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", &addr.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("polyplug starts");
        let server = Self { child, addr };
        server.wait_for(|| get(addr, "/readyz").is_some_and(|(status, _)| status == 200));
        server
    }

    fn answer(&self, plugin: &str) -> Option<String> {
        let (status, body) = request(self.addr, "POST", &format!("/v1/plugins/{plugin}/answer"))?;
        (status == 200).then_some(body)
    }

    fn wait_for(&self, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(20), "timed out");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    request(addr, "GET", path)
}

/// One request with `Connection: close`; `None` when nothing listens yet.
fn request(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn project(answer: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.wat"), module(answer)).unwrap();
    std::fs::write(
        dir.path().join("polyplug.toml"),
        "[plugins.a]\nwasm = \"a.wat\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn sighup_reloads_the_config() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[]);
    assert_eq!(server.answer("a").as_deref(), Some("1"));

    std::fs::write(dir.path().join("a.wat"), module("2")).unwrap();
    let hangup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());

    server.wait_for(|| server.answer("a").as_deref() == Some("2"));
}

#[test]
fn serve_watch_reloads_a_saved_module() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &["--watch"]);
    assert_eq!(server.answer("a").as_deref(), Some("1"));

    std::fs::write(dir.path().join("a.wat"), module("2")).unwrap();

    server.wait_for(|| server.answer("a").as_deref() == Some("2"));
}

#[test]
fn without_watch_a_saved_module_changes_nothing() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[]);

    std::fs::write(dir.path().join("a.wat"), module("2")).unwrap();
    std::thread::sleep(Duration::from_millis(800));

    assert_eq!(server.answer("a").as_deref(), Some("1"));
}
