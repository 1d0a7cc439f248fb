//! What the suite found wrong in Extism, each test named after what broke.
//! A test of something not yet fixed carries `#[should_panic]` with the
//! evidence of today's failure: it passes while the bug is there, and
//! fails, telling whoever fixed it to drop the attribute, once it is gone.
//! Each says where the fix belongs; the fixed ones say where it is.
//!
//! Tests that crash or starve the process run it in a child (`child.rs`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use polyplug::{AllowedPath, CallError, HostPattern};
use serde_json::json;

use super::harness::{SLACK, describe};
use super::{child, cpu, files, wat};
use crate::support::{RUST, Route, TestServer, host_with};

/// Calls `f` of a plugin of [`wat::module`]`(body)`, in a child test.
fn call_in_child(body: &str) -> Result<Vec<u8>, CallError> {
    let host = host_with("forger", wat::plugin(body));
    child::runtime().block_on(host.call_json("forger", "f", "{}"))
}

/// Runs the child test `name` of this module and asserts that it passed.
fn in_child(name: &str) {
    let path = format!("hostile::findings::{name}");
    child::assert_passed(&path, &child::run(&path));
}

// Extism trusts lengths that live in the plugin's own memory: the output
// length in the kernel's memory root, and each block's length in the
// block's header. A plugin can set both, and the host then read (or
// copied) that many bytes past the end of linear memory: SIGSEGV, which
// took every plugin of the process down.
//
// Fixed in polyplug (`runtime/kernel.rs`): the kernel's memory is the
// host's, with its block table out of the plugin's reach, so these
// forgeries write ordinary bytes and change no length. They still run in
// a child, so a regression shows as a failed test rather than a dead test
// binary; each asserts exactly what the plugin legitimately asked for.

/// The kernel's `store_u64` bounds check compares the last byte written
/// with the size of the memory root, but the root starts at offset 1, so
/// offset 57 (the root's `output_length`) passes.
#[test]
fn a_forged_output_length_must_not_crash_the_host() {
    in_child("child_forged_output_length");
}

#[test]
#[ignore = "runs in a child process, started by `a_forged_output_length_must_not_crash_the_host`"]
fn child_forged_output_length() {
    if !child::in_child() {
        return;
    }
    // The output length sits at offset 57 of the kernel's memory root: the
    // one field of the root that `store_u64`'s bounds check lets through.
    let result = call_in_child(
        r#"(func (export "f") (result i32) (local $p i64)
          (local.set $p (call $alloc (i64.const 1)))
          (call $store_u8 (local.get $p) (i32.const 48))
          (call $output_set (local.get $p) (i64.const 1))
          (call $store_u64 (i64.const 57) (i64.const 0x40000000))
          (i32.const 0))"#,
    );
    assert!(
        matches!(&result, Ok(output) if output == b"0"),
        "a forged output length changed the output: {}",
        describe(&result)
    );
}

/// No forging at all: Extism's kernel truncates `alloc(u64::MAX)`'s page
/// count to 32 bits and hands out a block whose length runs past the end
/// of memory; `error_set` on it made Extism read the error string from
/// there. polyplug's kernel counts the request against `memory`.
#[test]
fn an_allocation_of_2_64_bytes_set_as_the_error_must_not_crash_the_host() {
    in_child("child_huge_allocation_as_error");
}

#[test]
#[ignore = "runs in a child process, started by `an_allocation_of_2_64_bytes_set_as_the_error_must_not_crash_the_host`"]
fn child_huge_allocation_as_error() {
    if !child::in_child() {
        return;
    }
    let result = call_in_child(
        r#"(func (export "f") (result i32)
          (call $error_set (call $alloc (i64.const -1)))
          (i32.const 1))"#,
    );
    assert!(
        matches!(result, Err(CallError::MemoryLimit { .. })),
        "{}",
        describe(&result)
    );
}

