//! The WAT every hostile module shares: all of Extism's imports, a few
//! helpers that need no linear memory of the module's own, and a `good`
//! export, so that each case's module is only the lines that misbehave.

use polyplug::PluginConfig;

use crate::support::wat_plugin;

/// What `good` writes, and what the harness expects from it.
pub const GOOD_OUTPUT: &[u8] = br#"{"ok":true}"#;

/// Every function of `extism:host/env` a guest can import, kernel and host
/// alike, with its exact signature. Imports that a module does not call
/// cost nothing.
const IMPORTS: &str = r#"
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func $length_unsafe (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "reset" (func $reset))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (import "extism:host/env" "log_debug" (func $log_debug (param i64)))
"#;

/// `$emit_number` writes an unsigned integer as the output, in decimal
/// (one JSON number), straight into Extism memory.
const HELPERS: &str = r#"
  (func $emit_number (param $v i64)
    (local $n i64) (local $len i64) (local $p i64)
    (local.set $n (local.get $v))
    (local.set $len (i64.const 1))
    (block $counted (loop $count
      (br_if $counted (i64.lt_u (local.get $n) (i64.const 10)))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (local.set $len (i64.add (local.get $len) (i64.const 1)))
      (br $count)))
    (local.set $p (call $alloc (local.get $len)))
    (local.set $n (local.get $len))
    (loop $digit
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (call $store_u8 (i64.add (local.get $p) (local.get $n))
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $output_set (local.get $p) (local.get $len)))
"#;

/// A module of `body` with the imports, the helpers and `good`.
pub fn module(body: &str) -> String {
    module_importing("", body)
}

/// [`module`] with more `imports` (which WAT wants before any definition).
pub fn module_importing(imports: &str, body: &str) -> String {
    let good = kernel_bytes("$good_output", GOOD_OUTPUT);
    format!(
        r#"(module {IMPORTS} {imports} {HELPERS} {good}
          (func (export "good") (result i32)
            (call $output_set (call $good_output) (i64.const {len}))
            (i32.const 0))
          {body})"#,
        len = GOOD_OUTPUT.len()
    )
}

/// A plugin of [`module`]`(body)` with default limits.
pub fn plugin(body: &str) -> PluginConfig {
    wat_plugin(&module(body))
}

/// A function `name` (no parameters, result `i64`) that copies `bytes` into
/// a fresh Extism memory block and returns its offset: how a module hands
/// a constant key, URL or message to the host.
pub fn kernel_bytes(name: &str, bytes: &[u8]) -> String {
    let stores: String = bytes
        .iter()
        .enumerate()
        .map(|(i, byte)| {
            format!("(call $store_u8 (i64.add (local.get $p) (i64.const {i})) (i32.const {byte}))")
        })
        .collect();
    format!(
        r#"(func {name} (result i64) (local $p i64)
          (local.set $p (call $alloc (i64.const {len})))
          {stores}
          (local.get $p))"#,
        len = bytes.len()
    )
}
