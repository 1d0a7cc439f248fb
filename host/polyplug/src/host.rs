//! [`Host`]: a cheap handle over the registry of loaded plugins, and the
//! async API to call them.
//!
//! The registry maps each plugin name to its current generation
//! (`generation.rs`) behind an [`ArcSwap`]: a call loads the map without a
//! lock, takes its plugin's generation (an `Arc`) and finishes on it; a
//! new map can be swapped in at any time without waiting for calls, and a
//! generation is freed when its last call ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{HostConfig, Limits, PluginConfig};
use crate::error::{CallError, LoadError};
use crate::generation::Generation;
use crate::metrics::{PluginMetrics, Totals};

/// The loaded plugins, ready to call: a handle, cheap to clone into every
/// task (like `wasmtime::Engine`). Every clone sees the same plugins.
#[derive(Clone)]
pub struct Host {
    registry: Arc<ArcSwap<Registry>>,
}

/// Every plugin's current generation, by name.
type Registry = BTreeMap<String, Arc<Generation>>;

/// What a caller may want to know about a loaded plugin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginInfo {
    pub name: String,
    /// Exported functions with the Extism calling convention.
    pub functions: Vec<String>,
    /// The source language, when the module's `producers` section names it
    /// (Rust, Go and polyplug-js guests do; AssemblyScript's do not).
    pub language: Option<String>,
    pub limits: Limits,
    /// sha256 of the module, lowercase hex.
    pub sha256: String,
    /// The version its signature names; `None` for a module loaded
    /// unsigned.
    pub version: Option<semver::Version>,
    /// The id of the key that signed the module (16 uppercase hex digits,
    /// as minisign prints it); `None` for a module loaded unsigned.
    pub signed_by: Option<String>,
    pub wasi: bool,
    /// How long loading took (reading, checking, compiling, first instance).
    pub load_time: Duration,
    /// When this generation of the plugin finished loading.
    pub loaded_at: SystemTime,
    /// Calls running now.
    pub instances_busy: usize,
    /// Instances kept for the next call.
    pub instances_idle: usize,
    pub totals: Totals,
}