/// Every host function that takes a handle (`config_get`, `var_get`,
/// `var_set`, `http_request`, and `log_*` when logging is on) reads as many
/// bytes as the block's header claims.
#[test]
fn a_forged_block_length_passed_to_a_host_function_must_not_crash_the_host() {
    in_child("child_forged_block_length");
}

#[test]
#[ignore = "runs in a child process, started by `a_forged_block_length_passed_to_a_host_function_must_not_crash_the_host`"]
fn child_forged_block_length() {
    if !child::in_child() {
        return;
    }
    // In Extism's kernel a block's header (12 bytes before its data:
    // status, size, used) is ordinary kernel memory; `used` became 2GiB.
    // Here the write lands before the arena and is ignored: `config_get`
    // reads the 16 bytes of the key, finds no such key, and the plugin
    // sets no output.
    let result = call_in_child(
        r#"(func (export "f") (result i32) (local $p i64)
          (local.set $p (call $alloc (i64.const 16)))
          (call $store_u64 (i64.sub (local.get $p) (i64.const 8)) (i64.const 0x7ffffff000000010))
          (drop (call $config_get (local.get $p)))
          (i32.const 0))"#,
    );
    assert!(
        matches!(result, Err(CallError::InvalidOutput { .. })),
        "{}",
        describe(&result)
    );
}

/// When the timeout interrupts the kernel call that a host function makes
/// (`var_get` looking up its key's length), Extism's `memory_handle` drops
/// the interrupt (`unwrap_or_default`) and fails the host function with
/// "invalid handle offset for var key": about one call in three of this
/// loop, so forty calls show it.
///
/// Fixed in polyplug (`failure.rs`, `limit_or_trap`): a call that failed at
/// or past its deadline is a `Timeout`, whatever the message says.
#[test]
fn a_timeout_inside_a_host_function_is_reported_as_a_timeout() {
    let case = cpu::spinning("", cpu::VAR_GET, super::harness::Expect::Timeout);
    let host = host_with("looper", case.plugin);
    let runtime = child::runtime();
    for _ in 0..40 {
        let result = runtime.block_on(host.call_json("looper", "f", "{}"));
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "a call that ran out its timeout was reported as a trap: {}",
            describe(&result)
        );
    }
}

/// An HTTP server on 127.0.0.1 that redirects every request to `location`,
/// with `{"redirect":302}` as the body of its 302.
fn redirecting_to(location: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = r#"{"redirect":302}"#;
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write_all(head.as_bytes());
        }
    });
    base
}

