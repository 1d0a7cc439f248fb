//! `Host::call_measured`: the output of `call_json` plus the wall time,
//! fuel and peak memory of the call, for failures too.

use polyplug::CallError;

use crate::support::{RUST, host_with, module_with_output, wat_plugin};

const PAGE: u64 = 64 * 1024;

/// `grow` grows linear memory (1 page at start) by `pages`, then writes
/// `{}`; `keep` allocates a kernel block of `bytes` and writes `{}`.
fn memory_module(pages: u32, bytes: u64) -> String {
    format!(
        r#"(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (memory (export "memory") 1)
          (func $empty_object
            (local $p i64)
            (local.set $p (call $alloc (i64.const 2)))
            (call $store_u8 (local.get $p) (i32.const 123))
            (call $store_u8 (i64.add (local.get $p) (i64.const 1)) (i32.const 125))
            (call $output_set (local.get $p) (i64.const 2)))
          (func (export "grow") (result i32)
            (drop (memory.grow (i32.const {pages})))
            (call $empty_object)
            (i32.const 0))
          (func (export "keep") (result i32)
            (drop (call $alloc (i64.const {bytes})))
            (call $empty_object)
            (i32.const 0)))"#
    )
}

#[tokio::test]
async fn a_measured_call_returns_the_same_output_and_what_it_used() {
    let host = host_with("guest", RUST.plugin());
    let input = r#"{"name":"Ada"}"#;
    let plain = host.call_json("guest", "greet", input).await.unwrap();
    let (measured, stats) = host.call_measured("guest", "greet", input).await;
    assert_eq!(measured.unwrap(), plain);
    assert!(stats.fuel > 0, "{stats:?}");
    assert!(stats.peak_memory >= PAGE, "{stats:?}");
    assert!(!stats.elapsed.is_zero(), "{stats:?}");
}

#[tokio::test]
async fn peak_memory_counts_linear_memory_grown_during_the_call() {
    let host = host_with("grower", wat_plugin(&memory_module(15, 8)));
    let (result, stats) = host.call_measured("grower", "grow", "{}").await;
    assert_eq!(result.unwrap(), b"{}");
    assert!(stats.peak_memory >= 16 * PAGE, "{stats:?}");
    assert!(stats.peak_memory < 17 * PAGE, "{stats:?}");
}

#[tokio::test]
async fn peak_memory_counts_kernel_blocks_the_call_allocated() {
    let host = host_with("keeper", wat_plugin(&memory_module(0, 300_000)));
    let (result, stats) = host.call_measured("keeper", "keep", "{}").await;
    assert_eq!(result.unwrap(), b"{}");
    assert!(stats.peak_memory >= PAGE + 300_000, "{stats:?}");
    // Blocks are rounded up to a size class: at most twice the request.
    assert!(stats.peak_memory <= 2 * PAGE + 600_000, "{stats:?}");
}

#[tokio::test]
async fn a_call_that_runs_out_of_fuel_reports_all_of_it() {
    let spin = r#"(module (func (export "spin") (result i32) (loop (br 0)) (i32.const 0)))"#;
    let mut plugin = wat_plugin(spin);
    plugin.limits.fuel = 1_000_000;
    let host = host_with("spinner", plugin);
    let (result, stats) = host.call_measured("spinner", "spin", "{}").await;
    assert!(
        matches!(result, Err(CallError::OutOfFuel { .. })),
        "{result:?}"
    );
    assert_eq!(stats.fuel, 1_000_000);
}

#[tokio::test]
async fn a_call_refused_before_running_used_nothing() {
    let host = host_with("answer", wat_plugin(&module_with_output("answer", b"{}")));
    let (result, stats) = host.call_measured("answer", "answer", "{").await;
    assert!(
        matches!(result, Err(CallError::InvalidInput { .. })),
        "{result:?}"
    );
    assert_eq!((stats.fuel, stats.peak_memory), (0, 0));

    let (result, stats) = host.call_measured("nobody", "answer", "{}").await;
    assert!(
        matches!(result, Err(CallError::UnknownPlugin { .. })),
        "{result:?}"
    );
    assert_eq!((stats.fuel, stats.peak_memory), (0, 0));
}