impl Host {
    /// Loads every plugin named in a config file. Compiling is CPU-bound and
    /// may take a while for large modules, so async code should call this
    /// from `tokio::task::spawn_blocking`.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::new(HostConfig::from_file(path)?)
    }

    /// Loads every plugin in `config`, compiling each module once. Plugins
    /// load in parallel, each on a plain thread: a WASI module's start-up
    /// code reaches wasmtime-wasi, which must not run on an async worker
    /// thread, so this is safe to call from async code too (it blocks).
    pub fn new(config: HostConfig) -> Result<Self, LoadError> {
        crate::lane::start();
        let registry: Registry = std::thread::scope(|scope| {
            let loading: Vec<_> = config
                .plugins
                .into_iter()
                .map(|(name, plugin)| {
                    scope.spawn(move || {
                        let loaded = Generation::load(&name, plugin)?;
                        Ok((name, Arc::new(loaded)))
                    })
                })
                .collect();
            loading
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<_, LoadError>>()
        })?;
        Ok(Self {
            registry: Arc::new(ArcSwap::from_pointee(registry)),
        })
    }

    /// Loads `config` as a new generation of `plugin` and makes it the one
    /// new calls get, for all its functions at once; calls already running
    /// finish on the generation they started on, which is freed when the
    /// last of them ends. A plugin not loaded yet is added.
    ///
    /// Loading is staged before anything changes: a module that does not
    /// read, check, compile or start returns its `LoadError` and the
    /// current generation keeps serving. Blocks while it compiles, like
    /// [`Host::new`]; from async code, call it in `spawn_blocking`.
    pub fn replace(&self, plugin: &str, config: PluginConfig) -> Result<(), LoadError> {
        // On a thread of its own, as `new` loads: start-up code must not run
        // on an async worker thread.
        let staged = std::thread::scope(|scope| {
            scope
                .spawn(|| Generation::load(plugin, config))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        let staged = Arc::new(staged);
        self.registry.rcu(|current| {
            let mut next = Registry::clone(current);
            next.insert(plugin.to_string(), staged.clone());
            next
        });
        Ok(())
    }

    /// Calls `function` of `plugin` with `input` serialized as JSON and
    /// deserializes its JSON output. Runs, times out and cancels as
    /// [`Host::call_json`] does.
    pub async fn call<I, O>(&self, plugin: &str, function: &str, input: &I) -> Result<O, CallError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let bytes = serde_json::to_vec(input).map_err(|err| CallError::InvalidInput {
            plugin: plugin.to_string(),
            function: function.to_string(),
            problem: crate::contract::JsonProblem::Syntax {
                message: err.to_string(),
            },
        })?;
        let output = self.call_json(plugin, function, bytes).await?;
        let mut deserializer = serde_json::Deserializer::from_slice(&output);
        // The output passed the contract's depth check already.
        deserializer.disable_recursion_limit();
        O::deserialize(&mut deserializer).map_err(|err| CallError::OutputType {
            plugin: plugin.to_string(),
            function: function.to_string(),
            reason: err.to_string(),
        })
    }

    /// Calls `function` of `plugin` with raw JSON bytes and returns the raw
    /// JSON output, both checked against the contract.
    ///
    /// The call waits up to the plugin's `queue_timeout` for a free
    /// instance, then runs on the thread that polls this future: no
    /// hand-off for a quick call. A call that runs past a short time slice
    /// (or waits on I/O) yields, and finishes on polyplug's slow lane, so
    /// it never holds the caller's thread for more than about a
    /// millisecond. Its `timeout` bounds it.
    ///
    /// Cancelling is safe: drop this future (or wrap it in
    /// `tokio::time::timeout`) and the call stops at its next tick, its
    /// instance is dropped and its place in the pool is free. The caller's
    /// own timeout fires at its deadline (give or take a millisecond), not
    /// when the plugin returns. Needs a tokio runtime with time enabled,
    /// multi-threaded or current-thread.
    pub async fn call_json(
        &self,
        plugin: &str,
        function: &str,
        input: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, CallError> {
        let generation = self.generation(plugin)?;
        generation.call(function, input.into()).await
    }

    /// The loaded plugins, by name, with their live counters.
    pub fn plugins(&self) -> impl Iterator<Item = PluginInfo> + use<> {
        let registry = self.registry.load_full();
        let plugins: Vec<Arc<Generation>> = registry.values().cloned().collect();
        plugins.into_iter().map(|plugin| PluginInfo {
            name: plugin.name.clone(),
            functions: plugin.functions.iter().cloned().collect(),
            language: plugin.language.clone(),
            limits: plugin.config.limits.clone(),
            sha256: plugin.sha256.clone(),
            version: plugin.version.clone(),
            signed_by: plugin.signed_by.clone(),
            wasi: plugin.config.wasi,
            load_time: plugin.load_time,
            loaded_at: plugin.loaded_at,
            instances_busy: plugin.pool.busy(),
            instances_idle: plugin.pool.idle(),
            totals: plugin.stats.totals(),
        })
    }

    /// A snapshot of every plugin's counters, for a metrics exposition
    /// (`polyplug-server` encodes it as OpenMetrics).
    pub fn metrics(&self) -> Vec<PluginMetrics> {
        self.registry
            .load()
            .values()
            .map(|plugin| {
                plugin
                    .stats
                    .snapshot(&plugin.name, plugin.pool.busy(), plugin.pool.size())
            })
            .collect()
    }

    fn generation(&self, name: &str) -> Result<Arc<Generation>, CallError> {
        self.registry
            .load()
            .get(name)
            .cloned()
            .ok_or_else(|| CallError::UnknownPlugin {
                plugin: name.to_string(),
            })
    }
}