/// Extism checks `allowed_hosts` against the URL the plugin asked for, and
/// its HTTP client (ureq) then follows redirects anywhere: an allowed host
/// with an open redirect reaches internal addresses.
///
/// Fixed in polyplug (`runtime/http.rs`): no redirect is
/// followed; the plugin gets the 3xx, and a request to its `Location` is
/// checked like any other.
#[test]
fn an_http_redirect_is_not_followed() {
    let data = TestServer::start(BTreeMap::from([(
        "/data".to_string(),
        Route::json(200, r#"{"answer":42}"#),
    )]));
    // `localhost` is the same machine under a name the plugin was not
    // granted: a stand-in for a metadata service or an internal API.
    let port = data.base.rsplit(':').next().unwrap();
    let redirect = redirecting_to(format!("http://localhost:{port}/data"));
    let mut plugin = RUST.plugin();
    let redirector = redirect.trim_start_matches("http://");
    plugin.allowed_hosts = vec![HostPattern::parse(redirector).unwrap()];
    let host = host_with("fetcher", plugin);
    let input = json!({ "url": format!("{redirect}/start") });
    let result = child::runtime().block_on(host.call::<_, serde_json::Value>(
        "fetcher",
        "fetch_json",
        &input,
    ));
    // The guest gets the 302 itself, body and all.
    assert!(
        result
            .as_ref()
            .is_ok_and(|out| out.to_string().contains(r#"{"redirect":302}"#)),
        "followed a redirect to `localhost`, which is not in `allowed_hosts`: {result:?}"
    );
}

/// Extism runs start-up code twice: once when it links the module, before
/// it installs the memory limiter, and again when a call instantiates it.
/// The kernel's memory is shared by both, so this module grew (and
/// touched) 64MiB only the first time; calls then succeeded while the
/// first instance held the memory for as long as the plugin was loaded.
/// With more memories, or `init_fuel` to spare, it was gigabytes.
///
/// Fixed in polyplug (`runtime/mod.rs`, `runtime/state.rs`): the store's
/// memory limiter is in place before the module is instantiated, so the
/// start function's `memory.grow` stops it at the memory limit and the
/// module does not load; wasmtime's pooling allocator caps every memory
/// at `memory` as well (`runtime/engine.rs`).
#[test]
fn start_up_code_cannot_grow_memory_past_the_limit() {
    let body = r#"(memory 1)
        (func $start (local $i i32)
          (if (i32.eqz (call $load_u8 (i64.const 65)))
            (then
              (drop (call $alloc (i64.const 1)))
              (drop (memory.grow (i32.const 1024)))
              (loop $touch
                (i32.store8 (local.get $i) (i32.const 1))
                (local.set $i (i32.add (local.get $i) (i32.const 4096)))
                (br_if $touch (i32.lt_u (local.get $i) (i32.const 0x4000000)))))))
        (start $start)"#;
    let mut plugin = wat::plugin(body);
    plugin.limits.memory = 4 << 20;
    match polyplug::Host::new(crate::support::config_with("grower", plugin)) {
        Err(polyplug::LoadError::Instantiate { reason, .. }) => {
            assert!(reason.contains("memory limit"), "{reason}");
        }
        Err(other) => panic!("expected an instantiation failure, got {other}"),
        Ok(host) => {
            let result = child::runtime().block_on(host.call_json("grower", "good", "{}"));
            panic!(
                "loaded and served {} although its start-up code grew memory to 64MiB, past a 4MiB ceiling",
                describe(&result)
            );
        }
    }
}

/// `poll_oneoff` with one relative clock subscription: the call blocks in
/// wasmtime-wasi, where the epoch interrupt cannot reach it, for as long as
/// the plugin asked (up to 584 years), holding an instance slot and a
/// thread, and its caller waited as long.
///
/// Fixed in polyplug (`lane.rs`): WASI runs async, so the sleeping call
/// yields to the slow lane; its caller gets `Timeout` at the timeout plus
/// 20 ms, and the call is dropped then with its instance, which frees its
/// place in the pool (`async_contract.rs` checks the next call gets it).
#[test]
fn a_wasi_sleep_ends_at_the_timeout() {
    let body = r#"(memory (export "memory") 1)
        (func (export "f") (result i32)
          (i32.store8 (i32.const 8) (i32.const 0))
          (i32.store (i32.const 16) (i32.const 1))
          (i64.store (i32.const 24) (i64.const 2000000000))
          (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
          (call $emit_number (i64.const 0))
          (i32.const 0))"#;
    let poll = r#"(import "wasi_snapshot_preview1" "poll_oneoff"
        (func $poll (param i32 i32 i32 i32) (result i32)))"#;
    let mut plugin = crate::support::wat_plugin(&wat::module_importing(poll, body));
    plugin.wasi = true;
    plugin.limits.timeout = Duration::from_millis(100);
    let host = host_with("sleeper", plugin);
    let started = Instant::now();
    let result = child::runtime().block_on(host.call_json("sleeper", "f", "{}"));
    let took = started.elapsed();
    assert!(
        matches!(result, Err(CallError::Timeout { .. }))
            && took < Duration::from_millis(100) + SLACK,
        "slept {took:?} past its 100ms timeout, then returned {}",
        describe(&result)
    );
}

/// A WASI plugin with any `allowed_paths` can open files until the process
/// runs out of descriptors. wasmtime-wasi offers no cap, so polyplug drops
/// the instance of such a plugin after every call (`Generation::keep`),
/// which closes its files; during the call the exposure remains
/// (SECURITY.md).
#[test]
fn a_wasi_plugin_cannot_exhaust_the_hosts_file_descriptors() {
    in_child("child_file_descriptor_exhaustion");
}

#[test]
#[ignore = "runs in a child process, started by `a_wasi_plugin_cannot_exhaust_the_hosts_file_descriptors`"]
fn child_file_descriptor_exhaustion() {
    if !child::in_child() {
        return;
    }
    let sandbox = files::Sandbox::new();
    // Opens `inside.txt` until `path_open` fails (at most 2^20 times) and
    // writes how many it holds; it never closes one. The host drops the
    // instance after the call, which closes them.
    let body = r#"(memory (export "memory") 1)
        (data (i32.const 1024) "inside.txt")
        (func (export "f") (result i32) (local $n i64)
          (block $full (loop $open
            (br_if $full (i32.ne (i32.const 0)
              (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 10)
                (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16))))
            (local.set $n (i64.add (local.get $n) (i64.const 1)))
            (br_if $open (i64.lt_u (local.get $n) (i64.const 0x100000)))))
          (call $emit_number (local.get $n))
          (i32.const 0))"#;
    let open = r#"(import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#;
    let mut plugin = crate::support::wat_plugin(&wat::module_importing(open, body));
    plugin.wasi = true;
    plugin.limits.timeout = Duration::from_secs(30);
    plugin.allowed_paths = vec![AllowedPath::new(sandbox.mount(), "/data", false)];
    let host = host_with("hoarder", plugin);
    let runtime = child::runtime();
    let result = runtime.block_on(host.call_json("hoarder", "f", "{}"));
    // (Where the fd limit is over 2^20, the loop stops first and this
    // cannot show the exhaustion.)
    let socket = std::net::TcpListener::bind("127.0.0.1:0");
    assert!(
        socket.is_ok(),
        "the plugin opened {} files and left the host out of file descriptors: {socket:?}",
        describe(&result)
    );
}

/// Extism looks host functions up by name on every call (`output_length`,
/// and `length` for the error message), and wasmtime adds each lookup of a
/// host function to the store, which keeps it until the store is dropped:
/// with polyplug's checked `length` and `output_length`, a kept instance
/// grew by about 94 bytes a call (the soak's 1,050,000 calls: +50 MiB).
///
/// Fixed in polyplug (`generation.rs`, `CALLS_PER_INSTANCE`): an instance
/// serves 10,000 calls, then a fresh one takes over, which still bounds
/// whatever a guest leaks now that polyplug runs calls itself (no lookup
/// is stored per call any more). Seen here through the var store, which
/// lives as long as its instance.
#[test]
fn an_instance_is_replaced_after_ten_thousand_calls() {
    let body = format!(
        r#"{key}
        (func (export "f") (result i32) (local $v i64) (local $n i64) (local $h i64)
          (local.set $v (call $var_get (call $key)))
          (if (i64.ne (local.get $v) (i64.const 0))
            (then (local.set $n (call $load_u64 (local.get $v)))))
          (local.set $n (i64.add (local.get $n) (i64.const 1)))
          (local.set $h (call $alloc (i64.const 8)))
          (call $store_u64 (local.get $h) (local.get $n))
          (call $var_set (call $key) (local.get $h))
          (call $emit_number (local.get $n))
          (i32.const 0))"#,
        key = wat::kernel_bytes("$key", b"n"),
    );
    let host = host_with("counter", wat::plugin(&body));
    let runtime = child::runtime();
    let call = || {
        runtime
            .block_on(host.call_json("counter", "f", "{}"))
            .unwrap()
    };
    for served in 1..=10_000 {
        assert_eq!(call(), served.to_string().into_bytes(), "call {served}");
    }
    assert_eq!(
        call(),
        b"1",
        "the 10,001st call still ran on the first instance"
    );
}
