//! Contract: what crosses into and out of a plugin is one strict JSON
//! document. Bad input is refused before the plugin runs, quickly and
//! without copying it into the plugin; bad output never reaches the
//! caller; only exports with the Extism signature can be called.

use std::time::Duration;

use super::harness::{Case, Cost, Expect, check_once};
use super::wat::kernel_bytes;

/// "Well under a second" for checks that read the input once, or not at all.
const FAST: Duration = Duration::from_millis(250);

/// `f` would trap if it ever ran.
const NEVER_RUNS: &str = r#"(func (export "f") (result i32) unreachable)"#;

/// A module whose `f` writes `bytes` as its output.
fn emitting(name: &str, bytes: &[u8], expect: Expect) -> Case {
    let body = format!(
        r#"{out} (func (export "f") (result i32)
          (call $output_set (call $out) (i64.const {len}))
          (i32.const 0))"#,
        out = kernel_bytes("$out", bytes),
        len = bytes.len()
    );
    Case::wat(name, &body, expect)
}

/// A module whose `f` sets `message` as its Extism error and returns 1.
fn failing_with(name: &str, message: &[u8], expect: Expect) -> Case {
    let body = format!(
        r#"{message} (func (export "f") (result i32) (call $error_set (call $message)) (i32.const 1))"#,
        message = kernel_bytes("$message", message),
    );
    Case::wat(name, &body, expect).within(FAST)
}

/// Nesting depth of the deep documents, far past the contract's 128.
const DEEP: u64 = 100_000;

pub fn cases() -> Vec<Case> {
    let deep_input: Vec<u8> = [vec![b'['; DEEP as usize], vec![b']'; DEEP as usize]].concat();
    vec![
        emitting(
            "output that is not JSON",
            b"not json",
            Expect::InvalidOutput,
        ),
        emitting(
            "output that is not UTF-8",
            b"\"\xff\xfe\"",
            Expect::InvalidOutput,
        ),
        emitting("an empty output", b"", Expect::InvalidOutput),
        Case::wat(
            "output nested 100,000 levels deep",
            &format!(
                r#"(func (export "f") (result i32) (local $p i64) (local $i i64)
                  (local.set $p (call $alloc (i64.const {len})))
                  (loop $open
                    (call $store_u64 (i64.add (local.get $p) (local.get $i)) (i64.const 0x5b5b5b5b5b5b5b5b))
                    (local.set $i (i64.add (local.get $i) (i64.const 8)))
                    (br_if $open (i64.lt_u (local.get $i) (i64.const {DEEP}))))
                  (loop $close
                    (call $store_u64 (i64.add (local.get $p) (local.get $i)) (i64.const 0x5d5d5d5d5d5d5d5d))
                    (local.set $i (i64.add (local.get $i) (i64.const 8)))
                    (br_if $close (i64.lt_u (local.get $i) (i64.const {len}))))
                  (call $output_set (local.get $p) (i64.const {len}))
                  (i32.const 0))"#,
                len = 2 * DEEP
            ),
            Expect::InvalidOutput,
        ),
        Case::wat(
            "input nested 100,000 levels deep",
            NEVER_RUNS,
            Expect::InvalidInput,
        )
        .input(deep_input)
        .within(FAST),
        // Were the input copied into the plugin, the 1MiB memory ceiling
        // would turn this into a `MemoryLimit`.
        Case::wat(
            "100MB of input against a 1MiB cap",
            NEVER_RUNS,
            Expect::InputTooLarge(100_000_000),
        )
        .input(vec![b' '; 100_000_000])
        .limits(|l| {
            l.max_input = 1 << 20;
            l.memory = 1 << 20;
        })
        .within(FAST)
        .cost(Cost::Costly(10)),
        // Limits travel as types, so a plugin's own error text cannot pose
        // as one: it is the plugin's error, reported as such.
        failing_with(
            "an error text of `timeout`",
            b"timeout",
            Expect::Trap("timeout"),
        ),
        failing_with("an error text of `oom`", b"oom", Expect::Trap("oom")),
        failing_with(
            "an error text claiming a refused request",
            b"HTTP request to http://evil.example/ is not allowed",
            Expect::Trap("HTTP request to http://evil.example/ is not allowed"),
        ),
        Case::wat(
            "an export that takes a parameter",
            r#"(func (export "f") (param i32) (result i32) (i32.const 0))"#,
            Expect::UnknownFunction,
        ),
        Case::wat(
            "an export with two results",
            r#"(func (export "f") (result i32 i32) (i32.const 0) (i32.const 0))"#,
            Expect::UnknownFunction,
        ),
        Case::new(
            "an export named like toolchain internals",
            super::wat::plugin(r#"(func (export "_f") (result i32) unreachable)"#),
            "_f",
            Expect::UnknownFunction,
        ),
        Case::new(
            "`_initialize`, called as a function",
            super::wat::plugin(r#"(func (export "_initialize"))"#),
            "_initialize",
            Expect::UnknownFunction,
        ),
        Case::wat(
            "an exported global named `f`",
            r#"(global (export "f") i32 (i32.const 0))"#,
            Expect::UnknownFunction,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_strict_json_crosses_and_only_extism_exports_are_called() {
    check_once(cases()).await;
}
