//! One loaded plugin: its checked config, its module, and the pool of
//! slots that run its calls.
//!
//! The module is compiled at load (Extism's `CompiledPlugin`, backed by
//! wasmtime's on-disk cache), once per slot (see `pool.rs` for why each
//! slot has its own engine). A slot keeps its instance after a call that
//! succeeded or that the guest ended with a contract error by itself; after
//! any other failure (trap, limit, bad output) the instance is dropped,
//! because Extism does not reset an instance and some failures leave one
//! broken. The slot's engine stays.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use extism::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
use sha2::{Digest, Sha256};

use crate::config::units::WASM_PAGE;
use crate::config::{PluginConfig, WasmSource};
use crate::contract::check_json;
use crate::error::{CallError, LoadError};
use crate::failure::{Instance, classify};
use crate::imports;
use crate::metrics::PluginStats;
use crate::pool::{Lease, Pool, Slot};

pub(crate) struct LoadedPlugin {
    pub name: String,
    pub config: PluginConfig,
    /// sha256 of the module, lowercase hex.
    pub sha256: String,
    /// Exports callable with the Extism calling convention.
    pub functions: BTreeSet<String>,
    /// The source language the module's `producers` section names.
    pub language: Option<String>,
    /// Whether the module imports WASI's `poll_oneoff`, in which a call
    /// can sleep past its timeout (`Host::call_json` bounds the wait).
    pub can_sleep: bool,
    pub pool: Pool,
    pub stats: PluginStats,
    /// How long loading took (reading, checking, compiling, first instance).
    pub load_time: Duration,
    /// What each new slot compiles.
    wasm: Wasm,
    /// The size no linear memory of an instance may grow past.
    memory_cap: u64,
}

