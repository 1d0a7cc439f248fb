//! Loading: modules that must never start. Each fails `Host::new` with a
//! typed `LoadError` before any call. (`limits.rs` has the `\0asm` garbage,
//! an unknown import, a looping start function and a wrong sha256 pin.)

use std::sync::Arc;
use std::time::Duration;

use polyplug::{PluginConfig, WasmSource};

use super::harness::{Cost, LoadCase, LoadExpect, check_load};
use super::wat;
use crate::support::{GO, RUST, wat_plugin};

/// Compiling and starting a small module, with room for a cold cache.
const LOAD: Duration = Duration::from_secs(5);

fn case(name: &'static str, plugin: PluginConfig, expect: LoadExpect) -> LoadCase {
    let cost = match expect {
        // Refused before anything is compiled.
        LoadExpect::InvalidModule | LoadExpect::ModuleTooLarge(_) => Cost::Cheap,
        LoadExpect::Instantiate => Cost::Costly(100),
    };
    LoadCase {
        name,
        plugin,
        expect,
        within: LOAD,
        cost,
    }
}

fn bytes(bytes: Vec<u8>) -> PluginConfig {
    PluginConfig::new(WasmSource::Bytes(Arc::from(bytes)))
}

pub fn cases() -> Vec<LoadCase> {
    let rust = std::fs::read(RUST.wasm()).unwrap();
    let truncated = rust[..rust.len() / 2].to_vec();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small = wat::module(r#"(func (export "f") (result i32) (i32.const 0))"#);
    let mut too_large_bytes = wat_plugin(&small);
    too_large_bytes.limits.max_module = 64;
    let mut too_large_file = GO.plugin();
    too_large_file.limits.max_module = 1 << 20;
    let go_size = std::fs::metadata(GO.wasm()).unwrap().len();
    let mut looping_init = wat_plugin(
        r#"(module (func (export "_initialize") (loop (br 0)))
                   (func (export "f") (result i32) (i32.const 0)))"#,
    );
    looping_init.limits.init_fuel = 10_000_000;
    vec![
        case(
            "a truncated module",
            bytes(truncated),
            LoadExpect::InvalidModule,
        ),
        case(
            "bytes that are neither wasm nor WAT",
            bytes(garbage),
            LoadExpect::InvalidModule,
        ),
        case(
            "module bytes over `max_module`",
            too_large_bytes,
            LoadExpect::ModuleTooLarge(small.len() as u64),
        ),
        case(
            "a module file over `max_module`",
            too_large_file,
            LoadExpect::ModuleTooLarge(go_size),
        ),
        case(
            "GC types",
            wat_plugin(
                r#"(module (type $bytes (array (mut i8)))
                   (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::InvalidModule,
        ),
        case(
            "a shared memory",
            wat_plugin(
                r#"(module (memory 1 1 shared) (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::InvalidModule,
        ),
        // Extism instantiates a module once before it installs its memory
        // limiter: an initial memory over `memory` would be allocated there.
        case(
            "4GiB of initial memory",
            wat_plugin(r#"(module (memory 65536) (func (export "f") (result i32) (i32.const 0)))"#),
            LoadExpect::InvalidModule,
        ),
        // Growth spread over a second memory: wasmtime's pooling allocator,
        // which caps each memory, allows one per module.
        case(
            "two memories",
            wat_plugin(
                r#"(module (memory 1) (memory 1) (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::InvalidModule,
        ),
        case(
            "an import from the kernel that does not exist",
            wat_plugin(
                r#"(module (import "extism:host/env" "spawn_shell" (func))
                   (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::Instantiate,
        ),
        case(
            "a kernel function imported with the wrong signature",
            wat_plugin(
                r#"(module (import "extism:host/env" "alloc" (func (param i32) (result i32)))
                   (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::Instantiate,
        ),
        case(
            "the kernel's memory, imported",
            wat_plugin(
                r#"(module (import "extism:host/env" "memory" (memory 1))
                   (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::Instantiate,
        ),
        // Extism runs these while linking, before its host functions can
        // reach memory: each of them used to kill the host (a null
        // pointer dereferenced in `CurrentPlugin`).
        case(
            "a start function calling a host function",
            wat_plugin(&wat::module(
                r#"(func $start (drop (call $config_get (i64.const 77)))) (start $start)"#,
            )),
            LoadExpect::Instantiate,
        ),
        case(
            "a start function logging",
            wat_plugin(&wat::module(
                r#"(func $start (call $log_error (i64.const 77))) (start $start)"#,
            )),
            LoadExpect::Instantiate,
        ),
        // Extism's limiter counts linear memory only: a table without a
        // maximum grew until the host's allocation failed (`table.grow` by
        // 4Mi entries took 32MiB under a 1MiB `memory`).
        case(
            "a table without a maximum that the code grows",
            wat_plugin(&wat::module(
                r#"(table $t 0 funcref)
                (func (export "f") (result i32)
                  (drop (table.grow $t (ref.null func) (i32.const 0x400000)))
                  (i32.const 0))"#,
            )),
            LoadExpect::InvalidModule,
        ),
        case(
            "tables declaring more than 2^20 entries",
            wat_plugin(&wat::module(
                r#"(table 0x80000 funcref) (table 0x80001 funcref)"#,
            )),
            LoadExpect::InvalidModule,
        ),
        case(
            "a start function that traps",
            wat_plugin(
                r#"(module (func $start unreachable) (start $start)
                   (func (export "f") (result i32) (i32.const 0)))"#,
            ),
            LoadExpect::Instantiate,
        ),
        LoadCase {
            within: Duration::from_secs(2),
            cost: Cost::Costly(20),
            ..case(
                "a loop in `_initialize`, within `init_fuel`",
                looping_init,
                LoadExpect::Instantiate,
            )
        },
    ]
}

#[test]
fn hostile_modules_never_load() {
    for case in cases() {
        check_load(&case, 1);
    }
}

/// Extism ran start-up code before its host functions could reach memory,
/// so a start function or `_initialize` that called one crashed the host
/// (a null pointer in `CurrentPlugin`), and polyplug refused such modules.
/// polyplug's own host functions work from start-up code like anywhere
/// else: a module that measures a block and reads the config while it
/// starts loads and serves.
#[test]
fn host_functions_work_in_start_up_code() {
    let plugin = wat_plugin(&wat::module(
        r#"(func (export "_initialize")
             (drop (call $length (i64.const 77)))
             (drop (call $config_get (call $alloc (i64.const 1)))))"#,
    ));
    let host = crate::support::host_with("starter", plugin);
    let output = super::child::runtime()
        .block_on(host.call_json("starter", "good", "{}"))
        .expect("the module serves after its start-up code called the host");
    assert!(!output.is_empty());
}
