//! ABI abuse: Extism's kernel and host functions called with offsets and
//! lengths that were never allocated, huge or hostile log lines, and a full
//! variable store. Out of bounds, the kernel reads 0 and ignores writes;
//! host functions fail the call as a `Trap` naming the bad handle.
//!
//! Kernel metadata that a plugin forges (a block length, the output length)
//! crashes the host instead: see `findings.rs`.

use super::harness::{Case, Expect, check_once};
use super::wat::kernel_bytes;

/// Far past the end of any memory, but within `u64`.
const FAR: &str = "(i64.const 0xffffffffffff)";
/// Inside Extism's first memory page, but never handed out by `alloc`.
const BOGUS: &str = "(i64.const 0x1234)";

/// A case whose export `f` runs `statements`, then writes `number` (an
/// `i64` expression) as its output.
fn writes(name: &str, statements: &str, number: &str, expect: u64) -> Case {
    let body = format!(
        r#"{key} (func (export "f") (result i32)
          {statements}
          (call $emit_number {number})
          (i32.const 0))"#,
        key = kernel_bytes("$key", b"key"),
    );
    Case::wat(name, &body, Expect::Output(expect.to_string().into_bytes()))
}

/// A case whose export `f` runs `statements` and returns 0.
fn runs(name: &str, statements: &str, expect: Expect) -> Case {
    let body = format!(
        r#"{key} {request} (func (export "f") (result i32) {statements} (i32.const 0))"#,
        key = kernel_bytes("$key", b"key"),
        request = kernel_bytes("$not_json", b"GET / HTTP/1.1"),
    );
    Case::wat(name, &body, expect)
}

/// Log lines no terminal or log collector should trust.
const ANSI: &[u8] =
    b"\x1b[31mred\x1b[0m\r\n2099-01-01T00:00:00Z  INFO forged: line\x1b]0;title\x07\x1b[2J";
const NOT_UTF8: &[u8] = b"not \xff\xfe utf-8 \xc3";