impl LoadedPlugin {
    /// Reads, checks and compiles the module, and starts one instance so that
    /// a module that cannot run (unknown imports, a trapping start-up) fails
    /// here rather than at the first call.
    pub fn load(name: &str, config: PluginConfig) -> Result<Self, LoadError> {
        let started = Instant::now();
        let label = config.wasm.to_string();
        let bytes = read_module(name, &config)?;
        let binary = wat::parse_bytes(&bytes).map_err(|err| LoadError::InvalidModule {
            plugin: name.to_string(),
            path: label.clone(),
            reason: err.to_string(),
        })?;
        let sha256 = hex(&Sha256::digest(&binary));
        if let Some(expected) = &config.sha256
            && *expected != sha256
        {
            return Err(LoadError::HashMismatch {
                plugin: name.to_string(),
                path: label,
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let invalid = |reason: String| LoadError::InvalidModule {
            plugin: name.to_string(),
            path: label.clone(),
            reason,
        };
        let facts = inspect(&binary).map_err(invalid)?;
        // A file is handed to Extism by path with its hash, so Extism checks
        // that what it reads is what was checked here, and instances do not
        // each keep a copy of the bytes (which `Wasm::data` would).
        let wasm = match &config.wasm {
            WasmSource::File(path) if binary.as_ref() == bytes.as_slice() => {
                Wasm::file(path).with_hash(&sha256)
            }
            _ => Wasm::data(binary.into_owned()),
        };
        if facts.initial_memory > config.limits.memory {
            return Err(invalid(format!(
                "its memory starts at {} bytes, over the plugin's `memory` limit of {}",
                facts.initial_memory, config.limits.memory
            )));
        }
        let memory_cap = memory_cap(config.limits.memory, facts.initial_memory);
        let compiled =
            compile(&wasm, &config, memory_cap).map_err(|err| invalid(format!("{err:#}")))?;
        let first = imports::link(&compiled).map_err(|err| LoadError::Instantiate {
            plugin: name.to_string(),
            path: config.wasm.to_string(),
            reason: format!("{err:#}"),
        })?;
        let first = Slot {
            compiled,
            instance: Some(first),
            served: 0,
        };
        Ok(Self {
            name: name.to_string(),
            pool: Pool::new(config.limits.instances, first),
            stats: PluginStats::new(&facts.functions),
            load_time: started.elapsed(),
            config,
            sha256,
            functions: facts.functions,
            language: facts.language,
            can_sleep: facts.can_sleep,
            wasm,
            memory_cap,
        })
    }

    /// Runs one call to completion on the current (blocking) thread, in the
    /// slot `lease` holds or a new one.
    pub fn call_blocking(
        &self,
        mut lease: Lease,
        function: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        check_json(input).map_err(|problem| CallError::InvalidInput {
            plugin: self.name.clone(),
            function: function.to_string(),
            problem,
        })?;
        let mut slot = match lease.slot.take() {
            Some(slot) => slot,
            None => self.new_slot(function)?,
        };
        let result = self.call_in(&mut slot, function, input);
        self.pool.give_back(slot);
        result
    }

    fn call_in(&self, slot: &mut Slot, function: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        let limits = &self.config.limits;
        let mut instance = match slot.instance.take() {
            Some(instance) => instance,
            None => {
                slot.served = 0;
                imports::link(&slot.compiled).map_err(|err| self.start_error(function, err))?
            }
        };
        slot.served += 1;
        let span = tracing::info_span!("call", plugin = %self.name, function);
        let started = Instant::now();
        let result = span.in_scope(|| {
            instance
                .call::<&[u8], &[u8]>(function, input)
                .map(<[u8]>::to_vec)
        });
        if let Some(fuel) = instance.fuel_consumed() {
            self.stats.add_fuel(function, fuel);
        }
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                let (error, state) = classify(self, function, err, started.elapsed());
                if state == Instance::Intact {
                    self.keep(slot, instance);
                }
                return Err(error);
            }
        };
        if output.len() as u64 > limits.max_output {
            return Err(CallError::OutputTooLarge {
                plugin: self.name.clone(),
                function: function.to_string(),
                size: output.len() as u64,
                limit: limits.max_output,
            });
        }
        check_json(&output).map_err(|problem| CallError::InvalidOutput {
            plugin: self.name.clone(),
            function: function.to_string(),
            problem,
        })?;
        self.keep(slot, instance);
        Ok(output)
    }

    /// Keeps a healthy instance for the slot's next call, unless the plugin
    /// has files (Extism puts no cap on the descriptors a WASI instance may
    /// hold open, so such an instance is dropped after every call, which
    /// closes them; see SECURITY.md) or the instance has served
    /// [`CALLS_PER_INSTANCE`] calls.
    fn keep(&self, slot: &mut Slot, instance: extism::Plugin) {
        if self.config.allowed_paths.is_empty() && slot.served < CALLS_PER_INSTANCE {
            slot.instance = Some(instance);
        }
    }

    /// Compiles the module for one more slot (normally from wasmtime's cache).
    fn new_slot(&self, function: &str) -> Result<Slot, CallError> {
        let compiled = compile(&self.wasm, &self.config, self.memory_cap)
            .map_err(|err| self.start_error(function, err))?;
        Ok(Slot {
            compiled,
            instance: None,
            served: 0,
        })
    }

    fn start_error(&self, function: &str, err: extism::Error) -> CallError {
        CallError::Start {
            plugin: self.name.clone(),
            function: function.to_string(),
            message: format!("{err:#}"),
        }
    }
}

fn compile(
    wasm: &Wasm,
    config: &PluginConfig,
    memory_cap: u64,
) -> Result<CompiledPlugin, extism::Error> {
    PluginBuilder::new(manifest(wasm.clone(), config))
        .with_wasi(config.wasi)
        .with_functions(imports::functions(&config.allowed_hosts))
        .with_wasmtime_config(engine_config(memory_cap))
        .with_fuel_limit(config.limits.fuel)
        .with_initialization_fuel_limit(config.limits.init_fuel)
        .compile()
}

/// How many calls one instance serves before a fresh one replaces it.
/// Extism looks host functions up by name on every call (`output_length`,
/// and `length` for the error), and wasmtime adds each lookup of a host
/// function to the store, which only dropping the instance frees: about
/// 94 bytes a call with polyplug's checked functions. A fresh instance
/// every 10,000 calls caps that at about 1 MiB, for a Rust guest's 0.1 ms
/// (a Go guest's 1 ms) of instantiation spread over those calls.
pub(crate) const CALLS_PER_INSTANCE: u32 = 10_000;

/// The kernel's memory starts at 16 pages.
const KERNEL_INITIAL_MEMORY: u64 = 1 << 20;

/// The size no linear memory may grow past: its initial size plus the
/// plugin's `memory`. Extism's limiter counts growth after instantiation
/// against `memory`, so within a call it stops a memory first, with the
/// typed `MemoryLimit`; this cap is what holds while Extism runs start-up
/// code, before it installs the limiter.
fn memory_cap(memory: u64, initial: u64) -> u64 {
    initial.max(KERNEL_INITIAL_MEMORY).saturating_add(memory)
}

/// The engine settings polyplug adds to Extism's: wasmtime's pooling
/// allocator, so that no linear memory can grow past `memory_cap` (not
/// even during start-up code) and no table past [`MAX_TABLE_ENTRIES`].
/// Each memory keeps wasmtime's default 4 GiB reservation, so compiled
/// code still needs no bounds checks.
///
/// One engine serves one pool slot, which holds one `extism::Plugin` at a
/// time: the kernel, and the main module as Extism links it and as a call
/// instantiates it. The totals leave room for the next one while the last
/// is dropped, and bound the address space each engine reserves (about
/// 40 GiB, never committed).
fn engine_config(memory_cap: u64) -> wasmtime::Config {
    const PER_ENGINE: u32 = 8;
    const TABLES_PER_MODULE: u32 = 4;
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.max_memory_size(usize::try_from(memory_cap).unwrap_or(usize::MAX))
        .total_memories(PER_ENGINE)
        .total_tables(PER_ENGINE * TABLES_PER_MODULE)
        .total_core_instances(PER_ENGINE)
        .total_stacks(0)
        .total_component_instances(0)
        .total_gc_heaps(1)
        .max_tables_per_module(TABLES_PER_MODULE)
        .table_elements(MAX_TABLE_ENTRIES as usize);
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config
}

fn manifest(wasm: Wasm, config: &PluginConfig) -> Manifest {
    let limits = &config.limits;
    let pages = limits.memory.div_ceil(WASM_PAGE) as u32;
    let paths = config.allowed_paths.iter().map(|path| {
        // Extism marks read-only directories with a `ro:` prefix.
        let mode = if path.writable { "" } else { "ro:" };
        (
            format!("{mode}{}", path.host.display()),
            path.guest.clone().into(),
        )
    });
    let mut manifest = Manifest::new([wasm])
        .with_memory_max(pages)
        .with_timeout(limits.timeout)
        .with_allowed_paths(paths)
        .with_config(config.config.iter());
    manifest.memory.max_http_response_bytes = Some(limits.max_http_response);
    manifest
}

fn read_module(name: &str, config: &PluginConfig) -> Result<Vec<u8>, LoadError> {
    let limit = config.limits.max_module;
    let too_large = |size: u64| LoadError::ModuleTooLarge {
        plugin: name.to_string(),
        path: config.wasm.to_string(),
        size,
        limit,
    };
    match &config.wasm {
        WasmSource::Bytes(bytes) if bytes.len() as u64 > limit => {
            Err(too_large(bytes.len() as u64))
        }
        WasmSource::Bytes(bytes) => Ok(bytes.to_vec()),
        WasmSource::File(path) => {
            let read_error = |source| LoadError::ModuleRead {
                plugin: name.to_string(),
                path: path.display().to_string(),
                source,
            };
            // Check the size before reading, so a huge file is never loaded.
            let size = std::fs::metadata(path).map_err(read_error)?.len();
            if size > limit {
                return Err(too_large(size));
            }
            std::fs::read(path).map_err(read_error)
        }
    }
}

/// What loading reads off a module without running it.
struct ModuleFacts {
    /// Exported functions with the Extism signature: no parameters, and no
    /// result or one `i32`; names starting with `_` are the toolchain's.
    functions: BTreeSet<String>,
    /// The source language its `producers` section names, when it has one.
    language: Option<String>,
    /// The largest initial size of its linear memories, in bytes.
    initial_memory: u64,
    /// Whether it imports WASI's `poll_oneoff`.
    can_sleep: bool,
}

fn inspect(binary: &[u8]) -> Result<ModuleFacts, String> {
    use wasmparser::{ExternalKind, KnownCustom, Operator, Parser, Payload, TypeRef};

    let mut signatures = Vec::new(); // type index -> callable?
    let mut functions = Vec::new(); // function index -> type index
    let mut exports = BTreeSet::new();
    let mut language = None;
    let mut tables = Vec::new(); // table index -> (initial, maximum)
    let mut grown = BTreeSet::new(); // tables that `table.grow` names
    let mut initial_memory: u64 = 0;
    let mut can_sleep = false;
    for payload in Parser::new(0).parse_all(binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::CustomSection(reader) => {
                if let KnownCustom::Producers(producers) = reader.as_known() {
                    language = language.or_else(|| producers_language(producers));
                }
            }
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| e.to_string())?;
                    let results = ty.results();
                    signatures.push(
                        ty.params().is_empty()
                            && (results.is_empty()
                                || results == [wasmparser::ValType::I32].as_slice()),
                    );
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    can_sleep |= import.module.starts_with("wasi") && import.name == "poll_oneoff";
                    match import.ty {
                        TypeRef::Func(ty) => functions.push(ty),
                        TypeRef::Table(ty) => tables.push((ty.initial, ty.maximum)),
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| e.to_string())?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    initial_memory = initial_memory.max(memory.initial.saturating_mul(page));
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let ty = table.map_err(|e| e.to_string())?.ty;
                    tables.push((ty.initial, ty.maximum));
                }
            }
            // `table.grow` is 0xFC 0x0F; only a body holding those bytes
            // (a few, by chance, in a large module) is decoded.
            Payload::CodeSectionEntry(body)
                if body.as_bytes().windows(2).any(|pair| pair == [0xFC, 0x0F]) =>
            {
                let mut operators = body.get_operators_reader().map_err(|e| e.to_string())?;
                while !operators.eof() {
                    if let Operator::TableGrow { table } =
                        operators.read().map_err(|e| e.to_string())?
                    {
                        grown.insert(table);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    functions.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    let callable = export.kind == ExternalKind::Func
                        && functions
                            .get(export.index as usize)
                            .and_then(|ty| signatures.get(*ty as usize))
                            .copied()
                            .unwrap_or(false);
                    if callable && !export.name.starts_with('_') {
                        exports.insert(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    check_tables(&tables, &grown)?;
    Ok(ModuleFacts {
        functions: exports,
        language,
        initial_memory,
        can_sleep,
    })
}

/// The most entries a module's tables may reach, all tables together:
/// 8 MiB of host memory at 8 bytes an entry.
const MAX_TABLE_ENTRIES: u64 = 1 << 20;

/// Refuses tables that could outgrow [`MAX_TABLE_ENTRIES`]. Extism's memory
/// limit counts linear memory only, and lets a table without a declared
/// maximum grow until the host's allocation fails, so a table may only
/// grow (`table.grow`) when it declares a maximum, and the sizes a module
/// can reach (a grown table's maximum, any other's initial size) are
/// capped.
fn check_tables(tables: &[(u64, Option<u64>)], grown: &BTreeSet<u32>) -> Result<(), String> {
    let mut total: u64 = 0;
    for (index, &(initial, maximum)) in tables.iter().enumerate() {
        let most = if grown.contains(&(index as u32)) {
            maximum.ok_or_else(|| {
                format!(
                    "table {index} has no maximum and the code grows it (`table.grow`); \
                     polyplug refuses tables that can grow without bound, since the memory \
                     limit does not count them: declare a maximum"
                )
            })?
        } else {
            initial
        };
        total = total.saturating_add(most);
    }
    if total > MAX_TABLE_ENTRIES {
        return Err(format!(
            "its tables can reach {total} entries; polyplug allows {MAX_TABLE_ENTRIES} \
             (the memory limit does not count tables)"
        ));
    }
    Ok(())
}

/// The first `language` a `producers` section names; a malformed section,
/// or a name longer than a language's, is ignored, since the language is
/// only shown, never acted on.
fn producers_language(producers: wasmparser::ProducersSectionReader<'_>) -> Option<String> {
    producers
        .into_iter()
        .flatten()
        .find(|field| field.name == "language")
        .and_then(|field| field.values.into_iter().flatten().next())
        .filter(|value| value.name.len() <= 64)
        .map(|value| value.name.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Shared so the host can hand a plugin to a blocking thread.
pub(crate) type SharedPlugin = std::sync::Arc<LoadedPlugin>;
