//! Engines, and the one clock that interrupts every call.
//!
//! Each plugin generation has its own engine: its module is compiled once
//! and every instance shares the code, and wasmtime's pooling allocator
//! caps each of its memories at the plugin's limit even while start-up
//! code runs. Calls are async (`call_async`): wasm runs on a fiber that
//! can stop at any epoch tick.
//!
//! Time is counted by [`ticker`]: one process-wide thread that bumps every
//! live engine's epoch each [`TICK`]. A call sets its own deadline in its
//! store; at each tick the store's callback (`runtime::Instance`) checks
//! it and either lets the call go on, asks it to yield to the executor, or
//! stops it with `Stop::Timeout`. Nothing is sent anywhere per call, which
//! is what Extism's own timer thread costs (docs/benchmarks.md).

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

use crate::module::MAX_TABLE_ENTRIES;

/// How often every engine's epoch advances: the resolution of timeouts
/// and of the time slice a call gets before it yields.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// The environment variable naming a wasmtime cache config file for
/// compiled modules; set but empty, it turns the cache off.
pub const CACHE_CONFIG_ENV: &str = "POLYPLUG_CACHE_CONFIG";

/// An engine for one plugin generation whose instances each get at most
/// `memory_cap` bytes of linear memory, with room for `instances` at once
/// (twice over, so a replacement can start while the one it replaces is
/// still being dropped).
pub(crate) fn engine(memory_cap: u64, instances: usize) -> wasmtime::Result<Engine> {
    const TABLES_PER_MODULE: u32 = 4;
    let slots = u32::try_from(instances.saturating_mul(2).saturating_add(2)).unwrap_or(u32::MAX);
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.max_memory_size(usize::try_from(memory_cap).unwrap_or(usize::MAX))
        .total_memories(slots)
        .total_tables(slots.saturating_mul(TABLES_PER_MODULE))
        .total_core_instances(slots)
        .total_stacks(slots)
        .total_component_instances(0)
        .total_gc_heaps(slots)
        .max_tables_per_module(TABLES_PER_MODULE)
        .table_elements(MAX_TABLE_ENTRIES as usize);
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(true)
        .wasm_tail_call(true)
        .wasm_function_references(true)
        .wasm_gc(true)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config.cache(cache()?);
    let engine = Engine::new(&config)?;
    ticker()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(engine.weak());
    Ok(engine)
}

/// wasmtime's on-disk cache of compiled code: its default config, the file
/// [`CACHE_CONFIG_ENV`] names, or none when that is set but empty. One
/// for the process, shared by every engine.
fn cache() -> wasmtime::Result<Option<wasmtime::Cache>> {
    static CACHE: OnceLock<Result<Option<wasmtime::Cache>, String>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let cache = match std::env::var_os(CACHE_CONFIG_ENV) {
                Some(path) if path.is_empty() => return Ok(None),
                Some(path) => wasmtime::Cache::from_file(Some(std::path::Path::new(&path))),
                None => wasmtime::Cache::from_file(None),
            };
            cache.map(Some).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| wasmtime::Error::msg(format!("the compile cache cannot be set up: {e}")))
}

/// The engines the ticker advances; the ticker starts with the first.
fn ticker() -> &'static Mutex<Vec<EngineWeak>> {
    static ENGINES: Mutex<Vec<EngineWeak>> = Mutex::new(Vec::new());
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::Builder::new()
            .name("polyplug-ticker".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TICK);
                    let mut engines = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
                    engines.retain(|weak| match weak.upgrade() {
                        Some(engine) => {
                            engine.increment_epoch();
                            true
                        }
                        None => false,
                    });
                }
            })
            .expect("starting the epoch ticker thread");
    });
    &ENGINES
}