pub fn cases() -> Vec<Case> {
    let log_lines = format!(
        r#"{ansi} {not_utf8}
        (func (export "f") (result i32)
          (call $log_info (call $ansi)) (call $log_warn (call $ansi))
          (call $log_error (call $ansi)) (call $log_debug (call $ansi))
          (call $log_info (call $not_utf8)) (call $log_warn (call $not_utf8))
          (call $log_error (call $not_utf8)) (call $log_debug (call $not_utf8))
          (call $emit_number (i64.const 0))
          (i32.const 0))"#,
        ansi = kernel_bytes("$ansi", ANSI),
        not_utf8 = kernel_bytes("$not_utf8", NOT_UTF8),
    );
    vec![
        writes(
            "`load_u64` far out of bounds reads 0",
            "",
            &format!("(call $load_u64 {FAR})"),
            0,
        ),
        writes(
            "`load_u8` far out of bounds reads 0",
            "",
            &format!("(i64.extend_i32_u (call $load_u8 {FAR}))"),
            0,
        ),
        writes(
            "`store_u64` and `store_u8` far out of bounds are ignored",
            &format!(
                "(call $store_u64 {FAR} (i64.const -1)) (call $store_u8 {FAR} (i32.const 255))"
            ),
            &format!("(call $load_u64 {FAR})"),
            0,
        ),
        writes(
            "`input_load_u64` past the input reads 0",
            "",
            "(call $input_load_u64 (i64.const 0x10000000000))",
            0,
        ),
        writes(
            "`input_load_u8` past the input reads 0",
            "",
            "(i64.extend_i32_u (call $input_load_u8 (i64.const 0x10000000000)))",
            0,
        ),
        writes(
            "`length` and `length_unsafe` of offsets never allocated are 0",
            "",
            &format!("(i64.add (call $length {BOGUS}) (call $length_unsafe {FAR}))"),
            0,
        ),
        writes(
            "`free` of offsets never allocated, and twice of one that was, is ignored",
            &format!(
                "(call $free {BOGUS}) (call $free {FAR}) (call $free (i64.const 0))
                 (call $free (call $key)) (call $free (call $key))"
            ),
            "(i64.const 0)",
            0,
        ),
        writes(
            "`free` of the input empties it",
            "(call $free (call $input_offset))",
            "(call $input_length)",
            0,
        ),
        writes(
            "`reset` in the middle of a call drops the input",
            "(call $reset)",
            "(call $input_length)",
            0,
        ),
        runs(
            // Extism's kernel handed out a block longer than its memory
            // (see `findings.rs`); polyplug's counts against `memory`.
            "`alloc` of 2^64-1 bytes ends the call at the memory limit",
            "(drop (call $alloc (i64.const -1)))",
            Expect::MemoryLimit,
        ),
        writes(
            "`config_get` of a key not configured is 0",
            "",
            "(call $config_get (call $key))",
            0,
        ),
        runs(
            "`output_set` at an offset never allocated is ignored",
            &format!("(call $output_set {BOGUS} (i64.const 16))"),
            Expect::InvalidOutput,
        ),
        runs(
            "`error_set` at an offset never allocated is ignored",
            &format!("(call $error_set {BOGUS}) (call $emit_number (i64.const 0))"),
            Expect::Output(b"0".to_vec()),
        ),
        Case::wat(
            "`error_set` at an offset never allocated, then returning 1",
            &format!(r#"(func (export "f") (result i32) (call $error_set {BOGUS}) (i32.const 1))"#),
            Expect::Trap("non-zero exit code: 1"),
        ),
        runs(
            // Extism dropped such a line unread when logging was off and
            // failed the call when it was on; polyplug always checks.
            "`log_info` at an offset never allocated",
            &format!("(call $log_info {BOGUS}) (call $emit_number (i64.const 0))"),
            Expect::Trap("invalid handle offset for log message"),
        ),
        Case::wat(
            "log lines with ANSI escapes and invalid UTF-8, at every level",
            &log_lines,
            Expect::Output(b"0".to_vec()),
        ),
        runs(
            "a 16MiB log line",
            "(call $log_info (call $alloc (i64.const 0x1000000))) (call $emit_number (i64.const 0))",
            Expect::Output(b"0".to_vec()),
        ),
        runs(
            "`config_get` at an offset never allocated",
            &format!("(drop (call $config_get {BOGUS}))"),
            Expect::Trap("invalid handle offset for config key"),
        ),
        runs(
            "`var_get` at an offset never allocated",
            &format!("(drop (call $var_get {BOGUS}))"),
            Expect::Trap("invalid handle offset for var key"),
        ),
        runs(
            "`var_set` of a key never allocated",
            &format!("(call $var_set {BOGUS} (call $key))"),
            Expect::Trap("invalid handle offset for var key"),
        ),
        runs(
            "`var_set` of a value never allocated",
            &format!("(call $var_set (call $key) {BOGUS})"),
            Expect::Trap("invalid handle offset for var value"),
        ),
        Case::wat(
            // Extism caps the store at 1MiB by default, counting keys and
            // values; each value here is 64KiB under a new 8-byte key.
            "filling the variable store",
            r#"(func $key_of (param $i i64) (result i64) (local $p i64)
                (local.set $p (call $alloc (i64.const 8)))
                (call $store_u64 (local.get $p) (local.get $i))
                (local.get $p))
              (func (export "f") (result i32) (local $i i64)
                (loop $more
                  (local.set $i (i64.add (local.get $i) (i64.const 1)))
                  (call $var_set (call $key_of (local.get $i)) (call $alloc (i64.const 0x10000)))
                  (br $more))
                (i32.const 0))"#,
            Expect::Trap("Variable store is full"),
        ),
        runs(
            "`http_request` at an offset never allocated",
            &format!("(drop (call $http_request {BOGUS} (i64.const 0)))"),
            Expect::Trap("invalid handle offset for http request"),
        ),
        runs(
            "`http_request` of a request that is not JSON",
            "(drop (call $http_request (call $not_json) (i64.const 0)))",
            Expect::Trap("expected value"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_abuse_is_ignored_or_ends_the_call() {
    check_once(cases()).await;
}

/// What the host log holds after a plugin wrote hostile lines: nothing a
/// terminal would act on (no ESC, BEL, CR or LF inside a line), invalid
/// UTF-8 replaced, and a 16MiB line cut to a few KiB. It runs in a child
/// process with a global subscriber, as a service has one: the call may
/// finish on polyplug's slow lane, and a subscriber scoped to the test's
/// thread, shared with the other tests of this binary, lost a line there.
#[test]
fn plugin_log_lines_reach_the_log_escaped_and_capped() {
    let path = "hostile::abi::child_log_lines";
    super::child::assert_passed(path, &super::child::run(path));
}

#[test]
#[ignore = "runs in a child process, started by `plugin_log_lines_reach_the_log_escaped_and_capped`"]
fn child_log_lines() {
    use std::sync::{Arc, Mutex};

    if !super::child::in_child() {
        return;
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let body = format!(
        r#"{ansi} {not_utf8}
        (func (export "f") (result i32)
          (call $log_warn (call $ansi)) (call $log_error (call $not_utf8))
          (call $log_info (call $alloc (i64.const 0x1000000)))
          (call $emit_number (i64.const 0))
          (i32.const 0))"#,
        ansi = kernel_bytes("$ansi", ANSI),
        not_utf8 = kernel_bytes("$not_utf8", NOT_UTF8),
    );
    let host = crate::support::host_with("chatty", super::wat::plugin(&body));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    tracing::subscriber::set_global_default(subscriber).expect("the child's only subscriber");
    let result = runtime.block_on(host.call_json("chatty", "f", "{}"));
    assert_eq!(result.unwrap(), b"0");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).expect("the log is UTF-8");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("polyplug::guest"))
        .collect();
    assert_eq!(lines.len(), 3, "one line per plugin log call:\n{log}");
    for forbidden in ['\x1b', '\x07', '\r'] {
        assert!(
            !log.contains(forbidden),
            "{forbidden:?} reached the log:\n{log}"
        );
    }
    assert!(lines[0].contains(r"\u{1b}[31mred") && lines[0].contains(r"\u{d}\u{a}2099"));
    assert!(
        lines[1].contains("not \u{fffd}\u{fffd} utf-8"),
        "{}",
        lines[1]
    );
    assert!(lines[2].len() < 64 << 10, "a {} byte line", lines[2].len());
    assert!(lines[2].contains("more bytes)"), "{}", &lines[2][..200]);
}
