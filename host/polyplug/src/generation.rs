//! One generation of a plugin: a module as loaded from one config, its
//! compiled code, its pool of instances and its counters. A call takes the
//! plugin's current generation from the host's registry (`host.rs`) and
//! finishes on it, whatever replaces it meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{PluginConfig, StoreConfig, WasmSource};
use crate::contract::check_json;
use crate::error::{CallError, LoadError};
use crate::failure::{self, Instance as Kept};
use crate::kv::{KvLimits, Store};
use crate::lane;
use crate::metrics::{KvStats, PluginStats};
use crate::module;
use crate::pool::{Lease, Pool};
use crate::runtime::state::{Grants, KvAccess};
use crate::runtime::{Compiled, Failed, Instance, Setup};
use crate::signature;
use crate::stats::CallStats;

pub(crate) struct Generation {
    pub name: String,
    pub config: PluginConfig,
    /// sha256 of the module, lowercase hex.
    pub sha256: String,
    /// The bytes as read and the signature beside them, hashed: what a
    /// reload compares to see whether either changed.
    source_sha256: String,
    /// The version its signature names, when it was signed.
    pub version: Option<semver::Version>,
    /// The id of the key that signed it, when it was signed.
    pub signed_by: Option<String>,
    /// Exports callable with the Extism calling convention.
    pub functions: BTreeSet<String>,
    /// The source language the module's `producers` section names.
    pub language: Option<String>,
    pub pool: Pool,
    pub stats: PluginStats,
    /// Counters of its key-value store operations.
    pub kv_stats: Arc<KvStats>,
    /// The store its `kv` grant reached when it loaded: a reload that
    /// points that store elsewhere restages the plugin.
    store: Option<StoreConfig>,
    /// How long loading took (reading, checking, compiling, first instance).
    pub load_time: Duration,
    /// When loading finished.
    pub loaded_at: SystemTime,
    compiled: Compiled,
}

/// How many calls one instance serves before a fresh one replaces it:
/// whatever a guest leaks, or a store accumulates, an instance lives
/// bounded.
pub(crate) const CALLS_PER_INSTANCE: u32 = 10_000;

/// The kernel's share of memory before a plugin allocates anything: the
/// least any memory limit must leave room for.
const KERNEL_INITIAL_MEMORY: u64 = 1 << 20;

/// Bytes one instance's vars may hold, as Extism caps them by default.
const MAX_VAR_BYTES: u64 = 1 << 20;

impl Generation {
    /// Reads, checks and compiles the module, and starts one instance so
    /// that a module that cannot run (unknown imports, a trapping start-up)
    /// fails here rather than at the first call. Blocks; call it from a
    /// thread that may block.
    pub fn load(
        name: &str,
        config: PluginConfig,
        stores: &BTreeMap<String, StoreConfig>,
    ) -> Result<Self, LoadError> {
        let started = Instant::now();
        let label = config.wasm.to_string();
        let bytes = read_module(name, &config)?;
        let source_sha256 = fingerprint(&bytes, &config);
        let binary = wat::parse_bytes(&bytes).map_err(|err| LoadError::InvalidModule {
            plugin: name.to_string(),
            path: label.clone(),
            reason: err.to_string(),
        })?;
        let sha256 = module::sha256(&binary);
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
        let signed = signature::check(name, &config, &bytes, &sha256).map_err(|source| {
            LoadError::Signature {
                plugin: name.to_string(),
                path: label.clone(),
                source: Box::new(source),
            }
        })?;
        let invalid = |reason: String| LoadError::InvalidModule {
            plugin: name.to_string(),
            path: label.clone(),
            reason,
        };
        let facts = module::inspect(&binary).map_err(invalid)?;
        if facts.initial_memory > config.limits.memory {
            return Err(invalid(format!(
                "its memory starts at {} bytes, over the plugin's `memory` limit of {}",
                facts.initial_memory, config.limits.memory
            )));
        }
        let cannot_start = |reason: String| LoadError::Instantiate {
            plugin: name.to_string(),
            path: label.clone(),
            reason,
        };
        if let (false, Some(import)) = (config.wasi, &facts.wasi_import) {
            return Err(cannot_start(format!(
                "it imports WASI (`{import}`), which this plugin is not granted: \
                 set `wasi = true` for it (Go and JavaScript plugins need it)"
            )));
        }
        let (kv, store) = match &config.kv {
            None => (None, None),
            Some(grant) => {
                let store_config =
                    stores
                        .get(&grant.store)
                        .ok_or_else(|| LoadError::UnknownStore {
                            plugin: name.to_string(),
                            store: grant.store.clone(),
                        })?;
                let store = Store::open(&grant.store, store_config).map_err(|reason| {
                    LoadError::StoreOpen {
                        plugin: name.to_string(),
                        store: grant.store.clone(),
                        reason,
                    }
                })?;
                let access = KvAccess {
                    store,
                    namespace: grant.namespace_id(name).into(),
                };
                (Some(access), Some(store_config.clone()))
            }
        };
        if kv.is_none() && facts.kv_import {
            // Debug, not info: a module with one stateful function among
            // others is normal, and the CLI prints info lines.
            tracing::debug!(
                plugin = name,
                "imports `polyplug_kv` but is granted no key-value store: its store operations will answer `kv_not_granted`"
            );
        }
        let kv_stats = Arc::new(KvStats::new(config.kv.as_ref().map(|g| g.store.as_str())));
        // Linear and kernel memory share `memory`, with at least the 1 MiB
        // Extism's kernel starts with, so a tiny limit still leaves room
        // for the input and output.
        let grants = Grants {
            plugin: name.to_string(),
            allowed_hosts: config.allowed_hosts.clone(),
            config: config.config.clone(),
            memory: config.limits.memory.max(KERNEL_INITIAL_MEMORY),
            max_http_response: config.limits.max_http_response,
            http_mocks: config.http_mocks.clone(),
            max_var_bytes: MAX_VAR_BYTES,
            kv,
            kv_limits: KvLimits::from(&config.limits),
            kv_stats: kv_stats.clone(),
        };
        let wasi = config.wasi.then(|| config.allowed_paths.clone());
        let compiled = Compiled::new(
            &binary,
            grants,
            wasi,
            config.limits.clone(),
            facts.functions.iter().cloned(),
        )
        .map_err(|setup| match setup {
            Setup::Compile(err) | Setup::Engine(err) => invalid(format!("{err:#}")),
            Setup::Link(err) => cannot_start(format!("{err:#}")),
        })?;
        let first = start_up(&compiled).map_err(|err| cannot_start(format!("{err:#}")))?;
        Ok(Self {
            name: name.to_string(),
            pool: Pool::new(config.limits.instances, first),
            stats: PluginStats::new(&facts.functions),
            kv_stats,
            store,
            load_time: started.elapsed(),
            loaded_at: SystemTime::now(),
            config,
            sha256,
            source_sha256,
            version: signed.as_ref().map(|signed| signed.version.clone()),
            signed_by: signed.map(|signed| signed.key_id),
            functions: facts.functions,
            language: facts.language,
            compiled,
        })
    }

    /// Loads a new generation and runs its smoke calls: what must pass
    /// before it may serve. Blocks; call it from a thread that may block
    /// and is not an async worker (start-up code may reach WASI).
    pub fn stage(
        name: &str,
        config: PluginConfig,
        stores: &BTreeMap<String, StoreConfig>,
    ) -> Result<Arc<Self>, LoadError> {
        let staged = Arc::new(Self::load(name, config, stores)?);
        if staged.config.smoke.is_empty() {
            return Ok(staged);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|err| LoadError::Instantiate {
                plugin: name.to_string(),
                path: staged.config.wasm.to_string(),
                reason: format!("cannot start a runtime for its smoke calls: {err}"),
            })?;
        for (index, smoke) in staged.config.smoke.iter().enumerate() {
            let (answer, _) = runtime.block_on(staged.run(&smoke.function, smoke.input.clone()));
            let output = answer.map_err(|err| LoadError::SmokeFailed {
                plugin: name.to_string(),
                index,
                function: smoke.function.clone(),
                source: Box::new(err),
            })?;
            let Some(expected) = &smoke.expect else {
                continue;
            };
            // The output passed the contract check, so it parses.
            let actual: serde_json::Value = serde_json::from_slice(&output).unwrap_or_default();
            if actual != *expected {
                return Err(LoadError::SmokeMismatch {
                    plugin: name.to_string(),
                    index,
                    function: smoke.function.clone(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(staged)
    }

    /// Whether loading `config` would give this very generation again: the
    /// same config and the same module bytes. A module that cannot be read
    /// now counts as changed, so that restaging reports why.
    pub fn is_loaded_from(
        &self,
        config: &PluginConfig,
        stores: &BTreeMap<String, StoreConfig>,
    ) -> bool {
        let store = config
            .kv
            .as_ref()
            .and_then(|grant| stores.get(&grant.store));
        self.config == *config
            && self.store.as_ref() == store
            && read_module(&self.name, config)
                .is_ok_and(|bytes| fingerprint(&bytes, config) == self.source_sha256)
    }

    /// A key-value request in this plugin's namespace, made by the host
    /// (`Host::kv`), within the plugin's timeout; the answer the guest
    /// would read.
    pub async fn kv(&self, request: &[u8]) -> Vec<u8> {
        let deadline = Instant::now() + self.config.limits.timeout;
        crate::runtime::kv::from_host(self.compiled.grants(), request, deadline).await
    }

    /// Calls `function` with `input`: waits for a place in the pool, runs
    /// the call (inline, then on the slow lane if it runs long; `lane.rs`)
    /// and counts it. Returns what the call used beside its result.
    pub async fn call(
        self: &Arc<Self>,
        function: &str,
        input: Vec<u8>,
    ) -> (Result<Vec<u8>, CallError>, CallStats) {
        let started = Instant::now();
        let (result, used) = self.run(function, input).await;
        let elapsed = started.elapsed();
        self.stats.record(function, elapsed, result.as_ref().err());
        let stats = CallStats {
            elapsed,
            fuel: used.fuel,
            peak_memory: used.memory,
        };
        (result, stats)
    }

    async fn run(
        self: &Arc<Self>,
        function: &str,
        input: Vec<u8>,
    ) -> (Result<Vec<u8>, CallError>, Used) {
        let lease = match self.admit(function, &input).await {
            Ok(lease) => lease,
            Err(err) => return (Err(err), Used::NOTHING),
        };
        let limits = &self.config.limits;
        let deadline = Instant::now() + limits.timeout;
        let call = {
            let (generation, function) = (self.clone(), function.to_string());
            async move { generation.run_in(lease, &function, &input).await }
        };
        match lane::run(call, deadline).await {
            Ok(result) => result,
            Err(lane::Abandoned::Deadline) => {
                self.stats.add_abandoned();
                tracing::warn!(plugin = %self.name, function, "call still running past its deadline; dropped with its instance");
                let timeout = CallError::Timeout {
                    plugin: self.name.clone(),
                    function: function.to_string(),
                    limit: limits.timeout,
                };
                (Err(timeout), Used::NOTHING)
            }
        }
    }

    /// Checks the call before it runs and waits for a place in the pool.
    async fn admit(&self, function: &str, input: &[u8]) -> Result<Lease, CallError> {
        let limits = &self.config.limits;
        if !self.functions.contains(function) {
            return Err(CallError::UnknownFunction {
                plugin: self.name.clone(),
                function: function.to_string(),
            });
        }
        if input.len() as u64 > limits.max_input {
            return Err(CallError::InputTooLarge {
                plugin: self.name.clone(),
                function: function.to_string(),
                size: input.len() as u64,
                limit: limits.max_input,
            });
        }
        check_json(input).map_err(|problem| CallError::InvalidInput {
            plugin: self.name.clone(),
            function: function.to_string(),
            problem,
        })?;
        self.pool
            .lease(limits.queue_timeout)
            .await
            .ok_or_else(|| CallError::Busy {
                plugin: self.name.clone(),
                function: function.to_string(),
                instances: self.pool.size(),
                waited: limits.queue_timeout,
            })
    }

    /// Runs one call in the lease's instance, or a new one.
    async fn run_in(
        &self,
        mut lease: Lease,
        function: &str,
        input: &[u8],
    ) -> (Result<Vec<u8>, CallError>, Used) {
        let limits = &self.config.limits;
        let mut instance = match lease.instance.take() {
            Some(instance) => instance,
            None => match self.compiled.instantiate().await {
                Ok(instance) => instance,
                Err(err) => {
                    let start = CallError::Start {
                        plugin: self.name.clone(),
                        function: function.to_string(),
                        message: format!("{err:#}"),
                    };
                    return (Err(start), Used::NOTHING);
                }
            },
        };
        let started = Instant::now();
        let (result, fuel) = instance.call(function, input, limits).await;
        self.stats.add_fuel(function, fuel);
        let used = Used {
            fuel,
            memory: instance.memory(),
        };
        (self.finish(instance, function, result, started), used)
    }

    /// Turns how the call ended into its result, and keeps the instance
    /// when it may serve again.
    fn finish(
        &self,
        instance: Instance,
        function: &str,
        result: Result<Vec<u8>, Failed>,
        started: Instant,
    ) -> Result<Vec<u8>, CallError> {
        let limits = &self.config.limits;
        let output = match result {
            Ok(output) => output,
            Err(failed) => {
                let call = failure::Call {
                    plugin: &self.name,
                    function,
                    limits,
                    elapsed: started.elapsed(),
                };
                let (error, kept) = failure::classify(&call, failed);
                if kept == Kept::Intact {
                    self.keep(instance);
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
        self.keep(instance);
        Ok(output)
    }

    /// Keeps a healthy instance for the next call, unless the plugin has
    /// files (WASI puts no cap on the descriptors an instance may hold
    /// open, so such an instance is dropped after every call, which closes
    /// them; see SECURITY.md) or it has served [`CALLS_PER_INSTANCE`] calls.
    fn keep(&self, instance: Instance) {
        if self.config.allowed_paths.is_empty() && instance.served < CALLS_PER_INSTANCE {
            self.pool.give_back(instance);
        }
    }
}

/// What a call used, read from its instance when it ended.
pub(crate) struct Used {
    fuel: u64,
    /// Linear and kernel memory at the end of the call: its peak.
    memory: u64,
}

impl Used {
    /// For a call that never ran in an instance, or whose instance was
    /// abandoned with it.
    const NOTHING: Self = Self { fuel: 0, memory: 0 };
}

/// Runs the first instance's start-up code on this (blocking) thread.
fn start_up(compiled: &Compiled) -> wasmtime::Result<Instance> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    runtime.block_on(compiled.instantiate())
}

/// sha256 of the module bytes as read, then of the signature that loading
/// would check (given, or the `.minisig` beside the file), if any.
fn fingerprint(bytes: &[u8], config: &PluginConfig) -> String {
    let signature = signature::find(config).ok().flatten();
    let signature = signature.map(|text| module::sha256(text.as_bytes()));
    format!("{}{}", module::sha256(bytes), signature.unwrap_or_default())
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
